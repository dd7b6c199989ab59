/*
 * snapshot.h - snapshot files (cdb-snapshot(5)): a compressed tar with one
 * cdb-ndjson(5) stream per collection and a manifest, written with flat
 * memory and resumable after a crash, and read without trusting anything
 * inside the archive.
 *
 * Layout: a member "collections/NNNN-NAME.ndjson" per collection, then
 * "manifest.json", then the tar end blocks.  Each member's header, each
 * member's data and the manifest are separate compressed segments (gzip
 * members, zstd frames, xz streams), which decompressors read as one
 * stream: so data is compressed while it is exported, before its size
 * (needed by the tar header) is known, and an interrupted write resumes
 * at the last finished member.
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

enum cdb_snapshot_comp { CDB_SNAP_NONE, CDB_SNAP_GZIP, CDB_SNAP_ZSTD, CDB_SNAP_XZ };

/* "none", "gzip", "zstd" or "xz" to enum cdb_snapshot_comp; -1 if not. */
int cdb_snapshot_comp_parse(const char *name);
const char *cdb_snapshot_comp_name(int comp);
/* The compression a file name implies (.tar.gz, .tgz, .tar.zst, .tzst,
 * .tar.xz, .txz, .tar), or -1. */
int cdb_snapshot_comp_guess(const char *path);

/*
 * "collections/0001-NAME.ndjson" for the index-th (1-based) collection,
 * bytes outside [A-Za-z0-9._-] as '_', NAME cut to 100 bytes; into out.
 */
void cdb_snapshot_member_name(
    char *out, size_t size, size_t index, const char *name);
/* True when member is a name cdb_snapshot_member_name can give. */
int cdb_snapshot_member_ok(const char *member);

/*
 * Check a manifest's structure: format, version, and for each collection
 * a name, a valid member name, count, bytes and digest, names and members
 * unique.  0 or -1 with e.
 */
int cdb_snapshot_check_manifest(const json_t *m, cdb_error *e);

/* The manifest entry for collection name, or NULL (borrowed). */
json_t *cdb_snapshot_find(const json_t *manifest, const char *name);
/* The object named name in an array of objects with "name", or NULL. */
json_t *cdb_snapshot_find_in(const json_t *list, const char *name);

/* ------------------------------------------------------------ writing -- */

typedef struct cdb_snapshot_writer cdb_snapshot_writer;

/*
 * Start writing the snapshot path, or resume an interrupted write: bytes
 * go to "path.partial" (renamed by _finish), progress to
 * "path.partial.ckpt", the member on its way to "path.partial.spool.0".
 * identity (server, options...) must equal the checkpoint's to resume.
 * Without force, an existing path is an error.  level 0: the
 * compressor's default.  Free with cdb_snapshot_writer_free.
 */
cdb_snapshot_writer *cdb_snapshot_writer_new(const char *path, int comp,
    int level, int force, const json_t *identity, cdb_error *e);
/* Drop the member being written; finished ones stay for a resume. */
void cdb_snapshot_writer_free(cdb_snapshot_writer *w);
/* The manifest entries of the members finished, resumed ones included
 * (borrowed). */
const json_t *cdb_snapshot_writer_done(const cdb_snapshot_writer *w);
/* True when the writer resumed an earlier run's partial file. */
int cdb_snapshot_writer_resumed(const cdb_snapshot_writer *w);

/*
 * Begin the member for collection name: a stream (owned by the writer,
 * no fclose) whose bytes a thread hashes and compresses as they come.
 */
FILE *cdb_snapshot_writer_begin(
    cdb_snapshot_writer *w, const char *name, cdb_error *e);
/*
 * End the member begun last: a copy of entry (name, count, metadata...)
 * completed with "member", "bytes" and "digest" goes to the manifest.
 * The member is appended, synced and checkpointed before _end returns.
 */
int cdb_snapshot_writer_end(
    cdb_snapshot_writer *w, const json_t *entry, cdb_error *e);
/*
 * Write the manifest (top's fields plus format, version, created, records,
 * compression, collections) and the tar end, fsync, rename the partial
 * file to its name, remove checkpoint and spool.
 */
int cdb_snapshot_writer_finish(
    cdb_snapshot_writer *w, const json_t *top, cdb_error *e);
/* Remove the partial, checkpoint and spool files of path, if any. */
void cdb_snapshot_writer_cleanup(const char *path);

/* ------------------------------------------------------------ reading -- */

/*
 * Called for each collection member in archive order with its manifest
 * entry (NULL when not known yet) and a stream of its bytes, which fn may
 * leave unread.  0, or -1 with e to stop.
 */
typedef int cdb_snapshot_member_fn(
    void *arg, const char *member, const json_t *entry, FILE *in, cdb_error *e);

/*
 * Read the snapshot at path.  Members must be regular files with relative
 * names free of "..", named by the manifest, which comes last; each one's
 * size and XXH64 digest must match it.  With manifest (from an earlier
 * read), members are checked against it before fn (or NULL) sees them.
 * Returns the manifest (new reference), or NULL with e naming the member
 * at fault.
 */
json_t *cdb_snapshot_read(const char *path, const json_t *manifest,
    cdb_snapshot_member_fn *fn, void *arg, cdb_error *e);
/*
 * cdb_snapshot_read plus a parse of every member as a cdb-ndjson(5)
 * stream of exactly its collection and the manifest's count.
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
 * resuming an interrupted one with the same server and options.
 */
int cdb_snapshot_take(cdb_chroma *c, const cdb_snapshot_opts *o,
    cdb_snapshot_stats *st, cdb_error *e);

#endif
