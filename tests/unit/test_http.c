#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"

START_TEST(test_redact)
{
	char *s;

	s = cdb_http_redact("https://user:secret@host:8000/base/?token=abc");
	ck_assert_str_eq(s, "https://host:8000/base");
	free(s);
	s = cdb_http_redact("http://localhost:8000");
	ck_assert_str_eq(s, "http://localhost:8000");
	free(s);
}
END_TEST

START_TEST(test_escape)
{
	char *s = cdb_http_escape("a b/c%d-é");

	ck_assert_str_eq(s, "a%20b%2Fc%25d-%C3%A9");
	free(s);
}
END_TEST

/*
 * A refused connection is retried with backoff and then reported as a
 * network error naming the redacted server, never the token.
 */
START_TEST(test_refused_retries_then_fails)
{
	cdb_http_opts o = {0};
	cdb_http *h;
	cdb_buf resp;
	cdb_error e;
	struct timespec t0, t1;
	double s;

	o.retries = 2;
	o.backoff_ms = 50;
	o.token = "sekrit-token";
	cdb_error_clear(&e);
	cdb_buf_init(&resp);
	h = cdb_http_new("http://u:pw@127.0.0.1:1", &o, &e);
	ck_assert_ptr_nonnull(h);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(cdb_http_request(h, "GET", "/x", NULL, 0, &resp, &e), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_int_eq(e.kind, CDB_ERR_NET);
	ck_assert_ptr_nonnull(strstr(e.text, "127.0.0.1:1"));
	ck_assert_ptr_null(strstr(e.text, "pw"));
	ck_assert_ptr_null(strstr(e.text, "sekrit"));
	/* Two backoffs of 25-50 and 50-100 ms happened. */
	ck_assert(s >= 0.070);
	cdb_http_free(h);
	cdb_http_free(NULL);
	cdb_buf_free(&resp);
}
END_TEST

Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_redact);
	tcase_add_test(tc, test_escape);
	tcase_add_test(tc, test_refused_retries_then_fails);
	suite_add_tcase(s, tc);
	return s;
}
