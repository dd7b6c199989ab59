/*
 * snapread.c - reading snapshot files, which may come from anywhere: no
 * name from the archive is ever used as a file path, and everything in it
 * is checked before use.  See snapshot.h and cdb-snapshot(5).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "digest.h"
#include "json.h"
#include "ndjson.h"
#include "queue.h"
#include "snapshot.h"

#define IOBUF 65536
/* Memory grows with the number of members: bound it. */
#define MAX_MEMBERS 100000

struct rd {
	const char *path;
	struct archive *a;
	const json_t *manifest; /* from an earlier read, or NULL */
	json_t *found;          /* the manifest read this time */
	json_t *seen;           /* member -> {"bytes", "digest"} */
	cdb_snapshot_member_fn *fn;
	void *arg;
	char *buf;
};

/* A name from the archive, made safe to print: at most 120 bytes. */
static const char *
printable(const char *s, char out[128])
{
	size_t i;

	for (i = 0; i < 120 && s[i] != '\0'; i++)
		out[i] = (unsigned char)s[i] < 32 || s[i] == 127 ? '?' : s[i];
	if (s[i] != '\0') {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

static int
valid_digest(const char *s)
{
	return s != NULL && strlen(s) == 22 && strncmp(s, "xxh64:", 6) == 0 &&
	       strspn(s + 6, "0123456789abcdef") == 16;
}

static int
object_or_null(const json_t *v)
{
	return v == NULL || json_is_null(v) || json_is_object(v);
}

static int
check_entry(
    const json_t *c, size_t i, json_t *names, json_t *members, cdb_error *e)
{
	const char *name = json_string_value(json_object_get(c, "name"));
	const char *member = json_string_value(json_object_get(c, "member"));
	json_t *count = json_object_get(c, "count");
	json_t *bytes = json_object_get(c, "bytes");

	if (!json_is_object(c) || name == NULL || *name == '\0')
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "manifest: collection %zu has no name", i + 1);
	if (member == NULL || !cdb_snapshot_member_ok(member))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "manifest: collection \"%s\" has no valid member name",
		    name);
	if (!json_is_integer(count) || json_integer_value(count) < 0 ||
	    !json_is_integer(bytes) || json_integer_value(bytes) < 0)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "manifest: collection \"%s\" has no valid count or bytes",
		    name);
	if (!valid_digest(json_string_value(json_object_get(c, "digest"))))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "manifest: collection \"%s\" has no valid digest", name);
	if (!object_or_null(json_object_get(c, "metadata")) ||
	    !object_or_null(json_object_get(c, "configuration")))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "manifest: collection \"%s\": metadata and configuration "
		    "must be objects or null",
		    name);
	if (json_object_get(names, name) || json_object_get(members, member))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "manifest: collection \"%s\" or its member is listed twice",
		    name);
	if (json_object_set_new(names, name, json_true()) == -1 ||
	    json_object_set_new(members, member, json_true()) == -1)
		return cdb_error_oom(e);
	return 0;
}

int
cdb_snapshot_check_manifest(const json_t *m, cdb_error *e)
{
	json_t *v = json_object_get(m, "version"), *colls;
	json_t *names, *members;
	size_t i;
	int rc = 0;

	if (!json_is_object(m))
		return cdb_error_set(
		    e, CDB_ERR_INPUT, "manifest is not a JSON object");
	if (!cdb_json_str_is(m, "format", CDB_SNAPSHOT_FORMAT))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "manifest does not name format \"%s\"",
		    CDB_SNAPSHOT_FORMAT);
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > CDB_SNAPSHOT_VERSION)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "unsupported snapshot version (this program reads %d)",
		    CDB_SNAPSHOT_VERSION);
	if (!json_is_array(colls = json_object_get(m, "collections")))
		return cdb_error_set(
		    e, CDB_ERR_INPUT, "manifest has no collections list");
	/* A scope this reader does not know is a manifest it cannot read. */
	v = json_object_get(m, "scope");
	if (v != NULL && !cdb_json_str_is(m, "scope", "all") &&
	    !cdb_json_str_is(m, "scope", "selected"))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "manifest: unknown \"scope\" (this program knows \"all\" "
		    "and \"selected\")");
	names = json_object();
	members = json_object();
	if (names == NULL || members == NULL)
		rc = cdb_error_oom(e);
	for (i = 0; rc == 0 && i < json_array_size(colls); i++)
		rc = check_entry(json_array_get(colls, i), i, names, members, e);
	json_decref(names);
	json_decref(members);
	return rc;
}

/* The object of list whose key is the string value, or NULL. */
static json_t *
find_by(const json_t *list, const char *key, const char *value)
{
	json_t *c;
	size_t i;

	json_array_foreach (list, i, c) {
		if (cdb_json_str_is(c, key, value))
			return c;
	}
	return NULL;
}

json_t *
cdb_snapshot_find_in(const json_t *list, const char *name)
{
	return find_by(list, "name", name);
}

json_t *
cdb_snapshot_find(const json_t *manifest, const char *name)
{
	return cdb_snapshot_find_in(
	    json_object_get(manifest, "collections"), name);
}

static json_t *
entry_by_member(const json_t *manifest, const char *member)
{
	return find_by(json_object_get(manifest, "collections"), "member", member);
}

/* ----------------------------------------------------------- archive -- */

static int
fail_archive(struct rd *r, cdb_error *e)
{
	const char *s = archive_error_string(r->a);

	return cdb_error_set(e, CDB_ERR_INPUT,
	    "%s: damaged or truncated archive: %s", r->path,
	    s ? s : "unknown error");
}

/*
 * Only tar, and only decompressors built into libarchive: it would
 * otherwise run external programs on a file that may be hostile.  The tar
 * reader goes on after the end blocks, to the end of the decompressed
 * data, so that anything appended there is seen (end_of_file).
 */
static int
rd_open(struct rd *r, cdb_error *e)
{
	if ((r->a = archive_read_new()) == NULL)
		return cdb_error_oom(e);
	archive_read_support_format_tar(r->a);
	if (archive_zlib_version() != NULL)
		archive_read_support_filter_gzip(r->a);
	if (archive_libzstd_version() != NULL)
		archive_read_support_filter_zstd(r->a);
	if (archive_liblzma_version() != NULL)
		archive_read_support_filter_xz(r->a);
	if (archive_read_set_format_option(r->a, "tar",
	        "read_concatenated_archives", "1") != ARCHIVE_OK ||
	    archive_read_open_filename(r->a, r->path, IOBUF) != ARCHIVE_OK) {
		const char *s = archive_error_string(r->a);
		return cdb_error_set(
		    e, CDB_ERR_INPUT, "%s: %s", r->path, s ? s : "cannot open");
	}
	return 0;
}

/*
 * The tar reader has read to the end of the decompressed data: nothing
 * may follow the compressed data in the file either.  A verified snapshot
 * vouches for every byte of its file.
 */
static int
end_of_file(struct rd *r, cdb_error *e)
{
	struct stat sb;
	long long left;

	if (stat(r->path, &sb) == -1)
		return cdb_error_sys(e, errno, "%s", r->path);
	left = (long long)sb.st_size - archive_filter_bytes(r->a, -1);
	if (S_ISREG(sb.st_mode) && left != 0)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: %lld byte%s after the end of the compressed data",
		    r->path, left, left == 1 ? "" : "s");
	return 0;
}

static int
has_dotdot(const char *s)
{
	const char *p;

	for (p = s; (p = strstr(p, "..")) != NULL; p += 2)
		if ((p == s || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return 1;
	return 0;
}

static const char *
type_name(struct archive_entry *en)
{
	switch (archive_entry_filetype(en)) {
	case AE_IFLNK:
		return "a symbolic link";
	case AE_IFDIR:
		return "a directory";
	case AE_IFIFO:
		return "a FIFO";
	case AE_IFCHR:
	case AE_IFBLK:
		return "a device";
	default:
		return "not a regular file";
	}
}

/*
 * What any member must be, whatever the manifest says; a collection member
 * (*entry set) must also be one the manifest, when known, names.
 */
static int
check_member(struct rd *r, struct archive_entry *en, const char *name,
    const json_t **entry, cdb_error *e)
{
	char pn[128];

	printable(name, pn);
	*entry = NULL;
	if (archive_entry_hardlink(en) != NULL)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: member \"%s\" is a hard link", r->path, pn);
	if (archive_entry_filetype(en) != AE_IFREG)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: member \"%s\" is %s", r->path, pn, type_name(en));
	if (name[0] == '/')
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: member \"%s\" has an absolute path", r->path, pn);
	if (has_dotdot(name))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: member \"%s\" has a \"..\" path component", r->path,
		    pn);
	if (json_object_get(r->seen, name) != NULL || r->found != NULL)
		return cdb_error_set(e, CDB_ERR_INPUT, "%s: member \"%s\" %s",
		    r->path, pn,
		    r->found ? "comes after the manifest" : "appears twice");
	if (json_object_size(r->seen) >= MAX_MEMBERS)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: more than %d members", r->path, MAX_MEMBERS);
	if (strcmp(name, CDB_SNAPSHOT_MANIFEST) == 0)
		return 0;
	if (!cdb_snapshot_member_ok(name))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: member \"%s\" is not part of a cdb snapshot", r->path,
		    pn);
	if (r->manifest == NULL)
		return 0;
	if ((*entry = entry_by_member(r->manifest, name)) == NULL)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: member \"%s\" is not named in the manifest", r->path,
		    pn);
	if (archive_entry_size(en) !=
	    json_integer_value(json_object_get(*entry, "bytes")))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: member \"%s\" has %lld bytes, the manifest says %lld",
		    r->path, pn, (long long)archive_entry_size(en),
		    (long long)json_integer_value(
		        json_object_get(*entry, "bytes")));
	return 0;
}

static int
read_manifest(struct rd *r, struct archive_entry *en, cdb_error *e)
{
	la_int64_t size = archive_entry_size(en);
	cdb_buf text;
	la_ssize_t n;
	cdb_error je;

	if (size < 0 || size > CDB_SNAPSHOT_MANIFEST_MAX)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: the manifest is larger than %ld bytes", r->path,
		    CDB_SNAPSHOT_MANIFEST_MAX);
	cdb_buf_init(&text);
	while ((n = archive_read_data(r->a, r->buf, IOBUF)) > 0)
		if (cdb_buf_append(&text, r->buf, (size_t)n) == -1) {
			cdb_buf_free(&text);
			return cdb_error_oom(e);
		}
	if (n < 0) {
		cdb_buf_free(&text);
		return fail_archive(r, e);
	}
	cdb_error_clear(&je);
	r->found = cdb_json_load(text.data, text.len, &je);
	cdb_buf_free(&text);
	if (r->found == NULL)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: the manifest is not JSON: %s", r->path, je.text);
	if (cdb_snapshot_check_manifest(r->found, &je) == -1)
		return cdb_error_set(
		    e, CDB_ERR_INPUT, "%s: %s", r->path, je.text);
	if (r->manifest != NULL && !json_equal(r->found, (json_t *)r->manifest))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: the manifest changed since the file was first read",
		    r->path);
	return 0;
}

struct feed {
	struct archive *a;
	int fd; /* the pipe fn reads, or -1 */
	cdb_digest d;
	long long bytes;
	int failed;
	char *buf;
};

/* Hash a member's data, copying it into the pipe that fn reads. */
static void *
feed_member(void *arg)
{
	struct feed *f = arg;
	la_ssize_t n;

	while ((n = archive_read_data(f->a, f->buf, IOBUF)) > 0) {
		cdb_digest_update(&f->d, f->buf, (size_t)n);
		f->bytes += n;
		if (f->fd != -1 &&
		    cdb_checkpoint_write_all(f->fd, f->buf, (size_t)n) == -1)
			break;
	}
	f->failed = n != 0;
	if (f->fd != -1)
		close(f->fd);
	return NULL;
}

/* Read the member through fn, in parallel with its decompression. */
static int
pipe_member(struct rd *r, struct feed *f, const char *member,
    const json_t *entry, cdb_error *e)
{
	cdb_workers *t = NULL;
	cdb_error fe;
	FILE *in;
	int p[2], rc;

	if (pipe(p) == -1)
		return cdb_error_sys(e, errno, "pipe");
	f->fd = p[1];
	if ((in = fdopen(p[0], "r")) == NULL) {
		close(p[0]);
		close(p[1]);
		return cdb_error_oom(e);
	}
	if (cdb_workers_start(&t, 1, feed_member, f, e) == -1) {
		close(p[1]);
		fclose(in);
		return -1;
	}
	cdb_error_clear(&fe);
	rc = r->fn(r->arg, member, entry, in, &fe);
	/* The feeder stops only at the end: read what fn left. */
	while (fread(r->buf, 1, IOBUF, in) > 0)
		;
	fclose(in);
	cdb_workers_join(t);
	if (f->failed)
		return fail_archive(r, e);
	if (rc == -1) {
		if (e != NULL)
			*e = fe;
		return -1;
	}
	return 0;
}

/* Does the member's data match its manifest entry? */
static int
match_entry(const struct rd *r, const char *member, const json_t *entry,
    long long bytes, const char *dg, cdb_error *e)
{
	const char *want = json_string_value(json_object_get(entry, "digest"));

	if (bytes != json_integer_value(json_object_get(entry, "bytes")) ||
	    strcmp(dg, want) != 0)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: member \"%s\": digest mismatch: the data was changed "
		    "or damaged (manifest %s, data %s)",
		    r->path, member, want, dg);
	return 0;
}

/* Note what the member holds; check it now if the manifest is known. */
static int
check_digest(struct rd *r, const char *member, const json_t *entry,
    const struct feed *f, cdb_error *e)
{
	char dg[23];

	cdb_digest_format(&f->d, dg);
	if (json_object_set_new(r->seen, member,
	        json_pack("{s:I, s:s}", "bytes", (json_int_t)f->bytes,
	            "digest", dg)) == -1)
		return cdb_error_oom(e);
	return entry ? match_entry(r, member, entry, f->bytes, dg, e) : 0;
}

static int
on_member(struct rd *r, const char *name, const json_t *entry, cdb_error *e)
{
	struct feed f;
	int rc;

	memset(&f, 0, sizeof(f));
	f.a = r->a;
	f.fd = -1;
	cdb_digest_init(&f.d);
	if ((f.buf = malloc(IOBUF)) == NULL)
		return cdb_error_oom(e);
	if (r->fn != NULL)
		rc = pipe_member(r, &f, name, entry, e);
	else {
		feed_member(&f);
		rc = f.failed ? fail_archive(r, e) : 0;
	}
	free(f.buf);
	return rc == -1 ? -1 : check_digest(r, name, entry, &f, e);
}

static int check_all(struct rd *, cdb_error *);

/* Whether the members read so far make a whole snapshot. */
static int
complete(struct rd *r)
{
	cdb_error scratch;

	cdb_error_clear(&scratch);
	return r->found != NULL && check_all(r, &scratch) == 0;
}

static int
next_entry(struct rd *r, cdb_error *e)
{
	struct archive_entry *en;
	const json_t *entry;
	const char *name;
	int rc;

	rc = archive_read_next_header(r->a, &en);
	if (rc == ARCHIVE_EOF)
		return 0;
	if (rc != ARCHIVE_OK && complete(r)) {
		const char *s = archive_error_string(r->a);
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: data after the end of the snapshot: %s", r->path,
		    s ? s : "unknown error");
	}
	if (rc != ARCHIVE_OK)
		return fail_archive(r, e);
	if ((name = archive_entry_pathname(en)) == NULL)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: a member has a name that cannot be read", r->path);
	if (check_member(r, en, name, &entry, e) == -1)
		return -1;
	if (strcmp(name, CDB_SNAPSHOT_MANIFEST) == 0)
		rc = read_manifest(r, en, e);
	else
		rc = on_member(r, name, entry, e);
	return rc == -1 ? -1 : 1;
}

/* After the last member: the manifest and the members must agree. */
static int
check_all(struct rd *r, cdb_error *e)
{
	const char *member;
	json_t *c, *s;
	size_t i;

	if (r->found == NULL)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: no manifest: the snapshot is truncated, or not a cdb "
		    "snapshot",
		    r->path);
	json_object_foreach (r->seen, member, s) {
		if (entry_by_member(r->found, member) == NULL)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "%s: member \"%s\" is not named in the manifest",
			    r->path, member);
	}
	json_array_foreach (json_object_get(r->found, "collections"), i, c) {
		member = json_string_value(json_object_get(c, "member"));
		if ((s = json_object_get(r->seen, member)) == NULL)
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "%s: member \"%s\" (collection \"%s\") is missing",
			    r->path, member,
			    json_string_value(json_object_get(c, "name")));
		if (r->manifest == NULL &&
		    match_entry(r, member, c,
		        json_integer_value(json_object_get(s, "bytes")),
		        json_string_value(json_object_get(s, "digest")),
		        e) == -1)
			return -1;
	}
	return 0;
}

json_t *
cdb_snapshot_read(const char *path, const json_t *manifest,
    cdb_snapshot_member_fn *fn, void *arg, cdb_error *e)
{
	struct rd r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.path = path;
	r.manifest = manifest;
	r.fn = fn;
	r.arg = arg;
	r.seen = json_object();
	r.buf = malloc(IOBUF);
	if (r.seen == NULL || r.buf == NULL)
		rc = cdb_error_oom(e);
	else if ((rc = rd_open(&r, e)) == 0) {
		while ((rc = next_entry(&r, e)) == 1)
			;
		if (rc == 0)
			rc = check_all(&r, e);
		if (rc == 0)
			rc = end_of_file(&r, e);
	}
	archive_read_free(r.a);
	json_decref(r.seen);
	free(r.buf);
	if (rc == -1) {
		json_decref(r.found);
		return NULL;
	}
	return r.found;
}

/* ------------------------------------------------------------ verify -- */

struct parsed {
	const char *path;
	json_t *found; /* member -> {"line", "header", "records"} */
};

/* The member's collection line in *coll; the records counted in *n. */
static int
parse_lines(cdb_reader *rd, json_t **coll, long long *n, cdb_error *e)
{
	cdb_item it;
	int rc;

	while ((rc = cdb_reader_next(rd, &it, e)) == 1) {
		if (it.kind == CDB_KIND_RECORD)
			(*n)++;
		else if (it.kind == CDB_KIND_COLLECTION && *coll != NULL)
			return cdb_error_setl(e, it.line,
			    "a second collection, \"%s\"",
			    json_string_value(json_object_get(it.obj, "name")));
		else if (it.kind == CDB_KIND_COLLECTION)
			*coll = json_incref(it.obj);
	}
	return rc;
}

/*
 * Parse a member as a stream of one collection and count its records.  A
 * problem with the data is noted, not returned: once the manifest is
 * read, a digest that does not match is the better diagnosis.  A system
 * error (out of memory) is returned as such.
 */
static int
parse_member(
    void *arg, const char *member, const json_t *entry, FILE *in, cdb_error *e)
{
	struct parsed *p = arg;
	json_t *coll = NULL, *hdr;
	long long n = 0;
	cdb_reader *rd;
	cdb_error pe;
	int rc;

	(void)entry;
	if ((rd = cdb_reader_new(in, member, 0)) == NULL)
		return cdb_error_oom(e);
	cdb_error_clear(&pe);
	rc = parse_lines(rd, &coll, &n, &pe);
	hdr = json_incref(cdb_reader_header(rd));
	cdb_reader_free(rd);
	if (rc == 0 && coll == NULL)
		rc = cdb_error_set(&pe, CDB_ERR_INPUT, "no collection line");
	if (rc == -1 && pe.kind == CDB_ERR_SYS)
		cdb_error_set(e, CDB_ERR_SYS, "%s: member \"%s\": %s", p->path,
		    member, pe.text);
	else if (json_object_set_new(p->found, member,
	             rc == -1 ? json_sprintf("%s: member \"%s\", line %ld: %s",
	                            p->path, member, pe.line, pe.text)
	                      : json_pack("{s:O, s:O, s:I}", "line", coll,
	                            "header", hdr, "records", (json_int_t)n)) ==
	         -1)
		rc = cdb_error_oom(e);
	else
		rc = 0;
	json_decref(coll);
	json_decref(hdr);
	return rc;
}

/* a[key] and b[key2] the same, an absent value being null. */
static int
same(const json_t *a, const char *key, const json_t *b, const char *key2)
{
	json_t *x = json_object_get(a, key), *y = json_object_get(b, key2);

	return json_equal(x ? x : json_null(), y ? y : json_null());
}

/*
 * The manifest entry c against what its member holds: every field the
 * member also has must agree, so that verify proves what restore uses.
 */
static int
check_fields(const struct parsed *p, const json_t *m, const json_t *c,
    const json_t *f, cdb_error *e)
{
	static const struct {
		const char *key;
		int top; /* in the manifest's top and the header line */
	} t[] = {{"metadata", 0}, {"configuration", 0}, {"dimension", 0},
	    {"tenant", 1}, {"database", 1}};
	const char *member = json_string_value(json_object_get(c, "member"));
	const json_t *line = json_object_get(f, "line");
	size_t i;

	if (!same(c, "name", line, "name"))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: member \"%s\" holds collection \"%s\", the manifest "
		    "says \"%s\"",
		    p->path, member,
		    json_string_value(json_object_get(line, "name")),
		    json_string_value(json_object_get(c, "name")));
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!same(t[i].top ? m : c, t[i].key,
		        t[i].top ? json_object_get(f, "header") : line, t[i].key))
			return cdb_error_set(e, CDB_ERR_INPUT,
			    "%s: member \"%s\": the manifest's %s%s differs from "
			    "the member's %s line",
			    p->path, member, t[i].top ? "" : "collection ",
			    t[i].key, t[i].top ? "header" : "collection");
	if (!json_equal(json_object_get(f, "records"), json_object_get(c, "count")))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: member \"%s\" holds %lld records, the manifest says "
		    "%lld",
		    p->path, member,
		    (long long)json_integer_value(json_object_get(f, "records")),
		    (long long)json_integer_value(json_object_get(c, "count")));
	return 0;
}

static int
check_parsed(const struct parsed *p, const json_t *m, cdb_error *e)
{
	const char *member;
	json_int_t total = 0;
	json_t *c, *f;
	size_t i;

	json_array_foreach (json_object_get(m, "collections"), i, c) {
		member = json_string_value(json_object_get(c, "member"));
		f = json_object_get(p->found, member);
		if (json_is_string(f))
			return cdb_error_set(
			    e, CDB_ERR_INPUT, "%s", json_string_value(f));
		if (check_fields(p, m, c, f, e) == -1)
			return -1;
		total += json_integer_value(json_object_get(c, "count"));
	}
	if (!json_is_integer(json_object_get(m, "records")) ||
	    json_integer_value(json_object_get(m, "records")) != total)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: the manifest says %lld records, its collections hold "
		    "%lld",
		    p->path,
		    (long long)json_integer_value(json_object_get(m, "records")),
		    (long long)total);
	return 0;
}

json_t *
cdb_snapshot_verify(const char *path, cdb_error *e)
{
	struct parsed p = {path, json_object()};
	json_t *m;

	if (p.found == NULL) {
		cdb_error_oom(e);
		return NULL;
	}
	m = cdb_snapshot_read(path, NULL, parse_member, &p, e);
	if (m != NULL && check_parsed(&p, m, e) == -1) {
		json_decref(m);
		m = NULL;
	}
	json_decref(p.found);
	return m;
}
