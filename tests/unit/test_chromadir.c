/*
 * The readers of a Chroma data directory's untrusted files: the strict
 * pickle reader and the hnswlib level-0 reader.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdb.h"
#include "hnsw.h"
#include "pickle.h"

static cdb_pickle_val *
load(const void *p, size_t n, const char *const *keep, cdb_error *e)
{
	FILE *fp = fmemopen((void *)p, n, "rb");
	cdb_pickle_val *v;

	ck_assert_ptr_nonnull(fp);
	cdb_error_clear(e);
	v = cdb_pickle_read(fp, "t.pickle", keep, e);
	fclose(fp);
	return v;
}

/* {"dimensionality": None, "id_to_label": {"a": 1, "b": 300},
 *  "label_to_id": {1: "a"}, "n": -2, "big": 2**40} as serde_pickle
 *  writes it (protocol 3, MARK ... SETITEMS). */
static const unsigned char good[] = {0x80, 0x03, '}', '(', 'X', 14, 0, 0, 0,
    'd', 'i', 'm', 'e', 'n', 's', 'i', 'o', 'n', 'a', 'l', 'i', 't', 'y', 'N',
    'X', 11, 0, 0, 0, 'i', 'd', '_', 't', 'o', '_', 'l', 'a', 'b', 'e', 'l',
    '}', '(', 'X', 1, 0, 0, 0, 'a', 'K', 1, 0x8c, 1, 'b', 'M', 0x2c, 0x01, 'u',
    'X', 11, 0, 0, 0, 'l', 'a', 'b', 'e', 'l', '_', 't', 'o', '_', 'i', 'd',
    '}', 'J', 1, 0, 0, 0, 'X', 1, 0, 0, 0, 'a', 's', 'X', 1, 0, 0, 0, 'n', 'J',
    0xfe, 0xff, 0xff, 0xff, 'X', 3, 0, 0, 0, 'b', 'i', 'g', 0x8a, 6, 0, 0, 0, 0,
    0, 1, 'u', '.'};

START_TEST(pickle_dict)
{
	const cdb_pickle_val *m;
	cdb_pickle_val *v;
	cdb_error e;

	ck_assert_ptr_nonnull(v = load(good, sizeof(good), NULL, &e));
	ck_assert_int_eq(v->type, CDB_PICKLE_DICT);
	ck_assert_int_eq(v->len, 5);
	ck_assert_int_eq(
	    cdb_pickle_get(v, "dimensionality")->type, CDB_PICKLE_NONE);
	m = cdb_pickle_get(v, "id_to_label");
	ck_assert_int_eq(m->len, 2);
	ck_assert_str_eq(m->v[2].s, "b");
	ck_assert_int_eq(m->v[3].i, 300);
	ck_assert_int_eq(cdb_pickle_get(v, "label_to_id")->v[0].i, 1);
	ck_assert_int_eq(cdb_pickle_get(v, "n")->i, -2);
	ck_assert_int_eq(cdb_pickle_get(v, "big")->i, 1LL << 40);
	cdb_pickle_free(v);
}
END_TEST

START_TEST(pickle_keep)
{
	static const char *const keep[] = {"id_to_label", NULL};
	cdb_pickle_val *v;
	cdb_error e;

	ck_assert_ptr_nonnull(v = load(good, sizeof(good), keep, &e));
	ck_assert_int_eq(v->len, 1);
	ck_assert_ptr_nonnull(cdb_pickle_get(v, "id_to_label"));
	ck_assert_ptr_null(cdb_pickle_get(v, "label_to_id"));
	cdb_pickle_free(v);
}
END_TEST

static void
refused(const void *p, size_t n, const char *want)
{
	cdb_error e;

	ck_assert_ptr_null(load(p, n, NULL, &e));
	ck_assert_msg(strstr(e.text, want) != NULL, "got: %s", e.text);
	ck_assert_msg(
	    strncmp(e.text, "t.pickle: offset ", 17) == 0, "got: %s", e.text);
}

START_TEST(pickle_hostile)
{
	/* Python 0.4-0.6: an object of a class, then REDUCE. */
	static const unsigned char obj[] = {0x80, 0x04, 0x95, 0, 0, 0, 0, 0, 0,
	    0, 0, 0x8c, 1, 'm', 0x8c, 1, 'C', 0x93, ')', 0x81, '.'};
	static const unsigned char reduce[] = {0x80, 0x02, 'N', 'N', 'R', '.'};
	static const unsigned char trunc[] = {
	    0x80, 0x03, 'X', 0xff, 0, 0, 0, 'a'};
	static const unsigned char huge[] = {
	    0x80, 0x03, 'X', 0xff, 0xff, 0xff, 0xff, '.'};
	static const unsigned char nul[] = {
	    0x80, 0x03, 'X', 1, 0, 0, 0, 0, '.'};
	static const unsigned char two[] = {0x80, 0x03, 'N', 'N', '.'};
	static const unsigned char nostop[] = {0x80, 0x03, '}'};
	static const unsigned char under[] = {0x80, 0x03, 'N', 'u', '.'};
	static const unsigned char notdict[] = {
	    0x80, 0x03, ']', 'N', 'N', 's', '.'};
	static const unsigned char get[] = {
	    0x80, 0x03, '}', 'q', 0, 'h', 0, '.'};
	static const unsigned char badkey[] = {
	    0x80, 0x03, '}', 'N', 'N', 's', '.'};
	unsigned char deep[200];
	size_t i, n = 0;

	refused(obj, sizeof(obj), "names a Python class");
	refused(reduce, sizeof(reduce), "opcode 0x52 is not allowed");
	refused(trunc, sizeof(trunc), "truncated");
	refused(huge, sizeof(huge), "length out of range");
	refused(nul, sizeof(nul), "NUL");
	refused(two, sizeof(two), "STOP with other than one value");
	refused(nostop, sizeof(nostop), "truncated");
	refused(under, sizeof(under), "no mark");
	refused(notdict, sizeof(notdict), "not a dict");
	refused(get, sizeof(get), "opcode 0x68 is not allowed");
	refused(badkey, sizeof(badkey), "neither a string nor an integer");
	/* [[[[...]]]] 40 deep: refused before any recursion gets deep. */
	deep[n++] = 0x80;
	deep[n++] = 0x03;
	for (i = 0; i < 40; i++)
		deep[n++] = ']';
	for (i = 0; i < 39; i++)
		deep[n++] = 'a';
	deep[n++] = '.';
	refused(deep, n, "nesting too deep");
}
END_TEST

/* ------------------------------------------------------------- hnsw -- */

static void
put64(unsigned char *p, unsigned long long x)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(x >> (8 * i));
}

static void
write_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(fp = fopen(path, "wb"));
	ck_assert_uint_eq(fwrite(p, 1, n, fp), n);
	fclose(fp);
}

/* An index of count elements of 2 dimensions, maxM0 2, labels 5, 7, ... */
static void
make_index(const char *dir, unsigned long long claim, size_t count)
{
	unsigned char h[100], d[3 * 28];
	unsigned char len[12] = {0};
	float v[2];
	size_t i;

	memset(h, 0, sizeof(h));
	h[0] = 1;
	put64(h + 12, 16);    /* capacity */
	put64(h + 20, claim); /* elements */
	put64(h + 28, 28);    /* 4 + 2*4 links, 2*4 vector, 8 label */
	put64(h + 36, 20);
	put64(h + 44, 12);
	put64(h + 60, 1);
	put64(h + 68, 2);
	write_file(dir, "header.bin", h, sizeof(h));
	memset(d, 0, sizeof(d));
	for (i = 0; i < count; i++) {
		v[0] = (float)i + 0.5f;
		v[1] = -(float)i;
		memcpy(d + 28 * i + 12, v, sizeof(v));
		put64(d + 28 * i + 20, 5 + 2 * i);
	}
	write_file(dir, "data_level0.bin", d, 28 * count);
	write_file(dir, "length.bin", len, 4 * count);
	write_file(dir, "link_lists.bin", "", 0);
}

static void
remove_index(const char *dir)
{
	static const char *files[] = {
	    "header.bin", "data_level0.bin", "length.bin", "link_lists.bin"};
	char path[512];
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

START_TEST(hnsw_read)
{
	char dir[] = "/tmp/cdb-hnsw.XXXXXX";
	float out[2];
	uint64_t elem;
	cdb_hnsw *h;
	cdb_error e;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	make_index(dir, 3, 3);
	cdb_error_clear(&e);
	ck_assert_ptr_nonnull(h = cdb_hnsw_open(dir, 0, &e));
	ck_assert_uint_eq(cdb_hnsw_dim(h), 2);
	ck_assert_uint_eq(cdb_hnsw_count(h), 3);
	ck_assert_int_eq(cdb_hnsw_find(h, 7, &elem), 1);
	ck_assert_int_eq(cdb_hnsw_read(h, elem, out, &e), 0);
	ck_assert(out[0] == 1.5f && out[1] == -1.0f);
	ck_assert_int_eq(cdb_hnsw_find(h, 6, &elem), 0);
	ck_assert_int_eq(cdb_hnsw_find(h, UINT64_MAX, &elem), 0);
	ck_assert_int_eq(cdb_hnsw_read(h, 3, out, &e), -1);
	ck_assert_msg(strstr(e.text, "element 3 of 3") != NULL, "got: %s", e.text);
	/* The file cut short after it was opened: the read names where. */
	write_file(dir, "data_level0.bin", "", 0);
	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_hnsw_read(h, elem, out, &e), -1);
	ck_assert_msg(strstr(e.text, "data_level0.bin: offset 40: truncated") !=
	                  NULL,
	    "got: %s", e.text);
	cdb_hnsw_free(h);
	make_index(dir, 3, 3);
	/* Normalised (cosine): stored vector times its norm in length.bin. */
	{
		float lens[3] = {1.0f, 4.0f, 0.5f};

		write_file(dir, "length.bin", lens, sizeof(lens));
		ck_assert_ptr_nonnull(h = cdb_hnsw_open(dir, 1, &e));
		cdb_error_clear(&e);
		ck_assert_int_eq(cdb_hnsw_find(h, 7, &elem), 1);
		ck_assert_int_eq(cdb_hnsw_read(h, elem, out, &e), 0);
		ck_assert(out[0] == 6.0f && out[1] == -4.0f);
		cdb_hnsw_free(h);
	}
	/* A header claiming more elements than the file holds. */
	make_index(dir, 4, 3);
	cdb_error_clear(&e);
	ck_assert_ptr_null(cdb_hnsw_open(dir, 0, &e));
	ck_assert_msg(strstr(e.text, "data_level0.bin: offset 84: size does "
	                             "not hold") != NULL,
	    "got: %s", e.text);
	/* A vector offset that disagrees with maxM0. */
	make_index(dir, 3, 3);
	{
		unsigned char h2[100];
		FILE *fp;
		char path[512];

		snprintf(path, sizeof(path), "%s/header.bin", dir);
		fp = fopen(path, "rb");
		ck_assert_uint_eq(fread(h2, 1, 100, fp), 100);
		fclose(fp);
		put64(h2 + 68, 3);
		write_file(dir, "header.bin", h2, 100);
	}
	cdb_error_clear(&e);
	ck_assert_ptr_null(cdb_hnsw_open(dir, 0, &e));
	ck_assert_msg(
	    strstr(e.text, "header.bin: offset 44") != NULL, "got: %s", e.text);
	/* A truncated header. */
	write_file(dir, "header.bin", "\1\0\0\0", 4);
	cdb_error_clear(&e);
	ck_assert_ptr_null(cdb_hnsw_open(dir, 0, &e));
	ck_assert_msg(
	    strstr(e.text, "not 100 bytes") != NULL, "got: %s", e.text);
	remove_index(dir);
}
END_TEST

Suite *
chromadir_suite(void)
{
	Suite *s = suite_create("chromadir");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, pickle_dict);
	tcase_add_test(tc, pickle_keep);
	tcase_add_test(tc, pickle_hostile);
	tcase_add_test(tc, hnsw_read);
	suite_add_tcase(s, tc);
	return s;
}
