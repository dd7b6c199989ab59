/*
 * validate.h - the engine of cdb-validate: prove that a new Chroma
 * database holds what a migration promised, with eight tests, and decide
 * whether to roll back (cdb-validate(1), cdb-report(5)).
 *
 * What the new database must hold comes either from the old database
 * with the schema applied to every record (cdb_schema_apply), or from
 * saved expected streams (the output of cdb-transform).  Given both, the
 * streams are what the new database is judged against, and the old
 * server only the search reference of test 4: a change to it after the
 * export can lower its recall, never fail the new database.  Records are
 * compared in batches: the expected side is read page by page while the
 * same ids are fetched from the new server, compared and forgotten.
 * Memory grows with the number of ids (a 64-bit key, a content digest and
 * the id's bytes per record), never with embeddings or documents.
 */
#ifndef CDB_VALIDATE_H
#define CDB_VALIDATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cdb.h"
#include "http.h"
#include "schema.h"

/* The eight tests, in report order. */
enum cdb_vtest {
	CDB_VT_COUNT = 0,    /* 1 count verification */
	CDB_VT_EMBEDDING,    /* 2 embedding integrity */
	CDB_VT_METADATA,     /* 3 metadata completeness */
	CDB_VT_SEMANTIC,     /* 4 semantic search equivalence */
	CDB_VT_DISTRIBUTION, /* 5 collection distribution */
	CDB_VT_DUPLICATES,   /* 6 duplicate detection */
	CDB_VT_TYPES,        /* 7 field type validation */
	CDB_VT_CITATIONS,    /* 8 citation references */
	CDB_VT_N
};

/* A test's or the run's status, in rising severity. */
enum cdb_vstatus {
	CDB_VS_PASSED = 0,
	CDB_VS_SKIPPED, /* could not be run (no schema, --sample 0) */
	CDB_VS_WARNING,
	CDB_VS_FAILED,
	CDB_VS_ERROR /* the run could not validate (reports only) */
};

/*
 * Why a rollback is recommended.  The order is the precedence: when
 * several tests fail, the first reason in this order is the run's
 * rollback_reason, because it names the root cause (lost records make
 * references dangle and searches diverge, not the other way round).
 */
enum cdb_vreason {
	CDB_VR_NONE = 0,
	CDB_VR_DATA_LOSS, /* "Data Loss Detected" */
	CDB_VR_COUNT,     /* "Chunk Count Mismatch" */
	CDB_VR_DUPLICATE, /* "Duplicate IDs Found" */
	CDB_VR_EMBEDDING, /* "Embedding Corruption" */
	CDB_VR_SCHEMA,    /* "Schema Violation" */
	CDB_VR_SEARCH,    /* "Search Results Diverged" */
	CDB_VR_N
};

/* Offending ids a test lists at most. */
#define CDB_VALIDATE_MAX_OFFENDERS 20

/* "count_verification", "Count verification", "PASSED", "Data Loss
 * Detected": fixed strings, never NULL (NULL-free "?" when out of
 * range). */
const char *cdb_validate_test_key(int test);
const char *cdb_validate_test_title(int test);
const char *cdb_validate_status_name(int status);
const char *cdb_validate_reason_name(int reason);

/* The status called name ("PASSED", ...), or -1. */
int cdb_validate_status_parse(const char *name);

/* Told how far the run is: phase ("reading", "comparing", ...), done and
 * total (0 when not known). */
typedef void cdb_validate_progress_fn(
    void *arg, const char *phase, long long done, long long total);

typedef struct cdb_validate_opts {
	const char *new_url, *new_tenant, *new_database;
	const char *old_url, *old_tenant, *old_database; /* or NULL */
	const cdb_http_opts *http;          /* token etc.; may be NULL */
	const cdb_schema *schema;           /* needed with old_url */
	const char *schema_file;            /* for the report */
	const char *const *expected;        /* expected stream files: the
	                                       shards of one export, read as
	                                       one set; NULL: none */
	size_t nexpected;
	const char *queries;                /* queries file, or NULL */
	long sample;                        /* sampled queries; 0: no test 4 */
	int top_k;                          /* results compared per query */
	uint64_t seed;                      /* of the sampling */
	long page;                          /* records per request */
	double max_data_loss;               /* % above which test 1 fails */
	long long max_missing;              /* records above which test 1
	                                       fails; -1: no such limit */
	double warn_divergence;             /* % above which test 4 warns */
	double max_divergence;              /* % above which test 4 fails */
	const char *tool;                   /* "cdb-validate 0.1.0" */
	cdb_validate_progress_fn *progress; /* or NULL */
	void *arg;
} cdb_validate_opts;

/* Defaults: sample 100, top-k 10, seed 1, page 1000, thresholds 5, 10,
 * 20 (percent), default tenant and database.  URLs and files NULL. */
void cdb_validate_opts_init(cdb_validate_opts *o);

/*
 * Run the eight tests.  Returns the report (cdb-report(5)), a new
 * reference the caller must json_decref, or NULL with e when the run
 * could not validate: a server unreachable or answering errors, an
 * unreadable or malformed input file, bad options (CDB_ERR_USAGE).
 */
json_t *cdb_validate_run(const cdb_validate_opts *o, cdb_error *e);

/*
 * The report of a run that could not validate: overall_status "ERROR",
 * no rollback, the error's text, so that no earlier verdict is left
 * behind for a program to act on.  New reference, or NULL (ENOMEM).
 */
json_t *cdb_validate_error_report(
    const cdb_validate_opts *o, const cdb_error *err, double elapsed);

/* The overall status of a report (enum cdb_vstatus), or -1. */
int cdb_validate_report_status(const json_t *report);

/* ------------------------------------------------------------------ */
/* The comparison and statistics behind the tests (validate_stats.c). */

/* What is wrong with an embedding on its own (cdb_validate_emb_problem). */
enum cdb_vemb {
	CDB_VEMB_OK = 0,
	CDB_VEMB_NONE,      /* no embedding */
	CDB_VEMB_DIM,       /* not of the collection's dimension */
	CDB_VEMB_NONFINITE, /* a NaN or infinite value */
	CDB_VEMB_ZERO       /* every value zero */
};

/* Check v (dim values; v NULL or dim 0: none) against want_dim (0: any). */
int cdb_validate_emb_problem(const float *v, size_t dim, size_t want_dim);

/*
 * Is got the embedding want (dim values each)?  Exact: the same float32
 * bits in every component (l2 and ip collections).  Cosine: the same
 * direction, every component of the two vectors normalised to unit
 * length within 1e-6 (Chroma stores cosine vectors normalised and
 * returns them rescaled, so their bits do not survive).  The largest
 * deviation seen is stored in *dev (absolute, or of the unit vectors).
 * Returns 1 when equal, 0 when not.
 */
int cdb_validate_emb_equal(
    const float *want, const float *got, size_t dim, int cosine, double *dev);

#define CDB_VALIDATE_COSINE_TOL 1e-6

/* Chroma's distance spaces. */
enum cdb_vspace { CDB_SPACE_L2 = 0, CDB_SPACE_IP, CDB_SPACE_COSINE };

/* The space of a configuration object ({"hnsw":{"space":...}}); l2 when
 * none is given, as in Chroma. */
int cdb_validate_space(const json_t *configuration);
const char *cdb_validate_space_name(int space);

/* Chroma's distance of a and b in space: squared l2, 1 - dot, or
 * 1 - cosine similarity; na and nb are |a| and |b| (read for cosine
 * only: the exact search computes a query's once). */
double cdb_validate_distance(int space, const float *a, double na,
    const float *b, double nb, size_t dim);

/* a.b and |a-b|^2 for the brute-force search: float lanes (vectorised),
 * summed in double. */
double cdb_validate_dot(const float *a, const float *b, size_t dim);
double cdb_validate_l2sq(const float *a, const float *b, size_t dim);

/*
 * The share of the reference results ref (nref ids) that got (ngot ids)
 * holds as well, in [0, 1]; -1 when nref is 0 (nothing to compare).
 * Ids are compared byte for byte; duplicates in got count once.
 */
double cdb_validate_overlap(
    char *const *ref, size_t nref, char *const *got, size_t ngot);

/* PASSED, WARNING above warn, FAILED above fail (percentages). */
int cdb_validate_threshold(double value, double warn, double fail);

/*
 * The run's verdict from n test statuses and reasons: FAILED if any test
 * failed, WARNING if any warned or was skipped, else PASSED; the reason
 * of the failed tests that comes first in enum cdb_vreason's order, or
 * CDB_VR_NONE.  Returns the overall status and stores the reason.
 */
int cdb_validate_verdict(
    const int *status, const int *reason, size_t n, int *why);

/*
 * The 64-bit digest of a record's content, document and embedding, for
 * finding the same content under different ids.  doc may be NULL or
 * JSON null; emb may be NULL.
 */
uint64_t cdb_validate_content_digest(
    const json_t *doc, const float *emb, size_t dim);

/*
 * A reservoir sample of n items from a stream of unknown length
 * (Algorithm R), reproducible from the seed.  Call with seen, the number
 * of items before this one: returns the slot (0..n-1) the item takes, or
 * -1 when it is not sampled.
 */
typedef struct cdb_vsampler {
	uint64_t state;
	long n;
} cdb_vsampler;

void cdb_vsampler_init(cdb_vsampler *s, long n, uint64_t seed);
long cdb_vsampler_offer(cdb_vsampler *s, long long seen);

/*
 * The k smallest distances seen, with their ids (exact search of the
 * expected stream), kept sorted nearest first (ties by id): k is small.
 * _init with k, _offer each candidate, _free.
 */
typedef struct cdb_vtopk {
	size_t k, n;
	double *dist;
	char **id; /* owned copies */
} cdb_vtopk;

int cdb_vtopk_init(cdb_vtopk *t, size_t k);
void cdb_vtopk_free(cdb_vtopk *t);
/* Offer id (len bytes) at distance d.  0, or -1 when out of memory. */
int cdb_vtopk_offer(cdb_vtopk *t, double d, const char *id, size_t len);

/*
 * Read a citation: when value (len bytes) is what template gives for some
 * collection among colls (ncolls names) and some id, store that
 * collection's index and the id's place in value, and return 1.  The
 * template's {collection} stands for the collection, {id} for the id;
 * "{{" and "}}" are literal braces.  Returns 0 when value does not fit,
 * -1 when the template cannot be read this way (no {id}, {id} more than
 * once, or other fields in it).  self_coll is the collection used when
 * the template has no {collection}.
 */
int cdb_validate_cite_parse(const char *template, const char *value, size_t len,
    const char *const *colls, size_t ncolls, size_t self_coll, size_t *coll,
    size_t *id_off, size_t *id_len);

#endif
