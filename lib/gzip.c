/* gzip.c - Huffman-only gzip members; see gzip.h, RFC 1951 and 1952. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gzip.h"

/* Input bytes per deflate block: one code table per 256 KiB. */
#define BLOCK   (256u << 10)
#define NLIT    257 /* the 256 literals and end-of-block */
#define MAXBITS 15
#define CLBITS  7 /* longest code of the code-length code */

struct cdb_gzip {
	cdb_gzip_sink sink;
	void *arg;
	uint32_t crc, isize;
	uint64_t acc; /* bits not yet in out, from bit 0 */
	unsigned cnt;
	size_t len, olen;
	unsigned char in[BLOCK];
	/* 15 bits a byte at worst, and a block header. */
	unsigned char out[2 * BLOCK + 1024];
};

/* --------------------------------------------------------------- crc -- */

static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_init(void)
{
	uint32_t c;
	int i, k;

	for (i = 0; i < 256; i++) {
		for (c = (uint32_t)i, k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_tab[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			crc_tab[k][i] = (crc_tab[k - 1][i] >> 8) ^
			                crc_tab[0][crc_tab[k - 1][i] & 0xff];
}

static uint32_t
le32(const unsigned char *s)
{
	return (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 |
	       (uint32_t)s[3] << 24;
}

/* Slicing by eight: eight table lookups for eight bytes. */
uint32_t
cdb_gzip_crc32(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t a, b;

	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	for (; n >= 8; s += 8, n -= 8) {
		a = crc ^ le32(s);
		b = le32(s + 4);
		crc = crc_tab[7][a & 0xff] ^ crc_tab[6][(a >> 8) & 0xff] ^
		      crc_tab[5][(a >> 16) & 0xff] ^ crc_tab[4][a >> 24] ^
		      crc_tab[3][b & 0xff] ^ crc_tab[2][(b >> 8) & 0xff] ^
		      crc_tab[1][(b >> 16) & 0xff] ^ crc_tab[0][b >> 24];
	}
	for (; n > 0; n--)
		crc = crc_tab[0][(crc ^ *s++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ----------------------------------------------------------- huffman -- */

/*
 * Huffman code lengths for the n weights f (all > 0 where used), by the
 * two-queue method over the leaves sorted by weight.  Returns the
 * longest length.  At least two weights must be non-zero.
 */
static unsigned
tree(const uint32_t *f, int n, uint8_t *len)
{
	int sym[NLIT], parent[2 * NLIT], depth[2 * NLIT];
	uint64_t w[2 * NLIT];
	int m = 0, i, k, lq = 0, iq, next, a, b;
	unsigned max = 0;

	for (i = 0; i < n; i++) {
		if (f[i] == 0)
			continue;
		/* Insertion sort: at most 257 symbols. */
		for (k = m++; k > 0 && f[sym[k - 1]] > f[i]; k--)
			sym[k] = sym[k - 1];
		sym[k] = i;
	}
	for (k = 0; k < m; k++)
		w[k] = f[sym[k]];
	for (iq = next = m; next < 2 * m - 1; next++) {
		a = lq < m && (iq >= next || w[lq] <= w[iq]) ? lq++ : iq++;
		b = lq < m && (iq >= next || w[lq] <= w[iq]) ? lq++ : iq++;
		w[next] = w[a] + w[b];
		parent[a] = parent[b] = next;
	}
	/* A parent always comes after its children. */
	depth[2 * m - 2] = 0;
	for (k = 2 * m - 3; k >= 0; k--)
		depth[k] = depth[parent[k]] + 1;
	memset(len, 0, (size_t)n);
	for (k = 0; k < m; k++) {
		len[sym[k]] = (uint8_t)depth[k];
		if ((unsigned)depth[k] > max)
			max = (unsigned)depth[k];
	}
	return max;
}

/*
 * Code lengths of at most maxbits for the frequencies freq: a code for
 * at least two symbols (inflaters refuse a one-code literal tree), and
 * flatter weights until the longest code fits.
 */
static void
lengths(const uint32_t *freq, int n, unsigned maxbits, uint8_t *len)
{
	uint32_t f[NLIT];
	int i, used = 0;

	memcpy(f, freq, (size_t)n * sizeof(f[0]));
	for (i = 0; i < n; i++)
		used += f[i] != 0;
	for (i = 0; used < 2 && i < n; i++)
		if (f[i] == 0) {
			f[i] = 1;
			used++;
		}
	while (tree(f, n, len) > maxbits)
		for (i = 0; i < n; i++)
			if (f[i] != 0)
				f[i] = (f[i] >> 1) | 1;
}

/* The canonical codes of the lengths, bit-reversed: deflate sends them
 * from their first bit into the low end of each byte. */
static void
codes(const uint8_t *len, int n, uint16_t *code)
{
	unsigned count[MAXBITS + 1] = {0}, next[MAXBITS + 1], c = 0, v, r;
	int i, b, k;

	for (i = 0; i < n; i++)
		count[len[i]]++;
	count[0] = 0;
	for (b = 1; b <= MAXBITS; b++) {
		c = (c + count[b - 1]) << 1;
		next[b] = c;
	}
	for (i = 0; i < n; i++) {
		if (len[i] == 0)
			continue;
		v = next[len[i]]++;
		for (r = 0, k = 0; k < len[i]; k++, v >>= 1)
			r = r << 1 | (v & 1);
		code[i] = (uint16_t)r;
	}
}

/* -------------------------------------------------------------- bits -- */

static void
put(cdb_gzip *z, uint32_t bits, unsigned n)
{
	z->acc |= (uint64_t)bits << z->cnt;
	z->cnt += n;
	for (; z->cnt >= 8; z->cnt -= 8, z->acc >>= 8)
		z->out[z->olen++] = (unsigned char)z->acc;
}

/* The block header after BFINAL and BTYPE: how to read the codes. */
static void
dyn_header(cdb_gzip *z, const uint8_t *len)
{
	static const uint8_t order[19] = {
	    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
	uint8_t all[NLIT + 2], cl[19];
	uint16_t cc[19];
	uint32_t cf[19] = {0};
	int i, ncl;

	memcpy(all, len, NLIT);
	/* Two one-bit distance codes, never used: as zlib sends. */
	all[NLIT] = all[NLIT + 1] = 1;
	for (i = 0; i < NLIT + 2; i++)
		cf[all[i]]++;
	lengths(cf, 19, CLBITS, cl);
	codes(cl, 19, cc);
	for (ncl = 19; ncl > 4 && cl[order[ncl - 1]] == 0; ncl--)
		;
	put(z, NLIT - 257, 5);
	put(z, 2 - 1, 5);
	put(z, (uint32_t)ncl - 4, 4);
	for (i = 0; i < ncl; i++)
		put(z, cl[order[i]], 3);
	for (i = 0; i < NLIT + 2; i++)
		put(z, cc[all[i]], cl[all[i]]);
}

static void
histogram(const unsigned char *s, size_t n, uint32_t *freq)
{
	uint32_t h[4][256] = {{0}};
	size_t i;
	int c;

	/* Four tables, so that repeated bytes do not wait on each other. */
	for (i = 0; i + 4 <= n; i += 4) {
		h[0][s[i]]++;
		h[1][s[i + 1]]++;
		h[2][s[i + 2]]++;
		h[3][s[i + 3]]++;
	}
	for (; i < n; i++)
		h[0][s[i]]++;
	for (c = 0; c < 256; c++)
		freq[c] = h[0][c] + h[1][c] + h[2][c] + h[3][c];
}

static void
encode(cdb_gzip *z, const uint16_t *code, const uint8_t *len)
{
	unsigned char *o = z->out + z->olen;
	uint64_t acc = z->acc;
	unsigned cnt = z->cnt, c;
	size_t i;

	for (i = 0; i < z->len; i++) {
		c = z->in[i];
		acc |= (uint64_t)code[c] << cnt;
		cnt += len[c];
		if (cnt >= 32) {
			o[0] = (unsigned char)acc;
			o[1] = (unsigned char)(acc >> 8);
			o[2] = (unsigned char)(acc >> 16);
			o[3] = (unsigned char)(acc >> 24);
			o += 4;
			acc >>= 32;
			cnt -= 32;
		}
	}
	z->olen = (size_t)(o - z->out);
	z->acc = acc;
	z->cnt = cnt;
}

static int
flush(cdb_gzip *z, cdb_error *e)
{
	size_t n = z->olen;

	z->olen = 0;
	return n == 0 ? 0 : z->sink(z->arg, z->out, n, e);
}

/* Code the buffered input as one block; bits of a last byte may wait. */
static int
block(cdb_gzip *z, int last, cdb_error *e)
{
	uint32_t freq[NLIT];
	uint8_t len[NLIT];
	uint16_t code[NLIT];

	z->crc = cdb_gzip_crc32(z->crc, z->in, z->len);
	z->isize += (uint32_t)z->len;
	histogram(z->in, z->len, freq);
	freq[256] = 1;
	lengths(freq, NLIT, MAXBITS, len);
	codes(len, NLIT, code);
	put(z, last ? 1 : 0, 1);
	put(z, 2, 2);
	dyn_header(z, len);
	encode(z, code, len);
	put(z, code[256], len[256]);
	z->len = 0;
	return flush(z, e);
}

/* ------------------------------------------------------------ member -- */

cdb_gzip *
cdb_gzip_new(cdb_gzip_sink sink, void *arg, cdb_error *e)
{
	/* No name, no time (reproducible), "fastest", Unix. */
	static const unsigned char head[10] = {
	    0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3};
	cdb_gzip *z = malloc(sizeof(*z));

	if (z == NULL) {
		cdb_error_oom(e);
		return NULL;
	}
	z->sink = sink;
	z->arg = arg;
	z->crc = z->isize = 0;
	z->acc = 0;
	z->cnt = 0;
	z->len = 0;
	memcpy(z->out, head, sizeof(head));
	z->olen = sizeof(head);
	return z;
}

int
cdb_gzip_write(cdb_gzip *z, const void *p, size_t n, cdb_error *e)
{
	size_t k;

	for (; n > 0; p = (const char *)p + k, n -= k) {
		k = BLOCK - z->len < n ? BLOCK - z->len : n;
		memcpy(z->in + z->len, p, k);
		z->len += k;
		if (z->len == BLOCK && block(z, 0, e) == -1)
			return -1;
	}
	return 0;
}

int
cdb_gzip_finish(cdb_gzip *z, cdb_error *e)
{
	int i;

	if (block(z, 1, e) == -1)
		return -1;
	if (z->cnt > 0)
		put(z, 0, 8 - z->cnt);
	for (i = 0; i < 32; i += 8)
		z->out[z->olen++] = (unsigned char)(z->crc >> i);
	for (i = 0; i < 32; i += 8)
		z->out[z->olen++] = (unsigned char)(z->isize >> i);
	return flush(z, e);
}

void
cdb_gzip_free(cdb_gzip *z)
{
	free(z);
}
