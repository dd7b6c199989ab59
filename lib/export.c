/* export.c - server to stream; see export.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "embed.h"
#include "export.h"
#include "json.h"
#include "ndjson.h"

#define CKPT_VERSION 1
#define OUTBUF (1 << 20) /* stdio's page-sized default costs a syscall a page */

struct job {
	cdb_chroma *c;
	const cdb_export_opts *o;
	cdb_export_stats *st;
	FILE *out;
	cdb_writer *w;
	json_t *ckpt;	 /* state being saved; NULL without -c */
	cdb_page page, page2; /* written, and being fetched */
	char *outbuf;	      /* stdio buffer of an output file we opened */
	cdb_buf line;
};

static void
warnf(struct job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
warnf(struct job *j, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (j->o->warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	j->o->warn(j->o->arg, msg);
}

/* The collections to export, sorted by name; new reference. */
static json_t *
pick(struct job *j, cdb_error *e)
{
	json_t *all, *sel, *v = NULL;
	size_t i, k;
	const char *name;

	if ((all = cdb_chroma_list(j->c, e)) == NULL || j->o->names == NULL)
		return all;
	sel = json_array();
	for (k = 0; k < j->o->nnames; k++) {
		for (i = 0; i < k; i++)
			if (strcmp(j->o->names[i], j->o->names[k]) == 0) {
				cdb_error_set(e, CDB_ERR_USAGE,
				    "collection \"%s\" is named twice",
				    j->o->names[k]);
				json_decref(all);
				json_decref(sel);
				return NULL;
			}
		json_array_foreach(all, i, v) {
			name = json_string_value(json_object_get(v, "name"));
			if (name && strcmp(name, j->o->names[k]) == 0)
				break;
		}
		if (i == json_array_size(all)) {
			cdb_error_set(e, CDB_ERR_USAGE,
			    "no collection \"%s\" in %s/%s", j->o->names[k],
			    cdb_chroma_tenant(j->c), cdb_chroma_database(j->c));
			json_decref(all);
			json_decref(sel);
			return NULL;
		}
		json_array_append(sel, v);
	}
	json_decref(all);
	return sel;
}

static int
sync_out(struct job *j, cdb_error *e)
{
	if (fflush(j->out) == EOF)
		return cdb_error_set(e, CDB_ERR_SYS, "write error: %s",
		    strerror(errno));
	if (j->ckpt != NULL && fsync(fileno(j->out)) == -1)
		return cdb_error_set(e, CDB_ERR_SYS, "%s: fsync: %s",
		    j->o->output, strerror(errno));
	return 0;
}

/* Make the output durable, then record how far it goes. */
static int
commit(struct job *j, const char *coll, long long offset, cdb_error *e)
{
	if (sync_out(j, e) == -1)
		return -1;
	if (j->ckpt == NULL)
		return 0;
	json_object_set_new(j->ckpt, "bytes",
	    json_integer(cdb_writer_bytes(j->w)));
	json_object_set_new(j->ckpt, "records",
	    json_integer(cdb_writer_records(j->w)));
	json_object_set_new(j->ckpt, "collections",
	    json_integer(cdb_writer_collections(j->w)));
	json_object_set_new(j->ckpt, "collection", coll ? json_string(coll)
							 : json_null());
	json_object_set_new(j->ckpt, "offset", json_integer(offset));
	return cdb_checkpoint_save(j->o->checkpoint, j->ckpt, e);
}

static int
write_collection_line(struct job *j, json_t *coll, long count, cdb_error *e)
{
	json_t *line;
	int rc;

	line = json_pack("{s:s, s:O, s:O, s:O, s:O, s:O, s:i}", "kind",
	    "collection", "name", json_object_get(coll, "name"), "metadata",
	    json_object_get(coll, "metadata") ? json_object_get(coll, "metadata")
					      : json_null(),
	    "configuration",
	    json_object_get(coll, "configuration_json")
		? json_object_get(coll, "configuration_json")
		: json_null(),
	    "schema",
	    json_object_get(coll, "schema") ? json_object_get(coll, "schema")
					    : json_null(),
	    "dimension",
	    json_object_get(coll, "dimension") ? json_object_get(coll,
						     "dimension")
					       : json_null(),
	    "count", (json_int_t)count);
	if (line == NULL)
		return cdb_error_set(e, CDB_ERR_SYS, "cannot build collection line");
	rc = cdb_writer_json(j->w, CDB_KIND_COLLECTION, line, e);
	json_decref(line);
	return rc;
}

static json_t *
at(json_t *arr, size_t i)
{
	json_t *v = json_array_get(arr, i);

	return v ? v : json_null();
}

static int
write_page(struct job *j, cdb_page *p, const char *name, cdb_error *e)
{
	size_t i;
	json_t *id;

	for (i = 0; i < p->n; i++) {
		id = json_array_get(p->ids, i);
		if (!json_is_string(id))
			return cdb_error_set(e, CDB_ERR_SERVER,
			    "server returned a record without a string id");
		/* The server's text is copied when it already is the
		 * shortest round-trip form: same bits, no formatting work. */
		int copy = p->dim && j->o->form == CDB_EMB_FLOAT &&
		    p->row_verbatim[i];
		cdb_buf_reset(&j->line);
		if (cdb_ndjson_format_record(&j->line, name,
			json_string_value(id), json_string_length(id),
			at(p->documents, i), at(p->metadatas, i), at(p->uris, i),
			p->dim && !copy ? p->emb + i * p->dim : NULL, p->dim,
			j->o->form, copy ? p->body.data + p->row_off[i] : NULL,
			copy ? p->row_len[i] : 0) == -1)
			return cdb_error_set(e, CDB_ERR_SYS,
			    "cannot format record \"%s\"", json_string_value(id));
		if (cdb_writer_line(j->w, CDB_KIND_RECORD, j->line.data,
			j->line.len, e) == -1)
			return -1;
	}
	j->st->records += (long long)p->n;
	return 0;
}

/* A page being fetched on its own thread while the last one is written. */
struct fetch {
	struct job *j;
	const char *id;
	long offset, limit;
	int inc;
	cdb_page *page;
	cdb_error err;
	int rc;
};

static void *
fetch_run(void *arg)
{
	struct fetch *f = arg;

	cdb_error_clear(&f->err);
	f->rc = cdb_chroma_get(f->j->c, f->id, f->offset, f->limit,
	    f->j->o->where, f->j->o->where_document, f->inc, f->page, &f->err);
	return NULL;
}

/*
 * Export one collection's records from offset on.  The next page is
 * requested before this one is written, so the server works while we
 * format: export time approaches the server's own paging time.  The
 * client is used by one thread at a time: the writer never calls it.
 */
static int
export_records(struct job *j, json_t *coll, long long *offsetp, long count,
    cdb_error *e)
{
	const char *name = json_string_value(json_object_get(coll, "name"));
	long long offset = *offsetp;
	struct fetch f;
	pthread_t th;
	cdb_page *cur = &j->page, *next = &j->page2, *tmp;
	int more;

	memset(&f, 0, sizeof(f));
	f.j = j;
	f.id = json_string_value(json_object_get(coll, "id"));
	f.limit = j->o->batch > 0 ? j->o->batch : 1000;
	f.inc = CDB_INC_DOCUMENTS | CDB_INC_METADATAS | CDB_INC_URIS;
	if (j->o->form != CDB_EMB_NONE)
		f.inc |= CDB_INC_EMBEDDINGS;
	f.offset = (long)offset;
	f.page = cur;
	if (fetch_run(&f), f.rc == -1) {
		*e = f.err;
		return -1;
	}
	for (;;) {
		more = (long)cur->n == f.limit;
		if (more) {
			f.offset = (long)offset + (long)cur->n;
			f.page = next;
			if (pthread_create(&th, NULL, fetch_run, &f) != 0)
				return cdb_error_set(e, CDB_ERR_SYS,
				    "cannot start a thread");
		}
		int rc = write_page(j, cur, name, e);
		if (more)
			pthread_join(th, NULL);
		if (rc == -1)
			return -1;
		offset += (long long)cur->n;
		*offsetp = offset;
		if (j->o->progress)
			j->o->progress(j->o->arg, name, offset, count);
		if (!more)
			return 0;
		if (f.rc == -1) {
			*e = f.err;
			return -1;
		}
		if (commit(j, name, offset, e) == -1)
			return -1;
		tmp = cur;
		cur = next;
		next = tmp;
	}
}

/* Warn when records were added or removed while we read. */
static int
recount(struct job *j, json_t *coll, long before, long long exported,
    cdb_error *e)
{
	const char *name = json_string_value(json_object_get(coll, "name"));
	long after;

	after = cdb_chroma_count(j->c,
	    json_string_value(json_object_get(coll, "id")), e);
	if (after == -1)
		return -1;
	if (after != before || (j->o->where == NULL &&
				   j->o->where_document == NULL &&
				   exported != before)) {
		j->st->changed = 1;
		warnf(j,
		    "collection \"%s\" changed during the export: %ld records "
		    "at the start, %ld at the end, %lld exported; export again "
		    "when writes have stopped",
		    name, before, after, exported);
	}
	return 0;
}

static int
done_has(json_t *done, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(done, i, v) if (strcmp(json_string_value(v), name) ==
					   0) return 1;
	return 0;
}

static int
export_one(struct job *j, json_t *coll, cdb_error *e)
{
	const char *name = json_string_value(json_object_get(coll, "name"));
	const char *id = json_string_value(json_object_get(coll, "id"));
	json_t *cur = j->ckpt ? json_object_get(j->ckpt, "collection") : NULL;
	long long offset = 0;
	long count;

	if (name == NULL || id == NULL)
		return cdb_error_set(e, CDB_ERR_SERVER,
		    "collection without name or id in server answer");
	if ((count = cdb_chroma_count(j->c, id, e)) == -1)
		return -1;
	if (json_is_string(cur) && strcmp(json_string_value(cur), name) == 0)
		offset = json_integer_value(json_object_get(j->ckpt, "offset"));
	else if (write_collection_line(j, coll, count, e) == -1 ||
	    commit(j, name, 0, e) == -1)
		return -1;
	if (export_records(j, coll, &offset, count, e) == -1)
		return -1;
	if (j->ckpt != NULL)
		json_array_append_new(json_object_get(j->ckpt, "done"),
		    json_string(name));
	if (commit(j, NULL, 0, e) == -1)
		return -1;
	return recount(j, coll, count, offset, e);
}

/* Re-read the committed prefix so the trailer digest covers it. */
static int
rehash(FILE *f, long long bytes, cdb_digest *d, cdb_error *e)
{
	char buf[65536];
	long long left = bytes;
	size_t n;

	cdb_digest_init(d);
	rewind(f);
	while (left > 0) {
		n = fread(buf, 1, left < (long long)sizeof(buf) ? (size_t)left
								: sizeof(buf),
		    f);
		if (n == 0)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "output is shorter than its checkpoint says; "
			    "remove the checkpoint and export again");
		cdb_digest_update(d, buf, n);
		left -= (long long)n;
	}
	return 0;
}

/* Is the checkpoint one of ours, for this server and these options? */
static int
same_export(struct job *j)
{
	return json_integer_value(json_object_get(j->ckpt, "version")) ==
		   CKPT_VERSION &&
	    cdb_json_str_is(j->ckpt, "kind", "cdb-export") &&
	    cdb_json_str_is(j->ckpt, "source", cdb_chroma_url(j->c)) &&
	    cdb_json_str_is(j->ckpt, "tenant", cdb_chroma_tenant(j->c)) &&
	    cdb_json_str_is(j->ckpt, "database", cdb_chroma_database(j->c)) &&
	    json_integer_value(json_object_get(j->ckpt, "form")) == j->o->form &&
	    json_is_array(json_object_get(j->ckpt, "done"));
}

/* Open the output, resuming when a checkpoint says how far it got. */
static int
open_output(struct job *j, cdb_error *e)
{
	const cdb_export_opts *o = j->o;
	cdb_digest d;
	long long bytes;

	if (o->checkpoint != NULL &&
	    (j->ckpt = cdb_checkpoint_load(o->checkpoint, e)) == NULL &&
	    e->kind != CDB_ERR_NONE)
		return -1;
	if (j->ckpt == NULL) {
		if (o->output && (j->out = fopen(o->output, "w")) == NULL)
			return cdb_error_set(e, CDB_ERR_SYS, "%s: %s", o->output,
			    strerror(errno));
		if (o->output && (j->outbuf = malloc(OUTBUF)) != NULL)
			setvbuf(j->out, j->outbuf, _IOFBF, OUTBUF);
		if (o->checkpoint != NULL)
			j->ckpt = json_pack("{s:i, s:s, s:s, s:s, s:s, s:i, s:[]}",
			    "version", CKPT_VERSION, "kind", "cdb-export", "source",
			    cdb_chroma_url(j->c), "tenant", cdb_chroma_tenant(j->c),
			    "database", cdb_chroma_database(j->c), "form", o->form,
			    "done");
		return 0;
	}
	if (!same_export(j)) {
		json_decref(j->ckpt);
		j->ckpt = NULL;
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "%s: this checkpoint is not for this export (another "
		    "server, tenant, database or --embeddings); rerun the same "
		    "command, or remove it to start over", o->checkpoint);
	}
	bytes = json_integer_value(json_object_get(j->ckpt, "bytes"));
	if ((j->out = fopen(o->output, "r+")) == NULL)
		return cdb_error_set(e, CDB_ERR_SYS, "%s: %s (needed to resume)",
		    o->output, strerror(errno));
	if ((j->outbuf = malloc(OUTBUF)) != NULL)
		setvbuf(j->out, j->outbuf, _IOFBF, OUTBUF);
	if (rehash(j->out, bytes, &d, e) == -1)
		return -1;
	if (ftruncate(fileno(j->out), (off_t)bytes) == -1 ||
	    fseeko(j->out, (off_t)bytes, SEEK_SET) == -1)
		return cdb_error_set(e, CDB_ERR_SYS, "%s: %s", o->output,
		    strerror(errno));
	j->w = cdb_writer_new(j->out);
	if (j->w == NULL)
		return cdb_error_set(e, CDB_ERR_SYS, "out of memory");
	cdb_writer_resume(j->w, &d,
	    json_integer_value(json_object_get(j->ckpt, "records")),
	    json_integer_value(json_object_get(j->ckpt, "collections")), bytes);
	j->st->resumed = 1;
	return 0;
}

static int
write_header(struct job *j, cdb_error *e)
{
	json_t *h;
	int rc;

	h = cdb_ndjson_header(cdb_chroma_url(j->c), cdb_chroma_tenant(j->c),
	    cdb_chroma_database(j->c), j->o->tool ? j->o->tool : "cdb");
	json_object_set_new(h, "embeddings",
	    json_string(j->o->form == CDB_EMB_FLOAT	 ? "float"
			: j->o->form == CDB_EMB_BASE64 ? "base64"
						       : "none"));
	rc = cdb_writer_json(j->w, CDB_KIND_HEADER, h, e);
	json_decref(h);
	return rc == -1 ? -1 : commit(j, NULL, 0, e);
}

static int
run(struct job *j, cdb_error *e)
{
	json_t *colls, *coll;
	size_t i;
	int rc = 0;

	if (j->o->checkpoint != NULL && j->o->output == NULL)
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "a checkpoint needs an output file (-o): standard output "
		    "cannot be rewound");
	if ((colls = pick(j, e)) == NULL || open_output(j, e) == -1) {
		json_decref(colls);
		return -1;
	}
	if (j->w == NULL) {
		if ((j->w = cdb_writer_new(j->out)) == NULL ||
		    write_header(j, e) == -1) {
			json_decref(colls);
			return cdb_error_set(e, CDB_ERR_SYS, "cannot start output");
		}
	}
	json_array_foreach(colls, i, coll) {
		const char *name = json_string_value(json_object_get(coll, "name"));
		if (j->ckpt && name &&
		    done_has(json_object_get(j->ckpt, "done"), name))
			continue;
		if ((rc = export_one(j, coll, e)) == -1)
			break;
	}
	json_decref(colls);
	/*
	 * The last checkpoint stays before the trailer: a crash from here on
	 * resumes to just before it and writes it once.
	 */
	if (rc == -1 || cdb_writer_trailer(j->w, e) == -1 || sync_out(j, e) == -1)
		return -1;
	j->st->collections = cdb_writer_collections(j->w);
	return j->ckpt ? cdb_checkpoint_remove(j->o->checkpoint, e) : 0;
}

int
cdb_export_run(cdb_chroma *c, FILE *out, const cdb_export_opts *o,
    cdb_export_stats *st, cdb_error *e)
{
	struct job j;
	int rc;

	memset(&j, 0, sizeof(j));
	memset(st, 0, sizeof(*st));
	j.c = c;
	j.o = o;
	j.st = st;
	j.out = out;
	cdb_page_init(&j.page);
	cdb_page_init(&j.page2);
	cdb_buf_init(&j.line);
	rc = run(&j, e);
	if (o->output != NULL && j.out != NULL && j.out != out &&
	    fclose(j.out) == EOF && rc == 0)
		rc = cdb_error_set(e, CDB_ERR_SYS, "%s: %s", o->output,
		    strerror(errno));
	free(j.outbuf);
	cdb_writer_free(j.w);
	json_decref(j.ckpt);
	cdb_page_free(&j.page);
	cdb_page_free(&j.page2);
	cdb_buf_free(&j.line);
	return rc;
}
