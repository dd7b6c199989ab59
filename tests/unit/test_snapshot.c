#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ndjson.h"
#include "snapshot.h"

static char dir[64];
static char path[128];

static void
setup(void)
{
	strcpy(dir, "/tmp/cdb-unit-snap.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.tar.gz", dir);
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A complete cdb-ndjson stream of collection name with n records. */
static void
write_stream(FILE *f, const char *name, int n)
{
	cdb_writer *w = cdb_writer_new(f);
	json_t *h = cdb_ndjson_header("http://h", "t", "d", "test");
	json_t *c = json_pack("{s:s, s:s, s:{s:s}, s:{s:{s:s}}, s:i, s:i}",
	    "kind", "collection", "name", name, "metadata", "k", "v",
	    "configuration", "hnsw", "space", "l2", "dimension", 2, "count", n);
	float v[2] = {1.5f, -2.0f};
	cdb_buf b;
	cdb_error e;
	char id[32];
	int i;

	cdb_error_clear(&e);
	cdb_buf_init(&b);
	ck_assert_int_eq(cdb_writer_json(w, CDB_KIND_HEADER, h, &e), 0);
	ck_assert_int_eq(cdb_writer_json(w, CDB_KIND_COLLECTION, c, &e), 0);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		cdb_buf_reset(&b);
		ck_assert_int_eq(
		    cdb_ndjson_format_record(&b, name, id, strlen(id), NULL,
		        NULL, NULL, v, 2, CDB_EMB_BASE64, NULL, 0),
		    0);
		ck_assert_int_eq(
		    cdb_writer_line(w, CDB_KIND_RECORD, b.data, b.len, &e), 0);
	}
	ck_assert_int_eq(cdb_writer_trailer(w, &e), 0);
	cdb_writer_free(w);
	cdb_buf_free(&b);
	json_decref(h);
	json_decref(c);
}

static cdb_snapshot_writer *
open_writer(int comp, const char *who)
{
	json_t *id = json_pack("{s:s}", "server", who);
	cdb_snapshot_writer *w;
	cdb_error e;

	cdb_error_clear(&e);
	w = cdb_snapshot_writer_new(path, comp, 0, 0, id, &e);
	json_decref(id);
	ck_assert_msg(w != NULL, "%s", e.text);
	return w;
}

static void
add_member(cdb_snapshot_writer *w, const char *name, int n, int claimed)
{
	json_t *ent = json_pack("{s:s, s:i, s:{s:s}, s:{s:{s:s}}, s:i}",
	    "name", name, "count", claimed, "metadata", "k", "v",
	    "configuration", "hnsw", "space", "l2", "dimension", 2);
	cdb_error e;
	FILE *f;

	cdb_error_clear(&e);
	ck_assert_ptr_nonnull(f = cdb_snapshot_writer_begin(w, name, &e));
	write_stream(f, name, n);
	ck_assert_msg(cdb_snapshot_writer_end(w, ent, &e) == 0, "%s", e.text);
	json_decref(ent);
}

static void
finish(cdb_snapshot_writer *w)
{
	json_t *top = json_pack("{s:s, s:s, s:s, s:s}", "server", "http://h",
	    "tool", "t", "tenant", "t", "database", "d");
	cdb_error e;

	cdb_error_clear(&e);
	ck_assert_msg(
	    cdb_snapshot_writer_finish(w, top, &e) == 0, "%s", e.text);
	json_decref(top);
	cdb_snapshot_writer_free(w);
}

static void
make_snapshot(int comp)
{
	cdb_snapshot_writer *w = open_writer(comp, "a");

	add_member(w, "alpha", 3, 3);
	add_member(w, "beta/weird name", 0, 0);
	add_member(w, "gamma", 1200, 1200);
	finish(w);
}

/* Expect reading (or verifying) path to fail with want in the message. */
static void
expect_refused(int full, const char *want)
{
	cdb_error e;
	json_t *m;

	cdb_error_clear(&e);
	m = full ? cdb_snapshot_verify(path, &e)
	         : cdb_snapshot_read(path, NULL, NULL, NULL, &e);
	ck_assert_msg(m == NULL, "accepted; expected \"%s\"", want);
	ck_assert_msg(strstr(e.text, want) != NULL,
	    "got \"%s\", expected \"%s\"", e.text, want);
}

START_TEST(test_names)
{
	char m[160];

	ck_assert_int_eq(cdb_snapshot_comp_parse("gzip"), CDB_SNAP_GZIP);
	ck_assert_int_eq(cdb_snapshot_comp_parse("zstd"), CDB_SNAP_ZSTD);
	ck_assert_int_eq(cdb_snapshot_comp_parse("xz"), CDB_SNAP_XZ);
	ck_assert_int_eq(cdb_snapshot_comp_parse("none"), CDB_SNAP_NONE);
	ck_assert_int_eq(cdb_snapshot_comp_parse("lzip"), -1);
	ck_assert_str_eq(cdb_snapshot_comp_name(CDB_SNAP_ZSTD), "zstd");
	ck_assert_int_eq(cdb_snapshot_comp_guess("a.tar.gz"), CDB_SNAP_GZIP);
	ck_assert_int_eq(cdb_snapshot_comp_guess("a.tgz"), CDB_SNAP_GZIP);
	ck_assert_int_eq(cdb_snapshot_comp_guess("a.tar.zst"), CDB_SNAP_ZSTD);
	ck_assert_int_eq(cdb_snapshot_comp_guess("a.tar.xz"), CDB_SNAP_XZ);
	ck_assert_int_eq(cdb_snapshot_comp_guess("a.tar"), CDB_SNAP_NONE);
	ck_assert_int_eq(cdb_snapshot_comp_guess("a.snap"), -1);
	cdb_snapshot_member_name(m, sizeof(m), 7, "docs.v2");
	ck_assert_str_eq(m, "collections/0007-docs.v2.ndjson");
	ck_assert(cdb_snapshot_member_ok(m));
	/* Whatever the name holds, the member name is tame. */
	cdb_snapshot_member_name(m, sizeof(m), 12, "../../etc/passwd");
	ck_assert_str_eq(m, "collections/0012-.._.._etc_passwd.ndjson");
	ck_assert(cdb_snapshot_member_ok(m));
	ck_assert(!cdb_snapshot_member_ok("collections/0001-a/../b.ndjson"));
	ck_assert(!cdb_snapshot_member_ok("/collections/0001-a.ndjson"));
	ck_assert(!cdb_snapshot_member_ok("collections/1-a.ndjson"));
	ck_assert(!cdb_snapshot_member_ok("collections/0001-.ndjson"));
	ck_assert(!cdb_snapshot_member_ok("collections/0001-a.json"));
	ck_assert(!cdb_snapshot_member_ok("notes.txt"));
}
END_TEST

START_TEST(test_write_read_verify)
{
	static const int comps[] = {
	    CDB_SNAP_GZIP, CDB_SNAP_NONE, CDB_SNAP_ZSTD, CDB_SNAP_XZ};
	char partial[160];
	cdb_error e;
	json_t *m, *c;
	size_t i;

	for (i = 0; i < sizeof(comps) / sizeof(comps[0]); i++) {
		make_snapshot(comps[i]);
		/* The work files are gone; only the snapshot is left. */
		ck_assert_int_eq(access(path, F_OK), 0);
		snprintf(partial, sizeof(partial), "%s.partial", path);
		ck_assert_int_ne(access(partial, F_OK), 0);
		strcat(partial, ".ckpt");
		ck_assert_int_ne(access(partial, F_OK), 0);
		cdb_error_clear(&e);
		m = cdb_snapshot_verify(path, &e);
		ck_assert_msg(m != NULL, "%s", e.text);
		ck_assert_int_eq(cdb_snapshot_check_manifest(m, &e), 0);
		ck_assert_str_eq(
		    json_string_value(json_object_get(m, "compression")),
		    cdb_snapshot_comp_name(comps[i]));
		ck_assert_int_eq(
		    json_array_size(json_object_get(m, "collections")), 3);
		c = cdb_snapshot_find(m, "beta/weird name");
		ck_assert_ptr_nonnull(c);
		ck_assert_str_eq(
		    json_string_value(json_object_get(c, "member")),
		    "collections/0002-beta_weird_name.ndjson");
		c = cdb_snapshot_find(m, "gamma");
		ck_assert_int_eq(
		    json_integer_value(json_object_get(c, "count")), 1200);
		ck_assert_str_eq(
		    json_string_value(json_object_get(m, "server")),
		    "http://h");
		json_decref(m);
		unlink(path);
	}
}
END_TEST

static int
count_member(
    void *arg, const char *member, const json_t *entry, FILE *in, cdb_error *e)
{
	long *lines = arg;
	char buf[4096];

	(void)member;
	(void)e;
	ck_assert_ptr_nonnull(entry);
	/* Read only a little: the reader must cope. */
	if (fgets(buf, sizeof(buf), in) != NULL)
		(*lines)++;
	return 0;
}

START_TEST(test_second_pass)
{
	cdb_error e;
	json_t *m, *m2;
	long lines = 0;

	make_snapshot(CDB_SNAP_GZIP);
	cdb_error_clear(&e);
	ck_assert_ptr_nonnull(
	    m = cdb_snapshot_read(path, NULL, NULL, NULL, &e));
	m2 = cdb_snapshot_read(path, m, count_member, &lines, &e);
	ck_assert_msg(m2 != NULL, "%s", e.text);
	ck_assert_int_eq(lines, 3);
	ck_assert(json_equal(m, m2));
	json_decref(m);
	json_decref(m2);
}
END_TEST

START_TEST(test_resume)
{
	cdb_snapshot_writer *w;
	char partial[160], stale[192];
	cdb_error e;
	json_t *m, *id;
	int fd;

	w = open_writer(CDB_SNAP_GZIP, "a");
	add_member(w, "alpha", 5, 5);
	/* A crash in the middle of the next member. */
	ck_assert_ptr_nonnull(cdb_snapshot_writer_begin(w, "beta", &e));
	cdb_snapshot_writer_free(w);
	snprintf(partial, sizeof(partial), "%s.partial", path);
	fd = open(partial, O_WRONLY | O_APPEND);
	ck_assert(write(fd, "torn bytes", 10) == 10);
	close(fd);
	/* What a kill in the middle of a checkpoint save leaves. */
	snprintf(stale, sizeof(stale), "%s.partial.ckpt.tmp.4242", path);
	ck_assert_int_ge(fd = open(stale, O_WRONLY | O_CREAT, 0600), 0);
	close(fd);
	/* It never looks like a snapshot. */
	ck_assert_int_ne(access(path, F_OK), 0);
	/* Another identity may not take it over. */
	id = json_pack("{s:s}", "server", "b");
	cdb_error_clear(&e);
	ck_assert_ptr_null(
	    cdb_snapshot_writer_new(path, CDB_SNAP_GZIP, 0, 0, id, &e));
	ck_assert_ptr_nonnull(strstr(e.text, "interrupted snapshot"));
	json_decref(id);
	/* The same one goes on from the finished member. */
	w = open_writer(CDB_SNAP_GZIP, "a");
	ck_assert(cdb_snapshot_writer_resumed(w));
	ck_assert_int_eq(json_array_size(cdb_snapshot_writer_done(w)), 1);
	add_member(w, "beta", 7, 7);
	finish(w);
	ck_assert_int_ne(access(stale, F_OK), 0);
	cdb_error_clear(&e);
	ck_assert_msg(
	    (m = cdb_snapshot_verify(path, &e)) != NULL, "%s", e.text);
	ck_assert_int_eq(json_array_size(json_object_get(m, "collections")), 2);
	json_decref(m);
	/* An existing snapshot is not replaced without force. */
	id = json_pack("{s:s}", "server", "a");
	ck_assert_ptr_null(
	    cdb_snapshot_writer_new(path, CDB_SNAP_GZIP, 0, 0, id, &e));
	ck_assert_ptr_nonnull(strstr(e.text, "exists"));
	json_decref(id);
}
END_TEST

static void
flip_byte(long long at)
{
	int fd = open(path, O_RDWR);
	unsigned char c;

	ck_assert_int_ge(fd, 0);
	ck_assert(pread(fd, &c, 1, at) == 1);
	c ^= 0x20;
	ck_assert(pwrite(fd, &c, 1, at) == 1);
	close(fd);
}

static long long
file_size(void)
{
	struct stat sb;

	ck_assert_int_eq(stat(path, &sb), 0);
	return (long long)sb.st_size;
}

START_TEST(test_damage)
{
	long long size;

	/* Uncompressed, a flipped byte inside a record is the digest's job. */
	make_snapshot(CDB_SNAP_NONE);
	flip_byte(2048);
	expect_refused(0, "digest mismatch");
	unlink(path);
	/* Compressed, the decompressor or the digest catches it. */
	make_snapshot(CDB_SNAP_GZIP);
	size = file_size();
	flip_byte(size / 2);
	expect_refused(0, "s.tar.gz");
	unlink(path);
	/* Truncated anywhere: in a member, or before the manifest. */
	make_snapshot(CDB_SNAP_GZIP);
	size = file_size();
	ck_assert_int_eq(truncate(path, size / 2), 0);
	expect_refused(0, "truncated");
	unlink(path);
	make_snapshot(CDB_SNAP_GZIP);
	ck_assert_int_eq(truncate(path, file_size() - 1), 0);
	expect_refused(0, "truncated");
}
END_TEST

/* Append n bytes (data, or zeros when data is NULL) to the snapshot. */
static void
append(const void *data, size_t n)
{
	FILE *f = fopen(path, "ab");
	size_t i;

	ck_assert_ptr_nonnull(f);
	for (i = 0; i < n; i++)
		ck_assert_int_ne(fputc(data ? ((const char *)data)[i] : 0, f), EOF);
	ck_assert_int_eq(fclose(f), 0);
}

/*
 * A verified snapshot vouches for every byte of its file: data after the
 * compressed stream, or after the tar end blocks inside it, is refused.
 * Zero blocks after the end blocks are tar's padding.
 */
START_TEST(test_appended)
{
	/* "this", gzipped. */
	static const unsigned char gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3,
	    0x2b, 0xc9, 0xc8, 0x2c, 6, 0, 0x27, 0x82, 0xee, 0xfe, 4, 0, 0, 0};
	int comp;
	cdb_error e;
	json_t *m;

	for (comp = CDB_SNAP_NONE; comp <= CDB_SNAP_XZ; comp++) {
		if ((comp == CDB_SNAP_ZSTD && archive_libzstd_version() == NULL) ||
		    (comp == CDB_SNAP_XZ && archive_liblzma_version() == NULL))
			continue;
		make_snapshot(comp);
		append("junk\n", 5);
		/* zstd and xz read the junk as a damaged frame. */
		expect_refused(1, comp == CDB_SNAP_NONE
		                      ? "data after the end of the snapshot"
		                  : comp == CDB_SNAP_GZIP
		                      ? "5 bytes after the end of the compressed data"
		                      : "damaged or truncated archive");
		unlink(path);
		/* Uncompressed, a zero block is padding; compressed, a byte. */
		make_snapshot(comp);
		append(NULL, comp == CDB_SNAP_NONE ? 512 : 1);
		if (comp == CDB_SNAP_NONE) {
			cdb_error_clear(&e);
			ck_assert_msg((m = cdb_snapshot_verify(path, &e)) != NULL,
			    "%s", e.text);
			json_decref(m);
		} else
			expect_refused(1, comp == CDB_SNAP_GZIP
			                      ? "1 byte after the end of the compressed data"
			                      : "damaged or truncated archive");
		unlink(path);
	}
	/* A second gzip member decompresses as part of the stream. */
	make_snapshot(CDB_SNAP_GZIP);
	append(gz, sizeof(gz));
	expect_refused(0, "data after the end of the snapshot");
}
END_TEST

START_TEST(test_truncated_at_a_member)
{
	cdb_snapshot_writer *w;
	char partial[160];

	w = open_writer(CDB_SNAP_GZIP, "a");
	add_member(w, "alpha", 5, 5);
	cdb_snapshot_writer_free(w);
	/* Cut exactly after a whole member: still no manifest. */
	snprintf(partial, sizeof(partial), "%s.partial", path);
	ck_assert_int_eq(rename(partial, path), 0);
	expect_refused(0, "no manifest");
}
END_TEST

START_TEST(test_wrong_count)
{
	cdb_snapshot_writer *w = open_writer(CDB_SNAP_GZIP, "a");

	add_member(w, "alpha", 5, 6);
	finish(w);
	/* The digests agree; only parsing the member shows it. */
	expect_refused(1, "holds 5 records, the manifest says 6");
}
END_TEST

/* ---------------------------------------------------- crafted archives -- */

struct craft {
	struct archive *a;
	json_t *colls;
};

static void
craft_open(struct craft *c)
{
	c->a = archive_write_new();
	archive_write_set_format_pax_restricted(c->a);
	archive_write_add_filter_gzip(c->a);
	ck_assert_int_eq(archive_write_open_filename(c->a, path), ARCHIVE_OK);
	c->colls = json_array();
}

static void
craft_entry(struct craft *c, const char *name, int type, const char *data,
    const char *link)
{
	struct archive_entry *en = archive_entry_new();
	size_t n = data ? strlen(data) : 0;

	archive_entry_set_pathname(en, name);
	archive_entry_set_filetype(en, (unsigned)type);
	archive_entry_set_perm(en, 0644);
	archive_entry_set_size(en, (la_int64_t)n);
	if (link != NULL && type == AE_IFLNK)
		archive_entry_set_symlink(en, link);
	else if (link != NULL)
		archive_entry_set_hardlink(en, link);
	ck_assert_int_eq(archive_write_header(c->a, en), ARCHIVE_OK);
	if (n > 0)
		ck_assert_int_eq(
		    archive_write_data(c->a, data, n), (la_ssize_t)n);
	archive_entry_free(en);
}

/* A member with a real stream, listed in the manifest. */
static void
craft_member(struct craft *c, const char *member, const char *name)
{
	char *text = NULL, dg[23];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cdb_digest d;

	write_stream(f, name, 2);
	fclose(f);
	craft_entry(c, member, AE_IFREG, text, NULL);
	cdb_digest_init(&d);
	cdb_digest_update(&d, text, len);
	cdb_digest_format(&d, dg);
	json_array_append_new(c->colls,
	    json_pack("{s:s, s:s, s:i, s:I, s:s, s:{s:s}, s:{s:{s:s}}, s:i}",
	        "name", name, "member", member, "count", 2, "bytes",
	        (json_int_t)len, "digest", dg, "metadata", "k", "v",
	        "configuration", "hnsw", "space", "l2", "dimension", 2));
	free(text);
}

static void
craft_close(struct craft *c, int with_manifest)
{
	json_t *m = json_pack("{s:s, s:i, s:s, s:s, s:I, s:o}", "format",
	    CDB_SNAPSHOT_FORMAT, "version", 1, "tenant", "t", "database", "d",
	    "records", (json_int_t)(2 * json_array_size(c->colls)),
	    "collections", c->colls);
	char *text = json_dumps(m, 0);

	if (with_manifest)
		craft_entry(c, CDB_SNAPSHOT_MANIFEST, AE_IFREG, text, NULL);
	free(text);
	json_decref(m);
	ck_assert_int_eq(archive_write_close(c->a), ARCHIVE_OK);
	archive_write_free(c->a);
}

START_TEST(test_crafted_good)
{
	struct craft c;
	cdb_error e;
	json_t *m;

	/* The crafting itself makes valid snapshots: the refusals below are
	 * about what was added, nothing else. */
	craft_open(&c);
	craft_member(&c, "collections/0001-a.ndjson", "aaa");
	craft_close(&c, 1);
	cdb_error_clear(&e);
	ck_assert_msg(
	    (m = cdb_snapshot_verify(path, &e)) != NULL, "%s", e.text);
	json_decref(m);
}
END_TEST

START_TEST(test_crafted_paths)
{
	static const struct {
		const char *name;
		int type;
		const char *link;
		const char *want;
	} bad[] = {
	    {"../evil.ndjson", AE_IFREG, NULL, "\"..\" path component"},
	    {"collections/../../x", AE_IFREG, NULL, "\"..\" path component"},
	    {"/etc/cron.d/evil", AE_IFREG, NULL, "absolute path"},
	    {"collections/0002-l.ndjson", AE_IFLNK, "/etc/passwd",
	        "symbolic link"},
	    {"collections/0002-h.ndjson", AE_IFREG, "manifest.json",
	        "hard link"},
	    {"collections", AE_IFDIR, NULL, "a directory"},
	    {"notes.txt", AE_IFREG, NULL, "not part of a cdb snapshot"},
	    {"collections/0009-extra.ndjson", AE_IFREG, NULL,
	        "not named in the manifest"},
	};
	struct craft c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		craft_open(&c);
		craft_member(&c, "collections/0001-a.ndjson", "aaa");
		craft_entry(&c, bad[i].name, bad[i].type,
		    bad[i].type == AE_IFREG && bad[i].link == NULL ? "x\n"
		                                                   : NULL,
		    bad[i].link);
		craft_close(&c, 1);
		expect_refused(0, bad[i].want);
		unlink(path);
	}
}
END_TEST

START_TEST(test_crafted_structure)
{
	struct craft c;

	/* A member twice. */
	craft_open(&c);
	craft_member(&c, "collections/0001-a.ndjson", "aaa");
	craft_entry(&c, "collections/0001-a.ndjson", AE_IFREG, "x\n", NULL);
	craft_close(&c, 1);
	expect_refused(0, "appears twice");
	/* Something after the manifest. */
	craft_open(&c);
	craft_member(&c, "collections/0001-a.ndjson", "aaa");
	{
		json_t *m = json_pack("{s:s, s:i, s:O}", "format",
		    CDB_SNAPSHOT_FORMAT, "version", 1, "collections", c.colls);
		char *t = json_dumps(m, 0);
		craft_entry(&c, CDB_SNAPSHOT_MANIFEST, AE_IFREG, t, NULL);
		free(t);
		json_decref(m);
	}
	craft_entry(&c, "collections/0002-b.ndjson", AE_IFREG, "x\n", NULL);
	json_decref(c.colls);
	ck_assert_int_eq(archive_write_close(c.a), ARCHIVE_OK);
	archive_write_free(c.a);
	expect_refused(0, "comes after the manifest");
	/* A manifest member that a member does not match. */
	craft_open(&c);
	craft_member(&c, "collections/0001-a.ndjson", "aaa");
	json_object_set_new(json_array_get(c.colls, 0), "digest",
	    json_string("xxh64:0000000000000000"));
	craft_close(&c, 1);
	expect_refused(0, "digest mismatch");
	/* A listed member that is not there. */
	craft_open(&c);
	craft_member(&c, "collections/0001-a.ndjson", "aaa");
	json_array_append_new(
	    c.colls, json_pack("{s:s, s:s, s:i, s:i, s:s}", "name", "bbb",
	                 "member", "collections/0002-bbb.ndjson", "count", 0,
	                 "bytes", 0, "digest", "xxh64:0000000000000000"));
	craft_close(&c, 1);
	expect_refused(0, "is missing");
	/* A member that writes to another collection than its own. */
	craft_open(&c);
	craft_member(&c, "collections/0001-a.ndjson", "other");
	json_object_set_new(
	    json_array_get(c.colls, 0), "name", json_string("aaa"));
	craft_close(&c, 1);
	expect_refused(
	    1, "holds collection \"other\", the manifest says \"aaa\"");
}
END_TEST

/* verify proves every manifest field restore uses, not the digests alone. */
START_TEST(test_crafted_fields)
{
	static const struct {
		const char *key, *json, *want;
	} t[] = {
	    {"metadata", "{\"k\":\"w\"}", "collection metadata differs"},
	    {"metadata", "null", "collection metadata differs"},
	    {"configuration", "{\"hnsw\":{\"space\":\"ip\"}}",
	        "collection configuration differs"},
	    {"dimension", "3", "collection dimension differs"},
	    {"count", "3", "holds 2 records, the manifest says 3"},
	    {"records", "9", "the manifest says 9 records, its collections"},
	    {"tenant", "\"u\"", "manifest's tenant differs"},
	    {"database", "null", "manifest's database differs"},
	};
	struct craft c;
	json_t *m, *v;
	size_t i;
	char *text;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		craft_open(&c);
		craft_member(&c, "collections/0001-a.ndjson", "aaa");
		m = json_pack("{s:s, s:i, s:s, s:s, s:i, s:O}", "format",
		    CDB_SNAPSHOT_FORMAT, "version", 1, "tenant", "t",
		    "database", "d", "records", 2, "collections", c.colls);
		v = json_loads(t[i].json, JSON_DECODE_ANY, NULL);
		if (strcmp(t[i].key, "records") == 0 ||
		    strcmp(t[i].key, "tenant") == 0 ||
		    strcmp(t[i].key, "database") == 0)
			json_object_set_new(m, t[i].key, v);
		else
			json_object_set_new(
			    json_array_get(c.colls, 0), t[i].key, v);
		text = json_dumps(m, 0);
		craft_entry(&c, CDB_SNAPSHOT_MANIFEST, AE_IFREG, text, NULL);
		free(text);
		json_decref(m);
		json_decref(c.colls);
		ck_assert_int_eq(archive_write_close(c.a), ARCHIVE_OK);
		archive_write_free(c.a);
		expect_refused(1, t[i].want);
	}
}
END_TEST

START_TEST(test_manifest_checks)
{
	static const char *const bad[] = {
	    "[]",
	    "{\"format\":\"tar\",\"version\":1,\"collections\":[]}",
	    "{\"format\":\"cdb-snapshot\",\"version\":2,\"collections\":[]}",
	    "{\"format\":\"cdb-snapshot\",\"version\":1}",
	    "{\"format\":\"cdb-snapshot\",\"version\":1,\"collections\":[{"
	    "\"name\":\"a\",\"member\":\"../a\",\"count\":1,\"bytes\":1,"
	    "\"digest\":\"xxh64:0000000000000000\"}]}",
	    "{\"format\":\"cdb-snapshot\",\"version\":1,\"collections\":[{"
	    "\"name\":\"a\",\"member\":\"collections/0001-a.ndjson\","
	    "\"count\":-1,\"bytes\":1,\"digest\":\"xxh64:0000000000000000\"}]}",
	    "{\"format\":\"cdb-snapshot\",\"version\":1,\"collections\":[{"
	    "\"name\":\"a\",\"member\":\"collections/0001-a.ndjson\","
	    "\"count\":1,\"bytes\":1,\"digest\":\"md5:00\"}]}",
	    /* A scope the reader does not know (issue 12): strict. */
	    "{\"format\":\"cdb-snapshot\",\"version\":1,\"scope\":\"evil\","
	    "\"collections\":[]}",
	    "{\"format\":\"cdb-snapshot\",\"version\":1,\"scope\":null,"
	    "\"collections\":[]}",
	};
	cdb_error e;
	json_t *m;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = json_loads(bad[i], 0, NULL);
		ck_assert_ptr_nonnull(m);
		cdb_error_clear(&e);
		ck_assert_msg(cdb_snapshot_check_manifest(m, &e) == -1,
		    "accepted %s", bad[i]);
		json_decref(m);
	}
}
END_TEST

Suite *
snapshot_suite(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_write_read_verify);
	tcase_add_test(tc, test_second_pass);
	tcase_add_test(tc, test_resume);
	tcase_add_test(tc, test_damage);
	tcase_add_test(tc, test_appended);
	tcase_add_test(tc, test_truncated_at_a_member);
	tcase_add_test(tc, test_wrong_count);
	tcase_add_test(tc, test_crafted_good);
	tcase_add_test(tc, test_crafted_paths);
	tcase_add_test(tc, test_crafted_structure);
	tcase_add_test(tc, test_crafted_fields);
	tcase_add_test(tc, test_manifest_checks);
	suite_add_tcase(s, tc);
	return s;
}
