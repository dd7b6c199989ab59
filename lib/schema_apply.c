/*
 * schema_apply.c - routing records and applying a loaded schema to them;
 * see schema.h.  Above schema.c (it reads the loaded schema through
 * schema_impl.h and checks values with cdb_schema_i_check), below the
 * engines that apply a schema (transform.c, cdb-validate's).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "schema_impl.h"
#include "where.h"

/* The result with the storage cdb_schema_apply reuses. */
struct result {
	cdb_schema_result pub;
	const cdb_schema *s;
	json_t **vals; /* per field, owned */
	size_t dropcap;
	cdb_buf tmp;
};

/* One record being applied. */
struct rec {
	const cdb_schema *s;
	struct result *r;
	const char *source;
	const char *id;
	size_t id_len;
	const json_t *document, *metadata, *uri;
};

/* ---------------------------------------------------------- routing -- */

int
cdb_schema_route(
    const cdb_schema *s, const char *source, const json_t *metadata)
{
	size_t i;
	int pass;

	/* Mappings that name the collection first, then the catch-alls. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < s->nroutes; i++) {
			const struct route *rt = &s->routes[i];
			if (strcmp(rt->source, pass ? "*" : source) != 0)
				continue;
			if (rt->where == NULL ||
			    cdb_where_match(rt->where, metadata))
				return rt->target;
		}
	return -1;
}

int
cdb_schema_maps(const cdb_schema *s, const char *source)
{
	size_t i;

	for (i = 0; i < s->nroutes; i++)
		if (strcmp(s->routes[i].source, source) == 0 ||
		    strcmp(s->routes[i].source, "*") == 0)
			return 1;
	return 0;
}

void
cdb_schema_destinations(const cdb_schema *s, const char *source, int *targets)
{
	size_t i;
	int all = 0;

	memset(targets, 0, s->ntargets * sizeof(*targets));
	for (i = 0; i < s->nroutes; i++)
		if (strcmp(s->routes[i].source, source) == 0) {
			targets[s->routes[i].target] = 1;
			all |= s->routes[i].where == NULL;
		}
	for (i = 0; i < s->nroutes && !all; i++)
		if (strcmp(s->routes[i].source, "*") == 0)
			targets[s->routes[i].target] = 1;
}

/* RFC 7386 merge patch of target (a reference this takes) with patch: a
 * new reference, or NULL when out of memory. */
static json_t *
merge_patch(json_t *target, const json_t *patch)
{
	const char *k;
	json_t *v;

	if (!json_is_object(patch)) {
		json_decref(target);
		return json_deep_copy(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		if ((target = json_object()) == NULL)
			return NULL;
	}
	json_object_foreach((json_t *)patch, k, v)
	{
		if (json_is_null(v))
			json_object_del(target, k);
		else if (json_object_set_new(target, k,
		             merge_patch(json_incref(json_object_get(target, k)),
		                 v)) == -1) {
			json_decref(target);
			return NULL;
		}
	}
	return target;
}

/* line[key] patched with patch (if any).  0, or -1 when out of memory. */
static int
patch_key(json_t *line, const char *key, const json_t *patch)
{
	json_t *v = json_incref(json_object_get(line, key));

	if (patch != NULL && (v = merge_patch(v, patch)) == NULL)
		return -1;
	/* Chroma stores no empty metadata object. */
	if (strcmp(key, "metadata") == 0 && json_is_object(v) &&
	    json_object_size(v) == 0) {
		json_decref(v);
		v = NULL;
	}
	return json_object_set_new(line, key, v ? v : json_null());
}

/*
 * Whether target t is exactly source collection name, all of it: its one
 * route, without a condition, and the source's one route.  Then the
 * source's count still holds (a shard's importer checks the records the
 * other shards may have written against it).
 */
static int
whole_copy(const cdb_schema *s, int t, const char *name)
{
	size_t i, to_t = 0, from = 0, whole = 0;

	for (i = 0; i < s->nroutes; i++) {
		const struct route *r = &s->routes[i];
		int same = name != NULL && strcmp(r->source, name) == 0;

		to_t += r->target == t;
		from += same;
		whole += same && r->target == t && r->where == NULL;
	}
	return name != NULL && to_t == 1 && from == 1 && whole == 1;
}

json_t *
cdb_schema_collection_line(const cdb_schema *s, int t, const json_t *src)
{
	const struct target *tg = &s->targets[t];
	json_t *line = json_deep_copy(src);

	if (line == NULL ||
	    json_object_set_new(line, "name", json_string(tg->name)) == -1 ||
	    patch_key(line, "metadata", tg->metadata) == -1 ||
	    patch_key(line, "configuration", tg->configuration) == -1 ||
	    (!whole_copy(s, t, json_string_value(json_object_get(src, "name"))) &&
	        json_object_set_new(line, "count", json_null()) == -1) ||
	    /* The server's index schema names the old keys: not the target's. */
	    json_object_set_new(line, "schema", json_null()) == -1) {
		json_decref(line);
		return NULL;
	}
	return line;
}

/* ----------------------------------------------------------- result -- */

cdb_schema_result *
cdb_schema_result_new(const cdb_schema *s)
{
	struct result *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->s = s;
	cdb_buf_init(&r->pub.id);
	cdb_buf_init(&r->tmp);
	r->pub.how = calloc(s->nfields + 1, 1);
	r->vals = calloc(s->nfields + 1, sizeof(*r->vals));
	if (r->pub.how == NULL || r->vals == NULL) {
		cdb_schema_result_free(&r->pub);
		return NULL;
	}
	r->pub.target = -1;
	r->pub.field = -1;
	return &r->pub;
}

static void
result_reset(struct result *r)
{
	size_t i;

	for (i = 0; i < r->s->nfields; i++) {
		json_decref(r->vals[i]);
		r->vals[i] = NULL;
	}
	memset(r->pub.how, 0, r->s->nfields);
	json_decref(r->pub.metadata);
	r->pub.metadata = NULL;
	cdb_buf_reset(&r->pub.id);
	r->pub.target = -1;
	r->pub.collection = NULL;
	r->pub.ndropped = 0;
	r->pub.reason = CDB_REJECT_NONE;
	r->pub.field = -1;
	r->pub.text[0] = '\0';
}

void
cdb_schema_result_free(cdb_schema_result *pub)
{
	struct result *r = (struct result *)pub;

	if (r == NULL)
		return;
	if (r->vals != NULL)
		result_reset(r);
	free(r->vals);
	free(r->pub.how);
	free(r->pub.dropped);
	cdb_buf_free(&r->pub.id);
	cdb_buf_free(&r->tmp);
	free(r);
}

static int reject(struct rec *c, int reason, int field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Record why the record is refused (cut to fit).  Returns 1 (rejected). */
static int
reject(struct rec *c, int reason, int field, const char *fmt, ...)
{
	cdb_schema_result *r = &c->r->pub;
	size_t n = 0;
	va_list ap;

	r->reason = reason;
	r->field = field;
	if (field >= 0)
		n = (size_t)snprintf(r->text, sizeof(r->text), "field \"%s\": ",
		    c->s->fields[field].pub.name);
	if (n < sizeof(r->text)) {
		va_start(ap, fmt);
		vsnprintf(r->text + n, sizeof(r->text) - n, fmt, ap);
		va_end(ap);
	}
	return 1;
}

/* -------------------------------------------------------- templates -- */

/* A value as template text: arrays are joined with commas. */
static int
append_text(cdb_buf *b, const json_t *v)
{
	size_t i;
	json_t *x;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return cdb_buf_append(
		    b, json_string_value(v), json_string_length(v));
	case JSON_ARRAY:
		json_array_foreach(v, i, x)
		{
			if ((i > 0 && cdb_buf_putc(b, ',') == -1) ||
			    append_text(b, x) == -1)
				return -1;
		}
		return 0;
	default:
		return cdb_json_dump(b, v);
	}
}

/*
 * Render t into b.  Returns 0, 1 with *lacking set to the index of a
 * field the record lacks, or -1 on allocation failure.
 */
static int
render(struct rec *c, const struct tpl *t, cdb_buf *b, int *lacking)
{
	const char *target = c->s->targets[c->r->pub.target].name;
	size_t i;
	int rc = 0;

	cdb_buf_reset(b);
	for (i = 0; i < t->n && rc == 0; i++) {
		const struct part *p = &t->p[i];
		switch (p->ref) {
		case REF_LIT:
			rc = cdb_buf_append(b, p->lit, p->len);
			break;
		case REF_ID:
			rc = cdb_buf_append(b, c->id, c->id_len);
			break;
		case REF_COLL:
			rc = cdb_buf_puts(b, target);
			break;
		case REF_SRC:
			rc = cdb_buf_puts(b, c->source);
			break;
		default:
			if (c->r->vals[p->ref] == NULL) {
				*lacking = p->ref;
				return 1;
			}
			rc = append_text(b, c->r->vals[p->ref]);
		}
	}
	return rc == 0 ? 0 : -1;
}

/* ----------------------------------------------------------- fields -- */

static const json_t *
lookup(struct rec *c, const struct source *src, json_t **tmp)
{
	switch (src->kind) {
	case SRC_ID:
		return *tmp = json_stringn_nocheck(c->id, c->id_len);
	case SRC_COLL:
		return *tmp = json_string_nocheck(c->source);
	case SRC_DOC:
		return c->document;
	case SRC_URI:
		return c->uri;
	default:
		return json_object_get(c->metadata, src->name);
	}
}

/* Convert v into field i, check it, store it.  0, 1 (rejected), -1. */
static int
settle(struct rec *c, size_t i, const json_t *v, int how)
{
	const struct field *f = &c->s->fields[i];
	char why[400];
	json_t *out;
	int rc;

	rc = cdb_coerce(v, &f->co, &out, why, sizeof(why));
	if (rc == CDB_COERCE_OOM)
		return -1;
	if (rc == -1)
		return reject(c, CDB_REJECT_CONVERT, (int)i, "%s", why);
	if (rc == 0)
		return 0;
	if ((rc = cdb_schema_i_check(f, out, why, sizeof(why))) != 0) {
		json_decref(out);
		return reject(c, rc, (int)i, "%s", why);
	}
	if (how == CDB_HOW_COPIED && !json_equal(out, (json_t *)v))
		how = CDB_HOW_COERCED;
	c->r->vals[i] = out;
	c->r->pub.how[i] = (unsigned char)how;
	return 0;
}

/* "\"a\" or \"b\"": the sources looked for, for messages. */
static void
sources_text(const struct field *f, char *out, size_t n)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < f->nfrom && used < n; i++)
		used += (size_t)snprintf(out + used, n - used, "%s\"%s\"",
		    i == 0              ? ""
		    : i + 1 == f->nfrom ? " or "
		                        : ", ",
		    f->from[i].name);
}

/* No value: the default, or absent, or a reject when required. */
static int
fallback(struct rec *c, size_t i, int lacking)
{
	const struct field *f = &c->s->fields[i];
	char names[300];

	if (f->pub.dflt != NULL) {
		c->r->vals[i] = json_incref((json_t *)f->pub.dflt);
		c->r->pub.how[i] = CDB_HOW_DEFAULT;
		return 0;
	}
	if (!f->pub.required)
		return 0;
	if (lacking >= 0)
		return reject(c, CDB_REJECT_TEMPLATE, (int)i,
		    "the template needs field \"%s\", which the record lacks",
		    c->s->fields[lacking].pub.name);
	sources_text(f, names, sizeof(names));
	return reject(c, CDB_REJECT_MISSING, (int)i,
	    "missing: the record has no %s and the field has no default",
	    names);
}

static int
fill_from_sources(struct rec *c, size_t i)
{
	const struct field *f = &c->s->fields[i];
	const json_t *v;
	json_t *tmp;
	size_t j;
	int rc;

	for (j = 0; j < f->nfrom; j++) {
		tmp = NULL;
		v = lookup(c, &f->from[j], &tmp);
		if (v == NULL && (f->from[j].kind == SRC_ID ||
		                     f->from[j].kind == SRC_COLL))
			return -1; /* out of memory for tmp */
		rc = v != NULL ? settle(c, i, v, CDB_HOW_COPIED) : 0;
		json_decref(tmp);
		/* A value there but unusable is an error, not a reason to
		 * look further: it would hide bad data. */
		if (rc != 0 || c->r->vals[i] != NULL)
			return rc;
	}
	return fallback(c, i, -1);
}

static int
fill_template(struct rec *c, size_t i)
{
	const struct field *f = &c->s->fields[i];
	int lacking = -1, rc;
	json_t *v;

	rc = render(c, &f->tpl, &c->r->tmp, &lacking);
	if (rc == 1)
		return fallback(c, i, lacking);
	if (rc == -1 ||
	    (v = json_stringn_nocheck(c->r->tmp.data, c->r->tmp.len)) == NULL)
		return -1;
	rc = settle(c, i, v, CDB_HOW_TEMPLATE);
	json_decref(v);
	return rc;
}

/* All fields: sources first, then templates, which use them. */
static int
fill_all(struct rec *c)
{
	const struct field *f;
	size_t i;
	int pass, rc;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < c->s->nfields; i++) {
			f = &c->s->fields[i];
			if ((f->pub.template != NULL) != pass)
				continue;
			if (f->pub.constant != NULL) {
				c->r->vals[i] =
				    json_incref((json_t *)f->pub.constant);
				c->r->pub.how[i] = CDB_HOW_CONSTANT;
			} else if ((rc = pass ? fill_template(c, i)
			                      : fill_from_sources(c, i)) != 0)
				return rc;
		}
	return 0;
}

static int
note_dropped(struct result *r, const char *k)
{
	const char **nd;

	if (r->pub.ndropped == r->dropcap) {
		r->dropcap = r->dropcap ? r->dropcap * 2 : 16;
		nd = realloc(r->pub.dropped, r->dropcap * sizeof(*nd));
		if (nd == NULL)
			return -1;
		r->pub.dropped = nd;
	}
	r->pub.dropped[r->pub.ndropped++] = k;
	return 0;
}

/* The target metadata in field order, then kept unknown keys. */
static int
build_metadata(struct rec *c)
{
	const cdb_schema *s = c->s;
	json_t *m = json_object(), *v;
	const char *k;
	size_t i;

	if ((c->r->pub.metadata = m) == NULL)
		return -1;
	for (i = 0; i < s->nfields; i++)
		if (c->r->vals[i] != NULL &&
		    json_object_set(m, s->fields[i].pub.name, c->r->vals[i]) ==
		        -1)
			return -1;
	json_object_foreach((json_t *)c->metadata, k, v)
	{
		if (json_object_get(s->consumed, k) != NULL)
			continue;
		if (s->keep && json_object_get(s->fieldidx, k) == NULL) {
			if (json_object_set(m, k, v) == -1)
				return -1;
		} else if (note_dropped(c->r, k) == -1)
			return -1;
	}
	return 0;
}

static int
make_id(struct rec *c)
{
	cdb_buf *id = &c->r->pub.id;
	int lacking = -1, rc;

	if (c->s->id_template == NULL)
		return cdb_buf_append(id, c->id, c->id_len);
	if ((rc = render(c, &c->s->idtpl, id, &lacking)) == 1)
		return reject(c, CDB_REJECT_TEMPLATE, -1,
		    "the id template needs field \"%s\", which the record "
		    "lacks",
		    c->s->fields[lacking].pub.name);
	if (rc == 0 && id->len == 0)
		return reject(
		    c, CDB_REJECT_ID, -1, "the id template gives an empty id");
	return rc;
}

int
cdb_schema_apply(const cdb_schema *s, const char *source, const char *id,
    size_t id_len, const json_t *document, const json_t *metadata,
    const json_t *uri, cdb_schema_result *pub, cdb_error *e)
{
	struct result *r = (struct result *)pub;
	struct rec c = {s, r, source, id, id_len, document,
	    json_is_object(metadata) ? metadata : NULL, uri};
	int rc;

	result_reset(r);
	if ((pub->target = cdb_schema_route(s, source, c.metadata)) == -1)
		return reject(&c, CDB_REJECT_ROUTE, -1,
		    cdb_schema_maps(s, source)
		        ? "no mapping of collection \"%s\" takes this record "
		          "(no \"where\" matches)"
		        : "the schema maps no collection \"%s\"",
		    source);
	pub->collection = s->targets[pub->target].name;
	if ((rc = fill_all(&c)) == 0 && (rc = build_metadata(&c)) == 0)
		rc = make_id(&c);
	if (rc == -1)
		return cdb_error_oom(e);
	return rc;
}

/* ----------------------------------------------------------- checks -- */

/* Per json_type (jansson's enum order): its schema type, and its name. */
static const int scalar_type[] = {0, 0, CDB_SCHEMA_STRING, CDB_SCHEMA_INT,
    CDB_SCHEMA_FLOAT, CDB_SCHEMA_BOOL, CDB_SCHEMA_BOOL, 0};
static const char *const kind_name[] = {"an object", "an array", "a string",
    "an int", "a float", "a bool", "a bool", "null"};

/* The first value of v that is not of f's type, or NULL. */
static const json_t *
wrong_type(const cdb_schema_field *f, const json_t *v)
{
	size_t i;
	json_t *x;

	if (!f->array)
		return scalar_type[json_typeof(v)] == f->type ? NULL : v;
	if (!json_is_array(v) || json_array_size(v) == 0)
		return v;
	json_array_foreach(v, i, x)
	{
		if (scalar_type[json_typeof(x)] != f->type)
			return x;
	}
	return NULL;
}

int
cdb_schema_check_value(const cdb_schema *s, const cdb_schema_field *pf,
    const json_t *v, cdb_error *e)
{
	const struct field *f = (const struct field *)pf;
	const json_t *bad;
	char shown[80], why[400];
	long long epoch;

	(void)s;
	if ((bad = wrong_type(pf, v)) != NULL) {
		cdb_coerce_show(bad, shown, sizeof(shown));
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "field \"%s\": %s is %s, not %s", pf->name, shown,
		    kind_name[json_typeof(bad)],
		    cdb_schema_type_name(pf->type, pf->array));
	}
	if (f->co.date == CDB_DATE_ISO &&
	    cdb_coerce_date_parse(json_string_value(v), &epoch) == -1) {
		cdb_coerce_show(v, shown, sizeof(shown));
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "field \"%s\": %s is not an ISO 8601 date", pf->name,
		    shown);
	}
	if (cdb_schema_i_check(f, v, why, sizeof(why)) != 0)
		return cdb_error_set(
		    e, CDB_ERR_INPUT, "field \"%s\": %s", pf->name, why);
	return 0;
}
