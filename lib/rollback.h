/*
 * rollback.h - undo a failed migration from a snapshot (cdb-snapshot(5)):
 * verify the snapshot, archive the current state of every collection
 * involved to failed-<time>.tar.gz, remove those collections, recreate the
 * snapshot's collections and import their records, then compare the
 * server with the snapshot record by record.
 *
 * Every step is resumable: progress is kept in a work directory (atomic
 * checkpoints), so rerunning the same restore after a crash finishes it.
 */
#ifndef CDB_ROLLBACK_H
#define CDB_ROLLBACK_H

#include <jansson.h>

#include "cdb.h"
#include "chroma.h"
#include "export.h"
#include "http.h"

/*
 * Read a validation report (cdb-report(5)): a JSON object with a boolean
 * "rollback_triggered", and optionally "rollback_reason",
 * "overall_status" and a list of collections; other fields are ignored.
 * Returns a new object {"path", "rollback_triggered", "rollback_reason",
 * "overall_status", "collections": [names]} or NULL with e.
 */
json_t *cdb_rollback_read_report(const char *path, cdb_error *e);

/*
 * The collection names a JSON value lists: an array of names, an array of
 * objects with a "name" (or "collection") string, or an object keyed by
 * name.  Appends them, without duplicates, to the array names.  0, or
 * -1 when out of memory.
 */
int cdb_rollback_add_names(json_t *names, const json_t *v);

/*
 * The names of the collections a cdb-import(1) checkpoint at path says
 * the import wrote to (its "collections" object), appended to names.
 * 0, or -1 with e.
 */
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
 * Restore o->snapshot into the server.  The rollback report (see
 * cdb-rollback(1)) is built in report, a JSON object the caller owns,
 * as far as the restore got, failed or not.  Returns 0 only when the
 * server then holds exactly the snapshot's collections and records (or,
 * for a dry run, when the plan was made); otherwise -1 with e.
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
 * Compare the snapshot member in (the stream of collection entry["name"],
 * entry its manifest entry) with that collection on the server: its
 * metadata and index configuration, then every record, fetched back by
 * id: document, metadata (types included), uri, and embedding, bit for
 * bit, or for cosine collections (stored normalised) within 1e-6 of the
 * vector's norm; and the server's count.  With o->repair, records whose
 * metadata alone differs get the snapshot's metadata back (keys it lacks
 * removed) and are compared again: Chroma 1.3 can hand array values of
 * deleted records to new ones.  Fills result with count_after, compared,
 * mismatches, repaired, verified (a boolean) and the first problem.
 * Returns 0 when the comparison ran (whatever it found), -1 with e when
 * it could not.
 */
int cdb_rollback_compare(cdb_chroma *c, const json_t *entry, FILE *in,
    const cdb_rollback_cmp *o, json_t *result, cdb_error *e);

/* The report as Markdown, appended to b.  0 or -1. */
int cdb_rollback_report_md(const json_t *report, cdb_buf *b);

#endif
