/*
 * cdb_json_parse against jansson itself: the same verdict and the same
 * values on a corpus of edge cases, on random documents, and on random
 * mutations of them.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Both parsers on one text: same success, same value. */
static void
agree(const char *s, size_t n)
{
	json_error_t je;
	json_t *a = json_loadb(s, n, CDB_JSON_FLAGS, &je);
	cdb_error e;
	json_t *b;

	cdb_error_clear(&e);
	b = cdb_json_parse(s, n, &e);
	if ((a == NULL) != (b == NULL))
		ck_abort_msg("verdicts differ on %.*s: jansson %s, cdb %s",
		    (int)(n > 200 ? 200 : n), s, a ? "ok" : je.text,
		    b ? "ok" : e.text);
	if (a != NULL && !json_equal(a, b))
		ck_abort_msg("values differ on %.*s", (int)(n > 200 ? 200 : n), s);
	if (b == NULL)
		ck_assert_ptr_nonnull(strstr(e.text, "invalid JSON at column"));
	json_decref(a);
	json_decref(b);
}

static const char *corpus[] = {
	"{}", "[]", "0", "-0", "1", "-1", "0.5", "1e5", "1E+5", "1e-5", "-0.0",
	"1.5e300", "1e400", "-1e400", "1e-400", "9223372036854775807",
	"-9223372036854775808", "9223372036854775808", "01", "1.", ".5", "+1",
	"-", "1e", "1e+", "0x10", "NaN", "Infinity", "true", "false", "null",
	"tru", "nul", "\"\"", "\"a\\u0000b\"", "\"\\ud83d\\ude80\"",
	"\"\\ud83d\"", "\"\\ude80\"", "\"\\ud83dx\"", "\"\\u00e9\"",
	"\"\\x\"", "\"\\\"\"", "\"\\/\"", "\"tab\there\"", "\"a\nb\"",
	"\"\xc3\xa9\"", "\"\xc3\"", "\"\xff\"", "\"\xed\xa0\x80\"",
	"{\"a\":1,\"a\":2}", "{\"a\":1,}", "[1,]", "[1 2]", "{\"a\" 1}",
	"{1:2}", "{\"\\u0000\":1}", "{\"\xff\":1}", " [ 1 , { \"b\" : [ ] } ] ",
	"[1] x", "", "   ", "[", "{", "\"abc", "[[[[[[[[[[]]]]]]]]]]",
	"{\"k\":\"v\\\\\"}", "[1.0e+2,-0.0e-0,123456789012345678901234567890.5]",
};

START_TEST(test_corpus)
{
	size_t i;

	for (i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++)
		agree(corpus[i], strlen(corpus[i]));
}
END_TEST

static unsigned int seed = 12345;

static int
rnd(int n)
{
	return rand_r(&seed) % n;
}

static json_t *
random_value(int depth)
{
	static const char *bits[] = {"a", "é", "🚀", "\"", "\\", "\n", "\t",
		"/", "\x01", "z y", "\x7f", "日本"};
	char buf[64];
	size_t i, n;
	json_t *v;

	switch (depth > 3 ? rnd(5) : rnd(7)) {
	case 0: return json_integer((json_int_t)rnd(2000000) - 1000000);
	case 1: return json_real((double)rnd(100000) / (rnd(1000) + 1) *
		    (rnd(2) ? 1e-10 : 1e10));
	case 2: return rnd(3) ? json_true() : rnd(2) ? json_false() : json_null();
	case 3:
	case 4:
		buf[0] = '\0';
		n = (size_t)rnd(6);
		for (i = 0; i < n; i++)
			strcat(buf, bits[rnd(12)]);
		v = rnd(8) ? json_string(buf) : json_stringn("a\0b", 3);
		return v;
	case 5:
		v = json_array();
		n = (size_t)rnd(5);
		for (i = 0; i < n; i++)
			json_array_append_new(v, random_value(depth + 1));
		return v;
	default:
		v = json_object();
		n = (size_t)rnd(5);
		for (i = 0; i < n; i++) {
			snprintf(buf, sizeof(buf), "%s%d", bits[rnd(12)], rnd(9));
			json_object_set_new(v, buf, random_value(depth + 1));
		}
		return v;
	}
}

START_TEST(test_random_and_mutated)
{
	static const char junk[] = "{}[],:\"\\ 0123456789.eE+-tfnul\xc3\xa9\xff";
	int i, k;
	char *text;
	json_t *v;
	size_t n;

	for (i = 0; i < 3000; i++) {
		v = random_value(0);
		text = json_dumps(v, JSON_ENCODE_ANY | (rnd(2) ? JSON_ENSURE_ASCII
							   : 0) |
			(rnd(2) ? JSON_COMPACT : JSON_INDENT(1)));
		json_decref(v);
		n = strlen(text);
		agree(text, n);
		for (k = 0; k < 8 && n > 0; k++) {
			char *m = malloc(n + 2);
			size_t at = (size_t)rnd((int)n);
			memcpy(m, text, n + 1);
			switch (rnd(3)) {
			case 0: m[at] = junk[rnd((int)sizeof(junk) - 1)]; break;
			case 1: memmove(m + at, m + at + 1, n - at); break;
			default:
				memmove(m + at + 1, m + at, n - at + 1);
				m[at] = junk[rnd((int)sizeof(junk) - 1)];
			}
			agree(m, strlen(m));
			free(m);
		}
		free(text);
	}
}
END_TEST

Suite *
jparse_suite(void)
{
	Suite *s = suite_create("jparse");
	TCase *tc = tcase_create("against jansson");

	tcase_add_test(tc, test_corpus);
	tcase_add_test(tc, test_random_and_mutated);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
