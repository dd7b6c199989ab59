/* pickle.c - strict reader of plain-data pickles; see pickle.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pickle.h"

/* Nesting deeper than this is not a Chroma id map. */
#define MAX_DEPTH 16

typedef struct reader {
	FILE *fp;
	const char *name;
	long long off; /* offset of the next byte */
	long long op;  /* offset of the opcode being run */
	cdb_pickle_val *stack;
	size_t n, cap;
	size_t marks[MAX_DEPTH];
	size_t nmarks;
	const char *const *keep;
	cdb_error *e;
} reader;

static void
val_clear(cdb_pickle_val *v)
{
	size_t i, n = v->type == CDB_PICKLE_DICT ? 2 * v->len : v->len;

	if (v->type == CDB_PICKLE_LIST || v->type == CDB_PICKLE_DICT)
		for (i = 0; i < n; i++)
			val_clear(&v->v[i]);
	free(v->v);
	free(v->s);
	memset(v, 0, sizeof(*v));
}

void
cdb_pickle_free(cdb_pickle_val *v)
{
	if (v == NULL)
		return;
	val_clear(v);
	free(v);
}

static int
fail(reader *r, const char *what)
{
	return cdb_error_set(
	    r->e, CDB_ERR_INPUT, "%s: offset %lld: %s", r->name, r->op, what);
}

static int
get(reader *r, void *p, size_t n)
{
	if (n > 0 && fread(p, 1, n, r->fp) != n) {
		r->op = r->off;
		return fail(r, ferror(r->fp)
		                   ? "read error"
		                   : "truncated: the pickle ends early");
	}
	r->off += (long long)n;
	return 0;
}

/* The n-byte little-endian unsigned number next in the pickle. */
static int
get_le(reader *r, size_t n, uint64_t *x)
{
	unsigned char b[8];

	if (get(r, b, n) == -1)
		return -1;
	*x = cdb_le(b, n);
	return 0;
}

/* Push v; on failure its strings are freed. */
static int
push(reader *r, cdb_pickle_val *v)
{
	cdb_pickle_val *s;

	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		if ((s = realloc(r->stack, r->cap * sizeof(*s))) == NULL) {
			free(v->s);
			return cdb_error_oom(r->e);
		}
		r->stack = s;
	}
	r->stack[r->n++] = *v;
	return 0;
}

static int
push_scalar(reader *r, int type, long long i, double f)
{
	cdb_pickle_val v = {.type = type, .i = i, .f = f};

	return push(r, &v);
}

static int
push_str(reader *r, size_t lenbytes)
{
	cdb_pickle_val v = {.type = CDB_PICKLE_STR};
	uint64_t n;

	if (get_le(r, lenbytes, &n) == -1)
		return -1;
	/* A length past what a file can hold is a lie, not an allocation. */
	if (n > (uint64_t)1 << 30)
		return fail(r, "string length out of range");
	if ((v.s = malloc((size_t)n + 1)) == NULL)
		return cdb_error_oom(r->e);
	if (get(r, v.s, (size_t)n) == -1) {
		free(v.s);
		return -1;
	}
	v.s[n] = '\0';
	v.len = (size_t)n;
	if (strlen(v.s) != v.len) {
		free(v.s);
		return fail(r, "string holds a NUL byte");
	}
	return push(r, &v);
}

/* An n-byte integer; sign-extended when signed (LONG1 and BININT). */
static int
push_int(reader *r, size_t n, int is_signed)
{
	uint64_t x = 0;

	if (n > 8)
		return fail(r, "integer wider than 64 bits");
	if (get_le(r, n, &x) == -1)
		return -1;
	if (is_signed && n > 0 && n < 8 && (x >> (8 * n - 1)) & 1)
		x |= ~(uint64_t)0 << (8 * n);
	return push_scalar(r, CDB_PICKLE_INT, (long long)x, 0);
}

static int
push_float(reader *r)
{
	unsigned char b[8];
	uint64_t x = 0;
	double d;
	int k;

	if (get(r, b, 8) == -1)
		return -1;
	for (k = 0; k < 8; k++) /* big-endian IEEE 754 */
		x = x << 8 | b[k];
	memcpy(&d, &x, sizeof(d));
	return push_scalar(r, CDB_PICKLE_FLOAT, 0, d);
}

static int
keep_key(const reader *r, const cdb_pickle_val *k)
{
	const char *const *p;

	if (r->keep == NULL)
		return 1;
	for (p = r->keep; k->type == CDB_PICKLE_STR && *p != NULL; p++)
		if (strcmp(*p, k->s) == 0)
			return 1;
	return 0;
}

/*
 * Move the items above from onto container c; in the top dict, only the
 * keys kept.  Checked before anything moves, so a failure leaves
 * ownership clear; bounded depth keeps val_clear's recursion shallow.
 */
static int
append_items(reader *r, cdb_pickle_val *c, size_t from, size_t width)
{
	size_t i, add = (r->n - from) / width;
	int d = c->depth, filter = width == 2 && c == &r->stack[0];
	cdb_pickle_val *v;

	for (i = from; i < r->n; i += width) {
		if (width == 2 && r->stack[i].type != CDB_PICKLE_STR &&
		    r->stack[i].type != CDB_PICKLE_INT)
			return fail(
			    r, "dict key is neither a string nor an integer");
		if (r->stack[i + width - 1].depth + 1 > d)
			d = r->stack[i + width - 1].depth + 1;
	}
	if (d > MAX_DEPTH)
		return fail(r, "nesting too deep");
	c->depth = d;
	if (c->len + add > c->cap) {
		c->cap = (c->len + add) * 2;
		if ((v = realloc(c->v, c->cap * width * sizeof(*v))) == NULL)
			return cdb_error_oom(r->e);
		c->v = v;
	}
	for (i = from; i < r->n; i += width) {
		if (filter && !keep_key(r, &r->stack[i])) {
			val_clear(&r->stack[i]);
			val_clear(&r->stack[i + 1]);
			continue;
		}
		memcpy(&c->v[c->len * width], &r->stack[i], width * sizeof(*v));
		c->len++;
	}
	r->n = from;
	return 0;
}

/* SETITEM(S), APPEND(S): move the items above from onto the container. */
static int
fill(reader *r, int marked, int dict)
{
	size_t from, width = dict ? 2 : 1;
	cdb_pickle_val *c;

	if (marked && r->nmarks == 0)
		return fail(r, "no mark to pop");
	if (!marked && r->n < width + 1)
		return fail(r, "stack underflow");
	from = marked ? r->marks[--r->nmarks] : r->n - width;
	if (from == 0 || (r->n - from) % width != 0)
		return fail(r, "stack underflow");
	c = &r->stack[from - 1];
	if (c->type != (dict ? CDB_PICKLE_DICT : CDB_PICKLE_LIST))
		return fail(r, dict ? "items set on something not a dict"
		                    : "items appended to something not a list");
	return append_items(r, c, from, width);
}

/* One opcode; 1 at STOP. */
static int
step(reader *r)
{
	unsigned char op, b[8];
	char msg[64];

	r->op = r->off;
	if (get(r, &op, 1) == -1)
		return -1;
	switch (op) {
	case 0x80: /* PROTO */
		if (get(r, b, 1) == -1)
			return -1;
		return b[0] >= 2 && b[0] <= 5
		           ? 0
		           : fail(r, "unsupported pickle protocol");
	case 0x95: /* FRAME */
		return get(r, b, 8);
	case 'q': /* BINPUT, LONG_BINPUT, MEMOIZE: no GET reads them */
		return get(r, b, 1);
	case 'r':
		return get(r, b, 4);
	case 0x94:
		return 0;
	case '(':
		if (r->nmarks == MAX_DEPTH)
			return fail(r, "nesting too deep");
		r->marks[r->nmarks++] = r->n;
		return 0;
	case '}':
		return push_scalar(r, CDB_PICKLE_DICT, 0, 0);
	case ']':
		return push_scalar(r, CDB_PICKLE_LIST, 0, 0);
	case 's':
	case 'u':
		return fill(r, op == 'u', 1);
	case 'a':
	case 'e':
		return fill(r, op == 'e', 0);
	case 'X':
		return push_str(r, 4);
	case 0x8c:
		return push_str(r, 1);
	case 0x8d:
		return push_str(r, 8);
	case 'J':
		return push_int(r, 4, 1);
	case 'K':
		return push_int(r, 1, 0);
	case 'M':
		return push_int(r, 2, 0);
	case 0x8a: /* LONG1 */
		return get(r, b, 1) == -1 ? -1 : push_int(r, b[0], 1);
	case 'G':
		return push_float(r);
	case 'N':
		return push_scalar(r, CDB_PICKLE_NONE, 0, 0);
	case 0x88:
	case 0x89:
		return push_scalar(r, CDB_PICKLE_BOOL, op == 0x88, 0);
	case '.':
		return 1;
	case 'c':
	case 0x93:
		return fail(r, "the pickle names a Python class (Chroma 0.4-0.6 "
		               "writes an object here): not read");
	}
	snprintf(msg, sizeof(msg), "opcode 0x%02x is not allowed", op);
	return fail(r, msg);
}

cdb_pickle_val *
cdb_pickle_read(
    FILE *fp, const char *name, const char *const *keep, cdb_error *e)
{
	reader r = {.fp = fp, .name = name, .keep = keep, .e = e};
	cdb_pickle_val *v = NULL;
	size_t i;
	int rc;

	while ((rc = step(&r)) == 0)
		;
	if (rc == 1 && (r.n != 1 || r.nmarks != 0))
		rc = fail(&r, "STOP with other than one value on the stack");
	if (rc == 1 && (v = malloc(sizeof(*v))) == NULL)
		rc = cdb_error_oom(e);
	if (rc == 1)
		*v = r.stack[--r.n];
	for (i = 0; i < r.n; i++)
		val_clear(&r.stack[i]);
	free(r.stack);
	return v;
}

const cdb_pickle_val *
cdb_pickle_get(const cdb_pickle_val *d, const char *k)
{
	size_t i;

	if (d == NULL || d->type != CDB_PICKLE_DICT)
		return NULL;
	for (i = 0; i < d->len; i++)
		if (d->v[2 * i].type == CDB_PICKLE_STR &&
		    strcmp(d->v[2 * i].s, k) == 0)
			return &d->v[2 * i + 1];
	return NULL;
}
