/* chroma.c - Chroma v2 API client; see chroma.h. */
#include <stdlib.h>
#include <string.h>

#include "chroma.h"
#include "json.h"

struct cdb_chroma {
	cdb_http *http;
	char *url;    /* redacted, for messages and headers */
	char *tenant, *database;
	char *prefix; /* /api/v2/tenants/T/databases/D */
	cdb_buf resp;
	cdb_buf path;
	cdb_buf body;
};

/* A client for tenant/database over http (owned: freed on failure). */
static cdb_chroma *
with_http(cdb_http *http, char *url, const char *tenant, const char *database,
    cdb_error *e)
{
	cdb_chroma *c;
	char *t, *d;
	cdb_buf p;

	if (http == NULL) {
		free(url);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		cdb_http_free(http);
		free(url);
		cdb_error_oom(e);
		return NULL;
	}
	c->http = http;
	c->url = url;
	cdb_buf_init(&p);
	t = cdb_http_escape(tenant);
	d = cdb_http_escape(database);
	c->tenant = strdup(tenant);
	c->database = strdup(database);
	if (t && d)
		cdb_buf_printf(&p, "/api/v2/tenants/%s/databases/%s", t, d);
	c->prefix = p.data;
	free(t);
	free(d);
	if (c->url == NULL || c->tenant == NULL || c->database == NULL ||
	    c->prefix == NULL) {
		cdb_error_oom(e);
		cdb_chroma_free(c);
		return NULL;
	}
	return c;
}

cdb_chroma *
cdb_chroma_new(const char *url, const char *tenant, const char *database,
    const cdb_http_opts *o, cdb_error *e)
{
	return with_http(cdb_http_new(url, o, e), cdb_http_redact(url), tenant,
	    database, e);
}

cdb_chroma *
cdb_chroma_clone(const cdb_chroma *c, cdb_error *e)
{
	return with_http(cdb_http_clone(c->http, e), strdup(c->url), c->tenant,
	    c->database, e);
}

void
cdb_chroma_free(cdb_chroma *c)
{
	if (c == NULL)
		return;
	cdb_http_free(c->http);
	free(c->url);
	free(c->tenant);
	free(c->database);
	free(c->prefix);
	cdb_buf_free(&c->resp);
	cdb_buf_free(&c->path);
	cdb_buf_free(&c->body);
	free(c);
}

const char *
cdb_chroma_url(const cdb_chroma *c)
{
	return c->url;
}

const char *
cdb_chroma_tenant(const cdb_chroma *c)
{
	return c->tenant;
}

const char *
cdb_chroma_database(const cdb_chroma *c)
{
	return c->database;
}

/* Send and parse a JSON answer; a new reference or NULL. */
static json_t *
call_json(cdb_chroma *c, const char *method, const char *path,
    const char *body, size_t len, cdb_error *e)
{
	json_t *j;

	if (cdb_http_request(c->http, method, path, body, len, &c->resp, e) ==
	    -1)
		return NULL;
	if ((j = json_loadb(c->resp.data, c->resp.len, CDB_JSON_FLAGS,
		 NULL)) == NULL)
		cdb_error_set(e, CDB_ERR_SERVER,
		    "server sent an answer that is not JSON for %s %s", method,
		    path);
	return j;
}

/*
 * c->path = prefix + "/collections" [+ "/" name] [+ tail]; NULL when out
 * of memory, which cdb_http_request reports.
 */
static const char *
coll_path(cdb_chroma *c, const char *name, const char *tail)
{
	char *esc = name ? cdb_http_escape(name) : NULL;
	int rc = name != NULL && esc == NULL ? -1 : 0;

	cdb_buf_reset(&c->path);
	if (rc == 0)
		rc = cdb_buf_printf(&c->path, "%s/collections%s%s%s", c->prefix,
		    esc ? "/" : "", esc ? esc : "", tail ? tail : "");
	free(esc);
	return rc == 0 ? c->path.data : NULL;
}

int
cdb_chroma_heartbeat(cdb_chroma *c, cdb_error *e)
{
	json_t *j = call_json(c, "GET", "/api/v2/heartbeat", NULL, 0, e);

	json_decref(j);
	return j ? 0 : -1;
}

int
cdb_chroma_check_database(cdb_chroma *c, cdb_error *e)
{
	json_t *j;
	cdb_error e2;

	cdb_error_clear(&e2);
	if ((j = call_json(c, "GET", c->prefix, NULL, 0, &e2)) != NULL) {
		json_decref(j);
		return 0;
	}
	if (e2.http_status == 404) {
		cdb_error_clear(&e2);
		cdb_error_set(&e2, CDB_ERR_USAGE,
		    "tenant \"%s\" has no database \"%s\"", c->tenant,
		    c->database);
		e2.http_status = 404;
	}
	if (e != NULL && e->kind == CDB_ERR_NONE)
		*e = e2;
	return -1;
}

int
cdb_chroma_create_database(cdb_chroma *c, cdb_error *e)
{
	char *t = cdb_http_escape(c->tenant);
	json_t *req = json_pack("{ss}", "name", c->database), *j = NULL;

	cdb_buf_reset(&c->path);
	cdb_buf_reset(&c->body);
	if (t == NULL || req == NULL ||
	    cdb_buf_printf(&c->path, "/api/v2/tenants/%s/databases", t) == -1 ||
	    cdb_json_dump(&c->body, req) == -1)
		cdb_error_oom(e);
	else
		j = call_json(c, "POST", c->path.data, c->body.data,
		    c->body.len, e);
	free(t);
	json_decref(req);
	json_decref(j);
	return j ? 0 : -1;
}

int
cdb_chroma_preflight(cdb_chroma *c, long *max_batch, int *base64,
    cdb_error *e)
{
	json_t *j = call_json(c, "GET", "/api/v2/pre-flight-checks", NULL, 0, e);
	json_t *m;

	if (j == NULL)
		return -1;
	m = json_object_get(j, "max_batch_size");
	*max_batch = json_is_integer(m) ? (long)json_integer_value(m) : 0;
	*base64 = json_is_true(json_object_get(j, "supports_base64_encoding"));
	json_decref(j);
	return 0;
}

static int
by_name(const void *a, const void *b)
{
	const char *x = json_string_value(json_object_get(*(json_t **)a, "name"));
	const char *y = json_string_value(json_object_get(*(json_t **)b, "name"));

	return strcmp(x ? x : "", y ? y : "");
}

/* all sorted by name: a new array, or NULL (out of memory). */
static json_t *
sorted(json_t *all)
{
	size_t i, n = json_array_size(all);
	json_t **v = malloc((n + 1) * sizeof(*v));
	json_t *out = v != NULL ? json_array() : NULL;

	for (i = 0; out != NULL && i < n; i++)
		v[i] = json_array_get(all, i);
	if (out != NULL)
		qsort(v, n, sizeof(*v), by_name);
	for (i = 0; out != NULL && i < n; i++)
		if (json_array_append(out, v[i]) == -1) {
			json_decref(out);
			out = NULL;
		}
	free(v);
	return out;
}

json_t *
cdb_chroma_list(cdb_chroma *c, cdb_error *e)
{
	const long lim = 100;
	json_t *all = json_array(), *page, *out = NULL;
	long off;
	int rc = all == NULL ? -1 : 0;
	size_t got = (size_t)lim;
	char q[64];

	for (off = 0; rc == 0 && got == (size_t)lim; off += lim) {
		snprintf(q, sizeof(q), "?limit=%ld&offset=%ld", lim, off);
		page = call_json(c, "GET", coll_path(c, NULL, q), NULL, 0, e);
		if (!json_is_array(page)) {
			if (page != NULL)
				cdb_error_set(e, CDB_ERR_SERVER,
				    "collection list is not an array");
			json_decref(page);
			json_decref(all);
			return NULL;
		}
		got = json_array_size(page);
		rc = json_array_extend(all, page);
		json_decref(page);
	}
	if (rc == -1 || (out = sorted(all)) == NULL)
		cdb_error_oom(e);
	json_decref(all);
	return out;
}

json_t *
cdb_chroma_get_collection(cdb_chroma *c, const char *name, cdb_error *e)
{
	return call_json(c, "GET", coll_path(c, name, NULL), NULL, 0, e);
}

json_t *
cdb_chroma_create(cdb_chroma *c, const char *name, const json_t *metadata,
    const json_t *configuration, cdb_error *e)
{
	json_t *req = json_pack("{s:s, s:b}", "name", name, "get_or_create", 1);
	int rc = req == NULL ? -1 : 0;

	if (rc == 0 && metadata != NULL && !json_is_null(metadata))
		rc = json_object_set(req, "metadata", (json_t *)metadata);
	if (rc == 0 && configuration != NULL && !json_is_null(configuration))
		rc = json_object_set(req, "configuration",
		    (json_t *)configuration);
	cdb_buf_reset(&c->body);
	if (rc == 0)
		rc = cdb_json_dump(&c->body, req);
	json_decref(req);
	if (rc == -1) {
		cdb_error_oom(e);
		return NULL;
	}
	return call_json(c, "POST", coll_path(c, NULL, NULL), c->body.data,
	    c->body.len, e);
}

int
cdb_chroma_delete(cdb_chroma *c, const char *name, cdb_error *e)
{
	return cdb_http_request(c->http, "DELETE", coll_path(c, name, NULL),
	    NULL, 0, &c->resp, e) == -1 ? -1 : 0;
}

long
cdb_chroma_count(cdb_chroma *c, const char *id, cdb_error *e)
{
	json_t *j = call_json(c, "GET", coll_path(c, id, "/count"), NULL, 0, e);
	long n = -1;

	if (json_is_integer(j))
		n = (long)json_integer_value(j);
	else if (j != NULL)
		cdb_error_set(e, CDB_ERR_SERVER, "count is not an integer");
	json_decref(j);
	return n;
}

static int
add_include(json_t *req, int include)
{
	static const char *const names[] = {
	    "embeddings", "documents", "metadatas", "uris"};
	json_t *a = json_array();
	int i;

	if (json_object_set_new(req, "include", a) == -1)
		return -1;
	for (i = 0; i < 4; i++)
		if ((include & 1 << i) &&
		    json_array_append_new(a, json_string(names[i])) == -1)
			return -1;
	return 0;
}

/* POST req (taken) to the collection's /get; the answer left in resp. */
static int
post_get(cdb_chroma *c, const char *id, json_t *req, cdb_buf *resp,
    cdb_error *e)
{
	int rc;

	cdb_buf_reset(&c->body);
	rc = req == NULL ? -1 : cdb_json_dump(&c->body, req);
	json_decref(req);
	if (rc == -1)
		return cdb_error_oom(e);
	return cdb_http_request(c->http, "POST", coll_path(c, id, "/get"),
		   c->body.data, c->body.len, resp, e) == -1
	    ? -1
	    : 0;
}

int
cdb_chroma_get(cdb_chroma *c, const char *id, long offset, long limit,
    const json_t *where, const json_t *where_document, int include,
    cdb_buf *resp, cdb_error *e)
{
	json_t *req = json_pack("{s:I, s:I}", "limit", (json_int_t)limit,
	    "offset", (json_int_t)offset);

	if (req != NULL &&
	    (add_include(req, include) == -1 ||
		(where != NULL &&
		    json_object_set(req, "where", (json_t *)where) == -1) ||
		(where_document != NULL &&
		    json_object_set(req, "where_document",
			(json_t *)where_document) == -1))) {
		json_decref(req);
		req = NULL;
	}
	return post_get(c, id, req, resp, e);
}

int
cdb_chroma_get_ids(cdb_chroma *c, const char *id, const json_t *ids,
    int include, cdb_buf *resp, cdb_error *e)
{
	json_t *req = json_pack("{s:O}", "ids", (json_t *)ids);

	if (req != NULL && add_include(req, include) == -1) {
		json_decref(req);
		req = NULL;
	}
	return post_get(c, id, req, resp, e);
}

/* POST body to the collection's tail ("/add", "/query"...) into resp. */
static int
post(cdb_chroma *c, const char *id, const char *tail,
    const cdb_http_piece *pieces, size_t n, cdb_buf *resp, cdb_error *e)
{
	return cdb_http_request_pieces(c->http, "POST", coll_path(c, id, tail),
		   pieces, n, resp ? resp : &c->resp, e) == -1
	    ? -1
	    : 0;
}

int
cdb_chroma_write_pieces(cdb_chroma *c, const char *id, int upsert,
    const cdb_http_piece *pieces, size_t n, cdb_error *e)
{
	return post(c, id, upsert ? "/upsert" : "/add", pieces, n, NULL, e);
}

int
cdb_chroma_update(cdb_chroma *c, const char *id, const char *body,
    size_t len, cdb_error *e)
{
	cdb_http_piece p = {body, len};

	return post(c, id, "/update", &p, 1, NULL, e);
}

int
cdb_chroma_query(cdb_chroma *c, const char *id, const char *body, size_t len,
    cdb_buf *resp, cdb_error *e)
{
	cdb_http_piece p = {body, len};

	return post(c, id, "/query", &p, 1, resp, e);
}

const char *
cdb_chroma_space(const json_t *conf)
{
	const json_t *s = json_object_get(json_object_get(conf, "hnsw"), "space");

	if (!json_is_string(s))
		s = json_object_get(json_object_get(conf, "spann"), "space");
	return json_is_string(s) ? json_string_value(s) : NULL;
}
