#include <check.h>
#include <string.h>

#include "json.h"

static char *
dump(const char *text)
{
	static cdb_buf b;
	json_t *v = json_loads(text, CDB_JSON_FLAGS, NULL);

	ck_assert_ptr_nonnull(v);
	cdb_buf_free(&b);
	cdb_buf_init(&b);
	ck_assert_int_eq(cdb_json_dump(&b, v), 0);
	json_decref(v);
	return b.data;
}

START_TEST(test_dump_keeps_types)
{
	ck_assert_str_eq(dump("{\"a\":2.0,\"b\":2,\"c\":0.1,\"d\":-0.0}"),
	    "{\"a\":2.0,\"b\":2,\"c\":0.1,\"d\":-0.0}");
	ck_assert_str_eq(dump("[9007199254740993,-9223372036854775808]"),
	    "[9007199254740993,-9223372036854775808]");
	ck_assert_str_eq(dump("[1e300,5e-324,1.7976931348623157e308]"),
	    "[1e+300,4.94065645841247e-324,1.7976931348623157e+308]");
	ck_assert_str_eq(dump("[true,false,null,\"\"]"), "[true,false,null,\"\"]");
}
END_TEST

START_TEST(test_dump_strings)
{
	ck_assert_str_eq(dump("\"q\\\"\\\\\\n\\t\\u0001\\u001f/é🚀\""),
	    "\"q\\\"\\\\\\n\\t\\u0001\\u001f/é🚀\"");
	/* NUL inside a string survives. */
	{
		cdb_buf b;
		cdb_buf_init(&b);
		ck_assert_int_eq(cdb_json_dump_string(&b, "a\0b", 3), 0);
		ck_assert_str_eq(b.data, "\"a\\u0000b\"");
		cdb_buf_free(&b);
	}
}
END_TEST

START_TEST(test_real_reads_back_exactly)
{
	const double v[] = {0.1, 1.0 / 3, 2.0, 1e-310, 123456789.125, -7.5e22};
	cdb_buf b;
	size_t i;
	json_t *j;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		cdb_buf_init(&b);
		cdb_json_dump_real(&b, v[i]);
		j = json_loads(b.data, JSON_DECODE_ANY, NULL);
		ck_assert(json_is_real(j));
		ck_assert(json_real_value(j) == v[i]);
		json_decref(j);
		cdb_buf_free(&b);
	}
}
END_TEST

START_TEST(test_find_and_skip)
{
	const char *s = "{ \"x\" : \"emb\\\"edding\", \"embedding\" : [1, [2], "
			"{\"embedding\":3}] , \"z\":null}";
	size_t vs, ve;

	ck_assert_int_eq(cdb_json_find(s, strlen(s), "embedding", &vs, &ve), 1);
	ck_assert_int_eq((int)(ve - vs), (int)strlen("[1, [2], {\"embedding\":3}]"));
	ck_assert(memcmp(s + vs, "[1, [2], {\"embedding\":3}]", ve - vs) == 0);
	ck_assert_int_eq(cdb_json_find(s, strlen(s), "z", &vs, &ve), 1);
	ck_assert(memcmp(s + vs, "null", 4) == 0);
	ck_assert_int_eq(cdb_json_find(s, strlen(s), "nope", &vs, &ve), 0);
	ck_assert_int_eq(cdb_json_find("[1]", 3, "a", &vs, &ve), -1);
	ck_assert_int_eq(cdb_json_find("{\"a\":[1,", 8, "a", &vs, &ve), -1);
	ck_assert_int_eq(cdb_json_skip(" \"a\\\\\" ,", 8), 6);
	ck_assert_int_eq(cdb_json_skip("12.5e3]", 7), 6);
	ck_assert_int_eq(cdb_json_skip("\"open", 5), -1);
}
END_TEST

/* Every special byte, at every place in and around a word, ends the run. */
START_TEST(test_plain_run)
{
	const char special[] = {'"', '\\', '\0', '\n', 0x1f, 0x01};
	char buf[32];
	size_t k, at;

	memset(buf, 'a', sizeof(buf));
	ck_assert_uint_eq(cdb_json_plain_run(buf, sizeof(buf)), sizeof(buf));
	for (k = 0; k < sizeof(special); k++)
		for (at = 0; at < 20; at++) {
			memset(buf, at % 2 ? 'z' : (char)0xc3, sizeof(buf));
			buf[at] = special[k];
			ck_assert_uint_eq(cdb_json_plain_run(buf, 20), at);
		}
	/* Bytes that look close but are plain: ' ', '!', '#', '[', ']', 0x7f. */
	memcpy(buf, " !#[]\x7f\xe9\xff !#[]\x7f\xe9\xff", 16);
	ck_assert_uint_eq(cdb_json_plain_run(buf, 16), 16);
}
END_TEST

Suite *
json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_dump_keeps_types);
	tcase_add_test(tc, test_dump_strings);
	tcase_add_test(tc, test_real_reads_back_exactly);
	tcase_add_test(tc, test_find_and_skip);
	tcase_add_test(tc, test_plain_run);
	suite_add_tcase(s, tc);
	return s;
}
