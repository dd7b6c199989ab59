/*
 * prune.h - which snapshots to delete under a retention rule (keep the
 * newest N of each database, or those younger than D days), never the
 * only verified snapshot of a database (cdb-rollback(1) prune).
 */
#ifndef CDB_PRUNE_H
#define CDB_PRUNE_H

#include <stddef.h>
#include <time.h>

#include "cdb.h"

/* One snapshot file and the decision about it. */
typedef struct cdb_prune_entry {
	char *path;      /* owned copy */
	char *source;    /* "server tenant/database", owned; NULL: unreadable */
	time_t created;  /* from the manifest; 0 when unreadable */
	int verified;    /* every member matches the manifest */
	int keep;        /* 1: kept, 0: to delete */
	const char *why; /* static: the rule that decided */
	char problem[1024]; /* why it does not verify, or "" */
} cdb_prune_entry;

typedef struct cdb_prune_opts {
	long keep;      /* newest N of each database; -1: no such rule */
	long keep_days; /* younger than D days; -1: no such rule */
	time_t now;
} cdb_prune_opts;

/*
 * Read and verify the n snapshots at paths and decide: a snapshot is kept
 * when a rule keeps it (either, when both are given), when its manifest
 * cannot be read (nothing is known of it), or when it is the newest
 * verified snapshot of its database and no other kept one verifies.
 * Returns n entries in the order of paths, to be freed with
 * cdb_prune_free, or NULL with e (out of memory, or no rule).
 */
cdb_prune_entry *cdb_prune_plan(
    char *const *paths, size_t n, const cdb_prune_opts *o, cdb_error *e);
void cdb_prune_free(cdb_prune_entry *v, size_t n);

#endif
