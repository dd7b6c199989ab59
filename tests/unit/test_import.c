#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checkpoint.h"
#include "import.h"
#include "ndjson.h"

/*
 * A fake Chroma server, one request per connection: enough of the API for
 * cdb_import_run.  Record ids are "L<line>" so that, on every add, it can
 * check what the import's checkpoint claims against the batch it holds.
 */
struct fake {
	int fd, port;
	pthread_t t;
	const char *ckpt;
	int adds, early;
	long claimed, first;
};

static void
reply(int c, int status, const char *body)
{
	char head[256];
	int n;

	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	    status, strlen(body));
	if (write(c, head, (size_t)n) != n ||
	    write(c, body, strlen(body)) != (ssize_t)strlen(body))
		return;
}

/* Read one request into buf; returns its body, or NULL. */
static char *
request(int c, char *buf, size_t size)
{
	size_t len = 0, want;
	char *end, *cl;
	ssize_t n;

	while ((n = read(c, buf + len, size - 1 - len)) > 0) {
		len += (size_t)n;
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		cl = strstr(buf, "Content-Length:");
		want = (size_t)(end + 4 - buf) +
		       (cl ? strtoul(cl + 15, NULL, 10) : 0);
		if (len >= want)
			return end + 4;
	}
	return NULL;
}

/* Does the checkpoint claim a line of the batch now arriving? */
static void
check_add(struct fake *f, const char *body)
{
	json_t *b = json_loads(body, 0, NULL), *ck;
	const char *id =
	    json_string_value(json_array_get(json_object_get(b, "ids"), 0));
	long first = id ? strtol(id + 1, NULL, 10) : 0, line;
	cdb_error e;

	cdb_error_clear(&e);
	ck = cdb_checkpoint_load(f->ckpt, &e);
	line = (long)json_integer_value(json_object_get(ck, "line"));
	f->adds++;
	if (line >= first && !f->early) {
		f->early = 1;
		f->claimed = line;
		f->first = first;
	}
	json_decref(ck);
	json_decref(b);
}

static void *
serve(void *arg)
{
	struct fake *f = arg;
	char buf[65536], *body;
	int c;

	while ((c = accept(f->fd, NULL, NULL)) != -1) {
		if ((body = request(c, buf, sizeof(buf))) == NULL)
			;
		else if (strstr(buf, "pre-flight-checks") != NULL)
			reply(c, 200,
			    "{\"max_batch_size\":100,"
			    "\"supports_base64_encoding\":true}");
		else if (strncmp(buf, "GET ", 4) == 0)
			reply(c, 404,
			    "{\"error\":\"NotFoundError\","
			    "\"message\":\"Collection not found\"}");
		else if (strstr(buf, "/add ") != NULL) {
			if (f->ckpt != NULL)
				check_add(f, body);
			reply(c, 200, "{}");
		} else
			reply(c, 200,
			    "{\"id\":\"c-1\",\"name\":\"aaa\","
			    "\"dimension\":null}");
		close(c);
	}
	return NULL;
}

static void
fake_start(struct fake *f, const char *ckpt)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	memset(f, 0, sizeof(*f));
	f->ckpt = ckpt;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(f->fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(f->fd, 8), 0);
	ck_assert_int_eq(getsockname(f->fd, (struct sockaddr *)&a, &len), 0);
	f->port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&f->t, NULL, serve, f), 0);
}

static void
fake_stop(struct fake *f)
{
	shutdown(f->fd, SHUT_RDWR);
	close(f->fd);
	pthread_join(f->t, NULL);
}

/* A stream of collection name with n records "L<line>", in memory. */
static FILE *
stream(const char *name, int n, char **text, size_t *len)
{
	FILE *f = open_memstream(text, len);
	cdb_writer *w = cdb_writer_new(f);
	json_t *h = cdb_ndjson_header("http://h", "t", "d", "test");
	json_t *c = json_pack("{s:s, s:s, s:i}", "kind", "collection", "name",
	    name, "dimension", 2);
	float v[2] = {0.5f, -1.0f};
	char id[32];
	cdb_error e;
	cdb_buf b;
	int i;

	cdb_error_clear(&e);
	cdb_buf_init(&b);
	ck_assert_int_eq(cdb_writer_json(w, CDB_KIND_HEADER, h, &e), 0);
	ck_assert_int_eq(cdb_writer_json(w, CDB_KIND_COLLECTION, c, &e), 0);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "L%d", i + 3);
		cdb_buf_reset(&b);
		cdb_ndjson_format_record(&b, name, id, strlen(id), NULL, NULL,
		    NULL, v, 2, CDB_EMB_BASE64, NULL, 0);
		ck_assert_int_eq(
		    cdb_writer_line(w, CDB_KIND_RECORD, b.data, b.len, &e), 0);
	}
	ck_assert_int_eq(cdb_writer_trailer(w, &e), 0);
	cdb_writer_free(w);
	cdb_buf_free(&b);
	json_decref(h);
	json_decref(c);
	fclose(f);
	return fmemopen(*text, *len, "r");
}

static void
options(cdb_import_opts *o, char *url, size_t size, const struct fake *f)
{
	snprintf(url, size, "http://127.0.0.1:%d", f->port);
	memset(o, 0, sizeof(*o));
	o->url = url;
	o->tenant = "t";
	o->database = "d";
	o->input = "stream";
}

START_TEST(test_checkpoint_claims_only_acknowledged)
{
	char dir[] = "/tmp/cdb-unit-import.XXXXXX", ckpt[64], url[64], *text;
	cdb_import_opts o;
	cdb_import_stats st;
	struct fake f;
	size_t len;
	cdb_error e;
	FILE *in;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(ckpt, sizeof(ckpt), "%s/ckpt", dir);
	fake_start(&f, ckpt);
	options(&o, url, sizeof(url), &f);
	o.batch = 2;
	o.checkpoint = ckpt;
	in = stream("aaa", 10, &text, &len);
	cdb_error_clear(&e);
	ck_assert_msg(cdb_import_run(in, &o, &st, &e) == 0, "%s", e.text);
	fake_stop(&f);
	ck_assert_int_eq(f.adds, 5);
	/*
	 * A kill -9 at any moment resumes after the checkpoint's line, so
	 * it may never cover a record the server has not acknowledged.
	 */
	ck_assert_msg(!f.early,
	    "checkpoint said line %ld while the batch from line %ld was "
	    "not yet acknowledged",
	    f.claimed, f.first);
	fclose(in);
	free(text);
	unlink(ckpt);
	rmdir(dir);
}
END_TEST

START_TEST(test_one_collection)
{
	cdb_import_opts o;
	cdb_import_stats st;
	struct fake f;
	char url[64], *text;
	size_t len;
	cdb_error e;
	FILE *in;

	fake_start(&f, NULL);
	options(&o, url, sizeof(url), &f);
	o.collection = "aaa";
	in = stream("other", 3, &text, &len);
	cdb_error_clear(&e);
	/* A snapshot member may only write to its own collection: refused
	 * at its collection line, before anything is created. */
	ck_assert_int_eq(cdb_import_run(in, &o, &st, &e), -1);
	ck_assert_int_eq(e.line, 2);
	ck_assert_ptr_nonnull(strstr(e.text, "may hold only \"aaa\""));
	ck_assert_int_eq(st.created, 0);
	fake_stop(&f);
	fclose(in);
	free(text);
}
END_TEST

Suite *
import_suite(void)
{
	Suite *s = suite_create("import");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_checkpoint_claims_only_acknowledged);
	tcase_add_test(tc, test_one_collection);
	suite_add_tcase(s, tc);
	return s;
}
