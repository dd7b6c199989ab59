/*
 * validate_src.c - the producer of a validation run: what the new
 * database must hold, read from the old server through the schema or
 * from an expected stream, queued in batches of one target collection;
 * the sampling of semantic queries; and their reference results (the old
 * server's answers, or an exact search of the expected stream).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndjson.h"
#include "validate_impl.h"

/* Everything the producer thread keeps. */
struct prod {
	struct vctx *c;
	struct vbatch **open; /* per target: the batch being filled */
	cdb_schema_result *res;
	cdb_vtopk *top; /* per query: exact search (file mode) */
	size_t ntop;
	int started; /* the first page was read */
	int *space;  /* per target (file mode) */
	cdb_buf key;
	double search_s; /* spent in the exact search */
	cdb_error *e;
};

static int search_record(struct prod *P, size_t coll, const char *id,
    size_t id_len, const float *emb, size_t dim);

/* ---------------------------------------------------------- batches -- */

/* Records in the first old page (then the page size). */
#define FIRST_PAGE 100

void
vbatch_free(struct vbatch *b)
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
	vpage_give(b->ctx, &b->page);
	free(b);
}

static struct vbatch *
vbatch_new(struct vctx *c, size_t coll, size_t cap)
{
	struct vbatch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->ctx = c;
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

static int emb_room(struct vbatch *b, size_t dim);

/* A new batch of copies of b's records [from, to). */
struct vbatch *
vbatch_slice(const struct vbatch *b, size_t from, size_t to)
{
	struct vbatch *s = vbatch_new(b->ctx, b->coll, to - from);
	size_t i;

	for (i = from; s != NULL && i < to; i++) {
		const struct vrec *r = &b->r[i];
		struct vrec *t = &s->r[s->n];
		*t = *r;
		t->id_off = s->ids.len;
		t->emb_off = s->emb_n;
		/* Copies: this runs in the fetcher, and reference counts
		 * of the producer's values are the producer's business. */
		t->doc = json_deep_copy(r->doc);
		t->meta = json_deep_copy(r->meta);
		t->uri = json_deep_copy(r->uri);
		s->n++;
		if (cdb_buf_append(&s->ids, b->ids.data + r->id_off,
		        r->id_len + 1) == -1 ||
		    (r->dim > 0 && emb_room(s, r->dim) == -1)) {
			vbatch_free(s);
			return NULL;
		}
		memcpy(s->emb + s->emb_n, b->emb + r->emb_off,
		    r->dim * sizeof(*s->emb));
		s->emb_n += r->dim;
	}
	return s;
}

static int
emb_room(struct vbatch *b, size_t dim)
{
	size_t want = b->emb_n + dim, cap;
	float *f;

	if (want <= b->emb_cap)
		return 0;
	cap = b->emb_cap ? b->emb_cap * 2 : 1024 * dim;
	while (cap < want)
		cap *= 2;
	if ((f = realloc(b->emb, cap * sizeof(*f))) == NULL)
		return -1;
	b->emb = f;
	b->emb_cap = cap;
	return 0;
}

/* Free the batches the other threads are done with. */
static void
free_spent(struct vctx *c)
{
	struct vbatch *b, *next;

	pthread_mutex_lock(&c->mu);
	b = c->spent;
	c->spent = NULL;
	pthread_mutex_unlock(&c->mu);
	for (; b != NULL; b = next) {
		next = b->next;
		vbatch_free(b);
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
	struct vrec *r;

	if (b == NULL)
		free_spent(c);
	if (b == NULL && (b = P->open[coll] = vbatch_new(
	                      c, coll, (size_t)c->o->page)) == NULL)
		return cdb_error_oom(P->e);
	r = &b->r[b->n];
	r->id_off = b->ids.len;
	r->id_len = id_len;
	if (cdb_buf_append(&b->ids, id, id_len) == -1 ||
	    cdb_buf_putc(&b->ids, '\0') == -1 ||
	    (dim > 0 && emb_room(b, dim) == -1))
		return cdb_error_oom(P->e);
	r->doc = json_incref((json_t *)doc);
	r->meta = json_incref(meta);
	r->uri = json_incref((json_t *)uri);
	r->emb_off = b->emb_n;
	r->dim = dim;
	if (dim > 0)
		memcpy(b->emb + b->emb_n, emb, dim * sizeof(*emb));
	b->emb_n += dim;
	r->key = key;
	r->digest = digest;
	c->colls[coll].expected++;
	if (c->ntext > 0)
		vsem_text_record(c, coll, id, id_len, doc);
	if (++b->n < b->cap)
		return 0;
	P->open[coll] = NULL;
	return vq_push(c, &c->qin, b) == -1
	           ? cdb_error_set(P->e, CDB_ERR_SYS, "stopped")
	           : 0;
}

static int
flush_all(struct prod *P)
{
	size_t i;

	for (i = 0; i < P->c->ncolls; i++) {
		struct vbatch *b = P->open[i];
		P->open[i] = NULL;
		if (b != NULL && vq_push(P->c, &P->c->qin, b) == -1)
			return cdb_error_set(P->e, CDB_ERR_SYS, "stopped");
	}
	return 0;
}

/* --------------------------------------------------------- sampling -- */

void
vquery_free(struct vquery *q)
{
	size_t i;

	free(q->name);
	free(q->emb);
	for (i = 0; i < q->nref; i++)
		free(q->ref[i]);
	free(q->ref);
	for (i = 0; i < q->nold; i++)
		free(q->old[i]);
	free(q->old);
	free(q->old_d);
	for (i = 0; i < q->ngot; i++)
		free(q->got[i]);
	free(q->got);
	free(q->got_d);
	free(q->err);
	free(q->text);
	memset(q, 0, sizeof(*q));
}

/* Give q a copy of the vector emb. */
int
vquery_set_vector(struct vquery *q, const float *emb, size_t dim, cdb_error *e)
{
	free(q->emb);
	if ((q->emb = malloc(dim * sizeof(*q->emb))) == NULL)
		return cdb_error_oom(e);
	memcpy(q->emb, emb, dim * sizeof(*emb));
	q->dim = dim;
	q->norm = sqrt(cdb_validate_dot(emb, emb, dim));
	return 0;
}

/* Offer an expected record to the sampler of semantic queries. */
static int
sample(struct vctx *c, size_t coll, const char *id, size_t id_len,
    const float *emb, size_t dim)
{
	struct vquery *q;
	long slot;

	if (!c->sampled || dim == 0)
		return 0;
	slot = cdb_vsampler_offer(&c->p.sampler, c->p.seen++);
	if (slot < 0)
		return 0;
	q = &c->q[slot];
	vquery_free(q);
	if ((size_t)slot >= c->nq)
		c->nq = (size_t)slot + 1;
	q->coll = coll;
	q->dim = dim;
	q->overlap = -1;
	q->name = strndup(id, id_len);
	q->emb = malloc(dim * sizeof(*q->emb));
	if (q->name == NULL || q->emb == NULL)
		return -1;
	memcpy(q->emb, emb, dim * sizeof(*emb));
	q->norm = sqrt(cdb_validate_dot(emb, emb, dim));
	return 0;
}

/* ------------------------------------------------------- old server -- */

/* The line cdb-export writes for an old collection object. */
static json_t *
source_line(const json_t *coll)
{
	json_t *m = json_object_get(coll, "metadata");
	json_t *cf = json_object_get(coll, "configuration_json");

	return json_pack("{s:s, s:O, s:O, s:O, s:O}", "kind", "collection",
	    "name", json_object_get(coll, "name"), "metadata",
	    m ? m : json_null(), "configuration", cf ? cf : json_null(),
	    "dimension",
	    json_object_get(coll, "dimension")
	        ? json_object_get(coll, "dimension")
	        : json_null());
}

static int
add_target(struct vctx *c, const char *name, json_t *want, cdb_error *e)
{
	struct vcoll *nc;

	nc = realloc(c->colls, (c->ncolls + 1) * sizeof(*nc));
	if (nc == NULL) {
		json_decref(want);
		return cdb_error_oom(e);
	}
	c->colls = nc;
	memset(&nc[c->ncolls], 0, sizeof(*nc));
	nc[c->ncolls].want = want;
	if ((nc[c->ncolls].name = strdup(name)) == NULL)
		return cdb_error_oom(e);
	c->ncolls++;
	return 0;
}

/* Without a schema: a straight copy, each collection to its own name. */
static int
same_targets(struct vctx *c, cdb_error *e)
{
	json_t *coll, *want;
	const char *name;
	size_t i;

	json_array_foreach(c->oldcolls, i, coll)
	{
		name = json_string_value(json_object_get(coll, "name"));
		if (name == NULL)
			continue;
		if ((want = source_line(coll)) == NULL)
			return cdb_error_oom(e);
		if (add_target(c, name, want, e) == -1)
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
			json_array_append_new(
			    c->p.unmapped, json_string(name ? name : "?"));
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
				rc = cdb_error_set(e, CDB_ERR_SYS,
				    "out of "
				    "memory");
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
		verror_prefix(e, "old server");
		return -1;
	}
	return 0;
}

static void reject(struct vctx *c, int reason, const char *coll, const char *id,
    size_t len, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Count a source record that is not expected, and list the first. */
static void
reject(struct vctx *c, int reason, const char *coll, const char *id, size_t len,
    const char *fmt, ...)
{
	const char *why = cdb_schema_reason_name(reason);
	json_t *n = json_object_get(c->p.by_reason, why);
	char msg[700];
	va_list ap;

	c->p.rejected++;
	json_object_set_new(c->p.by_reason, why,
	    json_integer(n ? json_integer_value(n) + 1 : 1));
	if (json_array_size(c->p.offenders) >= CDB_VALIDATE_MAX_OFFENDERS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_append_new(
	    c->p.offenders, json_pack("{s:s, s:s%, s:s}", "collection", coll,
	                        "id", id, len, "problem", msg));
}

/*
 * Where old record i of pg goes: its target collection (index), id and
 * metadata, through the schema, or unchanged without one.  1 when it
 * has a target, 0 when the schema rejects it (r says why), -1 on error.
 */
int
vsrc_map_old(struct vctx *c, cdb_schema_result *r, const char *src,
    const cdb_page *pg, size_t i, struct vmapped *m, cdb_error *e)
{
	json_t *idv = json_array_get(pg->ids, i);
	json_t *meta = json_array_get(pg->metadatas, i);
	int rc;

	m->id = json_string_value(idv);
	m->len = json_string_length(idv);
	m->meta = json_is_object(meta) ? meta : NULL;
	if (c->s == NULL) {
		m->coll = vctx_coll_index(c, src);
		return m->coll >= 0 && m->id != NULL;
	}
	rc = cdb_schema_apply(c->s, src, m->id, m->len,
	    json_array_get(pg->documents, i), meta,
	    json_array_get(pg->uris, i), r, e);
	if (rc != 0)
		return rc == 1 ? 0 : -1;
	if ((m->coll = vctx_coll_index(c, r->collection)) < 0)
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
	if ((rc = vsrc_map_old(c, P->res, src, pg, i, &m, P->e)) == -1)
		return -1;
	if (rc == 0) {
		reject(c, P->res->reason, src, json_string_value(idv),
		    json_string_length(idv),
		    "the schema rejects this source "
		    "record: %s",
		    P->res->text);
		return 0;
	}
	key = cdb_hmap_key(c->names[m.coll], m.id, m.len);
	digest = cdb_validate_content_digest(doc, emb, pg->dim);
	if ((rc = cdb_hmap_put(c->p.xmap, key, digest, &old)) == -1)
		return cdb_error_oom(P->e);
	if (rc == 0) {
		/* cdb-transform rejects the second record of one target id. */
		c->p.collisions++;
		reject(c, CDB_REJECT_COLLISION, src, json_string_value(idv),
		    json_string_length(idv),
		    "its target id is already used by an earlier record: not "
		    "expected");
		return 0;
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
	long off, lim, n0 = (long)c->p.source_records;
	size_t i;

	for (off = 0;; off += lim) {
		/* A small first page gets the new server's side going. */
		lim = P->started || c->o->page < FIRST_PAGE ? c->o->page
		                                            : FIRST_PAGE;
		if (vq_stopped(c))
			return cdb_error_set(P->e, CDB_ERR_SYS, "stopped");
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
			break;
	}
	json_object_set_new(c->p.sources, name,
	    json_integer((json_int_t)(c->p.source_records - n0)));
	return 0;
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
	return rc == 0 ? flush_all(P) : -1;
}

/* ---------------------------------------------------- expected file -- */

static int
file_error(struct vctx *c, cdb_error *e)
{
	if (e->line > 0)
		verror_prefix(e, "%s:%ld", c->xname, e->line);
	return -1;
}

/* Open expected stream i for reading. */
static int
open_file(struct vctx *c, size_t i, cdb_error *e)
{
	c->xname = c->o->expected[i];
	if ((c->xfp = fopen(c->xname, "r")) == NULL)
		return cdb_error_sys(e, errno, "%s", c->xname);
	return 0;
}

static void
close_file(struct vctx *c)
{
	if (c->xfp != NULL)
		fclose(c->xfp);
	c->xfp = NULL;
}

/*
 * The stream names the schema that made it: checking it with another
 * schema may judge it wrongly, which the report must say.
 */
static void
check_stream_schema(struct vctx *c, const json_t *header)
{
	const char *d = json_string_value(
	    json_object_get(json_object_get(header, "schema"), "digest"));
	char msg[300];

	if (c->s == NULL || d == NULL ||
	    strcmp(d, cdb_schema_digest(c->s)) == 0)
		return;
	snprintf(msg, sizeof(msg),
	    "the expected stream was made with schema %s, -s gives %s", d,
	    cdb_schema_digest(c->s));
	json_array_append_new(c->warnings, json_string(msg));
}

/*
 * Pass 1 over one stream: the target collections (a collection line
 * repeated by another shard is the same collection), the sampled
 * queries.
 */
static int
scan_file(struct vctx *c, cdb_error *e)
{
	cdb_reader *rd = cdb_reader_new(c->xfp, c->xname, 0);
	cdb_item it;
	int rc, k;

	if (rd == NULL)
		return cdb_error_oom(e);
	while ((rc = cdb_reader_next(rd, &it, e)) == 1) {
		if (it.kind == CDB_KIND_COLLECTION) {
			const char *n =
			    json_string_value(json_object_get(it.obj, "name"));
			if (vctx_coll_index(c, n) < 0 &&
			    add_target(c, n, json_deep_copy(it.obj), e) == -1) {
				rc = -1;
				break;
			}
		} else if (it.kind == CDB_KIND_RECORD) {
			k = vctx_coll_index(c, it.collection);
			if (sample(c, (size_t)k, it.id, it.id_len, it.emb,
			        it.emb ? it.dim : 0) == -1) {
				rc = cdb_error_oom(e);
				break;
			}
		}
	}
	if (rc == 0)
		check_stream_schema(c, cdb_reader_header(rd));
	cdb_reader_free(rd);
	return rc == -1 ? file_error(c, e) : 0;
}

static int
prepare_file(struct vctx *c, cdb_error *e)
{
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < c->o->nexpected; i++) {
		if (open_file(c, i, e) == -1)
			return -1;
		rc = scan_file(c, e);
		close_file(c);
	}
	return rc;
}

/* The exact distance of query q and vector x (|x| = xn) in space. */
static double
exact_distance(int space, const struct vquery *q, const float *x, double xn)
{
	double dot;

	if (space == CDB_SPACE_L2)
		return cdb_validate_l2sq(q->emb, x, q->dim);
	dot = cdb_validate_dot(q->emb, x, q->dim);
	if (space == CDB_SPACE_IP)
		return 1 - dot;
	return q->norm > 0 && xn > 0 ? 1 - dot / (q->norm * xn) : 1;
}

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
	struct timespec t0, t1;
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
		        exact_distance(P->space[coll], q, emb, xn), id,
		        id_len) == -1)
			rc = cdb_error_oom(P->e);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	P->search_s += (double)(t1.tv_sec - t0.tv_sec) +
	               (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return rc;
}

static int
file_record(struct prod *P, const cdb_item *it)
{
	struct vctx *c = P->c;
	int coll = vctx_coll_index(c, it->collection);
	const float *emb = it->emb_form != CDB_EMB_NONE ? it->emb : NULL;
	size_t dim = emb ? it->dim : 0;
	uint64_t key = cdb_hmap_key(it->collection, it->id, it->id_len);
	uint64_t digest = cdb_validate_content_digest(it->document, emb, dim);
	json_t *meta = json_is_object(it->metadata) ? it->metadata : NULL;
	int rc;

	c->p.source_records++;
	if ((rc = cdb_hmap_put(c->p.xmap, key, digest, NULL)) == -1)
		return cdb_error_oom(P->e);
	if (rc == 0) {
		c->p.collisions++;
		reject(c, CDB_REJECT_COLLISION, it->collection, it->id,
		    it->id_len,
		    "the expected stream holds this id twice in the "
		    "collection: only one can be stored");
		return 0;
	}
	if (search_record(P, (size_t)coll, it->id, it->id_len, emb, dim) == -1)
		return -1;
	return add_record(P, (size_t)coll, it->id, it->id_len, it->document,
	    meta, it->uri, emb, dim, key, digest);
}

static int
read_file(struct prod *P)
{
	struct vctx *c = P->c;
	cdb_reader *rd = cdb_reader_new(c->xfp, c->xname, 0);
	cdb_item it;
	int rc;

	if (rd == NULL)
		return cdb_error_oom(P->e);
	while ((rc = cdb_reader_next(rd, &it, P->e)) == 1) {
		if (it.kind == CDB_KIND_RECORD && file_record(P, &it) == -1) {
			rc = -1;
			break;
		}
		if (it.kind == CDB_KIND_RECORD && vq_stopped(c)) {
			rc = cdb_error_set(P->e, CDB_ERR_SYS, "stopped");
			break;
		}
	}
	cdb_reader_free(rd);
	return rc == -1 ? file_error(c, P->e) : 0;
}

/*
 * The vectors of the queries that name a record (want: key -> query),
 * from the expected streams: one more pass, only for queries files with
 * such lines.
 */
int
vsrc_find_ids_file(struct vctx *c, cdb_hmap *want, cdb_error *e)
{
	cdb_reader *rd;
	cdb_item it;
	uint64_t qi;
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < c->o->nexpected; i++) {
		if (open_file(c, i, e) == -1)
			return -1;
		if ((rd = cdb_reader_new(c->xfp, c->xname, 0)) == NULL)
			rc = cdb_error_oom(e);
		while (rc == 0 && (rc = cdb_reader_next(rd, &it, e)) == 1) {
			rc = 0;
			if (it.kind != CDB_KIND_RECORD || it.emb == NULL ||
			    it.emb_form == CDB_EMB_NONE ||
			    !cdb_hmap_get(want,
			        cdb_hmap_key(it.collection, it.id, it.id_len),
			        &qi))
				continue;
			rc = vquery_set_vector(&c->q[qi], it.emb, it.dim, e);
		}
		cdb_reader_free(rd);
		close_file(c);
		if (rc == -1)
			return file_error(c, e);
	}
	return 0;
}

/* Pass 2: every stream in turn, one expected set. */
static int
read_files(struct prod *P)
{
	struct vctx *c = P->c;
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < c->o->nexpected; i++) {
		if (open_file(c, i, P->e) == -1)
			return -1;
		rc = read_file(P);
		close_file(c);
	}
	return rc == 0 ? flush_all(P) : -1;
}

/* The exact results become the queries' reference results. */
static int
keep_search(struct prod *P)
{
	struct vctx *c = P->c;
	size_t i;

	for (i = 0; i < P->ntop; i++) {
		cdb_vtopk *t = &P->top[i];
		if (c->q[i].text != NULL)
			continue; /* its reference is a set: vsem_text_record */
		cdb_vtopk_sort(t);
		c->q[i].ref = t->id;
		c->q[i].nref = t->n;
		c->q[i].kth = t->n > 0 ? t->dist[t->n - 1] : 0;
		t->id = NULL;
		t->n = 0;
	}
	c->search_s = P->search_s;
	return 0;
}

/* ------------------------------------------------- old-mode sample -- */

static int
by_position(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* Make query q of the sampled old record in pg, if it has a target. */
static int
take_sampled(struct vctx *c, const char *src, const cdb_page *pg,
    cdb_schema_result *r, cdb_error *e)
{
	struct vquery *q = &c->q[c->nq];
	struct vmapped m;
	int rc;

	if (pg->n != 1 || pg->dim == 0)
		return 0;
	if ((rc = vsrc_map_old(c, r, src, pg, 0, &m, e)) != 1)
		return rc;
	memset(q, 0, sizeof(*q));
	q->coll = (size_t)m.coll;
	q->dim = pg->dim;
	q->overlap = -1;
	q->name = strndup(m.id, m.len);
	q->emb = malloc(pg->dim * sizeof(*q->emb));
	if (q->name == NULL || q->emb == NULL) {
		vquery_free(q);
		return cdb_error_oom(e);
	}
	memcpy(q->emb, pg->emb, pg->dim * sizeof(*q->emb));
	q->norm = sqrt(cdb_validate_dot(q->emb, q->emb, q->dim));
	c->nq++;
	return 0;
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
			verror_prefix(e, "old server");
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

/* ---------------------------------------------------------- threads -- */

int
vsrc_prepare(struct vctx *c, cdb_error *e)
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
	if ((c->o->nexpected ? prepare_file(c, e) : old_targets(c, e)) == -1)
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
		vbatch_free(P->open[i]);
	for (i = 0; P->top != NULL && i < P->ntop; i++)
		cdb_vtopk_free(&P->top[i]);
	free(P->open);
	free(P->space);
	free(P->top);
	cdb_schema_result_free(P->res);
}

void *
vsrc_thread(void *arg)
{
	struct vctx *c = arg;
	struct prod P;
	int rc;

	rc = prod_init(&P, c, &c->perr);
	if (rc == 0)
		rc = c->o->nexpected ? read_files(&P) : read_old(&P);
	/* The comparison may now finish; the queries come after. */
	vq_close(c, &c->qin);
	free_spent(c);
	if (rc == 0)
		rc = keep_search(&P);
	if (rc == 0 && c->oldc != NULL && c->nq > 0 && !vq_stopped(c))
		rc = vsrc_old_queries(c, &c->perr);
	if (rc == -1)
		vq_stop(c);
	prod_free(&P);
	/* Nothing of the producer's is shared now: others free for it. */
	pthread_mutex_lock(&c->mu);
	c->pdone = 1;
	pthread_mutex_unlock(&c->mu);
	free_spent(c);
	if (rc == -1 && strcmp(c->perr.text, "stopped") == 0)
		cdb_error_clear(&c->perr);
	return NULL;
}
