/*
 * chromaopen.c - open a Chroma data directory without writing to it:
 * refuse one a live process holds, open sqlite immutable, recognise the
 * layout; or take a consistent copy of a live one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chromadir.h"
#include "chromadir_impl.h"

static const char *const tables[] = {"collections", "segments", "embeddings",
    "embedding_metadata", "embeddings_queue", "max_seq_id", "databases",
    "collection_metadata", "migrations", NULL};

/* A file: URI for path (sqlite decodes %XX; '?' and '#' would end it). */
static int
file_uri(const char *path, char *uri, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	const unsigned char *p;

	n = (size_t)snprintf(uri, size, "file:");
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

static int
scalar(sqlite3 *db, const char *sql, const char *arg, int *out)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (arg != NULL)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int
layout(sqlite3 *db, const char *dir, chromadir_layout *l, cdb_error *e)
{
	const char *const *t;
	int n;

	memset(l, 0, sizeof(*l));
	for (t = tables; *t != NULL; t++) {
		if (scalar(db,
		        "SELECT count(*) FROM sqlite_master WHERE "
		        "type = 'table' AND name = ?",
		        *t, &n) == -1)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "%s/chroma.sqlite3: %s", dir, sqlite3_errmsg(db));
		if (n == 0)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "%s/chroma.sqlite3: not a Chroma database (no "
			    "table "
			    "%s)",
			    dir, *t);
	}
	if (scalar(db, "SELECT max(version) FROM migrations WHERE dir = ?",
	        "sysdb", &l->sysdb) == -1 ||
	    scalar(db, "SELECT max(version) FROM migrations WHERE dir = ?",
	        "metadb", &l->metadb) == -1 ||
	    scalar(db, "SELECT max(version) FROM migrations WHERE dir = ?",
	        "embeddings_queue", &l->queue) == -1 ||
	    scalar(db,
	        "SELECT count(*) FROM pragma_table_info('collections') "
	        "WHERE name = ?",
	        "config_json_str", &l->has_config) == -1 ||
	    scalar(db,
	        "SELECT count(*) FROM pragma_table_info('collections') "
	        "WHERE name = ?",
	        "schema_str", &l->has_schema) == -1 ||
	    scalar(db, "SELECT count(*) FROM sqlite_master WHERE name = ?",
	        "embedding_metadata_array", &l->has_arrays) == -1)
		return cdb_error_set(e, CDB_ERR_INPUT, "%s/chroma.sqlite3: %s",
		    dir, sqlite3_errmsg(db));
	/* Collection schemas (sysdb 10) came with Chroma 1.x; 1.0 and the
	 * Python 0.5/0.6 releases share the earlier migrations, which only
	 * the pickle tells apart (an object in Python's). */
	snprintf(l->version, sizeof(l->version),
	    "%s (migrations: sysdb %d, metadb %d, embeddings_queue %d)",
	    l->sysdb >= 10 ? "1.x" : "0.4-1.0", l->sysdb, l->metadb,
	    l->queue);
	return 0;
}

sqlite3 *
cdb_chromadir_open(const char *dir, chromadir_layout *l, cdb_error *e)
{
	char path[PATH_MAX], uri[3 * PATH_MAX + 32];
	struct stat sb;
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/chroma.sqlite3", dir);
	if (stat(path, &sb) == -1) {
		cdb_error_set(
		    e, CDB_ERR_INPUT, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(sb.st_mode)) {
		cdb_error_set(e, CDB_ERR_INPUT, "%s: not a regular file", path);
		return NULL;
	}
	if (file_uri(path, uri, sizeof(uri)) == -1) {
		cdb_error_set(e, CDB_ERR_INPUT, "%s: path too long", path);
		return NULL;
	}
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
	        NULL) != SQLITE_OK) {
		cdb_error_set(e, CDB_ERR_INPUT, "%s: %s", path,
		    db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	/* Per-record lookups revisit index pages: a 16 MiB page cache. */
	sqlite3_exec(db, "PRAGMA cache_size = -16384", NULL, NULL, NULL);
	if (layout(db, dir, l, e) == -1) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
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
		while ((f = readdir(d)) != NULL) {
			snprintf(fd, sizeof(fd), "%s/%s", fds, f->d_name);
			if (f->d_name[0] != '.' && stat(fd, &st) == 0 &&
			    st.st_dev == sb->st_dev &&
			    st.st_ino == sb->st_ino) {
				pid = atol(p->d_name);
				break;
			}
		}
		closedir(d);
	}
	closedir(proc);
	return pid;
}

int
cdb_chromadir_busy(const char *dir, cdb_error *e)
{
	static const char *const journals[] = {"-journal", "-wal", NULL};
	const char *const *j;
	char path[PATH_MAX], side[PATH_MAX + 16];
	struct stat sb;
	long pid;

	snprintf(path, sizeof(path), "%s/chroma.sqlite3", dir);
	if (stat(path, &sb) == -1)
		return cdb_error_set(
		    e, CDB_ERR_INPUT, "%s: %s", path, strerror(errno));
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
