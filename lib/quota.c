/* quota.c - a target's quotas, checked line by line; see quota.h. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "quota.h"

/*
 * Every limit, with Chroma Cloud's as its documentation lists them:
 * "Quotas & Limits", docs/docs.trychroma.com/markdoc/content/cloud/
 * quotas-limits.md in chroma-core/chroma, commit 956cdd6bb1db.
 */
#define F(name, cloud) {#name, offsetof(cdb_quota, name), cloud}
static const struct field {
	const char *name;
	size_t off;
	long long cloud;
} fields[] = {
    F(records_per_write, 300),
    F(records_per_collection, 5000000),
    F(dimension, 4096),
    F(id_bytes, 128),
    F(document_bytes, 16384),
    F(uri_bytes, 256),
    F(collection_name_bytes, 128),
    F(metadata_key_bytes, 36),
    F(record_metadata_keys, 32),
    F(record_metadata_value_bytes, 4096),
    F(collection_metadata_keys, 32),
    F(collection_metadata_value_bytes, 256),
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static long long *
slot(cdb_quota *l, const struct field *f)
{
	return (long long *)((char *)l + f->off);
}

static int
load_file(const char *spec, cdb_quota *l, json_t *j, cdb_error *e)
{
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(j))
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "%s: limits must be a JSON object", spec);
	json_object_foreach (j, key, v) {
		for (i = 0; i < NFIELDS && strcmp(fields[i].name, key); i++)
			;
		if (i == NFIELDS)
			return cdb_error_set(e, CDB_ERR_USAGE,
			    "%s: unknown limit \"%s\"", spec, key);
		if (!json_is_integer(v) || json_integer_value(v) < 1)
			return cdb_error_set(e, CDB_ERR_USAGE,
			    "%s: \"%s\" must be a positive integer", spec, key);
		*slot(l, &fields[i]) = json_integer_value(v);
	}
	return 0;
}

int
cdb_quota_load(const char *spec, cdb_quota *l, cdb_error *e)
{
	json_error_t je;
	json_t *j;
	size_t i;
	int rc;

	memset(l, 0, sizeof(*l));
	if (strcmp(spec, "chroma-cloud") == 0) {
		for (i = 0; i < NFIELDS; i++)
			*slot(l, &fields[i]) = fields[i].cloud;
		return 0;
	}
	if ((j = json_load_file(spec, CDB_JSON_FLAGS, &je)) == NULL)
		return cdb_error_set(e, CDB_ERR_USAGE, "%s:%d: %s", spec,
		    je.line, je.text);
	rc = load_file(spec, l, j, e);
	json_decref(j); /* after the message: key is in j */
	return rc;
}

struct check {
	const cdb_item *it;
	cdb_quota_fn *fn;
	void *arg;
	int broken;
};

static void
over(struct check *c, long long max, long long got, const char *what,
    const char *name)
{
	const char *coll = json_string_value(json_object_get(c->it->obj,
	    "name"));
	char msg[512];

	if (max == 0 || got <= max)
		return;
	if (c->it->kind == CDB_KIND_RECORD)
		snprintf(msg, sizeof(msg),
		    "id \"%.128s\": %s is %lld, above the limit of %lld (%s)",
		    c->it->id, what, got, max, name);
	else
		snprintf(msg, sizeof(msg),
		    "collection \"%.128s\": %s is %lld, above the limit of "
		    "%lld (%s)",
		    coll ? coll : "", what, got, max, name);
	c->fn(c->arg, c->it->line, msg);
	c->broken++;
}

/* A value's size: a string's bytes, an array's strings'. */
static long long
value_bytes(const json_t *v)
{
	long long n = 0;
	size_t i;
	json_t *x;

	if (json_is_string(v))
		return (long long)json_string_length(v);
	json_array_foreach (v, i, x)
		n += value_bytes(x);
	return n;
}

static void
metadata(struct check *c, const json_t *m, long long key_bytes, long long keys,
    long long vbytes, const char *keys_name, const char *vbytes_name)
{
	char what[128];
	const char *key;
	json_t *v;

	if (!json_is_object(m))
		return;
	over(c, keys, (long long)json_object_size(m),
	    "the number of metadata keys", keys_name);
	json_object_foreach ((json_t *)m, key, v) {
		snprintf(what, sizeof(what),
		    "the size of metadata key \"%.40s\"", key);
		over(c, key_bytes, (long long)strlen(key), what,
		    "metadata_key_bytes");
		snprintf(what, sizeof(what),
		    "the size of the value of metadata key \"%.40s\"", key);
		over(c, vbytes, value_bytes(v), what, vbytes_name);
	}
}

int
cdb_quota_check(const cdb_quota *l, const cdb_item *it, long long nth,
    cdb_quota_fn *fn, void *arg)
{
	struct check c = {it, fn, arg, 0};

	if (it->kind == CDB_KIND_COLLECTION) {
		over(&c, l->collection_name_bytes,
		    value_bytes(json_object_get(it->obj, "name")),
		    "the size of its name", "collection_name_bytes");
		metadata(&c, json_object_get(it->obj, "metadata"),
		    l->metadata_key_bytes, l->collection_metadata_keys,
		    l->collection_metadata_value_bytes,
		    "collection_metadata_keys",
		    "collection_metadata_value_bytes");
		over(&c, l->dimension,
		    json_integer_value(json_object_get(it->obj, "dimension")),
		    "the dimension", "dimension");
		return c.broken;
	}
	if (it->kind != CDB_KIND_RECORD)
		return 0;
	/* Once per collection: at the first record over the limit. */
	over(&c, l->records_per_collection,
	    nth == l->records_per_collection + 1 ? nth : 0,
	    "the number of records in its collection",
	    "records_per_collection");
	over(&c, l->id_bytes, (long long)it->id_len, "the size of its id",
	    "id_bytes");
	over(&c, l->document_bytes, value_bytes(it->document),
	    "the size of its document", "document_bytes");
	over(&c, l->uri_bytes, value_bytes(it->uri), "the size of its uri",
	    "uri_bytes");
	over(&c, l->dimension, (long long)it->dim,
	    "the length of its embedding", "dimension");
	metadata(&c, it->metadata, l->metadata_key_bytes,
	    l->record_metadata_keys, l->record_metadata_value_bytes,
	    "record_metadata_keys", "record_metadata_value_bytes");
	return c.broken;
}
