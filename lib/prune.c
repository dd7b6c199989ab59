/* prune.c - the retention decision over a set of snapshots. */
#define _XOPEN_SOURCE 700 /* strptime(3) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "rollback.h"
#include "snapshot.h"

/* "2026-12-01T22:07:45Z" (as cdb_time_utc writes it) as a time, or 0. */
static time_t
parse_time(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL ||
	    (end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) == NULL ||
	    *end != '\0')
		return 0;
	return timegm(&tm);
}

/* Fill p from the snapshot at its path: source, creation, verification. */
static int
examine(cdb_prune_entry *p)
{
	json_t *m;
	cdb_error e;
	const char *srv, *t, *d;
	size_t len;

	cdb_error_clear(&e);
	if ((m = cdb_snapshot_verify(p->path, &e)) != NULL)
		p->verified = 1;
	else {
		memcpy(p->problem, e.text, sizeof(p->problem));
		cdb_error_clear(&e);
		if ((m = cdb_snapshot_read(p->path, NULL, NULL, NULL, &e)) ==
		    NULL)
			return 0;
	}
	srv = json_string_value(json_object_get(m, "server"));
	t = json_string_value(json_object_get(m, "tenant"));
	d = json_string_value(json_object_get(m, "database"));
	p->created =
	    parse_time(json_string_value(json_object_get(m, "created")));
	if (srv != NULL && t != NULL && d != NULL && p->created != 0) {
		len = strlen(srv) + strlen(t) + strlen(d) + 3;
		if ((p->source = malloc(len)) == NULL) {
			json_decref(m);
			return -1;
		}
		snprintf(p->source, len, "%s %s/%s", srv, t, d);
	}
	json_decref(m);
	return 0;
}

/* How many snapshots of p's database are newer than p. */
static long
newer(const cdb_prune_entry *v, size_t n, const cdb_prune_entry *p)
{
	size_t i;
	long k = 0;

	for (i = 0; i < n; i++)
		if (v[i].source != NULL &&
		    strcmp(v[i].source, p->source) == 0 &&
		    (v[i].created > p->created ||
		        (v[i].created == p->created &&
		            strcmp(v[i].path, p->path) > 0)))
			k++;
	return k;
}

static void
decide(cdb_prune_entry *v, size_t n, size_t i, const cdb_prune_opts *o)
{
	cdb_prune_entry *p = &v[i];

	if (p->source == NULL) {
		p->keep = 1;
		p->why = "its manifest cannot be read; left alone";
	} else if (o->keep >= 0 && newer(v, n, p) < o->keep) {
		p->keep = 1;
		p->why = "among the newest of its database";
	} else if (o->keep_days >= 0 &&
	           o->now - p->created < (time_t)o->keep_days * 86400) {
		p->keep = 1;
		p->why = "younger than the age limit";
	} else
		p->why = o->keep >= 0 ? "older than the newest kept"
		                      : "older than the age limit";
}

/* A database whose kept snapshots do not verify keeps its newest one
 * that does. */
static void
keep_one_verified(cdb_prune_entry *v, size_t n)
{
	size_t i, j, best;

	for (i = 0; i < n; i++) {
		if (v[i].source == NULL || !v[i].verified)
			continue;
		best = i;
		for (j = 0; j < n; j++) {
			if (v[j].source == NULL ||
			    strcmp(v[j].source, v[i].source) != 0)
				continue;
			if (v[j].keep && v[j].verified)
				break;
			if (v[j].verified &&
			    newer(v, n, &v[j]) < newer(v, n, &v[best]))
				best = j;
		}
		if (j == n) {
			v[best].keep = 1;
			v[best].why =
			    "the newest verified snapshot of its "
			    "database, and no other kept one verifies";
		}
	}
}

cdb_prune_entry *
cdb_prune_plan(
    char *const *paths, size_t n, const cdb_prune_opts *o, cdb_error *e)
{
	cdb_prune_entry *v;
	size_t i;

	if (o->keep < 0 && o->keep_days < 0) {
		cdb_error_set(e, CDB_ERR_USAGE,
		    "no retention rule: give the "
		    "number or the age to keep");
		return NULL;
	}
	if ((v = calloc(n ? n : 1, sizeof(*v))) == NULL)
		goto nomem;
	for (i = 0; i < n; i++)
		if ((v[i].path = strdup(paths[i])) == NULL ||
		    examine(&v[i]) == -1)
			goto nomem;
	for (i = 0; i < n; i++)
		decide(v, n, i, o);
	keep_one_verified(v, n);
	return v;
nomem:
	cdb_prune_free(v, n);
	cdb_error_oom(e);
	return NULL;
}

void
cdb_prune_free(cdb_prune_entry *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].source);
	}
	free(v);
}
