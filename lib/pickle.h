/*
 * pickle.h - a strict reader of the pickles Chroma keeps beside an hnswlib
 * index (index_metadata.pickle): a dict of None, bools, ints, floats,
 * strings, lists and dicts.  Only the opcodes such a value needs are
 * accepted; anything else (globals, objects, reductions, memo references)
 * is refused with the file and offset, never executed or guessed.
 */
#ifndef CDB_PICKLE_H
#define CDB_PICKLE_H

#include <stdio.h>

#include "cdb.h"

enum cdb_pickle_type {
	CDB_PICKLE_NONE = 1,
	CDB_PICKLE_BOOL,
	CDB_PICKLE_INT,
	CDB_PICKLE_FLOAT,
	CDB_PICKLE_STR,
	CDB_PICKLE_LIST,
	CDB_PICKLE_DICT
};

typedef struct cdb_pickle_val {
	int type;                 /* enum cdb_pickle_type */
	long long i;              /* BOOL (0/1) and INT */
	double f;                 /* FLOAT */
	char *s;                  /* STR: UTF-8 bytes, NUL-terminated */
	size_t len;               /* STR: bytes; LIST: items; DICT: pairs */
	struct cdb_pickle_val *v; /* LIST: len items; DICT: 2*len, k v */
	size_t cap;
	int depth; /* containers nested inside */
} cdb_pickle_val;

/*
 * Read the pickle in fp (called name in messages).  With keep non-NULL
 * (a NULL-terminated list of string keys) and a dict at the top, pairs
 * of the top dict under other keys are checked and dropped at once, so
 * memory holds only what the caller wants.  Returns the value, to free
 * with cdb_pickle_free, or NULL with e naming the file and offset.
 */
cdb_pickle_val *cdb_pickle_read(
    FILE *fp, const char *name, const char *const *keep, cdb_error *e);
void cdb_pickle_free(cdb_pickle_val *v);

/* The value under string key k of dict d, or NULL (borrowed). */
const cdb_pickle_val *cdb_pickle_get(const cdb_pickle_val *d, const char *k);

#endif
