/*
 * hnsw.h - read the vectors of an hnswlib index as Chroma persists it
 * (header.bin, data_level0.bin, length.bin, link_lists.bin in a segment
 * directory), checking the header against the file sizes first.  Only
 * level 0 is read: each element there is its link list, its vector and
 * its 64-bit label.
 */
#ifndef CDB_HNSW_H
#define CDB_HNSW_H

#include <stddef.h>
#include <stdint.h>

#include "cdb.h"

typedef struct cdb_hnsw cdb_hnsw;

/*
 * Open the index in directory dir; normalized for a cosine index, whose
 * vectors are stored divided by the norm kept in length.bin.  Returns it,
 * to free with cdb_hnsw_free, or NULL with e naming the file and offset
 * at fault.
 */
cdb_hnsw *cdb_hnsw_open(const char *dir, int normalized, cdb_error *e);
void cdb_hnsw_free(cdb_hnsw *h);

/* Vector dimension and element count the header gives. */
size_t cdb_hnsw_dim(const cdb_hnsw *h);
size_t cdb_hnsw_count(const cdb_hnsw *h);

/* The element labelled label into *elem: 1, or 0 when none has it. */
int cdb_hnsw_find(const cdb_hnsw *h, uint64_t label, uint64_t *elem);

/*
 * Copy the vector of element elem into out (dim floats), times its norm
 * for a normalized index.  0, or -1 with e.  Several threads may read
 * the same index at once.
 */
int cdb_hnsw_read(const cdb_hnsw *h, uint64_t elem, float *out, cdb_error *e);

#endif
