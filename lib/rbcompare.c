/*
 * rbcompare.c - prove a restore: read a snapshot member and fetch the
 * same ids back from the server, a batch at a time, comparing every
 * field.  A digest of a fresh export could not do it: Chroma returns
 * metadata keys in its own order and cosine vectors rescaled.
 *
 * With repair, metadata that differs is set back to the snapshot's and
 * read again.  Chroma 1.3 keeps the array values of deleted records and
 * hands them to new records that reuse their row ids, so a collection
 * recreated after a delete can show array keys it was never given.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chroma.h"
#include "pager.h"
#include "json.h"
#include "ndjson.h"
#include "rollback.h"

#define CMP_RECORDS 500
/* Bound the batch's vectors too: dimensions go up to 65536. */
#define CMP_FLOATS (1u << 22)

enum { SAME, META_DIFFERS, DIFFERS };

struct cmp {
	cdb_chroma *c;
	const cdb_rollback_cmp *o;
	const char *id;
	int cosine;
	long last_line; /* of the last record in the batch */
	json_t *fix_ids, *fix_metas, *fix_pos; /* metadata to set back */
	long long repaired;
	json_t *ids, *recs; /* the batch: ids and record lines */
	float *emb;
	size_t *dims, *offs, used, n;
	cdb_page page;
	long long compared, mismatches;
	char problem[600];
};

static void
mismatch(struct cmp *m, const char *id, const char *what)
{
	if (m->mismatches++ == 0)
		snprintf(m->problem, sizeof(m->problem), "id \"%.400s\": %s",
		    id, what);
}

static json_t *
at(const json_t *arr, size_t i)
{
	json_t *v = json_array_get(arr, i);

	return v ? v : json_null();
}

static json_t *
field(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return v ? v : json_null();
}

/* Bit for bit, or for cosine within 1e-6 of the vector's norm. */
static int
same_vector(const struct cmp *m, const float *a, const float *b, size_t dim)
{
	double norm = 0;
	size_t i;

	if (!m->cosine)
		return memcmp(a, b, dim * sizeof(float)) == 0;
	for (i = 0; i < dim; i++)
		norm += (double)a[i] * a[i];
	norm = sqrt(norm);
	for (i = 0; i < dim; i++)
		if (fabs((double)a[i] - b[i]) > 1e-6 * norm)
			return 0;
	return 1;
}

/* SAME, META_DIFFERS, or DIFFERS with what in *what. */
static int
compare_one(struct cmp *m, size_t k, size_t i, const char **what)
{
	const json_t *r = json_array_get(m->recs, k);
	cdb_page *p = &m->page;

	*what = NULL;
	if (!json_equal(field(r, "document"), at(p->documents, i)))
		*what = "document differs";
	else if (!json_equal(field(r, "uri"), at(p->uris, i)))
		*what = "uri differs";
	else if (m->dims[k] != p->dim)
		*what = "embedding length differs";
	else if (!same_vector(
	             m, m->emb + m->offs[k], p->emb + i * p->dim, p->dim))
		*what = "embedding differs";
	else if (!json_equal(field(r, "metadata"), at(p->metadatas, i))) {
		*what = "metadata differs";
		return META_DIFFERS;
	}
	return *what ? DIFFERS : SAME;
}

/* The snapshot's metadata, with null for each key it does not have. */
static json_t *
fixed_metadata(const json_t *want, const json_t *have)
{
	json_t *fix =
	    json_is_object(want) ? json_deep_copy(want) : json_object();
	const char *k;
	json_t *v;

	json_object_foreach ((json_t *)have, k, v) {
		if (json_object_get(fix, k) == NULL &&
		    json_object_set_new(fix, k, json_null()) == -1) {
			json_decref(fix);
			return NULL;
		}
	}
	return fix;
}

/* Map each id of the page to its position; NULL when out of memory. */
static json_t *
page_index(const cdb_page *p)
{
	json_t *index = json_object(), *v;
	size_t i;

	json_array_foreach (p->ids, i, v) {
		if (json_object_setn_new(index, json_string_value(v),
		        json_string_length(v), json_integer((json_int_t)i)) == -1) {
			json_decref(index);
			return NULL;
		}
	}
	return index;
}

/* Queue record k's metadata to be set back over the server's i-th. */
static int
queue_fix(struct cmp *m, size_t k, size_t i)
{
	return json_array_append(m->fix_ids, json_array_get(m->ids, k)) |
	       json_array_append_new(m->fix_metas,
	           fixed_metadata(field(json_array_get(m->recs, k), "metadata"),
	               at(m->page.metadatas, i))) |
	       json_array_append_new(m->fix_pos, json_integer((json_int_t)k));
}

/*
 * Fetch ids back and compare each with the batch's record: the n-th, or
 * with pos (after a repair) the pos[n]-th, which then counts as repaired
 * when it is the same now.
 */
static int
fetch_compare(struct cmp *m, const json_t *ids, const json_t *pos, cdb_error *e)
{
	json_t *index, *v, *x;
	const char *what;
	size_t n, k;
	int rc = 0, r;

	if (cdb_page_get_ids(m->c, m->id, ids, CDB_INC_ALL, &m->page, e) == -1)
		return -1;
	if ((index = page_index(&m->page)) == NULL)
		return cdb_error_oom(e);
	json_array_foreach (ids, n, v) {
		k = pos ? (size_t)json_integer_value(json_array_get(pos, n)) : n;
		x = json_object_getn(
		    index, json_string_value(v), json_string_length(v));
		what = "missing on the server";
		r = x ? compare_one(m, k, (size_t)json_integer_value(x), &what)
		      : DIFFERS;
		m->compared += pos == NULL;
		if (r == SAME && pos != NULL)
			m->repaired++;
		else if (r == META_DIFFERS && pos == NULL && m->o->repair)
			rc |= queue_fix(m, k, (size_t)json_integer_value(x));
		else if (r != SAME)
			mismatch(m, json_string_value(v), what);
	}
	json_decref(index);
	return rc == 0 ? 0 : cdb_error_oom(e);
}

/* Set the differing metadata back, then compare again. */
static int
repair(struct cmp *m, cdb_error *e)
{
	json_t *body;
	cdb_buf b;
	int rc;

	body = json_pack(
	    "{s:O, s:O}", "ids", m->fix_ids, "metadatas", m->fix_metas);
	cdb_buf_init(&b);
	rc = body && cdb_json_dump(&b, body) == 0
	         ? cdb_chroma_update(m->c, m->id, b.data, b.len, e)
	         : cdb_error_oom(e);
	json_decref(body);
	cdb_buf_free(&b);
	if (rc == 0)
		rc = fetch_compare(m, m->fix_ids, m->fix_pos, e);
	json_array_clear(m->fix_ids);
	json_array_clear(m->fix_metas);
	json_array_clear(m->fix_pos);
	return rc;
}

static int
wait_for(const struct cmp *m, long line, cdb_error *e)
{
	if (m->o->wait == NULL || m->o->wait(m->o->arg, line) == 0)
		return 0;
	return cdb_error_set(
	    e, CDB_ERR_INPUT, "not verified: the restore stopped");
}

static int
check_batch(struct cmp *m, cdb_error *e)
{
	if (m->n == 0)
		return 0;
	if (wait_for(m, m->last_line, e) == -1 ||
	    fetch_compare(m, m->ids, NULL, e) == -1 ||
	    (json_array_size(m->fix_ids) > 0 && repair(m, e) == -1))
		return -1;
	json_array_clear(m->ids);
	json_array_clear(m->recs);
	m->n = m->used = 0;
	return 0;
}

static int
add_record(struct cmp *m, const cdb_item *it, cdb_error *e)
{
	size_t dim = it->emb ? it->dim : 0;

	if ((m->n == CMP_RECORDS || m->used + dim > CMP_FLOATS) &&
	    check_batch(m, e) == -1)
		return -1;
	if (json_array_append_new(m->ids, json_stringn(it->id, it->id_len)) ==
	        -1 ||
	    json_array_append(m->recs, it->obj) == -1)
		return cdb_error_oom(e);
	m->dims[m->n] = dim;
	m->offs[m->n] = m->used;
	if (dim > 0)
		memcpy(m->emb + m->used, it->emb, dim * sizeof(float));
	m->used += dim;
	m->n++;
	m->last_line = it->line;
	return 0;
}

static int
walk(struct cmp *m, cdb_reader *rd, cdb_error *e)
{
	cdb_item it;
	int rc;

	while ((rc = cdb_reader_next(rd, &it, e)) == 1)
		if (it.kind == CDB_KIND_RECORD && add_record(m, &it, e) == -1)
			return -1;
	return rc == -1 ? -1 : check_batch(m, e);
}

/* The collection itself: metadata and index configuration. */
static void
compare_collection(struct cmp *m, const json_t *entry, const json_t *have)
{
	const json_t *want = field(entry, "configuration");
	const json_t *got = field(have, "configuration_json");

	if (!json_equal(field(entry, "metadata"), field(have, "metadata")))
		snprintf(m->problem, sizeof(m->problem),
		    "collection metadata differs");
	else if (!json_equal(field(want, "hnsw"), field(got, "hnsw")) ||
	         !json_equal(field(want, "spann"), field(got, "spann")))
		snprintf(m->problem, sizeof(m->problem),
		    "collection configuration differs");
	else
		return;
	m->mismatches++;
}

static int
prepare(struct cmp *m, const json_t *entry, const json_t *have, cdb_error *e)
{
	const char *space;

	m->id = json_string_value(json_object_get(have, "id"));
	if (m->id == NULL)
		return cdb_error_set(e, CDB_ERR_SERVER,
		    "collection without an id in the server's answer");
	space = cdb_chroma_space(field(entry, "configuration"));
	m->cosine = space != NULL && strcmp(space, "cosine") == 0;
	m->ids = json_array();
	m->recs = json_array();
	m->fix_ids = json_array();
	m->fix_metas = json_array();
	m->fix_pos = json_array();
	m->emb = malloc(CMP_FLOATS * sizeof(float));
	m->dims = calloc(CMP_RECORDS, sizeof(size_t));
	m->offs = calloc(CMP_RECORDS, sizeof(size_t));
	cdb_page_init(&m->page);
	if (m->ids == NULL || m->recs == NULL || m->fix_ids == NULL ||
	    m->fix_metas == NULL || m->fix_pos == NULL || m->emb == NULL ||
	    m->dims == NULL || m->offs == NULL)
		return cdb_error_oom(e);
	compare_collection(m, entry, have);
	return 0;
}

static void
release(struct cmp *m)
{
	json_decref(m->ids);
	json_decref(m->recs);
	json_decref(m->fix_ids);
	json_decref(m->fix_metas);
	json_decref(m->fix_pos);
	free(m->emb);
	free(m->dims);
	free(m->offs);
	cdb_page_free(&m->page);
}

static int
fill(struct cmp *m, const json_t *entry, json_t *result, cdb_error *e)
{
	long long want = json_integer_value(json_object_get(entry, "count"));
	long n = cdb_chroma_count(m->c, m->id, e);

	if (n == -1)
		return -1;
	if (m->mismatches == 0 && (n != want || m->compared != want))
		snprintf(m->problem, sizeof(m->problem),
		    "%ld records on the server, %lld in the snapshot", n, want);
	if (json_object_update_new(result,
	        json_pack("{s:I, s:I, s:I, s:I, s:b}", "count_after",
	            (json_int_t)n, "compared", (json_int_t)m->compared,
	            "mismatches", (json_int_t)m->mismatches, "repaired",
	            (json_int_t)m->repaired, "verified",
	            m->mismatches == 0 && n == want && m->compared == want)) ==
	        -1 ||
	    (m->problem[0] != '\0' &&
	        json_object_set_new(result, "problem", json_string(m->problem)) ==
	            -1))
		return cdb_error_oom(e);
	return 0;
}

int
cdb_rollback_compare(cdb_chroma *c, const json_t *entry, FILE *in,
    const cdb_rollback_cmp *o, json_t *result, cdb_error *e)
{
	const char *name = json_string_value(json_object_get(entry, "name"));
	struct cmp m;
	cdb_reader *rd = NULL;
	json_t *have;
	int rc = -1;

	memset(&m, 0, sizeof(m));
	m.c = c;
	m.o = o;
	if (wait_for(&m, 0, e) == -1 ||
	    (have = cdb_chroma_get_collection(c, name, e)) == NULL)
		return -1;
	if (prepare(&m, entry, have, e) == 0 &&
	    (rd = cdb_reader_new(in, name, 0)) == NULL)
		cdb_error_oom(e);
	else if (rd != NULL && walk(&m, rd, e) == 0)
		rc = fill(&m, entry, result, e);
	cdb_reader_free(rd);
	release(&m);
	json_decref(have);
	return rc;
}
