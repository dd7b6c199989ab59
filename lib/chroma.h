/*
 * chroma.h - the Chroma v2 HTTP API (paths under
 * /api/v2/tenants/T/databases/D/...), as the suite needs it.
 */
#ifndef CDB_CHROMA_H
#define CDB_CHROMA_H

#include <jansson.h>

#include "cdb.h"
#include "http.h"

typedef struct cdb_chroma cdb_chroma;

/* A client for one tenant and database; caller frees with _free. */
cdb_chroma *cdb_chroma_new(const char *url, const char *tenant,
    const char *database, const cdb_http_opts *o, cdb_error *e);
/* Another client like c, with its own connection, for another thread (a
 * client is used by one thread at a time).  Caller frees. */
cdb_chroma *cdb_chroma_clone(const cdb_chroma *c, cdb_error *e);
void cdb_chroma_free(cdb_chroma *c);

/* The URL without credentials, tenant and database: borrowed strings. */
const char *cdb_chroma_url(const cdb_chroma *c);
const char *cdb_chroma_tenant(const cdb_chroma *c);
const char *cdb_chroma_database(const cdb_chroma *c);

/* GET /api/v2/heartbeat.  0 or -1. */
int cdb_chroma_heartbeat(cdb_chroma *c, cdb_error *e);

/*
 * Does the client's tenant and database exist?  0 when it does; -1 with
 * e->http_status 404 and kind CDB_ERR_USAGE, naming the tenant and
 * database, when it does not (Chroma lists no collections in a database
 * that does not exist, so a mistyped name would read as an empty one).
 */
int cdb_chroma_check_database(cdb_chroma *c, cdb_error *e);

/* Create the client's database in its tenant (which must exist).  0 or
 * -1. */
int cdb_chroma_create_database(cdb_chroma *c, cdb_error *e);

/* GET /api/v2/pre-flight-checks: max_batch_size and base64 support. */
int cdb_chroma_preflight(cdb_chroma *c, long *max_batch, int *base64,
    cdb_error *e);

/*
 * Every collection of the database, sorted by name so exports are
 * reproducible.  A new JSON array of the server's collection objects the
 * caller must json_decref; NULL on error.
 */
json_t *cdb_chroma_list(cdb_chroma *c, cdb_error *e);

/*
 * The collection object named name, a new reference; NULL on error, with
 * e->http_status == 404 when it does not exist.
 */
json_t *cdb_chroma_get_collection(cdb_chroma *c, const char *name,
    cdb_error *e);

/*
 * Create collection name with metadata and configuration (either may be
 * NULL or JSON null).  With get_or_create an existing one is returned.
 * A new reference to the server's collection object, or NULL.
 */
json_t *cdb_chroma_create(cdb_chroma *c, const char *name,
    const json_t *metadata, const json_t *configuration, int get_or_create,
    cdb_error *e);

/* Delete collection name.  0 or -1 (404 included). */
int cdb_chroma_delete(cdb_chroma *c, const char *name, cdb_error *e);

/* Number of records in the collection with id, or -1. */
long cdb_chroma_count(cdb_chroma *c, const char *id, cdb_error *e);

/* What a get page returns. */
#define CDB_INC_EMBEDDINGS 1
#define CDB_INC_DOCUMENTS 2
#define CDB_INC_METADATAS 4
#define CDB_INC_URIS 8
#define CDB_INC_ALL 15

/*
 * One page of records.  Embeddings are parsed straight into emb (n * dim
 * floats) so the megabytes of numbers never become jansson nodes; the
 * rest of the response is in root.  Reused across pages: _init once,
 * _free at the end.
 */
typedef struct cdb_page {
	json_t *root;	/* ids, documents, metadatas, uris (borrow) */
	json_t *ids, *documents, *metadatas, *uris;
	size_t n;	/* records in the page */
	size_t dim;	/* embedding dimension, 0 when not included */
	float *emb;	/* n * dim values */
	size_t emb_cap; /* floats allocated */
	/* Each row's text in body, and whether it may be copied as it is. */
	size_t *row_off, *row_len;
	unsigned char *row_verbatim;
	int no_verbatim; /* set by callers that never copy a row's text:
			    row_verbatim is then all 0, and parsing faster */
	/*
	 * Set by callers that copy rows' text and need no floats: when a
	 * page's first row is all in shortest form (a server's formatter
	 * either is shortest or is not), later rows of plain decimals are
	 * checked as JSON numbers but not converted, and count as verbatim;
	 * emb is not filled for them.
	 */
	int sample_shortest;
	size_t rows_cap;
	/*
	 * Set by callers that copy records as the server wrote them: the
	 * parse then only finds each row's id, document, metadata and uri
	 * text in body (CDB_TEXT_* pairs of offset and length in text; a
	 * length of 0 is null) and builds no jansson values.  When the
	 * answer does not allow that (unusual layout, a raw line break),
	 * the parse falls back to root; text_ok says which was done.
	 */
	int want_text, text_ok;
	size_t *text;
	size_t text_cap; /* rows */
	cdb_buf body;	/* raw response */
	cdb_buf rest;	/* body without the numbers, kept between pages */
} cdb_page;

enum { CDB_TEXT_ID, CDB_TEXT_DOCUMENT, CDB_TEXT_METADATA, CDB_TEXT_URI };
#define CDB_TEXT_OFF(p, row, f) ((p)->text[(row) * 8 + (f) * 2])
#define CDB_TEXT_LEN(p, row, f) ((p)->text[(row) * 8 + (f) * 2 + 1])

void cdb_page_init(cdb_page *p);
void cdb_page_free(cdb_page *p);

/*
 * Records [offset, offset+limit) of collection id, filtered by where and
 * where_document (JSON objects, or NULL).  include is CDB_INC_* bits.
 */
int cdb_chroma_get(cdb_chroma *c, const char *id, long offset, long limit,
    const json_t *where, const json_t *where_document, int include,
    cdb_page *p, cdb_error *e);

/*
 * Fetch records by id (the ids JSON array) into p, in the server's order.
 */
int cdb_chroma_get_ids(cdb_chroma *c, const char *id, const json_t *ids,
    int include, cdb_page *p, cdb_error *e);

/*
 * Like cdb_chroma_get, but only fetch: the answer is left in p->body for
 * cdb_page_parse, so one thread can fetch the next page while another
 * parses this one.  Returns the number of records in the answer (its
 * ids are counted), or -1.
 */
long cdb_chroma_get_raw(cdb_chroma *c, const char *id, long offset,
    long limit, const json_t *where, const json_t *where_document,
    int include, cdb_page *p, cdb_error *e);

/* Parse a get/query response body already in p->body into p. */
int cdb_page_parse(cdb_page *p, cdb_error *e);

/*
 * POST a prebuilt add (or upsert) body {"ids":...,"embeddings":...} to
 * collection id.  0 or -1.
 */
int cdb_chroma_write(cdb_chroma *c, const char *id, int upsert,
    const char *body, size_t len, cdb_error *e);

/* cdb_chroma_write with the body in pieces (see cdb_http_request_pieces). */
int cdb_chroma_write_pieces(cdb_chroma *c, const char *id, int upsert,
    const cdb_http_piece *pieces, size_t n, cdb_error *e);

/*
 * POST a prebuilt update body {"ids":...,"metadatas":...} to collection
 * id: fields left out keep their values, metadata keys set to null are
 * removed.  0 or -1.
 */
int cdb_chroma_update(cdb_chroma *c, const char *id, const char *body,
    size_t len, cdb_error *e);

/*
 * POST a query body to collection id; the raw response is left in resp.
 */
int cdb_chroma_query(cdb_chroma *c, const char *id, const char *body,
    size_t len, cdb_buf *resp, cdb_error *e);

/*
 * The distance space a collection configuration names ("l2", "ip",
 * "cosine"; hnsw's, else spann's), or NULL when it names none (the
 * server's default is l2).  Borrowed from conf.
 */
const char *cdb_chroma_space(const json_t *conf);

#endif
