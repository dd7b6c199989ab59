/*
 * chromavec.c - a collection's segments in a Chroma data directory: how
 * far each has applied the log, and the vector segment's hnswlib index
 * with the id map of its index_metadata.pickle.
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
		cdb_chromadir_dberr(c->db, c->dir, e);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int
copy_seg(char *dst, const unsigned char *s)
{
	if (s == NULL || strlen((const char *)s) >= 64)
		return -1;
	strcpy(dst, (const char *)s);
	return 0;
}

/* The collection's two segments and how far each has applied the log. */
int
cdb_chromadir_load_segments(coll *c, cdb_error *e)
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
		return cdb_error_oom(e);
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

const cdb_pickle_val *
cdb_chromadir_id_label(const coll *c, const char *id, size_t len)
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
int
cdb_chromadir_load_vectors(coll *c, cdb_error *e)
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
		                       : cdb_error_sys(e, errno, "%s",
		                             path);
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
	if ((c->hnsw = cdb_hnsw_open(dir, c->cosine, e)) == NULL)
		return -1;
	if (c->dim > 0 && (long long)cdb_hnsw_dim(c->hnsw) != c->dim)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s/header.bin: %zu dimensions, the collection has %lld",
		    dir, cdb_hnsw_dim(c->hnsw), c->dim);
	c->dim = (long long)cdb_hnsw_dim(c->hnsw);
	return index_ids(c, map, path, e);
}
