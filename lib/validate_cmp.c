/*
 * validate_cmp.c - layer 2 of the validation engine (see
 * validate_impl.h), the consumer of a run: list what the new
 * database holds (ids only), then fetch each expected batch's ids from it
 * and check every record: embedding (test 2), fields, document and uri
 * (test 3), types and constraints (test 7), citations and references
 * (test 8).  Each record counts once per test, with its first problem as
 * the example; a problem is reported by the most specific test only (a
 * value of the wrong type is a type error, not also a changed value).
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "coerce.h"
#include "validate_impl.h"

/* Ids per request when listing a collection: ids are small. */
#define ID_PAGE 10000

/* ------------------------------------------------------ enumeration -- */

static int
add_found(struct vctx *c, size_t coll, const char *id, size_t len, size_t *idx,
    cdb_error *e)
{
	uint64_t key = cdb_hmap_key(c->colls[coll].name, id, len), old;
	struct frec *f;
	int rc;

	if ((rc = cdb_hmap_put(c->fmap, key, c->nfound, &old)) == -1)
		return cdb_error_oom(e);
	if (rc == 0) {
		*idx = (size_t)old;
		return 0;
	}
	if (c->nfound == c->capfound) {
		size_t cap = c->capfound ? c->capfound * 2 : 4096;
		if ((f = realloc(c->found, cap * sizeof(*f))) == NULL)
			return cdb_error_oom(e);
		c->found = f;
		c->capfound = cap;
	}
	f = &c->found[c->nfound];
	memset(f, 0, sizeof(*f));
	f->key = key;
	f->coll = (uint32_t)coll;
	f->home = (uint32_t)coll;
	f->id_off = c->fids.len;
	f->id_len = (uint32_t)len;
	if (cdb_buf_append(&c->fids, id, len) == -1 ||
	    cdb_buf_putc(&c->fids, '\0') == -1)
		return cdb_error_oom(e);
	*idx = c->nfound++;
	c->colls[coll].found++;
	return 0;
}

static int
list_ids(struct vctx *c, size_t coll, cdb_error *e)
{
	struct vcoll *k = &c->colls[coll];
	cdb_page *pg = &c->page;
	size_t i, idx;
	long off;

	for (off = 0;; off += ID_PAGE) {
		if (cdb_page_get(c->newc, k->id, off, ID_PAGE, NULL, NULL, 0,
		        pg, e) == -1)
			return -1;
		for (i = 0; i < pg->n; i++) {
			json_t *v = json_array_get(pg->ids, i);
			if (add_found(c, coll, json_string_value(v),
			        json_string_length(v), &idx, e) == -1)
				return -1;
		}
		cdb_vctx_progress(c, "listing", (long long)c->nfound, 0);
		if (pg->n < ID_PAGE)
			return 0;
	}
}

static int
take_collection(struct vctx *c, json_t *obj)
{
	const char *name = json_string_value(json_object_get(obj, "name"));
	const char *id = json_string_value(json_object_get(obj, "id"));
	json_t *dim = json_object_get(obj, "dimension");
	int i = name ? cdb_vctx_coll(c, name) : -1;
	struct vcoll *k;

	if (i < 0)
		return json_array_append_new(
		    c->others, json_string(name ? name : "?"));
	k = &c->colls[i];
	k->have = json_incref(obj);
	k->id = id ? strdup(id) : NULL;
	k->space =
	    cdb_validate_space(json_object_get(obj, "configuration_json"));
	k->dim = json_is_integer(dim) ? (size_t)json_integer_value(dim) : 0;
	return 0;
}

static int
enumerate(struct vctx *c, cdb_error *e)
{
	json_t *all, *obj;
	size_t i;

	if ((all = cdb_chroma_list(c->newc, e)) == NULL)
		return -1;
	json_array_foreach(all, i, obj)
	{
		if (take_collection(c, obj) == -1) {
			json_decref(all);
			return cdb_error_oom(e);
		}
	}
	json_decref(all);
	for (i = 0; i < c->ncolls; i++) {
		if (c->colls[i].have == NULL)
			c->colls[i].space = cdb_validate_space(
			    json_object_get(c->colls[i].want, "configuration"));
		if (c->colls[i].have != NULL && c->colls[i].id == NULL)
			return cdb_error_oom(e);
		if (c->colls[i].id != NULL && list_ids(c, i, e) == -1)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------- the checks -- */

/* What the new server holds for one record, for the checks. */
struct vhave {
	size_t coll; /* where it is */
	size_t home; /* where it belongs (citations) */
	const char *id;
	size_t id_len;
	const json_t *doc, *meta, *uri;
	const float *emb;
	size_t dim;
	int nan; /* the server holds NaN in its vector: cannot send it */
};

/* One record's findings: each test counts it once. */
struct hits {
	struct vctx *c;
	const struct vhave *h;
	int hit[CDB_VT_N];
};

static void problem(struct hits *H, int test, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
problem(struct hits *H, int test, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (H->hit[test]++)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cdb_vtest_offend(&H->c->t[test], H->c->colls[H->h->coll].name, H->h->id,
	    H->h->id_len, "%s", msg);
}

/* NULL and JSON null are the same absence. */
static int
same(const json_t *a, const json_t *b)
{
	if (a == NULL || json_is_null(a))
		return b == NULL || json_is_null(b);
	return b != NULL && json_equal((json_t *)a, (json_t *)b);
}

static const char *
show(const json_t *v, char *buf, size_t n)
{
	cdb_coerce_show(v ? v : json_null(), buf, n);
	return buf;
}

static void
check_embedding(struct hits *H, const struct vwant *w)
{
	struct vctx *c = H->c;
	const struct vhave *h = H->h;
	struct vtest *t = &c->t[CDB_VT_EMBEDDING];
	const struct vcoll *k = &c->colls[h->coll];
	size_t want = k->dim ? k->dim : w ? w->dim : 0;
	double dev = 0;

	t->checked++;
	if (h->nan) {
		cdb_vtest_add(t, "not_finite", 1);
		problem(H, CDB_VT_EMBEDDING,
		    "embedding holds NaN: the server returns nulls for it");
		return;
	}
	switch (cdb_validate_emb_problem(h->emb, h->dim, want)) {
	case CDB_VEMB_NONE:
		cdb_vtest_add(t, "missing", 1);
		problem(H, CDB_VT_EMBEDDING, "no embedding");
		return;
	case CDB_VEMB_DIM:
		cdb_vtest_add(t, "wrong_dimension", 1);
		problem(H, CDB_VT_EMBEDDING,
		    "embedding has %zu values, the collection %zu", h->dim,
		    want);
		return;
	case CDB_VEMB_NONFINITE:
		cdb_vtest_add(t, "not_finite", 1);
		problem(H, CDB_VT_EMBEDDING, "embedding holds NaN or infinity");
		return;
	case CDB_VEMB_ZERO:
		if (w != NULL && cdb_validate_emb_problem(w->emb, w->dim, 0) ==
		                     CDB_VEMB_ZERO) {
			cdb_vtest_add(t, "zero_in_source", 1);
			return;
		}
		cdb_vtest_add(t, "zero", 1);
		problem(H, CDB_VT_EMBEDDING, "embedding is all zeros");
		return;
	}
	if (w == NULL || w->emb == NULL || w->dim == 0)
		return;
	if (w->dim != h->dim) {
		cdb_vtest_add(t, "differs", 1);
		problem(H, CDB_VT_EMBEDDING,
		    "embedding has %zu values, the source's %zu", h->dim,
		    w->dim);
	} else if (!cdb_validate_emb_equal(w->emb, h->emb, h->dim,
	               k->space == CDB_SPACE_COSINE, &dev)) {
		cdb_vtest_add(t, "differs", 1);
		problem(H, CDB_VT_EMBEDDING,
		    "embedding differs from the source's (largest deviation "
		    "%.3g%s)",
		    dev,
		    k->space == CDB_SPACE_COSINE ? " of the unit vectors" : "");
	}
	if (dev > c->max_dev && dev < 1e300)
		c->max_dev = dev;
}

static void
check_content(struct hits *H, const struct vwant *w)
{
	const struct vhave *h = H->h;
	char a[80], b[80];

	if (!same(w->doc, h->doc))
		problem(H, CDB_VT_METADATA,
		    "document differs from the source's (%s, expected %s)",
		    show(h->doc, a, sizeof(a)), show(w->doc, b, sizeof(b)));
	if (!same(w->uri, h->uri))
		problem(H, CDB_VT_METADATA, "uri %s, the source's %s",
		    show(h->uri, a, sizeof(a)), show(w->uri, b, sizeof(b)));
}

/*
 * Remember a reference to a record the new database lacks: whether the
 * migration lost it is known once every expected record went by.  Out
 * of memory only makes the cause unknown (counted as another problem).
 */
static void
dangle(struct vctx *c, const char *coll, const char *id, size_t len)
{
	uint64_t *d;

	if (c->ndangle == c->capdangle) {
		size_t cap = c->capdangle ? c->capdangle * 2 : 64;
		if ((d = realloc(c->dangle, cap * sizeof(*d))) == NULL) {
			c->cite_other++;
			return;
		}
		c->dangle = d;
		c->capdangle = cap;
	}
	c->dangle[c->ndangle++] = cdb_hmap_key(coll, id, len);
}

/* Is every string of v (a string or an array of them) an id there? */
static void
check_reference(struct hits *H, const cdb_schema_field *f, const json_t *v,
    const json_t *xv)
{
	struct vctx *c = H->c;
	int target = cdb_vctx_coll(c, f->reference);
	size_t i, n = json_is_array(v) ? json_array_size(v) : 1;
	char a[80], b[80];

	for (i = 0; i < n; i++) {
		const json_t *s = json_is_array(v) ? json_array_get(v, i) : v;
		c->refs_checked++;
		if (target >= 0 && json_is_string(s) &&
		    cdb_hmap_get(c->fmap,
		        cdb_hmap_key(f->reference, json_string_value(s),
		            json_string_length(s)),
		        NULL))
			continue;
		cdb_vtest_add(&c->t[CDB_VT_CITATIONS], "dangling_references", 1);
		if (target >= 0 && json_is_string(s))
			dangle(c, f->reference, json_string_value(s),
			    json_string_length(s));
		else
			c->cite_other++;
		problem(H, CDB_VT_CITATIONS,
		    "field \"%s\": %s is the id of no record in collection "
		    "\"%s\"",
		    f->name, show(s, a, sizeof(a)), f->reference);
		return;
	}
	if (xv != NULL && !json_equal((json_t *)xv, (json_t *)v)) {
		c->cite_other++;
		problem(H, CDB_VT_CITATIONS,
		    "field \"%s\": refers to %s, the source's record to %s",
		    f->name, show(v, a, sizeof(a)), show(xv, b, sizeof(b)));
	}
}

static void
check_citation(struct hits *H, const cdb_schema_field *f, const json_t *v,
    const json_t *xv)
{
	struct vctx *c = H->c;
	const struct vhave *h = H->h;
	size_t coll, off, len;
	char a[120], b[120];
	int rc;

	c->cites_checked++;
	if (xv != NULL && !json_equal((json_t *)xv, (json_t *)v)) {
		c->cite_other++;
		problem(H, CDB_VT_CITATIONS,
		    "field \"%s\": %s, the source's record gives %s",
		    f->name, show(v, a, sizeof(a)), show(xv, b, sizeof(b)));
		return;
	}
	/* {id} is the source's id: only without id rewriting is it this
	 * record's id in the new database. */
	if (cdb_schema_id_template(c->s) != NULL || !json_is_string(v))
		return;
	rc = cdb_validate_cite_parse(f->template, json_string_value(v),
	    json_string_length(v), c->names, c->ncolls, h->home, &coll, &off,
	    &len);
	if (rc == -1)
		return;
	/* A misplaced record cites itself where it belongs: test 5 has it. */
	if (rc == 1 && coll == h->home && h->home != h->coll &&
	    len == h->id_len &&
	    memcmp(json_string_value(v) + off, h->id, len) == 0)
		return;
	if (rc == 0) {
		c->cite_other++;
		problem(H, CDB_VT_CITATIONS,
		    "field \"%s\": %s does not have the form %s", f->name,
		    show(v, a, sizeof(a)), f->template);
	} else if (!cdb_hmap_get(c->fmap,
	               cdb_hmap_key(
	                   c->names[coll], json_string_value(v) + off, len),
	               NULL)) {
		dangle(c, c->names[coll], json_string_value(v) + off, len);
		problem(H, CDB_VT_CITATIONS,
		    "field \"%s\": %s names no record of the new database",
		    f->name, show(v, a, sizeof(a)));
	} else if (coll != h->home || len != h->id_len ||
	           memcmp(json_string_value(v) + off, h->id, len) != 0) {
		c->cite_other++;
		problem(H, CDB_VT_CITATIONS,
		    "field \"%s\": %s names another record, not this one",
		    f->name, show(v, a, sizeof(a)));
	} else
		return;
	cdb_vtest_add(&c->t[CDB_VT_CITATIONS], "broken_citations", 1);
}

/* One schema field of one record. */
static void
check_field(struct hits *H, const cdb_schema_field *f, const json_t *have,
    const json_t *want, int expected)
{
	const json_t *v = json_object_get(have, f->name);
	const json_t *xv = json_object_get(want, f->name);
	char a[80], b[80];
	cdb_error fe;

	if (v == NULL) {
		if (f->required || xv != NULL)
			problem(H, CDB_VT_METADATA, "field \"%s\" is missing",
			    f->name);
		return;
	}
	cdb_error_clear(&fe);
	/* From the old server, the schema made the expected value and
	 * checked it then: the same value needs no second check. */
	if (f->reference == NULL && f->template == NULL && xv != NULL &&
	    H->c->o->nexpected == 0 && json_equal((json_t *)xv, (json_t *)v))
		return;
	if (cdb_schema_check_value(H->c->s, f, v, &fe) == -1)
		problem(H, CDB_VT_TYPES, "%s", fe.text);
	else if (f->reference != NULL)
		check_reference(H, f, v, xv);
	else if (f->template != NULL)
		check_citation(H, f, v, xv);
	else if (expected && xv == NULL)
		problem(H, CDB_VT_METADATA,
		    "field \"%s\" is %s, the source's record has none", f->name,
		    show(v, a, sizeof(a)));
	else if (xv != NULL && !json_equal((json_t *)xv, (json_t *)v))
		problem(H, CDB_VT_METADATA, "field \"%s\" is %s, expected %s",
		    f->name, show(v, a, sizeof(a)), show(xv, b, sizeof(b)));
}

/* Same JSON type, and for arrays the same type of elements. */
static int
same_type(const json_t *a, const json_t *b)
{
	if (json_is_boolean(a) && json_is_boolean(b))
		return 1;
	if (json_typeof(a) != json_typeof(b))
		return 0;
	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(b) == 0)
		return 1;
	return same_type(json_array_get(a, 0), json_array_get(b, 0));
}

/* Keys the schema does not name (or every key, without a schema). */
static void
check_other_keys(
    struct hits *H, const json_t *have, const json_t *want, int expected)
{
	const cdb_schema *s = H->c->s;
	const char *k;
	json_t *v, *xv;
	char a[80], b[80];

	json_object_foreach((json_t *)have, k, v)
	{
		if (s != NULL && cdb_schema_field_get(s, k) != NULL)
			continue;
		xv = json_object_get(want, k);
		if (s != NULL && !cdb_schema_keeps_unknown(s))
			problem(H, CDB_VT_TYPES,
			    "key \"%s\" is not a field of the schema", k);
		else if (!expected)
			continue;
		else if (xv == NULL)
			problem(H, CDB_VT_METADATA,
			    "key \"%s\" is %s, the source's record has none", k,
			    show(v, a, sizeof(a)));
		else if (!same_type(xv, v))
			problem(H, CDB_VT_TYPES,
			    "key \"%s\" is %s, expected %s", k,
			    show(v, a, sizeof(a)), show(xv, b, sizeof(b)));
		else if (!json_equal(xv, v))
			problem(H, CDB_VT_METADATA,
			    "key \"%s\" is %s, expected %s", k,
			    show(v, a, sizeof(a)), show(xv, b, sizeof(b)));
	}
	json_object_foreach((json_t *)want, k, xv)
	{
		if ((s == NULL || cdb_schema_field_get(s, k) == NULL) &&
		    json_object_get(have, k) == NULL)
			problem(H, CDB_VT_METADATA, "key \"%s\" is missing", k);
	}
}

static const json_t *
object_or_null(const json_t *m)
{
	return json_is_object(m) && json_object_size(m) > 0 ? m : NULL;
}

void
cdb_vcmp_row(struct vctx *c, const cdb_page *pg, size_t j, size_t coll,
    int nan, struct frec *f, const struct vwant *w)
{
	json_t *idv = json_array_get(pg->ids, j);
	struct vhave h = {coll, f->home, json_string_value(idv),
	    json_string_length(idv), json_array_get(pg->documents, j),
	    json_array_get(pg->metadatas, j), json_array_get(pg->uris, j),
	    pg->dim ? pg->emb + j * pg->dim : NULL, pg->dim, nan};
	struct hits H = {c, &h, {0}};
	const json_t *have = object_or_null(h.meta);
	const json_t *want = w ? object_or_null(w->meta) : NULL;
	size_t i;

	f->fetched = 1;
	f->digest = cdb_validate_content_digest(h.doc, h.emb, h.dim);
	check_embedding(&H, w);
	if (w != NULL)
		check_content(&H, w);
	for (i = 0; c->s != NULL && i < cdb_schema_nfields(c->s); i++)
		check_field(
		    &H, cdb_schema_field_at(c->s, i), have, want, w != NULL);
	check_other_keys(&H, have, want, w != NULL);
	c->t[CDB_VT_METADATA].checked++;
	c->t[CDB_VT_TYPES].checked++;
	c->t[CDB_VT_CITATIONS].checked++;
}

/* ---------------------------------------------------------- batches -- */

static int
add_absent(
    struct vctx *c, size_t coll, const char *id, size_t len, cdb_error *e)
{
	struct absent *a;

	if (c->nabsent == c->capabsent) {
		size_t cap = c->capabsent ? c->capabsent * 2 : 1024;
		if ((a = realloc(c->absent, cap * sizeof(*a))) == NULL)
			return cdb_error_oom(e);
		c->absent = a;
		c->capabsent = cap;
	}
	a = &c->absent[c->nabsent++];
	a->coll = (uint32_t)coll;
	a->off = c->aids.len;
	a->len = (uint32_t)len;
	if (cdb_buf_append(&c->aids, id, len) == -1 ||
	    cdb_buf_putc(&c->aids, '\0') == -1)
		return cdb_error_oom(e);
	return 0;
}

/* Compare row j of the page with the batch's record it answers. */
static int
compare_row(struct vctx *c, struct vbatch *b, size_t j, cdb_error *e)
{
	json_t *idv = json_array_get(b->page.ids, j);
	const char *id = json_string_value(idv);
	size_t len = json_string_length(idv), idx;
	uint64_t key = cdb_hmap_key(c->colls[b->coll].name, id, len), i;
	struct vwant w;
	struct vrec *r;

	if (id == NULL || !cdb_hmap_get(c->scratch, key, &i))
		return 0;
	r = &b->r[i];
	r->done = 1;
	if (add_found(c, b->coll, id, len, &idx, e) == -1)
		return -1;
	w.doc = r->doc;
	w.meta = r->meta;
	w.uri = r->uri;
	w.emb = r->dim ? b->emb + r->emb_off : NULL;
	w.dim = r->dim;
	c->found[idx].state = F_PRESENT;
	c->colls[b->coll].present++;
	cdb_vcmp_row(c, &b->page, j, b->coll, b->nan, &c->found[idx], &w);
	return 0;
}

static json_t *
batch_ids(const struct vbatch *b)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < b->n; i++)
		if (json_array_append_new(
		        a, json_stringn_nocheck(b->ids.data + b->r[i].id_off,
		               b->r[i].id_len)) == -1) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/*
 * The new server's records ids (a JSON array) of collection coll, every
 * field, into pg.  A vector holding NaN fails the whole request (the
 * server sends nulls): then 1 for the caller to ask id by id, and for
 * one id it is fetched without its vector and *nan set, so the run goes
 * on and test 2 names it.  0, 1, or -1 with e.
 */
int
cdb_vcmp_get(struct vctx *c, size_t coll, const json_t *ids, cdb_page *pg,
    int *nan, cdb_error *e)
{
	cdb_error fe;

	*nan = 0;
	cdb_error_clear(&fe);
	if (cdb_page_get_ids(c->newc, c->colls[coll].id, (json_t *)ids,
	        CDB_INC_ALL, pg, &fe) == 0)
		return 0;
	if (fe.kind != CDB_ERR_SERVER || fe.code != CDB_E_EMBEDDING) {
		*e = fe;
		return -1;
	}
	if (json_array_size(ids) > 1)
		return 1;
	*nan = 1;
	return cdb_page_get_ids(c->newc, c->colls[coll].id, (json_t *)ids,
	    CDB_INC_ALL & ~CDB_INC_EMBEDDINGS, pg, e);
}

/* Fetch b into b->page (nothing when its collection is absent). */
static int
fetch(struct vctx *c, struct vbatch *b, cdb_error *e)
{
	json_t *ids;
	int rc;

	if (c->colls[b->coll].id == NULL)
		return 0;
	if ((ids = batch_ids(b)) == NULL)
		return cdb_error_oom(e);
	rc = cdb_vcmp_get(c, b->coll, ids, &b->page, &b->nan, e);
	json_decref(ids);
	return rc;
}

/* Fetch b and hand it to the comparison, record by record when a vector
 * holds NaN (rare, so simple).  Frees b. */
static int
fetch_push(struct vctx *c, struct vbatch *b, cdb_error *e)
{
	struct vbatch *s;
	size_t i;
	int rc;

	if ((rc = fetch(c, b, e)) == 0)
		return cdb_vbatch_push(c->qcmp, b);
	for (i = 0; rc == 1 && i < b->n; i++) {
		if ((s = cdb_vbatch_slice(b, i, i + 1)) == NULL)
			rc = cdb_error_oom(e);
		else if (fetch(c, s, e) == 0)
			rc = cdb_vbatch_push(c->qcmp, s) == 0 ? 1 : -1;
		else {
			cdb_vbatch_free(s);
			rc = -1;
		}
	}
	cdb_vbatch_free(b);
	return rc == -1 ? -1 : 0;
}

/*
 * The fetcher: the new server's ids first (references and citations are
 * checked against them), then each expected batch's records, handed on
 * to the comparison so that the next request goes out meanwhile.
 */
void *
cdb_vcmp_fetch_thread(void *arg)
{
	struct vctx *c = arg;
	struct vbatch *b;
	int rc;

	rc = enumerate(c, &c->ferr);
	while (rc == 0 && !atomic_load(&c->stop) &&
	       (b = cdb_queue_pop(c->qin)) != NULL)
		rc = fetch_push(c, b, &c->ferr);
	if (rc == -1)
		cdb_vctx_stop(c);
	cdb_queue_close(c->qcmp);
	return NULL;
}

int
cdb_vcmp_batch(struct vctx *c, struct vbatch *b, cdb_error *e)
{
	size_t i;
	int rc = 0;

	cdb_hmap_clear(c->scratch);
	for (i = 0; i < b->n; i++)
		if (cdb_hmap_put(c->scratch, b->r[i].key, i, NULL) == -1)
			return cdb_error_oom(e);
	for (i = 0; i < b->page.n && rc == 0; i++)
		rc = compare_row(c, b, i, e);
	for (i = 0; i < b->n && rc == 0; i++)
		if (!b->r[i].done)
			rc = add_absent(c, b->coll,
			    b->ids.data + b->r[i].id_off, b->r[i].id_len, e);
	c->compared += (long long)b->n;
	cdb_vctx_progress(c, "comparing", c->compared, 0);
	return rc;
}
