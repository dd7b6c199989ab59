/*
 * embed.c - embedding vectors as text and as base64: float32 <-> JSON
 * number conversion, Chroma's base64 wire form, and sanity checks.
 *
 * Why not the C library or jansson: every component of every vector that
 * crosses the pipe goes through here (millions per migration).  jansson
 * would build a node per number and round through double (not always the
 * nearest float32), strtof/snprintf cost several times the whole rest of
 * a record's handling, and nothing formats a float32 in its fewest
 * digits.  So parsing takes the exact double fast path (m * 10^e with
 * exact operands is one correctly rounded operation; rounding that double
 * to float32 is then exact unless it sits next to a float32 midpoint,
 * which its low 29 bits reveal) and leaves the rest to strtof; formatting
 * is Ryu for float32 (Ulf Adams, PLDI 2018), checked against the C
 * library by bench/embed-verify (sampled by `make check`).
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "json.h"

#define SLOW_DIGITS 120	  /* float32 midpoints have at most 113 */
#define EXP_CLAMP   1000000000000000LL /* far past any float exponent */
#define ULP_WINDOW  8	  /* error bound of the double, in its ulps, x2 */

/* A decimal number being parsed: (neg ? -1 : 1) * m * 10^e. */
struct decimal {
	uint64_t m;  /* the first 19 significant digits */
	int64_t e;   /* decimal exponent of the last digit kept in m */
	int inexact; /* a nonzero digit did not fit in m */
	int neg;
};

/* Result of the shortest-digits search: digits * 10^exp. */
struct shortest {
	uint32_t digits;
	int32_t exp;
};

/* Ryu working state: the interval (vm, vr, vp) scaled by 10^-q. */
struct ryu {
	uint32_t vr, vp, vm; /* value, upper and lower bound */
	int32_t e10;	     /* decimal exponent of vr's last digit */
	uint32_t last;	     /* the digit just below vr */
	int rest_zero;	     /* every digit below last is zero */
	int vm_zero;	     /* vm is exact: the digits dropped were 0 */
	int accept;	     /* the bounds themselves round to the float */
};

static const uint32_t pow10_u32[10] = { 1, 10, 100, 1000, 10000, 100000,
	1000000, 10000000, 100000000, 1000000000 };

/* Powers of ten exactly representable in a double. */
static const double pow10_tab[23] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
	1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/*
 * Ryu's tables, 61 significant bits each (generated with Python's exact
 * integers, pow5bits() as below):
 * pow5_inv[q] = floor(2^(pow5bits(q) + 60) / 5^q) + 1, q = 0..30;
 * pow5_tab[i] = floor(5^i / 2^(pow5bits(i) - 61)), i = 0..47.
 */
static const uint64_t pow5_inv[31] = {
	0x2000000000000001U, 0x199999999999999aU, 0x147ae147ae147ae2U,
	0x10624dd2f1a9fbe8U, 0x1a36e2eb1c432ca6U, 0x14f8b588e368f085U,
	0x10c6f7a0b5ed8d37U, 0x1ad7f29abcaf4858U, 0x15798ee2308c39e0U,
	0x112e0be826d694b3U, 0x1b7cdfd9d7bdbab8U, 0x15fd7fe179649560U,
	0x119799812dea111aU, 0x1c25c268497681c3U, 0x16849b86a12b9b02U,
	0x1203af9ee756159cU, 0x1cd2b297d889bc2cU, 0x170ef54646d4968aU,
	0x12725dd1d243aba1U, 0x1d83c94fb6d2ac35U, 0x179ca10c9242235eU,
	0x12e3b40a0e9b4f7eU, 0x1e392010175ee597U, 0x182db34012b25145U,
	0x1357c299a88ea76bU, 0x1ef2d0f5da7dd8abU, 0x18c240c4aecb13bcU,
	0x13ce9a36f23c0fcaU, 0x1fb0f6be50601942U, 0x195a5efea6b34768U,
	0x14484bfeebc29f87U,
};

static const uint64_t pow5_tab[48] = {
	0x1000000000000000U, 0x1400000000000000U, 0x1900000000000000U,
	0x1f40000000000000U, 0x1388000000000000U, 0x186a000000000000U,
	0x1e84800000000000U, 0x1312d00000000000U, 0x17d7840000000000U,
	0x1dcd650000000000U, 0x12a05f2000000000U, 0x174876e800000000U,
	0x1d1a94a200000000U, 0x12309ce540000000U, 0x16bcc41e90000000U,
	0x1c6bf52634000000U, 0x11c37937e0800000U, 0x16345785d8a00000U,
	0x1bc16d674ec80000U, 0x1158e460913d0000U, 0x15af1d78b58c4000U,
	0x1b1ae4d6e2ef5000U, 0x10f0cf064dd59200U, 0x152d02c7e14af680U,
	0x1a784379d99db420U, 0x108b2a2c28029094U, 0x14adf4b7320334b9U,
	0x19d971e4fe8401e7U, 0x1027e72f1f128130U, 0x1431e0fae6d7217cU,
	0x193e5939a08ce9dbU, 0x1f8def8808b02452U, 0x13b8b5b5056e16b3U,
	0x18a6e32246c99c60U, 0x1ed09bead87c0378U, 0x13426172c74d822bU,
	0x1812f9cf7920e2b6U, 0x1e17b84357691b64U, 0x12ced32a16a1b11eU,
	0x178287f49c4a1d66U, 0x1d6329f1c35ca4bfU, 0x125dfa371a19e6f7U,
	0x16f578c4e0a060b5U, 0x1cb2d6f618c878e3U, 0x11efc659cf7d4b8dU,
	0x166bb7f0435c9e71U, 0x1c06a5ec5433c60dU, 0x118427b3b4a05bc8U,
};


static const char b64_chars[65] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*
 * Accumulate the digits at s into d while m stays below 10^19, so m
 * holds at most 19 significant digits (leading zeros leave m at 0 and
 * only move the exponent).  Returns how many digits there were.
 */
static size_t
take_digits(const char *s, size_t n, struct decimal *d, size_t *kept)
{
	size_t i, k = 0;
	unsigned c;

	for (i = 0; i < n && (c = (unsigned char)s[i] - '0') < 10; i++) {
		if (d->m < 1000000000000000000U) {
			d->m = d->m * 10 + c;
			k++;
		} else
			d->inexact |= c != 0;
	}
	*kept = k;
	return i;
}

/* Parse an exponent "[+-]digits" into *x; returns its length or 0. */
static size_t
scan_exponent(const char *s, size_t n, int64_t *x)
{
	size_t i;
	int64_t v;
	int neg;

	i = 0;
	neg = i < n && s[i] == '-';
	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	if (i >= n || s[i] < '0' || s[i] > '9')
		return 0;
	/* Clamped: beyond it any value has over- or underflowed anyway. */
	for (v = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		if (v < EXP_CLAMP)
			v = v * 10 + (s[i] - '0');
	*x = neg ? -v : v;
	return i;
}

/*
 * Scan the JSON number -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at
 * s into d.  Returns its length, or 0 when s does not start with one.
 */
static size_t
scan_number(const char *s, size_t n, struct decimal *d)
{
	size_t p, len, kept;
	int64_t x;

	memset(d, 0, sizeof(*d));
	p = 0;
	if (p < n && s[p] == '-') {
		d->neg = 1;
		p++;
	}
	if (p < n && s[p] == '0')
		p++;
	else if (p < n && s[p] >= '1' && s[p] <= '9') {
		len = take_digits(s + p, n - p, d, &kept);
		d->e += (int64_t)(len - kept);
		p += len;
	} else
		return 0;
	if (p < n && s[p] == '.') {
		p++;
		if ((len = take_digits(s + p, n - p, d, &kept)) == 0)
			return 0;
		d->e -= (int64_t)kept;
		p += len;
	}
	if (p < n && (s[p] == 'e' || s[p] == 'E')) {
		if ((len = scan_exponent(s + p + 1, n - p - 1, &x)) == 0)
			return 0;
		d->e += x;
		p += 1 + len;
	}
	return p;
}

/*
 * m * 10^e in double, -66 <= e <= 38, within 4 ulps: converting m and
 * each of at most three scalings by an exact power of ten is one
 * correctly rounded operation (relative error 2^-53).  Negative powers
 * of ten are not exact in binary, so those scale by division.
 */
static double
scale_decimal(uint64_t m, int64_t e)
{
	double d;

	d = (double)m;
	if (e >= 0) {
		if (e > 22) {
			d *= 1e22;
			e -= 22;
		}
		return d * pow10_tab[e];
	}
	while (e < -22) {
		d /= 1e22;
		e += 22;
	}
	return d / pow10_tab[-e];
}

/*
 * Round |d| to float32 into *out.  Returns -1 when that cannot be done
 * safely from a double approximation: too many digits, a result outside
 * the normal float range, or one too close to a rounding boundary.
 */
static int
fast_float(const struct decimal *d, float *out)
{
	uint64_t bits, low;
	double x;

	if (d->inexact)
		return -1;
	if (d->m == 0) {
		*out = 0.0f;
		return 0;
	}
	if (d->e > 38) {
		/* At least 1e39: overflows. */
		*out = INFINITY;
		return 0;
	}
	if (d->e < -66)
		return -1;
	x = scale_decimal(d->m, d->e);
	if (x < FLT_MIN)
		return -1;
	/*
	 * A float keeps the top 23 of the double's 52 mantissa bits, so
	 * float midpoints are where the low 29 bits are 0x10000000.  The
	 * window also covers the overflow threshold, itself a midpoint.
	 */
	memcpy(&bits, &x, sizeof(bits));
	low = bits & 0x1fffffff;
	if (low - (0x10000000 - ULP_WINDOW) <= 2 * ULP_WINDOW)
		return -1;
	if (x >= 0x1.ffffffp127)
		*out = INFINITY;
	else
		*out = (float)x;
	return 0;
}

/*
 * Let strtof decide, on a rewritten copy of the token at s: its first
 * SLOW_DIGITS significant digits, then a 1 standing for any nonzero
 * digits dropped after them, then the exponent, as "-DDDDeX".  Every
 * float32 midpoint has at most 113 significant digits, so the copy is on
 * the same side of each midpoint as the token, and strtof rounds it the
 * same.  The copy has no decimal point, so the locale does not matter.
 */
static float
slow_float(const char *s, size_t len)
{
	char buf[SLOW_DIGITS + 48], *p;
	int64_t e, x;
	size_t i;
	int nd, frac, sticky, saved;
	float f;

	p = buf;
	e = 0;
	nd = frac = sticky = 0;
	for (i = 0; i < len && s[i] != 'e' && s[i] != 'E'; i++) {
		if (s[i] == '-')
			*p++ = '-';
		else if (s[i] == '.')
			frac = 1;
		else if (nd == 0 && s[i] == '0')
			e -= frac;
		else if (nd < SLOW_DIGITS) {
			*p++ = s[i];
			nd++;
			e -= frac;
		} else {
			sticky |= s[i] != '0';
			e += !frac;
		}
	}
	if (nd == 0)
		*p++ = '0';
	if (sticky) {
		*p++ = '1';
		e--;
	}
	if (i < len && scan_exponent(s + i + 1, len - i - 1, &x) > 0)
		e += x;
	/* Any 121-digit value is 0 or infinite past these. */
	e = e < -99999 ? -99999 : e > 99999 ? 99999 : e;
	snprintf(p, 16, "e%d", (int)e);
	saved = errno;
	f = strtof(buf, NULL);
	errno = saved;
	return f;
}

/* Parse one number: 0, -1 when not a number, -2 when out of range. */
static int
parse_number(const char *s, size_t n, float *out, size_t *used)
{
	struct decimal d;
	size_t len;
	float f;

	if ((len = scan_number(s, n, &d)) == 0)
		return -1;
	if (fast_float(&d, &f) == 0) {
		if (d.neg)
			f = -f;
	} else
		f = slow_float(s, len);
	if (isinf(f))
		return -2;
	*out = f;
	*used = len;
	return 0;
}

int
cdb_embed_parse_float(const char *s, size_t n, float *out, size_t *used)
{
	return parse_number(s, n, out, used) == 0 ? 0 : -1;
}

/* ceil(log2(5^e)) for 1 <= e <= 3528, and 1 for e == 0. */
static int32_t
pow5bits(int32_t e)
{
	return (int32_t)(((uint32_t)e * 1217359) >> 19) + 1;
}

/* floor(log10(2^e)) for 0 <= e <= 1650. */
static int32_t
log10pow2(int32_t e)
{
	return (int32_t)(((uint32_t)e * 78913) >> 18);
}

/* floor(log10(5^e)) for 0 <= e <= 2620. */
static int32_t
log10pow5(int32_t e)
{
	return (int32_t)(((uint32_t)e * 732923) >> 20);
}

/* floor(m * factor / 2^shift), exactly; 32 <= shift < 96. */
static uint64_t
mulshift(uint32_t m, uint64_t factor, int32_t shift)
{
	uint64_t lo, hi;

	lo = (uint64_t)m * (uint32_t)factor;
	hi = (uint64_t)m * (factor >> 32);
	return ((lo >> 32) + hi) >> (shift - 32);
}

/* Does 5^p (with five set, else 2^p) divide v (v > 0)? */
static int
divides(uint32_t v, int32_t p, int five)
{
	int32_t count;

	if (!five)
		return p < 32 && (v & ((1U << p) - 1)) == 0;
	for (count = 0; v % 5 == 0; count++)
		v /= 5;
	return count >= p;
}

/*
 * Scale the interval mv*2^e2 (bounds mp, mm) by 10^-q: for e2 >= 0 with
 * q = floor(log10(2^e2)), multiplying by tabled 2^k/5^q; for e2 < 0 with
 * q = floor(log10(5^-e2)), by 5^i/2^q, i = -e2 - q.  The digit below and
 * the exactness flags come from divisibility by powers of five (e2 >= 0)
 * or two.
 */
static void
scale(struct ryu *r, uint32_t mv, uint32_t mp, uint32_t mm, int32_t e2)
{
	int up = e2 >= 0;
	int32_t q = up ? log10pow2(e2) : log10pow5(-e2), i = -e2 - q;
	uint64_t f = up ? pow5_inv[q] : pow5_tab[i];
	int32_t k = up ? 60 + pow5bits(q) + q - e2 : q - pow5bits(i) + 61;

	r->e10 = up ? q : q + e2;
	r->vr = (uint32_t)mulshift(mv, f, k);
	r->vp = (uint32_t)mulshift(mp, f, k);
	r->vm = (uint32_t)mulshift(mm, f, k);
	r->last = 0;
	r->rest_zero = 1;
	if (q > 0) {
		f = up ? pow5_inv[q - 1] : pow5_tab[i + 1];
		k = up ? 60 + pow5bits(q - 1) + q - 1 - e2
		       : q - 1 - pow5bits(i + 1) + 61;
		r->last = (uint32_t)(mulshift(mv, f, k) % 10);
		r->rest_zero = divides(mv, q - 1, up);
	}
	r->vm_zero = divides(mm, q, up);
	/* Both terms, so no branch: accept is random. */
	r->vp -= (uint32_t)((r->accept == 0) & divides(mp, q, up));
}

/* Drop vr's last digit (and the bounds'), remembering it in last. */
static void
drop_digit(struct ryu *r, int32_t *removed)
{
	r->rest_zero &= r->last == 0;
	r->last = r->vr % 10;
	r->vr /= 10;
	r->vp /= 10;
	r->vm /= 10;
	(*removed)++;
}

/*
 * Drop digits while the interval still holds a shorter number, keeping
 * track of exact ties to round half to even and of an exact lower bound
 * that may itself be the answer.  Most values have neither, and take
 * the short loop (a third of an export's formatting time).
 */
static uint32_t
trim(struct ryu *r, int32_t *removed)
{
	int vm_zero = r->accept && r->vm_zero;

	if (!vm_zero && !r->rest_zero) {
		for (; r->vp / 10 > r->vm / 10; (*removed)++) {
			r->last = r->vr % 10;
			r->vr /= 10;
			r->vp /= 10;
			r->vm /= 10;
		}
		return r->vr + ((r->vr == r->vm) | (r->last >= 5));
	}
	while (r->vp / 10 > r->vm / 10) {
		vm_zero &= r->vm % 10 == 0;
		drop_digit(r, removed);
	}
	while (vm_zero && r->vm % 10 == 0)
		drop_digit(r, removed);
	if (r->rest_zero && r->last == 5 && r->vr % 2 == 0)
		r->last = 4;
	return r->vr + ((r->vr == r->vm && !vm_zero) || r->last >= 5);
}

/* Shortest nearest decimal for the finite nonzero float with these bits. */
static struct shortest
shortest_decimal(uint32_t bits)
{
	struct shortest s;
	struct ryu r;
	uint32_t mant = bits & 0x7fffff, bexp = (bits >> 23) & 0xff;
	uint32_t m2, mv, mp, mm;
	int32_t e2, removed = 0;

	/* Two extra bits so the interval bounds are integers. */
	m2 = bexp == 0 ? mant : mant | 0x800000;
	e2 = (bexp == 0 ? 1 : (int32_t)bexp) - 127 - 23 - 2;
	mv = 4 * m2;
	mp = mv + 2;
	/* Below a power of two the previous float is closer. */
	mm = mv - 1 - (mant != 0 || bexp <= 1);
	/* Round-half-even: a float with even mantissa owns its bounds. */
	r.accept = (m2 & 1) == 0;
	scale(&r, mv, mp, mm, e2);
	s.digits = trim(&r, &removed);
	s.exp = r.e10 + removed;
	while (s.digits != 0 && s.digits % 10 == 0) {
		s.digits /= 10;
		s.exp++;
	}
	return s;
}

/*
 * The branches below are few and predictable: random digits and signs
 * made mispredicted branches a third of the formatting time.
 */

/* The number of decimal digits of v: log10 from the bit length, then one
 * comparison. */
static int
digit_count(uint32_t v)
{
	int bits = 32 - __builtin_clz(v | 1), t = (bits * 1233) >> 12;

	return t + (v >= pow10_u32[t]);
}

/* Write v's n decimal digits (v < 10^n, n <= 9) at p, then zeros: nine
 * bytes in all. */
static void
put_digits(char *p, uint32_t v, int n)
{
	static const char pairs[] = "00010203040506070809"
				    "10111213141516171819"
				    "20212223242526272829"
				    "30313233343536373839"
				    "40414243444546474849"
				    "50515253545556575859"
				    "60616263646566676869"
				    "70717273747576777879"
				    "80818283848586878889"
				    "90919293949596979899";
	uint32_t lo;

	v *= pow10_u32[9 - n];
	lo = v % 100000000;
	p[0] = (char)('0' + v / 100000000);
	memcpy(p + 1, pairs + 2 * (lo / 1000000), 2);
	memcpy(p + 3, pairs + 2 * (lo / 10000 % 100), 2);
	memcpy(p + 5, pairs + 2 * (lo / 100 % 100), 2);
	memcpy(p + 7, pairs + 2 * (lo % 100), 2);
}

/*
 * digits * 10^exp as C's %g would spell it: plain for decimal exponents
 * -5..8, else d.ddde-XX.  Non-finite values (a caller's bug) come out as
 * "null", which is valid JSON and which the parser rejects.  Digits go
 * out nine at a time, so bytes past the NUL may be written, never past
 * buf[CDB_FLOAT_MAXLEN].
 */
size_t
cdb_embed_format_float(float f, char *buf)
{
	struct shortest s;
	uint32_t bits;
	char *p = buf;
	int n, x;

	memcpy(&bits, &f, sizeof(bits));
	if ((bits & 0x7f800000) == 0x7f800000) {
		memcpy(buf, "null", 5);
		return 4;
	}
	*p = '-';
	p += bits >> 31;
	if ((bits & 0x7fffffff) == 0) {
		*p++ = '0';
		*p = '\0';
		return (size_t)(p - buf);
	}
	s = shortest_decimal(bits);
	n = digit_count(s.digits);
	x = s.exp + n - 1;
	if (x < -5 || x >= 9) {
		put_digits(p + 1, s.digits, n);
		p[0] = p[1];
		if (n > 1)
			p[1] = '.';
		p += n > 1 ? n + 1 : 1;
		p += sprintf(p, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
	} else if (x < 0) {
		memcpy(p, "0.00000", 7);
		put_digits(p + 1 - x, s.digits, n);
		p += 1 - x + n;
	} else if (n <= x + 1) {
		put_digits(p, s.digits, n); /* its zeros make up the rest */
		p += x + 1;
	} else {
		put_digits(p, s.digits, n);
		memmove(p + x + 2, p + x + 1, (size_t)(n - x - 1));
		p[x + 1] = '.';
		p += n + 1;
	}
	*p = '\0';
	return (size_t)(p - buf);
}

/*
 * cdb_embed_parse_json, also saying in *verbatim whether the text is
 * compact (no white space), so that a writer may copy it as it is.
 */
long
cdb_embed_scan_json(const char *s, size_t n, float *out, size_t cap,
    size_t *dim, int *verbatim, cdb_error *e)
{
	size_t p = cdb_json_skip_ws(s, n, 0), i = 0, used, q;
	int rc, compact = p == 0;

	if (p >= n || s[p] != '[')
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "embedding is not a JSON array");
	q = cdb_json_skip_ws(s, n, p + 1);
	compact &= q == p + 1;
	if ((p = q) < n && s[p] == ']')
		goto done;
	for (;; i++) {
		if (i == cap)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "embedding has more than %zu values", cap);
		if ((rc = parse_number(s + p, n - p, &out[i], &used)) == -2)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "embedding value at index %zu is out of float32 "
			    "range", i);
		p += used;
		if (rc != 0 || (p < n && s[p] != ',' && s[p] != ']' &&
				   cdb_json_skip_ws(s, n, p) == p))
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "embedding value at index %zu is not a number", i);
		q = cdb_json_skip_ws(s, n, p);
		compact &= q == p;
		if ((p = q) >= n)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "embedding array is not closed");
		if (s[p] == ']')
			break;
		if (s[p] != ',')
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "embedding value at index %zu is not followed by "
			    "',' or ']'", i);
		q = cdb_json_skip_ws(s, n, p + 1);
		compact &= q == p + 1;
		p = q;
	}
	i++;
done:
	*dim = i;
	if (verbatim != NULL)
		*verbatim = compact;
	return (long)(p + 1);
}

long
cdb_embed_parse_json(const char *s, size_t n, float *out, size_t cap,
    size_t *dim, cdb_error *e)
{
	return cdb_embed_scan_json(s, n, out, cap, dim, NULL, e);
}

/* The offset after the digits at or after i (n if none). */
static size_t
skip_digits(const char *s, size_t n, size_t i)
{
	while (i < n && (unsigned)(s[i] - '0') < 10u)
		i++;
	return i;
}

/*
 * One number of cdb_embed_plain_json at i: the offset after it, or 0 if
 * it is not [-](0|[1-9][0-9]*)[.[0-9]+] with at most 20 integer digits.
 */
static size_t
plain_number(const char *s, size_t n, size_t i)
{
	size_t j;

	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i < n && (unsigned)(s[i] - '1') < 9u) {
		j = i;
		if ((i = skip_digits(s, n, i)) - j > 20)
			return 0;
	} else
		return 0;
	if (i < n && s[i] == '.') {
		j = ++i;
		if ((i = skip_digits(s, n, i)) == j)
			return 0;
	}
	return i;
}

long
cdb_embed_plain_json(const char *s, size_t n, size_t *dim)
{
	size_t i = 1, k;

	if (n < 2 || s[0] != '[')
		return 0;
	for (k = 1;; k++) {
		if ((i = plain_number(s, n, i)) == 0 || i >= n)
			return 0;
		if (s[i] == ']') {
			*dim = k;
			return (long)(i + 1);
		}
		if (s[i++] != ',')
			return 0;
	}
}

int
cdb_embed_format_json(const float *v, size_t dim, cdb_buf *b)
{
	size_t i;
	char *p;

	/* One reservation: each value, its comma and the brackets. */
	if (dim > ((size_t)-1 - 3) / (CDB_FLOAT_MAXLEN + 1) ||
	    cdb_buf_reserve(b, dim * (CDB_FLOAT_MAXLEN + 1) + 2) == -1)
		return -1;
	p = b->data + b->len;
	*p++ = '[';
	for (i = 0; i < dim; i++) {
		if (i > 0)
			*p++ = ',';
		p += cdb_embed_format_float(v[i], p);
	}
	*p++ = ']';
	*p = '\0';
	b->len = (size_t)(p - b->data);
	return 0;
}

size_t
cdb_embed_b64_len(size_t dim)
{
	return (dim * 4 + 2) / 3 * 4;
}

/*
 * Chroma's wire form: the float32 bytes, little-endian whatever the host,
 * in base64.  Twelve floats at a time are laid out as bytes, a whole
 * number of 3-byte groups, so only the last group needs padding.
 */
int
cdb_embed_b64_encode(const float *v, size_t dim, cdb_buf *b)
{
	unsigned char x[48 + 2]; /* two zero bytes after the last group */
	size_t i, k, n, len = cdb_embed_b64_len(dim);
	uint32_t u, w;
	char *p;

	if (dim > (size_t)-1 / 8 || cdb_buf_reserve(b, len) == -1)
		return -1;
	p = b->data + b->len;
	for (i = 0; i < dim;) {
		for (n = 0; n < sizeof(x) - 2 && i < dim; i++, n += 4) {
			memcpy(&u, &v[i], sizeof(u));
			x[n] = u & 0xff;
			x[n + 1] = (u >> 8) & 0xff;
			x[n + 2] = (u >> 16) & 0xff;
			x[n + 3] = u >> 24;
		}
		x[n] = x[n + 1] = 0;
		for (k = 0; k < n; k += 3, p += 4) {
			w = (uint32_t)x[k] << 16 | (uint32_t)x[k + 1] << 8 | x[k + 2];
			p[0] = b64_chars[w >> 18];
			p[1] = b64_chars[(w >> 12) & 63];
			p[2] = k + 1 < n ? b64_chars[(w >> 6) & 63] : '=';
			p[3] = k + 2 < n ? b64_chars[w & 63] : '=';
		}
	}
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

/* The value of base64 digit c, or -1. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int
cdb_embed_b64_decode(const char *s, size_t n, float *out, size_t cap,
    size_t *dim, cdb_error *e)
{
	unsigned char *bytes = (unsigned char *)out;
	size_t nbytes, i, k;
	uint32_t w = 0, u;
	int pad, c;

	if (n % 4 != 0)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "base64 embedding length %zu is not a multiple of 4", n);
	pad = n > 0 && s[n - 1] == '=';
	pad += pad && s[n - 2] == '=';
	if (pad == 2 && s[n - 3] == '=')
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "base64 embedding has bad padding");
	if ((nbytes = n / 4 * 3 - (size_t)pad) % 4 != 0)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "base64 embedding has %zu bytes, not a multiple of 4",
		    nbytes);
	if (nbytes / 4 > cap)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "embedding has more than %zu values", cap);
	/* The bytes go straight into out; each float is fixed up below. */
	for (i = k = 0; i < n - (size_t)pad; i++) {
		if ((c = b64_value((unsigned char)s[i])) < 0)
			return s[i] == '=' ? cdb_error_set(e, CDB_ERR_INPUT,
						 "base64 embedding has bad "
						 "padding")
					   : cdb_error_set(e, CDB_ERR_INPUT,
						 "base64 embedding has a bad "
						 "character at offset %zu",
						 i);
		w = w << 6 | (uint32_t)c;
		if (i % 4 == 3 || i + 1 == n - (size_t)pad) {
			w <<= 6 * (3 - i % 4);
			for (c = 16; c >= 0 && k < nbytes; c -= 8)
				bytes[k++] = (unsigned char)(w >> c);
			w = 0;
		}
	}
	for (i = 0; i < nbytes / 4; i++) {
		u = (uint32_t)bytes[4 * i] | (uint32_t)bytes[4 * i + 1] << 8 |
		    (uint32_t)bytes[4 * i + 2] << 16 |
		    (uint32_t)bytes[4 * i + 3] << 24;
		memcpy(&out[i], &u, sizeof(u));
	}
	*dim = nbytes / 4;
	return 0;
}

int
cdb_embed_check(const float *v, size_t dim, cdb_error *e)
{
	size_t i;

	for (i = 0; i < dim; i++)
		if (!isfinite(v[i]))
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "embedding value at index %zu is not finite", i);
	return 0;
}
