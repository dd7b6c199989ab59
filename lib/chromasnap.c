/*
 * chromasnap.c - a Chroma directory backup as a cdb snapshot, so that
 * cdb-rollback restore takes the runbook's tar.gz of the data directory.
 */
#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "chromadir.h"
#include "chromadir_impl.h"
#include "ndjson.h"
#include "snapshot.h"

/* Stop at the first member that decides: chroma.sqlite3 or a cdb one. */
static int
archive_is_backup(const char *path)
{
	struct archive_entry *en;
	struct archive *ar;
	const char *n, *base;
	int found = 0;

	if ((ar = archive_read_new()) == NULL)
		return 0;
	archive_read_support_format_tar(ar);
	archive_read_support_filter_gzip(ar);
	archive_read_support_filter_zstd(ar);
	archive_read_support_filter_xz(ar);
	if (archive_read_open_filename(ar, path, 65536) == ARCHIVE_OK)
		while (archive_read_next_header(ar, &en) == ARCHIVE_OK) {
			if ((n = archive_entry_pathname(en)) == NULL)
				break;
			if (cdb_snapshot_member_ok(n))
				break;
			base = strrchr(n, '/') ? strrchr(n, '/') + 1 : n;
			if (strcmp(base, "chroma.sqlite3") == 0) {
				found = 1;
				break;
			}
		}
	archive_read_free(ar);
	return found;
}

int
cdb_chromadir_is_backup(const char *path)
{
	char db[PATH_MAX];
	struct stat sb;

	if (stat(path, &sb) == -1)
		return 0;
	if (S_ISDIR(sb.st_mode)) {
		snprintf(db, sizeof(db), "%s/chroma.sqlite3", path);
		return stat(db, &sb) == 0;
	}
	return S_ISREG(sb.st_mode) && archive_is_backup(path);
}

static json_t *
names_in(
    const char *dir, const char *tenant, const char *database, cdb_error *e)
{
	chromadir_layout l;
	sqlite3_stmt *st;
	sqlite3 *db;
	json_t *a;
	int rc;

	if ((db = cdb_chromadir_open(dir, &l, e)) == NULL)
		return NULL;
	if (cdb_chromadir_prepare(db, dir,
	        "SELECT c.name FROM collections c JOIN databases d ON "
	        "c.database_id = d.id WHERE d.tenant_id = ? AND d.name = ? "
	        "ORDER BY c.name",
	        &st, e) == -1) {
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, database, -1, SQLITE_STATIC);
	a = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(
		    a, json_string((const char *)sqlite3_column_text(st, 0)));
	if (rc != SQLITE_DONE) {
		cdb_error_set(e, CDB_ERR_INPUT, "%s/chroma.sqlite3: %s", dir,
		    sqlite3_errmsg(db));
		json_decref(a);
		a = NULL;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return a;
}

/* The manifest entry of a member: the fields of its collection line. */
static void
keep_line(void *arg, const json_t *line)
{
	json_t **ent = arg;

	json_decref(*ent);
	*ent = json_pack("{s:O, s:n, s:O, s:O, s:O, s:O}", "name",
	    json_object_get(line, "name"), "id", "metadata",
	    json_object_get(line, "metadata"), "configuration",
	    json_object_get(line, "configuration"), "dimension",
	    json_object_get(line, "dimension"), "count",
	    json_object_get(line, "count"));
}

static int
one_member(cdb_snapshot_writer *w, const char *dir, const char *name,
    cdb_chromadir_opts *o, cdb_error *e)
{
	cdb_export_stats st;
	json_t *ent = NULL;
	FILE *out;
	int rc;

	o->names = (char *const *)&name;
	o->nnames = 1;
	o->arg = &ent;
	if ((out = cdb_snapshot_writer_begin(w, name, e)) == NULL)
		return -1;
	rc = cdb_chromadir_export(dir, out, o, &st, e);
	if (rc == 0 && ent == NULL)
		rc = cdb_error_set(
		    e, CDB_ERR_INPUT, "%s: no collection \"%s\"", dir, name);
	if (rc == 0)
		rc = cdb_snapshot_writer_end(w, ent, e);
	json_decref(ent);
	return rc;
}

static int
write_snapshot(const char *src, const char *dir, const char *out,
    cdb_chromadir_opts *o, cdb_error *e)
{
	cdb_snapshot_writer *w;
	json_t *names, *id, *top, *v;
	size_t i;
	int rc = 0;

	if ((names = names_in(dir, o->tenant, o->database, e)) == NULL)
		return -1;
	id = json_pack("{s:s, s:s, s:s}", "backup", src, "tenant", o->tenant,
	    "database", o->database);
	w = cdb_snapshot_writer_new(out, CDB_SNAP_NONE, 0, 1, id, e);
	json_decref(id);
	if (w == NULL) {
		json_decref(names);
		return -1;
	}
	json_array_foreach (names, i, v)
		if (rc == 0)
			rc = one_member(w, dir, json_string_value(v), o, e);
	top = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "tool", o->tool,
	    "server", src, "tenant", o->tenant, "database", o->database,
	    "embeddings", "base64", "scope", "all");
	if (rc == 0)
		rc = cdb_snapshot_writer_finish(w, top, e);
	json_decref(top);
	json_decref(names);
	cdb_snapshot_writer_free(w);
	if (rc == -1)
		cdb_snapshot_writer_cleanup(out);
	return rc;
}

int
cdb_chromadir_to_snapshot(const char *src, const char *out, const char *tenant,
    const char *database, const char *tool, cdb_error *e)
{
	cdb_chromadir_opts o;
	char tmp[PATH_MAX];
	struct stat sb;
	int rc, arc;

	if (stat(out, &sb) == 0)
		return 0;
	memset(&o, 0, sizeof(o));
	o.tenant = tenant ? tenant : "default_tenant";
	o.database = database ? database : "default_database";
	o.form = CDB_EMB_BASE64;
	o.tool = tool;
	o.collection = keep_line;
	if (stat(src, &sb) == -1)
		return cdb_error_set(e, CDB_ERR_INPUT, "%s: not found", src);
	arc = !S_ISDIR(sb.st_mode);
	if (arc && cdb_chromadir_extract(src, tmp, sizeof(tmp), e) == -1)
		return -1;
	rc = write_snapshot(src, arc ? tmp : src, out, &o, e);
	if (arc)
		cdb_chromadir_cleanup(tmp);
	return rc;
}
