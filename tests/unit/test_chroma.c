/* cdb_page_parse (pager.h) on answers shaped like Chroma's /get responses. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pager.h"

static int
parse(cdb_page *p, const char *body, cdb_error *e)
{
	cdb_buf_reset(&p->body);
	cdb_buf_puts(&p->body, body);
	cdb_error_clear(e);
	return cdb_page_parse(p, e);
}

START_TEST(test_rows)
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
	/* Row 1 spells 0.1f with 17 digits. */
	ck_assert(p.emb[0] == 0.1f && p.emb[1] == -2.5f && p.emb[2] == 0.1f);
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
	ck_assert_int_eq(e.code, CDB_E_EMBEDDING);
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

/* What is not JSON, or has another length, is refused. */
START_TEST(test_bad_rows)
{
	cdb_page p;
	cdb_error e;

	cdb_page_init(&p);
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
	ck_assert_int_eq(parse(&p,
			     "{\"ids\":[\"a\",\"b\"],\"embeddings\":[[0.5] [1]]}",
			     &e),
	    -1);
	cdb_page_free(&p);
}
END_TEST

/*
 * Rows built from valid and invalid number spellings across 8-byte
 * boundaries: a page parses exactly when every value is a JSON number.
 */
START_TEST(test_rows_random)
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

	tcase_add_test(tc, test_rows);
	tcase_add_test(tc, test_bad_answers);
	tcase_add_test(tc, test_bad_rows);
	tcase_add_test(tc, test_rows_random);
	suite_add_tcase(s, tc);
	return s;
}
