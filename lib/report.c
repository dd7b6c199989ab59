/* report.c - validation report writers; see report.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "report.h"

#define RULE                                                                   \
	"=========================================================="           \
	"======================\n"

static const char *
str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static double
num(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

int
cdb_report_json(const json_t *report, cdb_buf *b)
{
	char *s = json_dumps(report,
	    JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	int rc;

	if (s == NULL)
		return -1;
	rc = cdb_buf_puts(b, s) || cdb_buf_putc(b, '\n');
	free(s);
	return rc ? -1 : 0;
}

/* ---------------------------------------------------------- summary -- */

/* The run's warnings, one a line. */
static int
warnings_text(const json_t *r, cdb_buf *b)
{
	const json_t *w;
	size_t i;
	int rc = 0;

	json_array_foreach(json_object_get(r, "warnings"), i, w)
	{
		rc |= cdb_buf_printf(b, "Warning: %s\n",
		    json_string_value(w) ? json_string_value(w) : "");
	}
	return rc;
}

int
cdb_report_summary(const json_t *r, cdb_buf *b)
{
	const json_t *sum = json_object_get(r, "summary"), *t;
	const json_t *div =
	    json_object_get(r, "semantic_divergence_percentage");
	size_t i;
	int rc = 0;

	rc |= cdb_buf_puts(b, RULE "VALIDATION SUMMARY\n" RULE);
	if (strcmp(str(r, "overall_status"), "ERROR") == 0) {
		rc |= cdb_buf_printf(
		    b, "Could not validate: %s\n", str(r, "error"));
	} else {
		json_array_foreach(json_object_get(r, "tests"), i, t)
		{
			rc |= cdb_buf_printf(b, "%3lld %-28s %-8s %s\n",
			    (long long)num(t, "number"), str(t, "name"),
			    str(t, "status"), str(t, "note"));
		}
		rc |= cdb_buf_printf(b,
		    "----------------------------------------------------------"
		    "----------------------\n"
		    "Total tests: %lld\nPassed: %lld\nWarnings: %lld\n"
		    "Failed: %lld\nSkipped: %lld\nData loss: %.2f%%\n",
		    (long long)num(sum, "tests"), (long long)num(sum, "passed"),
		    (long long)num(sum, "warnings"),
		    (long long)num(sum, "failed"),
		    (long long)num(sum, "skipped"),
		    num(r, "data_loss_percentage"));
		rc |= json_is_number(div)
		          ? cdb_buf_printf(b, "Semantic divergence: %.2f%%\n",
		                json_number_value(div))
		          : cdb_buf_puts(
		                b, "Semantic divergence: not measured\n");
	}
	rc |= warnings_text(r, b);
	rc |= cdb_buf_printf(b, "Elapsed time: %.2fs\nOverall status: %s\n",
	    num(r, "elapsed_seconds"), str(r, "overall_status"));
	rc |= json_is_true(json_object_get(r, "rollback_triggered"))
	          ? cdb_buf_printf(b, "Rollback triggered: YES (%s)\n",
	                str(r, "rollback_reason"))
	          : cdb_buf_puts(b, "Rollback triggered: NO\n");
	rc |= cdb_buf_puts(b, RULE);
	return rc ? -1 : 0;
}

/* --------------------------------------------------------- markdown -- */

/* An underscore between letters cannot start emphasis (CommonMark). */
static int
inside_word(const char *start, const char *s)
{
	return s > start && isalnum((unsigned char)s[-1]) &&
	       isalnum((unsigned char)s[1]);
}

/*
 * Text for a table cell: Markdown's active characters escaped, so an id
 * or a message cannot break the table; line breaks and controls shown.
 */
static int
cell(cdb_buf *b, const char *s)
{
	const char *start = s;
	int rc = 0;

	for (; *s != '\0'; s++) {
		if (strchr("|\\`*<[", *s) != NULL ||
		    (*s == '_' && !inside_word(start, s)))
			rc |= cdb_buf_putc(b, '\\') || cdb_buf_putc(b, *s);
		else if (*s == '\n')
			rc |= cdb_buf_puts(b, "\\n");
		else if ((unsigned char)*s < 0x20)
			rc |= cdb_buf_printf(b, "\\x%02x", (unsigned char)*s);
		else
			rc |= cdb_buf_putc(b, *s);
	}
	return rc;
}

/* pre, s as a cell, post ("||": the order of the writes matters). */
static int
wrap(cdb_buf *b, const char *pre, const char *s, const char *post)
{
	return cdb_buf_puts(b, pre) || cell(b, s) || cdb_buf_puts(b, post);
}

static int
server_row(cdb_buf *b, const char *what, const json_t *srv)
{
	if (!json_is_object(srv))
		return 0;
	return cdb_buf_printf(b, "| %s | ", what) ||
	       wrap(b, "", str(srv, "url"), " (tenant ") ||
	       wrap(b, "", str(srv, "tenant"), ", database ") ||
	       wrap(b, "", str(srv, "database"), ") |\n");
}

static int
md_head(const json_t *r, cdb_buf *b)
{
	const json_t *x = json_object_get(r, "expected");
	const json_t *div =
	    json_object_get(r, "semantic_divergence_percentage");
	int failed = json_is_true(json_object_get(r, "rollback_triggered"));
	int rc = 0;

	rc |= cdb_buf_printf(b,
	    "# Migration validation report\n\n**Overall status: %s**: ",
	    str(r, "overall_status"));
	if (strcmp(str(r, "overall_status"), "ERROR") == 0)
		rc |= wrap(b, "the run could not validate: ", str(r, "error"),
		    "\n\n");
	else if (failed)
		rc |= wrap(b, "rollback recommended (", str(r, "rollback_reason"),
		    ").\n\n");
	else
		rc |= cdb_buf_puts(b, "no rollback needed.\n\n");
	rc |= warnings_text(r, b);
	if (json_array_size(json_object_get(r, "warnings")) > 0)
		rc |= cdb_buf_puts(b, "\n");
	rc |= cdb_buf_puts(b, "| | |\n|---|---|\n");
	rc |= server_row(b, "Old server", json_object_get(r, "old_server"));
	rc |= server_row(b, "New server", json_object_get(r, "new_server"));
	rc |= wrap(b, "| Expected records from | ",
	    strcmp(str(x, "from"), "file") == 0
	        ? str(x, "file")
	        : "the old server through the schema",
	    "");
	if (json_is_string(json_object_get(x, "schema_file")))
		rc |= wrap(b, "; schema ", str(x, "schema_file"), " (") ||
		      wrap(b, "", str(x, "schema_digest"), ")");
	rc |= cdb_buf_printf(b, " |\n| Finished | %s |\n| Elapsed | %.2f s |\n",
	    str(r, "finished_at"), num(r, "elapsed_seconds"));
	if (json_is_number(json_object_get(r, "data_loss_percentage")))
		rc |= cdb_buf_printf(b, "| Data loss | %.2f%% |\n",
		    num(r, "data_loss_percentage"));
	if (json_is_number(div))
		rc |= cdb_buf_printf(b, "| Semantic divergence | %.2f%% |\n",
		    json_number_value(div));
	return rc | cdb_buf_puts(b, "\n");
}

static int
md_summary(const json_t *r, cdb_buf *b)
{
	const json_t *t;
	size_t i;
	int rc = 0;

	if (json_array_size(json_object_get(r, "tests")) == 0)
		return 0;
	rc |= cdb_buf_puts(b, "## Tests\n\n| # | Test | Status | Result |\n"
	                      "|---|---|---|---|\n");
	json_array_foreach(json_object_get(r, "tests"), i, t)
	{
		rc |= cdb_buf_printf(b, "| %lld | %s | **%s** | ",
		    (long long)num(t, "number"), str(t, "name"),
		    str(t, "status"));
		rc |= wrap(b, "", str(t, "note"), " |\n");
	}
	return rc | cdb_buf_puts(b, "\n");
}

static int
md_collections(const json_t *r, cdb_buf *b)
{
	const json_t *k, *counts = json_object_get(r, "collection_counts");
	size_t i;
	int rc = 0;

	if (json_array_size(counts) == 0)
		return 0;
	rc |= cdb_buf_puts(b, "## Collections\n\n"
	                      "| Collection | Exists | Space | Expected | "
	                      "Found | Missing | Misplaced | Unexpected |\n"
	                      "|---|---|---|---:|---:|---:|---:|---:|\n");
	json_array_foreach(counts, i, k)
	{
		rc |= wrap(b, "| ", str(k, "name"), "");
		rc |= cdb_buf_printf(b,
		    " | %s | %s | %lld | %lld | %lld | %lld | %lld |\n",
		    json_is_true(json_object_get(k, "exists")) ? "yes" : "no",
		    str(k, "space"), (long long)num(k, "expected"),
		    (long long)num(k, "found"), (long long)num(k, "missing"),
		    (long long)num(k, "misplaced"),
		    (long long)num(k, "unexpected"));
	}
	return rc | cdb_buf_puts(b, "\n");
}

static int
md_value(cdb_buf *b, const json_t *v)
{
	char *s;
	int rc;

	if (json_is_integer(v))
		return cdb_buf_printf(
		    b, "%lld", (long long)json_integer_value(v));
	if (json_is_real(v))
		return cdb_buf_printf(b, "%.6g", json_real_value(v));
	if (json_is_string(v))
		return cell(b, json_string_value(v));
	if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		return -1;
	rc = cell(b, s);
	free(s);
	return rc;
}

static int
md_test(const json_t *t, cdb_buf *b)
{
	const json_t *m = json_object_get(t, "metrics"), *v, *o;
	const json_t *offs = json_object_get(t, "offenders");
	const char *k;
	size_t i;
	int rc = 0;

	rc |= cdb_buf_printf(b, "## %lld. %s: %s\n\n",
	    (long long)num(t, "number"), str(t, "name"), str(t, "status"));
	if (json_is_string(json_object_get(t, "reason")))
		rc |= wrap(b, "Rollback reason: **", str(t, "reason"), "**\n\n");
	rc |= wrap(b, "", str(t, "note"), "\n\n| Metric | Value |\n|---|---:|\n");
	json_object_foreach((json_t *)m, k, v)
	{
		rc |= wrap(b, "| ", k, " | ") || md_value(b, v) ||
		      cdb_buf_puts(b, " |\n");
	}
	if (json_array_size(offs) == 0)
		return rc | cdb_buf_puts(b, "\n");
	rc |= cdb_buf_printf(b,
	    "\nOffending records: %lld in all, the first "
	    "%zu:\n\n| Collection | Id | Problem |\n|---|---|---|\n",
	    (long long)num(t, "offending_total"), json_array_size(offs));
	json_array_foreach(offs, i, o)
	{
		rc |= wrap(b, "| ", str(o, "collection"), " | ") ||
		      wrap(b, "", str(o, "id"), " | ") ||
		      wrap(b, "", str(o, "problem"), " |\n");
	}
	return rc | cdb_buf_puts(b, "\n");
}

int
cdb_report_markdown(const json_t *r, cdb_buf *b)
{
	const json_t *t;
	size_t i;
	int rc = 0;

	rc |= md_head(r, b);
	rc |= md_summary(r, b);
	rc |= md_collections(r, b);
	json_array_foreach(json_object_get(r, "tests"), i, t)
	{
		rc |= md_test(t, b);
	}
	return rc ? -1 : 0;
}

/* ------------------------------------------------------------- save -- */

int
cdb_report_save(const char *path, const cdb_buf *b, cdb_error *e)
{
	if (strcmp(path, "-") == 0) {
		if (fwrite(b->data, 1, b->len, stdout) != b->len ||
		    fflush(stdout) == EOF)
			return cdb_error_sys(e, errno, "stdout");
		return 0;
	}
	return cdb_checkpoint_write_file(path, b->data, b->len, 0644, e);
}
