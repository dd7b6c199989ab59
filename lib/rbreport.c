/*
 * rbreport.c - the rollback's inputs and outputs: the validation report
 * it obeys, the names of the collections a failed migration created, and
 * the rollback report it writes.  See rollback.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "json.h"
#include "rollback.h"

/* Append s to names unless seen (name -> true) has it.  0 or -1. */
static int
add_name(json_t *names, json_t *seen, const char *s)
{
	if (s == NULL || *s == '\0' || json_object_get(seen, s) != NULL)
		return 0;
	if (json_object_set_new(seen, s, json_true()) == -1 ||
	    json_array_append_new(names, json_string(s)) == -1)
		return -1;
	return 0;
}

/*
 * A report may name tens of thousands of collections: duplicates are
 * found in a hash table, not by scanning the list for each name.
 */
int
cdb_rollback_add_names(json_t *names, const json_t *v)
{
	json_t *seen = json_object(), *x, *n;
	const char *k;
	size_t i;
	int rc = seen == NULL ? -1 : 0;

	json_array_foreach (names, i, x)
		rc |= json_object_set_new(seen, json_string_value(x), json_true());
	if (json_is_object(v)) {
		json_object_foreach ((json_t *)v, k, x)
			rc |= add_name(names, seen, k);
	}
	json_array_foreach (v, i, x) {
		n = json_is_object(x) ? json_object_get(x, "name") : x;
		if (json_is_object(x) && !json_is_string(n))
			n = json_object_get(x, "collection");
		rc |= add_name(names, seen, json_string_value(n));
	}
	json_decref(seen);
	return rc;
}

static json_t *
load_object(const char *path, const char *what, cdb_error *e)
{
	json_error_t je;
	json_t *j = json_load_file(path, CDB_JSON_FLAGS, &je);

	if (j == NULL)
		cdb_error_set(e, CDB_ERR_INPUT, "%s: cannot read the %s: %s",
		    path, what, je.text);
	else if (!json_is_object(j)) {
		cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: the %s is not a JSON object", path, what);
		json_decref(j);
		j = NULL;
	}
	return j;
}

json_t *
cdb_rollback_read_report(const char *path, cdb_error *e)
{
	json_t *j, *t, *out, *names, *why, *status;

	if ((j = load_object(path, "validation report", e)) == NULL)
		return NULL;
	t = json_object_get(j, "rollback_triggered");
	why = json_object_get(j, "rollback_reason");
	status = json_object_get(j, "overall_status");
	if (!json_is_boolean(t)) {
		json_decref(j);
		cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: no boolean \"rollback_triggered\": not a validation "
		    "report",
		    path);
		return NULL;
	}
	if ((names = json_array()) == NULL ||
	    cdb_rollback_add_names(names, json_object_get(j, "collections")) ==
	        -1) {
		json_decref(names);
		json_decref(j);
		cdb_error_oom(e);
		return NULL;
	}
	out = json_pack("{s:s, s:O, s:O?, s:O?, s:o}", "path", path,
	    "rollback_triggered", t, "rollback_reason",
	    json_is_string(why) ? why : NULL, "overall_status",
	    json_is_string(status) ? status : NULL, "collections", names);
	json_decref(j);
	if (out == NULL)
		cdb_error_oom(e);
	return out;
}

int
cdb_rollback_checkpoint_names(const char *path, json_t *names, cdb_error *e)
{
	json_t *j, *c;
	int rc;

	if ((j = load_object(path, "migration checkpoint", e)) == NULL)
		return -1;
	c = json_object_get(j, "collections");
	if (!json_is_object(c) && !json_is_array(c)) {
		json_decref(j);
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: no \"collections\" in this checkpoint: not one of "
		    "cdb-import's",
		    path);
	}
	rc = cdb_rollback_add_names(names, c);
	json_decref(j);
	return rc == -1 ? cdb_error_oom(e) : 0;
}

void
cdb_rollback_archive_name(char out[64], time_t t)
{
	char when[CDB_TIME_LEN];

	snprintf(out, 64, "failed-%s.tar.gz", cdb_time_utc(when, t, 1));
}

/* ------------------------------------------------------------ Markdown -- */

static const char *
str(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : dflt;
}

/* A count, or "-" when there is none. */
static const char *
num(const json_t *o, const char *key, char buf[32])
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return "-";
	snprintf(buf, 32, "%lld", (long long)json_integer_value(v));
	return buf;
}

static const char *
yes(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_true(v) ? "yes" : json_is_false(v) ? "no" : "-";
}

static int
md_head(const json_t *r, cdb_buf *b)
{
	const json_t *s = json_object_get(r, "snapshot");
	const json_t *t = json_object_get(r, "target");
	const json_t *v = json_object_get(r, "validation");
	int rc = 0;

	rc |= cdb_buf_printf(b, "# Rollback report\n\n");
	rc |= cdb_buf_printf(b, "- **Status:** %s\n", str(r, "status", "?"));
	rc |= cdb_buf_printf(b, "- **Verified:** %s\n", yes(r, "verified"));
	if (json_object_get(r, "error"))
		rc |=
		    cdb_buf_printf(b, "- **Error:** %s\n", str(r, "error", ""));
	rc |= cdb_buf_printf(b, "- **Target:** %s (tenant %s, database %s)\n",
	    str(t, "server", "?"), str(t, "tenant", "?"),
	    str(t, "database", "?"));
	rc |= cdb_buf_printf(b, "- **Snapshot:** %s, taken %s from %s\n",
	    str(s, "path", "?"), str(s, "created", "?"), str(s, "server", "?"));
	if (json_is_object(v))
		rc |= cdb_buf_printf(b,
		    "- **Validation report:** %s: %s, rollback triggered: %s, "
		    "reason: %s\n",
		    str(v, "path", "?"), str(v, "overall_status", "?"),
		    yes(v, "rollback_triggered"),
		    str(v, "rollback_reason", "-"));
	if (json_is_true(json_object_get(r, "forced")))
		rc |= cdb_buf_puts(b, "- **Forced:** yes (--force)\n");
	rc |= cdb_buf_printf(b, "- **Archive of the failed state:** %s\n",
	    str(r, "failed_archive", "none (nothing to archive)"));
	rc |= cdb_buf_printf(b, "- **Started:** %s; **elapsed:** %.1f s%s\n\n",
	    str(r, "started", "?"),
	    json_number_value(json_object_get(r, "elapsed_seconds")),
	    json_is_true(json_object_get(r, "resumed"))
	        ? " (this run resumed an interrupted one)"
	        : "");
	return rc;
}

/* One table cell: a '|' or a line break inside would end the cell. */
static int
md_cell(cdb_buf *b, const char *s)
{
	int rc = cdb_buf_puts(b, " ");

	for (; *s != '\0'; s++) {
		if (*s == '|')
			rc |= cdb_buf_puts(b, "\\|");
		else if ((unsigned char)*s < 32)
			rc |= cdb_buf_putc(b, ' ');
		else
			rc |= cdb_buf_putc(b, *s);
	}
	return rc | cdb_buf_puts(b, " |");
}

static int
md_row(const json_t *c, cdb_buf *b)
{
	char x[32], y[32], z[32], w[32];
	const char *cells[] = {str(c, "name", "?"), str(c, "action", "?"),
	    num(c, "count_before", x), num(c, "count_expected", y),
	    num(c, "count_after", z), yes(c, "archived"), yes(c, "verified"),
	    num(c, "repaired", w), str(c, "problem", "")};
	size_t i;
	int rc = cdb_buf_puts(b, "|");

	for (i = 0; i < sizeof(cells) / sizeof(cells[0]); i++)
		rc |= md_cell(b, cells[i]);
	return rc | cdb_buf_puts(b, "\n");
}

static int
md_list(const json_t *r, const char *key, const char *title, cdb_buf *b)
{
	json_t *a = json_object_get(r, key), *v;
	size_t i;
	int rc = 0;

	if (json_array_size(a) == 0)
		return 0;
	rc |= cdb_buf_printf(b, "\n%s:", title);
	json_array_foreach (a, i, v)
		rc |= cdb_buf_printf(
		    b, "%s %s", i ? "," : "", json_string_value(v));
	return rc | cdb_buf_puts(b, "\n");
}

int
cdb_rollback_report_md(const json_t *r, cdb_buf *b)
{
	json_t *c;
	size_t i;
	int rc = md_head(r, b);

	rc |= cdb_buf_puts(b,
	    "| Collection | Action | Before | Snapshot | After | Archived | "
	    "Verified | Repaired | Problem |\n"
	    "|---|---|---:|---:|---:|---|---|---:|---|\n");
	json_array_foreach (json_object_get(r, "collections"), i, c)
		rc |= md_row(c, b);
	rc |= md_list(r, "left_alone",
	    "Left alone (not in the snapshot, not "
	    "named as created by the migration)",
	    b);
	rc |= md_list(r, "not_found",
	    "Named as created by the migration but "
	    "not on the server",
	    b);
	return rc ? -1 : 0;
}
