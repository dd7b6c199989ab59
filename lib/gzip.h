/*
 * gzip.h - a gzip member writer that codes with Huffman codes only.
 *
 * Snapshots are mostly base64 embeddings: 64 symbols with next to no
 * repeated strings, where deflate's string matching costs several times
 * the time of plain Huffman coding and saves a few percent.  libarchive
 * (which reads these members) cannot be asked for that strategy, so the
 * writer is here: dynamic-Huffman deflate blocks of literals (RFC 1951)
 * in a gzip member (RFC 1952), readable by any gzip reader.
 */
#ifndef CDB_GZIP_H
#define CDB_GZIP_H

#include <stddef.h>
#include <stdint.h>

#include "cdb.h"

/* Where the compressed bytes go: 0, or -1 having set e. */
typedef int (*cdb_gzip_sink)(void *arg, const void *p, size_t n, cdb_error *e);

typedef struct cdb_gzip cdb_gzip;

/* A new member writing to sink; NULL with e on no memory.  Caller frees. */
cdb_gzip *cdb_gzip_new(cdb_gzip_sink sink, void *arg, cdb_error *e);

/* Compress n bytes of p.  0, or -1 with e (the sink's error). */
int cdb_gzip_write(cdb_gzip *z, const void *p, size_t n, cdb_error *e);

/* Write the last block and the trailer.  0 or -1.  Write nothing after. */
int cdb_gzip_finish(cdb_gzip *z, cdb_error *e);

/* Frees z; NULL is allowed.  An unfinished member is left unfinished. */
void cdb_gzip_free(cdb_gzip *z);

/* The CRC-32 of gzip (ISO 3309) of p, continuing from crc (0 to start). */
uint32_t cdb_gzip_crc32(uint32_t crc, const void *p, size_t n);

#endif
