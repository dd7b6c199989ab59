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
	size_t i, n;

	if (v->type == CDB_PICKLE_LIST || v->type == CDB_PICKLE_DICT) {
		n = v->type == CDB_PICKLE_DICT ? 2 * v->len : v->len;
		for (i = 0; i < n; i++)
			val_clear(&v->v[i]);
	}
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

static int
push(reader *r, const cdb_pickle_val *v)
{
	cdb_pickle_val *s;

	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		if ((s = realloc(r->stack, r->cap * sizeof(*s))) == NULL)
			return fail(r, "out of memory");
		r->stack = s;
	}
	r->stack[r->n++] = *v;
	return 0;
}

static int
push_scalar(reader *r, int type, long long i, double f)
{
	cdb_pickle_val v;

	memset(&v, 0, sizeof(v));
	v.type = type;
	v.i = i;
	v.f = f;
	return push(r, &v);
}

static int
push_str(reader *r, size_t lenbytes)
{
	unsigned char b[8];
	cdb_pickle_val v;
	uint64_t n;

	if (get(r, b, lenbytes) == -1)
		return -1;
	n = cdb_le(b, lenbytes);
	/* A length past what a file can hold is a lie, not an allocation. */
	if (n > (uint64_t)1 << 30)
		return fail(r, "string length out of range");
	memset(&v, 0, sizeof(v));
	v.type = CDB_PICKLE_STR;
	if ((v.s = malloc((size_t)n + 1)) == NULL)
		return fail(r, "out of memory");
	if (get(r, v.s, (size_t)n) == -1) {
		free(v.s);
		return -1;
	}
	v.s[n] = '\0';
	v.len = (size_t)n;
	if (strlen(v.s) != v.len || push(r, &v) == -1) {
		free(v.s);
		return r->e->kind ? -1 : fail(r, "string holds a NUL byte");
	}
	return 0;
}

static int
push_int(reader *r, size_t n, int is_signed)
{
	unsigned char b[8];
	uint64_t x;

	if (get(r, b, n) == -1)
		return -1;
	x = cdb_le(b, n);
	if (is_signed && n < 8 && (x >> (8 * n - 1)) & 1)
		x |= ~(uint64_t)0 << (8 * n);
	return push_scalar(r, CDB_PICKLE_INT, (long long)x, 0);
}

static int
push_long1(reader *r)
{
	unsigned char n;

	if (get(r, &n, 1) == -1)
		return -1;
	if (n > 8)
		return fail(r, "integer wider than 64 bits");
	if (n == 0)
		return push_scalar(r, CDB_PICKLE_INT, 0, 0);
	return push_int(r, n, 1);
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
	if (k->type != CDB_PICKLE_STR)
		return 0;
	for (p = r->keep; *p != NULL; p++)
		if (strcmp(*p, k->s) == 0)
			return 1;
	return 0;
}

/* Check before moving anything, so a failure leaves ownership clear. */
static int
check_items(reader *r, cdb_pickle_val *c, size_t from, size_t width)
{
	size_t i;
	int d = c->depth;

	for (i = from; i < r->n; i += width) {
		if (width == 2 && r->stack[i].type != CDB_PICKLE_STR &&
		    r->stack[i].type != CDB_PICKLE_INT)
			return fail(r, "dict key is neither a string nor an "
			               "integer");
		/* Bounded depth keeps val_clear's recursion shallow. */
		if (r->stack[i + width - 1].depth + 1 > d)
			d = r->stack[i + width - 1].depth + 1;
	}
	if (d > MAX_DEPTH)
		return fail(r, "nesting too deep");
	c->depth = d;
	return 0;
}

static int
append_items(reader *r, cdb_pickle_val *c, size_t from, size_t width)
{
	size_t i, add = (r->n - from) / width;
	int filter = width == 2 && c == &r->stack[0] && r->keep != NULL;
	cdb_pickle_val *v;

	if (check_items(r, c, from, width) == -1)
		return -1;
	if (c->len + add > c->cap) {
		c->cap = (c->len + add) * 2;
		if ((v = realloc(c->v, c->cap * width * sizeof(*v))) == NULL)
			return fail(r, "out of memory");
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

	if (marked) {
		if (r->nmarks == 0)
			return fail(r, "no mark to pop");
		from = r->marks[--r->nmarks];
	} else {
		if (r->n < width + 1)
			return fail(r, "stack underflow");
		from = r->n - width;
	}
	if (from == 0 || (r->n - from) % width != 0)
		return fail(r, "stack underflow");
	c = &r->stack[from - 1];
	if (c->type != (dict ? CDB_PICKLE_DICT : CDB_PICKLE_LIST))
		return fail(r, dict ? "items set on something not a dict"
		                    : "items appended to something not a list");
	return append_items(r, c, from, width);
}

static int
skip(reader *r, size_t n)
{
	unsigned char b[8];

	return get(r, b, n);
}

static int
proto(reader *r)
{
	unsigned char v;

	if (get(r, &v, 1) == -1)
		return -1;
	return v >= 2 && v <= 5 ? 0 : fail(r, "unsupported pickle protocol");
}

static int
mark(reader *r)
{
	if (r->nmarks == MAX_DEPTH)
		return fail(r, "nesting too deep");
	r->marks[r->nmarks++] = r->n;
	return 0;
}

/* One opcode; 1 at STOP. */
static int
step(reader *r)
{
	unsigned char op;

	r->op = r->off;
	if (get(r, &op, 1) == -1)
		return -1;
	switch (op) {
	case 0x80:
		return proto(r);
	case 0x95:
		return skip(r, 8); /* FRAME */
	case 'q':
		return skip(r, 1); /* BINPUT: no GET reads it */
	case 'r':
		return skip(r, 4); /* LONG_BINPUT */
	case 0x94:
		return 0; /* MEMOIZE */
	case '}':
		return push_scalar(r, CDB_PICKLE_DICT, 0, 0);
	case ']':
		return push_scalar(r, CDB_PICKLE_LIST, 0, 0);
	case '(':
		return mark(r);
	case 's':
		return fill(r, 0, 1);
	case 'u':
		return fill(r, 1, 1);
	case 'a':
		return fill(r, 0, 0);
	case 'e':
		return fill(r, 1, 0);
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
	case 0x8a:
		return push_long1(r);
	case 'G':
		return push_float(r);
	case 'N':
		return push_scalar(r, CDB_PICKLE_NONE, 0, 0);
	case 0x88:
		return push_scalar(r, CDB_PICKLE_BOOL, 1, 0);
	case 0x89:
		return push_scalar(r, CDB_PICKLE_BOOL, 0, 0);
	case '.':
		return 1;
	case 'c':
	case 0x93:
		return fail(r,
		    "the pickle names a Python class (Chroma 0.4-0.6 "
		    "writes an object here): not read");
	default: {
		char msg[64];

		snprintf(msg, sizeof(msg), "opcode 0x%02x is not allowed", op);
		return fail(r, msg);
	}
	}
}

cdb_pickle_val *
cdb_pickle_read(
    FILE *fp, const char *name, const char *const *keep, cdb_error *e)
{
	cdb_pickle_val *v = NULL;
	reader r;
	size_t i;
	int rc;

	memset(&r, 0, sizeof(r));
	r.fp = fp;
	r.name = name;
	r.keep = keep;
	r.e = e;
	while ((rc = step(&r)) == 0)
		;
	if (rc == 1 && (r.n != 1 || r.nmarks != 0))
		rc = fail(&r, "STOP with other than one value on the stack");
	if (rc == 1 && (v = malloc(sizeof(*v))) == NULL)
		rc = fail(&r, "out of memory");
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
