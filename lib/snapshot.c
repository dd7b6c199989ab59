/*
 * snapshot.c - writing snapshot files (see snapshot.h, cdb-snapshot(5)).
 * Every byte is compressed by libarchive's filters.  The caller exports
 * a member into a pipe; a thread hashes and compresses it, as it comes,
 * into a spool file (its size, which the tar header needs first, is known
 * only at the end); the member's end appends header and spool to the
 * partial file and checkpoints it.
 */
#define _GNU_SOURCE /* F_SETPIPE_SZ, where the system has it */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "digest.h"
#include "json.h"
#include "lock.h"
#include "queue.h" /* cdb_workers */
#include "snapshot.h"
#include "testpoint.h"

#define CKPT_VERSION 1
/*
 * Room in the pipe between the exporter and the compressor: a page of
 * records fits, so the exporter seldom waits for the compressor while
 * the server could be preparing the next page.
 */
#define PIPE_BYTES (1 << 20)

struct cdb_snapshot_writer {
	char *path, *partial, *ckpt_path, *spool_path;
	int comp, level, force;
	int fd;       /* the partial file, positioned at its end */
	json_t *ckpt; /* version, kind, identity, created, offset, collections */
	int resumed;
	size_t next; /* number of the next member */
	cdb_lock *lock; /* on path, for the writer's life */
	/* The member being written: */
	char name[160];
	FILE *out; /* the caller's end of the pipe */
	int in;    /* the compressor's end */
	int spool;
	cdb_workers *compressor;
	cdb_digest digest;
	long long bytes;
	cdb_error err; /* the compressor's */
};

static const char *const comp_names[] = {"none", "gzip", "zstd", "xz"};
/* The bytes a member name keeps (cdb_snapshot_member_name). */
static const char safe_chars[] = "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";

int
cdb_snapshot_comp_parse(const char *name)
{
	int i;

	for (i = 0; i < 4 && strcmp(name, comp_names[i]) != 0; i++)
		;
	return i < 4 ? i : -1;
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

void
cdb_snapshot_member_name(char *out, size_t size, size_t index, const char *name)
{
	char safe[101];
	size_t i;

	for (i = 0; i < sizeof(safe) - 1 && name[i] != '\0'; i++)
		safe[i] = strchr(safe_chars, name[i]) ? name[i] : '_';
	safe[i] = '\0';
	snprintf(
	    out, size, "%s%04zu-%s.ndjson", CDB_SNAPSHOT_PREFIX, index, safe);
}

int
cdb_snapshot_member_ok(const char *m)
{
	size_t n, k = strlen(CDB_SNAPSHOT_PREFIX), d;

	if (strncmp(m, CDB_SNAPSHOT_PREFIX, k) != 0 ||
	    (d = strspn(m + k, "0123456789")) < 4 || m[k + d] != '-')
		return 0;
	m += k + d + 1;
	n = strlen(m);
	/* ".ndjson" is safe too: the span reaches it when NAME is safe. */
	return n > 7 && n - 7 <= 100 && strcmp(m + n - 7, ".ndjson") == 0 &&
	       strspn(m, safe_chars) >= n - 7;
}

/* ---------------------------------------------------------- archives -- */

static int
archive_fail(struct archive *a, const char *what, cdb_error *e)
{
	const char *s = a ? archive_error_string(a) : NULL;

	return cdb_error_set(
	    e, CDB_ERR_SYS, "%s: %s", what, s ? s : "out of memory");
}

/* The compressor for comp (level 0: its default), never one of
 * libarchive's external programs. */
static int
add_filter(struct archive *a, int comp, int level)
{
	static int (*const add[])(struct archive *) = {
	    archive_write_add_filter_none, archive_write_add_filter_gzip,
	    archive_write_add_filter_zstd, archive_write_add_filter_xz};
	char lv[16];

	snprintf(lv, sizeof(lv), "%d", level);
	if (comp < 0 || comp > CDB_SNAP_XZ || add[comp](a) != ARCHIVE_OK ||
	    (comp != CDB_SNAP_NONE && level > 0 &&
	        archive_write_set_filter_option(
	            a, NULL, "compression-level", lv) != ARCHIVE_OK))
		return -1;
	return 0;
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

/*
 * A writer to fd, or with fd -1 to mem[HDR_MAX], without blocking or
 * padding: output is exact bytes.  With raw set it writes one compressed
 * segment of data only (the "data" entry), without it a tar with the
 * entry name of size bytes.
 */
#define HDR_MAX 8192
static struct archive *
writer_on(int fd, char *mem, size_t *used, int comp, int level, int raw,
    const char *name, long long size, const char *what, cdb_error *e)
{
	struct archive *a = archive_write_new();

	if (a == NULL ||
	    (raw ? archive_write_set_format_raw(a)
	         : archive_write_set_format_pax_restricted(a)) != ARCHIVE_OK ||
	    add_filter(a, comp, level) == -1 ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    (fd == -1 ? archive_write_open_memory(a, mem, HDR_MAX, used)
	              : archive_write_open_fd(a, fd)) != ARCHIVE_OK) {
		archive_fail(a, what, e);
		archive_write_free(a);
		return NULL;
	}
	if (put_entry(a, name, size, what, e) == -1) {
		archive_write_free(a);
		return NULL;
	}
	return a;
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

/* Finish the archive and free it, whatever happens. */
static int
arc_close(struct archive *a, const char *what, cdb_error *e)
{
	int rc =
	    archive_write_close(a) == ARCHIVE_OK ? 0 : archive_fail(a, what, e);

	archive_write_free(a);
	return rc;
}

/*
 * The tar header (pax extension included when the size needs it) of a
 * member of size bytes, into out[HDR_MAX]: its length, or 0 with e.
 * libarchive writes it when asked for the header; what freeing writes
 * after it (zeros for the data, end blocks) is not counted: the real data
 * is compressed separately.
 */
static size_t
tar_header(char *out, const char *name, long long size, cdb_error *e)
{
	size_t used = 0, len;
	struct archive *a = writer_on(-1, out, &used, CDB_SNAP_NONE, 0, 0,
	    name, size, "tar header", e);

	len = a ? used : 0;
	archive_write_free(a);
	return len;
}

/* ------------------------------------------------------ opening, resume -- */

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

static int
fresh(cdb_snapshot_writer *w, json_t *id, cdb_error *e)
{
	char when[CDB_TIME_LEN];

	w->fd = open(w->partial, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (w->fd == -1)
		return cdb_error_sys(e, errno, "%s", w->partial);
	w->ckpt = json_pack("{s:i, s:s, s:O, s:s, s:i, s:[]}", "version",
	    CKPT_VERSION, "kind", "cdb-snapshot", "identity", id, "created",
	    cdb_time_utc(when, time(NULL), 0), "offset", 0, "collections");
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
	id = identity ? json_deep_copy(identity) : json_object();
	if (id == NULL ||
	    json_object_update_new(id,
	        json_pack("{s:s, s:i}", "compression",
	            cdb_snapshot_comp_name(w->comp), "level", w->level)) == -1) {
		json_decref(id);
		return cdb_error_oom(e);
	}
	if ((w->ckpt = cdb_checkpoint_load(w->ckpt_path, e)) != NULL)
		rc = resume(w, id, e);
	else
		rc = e != NULL && e->kind != CDB_ERR_NONE ? -1 : fresh(w, id, e);
	json_decref(id);
	return rc;
}

cdb_snapshot_writer *
cdb_snapshot_writer_new(const char *path, int comp, int level, int force,
    const json_t *identity, cdb_error *e)
{
	cdb_snapshot_writer *w;

	if (cdb_checkpoint_replaceable(path, e) == -1)
		return NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		cdb_error_oom(e);
		return NULL;
	}
	w->fd = w->in = w->spool = -1;
	/* Before anything is looked at: another run may be writing it. */
	if ((w->lock = cdb_lock_new(path, e)) == NULL) {
		free(w);
		return NULL;
	}
	w->comp = comp;
	w->level = level;
	w->force = force;
	w->path = strdup(path);
	w->partial = concat(path, ".partial");
	w->ckpt_path = concat(path, ".partial.ckpt");
	w->spool_path = concat(path, ".partial.spool.0");
	if (w->path == NULL || w->partial == NULL || w->ckpt_path == NULL ||
	    w->spool_path == NULL) {
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

/* ----------------------------------------------------------- members -- */

/*
 * The compressor: hash, count and compress what the caller writes into
 * the spool, padded to a tar block.  After an error it reads on to the
 * end, so the caller never blocks on a full pipe; _end reports it.
 */
static void *
compress_member(void *arg)
{
	static const char zeros[512];
	cdb_snapshot_writer *w = arg;
	struct archive *a;
	char buf[65536];
	ssize_t n;
	int ok;

	a = writer_on(w->spool, NULL, NULL, w->comp, w->level, 1, "data", 0,
	    w->spool_path, &w->err);
	ok = a != NULL;
	while ((n = read(w->in, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) { /* not seen on a pipe; ends the member */
			cdb_error_sys(&w->err, errno, "%s", w->spool_path);
			ok = 0;
			break;
		}
		cdb_digest_update(&w->digest, buf, (size_t)n);
		w->bytes += n;
		if (ok && arc_write(a, buf, (size_t)n, w->spool_path, &w->err) == -1)
			ok = 0;
	}
	ok = ok && (w->bytes % 512 == 0 ||
	               arc_write(a, zeros, (size_t)(512 - w->bytes % 512),
	                   w->spool_path, &w->err) == 0);
	if (a != NULL)
		arc_close(a, w->spool_path, ok ? &w->err : NULL);
	return NULL;
}

/* Wait for the compressor and close the member's files.  0, or -1 with
 * the compressor's error. */
static int
stop_member(cdb_snapshot_writer *w, cdb_error *e)
{
	int rc = w->out != NULL && fclose(w->out) == EOF ? -1 : 0;

	if (rc == -1)
		cdb_error_sys(e, errno, "%s", w->spool_path);
	w->out = NULL;
	cdb_workers_join(w->compressor);
	w->compressor = NULL;
	if (w->in != -1)
		close(w->in);
	w->in = -1;
	if (rc == 0 && w->err.kind != CDB_ERR_NONE)
		rc = cdb_error_set(e, w->err.kind, "%s", w->err.text);
	return rc;
}

static int
start_member(cdb_snapshot_writer *w, cdb_error *e)
{
	int p[2];

	cdb_digest_init(&w->digest);
	w->bytes = 0;
	cdb_error_clear(&w->err);
	w->spool = open(w->spool_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (w->spool == -1)
		return cdb_error_sys(e, errno, "%s", w->spool_path);
	if (pipe(p) == -1)
		return cdb_error_sys(e, errno, "pipe");
	w->in = p[0];
#ifdef F_SETPIPE_SZ
	(void)fcntl(p[1], F_SETPIPE_SZ, PIPE_BYTES); /* a hint */
#endif
	if ((w->out = fdopen(p[1], "w")) == NULL) {
		close(p[1]);
		return cdb_error_oom(e);
	}
	setvbuf(w->out, NULL, _IOFBF, 1 << 16);
	return cdb_workers_start(&w->compressor, 1, compress_member, w, e);
}

FILE *
cdb_snapshot_writer_begin(
    cdb_snapshot_writer *w, const char *name, cdb_error *e)
{
	if (w->spool != -1 || w->fd == -1) {
		cdb_error_set(
		    e, CDB_ERR_USAGE, "snapshot member already begun");
		return NULL;
	}
	cdb_snapshot_member_name(w->name, sizeof(w->name), w->next, name);
	if (start_member(w, e) == -1) {
		stop_member(w, NULL);
		if (w->spool != -1)
			close(w->spool);
		w->spool = -1;
		return NULL;
	}
	w->next++;
	return w->out;
}

/* Append the spooled, already compressed member data. */
static int
copy_spool(cdb_snapshot_writer *w, cdb_error *e)
{
	char buf[65536];
	ssize_t n;

	if (lseek(w->spool, 0, SEEK_SET) == -1)
		return cdb_error_sys(e, errno, "%s", w->spool_path);
	while ((n = read(w->spool, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return cdb_error_sys(e, errno, "%s", w->spool_path);
		if (cdb_checkpoint_write_all(w->fd, buf, (size_t)n) == -1)
			return cdb_error_sys(e, errno, "%s", w->partial);
	}
	return 0;
}

/* Header segment, then the data segment; durable before the checkpoint. */
static int
append_member(cdb_snapshot_writer *w, cdb_error *e)
{
	char hdr[HDR_MAX];
	struct archive *a;
	size_t n;

	if ((n = tar_header(hdr, w->name, w->bytes, e)) == 0 ||
	    (a = writer_on(w->fd, NULL, NULL, w->comp, w->level, 1, "data", 0,
	         w->partial, e)) == NULL)
		return -1;
	if (arc_write(a, hdr, n, w->partial, e) == -1) {
		archive_write_free(a);
		return -1;
	}
	if (arc_close(a, w->partial, e) == -1 || copy_spool(w, e) == -1)
		return -1;
	if (fsync(w->fd) == -1)
		return cdb_error_sys(e, errno, "%s: fsync", w->partial);
	return 0;
}

/* Record the appended member, its entry completed, in the checkpoint. */
static int
commit_member(cdb_snapshot_writer *w, const json_t *entry, cdb_error *e)
{
	json_t *colls = json_object_get(w->ckpt, "collections");
	json_t *c = json_deep_copy(entry);
	char dg[23];
	off_t off;

	if ((off = lseek(w->fd, 0, SEEK_CUR)) == -1) {
		json_decref(c);
		return cdb_error_sys(e, errno, "%s", w->partial);
	}
	cdb_digest_format(&w->digest, dg);
	if (c == NULL ||
	    json_object_set_new(c, "member", json_string(w->name)) == -1 ||
	    json_object_set_new(c, "bytes", json_integer(w->bytes)) == -1 ||
	    json_object_set_new(c, "digest", json_string(dg)) == -1 ||
	    json_array_append_new(colls, c) == -1 ||
	    json_object_set_new(w->ckpt, "offset", json_integer(off)) == -1)
		return cdb_error_oom(e);
	if (cdb_checkpoint_save(w->ckpt_path, w->ckpt, e) == -1)
		return -1;
	cdb_testpoint("snapshot-member", (long long)json_array_size(colls));
	return 0;
}

int
cdb_snapshot_writer_end(
    cdb_snapshot_writer *w, const json_t *entry, cdb_error *e)
{
	int rc;

	if (w->spool == -1)
		return cdb_error_set(
		    e, CDB_ERR_USAGE, "no snapshot member begun");
	rc = stop_member(w, e);
	if (rc == 0)
		rc = append_member(w, e);
	if (rc == 0)
		rc = commit_member(w, entry, e);
	close(w->spool);
	w->spool = -1;
	return rc;
}

/* ---------------------------------------------------------- finishing -- */

static json_t *
build_manifest(cdb_snapshot_writer *w, const json_t *top)
{
	json_t *colls = json_object_get(w->ckpt, "collections"), *c, *m;
	json_int_t records = 0;
	size_t i;

	json_array_foreach (colls, i, c)
		records += json_integer_value(json_object_get(c, "count"));
	m = json_pack("{s:s, s:i, s:O}", "format", CDB_SNAPSHOT_FORMAT,
	    "version", CDB_SNAPSHOT_VERSION, "created",
	    json_object_get(w->ckpt, "created"));
	if (m == NULL ||
	    (top != NULL && json_object_update_missing(m, (json_t *)top) == -1) ||
	    json_object_set_new(m, "records", json_integer(records)) == -1 ||
	    json_object_set_new(m, "compression",
	        json_string(cdb_snapshot_comp_name(w->comp))) == -1 ||
	    json_object_set(m, "collections", colls) == -1) {
		json_decref(m);
		return NULL;
	}
	return m;
}

/* The manifest, then the tar end blocks, as the last segment. */
static int
write_manifest(cdb_snapshot_writer *w, const json_t *m, cdb_error *e)
{
	struct archive *a = NULL;
	cdb_buf text;
	int rc = -1;

	cdb_buf_init(&text);
	if (cdb_json_dump(&text, m) == -1 || cdb_buf_putc(&text, '\n') == -1)
		cdb_error_oom(e);
	else if ((a = writer_on(w->fd, NULL, NULL, w->comp, w->level, 0,
	              CDB_SNAPSHOT_MANIFEST, (long long)text.len, w->partial,
	              e)) != NULL) {
		if (arc_write(a, text.data, text.len, w->partial, e) == -1)
			archive_write_free(a);
		else
			rc = arc_close(a, w->partial, e);
	}
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
	cdb_buf pat;
	glob_t g;
	size_t i;
	int rc = 0;

	cdb_buf_init(&pat);
	for (; *ckpt != '\0'; ckpt++) { /* the path matches only itself */
		if (strchr("*?[\\", *ckpt) != NULL)
			rc |= cdb_buf_putc(&pat, '\\');
		rc |= cdb_buf_putc(&pat, *ckpt);
	}
	if (rc == 0 && cdb_buf_puts(&pat, ".tmp.*") == 0 &&
	    glob(pat.data, 0, NULL, &g) == 0) {
		for (i = 0; i < g.gl_pathc; i++)
			unlink(g.gl_pathv[i]);
		globfree(&g);
	}
	cdb_buf_free(&pat);
}

/* The partial file becomes the snapshot only now, complete and durable. */
static int
commit_file(cdb_snapshot_writer *w, cdb_error *e)
{
	int rc = fsync(w->fd) == -1 ? -1 : close(w->fd);

	w->fd = -1;
	if (rc == -1)
		return cdb_error_sys(e, errno, "%s", w->partial);
	if (!w->force && access(w->path, F_OK) == 0)
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "%s appeared while the snapshot was written; the snapshot "
		    "is in %s",
		    w->path, w->partial);
	if (rename(w->partial, w->path) == -1)
		return cdb_error_sys(e, errno, "%s", w->path);
	if (cdb_checkpoint_sync_dir(w->path, e) == -1)
		return -1;
	unlink(w->spool_path);
	remove_ckpt_tmp(w->ckpt_path);
	return cdb_checkpoint_remove(w->ckpt_path, e);
}

int
cdb_snapshot_writer_finish(
    cdb_snapshot_writer *w, const json_t *top, cdb_error *e)
{
	json_t *m;
	int rc;

	if (w->spool != -1 || w->fd == -1)
		return cdb_error_set(
		    e, CDB_ERR_USAGE, "snapshot member not ended");
	if ((m = build_manifest(w, top)) == NULL)
		return cdb_error_oom(e);
	rc = write_manifest(w, m, e);
	json_decref(m);
	return rc == -1 ? -1 : commit_file(w, e);
}

void
cdb_snapshot_writer_free(cdb_snapshot_writer *w)
{
	if (w == NULL)
		return;
	/* A member being written is dropped. */
	stop_member(w, NULL);
	if (w->spool != -1)
		close(w->spool);
	if (w->fd != -1)
		close(w->fd);
	json_decref(w->ckpt);
	free(w->spool_path);
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
