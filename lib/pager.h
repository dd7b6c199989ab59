/*
 * pager.h - pages of records: a get answer read into values (cdb_page),
 * and the exporter's reader of whole collections with several gets in
 * flight (cdb_pager).
 *
 * A page's embeddings are read straight into floats by the embedding
 * codec, so the megabytes of numbers never become jansson nodes; the
 * rest of the answer is parsed by jansson.
 *
 * A Chroma server answers concurrent gets on several cores, so one
 * connection waiting for each page in turn leaves it partly idle.  The
 * pager keeps up to `jobs` requests going (one connection each), at the
 * offsets the reader will need next, and gives the pages back in
 * (collection, offset) order, exactly as a one-at-a-time reader would
 * see them: every collection ends with its first page shorter than the
 * limit (an empty one if need be); pages read past that are dropped.
 * The same connections count the collections, which tells the pager
 * where each one should end.
 */
#ifndef CDB_PAGER_H
#define CDB_PAGER_H

#include <jansson.h>

#include "cdb.h"
#include "chroma.h"

/* Reads row's vector, the JSON array at s (n bytes), into out (cap
 * floats), the count in *dim: the bytes taken, or -1 with e.  The
 * exporter's also notes which rows it may copy as text. */
typedef long cdb_page_scan_fn(void *arg, size_t row, const char *s,
    size_t n, float *out, size_t cap, size_t *dim, cdb_error *e);

/* One page of records.  Reused across pages: _init once, _free at the end. */
typedef struct cdb_page {
	json_t *root;	/* the answer without its embeddings */
	json_t *ids, *documents, *metadatas, *uris; /* borrowed from root */
	size_t n;	/* records in the page */
	size_t dim;	/* embedding dimension, 0 when not included */
	float *emb;	/* n * dim values */
	size_t emb_cap; /* floats allocated */
	cdb_page_scan_fn *scan; /* NULL: cdb_embed_parse_json */
	void *scan_arg;
	cdb_buf body;	/* the answer as the server wrote it */
	cdb_buf rest;	/* body without the numbers, kept between pages */
} cdb_page;

void cdb_page_init(cdb_page *p);
/* Free what p holds (p itself is the caller's).  Accepts NULL. */
void cdb_page_free(cdb_page *p);

/*
 * Parse the get answer in p->body into p.  -1 with e on an answer that is
 * not one; an embedding the server cannot use (it sends NaN as null)
 * fails with code CDB_E_EMBEDDING and names the record.
 */
int cdb_page_parse(cdb_page *p, cdb_error *e);

/* cdb_chroma_get and cdb_chroma_get_ids into p, then cdb_page_parse. */
int cdb_page_get(cdb_chroma *c, const char *id, long offset, long limit,
    const json_t *where, const json_t *where_document, int include,
    cdb_page *p, cdb_error *e);
int cdb_page_get_ids(cdb_chroma *c, const char *id, const json_t *ids,
    int include, cdb_page *p, cdb_error *e);

typedef struct cdb_pager cdb_pager;

typedef struct cdb_pager_opts {
	const char *const *ids; /* collection ids, in reading order */
	size_t ncoll;
	long long start;	/* first offset in ids[0] (a resume) */
	/* A shard's range of each collection, or NULL: from base[i] (0)
	 * up to stop[i] (-1: to its end); pages are cut at the stop. */
	const long long *base, *stop;
	const long *counts;	/* counts already taken, or NULL */
	int recount;		/* count again after each one's last page */
	long limit;		/* page size, > 0 */
	int include;		/* CDB_INC_* */
	const json_t *where;	/* filters, or NULL */
	const json_t *where_document;
	int jobs;		/* requests in flight, >= 1 */
	cdb_page_scan_fn *scan; /* given to every page */
	void *scan_arg;
} cdb_pager_opts;

/* Start reading: jobs threads, on c and jobs - 1 clones of it.  What o
 * points to must outlive the pager.  Free with cdb_pager_free; NULL with e. */
cdb_pager *cdb_pager_new(cdb_chroma *c, const cdb_pager_opts *o,
    cdb_error *e);

/*
 * The next page in order, waiting for it: 1 with *pg (the answer in
 * (*pg)->body, not yet parsed; give it back with cdb_pager_release), the
 * offset of its first record and its record count.  A page shorter than
 * the limit, or reaching the collection's stop (its count then ends
 * there), is its collection's last.  0 when every collection has ended;
 * -1 with e when a request failed (the first failure).
 */
int cdb_pager_next(cdb_pager *p, cdb_page **pg, long long *off, long *n,
    cdb_error *e);

/* Return a page from cdb_pager_next for reuse. */
void cdb_pager_release(cdb_pager *p, const cdb_page *pg);

/* Collection i's count before its pages (after 0), or with o->recount
 * after its last (after 1), waiting for it; -1 with e. */
long cdb_pager_count(cdb_pager *p, size_t i, int after, cdb_error *e);

/* Stop the requests (waiting for those in flight) and free.  NULL ok. */
void cdb_pager_free(cdb_pager *p);

#endif
