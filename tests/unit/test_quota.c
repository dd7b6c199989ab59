/* Quotas: files load strictly; each limit is reported once, at its line. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "quota.h"

static int nbroken;
static long last_line;
static char last_msg[512];

static void
note(void *arg, long line, const char *msg)
{
	(void)arg;
	nbroken++;
	last_line = line;
	snprintf(last_msg, sizeof(last_msg), "%s", msg);
}

static void
item_of(cdb_item *it, int kind, long line, const char *json)
{
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->line = line;
	it->obj = json_loads(json, 0, NULL);
	ck_assert_ptr_nonnull(it->obj);
	if (kind == CDB_KIND_RECORD) {
		it->id = json_string_value(json_object_get(it->obj, "id"));
		it->id_len = strlen(it->id);
		it->document = json_object_get(it->obj, "document");
		it->metadata = json_object_get(it->obj, "metadata");
		it->uri = json_object_get(it->obj, "uri");
	}
}

START_TEST(test_cloud_record)
{
	cdb_quota q;
	cdb_item it;
	cdb_error e;

	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_quota_load("chroma-cloud", &q, &e), 0);
	ck_assert_int_eq(q.records_per_write, 300);
	item_of(&it, CDB_KIND_RECORD, 7,
	    "{\"id\":\"a\",\"document\":\"x\",\"metadata\":{\"k\":[\"ab\","
	    "\"cd\"]}}");
	nbroken = 0;
	ck_assert_int_eq(cdb_quota_check(&q, &it, 1, note, NULL), 0);
	it.dim = 4097;
	ck_assert_int_eq(cdb_quota_check(&q, &it, 1, note, NULL), 1);
	ck_assert_int_eq(last_line, 7);
	ck_assert_ptr_nonnull(strstr(last_msg, "(dimension)"));
	/* The 5,000,001st record of a collection, and only that one. */
	it.dim = 3;
	ck_assert_int_eq(cdb_quota_check(&q, &it, 5000001, note, NULL), 1);
	ck_assert_int_eq(cdb_quota_check(&q, &it, 5000002, note, NULL), 0);
	json_decref(it.obj);
}
END_TEST

START_TEST(test_file)
{
	char path[] = "/tmp/test_quota.XXXXXX";
	const char *bad[] = {"{\"id_byte\": 3}", "{\"id_bytes\": 0}",
	    "{\"id_bytes\": \"3\"}", "[1]", "{"};
	cdb_quota q;
	cdb_item it;
	cdb_error e;
	size_t i;
	FILE *f;
	int fd;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs(
	    "{\"metadata_key_bytes\": 2, \"collection_metadata_keys\": 1}", f);
	fclose(f);
	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_quota_load(path, &q, &e), 0);
	ck_assert_int_eq(q.id_bytes, 0);
	item_of(&it, CDB_KIND_COLLECTION, 2,
	    "{\"name\":\"c\",\"metadata\":{\"abc\":1,\"d\":2}}");
	nbroken = 0;
	ck_assert_int_eq(cdb_quota_check(&q, &it, 0, note, NULL), 2);
	json_decref(it.obj);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = fopen(path, "w");
		fputs(bad[i], f);
		fclose(f);
		cdb_error_clear(&e);
		ck_assert_msg(
		    cdb_quota_load(path, &q, &e) == -1, "accepted %s", bad[i]);
		ck_assert_int_eq(e.kind, CDB_ERR_USAGE);
	}
	unlink(path);
}
END_TEST

Suite *
quota_suite(void)
{
	Suite *s = suite_create("quota");
	TCase *tc = tcase_create("quota");

	tcase_add_test(tc, test_cloud_record);
	tcase_add_test(tc, test_file);
	suite_add_tcase(s, tc);
	return s;
}
