/* The work queue: every job runs once, the first failure and its message
 * reach the caller, submit refuses after a failure, the queue bounds what
 * is in flight, one thread keeps the order, release drains. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/err.h"
#include "core/util.h"
#include "core/workq.h"

#define N 1000

struct counts {
	atomic_int runs[N];
	atomic_int total;
};

static int count_job(void *ctx, void *arg)
{
	struct counts *c = ctx;
	size_t i = (size_t)(uintptr_t)arg;

	atomic_fetch_add(&c->runs[i], 1);
	atomic_fetch_add(&c->total, 1);
	return 0;
}

static void test_all_jobs_run(void **state)
{
	static struct counts c;
	struct rv_workq q;

	(void)state;
	memset(&c, 0, sizeof(c));
	rv_workq_init(&q, 4, 3, count_job, &c);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(rv_workq_submit(&q, (void *)(uintptr_t)i), 0);
	assert_int_equal(rv_workq_wait(&q), 0);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(atomic_load(&c.runs[i]), 1);
	/* Usable again after a wait. */
	assert_int_equal(rv_workq_submit(&q, (void *)(uintptr_t)0), 0);
	assert_int_equal(rv_workq_wait(&q), 0);
	assert_int_equal(atomic_load(&c.total), N + 1);
	rv_workq_release(&q);
}

/* Job 0 fails at once; every other job waits until that failure is kept,
 * then fails with another code: the first one must win. */
struct failing {
	struct rv_workq *q;
	atomic_int ran;
};

static int fail_job(void *ctx, void *arg)
{
	struct failing *f = ctx;
	int i = (int)(uintptr_t)arg;

	atomic_fetch_add(&f->ran, 1);
	if (i == 0)
		return rv_error(RV_ENOTFOUND, "job %d: no such thing", i);
	while (!rv_workq_failed(f->q))
		rv_sleep_ms(1);
	return rv_error(RV_ECORRUPT, "job %d: later failure", i);
}

static void test_first_error_and_message(void **state)
{
	struct rv_workq q;
	struct failing f = {.q = &q};
	int rc = 0, submitted = 0;

	(void)state;
	rv_workq_init(&q, 3, 0, fail_job, &f);
	/* Submits until refused: the refusal carries the first failure. */
	for (int i = 0; i < 100 && !rc; i++) {
		rv_error(RV_EFAIL, "the caller's own message");
		rc = rv_workq_submit(&q, (void *)(uintptr_t)i);
		if (!rc)
			submitted++;
	}
	assert_int_equal(rc, RV_ENOTFOUND);
	assert_string_equal(rv_errmsg(), "job 0: no such thing");
	rv_error(RV_EFAIL, "the caller's own message");
	assert_int_equal(rv_workq_wait(&q), RV_ENOTFOUND);
	assert_string_equal(rv_errmsg(), "job 0: no such thing");
	/* Every accepted job ran, none refused did. */
	assert_int_equal(atomic_load(&f.ran), submitted);
	assert_true(rv_workq_failed(&q));
	rv_workq_release(&q);
}

static void test_submit_after_failure_refused(void **state)
{
	struct rv_workq q;
	struct failing f = {.q = &q};

	(void)state;
	rv_workq_init(&q, 2, 4, fail_job, &f);
	assert_int_equal(rv_workq_submit(&q, (void *)(uintptr_t)0), 0);
	assert_int_equal(rv_workq_wait(&q), RV_ENOTFOUND);
	rv_error_clear();
	assert_int_equal(rv_workq_submit(&q, (void *)(uintptr_t)0), RV_ENOTFOUND);
	assert_string_equal(rv_errmsg(), "job 0: no such thing");
	assert_int_equal(atomic_load(&f.ran), 1);
	/* Waiting again gives the same failure. */
	assert_int_equal(rv_workq_wait(&q), RV_ENOTFOUND);
	rv_workq_release(&q);
}

static void test_fail_from_submitter(void **state)
{
	struct rv_workq q;
	struct failing f = {.q = &q};

	(void)state;
	rv_workq_init(&q, 2, 0, fail_job, &f);
	rv_error(RV_EUSAGE, "the input is too long");
	assert_int_equal(rv_workq_fail(&q, RV_EUSAGE), RV_EUSAGE);
	assert_true(rv_workq_failed(&q));
	/* A job failing afterwards does not replace the first failure. */
	assert_int_equal(rv_workq_submit(&q, (void *)(uintptr_t)0), RV_EUSAGE);
	rv_error_clear();
	assert_int_equal(rv_workq_wait(&q), RV_EUSAGE);
	assert_string_equal(rv_errmsg(), "the input is too long");
	assert_int_equal(atomic_load(&f.ran), 0);
	rv_workq_release(&q);
}

/* Jobs wait for a gate; the test opens it. */
struct gated {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open;
	atomic_int started, finished;
};

static int gated_job(void *ctx, void *arg)
{
	struct gated *g = ctx;

	(void)arg;
	atomic_fetch_add(&g->started, 1);
	pthread_mutex_lock(&g->mu);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	atomic_fetch_add(&g->finished, 1);
	return 0;
}

struct submitter {
	struct rv_workq *q;
	struct gated *g;
	atomic_bool returned;
	int finished_then; /* jobs finished when submit returned */
	int rc;
};

static void *submit_thread(void *arg)
{
	struct submitter *s = arg;

	s->rc = rv_workq_submit(s->q, NULL);
	s->finished_then = atomic_load(&s->g->finished);
	atomic_store(&s->returned, true);
	return NULL;
}

static void test_bounded_queue_blocks(void **state)
{
	struct gated g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct rv_workq q;
	struct submitter s = {.q = &q, .g = &g};
	pthread_t t;

	(void)state;
	/* One running, one queued: the third submit must wait. */
	rv_workq_init(&q, 1, 1, gated_job, &g);
	assert_int_equal(rv_workq_submit(&q, NULL), 0);
	assert_int_equal(rv_workq_submit(&q, NULL), 0);
	assert_int_equal(pthread_create(&t, NULL, submit_thread, &s), 0);
	/* Not proof that it waits (a slow machine passes anyway), but a
	 * queue that did not bound would be caught here almost always... */
	rv_sleep_ms(50);
	assert_false(atomic_load(&s.returned));
	assert_int_equal(atomic_load(&g.finished), 0);
	pthread_mutex_lock(&g.mu);
	g.open = true;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	pthread_join(t, NULL);
	/* ... and this is proof: it returned only once a slot was freed. */
	assert_int_equal(s.rc, 0);
	assert_true(s.finished_then >= 1);
	assert_int_equal(rv_workq_wait(&q), 0);
	assert_int_equal(atomic_load(&g.finished), 3);
	rv_workq_release(&q);
}

struct order {
	size_t seen[N];
	size_t n;
	pthread_t thread; /* where the last job ran */
};

static int order_job(void *ctx, void *arg)
{
	struct order *o = ctx;

	o->seen[o->n++] = (size_t)(uintptr_t)arg;
	o->thread = pthread_self();
	return 0;
}

static void check_order(unsigned threads)
{
	static struct order o;
	struct rv_workq q;

	memset(&o, 0, sizeof(o));
	rv_workq_init(&q, threads, 8, order_job, &o);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(rv_workq_submit(&q, (void *)(uintptr_t)i), 0);
	assert_int_equal(rv_workq_wait(&q), 0);
	assert_int_equal(o.n, N);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(o.seen[i], i);
	/* Zero threads: inline, on the caller's own thread. */
	assert_int_equal(pthread_equal(o.thread, pthread_self()) != 0, threads == 0);
	rv_workq_release(&q);
}

static void test_one_thread_keeps_order(void **state)
{
	(void)state;
	check_order(1);
	check_order(0);
}

static void test_inline_failure(void **state)
{
	struct rv_workq q;
	struct failing f = {.q = &q};

	(void)state;
	rv_workq_init(&q, 0, 0, fail_job, &f);
	/* Inline, the job that fails was accepted (it ran: the caller must
	 * not free its arg); the next one is refused. */
	assert_int_equal(rv_workq_submit(&q, (void *)(uintptr_t)0), 0);
	rv_error_clear();
	assert_int_equal(rv_workq_submit(&q, (void *)(uintptr_t)0), RV_ENOTFOUND);
	assert_string_equal(rv_errmsg(), "job 0: no such thing");
	assert_int_equal(atomic_load(&f.ran), 1);
	rv_error_clear();
	assert_int_equal(rv_workq_wait(&q), RV_ENOTFOUND);
	assert_string_equal(rv_errmsg(), "job 0: no such thing");
	rv_workq_release(&q);
}

static void test_release_without_wait(void **state)
{
	static struct counts c;
	struct rv_workq q;

	(void)state;
	memset(&c, 0, sizeof(c));
	rv_workq_init(&q, 2, 16, count_job, &c);
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(rv_workq_submit(&q, (void *)(uintptr_t)i), 0);
	/* Release runs what is queued before it joins: nothing is lost. */
	rv_workq_release(&q);
	assert_int_equal(atomic_load(&c.total), 100);
	rv_workq_release(&q); /* twice is safe */
}

static void test_zero_jobs(void **state)
{
	static struct counts c;
	struct rv_workq q, zero;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&zero, 0, sizeof(zero));
	rv_workq_release(&zero);
	rv_workq_init(&q, 4, 0, count_job, &c);
	assert_false(rv_workq_failed(&q));
	assert_int_equal(rv_workq_wait(&q), 0);
	rv_workq_release(&q);
	rv_workq_init(&q, 0, 0, count_job, &c);
	assert_int_equal(rv_workq_wait(&q), 0);
	rv_workq_release(&q);
	assert_int_equal(atomic_load(&c.total), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_all_jobs_run),
	    cmocka_unit_test(test_first_error_and_message),
	    cmocka_unit_test(test_submit_after_failure_refused),
	    cmocka_unit_test(test_fail_from_submitter),
	    cmocka_unit_test(test_bounded_queue_blocks),
	    cmocka_unit_test(test_one_thread_keeps_order),
	    cmocka_unit_test(test_inline_failure),
	    cmocka_unit_test(test_release_without_wait),
	    cmocka_unit_test(test_zero_jobs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
