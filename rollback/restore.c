/*
 * restore.c - cdb-rollback restore: obey the validation report, then let
 * cdb_rollback_restore put the snapshot back, and write its reports
 * (Markdown and JSON) beside the archive of the failed state.
 */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "chromadir.h"
#include "cmd.h"
#include "json.h"
#include "lock.h"
#include "rollback.h"

struct restore {
	struct rb_server s;
	cdb_rollback_opts o;
	const char *report, *report_md, *report_json;
	const char *checkpoint; /* the import's, retired once restored */
	int force;
	json_t *remove;
	json_t *validation;
};

static void
parse_restore(int argc, char *argv[], struct restore *r)
{
	static const struct option longopts[] = {
	    RB_SERVER_LONGOPTS,
	    {"report", required_argument, NULL, 'r'},
	    {"force", no_argument, NULL, 'f'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"archive-dir", required_argument, NULL, 'a'},
	    {"work-dir", required_argument, NULL, 'w'},
	    {"collection", required_argument, NULL, 'C'},
	    {"checkpoint", required_argument, NULL, 'c'},
	    {"from-checkpoint", required_argument, NULL, 'c'},
	    {"batch-size", required_argument, NULL, 'b'},
	    {"jobs", required_argument, NULL, 'j'},
	    {"report-md", required_argument, NULL, OPT_REPORT_MD},
	    {"report-json", required_argument, NULL, OPT_REPORT_JSON},
	    {NULL, 0, NULL, 0},
	};
	cdb_error e;
	json_t *one;
	int ch;

	while ((ch = getopt_long(argc, argv, "a:b:C:c:fhj:nqr:u:w:", longopts,
	            NULL)) != -1) {
		if (rb_server_option(&r->s, ch))
			continue;
		switch (ch) {
		case 'r':
			r->report = optarg;
			break;
		case 'f':
			r->force = 1;
			break;
		case 'n':
			r->o.dry_run = 1;
			break;
		case 'a':
			r->o.archive_dir = optarg;
			break;
		case 'w':
			r->o.work_dir = optarg;
			break;
		case 'C':
			one = json_pack("[s]", optarg);
			if (one == NULL ||
			    cdb_rollback_add_names(r->remove, one) == -1)
				errx(CDB_EXIT_FAIL, "out of memory");
			json_decref(one);
			break;
		case 'c':
			cdb_error_clear(&e);
			if (cdb_rollback_checkpoint_names(
			        optarg, r->remove, &e) == -1)
				errx(CDB_EXIT_FAIL, "%s", e.text);
			r->checkpoint = optarg;
			break;
		case 'b':
			r->o.batch = cdb_cli_number("-b", optarg, 1, 1000000);
			break;
		case 'j':
			r->o.jobs = (int)cdb_cli_number("-j", optarg, 1, 64);
			break;
		case OPT_REPORT_MD:
			r->report_md = optarg;
			break;
		case OPT_REPORT_JSON:
			r->report_json = optarg;
			break;
		case 'q':
			rb_quiet = 1;
			break;
		case 'h':
			rb_usage(CDB_EXIT_OK);
		default:
			rb_usage(CDB_EXIT_USAGE);
		}
	}
	if (argc - optind != 1)
		rb_usage(CDB_EXIT_USAGE);
	r->o.snapshot = argv[optind];
}

/*
 * Obey the validation report: with rollback_triggered false there is
 * nothing to undo, unless the operator insists.
 */
static int
obey_report(struct restore *r)
{
	json_t *v;
	cdb_error e;

	cdb_error_clear(&e);
	if ((v = cdb_rollback_read_report(r->report, &e)) == NULL)
		errx(CDB_EXIT_FAIL, "%s", e.text);
	r->validation = v;
	if (cdb_rollback_add_names(
	        r->remove, json_object_get(v, "collections")) == -1)
		errx(CDB_EXIT_FAIL, "out of memory");
	if (json_is_true(json_object_get(v, "rollback_triggered"))) {
		warnx("%s: rollback triggered: \"%s\" (overall status %s)",
		    r->report, rb_field(v, "rollback_reason"),
		    rb_field(v, "overall_status"));
		return 1;
	}
	if (r->force) {
		warnx("%s: rollback_triggered is false (overall status %s); "
		      "restoring anyway (--force)",
		    r->report, rb_field(v, "overall_status"));
		return 1;
	}
	warnx("%s: rollback_triggered is false (overall status %s): nothing "
	      "to do; the database was not touched (--force restores anyway)",
	    r->report, rb_field(v, "overall_status"));
	return 0;
}

static void
print_plan(const json_t *rep)
{
	json_t *c;
	size_t i;

	printf("dry run: nothing was changed\n");
	printf("would archive to: %s\n", rb_field(rep, "failed_archive"));
	json_array_foreach (json_object_get(rep, "collections"), i, c) {
		json_t *b = json_object_get(c, "count_before");
		json_t *x = json_object_get(c, "count_expected");
		printf("  %-7s %-32s now %s%lld, %s %lld records\n",
		    rb_field(c, "action"), rb_field(c, "name"),
		    json_is_integer(b) ? "" : "absent ",
		    (long long)json_integer_value(b),
		    json_is_integer(x) ? "snapshot" : "after",
		    (long long)json_integer_value(x));
	}
	json_array_foreach (json_object_get(rep, "left_alone"), i, c)
		printf(
		    "  keep    %s (not in the snapshot, not named as created "
		    "by the migration)\n",
		    json_string_value(c));
	json_array_foreach (json_object_get(rep, "not_found"), i, c)
		printf("  absent  %s (named as created by the migration)\n",
		    json_string_value(c));
}

/* Write both reports; a report asked for and not written is a failure. */
static int
write_reports(const struct restore *r, const json_t *rep)
{
	cdb_buf b;
	cdb_error e;
	char *text;
	int rc = 0;

	cdb_buf_init(&b);
	cdb_error_clear(&e);
	if ((text = json_dumps(rep, JSON_INDENT(2))) == NULL ||
	    cdb_buf_puts(&b, text) == -1 || cdb_buf_putc(&b, '\n') == -1 ||
	    cdb_checkpoint_write_file(
	        r->report_json, b.data, b.len, 0644, &e) == -1) {
		warnx("%s", e.kind != CDB_ERR_NONE
		                ? e.text
		                : "cannot write the JSON report");
		rc = -1;
	}
	free(text);
	cdb_buf_reset(&b);
	cdb_error_clear(&e);
	if (cdb_rollback_report_md(rep, &b) == -1 ||
	    cdb_checkpoint_write_file(r->report_md, b.data, b.len, 0644, &e) ==
	        -1) {
		warnx("%s", e.kind != CDB_ERR_NONE ? e.text
		                                   : "cannot write the report");
		rc = -1;
	}
	cdb_buf_free(&b);
	return rc;
}

/* The reports go with the archive (-a), unless named. */
static void
report_paths(struct restore *r)
{
	static char md[4096], js[4096];
	const char *dir = r->o.archive_dir;

	if (r->report_md == NULL)
		r->report_md = dir == NULL || snprintf(md, sizeof(md),
		                                  "%s/rollback_report.md",
		                                  dir) >= (int)sizeof(md)
		                   ? "rollback_report.md"
		                   : md;
	if (r->report_json == NULL)
		r->report_json = dir == NULL || snprintf(js, sizeof(js),
		                                    "%s/rollback_report.json",
		                                    dir) >= (int)sizeof(js)
		                     ? "rollback_report.json"
		                     : js;
}

/*
 * The import that was undone is over: its checkpoint, left in place,
 * would make a rerun skip everything as "imported completely".  Kept
 * beside as CKPT.rolled-back for the record.
 */
static void
retire(const char *ckpt)
{
	char to[4096];

	if (ckpt == NULL ||
	    snprintf(to, sizeof(to), "%s.rolled-back", ckpt) >= (int)sizeof(to))
		return;
	if (rename(ckpt, to) == -1) {
		if (errno != ENOENT)
			warn("%s: cannot retire the import checkpoint", ckpt);
	} else if (!rb_quiet)
		fprintf(stderr, "cdb-rollback: import checkpoint retired: %s\n",
		    to);
}

static void
done_message(const struct restore *r, const json_t *rep)
{
	const json_t *c;
	size_t i, restored = 0, removed = 0;

	json_array_foreach (json_object_get(rep, "collections"), i, c) {
		if (cdb_json_str_is(c, "action", "restore"))
			restored++;
		else
			removed++;
	}
	fprintf(stderr,
	    "cdb-rollback: restored and verified %zu collection%s, removed "
	    "%zu, in %.1f s; reports %s, %s\n",
	    restored, restored == 1 ? "" : "s", removed, cdb_elapsed(&rb_t0),
	    r->report_md, r->report_json);
}

/*
 * The runbook's backups are tarballs of Chroma's data directory: such a
 * source is read offline into a cdb snapshot in the work directory (kept
 * there, so a rerun resumes with the same snapshot).
 */
static void
from_backup(struct restore *r, char *conv, size_t size)
{
	const char *w = r->o.work_dir ? r->o.work_dir : "cdb-rollback.work";
	cdb_error e;

	if (!cdb_chromadir_is_backup(r->o.snapshot))
		return;
	if (mkdir(w, 0700) == -1 && errno != EEXIST)
		err(CDB_EXIT_FAIL, "%s", w);
	snprintf(conv, size, "%s/backup.cdb.tar", w);
	cdb_error_clear(&e);
	if (cdb_chromadir_to_snapshot(r->o.snapshot, conv, r->s.tenant,
	        r->s.database, "cdb-rollback " CDB_VERSION, &e) == -1)
		errx(CDB_EXIT_FAIL, "%s", e.text);
	r->o.snapshot = conv;
}

int
rb_restore(int argc, char *argv[])
{
	char conv[4096] = "";
	struct restore r;
	json_t *rep;
	cdb_error e;
	cdb_lock *lj = NULL, *lm = NULL;
	int rc, wrc = 0;

	memset(&r, 0, sizeof(r));
	cdb_cli_http_opts(&r.s.http);
	r.s.url = getenv("CHROMA_URL");
	if ((r.remove = json_array()) == NULL)
		errx(CDB_EXIT_FAIL, "out of memory");
	parse_restore(argc, argv, &r);
	report_paths(&r);
	/* Restoring deletes collections: never to a server by default. */
	if (r.s.url == NULL || *r.s.url == '\0')
		errx(CDB_EXIT_USAGE,
		    "restore: -u url (or CHROMA_URL) is required");
	if (r.report != NULL && !obey_report(&r)) {
		json_decref(r.remove);
		json_decref(r.validation);
		return CDB_EXIT_OK;
	}
	from_backup(&r, conv, sizeof(conv));
	r.o.url = r.s.url;
	r.o.tenant = r.s.tenant;
	r.o.database = r.s.database;
	r.o.http = &r.s.http;
	r.o.remove = r.remove;
	r.o.validation = r.validation;
	r.o.forced = r.force;
	r.o.tool = "cdb-rollback " CDB_VERSION;
	r.o.step = rb_step;
	rb_show_progress(&r.o.progress);
	cdb_error_clear(&e);
	/* Like the work directory, made when missing. */
	if (!r.o.dry_run && r.o.archive_dir != NULL &&
	    mkdir(r.o.archive_dir, 0700) == -1 && errno != EEXIST)
		err(CDB_EXIT_FAIL, "%s", r.o.archive_dir);
	/* The reports are this run's for as long as it runs. */
	if (!r.o.dry_run && ((lj = cdb_lock_new(r.report_json, &e)) == NULL ||
	                        (lm = cdb_lock_new(r.report_md, &e)) == NULL)) {
		cdb_lock_free(lj);
		errx(CDB_EXIT_FAIL, "%s", e.text);
	}
	if ((rep = json_object()) == NULL)
		errx(CDB_EXIT_FAIL, "out of memory");
	rc = cdb_rollback_restore(&r.o, rep, &e);
	if (rc == 0 && !r.o.dry_run && conv[0] != '\0')
		unlink(conv);
	if (r.o.dry_run && rc == 0) {
		print_plan(rep);
		rb_flush_stdout();
	} else if (!r.o.dry_run)
		wrc = write_reports(&r, rep);
	cdb_lock_free(lm);
	cdb_lock_free(lj);
	if (rc == -1) {
		json_decref(rep);
		json_decref(r.remove);
		json_decref(r.validation);
		errx(e.kind == CDB_ERR_USAGE ? CDB_EXIT_USAGE : CDB_EXIT_FAIL,
		    "%s", e.text);
	}
	if (!r.o.dry_run)
		retire(r.checkpoint);
	if (wrc == -1)
		errx(CDB_EXIT_FAIL, "restored and verified, but the report "
		                    "was not written");
	if (!rb_quiet && !r.o.dry_run)
		done_message(&r, rep);
	json_decref(rep);
	json_decref(r.remove);
	json_decref(r.validation);
	return CDB_EXIT_OK;
}
