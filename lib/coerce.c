/* coerce.c - value conversions for schema fields; see coerce.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coerce.h"
#include "json.h"

/* A string being worked on: a window into the value, or a private copy. */
struct text {
	const char *s;
	size_t n;
	char *own;
	char small[128];
};

static void
text_done(struct text *t)
{
	free(t->own);
	t->own = NULL;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

/* Trim and lowercase as o says.  0, or -1 on allocation failure. */
static int
text_prepare(struct text *t, const char *s, size_t n, const cdb_coerce_opts *o)
{
	size_t i;
	char *p;

	t->own = NULL;
	if (o->trim) {
		while (n > 0 && is_space(*s))
			s++, n--;
		while (n > 0 && is_space(s[n - 1]))
			n--;
	}
	t->s = s;
	t->n = n;
	if (!o->lowercase)
		return 0;
	for (i = 0; i < n && !(s[i] >= 'A' && s[i] <= 'Z'); i++)
		;
	if (i == n)
		return 0;
	if (n < sizeof(t->small))
		p = t->small;
	else if ((p = t->own = malloc(n + 1)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		p[i] = s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i];
	p[n] = '\0';
	t->s = p;
	return 0;
}

void
cdb_coerce_show(const json_t *v, char *buf, size_t len)
{
	cdb_buf b;

	if (len == 0)
		return;
	cdb_buf_init(&b);
	if (cdb_json_dump(&b, v) == -1 || b.data == NULL) {
		snprintf(buf, len, "(value)");
	} else if (b.len < len && b.len <= 64) {
		memcpy(buf, b.data, b.len + 1);
	} else {
		size_t keep = len - 4 < 60 ? len - 4 : 60;
		/* Do not cut a UTF-8 sequence in two. */
		while (keep > 0 && ((unsigned char)b.data[keep] & 0xc0) == 0x80)
			keep--;
		snprintf(buf, len, "%.*s...", (int)keep, b.data);
	}
	cdb_buf_free(&b);
}

/* "cannot convert VALUE to TYPE" into why. */
static int
refuse(const json_t *v, const char *to, char *why, size_t whylen)
{
	char shown[80];

	cdb_coerce_show(v, shown, sizeof(shown));
	snprintf(why, whylen, "cannot convert %s to %s", shown, to);
	return -1;
}

/* The same for a string held in t (after trimming or splitting). */
static int
refuse_text(const struct text *t, const char *to, char *why, size_t whylen)
{
	json_t *v = json_stringn_nocheck(t->s, t->n);

	refuse(v ? v : json_null(), to, why, whylen);
	json_decref(v);
	return -1;
}

/* A JSON-style number: digits, sign, point, exponent; nothing else. */
static int
numeric_text(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (strchr("0123456789+-.eE", s[i]) == NULL || s[i] == '\0')
			return 0;
	return 1;
}

/* Parse text as a double; 0 or -1. */
static int
text_double(const char *s, size_t n, double *d)
{
	char tmp[72], *end;

	if (!numeric_text(s, n))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
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

/* Parse text as an int64: an integer literal, or a whole decimal. */
static int
text_int(const char *s, size_t n, long long *out)
{
	char tmp[72], *end;
	double d;

	if (!numeric_text(s, n))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	*out = strtoll(tmp, &end, 10);
	if (*end == '\0' && errno == 0)
		return 0;
	if (errno == ERANGE)
		return -1;
	return text_double(s, n, &d) == 0 ? integral(d, out) : -1;
}

static int
text_is(const struct text *t, const char *const *words)
{
	size_t i, j;

	for (i = 0; words[i] != NULL; i++) {
		if (strlen(words[i]) != t->n)
			continue;
		for (j = 0; j < t->n; j++) {
			char c = t->s[j];
			if (c >= 'A' && c <= 'Z')
				c = c - 'A' + 'a';
			if (c != words[i][j])
				break;
		}
		if (j == t->n)
			return 1;
	}
	return 0;
}

static json_t *
text_to_bool(const struct text *t)
{
	static const char *const yes[] = {
	    "true", "t", "yes", "y", "on", "1", NULL};
	static const char *const no[] = {
	    "false", "f", "no", "n", "off", "0", NULL};

	if (text_is(t, yes))
		return json_true();
	if (text_is(t, no))
		return json_false();
	return NULL;
}

static json_t *
epoch_to_iso(long long epoch)
{
	char d[CDB_DATE_LEN];

	return cdb_coerce_date_format(epoch, d) == 0 ? json_string(d) : NULL;
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

/* Convert a string (already trimmed and lowercased) to the type. */
static json_t *
from_text(const json_t *v, const struct text *t, const cdb_coerce_opts *o,
    char *why, size_t whylen)
{
	long long i;
	double d;
	json_t *r = NULL;

	if (o->date != CDB_DATE_NONE) {
		if (text_epoch(t, &i) == 0)
			r = o->date == CDB_DATE_EPOCH ? json_integer(i)
			                              : epoch_to_iso(i);
		if (r == NULL)
			refuse_text(t, "a date", why, whylen);
		return r;
	}
	switch (o->type) {
	case CDB_SCHEMA_STRING:
		/* Unchanged text: the value itself. */
		if (v != NULL && t->s == json_string_value(v) &&
		    t->n == json_string_length(v))
			return json_incref((json_t *)v);
		return json_stringn_nocheck(t->s, t->n);
	case CDB_SCHEMA_INT:
		if (text_int(t->s, t->n, &i) == 0)
			return json_integer(i);
		break;
	case CDB_SCHEMA_FLOAT:
		if (text_double(t->s, t->n, &d) == 0)
			return json_real(d);
		break;
	case CDB_SCHEMA_BOOL:
		if ((r = text_to_bool(t)) != NULL)
			return r;
		break;
	}
	refuse_text(t, cdb_schema_type_name(o->type, 0), why, whylen);
	return NULL;
}

static json_t *
int_to(const json_t *v, const cdb_coerce_opts *o, char *why, size_t whylen)
{
	long long i = json_integer_value(v);
	cdb_buf b;
	json_t *r;

	if (o->date == CDB_DATE_ISO)
		r = epoch_to_iso(i);
	else if (o->type == CDB_SCHEMA_INT)
		return json_incref((json_t *)v);
	else if (o->type == CDB_SCHEMA_FLOAT)
		r = json_real((double)i);
	else if (o->type == CDB_SCHEMA_BOOL)
		r = i == 0 ? json_false() : i == 1 ? json_true() : NULL;
	else {
		cdb_buf_init(&b);
		r = cdb_buf_printf(&b, "%lld", i) == 0 ? json_string(b.data)
		                                       : NULL;
		cdb_buf_free(&b);
	}
	if (r == NULL)
		refuse(v,
		    o->date == CDB_DATE_ISO ? "a date"
		                            : cdb_schema_type_name(o->type, 0),
		    why, whylen);
	return r;
}

static json_t *
real_to(const json_t *v, const cdb_coerce_opts *o, char *why, size_t whylen)
{
	double d = json_real_value(v);
	long long i;
	cdb_buf b;
	json_t *r = NULL;

	if (o->type == CDB_SCHEMA_FLOAT && o->date == CDB_DATE_NONE)
		return json_incref((json_t *)v);
	if (o->type == CDB_SCHEMA_STRING && o->date == CDB_DATE_NONE) {
		cdb_buf_init(&b);
		if (cdb_json_dump_real(&b, d) == 0)
			r = json_string(b.data);
		cdb_buf_free(&b);
	} else if (o->type != CDB_SCHEMA_BOOL && integral(d, &i) == 0) {
		r = o->date == CDB_DATE_ISO ? epoch_to_iso(i) : json_integer(i);
	}
	if (r == NULL)
		refuse(v,
		    o->date != CDB_DATE_NONE ? "a date"
		                             : cdb_schema_type_name(o->type, 0),
		    why, whylen);
	return r;
}

static json_t *
bool_to(const json_t *v, const cdb_coerce_opts *o, char *why, size_t whylen)
{
	if (o->date == CDB_DATE_NONE && o->type == CDB_SCHEMA_BOOL)
		return json_incref((json_t *)v);
	if (o->date == CDB_DATE_NONE && o->type == CDB_SCHEMA_STRING)
		return json_string(json_is_true(v) ? "true" : "false");
	refuse(v,
	    o->date != CDB_DATE_NONE ? "a date"
	                             : cdb_schema_type_name(o->type, 0),
	    why, whylen);
	return NULL;
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
	char tmp[256];

	if (o->map == NULL || t->n >= sizeof(tmp) ||
	    memchr(t->s, '\0', t->n) != NULL)
		return NULL;
	memcpy(tmp, t->s, t->n);
	tmp[t->n] = '\0';
	return json_object_get(o->map, tmp);
}

static int scalar(const json_t *v, const cdb_coerce_opts *o, json_t **out,
    char *why, size_t whylen);

/* One string value: prepare, look up, convert.  As cdb_coerce. */
static int
text_value(const json_t *v, const char *s, size_t n, const cdb_coerce_opts *o,
    json_t **out, char *why, size_t whylen)
{
	struct text t;
	json_t *m;
	int rc = 1;

	if (text_prepare(&t, s, n, o) == -1) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (is_missing(&t, o))
		rc = 0;
	else if ((m = mapped(&t, o)) != NULL) {
		cdb_coerce_opts plain = *o;
		/* Replacements are final words: not trimmed or mapped again. */
		plain.trim = plain.lowercase = 0;
		plain.map = plain.missing = NULL;
		rc = scalar(m, &plain, out, why, whylen);
	} else if ((*out = from_text(v, &t, o, why, whylen)) == NULL)
		rc = -1;
	text_done(&t);
	return rc;
}

/* A scalar to a scalar of the type.  As cdb_coerce. */
static int
scalar(const json_t *v, const cdb_coerce_opts *o, json_t **out, char *why,
    size_t whylen)
{
	switch (json_typeof(v)) {
	case JSON_NULL:
		return 0;
	case JSON_STRING:
		return text_value(v, json_string_value(v),
		    json_string_length(v), o, out, why, whylen);
	case JSON_INTEGER:
		*out = int_to(v, o, why, whylen);
		break;
	case JSON_REAL:
		*out = real_to(v, o, why, whylen);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		*out = bool_to(v, o, why, whylen);
		break;
	default:
		return refuse(v, cdb_schema_type_name(o->type, 0), why, whylen);
	}
	return *out != NULL ? 1 : -1;
}

/* Append the conversion of v to array a; absent values are skipped. */
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
		return -1;
	return rc == -1 ? -1 : 0;
}

/* Empty, or only white space that trimming removes? */
static int
blank(const char *s, size_t n, int trim)
{
	while (trim && n > 0 && is_space(*s))
		s++, n--;
	return n == 0;
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

	while (s <= end) {
		for (p = s; p + dl <= end && memcmp(p, o->split, dl) != 0; p++)
			;
		if (p + dl > end)
			p = end;
		for (b = s, q = p; b < q && is_space(*b); b++)
			;
		while (q > b && is_space(q[-1]))
			q--;
		if (!blank(b, (size_t)(q - b), o->trim) &&
		    append_one(a, NULL, b, (size_t)(q - b), o, why, whylen) ==
		        -1)
			return -1;
		s = p + dl;
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
		return -1;
	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
		{
			if ((rc = append_one(a, x, NULL, 0, o, why, whylen)) ==
			    -1)
				break;
		}
	} else if (json_is_string(v) && o->split != NULL)
		rc = split_into(a, v, o, why, whylen);
	else
		rc = append_one(a, v, NULL, 0, o, why, whylen);
	if (rc == -1 || json_array_size(a) == 0) {
		json_decref(a);
		return rc == -1 ? -1 : 0;
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

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static long long
days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(long long z, long long *y, int *m, int *d)
{
	long long era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
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

	if (*s == '\0')
		return *off = 0, 0;
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0')
		return *off = 0, 0;
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
	int y, m, d;
	long long secs, off;

	if ((y = digits(&s, 4)) == -1 || *s++ != '-' ||
	    (m = digits(&s, 2)) == -1 || *s++ != '-' ||
	    (d = digits(&s, 2)) == -1)
		return -1;
	if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return -1;
	if (time_of_day(&s, &secs) == -1)
		return -1;
	if (zone(s, &off) == -1)
		return -1;
	*epoch = days_from_civil(y, m, d) * 86400 + secs - off;
	return 0;
}

static void
put_digits(char *p, int v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

int
cdb_coerce_date_format(long long epoch, char out[CDB_DATE_LEN])
{
	long long days, secs, y;
	int m, d;

	/* Keep the day arithmetic far from overflow. */
	if (epoch < -62167219200LL || epoch > 253402300799LL)
		return -1;
	days = epoch / 86400;
	secs = epoch % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	/* Digit by digit: every field is in range, so no truncation. */
	put_digits(out, (int)y, 4);
	out[4] = '-';
	put_digits(out + 5, m, 2);
	out[7] = '-';
	put_digits(out + 8, d, 2);
	out[10] = 'T';
	put_digits(out + 11, (int)(secs / 3600), 2);
	out[13] = ':';
	put_digits(out + 14, (int)(secs / 60 % 60), 2);
	out[16] = ':';
	put_digits(out + 17, (int)(secs % 60), 2);
	out[19] = 'Z';
	out[20] = '\0';
	return 0;
}
