/*
 * chromalog.c - replay the rows of embeddings_queue past what a
 * collection's segments have applied (adds, updates, upserts, deletes, in
 * order), as the server does when it starts: what each id became.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chromadir_impl.h"
#include "hmap.h"
#include "hnsw.h"
#include "pickle.h"

static int
base_has(coll *c, sqlite3_stmt *has, const char *id, size_t len, cdb_error *e)
{
	int rc;

	sqlite3_reset(has);
	sqlite3_bind_text(has, 1, c->meta_seg, -1, SQLITE_STATIC);
	sqlite3_bind_text(has, 2, id, (int)len, SQLITE_STATIC);
	if ((rc = sqlite3_step(has)) != SQLITE_ROW && rc != SQLITE_DONE)
		return cdb_chromadir_dberr(c->db, c->dir, e);
	return rc == SQLITE_ROW;
}

change *
cdb_chromadir_find_change(const coll *c, const char *id, size_t len)
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

	if ((ch = cdb_chromadir_find_change(c, id, len)) != NULL)
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
	ch->vec_in_base = cdb_chromadir_id_label(c, id, len) != NULL;
	c->nch++;
	return ch;
oom:
	cdb_error_oom(e);
	return NULL;
}

/* Set keys of patch onto o; a null value removes the key. */
void
cdb_chromadir_merge(json_t *o, json_t *patch)
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
			cdb_chromadir_merge(ch->rec, m);
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
		cdb_chromadir_merge(ch->rec, m);
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
		return cdb_error_oom(e);
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
int
cdb_chromadir_load_log(coll *c, cdb_error *e)
{
	sqlite3_stmt *st = NULL, *has = NULL;
	long long from = c->meta_seq < c->vec_seq ? c->meta_seq : c->vec_seq;
	int rc = 0;

	if ((c->chmap = cdb_hmap_new()) == NULL)
		return cdb_error_oom(e);
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
		rc = cdb_chromadir_dberr(c->db, c->dir, e);
	sqlite3_finalize(st);
	sqlite3_finalize(has);
	return rc == -1 ? -1 : 0;
}
