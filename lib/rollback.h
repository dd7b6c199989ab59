/*
 * rollback.h - undo a failed migration from a snapshot (cdb-snapshot(5)):
 * verify it, archive the collections involved to failed-<time>.tar.gz,
 * remove them, recreate and import the snapshot's, then compare the
 * server with the snapshot record by record.  Every step is resumable
 * from atomic checkpoints in a work directory.  Also the retention rule
 * of cdb-rollback prune.
 */
#ifndef CDB_ROLLBACK_H
#define CDB_ROLLBACK_H

#include <jansson.h>

#include "cdb.h"
#include "chroma.h"
#include "export.h"
#include "http.h"

/*
 * Read a validation report (cdb-report(5)): an object with a boolean
 * "rollback_triggered", maybe "rollback_reason", "overall_status" and
 * collections.  Returns a new {"path", "rollback_triggered",
 * "rollback_reason", "overall_status", "collections": [names]} or NULL.
 */
json_t *cdb_rollback_read_report(const char *path, cdb_error *e);

/*
 * Append to names, without duplicates, the collection names v lists: an
 * array of names or of objects with "name" (or "collection"), or an
 * object keyed by name.  0, or -1 when out of memory.
 */
int cdb_rollback_add_names(json_t *names, const json_t *v);

/* Append to names the collections a cdb-import(1) checkpoint wrote to. */
int cdb_rollback_checkpoint_names(
    const char *path, json_t *names, cdb_error *e);

/* "failed-20250601T120000Z.tar.gz" for time t, in out (64 bytes). */
void cdb_rollback_archive_name(char out[64], time_t t);

typedef void cdb_step_fn(void *arg, const char *msg);

typedef struct cdb_rollback_opts {
	const char *snapshot; /* the snapshot file */
	const char *url;      /* the server to restore */
	const char *tenant;   /* NULL: the snapshot's */
	const char *database; /* NULL: the snapshot's */
	const cdb_http_opts *http;
	const json_t *remove;     /* names the failed migration created */
	const json_t *validation; /* from cdb_rollback_read_report, or NULL */
	int forced;               /* --force: noted in the report */
	const char *archive_dir;  /* for failed-<time>.tar.gz; NULL: "." */
	const char *work_dir;     /* progress; NULL: "cdb-rollback.work" */
	int dry_run;              /* plan only, change nothing */
	long batch; /* import batch; 0: 1000 or the server's max */
	int jobs;   /* concurrent import requests; 0: 1 */
	const char *tool;
	cdb_step_fn *step; /* what is being done, for people */
	cdb_progress_fn *progress;
	void *arg;
} cdb_rollback_opts;

/*
 * Restore o->snapshot into the server, building the rollback report
 * (cdb-rollback(1)) in the caller's report as far as it got.  0 only when
 * the server then holds exactly the snapshot's collections and records
 * (a dry run: when the plan was made).
 */
int cdb_rollback_restore(
    const cdb_rollback_opts *o, json_t *report, cdb_error *e);

/*
 * Called by cdb_rollback_compare before it reads back the records of the
 * member up to line (0: before it looks the collection up): returns 0
 * once they are on the server, -1 to give up.
 */
typedef int cdb_rollback_wait_fn(void *arg, long line);

typedef struct cdb_rollback_cmp {
	int repair;                 /* set differing metadata back */
	cdb_rollback_wait_fn *wait; /* or NULL: everything is there */
	void *arg;
} cdb_rollback_cmp;

/*
 * Compare the snapshot member in (entry: its manifest entry) with its
 * collection on the server: metadata and index configuration, every
 * record fetched back by id (document, metadata with types, uri, and the
 * embedding bit for bit, or for cosine, stored normalised, within 1e-6 of
 * its norm), and the count.  With o->repair, records whose metadata alone
 * differs get the snapshot's back (keys it lacks removed) and are compared
 * again.  Fills result with count_after, compared, mismatches, repaired,
 * verified and the first problem.  0 when the comparison ran, whatever it
 * found.
 */
int cdb_rollback_compare(cdb_chroma *c, const json_t *entry, FILE *in,
    const cdb_rollback_cmp *o, json_t *result, cdb_error *e);

/* The report as Markdown, appended to b.  0 or -1. */
int cdb_rollback_report_md(const json_t *report, cdb_buf *b);

/* ------------------------------------------------------------- prune -- */

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
 * Verify the n snapshots at paths and decide which to delete: one is kept
 * when a rule keeps it (either of both), when its manifest cannot be read,
 * or when it is the newest verified one of its database and no other kept
 * one verifies.  n entries in the order of paths (free with
 * cdb_prune_free), or NULL with e.
 */
cdb_prune_entry *cdb_prune_plan(
    char *const *paths, size_t n, const cdb_prune_opts *o, cdb_error *e);
void cdb_prune_free(cdb_prune_entry *v, size_t n);

#endif
