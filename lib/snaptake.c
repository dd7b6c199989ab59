/*
 * snaptake.c - a snapshot of a Chroma server's collections: each one
 * exported (lib/export.c) into a member of a snapshot writer, resumable
 * at the last finished member; see snapshot.h.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json.h"
#include "ndjson.h"
#include "snapshot.h"

static const char *
form_name(int form)
{
	return form == CDB_EMB_FLOAT    ? "float"
	       : form == CDB_EMB_BASE64 ? "base64"
	                                : "none";
}

/* Add the shard taken, if any, to o: 0, or -1 on no memory. */
static int
add_shard(json_t *obj, const cdb_snapshot_opts *o)
{
	if (o->shard.n <= 0)
		return 0;
	return json_object_set_new(obj, "shard",
	    json_pack("{s:i, s:i}", "index", o->shard.k, "of", o->shard.n));
}

/* What a resume must match: the same server, collections and options. */
static json_t *
identity(cdb_chroma *c, const cdb_snapshot_opts *o)
{
	json_t *id, *names = o->names != NULL ? json_array() : json_null();
	size_t i;

	for (i = 0; names != NULL && i < o->nnames; i++)
		if (json_array_append_new(names, json_string(o->names[i])) == -1) {
			json_decref(names);
			return NULL;
		}
	id = json_pack("{s:s, s:s, s:s, s:o, s:s}", "server", cdb_chroma_url(c),
	    "tenant", cdb_chroma_tenant(c), "database", cdb_chroma_database(c),
	    "names", names, "embeddings", form_name(o->form));
	if (id != NULL && add_shard(id, o) == -1) {
		json_decref(id);
		return NULL;
	}
	return id;
}

static int
named(const cdb_snapshot_opts *o, const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < o->nnames; i++)
		if (strcmp(o->names[i], name) == 0)
			return 1;
	return 0;
}

/* The collections to take, sorted by name; new reference. */
static json_t *
pick(cdb_chroma *c, const cdb_snapshot_opts *o, cdb_error *e)
{
	json_t *all;
	size_t i;

	if (cdb_chroma_check_database(c, e) == -1)
		return NULL;
	if ((all = cdb_chroma_list(c, e)) == NULL || o->names == NULL)
		return all;
	for (i = 0; i < o->nnames; i++)
		if (cdb_snapshot_find_in(all, o->names[i]) == NULL) {
			cdb_error_set(e, CDB_ERR_USAGE,
			    "no collection \"%s\" in %s/%s", o->names[i],
			    cdb_chroma_tenant(c), cdb_chroma_database(c));
			json_decref(all);
			return NULL;
		}
	for (i = json_array_size(all); i-- > 0;)
		if (!named(o, json_string_value(json_object_get(
		                  json_array_get(all, i), "name"))))
			json_array_remove(all, i);
	return all;
}

/* The manifest fields of a collection that the member holds. */
static json_t *
entry_of(const json_t *coll, long long records)
{
	return json_pack("{s:O, s:O?, s:O?, s:O?, s:O?, s:I}", "name",
	    json_object_get(coll, "name"), "id", json_object_get(coll, "id"),
	    "metadata", json_object_get(coll, "metadata"), "configuration",
	    json_object_get(coll, "configuration_json"), "dimension",
	    json_object_get(coll, "dimension"), "count", (json_int_t)records);
}

static int
take_one(cdb_snapshot_writer *w, cdb_chroma *c, const json_t *coll,
    const cdb_snapshot_opts *o, cdb_snapshot_stats *st, cdb_error *e)
{
	char *name = (char *)json_string_value(json_object_get(coll, "name"));
	cdb_export_stats es;
	json_t *ent;
	FILE *out;
	int rc;

	if ((out = cdb_snapshot_writer_begin(w, name, e)) == NULL)
		return -1;
	if (cdb_export_run(c, out,
	        &(cdb_export_opts){.names = &name, .nnames = 1,
	            .batch = o->batch, .form = o->form, .tool = o->tool,
	            .shard = o->shard, .warn = o->warn,
	            .progress = o->progress, .arg = o->arg},
	        &es, e) == -1)
		return -1;
	st->changed |= es.changed;
	if ((ent = entry_of(coll, es.records)) == NULL)
		return cdb_error_oom(e);
	rc = cdb_snapshot_writer_end(w, ent, e);
	json_decref(ent);
	return rc;
}

static int
finish(cdb_snapshot_writer *w, cdb_chroma *c, const cdb_snapshot_opts *o,
    cdb_snapshot_stats *st, cdb_error *e)
{
	json_t *top, *v;
	struct stat sb;
	size_t i;
	int rc;

	top = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "tool",
	    o->tool ? o->tool : "cdb", "server", cdb_chroma_url(c), "tenant",
	    cdb_chroma_tenant(c), "database", cdb_chroma_database(c),
	    "embeddings", form_name(o->form), "scope",
	    o->names ? "selected" : "all");
	if (top == NULL || add_shard(top, o) == -1) {
		json_decref(top);
		return cdb_error_oom(e);
	}
	rc = cdb_snapshot_writer_finish(w, top, e);
	json_decref(top);
	if (rc == -1)
		return -1;
	/* Every member is finished now. */
	json_array_foreach (cdb_snapshot_writer_done(w), i, v)
		st->records += json_integer_value(json_object_get(v, "count"));
	st->collections =
	    (long long)json_array_size(cdb_snapshot_writer_done(w));
	if (stat(o->output, &sb) == 0)
		st->bytes = (long long)sb.st_size;
	return 0;
}

static int
run(cdb_snapshot_writer *w, cdb_chroma *c, const json_t *colls,
    const cdb_snapshot_opts *o, cdb_snapshot_stats *st, cdb_error *e)
{
	json_t *coll;
	const char *name;
	size_t i;

	json_array_foreach (colls, i, coll) {
		name = json_string_value(json_object_get(coll, "name"));
		if (name == NULL)
			return cdb_error_set(e, CDB_ERR_SERVER,
			    "collection without a name in the server's answer");
		/* Skip those an interrupted earlier run finished. */
		if (cdb_snapshot_find_in(cdb_snapshot_writer_done(w), name) ==
		        NULL &&
		    take_one(w, c, coll, o, st, e) == -1)
			return -1;
	}
	return finish(w, c, o, st, e);
}

int
cdb_snapshot_take(cdb_chroma *c, const cdb_snapshot_opts *o,
    cdb_snapshot_stats *st, cdb_error *e)
{
	cdb_snapshot_writer *w;
	json_t *id, *colls;
	int rc;

	memset(st, 0, sizeof(*st));
	/* A missing database or collection: nothing is written. */
	if ((colls = pick(c, o, e)) == NULL)
		return -1;
	if ((id = identity(c, o)) == NULL) {
		json_decref(colls);
		return cdb_error_oom(e);
	}
	w = cdb_snapshot_writer_new(
	    o->output, o->comp, o->level, o->force, id, e);
	json_decref(id);
	if (w == NULL) {
		json_decref(colls);
		return -1;
	}
	st->resumed = cdb_snapshot_writer_resumed(w);
	rc = run(w, c, colls, o, st, e);
	cdb_snapshot_writer_free(w);
	json_decref(colls);
	return rc;
}
