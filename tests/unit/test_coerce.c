/* Every conversion cdb_coerce makes, and every one it refuses. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coerce.h"
#include "json.h"

static cdb_coerce_opts
opts(int type, int array)
{
	cdb_coerce_opts o;

	memset(&o, 0, sizeof(o));
	o.type = type;
	o.array = array;
	return o;
}

/* Convert the JSON text in under o; compare with the JSON text want. */
static void
converts(const cdb_coerce_opts *o, const char *in, const char *want)
{
	json_t *v = json_loads(in, JSON_DECODE_ANY, NULL), *out = NULL;
	char why[256] = "";
	cdb_buf b;
	int rc;

	ck_assert_msg(v != NULL, "bad test input %s", in);
	rc = cdb_coerce(v, o, &out, why, sizeof(why));
	ck_assert_msg(rc == 1, "%s: rc %d: %s", in, rc, why);
	cdb_buf_init(&b);
	ck_assert_int_eq(cdb_json_dump(&b, out), 0);
	ck_assert_msg(
	    strcmp(b.data, want) == 0, "%s gave %s, want %s", in, b.data, want);
	cdb_buf_free(&b);
	json_decref(out);
	json_decref(v);
}

/* Convert in under o: refused with exactly the message want. */
static void
refuses(const cdb_coerce_opts *o, const char *in, const char *want)
{
	json_t *v = json_loads(in, JSON_DECODE_ANY, NULL), *out = NULL;
	char why[256] = "";

	ck_assert_msg(v != NULL, "bad test input %s", in);
	ck_assert_int_eq(cdb_coerce(v, o, &out, why, sizeof(why)), -1);
	ck_assert_ptr_null(out);
	ck_assert_str_eq(why, want);
	json_decref(v);
}

/* Convert in under o: counts as absent. */
static void
absent(const cdb_coerce_opts *o, const char *in)
{
	json_t *v = json_loads(in, JSON_DECODE_ANY, NULL), *out = NULL;
	char why[256] = "";

	ck_assert_int_eq(cdb_coerce(v, o, &out, why, sizeof(why)), 0);
	ck_assert_ptr_null(out);
	json_decref(v);
}

START_TEST(test_to_int)
{
	cdb_coerce_opts o = opts(CDB_SCHEMA_INT, 0);

	converts(&o, "42", "42");
	converts(&o, "\"42\"", "42");
	converts(&o, "\"-7\"", "-7");
	converts(&o, "\"+7\"", "7");
	converts(&o, "\"4.0\"", "4");
	converts(&o, "\"1e3\"", "1000");
	converts(&o, "4.0", "4");
	converts(&o, "\"9223372036854775807\"", "9223372036854775807");
	converts(&o, "-9223372036854775808", "-9223372036854775808");
	refuses(&o, "\"abc\"", "cannot convert \"abc\" to int");
	refuses(&o, "\"4.5\"", "cannot convert \"4.5\" to int");
	refuses(&o, "4.5", "cannot convert 4.5 to int");
	refuses(&o, "\" 42\"", "cannot convert \" 42\" to int");
	refuses(&o, "\"0x10\"", "cannot convert \"0x10\" to int");
	refuses(&o, "\"9223372036854775808\"",
	    "cannot convert \"9223372036854775808\" to int");
	refuses(&o, "1e19", "cannot convert 1e+19 to int");
	refuses(&o, "true", "cannot convert true to int");
	refuses(&o, "\"\"", "cannot convert \"\" to int");
	refuses(&o, "[1]", "cannot convert [1] to int");
	refuses(&o, "{\"a\":1}", "cannot convert {\"a\":1} to int");
	o.trim = 1;
	converts(&o, "\" 42 \\t\"", "42");
	absent(&o, "null");
}
END_TEST

START_TEST(test_to_float)
{
	cdb_coerce_opts o = opts(CDB_SCHEMA_FLOAT, 0);

	converts(&o, "2.5", "2.5");
	converts(&o, "3", "3.0");
	converts(&o, "\"2.5\"", "2.5");
	converts(&o, "\"-1e-3\"", "-0.001");
	converts(&o, "\"7\"", "7.0");
	refuses(&o, "\"1e400\"", "cannot convert \"1e400\" to float");
	refuses(&o, "\"nan\"", "cannot convert \"nan\" to float");
	refuses(&o, "\"inf\"", "cannot convert \"inf\" to float");
	refuses(&o, "\"1,5\"", "cannot convert \"1,5\" to float");
	refuses(&o, "false", "cannot convert false to float");
}
END_TEST

START_TEST(test_to_bool)
{
	static const char *const yes[] = {"\"true\"", "\"TRUE\"", "\"True\"",
	    "\"t\"", "\"yes\"", "\"Y\"", "\"on\"", "\"1\"", "1", "true", NULL};
	static const char *const no[] = {"\"false\"", "\"F\"", "\"no\"",
	    "\"N\"", "\"off\"", "\"0\"", "0", "false", NULL};
	cdb_coerce_opts o = opts(CDB_SCHEMA_BOOL, 0);
	size_t i;

	for (i = 0; yes[i] != NULL; i++)
		converts(&o, yes[i], "true");
	for (i = 0; no[i] != NULL; i++)
		converts(&o, no[i], "false");
	refuses(&o, "2", "cannot convert 2 to bool");
	refuses(&o, "1.0", "cannot convert 1.0 to bool");
	refuses(&o, "\"maybe\"", "cannot convert \"maybe\" to bool");
	refuses(&o, "\" yes\"", "cannot convert \" yes\" to bool");
}
END_TEST

START_TEST(test_to_string)
{
	cdb_coerce_opts o = opts(CDB_SCHEMA_STRING, 0);

	converts(&o, "\"x\"", "\"x\"");
	converts(&o, "42", "\"42\"");
	converts(&o, "-2.5", "\"-2.5\"");
	converts(&o, "2.0", "\"2.0\"");
	converts(&o, "true", "\"true\"");
	converts(&o, "\"  Mixed Case  \"", "\"  Mixed Case  \"");
	refuses(&o, "[\"a\"]", "cannot convert [\"a\"] to string");
	o.trim = 1;
	converts(&o, "\"  Mixed Case \\n\"", "\"Mixed Case\"");
	o.lowercase = 1;
	converts(&o, "\"  Mixed Case  \"", "\"mixed case\"");
	/* Only ASCII letters change case. */
	converts(&o, "\"\xc3\x89T\xc3\x89\"", "\"\xc3\x89t\xc3\x89\"");
}
END_TEST

/* A value that needs no change is passed on, not copied. */
START_TEST(test_unchanged_is_same)
{
	cdb_coerce_opts o = opts(CDB_SCHEMA_STRING, 0);
	json_t *v = json_string("keep"), *out;
	char why[64];

	o.trim = 1;
	ck_assert_int_eq(cdb_coerce(v, &o, &out, why, sizeof(why)), 1);
	ck_assert_ptr_eq(out, v);
	json_decref(out);
	json_decref(v);
	o = opts(CDB_SCHEMA_INT, 0);
	v = json_integer(5);
	ck_assert_int_eq(cdb_coerce(v, &o, &out, why, sizeof(why)), 1);
	ck_assert_ptr_eq(out, v);
	json_decref(out);
	json_decref(v);
}
END_TEST

START_TEST(test_map_and_missing)
{
	cdb_coerce_opts o = opts(CDB_SCHEMA_STRING, 0);
	json_t *map = json_pack("{s:s, s:s}", "english", "en", "n/a", "x");
	json_t *missing = json_pack("[s, s]", "", "n/a");

	o.trim = o.lowercase = 1;
	o.map = map;
	o.missing = missing;
	converts(&o, "\" English \"", "\"en\"");
	converts(&o, "\"es\"", "\"es\"");
	/* Missing wins over the map; white space alone is missing. */
	absent(&o, "\"N/A\"");
	absent(&o, "\"   \"");
	json_decref(map);
	/* A replacement is converted to the type, but not mapped again. */
	o = opts(CDB_SCHEMA_BOOL, 0);
	map = json_pack("{s:s, s:b}", "si", "yes", "nope", 0);
	o.map = map;
	converts(&o, "\"si\"", "true");
	converts(&o, "\"nope\"", "false");
	json_decref(map);
	/* A long value is mapped like a short one. */
	{
		char key[301], in[400];

		memset(key, 'k', 300);
		key[300] = '\0';
		o = opts(CDB_SCHEMA_STRING, 0);
		map = json_pack("{s:s}", key, "short");
		o.map = map;
		snprintf(in, sizeof(in), "\"%s\"", key);
		converts(&o, in, "\"short\"");
		json_decref(map);
	}
	json_decref(missing);
}
END_TEST

START_TEST(test_date_epoch)
{
	cdb_coerce_opts o = opts(CDB_SCHEMA_INT, 0);

	o.date = CDB_DATE_EPOCH;
	converts(&o, "\"2024-03-05\"", "1709596800");
	converts(&o, "\"2024-03-05T10:11:12Z\"", "1709633472");
	converts(&o, "\"2024-03-05t10:11:12z\"", "1709633472");
	converts(&o, "\"2024-03-05 10:11:12\"", "1709633472");
	converts(&o, "\"2024-03-05T10:11\"", "1709633460");
	converts(&o, "\"2024-03-05T10:11:12.999Z\"", "1709633472");
	converts(&o, "\"2024-03-05T10:11:12+02:00\"", "1709626272");
	converts(&o, "\"2024-03-05T10:11:12+0200\"", "1709626272");
	converts(&o, "\"2024-03-05T10:11:12-05\"", "1709651472");
	converts(&o, "\"2024-02-29\"", "1709164800");
	converts(&o, "\"2000-02-29\"", "951782400");
	converts(&o, "\"1969-12-31T23:59:59Z\"", "-1");
	converts(&o, "\"1709596800\"", "1709596800");
	converts(&o, "1709596800", "1709596800");
	converts(&o, "1709596800.0", "1709596800");
	refuses(
	    &o, "\"2023-02-29\"", "cannot convert \"2023-02-29\" to a date");
	refuses(
	    &o, "\"1900-02-29\"", "cannot convert \"1900-02-29\" to a date");
	refuses(
	    &o, "\"2024-13-01\"", "cannot convert \"2024-13-01\" to a date");
	refuses(
	    &o, "\"2024-04-31\"", "cannot convert \"2024-04-31\" to a date");
	refuses(&o, "\"2024-03-05T24:00\"",
	    "cannot convert \"2024-03-05T24:00\" to a date");
	refuses(&o, "\"2024-03-05T10:11:12+2\"",
	    "cannot convert \"2024-03-05T10:11:12+2\" to a date");
	refuses(&o, "\"2024-3-5\"", "cannot convert \"2024-3-5\" to a date");
	refuses(
	    &o, "\"05/03/2024\"", "cannot convert \"05/03/2024\" to a date");
	refuses(&o, "\"yesterday\"", "cannot convert \"yesterday\" to a date");
	refuses(
	    &o, "\"2024-03-05 \"", "cannot convert \"2024-03-05 \" to a date");
	refuses(&o, "1.5", "cannot convert 1.5 to a date");
	o.trim = 1;
	converts(&o, "\"2024-03-05 \"", "1709596800");
}
END_TEST

START_TEST(test_date_iso)
{
	cdb_coerce_opts o = opts(CDB_SCHEMA_STRING, 0);
	char out[CDB_DATE_LEN];

	o.date = CDB_DATE_ISO;
	converts(&o, "1709633472", "\"2024-03-05T10:11:12Z\"");
	converts(&o, "\"1709633472\"", "\"2024-03-05T10:11:12Z\"");
	converts(&o, "\"2024-03-05\"", "\"2024-03-05T00:00:00Z\"");
	converts(
	    &o, "\"2024-03-05T10:11:12+02:00\"", "\"2024-03-05T08:11:12Z\"");
	converts(&o, "-1", "\"1969-12-31T23:59:59Z\"");
	converts(&o, "0", "\"1970-01-01T00:00:00Z\"");
	refuses(&o, "true", "cannot convert true to a date");
	ck_assert_int_eq(cdb_coerce_date_format(253402300799LL, out), 0);
	ck_assert_str_eq(out, "9999-12-31T23:59:59Z");
	ck_assert_int_eq(cdb_coerce_date_format(-62167219200LL, out), 0);
	ck_assert_str_eq(out, "0000-01-01T00:00:00Z");
	ck_assert_int_eq(cdb_coerce_date_format(253402300800LL, out), -1);
	refuses(&o, "253402300800", "cannot convert 253402300800 to a date");
}
END_TEST

START_TEST(test_arrays)
{
	cdb_coerce_opts o = opts(CDB_SCHEMA_STRING, 1);

	/* No delimiter: a scalar becomes a one-element array. */
	converts(&o, "\"a,b\"", "[\"a,b\"]");
	converts(&o, "[\"a\",\"b\"]", "[\"a\",\"b\"]");
	converts(&o, "[1,true]", "[\"1\",\"true\"]");
	o.split = ",";
	o.trim = o.lowercase = 1;
	converts(
	    &o, "\"Wit, irony,,timing,\"", "[\"wit\",\"irony\",\"timing\"]");
	converts(&o, "[\" A \",\"b\"]", "[\"a\",\"b\"]");
	absent(&o, "\"\"");
	absent(&o, "\" , ,\"");
	absent(&o, "[]");
	/* Pieces lose the spaces around them even when the field does not
	 * trim (cdb-schema(5)); a single value keeps its own. */
	o.trim = o.lowercase = 0;
	converts(&o, "\"wit, irony ,\\ttiming\"", "[\"wit\",\"irony\",\"timing\"]");
	o.split = NULL;
	converts(&o, "\" a b \"", "[\" a b \"]");
	o = opts(CDB_SCHEMA_INT, 1);
	o.split = " | ";
	converts(&o, "\"1 | 2 | 3\"", "[1,2,3]");
	converts(&o, "7", "[7]");
	converts(&o, "[1,\"2\",3.0]", "[1,2,3]");
	refuses(&o, "\"1 | x\"", "cannot convert \"x\" to int");
	refuses(&o, "[1,[2]]", "cannot convert [2] to int");
	o = opts(CDB_SCHEMA_FLOAT, 1);
	converts(&o, "[1,2.5]", "[1.0,2.5]");
}
END_TEST

START_TEST(test_show)
{
	char buf[80];
	json_t *v = json_string("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	                        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	                        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	                        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	                        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	                        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	                        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");

	cdb_coerce_show(v, buf, sizeof(buf));
	/* Cut before 64 bytes, never inside a character, marked "...". */
	ck_assert_uint_le(strlen(buf), 64);
	ck_assert_str_eq(buf + strlen(buf) - 3, "...");
	ck_assert_int_ne((unsigned char)buf[strlen(buf) - 4], 0xc3);
	json_decref(v);
	v = json_pack("{s:i}", "a", 1);
	cdb_coerce_show(v, buf, sizeof(buf));
	ck_assert_str_eq(buf, "{\"a\":1}");
	json_decref(v);
}
END_TEST

Suite *
coerce_suite(void)
{
	Suite *s = suite_create("coerce");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_to_int);
	tcase_add_test(tc, test_to_float);
	tcase_add_test(tc, test_to_bool);
	tcase_add_test(tc, test_to_string);
	tcase_add_test(tc, test_unchanged_is_same);
	tcase_add_test(tc, test_map_and_missing);
	tcase_add_test(tc, test_date_epoch);
	tcase_add_test(tc, test_date_iso);
	tcase_add_test(tc, test_arrays);
	tcase_add_test(tc, test_show);
	suite_add_tcase(s, tc);
	return s;
}
