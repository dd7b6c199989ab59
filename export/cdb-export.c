/* cdb-export - write Chroma collections as a cdb-ndjson(5) stream. */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chroma.h"
#include "chromadir.h"
#include "cli.h"
#include "export.h"
#include "json.h"
#include "ndjson.h"

static int quiet;
static struct timespec t0;

static void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: cdb-export [-q] [-b size] [-c checkpoint] [-j jobs] "
	    "[-o file] [-u url]\n"
	    "                  [--auth-header name] [--database name] "
	    "[--embeddings float|base64|none]\n"
	    "                  [--insecure] [--shard K/N] [--tenant name]\n"
	    "                  [--where json] [--where-document json]\n"
	    "                  [collection ...]\n"
	    "       cdb-export [-q] [-o file] [--copy] [--database name] "
	    "[--embeddings float|base64|none]\n"
	    "                  [--tenant name] --from-dir dir | --from-archive "
	    "backup [collection ...]\n"
	    "       cdb-export -h | --version\n");
	exit(status);
}

static void
on_warn(void *arg, const char *msg)
{
	(void)arg;
	if (isatty(STDERR_FILENO) && !quiet)
		fputc('\n', stderr);
	warnx("warning: %s", msg);
}

static void
on_progress(void *arg, const char *coll, long long done, long long total)
{
	double s = cdb_elapsed(&t0);
	long long *all = arg;

	*all += 0;
	fprintf(stderr, "\rcdb-export: %s: %lld/%lld (%.0f%%) %.0f records/s   ",
	    coll, done, total, total > 0 ? 100.0 * (double)done / (double)total
					 : 100.0,
	    s > 0 ? (double)done / s : 0.0);
}

static json_t *
json_arg(const char *opt, const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);

	if (!json_is_object(j))
		errx(CDB_EXIT_USAGE, "%s: not a JSON object: %s", opt,
		    j ? "wrong type" : je.text);
	return j;
}

static int
parse_form(const char *s)
{
	if (strcmp(s, "float") == 0)
		return CDB_EMB_FLOAT;
	if (strcmp(s, "base64") == 0)
		return CDB_EMB_BASE64;
	if (strcmp(s, "none") == 0)
		return CDB_EMB_NONE;
	errx(CDB_EXIT_USAGE, "--embeddings: expected float, base64 or none");
}

/* --from-dir, --from-archive: the stream read from Chroma's own files. */
static int
offline(const char *dir, const char *archive, int copy, const char *tenant,
    const char *db, const cdb_export_opts *o, cdb_export_stats *st,
    cdb_error *e)
{
	cdb_chromadir_opts d;
	FILE *out = stdout;
	int rc;

	if (dir != NULL && archive != NULL)
		errx(CDB_EXIT_USAGE, "--from-dir and --from-archive exclude "
				     "each other");
	if (o->where != NULL || o->where_document != NULL ||
	    o->checkpoint != NULL || o->shard.n > 0)
		errx(CDB_EXIT_USAGE, "--where, --where-document, --shard and -c "
				     "need a server");
	memset(&d, 0, sizeof(d));
	d.names = o->names;
	d.nnames = o->nnames;
	d.tenant = tenant;
	d.database = db;
	d.form = o->form;
	d.copy = copy;
	d.jobs = o->jobs > 0 ? o->jobs : CDB_EXPORT_JOBS;
	d.tool = o->tool;
	d.progress = o->progress;
	d.arg = o->arg;
	if (o->output != NULL && (out = fopen(o->output, "w")) == NULL)
		err(CDB_EXIT_FAIL, "%s", o->output);
	rc = dir != NULL ? cdb_chromadir_export(dir, out, &d, st, e)
			 : cdb_chromadir_export_archive(archive, out, &d, st, e);
	if (out != stdout && fclose(out) == EOF && rc == 0)
		rc = cdb_error_set(e, CDB_ERR_SYS, "%s: %s", o->output,
		    strerror(errno));
	return rc;
}

int
main(int argc, char *argv[])
{
	enum { OPT_TENANT = 256, OPT_DB, OPT_WHERE, OPT_WHERE_DOC, OPT_EMB,
		OPT_INSECURE, OPT_AUTH, OPT_SHARD, OPT_FROM_DIR, OPT_FROM_ARCHIVE,
		OPT_COPY, OPT_VERSION };
	static const struct option longopts[] = {
		{"url", required_argument, NULL, 'u'},
		{"tenant", required_argument, NULL, OPT_TENANT},
		{"database", required_argument, NULL, OPT_DB},
		{"batch-size", required_argument, NULL, 'b'},
		{"jobs", required_argument, NULL, 'j'},
		{"where", required_argument, NULL, OPT_WHERE},
		{"where-document", required_argument, NULL, OPT_WHERE_DOC},
		{"embeddings", required_argument, NULL, OPT_EMB},
		{"output", required_argument, NULL, 'o'},
		{"checkpoint", required_argument, NULL, 'c'},
		{"quiet", no_argument, NULL, 'q'},
		{"insecure", no_argument, NULL, OPT_INSECURE},
		{"auth-header", required_argument, NULL, OPT_AUTH},
		{"shard", required_argument, NULL, OPT_SHARD},
		{"from-dir", required_argument, NULL, OPT_FROM_DIR},
		{"from-archive", required_argument, NULL, OPT_FROM_ARCHIVE},
		{"copy", no_argument, NULL, OPT_COPY},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	const char *url = cdb_cli_default_url(), *tenant = "default_tenant";
	const char *db = "default_database";
	const char *from_dir = NULL, *from_archive = NULL;
	int copy = 0;
	cdb_export_opts o;
	cdb_export_stats st;
	cdb_http_opts ho;
	cdb_chroma *c;
	cdb_error e;
	long all = 0;
	int ch, rc;

	/* Before anything opens a descriptor: see cdb_cli_std_fds. */
	if (cdb_cli_std_fds() == -1)
		err(CDB_EXIT_FAIL, "/dev/null");
	memset(&o, 0, sizeof(o));
	o.form = CDB_EMB_FLOAT;
	o.tool = "cdb-export " CDB_VERSION;
	cdb_cli_http_opts(&ho);
	while ((ch = getopt_long(argc, argv, "b:c:hj:o:qu:", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'u': url = optarg; break;
		case OPT_TENANT: tenant = optarg; break;
		case OPT_DB: db = optarg; break;
		case 'b':
			o.batch = cdb_cli_number("-b", optarg, 1, 100000);
			break;
		case 'j':
			o.jobs = (int)cdb_cli_number("-j", optarg, 1, 16);
			break;
		case OPT_WHERE: o.where = json_arg("--where", optarg); break;
		case OPT_WHERE_DOC:
			o.where_document = json_arg("--where-document", optarg);
			break;
		case OPT_EMB: o.form = parse_form(optarg); break;
		case 'o': o.output = optarg; break;
		case 'c': o.checkpoint = optarg; break;
		case 'q': quiet = 1; break;
		case OPT_INSECURE: ho.insecure = 1; break;
		case OPT_AUTH: ho.auth_header = optarg; break;
		case OPT_SHARD:
			cdb_error_clear(&e);
			if (cdb_shard_parse(optarg, &o.shard, &e) == -1)
				errx(CDB_EXIT_USAGE, "%s", e.text);
			break;
		case OPT_FROM_DIR: from_dir = optarg; break;
		case OPT_FROM_ARCHIVE: from_archive = optarg; break;
		case OPT_COPY: copy = 1; break;
		case 'h': usage(CDB_EXIT_OK); break;
		case OPT_VERSION:
			return cdb_cli_version(stdout, "cdb-export") == 0
			           ? CDB_EXIT_OK
			           : CDB_EXIT_FAIL;
		default: usage(CDB_EXIT_USAGE);
		}
	}
	if (argc > optind) {
		o.names = argv + optind;
		o.nnames = (size_t)(argc - optind);
	}
	if (o.checkpoint != NULL && o.output == NULL)
		errx(CDB_EXIT_USAGE, "-c needs -o: standard output cannot be "
				     "rewound to resume");
	signal(SIGPIPE, SIG_IGN);
	cdb_cli_bigbuf(stdout, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	o.warn = on_warn;
	if (!quiet && isatty(STDERR_FILENO)) {
		o.progress = on_progress;
		o.arg = &all;
	}
	cdb_error_clear(&e);
	if (from_dir != NULL || from_archive != NULL) {
		rc = offline(from_dir, from_archive, copy, tenant, db, &o, &st,
		    &e);
	} else {
		if ((c = cdb_chroma_new(url, tenant, db, &ho, &e)) == NULL)
			errx(CDB_EXIT_FAIL, "%s", e.text);
		rc = cdb_export_run(c, stdout, &o, &st, &e);
		cdb_chroma_free(c);
	}
	json_decref((json_t *)o.where);
	json_decref((json_t *)o.where_document);
	if (o.progress != NULL)
		fputc('\n', stderr);
	if (rc == -1) {
		if (cdb_cli_epipe(&e))
			return CDB_EXIT_OK;
		errx(e.kind == CDB_ERR_USAGE ? CDB_EXIT_USAGE : CDB_EXIT_FAIL,
		    "%s", e.text);
	}
	if ((rc = cdb_cli_flush(stdout)) != 0) {
		if (rc == EPIPE)
			return CDB_EXIT_OK;
		errx(CDB_EXIT_FAIL, "stdout: %s", strerror(rc));
	}
	if (!quiet)
		fprintf(stderr,
		    "cdb-export: %lld record%s in %lld collection%s%s, "
		    "%.1f s\n",
		    st.records, cdb_cli_s(st.records), st.collections,
		    cdb_cli_s(st.collections),
		    st.resumed ? " (resumed)" : "", cdb_elapsed(&t0));
	return CDB_EXIT_OK;
}
