/* ndjson.c - the cdb stream; see ndjson.h and cdb-ndjson(5). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "embed.h"
#include "json.h"
#include "ndjson.h"

/* Longest embedding the reader accepts; Chroma has no fixed limit. */
#define MAX_DIM 65536

struct cdb_reader {
	FILE *fp;
	char *name;
	int flags;
	char *line;
	size_t linecap;
	long lineno;
	cdb_digest digest;
	long long records, collections;
	json_t *header;
	json_t *colls; /* name -> collection line */
	json_t *dims;  /* name -> first embedding length, without dimension */
	json_t *obj;
	cdb_buf rest, embtext;
	float *emb;
	int done, partial;
};

cdb_reader *
cdb_reader_new(FILE *fp, const char *name, int flags)
{
	cdb_reader *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->fp = fp;
	r->flags = flags;
	r->name = strdup(name ? name : "stdin");
	r->colls = json_object();
	r->dims = json_object();
	r->emb = malloc(MAX_DIM * sizeof(float));
	cdb_digest_init(&r->digest);
	if (r->name == NULL || r->colls == NULL || r->dims == NULL ||
	    r->emb == NULL) {
		cdb_reader_free(r);
		return NULL;
	}
	return r;
}

void
cdb_reader_free(cdb_reader *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r->line);
	json_decref(r->header);
	json_decref(r->colls);
	json_decref(r->dims);
	json_decref(r->obj);
	cdb_buf_free(&r->rest);
	cdb_buf_free(&r->embtext);
	free(r->emb);
	free(r);
}

json_t *
cdb_reader_header(const cdb_reader *r)
{
	return r->header;
}

int
cdb_reader_partial(const cdb_reader *r)
{
	return r->partial;
}

static int
kind_of(const char *s)
{
	static const char *const kinds[] = {"header", "collection", "record",
	    "trailer"};
	int k;

	for (k = 0; s != NULL && k < 4; k++)
		if (strcmp(s, kinds[k]) == 0)
			return CDB_KIND_HEADER + k;
	return 0;
}

/*
 * Read the embedding value at s (avail bytes to the line's end) into it
 * (form, length, values).  Returns 0, 1 when the value needs the full
 * JSON parser (a string with escapes, or anything unusual), or -1 with e.
 */
static int
emb_from_text(cdb_reader *r, cdb_item *it, const char *s, size_t avail,
    cdb_error *e)
{
	const char *q;
	long used;

	it->emb_text = s;
	if (avail >= 4 && memcmp(s, "null", 4) == 0) {
		it->emb_form = CDB_EMB_NONE;
		it->emb_len = 4;
		return 0;
	}
	if (s[0] == '"') {
		q = memchr(s + 1, '"', avail - 1);
		/* base64 never needs escapes; anything else takes the slow path. */
		if (q == NULL || memchr(s + 1, '\\', (size_t)(q - s - 1)) != NULL)
			return 1;
		it->emb_form = CDB_EMB_BASE64;
		it->emb_len = (size_t)(q - s) + 1;
		/* Decoded in raw mode too: bad base64 and NaN bits are errors
		 * wherever the stream is read. */
		return cdb_embed_b64_decode(s + 1, it->emb_len - 2, r->emb,
		    MAX_DIM, &it->dim, e);
	}
	if (s[0] != '[')
		return 1;
	it->emb_form = CDB_EMB_FLOAT;
	/*
	 * Raw mode copies the text, so it only has to be proven: plain
	 * decimals (what exporters write) are checked without converting;
	 * anything else goes through the full parser, which refuses what
	 * is not a JSON number or not a finite float32.
	 */
	if ((r->flags & CDB_READ_RAW_EMB) &&
	    (used = cdb_embed_plain_json(s, avail, &it->dim)) > 0) {
		it->emb_len = (size_t)used;
		if (it->dim > MAX_DIM)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "embedding has more than %d values", MAX_DIM);
		return 0;
	}
	if ((used = cdb_embed_parse_json(s, avail, r->emb, MAX_DIM, &it->dim,
		 e)) == -1)
		return -1;
	it->emb_len = (size_t)used;
	return 0;
}

/* The line as jansson values; a bad line is "malformed JSON: ...". */
static json_t *
load_json(const char *s, size_t n, cdb_error *e)
{
	cdb_error je;
	json_t *v;

	cdb_error_clear(&je);
	if ((v = cdb_json_load(s, n, &je)) != NULL)
		return v;
	if (je.kind == CDB_ERR_SYS)
		cdb_error_oom(e);
	else
		cdb_error_set(e, CDB_ERR_INPUT, "malformed JSON: %s", je.text);
	return NULL;
}

/* The embedding v (not null) written out compactly and read as text. */
static int
emb_from_value(cdb_reader *r, cdb_item *it, const json_t *v, cdb_error *e)
{
	cdb_buf_reset(&r->embtext);
	if (cdb_json_dump(&r->embtext, v) == -1)
		return cdb_error_set(e, CDB_ERR_INPUT, "embedding is not valid");
	if (json_is_string(v)) {
		it->emb_text = r->embtext.data;
		it->emb_len = r->embtext.len;
		it->emb_form = CDB_EMB_BASE64;
		return cdb_embed_b64_decode(json_string_value(v),
		    json_string_length(v), r->emb, MAX_DIM, &it->dim, e);
	}
	if (!json_is_array(v) ||
	    emb_from_text(r, it, r->embtext.data, r->embtext.len, e) != 0)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "embedding must be an array, a base64 string or null");
	return 0;
}

/*
 * Load the line; a record's embedding is cut out and replaced by null so
 * jansson never sees its numbers.  One whose embedding key or value needs
 * the full parser (escapes, or not an array, string or null) goes whole
 * through jansson.
 */
static int
load_line(cdb_reader *r, cdb_item *it, cdb_error *e)
{
	size_t vs = 0, ve;
	int fast, rc = 0;
	json_t *v;

	it->emb_text = NULL;
	it->emb_len = 0;
	fast = cdb_json_find(it->raw, it->raw_len, "embedding", &vs, NULL) == 1;
	if (fast && (rc = emb_from_text(r, it, it->raw + vs, it->raw_len - vs,
			 e)) == -1)
		return -1;
	fast = fast && rc == 0;
	cdb_buf_reset(&r->rest);
	ve = vs + it->emb_len;
	if (fast && (cdb_buf_append(&r->rest, it->raw, vs) == -1 ||
			cdb_buf_puts(&r->rest, "null") == -1 ||
			cdb_buf_append(&r->rest, it->raw + ve,
			    it->raw_len - ve) == -1))
		return cdb_error_oom(e);
	if ((it->obj = fast ? load_json(r->rest.data, r->rest.len, e)
			    : load_json(it->raw, it->raw_len, e)) == NULL)
		return -1;
	if (!json_is_object(it->obj))
		return cdb_error_set(e, CDB_ERR_INPUT, "line is not a JSON object");
	it->kind = kind_of(json_string_value(json_object_get(it->obj, "kind")));
	if (it->kind == 0)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "line has no known \"kind\" (header, collection, record, "
		    "trailer)");
	if (it->kind != CDB_KIND_RECORD) {
		/* Not a record: keep the field as it was written. */
		it->emb_text = NULL;
		if (!fast)
			return 0;
		json_decref(it->obj);
		return (it->obj = load_json(it->raw, it->raw_len, e)) ? 0 : -1;
	}
	if (fast)
		return 0;
	v = json_object_get(it->obj, "embedding");
	it->emb_text = NULL;
	it->emb_form = CDB_EMB_NONE;
	if (v != NULL && !json_is_null(v) && emb_from_value(r, it, v, e) == -1)
		return -1;
	if (json_object_set_new(it->obj, "embedding", json_null()) == -1)
		return cdb_error_oom(e);
	return 0;
}

static int
check_string_or_null(json_t *v, const char *what, long line, cdb_error *e)
{
	if (v != NULL && !json_is_null(v) && !json_is_string(v))
		return cdb_error_setl(e, line, "%s must be a string or null",
		    what);
	return 0;
}

static int
check_array(const json_t *a, const char *key, cdb_error *e)
{
	size_t i, n = json_array_size(a);
	int t0, t;

	if (n == 0)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "metadata \"%s\" is an empty array, which Chroma cannot "
		    "store", key);
	t0 = json_typeof(json_array_get(a, 0));
	for (i = 0; i < n; i++) {
		t = json_typeof(json_array_get(a, i));
		if (t == JSON_FALSE)
			t = JSON_TRUE;
		if (t0 == JSON_FALSE)
			t0 = JSON_TRUE;
		/* Chroma widens ints to floats inside a float array. */
		if ((t == JSON_INTEGER && t0 == JSON_REAL) ||
		    (t == JSON_REAL && t0 == JSON_INTEGER))
			t = t0;
		if (t != t0 || t == JSON_NULL || t == JSON_OBJECT ||
		    t == JSON_ARRAY)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "metadata \"%s\" must be an array of strings, "
			    "numbers or booleans of one type", key);
	}
	return 0;
}

int
cdb_ndjson_check_metadata(const json_t *m, cdb_error *e)
{
	const char *k;
	json_t *v;

	if (m == NULL || json_is_null(m))
		return 0;
	if (!json_is_object(m))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "metadata must be an object or null");
	json_object_foreach((json_t *)m, k, v) {
		if (*k == '\0' || *k == '#')
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "metadata key \"%s\" is not allowed by Chroma "
			    "(empty or starts with '#')", k);
		switch (json_typeof(v)) {
		case JSON_STRING:
		case JSON_INTEGER:
		case JSON_REAL:
		case JSON_TRUE:
		case JSON_FALSE:
			break;
		case JSON_ARRAY:
			if (check_array(v, k, e) == -1)
				return -1;
			break;
		default:
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "metadata \"%s\" is %s, which Chroma cannot store", k,
			    json_is_null(v) ? "null" : "an object");
		}
	}
	return 0;
}

/*
 * The embedding's length against the collection's dimension, and, when
 * it came as base64, its values: decimal text never parses to a value
 * that is not finite, but base64 bits may spell NaN or infinity.
 */
static int
check_embedding(cdb_reader *r, cdb_item *it, const float *v,
    const json_t *dim, cdb_error *e)
{
	size_t want = json_is_integer(dim) ? (size_t)json_integer_value(dim) : 0;
	json_t *d;

	if (it->dim == 0)
		return cdb_error_setl(e, it->line,
		    "embedding has no values (Chroma refuses an empty "
		    "embedding; write null for none)");
	/* Without a dimension, Chroma takes the first embedding's length
	 * as the collection's: the rest must match it. */
	if (want == 0 && (d = json_object_get(r->dims, it->collection)) != NULL)
		want = (size_t)json_integer_value(d);
	else if (want == 0 && json_object_set_new(r->dims, it->collection,
				  json_integer((json_int_t)it->dim)) == -1)
		return cdb_error_oom(e);
	if (cdb_embed_check(v, it->emb_form == CDB_EMB_BASE64 ? it->dim : 0,
		e) == -1 ||
	    (want > 0 && it->dim != want &&
		cdb_error_set(e, CDB_ERR_INPUT,
		    "embedding has %zu values, collection expects %zu", it->dim,
		    want) == -1)) {
		if (e != NULL)
			e->line = it->line;
		return -1;
	}
	return 0;
}

static int
check_record(cdb_reader *r, cdb_item *it, cdb_error *e)
{
	json_t *o = it->obj, *coll, *id, *dim;

	coll = json_object_get(o, "collection");
	id = json_object_get(o, "id");
	if (!json_is_string(coll))
		return cdb_error_setl(e, it->line, "record has no collection");
	it->collection = json_string_value(coll);
	if ((coll = json_object_get(r->colls, it->collection)) == NULL)
		return cdb_error_setl(e, it->line,
		    "record for collection \"%s\" before its collection line",
		    it->collection);
	if (!json_is_string(id) || json_string_length(id) == 0)
		return cdb_error_setl(e, it->line,
		    "record has no id (a non-empty string)");
	it->id = json_string_value(id);
	it->id_len = json_string_length(id);
	it->document = json_object_get(o, "document");
	it->metadata = json_object_get(o, "metadata");
	it->uri = json_object_get(o, "uri");
	if (check_string_or_null(it->document, "document", it->line, e) == -1 ||
	    check_string_or_null(it->uri, "uri", it->line, e) == -1)
		return -1;
	if (cdb_ndjson_check_metadata(it->metadata, e) == -1) {
		if (e != NULL)
			e->line = it->line;
		return -1;
	}
	dim = json_object_get(coll, "dimension");
	if (it->emb_form != CDB_EMB_NONE &&
	    check_embedding(r, it, r->emb, dim, e) == -1)
		return -1;
	it->emb = it->emb_form != CDB_EMB_NONE && !(r->flags & CDB_READ_RAW_EMB)
	    ? r->emb
	    : NULL;
	r->records++;
	return 0;
}

static int
check_header(cdb_reader *r, cdb_item *it, cdb_error *e)
{
	json_t *f = json_object_get(it->obj, "format");
	json_t *v = json_object_get(it->obj, "version");

	if (r->header != NULL)
		return cdb_error_setl(e, it->line, "second header line");
	if (!json_is_string(f) ||
	    strcmp(json_string_value(f), CDB_FORMAT_NAME) != 0)
		return cdb_error_setl(e, it->line,
		    "header does not name format \"%s\"", CDB_FORMAT_NAME);
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > CDB_FORMAT_VERSION)
		return cdb_error_setl(e, it->line,
		    "unsupported stream version (this reader knows %d)",
		    CDB_FORMAT_VERSION);
	r->header = json_incref(it->obj);
	return 0;
}

static int
check_collection(cdb_reader *r, cdb_item *it, cdb_error *e)
{
	json_t *name = json_object_get(it->obj, "name");
	json_t *dim = json_object_get(it->obj, "dimension");

	if (!json_is_string(name) || json_string_length(name) == 0)
		return cdb_error_setl(e, it->line, "collection line has no name");
	if (dim != NULL && !json_is_null(dim) &&
	    (!json_is_integer(dim) || json_integer_value(dim) < 1))
		return cdb_error_setl(e, it->line,
		    "collection dimension must be a positive integer or null");
	if (json_object_get(r->colls, json_string_value(name)) != NULL)
		return cdb_error_setl(e, it->line,
		    "second collection line for \"%s\"",
		    json_string_value(name));
	if (json_object_set(r->colls, json_string_value(name), it->obj) == -1)
		return cdb_error_oom(e);
	r->collections++;
	return 0;
}

static int
check_trailer(cdb_reader *r, cdb_item *it, cdb_error *e)
{
	json_t *n = json_object_get(it->obj, "records");
	json_t *c = json_object_get(it->obj, "collections");
	json_t *d = json_object_get(it->obj, "digest");
	char want[23];

	if (!json_is_integer(n) || json_integer_value(n) != r->records)
		return cdb_error_setl(e, it->line,
		    "trailer says %" JSON_INTEGER_FORMAT " records, the stream "
		    "has %lld: records were lost or added",
		    json_is_integer(n) ? json_integer_value(n) : -1, r->records);
	if (!json_is_integer(c) || json_integer_value(c) != r->collections)
		return cdb_error_setl(e, it->line,
		    "trailer says %" JSON_INTEGER_FORMAT " collections, the "
		    "stream has %lld",
		    json_is_integer(c) ? json_integer_value(c) : -1,
		    r->collections);
	cdb_digest_format(&r->digest, want);
	if (!json_is_string(d) || strcmp(json_string_value(d), want) != 0)
		return cdb_error_setl(e, it->line,
		    "digest mismatch: the stream was changed or damaged "
		    "(trailer %s, content %s)",
		    json_is_string(d) ? json_string_value(d) : "missing", want);
	r->done = 1;
	return 0;
}

static int
check_item(cdb_reader *r, cdb_item *it, cdb_error *e)
{
	if (r->header == NULL && it->kind != CDB_KIND_HEADER)
		return cdb_error_setl(e, it->line,
		    "stream does not start with a header line");
	switch (it->kind) {
	case CDB_KIND_HEADER:
		return check_header(r, it, e);
	case CDB_KIND_COLLECTION:
		return check_collection(r, it, e);
	case CDB_KIND_RECORD:
		return check_record(r, it, e);
	default:
		return check_trailer(r, it, e);
	}
}

static int
at_eof(cdb_reader *r, cdb_error *e)
{
	if (ferror(r->fp))
		return cdb_error_sys(e, errno, "%s: read error",
		    r->name);
	if (r->done)
		return 0;
	if (r->flags & CDB_READ_ALLOW_PARTIAL) {
		r->partial = 1;
		return 0;
	}
	return cdb_error_setl(e, r->lineno + 1,
	    r->lineno == 0 ? "empty stream: no header line"
			   : "stream ends without a trailer line: it was "
			     "truncated (use --allow-partial to accept it)");
}

/* True when s holds one whole JSON value (its structure only). */
static int
complete_json(const char *s, size_t n)
{
	long len = cdb_json_skip(s, n);

	return len != -1 && cdb_json_skip_ws(s, n, (size_t)len) == n;
}

/* Room for n + 2 bytes in r->line, growing it up to CDB_LINE_MAX + 1. */
static int
grow_line(cdb_reader *r, size_t n)
{
	size_t cap = r->linecap ? r->linecap : 4096;
	char *p;

	while (cap < n + 2)
		cap *= 2;
	if (cap > (size_t)CDB_LINE_MAX + 1)
		cap = (size_t)CDB_LINE_MAX + 1;
	if ((p = realloc(r->line, cap)) == NULL)
		return -1;
	r->line = p;
	r->linecap = cap;
	return 0;
}

/*
 * Append the next piece of the line to r->line at *n with fgets(3),
 * which reads through the stdio buffer as fast as getline(3).  A NUL
 * byte in the data must not shorten it: the room is filled with
 * newlines first, so the last NUL in it is the one fgets put after what
 * it read.  1 when the line goes on, 0 at its end (or the input's).
 */
static int
read_piece(cdb_reader *r, size_t *n)
{
	size_t room = r->linecap - *n, k;
	char *p = r->line + *n, *z;

	/* Pieces the size of the line so far: filling them stays cheap. */
	if (room > 4096 && room > *n)
		room = *n > 4096 ? *n : 4096;
	memset(p, '\n', room);
	if (fgets(p, (int)(room > INT_MAX ? INT_MAX : room), r->fp) == NULL)
		return 0;
	for (z = p + room - 1; z > p && *z != '\0'; z--)
		;
	k = (size_t)(z - p);
	*n += k;
	return !(k > 0 && p[k - 1] == '\n') && k == room - 1;
}

/*
 * getline(3) with a bound: the next line into r->line, its length (the
 * newline included), 0 at the end, or -1 with e for a line longer than
 * CDB_LINE_MAX or memory that could not be had.  Nothing past the bound
 * is read into memory.
 */
static ssize_t
read_line(cdb_reader *r, cdb_error *e)
{
	size_t n = 0;
	int c;

	for (;;) {
		if (n + 2 > r->linecap && n == (size_t)CDB_LINE_MAX) {
			if ((c = getc(r->fp)) == EOF)
				break;
			ungetc(c, r->fp);
			return cdb_error_setl(e, r->lineno + 1,
			    "line is longer than %ld bytes, more than any "
			    "record Chroma can hold (cdb-ndjson(5))",
			    CDB_LINE_MAX);
		}
		if (n + 2 > r->linecap && grow_line(r, n) == -1)
			return cdb_error_set(e, CDB_ERR_SYS,
			    "%s: line %ld: out of memory", r->name,
			    r->lineno + 1);
		if (read_piece(r, &n) == 0)
			break;
	}
	return (ssize_t)n;
}

int
cdb_reader_next(cdb_reader *r, cdb_item *it, cdb_error *e)
{
	ssize_t n;

	json_decref(r->obj);
	r->obj = NULL;
	memset(it, 0, sizeof(*it));
	if ((n = read_line(r, e)) == -1)
		return -1;
	if (n == 0)
		return at_eof(r, e);
	it->line = ++r->lineno;
	if (r->done)
		return cdb_error_setl(e, it->line, "data after the trailer line");
	it->raw = r->line;
	it->raw_len = (size_t)n;
	if (r->line[it->raw_len - 1] == '\n')
		it->raw_len--;
	if (memchr(it->raw, '\0', it->raw_len) != NULL)
		return cdb_error_setl(e, it->line, "line contains a NUL byte");
	if (it->raw_len == 0)
		return cdb_error_setl(e, it->line, "empty line");
	/*
	 * A last line without its newline is kept when it is complete (a
	 * writer stopped after it); one cut inside its JSON (a kill
	 * mid-write) is an error, with --allow-partial too: its record is
	 * not all there.
	 */
	if ((size_t)n == it->raw_len && !complete_json(it->raw, it->raw_len))
		return cdb_error_setl(e, it->line,
		    "last line is cut short (no newline, incomplete JSON): the "
		    "stream was truncated mid-line");
	if (load_line(r, it, e) == -1) {
		r->obj = it->obj;
		if (e != NULL && e->line == 0)
			e->line = it->line;
		return -1;
	}
	r->obj = it->obj;
	/* The trailer is the only line outside the digest. */
	if (it->kind != CDB_KIND_TRAILER)
		cdb_digest_update(&r->digest, r->line, (size_t)n);
	return check_item(r, it, e) == -1 ? -1 : 1;
}

struct cdb_writer {
	FILE *fp;
	cdb_digest digest;
	long long records, collections, bytes;
	cdb_buf buf;
};

cdb_writer *
cdb_writer_new(FILE *fp)
{
	cdb_writer *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->fp = fp;
	cdb_digest_init(&w->digest);
	return w;
}

void
cdb_writer_free(cdb_writer *w)
{
	if (w == NULL)
		return;
	cdb_buf_free(&w->buf);
	free(w);
}

void
cdb_writer_resume(cdb_writer *w, const cdb_digest *d, long long records,
    long long collections, long long bytes)
{
	w->digest = *d;
	w->records = records;
	w->collections = collections;
	w->bytes = bytes;
}

int
cdb_writer_line(cdb_writer *w, int kind, const char *line, size_t len,
    cdb_error *e)
{
	if (fwrite(line, 1, len, w->fp) != len || putc('\n', w->fp) == EOF)
		return cdb_error_sys(e, errno, "write error");
	if (kind != CDB_KIND_TRAILER) {
		cdb_digest_update(&w->digest, line, len);
		cdb_digest_update(&w->digest, "\n", 1);
	}
	if (kind == CDB_KIND_RECORD)
		w->records++;
	else if (kind == CDB_KIND_COLLECTION)
		w->collections++;
	w->bytes += (long long)len + 1;
	return 0;
}

int
cdb_writer_block(
    cdb_writer *w, const char *lines, size_t len, long long n, cdb_error *e)
{
	if (fwrite(lines, 1, len, w->fp) != len)
		return cdb_error_sys(e, errno, "write error");
	cdb_digest_update(&w->digest, lines, len);
	w->records += n;
	w->bytes += (long long)len;
	return 0;
}

int
cdb_writer_json(cdb_writer *w, int kind, const json_t *o, cdb_error *e)
{
	cdb_buf_reset(&w->buf);
	if (cdb_json_dump(&w->buf, o) == -1)
		return cdb_error_set(e, CDB_ERR_SYS, "cannot format line");
	return cdb_writer_line(w, kind, w->buf.data, w->buf.len, e);
}

int
cdb_writer_trailer(cdb_writer *w, cdb_error *e)
{
	char d[23];
	char line[160];
	int n;

	cdb_digest_format(&w->digest, d);
	n = snprintf(line, sizeof(line),
	    "{\"kind\":\"trailer\",\"records\":%lld,\"collections\":%lld,"
	    "\"digest\":\"%s\"}",
	    w->records, w->collections, d);
	return cdb_writer_line(w, CDB_KIND_TRAILER, line, (size_t)n, e);
}

long long
cdb_writer_bytes(const cdb_writer *w)
{
	return w->bytes;
}

long long
cdb_writer_records(const cdb_writer *w)
{
	return w->records;
}

long long
cdb_writer_collections(const cdb_writer *w)
{
	return w->collections;
}

json_t *
cdb_ndjson_header(const char *url, const char *tenant, const char *database,
    const char *tool)
{
	char when[CDB_TIME_LEN];

	cdb_time_utc(when, time(NULL), 0);
	return json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "kind",
	    "header", "format", CDB_FORMAT_NAME, "version", CDB_FORMAT_VERSION,
	    "source", url, "tenant", tenant, "database", database, "created",
	    when, "tool", tool);
}

static int
put_embedding(cdb_buf *b, const float *emb, size_t dim, int form,
    const char *emb_text, size_t emb_len)
{
	int rc = 0;

	if (emb != NULL && form == CDB_EMB_FLOAT)
		rc |= cdb_embed_format_json(emb, dim, b);
	else if (emb != NULL && form == CDB_EMB_BASE64) {
		rc |= cdb_buf_putc(b, '"');
		rc |= cdb_embed_b64_encode(emb, dim, b);
		rc |= cdb_buf_putc(b, '"');
	} else if (emb_text != NULL)
		rc |= cdb_buf_append(b, emb_text, emb_len);
	else
		rc |= cdb_buf_puts(b, "null");
	return rc;
}

int
cdb_ndjson_format_record(cdb_buf *b, const char *collection, const char *id,
    size_t id_len, const json_t *document, const json_t *metadata,
    const json_t *uri, const float *emb, size_t dim, int form,
    const char *emb_text, size_t emb_len)
{
	int rc = 0;

	rc |= cdb_buf_puts(b, "{\"kind\":\"record\",\"collection\":");
	rc |= cdb_json_dump_string(b, collection, strlen(collection));
	rc |= cdb_buf_puts(b, ",\"id\":");
	rc |= cdb_json_dump_string(b, id, id_len);
	rc |= cdb_buf_puts(b, ",\"document\":");
	rc |= cdb_json_dump(b, document ? document : json_null());
	rc |= cdb_buf_puts(b, ",\"metadata\":");
	rc |= cdb_json_dump(b, metadata ? metadata : json_null());
	rc |= cdb_buf_puts(b, ",\"embedding\":");
	rc |= put_embedding(b, emb, dim, form, emb_text, emb_len);
	rc |= cdb_buf_puts(b, ",\"uri\":");
	rc |= cdb_json_dump(b, uri ? uri : json_null());
	rc |= cdb_buf_putc(b, '}');
	return rc ? -1 : 0;
}
