/*
 * chroma.h - a client of the Chroma v2 HTTP API (paths under
 * /api/v2/tenants/T/databases/D/...), as the suite needs it: databases,
 * collections, counts, gets, writes and queries over one keep-alive
 * connection (http.h).  It knows the API, not its callers: a get leaves
 * the answer as the server wrote it, and cdb_page_parse (pager.h) reads
 * it.
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

/* Create the client's database in its tenant.  0 or -1. */
int cdb_chroma_create_database(cdb_chroma *c, cdb_error *e);

/* GET /api/v2/pre-flight-checks: max_batch_size and base64 support. */
int cdb_chroma_preflight(cdb_chroma *c, long *max_batch, int *base64,
    cdb_error *e);

/* Every collection object of the database, sorted by name so exports are
 * reproducible: a new array the caller json_decrefs; NULL on error. */
json_t *cdb_chroma_list(cdb_chroma *c, cdb_error *e);

/* Collection name, a new reference; NULL with e (http_status 404: none). */
json_t *cdb_chroma_get_collection(cdb_chroma *c, const char *name,
    cdb_error *e);

/*
 * Get or create collection name with metadata and configuration (NULL or
 * JSON null: none): a new reference to the server's collection, or NULL.
 */
json_t *cdb_chroma_create(cdb_chroma *c, const char *name,
    const json_t *metadata, const json_t *configuration, cdb_error *e);

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
 * Records [offset, offset+limit) of collection id, filtered by where and
 * where_document (JSON objects, or NULL); include is CDB_INC_* bits.  The
 * answer, as the server wrote it, in resp (cdb_page_parse in pager.h
 * reads it).  0 or -1.
 */
int cdb_chroma_get(cdb_chroma *c, const char *id, long offset, long limit,
    const json_t *where, const json_t *where_document, int include,
    cdb_buf *resp, cdb_error *e);

/* Records by id (the ids JSON array), in the server's order, into resp. */
int cdb_chroma_get_ids(cdb_chroma *c, const char *id, const json_t *ids,
    int include, cdb_buf *resp, cdb_error *e);

/* POST an add (or upsert) body, in pieces (cdb_http_request_pieces), to
 * collection id.  0 or -1. */
int cdb_chroma_write_pieces(cdb_chroma *c, const char *id, int upsert,
    const cdb_http_piece *pieces, size_t n, cdb_error *e);

/* POST an update body to collection id: fields left out keep their
 * values, metadata keys set to null are removed.  0 or -1. */
int cdb_chroma_update(cdb_chroma *c, const char *id, const char *body,
    size_t len, cdb_error *e);

/* POST a query body to collection id; the answer is left in resp. */
int cdb_chroma_query(cdb_chroma *c, const char *id, const char *body,
    size_t len, cdb_buf *resp, cdb_error *e);

/*
 * The distance space a collection configuration names ("l2", "ip",
 * "cosine"; hnsw's, else spann's), or NULL when it names none (the
 * server's default is l2).  Borrowed from conf.
 */
const char *cdb_chroma_space(const json_t *conf);

#endif
