/*
 * hmap.h - a map from 64-bit keys (hashes of ids) to 64-bit values, with
 * open addressing.  cdb-validate keeps one entry per record in these, so
 * its memory grows with the number of ids and nothing else.
 *
 * Key 0 is reserved: callers hash with cdb_hmap_key, which never
 * returns it.
 */
#ifndef CDB_HMAP_H
#define CDB_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct cdb_hmap cdb_hmap;

/* An empty map; NULL when out of memory.  Free with cdb_hmap_free. */
cdb_hmap *cdb_hmap_new(void);
void cdb_hmap_free(cdb_hmap *m);

/*
 * The key of id (len bytes, may hold NUL) in collection coll: XXH64 of
 * the collection name, a NUL and the id; never 0.  With coll NULL, the
 * key of the id alone.
 */
uint64_t cdb_hmap_key(const char *coll, const char *id, size_t len);

/*
 * Store key -> val unless key is there.  Returns 1 when added, 0 when
 * key was already there (its value, unchanged, in *old when old is not
 * NULL), -1 when out of memory.
 */
int cdb_hmap_put(cdb_hmap *m, uint64_t key, uint64_t val, uint64_t *old);

/* 1 with the value in *val (may be NULL), or 0 when key is absent. */
int cdb_hmap_get(const cdb_hmap *m, uint64_t key, uint64_t *val);

/* Forget every key, keep the storage. */
void cdb_hmap_clear(cdb_hmap *m);

#endif
