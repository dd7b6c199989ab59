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

struct cdb_hnsw {
	char path[PATH_MAX]; /* data_level0.bin, for messages */
	int fd;              /* data_level0.bin */
	int lfd;             /* length.bin, for a normalised (cosine) index */
	char lpath[PATH_MAX];
	uint64_t count, max, size, label_off, data_off, m0;
	size_t dim;
	cdb_hmap *labels; /* label + 1 -> element index */
};

static int
ioerr(cdb_error *e, const char *path)
{
	return cdb_error_sys(e, errno, "%s", path);
}

static int
bad(cdb_error *e, const char *path, long long off, const char *what)
{
	return cdb_error_set(
	    e, CDB_ERR_INPUT, "%s: offset %lld: %s", path, off, what);
}

/* Read all of n bytes at off; short reads past the end are errors. */
static int
read_at(int fd, const char *path, void *p, size_t n, off_t off, cdb_error *e)
{
	ssize_t k;
	size_t got = 0;

	while (got < n) {
		k = pread(fd, (char *)p + got, n - got, off + (off_t)got);
		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1)
			return ioerr(e, path);
		if (k == 0)
			return bad(e, path, (long long)off + (long long)got,
			    "truncated");
		got += (size_t)k;
	}
	return 0;
}

static int
open_file(
    const char *dir, const char *name, char *path, off_t *size, cdb_error *e)
{
	struct stat st;
	int fd;

	snprintf(path, PATH_MAX, "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return ioerr(e, path);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		if (!S_ISREG(st.st_mode))
			errno = EINVAL;
		ioerr(e, path);
		close(fd);
		return -1;
	}
	*size = st.st_size;
	return fd;
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
		    "vector offset does not follow the "
		    "level-0 links");
	if (h->label_off <= h->data_off || (h->label_off - links) % 4 != 0 ||
	    h->label_off - links > 4 * 65536)
		return bad(e, path, 36, "label offset out of range");
	if (h->size != h->label_off + 8)
		return bad(e, path, 28,
		    "element size does not match the "
		    "offsets");
	h->dim = (size_t)(h->label_off - links) / 4;
	return 0;
}

/*
 * length.bin: one float32 per element, the norm a cosine index divided
 * its vector by (the vector read back is the stored one times it); an
 * l2 or ip index leaves the values unset.  Sized to the capacity at
 * first, it must hold at least the header's elements.
 */
static int
open_lengths(cdb_hnsw *h, const char *dir, int normalized, cdb_error *e)
{
	off_t size;
	int fd;

	if ((fd = open_file(dir, "length.bin", h->lpath, &size, e)) == -1)
		return -1;
	if ((uint64_t)size < h->count * 4) {
		close(fd);
		return bad(e, h->lpath, (long long)size,
		    "smaller than 4 bytes per element of the header");
	}
	if (normalized)
		h->lfd = fd;
	else
		close(fd);
	return 0;
}

/* Element index by label, from the label at the end of each element. */
static int
index_labels(cdb_hnsw *h, cdb_error *e)
{
	unsigned char b[8];
	uint64_t i, label;

	if ((h->labels = cdb_hmap_new()) == NULL)
		return cdb_error_oom(e);
	for (i = 0; i < h->count; i++) {
		off_t off = (off_t)(i * h->size + h->label_off);

		if (read_at(h->fd, h->path, b, 8, off, e) == -1)
			return -1;
		label = cdb_le(b, 8);
		if (label == UINT64_MAX)
			return bad(e, h->path, (long long)off,
			    "label out of "
			    "range");
		switch (cdb_hmap_put(h->labels, label + 1, i, NULL)) {
		case -1:
			return cdb_error_oom(e);
		case 0:
			return bad(
			    e, h->path, (long long)off, "label used twice");
		}
	}
	return 0;
}

cdb_hnsw *
cdb_hnsw_open(const char *dir, int normalized, cdb_error *e)
{
	unsigned char b[HEADER_SIZE];
	char path[PATH_MAX];
	cdb_hnsw *h;
	off_t size;
	int fd;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		cdb_error_oom(e);
		return NULL;
	}
	h->fd = h->lfd = -1;
	if ((fd = open_file(dir, "header.bin", path, &size, e)) == -1)
		goto fail;
	if (size != HEADER_SIZE) {
		bad(e, path, (long long)size, "header.bin is not 100 bytes");
		close(fd);
		goto fail;
	}
	if (read_at(fd, path, b, sizeof(b), 0, e) == -1 ||
	    check_header(h, b, path, e) == -1) {
		close(fd);
		goto fail;
	}
	close(fd);
	if ((h->fd = open_file(dir, "data_level0.bin", h->path, &size, e)) ==
	    -1)
		goto fail;
	if (h->count > (uint64_t)INT64_MAX / h->size ||
	    (uint64_t)size < h->count * h->size) {
		bad(e, h->path, (long long)size,
		    "size does not hold the header's element count");
		goto fail;
	}
	/* One pread per vector: ask for the file ahead rather than wait on
	 * each page. */
	(void)posix_fadvise(h->fd, 0, 0, POSIX_FADV_WILLNEED);
	if (open_lengths(h, dir, normalized, e) == -1 ||
	    index_labels(h, e) == -1)
		goto fail;
	return h;
fail:
	cdb_hnsw_free(h);
	return NULL;
}

void
cdb_hnsw_free(cdb_hnsw *h)
{
	if (h == NULL)
		return;
	if (h->fd != -1)
		close(h->fd);
	if (h->lfd != -1)
		close(h->lfd);
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

int
cdb_hnsw_get(cdb_hnsw *h, uint64_t label, float *out, cdb_error *e)
{
	unsigned char *b = (unsigned char *)out, lb[4];
	float len = 1.0f;
	uint64_t i;
	size_t k;

	if (label == UINT64_MAX || !cdb_hmap_get(h->labels, label + 1, &i))
		return 0;
	if (read_at(h->fd, h->path, out, h->dim * 4,
	        (off_t)(i * h->size + h->data_off), e) == -1)
		return -1;
	if (h->lfd != -1) {
		uint32_t x;

		if (read_at(h->lfd, h->lpath, lb, 4, (off_t)(i * 4), e) == -1)
			return -1;
		x = (uint32_t)cdb_le(lb, 4);
		memcpy(&len, &x, 4);
	}
	/* Little-endian in the file; the product in float, as hnswlib's
	 * getDataByLabel computes it, so the bits are the server's. */
	for (k = 0; k < h->dim; k++) {
		uint32_t x = (uint32_t)cdb_le(b + 4 * k, 4);
		float v;

		memcpy(&v, &x, 4);
		out[k] = h->lfd != -1 ? v * len : v;
	}
	return 1;
}
