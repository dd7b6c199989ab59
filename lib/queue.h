/*
 * queue.h - the one bounded queue and worker pool every threaded engine
 * uses.  Producers block while the queue is full (so memory stays flat
 * however fast they are), consumers while it is empty; closing it wakes
 * everyone, after which pushes fail and pops drain what is left.
 */
#ifndef CDB_QUEUE_H
#define CDB_QUEUE_H

#include <stddef.h>

#include "cdb.h"

typedef struct cdb_queue cdb_queue;

/* A queue of at most cap items; NULL with e.  Free with cdb_queue_free. */
cdb_queue *cdb_queue_new(size_t cap, cdb_error *e);

/* Free q (NULL ok); items still in it are the caller's. */
void cdb_queue_free(cdb_queue *q);

/* Append item (not NULL), waiting for room; -1 when q is closed. */
int cdb_queue_push(cdb_queue *q, void *item);

/* The oldest item, waiting for one; NULL once q is closed and empty. */
void *cdb_queue_pop(cdb_queue *q);

/* No more pushes: producers stop, consumers drain then see NULL.  A
 * consumer that fails closes the queue to stop its producers. */
void cdb_queue_close(cdb_queue *q);

typedef struct cdb_workers cdb_workers;

/*
 * Start n threads running fn(arg) into *w.  0, or -1 (e set) when one
 * cannot start: *w then holds those that did (or NULL), and the caller
 * closes their queues and joins them as on any other failure.
 */
int cdb_workers_start(cdb_workers **w, int n, void *(*fn)(void *),
    void *arg, cdb_error *e);

/* Wait for every thread to end, then free w.  Accepts NULL. */
void cdb_workers_join(cdb_workers *w);

#endif
