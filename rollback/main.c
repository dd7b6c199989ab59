/*
 * cdb-rollback - snapshots of Chroma databases before a migration, and a
 * verified restore after a failed one.  This file dispatches to one file
 * per subcommand and holds what they share (see cmd.h).
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"

int rb_quiet;
struct timespec rb_t0;

void
rb_usage(int status)
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

void
rb_step(void *arg, const char *msg)
{
	(void)arg;
	if (!rb_quiet)
		fprintf(stderr, "cdb-rollback: %s\n", msg);
}

void
rb_warn(void *arg, const char *msg)
{
	(void)arg;
	warnx("warning: %s", msg);
}

static void
on_progress(void *arg, const char *coll, long long done, long long total)
{
	double s = cdb_elapsed(&rb_t0);
	double rate = s > 0 ? (double)done / s : 0.0;

	(void)arg;
	if (total > 0)
		fprintf(stderr,
		    "\rcdb-rollback: %s: %lld/%lld (%.0f records/s)   ", coll,
		    done, total, rate);
	else
		fprintf(stderr,
		    "\rcdb-rollback: %s: %lld records (%.0f records/s)   ",
		    coll, done, rate);
}

void
rb_show_progress(cdb_progress_fn **fn)
{
	if (!rb_quiet && isatty(STDERR_FILENO))
		*fn = on_progress;
}

void
rb_flush_stdout(void)
{
	int rc;

	if ((rc = cdb_cli_flush(stdout)) != 0 && rc != EPIPE)
		errx(CDB_EXIT_FAIL, "stdout: %s", strerror(rc));
}

int
rb_server_option(struct rb_server *s, int ch)
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

const char *
rb_field(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

const char *
rb_one_file(int argc, char *argv[], const char *opts,
    const struct option *longopts, int *json)
{
	int ch;

	while ((ch = getopt_long(argc, argv, opts, longopts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			rb_quiet = 1;
			break;
		case OPT_JSON:
			*json = 1;
			break;
		case 'h':
			rb_usage(CDB_EXIT_OK);
		default:
			rb_usage(CDB_EXIT_USAGE);
		}
	}
	if (argc - optind != 1)
		rb_usage(CDB_EXIT_USAGE);
	return argv[optind];
}

int
main(int argc, char *argv[])
{
	static const struct {
		const char *name;
		int (*fn)(int, char *[]);
	} cmds[] = {
	    {"snapshot", rb_snapshot},
	    {"verify", rb_verify},
	    {"list", rb_list},
	    {"restore", rb_restore},
	    {"prune", rb_prune},
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
		case 'h':
			rb_usage(CDB_EXIT_OK);
		case OPT_VERSION:
			return cdb_cli_version(stdout, "cdb-rollback") == 0
			           ? CDB_EXIT_OK
			           : CDB_EXIT_FAIL;
		default:
			rb_usage(CDB_EXIT_USAGE);
		}
	}
	argc -= optind - 1;
	argv += optind - 1;
	/* glibc starts afresh, forgetting the "+", only from 0. */
	optind = 0;
	if (argc < 2)
		rb_usage(CDB_EXIT_USAGE);
	signal(SIGPIPE, SIG_IGN);
	clock_gettime(CLOCK_MONOTONIC, &rb_t0);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	warnx("unknown command \"%s\"", argv[1]);
	rb_usage(CDB_EXIT_USAGE);
}
