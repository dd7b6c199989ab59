/* test_queue.c - the bounded queue and worker pool under real threads. */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "queue.h"

struct sum {
	cdb_queue *q;
	long long total;
	pthread_mutex_t mu;
};

static void *
consume(void *arg)
{
	struct sum *s = arg;
	void *it;

	while ((it = cdb_queue_pop(s->q)) != NULL) {
		pthread_mutex_lock(&s->mu);
		s->total += (intptr_t)it;
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

START_TEST(test_every_item_once)
{
	struct sum s = {NULL, 0, PTHREAD_MUTEX_INITIALIZER};
	cdb_workers *w;
	cdb_error e = {0};
	intptr_t i;

	ck_assert_ptr_nonnull(s.q = cdb_queue_new(3, &e));
	ck_assert_int_eq(cdb_workers_start(&w, 4, consume, &s, &e), 0);
	for (i = 1; i <= 10000; i++)
		ck_assert_int_eq(cdb_queue_push(s.q, (void *)i), 0);
	cdb_queue_close(s.q);
	cdb_workers_join(w);
	ck_assert_int_eq(s.total, 10000LL * 10001 / 2);
	ck_assert_int_eq(cdb_queue_push(s.q, (void *)1), -1);
	cdb_queue_free(s.q);
}
END_TEST

START_TEST(test_close_drains_in_order)
{
	cdb_error e = {0};
	cdb_queue *q = cdb_queue_new(4, &e);

	cdb_queue_push(q, (void *)1);
	cdb_queue_push(q, (void *)2);
	cdb_queue_close(q);
	ck_assert_ptr_eq(cdb_queue_pop(q), (void *)1);
	ck_assert_ptr_eq(cdb_queue_pop(q), (void *)2);
	ck_assert_ptr_null(cdb_queue_pop(q));
	cdb_queue_free(q);
	cdb_queue_free(NULL);
	cdb_workers_join(NULL);
}
END_TEST

static void *
produce(void *arg)
{
	cdb_queue *q = arg;

	/* Blocks on the full queue until the consumer closes it. */
	while (cdb_queue_push(q, (void *)1) == 0)
		;
	return NULL;
}

START_TEST(test_close_stops_blocked_producer)
{
	cdb_error e = {0};
	cdb_queue *q = cdb_queue_new(1, &e);
	cdb_workers *w;

	ck_assert_int_eq(cdb_workers_start(&w, 2, produce, q, &e), 0);
	ck_assert_ptr_eq(cdb_queue_pop(q), (void *)1);
	cdb_queue_close(q);
	cdb_workers_join(w);
	while (cdb_queue_pop(q) != NULL)
		;
	cdb_queue_free(q);
}
END_TEST

Suite *
queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_every_item_once);
	tcase_add_test(tc, test_close_drains_in_order);
	tcase_add_test(tc, test_close_stops_blocked_producer);
	suite_add_tcase(s, tc);
	return s;
}
