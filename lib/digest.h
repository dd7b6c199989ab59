/*
 * digest.h - streaming XXH64 (seed 0), the stream's content digest.
 *
 * A published, non-cryptographic 64-bit hash: fast enough to run over
 * every byte of a 100-million-record stream, and checkable with the stock
 * xxhsum(1) tool ("xxhsum -H1").  It detects truncation and accidental
 * edits; it is not a defence against deliberate tampering.
 */
#ifndef CDB_DIGEST_H
#define CDB_DIGEST_H

#include <stddef.h>
#include <stdint.h>

typedef struct cdb_digest {
	uint64_t v[4];
	uint64_t total;
	unsigned char mem[32];
	size_t memlen;
} cdb_digest;

void cdb_digest_init(cdb_digest *d);
void cdb_digest_update(cdb_digest *d, const void *p, size_t n);
/* The digest of everything so far; d stays usable for more updates. */
uint64_t cdb_digest_value(const cdb_digest *d);
/* Writes "xxh64:" and 16 lowercase hex digits; out holds 23 bytes. */
void cdb_digest_format(const cdb_digest *d, char out[23]);

#endif
