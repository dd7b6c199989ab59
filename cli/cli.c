/* cli.c - shared main helpers; see cli.h. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int
cdb_cli_std_fds(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		/* The lowest free descriptor is fd itself. */
		if (open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY) != fd)
			return -1;
	}
	return 0;
}

const char *
cdb_cli_default_url(void)
{
	const char *u = getenv("CHROMA_URL");

	return u != NULL && *u != '\0' ? u : "http://localhost:8000";
}

void
cdb_cli_http_opts(cdb_http_opts *o)
{
	const char *t = getenv("CHROMA_TOKEN");

	memset(o, 0, sizeof(*o));
	o->retries = -1;
	o->token = t != NULL && *t != '\0' ? t : NULL;
}

long
cdb_cli_number(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		errx(CDB_EXIT_USAGE, "%s: expected a number from %ld to %ld",
		    opt, min, max);
	return v;
}

int
cdb_cli_epipe(const cdb_error *e)
{
	return e->kind == CDB_ERR_SYS && e->code == EPIPE;
}

int
cdb_cli_flush(FILE *f)
{
	errno = 0;
	if (fflush(f) == EOF || ferror(f))
		return errno ? errno : EIO;
	return 0;
}

int
cdb_cli_version(FILE *f, const char *prog)
{
	fprintf(f, "%s %s\n", prog, CDB_VERSION);
	return cdb_cli_flush(f);
}

void
cdb_cli_bigbuf(FILE *f, int output)
{
	/* glibc ignores the size unless it is given the buffer too. */
	static char in[1 << 20], out[1 << 20];

	/* Callers pass an open stream (cppcheck does not know err(3) ends
	 * the program when fopen fails). */
	// cppcheck-suppress ctunullpointer
	setvbuf(f, output ? out : in, _IOFBF, sizeof(out));
}

const char *
cdb_cli_s(long long n)
{
	return n == 1 ? "" : "s";
}
