/* replicate_worker.c - the upload workers of replicate: each asks the
 * content source to read one path (hashed, its blob put) at a time, and
 * hands the result to the committer (see replicate_int.h). */
#include "engine/replicate_int.h"
#include "core/mem.h"
#include "core/retry.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void rv_rjob_free(struct rjob *j)
{
	if (!j)
		return;
	free(j->path);
	rv_csrc_read_release(&j->rd);
	free(j);
}

static void *worker(void *arg)
{
	struct rpool *p = arg;

	for (;;) {
		struct rjob *j;
		uint64_t one = 1;

		pthread_mutex_lock(&p->mu);
		while (!p->todo && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		j = p->todo;
		if (!j) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		p->todo = j->next;
		if (!p->todo)
			p->todo_tail = NULL;
		pthread_mutex_unlock(&p->mu);

		j->next = NULL;
		if (rv_shutdown_requested())
			j->rd.res = RV_CSRC_ABORTED;
		else
			p->src->ops->read(p->src->h, p->st, p->metrics, j->path, &j->rd);

		pthread_mutex_lock(&p->mu);
		if (p->done_tail)
			p->done_tail->next = j;
		else
			p->done = j;
		p->done_tail = j;
		pthread_mutex_unlock(&p->mu);
		if (write(p->wake_fd, &one, sizeof(one)) == -1) {
			/* an eventfd counter does not overflow from these */
		}
	}
}

int rv_rpool_start(struct rpool *p, unsigned n, struct rv_store *st, const struct rv_csrc *src,
		   struct rv_metrics *metrics, int wake_fd)
{
	memset(p, 0, sizeof(*p));
	p->st = st;
	p->src = src;
	p->metrics = metrics;
	p->wake_fd = wake_fd;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->threads = rv_calloc(n, sizeof(*p->threads));
	for (unsigned i = 0; i < n; i++) {
		int e = pthread_create(&p->threads[i], NULL, worker, p);

		if (e) {
			rv_rpool_stop(p);
			return rv_error_errno(RV_EFAIL, e, "cannot start upload worker %u", i);
		}
		p->nthreads++;
	}
	return 0;
}

void rv_rpool_submit(struct rpool *p, const char *path)
{
	struct rjob *j = rv_calloc(1, sizeof(*j));

	j->path = rv_strdup(path);
	pthread_mutex_lock(&p->mu);
	if (p->todo_tail)
		p->todo_tail->next = j;
	else
		p->todo = j;
	p->todo_tail = j;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

struct rjob *rv_rpool_take_done(struct rpool *p)
{
	struct rjob *j;

	pthread_mutex_lock(&p->mu);
	j = p->done;
	p->done = p->done_tail = NULL;
	pthread_mutex_unlock(&p->mu);
	return j;
}

void rv_rpool_stop(struct rpool *p)
{
	struct rjob *j;

	if (!p->threads)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	p->threads = NULL;
	for (j = p->todo; j;) {
		struct rjob *next = j->next;
		rv_rjob_free(j);
		j = next;
	}
	for (j = p->done; j;) {
		struct rjob *next = j->next;
		rv_rjob_free(j);
		j = next;
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
}
