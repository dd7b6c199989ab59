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

enum { OP_ADD = 0, OP_UPDATE, OP_UPSERT, OP_DELETE };
enum { ST_BASE = 0, ST_GONE, ST_SET };

/* What the log tail did to one id. */
typedef struct change {
	char *id;
	long long first; /* seq_id that first touched it, for the order */
	int meta;        /* ST_*: ST_BASE with patch = merge onto base */
	json_t *rec;     /* ST_SET: flat map with chroma:document/uri */
	json_t *patch;   /* ST_BASE: keys to set, null to remove */
	int vec;         /* ST_* */
	float *emb;      /* ST_SET */
	int in_base, vec_in_base, done;
} change;

typedef struct coll {
	const char *dir;
	sqlite3 *db;
	char id[64], name[512], meta_seg[64], vec_seg[64];
	long long dim, meta_seq, vec_seq;
	cdb_hnsw *hnsw;
	cdb_pickle_val *pk;
	cdb_hmap *ids; /* hash of id -> pair index in the id_to_label dict */
	change *ch;
	size_t nch, capch;
	cdb_hmap *chmap; /* hash of id -> index in ch */
	float *buf;
} coll;

static int
dberr(sqlite3 *db, const char *dir, cdb_error *e)
{
	return cdb_error_set(
	    e, CDB_ERR_INPUT, "%s/chroma.sqlite3: %s", dir, sqlite3_errmsg(db));
}

int
cdb_chromadir_prepare(sqlite3 *db, const char *dir, const char *sql,
    sqlite3_stmt **st, cdb_error *e)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
		return dberr(db, dir, e);
	return 0;
}

/* max_seq_id is an INTEGER since Chroma 0.5.x; before, 8 big-endian bytes. */
static long long
seq_value(sqlite3_stmt *st, int col)
{
	const unsigned char *p;
	long long x = 0;
	int i;

	if (sqlite3_column_type(st, col) != SQLITE_BLOB)
		return sqlite3_column_int64(st, col);
	p = sqlite3_column_blob(st, col);
	if (sqlite3_column_bytes(st, col) != 8)
		return -1;
	for (i = 0; i < 8; i++)
		x = (long long)((unsigned long long)x << 8 | p[i]);
	return x;
}

static int
seg_seq(coll *c, const char *seg, long long *seq, cdb_error *e)
{
	sqlite3_stmt *st;
	int rc;

	*seq = -1;
	if (cdb_chromadir_prepare(c->db, c->dir,
	        "SELECT seq_id FROM max_seq_id WHERE segment_id = ?", &st,
	        e) == -1)
		return -1;
	sqlite3_bind_text(st, 1, seg, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*seq = seq_value(st, 0);
	else if (rc != SQLITE_DONE)
		dberr(c->db, c->dir, e);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
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
	return rc == SQLITE_DONE ? 0 : dberr(db, dir, e);
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

/* ----------------------------------------------------- vector segment -- */

static int
copy_seg(char *dst, const unsigned char *s)
{
	if (s == NULL || strlen((const char *)s) >= 64)
		return -1;
	strcpy(dst, (const char *)s);
	return 0;
}

/* The collection's two segments and how far each has applied the log. */
static int
load_segments(coll *c, cdb_error *e)
{
	sqlite3_stmt *st;
	const char *scope;
	int rc;

	if (cdb_chromadir_prepare(c->db, c->dir,
	        "SELECT id, scope FROM segments WHERE collection = ?", &st,
	        e) == -1)
		return -1;
	sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		scope = (const char *)sqlite3_column_text(st, 1);
		if (scope && strcmp(scope, "METADATA") == 0)
			rc = copy_seg(c->meta_seg, sqlite3_column_text(st, 0));
		else if (scope && strcmp(scope, "VECTOR") == 0)
			rc = copy_seg(c->vec_seg, sqlite3_column_text(st, 0));
		if (rc == -1)
			break;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || c->meta_seg[0] == '\0' ||
	    c->vec_seg[0] == '\0')
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s/chroma.sqlite3: collection \"%s\" lacks a metadata or "
		    "vector segment",
		    c->dir, c->name);
	if (seg_seq(c, c->meta_seg, &c->meta_seq, e) == -1 ||
	    seg_seq(c, c->vec_seg, &c->vec_seq, e) == -1)
		return -1;
	if (c->meta_seq < 0)
		c->meta_seq = 0;
	return 0;
}

/* id -> pair index of the pickle's id_to_label, for cdb_hnsw_get. */
static int
index_ids(coll *c, const cdb_pickle_val *map, const char *path, cdb_error *e)
{
	size_t i;

	if ((c->ids = cdb_hmap_new()) == NULL)
		return cdb_error_set(e, CDB_ERR_SYS, "out of memory");
	for (i = 0; i < map->len; i++) {
		const cdb_pickle_val *k = &map->v[2 * i],
		                     *v = &map->v[2 * i + 1];

		if (k->type != CDB_PICKLE_STR || v->type != CDB_PICKLE_INT ||
		    v->i < 0)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "%s: id_to_label holds a pair that is not "
			    "string -> label",
			    path);
		if (cdb_hmap_put(
		        c->ids, cdb_hmap_key(NULL, k->s, k->len), i, NULL) != 1)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "%s: id \"%s\" twice in id_to_label (or out of "
			    "memory)",
			    path, k->s);
	}
	return 0;
}

static const cdb_pickle_val *
id_label(const coll *c, const char *id, size_t len)
{
	const cdb_pickle_val *map = cdb_pickle_get(c->pk, "id_to_label");
	uint64_t i;

	if (c->ids == NULL ||
	    !cdb_hmap_get(c->ids, cdb_hmap_key(NULL, id, len), &i))
		return NULL;
	if (map->v[2 * i].len != len || memcmp(map->v[2 * i].s, id, len) != 0)
		return NULL;
	return &map->v[2 * i + 1];
}

/*
 * The persisted hnsw index, used (as the server does) only when its
 * pickle names elements; otherwise the whole log is the vector segment.
 */
static int
load_vectors(coll *c, cdb_error *e)
{
	static const char *const keep[] = {
	    "id_to_label", "max_seq_id", "dimensionality", NULL};
	const cdb_pickle_val *map, *ms;
	char dir[PATH_MAX], path[PATH_MAX + 32];
	struct stat sb;
	FILE *fp;

	snprintf(dir, sizeof(dir), "%s/%s", c->dir, c->vec_seg);
	snprintf(path, sizeof(path), "%s/index_metadata.pickle", dir);
	if (lstat(path, &sb) == -1) {
		c->vec_seq = 0;
		return errno == ENOENT ? 0
		                       : cdb_error_set(e, CDB_ERR_SYS, "%s: %s",
		                             path, strerror(errno));
	}
	if (!S_ISREG(sb.st_mode) || (fp = fopen(path, "rb")) == NULL)
		return cdb_error_set(
		    e, CDB_ERR_INPUT, "%s: not a readable file", path);
	c->pk = cdb_pickle_read(fp, path, keep, e);
	fclose(fp);
	if (c->pk == NULL)
		return -1;
	map = cdb_pickle_get(c->pk, "id_to_label");
	if (map == NULL || map->type != CDB_PICKLE_DICT)
		return cdb_error_set(
		    e, CDB_ERR_INPUT, "%s: no id_to_label dict", path);
	if (map->len == 0) {
		c->vec_seq = 0;
		return 0;
	}
	ms = cdb_pickle_get(c->pk, "max_seq_id");
	if (c->vec_seq < 0)
		c->vec_seq = ms && ms->type == CDB_PICKLE_INT ? ms->i : 0;
	if ((c->hnsw = cdb_hnsw_open(dir, e)) == NULL)
		return -1;
	if (c->dim > 0 && (long long)cdb_hnsw_dim(c->hnsw) != c->dim)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s/header.bin: %zu dimensions, the collection has %lld",
		    dir, cdb_hnsw_dim(c->hnsw), c->dim);
	c->dim = (long long)cdb_hnsw_dim(c->hnsw);
	return index_ids(c, map, path, e);
}

/* ------------------------------------------------------------ the log -- */

static int
base_has(coll *c, sqlite3_stmt *has, const char *id, size_t len, cdb_error *e)
{
	int rc;

	sqlite3_reset(has);
	sqlite3_bind_text(has, 1, c->meta_seg, -1, SQLITE_STATIC);
	sqlite3_bind_text(has, 2, id, (int)len, SQLITE_STATIC);
	if ((rc = sqlite3_step(has)) != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(c->db, c->dir, e);
	return rc == SQLITE_ROW;
}

static change *
find_change(const coll *c, const char *id, size_t len)
{
	uint64_t i;

	if (!cdb_hmap_get(c->chmap, cdb_hmap_key(NULL, id, len), &i))
		return NULL;
	return strlen(c->ch[i].id) == len && memcmp(c->ch[i].id, id, len) == 0
	           ? &c->ch[i]
	           : NULL;
}

static change *
get_change(coll *c, sqlite3_stmt *has, const char *id, size_t len,
    long long seq, cdb_error *e)
{
	change *ch;
	int in;

	if ((ch = find_change(c, id, len)) != NULL)
		return ch;
	if (memchr(id, '\0', len) != NULL) {
		cdb_error_set(e, CDB_ERR_INPUT,
		    "%s/chroma.sqlite3: "
		    "embeddings_queue seq_id %lld: id holds a NUL byte",
		    c->dir, seq);
		return NULL;
	}
	if ((in = base_has(c, has, id, len, e)) == -1)
		return NULL;
	if (c->nch == c->capch) {
		size_t cap = c->capch ? 2 * c->capch : 64;
		change *p = realloc(c->ch, cap * sizeof(*p));

		if (p == NULL)
			goto oom;
		c->ch = p;
		c->capch = cap;
	}
	ch = &c->ch[c->nch];
	memset(ch, 0, sizeof(*ch));
	if ((ch->id = strndup(id, len)) == NULL ||
	    cdb_hmap_put(c->chmap, cdb_hmap_key(NULL, id, len), c->nch, NULL) !=
	        1) {
		free(ch->id);
		goto oom;
	}
	ch->first = seq;
	ch->in_base = in;
	ch->vec_in_base = id_label(c, id, len) != NULL;
	c->nch++;
	return ch;
oom:
	cdb_error_set(e, CDB_ERR_SYS, "out of memory");
	return NULL;
}

/* Set keys of patch onto o; a null value removes the key. */
static void
merge(json_t *o, json_t *patch)
{
	const char *k;
	json_t *v;

	json_object_foreach (patch, k, v) {
		if (json_is_null(v))
			json_object_del(o, k);
		else
			json_object_set(o, k, v);
	}
}

static void
meta_op(change *ch, int op, json_t *m)
{
	int exists = ch->meta == ST_SET || (ch->meta == ST_BASE && ch->in_base);

	if (op == OP_DELETE) {
		if (exists) {
			json_decref(ch->rec);
			json_decref(ch->patch);
			ch->rec = ch->patch = NULL;
			ch->meta = ST_GONE;
		}
		return;
	}
	if (exists && op != OP_ADD) {
		if (ch->meta == ST_SET) {
			merge(ch->rec, m);
			return;
		}
		if (ch->patch == NULL)
			ch->patch = json_object();
		json_object_update(ch->patch, m);
		return;
	}
	if (!exists && op != OP_UPDATE) {
		json_decref(ch->rec);
		json_decref(ch->patch);
		ch->patch = NULL;
		ch->rec = json_object();
		merge(ch->rec, m);
		ch->meta = ST_SET;
	}
}

static void
vec_op(change *ch, int op, float *emb)
{
	int exists =
	    ch->vec == ST_SET || (ch->vec == ST_BASE && ch->vec_in_base);

	if (op == OP_DELETE) {
		if (exists)
			ch->vec = ST_GONE;
		free(emb);
		return;
	}
	if ((exists && op == OP_ADD) || (!exists && op == OP_UPDATE) ||
	    emb == NULL) {
		free(emb);
		return;
	}
	free(ch->emb);
	ch->emb = emb;
	ch->vec = ST_SET;
}

/* The vector of a log row: packed little-endian float32. */
static int
log_vector(coll *c, sqlite3_stmt *st, long long seq, float **out, cdb_error *e)
{
	const unsigned char *p = sqlite3_column_blob(st, 3);
	const char *enc = (const char *)sqlite3_column_text(st, 4);
	size_t n = (size_t)sqlite3_column_bytes(st, 3), k;
	float *v;

	*out = NULL;
	if (sqlite3_column_type(st, 3) == SQLITE_NULL)
		return 0;
	if (enc == NULL || strcmp(enc, "FLOAT32") != 0 || n % 4 != 0 ||
	    n == 0 || (c->dim > 0 && n != (size_t)c->dim * 4))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s/chroma.sqlite3: embeddings_queue seq_id %lld: vector "
		    "of %zu bytes in encoding %s, expected FLOAT32 of %lld "
		    "dimensions",
		    c->dir, seq, n, enc ? enc : "NULL", c->dim);
	if ((v = malloc(n)) == NULL)
		return cdb_error_set(e, CDB_ERR_SYS, "out of memory");
	for (k = 0; k < n / 4; k++) {
		uint32_t x = (uint32_t)p[4 * k] | (uint32_t)p[4 * k + 1] << 8 |
		             (uint32_t)p[4 * k + 2] << 16 |
		             (uint32_t)p[4 * k + 3] << 24;

		memcpy(&v[k], &x, 4);
	}
	if (c->dim <= 0)
		c->dim = (long long)(n / 4);
	*out = v;
	return 0;
}

static int
apply_row(coll *c, sqlite3_stmt *st, sqlite3_stmt *has, cdb_error *e)
{
	long long seq = sqlite3_column_int64(st, 0);
	int op = sqlite3_column_int(st, 1);
	const char *id = (const char *)sqlite3_column_text(st, 2);
	const char *ms = (const char *)sqlite3_column_text(st, 5);
	json_t *m = NULL;
	float *emb;
	change *ch;

	if (id == NULL || op < OP_ADD || op > OP_DELETE)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s/chroma.sqlite3: embeddings_queue seq_id %lld: unknown "
		    "operation %d",
		    c->dir, seq, op);
	/* json_is_object evaluates its argument twice: load first. */
	if (ms != NULL)
		m = json_loadb(ms, (size_t)sqlite3_column_bytes(st, 5),
		    JSON_ALLOW_NUL, NULL);
	if (ms != NULL && !json_is_object(m)) {
		json_decref(m);
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s/chroma.sqlite3: embeddings_queue seq_id %lld: metadata "
		    "is not a JSON object",
		    c->dir, seq);
	}
	if (m == NULL)
		m = json_object();
	if (log_vector(c, st, seq, &emb, e) == -1 ||
	    (ch = get_change(c, has, id, (size_t)sqlite3_column_bytes(st, 2),
	         seq, e)) == NULL) {
		json_decref(m);
		return -1;
	}
	if (seq > c->meta_seq)
		meta_op(ch, op, m);
	if (seq > c->vec_seq)
		vec_op(ch, op, emb);
	else
		free(emb);
	json_decref(m);
	return 0;
}

/* Replay the log rows of the collection past what a segment applied. */
static int
load_log(coll *c, cdb_error *e)
{
	sqlite3_stmt *st = NULL, *has = NULL;
	long long from = c->meta_seq < c->vec_seq ? c->meta_seq : c->vec_seq;
	int rc = 0;

	if ((c->chmap = cdb_hmap_new()) == NULL)
		return cdb_error_set(e, CDB_ERR_SYS, "out of memory");
	if (cdb_chromadir_prepare(c->db, c->dir,
	        "SELECT seq_id, operation, id, vector, encoding, metadata "
	        "FROM embeddings_queue WHERE substr(topic, -36) = ? AND "
	        "seq_id > ? ORDER BY seq_id",
	        &st, e) == -1 ||
	    cdb_chromadir_prepare(c->db, c->dir,
	        "SELECT 1 FROM embeddings WHERE segment_id = ? AND "
	        "embedding_id = ?",
	        &has, e) == -1) {
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, from);
	while (rc == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
		rc = apply_row(c, st, has, e);
	if (rc != -1 && rc != SQLITE_DONE)
		rc = dberr(c->db, c->dir, e);
	sqlite3_finalize(st);
	sqlite3_finalize(has);
	return rc == -1 ? -1 : 0;
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
	if ((label = id_label(c, id, len)) == NULL)
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
	change *ch = find_change(c, id, len);
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
		merge(flat, ch->patch);
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
		rc = rc == SQLITE_ROW ? -1 : dberr(c->db, c->dir, e);
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
		return dberr(c->db, c->dir, e);
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
		return cdb_error_set(e, CDB_ERR_SYS, "out of memory");
	rc = cdb_writer_json(w->w, CDB_KIND_COLLECTION, line, e);
	if (rc == 0 && w->o->collection != NULL)
		w->o->collection(w->o->arg, line);
	json_decref(line);
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
	if (copy_seg(c.id, sqlite3_column_text(st, 0)) == -1 ||
	    strlen(c.id) != 36 || sqlite3_column_text(st, 1) == NULL) {
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s/chroma.sqlite3: a collection without a valid id or "
		    "name",
		    dir);
	}
	snprintf(c.name, sizeof(c.name), "%s", sqlite3_column_text(st, 1));
	c.dim = sqlite3_column_type(st, 2) == SQLITE_INTEGER
	            ? sqlite3_column_int64(st, 2)
	            : 0;
	if (load_segments(&c, e) == -1 || load_vectors(&c, e) == -1 ||
	    load_log(&c, e) == -1 || count_records(&c, &count, e) == -1)
		goto done;
	if ((c.buf = calloc(c.dim > 0 ? (size_t)c.dim : 1, sizeof(float))) ==
	    NULL) {
		cdb_error_set(e, CDB_ERR_SYS, "out of memory");
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
	return rc == SQLITE_DONE ? 0 : dberr(db, dir, e);
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
		return cdb_error_set(e, CDB_ERR_SYS, "out of memory");
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
