/* error.c - the first-error-wins error struct. */
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
vset(cdb_error *e, int kind, long line, const char *fmt, va_list ap)
{
	if (e == NULL || e->kind != CDB_ERR_NONE)
		return;
	e->kind = kind;
	e->line = line;
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
}

int
cdb_error_set(cdb_error *e, int kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, kind, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int
cdb_error_setl(cdb_error *e, long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, CDB_ERR_INPUT, line, fmt, ap);
	va_end(ap);
	return -1;
}
