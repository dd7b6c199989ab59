/* error.c - the first-error-wins error struct, and the clock. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cdb.h"

void
cdb_error_clear(cdb_error *e)
{
	if (e != NULL)
		memset(e, 0, sizeof(*e));
}

static void
vset(cdb_error *e, int kind, int code, long line, const char *fmt,
    va_list ap)
{
	if (e == NULL || e->kind != CDB_ERR_NONE)
		return;
	e->kind = kind;
	e->code = code;
	e->line = line;
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
}

int
cdb_error_set(cdb_error *e, int kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, kind, 0, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int
cdb_error_setl(cdb_error *e, long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, CDB_ERR_INPUT, 0, line, fmt, ap);
	va_end(ap);
	return -1;
}

int
cdb_error_setc(cdb_error *e, int kind, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, kind, code, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int
cdb_error_sys(cdb_error *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (e == NULL || e->kind != CDB_ERR_NONE)
		return -1;
	va_start(ap, fmt);
	vset(e, CDB_ERR_SYS, errnum, 0, fmt, ap);
	va_end(ap);
	n = strlen(e->text);
	snprintf(e->text + n, sizeof(e->text) - n, ": %s", strerror(errnum));
	return -1;
}

int
cdb_error_oom(cdb_error *e)
{
	return cdb_error_setc(e, CDB_ERR_SYS, ENOMEM, "out of memory");
}

double
cdb_elapsed(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

char *
cdb_time_utc(char *out, time_t t, int compact)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	strftime(out, CDB_TIME_LEN,
	    compact ? "%Y%m%dT%H%M%SZ" : "%Y-%m-%dT%H:%M:%SZ", &tm);
	return out;
}
