/*
 * transform.h - the streaming engine of cdb-transform: read a cdb stream,
 * apply a schema to every record, write the transformed stream with its
 * own header, collection lines and trailer.
 *
 * Memory stays flat in the size of the records; it grows only with the
 * number of distinct target ids (a cdb_hmap entry each, for the collision
 * check) and with the number of collections.
 */
#ifndef CDB_TRANSFORM_H
#define CDB_TRANSFORM_H

#include <jansson.h>
#include <stdio.h>

#include "cdb.h"
#include "schema.h"

/* Told about a rejected record when the run goes on without a file. */
typedef void cdb_transform_reject_fn(void *arg, long line, const char *msg);

typedef struct cdb_transform_opts {
	const cdb_schema *schema;
	const char *input;       /* input name for the reader: "stdin" */
	const char *schema_file; /* for the output header */
	const char *tool;        /* "cdb-transform 0.1.0" for the header */
	FILE *rejects;           /* rejected lines as NDJSON, or NULL */
	long max_rejects;        /* stop at this many rejects; 0: never */
	int dry_run;             /* read and count, write nothing */
	int no_id_check;         /* skip the id collision check */
	cdb_transform_reject_fn *on_reject; /* or NULL */
	void *arg;
} cdb_transform_opts;

/* Counts of one run, for the summary.  Free with _free. */
typedef struct cdb_transform_stats cdb_transform_stats;

/* Stats for runs with schema s.  NULL when out of memory. */
cdb_transform_stats *cdb_transform_stats_new(const cdb_schema *s);
void cdb_transform_stats_free(cdb_transform_stats *st);

long long cdb_transform_stats_in(const cdb_transform_stats *st);
long long cdb_transform_stats_out(const cdb_transform_stats *st);
long long cdb_transform_stats_rejected(const cdb_transform_stats *st);

/*
 * Append the summary to b: records in and out per collection, how each
 * field was filled (copied, coerced, default, ...), source fields
 * dropped, rejects by reason.  0, or -1 on allocation failure.
 */
int cdb_transform_stats_format(const cdb_transform_stats *st, cdb_buf *b);

/*
 * Transform the stream in into out (nothing is written with dry_run).
 * A rejected record is written to o->rejects (the original line and the
 * reason) or reported through o->on_reject, and the run goes on until
 * o->max_rejects records were rejected: then it stops with -1 and e
 * holding the last reject ("id \"x\": field \"n\": cannot convert ...",
 * e->line its line).  No trailer is written after a stop or an error,
 * so what was written reads as truncated.
 * Returns 0 when the whole stream was transformed (some records may have
 * been rejected: see st), or -1 with e.
 */
int cdb_transform_run(FILE *in, FILE *out, const cdb_transform_opts *o,
    cdb_transform_stats *st, cdb_error *e);

#endif
