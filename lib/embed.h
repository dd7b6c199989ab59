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
 * The JSON number at s (at most n bytes) as float32, correctly rounded
 * (as strtof), in *out and its length in *used: 0, or -1 when s does not
 * start with a JSON number or it overflows float32.
 */
int cdb_embed_parse_float(const char *s, size_t n, float *out, size_t *used);

/* Write into buf (CDB_FLOAT_MAXLEN + 1 bytes, any of which it may use)
 * the shortest JSON number that reads back as f (finite); returns its
 * length. */
size_t cdb_embed_format_float(float f, char *buf);

/*
 * The JSON number array at s (n bytes, white space allowed) into out (at
 * most cap values), the count in *dim.  Returns the bytes through its
 * ']', or -1 with e: not an array of float32 numbers, or more than cap.
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

/* Append the base64 (padded) of v's little-endian float32 bytes to b.
 * 0, or -1 when out of memory. */
int cdb_embed_b64_encode(const float *v, size_t dim, cdb_buf *b);

/* Decode base64 s (n bytes) of little-endian float32 values into out (at
 * most cap), the count in *dim.  0, or -1 with e saying what is wrong. */
int cdb_embed_b64_decode(const char *s, size_t n, float *out, size_t cap,
    size_t *dim, cdb_error *e);

/* Every value finite?  0, or -1 with e ("embedding value at index 17 is
 * not finite"). */
int cdb_embed_check(const float *v, size_t dim, cdb_error *e);

#endif
