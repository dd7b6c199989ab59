/*
 * chromasnap.c - a Chroma directory backup as a cdb snapshot, so that
 * cdb-rollback restore takes the runbook's tar.gz of the data directory.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "chromadir.h"
#include "ndjson.h"
#include "snapshot.h"

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
	if (*ent == NULL) /* out of memory: one_member reports it */
		*ent = json_null();
}

static int
one_member(cdb_snapshot_writer *w, const char *dir, const char *name,
    const cdb_chromadir_opts *o, cdb_error *e)
{
	cdb_chromadir_opts one = *o;
	cdb_export_stats st;
	json_t *ent = NULL;
	FILE *out;
	int rc;

	one.names = (char *const *)&name;
	one.nnames = 1;
	one.arg = &ent;
	if ((out = cdb_snapshot_writer_begin(w, name, e)) == NULL)
		return -1;
	rc = cdb_chromadir_export(dir, out, &one, &st, e);
	if (rc == 0 && json_is_null(ent))
		rc = cdb_error_oom(e);
	if (rc == 0 && ent == NULL)
		rc = cdb_error_set(
		    e, CDB_ERR_INPUT, "%s: no collection \"%s\"", dir, name);
	if (rc == 0)
		rc = cdb_snapshot_writer_end(w, ent, e);
	json_decref(ent);
	return rc;
}

/*
 * sb is the backup's (of a directory: its chroma.sqlite3), so that a
 * resume from another backup at the same path is refused.
 */
static int
write_snapshot(const char *src, const struct stat *sb, const char *dir,
    const char *out, const cdb_chromadir_opts *o, cdb_error *e)
{
	cdb_snapshot_writer *w;
	json_t *names, *id, *top, *v;
	size_t i;
	int rc = 0;

	if ((names = cdb_chromadir_names(dir, o->tenant, o->database, e)) == NULL)
		return -1;
	id = json_pack("{s:s, s:I, s:I, s:s, s:s}", "backup", src, "size",
	    (json_int_t)sb->st_size, "mtime", (json_int_t)sb->st_mtime,
	    "tenant", o->tenant, "database", o->database);
	w = id ? cdb_snapshot_writer_new(out, CDB_SNAP_NONE, 0, 1, id, e)
	       : NULL;
	if (id == NULL)
		cdb_error_oom(e);
	json_decref(id);
	if (w == NULL) {
		json_decref(names);
		return -1;
	}
	/* Resumed, the members an earlier run finished stay as they are. */
	json_array_foreach (names, i, v)
		if (rc == 0 && cdb_snapshot_find_in(cdb_snapshot_writer_done(w),
		                   json_string_value(v)) == NULL)
			rc = one_member(w, dir, json_string_value(v), o, e);
	top = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "tool", o->tool,
	    "server", src, "tenant", o->tenant, "database", o->database,
	    "embeddings", "base64", "scope", "all");
	if (rc == 0)
		rc = top ? cdb_snapshot_writer_finish(w, top, e)
		         : cdb_error_oom(e);
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
	char tmp[PATH_MAX], db[PATH_MAX];
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
	snprintf(db, sizeof(db), "%s/chroma.sqlite3", src);
	if (!arc && stat(db, &sb) == -1)
		return cdb_error_sys(e, errno, "%s", db);
	if (arc && cdb_chromadir_extract(src, tmp, sizeof(tmp), e) == -1)
		return -1;
	rc = write_snapshot(src, &sb, arc ? tmp : src, out, &o, e);
	if (arc)
		cdb_chromadir_cleanup(tmp);
	return rc;
}
