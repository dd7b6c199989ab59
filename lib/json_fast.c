/* json_fast.c - a fast parser that declines the unusual; see json_fast.h. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cdb.h"
#include "json_fast.h"

/* Deeper nesting goes to jansson (its own limit is 2048). */
#define MAX_DEPTH 64

struct fp {
	const char *s, *end;
	int depth;
	cdb_buf tmp; /* unescaped strings */
};

static json_t *value(struct fp *p);

static void
skip_ws(struct fp *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' ||
	                            *p->s == '\n' || *p->s == '\r'))
		p->s++;
}

/*
 * Length of the valid UTF-8 sequence at s (lead byte >= 0x80), as
 * jansson checks it: no overlong forms, no surrogates, at most U+10FFFF.
 * 0 when invalid.
 */
static size_t
utf8_len(const unsigned char *s, const unsigned char *end)
{
	size_t n, i;
	unsigned v;

	if (*s >= 0xc2 && *s <= 0xdf)
		n = 2, v = *s & 0x1f;
	else if (*s >= 0xe0 && *s <= 0xef)
		n = 3, v = *s & 0x0f;
	else if (*s >= 0xf0 && *s <= 0xf4)
		n = 4, v = *s & 0x07;
	else
		return 0;
	if ((size_t)(end - s) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) ||
	    (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)
		return 0;
	return n;
}

static int
hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static int
put_utf8(cdb_buf *b, unsigned v)
{
	char u[4];
	size_t n;

	if (v < 0x80)
		u[0] = (char)v, n = 1;
	else if (v < 0x800)
		u[0] = (char)(0xc0 | v >> 6), u[1] = (char)(0x80 | (v & 0x3f)),
		n = 2;
	else if (v < 0x10000)
		u[0] = (char)(0xe0 | v >> 12),
		u[1] = (char)(0x80 | ((v >> 6) & 0x3f)),
		u[2] = (char)(0x80 | (v & 0x3f)), n = 3;
	else
		u[0] = (char)(0xf0 | v >> 18),
		u[1] = (char)(0x80 | ((v >> 12) & 0x3f)),
		u[2] = (char)(0x80 | ((v >> 6) & 0x3f)),
		u[3] = (char)(0x80 | (v & 0x3f)), n = 4;
	return cdb_buf_append(b, u, n);
}

/* One escape after the backslash at p->s; appends to tmp.  0 or -1. */
static int
escape(struct fp *p)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *k;
	unsigned v, lo;

	if (p->end - p->s < 2)
		return -1;
	if (p->s[1] != 'u') {
		if (p->s[1] == '\0' || (k = strchr(from, p->s[1])) == NULL)
			return -1;
		p->s += 2;
		return cdb_buf_putc(&p->tmp, to[k - from]);
	}
	if (p->end - p->s < 6 || hex4(p->s + 2, &v) == -1)
		return -1;
	p->s += 6;
	if (v >= 0xdc00 && v <= 0xdfff)
		return -1;
	if (v >= 0xd800 && v <= 0xdbff) {
		if (p->end - p->s < 6 || p->s[0] != '\\' || p->s[1] != 'u' ||
		    hex4(p->s + 2, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff)
			return -1;
		p->s += 6;
		v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
	}
	return put_utf8(&p->tmp, v);
}

/*
 * The string opening at p->s: its bytes in *str and *len, pointing into
 * the text when it has no escapes, else into p->tmp.  0 or -1.
 */
static int
string(struct fp *p, const char **str, size_t *len)
{
	const unsigned char *s = (const unsigned char *)p->s + 1;
	const unsigned char *end = (const unsigned char *)p->end;
	const unsigned char *start = s;
	size_t u;
	int esc = 0;

	cdb_buf_reset(&p->tmp);
	while (s < end) {
		if (*s == '"') {
			if (esc && cdb_buf_append(&p->tmp, start,
			               (size_t)(s - start)) == -1)
				return -1;
			*str = esc ? p->tmp.data : (const char *)start;
			*len = esc ? p->tmp.len : (size_t)(s - start);
			p->s = (const char *)s + 1;
			return 0;
		}
		if (*s < 0x20)
			return -1;
		if (*s == '\\') {
			if (cdb_buf_append(
			        &p->tmp, start, (size_t)(s - start)) == -1)
				return -1;
			p->s = (const char *)s;
			if (escape(p) == -1)
				return -1;
			s = start = (const unsigned char *)p->s;
			esc = 1;
		} else if (*s >= 0x80) {
			if ((u = utf8_len(s, end)) == 0)
				return -1;
			s += u;
		} else
			s++;
	}
	return -1;
}

static int
digits(struct fp *p)
{
	const char *s = p->s;

	while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
		p->s++;
	return p->s > s ? 0 : -1;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? as jansson reads it. */
static json_t *
number(struct fp *p)
{
	const char *s = p->s;
	char buf[72], *end;
	int real = 0;

	if (p->s < p->end && *p->s == '-')
		p->s++;
	if (p->s < p->end && *p->s == '0')
		p->s++;
	else if (digits(p) == -1)
		return NULL;
	if (p->s < p->end && *p->s == '.') {
		p->s++;
		real = 1;
		if (digits(p) == -1)
			return NULL;
	}
	if (p->s < p->end && (*p->s == 'e' || *p->s == 'E')) {
		p->s++;
		real = 1;
		if (p->s < p->end && (*p->s == '+' || *p->s == '-'))
			p->s++;
		if (digits(p) == -1)
			return NULL;
	}
	if ((size_t)(p->s - s) >= sizeof(buf))
		return NULL;
	memcpy(buf, s, (size_t)(p->s - s));
	buf[p->s - s] = '\0';
	errno = 0;
	if (!real) {
		long long v = strtoll(buf, &end, 10);
		return errno == 0 ? json_integer(v) : NULL;
	}
	double d = strtod(buf, &end);
	return errno == 0 && isfinite(d) ? json_real(d) : NULL;
}

static json_t *
literal(struct fp *p, const char *word, json_t *v)
{
	size_t n = strlen(word);

	if ((size_t)(p->end - p->s) < n || memcmp(p->s, word, n) != 0)
		return NULL;
	p->s += n;
	return v;
}

static json_t *
object(struct fp *p)
{
	json_t *o = json_object(), *v;
	const char *k;
	char small[128], *key;
	size_t klen;

	p->s++;
	skip_ws(p);
	if (p->s < p->end && *p->s == '}') {
		p->s++;
		return o;
	}
	while (o != NULL) {
		if (p->s >= p->end || *p->s != '"' ||
		    string(p, &k, &klen) == -1 || memchr(k, '\0', klen) != NULL)
			break;
		key = klen < sizeof(small) ? small : malloc(klen + 1);
		if (key == NULL)
			break;
		memcpy(key, k, klen);
		key[klen] = '\0';
		skip_ws(p);
		v = NULL;
		if (p->s < p->end && *p->s == ':') {
			p->s++;
			v = value(p);
		}
		if (v != NULL && json_object_set_new_nocheck(o, key, v) == -1)
			v = NULL;
		if (key != small)
			free(key);
		if (v == NULL)
			break;
		skip_ws(p);
		if (p->s < p->end && *p->s == ',') {
			p->s++;
			skip_ws(p);
			continue;
		}
		if (p->s < p->end && *p->s == '}') {
			p->s++;
			return o;
		}
		break;
	}
	json_decref(o);
	return NULL;
}

static json_t *
array(struct fp *p)
{
	json_t *a = json_array(), *v;

	p->s++;
	skip_ws(p);
	if (p->s < p->end && *p->s == ']') {
		p->s++;
		return a;
	}
	while (a != NULL) {
		if ((v = value(p)) == NULL || json_array_append_new(a, v) == -1)
			break;
		skip_ws(p);
		if (p->s < p->end && *p->s == ',') {
			p->s++;
			continue;
		}
		if (p->s < p->end && *p->s == ']') {
			p->s++;
			return a;
		}
		break;
	}
	json_decref(a);
	return NULL;
}

static json_t *
value(struct fp *p)
{
	const char *str;
	size_t len;
	json_t *v = NULL;

	skip_ws(p);
	if (p->s >= p->end || ++p->depth > MAX_DEPTH)
		return NULL;
	switch (*p->s) {
	case '{':
		v = object(p);
		break;
	case '[':
		v = array(p);
		break;
	case '"':
		if (string(p, &str, &len) == 0)
			v = json_stringn_nocheck(str, len);
		break;
	case 't':
		v = literal(p, "true", json_true());
		break;
	case 'f':
		v = literal(p, "false", json_false());
		break;
	case 'n':
		v = literal(p, "null", json_null());
		break;
	default:
		v = number(p);
	}
	p->depth--;
	return v;
}

json_t *
cdb_json_fast_load(const char *s, size_t n)
{
	struct fp p;
	json_t *v = NULL;

	p.s = s;
	p.end = s + n;
	p.depth = 0;
	cdb_buf_init(&p.tmp);
	skip_ws(&p);
	if (p.s < p.end && *p.s == '{')
		v = value(&p);
	skip_ws(&p);
	if (v != NULL && p.s != p.end) {
		json_decref(v);
		v = NULL;
	}
	cdb_buf_free(&p.tmp);
	return v;
}
