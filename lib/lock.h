/*
 * lock.h - one run at a time per file.  A program locks every output and
 * checkpoint it owns for the whole run: an exclusive flock(2) on a
 * sidecar file "PATH.lock" that holds the owner's process id.  The
 * kernel drops the lock when the process ends, however it ends, so a
 * lock is never stale; the sidecar left by a kill -9 is simply taken
 * over by the next run.  The sidecar is used, not PATH itself, because
 * PATH is replaced by renames (cdb_checkpoint_write_file) or is not
 * created yet.
 */
#ifndef CDB_LOCK_H
#define CDB_LOCK_H

#include "cdb.h"

typedef struct cdb_lock cdb_lock;

/*
 * Lock path for this run, without waiting.  When another run holds it:
 * NULL with e ("PATH is in use by another run (pid N)").  A device, a
 * FIFO or a socket is not locked (nothing is renamed over it); a
 * directory is.
 * Free with cdb_lock_free.
 */
cdb_lock *cdb_lock_new(const char *path, cdb_error *e);

/* Release the lock and remove its sidecar.  Accepts NULL. */
void cdb_lock_free(cdb_lock *l);

#endif
