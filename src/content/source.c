/* source.c - Ghost's content folder as a content source (source.h): the
 * recursive inotify watcher (watch.c), the sorted walk (scan.c), and the
 * reading of one path, hashed while read and put as a blob. */
#include "content/source.h"
#include "content/scan.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/retry.h"
#include "core/util.h"
#include "format/layout.h"
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

struct folder {
	const struct rv_content_opts *o;
	int root_fd;
	struct rv_watch *w;
};

void rv_csrc_read_release(struct rv_csrc_read *r)
{
	rv_centry_release(&r->e);
	memset(r, 0, sizeof(*r));
}

/* ---- reading one path ----------------------------------------------------- */

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

static void read_file(struct rv_store *st, int root_fd, struct rv_metrics *m, const char *path,
		      struct rv_csrc_read *j, const struct stat *st0)
{
	struct rv_buf mem = RV_BUF_INIT(RV_CSRC_MEM_MAX);
	unsigned char sha[RV_SHA256_LEN];
	char key[RV_BLOB_KEY_LEN];
	const unsigned char *name_key;
	struct stat st1, st2;
	EVP_MD_CTX *md = NULL;
	uint64_t total = 0;
	char *chunk = NULL;
	int fd, tmp = -1;
	bool in_mem;

	fd = open_beneath(root_fd, path);
	if (fd == -1) {
		/* ELOOP/EXDEV: a symlink on the way (a parent replaced by a link
		 * leading out of the folder): not content.  A link that replaced
		 * the file itself comes with its own event. */
		if (errno == ENOENT || errno == ELOOP || errno == EXDEV || errno == ENOTDIR) {
			j->res = RV_CSRC_GONE;
			return;
		}
		j->res = RV_CSRC_UNREADABLE;
		j->err = errno;
		return;
	}
	if (fstat(fd, &st1) == -1 || !S_ISREG(st1.st_mode) || st1.st_ino != st0->st_ino) {
		close(fd);
		j->res = RV_CSRC_CHANGED;
		return;
	}
	in_mem = (uint64_t)st1.st_size <= RV_CSRC_MEM_MAX;
	if (!in_mem && rv_tmpfile(&tmp)) {
		rv_log(RV_LOG_WARN, "cannot stage a large file", "path", path, "error", rv_errmsg(),
		       NULL);
		close(fd);
		j->res = RV_CSRC_UNREADABLE;
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
			j->res = RV_CSRC_UNREADABLE;
			j->err = errno;
			goto out;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > (uint64_t)st1.st_size) {
			j->res = RV_CSRC_CHANGED; /* grew while read */
			goto out;
		}
		EVP_DigestUpdate(md, chunk, (size_t)n);
		if (in_mem ? rv_buf_add(&mem, chunk, (size_t)n) != 0
			   : rv_write_all(tmp, chunk, (size_t)n) != 0) {
			j->res = in_mem ? RV_CSRC_CHANGED : RV_CSRC_UNREADABLE;
			j->err = errno;
			goto out;
		}
	}
	/* Shipped only if nothing about it moved while it was read. */
	if (fstat(fd, &st2) == -1 || !same_file(&st1, &st2) || total != (uint64_t)st1.st_size) {
		j->res = RV_CSRC_CHANGED;
		goto out;
	}
	EVP_DigestFinal_ex(md, sha, NULL);
	if (rv_store_name_key(st, &name_key)) {
		rv_log(RV_LOG_ERROR, "cannot name the blob", "path", path, "error", rv_errmsg(),
		       NULL);
		j->res = RV_CSRC_ABORTED;
		goto out;
	}
	rv_content_blob_key(key, sha, name_key);
	if (upload(st, m, path, key, in_mem ? &mem : NULL, tmp, total, &j->uploaded)) {
		j->res = RV_CSRC_ABORTED;
		goto out;
	}
	j->res = RV_CSRC_RECORD;
	j->e.type = RV_CE_FILE;
	j->e.path = rv_strdup(path);
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

static void read_path(struct rv_store *st, int root_fd, struct rv_metrics *m, const char *path,
		      struct rv_csrc_read *j)
{
	struct stat st0;

	j->res = RV_CSRC_GONE;
	j->uploaded = 0;
	if (fstatat(root_fd, path, &st0, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT || errno == ENOTDIR) {
			j->res = RV_CSRC_GONE;
		} else {
			j->res = RV_CSRC_UNREADABLE;
			j->err = errno;
		}
		return;
	}
	if (S_ISREG(st0.st_mode)) {
		read_file(st, root_fd, m, path, j, &st0);
	} else if (S_ISDIR(st0.st_mode)) {
		j->res = RV_CSRC_RECORD;
		j->e.type = RV_CE_DIR;
		j->e.path = rv_strdup(path);
		j->e.mode = st0.st_mode & 07777;
		j->e.mtime_ns = mtime_ns(&st0);
	} else if (S_ISLNK(st0.st_mode)) {
		char *t = rv_malloc(RV_CPATH_MAX + 1);
		ssize_t n = readlinkat(root_fd, path, t, RV_CPATH_MAX);

		if (n <= 0 || n == RV_CPATH_MAX) {
			j->res = n == -1 && errno == ENOENT ? RV_CSRC_GONE : RV_CSRC_UNREADABLE;
			j->err = n == -1 ? errno : ENAMETOOLONG;
			free(t);
			return;
		}
		t[n] = '\0';
		j->res = RV_CSRC_RECORD;
		j->e.type = RV_CE_LINK;
		j->e.path = rv_strdup(path);
		j->e.mtime_ns = mtime_ns(&st0);
		j->e.target = t;
	}
	/* sockets, fifos, devices: not content (RV_CSRC_GONE) */
}

/* ---- the ops -------------------------------------------------------------- */

static int open_folder(const char *root, int *fd_out)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	*fd_out = -1;
	if (fd == -1) {
		int e = errno;

		if (e == ENOENT)
			return rv_error(RV_ENOTFOUND,
					"content folder '%s' does not exist — check content.path",
					root);
		if (e == EACCES || e == EPERM)
			return rv_error(RV_EAUTH,
					"cannot read content folder '%s': %s — run as a user that "
					"can read it",
					root, strerror(e));
		if (e == ENOTDIR)
			return rv_error(RV_EUSAGE, "content folder '%s' is not a folder", root);
		return rv_error_errno(RV_EFAIL, e, "cannot open content folder '%s'", root);
	}
	if (faccessat(fd, ".", R_OK | X_OK, 0) == -1) {
		int e = errno;

		close(fd);
		return rv_error(RV_EAUTH,
				"cannot read content folder '%s': %s — run as a user that can "
				"read it",
				root, strerror(e));
	}
	*fd_out = fd;
	return 0;
}

static int f_open(void **h, const struct rv_content_opts *o)
{
	struct folder *f;
	int fd, rc;

	*h = NULL;
	if ((rc = rv_content_opts_check(o)))
		return rc;
	if ((rc = open_folder(o->root, &fd)))
		return rc;
	f = rv_calloc(1, sizeof(*f));
	f->o = o;
	f->root_fd = fd;
	*h = f;
	return 0;
}

static void f_close(void *h)
{
	struct folder *f = h;

	if (!f)
		return;
	rv_watch_free(f->w);
	close(f->root_fd);
	free(f);
}

static int f_watch_start(void *h, int wake_fd)
{
	struct folder *f = h;
	int rc;

	if ((rc = rv_watch_open(&f->w, f->o)))
		return rc;
	rv_watch_notify(f->w, wake_fd);
	return 0;
}

static int f_watch_run(void *h)
{
	return rv_watch_run(((struct folder *)h)->w);
}

static void f_watch_stop(void *h)
{
	struct folder *f = h;

	if (f->w)
		rv_watch_stop(f->w);
}

static int64_t f_watch_next_ready(void *h)
{
	struct folder *f = h;

	return f->w ? rv_watch_next_ready(f->w) : INT64_MAX;
}

static int f_watch_pop(void *h, struct rv_watch_event *ev)
{
	return rv_watch_pop(((struct folder *)h)->w, ev, 0);
}

static void f_watch_stats(void *h, struct rv_watch_stats *st)
{
	struct folder *f = h;

	memset(st, 0, sizeof(*st));
	if (f->w)
		rv_watch_get_stats(f->w, st);
}

static int f_scan_open(void *h, void **it)
{
	struct folder *f = h;
	struct rv_scan *s;
	int rc = rv_scan_open(&s, f->o);

	*it = rc ? NULL : s;
	return rc;
}

static int f_scan_next(void *it, const struct rv_centry **e)
{
	return rv_scan_next(it, e);
}

static void f_scan_close(void *it)
{
	rv_scan_free(it);
}

static bool f_present(void *h, const char *path)
{
	struct folder *f = h;
	struct stat st;

	return fstatat(f->root_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void f_read(void *h, struct rv_store *st, struct rv_metrics *m, const char *path,
		   struct rv_csrc_read *out)
{
	struct folder *f = h;

	memset(out, 0, sizeof(*out));
	read_path(st, f->root_fd, m, path, out);
}

const struct rv_csrc_ops rv_csrc_folder = {
    .name = "folder",
    .open = f_open,
    .close = f_close,
    .watch_start = f_watch_start,
    .watch_run = f_watch_run,
    .watch_stop = f_watch_stop,
    .watch_next_ready = f_watch_next_ready,
    .watch_pop = f_watch_pop,
    .watch_stats = f_watch_stats,
    .scan_open = f_scan_open,
    .scan_next = f_scan_next,
    .scan_close = f_scan_close,
    .present = f_present,
    .read = f_read,
};
