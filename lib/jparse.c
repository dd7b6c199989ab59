/*
 * jparse.c - a strict, fast JSON parser that builds jansson values.
 *
 * jansson's own parser reads through a per-character stream callback and
 * costs about a hundred instructions a byte; the record lines and server
 * pages cdb reads are megabytes of short strings, so this parser scans
 * runs of plain bytes at once and hands jansson finished values.  It
 * accepts exactly what jansson accepts with CDB_JSON_FLAGS (RFC 8259,
 * NUL allowed inside strings, integers that overflow json_int_t refused,
 * an object with a duplicate key refused),
 * which tests/unit/test_jparse.c checks against jansson itself.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define MAX_DEPTH 2048 /* as jansson's JSON_PARSER_MAX_DEPTH */

struct jp {
	const char *s, *p, *end;
	cdb_buf tmp; /* decoded strings with escapes */
	int depth;
	cdb_error *e;
};

static json_t *value(struct jp *j);

static json_t *
fail(struct jp *j, const char *what)
{
	cdb_error_set(j->e, CDB_ERR_INPUT, "invalid JSON at column %ld: %s",
	    (long)(j->p - j->s) + 1, what);
	return NULL;
}

static void
ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
				    *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int
hex4(const char *p, uint32_t *out)
{
	uint32_t v = 0;
	int i, c;

	for (i = 0; i < 4; i++) {
		c = (unsigned char)p[i];
		if (c >= '0' && c <= '9')
			c -= '0';
		else if (c >= 'a' && c <= 'f')
			c -= 'a' - 10;
		else if (c >= 'A' && c <= 'F')
			c -= 'A' - 10;
		else
			return -1;
		v = v << 4 | (uint32_t)c;
	}
	*out = v;
	return 0;
}

static void
put_utf8(cdb_buf *b, uint32_t c)
{
	char u[4];

	if (c < 0x80) {
		u[0] = (char)c;
		cdb_buf_append(b, u, 1);
	} else if (c < 0x800) {
		u[0] = (char)(0xc0 | c >> 6);
		u[1] = (char)(0x80 | (c & 0x3f));
		cdb_buf_append(b, u, 2);
	} else if (c < 0x10000) {
		u[0] = (char)(0xe0 | c >> 12);
		u[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		u[2] = (char)(0x80 | (c & 0x3f));
		cdb_buf_append(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | c >> 18);
		u[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		u[3] = (char)(0x80 | (c & 0x3f));
		cdb_buf_append(b, u, 4);
	}
}

/* One escape after the backslash at j->p; appends to tmp. */
static int
escape(struct jp *j)
{
	uint32_t c, lo;
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *k;

	if (j->end - j->p < 2)
		return -1;
	if (j->p[1] != 'u') {
		if (j->p[1] == '\0' || (k = strchr(from, j->p[1])) == NULL)
			return -1;
		cdb_buf_append(&j->tmp, to + (k - from), 1);
		j->p += 2;
		return 0;
	}
	if (j->end - j->p < 6 || hex4(j->p + 2, &c) == -1)
		return -1;
	j->p += 6;
	if (c >= 0xdc00 && c <= 0xdfff)
		return -1;
	if (c >= 0xd800 && c <= 0xdbff) {
		/* A high surrogate must be followed by a low one. */
		if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
		    hex4(j->p + 2, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff)
			return -1;
		j->p += 6;
		c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
	}
	put_utf8(&j->tmp, c);
	return 0;
}

/* True when s (n bytes) is all ASCII, so UTF-8 valid without a check. */
static int
ascii(const char *s, size_t n)
{
	uint64_t w, acc = 0;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		acc |= w;
	}
	for (; i < n; i++)
		acc |= (unsigned char)s[i];
	return (acc & 0x8080808080808080ULL) == 0;
}

/* A string value; jansson checks UTF-8 only when there is more than ASCII. */
static json_t *
new_string(const char *s, size_t n)
{
	return ascii(s, n) ? json_stringn_nocheck(s, n) : json_stringn(s, n);
}

/*
 * The string whose opening quote is at j->p.  Plain runs are found a
 * byte-class test at a time and copied whole; jansson checks the UTF-8
 * of strings that are not all ASCII.
 */
static json_t *
string(struct jp *j, int key, char **keyout)
{
	const char *run;
	int escaped = 0;
	json_t *v;

	j->p++;
	cdb_buf_reset(&j->tmp);
	for (;;) {
		run = j->p;
		j->p += cdb_json_plain_run(j->p, (size_t)(j->end - j->p));
		if (j->p >= j->end)
			return fail(j, "unterminated string");
		if (*j->p == '"' && !escaped) {
			/* The common case: no escapes, no copy. */
			j->p++;
			return key ? (json_t *)(*keyout = strndup(run,
						    (size_t)(j->p - run - 1)))
				   : new_string(run, (size_t)(j->p - run - 1));
		}
		escaped = 1;
		cdb_buf_append(&j->tmp, run, (size_t)(j->p - run));
		if (*j->p == '"')
			break;
		if (*j->p != '\\')
			return fail(j, "control character in string");
		if (escape(j) == -1)
			return fail(j, "invalid escape in string");
	}
	j->p++;
	if (key) {
		if (memchr(j->tmp.data, '\0', j->tmp.len) != NULL)
			return fail(j, "NUL byte in object key");
		*keyout = strndup(j->tmp.data ? j->tmp.data : "", j->tmp.len);
		return (json_t *)*keyout;
	}
	v = new_string(j->tmp.data ? j->tmp.data : "", j->tmp.len);
	return v;
}

static json_t *
number(struct jp *j)
{
	const char *p = j->p, *start = j->p;
	char tmp[64], *end;
	int real = 0;
	size_t n;
	json_int_t iv;
	double d;

	if (p < j->end && *p == '-')
		p++;
	if (p >= j->end || *p < '0' || *p > '9')
		return fail(j, "invalid value");
	if (*p == '0')
		p++;
	else
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	if (p < j->end && *p == '.') {
		real = 1;
		if (++p >= j->end || *p < '0' || *p > '9')
			return fail(j, "invalid number");
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		real = 1;
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= j->end || *p < '0' || *p > '9')
			return fail(j, "invalid number");
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	n = (size_t)(p - start);
	j->p = p;
	if (n >= sizeof(tmp)) {
		char *big = strndup(start, n);
		if (big == NULL)
			return fail(j, "out of memory");
		errno = 0;
		if (real)
			d = strtod(big, &end);
		else
			iv = strtoll(big, &end, 10);
		free(big);
	} else {
		memcpy(tmp, start, n);
		tmp[n] = '\0';
		errno = 0;
		if (real)
			d = strtod(tmp, &end);
		else
			iv = strtoll(tmp, &end, 10);
	}
	if (!real) {
		if (errno == ERANGE)
			return fail(j, "too big integer");
		return json_integer(iv);
	}
	if (errno == ERANGE && (d > 1 || d < -1))
		return fail(j, "real number overflow");
	return json_real(d);
}

static json_t *
object(struct jp *j)
{
	json_t *o = json_object(), *v;
	char *key = NULL;

	j->p++;
	ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return o;
	}
	for (;;) {
		ws(j);
		if (j->p >= j->end || *j->p != '"') {
			json_decref(o);
			return fail(j, "string or '}' expected");
		}
		if (string(j, 1, &key) == NULL) {
			json_decref(o);
			return j->e->kind ? NULL : fail(j, "out of memory");
		}
		ws(j);
		if (j->p >= j->end || *j->p != ':') {
			free(key);
			json_decref(o);
			return fail(j, "':' expected");
		}
		j->p++;
		if ((v = value(j)) == NULL) {
			free(key);
			json_decref(o);
			return NULL;
		}
		if (json_object_get(o, key) != NULL) {
			/* Readers disagree on which of two keys wins (jq the
			 * last, a scanner the first): refuse both. */
			char what[80];
			snprintf(what, sizeof(what), "duplicate object key \"%.40s\"",
			    key);
			free(key);
			json_decref(v);
			json_decref(o);
			return fail(j, what);
		}
		if (json_object_set_new(o, key, v) == -1) {
			free(key);
			json_decref(o);
			return fail(j, "invalid UTF-8 in object key");
		}
		free(key);
		ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			return o;
		}
		json_decref(o);
		return fail(j, "',' or '}' expected");
	}
}

static json_t *
array(struct jp *j)
{
	json_t *a = json_array(), *v;

	j->p++;
	ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return a;
	}
	for (;;) {
		if ((v = value(j)) == NULL) {
			json_decref(a);
			return NULL;
		}
		json_array_append_new(a, v);
		ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			return a;
		}
		json_decref(a);
		return fail(j, "',' or ']' expected");
	}
}

static json_t *
literal(struct jp *j, const char *word, json_t *v)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return fail(j, "invalid value");
	j->p += n;
	return v;
}

static json_t *
value(struct jp *j)
{
	json_t *v;

	ws(j);
	if (j->p >= j->end)
		return fail(j, "value expected");
	if (++j->depth > MAX_DEPTH)
		return fail(j, "nesting too deep");
	switch (*j->p) {
	case '{': v = object(j); break;
	case '[': v = array(j); break;
	case '"':
		if ((v = string(j, 0, NULL)) == NULL && j->e->kind == CDB_ERR_NONE)
			v = fail(j, "invalid UTF-8 in string");
		break;
	case 't': v = literal(j, "true", json_true()); break;
	case 'f': v = literal(j, "false", json_false()); break;
	case 'n': v = literal(j, "null", json_null()); break;
	default: v = number(j); break;
	}
	j->depth--;
	return v;
}

json_t *
cdb_json_parse(const char *s, size_t n, cdb_error *e)
{
	struct jp j;
	cdb_error mine;
	json_t *v;

	cdb_error_clear(&mine);
	memset(&j, 0, sizeof(j));
	j.s = j.p = s;
	j.end = s + n;
	j.e = &mine;
	cdb_buf_init(&j.tmp);
	v = value(&j);
	if (v != NULL) {
		ws(&j);
		if (j.p != j.end) {
			json_decref(v);
			v = fail(&j, "end of text expected");
		}
	}
	cdb_buf_free(&j.tmp);
	if (v == NULL)
		cdb_error_set(e, CDB_ERR_INPUT, "%s",
		    mine.kind ? mine.text : "invalid JSON: out of memory");
	return v;
}
