/* replicate_int.h - pieces of replicate shared by its files and unit tests:
 * the upload worker pool and the reading of one path. */
#ifndef RV_ENGINE_REPLICATE_INT_H
#define RV_ENGINE_REPLICATE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "content/format.h"
#include "core/err.h"

struct rv_store;
struct rv_metrics;

enum rjob_result {
	RJ_RECORD,     /* `e` is what to record (its blob is in the store) */
	RJ_GONE,       /* nothing there (or nothing that is content) */
	RJ_CHANGED,    /* it changed while being read: read it again */
	RJ_UNREADABLE, /* permission or I/O error: `err` */
	RJ_ABORTED,    /* shutdown while the store was failing */
};

struct rjob {
	struct rjob *next;
	char *path;
	enum rjob_result res;
	struct rv_centry e; /* RJ_RECORD: strings owned */
	int err;	    /* errno for RJ_UNREADABLE */
	uint64_t uploaded;  /* bytes sent to the store (0 when the blob was there) */
};
void rv_rjob_free(struct rjob *j);

/* Files up to this size are read into memory and uploaded from there;
 * larger ones are copied to a temporary file while hashed.  Either way the
 * bytes uploaded are the bytes hashed. */
#define RV_REPLICATE_MEM_MAX (1u << 20)

/* Read `rel` under the folder `root_fd` (never following a symlink, not
 * even in a parent), hash it, make sure its blob is in the store and fill
 * `j`.  Store failures are retried with backoff until they succeed or a
 * shutdown is requested (RJ_ABORTED); `metrics` may be NULL. */
void rv_replicate_read_path(struct rv_store *st, int root_fd, struct rv_metrics *metrics,
			    struct rjob *j);

struct rpool {
	struct rv_store *st;
	int root_fd;
	struct rv_metrics *metrics;
	int wake_fd; /* eventfd written when a job is done */
	pthread_t *threads;
	unsigned nthreads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rjob *todo, *todo_tail, *done, *done_tail;
	bool stopping;
};
int rv_rpool_start(struct rpool *p, unsigned n, struct rv_store *st, int root_fd,
		   struct rv_metrics *metrics, int wake_fd) RV_WARN_UNUSED;
void rv_rpool_submit(struct rpool *p, const char *path);
/* Every finished job, oldest first (a list the caller frees). */
struct rjob *rv_rpool_take_done(struct rpool *p);
/* Workers finish the jobs queued and exit; joins them. */
void rv_rpool_stop(struct rpool *p);

#endif
