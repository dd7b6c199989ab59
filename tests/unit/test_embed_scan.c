/* cdb_embed_scan_json's verbatim flag, which lets export copy text,
 * and cdb_embed_plain_json. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"

/*
 * Every compact spelling of in-range numbers may be copied, whatever its
 * digits (cdb-ndjson(5) no longer asks for the fewest): our own output
 * and longer spellings of the same values alike, and each reads back as
 * the value.  Text with white space is never copied.
 */
START_TEST(test_scan_verbatim)
{
	char text[64], row[4096];
	float v, out[8];
	size_t dim, i, len;
	uint32_t bits = 0x3e99999a;
	int verb;
	cdb_error e;

	for (i = 0; i < 200000; i++) {
		bits = bits * 1664525u + 1013904223u;
		memcpy(&v, &bits, 4);
		if (!isfinite(v) || v == 0)
			continue;
		len = (size_t)snprintf(row, sizeof(row), "[");
		len += cdb_embed_format_float(v, row + len);
		row[len++] = ']';
		row[len] = '\0';
		cdb_error_clear(&e);
		ck_assert_int_ne(cdb_embed_scan_json(row, len, out, 8, &dim, &verb,
				     &e),
		    -1);
		ck_assert(out[0] == v);
		ck_assert_int_eq(verb, 1);
		/* A spelling with more digits than needed. */
		snprintf(text, sizeof(text), "[%.12g]", (double)v);
		ck_assert_int_ne(cdb_embed_scan_json(text, strlen(text), out, 8,
				     &dim, &verb, &e),
		    -1);
		ck_assert(out[0] == v);
		ck_assert_int_eq(verb, 1);
	}
	/* Spaces are never copied; trailing zeros and long forms are. */
	cdb_embed_scan_json("[0.5, 0.25]", 11, out, 8, &dim, &verb, &e);
	ck_assert_int_eq(verb, 0);
	cdb_embed_scan_json(" [0.5,0.25]", 11, out, 8, &dim, &verb, &e);
	ck_assert_int_eq(verb, 0);
	cdb_embed_scan_json("[0.5,0.25 ]", 11, out, 8, &dim, &verb, &e);
	ck_assert_int_eq(verb, 0);
	cdb_embed_scan_json("[0.50,0.25]", 11, out, 8, &dim, &verb, &e);
	ck_assert_int_eq(verb, 1);
	cdb_embed_scan_json("[0.1,0.10000000149011612]", 25, out, 8, &dim, &verb,
	    &e);
	ck_assert_int_eq(verb, 1);
	ck_assert(out[1] == 0.1f);
	cdb_embed_scan_json("[0.1,3.4028235e+38,1.5e-30]", 27, out, 8, &dim, &verb,
	    &e);
	ck_assert_int_eq(verb, 1);
	/* Out of float32's range: refused, not copied. */
	ck_assert_int_eq(cdb_embed_scan_json("[0.1,3.5e+38]", 13, out, 8, &dim,
			     &verb, &e),
	    -1);
}
END_TEST

/*
 * The "[-]0.ddd" fast path agrees with strtof on every length of
 * fraction, including values built to sit on float midpoints.
 */
START_TEST(test_quick_path_matches_strtof)
{
	char row[8192], tok[64];
	float out[256], want[256];
	size_t dim, len, i, k;
	uint32_t bits = 0x9e3779b9;
	double mid;
	float a, b;
	cdb_error e;

	for (k = 0; k < 4000; k++) {
		len = 0;
		row[len++] = '[';
		for (i = 0; i < 256; i++) {
			bits = bits * 1664525u + 1013904223u;
			a = (float)(bits >> 8) / 16777216.0f;
			if (i % 3 == 0) {
				/* The midpoint between a and the next float. */
				b = nextafterf(a, 1.0f);
				mid = ((double)a + (double)b) / 2;
				snprintf(tok, sizeof(tok), "%.*f", (int)(k % 17) + 1,
				    mid);
			} else
				snprintf(tok, sizeof(tok), "%.*f", (int)(i % 16) + 1,
				    (double)a);
			if (bits & 1)
				memmove(tok + 1, tok, strlen(tok) + 1), tok[0] = '-';
			want[i] = strtof(tok, NULL);
			len += (size_t)snprintf(row + len, sizeof(row) - len, "%s%s",
			    i ? "," : "", tok);
		}
		row[len++] = ']';
		cdb_error_clear(&e);
		ck_assert_int_eq(cdb_embed_scan_json(row, len, out, 256, &dim, NULL,
				     &e),
		    (long)len);
		ck_assert_uint_eq(dim, 256);
		for (i = 0; i < 256; i++)
			if (memcmp(&out[i], &want[i], 4) != 0)
				ck_abort_msg("row %zu value %zu: got %.9g want %.9g", k,
				    i, (double)out[i], (double)want[i]);
	}
}
END_TEST

/*
 * cdb_embed_plain_json against a character-by-character reading of its
 * grammar, on random arrays mixing the short components its word-wide
 * path takes with long runs, boundary lengths and broken spellings.
 */
static long
plain_ref(const char *s, size_t n, size_t *dim)
{
	size_t i = 1, j, k = 1;

	if (n < 2 || s[0] != '[')
		return 0;
	for (;; k++) {
		if (i < n && s[i] == '-')
			i++;
		for (j = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == j || i - j > 20 || (i - j > 1 && s[j] == '0'))
			return 0;
		if (i < n && s[i] == '.') {
			for (j = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
				;
			if (i == j)
				return 0;
		}
		if (i >= n)
			return 0;
		if (s[i] == ']') {
			*dim = k;
			return (long)(i + 1);
		}
		if (s[i++] != ',')
			return 0;
	}
}

static size_t
put_digits_rand(char *p, size_t most)
{
	size_t i, k = 1 + rand() % (int)most;

	for (i = 0; i < k; i++)
		p[i] = (char)('0' + rand() % 10);
	return k;
}

/* One component, usually well formed, sometimes not. */
static size_t
put_component(char *p)
{
	static const char junk[] = "-.,]0e+ 9x";
	size_t k = 0;
	int r = rand() % 100;

	if (rand() % 2)
		p[k++] = '-';
	if (r < 60) {
		p[k++] = '0';
	} else {
		k += put_digits_rand(p + k, r < 95 ? 9 : 23);
		if (p[k - 1] == '0' && rand() % 2 == 0)
			p[0] = '1'; /* keep most leading digits legal */
	}
	if (rand() % 10 != 0) {
		p[k++] = '.';
		k += put_digits_rand(p + k, rand() % 8 ? 9 : 19);
	}
	if (rand() % 25 == 0)
		p[rand() % (int)k] = junk[rand() % (int)(sizeof(junk) - 1)];
	if (rand() % 60 == 0)
		k--; /* an empty or truncated component */
	return k;
}

START_TEST(test_plain_json_matches_reference)
{
	static char buf[8192];
	size_t n, ncomp, c, dim, dref;
	long got, want;
	int round, valid = 0;

	srand(4242);
	for (round = 0; round < 20000; round++) {
		n = 0;
		buf[n++] = '[';
		ncomp = 1 + (size_t)(rand() % 40);
		for (c = 0; c < ncomp; c++) {
			if (c > 0)
				buf[n++] = ',';
			n += put_component(buf + n);
		}
		if (rand() % 30 != 0)
			buf[n++] = ']';
		/* Sometimes cut short, so the word-wide path meets the end. */
		if (rand() % 10 == 0)
			n -= (size_t)(rand() % (int)n);
		dim = dref = 0;
		got = cdb_embed_plain_json(buf, n, &dim);
		want = plain_ref(buf, n, &dref);
		if (got != want || (want > 0 && dim != dref))
			ck_abort_msg("\"%.*s\": got %ld (dim %zu), want %ld (dim %zu)",
			    (int)n, buf, got, dim, want, dref);
		valid += want > 0;
	}
	/* Both outcomes are exercised in quantity. */
	ck_assert_int_gt(valid, 4000);
	ck_assert_int_lt(valid, 16000);
}
END_TEST

Suite *
embed_scan_suite(void)
{
	Suite *s = suite_create("embed_scan");
	TCase *tc = tcase_create("verbatim");

	/*
	 * Tens of thousands of values each: Check's 4 s default is too short
	 * under the sanitizers on a busy machine (a timeout failed CI once).
	 */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_scan_verbatim);
	tcase_add_test(tc, test_quick_path_matches_strtof);
	tcase_add_test(tc, test_plain_json_matches_reference);
	suite_add_tcase(s, tc);
	return s;
}
