/*
 * import.c - load a cdb stream into a Chroma database.
 *
 * Records are appended, as the JSON text of the request, to a batch per
 * collection; a full batch (by count or bytes) goes through the one
 * bounded queue (lib/queue.h) to worker threads that each hold a
 * connection, and comes back through a second queue.  Every batch in
 * memory, partial or in flight, shares one budget (BATCH_MEMORY), so
 * memory stays flat however long the stream and whatever -j.
 *
 * The checkpoint records the line before which everything landed: the
 * lowest first line of any batch still partial, in flight or lost, so a
 * resume never skips a record the server did not acknowledge.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "chroma.h"
#include "pager.h"
#include "embed.h"
#include "hmap.h"
#include "import.h"
#include "json.h"
#include "lock.h"
#include "ndjson.h"
#include "queue.h"
#include "rules.h"
#include "shard.h"
#include "testpoint.h"

#define CKPT_VERSION 1
/*
 * All batches of a run, partial or in flight, together: each request is
 * kept under BATCH_MEMORY / (jobs + 1) unless --max-request-bytes says
 * otherwise.  The server is the bottleneck; larger requests gain nothing.
 */
#define BATCH_MEMORY (40u << 20)
/*
 * The first batch of a run goes out at this size at most: in a pipe the
 * target starts ingesting while the export is still reading the rest of
 * the first collection, instead of idling until a full batch arrived.
 */
#define FIRST_BATCH 256

/* Room for the JSON punctuation around a batch's arrays. */
#define BODY_OVERHEAD 128

/* The arrays of a request body, in the order they are sent. */
enum { IDS, EMBS, DOCS, METAS, URIS, NARR };

struct batch {
	struct target *t;
	long first_line;
	long n;
	size_t bytes; /* of the request body */
	cdb_buf a[NARR];
	int any[NARR]; /* an array of nothing but null is left out */
	cdb_http_piece pieces[2 * NARR + 1];
	size_t npieces;
	cdb_error err;
	int failed;
};

struct target {
	char *name;
	char *id;	/* server's collection id; NULL in a dry run */
	size_t dim;	/* expected embedding length, 0: not known yet */
	long long nrec; /* its record lines so far */
	struct batch *pending;
	cdb_hmap *arrays; /* created here: ids given array metadata */
};

struct imp {
	const cdb_import_opts *o;
	cdb_import_stats *st;
	cdb_chroma *c;
	cdb_reader *r;
	struct target **targets; /* each allocated: batches point at them */
	size_t ntargets;
	json_t *index; /* name -> target number */
	json_t *ckpt;  /* NULL without -c */
	long skip_to;  /* records at or before this line are committed */
	long last_line;
	long batch;
	size_t max_bytes;
	int base64;
	cdb_rules_caps caps; /* what the target can store */
	int jobs;
	cdb_queue *todo, *done; /* batches to send; sent or failed */
	cdb_workers *workers;
	struct batch **flying; /* submitted, not yet reaped */
	int nflying;
	struct batch **spare; /* emptied, their buffers kept */
	int nspare;
	int nbatch; /* batches in memory: being filled, in flight, spare */
	atomic_int landed; /* in done: reaped without waiting */
	long hold; /* first line of a batch that failed or was dropped */
	size_t pending_bytes; /* in all partial batches */
	int sent;	      /* a batch was submitted (see FIRST_BATCH) */
	cdb_shard shard; /* n > 0: the stream is one shard of an export */
};

static void
hold_at(struct imp *m, long line)
{
	if (m->hold == 0 || line < m->hold)
		m->hold = line;
}

static void
batch_free(struct batch *b)
{
	int k;

	if (b == NULL)
		return;
	for (k = 0; k < NARR; k++)
		cdb_buf_free(&b->a[k]);
	free(b);
}

/*
 * A batch is tens of megabytes at large dimensions.  Emptied ones keep
 * their buffers for the next while no more than jobs + 2 batches exist
 * (one stream of one collection at a time never needs more): taking and
 * touching that memory anew for every request left the heap fragmented,
 * and the import's peak memory grew with the length of the stream.
 * Interleaved collections' extra batches are freed as before.
 */
static void
batch_done(struct imp *m, struct batch *b)
{
	int k;

	if (b == NULL)
		return;
	if (m->spare == NULL || m->nbatch > m->jobs + 2) {
		batch_free(b);
		m->nbatch--;
		return;
	}
	for (k = 0; k < NARR; k++)
		cdb_buf_reset(&b->a[k]);
	m->spare[m->nspare++] = b;
}

static struct batch *
batch_new(struct imp *m, struct target *t, long line)
{
	struct batch *b;
	cdb_buf a[NARR];

	if (m->nspare > 0) {
		b = m->spare[--m->nspare];
		memcpy(a, b->a, sizeof(a));
		memset(b, 0, sizeof(*b));
		memcpy(b->a, a, sizeof(a));
	} else if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	else
		m->nbatch++;
	b->t = t;
	b->first_line = line;
	b->bytes = BODY_OVERHEAD;
	b->any[IDS] = b->any[EMBS] = 1;
	return b;
}

/*
 * The request body as pieces pointing into the batch's arrays, so the
 * megabytes of a batch are never copied into one buffer.
 */
static void
build_body(struct batch *b)
{
	static const char *const open[NARR] = {"{\"ids\":[",
	    "],\"embeddings\":[", "],\"documents\":[", "],\"metadatas\":[",
	    "],\"uris\":["};
	cdb_http_piece *p = b->pieces;
	int k;

	for (k = 0; k < NARR; k++) {
		if (!b->any[k])
			continue;
		p->data = open[k];
		p++->len = strlen(open[k]);
		p->data = b->a[k].data;
		p++->len = b->a[k].len;
	}
	p->data = "]}";
	p++->len = 2;
	b->npieces = (size_t)(p - b->pieces);
}

static void *
worker(void *arg)
{
	struct imp *m = arg;
	struct batch *b;
	cdb_chroma *c;
	cdb_error e;

	cdb_error_clear(&e);
	c = cdb_chroma_new(m->o->url, m->o->tenant, m->o->database, m->o->http,
	    &e);
	while ((b = cdb_queue_pop(m->todo)) != NULL) {
		if (c == NULL)
			b->err = e;
		b->failed = c == NULL ||
		    cdb_chroma_write_pieces(c, b->t->id, m->o->upsert,
			b->pieces, b->npieces, &b->err) == -1;
		/* Never full: it has room for every batch in flight. */
		cdb_queue_push(m->done, b);
		atomic_fetch_add(&m->landed, 1);
	}
	cdb_chroma_free(c);
	return NULL;
}

/* The first line not yet known to be committed, minus one. */
static long
committed_line(const struct imp *m)
{
	long low = m->last_line;
	size_t i;
	int k;

	for (i = 0; i < m->ntargets; i++)
		if (m->targets[i]->pending != NULL &&
		    m->targets[i]->pending->first_line - 1 < low)
			low = m->targets[i]->pending->first_line - 1;
	for (k = 0; k < m->nflying; k++)
		if (m->flying[k]->first_line - 1 < low)
			low = m->flying[k]->first_line - 1;
	/* Nothing at or after a lost batch may count as committed. */
	if (m->hold > 0 && m->hold - 1 < low)
		low = m->hold - 1;
	return low;
}

/* "import:NAME" with the records of each collection the checkpoint holds. */
static void
testpoints(const json_t *ckpt)
{
	const char *name;
	char point[300];
	json_t *v;

	/* A checkpoint may name many collections: no loop unless testing. */
	if (getenv("CDB_TEST_PAUSE") == NULL)
		return;
	json_object_foreach ((json_t *)json_object_get(ckpt, "collections"),
	    name, v) {
		snprintf(point, sizeof(point), "import:%s", name);
		cdb_testpoint(point, json_integer_value(v));
	}
}

static int
save_ckpt(struct imp *m, int complete, cdb_error *e)
{
	long line;

	if (m->ckpt == NULL || m->o->dry_run)
		return 0;
	line = committed_line(m);
	/* Never move backwards past what an earlier run committed. */
	if (line < m->skip_to)
		line = m->skip_to;
	if (json_object_set_new(m->ckpt, "line", json_integer(line)) == -1 ||
	    json_object_set_new(m->ckpt, "complete", json_boolean(complete)))
		return cdb_error_oom(e);
	if (cdb_checkpoint_save(m->o->checkpoint, m->ckpt, e) == -1)
		return -1;
	testpoints(m->ckpt);
	return 0;
}

/* Wait for a batch in flight to land and account for it. */
static int
reap_one(struct imp *m, cdb_error *e)
{
	struct batch *b = cdb_queue_pop(m->done);
	json_t *n = json_object_get(json_object_get(m->ckpt, "collections"),
	    b->t->name);
	int k, rc = 0;

	atomic_fetch_sub(&m->landed, 1);
	for (k = 0; m->flying[k] != b; k++)
		;
	m->flying[k] = m->flying[--m->nflying];
	if (b->failed) {
		hold_at(m, b->first_line);
		/* Name the collection: the server may not. */
		if (e != NULL && e->kind == CDB_ERR_NONE) {
			cdb_error_set(e, b->err.kind,
			    "collection \"%s\", batch from line %ld: %.900s",
			    b->t->name, b->first_line, b->err.text);
			e->http_status = b->err.http_status;
		}
		rc = -1;
	} else {
		m->st->sent += b->n;
		m->st->batches++;
		json_integer_set(n, json_integer_value(n) + b->n);
		if (m->o->progress)
			m->o->progress(m->o->arg, b->t->name,
			    m->st->sent + m->st->skipped, -1);
		rc = save_ckpt(m, 0, e);
	}
	batch_done(m, b);
	return rc;
}

/* Wait for every batch in flight. */
static int
drain(struct imp *m, cdb_error *e)
{
	int rc = 0;

	while (m->nflying > 0)
		if (reap_one(m, e) == -1)
			rc = -1;
	return rc;
}

static int
submit(struct imp *m, struct target *t, cdb_error *e)
{
	struct batch *b = t->pending;
	int rc = 0;

	if (b == NULL)
		return 0;
	m->sent = 1;
	/*
	 * Account for what landed, waiting for a free slot.  b stays pending
	 * meanwhile: the checkpoints saved must not count its lines as
	 * committed before it is even sent.
	 */
	while (!m->o->dry_run && rc == 0 &&
	    (m->nflying == m->jobs || atomic_load(&m->landed) > 0))
		rc = reap_one(m, e);
	t->pending = NULL;
	m->pending_bytes -= b->bytes;
	if (m->o->dry_run) {
		m->st->batches++;
		batch_done(m, b);
		return 0;
	}
	if (rc == -1) {
		hold_at(m, b->first_line);
		batch_done(m, b);
		return -1;
	}
	build_body(b);
	m->flying[m->nflying++] = b;
	/* Never full nor closed: a slot was free, and the queue is closed
	 * only once the stream is done. */
	cdb_queue_push(m->todo, b);
	return 0;
}

static struct target *
find_target(struct imp *m, const char *name)
{
	json_t *v = json_object_get(m->index, name);

	return v ? m->targets[json_integer_value(v)] : NULL;
}

/* Equal values, numbers by value: a server may give 1.0 back as 1. */
static int
same_value(const json_t *a, const json_t *b)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	if (json_is_object(a) && json_is_object(b) &&
	    json_object_size(a) == json_object_size(b)) {
		json_object_foreach ((json_t *)a, key, v)
			if (!same_value(v, json_object_get(b, key)))
				return 0;
		return 1;
	}
	if (json_is_array(a) && json_is_array(b) &&
	    json_array_size(a) == json_array_size(b)) {
		json_array_foreach (a, i, v)
			if (!same_value(v, json_array_get(b, i)))
				return 0;
		return 1;
	}
	return json_equal(a, b);
}

/*
 * Was the existing collection made from the same collection line?  Every
 * shard of an export carries the same one, so a difference means the
 * streams were changed, or come from different sources.
 */
static int
same_setup(struct imp *m, const cdb_item *it, json_t *have, const char *name,
    cdb_error *e)
{
	const char *want_sp, *have_sp;
	json_t *wm = json_object_get(it->obj, "metadata");
	json_t *hm = json_object_get(have, "metadata");
	json_t *wd = json_object_get(it->obj, "dimension");
	json_t *hd = json_object_get(have, "dimension");

	want_sp = cdb_chroma_space(json_object_get(it->obj, "configuration"));
	have_sp = cdb_chroma_space(json_object_get(have, "configuration_json"));
	if (want_sp && have_sp && strcmp(want_sp, have_sp) != 0)
		return cdb_error_setl(e, it->line,
		    "collection \"%s\" exists on the target with space %s, the "
		    "stream's uses %s",
		    name, have_sp, want_sp);
	if (m->shard.n == 0)
		return 0;
	/* Absent, null and {} are all no metadata. */
	if ((json_object_size(wm) > 0 || json_object_size(hm) > 0) &&
	    !same_value(wm, hm))
		return cdb_error_setl(e, it->line,
		    "collection \"%s\" exists on the target with other "
		    "metadata than this shard's collection line: the shards "
		    "do not agree on its configuration",
		    name);
	if (json_is_integer(wd) && json_is_integer(hd) &&
	    json_integer_value(wd) != json_integer_value(hd))
		return cdb_error_setl(e, it->line,
		    "collection \"%s\" exists on the target with dimension "
		    "%lld, this shard's has %lld",
		    name, (long long)json_integer_value(hd),
		    (long long)json_integer_value(wd));
	return 0;
}

/* An existing target: may we write into it? */
static int
check_existing(struct imp *m, const cdb_item *it, json_t *have,
    const char *name, cdb_error *e)
{
	json_t *counts = json_object_get(m->ckpt, "collections");
	json_t *whole = json_object_get(it->obj, "count");
	long long lo, hi, room = 0;
	char more[128] = "";
	long n;

	if (same_setup(m, it, have, name, e) == -1)
		return -1;
	if (m->o->append || json_object_get(counts, name) != NULL)
		return 0;
	n = cdb_chroma_count(m->c,
	    json_string_value(json_object_get(have, "id")), e);
	if (n == -1)
		return -1;
	/*
	 * The other shards of this export may be writing into it: what it
	 * holds must fit in what the export counted for them.
	 */
	if (m->shard.n > 0 && json_is_integer(whole)) {
		cdb_shard_range(&m->shard, json_integer_value(whole), &lo, &hi);
		room = json_integer_value(whole) -
		    ((hi < 0 ? json_integer_value(whole) : hi) - lo);
	}
	if (m->shard.n > 0)
		snprintf(more, sizeof(more), ", more than the %lld the other "
		    "shards of this export hold: records of another export are "
		    "there", room);
	return n <= room ? 0 : cdb_error_setl(e, it->line,
	    "collection \"%s\" already exists on the target and holds %ld "
	    "records%s; use --append to add to it", name, n, more);
}

static int
open_target(struct imp *m, const cdb_item *it, struct target *t,
    cdb_error *e)
{
	json_t *have, *dim;
	cdb_error ge;

	cdb_error_clear(&ge);
	have = cdb_chroma_get_collection(m->c, t->name, &ge);
	if (have == NULL && ge.http_status != 404) {
		*e = ge;
		return -1;
	}
	if (have != NULL && check_existing(m, it, have, t->name, e) == -1) {
		json_decref(have);
		return -1;
	}
	if (have == NULL) {
		m->st->created++;
		if (m->o->dry_run)
			return 0;
		/*
		 * Checked after the import: see check_created.  Not for a
		 * shard: the other shards' records, which this run cannot
		 * tell from its own, land in the same collection meanwhile.
		 */
		if (m->caps.arrays && !m->o->no_altered_check &&
		    m->shard.n <= 1 &&
		    (t->arrays = cdb_hmap_new()) == NULL)
			return cdb_error_oom(e);
		have = cdb_chroma_create(m->c, t->name,
		    json_object_get(it->obj, "metadata"),
		    json_object_get(it->obj, "configuration"), e);
		if (have == NULL) {
			if (e != NULL)
				e->line = it->line;
			return -1;
		}
		/* Another shard may have created it first: it must match. */
		if (same_setup(m, it, have, t->name, e) == -1) {
			json_decref(have);
			return -1;
		}
	}
	dim = json_object_get(have, "dimension");
	if (json_is_integer(dim))
		t->dim = (size_t)json_integer_value(dim);
	if (json_is_string(json_object_get(have, "id")) &&
	    (t->id = strdup(json_string_value(json_object_get(have, "id")))) ==
		NULL) {
		json_decref(have);
		return cdb_error_oom(e);
	}
	json_decref(have);
	return 0;
}

/*
 * Send every partial batch.  At a collection line the collections before
 * it are usually complete (export writes them one after the other), so
 * their batches would otherwise sit in memory to the end of the stream.
 */
static int
submit_all(struct imp *m, cdb_error *e)
{
	size_t i;

	for (i = 0; i < m->ntargets; i++)
		if (submit(m, m->targets[i], e) == -1)
			return -1;
	return 0;
}

static void
stop_at(void *arg, long line, const char *msg)
{
	cdb_error_setl(arg, line, "%s", msg);
}

/*
 * The target's limits: a dry run reports every line that breaks one, so
 * that all can be fixed at once; an import stops at the first.
 */
static int
check_limits(struct imp *m, const cdb_item *it, long long nth, cdb_error *e)
{
	if (m->o->limits == NULL)
		return 0;
	if (m->o->dry_run && m->o->broken != NULL) {
		m->st->broken += cdb_quota_check(m->o->limits, it, nth,
		    m->o->broken, m->o->arg);
		return 0;
	}
	return cdb_quota_check(m->o->limits, it, nth, stop_at, e) > 0 ? -1
									: 0;
}

static int
on_collection(struct imp *m, const cdb_item *it, cdb_error *e)
{
	const char *name = json_string_value(json_object_get(it->obj, "name"));
	json_t *dim = json_object_get(it->obj, "dimension");
	json_t *counts = json_object_get(m->ckpt, "collections");
	struct target *t, **nt;

	m->st->collections++;
	/* A stream that must hold one collection may not write others. */
	if (m->o->collection != NULL && strcmp(name, m->o->collection) != 0)
		return cdb_error_setl(e, it->line,
		    "collection \"%s\" in a stream that may hold only \"%s\"",
		    name, m->o->collection);
	/* A real run hears the server's own words; a dry run must not
	 * pass what that server would refuse. */
	if (m->o->dry_run && cdb_rules_collection_name(name, e) == -1) {
		e->line = it->line;
		return -1;
	}
	if (check_limits(m, it, 0, e) == -1 || submit_all(m, e) == -1)
		return -1;
	if ((nt = realloc(m->targets, (m->ntargets + 1) * sizeof(*nt))) ==
	    NULL)
		return cdb_error_oom(e);
	m->targets = nt;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return cdb_error_oom(e);
	m->targets[m->ntargets++] = t;
	if ((t->name = strdup(name)) == NULL ||
	    json_object_set_new(m->index, name,
		json_integer((json_int_t)m->ntargets - 1)) == -1)
		return cdb_error_oom(e);
	if (open_target(m, it, t, e) == -1)
		return -1;
	if (t->dim == 0 && json_is_integer(dim))
		t->dim = (size_t)json_integer_value(dim);
	/* Known before any batch lands, so a resume may write into it. */
	if (counts == NULL || json_object_get(counts, name) != NULL)
		return 0;
	if (json_object_set_new(counts, name, json_integer(0)) == -1)
		return cdb_error_oom(e);
	return save_ckpt(m, 0, e);
}

static int
append_record(struct imp *m, struct batch *b, const cdb_item *it)
{
	const json_t *v[NARR] = {NULL, NULL, it->document, it->metadata,
	    it->uri};
	cdb_buf *emb = &b->a[EMBS];
	int k, rc = 0;

	for (k = 0; k < NARR && b->n > 0; k++)
		rc |= cdb_buf_putc(&b->a[k], ',');
	rc |= cdb_json_dump_string(&b->a[IDS], it->id, it->id_len);
	if (m->base64)
		rc |= cdb_buf_putc(emb, '"') |
		    cdb_embed_b64_encode(it->emb, it->dim, emb) |
		    cdb_buf_putc(emb, '"');
	else
		rc |= cdb_embed_format_json(it->emb, it->dim, emb);
	for (k = DOCS; k < NARR; k++)
		rc |= cdb_json_dump(&b->a[k], v[k] ? v[k] : json_null());
	b->any[DOCS] |= json_is_string(it->document);
	b->any[METAS] |= json_is_object(it->metadata);
	b->any[URIS] |= json_is_string(it->uri);
	b->n++;
	return rc ? -1 : 0;
}

/*
 * Records of many collections may interleave (cdb-transform routes them):
 * keep what waits in partial batches under one request's worth by sending
 * the largest when the sum goes over.
 */
static int
cap_pending(struct imp *m, cdb_error *e)
{
	struct target *t = NULL;
	size_t i, big = 0;

	if (m->pending_bytes <= m->max_bytes)
		return 0;
	for (i = 0; i < m->ntargets; i++)
		if (m->targets[i]->pending != NULL &&
		    m->targets[i]->pending->bytes > big) {
			big = m->targets[i]->pending->bytes;
			t = m->targets[i];
		}
	return t != NULL ? submit(m, t, e) : 0;
}

/*
 * Append the record, measuring its exact size: one that would push the
 * request over the byte limit is taken back out and starts the next batch.
 * A dry run only measures: its batches hold no text.
 */
static int
add_sized(struct imp *m, struct target *t, const cdb_item *it, cdb_error *e)
{
	size_t len[NARR], grew = 0;
	struct batch *b = t->pending;
	int k;

	if (b == NULL) {
		if ((b = t->pending = batch_new(m, t, it->line)) == NULL)
			return cdb_error_oom(e);
		m->pending_bytes += b->bytes;
	}
	for (k = 0; k < NARR; k++)
		len[k] = b->a[k].len;
	if (append_record(m, b, it) == -1)
		return cdb_error_oom(e);
	for (k = 0; k < NARR; k++)
		grew += b->a[k].len - len[k];
	if (m->o->dry_run)
		for (k = 0; k < NARR; k++)
			cdb_buf_reset(&b->a[k]);
	if (b->bytes + grew <= m->max_bytes) {
		b->bytes += grew;
		m->pending_bytes += grew;
		return 0;
	}
	if (b->n == 1)
		return cdb_error_setl(e, it->line,
		    "id \"%s\": record needs %zu bytes, more than the "
		    "request limit of %zu",
		    it->id, b->bytes + grew, m->max_bytes);
	b->n--;
	for (k = 0; k < NARR; k++)
		b->a[k].len = m->o->dry_run ? 0 : len[k];
	return submit(m, t, e) == -1 ? -1 : add_sized(m, t, it, e);
}

static int
has_array(const json_t *metadata)
{
	const char *k;
	json_t *v;

	json_object_foreach ((json_t *)metadata, k, v)
		if (json_is_array(v))
			return 1;
	return 0;
}

static int
on_record(struct imp *m, const cdb_item *it, cdb_error *e)
{
	struct target *t = find_target(m, it->collection);
	long full;

	m->st->read++;
	if (check_limits(m, it, ++t->nrec, e) == -1)
		return -1;
	if (it->line <= m->skip_to) {
		m->st->skipped++;
		return 0;
	}
	if (it->emb == NULL)
		return cdb_error_setl(e, it->line,
		    "id \"%s\": record has no embedding, which Chroma needs "
		    "(export with --embeddings float or base64)", it->id);
	if (t->dim > 0 && it->dim != t->dim)
		return cdb_error_setl(e, it->line,
		    "embedding has %zu values, collection expects %zu", it->dim,
		    t->dim);
	if (cdb_rules_record(it, &m->caps, e) == -1)
		return -1;
	if (t->arrays != NULL && has_array(it->metadata) &&
	    cdb_hmap_put(t->arrays, cdb_hmap_key(NULL, it->id, it->id_len), 1,
		NULL) == -1)
		return cdb_error_oom(e);
	t->dim = it->dim;
	if (add_sized(m, t, it, e) == -1 || cap_pending(m, e) == -1)
		return -1;
	full = m->sent || m->batch < FIRST_BATCH ? m->batch : FIRST_BATCH;
	/* A full batch goes now: a bad line later must not hold it back. */
	return t->pending != NULL && t->pending->n >= full ? submit(m, t, e) : 0;
}

/* The header's "shard" object, if any, in sh. */
static int
shard_of(const cdb_item *it, cdb_shard *sh, cdb_error *e)
{
	json_t *v = json_object_get(it->obj, "shard");
	json_int_t k, n;

	sh->k = sh->n = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	k = json_integer_value(json_object_get(v, "index"));
	n = json_integer_value(json_object_get(v, "of"));
	if (!json_is_string(json_object_get(v, "export")) || n < 1 ||
	    n > 65536 || k < 1 || k > n)
		return cdb_error_setl(e, it->line,
		    "header: \"shard\" needs \"export\", \"index\" and \"of\", "
		    "with 1 <= index <= of");
	sh->k = (int)k;
	sh->n = (int)n;
	return 0;
}

/*
 * Records of t in page p that show array metadata they were not given;
 * the first one's id in first unless it holds one already.
 */
static long long
count_altered(const struct target *t, const cdb_page *p, char *first,
    size_t n)
{
	long long altered = 0;
	const json_t *id;
	size_t i;

	for (i = 0; i < p->n; i++) {
		id = json_array_get(p->ids, i);
		if (!has_array(json_array_get(p->metadatas, i)) ||
		    cdb_hmap_get(t->arrays,
			cdb_hmap_key(NULL, json_string_value(id),
			    json_string_length(id)),
			NULL) == 1)
			continue;
		if (altered++ == 0 && *first == '\0')
			snprintf(first, n, "%s", json_string_value(id));
	}
	return altered;
}

/*
 * Chroma 1.3 keeps the array metadata of deleted records and hands it to
 * new records that reuse their row ids: a collection created under a
 * name that was deleted earlier can show array keys its records were
 * never given.  Read back the metadata of a collection this run created
 * and fail if any record shows such a key (cdb-import(1), BUGS).
 */
static int
check_created(struct imp *m, const struct target *t, cdb_error *e)
{
	enum { PAGE = 1000 };
	long long altered = 0;
	char first[200] = "";
	cdb_page p;
	long off;
	int rc = 0;

	cdb_page_init(&p);
	for (off = 0;; off += PAGE) {
		if ((rc = cdb_page_get(m->c, t->id, off, PAGE, NULL, NULL,
			 CDB_INC_METADATAS, &p, e)) == -1 ||
		    p.n == 0)
			break;
		altered += count_altered(t, &p, first, sizeof(first));
	}
	cdb_page_free(&p);
	if (rc == 0 && altered > 0)
		rc = cdb_error_set(e, CDB_ERR_INPUT,
		    "collection \"%s\": the server shows array metadata on %lld "
		    "records that were not given any (the first: id \"%s\"): "
		    "Chroma reused values of records deleted earlier under this "
		    "name; see BUGS in cdb-import(1) for the repair",
		    t->name, altered, first);
	return rc;
}

static int
check_resume(struct imp *m, const cdb_item *it, cdb_error *e)
{
	const char *keys[] = {"source", "created", "tenant", "database"};
	json_t *a, *b;
	size_t i;

	if (shard_of(it, &m->shard, e) == -1)
		return -1;
	if (m->ckpt == NULL)
		return 0;
	if (json_object_get(m->ckpt, "header") == NULL)
		return json_object_set(m->ckpt, "header", it->obj) == 0
			   ? 0
			   : cdb_error_oom(e);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		a = json_object_get(json_object_get(m->ckpt, "header"), keys[i]);
		b = json_object_get(it->obj, keys[i]);
		if (!json_equal(a, b))
			return cdb_error_setl(e, it->line,
			    "the checkpoint %s belongs to another stream (its "
			    "header differs in \"%s\"); remove it to start over",
			    m->o->checkpoint, keys[i]);
	}
	return 0;
}

static int
load_ckpt(struct imp *m, cdb_error *e)
{
	if (m->o->checkpoint == NULL)
		return 0;
	m->ckpt = cdb_checkpoint_load(m->o->checkpoint, e);
	if (m->ckpt == NULL) {
		if (e->kind != CDB_ERR_NONE)
			return -1;
		m->ckpt = json_pack("{s:i, s:s, s:s, s:s, s:s, s:i, s:{}}",
		    "version", CKPT_VERSION, "kind", "cdb-import", "target",
		    cdb_chroma_url(m->c), "tenant", m->o->tenant, "database",
		    m->o->database, "line", 0, "collections");
		return m->ckpt ? 0 : cdb_error_oom(e);
	}
	if (json_integer_value(json_object_get(m->ckpt, "version")) !=
	    CKPT_VERSION ||
	    !cdb_json_str_is(m->ckpt, "kind", "cdb-import") ||
	    !json_is_object(json_object_get(m->ckpt, "collections")))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: not a cdb-import checkpoint", m->o->checkpoint);
	if (!cdb_json_str_is(m->ckpt, "target", cdb_chroma_url(m->c)) ||
	    !cdb_json_str_is(m->ckpt, "tenant", m->o->tenant) ||
	    !cdb_json_str_is(m->ckpt, "database", m->o->database))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: checkpoint belongs to an import into another server, "
		    "tenant or database", m->o->checkpoint);
	m->skip_to = (long)json_integer_value(json_object_get(m->ckpt, "line"));
	m->st->resumed = 1;
	m->st->already_done = json_is_true(json_object_get(m->ckpt, "complete"));
	return 0;
}

/* The target database must exist, or be created when asked (a dry run
 * only checks that it could be). */
static int
target_database(struct imp *m, cdb_error *e)
{
	cdb_error e2;

	cdb_error_clear(&e2);
	if (cdb_chroma_check_database(m->c, &e2) == 0)
		return 0;
	if (e2.http_status != 404 || !m->o->create_database) {
		if (e2.http_status == 404)
			cdb_error_set(e, CDB_ERR_USAGE,
			    "%s; create it first, or give --create-database",
			    e2.text);
		else
			*e = e2;
		return -1;
	}
	return m->o->dry_run ? 0 : cdb_chroma_create_database(m->c, e);
}

static int
start_workers(struct imp *m, cdb_error *e)
{
	size_t n = (size_t)m->jobs;

	if ((m->todo = cdb_queue_new(n, e)) == NULL ||
	    (m->done = cdb_queue_new(n, e)) == NULL)
		return -1;
	if ((m->flying = calloc(n, sizeof(*m->flying))) == NULL ||
	    (m->spare = calloc(n + 2, sizeof(*m->spare))) == NULL)
		return cdb_error_oom(e);
	return cdb_workers_start(&m->workers, m->jobs, worker, m, e);
}

static int
setup(struct imp *m, cdb_error *e)
{
	const cdb_quota *lim = m->o->limits;
	long maxb = 0;

	m->c = cdb_chroma_new(m->o->url, m->o->tenant, m->o->database,
	    m->o->http, e);
	if (m->c == NULL ||
	    cdb_chroma_preflight(m->c, &maxb, &m->base64, e) == -1 ||
	    target_database(m, e) == -1)
		return -1;
	m->batch = m->o->batch > 0 ? m->o->batch : maxb > 0 ? maxb : 1000;
	if (maxb > 0 && m->batch > maxb)
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "batch size %ld is above the server's limit of %ld",
		    m->batch, maxb);
	if (lim != NULL && lim->records_per_write > 0) {
		if (m->o->batch > lim->records_per_write)
			return cdb_error_set(e, CDB_ERR_USAGE,
			    "batch size %ld is above the limit of %lld records "
			    "per write",
			    m->batch, lim->records_per_write);
		if (m->batch > lim->records_per_write)
			m->batch = (long)lim->records_per_write;
	}
	m->jobs = m->o->jobs > 0 ? m->o->jobs : 1;
	m->max_bytes = m->o->max_bytes ? m->o->max_bytes
				       : BATCH_MEMORY / (size_t)(m->jobs + 1);
	m->st->batch = m->batch;
	m->st->base64 = m->base64;
	/* The servers that announce base64 are the ones with array values. */
	m->caps.arrays = m->base64;
	if (load_ckpt(m, e) == -1)
		return -1;
	return m->o->dry_run ? 0 : start_workers(m, e);
}

static int
run(struct imp *m, FILE *in, cdb_error *e)
{
	int rc, flags = m->o->allow_partial ? CDB_READ_ALLOW_PARTIAL : 0;
	cdb_item it;
	size_t i;

	if (setup(m, e) == -1)
		return -1;
	if ((m->r = cdb_reader_new(in, m->o->input, flags)) == NULL)
		return cdb_error_oom(e);
	while ((rc = cdb_reader_next(m->r, &it, e)) == 1) {
		m->last_line = it.line - 1;
		if (it.kind == CDB_KIND_HEADER)
			rc = check_resume(m, &it, e);
		else if (it.kind == CDB_KIND_COLLECTION)
			rc = on_collection(m, &it, e);
		else if (it.kind == CDB_KIND_RECORD)
			rc = on_record(m, &it, e);
		if (rc == -1)
			break;
		if (m->st->already_done && it.kind == CDB_KIND_HEADER)
			return 0;
		m->last_line = it.line;
	}
	if (rc == -1) {
		/* Keep what landed; leave the half-read batches unsent. */
		drain(m, NULL);
		save_ckpt(m, 0, NULL);
		return -1;
	}
	m->st->partial = cdb_reader_partial(m->r);
	if (m->st->broken > 0)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%lld limits of the target broken; nothing was written",
		    m->st->broken);
	rc = submit_all(m, e);
	if (drain(m, e) == -1)
		rc = -1;
	for (i = 0; i < m->ntargets && rc == 0; i++)
		if (m->targets[i]->arrays != NULL)
			rc = check_created(m, m->targets[i], e);
	if (rc == -1) {
		save_ckpt(m, 0, NULL);
		return -1;
	}
	return save_ckpt(m, !m->st->partial, e);
}

int
cdb_import_run(FILE *in, const cdb_import_opts *o, cdb_import_stats *st,
    cdb_error *e)
{
	cdb_lock *lock = NULL;
	struct imp m;
	size_t i;
	int rc;

	memset(&m, 0, sizeof(m));
	memset(st, 0, sizeof(*st));
	/* Before the checkpoint is read: another run may be updating it. */
	if (o->checkpoint != NULL && !o->dry_run &&
	    (lock = cdb_lock_new(o->checkpoint, e)) == NULL)
		return -1;
	m.o = o;
	m.st = st;
	rc = (m.index = json_object()) ? run(&m, in, e) : cdb_error_oom(e);
	if (m.todo != NULL)
		cdb_queue_close(m.todo);
	cdb_workers_join(m.workers);
	drain(&m, NULL);
	for (i = 0; i < m.ntargets; i++) {
		batch_free(m.targets[i]->pending);
		free(m.targets[i]->name);
		free(m.targets[i]->id);
		cdb_hmap_free(m.targets[i]->arrays);
		free(m.targets[i]);
	}
	while (m.nspare > 0)
		batch_free(m.spare[--m.nspare]);
	free(m.spare);
	free(m.targets);
	free(m.flying);
	cdb_queue_free(m.todo);
	cdb_queue_free(m.done);
	json_decref(m.index);
	json_decref(m.ckpt);
	cdb_reader_free(m.r);
	cdb_chroma_free(m.c);
	cdb_lock_free(lock);
	return rc;
}
