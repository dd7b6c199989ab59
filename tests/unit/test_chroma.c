/* cdb_page_parse on answers shaped like Chroma's /get responses. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "chroma.h"

static int
parse(cdb_page *p, const char *body, cdb_error *e)
{
	cdb_buf_reset(&p->body);
	cdb_buf_puts(&p->body, body);
	cdb_error_clear(e);
	return cdb_page_parse(p, e);
}

START_TEST(test_rows_and_verbatim)
{
	cdb_page p;
	cdb_error e;

	cdb_page_init(&p);
	ck_assert_int_eq(parse(&p,
			     "{\"ids\":[\"a\",\"b\"],\"embeddings\":[[0.1,-2.5],"
			     "[0.10000000149011612,3e-45]],\"documents\":[null,"
			     "\"d\"],\"uris\":null,\"metadatas\":[{\"k\":1},null],"
			     "\"include\":[\"embeddings\"]}",
			     &e),
	    0);
	ck_assert_uint_eq(p.n, 2);
	ck_assert_uint_eq(p.dim, 2);
	ck_assert(p.emb[0] == 0.1f && p.emb[1] == -2.5f && p.emb[2] == 0.1f);
	/* Compact rows are copied, whatever their digits (row 1 spells
	 * 0.1f with 17): cdb-ndjson(5) does not ask for the fewest. */
	ck_assert_int_eq(p.row_verbatim[0], 1);
	ck_assert_int_eq(p.row_verbatim[1], 1);
	ck_assert(memcmp(p.body.data + p.row_off[0], "[0.1,-2.5]", 10) == 0);
	ck_assert_uint_eq(p.row_len[0], 10);
	ck_assert_str_eq(json_string_value(json_array_get(p.documents, 1)), "d");
	ck_assert(json_is_null(p.uris));
	/* The same page object takes the next answer. */
	ck_assert_int_eq(parse(&p, "{\"ids\":[],\"embeddings\":[]}", &e), 0);
	ck_assert_uint_eq(p.n, 0);
	ck_assert_int_eq(parse(&p, "{\"ids\":[\"x\"],\"documents\":[\"y\"]}", &e),
	    0);
	ck_assert_uint_eq(p.n, 1);
	ck_assert_uint_eq(p.dim, 0);
	cdb_page_free(&p);
}
END_TEST

START_TEST(test_bad_answers)
{
	cdb_page p;
	cdb_error e;

	cdb_page_init(&p);
	/* NaN comes back from Chroma as null values: name the record. */
	ck_assert_int_eq(parse(&p,
			     "{\"ids\":[\"ok\",\"bad one\"],\"embeddings\":"
			     "[[1,2],[null,null]]}",
			     &e),
	    -1);
	ck_assert_ptr_nonnull(strstr(e.text, "record \"bad one\""));
	ck_assert_ptr_nonnull(strstr(e.text, "NaN"));
	ck_assert_int_eq(parse(&p,
			     "{\"ids\":[\"a\",\"b\"],\"embeddings\":[[1,2],[1]]}",
			     &e),
	    -1);
	ck_assert_ptr_nonnull(strstr(e.text, "embeddings of 2 and 1 values"));
	ck_assert_int_eq(parse(&p, "{\"ids\":[\"a\",\"b\"],\"embeddings\":[[1]]}",
			     &e),
	    -1);
	ck_assert_ptr_nonnull(strstr(e.text, "1 embeddings for 2 ids"));
	ck_assert_int_eq(parse(&p, "{\"ids\":[\"a\"],\"embeddings\":[[1]", &e),
	    -1);
	ck_assert_int_eq(parse(&p, "<html>", &e), -1);
	ck_assert_int_eq(e.kind, CDB_ERR_SERVER);
	ck_assert_int_eq(parse(&p, "{\"embeddings\":null}", &e), -1);
	ck_assert_ptr_nonnull(strstr(e.text, "no ids"));
	cdb_page_free(&p);
	cdb_page_free(NULL);
}
END_TEST

static int
text_is(const cdb_page *p, size_t row, int f, const char *want)
{
	size_t n = CDB_TEXT_LEN(p, row, f);

	if (want == NULL)
		return n == 0;
	return n == strlen(want) &&
	    memcmp(p->body.data + CDB_TEXT_OFF(p, row, f), want, n) == 0;
}

/* want_text: each row's fields found as text, in any key order. */
START_TEST(test_text_slices)
{
	cdb_page p;
	cdb_error e;

	cdb_page_init(&p);
	p.want_text = 1;
	ck_assert_int_eq(parse(&p,
			     "{\"documents\":[null,\"d \\\"q\\\" ]\"],"
			     "\"ids\":[\"a\",\"b,\\n\"],\"embeddings\":[[0.1,-2.5],"
			     "[1,2]],\"uris\":null,\"metadatas\":[{\"k\":[1,2]},"
			     "null],\"data\":null,\"include\":[\"embeddings\"]}",
			     &e),
	    0);
	ck_assert_int_eq(p.text_ok, 1);
	ck_assert_ptr_null(p.root);
	ck_assert_uint_eq(p.n, 2);
	ck_assert_uint_eq(p.dim, 2);
	ck_assert(p.emb[2] == 1.0f);
	ck_assert(text_is(&p, 0, CDB_TEXT_ID, "\"a\""));
	ck_assert(text_is(&p, 1, CDB_TEXT_ID, "\"b,\\n\""));
	ck_assert(text_is(&p, 0, CDB_TEXT_DOCUMENT, NULL));
	ck_assert(text_is(&p, 1, CDB_TEXT_DOCUMENT, "\"d \\\"q\\\" ]\""));
	ck_assert(text_is(&p, 0, CDB_TEXT_METADATA, "{\"k\":[1,2]}"));
	ck_assert(text_is(&p, 1, CDB_TEXT_METADATA, NULL));
	ck_assert(text_is(&p, 0, CDB_TEXT_URI, NULL));
	ck_assert(text_is(&p, 1, CDB_TEXT_URI, NULL));
	/* A raw line break, or a layout it does not know: jansson does it. */
	ck_assert_int_eq(parse(&p, "{\"ids\":[\"a\"],\"metadatas\":[{\"k\":\n1}]}",
			     &e),
	    0);
	ck_assert_int_eq(p.text_ok, 0);
	ck_assert_int_eq(json_integer_value(json_object_get(
			     json_array_get(p.metadatas, 0), "k")),
	    1);
	ck_assert_int_eq(parse(&p, "{\"i\\u0064s\":[\"a\"]}", &e), 0);
	ck_assert_int_eq(p.text_ok, 0);
	ck_assert_uint_eq(p.n, 1);
	/* Wrong shapes still fail, with the full parse's messages. */
	ck_assert_int_eq(parse(&p, "{\"ids\":[\"a\",\"b\"],\"documents\":[\"x\"]}",
			     &e),
	    0);
	ck_assert_int_eq(p.text_ok, 0);
	ck_assert_int_eq(parse(&p, "{\"ids\":[1],\"embeddings\":null}", &e), 0);
	ck_assert_int_eq(p.text_ok, 0);
	ck_assert_int_eq(parse(&p, "{\"ids\":[\"a\"],\"embeddings\":[[1,2]]", &e),
	    -1);
	cdb_page_free(&p);
}
END_TEST

/* sample_shortest: later rows are only checked when the first may be copied. */
START_TEST(test_sampled_rows)
{
	cdb_page p;
	cdb_error e;

	cdb_page_init(&p);
	p.sample_shortest = 1;
	ck_assert_int_eq(parse(&p,
			     "{\"ids\":[\"a\",\"b\",\"c\",\"d\"],\"embeddings\":"
			     "[[0.1,-2.5],[0.30000001,-0],[1e-5,2],[123456789012345678901,0.5]]}",
			     &e),
	    0);
	ck_assert_uint_eq(p.n, 4);
	ck_assert_uint_eq(p.dim, 2);
	/* Row 1 is plain decimals: taken as the server wrote it. */
	ck_assert_int_eq(p.row_verbatim[0], 1);
	ck_assert_int_eq(p.row_verbatim[1], 1);
	ck_assert_uint_eq(p.row_len[1], strlen("[0.30000001,-0]"));
	/* An exponent, or 21 integer digits: converted and judged. */
	ck_assert(p.emb[4] == 1e-5f && p.emb[5] == 2.0f);
	ck_assert_int_eq(p.row_verbatim[2], 1);
	ck_assert(p.emb[6] == 123456789012345678901.0f);
	ck_assert_int_eq(p.row_verbatim[3], 1);
	/* Long spellings are copied too. */
	ck_assert_int_eq(parse(&p,
			     "{\"ids\":[\"a\",\"b\"],\"embeddings\":"
			     "[[0.10000000149011612],[0.30000001]]}",
			     &e),
	    0);
	ck_assert_int_eq(p.row_verbatim[0], 1);
	ck_assert_int_eq(p.row_verbatim[1], 1);
	/* What is not JSON, or has another length, is still refused. */
	ck_assert_int_eq(parse(&p,
			     "{\"ids\":[\"a\",\"b\"],\"embeddings\":[[0.5],[01.5]]}",
			     &e),
	    -1);
	ck_assert_int_eq(parse(&p,
			     "{\"ids\":[\"a\",\"b\"],\"embeddings\":[[0.5],[1.,2]]}",
			     &e),
	    -1);
	ck_assert_int_eq(parse(&p,
			     "{\"ids\":[\"a\",\"b\"],\"embeddings\":[[0.5],[-]]}",
			     &e),
	    -1);
	ck_assert_int_eq(parse(&p,
			     "{\"ids\":[\"a\",\"b\"],\"embeddings\":[[0.5],[0.5,0.25]]}",
			     &e),
	    -1);
	ck_assert_ptr_nonnull(strstr(e.text, "embeddings of 1 and 2 values"));
	ck_assert_int_eq(parse(&p,
			     "{\"ids\":[\"a\",\"b\"],\"embeddings\":[[0.5],[null]]}",
			     &e),
	    -1);
	cdb_page_free(&p);
}
END_TEST

/*
 * Rows after a sampled first row, built from valid and invalid number
 * spellings across 8-byte boundaries: a page parses exactly when every
 * value is a JSON number, whichever path each row takes.
 */
START_TEST(test_sampled_rows_random)
{
	static const char *const good[] = {"0.5", "-12.25", "123", "0",
	    "-0", "0.000001234", "98765432109876543210", "1e5",
	    "0.1234567890123456", "7.5E-3"};
	static const char *const bad[] = {"01", "1.", "-", "+1", ".5", "1..2",
	    "--1", "0x1", "1.2.3", "", "1e", "nan"};
	char body[4096];
	uint32_t r = 12345;
	size_t len, v;
	int k, valid, rc;
	cdb_page p;
	cdb_error e;

	cdb_page_init(&p);
	p.sample_shortest = 1;
	for (k = 0; k < 3000; k++) {
		len = (size_t)snprintf(body, sizeof(body),
		    "{\"ids\":[\"a\",\"b\"],\"embeddings\":[[0.5,0.25,0.125],[");
		valid = 1;
		for (v = 0; v < 3; v++) {
			r = r * 1664525u + 1013904223u;
			if ((r >> 24) % 8 == 0) {
				valid = 0;
				len += (size_t)snprintf(body + len, sizeof(body) - len,
				    "%s%s", v ? "," : "", bad[(r >> 8) % 12]);
			} else
				len += (size_t)snprintf(body + len, sizeof(body) - len,
				    "%s%s", v ? "," : "", good[(r >> 8) % 10]);
		}
		snprintf(body + len, sizeof(body) - len, "]]}");
		rc = parse(&p, body, &e);
		if (rc != (valid ? 0 : -1))
			ck_abort_msg("%s: parse gave %d", body, rc);
		if (valid)
			ck_assert_uint_eq(p.dim, 3);
	}
	cdb_page_free(&p);
}
END_TEST

Suite *
chroma_suite(void)
{
	Suite *s = suite_create("chroma");
	TCase *tc = tcase_create("page");

	tcase_add_test(tc, test_rows_and_verbatim);
	tcase_add_test(tc, test_bad_answers);
	tcase_add_test(tc, test_text_slices);
	tcase_add_test(tc, test_sampled_rows);
	tcase_add_test(tc, test_sampled_rows_random);
	suite_add_tcase(s, tc);
	return s;
}
