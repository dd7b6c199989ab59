/* buf.c - growable byte buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdb.h"

void
cdb_buf_init(cdb_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
cdb_buf_free(cdb_buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	cdb_buf_init(b);
}

int
cdb_buf_reserve(cdb_buf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (n > (size_t)-1 - b->len - 1)
		return -1;
	want = b->len + n + 1;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap = cap > (size_t)-1 / 2 ? want : cap * 2;
	if ((p = realloc(b->data, cap)) == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
cdb_buf_append(cdb_buf *b, const void *p, size_t n)
{
	if (cdb_buf_reserve(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
cdb_buf_puts(cdb_buf *b, const char *s)
{
	return cdb_buf_append(b, s, strlen(s));
}

int
cdb_buf_putc(cdb_buf *b, char c)
{
	return cdb_buf_append(b, &c, 1);
}

int
cdb_buf_printf(cdb_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || cdb_buf_reserve(b, (size_t)n) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
cdb_buf_reset(cdb_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}
