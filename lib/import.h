/*
 * import.h - load a cdb stream into a Chroma database: batches bounded by
 * count and bytes, sent by worker threads, resumable from a checkpoint
 * that records, per collection, what the server acknowledged.
 */
#ifndef CDB_IMPORT_H
#define CDB_IMPORT_H

#include <stdio.h>

#include "cdb.h"
#include "export.h"
#include "http.h"
#include "quota.h"

typedef struct cdb_import_opts {
	const char *url, *tenant, *database;
	const cdb_http_opts *http;
	long batch;	     /* records per request; 0: server's maximum */
	size_t max_bytes;    /* request body limit; 0: 32 MiB */
	int jobs;	     /* concurrent requests; 0: 1 */
	int upsert;	     /* upsert instead of add */
	int append;	     /* allow adding to non-empty collections */
	int dry_run;	     /* check everything, write nothing */
	int allow_partial;   /* accept a stream without trailer */
	int no_altered_check; /* skip the read-back of created collections
				 (the caller compares every record itself) */
	int create_database; /* create the database when it does not exist */
	const char *checkpoint; /* or NULL */
	const char *input;   /* name of the input in messages */
	const char *collection; /* when set, the only collection the stream
				   may hold (a snapshot member) */
	const cdb_quota *limits; /* the target's quotas, or NULL */
	cdb_quota_fn *broken;	  /* with limits in a dry run: each one broken */
	cdb_warn_fn *warn;
	cdb_progress_fn *progress;
	void *arg;
} cdb_import_opts;

typedef struct cdb_import_stats {
	long long read;	     /* records read */
	long long sent;	     /* records acknowledged by the server */
	long long skipped;   /* records already committed (resume) */
	long long batches;
	long long collections; /* collection lines */
	long long created;   /* collections created (or would be, dry run) */
	long long broken;    /* limits broken (dry run with limits) */
	long batch;	     /* batch size used */
	int base64;	     /* embeddings sent as base64 */
	int resumed;
	int already_done;    /* checkpoint said the import had finished */
	int partial;	     /* stream had no trailer (allow_partial) */
} cdb_import_stats;

/* Import the stream in.  0, or -1 with e (e->line for input errors). */
int cdb_import_run(FILE *in, const cdb_import_opts *o, cdb_import_stats *st,
    cdb_error *e);

#endif
