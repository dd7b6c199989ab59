/* cdb_page_parse on answers shaped like Chroma's /get responses. */
#include <check.h>
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
	/* Row 0 is already shortest; row 1 spells 0.1f with 17 digits. */
	ck_assert_int_eq(p.row_verbatim[0], 1);
	ck_assert_int_eq(p.row_verbatim[1], 0);
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

Suite *
chroma_suite(void)
{
	Suite *s = suite_create("chroma");
	TCase *tc = tcase_create("page");

	tcase_add_test(tc, test_rows_and_verbatim);
	tcase_add_test(tc, test_bad_answers);
	suite_add_tcase(s, tc);
	return s;
}
