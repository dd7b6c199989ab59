/*
 * chromadir.c - the reader of a stopped Chroma's data directory; see
 * chromadir.h.
 *
 * Bottom up: pickle.c and hnsw.c read a vector segment's untrusted
 * files, chromaarc.c makes the private copies an export may read, and
 * this file opens chroma.sqlite3 immutable and exports each collection:
 * the metadata segment's rows in one ordered scan, each record's vector
 * from the hnswlib index through the id map of index_metadata.pickle,
 * and the rows of embeddings_queue past what each segment has applied
 * (its max_seq_id), replayed in order the way the server does on start.
 * chromasnap.c, on top, turns a backup into a cdb snapshot.
 */
#include <dirent.h>
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
#include "hmap.h"
#include "hnsw.h"
#include "ndjson.h"
#include "pickle.h"
#include "queue.h"

enum { OP_ADD = 0, OP_UPDATE, OP_UPSERT, OP_DELETE };
enum { ST_BASE = 0, ST_GONE, ST_SET };

/* What the log tail did to one id. */
typedef struct change {
	char *id;
	int meta;      /* ST_*: ST_BASE with patch = merge onto base */
	json_t *rec;   /* ST_SET: flat map with chroma:document/uri */
	json_t *patch; /* ST_BASE: keys to set, null to remove */
	int vec;       /* ST_* */
	float *emb;    /* ST_SET */
	int in_base, vec_in_base, done;
} change;

typedef struct coll {
	const char *dir;
	sqlite3 *db;
	char id[64], name[1024], meta_seg[64], vec_seg[64];
	long long dim, meta_seq, vec_seq;
	json_t *config, *schema, *cfg; /* stored; as the server reports it */
	cdb_hnsw *hnsw;
	cdb_pickle_val *pk;
	cdb_hmap *ids; /* hash of id -> pair index in the id_to_label dict */
	change *ch;
	size_t nch, capch;
	cdb_hmap *chmap; /* hash of id -> index in ch */
} coll;

/* What the migrations table says about the directory's layout. */
typedef struct layout {
	int sysdb, metadb, queue; /* highest migration applied per dir */
	int has_config, has_schema, has_arrays;
	char version[96]; /* "1.x ..." for the header */
} layout;

/*
 * Turning float32 into decimal text is most of an offline export's CPU
 * and writing the text out most of the rest, so this thread only reads:
 * records go a batch at a time to o->jobs threads that format them and
 * then to one that writes them, in the order read.  A batch written
 * comes back to be filled again, so memory stays flat.
 */
enum { BATCH_MAX = 256, BATCH_FLOATS = 1 << 16 };

typedef struct rec {
	char *id;
	size_t len;
	json_t *doc, *meta, *uri; /* references the batch holds */
	long long elem; /* the index element with its vector; -1: in emb */
} rec;

typedef struct batch {
	const coll *c;
	unsigned long long seq; /* the order it was sent in */
	size_t n, cap, done; /* records; room; formatted (n unless one failed) */
	rec r[BATCH_MAX];
	float *emb; /* cap vectors of c->dim */
	size_t emb_cap;
	cdb_buf lines;
	size_t bytes;  /* of lines: the first done records', newlines and all */
	cdb_error err; /* why done < n, unless a value was not finite */
} batch;

typedef struct out {
	cdb_writer *w;
	const cdb_chromadir_opts *o;
	long long done, total; /* records of the collection: written, all */
	batch *pool;
	size_t npool;
	batch *cur;   /* being filled */
	batch **home; /* the others this thread holds */
	size_t nhome; /* batches this thread holds; the rest are out */
	unsigned long long sent;
	cdb_queue *todo, *formatted, *spare;
	cdb_workers *fmt, *wr;
	/* The writer's: batches formatted by seq % npool, the next to write,
	 * and its error (read once it has ended). */
	batch **slot;
	unsigned long long next;
	int failed;
	cdb_error err;
} out;

static int
dberr(sqlite3 *db, const char *dir, cdb_error *e)
{
	return cdb_error_set(
	    e, CDB_ERR_INPUT, "%s/chroma.sqlite3: %s", dir, sqlite3_errmsg(db));
}

static int
prepare(sqlite3 *db, const char *dir, const char *sql, sqlite3_stmt **st,
    cdb_error *e)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
		return dberr(db, dir, e);
	return 0;
}

/* ------------------------------------------------------------ opening -- */

/* A file: URI for path (sqlite decodes %XX; '?' and '#' would end it). */
static int
file_uri(const char *path, char *uri, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = (size_t)snprintf(uri, size, "file:");
	const unsigned char *p;

	for (p = (const unsigned char *)path; *p != '\0'; p++) {
		if (n + 4 >= size)
			return -1;
		if (*p == '%' || *p == '?' || *p == '#' || *p < 0x20) {
			uri[n++] = '%';
			uri[n++] = hex[*p >> 4];
			uri[n++] = hex[*p & 15];
		} else {
			uri[n++] = (char)*p;
		}
	}
	return snprintf(uri + n, size - n, "?mode=ro&immutable=1") <
	               (int)(size - n)
	           ? 0
	           : -1;
}

/* The integer the one-row query sql gives for arg; 0 for no row. */
static int
scalar(sqlite3 *db, const char *sql, const char *arg, int *out)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int
read_layout(sqlite3 *db, const char *dir, layout *l, cdb_error *e)
{
	static const char *const tables[] = {"collections", "segments",
	    "embeddings", "embedding_metadata", "embeddings_queue",
	    "max_seq_id", "databases", "collection_metadata", "migrations",
	    NULL};
	static const char mig[] =
	    "SELECT max(version) FROM migrations WHERE dir = ?";
	static const char col[] = "SELECT count(*) FROM "
	                          "pragma_table_info('collections') WHERE "
	                          "name = ?";
	static const char tab[] =
	    "SELECT count(*) FROM sqlite_master WHERE name = ?";
	const char *const *t;
	int n;

	memset(l, 0, sizeof(*l));
	for (t = tables; *t != NULL; t++) {
		if (scalar(db, tab, *t, &n) == -1)
			return dberr(db, dir, e);
		if (n == 0)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "%s/chroma.sqlite3: not a Chroma database (no "
			    "table %s)",
			    dir, *t);
	}
	if (scalar(db, mig, "sysdb", &l->sysdb) == -1 ||
	    scalar(db, mig, "metadb", &l->metadb) == -1 ||
	    scalar(db, mig, "embeddings_queue", &l->queue) == -1 ||
	    scalar(db, col, "config_json_str", &l->has_config) == -1 ||
	    scalar(db, col, "schema_str", &l->has_schema) == -1 ||
	    scalar(db, tab, "embedding_metadata_array", &l->has_arrays) == -1)
		return dberr(db, dir, e);
	/* Collection schemas (sysdb 10) came with Chroma 1.x; 1.0 and the
	 * Python 0.5/0.6 releases share the earlier migrations, which only
	 * the pickle tells apart (an object in Python's). */
	snprintf(l->version, sizeof(l->version),
	    "%s (migrations: sysdb %d, metadb %d, embeddings_queue %d)",
	    l->sysdb >= 10 ? "1.x" : "0.4-1.0", l->sysdb, l->metadb,
	    l->queue);
	return 0;
}

/* Open dir/chroma.sqlite3 read-only and immutable, check it is Chroma's. */
static sqlite3 *
open_db(const char *dir, layout *l, cdb_error *e)
{
	char path[PATH_MAX], uri[3 * PATH_MAX + 32];
	struct stat sb;
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/chroma.sqlite3", dir);
	if (stat(path, &sb) == -1)
		cdb_error_sys(e, errno, "%s", path);
	else if (!S_ISREG(sb.st_mode))
		cdb_error_set(e, CDB_ERR_INPUT, "%s: not a regular file", path);
	else if (file_uri(path, uri, sizeof(uri)) == -1)
		cdb_error_set(e, CDB_ERR_INPUT, "%s: path too long", path);
	else if (sqlite3_open_v2(uri, &db,
	             /* one thread uses it: no locks on every call */
	             SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
	                 SQLITE_OPEN_NOMUTEX,
	             NULL) != SQLITE_OK)
		cdb_error_set(e, CDB_ERR_INPUT, "%s: %s", path,
		    db ? sqlite3_errmsg(db) : "out of memory");
	else if (read_layout(db, dir, l, e) == 0)
		return db;
	sqlite3_close(db);
	return NULL;
}

/* The pid of a process with an open descriptor on the file sb, or 0. */
static long
holder(const struct stat *sb)
{
	char fds[300], fd[PATH_MAX];
	struct dirent *p, *f;
	struct stat st;
	DIR *proc, *d;
	long pid = 0;

	if ((proc = opendir("/proc")) == NULL)
		return 0;
	while (pid == 0 && (p = readdir(proc)) != NULL) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9' ||
		    atol(p->d_name) == (long)getpid())
			continue;
		snprintf(fds, sizeof(fds), "/proc/%s/fd", p->d_name);
		if ((d = opendir(fds)) == NULL)
			continue;
		while (pid == 0 && (f = readdir(d)) != NULL) {
			snprintf(fd, sizeof(fd), "%s/%s", fds, f->d_name);
			if (f->d_name[0] != '.' && stat(fd, &st) == 0 &&
			    st.st_dev == sb->st_dev && st.st_ino == sb->st_ino)
				pid = atol(p->d_name);
		}
		closedir(d);
	}
	closedir(proc);
	return pid;
}

/*
 * 1 (with e saying why) when a process holds dir/chroma.sqlite3 open or
 * a sqlite journal shows an unfinished write; 0 when neither; -1 with e.
 */
static int
busy(const char *dir, cdb_error *e)
{
	static const char *const journals[] = {"-journal", "-wal", NULL};
	const char *const *j;
	char path[PATH_MAX], side[PATH_MAX + 16];
	struct stat sb;
	long pid;

	snprintf(path, sizeof(path), "%s/chroma.sqlite3", dir);
	if (stat(path, &sb) == -1)
		return cdb_error_sys(e, errno, "%s", path);
	if ((pid = holder(&sb)) != 0) {
		cdb_error_set(e, CDB_ERR_INPUT,
		    "%s is open in process %ld (a running Chroma server?): "
		    "stop it, or pass --copy to read a consistent copy",
		    path, pid);
		return 1;
	}
	for (j = journals; *j != NULL; j++) {
		snprintf(side, sizeof(side), "%s%s", path, *j);
		if (stat(side, &sb) == 0 && sb.st_size > 0) {
			cdb_error_set(e, CDB_ERR_INPUT,
			    "%s exists: a write did not finish; pass --copy to "
			    "read a copy that sqlite completes or rolls back",
			    side);
			return 1;
		}
	}
	return 0;
}

/* ----------------------------------------------------------- segments -- */

/* max_seq_id is an INTEGER since Chroma 0.5.x; before, 8 big-endian bytes. */
static long long
seq_value(sqlite3_stmt *st, int col)
{
	const unsigned char *p = sqlite3_column_blob(st, col);
	long long x = 0;
	int i;

	if (sqlite3_column_type(st, col) != SQLITE_BLOB)
		return sqlite3_column_int64(st, col);
	if (sqlite3_column_bytes(st, col) != 8)
		return -1;
	for (i = 0; i < 8; i++)
		x = (long long)((unsigned long long)x << 8 | p[i]);
	return x;
}

/* The log position segment seg has applied; -1 when it has none. */
static int
seg_seq(coll *c, const char *seg, long long *seq, cdb_error *e)
{
	sqlite3_stmt *st;
	int rc;

	*seq = -1;
	if (prepare(c->db, c->dir,
	        "SELECT seq_id FROM max_seq_id WHERE segment_id = ?", &st,
	        e) == -1)
		return -1;
	sqlite3_bind_text(st, 1, seg, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*seq = seq_value(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0
	                                             : dberr(c->db, c->dir, e);
}

static int
load_segments(coll *c, cdb_error *e)
{
	sqlite3_stmt *st;
	const char *scope, *id;
	int rc;

	if (prepare(c->db, c->dir,
	        "SELECT id, scope FROM segments WHERE collection = ?", &st,
	        e) == -1)
		return -1;
	sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		id = (const char *)sqlite3_column_text(st, 0);
		scope = (const char *)sqlite3_column_text(st, 1);
		if (id == NULL || scope == NULL || strlen(id) >= 64)
			break;
		if (strcmp(scope, "METADATA") == 0)
			strcpy(c->meta_seg, id);
		else if (strcmp(scope, "VECTOR") == 0)
			strcpy(c->vec_seg, id);
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

/* id -> pair index of the pickle's id_to_label, for cdb_hnsw_find. */
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
		switch (cdb_hmap_put(
		    c->ids, cdb_hmap_key(NULL, k->s, k->len), i, NULL)) {
		case -1:
			return cdb_error_oom(e);
		case 0:
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "%s: id \"%s\" twice in id_to_label", path, k->s);
		}
	}
	return 0;
}

/* The label of id in the pickle's id_to_label (borrowed), or NULL. */
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
load_vectors(coll *c, int cosine, cdb_error *e)
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
		return errno == ENOENT ? 0 : cdb_error_sys(e, errno, "%s", path);
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
	if ((c->hnsw = cdb_hnsw_open(dir, cosine, e)) == NULL)
		return -1;
	if (c->dim > 0 && (long long)cdb_hnsw_dim(c->hnsw) != c->dim)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s/header.bin: %zu dimensions, the collection has %lld",
		    dir, cdb_hnsw_dim(c->hnsw), c->dim);
	c->dim = (long long)cdb_hnsw_dim(c->hnsw);
	return index_ids(c, map, path, e);
}

/*
 * The JSON text in column col of st into *v: NULL for SQL NULL or text
 * that is not JSON (the caller says whether that is an error).  -1 with
 * e only when out of memory.
 */
static int
col_json(sqlite3_stmt *st, int col, json_t **v, cdb_error *e)
{
	const char *s = (const char *)sqlite3_column_text(st, col);
	json_error_t je;

	*v = s ? json_loadb(s, (size_t)sqlite3_column_bytes(st, col),
	             JSON_ALLOW_NUL, &je)
	       : NULL;
	if (s != NULL && *v == NULL &&
	    json_error_code(&je) == json_error_out_of_memory)
		return cdb_error_oom(e);
	return 0;
}

/* ---------------------------------------------------------------- log -- */

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

/* 1 when the metadata segment holds id, 0 when not, -1 with e. */
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

/* The change of id, a new one when the log names it the first time. */
static change *
get_change(coll *c, sqlite3_stmt *has, const char *id, size_t len,
    long long seq, cdb_error *e)
{
	change *ch, *p;
	int in;

	if ((ch = find_change(c, id, len)) != NULL)
		return ch;
	if (memchr(id, '\0', len) != NULL) {
		cdb_error_set(e, CDB_ERR_INPUT,
		    "%s/chroma.sqlite3: embeddings_queue seq_id %lld: id holds "
		    "a NUL byte",
		    c->dir, seq);
		return NULL;
	}
	if ((in = base_has(c, has, id, len, e)) == -1)
		return NULL;
	if (c->nch == c->capch) {
		c->capch = c->capch ? 2 * c->capch : 64;
		if ((p = realloc(c->ch, c->capch * sizeof(*p))) == NULL)
			goto oom;
		c->ch = p;
	}
	ch = memset(&c->ch[c->nch], 0, sizeof(*ch));
	if ((ch->id = strndup(id, len)) == NULL ||
	    cdb_hmap_put(c->chmap, cdb_hmap_key(NULL, id, len), c->nch, NULL) !=
	        1) {
		free(ch->id);
		goto oom;
	}
	ch->in_base = in;
	ch->vec_in_base = id_label(c, id, len) != NULL;
	c->nch++;
	return ch;
oom:
	cdb_error_oom(e);
	return NULL;
}

/* Set the keys of patch onto o; a null value removes the key. */
static int
merge(json_t *o, json_t *patch)
{
	const char *k;
	json_t *v;

	json_object_foreach (patch, k, v) {
		if (json_is_null(v))
			json_object_del(o, k);
		else if (json_object_set(o, k, v) == -1)
			return -1;
	}
	return 0;
}

/* Apply operation op with metadata m to what ch holds; -1 out of memory. */
static int
meta_op(change *ch, int op, json_t *m)
{
	int exists = ch->meta == ST_SET || (ch->meta == ST_BASE && ch->in_base);

	if (op == OP_DELETE && exists) {
		json_decref(ch->rec);
		json_decref(ch->patch);
		ch->rec = ch->patch = NULL;
		ch->meta = ST_GONE;
	} else if (op != OP_DELETE && exists && op != OP_ADD) {
		if (ch->meta == ST_SET)
			return merge(ch->rec, m);
		if (ch->patch == NULL && (ch->patch = json_object()) == NULL)
			return -1;
		return json_object_update(ch->patch, m);
	} else if (op != OP_DELETE && !exists && op != OP_UPDATE) {
		json_decref(ch->rec);
		json_decref(ch->patch);
		ch->patch = NULL;
		ch->meta = ST_SET;
		if ((ch->rec = json_object()) == NULL)
			return -1;
		return merge(ch->rec, m);
	}
	return 0;
}

/* Apply operation op with vector emb (taken) to what ch holds. */
static void
vec_op(change *ch, int op, float *emb)
{
	int exists =
	    ch->vec == ST_SET || (ch->vec == ST_BASE && ch->vec_in_base);

	if (op == OP_DELETE && exists)
		ch->vec = ST_GONE;
	if (op == OP_DELETE || (exists && op == OP_ADD) ||
	    (!exists && op == OP_UPDATE) || emb == NULL) {
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
		uint32_t x = (uint32_t)cdb_le(p + 4 * k, 4);

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
	int op = sqlite3_column_int(st, 1), rc = 0;
	const char *id = (const char *)sqlite3_column_text(st, 2);
	const char *ms = (const char *)sqlite3_column_text(st, 5);
	json_t *m;
	float *emb;
	change *ch;

	if (id == NULL || op < OP_ADD || op > OP_DELETE)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s/chroma.sqlite3: embeddings_queue seq_id %lld: unknown "
		    "operation %d",
		    c->dir, seq, op);
	if (col_json(st, 5, &m, e) == -1)
		return -1;
	if (ms == NULL && (m = json_object()) == NULL)
		return cdb_error_oom(e);
	if (!json_is_object(m)) {
		json_decref(m);
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s/chroma.sqlite3: embeddings_queue seq_id %lld: metadata "
		    "is not a JSON object",
		    c->dir, seq);
	}
	if (log_vector(c, st, seq, &emb, e) == -1 ||
	    (ch = get_change(c, has, id, (size_t)sqlite3_column_bytes(st, 2),
	         seq, e)) == NULL) {
		json_decref(m);
		return -1;
	}
	if (seq > c->meta_seq && meta_op(ch, op, m) == -1)
		rc = cdb_error_oom(e);
	if (seq > c->vec_seq)
		vec_op(ch, op, emb);
	else
		free(emb);
	json_decref(m);
	return rc;
}

/* Replay the log rows of the collection past what a segment applied. */
static int
load_log(coll *c, cdb_error *e)
{
	sqlite3_stmt *st = NULL, *has = NULL;
	long long from = c->meta_seq < c->vec_seq ? c->meta_seq : c->vec_seq;
	int rc = 0;

	if ((c->chmap = cdb_hmap_new()) == NULL)
		return cdb_error_oom(e);
	if (prepare(c->db, c->dir,
	        "SELECT seq_id, operation, id, vector, encoding, metadata "
	        "FROM embeddings_queue WHERE substr(topic, -36) = ? AND "
	        "seq_id > ? ORDER BY seq_id",
	        &st, e) == -1 ||
	    prepare(c->db, c->dir,
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

/* ------------------------------------------------------------- values -- */

/*
 * Add the typed value of a metadata row (key in column col, then the
 * string, int, float and bool columns) to o; into an array under the key
 * when array.  A document or uri stored as null is left out.
 */
static int
add_value(sqlite3_stmt *st, int col, json_t *o, int array, const char *dir,
    cdb_error *e)
{
	const char *k = (const char *)sqlite3_column_text(st, col);
	json_t *v, *a;

	if (k == NULL)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s/chroma.sqlite3: metadata row without a key", dir);
	if (sqlite3_column_type(st, col + 1) != SQLITE_NULL) {
		v = json_stringn((const char *)sqlite3_column_text(st, col + 1),
		    (size_t)sqlite3_column_bytes(st, col + 1));
		if (v == NULL)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "%s/chroma.sqlite3: metadata \"%s\": string is "
			    "not valid UTF-8",
			    dir, k);
	} else if (sqlite3_column_type(st, col + 2) != SQLITE_NULL) {
		v = json_integer(sqlite3_column_int64(st, col + 2));
	} else if (sqlite3_column_type(st, col + 3) != SQLITE_NULL) {
		v = json_real(sqlite3_column_double(st, col + 3));
	} else if (sqlite3_column_type(st, col + 4) != SQLITE_NULL) {
		v = json_boolean(sqlite3_column_int(st, col + 4));
	} else if (!array) {
		return 0;
	} else {
		v = json_null();
	}
	if (!array)
		return json_object_set_new(o, k, v) == -1 ? cdb_error_oom(e) : 0;
	if ((a = json_object_get(o, k)) == NULL &&
	    json_object_set_new(o, k, a = json_array()) == -1) {
		json_decref(v);
		return cdb_error_oom(e);
	}
	return json_array_append_new(a, v) == -1 ? cdb_error_oom(e) : 0;
}

/* Rows of (key, str, int, float, bool) from st into o. */
static int
add_rows(coll *c, sqlite3_stmt *st, json_t *o, int array, cdb_error *e)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (add_value(st, 0, o, array, c->dir, e) == -1)
			return -1;
	return rc == SQLITE_DONE ? 0 : dberr(c->db, c->dir, e);
}

/* Collection metadata as the server returns it; NULL when it has none. */
static int
coll_metadata(coll *c, json_t **out, cdb_error *e)
{
	sqlite3_stmt *st;
	json_t *o;
	int rc;

	*out = NULL;
	if ((o = json_object()) == NULL)
		return cdb_error_oom(e);
	if (prepare(c->db, c->dir,
	        "SELECT key, str_value, int_value, float_value, bool_value "
	        "FROM collection_metadata WHERE collection_id = ? "
	        "ORDER BY rowid",
	        &st, e) == -1) {
		json_decref(o);
		return -1;
	}
	sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	rc = add_rows(c, st, o, 0, e);
	sqlite3_finalize(st);
	if (rc == 0 && json_object_size(o) > 0)
		*out = o;
	else
		json_decref(o);
	return rc;
}

/* ------------------------------------------------------ configuration -- */

/* The vector index config of a 1.x schema: keys.#embedding, defaults. */
static json_t *
schema_vector_config(json_t *schema)
{
	json_t *fl = json_object_get(
	    json_object_get(json_object_get(schema, "keys"), "#embedding"),
	    "float_list");

	if (fl == NULL)
		fl = json_object_get(
		    json_object_get(schema, "defaults"), "float_list");
	return json_object_get(json_object_get(fl, "vector_index"), "config");
}

static json_t *
or_null(json_t *v)
{
	return v ? v : json_null();
}

/*
 * The configuration the server reports: from config_json_str when it
 * names the index (Chroma 1.0 keeps {"vector_index": {"hnsw" | "spann":
 * ...}}), else built from the schema (later 1.x store "{}" there and
 * keep the parameters in schema_str).  NULL when out of memory.
 */
static json_t *
coll_configuration(json_t *config, json_t *schema)
{
	static const char *keys[] = {"ef_construction", "ef_search",
	    "max_neighbors", "resize_factor", "sync_threshold"};
	json_t *vi = json_object_get(config, "vector_index"), *vc, *h, *hn, *ef;
	size_t i;

	if (json_is_object(vi))
		return json_pack("{s:O, s:O, s:O}", "hnsw",
		    or_null(json_object_get(vi, "hnsw")), "spann",
		    or_null(json_object_get(vi, "spann")), "embedding_function",
		    or_null(json_object_get(config, "embedding_function")));
	vc = schema_vector_config(schema);
	hn = json_object_get(vc, "hnsw");
	if (json_is_object(json_object_get(config, "hnsw")) ||
	    json_is_object(json_object_get(config, "spann")) ||
	    !json_is_object(hn))
		return config ? json_incref(config) : json_null();
	if ((h = json_pack("{s:O}", "space",
	         or_null(json_object_get(vc, "space")))) == NULL)
		return NULL;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_get(hn, keys[i]) != NULL &&
		    json_object_set(h, keys[i], json_object_get(hn, keys[i])) ==
		        -1) {
			json_decref(h);
			return NULL;
		}
	ef = json_object_get(config, "embedding_function");
	if (ef == NULL)
		ef = json_object_get(vc, "embedding_function");
	return json_pack("{s:o, s:n, s:O}", "hnsw", h, "spann",
	    "embedding_function", or_null(ef));
}

/*
 * Whether the index is cosine: the configuration's space, else the
 * "hnsw:space" metadata older versions kept.
 */
static int
space_cosine(coll *c, int *cosine, cdb_error *e)
{
	json_t *meta = NULL, *sp;
	int rc = 0;

	sp = json_object_get(json_object_get(c->cfg, "hnsw"), "space");
	if (!json_is_string(sp) && (rc = coll_metadata(c, &meta, e)) == 0)
		sp = json_object_get(meta, "hnsw:space");
	*cosine =
	    json_is_string(sp) && strcmp(json_string_value(sp), "cosine") == 0;
	json_decref(meta);
	return rc;
}

/* ------------------------------------------------------------ records -- */

/*
 * Where the record's vector is: in the log (*emb), or element *elem of
 * the index (*emb NULL), for a formatter to read.
 */
static int
vector_of(coll *c, const change *ch, const char *id, size_t len,
    const float **emb, uint64_t *elem, cdb_error *e)
{
	const cdb_pickle_val *label;

	*emb = NULL;
	if (ch != NULL && ch->vec == ST_SET) {
		*emb = ch->emb;
		return 0;
	}
	if ((ch == NULL || ch->vec != ST_GONE) &&
	    (label = id_label(c, id, len)) != NULL &&
	    cdb_hnsw_find(c->hnsw, (uint64_t)label->i, elem))
		return 0;
	return cdb_error_set(e, CDB_ERR_INPUT,
	    "%s: collection \"%s\": record \"%s\" has no vector in segment %s "
	    "nor in the log",
	    c->dir, c->name, id, c->vec_seg);
}

/* ------------------------------------------------------------ batches -- */

static void *
formatter(void *arg)
{
	out *w = arg;
	batch *b;
	size_t i, dim;
	rec *r;

	while ((b = cdb_queue_pop(w->todo)) != NULL) {
		dim = (size_t)b->c->dim;
		cdb_buf_reset(&b->lines);
		b->bytes = 0;
		cdb_error_clear(&b->err);
		for (i = 0; i < b->n; i++) {
			r = &b->r[i];
			if (r->elem >= 0 && dim > 0 &&
			    cdb_hnsw_read(b->c->hnsw, (uint64_t)r->elem,
			        b->emb + i * dim, &b->err) == -1)
				break;
			if (cdb_ndjson_format_record(&b->lines, b->c->name, r->id,
			        r->len, r->doc, r->meta, r->uri, b->emb + i * dim,
			        dim, w->o->form, NULL, 0) == -1 ||
			    cdb_buf_putc(&b->lines, '\n') == -1)
				break;
			b->bytes = b->lines.len;
		}
		b->done = i;
		if (cdb_queue_push(w->formatted, b) == -1)
			break;
	}
	return NULL;
}

static int
write_batch(out *w, const batch *b, cdb_error *e)
{
	long long before = w->done;

	if (cdb_writer_block(w->w, b->lines.data, b->bytes, (long long)b->done,
	        e) == -1)
		return -1;
	w->done += (long long)b->done;
	if (w->o->progress != NULL && w->done / 1000 != before / 1000)
		w->o->progress(w->o->arg, b->c->name, w->done, w->total);
	if (b->done < b->n && b->err.kind != CDB_ERR_NONE) {
		*e = b->err; /* e is the writer's, still clear */
		return -1;
	}
	if (b->done < b->n)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: collection \"%s\": record \"%s\" cannot be written "
		    "(a non-finite value?)",
		    b->c->dir, b->c->name, b->r[b->done].id);
	return 0;
}

/*
 * The batches as they come formatted, written in the order sent (at most
 * npool are out, so seq % npool tells them apart), then given back.  A
 * failure closes spare, which stops the reader.
 */
static void *
writer(void *arg)
{
	out *w = arg;
	batch *b;

	while ((b = cdb_queue_pop(w->formatted)) != NULL) {
		w->slot[b->seq % w->npool] = b;
		while ((b = w->slot[w->next % w->npool]) != NULL) {
			w->slot[w->next++ % w->npool] = NULL;
			if (write_batch(w, b, &w->err) == -1) {
				w->failed = 1;
				cdb_queue_close(w->spare);
				return NULL;
			}
			if (cdb_queue_push(w->spare, b) == -1)
				return NULL;
		}
	}
	return NULL;
}

static void
batch_clear(batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		free(b->r[i].id);
		json_decref(b->r[i].doc);
		json_decref(b->r[i].meta);
		json_decref(b->r[i].uri);
	}
	b->n = 0;
}

/*
 * End the threads, each after the work queued for it, and empty every
 * batch; a failure of the writer's becomes e's unless e has one.
 * Called after a failure (before the collection the batches point at
 * goes) and at the end.
 */
static void
halt(out *w, cdb_error *e)
{
	size_t i;

	if (w->todo != NULL)
		cdb_queue_close(w->todo);
	cdb_workers_join(w->fmt);
	w->fmt = NULL;
	if (w->formatted != NULL)
		cdb_queue_close(w->formatted);
	cdb_workers_join(w->wr);
	w->wr = NULL;
	if (w->failed && e->kind == CDB_ERR_NONE)
		*e = w->err;
	for (i = 0; w->pool != NULL && i < w->npool; i++)
		batch_clear(&w->pool[i]);
}

/* Send the batch being filled to the formatters. */
static int
send_batch(out *w, cdb_error *e)
{
	batch *b = w->cur;

	w->cur = NULL;
	w->nhome--;
	b->seq = w->sent++;
	if (cdb_queue_push(w->todo, b) == -1)
		return cdb_error_oom(e); /* closed only by halt */
	return 0;
}

/*
 * Wait for the writer to give back a batch: -1 once it has failed (the
 * halt records() ends with says why).
 */
static int
take_back(out *w)
{
	batch *b;

	if ((b = cdb_queue_pop(w->spare)) == NULL)
		return -1;
	w->home[w->nhome++] = b;
	return 0;
}

/* Write every record taken so far. */
static int
flush_batches(out *w, cdb_error *e)
{
	if (w->cur != NULL && w->cur->n > 0 && send_batch(w, e) == -1)
		return -1;
	w->cur = NULL; /* an empty one stays held */
	while (w->nhome < w->npool)
		if (take_back(w) == -1)
			return -1;
	return 0;
}

/* The batch to add a record of c to, its room for c's vectors made;
 * NULL with e, or as take_back fails. */
static batch *
batch_for(out *w, const coll *c, cdb_error *e)
{
	size_t dim = c->dim > 0 ? (size_t)c->dim : 1;
	batch *b;
	float *f;

	if (w->cur != NULL)
		return w->cur;
	if (w->nhome == 0 && take_back(w) == -1)
		return NULL;
	/* The one taken, or held: the others are out, or held unused. */
	b = w->home[w->nhome - 1];
	batch_clear(b);
	b->c = c;
	b->cap = BATCH_FLOATS / dim;
	b->cap = b->cap < 1 ? 1 : b->cap > BATCH_MAX ? BATCH_MAX : b->cap;
	if (b->emb_cap < b->cap * dim) {
		if ((f = realloc(b->emb, b->cap * dim * sizeof(*f))) == NULL) {
			cdb_error_oom(e);
			return NULL;
		}
		b->emb = f;
		b->emb_cap = b->cap * dim;
	}
	return w->cur = b;
}

/* Take the record of the flat map (its document and uri taken out). */
static int
emit(coll *c, out *w, const char *id, size_t len, json_t *flat,
    const change *ch, cdb_error *e)
{
	const float *emb;
	uint64_t elem = 0;
	batch *b;
	rec *r;

	if (vector_of(c, ch, id, len, &emb, &elem, e) == -1 ||
	    (b = batch_for(w, c, e)) == NULL)
		return -1;
	r = &b->r[b->n];
	if ((r->id = malloc(len + 1)) == NULL)
		return cdb_error_oom(e);
	memcpy(r->id, id, len);
	r->id[len] = '\0';
	r->len = len;
	r->doc = json_incref(json_object_get(flat, "chroma:document"));
	r->uri = json_incref(json_object_get(flat, "chroma:uri"));
	json_object_del(flat, "chroma:document");
	json_object_del(flat, "chroma:uri");
	r->meta = json_object_size(flat) ? json_incref(flat) : NULL;
	r->elem = emb == NULL ? (long long)elem : -1;
	if (emb != NULL && c->dim > 0)
		memcpy(b->emb + b->n * (size_t)c->dim, emb,
		    (size_t)c->dim * sizeof(*emb));
	return ++b->n == b->cap ? send_batch(w, e) : 0;
}

/* A record of the metadata segment: flat holds its rows (taken). */
static int
base_record(coll *c, out *w, sqlite3_stmt *arr, long long row, cdb_buf *id,
    json_t *flat, cdb_error *e)
{
	change *ch = find_change(c, id->data, id->len);
	int rc = 0;

	if (ch != NULL)
		ch->done = 1;
	if (ch != NULL && ch->meta != ST_BASE) {
		json_decref(flat);
		return ch->meta == ST_GONE
		           ? 0
		           : emit(c, w, id->data, id->len, ch->rec, ch, e);
	}
	if (arr != NULL) {
		sqlite3_reset(arr);
		sqlite3_bind_int64(arr, 1, row);
		rc = add_rows(c, arr, flat, 1, e);
	}
	if (rc == 0 && ch != NULL && ch->patch != NULL &&
	    merge(flat, ch->patch) == -1)
		rc = cdb_error_oom(e);
	if (rc == 0)
		rc = emit(c, w, id->data, id->len, flat, ch, e);
	json_decref(flat);
	return rc;
}

/* 1 when records of the segment have array metadata, 0, or -1 with e. */
static int
has_arrays(coll *c, cdb_error *e)
{
	sqlite3_stmt *st;
	int rc;

	if (prepare(c->db, c->dir,
	        "SELECT 1 FROM embedding_metadata_array a JOIN embeddings e "
	        "ON e.id = a.id WHERE e.segment_id = ? LIMIT 1",
	        &st, e) == -1)
		return -1;
	sqlite3_bind_text(st, 1, c->meta_seg, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dberr(c->db, c->dir, e);
	return rc == SQLITE_ROW;
}

/*
 * The segment's records with their metadata rows in one ordered scan
 * (a query per record cost more than the rest of the export), the array
 * values only where the segment has any.
 */
static int
scan(coll *c, out *w, sqlite3_stmt *st, sqlite3_stmt *arr, cdb_error *e)
{
	const unsigned char *id;
	json_t *flat = NULL;
	long long row = -1;
	cdb_buf b;
	int rc = SQLITE_DONE, ok = 0;

	cdb_buf_init(&b);
	while (ok == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_int64(st, 0) != row) {
			if (flat != NULL) /* base_record takes flat */
				ok = base_record(c, w, arr, row, &b, flat, e);
			flat = NULL;
			row = sqlite3_column_int64(st, 0);
			id = sqlite3_column_text(st, 1);
			cdb_buf_reset(&b);
			if (ok == 0 && ((flat = json_object()) == NULL ||
			                   cdb_buf_append(&b, id,
			                       (size_t)sqlite3_column_bytes(
			                           st, 1)) == -1))
				ok = cdb_error_oom(e);
		}
		if (ok == 0 && sqlite3_column_type(st, 2) != SQLITE_NULL)
			ok = add_value(st, 2, flat, 0, c->dir, e);
	}
	if (ok == 0 && rc != SQLITE_DONE)
		ok = dberr(c->db, c->dir, e);
	if (ok == 0 && flat != NULL)
		ok = base_record(c, w, arr, row, &b, flat, e);
	else if (ok == -1)
		json_decref(flat);
	cdb_buf_free(&b);
	return ok;
}

static int
records(coll *c, out *w, int arrays, cdb_error *e)
{
	sqlite3_stmt *st = NULL, *arr = NULL;
	size_t i;
	int rc = -1;

	if (arrays && (arrays = has_arrays(c, e)) == -1)
		return -1;
	if (prepare(c->db, c->dir,
	        "SELECT e.id, e.embedding_id, m.key, m.string_value, "
	        "m.int_value, m.float_value, m.bool_value FROM embeddings e "
	        "LEFT JOIN embedding_metadata m ON m.id = e.id WHERE e.id IN "
	        "(SELECT id FROM embeddings WHERE segment_id = ?) ORDER BY "
	        "e.id",
	        &st, e) == -1 ||
	    (arrays && prepare(c->db, c->dir,
	                   "SELECT key, string_value, int_value, float_value, "
	                   "bool_value FROM embedding_metadata_array WHERE "
	                   "id = ? ORDER BY rowid",
	                   &arr, e) == -1))
		goto done;
	sqlite3_bind_text(st, 1, c->meta_seg, -1, SQLITE_STATIC);
	rc = scan(c, w, st, arr, e);
	/* Ids the log added, in the order the log first named them. */
	for (i = 0; rc == 0 && i < c->nch; i++)
		if (!c->ch[i].done && c->ch[i].meta == ST_SET)
			rc = emit(c, w, c->ch[i].id, strlen(c->ch[i].id),
			    c->ch[i].rec, &c->ch[i], e);
	if (rc == 0)
		rc = flush_batches(w, e);
	if (rc == -1)
		halt(w, e);
done:
	sqlite3_finalize(st);
	sqlite3_finalize(arr);
	return rc;
}

static int
count_records(coll *c, long long *n, cdb_error *e)
{
	sqlite3_stmt *st;
	size_t i;
	int rc;

	if (prepare(c->db, c->dir,
	        "SELECT count(*) FROM embeddings WHERE segment_id = ?", &st,
	        e) == -1)
		return -1;
	sqlite3_bind_text(st, 1, c->meta_seg, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return dberr(c->db, c->dir, e);
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
	json_decref(c->config);
	json_decref(c->schema);
	json_decref(c->cfg);
}

/* -------------------------------------------------------- collections -- */

static int
coll_line(coll *c, out *w, long long count, cdb_error *e)
{
	json_t *meta, *line;
	int rc;

	if (coll_metadata(c, &meta, e) == -1)
		return -1;
	line = json_pack("{s:s, s:s, s:o, s:O, s:O, s:o, s:I}", "kind",
	    "collection", "name", c->name, "metadata", or_null(meta),
	    "configuration", or_null(c->cfg), "schema", or_null(c->schema),
	    "dimension", c->dim > 0 ? json_integer(c->dim) : json_null(),
	    "count", (json_int_t)count);
	if (line == NULL)
		return cdb_error_oom(e);
	rc = cdb_writer_json(w->w, CDB_KIND_COLLECTION, line, e);
	if (rc == 0 && w->o->collection != NULL)
		w->o->collection(w->o->arg, line);
	json_decref(line);
	return rc;
}

/*
 * Read what the export of the collection in the row st holds (id, name,
 * dimension, config, schema) needs: segments, index, log; 0 or -1 with e.
 */
static int
coll_load(coll *c, sqlite3_stmt *st, long long *count, cdb_error *e)
{
	int cosine;

	if (sqlite3_column_bytes(st, 0) != 36 ||
	    sqlite3_column_text(st, 1) == NULL)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s/chroma.sqlite3: a collection without a valid id or "
		    "name",
		    c->dir);
	memcpy(c->id, sqlite3_column_text(st, 0), 36);
	snprintf(c->name, sizeof(c->name), "%s", sqlite3_column_text(st, 1));
	c->dim = sqlite3_column_type(st, 2) == SQLITE_INTEGER
	             ? sqlite3_column_int64(st, 2)
	             : 0;
	if (col_json(st, 3, &c->config, e) == -1 ||
	    col_json(st, 4, &c->schema, e) == -1)
		return -1;
	if ((c->cfg = coll_configuration(c->config, c->schema)) == NULL)
		return cdb_error_oom(e);
	if (load_segments(c, e) == -1 || space_cosine(c, &cosine, e) == -1 ||
	    load_vectors(c, cosine, e) == -1 || load_log(c, e) == -1 ||
	    count_records(c, count, e) == -1)
		return -1;
	return 0;
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
	if (coll_load(&c, st, &count, e) == 0) {
		w->done = 0;
		w->total = count;
		if (coll_line(&c, w, count, e) == 0 &&
		    records(&c, w, arrays, e) == 0)
			rc = 0;
	}
	coll_clear(&c);
	return rc;
}

/* All collections by name, or those named, in the order given. */
static int
collections(const char *dir, sqlite3 *db, const layout *l, out *w,
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
	if (prepare(db, dir, sql, &st, e) == -1)
		return -1;
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, dbname, -1, SQLITE_STATIC);
	do {
		sqlite3_reset(st);
		if (o->names != NULL)
			sqlite3_bind_text(st, 3, o->names[i], -1, SQLITE_STATIC);
		while (rc == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			found++;
			rc = one_collection(dir, db, st, w, l->has_arrays, e);
		}
		rc = rc == SQLITE_DONE ? 0 : rc == -1 ? -1 : dberr(db, dir, e);
	} while (rc == 0 && o->names != NULL && ++i < o->nnames);
	sqlite3_finalize(st);
	if (rc == 0 && o->names != NULL && found < o->nnames)
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "%s: %zu of the %zu collections named are not in tenant "
		    "\"%s\", database \"%s\"",
		    dir, o->nnames - found, o->nnames, tenant, dbname);
	return rc;
}

/* The batches, all held by this thread, and the threads. */
static int
out_start(out *w, FILE *fp, const cdb_chromadir_opts *o, cdb_error *e)
{
	int jobs = o->jobs > 0 ? o->jobs : 1;
	size_t i;

	memset(w, 0, sizeof(*w));
	w->o = o;
	w->npool = (size_t)jobs + 2;
	if ((w->pool = calloc(w->npool, sizeof(*w->pool))) == NULL ||
	    (w->home = calloc(w->npool, sizeof(*w->home))) == NULL ||
	    (w->slot = calloc(w->npool, sizeof(*w->slot))) == NULL ||
	    (w->w = cdb_writer_new(fp)) == NULL)
		return cdb_error_oom(e);
	for (i = 0; i < w->npool; i++) {
		cdb_buf_init(&w->pool[i].lines);
		w->home[w->nhome++] = &w->pool[i];
	}
	if ((w->todo = cdb_queue_new(w->npool, e)) == NULL ||
	    (w->formatted = cdb_queue_new(w->npool, e)) == NULL ||
	    (w->spare = cdb_queue_new(w->npool, e)) == NULL ||
	    cdb_workers_start(&w->fmt, jobs, formatter, w, e) == -1)
		return -1;
	return cdb_workers_start(&w->wr, 1, writer, w, e);
}

static void
out_stop(out *w)
{
	cdb_error ignored;
	size_t i;

	cdb_error_clear(&ignored);
	halt(w, &ignored);
	cdb_queue_free(w->todo);
	cdb_queue_free(w->formatted);
	cdb_queue_free(w->spare);
	for (i = 0; w->pool != NULL && i < w->npool; i++) {
		free(w->pool[i].emb);
		cdb_buf_free(&w->pool[i].lines);
	}
	free(w->pool);
	free(w->home);
	free(w->slot);
	cdb_writer_free(w->w);
}

static int
export_db(const char *dir, sqlite3 *db, const layout *l, FILE *fp,
    const cdb_chromadir_opts *o, cdb_export_stats *st, cdb_error *e)
{
	char abs[PATH_MAX];
	json_t *h;
	out w;
	int rc = -1;

	if (out_start(&w, fp, o, e) == -1) {
		out_stop(&w);
		return -1;
	}
	if (realpath(dir, abs) == NULL)
		snprintf(abs, sizeof(abs), "%s", dir);
	h = cdb_ndjson_header(abs, o->tenant ? o->tenant : "default_tenant",
	    o->database ? o->database : "default_database", o->tool);
	if (h == NULL ||
	    json_object_set_new(h, "chroma_version", json_string(l->version)) ==
	        -1)
		cdb_error_oom(e);
	else if (cdb_writer_json(w.w, CDB_KIND_HEADER, h, e) == 0 &&
	         collections(dir, db, l, &w, e) == 0 &&
	         cdb_writer_trailer(w.w, e) == 0)
		rc = 0;
	json_decref(h);
	st->records = cdb_writer_records(w.w);
	st->collections = cdb_writer_collections(w.w);
	out_stop(&w);
	return rc;
}

int
cdb_chromadir_export(const char *dir, FILE *fp, const cdb_chromadir_opts *o,
    cdb_export_stats *st, cdb_error *e)
{
	char tmp[PATH_MAX];
	layout l;
	sqlite3 *db;
	int rc, live;

	memset(st, 0, sizeof(*st));
	if ((live = busy(dir, e)) == -1 || (live && !o->copy))
		return -1; /* e says why */
	if (live) {
		cdb_error_clear(e);
		if (cdb_chromadir_copy(dir, tmp, sizeof(tmp), e) == -1)
			return -1;
		rc = cdb_chromadir_export(tmp, fp, o, st, e);
		cdb_chromadir_cleanup(tmp);
		return rc;
	}
	if ((db = open_db(dir, &l, e)) == NULL)
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

json_t *
cdb_chromadir_names(
    const char *dir, const char *tenant, const char *database, cdb_error *e)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	layout l;
	json_t *a;
	int rc;

	if ((db = open_db(dir, &l, e)) == NULL)
		return NULL;
	if (prepare(db, dir,
	        "SELECT c.name FROM collections c JOIN databases d ON "
	        "c.database_id = d.id WHERE d.tenant_id = ? AND d.name = ? "
	        "ORDER BY c.name",
	        &st, e) == -1) {
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, database, -1, SQLITE_STATIC);
	if ((a = json_array()) == NULL)
		cdb_error_oom(e);
	while (a != NULL && (rc = sqlite3_step(st)) != SQLITE_DONE) {
		if (rc != SQLITE_ROW)
			dberr(db, dir, e);
		else if (json_array_append_new(a,
		             json_string((const char *)sqlite3_column_text(
		                 st, 0))) == -1)
			cdb_error_oom(e);
		else
			continue;
		json_decref(a);
		a = NULL;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return a;
}
