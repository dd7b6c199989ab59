/*
 * chromaarc.c - the private directory an offline export reads when the
 * data directory comes in a tar backup (or must be copied first): only
 * chroma.sqlite3 and the hnswlib files of the segment folders, written
 * with O_EXCL under a new mkdtemp(3) directory.  A backup is untrusted:
 * as cdb-rollback does with snapshots, only regular files with relative
 * names free of ".." are taken, and nothing is written outside.
 */
#define _XOPEN_SOURCE 700 /* nftw(3) */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chromadir.h"
#include "snapshot.h"

#define IOBUF 65536

static const char *const seg_files[] = {"header.bin", "data_level0.bin",
    "length.bin", "link_lists.bin", "index_metadata.pickle", NULL};
static const char *const top_files[] = {
    "chroma.sqlite3", "chroma.sqlite3-journal", "chroma.sqlite3-wal", NULL};

static int
listed(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

/* Segment folders are named by a lower-case UUID. */
static int
is_uuid(const char *s, size_t n)
{
	size_t i;

	if (n != 36)
		return 0;
	for (i = 0; i < n; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23
		        ? s[i] != '-'
		        : !((s[i] >= '0' && s[i] <= '9') ||
		              (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int
make_tmp(char *dir, size_t size, cdb_error *e)
{
	const char *t = getenv("TMPDIR");

	if (t == NULL || *t == '\0')
		t = "/tmp";
	if ((size_t)snprintf(dir, size, "%s/cdb-chroma.XXXXXX", t) >= size)
		return cdb_error_set(e, CDB_ERR_USAGE, "TMPDIR too long");
	if (mkdtemp(dir) == NULL)
		return cdb_error_sys(e, errno, "%s", dir);
	return 0;
}

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)f;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

void
cdb_chromadir_cleanup(const char *dir)
{
	if (dir != NULL && *dir != '\0')
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Create dir/sub (sub may be NULL) and open dir/sub/name, new, for writing. */
static int
create_in(const char *dir, const char *sub, const char *name, char *path,
    cdb_error *e)
{
	int fd;

	if (sub != NULL) {
		snprintf(path, PATH_MAX, "%s/%s", dir, sub);
		if (mkdir(path, 0700) == -1 && errno != EEXIST)
			return cdb_error_sys(e, errno, "%s", path);
		snprintf(path, PATH_MAX, "%s/%s/%s", dir, sub, name);
	} else {
		snprintf(path, PATH_MAX, "%s/%s", dir, name);
	}
	if ((fd = open(path,
	         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) ==
	    -1)
		return cdb_error_set(e, CDB_ERR_INPUT, "%s: %s", path,
		    errno == EEXIST ? "the backup holds this file twice"
		                    : strerror(errno));
	return fd;
}

/* ------------------------------------------------------------ archive -- */

typedef struct arc {
	const char *path, *dir;
	char prefix[PATH_MAX]; /* the data directory inside the archive */
	int have_prefix, have_db;
} arc;

/* Which file of a data directory a member is; 0 when none. */
static int
classify(arc *a, const char *name, const char **sub, size_t *sublen,
    const char **base, cdb_error *e)
{
	const char *slash = strrchr(name, '/'), *up;
	size_t plen;

	*base = slash ? slash + 1 : name;
	*sub = NULL;
	if (listed(top_files, *base)) {
		plen = slash ? (size_t)(slash - name) : 0;
	} else if (listed(seg_files, *base) && slash != NULL) {
		for (up = slash; up > name && up[-1] != '/'; up--)
			;
		if (!is_uuid(up, (size_t)(slash - up)))
			return 0;
		*sub = up;
		*sublen = (size_t)(slash - up);
		plen = up > name ? (size_t)(up - 1 - name) : 0;
	} else {
		return 0;
	}
	if (plen >= sizeof(a->prefix))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: member name too "
		    "long",
		    a->path);
	if (!a->have_prefix) {
		memcpy(a->prefix, name, plen);
		a->prefix[plen] = '\0';
		a->have_prefix = 1;
	} else if (strlen(a->prefix) != plen ||
	           memcmp(a->prefix, name, plen) != 0) {
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: holds files of more than one data directory "
		    "(\"%s\" and \"%.*s\")",
		    a->path, a->prefix, (int)plen, name);
	}
	return 1;
}

static int
safe_name(const char *n)
{
	const char *p = n;

	if (*n == '/' || *n == '\0')
		return 0;
	while (*p != '\0') {
		size_t k = strcspn(p, "/");

		if (k == 2 && p[0] == '.' && p[1] == '.')
			return 0;
		p += k;
		if (*p == '/')
			p++;
	}
	return 1;
}

static int
one_member(arc *a, struct archive *ar, struct archive_entry *en, cdb_error *e)
{
	const char *name = archive_entry_pathname(en), *sub, *base;
	char path[PATH_MAX], subdir[64] = "";
	size_t sublen = 0;
	int fd, rc;

	if (name == NULL)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: a member without "
		    "a name",
		    a->path);
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	if ((rc = classify(a, name, &sub, &sublen, &base, e)) <= 0)
		return rc;
	if (!safe_name(name))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: member \"%s\": absolute or with \"..\"", a->path,
		    name);
	if (archive_entry_filetype(en) != AE_IFREG)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: member \"%s\" is not a regular file", a->path, name);
	if (sub != NULL)
		snprintf(subdir, sizeof(subdir), "%.*s", (int)sublen, sub);
	if ((fd = create_in(a->dir, sub ? subdir : NULL, base, path, e)) == -1)
		return -1;
	rc = archive_read_data_into_fd(ar, fd);
	if (rc != ARCHIVE_OK)
		cdb_error_set(e, CDB_ERR_INPUT, "%s: member \"%s\": %s",
		    a->path, name, archive_error_string(ar));
	if (close(fd) == -1 && rc == ARCHIVE_OK) {
		cdb_error_sys(e, errno, "%s", path);
		rc = ARCHIVE_FATAL;
	}
	if (strcmp(base, "chroma.sqlite3") == 0)
		a->have_db = 1;
	return rc == ARCHIVE_OK ? 0 : -1;
}

/* A reader of the tar (plain, gzip, zstd or xz) at path; NULL with e. */
static struct archive *
open_tar(const char *path, cdb_error *e)
{
	struct archive *ar;

	if ((ar = archive_read_new()) == NULL) {
		cdb_error_oom(e);
		return NULL;
	}
	archive_read_support_format_tar(ar);
	archive_read_support_filter_gzip(ar);
	archive_read_support_filter_zstd(ar);
	archive_read_support_filter_xz(ar);
	if (archive_read_open_filename(ar, path, IOBUF) == ARCHIVE_OK)
		return ar;
	cdb_error_set(
	    e, CDB_ERR_INPUT, "%s: %s", path, archive_error_string(ar));
	archive_read_free(ar);
	return NULL;
}

static int
extract(arc *a, cdb_error *e)
{
	struct archive_entry *en;
	struct archive *ar;
	int rc = 0, r;

	if ((ar = open_tar(a->path, e)) == NULL)
		return -1;
	while (
	    rc == 0 && (r = archive_read_next_header(ar, &en)) != ARCHIVE_EOF) {
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			rc = cdb_error_set(e, CDB_ERR_INPUT, "%s: %s", a->path,
			    archive_error_string(ar));
		else
			rc = one_member(a, ar, en, e);
	}
	if (rc == 0 && !a->have_db)
		rc = cdb_error_set(e, CDB_ERR_INPUT,
		    "%s: no chroma.sqlite3 in the backup", a->path);
	archive_read_free(ar);
	return rc;
}

int
cdb_chromadir_extract(const char *path, char *dir, size_t size, cdb_error *e)
{
	arc a;

	memset(&a, 0, sizeof(a));
	a.path = path;
	a.dir = dir;
	if (make_tmp(dir, size, e) == -1)
		return -1;
	if (extract(&a, e) == -1) {
		cdb_chromadir_cleanup(dir);
		return -1;
	}
	return 0;
}

/* --------------------------------------------------------------- copy -- */

static int
copy_file(const char *src, int out, const char *dst, cdb_error *e)
{
	char buf[IOBUF];
	ssize_t n;
	int in, rc = 0;

	if ((in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return cdb_error_sys(e, errno, "%s", src);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = cdb_error_sys(e, errno, "%s", dst);
			break;
		}
	if (n < 0)
		rc = cdb_error_sys(e, errno, "%s", src);
	close(in);
	return rc;
}

static int
copy_segments(const char *dir, const char *tmp, cdb_error *e)
{
	const char *const *f;
	char src[PATH_MAX], dst[PATH_MAX];
	struct dirent *d;
	struct stat sb;
	DIR *dp;
	int fd, rc = 0;

	if ((dp = opendir(dir)) == NULL)
		return cdb_error_sys(e, errno, "%s", dir);
	while (rc == 0 && (d = readdir(dp)) != NULL) {
		if (!is_uuid(d->d_name, strlen(d->d_name)))
			continue;
		for (f = seg_files; rc == 0 && *f != NULL; f++) {
			snprintf(
			    src, sizeof(src), "%s/%s/%s", dir, d->d_name, *f);
			if (lstat(src, &sb) == -1 || !S_ISREG(sb.st_mode))
				continue;
			if ((fd = create_in(tmp, d->d_name, *f, dst, e)) == -1)
				rc = -1;
			else if ((rc = copy_file(src, fd, dst, e)) == 0 &&
			         close(fd) == -1)
				rc = cdb_error_sys(e, errno, "%s",
				    dst);
			else if (rc == -1)
				close(fd);
		}
	}
	closedir(dp);
	return rc;
}

/* sqlite's online backup: a reader's lock makes the copy consistent. */
static int
backup_db(const char *dir, const char *tmp, cdb_error *e)
{
	char src[PATH_MAX], dst[PATH_MAX];
	sqlite3 *from = NULL, *to = NULL;
	sqlite3_backup *b;
	int rc = -1;

	snprintf(src, sizeof(src), "%s/chroma.sqlite3", dir);
	snprintf(dst, sizeof(dst), "%s/chroma.sqlite3", tmp);
	if (sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		cdb_error_set(e, CDB_ERR_INPUT, "%s: %s", src,
		    from ? sqlite3_errmsg(from) : "out of memory");
		goto done;
	}
	sqlite3_busy_timeout(from, 10000);
	if (sqlite3_open_v2(dst, &to,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	        NULL) != SQLITE_OK) {
		cdb_error_set(e, CDB_ERR_SYS, "%s: %s", dst,
		    to ? sqlite3_errmsg(to) : "out of memory");
		goto done;
	}
	if ((b = sqlite3_backup_init(to, "main", from, "main")) == NULL) {
		cdb_error_set(
		    e, CDB_ERR_SYS, "%s: %s", dst, sqlite3_errmsg(to));
		goto done;
	}
	sqlite3_backup_step(b, -1);
	if (sqlite3_backup_finish(b) != SQLITE_OK) {
		cdb_error_set(e, CDB_ERR_INPUT, "%s: copy failed: %s", src,
		    sqlite3_errmsg(to));
		goto done;
	}
	rc = 0;
done:
	sqlite3_close(from);
	sqlite3_close(to);
	return rc;
}

int
cdb_chromadir_copy(const char *dir, char *tmp, size_t size, cdb_error *e)
{
	if (make_tmp(tmp, size, e) == -1)
		return -1;
	if (backup_db(dir, tmp, e) == -1 || copy_segments(dir, tmp, e) == -1) {
		cdb_chromadir_cleanup(tmp);
		return -1;
	}
	return 0;
}

/* Stop at the first member that decides: chroma.sqlite3 or a cdb one. */
static int
archive_is_backup(const char *path)
{
	struct archive_entry *en;
	struct archive *ar;
	const char *n, *base;
	cdb_error e;
	int found = 0;

	cdb_error_clear(&e);
	if ((ar = open_tar(path, &e)) == NULL)
		return 0;
	while (archive_read_next_header(ar, &en) == ARCHIVE_OK &&
	       (n = archive_entry_pathname(en)) != NULL &&
	       !cdb_snapshot_member_ok(n)) {
		base = strrchr(n, '/') ? strrchr(n, '/') + 1 : n;
		if (strcmp(base, "chroma.sqlite3") == 0) {
			found = 1;
			break;
		}
	}
	archive_read_free(ar);
	return found;
}

int
cdb_chromadir_is_backup(const char *path)
{
	char db[PATH_MAX];
	struct stat sb;

	if (stat(path, &sb) == -1)
		return 0;
	if (S_ISDIR(sb.st_mode)) {
		snprintf(db, sizeof(db), "%s/chroma.sqlite3", path);
		return stat(db, &sb) == 0;
	}
	return S_ISREG(sb.st_mode) && archive_is_backup(path);
}
