/*
 * schema_impl.h - the inside of a loaded schema: written by schema.c
 * (loading), read by schema_apply.c (applying), which sits above it;
 * schema.c never calls into schema_apply.c.  Not part of the library's
 * API: only those two files include it.
 */
#ifndef CDB_SCHEMA_IMPL_H
#define CDB_SCHEMA_IMPL_H

#include "coerce.h"
#include "hmap.h"
#include "pattern.h"
#include "schema.h"

/* Where a field's value comes from. */
enum { SRC_META = 0, SRC_ID, SRC_COLL, SRC_DOC, SRC_URI };

struct source {
	const char *name; /* metadata key, or "$id", ... */
	int kind;
};

/* A template part: literal text, or a reference (ref != REF_LIT). */
enum { REF_LIT = -1, REF_ID = -2, REF_COLL = -3, REF_SRC = -4 };

struct part {
	const char *lit; /* into the template text */
	size_t len;
	int ref; /* field index >= 0, or REF_* */
};

struct tpl {
	struct part *p;
	size_t n;
};

struct field {
	cdb_schema_field pub;
	struct source *from;
	size_t nfrom;
	cdb_coerce_opts co;
	cdb_pattern *re; /* or NULL */
	cdb_hmap *enum_set; /* enum value key -> index, or NULL */
	struct tpl tpl;
};

struct route {
	const char *source; /* "*": catch-all */
	const json_t *where;
	int target;
};

struct target {
	const char *name;
	const json_t *metadata, *configuration; /* merge patches or NULL */
};

struct cdb_schema {
	char digest[23];
	json_t *root;     /* the file; strings above point into it */
	json_t *owned;    /* converted defaults, constants, enums */
	json_t *fieldidx; /* field name -> index */
	json_t *consumed; /* source keys some field reads */
	struct field *fields;
	size_t nfields;
	struct target *targets;
	size_t ntargets;
	struct route *routes;
	size_t nroutes;
	const char *id_template;
	struct tpl idtpl;
	int keep;
	const json_t *missing;
};

/* The enum, pattern and range checks of f on v; a reason, or 0. */
int cdb_schema_i_check(
    const struct field *f, const json_t *v, char *why, size_t n);

#endif
