/*
 * The transform engine on in-memory streams: output that reads back as a
 * valid stream, rejects (stop, file, limit), dry runs, id collisions,
 * collection lines, embeddings passed through byte for byte.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "ndjson.h"
#include "schema.h"
#include "transform.h"

#define HEADER                                                                 \
	"{\"kind\":\"header\",\"format\":\"cdb-ndjson\",\"version\":1,"        \
	"\"source\":\"http://x:1\",\"tenant\":\"t\",\"database\":\"d\","       \
	"\"created\":\"2025-01-01T00:00:00Z\",\"tool\":\"test\","              \
	"\"embeddings\":\"float\"}"
#define COLL(name, space)                                                      \
	"{\"kind\":\"collection\",\"name\":\"" name "\",\"metadata\":"         \
	"{\"v\":1},\"configuration\":{\"hnsw\":{\"space\":\"" space "\"}},"    \
	"\"schema\":null,\"dimension\":3,\"count\":2}"
#define REC(coll, id, meta, emb)                                               \
	"{\"kind\":\"record\",\"collection\":\"" coll "\",\"id\":\"" id        \
	"\",\"document\":\"doc\",\"metadata\":" meta ",\"embedding\":" emb     \
	",\"uri\":null}"
#define EMB1  "[0.1,-2.5,1e-30]"
#define EMB2  "[3.4028235e38,-0,1.17549435e-38]"
#define EMB64 "\"zczMPQAAIMDKGwAA\""

static const char schema_text[] =
    "{\"collections\":{"
    "\"merged\":{\"from\":[\"a\",\"b\"],\"metadata\":{\"v\":2}},"
    "\"jokes\":{\"from\":[{\"collection\":\"c\",\"where\":{\"k\":\"j\"}}]},"
    "\"other\":{\"from\":[\"c\",\"empty\"]}},"
    "\"fields\":{\"n\":{\"type\":\"int\",\"required\":true},"
    "\"tag\":{\"type\":\"string\",\"from\":[\"tag\",\"k\"],\"default\":\"x\"}}"
    "}";

/* A stream of the given lines with a valid trailer.  Caller frees. */
static char *
stream(const char *const *lines)
{
	char *mem = NULL;
	size_t len, i;
	FILE *f = open_memstream(&mem, &len);
	cdb_writer *w = cdb_writer_new(f);
	int kind;

	for (i = 0; lines[i] != NULL; i++) {
		kind = strstr(lines[i], "\"kind\":\"record\"") ? CDB_KIND_RECORD
		       : strstr(lines[i], "\"kind\":\"collection\"")
		           ? CDB_KIND_COLLECTION
		           : CDB_KIND_HEADER;
		ck_assert_int_eq(
		    cdb_writer_line(w, kind, lines[i], strlen(lines[i]), NULL),
		    0);
	}
	ck_assert_int_eq(cdb_writer_trailer(w, NULL), 0);
	cdb_writer_free(w);
	fclose(f);
	return mem;
}

struct run {
	cdb_schema *s;
	cdb_transform_stats *st;
	cdb_error e;
	int rc;
	char *out, *rej;
	size_t outlen, rejlen;
};

/* Transform text with the schema; opts may set rejects etc. */
static void
run(struct run *r, const char *text, cdb_transform_opts *o)
{
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	FILE *out = open_memstream(&r->out, &r->outlen);
	FILE *rej = open_memstream(&r->rej, &r->rejlen);

	cdb_error_clear(&r->e);
	r->s =
	    cdb_schema_parse(schema_text, strlen(schema_text), "s.json", &r->e);
	ck_assert_ptr_nonnull(r->s);
	r->st = cdb_transform_stats_new(r->s);
	o->schema = r->s;
	o->input = "mem";
	o->schema_file = "s.json";
	o->tool = "cdb-transform test";
	if (o->rejects != NULL)
		o->rejects = rej;
	r->rc = cdb_transform_run(in, out, o, r->st, &r->e);
	fclose(in);
	fclose(out);
	fclose(rej);
}

static void
done(struct run *r)
{
	cdb_transform_stats_free(r->st);
	cdb_schema_free(r->s);
	free(r->out);
	free(r->rej);
}

/* Read the output back: a valid stream.  Returns its lines as an array. */
static json_t *
read_back(const struct run *r)
{
	FILE *f = fmemopen(r->out, r->outlen, "r");
	cdb_reader *rd = cdb_reader_new(f, "out", CDB_READ_RAW_EMB);
	json_t *lines = json_array();
	cdb_item it;
	cdb_error e;
	int rc;

	cdb_error_clear(&e);
	while ((rc = cdb_reader_next(rd, &it, &e)) == 1) {
		json_t *o = json_deep_copy(it.obj);
		if (it.kind == CDB_KIND_RECORD)
			json_object_set_new(o, "embedding",
			    json_stringn(it.emb_text, it.emb_len));
		json_array_append_new(lines, o);
	}
	ck_assert_msg(
	    rc == 0, "output is not a valid stream: %ld: %s", e.line, e.text);
	cdb_reader_free(rd);
	fclose(f);
	return lines;
}

static const char *
str(const json_t *lines, size_t i, const char *key)
{
	return json_string_value(
	    json_object_get(json_array_get(lines, i), key));
}

START_TEST(test_basic)
{
	const char *const in[] = {HEADER, COLL("a", "cosine"),
	    REC("a", "r1", "{\"n\":\"1\",\"tag\":\"t\",\"junk\":1}", EMB1),
	    REC("a", "r2", "{\"n\":2}", EMB2),
	    REC("a", "r3", "{\"n\":3}", EMB64), NULL};
	char *text = stream(in);
	cdb_transform_opts o = {0};
	struct run r;
	json_t *lines, *h;
	char *m;

	run(&r, text, &o);
	ck_assert_msg(r.rc == 0, "%s", r.e.text);
	lines = read_back(&r);
	ck_assert_uint_eq(json_array_size(lines), 6);
	h = json_array_get(lines, 0);
	ck_assert_str_eq(str(lines, 0, "tool"), "cdb-transform test");
	ck_assert_str_eq(str(lines, 0, "source"), "http://x:1");
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_object_get(h, "schema"), "file")),
	    "s.json");
	ck_assert_str_eq(str(lines, 1, "name"), "merged");
	ck_assert_int_eq(
	    json_integer_value(json_object_get(
	        json_object_get(json_array_get(lines, 1), "metadata"), "v")),
	    2);
	ck_assert_str_eq(str(lines, 2, "collection"), "merged");
	ck_assert_str_eq(str(lines, 2, "id"), "r1");
	ck_assert_str_eq(str(lines, 2, "document"), "doc");
	m = json_dumps(json_object_get(json_array_get(lines, 2), "metadata"),
	    JSON_COMPACT | JSON_PRESERVE_ORDER);
	ck_assert_str_eq(m, "{\"n\":1,\"tag\":\"t\"}");
	free(m);
	/* Embeddings: the same bytes as in the input, in every form. */
	ck_assert_str_eq(str(lines, 2, "embedding"), EMB1);
	ck_assert_str_eq(str(lines, 3, "embedding"), EMB2);
	ck_assert_str_eq(str(lines, 4, "embedding"), EMB64);
	ck_assert_int_eq(cdb_transform_stats_in(r.st), 3);
	ck_assert_int_eq(cdb_transform_stats_out(r.st), 3);
	ck_assert_int_eq(cdb_transform_stats_rejected(r.st), 0);
	json_decref(lines);
	done(&r);
	free(text);
}
END_TEST

static const char *const bad[] = {HEADER, COLL("a", "l2"),
    REC("a", "r1", "{\"n\":1}", EMB1), REC("a", "r2", "{\"n\":\"abc\"}", EMB1),
    REC("a", "r3", "{\"m\":3}", EMB1), REC("a", "r4", "{\"n\":4}", EMB1), NULL};

START_TEST(test_first_reject_stops)
{
	char *text = stream(bad);
	cdb_transform_opts o = {0};
	struct run r;

	o.max_rejects = 1;
	run(&r, text, &o);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_int_eq(r.e.line, 4);
	ck_assert_str_eq(
	    r.e.text, "id \"r2\": field \"n\": cannot convert \"abc\" to int");
	/* No trailer: what was written reads as truncated. */
	ck_assert_ptr_null(strstr(r.out, "\"kind\":\"trailer\""));
	ck_assert_ptr_nonnull(strstr(r.out, "\"id\":\"r1\""));
	done(&r);
	free(text);
}
END_TEST

START_TEST(test_rejects_file)
{
	char *text = stream(bad);
	cdb_transform_opts o = {0};
	struct run r;
	json_t *lines, *rej, *orig;
	char *line;

	o.rejects = stdout; /* replaced by a memory stream in run() */
	run(&r, text, &o);
	ck_assert_msg(r.rc == 0, "%s", r.e.text);
	ck_assert_int_eq(cdb_transform_stats_rejected(r.st), 2);
	lines = read_back(&r);
	ck_assert_uint_eq(json_array_size(lines), 5);
	ck_assert_str_eq(str(lines, 3, "id"), "r4");
	/* One reject per line: the reason and the original line. */
	line = strtok(r.rej, "\n");
	rej = json_loads(line, 0, NULL);
	ck_assert_str_eq(
	    json_string_value(json_object_get(rej, "kind")), "reject");
	ck_assert_int_eq(json_integer_value(json_object_get(rej, "line")), 4);
	ck_assert_str_eq(json_string_value(json_object_get(rej, "field")), "n");
	ck_assert_str_eq(json_string_value(json_object_get(rej, "reason")),
	    "cannot convert");
	ck_assert_str_eq(json_string_value(json_object_get(rej, "message")),
	    "field \"n\": cannot convert \"abc\" to int");
	orig = json_loads(bad[3], 0, NULL);
	ck_assert(json_equal(json_object_get(rej, "record"), orig));
	ck_assert_ptr_nonnull(strstr(line, bad[3]));
	json_decref(orig);
	json_decref(rej);
	line = strtok(NULL, "\n");
	rej = json_loads(line, 0, NULL);
	ck_assert_str_eq(
	    json_string_value(json_object_get(rej, "reason")), "missing field");
	ck_assert_ptr_null(strtok(NULL, "\n"));
	json_decref(rej);
	json_decref(lines);
	done(&r);
	free(text);
}
END_TEST

START_TEST(test_max_rejects)
{
	char *text = stream(bad);
	cdb_transform_opts o = {0};
	struct run r;

	o.rejects = stdout;
	o.max_rejects = 2;
	run(&r, text, &o);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_int_eq(r.e.line, 5);
	ck_assert_str_eq(r.e.text,
	    "id \"r3\": field \"n\": missing: the record has no \"n\" and the "
	    "field has no default; stopping at 2 rejected records");
	ck_assert_int_eq(cdb_transform_stats_rejected(r.st), 2);
	ck_assert_ptr_null(strstr(r.out, "\"id\":\"r4\""));
	done(&r);
	free(text);
}
END_TEST

static int nreported;

static void
count_reject(void *arg, long line, const char *msg)
{
	(void)arg;
	(void)msg;
	ck_assert(line == 4 || line == 5);
	nreported++;
}

START_TEST(test_dry_run)
{
	char *text = stream(bad);
	cdb_transform_opts o = {0};
	struct run r;
	cdb_buf b;

	o.dry_run = 1;
	o.on_reject = count_reject;
	nreported = 0;
	run(&r, text, &o);
	ck_assert_msg(r.rc == 0, "%s", r.e.text);
	ck_assert_uint_eq(r.outlen, 0);
	ck_assert_int_eq(nreported, 2);
	ck_assert_int_eq(cdb_transform_stats_out(r.st), 2);
	cdb_buf_init(&b);
	ck_assert_int_eq(cdb_transform_stats_format(r.st, &b), 0);
	ck_assert_ptr_nonnull(
	    strstr(b.data, "records: 4 in, 2 out, 2 rejected\n"));
	ck_assert_ptr_nonnull(
	    strstr(b.data, "records in, by source collection:\n"
	                   "  a "));
	ck_assert_ptr_nonnull(strstr(b.data, "  merged "));
	ck_assert_ptr_nonnull(strstr(b.data, "rejects by reason:\n"
	                                     "  field \"n\": cannot convert "));
	ck_assert_ptr_nonnull(strstr(b.data, "  field \"n\": missing field "));
	ck_assert_ptr_nonnull(strstr(
	    b.data, "  tag                            0         0         2"));
	cdb_buf_free(&b);
	done(&r);
	free(text);
}
END_TEST

/* Two sources merged: the same id twice is caught. */
START_TEST(test_collision)
{
	const char *const in[] = {HEADER, COLL("a", "l2"), COLL("b", "l2"),
	    REC("a", "same", "{\"n\":1}", EMB1),
	    REC("b", "same", "{\"n\":2}", EMB1),
	    REC("b", "new", "{\"n\":3}", EMB1), NULL};
	char *text = stream(in);
	cdb_transform_opts o = {0};
	struct run r;

	o.max_rejects = 1;
	run(&r, text, &o);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_int_eq(r.e.line, 5);
	ck_assert_str_eq(r.e.text, "id \"same\": target id \"same\" is already "
	                           "used in collection \"merged\" by an "
	                           "earlier record");
	done(&r);
	o.no_id_check = 1;
	run(&r, text, &o);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(cdb_transform_stats_out(r.st), 3);
	done(&r);
	free(text);
}
END_TEST

/* Routing: each target line once, before its first record; empty targets
 * still get their line, before the trailer. */
START_TEST(test_collection_lines)
{
	const char *const in[] = {HEADER, COLL("c", "l2"), COLL("empty", "l2"),
	    REC("c", "1", "{\"n\":1,\"k\":\"q\"}", EMB1),
	    REC("c", "2", "{\"n\":1,\"k\":\"j\"}", EMB1),
	    REC("c", "3", "{\"n\":1,\"k\":\"j\"}", EMB1),
	    REC("c", "4", "{\"n\":1,\"k\":\"q\"}", EMB1), NULL};
	char *text = stream(in);
	cdb_transform_opts o = {0};
	struct run r;
	json_t *lines;
	const char *want[] = {"header", "other", "1", "jokes", "2", "3", "4"};
	size_t i;

	run(&r, text, &o);
	ck_assert_msg(r.rc == 0, "%s", r.e.text);
	lines = read_back(&r);
	ck_assert_uint_eq(json_array_size(lines), 8);
	for (i = 1; i < 7; i++) {
		const char *got = str(lines, i, "name") ? str(lines, i, "name")
		                                        : str(lines, i, "id");
		ck_assert_str_eq(got, want[i]);
	}
	ck_assert_str_eq(str(lines, 7, "kind"), "trailer");
	json_decref(lines);
	done(&r);
	free(text);

	const char *const in2[] = {
	    HEADER, COLL("a", "l2"), COLL("empty", "l2"), NULL};
	text = stream(in2);
	run(&r, text, &o);
	ck_assert_msg(r.rc == 0, "%s", r.e.text);
	lines = read_back(&r);
	ck_assert_uint_eq(json_array_size(lines), 4);
	ck_assert_str_eq(str(lines, 1, "name"), "merged");
	ck_assert_str_eq(str(lines, 2, "name"), "other");
	json_decref(lines);
	done(&r);
	free(text);
}
END_TEST

START_TEST(test_fatal_errors)
{
	const char *const unmapped[] = {HEADER, COLL("zzz", "l2"), NULL};
	const char *const spaces[] = {
	    HEADER, COLL("a", "l2"), COLL("b", "cosine"), NULL};
	const char *const dims[] = {HEADER, COLL("a", "l2"),
	    "{\"kind\":\"collection\",\"name\":\"b\",\"metadata\":null,"
	    "\"configuration\":null,\"schema\":null,\"dimension\":4,"
	    "\"count\":0}",
	    NULL};
	cdb_transform_opts o = {0};
	struct run r;
	char *text;

	text = stream(unmapped);
	run(&r, text, &o);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_int_eq(r.e.line, 2);
	ck_assert_str_eq(r.e.text,
	    "the schema maps no collection \"zzz\" (name "
	    "it in a \"from\", or add a \"*\" "
	    "catch-all)");
	done(&r);
	free(text);
	text = stream(spaces);
	run(&r, text, &o);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_str_eq(r.e.text, "collection \"merged\" would get records of "
	                           "l2 and cosine collections: set the space "
	                           "in the schema's "
	                           "collections.merged.configuration");
	done(&r);
	free(text);
	text = stream(dims);
	run(&r, text, &o);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_int_eq(r.e.line, 3);
	ck_assert_str_eq(r.e.text, "collection \"merged\" would get embeddings "
	                           "of 3 and 4 values");
	done(&r);
	free(text);
}
END_TEST

/* A damaged input stream is the reader's error, and no trailer is
 * written for it. */
START_TEST(test_bad_input)
{
	const char *const in[] = {
	    HEADER, COLL("a", "l2"), REC("a", "r1", "{\"n\":1}", EMB1), NULL};
	char *text = stream(in), *p;
	cdb_transform_opts o = {0};
	struct run r;

	p = strstr(text, "\"doc\"");
	p[1] = 'D';
	run(&r, text, &o);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_ptr_nonnull(strstr(r.e.text, "digest mismatch"));
	ck_assert_ptr_null(strstr(r.out, "trailer"));
	done(&r);
	free(text);
}
END_TEST

Suite *
transform_suite(void)
{
	Suite *s = suite_create("transform");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_first_reject_stops);
	tcase_add_test(tc, test_rejects_file);
	tcase_add_test(tc, test_max_rejects);
	tcase_add_test(tc, test_dry_run);
	tcase_add_test(tc, test_collision);
	tcase_add_test(tc, test_collection_lines);
	tcase_add_test(tc, test_fatal_errors);
	tcase_add_test(tc, test_bad_input);
	suite_add_tcase(s, tc);
	return s;
}
