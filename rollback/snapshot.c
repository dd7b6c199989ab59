/*
 * snapshot.c - cdb-rollback snapshot: write a verified snapshot
 * (cdb-snapshot(5)) of a database, or of some of its collections.
 */
#include <err.h>
#include <stdio.h>
#include <string.h>

#include "chroma.h"
#include "cmd.h"
#include "ndjson.h"
#include "snapshot.h"

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
option(int ch, cdb_snapshot_opts *o)
{
	cdb_error e;

	switch (ch) {
	case 'o':
		o->output = optarg;
		break;
	case 'z':
		if ((o->comp = cdb_snapshot_comp_parse(optarg)) == -1)
			errx(CDB_EXIT_USAGE,
			    "-z: expected gzip, zstd, xz or none");
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
		rb_quiet = 1;
		break;
	case 'h':
		rb_usage(CDB_EXIT_OK);
	default:
		rb_usage(CDB_EXIT_USAGE);
	}
}

static void
parse(int argc, char *argv[], struct rb_server *s, cdb_snapshot_opts *o)
{
	static const struct option longopts[] = {
	    RB_SERVER_LONGOPTS,
	    {"output", required_argument, NULL, 'o'},
	    {"compression", required_argument, NULL, 'z'},
	    {"level", required_argument, NULL, OPT_LEVEL},
	    {"force", no_argument, NULL, 'f'},
	    {"embeddings", required_argument, NULL, OPT_EMB},
	    {"batch-size", required_argument, NULL, 'b'},
	    {"shard", required_argument, NULL, OPT_SHARD},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	o->comp = -1;
	while (
	    (ch = getopt_long(argc, argv, "b:fho:qu:z:", longopts, NULL)) != -1)
		if (!rb_server_option(s, ch))
			option(ch, o);
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

int
rb_snapshot(int argc, char *argv[])
{
	struct rb_server s = {
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
	parse(argc, argv, &s, &o);
	o.warn = rb_warn;
	rb_show_progress(&o.progress);
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
	if (!rb_quiet)
		fprintf(stderr,
		    "cdb-rollback: %s: %lld record%s in %lld collection%s, "
		    "%lld bytes (%s)%s, %.1f s\n",
		    o.output, st.records, cdb_cli_s(st.records), st.collections,
		    cdb_cli_s(st.collections), st.bytes,
		    cdb_snapshot_comp_name(o.comp),
		    st.resumed ? ", resumed" : "", cdb_elapsed(&rb_t0));
	return CDB_EXIT_OK;
}
