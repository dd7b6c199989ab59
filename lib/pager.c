/* pager.c - ordered pages from concurrent gets; see pager.h. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pager.h"

enum { SL_FREE, SL_FETCHING, SL_READY, SL_TAKEN };

struct slot {
	int state;
	size_t coll;
	long long off;
	long n;
	cdb_page page;
};

/* What is known of one collection's pages. */
struct plan {
	long long base; /* offset of its first page */
	long long next; /* offset of the next page to request */
	long long full; /* last offset whose page came back full */
	long long end;	/* offset of its first short page; -1: not seen */
	long long stop; /* end of its range; -1: none */
	long count;	/* from cdb_pager_expect; -1: unknown */
};

struct fetcher {
	cdb_pager *p;
	cdb_chroma *c;
	cdb_chroma *owned; /* a clone, freed with the pager */
	/* Its own copies of the filters: putting a shared value in a
	 * request changes its reference count, from every thread. */
	json_t *where, *where_document;
	pthread_t th;
	int started;
};

struct cdb_pager {
	cdb_pager_opts o;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct plan *plan;
	struct slot *slots;
	int nslots;
	struct fetcher *f;
	size_t wc;	  /* the page the reader waits for: collection */
	long long woff;	  /* ... and offset */
	int stop, failed;
	cdb_error err;	  /* the first failure */
};

static int
nfree(const cdb_pager *p)
{
	int i, k = 0;

	for (i = 0; i < p->nslots; i++)
		k += p->slots[i].state == SL_FREE;
	return k;
}

/* The offset where collection i should end, from its count. */
static long long
expected_end(const cdb_pager *p, const struct plan *pl)
{
	long long left = pl->count - pl->base;

	return left <= 0 ? pl->base : pl->base + left / p->o.limit * p->o.limit;
}

static int
counted(const cdb_pager *p, const struct plan *pl)
{
	return pl->count >= 0 && p->o.where == NULL &&
	    p->o.where_document == NULL;
}

/* Is pl->next at its range's end?  Even an empty range has one page. */
static int
at_stop(const struct plan *pl)
{
	return pl->stop >= 0 && pl->next >= pl->stop && pl->next > pl->base;
}

/* Does the page at off of n records end its collection? */
static int
ends(const cdb_pager *p, const struct plan *pl, long long off, long n)
{
	return n < p->o.limit || (pl->stop >= 0 && off + n >= pl->stop);
}

/*
 * Is the page at pl->next worth requesting?  With a count: every page up
 * to the expected end, then one past each full page (the collection
 * grew).  Without: up to `jobs` pages past the last full one.
 */
static int
wanted(const cdb_pager *p, const struct plan *pl)
{
	long long last = pl->full + (long long)p->o.limit * p->o.jobs;

	if (pl->end >= 0 || at_stop(pl))
		return 0;
	if (counted(p, pl)) {
		last = pl->full + p->o.limit;
		if (last < expected_end(p, pl))
			last = expected_end(p, pl);
	}
	return pl->next <= last;
}

/*
 * The next request, or 0 if none should start now.  Requests for later
 * pages than the one the reader waits for never take the last free slot:
 * it stays for that one, so reading ahead cannot starve the reader.
 */
static int
next_task(cdb_pager *p, size_t *coll, long long *off)
{
	struct plan *pl;
	size_t i;
	int urgent, k = nfree(p);

	if (k == 0 || p->stop || p->failed)
		return 0;
	for (i = p->wc; i < p->o.ncoll; i++) {
		pl = &p->plan[i];
		if (wanted(p, pl)) {
			urgent = i == p->wc && pl->next == p->woff;
			if (!urgent && k < 2)
				return 0;
			*coll = i;
			*off = pl->next;
			pl->next += p->o.limit;
			return 1;
		}
		/* Past a collection only when it is known to be all asked for. */
		if (pl->end < 0 && !at_stop(pl) &&
		    !(counted(p, pl) && pl->next > expected_end(p, pl)))
			return 0;
	}
	return 0;
}

static struct slot *
free_slot(cdb_pager *p)
{
	int i;

	for (i = 0; i < p->nslots; i++)
		if (p->slots[i].state == SL_FREE)
			return &p->slots[i];
	return NULL;
}

/* Pages past their collection's end are not part of the answer. */
static int
stale(const cdb_pager *p, const struct slot *s)
{
	const struct plan *pl = &p->plan[s->coll];

	return s->coll < p->wc || (pl->end >= 0 && s->off > pl->end);
}

static void
drop_stale(cdb_pager *p)
{
	int i;

	for (i = 0; i < p->nslots; i++)
		if (p->slots[i].state == SL_READY && stale(p, &p->slots[i]))
			p->slots[i].state = SL_FREE;
}

/* Record an answer; called with the lock held. */
static void
landed(cdb_pager *p, struct slot *s, long n, const cdb_error *e)
{
	struct plan *pl = &p->plan[s->coll];

	if (n == -1) {
		/* A page past the end is not needed; its failure is not one. */
		if (!stale(p, s) && !p->failed) {
			p->err = *e;
			p->failed = 1;
		}
		s->state = SL_FREE;
		return;
	}
	if (pl->stop >= 0 && s->off + n > pl->stop)
		n = s->off < pl->stop ? (long)(pl->stop - s->off) : 0;
	s->n = n;
	s->state = SL_READY;
	if (!ends(p, pl, s->off, n)) {
		if (s->off > pl->full)
			pl->full = s->off;
	} else if (pl->end < 0 || s->off < pl->end)
		pl->end = s->off;
	drop_stale(p);
}

static void *
fetch_loop(void *arg)
{
	struct fetcher *f = arg;
	cdb_pager *p = f->p;
	struct slot *s;
	size_t coll;
	long long off;
	cdb_error e;
	long n;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && !p->failed && !next_task(p, &coll, &off))
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop || p->failed)
			break;
		s = free_slot(p);
		s->state = SL_FETCHING;
		s->coll = coll;
		s->off = off;
		pthread_mutex_unlock(&p->mu);
		cdb_error_clear(&e);
		n = cdb_chroma_get_raw(f->c, p->o.ids[coll], (long)off,
		    p->o.limit, f->where, f->where_document, p->o.include,
		    &s->page, &e);
		pthread_mutex_lock(&p->mu);
		landed(p, s, n, &e);
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* The slot in state st holding the page the reader waits for, or NULL. */
static struct slot *
waited(cdb_pager *p, int st)
{
	int i;

	for (i = 0; i < p->nslots; i++)
		if (p->slots[i].state == st && p->slots[i].coll == p->wc &&
		    p->slots[i].off == p->woff)
			return &p->slots[i];
	return NULL;
}

int
cdb_pager_next(cdb_pager *p, cdb_page **pg, long long *off, long *n,
    cdb_error *e)
{
	struct slot *s = NULL;
	int rc = 1;

	pthread_mutex_lock(&p->mu);
	/* After a failure nothing new is asked for: wait only for the page
	 * if it is on its way. */
	while (p->wc < p->o.ncoll && (s = waited(p, SL_READY)) == NULL &&
	    (!p->failed || waited(p, SL_FETCHING) != NULL))
		pthread_cond_wait(&p->cv, &p->mu);
	if (s == NULL) {
		rc = p->wc < p->o.ncoll ? -1 : 0;
		if (rc == -1)
			*e = p->err;
		pthread_mutex_unlock(&p->mu);
		return rc;
	}
	s->state = SL_TAKEN;
	*pg = &s->page;
	*off = s->off;
	*n = s->n;
	if (!ends(p, &p->plan[p->wc], s->off, s->n))
		p->woff += s->n;
	else if (++p->wc < p->o.ncoll)
		p->woff = p->plan[p->wc].base;
	drop_stale(p);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void
cdb_pager_release(cdb_pager *p, cdb_page *pg)
{
	int i;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->nslots; i++)
		if (&p->slots[i].page == pg)
			p->slots[i].state = SL_FREE;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void
cdb_pager_expect(cdb_pager *p, size_t i, long count)
{
	pthread_mutex_lock(&p->mu);
	if (i < p->o.ncoll)
		p->plan[i].count = count;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static int
alloc(cdb_pager *p, cdb_chroma *c, cdb_error *e)
{
	size_t i;
	int k;

	p->nslots = p->o.jobs + 2;
	p->plan = calloc(p->o.ncoll ? p->o.ncoll : 1, sizeof(*p->plan));
	p->slots = calloc((size_t)p->nslots, sizeof(*p->slots));
	p->f = calloc((size_t)p->o.jobs, sizeof(*p->f));
	if (p->plan == NULL || p->slots == NULL || p->f == NULL)
		return cdb_error_oom(e);
	for (i = 0; i < p->o.ncoll; i++) {
		p->plan[i].base = p->o.base ? p->o.base[i] : 0;
		if (i == 0 && p->o.start > p->plan[i].base)
			p->plan[i].base = p->o.start;
		p->plan[i].stop = p->o.stop ? p->o.stop[i] : -1;
		p->plan[i].next = p->plan[i].base;
		p->plan[i].full = p->plan[i].base - p->o.limit;
		p->plan[i].end = -1;
		p->plan[i].count = -1;
	}
	for (k = 0; k < p->nslots; k++) {
		cdb_page_init(&p->slots[k].page);
		p->slots[k].page.want_text = p->o.want_text;
		p->slots[k].page.sample_shortest = p->o.sample_shortest;
	}
	for (k = 0; k < p->o.jobs; k++) {
		p->f[k].p = p;
		if ((p->o.where != NULL &&
			(p->f[k].where = json_deep_copy(p->o.where)) == NULL) ||
		    (p->o.where_document != NULL &&
			(p->f[k].where_document =
				json_deep_copy(p->o.where_document)) == NULL))
			return cdb_error_oom(e);
		if (k == 0)
			p->f[k].c = c;
		else if ((p->f[k].c = p->f[k].owned = cdb_chroma_clone(c, e)) ==
		    NULL)
			return -1;
	}
	return 0;
}

cdb_pager *
cdb_pager_new(cdb_chroma *c, const cdb_pager_opts *o, cdb_error *e)
{
	cdb_pager *p;
	int k;

	if (o->limit <= 0 || o->jobs < 1)
		return cdb_error_set(e, CDB_ERR_USAGE, "bad pager options"),
		       NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		cdb_error_oom(e);
		return NULL;
	}
	p->o = *o;
	cdb_error_clear(&p->err);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (alloc(p, c, e) == -1) {
		cdb_pager_free(p);
		return NULL;
	}
	p->woff = o->ncoll > 0 ? p->plan[0].base : o->start;
	for (k = 0; k < o->jobs; k++) {
		if (pthread_create(&p->f[k].th, NULL, fetch_loop, &p->f[k]) != 0) {
			cdb_error_set(e, CDB_ERR_SYS, "cannot start a thread");
			cdb_pager_free(p);
			return NULL;
		}
		p->f[k].started = 1;
	}
	return p;
}

void
cdb_pager_free(cdb_pager *p)
{
	int k;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (k = 0; p->f != NULL && k < p->o.jobs; k++) {
		if (p->f[k].started)
			pthread_join(p->f[k].th, NULL);
		cdb_chroma_free(p->f[k].owned);
		json_decref(p->f[k].where);
		json_decref(p->f[k].where_document);
	}
	for (k = 0; p->slots != NULL && k < p->nslots; k++)
		cdb_page_free(&p->slots[k].page);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->plan);
	free(p->slots);
	free(p->f);
	free(p);
}
