/*
 * http.h - a keep-alive HTTP client for one server (libcurl), with
 * timeouts and retries: exponential backoff with jitter on
 * connection errors, 429 and 5xx; never on other 4xx, which are the
 * caller's mistake and would fail again.  One cdb_http per thread.
 */
#ifndef CDB_HTTP_H
#define CDB_HTTP_H

#include "cdb.h"

typedef struct cdb_http_opts {
	const char *token;	 /* from the environment; NULL for none */
	const char *auth_header; /* NULL: "Authorization: Bearer"; else the
				    header name, e.g. "x-chroma-token" */
	int insecure;		 /* skip TLS verification */
	long timeout;		 /* seconds for a whole request; 0: 300 */
	long connect_timeout;	 /* seconds; 0: 10 */
	int retries;		 /* extra attempts; -1: default (6) */
	long backoff_ms;	 /* first backoff; 0: 250 ms, doubling */
} cdb_http_opts;

typedef struct cdb_http cdb_http;

/* A client for base ("http://host:8000"); o (copied) may be NULL.  The
 * caller frees with cdb_http_free. */
cdb_http *cdb_http_new(const char *base, const cdb_http_opts *o, cdb_error *e);
/* A new client to the same server with the same options: its own
 * connection, for another thread.  NULL with e.  Caller frees. */
cdb_http *cdb_http_clone(const cdb_http *h, cdb_error *e);
void cdb_http_free(cdb_http *h);

/*
 * Send method (GET, POST, PUT, DELETE) to base + path with an optional
 * JSON body (NULL for none).  The response body is stored in resp (reset
 * first).  Returns the HTTP status when it is 2xx; otherwise -1 with e
 * holding the server's own message ({"error","message"} bodies) and
 * e->http_status set, or a network error after the retries ran out.
 */
int cdb_http_request(cdb_http *h, const char *method, const char *path,
    const char *body, size_t len, cdb_buf *resp, cdb_error *e);

/* One piece of a request body sent without first joining the pieces. */
typedef struct cdb_http_piece {
	const char *data;
	size_t len;
} cdb_http_piece;

/* cdb_http_request with the body in n pieces (NULL: none), so a large
 * body is never copied into one buffer. */
int cdb_http_request_pieces(cdb_http *h, const char *method,
    const char *path, const cdb_http_piece *pieces, size_t n, cdb_buf *resp,
    cdb_error *e);

/* url without user:password@ and query, for messages and reports: a new
 * string the caller frees, or NULL. */
char *cdb_http_redact(const char *url);

/* Percent-encode s for use as one path segment; caller frees. */
char *cdb_http_escape(const char *s);

#endif
