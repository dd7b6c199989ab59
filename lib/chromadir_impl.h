/* chromadir_impl.h - shared between chromadir.c and chromaopen.c. */
#ifndef CDB_CHROMADIR_IMPL_H
#define CDB_CHROMADIR_IMPL_H

#include <sqlite3.h>

#include "cdb.h"

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
