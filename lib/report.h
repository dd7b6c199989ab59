/*
 * report.h - writing a validation report (cdb-report(5)) for programs
 * (JSON) and for people (Markdown, and the summary on standard error).
 * Every writer works from the report object alone, so a report read back
 * from its file renders the same.
 */
#ifndef CDB_REPORT_H
#define CDB_REPORT_H

#include <jansson.h>

#include "cdb.h"

/* Append the report as indented JSON with a final newline.  0 or -1. */
int cdb_report_json(const json_t *report, cdb_buf *b);

/* Append the Markdown report.  0 or -1 (out of memory). */
int cdb_report_markdown(const json_t *report, cdb_buf *b);

/*
 * Append the summary for standard error: one line per test with its
 * status and note, then the totals, the elapsed time, the overall status
 * and whether a rollback is recommended.  0 or -1.
 */
int cdb_report_summary(const json_t *report, cdb_buf *b);

/*
 * Write b to path atomically: a temporary file in the same directory,
 * flushed to disk, then renamed over path, so a reader never sees half
 * a report and a failed run never leaves an old verdict in place
 * unnoticed.  path "-" writes to standard output instead.  0, or -1 with
 * e (CDB_ERR_SYS).
 */
int cdb_report_save(const char *path, const cdb_buf *b, cdb_error *e);

#endif
