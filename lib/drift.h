/*
 * drift.h - what changed on the old server since its export was taken:
 * records added, removed, or changed (by id and content digest), found by
 * streaming the export and fetching the same ids in batches, so memory
 * stays flat however long the export.  Production keeps writing during a
 * migration; this is reported beside a validation (cdb-validate
 * --source-export), never as a failure of the migration.
 */
#ifndef CDB_DRIFT_H
#define CDB_DRIFT_H

#include <jansson.h>

#include "cdb.h"
#include "http.h"

typedef struct cdb_drift_opts {
	const char *const *source; /* the untransformed export: one file, */
	size_t nsource;            /* or the files of its shards */
	const char *url, *tenant, *database; /* the old server */
	const cdb_http_opts *http;           /* may be NULL */
	long page;                           /* ids per request; 0: 1000 */
} cdb_drift_opts;

typedef struct cdb_drift {
	long long exported; /* records in the export */
	long long removed;  /* exported, no longer on the server */
	long long changed;  /* on both, with other content */
	long long added;    /* on the server, not in the export */
	long long colls_added, colls_removed;
} cdb_drift;

/* Compare the export with the old server now.  0, or -1 with e. */
int cdb_drift_run(const cdb_drift_opts *o, cdb_drift *d, cdb_error *e);

/*
 * Add the finding to a validation report: "source_drift" with the
 * numbers, and, when anything changed, a warning naming them and how to
 * bring them over, and an overall status of at least WARNING.  The
 * verdict on the migration (rollback_triggered) is never changed.
 * 0, or -1 when out of memory.
 */
int cdb_drift_report(json_t *report, const cdb_drift *d);

/* The finding when the check could not run (err says why): a warning,
 * the verdict unchanged.  0, or -1 when out of memory. */
int cdb_drift_report_failed(json_t *report, const cdb_error *err);

#endif
