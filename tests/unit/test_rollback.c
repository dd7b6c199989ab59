#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "rollback.h"

static char dir[64];

static void
setup(void)
{
	strcpy(dir, "/tmp/cdb-unit-rb.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *
put(const char *name, const char *text)
{
	static char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	return path;
}

static const char *
names(const json_t *a)
{
	static char out[256];
	json_t *v;
	size_t i;

	out[0] = '\0';
	json_array_foreach (a, i, v) {
		strcat(out, i ? "," : "");
		strcat(out, json_string_value(v));
	}
	return out;
}

START_TEST(test_report_triggered)
{
	cdb_error e;
	json_t *r;

	/* Extra fields and any collections form are fine. */
	cdb_error_clear(&e);
	r = cdb_rollback_read_report(
	    put("v.json",
	        "{\"overall_status\":\"FAILED\",\"rollback_triggered\":true,"
	        "\"rollback_reason\":\"Data Loss Detected\","
	        "\"data_loss_percentage\":6.1,\"tests\":{\"x\":[1,2]},"
	        "\"collections\":[\"a\",{\"name\":\"b\"},{\"collection\":\"c\"}"
	        ","
	        "\"a\",7,null]}"),
	    &e);
	ck_assert_msg(r != NULL, "%s", e.text);
	ck_assert(json_is_true(json_object_get(r, "rollback_triggered")));
	ck_assert_str_eq(
	    json_string_value(json_object_get(r, "rollback_reason")),
	    "Data Loss Detected");
	ck_assert_str_eq(
	    json_string_value(json_object_get(r, "overall_status")), "FAILED");
	ck_assert_str_eq(names(json_object_get(r, "collections")), "a,b,c");
	json_decref(r);
}
END_TEST

START_TEST(test_report_not_triggered)
{
	cdb_error e;
	json_t *r;

	cdb_error_clear(&e);
	r = cdb_rollback_read_report(
	    put("v.json",
	        "{\"overall_status\":\"PASSED\",\"rollback_triggered\":false}"),
	    &e);
	ck_assert_ptr_nonnull(r);
	ck_assert(json_is_false(json_object_get(r, "rollback_triggered")));
	ck_assert(json_is_null(json_object_get(r, "rollback_reason")));
	ck_assert_int_eq(json_array_size(json_object_get(r, "collections")), 0);
	json_decref(r);
}
END_TEST

START_TEST(test_report_refused)
{
	static const char *const bad[] = {
	    "{\"overall_status\":\"FAILED\"}",
	    "{\"rollback_triggered\":\"yes\"}",
	    "{\"rollback_triggered\":1}",
	    "[true]",
	    "{\"rollback_triggered\":tru",
	};
	cdb_error e;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cdb_error_clear(&e);
		ck_assert_msg(
		    cdb_rollback_read_report(put("v.json", bad[i]), &e) == NULL,
		    "accepted %s", bad[i]);
		ck_assert_int_eq(e.kind, CDB_ERR_INPUT);
		ck_assert_ptr_nonnull(strstr(e.text, "v.json"));
	}
	cdb_error_clear(&e);
	ck_assert_ptr_null(cdb_rollback_read_report("/nonexistent/v.json", &e));
}
END_TEST

START_TEST(test_checkpoint_names)
{
	json_t *n = json_array(), *more;
	cdb_error e;

	cdb_error_clear(&e);
	/* What cdb-import writes. */
	ck_assert_int_eq(
	    cdb_rollback_checkpoint_names(
	        put("c.ckpt",
	            "{\"version\":1,\"kind\":\"cdb-import\",\"line\":9,"
	            "\"collections\":{\"new-a\":10,\"new-b\":0}}"),
	        n, &e),
	    0);
	more = json_loads("{\"x\":[\"new-b\",\"new-c\"]}", 0, NULL);
	cdb_rollback_add_names(n, json_object_get(more, "x"));
	json_decref(more);
	ck_assert_str_eq(names(n), "new-a,new-b,new-c");
	ck_assert_int_eq(cdb_rollback_checkpoint_names(
	                     put("c.ckpt", "{\"version\":1}"), n, &e),
	    -1);
	ck_assert_ptr_nonnull(strstr(e.text, "no \"collections\""));
	json_decref(n);
}
END_TEST

START_TEST(test_archive_name)
{
	char name[64];

	cdb_rollback_archive_name(name, 1748779200);
	ck_assert_str_eq(name, "failed-20250601T120000Z.tar.gz");
}
END_TEST

START_TEST(test_markdown)
{
	json_t *r = json_loads(
	    "{\"status\":\"RESTORED\",\"verified\":true,"
	    "\"target\":{\"server\":\"http://new:8000\",\"tenant\":\"t\","
	    "\"database\":\"d\"},"
	    "\"snapshot\":{\"path\":\"before.tar.gz\",\"created\":"
	    "\"2025-06-01T12:00:00Z\",\"server\":\"http://new:8000\"},"
	    "\"validation\":{\"path\":\"v.json\",\"overall_status\":\"FAILED\","
	    "\"rollback_triggered\":true,\"rollback_reason\":\"Chunk Count "
	    "Mismatch\"},"
	    "\"failed_archive\":\"./failed-x.tar.gz\",\"elapsed_seconds\":1.5,"
	    "\"started\":\"2025-06-01T13:00:00Z\",\"collections\":["
	    "{\"name\":\"docs\",\"action\":\"restore\",\"count_before\":90,"
	    "\"count_expected\":100,\"count_after\":100,\"archived\":true,"
	    "\"verified\":true},"
	    "{\"name\":\"tmp\",\"action\":\"remove\",\"count_before\":5,"
	    "\"archived\":true,\"verified\":false,\"problem\":\"id "
	    "\\\"a|b\\nc\\\"\"}],"
	    "\"left_alone\":[\"other\"],\"not_found\":[]}",
	    0, NULL);
	cdb_buf b;

	ck_assert_ptr_nonnull(r);
	cdb_buf_init(&b);
	ck_assert_int_eq(cdb_rollback_report_md(r, &b), 0);
	ck_assert_ptr_nonnull(strstr(b.data, "**Status:** RESTORED"));
	ck_assert_ptr_nonnull(strstr(b.data, "reason: Chunk Count Mismatch"));
	ck_assert_ptr_nonnull(
	    strstr(b.data, "| docs | restore | 90 | 100 | 100 | yes | yes |"));
	ck_assert_ptr_nonnull(strstr(b.data,
	    "| tmp | remove | 5 | - | - | yes | no | - | id \"a\\|b c\" |\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "./failed-x.tar.gz"));
	ck_assert_ptr_nonnull(strstr(b.data, "Left alone"));
	ck_assert_ptr_null(strstr(b.data, "Named as created"));
	cdb_buf_free(&b);
	json_decref(r);
}
END_TEST

START_TEST(test_write_file)
{
	char path[160], buf[32];
	cdb_error e;
	FILE *f;

	snprintf(path, sizeof(path), "%s/r.json", dir);
	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_checkpoint_write_file(path, "one\n", 4, 0644, &e), 0);
	ck_assert_int_eq(cdb_checkpoint_write_file(path, "two\n", 4, 0644, &e), 0);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_str_eq(buf, "two\n");
	ck_assert_int_eq(
	    cdb_checkpoint_write_file("/nonexistent/r.json", "x", 1, 0644, &e), -1);
	ck_assert_int_eq(e.kind, CDB_ERR_SYS);
	/* The message names the file asked for, not the temporary. */
	ck_assert_str_eq(e.text, "/nonexistent/r.json: No such file or directory");
}
END_TEST

/* A validation report naming 64k collections: linear, not quadratic. */
START_TEST(test_many_names)
{
	json_t *in = json_array(), *out = json_array();
	char name[32];
	int i;

	for (i = 0; i < 65536; i++) {
		snprintf(name, sizeof(name), "coll-%06d", i);
		json_array_append_new(in, json_string(name));
	}
	/* Duplicates, in the list itself and with what is there, are dropped. */
	json_array_append_new(in, json_string("coll-000007"));
	json_array_append_new(out, json_string("coll-065535"));
	cdb_rollback_add_names(out, in);
	ck_assert_int_eq(json_array_size(out), 65536);
	ck_assert_str_eq(json_string_value(json_array_get(out, 0)), "coll-065535");
	ck_assert_str_eq(json_string_value(json_array_get(out, 1)), "coll-000000");
	json_decref(in);
	json_decref(out);
}
END_TEST

Suite *
rollback_suite(void)
{
	Suite *s = suite_create("rollback");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_report_triggered);
	tcase_add_test(tc, test_report_not_triggered);
	tcase_add_test(tc, test_report_refused);
	tcase_add_test(tc, test_checkpoint_names);
	tcase_add_test(tc, test_archive_name);
	tcase_add_test(tc, test_markdown);
	tcase_add_test(tc, test_write_file);
	tcase_add_test(tc, test_many_names);
	suite_add_tcase(s, tc);
	return s;
}
