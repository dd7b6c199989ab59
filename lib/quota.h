/*
 * quota.h - the quotas a target enforces on what it stores (Chroma
 * Cloud's, or a file's), checked line by line before anything is
 * written.
 */
#ifndef CDB_QUOTA_H
#define CDB_QUOTA_H

#include "cdb.h"
#include "ndjson.h"

/* Every field: the largest value allowed; 0: no limit. */
typedef struct cdb_quota {
	long long records_per_write;
	long long records_per_collection;
	long long dimension;
	long long id_bytes;
	long long document_bytes;
	long long uri_bytes;
	long long collection_name_bytes;
	long long metadata_key_bytes;
	long long record_metadata_keys;
	long long record_metadata_value_bytes;
	long long collection_metadata_keys;
	long long collection_metadata_value_bytes;
} cdb_quota;

/* Called once for each limit a line breaks. */
typedef void cdb_quota_fn(void *arg, long line, const char *msg);

/*
 * Fill l from "chroma-cloud" (the documented quotas; see cdb-import(1))
 * or from the JSON file at spec with the same field names.  0, or -1
 * with e.
 */
int cdb_quota_load(const char *spec, cdb_quota *l, cdb_error *e);

/*
 * Check a collection or record line; nth is a record's ordinal in its
 * collection (1 for the first).  Calls fn for every limit broken and
 * returns how many were.
 */
int cdb_quota_check(const cdb_quota *l, const cdb_item *it, long long nth,
    cdb_quota_fn *fn, void *arg);

#endif
