/* The stream reader's checks and the writer's trailer, on in-memory streams. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndjson.h"

/* Write a valid stream of n records to a memory buffer; caller frees. */
static char *
make_stream(int n, int form, size_t *len)
{
	char *mem = NULL;
	FILE *f = open_memstream(&mem, len);
	cdb_writer *w = cdb_writer_new(f);
	json_t *h = cdb_ndjson_header("http://x:1", "t", "d", "test");
	json_t *c = json_pack("{s:s, s:s, s:n, s:i}", "kind", "collection",
	    "name", "coll", "metadata", "dimension", 3);
	const float v[3] = {0.1f, -2.5f, 1e-30f};
	cdb_buf b;
	char id[32];
	int i;

	cdb_buf_init(&b);
	ck_assert_int_eq(cdb_writer_json(w, CDB_KIND_HEADER, h, NULL), 0);
	ck_assert_int_eq(cdb_writer_json(w, CDB_KIND_COLLECTION, c, NULL), 0);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "id\n%d", i);
		cdb_buf_reset(&b);
		ck_assert_int_eq(cdb_ndjson_format_record(&b, "coll", id,
				     strlen(id), NULL, NULL, NULL, v, 3, form,
				     NULL, 0),
		    0);
		ck_assert_int_eq(cdb_writer_line(w, CDB_KIND_RECORD, b.data,
				     b.len, NULL),
		    0);
	}
	ck_assert_int_eq(cdb_writer_trailer(w, NULL), 0);
	cdb_writer_free(w);
	fclose(f);
	json_decref(h);
	json_decref(c);
	cdb_buf_free(&b);
	return mem;
}

/* Read text to the end; returns the last status and fills e. */
static int
read_all(const char *text, int flags, int *records, cdb_error *e)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	cdb_reader *r = cdb_reader_new(f, "mem", flags);
	cdb_item it;
	int rc;

	*records = 0;
	cdb_error_clear(e);
	while ((rc = cdb_reader_next(r, &it, e)) == 1)
		if (it.kind == CDB_KIND_RECORD) {
			(*records)++;
			if (!(flags & CDB_READ_RAW_EMB)) {
				ck_assert_uint_eq(it.dim, 3);
				ck_assert(it.emb[0] == 0.1f && it.emb[2] == 1e-30f);
			}
		}
	cdb_reader_free(r);
	fclose(f);
	return rc;
}

START_TEST(test_round_trip)
{
	size_t len;
	char *s = make_stream(50, _i ? CDB_EMB_BASE64 : CDB_EMB_FLOAT, &len);
	cdb_error e;
	int n;

	ck_assert_int_eq(read_all(s, 0, &n, &e), 0);
	ck_assert_int_eq(n, 50);
	ck_assert_int_eq(read_all(s, CDB_READ_RAW_EMB, &n, &e), 0);
	free(s);
}
END_TEST

/* The records of a batch written at once make the bytes, counts and
 * digest their lines written one by one make. */
static char *
write_both(int block, const json_t *h, const json_t *c, size_t *len)
{
	const float v[3] = {0.1f, -2.5f, 1e-30f};
	char *mem = NULL, id[32];
	FILE *f = open_memstream(&mem, len);
	cdb_writer *w = cdb_writer_new(f);
	cdb_buf b;
	int i;

	cdb_buf_init(&b);
	ck_assert_int_eq(cdb_writer_json(w, CDB_KIND_HEADER, h, NULL), 0);
	ck_assert_int_eq(cdb_writer_json(w, CDB_KIND_COLLECTION, c, NULL), 0);
	for (i = 0; i < 7; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		if (!block)
			cdb_buf_reset(&b);
		ck_assert_int_eq(cdb_ndjson_format_record(&b, "coll", id,
				     strlen(id), NULL, NULL, NULL, v, 3,
				     CDB_EMB_FLOAT, NULL, 0),
		    0);
		if (block)
			ck_assert_int_eq(cdb_buf_putc(&b, '\n'), 0);
		else
			ck_assert_int_eq(cdb_writer_line(w, CDB_KIND_RECORD,
					     b.data, b.len, NULL),
			    0);
	}
	if (block)
		ck_assert_int_eq(cdb_writer_block(w, b.data, b.len, 7, NULL), 0);
	ck_assert_int_eq(cdb_writer_records(w), 7);
	ck_assert_int_eq(cdb_writer_trailer(w, NULL), 0);
	cdb_writer_free(w);
	fclose(f);
	cdb_buf_free(&b);
	return mem;
}

START_TEST(test_block)
{
	json_t *h = cdb_ndjson_header("http://x:1", "t", "d", "test");
	json_t *c = json_pack("{s:s, s:s, s:n, s:i}", "kind", "collection",
	    "name", "coll", "metadata", "dimension", 3);
	size_t n1, n2;
	char *a = write_both(0, h, c, &n1), *b = write_both(1, h, c, &n2);
	cdb_error e;
	int n;

	ck_assert_uint_eq(n1, n2);
	ck_assert(memcmp(a, b, n1) == 0);
	ck_assert_int_eq(read_all(b, 0, &n, &e), 0);
	ck_assert_int_eq(n, 7);
	free(a);
	free(b);
	json_decref(h);
	json_decref(c);
}
END_TEST

START_TEST(test_truncated_and_edited)
{
	size_t len;
	char *s = make_stream(5, CDB_EMB_FLOAT, &len), *t;
	cdb_error e;
	int n;

	/* Drop the trailer: truncated, unless partial streams are allowed. */
	t = strdup(s);
	*strstr(t, "{\"kind\":\"trailer\"") = '\0';
	ck_assert_int_eq(read_all(t, 0, &n, &e), -1);
	ck_assert_int_eq(e.line, 8);
	ck_assert_ptr_nonnull(strstr(e.text, "without a trailer"));
	ck_assert_int_eq(read_all(t, CDB_READ_ALLOW_PARTIAL, &n, &e), 0);
	ck_assert_int_eq(n, 5);
	/* A complete last record without its newline is kept... */
	t[strlen(t) - 1] = '\0';
	ck_assert_int_eq(read_all(t, CDB_READ_ALLOW_PARTIAL, &n, &e), 0);
	ck_assert_int_eq(n, 5);
	/* ...one cut inside its JSON is an error, partial or not. */
	t[strlen(t) - 5] = '\0';
	ck_assert_int_eq(read_all(t, CDB_READ_ALLOW_PARTIAL, &n, &e), -1);
	ck_assert_int_eq(e.line, 7);
	ck_assert_ptr_nonnull(strstr(e.text, "cut short"));
	ck_assert_int_eq(read_all(t, 0, &n, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.text, "cut short"));
	free(t);
	/* Change one byte of a record: the digest no longer matches. */
	t = strdup(s);
	strstr(t, "-2.5")[1] = '3';
	ck_assert_int_eq(read_all(t, 0, &n, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.text, "digest mismatch"));
	free(t);
	/* Data after the trailer. */
	t = malloc(len + 40);
	snprintf(t, len + 40, "%s%s", s, "{\"kind\":\"record\"}\n");
	ck_assert_int_eq(read_all(t, 0, &n, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.text, "after the trailer"));
	free(t);
	free(s);
}
END_TEST

/*
 * A stream whose third line is line3 fails there with msg, read either
 * way: raw mode (cdb-transform's, which copies embeddings as text) makes
 * the same checks as a parsing reader.
 */
static void
expect_bad(const char *line3, const char *msg)
{
	static const int flags[] = {0, CDB_READ_RAW_EMB};
	char text[4096];
	cdb_error e;
	size_t i;
	int n;

	snprintf(text, sizeof(text),
	    "{\"kind\":\"header\",\"format\":\"cdb-ndjson\",\"version\":1}\n"
	    "{\"kind\":\"collection\",\"name\":\"c\",\"dimension\":2}\n%s\n",
	    line3);
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		ck_assert_int_eq(read_all(text, flags[i], &n, &e), -1);
		ck_assert_int_eq(e.line, 3);
		if (strstr(e.text, msg) == NULL)
			ck_abort_msg("flags %d: want \"%s\", got \"%s\"",
			    flags[i], msg, e.text);
	}
}

START_TEST(test_bad_lines)
{
	expect_bad("{\"kind\":\"record\"", "malformed JSON");
	expect_bad("[1,2]", "not a JSON object");
	expect_bad("{\"kind\":\"other\"}", "no known \"kind\"");
	expect_bad("{\"kind\":\"record\",\"collection\":\"x\",\"id\":\"a\"}",
	    "before its collection line");
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"\"}",
	    "record has no id");
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"embedding\":[1,2,3]}",
	    "embedding has 3 values, collection expects 2");
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"embedding\":[1,1e39]}",
	    "embedding value at index 1");
	/* NaN and 0.0 as base64 little-endian float32. */
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"embedding\":\"AADAfwAAAAA=\"}",
	    "embedding value at index 0 is not finite");
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"embedding\":\"AAAAAA==\"}",
	    "embedding has 1 values, collection expects 2");
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"document\":5}",
	    "document must be a string");
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"metadata\":{\"k\":{\"n\":1}}}",
	    "metadata \"k\" is an object");
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"metadata\":{\"#k\":1}}",
	    "not allowed");
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"metadata\":{\"k\":[]}}",
	    "empty array");
	expect_bad("{\"kind\":\"collection\",\"name\":\"c\"}",
	    "second collection line");
	/* What a raw reader used to copy up to the first ']' unchecked. */
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"embedding\":[0.5,NaN]}",
	    "embedding");
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"embedding\":[0.5,1e999]}",
	    "embedding");
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"embedding\":[0x1,0.5]}",
	    "embedding");
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"embedding\":[\"0.5\",\"]\"]}",
	    "embedding");
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"embedding\":\"AAAA*AAA\"}",
	    "base64");
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"embedding\":\"AAAA\xc3" "AAA\"}",
	    "base64");
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"embedding\":[0.5,0.25,0.125]}",
	    "embedding has 3 values, collection expects 2");
	/* Duplicate keys: readers disagree on which wins, so none does. */
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"embedding\":[0.5,0.25],\"embedding\":[1,2,3]}",
	    "duplicate object key \"embedding\"");
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"id\":\"b\"}",
	    "duplicate object key \"id\"");
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"metadata\":{\"k\":1,\"k\":2}}",
	    "duplicate object key \"k\"");
	expect_bad("{\"kind\":\"record\",\"kind\":\"record\","
		   "\"collection\":\"c\",\"id\":\"a\"}",
	    "duplicate object key \"kind\"");
	expect_bad("{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"a\","
		   "\"embedding\":[]}",
	    "embedding has no values");
	expect_bad("", "empty line");
}
END_TEST

/* Line 3 of a stream whose collection has no dimension. */
static int
read_nodim(const char *records, int flags, cdb_error *e)
{
	size_t len = strlen(records) + 200;
	char *text = malloc(len);
	int n, rc;

	snprintf(text, len,
	    "{\"kind\":\"header\",\"format\":\"cdb-ndjson\",\"version\":1}\n"
	    "{\"kind\":\"collection\",\"name\":\"c\",\"dimension\":null}\n%s",
	    records);
	rc = read_all(text, flags | CDB_READ_ALLOW_PARTIAL, &n, e);
	free(text);
	return rc;
}

START_TEST(test_embedding_shape)
{
	const int flags = _i ? CDB_READ_RAW_EMB : 0;
	static const char rec[] =
	    "{\"kind\":\"record\",\"collection\":\"c\",\"id\":\"%d\","
	    "\"embedding\":%s}\n";
	char text[1024], *big = malloc(1 << 20);
	cdb_error e;
	size_t i, n;

	/* Without a dimension the first embedding sets it, as in Chroma. */
	n = (size_t)snprintf(text, sizeof(text), rec, 1, "[0.1,-2.5,1e-30]");
	snprintf(text + n, sizeof(text) - n, rec, 2, "[0.5,0.25]");
	ck_assert_int_eq(read_nodim(text, flags, &e), -1);
	ck_assert_int_eq(e.line, 4);
	ck_assert_str_eq(e.text, "embedding has 2 values, collection expects 3");
	/* More values than any collection holds: refused, in raw mode too. */
	memcpy(big, "[", 1);
	for (i = 1, n = 0; n < 70000; n++) {
		memcpy(big + i, "0.5,", 4);
		i += 4;
	}
	big[i - 1] = ']';
	big[i] = '\0';
	{
		char *t = malloc(i + 200);
		snprintf(t, i + 200, rec, 1, big);
		ck_assert_int_eq(read_nodim(t, flags, &e), -1);
		ck_assert_ptr_nonnull(strstr(e.text, "65536"));
		free(t);
	}
	free(big);
}
END_TEST

/*
 * A stream whose record line (line 3) is len bytes with its newline,
 * with a NUL byte at nul when nul > 0; *size is the stream's size.
 */
static char *
stream_with_line(size_t len, size_t nul, size_t *size)
{
	char *mem = NULL, *doc;
	FILE *f = open_memstream(&mem, size);
	cdb_writer *w = cdb_writer_new(f);
	json_t *h = cdb_ndjson_header("http://x:1", "t", "d", "test");
	json_t *c = json_pack("{s:s, s:s}", "kind", "collection", "name", "c");
	json_t *d;
	cdb_buf b;

	cdb_buf_init(&b);
	ck_assert_int_eq(cdb_ndjson_format_record(&b, "c", "a", 1, NULL, NULL,
			     NULL, NULL, 0, 0, NULL, 0),
	    0);
	/* The document's text fills the line to len bytes. */
	ck_assert_ptr_nonnull(doc = malloc(len));
	/* "x..." in place of null: 2 quotes less 4 letters, and a newline. */
	memset(doc, 'x', len - b.len + 1);
	doc[len - b.len + 1] = '\0';
	d = json_string(doc);
	free(doc);
	cdb_buf_reset(&b);
	ck_assert_int_eq(cdb_ndjson_format_record(&b, "c", "a", 1, d, NULL,
			     NULL, NULL, 0, 0, NULL, 0),
	    0);
	ck_assert_uint_eq(b.len + 1, len);
	if (nul > 0)
		b.data[nul] = '\0';
	ck_assert_int_eq(cdb_writer_json(w, CDB_KIND_HEADER, h, NULL), 0);
	ck_assert_int_eq(cdb_writer_json(w, CDB_KIND_COLLECTION, c, NULL), 0);
	ck_assert_int_eq(
	    cdb_writer_line(w, CDB_KIND_RECORD, b.data, b.len, NULL), 0);
	ck_assert_int_eq(cdb_writer_trailer(w, NULL), 0);
	cdb_writer_free(w);
	fclose(f);
	json_decref(h);
	json_decref(c);
	json_decref(d);
	cdb_buf_free(&b);
	return mem;
}

/* Read a stream of size bytes (NULs allowed) to the end. */
static int
read_mem(const char *text, size_t size, int *records, cdb_error *e)
{
	FILE *f = fmemopen((void *)text, size, "r");
	cdb_reader *r = cdb_reader_new(f, "mem", 0);
	cdb_item it;
	int rc;

	*records = 0;
	cdb_error_clear(e);
	while ((rc = cdb_reader_next(r, &it, e)) == 1)
		*records += it.kind == CDB_KIND_RECORD;
	cdb_reader_free(r);
	fclose(f);
	return rc;
}

/*
 * A trailer without its newline is accepted (cdb-ndjson(5)): it is
 * complete JSON, and its counts and digest are checked all the same.
 */
START_TEST(test_trailer_newline)
{
	size_t len;
	char *s = make_stream(3, CDB_EMB_BASE64, &len);
	cdb_error e;
	int n;

	s[len - 1] = '\0';
	ck_assert_msg(read_all(s, 0, &n, &e) == 0, "%s", e.text);
	ck_assert_int_eq(n, 3);
	/* Not when it is cut short. */
	s[len - 2] = '\0';
	ck_assert_int_eq(read_all(s, 0, &n, &e), -1);
	ck_assert_int_eq(e.line, 6);
	free(s);
}
END_TEST

/* Lines are bounded: CDB_LINE_MAX bytes pass, one more is refused. */
START_TEST(test_line_limit)
{
	static const size_t lens[] = {200, 4095, 4096, 4097, 9000, 70000};
	size_t size, i;
	cdb_error e;
	char *s;
	int n;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		s = stream_with_line(lens[i], 0, &size);
		ck_assert_msg(read_mem(s, size, &n, &e) == 0, "%zu: %s",
		    lens[i], e.text);
		ck_assert_int_eq(n, 1);
		free(s);
		/* A NUL byte anywhere, in any piece of the line. */
		s = stream_with_line(lens[i], lens[i] - 3, &size);
		ck_assert_int_eq(read_mem(s, size, &n, &e), -1);
		ck_assert_int_eq(e.line, 3);
		ck_assert_str_eq(e.text, "line contains a NUL byte");
		free(s);
	}
	s = stream_with_line((size_t)CDB_LINE_MAX, 0, &size);
	ck_assert_msg(read_mem(s, size, &n, &e) == 0, "%s", e.text);
	ck_assert_int_eq(n, 1);
	free(s);
	s = stream_with_line((size_t)CDB_LINE_MAX + 1, 0, &size);
	ck_assert_int_eq(read_mem(s, size, &n, &e), -1);
	ck_assert_int_eq(e.line, 3);
	ck_assert_int_eq(e.kind, CDB_ERR_INPUT);
	ck_assert_ptr_nonnull(strstr(e.text, "line is longer than 44040192"));
	free(s);
}
END_TEST

START_TEST(test_header_checks)
{
	cdb_error e;
	int n;

	ck_assert_int_eq(read_all("", 0, &n, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.text, "no header"));
	ck_assert_int_eq(
	    read_all("{\"kind\":\"header\",\"format\":\"cdb-ndjson\",\"version\":"
		     "2}\n",
		0, &n, &e),
	    -1);
	ck_assert_ptr_nonnull(strstr(e.text, "unsupported stream version"));
	ck_assert_int_eq(read_all("{\"kind\":\"collection\",\"name\":\"c\"}\n",
			     0, &n, &e),
	    -1);
	ck_assert_ptr_nonnull(strstr(e.text, "does not start with a header"));
}
END_TEST

START_TEST(test_metadata_rules)
{
	json_t *ok = json_loads("{\"a\":1,\"b\":[1,2.5],\"c\":[true,false],"
				"\"d\":\"s\",\"e\":9007199254740993}",
	    0, NULL);
	json_t *bad = json_loads("{\"a\":[1,\"x\"]}", 0, NULL);
	cdb_error e;

	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_ndjson_check_metadata(ok, &e), 0);
	ck_assert_int_eq(cdb_ndjson_check_metadata(NULL, &e), 0);
	ck_assert_int_eq(cdb_ndjson_check_metadata(bad, &e), -1);
	json_decref(ok);
	json_decref(bad);
}
END_TEST

Suite *
ndjson_suite(void)
{
	Suite *s = suite_create("ndjson");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_round_trip, 0, 2);
	tcase_add_test(tc, test_block);
	tcase_add_test(tc, test_truncated_and_edited);
	tcase_add_test(tc, test_bad_lines);
	tcase_add_test(tc, test_header_checks);
	tcase_add_loop_test(tc, test_embedding_shape, 0, 2);
	tcase_add_test(tc, test_metadata_rules);
	tcase_add_test(tc, test_trailer_newline);
	suite_add_tcase(s, tc);
	/* Lines of 42 MiB take a while under valgrind. */
	tc = tcase_create("limits");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_line_limit);
	suite_add_tcase(s, tc);
	return s;
}
