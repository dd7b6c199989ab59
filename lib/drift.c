/* drift.c - the old server against its export, record by record; see
 * drift.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chroma.h"
#include "pager.h"
#include "digest.h"
#include "drift.h"
#include "hmap.h"
#include "json.h"
#include "ndjson.h"

struct drift {
	const cdb_drift_opts *o;
	cdb_drift *d;
	cdb_chroma *c;
	json_t *colls;     /* the server's collections */
	json_t *seen;      /* exported name -> its records on the server */
	json_t *count;     /* seen's entry for the current collection */
	const char *id;    /* its id on the server; NULL: gone */
	long long present; /* of its records in this file, on the server */
	json_t *ids;       /* the batch */
	cdb_hmap *batch;   /* id key -> content digest */
	cdb_page page;
};

static void
digest_json(cdb_digest *g, const json_t *v)
{
	char *s = NULL;

	if (v != NULL && !json_is_null(v))
		s = json_dumps(
		    v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	cdb_digest_update(g, s ? s : "null", strlen(s ? s : "null") + 1);
	free(s);
}

/* The content of a record: document, metadata and embedding bits. */
static uint64_t
content(const json_t *doc, const json_t *meta, const float *emb, size_t dim)
{
	cdb_digest g;

	cdb_digest_init(&g);
	digest_json(&g, doc);
	digest_json(&g, meta);
	if (emb != NULL && dim > 0)
		cdb_digest_update(&g, emb, dim * sizeof(*emb));
	return cdb_digest_value(&g);
}

/* Fetch the batch's ids from the server and count what differs. */
static int
flush(struct drift *x, cdb_error *e)
{
	cdb_page *p = &x->page;
	size_t i, len;
	uint64_t want;
	const char *id;
	const float *emb;

	if (json_array_size(x->ids) == 0)
		return 0;
	if (cdb_page_get_ids(x->c, x->id, x->ids,
	        CDB_INC_EMBEDDINGS | CDB_INC_DOCUMENTS | CDB_INC_METADATAS, p,
	        e) == -1)
		return -1;
	for (i = 0; i < p->n; i++) {
		id = json_string_value(json_array_get(p->ids, i));
		len = json_string_length(json_array_get(p->ids, i));
		if (id == NULL || cdb_hmap_get(x->batch,
		                      cdb_hmap_key(NULL, id, len), &want) != 1)
			continue;
		x->present++;
		emb = p->dim > 0 ? p->emb + i * p->dim : NULL;
		if (content(json_array_get(p->documents, i),
		        json_array_get(p->metadatas, i), emb, p->dim) != want)
			x->d->changed++;
	}
	x->d->removed += (long long)json_array_size(x->ids) - (long long)p->n;
	json_array_clear(x->ids);
	cdb_hmap_clear(x->batch);
	return 0;
}

/*
 * The end of a collection in one file.  A shard's file holds a part of
 * each collection, so what the server holds beyond the exported records
 * is only known once every file is read (see beyond()).
 */
static int
end_collection(struct drift *x, cdb_error *e)
{
	if (flush(x, e) == -1)
		return -1;
	if (x->count != NULL)
		json_integer_set(
		    x->count, json_integer_value(x->count) + x->present);
	x->count = NULL;
	x->id = NULL;
	x->present = 0;
	return 0;
}

static const json_t *
server_coll(const struct drift *x, const char *name)
{
	const json_t *v;
	size_t i;

	json_array_foreach (x->colls, i, v)
		if (cdb_json_str_is(v, "name", name))
			return v;
	return NULL;
}

static int
on_collection(struct drift *x, const cdb_item *it, cdb_error *e)
{
	const char *name = json_string_value(json_object_get(it->obj, "name"));
	const json_t *v;

	if (end_collection(x, e) == -1)
		return -1;
	if (name == NULL)
		return 0;
	if ((x->count = json_object_get(x->seen, name)) == NULL &&
	    (json_object_set_new(x->seen, name, json_integer(0)) == -1 ||
	        (x->count = json_object_get(x->seen, name)) == NULL))
		return cdb_error_oom(e);
	if ((v = server_coll(x, name)) != NULL)
		x->id = json_string_value(json_object_get(v, "id"));
	return 0;
}

static int
on_record(struct drift *x, const cdb_item *it, cdb_error *e)
{
	x->d->exported++;
	if (x->id == NULL) {
		x->d->removed++;
		return 0;
	}
	if (cdb_hmap_put(x->batch, cdb_hmap_key(NULL, it->id, it->id_len),
	        content(it->document, it->metadata, it->emb, it->dim),
	        NULL) == -1 ||
	    json_array_append_new(x->ids, json_stringn(it->id, it->id_len)) ==
	        -1)
		return cdb_error_oom(e);
	if ((long)json_array_size(x->ids) >=
	    (x->o->page > 0 ? x->o->page : 1000))
		return flush(x, e);
	return 0;
}

/*
 * What the server holds beyond the exported records: the rest of each
 * exported collection, every collection created since, and the
 * collections gone.
 */
static int
beyond(struct drift *x, cdb_error *e)
{
	const json_t *v, *seen;
	const char *name;
	size_t i;
	long n;

	json_array_foreach (x->colls, i, v) {
		name = json_string_value(json_object_get(v, "name"));
		seen = name != NULL ? json_object_get(x->seen, name) : NULL;
		n = cdb_chroma_count(
		    x->c, json_string_value(json_object_get(v, "id")), e);
		if (n == -1)
			return -1;
		if (seen == NULL)
			x->d->colls_added++;
		if (n > json_integer_value(seen))
			x->d->added += n - json_integer_value(seen);
	}
	json_object_foreach ((json_t *)x->seen, name, v)
		if (server_coll(x, name) == NULL)
			x->d->colls_removed++;
	return 0;
}

static int
stream(struct drift *x, FILE *fp, const char *name, cdb_error *e)
{
	cdb_reader *r;
	cdb_item it;
	int rc;

	if ((r = cdb_reader_new(fp, name, 0)) == NULL)
		return cdb_error_oom(e);
	while ((rc = cdb_reader_next(r, &it, e)) == 1) {
		if (it.kind == CDB_KIND_COLLECTION)
			rc = on_collection(x, &it, e);
		else if (it.kind == CDB_KIND_RECORD)
			rc = on_record(x, &it, e);
		if (rc == -1)
			break;
	}
	cdb_reader_free(r);
	return rc == -1 ? -1 : end_collection(x, e);
}

/* Each file of the export, one after the other. */
static int
files(struct drift *x, cdb_error *e)
{
	FILE *fp;
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < x->o->nsource; i++) {
		if ((fp = fopen(x->o->source[i], "r")) == NULL)
			return cdb_error_set(e, CDB_ERR_INPUT, "%s: %s",
			    x->o->source[i], strerror(errno));
		rc = stream(x, fp, x->o->source[i], e);
		fclose(fp);
	}
	return rc == 0 ? beyond(x, e) : -1;
}

int
cdb_drift_run(const cdb_drift_opts *o, cdb_drift *d, cdb_error *e)
{
	struct drift x;
	int rc = -1;

	memset(d, 0, sizeof(*d));
	memset(&x, 0, sizeof(x));
	x.o = o;
	x.d = d;
	cdb_page_init(&x.page);
	x.ids = json_array();
	x.seen = json_object();
	x.batch = cdb_hmap_new();
	x.c = cdb_chroma_new(o->url, o->tenant, o->database, o->http, e);
	if (x.ids == NULL || x.seen == NULL || x.batch == NULL)
		cdb_error_oom(e);
	else if (x.c != NULL && cdb_chroma_check_database(x.c, e) == 0 &&
	         (x.colls = cdb_chroma_list(x.c, e)) != NULL)
		rc = files(&x, e);
	cdb_page_free(&x.page);
	cdb_chroma_free(x.c);
	cdb_hmap_free(x.batch);
	json_decref(x.ids);
	json_decref(x.seen);
	json_decref(x.colls);
	return rc;
}

/* Append msg to the report's warnings; the status at least WARNING. */
static int
warn(json_t *report, const char *msg)
{
	json_t *w = json_object_get(report, "warnings");

	if (!json_is_array(w)) {
		if ((w = json_array()) == NULL ||
		    json_object_set_new(report, "warnings", w) == -1)
			return -1;
	}
	if (json_array_append_new(w, json_string(msg)) == -1)
		return -1;
	if (cdb_json_str_is(report, "overall_status", "PASSED"))
		return json_object_set_new(
		    report, "overall_status", json_string("WARNING"));
	return 0;
}

int
cdb_drift_report(json_t *report, const cdb_drift *d)
{
	long long any = d->added + d->removed + d->changed;
	char msg[512];

	if (json_object_set_new(report, "source_drift",
	        json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "status",
	            any ? "WARNING" : "PASSED", "exported",
	            (json_int_t)d->exported, "added", (json_int_t)d->added,
	            "removed", (json_int_t)d->removed, "changed",
	            (json_int_t)d->changed, "collections_added",
	            (json_int_t)d->colls_added, "collections_removed",
	            (json_int_t)d->colls_removed)) == -1)
		return -1;
	if (!any)
		return 0;
	snprintf(msg, sizeof(msg),
	    "source changed since export: %lld record%s added, %lld removed, "
	    "%lld changed on the old server (of %lld exported); not part of "
	    "this migration: bring them over with a new export of what "
	    "changed (cdb-export, cdb-transform, cdb-import --mode upsert) "
	    "before the cutover, or with the application's writes after it",
	    d->added, d->added == 1 ? "" : "s", d->removed, d->changed,
	    d->exported);
	return warn(report, msg);
}

int
cdb_drift_report_failed(json_t *report, const cdb_error *err)
{
	char msg[1200];

	if (json_object_set_new(report, "source_drift",
	        json_pack("{s:s, s:s}", "status", "SKIPPED", "error",
	            err->text)) == -1)
		return -1;
	snprintf(msg, sizeof(msg),
	    "source drift not checked (the migration's verdict stands): %s",
	    err->text);
	return warn(report, msg);
}
