#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "import.h"
#include "ndjson.h"

/* A server that answers one request, the import's pre-flight check. */
struct fake {
	int fd;
	int port;
	pthread_t t;
};

static void *
serve_one(void *arg)
{
	static const char body[] =
	    "{\"max_batch_size\":100,\"supports_base64_encoding\":true}";
	struct fake *f = arg;
	char req[4096], reply[512];
	int c, n;

	if ((c = accept(f->fd, NULL, NULL)) == -1)
		return NULL;
	if (read(c, req, sizeof(req)) > 0) {
		n = snprintf(reply, sizeof(reply),
		    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		    sizeof(body) - 1, body);
		if (write(c, reply, (size_t)n) != n)
			n = 0;
	}
	close(c);
	return NULL;
}

static void
fake_start(struct fake *f)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(f->fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(f->fd, 1), 0);
	ck_assert_int_eq(getsockname(f->fd, (struct sockaddr *)&a, &len), 0);
	f->port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&f->t, NULL, serve_one, f), 0);
}

START_TEST(test_import_one_collection)
{
	static const char stream[] =
	    "{\"kind\":\"header\",\"format\":\"cdb-ndjson\",\"version\":1}\n"
	    "{\"kind\":\"collection\",\"name\":\"other\"}\n";
	cdb_import_opts o;
	cdb_import_stats st;
	struct fake f;
	char url[64];
	cdb_error e;
	FILE *in;

	fake_start(&f);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	memset(&o, 0, sizeof(o));
	o.url = url;
	o.tenant = "t";
	o.database = "d";
	o.input = "member";
	o.collection = "aaa";
	ck_assert_ptr_nonnull(
	    in = fmemopen((void *)stream, strlen(stream), "r"));
	cdb_error_clear(&e);
	/* A snapshot member may only write to its own collection: refused
	 * at its collection line, before anything is created. */
	ck_assert_int_eq(cdb_import_run(in, &o, &st, &e), -1);
	ck_assert_int_eq(e.line, 2);
	ck_assert_ptr_nonnull(strstr(e.text, "may hold only \"aaa\""));
	ck_assert_int_eq(st.created, 0);
	fclose(in);
	pthread_join(f.t, NULL);
	close(f.fd);
}
END_TEST

Suite *
rollback_suite(void)
{
	Suite *s = suite_create("rollback");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_import_one_collection);
	suite_add_tcase(s, tc);
	return s;
}
