/* queue.c - bounded queue and worker pool; see queue.h. */
#include <pthread.h>
#include <stdlib.h>

#include "queue.h"

struct cdb_queue {
	pthread_mutex_t mu;
	pthread_cond_t room, item;
	void **ring;
	size_t cap, head, n;
	int closed;
};

struct cdb_workers {
	int n;
	pthread_t th[];
};

cdb_queue *
cdb_queue_new(size_t cap, cdb_error *e)
{
	cdb_queue *q;

	if (cap == 0)
		cap = 1;
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->ring = calloc(cap, sizeof(*q->ring))) == NULL) {
		free(q);
		cdb_error_oom(e);
		return NULL;
	}
	q->cap = cap;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->room, NULL);
	pthread_cond_init(&q->item, NULL);
	return q;
}

void
cdb_queue_free(cdb_queue *q)
{
	if (q == NULL)
		return;
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->room);
	pthread_cond_destroy(&q->item);
	free(q->ring);
	free(q);
}

int
cdb_queue_push(cdb_queue *q, void *item)
{
	pthread_mutex_lock(&q->mu);
	while (q->n == q->cap && !q->closed)
		pthread_cond_wait(&q->room, &q->mu);
	if (q->closed) {
		pthread_mutex_unlock(&q->mu);
		return -1;
	}
	q->ring[(q->head + q->n++) % q->cap] = item;
	pthread_cond_signal(&q->item);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void *
cdb_queue_pop(cdb_queue *q)
{
	void *item = NULL;

	pthread_mutex_lock(&q->mu);
	while (q->n == 0 && !q->closed)
		pthread_cond_wait(&q->item, &q->mu);
	if (q->n > 0) {
		item = q->ring[q->head];
		q->head = (q->head + 1) % q->cap;
		q->n--;
		pthread_cond_signal(&q->room);
	}
	pthread_mutex_unlock(&q->mu);
	return item;
}

void
cdb_queue_close(cdb_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = 1;
	pthread_cond_broadcast(&q->room);
	pthread_cond_broadcast(&q->item);
	pthread_mutex_unlock(&q->mu);
}

int
cdb_workers_start(cdb_workers **w, int n, void *(*fn)(void *), void *arg,
    cdb_error *e)
{
	int rc;

	if ((*w = calloc(1, sizeof(**w) + (size_t)n * sizeof(pthread_t))) ==
	    NULL)
		return cdb_error_oom(e);
	for (; (*w)->n < n; (*w)->n++) {
		if ((rc = pthread_create(&(*w)->th[(*w)->n], NULL, fn, arg)) != 0)
			return cdb_error_sys(e, rc, "cannot start a thread");
	}
	return 0;
}

void
cdb_workers_join(cdb_workers *w)
{
	int i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n; i++)
		pthread_join(w->th[i], NULL);
	free(w);
}
