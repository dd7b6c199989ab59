/* chroma.c - Chroma v2 API client; see chroma.h. */
#include <stdlib.h>
#include <string.h>

#include "chroma.h"
#include "embed.h"
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

/* c->path = prefix + "/collections" + fmt... */
static const char *
coll_path(cdb_chroma *c, const char *name, const char *tail)
{
	char *esc = name ? cdb_http_escape(name) : NULL;

	cdb_buf_reset(&c->path);
	cdb_buf_printf(&c->path, "%s/collections%s%s%s", c->prefix,
	    esc ? "/" : "", esc ? esc : "", tail ? tail : "");
	free(esc);
	return c->path.data;
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
	if (e2.http_status != 404) {
		if (e != NULL && e->kind == CDB_ERR_NONE)
			*e = e2;
		return -1;
	}
	if (e != NULL && e->kind == CDB_ERR_NONE) {
		cdb_error_set(e, CDB_ERR_USAGE,
		    "tenant \"%s\" has no database \"%s\"", c->tenant,
		    c->database);
		e->http_status = 404;
	}
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

static int
sort_by_name(json_t *all)
{
	size_t i, n = json_array_size(all);
	json_t **v;

	if (n < 2)
		return 0;
	if ((v = malloc(n * sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(all, i));
	qsort(v, n, sizeof(*v), by_name);
	for (i = 0; i < n; i++)
		json_array_set_new(all, i, v[i]);
	free(v);
	return 0;
}

json_t *
cdb_chroma_list(cdb_chroma *c, cdb_error *e)
{
	const long lim = 100;
	json_t *all = json_array(), *page;
	long off;
	char q[64];

	for (off = 0; all != NULL; off += lim) {
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
		json_array_extend(all, page);
		if ((long)json_array_size(page) < lim) {
			json_decref(page);
			break;
		}
		json_decref(page);
	}
	if (all == NULL || sort_by_name(all) == -1) {
		json_decref(all);
		cdb_error_oom(e);
		return NULL;
	}
	return all;
}

json_t *
cdb_chroma_get_collection(cdb_chroma *c, const char *name, cdb_error *e)
{
	return call_json(c, "GET", coll_path(c, name, NULL), NULL, 0, e);
}

json_t *
cdb_chroma_create(cdb_chroma *c, const char *name, const json_t *metadata,
    const json_t *configuration, int get_or_create, cdb_error *e)
{
	json_t *req = json_object();

	json_object_set_new(req, "name", json_string(name));
	if (metadata != NULL && !json_is_null(metadata))
		json_object_set(req, "metadata", (json_t *)metadata);
	if (configuration != NULL && !json_is_null(configuration))
		json_object_set(req, "configuration", (json_t *)configuration);
	json_object_set_new(req, "get_or_create", json_boolean(get_or_create));
	cdb_buf_reset(&c->body);
	if (cdb_json_dump(&c->body, req) == -1) {
		json_decref(req);
		cdb_error_oom(e);
		return NULL;
	}
	json_decref(req);
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

void
cdb_page_init(cdb_page *p)
{
	memset(p, 0, sizeof(*p));
	cdb_buf_init(&p->body);
	cdb_buf_init(&p->rest);
}

void
cdb_page_free(cdb_page *p)
{
	if (p == NULL)
		return;
	json_decref(p->root);
	free(p->emb);
	free(p->row_off);
	free(p->row_len);
	free(p->row_verbatim);
	free(p->text);
	cdb_buf_free(&p->body);
	cdb_buf_free(&p->rest);
	cdb_page_init(p);
}

static int
emb_reserve(cdb_page *p, size_t n, cdb_error *e)
{
	float *f;

	if (n <= p->emb_cap)
		return 0;
	if ((f = realloc(p->emb, n * sizeof(float))) == NULL)
		return cdb_error_oom(e);
	p->emb = f;
	p->emb_cap = n;
	return 0;
}

static int
rows_reserve(cdb_page *p, cdb_error *e)
{
	size_t n = p->n ? p->n : 1;
	void *a;

	if (n <= p->rows_cap)
		return 0;
	if ((a = realloc(p->row_off, n * sizeof(*p->row_off))) != NULL)
		p->row_off = a;
	if (a != NULL &&
	    (a = realloc(p->row_len, n * sizeof(*p->row_len))) != NULL)
		p->row_len = a;
	if (a != NULL && (a = realloc(p->row_verbatim, n)) != NULL)
		p->row_verbatim = a;
	if (a == NULL)
		return cdb_error_oom(e);
	p->rows_cap = n;
	return 0;
}

/*
 * Name the record whose embedding could not be read (the ids precede the
 * embeddings in Chroma's answers): null values there mean NaN on the server.
 */
static int
row_error(cdb_page *p, size_t vs, size_t row, const cdb_error *pe,
    cdb_error *e)
{
	size_t is, ie;
	json_t *ids = NULL, *id;

	if (cdb_json_find(p->body.data, vs, "ids", &is, &ie) == 1)
		ids = json_loadb(p->body.data + is, ie - is, CDB_JSON_FLAGS, NULL);
	id = json_array_get(ids, row);
	cdb_error_setc(e, CDB_ERR_SERVER, CDB_E_EMBEDDING,
	    "record \"%s\": the server returned an unusable embedding (%s); "
	    "null values mean it stores NaN",
	    json_is_string(id) ? json_string_value(id) : "?", pe->text);
	json_decref(ids);
	return -1;
}

/*
 * Parse "[[...],[...]]" (or null) starting at s[0] into p->emb in one
 * pass; every row must have the same length.  Returns the bytes consumed,
 * or -1.
 */
static long
parse_rows(cdb_page *p, const char *s, size_t n, cdb_error *e)
{
	size_t i, row = 0, dim;
	long used;
	int verb = 0, sampled = 0;

	p->dim = 0;
	if (n >= 4 && memcmp(s, "null", 4) == 0)
		return 4;
	if (n == 0 || s[0] != '[')
		return cdb_error_set(e, CDB_ERR_SERVER, "embeddings not an array");
	for (i = 1; i < n; i++) {
		while (i < n && strchr(" \t\r\n,", s[i]) != NULL)
			i++;
		if (i < n && s[i] == ']') {
			p->n = row;
			return (long)(i + 1);
		}
		if (row >= p->rows_cap) {
			p->n = row == 0 ? 64 : row * 2;
			if (rows_reserve(p, e) == -1)
				return -1;
		}
		if (row == 0 && emb_reserve(p, 65536, e) == -1)
			return -1;
		if (row > 0 && emb_reserve(p, (row + 1) * p->dim, e) == -1)
			return -1;
		if (sampled && (used = cdb_embed_plain_json(s + i, n - i, &dim)) > 0)
			verb = 1;
		else
			used = cdb_embed_scan_json(s + i, n - i,
			    p->emb + row * p->dim, row == 0 ? p->emb_cap : p->dim,
			    &dim, p->no_verbatim ? NULL : &verb, e);
		if (row == 0)
			sampled = p->sample_shortest && verb;
		if (used == -1) {
			p->n = row;
			return -1;
		}
		if (row == 0)
			p->dim = dim;
		else if (dim != p->dim)
			return cdb_error_set(e, CDB_ERR_SERVER,
			    "server returned embeddings of %zu and %zu values "
			    "in one collection", p->dim, dim);
		p->row_off[row] = i;
		p->row_len[row] = (size_t)used;
		p->row_verbatim[row] = (unsigned char)verb;
		row++;
		i += (size_t)used - 1;
	}
	return cdb_error_set(e, CDB_ERR_SERVER, "embeddings array not closed");
}

/* Is the text at s (n bytes) a value that may stand as field f? */
static int
text_fits(const char *s, size_t n, int f)
{
	/* A raw line break would split the record's line. */
	if (memchr(s, '\n', n) != NULL || memchr(s, '\r', n) != NULL)
		return 0;
	return s[0] == (f == CDB_TEXT_METADATA ? '{' : '"');
}

static int
text_reserve(cdb_page *p, size_t rows)
{
	size_t cap = p->text_cap ? p->text_cap : 1024, *t;

	if (rows <= p->text_cap)
		return 0;
	while (cap < rows)
		cap *= 2;
	if ((t = realloc(p->text, cap * 8 * sizeof(size_t))) == NULL)
		return -1;
	p->text = t;
	p->text_cap = cap;
	return 0;
}

/*
 * The text of each element of the array at s[i] as field f of rows 0,
 * 1, ...; their number in *count (null counts as absent: -1).  Returns
 * the offset after the array, or 0 when it is not laid out as expected.
 */
static size_t
slice_array(cdb_page *p, size_t i, int f, long *count)
{
	const char *s = p->body.data;
	size_t n = p->body.len, k = 0;
	long len;

	if (n - i >= 4 && memcmp(s + i, "null", 4) == 0) {
		*count = -1;
		return i + 4;
	}
	if (i >= n || s[i] != '[')
		return 0;
	for (i = cdb_json_skip_ws(s, n, i + 1); i < n && s[i] != ']'; k++) {
		if (text_reserve(p, k + 1) == -1 ||
		    (len = cdb_json_skip(s + i, n - i)) <= 0)
			return 0;
		CDB_TEXT_OFF(p, k, f) = i;
		CDB_TEXT_LEN(p, k, f) = (size_t)len;
		if (len == 4 && f != CDB_TEXT_ID && memcmp(s + i, "null", 4) == 0)
			CDB_TEXT_LEN(p, k, f) = 0;
		else if (!text_fits(s + i, (size_t)len, f))
			return 0;
		i = cdb_json_skip_ws(s, n, i + (size_t)len);
		if (i < n && s[i] == ',')
			i = cdb_json_skip_ws(s, n, i + 1);
		else if (i >= n || s[i] != ']')
			return 0;
	}
	*count = (long)k;
	return i < n ? i + 1 : 0;
}

/* Which CDB_TEXT_ field the top-level key s (n bytes) holds, or -1. */
static int
text_field(const char *s, size_t n)
{
	static const char *const keys[] = {
	    "ids", "documents", "metadatas", "uris"};
	int f;

	for (f = 0; f < 4; f++)
		if (strlen(keys[f]) == n && memcmp(s, keys[f], n) == 0)
			return f;
	return -1;
}

/*
 * Walk the answer's top-level object once, slicing the four arrays and
 * jumping over the embeddings at [evs, eve) (when has).  0, or -1 to
 * fall back to a full parse.
 */
static int
slice_all(cdb_page *p, int has, size_t evs, size_t eve)
{
	const char *s = p->body.data, *q;
	size_t n = p->body.len, i = cdb_json_skip_ws(s, n, 0), ks, r;
	long count[4] = {-1, -1, -1, -1}, len;
	int f;

	if (i >= n || s[i] != '{')
		return -1;
	for (i = cdb_json_skip_ws(s, n, i + 1); i < n && s[i] != '}';) {
		/* Keys with escapes are not Chroma's: leave them to jansson. */
		if (s[i] != '"' || (q = memchr(s + i + 1, '"', n - i - 1)) == NULL ||
		    memchr(s + i + 1, '\\', (size_t)(q - s) - i - 1) != NULL)
			return -1;
		ks = i + 1;
		i = cdb_json_skip_ws(s, n, (size_t)(q - s) + 1);
		if (i >= n || s[i] != ':')
			return -1;
		f = text_field(s + ks, (size_t)(q - s) - ks);
		i = cdb_json_skip_ws(s, n, i + 1);
		if (f >= 0)
			i = slice_array(p, i, f, &count[f]);
		else if (has && i == evs)
			i = eve;
		else if ((len = cdb_json_skip(s + i, n - i)) > 0)
			i += (size_t)len;
		else
			i = 0;
		if (i == 0)
			return -1;
		i = cdb_json_skip_ws(s, n, i);
		if (i < n && s[i] == ',')
			i = cdb_json_skip_ws(s, n, i + 1);
		else if (i >= n || s[i] != '}')
			return -1;
	}
	if (i >= n || count[CDB_TEXT_ID] < 0 ||
	    text_reserve(p, (size_t)count[CDB_TEXT_ID]) == -1)
		return -1;
	p->n = (size_t)count[CDB_TEXT_ID];
	for (f = 1; f < 4; f++) {
		if (count[f] >= 0 && (size_t)count[f] != p->n)
			return -1;
		for (r = 0; count[f] < 0 && r < p->n; r++)
			CDB_TEXT_LEN(p, r, f) = 0;
	}
	return 0;
}

/* Parse a response whose embeddings (if has) start at vs. */
static int
parse_body(cdb_page *p, int has, size_t vs, cdb_error *e)
{
	const char *s = p->body.data;
	size_t ve = vs, rows = 0, r;
	long used;
	cdb_buf *rest = &p->rest;

	if (has) {
		cdb_error pe;
		cdb_error_clear(&pe);
		if ((used = parse_rows(p, s + vs, p->body.len - vs, &pe)) == -1)
			return pe.kind == CDB_ERR_INPUT
			    ? row_error(p, vs, p->n, &pe, e)
			    : cdb_error_set(e, pe.kind, "%s", pe.text);
		rows = p->n;
		ve = vs + (size_t)used;
		for (r = 0; r < rows; r++)
			p->row_off[r] += vs;
	}
	if (p->want_text && slice_all(p, has, vs, ve) == 0) {
		p->text_ok = 1;
		if (has && p->dim > 0 && rows != p->n)
			return cdb_error_set(e, CDB_ERR_SERVER,
			    "server returned %zu embeddings for %zu ids", rows,
			    p->n);
		if (!has || rows == 0)
			p->dim = 0;
		return 0;
	}
	/*
	 * Parse everything but the numbers into jansson values, from a copy
	 * in a buffer kept with the page: a new one each page cost more in
	 * malloc than the copy itself.
	 */
	cdb_buf_reset(rest);
	if (cdb_buf_reserve(rest, p->body.len - (ve - vs) + 5) == -1)
		return cdb_error_oom(e);
	cdb_buf_append(rest, s, vs);
	if (has)
		cdb_buf_puts(rest, "null");
	cdb_buf_append(rest, s + ve, p->body.len - ve);
	p->root = cdb_json_load(rest->data, rest->len, NULL);
	if (p->root == NULL)
		return cdb_error_set(e, CDB_ERR_SERVER, "server answer not JSON");
	p->ids = json_object_get(p->root, "ids");
	p->documents = json_object_get(p->root, "documents");
	p->metadatas = json_object_get(p->root, "metadatas");
	p->uris = json_object_get(p->root, "uris");
	if (!json_is_array(p->ids))
		return cdb_error_set(e, CDB_ERR_SERVER, "server answer has no ids");
	p->n = json_array_size(p->ids);
	if (has && p->dim > 0 && rows != p->n)
		return cdb_error_set(e, CDB_ERR_SERVER,
		    "server returned %zu embeddings for %zu ids", rows, p->n);
	if (!has || rows == 0)
		p->dim = 0;
	return 0;
}

int
cdb_page_parse(cdb_page *p, cdb_error *e)
{
	size_t vs = 0;
	int has;

	json_decref(p->root);
	p->root = p->ids = p->documents = p->metadatas = p->uris = NULL;
	p->n = p->dim = 0;
	p->text_ok = 0;
	has = cdb_json_find(p->body.data, p->body.len, "embeddings", &vs, NULL);
	if (has == -1)
		return cdb_error_set(e, CDB_ERR_SERVER, "server answer not JSON");
	return parse_body(p, has, has ? vs : p->body.len, e);
}

static json_t *
include_list(int include)
{
	json_t *a = json_array();

	if (include & CDB_INC_EMBEDDINGS)
		json_array_append_new(a, json_string("embeddings"));
	if (include & CDB_INC_DOCUMENTS)
		json_array_append_new(a, json_string("documents"));
	if (include & CDB_INC_METADATAS)
		json_array_append_new(a, json_string("metadatas"));
	if (include & CDB_INC_URIS)
		json_array_append_new(a, json_string("uris"));
	return a;
}

static int
post_get(cdb_chroma *c, const char *id, json_t *req, cdb_page *p, int parse,
    cdb_error *e)
{
	int rc;

	cdb_buf_reset(&c->body);
	rc = cdb_json_dump(&c->body, req);
	json_decref(req);
	if (rc == -1)
		return cdb_error_oom(e);
	if (cdb_http_request(c->http, "POST", coll_path(c, id, "/get"),
		c->body.data, c->body.len, &p->body, e) == -1)
		return -1;
	return parse ? cdb_page_parse(p, e) : 0;
}

static json_t *
get_request(long offset, long limit, const json_t *where,
    const json_t *where_document, int include)
{
	json_t *req = json_object();

	json_object_set_new(req, "include", include_list(include));
	json_object_set_new(req, "limit", json_integer(limit));
	json_object_set_new(req, "offset", json_integer(offset));
	if (where != NULL)
		json_object_set(req, "where", (json_t *)where);
	if (where_document != NULL)
		json_object_set(req, "where_document", (json_t *)where_document);
	return req;
}

long
cdb_chroma_get_raw(cdb_chroma *c, const char *id, long offset, long limit,
    const json_t *where, const json_t *where_document, int include,
    cdb_page *p, cdb_error *e)
{
	size_t is, ie;
	json_t *ids;
	long n;

	if (post_get(c, id, get_request(offset, limit, where, where_document,
			     include),
		p, 0, e) == -1)
		return -1;
	/* Only the ids: a few bytes a record, for the count. */
	if (cdb_json_find(p->body.data, p->body.len, "ids", &is, &ie) != 1 ||
	    (ids = cdb_json_load(p->body.data + is, ie - is, NULL)) == NULL ||
	    !json_is_array(ids))
		return cdb_error_set(e, CDB_ERR_SERVER, "server answer has no ids");
	n = (long)json_array_size(ids);
	json_decref(ids);
	return n;
}

int
cdb_chroma_get(cdb_chroma *c, const char *id, long offset, long limit,
    const json_t *where, const json_t *where_document, int include,
    cdb_page *p, cdb_error *e)
{
	return post_get(c, id,
	    get_request(offset, limit, where, where_document, include), p, 1, e);
}

int
cdb_chroma_get_ids(cdb_chroma *c, const char *id, const json_t *ids,
    int include, cdb_page *p, cdb_error *e)
{
	json_t *req = json_object();

	json_object_set_new(req, "include", include_list(include));
	json_object_set(req, "ids", (json_t *)ids);
	return post_get(c, id, req, p, 1, e);
}

int
cdb_chroma_write(cdb_chroma *c, const char *id, int upsert, const char *body,
    size_t len, cdb_error *e)
{
	return cdb_http_request(c->http, "POST",
		   coll_path(c, id, upsert ? "/upsert" : "/add"), body, len,
		   &c->resp, e) == -1
	    ? -1
	    : 0;
}

int
cdb_chroma_write_pieces(cdb_chroma *c, const char *id, int upsert,
    const cdb_http_piece *pieces, size_t n, cdb_error *e)
{
	return cdb_http_request_pieces(c->http, "POST",
		   coll_path(c, id, upsert ? "/upsert" : "/add"), pieces, n,
		   &c->resp, e) == -1
	    ? -1
	    : 0;
}

int
cdb_chroma_update(cdb_chroma *c, const char *id, const char *body,
    size_t len, cdb_error *e)
{
	return cdb_http_request(c->http, "POST", coll_path(c, id, "/update"),
		   body, len, &c->resp, e) == -1
	    ? -1
	    : 0;
}

int
cdb_chroma_query(cdb_chroma *c, const char *id, const char *body, size_t len,
    cdb_buf *resp, cdb_error *e)
{
	return cdb_http_request(c->http, "POST", coll_path(c, id, "/query"),
		   body, len, resp, e) == -1
	    ? -1
	    : 0;
}

const char *
cdb_chroma_space(const json_t *conf)
{
	const json_t *s = json_object_get(json_object_get(conf, "hnsw"), "space");

	if (!json_is_string(s))
		s = json_object_get(json_object_get(conf, "spann"), "space");
	return json_is_string(s) ? json_string_value(s) : NULL;
}
