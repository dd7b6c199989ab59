/*
 * schema.h - the schema file of cdb-transform and cdb-validate
 * (cdb-schema(5)): which target collection each source record goes to,
 * and the target metadata fields, each with its type, sources,
 * coercions and constraints.
 *
 * The layers, bottom up: pattern.c, where.c and coerce.c (values and
 * conditions, knowing nothing of schemas); schema.c (loading and the
 * checks of one value); schema_apply.c (routing and applying); then the
 * engines that use a schema, transform.c and cdb-validate's.
 *
 * Loading checks the whole file and reports the first problem with its
 * place, "schema.json: fields.chunk_index.type: unknown type \"integr\"".
 * A loaded schema is read-only: one schema may serve several threads.
 *
 * Applying the schema to one source record (cdb_schema_apply) gives the
 * target record (collection, id, metadata) or the reason it cannot be
 * made to fit.  cdb-validate uses the same call to know what a target
 * database must hold, and cdb_schema_check_value to check what it holds.
 */
#ifndef CDB_SCHEMA_H
#define CDB_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

#include "cdb.h"
#include "coerce.h"

/* Why a record was rejected (cdb_schema_result.reason). */
enum cdb_schema_reason {
	CDB_REJECT_NONE = 0,
	CDB_REJECT_ROUTE,     /* no collection mapping takes the record */
	CDB_REJECT_MISSING,   /* required field absent, no default */
	CDB_REJECT_CONVERT,   /* value cannot be converted to the type */
	CDB_REJECT_ENUM,      /* value not among the allowed values */
	CDB_REJECT_PATTERN,   /* string does not match the pattern */
	CDB_REJECT_RANGE,     /* number outside min..max */
	CDB_REJECT_TEMPLATE,  /* template names a field the record lacks */
	CDB_REJECT_ID,        /* rewritten id is empty or too long */
	CDB_REJECT_COLLISION, /* target id already used (set by transform) */
	CDB_REJECT_NREASONS
};

/* A short fixed name of a reason: "cannot convert", "enum", ... */
const char *cdb_schema_reason_name(int reason);

/*
 * One target field, as declared in the file.  Read-only; owned by the
 * schema and valid until cdb_schema_free.
 */
typedef struct cdb_schema_field {
	const char *name;       /* target metadata key */
	int type;               /* enum cdb_schema_type */
	int array;              /* 1: a non-empty array of type */
	int required;           /* must be present in every record */
	const json_t *constant; /* "const" value, or NULL */
	const char *template;   /* "template" text, or NULL */
	const json_t *dflt;     /* "default" (already of the type), or NULL */
	const json_t *enum_values; /* "enum" array (of the type), or NULL */
	const char *pattern;   /* "pattern" (POSIX ERE, whole value), or NULL */
	int has_min, has_max;  /* "min"/"max" given */
	double min, max;       /* inclusive bounds for numbers */
	const char *reference; /* target collection the value must be an
	                          id of ("reference"), or NULL */
	const char *date;      /* "epoch" or "iso8601", or NULL */
} cdb_schema_field;

typedef struct cdb_schema cdb_schema;

/*
 * Load and check the schema file at path (named so in messages).
 * Returns a schema the caller frees with cdb_schema_free, or NULL with e
 * (CDB_ERR_INPUT, or CDB_ERR_SYS when the file cannot be read).
 */
cdb_schema *cdb_schema_load(const char *path, cdb_error *e);

/* The same from text (len bytes), called name in messages. */
cdb_schema *cdb_schema_parse(
    const char *text, size_t len, const char *name, cdb_error *e);

/* Free s.  Accepts NULL. */
void cdb_schema_free(cdb_schema *s);

/* "xxh64:..." of the file's bytes, for provenance.  Borrowed. */
const char *cdb_schema_digest(const cdb_schema *s);

/* Target fields, in file order. */
size_t cdb_schema_nfields(const cdb_schema *s);
const cdb_schema_field *cdb_schema_field_at(const cdb_schema *s, size_t i);
/* The field called name, or NULL. */
const cdb_schema_field *cdb_schema_field_get(
    const cdb_schema *s, const char *name);

/* True when unknown source fields are kept ("unknown_fields": "keep"). */
int cdb_schema_keeps_unknown(const cdb_schema *s);

/* The id template ("id"), or NULL when ids are kept. */
const char *cdb_schema_id_template(const cdb_schema *s);

/* Target collections, in file order. */
size_t cdb_schema_ntargets(const cdb_schema *s);
const char *cdb_schema_target_name(const cdb_schema *s, size_t i);
/* Index of the target called name, or -1. */
int cdb_schema_target_index(const cdb_schema *s, const char *name);

/*
 * The collection line for target t, built from a source collection line
 * src (a cdb-ndjson(5) collection object): the name replaced, metadata
 * and configuration patched with the target's "metadata" and
 * "configuration" (RFC 7386 merge patch), the count null since records
 * may come from several sources, the "schema" null since the source's
 * index schema describes the old metadata keys.  New reference, or NULL
 * on allocation failure.
 */
json_t *cdb_schema_collection_line(
    const cdb_schema *s, int t, const json_t *src);

/*
 * Does any mapping name the source collection (or is there a catch-all)?
 * 1 or 0.  Records of an unmapped collection cannot be routed.
 */
int cdb_schema_maps(const cdb_schema *s, const char *source);

/*
 * Store in *targets (caller's array of cdb_schema_ntargets ints) a 1 for
 * every target that records of the source collection may go to.
 */
void cdb_schema_destinations(
    const cdb_schema *s, const char *source, int *targets);

/*
 * The target of one source record: the first mapping, in file order,
 * that names the source collection and whose "where" (if any) the
 * record's metadata (may be NULL) satisfies; failing that, the first
 * catch-all ("*") mapping the record satisfies.  Returns the target
 * index, or -1 when none takes the record.
 */
int cdb_schema_route(
    const cdb_schema *s, const char *source, const json_t *metadata);

/*
 * The outcome of applying the schema to one record.  Create with
 * cdb_schema_result_new, reuse for every record (cdb_schema_apply resets
 * it), free with cdb_schema_result_free.
 */
typedef struct cdb_schema_result {
	int target;             /* target index, or -1 */
	const char *collection; /* target name (borrowed from the schema) */
	cdb_buf id;             /* target id */
	json_t *metadata;       /* target metadata (owned by the result) */
	/* per field i (cdb_schema_nfields entries): how it was filled */
	unsigned char *how; /* enum cdb_schema_how */
	/* source metadata keys dropped (borrowed from the source record) */
	const char **dropped;
	size_t ndropped;
	/* when rejected */
	int reason;     /* enum cdb_schema_reason */
	int field;      /* index of the field at fault, or -1 */
	char text[512]; /* "field \"x\": cannot convert \"abc\" to int" */
} cdb_schema_result;

enum cdb_schema_how {
	CDB_HOW_ABSENT = 0, /* optional, absent */
	CDB_HOW_COPIED,     /* taken from the source unchanged */
	CDB_HOW_COERCED,    /* taken from the source, converted */
	CDB_HOW_DEFAULT,    /* filled with the default */
	CDB_HOW_CONSTANT,   /* the constant */
	CDB_HOW_TEMPLATE    /* built from the template */
};

/* A result for schema s.  Free with cdb_schema_result_free.  NULL: ENOMEM */
cdb_schema_result *cdb_schema_result_new(const cdb_schema *s);
void cdb_schema_result_free(cdb_schema_result *r);

/*
 * Apply s to one source record of collection source: route it, build the
 * target metadata field by field, rewrite the id.  metadata may be NULL.
 * Returns 0 with r filled, 1 when the record is rejected (r->reason,
 * r->field and r->text say why), -1 on allocation failure (e).
 * The caller adds an id collision check (CDB_REJECT_COLLISION) itself.
 */
int cdb_schema_apply(const cdb_schema *s, const char *source, const char *id,
    size_t id_len, const json_t *document, const json_t *metadata,
    const json_t *uri, cdb_schema_result *r, cdb_error *e);

/*
 * Check a value already in a target record against field f: exact type
 * (a float field takes only reals), enum, pattern and range.  Conversions
 * are not applied.  Returns 0, or -1 with e ("field \"x\": ...").
 */
int cdb_schema_check_value(const cdb_schema *s, const cdb_schema_field *f,
    const json_t *v, cdb_error *e);

#endif
