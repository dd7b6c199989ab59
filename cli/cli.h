/*
 * cli.h - what every cdb program's main shares and the library must not
 * do: defaults from the environment, option numbers (a bad one ends the
 * program), progress timing, the final flush of standard output and the
 * quiet end on a closed pipe.  Linked by the programs only (libcdbcli.a),
 * never part of libcdb.
 */
#ifndef CDB_CLI_H
#define CDB_CLI_H

#include <stdio.h>
#include <time.h>

#include "cdb.h"
#include "http.h"

#define CDB_VERSION "0.1.0"

/* Exit statuses shared by the suite (see each program's EXIT STATUS). */
#define CDB_EXIT_OK 0
#define CDB_EXIT_FAIL 1
#define CDB_EXIT_USAGE 2

/*
 * Make sure file descriptors 0, 1 and 2 are open, opening /dev/null on a
 * closed one.  Call first in main, before anything opens a file or a
 * socket: otherwise that file (or libcurl's socketpair) would become
 * "standard output" and take the stream.  /dev/null is opened against
 * the grain (read-only for 1 and 2, write-only for 0) so that writing a
 * stream to a closed stdout still fails with a write error instead of
 * vanishing.  0, or -1 when /dev/null cannot be opened (errno set).
 */
int cdb_cli_std_fds(void);

/* $CHROMA_URL, else http://localhost:8000.  Borrowed string. */
const char *cdb_cli_default_url(void);

/*
 * Fill o from the environment: the token from CHROMA_TOKEN (never from
 * argv, where ps(1) would show it).  Other fields are zeroed.
 */
void cdb_cli_http_opts(cdb_http_opts *o);

/*
 * The decimal integer s in [min, max] given to option opt; anything else
 * ends the program with CDB_EXIT_USAGE and "opt: expected a number from
 * min to max".
 */
long cdb_cli_number(const char *opt, const char *s, long min, long max);

/* Whether e is a write to a reader that went away (EPIPE): a quiet end. */
int cdb_cli_epipe(const cdb_error *e);

/*
 * Flush f and check it for earlier write errors.  Returns 0, or the errno
 * (EPIPE when the reader went away, which callers treat as a quiet end).
 */
int cdb_cli_flush(FILE *f);

/*
 * Give f a large buffer: streams are tens of megabytes, and stdio's
 * default of a page means a system call every 4 KiB.  Call before any
 * I/O on f, at most once per stream kind (it uses one static buffer for
 * input and one for output, as a program has one of each).
 */
void cdb_cli_bigbuf(FILE *f, int output);

/*
 * --version: write "prog version" to f and flush it.  0, or the errno as
 * cdb_cli_flush returns it.
 */
int cdb_cli_version(FILE *f, const char *prog);

/* "s" unless n is 1: "%lld record%s" for messages ("1 record"). */
const char *cdb_cli_s(long long n);

#endif
