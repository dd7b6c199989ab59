/* chromadir_impl.h - shared between chromadir.c and chromaopen.c. */
#ifndef CDB_CHROMADIR_IMPL_H
#define CDB_CHROMADIR_IMPL_H

#include <jansson.h>
#include <sqlite3.h>

#include "cdb.h"
#include "hmap.h"
#include "hnsw.h"
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
	char id[64], name[1024], meta_seg[64], vec_seg[64];
	long long dim, meta_seq, vec_seq;
	int cosine; /* the index keeps vectors normalised */
	cdb_hnsw *hnsw;
	cdb_pickle_val *pk;
	cdb_hmap *ids; /* hash of id -> pair index in the id_to_label dict */
	change *ch;
	size_t nch, capch;
	cdb_hmap *chmap; /* hash of id -> index in ch */
	float *buf;
} coll;

/* The message of db's last error, naming dir's chroma.sqlite3; -1. */
int cdb_chromadir_dberr(sqlite3 *db, const char *dir, cdb_error *e);

/* c's two segments and the log position each has applied (chromavec.c). */
int cdb_chromadir_load_segments(coll *c, cdb_error *e);
/* The persisted index, when its pickle names elements (chromavec.c). */
int cdb_chromadir_load_vectors(coll *c, cdb_error *e);
/* The label of id in the pickle's id_to_label (borrowed), or NULL. */
const cdb_pickle_val *cdb_chromadir_id_label(
    const coll *c, const char *id, size_t len);

/* Replay the log past the segments into c->ch (chromalog.c). */
int cdb_chromadir_load_log(coll *c, cdb_error *e);
/* What the log did to id, or NULL (borrowed). */
change *cdb_chromadir_find_change(const coll *c, const char *id, size_t len);
/* Set the keys of patch onto o; a null value removes the key. */
void cdb_chromadir_merge(json_t *o, json_t *patch);

/* What the migrations table says about the directory's layout. */
typedef struct chromadir_layout {
	int sysdb, metadb, queue; /* highest migration applied per dir */
	int has_config, has_schema, has_arrays;
	char version[96]; /* "1.x ..." for the header */
} chromadir_layout;

/* Prepare sql on db; 0 or -1 with e naming dir's chroma.sqlite3. */
int cdb_chromadir_prepare(sqlite3 *db, const char *dir, const char *sql,
    sqlite3_stmt **st, cdb_error *e);

/*
 * Open dir/chroma.sqlite3 read-only and immutable, check it is Chroma's
 * and fill l.  NULL with e.  Close with sqlite3_close.
 */
sqlite3 *cdb_chromadir_open(const char *dir, chromadir_layout *l, cdb_error *e);

/*
 * 1 (with e saying why) when a process holds dir/chroma.sqlite3 open or
 * a sqlite journal shows an unfinished write; 0 when neither; -1 with e.
 */
int cdb_chromadir_busy(const char *dir, cdb_error *e);

/*
 * A consistent copy of dir in a new private directory (name in tmp):
 * sqlite's online backup of the database, then the segment files.
 */
int cdb_chromadir_snapshot(
    const char *dir, char *tmp, size_t size, cdb_error *e);

#endif
