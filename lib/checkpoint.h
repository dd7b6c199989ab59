/*
 * checkpoint.h - resumable progress, written atomically: a temporary file
 * beside the target, fsync, rename over the target, fsync the directory.
 * A crash at any moment leaves either the old or the new checkpoint,
 * never a torn one.
 */
#ifndef CDB_CHECKPOINT_H
#define CDB_CHECKPOINT_H

#include <jansson.h>

#include "cdb.h"

/*
 * Replace path with len bytes of data, atomically as above, the new file
 * having permissions mode (before the umask).  0, or -1 with e.  Every
 * whole-file writer (checkpoints, reports) goes through here.
 */
int cdb_checkpoint_write_file(const char *path, const void *data, size_t len,
    int mode, cdb_error *e);

/* write(2) all n bytes, through short writes and EINTR.  0 or -1 (errno). */
int cdb_checkpoint_write_all(int fd, const void *data, size_t n);

/* Replace path with the JSON text of state.  0 or -1 with e. */
int cdb_checkpoint_save(const char *path, const json_t *state, cdb_error *e);

/* The checkpoint at path, a new reference; NULL when there is none (e
 * untouched) or with e. */
json_t *cdb_checkpoint_load(const char *path, cdb_error *e);

/* Remove the checkpoint (a finished job); missing is fine.  0 or -1. */
int cdb_checkpoint_remove(const char *path, cdb_error *e);

/*
 * May path be replaced by renaming a new file over it?  Only when it does
 * not exist or is a regular file: a rename would turn a device such as
 * /dev/null, or a pipe, into a plain file.  0, or -1 with e (usage).
 * Every writer that renames into place checks this first.
 */
int cdb_checkpoint_replaceable(const char *path, cdb_error *e);

/* fsync the directory holding path, so a rename in it is durable. */
int cdb_checkpoint_sync_dir(const char *path, cdb_error *e);

#endif
