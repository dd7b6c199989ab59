/*
 * test_embed.c - float32 text round trips (against strtof and snprintf),
 * JSON arrays, base64 and vector checks.  bench/embed-verify.c runs the
 * same round-trip checks over every float, which takes minutes.
 */
#include <check.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static float
from_bits(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

static uint32_t
to_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

/* Parse all of s with cdb; -1 on failure or when not all was used. */
static int
parse_all(const char *s, float *f)
{
	size_t used;

	if (cdb_embed_parse_float(s, strlen(s), f, &used) != 0)
		return -1;
	return used == strlen(s) ? 0 : -1;
}

/*
 * Check's ck_assert records every passing assertion through a pipe, too
 * slow for the sweeps below: they test plainly and only fail through it.
 */
#define expect(cond, ...)                                                      \
	do {                                                                   \
		if (!(cond))                                                   \
			ck_abort_msg(__VA_ARGS__);                             \
	} while (0)

/* Format u, check the text's shape and that it reads back exactly. */
static void
check_round_trip(uint32_t u)
{
	char buf[CDB_FLOAT_MAXLEN + 1];
	size_t len;
	float f, back;

	f = from_bits(u);
	len = cdb_embed_format_float(f, buf);
	expect(len <= CDB_FLOAT_MAXLEN && len == strlen(buf),
	    "%08" PRIx32 " -> \"%s\": bad length %zu", u, buf, len);
	expect(parse_all(buf, &back) == 0 && to_bits(back) == u,
	    "%08" PRIx32 " -> \"%s\" does not parse back", u, buf);
	expect(to_bits(strtof(buf, NULL)) == u,
	    "%08" PRIx32 " -> \"%s\" does not strtof back", u, buf);
}

START_TEST(test_format_round_trip)
{
	uint64_t u;
	uint32_t e;

	for (u = 0; u <= 0xffffffffU; u += 9973)
		if (((uint32_t)u & 0x7f800000) != 0x7f800000)
			check_round_trip((uint32_t)u);
	/* Both sides of every binade boundary, subnormals included. */
	for (e = 0; e < 255; e++) {
		check_round_trip(e << 23);
		check_round_trip(e << 23 | 1);
		check_round_trip(e << 23 | 0x7fffff);
		check_round_trip(e << 23 | 0x400000);
		check_round_trip(0x80000000U | e << 23 | 0x7fffff);
	}
}
END_TEST

static void
check_format(float f, const char *want)
{
	char buf[CDB_FLOAT_MAXLEN + 1];

	ck_assert_uint_eq(cdb_embed_format_float(f, buf), strlen(want));
	ck_assert_str_eq(buf, want);
}

START_TEST(test_format_text)
{
	check_format(0.0f, "0");
	check_format(-0.0f, "-0");
	check_format(1.0f, "1");
	check_format(-2.5f, "-2.5");
	check_format(0.1f, "0.1");
	check_format(0.3f, "0.3");
	check_format(0.0123f, "0.0123");
	check_format(123.5f, "123.5");
	check_format(100.0f, "100");
	check_format(0.00001f, "0.00001");
	check_format(0.000012345f, "0.000012345");
	check_format(1.2345e-7f, "1.2345e-07");
	check_format(-1.2345678e-6f, "-1.2345678e-06");
	check_format(123456789.0f, "123456790");
	check_format(16777216.0f, "16777216");
	check_format(1e9f, "1e+09");
	check_format(1.5e10f, "1.5e+10");
	check_format(FLT_MAX, "3.4028235e+38");
	check_format(-FLT_MAX, "-3.4028235e+38");
	check_format(FLT_MIN, "1.1754944e-38");
	check_format(from_bits(1), "1e-45");
	check_format(from_bits(0x807fffff), "-1.1754942e-38");
	check_format(0.2f, "0.2");
	check_format(33554432.0f, "33554432");
	check_format(9.999999e-6f, "9.999999e-06");
	check_format(NAN, "null");
	check_format(-INFINITY, "null");
}
END_TEST

/* Fewest digits p for which "%.{p}g" reads back as f: the slow way. */
static int
ref_digits(float f, char *text, size_t size)
{
	int p;

	for (p = 1; p < 9; p++) {
		snprintf(text, size, "%.*g", p, (double)f);
		if (to_bits(strtof(text, NULL)) == to_bits(f))
			return p;
	}
	snprintf(text, size, "%.9g", (double)f);
	return 9;
}

/* Significant digits of a JSON number as an integer, and their count. */
static int
sig_digits(const char *s, uint64_t *d, int *exp)
{
	int n, frac;

	*d = 0;
	*exp = 0;
	n = frac = 0;
	for (; *s != '\0' && *s != 'e'; s++) {
		if (*s == '-' || (*s == '0' && *d == 0) || *s == '.') {
			frac |= *s == '.';
			*exp -= frac && *s == '0';
			continue;
		}
		*d = *d * 10 + (uint64_t)(*s - '0');
		*exp -= frac;
		n++;
	}
	if (*s == 'e')
		*exp += atoi(s + 1);
	for (; *d != 0 && *d % 10 == 0; n--) {
		*d /= 10;
		(*exp)++;
	}
	return n;
}

static int
reads_as(uint64_t d, int exp, float f)
{
	char t[48];

	snprintf(t, sizeof(t), "%" PRIu64 "e%d", d, exp);
	return to_bits(strtof(t, NULL)) == to_bits(f);
}

/* Shortest, and the nearest of the shortest, against snprintf. */
static void
check_shortest(float f)
{
	char buf[CDB_FLOAT_MAXLEN + 1], ref[32];
	uint64_t d, rd;
	int n, p, e, re;

	cdb_embed_format_float(f, buf);
	n = sig_digits(buf, &d, &e);
	p = ref_digits(f, ref, sizeof(ref));
	expect(n <= p, "\"%s\" is longer than \"%s\"", buf, ref);
	if (n > 1)
		expect(!reads_as(d / 10, e + 1, f) &&
		           !reads_as(d / 10 + 1, e + 1, f),
		    "\"%s\" is not the shortest", buf);
	if (n == p) {
		sig_digits(ref, &rd, &re);
		expect(rd == d && re == e, "\"%s\" is not \"%s\"", buf, ref);
	}
}

START_TEST(test_format_shortest)
{
	uint64_t u;
	int i;

	for (u = 1; u < 0x7f800000; u += 1000003)
		check_shortest(from_bits((uint32_t)u));
	for (i = 0; i < 20000; i++)
		check_shortest((float)((double)(int64_t)rng() / 0x1p66));
}
END_TEST

static void
check_parse(const char *s)
{
	float want, got;
	size_t used;
	int rc;

	want = strtof(s, NULL);
	rc = cdb_embed_parse_float(s, strlen(s), &got, &used);
	if (isinf(want)) {
		expect(rc == -1, "\"%s\" overflows", s);
		return;
	}
	expect(rc == 0 && used == strlen(s), "\"%s\" not parsed", s);
	expect(to_bits(got) == to_bits(want), "\"%s\": %a, strtof says %a", s,
	    (double)got, (double)want);
}

/* A random JSON number: 1-20 digits, maybe a point, maybe an exponent. */
static void
random_number(char *s)
{
	int nd, point, i;

	if (rng() % 2)
		*s++ = '-';
	nd = 1 + (int)(rng() % 20);
	/* The point goes after digit `point`; 0 means "0.digits". */
	point = (int)(rng() % (uint64_t)(nd + 1));
	if (point == 0) {
		*s++ = '0';
		*s++ = '.';
	}
	for (i = 0; i < nd; i++) {
		if (i == point && point > 0)
			*s++ = '.';
		if (i == 0 && point > 0)
			*s++ = (char)('1' + rng() % 9);
		else
			*s++ = (char)('0' + rng() % 10);
	}
	if (rng() % 4 != 0)
		s += sprintf(
		    s, "%s%d", rng() % 2 ? "e" : "E", (int)(rng() % 91) - 50);
	*s = '\0';
}

START_TEST(test_parse_random)
{
	char s[64];
	int i;

	for (i = 0; i < 200000; i++) {
		random_number(s);
		check_parse(s);
	}
}
END_TEST

/* Midpoints between adjacent floats, exact and cut or nudged. */
START_TEST(test_parse_midpoints)
{
	char t[160], s[200], *p;
	uint32_t u;
	double mid;
	int i, k;

	for (i = 0; i < 4000; i++) {
		u = (uint32_t)(rng() % 0x7f7fffff);
		if (i % 4 == 0)
			u = 0x3c000000 + (uint32_t)(rng() % 0x3000000);
		mid = ((double)from_bits(u) + (double)from_bits(u + 1)) / 2;
		snprintf(t, sizeof(t), "%.120e", mid);
		check_parse(t);
		p = strchr(t, 'e');
		for (k = 3; k < 40; k += 2) {
			snprintf(s, sizeof(s), "%.*s%s", k, t, p);
			check_parse(s);
			snprintf(s, sizeof(s), "%.*s1%s", k, t, p);
			check_parse(s);
			snprintf(s, sizeof(s), "%.*s999999999999%s", k, t, p);
			check_parse(s);
		}
		snprintf(s, sizeof(s), "%.17g", (double)from_bits(u));
		check_parse(s);
		snprintf(s, sizeof(s), "%.17g", mid);
		check_parse(s);
	}
}
END_TEST

START_TEST(test_parse_edges)
{
	static const char *ok[] = {"0", "-0", "0.0", "-0.0e-5", "1", "-1",
	    "0.1", "1e-45", "1.4e-45", "7e-46", "7.1e-46", "1e-46",
	    "1.1754942e-38", "1.17549435e-38", "3.4028235e38",
	    "3.40282356779733661637539395458142568447e38",
	    "340282356779733661637539395458142568447", "1e-400",
	    "-1e-99999999999999999999", "0.000000000000000000001",
	    "123456789012345678901234567890",
	    "0.1000000000000000000000000000000000000001", "16777217",
	    "16777219", "33554435", "1E10", "1e+10", "0.10000000149011612",
	    "4.9406564584124654e-324", "1.00000005960464477539062",
	    "1.000000059604644775390625", "1.000000059604644775390626",
	    "1.000000178813934326171875"};
	static const char *inf[] = {"1e39", "3.4028236e38", "-1e39",
	    "3.40282356779733661637539395458142568448e38", "1e99999",
	    "1e1000000000000000000000"};
	char big[1200];
	float f;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		check_parse(ok[i]);
	for (i = 0; i < sizeof(inf) / sizeof(inf[0]); i++)
		ck_assert_msg(parse_all(inf[i], &f) == -1, "%s", inf[i]);
	ck_assert(parse_all("-0", &f) == 0 && to_bits(f) == 0x80000000);
	/* Tokens far longer than any buffer. */
	memset(big, '9', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[1] = '.';
	check_parse(big);
	memcpy(big, "0.", 2);
	memset(big + 2, '0', 1000);
	check_parse(big);
	memcpy(big + sizeof(big) - 6, "e1000", 5);
	check_parse(big);
}
END_TEST

START_TEST(test_parse_syntax)
{
	static const char *bad[] = {"", "-", "+1", ".5", "-.5", "1.", "1.e5",
	    "1e", "1e+", "1e-", "NaN", "nan", "Infinity", "-Infinity", "inf",
	    "--1", " 1", "x", "e5", "-e5", "-x"};
	float f;
	size_t used, i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cdb_embed_parse_float(
		                  bad[i], strlen(bad[i]), &f, &used) == -1,
		    "\"%s\" accepted", bad[i]);
	/* A number followed by other text: only the number is consumed. */
	ck_assert_int_eq(cdb_embed_parse_float("01", 2, &f, &used), 0);
	ck_assert_uint_eq(used, 1);
	ck_assert_int_eq(cdb_embed_parse_float("0x10", 4, &f, &used), 0);
	ck_assert_uint_eq(used, 1);
	ck_assert_int_eq(cdb_embed_parse_float("2.5e3,", 6, &f, &used), 0);
	ck_assert_uint_eq(used, 5);
	ck_assert(f == 2500.0f);
	/* The length bounds the scan: no NUL needed. */
	ck_assert_int_eq(cdb_embed_parse_float("1.25e", 4, &f, &used), 0);
	ck_assert_uint_eq(used, 4);
	ck_assert(f == 1.25f);
	ck_assert_int_eq(cdb_embed_parse_float("1.25", 2, &f, &used), -1);
	ck_assert_int_eq(cdb_embed_parse_float("-", 1, &f, &used), -1);
}
END_TEST

/* Parse s as a JSON array expecting failure with message msg. */
static void
json_fails(const char *s, size_t cap, const char *msg)
{
	cdb_error e;
	float v[64];
	size_t dim;

	cdb_error_clear(&e);
	ck_assert_int_eq(
	    cdb_embed_parse_json(s, strlen(s), v, cap, &dim, &e), -1);
	ck_assert_int_eq(e.kind, CDB_ERR_INPUT);
	ck_assert_str_eq(e.text, msg);
}

START_TEST(test_json)
{
	const char *s;
	cdb_error e;
	float v[8];
	size_t dim;

	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_embed_parse_json("[]", 2, v, 8, &dim, &e), 2);
	ck_assert_uint_eq(dim, 0);
	ck_assert_int_eq(cdb_embed_parse_json(" [ \n] ", 6, v, 0, &dim, &e), 5);
	ck_assert_uint_eq(dim, 0);
	s = "[1,2.5e-3, -0.25]";
	ck_assert_int_eq(cdb_embed_parse_json(s, strlen(s), v, 3, &dim, &e),
	    (long)strlen(s));
	ck_assert_uint_eq(dim, 3);
	ck_assert(v[0] == 1.0f && v[1] == 2.5e-3f && v[2] == -0.25f);
	s = "\t[\r\n-0 ,\t1e-45\n]\n,\"next\"";
	ck_assert_int_eq(
	    cdb_embed_parse_json(s, strlen(s), v, 8, &dim, &e), 16);
	ck_assert_uint_eq(dim, 2);
	ck_assert(to_bits(v[0]) == 0x80000000 && to_bits(v[1]) == 1);
	ck_assert_int_eq(e.kind, CDB_ERR_NONE);

	json_fails("", 8, "embedding is not a JSON array");
	json_fails("  ", 8, "embedding is not a JSON array");
	json_fails("{}", 8, "embedding is not a JSON array");
	json_fails("1", 8, "embedding is not a JSON array");
	json_fails("[", 8, "embedding value at index 0 is not a number");
	json_fails("[1", 8, "embedding array is not closed");
	json_fails("[1, ", 8, "embedding value at index 1 is not a number");
	json_fails("[1,]", 8, "embedding value at index 1 is not a number");
	json_fails("[,1]", 8, "embedding value at index 0 is not a number");
	json_fails(
	    "[1 2]", 8, "embedding value at index 0 is not followed by ',' or ']'");
	json_fails("[1,2x]", 8, "embedding value at index 1 is not a number");
	json_fails("[0,01]", 8, "embedding value at index 1 is not a number");
	json_fails("[1.]", 8, "embedding value at index 0 is not a number");
	/* Characters below '1' once passed the first-digit test. */
	json_fails("[.5]", 8, "embedding value at index 0 is not a number");
	json_fails("[-.5]", 8, "embedding value at index 0 is not a number");
	json_fails("[0.5,-,0.25]", 8, "embedding value at index 1 is not a number");
	json_fails("[0.5,+1]", 8, "embedding value at index 1 is not a number");
	json_fails("[0.5,0.5,.5,0.25,0.25,0.25]", 8,
	    "embedding value at index 2 is not a number");
	json_fails("[NaN]", 8, "embedding value at index 0 is not a number");
	json_fails("[1,null]", 8, "embedding value at index 1 is not a number");
	json_fails("[\"1\"]", 8, "embedding value at index 0 is not a number");
	json_fails(
	    "[1,2,-1e39]", 8, "embedding value at index 2 is out of float32 range");
	json_fails("[1,2,3]", 2, "embedding has more than 2 values");
	json_fails("[1]", 0, "embedding has more than 0 values");
}
END_TEST

START_TEST(test_json_round_trip)
{
	float v[64], back[64];
	cdb_error e;
	cdb_buf b;
	size_t dim, i, n;

	cdb_buf_init(&b);
	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_embed_format_json(v, 0, &b), 0);
	ck_assert_str_eq(b.data, "[]");
	v[0] = 0.1f;
	v[1] = -0.0f;
	v[2] = 1.2345e-7f;
	v[3] = FLT_MAX;
	cdb_buf_reset(&b);
	ck_assert_int_eq(cdb_buf_puts(&b, "x="), 0);
	ck_assert_int_eq(cdb_embed_format_json(v, 4, &b), 0);
	ck_assert_str_eq(b.data, "x=[0.1,-0,1.2345e-07,3.4028235e+38]");
	for (n = 0; n <= 64; n += 7) {
		for (i = 0; i < n; i++)
			v[i] = from_bits((uint32_t)rng() & 0xbf7fffff);
		cdb_buf_reset(&b);
		ck_assert_int_eq(cdb_embed_format_json(v, n, &b), 0);
		ck_assert_uint_le(b.len, n * (CDB_FLOAT_MAXLEN + 1) + 2);
		ck_assert_int_eq(
		    cdb_embed_parse_json(b.data, b.len, back, 64, &dim, &e),
		    (long)b.len);
		ck_assert_uint_eq(dim, n);
		ck_assert(memcmp(v, back, n * sizeof(float)) == 0);
	}
	cdb_buf_free(&b);
}
END_TEST

/*
 * One array element in the shape of a normalised embedding's, [-]0.ddd
 * with 1 to 17 digits, written to s; now and then a float midpoint's
 * first digits (some round to the midpoint itself) or another number.
 */
static void
embedding_token(char *s)
{
	static const char *other[] = {"0", "1", "1.5", "0.5e-3", "2.5E+1",
	    "123.456", "0.0", "0.0000000", "1e-45", "0.1e1"};
	uint32_t u;
	double mid;
	int nd, i;

	nd = 1 + (int)(rng() % 17);
	if (rng() % 2)
		*s++ = '-';
	switch (rng() % 8) {
	case 0:
		strcpy(s, other[rng() % (sizeof(other) / sizeof(other[0]))]);
		break;
	case 1:
		u = 0x3f000000 + (uint32_t)(rng() % 0x800000);
		mid = ((double)from_bits(u) + (double)from_bits(u + 1)) / 2;
		snprintf(s, 24, "%.*f", 9 + (int)(rng() % 9), mid);
		break;
	case 2:
		/* The shortest form of an embedding-like value. */
		cdb_embed_format_float(
		    (float)((double)(rng() % 2000001) / 1e6 - 1), s);
		if (s[0] == '-')
			memmove(s, s + 1, strlen(s));
		break;
	default:
		memcpy(s, "0.", 2);
		for (i = 0; i < nd; i++)
			s[2 + i] = (char)('0' + rng() % 10);
		s[2 + nd] = '\0';
	}
}

/*
 * Arrays of such elements, compact and not: every value must equal
 * strtof's, bit for bit, with the text exactly as long as the array so
 * that reading past it shows under the sanitizers.
 */
START_TEST(test_json_fast)
{
	static const char *seps[] = {
	    ",", ",", ",", ",", ",", ",", ", ", " ,", ",\n", "\t,\r\n"};
	static char tok[500][32];
	static float want[500], got[500];
	size_t n, len, dim, i, j;
	int verb, trial;
	char *text, *t;
	cdb_error e;
	long used;

	text = malloc(500 * 40 + 2);
	ck_assert_ptr_nonnull(text);
	cdb_error_clear(&e);
	for (trial = 0; trial < 3000; trial++) {
		n = 1 + rng() % (trial % 10 == 0 ? 20 : 500);
		t = text;
		*t++ = '[';
		for (i = 0; i < n; i++) {
			embedding_token(tok[i]);
			want[i] = strtof(tok[i], NULL);
			t += sprintf(
			    t, "%s%s", i > 0 ? seps[rng() % 10] : "", tok[i]);
		}
		*t++ = ']';
		len = (size_t)(t - text);
		t = malloc(len);
		ck_assert_ptr_nonnull(t);
		memcpy(t, text, len);
		used = cdb_embed_parse_json(t, len, got, n, &dim, &e);
		expect(used == (long)len, "%s", e.text);
		expect(dim == n, "%zu values, not %zu", dim, n);
		for (j = 0; j < n; j++)
			expect(to_bits(got[j]) == to_bits(want[j]),
			    "\"%s\": %a, strtof says %a", tok[j],
			    (double)got[j], (double)want[j]);
		/* The same with the shortest-form check. */
		used = cdb_embed_scan_json(t, len, got, n, &dim, &verb, &e);
		expect(used == (long)len, "%s", e.text);
		expect(memcmp(got, want, n * sizeof(float)) == 0,
		    "scan_json differs");
		used = cdb_embed_parse_json(t, len, got, n - 1, &dim, &e);
		expect(used == -1, "%zu values fit in %zu", n, n - 1);
		free(t);
	}
	free(text);
}
END_TEST

/*
 * Bad text among values the fast path takes: rejected as before, with
 * the same message, wherever it is.
 */
START_TEST(test_json_fast_bad)
{
	static const char *bad[] = {"0.", "-", ".5", "-.5", "0.5.5", "00.5",
	    "-0.", "0.x", "0.5x", "--0.5", "+0.5", "0.5e", "0.12345678.9",
	    "0.123456789012.5", "-00.25", "0.1234567x", "0.12345678x",
	    "0.123456789x", "0.", "0.1-", "1.", "0..5", "0.5\"", "\"0.5\""};
	char text[600], want[80];
	size_t nb, at, n, i;
	int k;

	nb = sizeof(bad) / sizeof(bad[0]);
	for (k = 0; k < 2000; k++) {
		n = 2 + rng() % 30;
		at = rng() % n;
		text[0] = '[';
		text[1] = '\0';
		for (i = 0; i < n; i++) {
			if (i > 0)
				strcat(text, ",");
			if (i == at)
				strcat(text, bad[rng() % nb]);
			else
				strcat(text, i % 2 ? "-0.01234" : "0.98765432");
		}
		strcat(text, "]");
		snprintf(want, sizeof(want),
		    "embedding value at index %zu is not a number", at);
		json_fails(text, 40, want);
	}
	json_fails("[0.5,,0.1]", 8, "embedding value at index 1 is not a number");
	json_fails("[0.5,0.25,0.125,0.0625,0.03125,,0.1]", 8,
	    "embedding value at index 5 is not a number");
	json_fails("[0.5,0.25,0.125,0.0625,0.03125,0.1", 8,
	    "embedding array is not closed");
	json_fails("[0.5,0.25,0.125,0.0625,0.03125,0.1 \t\n", 8,
	    "embedding array is not closed");
	json_fails("[0.5,0.25,0.125,0.0625,0.03125,0.1,", 8,
	    "embedding value at index 6 is not a number");
	json_fails("[0.5,0.25,0.125,0.0625,0.03125,0.1,0.2", 6,
	    "embedding has more than 6 values");
	json_fails("[0.5,0.25,0.125,0.0625,0.03125 0.1]", 8,
	    "embedding value at index 4 is not followed by ',' or ']'");
}
END_TEST

/* Decode s expecting failure with message msg. */
static void
b64_fails(const char *s, size_t cap, const char *msg)
{
	cdb_error e;
	float v[8];
	size_t dim;

	cdb_error_clear(&e);
	ck_assert_int_eq(
	    cdb_embed_b64_decode(s, strlen(s), v, cap, &dim, &e), -1);
	ck_assert_int_eq(e.kind, CDB_ERR_INPUT);
	ck_assert_str_eq(e.text, msg);
}

static void
b64_vector(const float *v, size_t dim, const char *want)
{
	float back[8];
	cdb_error e;
	cdb_buf b;
	size_t n;

	cdb_buf_init(&b);
	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_embed_b64_encode(v, dim, &b), 0);
	ck_assert_str_eq(b.data, want);
	ck_assert_uint_eq(b.len, cdb_embed_b64_len(dim));
	ck_assert_int_eq(
	    cdb_embed_b64_decode(want, strlen(want), back, 8, &n, &e), 0);
	ck_assert_uint_eq(n, dim);
	ck_assert(dim == 0 || memcmp(v, back, dim * sizeof(float)) == 0);
	cdb_buf_free(&b);
}

START_TEST(test_base64)
{
	static const float v3[] = {0.1f, 0.2f, 0.3f};
	static const float v1[] = {1.0f};
	static const float v2[] = {1.0f, -2.5f};
	float v4[4] = {1.0f, -2.5f, 0, FLT_MAX};

	v4[2] = from_bits(2);
	b64_vector(v3, 0, "");
	b64_vector(v3, 3, "zczMPc3MTD6amZk+");
	b64_vector(v1, 1, "AACAPw==");
	b64_vector(v2, 2, "AACAPwAAIMA=");
	b64_vector(v4, 4, "AACAPwAAIMACAAAA//9/fw==");

	b64_fails("zczMPc3MTD6amZk", 8,
	    "base64 embedding length 15 is not a multiple of 4");
	b64_fails("zczMPc3M*D6amZk+", 8,
	    "base64 embedding has a bad character at offset 8");
	b64_fails("zczMPc3MTD6amZk-", 8,
	    "base64 embedding has a bad character at offset 15");
	b64_fails("zczMPc3MTD6am\nk+", 8,
	    "base64 embedding has a bad character at offset 13");
	b64_fails("AACA\xc3\xa9==", 8,
	    "base64 embedding has a bad character at offset 4");
	b64_fails("AACAPw=AAAAAAAAA", 8, "base64 embedding has bad padding");
	b64_fails("AA==AAAAAAA=", 8, "base64 embedding has bad padding");
	b64_fails("AACAP===", 8, "base64 embedding has bad padding");
	b64_fails("====", 8, "base64 embedding has bad padding");
	b64_fails("AAAAAAAAAAAAAA==", 8,
	    "base64 embedding has 10 bytes, not a multiple of 4");
	b64_fails("AAAA", 8,
	    "base64 embedding has 3 bytes, not a multiple "
	    "of 4");
	b64_fails("zczMPc3MTD6amZk+", 2, "embedding has more than 2 values");
}
END_TEST

START_TEST(test_base64_round_trip)
{
	float v[40], back[40];
	cdb_error e;
	cdb_buf b;
	size_t n, i, dim;

	cdb_buf_init(&b);
	cdb_error_clear(&e);
	for (n = 0; n <= 40; n++) {
		for (i = 0; i < n; i++)
			v[i] = from_bits((uint32_t)rng());
		cdb_buf_reset(&b);
		ck_assert_int_eq(cdb_embed_b64_encode(v, n, &b), 0);
		ck_assert_uint_eq(b.len, cdb_embed_b64_len(n));
		ck_assert_int_eq(
		    cdb_embed_b64_decode(b.data, b.len, back, n, &dim, &e), 0);
		ck_assert_uint_eq(dim, n);
		ck_assert(n == 0 || memcmp(v, back, n * sizeof(float)) == 0);
	}
	cdb_buf_free(&b);
}
END_TEST

/* Standard base64 of n bytes, a bit at a time. */
static void
b64_reference(const unsigned char *in, size_t n, char *out)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t bit, k = 0;
	unsigned six = 0;

	for (bit = 0; bit < n * 8; bit++) {
		six = six << 1 | (in[bit / 8] >> (7 - bit % 8) & 1);
		if (bit % 6 == 5) {
			out[k++] = abc[six];
			six = 0;
		}
	}
	if (n * 8 % 6 != 0)
		out[k++] = abc[six << (6 - n * 8 % 6)];
	while (k % 4 != 0)
		out[k++] = '=';
	out[k] = '\0';
}

/* Every length and byte pattern against the reference encoder. */
START_TEST(test_base64_reference)
{
	unsigned char bytes[4 * 64];
	char want[4 * 64 * 2];
	float v[64];
	cdb_buf b;
	size_t n, i;
	uint32_t u;
	int k;

	cdb_buf_init(&b);
	for (k = 0; k < 2000; k++) {
		n = (size_t)k % 64;
		for (i = 0; i < n; i++) {
			u = (uint32_t)rng();
			v[i] = from_bits(u);
			bytes[4 * i] = (unsigned char)u;
			bytes[4 * i + 1] = (unsigned char)(u >> 8);
			bytes[4 * i + 2] = (unsigned char)(u >> 16);
			bytes[4 * i + 3] = (unsigned char)(u >> 24);
		}
		b64_reference(bytes, 4 * n, want);
		cdb_buf_reset(&b);
		ck_assert_int_eq(cdb_embed_b64_encode(v, n, &b), 0);
		expect(strcmp(b.data, want) == 0, "%zu floats: %s, not %s", n,
		    b.data, want);
	}
	cdb_buf_free(&b);
}
END_TEST

START_TEST(test_check)
{
	float v[384];
	cdb_error e;
	size_t i;

	for (i = 0; i < 384; i++)
		v[i] = (float)i / 384;
	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_embed_check(v, 384, &e), 0);
	ck_assert_int_eq(cdb_embed_check(v, 0, &e), 0);
	ck_assert_int_eq(e.kind, CDB_ERR_NONE);
	v[17] = NAN;
	ck_assert_int_eq(cdb_embed_check(v, 384, &e), -1);
	ck_assert_str_eq(e.text, "embedding value at index 17 is not finite");
	ck_assert_int_eq(e.kind, CDB_ERR_INPUT);
	v[17] = 0;
	v[383] = -INFINITY;
	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_embed_check(v, 384, &e), -1);
	ck_assert_str_eq(e.text, "embedding value at index 383 is not finite");
}
END_TEST

Suite *
embed_suite(void)
{
	Suite *s = suite_create("embed");
	TCase *tc = tcase_create("core");

	/* The round-trip sweeps take seconds under sanitizers. */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_format_round_trip);
	tcase_add_test(tc, test_format_text);
	tcase_add_test(tc, test_format_shortest);
	tcase_add_test(tc, test_parse_random);
	tcase_add_test(tc, test_parse_midpoints);
	tcase_add_test(tc, test_parse_edges);
	tcase_add_test(tc, test_parse_syntax);
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_json_round_trip);
	tcase_add_test(tc, test_json_fast);
	tcase_add_test(tc, test_json_fast_bad);
	tcase_add_test(tc, test_base64);
	tcase_add_test(tc, test_base64_round_trip);
	tcase_add_test(tc, test_base64_reference);
	tcase_add_test(tc, test_check);
	suite_add_tcase(s, tc);
	return s;
}
