/* pager.c - pages of records and ordered concurrent paging; see pager.h. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "json.h"
#include "pager.h"
#include "queue.h"

void
cdb_page_init(cdb_page *p)
{
	memset(p, 0, sizeof(*p));
	cdb_buf_init(&p->body);
	cdb_buf_init(&p->rest);
}

void
cdb_page_free(cdb_page *p)
{
	if (p == NULL)
		return;
	json_decref(p->root);
	free(p->emb);
	cdb_buf_free(&p->body);
	cdb_buf_free(&p->rest);
	cdb_page_init(p);
}

static int
emb_reserve(cdb_page *p, size_t n, cdb_error *e)
{
	float *f;

	if (n <= p->emb_cap)
		return 0;
	if ((f = realloc(p->emb, n * sizeof(float))) == NULL)
		return cdb_error_oom(e);
	p->emb = f;
	p->emb_cap = n;
	return 0;
}

/*
 * Name the record whose embedding could not be read (the ids precede the
 * embeddings in Chroma's answers): null values there mean NaN on the server.
 */
static int
row_error(cdb_page *p, size_t vs, size_t row, const cdb_error *pe,
    cdb_error *e)
{
	size_t is, ie;
	json_t *ids = NULL, *id;

	if (cdb_json_find(p->body.data, vs, "ids", &is, &ie) == 1)
		ids = json_loadb(p->body.data + is, ie - is, CDB_JSON_FLAGS, NULL);
	id = json_array_get(ids, row);
	cdb_error_setc(e, CDB_ERR_SERVER, CDB_E_EMBEDDING,
	    "record \"%s\": the server returned an unusable embedding (%s); "
	    "null values mean it stores NaN",
	    json_is_string(id) ? json_string_value(id) : "?", pe->text);
	json_decref(ids);
	return -1;
}

/*
 * Read "[[...],[...]]" (or null) at s into p->emb, row by row; every row
 * must have the same length.  Returns the bytes consumed, or -1.
 */
static long
parse_rows(cdb_page *p, const char *s, size_t n, cdb_error *e)
{
	size_t i, row = 0, dim, cap;
	float *out;
	long used;

	p->dim = 0;
	if (n >= 4 && memcmp(s, "null", 4) == 0)
		return 4;
	if (n == 0 || s[0] != '[')
		return cdb_error_set(e, CDB_ERR_SERVER, "embeddings not an array");
	for (i = cdb_json_skip_ws(s, n, 1); i < n; row++) {
		if (s[i] == ']') {
			p->n = row;
			return (long)(i + 1);
		}
		if (row > 0 && s[i] != ',')
			break;
		if (row > 0)
			i = cdb_json_skip_ws(s, n, i + 1);
		/* The first row finds the dimension: room for a wide one. */
		if (emb_reserve(p, row == 0 ? 65536 : (row + 1) * p->dim, e) == -1)
			return -1;
		out = p->emb + row * p->dim;
		cap = p->emb_cap - row * p->dim;
		p->n = row;
		used = p->scan != NULL
		    ? p->scan(p->scan_arg, row, s + i, n - i, out, cap, &dim, e)
		    : cdb_embed_parse_json(s + i, n - i, out, cap, &dim, e);
		if (used == -1)
			return -1;
		if (row == 0)
			p->dim = dim;
		else if (dim != p->dim)
			return cdb_error_set(e, CDB_ERR_SERVER,
			    "server returned embeddings of %zu and %zu values "
			    "in one collection", p->dim, dim);
		i = cdb_json_skip_ws(s, n, i + (size_t)used);
	}
	return cdb_error_set(e, CDB_ERR_SERVER, "embeddings array not closed");
}

/* The answer without the numbers at [vs, ve) into root (null in their place). */
static int
parse_rest(cdb_page *p, int has, size_t vs, size_t ve, cdb_error *e)
{
	cdb_buf *rest = &p->rest;

	/* A buffer kept with the page: a new one each page cost more in
	 * malloc than the copy itself. */
	cdb_buf_reset(rest);
	if (cdb_buf_reserve(rest, p->body.len - (ve - vs) + 5) == -1 ||
	    cdb_buf_append(rest, p->body.data, vs) == -1 ||
	    (has && cdb_buf_puts(rest, "null") == -1) ||
	    cdb_buf_append(rest, p->body.data + ve, p->body.len - ve) == -1)
		return cdb_error_oom(e);
	p->root = json_loadb(rest->data, rest->len, CDB_JSON_FLAGS, NULL);
	if (p->root == NULL)
		return cdb_error_set(e, CDB_ERR_SERVER, "server answer not JSON");
	p->ids = json_object_get(p->root, "ids");
	p->documents = json_object_get(p->root, "documents");
	p->metadatas = json_object_get(p->root, "metadatas");
	p->uris = json_object_get(p->root, "uris");
	if (!json_is_array(p->ids))
		return cdb_error_set(e, CDB_ERR_SERVER, "server answer has no ids");
	return 0;
}

int
cdb_page_parse(cdb_page *p, cdb_error *e)
{
	size_t vs = p->body.len, rows = 0;
	long used = 0;
	int has;
	cdb_error pe;

	json_decref(p->root);
	p->root = p->ids = p->documents = p->metadatas = p->uris = NULL;
	p->n = p->dim = 0;
	has = cdb_json_find(p->body.data, p->body.len, "embeddings", &vs, NULL);
	if (has == -1)
		return cdb_error_set(e, CDB_ERR_SERVER, "server answer not JSON");
	if (has) {
		cdb_error_clear(&pe);
		used = parse_rows(p, p->body.data + vs, p->body.len - vs, &pe);
		if (used == -1)
			return pe.kind == CDB_ERR_INPUT
			    ? row_error(p, vs, p->n, &pe, e)
			    : cdb_error_set(e, pe.kind, "%s", pe.text);
		rows = p->n;
	}
	if (parse_rest(p, has, vs, vs + (size_t)used, e) == -1)
		return -1;
	p->n = json_array_size(p->ids);
	if (has && p->dim > 0 && rows != p->n)
		return cdb_error_set(e, CDB_ERR_SERVER,
		    "server returned %zu embeddings for %zu ids", rows, p->n);
	if (rows == 0)
		p->dim = 0;
	return 0;
}

int
cdb_page_get(cdb_chroma *c, const char *id, long offset, long limit,
    const json_t *where, const json_t *where_document, int include,
    cdb_page *p, cdb_error *e)
{
	if (cdb_chroma_get(c, id, offset, limit, where, where_document, include,
		&p->body, e) == -1)
		return -1;
	return cdb_page_parse(p, e);
}

int
cdb_page_get_ids(cdb_chroma *c, const char *id, const json_t *ids,
    int include, cdb_page *p, cdb_error *e)
{
	if (cdb_chroma_get_ids(c, id, ids, include, &p->body, e) == -1)
		return -1;
	return cdb_page_parse(p, e);
}

/*
 * The pager.  One thread, the reader's, plans every request and sees
 * every answer; the workers only send them.  So the plan needs no lock:
 * tasks go out through one queue and come back through another.
 */
enum { SL_FREE, SL_BUSY, SL_READY, SL_TAKEN };

/* A request: a page (one of the pager's slots), or a count. */
struct task {
	int state;	/* a page's: SL_* */
	int count;	/* a count of collection coll ... */
	int after;	/* ... after its pages */
	size_t coll;
	long long off;
	long n;		/* records in the answer, or the count; -1: failed */
	cdb_error err;
	cdb_page page;
};

/* What is known of one collection's pages. */
struct plan {
	long long base; /* offset of its first page */
	long long next; /* offset of the next page to request */
	long long full; /* last offset whose page came back full */
	long long end;	/* offset of its first short page; -1: not seen */
	long long stop; /* end of its range; -1: none */
	long count[2];	/* before and after its pages; -1: not known */
	int asked;	/* for the count before */
};

struct worker {
	cdb_pager *p;
	cdb_chroma *c;
	cdb_chroma *owned; /* a clone, freed with the pager */
	/* Its own copies of the filters: putting a shared value in a
	 * request changes its reference count, from every thread. */
	json_t *where, *where_document;
};

struct cdb_pager {
	cdb_pager_opts o;
	struct plan *plan;
	struct task *slots;
	int nslots;
	struct worker *w;
	cdb_queue *idle;  /* workers not yet taken by a thread */
	cdb_queue *todo;  /* tasks for the workers (at most jobs) */
	cdb_queue *done;  /* and back */
	cdb_workers *threads;
	atomic_int stop;
	int busy;	  /* tasks out */
	long due;	  /* collection to count again, or -1 */
	size_t wc;	  /* the page the reader waits for: collection */
	long long woff;	  /* ... and offset */
	int failed;
	cdb_error err;	  /* the first failure */
};

/* Records in a get answer: only its ids are parsed, a few bytes each. */
static long
fetch(struct worker *w, struct task *t)
{
	const cdb_pager_opts *o = &w->p->o;
	cdb_buf *b = &t->page.body;
	size_t is, ie;
	json_t *ids = NULL;
	long n = -1;

	if (t->count)
		return cdb_chroma_count(w->c, o->ids[t->coll], &t->err);
	if (cdb_chroma_get(w->c, o->ids[t->coll], (long)t->off, o->limit,
		w->where, w->where_document, o->include, b, &t->err) == -1)
		return -1;
	if (cdb_json_find(b->data, b->len, "ids", &is, &ie) == 1)
		ids = json_loadb(b->data + is, ie - is, CDB_JSON_FLAGS, NULL);
	if (json_is_array(ids))
		n = (long)json_array_size(ids);
	else
		cdb_error_set(&t->err, CDB_ERR_SERVER, "server answer has no ids");
	json_decref(ids);
	return n;
}

static void *
work(void *arg)
{
	cdb_pager *p = arg;
	struct worker *w = cdb_queue_pop(p->idle);
	struct task *t;

	while (w != NULL && (t = cdb_queue_pop(p->todo)) != NULL) {
		cdb_error_clear(&t->err);
		/* Closing: what is left is dropped, not sent. */
		t->n = atomic_load(&p->stop) ? -1 : fetch(w, t);
		cdb_queue_push(p->done, t);
	}
	return NULL;
}

/* A free slot (or NULL), and in *k how many there are. */
static struct task *
free_slot(cdb_pager *p, int *k)
{
	struct task *t = NULL;
	int i;

	for (i = *k = 0; i < p->nslots; i++)
		if (p->slots[i].state == SL_FREE) {
			t = &p->slots[i];
			(*k)++;
		}
	return t;
}

/* The offset where collection i should end, from its count. */
static long long
expected_end(const cdb_pager *p, const struct plan *pl)
{
	long long left = pl->count[0] - pl->base;

	return left <= 0 ? pl->base : pl->base + left / p->o.limit * p->o.limit;
}

static int
counted(const cdb_pager *p, const struct plan *pl)
{
	return pl->count[0] >= 0 && p->o.where == NULL &&
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

static struct task *
count_task(cdb_pager *p, size_t i, int after)
{
	struct task *t = calloc(1, sizeof(*t));

	if (t == NULL && !p->failed) {
		p->failed = 1;
		cdb_error_oom(&p->err);
	}
	if (t != NULL) {
		t->count = 1;
		t->after = after;
		t->coll = i;
	}
	return t;
}

/*
 * The next request, or NULL if none should start now: a count due, then
 * the pages in order, each collection's count with its first ones.
 * Requests for later pages than the one the reader waits for never take
 * the last free slot: it stays for that one, so reading ahead cannot
 * starve the reader.
 */
static struct task *
next_task(cdb_pager *p)
{
	struct plan *pl;
	int urgent, k;
	struct task *t = free_slot(p, &k);
	size_t i;

	if (p->failed)
		return NULL;
	if (p->due >= 0) {
		i = (size_t)p->due;
		p->due = -1;
		return count_task(p, i, 1);
	}
	for (i = p->wc; i < p->o.ncoll; i++) {
		pl = &p->plan[i];
		if (pl->count[0] == -1 && !pl->asked) {
			pl->asked = 1;
			return count_task(p, i, 0);
		}
		if (wanted(p, pl)) {
			urgent = i == p->wc && pl->next == p->woff;
			if (k == 0 || (!urgent && k < 2))
				return NULL;
			t->state = SL_BUSY;
			t->coll = i;
			t->off = pl->next;
			pl->next += p->o.limit;
			return t;
		}
		/* Past a collection only when it is known to be all asked for. */
		if (pl->end < 0 && !at_stop(pl) &&
		    !(counted(p, pl) && pl->next > expected_end(p, pl)))
			return NULL;
	}
	return NULL;
}

/* Pages past their collection's end are not part of the answer. */
static int
stale(const cdb_pager *p, const struct task *s)
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

/* Record an answer. */
static void
landed(cdb_pager *p, struct task *s)
{
	struct plan *pl = &p->plan[s->coll];
	long n = s->n;

	/* A page past the end is not needed; its failure is not one. */
	if (n == -1 && (s->count || !stale(p, s)) && !p->failed) {
		p->err = s->err;
		p->failed = 1;
	}
	if (s->count) {
		pl->count[s->after] = n;
		free(s);
		return;
	}
	if (n == -1) {
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

/* Send what may start. */
static void
send_tasks(cdb_pager *p)
{
	struct task *t;

	while (p->busy < p->o.jobs && (t = next_task(p)) != NULL) {
		cdb_queue_push(p->todo, t); /* room for jobs: never waits */
		p->busy++;
	}
}

/* Send what may start, then take one answer back.  -1 with e when nothing
 * is out to wait for: a request failed. */
static int
pump(cdb_pager *p, cdb_error *e)
{
	struct task *t;

	send_tasks(p);
	if (p->busy == 0) {
		if (!p->failed)
			cdb_error_set(&p->err, CDB_ERR_SYS, "pager stalled");
		*e = p->err;
		return -1;
	}
	t = cdb_queue_pop(p->done);
	p->busy--;
	landed(p, t);
	return 0;
}

/* The slot holding the page the reader waits for, or NULL. */
static struct task *
waited(cdb_pager *p)
{
	int i;

	for (i = 0; i < p->nslots; i++)
		if (p->slots[i].state == SL_READY && p->slots[i].coll == p->wc &&
		    p->slots[i].off == p->woff)
			return &p->slots[i];
	return NULL;
}

int
cdb_pager_next(cdb_pager *p, cdb_page **pg, long long *off, long *n,
    cdb_error *e)
{
	struct task *s;

	if (p->wc >= p->o.ncoll)
		return 0;
	while ((s = waited(p)) == NULL)
		if (pump(p, e) == -1)
			return -1;
	s->state = SL_TAKEN;
	*pg = &s->page;
	*off = s->off;
	*n = s->n;
	if (!ends(p, &p->plan[p->wc], s->off, s->n))
		p->woff += s->n;
	else {
		if (p->o.recount)
			p->due = (long)p->wc;
		if (++p->wc < p->o.ncoll)
			p->woff = p->plan[p->wc].base;
	}
	drop_stale(p);
	send_tasks(p);
	return 1;
}

void
cdb_pager_release(cdb_pager *p, const cdb_page *pg)
{
	int i;

	for (i = 0; i < p->nslots; i++)
		if (&p->slots[i].page == pg)
			p->slots[i].state = SL_FREE;
}

long
cdb_pager_count(cdb_pager *p, size_t i, int after, cdb_error *e)
{
	while (p->plan[i].count[after] == -1)
		if (pump(p, e) == -1)
			return -1;
	return p->plan[i].count[after];
}

static int
alloc(cdb_pager *p, cdb_chroma *c, cdb_error *e)
{
	const cdb_pager_opts *o = &p->o;
	struct plan *pl;
	size_t i;
	int k;

	p->nslots = o->jobs + 2;
	p->plan = calloc(o->ncoll ? o->ncoll : 1, sizeof(*p->plan));
	p->slots = calloc((size_t)p->nslots, sizeof(*p->slots));
	p->w = calloc((size_t)o->jobs, sizeof(*p->w));
	if (p->plan == NULL || p->slots == NULL || p->w == NULL)
		return cdb_error_oom(e);
	for (i = 0; i < o->ncoll; i++) {
		pl = &p->plan[i];
		pl->base = o->base ? o->base[i] : 0;
		if (i == 0 && o->start > pl->base)
			pl->base = o->start;
		pl->stop = o->stop ? o->stop[i] : -1;
		pl->next = pl->base;
		pl->full = pl->base - o->limit;
		pl->end = -1;
		pl->count[0] = o->counts ? o->counts[i] : -1;
		pl->count[1] = -1;
	}
	for (k = 0; k < p->nslots; k++) {
		cdb_page_init(&p->slots[k].page);
		p->slots[k].page.scan = o->scan;
		p->slots[k].page.scan_arg = o->scan_arg;
	}
	if ((p->idle = cdb_queue_new((size_t)o->jobs, e)) == NULL ||
	    (p->todo = cdb_queue_new((size_t)o->jobs, e)) == NULL ||
	    (p->done = cdb_queue_new((size_t)o->jobs, e)) == NULL)
		return -1;
	for (k = 0; k < o->jobs; k++) {
		p->w[k].p = p;
		if ((o->where != NULL &&
			(p->w[k].where = json_deep_copy(o->where)) == NULL) ||
		    (o->where_document != NULL &&
			(p->w[k].where_document =
				json_deep_copy(o->where_document)) == NULL))
			return cdb_error_oom(e);
		if (k == 0)
			p->w[k].c = c;
		else if ((p->w[k].c = p->w[k].owned = cdb_chroma_clone(c, e)) ==
		    NULL)
			return -1;
		cdb_queue_push(p->idle, &p->w[k]);
	}
	return 0;
}

cdb_pager *
cdb_pager_new(cdb_chroma *c, const cdb_pager_opts *o, cdb_error *e)
{
	cdb_pager *p;

	if (o->limit <= 0 || o->jobs < 1) {
		cdb_error_set(e, CDB_ERR_USAGE, "bad pager options");
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		cdb_error_oom(e);
		return NULL;
	}
	p->o = *o;
	p->due = -1;
	atomic_init(&p->stop, 0);
	if (alloc(p, c, e) == -1 ||
	    cdb_workers_start(&p->threads, o->jobs, work, p, e) == -1) {
		cdb_pager_free(p);
		return NULL;
	}
	p->woff = o->ncoll > 0 ? p->plan[0].base : o->start;
	return p;
}

void
cdb_pager_free(cdb_pager *p)
{
	struct task *t;
	int k;

	if (p == NULL)
		return;
	atomic_store(&p->stop, 1);
	if (p->todo != NULL)
		cdb_queue_close(p->todo);
	cdb_workers_join(p->threads);
	if (p->done != NULL)
		cdb_queue_close(p->done);
	/* Tasks left over: counts were allocated, pages are slots. */
	while ((p->todo != NULL && (t = cdb_queue_pop(p->todo)) != NULL) ||
	    (p->done != NULL && (t = cdb_queue_pop(p->done)) != NULL))
		if (t->count)
			free(t);
	for (k = 0; p->w != NULL && k < p->o.jobs; k++) {
		cdb_chroma_free(p->w[k].owned);
		json_decref(p->w[k].where);
		json_decref(p->w[k].where_document);
	}
	for (k = 0; p->slots != NULL && k < p->nslots; k++)
		cdb_page_free(&p->slots[k].page);
	cdb_queue_free(p->idle);
	cdb_queue_free(p->todo);
	cdb_queue_free(p->done);
	free(p->plan);
	free(p->slots);
	free(p->w);
	free(p);
}
