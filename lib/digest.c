/* digest.c - XXH64 as specified by the xxHash project (seed 0). */
#include <stdio.h>
#include <string.h>

#include "digest.h"

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t
rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/* Little-endian loads: no alignment or aliasing assumptions. */
static inline uint64_t
rd64(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
#else
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	    (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	    (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
#endif
}

static uint64_t
rd32(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	    (uint64_t)p[3] << 24;
}

static inline uint64_t
round64(uint64_t acc, uint64_t in)
{
	acc += in * P2;
	acc = rotl(acc, 31);
	return acc * P1;
}

static uint64_t
merge(uint64_t acc, uint64_t v)
{
	acc ^= round64(0, v);
	return acc * P1 + P4;
}

void
cdb_digest_init(cdb_digest *d)
{
	memset(d, 0, sizeof(*d));
	d->v[0] = P1 + P2;
	d->v[1] = P2;
	d->v[2] = 0;
	d->v[3] = -P1;
}

/*
 * Whole 32-byte stripes of p; returns how many bytes they took.  The
 * lanes stay in locals so they live in registers across the loop: with
 * them in *d, every round is a load and a store (a third of the time).
 */
static size_t
stripes(cdb_digest *d, const unsigned char *p, size_t n)
{
	uint64_t a = d->v[0], b = d->v[1], c = d->v[2], e = d->v[3];
	size_t i;

	for (i = 0; n - i >= 32; i += 32) {
		a = round64(a, rd64(p + i));
		b = round64(b, rd64(p + i + 8));
		c = round64(c, rd64(p + i + 16));
		e = round64(e, rd64(p + i + 24));
	}
	d->v[0] = a;
	d->v[1] = b;
	d->v[2] = c;
	d->v[3] = e;
	return i;
}

void
cdb_digest_update(cdb_digest *d, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t take;

	d->total += n;
	if (d->memlen > 0) {
		take = 32 - d->memlen < n ? 32 - d->memlen : n;
		memcpy(d->mem + d->memlen, p, take);
		d->memlen += take;
		p += take;
		n -= take;
		if (d->memlen < 32)
			return;
		stripes(d, d->mem, 32);
		d->memlen = 0;
	}
	take = stripes(d, p, n);
	p += take;
	n -= take;
	memcpy(d->mem, p, n);
	d->memlen = n;
}

uint64_t
cdb_digest_value(const cdb_digest *d)
{
	const unsigned char *p = d->mem, *end = d->mem + d->memlen;
	uint64_t h;

	if (d->total >= 32) {
		h = rotl(d->v[0], 1) + rotl(d->v[1], 7) + rotl(d->v[2], 12) +
		    rotl(d->v[3], 18);
		h = merge(h, d->v[0]);
		h = merge(h, d->v[1]);
		h = merge(h, d->v[2]);
		h = merge(h, d->v[3]);
	} else
		h = P5;
	h += d->total;
	for (; p + 8 <= end; p += 8)
		h = rotl(h ^ round64(0, rd64(p)), 27) * P1 + P4;
	if (p + 4 <= end) {
		h = rotl(h ^ (rd32(p) * P1), 23) * P2 + P3;
		p += 4;
	}
	for (; p < end; p++)
		h = rotl(h ^ (*p * P5), 11) * P1;
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

void
cdb_digest_format(const cdb_digest *d, char out[23])
{
	snprintf(out, 23, "xxh64:%016llx",
	    (unsigned long long)cdb_digest_value(d));
}
