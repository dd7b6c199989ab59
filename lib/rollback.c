/*
 * rollback.c - restore a snapshot after a failed migration; see
 * rollback.h.  The restore goes through phases recorded in a state file
 * (plan, archive, remove, import, verify) so that a rerun after a crash
 * continues where the last one stopped, with the plan and the counts of
 * the first run.  While the main thread imports the snapshot, one worker
 * compares each collection with it, trailing the import's checkpoint.
 */
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "import.h"
#include "json.h"
#include "lock.h"
#include "queue.h"
#include "rollback.h"
#include "snapshot.h"

#define STATE_VERSION 1
#define STATE_KIND    "cdb-rollback-restore"
#define WORK_DIR      "cdb-rollback.work"
/*
 * Records per import request unless told: small enough that the
 * comparison trails the import of a collection closely, so little is
 * left to compare when the last one lands; on Chroma 1.3 no slower than
 * the server's maximum (5461).
 */
#define RESTORE_BATCH 1000

struct job {
	const cdb_rollback_opts *o;
	json_t *remove; /* names the failed migration created */
	json_t *report;
	json_t *manifest;
	cdb_chroma *c;
	const char *tenant, *database, *work;
	long batch; /* records per import request */
	cdb_buf state_path;
	json_t *state;
	struct timespec t0;
	/*
	 * Shared by the import (main thread) and the verifier: which
	 * collections (by manifest position) are imported, and whether the
	 * import is over.  The verifier owns results, vc and verr until it
	 * is joined.
	 */
	atomic_char *done;
	atomic_int stop;
	json_t *results; /* name -> verification result */
	cdb_chroma *vc;
	cdb_error verr;
};

static void __attribute__((format(printf, 2, 3)))
step(struct job *j, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (j->o->step == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	j->o->step(j->o->arg, msg);
}

static int
has_name(const json_t *names, const char *name)
{
	json_t *v;
	size_t i;

	json_array_foreach (names, i, v) {
		if (strcmp(json_string_value(v), name) == 0)
			return 1;
	}
	return 0;
}

static json_t *
plan_get(const struct job *j, const char *key)
{
	return json_object_get(json_object_get(j->state, "plan"), key);
}

/* 1 + the position of collection name in the manifest, or 0. */
static size_t
index_of(const json_t *manifest, const char *name)
{
	json_t *c;
	size_t i;

	json_array_foreach (json_object_get(manifest, "collections"), i, c) {
		if (cdb_json_str_is(c, "name", name))
			return i + 1;
	}
	return 0;
}

/* The checkpoint of the import of collection name, into b. */
static int
ckpt_path(const struct job *j, const char *name, cdb_buf *b)
{
	return cdb_buf_printf(b, "%s/import-%04zu.ckpt", j->work,
	    index_of(j->manifest, name));
}

/* ------------------------------------------------------------- state -- */

static int
by_string(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
	    json_string_value(*(json_t *const *)b));
}

/* The names, sorted, so that their order on the command line is moot. */
static json_t *
sorted(const json_t *names)
{
	size_t i, n = json_array_size(names);
	json_t **v = calloc(n + 1, sizeof(*v)), *out = v ? json_array() : NULL;

	for (i = 0; out != NULL && i < n; i++)
		v[i] = json_array_get(names, i);
	if (out != NULL)
		qsort(v, n, sizeof(*v), by_string);
	for (i = 0; out != NULL && i < n; i++)
		if (json_array_append(out, v[i]) == -1) {
			json_decref(out);
			out = NULL;
		}
	free(v);
	return out;
}

/* What a rerun must match to continue: the same snapshot and target. */
static json_t *
identity(struct job *j)
{
	json_t *m = j->manifest, *digests = json_array(), *c;
	size_t i;

	json_array_foreach (json_object_get(m, "collections"), i, c) {
		if (json_array_append(digests, json_object_get(c, "digest")) ==
		    -1) {
			json_decref(digests);
			return NULL;
		}
	}
	return json_pack("{s:{s:O?, s:O?, s:o}, s:s, s:s, s:s, s:o}",
	    "snapshot", "created", json_object_get(m, "created"), "server",
	    json_object_get(m, "server"), "digests", digests, "server",
	    cdb_chroma_url(j->c), "tenant", j->tenant, "database", j->database,
	    "remove", sorted(j->remove));
}

static int
save_state(struct job *j, const char *phase, cdb_error *e)
{
	if (phase != NULL &&
	    json_object_set_new(j->state, "phase", json_string(phase)) == -1)
		return cdb_error_oom(e);
	if (mkdir(j->work, 0700) == -1 && errno != EEXIST)
		return cdb_error_sys(e, errno, "%s", j->work);
	return cdb_checkpoint_save(j->state_path.data, j->state, e);
}

static int
load_state(struct job *j, cdb_error *e)
{
	json_t *id;
	int same;

	if (cdb_buf_printf(&j->state_path, "%s/state.json", j->work) == -1)
		return cdb_error_oom(e);
	j->state = cdb_checkpoint_load(j->state_path.data, e);
	if (j->state == NULL)
		return e->kind != CDB_ERR_NONE ? -1 : 0;
	if ((id = identity(j)) == NULL)
		return cdb_error_oom(e);
	same = json_integer_value(json_object_get(j->state, "version")) ==
	           STATE_VERSION &&
	       cdb_json_str_is(j->state, "kind", STATE_KIND) &&
	       json_equal(json_object_get(j->state, "identity"), id);
	json_decref(id);
	if (!same)
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "%s holds an unfinished restore of another snapshot, or "
		    "into another server or database, or with other "
		    "collections to remove; rerun that restore to finish it, "
		    "or remove %s to start over",
		    j->work, j->work);
	if (json_object_set_new(j->report, "resumed", json_true()) == -1)
		return cdb_error_oom(e);
	return 0;
}

/*
 * Ours: the state, the imports' checkpoints, and the temporary files a
 * kill -9 in the middle of saving one of them leaves.
 */
static int
work_file(const char *n)
{
	size_t k;

	if (strncmp(n, "state.json", 10) == 0)
		n += 10;
	else if (strncmp(n, "import-", 7) == 0 &&
	         (k = strspn(n + 7, "0123456789")) >= 4 &&
	         strncmp(n + 7 + k, ".ckpt", 5) == 0)
		n += 7 + k + 5;
	else
		return 0;
	/* A lock's sidecar stays after a kill -9 (lock.h). */
	return *n == '\0' || strncmp(n, ".tmp.", 5) == 0 ||
	       strcmp(n, ".lock") == 0;
}

/* Leave no trace of a finished restore but its reports and archive. */
static void
remove_work(struct job *j)
{
	struct dirent *d;
	cdb_buf p;
	DIR *dir;

	if ((dir = opendir(j->work)) == NULL)
		return;
	cdb_buf_init(&p);
	while ((d = readdir(dir)) != NULL) {
		if (!work_file(d->d_name))
			continue;
		cdb_buf_reset(&p);
		if (cdb_buf_printf(&p, "%s/%s", j->work, d->d_name) == 0)
			unlink(p.data);
	}
	closedir(dir);
	cdb_buf_free(&p);
	/* Fails, harmlessly, if someone put files of their own there. */
	rmdir(j->work);
}

/* -------------------------------------------------------------- plan -- */

static int
note_present(struct job *j, const json_t *coll, json_t *plan, cdb_error *e)
{
	const char *name = json_string_value(json_object_get(coll, "name"));
	const char *id = json_string_value(json_object_get(coll, "id"));
	long n;

	if (name == NULL || id == NULL)
		return cdb_error_set(e, CDB_ERR_SERVER,
		    "collection without a name or id in the server's answer");
	if (!cdb_snapshot_find(j->manifest, name) &&
	    !has_name(j->remove, name))
		return json_array_append_new(json_object_get(plan, "left_alone"),
		           json_string(name)) == -1
		           ? cdb_error_oom(e)
		           : 0;
	if ((n = cdb_chroma_count(j->c, id, e)) == -1)
		return -1;
	if (json_array_append_new(
	        json_object_get(plan, "remove"), json_string(name)) == -1 ||
	    json_object_set_new(
	        json_object_get(plan, "before"), name, json_integer(n)) == -1)
		return cdb_error_oom(e);
	return 0;
}

/* The state of a new restore: its identity, plan and archive's name. */
static int
make_state(struct job *j, json_t *plan, cdb_error *e)
{
	const char *dir = j->o->archive_dir ? j->o->archive_dir : ".";
	size_t len = strlen(dir);
	char name[64], when[CDB_TIME_LEN];
	json_t *path = json_null();
	time_t now = time(NULL);
	cdb_buf p;

	cdb_buf_init(&p);
	if (json_array_size(json_object_get(plan, "remove")) > 0) {
		cdb_rollback_archive_name(name, now);
		path = cdb_buf_printf(&p, "%s%s%s", dir,
		           len > 0 && dir[len - 1] == '/' ? "" : "/", name) == 0
		           ? json_string(p.data)
		           : NULL;
	}
	cdb_buf_free(&p);
	j->state = json_pack("{s:i, s:s, s:o, s:s, s:s, s:o, s:O, s:[]}",
	    "version", STATE_VERSION, "kind", STATE_KIND, "identity",
	    identity(j), "started", cdb_time_utc(when, now, 0), "phase",
	    "archive", "archive", path, "plan", plan, "imported");
	return j->state ? 0 : cdb_error_oom(e);
}

/* Decide what to archive, remove and restore, from the server as it is. */
static int
plan(struct job *j, cdb_error *e)
{
	json_t *present, *p, *v;
	size_t i;
	int rc;

	if ((present = cdb_chroma_list(j->c, e)) == NULL)
		return -1;
	p = json_pack("{s:[], s:{}, s:[], s:[], s:O}", "remove", "before",
	    "left_alone", "not_found", "requested", j->remove);
	rc = p != NULL ? 0 : cdb_error_oom(e);
	for (i = 0; rc == 0 && i < json_array_size(present); i++)
		rc = note_present(j, json_array_get(present, i), p, e);
	for (i = 0; rc == 0 && i < json_array_size(j->remove); i++) {
		v = json_array_get(j->remove, i);
		if (cdb_snapshot_find_in(present, json_string_value(v)) == NULL &&
		    json_array_append(json_object_get(p, "not_found"), v) == -1)
			rc = cdb_error_oom(e);
	}
	json_decref(present);
	if (rc == 0)
		rc = make_state(j, p, e);
	json_decref(p);
	return rc;
}

/* ----------------------------------------------------------- archive -- */

static int
archive(struct job *j, cdb_error *e)
{
	const char *path =
	    json_string_value(json_object_get(j->state, "archive"));
	json_t *names = plan_get(j, "remove");
	size_t i, n = json_array_size(names);
	cdb_snapshot_stats st;
	char **v;
	int rc;

	if (path == NULL)
		return 0;
	if (access(path, F_OK) == 0) {
		/* Finished just before a crash: only leftovers to remove. */
		cdb_snapshot_writer_cleanup(path);
		return 0;
	}
	step(j, "archiving %zu collection%s to %s", n, n == 1 ? "" : "s", path);
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		return cdb_error_oom(e);
	for (i = 0; i < n; i++)
		v[i] = (char *)json_string_value(json_array_get(names, i));
	rc = cdb_snapshot_take(j->c,
	    &(cdb_snapshot_opts){.names = v, .nnames = n, .output = path,
	        .comp = CDB_SNAP_GZIP, .form = CDB_EMB_BASE64, .tool = j->o->tool,
	        .warn = j->o->step, .progress = j->o->progress, .arg = j->o->arg},
	    &st, e);
	free(v);
	return rc;
}

/* ------------------------------------------------------------ remove -- */

/* Collection name on the server: 0 present, 1 absent, -1 unknown. */
static int
gone(struct job *j, const char *name)
{
	cdb_error ge;
	json_t *have;

	cdb_error_clear(&ge);
	if ((have = cdb_chroma_get_collection(j->c, name, &ge)) != NULL) {
		json_decref(have);
		return 0;
	}
	return ge.http_status == 404 ? 1 : -1;
}

static int
remove_one(struct job *j, const char *name, cdb_error *e)
{
	cdb_error de;

	cdb_error_clear(&de);
	/* Or removed already, by a run that stopped before saying so. */
	if (cdb_chroma_delete(j->c, name, &de) == 0 || gone(j, name) == 1)
		return 0;
	return cdb_error_setc(e, de.kind, de.code,
	    "cannot remove collection \"%s\": %s", name, de.text);
}

static int
remove_all(struct job *j, cdb_error *e)
{
	json_t *before = plan_get(j, "before"), *v;
	const char *name;
	size_t i;

	json_array_foreach (plan_get(j, "remove"), i, v) {
		name = json_string_value(v);
		step(j, "removing collection %s (%lld records)", name,
		    (long long)json_integer_value(
		        json_object_get(before, name)));
		if (remove_one(j, name, e) == -1)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ import -- */

static int
import_error(
    struct job *j, const char *member, const cdb_error *ie, cdb_error *e)
{
	char at[32] = "";

	if (ie->line > 0)
		snprintf(at, sizeof(at), ":%ld", ie->line);
	return cdb_error_setc(e, ie->kind, ie->code, "%s: member \"%s\"%s: %s",
	    j->o->snapshot, member, at, ie->text);
}

/* Record collection k (0-based) as imported, then tell the verifier. */
static int
mark_imported(struct job *j, size_t k, const char *name, cdb_error *e)
{
	if (json_array_append_new(json_object_get(j->state, "imported"),
	        json_string(name)) == -1)
		return cdb_error_oom(e);
	if (save_state(j, NULL, e) == -1)
		return -1;
	atomic_store(&j->done[k], 1);
	return 0;
}

/* Load one member into its collection (created by the import). */
static int
import_member(
    void *arg, const char *member, const json_t *entry, FILE *in, cdb_error *e)
{
	struct job *j = arg;
	const char *name = json_string_value(json_object_get(entry, "name"));
	size_t k = index_of(j->manifest, name);
	cdb_import_stats ist;
	cdb_error ie;
	cdb_buf ckpt;
	int rc;

	if (k == 0 || atomic_load(&j->done[k - 1]))
		return 0;
	step(j, "restoring collection %s (%lld records)", name,
	    (long long)json_integer_value(json_object_get(entry, "count")));
	cdb_buf_init(&ckpt);
	if (ckpt_path(j, name, &ckpt) == -1)
		return cdb_error_oom(e);
	cdb_error_clear(&ie);
	/* The compare that follows finds and repairs altered records. */
	rc = cdb_import_run(in,
	    &(cdb_import_opts){.url = j->o->url, .tenant = j->tenant,
	        .database = j->database, .http = j->o->http, .batch = j->batch,
	        .jobs = j->o->jobs, .checkpoint = ckpt.data, .input = member,
	        .collection = name, .no_altered_check = 1,
	        .progress = j->o->progress, .arg = j->o->arg},
	    &ist, &ie);
	cdb_buf_free(&ckpt);
	if (rc == -1)
		return import_error(j, member, &ie, e);
	return mark_imported(j, k - 1, name, e);
}

/* ------------------------------------------------------------ verify -- */

struct waiter {
	struct job *j;
	const char *name;
	size_t k; /* the collection's manifest position */
	cdb_buf ckpt;
};

/* Has the import of w->name committed every line up to line? */
static int
committed(const struct waiter *w, long line)
{
	json_t *ck = json_load_file(w->ckpt.data, CDB_JSON_FLAGS, NULL);
	int rc;

	if (line == 0)
		rc = json_object_get(
		         json_object_get(ck, "collections"), w->name) != NULL;
	else
		rc = json_integer_value(json_object_get(ck, "line")) >= line;
	json_decref(ck);
	return rc;
}

/*
 * Wait until the records up to line are on the server, as the import's
 * checkpoint says, so verifying a collection trails its import by a
 * batch or two instead of waiting for its end.  The checkpoint is a file
 * that nothing signals, so it is polled.  -1 if the import stopped.
 */
static int
wait_committed(void *arg, long line)
{
	static const struct timespec tick = {0, 25 * 1000 * 1000};
	struct waiter *w = arg;

	while (!atomic_load(&w->j->done[w->k])) {
		if (committed(w, line))
			return 0;
		/* done is set before stop: look again once stopped. */
		if (atomic_load(&w->j->stop))
			return atomic_load(&w->j->done[w->k]) ? 0 : -1;
		nanosleep(&tick, NULL);
	}
	return 0;
}

static int
verify_member(
    void *arg, const char *member, const json_t *entry, FILE *in, cdb_error *e)
{
	struct job *j = arg;
	const char *name = json_string_value(json_object_get(entry, "name"));
	struct waiter w = {j, name, index_of(j->manifest, name) - 1, {0}};
	cdb_rollback_cmp co = {1, wait_committed, &w};
	json_t *res = json_object();
	int rc = -1;

	(void)member;
	cdb_buf_init(&w.ckpt);
	/* Kept even when the comparison fails: the report shows how far. */
	if (json_object_set_new(j->results, name, res) == -1 ||
	    ckpt_path(j, name, &w.ckpt) == -1)
		cdb_error_oom(e);
	else
		rc = cdb_rollback_compare(j->vc, entry, in, &co, res, e);
	cdb_buf_free(&w.ckpt);
	if (rc == 0 && json_integer_value(json_object_get(res, "repaired")) > 0)
		step(j,
		    "collection %s: set the metadata of %lld records back "
		    "to the snapshot's (the server had kept stale values)",
		    name,
		    (long long)json_integer_value(
		        json_object_get(res, "repaired")));
	if (rc == 0)
		step(j, "verified collection %s: %s", name,
		    json_is_true(json_object_get(res, "verified"))
		        ? "identical to the snapshot"
		        : json_string_value(json_object_get(res, "problem")));
	return rc;
}

/* The worker: compare each collection as soon as it is restored. */
static void *
verifier(void *arg)
{
	struct job *j = arg;
	json_t *m;

	j->vc = cdb_chroma_new(
	    j->o->url, j->tenant, j->database, j->o->http, &j->verr);
	if (j->vc == NULL)
		return NULL;
	m = cdb_snapshot_read(
	    j->o->snapshot, j->manifest, verify_member, j, &j->verr);
	json_decref(m);
	cdb_chroma_free(j->vc);
	j->vc = NULL;
	return NULL;
}

static int
import_and_verify(struct job *j, cdb_error *e)
{
	size_t i, k, left = json_array_size(json_object_get(j->manifest,
	                         "collections"));
	cdb_workers *w = NULL;
	json_t *m, *v;
	int rc = 0;

	json_array_foreach (json_object_get(j->state, "imported"), i, v) {
		k = index_of(j->manifest, json_string_value(v));
		if (k > 0 && !atomic_exchange(&j->done[k - 1], 1))
			left--;
	}
	cdb_error_clear(&j->verr);
	if (cdb_workers_start(&w, 1, verifier, j, e) == -1)
		rc = -1;
	else if (left > 0) {
		m = cdb_snapshot_read(
		    j->o->snapshot, j->manifest, import_member, j, e);
		rc = m ? 0 : -1;
		json_decref(m);
	}
	atomic_store(&j->stop, 1);
	cdb_workers_join(w);
	if (rc == 0 && j->verr.kind != CDB_ERR_NONE) {
		*e = j->verr;
		rc = -1;
	}
	return rc == 0 ? save_state(j, "verify", e) : -1;
}

/* ------------------------------------------------------------ report -- */

static json_t *
row(struct job *j, const char *name)
{
	json_t *ent = cdb_snapshot_find(j->manifest, name);
	json_t *before = json_object_get(plan_get(j, "before"), name);

	return json_pack("{s:s, s:s, s:b, s:b, s:O?, s:O?, s:b}", "name", name,
	    "action", ent ? "restore" : "remove", "in_snapshot", ent != NULL,
	    "created_by_migration", has_name(plan_get(j, "requested"), name),
	    "count_before", before, "count_expected",
	    ent ? json_object_get(ent, "count") : NULL, "archived",
	    before != NULL &&
	        json_is_string(json_object_get(j->state, "archive")));
}

/* One row per collection restored or removed, sorted by name. */
static int
report_rows(struct job *j)
{
	json_t *names = json_array(), *rows = json_array(), *all, *v;
	int rc = names == NULL ? -1 : 0;
	size_t i;

	json_array_foreach (json_object_get(j->manifest, "collections"), i, v)
		rc |= json_array_append(names, json_object_get(v, "name"));
	json_array_foreach (plan_get(j, "remove"), i, v) {
		if (!has_name(names, json_string_value(v)))
			rc |= json_array_append(names, v);
	}
	all = rc == 0 ? sorted(names) : NULL;
	rc = all == NULL ? -1 : 0;
	json_array_foreach (all, i, v)
		rc |= json_array_append_new(rows, row(j, json_string_value(v)));
	json_decref(names);
	json_decref(all);
	rc |= json_object_set_new(j->report, "collections", rows);
	rc |= json_object_set(j->report, "left_alone", plan_get(j, "left_alone"));
	rc |= json_object_set(j->report, "not_found", plan_get(j, "not_found"));
	rc |= json_object_set(
	    j->report, "failed_archive", json_object_get(j->state, "archive"));
	rc |= json_object_set(
	    j->report, "started", json_object_get(j->state, "started"));
	return rc;
}

static int
report_head(struct job *j)
{
	const json_t *m = j->manifest;

	return json_object_set_new(j->report, "snapshot",
	    json_pack("{s:s, s:O?, s:O?, s:O?, s:O?, s:I, s:O?}", "path",
	        j->o->snapshot, "created", json_object_get(m, "created"),
	        "server", json_object_get(m, "server"), "tenant",
	        json_object_get(m, "tenant"), "database",
	        json_object_get(m, "database"), "collections",
	        (json_int_t)json_array_size(json_object_get(m, "collections")),
	        "records", json_object_get(m, "records")));
}

/*
 * Fill the rows with the verification, and the first problem of a
 * restored one; a removed collection that the snapshot did not have must
 * be gone.  0 or -1.
 */
static int
report_results(struct job *j)
{
	json_t *r, *res;
	const char *problem, *name;
	size_t i;
	int g, rc = 0;

	json_array_foreach (json_object_get(j->report, "collections"), i, r) {
		name = json_string_value(json_object_get(r, "name"));
		if (cdb_json_str_is(r, "action", "remove")) {
			g = gone(j, name);
			rc |= json_object_set_new(r, "verified", json_boolean(g == 1));
			if (g == 0)
				rc |= json_object_set_new(
				    r, "problem", json_string("still on the server"));
			continue;
		}
		if ((res = json_object_get(j->results, name)) != NULL)
			rc |= json_object_update(r, res);
		else
			rc |= json_object_set_new(r, "verified", json_false());
		if (json_is_true(json_object_get(r, "verified")) ||
		    json_object_get(j->report, "first_problem") != NULL)
			continue;
		problem = json_string_value(json_object_get(r, "problem"));
		rc |= json_object_set_new(j->report, "first_problem",
		    json_sprintf("collection \"%s\": %s", name,
		        problem ? problem : "not verified"));
	}
	return rc;
}

/* ------------------------------------------------------------ phases -- */

static int
open_target(struct job *j, cdb_error *e)
{
	const json_t *m = j->manifest;
	long maxb = 0;
	int b64;

	j->tenant = j->o->tenant
	                ? j->o->tenant
	                : json_string_value(json_object_get(m, "tenant"));
	j->database = j->o->database
	                  ? j->o->database
	                  : json_string_value(json_object_get(m, "database"));
	if (j->tenant == NULL || j->database == NULL)
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "the snapshot names no tenant or database: give them");
	j->c = cdb_chroma_new(j->o->url, j->tenant, j->database, j->o->http, e);
	if (j->c == NULL || cdb_chroma_preflight(j->c, &maxb, &b64, e) == -1)
		return -1;
	j->batch = j->o->batch > 0 ? j->o->batch : RESTORE_BATCH;
	if (j->o->batch == 0 && maxb > 0 && maxb < j->batch)
		j->batch = maxb;
	if (json_object_set_new(j->report, "target",
	        json_pack("{s:s, s:s, s:s}", "server", cdb_chroma_url(j->c),
	            "tenant", j->tenant, "database", j->database)) == -1)
		return cdb_error_oom(e);
	return 0;
}

static int
run_phases(struct job *j, cdb_error *e)
{
	if (cdb_json_str_is(j->state, "phase", "archive") &&
	    (archive(j, e) == -1 || save_state(j, "remove", e) == -1))
		return -1;
	if (cdb_json_str_is(j->state, "phase", "remove") &&
	    (remove_all(j, e) == -1 || save_state(j, "import", e) == -1))
		return -1;
	return import_and_verify(j, e);
}

/* Verify the snapshot, plan (or take up the plan of an earlier run). */
static int
prepare(struct job *j, cdb_error *e)
{
	size_t n;

	step(j, "checking snapshot %s", j->o->snapshot);
	if ((j->manifest = cdb_snapshot_verify(j->o->snapshot, e)) == NULL)
		return -1;
	/* A shard holds part of each collection: restoring it would lose the rest. */
	if (json_is_object(json_object_get(j->manifest, "shard")))
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "%s is one shard of a snapshot, which restore cannot put "
		    "back alone; its members are shard streams that cdb-import "
		    "loads, all shards concurrently",
		    j->o->snapshot);
	n = json_array_size(json_object_get(j->manifest, "collections"));
	if ((j->done = calloc(n + 1, sizeof(*j->done))) == NULL ||
	    report_head(j) == -1)
		return cdb_error_oom(e);
	if (open_target(j, e) == -1 || load_state(j, e) == -1 ||
	    (j->state == NULL && plan(j, e) == -1))
		return -1;
	return report_rows(j) == -1 ? cdb_error_oom(e) : 0;
}

static int
run(struct job *j, cdb_error *e)
{
	if (prepare(j, e) == -1)
		return -1;
	if (j->o->dry_run)
		return 0;
	if (save_state(j, NULL, e) == -1 || run_phases(j, e) == -1)
		return -1;
	if (report_results(j) == -1)
		return cdb_error_oom(e);
	if (json_object_get(j->report, "first_problem") != NULL)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "the restored state does not match the snapshot: %s",
		    json_string_value(
		        json_object_get(j->report, "first_problem")));
	remove_work(j);
	return 0;
}

/* The outcome, into the report: 0, or -1 when it could not be added. */
static int
finish_report(struct job *j, int rc, const cdb_error *e)
{
	const cdb_rollback_opts *o = j->o;
	json_t *r = j->report, *resumed = json_object_get(r, "resumed");
	char when[CDB_TIME_LEN];

	if (json_object_update_new(r,
	        json_pack("{s:s, s:b, s:b, s:O, s:b, s:O, s:s, s:f}", "status",
	            rc == -1 ? "FAILED" : o->dry_run ? "DRY_RUN" : "RESTORED",
	            "verified", rc == 0 && !o->dry_run, "dry_run", o->dry_run,
	            "resumed", resumed ? resumed : json_false(), "forced",
	            o->forced, "validation",
	            o->validation ? (json_t *)o->validation : json_null(),
	            "finished", cdb_time_utc(when, time(NULL), 0),
	            "elapsed_seconds", cdb_elapsed(&j->t0))) == -1)
		return -1;
	if (rc == -1)
		return json_object_set_new(r, "error", json_string(e->text));
	return 0;
}

/*
 * The target as given, until the snapshot (which may be damaged) says
 * the rest: a report must not show "?" for what the operator named.
 */
static int
preliminary_target(struct job *j)
{
	char *url = j->o->url ? cdb_http_redact(j->o->url) : NULL;
	const char *from = "from the snapshot";
	int rc;

	rc = json_object_set_new(j->report, "target",
	    json_pack("{s:s, s:s, s:s}", "server", url ? url : "?", "tenant",
	        j->o->tenant ? j->o->tenant : from, "database",
	        j->o->database ? j->o->database : from));
	free(url);
	return rc;
}

int
cdb_rollback_restore(const cdb_rollback_opts *o, json_t *report, cdb_error *e)
{
	cdb_lock *lock = NULL;
	struct job j;
	cdb_error le;
	int rc;

	memset(&j, 0, sizeof(j));
	j.o = o;
	j.report = report;
	j.work = o->work_dir ? o->work_dir : WORK_DIR;
	clock_gettime(CLOCK_MONOTONIC, &j.t0);
	cdb_buf_init(&j.state_path);
	j.results = json_object();
	j.remove = o->remove ? json_incref((json_t *)o->remove) : json_array();
	cdb_error_clear(&le);
	if (j.results == NULL || j.remove == NULL ||
	    json_object_set_new(
	        report, "tool", json_string(o->tool ? o->tool : "cdb")) == -1 ||
	    preliminary_target(&j) == -1)
		rc = cdb_error_oom(&le);
	/* One restore per work directory; a dry run changes nothing. */
	else if (!o->dry_run && (lock = cdb_lock_new(j.work, &le)) == NULL)
		rc = -1;
	else
		rc = run(&j, &le);
	if (finish_report(&j, rc, &le) == -1 && rc == 0)
		rc = cdb_error_oom(&le);
	if (rc == -1 && e != NULL && e->kind == CDB_ERR_NONE)
		*e = le;
	json_decref(j.manifest);
	json_decref(j.state);
	json_decref(j.results);
	json_decref(j.remove);
	free(j.done);
	cdb_chroma_free(j.c);
	cdb_buf_free(&j.state_path);
	cdb_lock_free(lock);
	return rc;
}
