/* cdb-import - load a cdb-ndjson(5) stream into a Chroma database. */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "import.h"

static int quiet;
static struct timespec t0;

static void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: cdb-import [-q] [-b size] [-c checkpoint] [-j jobs] "
	    "[-u url]\n"
	    "                  [--allow-partial] [--append] [--auth-header "
	    "name]\n"
	    "                  [--create-database] [--database name] "
	    "[--dry-run] [--insecure]\n"
	    "                  [--limits chroma-cloud|file] [--max-request-bytes n]\n"
	    "                  [--mode add|upsert] [--tenant name] [file]\n"
	    "       cdb-import -h | --version\n");
	exit(status);
}

static void
on_broken(void *arg, long line, const char *msg)
{
	warnx("%s:%ld: %s", (const char *)arg, line, msg);
}

static void
on_progress(void *arg, const char *coll, long long done, long long total)
{
	double s = cdb_elapsed(&t0);

	(void)arg;
	(void)total;
	fprintf(stderr, "\rcdb-import: %s: %lld records (%.0f records/s)   ",
	    coll, done, s > 0 ? (double)done / s : 0.0);
}

static void
report(const cdb_import_opts *o, const cdb_import_stats *st)
{
	long long n = o->dry_run ? st->read : st->sent;

	if (st->already_done) {
		fprintf(stderr, "cdb-import: nothing to do: checkpoint %s says "
				"this stream was imported completely\n",
		    o->checkpoint);
		return;
	}
	fprintf(stderr,
	    "cdb-import: %s%lld record%s in %lld collection%s (%lld new), "
	    "%lld batch%s of up to %ld, embeddings as %s%s, %.1f s\n",
	    o->dry_run ? "dry run: checked " : "", n, cdb_cli_s(n),
	    st->collections, cdb_cli_s(st->collections), st->created,
	    st->batches, st->batches == 1 ? "" : "es", st->batch,
	    st->base64 ? "base64" : "floats",
	    st->resumed ? " (resumed)" : "", cdb_elapsed(&t0));
	if (st->skipped > 0)
		fprintf(stderr, "cdb-import: %lld record%s already "
				"committed by an earlier run\n",
		    st->skipped, st->skipped == 1 ? " was" : "s were");
}

int
main(int argc, char *argv[])
{
	enum { OPT_TENANT = 256, OPT_DB, OPT_MODE, OPT_DRY, OPT_APPEND,
		OPT_PARTIAL, OPT_INSECURE, OPT_AUTH, OPT_MAXB, OPT_LIMITS,
		OPT_CREATEDB, OPT_VERSION };
	static const struct option longopts[] = {
		{"url", required_argument, NULL, 'u'},
		{"tenant", required_argument, NULL, OPT_TENANT},
		{"database", required_argument, NULL, OPT_DB},
		{"batch-size", required_argument, NULL, 'b'},
		{"jobs", required_argument, NULL, 'j'},
		{"mode", required_argument, NULL, OPT_MODE},
		{"checkpoint", required_argument, NULL, 'c'},
		{"dry-run", no_argument, NULL, OPT_DRY},
		{"append", no_argument, NULL, OPT_APPEND},
		{"allow-partial", no_argument, NULL, OPT_PARTIAL},
		{"create-database", no_argument, NULL, OPT_CREATEDB},
		{"max-request-bytes", required_argument, NULL, OPT_MAXB},
		{"quiet", no_argument, NULL, 'q'},
		{"insecure", no_argument, NULL, OPT_INSECURE},
		{"auth-header", required_argument, NULL, OPT_AUTH},
		{"limits", required_argument, NULL, OPT_LIMITS},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	cdb_import_opts o;
	cdb_import_stats st;
	cdb_quota lim;
	cdb_http_opts ho;
	cdb_error e;
	FILE *in = stdin;
	int ch, rc;

	/* Before anything opens a descriptor: see cdb_cli_std_fds. */
	if (cdb_cli_std_fds() == -1)
		err(CDB_EXIT_FAIL, "/dev/null");
	memset(&o, 0, sizeof(o));
	o.url = cdb_cli_default_url();
	o.tenant = "default_tenant";
	o.database = "default_database";
	o.input = "stdin";
	cdb_cli_http_opts(&ho);
	while ((ch = getopt_long(argc, argv, "b:c:hj:qu:", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'u': o.url = optarg; break;
		case OPT_TENANT: o.tenant = optarg; break;
		case OPT_DB: o.database = optarg; break;
		case 'b': o.batch = cdb_cli_number("-b", optarg, 1, 1000000); break;
		case 'j': o.jobs = (int)cdb_cli_number("-j", optarg, 1, 64); break;
		case OPT_MODE:
			if (strcmp(optarg, "add") != 0 &&
			    strcmp(optarg, "upsert") != 0)
				errx(CDB_EXIT_USAGE,
				    "--mode: expected add or upsert");
			o.upsert = strcmp(optarg, "upsert") == 0;
			break;
		case 'c': o.checkpoint = optarg; break;
		case OPT_DRY: o.dry_run = 1; break;
		case OPT_APPEND: o.append = 1; break;
		case OPT_PARTIAL: o.allow_partial = 1; break;
		case OPT_CREATEDB: o.create_database = 1; break;
		case OPT_MAXB:
			o.max_bytes = (size_t)cdb_cli_number("--max-request-bytes",
			    optarg, 1024, 1L << 30);
			break;
		case 'q': quiet = 1; break;
		case OPT_INSECURE: ho.insecure = 1; break;
		case OPT_AUTH: ho.auth_header = optarg; break;
		case OPT_LIMITS:
			cdb_error_clear(&e);
			if (cdb_quota_load(optarg, &lim, &e) == -1)
				errx(CDB_EXIT_USAGE, "--limits: %s", e.text);
			o.limits = &lim;
			o.broken = on_broken;
			break;
		case 'h': usage(CDB_EXIT_OK); break;
		case OPT_VERSION:
			return cdb_cli_version(stdout, "cdb-import") == 0
			           ? CDB_EXIT_OK
			           : CDB_EXIT_FAIL;
		default: usage(CDB_EXIT_USAGE);
		}
	}
	if (argc - optind > 1)
		usage(CDB_EXIT_USAGE);
	if (argc - optind == 1 && strcmp(argv[optind], "-") != 0) {
		if ((in = fopen(argv[optind], "r")) == NULL)
			err(CDB_EXIT_FAIL, "%s", argv[optind]);
		o.input = argv[optind];
	}
	o.http = &ho;
	signal(SIGPIPE, SIG_IGN);
	cdb_cli_bigbuf(in, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	o.arg = (void *)o.input;
	if (!quiet && isatty(STDERR_FILENO))
		o.progress = on_progress;
	cdb_error_clear(&e);
	rc = cdb_import_run(in, &o, &st, &e);
	if (o.progress != NULL)
		fputc('\n', stderr);
	if (rc == -1) {
		if (e.line > 0)
			errx(CDB_EXIT_FAIL, "%s:%ld: %s", o.input, e.line, e.text);
		errx(e.kind == CDB_ERR_USAGE ? CDB_EXIT_USAGE : CDB_EXIT_FAIL,
		    "%s", e.text);
	}
	if (st.partial)
		warnx("warning: %s has no trailer; imported what it holds "
		      "(--allow-partial)", o.input);
	if (!quiet)
		report(&o, &st);
	return CDB_EXIT_OK;
}
