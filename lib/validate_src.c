/*
 * validate_src.c - layer 1 of the validation engine (see validate_impl.h):
 * the shared context of a run, and what the new database must hold: read
 * from the old server through the schema or from the expected streams,
 * queued in batches of one target collection.  As the records stream
 * past, the sampled queries are drawn and their reference results found:
 * the exact top-k of each vector query, the matches of each full-text
 * query.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndjson.h"
#include "validate_impl.h"

/* ---------------------------------------------------------- context -- */

void
cdb_vtest_offend(struct vtest *t, const char *coll, const char *id,
    size_t id_len, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	t->bad++;
	if (json_array_size(t->offenders) >= CDB_VALIDATE_MAX_OFFENDERS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json_array_append_new(t->offenders,
	        json_pack("{s:s?, s:s%, s:s}", "collection", coll, "id",
	            id ? id : "", id ? id_len : 0, "problem", msg)) == -1)
		t->oom = 1;
}

void
cdb_vtest_set(struct vtest *t, const char *metric, json_t *v)
{
	if (json_object_set_new(t->metrics, metric, v) == -1)
		t->oom = 1;
}

void
cdb_vtest_add(struct vtest *t, const char *metric, double n)
{
	double v = json_number_value(json_object_get(t->metrics, metric)) + n;

	cdb_vtest_set(t, metric,
	    floor(v) == v && fabs(v) < 9e15 ? json_integer((json_int_t)v)
	                                    : json_real(v));
}

double
cdb_vtest_get(const struct vtest *t, const char *metric)
{
	return json_number_value(json_object_get(t->metrics, metric));
}

int
cdb_vctx_coll(const struct vctx *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->ncolls; i++)
		if (strcmp(c->colls[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *
cdb_vctx_found_id(const struct vctx *c, const struct frec *f)
{
	return c->fids.data + f->id_off;
}

void
cdb_vctx_progress(
    struct vctx *c, const char *phase, long long done, long long total)
{
	if (c->o->progress != NULL)
		c->o->progress(c->o->arg, phase, done, total);
}

/* Say where an error happened: "new server URL: " before its text. */
void
cdb_vctx_where(cdb_error *e, const char *fmt, ...)
{
	char pre[512], msg[sizeof(pre) + sizeof(e->text) + 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s: %s", pre, e->text);
	memcpy(e->text, msg, sizeof(e->text) - 1);
	e->text[sizeof(e->text) - 1] = '\0';
}

/*
 * The counts each test reports, zero until counted, so that a program
 * reading the report finds every one (cdb-report(5)).
 */
static const char *const metric_names[CDB_VT_N] = {
    "expected_records found_records missing_records unexpected_records "
    "source_records rejected_by_schema collections_with_other_counts",
    "checked missing wrong_dimension not_finite zero zero_in_source differs",
    "records_checked",
    "queries top_k queries_compared queries_with_baseline "
    "queries_other_space text_queries text_queries_differ",
    "misplaced_records collection_metadata_differs",
    "duplicate_ids duplicate_content_records duplicate_content_in_source",
    "records_checked",
    "records_checked citations_checked broken_citations references_checked "
    "dangling_references",
};

static json_t *
zero_metrics(int t)
{
	json_t *m = json_object();
	const char *s = metric_names[t], *sp;
	char name[64];
	size_t n;

	for (; m != NULL && *s != '\0'; s += n + (sp != NULL)) {
		sp = strchr(s, ' ');
		n = sp ? (size_t)(sp - s) : strlen(s);
		snprintf(name, sizeof(name), "%.*s", (int)n, s);
		if (json_object_set_new(m, name, json_integer(0)) == -1) {
			json_decref(m);
			return NULL;
		}
	}
	return m;
}

int
cdb_vctx_init(struct vctx *c, const cdb_validate_opts *o, cdb_error *e)
{
	size_t i;
	int bad = 0;

	memset(c, 0, sizeof(*c));
	c->o = o;
	c->s = o->schema;
	cdb_buf_init(&c->fids);
	cdb_buf_init(&c->aids);
	cdb_page_init(&c->page);
	c->qin = cdb_queue_new(VQUEUE_MAX, e);
	c->qcmp = cdb_queue_new(VQUEUE_MAX, e);
	c->fmap = cdb_hmap_new();
	c->scratch = cdb_hmap_new();
	c->p.xmap = cdb_hmap_new();
	c->p.by_reason = json_object();
	c->p.offenders = json_array();
	c->p.unmapped = json_array();
	c->others = json_array();
	c->warnings = json_array();
	for (i = 0; i < CDB_VT_N; i++) {
		c->t[i].offenders = json_array();
		c->t[i].metrics = zero_metrics((int)i);
		bad |= c->t[i].offenders == NULL || c->t[i].metrics == NULL;
	}
	if (bad || c->qin == NULL || c->qcmp == NULL || c->fmap == NULL ||
	    c->scratch == NULL || c->p.xmap == NULL || c->p.by_reason == NULL ||
	    c->p.offenders == NULL || c->p.unmapped == NULL ||
	    c->others == NULL || c->warnings == NULL)
		return cdb_error_oom(e);
	return 0;
}

static void
drain(cdb_queue *q)
{
	struct vbatch *b;

	if (q == NULL)
		return;
	cdb_queue_close(q);
	while ((b = cdb_queue_pop(q)) != NULL)
		cdb_vbatch_free(b);
	cdb_queue_free(q);
}

void
cdb_vctx_free(struct vctx *c)
{
	size_t i;

	drain(c->qin);
	drain(c->qcmp);
	for (i = 0; i < c->ncolls; i++) {
		free(c->colls[i].name);
		free(c->colls[i].id);
		json_decref(c->colls[i].want);
		json_decref(c->colls[i].have);
	}
	free(c->colls);
	free(c->names);
	for (i = 0; i < c->nq; i++)
		cdb_vquery_free(&c->q[i]);
	free(c->q);
	for (i = 0; i < CDB_VT_N; i++) {
		json_decref(c->t[i].offenders);
		json_decref(c->t[i].metrics);
	}
	json_decref(c->p.by_reason);
	json_decref(c->p.offenders);
	json_decref(c->p.unmapped);
	json_decref(c->oldcolls);
	json_decref(c->others);
	json_decref(c->warnings);
	cdb_hmap_free(c->p.xmap);
	cdb_hmap_free(c->fmap);
	cdb_hmap_free(c->scratch);
	free(c->found);
	free(c->absent);
	free(c->dangle);
	cdb_buf_free(&c->fids);
	cdb_buf_free(&c->aids);
	cdb_page_free(&c->page);
	cdb_chroma_free(c->newc);
	cdb_chroma_free(c->oldc);
}

/*
 * A thread failed: every other one stops at its next batch.  The one
 * that failed holds the error; the others end without one.
 */
void
cdb_vctx_stop(struct vctx *c)
{
	atomic_store(&c->stop, 1);
	cdb_queue_close(c->qin);
	cdb_queue_close(c->qcmp);
}

/* Everything the producer thread keeps. */
struct prod {
	struct vctx *c;
	struct vbatch **open; /* per target: the batch being filled */
	cdb_schema_result *res;
	cdb_vtopk *top; /* per query: exact search */
	size_t ntop;
	int started; /* the first page was read */
	int *space;  /* per target */
	double search_s; /* spent in the exact search */
	cdb_error *e;
};

/*
 * Exact search: offer one expected record to the bounded heap of every
 * query of its target.  The queries are few (--sample), the records
 * stream past once.
 */
static int
search_record(struct prod *P, size_t coll, const char *id, size_t id_len,
    const float *emb, size_t dim)
{
	struct vctx *c = P->c;
	struct timespec t0;
	double xn = 0;
	size_t i;
	int rc = 0;

	if (emb == NULL || dim == 0 || P->ntop == 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (P->space[coll] == CDB_SPACE_COSINE)
		xn = sqrt(cdb_validate_dot(emb, emb, dim));
	for (i = 0; rc == 0 && i < P->ntop; i++) {
		struct vquery *q = &c->q[i];
		if (q->coll != coll || q->dim != dim || q->emb == NULL)
			continue;
		if (cdb_vtopk_offer(&P->top[i],
		        cdb_validate_distance(
		            P->space[coll], q->emb, q->norm, emb, xn, dim),
		        id, id_len) == -1)
			rc = cdb_error_oom(P->e);
	}
	P->search_s += cdb_elapsed(&t0);
	return rc;
}

/* ---------------------------------------------------------- batches -- */

/* Records in the first old page (then the page size). */
#define FIRST_PAGE 100

/*
 * Batches move between threads with the JSON values of their records:
 * jansson's reference counts are atomic (JSON_HAVE_ATOMIC_BUILTINS), so
 * any thread may drop them.
 */
void
cdb_vbatch_free(struct vbatch *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++) {
		json_decref(b->r[i].doc);
		json_decref(b->r[i].meta);
		json_decref(b->r[i].uri);
	}
	free(b->r);
	free(b->emb);
	cdb_buf_free(&b->ids);
	cdb_page_free(&b->page);
	free(b);
}

static struct vbatch *
vbatch_new(size_t coll, size_t cap)
{
	struct vbatch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->coll = coll;
	b->cap = cap;
	cdb_buf_init(&b->ids);
	cdb_page_init(&b->page);
	if ((b->r = calloc(cap, sizeof(*b->r))) == NULL) {
		free(b);
		return NULL;
	}
	return b;
}

/* Add a record to b (room for it checked by the caller).  0 or -1. */
static int
vbatch_add(struct vbatch *b, const char *id, size_t id_len, json_t *doc,
    json_t *meta, json_t *uri, const float *emb, size_t dim)
{
	struct vrec *r = &b->r[b->n];
	size_t want = b->emb_n + dim, cap = b->emb_cap ? b->emb_cap : 1024 * dim;
	float *f;

	if (want > b->emb_cap) {
		while (cap < want)
			cap *= 2;
		if ((f = realloc(b->emb, cap * sizeof(*f))) == NULL)
			return -1;
		b->emb = f;
		b->emb_cap = cap;
	}
	r->id_off = b->ids.len;
	r->id_len = id_len;
	if (cdb_buf_append(&b->ids, id, id_len) == -1 ||
	    cdb_buf_putc(&b->ids, '\0') == -1)
		return -1;
	r->doc = json_incref(doc);
	r->meta = json_incref(meta);
	r->uri = json_incref(uri);
	r->emb_off = b->emb_n;
	r->dim = dim;
	if (dim > 0)
		memcpy(b->emb + b->emb_n, emb, dim * sizeof(*emb));
	b->emb_n += dim;
	b->n++;
	return 0;
}

/* A new batch of b's records [from, to). */
struct vbatch *
cdb_vbatch_slice(const struct vbatch *b, size_t from, size_t to)
{
	struct vbatch *s = vbatch_new(b->coll, to - from);
	size_t i;

	for (i = from; s != NULL && i < to; i++) {
		const struct vrec *r = &b->r[i];
		if (vbatch_add(s, b->ids.data + r->id_off, r->id_len, r->doc,
		        r->meta, r->uri, b->emb + r->emb_off, r->dim) == -1) {
			cdb_vbatch_free(s);
			return NULL;
		}
		s->r[s->n - 1].key = r->key;
		s->r[s->n - 1].digest = r->digest;
	}
	return s;
}

/* Queue b on q.  -1 without an error (b freed) when another thread
 * stopped the run. */
int
cdb_vbatch_push(cdb_queue *q, struct vbatch *b)
{
	if (cdb_queue_push(q, b) == 0)
		return 0;
	cdb_vbatch_free(b);
	return -1;
}

/* Does doc (len bytes) contain text?  Chroma's $contains: bytes, case
 * and all. */
static int
contains(const char *doc, size_t len, const char *text)
{
	size_t n = strlen(text), i;

	for (i = 0; i + n <= len; i++)
		if (memcmp(doc + i, text, n) == 0)
			return 1;
	return 0;
}

/* An expected record goes by: it joins the reference of every text
 * query of its collection whose text its document contains. */
static void
text_record(
    struct vctx *c, size_t coll, const char *id, size_t len, const json_t *doc)
{
	size_t i;
	char **r;

	if (!json_is_string(doc))
		return;
	for (i = 0; i < c->nq; i++) {
		struct vquery *q = &c->q[i];
		if (q->text == NULL || q->coll != coll || q->nref > TEXT_MAX ||
		    !contains(json_string_value(doc), json_string_length(doc),
		        q->text))
			continue;
		if (q->nref == q->capref) {
			size_t cap = q->capref ? q->capref * 2 : 16;
			if ((r = realloc(q->ref, cap * sizeof(*r))) == NULL)
				continue; /* scored as a miss, never as a pass */
			q->ref = r;
			q->capref = cap;
		}
		if ((q->ref[q->nref] = strndup(id, len)) != NULL)
			q->nref++;
	}
}

/* Add one expected record to its target's batch; queue a full batch. */
static int
add_record(struct prod *P, size_t coll, const char *id, size_t id_len,
    const json_t *doc, json_t *meta, const json_t *uri, const float *emb,
    size_t dim, uint64_t key, uint64_t digest)
{
	struct vctx *c = P->c;
	struct vbatch *b = P->open[coll];

	if (b == NULL && (b = P->open[coll] = vbatch_new(
	                      coll, (size_t)c->o->page)) == NULL)
		return cdb_error_oom(P->e);
	if (vbatch_add(b, id, id_len, (json_t *)doc, meta, (json_t *)uri, emb,
	        dim) == -1)
		return cdb_error_oom(P->e);
	b->r[b->n - 1].key = key;
	b->r[b->n - 1].digest = digest;
	c->colls[coll].expected++;
	if (c->ntext > 0)
		text_record(c, coll, id, id_len, doc);
	if (b->n < b->cap)
		return 0;
	P->open[coll] = NULL;
	return cdb_vbatch_push(c->qin, b);
}

static int
flush_all(struct prod *P)
{
	size_t i;

	for (i = 0; i < P->c->ncolls; i++) {
		struct vbatch *b = P->open[i];
		P->open[i] = NULL;
		if (b != NULL && cdb_vbatch_push(P->c->qin, b) == -1)
			return -1;
	}
	return 0;
}

/* --------------------------------------------------------- sampling -- */

static void
free_ids(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

void
cdb_vquery_free(struct vquery *q)
{
	free(q->name);
	free(q->emb);
	free_ids(q->ref, q->nref);
	free_ids(q->old, q->nold);
	free(q->old_d);
	free_ids(q->got, q->ngot);
	free(q->got_d);
	free(q->err);
	free(q->text);
	memset(q, 0, sizeof(*q));
}

/* Give q a copy of the vector emb. */
int
cdb_vquery_set_vector(struct vquery *q, const float *emb, size_t dim, cdb_error *e)
{
	free(q->emb);
	if ((q->emb = malloc(dim * sizeof(*q->emb))) == NULL)
		return cdb_error_oom(e);
	memcpy(q->emb, emb, dim * sizeof(*emb));
	q->dim = dim;
	q->norm = sqrt(cdb_validate_dot(emb, emb, dim));
	return 0;
}

/* Make q the query of record id (len bytes) of coll, vector emb. */
static int
query_of(struct vquery *q, size_t coll, const char *id, size_t len,
    const float *emb, size_t dim, cdb_error *e)
{
	cdb_vquery_free(q);
	q->coll = coll;
	q->overlap = -1;
	if ((q->name = strndup(id, len)) == NULL)
		return cdb_error_oom(e);
	return cdb_vquery_set_vector(q, emb, dim, e);
}

/* Offer an expected record to the sampler of semantic queries. */
static int
sample(struct vctx *c, size_t coll, const char *id, size_t id_len,
    const float *emb, size_t dim, cdb_error *e)
{
	long slot;

	if (!c->sampled || dim == 0)
		return 0;
	if ((slot = cdb_vsampler_offer(&c->p.sampler, c->p.seen++)) < 0)
		return 0;
	if ((size_t)slot >= c->nq)
		c->nq = (size_t)slot + 1;
	return query_of(&c->q[slot], coll, id, id_len, emb, dim, e);
}

/* ------------------------------------------------------- old server -- */

/* The line cdb-export writes for an old collection object. */
static json_t *
source_line(const json_t *coll)
{
	return json_pack("{s:s, s:O, s:O?, s:O?, s:O?}", "kind", "collection",
	    "name", json_object_get(coll, "name"), "metadata",
	    json_object_get(coll, "metadata"), "configuration",
	    json_object_get(coll, "configuration_json"), "dimension",
	    json_object_get(coll, "dimension"));
}

/* Add target name, expected as want (taken, even on failure; NULL: out
 * of memory). */
static int
add_target(struct vctx *c, const char *name, json_t *want, cdb_error *e)
{
	struct vcoll *nc = NULL;

	if (want == NULL ||
	    (nc = realloc(c->colls, (c->ncolls + 1) * sizeof(*nc))) == NULL) {
		json_decref(want);
		return cdb_error_oom(e);
	}
	c->colls = nc;
	memset(&nc[c->ncolls], 0, sizeof(*nc));
	nc[c->ncolls].want = want;
	nc[c->ncolls].name = strdup(name);
	return nc[c->ncolls++].name == NULL ? cdb_error_oom(e) : 0;
}

/* Without a schema: a straight copy, each collection to its own name. */
static int
same_targets(struct vctx *c, cdb_error *e)
{
	const char *name;
	json_t *coll;
	size_t i;

	json_array_foreach(c->oldcolls, i, coll)
	{
		name = json_string_value(json_object_get(coll, "name"));
		if (name != NULL && add_target(c, name, source_line(coll), e))
			return -1;
	}
	return 0;
}

/* Does the old collection called name feed any target? */
static int
old_maps(const struct vctx *c, const char *name)
{
	return name != NULL && (c->s == NULL || cdb_schema_maps(c->s, name));
}

/* Targets of the old collections the schema maps, in the schema's order. */
static int
old_targets(struct vctx *c, cdb_error *e)
{
	size_t nt, i, t;
	int *dest;
	json_t *coll, **want;
	const char *name;
	int rc = 0;

	if (c->s == NULL)
		return same_targets(c, e);
	nt = cdb_schema_ntargets(c->s);
	dest = calloc(nt + 1, sizeof(*dest));
	want = calloc(nt + 1, sizeof(*want));
	if (dest == NULL || want == NULL)
		rc = cdb_error_oom(e);
	json_array_foreach(rc == 0 ? c->oldcolls : NULL, i, coll)
	{
		name = json_string_value(json_object_get(coll, "name"));
		if (name == NULL || !cdb_schema_maps(c->s, name)) {
			if (json_array_append_new(c->p.unmapped,
			        json_string(name ? name : "?")) == -1)
				rc = cdb_error_oom(e);
			continue;
		}
		cdb_schema_destinations(c->s, name, dest);
		for (t = 0; t < nt; t++) {
			json_t *src;
			if (!dest[t] || want[t] != NULL)
				continue;
			src = source_line(coll);
			want[t] =
			    src ? cdb_schema_collection_line(c->s, (int)t, src)
			        : NULL;
			json_decref(src);
			if (want[t] == NULL)
				rc = cdb_error_oom(e);
		}
	}
	for (t = 0; t < nt && want != NULL; t++)
		if (want[t] != NULL) {
			if (rc == 0)
				rc = add_target(c,
				    cdb_schema_target_name(c->s, t), want[t],
				    e);
			else
				json_decref(want[t]);
		}
	free(dest);
	free(want);
	return rc;
}

/* Connect to the old server and list its collections. */
static int
connect_old(struct vctx *c, cdb_error *e)
{
	const cdb_validate_opts *o = c->o;

	c->oldc = cdb_chroma_new(
	    o->old_url, o->old_tenant, o->old_database, o->http, e);
	if (c->oldc == NULL)
		return -1;
	if (cdb_chroma_heartbeat(c->oldc, e) == -1 ||
	    cdb_chroma_check_database(c->oldc, e) == -1 ||
	    (c->oldcolls = cdb_chroma_list(c->oldc, e)) == NULL) {
		cdb_vctx_where(e, "old server");
		return -1;
	}
	return 0;
}

static int reject(struct prod *P, int reason, const char *coll,
    const char *id, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Count a source record that is not expected, and list the first (the
 * list only as cdb_vtest_offend's).  0, or -1 out of memory. */
static int
reject(struct prod *P, int reason, const char *coll, const char *id,
    size_t len, const char *fmt, ...)
{
	struct vprod *p = &P->c->p;
	const char *why = cdb_schema_reason_name(reason);
	json_t *n = json_object_get(p->by_reason, why);
	char msg[700];
	va_list ap;

	p->rejected++;
	if (json_object_set_new(p->by_reason, why,
	        json_integer(n ? json_integer_value(n) + 1 : 1)) == -1)
		return cdb_error_oom(P->e);
	if (json_array_size(p->offenders) >= CDB_VALIDATE_MAX_OFFENDERS)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)json_array_append_new(
	    p->offenders, json_pack("{s:s, s:s%, s:s}", "collection", coll,
	                      "id", id, len, "problem", msg));
	return 0;
}

/*
 * Where old record i of pg goes: its target collection (index), id and
 * metadata, through the schema, or unchanged without one.  1 when it
 * has a target, 0 when the schema rejects it (r says why), -1 on error.
 */
int
cdb_vsrc_map_old(struct vctx *c, cdb_schema_result *r, const char *src,
    const cdb_page *pg, size_t i, struct vmapped *m, cdb_error *e)
{
	json_t *idv = json_array_get(pg->ids, i);
	json_t *meta = json_array_get(pg->metadatas, i);
	int rc;

	m->id = json_string_value(idv);
	m->len = json_string_length(idv);
	m->meta = json_is_object(meta) ? meta : NULL;
	if (c->s == NULL) {
		m->coll = cdb_vctx_coll(c, src);
		return m->coll >= 0 && m->id != NULL;
	}
	rc = cdb_schema_apply(c->s, src, m->id, m->len,
	    json_array_get(pg->documents, i), meta,
	    json_array_get(pg->uris, i), r, e);
	if (rc != 0)
		return rc == 1 ? 0 : -1;
	if ((m->coll = cdb_vctx_coll(c, r->collection)) < 0)
		return 0;
	m->id = r->id.data;
	m->len = r->id.len;
	m->meta = r->metadata;
	return 1;
}

/* Map one old record and queue what it becomes. */
static int
old_record(struct prod *P, const char *src, const cdb_page *pg, size_t i)
{
	struct vctx *c = P->c;
	json_t *idv = json_array_get(pg->ids, i);
	json_t *doc = json_array_get(pg->documents, i);
	json_t *uri = json_array_get(pg->uris, i);
	const float *emb = pg->dim ? pg->emb + i * pg->dim : NULL;
	uint64_t key, digest, old;
	struct vmapped m;
	int rc;

	c->p.source_records++;
	if ((rc = cdb_vsrc_map_old(c, P->res, src, pg, i, &m, P->e)) == -1)
		return -1;
	if (rc == 0)
		return reject(P, P->res->reason, src, json_string_value(idv),
		    json_string_length(idv),
		    "the schema rejects this source record: %s", P->res->text);
	key = cdb_hmap_key(c->names[m.coll], m.id, m.len);
	digest = cdb_validate_content_digest(doc, emb, pg->dim);
	if ((rc = cdb_hmap_put(c->p.xmap, key, digest, &old)) == -1)
		return cdb_error_oom(P->e);
	if (rc == 0) {
		/* cdb-transform rejects the second record of one target id. */
		return reject(P, CDB_REJECT_COLLISION, src,
		    json_string_value(idv), json_string_length(idv),
		    "its target id is already used by an earlier record: not "
		    "expected");
	}
	if (search_record(P, (size_t)m.coll, m.id, m.len, emb, pg->dim) == -1)
		return -1;
	return add_record(P, (size_t)m.coll, m.id, m.len, doc, m.meta, uri,
	    emb, pg->dim, key, digest);
}

static int
read_old_collection(struct prod *P, const json_t *coll, cdb_page *pg)
{
	struct vctx *c = P->c;
	const char *name = json_string_value(json_object_get(coll, "name"));
	const char *id = json_string_value(json_object_get(coll, "id"));
	long off, lim;
	size_t i;

	for (off = 0;; off += lim) {
		/* A small first page gets the new server's side going. */
		lim = P->started || c->o->page < FIRST_PAGE ? c->o->page
		                                            : FIRST_PAGE;
		if (atomic_load(&c->stop))
			return -1;
		if (cdb_page_get(c->oldc, id, off, lim, NULL, NULL,
		        CDB_INC_ALL, pg, P->e) == -1)
			return -1;
		for (i = 0; i < pg->n; i++)
			if (old_record(P, name, pg, i) == -1)
				return -1;
		/* Queue what the page gave at once: the consumer waits. */
		P->started = 1;
		if (flush_all(P) == -1)
			return -1;
		if (pg->n < (size_t)lim)
			return 0;
	}
}

static int
read_old(struct prod *P)
{
	struct vctx *c = P->c;
	json_t *coll;
	cdb_page pg;
	size_t i;
	int rc = 0;

	cdb_page_init(&pg);
	json_array_foreach(c->oldcolls, i, coll)
	{
		const char *name =
		    json_string_value(json_object_get(coll, "name"));
		if (!old_maps(c, name))
			continue;
		if ((rc = read_old_collection(P, coll, &pg)) == -1)
			break;
	}
	cdb_page_free(&pg);
	return rc;
}

/* ---------------------------------------------------- expected file -- */

/*
 * The stream names the schema that made it: checking it with another
 * schema may judge it wrongly, which the report must say.
 */
static int
check_stream_schema(struct vctx *c, const json_t *header, cdb_error *e)
{
	const char *d = json_string_value(
	    json_object_get(json_object_get(header, "schema"), "digest"));
	char msg[300];

	if (c->s == NULL || d == NULL ||
	    strcmp(d, cdb_schema_digest(c->s)) == 0)
		return 0;
	snprintf(msg, sizeof(msg),
	    "the expected stream was made with schema %s, -s gives %s", d,
	    cdb_schema_digest(c->s));
	if (json_array_append_new(c->warnings, json_string(msg)) == -1)
		return cdb_error_oom(e);
	return 0;
}

typedef int item_fn(struct vctx *c, const cdb_item *it, void *arg,
    cdb_error *e);

/* Pass 1: the target collections (a collection line repeated by another
 * shard is the same collection), the sampled queries. */
static int
scan_item(struct vctx *c, const cdb_item *it, void *arg, cdb_error *e)
{
	const char *n = json_string_value(json_object_get(it->obj, "name"));

	(void)arg;
	if (it->kind == CDB_KIND_RECORD)
		return sample(c, (size_t)cdb_vctx_coll(c, it->collection),
		    it->id, it->id_len, it->emb, it->emb ? it->dim : 0, e);
	if (it->kind != CDB_KIND_COLLECTION || cdb_vctx_coll(c, n) >= 0)
		return 0;
	return add_target(c, n, json_deep_copy(it->obj), e);
}

/* Call fn on every item of every expected stream, in turn: one set. */
static int
each_item(struct vctx *c, item_fn *fn, void *arg, cdb_error *e)
{
	const char *name;
	cdb_reader *rd;
	cdb_item it;
	FILE *fp;
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < c->o->nexpected; i++) {
		name = c->o->expected[i];
		if ((fp = fopen(name, "r")) == NULL)
			return cdb_error_sys(e, errno, "%s", name);
		if ((rd = cdb_reader_new(fp, name, 0)) == NULL)
			rc = cdb_error_oom(e);
		while (rc == 0 && (rc = cdb_reader_next(rd, &it, e)) == 1)
			rc = fn(c, &it, arg, e);
		if (rc == 0 && fn == scan_item)
			rc = check_stream_schema(c, cdb_reader_header(rd), e);
		cdb_reader_free(rd);
		fclose(fp);
		if (rc == -1 && e->line > 0)
			cdb_vctx_where(e, "%s:%ld", name, e->line);
	}
	return rc;
}

/* Pass 2: every expected record. */
static int
file_record(struct vctx *c, const cdb_item *it, void *arg, cdb_error *e)
{
	struct prod *P = arg;
	const float *emb = it->emb_form != CDB_EMB_NONE ? it->emb : NULL;
	size_t dim = emb ? it->dim : 0;
	json_t *meta = json_is_object(it->metadata) ? it->metadata : NULL;
	uint64_t key, digest;
	int coll, rc;

	if (it->kind != CDB_KIND_RECORD)
		return 0;
	if (atomic_load(&c->stop))
		return -1;
	coll = cdb_vctx_coll(c, it->collection);
	key = cdb_hmap_key(it->collection, it->id, it->id_len);
	digest = cdb_validate_content_digest(it->document, emb, dim);
	c->p.source_records++;
	if ((rc = cdb_hmap_put(c->p.xmap, key, digest, NULL)) == -1)
		return cdb_error_oom(e);
	if (rc == 0) {
		return reject(P, CDB_REJECT_COLLISION, it->collection, it->id,
		    it->id_len,
		    "the expected stream holds this id twice in the "
		    "collection: only one can be stored");
	}
	if (search_record(P, (size_t)coll, it->id, it->id_len, emb, dim) == -1)
		return -1;
	return add_record(P, (size_t)coll, it->id, it->id_len, it->document,
	    meta, it->uri, emb, dim, key, digest);
}

/* A record a query names (want: key -> query): its vector. */
static int
find_item(struct vctx *c, const cdb_item *it, void *want, cdb_error *e)
{
	uint64_t qi;

	if (it->kind != CDB_KIND_RECORD || it->emb == NULL ||
	    it->emb_form == CDB_EMB_NONE ||
	    !cdb_hmap_get(want, cdb_hmap_key(it->collection, it->id, it->id_len),
	        &qi))
		return 0;
	return cdb_vquery_set_vector(&c->q[qi], it->emb, it->dim, e);
}

/*
 * The vectors of the queries that name a record (want: key -> query),
 * from the expected streams: one more pass, only for queries files with
 * such lines.
 */
int
cdb_vsrc_find_ids_file(struct vctx *c, cdb_hmap *want, cdb_error *e)
{
	return each_item(c, find_item, want, e);
}

/* The exact results become the queries' reference results. */
static void
keep_search(struct prod *P)
{
	struct vctx *c = P->c;
	size_t i;

	for (i = 0; i < P->ntop; i++) {
		cdb_vtopk *t = &P->top[i];
		if (c->q[i].text != NULL)
			continue; /* its reference is a set: text_record */
		c->q[i].ref = t->id;
		c->q[i].nref = t->n;
		c->q[i].kth = t->n > 0 ? t->dist[t->n - 1] : 0;
		t->id = NULL;
		t->n = 0;
	}
	c->search_s = P->search_s;
}

/* ------------------------------------------------- old-mode sample -- */

static int
by_position(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* A query of the sampled old record in pg, if it has a target. */
static int
take_sampled(struct vctx *c, const char *src, const cdb_page *pg,
    cdb_schema_result *r, cdb_error *e)
{
	struct vmapped m;
	int rc;

	if (pg->n != 1 || pg->dim == 0)
		return 0;
	if ((rc = cdb_vsrc_map_old(c, r, src, pg, 0, &m, e)) != 1)
		return rc;
	c->nq++;
	return query_of(
	    &c->q[c->nq - 1], (size_t)m.coll, m.id, m.len, pg->emb, pg->dim, e);
}

/* Fetch the sampled positions pos[0..n) (sorted) of the old collections,
 * which hold count[i] records each. */
static int
fetch_sampled(struct vctx *c, const long long *count, const long long *pos,
    size_t n, cdb_error *e)
{
	cdb_schema_result *r = NULL;
	long long base = 0;
	size_t i, k = 0;
	json_t *coll;
	cdb_page pg;
	int rc = 0;

	if (c->s != NULL && (r = cdb_schema_result_new(c->s)) == NULL)
		return cdb_error_oom(e);
	cdb_page_init(&pg);
	json_array_foreach(c->oldcolls, i, coll)
	{
		const char *name =
		    json_string_value(json_object_get(coll, "name"));
		const char *id = json_string_value(json_object_get(coll, "id"));
		for (; rc == 0 && k < n && pos[k] < base + count[i]; k++) {
			rc = cdb_page_get(c->oldc, id, (long)(pos[k] - base),
			    1, NULL, NULL, CDB_INC_ALL, &pg, e);
			if (rc == 0)
				rc = take_sampled(c, name, &pg, r, e);
		}
		base += count[i];
	}
	cdb_page_free(&pg);
	cdb_schema_result_free(r);
	return rc;
}

/*
 * From the old server the queries are drawn before the records are read,
 * so that the exact search can run as they stream past: a uniform sample
 * of positions among the mapped collections' records (by their counts
 * now), each fetched alone.  A sampled record the schema rejects, or
 * without an embedding, makes no query.
 */
static int
presample(struct vctx *c, cdb_error *e)
{
	size_t nsrc = json_array_size(c->oldcolls), i, n = 0;
	long long *count = calloc(nsrc + 1, sizeof(*count));
	long long *pos = calloc((size_t)c->o->sample + 1, sizeof(*pos));
	long long total = 0, p;
	cdb_vsampler smp;
	json_t *coll;
	long slot;
	int rc = 0;

	if (count == NULL || pos == NULL)
		rc = cdb_error_oom(e);
	json_array_foreach(rc == 0 ? c->oldcolls : NULL, i, coll)
	{
		const char *id = json_string_value(json_object_get(coll, "id"));
		if (!old_maps(c, json_string_value(json_object_get(coll, "name"))))
			continue;
		if ((count[i] = cdb_chroma_count(c->oldc, id, e)) < 0) {
			cdb_vctx_where(e, "old server");
			rc = -1;
			break;
		}
		total += count[i];
	}
	cdb_vsampler_init(&smp, c->o->sample, c->o->seed);
	for (p = 0; rc == 0 && p < total; p++)
		if ((slot = cdb_vsampler_offer(&smp, p)) >= 0) {
			pos[slot] = p;
			if ((size_t)slot >= n)
				n = (size_t)slot + 1;
		}
	qsort(pos, n, sizeof(*pos), by_position);
	if (rc == 0)
		rc = fetch_sampled(c, count, pos, n, e);
	free(count);
	free(pos);
	return rc;
}

/* ---------------------------------------------------------- produce -- */

/* The targets, the queries to draw before the records stream past. */
int
cdb_vsrc_prepare(struct vctx *c, cdb_error *e)
{
	size_t i;

	if (c->o->queries == NULL && c->o->sample > 0) {
		c->sampled = 1;
		cdb_vsampler_init(&c->p.sampler, c->o->sample, c->o->seed);
		if ((c->q = calloc((size_t)c->o->sample, sizeof(*c->q))) ==
		    NULL)
			return cdb_error_oom(e);
	}
	if (c->o->old_url != NULL && connect_old(c, e) == -1)
		return -1;
	if ((c->o->nexpected ? each_item(c, scan_item, NULL, e)
	                     : old_targets(c, e)) == -1)
		return -1;
	if ((c->names = calloc(c->ncolls + 1, sizeof(*c->names))) == NULL)
		return cdb_error_oom(e);
	for (i = 0; i < c->ncolls; i++)
		c->names[i] = c->colls[i].name;
	if (c->o->nexpected == 0 && c->sampled)
		return presample(c, e);
	return 0;
}

static int
prod_init(struct prod *P, struct vctx *c, cdb_error *e)
{
	size_t i;

	memset(P, 0, sizeof(*P));
	P->c = c;
	P->e = e;
	P->open = calloc(c->ncolls + 1, sizeof(*P->open));
	P->space = calloc(c->ncolls + 1, sizeof(*P->space));
	/* Sampled queries are known before the file is read again. */
	P->ntop = c->nq;
	P->top = calloc(P->ntop + 1, sizeof(*P->top));
	if (c->s != NULL && (P->res = cdb_schema_result_new(c->s)) == NULL)
		return cdb_error_oom(e);
	if (P->open == NULL || P->space == NULL || P->top == NULL)
		return cdb_error_oom(e);
	for (i = 0; i < c->ncolls; i++)
		P->space[i] = cdb_validate_space(
		    json_object_get(c->colls[i].want, "configuration"));
	for (i = 0; i < P->ntop; i++)
		if (cdb_vtopk_init(&P->top[i], (size_t)c->o->top_k) == -1)
			return cdb_error_oom(e);
	return 0;
}

static void
prod_free(struct prod *P)
{
	size_t i;

	for (i = 0; P->open != NULL && i < P->c->ncolls; i++)
		cdb_vbatch_free(P->open[i]);
	for (i = 0; P->top != NULL && i < P->ntop; i++)
		cdb_vtopk_free(&P->top[i]);
	free(P->open);
	free(P->space);
	free(P->top);
	cdb_schema_result_free(P->res);
}

int
cdb_vsrc_produce(struct vctx *c, cdb_error *e)
{
	struct prod P;
	int rc;

	rc = prod_init(&P, c, e);
	if (rc == 0)
		rc = c->o->nexpected ? each_item(c, file_record, &P, e)
		                     : read_old(&P);
	if (rc == 0)
		rc = flush_all(&P);
	if (rc == 0)
		keep_search(&P);
	prod_free(&P);
	return rc;
}
