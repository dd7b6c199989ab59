/* cdb-validate - prove a migrated Chroma database before cutover. */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "drift.h"
#include "report.h"
#include "schema.h"
#include "validate.h"

/* Exit statuses (cdb-validate(1)). */
#define EXIT_PASSED  0
#define EXIT_FAILED  1
#define EXIT_CANNOT  2
#define EXIT_WARNING 3

static struct timespec t0;
static int stdout_said; /* an error writing standard output was handled */

static void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: cdb-validate [-q] [-b size] [-s schema] --new-url url\n"
	    "                    [--old-url url] [--expected file ...]\n"
	    "                    [--auth-header name] [--database name] "
	    "[--insecure]\n"
	    "                    [--max-data-loss pct] [--max-divergence pct] "
	    "[--max-missing n]\n"
	    "                    [--old-database name] [--old-tenant name] "
	    "[--queries file]\n"
	    "                    [--report-json file] [--report-md file] "
	    "[--sample n] [--seed n]\n"
	    "                    [--source-export file] [--tenant name] "
	    "[--top-k k]\n"
	    "                    [--warn-divergence pct]\n"
	    "       cdb-validate -h | --version\n");
	exit(status);
}

static void
on_progress(void *arg, const char *phase, long long done, long long total)
{
	(void)arg;
	if (total > 0)
		fprintf(stderr, "\rcdb-validate: %s: %lld/%lld   ", phase, done,
		    total);
	else
		fprintf(
		    stderr, "\rcdb-validate: %s: %lld records   ", phase, done);
}

static double
percent(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0 && v <= 100))
		errx(EXIT_CANNOT, "%s: expected a percentage from 0 to 100",
		    opt);
	return v;
}

static uint64_t
seed(const char *s)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-')
		errx(EXIT_CANNOT, "--seed: expected a non-negative integer");
	return (uint64_t)v;
}

/* Render the report with fn and save it at path. */
static int
save(const char *path, const json_t *r, int (*fn)(const json_t *, cdb_buf *))
{
	cdb_buf b;
	cdb_error e;
	int rc;

	if (path == NULL)
		return 0;
	cdb_buf_init(&b);
	cdb_error_clear(&e);
	if ((rc = fn(r, &b)) == -1)
		warnx("%s: out of memory", path);
	else if ((rc = cdb_report_save(path, &b, &e)) == -1) {
		/* A reader that went away, as with head(1), is no error. */
		stdout_said = strcmp(path, "-") == 0;
		if (stdout_said && cdb_cli_epipe(&e))
			rc = 0;
		else
			warnx("%s", e.text);
	}
	cdb_buf_free(&b);
	return rc;
}

static void
summary(const json_t *r)
{
	cdb_buf b;

	cdb_buf_init(&b);
	if (cdb_report_summary(r, &b) == 0)
		fputs(b.data, stderr);
	cdb_buf_free(&b);
}

static int
exit_status(const json_t *r)
{
	switch (cdb_validate_report_status(r)) {
	case CDB_VS_PASSED:
		return EXIT_PASSED;
	case CDB_VS_WARNING:
		return EXIT_WARNING;
	case CDB_VS_FAILED:
		return EXIT_FAILED;
	default:
		return EXIT_CANNOT;
	}
}

/* What the command line asks for. */
struct args {
	cdb_validate_opts o;
	cdb_http_opts ho;
	const char *md, *js, *otenant, *odb;
	const char **files; /* --expected, then operands */
	size_t nfiles;
	const char **sources; /* --source-export, each time given */
	cdb_drift_opts drift; /* nsource 0: no drift check */
	int quiet;
};

enum {
	OPT_NEW = 256,
	OPT_OLD,
	OPT_EXPECTED,
	OPT_QUERIES,
	OPT_SAMPLE,
	OPT_TOPK,
	OPT_SEED,
	OPT_LOSS,
	OPT_MISSING,
	OPT_WARN,
	OPT_MAXDIV,
	OPT_MD,
	OPT_JSON,
	OPT_TENANT,
	OPT_DB,
	OPT_OTENANT,
	OPT_ODB,
	OPT_AUTH,
	OPT_INSECURE,
	OPT_SOURCE,
	OPT_VERSION
};

static const struct option longopts[] = {
    {"new-url", required_argument, NULL, OPT_NEW},
    {"old-url", required_argument, NULL, OPT_OLD},
    {"schema", required_argument, NULL, 's'},
    {"expected", required_argument, NULL, OPT_EXPECTED},
    {"queries", required_argument, NULL, OPT_QUERIES},
    {"sample", required_argument, NULL, OPT_SAMPLE},
    {"top-k", required_argument, NULL, OPT_TOPK},
    {"seed", required_argument, NULL, OPT_SEED},
    {"max-data-loss", required_argument, NULL, OPT_LOSS},
    {"max-missing", required_argument, NULL, OPT_MISSING},
    {"warn-divergence", required_argument, NULL, OPT_WARN},
    {"max-divergence", required_argument, NULL, OPT_MAXDIV},
    {"report-md", required_argument, NULL, OPT_MD},
    {"report-json", required_argument, NULL, OPT_JSON},
    {"batch-size", required_argument, NULL, 'b'},
    {"tenant", required_argument, NULL, OPT_TENANT},
    {"database", required_argument, NULL, OPT_DB},
    {"old-tenant", required_argument, NULL, OPT_OTENANT},
    {"old-database", required_argument, NULL, OPT_ODB},
    {"auth-header", required_argument, NULL, OPT_AUTH},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"source-export", required_argument, NULL, OPT_SOURCE},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* One option; 0, or -1 when ch is not one of ours. */
static int
option(struct args *a, int ch)
{
	cdb_validate_opts *o = &a->o;

	switch (ch) {
	case OPT_NEW: o->new_url = optarg; break;
	case OPT_OLD: o->old_url = optarg; break;
	case 's': o->schema_file = optarg; break;
	case OPT_EXPECTED: a->files[a->nfiles++] = optarg; break;
	case OPT_QUERIES: o->queries = optarg; break;
	case OPT_SAMPLE: o->sample = cdb_cli_number("--sample", optarg, 0, 100000); break;
	case OPT_TOPK: o->top_k = (int)cdb_cli_number("--top-k", optarg, 1, 1000); break;
	case OPT_SEED: o->seed = seed(optarg); break;
	case OPT_LOSS: o->max_data_loss = percent("--max-data-loss", optarg); break;
	case OPT_MISSING: o->max_missing = cdb_cli_number("--max-missing", optarg, 0, LONG_MAX); break;
	case OPT_WARN: o->warn_divergence = percent("--warn-divergence", optarg); break;
	case OPT_MAXDIV: o->max_divergence = percent("--max-divergence", optarg); break;
	case OPT_MD: a->md = optarg; break;
	case OPT_JSON: a->js = optarg; break;
	case 'b': o->page = cdb_cli_number("-b", optarg, 1, 100000); break;
	case OPT_TENANT: o->new_tenant = optarg; break;
	case OPT_DB: o->new_database = optarg; break;
	case OPT_OTENANT: a->otenant = optarg; break;
	case OPT_ODB: a->odb = optarg; break;
	case OPT_AUTH: a->ho.auth_header = optarg; break;
	case OPT_INSECURE: a->ho.insecure = 1; break;
	case OPT_SOURCE: a->sources[a->drift.nsource++] = optarg; break;
	case 'q': a->quiet = 1; break;
	case 'h': usage(EXIT_PASSED); break;
	case OPT_VERSION:
		exit(cdb_cli_version(stdout, "cdb-validate") == 0 ? EXIT_PASSED
		                                                   : EXIT_CANNOT);
	default: return -1;
	}
	return 0;
}

/* The drift check asks the old server what changed since the export. */
static int
source_drift_args(struct args *a)
{
	if (a->o.old_url == NULL)
		return -1;
	a->drift.url = a->o.old_url;
	a->drift.tenant = a->otenant ? a->otenant
	                  : a->o.new_tenant ? a->o.new_tenant
	                                    : "default_tenant";
	a->drift.database = a->odb ? a->odb
	                    : a->o.new_database ? a->o.new_database
	                                        : "default_database";
	a->drift.http = &a->ho;
	return 0;
}

/* The source-drift finding, added to the report r (never a failure). */
static json_t *
source_drift(struct args *a, json_t *r)
{
	cdb_drift d;
	cdb_error e;

	if (r == NULL || a->drift.nsource == 0)
		return r;
	cdb_error_clear(&e);
	a->drift.page = a->o.page;
	if (cdb_drift_run(&a->drift, &d, &e) == -1)
		warnx("could not check the source for drift: %s", e.text);
	if ((e.kind == CDB_ERR_NONE ? cdb_drift_report(r, &d)
	                            : cdb_drift_report_failed(r, &e)) == -1) {
		json_decref(r);
		return NULL;
	}
	return r;
}

static void
parse_args(struct args *a, int argc, char *argv[])
{
	int ch;

	memset(a, 0, sizeof(*a));
	cdb_validate_opts_init(&a->o);
	a->o.tool = "cdb-validate " CDB_VERSION;
	cdb_cli_http_opts(&a->ho);
	if ((a->files = calloc((size_t)argc + 1, sizeof(*a->files))) == NULL ||
	    (a->sources = calloc((size_t)argc + 1, sizeof(*a->sources))) ==
	        NULL)
		err(EXIT_CANNOT, NULL);
	a->drift.source = a->sources;
	while ((ch = getopt_long(argc, argv, "b:hqs:", longopts, NULL)) != -1)
		if (option(a, ch) == -1)
			usage(EXIT_CANNOT);
	/* --expected shard-*.ndjson: the shell's other names are operands. */
	if (argc != optind && a->nfiles == 0)
		usage(EXIT_CANNOT);
	while (optind < argc)
		a->files[a->nfiles++] = argv[optind++];
	a->o.expected = a->files;
	a->o.nexpected = a->nfiles;
	if (a->o.new_url == NULL && getenv("CHROMA_URL") != NULL &&
	    *getenv("CHROMA_URL") != '\0')
		a->o.new_url = getenv("CHROMA_URL");
	if (a->o.new_url == NULL) {
		warnx("--new-url (or CHROMA_URL) is required");
		usage(EXIT_CANNOT);
	}
	if (a->drift.nsource > 0 && source_drift_args(a) == -1)
		errx(EXIT_CANNOT, "--source-export needs --old-url");
	if (a->o.old_url == NULL && a->nfiles == 0) {
		warnx("give --old-url or --expected, or both");
		usage(EXIT_CANNOT);
	}
	if (a->o.warn_divergence > a->o.max_divergence)
		errx(EXIT_CANNOT, "--warn-divergence is above "
				  "--max-divergence");
	a->o.old_tenant = a->otenant ? a->otenant : a->o.new_tenant;
	a->o.old_database = a->odb ? a->odb : a->o.new_database;
	a->o.http = &a->ho;
}

int
main(int argc, char *argv[])
{
	struct args a;
	cdb_schema *schema = NULL;
	cdb_error e;
	json_t *r;
	int status, rc;

	/* Before anything opens a descriptor: see cdb_cli_std_fds. */
	if (cdb_cli_std_fds() == -1)
		err(CDB_EXIT_FAIL, "/dev/null");
	parse_args(&a, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cdb_error_clear(&e);
	if (a.o.schema_file != NULL &&
	    (schema = cdb_schema_load(a.o.schema_file, &e)) == NULL)
		errx(EXIT_CANNOT, "%s", e.text);
	a.o.schema = schema;
	if (!a.quiet && isatty(STDERR_FILENO))
		a.o.progress = on_progress;
	r = source_drift(&a, cdb_validate_run(&a.o, &e));
	if (a.o.progress != NULL)
		fputs("\r\033[K", stderr);
	if (r == NULL) {
		warnx("could not validate: %s", e.text);
		/* Replace any earlier verdict: it no longer holds. */
		r = cdb_validate_error_report(&a.o, &e, cdb_elapsed(&t0));
	} else if (!a.quiet)
		summary(r);
	status = r ? exit_status(r) : EXIT_CANNOT;
	if (r != NULL && (save(a.js, r, cdb_report_json) == -1 ||
			     save(a.md, r, cdb_report_markdown) == -1))
		status = EXIT_CANNOT;
	json_decref(r);
	cdb_schema_free(schema);
	free(a.files);
	free(a.sources);
	if (!stdout_said && (rc = cdb_cli_flush(stdout)) != 0 &&
	    rc != EPIPE) {
		warnx("stdout: %s", strerror(rc));
		status = EXIT_CANNOT;
	}
	return status;
}
