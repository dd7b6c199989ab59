/* lock.c - one run at a time per file; see lock.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lock.h"

struct cdb_lock {
	char *path; /* the sidecar */
	int fd;
};

/* The pid the holder wrote, or 0 when it has not written it yet. */
static long
holder(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static int
busy(const char *path, int fd, cdb_error *e)
{
	long pid = holder(fd);

	if (pid > 0)
		return cdb_error_set(e, CDB_ERR_SYS,
		    "%s is in use by another run (pid %ld); wait for it to "
		    "end",
		    path, pid);
	return cdb_error_set(e, CDB_ERR_SYS,
	    "%s is in use by another run; wait for it to end", path);
}

/*
 * Is fd still the file at path?  A run that ends removes its sidecar:
 * a lock won on the removed file would lock nothing.
 */
static int
current(const char *path, int fd)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Take the lock: 1, 0 to try again, -1 with e. */
static int
take(cdb_lock *l, const char *path, cdb_error *e)
{
	char pid[32];
	int n;

	l->fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (l->fd == -1)
		return cdb_error_sys(e, errno, "%s", l->path);
	if (flock(l->fd, LOCK_EX | LOCK_NB) == -1)
		return errno == EWOULDBLOCK
		           ? busy(path, l->fd, e)
		           : cdb_error_sys(e, errno, "%s: lock",
		                 l->path);
	if (!current(l->path, l->fd)) {
		close(l->fd);
		l->fd = -1;
		return 0;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(l->fd, 0) == -1 || pwrite(l->fd, pid, (size_t)n, 0) != n)
		return cdb_error_sys(e, errno, "%s", l->path);
	return 1;
}

cdb_lock *
cdb_lock_new(const char *path, cdb_error *e)
{
	cdb_lock *l = calloc(1, sizeof(*l));
	size_t n = strlen(path);
	struct stat sb;
	int rc;

	/* A device or a FIFO is not published by rename: nothing to lock. */
	if (l != NULL && stat(path, &sb) == 0 &&
	    (S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode) ||
	        S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode))) {
		l->fd = -1;
		return l;
	}
	if (l == NULL || (l->path = malloc(n + 6)) == NULL) {
		free(l);
		cdb_error_oom(e);
		return NULL;
	}
	memcpy(l->path, path, n);
	memcpy(l->path + n, ".lock", 6);
	l->fd = -1;
	while ((rc = take(l, path, e)) == 0)
		;
	if (rc == -1) {
		if (l->fd != -1)
			close(l->fd);
		free(l->path);
		free(l);
		return NULL;
	}
	return l;
}

void
cdb_lock_free(cdb_lock *l)
{
	if (l == NULL)
		return;
	/* Removed while still locked: a waiting run then sees it is gone. */
	if (l->path != NULL)
		unlink(l->path);
	if (l->fd != -1)
		close(l->fd);
	free(l->path);
	free(l);
}
