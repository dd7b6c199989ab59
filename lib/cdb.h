/*
 * cdb.h - shared definitions of libcdb: the error struct, a growable byte
 * buffer and the clock.  The library never prints and never exits; every
 * fallible function returns 0/-1 (or NULL) and fills a caller-owned
 * cdb_error.
 *
 * Out of memory is one policy everywhere: a failed allocation (malloc,
 * cdb_buf, and every jansson constructor, set or append, whose results
 * are always checked) makes the function fail with cdb_error_oom, and
 * the program ends with "out of memory" and a non-zero status.  Nothing
 * aborts and nothing is half-written: callers unwind as on any error.
 */
#ifndef CDB_H
#define CDB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum cdb_errkind {
	CDB_ERR_NONE = 0,
	CDB_ERR_INPUT,	/* bad input stream or file: the user's data */
	CDB_ERR_SERVER, /* the server answered with an error */
	CDB_ERR_NET,	/* could not talk to the server */
	CDB_ERR_SYS,	/* a system call failed (errno-style) */
	CDB_ERR_USAGE	/* bad option values */
};

/* Codes of errors a caller acts on, beside errno values (kind SYS). */
enum cdb_errcode {
	CDB_E_EMBEDDING = 1, /* an embedding the server cannot use */
	CDB_E_LOCKED	     /* another run holds the lock */
};

typedef struct cdb_error {
	int kind;	  /* enum cdb_errkind; CDB_ERR_NONE while unset */
	int code;	  /* kind SYS: the errno; else an enum cdb_errcode or 0 */
	long line;	  /* input line number, 0 when not about a line */
	int http_status;  /* HTTP status of a server error, else 0 */
	char text[1024];  /* message without program name or line prefix */
} cdb_error;

/* Reset e to "no error". */
void cdb_error_clear(cdb_error *e);

/*
 * Record an error unless one is already recorded: the first error wins,
 * so the root cause is what the user sees.  e may be NULL.  Returns -1 so
 * callers can write "return cdb_error_set(...)".
 */
int cdb_error_set(cdb_error *e, int kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like cdb_error_set, but also records the input line number. */
int cdb_error_setl(cdb_error *e, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like cdb_error_set, with a code callers test instead of the text. */
int cdb_error_setc(cdb_error *e, int kind, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * A failed system call: kind CDB_ERR_SYS, code errnum, and the text
 * "<fmt>: strerror(errnum)".  Returns -1.
 */
int cdb_error_sys(cdb_error *e, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The out-of-memory error (see above).  Returns -1. */
int cdb_error_oom(cdb_error *e);

/* Growable byte buffer; always NUL-terminated after any append. */
typedef struct cdb_buf {
	char *data;
	size_t len;
	size_t cap;
} cdb_buf;

/* Initialise an empty buffer (no allocation). */
void cdb_buf_init(cdb_buf *b);
/* Free the buffer's storage; b itself is the caller's.  Accepts NULL. */
void cdb_buf_free(cdb_buf *b);
/* Make room for n more bytes.  Returns 0, or -1 on allocation failure. */
int cdb_buf_reserve(cdb_buf *b, size_t n);
int cdb_buf_append(cdb_buf *b, const void *p, size_t n);
int cdb_buf_puts(cdb_buf *b, const char *s);
int cdb_buf_putc(cdb_buf *b, char c);
int cdb_buf_printf(cdb_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Forget the contents, keep the storage. */
void cdb_buf_reset(cdb_buf *b);

/* Seconds since t0, a CLOCK_MONOTONIC reading. */
double cdb_elapsed(const struct timespec *t0);

/*
 * The one timestamp formatter: t in UTC as "2026-12-02T01:02:03Z", or
 * with compact set as "20261202T010203Z" (for file names).  out holds at
 * least CDB_TIME_LEN bytes; returns out.
 */
#define CDB_TIME_LEN 21
char *cdb_time_utc(char *out, time_t t, int compact);

/* The n-byte little-endian unsigned number at p (n <= 8): the on-disk
 * integers of Chroma's own files (hnswlib, pickle). */
static inline uint64_t
cdb_le(const unsigned char *p, size_t n)
{
	uint64_t x = 0;

	while (n-- > 0)
		x = x << 8 | p[n];
	return x;
}

#endif
