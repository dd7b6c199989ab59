/*
 * main.c - runs every libcdb unit suite.  Each tests/unit/test_*.c file
 * defines one "Suite *NAME_suite(void)"; they are declared weak here so a
 * suite file can be added without touching this runner's build.
 */
#include <check.h>
#include <stdlib.h>

#define SUITES(X) \
	X(buf) X(json) X(embed) X(embed_scan) X(ndjson) X(digest) X(checkpoint) X(http) X(chroma) \
	X(coerce) X(where) X(schema) X(transform) X(validate) X(snapshot) X(rollback) X(import) X(export) \
	X(shard) X(quota) X(chromadir) X(queue)

#define DECL(n) Suite *n##_suite(void) __attribute__((weak));
SUITES(DECL)

int
main(void)
{
	SRunner *sr;
	int failed;

	/*
	 * Check's 4 s watchdog is there for hangs, not for speed: the
	 * heavier cases outran it under the sanitizers on a loaded machine.
	 * Read by tcase_create, so set before the suites are built; a
	 * CK_DEFAULT_TIMEOUT in the environment still wins.
	 */
	setenv("CK_DEFAULT_TIMEOUT", "60", 0);
	sr = srunner_create(NULL);
#define ADD(n) \
	if (n##_suite != NULL) \
		srunner_add_suite(sr, n##_suite());
	SUITES(ADD)
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
