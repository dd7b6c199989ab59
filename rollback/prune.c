/*
 * prune.c - cdb-rollback prune: delete the snapshots a retention rule
 * lets go (cdb_prune_plan decides; never the last verified one).
 */
#include <err.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "rollback.h"

static void
prune_line(const cdb_prune_entry *p, int dry_run, int deleted)
{
	char when[CDB_TIME_LEN] = "?";

	if (p->created != 0)
		cdb_time_utc(when, p->created, 0);
	printf("%-12s %s (%s, %s%s%s): %s\n",
	    p->keep   ? "keep"
	    : dry_run ? "would delete"
	    : deleted ? "deleted"
	              : "not deleted",
	    p->path, when, p->verified ? "verified" : "does not verify",
	    p->problem[0] ? ": " : "", p->problem, p->why);
}

int
rb_prune(int argc, char *argv[])
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
		case 'k':
			o.keep = cdb_cli_number("--keep", optarg, 1, 1000000);
			break;
		case 'd':
			o.keep_days =
			    cdb_cli_number("--keep-days", optarg, 0, 100000);
			break;
		case 'n':
			dry_run = 1;
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
	if (optind == argc || (o.keep < 0 && o.keep_days < 0))
		rb_usage(CDB_EXIT_USAGE);
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
		if (!rb_quiet || (!v[i].keep && !dry_run))
			prune_line(&v[i], dry_run, gone);
	}
	cdb_prune_free(v, n);
	rb_flush_stdout();
	return status;
}
