/*
 * snapshot.h - snapshot files (cdb-snapshot(5)): a compressed tar with one
 * cdb-ndjson(5) stream per collection and a manifest, written with flat
 * memory and resumable after a crash, and read without trusting anything
 * inside the archive.
 *
 * Layout of the file: for each collection a tar member
 * "collections/NNNN-NAME.ndjson", then "manifest.json" last, then the tar
 * end blocks.  Each member's tar header, each member's data and the
 * manifest are compressed as separate segments (concatenated gzip
 * members, zstd frames or xz streams), which every decompressor reads as
 * one stream.  That is what lets the data be compressed while it is
 * exported, before its size (needed by the tar header) is known, and lets
 * an interrupted write resume at the last finished member.
 */
#ifndef CDB_SNAPSHOT_H
#define CDB_SNAPSHOT_H

#include <jansson.h>
#include <stdio.h>

#include "cdb.h"
#include "chroma.h"
#include "export.h"

#define CDB_SNAPSHOT_FORMAT   "cdb-snapshot"
#define CDB_SNAPSHOT_VERSION  1
#define CDB_SNAPSHOT_MANIFEST "manifest.json"
#define CDB_SNAPSHOT_PREFIX   "collections/"
/* The manifest is read into memory: refuse larger ones. */
#define CDB_SNAPSHOT_MANIFEST_MAX (64L << 20)

enum cdb_snapshot_comp {
	CDB_SNAP_NONE = 0,
	CDB_SNAP_GZIP,
	CDB_SNAP_ZSTD,
	CDB_SNAP_XZ
};

/* "gzip", "zstd", "xz" or "none" to enum cdb_snapshot_comp; -1 if not. */
int cdb_snapshot_comp_parse(const char *name);
/* The name of comp ("gzip", ...). */
const char *cdb_snapshot_comp_name(int comp);
/* The compression a file name implies (.tar.gz, .tgz, .tar.zst, .tar.xz,
 * .tar), or -1 when it implies none of them. */
int cdb_snapshot_comp_guess(const char *path);

/*
 * The member name for the index-th collection (1-based) called name:
 * "collections/0001-NAME.ndjson" with any byte other than [A-Za-z0-9._-]
 * replaced by '_' and NAME cut to 100 bytes.  Writes at most size bytes
 * to out (NUL included).
 */
void cdb_snapshot_member_name(
    char *out, size_t size, size_t index, const char *name);

/* True when member is a name cdb_snapshot_member_name can give. */
int cdb_snapshot_member_ok(const char *member);

/*
 * Check a manifest's structure: format, version, and for each collection
 * a name, a well-formed member name, count, bytes and digest, names and
 * members unique.  0 or -1 with e.
 */
int cdb_snapshot_check_manifest(const json_t *m, cdb_error *e);

/* The manifest entry for collection name, or NULL (borrowed). */
json_t *cdb_snapshot_find(const json_t *manifest, const char *name);
/* The object named name in an array of objects with "name", or NULL. */
json_t *cdb_snapshot_find_in(const json_t *list, const char *name);

/* ------------------------------------------------------------ writing -- */

typedef struct cdb_snapshot_writer cdb_snapshot_writer;

/*
 * Start writing the snapshot path, or resume an interrupted write.
 * Bytes go to "path.partial", renamed to path by _finish; progress is
 * kept in "path.partial.ckpt" (atomic), the compressed data of the
 * member on its way in "path.partial.spool.0".  identity (a
 * JSON object: server, options...) must equal the checkpoint's for a
 * resume; another one is an error.  Without force, an existing path is
 * an error.  level 0 means the compressor's default.  Free with
 * cdb_snapshot_writer_free.
 */
cdb_snapshot_writer *cdb_snapshot_writer_new(const char *path, int comp,
    int level, int force, const json_t *identity, cdb_error *e);

/*
 * Abandon the writer: the member being written is dropped, the finished
 * ones stay in the partial file for a resume.  Accepts NULL.
 */
void cdb_snapshot_writer_free(cdb_snapshot_writer *w);

/*
 * The manifest entries of the members finished so far (borrowed),
 * those of an interrupted run included.
 */
const json_t *cdb_snapshot_writer_done(const cdb_snapshot_writer *w);
/* True when the writer resumed an earlier run's partial file. */
int cdb_snapshot_writer_resumed(const cdb_snapshot_writer *w);

/*
 * Begin the member for collection name.  Returns a stream the caller
 * writes the member's bytes to (owned by the writer; do not fclose); they
 * are hashed and compressed by a thread as they come.  NULL with e.
 */
FILE *cdb_snapshot_writer_begin(
    cdb_snapshot_writer *w, const char *name, cdb_error *e);

/*
 * End the member begun last.  entry (the caller's manifest fields for it:
 * name, count, metadata...) is copied, completed with "member", "bytes"
 * and "digest", and kept for the manifest.  The member is appended,
 * synced and checkpointed before _end returns.
 */
int cdb_snapshot_writer_end(
    cdb_snapshot_writer *w, const json_t *entry, cdb_error *e);

/*
 * Wait for the last member, write the manifest (the fields of top plus
 * format, version, created, records, compression and the collections) and the
 * tar end, fsync, and rename the partial file to its name.  The checkpoint and
 * spool are removed.
 */
int cdb_snapshot_writer_finish(
    cdb_snapshot_writer *w, const json_t *top, cdb_error *e);

/* Remove the partial, checkpoint and spool files of path, if any. */
void cdb_snapshot_writer_cleanup(const char *path);

/* ------------------------------------------------------------ reading -- */

/*
 * Called for each collection member in archive order: its name, its
 * manifest entry (NULL when the manifest is not known yet) and a stream of
 * its bytes, which fn may leave unread.  0, or -1 with e to stop.
 */
typedef int cdb_snapshot_member_fn(
    void *arg, const char *member, const json_t *entry, FILE *in, cdb_error *e);

/*
 * Read the snapshot at path.  Every member must be a regular file with a
 * relative name free of "..", the manifest must come last, and each
 * member's size and XXH64 digest must match the manifest; members the
 * manifest does not name are refused.  With manifest (from an earlier
 * read), members are checked against it as they come, before fn sees
 * them.  fn may be NULL.  Returns the manifest, a new reference, or NULL
 * with e (which names the member at fault).
 */
json_t *cdb_snapshot_read(const char *path, const json_t *manifest,
    cdb_snapshot_member_fn *fn, void *arg, cdb_error *e);

/*
 * cdb_snapshot_read plus a full parse of every member as a cdb-ndjson(5)
 * stream that holds exactly its collection and the manifest's count.
 * Returns the manifest (new reference) or NULL with e.
 */
json_t *cdb_snapshot_verify(const char *path, cdb_error *e);

/* ---------------------------------------------------- from a server -- */

typedef struct cdb_snapshot_opts {
	char *const *names; /* collections; NULL: all */
	size_t nnames;
	const char *output; /* the snapshot file */
	int comp;           /* enum cdb_snapshot_comp */
	int level;          /* 0: the compressor's default */
	int form;           /* enum cdb_emb_form of the members */
	int force;          /* replace an existing output */
	long batch;         /* page size; 0: 1000 */
	const char *tool;   /* "cdb-rollback 0.1.0" */
	cdb_shard shard;    /* n > 0: this shard of every collection */
	cdb_warn_fn *warn;
	cdb_progress_fn *progress;
	void *arg;
} cdb_snapshot_opts;

typedef struct cdb_snapshot_stats {
	long long records; /* in the snapshot, resumed part included */
	long long collections;
	long long bytes; /* size of the snapshot file */
	int resumed;     /* continued an interrupted snapshot */
	int changed;     /* a collection changed while it was read */
} cdb_snapshot_stats;

/*
 * Write a snapshot of c's collections (or those named) to o->output,
 * resuming an interrupted one with the same server and options.  0, or -1
 * with e.
 */
int cdb_snapshot_take(cdb_chroma *c, const cdb_snapshot_opts *o,
    cdb_snapshot_stats *st, cdb_error *e);

#endif
