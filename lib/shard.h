/*
 * shard.h - split every collection of an export into N contiguous ranges
 * of its records, by the counts taken when the export starts, so that N
 * runs on any machines together hold every record once.
 */
#ifndef CDB_SHARD_H
#define CDB_SHARD_H

#include "cdb.h"

typedef struct cdb_shard {
	int k, n; /* shard k of n, 1 <= k <= n; n == 0: not sharded */
} cdb_shard;

/* Parse "K/N" (1 <= K <= N <= 65536).  0, or -1 with e. */
int cdb_shard_parse(const char *s, cdb_shard *sh, cdb_error *e);

/*
 * The range [*lo, *hi) of a collection of count records that shard sh
 * holds; *hi is -1 for the last shard, which reads to the end and so
 * also takes records added after the count.
 */
void cdb_shard_range(
    const cdb_shard *sh, long long count, long long *lo, long long *hi);

#endif
