/* snapshot.c - writing snapshot files; see snapshot.h and cdb-snapshot(5). */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "digest.h"
#include "gzip.h"
#include "json.h"
#include "lock.h"
#include "snapshot.h"
#include "testpoint.h"

#define CKPT_VERSION 1
/*
 * Room between the exporter and the compressor: a whole page of records
 * (a few MB) fits, so the exporter never waits for the compressor while
 * the server could be preparing the next page.
 */
#define QUEUE_BYTES (8u << 20)

/* A bounded byte queue from one writer thread to one reader thread. */
struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *buf;
	size_t head, len;
	int closed;
};

/*
 * A member on its way: the caller exports into its queue, a compressor
 * thread hashes and compresses that into its spool file, and a finisher
 * thread appends it to the partial file, while the next member is
 * already being exported into the other slot.
 */
struct member {
	cdb_snapshot_writer *w;
	char name[160];
	char *spool_path;
	int spool;
	struct seg *seg;
	struct queue q;
	pthread_t compressor;
	int compressing; /* started, not joined */
	cdb_digest digest;
	long long bytes;
	json_t *entry; /* the caller's manifest fields */
	cdb_error err; /* the compressor's, then the finisher's */
};

struct cdb_snapshot_writer {
	char *path, *partial, *ckpt_path;
	int comp, level, force;
	int fd; /* the partial file, positioned at its end */
	json_t
	    *ckpt; /* version, kind, identity, created, offset, collections */
	int resumed;
	struct member slot[2];
	struct member *cur; /* being written by the caller, or NULL */
	FILE *out;          /* the caller's end of cur's queue */
	size_t next;        /* number of the next member */
	pthread_t finisher;
	struct member *fin; /* being finished, or NULL */
	cdb_lock *lock;     /* on path, for the writer's life */
};

static const char *const comp_names[] = {"none", "gzip", "zstd", "xz"};

int
cdb_snapshot_comp_parse(const char *name)
{
	int i;

	for (i = 0; i < 4; i++)
		if (strcmp(name, comp_names[i]) == 0)
			return i;
	return -1;
}

const char *
cdb_snapshot_comp_name(int comp)
{
	return comp >= 0 && comp < 4 ? comp_names[comp] : "unknown";
}

int
cdb_snapshot_comp_guess(const char *path)
{
	static const struct {
		const char *suffix;
		int comp;
	} t[] = {
	    {".tar.gz", CDB_SNAP_GZIP},
	    {".tgz", CDB_SNAP_GZIP},
	    {".tar.zst", CDB_SNAP_ZSTD},
	    {".tzst", CDB_SNAP_ZSTD},
	    {".tar.xz", CDB_SNAP_XZ},
	    {".txz", CDB_SNAP_XZ},
	    {".tar", CDB_SNAP_NONE},
	};
	size_t i, n = strlen(path), k;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		k = strlen(t[i].suffix);
		if (n > k && strcmp(path + n - k, t[i].suffix) == 0)
			return t[i].comp;
	}
	return -1;
}

static int
safe_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

void
cdb_snapshot_member_name(char *out, size_t size, size_t index, const char *name)
{
	char safe[101];
	size_t i;

	for (i = 0; name[i] != '\0' && i < sizeof(safe) - 1; i++)
		safe[i] = safe_char(name[i]) ? name[i] : '_';
	safe[i] = '\0';
	snprintf(
	    out, size, "%s%04zu-%s.ndjson", CDB_SNAPSHOT_PREFIX, index, safe);
}

int
cdb_snapshot_member_ok(const char *m)
{
	size_t n, k = strlen(CDB_SNAPSHOT_PREFIX), digits = 0, safe = 0;

	if (strncmp(m, CDB_SNAPSHOT_PREFIX, k) != 0)
		return 0;
	for (m += k; *m >= '0' && *m <= '9'; m++)
		digits++;
	if (digits < 4 || *m++ != '-')
		return 0;
	n = strlen(m);
	if (n <= 7 || strcmp(m + n - 7, ".ndjson") != 0)
		return 0;
	for (; safe < n - 7 && safe_char(m[safe]); safe++)
		;
	return safe == n - 7 && safe <= 100;
}

/* ------------------------------------------------------------ segments -- */

/* The compressor for comp, refusing libarchive's external programs. */
static int
add_filter(struct archive *a, int comp, int level)
{
	char lv[16];
	int rc;

	switch (comp) {
	case CDB_SNAP_GZIP:
		rc = archive_write_add_filter_gzip(a);
		break;
	case CDB_SNAP_ZSTD:
		rc = archive_write_add_filter_zstd(a);
		break;
	case CDB_SNAP_XZ:
		rc = archive_write_add_filter_xz(a);
		break;
	default:
		return archive_write_add_filter_none(a) == ARCHIVE_OK ? 0 : -1;
	}
	if (rc != ARCHIVE_OK)
		return -1;
	/* Only the manifest's gzip segment comes here (see struct seg). */
	if (level == 0 && comp == CDB_SNAP_GZIP)
		level = 1;
	snprintf(lv, sizeof(lv), "%d", level);
	if (level > 0 && archive_write_set_filter_option(
	                     a, NULL, "compression-level", lv) != ARCHIVE_OK)
		return -1;
	return 0;
}

static int
archive_fail(struct archive *a, const char *what, cdb_error *e)
{
	const char *s = a ? archive_error_string(a) : NULL;

	return cdb_error_set(
	    e, CDB_ERR_SYS, "%s: %s", what, s ? s : "out of memory");
}

/* A writer to fd without blocking or padding: output is exact bytes. */
static struct archive *
writer_on_fd(
    int fd, int raw, int comp, int level, const char *what, cdb_error *e)
{
	struct archive *a = archive_write_new();

	if (a == NULL ||
	    (raw ? archive_write_set_format_raw(a)
	         : archive_write_set_format_pax_restricted(a)) != ARCHIVE_OK ||
	    add_filter(a, comp, level) == -1 ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		archive_fail(a, what, e);
		archive_write_free(a);
		return NULL;
	}
	return a;
}

static int
put_entry(struct archive *a, const char *name, long long size, const char *what,
    cdb_error *e)
{
	struct archive_entry *en = archive_entry_new();
	int rc;

	if (en == NULL)
		return cdb_error_oom(e);
	archive_entry_set_pathname(en, name);
	archive_entry_set_filetype(en, AE_IFREG);
	archive_entry_set_perm(en, 0644);
	archive_entry_set_size(en, size);
	archive_entry_set_mtime(en, time(NULL), 0);
	rc = archive_write_header(a, en);
	archive_entry_free(en);
	return rc == ARCHIVE_OK ? 0 : archive_fail(a, what, e);
}

static int
arc_write(
    struct archive *a, const void *p, size_t n, const char *what, cdb_error *e)
{
	la_ssize_t w;

	while (n > 0) {
		if ((w = archive_write_data(a, p, n)) <= 0)
			return archive_fail(a, what, e);
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

static int
arc_close(struct archive *a, const char *what, cdb_error *e)
{
	int rc =
	    archive_write_close(a) == ARCHIVE_OK ? 0 : archive_fail(a, what, e);

	archive_write_free(a);
	return rc;
}

/*
 * A compressed segment of raw bytes.  gzip without a level is coded with
 * Huffman codes only (gzip.h says why), by lib/gzip.c, as libarchive
 * cannot select that; everything else goes through libarchive's raw
 * format, which writes the data and nothing else.
 */
struct seg {
	struct archive *a;
	cdb_gzip *gz;
	int fd;
	const char *what;
};

static int
seg_sink(void *arg, const void *p, size_t n, cdb_error *e)
{
	struct seg *s = arg;

	if (cdb_checkpoint_write_all(s->fd, p, n) == -1)
		return cdb_error_sys(e, errno, "%s", s->what);
	return 0;
}

static void
seg_free(struct seg *s)
{
	if (s == NULL)
		return;
	cdb_gzip_free(s->gz);
	archive_write_free(s->a);
	free(s);
}

static struct seg *
seg_open(int fd, int comp, int level, const char *what, cdb_error *e)
{
	struct seg *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		cdb_error_oom(e);
		return NULL;
	}
	s->fd = fd;
	s->what = what;
	if (comp == CDB_SNAP_GZIP && level == 0) {
		if ((s->gz = cdb_gzip_new(seg_sink, s, e)) == NULL) {
			free(s);
			return NULL;
		}
		return s;
	}
	if ((s->a = writer_on_fd(fd, 1, comp, level, what, e)) == NULL ||
	    put_entry(s->a, "data", 0, what, e) == -1) {
		seg_free(s);
		return NULL;
	}
	return s;
}

static int
seg_write(struct seg *s, const void *p, size_t n, cdb_error *e)
{
	if (s->gz != NULL)
		return cdb_gzip_write(s->gz, p, n, e);
	return arc_write(s->a, p, n, s->what, e);
}

/* Finish the segment and free s, whatever happens. */
static int
seg_close(struct seg *s, cdb_error *e)
{
	int rc;

	if (s->gz != NULL)
		rc = cdb_gzip_finish(s->gz, e);
	else {
		rc = arc_close(s->a, s->what, e);
		s->a = NULL;
	}
	seg_free(s);
	return rc;
}

struct capture {
	cdb_buf *b;
	int on;
};

static la_ssize_t
capture_write(struct archive *a, void *arg, const void *p, size_t n)
{
	struct capture *c = arg;

	(void)a;
	if (c->on && cdb_buf_append(c->b, p, n) == -1)
		return -1;
	return (la_ssize_t)n;
}

/*
 * The tar header (pax extension included when the size needs it) of a
 * member of size bytes.  libarchive writes it when asked for the header;
 * closing then writes the member's size in zeros and the end blocks,
 * which are dropped: the real data is compressed separately.
 */
static int
tar_header(cdb_buf *out, const char *name, long long size, cdb_error *e)
{
	struct capture cap = {out, 1};
	struct archive *a = archive_write_new();
	int rc;

	if (a == NULL ||
	    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_open2(a, &cap, NULL, capture_write, NULL, NULL) !=
	        ARCHIVE_OK) {
		archive_fail(a, "tar header", e);
		archive_write_free(a);
		return -1;
	}
	rc = put_entry(a, name, size, "tar header", e);
	cap.on = 0;
	archive_write_free(a);
	return rc;
}

/* ---------------------------------------------------------- the writer -- */

static char *
concat(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	char *s = malloc(n + m + 1);

	if (s != NULL) {
		memcpy(s, a, n);
		memcpy(s + n, b, m + 1);
	}
	return s;
}

static void
utc_now(char out[32])
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Fail now, not after an hour of export, when a compressor is missing. */
static int
check_comp(int comp, int level, cdb_error *e)
{
	struct archive *a = archive_write_new();
	int rc = a != NULL && add_filter(a, comp, level) == 0 ? 0 : -1;

	archive_write_free(a);
	if (rc == -1)
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "%s compression%s is not available in this libarchive",
		    cdb_snapshot_comp_name(comp),
		    level > 0 ? " at that level" : "");
	return 0;
}

static json_t *
full_identity(const json_t *identity, int comp, int level)
{
	json_t *id = json_deep_copy(identity ? identity : json_object());

	if (id != NULL) {
		json_object_set_new(id, "compression",
		    json_string(cdb_snapshot_comp_name(comp)));
		json_object_set_new(id, "level", json_integer(level));
	}
	return id;
}

static int
fresh(cdb_snapshot_writer *w, json_t *id, cdb_error *e)
{
	char when[32];

	utc_now(when);
	w->fd = open(w->partial, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (w->fd == -1)
		return cdb_error_sys(e, errno, "%s", w->partial);
	w->ckpt = json_pack("{s:i, s:s, s:O, s:s, s:i, s:[]}", "version",
	    CKPT_VERSION, "kind", "cdb-snapshot", "identity", id, "created",
	    when, "offset", 0, "collections");
	if (w->ckpt == NULL)
		return cdb_error_oom(e);
	return cdb_checkpoint_save(w->ckpt_path, w->ckpt, e);
}

static int
resume(cdb_snapshot_writer *w, const json_t *id, cdb_error *e)
{
	json_t *c = w->ckpt;
	long long off = json_integer_value(json_object_get(c, "offset"));
	struct stat sb;

	if (json_integer_value(json_object_get(c, "version")) != CKPT_VERSION ||
	    !cdb_json_str_is(c, "kind", "cdb-snapshot") ||
	    !json_is_array(json_object_get(c, "collections")) ||
	    !json_is_string(json_object_get(c, "created")))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: not a cdb-rollback snapshot checkpoint", w->ckpt_path);
	if (!json_equal(json_object_get(c, "identity"), (json_t *)id))
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "%s: an interrupted snapshot of another server, or with "
		    "other collections or options, is there; rerun that "
		    "command to finish it, or remove %s to start over",
		    w->partial, w->ckpt_path);
	if ((w->fd = open(w->partial, O_RDWR)) == -1 || fstat(w->fd, &sb) == -1)
		return cdb_error_set(e, CDB_ERR_SYS,
		    "%s: %s (needed to resume)", w->partial, strerror(errno));
	if (sb.st_size < off)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s is shorter than its checkpoint says; remove %s to "
		    "start over",
		    w->partial, w->ckpt_path);
	/* Drop the torn end of the member that was being written. */
	if (ftruncate(w->fd, (off_t)off) == -1 ||
	    lseek(w->fd, (off_t)off, SEEK_SET) == -1)
		return cdb_error_sys(e, errno, "%s", w->partial);
	w->resumed = 1;
	return 0;
}

static int
writer_open(cdb_snapshot_writer *w, const json_t *identity, cdb_error *e)
{
	json_t *id;
	int rc;

	if (!w->force && access(w->path, F_OK) == 0)
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "%s exists; remove it or choose another name (-f replaces "
		    "it)",
		    w->path);
	if (check_comp(w->comp, w->level, e) == -1)
		return -1;
	if ((id = full_identity(identity, w->comp, w->level)) == NULL)
		return cdb_error_oom(e);
	w->ckpt = cdb_checkpoint_load(w->ckpt_path, e);
	if (w->ckpt == NULL && e != NULL && e->kind != CDB_ERR_NONE)
		rc = -1;
	else
		rc = w->ckpt ? resume(w, id, e) : fresh(w, id, e);
	json_decref(id);
	return rc;
}

cdb_snapshot_writer *
cdb_snapshot_writer_new(const char *path, int comp, int level, int force,
    const json_t *identity, cdb_error *e)
{
	cdb_snapshot_writer *w;
	int i;

	if (cdb_checkpoint_replaceable(path, e) == -1)
		return NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		cdb_error_oom(e);
		return NULL;
	}
	w->fd = -1;
	/* Before anything is looked at: another run may be writing it. */
	if ((w->lock = cdb_lock_new(path, e)) == NULL) {
		free(w);
		return NULL;
	}
	for (i = 0; i < 2; i++) {
		w->slot[i].w = w;
		w->slot[i].spool = -1;
		pthread_mutex_init(&w->slot[i].q.mu, NULL);
		pthread_cond_init(&w->slot[i].q.cv, NULL);
	}
	w->comp = comp;
	w->level = level;
	w->force = force;
	w->path = strdup(path);
	w->partial = concat(path, ".partial");
	w->ckpt_path = concat(path, ".partial.ckpt");
	w->slot[0].spool_path = concat(path, ".partial.spool.0");
	w->slot[1].spool_path = concat(path, ".partial.spool.1");
	if (w->path == NULL || w->partial == NULL || w->ckpt_path == NULL ||
	    w->slot[0].spool_path == NULL || w->slot[1].spool_path == NULL) {
		cdb_error_oom(e);
		cdb_snapshot_writer_free(w);
		return NULL;
	}
	if (writer_open(w, identity, e) == -1) {
		cdb_snapshot_writer_free(w);
		return NULL;
	}
	w->next = json_array_size(cdb_snapshot_writer_done(w)) + 1;
	return w;
}

const json_t *
cdb_snapshot_writer_done(const cdb_snapshot_writer *w)
{
	return json_object_get(w->ckpt, "collections");
}

int
cdb_snapshot_writer_resumed(const cdb_snapshot_writer *w)
{
	return w->resumed;
}

static ssize_t
queue_write(void *cookie, const char *p, size_t n)
{
	struct queue *q = cookie;
	size_t done = 0, tail, k;

	pthread_mutex_lock(&q->mu);
	while (done < n) {
		while (q->len == QUEUE_BYTES)
			pthread_cond_wait(&q->cv, &q->mu);
		/* Not full here, so tail == head means empty. */
		tail = (q->head + q->len) % QUEUE_BYTES;
		k = tail >= q->head ? QUEUE_BYTES - tail : q->head - tail;
		if (k > n - done)
			k = n - done;
		memcpy(q->buf + tail, p + done, k);
		q->len += k;
		done += k;
		pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return (ssize_t)n;
}

static int
queue_close(void *cookie)
{
	struct queue *q = cookie;

	pthread_mutex_lock(&q->mu);
	q->closed = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

/*
 * The next run of queued bytes, left in place until queue_pop: 0 when the
 * writer has closed and everything was read.
 */
static size_t
queue_peek(struct queue *q, const char **p)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	while (q->len == 0 && !q->closed)
		pthread_cond_wait(&q->cv, &q->mu);
	n = q->len;
	if (q->head + n > QUEUE_BYTES)
		n = QUEUE_BYTES - q->head;
	*p = q->buf + q->head;
	pthread_mutex_unlock(&q->mu);
	return n;
}

static void
queue_pop(struct queue *q, size_t n)
{
	pthread_mutex_lock(&q->mu);
	q->head = (q->head + n) % QUEUE_BYTES;
	q->len -= n;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/*
 * The compressor: hash, count and compress what the caller writes, then
 * pad the member to a tar block.  After an error it keeps reading, so the
 * caller never blocks on a full queue; the error is reported later.
 */
static void *
compress_member(void *arg)
{
	static const char zeros[512];
	struct member *m = arg;
	const char *p;
	size_t n;
	int ok = 1;

	while ((n = queue_peek(&m->q, &p)) > 0) {
		cdb_digest_update(&m->digest, p, n);
		m->bytes += (long long)n;
		if (ok && seg_write(m->seg, p, n, &m->err) == -1)
			ok = 0;
		queue_pop(&m->q, n);
	}
	if (ok && m->bytes % 512 != 0)
		ok = seg_write(m->seg, zeros, (size_t)(512 - m->bytes % 512),
		         &m->err) == 0;
	if (seg_close(m->seg, ok ? &m->err : NULL) == -1)
		ok = 0;
	m->seg = NULL;
	return NULL;
}

static int
start_member(struct member *m, int comp, int level, cdb_error *e)
{
	cdb_digest_init(&m->digest);
	m->bytes = 0;
	cdb_error_clear(&m->err);
	m->q.head = m->q.len = 0;
	m->q.closed = 0;
	if (m->q.buf == NULL && (m->q.buf = malloc(QUEUE_BYTES)) == NULL)
		return cdb_error_oom(e);
	m->spool = open(m->spool_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (m->spool == -1)
		return cdb_error_sys(e, errno, "%s", m->spool_path);
	if ((m->seg = seg_open(m->spool, comp, level, m->spool_path, e)) ==
	    NULL)
		return -1;
	if (pthread_create(&m->compressor, NULL, compress_member, m) != 0) {
		seg_free(m->seg);
		m->seg = NULL;
		return cdb_error_set(e, CDB_ERR_SYS, "cannot start a thread");
	}
	m->compressing = 1;
	return 0;
}

FILE *
cdb_snapshot_writer_begin(
    cdb_snapshot_writer *w, const char *name, cdb_error *e)
{
	static const cookie_io_functions_t io = {
	    NULL, queue_write, NULL, queue_close};
	struct member *m;

	if (w->cur != NULL || w->fd == -1) {
		cdb_error_set(
		    e, CDB_ERR_USAGE, "snapshot member already begun");
		return NULL;
	}
	/* The other slot may still be being finished. */
	m = w->fin == &w->slot[0] ? &w->slot[1] : &w->slot[0];
	cdb_snapshot_member_name(m->name, sizeof(m->name), w->next, name);
	if ((w->out = fopencookie(&m->q, "w", io)) == NULL) {
		cdb_error_oom(e);
		return NULL;
	}
	setvbuf(w->out, NULL, _IOFBF, 1 << 16);
	if (start_member(m, w->comp, w->level, e) == -1) {
		fclose(w->out);
		w->out = NULL;
		return NULL;
	}
	w->cur = m;
	w->next++;
	return w->out;
}

/* Append the spooled, already compressed member data. */
static int
copy_spool(cdb_snapshot_writer *w, struct member *m, cdb_error *e)
{
	char buf[65536];
	ssize_t n;

	if (lseek(m->spool, 0, SEEK_SET) == -1)
		return cdb_error_sys(e, errno, "%s", m->spool_path);
	while ((n = read(m->spool, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return cdb_error_sys(e, errno, "%s",
			    m->spool_path);
		if (cdb_checkpoint_write_all(w->fd, buf, (size_t)n) == -1)
			return cdb_error_sys(e, errno, "%s",
			    w->partial);
	}
	return 0;
}

/* Header segment, then the data segment; durable before the checkpoint. */
static int
append_member(cdb_snapshot_writer *w, struct member *m, cdb_error *e)
{
	struct seg *h = NULL;
	cdb_buf hdr;
	int rc = -1;

	cdb_buf_init(&hdr);
	if (tar_header(&hdr, m->name, m->bytes, e) == 0 &&
	    (h = seg_open(w->fd, w->comp, w->level, w->partial, e)) != NULL) {
		if (seg_write(h, hdr.data, hdr.len, e) == -1)
			seg_free(h);
		else if (seg_close(h, e) == 0 && copy_spool(w, m, e) == 0)
			rc = 0;
	}
	cdb_buf_free(&hdr);
	if (rc == 0 && fsync(w->fd) == -1)
		rc = cdb_error_sys(e, errno, "%s: fsync", w->partial);
	return rc;
}

/* Record the appended member in the checkpoint. */
static int
commit_member(cdb_snapshot_writer *w, struct member *m, cdb_error *e)
{
	char dg[23];
	off_t off;

	if ((off = lseek(w->fd, 0, SEEK_CUR)) == -1)
		return cdb_error_sys(e, errno, "%s", w->partial);
	cdb_digest_format(&m->digest, dg);
	json_object_set_new(m->entry, "member", json_string(m->name));
	json_object_set_new(m->entry, "bytes", json_integer(m->bytes));
	json_object_set_new(m->entry, "digest", json_string(dg));
	json_array_append(json_object_get(w->ckpt, "collections"), m->entry);
	json_object_set_new(w->ckpt, "offset", json_integer((json_int_t)off));
	if (cdb_checkpoint_save(w->ckpt_path, w->ckpt, e) == -1)
		return -1;
	cdb_testpoint("snapshot-member",
	    (long long)json_array_size(json_object_get(w->ckpt, "collections")));
	return 0;
}

/*
 * The finisher: once the member is compressed, append it and checkpoint
 * it, while the caller exports the next one.  Errors stay in m->err.
 */
static void *
finish_member(void *arg)
{
	struct member *m = arg;
	cdb_snapshot_writer *w = m->w;

	pthread_join(m->compressor, NULL);
	m->compressing = 0;
	if (m->err.kind == CDB_ERR_NONE && append_member(w, m, &m->err) == 0)
		commit_member(w, m, &m->err);
	close(m->spool);
	m->spool = -1;
	json_decref(m->entry);
	m->entry = NULL;
	return NULL;
}

/* Wait for the member being finished.  0, or -1 with its error. */
static int
wait_finisher(cdb_snapshot_writer *w, cdb_error *e)
{
	struct member *m = w->fin;

	if (m == NULL)
		return 0;
	pthread_join(w->finisher, NULL);
	w->fin = NULL;
	if (m->err.kind == CDB_ERR_NONE)
		return 0;
	return cdb_error_set(e, m->err.kind, "%s", m->err.text);
}

/* Let go of the member being written: its data is dropped. */
static void
drop_member(cdb_snapshot_writer *w)
{
	struct member *m = w->cur;

	if (w->out != NULL)
		fclose(w->out);
	w->out = NULL;
	w->cur = NULL;
	if (m == NULL)
		return;
	if (m->compressing)
		pthread_join(m->compressor, NULL);
	m->compressing = 0;
	seg_free(m->seg);
	m->seg = NULL;
	if (m->spool != -1)
		close(m->spool);
	m->spool = -1;
}

int
cdb_snapshot_writer_end(
    cdb_snapshot_writer *w, const json_t *entry, cdb_error *e)
{
	struct member *m = w->cur;

	if (m == NULL)
		return cdb_error_set(
		    e, CDB_ERR_USAGE, "no snapshot member begun");
	if (fclose(w->out) == EOF) {
		w->out = NULL;
		drop_member(w);
		return cdb_error_sys(e, errno, "%s", m->spool_path);
	}
	w->out = NULL;
	/* Members are appended in order, one finisher at a time. */
	if (wait_finisher(w, e) == -1 ||
	    (m->entry = json_deep_copy(entry)) == NULL) {
		drop_member(w);
		return e != NULL && e->kind != CDB_ERR_NONE
		           ? -1
		           : cdb_error_oom(e);
	}
	if (pthread_create(&w->finisher, NULL, finish_member, m) != 0) {
		json_decref(m->entry);
		m->entry = NULL;
		drop_member(w);
		return cdb_error_set(e, CDB_ERR_SYS, "cannot start a thread");
	}
	w->fin = m;
	w->cur = NULL;
	return 0;
}

static json_t *
build_manifest(cdb_snapshot_writer *w, const json_t *top)
{
	json_t *colls = json_object_get(w->ckpt, "collections"), *c;
	json_int_t records = 0;
	json_t *m;
	size_t i;

	m = json_pack("{s:s, s:i, s:O}", "format", CDB_SNAPSHOT_FORMAT,
	    "version", CDB_SNAPSHOT_VERSION, "created",
	    json_object_get(w->ckpt, "created"));
	if (m == NULL)
		return NULL;
	if (top != NULL)
		json_object_update_missing(m, (json_t *)top);
	json_array_foreach (colls, i, c)
		records += json_integer_value(json_object_get(c, "count"));
	json_object_set_new(m, "records", json_integer(records));
	json_object_set_new(
	    m, "compression", json_string(cdb_snapshot_comp_name(w->comp)));
	json_object_set(m, "collections", colls);
	return m;
}

/* The manifest, then the tar end blocks, as the last segment. */
static int
write_manifest(cdb_snapshot_writer *w, const json_t *m, cdb_error *e)
{
	struct archive *a;
	cdb_buf text;
	int rc = -1;

	cdb_buf_init(&text);
	if (cdb_json_dump(&text, m) == -1 || cdb_buf_putc(&text, '\n') == -1) {
		cdb_buf_free(&text);
		return cdb_error_set(
		    e, CDB_ERR_SYS, "cannot format the manifest");
	}
	a = writer_on_fd(w->fd, 0, w->comp, w->level, w->partial, e);
	if (a != NULL &&
	    (put_entry(a, CDB_SNAPSHOT_MANIFEST, (long long)text.len,
	         w->partial, e) == -1 ||
	        arc_write(a, text.data, text.len, w->partial, e) == -1)) {
		archive_write_free(a);
		a = NULL;
	}
	if (a != NULL)
		rc = arc_close(a, w->partial, e);
	cdb_buf_free(&text);
	return rc;
}

/*
 * Remove the temporary files a kill -9 in the middle of saving the
 * checkpoint leaves (cdb_checkpoint_save's "CKPT.tmp.PID").
 */
static void
remove_ckpt_tmp(const char *ckpt)
{
	char *a = strdup(ckpt), *b = strdup(ckpt), *dir, *base;
	struct dirent *d;
	cdb_buf p;
	size_t n;
	DIR *dp;

	if (a == NULL || b == NULL ||
	    (dp = opendir(dir = dirname(a))) == NULL) {
		free(a);
		free(b);
		return;
	}
	base = basename(b);
	n = strlen(base);
	cdb_buf_init(&p);
	while ((d = readdir(dp)) != NULL)
		if (strncmp(d->d_name, base, n) == 0 &&
		    strncmp(d->d_name + n, ".tmp.", 5) == 0) {
			cdb_buf_reset(&p);
			if (cdb_buf_printf(&p, "%s/%s", dir, d->d_name) == 0)
				unlink(p.data);
		}
	closedir(dp);
	cdb_buf_free(&p);
	free(a);
	free(b);
}

/* The partial file becomes the snapshot only now, complete and durable. */
static int
commit_file(cdb_snapshot_writer *w, cdb_error *e)
{
	if (fsync(w->fd) == -1 || close(w->fd) == -1) {
		w->fd = -1;
		return cdb_error_sys(e, errno, "%s", w->partial);
	}
	w->fd = -1;
	if (!w->force && access(w->path, F_OK) == 0)
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "%s appeared while the snapshot was written; the snapshot "
		    "is in %s",
		    w->path, w->partial);
	if (rename(w->partial, w->path) == -1)
		return cdb_error_sys(e, errno, "%s", w->path);
	if (cdb_checkpoint_sync_dir(w->path, e) == -1)
		return -1;
	unlink(w->slot[0].spool_path);
	unlink(w->slot[1].spool_path);
	remove_ckpt_tmp(w->ckpt_path);
	return cdb_checkpoint_remove(w->ckpt_path, e);
}

int
cdb_snapshot_writer_finish(
    cdb_snapshot_writer *w, const json_t *top, cdb_error *e)
{
	json_t *m;
	int rc;

	if (w->cur != NULL || w->fd == -1)
		return cdb_error_set(
		    e, CDB_ERR_USAGE, "snapshot member not ended");
	if (wait_finisher(w, e) == -1)
		return -1;
	if ((m = build_manifest(w, top)) == NULL)
		return cdb_error_oom(e);
	rc = write_manifest(w, m, e);
	json_decref(m);
	return rc == -1 ? -1 : commit_file(w, e);
}

void
cdb_snapshot_writer_free(cdb_snapshot_writer *w)
{
	int i;

	if (w == NULL)
		return;
	drop_member(w);
	wait_finisher(w, NULL);
	if (w->fd != -1)
		close(w->fd);
	json_decref(w->ckpt);
	for (i = 0; i < 2; i++) {
		pthread_mutex_destroy(&w->slot[i].q.mu);
		pthread_cond_destroy(&w->slot[i].q.cv);
		free(w->slot[i].q.buf);
		free(w->slot[i].spool_path);
	}
	free(w->path);
	free(w->partial);
	free(w->ckpt_path);
	cdb_lock_free(w->lock);
	free(w);
}

void
cdb_snapshot_writer_cleanup(const char *path)
{
	static const char *const ext[] = {".partial", ".partial.ckpt",
	    ".partial.spool.0", ".partial.spool.1"};
	size_t i;
	char *p;

	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if ((p = concat(path, ext[i])) != NULL) {
			if (i == 1)
				remove_ckpt_tmp(p);
			unlink(p);
			free(p);
		}
}
