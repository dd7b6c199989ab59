/*
 * json_fast.h - a fast JSON parser for the common case of the stream's
 * lines, building the same jansson values jansson's own parser would.
 *
 * jansson reads text one character at a time through a stream layer;
 * on the record lines of a migration that was half of cdb-transform's
 * time.  This parser scans strings and numbers directly and declines
 * anything it is not certain to treat exactly like jansson (invalid
 * UTF-8, control characters, lone surrogates, numbers out of range, deep
 * nesting, keys holding NUL, malformed text): the caller then asks
 * jansson, so results and error messages stay jansson's.
 */
#ifndef CDB_JSON_FAST_H
#define CDB_JSON_FAST_H

#include <jansson.h>
#include <stddef.h>

/*
 * Parse the JSON object text s (n bytes, optional white space around).
 * Returns a new reference equal to what json_loadb(s, n,
 * CDB_JSON_FLAGS) returns, or NULL when the text is not one this parser
 * handles: then call jansson.
 */
json_t *cdb_json_fast_load(const char *s, size_t n);

#endif
