/* hnsw.c - hnswlib level-0 reader; see hnsw.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hmap.h"
#include "hnsw.h"

/* header.bin as Chroma's hnswlib writes it: a version, then hnswlib's. */
#define HEADER_SIZE    100
#define HEADER_VERSION 1
#define WINDOW         (1 << 20)

/*
 * A file, read at open through one buffer (all labels, in order: one
 * read serves hundreds of elements instead of a system call each), then
 * vector by vector with pread, which several threads may do at once.
 */
typedef struct window {
	char path[PATH_MAX];
	int fd;
	off_t size, off; /* file size; offset of buf[0] */
	size_t len, cap; /* bytes in buf; its size */
	unsigned char *buf;
} window;

struct cdb_hnsw {
	window data; /* data_level0.bin */
	window lens; /* length.bin; fd -1 unless normalised (cosine) */
	uint64_t count, max, size, label_off, data_off, m0;
	size_t dim;
	cdb_hmap *labels; /* label + 1 -> element index */
};

static int
bad(cdb_error *e, const char *path, long long off, const char *what)
{
	return cdb_error_set(
	    e, CDB_ERR_INPUT, "%s: offset %lld: %s", path, off, what);
}

static int
win_open(window *w, const char *dir, const char *name, size_t cap,
    cdb_error *e)
{
	struct stat st;

	snprintf(w->path, sizeof(w->path), "%s/%s", dir, name);
	if ((w->fd = open(w->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return cdb_error_sys(e, errno, "%s", w->path);
	if (fstat(w->fd, &st) == -1)
		return cdb_error_sys(e, errno, "%s", w->path);
	if (!S_ISREG(st.st_mode))
		return cdb_error_sys(e, EINVAL, "%s", w->path);
	w->size = st.st_size;
	w->cap = cap;
	if (cap > 0 && (w->buf = malloc(cap)) == NULL)
		return cdb_error_oom(e);
	return 0;
}

static void
win_close(window *w)
{
	if (w->fd != -1)
		close(w->fd);
	free(w->buf);
}

/*
 * At least min and at most max bytes at off of w's file into p: how
 * many, or -1 with e (a file ending before min bytes is truncated).
 */
static ssize_t
read_at(const window *w, void *p, size_t min, size_t max, off_t off,
    cdb_error *e)
{
	size_t got = 0;
	ssize_t k;

	while (got < min) {
		k = pread(w->fd, (char *)p + got, max - got, off + (off_t)got);
		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1)
			return cdb_error_sys(e, errno, "%s", w->path);
		if (k == 0)
			return bad(e, w->path, (long long)(off + (off_t)got),
			    "truncated");
		got += (size_t)k;
	}
	return (ssize_t)got;
}

/* The n bytes at off (n <= w->cap), and a buffer full after them ahead. */
static const unsigned char *
win_at(window *w, off_t off, size_t n, int ahead, cdb_error *e)
{
	ssize_t k;

	if (off >= w->off && off + (off_t)n <= w->off + (off_t)w->len)
		return w->buf + (off - w->off);
	w->off = off;
	w->len = 0;
	if ((k = read_at(w, w->buf, n, ahead ? w->cap : n, off, e)) == -1)
		return NULL;
	w->len = (size_t)k;
	return w->buf;
}

/* Every field must agree with the layout level 0 is read with. */
static int
check_header(
    cdb_hnsw *h, const unsigned char *b, const char *path, cdb_error *e)
{
	uint64_t links;

	if (cdb_le(b, 4) != HEADER_VERSION)
		return bad(e, path, 0, "unknown header version");
	if (cdb_le(b + 4, 8) != 0)
		return bad(e, path, 4, "level-0 offset is not 0");
	h->max = cdb_le(b + 12, 8);
	h->count = cdb_le(b + 20, 8);
	h->size = cdb_le(b + 28, 8);
	h->label_off = cdb_le(b + 36, 8);
	h->data_off = cdb_le(b + 44, 8);
	h->m0 = cdb_le(b + 68, 8);
	if (h->count > h->max)
		return bad(e, path, 20, "more elements than the capacity");
	if (h->m0 == 0 || h->m0 > 1 << 16)
		return bad(e, path, 68, "maxM0 out of range");
	links = 4 + 4 * h->m0;
	if (h->data_off != links)
		return bad(e, path, 44,
		    "vector offset does not follow the level-0 links");
	if (h->label_off <= h->data_off || (h->label_off - links) % 4 != 0 ||
	    h->label_off - links > 4 * 65536)
		return bad(e, path, 36, "label offset out of range");
	if (h->size != h->label_off + 8)
		return bad(e, path, 28, "element size does not match the offsets");
	h->dim = (size_t)(h->label_off - links) / 4;
	return 0;
}

static int
read_header(cdb_hnsw *h, const char *dir, cdb_error *e)
{
	window w = {.fd = -1};
	const unsigned char *b;
	int rc = -1;

	if (win_open(&w, dir, "header.bin", HEADER_SIZE, e) == -1)
		goto done;
	if (w.size != HEADER_SIZE) {
		bad(e, w.path, (long long)w.size, "header.bin is not 100 bytes");
		goto done;
	}
	if ((b = win_at(&w, 0, HEADER_SIZE, 0, e)) != NULL)
		rc = check_header(h, b, w.path, e);
done:
	win_close(&w);
	return rc;
}

/* Element index by label, from the label at the end of each element. */
static int
index_labels(cdb_hnsw *h, cdb_error *e)
{
	const unsigned char *b;
	uint64_t i, label;

	if ((h->labels = cdb_hmap_new()) == NULL)
		return cdb_error_oom(e);
	for (i = 0; i < h->count; i++) {
		off_t off = (off_t)(i * h->size + h->label_off);

		if ((b = win_at(&h->data, (off_t)(i * h->size), h->size, 1,
		         e)) == NULL)
			return -1;
		label = cdb_le(b + h->label_off, 8);
		if (label == UINT64_MAX)
			return bad(e, h->data.path, (long long)off,
			    "label out of range");
		switch (cdb_hmap_put(h->labels, label + 1, i, NULL)) {
		case -1:
			return cdb_error_oom(e);
		case 0:
			return bad(e, h->data.path, (long long)off,
			    "label used twice");
		}
	}
	return 0;
}

/*
 * length.bin: one float32 per element, the norm a cosine index divided
 * its vector by (the vector read back is the stored one times it); an
 * l2 or ip index leaves the values unset.  Sized to the capacity at
 * first, it must hold at least the header's elements.
 */
static int
open_files(cdb_hnsw *h, const char *dir, int normalized, cdb_error *e)
{
	size_t cap = h->size > WINDOW ? (size_t)h->size : WINDOW;

	if (win_open(&h->data, dir, "data_level0.bin", cap, e) == -1)
		return -1;
	if (h->count > (uint64_t)INT64_MAX / h->size ||
	    (uint64_t)h->data.size < h->count * h->size)
		return bad(e, h->data.path, (long long)h->data.size,
		    "size does not hold the header's element count");
	if (win_open(&h->lens, dir, "length.bin", 0, e) == -1)
		return -1;
	if ((uint64_t)h->lens.size < h->count * 4)
		return bad(e, h->lens.path, (long long)h->lens.size,
		    "smaller than 4 bytes per element of the header");
	if (!normalized) {
		close(h->lens.fd);
		h->lens.fd = -1;
	}
	return 0;
}

cdb_hnsw *
cdb_hnsw_open(const char *dir, int normalized, cdb_error *e)
{
	cdb_hnsw *h;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		cdb_error_oom(e);
		return NULL;
	}
	h->data.fd = h->lens.fd = -1;
	if (read_header(h, dir, e) == -1 ||
	    open_files(h, dir, normalized, e) == -1 ||
	    index_labels(h, e) == -1) {
		cdb_hnsw_free(h);
		return NULL;
	}
	return h;
}

void
cdb_hnsw_free(cdb_hnsw *h)
{
	if (h == NULL)
		return;
	win_close(&h->data);
	win_close(&h->lens);
	cdb_hmap_free(h->labels);
	free(h);
}

size_t
cdb_hnsw_dim(const cdb_hnsw *h)
{
	return h->dim;
}

size_t
cdb_hnsw_count(const cdb_hnsw *h)
{
	return (size_t)h->count;
}

static float
le_float(const unsigned char *p)
{
	uint32_t x = (uint32_t)cdb_le(p, 4);
	float v;

	memcpy(&v, &x, 4);
	return v;
}

int
cdb_hnsw_find(const cdb_hnsw *h, uint64_t label, uint64_t *elem)
{
	return label != UINT64_MAX && cdb_hmap_get(h->labels, label + 1, elem);
}

int
cdb_hnsw_read(const cdb_hnsw *h, uint64_t elem, float *out, cdb_error *e)
{
	unsigned char *b = (unsigned char *)out, lb[4];
	float len = 1.0f;
	size_t k;

	if (elem >= h->count)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: element %llu of %llu", h->data.path,
		    (unsigned long long)elem, (unsigned long long)h->count);
	if (read_at(&h->data, out, 4 * h->dim, 4 * h->dim,
	        (off_t)(elem * h->size + h->data_off), e) == -1 ||
	    (h->lens.fd != -1 &&
	        read_at(&h->lens, lb, 4, 4, (off_t)(elem * 4), e) == -1))
		return -1;
	if (h->lens.fd != -1)
		len = le_float(lb);
	/* In place, value by value; the product in float, as hnswlib's
	 * getDataByLabel computes it, so the bits are the server's. */
	for (k = 0; k < h->dim; k++)
		out[k] = h->lens.fd != -1 ? le_float(b + 4 * k) * len
		                          : le_float(b + 4 * k);
	return 0;
}
