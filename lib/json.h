/*
 * json.h - JSON helpers on top of jansson, which parses every line and
 * answer: the parse flags cdb uses everywhere; a compact serializer that
 * keeps every value's type and bits (reals stay reals, doubles print in
 * shortest round-trip form, NUL inside strings survives); and a light
 * scanner that finds one key's value in a JSON text without building
 * it, so megabytes of embedding numbers never become jansson nodes.
 */
#ifndef CDB_JSON_H
#define CDB_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "cdb.h"

/*
 * Flags every libcdb parse uses: NUL in strings is data, not an end; a
 * duplicate key is an error (cdb-ndjson(5)), since readers disagree on
 * which of the two counts.
 */
#define CDB_JSON_FLAGS (JSON_ALLOW_NUL | JSON_DECODE_ANY | JSON_REJECT_DUPLICATES)

/* Append v's compact text to b, keys in order.  0, or -1 (out of memory,
 * a non-finite real). */
int cdb_json_dump(cdb_buf *b, const json_t *v);

/* Append s (n bytes, may hold NUL) as a JSON string literal. */
int cdb_json_dump_string(cdb_buf *b, const char *s, size_t n);

/* Parse s (n bytes) with CDB_JSON_FLAGS: a new reference the caller
 * json_decrefs, or NULL with e ("at column N: ..." or out of memory). */
json_t *cdb_json_load(const char *s, size_t n, cdb_error *e);

/* The first offset at or after i that is not JSON white space: the one
 * skipper for every scan of JSON text in lib. */
size_t cdb_json_skip_ws(const char *s, size_t n, size_t i);

/* Length of the JSON value at s after white space, or -1 if incomplete.
 * Only structure is checked: a full parse validates the rest. */
long cdb_json_skip(const char *s, size_t n);

/*
 * In the JSON object text s (n bytes), find the top-level key (plain
 * ASCII, compared byte for byte) and store the offsets of its value's
 * first byte and one past its last in *vs and *ve.  With ve NULL the
 * value is not read (for callers that parse it themselves) and only *vs
 * is set.  Returns 1 when found, 0 when absent, -1 when s is not an
 * object.
 */
int cdb_json_find(const char *s, size_t n, const char *key, size_t *vs,
    size_t *ve);

/* Length of s's leading run that needs no escape in a JSON string. */
size_t cdb_json_plain_run(const char *s, size_t n);

/* True when o[key] is the string want. */
int cdb_json_str_is(const json_t *o, const char *key, const char *want);

/* The real d as shortest round-trip text, always reading back as a real. */
int cdb_json_dump_real(cdb_buf *b, double d);

#endif
