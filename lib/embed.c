/*
 * embed.c - embedding vectors: exact float32 text conversion, base64
 * packing and sanity checks.
 *
 * Parsing gathers up to 19 significant digits into a uint64_t m and a
 * decimal exponent e, then evaluates m * 10^e in double with at most four
 * correctly rounded operations, so the double is within 4 of its ulps of
 * the exact value.  Rounding that double to float32 gives the correctly
 * rounded float unless a float32 rounding boundary (a midpoint between
 * adjacent floats) lies inside that error window, which the low 29
 * mantissa bits of the double reveal.  Those rare inputs, subnormal
 * results and inputs with more digits go to strtof.
 *
 * Formatting is Ryu (Ulf Adams, "Ryu: fast float-to-string conversion",
 * PLDI 2018) for float32: it computes the bounds of the rounding interval
 * of the float scaled by a power of ten with exact 32x64-bit products by
 * tabled powers of five, then drops digits while the interval allows.
 * That gives the shortest, nearest digits without any fallback.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "embed.h"

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

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "68697071727374757677787980818283848586878889909192939495969798"
    "99";

static const char b64_chars[65] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of each byte as a base64 digit, or -1. */
/* clang-format off */
static const signed char b64_values[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};
/* clang-format on */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/*
 * Eight digits at a time (SWAR, as in simdjson and fast_float): the
 * common 8 to 17 digit mantissas then take one or two steps instead of
 * a dependent multiply per digit.  Needs the first character in the low
 * byte, so little-endian hosts only; others use the digit loop.
 */
static inline uint64_t
nondigits(uint64_t v)
{
	/* A byte above '9' sets its top bit in the sum, below '0' in the
	 * difference; the lowest bad byte always shows. */
	return ((v + 0x4646464646464646U) | (v - 0x3030303030303030U)) &
	    0x8080808080808080U;
}

static int
is_8digits(uint64_t v)
{
	return nondigits(v) == 0;
}

/* The value of 8 digits given as byte values 0..9. */
static inline uint32_t
value_8bytes(uint64_t v)
{
	/* Pairs of digits, then pairs of pairs, then the two halves. */
	v = v * 10 + (v >> 8);
	v = ((v & 0x000000ff000000ffU) * (100 + (1000000ULL << 32)) +
		((v >> 16) & 0x000000ff000000ffU) * (1 + (10000ULL << 32))) >>
	    32;
	return (uint32_t)v;
}

static uint32_t
value_8digits(uint64_t v)
{
	return value_8bytes(v - 0x3030303030303030U);
}

/* How many of the 8 bytes at p are leading digits. */
static inline int
digit_run8(const char *p)
{
	uint64_t v, bad;

	memcpy(&v, p, sizeof(v));
	bad = nondigits(v);
	return bad ? __builtin_ctzll(bad) / 8 : 8;
}

/*
 * How many of the 8 bytes at p are leading digits, and their value: the
 * run is shifted to the top with '0' bytes filling in below.
 */
static inline int
digits8(const char *p, uint64_t *val)
{
	uint64_t v;
	int k = digit_run8(p);

	memcpy(&v, p, sizeof(v));
	if (k > 0 && k < 8)
		v = v << (64 - 8 * k) | 0x3030303030303030U >> (8 * k);
	*val = k ? value_8digits(v) : 0;
	return k;
}

static size_t
take_8digits(const char *s, size_t n, uint64_t *m)
{
	uint64_t v;
	size_t i;

	for (i = 0; n - i >= 8 && *m < 100000000000U; i += 8) {
		memcpy(&v, s + i, sizeof(v));
		if (!is_8digits(v))
			break;
		*m = *m * 100000000 + value_8digits(v);
	}
	return i;
}
#else
static size_t
take_8digits(const char *s, size_t n, uint64_t *m)
{
	(void)s;
	(void)n;
	(void)m;
	return 0;
}
#endif

/*
 * Accumulate the digits at s into d while m stays below 10^19, so m
 * holds at most 19 significant digits (leading zeros leave m at 0 and
 * only move the exponent).  Returns how many digits there were.
 */
static size_t
take_digits(const char *s, size_t n, struct decimal *d, size_t *kept)
{
	size_t i, k;
	unsigned c;

	i = k = take_8digits(s, n, &d->m);
	for (; i < n && (c = (unsigned char)s[i] - '0') < 10; i++) {
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

/* Write v in decimal at p; returns the end. */
static char *
put_uint(char *p, uint64_t v)
{
	char tmp[24];
	size_t n;

	n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
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
	*p++ = 'e';
	if (e < 0)
		*p++ = '-';
	p = put_uint(p, (uint64_t)(e < 0 ? -e : e));
	*p = '\0';
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

/* Does 5^p divide v (v > 0)? */
static int
pow5_divides(uint32_t v, int32_t p)
{
	int32_t count;

	for (count = 0; v % 5 == 0; count++)
		v /= 5;
	return count >= p;
}

/* Does 2^p divide v? */
static int
pow2_divides(uint32_t v, int32_t p)
{
	return p < 32 && (v & ((1U << p) - 1)) == 0;
}

/*
 * Scale the interval mv*2^e2 (bounds mp, mm) for e2 >= 0 by 10^-q with
 * q = floor(log10(2^e2)), multiplying by tabled 2^k/5^q.  The digit below
 * and the exactness flags come from divisibility by powers of five.
 */
static void
scale_up(struct ryu *r, uint32_t mv, uint32_t mp, uint32_t mm, int32_t e2)
{
	int32_t q, k;

	q = log10pow2(e2);
	r->e10 = q;
	k = 60 + pow5bits(q) + q - e2;
	r->vr = (uint32_t)mulshift(mv, pow5_inv[q], k);
	r->vp = (uint32_t)mulshift(mp, pow5_inv[q], k);
	r->vm = (uint32_t)mulshift(mm, pow5_inv[q], k);
	r->last = 0;
	r->rest_zero = 1;
	if (q > 0) {
		k = 60 + pow5bits(q - 1) + q - 1 - e2;
		r->last = (uint32_t)(mulshift(mv, pow5_inv[q - 1], k) % 10);
		r->rest_zero = pow5_divides(mv, q - 1);
	}
	r->vm_zero = pow5_divides(mm, q);
	if (!r->accept && pow5_divides(mp, q))
		r->vp--;
}

/*
 * The same for e2 < 0: scale by 5^i/2^q with q = floor(log10(5^-e2)),
 * i = -e2 - q; exactness is divisibility by powers of two.
 */
static void
scale_down(struct ryu *r, uint32_t mv, uint32_t mp, uint32_t mm, int32_t e2)
{
	int32_t q, i, j;

	q = log10pow5(-e2);
	i = -e2 - q;
	r->e10 = q + e2;
	j = q - pow5bits(i) + 61;
	r->vr = (uint32_t)mulshift(mv, pow5_tab[i], j);
	r->vp = (uint32_t)mulshift(mp, pow5_tab[i], j);
	r->vm = (uint32_t)mulshift(mm, pow5_tab[i], j);
	r->last = 0;
	r->rest_zero = 1;
	if (q > 0) {
		j = q - 1 - pow5bits(i + 1) + 61;
		r->last = (uint32_t)(mulshift(mv, pow5_tab[i + 1], j) % 10);
		r->rest_zero = pow2_divides(mv, q - 1);
	}
	r->vm_zero = pow2_divides(mm, q);
	if (!r->accept && pow2_divides(mp, q))
		r->vp--;
}

/*
 * Drop digits while the interval still holds a shorter number, keeping
 * track of exact ties (rare: about 4% of floats) to round half to even
 * and of an exact lower bound that may itself be the answer.
 */
static uint32_t
trim_exact(struct ryu *r, int32_t *removed)
{
	int vm_zero;

	vm_zero = r->accept && r->vm_zero;
	while (r->vp / 10 > r->vm / 10) {
		vm_zero &= r->vm % 10 == 0;
		r->rest_zero &= r->last == 0;
		r->last = r->vr % 10;
		r->vr /= 10;
		r->vp /= 10;
		r->vm /= 10;
		(*removed)++;
	}
	while (vm_zero && r->vm % 10 == 0) {
		r->rest_zero &= r->last == 0;
		r->last = r->vr % 10;
		r->vr /= 10;
		r->vp /= 10;
		r->vm /= 10;
		(*removed)++;
	}
	if (r->rest_zero && r->last == 5 && r->vr % 2 == 0)
		r->last = 4;
	return r->vr + ((r->vr == r->vm && !vm_zero) || r->last >= 5);
}

/* The common case: no ties, and the lower bound is never the answer. */
static uint32_t
trim_inexact(struct ryu *r, int32_t *removed)
{
	while (r->vp / 10 > r->vm / 10) {
		r->last = r->vr % 10;
		r->vr /= 10;
		r->vp /= 10;
		r->vm /= 10;
		(*removed)++;
	}
	return r->vr + (r->vr == r->vm || r->last >= 5);
}

/* Shortest nearest decimal for the finite nonzero float with these bits. */
static struct shortest
shortest_decimal(uint32_t bits)
{
	struct shortest s;
	struct ryu r;
	uint32_t mant, bexp, m2, mv, mp, mm;
	int32_t e2, removed;

	mant = bits & 0x7fffff;
	bexp = (bits >> 23) & 0xff;
	/* Two extra bits so the interval bounds are integers. */
	if (bexp == 0) {
		m2 = mant;
		e2 = 1 - 127 - 23 - 2;
	} else {
		m2 = mant | 0x800000;
		e2 = (int32_t)bexp - 127 - 23 - 2;
	}
	mv = 4 * m2;
	mp = mv + 2;
	/* Below a power of two the previous float is closer. */
	mm = mv - 1 - (mant != 0 || bexp <= 1);
	/* Round-half-even: a float with even mantissa owns its bounds. */
	r.accept = (m2 & 1) == 0;
	if (e2 >= 0)
		scale_up(&r, mv, mp, mm, e2);
	else
		scale_down(&r, mv, mp, mm, e2);
	removed = 0;
	if (r.rest_zero || (r.accept && r.vm_zero))
		s.digits = trim_exact(&r, &removed);
	else
		s.digits = trim_inexact(&r, &removed);
	s.exp = r.e10 + removed;
	while (s.digits != 0 && s.digits % 10 == 0) {
		s.digits /= 10;
		s.exp++;
	}
	return s;
}

static int
count_digits(uint32_t v)
{
	int n;

	for (n = 1; v >= 10; n++)
		v /= 10;
	return n;
}

/* Write the n decimal digits of v at p. */
static void
put_digits(char *p, uint32_t v, int n)
{
	while (n >= 2) {
		memcpy(p + n - 2, digit_pairs + 2 * (v % 100), 2);
		v /= 100;
		n -= 2;
	}
	if (n == 1)
		p[0] = (char)('0' + v);
}

/* d.ddde-XX, as C's %e writes exponents. */
static char *
put_scientific(char *p, uint32_t digits, int n, int x)
{
	put_digits(p + 1, digits, n);
	p[0] = p[1];
	if (n > 1) {
		p[1] = '.';
		p += n + 1;
	} else
		p++;
	*p++ = 'e';
	*p++ = x < 0 ? '-' : '+';
	if (x < 0)
		x = -x;
	/* Float exponents stay within two digits. */
	memcpy(p, digit_pairs + 2 * x, 2);
	return p + 2;
}

/* Plain decimal with the point placed for exponent x, -5 <= x < 9. */
static char *
put_fixed(char *p, uint32_t digits, int n, int x)
{
	if (x < 0) {
		*p++ = '0';
		*p++ = '.';
		memset(p, '0', (size_t)(-x - 1));
		p += -x - 1;
		put_digits(p, digits, n);
		return p + n;
	}
	put_digits(p, digits, n);
	if (n <= x + 1) {
		memset(p + n, '0', (size_t)(x + 1 - n));
		return p + x + 1;
	}
	memmove(p + x + 2, p + x + 1, (size_t)(n - x - 1));
	p[x + 1] = '.';
	return p + n + 1;
}

/*
 * Non-finite values (a caller's bug) come out as "null", which is valid
 * JSON and which our parser rejects as not a number.
 */
size_t
cdb_embed_format_float(float f, char *buf)
{
	struct shortest s;
	uint32_t bits;
	char *p;
	int n, x;

	memcpy(&bits, &f, sizeof(bits));
	if ((bits & 0x7f800000) == 0x7f800000) {
		memcpy(buf, "null", 5);
		return 4;
	}
	p = buf;
	if (bits >> 31)
		*p++ = '-';
	if ((bits & 0x7fffffff) == 0)
		*p++ = '0';
	else {
		s = shortest_decimal(bits);
		n = count_digits(s.digits);
		x = s.exp + n - 1;
		if (x < -5 || x >= 9)
			p = put_scientific(p, s.digits, n, x);
		else
			p = put_fixed(p, s.digits, n, x);
	}
	*p = '\0';
	return (size_t)(p - buf);
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t
skip_space(const char *s, size_t n, size_t p)
{
	while (p < n && is_space(s[p]))
		p++;
	return p;
}

/*
 * True when no decimal with fewer significant digits than d reads back as
 * f, and d has no trailing zero: the text is already the shortest
 * round-trip form and may be copied instead of formatted.  Any decimal
 * with fewer digits that lies in f's rounding interval makes one of the
 * two neighbours of d at the next coarser step do so too, so two checks
 * decide it; anything unusual answers "no" and gets formatted.
 */
static int
is_shortest(const struct decimal *d, float f)
{
	uint32_t u;
	float up, dn, v = fabsf(f);
	double lo, hi, scale;
	int64_t e1;

	/* Zero and trailing zeros ("1.0", "0.50") are left to the formatter. */
	if (d->inexact || d->m % 10 == 0)
		return 0;
	if (d->m < 10)
		return 1;
	e1 = d->e + 1;
	memcpy(&u, &v, sizeof(u));
	if (e1 < -44 || e1 > 44 || u == 0 || u > 0x7f7fffff)
		return 0;
	/* f's rounding interval; its ends are doubles, exactly.  Above
	 * FLT_MAX the next step would be infinity: the gap is the same. */
	u--;
	memcpy(&dn, &u, sizeof(dn));
	u += 2;
	memcpy(&up, &u, sizeof(up));
	lo = ((double)v + dn) / 2;
	hi = u > 0x7f800000 - 1 ? (double)v + ((double)v - dn) / 2
				: ((double)v + up) / 2;
	/*
	 * A text one digit shorter is an integer times 10^e1; one reads
	 * back as f when an integer lies in the interval scaled by 10^-e1.
	 * Scaling costs a rounding each side, so the interval is widened a
	 * little: a tie goes to the formatter, which is always right.
	 */
	scale = e1 < -22 ? pow10_tab[22] * pow10_tab[-e1 - 22]
	    : e1 < 0	 ? pow10_tab[-e1]
	    : e1 <= 22	 ? 1 / pow10_tab[e1]
			 : 1 / (pow10_tab[22] * pow10_tab[e1 - 22]);
	lo = lo * scale * (1 - 0x1p-50);
	hi = hi * scale * (1 + 0x1p-50);
	/* Integers up to 2^62 convert exactly; larger ones: let it format. */
	if (hi >= 0x1p62)
		return 0;
	/* No integer in [lo, hi]: floor(hi) < ceil(lo), for positives. */
	return (int64_t)hi < (int64_t)lo + ((double)(int64_t)lo < lo);
}

static const uint64_t pow10_u64[9] = {
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000
};

/* Digits at p into *m while it stays below 10^18; NULL if it would not. */
static const char *
quick_digits(const char *p, const char *end, uint64_t *m)
{
	unsigned c;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t v;
	int k;

	/*
	 * Eight bytes at a time, also when fewer than eight are digits: the
	 * lowest non-digit byte bounds the run, so one multiply-add takes
	 * the usual 7-9 digit fraction in one or two steps.
	 */
	while (end - p >= 8 && *m < 10000000000U) {
		if ((k = digits8(p, &v)) == 0)
			return p;
		*m = *m * pow10_u64[k] + v;
		p += k;
		if (k < 8)
			return p;
	}
#endif
	for (; p < end && (c = (unsigned char)*p - '0') < 10; p++) {
		if (*m >= 100000000000000000U)
			return NULL;
		*m = *m * 10 + c;
	}
	return p;
}

/*
 * The shape nearly every embedding component has, in one pass:
 * [-](0|[1-9][0-9]*)[.[0-9]+] with fewer than 18 digits and no exponent,
 * followed by ',' or ']'.  Returns the length, or 0 to leave the text to
 * the general scanner (which also reports syntax errors).
 */
static size_t
quick_number(const char *s, size_t n, struct decimal *d)
{
	const char *p = s, *end = s + n, *f;

	memset(d, 0, sizeof(*d));
	if (p < end && *p == '-') {
		d->neg = 1;
		p++;
	}
	if (p >= end)
		return 0;
	if (*p == '0')
		p++;
	else if ((unsigned)(*p - '1') < 9u) {
		if ((p = quick_digits(p, end, &d->m)) == NULL)
			return 0;
	} else
		return 0;
	if (p < end && *p == '.') {
		f = ++p;
		if ((p = quick_digits(p, end, &d->m)) == NULL || p == f)
			return 0;
		d->e = -(int64_t)(p - f);
	}
	if (p >= end || (*p != ',' && *p != ']'))
		return 0;
	return (size_t)(p - s);
}

/* parse_number that also says whether the text is in shortest form. */
static int
parse_token(const char *s, size_t n, float *out, size_t *used, int *shortest)
{
	struct decimal d;
	size_t len;
	float f;

	if ((len = quick_number(s, n, &d)) == 0 &&
	    (len = scan_number(s, n, &d)) == 0)
		return -1;
	if (fast_float(&d, &f) == 0) {
		if (d.neg)
			f = -f;
		if (*shortest)
			*shortest = is_shortest(&d, f);
	} else {
		f = slow_float(s, len);
		*shortest = 0;
	}
	if (isinf(f))
		return -2;
	*out = f;
	*used = len;
	return 0;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/*
 * Does k / 10^frac read back as f?  -1 when the quick conversion might
 * round twice (its double lies on a float's rounding boundary).
 */
static inline int
reads_as(uint64_t k, int frac, float f)
{
	double y = (double)k / pow10_tab[frac];
	uint64_t bits;

	memcpy(&bits, &y, sizeof(bits));
	if (y < FLT_MIN || (bits & 0x1fffffff) == 0x10000000)
		return -1;
	return (float)y == f;
}

/*
 * is_shortest for 0.ddd texts (m / 10^frac, m < 10^16), by converting
 * the two neighbours of m at the next coarser step (is_shortest says why
 * they decide it): a third of the work.
 */
static inline int
quick_shortest(uint64_t m, int frac, float f)
{
	uint64_t k = m - m % 10;
	int a, b;

	if (m % 10 == 0)
		return 0;
	if (m < 10)
		return 1;
	if ((a = reads_as(k, frac, f)) == 1 ||
	    (b = reads_as(k + 10, frac, f)) == 1)
		return 0;
	if (a == 0 && b == 0)
		return 1;
	{
		struct decimal d = {m, -frac, 0, 0};
		return is_shortest(&d, f);
	}
}

/*
 * The shape of nearly every component of a normalised embedding,
 * [-]0.d{1,15} followed by ',' or ']', straight to a float: the digits
 * make m < 10^15 < 2^53 and the divisor is an exact power of ten, so the
 * division is correctly rounded and only a double that falls exactly on a
 * float midpoint (or below FLT_MIN) needs the general path.  Needs 19
 * readable bytes.  Returns the length, or 0 to take the general path.
 * With shortest non-NULL, also tells whether the text is the shortest
 * form (as is_shortest).
 */
static inline size_t
quick_float(const char *s, float *out, int *shortest)
{
	const char *p = s + (*s == '-');
	uint64_t m, m2, bits;
	int k, k2, frac;
	double x;
	float f;

	if (p[0] != '0' || p[1] != '.')
		return 0;
	p += 2;
	if ((k = digits8(p, &m)) == 0)
		return 0;
	frac = k;
	if (k == 8 && (k2 = digits8(p + 8, &m2)) > 0) {
		if (k2 == 8)
			return 0;
		m = m * pow10_u64[k2] + m2;
		frac += k2;
	}
	if (p[frac] != ',' && p[frac] != ']')
		return 0;
	x = (double)m / pow10_tab[frac];
	memcpy(&bits, &x, sizeof(bits));
	if (x < FLT_MIN || (bits & 0x1fffffff) == 0x10000000)
		return 0;
	f = (float)x;
	*out = *s == '-' ? -f : f;
	if (shortest != NULL && *shortest)
		*shortest = quick_shortest(m, frac, f);
	return (size_t)(p + frac - s);
}

/* Exact divisors for comma_float, with the value's sign: [neg]. */
static const double div_1e8[2] = {1e8, -1e8};
static const double div_1e16[2] = {1e16, -1e16};

/*
 * Store x as a float, unless the double lies on a float's rounding
 * boundary (see quick_float); x is zero or at least 10^-15, so never
 * subnormal in float.
 */
static inline int
store_float(double x, float *out)
{
	uint64_t bits;

	memcpy(&bits, &x, sizeof(bits));
	if ((bits & 0x1fffffff) == 0x10000000)
		return -1;
	*out = (float)x;
	return 0;
}

/*
 * The 9 to 15 digit fractions of comma_float at p, d the first 8 digits'
 * values.  The digits are read as a 16-digit integer, the missing ones as
 * zeros: that is ten times an integer below 10^15, so even and below
 * 2^54, and exact in a double like 10^16, so the quotient is still the
 * correctly rounded value.  Returns the end, or NULL.
 */
static inline const char *
comma_long(const char *p, uint64_t d, size_t neg, float *out)
{
	uint64_t w, bad, m;
	unsigned k;

	memcpy(&w, p + 10, sizeof(w));
	if ((bad = nondigits(w)) == 0)
		return NULL;
	k = 8 + (unsigned)__builtin_ctzll(bad) / 8;
	if (p[2 + k] != ',')
		return NULL;
	w = (w - 0x3030303030303030U) & (((bad & -bad) >> 7) - 1);
	m = (uint64_t)value_8bytes(d) * 100000000 + value_8bytes(w);
	if (store_float((double)(int64_t)m / div_1e16[neg], out) == -1)
		return NULL;
	return p + 3 + k;
}

/*
 * quick_float for values followed by a comma, every one of an array but
 * the last, with the common 1 to 8 digit fractions in straight-line code:
 * the digits are read as an 8-digit integer, the missing ones as zeros,
 * over 10^8, which is the same quotient.  The sign goes into the divisor,
 * as rounding to nearest is symmetric.  Needs 19 readable bytes; returns
 * the end, past the comma, or NULL.
 *
 * Unlike quick_float it needs no midpoint check: with at most 8 digits
 * the quotient never lands on a float midpoint.  A midpoint M in
 * [2^E, 2^(E+1)), E < 0, is an odd multiple of 2^-F, F = 24 - E >= 25,
 * so M 10^k 2^F is an integer with exactly k <= 8 factors of two, while
 * x 10^k 2^F = m 2^F has at least 25 (or is 0): they differ by 1 or
 * more, so |x - M| >= 2^-F / 10^k > 2^-F / 2^29 = 2^(E-53), half the
 * ulp of a double at M, and x does not round to M.
 */
static inline const char *
comma_float(const char *s, float *out)
{
	const char *p;
	uint64_t v, d, b;
	uint16_t lead;
	unsigned t, k;
	size_t neg;

	neg = *s == '-';
	p = s + neg;
	memcpy(&lead, p, sizeof(lead));
	if (lead != ('0' | '.' << 8))
		return NULL;
	memcpy(&v, p + 2, sizeof(v));
	d = v - 0x3030303030303030U;
	/* nondigits() moved to bit 0 of each byte, and bit 63 standing for
	 * "all eight are digits": t / 8 rounded up is the digit count. */
	b = nondigits(v) >> 7 | 1ULL << 63;
	if ((t = (unsigned)__builtin_ctzll(b)) == 0)
		return NULL;
	k = (t + 1) / 8;
	if (p[2 + k] != ',')
		return k == 8 ? comma_long(p, d, neg, out) : NULL;
	/* The digits' bytes: those below the lowest bit of b. */
	d &= (b ^ (b - 1)) >> 1;
	*out = (float)((double)value_8bytes(d) / div_1e8[neg]);
	return p + 3 + k;
}

/*
 * comma_float over a run of values from p, while 19 bytes are left to
 * read before stop and room in *o before end.  Returns the end of the
 * run, past its last comma, and moves *o past its last value.  Out of
 * line: inlined into cdb_embed_scan_json, the loop ran short of registers.
 */
static __attribute__((noinline)) const char *
comma_run(const char *p, const char *stop, float **o, float *end)
{
	const char *q;
	float *v = *o;

	if (stop - p < 19)
		return p;
	stop -= 18;
	while (p < stop && v < end && (q = comma_float(p, v)) != NULL) {
		p = q;
		v++;
	}
	*o = v;
	return p;
}
#endif

long
cdb_embed_scan_json(const char *s, size_t n, float *out, size_t cap,
    size_t *dim, int *verbatim, cdb_error *e)
{
	size_t p, i, used;
	int rc, sh = verbatim != NULL;

	p = skip_space(s, n, 0);
	if (p >= n || s[p] != '[')
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "embedding is not a JSON array");
	/* Copying text is only worth it when it is already compact. */
	sh = sh && p == 0;
	p = skip_space(s, n, p + 1);
	if (p < n && s[p] == ']') {
		*dim = 0;
		if (verbatim != NULL)
			*verbatim = sh;
		return (long)(p + 1);
	}
	for (i = 0;; i++) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		/* Without the shortest-form check to make, most values
		 * take the tight loop. */
		if (!sh) {
			float *o = out + i;
			const char *q = comma_run(s + p, s + n, &o, out + cap);

			p = (size_t)(q - s);
			i = (size_t)(o - out);
			p = skip_space(s, n, p);
		}
#endif
		if (i == cap)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "embedding has more than %zu values", cap);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		if (n - p >= 20 &&
		    (used = quick_float(s + p, &out[i], verbatim ? &sh : NULL)) >
			0) {
			p += used;
			if (s[p] == ',') {
				p++;
				if (p < n && is_space(s[p])) {
					sh = 0;
					p = skip_space(s, n, p);
				}
				continue;
			}
			break;
		}
#endif
		if ((rc = parse_token(s + p, n - p, &out[i], &used, &sh)) == -2)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "embedding value at index %zu is out of float32 range", i);
		if (rc != 0)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "embedding value at index %zu is not a number", i);
		p += used;
		if (p < n && !is_space(s[p]) && s[p] != ',' && s[p] != ']')
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "embedding value at index %zu is not a number", i);
		if (p < n && s[p] == ',') {
			p++;
			if (p < n && is_space(s[p])) {
				sh = 0;
				p = skip_space(s, n, p);
			}
			continue;
		}
		if (p < n && is_space(s[p])) {
			sh = 0;
			p = skip_space(s, n, p);
		}
		if (p < n && s[p] == ']')
			break;
		if (p >= n)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "embedding array is not closed");
		if (s[p] != ',')
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "embedding value at index %zu is not followed by ',' or ']'",
			    i);
		p = skip_space(s, n, p + 1);
	}
	*dim = i + 1;
	if (verbatim != NULL)
		*verbatim = sh;
	return (long)(p + 1);
}

/* The offset of the first non-digit at or after i (n if none). */
static size_t
skip_digits(const char *s, size_t n, size_t i)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	int k;

	for (; i + 8 <= n; i += 8)
		if ((k = digit_run8(s + i)) < 8)
			return i + (size_t)k;
#endif
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
	if (i >= n)
		return 0;
	if (s[i] == '0')
		i++;
	else if ((unsigned)(s[i] - '1') < 9u) {
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

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/*
 * plain_number for the usual short components, a word per digit run
 * instead of a loop: needs 26 readable bytes at i (sign, 8 digits, dot,
 * 16 digits), and leaves longer runs to plain_number and skip_digits.
 */
static inline size_t
plain_number_quick(const char *s, size_t n, size_t i)
{
	size_t t = i + (s[i] == '-'), k;

	k = (size_t)digit_run8(s + t);
	if (k == 0 || k == 8 || (k > 1 && s[t] == '0'))
		return k == 8 ? plain_number(s, n, i) : 0;
	t += k;
	if (s[t] != '.')
		return t;
	k = (size_t)digit_run8(s + t + 1);
	if (k == 0)
		return 0;
	if (k < 8)
		return t + 1 + k;
	/* Shortest float32 fractions are often 8 or 9 digits. */
	k = (size_t)digit_run8(s + t + 9);
	return k == 8 ? skip_digits(s, n, t + 17) : t + 9 + k;
}
#else
#define plain_number_quick plain_number
#endif

#ifdef __SSE2__
/* Byte classes of 64 bytes as bit masks (bit i: byte i). */
struct classes {
	uint64_t d, c, p, m, e, z;
};

static inline uint64_t
mask16(__m128i v, int k)
{
	return (uint64_t)(unsigned)_mm_movemask_epi8(v) << (16 * k);
}

static void
classify64(const char *s, struct classes *cl)
{
	const __m128i nine = _mm_set1_epi8(9), zero = _mm_set1_epi8('0');
	__m128i x, t;
	int k;

	memset(cl, 0, sizeof(*cl));
	for (k = 0; k < 4; k++) {
		x = _mm_loadu_si128((const __m128i *)(const void *)(s + 16 * k));
		t = _mm_sub_epi8(x, zero);
		cl->d |= mask16(_mm_cmpeq_epi8(_mm_min_epu8(t, nine), t), k);
		cl->c |= mask16(_mm_cmpeq_epi8(x, _mm_set1_epi8(',')), k);
		cl->p |= mask16(_mm_cmpeq_epi8(x, _mm_set1_epi8('.')), k);
		cl->m |= mask16(_mm_cmpeq_epi8(x, _mm_set1_epi8('-')), k);
		cl->e |= mask16(_mm_cmpeq_epi8(x, _mm_set1_epi8(']')), k);
		cl->z |= mask16(_mm_cmpeq_epi8(x, zero), k);
	}
}

/* What one block leaves to the next: its last byte's classes. */
struct carry {
	uint64_t c, m, d, p, fz; /* 0 or 1 */
	uint64_t add;		 /* carry out of the two-dots sum */
	int run;		 /* digits at its end */
};

/*
 * One block of cdb_embed_plain_json's grammar, checked as bit masks (as
 * simdjson checks JSON structure): each rule says what may stand before
 * or after a byte class.  Returns -1 for a violation, -2 for a digit run
 * the masks do not bound (left to the byte loop), else 0; *end is the
 * offset of the block's ']' or 64, *commas the commas before it.
 */
static int
plain_block(const struct classes *k, struct carry *cr, int *end,
    int *commas)
{
	uint64_t v, d, c, p, m, s, f, q, sum, r;
	int lead;

	*end = k->e ? __builtin_ctzll(k->e) : 64;
	v = *end == 64 ? ~0ULL : (2ULL << *end) - 1;
	d = k->d & v, c = k->c & v, p = k->p & v, m = k->m & v;
	if (v & ~(d | c | p | m | k->e))
		return -1;
	s = c << 1 | cr->c;	/* token starts */
	f = (s & ~m) | m << 1 | cr->m; /* first digits */
	if ((m & ~s) || (f & v & ~d) || ((f & k->z) << 1 & d) ||
	    (cr->fz && (d & 1)))
		return -1;
	/* A dot and a comma or the end sit between two digits. */
	if ((p & ~(d << 1 | cr->d)) || ((p << 1 | cr->p) & v & ~d) ||
	    ((c | (k->e & v)) & ~(d << 1 | cr->d)))
		return -1;
	/* From each dot, the digits after it carry to the next separator,
	 * which must not be another dot. */
	q = p << 1 | cr->p;
	sum = (d | m) + q;
	r = sum < q;
	sum += cr->add;
	r |= sum < cr->add;
	if (sum & ~(d | m) & p)
		return -1;
	/* Runs of 17 digits or more: left to the byte loop. */
	lead = (int)(d == v ? 64 : __builtin_ctzll(~d));
	q = d & d >> 1, q &= q >> 2, q &= q >> 4, q &= q >> 8, q &= d >> 16;
	if (q || cr->run + lead >= 17)
		return -2;
	cr->c = c >> 63, cr->m = m >> 63, cr->d = d >> 63, cr->p = p >> 63;
	cr->fz = (f & k->z & d) >> 63;
	cr->add = r;
	cr->run = d == ~0ULL ? cr->run + 64 : __builtin_clzll(~d);
	*commas = __builtin_popcountll(c);
	return 0;
}

/* cdb_embed_plain_json 64 bytes at a time; -2: take the byte loop. */
static long
plain_json_blocks(const char *s, size_t n, size_t *dim)
{
	char tail[64];
	struct classes k;
	struct carry cr = {1, 0, 0, 0, 0, 0, 0};
	size_t i, commas = 0;
	int end, nc, rc;

	for (i = 1; i < n; i += 64) {
		if (n - i >= 64)
			classify64(s + i, &k);
		else {
			memset(tail, 0, sizeof(tail));
			memcpy(tail, s + i, n - i);
			classify64(tail, &k);
		}
		if ((rc = plain_block(&k, &cr, &end, &nc)) != 0)
			return rc == -1 ? 0 : -2;
		commas += (size_t)nc;
		if (end < 64) {
			if (i + (size_t)end >= n)
				return 0;
			*dim = commas + 1;
			return (long)(i + (size_t)end + 1);
		}
	}
	return 0;
}
#endif

long
cdb_embed_plain_json(const char *s, size_t n, size_t *dim)
{
	size_t i = 1, k = 1;
#ifdef __SSE2__
	long r;

	if (n >= 2 && s[0] == '[' && (r = plain_json_blocks(s, n, dim)) != -2)
		return r;
#endif
	if (n < 2 || s[0] != '[')
		return 0;
	for (;; k++) {
		i = n - i >= 26 ? plain_number_quick(s, n, i)
				: plain_number(s, n, i);
		if (i == 0 || i >= n)
			return 0;
		if (s[i] == ']') {
			*dim = k;
			return (long)(i + 1);
		}
		if (s[i++] != ',')
			return 0;
	}
}

long
cdb_embed_parse_json(const char *s, size_t n, float *out, size_t cap,
    size_t *dim, cdb_error *e)
{
	return cdb_embed_scan_json(s, n, out, cap, dim, NULL, e);
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

/* The little-endian bytes of f, whatever the host's byte order. */
static void
put_le(unsigned char *p, float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	p[0] = (unsigned char)u;
	p[1] = (unsigned char)(u >> 8);
	p[2] = (unsigned char)(u >> 16);
	p[3] = (unsigned char)(u >> 24);
}

static float
get_le(const unsigned char *p)
{
	uint32_t u;
	float f;

	u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
	memcpy(&f, &u, sizeof(f));
	return f;
}

/* Every 12-bit value as its two base64 characters. */
static char b64_pairs[2 * 4096];
static pthread_once_t b64_pairs_once = PTHREAD_ONCE_INIT;

static void
b64_pairs_fill(void)
{
	size_t i;

	for (i = 0; i < 4096; i++) {
		b64_pairs[2 * i] = b64_chars[i >> 6];
		b64_pairs[2 * i + 1] = b64_chars[i & 63];
	}
}

static void
b64_pairs_init(void)
{
	pthread_once(&b64_pairs_once, b64_pairs_fill);
}

/* Encode n (1..3) bytes as four characters, padded with '='. */
static void
b64_group(const unsigned char *in, size_t n, char *out)
{
	uint32_t v;

	v = (uint32_t)in[0] << 16;
	if (n > 1)
		v |= (uint32_t)in[1] << 8;
	if (n > 2)
		v |= in[2];
	out[0] = b64_chars[v >> 18];
	out[1] = b64_chars[(v >> 12) & 63];
	out[2] = n > 1 ? b64_chars[(v >> 6) & 63] : '=';
	out[3] = n > 2 ? b64_chars[v & 63] : '=';
}

static void
put_pair(char *p, uint64_t i)
{
	memcpy(p, b64_pairs + 2 * i, 2);
}

/*
 * The twelve little-endian bytes of three floats as sixteen characters.
 * Byte-swapped words put the first byte on top, so the 96 bits are eight
 * 12-bit pieces a shift and a mask away, each one table lookup.
 */
static inline void
b64_three(const float *v, char *p)
{
	uint32_t u[3], c;
	uint64_t a;

	memcpy(u, v, sizeof(u));
	a = (uint64_t)__builtin_bswap32(u[0]) << 32 | __builtin_bswap32(u[1]);
	c = __builtin_bswap32(u[2]);
	put_pair(p, a >> 52);
	put_pair(p + 2, (a >> 40) & 0xfff);
	put_pair(p + 4, (a >> 28) & 0xfff);
	put_pair(p + 6, (a >> 16) & 0xfff);
	put_pair(p + 8, (a >> 4) & 0xfff);
	put_pair(p + 10, (a & 0xf) << 8 | c >> 24);
	put_pair(p + 12, (c >> 12) & 0xfff);
	put_pair(p + 14, c & 0xfff);
}

int
cdb_embed_b64_encode(const float *v, size_t dim, cdb_buf *b)
{
	unsigned char bytes[12];
	size_t i, k, len;
	char *p;

	if (dim > (size_t)-1 / 8)
		return -1;
	len = cdb_embed_b64_len(dim);
	if (cdb_buf_reserve(b, len) == -1)
		return -1;
	p = b->data + b->len;
	b64_pairs_init();
	for (i = 0; i + 3 <= dim; i += 3, p += 16)
		b64_three(v + i, p);
	for (k = 0; i < dim; i++, k += 4)
		put_le(bytes + k, v[i]);
	for (i = 0; i < k; i += 3, p += 4)
		b64_group(bytes + i, k - i < 3 ? k - i : 3, p);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

/*
 * Decode the four characters at s into three bytes.  Returns -1, or the
 * offset of the first character that is not a base64 digit.
 */
static int
b64_quad(const char *s, unsigned char *out)
{
	int a, b, c, d;
	uint32_t v;

	a = b64_values[(unsigned char)s[0]];
	b = b64_values[(unsigned char)s[1]];
	c = b64_values[(unsigned char)s[2]];
	d = b64_values[(unsigned char)s[3]];
	/* One test for all four: only -1 has the sign bit. */
	if ((a | b | c | d) < 0)
		return a < 0 ? 0 : b < 0 ? 1 : c < 0 ? 2 : 3;
	v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 |
	    (uint32_t)d;
	out[0] = (unsigned char)(v >> 16);
	out[1] = (unsigned char)(v >> 8);
	out[2] = (unsigned char)v;
	return -1;
}

/* The same for the last group, whose last `pad` characters are '='. */
static int
b64_last_quad(const char *s, int pad, unsigned char *out)
{
	char q[4];

	memcpy(q, s, 4);
	/* 'A' is a zero digit: its bytes fall beyond the data. */
	memset(q + 4 - pad, 'A', (size_t)pad);
	return b64_quad(q, out);
}

static int
b64_bad_char(const char *s, size_t at, cdb_error *e)
{
	if (s[at] == '=')
		return cdb_error_set(
		    e, CDB_ERR_INPUT, "base64 embedding has bad padding");
	return cdb_error_set(e, CDB_ERR_INPUT,
	    "base64 embedding has a bad character at offset %zu", at);
}

int
cdb_embed_b64_decode(
    const char *s, size_t n, float *out, size_t cap, size_t *dim, cdb_error *e)
{
	unsigned char bytes[12];
	size_t groups, g, nbytes, k, i, at;
	int bad, pad;

	if (n % 4 != 0)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "base64 embedding length %zu is not a multiple of 4", n);
	pad = n > 0 && s[n - 1] == '=';
	pad += pad && s[n - 2] == '=';
	if (pad == 2 && s[n - 3] == '=')
		return cdb_error_set(
		    e, CDB_ERR_INPUT, "base64 embedding has bad padding");
	groups = n / 4;
	nbytes = groups * 3 - (size_t)pad;
	if (nbytes % 4 != 0)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "base64 embedding has %zu bytes, not a multiple of 4",
		    nbytes);
	if (nbytes / 4 > cap)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "embedding has more than %zu values", cap);
	/* Four groups are twelve bytes: three whole floats. */
	for (g = 0, i = 0; g + 4 < groups || (g + 4 == groups && !pad);
	     g += 4, i += 3) {
		for (k = 0; k < 4; k++) {
			at = (g + k) * 4;
			if ((bad = b64_quad(s + at, bytes + k * 3)) >= 0)
				return b64_bad_char(s, at + (size_t)bad, e);
		}
		out[i] = get_le(bytes);
		out[i + 1] = get_le(bytes + 4);
		out[i + 2] = get_le(bytes + 8);
	}
	/* The rest: at most four groups, the last maybe padded. */
	for (k = 0; g < groups; g++, k += 3) {
		if (g + 1 == groups)
			bad = b64_last_quad(s + g * 4, pad, bytes + k);
		else
			bad = b64_quad(s + g * 4, bytes + k);
		if (bad >= 0)
			return b64_bad_char(s, g * 4 + (size_t)bad, e);
	}
	for (k = 0; i < nbytes / 4; i++, k += 4)
		out[i] = get_le(bytes + k);
	*dim = nbytes / 4;
	return 0;
}

int
cdb_embed_check(const float *v, size_t dim, size_t want, cdb_error *e)
{
	size_t i;

	if (want > 0 && dim != want)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "embedding has %zu values, collection expects %zu", dim,
		    want);
	for (i = 0; i < dim; i++)
		if (!isfinite(v[i]))
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "embedding value at index %zu is not finite", i);
	return 0;
}
