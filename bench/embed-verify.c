/*
 * embed-verify.c - exhaustive checks of lib/embed.c against the C
 * library (hours per core for every float32); `make check-embed`, part
 * of `make check`, runs a sample of it.
 *
 *	make bench/embed-verify
 *	bench/embed-verify format FIRST LAST [STRIDE]
 *	bench/embed-verify parse FIRST LAST [STRIDE]
 *
 * FIRST and LAST are float32 bit patterns (LAST inclusive, e.g. 0 and
 * 0x7f7fffff for every positive finite float).  "format" checks that
 * cdb_embed_format_float round-trips through strtof, that no text with
 * fewer digits round-trips, and that the digits are the nearest such.
 * "parse" checks cdb_embed_parse_float against strtof on %.9g, %.17g and
 * the exact midpoints to the next float, with truncations of it.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"

static unsigned long failures;

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

static void
fail(uint32_t u, const char *what, const char *text)
{
	if (failures++ < 50)
		printf("FAIL %08" PRIx32 " (%.9g): %s: %s\n", u,
		    (double)from_bits(u), what, text);
}

/* Does digits*10^exp parse (strtof) back to the float with bits u? */
static int
roundtrips(uint64_t digits, int exp, uint32_t u)
{
	char t[64];

	snprintf(t, sizeof(t), "%" PRIu64 "e%d", digits, exp);
	return to_bits(strtof(t, NULL)) == u;
}

/* Split cdb's text into its significant digits and exponent. */
static int
split(const char *s, uint64_t *digits, int *exp)
{
	uint64_t d;
	int e, nd, frac;

	d = 0;
	e = nd = frac = 0;
	for (; *s && *s != 'e'; s++) {
		if (*s == '-')
			continue;
		if (*s == '.') {
			frac = 1;
			continue;
		}
		if (d == 0 && *s == '0') {
			e -= frac;
			continue;
		}
		d = d * 10 + (uint64_t)(*s - '0');
		nd++;
		e -= frac;
	}
	if (*s == 'e')
		e += atoi(s + 1);
	while (d != 0 && d % 10 == 0) {
		d /= 10;
		e++;
		nd--;
	}
	*digits = d;
	*exp = e;
	return nd;
}

static void
check_format(uint32_t u)
{
	char buf[CDB_FLOAT_MAXLEN + 8], ref[64];
	uint64_t c, r;
	size_t len, used;
	float f, back;
	int n, e, re;

	f = from_bits(u);
	len = cdb_embed_format_float(f, buf);
	if (len > CDB_FLOAT_MAXLEN || len != strlen(buf))
		fail(u, "length", buf);
	if (to_bits(strtof(buf, NULL)) != u)
		fail(u, "strtof round trip", buf);
	if (cdb_embed_parse_float(buf, len, &back, &used) != 0 || used != len ||
	    to_bits(back) != u)
		fail(u, "parse round trip", buf);
	if (u == 0 || u == 0x80000000)
		return;
	n = split(buf, &c, &e);
	if (n > 1 && (roundtrips(c / 10, e + 1, u & 0x7fffffff) ||
	                 roundtrips(c / 10 + 1, e + 1, u & 0x7fffffff)))
		fail(u, "not shortest", buf);
	/* glibc's correctly rounded n digits, if it round-trips. */
	snprintf(ref, sizeof(ref), "%.*e", n - 1, fabs((double)f));
	split(ref, &r, &re);
	while (re > e) {
		r *= 10;
		re--;
	}
	if (re == e && roundtrips(r, re, u & 0x7fffffff) && r != c)
		fail(u, "not nearest", buf);
}

static void
same_as_strtof(uint32_t u, const char *t)
{
	float want, got;
	size_t used;
	int rc;

	want = strtof(t, NULL);
	rc = cdb_embed_parse_float(t, strlen(t), &got, &used);
	if (isinf(want)) {
		if (rc != -1)
			fail(u, "overflow accepted", t);
	} else if (rc != 0 || used != strlen(t) ||
	           to_bits(got) != to_bits(want))
		fail(u, "parse differs from strtof", t);
}

/* Write x exactly (doubles need at most 767 significant digits). */
static void
check_parse(uint32_t u)
{
	char t[900], *p;
	double mid;
	float f, g;
	size_t len, k;

	f = from_bits(u);
	snprintf(t, sizeof(t), "%.9g", (double)f);
	same_as_strtof(u, t);
	snprintf(t, sizeof(t), "%.17g", (double)f);
	same_as_strtof(u, t);
	g = nextafterf(f, INFINITY);
	mid = ((double)f + (double)g) / 2;
	/* Plain digits, no exponent: JSON-valid when it has a '.'. */
	snprintf(t, sizeof(t), "%.200e", mid);
	same_as_strtof(u, t);
	/* Truncations of the exact midpoint, and nudges around it. */
	if ((p = strchr(t, 'e')) == NULL)
		return;
	len = (size_t)(p - t);
	for (k = 10; k < 40 && k < len; k += 3) {
		char s[960];

		snprintf(s, sizeof(s), "%.*s%s", (int)k, t, p);
		same_as_strtof(u, s);
		snprintf(s, sizeof(s), "%.*s1%s", (int)k, t, p);
		same_as_strtof(u, s);
		snprintf(s, sizeof(s), "%.*s9999999999%s", (int)k, t, p);
		same_as_strtof(u, s);
	}
}

int
main(int argc, char **argv)
{
	uint64_t first, last, stride, u;
	int fmt;

	if (argc < 4)
		return 2;
	fmt = strcmp(argv[1], "format") == 0;
	first = strtoull(argv[2], NULL, 0);
	last = strtoull(argv[3], NULL, 0);
	stride = argc > 4 ? strtoull(argv[4], NULL, 0) : 1;
	for (u = first; u <= last; u += stride) {
		if (((uint32_t)u & 0x7f800000) == 0x7f800000)
			continue;
		if (fmt)
			check_format((uint32_t)u);
		else
			check_parse((uint32_t)u);
	}
	printf("%s %#" PRIx64 "..%#" PRIx64 " stride %" PRIu64
	       ": %lu failures\n",
	    argv[1], first, last, stride, failures);
	return failures != 0;
}
