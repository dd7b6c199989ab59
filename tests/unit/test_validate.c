/*
 * The comparison and statistics behind cdb-validate's tests, the id map
 * they use, and the report writers.  (The tests against real servers are
 * tests/cmd/validate_*.sh.)
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hmap.h"
#include "report.h"
#include "validate.h"

/* ------------------------------------------------------- embeddings -- */

START_TEST(test_emb_problem)
{
	float v[4] = {0.5f, -1, 0, 2};
	float z[3] = {0, -0.0f, 0};
	float bad[2] = {1, NAN};
	float inf[2] = {INFINITY, 1};

	ck_assert_int_eq(cdb_validate_emb_problem(v, 4, 4), CDB_VEMB_OK);
	ck_assert_int_eq(cdb_validate_emb_problem(v, 4, 0), CDB_VEMB_OK);
	ck_assert_int_eq(cdb_validate_emb_problem(v, 4, 5), CDB_VEMB_DIM);
	ck_assert_int_eq(cdb_validate_emb_problem(NULL, 0, 4), CDB_VEMB_NONE);
	ck_assert_int_eq(cdb_validate_emb_problem(v, 0, 0), CDB_VEMB_NONE);
	ck_assert_int_eq(cdb_validate_emb_problem(z, 3, 3), CDB_VEMB_ZERO);
	ck_assert_int_eq(
	    cdb_validate_emb_problem(bad, 2, 2), CDB_VEMB_NONFINITE);
	ck_assert_int_eq(
	    cdb_validate_emb_problem(inf, 2, 2), CDB_VEMB_NONFINITE);
}
END_TEST

START_TEST(test_emb_equal_exact)
{
	float a[3] = {0.1f, -2.5f, 3e-38f}, b[3];
	double dev;

	memcpy(b, a, sizeof(a));
	ck_assert_int_eq(cdb_validate_emb_equal(a, b, 3, 0, &dev), 1);
	ck_assert(dev == 0);
	/* One ulp is a change for l2 and ip collections. */
	b[1] = nextafterf(b[1], 0);
	ck_assert_int_eq(cdb_validate_emb_equal(a, b, 3, 0, &dev), 0);
	ck_assert(dev > 0 && dev < 1e-6);
	/* So is the sign of zero: the bits differ. */
	memcpy(b, a, sizeof(a));
	a[2] = 0.0f;
	b[2] = -0.0f;
	ck_assert_int_eq(cdb_validate_emb_equal(a, b, 3, 0, &dev), 0);
}
END_TEST

START_TEST(test_emb_equal_cosine)
{
	float a[4] = {3, 4, 0, -12}, b[4];
	double dev;
	size_t i;

	/* Rescaled, as Chroma returns cosine vectors: the same direction. */
	for (i = 0; i < 4; i++)
		b[i] = a[i] * 0.25f;
	ck_assert_int_eq(cdb_validate_emb_equal(a, b, 4, 1, &dev), 1);
	ck_assert(dev <= 1e-7);
	ck_assert_int_eq(cdb_validate_emb_equal(a, b, 4, 0, &dev), 0);
	/* Rounding of a float32 normalisation stays within tolerance. */
	b[0] = nextafterf(b[0], 10);
	ck_assert_int_eq(cdb_validate_emb_equal(a, b, 4, 1, &dev), 1);
	/* A component moved by 1e-4 of the norm is a different vector. */
	memcpy(b, a, sizeof(a));
	b[2] = 13 * 1e-4f;
	ck_assert_int_eq(cdb_validate_emb_equal(a, b, 4, 1, &dev), 0);
	ck_assert(dev > 5e-5 && dev < 2e-4);
	/* Just above the tolerance fails, just below passes. */
	b[2] = 13 * 2e-6f;
	ck_assert_int_eq(cdb_validate_emb_equal(a, b, 4, 1, &dev), 0);
	b[2] = 13 * 5e-7f;
	ck_assert_int_eq(cdb_validate_emb_equal(a, b, 4, 1, &dev), 1);
	/* A zero vector equals only a zero vector. */
	memset(b, 0, sizeof(b));
	ck_assert_int_eq(cdb_validate_emb_equal(a, b, 4, 1, &dev), 0);
	ck_assert_int_eq(cdb_validate_emb_equal(b, b, 4, 1, &dev), 1);
}
END_TEST

START_TEST(test_space_and_distance)
{
	json_t *c = json_loads("{\"hnsw\":{\"space\":\"cosine\"}}", 0, NULL);
	json_t *s =
	    json_loads("{\"hnsw\":null,\"spann\":{\"space\":\"ip\"}}", 0, NULL);
	float a[2] = {1, 0}, b[2] = {0, 2}, d[2] = {2, 0};

	ck_assert_int_eq(cdb_validate_space(c), CDB_SPACE_COSINE);
	ck_assert_int_eq(cdb_validate_space(s), CDB_SPACE_IP);
	ck_assert_int_eq(cdb_validate_space(NULL), CDB_SPACE_L2);
	ck_assert_str_eq(cdb_validate_space_name(CDB_SPACE_IP), "ip");
	ck_assert(cdb_validate_distance(CDB_SPACE_L2, a, 1, b, 2, 2) == 5);
	ck_assert(cdb_validate_distance(CDB_SPACE_IP, a, 1, d, 2, 2) == -1);
	ck_assert(fabs(cdb_validate_distance(CDB_SPACE_COSINE, a, 1, b, 2, 2) -
	               1) < 1e-12);
	ck_assert(
	    fabs(cdb_validate_distance(CDB_SPACE_COSINE, a, 1, d, 2, 2)) < 1e-12);
	json_decref(c);
	json_decref(s);
}
END_TEST

/* ------------------------------------------------------- statistics -- */

START_TEST(test_overlap)
{
	char *ref[] = {"a", "b", "c", "d"};
	char *got[] = {"d", "x", "a", "a"};
	char *dup[] = {"a", "a"};

	ck_assert(cdb_validate_overlap(ref, 4, ref, 4) == 1);
	ck_assert(cdb_validate_overlap(ref, 4, got, 4) == 0.5);
	ck_assert(cdb_validate_overlap(ref, 4, got, 0) == 0);
	ck_assert(cdb_validate_overlap(ref, 0, got, 4) == -1);
	/* A result listed twice counts once, on either side. */
	ck_assert(cdb_validate_overlap(dup, 2, ref, 1) == 0.5);
	ck_assert(cdb_validate_overlap(ref, 2, dup, 2) == 0.5);
}
END_TEST

START_TEST(test_threshold)
{
	/* "Above" means strictly above. */
	ck_assert_int_eq(cdb_validate_threshold(0, 10, 20), CDB_VS_PASSED);
	ck_assert_int_eq(cdb_validate_threshold(10, 10, 20), CDB_VS_PASSED);
	ck_assert_int_eq(cdb_validate_threshold(10.01, 10, 20), CDB_VS_WARNING);
	ck_assert_int_eq(cdb_validate_threshold(20, 10, 20), CDB_VS_WARNING);
	ck_assert_int_eq(cdb_validate_threshold(20.01, 10, 20), CDB_VS_FAILED);
	ck_assert_int_eq(cdb_validate_threshold(5, 5, 5), CDB_VS_PASSED);
	ck_assert_int_eq(cdb_validate_threshold(5.5, 5, 5), CDB_VS_FAILED);
}
END_TEST

START_TEST(test_verdict)
{
	int st[8] = {0}, why[8] = {0}, r;

	ck_assert_int_eq(cdb_validate_verdict(st, why, 8, &r), CDB_VS_PASSED);
	ck_assert_int_eq(r, CDB_VR_NONE);
	st[3] = CDB_VS_SKIPPED;
	ck_assert_int_eq(cdb_validate_verdict(st, why, 8, &r), CDB_VS_WARNING);
	st[3] = CDB_VS_WARNING;
	ck_assert_int_eq(cdb_validate_verdict(st, why, 8, &r), CDB_VS_WARNING);
	ck_assert_int_eq(r, CDB_VR_NONE);
	/* The root cause wins, whatever the order of the tests. */
	st[7] = CDB_VS_FAILED;
	why[7] = CDB_VR_SCHEMA;
	st[3] = CDB_VS_FAILED;
	why[3] = CDB_VR_SEARCH;
	ck_assert_int_eq(cdb_validate_verdict(st, why, 8, &r), CDB_VS_FAILED);
	ck_assert_int_eq(r, CDB_VR_SCHEMA);
	st[5] = CDB_VS_FAILED;
	why[5] = CDB_VR_DUPLICATE;
	cdb_validate_verdict(st, why, 8, &r);
	ck_assert_int_eq(r, CDB_VR_DUPLICATE);
	st[0] = CDB_VS_FAILED;
	why[0] = CDB_VR_DATA_LOSS;
	cdb_validate_verdict(st, why, 8, &r);
	ck_assert_int_eq(r, CDB_VR_DATA_LOSS);
	ck_assert_str_eq(cdb_validate_reason_name(r), "Data Loss Detected");
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(
	    cdb_validate_reason_name(CDB_VR_COUNT), "Chunk Count Mismatch");
	ck_assert_str_eq(
	    cdb_validate_reason_name(CDB_VR_SEARCH), "Search Results Diverged");
	ck_assert_str_eq(
	    cdb_validate_reason_name(CDB_VR_EMBEDDING), "Embedding Corruption");
	ck_assert_str_eq(
	    cdb_validate_reason_name(CDB_VR_DUPLICATE), "Duplicate IDs Found");
	ck_assert_str_eq(cdb_validate_reason_name(99), "?");
	ck_assert_str_eq(
	    cdb_validate_test_key(CDB_VT_CITATIONS), "citation_references");
	ck_assert_str_eq(
	    cdb_validate_test_title(CDB_VT_COUNT), "Count verification");
	ck_assert_int_eq(cdb_validate_status_parse("WARNING"), CDB_VS_WARNING);
	ck_assert_int_eq(cdb_validate_status_parse("ERROR"), CDB_VS_ERROR);
	ck_assert_int_eq(cdb_validate_status_parse("passed"), -1);
	ck_assert_int_eq(cdb_validate_status_parse(NULL), -1);
}
END_TEST

START_TEST(test_content_digest)
{
	json_t *d1 = json_string("same text"), *d2 = json_string("same text");
	json_t *empty = json_string(""), *other = json_string("same texT");
	float e[3] = {1, 2, 3}, f[3] = {1, 2, 3.0000002f};
	uint64_t a = cdb_validate_content_digest(d1, e, 3);

	ck_assert(a == cdb_validate_content_digest(d2, e, 3));
	ck_assert(a != cdb_validate_content_digest(other, e, 3));
	ck_assert(a != cdb_validate_content_digest(d1, f, 3));
	ck_assert(a != cdb_validate_content_digest(d1, e, 2));
	/* No document and an empty one are different content. */
	ck_assert(cdb_validate_content_digest(NULL, e, 3) !=
	          cdb_validate_content_digest(empty, e, 3));
	ck_assert(cdb_validate_content_digest(NULL, e, 3) ==
	          cdb_validate_content_digest(json_null(), e, 3));
	json_decref(d1);
	json_decref(d2);
	json_decref(empty);
	json_decref(other);
}
END_TEST

START_TEST(test_sampler)
{
	cdb_vsampler s, t;
	long slot, hits[10] = {0}, pick[10];
	int round, i, k;

	/* The first n items fill the reservoir in order. */
	cdb_vsampler_init(&s, 3, 7);
	ck_assert_int_eq(cdb_vsampler_offer(&s, 0), 0);
	ck_assert_int_eq(cdb_vsampler_offer(&s, 2), 2);
	/* The same seed samples the same items. */
	cdb_vsampler_init(&s, 3, 99);
	cdb_vsampler_init(&t, 3, 99);
	for (i = 3; i < 1000; i++)
		ck_assert_int_eq(
		    cdb_vsampler_offer(&s, i), cdb_vsampler_offer(&t, i));
	/* Every item of 10 is kept about 3 times in 10. */
	for (round = 0; round < 3000; round++) {
		cdb_vsampler_init(&s, 3, (uint64_t)round * 7919 + 1);
		for (i = 0; i < 10; i++) {
			slot = cdb_vsampler_offer(&s, i);
			ck_assert(slot >= -1 && slot < 3);
			if (slot >= 0)
				pick[slot] = i;
		}
		for (k = 0; k < 3; k++)
			hits[pick[k]]++;
	}
	for (i = 0; i < 10; i++)
		ck_assert_msg(hits[i] > 750 && hits[i] < 1050,
		    "item %d kept %ld times of 3000", i, hits[i]);
	cdb_vsampler_init(&s, 0, 1);
	ck_assert_int_eq(cdb_vsampler_offer(&s, 0), -1);
}
END_TEST

START_TEST(test_topk)
{
	cdb_vtopk t;
	static const double d[] = {5, 1, 4, 1, 3, 9, 2, 6};
	char id[8];
	size_t i;

	ck_assert_int_eq(cdb_vtopk_init(&t, 3), 0);
	for (i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "r%zu", i);
		ck_assert_int_eq(cdb_vtopk_offer(&t, d[i], id, strlen(id)), 0);
	}
	ck_assert_uint_eq(t.n, 3);
	/* Nearest first; equal distances by id. */
	ck_assert_str_eq(t.id[0], "r1");
	ck_assert_str_eq(t.id[1], "r3");
	ck_assert_str_eq(t.id[2], "r6");
	ck_assert(t.dist[2] == 2);
	cdb_vtopk_free(&t);
	cdb_vtopk_free(&t);
	/* Fewer candidates than k: all of them. */
	ck_assert_int_eq(cdb_vtopk_init(&t, 5), 0);
	ck_assert_int_eq(cdb_vtopk_offer(&t, 1, "only\0x", 4), 0);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_str_eq(t.id[0], "only");
	cdb_vtopk_free(&t);
}
END_TEST

/* The heap keeps the k nearest of many, whatever their order. */
START_TEST(test_topk_heap)
{
	cdb_vtopk t;
	char id[16];
	size_t i;
	uint64_t x = 7;

	ck_assert_int_eq(cdb_vtopk_init(&t, 10), 0);
	for (i = 0; i < 5000; i++) {
		/* A permutation of 0..4999 as distances. */
		x = (i * 2654435761u) % 5000;
		snprintf(id, sizeof(id), "r%llu", (unsigned long long)x);
		ck_assert_int_eq(
		    cdb_vtopk_offer(&t, (double)x, id, strlen(id)), 0);
	}
	ck_assert_uint_eq(t.n, 10);
	for (i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "r%zu", i);
		ck_assert_str_eq(t.id[i], id);
		ck_assert(t.dist[i] == (double)i);
	}
	cdb_vtopk_free(&t);
}
END_TEST

/* The vectorised dot and l2 agree with double arithmetic to float
 * precision, at any length. */
START_TEST(test_dot_l2)
{
	float a[771], b[771];
	double dot, l2;
	size_t n, i;

	for (i = 0; i < 771; i++) {
		a[i] = (float)((int)(i * 37 % 101) - 50) / 50.0f;
		b[i] = (float)((int)(i * 53 % 97) - 48) / 48.0f;
	}
	for (n = 0; n <= 771; n += 257) {
		dot = l2 = 0;
		for (i = 0; i < n; i++) {
			dot += (double)a[i] * b[i];
			l2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
		}
		ck_assert(fabs(cdb_validate_dot(a, b, n) - dot) <= 1e-3);
		ck_assert(fabs(cdb_validate_l2sq(a, b, n) - l2) <= 1e-3);
	}
	ck_assert(cdb_validate_l2sq(a, a, 771) == 0);
}
END_TEST

START_TEST(test_cite_parse)
{
	const char *colls[] = {"personality", "humor", "corpus"};
	const char *tpl = "if://chunk/{collection}/{id}";
	const char *v = "if://chunk/humor/sergio_humor-00007";
	size_t c, off, len;

	ck_assert_int_eq(cdb_validate_cite_parse(
	                     tpl, v, strlen(v), colls, 3, 0, &c, &off, &len),
	    1);
	ck_assert_uint_eq(c, 1);
	ck_assert_uint_eq(len, strlen("sergio_humor-00007"));
	ck_assert(memcmp(v + off, "sergio_humor-00007", len) == 0);
	/* An id may hold the template's separators. */
	v = "if://chunk/corpus/a/b/c";
	ck_assert_int_eq(cdb_validate_cite_parse(
	                     tpl, v, strlen(v), colls, 3, 0, &c, &off, &len),
	    1);
	ck_assert_uint_eq(c, 2);
	ck_assert_uint_eq(len, 5);
	/* Not of the form: another scheme, an unknown collection, no id. */
	v = "https://chunk/humor/x";
	ck_assert_int_eq(cdb_validate_cite_parse(
	                     tpl, v, strlen(v), colls, 3, 0, &c, &off, &len),
	    0);
	v = "if://chunk/rhetorical/x";
	ck_assert_int_eq(cdb_validate_cite_parse(
	                     tpl, v, strlen(v), colls, 3, 0, &c, &off, &len),
	    0);
	v = "if://chunk/humor/";
	ck_assert_int_eq(cdb_validate_cite_parse(
	                     tpl, v, strlen(v), colls, 3, 0, &c, &off, &len),
	    0);
	/* Without {collection} the record's own collection is meant. */
	v = "{cite:x1}";
	ck_assert_int_eq(cdb_validate_cite_parse("{{cite:{id}}}", v, strlen(v),
	                     colls, 3, 2, &c, &off, &len),
	    1);
	ck_assert_uint_eq(c, 2);
	ck_assert_uint_eq(off, 6);
	ck_assert_uint_eq(len, 2);
	/* Templates that cannot be read back. */
	v = "x";
	ck_assert_int_eq(cdb_validate_cite_parse(
	                     "{title}/{id}", v, 1, colls, 3, 0, &c, &off, &len),
	    -1);
	ck_assert_int_eq(cdb_validate_cite_parse(
	                     "{id}-{id}", v, 1, colls, 3, 0, &c, &off, &len),
	    -1);
	ck_assert_int_eq(cdb_validate_cite_parse(
	                     "{collection}", v, 1, colls, 3, 0, &c, &off, &len),
	    -1);
}
END_TEST

/* ------------------------------------------------------------- hmap -- */

START_TEST(test_hmap)
{
	cdb_hmap *m = cdb_hmap_new();
	uint64_t v, k;
	size_t i;

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(cdb_hmap_get(m, 42, &v), 0);
	for (i = 0; i < 50000; i++)
		ck_assert_int_eq(cdb_hmap_put(m, i * 2 + 1, i, NULL), 1);
	for (i = 0; i < 50000; i++) {
		ck_assert_int_eq(cdb_hmap_get(m, i * 2 + 1, &v), 1);
		ck_assert_uint_eq(v, i);
		ck_assert_int_eq(cdb_hmap_get(m, i * 2 + 2, NULL), 0);
	}
	/* put keeps the first value and reports it. */
	ck_assert_int_eq(cdb_hmap_put(m, 7, 1234, &v), 0);
	ck_assert_uint_eq(v, 3);
	ck_assert_int_eq(cdb_hmap_get(m, 7, &v), 1);
	ck_assert_uint_eq(v, 3);
	cdb_hmap_clear(m);
	ck_assert_int_eq(cdb_hmap_get(m, 7, NULL), 0);
	ck_assert_int_eq(cdb_hmap_get(m, 1, NULL), 0);
	cdb_hmap_free(m);
	cdb_hmap_free(NULL);
	/* Keys: the collection matters, 0 never comes out. */
	k = cdb_hmap_key("a", "x", 1);
	ck_assert(k != cdb_hmap_key("b", "x", 1));
	ck_assert(k != cdb_hmap_key(NULL, "x", 1));
	ck_assert(cdb_hmap_key("ab", "c", 1) != cdb_hmap_key("a", "bc", 2));
	ck_assert(k != 0);
}
END_TEST

/* ----------------------------------------------------------- report -- */

static json_t *
sample_report(void)
{
	json_t *r = json_loads(
	    "{\"overall_status\":\"FAILED\",\"rollback_triggered\":true,"
	    "\"rollback_reason\":\"Data Loss Detected\","
	    "\"data_loss_percentage\":6.25,"
	    "\"semantic_divergence_percentage\":null,\"elapsed_seconds\":1.5,"
	    "\"new_server\":{\"url\":\"http://new:8000\",\"tenant\":\"t\","
	    "\"database\":\"d\"},\"old_server\":null,"
	    "\"expected\":{\"from\":\"file\",\"file\":\"x.ndjson\"},"
	    "\"summary\":{\"tests\":8,\"passed\":6,\"warnings\":0,\"failed\":1,"
	    "\"skipped\":1},"
	    "\"collection_counts\":[{\"name\":\"a|b\",\"exists\":true,"
	    "\"space\":\"l2\",\"expected\":16,\"found\":15,\"missing\":1}],"
	    "\"tests\":[{\"number\":1,\"name\":\"Count verification\","
	    "\"status\":\"FAILED\",\"reason\":\"Data Loss Detected\","
	    "\"note\":\"lost 1\",\"metrics\":{\"missing_records\":1},"
	    "\"offending_total\":1,\"offenders\":[{\"collection\":\"a|b\","
	    "\"id\":\"x|y\\nz\",\"problem\":\"_gone_ a_b\"}]}]}",
	    0, NULL);

	ck_assert_ptr_nonnull(r);
	return r;
}

START_TEST(test_report_summary)
{
	json_t *r = sample_report();
	cdb_buf b;

	cdb_buf_init(&b);
	ck_assert_int_eq(cdb_report_summary(r, &b), 0);
	ck_assert_ptr_nonnull(strstr(b.data, "VALIDATION SUMMARY"));
	ck_assert_ptr_nonnull(strstr(b.data, "  1 Count verification"));
	ck_assert_ptr_nonnull(strstr(b.data, "Failed: 1\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "Data loss: 6.25%\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "Semantic divergence: not "
	                                     "measured\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "Overall status: FAILED\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "Rollback triggered: YES (Data "
	                                     "Loss Detected)\n"));
	cdb_buf_free(&b);
	json_decref(r);
}
END_TEST

START_TEST(test_report_markdown)
{
	json_t *r = sample_report();
	cdb_buf b;

	cdb_buf_init(&b);
	ck_assert_int_eq(cdb_report_markdown(r, &b), 0);
	ck_assert_ptr_nonnull(strstr(b.data, "**Overall status: FAILED**: "
	                                     "rollback recommended (Data Loss "
	                                     "Detected)"));
	ck_assert_ptr_nonnull(strstr(b.data, "| New server | http://new:8000"));
	/* Cells cannot break the table: pipes escaped, newlines shown. */
	ck_assert_ptr_nonnull(
	    strstr(b.data, "| a\\|b | x\\|y\\nz | \\_gone\\_ a_b |"));
	ck_assert_ptr_null(strstr(b.data, "x|y"));
	ck_assert_ptr_nonnull(strstr(b.data, "## 1. Count verification: "
	                                     "FAILED"));
	ck_assert_ptr_nonnull(strstr(b.data, "| missing_records | 1 |"));
	cdb_buf_free(&b);
	json_decref(r);
}
END_TEST

START_TEST(test_report_save)
{
	char dir[] = "/tmp/cdb-report-XXXXXX", path[64], text[64];
	cdb_buf b;
	cdb_error e;
	FILE *f;
	size_t n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/r.json", dir);
	cdb_buf_init(&b);
	cdb_buf_puts(&b, "{\"old\":1}\n");
	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_report_save(path, &b, &e), 0);
	cdb_buf_reset(&b);
	cdb_buf_puts(&b, "{\"new\":2}\n");
	ck_assert_int_eq(cdb_report_save(path, &b, &e), 0);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	ck_assert_str_eq(text, "{\"new\":2}\n");
	unlink(path);
	/* No temporary file is left behind, success or not. */
	snprintf(path, sizeof(path), "%s/no/such/dir.json", dir);
	ck_assert_int_eq(cdb_report_save(path, &b, &e), -1);
	ck_assert_int_eq(e.kind, CDB_ERR_SYS);
	ck_assert_int_eq(rmdir(dir), 0);
	cdb_buf_free(&b);
}
END_TEST

START_TEST(test_error_report)
{
	cdb_validate_opts o;
	cdb_error e;
	json_t *r;
	cdb_buf b;
	static const char *const files[] = {"x.ndjson"};

	cdb_validate_opts_init(&o);
	o.new_url = "https://user:secret@new.example:8000/?token=abc";
	o.expected = files;
	o.nexpected = 1;
	cdb_error_clear(&e);
	cdb_error_set(&e, CDB_ERR_NET, "new server: refused");
	r = cdb_validate_error_report(&o, &e, 2.0);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(cdb_validate_report_status(r), CDB_VS_ERROR);
	ck_assert(json_is_false(json_object_get(r, "rollback_triggered")));
	cdb_buf_init(&b);
	ck_assert_int_eq(cdb_report_json(r, &b), 0);
	/* Reports never carry credentials. */
	ck_assert_ptr_null(strstr(b.data, "secret"));
	ck_assert_ptr_null(strstr(b.data, "abc"));
	ck_assert_ptr_nonnull(strstr(b.data, "new.example:8000"));
	ck_assert_ptr_nonnull(strstr(b.data, "\"error\": \"new server: "
	                                     "refused\""));
	cdb_buf_reset(&b);
	ck_assert_int_eq(cdb_report_summary(r, &b), 0);
	ck_assert_ptr_nonnull(strstr(b.data, "Could not validate: new server: "
	                                     "refused\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "Rollback triggered: NO\n"));
	cdb_buf_free(&b);
	json_decref(r);
}
END_TEST

START_TEST(test_run_rejects_bad_options)
{
	static const char *const files[] = {"x"};
	cdb_validate_opts o;
	cdb_error e;

	cdb_validate_opts_init(&o);
	cdb_error_clear(&e);
	ck_assert_ptr_null(cdb_validate_run(&o, &e));
	ck_assert_int_eq(e.kind, CDB_ERR_USAGE);
	o.new_url = "http://127.0.0.1:1";
	o.old_url = "http://127.0.0.1:1";
	o.old_url = NULL;
	o.expected = files;
	o.nexpected = 1;
	o.top_k = 0;
	cdb_error_clear(&e);
	ck_assert_ptr_null(cdb_validate_run(&o, &e));
	ck_assert_int_eq(e.kind, CDB_ERR_USAGE);
}
END_TEST

Suite *
validate_suite(void)
{
	Suite *s = suite_create("validate");
	TCase *tc = tcase_create("stats");
	TCase *th = tcase_create("hmap");
	TCase *tr = tcase_create("report");

	tcase_add_test(tc, test_emb_problem);
	tcase_add_test(tc, test_emb_equal_exact);
	tcase_add_test(tc, test_emb_equal_cosine);
	tcase_add_test(tc, test_space_and_distance);
	tcase_add_test(tc, test_topk_heap);
	tcase_add_test(tc, test_dot_l2);
	tcase_add_test(tc, test_overlap);
	tcase_add_test(tc, test_threshold);
	tcase_add_test(tc, test_verdict);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_content_digest);
	tcase_add_test(tc, test_sampler);
	tcase_add_test(tc, test_topk);
	tcase_add_test(tc, test_cite_parse);
	tcase_add_test(th, test_hmap);
	tcase_add_test(tr, test_report_summary);
	tcase_add_test(tr, test_report_markdown);
	tcase_add_test(tr, test_report_save);
	tcase_add_test(tr, test_error_report);
	tcase_add_test(tr, test_run_rejects_bad_options);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, th);
	suite_add_tcase(s, tr);
	return s;
}
