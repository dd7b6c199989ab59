/*
 * chromadir.c - export from a Chroma data directory; see chromadir.h.
 *
 * Per collection: the metadata segment's rows in chroma.sqlite3, the
 * vector segment's hnswlib files with the id map of index_metadata.pickle,
 * and the rows of embeddings_queue past what each segment has applied
 * (its max_seq_id), replayed in order the way the server would on start.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chromadir.h"
#include "chromadir_impl.h"
#include "hmap.h"
#include "hnsw.h"
#include "json.h"
#include "ndjson.h"
#include "pickle.h"

int
cdb_chromadir_dberr(sqlite3 *db, const char *dir, cdb_error *e)
{
	return cdb_error_set(
	    e, CDB_ERR_INPUT, "%s/chroma.sqlite3: %s", dir, sqlite3_errmsg(db));
}

int
cdb_chromadir_prepare(sqlite3 *db, const char *dir, const char *sql,
    sqlite3_stmt **st, cdb_error *e)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
		return cdb_chromadir_dberr(db, dir, e);
	return 0;
}

/* ------------------------------------------------------------- values -- */

/* One typed value of a metadata row: string, int, float or bool column. */
static json_t *
typed(sqlite3_stmt *st, int col0, cdb_error *e, const char *where)
{
	if (sqlite3_column_type(st, col0) != SQLITE_NULL) {
		json_t *s =
		    json_stringn((const char *)sqlite3_column_text(st, col0),
		        (size_t)sqlite3_column_bytes(st, col0));

		if (s == NULL)
			cdb_error_set(e, CDB_ERR_INPUT,
			    "%s: string is not valid UTF-8", where);
		return s;
	}
	if (sqlite3_column_type(st, col0 + 1) != SQLITE_NULL)
		return json_integer(sqlite3_column_int64(st, col0 + 1));
	if (sqlite3_column_type(st, col0 + 2) != SQLITE_NULL)
		return json_real(sqlite3_column_double(st, col0 + 2));
	if (sqlite3_column_type(st, col0 + 3) != SQLITE_NULL)
		return json_boolean(sqlite3_column_int(st, col0 + 3));
	return json_null();
}

/* Rows of (key, str, int, float, bool) into object o; arrays append. */
static int
typed_rows(sqlite3_stmt *st, json_t *o, int arrays, const char *dir,
    sqlite3 *db, cdb_error *e)
{
	const char *k;
	json_t *v, *a;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		k = (const char *)sqlite3_column_text(st, 0);
		if (k == NULL || (v = typed(st, 1, e, dir)) == NULL)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "%s/chroma.sqlite3: metadata row without a key "
			    "or with a bad value",
			    dir);
		if (json_is_null(v) && !arrays) {
			continue; /* a document or uri stored as null */
		} else if (!arrays) {
			json_object_set_new(o, k, v);
			continue;
		}
		if ((a = json_object_get(o, k)) == NULL)
			json_object_set_new(o, k, a = json_array());
		json_array_append_new(a, v);
	}
	return rc == SQLITE_DONE ? 0 : cdb_chromadir_dberr(db, dir, e);
}

/* Collection metadata as the server returns it; NULL when it has none. */
static int
coll_metadata(coll *c, json_t **out, cdb_error *e)
{
	sqlite3_stmt *st;
	json_t *o = json_object();
	int rc;

	if (cdb_chromadir_prepare(c->db, c->dir,
	        "SELECT key, str_value, int_value, float_value, bool_value "
	        "FROM collection_metadata WHERE collection_id = ? "
	        "ORDER BY rowid",
	        &st, e) == -1)
		return -1;
	sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	rc = typed_rows(st, o, 0, c->dir, c->db, e);
	sqlite3_finalize(st);
	if (rc == 0 && json_object_size(o) > 0)
		*out = o;
	else
		json_decref(o);
	return rc;
}

/* The flat metadata (chroma:document and chroma:uri included) of row. */
static int
row_metadata(coll *c, sqlite3_stmt *kv, sqlite3_stmt *arr, long long row,
    json_t *o, cdb_error *e)
{
	int rc;

	sqlite3_reset(kv);
	sqlite3_bind_int64(kv, 1, row);
	if ((rc = typed_rows(kv, o, 0, c->dir, c->db, e)) == -1 || arr == NULL)
		return rc;
	sqlite3_reset(arr);
	sqlite3_bind_int64(arr, 1, row);
	return typed_rows(arr, o, 1, c->dir, c->db, e);
}

/* ------------------------------------------------------ configuration -- */

/* The vector index config of a 1.x schema: keys.#embedding, defaults. */
static json_t *
schema_vector_config(json_t *schema)
{
	json_t *vi;

	vi = json_object_get(
	    json_object_get(
	        json_object_get(json_object_get(json_object_get(schema, "keys"),
	                            "#embedding"),
	            "float_list"),
	        "vector_index"),
	    "config");
	if (vi == NULL)
		vi = json_object_get(
		    json_object_get(
		        json_object_get(
		            json_object_get(schema, "defaults"), "float_list"),
		        "vector_index"),
		    "config");
	return vi;
}

/*
 * The configuration the server reports: config_json_str when it names
 * the hnsw parameters (Chroma 1.0), else built from the schema (1.1 and
 * later store "{}" there and keep the parameters in schema_str).
 */
/* Chroma 1.0 keeps {"vector_index": {"hnsw" | "spann": ...}, ...}. */
static json_t *
from_vector_index(json_t *config, json_t *vi)
{
	json_t *h = json_object_get(vi, "hnsw"),
	       *sp = json_object_get(vi, "spann");
	json_t *ef = json_object_get(config, "embedding_function");

	return json_pack("{s:O, s:O, s:O}", "hnsw", h ? h : json_null(),
	    "spann", sp ? sp : json_null(), "embedding_function",
	    ef ? ef : json_null());
}

/*
 * The configuration the server reports: from config_json_str when it
 * names the index (Chroma 1.0), else built from the schema (later 1.x
 * store "{}" there and keep the parameters in schema_str).
 */
static json_t *
coll_configuration(json_t *config, json_t *schema)
{
	static const char *keys[] = {"ef_construction", "ef_search",
	    "max_neighbors", "resize_factor", "sync_threshold"};
	json_t *vc, *h, *hn, *ef;
	size_t i;

	if (json_is_object(json_object_get(config, "vector_index")))
		return from_vector_index(
		    config, json_object_get(config, "vector_index"));
	if (json_is_object(json_object_get(config, "hnsw")) ||
	    json_is_object(json_object_get(config, "spann")) ||
	    (vc = schema_vector_config(schema)) == NULL)
		return json_incref(config);
	hn = json_object_get(vc, "hnsw");
	if (!json_is_object(hn))
		return json_incref(config);
	h = json_object();
	json_object_set(h, "space",
	    json_object_get(vc, "space") ? json_object_get(vc, "space")
	                                 : json_null());
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_get(hn, keys[i]) != NULL)
			json_object_set(
			    h, keys[i], json_object_get(hn, keys[i]));
	ef = json_object_get(config, "embedding_function");
	if (ef == NULL)
		ef = json_object_get(vc, "embedding_function");
	return json_pack("{s:o, s:n, s:O}", "hnsw", h, "spann",
	    "embedding_function", ef ? ef : json_null());
}

static json_t *
parse_col(sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	return s ? json_loadb(s, (size_t)sqlite3_column_bytes(st, col),
	               JSON_ALLOW_NUL, NULL)
	         : NULL;
}

/* ------------------------------------------------------------ records -- */

typedef struct out {
	cdb_writer *w;
	cdb_buf b;
	const cdb_chromadir_opts *o;
	long long done, total;
} out;

static int
vector_of(coll *c, const change *ch, const char *id, size_t len,
    const float **emb, cdb_error *e)
{
	const cdb_pickle_val *label;
	int rc;

	*emb = NULL;
	if (ch != NULL && ch->vec == ST_SET) {
		*emb = ch->emb;
		return 0;
	}
	if (ch != NULL && ch->vec == ST_GONE)
		goto missing;
	if ((label = cdb_chromadir_id_label(c, id, len)) == NULL)
		goto missing;
	if ((rc = cdb_hnsw_get(c->hnsw, (uint64_t)label->i, c->buf, e)) == -1)
		return -1;
	if (rc == 0)
		goto missing;
	*emb = c->buf;
	return 0;
missing:
	return cdb_error_set(e, CDB_ERR_INPUT,
	    "%s: collection \"%s\": record \"%s\" has no vector in segment %s "
	    "nor in the log",
	    c->dir, c->name, id, c->vec_seg);
}

/* Split the flat map into document, uri and metadata and write the line. */
static int
emit(coll *c, out *w, const char *id, size_t len, json_t *flat,
    const change *ch, cdb_error *e)
{
	json_t *doc = json_object_get(flat, "chroma:document");
	json_t *uri = json_object_get(flat, "chroma:uri");
	json_t *meta = json_copy(flat);
	const float *emb;
	int rc;

	if (vector_of(c, ch, id, len, &emb, e) == -1) {
		json_decref(meta);
		return -1;
	}
	json_object_del(meta, "chroma:document");
	json_object_del(meta, "chroma:uri");
	cdb_buf_reset(&w->b);
	rc = cdb_ndjson_format_record(&w->b, c->name, id, len, doc,
	    json_object_size(meta) ? meta : NULL, uri, emb, (size_t)c->dim,
	    w->o->form, NULL, 0);
	json_decref(meta);
	if (rc == -1)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: collection \"%s\": record \"%s\" cannot be written "
		    "(a non-finite value?)",
		    c->dir, c->name, id);
	if (cdb_writer_line(w->w, CDB_KIND_RECORD, w->b.data, w->b.len, e) ==
	    -1)
		return -1;
	w->done++;
	if (w->o->progress != NULL && w->done % 1000 == 0)
		w->o->progress(w->o->arg, c->name, w->done, w->total);
	return 0;
}

static int
base_record(coll *c, out *w, sqlite3_stmt *st, sqlite3_stmt *kv,
    sqlite3_stmt *arr, cdb_error *e)
{
	const char *id = (const char *)sqlite3_column_text(st, 1);
	size_t len = (size_t)sqlite3_column_bytes(st, 1);
	change *ch = cdb_chromadir_find_change(c, id, len);
	json_t *flat;
	int rc;

	if (ch != NULL) {
		ch->done = 1;
		if (ch->meta == ST_GONE)
			return 0;
		if (ch->meta == ST_SET)
			return emit(c, w, id, len, ch->rec, ch, e);
	}
	flat = json_object();
	rc = row_metadata(c, kv, arr, sqlite3_column_int64(st, 0), flat, e);
	if (rc == 0 && ch != NULL && ch->patch != NULL)
		cdb_chromadir_merge(flat, ch->patch);
	if (rc == 0)
		rc = emit(c, w, id, len, flat, ch, e);
	json_decref(flat);
	return rc;
}

static int
records(coll *c, out *w, int arrays, cdb_error *e)
{
	sqlite3_stmt *st = NULL, *kv = NULL, *arr = NULL;
	size_t i;
	int rc = -1;

	if (cdb_chromadir_prepare(c->db, c->dir,
	        "SELECT id, embedding_id FROM embeddings WHERE segment_id = ? "
	        "ORDER BY id",
	        &st, e) == -1 ||
	    cdb_chromadir_prepare(c->db, c->dir,
	        "SELECT key, string_value, int_value, float_value, bool_value "
	        "FROM embedding_metadata WHERE id = ? ORDER BY rowid",
	        &kv, e) == -1 ||
	    (arrays && cdb_chromadir_prepare(c->db, c->dir,
	                   "SELECT key, string_value, int_value, float_value, "
	                   "bool_value FROM embedding_metadata_array WHERE "
	                   "id = ? ORDER BY rowid",
	                   &arr, e) == -1))
		goto done;
	sqlite3_bind_text(st, 1, c->meta_seg, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (base_record(c, w, st, kv, arr, e) == -1)
			break;
	if (rc != SQLITE_DONE) {
		rc = rc == SQLITE_ROW ? -1
		                      : cdb_chromadir_dberr(c->db, c->dir, e);
		goto done;
	}
	rc = 0;
	/* Ids the log added, in the order the log first named them. */
	for (i = 0; rc == 0 && i < c->nch; i++)
		if (!c->ch[i].done && c->ch[i].meta == ST_SET)
			rc = emit(c, w, c->ch[i].id, strlen(c->ch[i].id),
			    c->ch[i].rec, &c->ch[i], e);
done:
	sqlite3_finalize(st);
	sqlite3_finalize(kv);
	sqlite3_finalize(arr);
	return rc;
}

static int
count_records(coll *c, long long *n, cdb_error *e)
{
	sqlite3_stmt *st;
	size_t i;

	if (cdb_chromadir_prepare(c->db, c->dir,
	        "SELECT count(*) FROM embeddings WHERE segment_id = ?", &st,
	        e) == -1)
		return -1;
	sqlite3_bind_text(st, 1, c->meta_seg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return cdb_chromadir_dberr(c->db, c->dir, e);
	}
	*n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	for (i = 0; i < c->nch; i++) {
		if (c->ch[i].in_base && c->ch[i].meta == ST_GONE)
			(*n)--;
		else if (!c->ch[i].in_base && c->ch[i].meta == ST_SET)
			(*n)++;
	}
	return 0;
}

static void
coll_clear(coll *c)
{
	size_t i;

	for (i = 0; i < c->nch; i++) {
		free(c->ch[i].id);
		free(c->ch[i].emb);
		json_decref(c->ch[i].rec);
		json_decref(c->ch[i].patch);
	}
	free(c->ch);
	cdb_hmap_free(c->chmap);
	cdb_hmap_free(c->ids);
	cdb_pickle_free(c->pk);
	cdb_hnsw_free(c->hnsw);
	free(c->buf);
}

/* -------------------------------------------------------- collections -- */

static int
coll_line(coll *c, out *w, sqlite3_stmt *st, long long count, cdb_error *e)
{
	json_t *meta = NULL, *config, *schema, *line, *cfg;
	int rc;

	if (coll_metadata(c, &meta, e) == -1)
		return -1;
	config = parse_col(st, 3);
	schema = parse_col(st, 4);
	cfg = coll_configuration(config, schema);
	line = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:I}", "kind",
	    "collection", "name", c->name, "metadata",
	    meta ? meta : json_null(), "configuration", cfg ? cfg : json_null(),
	    "schema", schema ? schema : json_null(), "dimension",
	    c->dim > 0 ? json_integer(c->dim) : json_null(), "count",
	    (json_int_t)count);
	json_decref(config);
	if (line == NULL)
		return cdb_error_oom(e);
	rc = cdb_writer_json(w->w, CDB_KIND_COLLECTION, line, e);
	if (rc == 0 && w->o->collection != NULL)
		w->o->collection(w->o->arg, line);
	json_decref(line);
	return rc;
}

/*
 * Whether the index is cosine: the configuration's space, else the
 * "hnsw:space" metadata older versions kept.
 */
static int
space_cosine(coll *c, sqlite3_stmt *st, int *cosine, cdb_error *e)
{
	json_t *config = parse_col(st, 3), *schema = parse_col(st, 4);
	json_t *cfg = coll_configuration(config, schema), *meta = NULL, *sp;
	int rc = 0;

	sp = json_object_get(json_object_get(cfg, "hnsw"), "space");
	if (!json_is_string(sp) && (rc = coll_metadata(c, &meta, e)) == 0)
		sp = json_object_get(meta, "hnsw:space");
	*cosine =
	    json_is_string(sp) && strcmp(json_string_value(sp), "cosine") == 0;
	json_decref(config);
	json_decref(schema);
	json_decref(cfg);
	json_decref(meta);
	return rc;
}

static int
one_collection(const char *dir, sqlite3 *db, sqlite3_stmt *st, out *w,
    int arrays, cdb_error *e)
{
	coll c;
	long long count = 0;
	int rc = -1;

	memset(&c, 0, sizeof(c));
	c.dir = dir;
	c.db = db;
	if (sqlite3_column_bytes(st, 0) != 36 ||
	    sqlite3_column_text(st, 1) == NULL) {
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s/chroma.sqlite3: a collection without a valid id or "
		    "name",
		    dir);
	}
	memcpy(c.id, sqlite3_column_text(st, 0), 36);
	snprintf(c.name, sizeof(c.name), "%s", sqlite3_column_text(st, 1));
	c.dim = sqlite3_column_type(st, 2) == SQLITE_INTEGER
	            ? sqlite3_column_int64(st, 2)
	            : 0;
	if (cdb_chromadir_load_segments(&c, e) == -1 ||
	    space_cosine(&c, st, &c.cosine, e) == -1 ||
	    cdb_chromadir_load_vectors(&c, e) == -1 ||
	    cdb_chromadir_load_log(&c, e) == -1 ||
	    count_records(&c, &count, e) == -1)
		goto done;
	if ((c.buf = calloc(c.dim > 0 ? (size_t)c.dim : 1, sizeof(float))) ==
	    NULL) {
		cdb_error_oom(e);
		goto done;
	}
	w->done = 0;
	w->total = count;
	if (coll_line(&c, w, st, count, e) == -1 ||
	    records(&c, w, arrays, e) == -1)
		goto done;
	rc = 0;
done:
	coll_clear(&c);
	return rc;
}

/* Export the collections st selects (name bound, or all); count found. */
static int
run_collections(const char *dir, sqlite3 *db, sqlite3_stmt *st,
    const chromadir_layout *l, out *w, size_t *found, cdb_error *e)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		(*found)++;
		if (one_collection(dir, db, st, w, l->has_arrays, e) == -1)
			return -1;
	}
	return rc == SQLITE_DONE ? 0 : cdb_chromadir_dberr(db, dir, e);
}

/* All collections by name, or those named, in the order given. */
static int
collections(const char *dir, sqlite3 *db, const chromadir_layout *l, out *w,
    cdb_error *e)
{
	const cdb_chromadir_opts *o = w->o;
	const char *tenant = o->tenant ? o->tenant : "default_tenant";
	const char *dbname = o->database ? o->database : "default_database";
	sqlite3_stmt *st;
	char sql[512];
	size_t i = 0, found = 0;
	int rc = 0;

	snprintf(sql, sizeof(sql),
	    "SELECT c.id, c.name, c.dimension, %s, %s FROM collections c "
	    "JOIN databases d ON c.database_id = d.id WHERE d.tenant_id = ?1 "
	    "AND d.name = ?2 AND (?3 IS NULL OR c.name = ?3) ORDER BY c.name",
	    l->has_config ? "c.config_json_str" : "NULL",
	    l->has_schema ? "c.schema_str" : "NULL");
	if (cdb_chromadir_prepare(db, dir, sql, &st, e) == -1)
		return -1;
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, dbname, -1, SQLITE_STATIC);
	do {
		sqlite3_reset(st);
		if (o->names != NULL)
			sqlite3_bind_text(
			    st, 3, o->names[i], -1, SQLITE_STATIC);
		rc = run_collections(dir, db, st, l, w, &found, e);
	} while (rc == 0 && o->names != NULL && ++i < o->nnames);
	sqlite3_finalize(st);
	if (rc == 0 && o->names != NULL && found < o->nnames)
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "%s: %zu of the %zu collections named are not in tenant "
		    "\"%s\", database \"%s\"",
		    dir, o->nnames - found, o->nnames, tenant, dbname);
	return rc;
}

static int
export_db(const char *dir, sqlite3 *db, const chromadir_layout *l, FILE *fp,
    const cdb_chromadir_opts *o, cdb_export_stats *st, cdb_error *e)
{
	char abs[PATH_MAX];
	json_t *h;
	out w;
	int rc = -1;

	memset(&w, 0, sizeof(w));
	w.o = o;
	cdb_buf_init(&w.b);
	if ((w.w = cdb_writer_new(fp)) == NULL)
		return cdb_error_oom(e);
	if (realpath(dir, abs) == NULL)
		snprintf(abs, sizeof(abs), "%s", dir);
	h = cdb_ndjson_header(abs, o->tenant ? o->tenant : "default_tenant",
	    o->database ? o->database : "default_database", o->tool);
	json_object_set_new(h, "chroma_version", json_string(l->version));
	if (cdb_writer_json(w.w, CDB_KIND_HEADER, h, e) == 0 &&
	    collections(dir, db, l, &w, e) == 0 &&
	    cdb_writer_trailer(w.w, e) == 0)
		rc = 0;
	json_decref(h);
	st->records = cdb_writer_records(w.w);
	st->collections = cdb_writer_collections(w.w);
	cdb_writer_free(w.w);
	cdb_buf_free(&w.b);
	return rc;
}

int
cdb_chromadir_export(const char *dir, FILE *fp, const cdb_chromadir_opts *o,
    cdb_export_stats *st, cdb_error *e)
{
	char tmp[PATH_MAX];
	chromadir_layout l;
	sqlite3 *db;
	int rc, live;

	memset(st, 0, sizeof(*st));
	if ((live = cdb_chromadir_busy(dir, e)) == -1)
		return -1;
	if (live && !o->copy)
		return -1; /* e says why */
	if (live) {
		cdb_error_clear(e);
		if (cdb_chromadir_snapshot(dir, tmp, sizeof(tmp), e) == -1)
			return -1;
		rc = cdb_chromadir_export(tmp, fp, o, st, e);
		cdb_chromadir_cleanup(tmp);
		return rc;
	}
	if ((db = cdb_chromadir_open(dir, &l, e)) == NULL)
		return -1;
	rc = export_db(dir, db, &l, fp, o, st, e);
	sqlite3_close(db);
	return rc;
}

int
cdb_chromadir_export_archive(const char *path, FILE *fp,
    const cdb_chromadir_opts *o, cdb_export_stats *st, cdb_error *e)
{
	char dir[PATH_MAX];
	int rc;

	memset(st, 0, sizeof(*st));
	if (cdb_chromadir_extract(path, dir, sizeof(dir), e) == -1)
		return -1;
	rc = cdb_chromadir_export(dir, fp, o, st, e);
	cdb_chromadir_cleanup(dir);
	return rc;
}
