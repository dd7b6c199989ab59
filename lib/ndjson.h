/*
 * ndjson.h - the cdb stream (cdb-ndjson(5)): reading and writing header,
 * collection, record and trailer lines.
 *
 * The reader checks structure as it goes (header first, records after
 * their collection line, a trailer whose counts and digest match what was
 * read) and parses embeddings without jansson nodes.  The writer keeps the
 * counts and digest that its trailer reports.
 */
#ifndef CDB_NDJSON_H
#define CDB_NDJSON_H

#include <jansson.h>
#include <stdio.h>

#include "cdb.h"
#include "digest.h"

#define CDB_FORMAT_NAME "cdb-ndjson"
#define CDB_FORMAT_VERSION 1

/*
 * The longest line a reader accepts, newline included, so that its
 * memory stays bounded whatever the input claims.  A record Chroma
 * accepted came in one add request of at most 40 MiB (the server's
 * max_payload_size_bytes), and its id, document, metadata and URI are
 * no longer in cdb's spelling than in any other JSON; its embedding
 * (at most 65536 values, 16 bytes each as text) adds 1 MiB, the line's
 * keys and collection name less than 1 MiB: 42 MiB.  cdb-ndjson(5).
 */
#define CDB_LINE_MAX (42L << 20)

enum cdb_kind {
	CDB_KIND_HEADER = 1,
	CDB_KIND_COLLECTION,
	CDB_KIND_RECORD,
	CDB_KIND_TRAILER
};

/* How a record carries its embedding. */
enum cdb_emb_form {
	CDB_EMB_NONE = 0, /* null or absent */
	CDB_EMB_FLOAT,	  /* JSON number array */
	CDB_EMB_BASE64	  /* base64 little-endian float32 string */
};

/* Reader flags. */
#define CDB_READ_RAW_EMB 1	/* leave embeddings as text, do not parse */
#define CDB_READ_ALLOW_PARTIAL 2 /* EOF without a trailer is not an error */

/*
 * One line.  Everything here is owned by the reader and valid until the
 * next cdb_reader_next call.
 */
typedef struct cdb_item {
	int kind;	   /* enum cdb_kind */
	long line;	   /* 1-based line number */
	json_t *obj;	   /* the line; for records "embedding" is null */
	const char *raw;   /* the line's bytes, without the newline */
	size_t raw_len;
	/* record fields, borrowed from obj */
	const char *collection;
	const char *id;
	size_t id_len;
	json_t *document, *metadata, *uri;
	int emb_form;	   /* enum cdb_emb_form */
	const char *emb_text; /* the embedding value's text within raw */
	size_t emb_len;
	float *emb;	   /* parsed values (not with CDB_READ_RAW_EMB) */
	size_t dim;
} cdb_item;

typedef struct cdb_reader cdb_reader;

/* A reader of fp (the caller's), called name in messages.  Free with
 * cdb_reader_free. */
cdb_reader *cdb_reader_new(FILE *fp, const char *name, int flags);
void cdb_reader_free(cdb_reader *r);

/* The next line into it: 1, then 0 after a trailer that matched, or -1
 * with e (and e->line). */
int cdb_reader_next(cdb_reader *r, cdb_item *it, cdb_error *e);

/* The header line (borrowed), once read; NULL before. */
json_t *cdb_reader_header(const cdb_reader *r);
/* True when the stream ended without a trailer (CDB_READ_ALLOW_PARTIAL). */
int cdb_reader_partial(const cdb_reader *r);

/* Can Chroma store metadata m (keys neither empty nor starting with '#';
 * values scalars or non-empty arrays of one type)?  0 or -1 with e. */
int cdb_ndjson_check_metadata(const json_t *m, cdb_error *e);

typedef struct cdb_writer cdb_writer;

/* A writer to fp (fp stays the caller's).  Free with cdb_writer_free. */
cdb_writer *cdb_writer_new(FILE *fp);
void cdb_writer_free(cdb_writer *w);

/* Resume after bytes already in the output, which the caller hashed
 * into d. */
void cdb_writer_resume(cdb_writer *w, const cdb_digest *d, long long records,
    long long collections, long long bytes);

/* Write a line of kind (the writer adds the newline), counted and
 * hashed.  0 or -1 with e. */
int cdb_writer_line(cdb_writer *w, int kind, const char *line, size_t len,
    cdb_error *e);

/* Write n record lines at once: len bytes, each line ending in its
 * newline; one write of a batch instead of two a line.  As _line. */
int cdb_writer_block(cdb_writer *w, const char *lines, size_t len,
    long long n, cdb_error *e);

/* Write the JSON object o as a line of the given kind. */
int cdb_writer_json(cdb_writer *w, int kind, const json_t *o, cdb_error *e);

/* Write the trailer from the writer's counts and digest. */
int cdb_writer_trailer(cdb_writer *w, cdb_error *e);

/* Bytes written so far (including any resumed prefix). */
long long cdb_writer_bytes(const cdb_writer *w);
long long cdb_writer_records(const cdb_writer *w);
long long cdb_writer_collections(const cdb_writer *w);

/* A header for a stream from url (redacted), tenant and database,
 * stamped with the time: a new reference. */
json_t *cdb_ndjson_header(const char *url, const char *tenant,
    const char *database, const char *tool);

/* Append a record line (no newline) to b.  The embedding: values (emb,
 * written per form), or text to copy (emb_text), or neither (null). */
int cdb_ndjson_format_record(cdb_buf *b, const char *collection,
    const char *id, size_t id_len, const json_t *document,
    const json_t *metadata, const json_t *uri, const float *emb, size_t dim,
    int form, const char *emb_text, size_t emb_len);

#endif
