/* checkpoint.c - atomic checkpoint files; see checkpoint.h. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "json.h"

int
cdb_checkpoint_sync_dir(const char *path, cdb_error *e)
{
	char *copy = strdup(path);
	int fd, rc = 0;

	if (copy == NULL)
		return cdb_error_oom(e);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
	if (fd == -1 || fsync(fd) == -1)
		rc = cdb_error_sys(e, errno, "%s: cannot sync directory",
		    path);
	if (fd != -1)
		close(fd);
	free(copy);
	return rc;
}

int
cdb_checkpoint_replaceable(const char *path, cdb_error *e)
{
	struct stat st;

	if (stat(path, &st) == -1)
		return errno == ENOENT ? 0
				       : cdb_error_sys(e, errno, "%s",
					     path);
	if (!S_ISREG(st.st_mode))
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "%s: not a regular file; cdb replaces its files whole, "
		    "which would destroy it",
		    path);
	return 0;
}

int
cdb_checkpoint_write_all(int fd, const void *data, size_t n)
{
	const char *p = data;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
cdb_checkpoint_write_file(const char *path, const void *data, size_t len,
    int mode, cdb_error *e)
{
	cdb_buf tmp;
	int fd = -1, rc = -1;

	if (cdb_checkpoint_replaceable(path, e) == -1)
		return -1;
	cdb_buf_init(&tmp);
	if (cdb_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid()) == -1)
		return cdb_error_oom(e);
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC, mode);
	/* Errors name the file the user asked for, not our temporary. */
	if (fd == -1 || cdb_checkpoint_write_all(fd, data, len) == -1 ||
	    fsync(fd) == -1)
		cdb_error_sys(e, errno, "%s", path);
	else if (close(fd) == -1 || (fd = -1, rename(tmp.data, path) == -1))
		cdb_error_sys(e, errno, "%s", path);
	else
		rc = cdb_checkpoint_sync_dir(path, e);
	if (rc == -1) {
		if (fd != -1)
			close(fd);
		unlink(tmp.data);
	}
	cdb_buf_free(&tmp);
	return rc;
}

int
cdb_checkpoint_save(const char *path, const json_t *state, cdb_error *e)
{
	cdb_buf text;
	int rc;

	cdb_buf_init(&text);
	if (cdb_json_dump(&text, state) == -1 || cdb_buf_putc(&text, '\n')) {
		cdb_buf_free(&text);
		return cdb_error_oom(e);
	}
	rc = cdb_checkpoint_write_file(path, text.data, text.len, 0600, e);
	cdb_buf_free(&text);
	return rc;
}

json_t *
cdb_checkpoint_load(const char *path, cdb_error *e)
{
	json_error_t je;
	json_t *j;

	if (access(path, F_OK) == -1 && errno == ENOENT)
		return NULL;
	if ((j = json_load_file(path, CDB_JSON_FLAGS, &je)) == NULL)
		cdb_error_set(e, CDB_ERR_INPUT, "%s: unreadable checkpoint: %s",
		    path, je.text);
	else if (!json_is_object(j)) {
		json_decref(j);
		j = NULL;
		cdb_error_set(e, CDB_ERR_INPUT, "%s: checkpoint is not an object",
		    path);
	}
	return j;
}

int
cdb_checkpoint_remove(const char *path, cdb_error *e)
{
	if (unlink(path) == -1 && errno != ENOENT)
		return cdb_error_sys(e, errno, "%s", path);
	return 0;
}
