/* workq.h - a bounded work queue: one function run over many arguments on
 * a fixed set of threads.
 *
 *   struct rv_workq q;
 *
 *   rv_workq_init(&q, jobs, 16, delete_one, store);
 *   for (size_t i = 0; !rc && i < n; i++)
 *           rc = rv_workq_submit(&q, keys[i]);
 *   rc = rv_workq_wait(&q);   // the first failure, its message set again here
 *   rv_workq_release(&q);
 *
 * Contract:
 *
 * - A job is `fn(ctx, arg)`, returning 0 or a negative RV_E* with its
 *   message set by rv_error() on the worker's thread, as everywhere.  Every
 *   job submitted (accepted) is run exactly once, so a job that owns `arg`
 *   can always free it.  Jobs run in submission order when `threads` is 1
 *   or 0; with more threads they start in that order and finish in any.
 * - Memory is bounded: rv_workq_submit() blocks while `threads + max_queued`
 *   jobs are submitted and not finished.  max_queued 0 hands each job to a
 *   free thread (the caller waits until one is free).
 * - The first failure is kept: its code and the worker's rv_errmsg().  From
 *   then on rv_workq_submit() refuses new jobs (the job is not run and
 *   `arg` stays the caller's) and returns that code with that message set
 *   on the caller's thread; rv_workq_wait() returns it the same way.  Jobs
 *   already queued still run: a job that should not start after another
 *   failed checks rv_workq_failed() and returns 0 (it may free its arg).
 * - A pool that goes on after a failure (a recursive copy that reports
 *   "3 of 1000 files failed") counts its failures in its own jobs and has
 *   them return 0: the queue then only runs them.
 * - Shutdown is the caller's and the jobs' to honour (rv_shutdown_requested()
 *   where they want it); the queue itself never drops a job.
 * - threads 0 runs every job inside rv_workq_submit(), on the caller's
 *   thread, in order.  When some threads cannot be created the queue runs
 *   on those that started (with a warning); when none could, it runs
 *   inline as with 0.
 * - Submit from any thread but the queue's own workers (a job that submits
 *   to its own full queue would wait for itself).  rv_workq_failed() may be
 *   called from anywhere.  rv_workq_wait() may be called more than once;
 *   the queue stays usable after it (a failure stays recorded).
 *
 * Not every pool in revenant is one of these: store/pfetch.c claims the
 * parts of a known list in order under the mutex its readers wait on (no
 * producer, and a part's state is the reader's), and engine/replicate_worker.c
 * serves an event loop that must never block on a full queue and gets each
 * file's result back through a done list and an eventfd. */
#ifndef RV_WORKQ_H
#define RV_WORKQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

typedef int rv_workq_fn(void *ctx, void *arg);

/* Everything is private to workq.c; callers own the struct (on the stack or
 * inside their own context). */
struct rv_workq {
	rv_workq_fn *fn;
	void *ctx;
	pthread_t *threads;
	unsigned nthreads; /* started; 0: inline */
	unsigned limit;	   /* submitted and unfinished jobs allowed */
	pthread_mutex_t mu;
	pthread_cond_t work; /* a job was queued, or closing */
	pthread_cond_t done; /* a job finished */
	void **ring;	     /* queued arguments, `limit` slots */
	size_t head, count;
	size_t pending; /* submitted, not finished (queued + running) */
	bool closing;
	int rc;
	char msg[1024];
};

/* Starts `threads` workers running `fn(ctx, arg)` for each submitted arg.
 * Never fails: a thread that cannot start leaves its share to the others
 * (see above).  `ctx` is borrowed until rv_workq_release(). */
void rv_workq_init(struct rv_workq *q, unsigned threads, unsigned max_queued, rv_workq_fn *fn,
		   void *ctx);
/* Queues `arg` (waiting for room; with threads 0, runs it).  0: the job
 * is accepted and runs (or ran) exactly once.  Otherwise the queue's first
 * failure, with its message: the job is refused, never run, and `arg` is
 * still the caller's. */
int rv_workq_submit(struct rv_workq *q, void *arg) RV_WARN_UNUSED;
/* Records a failure found outside the jobs (by the submitter, say a read
 * error) as if a job had returned it: `rc` and the calling thread's
 * rv_errmsg() become the queue's failure unless one is already kept.
 * Returns `rc`. */
int rv_workq_fail(struct rv_workq *q, int rc);
/* Whether a failure is kept: long or not yet started jobs return early. */
bool rv_workq_failed(struct rv_workq *q);
/* Waits until every submitted job has finished: 0, or the first failure
 * with its message set on the caller's thread. */
int rv_workq_wait(struct rv_workq *q) RV_WARN_UNUSED;
/* Runs what is still queued, joins the threads and frees the queue's
 * memory; the result is dropped (call rv_workq_wait() to learn it).  Safe
 * on a zeroed struct and twice. */
void rv_workq_release(struct rv_workq *q);

#endif
