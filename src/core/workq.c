/* workq.c - the bounded work queue (see workq.h).
 *
 * Threads: everything in struct rv_workq after `nthreads` is under `mu`;
 * fn, ctx, threads and nthreads are set before the first submit and read
 * only.  A worker holds no lock while its job runs. */
#include "core/workq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"

/* Under mu: keep the first failure and the message of the thread that
 * found it (rv_errmsg() is thread-local, so it is copied here). */
static void keep_failure(struct rv_workq *q, int rc)
{
	if (rc && !q->rc) {
		q->rc = rc;
		snprintf(q->msg, sizeof(q->msg), "%s", rv_errmsg());
	}
}

static void *worker(void *arg)
{
	struct rv_workq *q = arg;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		void *job;
		int rc;

		while (!q->count && !q->closing)
			pthread_cond_wait(&q->work, &q->mu);
		if (!q->count)
			break; /* closing and drained */
		job = q->ring[q->head];
		q->head = (q->head + 1) % q->limit;
		q->count--;
		pthread_mutex_unlock(&q->mu);

		rc = q->fn(q->ctx, job);

		pthread_mutex_lock(&q->mu);
		keep_failure(q, rc);
		q->pending--;
		pthread_cond_broadcast(&q->done);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

void rv_workq_init(struct rv_workq *q, unsigned threads, unsigned max_queued, rv_workq_fn *fn,
		   void *ctx)
{
	int err = 0;

	memset(q, 0, sizeof(*q));
	q->fn = fn;
	q->ctx = ctx;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->done, NULL);
	if (!threads)
		return;
	q->threads = rv_calloc(threads, sizeof(*q->threads));
	/* Room for every job that may be pending, so a submit that got past
	 * the limit always finds a free slot. */
	q->limit = threads + max_queued;
	q->ring = rv_calloc(q->limit, sizeof(*q->ring));
	while (q->nthreads < threads &&
	       !(err = pthread_create(&q->threads[q->nthreads], NULL, worker, q)))
		q->nthreads++;
	if (err) {
		char asked[16], started[16];

		snprintf(asked, sizeof(asked), "%u", threads);
		snprintf(started, sizeof(started), "%u", q->nthreads);
		rv_log(RV_LOG_WARN,
		       q->nthreads ? "cannot start every worker thread, going on with fewer"
				   : "cannot start a worker thread, working on this one",
		       "asked", asked, "started", started, "error", strerror(err), NULL);
	}
	pthread_mutex_lock(&q->mu);
	/* Jobs a thread that did not start would have held in flight are not
	 * waited for: the limit is that of the threads that run. */
	q->limit = q->nthreads + max_queued;
	if (!q->nthreads) {
		free(q->ring);
		q->ring = NULL;
		q->limit = 0;
	}
	pthread_mutex_unlock(&q->mu);
}

/* Under mu: the kept failure, its message set again on this thread. */
static int failure(struct rv_workq *q)
{
	return rv_error(q->rc, "%s", q->msg);
}

int rv_workq_submit(struct rv_workq *q, void *arg)
{
	int rc;

	pthread_mutex_lock(&q->mu);
	if (!q->nthreads) {
		rc = q->rc ? failure(q) : 0;
		pthread_mutex_unlock(&q->mu);
		if (rc)
			return rc;
		/* Accepted and run: its failure is kept like a worker's, and
		 * refuses the next submit. */
		rc = q->fn(q->ctx, arg);
		pthread_mutex_lock(&q->mu);
		keep_failure(q, rc);
		pthread_mutex_unlock(&q->mu);
		return 0;
	}
	while (q->pending >= q->limit && !q->rc)
		pthread_cond_wait(&q->done, &q->mu);
	if (q->rc) {
		rc = failure(q);
		pthread_mutex_unlock(&q->mu);
		return rc;
	}
	q->ring[(q->head + q->count) % q->limit] = arg;
	q->count++;
	q->pending++;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

int rv_workq_fail(struct rv_workq *q, int rc)
{
	pthread_mutex_lock(&q->mu);
	keep_failure(q, rc);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

bool rv_workq_failed(struct rv_workq *q)
{
	bool failed;

	pthread_mutex_lock(&q->mu);
	failed = q->rc != 0;
	pthread_mutex_unlock(&q->mu);
	return failed;
}

int rv_workq_wait(struct rv_workq *q)
{
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	while (q->pending)
		pthread_cond_wait(&q->done, &q->mu);
	if (q->rc)
		rc = failure(q);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

void rv_workq_release(struct rv_workq *q)
{
	if (!q->fn)
		return; /* zeroed, or released already */
	pthread_mutex_lock(&q->mu);
	q->closing = true;
	pthread_cond_broadcast(&q->work);
	pthread_mutex_unlock(&q->mu);
	for (unsigned i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	free(q->threads);
	free(q->ring);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->done);
	memset(q, 0, sizeof(*q));
}
