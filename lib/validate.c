/*
 * validate.c - a validation run from start to verdict: set up, run the
 * producer thread and the comparison, then judge each test and build the
 * report; see validate.h and validate_impl.h.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "validate_impl.h"

void
cdb_validate_opts_init(cdb_validate_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->new_tenant = o->old_tenant = "default_tenant";
	o->new_database = o->old_database = "default_database";
	o->sample = 100;
	o->top_k = 10;
	o->seed = 1;
	o->page = 1000;
	o->max_data_loss = 5;
	o->max_missing = -1;
	o->warn_divergence = 10;
	o->max_divergence = 20;
	o->tool = "cdb-validate";
}

/* ------------------------------------------------------------ tests -- */

void
vtest_offend(struct vtest *t, const char *coll, const char *id, size_t id_len,
    const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	json_t *o;

	t->bad++;
	if (json_array_size(t->offenders) >= CDB_VALIDATE_MAX_OFFENDERS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Out of memory here only shortens the list of examples. */
	o = json_pack("{s:s?, s:s%, s:s}", "collection", coll, "id",
	    id ? id : "", id ? id_len : 0, "problem", msg);
	if (o != NULL)
		json_array_append_new(t->offenders, o);
}

void
vtest_add(struct vtest *t, const char *metric, double n)
{
	json_t *v = json_object_get(t->metrics, metric);
	double have = v ? json_number_value(v) : 0;

	json_object_set_new(t->metrics, metric,
	    floor(have + n) == have + n && fabs(have + n) < 9e15
	        ? json_integer((json_int_t)(have + n))
	        : json_real(have + n));
}

double
vtest_get(const struct vtest *t, const char *metric)
{
	return json_number_value(json_object_get(t->metrics, metric));
}

int
vctx_coll_index(const struct vctx *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->ncolls; i++)
		if (strcmp(c->colls[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *
vctx_found_id(const struct vctx *c, const struct frec *f)
{
	return c->fids.data + f->id_off;
}

void
vctx_progress(
    struct vctx *c, const char *phase, long long done, long long total)
{
	if (c->o->progress != NULL)
		c->o->progress(c->o->arg, phase, done, total);
}

/* ------------------------------------------------------------ setup -- */

/* Say where an error happened: "new server URL: " before its text. */
void
verror_prefix(cdb_error *e, const char *fmt, ...)
{
	char pre[512], msg[sizeof(pre) + sizeof(e->text) + 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s: %s", pre, e->text);
	memcpy(e->text, msg, sizeof(e->text) - 1);
	e->text[sizeof(e->text) - 1] = '\0';
}

static int
check_opts(const cdb_validate_opts *o, cdb_error *e)
{
	if (o->new_url == NULL)
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "the new database's URL "
		    "is required");
	if (o->old_url == NULL && o->nexpected == 0)
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "give what the new database must hold: the old database "
		    "or expected streams");
	if (o->top_k < 1 || o->page < 1 || o->sample < 0)
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "top-k, page size and "
		    "sample must be "
		    "positive");
	if (!(o->warn_divergence <= o->max_divergence))
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "the divergence warning threshold is above the failure "
		    "threshold");
	return 0;
}

/*
 * The counts each test reports, zero until counted, so that a program
 * reading the report finds every one (cdb-report(5)).
 */
static const char *const metric_names[CDB_VT_N] = {
    "expected_records found_records missing_records unexpected_records "
    "source_records rejected_by_schema collections_with_other_counts",
    "checked missing wrong_dimension not_finite zero zero_in_source differs",
    "records_checked",
    "queries top_k queries_compared queries_with_baseline "
    "queries_other_space text_queries text_queries_differ",
    "misplaced_records collection_metadata_differs",
    "duplicate_ids duplicate_content_records duplicate_content_in_source",
    "records_checked",
    "records_checked citations_checked broken_citations references_checked "
    "dangling_references",
};

static json_t *
zero_metrics(int t)
{
	json_t *m = json_object();
	const char *s = metric_names[t], *sp;
	char name[64];
	size_t n;

	while (m != NULL && *s != '\0') {
		sp = strchr(s, ' ');
		n = sp ? (size_t)(sp - s) : strlen(s);
		snprintf(name, sizeof(name), "%.*s", (int)n, s);
		json_object_set_new(m, name, json_integer(0));
		s += n + (sp != NULL);
	}
	return m;
}

static int
ctx_init(struct vctx *c, const cdb_validate_opts *o, cdb_error *e)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	c->o = o;
	c->s = o->schema;
	cdb_buf_init(&c->fids);
	cdb_buf_init(&c->aids);
	cdb_page_init(&c->page);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->fmap = cdb_hmap_new();
	c->scratch = cdb_hmap_new();
	c->p.xmap = cdb_hmap_new();
	c->p.by_reason = json_object();
	c->p.offenders = json_array();
	c->p.sources = json_object();
	c->p.unmapped = json_array();
	c->others = json_array();
	c->warnings = json_array();
	for (i = 0; i < CDB_VT_N; i++) {
		c->t[i].offenders = json_array();
		c->t[i].metrics = zero_metrics((int)i);
		if (c->t[i].offenders == NULL || c->t[i].metrics == NULL)
			break;
	}
	if (i < CDB_VT_N || c->fmap == NULL || c->scratch == NULL ||
	    c->p.xmap == NULL || c->p.by_reason == NULL ||
	    c->p.offenders == NULL || c->p.sources == NULL ||
	    c->p.unmapped == NULL || c->others == NULL || c->warnings == NULL)
		return cdb_error_oom(e);
	return 0;
}

static void
ctx_free(struct vctx *c)
{
	struct vbatch *b;
	size_t i;

	while ((b = c->qin.head) != NULL) {
		c->qin.head = b->next;
		vbatch_free(b);
	}
	while ((b = c->qcmp.head) != NULL) {
		c->qcmp.head = b->next;
		vbatch_free(b);
	}
	while ((b = c->spent) != NULL) {
		c->spent = b->next;
		vbatch_free(b);
	}
	for (i = 0; i < (size_t)c->npool; i++)
		cdb_page_free(&c->pool[i]);
	for (i = 0; i < c->ncolls; i++) {
		free(c->colls[i].name);
		free(c->colls[i].id);
		json_decref(c->colls[i].want);
		json_decref(c->colls[i].have);
	}
	free(c->colls);
	free(c->names);
	for (i = 0; i < c->nq; i++)
		vquery_free(&c->q[i]);
	free(c->q);
	for (i = 0; i < CDB_VT_N; i++) {
		json_decref(c->t[i].offenders);
		json_decref(c->t[i].metrics);
	}
	json_decref(c->p.by_reason);
	json_decref(c->p.offenders);
	json_decref(c->p.sources);
	json_decref(c->p.unmapped);
	json_decref(c->oldcolls);
	json_decref(c->others);
	json_decref(c->warnings);
	cdb_hmap_free(c->p.xmap);
	cdb_hmap_free(c->fmap);
	cdb_hmap_free(c->scratch);
	free(c->found);
	free(c->absent);
	free(c->dangle);
	cdb_buf_free(&c->fids);
	cdb_buf_free(&c->aids);
	cdb_page_free(&c->page);
	cdb_chroma_free(c->newc);
	cdb_chroma_free(c->oldc);
	if (c->xfp != NULL)
		fclose(c->xfp);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
}

static int
connect_new(struct vctx *c, cdb_error *e)
{
	const cdb_validate_opts *o = c->o;

	c->newc = cdb_chroma_new(
	    o->new_url, o->new_tenant, o->new_database, o->http, e);
	if (c->newc == NULL)
		return -1;
	if (cdb_chroma_heartbeat(c->newc, e) == -1 ||
	    cdb_chroma_check_database(c->newc, e) == -1) {
		verror_prefix(e, "new server");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------- the stream -- */

/* Queue b; waits while q is full.  -1 (b freed) when the run stops. */
int
vq_push(struct vctx *c, struct vqueue *q, struct vbatch *b)
{
	int stop;

	pthread_mutex_lock(&c->mu);
	while (q->len >= VQUEUE_MAX && !c->qstop)
		pthread_cond_wait(&c->cv, &c->mu);
	if (!(stop = c->qstop)) {
		b->next = NULL;
		if (q->tail != NULL)
			q->tail->next = b;
		else
			q->head = b;
		q->tail = b;
		q->len++;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	if (stop)
		vbatch_done(c, b);
	return stop ? -1 : 0;
}

/* The next batch of q; NULL once q is closed and empty, or on a stop. */
struct vbatch *
vq_pop(struct vctx *c, struct vqueue *q)
{
	struct vbatch *b = NULL;

	pthread_mutex_lock(&c->mu);
	while (q->head == NULL && !q->closed && !c->qstop)
		pthread_cond_wait(&c->cv, &c->mu);
	if (!c->qstop && (b = q->head) != NULL) {
		if ((q->head = b->next) == NULL)
			q->tail = NULL;
		q->len--;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return b;
}

void
vq_close(struct vctx *c, struct vqueue *q)
{
	pthread_mutex_lock(&c->mu);
	q->closed = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

void
vq_stop(struct vctx *c)
{
	pthread_mutex_lock(&c->mu);
	c->qstop = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

int
vq_stopped(struct vctx *c)
{
	int s;

	pthread_mutex_lock(&c->mu);
	s = c->qstop;
	pthread_mutex_unlock(&c->mu);
	return s;
}

/* Hand b back to the producer, which frees it (see vctx.spent). */
void
vbatch_done(struct vctx *c, struct vbatch *b)
{
	int now;

	pthread_mutex_lock(&c->mu);
	if (!(now = c->pdone)) {
		b->next = c->spent;
		c->spent = b;
	}
	pthread_mutex_unlock(&c->mu);
	if (now)
		vbatch_free(b);
}

/* An empty page into p, with the buffers of one used before. */
void
vpage_take(struct vctx *c, cdb_page *p)
{
	pthread_mutex_lock(&c->mu);
	if (c->npool > 0) {
		cdb_page_free(p);
		*p = c->pool[--c->npool];
	}
	pthread_mutex_unlock(&c->mu);
}

/* Keep p's buffers for the next batch; p is left empty. */
void
vpage_give(struct vctx *c, cdb_page *p)
{
	int kept = 0;

	json_decref(p->root);
	p->root = p->ids = p->documents = p->metadatas = p->uris = NULL;
	p->n = p->dim = 0;
	pthread_mutex_lock(&c->mu);
	if ((size_t)c->npool < sizeof(c->pool) / sizeof(c->pool[0])) {
		c->pool[c->npool++] = *p;
		kept = 1;
	}
	pthread_mutex_unlock(&c->mu);
	if (kept)
		cdb_page_init(p);
	cdb_page_free(p);
}

/* Compare each batch as the fetcher hands it over. */
static int
compare_all(struct vctx *c, cdb_error *e)
{
	struct vbatch *b;
	int rc = 0;

	while (rc == 0 && (b = vq_pop(c, &c->qcmp)) != NULL) {
		rc = vcmp_batch(c, b, e);
		vpage_give(c, &b->page);
		vbatch_done(c, b);
	}
	if (rc == -1)
		vq_stop(c);
	return rc;
}

static int
run_stream(struct vctx *c, cdb_error *e)
{
	pthread_t prod, fetch;
	int rc;

	if (pthread_create(&prod, NULL, vsrc_thread, c) != 0)
		return cdb_error_set(e, CDB_ERR_SYS, "cannot start a thread");
	if (pthread_create(&fetch, NULL, vcmp_fetch_thread, c) != 0) {
		vq_stop(c);
		pthread_join(prod, NULL);
		return cdb_error_set(e, CDB_ERR_SYS, "cannot start a thread");
	}
	rc = compare_all(c, e);
	pthread_join(fetch, NULL);
	if (rc == 0 && c->ferr.kind != CDB_ERR_NONE) {
		*e = c->ferr;
		rc = -1;
	}
	/* The new server is this thread's again. */
	if (rc == 0 && !vq_stopped(c))
		rc = vend_run(c, e);
	if (rc == 0 && c->nq > 0 && !vq_stopped(c))
		rc = vsem_new_queries(c, e);
	if (rc == -1)
		vq_stop(c);
	pthread_join(prod, NULL);
	if (rc == 0 && c->perr.kind != CDB_ERR_NONE) {
		*e = c->perr;
		rc = -1;
	}
	return rc;
}

/* ---------------------------------------------------------- verdict -- */

/* Why a test was skipped (vtest.skipped). */
static const char SKIP_NA[] = "not applicable";
static const char SKIP_ASKED[] = "on request";
static const char SKIP_CANNOT[] = "could not run";

static void judge(struct vtest *t, int status, int reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
judge(struct vtest *t, int status, int reason, const char *fmt, ...)
{
	va_list ap;

	t->status = status;
	t->reason = status == CDB_VS_FAILED ? reason : CDB_VR_NONE;
	va_start(ap, fmt);
	vsnprintf(t->note, sizeof(t->note), fmt, ap);
	va_end(ap);
}

static double
data_loss(const struct vctx *c)
{
	double want = vtest_get(&c->t[CDB_VT_COUNT], "expected_records");
	double lost = vtest_get(&c->t[CDB_VT_COUNT], "missing_records");

	return want > 0 ? 100.0 * lost / want : 0;
}

static void
judge_count(struct vctx *c)
{
	struct vtest *t = &c->t[CDB_VT_COUNT];
	double want = vtest_get(t, "expected_records");
	double have = vtest_get(t, "found_records");
	double lost = vtest_get(t, "missing_records");
	double extra = vtest_get(t, "unexpected_records");
	double rej = vtest_get(t, "rejected_by_schema");
	double loss = data_loss(c);
	size_t i, differ = 0;

	/* Per collection too: records may all be there, in the wrong one. */
	for (i = 0; i < c->ncolls; i++)
		differ += c->colls[i].found != c->colls[i].expected;
	vtest_add(t, "collections_with_other_counts", (double)differ);
	vtest_add(t, "data_loss_percentage", round(loss * 1e4) / 1e4);
	if (loss > c->o->max_data_loss)
		judge(t, CDB_VS_FAILED, CDB_VR_DATA_LOSS,
		    "expected records not in the new database: %.0f of %.0f "
		    "(%.2f%% data loss, more than %g%%)",
		    lost, want, loss, c->o->max_data_loss);
	else if (c->o->max_missing >= 0 && lost > (double)c->o->max_missing)
		judge(t, CDB_VS_FAILED, CDB_VR_DATA_LOSS,
		    "expected records not in the new database: %.0f of %.0f, "
		    "more than the %lld allowed (%.2f%% data loss)",
		    lost, want, c->o->max_missing, loss);
	else if (extra > 0)
		judge(t, CDB_VS_FAILED, CDB_VR_COUNT,
		    "records in the new database that the migration did not "
		    "produce: %.0f",
		    extra);
	else if (lost > 0)
		judge(t, CDB_VS_WARNING, CDB_VR_NONE,
		    "expected records missing: %.0f of %.0f (%.2f%% data "
		    "loss, within the %g%% allowed)",
		    lost, want, loss, c->o->max_data_loss);
	else if (have != want || differ > 0)
		judge(t, CDB_VS_WARNING, CDB_VR_NONE,
		    "expected %.0f records, found %.0f; %zu collections hold "
		    "other counts than expected, which tests 5 and 6 explain",
		    want, have, differ);
	else if (rej > 0)
		judge(t, CDB_VS_WARNING, CDB_VR_NONE,
		    "all %.0f expected records found; %.0f source records "
		    "fit no target of the schema and are not expected",
		    want, rej);
	else
		judge(t, CDB_VS_PASSED, CDB_VR_NONE,
		    "all %.0f expected records found", want);
}

static void
judge_simple(struct vtest *t, int reason, const char *what, const char *okmsg)
{
	if (t->bad > 0)
		judge(t, CDB_VS_FAILED, reason, "%s: %lld", what, t->bad);
	else
		judge(t, CDB_VS_PASSED, CDB_VR_NONE, "%s", okmsg);
}

static void
judge_embedding(struct vctx *c)
{
	struct vtest *t = &c->t[CDB_VT_EMBEDDING];

	vtest_add(t, "max_deviation", 0);
	json_object_set_new(t->metrics, "max_deviation", json_real(c->max_dev));
	if (t->bad > 0)
		judge(t, CDB_VS_FAILED, CDB_VR_EMBEDDING,
		    "records with a missing, malformed or changed embedding: "
		    "%lld",
		    t->bad);
	else if (vtest_get(t, "zero_in_source") > 0)
		judge(t, CDB_VS_WARNING, CDB_VR_NONE,
		    "every embedding is as in the source, but %.0f are all "
		    "zeros there too",
		    vtest_get(t, "zero_in_source"));
	else
		judge(t, CDB_VS_PASSED, CDB_VR_NONE,
		    "%.0f embeddings checked: right dimension, finite, "
		    "non-zero, equal to the source",
		    vtest_get(t, "checked"));
}

static void
judge_semantic(struct vctx *c)
{
	struct vtest *t = &c->t[CDB_VT_SEMANTIC];
	double n = vtest_get(t, "queries_compared");
	double nb = vtest_get(t, "queries_with_baseline");
	double rn = vtest_get(t, "recall_new_percentage");
	double ro = vtest_get(t, "recall_old_percentage"), loss;

	if (c->nq == 0 && c->o->sample == 0 && c->o->queries == NULL) {
		judge(t, CDB_VS_SKIPPED, CDB_VR_NONE, "no queries (--sample 0)");
		t->skipped = SKIP_ASKED;
		return;
	}
	if (vtest_get(t, "text_queries_differ") > 0) {
		/* Full-text search is exact: any other answer is wrong. */
		judge(t, CDB_VS_FAILED, CDB_VR_SEARCH,
		    "full-text queries whose matches differ from the expected "
		    "records': %.0f of %.0f",
		    vtest_get(t, "text_queries_differ"),
		    vtest_get(t, "text_queries"));
		return;
	}
	if (n == 0 && vtest_get(t, "text_queries") > 0) {
		judge(t, CDB_VS_PASSED, CDB_VR_NONE,
		    "every full-text query gives the expected records");
		return;
	}
	if (n == 0) {
		judge(t, CDB_VS_SKIPPED, CDB_VR_NONE,
		    "no query had exact results to compare");
		t->skipped = SKIP_CANNOT;
		return;
	}
	if (nb == 0) {
		/* Without the old server's recall, what the index finds is
		 * the index's business: HNSW finds less than an exact search
		 * of many dimensions, copied faithfully or not. */
		judge(t, CDB_VS_PASSED, CDB_VR_NONE,
		    "recall@%d of the new database %.2f%% against an exact "
		    "search of the expected records, over %.0f queries; no "
		    "old server%s to measure a loss against (information only)",
		    c->o->top_k, rn, n,
		    vtest_get(t, "queries_other_space") > 0
		        ? " searching in the target's space (the space differs "
		          "from the sources')"
		        : "");
		return;
	}
	loss = vtest_get(t, "semantic_divergence_percentage");
	t->status = cdb_validate_threshold(
	    loss, c->o->warn_divergence, c->o->max_divergence);
	judge(t, t->status, CDB_VR_SEARCH,
	    "recall@%d against an exact search: new database %.2f%%, old "
	    "database %.2f%%, over %.0f queries: %.2f%% of the old "
	    "database's search quality lost (warn above %g%%, fail above "
	    "%g%%); old-new top-%d overlap %.2f%%%s",
	    c->o->top_k, rn, ro, nb, loss, c->o->warn_divergence,
	    c->o->max_divergence, c->o->top_k,
	    vtest_get(t, "mean_overlap_percentage"),
	    vtest_get(t, "queries_other_space") > 0
	        ? "; queries of collections whose space differs from their "
	          "sources' have no baseline"
	        : "");
}

static void
judge_distribution(struct vctx *c)
{
	struct vtest *t = &c->t[CDB_VT_DISTRIBUTION];

	if (t->bad > 0) {
		/* Every record where it belongs, but searched by another
		 * distance: what breaks is search. */
		judge(t, CDB_VS_FAILED,
		    t->bad == c->space_bad ? CDB_VR_SEARCH : CDB_VR_COUNT,
		    "records or collections not where the mapping puts them, "
		    "or not as it configures them: %lld",
		    t->bad);
	} else if (vtest_get(t, "collection_metadata_differs") > 0)
		judge(t, CDB_VS_WARNING, CDB_VR_NONE,
		    "every record is in its collection, but %.0f "
		    "collections' metadata differ from the mapping's",
		    vtest_get(t, "collection_metadata_differs"));
	else
		judge(t, CDB_VS_PASSED, CDB_VR_NONE,
		    "every record is in the collection the mapping gives, "
		    "%zu collections as configured",
		    c->ncolls);
}

static int
has_checked_fields(const cdb_schema *s)
{
	size_t i;

	for (i = 0; s != NULL && i < cdb_schema_nfields(s); i++)
		if (cdb_schema_field_at(s, i)->reference != NULL ||
		    cdb_schema_field_at(s, i)->template != NULL)
			return 1;
	return 0;
}

/* The per-record counts, kept in C while records went by. */
static void
set_counts(struct vctx *c)
{
	struct vtest *t8 = &c->t[CDB_VT_CITATIONS];

	vtest_add(&c->t[CDB_VT_EMBEDDING], "checked",
	    (double)c->t[CDB_VT_EMBEDDING].checked);
	vtest_add(&c->t[CDB_VT_METADATA], "records_checked",
	    (double)c->t[CDB_VT_METADATA].checked);
	vtest_add(&c->t[CDB_VT_TYPES], "records_checked",
	    (double)c->t[CDB_VT_TYPES].checked);
	vtest_add(t8, "records_checked", (double)t8->checked);
	vtest_add(t8, "citations_checked", (double)c->cites_checked);
	vtest_add(t8, "references_checked", (double)c->refs_checked);
}

/* Are every reference test 8 found dangling records the migration lost,
 * and nothing else wrong there? */
static int
citations_lost(const struct vctx *c)
{
	size_t i;

	if (c->cite_other > 0 || c->ndangle == 0)
		return 0;
	for (i = 0; i < c->ndangle; i++)
		if (!cdb_hmap_get(c->p.xmap, c->dangle[i], NULL) ||
		    cdb_hmap_get(c->fmap, c->dangle[i], NULL))
			return 0;
	return 1;
}

/*
 * When lost records explain another test's failure (references that
 * dangle because their target was lost, a collection missing with its
 * records, searches that miss only lost records), the cause to name is
 * the data loss, even when test 1 only warns about it.
 */
static void
blame_loss(struct vctx *c)
{
	struct vtest *t4 = &c->t[CDB_VT_SEMANTIC];
	struct vtest *t5 = &c->t[CDB_VT_DISTRIBUTION];
	struct vtest *t8 = &c->t[CDB_VT_CITATIONS];

	if (vtest_get(&c->t[CDB_VT_COUNT], "missing_records") == 0)
		return;
	if (t8->status == CDB_VS_FAILED && citations_lost(c))
		t8->reason = CDB_VR_DATA_LOSS;
	if (t5->status == CDB_VS_FAILED && t5->bad == c->lost_colls)
		t5->reason = CDB_VR_DATA_LOSS;
	if (t4->status == CDB_VS_FAILED &&
	    c->loss_unlost <= c->o->max_divergence &&
	    vtest_get(t4, "text_queries_differ") ==
	        vtest_get(t4, "text_queries_differ_lost"))
		t4->reason = CDB_VR_DATA_LOSS;
}

static void
judge_all(struct vctx *c)
{
	set_counts(c);
	judge_count(c);
	judge_embedding(c);
	judge_simple(&c->t[CDB_VT_METADATA], CDB_VR_SCHEMA,
	    "records that lack a field or hold a value the source does not "
	    "give",
	    "every record has every field it should, with the source's "
	    "values, documents and uris");
	judge_semantic(c);
	judge_distribution(c);
	judge_simple(&c->t[CDB_VT_DUPLICATES], CDB_VR_DUPLICATE,
	    "records that duplicate an id or the content of another record",
	    "no duplicate ids, no duplicated content the source did not "
	    "have");
	judge_simple(&c->t[CDB_VT_TYPES], CDB_VR_SCHEMA,
	    "records with a value of the wrong type or out of its "
	    "constraints",
	    "every value has its field's type and meets its constraints");
	if (c->s == NULL || !has_checked_fields(c->s)) {
		judge(&c->t[CDB_VT_CITATIONS], CDB_VS_SKIPPED, CDB_VR_NONE,
		    "%s",
		    c->s == NULL ? "no schema (-s) names citation or reference "
		                   "fields"
		                 : "the schema has no citation or reference "
		                   "fields");
		c->t[CDB_VT_CITATIONS].skipped = SKIP_NA;
	} else
		judge_simple(&c->t[CDB_VT_CITATIONS], CDB_VR_SCHEMA,
		    "records with a citation or reference that does not "
		    "resolve",
		    "every citation is well-formed and every reference "
		    "points at a record that exists");
	blame_loss(c);
}

/* ----------------------------------------------------------- report -- */

static json_t *
server_obj(const char *url, const char *tenant, const char *db)
{
	char *u;
	json_t *o;

	if (url == NULL)
		return json_null();
	/* Never a password in a report. */
	u = cdb_http_redact(url);
	o = json_pack(
	    "{s:s?, s:s, s:s}", "url", u, "tenant", tenant, "database", db);
	free(u);
	return o;
}

static void
utc_now(char out[32])
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The report's first fields: what it is. */
static json_t *
report_head(const cdb_validate_opts *o)
{
	return json_pack("{s:s, s:i, s:s}", "report", "cdb-validate",
	    "format_version", 1, "tool", o->tool ? o->tool : "cdb-validate");
}

static json_t *
files_array(const cdb_validate_opts *o)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < o->nexpected; i++)
		json_array_append_new(a, json_string(o->expected[i]));
	return a;
}

/* The fields about the run: when, where from, with which options. */
static void
report_run(json_t *r, const cdb_validate_opts *o, double elapsed)
{
	char now[32];

	utc_now(now);
	json_object_set_new(r, "finished_at", json_string(now));
	json_object_set_new(
	    r, "elapsed_seconds", json_real(round(elapsed * 1000) / 1000));
	json_object_set_new(r, "old_server",
	    server_obj(o->old_url, o->old_tenant, o->old_database));
	json_object_set_new(r, "new_server",
	    server_obj(o->new_url, o->new_tenant, o->new_database));
	json_object_set_new(r, "expected",
	    json_pack("{s:s, s:s?, s:o, s:s?, s:s?}", "from",
	        o->nexpected ? "file" : "old-server", "file",
	        o->nexpected ? o->expected[0] : NULL, "files",
	        files_array(o), "schema_file", o->schema_file,
	        "schema_digest",
	        o->schema ? cdb_schema_digest(o->schema) : NULL));
	json_object_set_new(r, "options",
	    json_pack("{s:I, s:i, s:I, s:s?, s:I}", "sample",
	        (json_int_t)o->sample, "top_k", o->top_k, "seed",
	        (json_int_t)o->seed, "queries", o->queries, "page",
	        (json_int_t)o->page));
	json_object_set_new(r, "thresholds",
	    json_pack("{s:f, s:o, s:f, s:f}", "max_data_loss_percentage",
	        o->max_data_loss, "max_missing_records",
	        o->max_missing >= 0 ? json_integer((json_int_t)o->max_missing)
	                            : json_null(),
	        "warn_divergence_percentage", o->warn_divergence,
	        "max_divergence_percentage", o->max_divergence));
}

json_t *
cdb_validate_error_report(
    const cdb_validate_opts *o, const cdb_error *err, double elapsed)
{
	json_t *r = report_head(o);

	if (r == NULL)
		return NULL;
	json_object_set_new(r, "overall_status", json_string("ERROR"));
	json_object_set_new(r, "rollback_triggered", json_false());
	json_object_set_new(r, "rollback_reason", json_null());
	json_object_set_new(r, "rollback_reasons", json_array());
	json_object_set_new(r, "error", json_string(err->text));
	json_object_set_new(r, "data_loss_percentage", json_null());
	json_object_set_new(r, "semantic_divergence_percentage", json_null());
	report_run(r, o, elapsed);
	json_object_set_new(r, "collections", json_array());
	json_object_set_new(r, "tests", json_array());
	return r;
}

static json_t *
test_obj(const struct vtest *t, int i)
{
	return json_pack(
	    "{s:i, s:s, s:s, s:s, s:s?, s:s?, s:s, s:O, s:I, s:O}", "number",
	    i + 1, "key", cdb_validate_test_key(i), "name",
	    cdb_validate_test_title(i), "status",
	    cdb_validate_status_name(t->status), "skipped",
	    t->status == CDB_VS_SKIPPED ? t->skipped : NULL, "reason",
	    t->reason ? cdb_validate_reason_name(t->reason) : NULL, "note",
	    t->note, "metrics", t->metrics, "offending_total",
	    (json_int_t)t->bad, "offenders", t->offenders);
}

static json_t *
coll_obj(const struct vcoll *k)
{
	return json_pack("{s:s, s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "name", k->name, "exists", k->id != NULL, "space",
	    cdb_validate_space_name(k->space), "expected",
	    (json_int_t)k->expected, "found", (json_int_t)k->found, "present",
	    (json_int_t)k->present, "missing", (json_int_t)k->missing,
	    "misplaced", (json_int_t)k->misplaced, "unexpected",
	    (json_int_t)k->unexpected);
}

static void
add_verdict(json_t *r, const struct vctx *c)
{
	int st[CDB_VT_N], why[CDB_VT_N], overall, reason, i, n[5] = {0};
	json_t *reasons = json_array();

	for (i = 0; i < CDB_VT_N; i++) {
		st[i] = c->t[i].status;
		why[i] = c->t[i].reason;
		n[st[i]]++;
		/* A test that does not apply, or that the operator turned
		 * off, leaves nothing in doubt. */
		if (st[i] == CDB_VS_SKIPPED &&
		    (c->t[i].skipped == SKIP_NA || c->t[i].skipped == SKIP_ASKED))
			st[i] = CDB_VS_PASSED;
	}
	overall = cdb_validate_verdict(st, why, CDB_VT_N, &reason);
	/* A doubt about the whole run is worth a look before cutover. */
	if (overall == CDB_VS_PASSED && json_array_size(c->warnings) > 0)
		overall = CDB_VS_WARNING;
	for (i = CDB_VR_NONE + 1; i < CDB_VR_N; i++) {
		int j, seen = 0;
		for (j = 0; j < CDB_VT_N; j++)
			seen |= st[j] == CDB_VS_FAILED && why[j] == i;
		if (seen)
			json_array_append_new(
			    reasons, json_string(cdb_validate_reason_name(i)));
	}
	json_object_set_new(r, "overall_status",
	    json_string(cdb_validate_status_name(overall)));
	json_object_set_new(
	    r, "rollback_triggered", json_boolean(overall == CDB_VS_FAILED));
	json_object_set_new(r, "rollback_reason",
	    reason ? json_string(cdb_validate_reason_name(reason))
	           : json_null());
	json_object_set_new(r, "rollback_reasons", reasons);
	json_object_set(r, "warnings", c->warnings);
	json_object_set_new(r, "summary",
	    json_pack("{s:i, s:i, s:i, s:i, s:i}", "tests", CDB_VT_N, "passed",
	        n[CDB_VS_PASSED], "warnings", n[CDB_VS_WARNING], "failed",
	        n[CDB_VS_FAILED], "skipped", n[CDB_VS_SKIPPED]));
}

static json_t *
build_report(const struct vctx *c, double elapsed)
{
	json_t *r = report_head(c->o), *a;
	const struct vtest *sem = &c->t[CDB_VT_SEMANTIC];
	size_t i;

	if (r == NULL)
		return NULL;
	add_verdict(r, c);
	json_object_set_new(r, "data_loss_percentage",
	    json_real(round(data_loss(c) * 1e4) / 1e4));
	json_object_set_new(r, "semantic_divergence_percentage",
	    json_object_get(sem->metrics, "semantic_divergence_percentage")
	        ? json_real(vtest_get(sem, "semantic_divergence_percentage"))
	        : json_null());
	report_run(r, c->o, elapsed);
	a = json_array();
	for (i = 0; i < c->ncolls; i++)
		json_array_append_new(a, json_string(c->colls[i].name));
	json_object_set_new(r, "collections", a);
	a = json_array();
	for (i = 0; i < c->ncolls; i++)
		json_array_append_new(a, coll_obj(&c->colls[i]));
	json_object_set_new(r, "collection_counts", a);
	json_object_set(r, "other_collections", c->others);
	json_object_set(r, "unmapped_source_collections", c->p.unmapped);
	a = json_array();
	for (i = 0; i < CDB_VT_N; i++)
		json_array_append_new(a, test_obj(&c->t[i], (int)i));
	json_object_set_new(r, "tests", a);
	return r;
}

/* Fold the producer's counts into test 1. */
static void
merge_producer(struct vctx *c)
{
	struct vtest *t = &c->t[CDB_VT_COUNT];
	size_t i;
	json_t *o;

	vtest_add(t, "source_records", (double)c->p.source_records);
	vtest_add(t, "rejected_by_schema", (double)c->p.rejected);
	t->bad += c->p.rejected;
	json_object_set(t->metrics, "rejected_by_reason", c->p.by_reason);
	json_array_foreach(c->p.offenders, i, o)
	{
		if (json_array_size(t->offenders) < CDB_VALIDATE_MAX_OFFENDERS)
			json_array_append(t->offenders, o);
	}
}

json_t *
cdb_validate_run(const cdb_validate_opts *o, cdb_error *e)
{
	struct timespec t0;
	struct vctx c;
	json_t *r = NULL;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (check_opts(o, e) == -1)
		return NULL;
	if (ctx_init(&c, o, e) == 0 && connect_new(&c, e) == 0 &&
	    vsrc_prepare(&c, e) == 0 && vsem_load_queries(&c, e) == 0 &&
	    vsem_find_ids(&c, e) == 0 && run_stream(&c, e) == 0) {
		vsem_finish(&c);
		merge_producer(&c);
		judge_all(&c);
		if ((r = build_report(&c, cdb_elapsed(&t0))) == NULL)
			cdb_error_oom(e);
	}
	ctx_free(&c);
	return r;
}

int
cdb_validate_report_status(const json_t *report)
{
	return cdb_validate_status_parse(
	    json_string_value(json_object_get(report, "overall_status")));
}
