/* coerce.c - value conversions for schema fields; see coerce.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "coerce.h"
#include "json.h"

/*
 * The converters below return 1 with *out, -1 when the value cannot be
 * converted (the caller words the message) or CDB_COERCE_OOM.
 */
#define OOM CDB_COERCE_OOM

/* A string being converted: a window into the value, or a copy it owns. */
struct text {
	const char *s;
	size_t n;
	char *own;
};

const char *
cdb_schema_type_name(int type, int array)
{
	static const char *const names[] = {"string", "int", "float", "bool",
	    "string[]", "int[]", "float[]", "bool[]"};

	if (type < CDB_SCHEMA_STRING || type > CDB_SCHEMA_BOOL)
		return "?";
	return names[type - CDB_SCHEMA_STRING + (array ? 4 : 0)];
}

static int
is_space(char c)
{
	return c != '\0' && strchr(" \t\n\r\f\v", c) != NULL;
}

/* Trim and lowercase as o says.  0, or -1 on allocation failure. */
static int
text_prepare(struct text *t, const char *s, size_t n, const cdb_coerce_opts *o)
{
	size_t i;

	while (o->trim && n > 0 && is_space(*s))
		s++, n--;
	while (o->trim && n > 0 && is_space(s[n - 1]))
		n--;
	t->s = s;
	t->n = n;
	t->own = NULL;
	for (i = 0; o->lowercase && i < n && !(s[i] >= 'A' && s[i] <= 'Z'); i++)
		;
	if (!o->lowercase || i == n)
		return 0;
	if ((t->own = malloc(n + 1)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		t->own[i] = s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i];
	t->s = t->own;
	return 0;
}

void
cdb_coerce_show(const json_t *v, char *buf, size_t len)
{
	cdb_buf b;
	size_t keep;

	if (len == 0)
		return;
	cdb_buf_init(&b);
	if (cdb_json_dump(&b, v) == -1 || b.data == NULL)
		snprintf(buf, len, "(value)");
	else if (b.len < len && b.len <= 64)
		memcpy(buf, b.data, b.len + 1);
	else {
		keep = len - 4 < 60 ? len - 4 : 60;
		/* Do not cut a UTF-8 sequence in two. */
		while (keep > 0 && ((unsigned char)b.data[keep] & 0xc0) == 0x80)
			keep--;
		snprintf(buf, len, "%.*s...", (int)keep, b.data);
	}
	cdb_buf_free(&b);
}

/* "cannot convert VALUE to TYPE" into why.  Returns -1. */
static int
refuse(const json_t *v, const char *to, char *why, size_t whylen)
{
	char shown[80];

	cdb_coerce_show(v, shown, sizeof(shown));
	snprintf(why, whylen, "cannot convert %s to %s", shown, to);
	return -1;
}

/* What o converts to, for messages. */
static const char *
target(const cdb_coerce_opts *o)
{
	return o->date != CDB_DATE_NONE ? "a date"
	                                : cdb_schema_type_name(o->type, 0);
}

/* *out = v: 1, or OOM when the constructor that made v failed. */
static int
made(json_t **out, json_t *v)
{
	*out = v;
	return v != NULL ? 1 : OOM;
}

/* A JSON-style number (digits, sign, point, exponent) as a C string. */
static int
number_text(const char *s, size_t n, char tmp[72])
{
	size_t i;

	if (n == 0 || n > 64)
		return -1;
	for (i = 0; i < n; i++)
		if (s[i] == '\0' || strchr("0123456789+-.eE", s[i]) == NULL)
			return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return 0;
}

static int
text_double(const char *s, size_t n, double *d)
{
	char tmp[72], *end;

	if (number_text(s, n, tmp) == -1)
		return -1;
	errno = 0;
	*d = strtod(tmp, &end);
	return *end == '\0' && errno == 0 && isfinite(*d) ? 0 : -1;
}

/* A double that is a whole number in the int64 range. */
static int
integral(double d, long long *out)
{
	if (!isfinite(d) || d != floor(d) || d < -9223372036854775808.0 ||
	    d >= 9223372036854775808.0)
		return -1;
	*out = (long long)d;
	return 0;
}

/* An int64: an integer literal, or a whole decimal ("1e3", "2.0"). */
static int
text_int(const char *s, size_t n, long long *out)
{
	char tmp[72], *end;
	double d;

	if (number_text(s, n, tmp) == -1)
		return -1;
	errno = 0;
	*out = strtoll(tmp, &end, 10);
	if (*end == '\0' && errno == 0)
		return 0;
	if (errno == ERANGE)
		return -1;
	return text_double(s, n, &d) == 0 ? integral(d, out) : -1;
}

/* A word for a bool, in any case: 1 or 0, or -1 when it is none. */
static int
text_bool(const struct text *t)
{
	static const char *const words[] = {"false", "true", "f", "t", "no",
	    "yes", "n", "y", "off", "on", "0", "1"};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == t->n &&
		    strncasecmp(t->s, words[i], t->n) == 0)
			return (int)(i % 2);
	return -1;
}

static int
epoch_to_iso(long long epoch, json_t **out)
{
	char d[CDB_DATE_LEN];

	if (cdb_coerce_date_format(epoch, d) == -1)
		return -1;
	return made(out, json_string(d));
}

/* A date text as epoch seconds: digits are already seconds. */
static int
text_epoch(const struct text *t, long long *epoch)
{
	char tmp[64];

	if (text_int(t->s, t->n, epoch) == 0)
		return 0;
	if (t->n >= sizeof(tmp) || memchr(t->s, '\0', t->n) != NULL)
		return -1;
	memcpy(tmp, t->s, t->n);
	tmp[t->n] = '\0';
	return cdb_coerce_date_parse(tmp, epoch);
}

/* A string (already trimmed and lowercased) to the type. */
static int
from_text(const json_t *v, const struct text *t, const cdb_coerce_opts *o,
    json_t **out)
{
	long long i;
	double d;
	int b;

	if (o->date != CDB_DATE_NONE) {
		if (text_epoch(t, &i) == -1)
			return -1;
		return o->date == CDB_DATE_EPOCH ? made(out, json_integer(i))
		                                 : epoch_to_iso(i, out);
	}
	switch (o->type) {
	case CDB_SCHEMA_STRING:
		/* Unchanged text: the value itself. */
		if (v != NULL && t->s == json_string_value(v) &&
		    t->n == json_string_length(v))
			return made(out, json_incref((json_t *)v));
		return made(out, json_stringn_nocheck(t->s, t->n));
	case CDB_SCHEMA_INT:
		if (text_int(t->s, t->n, &i) == -1)
			return -1;
		return made(out, json_integer(i));
	case CDB_SCHEMA_FLOAT:
		if (text_double(t->s, t->n, &d) == -1)
			return -1;
		return made(out, json_real(d));
	default:
		if ((b = text_bool(t)) == -1)
			return -1;
		return made(out, json_boolean(b));
	}
}

/* An int, real or bool to the type: 1, -1 when it does not convert, OOM. */
static int
value_to(const json_t *v, const cdb_coerce_opts *o, json_t **out)
{
	/* Per json_type (jansson's enum order): the type of a scalar. */
	static const int type_of[] = {0, 0, CDB_SCHEMA_STRING, CDB_SCHEMA_INT,
	    CDB_SCHEMA_FLOAT, CDB_SCHEMA_BOOL, CDB_SCHEMA_BOOL, 0};
	long long i;
	char s[24];
	cdb_buf b;
	int rc;

	if (type_of[json_typeof(v)] == o->type)
		return made(out, json_incref((json_t *)v));
	if (o->type == CDB_SCHEMA_STRING && o->date == CDB_DATE_NONE) {
		/* Only a real needs a buffer on the heap for its text. */
		if (json_is_boolean(v))
			return made(out,
			    json_string(json_is_true(v) ? "true" : "false"));
		if (json_is_integer(v)) {
			snprintf(s, sizeof(s), "%" JSON_INTEGER_FORMAT,
			    json_integer_value(v));
			return made(out, json_string(s));
		}
		cdb_buf_init(&b);
		rc = cdb_json_dump_real(&b, json_real_value(v)) == 0
		         ? made(out, json_string(b.data))
		         : OOM;
		cdb_buf_free(&b);
		return rc;
	}
	if (json_is_integer(v))
		i = json_integer_value(v);
	else if (json_is_boolean(v) || integral(json_real_value(v), &i) == -1)
		return -1;
	if (o->date == CDB_DATE_ISO)
		return epoch_to_iso(i, out);
	if (o->type == CDB_SCHEMA_FLOAT)
		return made(out, json_real((double)i));
	if (o->type == CDB_SCHEMA_BOOL)
		return json_is_integer(v) && (i == 0 || i == 1)
		           ? made(out, json_boolean(i))
		           : -1;
	return made(out, json_integer(i));
}

/* Is the text one of the "missing" strings? */
static int
is_missing(const struct text *t, const cdb_coerce_opts *o)
{
	size_t i;
	json_t *m;

	json_array_foreach(o->missing, i, m)
	{
		if (json_string_length(m) == t->n &&
		    memcmp(json_string_value(m), t->s, t->n) == 0)
			return 1;
	}
	return 0;
}

/* The map's replacement for the text, or NULL. */
static json_t *
mapped(const struct text *t, const cdb_coerce_opts *o)
{
	return o->map != NULL ? json_object_getn(o->map, t->s, t->n) : NULL;
}

static int scalar(const json_t *v, const cdb_coerce_opts *o, json_t **out,
    char *why, size_t whylen);

/* One string value: prepare, look up, convert.  As cdb_coerce. */
static int
text_value(const json_t *v, const char *s, size_t n, const cdb_coerce_opts *o,
    json_t **out, char *why, size_t whylen)
{
	cdb_coerce_opts plain = *o;
	struct text t;
	json_t *m, *shown;
	int rc;

	if (text_prepare(&t, s, n, o) == -1)
		return OOM;
	if (is_missing(&t, o))
		rc = 0;
	else if ((m = mapped(&t, o)) != NULL) {
		/* Replacements are final words: not trimmed or mapped again. */
		plain.trim = plain.lowercase = 0;
		plain.map = plain.missing = NULL;
		rc = scalar(m, &plain, out, why, whylen);
	} else if ((rc = from_text(v, &t, o, out)) == -1) {
		/* The message shows the text as it was converted. */
		if ((shown = json_stringn_nocheck(t.s, t.n)) == NULL)
			rc = OOM;
		else
			refuse(shown, target(o), why, whylen);
		json_decref(shown);
	}
	free(t.own);
	return rc;
}

/* A scalar to a scalar of the type.  As cdb_coerce. */
static int
scalar(const json_t *v, const cdb_coerce_opts *o, json_t **out, char *why,
    size_t whylen)
{
	int rc;

	if (json_is_null(v))
		return 0;
	if (json_is_string(v))
		return text_value(v, json_string_value(v),
		    json_string_length(v), o, out, why, whylen);
	if (json_is_object(v) || json_is_array(v))
		return refuse(v, cdb_schema_type_name(o->type, 0), why, whylen);
	rc = value_to(v, o, out);
	return rc == -1 ? refuse(v, target(o), why, whylen) : rc;
}

/* Append the conversion of v (or of the text s) to a; absent: skipped. */
static int
append_one(json_t *a, const json_t *v, const char *s, size_t n,
    const cdb_coerce_opts *o, char *why, size_t whylen)
{
	json_t *x = NULL;
	int rc;

	if (s != NULL)
		rc = text_value(NULL, s, n, o, &x, why, whylen);
	else
		rc = scalar(v, o, &x, why, whylen);
	if (rc == 1 && json_array_append_new(a, x) == -1)
		return OOM;
	return rc < 0 ? rc : 0;
}

/*
 * A string cut at every delimiter; each piece trimmed of the white space
 * around it (in "a, b" the space belongs to the delimiting, not to "b",
 * whatever the field's "trim" says), empty pieces dropped.
 */
static int
split_into(json_t *a, const json_t *v, const cdb_coerce_opts *o, char *why,
    size_t whylen)
{
	const char *s = json_string_value(v), *end = s + json_string_length(v);
	size_t dl = strlen(o->split);
	const char *p, *b, *q;
	int rc;

	for (; s <= end; s = p + dl) {
		for (p = s; p + dl <= end && memcmp(p, o->split, dl) != 0; p++)
			;
		if (p + dl > end)
			p = end;
		for (b = s, q = p; b < q && is_space(*b); b++)
			;
		while (q > b && is_space(q[-1]))
			q--;
		if (q > b && (rc = append_one(a, NULL, b, (size_t)(q - b), o,
		                  why, whylen)) < 0)
			return rc;
	}
	return 0;
}

/* Build an array of the type from v.  As cdb_coerce. */
static int
to_array(const json_t *v, const cdb_coerce_opts *o, json_t **out, char *why,
    size_t whylen)
{
	json_t *a = json_array(), *x;
	size_t i;
	int rc = 0;

	if (a == NULL)
		return OOM;
	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
		{
			if ((rc = append_one(a, x, NULL, 0, o, why, whylen)) < 0)
				break;
		}
	} else if (json_is_string(v) && o->split != NULL)
		rc = split_into(a, v, o, why, whylen);
	else
		rc = append_one(a, v, NULL, 0, o, why, whylen);
	if (rc < 0 || json_array_size(a) == 0) {
		json_decref(a);
		return rc;
	}
	/* An array that came in right stays the same value. */
	if (json_equal(a, (json_t *)v)) {
		json_decref(a);
		a = json_incref((json_t *)v);
	}
	*out = a;
	return 1;
}

int
cdb_coerce(const json_t *v, const cdb_coerce_opts *o, json_t **out, char *why,
    size_t whylen)
{
	*out = NULL;
	if (o->array)
		return to_array(v, o, out, why, whylen);
	if (json_is_array(v))
		return refuse(v, cdb_schema_type_name(o->type, 0), why, whylen);
	return scalar(v, o, out, why, whylen);
}

/* n digits at *s as a number; advances *s.  -1 if not all digits. */
static int
digits(const char **s, int n)
{
	int v = 0;

	while (n-- > 0) {
		if (**s < '0' || **s > '9')
			return -1;
		v = v * 10 + (*(*s)++ - '0');
	}
	return v;
}

static int
days_in_month(int y, int m)
{
	static const int dm[] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

/* The zone at s: "", "Z", "+HH", "+HHMM", "+HH:MM".  Seconds east. */
static int
zone(const char *s, long long *off)
{
	int sign, h, m = 0;

	*off = 0;
	if (*s == '\0' || ((*s == 'Z' || *s == 'z') && s[1] == '\0'))
		return 0;
	if (*s != '+' && *s != '-')
		return -1;
	sign = *s++ == '-' ? -1 : 1;
	if ((h = digits(&s, 2)) == -1 || h > 23)
		return -1;
	if (*s == ':')
		s++;
	if (*s != '\0' && ((m = digits(&s, 2)) == -1 || m > 59))
		return -1;
	if (*s != '\0')
		return -1;
	*off = sign * (h * 3600LL + m * 60LL);
	return 0;
}

/* The time of day after the date: "THH:MM[:SS[.fff]]" or nothing. */
static int
time_of_day(const char **sp, long long *secs)
{
	const char *s = *sp;
	int h, mi, sec = 0;

	*secs = 0;
	if (*s != 'T' && *s != 't' && *s != ' ')
		return 0;
	s++;
	if ((h = digits(&s, 2)) == -1 || *s++ != ':' ||
	    (mi = digits(&s, 2)) == -1 || h > 23 || mi > 59)
		return -1;
	if (*s == ':') {
		s++;
		/* 60: a leap second. */
		if ((sec = digits(&s, 2)) == -1 || sec > 60)
			return -1;
		if (*s == '.' || *s == ',') {
			if (s[1] < '0' || s[1] > '9')
				return -1;
			for (s++; *s >= '0' && *s <= '9'; s++)
				;
		}
	}
	*secs = h * 3600LL + mi * 60LL + sec;
	*sp = s;
	return 0;
}

int
cdb_coerce_date_parse(const char *s, long long *epoch)
{
	struct tm tm;
	long long secs, off;
	int y, m, d;

	if ((y = digits(&s, 4)) == -1 || *s++ != '-' ||
	    (m = digits(&s, 2)) == -1 || *s++ != '-' ||
	    (d = digits(&s, 2)) == -1)
		return -1;
	if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return -1;
	if (time_of_day(&s, &secs) == -1 || zone(s, &off) == -1)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	*epoch = (long long)timegm(&tm) + secs - off;
	return 0;
}

int
cdb_coerce_date_format(long long epoch, char out[CDB_DATE_LEN])
{
	time_t t = (time_t)epoch;
	struct tm tm;

	/* Years 0000-9999: four digits, as ISO 8601 writes them. */
	if (epoch < -62167219200LL || epoch > 253402300799LL ||
	    gmtime_r(&t, &tm) == NULL)
		return -1;
	return snprintf(out, CDB_DATE_LEN, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	           tm.tm_min, tm.tm_sec) == CDB_DATE_LEN - 1
	    ? 0
	    : -1;
}
