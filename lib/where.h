/*
 * where.h - conditions on a record's metadata, in the style of Chroma's
 * "where" filters, used by the schema to route records of one source
 * collection into several targets.
 *
 *   {"kind": "joke"}                      equality
 *   {"year": {"$gte": 2020, "$lt": 2025}}  every operator must hold
 *   {"$and": [...]}, {"$or": [...]}
 *
 * Operators: $eq $ne $gt $gte $lt $lte (numbers, or strings compared
 * byte-wise), $in $nin (an array of values), $contains (an element of an
 * array value, or a substring of a string value), $exists (true/false).
 * Ints and reals compare by value.  Several keys in one object must all
 * hold.  A condition on a key the metadata lacks is false, except
 * {"$exists": false}.
 */
#ifndef CDB_WHERE_H
#define CDB_WHERE_H

#include <jansson.h>
#include <stddef.h>

#include "cdb.h"

/*
 * Check that cond is a well-formed condition.  Returns 0, or -1 with e
 * holding "PATH: what is wrong" (path is the place of cond in its file,
 * e.g. "collections.humor.from[0].where").
 */
int cdb_where_check(const json_t *cond, const char *path, cdb_error *e);

/*
 * snprintf for the places in a schema file that messages name
 * ("fields.x.from[2]"): a place too long for out (n bytes) is cut, not an
 * error.  The one such formatter of where.c and schema.c.
 */
void cdb_where_pathf(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Does metadata (an object, or NULL for none) satisfy cond?  1 or 0. */
int cdb_where_match(const json_t *cond, const json_t *metadata);

#endif
