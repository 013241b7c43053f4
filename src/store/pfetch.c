/* pfetch.c - parallel ranged downloads read in order (see pfetch.h). */
#include "store/pfetch.h"

#include "core/mem.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PF_JOBS_DEFAULT 4
#define PF_JOBS_MAX	32
#define PF_PART_DEFAULT (8ull << 20)

struct pobj {
	char *key;
	uint64_t size;
	int fd;		 /* -1 once dropped */
	uint64_t nparts; /* ceil(size / part) */
	bool *done;	 /* per part */
	uint64_t prefix; /* leading parts done */
};

struct rv_pfetch {
	struct rv_store *s;
	struct pobj *o;
	size_t n;
	uint64_t part;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Under mu: the next part to claim, the stop flag, the first error. */
	size_t next_obj;
	uint64_t next_part;
	bool stop;
	int err;
	char errmsg[512];
	uint64_t bytes;
	pthread_t t[PF_JOBS_MAX];
	unsigned nt;
};

static uint64_t ready_bytes(const struct rv_pfetch *pf, const struct pobj *o)
{
	uint64_t b = o->prefix * pf->part;

	return b < o->size ? b : o->size;
}

/* Under mu: the next part not yet claimed, skipping dropped objects. */
static bool claim(struct rv_pfetch *pf, size_t *oi, uint64_t *pi)
{
	while (!pf->stop && pf->next_obj < pf->n) {
		struct pobj *o = &pf->o[pf->next_obj];

		if (o->fd == -1 || pf->next_part >= o->nparts) {
			pf->next_obj++;
			pf->next_part = 0;
			continue;
		}
		*oi = pf->next_obj;
		*pi = pf->next_part++;
		return true;
	}
	return false;
}

static void *worker(void *arg)
{
	struct rv_pfetch *pf = arg;
	size_t oi;
	uint64_t pi;

	pthread_mutex_lock(&pf->mu);
	while (claim(pf, &oi, &pi)) {
		struct pobj *o = &pf->o[oi];
		uint64_t off = pi * pf->part;
		uint64_t len = o->size - off < pf->part ? o->size - off : pf->part;
		char self[64];
		int wfd, rc = 0;

		/* The store writes at the descriptor's own offset, so each part
		 * gets its own open file description of the same unnamed file:
		 * reopened through /proc while the lock keeps o->fd from being
		 * dropped (and its number reused) under us. */
		snprintf(self, sizeof(self), "/proc/self/fd/%d", o->fd);
		wfd = open(self, O_WRONLY | O_CLOEXEC);
		pthread_mutex_unlock(&pf->mu);
		if (wfd == -1)
			rc = rv_error_errno(RV_EFAIL, errno, "reopen the download of '%s'", o->key);
		else if (lseek(wfd, (off_t)off, SEEK_SET) == -1)
			rc = rv_error_errno(RV_EFAIL, errno, "seek the download of '%s'", o->key);
		else
			rc = rv_store_get_fd(pf->s, o->key, wfd, off, len, NULL);
		if (wfd != -1)
			close(wfd);
		pthread_mutex_lock(&pf->mu);
		if (rc) {
			if (!pf->err) {
				pf->err = rc;
				snprintf(pf->errmsg, sizeof(pf->errmsg), "%s", rv_errmsg());
			}
			pf->stop = true;
		} else {
			o->done[pi] = true;
			while (o->prefix < o->nparts && o->done[o->prefix])
				o->prefix++;
			pf->bytes += len;
		}
		pthread_cond_broadcast(&pf->cv);
	}
	pthread_mutex_unlock(&pf->mu);
	return NULL;
}

int rv_pfetch_start(struct rv_pfetch **out, struct rv_store *s, const struct rv_pfetch_obj *objs,
		    size_t n, const struct rv_pfetch_opts *o)
{
	struct rv_pfetch *pf = rv_calloc(1, sizeof(*pf));
	unsigned jobs = o->jobs ? o->jobs : PF_JOBS_DEFAULT;
	uint64_t parts = 0;
	int rc = 0;

	*out = NULL;
	if (jobs > PF_JOBS_MAX)
		jobs = PF_JOBS_MAX;
	pf->s = s;
	pf->part = o->part ? o->part : PF_PART_DEFAULT;
	pf->n = n;
	pf->o = rv_calloc(n ? n : 1, sizeof(*pf->o));
	for (size_t i = 0; i < n; i++)
		pf->o[i].fd = -1;
	pthread_mutex_init(&pf->mu, NULL);
	pthread_cond_init(&pf->cv, NULL);
	for (size_t i = 0; !rc && i < n; i++) {
		struct pobj *p = &pf->o[i];

		p->key = rv_strdup(objs[i].key);
		p->size = objs[i].size;
		p->nparts = (p->size + pf->part - 1) / pf->part;
		p->done = rv_calloc(p->nparts ? p->nparts : 1, sizeof(*p->done));
		parts += p->nparts;
		p->fd = open(o->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (p->fd == -1)
			rc = rv_error_errno(RV_EFAIL, errno, "create a temporary file in '%s'",
					    o->tmpdir);
	}
	if (parts < jobs)
		jobs = (unsigned)parts;
	for (unsigned i = 0; !rc && i < jobs; i++) {
		int e = pthread_create(&pf->t[i], NULL, worker, pf);

		if (e)
			rc = rv_error_errno(RV_EFAIL, e, "start a download thread");
		else
			pf->nt++;
	}
	if (rc) {
		rv_pfetch_free(pf);
		return rc;
	}
	*out = pf;
	return 0;
}

/* Under mu: wait until object i has `need` bytes, or fail. */
static int wait_for(struct rv_pfetch *pf, size_t i, uint64_t need)
{
	struct pobj *o = &pf->o[i];

	while (ready_bytes(pf, o) < need) {
		if (pf->err)
			return rv_error(pf->err, "%s", pf->errmsg);
		if (o->fd == -1)
			return rv_error(RV_EFAIL, "download of '%s' already dropped", o->key);
		pthread_cond_wait(&pf->cv, &pf->mu);
	}
	return 0;
}

ssize_t rv_pfetch_read(struct rv_pfetch *pf, size_t i, uint64_t off, void *p, size_t n)
{
	struct pobj *o = &pf->o[i];
	uint64_t end;
	int fd, rc;

	if (off >= o->size || n == 0)
		return 0;
	end = o->size - off < n ? o->size : off + n;
	pthread_mutex_lock(&pf->mu);
	/* Whatever part is here already will do: wait for one more byte only. */
	rc = wait_for(pf, i, off + 1);
	if (!rc) {
		uint64_t have = ready_bytes(pf, o);

		if (have < end)
			end = have;
	}
	fd = o->fd;
	pthread_mutex_unlock(&pf->mu);
	if (rc)
		return rc;
	for (;;) {
		ssize_t got = pread(fd, p, (size_t)(end - off), (off_t)off);

		if (got >= 0)
			return got;
		if (errno != EINTR)
			return rv_error_errno(RV_EFAIL, errno, "read the download of '%s'", o->key);
	}
}

int rv_pfetch_wait(struct rv_pfetch *pf, size_t i, int *fd)
{
	int rc;

	pthread_mutex_lock(&pf->mu);
	rc = wait_for(pf, i, pf->o[i].size);
	*fd = pf->o[i].fd;
	pthread_mutex_unlock(&pf->mu);
	return rc;
}

void rv_pfetch_drop(struct rv_pfetch *pf, size_t i)
{
	pthread_mutex_lock(&pf->mu);
	if (pf->o[i].fd != -1) {
		close(pf->o[i].fd);
		pf->o[i].fd = -1;
	}
	pthread_cond_broadcast(&pf->cv);
	pthread_mutex_unlock(&pf->mu);
}

uint64_t rv_pfetch_bytes(struct rv_pfetch *pf)
{
	uint64_t b;

	pthread_mutex_lock(&pf->mu);
	b = pf->bytes;
	pthread_mutex_unlock(&pf->mu);
	return b;
}

void rv_pfetch_free(struct rv_pfetch *pf)
{
	if (!pf)
		return;
	pthread_mutex_lock(&pf->mu);
	pf->stop = true;
	pthread_cond_broadcast(&pf->cv);
	pthread_mutex_unlock(&pf->mu);
	for (unsigned i = 0; i < pf->nt; i++)
		pthread_join(pf->t[i], NULL);
	for (size_t i = 0; i < pf->n; i++) {
		if (pf->o[i].fd != -1)
			close(pf->o[i].fd);
		free(pf->o[i].key);
		free(pf->o[i].done);
	}
	free(pf->o);
	pthread_mutex_destroy(&pf->mu);
	pthread_cond_destroy(&pf->cv);
	free(pf);
}
