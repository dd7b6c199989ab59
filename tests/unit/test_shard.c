/* Shard ranges cover every record once; K/N parses strictly. */
#include <check.h>

#include "shard.h"

START_TEST(test_ranges_partition)
{
	static const long long counts[] = {0, 1, 2, 3, 7, 1000, 1001, 99999};
	static const int ns[] = {1, 2, 3, 4, 7, 16};
	long long lo, hi, next;
	cdb_shard sh;
	size_t c, i;

	for (c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
		for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
			sh.n = ns[i];
			next = 0;
			for (sh.k = 1; sh.k <= sh.n; sh.k++) {
				cdb_shard_range(&sh, counts[c], &lo, &hi);
				ck_assert_int_eq(lo, next);
				if (sh.k == sh.n) {
					ck_assert_int_eq(hi, -1);
					break;
				}
				ck_assert_int_ge(hi, lo);
				/* Even: no range more than one record longer.
				 */
				ck_assert_int_le(hi - lo, counts[c] / sh.n + 1);
				next = hi;
			}
			ck_assert_int_le(lo, counts[c]);
		}
}
END_TEST

START_TEST(test_parse)
{
	static const char *bad[] = {"", "1", "0/3", "4/3", "1/0", "-1/3",
	    "1/3x", "1//3", " 1/3", "1/65537", "a/b", "1/99999999999999999999"};
	cdb_shard sh;
	cdb_error e;
	size_t i;

	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_shard_parse("3/4", &sh, &e), 0);
	ck_assert_int_eq(sh.k, 3);
	ck_assert_int_eq(sh.n, 4);
	ck_assert_int_eq(cdb_shard_parse("1/1", &sh, &e), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cdb_error_clear(&e);
		ck_assert_msg(cdb_shard_parse(bad[i], &sh, &e) == -1,
		    "accepted \"%s\"", bad[i]);
		ck_assert_int_eq(e.kind, CDB_ERR_USAGE);
	}
}
END_TEST

Suite *
shard_suite(void)
{
	Suite *s = suite_create("shard");
	TCase *tc = tcase_create("shard");

	tcase_add_test(tc, test_ranges_partition);
	tcase_add_test(tc, test_parse);
	suite_add_tcase(s, tc);
	return s;
}
