/*
 * validate_sem.c - layer 4 of the validation engine (see
 * validate_impl.h): test 4, semantic search equivalence: the same query
 * vectors sent to both databases (many per request), the old server's
 * results mapped through the schema to the ids and collection they have
 * in the new database, and the top-k overlap of each query.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "json.h"
#include "validate_impl.h"

/* Query vectors per request. */
#define QUERY_BATCH 100

/* ------------------------------------------------------ queries file -- */

static int
query_vector(struct vquery *q, const json_t *v, cdb_error *e)
{
	size_t i, n;

	if (json_is_string(v)) {
		n = json_string_length(v) * 3 / 4 + 4;
		if ((q->emb = malloc(n * sizeof(float))) == NULL)
			return cdb_error_oom(e);
		return cdb_embed_b64_decode(json_string_value(v),
		    json_string_length(v), q->emb, n, &q->dim, e);
	}
	if (!json_is_array(v) || json_array_size(v) == 0)
		return cdb_error_set(e, CDB_ERR_INPUT, "\"embedding\" must be a "
		    "non-empty array of numbers or a base64 string");
	n = json_array_size(v);
	if ((q->emb = malloc(n * sizeof(float))) == NULL)
		return cdb_error_oom(e);
	for (i = 0; i < n; i++) {
		json_t *x = json_array_get(v, i);
		if (!json_is_number(x) ||
		    !isfinite((float)json_number_value(x)))
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "embedding value at index %zu is not a finite number", i);
		q->emb[i] = (float)json_number_value(x);
	}
	q->dim = n;
	return 0;
}

/* One line of the queries file: {"collection", "embedding", "id"?}. */
static int
query_line(struct vctx *c, const char *line, size_t len, long no, cdb_error *e)
{
	struct vquery *q = &c->q[c->nq];
	json_t *o, *id, *text;
	const char *coll;
	int k, rc = 0, emb;
	char label[32];

	c->nq++;
	if ((o = cdb_json_load(line, len, e)) == NULL)
		return -1;
	coll = json_string_value(json_object_get(o, "collection"));
	id = json_object_get(o, "id");
	text = json_object_get(o, "text");
	emb = json_object_get(o, "embedding") != NULL;
	if (!json_is_object(o) || coll == NULL ||
	    !(emb || json_is_string(text) || json_is_string(id)))
		rc = cdb_error_set(e, CDB_ERR_INPUT,
		    "a query is an object with \"collection\" and one of "
		    "\"embedding\", \"id\" (a record's) or \"text\"");
	else if ((k = cdb_vctx_coll(c, coll)) < 0)
		rc = cdb_error_set(e, CDB_ERR_INPUT,
		    "\"%s\" is not a target collection of the migration", coll);
	else {
		q->coll = (size_t)k;
		q->overlap = -1;
		q->line = no;
		snprintf(label, sizeof(label), "query %ld", no);
		q->name =
		    strdup(json_is_string(id) ? json_string_value(id) : label);
		if (q->name == NULL)
			rc = cdb_error_oom(e);
		else if (!emb && json_is_string(text)) {
			if ((q->text = strdup(json_string_value(text))) == NULL)
				rc = cdb_error_oom(e);
			c->ntext++;
		} else if (!emb)
			c->nbyid++; /* its record's vector: cdb_vsem_find_ids */
		else
			rc =
			    query_vector(q, json_object_get(o, "embedding"), e);
		if (rc == 0 && q->emb != NULL)
			q->norm = sqrt(cdb_validate_dot(q->emb, q->emb, q->dim));
	}
	json_decref(o);
	return rc;
}

int
cdb_vsem_load_queries(struct vctx *c, cdb_error *e)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0, qcap = 0;
	ssize_t n;
	long no = 0;
	int rc = 0;

	if (c->o->queries == NULL)
		return 0;
	if ((fp = fopen(c->o->queries, "r")) == NULL)
		return cdb_error_sys(e, errno, "%s", c->o->queries);
	while (rc == 0 && (n = getline(&line, &cap, fp)) != -1) {
		no++;
		if (cdb_json_skip_ws(line, (size_t)n, 0) == (size_t)n)
			continue;
		if (c->nq == qcap) {
			struct vquery *nq;
			qcap = qcap ? qcap * 2 : 64;
			if ((nq = realloc(c->q, qcap * sizeof(*nq))) == NULL) {
				rc = cdb_error_oom(e);
				break;
			}
			c->q = nq;
			memset(c->q + c->nq, 0, (qcap - c->nq) * sizeof(*nq));
		}
		rc = query_line(c, line, (size_t)n, no, e);
	}
	if (rc == 0 && ferror(fp))
		rc = cdb_error_set(
		    e, CDB_ERR_SYS, "%s: read error", c->o->queries);
	if (rc == 0 && c->nq == 0)
		rc = cdb_error_set(
		    e, CDB_ERR_INPUT, "%s: no queries", c->o->queries);
	if (rc == -1 && e->kind == CDB_ERR_INPUT)
		cdb_vctx_where(e, "%s:%ld", c->o->queries, no);
	free(line);
	fclose(fp);
	return rc;
}

/* Query q's vector: the record it names, if old collection src holds it
 * and it maps into q's collection. */
static int fed(const struct vctx *c, const char *src, size_t coll, int *in);

static int
old_vector(struct vctx *c, struct vquery *q, const json_t *src,
    cdb_schema_result *r, cdb_error *e)
{
	const char *name = json_string_value(json_object_get(src, "name"));
	struct vmapped m;
	json_t *ids;
	int rc, in;

	if (fed(c, name, q->coll, &in) == -1)
		return cdb_error_oom(e);
	if (!in)
		return 0;
	if ((ids = json_pack("[s]", q->name)) == NULL)
		return cdb_error_oom(e);
	rc = cdb_page_get_ids(c->oldc,
	    json_string_value(json_object_get(src, "id")), ids, CDB_INC_ALL,
	    &c->page, e);
	json_decref(ids);
	if (rc == -1 || c->page.n != 1 || c->page.dim == 0)
		return rc;
	if ((rc = cdb_vsrc_map_old(c, r, name, &c->page, 0, &m, e)) != 1 ||
	    (size_t)m.coll != q->coll)
		return rc == -1 ? -1 : 0;
	return cdb_vquery_set_vector(q, c->page.emb, c->page.dim, e);
}

/*
 * The vectors of the queries that name a record: its expected embedding,
 * from the expected streams (by its id in the new database), or from the
 * old server (by its id there, in a collection that feeds the query's).
 * An id that names no such record is an error in the queries file.
 */
int
cdb_vsem_find_ids(struct vctx *c, cdb_error *e)
{
	cdb_hmap *want;
	cdb_schema_result *r = NULL;
	json_t *src;
	size_t i, j;
	int rc = 0;

	if (c->nbyid == 0)
		return 0;
	if ((want = cdb_hmap_new()) == NULL ||
	    (c->s != NULL && (r = cdb_schema_result_new(c->s)) == NULL))
		rc = cdb_error_oom(e);
	for (i = 0; rc == 0 && i < c->nq; i++)
		if (c->q[i].emb == NULL && c->q[i].text == NULL &&
		    cdb_hmap_put(want,
		        cdb_hmap_key(c->names[c->q[i].coll], c->q[i].name,
		            strlen(c->q[i].name)),
		        i, NULL) == -1)
			rc = cdb_error_oom(e);
	if (rc == 0 && c->o->nexpected > 0)
		rc = cdb_vsrc_find_ids_file(c, want, e);
	for (i = 0; rc == 0 && c->o->nexpected == 0 && i < c->nq; i++)
		json_array_foreach(c->oldcolls, j, src)
		{
			if (rc == 0 && c->q[i].emb == NULL &&
			    c->q[i].text == NULL)
				rc = old_vector(c, &c->q[i], src, r, e);
		}
	for (i = 0; rc == 0 && i < c->nq; i++)
		if (c->q[i].emb == NULL && c->q[i].text == NULL)
			rc = cdb_error_set(e, CDB_ERR_INPUT,
			    "%s:%ld: \"%s\" is the id of no expected record of "
			    "collection \"%s\"",
			    c->o->queries, c->q[i].line, c->q[i].name,
			    c->names[c->q[i].coll]);
	cdb_hmap_free(want);
	cdb_schema_result_free(r);
	return rc;
}

/* ---------------------------------------------------------- request -- */

/* {"query_embeddings":[...],"n_results":k,"include":[...]} */
static int
query_body(
    cdb_buf *b, struct vquery *const *qs, size_t n, long k, const char *include)
{
	size_t i;
	int rc = 0;

	cdb_buf_reset(b);
	rc |= cdb_buf_puts(b, "{\"query_embeddings\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			rc |= cdb_buf_putc(b, ',');
		rc |= cdb_embed_format_json(qs[i]->emb, qs[i]->dim, b);
	}
	rc |= cdb_buf_printf(
	    b, "],\"n_results\":%ld,\"include\":%s}", k, include);
	return rc ? -1 : 0;
}

/* Send one query request; the parsed answer, or NULL with e. */
static json_t *
ask(cdb_chroma *ch, const char *coll_id, const cdb_buf *body, cdb_buf *resp,
    cdb_error *e)
{
	json_t *j;

	if (cdb_chroma_query(ch, coll_id, body->data, body->len, resp, e) == -1)
		return NULL;
	if ((j = cdb_json_load(resp->data, resp->len, e)) == NULL ||
	    !json_is_array(json_object_get(j, "ids"))) {
		json_decref(j);
		cdb_error_set(e, CDB_ERR_SERVER, "query answer has no ids");
		return NULL;
	}
	return j;
}

/* Queries of collection coll, at most max, from *next on. */
static size_t
gather(
    struct vctx *c, size_t coll, size_t *next, struct vquery **qs, size_t max)
{
	size_t n = 0;

	for (; *next < c->nq && n < max; (*next)++)
		if (c->q[*next].coll == coll && c->q[*next].emb != NULL)
			qs[n++] = &c->q[*next];
	return n;
}

/* ---------------------------------------------------------- old side -- */

static json_t *
at(const json_t *a, size_t i, size_t j)
{
	return json_array_get(json_array_get(a, i), j);
}

/* The old server's answers, each hit carried through the schema (none:
 * the same id). */
static int
take_old(struct vctx *c, const char *src, size_t coll, json_t *ans,
    struct vquery **qs, size_t n, cdb_vtopk *top, cdb_schema_result *r,
    cdb_error *e)
{
	json_t *ids = json_object_get(ans, "ids");
	json_t *dist = json_object_get(ans, "distances");
	const char *id;
	size_t i, j, len;
	int rc;

	for (i = 0; i < n; i++)
		for (j = 0; j < json_array_size(json_array_get(ids, i)); j++) {
			json_t *idv = at(ids, i, j);
			id = json_string_value(idv);
			len = json_string_length(idv);
			if (id == NULL)
				continue;
			if (c->s != NULL) {
				rc = cdb_schema_apply(c->s, src, id, len,
				    at(json_object_get(ans, "documents"), i, j),
				    at(json_object_get(ans, "metadatas"), i, j),
				    at(json_object_get(ans, "uris"), i, j), r,
				    e);
				if (rc == -1)
					return -1;
				if (rc == 1 ||
				    strcmp(r->collection, c->names[coll]))
					continue;
				id = r->id.data;
				len = r->id.len;
			}
			if (cdb_vtopk_offer(&top[qs[i] - c->q],
			        json_number_value(at(dist, i, j)), id,
			        len) == -1)
				return cdb_error_oom(e);
		}
	return 0;
}

/*
 * How many targets the old collection src feeds, with *in set when coll
 * is one of them.  Without a schema the collection of the same name is
 * fed, alone.  -1 out of memory.
 */
static int
fed(const struct vctx *c, const char *src, size_t coll, int *in)
{
	int t, n = 0, *dest;
	size_t i, nt;

	*in = 0;
	if (src == NULL)
		return 0;
	if (c->s == NULL)
		return *in = strcmp(src, c->names[coll]) == 0, 1;
	if (!cdb_schema_maps(c->s, src))
		return 0;
	nt = cdb_schema_ntargets(c->s);
	if ((dest = calloc(nt + 1, sizeof(*dest))) == NULL)
		return -1;
	cdb_schema_destinations(c->s, src, dest);
	for (i = 0; i < nt; i++)
		n += dest[i] != 0;
	t = cdb_schema_target_index(c->s, c->names[coll]);
	*in = t >= 0 && dest[t];
	free(dest);
	return n;
}

/* Query one old source collection with the queries of target coll. */
static int
old_source(struct vctx *c, const json_t *src, size_t coll, cdb_vtopk *top,
    cdb_schema_result *r, cdb_error *e)
{
	const char *name = json_string_value(json_object_get(src, "name"));
	const char *id = json_string_value(json_object_get(src, "id"));
	struct vquery *qs[QUERY_BATCH];
	size_t next = 0, n, i;
	cdb_buf body, resp;
	json_t *ans;
	int rc = 0, in, nt;

	if ((nt = fed(c, name, coll, &in)) == -1)
		return cdb_error_oom(e);
	if (!in)
		return 0;
	cdb_buf_init(&body);
	cdb_buf_init(&resp);
	while (rc == 0 && (n = gather(c, coll, &next, qs, QUERY_BATCH)) > 0) {
		/* More results when some go to other targets. */
		if (query_body(&body, qs, n,
		        nt > 1 ? 4L * c->o->top_k : c->o->top_k,
		        c->s ? "[\"metadatas\",\"documents\",\"uris\","
		               "\"distances\"]"
		             : "[\"distances\"]") == -1) {
			rc = cdb_error_oom(e);
			break;
		}
		if ((ans = ask(c->oldc, id, &body, &resp, e)) == NULL) {
			cdb_vctx_where(e, "old server: query of \"%s\"", name);
			rc = -1;
			break;
		}
		rc = take_old(c, name, coll, ans, qs, n, top, r, e);
		json_decref(ans);
		for (i = 0; i < n; i++)
			qs[i]->has_old = 1;
	}
	cdb_buf_free(&body);
	cdb_buf_free(&resp);
	return rc;
}

/*
 * Does a source of target k search in another space than k will?  Then
 * its recall says nothing about what the migration did to k's searches.
 */
static int
other_space(const struct vctx *c, size_t k)
{
	int want = cdb_validate_space(
	    json_object_get(c->colls[k].want, "configuration"));
	json_t *src;
	size_t i;
	int in;

	json_array_foreach(c->oldcolls, i, src)
	{
		if (fed(c, json_string_value(json_object_get(src, "name")), k,
		        &in) == -1)
			return -1;
		if (in && cdb_validate_space(json_object_get(
		              src, "configuration_json")) != want)
			return 1;
	}
	return 0;
}

/*
 * The old server's answers to every query, merged over the sources of
 * each target (the nearest of all of them, as in the target): the
 * baseline recall the new database is judged against.
 */
int
cdb_vsem_old_queries(struct vctx *c, cdb_error *e)
{
	cdb_vtopk *top = calloc(c->nq + 1, sizeof(*top));
	cdb_schema_result *r = NULL;
	json_t *src;
	size_t i, k;
	int rc = 0;

	if (top == NULL ||
	    (c->s != NULL && (r = cdb_schema_result_new(c->s)) == NULL))
		rc = cdb_error_oom(e);
	for (i = 0; rc == 0 && i < c->nq; i++)
		if (cdb_vtopk_init(&top[i], (size_t)c->o->top_k) == -1)
			rc = cdb_error_oom(e);
	for (k = 0; rc == 0 && k < c->ncolls; k++) {
		if ((c->colls[k].other_space = other_space(c, k)) == -1)
			rc = cdb_error_oom(e);
		if (c->colls[k].other_space)
			continue;
		json_array_foreach(c->oldcolls, i, src)
		{
			if (rc == 0)
				rc = old_source(c, src, k, top, r, e);
		}
	}
	for (i = 0; i < c->nq && top != NULL; i++) {
		c->q[i].old = top[i].id;
		c->q[i].old_d = top[i].dist;
		c->q[i].nold = top[i].n;
		top[i].id = NULL;
		top[i].dist = NULL;
		top[i].n = 0;
		cdb_vtopk_free(&top[i]);
	}
	free(top);
	cdb_schema_result_free(r);
	return rc;
}

/* ---------------------------------------------------------- new side -- */

static int
take_new(struct vquery **qs, size_t n, const json_t *ans, cdb_error *e)
{
	json_t *ids = json_object_get(ans, "ids"), *row, *drow;
	const char *id;
	size_t i, j;

	for (i = 0; i < n; i++) {
		row = json_array_get(ids, i);
		drow = json_array_get(json_object_get(ans, "distances"), i);
		qs[i]->ngot = json_array_size(row);
		qs[i]->got = calloc(qs[i]->ngot + 1, sizeof(char *));
		qs[i]->got_d = calloc(qs[i]->ngot + 1, sizeof(double));
		if (qs[i]->got == NULL || qs[i]->got_d == NULL)
			return cdb_error_oom(e);
		for (j = 0; j < qs[i]->ngot; j++) {
			id = json_string_value(json_array_get(row, j));
			if ((qs[i]->got[j] = strdup(id ? id : "")) == NULL)
				return cdb_error_oom(e);
			qs[i]->got_d[j] =
			    json_is_number(json_array_get(drow, j))
			        ? json_number_value(json_array_get(drow, j))
			        : NAN;
		}
	}
	return 0;
}

/* A query the new server refused (a wrong dimension...) scores 0. */
static int
refused(struct vquery **qs, size_t n, const char *why, cdb_error *e)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((qs[i]->err = strdup(why)) == NULL)
			return cdb_error_oom(e);
	return 0;
}

static int
new_collection(
    struct vctx *c, size_t coll, cdb_buf *body, cdb_buf *resp, cdb_error *e)
{
	struct vquery *qs[QUERY_BATCH];
	size_t next = 0, n;
	json_t *ans;
	cdb_error qe;
	int rc = 0;

	while (rc == 0 && (n = gather(c, coll, &next, qs, QUERY_BATCH)) > 0) {
		if (c->colls[coll].id == NULL) {
			rc = refused(qs, n, "the collection does not exist", e);
			continue;
		}
		if (query_body(body, qs, n, c->o->top_k, "[\"distances\"]") ==
		    -1)
			return cdb_error_oom(e);
		cdb_error_clear(&qe);
		if ((ans = ask(c->newc, c->colls[coll].id, body, resp, &qe)) ==
		    NULL) {
			/* Only an answer that is the data's fault is a
			 * finding; anything else stops the run. */
			if (qe.http_status < 400 || qe.http_status >= 500) {
				*e = qe;
				return -1;
			}
			rc = refused(qs, n, qe.text, e);
			continue;
		}
		rc = take_new(qs, n, ans, e);
		json_decref(ans);
	}
	return rc;
}

/* Ids per request of a full-text query's matches. */
#define TEXT_PAGE 10000

/* Every match of text query q in the new database, ids only. */
static int
new_text(struct vctx *c, struct vquery *q, cdb_error *e)
{
	json_t *wd = json_pack("{s:s}", "$contains", q->text);
	const char *cid = c->colls[q->coll].id;
	size_t i, cap = 0;
	long off;
	char **g;
	int rc = 0;

	if (wd == NULL)
		return cdb_error_oom(e);
	for (off = 0; rc == 0 && cid != NULL && q->ngot <= TEXT_MAX;
	     off += TEXT_PAGE) {
		if ((rc = cdb_page_get(c->newc, cid, off, TEXT_PAGE, NULL, wd,
		         0, &c->page, e)) == -1)
			break;
		if (q->ngot + c->page.n > cap) {
			cap = (q->ngot + c->page.n) * 2 + 16;
			if ((g = realloc(q->got, cap * sizeof(*g))) == NULL) {
				rc = cdb_error_oom(e);
				break;
			}
			q->got = g;
		}
		for (i = 0; i < c->page.n; i++) {
			const char *id = json_string_value(
			    json_array_get(c->page.ids, i));
			if ((q->got[q->ngot] = strdup(id ? id : "")) == NULL)
				return cdb_error_oom(e);
			q->ngot++;
		}
		if (c->page.n < TEXT_PAGE)
			break;
	}
	json_decref(wd);
	return rc;
}

int
cdb_vsem_new_queries(struct vctx *c, cdb_error *e)
{
	cdb_buf body, resp;
	size_t k;
	int rc = 0;

	cdb_buf_init(&body);
	cdb_buf_init(&resp);
	cdb_vctx_progress(c, "querying", 0, (long long)c->nq);
	for (k = 0; k < c->ncolls && rc == 0; k++)
		rc = new_collection(c, k, &body, &resp, e);
	for (k = 0; k < c->nq && rc == 0; k++)
		if (c->q[k].text != NULL)
			rc = new_text(c, &c->q[k], e);
	cdb_buf_free(&body);
	cdb_buf_free(&resp);
	return rc;
}

/* ------------------------------------------------------------ score -- */

/*
 * Recall@k of results (ids, distances d) against the exact top-k of q:
 * the share of the exact results among them.  A result at the exact
 * k-th distance (within float32 rounding) counts too: among records at
 * equal distances any is as right as another.
 */
static double
recall(const struct vquery *q, char *const *ids, const double *d, size_t n)
{
	double tol = 1e-5 * (fabs(q->kth) > 1 ? fabs(q->kth) : 1);
	size_t i, hits = 0;

	if (q->nref == 0)
		return -1;
	for (i = 0; i < n; i++)
		if (cdb_validate_overlap(&ids[i], 1, q->ref, q->nref) > 0 ||
		    (d != NULL && fabs(d[i] - q->kth) <= tol))
			hits++;
	return (double)(hits < q->nref ? hits : q->nref) / (double)q->nref;
}

static int
by_loss(const void *a, const void *b)
{
	const struct vquery *x = *(struct vquery *const *)a;
	const struct vquery *y = *(struct vquery *const *)b;
	double lx = x->rnew - (x->rold >= 0 ? x->rold : 1);
	double ly = y->rnew - (y->rold >= 0 ? y->rold : 1);

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* "a", "b" (and 3 more): exact results the new server did not give. */
static void
missed(const struct vquery *q, char *out, size_t n)
{
	size_t i, used = 0, shown = 0, left = 0;

	out[0] = '\0';
	for (i = 0; i < q->nref; i++) {
		if (cdb_validate_overlap(&q->ref[i], 1, q->got, q->ngot) > 0)
			continue;
		if (shown < 3 && used + strlen(q->ref[i]) + 6 < n) {
			used += (size_t)snprintf(out + used, n - used,
			    "%s\"%s\"", shown ? ", " : "", q->ref[i]);
			shown++;
		} else
			left++;
	}
	if (left > 0 && used + 24 < n)
		snprintf(out + used, n - used, " and %zu more", left);
}

/* The queries where the new database found less than the old one (or,
 * without one, than the exact search), worst first. */
static void
list_worst(struct vctx *c, struct vquery **v, size_t n)
{
	struct vtest *t = &c->t[CDB_VT_SEMANTIC];
	char miss[300], old[40];
	size_t i;

	qsort(v, n, sizeof(*v), by_loss);
	for (i = 0; i < n; i++) {
		if (v[i]->err != NULL) {
			cdb_vtest_offend(t, c->names[v[i]->coll], v[i]->name,
			    strlen(v[i]->name), "query refused: %s", v[i]->err);
			continue;
		}
		if (v[i]->rnew >= (v[i]->rold >= 0 ? v[i]->rold : 1))
			break;
		missed(v[i], miss, sizeof(miss));
		old[0] = '\0';
		if (v[i]->rold >= 0)
			snprintf(old, sizeof(old), " (old database %.0f%%)",
			    100 * v[i]->rold);
		cdb_vtest_offend(t, c->names[v[i]->coll], v[i]->name,
		    strlen(v[i]->name),
		    "recall@%d %.0f%%%s: the new database does not return %s",
		    c->o->top_k, 100 * v[i]->rnew, old, miss);
	}
}

static void
set_pct(struct vtest *t, const char *name, double share)
{
	cdb_vtest_set(t, name, json_real(round(1e6 * share) / 1e4));
}

/* Is id (in coll) one of the new database's records? */
static int
is_found(const struct vctx *c, size_t coll, const char *id)
{
	return cdb_hmap_get(
	    c->fmap, cdb_hmap_key(c->names[coll], id, strlen(id)), NULL);
}

/* The exact results of q the new database lacks altogether (lost
 * records, which test 1 counts), as a share of them. */
static double
lost_share(const struct vctx *c, const struct vquery *q)
{
	size_t i, n = 0;

	for (i = 0; i < q->nref; i++)
		n += !is_found(c, q->coll, q->ref[i]);
	return q->nref ? (double)n / (double)q->nref : 0;
}

/* Score one query: recall of each database, their overlap. */
static void
score(struct vctx *c, struct vquery *q)
{
	q->rnew = q->err ? 0 : recall(q, q->got, q->got_d, q->ngot);
	if (q->rnew < 0)
		q->rnew = 0;
	q->rold = -1;
	q->overlap = -1;
	if (!q->has_old || c->colls[q->coll].other_space)
		return;
	q->rold = recall(q, q->old, q->old_d, q->nold);
	if (q->rold < 0)
		q->rold = 0;
	q->overlap = cdb_validate_overlap(q->old, q->nold, q->got, q->ngot);
}

/* A set of ids (to compare result sets of any size). */
static cdb_hmap *
id_set(char *const *ids, size_t n)
{
	cdb_hmap *m = cdb_hmap_new();
	size_t i;

	for (i = 0; m != NULL && i < n; i++)
		if (cdb_hmap_put(m, cdb_hmap_key(NULL, ids[i], strlen(ids[i])),
		        i, NULL) == -1) {
			cdb_hmap_free(m);
			return NULL;
		}
	return m;
}

static int
in_set(const cdb_hmap *m, const char *id)
{
	return cdb_hmap_get(m, cdb_hmap_key(NULL, id, strlen(id)), NULL);
}

/*
 * A full-text query: the new database's matches must be the expected
 * records whose document holds the text, as a set.  Matches it lacks
 * because the record was lost are test 1's finding, counted apart.
 */
static void
score_text(struct vctx *c, struct vquery *q)
{
	struct vtest *t = &c->t[CDB_VT_SEMANTIC];
	size_t i, miss = 0, lost = 0, extra = 0;
	const char *first = NULL;
	cdb_hmap *ref, *got;

	cdb_vtest_add(t, "text_queries", 1);
	if (q->nref > TEXT_MAX || q->ngot > TEXT_MAX) {
		cdb_vtest_add(t, "text_queries_too_broad", 1);
		return;
	}
	ref = id_set(q->ref, q->nref);
	got = id_set(q->got, q->ngot);
	for (i = 0; ref != NULL && got != NULL && i < q->nref; i++)
		if (!in_set(got, q->ref[i])) {
			if (!is_found(c, q->coll, q->ref[i]))
				lost++;
			else if (miss++ == 0)
				first = q->ref[i];
		}
	for (i = 0; ref != NULL && got != NULL && i < q->ngot; i++)
		if (!in_set(ref, q->got[i]) && extra++ == 0 && first == NULL)
			first = q->got[i];
	/* Out of memory: not compared, which is no pass either. */
	if (ref == NULL || got == NULL)
		miss = 1;
	cdb_hmap_free(ref);
	cdb_hmap_free(got);
	if (miss + extra + lost == 0)
		return;
	cdb_vtest_add(t, "text_queries_differ", 1);
	if (miss + extra == 0) {
		cdb_vtest_add(t, "text_queries_differ_lost", 1);
		return;
	}
	cdb_vtest_offend(t, c->names[q->coll], q->name, strlen(q->name),
	    "text \"%.80s\": %zu expected matches, the new database gives "
	    "%zu: %zu missing, %zu not expected (as \"%s\")",
	    q->text, q->nref, q->ngot, miss, extra, first ? first : "");
}

void
cdb_vsem_finish(struct vctx *c)
{
	struct vtest *t = &c->t[CDB_VT_SEMANTIC];
	struct vquery **v = calloc(c->nq + 1, sizeof(*v));
	double rn = 0, ro = 0, rnb = 0, ov = 0, rnu = 0;
	size_t i, n = 0, nb = 0, nov = 0;

	cdb_vtest_add(t, "queries", (double)c->nq);
	cdb_vtest_add(t, "top_k", c->o->top_k);
	for (i = 0; i < c->nq; i++) {
		struct vquery *q = &c->q[i];
		if (q->text != NULL) {
			score_text(c, q);
			continue;
		}
		if (c->colls[q->coll].other_space)
			cdb_vtest_add(t, "queries_other_space", 1);
		if (q->nref == 0)
			continue;
		score(c, q);
		rn += q->rnew;
		if (q->rold >= 0) {
			ro += q->rold;
			rnb += q->rnew;
			rnu += fmin(1, q->rnew + lost_share(c, q));
			nb++;
		}
		if (q->overlap >= 0) {
			ov += q->overlap;
			nov++;
		}
		if (v != NULL)
			v[n] = q;
		n++;
	}
	cdb_vtest_add(t, "queries_compared", (double)n);
	cdb_vtest_add(t, "queries_with_baseline", (double)nb);
	cdb_vtest_set(t, "exact_search_seconds",
	    json_real(round(c->search_s * 1000) / 1000));
	if (n == 0) {
		free(v);
		return;
	}
	set_pct(t, "recall_new_percentage", rn / (double)n);
	if (nb > 0) {
		set_pct(t, "recall_old_percentage", ro / (double)nb);
		/* The share of the old database's search quality lost. */
		set_pct(t, "semantic_divergence_percentage",
		    ro > 0 && rnb < ro ? (ro - rnb) / ro : 0);
		c->loss_unlost = ro > 0 && rnu < ro ? 100 * (ro - rnu) / ro : 0;
	}
	if (nov > 0)
		set_pct(t, "mean_overlap_percentage", ov / (double)nov);
	if (v != NULL)
		list_worst(c, v, n);
	/* The verdict rests on the loss, not on this count. */
	t->bad = (long long)cdb_vtest_get(t, "text_queries_differ");
	for (i = 0; i < n && v != NULL; i++)
		t->bad += v[i]->err != NULL ||
		          v[i]->rnew < (v[i]->rold >= 0 ? v[i]->rold : 1);
	free(v);
}
