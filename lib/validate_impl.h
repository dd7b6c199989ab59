/*
 * validate_impl.h - the shared context of a validation run, the bottom
 * of the engine; not part of the library's API.  The engine's files form
 * layers, each calling only those below it:
 *
 *   validate.c       run, threads, verdict and report    (top)
 *   validate_sem.c   test 4: the queries and their scores
 *   validate_end.c   after the stream: absent, extra, duplicate records
 *   validate_cmp.c   the fetcher and the record-by-record comparison
 *   validate_src.c   this context, and what the new database must hold
 *   validate_stats.c pure comparisons and statistics      (no context)
 *
 * Three threads, one request stream per server: the producer reads what
 * the new database must hold (the old server through the schema, or the
 * expected stream) and queues it in batches of one target collection; the
 * fetcher lists the new database's ids, then fetches each batch's ids
 * from the new server; the caller's thread compares.  Each owns its own
 * fields below; they meet only in the queues (cdb_queue), and after the
 * joins.
 */
#ifndef CDB_VALIDATE_IMPL_H
#define CDB_VALIDATE_IMPL_H

#include <stdatomic.h>
#include <stdio.h>

#include "chroma.h"
#include "pager.h"
#include "hmap.h"
#include "queue.h"
#include "validate.h"

/* Batches a thread may queue ahead of the next. */
#define VQUEUE_MAX 3

/* Most matches a full-text query keeps: beyond, it says too little. */
#define TEXT_MAX 100000

/* One test's findings. */
struct vtest {
	int status, reason; /* decided at the end */
	const char *skipped; /* why SKIPPED: "not applicable" and "on
	                        request" do not lower the verdict */
	long long bad;      /* records (or queries) at fault */
	long long checked;  /* records looked at (set as a metric at the
	                       end: counting in JSON costs per record) */
	json_t *offenders;  /* at most CDB_VALIDATE_MAX_OFFENDERS */
	json_t *metrics;    /* name -> number */
	char note[512];     /* a sentence for the report, or "" */
	int oom; /* out of memory in the JSON above: the run fails at the
	            end (cdb_vtest_add and _offend are called per record,
	            where an error path would cost more than this flag) */
};

/* One target collection of the new database. */
struct vcoll {
	char *name;
	char *id;     /* the new server's collection id; NULL: absent */
	json_t *want; /* the expected collection line, or NULL */
	json_t *have; /* the new server's collection object, or NULL */
	int space;    /* enum cdb_vspace, of the new collection */
	size_t dim;   /* new collection's dimension, 0: unknown */
	long long expected, found, missing, misplaced, unexpected;
	long long present;
	int other_space; /* a source has another space: the old server
	                    cannot search as the target does (producer) */
};

/* A record's state in the found table. */
enum { F_NEW = 0, F_PRESENT, F_MISPLACED, F_DUPID, F_EXTRA };

/* One record the new database holds. */
struct frec {
	uint64_t key;    /* cdb_hmap_key(collection, id) */
	uint64_t digest; /* content digest, once fetched */
	uint64_t id_off; /* into vctx.fids */
	uint32_t id_len;
	uint32_t coll;
	uint32_t home; /* collection it belongs in (F_MISPLACED) */
	unsigned char state, fetched, dupflag;
};

/* One expected record in a batch. */
struct vrec {
	size_t id_off, id_len; /* into vbatch.ids */
	json_t *doc, *meta, *uri;
	size_t emb_off, dim; /* into vbatch.emb; dim 0: none */
	uint64_t key, digest;
	int done;
};

struct vbatch {
	size_t coll;   /* target */
	cdb_page page; /* what the new server holds of it */
	int nan;       /* its one record's vector holds NaN: fetched without */
	size_t n, cap;
	struct vrec *r;
	cdb_buf ids;
	float *emb;
	size_t emb_n, emb_cap;
};

/*
 * One semantic query.  The reference is the exact top-k of the expected
 * records (brute force, in the target's space); each database is scored
 * by its recall of it, and the new one judged by the recall it lost
 * against the old one's (validate_sem.c).
 */
struct vquery {
	size_t coll; /* target collection */
	char *name;  /* sampled record's id, or the file's label */
	float *emb;
	size_t dim;
	double norm; /* |emb|, for cosine */
	char **ref;  /* exact results: ids nearest first */
	size_t nref, capref;
	double kth;  /* the exact distance of the last of them */
	char **old;  /* the old server's results, as new ids */
	double *old_d;
	size_t nold;
	int has_old; /* the old server answered in the target's space */
	char **got;  /* the new server's results */
	double *got_d;
	size_t ngot;
	char *text;  /* a full-text query ($contains): ref and got are
	                sets, every match */
	long line;   /* of the queries file */
	double rnew, rold; /* recall@k of each against ref; -1: none */
	double overlap;    /* old vs new; -1: not compared */
	char *err;         /* the server refused the query, or NULL */
};

/* What the producer counts; merged into test 1 after the join. */
struct vprod {
	long long source_records; /* read from the old server or stream */
	long long rejected;       /* the schema takes no target for them */
	json_t *by_reason;        /* reason -> count */
	json_t *offenders;        /* rejected records, at most 20 */
	json_t *unmapped;         /* old collections the schema ignores */
	cdb_hmap *xmap;           /* expected key -> content digest */
	cdb_vsampler sampler;
	long long seen; /* records offered to the sampler */
};

struct vctx {
	const cdb_validate_opts *o;
	const cdb_schema *s;
	cdb_chroma *newc, *oldc;
	json_t *oldcolls; /* the old server's collections */
	struct vcoll *colls;
	size_t ncolls;
	const char **names; /* ncolls collection names, for citations */
	json_t *others;     /* new collections that are not targets */
	json_t *warnings;   /* about the whole run: strings */
	/* the new database's records */
	struct frec *found;
	size_t nfound, capfound;
	cdb_buf fids;
	cdb_hmap *fmap; /* key -> index in found */
	/* expected records not in their collection */
	struct absent {
		uint64_t off;
		uint32_t len, coll;
	} * absent;
	size_t nabsent, capabsent;
	cdb_buf aids;
	/* expected batches, then fetched ones; stop: a thread failed */
	cdb_queue *qin, *qcmp;
	atomic_int stop;
	cdb_error perr; /* the producer's error */
	cdb_error ferr; /* the fetcher's error */
	struct vprod p;
	/* queries */
	struct vquery *q;
	size_t nq;
	int sampled;     /* queries are sampled records */
	size_t ntext;    /* full-text queries */
	size_t nbyid;    /* queries by a record's id, to look up */
	double search_s; /* spent in the exact search */
	/* findings */
	struct vtest t[CDB_VT_N];
	long long compared;
	long long refs_checked, cites_checked;
	/* test 8's findings: references to records the new database
	 * lacks (keys), and every other kind */
	uint64_t *dangle;
	size_t ndangle, capdangle;
	long long cite_other;
	long long lost_colls; /* test 5: missing collections with records */
	long long space_bad;  /* test 5: collections in another space */
	double loss_unlost;   /* test 4's loss were no record lost */
	double max_dev;
	cdb_hmap *scratch; /* comparison: key -> record of a batch */
	cdb_page page;     /* after the joins */
};

/* validate_src.c: the context */
int cdb_vctx_init(struct vctx *c, const cdb_validate_opts *o, cdb_error *e);
void cdb_vctx_free(struct vctx *c);
void cdb_vctx_stop(struct vctx *c);
int cdb_vctx_coll(const struct vctx *c, const char *name);
const char *cdb_vctx_found_id(const struct vctx *c, const struct frec *f);
void cdb_vctx_progress(
    struct vctx *c, const char *phase, long long done, long long total);
/* Say where an error happened: "new server: " before its text. */
void cdb_vctx_where(cdb_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Count an offending record; list it among the first ones. */
void cdb_vtest_offend(struct vtest *t, const char *coll, const char *id,
    size_t id_len, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Set metric to v (taken), add n to it, read it. */
void cdb_vtest_set(struct vtest *t, const char *metric, json_t *v);
void cdb_vtest_add(struct vtest *t, const char *metric, double n);
double cdb_vtest_get(const struct vtest *t, const char *metric);
void cdb_vbatch_free(struct vbatch *b);
int cdb_vbatch_push(cdb_queue *q, struct vbatch *b);
struct vbatch *cdb_vbatch_slice(const struct vbatch *b, size_t from, size_t to);
void cdb_vquery_free(struct vquery *q);
int cdb_vquery_set_vector(
    struct vquery *q, const float *emb, size_t dim, cdb_error *e);

/* validate_src.c: what the new database must hold */
int cdb_vsrc_prepare(struct vctx *c, cdb_error *e);
/* The producer's pass: queue every expected batch, then keep the exact
 * search's results as the queries' references.  0 or -1 with e. */
int cdb_vsrc_produce(struct vctx *c, cdb_error *e);
int cdb_vsrc_find_ids_file(struct vctx *c, cdb_hmap *want, cdb_error *e);

/* An old record's place in the new database (cdb_vsrc_map_old). */
struct vmapped {
	int coll;
	const char *id;
	size_t len;
	json_t *meta;
};

int cdb_vsrc_map_old(struct vctx *c, cdb_schema_result *r, const char *src,
    const cdb_page *pg, size_t i, struct vmapped *m, cdb_error *e);

/* validate_cmp.c: the fetcher and the comparison */
void *cdb_vcmp_fetch_thread(void *arg);
int cdb_vcmp_batch(struct vctx *c, struct vbatch *b, cdb_error *e);
int cdb_vcmp_get(struct vctx *c, size_t coll, const json_t *ids, cdb_page *pg,
    int *nan, cdb_error *e);

/* The expected side of one record, or NULL for records none expects. */
struct vwant {
	const json_t *doc, *meta, *uri;
	const float *emb;
	size_t dim;
};

/* Check row j of pg, of collection coll (nan: fetched without its
 * vector, which holds NaN), found record f, against w; f's content
 * digest is taken. */
void cdb_vcmp_row(struct vctx *c, const cdb_page *pg, size_t j, size_t coll,
    int nan, struct frec *f, const struct vwant *w);

/* validate_end.c: after the stream: where absent records went, what the
 * new database holds besides, duplicates */
int cdb_vend_run(struct vctx *c, cdb_error *e);

/* validate_sem.c: test 4 */
int cdb_vsem_load_queries(struct vctx *c, cdb_error *e);
int cdb_vsem_find_ids(struct vctx *c, cdb_error *e);
int cdb_vsem_old_queries(struct vctx *c, cdb_error *e);
int cdb_vsem_new_queries(struct vctx *c, cdb_error *e);
void cdb_vsem_finish(struct vctx *c);

#endif
