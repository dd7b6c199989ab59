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
	char *path; /* the sidecar; NULL: nothing locked */
	int fd;
};

/* Another run holds it: say which, if it has written its pid yet. */
static int
busy(const char *path, int fd, cdb_error *e)
{
	char buf[32], who[40] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid;

	buf[n > 0 ? n : 0] = '\0';
	if ((pid = strtol(buf, NULL, 10)) > 0)
		snprintf(who, sizeof(who), " (pid %ld)", pid);
	return cdb_error_setc(e, CDB_ERR_INPUT, CDB_E_LOCKED,
	    "%s is in use by another run%s; wait for it to end", path, who);
}

/* Take the lock: 1, 0 to try again, -1 with e. */
static int
take(cdb_lock *l, const char *path, cdb_error *e)
{
	struct stat a, b;
	char pid[32];
	int n;

	if ((l->fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return cdb_error_sys(e, errno, "%s", l->path);
	if (flock(l->fd, LOCK_EX | LOCK_NB) == -1)
		return errno == EWOULDBLOCK
			   ? busy(path, l->fd, e)
			   : cdb_error_sys(e, errno, "%s: lock", l->path);
	/* A run that ends removes its sidecar: a lock won on the removed
	 * file would lock nothing. */
	if (fstat(l->fd, &a) == -1 || stat(l->path, &b) == -1 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
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
	struct stat sb;
	int rc;

	if (l == NULL) {
		cdb_error_oom(e);
		return NULL;
	}
	l->fd = -1;
	/* A device or a FIFO is not published by rename: nothing to lock. */
	if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) &&
	    !S_ISDIR(sb.st_mode))
		return l;
	if ((l->path = malloc(strlen(path) + 6)) == NULL) {
		free(l);
		cdb_error_oom(e);
		return NULL;
	}
	strcpy(l->path, path);
	strcat(l->path, ".lock");
	while ((rc = take(l, path, e)) == 0)
		;
	if (rc == -1) {
		/* Not ours: the sidecar stays for the run that holds it. */
		if (l->fd != -1)
			close(l->fd);
		l->fd = -1;
		cdb_lock_free(l);
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
	if (l->path != NULL && l->fd != -1)
		unlink(l->path);
	if (l->fd != -1)
		close(l->fd);
	free(l->path);
	free(l);
}
