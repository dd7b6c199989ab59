/* http.c - libcurl client with retries; see http.h. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "http.h"

/* The body being sent: pieces and how far into them curl has read. */
struct body {
	const cdb_http_piece *pieces;
	size_t n, at, off;
	curl_off_t total;
};

struct cdb_http {
	CURL *curl;
	char *url;   /* as given, for clones */
	char *base;
	char *query; /* the base URL's "?x=1", for every request, or NULL */
	struct curl_slist *headers;
	cdb_http_opts o;
	unsigned int seed;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void
global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	if (cdb_buf_append(arg, p, size * n) == -1)
		return 0;
	return size * n;
}

static int
add_headers(cdb_http *h, cdb_error *e)
{
	cdb_buf b;
	struct curl_slist *l;

	h->headers = curl_slist_append(NULL, "Content-Type: application/json");
	/* curl's 100-continue wait costs a round trip on every large POST. */
	if (h->headers != NULL)
		h->headers = curl_slist_append(h->headers, "Expect:");
	if (h->headers == NULL)
		return cdb_error_oom(e);
	if (h->o.token == NULL || *h->o.token == '\0')
		return 0;
	cdb_buf_init(&b);
	if (h->o.auth_header == NULL)
		cdb_buf_printf(&b, "Authorization: Bearer %s", h->o.token);
	else
		cdb_buf_printf(&b, "%s: %s", h->o.auth_header, h->o.token);
	l = b.data ? curl_slist_append(h->headers, b.data) : NULL;
	/* The token must not linger in freed heap memory. */
	if (b.data != NULL)
		memset(b.data, 0, b.len);
	cdb_buf_free(&b);
	if (l == NULL)
		return cdb_error_oom(e);
	h->headers = l;
	return 0;
}

cdb_http *
cdb_http_new(const char *url, const cdb_http_opts *o, cdb_error *e)
{
	cdb_http *h;
	char *q = NULL;
	size_t n;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		cdb_error_set(e, CDB_ERR_SYS, "curl_global_init failed");
		return NULL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		cdb_error_oom(e);
		return NULL;
	}
	if (o != NULL)
		h->o = *o;
	if (h->o.retries < 0 || o == NULL)
		h->o.retries = 6;
	if (h->o.timeout <= 0)
		h->o.timeout = 300;
	if (h->o.connect_timeout <= 0)
		h->o.connect_timeout = 10;
	if (h->o.backoff_ms <= 0)
		h->o.backoff_ms = 250;
	h->o.token = h->o.token ? strdup(h->o.token) : NULL;
	h->o.auth_header = h->o.auth_header ? strdup(h->o.auth_header) : NULL;
	h->seed = (unsigned int)time(NULL) ^ (unsigned int)(size_t)h;
	h->url = strdup(url);
	/* http://h/?x=1: the query goes after each request's path. */
	if ((h->base = strdup(url)) != NULL &&
	    (q = strchr(h->base, '?')) != NULL) {
		h->query = strdup(q + 1);
		*q = '\0';
	}
	if (h->url == NULL || h->base == NULL || (q != NULL && !h->query) ||
	    (o != NULL && ((o->token && !h->o.token) ||
			      (o->auth_header && !h->o.auth_header)))) {
		cdb_error_oom(e);
		cdb_http_free(h);
		return NULL;
	}
	n = strlen(h->base);
	while (n > 0 && h->base[n - 1] == '/')
		h->base[--n] = '\0';
	if ((h->curl = curl_easy_init()) == NULL)
		cdb_error_set(e, CDB_ERR_SYS, "cannot initialise libcurl");
	if (h->curl == NULL || add_headers(h, e) == -1) {
		cdb_http_free(h);
		return NULL;
	}
	return h;
}

cdb_http *
cdb_http_clone(const cdb_http *h, cdb_error *e)
{
	return cdb_http_new(h->url, &h->o, e);
}

void
cdb_http_free(cdb_http *h)
{
	if (h == NULL)
		return;
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->headers);
	if (h->o.token != NULL) {
		memset((char *)h->o.token, 0, strlen(h->o.token));
		free((char *)h->o.token);
	}
	free((char *)h->o.auth_header);
	free(h->url);
	free(h->base);
	free(h->query);
	free(h);
}

static size_t
feed(char *dst, size_t size, size_t nitems, void *arg)
{
	struct body *b = arg;
	size_t room = size * nitems, done = 0, take;

	while (done < room && b->at < b->n) {
		const cdb_http_piece *p = &b->pieces[b->at];
		take = p->len - b->off < room - done ? p->len - b->off : room - done;
		memcpy(dst + done, p->data + b->off, take);
		done += take;
		b->off += take;
		if (b->off == p->len) {
			b->at++;
			b->off = 0;
		}
	}
	return done;
}

/* curl may need to start the body over (a redirect, an auth retry). */
static int
rewind_body(void *arg, curl_off_t offset, int origin)
{
	struct body *b = arg;

	if (offset != 0 || origin != SEEK_SET)
		return CURL_SEEKFUNC_CANTSEEK;
	b->at = b->off = 0;
	return CURL_SEEKFUNC_OK;
}

static void
setup(cdb_http *h, const char *method, const char *url, cdb_buf *resp,
    struct body *body)
{
	CURL *c = h->curl;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, h->o.timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->o.connect_timeout);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	/* Pages are megabytes: fewer, larger reads cost less system time. */
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
	if (h->o.insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (body != NULL) {
		body->at = body->off = 0;
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, feed);
		curl_easy_setopt(c, CURLOPT_READDATA, body);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, rewind_body);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, body->total);
	}
	if (strcmp(method, "GET") != 0 &&
	    (body == NULL || strcmp(method, "POST") != 0))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
}

/* Describe a non-2xx answer with the server's own words when it gave any. */
static void
server_error(cdb_error *e, long status, const cdb_buf *resp)
{
	json_t *j = NULL, *err, *msg;

	if (resp->len > 0)
		j = json_loadb(resp->data, resp->len, 0, NULL);
	err = json_object_get(j, "error");
	msg = json_object_get(j, "message");
	if (json_is_string(msg) && json_is_string(err))
		cdb_error_set(e, CDB_ERR_SERVER, "server: %s: %s (HTTP %ld)",
		    json_string_value(err), json_string_value(msg), status);
	else if (resp->len > 0 && resp->len < 300 && j == NULL)
		cdb_error_set(e, CDB_ERR_SERVER, "server: %s (HTTP %ld)",
		    resp->data, status);
	else
		cdb_error_set(e, CDB_ERR_SERVER, "server answered HTTP %ld",
		    status);
	if (e != NULL)
		e->http_status = (int)status;
	json_decref(j);
}

static int
retryable(CURLcode rc, long status)
{
	if (rc != CURLE_OK)
		return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
		    rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_SEND_ERROR ||
		    rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
		    rc == CURLE_PARTIAL_FILE || rc == CURLE_SSL_CONNECT_ERROR;
	return status == 429 || status >= 500;
}

static void
backoff(cdb_http *h, int attempt)
{
	long cap = h->o.backoff_ms << (attempt < 10 ? attempt : 10);
	struct timespec ts;
	long ms;

	if (cap > 30000)
		cap = 30000;
	/* Jitter (half the cap plus a random half) keeps parallel workers from
	 * retrying in lockstep. */
	ms = cap / 2 + (long)(rand_r(&h->seed) % (unsigned long)(cap / 2 + 1));
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/* The URL of path: base + path + the base's query, or NULL (OOM). */
static char *
url_of(const cdb_http *h, const char *path)
{
	cdb_buf b;

	cdb_buf_init(&b);
	if (cdb_buf_printf(&b, "%s%s", h->base, path) == -1 ||
	    (h->query != NULL && *h->query != '\0' &&
		cdb_buf_printf(&b, "%s%s", strchr(path, '?') ? "&" : "?",
		    h->query) == -1)) {
		cdb_buf_free(&b);
		return NULL;
	}
	return b.data;
}

int
cdb_http_request_pieces(cdb_http *h, const char *method, const char *path,
    const cdb_http_piece *pieces, size_t n, cdb_buf *resp, cdb_error *e)
{
	struct body b = {pieces, n, 0, 0, 0};
	CURLcode rc = CURLE_OK;
	long status = 0;
	int attempt;
	char *url;
	size_t i;

	/* A path is NULL when building it ran out of memory. */
	if (path == NULL || (url = url_of(h, path)) == NULL)
		return cdb_error_oom(e);
	for (i = 0; i < n; i++)
		b.total += (curl_off_t)pieces[i].len;
	for (attempt = 0;; attempt++) {
		cdb_buf_reset(resp);
		setup(h, method, url, resp, pieces ? &b : NULL);
		status = 0;
		rc = curl_easy_perform(h->curl);
		if (rc == CURLE_OK)
			curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
		if (rc == CURLE_OK && status >= 200 && status < 300)
			break;
		if (attempt >= h->o.retries || !retryable(rc, status))
			break;
		backoff(h, attempt);
	}
	free(url);
	if (rc != CURLE_OK) {
		char *safe = cdb_http_redact(h->base);
		cdb_error_set(e, CDB_ERR_NET, "%s: %s%s", safe ? safe : "server",
		    curl_easy_strerror(rc),
		    attempt > 0 ? " (after retries)" : "");
		free(safe);
		return -1;
	}
	if (status < 200 || status >= 300) {
		server_error(e, status, resp);
		return -1;
	}
	if (resp->data == NULL && cdb_buf_reserve(resp, 0) == -1)
		return cdb_error_oom(e);
	return (int)status;
}

int
cdb_http_request(cdb_http *h, const char *method, const char *path,
    const char *body, size_t len, cdb_buf *resp, cdb_error *e)
{
	cdb_http_piece p = {body, len};

	return cdb_http_request_pieces(h, method, path, body ? &p : NULL,
	    body ? 1 : 0, resp, e);
}

char *
cdb_http_redact(const char *url)
{
	const char *s, *at, *slash, *q;
	cdb_buf b;

	cdb_buf_init(&b);
	s = strstr(url, "://");
	s = s ? s + 3 : url;
	slash = s + strcspn(s, "/?#");
	at = memchr(s, '@', (size_t)(slash - s));
	cdb_buf_append(&b, url, (size_t)(s - url));
	if (at != NULL)
		s = at + 1;
	q = s + strcspn(s, "?#");
	cdb_buf_append(&b, s, (size_t)(q - s));
	while (b.len > 0 && b.data[b.len - 1] == '/')
		b.data[--b.len] = '\0';
	return b.data;
}

char *
cdb_http_escape(const char *s)
{
	char *c = curl_easy_escape(NULL, s, 0), *r = c ? strdup(c) : NULL;

	curl_free(c);
	return r;
}
