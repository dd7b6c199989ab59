/*
 * transform.c - the cdb-transform engine, on top of the schema layers
 * (schema_apply.c, schema.c, coerce.c): read a stream, apply the schema
 * to each record, write the new stream; see transform.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chroma.h"
#include "coerce.h"
#include "hmap.h"
#include "json.h"
#include "ndjson.h"
#include "transform.h"

/* Distinct dropped source keys the summary names; the rest are summed. */
#define MAX_DROPPED_NAMES 200

struct cdb_transform_stats {
	const cdb_schema *s;
	long long in, out, rejected;
	json_t *in_by, *out_by; /* collection -> count */
	long long *how;         /* field i, how h: [i * NHOW + h] */
	json_t *dropped;        /* source key -> count */
	long long dropped_other;
	json_t *reasons; /* "field \"x\": reason" -> count */
};

#define NHOW (CDB_HOW_TEMPLATE + 1)

struct tx {
	const cdb_transform_opts *o;
	const cdb_schema *s;
	cdb_transform_stats *st;
	cdb_writer *w;
	cdb_schema_result *res;
	size_t nt;
	json_t **tline; /* per target: its collection line, once known */
	int *emitted;   /* per target: line written */
	int *dest;      /* scratch: destinations of a source */
	cdb_hmap *ids; /* cdb_hmap_key of every target id written */
	cdb_buf buf;
	char msg[sizeof(((cdb_error *)0)->text)];
};

/* ------------------------------------------------------------ stats -- */

cdb_transform_stats *
cdb_transform_stats_new(const cdb_schema *s)
{
	cdb_transform_stats *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->s = s;
	st->in_by = json_object();
	st->out_by = json_object();
	st->dropped = json_object();
	st->reasons = json_object();
	st->how = calloc(cdb_schema_nfields(s) * NHOW + 1, sizeof(*st->how));
	if (st->in_by == NULL || st->out_by == NULL || st->dropped == NULL ||
	    st->reasons == NULL || st->how == NULL) {
		cdb_transform_stats_free(st);
		return NULL;
	}
	return st;
}

void
cdb_transform_stats_free(cdb_transform_stats *st)
{
	if (st == NULL)
		return;
	json_decref(st->in_by);
	json_decref(st->out_by);
	json_decref(st->dropped);
	json_decref(st->reasons);
	free(st->how);
	free(st);
}

long long
cdb_transform_stats_in(const cdb_transform_stats *st)
{
	return st->in;
}

long long
cdb_transform_stats_out(const cdb_transform_stats *st)
{
	return st->out;
}

long long
cdb_transform_stats_rejected(const cdb_transform_stats *st)
{
	return st->rejected;
}

/* counts[key] += n, adding the key when there is room.  0, or -1. */
static int
bump(json_t *counts, const char *key, int n, size_t cap, long long *other)
{
	json_t *v = json_object_get(counts, key);

	if (v != NULL)
		return json_integer_set(v, json_integer_value(v) + n);
	if (cap > 0 && json_object_size(counts) >= cap) {
		(*other)++;
		return 0;
	}
	return json_object_set_new(counts, key, json_integer(n));
}

static int
format_counts(cdb_buf *b, const char *title, const json_t *counts)
{
	const char *k;
	json_t *v;
	int rc = 0;

	if (json_object_size(counts) == 0)
		return 0;
	rc |= cdb_buf_printf(b, "%s:\n", title);
	json_object_foreach((json_t *)counts, k, v)
	{
		rc |= cdb_buf_printf(
		    b, "  %-40s %10lld\n", k, (long long)json_integer_value(v));
	}
	return rc;
}

static int
format_fields(const cdb_transform_stats *st, cdb_buf *b)
{
	size_t i, n = cdb_schema_nfields(st->s);
	const long long *h;
	int rc = 0;

	if (n == 0)
		return 0;
	rc |= cdb_buf_printf(b,
	    "fields (records):%*s%9s %9s %9s %9s %9s "
	    "%9s\n",
	    8, "", "copied", "coerced", "default", "constant", "template",
	    "absent");
	for (i = 0; i < n; i++) {
		h = st->how + i * NHOW;
		rc |= cdb_buf_printf(b,
		    "  %-22s %9lld %9lld %9lld %9lld %9lld %9lld\n",
		    cdb_schema_field_at(st->s, i)->name, h[CDB_HOW_COPIED],
		    h[CDB_HOW_COERCED], h[CDB_HOW_DEFAULT], h[CDB_HOW_CONSTANT],
		    h[CDB_HOW_TEMPLATE], h[CDB_HOW_ABSENT]);
	}
	return rc;
}

int
cdb_transform_stats_format(const cdb_transform_stats *st, cdb_buf *b)
{
	int rc = 0;

	rc |= cdb_buf_printf(b, "records: %lld in, %lld out, %lld rejected\n",
	    st->in, st->out, st->rejected);
	rc |= format_counts(b, "records in, by source collection", st->in_by);
	rc |= format_counts(b, "records out, by target collection", st->out_by);
	rc |= format_fields(st, b);
	rc |= format_counts(b, "source fields dropped (records)", st->dropped);
	if (st->dropped_other > 0)
		rc |= cdb_buf_printf(
		    b, "  %-40s %10lld\n", "(other fields)", st->dropped_other);
	rc |= format_counts(b, "rejects by reason", st->reasons);
	return rc ? -1 : 0;
}

/* Count one record written. */
static int
count_out(cdb_transform_stats *st, const cdb_schema_result *r)
{
	size_t i, n = cdb_schema_nfields(st->s);

	st->out++;
	for (i = 0; i < n; i++)
		st->how[i * NHOW + r->how[i]]++;
	for (i = 0; i < r->ndropped; i++)
		if (bump(st->dropped, r->dropped[i], 1, MAX_DROPPED_NAMES,
		        &st->dropped_other) == -1)
			return -1;
	return bump(st->out_by, r->collection, 1, 0, NULL);
}

/* ---------------------------------------------------------- rejects -- */

/* The id for messages: JSON-quoted, cut when long.  0, or -1: ENOMEM. */
static int
show_id(const char *id, size_t len, char *out, size_t n)
{
	json_t *v = json_stringn_nocheck(id, len);

	if (v == NULL)
		return -1;
	cdb_coerce_show(v, out, n);
	json_decref(v);
	return 0;
}

/* One line of the rejects file: the reason and the original line. */
static int
write_reject(struct tx *t, const cdb_item *it, const char *field,
    const char *reason, const char *text, cdb_error *e)
{
	cdb_buf *b = &t->buf;
	int rc = 0;

	cdb_buf_reset(b);
	rc |= cdb_buf_printf(b, "{\"kind\":\"reject\",\"line\":%ld,", it->line);
	rc |= cdb_buf_puts(b, "\"collection\":");
	rc |= cdb_json_dump_string(b, it->collection, strlen(it->collection));
	rc |= cdb_buf_puts(b, ",\"id\":");
	rc |= cdb_json_dump_string(b, it->id, it->id_len);
	rc |= cdb_buf_puts(b, ",\"field\":");
	rc |= field ? cdb_json_dump_string(b, field, strlen(field))
	            : cdb_buf_puts(b, "null");
	rc |= cdb_buf_puts(b, ",\"reason\":");
	rc |= cdb_json_dump_string(b, reason, strlen(reason));
	rc |= cdb_buf_puts(b, ",\"message\":");
	rc |= cdb_json_dump_string(b, text, strlen(text));
	rc |= cdb_buf_puts(b, ",\"record\":");
	rc |= cdb_buf_append(b, it->raw, it->raw_len);
	rc |= cdb_buf_puts(b, "}\n");
	if (rc != 0)
		return cdb_error_oom(e);
	if (fwrite(b->data, 1, b->len, t->o->rejects) != b->len)
		return cdb_error_sys(e, errno, "rejects file");
	return 0;
}

/*
 * A record that cannot be made to fit: count it, file it, and say
 * whether the run goes on (0) or stops here (-1 with e).
 */
static int
reject(struct tx *t, const cdb_item *it, int reason, int field,
    const char *text, cdb_error *e)
{
	const cdb_schema_field *f =
	    field >= 0 ? cdb_schema_field_at(t->s, (size_t)field) : NULL;
	char id[96], key[300];

	t->st->rejected++;
	if (show_id(it->id, it->id_len, id, sizeof(id)) == -1)
		return cdb_error_oom(e);
	snprintf(t->msg, sizeof(t->msg), "id %s: %s", id, text);
	snprintf(key, sizeof(key), "%s%s%s%s", f ? "field \"" : "",
	    f ? f->name : "", f ? "\": " : "", cdb_schema_reason_name(reason));
	if (bump(t->st->reasons, key, 1, 0, NULL) == -1)
		return cdb_error_oom(e);
	if (t->o->rejects != NULL &&
	    write_reject(t, it, f ? f->name : NULL,
	        cdb_schema_reason_name(reason), text, e) == -1)
		return -1;
	if (t->o->max_rejects > 0 && t->st->rejected >= t->o->max_rejects) {
		if (t->o->max_rejects == 1)
			return cdb_error_setl(e, it->line, "%s", t->msg);
		return cdb_error_setl(e, it->line,
		    "%s; stopping at %ld rejected records", t->msg,
		    t->o->max_rejects);
	}
	if (t->o->rejects == NULL && t->o->on_reject != NULL)
		t->o->on_reject(t->o->arg, it->line, t->msg);
	return 0;
}

/* ------------------------------------------------------ collections -- */

/* A line's distance space: Chroma's default when it names none. */
static const char *
space_of(const json_t *line)
{
	const char *s =
	    cdb_chroma_space(json_object_get(line, "configuration"));

	return s != NULL ? s : "l2";
}

/* A second source for target i: its line must agree with the first's. */
static int
merge_source(
    struct tx *t, size_t i, json_t *line, const cdb_item *it, cdb_error *e)
{
	json_t *have = t->tline[i];
	json_t *d0 = json_object_get(have, "dimension");
	json_t *d1 = json_object_get(line, "dimension");
	const char *name = cdb_schema_target_name(t->s, i);

	if (strcmp(space_of(have), space_of(line)) != 0)
		return cdb_error_setl(e, it->line,
		    "collection \"%s\" would get records of %s and %s "
		    "collections: set the space in the schema's "
		    "collections.%s.configuration",
		    name, space_of(have), space_of(line), name);
	if (json_is_integer(d0) && json_is_integer(d1) &&
	    json_integer_value(d0) != json_integer_value(d1))
		return cdb_error_setl(e, it->line,
		    "collection \"%s\" would get embeddings of %lld and %lld "
		    "values",
		    name, (long long)json_integer_value(d0),
		    (long long)json_integer_value(d1));
	/* A dimension learnt late still helps, if not written yet. */
	if (!json_is_integer(d0) && json_is_integer(d1) && !t->emitted[i] &&
	    json_object_set(have, "dimension", d1) == -1)
		return cdb_error_oom(e);
	return 0;
}

static int
on_collection(struct tx *t, const cdb_item *it, cdb_error *e)
{
	const char *name = json_string_value(json_object_get(it->obj, "name"));
	json_t *line;
	size_t i;

	if (!cdb_schema_maps(t->s, name))
		return cdb_error_setl(e, it->line,
		    "the schema maps no collection \"%s\" (name it in a "
		    "\"from\", or add a \"*\" catch-all)",
		    name);
	if (bump(t->st->in_by, name, 0, 0, NULL) == -1)
		return cdb_error_oom(e);
	cdb_schema_destinations(t->s, name, t->dest);
	for (i = 0; i < t->nt; i++) {
		if (!t->dest[i])
			continue;
		if ((line = cdb_schema_collection_line(
		         t->s, (int)i, it->obj)) == NULL)
			return cdb_error_oom(e);
		if (t->tline[i] == NULL)
			t->tline[i] = line;
		else {
			int rc = merge_source(t, i, line, it, e);
			json_decref(line);
			if (rc == -1)
				return -1;
		}
	}
	return 0;
}

static int
emit_collection(struct tx *t, size_t i, cdb_error *e)
{
	const char *name = cdb_schema_target_name(t->s, i);

	t->emitted[i] = 1;
	if (bump(t->st->out_by, name, 0, 0, NULL) == -1)
		return cdb_error_oom(e);
	if (t->o->dry_run)
		return 0;
	return cdb_writer_json(t->w, CDB_KIND_COLLECTION, t->tline[i], e);
}

/* ---------------------------------------------------------- records -- */

static int
write_record(struct tx *t, const cdb_item *it, cdb_error *e)
{
	const cdb_schema_result *r = t->res;
	const json_t *m =
	    json_object_size(r->metadata) > 0 ? r->metadata : NULL;

	cdb_buf_reset(&t->buf);
	if (cdb_ndjson_format_record(&t->buf, r->collection, r->id.data,
	        r->id.len, it->document, m, it->uri, NULL, 0, it->emb_form,
	        it->emb_text, it->emb_len) == -1)
		return cdb_error_oom(e);
	return cdb_writer_line(
	    t->w, CDB_KIND_RECORD, t->buf.data, t->buf.len, e);
}

static int
on_record(struct tx *t, const cdb_item *it, cdb_error *e)
{
	cdb_schema_result *r = t->res;
	char id[96], text[sizeof(r->text) + 200];
	int rc;

	if (bump(t->st->in_by, it->collection, 1, 0, NULL) == -1)
		return cdb_error_oom(e);
	t->st->in++;
	rc = cdb_schema_apply(t->s, it->collection, it->id, it->id_len,
	    it->document, it->metadata, it->uri, r, e);
	if (rc == -1)
		return -1;
	if (rc == 1)
		return reject(t, it, r->reason, r->field, r->text, e);
	if (!t->o->no_id_check &&
	    (rc = cdb_hmap_put(t->ids,
	         cdb_hmap_key(r->collection, r->id.data, r->id.len), 0,
	         NULL)) != 1) {
		if (rc == -1)
			return cdb_error_oom(e);
		if (show_id(r->id.data, r->id.len, id, sizeof(id)) == -1)
			return cdb_error_oom(e);
		snprintf(text, sizeof(text),
		    "target id %s is already used in "
		    "collection \"%s\" by an earlier "
		    "record",
		    id, r->collection);
		return reject(t, it, CDB_REJECT_COLLISION, -1, text, e);
	}
	if (!t->emitted[r->target] &&
	    emit_collection(t, (size_t)r->target, e) == -1)
		return -1;
	if (count_out(t->st, r) == -1)
		return cdb_error_oom(e);
	return t->o->dry_run ? 0 : write_record(t, it, e);
}

/* ------------------------------------------------------ header, end -- */

static int
on_header(struct tx *t, const cdb_item *it, cdb_error *e)
{
	json_t *h = json_deep_copy(it->obj);
	int rc;

	if (h == NULL ||
	    json_object_set_new(
	        h, "tool", json_string(t->o->tool ? t->o->tool : "cdb")) == -1 ||
	    json_object_set_new(h, "schema",
	        json_pack("{s:s?, s:s}", "file", t->o->schema_file, "digest",
	            cdb_schema_digest(t->s))) == -1)
		rc = cdb_error_oom(e);
	else
		rc = t->o->dry_run ? 0
		                   : cdb_writer_json(t->w, CDB_KIND_HEADER, h, e);
	json_decref(h);
	return rc;
}

/* Targets that got no record still exist in the new database. */
static int
on_trailer(struct tx *t, cdb_error *e)
{
	size_t i;

	for (i = 0; i < t->nt; i++)
		if (t->tline[i] != NULL && !t->emitted[i] &&
		    emit_collection(t, i, e) == -1)
			return -1;
	return t->o->dry_run ? 0 : cdb_writer_trailer(t->w, e);
}

static int
on_item(struct tx *t, const cdb_item *it, cdb_error *e)
{
	switch (it->kind) {
	case CDB_KIND_HEADER:
		return on_header(t, it, e);
	case CDB_KIND_COLLECTION:
		return on_collection(t, it, e);
	case CDB_KIND_RECORD:
		return on_record(t, it, e);
	default:
		return on_trailer(t, e);
	}
}

static void
tx_free(struct tx *t)
{
	size_t i;

	for (i = 0; i < t->nt && t->tline != NULL; i++)
		json_decref(t->tline[i]);
	free(t->tline);
	free(t->emitted);
	free(t->dest);
	cdb_hmap_free(t->ids);
	cdb_buf_free(&t->buf);
	cdb_schema_result_free(t->res);
	cdb_writer_free(t->w);
}

int
cdb_transform_run(FILE *in, FILE *out, const cdb_transform_opts *o,
    cdb_transform_stats *st, cdb_error *e)
{
	struct tx t;
	cdb_reader *rd;
	cdb_item it;
	int rc;

	memset(&t, 0, sizeof(t));
	t.o = o;
	t.s = o->schema;
	t.st = st;
	t.nt = cdb_schema_ntargets(t.s);
	t.tline = calloc(t.nt, sizeof(*t.tline));
	t.emitted = calloc(t.nt, sizeof(*t.emitted));
	t.dest = calloc(t.nt, sizeof(*t.dest));
	t.res = cdb_schema_result_new(t.s);
	t.ids = cdb_hmap_new();
	t.w = cdb_writer_new(out);
	rd = cdb_reader_new(in, o->input, CDB_READ_RAW_EMB);
	if (t.tline == NULL || t.emitted == NULL || t.dest == NULL ||
	    t.res == NULL || t.ids == NULL || t.w == NULL || rd == NULL) {
		cdb_reader_free(rd);
		tx_free(&t);
		return cdb_error_oom(e);
	}
	while ((rc = cdb_reader_next(rd, &it, e)) == 1)
		if (on_item(&t, &it, e) == -1) {
			rc = -1;
			break;
		}
	cdb_reader_free(rd);
	tx_free(&t);
	return rc;
}
