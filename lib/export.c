/* export.c - server to stream; see export.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "digest.h"
#include "embed.h"
#include "export.h"
#include "json.h"
#include "lock.h"
#include "ndjson.h"
#include "pager.h"
#include "testpoint.h"

#define CKPT_VERSION 1
#define OUTBUF (1 << 20) /* stdio's page-sized default costs a syscall a page */
/*
 * A default page holds about this many embedding values (1000 records of
 * 384 dimensions): memory goes with the pages in flight, so wider vectors
 * get fewer records per page, and the bound holds at any dimension.
 */
#define PAGE_VALUES (1000L * 384)

struct job {
	cdb_chroma *c;
	const cdb_export_opts *o;
	cdb_export_stats *st;
	FILE *out;
	cdb_writer *w;
	json_t *ckpt;	 /* state being saved; NULL without -c */
	json_t *counts;	 /* a shard's collection counts, by name */
	long page;	 /* default page size for these collections */
	char *outbuf;	 /* stdio buffer of an output file we opened */
	cdb_buf line;
	/* The page's vectors as the server wrote them, and which to copy. */
	struct row {
		const char *s;
		size_t len;
		int verbatim;
	} *rows;
	size_t rows_cap;
	int sampled;
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

/* The collections to export (all, sorted by name); new reference. */
static json_t *
pick(struct job *j, cdb_error *e)
{
	json_t *all, *sel, *v = NULL;
	size_t i, k;
	const char *name;
	int rc = 0;

	if (cdb_chroma_check_database(j->c, e) == -1)
		return NULL;
	if ((all = cdb_chroma_list(j->c, e)) == NULL || j->o->names == NULL)
		return all;
	if ((sel = json_array()) == NULL)
		rc = cdb_error_oom(e);
	for (k = 0; rc == 0 && k < j->o->nnames; k++) {
		for (i = 0; rc == 0 && i < k; i++)
			if (strcmp(j->o->names[i], j->o->names[k]) == 0)
				rc = cdb_error_set(e, CDB_ERR_USAGE,
				    "collection \"%s\" is named twice",
				    j->o->names[k]);
		json_array_foreach(all, i, v) {
			name = json_string_value(json_object_get(v, "name"));
			if (name && strcmp(name, j->o->names[k]) == 0)
				break;
		}
		if (rc == 0 && i == json_array_size(all))
			rc = cdb_error_set(e, CDB_ERR_USAGE,
			    "no collection \"%s\" in %s/%s", j->o->names[k],
			    cdb_chroma_tenant(j->c), cdb_chroma_database(j->c));
		else if (rc == 0 && json_array_append(sel, v) == -1)
			rc = cdb_error_oom(e);
	}
	json_decref(all);
	if (rc == -1) {
		json_decref(sel);
		return NULL;
	}
	return sel;
}

static int
sync_out(struct job *j, cdb_error *e)
{
	if (fflush(j->out) == EOF)
		return cdb_error_sys(e, errno, "write error");
	if (j->ckpt != NULL && fsync(fileno(j->out)) == -1)
		return cdb_error_sys(e, errno, "%s: fsync",
		    j->o->output);
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
	if (json_object_set_new(j->ckpt, "bytes",
		json_integer(cdb_writer_bytes(j->w))) == -1 ||
	    json_object_set_new(j->ckpt, "records",
		json_integer(cdb_writer_records(j->w))) == -1 ||
	    json_object_set_new(j->ckpt, "collections",
		json_integer(cdb_writer_collections(j->w))) == -1 ||
	    json_object_set_new(j->ckpt, "collection",
		coll ? json_string(coll) : json_null()) == -1 ||
	    json_object_set_new(j->ckpt, "offset", json_integer(offset)) == -1)
		return cdb_error_oom(e);
	if (cdb_checkpoint_save(j->o->checkpoint, j->ckpt, e) == -1)
		return -1;
	cdb_testpoint("export", cdb_writer_records(j->w));
	return 0;
}

static int
write_collection_line(struct job *j, json_t *coll, long count, cdb_error *e)
{
	json_t *line;
	int rc;

	/* O? writes null for what the server left out. */
	line = json_pack("{s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:I}", "kind",
	    "collection", "name", json_object_get(coll, "name"), "metadata",
	    json_object_get(coll, "metadata"), "configuration",
	    json_object_get(coll, "configuration_json"), "schema",
	    json_object_get(coll, "schema"), "dimension",
	    json_object_get(coll, "dimension"), "count", (json_int_t)count);
	if (line == NULL)
		return cdb_error_oom(e);
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
rows_reserve(struct job *j, size_t n, cdb_error *e)
{
	size_t cap = j->rows_cap ? j->rows_cap : 64;
	struct row *r;

	if (n <= j->rows_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	if ((r = realloc(j->rows, cap * sizeof(*r))) == NULL)
		return cdb_error_oom(e);
	j->rows = r;
	j->rows_cap = cap;
	return 0;
}

/*
 * A page's vectors (cdb_page_scan_fn): floats for those to be written
 * anew, and in float form each row's text where it may be copied, being
 * already the shortest round-trip form (same bits, no formatting work).
 * When the first row is, later rows of plain decimals are only checked
 * as JSON numbers: a server's formatter either is shortest or is not.
 */
static long
scan_row(void *arg, size_t row, const char *s, size_t n, float *out,
    size_t cap, size_t *dim, cdb_error *e)
{
	struct job *j = arg;
	int verb = 0;
	long used = 0;

	if (rows_reserve(j, row + 1, e) == -1)
		return -1;
	if (row > 0 && j->sampled && (used = cdb_embed_plain_json(s, n, dim)) > 0)
		verb = 1;
	else
		used = cdb_embed_scan_json(s, n, out, cap, dim,
		    j->o->form == CDB_EMB_FLOAT ? &verb : NULL, e);
	if (row == 0)
		j->sampled = verb;
	j->rows[row].s = s;
	j->rows[row].len = used > 0 ? (size_t)used : 0;
	j->rows[row].verbatim = verb;
	return used;
}

static int
format_row(struct job *j, cdb_page *p, size_t i, const char *name)
{
	int copy = p->dim && j->o->form == CDB_EMB_FLOAT && j->rows[i].verbatim;
	const float *emb = p->dim && !copy ? p->emb + i * p->dim : NULL;
	json_t *id = json_array_get(p->ids, i);

	if (!json_is_string(id))
		return -2;
	return cdb_ndjson_format_record(&j->line, name, json_string_value(id),
	    json_string_length(id), at(p->documents, i), at(p->metadatas, i),
	    at(p->uris, i), emb, p->dim, j->o->form, copy ? j->rows[i].s : NULL,
	    copy ? j->rows[i].len : 0);
}

/* The page's first n rows (a shard's last page may end before its end). */
static int
write_page(struct job *j, cdb_page *p, size_t n, const char *name,
    cdb_error *e)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
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
	j->st->records += (long long)n;
	return 0;
}

static long
page_size(const struct job *j)
{
	return j->o->batch > 0 ? j->o->batch : j->page;
}

static int
filtered(const struct job *j)
{
	return j->o->where != NULL || j->o->where_document != NULL;
}

/*
 * Is the count at the end a request of its own?  With a filter the pages
 * cannot tell it.  With gets in flight together the short page may have
 * been read before another page of the collection: a write between the
 * two would be in neither, nor in the short page's offset.
 */
static int
recounted(const struct job *j)
{
	return filtered(j) || j->o->jobs != 1 || j->o->shard.n > 0;
}

/* Warn when records were added or removed while we read. */
static void
recount(struct job *j, const char *name, long before, long after,
    long long exported)
{
	if (after != before ||
	    (!filtered(j) && j->o->shard.n == 0 && exported != before)) {
		j->st->changed = 1;
		warnf(j,
		    "collection \"%s\" changed during the export: %ld records "
		    "at the start, %ld at the end, %lld exported; export again "
		    "when writes have stopped",
		    name, before, after, exported);
	}
}

/* One page: parse, write, report, checkpoint when a full page ends. */
static int
write_one(struct job *j, cdb_page *pg, const char *name, long long off,
    long n, long before, cdb_error *e)
{
	if (cdb_page_parse(pg, e) == -1)
		return -1;
	if ((long)pg->n != n && !(j->o->shard.n > 0 && (long)pg->n > n))
		return cdb_error_set(e, CDB_ERR_SERVER,
		    "server answer changed its record count");
	if (write_page(j, pg, (size_t)n, name, e) == -1)
		return -1;
	if (j->o->progress)
		j->o->progress(j->o->arg, name, off + n, before);
	return n == page_size(j) ? commit(j, name, off + n, e) : 0;
}

/* Collection i: its line, its pages, its end. */
static int
write_coll(struct job *j, cdb_pager *pager, json_t *coll, size_t i,
    cdb_error *e)
{
	const char *name = json_string_value(json_object_get(coll, "name"));
	json_t *cur = j->ckpt ? json_object_get(j->ckpt, "collection") : NULL;
	long limit = page_size(j), n, before, after;
	long long off, lo, stop = -1;
	cdb_page *pg;
	int rc;

	if ((before = cdb_pager_count(pager, i, 0, e)) == -1)
		return -1;
	if (j->o->shard.n > 0)
		cdb_shard_range(&j->o->shard, before, &lo, &stop);
	/* Resuming inside it: its line is already in the output. */
	if (!(json_is_string(cur) && strcmp(json_string_value(cur), name) == 0) &&
	    (write_collection_line(j, coll, before, e) == -1 ||
		commit(j, name, 0, e) == -1))
		return -1;
	do {
		if ((rc = cdb_pager_next(pager, &pg, &off, &n, e)) != 1)
			return rc == 0 ? cdb_error_set(e, CDB_ERR_SYS,
					     "pager ended early")
				       : -1;
		rc = write_one(j, pg, name, off, n, before, e);
		cdb_pager_release(pager, pg);
		if (rc == -1)
			return -1;
	} while (n == limit && !(stop >= 0 && off + n >= stop));
	after = recounted(j) ? cdb_pager_count(pager, i, 1, e) : (long)(off + n);
	if (after == -1)
		return -1;
	if (j->ckpt != NULL &&
	    json_array_append_new(json_object_get(j->ckpt, "done"),
		json_string(name)) == -1)
		return cdb_error_oom(e);
	if (commit(j, NULL, 0, e) == -1)
		return -1;
	recount(j, name, before, after, off + n);
	return 0;
}

/*
 * Pages come from a pager (several gets in flight, handed out in order)
 * while this thread parses, writes and checkpoints; the pager's
 * connections also take the counts around each collection.
 */
static cdb_pager *
pager_for(struct job *j, json_t *colls, const char **ids, long long *range,
    long *counts, long long start, cdb_error *e)
{
	size_t i, n = json_array_size(colls);
	cdb_pager_opts po;
	json_t *coll;

	memset(&po, 0, sizeof(po));
	json_array_foreach(colls, i, coll) {
		ids[i] = json_string_value(json_object_get(coll, "id"));
		if (j->counts == NULL)
			continue;
		/* A shard's counts were taken before its header. */
		counts[i] = (long)json_integer_value(json_object_get(j->counts,
		    json_string_value(json_object_get(coll, "name"))));
		cdb_shard_range(&j->o->shard, counts[i], &range[i],
		    &range[n + i]);
	}
	if (j->counts != NULL) {
		po.base = range;
		po.stop = range + n;
		po.counts = counts;
	}
	po.ids = ids;
	po.ncoll = n;
	po.start = start;
	po.recount = recounted(j);
	po.limit = page_size(j);
	po.include = CDB_INC_DOCUMENTS | CDB_INC_METADATAS | CDB_INC_URIS;
	if (j->o->form != CDB_EMB_NONE)
		po.include |= CDB_INC_EMBEDDINGS;
	po.where = j->o->where;
	po.where_document = j->o->where_document;
	po.jobs = j->o->jobs > 0 ? j->o->jobs : CDB_EXPORT_JOBS;
	po.scan = scan_row;
	po.scan_arg = j;
	return cdb_pager_new(j->c, &po, e);
}

static int
export_all(struct job *j, json_t *colls, long long start, cdb_error *e)
{
	size_t i, n = json_array_size(colls);
	const char **ids = calloc(n + 1, sizeof(*ids));
	long long *range = calloc(2 * n + 1, sizeof(*range));
	long *counts = calloc(n + 1, sizeof(*counts));
	cdb_pager *pager = NULL;
	int rc = 0;

	if (ids == NULL || range == NULL || counts == NULL)
		rc = cdb_error_oom(e);
	if (rc == 0 &&
	    (pager = pager_for(j, colls, ids, range, counts, start, e)) == NULL)
		rc = -1;
	for (i = 0; rc == 0 && i < n; i++)
		rc = write_coll(j, pager, json_array_get(colls, i), i, e);
	cdb_pager_free(pager);
	free(ids);
	free(range);
	free(counts);
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
	    json_integer_value(json_object_get(j->ckpt, "shard_k")) ==
		j->o->shard.k &&
	    json_integer_value(json_object_get(j->ckpt, "shard_n")) ==
		j->o->shard.n &&
	    json_is_array(json_object_get(j->ckpt, "done"));
}

/* Open the output, resuming when a checkpoint says how far it got. */
static int
open_output(struct job *j, cdb_error *e)
{
	const cdb_export_opts *o = j->o;
	int resume;
	cdb_digest d;
	long long bytes;

	if (o->checkpoint != NULL &&
	    (j->ckpt = cdb_checkpoint_load(o->checkpoint, e)) == NULL &&
	    e->kind != CDB_ERR_NONE)
		return -1;
	if (j->ckpt != NULL && !same_export(j)) {
		json_decref(j->ckpt);
		j->ckpt = NULL;
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "%s: this checkpoint is not for this export (another "
		    "server, tenant, database, --embeddings or --shard); rerun "
		    "the same "
		    "command, or remove it to start over", o->checkpoint);
	}
	resume = j->ckpt != NULL;
	if (o->output && (j->out = fopen(o->output, resume ? "r+" : "w")) == NULL)
		return resume ? cdb_error_set(e, CDB_ERR_SYS,
				    "%s: %s (needed to resume)", o->output,
				    strerror(errno))
			      : cdb_error_sys(e, errno, "%s", o->output);
	if (o->output && (j->outbuf = malloc(OUTBUF)) != NULL)
		setvbuf(j->out, j->outbuf, _IOFBF, OUTBUF);
	if (!resume && o->checkpoint != NULL) {
		j->ckpt = json_pack("{s:i, s:s, s:s, s:s, s:s, s:i, s:[]}",
		    "version", CKPT_VERSION, "kind", "cdb-export", "source",
		    cdb_chroma_url(j->c), "tenant", cdb_chroma_tenant(j->c),
		    "database", cdb_chroma_database(j->c), "form", o->form, "done");
		if (j->ckpt == NULL ||
		    (o->shard.n > 0 &&
			(json_object_set_new(j->ckpt, "shard_k",
			     json_integer(o->shard.k)) == -1 ||
			    json_object_set_new(j->ckpt, "shard_n",
				json_integer(o->shard.n)) == -1)))
			return cdb_error_oom(e);
	}
	if (!resume)
		return 0;
	bytes = json_integer_value(json_object_get(j->ckpt, "bytes"));
	if (rehash(j->out, bytes, &d, e) == -1)
		return -1;
	if (ftruncate(fileno(j->out), (off_t)bytes) == -1 ||
	    fseeko(j->out, (off_t)bytes, SEEK_SET) == -1)
		return cdb_error_sys(e, errno, "%s", o->output);
	if ((j->w = cdb_writer_new(j->out)) == NULL)
		return cdb_error_oom(e);
	cdb_writer_resume(j->w, &d,
	    json_integer_value(json_object_get(j->ckpt, "records")),
	    json_integer_value(json_object_get(j->ckpt, "collections")), bytes);
	j->st->resumed = 1;
	return 0;
}

/*
 * A shard counts every collection before its header, or takes the counts
 * its checkpoint kept: its ranges stay those of its first start.
 */
static int
take_counts(struct job *j, json_t *colls, cdb_error *e)
{
	json_t *coll, *kept = j->ckpt ? json_object_get(j->ckpt, "counts") : NULL;
	size_t i;
	long n;

	if (json_is_object(kept)) {
		j->counts = json_incref(kept);
		return 0;
	}
	if ((j->counts = json_object()) == NULL)
		return cdb_error_oom(e);
	json_array_foreach(colls, i, coll) {
		n = cdb_chroma_count(j->c,
		    json_string_value(json_object_get(coll, "id")), e);
		if (n == -1)
			return -1;
		if (json_object_set_new(j->counts,
			json_string_value(json_object_get(coll, "name")),
			json_integer(n)) == -1)
			return cdb_error_oom(e);
	}
	if (j->ckpt != NULL && json_object_set(j->ckpt, "counts", j->counts) == -1)
		return cdb_error_oom(e);
	return 0;
}

/*
 * What names the export a shard belongs to: the same source, embedding
 * form, collections and counts give every shard the same name, and a
 * shard that counted after the source changed another one.
 */
static json_t *
export_name(struct job *j, json_t *colls)
{
	const char *parts[3] = {cdb_chroma_url(j->c), cdb_chroma_tenant(j->c),
	    cdb_chroma_database(j->c)};
	char num[64], out[23];
	cdb_digest d;
	json_t *coll;
	const char *name, *id;
	size_t i;

	cdb_digest_init(&d);
	for (i = 0; i < 3; i++)
		cdb_digest_update(&d, parts[i], strlen(parts[i]) + 1);
	json_array_foreach(colls, i, coll) {
		name = json_string_value(json_object_get(coll, "name"));
		id = json_string_value(json_object_get(coll, "id"));
		snprintf(num, sizeof(num), "%d %lld", j->o->form,
		    (long long)json_integer_value(
			json_object_get(j->counts, name)));
		cdb_digest_update(&d, name, strlen(name) + 1);
		cdb_digest_update(&d, id ? id : "", id ? strlen(id) + 1 : 1);
		cdb_digest_update(&d, num, strlen(num) + 1);
	}
	cdb_digest_format(&d, out);
	return json_pack("{s:s, s:i, s:i}", "export", out, "index",
	    j->o->shard.k, "of", j->o->shard.n);
}

static int
write_header(struct job *j, json_t *colls, cdb_error *e)
{
	json_t *h;
	int rc;

	h = cdb_ndjson_header(cdb_chroma_url(j->c), cdb_chroma_tenant(j->c),
	    cdb_chroma_database(j->c), j->o->tool ? j->o->tool : "cdb");
	if (h == NULL ||
	    json_object_set_new(h, "embeddings",
		json_string(j->o->form == CDB_EMB_FLOAT	       ? "float"
			    : j->o->form == CDB_EMB_BASE64 ? "base64"
							   : "none")) == -1 ||
	    (j->counts != NULL &&
		json_object_set_new(h, "shard", export_name(j, colls)) == -1))
		rc = cdb_error_oom(e);
	else
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
	int rc = todo == NULL ? cdb_error_oom(e) : 0;

	*start = 0;
	cur = j->ckpt ? json_object_get(j->ckpt, "collection") : NULL;
	json_array_foreach(colls, i, coll) {
		name = json_string_value(json_object_get(coll, "name"));
		if (rc == -1)
			break;
		if (name == NULL ||
		    !json_is_string(json_object_get(coll, "id"))) {
			rc = cdb_error_set(e, CDB_ERR_SERVER,
			    "collection without name or id in server answer");
			break;
		}
		if (j->ckpt && done_has(json_object_get(j->ckpt, "done"), name))
			continue;
		if (json_array_size(todo) == 0 && json_is_string(cur) &&
		    strcmp(json_string_value(cur), name) == 0)
			*start = json_integer_value(
			    json_object_get(j->ckpt, "offset"));
		if (json_array_append(todo, coll) == -1)
			rc = cdb_error_oom(e);
	}
	if (rc == -1) {
		json_decref(todo);
		return NULL;
	}
	return todo;
}

/* The default page size: 1000, fewer for the widest embeddings. */
static long
default_page(const struct job *j, json_t *colls)
{
	json_int_t dim, widest = 0;
	json_t *coll;
	size_t i;

	json_array_foreach(colls, i, coll) {
		dim = json_integer_value(json_object_get(coll, "dimension"));
		if (dim > widest)
			widest = dim;
	}
	if (j->o->form == CDB_EMB_NONE || widest * 1000 <= PAGE_VALUES)
		return 1000;
	return PAGE_VALUES / widest > 0 ? (long)(PAGE_VALUES / widest) : 1;
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
	if (j->o->shard.n > 0 && filtered(j))
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "--shard splits whole collections by their counts; it "
		    "cannot be used with --where or --where-document");
	if ((colls = pick(j, e)) == NULL || open_output(j, e) == -1 ||
	    (j->o->shard.n > 0 && take_counts(j, colls, e) == -1)) {
		json_decref(colls);
		return -1;
	}
	j->page = default_page(j, colls);
	if (j->w == NULL &&
	    ((j->w = cdb_writer_new(j->out)) == NULL ? cdb_error_oom(e)
						     : write_header(j, colls, e)) == -1) {
		json_decref(colls);
		return -1;
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
	cdb_lock *lo, *lc;
	struct job j;
	int rc;

	memset(&j, 0, sizeof(j));
	memset(st, 0, sizeof(*st));
	j.c = c;
	j.o = o;
	j.st = st;
	j.out = out;
	cdb_buf_init(&j.line);
	/* Before the output is truncated or the checkpoint read. */
	lo = o->output ? cdb_lock_new(o->output, e) : NULL;
	lc = lo && o->checkpoint ? cdb_lock_new(o->checkpoint, e) : NULL;
	if ((o->output && lo == NULL) || (lo && o->checkpoint && lc == NULL)) {
		cdb_lock_free(lo);
		cdb_buf_free(&j.line);
		return -1;
	}
	rc = run(&j, e);
	if (o->output != NULL && j.out != NULL && j.out != out &&
	    fclose(j.out) == EOF && rc == 0)
		rc = cdb_error_sys(e, errno, "%s", o->output);
	free(j.outbuf);
	cdb_writer_free(j.w);
	json_decref(j.ckpt);
	json_decref(j.counts);
	cdb_buf_free(&j.line);
	free(j.rows);
	cdb_lock_free(lc);
	cdb_lock_free(lo);
	return rc;
}
