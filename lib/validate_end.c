/*
 * validate_end.c - after the expected records went by: where the absent
 * ones are (elsewhere: misplaced, test 5; nowhere: lost, test 1), what
 * else the new database holds (a second copy of an id, test 6; records
 * nobody migrated, test 1), duplicated content (test 6), and whether each
 * target collection exists as the mapping configures it (test 5).
 */
#include <stdlib.h>
#include <string.h>

#include "validate_impl.h"

/* The collection other than coll where id is, and should not be. */
static int
misplaced_in(
    struct vctx *c, size_t coll, const char *id, size_t len, size_t *idx)
{
	uint64_t key, v;
	size_t t;

	for (t = 0; t < c->ncolls; t++) {
		if (t == coll)
			continue;
		key = cdb_hmap_key(c->colls[t].name, id, len);
		if (cdb_hmap_get(c->fmap, key, &v) &&
		    !cdb_hmap_get(c->p.xmap, key, NULL) &&
		    c->found[v].state == F_NEW) {
			*idx = (size_t)v;
			return 1;
		}
	}
	return 0;
}

static void
resolve_absent(struct vctx *c)
{
	struct vtest *t1 = &c->t[CDB_VT_COUNT],
	             *t5 = &c->t[CDB_VT_DISTRIBUTION];
	size_t i, idx;

	for (i = 0; i < c->nabsent; i++) {
		const struct absent *a = &c->absent[i];
		const char *id = c->aids.data + a->off;
		struct vcoll *k = &c->colls[a->coll];
		if (misplaced_in(c, a->coll, id, a->len, &idx)) {
			struct frec *f = &c->found[idx];
			f->state = F_MISPLACED;
			f->home = a->coll;
			k->misplaced++;
			vtest_add(t5, "misplaced_records", 1);
			vtest_offend(t5, k->name, id, a->len,
			    "belongs in \"%s\", found in \"%s\"", k->name,
			    c->colls[f->coll].name);
			continue;
		}
		k->missing++;
		vtest_add(t1, "missing_records", 1);
		vtest_offend(t1, k->name, id, a->len,
		    "expected, not in the new database");
	}
}

/* Records nobody expected here: a second copy of an id, or extra. */
static void
classify_rest(struct vctx *c)
{
	struct vtest *t6 = &c->t[CDB_VT_DUPLICATES];
	size_t i, t;

	for (i = 0; i < c->nfound; i++) {
		struct frec *f = &c->found[i];
		const char *id = vctx_found_id(c, f);
		if (f->state != F_NEW)
			continue;
		f->state = F_EXTRA;
		for (t = 0; t < c->ncolls; t++) {
			uint64_t key =
			    cdb_hmap_key(c->colls[t].name, id, f->id_len);
			if (t == f->coll || !cdb_hmap_get(c->p.xmap, key, NULL))
				continue;
			f->state = F_DUPID;
			f->dupflag = 1;
			vtest_add(t6, "duplicate_ids", 1);
			vtest_offend(t6, c->colls[f->coll].name, id, f->id_len,
			    "the id is also in \"%s\", where it belongs",
			    c->colls[t].name);
			break;
		}
	}
}

/* Check what pg holds of collection coll: records nobody expected. */
static void
check_page(struct vctx *c, size_t coll, const cdb_page *pg, int nan)
{
	struct vhave h;
	struct frec *f;
	json_t *idv;
	uint64_t v;
	size_t j;

	for (j = 0; j < pg->n; j++) {
		idv = json_array_get(pg->ids, j);
		memset(&h, 0, sizeof(h));
		h.coll = coll;
		h.id = json_string_value(idv);
		h.id_len = json_string_length(idv);
		if (h.id == NULL ||
		    !cdb_hmap_get(c->fmap,
		        cdb_hmap_key(c->colls[coll].name, h.id, h.id_len), &v))
			continue;
		f = &c->found[v];
		h.home = f->home;
		h.doc = json_array_get(pg->documents, j);
		h.meta = json_array_get(pg->metadatas, j);
		h.uri = json_array_get(pg->uris, j);
		h.emb = pg->dim ? pg->emb + j * pg->dim : NULL;
		h.dim = pg->dim;
		h.nan = nan;
		f->fetched = 1;
		f->digest = cdb_validate_content_digest(h.doc, h.emb, h.dim);
		vcmp_record(c, &h, NULL);
	}
}

/* A vector holds NaN: fetch one by one, the guilty without vector. */
static int
fetch_singly(struct vctx *c, size_t coll, const json_t *ids, cdb_error *e)
{
	const char *cid = c->colls[coll].id;
	cdb_error fe;
	json_t *one;
	size_t i;
	int rc = 0, nan;

	for (i = 0; rc == 0 && i < json_array_size(ids); i++) {
		if ((one = json_pack("[O]", json_array_get(ids, i))) == NULL)
			return cdb_error_oom(e);
		cdb_error_clear(&fe);
		rc = cdb_page_get_ids(
		    c->newc, cid, one, CDB_INC_ALL, &c->page, &fe);
		if ((nan = rc == -1 && vcmp_unusable(&fe)))
			rc = cdb_page_get_ids(c->newc, cid, one,
			    CDB_INC_ALL & ~CDB_INC_EMBEDDINGS, &c->page, e);
		else if (rc == -1)
			*e = fe;
		json_decref(one);
		if (rc == 0)
			check_page(c, coll, &c->page, nan);
	}
	return rc;
}

/* The next page of ids of coll not fetched yet, from *i on. */
static json_t *
next_ids(struct vctx *c, size_t coll, size_t *i)
{
	json_t *ids = json_array();
	size_t n = 0;

	for (; ids != NULL && *i < c->nfound && n < (size_t)c->o->page;
	     (*i)++) {
		struct frec *f = &c->found[*i];
		if (f->coll != coll || f->fetched)
			continue;
		json_array_append_new(
		    ids, json_stringn_nocheck(vctx_found_id(c, f), f->id_len));
		n++;
	}
	return ids;
}

/* Fetch the records not compared yet, check them on their own. */
static int
fetch_rest(struct vctx *c, size_t coll, cdb_error *e)
{
	cdb_error fe;
	json_t *ids;
	size_t i = 0;
	int rc = 0;

	while (rc == 0 && i < c->nfound) {
		if ((ids = next_ids(c, coll, &i)) == NULL)
			return cdb_error_oom(e);
		if (json_array_size(ids) == 0) {
			json_decref(ids);
			break;
		}
		cdb_error_clear(&fe);
		if ((rc = cdb_page_get_ids(c->newc, c->colls[coll].id, ids,
		         CDB_INC_ALL, &c->page, &fe)) == 0)
			check_page(c, coll, &c->page, 0);
		else if (vcmp_unusable(&fe))
			rc = fetch_singly(c, coll, ids, e);
		else
			*e = fe;
		json_decref(ids);
		vctx_progress(
		    c, "checking others", (long long)i, (long long)c->nfound);
	}
	return rc;
}

/* --------------------------------------------------- duplicates -- */

struct dig {
	uint64_t digest;
	size_t idx;
};

static int
by_digest(const void *a, const void *b)
{
	const struct dig *x = a, *y = b;

	if (x->digest != y->digest)
		return x->digest < y->digest ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The expected digest of found record f, if it is an expected record. */
static int
expected_digest(const struct vctx *c, const struct frec *f, uint64_t *d)
{
	if (f->state == F_PRESENT)
		return cdb_hmap_get(c->p.xmap, f->key, d);
	if (f->state == F_MISPLACED)
		return cdb_hmap_get(c->p.xmap,
		    cdb_hmap_key(
		        c->colls[f->home].name, vctx_found_id(c, f), f->id_len),
		    d);
	return 0;
}

/*
 * One group of records with the same content.  The source had it too
 * when every member is an expected record and their expected contents
 * are equal as well.
 */
static void
judge_group(struct vctx *c, const struct dig *g, size_t n)
{
	struct vtest *t6 = &c->t[CDB_VT_DUPLICATES];
	uint64_t d0 = 0, d;
	size_t i, first = g[0].idx;
	int source_had = 1;

	for (i = 0; i < n && source_had; i++) {
		if (!expected_digest(c, &c->found[g[i].idx], &d))
			source_had = 0;
		else if (i == 0)
			d0 = d;
		else if (d != d0)
			source_had = 0;
	}
	if (source_had) {
		vtest_add(t6, "duplicate_content_in_source", (double)n);
		return;
	}
	for (i = 0; i < n; i++)
		if (c->found[g[i].idx].state == F_PRESENT ||
		    c->found[g[i].idx].state == F_MISPLACED) {
			first = g[i].idx;
			break;
		}
	for (i = 0; i < n; i++) {
		struct frec *f = &c->found[g[i].idx];
		if (g[i].idx == first)
			continue;
		vtest_add(t6, "duplicate_content_records", 1);
		if (f->dupflag)
			continue;
		f->dupflag = 1;
		vtest_offend(t6, c->colls[f->coll].name, vctx_found_id(c, f),
		    f->id_len,
		    "same document and embedding as \"%s\" in \"%s\"",
		    vctx_found_id(c, &c->found[first]),
		    c->colls[c->found[first].coll].name);
	}
}

static int
find_duplicates(struct vctx *c, cdb_error *e)
{
	struct dig *a = malloc((c->nfound + 1) * sizeof(*a));
	size_t i, j, n = 0;

	if (a == NULL)
		return cdb_error_oom(e);
	for (i = 0; i < c->nfound; i++)
		if (c->found[i].fetched) {
			a[n].digest = c->found[i].digest;
			a[n++].idx = i;
		}
	qsort(a, n, sizeof(*a), by_digest);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && a[j].digest == a[i].digest; j++)
			;
		if (j - i > 1)
			judge_group(c, a + i, j - i);
	}
	free(a);
	return 0;
}

/* Extra records that are no duplicate: nobody migrated them. */
static void
count_unexpected(struct vctx *c)
{
	struct vtest *t1 = &c->t[CDB_VT_COUNT];
	size_t i;

	for (i = 0; i < c->nfound; i++) {
		struct frec *f = &c->found[i];
		if (f->state != F_EXTRA || f->dupflag)
			continue;
		c->colls[f->coll].unexpected++;
		vtest_add(t1, "unexpected_records", 1);
		vtest_offend(t1, c->colls[f->coll].name, vctx_found_id(c, f),
		    f->id_len, "in the new database, but not expected");
	}
}

/* ------------------------------------------------------ collections -- */

/* The names of the index parameters the two configurations both give
 * and give differently ("ef_search 100 -> 10"), into out; 0 when none. */
static int
index_differs(const json_t *want, const json_t *have, char *out, size_t n)
{
	static const char *const keys[] = {
	    "ef_search", "ef_construction", "max_neighbors"};
	const json_t *w = json_object_get(want, "hnsw");
	const json_t *h = json_object_get(have, "hnsw");
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const json_t *a = json_object_get(w, keys[i]);
		const json_t *b = json_object_get(h, keys[i]);
		if (!json_is_integer(a) || !json_is_integer(b) ||
		    json_integer_value(a) == json_integer_value(b))
			continue;
		used += (size_t)snprintf(out + used, used < n ? n - used : 0,
		    "%s%s %lld, the mapping's %lld", used ? "; " : "", keys[i],
		    (long long)json_integer_value(b),
		    (long long)json_integer_value(a));
	}
	return out[0] != '\0';
}

static void
check_collection(struct vctx *c, struct vcoll *k)
{
	struct vtest *t5 = &c->t[CDB_VT_DISTRIBUTION];
	json_t *wd = json_object_get(k->want, "dimension");
	int ws = cdb_validate_space(json_object_get(k->want, "configuration"));
	json_t *wm = json_object_get(k->want, "metadata");
	json_t *hm = json_object_get(k->have, "metadata");
	char why[300];

	if (k->have == NULL) {
		/* The mapping requires it, records or not. */
		vtest_offend(t5, k->name, NULL, 0,
		    "collection does not exist in the new database "
		    "(%lld records expected)",
		    k->expected);
		c->lost_colls += k->expected > 0;
		return;
	}
	if (k->want == NULL)
		return;
	if (ws != k->space && ++c->space_bad)
		vtest_offend(t5, k->name, NULL, 0,
		    "collection has space %s, the mapping gives %s",
		    cdb_validate_space_name(k->space),
		    cdb_validate_space_name(ws));
	if (json_is_integer(wd) && k->dim > 0 &&
	    (size_t)json_integer_value(wd) != k->dim)
		vtest_offend(t5, k->name, NULL, 0,
		    "collection has dimension %zu, the source %lld", k->dim,
		    (long long)json_integer_value(wd));
	if (index_differs(json_object_get(k->want, "configuration"),
	        json_object_get(k->have, "configuration_json"), why,
	        sizeof(why))) {
		/* A weaker index finds less; without the old server only
		 * this says so.  Not wrong in itself: a warning. */
		vtest_add(t5, "collection_index_differs", 1);
		if (json_array_size(c->warnings) < CDB_VALIDATE_MAX_OFFENDERS) {
			char msg[sizeof(why) + 200];
			snprintf(msg, sizeof(msg),
			    "collection \"%s\" searches with another index "
			    "configuration than the expected one: %s",
			    k->name, why);
			json_array_append_new(c->warnings, json_string(msg));
		}
	}
	if (!(json_is_null(wm) || wm == NULL ? hm == NULL || json_is_null(hm)
	                                     : json_equal(wm, hm))) {
		json_t *list =
		    json_object_get(t5->metrics, "collections_metadata_differ");
		vtest_add(t5, "collection_metadata_differs", 1);
		if (list == NULL) {
			list = json_array();
			json_object_set_new(
			    t5->metrics, "collections_metadata_differ", list);
		}
		json_array_append_new(list, json_string(k->name));
	}
}

static void
totals(struct vctx *c)
{
	struct vtest *t1 = &c->t[CDB_VT_COUNT];
	long long want = 0, have = 0;
	size_t i;

	for (i = 0; i < c->ncolls; i++) {
		want += c->colls[i].expected;
		have += c->colls[i].found;
		check_collection(c, &c->colls[i]);
	}
	vtest_add(t1, "expected_records", (double)want);
	vtest_add(t1, "found_records", (double)have);
	vtest_add(t1, "missing_records", 0);
	vtest_add(t1, "unexpected_records", 0);
	vtest_add(&c->t[CDB_VT_DISTRIBUTION], "misplaced_records", 0);
	vtest_add(&c->t[CDB_VT_DUPLICATES], "duplicate_ids", 0);
	vtest_add(&c->t[CDB_VT_DUPLICATES], "duplicate_content_records", 0);
}

int
vend_run(struct vctx *c, cdb_error *e)
{
	size_t k;

	resolve_absent(c);
	classify_rest(c);
	for (k = 0; k < c->ncolls; k++)
		if (c->colls[k].id != NULL && fetch_rest(c, k, e) == -1)
			return -1;
	if (find_duplicates(c, e) == -1)
		return -1;
	count_unexpected(c);
	totals(c);
	return 0;
}
