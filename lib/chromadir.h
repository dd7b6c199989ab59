/*
 * chromadir.h - export collections straight from a stopped Chroma's data
 * directory (chroma.sqlite3 and its hnswlib segment folders) or from a
 * tar backup of it, as the same cdb-ndjson(5) stream the online export
 * writes.  Read only: sqlite is opened immutable and nothing is created
 * beside the files.
 */
#ifndef CDB_CHROMADIR_H
#define CDB_CHROMADIR_H

#include <jansson.h>
#include <stdio.h>

#include "cdb.h"
#include "export.h"

typedef struct cdb_chromadir_opts {
	char *const *names; /* collections to export; NULL: all */
	size_t nnames;
	const char *tenant;   /* NULL: default_tenant */
	const char *database; /* NULL: default_database */
	int form;             /* enum cdb_emb_form */
	int copy;             /* read a consistent copy of a live directory */
	int jobs;             /* threads formatting records; 0: 1 */
	const char *tool;     /* "cdb-export 0.1" for the header */
	cdb_warn_fn *warn;
	cdb_progress_fn *progress; /* called by the thread writing records */
	void *arg;
	/* Called with each collection line written (borrowed), or NULL. */
	void (*collection)(void *arg, const json_t *line);
} cdb_chromadir_opts;

/*
 * Write the collections of data directory dir to out.  A directory a
 * running process holds open, or with an unfinished sqlite journal, is
 * refused unless o->copy.  0, or -1 with e.
 */
int cdb_chromadir_export(const char *dir, FILE *out,
    const cdb_chromadir_opts *o, cdb_export_stats *st, cdb_error *e);

/*
 * Extract from the tar (gzip, zstd, xz or plain) backup at path only the
 * files a data directory export reads into a new private directory under
 * $TMPDIR, returned in dir (size bytes) for cdb_chromadir_export.  Members
 * must be regular files with relative names free of "..".  Remove the
 * directory with cdb_chromadir_cleanup.  0, or -1 with e.
 */
int cdb_chromadir_extract(
    const char *path, char *dir, size_t size, cdb_error *e);
void cdb_chromadir_cleanup(const char *dir);

/*
 * A consistent copy of the live directory dir in a new private directory
 * (its name in tmp, size bytes): sqlite's online backup of the database,
 * then the segment files.  Remove it with cdb_chromadir_cleanup.
 */
int cdb_chromadir_copy(const char *dir, char *tmp, size_t size, cdb_error *e);

/* cdb_chromadir_export of the directory a backup holds. */
int cdb_chromadir_export_archive(const char *path, FILE *out,
    const cdb_chromadir_opts *o, cdb_export_stats *st, cdb_error *e);

/*
 * The names of the collections of directory dir in tenant and database,
 * sorted, as a new JSON array (the caller frees it), or NULL with e.
 */
json_t *cdb_chromadir_names(
    const char *dir, const char *tenant, const char *database, cdb_error *e);

/*
 * 1 when path is a Chroma data directory or a tar backup of one (it
 * holds chroma.sqlite3 and nothing of a cdb snapshot), else 0.
 */
int cdb_chromadir_is_backup(const char *path);

/*
 * Write the collections of the Chroma directory or backup src, in tenant
 * and database (NULL: the defaults), as a cdb-snapshot(5) file at out for
 * cdb-rollback restore.  An existing out (from an interrupted restore of
 * the same backup) is kept.  0, or -1 with e.
 */
int cdb_chromadir_to_snapshot(const char *src, const char *out,
    const char *tenant, const char *database, const char *tool, cdb_error *e);

#endif
