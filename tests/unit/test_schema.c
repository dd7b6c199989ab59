/*
 * The schema file: what loads, what is refused with which message, and
 * what applying a schema makes of records.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "schema.h"

/* A minimal valid schema around the given fields object text. */
#define WRAP(fields)                                                           \
	"{\"collections\":{\"target\":{\"from\":\"src\"}},\"fields\":" fields  \
	"}"

static cdb_schema *
parse(const char *text)
{
	cdb_error e;
	cdb_schema *s;

	cdb_error_clear(&e);
	s = cdb_schema_parse(text, strlen(text), "s.json", &e);
	ck_assert_msg(s != NULL, "%s", e.text);
	return s;
}

static void
refused(const char *text, const char *msg)
{
	cdb_error e;

	cdb_error_clear(&e);
	ck_assert_ptr_null(cdb_schema_parse(text, strlen(text), "s.json", &e));
	ck_assert_int_eq(e.kind, CDB_ERR_INPUT);
	ck_assert_str_eq(e.text, msg);
}

static char *
dump(const json_t *v)
{
	cdb_buf b;

	cdb_buf_init(&b);
	ck_assert_int_eq(cdb_json_dump(&b, v), 0);
	return b.data;
}

/*
 * Apply s to a record of collection src with id "r1" and metadata m
 * (JSON text).  Returns the result (caller frees) and its rc in *rc.
 */
static cdb_schema_result *
apply(const cdb_schema *s, const char *src, const char *m, int *rc)
{
	cdb_schema_result *r = cdb_schema_result_new(s);
	json_t *meta = json_loads(m, JSON_DECODE_ANY, NULL);
	json_t *doc = json_string("the document");
	cdb_error e;

	ck_assert_ptr_nonnull(r);
	cdb_error_clear(&e);
	*rc = cdb_schema_apply(s, src, "r1", 2, doc, meta, NULL, r, &e);
	json_decref(meta);
	json_decref(doc);
	return r;
}

/* Apply and expect success: the target metadata as JSON text. */
static void
gives(const cdb_schema *s, const char *src, const char *m, const char *want)
{
	int rc;
	cdb_schema_result *r = apply(s, src, m, &rc);
	char *got;

	ck_assert_msg(rc == 0, "rejected: %s", r->text);
	got = dump(r->metadata);
	ck_assert_str_eq(got, want);
	free(got);
	cdb_schema_result_free(r);
}

/* Apply and expect a reject with the reason and exact text. */
static void
rejects(const cdb_schema *s, const char *src, const char *m, int reason,
    const char *text)
{
	int rc;
	cdb_schema_result *r = apply(s, src, m, &rc);

	ck_assert_int_eq(rc, 1);
	ck_assert_int_eq(r->reason, reason);
	ck_assert_str_eq(r->text, text);
	cdb_schema_result_free(r);
}

START_TEST(test_default_schema_loads)
{
	cdb_error e;
	cdb_schema *s;
	const cdb_schema_field *f;

	cdb_error_clear(&e);
	s = cdb_schema_load("schemas/default.json", &e);
	ck_assert_msg(s != NULL, "%s", e.text);
	ck_assert_uint_eq(cdb_schema_nfields(s), 13);
	ck_assert_uint_eq(cdb_schema_ntargets(s), 4);
	ck_assert_str_eq(cdb_schema_target_name(s, 0), "personality");
	ck_assert_int_eq(cdb_schema_target_index(s, "corpus"), 3);
	ck_assert_int_eq(cdb_schema_target_index(s, "nope"), -1);
	ck_assert_int_eq(cdb_schema_keeps_unknown(s), 0);
	ck_assert_ptr_null(cdb_schema_id_template(s));
	ck_assert_int_eq(strncmp(cdb_schema_digest(s), "xxh64:", 6), 0);
	f = cdb_schema_field_get(s, "chunk_index");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->type, CDB_SCHEMA_INT);
	ck_assert(f->required && f->has_min && f->min == 0 && !f->has_max);
	f = cdb_schema_field_get(s, "tags");
	ck_assert(f->type == CDB_SCHEMA_STRING && f->array);
	f = cdb_schema_field_get(s, "language");
	ck_assert_uint_eq(json_array_size(f->enum_values), 2);
	ck_assert_str_eq(json_string_value(f->dflt), "en");
	ck_assert_str_eq(cdb_schema_field_get(s, "citation")->template,
	    "if://chunk/{collection}/{id}");
	ck_assert_str_eq(
	    cdb_schema_field_get(s, "derived_from")->reference, "corpus");
	ck_assert_int_eq(
	    json_integer_value(
	        cdb_schema_field_get(s, "schema_version")->constant),
	    2);
	ck_assert_str_eq(cdb_schema_field_at(s, 0)->name, "source_id");
	ck_assert_ptr_null(cdb_schema_field_at(s, 13));
	ck_assert_ptr_null(cdb_schema_field_get(s, "nope"));
	cdb_schema_free(s);
	cdb_schema_free(NULL);
}
END_TEST

START_TEST(test_default_schema_messy_record)
{
	cdb_error e;
	cdb_schema *s;

	cdb_error_clear(&e);
	s = cdb_schema_load("schemas/default.json", &e);
	ck_assert_ptr_nonnull(s);
	gives(s, "sergio_humor",
	    "{\"source\":\" humor/doc-1.md \",\"kind\":\"Blog Post\","
	    "\"writer\":\" SERGIO \",\"heading\":\"T\",\"date\":\"\","
	    "\"created\":\"1709596800\",\"lang\":\"Español\",\"chunk_no\":\" "
	    "3\",\"n_chunks\":12.0,\"tokens\":\" 57 \",\"keywords\":[\"Wit\","
	    "\" irony\"],\"corpus_ref\":\"sergio_corpus-00001 \","
	    "\"legacy_score\":0.5}",
	    "{\"source_id\":\"humor/doc-1.md\",\"source_type\":\"essay\","
	    "\"author\":\"Sergio\",\"title\":\"T\",\"created_at\":1709596800,"
	    "\"language\":\"es\",\"chunk_index\":3,\"chunk_count\":12,"
	    "\"token_count\":57,\"tags\":[\"wit\",\"irony\"],\"citation\":"
	    "\"if://chunk/humor/r1\",\"schema_version\":2,\"derived_from\":"
	    "\"sergio_corpus-00001\"}");
	rejects(s, "sergio_humor",
	    "{\"source\":\"humor/a.md\",\"type\":\"essay\",\"title\":\"T\","
	    "\"date\":\"2024-01-01\",\"chunk\":\"abc\",\"total_chunks\":1,"
	    "\"tokens\":5}",
	    CDB_REJECT_CONVERT,
	    "field \"chunk_index\": cannot convert \"abc\" to int");
	rejects(s, "sergio_humor",
	    "{\"source\":\"humor/a.md\",\"type\":\"essay\",\"title\":\"T\","
	    "\"date\":\"2024-01-01\",\"chunk\":1,\"total_chunks\":1,"
	    "\"tokens\":5,\"lang\":\"klingon\"}",
	    CDB_REJECT_ENUM,
	    "field \"language\": \"klingon\" is not one of \"en\", \"es\"");
	rejects(s, "sergio_humor",
	    "{\"source\":\"humor/a.md\",\"type\":\"essay\",\"title\":\"T\","
	    "\"date\":\"1999-12-31\",\"chunk\":1,\"total_chunks\":1,"
	    "\"tokens\":5}",
	    CDB_REJECT_RANGE,
	    "field \"created_at\": 946598400 is below the minimum 946684800");
	rejects(s, "sergio_humor", "{\"type\":\"essay\"}", CDB_REJECT_MISSING,
	    "field \"source_id\": missing: the record has no \"source\", "
	    "\"source_path\" or \"file\" and the field has no default");
	rejects(s, "sergio_humor", "{\"source\":\"Humor/a.md\"}",
	    CDB_REJECT_PATTERN,
	    "field \"source_id\": \"Humor/a.md\" does not match the pattern "
	    "\"[a-z]+/[A-Za-z0-9._/-]+\"");
	rejects(s, "old_stuff", "{}", CDB_REJECT_ROUTE,
	    "the schema maps no collection \"old_stuff\"");
	cdb_schema_free(s);
}
END_TEST

START_TEST(test_refused_files)
{
	refused("{", "s.json:1:1: invalid JSON: string or '}' expected near "
	             "end of file");
	refused("[]", "s.json: expected a JSON object");
	refused("{\"fields\":{},\"collections\":{\"abc\":{\"from\":\"x\"}},"
	        "\"colections\":1}",
	    "s.json: unknown key \"colections\" (did you mean "
	    "\"collections\"?)");
	refused("{\"fields\":{}}", "s.json: no \"collections\"");
	refused("{\"collections\":{\"abc\":{\"from\":\"x\"}}}",
	    "s.json: no \"fields\"");
	refused("{\"version\":2,\"fields\":{},\"collections\":{}}",
	    "s.json: version: this cdb reads schema version 1");
	refused(
	    "{\"unknown_fields\":\"maybe\",\"fields\":{},\"collections\":{}}",
	    "s.json: unknown_fields: expected \"drop\" or \"keep\"");
	refused("{\"missing_values\":[1],\"fields\":{},\"collections\":{}}",
	    "s.json: missing_values: expected an array of strings");
	refused(
	    "{\"fields\":{\"a\":{\"type\":\"int\"},\"a\":{\"type\":\"int\"}},"
	    "\"collections\":{}}",
	    "s.json:1:33: invalid JSON: duplicate object key near '\"a\"'");
}
END_TEST

START_TEST(test_refused_fields)
{
	refused(WRAP("{\"chunk_index\":{\"type\":\"integr\"}}"),
	    "s.json: fields.chunk_index.type: unknown type \"integr\"");
	refused(WRAP("{\"n\":{\"typ\":\"int\"}}"),
	    "s.json: fields.n: unknown key \"typ\" (did you mean \"type\"?)");
	refused(WRAP("{\"n\":{\"type\":\"int\",\"colour\":1}}"),
	    "s.json: fields.n: unknown key \"colour\"");
	refused(WRAP("{\"n\":{}}"), "s.json: fields.n: no \"type\"");
	refused(WRAP("{\"n\":3}"), "s.json: fields.n: expected an object");
	refused(WRAP("{\"n\":{\"type\":\"int\",\"required\":\"yes\"}}"),
	    "s.json: fields.n.required: expected true or false");
	refused(WRAP("{\"n\":{\"type\":\"int\",\"from\":[]}}"),
	    "s.json: fields.n.from: expected at least one source field");
	refused(WRAP("{\"n\":{\"type\":\"int\",\"from\":[\"a\",2]}}"),
	    "s.json: fields.n.from[1]: expected a source field name");
	refused(WRAP("{\"n\":{\"type\":\"int\",\"from\":\"$ID\"}}"),
	    "s.json: fields.n.from: unknown special source \"$ID\" ($id, "
	    "$collection, $document or $uri)");
	refused(WRAP("{\"#n\":{\"type\":\"int\"}}"),
	    "s.json: fields.#n: Chroma does not allow metadata keys that are "
	    "empty or start with '#'");
	refused(WRAP("{\"n\":{\"type\":\"int\",\"default\":\"abc\"}}"),
	    "s.json: fields.n.default: cannot convert \"abc\" to int");
	refused(WRAP("{\"n\":{\"type\":\"int\",\"default\":-1,\"min\":0}}"),
	    "s.json: fields.n.default: -1 is below the minimum 0");
	refused(WRAP("{\"l\":{\"type\":\"string\",\"enum\":[\"en\"],"
	             "\"default\":\"fr\"}}"),
	    "s.json: fields.l.default: \"fr\" is not one of \"en\"");
	refused(WRAP("{\"l\":{\"type\":\"string[]\",\"default\":[]}}"),
	    "s.json: fields.l.default: the value is empty");
	refused(WRAP("{\"n\":{\"type\":\"int\",\"enum\":[1,\"x\"]}}"),
	    "s.json: fields.n.enum[1]: cannot convert \"x\" to int");
	refused(WRAP("{\"n\":{\"type\":\"int\",\"enum\":[]}}"),
	    "s.json: fields.n.enum: expected a non-empty array of values");
	refused(WRAP("{\"n\":{\"type\":\"int\",\"pattern\":\"x\"}}"),
	    "s.json: fields.n.pattern: only string fields have a pattern");
	refused(WRAP("{\"n\":{\"type\":\"string\",\"min\":1}}"),
	    "s.json: fields.n.min: only int and float fields have a range");
	refused(WRAP("{\"n\":{\"type\":\"int\",\"min\":5,\"max\":1}}"),
	    "s.json: fields.n.min: greater than max");
	refused(WRAP("{\"n\":{\"type\":\"int\",\"max\":\"1\"}}"),
	    "s.json: fields.n.max: expected a number");
	refused(WRAP("{\"d\":{\"type\":\"string\",\"date\":\"epoch\"}}"),
	    "s.json: fields.d.date: \"epoch\" dates need a field of type int");
	refused(WRAP("{\"d\":{\"type\":\"int\",\"date\":\"iso8601\"}}"),
	    "s.json: fields.d.date: \"iso8601\" dates need a field of type "
	    "string");
	refused(WRAP("{\"d\":{\"type\":\"int\",\"date\":\"unix\"}}"),
	    "s.json: fields.d.date: expected \"epoch\" or \"iso8601\"");
	refused(WRAP("{\"t\":{\"type\":\"string\",\"split\":\",\"}}"),
	    "s.json: fields.t.split: only array fields are split");
	refused(WRAP("{\"t\":{\"type\":\"string[]\",\"split\":\"\"}}"),
	    "s.json: fields.t.split: expected a non-empty string");
	refused(WRAP("{\"c\":{\"type\":\"int\",\"const\":1,\"from\":\"x\"}}"),
	    "s.json: fields.c: \"const\" excludes \"from\", \"template\" and "
	    "\"default\"");
	refused(WRAP("{\"c\":{\"type\":\"string\",\"template\":\"x\","
	             "\"from\":\"x\"}}"),
	    "s.json: fields.c: \"template\" excludes \"from\"");
	refused(WRAP("{\"r\":{\"type\":\"int\",\"reference\":\"target\"}}"),
	    "s.json: fields.r.reference: a reference field holds ids: its "
	    "type must be string or string[]");
	refused(WRAP("{\"r\":{\"type\":\"string\",\"reference\":\"other\"}}"),
	    "s.json: fields.r.reference: no target collection \"other\" in "
	    "\"collections\"");
	refused(WRAP("{\"l\":{\"type\":\"string\",\"lowercase\":true,"
	             "\"map\":{\"English\":\"en\"}}}"),
	    "s.json: fields.l.map.English: never matches: the field is "
	    "lowercased first");
	refused(WRAP("{\"l\":{\"type\":\"string\",\"trim\":true,"
	             "\"map\":{\"en \":\"en\"}}}"),
	    "s.json: fields.l.map.en : never matches: the field is trimmed "
	    "first");
	refused(WRAP("{\"b\":{\"type\":\"bool\",\"map\":{\"si\":\"maybe\"}}}"),
	    "s.json: fields.b.map.si: cannot convert \"maybe\" to bool");
	refused(WRAP("{\"s\":{\"type\":\"string\",\"pattern\":\"a(\"}}"),
	    "s.json: fields.s.pattern: bad regular expression: Unmatched ( or "
	    "\\(");
}
END_TEST

START_TEST(test_refused_templates)
{
	refused(WRAP("{\"citation\":{\"type\":\"string\",\"template\":"
	             "\"if://{collection}/{chunk_idx}\"},\"chunk_index\":"
	             "{\"type\":\"int\"}}"),
	    "s.json: fields.citation.template: unknown field \"chunk_idx\"");
	refused(WRAP("{\"a\":{\"type\":\"string\",\"template\":\"{b}\"},"
	             "\"b\":{\"type\":\"string\",\"template\":\"x\"}}"),
	    "s.json: fields.a.template: field \"b\" is a later template: a "
	    "template may only use templates defined before it");
	refused(WRAP("{\"a\":{\"type\":\"string\",\"template\":\"{a}\"}}"),
	    "s.json: fields.a.template: field \"a\" is this template: a "
	    "template may only use templates defined before it");
	refused(WRAP("{\"id\":{\"type\":\"string\"},\"c\":{\"type\":"
	             "\"string\",\"template\":\"{id}\"}}"),
	    "s.json: fields.c.template: {id} is ambiguous: a field has the "
	    "built-in's name");
	refused(WRAP("{\"c\":{\"type\":\"string\",\"template\":\"a}b\"}}"),
	    "s.json: fields.c.template: unmatched '}' (write \"}}\" for a "
	    "literal brace)");
	refused(WRAP("{\"c\":{\"type\":\"string\",\"template\":\"a{b\"}}"),
	    "s.json: fields.c.template: '{' without a field name and '}' "
	    "(write \"{{\" for a literal brace)");
	refused("{\"id\":\"{nope}\",\"collections\":{\"abc\":{\"from\":\"x\"}},"
	        "\"fields\":{}}",
	    "s.json: id: unknown field \"nope\"");
}
END_TEST

START_TEST(test_refused_collections)
{
	refused("{\"fields\":{},\"collections\":{}}",
	    "s.json: collections: expected an object of target collections");
	refused("{\"fields\":{},\"collections\":{\"ab\":{\"from\":\"x\"}}}",
	    "s.json: collections.ab: not a valid Chroma collection name "
	    "(3-512 characters among a-z A-Z 0-9 . _ -, a letter or digit at "
	    "both ends, no \"..\")");
	refused("{\"fields\":{},\"collections\":{\"a..b\":{\"from\":\"x\"}}}",
	    "s.json: collections.a..b: not a valid Chroma collection name "
	    "(3-512 characters among a-z A-Z 0-9 . _ -, a letter or digit at "
	    "both ends, no \"..\")");
	refused(
	    "{\"fields\":{},\"collections\":{\"10.0.0.1\":{\"from\":\"x\"}}}",
	    "s.json: collections.10.0.0.1: not a valid Chroma collection name "
	    "(3-512 characters among a-z A-Z 0-9 . _ -, a letter or digit at "
	    "both ends, no \"..\")");
	refused("{\"fields\":{},\"collections\":{\"abc\":{}}}",
	    "s.json: collections.abc: no \"from\": name the source "
	    "collections");
	refused("{\"fields\":{},\"collections\":{\"abc\":{\"from\":[]}}}",
	    "s.json: collections.abc.from: expected at least one source "
	    "collection");
	refused("{\"fields\":{},\"collections\":{\"abc\":{\"from\":\"x\","
	        "\"metadata\":[]}}}",
	    "s.json: collections.abc.metadata: expected an object (a merge "
	    "patch) or null");
	refused(
	    "{\"fields\":{},\"collections\":{\"abc\":{\"from\":\"x\"},"
	    "\"def\":{\"from\":[{\"collection\":\"x\",\"where\":{\"k\":1}}]}}}",
	    "s.json: collections.def.from[0]: never used: collection \"abc\" "
	    "already takes every record of \"x\"");
	refused("{\"fields\":{},\"collections\":{\"abc\":{\"from\":[{"
	        "\"collection\":\"x\",\"where\":{\"k\":{\"$regex\":1}}}]}}}",
	    "s.json: collections.abc.from[0].where.k: unknown operator "
	    "\"$regex\"");
	refused("{\"fields\":{},\"collections\":{\"abc\":{\"from\":[{"
	        "\"colection\":\"x\"}]}}}",
	    "s.json: collections.abc.from[0]: unknown key \"colection\" (did "
	    "you mean \"collection\"?)");
	refused("{\"fields\":{},\"collections\":{\"abc\":{\"from\":[3]}}}",
	    "s.json: collections.abc.from[0]: expected a collection name or an "
	    "object with \"collection\" and \"where\"");
}
END_TEST

START_TEST(test_load_file_errors)
{
	cdb_error e;

	cdb_error_clear(&e);
	ck_assert_ptr_null(cdb_schema_load("/nonexistent/s.json", &e));
	ck_assert_int_eq(e.kind, CDB_ERR_SYS);
	ck_assert_str_eq(e.text, "/nonexistent/s.json: No such file or "
	                         "directory");
}
END_TEST

static const char routing[] =
    "{\"collections\":{"
    "\"jokes\":{\"from\":[{\"collection\":\"humor\",\"where\":{\"kind\":"
    "\"joke\"}}]},"
    "\"quotes\":{\"from\":[{\"collection\":\"humor\",\"where\":{\"kind\":"
    "{\"$in\":[\"quote\",\"aphorism\"]}}},\"quotes_old\"]},"
    "\"rest\":{\"from\":\"*\",\"metadata\":{\"new\":true,\"drop\":null},"
    "\"configuration\":{\"hnsw\":{\"space\":\"ip\"}}}},"
    "\"fields\":{\"kind\":{\"type\":\"string\"}}}";

START_TEST(test_routing)
{
	cdb_schema *s = parse(routing);
	json_t *m = json_pack("{s:s}", "kind", "joke");
	int d[3];

	ck_assert_int_eq(cdb_schema_route(s, "humor", m), 0);
	json_object_set_new(m, "kind", json_string("aphorism"));
	ck_assert_int_eq(cdb_schema_route(s, "humor", m), 1);
	/* Named but no "where" holds: the catch-all takes it. */
	json_object_set_new(m, "kind", json_string("pun"));
	ck_assert_int_eq(cdb_schema_route(s, "humor", m), 2);
	ck_assert_int_eq(cdb_schema_route(s, "humor", NULL), 2);
	ck_assert_int_eq(cdb_schema_route(s, "quotes_old", NULL), 1);
	ck_assert_int_eq(cdb_schema_route(s, "anything", NULL), 2);
	ck_assert_int_eq(cdb_schema_maps(s, "anything"), 1);
	cdb_schema_destinations(s, "humor", d);
	ck_assert(d[0] && d[1] && d[2]);
	cdb_schema_destinations(s, "quotes_old", d);
	ck_assert(!d[0] && d[1] && !d[2]);
	cdb_schema_destinations(s, "other", d);
	ck_assert(!d[0] && !d[1] && d[2]);
	json_decref(m);
	cdb_schema_free(s);
	s = parse(WRAP("{}"));
	ck_assert_int_eq(cdb_schema_maps(s, "other"), 0);
	ck_assert_int_eq(cdb_schema_route(s, "other", NULL), -1);
	cdb_schema_free(s);
}
END_TEST

START_TEST(test_collection_line)
{
	cdb_schema *s = parse(routing);
	json_t *src = json_loads(
	    "{\"kind\":\"collection\",\"name\":\"old\",\"metadata\":{\"drop\":"
	    "1,"
	    "\"keep\":2},\"configuration\":{\"hnsw\":{\"space\":\"l2\","
	    "\"ef_search\":50}},\"schema\":{\"keys\":{}},\"dimension\":3,"
	    "\"count\":7}",
	    0, NULL);
	json_t *line = cdb_schema_collection_line(s, 2, src);
	char *text = dump(line);

	ck_assert_str_eq(text,
	    "{\"kind\":\"collection\",\"name\":\"rest\",\"metadata\":{\"keep\":"
	    "2,"
	    "\"new\":true},\"configuration\":{\"hnsw\":{\"space\":\"ip\","
	    "\"ef_search\":50}},\"schema\":null,\"dimension\":3,\"count\":"
	    "null}");
	free(text);
	json_decref(line);
	/* No patch: the source's metadata and configuration stay. */
	line = cdb_schema_collection_line(s, 0, src);
	text = dump(line);
	ck_assert_str_eq(text,
	    "{\"kind\":\"collection\",\"name\":\"jokes\",\"metadata\":{"
	    "\"drop\":1,"
	    "\"keep\":2},\"configuration\":{\"hnsw\":{\"space\":\"l2\","
	    "\"ef_search\":50}},\"schema\":null,\"dimension\":3,\"count\":"
	    "null}");
	free(text);
	json_decref(line);
	json_decref(src);
	cdb_schema_free(s);
}
END_TEST

/* The source's count stays only where the target is all of it alone. */
START_TEST(test_collection_line_count)
{
	cdb_schema *s = parse(
	    "{\"collections\":{\"docs\":{\"from\":\"old\"},"
	    "\"both\":{\"from\":[\"a\",\"b\"]},"
	    "\"part\":{\"from\":[{\"collection\":\"c\",\"where\":"
	    "{\"kind\":\"x\"}}]}},\"fields\":{\"kind\":{\"type\":"
	    "\"string\"}}}");
	const char *names[] = {"old", "a", "c"};
	json_t *src, *line;
	int t;

	for (t = 0; t < 3; t++) {
		src = json_pack("{s:s,s:s,s:i}", "kind", "collection", "name",
		    names[t], "count", 7);
		line = cdb_schema_collection_line(s, t, src);
		ck_assert_ptr_nonnull(line);
		if (t == 0)
			ck_assert_int_eq(
			    json_integer_value(json_object_get(line, "count")),
			    7);
		else
			ck_assert(json_is_null(json_object_get(line, "count")));
		json_decref(line);
		json_decref(src);
	}
	cdb_schema_free(s);
}
END_TEST

START_TEST(test_sources_defaults_templates)
{
	cdb_schema *s = parse(
	    "{\"id\":\"{collection}:{n}:{id}\",\"unknown_fields\":\"keep\","
	    "\"missing_values\":[\"\",\"-\"],"
	    "\"collections\":{\"target\":{\"from\":\"src\"}},\"fields\":{"
	    "\"n\":{\"type\":\"int\",\"from\":[\"a\",\"b\"],\"required\":true},"
	    "\"name\":{\"type\":\"string\",\"default\":\"anon\"},"
	    "\"opt\":{\"type\":\"float\"},"
	    "\"orig\":{\"type\":\"string\",\"from\":\"$id\"},"
	    "\"src\":{\"type\":\"string\",\"from\":\"$collection\"},"
	    "\"doc\":{\"type\":\"string\",\"from\":\"$document\"},"
	    "\"label\":{\"type\":\"string\",\"template\":\"{{{name}}}-{n}\"},"
	    "\"label2\":{\"type\":\"string\",\"template\":\"{label}/{opt}\","
	    "\"default\":\"none\"},"
	    "\"num\":{\"type\":\"int\",\"template\":\"{n}0\"}}}");
	cdb_schema_result *r;
	int rc;

	/* The first present source wins; "-" counts as missing. */
	gives(s, "src", "{\"a\":\"-\",\"b\":\"7\",\"extra\":[1,2]}",
	    "{\"n\":7,\"name\":\"anon\",\"orig\":\"r1\",\"src\":\"src\","
	    "\"doc\":\"the document\",\"label\":\"{anon}-7\",\"label2\":"
	    "\"none\",\"num\":70,\"extra\":[1,2]}");
	gives(s, "src", "{\"a\":1,\"opt\":2,\"name\":\"x\"}",
	    "{\"n\":1,\"name\":\"x\",\"opt\":2.0,\"orig\":\"r1\",\"src\":"
	    "\"src\","
	    "\"doc\":\"the document\",\"label\":\"{x}-1\",\"label2\":"
	    "\"{x}-1/2.0\",\"num\":10}");
	rejects(s, "src", "{\"b\":\"\"}", CDB_REJECT_MISSING,
	    "field \"n\": missing: the record has no \"a\" or \"b\" and the "
	    "field has no default");
	/* A present but bad value is an error, not a reason to go on. */
	rejects(s, "src", "{\"a\":\"x\",\"b\":2}", CDB_REJECT_CONVERT,
	    "field \"n\": cannot convert \"x\" to int");
	r = apply(s, "src", "{\"a\":5}", &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(r->id.data, "target:5:r1");
	ck_assert_str_eq(r->collection, "target");
	ck_assert_int_eq(r->target, 0);
	ck_assert_int_eq(r->how[0], CDB_HOW_COPIED);
	ck_assert_int_eq(r->how[1], CDB_HOW_DEFAULT);
	ck_assert_int_eq(r->how[2], CDB_HOW_ABSENT);
	ck_assert_int_eq(r->how[6], CDB_HOW_TEMPLATE);
	cdb_schema_result_free(r);
	r = apply(s, "src", "{\"a\":\"5\"}", &rc);
	ck_assert_int_eq(r->how[0], CDB_HOW_COERCED);
	cdb_schema_result_free(r);
	cdb_schema_free(s);
}
END_TEST

START_TEST(test_dropped_and_missing_template)
{
	cdb_schema *s = parse(WRAP(
	    "{\"a\":{\"type\":\"string\",\"from\":\"old_a\"},\"t\":{\"type\":"
	    "\"string\",\"required\":true,\"template\":\"x/{a}\"}}"));
	cdb_schema_result *r = cdb_schema_result_new(s);
	json_t *m =
	    json_loads("{\"old_a\":\"v\",\"junk\":1,\"more\":2}", 0, NULL);

	/* Dropped names are borrowed from the source metadata. */
	ck_assert_int_eq(
	    cdb_schema_apply(s, "src", "x", 1, NULL, m, NULL, r, NULL), 0);
	ck_assert_uint_eq(r->ndropped, 2);
	ck_assert_str_eq(r->dropped[0], "junk");
	ck_assert_str_eq(r->dropped[1], "more");
	cdb_schema_result_free(r);
	json_decref(m);
	rejects(s, "src", "{}", CDB_REJECT_TEMPLATE,
	    "field \"t\": the template needs field \"a\", which the record "
	    "lacks");
	cdb_schema_free(s);
	s = parse("{\"id\":\"{a}\",\"collections\":{\"target\":{\"from\":"
	          "\"src\"}},\"fields\":{\"a\":{\"type\":\"string\"}}}");
	rejects(s, "src", "{}", CDB_REJECT_TEMPLATE,
	    "the id template needs field \"a\", which the record lacks");
	cdb_schema_free(s);
}
END_TEST

/* Check the value (JSON text) against f: the message, "" when valid. */
static void
check(const cdb_schema *s, const cdb_schema_field *f, const char *val,
    const char *want)
{
	json_t *v = json_loads(val, JSON_DECODE_ANY, NULL);
	cdb_error e;

	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_schema_check_value(s, f, v, &e), *want ? -1 : 0);
	ck_assert_str_eq(e.text, want);
	json_decref(v);
}

START_TEST(test_check_value)
{
	cdb_schema *s = parse(
	    WRAP("{\"n\":{\"type\":\"int\",\"required\":true,\"min\":0},"
	         "\"f\":{\"type\":\"float\"},\"tags\":{\"type\":\"string[]\","
	         "\"enum\":[\"a\",\"b\"]},\"d\":{\"type\":\"string\",\"date\":"
	         "\"iso8601\"}}"));
	const cdb_schema_field *n = cdb_schema_field_get(s, "n");
	const cdb_schema_field *f = cdb_schema_field_get(s, "f");
	const cdb_schema_field *tags = cdb_schema_field_get(s, "tags");
	const cdb_schema_field *d = cdb_schema_field_get(s, "d");

	check(s, n, "3", "");
	check(s, n, "\"3\"", "field \"n\": \"3\" is a string, not int");
	check(s, n, "-1", "field \"n\": -1 is below the minimum 0");
	check(s, f, "2", "field \"f\": 2 is an int, not float");
	check(s, f, "2.0", "");
	check(s, tags, "[\"a\",\"b\"]", "");
	check(s, tags, "\"a\"",
	    "field \"tags\": \"a\" is a string, not string[]");
	check(s, tags, "[]", "field \"tags\": [] is an array, not string[]");
	check(
	    s, tags, "[\"a\",1]", "field \"tags\": 1 is an int, not string[]");
	check(s, tags, "[\"c\"]",
	    "field \"tags\": \"c\" is not one of \"a\", \"b\"");
	check(s, d, "\"2024-01-01T00:00:00Z\"", "");
	check(
	    s, d, "\"soon\"", "field \"d\": \"soon\" is not an ISO 8601 date");
	cdb_schema_free(s);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(cdb_schema_type_name(CDB_SCHEMA_BOOL, 1), "bool[]");
	ck_assert_str_eq(cdb_schema_type_name(CDB_SCHEMA_FLOAT, 0), "float");
	ck_assert_str_eq(
	    cdb_schema_reason_name(CDB_REJECT_CONVERT), "cannot convert");
	ck_assert_str_eq(
	    cdb_schema_reason_name(CDB_REJECT_COLLISION), "id collision");
	ck_assert_str_eq(cdb_schema_reason_name(99), "?");
}
END_TEST

/* The field named name of s. */
static const cdb_schema_field *
field_named(const cdb_schema *s, const char *name)
{
	size_t i;

	for (i = 0; i < cdb_schema_nfields(s); i++)
		if (strcmp(cdb_schema_field_at(s, i)->name, name) == 0)
			return cdb_schema_field_at(s, i);
	ck_abort_msg("no field %s", name);
	return NULL;
}

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Patterns: anchored whatever they say, POSIX ERE, bounded cost. */
START_TEST(test_patterns)
{
	cdb_schema *s;
	const cdb_schema_field *f;
	cdb_error e;
	json_t *v;
	double t0;
	char *big;

	/* Validated alone first: ")" cannot close the anchoring group. */
	refused(WRAP("{\"s\":{\"type\":\"string\",\"pattern\":\"a)|(b\"}}"),
	    "s.json: fields.s.pattern: unmatched ) at offset 1");
	refused(WRAP("{\"s\":{\"type\":\"string\",\"pattern\":\"(a*)*\\\\2b\"}}"),
	    "s.json: fields.s.pattern: a back-reference is not POSIX ERE at "
	    "offset 6");
	refused(WRAP("{\"s\":{\"type\":\"string\",\"pattern\":\"\\\\w+\"}}"),
	    "s.json: fields.s.pattern: an escape of an ordinary character is "
	    "not POSIX ERE at offset 1");
	/* Refused at once, not after seconds of compiling. */
	t0 = now();
	refused(WRAP("{\"s\":{\"type\":\"string\",\"pattern\":"
	             "\"((a{1,100}){1,100}){1,100}\"}}"),
	    "s.json: fields.s.pattern: too costly: counting each {m,n} as n "
	    "copies of what it repeats, the pattern has more than 1000 parts");
	ck_assert(now() - t0 < 1.0);
	/* What POSIX ERE has stays allowed. */
	s = parse(WRAP("{\"s\":{\"type\":\"string\",\"pattern\":"
	               "\"[]a-z]+\\\\.[[:alpha:]]{2,4}|x\\\\(y\\\\)|(a|b)*\"}}"));
	f = field_named(s, "s");
	check(s, f, "\"]ab.com\"", "");
	check(s, f, "\"x(y)\"", "");
	check(s, f, "\"abba\"", "");
	check(s, f, "\"x(y)z\"", "field \"s\": \"x(y)z\" does not match the pattern "
	    "\"[]a-z]+\\.[[:alpha:]]{2,4}|x\\(y\\)|(a|b)*\"");
	cdb_schema_free(s);
	/* A NUL never matches: regexec would see only what precedes it. */
	s = parse(WRAP("{\"s\":{\"type\":\"string\",\"pattern\":\"[a-z]+\"}}"));
	f = field_named(s, "s");
	v = json_stringn("abc\0; rm -rf /", 14);
	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_schema_check_value(s, f, v, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.text, "does not match the pattern"));
	json_decref(v);
	/* A pattern at the cost limit on a long value: linear time. */
	cdb_schema_free(s);
	s = parse(WRAP("{\"s\":{\"type\":\"string\",\"pattern\":"
	               "\"((a|b){1,15}){1,15}c\"}}"));
	f = field_named(s, "s");
	big = malloc(100001);
	memset(big, 'a', 100000);
	big[100000] = '\0';
	v = json_string(big);
	t0 = now();
	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_schema_check_value(s, f, v, &e), -1);
	ck_assert_msg(now() - t0 < 5.0, "%.1f s", now() - t0);
	json_decref(v);
	free(big);
	cdb_schema_free(s);
}
END_TEST

/* Seconds for 5000 checks of a hit and a miss of field f. */
static double
lookups(const cdb_schema *s, const cdb_schema_field *f, const char *hit,
    const char *miss)
{
	json_t *h = json_string(hit), *m = json_string(miss);
	cdb_error e;
	double t0 = now();
	int i;

	for (i = 0; i < 5000; i++) {
		cdb_error_clear(&e);
		ck_assert_int_eq(cdb_schema_check_value(s, f, h, &e), 0);
		ck_assert_int_eq(cdb_schema_check_value(s, f, m, &e), -1);
	}
	t0 = now() - t0;
	json_decref(h);
	json_decref(m);
	return t0;
}

/*
 * An enum of 200,000 values: a lookup costs about what it costs in an
 * enum of two (measured in the same run, so a slow or sanitized build
 * does not matter; a linear scan is 100,000 times slower).
 */
START_TEST(test_big_enum)
{
	cdb_buf b;
	cdb_schema *s;
	const cdb_schema_field *f;
	json_t *num;
	cdb_error e;
	double small, big;
	int i;

	cdb_buf_init(&b);
	cdb_buf_puts(&b, "{\"collections\":{\"target\":{\"from\":\"src\"}},"
	                 "\"fields\":{\"t\":{\"type\":\"string\",\"enum\":"
	                 "[\"v0\",\"v199999\"]},\"s\":{\"type\":\"string\","
	                 "\"enum\":[");
	for (i = 0; i < 200000; i++)
		cdb_buf_printf(&b, "%s\"v%d\"", i ? "," : "", i);
	cdb_buf_puts(&b, "]},\"n\":{\"type\":\"float\",\"enum\":[1.5,-0.0,2]}}}");
	s = parse(b.data);
	cdb_buf_free(&b);
	small = lookups(s, field_named(s, "t"), "v199999", "v200000");
	big = lookups(s, field_named(s, "s"), "v199999", "v200000");
	ck_assert_msg(big < 50 * small + 0.05, "200,000 values: %.3f s, two: %.3f s",
	    big, small);
	f = field_named(s, "n");
	check(s, f, "1.5", "");
	check(s, f, "0.0", "");
	check(s, f, "2.0", "");
	num = json_real(2.5);
	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_schema_check_value(s, f, num, &e), -1);
	json_decref(num);
	cdb_schema_free(s);
}
END_TEST

Suite *
schema_suite(void)
{
	Suite *s = suite_create("schema");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_default_schema_loads);
	tcase_add_test(tc, test_default_schema_messy_record);
	tcase_add_test(tc, test_refused_files);
	tcase_add_test(tc, test_refused_fields);
	tcase_add_test(tc, test_refused_templates);
	tcase_add_test(tc, test_refused_collections);
	tcase_add_test(tc, test_load_file_errors);
	tcase_add_test(tc, test_routing);
	tcase_add_test(tc, test_collection_line);
	tcase_add_test(tc, test_collection_line_count);
	tcase_add_test(tc, test_sources_defaults_templates);
	tcase_add_test(tc, test_dropped_and_missing_template);
	tcase_add_test(tc, test_check_value);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_patterns);
	tcase_add_test(tc, test_big_enum);
	suite_add_tcase(s, tc);
	return s;
}
