/* replicate_worker.c - the upload workers of replicate: read, hash and
 * upload one path at a time (see replicate_int.h). */
#include "engine/replicate_int.h"
#include "engine/replicate_state.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/retry.h"
#include "core/util.h"
#include "metrics/metrics.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CHUNK	    (64u << 10)
#define BACKOFF_MAX 30000

void rv_rjob_free(struct rjob *j)
{
	if (!j)
		return;
	free(j->path);
	rv_centry_release(&j->e);
	free(j);
}

/* Openat2 refuses symlinks anywhere in the path and anything that would
 * leave the folder; older kernels fall back to O_NOFOLLOW on the last
 * component (the watcher and the scanner never descend into links). */
static int open_beneath(int root_fd, const char *rel)
{
	int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
#ifdef SYS_openat2
	struct open_how how = {.flags = (uint64_t)flags,
			       .resolve =
				   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	long fd = syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));

	if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
		return (int)fd;
#endif
	return openat(root_fd, rel, flags);
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void sleep_unless_shutdown(long ms)
{
	for (long t = 0; t < ms && !rv_shutdown_requested(); t += 100)
		rv_sleep_ms(ms - t < 100 ? ms - t : 100);
}

static int upload_once(struct rv_store *st, const char *key, const struct rv_buf *mem, int tmp_fd,
		       uint64_t size, uint64_t *sent)
{
	struct rv_obj_info info = {0};
	struct rv_put_opts po = {0};
	int rc;

	*sent = 0;
	/* A small blob (read into memory, at most 1 MiB: almost every Ghost
	 * image) is put without asking first.  The name is the hash of the bytes,
	 * so rewriting an existing blob changes nothing (and repairs a damaged
	 * one), and one PUT costs the server less than a HEAD plus a PUT: it
	 * halves the requests of an initial sync. */
	if (mem) {
		po.cond = RV_PUT_ALWAYS;
		rc = rv_store_put_buf(st, key, mem->data ? mem->data : "", mem->len, &po);
		if (!rc)
			*sent = size;
		return rc;
	}
	rc = rv_store_head(st, key, &info);
	if (!rc && info.size == size) {
		rv_obj_info_release(&info);
		return 0; /* content-addressed: the same name is the same bytes */
	}
	rv_obj_info_release(&info);
	if (rc && rc != RV_ENOTFOUND)
		return rc;
	/* A blob of the wrong size under this name is damage: replace it. */
	po.cond = !rc || !rv_store_caps(st)->put_if_absent ? RV_PUT_ALWAYS : RV_PUT_IF_ABSENT;
	rc = rv_store_put_fd(st, key, tmp_fd, size, &po);
	if (rc == RV_EPRECOND)
		return 0; /* another writer put the same bytes first */
	if (!rc)
		*sent = size;
	return rc;
}

static int upload(struct rv_store *st, struct rv_metrics *m, const char *path, const char *key,
		  const struct rv_buf *mem, int tmp_fd, uint64_t size, uint64_t *sent)
{
	long backoff = 500;

	for (;;) {
		int rc = upload_once(st, key, mem, tmp_fd, size, sent);

		if (!rc)
			return 0;
		if (rc == RV_EINTR || rv_shutdown_requested())
			return RV_EINTR;
		rv_metrics_error(m, "upload");
		rv_log(RV_LOG_WARN, "blob upload failed, retrying", "path", path, "error",
		       rv_errmsg(), NULL);
		sleep_unless_shutdown(backoff);
		backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
	}
}

static void read_file(struct rv_store *st, int root_fd, struct rv_metrics *m, struct rjob *j,
		      const struct stat *st0)
{
	struct rv_buf mem = RV_BUF_INIT(RV_REPLICATE_MEM_MAX);
	unsigned char sha[RV_SHA256_LEN];
	char key[RV_BLOB_KEY_LEN];
	struct stat st1, st2;
	EVP_MD_CTX *md = NULL;
	uint64_t total = 0;
	char *chunk = NULL;
	int fd, tmp = -1;
	bool in_mem;

	fd = open_beneath(root_fd, j->path);
	if (fd == -1) {
		/* ELOOP/EXDEV: a symlink on the way (a parent replaced by a link
		 * leading out of the folder): not content.  A link that replaced
		 * the file itself comes with its own event. */
		if (errno == ENOENT || errno == ELOOP || errno == EXDEV || errno == ENOTDIR) {
			j->res = RJ_GONE;
			return;
		}
		j->res = RJ_UNREADABLE;
		j->err = errno;
		return;
	}
	if (fstat(fd, &st1) == -1 || !S_ISREG(st1.st_mode) || st1.st_ino != st0->st_ino) {
		close(fd);
		j->res = RJ_CHANGED;
		return;
	}
	in_mem = (uint64_t)st1.st_size <= RV_REPLICATE_MEM_MAX;
	if (!in_mem && rv_tmpfile(&tmp)) {
		rv_log(RV_LOG_WARN, "cannot stage a large file", "path", j->path, "error",
		       rv_errmsg(), NULL);
		close(fd);
		j->res = RJ_UNREADABLE;
		j->err = EIO;
		return;
	}
	md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		abort();
	chunk = rv_malloc(CHUNK);
	for (;;) {
		ssize_t n = read(fd, chunk, CHUNK);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			j->res = RJ_UNREADABLE;
			j->err = errno;
			goto out;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > (uint64_t)st1.st_size) {
			j->res = RJ_CHANGED; /* grew while read */
			goto out;
		}
		EVP_DigestUpdate(md, chunk, (size_t)n);
		if (in_mem ? rv_buf_add(&mem, chunk, (size_t)n) != 0
			   : rv_write_all(tmp, chunk, (size_t)n) != 0) {
			j->res = in_mem ? RJ_CHANGED : RJ_UNREADABLE;
			j->err = errno;
			goto out;
		}
	}
	/* Shipped only if nothing about it moved while it was read. */
	if (fstat(fd, &st2) == -1 || !same_file(&st1, &st2) || total != (uint64_t)st1.st_size) {
		j->res = RJ_CHANGED;
		goto out;
	}
	EVP_DigestFinal_ex(md, sha, NULL);
	rv_content_blob_key(key, sha);
	if (upload(st, m, j->path, key, in_mem ? &mem : NULL, tmp, total, &j->uploaded)) {
		j->res = RJ_ABORTED;
		goto out;
	}
	j->res = RJ_RECORD;
	j->e.type = RV_CE_FILE;
	j->e.path = rv_strdup(j->path);
	j->e.size = total;
	j->e.mode = st1.st_mode & 07777;
	j->e.mtime_ns = mtime_ns(&st1);
	memcpy(j->e.sha256, sha, sizeof(sha));
out:
	EVP_MD_CTX_free(md);
	free(chunk);
	rv_buf_release(&mem);
	if (tmp >= 0)
		close(tmp);
	close(fd);
}

void rv_replicate_read_path(struct rv_store *st, int root_fd, struct rv_metrics *m, struct rjob *j)
{
	struct stat st0;

	j->res = RJ_GONE;
	j->uploaded = 0;
	if (fstatat(root_fd, j->path, &st0, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT || errno == ENOTDIR) {
			j->res = RJ_GONE;
		} else {
			j->res = RJ_UNREADABLE;
			j->err = errno;
		}
		return;
	}
	if (S_ISREG(st0.st_mode)) {
		read_file(st, root_fd, m, j, &st0);
	} else if (S_ISDIR(st0.st_mode)) {
		j->res = RJ_RECORD;
		j->e.type = RV_CE_DIR;
		j->e.path = rv_strdup(j->path);
		j->e.mode = st0.st_mode & 07777;
		j->e.mtime_ns = mtime_ns(&st0);
	} else if (S_ISLNK(st0.st_mode)) {
		char *t = rv_malloc(RV_CPATH_MAX + 1);
		ssize_t n = readlinkat(root_fd, j->path, t, RV_CPATH_MAX);

		if (n <= 0 || n == RV_CPATH_MAX) {
			j->res = n == -1 && errno == ENOENT ? RJ_GONE : RJ_UNREADABLE;
			j->err = n == -1 ? errno : ENAMETOOLONG;
			free(t);
			return;
		}
		t[n] = '\0';
		j->res = RJ_RECORD;
		j->e.type = RV_CE_LINK;
		j->e.path = rv_strdup(j->path);
		j->e.mtime_ns = mtime_ns(&st0);
		j->e.target = t;
	}
	/* sockets, fifos, devices: not content (RJ_GONE) */
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
			j->res = RJ_ABORTED;
		else
			rv_replicate_read_path(p->st, p->root_fd, p->metrics, j);

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

int rv_rpool_start(struct rpool *p, unsigned n, struct rv_store *st, int root_fd,
		   struct rv_metrics *metrics, int wake_fd)
{
	memset(p, 0, sizeof(*p));
	p->st = st;
	p->root_fd = root_fd;
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
