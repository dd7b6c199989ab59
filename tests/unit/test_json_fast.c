/*
 * The fast parser must build exactly what jansson builds, or decline:
 * checked on hand-picked texts and on thousands of random mutations.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "json_fast.h"

/* Compact text of v (key order and number types kept); caller frees. */
static char *
text_of(const json_t *v)
{
	cdb_buf b;

	cdb_buf_init(&b);
	ck_assert_int_eq(cdb_json_dump(&b, v), 0);
	return b.data;
}

/* Returns 1 when the fast parser took s, 0 when it declined. */
static int
agrees(const char *s, size_t n)
{
	json_t *fast = cdb_json_fast_load(s, n);
	json_t *ref = json_loadb(s, n, CDB_JSON_FLAGS, NULL);
	char *a, *b;

	if (fast == NULL) {
		json_decref(ref);
		return 0;
	}
	ck_assert_msg(ref != NULL,
	    "fast parser accepted what jansson "
	    "refuses: %.*s",
	    (int)n, s);
	ck_assert_msg(json_equal(fast, ref), "values differ: %.*s", (int)n, s);
	a = text_of(fast);
	b = text_of(ref);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	json_decref(fast);
	json_decref(ref);
	return 1;
}

static const char *const taken[] = {
    "{}",
    " {\"a\":1} \n",
    "{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"x\",\"document\":"
    "\"line\\nnext \\\"q\\\" \\\\ \\/ \\b\\f\\r\\t\",\"metadata\":{\"n\":"
    "-0,\"r\":-0.0,\"e\":1e-300,\"E\":2.5E+10,\"big\":9223372036854775807,"
    "\"neg\":-9223372036854775808,\"t\":true,\"f\":false,\"a\":[1,2.0,"
    "\"x\"]},\"embedding\":null,\"uri\":null}",
    "{\"u\":\"caf\\u00e9 \\u20ac \\ud83d\\ude00 \\u0000 nul\"}",
    "{\"utf8\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
    "{\"dup\":1,\"dup\":2,\"other\":3}",
    "{\"nested\":{\"a\":[[],{},[{\"b\":null}]]}}",
    "{\"k\\u0041y\":\"escaped key\"}",
    "{\"x\":0.1,\"y\":100,\"z\":1E2}",
};

/* Texts jansson refuses, or that the fast parser leaves to jansson. */
static const char *const declined[] = {
    "",
    "   ",
    "[1,2]",
    "\"s\"",
    "12",
    "null",
    "{",
    "{\"a\"}",
    "{\"a\":}",
    "{\"a\":1,}",
    "{\"a\":1 \"b\":2}",
    "{\"a\":01}",
    "{\"a\":1.}",
    "{\"a\":.5}",
    "{\"a\":1e}",
    "{\"a\":-}",
    "{\"a\":+1}",
    "{\"a\":tru}",
    "{\"a\":truex}",
    "{\"a\":NaN}",
    "{\"a\":1} x",
    "{\"a\":\"tab\there\"}",
    "{\"a\":\"\\x\"}",
    "{\"a\":\"\\ud800\"}",
    "{\"a\":\"\\udc00\"}",
    "{\"a\":\"\\ud800x\"}",
    "{\"a\":\"\\u12\"}",
    "{\"a\":\"\xc0\xaf\"}",
    "{\"a\":\"\xed\xa0\x80\"}",
    "{\"a\":\"\xf4\x90\x80\x80\"}",
    "{\"a\":\"\xe2\x82\"}",
    "{\"a\":99999999999999999999}",
    "{\"a\":1e999}",
    "{\"a\":-1e999}",
    "{\"k\\u0000ey\":1}",
    "{\"a\":\"unterminated}",
    "{'a':1}",
};

START_TEST(test_taken)
{
	size_t i;

	for (i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		ck_assert_msg(agrees(taken[i], strlen(taken[i])),
		    "fast parser declined: %s", taken[i]);
}
END_TEST

START_TEST(test_declined)
{
	size_t i;

	for (i = 0; i < sizeof(declined) / sizeof(declined[0]); i++)
		ck_assert_msg(!agrees(declined[i], strlen(declined[i])),
		    "fast parser took: %s", declined[i]);
}
END_TEST

/* Every mutation of the hand-picked texts: agree or decline. */
START_TEST(test_mutations)
{
	static const char bytes[] = "{}[]\",:\\u0aeE.-+ 9tfn\x80\xc3\xa9\x1f";
	unsigned seed = 12345;
	char buf[1024];
	size_t i, n, k;
	int took = 0;

	for (i = 0; i < 20000; i++) {
		const char *src = taken[i % (sizeof(taken) / sizeof(taken[0]))];
		n = strlen(src);
		memcpy(buf, src, n);
		for (k = 0; k < 1 + i % 3; k++) {
			seed = seed * 1103515245 + 12345;
			size_t at = (seed >> 8) % (n + 1);
			char c = bytes[(seed >> 20) % (sizeof(bytes) - 1)];
			if (seed & 1 && n < sizeof(buf) - 1) { /* insert */
				memmove(buf + at + 1, buf + at, n - at);
				buf[at] = c;
				n++;
			} else if (at < n) /* replace */
				buf[at] = c;
		}
		took += agrees(buf, n);
	}
	/* Many mutations stay valid JSON; they must have taken the path. */
	ck_assert_int_gt(took, 1000);
}
END_TEST

Suite *
json_fast_suite(void)
{
	Suite *s = suite_create("json_fast");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_taken);
	tcase_add_test(tc, test_declined);
	tcase_add_test(tc, test_mutations);
	suite_add_tcase(s, tc);
	return s;
}
