/*
 * rules.h - Chroma's own rules for what a target accepts, applied by
 * cdb-import --dry-run so that it fails where the import would, before
 * anything is written.  The checks every reader of a stream makes (ids,
 * metadata types, embeddings) stay in ndjson.c; these are the ones that
 * depend on the target.
 *
 * Sources (chroma-core/chroma): rust/types/src/validators.rs
 * (validate_name: collection names; validate_metadata_key: metadata
 * keys) and the pre-flight answer of rust/frontend (a server that does
 * not announce "supports_base64_encoding", such as Chroma 1.0.x, has a
 * MetadataValue without the array variants).
 */
#ifndef CDB_RULES_H
#define CDB_RULES_H

#include "cdb.h"
#include "ndjson.h"

/* What the target can store, from its pre-flight answer. */
typedef struct cdb_rules_caps {
	int arrays; /* metadata values may be arrays */
} cdb_rules_caps;

/*
 * A collection name Chroma accepts: 3 to 512 characters from
 * [a-zA-Z0-9._-], starting and ending with a letter or digit, no "..",
 * not an IPv4 address.  0, or -1 with e saying which rule it breaks.
 */
int cdb_rules_collection_name(const char *name, cdb_error *e);

/*
 * A record the target can store: metadata keys not starting with '$'
 * (Chroma reserves them for operators; the reader refuses the other bad
 * keys), and no array values unless caps->arrays.  0, or -1 with e.
 */
int cdb_rules_record(const cdb_item *it, const cdb_rules_caps *caps,
    cdb_error *e);

#endif
