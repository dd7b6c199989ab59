/*
 * embed.h - embedding vectors: exact float32 parsing and shortest
 * round-trip formatting of JSON number arrays, base64 little-endian
 * float32 packing (Chroma's wire form), and sanity checks.  These run on
 * every component of every vector that crosses the pipe, so they
 * allocate nothing: callers pass the output storage.
 */
#ifndef CDB_EMBED_H
#define CDB_EMBED_H

#include <stddef.h>

#include "cdb.h"

/* Longest text cdb_embed_format_float writes, without the NUL. */
#define CDB_FLOAT_MAXLEN 16

/*
 * Parse one JSON number at s (at most n bytes) as float32, correctly
 * rounded (identical to strtof on the same text).  On success stores the
 * value in *out, the number of bytes consumed in *used, and returns 0.
 * Returns -1 when s does not start with a JSON number or the value is
 * out of float range (overflow to infinity).
 */
int cdb_embed_parse_float(const char *s, size_t n, float *out, size_t *used);

/*
 * Write the shortest decimal text that parses back (as float32) to the
 * identical bits of f.  Valid JSON number syntax; f must be finite.
 * buf must hold CDB_FLOAT_MAXLEN + 1 bytes.  Returns the length written
 * (buf is NUL-terminated).
 */
size_t cdb_embed_format_float(float f, char *buf);

/*
 * Parse a JSON array of numbers, "[1,2.5e-3, -0.25]" with optional
 * whitespace, from s (n bytes).  Stores up to cap values in out and the
 * count in *dim.  Returns the bytes consumed (through the closing ']'),
 * or -1 with e filled: not an array, a non-number element, a number out
 * of float32 range, or more than cap elements.
 */
long cdb_embed_parse_json(const char *s, size_t n, float *out, size_t cap,
    size_t *dim, cdb_error *e);

/*
 * The length of the array at s if it is plain decimals ("[-0.125,3]":
 * compact JSON numbers with no exponent and at most 20 integer digits,
 * so within float32's range), with its number of values in *dim; 0 for
 * anything else.  Checks without converting, for callers that copy the
 * text (a fraction of the work of cdb_embed_scan_json).
 */
long cdb_embed_plain_json(const char *s, size_t n, size_t *dim);

/*
 * cdb_embed_parse_json that also reports in *verbatim (when not NULL)
 * whether the text is compact (no white space), so a caller may copy it
 * unchanged: having parsed, every element reads back as the same float32
 * (cdb-ndjson(5) does not ask for the fewest digits).
 */
long cdb_embed_scan_json(const char *s, size_t n, float *out, size_t cap,
    size_t *dim, int *verbatim, cdb_error *e);

/* Append "[v0,v1,...]" in shortest round-trip form to b.  0 or -1. */
int cdb_embed_format_json(const float *v, size_t dim, cdb_buf *b);

/* Bytes cdb_embed_b64_encode writes for dim floats (no NUL). */
size_t cdb_embed_b64_len(size_t dim);

/*
 * Append the standard base64 (with '=' padding) of the little-endian
 * float32 bytes of v to b.  0, or -1 on allocation failure.
 */
int cdb_embed_b64_encode(const float *v, size_t dim, cdb_buf *b);

/*
 * Decode standard base64 text s (n bytes) of little-endian float32 values
 * into out (room for cap floats), count in *dim.  Returns 0, or -1 with e
 * filled: bad character, bad padding, or byte length not a multiple of 4,
 * or more than cap values.
 */
int cdb_embed_b64_decode(const char *s, size_t n, float *out, size_t cap,
    size_t *dim, cdb_error *e);

/*
 * Check a vector: every value finite, and dim == want when want > 0.
 * Returns 0, or -1 with e saying what is wrong, e.g. "embedding has 383
 * values, collection expects 384" or "embedding value 17 is not finite".
 */
int cdb_embed_check(const float *v, size_t dim, size_t want, cdb_error *e);

#endif
