#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "checkpoint.h"
#include "lock.h"

static char dir[] = "/tmp/cdb-unit-ckpt.XXXXXX";

START_TEST(test_save_load_replace)
{
	char path[128];
	json_t *a = json_pack("{s:i, s:s}", "line", 12, "s", "x\ny");
	json_t *b = json_pack("{s:i}", "line", 99);
	json_t *got;
	cdb_error e;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ckpt", dir);
	cdb_error_clear(&e);
	/* Missing is not an error. */
	ck_assert_ptr_null(cdb_checkpoint_load(path, &e));
	ck_assert_int_eq(e.kind, CDB_ERR_NONE);
	ck_assert_int_eq(cdb_checkpoint_save(path, a, &e), 0);
	ck_assert_int_eq(cdb_checkpoint_save(path, b, &e), 0);
	got = cdb_checkpoint_load(path, &e);
	ck_assert(json_equal(got, b));
	/* Private: checkpoints may name servers and collections. */
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 077, 0);
	json_decref(got);
	ck_assert_int_eq(cdb_checkpoint_remove(path, &e), 0);
	ck_assert_int_eq(cdb_checkpoint_remove(path, &e), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	json_decref(a);
	json_decref(b);
}
END_TEST

START_TEST(test_corrupt_and_unwritable)
{
	char path[] = "/tmp/cdb-unit-bad.XXXXXX";
	int fd = mkstemp(path);
	json_t *a = json_pack("{s:i}", "line", 1);
	cdb_error e;

	ck_assert(write(fd, "{\"line\":", 8) == 8);
	close(fd);
	cdb_error_clear(&e);
	ck_assert_ptr_null(cdb_checkpoint_load(path, &e));
	ck_assert_int_eq(e.kind, CDB_ERR_INPUT);
	ck_assert_ptr_nonnull(strstr(e.text, "unreadable checkpoint"));
	unlink(path);
	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_checkpoint_save("/nonexistent/dir/ckpt", a, &e), -1);
	ck_assert_int_eq(e.kind, CDB_ERR_SYS);
	json_decref(a);
}
END_TEST

/* One run at a time: a second lock on a path is refused, naming the pid. */
START_TEST(test_lock)
{
	/* Its own template: without a fork (valgrind) the static one is used. */
	char ldir[] = "/tmp/cdb-unit-lock.XXXXXX";
	char path[128], side[140], want[200];
	cdb_lock *a, *b;
	cdb_error e;

	ck_assert_ptr_nonnull(mkdtemp(ldir));
	snprintf(path, sizeof(path), "%s/out.tar.gz", ldir);
	snprintf(side, sizeof(side), "%s.lock", path);
	cdb_error_clear(&e);
	ck_assert_ptr_nonnull(a = cdb_lock_new(path, &e));
	ck_assert_int_eq(access(side, F_OK), 0);
	ck_assert_ptr_null(cdb_lock_new(path, &e));
	snprintf(want, sizeof(want),
	    "%s is in use by another run (pid %ld); wait for it to end", path,
	    (long)getpid());
	ck_assert_str_eq(e.text, want);
	ck_assert_int_eq(e.code, CDB_E_LOCKED);
	cdb_lock_free(a);
	/* Released and its sidecar gone; then it can be taken again. */
	ck_assert_int_eq(access(side, F_OK), -1);
	cdb_error_clear(&e);
	ck_assert_ptr_nonnull(a = cdb_lock_new(path, &e));
	cdb_lock_free(a);
	/* A sidecar a kill -9 left is taken over. */
	ck_assert_int_eq(close(creat(side, 0600)), 0);
	ck_assert_ptr_nonnull(a = cdb_lock_new(path, &e));
	cdb_lock_free(a);
	/* A directory is locked like a file. */
	ck_assert_ptr_nonnull(a = cdb_lock_new(ldir, &e));
	ck_assert_ptr_null(cdb_lock_new(ldir, &e));
	cdb_lock_free(a);
	/* Devices are not locked. */
	ck_assert_ptr_nonnull(a = cdb_lock_new("/dev/null", &e));
	ck_assert_ptr_nonnull(b = cdb_lock_new("/dev/null", &e));
	cdb_lock_free(a);
	cdb_lock_free(b);
	ck_assert_int_eq(rmdir(ldir), 0);
}
END_TEST

Suite *
checkpoint_suite(void)
{
	Suite *s = suite_create("checkpoint");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_save_load_replace);
	tcase_add_test(tc, test_corrupt_and_unwritable);
	tcase_add_test(tc, test_lock);
	suite_add_tcase(s, tc);
	return s;
}
