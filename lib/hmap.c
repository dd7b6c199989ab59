/* hmap.c - 64-bit key map with linear probing; see hmap.h. */
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "hmap.h"

struct cdb_hmap {
	uint64_t *key; /* 0: empty slot */
	uint64_t *val;
	size_t cap; /* a power of two */
	size_t n;
};

cdb_hmap *
cdb_hmap_new(void)
{
	return calloc(1, sizeof(cdb_hmap));
}

void
cdb_hmap_free(cdb_hmap *m)
{
	if (m == NULL)
		return;
	free(m->key);
	free(m->val);
	free(m);
}

uint64_t
cdb_hmap_key(const char *coll, const char *id, size_t len)
{
	cdb_digest d;
	uint64_t h;

	cdb_digest_init(&d);
	if (coll != NULL)
		cdb_digest_update(&d, coll, strlen(coll) + 1);
	cdb_digest_update(&d, id, len);
	h = cdb_digest_value(&d);
	return h != 0 ? h : 1;
}

/* The slot of key, or of the empty slot where it would go. */
static size_t
slot(const cdb_hmap *m, uint64_t key)
{
	size_t j;

	for (j = key & (m->cap - 1); m->key[j] != 0 && m->key[j] != key;
	     j = (j + 1) & (m->cap - 1))
		;
	return j;
}

static int
grow(cdb_hmap *m)
{
	cdb_hmap n = {NULL, NULL, m->cap ? m->cap * 2 : 1024, m->n};
	size_t i, j;

	n.key = calloc(n.cap, sizeof(*n.key));
	n.val = malloc(n.cap * sizeof(*n.val));
	if (n.key == NULL || n.val == NULL) {
		free(n.key);
		free(n.val);
		return -1;
	}
	for (i = 0; i < m->cap; i++) {
		if (m->key[i] == 0)
			continue;
		j = slot(&n, m->key[i]);
		n.key[j] = m->key[i];
		n.val[j] = m->val[i];
	}
	free(m->key);
	free(m->val);
	*m = n;
	return 0;
}

int
cdb_hmap_put(cdb_hmap *m, uint64_t key, uint64_t val, uint64_t *old)
{
	size_t j;

	/* At most half full, so probes stay short. */
	if (2 * (m->n + 1) > m->cap && grow(m) == -1)
		return -1;
	j = slot(m, key);
	if (m->key[j] == key) {
		if (old != NULL)
			*old = m->val[j];
		return 0;
	}
	m->key[j] = key;
	m->val[j] = val;
	m->n++;
	return 1;
}

int
cdb_hmap_get(const cdb_hmap *m, uint64_t key, uint64_t *val)
{
	size_t j;

	if (m->cap == 0)
		return 0;
	j = slot(m, key);
	if (m->key[j] != key)
		return 0;
	if (val != NULL)
		*val = m->val[j];
	return 1;
}

void
cdb_hmap_clear(cdb_hmap *m)
{
	if (m->cap > 0)
		memset(m->key, 0, m->cap * sizeof(*m->key));
	m->n = 0;
}
