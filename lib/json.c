/* json.c - serializer and scanner; see json.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int
cdb_json_dump_real(cdb_buf *b, double d)
{
	char tmp[40];
	int prec;

	if (!isfinite(d))
		return -1;
	/* Fewest digits that read back to the same double. */
	for (prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	/* Keep it a real on the way back in: "2" would parse as an int. */
	if (strpbrk(tmp, ".eEn") == NULL)
		strcat(tmp, ".0");
	return cdb_buf_puts(b, tmp);
}

size_t
cdb_json_plain_run(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == '"' || s[i] == '\\')
			break;
	return i;
}

int
cdb_json_dump_string(cdb_buf *b, const char *s, size_t n)
{
	static const char from[] = "\"\\\n\r\t\b\f", to[] = "\"\\nrtbf";
	const char *q;
	size_t i, run;
	char esc[8];

	if (cdb_buf_reserve(b, n + 2) == -1 || cdb_buf_putc(b, '"') == -1)
		return -1;
	for (i = 0; i < n; i += run) {
		if ((run = cdb_json_plain_run(s + i, n - i)) > 0) {
			if (cdb_buf_append(b, s + i, run) == -1)
				return -1;
			continue;
		}
		run = 1;
		if ((q = memchr(from, s[i], 7)) != NULL)
			snprintf(esc, sizeof(esc), "\\%c", to[q - from]);
		else
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char)s[i]);
		if (cdb_buf_puts(b, esc) == -1)
			return -1;
	}
	return cdb_buf_putc(b, '"');
}

static int
dump_object(cdb_buf *b, const json_t *v)
{
	const char *k;
	json_t *m;
	int first = 1;

	if (cdb_buf_putc(b, '{') == -1)
		return -1;
	json_object_foreach((json_t *)v, k, m) {
		if ((!first && cdb_buf_putc(b, ',') == -1) ||
		    cdb_json_dump_string(b, k, strlen(k)) == -1 ||
		    cdb_buf_putc(b, ':') == -1 || cdb_json_dump(b, m) == -1)
			return -1;
		first = 0;
	}
	return cdb_buf_putc(b, '}');
}

static int
dump_array(cdb_buf *b, const json_t *v)
{
	size_t i;

	if (cdb_buf_putc(b, '[') == -1)
		return -1;
	for (i = 0; i < json_array_size(v); i++)
		if ((i > 0 && cdb_buf_putc(b, ',') == -1) ||
		    cdb_json_dump(b, json_array_get(v, i)) == -1)
			return -1;
	return cdb_buf_putc(b, ']');
}

int
cdb_json_dump(cdb_buf *b, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return dump_object(b, v);
	case JSON_ARRAY:
		return dump_array(b, v);
	case JSON_STRING:
		return cdb_json_dump_string(b, json_string_value(v),
		    json_string_length(v));
	case JSON_INTEGER:
		return cdb_buf_printf(b, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
	case JSON_REAL:
		return cdb_json_dump_real(b, json_real_value(v));
	case JSON_TRUE:
		return cdb_buf_puts(b, "true");
	case JSON_FALSE:
		return cdb_buf_puts(b, "false");
	case JSON_NULL:
		return cdb_buf_puts(b, "null");
	}
	return -1;
}

json_t *
cdb_json_load(const char *s, size_t n, cdb_error *e)
{
	json_error_t je;
	json_t *v;
	char *near;

	if ((v = json_loadb(s, n, CDB_JSON_FLAGS, &je)) != NULL)
		return v;
	if (json_error_code(&je) == json_error_out_of_memory) {
		cdb_error_oom(e);
		return NULL;
	}
	/* A duplicate names its key: "duplicate object key \"id\"". */
	near = strstr(je.text, " near '");
	if (json_error_code(&je) == json_error_duplicate_key && near != NULL) {
		memmove(near + 1, near + 7, strlen(near + 7) + 1);
		near[strlen(near) - 1] = '\0';
	}
	cdb_error_set(e, CDB_ERR_INPUT, "at column %d: %s", je.column, je.text);
	return NULL;
}

size_t
cdb_json_skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
			    s[i] == '\r'))
		i++;
	return i;
}

/* Offset one past the string literal that opens at s[i], or 0. */
static size_t
skip_string(const char *s, size_t n, size_t i)
{
	const char *q;

	for (i++; i < n; i++) {
		q = memchr(s + i, '"', n - i);
		if (q == NULL)
			return 0;
		i = (size_t)(q - s);
		/* A quote is escaped only by an odd run of backslashes. */
		size_t bs = 0;
		while (bs < i && s[i - 1 - bs] == '\\')
			bs++;
		if (bs % 2 == 0)
			return i + 1;
	}
	return 0;
}

long
cdb_json_skip(const char *s, size_t n)
{
	size_t i = cdb_json_skip_ws(s, n, 0), depth = 0;

	if (i >= n)
		return -1;
	do {
		if (i >= n)
			return -1;
		switch (s[i]) {
		case '"':
			if ((i = skip_string(s, n, i)) == 0)
				return -1;
			continue;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return -1;
			depth--;
			break;
		default:
			break;
		}
		i++;
		if (depth == 0 && s[i - 1] != '}' && s[i - 1] != ']') {
			/* A scalar at top level ends at a delimiter. */
			while (i < n && strchr(",]} \t\r\n", s[i]) == NULL)
				i++;
		}
	} while (depth > 0);
	return (long)i;
}

int
cdb_json_find(const char *s, size_t n, const char *key, size_t *vs,
    size_t *ve)
{
	size_t i = cdb_json_skip_ws(s, n, 0), kend, klen = strlen(key);
	long len;

	if (i >= n || s[i] != '{')
		return -1;
	i = cdb_json_skip_ws(s, n, i + 1);
	while (i < n && s[i] == '"') {
		if ((kend = skip_string(s, n, i)) == 0)
			return -1;
		int hit = kend - i - 2 == klen && memcmp(s + i + 1, key, klen) == 0;
		i = cdb_json_skip_ws(s, n, kend);
		if (i >= n || s[i] != ':')
			return -1;
		i = cdb_json_skip_ws(s, n, i + 1);
		if (hit && ve == NULL) {
			*vs = i;
			return i < n ? 1 : -1;
		}
		if ((len = cdb_json_skip(s + i, n - i)) == -1)
			return -1;
		if (hit) {
			*vs = i;
			*ve = i + (size_t)len;
			return 1;
		}
		i = cdb_json_skip_ws(s, n, i + (size_t)len);
		if (i < n && s[i] == ',')
			i = cdb_json_skip_ws(s, n, i + 1);
	}
	return 0;
}

int
cdb_json_str_is(const json_t *o, const char *key, const char *want)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v != NULL && strcmp(v, want) == 0;
}
