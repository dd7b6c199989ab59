#include <check.h>
#include <string.h>

#include "cdb.h"

START_TEST(test_buf_grows)
{
	cdb_buf b;
	int i;

	cdb_buf_init(&b);
	for (i = 0; i < 10000; i++)
		ck_assert_int_eq(cdb_buf_printf(&b, "%d,", i % 10), 0);
	ck_assert_uint_eq(b.len, 20000);
	ck_assert_int_eq(b.data[b.len], '\0');
	ck_assert(memcmp(b.data, "0,1,2,", 6) == 0);
	cdb_buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	cdb_buf_free(&b);
	cdb_buf_free(NULL);
}
END_TEST

START_TEST(test_error_first_wins)
{
	cdb_error e;

	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_error_setl(&e, 12, "bad %s", "thing"), -1);
	cdb_error_set(&e, CDB_ERR_NET, "later");
	ck_assert_str_eq(e.text, "bad thing");
	ck_assert_int_eq(e.line, 12);
	ck_assert_int_eq(e.kind, CDB_ERR_INPUT);
	ck_assert_int_eq(cdb_error_set(NULL, CDB_ERR_SYS, "x"), -1);
}
END_TEST

Suite *
buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_buf_grows);
	tcase_add_test(tc, test_error_first_wins);
	suite_add_tcase(s, tc);
	return s;
}
