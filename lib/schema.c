/*
 * schema.c - loading and checking the schema file, and the checks of one
 * value against a field (enum, pattern, range); see schema.h.  Above
 * coerce.c, where.c, pattern.c and rules.c; below schema_apply.c, which
 * reads what this fills in through schema_impl.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coerce.h"
#include "digest.h"
#include "json.h"
#include "rules.h"
#include "schema_impl.h"
#include "where.h"

/* The largest schema file read: a schema is a page of JSON, not data. */
#define MAX_SCHEMA_BYTES (16 * 1024 * 1024)

struct load {
	cdb_schema *s;
	const char *name;
	cdb_error *e;
};

static int lerr(struct load *L, const char *path, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "NAME: PATH.KEY: message" (path or key may be NULL): first error wins. */
static int
lerr(struct load *L, const char *path, const char *key, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cdb_error_set(L->e, CDB_ERR_INPUT, "%s: %s%s%s%s%s", L->name,
	    path ? path : "", path && key ? "." : "", key ? key : "",
	    path || key ? ": " : "", msg);
}

/* Edit distance of two short words, for "did you mean" hints. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev, cur, d[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		d[j] = j;
	for (i = 1; i <= la; i++) {
		prev = d[0];
		d[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = d[j];
			d[j] = prev + (a[i - 1] != b[j - 1]);
			if (d[j - 1] + 1 < d[j])
				d[j] = d[j - 1] + 1;
			if (cur + 1 < d[j])
				d[j] = cur + 1;
			prev = cur;
		}
	}
	return d[lb];
}

/* The allowed word closest to k, if close enough to be a typo. */
static const char *
closest(const char *k, const char *const *allowed)
{
	const char *best = NULL;
	size_t i, d, bd = 3;

	for (i = 0; allowed[i] != NULL; i++)
		if ((d = distance(k, allowed[i])) < bd) {
			bd = d;
			best = allowed[i];
		}
	return best;
}

static int
check_keys(struct load *L, const json_t *o, const char *path,
    const char *const *allowed)
{
	const char *k, *hint;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)o, k, v)
	{
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (allowed[i] != NULL)
			continue;
		if ((hint = closest(k, allowed)) != NULL)
			return lerr(L, path, NULL,
			    "unknown key \"%s\" (did you mean \"%s\"?)", k,
			    hint);
		return lerr(L, path, NULL, "unknown key \"%s\"", k);
	}
	return 0;
}

/* "PATH.KEY", or "KEY" at the top. */
static void
join(char *out, size_t n, const char *path, const char *key)
{
	if (path == NULL || *path == '\0')
		cdb_where_pathf(out, n, "%s", key);
	else
		cdb_where_pathf(out, n, "%s.%s", path, key);
}

/* Keep a value alive as long as the schema; returns it (borrowed), or
 * NULL when out of memory. */
static json_t *
own(cdb_schema *s, json_t *v)
{
	if (json_array_append_new(s->owned, v) == -1)
		return NULL;
	return v;
}

static int
parse_type(const char *t, int *type, int *array)
{
	for (*array = 0; *array < 2; ++*array)
		for (*type = CDB_SCHEMA_STRING; *type <= CDB_SCHEMA_BOOL;
		     ++*type)
			if (strcmp(t, cdb_schema_type_name(*type, *array)) == 0)
				return 0;
	return -1;
}

const char *
cdb_schema_reason_name(int reason)
{
	static const char *const names[] = {"none", "no route", "missing field",
	    "cannot convert", "not in enum", "pattern mismatch", "out of range",
	    "template incomplete", "bad id", "id collision"};

	if (reason < 0 || reason >= CDB_REJECT_NREASONS)
		return "?";
	return names[reason];
}

/* ----------------------------------------------------------- fields -- */

static const char *const field_keys[] = {"description", "type", "required",
    "from", "default", "const", "template", "trim", "lowercase", "split", "map",
    "date", "enum", "pattern", "min", "max", "reference", NULL};

static int
want_bool(struct load *L, const json_t *o, const char *key, const char *path,
    int *out)
{
	json_t *v = json_object_get(o, key);

	*out = json_is_true(v);
	if (v != NULL && !json_is_boolean(v))
		return lerr(L, path, key, "expected true or false");
	return 0;
}

static int
want_string(struct load *L, const json_t *o, const char *key, const char *path,
    const char **out)
{
	json_t *v = json_object_get(o, key);

	*out = json_string_value(v);
	if (v != NULL && (*out == NULL || **out == '\0' ||
	                     strlen(*out) != json_string_length(v)))
		return lerr(L, path, key, "expected a non-empty string");
	return 0;
}

static int
source_kind(const char *name)
{
	static const char *const special[] = {
	    "$id", "$collection", "$document", "$uri", NULL};
	int i;

	if (name[0] != '$')
		return SRC_META;
	for (i = 0; special[i] != NULL; i++)
		if (strcmp(name, special[i]) == 0)
			return SRC_ID + i;
	return -1;
}

static int
add_source(struct load *L, void *arg, const json_t *v, const char *p)
{
	struct field *f = arg;
	const char *name = json_string_value(v);

	if (!json_is_string(v) || *name == '\0' ||
	    strlen(name) != json_string_length(v))
		return lerr(L, p, NULL, "expected a source field name");
	if (source_kind(name) == -1)
		return lerr(L, p, NULL,
		    "unknown special source \"%s\" ($id, $collection, "
		    "$document or $uri)",
		    name);
	f->from[f->nfrom].name = name;
	f->from[f->nfrom].kind = source_kind(name);
	f->nfrom++;
	return 0;
}

/*
 * Call fn on v at "PATH.KEY", or on each element of the array v at
 * "PATH.KEY[i]"; an empty array is refused with the message empty.
 */
static int
each(struct load *L, const json_t *v, const char *path, const char *key,
    const char *empty,
    int (*fn)(struct load *, void *, const json_t *, const char *), void *arg)
{
	char p[512], q[540];
	size_t i;
	json_t *x;

	join(p, sizeof(p), path, key);
	if (!json_is_array(v))
		return fn(L, arg, v, p);
	if (json_array_size(v) == 0)
		return lerr(L, p, NULL, "%s", empty);
	json_array_foreach(v, i, x)
	{
		cdb_where_pathf(q, sizeof(q), "%s[%zu]", p, i);
		if (fn(L, arg, x, q) == -1)
			return -1;
	}
	return 0;
}

/* "from": a name or an array of names; absent: the field's own name. */
static int
load_from(struct load *L, struct field *f, const json_t *spec, const char *path)
{
	json_t *v = json_object_get(spec, "from");
	size_t n = json_is_array(v) ? json_array_size(v) : 1;

	if ((f->from = calloc(n, sizeof(*f->from))) == NULL)
		return cdb_error_oom(L->e);
	if (v != NULL)
		return each(L, v, path, "from",
		    "expected at least one source field", add_source, f);
	f->from[0].name = f->pub.name;
	f->from[0].kind = SRC_META;
	f->nfrom = 1;
	return 0;
}

/* "\"x\" is not one of \"a\", \"b\"", listing a few allowed values. */
static void
enum_miss(const struct field *f, const json_t *v, char *why, size_t n)
{
	char shown[80];
	size_t i, used;
	json_t *x;

	cdb_coerce_show(v, shown, sizeof(shown));
	used = (size_t)snprintf(why, n, "%s is not one of ", shown);
	json_array_foreach(f->pub.enum_values, i, x)
	{
		if (used >= n)
			return;
		if (i == 8) {
			snprintf(why + used, n - used, ", ...");
			return;
		}
		cdb_coerce_show(x, shown, sizeof(shown));
		used += (size_t)snprintf(
		    why + used, n - used, "%s%s", i > 0 ? ", " : "", shown);
	}
}

/*
 * The key of an enum value: a hash of its type and text, so that a
 * lookup costs the same however long the enum.  0 for values of other
 * kinds (never in an enum of a scalar field).
 */
static uint64_t
enum_key(const json_t *v)
{
	char t[40];
	int n;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return cdb_hmap_key("s", json_string_value(v),
		    json_string_length(v));
	case JSON_INTEGER:
		n = snprintf(t, sizeof(t), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return cdb_hmap_key("i", t, (size_t)n);
	case JSON_REAL:
		/* -0.0 equals 0.0 (json_equal): one key for both. */
		n = snprintf(t, sizeof(t), "%.17g",
		    json_real_value(v) == 0 ? 0.0 : json_real_value(v));
		return cdb_hmap_key("r", t, (size_t)n);
	case JSON_TRUE:
	case JSON_FALSE:
		return cdb_hmap_key("b", json_is_true(v) ? "1" : "0", 1);
	default:
		return 0;
	}
}

/* True when v is one of f's enum values. */
static int
in_enum(const struct field *f, const json_t *v)
{
	uint64_t key = enum_key(v), i;
	size_t j;
	json_t *x;

	if (key != 0 && f->enum_set != NULL)
		return cdb_hmap_get(f->enum_set, key, &i) == 1 &&
		    json_equal(json_array_get(f->pub.enum_values, (size_t)i),
			(json_t *)v);
	json_array_foreach(f->pub.enum_values, j, x)
	{
		if (json_equal(x, (json_t *)v))
			return 1;
	}
	return 0;
}

/* Reasons a value of f is refused; 0 when it is fine. */
static int
check_one(const struct field *f, const json_t *v, char *why, size_t n)
{
	char shown[80];
	double d;

	if (f->pub.enum_values != NULL && !in_enum(f, v)) {
		enum_miss(f, v, why, n);
		return CDB_REJECT_ENUM;
	}
	if (f->re != NULL && json_is_string(v) &&
	    !cdb_pattern_match(f->re, json_string_value(v),
		json_string_length(v))) {
		cdb_coerce_show(v, shown, sizeof(shown));
		snprintf(why, n, "%s does not match the pattern \"%s\"", shown,
		    f->pub.pattern);
		return CDB_REJECT_PATTERN;
	}
	if (!json_is_number(v))
		return 0;
	d = json_number_value(v);
	if ((f->pub.has_min && d < f->pub.min) ||
	    (f->pub.has_max && d > f->pub.max)) {
		cdb_coerce_show(v, shown, sizeof(shown));
		snprintf(why, n, "%s is %s the %s %.17g", shown,
		    f->pub.has_min && d < f->pub.min ? "below" : "above",
		    f->pub.has_min && d < f->pub.min ? "minimum" : "maximum",
		    f->pub.has_min && d < f->pub.min ? f->pub.min : f->pub.max);
		return CDB_REJECT_RANGE;
	}
	return 0;
}

int
cdb_schema_i_check(const struct field *f, const json_t *v, char *why, size_t n)
{
	size_t i;
	json_t *x;
	int rc;

	if (!json_is_array(v))
		return check_one(f, v, why, n);
	json_array_foreach(v, i, x)
	{
		if ((rc = check_one(f, x, why, n)) != 0)
			return rc;
	}
	return 0;
}

/* Convert a value written in the file (default, const, enum) to f. */
static json_t *
file_value(struct load *L, struct field *f, const json_t *v, int array,
    int checked, const char *path, const char *key)
{
	cdb_coerce_opts o = f->co;
	char why[512];
	json_t *out = NULL;
	int rc;

	/* Values in the file are in the target's form already. */
	o.array = array;
	o.trim = o.lowercase = 0;
	o.map = o.missing = NULL;
	/* The first error wins: after cdb_error_oom, lerr sets nothing. */
	if ((rc = cdb_coerce(v, &o, &out, why, sizeof(why))) == CDB_COERCE_OOM)
		cdb_error_oom(L->e);
	if (rc != 1) {
		lerr(L, path, key, "%s", rc == 0 ? "the value is empty" : why);
		return NULL;
	}
	if (checked && cdb_schema_i_check(f, out, why, sizeof(why)) != 0) {
		json_decref(out);
		lerr(L, path, key, "%s", why);
		return NULL;
	}
	if (own(L->s, out) == NULL) {
		cdb_error_oom(L->e);
		return NULL;
	}
	return out;
}

static int
load_enum(struct load *L, struct field *f, const json_t *spec, const char *path)
{
	json_t *v = json_object_get(spec, "enum"), *x, *a, *c;
	char p[512], q[540];
	uint64_t key;
	size_t i;

	if (v == NULL)
		return 0;
	join(p, sizeof(p), path, "enum");
	if (!json_is_array(v) || json_array_size(v) == 0)
		return lerr(L, p, NULL, "expected a non-empty array of values");
	/* The values also in a hash map, for lookups in constant time. */
	if ((a = own(L->s, json_array())) == NULL ||
	    (f->enum_set = cdb_hmap_new()) == NULL)
		return cdb_error_oom(L->e);
	json_array_foreach(v, i, x)
	{
		cdb_where_pathf(q, sizeof(q), "%s[%zu]", p, i);
		if ((c = file_value(L, f, x, 0, 0, q, NULL)) == NULL)
			return -1;
		/* An equal value already there keeps the first index. */
		if (json_array_append(a, c) == -1 ||
		    ((key = enum_key(c)) != 0 &&
		        cdb_hmap_put(f->enum_set, key, i, NULL) == -1))
			return cdb_error_oom(L->e);
	}
	f->pub.enum_values = a;
	return 0;
}

static int
load_pattern(struct load *L, struct field *f, const char *path)
{
	char why[256];

	if (f->pub.pattern == NULL)
		return 0;
	if (f->pub.type != CDB_SCHEMA_STRING)
		return lerr(
		    L, path, "pattern", "only string fields have a pattern");
	if ((f->re = cdb_pattern_new(f->pub.pattern, why, sizeof(why))) == NULL)
		return why[0] == '\0' ? cdb_error_oom(L->e)
		                      : lerr(L, path, "pattern", "%s", why);
	return 0;
}

static int
load_bound(struct load *L, struct field *f, const json_t *spec, const char *key,
    const char *path, int *has, double *val)
{
	json_t *v = json_object_get(spec, key);

	if ((*has = v != NULL) == 0)
		return 0;
	if (!json_is_number(v))
		return lerr(L, path, key, "expected a number");
	if (f->pub.type != CDB_SCHEMA_INT && f->pub.type != CDB_SCHEMA_FLOAT)
		return lerr(
		    L, path, key, "only int and float fields have a range");
	*val = json_number_value(v);
	return 0;
}

static int
load_date(struct load *L, struct field *f, const char *path)
{
	int want;

	if (f->pub.date == NULL)
		return 0;
	if (strcmp(f->pub.date, "epoch") == 0) {
		f->co.date = CDB_DATE_EPOCH;
		want = CDB_SCHEMA_INT;
	} else if (strcmp(f->pub.date, "iso8601") == 0) {
		f->co.date = CDB_DATE_ISO;
		want = CDB_SCHEMA_STRING;
	} else
		return lerr(
		    L, path, "date", "expected \"epoch\" or \"iso8601\"");
	if (f->pub.type != want || f->pub.array)
		return lerr(L, path, "date",
		    "\"%s\" dates need a field of type %s", f->pub.date,
		    cdb_schema_type_name(want, 0));
	return 0;
}

static int
load_map(struct load *L, struct field *f, const json_t *spec, const char *path)
{
	json_t *m = json_object_get(spec, "map"), *v;
	char p[512];
	const char *k;
	size_t i;

	if (m == NULL)
		return 0;
	join(p, sizeof(p), path, "map");
	if (!json_is_object(m))
		return lerr(L, p, NULL, "expected an object of replacements");
	json_object_foreach(m, k, v)
	{
		for (i = 0; f->co.lowercase && k[i] != '\0'; i++)
			if (k[i] >= 'A' && k[i] <= 'Z')
				return lerr(L, p, k,
				    "never matches: the field is lowercased "
				    "first");
		if (f->co.trim && *k != '\0' &&
		    (strchr(" \t\n\r\f\v", k[0]) != NULL ||
		        strchr(" \t\n\r\f\v", k[strlen(k) - 1]) != NULL))
			return lerr(L, p, k,
			    "never matches: the field is trimmed first");
		if (file_value(L, f, v, 0, 0, p, k) == NULL)
			return -1;
	}
	f->co.map = m;
	return 0;
}

/* The keys that exclude each other, and those only some types take. */
static int
check_combination(
    struct load *L, struct field *f, const json_t *spec, const char *path)
{
	if (json_object_get(spec, "const") != NULL &&
	    (json_object_get(spec, "from") != NULL ||
	        json_object_get(spec, "template") != NULL ||
	        json_object_get(spec, "default") != NULL))
		return lerr(L, path, NULL,
		    "\"const\" excludes \"from\", \"template\" and "
		    "\"default\"");
	if (json_object_get(spec, "template") != NULL &&
	    json_object_get(spec, "from") != NULL)
		return lerr(L, path, NULL, "\"template\" excludes \"from\"");
	if (f->co.split != NULL && !f->pub.array)
		return lerr(L, path, "split", "only array fields are split");
	if (f->pub.reference != NULL && f->pub.type != CDB_SCHEMA_STRING)
		return lerr(L, path, "reference",
		    "a reference field holds ids: its type must be string or "
		    "string[]");
	if (f->pub.has_min && f->pub.has_max && f->pub.min > f->pub.max)
		return lerr(L, path, "min", "greater than max");
	return 0;
}

static int
load_type(struct load *L, struct field *f, const json_t *spec, const char *path)
{
	json_t *t = json_object_get(spec, "type");

	if (t == NULL)
		return lerr(L, path, NULL, "no \"type\"");
	if (!json_is_string(t))
		return lerr(L, path, "type", "expected a type name");
	if (parse_type(json_string_value(t), &f->pub.type, &f->pub.array) == -1)
		return lerr(L, path, "type", "unknown type \"%s\"",
		    json_string_value(t));
	f->co.type = f->pub.type;
	f->co.array = f->pub.array;
	return 0;
}

/* Everything but default, const and the template's references. */
static int
load_field_rules(
    struct load *L, struct field *f, const json_t *spec, const char *path)
{
	const char *desc;

	if (!json_is_object(spec))
		return lerr(L, path, NULL, "expected an object");
	if (check_keys(L, spec, path, field_keys) == -1 ||
	    want_string(L, spec, "description", path, &desc) == -1 ||
	    load_type(L, f, spec, path) == -1 ||
	    want_bool(L, spec, "required", path, &f->pub.required) == -1 ||
	    want_bool(L, spec, "trim", path, &f->co.trim) == -1 ||
	    want_bool(L, spec, "lowercase", path, &f->co.lowercase) == -1 ||
	    want_string(L, spec, "split", path, &f->co.split) == -1 ||
	    want_string(L, spec, "date", path, &f->pub.date) == -1 ||
	    want_string(L, spec, "pattern", path, &f->pub.pattern) == -1 ||
	    want_string(L, spec, "reference", path, &f->pub.reference) == -1 ||
	    want_string(L, spec, "template", path, &f->pub.template) == -1 ||
	    load_bound(L, f, spec, "min", path, &f->pub.has_min, &f->pub.min) ==
	        -1 ||
	    load_bound(L, f, spec, "max", path, &f->pub.has_max, &f->pub.max) ==
	        -1)
		return -1;
	if (check_combination(L, f, spec, path) == -1 ||
	    load_date(L, f, path) == -1 || load_pattern(L, f, path) == -1 ||
	    load_map(L, f, spec, path) == -1 ||
	    load_enum(L, f, spec, path) == -1)
		return -1;
	if (f->pub.template == NULL && json_object_get(spec, "const") == NULL)
		return load_from(L, f, spec, path);
	return 0;
}

static int
load_field(
    struct load *L, struct field *f, const char *name, const json_t *spec)
{
	json_t *d = json_object_get(spec, "default");
	json_t *c = json_object_get(spec, "const");
	char path[512];

	cdb_where_pathf(path, sizeof(path), "fields.%s", name);
	f->pub.name = name;
	if (*name == '\0' || *name == '#')
		return lerr(L, path, NULL,
		    "Chroma does not allow metadata keys that are empty or "
		    "start with '#'");
	if (load_field_rules(L, f, spec, path) == -1)
		return -1;
	f->co.missing = L->s->missing;
	if (d != NULL && (f->pub.dflt = file_value(L, f, d, f->pub.array, 1,
	                      path, "default")) == NULL)
		return -1;
	if (c != NULL && (f->pub.constant = file_value(
	                      L, f, c, f->pub.array, 1, path, "const")) == NULL)
		return -1;
	return 0;
}

static int
load_fields(struct load *L, const json_t *fields)
{
	cdb_schema *s = L->s;
	const char *k;
	json_t *v;
	size_t i = 0, j;

	if (fields == NULL)
		return lerr(L, NULL, NULL, "no \"fields\"");
	if (!json_is_object(fields))
		return lerr(L, "fields", NULL, "expected an object of fields");
	s->nfields = json_object_size(fields);
	if ((s->fields = calloc(s->nfields + 1, sizeof(*s->fields))) == NULL)
		return cdb_error_oom(L->e);
	json_object_foreach((json_t *)fields, k, v)
	{
		if (load_field(L, &s->fields[i], k, v) == -1)
			return -1;
		if (json_object_set_new(
		        s->fieldidx, k, json_integer((json_int_t)i)) == -1)
			return cdb_error_oom(L->e);
		for (j = 0; j < s->fields[i].nfrom; j++)
			if (s->fields[i].from[j].kind == SRC_META &&
			    json_object_set_new(s->consumed,
			        s->fields[i].from[j].name, json_true()) == -1)
				return cdb_error_oom(L->e);
		i++;
	}
	return 0;
}

/* -------------------------------------------------------- templates -- */

static int
add_part(struct tpl *t, const char *lit, size_t len, int ref)
{
	struct part *np = realloc(t->p, (t->n + 1) * sizeof(*np));

	if (np == NULL)
		return -1;
	t->p = np;
	t->p[t->n].lit = lit;
	t->p[t->n].len = len;
	t->p[t->n].ref = ref;
	t->n++;
	return 0;
}

/* What {name} refers to; self is the field being built, or -1 (id). */
static int
resolve(struct load *L, const char *name, int self, const char *p)
{
	static const char *const builtin[] = {
	    "id", "collection", "source_collection", NULL};
	json_t *ix = json_object_get(L->s->fieldidx, name);
	int i;

	for (i = 0; builtin[i] != NULL; i++)
		if (strcmp(name, builtin[i]) == 0) {
			if (ix != NULL)
				return lerr(L, p, NULL,
				    "{%s} is ambiguous: a field has the "
				    "built-in's name",
				    name);
			return REF_ID - i;
		}
	if (ix == NULL)
		return lerr(L, p, NULL, "unknown field \"%s\"", name);
	i = (int)json_integer_value(ix);
	if (self >= 0 && L->s->fields[i].pub.template != NULL && i >= self)
		return lerr(L, p, NULL,
		    "field \"%s\" is %s template: a template may only use "
		    "templates defined before it",
		    name, i == self ? "this" : "a later");
	return i;
}

static int
parse_template(
    struct load *L, struct tpl *t, const char *text, int self, const char *p)
{
	const char *s = text, *lit = text, *end;
	char name[256];
	int ref;

	while (*s != '\0') {
		if ((*s == '{' && s[1] == '{') || (*s == '}' && s[1] == '}')) {
			/* Doubled braces are literal braces. */
			if (add_part(t, lit, (size_t)(s - lit) + 1, REF_LIT))
				return cdb_error_oom(L->e);
			lit = s += 2;
		} else if (*s == '}')
			return lerr(L, p, NULL,
			    "unmatched '}' (write \"}}\" for a literal brace)");
		else if (*s == '{') {
			if ((end = strchr(s, '}')) == NULL ||
			    (size_t)(end - s - 1) >= sizeof(name) ||
			    end == s + 1)
				return lerr(L, p, NULL,
				    "'{' without a field name and '}' (write "
				    "\"{{\" for a literal brace)");
			memcpy(name, s + 1, (size_t)(end - s - 1));
			name[end - s - 1] = '\0';
			if ((ref = resolve(L, name, self, p)) == -1)
				return -1;
			if (add_part(t, lit, (size_t)(s - lit), REF_LIT) ||
			    add_part(t, NULL, 0, ref))
				return cdb_error_oom(L->e);
			lit = s = end + 1;
		} else
			s++;
	}
	if (add_part(t, lit, (size_t)(s - lit), REF_LIT) == -1)
		return cdb_error_oom(L->e);
	return 0;
}

static int
load_templates(struct load *L)
{
	cdb_schema *s = L->s;
	char p[512];
	size_t i;

	for (i = 0; i < s->nfields; i++) {
		if (s->fields[i].pub.template == NULL)
			continue;
		cdb_where_pathf(
		    p, sizeof(p), "fields.%s.template", s->fields[i].pub.name);
		if (parse_template(L, &s->fields[i].tpl,
		        s->fields[i].pub.template, (int)i, p) == -1)
			return -1;
	}
	if (s->id_template != NULL)
		return parse_template(L, &s->idtpl, s->id_template, -1, "id");
	return 0;
}

static int
add_route(struct load *L, const char *source, const json_t *where, int target,
    const char *p)
{
	cdb_schema *s = L->s;
	struct route *nr;
	size_t i;

	for (i = 0; i < s->nroutes; i++)
		if (strcmp(s->routes[i].source, source) == 0 &&
		    s->routes[i].where == NULL)
			return lerr(L, p, NULL,
			    "never used: collection \"%s\" already takes "
			    "every record of \"%s\"",
			    s->targets[s->routes[i].target].name, source);
	if ((nr = realloc(s->routes, (s->nroutes + 1) * sizeof(*nr))) == NULL)
		return cdb_error_oom(L->e);
	s->routes = nr;
	nr[s->nroutes].source = source;
	nr[s->nroutes].where = where;
	nr[s->nroutes].target = target;
	s->nroutes++;
	return 0;
}

static int
load_source(struct load *L, void *target, const json_t *v, const char *p)
{
	static const char *const keys[] = {"collection", "where", NULL};
	const char *name;
	json_t *where;
	cdb_error we;
	char q[540];

	if (json_is_string(v) && json_string_length(v) > 0)
		return add_route(
		    L, json_string_value(v), NULL, *(int *)target, p);
	if (!json_is_object(v))
		return lerr(L, p, NULL,
		    "expected a collection name or an object with "
		    "\"collection\" and \"where\"");
	if (check_keys(L, v, p, keys) == -1 ||
	    want_string(L, v, "collection", p, &name) == -1)
		return -1;
	if (name == NULL)
		return lerr(L, p, NULL, "no \"collection\"");
	where = json_object_get(v, "where");
	join(q, sizeof(q), p, "where");
	cdb_error_clear(&we);
	if (where != NULL && cdb_where_check(where, q, &we) == -1)
		return lerr(L, NULL, NULL, "%s", we.text);
	return add_route(L, name, where, *(int *)target, p);
}

static int
load_target(struct load *L, struct target *t, const char *name,
    const json_t *spec, int index)
{
	static const char *const keys[] = {
	    "description", "from", "metadata", "configuration", NULL};
	json_t *from = json_object_get(spec, "from");
	char path[600];
	const char *desc;

	cdb_where_pathf(path, sizeof(path), "collections.%s", name);
	t->name = name;
	if (cdb_rules_collection_name(name, NULL) == -1)
		return lerr(L, path, NULL,
		    "not a valid Chroma collection name (3-512 characters "
		    "among a-z A-Z 0-9 . _ -, a letter or digit at both ends, "
		    "no \"..\")");
	if (!json_is_object(spec))
		return lerr(L, path, NULL, "expected an object");
	if (check_keys(L, spec, path, keys) == -1 ||
	    want_string(L, spec, "description", path, &desc) == -1)
		return -1;
	t->metadata = json_object_get(spec, "metadata");
	t->configuration = json_object_get(spec, "configuration");
	if (t->metadata != NULL && !json_is_object(t->metadata) &&
	    !json_is_null(t->metadata))
		return lerr(L, path, "metadata",
		    "expected an object (a merge patch) or null");
	if (t->configuration != NULL && !json_is_object(t->configuration) &&
	    !json_is_null(t->configuration))
		return lerr(L, path, "configuration",
		    "expected an object (a merge patch) or null");
	if (from == NULL)
		return lerr(
		    L, path, NULL, "no \"from\": name the source collections");
	return each(L, from, path, "from",
	    "expected at least one source collection", load_source, &index);
}

static int
load_collections(struct load *L, const json_t *c)
{
	cdb_schema *s = L->s;
	const char *k;
	json_t *v;

	if (c == NULL)
		return lerr(L, NULL, NULL, "no \"collections\"");
	if (!json_is_object(c) || json_object_size(c) == 0)
		return lerr(L, "collections", NULL,
		    "expected an object of target collections");
	if ((s->targets = calloc(json_object_size(c), sizeof(*s->targets))) ==
	    NULL)
		return cdb_error_oom(L->e);
	json_object_foreach((json_t *)c, k, v)
	{
		if (load_target(L, &s->targets[s->ntargets], k, v,
		        (int)s->ntargets) == -1)
			return -1;
		s->ntargets++;
	}
	return 0;
}

static int
check_references(struct load *L)
{
	cdb_schema *s = L->s;
	char p[512];
	size_t i;

	for (i = 0; i < s->nfields; i++) {
		const char *r = s->fields[i].pub.reference;
		if (r == NULL || cdb_schema_target_index(s, r) != -1)
			continue;
		cdb_where_pathf(
		    p, sizeof(p), "fields.%s", s->fields[i].pub.name);
		return lerr(L, p, "reference",
		    "no target collection \"%s\" in \"collections\"", r);
	}
	return 0;
}

static int
load_top(struct load *L, const json_t *root)
{
	static const char *const keys[] = {"version", "description",
	    "collections", "fields", "unknown_fields", "id", "missing_values",
	    NULL};
	cdb_schema *s = L->s;
	json_t *v, *x;
	const char *u, *desc;
	size_t i;

	if (!json_is_object(root))
		return lerr(L, NULL, NULL, "expected a JSON object");
	if (check_keys(L, root, NULL, keys) == -1 ||
	    want_string(L, root, "description", NULL, &desc) == -1 ||
	    want_string(L, root, "unknown_fields", NULL, &u) == -1 ||
	    want_string(L, root, "id", NULL, &s->id_template) == -1)
		return -1;
	v = json_object_get(root, "version");
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) != 1))
		return lerr(
		    L, "version", NULL, "this cdb reads schema version 1");
	if (u != NULL && strcmp(u, "keep") != 0 && strcmp(u, "drop") != 0)
		return lerr(
		    L, "unknown_fields", NULL, "expected \"drop\" or \"keep\"");
	s->keep = u != NULL && strcmp(u, "keep") == 0;
	v = json_object_get(root, "missing_values");
	json_array_foreach(v, i, x)
	{
		if (!json_is_string(x))
			break;
	}
	if (v != NULL && (!json_is_array(v) || i < json_array_size(v)))
		return lerr(
		    L, "missing_values", NULL, "expected an array of strings");
	s->missing = v;
	return 0;
}

cdb_schema *
cdb_schema_parse(const char *text, size_t len, const char *name, cdb_error *e)
{
	struct load L = {NULL, name, e};
	json_error_t je;
	cdb_schema *s;
	cdb_digest d;

	if ((L.s = s = calloc(1, sizeof(*s))) == NULL) {
		cdb_error_oom(e);
		return NULL;
	}
	s->owned = json_array();
	s->fieldidx = json_object();
	s->consumed = json_object();
	if (s->owned == NULL || s->fieldidx == NULL || s->consumed == NULL) {
		cdb_error_oom(e);
		cdb_schema_free(s);
		return NULL;
	}
	cdb_digest_init(&d);
	cdb_digest_update(&d, text, len);
	cdb_digest_format(&d, s->digest);
	s->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (s->root == NULL)
		cdb_error_set(e, CDB_ERR_INPUT, "%s:%d:%d: invalid JSON: %s",
		    name, je.line, je.column, je.text);
	if (s->root == NULL || load_top(&L, s->root) == -1 ||
	    load_fields(&L, json_object_get(s->root, "fields")) == -1 ||
	    load_templates(&L) == -1 ||
	    load_collections(&L, json_object_get(s->root, "collections")) ==
	        -1 ||
	    check_references(&L) == -1) {
		cdb_schema_free(s);
		return NULL;
	}
	return s;
}

cdb_schema *
cdb_schema_load(const char *path, cdb_error *e)
{
	cdb_schema *s = NULL;
	cdb_buf b;
	char chunk[8192];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		cdb_error_sys(e, errno, "%s", path);
		return NULL;
	}
	cdb_buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 &&
	    b.len + n <= MAX_SCHEMA_BYTES && cdb_buf_append(&b, chunk, n) == 0)
		;
	if (ferror(f))
		cdb_error_sys(e, errno, "%s", path);
	else if (b.len + n > MAX_SCHEMA_BYTES)
		cdb_error_set(e, CDB_ERR_SYS, "%s: too large for a schema file",
		    path);
	else if (n > 0)
		cdb_error_oom(e);
	else
		s = cdb_schema_parse(b.data ? b.data : "", b.len, path, e);
	fclose(f);
	cdb_buf_free(&b);
	return s;
}

void
cdb_schema_free(cdb_schema *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nfields; i++) {
		free(s->fields[i].from);
		free(s->fields[i].tpl.p);
		cdb_pattern_free(s->fields[i].re);
		cdb_hmap_free(s->fields[i].enum_set);
	}
	free(s->fields);
	free(s->targets);
	free(s->routes);
	free(s->idtpl.p);
	json_decref(s->owned);
	json_decref(s->fieldidx);
	json_decref(s->consumed);
	json_decref(s->root);
	free(s);
}

/* -------------------------------------------------------- accessors -- */

const char *
cdb_schema_digest(const cdb_schema *s)
{
	return s->digest;
}

size_t
cdb_schema_nfields(const cdb_schema *s)
{
	return s->nfields;
}

const cdb_schema_field *
cdb_schema_field_at(const cdb_schema *s, size_t i)
{
	return i < s->nfields ? &s->fields[i].pub : NULL;
}

const cdb_schema_field *
cdb_schema_field_get(const cdb_schema *s, const char *name)
{
	json_t *ix = json_object_get(s->fieldidx, name);

	return ix ? &s->fields[json_integer_value(ix)].pub : NULL;
}

int
cdb_schema_keeps_unknown(const cdb_schema *s)
{
	return s->keep;
}

const char *
cdb_schema_id_template(const cdb_schema *s)
{
	return s->id_template;
}

size_t
cdb_schema_ntargets(const cdb_schema *s)
{
	return s->ntargets;
}

const char *
cdb_schema_target_name(const cdb_schema *s, size_t i)
{
	return i < s->ntargets ? s->targets[i].name : NULL;
}

int
cdb_schema_target_index(const cdb_schema *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->ntargets; i++)
		if (strcmp(s->targets[i].name, name) == 0)
			return (int)i;
	return -1;
}
