/* where.c - metadata conditions (bottom layer of the schema); see where.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "where.h"

/* In the order of ops[]. */
enum {
	OP_EQ,
	OP_NE,
	OP_GT,
	OP_GTE,
	OP_LT,
	OP_LTE,
	OP_IN,
	OP_NIN,
	OP_CONTAINS,
	OP_EXISTS
};

static const char *const ops[] = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte",
    "$in", "$nin", "$contains", "$exists", NULL};

static int
op_index(const char *k)
{
	int i;

	for (i = 0; ops[i] != NULL; i++)
		if (strcmp(ops[i], k) == 0)
			return i;
	return -1;
}

void
cdb_where_pathf(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, n, fmt, ap);
	va_end(ap);
}

static int
is_scalar(const json_t *v)
{
	return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

static int
bad(cdb_error *e, const char *path, const char *what, const char *key)
{
	return cdb_error_set(e, CDB_ERR_INPUT, "%s: %s%s%s%s", path, what,
	    key ? " \"" : "", key ? key : "", key ? "\"" : "");
}

/* What is wrong with the value v of operator op, or NULL. */
static const char *
op_fault(const char *op, const json_t *v)
{
	size_t i;
	json_t *x;

	if (strcmp(op, "$exists") == 0)
		return json_is_boolean(v) ? NULL : "expected true or false";
	if (strcmp(op, "$in") == 0 || strcmp(op, "$nin") == 0) {
		if (!json_is_array(v) || json_array_size(v) == 0)
			return "expected a non-empty array";
		json_array_foreach(v, i, x)
		{
			if (!is_scalar(x))
				return "expected strings, numbers or booleans";
		}
		return NULL;
	}
	if (op[1] == 'g' || op[1] == 'l')
		return json_is_number(v) || json_is_string(v)
		           ? NULL
		           : "expected a number or a string";
	return is_scalar(v) ? NULL : "expected a string, a number or a boolean";
}

static int
check_ops(const json_t *o, const char *path, cdb_error *e)
{
	char p[512];
	const char *k, *why;
	json_t *v;

	if (json_object_size(o) == 0)
		return bad(e, path, "empty condition", NULL);
	json_object_foreach((json_t *)o, k, v)
	{
		cdb_where_pathf(p, sizeof(p), "%s.%s", path, k);
		if (op_index(k) == -1)
			return bad(e, path, "unknown operator", k);
		if ((why = op_fault(k, v)) != NULL)
			return bad(e, p, why, NULL);
	}
	return 0;
}

static int
check_list(const json_t *a, const char *path, cdb_error *e)
{
	char p[512];
	size_t i;
	json_t *c;

	if (!json_is_array(a) || json_array_size(a) == 0)
		return bad(
		    e, path, "expected a non-empty array of conditions", NULL);
	json_array_foreach(a, i, c)
	{
		cdb_where_pathf(p, sizeof(p), "%s[%zu]", path, i);
		if (cdb_where_check(c, p, e) == -1)
			return -1;
	}
	return 0;
}

int
cdb_where_check(const json_t *cond, const char *path, cdb_error *e)
{
	char p[512];
	const char *k;
	json_t *v;

	if (!json_is_object(cond) || json_object_size(cond) == 0)
		return bad(e, path, "expected a non-empty object", NULL);
	json_object_foreach((json_t *)cond, k, v)
	{
		cdb_where_pathf(p, sizeof(p), "%s.%s", path, k);
		if (strcmp(k, "$and") == 0 || strcmp(k, "$or") == 0) {
			if (check_list(v, p, e) == -1)
				return -1;
		} else if (k[0] == '$')
			return bad(e, path, "unknown operator", k);
		else if (json_is_object(v)) {
			if (check_ops(v, p, e) == -1)
				return -1;
		} else if (!is_scalar(v))
			return bad(e, p,
			    "expected a value or an object of operators", NULL);
	}
	return 0;
}

/* Equality, with ints and reals compared by value. */
static int
same(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	return json_equal((json_t *)a, (json_t *)b);
}

/* <0, 0, >0 like strcmp; 2 when a and b cannot be ordered. */
static int
order(const json_t *a, const json_t *b)
{
	double x, y;
	int c;

	if (json_is_number(a) && json_is_number(b)) {
		x = json_number_value(a);
		y = json_number_value(b);
		return x < y ? -1 : x > y;
	}
	if (json_is_string(a) && json_is_string(b)) {
		size_t la = json_string_length(a), lb = json_string_length(b);
		c = memcmp(json_string_value(a), json_string_value(b),
		    la < lb ? la : lb);
		return c != 0 ? (c < 0 ? -1 : 1) : (la < lb ? -1 : la > lb);
	}
	return 2;
}

static int
in_list(const json_t *v, const json_t *list)
{
	size_t i;
	json_t *x;

	json_array_foreach(list, i, x)
	{
		if (same(v, x))
			return 1;
	}
	return 0;
}

static int
has_substring(const char *s, size_t n, const char *w, size_t wn)
{
	size_t i;

	for (i = 0; i + wn <= n; i++)
		if (memcmp(s + i, w, wn) == 0)
			return 1;
	return 0;
}

static int
contains(const json_t *v, const json_t *want)
{
	if (json_is_array(v))
		return in_list(want, v);
	if (json_is_string(v) && json_is_string(want))
		return has_substring(json_string_value(v),
		    json_string_length(v), json_string_value(want),
		    json_string_length(want));
	return 0;
}

static int
op_match(int op, const json_t *v, const json_t *arg)
{
	int c;

	if (op == OP_EXISTS)
		return (v != NULL) == json_is_true(arg);
	if (v == NULL)
		return 0;
	switch (op) {
	case OP_EQ:
	case OP_NE:
		return same(v, arg) == (op == OP_EQ);
	case OP_IN:
	case OP_NIN:
		return in_list(v, arg) == (op == OP_IN);
	case OP_CONTAINS:
		return contains(v, arg);
	}
	/* 2: values that cannot be ordered match no comparison. */
	c = order(v, arg);
	return c != 2 && (op == OP_GT       ? c > 0
	                     : op == OP_GTE ? c >= 0
	                     : op == OP_LT  ? c < 0
	                                    : c <= 0);
}

static int
ops_match(const json_t *o, const json_t *v)
{
	const char *k;
	json_t *arg;

	json_object_foreach((json_t *)o, k, arg)
	{
		if (!op_match(op_index(k), v, arg))
			return 0;
	}
	return 1;
}

int
cdb_where_match(const json_t *cond, const json_t *metadata)
{
	const char *k;
	json_t *v, *c;
	size_t i;
	int all;

	json_object_foreach((json_t *)cond, k, v)
	{
		if (strcmp(k, "$and") == 0 || strcmp(k, "$or") == 0) {
			/* $and fails at its first miss, $or holds at its
			 * first match. */
			all = k[1] == 'a';
			json_array_foreach(v, i, c)
			{
				if (cdb_where_match(c, metadata) != all)
					break;
			}
			if ((i < json_array_size(v)) == all)
				return 0;
		} else if (json_is_object(v)) {
			if (!ops_match(v, json_object_get(metadata, k)))
				return 0;
		} else if (!op_match(OP_EQ, json_object_get(metadata, k), v))
			return 0;
	}
	return 1;
}
