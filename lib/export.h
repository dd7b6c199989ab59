/*
 * export.h - copy collections of a Chroma database into a cdb stream,
 * one page at a time (from a pager: several gets in flight), resumable
 * from a checkpoint.  Float embeddings the server already wrote in
 * shortest round-trip form are copied as text: same bits, no formatting.
 */
#ifndef CDB_EXPORT_H
#define CDB_EXPORT_H

#include <jansson.h>
#include <stdio.h>

#include "cdb.h"
#include "chroma.h"
#include "shard.h"

/* Called with a message the caller may show (counts changed, ...). */
typedef void cdb_warn_fn(void *arg, const char *msg);
/* Called after every page or batch: collection, done, expected. */
typedef void cdb_progress_fn(void *arg, const char *collection,
    long long done, long long total);

/* A server answers a second get on another core; a third finds none. */
#define CDB_EXPORT_JOBS 2

typedef struct cdb_export_opts {
	char *const *names;	  /* collections to export; NULL: all */
	size_t nnames;
	long batch;		  /* page size; 0: 1000, fewer when wide */
	int jobs;		  /* gets in flight; 0: CDB_EXPORT_JOBS */
	const json_t *where;	  /* or NULL */
	const json_t *where_document;
	int form;		  /* enum cdb_emb_form */
	const char *output;	  /* output file path (for resume), or NULL */
	const char *checkpoint;	  /* needs output; NULL: none */
	const char *tool;	  /* "cdb-export 0.1" for the header */
	cdb_shard shard;	  /* n == 0: the whole export */
	cdb_warn_fn *warn;
	cdb_progress_fn *progress;
	void *arg;
} cdb_export_opts;

typedef struct cdb_export_stats {
	long long records;     /* written in this run */
	long long collections; /* collection lines in the output */
	int resumed;	       /* started from a checkpoint */
	int changed;	       /* some collection changed during export */
} cdb_export_stats;

/*
 * Write the stream to out (or, with o->output, to that file, which the
 * function opens, truncates on resume, and fsyncs before each checkpoint).
 * Returns 0 or -1 with e.
 */
int cdb_export_run(cdb_chroma *c, FILE *out, const cdb_export_opts *o,
    cdb_export_stats *st, cdb_error *e);

#endif
