/* snapshot.c - writing snapshot files; see snapshot.h and cdb-snapshot(5). */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "digest.h"
#include "json.h"
#include "snapshot.h"

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

struct cdb_snapshot_writer {
	char *path, *partial, *ckpt_path, *spool_path;
	int comp, level, force;
	int fd; /* the partial file, positioned at its end */
	json_t
	    *ckpt; /* version, kind, identity, created, offset, collections */
	int resumed;
	/* The member being written. */
	char member[160];
	FILE *out; /* the caller's end of the queue */
	struct queue q;
	int spool;
	struct archive *seg;
	pthread_t thread;
	cdb_digest digest;
	long long bytes;
	cdb_error terr; /* the compressor thread's error */
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
	/*
	 * gzip's level 1 costs 20% less time than its default on embeddings,
	 * which hardly compress, for 5% more bytes: a snapshot is taken just
	 * before a migration, when time matters.
	 */
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
		return cdb_error_set(e, CDB_ERR_SYS, "out of memory");
	archive_entry_set_pathname(en, name);
	archive_entry_set_filetype(en, AE_IFREG);
	archive_entry_set_perm(en, 0644);
	archive_entry_set_size(en, size);
	archive_entry_set_mtime(en, time(NULL), 0);
	rc = archive_write_header(a, en);
	archive_entry_free(en);
	return rc == ARCHIVE_OK ? 0 : archive_fail(a, what, e);
}

/* A compressed segment: the raw format writes the data and nothing else. */
static struct archive *
seg_open(int fd, int comp, int level, const char *what, cdb_error *e)
{
	struct archive *a = writer_on_fd(fd, 1, comp, level, what, e);

	if (a != NULL && put_entry(a, "data", 0, what, e) == -1) {
		archive_write_free(a);
		return NULL;
	}
	return a;
}

static int
seg_write(
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
seg_close(struct archive *a, const char *what, cdb_error *e)
{
	int rc =
	    archive_write_close(a) == ARCHIVE_OK ? 0 : archive_fail(a, what, e);

	archive_write_free(a);
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
		return cdb_error_set(
		    e, CDB_ERR_SYS, "%s: %s", w->partial, strerror(errno));
	w->ckpt = json_pack("{s:i, s:s, s:O, s:s, s:i, s:[]}", "version",
	    CKPT_VERSION, "kind", "cdb-snapshot", "identity", id, "created",
	    when, "offset", 0, "collections");
	if (w->ckpt == NULL)
		return cdb_error_set(e, CDB_ERR_SYS, "out of memory");
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
		return cdb_error_set(
		    e, CDB_ERR_SYS, "%s: %s", w->partial, strerror(errno));
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
		return cdb_error_set(e, CDB_ERR_SYS, "out of memory");
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

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		cdb_error_set(e, CDB_ERR_SYS, "out of memory");
		return NULL;
	}
	w->fd = w->spool = -1;
	pthread_mutex_init(&w->q.mu, NULL);
	pthread_cond_init(&w->q.cv, NULL);
	w->comp = comp;
	w->level = level;
	w->force = force;
	w->path = strdup(path);
	w->partial = concat(path, ".partial");
	w->ckpt_path = concat(path, ".partial.ckpt");
	w->spool_path = concat(path, ".partial.spool");
	if (w->path == NULL || w->partial == NULL || w->ckpt_path == NULL ||
	    w->spool_path == NULL) {
		cdb_error_set(e, CDB_ERR_SYS, "out of memory");
		cdb_snapshot_writer_free(w);
		return NULL;
	}
	if (writer_open(w, identity, e) == -1) {
		cdb_snapshot_writer_free(w);
		return NULL;
	}
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
 * caller never blocks on a full queue, and reports at _end.
 */
static void *
compress_member(void *arg)
{
	static const char zeros[512];
	cdb_snapshot_writer *w = arg;
	const char *p;
	size_t n;
	int ok = 1;

	while ((n = queue_peek(&w->q, &p)) > 0) {
		cdb_digest_update(&w->digest, p, n);
		w->bytes += (long long)n;
		if (ok &&
		    seg_write(w->seg, p, n, w->spool_path, &w->terr) == -1)
			ok = 0;
		queue_pop(&w->q, n);
	}
	if (ok && w->bytes % 512 != 0)
		ok = seg_write(w->seg, zeros, (size_t)(512 - w->bytes % 512),
		         w->spool_path, &w->terr) == 0;
	if (seg_close(w->seg, w->spool_path, ok ? &w->terr : NULL) == -1)
		ok = 0;
	w->seg = NULL;
	return NULL;
}

FILE *
cdb_snapshot_writer_begin(
    cdb_snapshot_writer *w, const char *name, cdb_error *e)
{
	static const cookie_io_functions_t io = {
	    NULL, queue_write, NULL, queue_close};

	if (w->out != NULL || w->fd == -1) {
		cdb_error_set(
		    e, CDB_ERR_USAGE, "snapshot member already begun");
		return NULL;
	}
	cdb_snapshot_member_name(w->member, sizeof(w->member),
	    json_array_size(cdb_snapshot_writer_done(w)) + 1, name);
	cdb_digest_init(&w->digest);
	w->bytes = 0;
	cdb_error_clear(&w->terr);
	w->spool = open(w->spool_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (w->spool == -1) {
		cdb_error_set(
		    e, CDB_ERR_SYS, "%s: %s", w->spool_path, strerror(errno));
		return NULL;
	}
	if ((w->seg = seg_open(
	         w->spool, w->comp, w->level, w->spool_path, e)) == NULL)
		return NULL;
	w->q.head = w->q.len = 0;
	w->q.closed = 0;
	if (w->q.buf == NULL && (w->q.buf = malloc(QUEUE_BYTES)) == NULL) {
		cdb_error_set(e, CDB_ERR_SYS, "out of memory");
		return NULL;
	}
	if ((w->out = fopencookie(&w->q, "w", io)) == NULL) {
		cdb_error_set(e, CDB_ERR_SYS, "out of memory");
		return NULL;
	}
	setvbuf(w->out, NULL, _IOFBF, 1 << 16);
	if (pthread_create(&w->thread, NULL, compress_member, w) != 0) {
		fclose(w->out);
		w->out = NULL;
		cdb_error_set(e, CDB_ERR_SYS, "cannot start a thread");
		return NULL;
	}
	return w->out;
}

/* Close the queue and wait for the compressor.  0, or -1 with e. */
static int
stop_member(cdb_snapshot_writer *w, cdb_error *e)
{
	int rc = 0;

	if (w->out != NULL) {
		if (fclose(w->out) == EOF)
			rc = cdb_error_set(e, CDB_ERR_SYS, "%s: %s",
			    w->spool_path, strerror(errno));
		w->out = NULL;
		pthread_join(w->thread, NULL);
		if (w->terr.kind != CDB_ERR_NONE && rc == 0)
			rc = cdb_error_set(e, w->terr.kind, "%s", w->terr.text);
	}
	if (w->seg != NULL)
		archive_write_free(w->seg);
	w->seg = NULL;
	return rc;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		if ((k = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Append the spooled, already compressed member data. */
static int
copy_spool(cdb_snapshot_writer *w, cdb_error *e)
{
	char buf[65536];
	ssize_t n;

	if (lseek(w->spool, 0, SEEK_SET) == -1)
		return cdb_error_set(
		    e, CDB_ERR_SYS, "%s: %s", w->spool_path, strerror(errno));
	while ((n = read(w->spool, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return cdb_error_set(e, CDB_ERR_SYS, "%s: %s",
			    w->spool_path, strerror(errno));
		if (write_all(w->fd, buf, (size_t)n) == -1)
			return cdb_error_set(e, CDB_ERR_SYS, "%s: %s",
			    w->partial, strerror(errno));
	}
	return 0;
}

/* Header segment, then the data segment; durable before the checkpoint. */
static int
append_member(cdb_snapshot_writer *w, cdb_error *e)
{
	struct archive *a;
	cdb_buf hdr;
	int rc = -1;

	cdb_buf_init(&hdr);
	if (tar_header(&hdr, w->member, w->bytes, e) == 0 &&
	    (a = seg_open(w->fd, w->comp, w->level, w->partial, e)) != NULL) {
		if (seg_write(a, hdr.data, hdr.len, w->partial, e) == -1) {
			archive_write_free(a);
		} else if (seg_close(a, w->partial, e) == 0 &&
		           copy_spool(w, e) == 0)
			rc = 0;
	}
	cdb_buf_free(&hdr);
	if (rc == 0 && fsync(w->fd) == -1)
		rc = cdb_error_set(e, CDB_ERR_SYS, "%s: fsync: %s", w->partial,
		    strerror(errno));
	return rc;
}

int
cdb_snapshot_writer_end(
    cdb_snapshot_writer *w, const json_t *entry, cdb_error *e)
{
	json_t *ent;
	char dg[23];
	off_t off;

	if (w->out == NULL)
		return cdb_error_set(
		    e, CDB_ERR_USAGE, "no snapshot member begun");
	if (stop_member(w, e) == -1 || append_member(w, e) == -1)
		return -1;
	close(w->spool);
	w->spool = -1;
	if ((off = lseek(w->fd, 0, SEEK_CUR)) == -1)
		return cdb_error_set(
		    e, CDB_ERR_SYS, "%s: %s", w->partial, strerror(errno));
	cdb_digest_format(&w->digest, dg);
	if ((ent = json_deep_copy(entry)) == NULL)
		return cdb_error_set(e, CDB_ERR_SYS, "out of memory");
	json_object_set_new(ent, "member", json_string(w->member));
	json_object_set_new(ent, "bytes", json_integer(w->bytes));
	json_object_set_new(ent, "digest", json_string(dg));
	json_array_append_new(json_object_get(w->ckpt, "collections"), ent);
	json_object_set_new(w->ckpt, "offset", json_integer((json_int_t)off));
	return cdb_checkpoint_save(w->ckpt_path, w->ckpt, e);
}

static json_t *
build_manifest(cdb_snapshot_writer *w, const json_t *top)
{
	json_t *m = json_pack("{s:s, s:i, s:O}", "format", CDB_SNAPSHOT_FORMAT,
	    "version", CDB_SNAPSHOT_VERSION, "created",
	    json_object_get(w->ckpt, "created"));

	if (m == NULL)
		return NULL;
	if (top != NULL)
		json_object_update_missing(m, (json_t *)top);
	json_object_set_new(
	    m, "compression", json_string(cdb_snapshot_comp_name(w->comp)));
	json_object_set(
	    m, "collections", json_object_get(w->ckpt, "collections"));
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
	        seg_write(a, text.data, text.len, w->partial, e) == -1)) {
		archive_write_free(a);
		a = NULL;
	}
	if (a != NULL)
		rc = seg_close(a, w->partial, e);
	cdb_buf_free(&text);
	return rc;
}

/* The partial file becomes the snapshot only now, complete and durable. */
static int
commit_file(cdb_snapshot_writer *w, cdb_error *e)
{
	if (fsync(w->fd) == -1 || close(w->fd) == -1) {
		w->fd = -1;
		return cdb_error_set(
		    e, CDB_ERR_SYS, "%s: %s", w->partial, strerror(errno));
	}
	w->fd = -1;
	if (!w->force && access(w->path, F_OK) == 0)
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "%s appeared while the snapshot was written; the snapshot "
		    "is in %s",
		    w->path, w->partial);
	if (rename(w->partial, w->path) == -1)
		return cdb_error_set(
		    e, CDB_ERR_SYS, "%s: %s", w->path, strerror(errno));
	if (cdb_checkpoint_sync_dir(w->path, e) == -1)
		return -1;
	unlink(w->spool_path);
	return cdb_checkpoint_remove(w->ckpt_path, e);
}

int
cdb_snapshot_writer_finish(
    cdb_snapshot_writer *w, const json_t *top, cdb_error *e)
{
	json_t *m;
	int rc;

	if (w->out != NULL || w->fd == -1)
		return cdb_error_set(
		    e, CDB_ERR_USAGE, "snapshot member not ended");
	if ((m = build_manifest(w, top)) == NULL)
		return cdb_error_set(e, CDB_ERR_SYS, "out of memory");
	rc = write_manifest(w, m, e);
	json_decref(m);
	return rc == -1 ? -1 : commit_file(w, e);
}

void
cdb_snapshot_writer_free(cdb_snapshot_writer *w)
{
	if (w == NULL)
		return;
	stop_member(w, NULL);
	if (w->spool != -1)
		close(w->spool);
	if (w->fd != -1)
		close(w->fd);
	json_decref(w->ckpt);
	pthread_mutex_destroy(&w->q.mu);
	pthread_cond_destroy(&w->q.cv);
	free(w->q.buf);
	free(w->path);
	free(w->partial);
	free(w->ckpt_path);
	free(w->spool_path);
	free(w);
}

void
cdb_snapshot_writer_cleanup(const char *path)
{
	static const char *const ext[] = {
	    ".partial", ".partial.ckpt", ".partial.spool"};
	size_t i;
	char *p;

	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if ((p = concat(path, ext[i])) != NULL) {
			unlink(p);
			free(p);
		}
}
