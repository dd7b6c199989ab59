/*
 * verify.c - cdb-rollback verify: check every member of a snapshot
 * against its manifest, without a server.
 */
#include <err.h>
#include <stdio.h>

#include "cmd.h"
#include "snapshot.h"

int
rb_verify(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path;
	cdb_error e;
	json_t *m;
	int json = 0;

	path = rb_one_file(argc, argv, "hq", longopts, &json);
	cdb_error_clear(&e);
	if ((m = cdb_snapshot_verify(path, &e)) == NULL)
		errx(CDB_EXIT_FAIL, "%s", e.text);
	if (!rb_quiet) {
		printf("%s: ok: %zu collections, %lld records, every member "
		       "matches the manifest\n",
		    path, json_array_size(json_object_get(m, "collections")),
		    (long long)json_integer_value(
		        json_object_get(m, "records")));
		rb_flush_stdout();
	}
	json_decref(m);
	return CDB_EXIT_OK;
}
