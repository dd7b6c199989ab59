/*
 * validate_end.c - layer 3 of the validation engine (see
 * validate_impl.h): after the expected records went by: where the absent
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
			cdb_vtest_add(t5, "misplaced_records", 1);
			cdb_vtest_offend(t5, k->name, id, a->len,
			    "belongs in \"%s\", found in \"%s\"", k->name,
			    c->colls[f->coll].name);
			continue;
		}
		k->missing++;
		cdb_vtest_add(t1, "missing_records", 1);
		cdb_vtest_offend(t1, k->name, id, a->len,
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
		const char *id = cdb_vctx_found_id(c, f);
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
			cdb_vtest_add(t6, "duplicate_ids", 1);
			cdb_vtest_offend(t6, c->colls[f->coll].name, id, f->id_len,
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
	json_t *idv;
	uint64_t v;
	size_t j;

	for (j = 0; j < pg->n; j++) {
		idv = json_array_get(pg->ids, j);
		if (json_string_value(idv) != NULL &&
		    cdb_hmap_get(c->fmap,
		        cdb_hmap_key(c->colls[coll].name, json_string_value(idv),
		            json_string_length(idv)),
		        &v))
			cdb_vcmp_row(c, pg, j, coll, nan, &c->found[v], NULL);
	}
}

/* Fetch ids of coll and check them, id by id when a vector holds NaN. */
static int
fetch_check(struct vctx *c, size_t coll, const json_t *ids, cdb_error *e)
{
	json_t *one;
	size_t i;
	int rc, nan;

	if ((rc = cdb_vcmp_get(c, coll, ids, &c->page, &nan, e)) == 0)
		check_page(c, coll, &c->page, nan);
	for (i = 0; rc == 1 && i < json_array_size(ids); i++) {
		if ((one = json_pack("[O]", json_array_get(ids, i))) == NULL)
			return cdb_error_oom(e);
		if (cdb_vcmp_get(c, coll, one, &c->page, &nan, e) == 0)
			check_page(c, coll, &c->page, nan);
		else
			rc = -1;
		json_decref(one);
	}
	return rc == -1 ? -1 : 0;
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
		if (json_array_append_new(ids, json_stringn_nocheck(
		        cdb_vctx_found_id(c, f), f->id_len)) == -1) {
			json_decref(ids);
			return NULL;
		}
		n++;
	}
	return ids;
}

/* Fetch the records not compared yet, check them on their own. */
static int
fetch_rest(struct vctx *c, size_t coll, cdb_error *e)
{
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
		rc = fetch_check(c, coll, ids, e);
		json_decref(ids);
		cdb_vctx_progress(
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
		        c->colls[f->home].name, cdb_vctx_found_id(c, f), f->id_len),
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
		cdb_vtest_add(t6, "duplicate_content_in_source", (double)n);
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
		cdb_vtest_add(t6, "duplicate_content_records", 1);
		if (f->dupflag)
			continue;
		f->dupflag = 1;
		cdb_vtest_offend(t6, c->colls[f->coll].name, cdb_vctx_found_id(c, f),
		    f->id_len,
		    "same document and embedding as \"%s\" in \"%s\"",
		    cdb_vctx_found_id(c, &c->found[first]),
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
		cdb_vtest_add(t1, "unexpected_records", 1);
		cdb_vtest_offend(t1, c->colls[f->coll].name, cdb_vctx_found_id(c, f),
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

/* Is k as the mapping configures it?  0, or -1 out of memory. */
static int
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
		cdb_vtest_offend(t5, k->name, NULL, 0,
		    "collection does not exist in the new database "
		    "(%lld records expected)",
		    k->expected);
		c->lost_colls += k->expected > 0;
		return 0;
	}
	if (k->want == NULL)
		return 0;
	if (ws != k->space && ++c->space_bad)
		cdb_vtest_offend(t5, k->name, NULL, 0,
		    "collection has space %s, the mapping gives %s",
		    cdb_validate_space_name(k->space),
		    cdb_validate_space_name(ws));
	if (json_is_integer(wd) && k->dim > 0 &&
	    (size_t)json_integer_value(wd) != k->dim)
		cdb_vtest_offend(t5, k->name, NULL, 0,
		    "collection has dimension %zu, the source %lld", k->dim,
		    (long long)json_integer_value(wd));
	if (index_differs(json_object_get(k->want, "configuration"),
	        json_object_get(k->have, "configuration_json"), why,
	        sizeof(why))) {
		/* A weaker index finds less; without the old server only
		 * this says so.  Not wrong in itself: a warning. */
		cdb_vtest_add(t5, "collection_index_differs", 1);
		if (json_array_size(c->warnings) < CDB_VALIDATE_MAX_OFFENDERS) {
			char msg[sizeof(why) + 200];
			snprintf(msg, sizeof(msg),
			    "collection \"%s\" searches with another index "
			    "configuration than the expected one: %s",
			    k->name, why);
			if (json_array_append_new(c->warnings, json_string(msg)))
				return -1;
		}
	}
	if (!(json_is_null(wm) || wm == NULL ? hm == NULL || json_is_null(hm)
	                                     : json_equal(wm, hm))) {
		json_t *list =
		    json_object_get(t5->metrics, "collections_metadata_differ");
		cdb_vtest_add(t5, "collection_metadata_differs", 1);
		if (list == NULL &&
		    json_object_set_new(t5->metrics,
		        "collections_metadata_differ", list = json_array()) == -1)
			return -1;
		return json_array_append_new(list, json_string(k->name));
	}
	return 0;
}

static int
totals(struct vctx *c, cdb_error *e)
{
	struct vtest *t1 = &c->t[CDB_VT_COUNT];
	long long want = 0, have = 0;
	size_t i;

	for (i = 0; i < c->ncolls; i++) {
		want += c->colls[i].expected;
		have += c->colls[i].found;
		if (check_collection(c, &c->colls[i]) == -1)
			return cdb_error_oom(e);
	}
	cdb_vtest_add(t1, "expected_records", (double)want);
	cdb_vtest_add(t1, "found_records", (double)have);
	return 0;
}

int
cdb_vend_run(struct vctx *c, cdb_error *e)
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
	return totals(c, e);
}
