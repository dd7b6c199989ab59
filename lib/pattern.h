/*
 * pattern.h - the "pattern" of a schema field (cdb-schema(5)): a POSIX
 * extended regular expression that a string value must match as a whole.
 *
 * A pattern is checked on its own before it is anchored, so text such as
 * "a)|(b" cannot break out of the anchoring; back-references and GNU
 * escapes (outside POSIX ERE, and back-references cost exponential time)
 * are refused; and its size, with every counted repetition {m,n}
 * counted as n copies of what it repeats, is bounded, so a match costs
 * at most a fixed amount of work per byte of the value.
 */
#ifndef CDB_PATTERN_H
#define CDB_PATTERN_H

#include <stddef.h>

/* Largest size a pattern may have, counted as above. */
#define CDB_PATTERN_MAX_COST 1000

typedef struct cdb_pattern cdb_pattern;

/*
 * Compile pat.  NULL with why (n bytes) saying what is wrong, e.g. "a
 * back-reference (\1) is not POSIX ERE", or empty when out of memory.
 * Free with cdb_pattern_free.
 */
cdb_pattern *cdb_pattern_new(const char *pat, char *why, size_t n);
void cdb_pattern_free(cdb_pattern *p);

/*
 * 1 when the whole of s (len bytes) matches, else 0.  A value holding a
 * NUL never matches: no POSIX pattern can say NUL.
 */
int cdb_pattern_match(const cdb_pattern *p, const char *s, size_t len);

#endif
