/* replicate_int.h - pieces of replicate shared by its files and unit tests:
 * the upload worker pool (the reading of one path is the content source's,
 * content/source.h). */
#ifndef RV_ENGINE_REPLICATE_INT_H
#define RV_ENGINE_REPLICATE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "content/source.h"
#include "core/err.h"

struct rv_store;
struct rv_metrics;

/* One path for the upload workers: the content source reads it. */
struct rjob {
	struct rjob *next;
	char *path;
	struct rv_csrc_read rd;
};
void rv_rjob_free(struct rjob *j);

struct rpool {
	struct rv_store *st;
	const struct rv_csrc *src;
	struct rv_metrics *metrics;
	int wake_fd; /* eventfd written when a job is done */
	pthread_t *threads;
	unsigned nthreads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rjob *todo, *todo_tail, *done, *done_tail;
	bool stopping;
};
int rv_rpool_start(struct rpool *p, unsigned n, struct rv_store *st, const struct rv_csrc *src,
		   struct rv_metrics *metrics, int wake_fd) RV_WARN_UNUSED;
void rv_rpool_submit(struct rpool *p, const char *path);
/* Every finished job, oldest first (a list the caller frees). */
struct rjob *rv_rpool_take_done(struct rpool *p);
/* Workers finish the jobs queued and exit; joins them. */
void rv_rpool_stop(struct rpool *p);

#endif
