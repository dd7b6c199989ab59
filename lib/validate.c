/*
 * validate.c - the top layer of the validation engine (see
 * validate_impl.h): a run from start to verdict.  Set up, run the
 * producer, fetcher and comparison threads, then judge each test and
 * build the report (cdb-report(5)).
 */
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
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

/* ------------------------------------------------------------ setup -- */

static int
check_opts(const cdb_validate_opts *o, cdb_error *e)
{
	if (o->new_url == NULL)
		return cdb_error_set(
		    e, CDB_ERR_USAGE, "the new database's URL is required");
	if (o->old_url == NULL && o->nexpected == 0)
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "give what the new database must hold: the old database "
		    "or expected streams");
	if (o->top_k < 1 || o->page < 1 || o->sample < 0)
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "top-k, page size and sample must be positive");
	if (!(o->warn_divergence <= o->max_divergence))
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "the divergence warning threshold is above the failure "
		    "threshold");
	return 0;
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
		cdb_vctx_where(e, "new server");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------- the stream -- */

/*
 * The producer thread: every expected batch into qin, then (the
 * comparison may finish meanwhile) the old server's answers to the
 * queries, the baseline of test 4.
 */
static void *
producer(void *arg)
{
	struct vctx *c = arg;
	int rc;

	rc = cdb_vsrc_produce(c, &c->perr);
	cdb_queue_close(c->qin);
	if (rc == 0 && c->oldc != NULL && c->nq > 0 && !atomic_load(&c->stop))
		rc = cdb_vsem_old_queries(c, &c->perr);
	if (rc == -1)
		cdb_vctx_stop(c);
	return NULL;
}

/* Compare each batch as the fetcher hands it over. */
static int
compare_all(struct vctx *c, cdb_error *e)
{
	struct vbatch *b;
	int rc = 0;

	while ((b = cdb_queue_pop(c->qcmp)) != NULL) {
		if (rc == 0 && !atomic_load(&c->stop))
			rc = cdb_vcmp_batch(c, b, e);
		cdb_vbatch_free(b);
	}
	return rc;
}

/* A thread's error, if it had one, when this one had none. */
static int
take_error(int rc, const cdb_error *te, cdb_error *e)
{
	if (rc == 0 && te->kind != CDB_ERR_NONE) {
		*e = *te;
		return -1;
	}
	return rc;
}

static int
run_stream(struct vctx *c, cdb_error *e)
{
	cdb_workers *prod = NULL, *fetch = NULL;
	int rc;

	rc = cdb_workers_start(&prod, 1, producer, c, e);
	if (rc == 0)
		rc = cdb_workers_start(&fetch, 1, cdb_vcmp_fetch_thread, c, e);
	if (rc == 0)
		rc = compare_all(c, e);
	if (rc == -1)
		cdb_vctx_stop(c);
	cdb_workers_join(fetch);
	rc = take_error(rc, &c->ferr, e);
	/* The new server is this thread's again. */
	if (rc == 0 && !atomic_load(&c->stop))
		rc = cdb_vend_run(c, e);
	if (rc == 0 && c->nq > 0 && !atomic_load(&c->stop))
		rc = cdb_vsem_new_queries(c, e);
	if (rc == -1)
		cdb_vctx_stop(c);
	cdb_workers_join(prod);
	return take_error(rc, &c->perr, e);
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
	double want = cdb_vtest_get(&c->t[CDB_VT_COUNT], "expected_records");
	double lost = cdb_vtest_get(&c->t[CDB_VT_COUNT], "missing_records");

	return want > 0 ? 100.0 * lost / want : 0;
}

static void
judge_count(struct vctx *c)
{
	struct vtest *t = &c->t[CDB_VT_COUNT];
	double want = cdb_vtest_get(t, "expected_records");
	double have = cdb_vtest_get(t, "found_records");
	double lost = cdb_vtest_get(t, "missing_records");
	double extra = cdb_vtest_get(t, "unexpected_records");
	double rej = cdb_vtest_get(t, "rejected_by_schema");
	double loss = data_loss(c);
	size_t i, differ = 0;

	/* Per collection too: records may all be there, in the wrong one. */
	for (i = 0; i < c->ncolls; i++)
		differ += c->colls[i].found != c->colls[i].expected;
	cdb_vtest_add(t, "collections_with_other_counts", (double)differ);
	cdb_vtest_add(t, "data_loss_percentage", round(loss * 1e4) / 1e4);
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

/*
 * FAILED for reason when records are at fault (what: the count); else
 * WARNING when metric warn is above 0 (wfmt shows it); else PASSED (okfmt
 * shows ok).  The formats are this file's literals.
 */
static void
judge_simple(struct vtest *t, int reason, const char *what, const char *warn,
    const char *wfmt, const char *okfmt, double ok)
{
	if (t->bad > 0)
		judge(t, CDB_VS_FAILED, reason, "%s: %lld", what, t->bad);
	else if (warn != NULL && cdb_vtest_get(t, warn) > 0)
		judge(t, CDB_VS_WARNING, CDB_VR_NONE, wfmt, cdb_vtest_get(t, warn));
	else
		judge(t, CDB_VS_PASSED, CDB_VR_NONE, okfmt, ok);
}

static void
judge_semantic(struct vctx *c)
{
	struct vtest *t = &c->t[CDB_VT_SEMANTIC];
	double n = cdb_vtest_get(t, "queries_compared");
	double nb = cdb_vtest_get(t, "queries_with_baseline");
	double rn = cdb_vtest_get(t, "recall_new_percentage");
	double ro = cdb_vtest_get(t, "recall_old_percentage"), loss;

	if (c->nq == 0 && c->o->sample == 0 && c->o->queries == NULL) {
		judge(t, CDB_VS_SKIPPED, CDB_VR_NONE, "no queries (--sample 0)");
		t->skipped = SKIP_ASKED;
		return;
	}
	if (cdb_vtest_get(t, "text_queries_differ") > 0) {
		/* Full-text search is exact: any other answer is wrong. */
		judge(t, CDB_VS_FAILED, CDB_VR_SEARCH,
		    "full-text queries whose matches differ from the expected "
		    "records': %.0f of %.0f",
		    cdb_vtest_get(t, "text_queries_differ"),
		    cdb_vtest_get(t, "text_queries"));
		return;
	}
	if (n == 0 && cdb_vtest_get(t, "text_queries") > 0) {
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
		    cdb_vtest_get(t, "queries_other_space") > 0
		        ? " searching in the target's space (the space differs "
		          "from the sources')"
		        : "");
		return;
	}
	loss = cdb_vtest_get(t, "semantic_divergence_percentage");
	t->status = cdb_validate_threshold(
	    loss, c->o->warn_divergence, c->o->max_divergence);
	judge(t, t->status, CDB_VR_SEARCH,
	    "recall@%d against an exact search: new database %.2f%%, old "
	    "database %.2f%%, over %.0f queries: %.2f%% of the old "
	    "database's search quality lost (warn above %g%%, fail above "
	    "%g%%); old-new top-%d overlap %.2f%%%s",
	    c->o->top_k, rn, ro, nb, loss, c->o->warn_divergence,
	    c->o->max_divergence, c->o->top_k,
	    cdb_vtest_get(t, "mean_overlap_percentage"),
	    cdb_vtest_get(t, "queries_other_space") > 0
	        ? "; queries of collections whose space differs from their "
	          "sources' have no baseline"
	        : "");
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

	cdb_vtest_add(&c->t[CDB_VT_EMBEDDING], "checked",
	    (double)c->t[CDB_VT_EMBEDDING].checked);
	cdb_vtest_add(&c->t[CDB_VT_METADATA], "records_checked",
	    (double)c->t[CDB_VT_METADATA].checked);
	cdb_vtest_add(&c->t[CDB_VT_TYPES], "records_checked",
	    (double)c->t[CDB_VT_TYPES].checked);
	cdb_vtest_add(t8, "records_checked", (double)t8->checked);
	cdb_vtest_add(t8, "citations_checked", (double)c->cites_checked);
	cdb_vtest_add(t8, "references_checked", (double)c->refs_checked);
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

	if (cdb_vtest_get(&c->t[CDB_VT_COUNT], "missing_records") == 0)
		return;
	if (t8->status == CDB_VS_FAILED && citations_lost(c))
		t8->reason = CDB_VR_DATA_LOSS;
	if (t5->status == CDB_VS_FAILED && t5->bad == c->lost_colls)
		t5->reason = CDB_VR_DATA_LOSS;
	if (t4->status == CDB_VS_FAILED &&
	    c->loss_unlost <= c->o->max_divergence &&
	    cdb_vtest_get(t4, "text_queries_differ") ==
	        cdb_vtest_get(t4, "text_queries_differ_lost"))
		t4->reason = CDB_VR_DATA_LOSS;
}

static void
judge_all(struct vctx *c)
{
	struct vtest *t5 = &c->t[CDB_VT_DISTRIBUTION];

	set_counts(c);
	judge_count(c);
	cdb_vtest_set(&c->t[CDB_VT_EMBEDDING], "max_deviation",
	    json_real(c->max_dev));
	judge_simple(&c->t[CDB_VT_EMBEDDING], CDB_VR_EMBEDDING,
	    "records with a missing, malformed or changed embedding",
	    "zero_in_source",
	    "every embedding is as in the source, but %.0f are all zeros "
	    "there too",
	    "%.0f embeddings checked: right dimension, finite, non-zero, equal "
	    "to the source",
	    cdb_vtest_get(&c->t[CDB_VT_EMBEDDING], "checked"));
	judge_simple(&c->t[CDB_VT_METADATA], CDB_VR_SCHEMA,
	    "records that lack a field or hold a value the source does not "
	    "give",
	    NULL, NULL,
	    "every record has every field it should, with the source's "
	    "values, documents and uris",
	    0);
	judge_semantic(c);
	/* Every record where it belongs, but searched by another distance:
	 * what breaks is search. */
	judge_simple(t5, t5->bad == c->space_bad ? CDB_VR_SEARCH : CDB_VR_COUNT,
	    "records or collections not where the mapping puts them, or not "
	    "as it configures them",
	    "collection_metadata_differs",
	    "every record is in its collection, but %.0f collections' "
	    "metadata differ from the mapping's",
	    "every record is in the collection the mapping gives, %.0f "
	    "collections as configured",
	    (double)c->ncolls);
	judge_simple(&c->t[CDB_VT_DUPLICATES], CDB_VR_DUPLICATE,
	    "records that duplicate an id or the content of another record",
	    NULL, NULL,
	    "no duplicate ids, no duplicated content the source did not have",
	    0);
	judge_simple(&c->t[CDB_VT_TYPES], CDB_VR_SCHEMA,
	    "records with a value of the wrong type or out of its constraints",
	    NULL, NULL,
	    "every value has its field's type and meets its constraints", 0);
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
		    NULL, NULL,
		    "every citation is well-formed and every reference "
		    "points at a record that exists",
		    0);
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
		if (json_array_append_new(a, json_string(o->expected[i])) == -1) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* The fields about the run: when, where from, with which options.  0,
 * or -1 out of memory (as for every json_object_set_new below). */
static int
report_run(json_t *r, const cdb_validate_opts *o, double elapsed)
{
	char now[CDB_TIME_LEN];
	int rc = 0;

	rc |= json_object_set_new(
	    r, "finished_at", json_string(cdb_time_utc(now, time(NULL), 0)));
	rc |= json_object_set_new(
	    r, "elapsed_seconds", json_real(round(elapsed * 1000) / 1000));
	rc |= json_object_set_new(r, "old_server",
	    server_obj(o->old_url, o->old_tenant, o->old_database));
	rc |= json_object_set_new(r, "new_server",
	    server_obj(o->new_url, o->new_tenant, o->new_database));
	rc |= json_object_set_new(r, "expected",
	    json_pack("{s:s, s:s?, s:o, s:s?, s:s?}", "from",
	        o->nexpected ? "file" : "old-server", "file",
	        o->nexpected ? o->expected[0] : NULL, "files",
	        files_array(o), "schema_file", o->schema_file,
	        "schema_digest",
	        o->schema ? cdb_schema_digest(o->schema) : NULL));
	rc |= json_object_set_new(r, "options",
	    json_pack("{s:I, s:i, s:I, s:s?, s:I}", "sample",
	        (json_int_t)o->sample, "top_k", o->top_k, "seed",
	        (json_int_t)o->seed, "queries", o->queries, "page",
	        (json_int_t)o->page));
	rc |= json_object_set_new(r, "thresholds",
	    json_pack("{s:f, s:o, s:f, s:f}", "max_data_loss_percentage",
	        o->max_data_loss, "max_missing_records",
	        o->max_missing >= 0 ? json_integer((json_int_t)o->max_missing)
	                            : json_null(),
	        "warn_divergence_percentage", o->warn_divergence,
	        "max_divergence_percentage", o->max_divergence));
	return rc;
}

json_t *
cdb_validate_error_report(
    const cdb_validate_opts *o, const cdb_error *err, double elapsed)
{
	json_t *r = report_head(o);
	int rc;

	if (r == NULL)
		return NULL;
	rc = json_object_update_new(r,
	    json_pack("{s:s, s:b, s:n, s:[], s:s, s:n, s:n}", "overall_status",
	        "ERROR", "rollback_triggered", 0, "rollback_reason",
	        "rollback_reasons", "error", err->text, "data_loss_percentage",
	        "semantic_divergence_percentage"));
	rc |= report_run(r, o, elapsed);
	rc |= json_object_set_new(r, "collections", json_array());
	rc |= json_object_set_new(r, "tests", json_array());
	if (rc != 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

static json_t *
test_obj(const struct vctx *c, size_t n)
{
	const struct vtest *t = &c->t[n];
	int i = (int)n;

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
coll_obj(const struct vctx *c, size_t i)
{
	const struct vcoll *k = &c->colls[i];

	return json_pack("{s:s, s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "name", k->name, "exists", k->id != NULL, "space",
	    cdb_validate_space_name(k->space), "expected",
	    (json_int_t)k->expected, "found", (json_int_t)k->found, "present",
	    (json_int_t)k->present, "missing", (json_int_t)k->missing,
	    "misplaced", (json_int_t)k->misplaced, "unexpected",
	    (json_int_t)k->unexpected);
}

static int
add_verdict(json_t *r, const struct vctx *c)
{
	int st[CDB_VT_N], why[CDB_VT_N], overall, reason, i, j, n[5] = {0};
	json_t *reasons = json_array();
	int rc = reasons == NULL ? -1 : 0;

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
	for (i = CDB_VR_NONE + 1; rc == 0 && i < CDB_VR_N; i++) {
		for (j = 0; j < CDB_VT_N; j++)
			if (st[j] == CDB_VS_FAILED && why[j] == i)
				break;
		if (j < CDB_VT_N)
			rc = json_array_append_new(
			    reasons, json_string(cdb_validate_reason_name(i)));
	}
	rc |= json_object_set_new(r, "overall_status",
	    json_string(cdb_validate_status_name(overall)));
	rc |= json_object_set_new(
	    r, "rollback_triggered", json_boolean(overall == CDB_VS_FAILED));
	rc |= json_object_set_new(r, "rollback_reason",
	    reason ? json_string(cdb_validate_reason_name(reason))
	           : json_null());
	rc |= json_object_set_new(r, "rollback_reasons", reasons);
	rc |= json_object_set(r, "warnings", c->warnings);
	rc |= json_object_set_new(r, "summary",
	    json_pack("{s:i, s:i, s:i, s:i, s:i}", "tests", CDB_VT_N, "passed",
	        n[CDB_VS_PASSED], "warnings", n[CDB_VS_WARNING], "failed",
	        n[CDB_VS_FAILED], "skipped", n[CDB_VS_SKIPPED]));
	return rc;
}

/* An array of fn(i) for i below n; NULL out of memory. */
static json_t *
array_of(const struct vctx *c, size_t n, json_t *(*fn)(const struct vctx *, size_t))
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, fn(c, i)) == -1) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *
coll_name(const struct vctx *c, size_t i)
{
	return json_string(c->colls[i].name);
}

static json_t *
build_report(const struct vctx *c, double elapsed)
{
	json_t *r = report_head(c->o);
	const struct vtest *sem = &c->t[CDB_VT_SEMANTIC];
	int rc;

	if (r == NULL)
		return NULL;
	rc = add_verdict(r, c);
	rc |= json_object_set_new(r, "data_loss_percentage",
	    json_real(round(data_loss(c) * 1e4) / 1e4));
	rc |= json_object_set_new(r, "semantic_divergence_percentage",
	    json_object_get(sem->metrics, "semantic_divergence_percentage")
	        ? json_real(
	              cdb_vtest_get(sem, "semantic_divergence_percentage"))
	        : json_null());
	rc |= report_run(r, c->o, elapsed);
	rc |= json_object_set_new(
	    r, "collections", array_of(c, c->ncolls, coll_name));
	rc |= json_object_set_new(
	    r, "collection_counts", array_of(c, c->ncolls, coll_obj));
	rc |= json_object_set(r, "other_collections", c->others);
	rc |= json_object_set(r, "unmapped_source_collections", c->p.unmapped);
	rc |= json_object_set_new(r, "tests", array_of(c, CDB_VT_N, test_obj));
	if (rc != 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

/* Fold the producer's counts into test 1.  0, or -1 out of memory. */
static int
merge_producer(struct vctx *c)
{
	struct vtest *t = &c->t[CDB_VT_COUNT];
	size_t i;
	json_t *o;

	cdb_vtest_add(t, "source_records", (double)c->p.source_records);
	cdb_vtest_add(t, "rejected_by_schema", (double)c->p.rejected);
	t->bad += c->p.rejected;
	json_array_foreach(c->p.offenders, i, o)
	{
		if (json_array_size(t->offenders) < CDB_VALIDATE_MAX_OFFENDERS &&
		    json_array_append(t->offenders, o) == -1)
			return -1;
	}
	return json_object_set(t->metrics, "rejected_by_reason", c->p.by_reason);
}

/* Did a test's JSON run out of memory (vtest.oom)? */
static int
out_of_memory(const struct vctx *c)
{
	int i, oom = 0;

	for (i = 0; i < CDB_VT_N; i++)
		oom |= c->t[i].oom;
	return oom;
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
	if (cdb_vctx_init(&c, o, e) == 0 && connect_new(&c, e) == 0 &&
	    cdb_vsrc_prepare(&c, e) == 0 && cdb_vsem_load_queries(&c, e) == 0 &&
	    cdb_vsem_find_ids(&c, e) == 0 && run_stream(&c, e) == 0) {
		cdb_vsem_finish(&c);
		if (merge_producer(&c) == -1)
			cdb_error_oom(e);
		else {
			judge_all(&c);
			if (out_of_memory(&c) ||
			    (r = build_report(&c, cdb_elapsed(&t0))) == NULL)
				cdb_error_oom(e);
		}
	}
	cdb_vctx_free(&c);
	return r;
}

int
cdb_validate_report_status(const json_t *report)
{
	return cdb_validate_status_parse(
	    json_string_value(json_object_get(report, "overall_status")));
}
