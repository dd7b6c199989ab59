/*
 * cmd.h - what the subcommands of cdb-rollback share: main.c holds the
 * usage, the quiet flag, the clock and the options every command that
 * talks to a server accepts; each other file is one subcommand.
 */
#ifndef CDB_ROLLBACK_CMD_H
#define CDB_ROLLBACK_CMD_H

#include <getopt.h>
#include <jansson.h>
#include <time.h>

#include "cli.h"
#include "export.h"
#include "http.h"

extern int rb_quiet;          /* -q: no step messages, no progress */
extern struct timespec rb_t0; /* when the command started */

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

/* Options every subcommand that talks to a server shares. */
struct rb_server {
	const char *url, *tenant, *database;
	cdb_http_opts http;
};

#define RB_SERVER_LONGOPTS                                                     \
	{"url", required_argument, NULL, 'u'},                                 \
	    {"tenant", required_argument, NULL, OPT_TENANT},                   \
	    {"database", required_argument, NULL, OPT_DB},                     \
	    {"auth-header", required_argument, NULL, OPT_AUTH},                \
	    {"insecure", no_argument, NULL, OPT_INSECURE},                     \
	    {"quiet", no_argument, NULL, 'q'},                                 \
	{                                                                      \
		"help", no_argument, NULL, 'h'                                 \
	}

/* Print the usage to stdout (status 0) or stderr and exit with status. */
_Noreturn void rb_usage(int status);

/* Take option ch (with optarg) into s if it is a server option: 1, else 0. */
int rb_server_option(struct rb_server *s, int ch);

/* The step and warning callbacks of the engines: lines on stderr. */
void rb_step(void *arg, const char *msg);
void rb_warn(void *arg, const char *msg);

/* Set *fn to the progress printer when stderr is a terminal and not -q. */
void rb_show_progress(cdb_progress_fn **fn);

/* Flush stdout; a write error other than EPIPE ends the program. */
void rb_flush_stdout(void);

/* The string o[key], or "-". */
const char *rb_field(const json_t *o, const char *key);

/* The single file operand of verify and list, after their options. */
const char *rb_one_file(int argc, char *argv[], const char *opts,
    const struct option *longopts, int *json);

int rb_snapshot(int argc, char *argv[]);
int rb_verify(int argc, char *argv[]);
int rb_list(int argc, char *argv[]);
int rb_restore(int argc, char *argv[]);
int rb_prune(int argc, char *argv[]);

#endif
