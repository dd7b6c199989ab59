/* cdb-transform - reshape a cdb-ndjson(5) stream with a cdb-schema(5). */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "schema.h"
#include "transform.h"

/* Exit status of a complete run that rejected some records. */
#define EXIT_REJECTS 4

static const char *input = "stdin";

static void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: cdb-transform [-nqv] -s schema [--check] "
	    "[--max-rejects n] [--no-id-check]\n"
	    "                     [--rejects file] [file]\n"
	    "       cdb-transform -h | --version\n");
	exit(status);
}

/* Rejects shown on stderr when there is no rejects file; more are only
 * counted, so a bad run does not bury the summary. */
#define MAX_SHOWN 10

static void
on_reject(void *arg, long line, const char *msg)
{
	long *shown = arg;

	if (++*shown <= MAX_SHOWN)
		warnx("%s:%ld: %s (rejected)", input, line, msg);
	else if (*shown == MAX_SHOWN + 1)
		warnx("more rejects are not shown: use --rejects file");
}

static void
summary(const cdb_transform_stats *st, int full, int dry_run, double secs)
{
	cdb_buf b;

	cdb_buf_init(&b);
	if (full && cdb_transform_stats_format(st, &b) == 0) {
		fprintf(stderr, "cdb-transform: %ssummary, %.1f s\n%s",
		    dry_run ? "dry run: nothing written; " : "", secs, b.data);
	} else
		fprintf(stderr,
		    "cdb-transform: %lld records in, %lld out, %lld "
		    "rejected, %.1f s\n",
		    cdb_transform_stats_in(st), cdb_transform_stats_out(st),
		    cdb_transform_stats_rejected(st), secs);
	cdb_buf_free(&b);
}

static cdb_schema *
load_schema(const char *path, int check_only)
{
	cdb_schema *s;
	cdb_error e;

	if (path == NULL) {
		warnx("-s: a schema file is required");
		usage(CDB_EXIT_USAGE);
	}
	cdb_error_clear(&e);
	if ((s = cdb_schema_load(path, &e)) == NULL)
		errx(CDB_EXIT_FAIL, "%s", e.text);
	if (check_only) {
		printf("%s: ok: %zu fields, %zu target collections, %s\n", path,
		    cdb_schema_nfields(s), cdb_schema_ntargets(s),
		    cdb_schema_digest(s));
		cdb_schema_free(s);
		exit(cdb_cli_flush(stdout) == 0 ? CDB_EXIT_OK : CDB_EXIT_FAIL);
	}
	return s;
}

/* Close the rejects file and flush stdout; the exit status of the run. */
static int
finish(int rc, const cdb_error *e, FILE *rejects, const char *rpath)
{
	int frc;

	if (rejects != NULL && (fflush(rejects) == EOF || ferror(rejects))) {
		warn("%s", rpath);
		rc = -1;
	}
	if (rejects != NULL && fclose(rejects) == EOF && rc != -1) {
		warn("%s", rpath);
		return CDB_EXIT_FAIL;
	}
	if (rc == -1 && e->kind != CDB_ERR_NONE) {
		if (cdb_cli_epipe(e))
			return CDB_EXIT_OK;
		if (e->line > 0)
			warnx("%s:%ld: %s", input, e->line, e->text);
		else
			warnx("%s", e->text);
	}
	if (rc == -1)
		return CDB_EXIT_FAIL;
	if ((frc = cdb_cli_flush(stdout)) != 0) {
		if (frc == EPIPE)
			return CDB_EXIT_OK;
		warnx("stdout: %s", strerror(frc));
		return CDB_EXIT_FAIL;
	}
	return CDB_EXIT_OK;
}

/* Everything after the schema: open the files, run, report. */
static int
run(cdb_transform_opts *o, const char *file, const char *rpath, int quiet,
    int verbose)
{
	cdb_transform_stats *st;
	struct timespec t0;
	cdb_error e;
	FILE *in = stdin;
	int rc;

	if (file != NULL && (in = fopen(file, "r")) == NULL) {
		warn("%s", file);
		return CDB_EXIT_FAIL;
	}
	if (rpath != NULL && (o->rejects = fopen(rpath, "w")) == NULL) {
		warn("%s", rpath);
		if (in != stdin)
			fclose(in);
		return CDB_EXIT_FAIL;
	}
	if ((st = cdb_transform_stats_new(o->schema)) == NULL)
		errx(CDB_EXIT_FAIL, "out of memory");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cdb_error_clear(&e);
	rc = cdb_transform_run(in, stdout, o, st, &e);
	if (!quiet && (rc == 0 || o->dry_run))
		summary(st, verbose || o->dry_run, o->dry_run,
		    cdb_elapsed(&t0));
	rc = finish(rc, &e, o->rejects, rpath);
	if (rc == CDB_EXIT_OK && cdb_transform_stats_rejected(st) > 0)
		rc = EXIT_REJECTS;
	cdb_transform_stats_free(st);
	if (in != stdin)
		fclose(in);
	return rc;
}

int
main(int argc, char *argv[])
{
	enum { OPT_CHECK = 256, OPT_REJECTS, OPT_MAX, OPT_NOID, OPT_VERSION };
	static const struct option longopts[] = {
	    {"schema", required_argument, NULL, 's'},
	    {"check", no_argument, NULL, OPT_CHECK},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"rejects", required_argument, NULL, OPT_REJECTS},
	    {"max-rejects", required_argument, NULL, OPT_MAX},
	    {"no-id-check", no_argument, NULL, OPT_NOID},
	    {"quiet", no_argument, NULL, 'q'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	const char *schema_path = NULL, *rpath = NULL, *file = NULL;
	int ch, rc, quiet = 0, verbose = 0, check = 0;
	long max = -1, shown = 0;
	cdb_transform_opts o;
	cdb_schema *s;

	/* Before anything opens a descriptor: see cdb_cli_std_fds. */
	if (cdb_cli_std_fds() == -1)
		err(CDB_EXIT_FAIL, "/dev/null");
	memset(&o, 0, sizeof(o));
	while ((ch = getopt_long(argc, argv, "hnqs:v", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			schema_path = optarg;
			break;
		case OPT_CHECK:
			check = 1;
			break;
		case 'n':
			o.dry_run = 1;
			break;
		case OPT_REJECTS:
			rpath = optarg;
			break;
		case OPT_MAX:
			max = cdb_cli_number("--max-rejects", optarg, 0,
			    1L << 62);
			break;
		case OPT_NOID:
			o.no_id_check = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case OPT_VERSION:
			return cdb_cli_version(stdout, "cdb-transform") == 0
			           ? CDB_EXIT_OK
			           : CDB_EXIT_FAIL;
		case 'h':
			usage(CDB_EXIT_OK);
			break;
		default:
			usage(CDB_EXIT_USAGE);
		}
	}
	if (argc - optind > 1)
		usage(CDB_EXIT_USAGE);
	if (argc - optind == 1 && strcmp(argv[optind], "-") != 0)
		file = input = argv[optind];
	s = load_schema(schema_path, check);
	/* Without a rejects file a real run stops at the first reject. */
	o.max_rejects = max >= 0 ? max : (rpath || o.dry_run) ? 0 : 1;
	o.schema = s;
	o.input = input;
	o.schema_file = schema_path;
	o.tool = "cdb-transform " CDB_VERSION;
	o.on_reject = quiet ? NULL : on_reject;
	o.arg = &shown;
	signal(SIGPIPE, SIG_IGN);
	rc = run(&o, file, rpath, quiet, verbose);
	cdb_schema_free(s);
	return rc;
}
