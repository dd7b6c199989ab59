/*
 * coerce.h - the bottom layer of the schema code: turning one loose
 * source value into a value of a field's type: "42" -> 42, "yes" -> true,
 * "2024-03-05" -> epoch seconds and back, "a, b" -> ["a","b"], trimming,
 * lowercasing, value maps.  Every conversion is exact or refused: nothing
 * is rounded, no text is guessed at.  It knows types, not schemas:
 * schema.c and schema_apply.c call it, never the other way round.
 */
#ifndef CDB_COERCE_H
#define CDB_COERCE_H

#include <jansson.h>
#include <stddef.h>

/* The scalar type of a schema field (arrays: a flag beside it). */
enum cdb_schema_type {
	CDB_SCHEMA_STRING = 1,
	CDB_SCHEMA_INT,
	CDB_SCHEMA_FLOAT,
	CDB_SCHEMA_BOOL
};

/* The name of a type for messages: "int", "string[]", ... */
const char *cdb_schema_type_name(int type, int array);

/* How a field reads dates (cdb_coerce_opts.date). */
enum cdb_coerce_date {
	CDB_DATE_NONE = 0,
	CDB_DATE_EPOCH, /* int field: seconds since 1970-01-01T00:00:00Z */
	CDB_DATE_ISO    /* string field: "YYYY-MM-DDTHH:MM:SSZ" */
};

/* Room for a formatted date and its NUL. */
#define CDB_DATE_LEN 21

typedef struct cdb_coerce_opts {
	int type;              /* enum cdb_schema_type */
	int array;             /* the target is an array of type */
	int trim;              /* strip white space around strings */
	int lowercase;         /* ASCII letters of strings to lower case */
	const char *split;     /* delimiter that cuts a string into an array */
	const json_t *map;     /* object: source string -> replacement */
	int date;              /* enum cdb_coerce_date */
	const json_t *missing; /* array of strings that mean "absent" */
} cdb_coerce_opts;

/* cdb_coerce's answer when memory ran out (why is not written). */
#define CDB_COERCE_OOM (-2)

/*
 * Convert v as o says.  Strings are trimmed and lowercased first, then
 * looked up in the map, then converted.  Returns 1 with *out (a new
 * reference; v itself, incref'd, when nothing changed), 0 when the value
 * counts as absent (null, a "missing" string, an array left empty), -1
 * with why (NUL-terminated, at most whylen bytes) saying what cannot be
 * converted: "cannot convert \"abc\" to int", or CDB_COERCE_OOM.
 */
int cdb_coerce(const json_t *v, const cdb_coerce_opts *o, json_t **out,
    char *why, size_t whylen);

/*
 * Parse an ISO 8601 date: "YYYY-MM-DD", optionally followed by 'T' (or
 * 't' or a space) and "HH:MM", ":SS", ".fraction", and by 'Z' or an
 * offset "+HH:MM", "+HHMM" or "+HH".  No offset means UTC.  A fraction
 * of a second is dropped.  Stores the seconds since the epoch in *epoch.
 * Returns 0, or -1 when s is not such a date or names a day that does
 * not exist.
 */
int cdb_coerce_date_parse(const char *s, long long *epoch);

/*
 * Write epoch as "YYYY-MM-DDTHH:MM:SSZ" (UTC) into out.  Returns 0, or -1
 * when the year is outside 0000-9999.
 */
int cdb_coerce_date_format(long long epoch, char out[CDB_DATE_LEN]);

/*
 * Write a value into buf for messages: its JSON text, cut to fit
 * with "..." (buf holds len bytes).
 */
void cdb_coerce_show(const json_t *v, char *buf, size_t len);

#endif
