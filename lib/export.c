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
	char *outbuf;	      /* stdio buffer of an output file we opened */
	long long page_start;  /* offset of the page being written */
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

/* Row i's text, as found by the page's parse (want_text). */
static void
row_text(const cdb_page *p, size_t i, cdb_record_text *t)
{
	const char *s = p->body.data;
	size_t n;

	t->id = s + CDB_TEXT_OFF(p, i, CDB_TEXT_ID);
	t->id_len = CDB_TEXT_LEN(p, i, CDB_TEXT_ID);
	n = CDB_TEXT_LEN(p, i, CDB_TEXT_DOCUMENT);
	t->document = n ? s + CDB_TEXT_OFF(p, i, CDB_TEXT_DOCUMENT) : NULL;
	t->document_len = n;
	n = CDB_TEXT_LEN(p, i, CDB_TEXT_METADATA);
	t->metadata = n ? s + CDB_TEXT_OFF(p, i, CDB_TEXT_METADATA) : NULL;
	t->metadata_len = n;
	n = CDB_TEXT_LEN(p, i, CDB_TEXT_URI);
	t->uri = n ? s + CDB_TEXT_OFF(p, i, CDB_TEXT_URI) : NULL;
	t->uri_len = n;
}

static int
format_row(struct job *j, cdb_page *p, size_t i, const char *name)
{
	/* The server's text is copied when it already is the shortest
	 * round-trip form: same bits, no formatting work. */
	int copy = p->dim && j->o->form == CDB_EMB_FLOAT && p->row_verbatim[i];
	const float *emb = p->dim && !copy ? p->emb + i * p->dim : NULL;
	const char *et = copy ? p->body.data + p->row_off[i] : NULL;
	size_t el = copy ? p->row_len[i] : 0;
	cdb_record_text t;
	json_t *id;

	if (p->text_ok) {
		/* The rest as the server wrote it too: no jansson values. */
		row_text(p, i, &t);
		return cdb_ndjson_format_record_text(
		    &j->line, name, &t, emb, p->dim, j->o->form, et, el);
	}
	id = json_array_get(p->ids, i);
	if (!json_is_string(id))
		return -2;
	return cdb_ndjson_format_record(&j->line, name, json_string_value(id),
	    json_string_length(id), at(p->documents, i), at(p->metadatas, i),
	    at(p->uris, i), emb, p->dim, j->o->form, et, el);
}

static int
write_page(struct job *j, cdb_page *p, const char *name, cdb_error *e)
{
	size_t i;
	int rc;

	for (i = 0; i < p->n; i++) {
		cdb_buf_reset(&j->line);
		if ((rc = format_row(j, p, i, name)) == -2)
			return cdb_error_set(e, CDB_ERR_SERVER,
			    "server returned a record without a string id");
		if (rc == -1)
			return cdb_error_set(e, CDB_ERR_SYS,
			    "cannot format record %zu of the page", i);
		if (cdb_writer_line(j->w, CDB_KIND_RECORD, j->line.data,
			j->line.len, e) == -1)
			return -1;
	}
	j->st->records += (long long)p->n;
	return 0;
}

/*
 * The reading side runs on its own thread: it walks the collections and
 * their pages while the writer formats, writes and checkpoints what came
 * before, so export time approaches the server's own paging time.  Only
 * the reader uses the client.  The counts around each collection come
 * from a third thread on a second connection, so that their round trips
 * do not stall the paging.
 */
enum { IT_BEGIN = 1, IT_PAGE, IT_END, IT_DONE, IT_ERROR };

#define NPAGES 3 /* one written, one queued, one being read */
#define QLEN 16

struct item {
	int kind;
	json_t *coll;	  /* BEGIN, END (borrowed from the list) */
	size_t idx;	  /* BEGIN, END: coll's place in the list */
	long long offset; /* BEGIN: first record; PAGE, END: next record */
	int page;	  /* PAGE: index into pages */
};

struct pipe {
	struct job *j;
	json_t *colls;	 /* to export, in order */
	long long start; /* offset in the first one (resume) */
	long limit;
	int inc;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct item q[QLEN];
	int head, len;
	cdb_page pages[NPAGES];
	int busy[NPAGES];
	int stop;
	cdb_error err;
	/* The counter's: counts before and after each collection (-1: not
	 * yet), how many collections the reader is done with. */
	cdb_chroma *cc;
	long *before, *after;
	size_t ended;
	int count_failed;
	cdb_error cerr;
};

/* Queue an item; waits for room.  Returns -1 when told to stop. */
static int
put(struct pipe *p, struct item it)
{
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	while (p->len == QLEN && !p->stop)
		pthread_cond_wait(&p->cv, &p->mu);
	if (p->stop)
		rc = -1;
	else {
		p->q[(p->head + p->len++) % QLEN] = it;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

static struct item
take(struct pipe *p)
{
	struct item it;

	pthread_mutex_lock(&p->mu);
	while (p->len == 0)
		pthread_cond_wait(&p->cv, &p->mu);
	it = p->q[p->head];
	p->head = (p->head + 1) % QLEN;
	p->len--;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return it;
}

/* A free page, marked busy; -1 when told to stop. */
static int
page_get(struct pipe *p)
{
	int k = -1, i;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		for (i = 0; i < NPAGES && k == -1; i++)
			if (!p->busy[i])
				k = i;
		if (k != -1 || p->stop)
			break;
		pthread_cond_wait(&p->cv, &p->mu);
	}
	if (k != -1 && !p->stop)
		p->busy[k] = 1;
	else
		k = -1;
	pthread_mutex_unlock(&p->mu);
	return k;
}

static void
page_put(struct pipe *p, int k)
{
	pthread_mutex_lock(&p->mu);
	p->busy[k] = 0;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static int
read_pages(struct pipe *p, json_t *coll, long long *offp)
{
	long long off = *offp;
	const char *id = json_string_value(json_object_get(coll, "id"));
	struct item it = {IT_PAGE, coll, 0, 0, 0};
	long n;
	int k;

	for (;;) {
		if ((k = page_get(p)) == -1)
			return -1;
		/* Fetch only: the writer parses, while the next page is read. */
		n = cdb_chroma_get_raw(p->j->c, id, (long)off, p->limit,
		    p->j->o->where, p->j->o->where_document, p->inc,
		    &p->pages[k], &p->err);
		if (n == -1) {
			page_put(p, k);
			return -1;
		}
		off += n;
		*offp = off;
		it.offset = off;
		it.page = k;
		if (put(p, it) == -1)
			return -1;
		if (n < p->limit)
			return 0;
	}
}

static void *
reader(void *arg)
{
	struct pipe *p = arg;
	struct item it = {0, NULL, 0, 0, 0};
	size_t i;
	json_t *coll;
	long long off = p->start;

	json_array_foreach(p->colls, i, coll) {
		it.coll = coll;
		it.idx = i;
		it.kind = IT_BEGIN;
		it.offset = off;
		if (put(p, it) == -1 || read_pages(p, coll, &off) == -1)
			goto fail;
		pthread_mutex_lock(&p->mu);
		p->ended = i + 1;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		it.kind = IT_END;
		it.offset = off;
		if (put(p, it) == -1)
			goto fail;
		off = 0;
	}
	it.kind = IT_DONE;
	put(p, it);
	return NULL;
fail:
	it.kind = IT_ERROR;
	put(p, it);
	return NULL;
}

/* Count collection i into *slot; 0, or -1 having stopped everything. */
static int
count_one(struct pipe *p, size_t i, long *slot)
{
	const char *id = json_string_value(
	    json_object_get(json_array_get(p->colls, i), "id"));
	long n = cdb_chroma_count(p->cc, id, &p->cerr);

	pthread_mutex_lock(&p->mu);
	if (n == -1)
		p->count_failed = 1;
	else
		*slot = n;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return n == -1 ? -1 : 0;
}

static int
filtered(const struct job *j)
{
	return j->o->where != NULL || j->o->where_document != NULL;
}

/*
 * Every collection's count first (the first one's while its first page
 * is read), then, with a filter, each one's again once the reader is
 * past its last page.  Without one, that last page is the count at the
 * end: it held the collection's last record at the time, at an offset
 * that says how many came before; a request would cost the server as
 * much and tell nothing more.
 */
static void *
counter(void *arg)
{
	struct pipe *p = arg;
	size_t i, n = json_array_size(p->colls);
	int stop;

	for (i = 0; i < n; i++)
		if (count_one(p, i, &p->before[i]) == -1)
			return NULL;
	for (i = 0; filtered(p->j) && i < n; i++) {
		pthread_mutex_lock(&p->mu);
		while (p->ended <= i && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		stop = p->stop;
		pthread_mutex_unlock(&p->mu);
		if (stop || count_one(p, i, &p->after[i]) == -1)
			return NULL;
	}
	return NULL;
}

/* Wait for a count from the counter; -1 with e if it failed. */
static int
wait_count(struct pipe *p, const long *slot, long *n, cdb_error *e)
{
	int failed;

	pthread_mutex_lock(&p->mu);
	while (*slot == -1 && !p->count_failed)
		pthread_cond_wait(&p->cv, &p->mu);
	failed = *slot == -1;
	*n = *slot;
	pthread_mutex_unlock(&p->mu);
	if (failed)
		*e = p->cerr;
	return failed ? -1 : 0;
}

/* Warn when records were added or removed while we read. */
static void
recount(struct job *j, const char *name, long before, long after,
    long long exported)
{
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
}

/* One item on the writing side. */
static int
write_item(struct job *j, struct pipe *p, struct item *it, long *before,
    cdb_error *e)
{
	const char *name = json_string_value(json_object_get(it->coll, "name"));
	json_t *cur = j->ckpt ? json_object_get(j->ckpt, "collection") : NULL;
	cdb_page *pg;
	long after;
	int rc = 0;

	switch (it->kind) {
	case IT_BEGIN:
		if (wait_count(p, &p->before[it->idx], before, e) == -1)
			return -1;
		j->page_start = it->offset;
		/* Resuming inside it: its line is already in the output. */
		if (json_is_string(cur) && strcmp(json_string_value(cur), name) == 0)
			return 0;
		if (write_collection_line(j, it->coll, *before, e) == -1)
			return -1;
		return commit(j, name, 0, e);
	case IT_PAGE:
		pg = &p->pages[it->page];
		rc = cdb_page_parse(pg, e);
		if (rc == 0 && (long long)pg->n != it->offset - j->page_start)
			rc = cdb_error_set(e, CDB_ERR_SERVER,
			    "server answer changed its record count");
		j->page_start = it->offset;
		if (rc == 0)
			rc = write_page(j, pg, name, e);
		if (rc == 0 && j->o->progress)
			j->o->progress(j->o->arg, name, it->offset, *before);
		if (rc == 0 && (long)pg->n == p->limit)
			rc = commit(j, name, it->offset, e);
		page_put(p, it->page);
		return rc;
	case IT_END:
		after = (long)it->offset;
		if (filtered(j) &&
		    wait_count(p, &p->after[it->idx], &after, e) == -1)
			return -1;
		if (j->ckpt != NULL)
			json_array_append_new(json_object_get(j->ckpt, "done"),
			    json_string(name));
		if (commit(j, NULL, 0, e) == -1)
			return -1;
		recount(j, name, *before, after, it->offset);
		return 0;
	default:
		*e = p->err;
		return -1;
	}
}

static int
pipe_open(struct pipe *p, struct job *j, json_t *colls, long long start,
    cdb_error *e)
{
	size_t i, n = json_array_size(colls);

	memset(p, 0, sizeof(*p));
	p->j = j;
	p->colls = colls;
	p->start = start;
	p->limit = j->o->batch > 0 ? j->o->batch : 1000;
	p->inc = CDB_INC_DOCUMENTS | CDB_INC_METADATAS | CDB_INC_URIS;
	if (j->o->form != CDB_EMB_NONE)
		p->inc |= CDB_INC_EMBEDDINGS;
	cdb_error_clear(&p->err);
	cdb_error_clear(&p->cerr);
	for (i = 0; i < NPAGES; i++) {
		cdb_page_init(&p->pages[i]);
		p->pages[i].want_text = 1;
		/* Float output copies the server's text, needing no values. */
		p->pages[i].sample_shortest = j->o->form == CDB_EMB_FLOAT;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->before = malloc((n + 1) * sizeof(long));
	p->after = malloc((n + 1) * sizeof(long));
	if (p->before == NULL || p->after == NULL)
		return cdb_error_set(e, CDB_ERR_SYS, "out of memory");
	for (i = 0; i < n; i++)
		p->before[i] = p->after[i] = -1;
	return (p->cc = cdb_chroma_clone(j->c, e)) == NULL ? -1 : 0;
}

static void
pipe_close(struct pipe *p)
{
	int i;

	for (i = 0; i < NPAGES; i++)
		cdb_page_free(&p->pages[i]);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->before);
	free(p->after);
	cdb_chroma_free(p->cc);
}

static int
export_all(struct job *j, json_t *colls, long long start, cdb_error *e)
{
	struct pipe p;
	struct item it;
	pthread_t th, tc;
	long before = 0;
	int rc, started = 0, counting = 0;

	rc = pipe_open(&p, j, colls, start, e);
	if (rc == 0 && !(counting = pthread_create(&tc, NULL, counter, &p) == 0))
		rc = cdb_error_set(e, CDB_ERR_SYS, "cannot start a thread");
	if (rc == 0 && !(started = pthread_create(&th, NULL, reader, &p) == 0))
		rc = cdb_error_set(e, CDB_ERR_SYS, "cannot start a thread");
	while (rc == 0) {
		it = take(&p);
		if (it.kind == IT_DONE)
			break;
		rc = write_item(j, &p, &it, &before, e);
	}
	/* Stop the threads wherever they wait (they may be done already). */
	pthread_mutex_lock(&p.mu);
	p.stop = 1;
	pthread_cond_broadcast(&p.cv);
	pthread_mutex_unlock(&p.mu);
	if (started)
		pthread_join(th, NULL);
	if (counting)
		pthread_join(tc, NULL);
	pipe_close(&p);
	return rc;
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

/*
 * The collections still to export (those a checkpoint lists as done are
 * skipped), and in *start the offset to resume at in the first one.
 */
static json_t *
todo_list(struct job *j, json_t *colls, long long *start, cdb_error *e)
{
	json_t *todo = json_array(), *coll, *cur;
	const char *name;
	size_t i;

	*start = 0;
	cur = j->ckpt ? json_object_get(j->ckpt, "collection") : NULL;
	json_array_foreach(colls, i, coll) {
		name = json_string_value(json_object_get(coll, "name"));
		if (name == NULL ||
		    !json_is_string(json_object_get(coll, "id"))) {
			json_decref(todo);
			cdb_error_set(e, CDB_ERR_SERVER,
			    "collection without name or id in server answer");
			return NULL;
		}
		if (j->ckpt && done_has(json_object_get(j->ckpt, "done"), name))
			continue;
		if (json_array_size(todo) == 0 && json_is_string(cur) &&
		    strcmp(json_string_value(cur), name) == 0)
			*start = json_integer_value(
			    json_object_get(j->ckpt, "offset"));
		json_array_append(todo, coll);
	}
	return todo;
}

static int
run(struct job *j, cdb_error *e)
{
	json_t *colls, *todo;
	long long start;
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
	if ((todo = todo_list(j, colls, &start, e)) == NULL)
		rc = -1;
	else
		rc = export_all(j, todo, start, e);
	json_decref(todo);
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
	cdb_buf_init(&j.line);
	rc = run(&j, e);
	if (o->output != NULL && j.out != NULL && j.out != out &&
	    fclose(j.out) == EOF && rc == 0)
		rc = cdb_error_set(e, CDB_ERR_SYS, "%s: %s", o->output,
		    strerror(errno));
	free(j.outbuf);
	cdb_writer_free(j.w);
	json_decref(j.ckpt);
	cdb_buf_free(&j.line);
	return rc;
}
