/*
 * cdb-rollback - snapshots of Chroma databases before a migration, and a
 * verified restore after a failed one.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chroma.h"
#include "chromadir.h"
#include "checkpoint.h"
#include "cli.h"
#include "json.h"
#include "lock.h"
#include "ndjson.h"
#include "prune.h"
#include "rollback.h"
#include "snapshot.h"

static int quiet;
static struct timespec t0;

static void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: cdb-rollback snapshot [-fq] [-b size] [-u url] "
	    "[-z compression]\n"
	    "                             [--auth-header name] "
	    "[--database name]\n"
	    "                             [--embeddings base64|float] "
	    "[--insecure] [--level n]\n"
	    "                             [--shard K/N] [--tenant name] -o "
	    "file [collection ...]\n"
	    "       cdb-rollback verify [-q] file\n"
	    "       cdb-rollback prune [-nq] [--keep n] [--keep-days days] "
	    "file ...\n"
	    "       cdb-rollback list [--json] file\n"
	    "       cdb-rollback restore [-fnq] [-a dir] [-b size] [-C name] "
	    "[-c checkpoint]\n"
	    "                            [-j jobs] [-r report] [-u url] "
	    "[-w dir] [--auth-header name]\n"
	    "                            [--database name] [--insecure] "
	    "[--report-json file]\n"
	    "                            [--report-md file] [--tenant name] "
	    "snapshot\n"
	    "       cdb-rollback -h | --version\n");
	exit(status);
}

static void
on_step(void *arg, const char *msg)
{
	(void)arg;
	if (!quiet)
		fprintf(stderr, "cdb-rollback: %s\n", msg);
}

static void
on_warn(void *arg, const char *msg)
{
	(void)arg;
	warnx("warning: %s", msg);
}

static void
on_progress(void *arg, const char *coll, long long done, long long total)
{
	double s = cdb_elapsed(&t0);

	(void)arg;
	if (total > 0)
		fprintf(stderr,
		    "\rcdb-rollback: %s: %lld/%lld (%.0f records/s)   ", coll,
		    done, total, s > 0 ? (double)done / s : 0.0);
	else
		fprintf(stderr,
		    "\rcdb-rollback: %s: %lld records (%.0f records/s)"
		    "   ",
		    coll, done, s > 0 ? (double)done / s : 0.0);
}

static void
flush_stdout(void)
{
	int rc;

	if ((rc = cdb_cli_flush(stdout)) != 0 && rc != EPIPE)
		errx(CDB_EXIT_FAIL, "stdout: %s", strerror(rc));
}

/* Options every subcommand that talks to a server shares. */
struct server {
	const char *url, *tenant, *database;
	cdb_http_opts http;
};

enum {
	OPT_VERSION = 255,
	OPT_TENANT = 256,
	OPT_DB,
	OPT_AUTH,
	OPT_INSECURE,
	OPT_EMB,
	OPT_LEVEL,
	OPT_SHARD,
	OPT_JSON,
	OPT_REPORT_MD,
	OPT_REPORT_JSON
};

static int
server_option(struct server *s, int ch)
{
	switch (ch) {
	case 'u':
		s->url = optarg;
		break;
	case OPT_TENANT:
		s->tenant = optarg;
		break;
	case OPT_DB:
		s->database = optarg;
		break;
	case OPT_AUTH:
		s->http.auth_header = optarg;
		break;
	case OPT_INSECURE:
		s->http.insecure = 1;
		break;
	default:
		return 0;
	}
	return 1;
}

#define SERVER_LONGOPTS                                                        \
	{"url", required_argument, NULL, 'u'},                                 \
	    {"tenant", required_argument, NULL, OPT_TENANT},                   \
	    {"database", required_argument, NULL, OPT_DB},                     \
	    {"auth-header", required_argument, NULL, OPT_AUTH},                \
	    {"insecure", no_argument, NULL, OPT_INSECURE},                     \
	    {"quiet", no_argument, NULL, 'q'},                                 \
	{                                                                      \
		"help", no_argument, NULL, 'h'                                 \
	}

static void
show_progress(cdb_progress_fn **fn)
{
	if (!quiet && isatty(STDERR_FILENO))
		*fn = on_progress;
}

/* ------------------------------------------------------------ snapshot -- */

static int
parse_form(const char *s)
{
	if (strcmp(s, "base64") == 0)
		return CDB_EMB_BASE64;
	if (strcmp(s, "float") == 0)
		return CDB_EMB_FLOAT;
	errx(CDB_EXIT_USAGE, "--embeddings: expected base64 or float");
}

static void
parse_snapshot(int argc, char *argv[], struct server *s, cdb_snapshot_opts *o)
{
	static const struct option longopts[] = {
	    SERVER_LONGOPTS,
	    {"output", required_argument, NULL, 'o'},
	    {"compression", required_argument, NULL, 'z'},
	    {"level", required_argument, NULL, OPT_LEVEL},
	    {"force", no_argument, NULL, 'f'},
	    {"embeddings", required_argument, NULL, OPT_EMB},
	    {"batch-size", required_argument, NULL, 'b'},
	    {"shard", required_argument, NULL, OPT_SHARD},
	    {NULL, 0, NULL, 0},
	};
	cdb_error e;
	int ch;

	o->comp = -1;
	while ((ch = getopt_long(argc, argv, "b:fho:qu:z:", longopts, NULL)) !=
	       -1) {
		if (server_option(s, ch))
			continue;
		switch (ch) {
		case 'o':
			o->output = optarg;
			break;
		case 'z':
			if ((o->comp = cdb_snapshot_comp_parse(optarg)) == -1)
				errx(CDB_EXIT_USAGE, "-z: expected gzip, zstd, "
				                     "xz or none");
			break;
		case OPT_LEVEL:
			o->level = (int)cdb_cli_number("--level", optarg, 1, 22);
			break;
		case 'f':
			o->force = 1;
			break;
		case OPT_EMB:
			o->form = parse_form(optarg);
			break;
		case 'b':
			o->batch = cdb_cli_number("-b", optarg, 1, 100000);
			break;
		case OPT_SHARD:
			cdb_error_clear(&e);
			if (cdb_shard_parse(optarg, &o->shard, &e) == -1)
				errx(CDB_EXIT_USAGE, "%s", e.text);
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(CDB_EXIT_OK);
			break;
		default:
			usage(CDB_EXIT_USAGE);
		}
	}
	if (o->output == NULL)
		errx(CDB_EXIT_USAGE, "snapshot: -o file is required");
	if (o->comp == -1 &&
	    (o->comp = cdb_snapshot_comp_guess(o->output)) == -1)
		o->comp = CDB_SNAP_ZSTD;
	if (optind < argc) {
		o->names = argv + optind;
		o->nnames = (size_t)(argc - optind);
	}
}

static int
cmd_snapshot(int argc, char *argv[])
{
	struct server s = {
	    cdb_cli_default_url(), "default_tenant", "default_database", {0}};
	cdb_snapshot_opts o;
	cdb_snapshot_stats st;
	cdb_chroma *c;
	cdb_error e;
	int rc;

	memset(&o, 0, sizeof(o));
	o.form = CDB_EMB_BASE64;
	o.tool = "cdb-rollback " CDB_VERSION;
	cdb_cli_http_opts(&s.http);
	parse_snapshot(argc, argv, &s, &o);
	o.warn = on_warn;
	show_progress(&o.progress);
	cdb_error_clear(&e);
	if ((c = cdb_chroma_new(s.url, s.tenant, s.database, &s.http, &e)) ==
	    NULL)
		errx(CDB_EXIT_FAIL, "%s", e.text);
	rc = cdb_snapshot_take(c, &o, &st, &e);
	cdb_chroma_free(c);
	if (o.progress != NULL)
		fputc('\n', stderr);
	if (rc == -1)
		errx(e.kind == CDB_ERR_USAGE ? CDB_EXIT_USAGE : CDB_EXIT_FAIL,
		    "%s", e.text);
	if (!quiet)
		fprintf(stderr,
		    "cdb-rollback: %s: %lld record%s in %lld collection%s, "
		    "%lld bytes (%s)%s, %.1f s\n",
		    o.output, st.records, cdb_cli_s(st.records),
		    st.collections, cdb_cli_s(st.collections), st.bytes,
		    cdb_snapshot_comp_name(o.comp),
		    st.resumed ? ", resumed" : "", cdb_elapsed(&t0));
	return CDB_EXIT_OK;
}

/* ------------------------------------------------------- verify, list -- */

static const char *
space_of(const json_t *conf)
{
	json_t *v = json_object_get(json_object_get(conf, "hnsw"), "space");

	if (!json_is_string(v))
		v = json_object_get(json_object_get(conf, "spann"), "space");
	return json_is_string(v) ? json_string_value(v) : "-";
}

static const char *
field(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

static void
print_collections(const json_t *m)
{
	json_t *c, *dim;
	char d[24];
	size_t i;

	printf("%-32s %10s %6s %-7s %12s  %s\n", "COLLECTION", "RECORDS", "DIM",
	    "SPACE", "BYTES", "DIGEST");
	json_array_foreach (json_object_get(m, "collections"), i, c) {
		dim = json_object_get(c, "dimension");
		snprintf(
		    d, sizeof(d), "%lld", (long long)json_integer_value(dim));
		printf("%-32s %10lld %6s %-7s %12lld  %s\n", field(c, "name"),
		    (long long)json_integer_value(json_object_get(c, "count")),
		    json_is_integer(dim) ? d : "-",
		    space_of(json_object_get(c, "configuration")),
		    (long long)json_integer_value(json_object_get(c, "bytes")),
		    field(c, "digest"));
	}
}

static void
print_manifest(const char *path, const json_t *m)
{
	printf("snapshot     %s\n", path);
	printf(
	    "created      %s by %s\n", field(m, "created"), field(m, "tool"));
	printf("server       %s (tenant %s, database %s)\n", field(m, "server"),
	    field(m, "tenant"), field(m, "database"));
	printf("contents     %zu collections (%s), %lld records, embeddings "
	       "%s, %s\n",
	    json_array_size(json_object_get(m, "collections")),
	    field(m, "scope"),
	    (long long)json_integer_value(json_object_get(m, "records")),
	    field(m, "embeddings"), field(m, "compression"));
	putchar('\n');
	print_collections(m);
}

static const char *
one_file(int argc, char *argv[], const char *opts,
    const struct option *longopts, int *json)
{
	int ch;

	while ((ch = getopt_long(argc, argv, opts, longopts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			quiet = 1;
			break;
		case OPT_JSON:
			*json = 1;
			break;
		case 'h':
			usage(CDB_EXIT_OK);
			break;
		default:
			usage(CDB_EXIT_USAGE);
		}
	}
	if (argc - optind != 1)
		usage(CDB_EXIT_USAGE);
	return argv[optind];
}

static int
cmd_verify(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path;
	cdb_error e;
	json_t *m;
	int json = 0;

	path = one_file(argc, argv, "hq", longopts, &json);
	cdb_error_clear(&e);
	if ((m = cdb_snapshot_verify(path, &e)) == NULL)
		errx(CDB_EXIT_FAIL, "%s", e.text);
	if (!quiet) {
		printf("%s: ok: %zu collections, %lld records, every member "
		       "matches the manifest\n",
		    path, json_array_size(json_object_get(m, "collections")),
		    (long long)json_integer_value(
		        json_object_get(m, "records")));
		flush_stdout();
	}
	json_decref(m);
	return CDB_EXIT_OK;
}

static int
cmd_list(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path;
	cdb_error e;
	json_t *m;
	int json = 0;

	path = one_file(argc, argv, "h", longopts, &json);
	cdb_error_clear(&e);
	if ((m = cdb_snapshot_read(path, NULL, NULL, NULL, &e)) == NULL)
		errx(CDB_EXIT_FAIL, "%s", e.text);
	if (json) {
		json_dumpf(m, stdout, JSON_INDENT(2));
		putchar('\n');
	} else
		print_manifest(path, m);
	json_decref(m);
	flush_stdout();
	return CDB_EXIT_OK;
}

/* ------------------------------------------------------------- restore -- */

struct restore {
	struct server s;
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
	    SERVER_LONGOPTS,
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
		if (server_option(&r->s, ch))
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
			cdb_rollback_add_names(r->remove, one);
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
			quiet = 1;
			break;
		case 'h':
			usage(CDB_EXIT_OK);
			break;
		default:
			usage(CDB_EXIT_USAGE);
		}
	}
	if (argc - optind != 1)
		usage(CDB_EXIT_USAGE);
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
	cdb_rollback_add_names(r->remove, json_object_get(v, "collections"));
	if (json_is_true(json_object_get(v, "rollback_triggered"))) {
		warnx("%s: rollback triggered: \"%s\" (overall status %s)",
		    r->report, field(v, "rollback_reason"),
		    field(v, "overall_status"));
		return 1;
	}
	if (r->force) {
		warnx("%s: rollback_triggered is false (overall status %s); "
		      "restoring anyway (--force)",
		    r->report, field(v, "overall_status"));
		return 1;
	}
	warnx("%s: rollback_triggered is false (overall status %s): nothing "
	      "to do; the database was not touched (--force restores anyway)",
	    r->report, field(v, "overall_status"));
	return 0;
}

static void
print_plan(const json_t *rep)
{
	json_t *c;
	size_t i;

	printf("dry run: nothing was changed\n");
	printf("would archive to: %s\n", field(rep, "failed_archive"));
	json_array_foreach (json_object_get(rep, "collections"), i, c) {
		json_t *b = json_object_get(c, "count_before");
		json_t *x = json_object_get(c, "count_expected");
		printf("  %-7s %-32s now %s%lld, %s %lld records\n",
		    field(c, "action"), field(c, "name"),
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
	    cdb_checkpoint_write_file(r->report_json, b.data, b.len, 0644, &e) == -1) {
		warnx(
		    "%s", e.text[0] ? e.text : "cannot write the JSON report");
		rc = -1;
	}
	free(text);
	cdb_buf_reset(&b);
	cdb_error_clear(&e);
	if (cdb_rollback_report_md(rep, &b) == -1 ||
	    cdb_checkpoint_write_file(r->report_md, b.data, b.len, 0644, &e) == -1) {
		warnx("%s", e.text[0] ? e.text : "cannot write the report");
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
		r->report_md = dir == NULL ||
		                       snprintf(md, sizeof(md),
		                           "%s/rollback_report.md",
		                           dir) >= (int)sizeof(md)
		                   ? "rollback_report.md"
		                   : md;
	if (r->report_json == NULL)
		r->report_json = dir == NULL ||
		                         snprintf(js, sizeof(js),
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
	} else if (!quiet)
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
	    restored, restored == 1 ? "" : "s", removed, cdb_elapsed(&t0),
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

static int
cmd_restore(int argc, char *argv[])
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
	r.remove = json_array();
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
	r.o.step = on_step;
	show_progress(&r.o.progress);
	cdb_error_clear(&e);
	/* The reports are this run's for as long as it runs. */
	if (!r.o.dry_run && ((lj = cdb_lock_new(r.report_json, &e)) == NULL ||
	                        (lm = cdb_lock_new(r.report_md, &e)) == NULL)) {
		cdb_lock_free(lj);
		errx(CDB_EXIT_FAIL, "%s", e.text);
	}
	rep = json_object();
	rc = cdb_rollback_restore(&r.o, rep, &e);
	if (rc == 0 && !r.o.dry_run && conv[0] != '\0')
		unlink(conv);
	if (r.o.dry_run && rc == 0) {
		print_plan(rep);
		flush_stdout();
	} else if (!r.o.dry_run)
		wrc = write_reports(&r, rep);
	cdb_lock_free(lm);
	cdb_lock_free(lj);
	if (rc == -1)
		errx(e.kind == CDB_ERR_USAGE ? CDB_EXIT_USAGE : CDB_EXIT_FAIL,
		    "%s", e.text);
	if (!r.o.dry_run)
		retire(r.checkpoint);
	if (wrc == -1)
		errx(CDB_EXIT_FAIL, "restored and verified, but the report "
		                    "was not written");
	if (!quiet && !r.o.dry_run)
		done_message(&r, rep);
	json_decref(rep);
	json_decref(r.remove);
	json_decref(r.validation);
	return CDB_EXIT_OK;
}

/* ---------------------------------------------------------------- prune -- */

static void
prune_line(const cdb_prune_entry *p, int dry_run, int deleted)
{
	char when[32] = "?";
	struct tm tm;

	if (p->created != 0 && gmtime_r(&p->created, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%-12s %s (%s, %s%s%s): %s\n",
	    p->keep ? "keep" : dry_run ? "would delete" : deleted ? "deleted" :
	                                                             "not deleted",
	    p->path, when, p->verified ? "verified" : "does not verify",
	    p->problem[0] ? ": " : "", p->problem, p->why);
}

static int
cmd_prune(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"keep", required_argument, NULL, 'k'},
	    {"keep-days", required_argument, NULL, 'd'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	cdb_prune_opts o = {-1, -1, 0};
	cdb_prune_entry *v;
	cdb_error e;
	size_t i, n;
	int ch, dry_run = 0, status = CDB_EXIT_OK, gone;

	while ((ch = getopt_long(argc, argv, "hnq", longopts, NULL)) != -1) {
		switch (ch) {
		case 'k': o.keep = cdb_cli_number("--keep", optarg, 1, 1000000); break;
		case 'd':
			o.keep_days = cdb_cli_number("--keep-days", optarg, 0, 100000);
			break;
		case 'n': dry_run = 1; break;
		case 'q': quiet = 1; break;
		case 'h': usage(CDB_EXIT_OK); break;
		default: usage(CDB_EXIT_USAGE);
		}
	}
	if (optind == argc || (o.keep < 0 && o.keep_days < 0))
		usage(CDB_EXIT_USAGE);
	n = (size_t)(argc - optind);
	o.now = time(NULL);
	cdb_error_clear(&e);
	if ((v = cdb_prune_plan(argv + optind, n, &o, &e)) == NULL)
		errx(e.kind == CDB_ERR_USAGE ? CDB_EXIT_USAGE : CDB_EXIT_FAIL,
		    "%s", e.text);
	for (i = 0; i < n; i++) {
		gone = 0;
		if (!v[i].keep && !dry_run) {
			if (unlink(v[i].path) == 0)
				gone = 1;
			else {
				warn("%s", v[i].path);
				status = CDB_EXIT_FAIL;
			}
		}
		if (!quiet || (!v[i].keep && !dry_run))
			prune_line(&v[i], dry_run, gone);
	}
	cdb_prune_free(v, n);
	flush_stdout();
	return status;
}

int
main(int argc, char *argv[])
{
	static const struct {
		const char *name;
		int (*fn)(int, char *[]);
	} cmds[] = {
	    {"snapshot", cmd_snapshot},
	    {"verify", cmd_verify},
	    {"list", cmd_list},
	    {"restore", cmd_restore},
	    {"prune", cmd_prune},
	};
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	size_t i;
	int ch;

	/* Before anything opens a descriptor: see cdb_cli_std_fds. */
	if (cdb_cli_std_fds() == -1)
		err(CDB_EXIT_FAIL, "/dev/null");
	/* "+": the options before the command; it parses its own. */
	while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h': usage(CDB_EXIT_OK); break;
		case OPT_VERSION:
			return cdb_cli_version(stdout, "cdb-rollback") == 0
			           ? CDB_EXIT_OK
			           : CDB_EXIT_FAIL;
		default: usage(CDB_EXIT_USAGE);
		}
	}
	argc -= optind - 1;
	argv += optind - 1;
	/* glibc starts afresh, forgetting the "+", only from 0. */
	optind = 0;
	if (argc < 2)
		usage(CDB_EXIT_USAGE);
	signal(SIGPIPE, SIG_IGN);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	warnx("unknown command \"%s\"", argv[1]);
	usage(CDB_EXIT_USAGE);
}
