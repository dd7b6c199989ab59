/*
 * pager.h - read the pages of a list of collections with several get
 * requests in flight, and hand them out in order.
 *
 * A Chroma server answers concurrent gets on several cores, so one
 * connection waiting for each page in turn leaves it partly idle.  The
 * pager keeps up to `jobs` requests going (one connection each), at the
 * offsets the reader will need next, and gives the pages back in
 * (collection, offset) order, exactly as a one-at-a-time reader would
 * see them: every collection ends with its first page shorter than the
 * limit (an empty one if need be); pages read past that are dropped.
 */
#ifndef CDB_PAGER_H
#define CDB_PAGER_H

#include <jansson.h>

#include "cdb.h"
#include "chroma.h"

typedef struct cdb_pager cdb_pager;

typedef struct cdb_pager_opts {
	const char *const *ids; /* collection ids, in reading order */
	size_t ncoll;
	long long start;	/* first offset in ids[0] (a resume) */
	/* A shard's range of each collection, or NULL: from base[i] (0)
	 * up to stop[i] (-1: to its end); pages are cut at the stop. */
	const long long *base, *stop;
	long limit;		/* page size, > 0 */
	int include;		/* CDB_INC_* */
	const json_t *where;	/* filters, or NULL */
	const json_t *where_document;
	int jobs;		/* requests in flight, >= 1 */
	int want_text;		/* settings of every cdb_page */
	int sample_shortest;
} cdb_pager_opts;

/*
 * Start reading (threads and jobs - 1 extra connections cloned from c,
 * which the pager uses as its first connection until freed).  The
 * strings and filters in o must outlive the pager.  Free with
 * cdb_pager_free; NULL with e.
 */
cdb_pager *cdb_pager_new(cdb_chroma *c, const cdb_pager_opts *o,
    cdb_error *e);

/*
 * Tell the pager how many records collection i holds (unfiltered reads
 * only): it then requests the pages up to its end at once and moves on
 * to the next collection without waiting for the short page.  A wrong
 * count costs requests, never records.
 */
void cdb_pager_expect(cdb_pager *p, size_t i, long count);

/*
 * The next page in order, waiting for it: 1 with *pg (the raw answer
 * in (*pg)->body, not yet parsed; give it back with cdb_pager_release),
 * the offset of its first record and its record count; a page shorter
 * than the limit is its collection's last, and the next one is the next
 * collection's first (so is a page reaching the collection's stop,
 * whose count then ends there).  0 when every collection has ended; -1 with e when
 * a request failed (the first failure).
 */
int cdb_pager_next(cdb_pager *p, cdb_page **pg, long long *off, long *n,
    cdb_error *e);

/* Return a page from cdb_pager_next for reuse. */
void cdb_pager_release(cdb_pager *p, cdb_page *pg);

/* Stop the requests (waiting for those in flight) and free.  NULL ok. */
void cdb_pager_free(cdb_pager *p);

#endif
