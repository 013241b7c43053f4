/* file.c - the local-folder store backend (file:///abs/path).
 *
 * A key is a file under the root folder, its '/' segments folders.  A put
 * writes a temporary file next to the final name, fsyncs it and then makes
 * it visible in one step (rename, or renameat2/link for "if absent"), so a
 * crash never leaves a partial object under its final name.  Names starting
 * with ".rv-" are the backend's own (temporaries, the lock file): list skips
 * them and keys may not use them.
 *
 * Concurrency: "if match" must compare and replace as one step, so it holds
 * the store lock (a mutex for the threads of this process and an flock on
 * ROOT/.rv-lock for other processes) around the compare and the rename.
 * Unconditional puts and deletes take the same lock around their rename or
 * unlink so that they cannot slip between that compare and that rename.
 * "If absent" needs no lock: the kernel refuses an existing name atomically. */
#include "store/store.h"
#include "core/mem.h"
#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define RESERVED_PREFIX ".rv-"
#define TMP_PREFIX	".rv-tmp."
#define LOCK_NAME	".rv-lock"
#define COPY_CHUNK	(128u << 10)
/* A folder pruned by a concurrent delete between our mkdir and our create
 * is retried; more than a few rounds means something else is wrong. */
#define MKDIR_RETRIES 8

struct file_store {
	char *root;
	pthread_mutex_t lock_mu;
	int lock_fd; /* -1 until the first mutation */
};

static struct file_store *fs_of(struct rv_store *s)
{
	return s->impl;
}

static char *obj_path(const struct file_store *fs, const char *key)
{
	/* "/" as the root must not give "//key". */
	return rv_asprintf("%s/%s", strcmp(fs->root, "/") ? fs->root : "", key);
}

/* Map an errno from a mutation to a result code with an actionable line. */
static int io_error(const struct file_store *fs, int err, const char *what, const char *key)
{
	if (err == EACCES || err == EPERM || err == EROFS)
		return rv_error(RV_EAUTH,
				"file store: cannot %s '%s': %s — check that store folder '%s' is "
				"writable by this user",
				what, key, strerror(err), fs->root);
	if (err == ENOTDIR || err == EISDIR || err == EEXIST)
		return rv_error(RV_EFAIL,
				"file store: cannot %s '%s': %s — a key and a folder of keys with "
				"the same name cannot both exist in a file store",
				what, key, strerror(err));
	return rv_error(RV_EFAIL, "file store: cannot %s '%s' in '%s': %s", what, key, fs->root,
			strerror(err));
}

static int check_key(const char *key)
{
	const char *p = key;

	for (;;) {
		if (rv_str_startswith(p, RESERVED_PREFIX))
			return rv_error(RV_EUSAGE,
					"object key '%s' uses the prefix '" RESERVED_PREFIX
					"' that file stores reserve for their own files",
					key);
		p = strchr(p, '/');
		if (!p)
			return 0;
		p++;
	}
}

static void etag_of(const struct stat *st, char out[80])
{
	snprintf(out, 80, "%llx-%llx-%llx%09lx", (unsigned long long)st->st_ino,
		 (unsigned long long)st->st_size, (unsigned long long)st->st_mtim.tv_sec,
		 (unsigned long)st->st_mtim.tv_nsec);
}

static void info_fill(struct rv_obj_info *out, const char *key, const struct stat *st)
{
	out->key = rv_strdup(key);
	out->size = (uint64_t)st->st_size;
	out->mtime_ms = (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
	etag_of(st, out->etag);
}

static int fsync_path(const char *path)
{
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return rv_error_errno(RV_EFAIL, errno, "file store: open folder '%s' to sync it",
				      path);
	while (fsync(fd) == -1) {
		if (errno != EINTR) {
			rc = rv_error_errno(RV_EFAIL, errno, "file store: fsync folder '%s'", path);
			break;
		}
	}
	close(fd);
	return rc;
}

/* Lock against other writers of this store (threads and processes). */
static int store_lock(struct file_store *fs)
{
	pthread_mutex_lock(&fs->lock_mu);
	if (fs->lock_fd == -1) {
		char *p = obj_path(fs, LOCK_NAME);
		fs->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fs->lock_fd == -1) {
			int err = errno;
			free(p);
			pthread_mutex_unlock(&fs->lock_mu);
			return io_error(fs, err, "create the lock file", LOCK_NAME);
		}
		free(p);
	}
	while (flock(fs->lock_fd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			int err = errno;
			pthread_mutex_unlock(&fs->lock_mu);
			return rv_error_errno(RV_EFAIL, err, "file store: lock '%s/" LOCK_NAME "'",
					      fs->root);
		}
	}
	return 0;
}

static void store_unlock(struct file_store *fs)
{
	flock(fs->lock_fd, LOCK_UN);
	pthread_mutex_unlock(&fs->lock_mu);
}

/* mkdir -p for the folders of `key` below the root.  A concurrent delete
 * may prune a folder we just saw or made (ENOENT one level down): start
 * again from the top, a bounded number of times. */
static int make_parents(struct file_store *fs, const char *key, bool sync)
{
	char *path = obj_path(fs, key);
	char *start = path + strlen(path) - strlen(key), *p = start;
	int rc = 0, restarts = 0;

	while ((p = strchr(p, '/')) != NULL) {
		*p = '\0';
		if (mkdir(path, 0700) == 0) {
			/* The new folder's name lives in its parent. */
			if (sync) {
				char *slash = strrchr(path, '/');
				*slash = '\0';
				rc = fsync_path(*path ? path : "/");
				*slash = '/';
				if (rc)
					break;
			}
		} else if (errno == ENOENT && restarts++ < MKDIR_RETRIES) {
			*p = '/';
			p = start;
			continue;
		} else if (errno != EEXIST) {
			rc = io_error(fs, errno, "create the folder for", key);
			break;
		}
		*p++ = '/';
	}
	free(path);
	return rc;
}

/* A temporary beside the final name; the name starts with TMP_PREFIX so
 * that list never shows it. */
struct tmpfile {
	char *final;
	char *dir;
	char *tmp;
	int fd;
};

static void tmpfile_release(struct tmpfile *t, bool unlink_tmp)
{
	if (t->fd != -1)
		close(t->fd);
	if (unlink_tmp && t->tmp)
		unlink(t->tmp);
	free(t->final);
	free(t->dir);
	free(t->tmp);
	t->final = t->dir = t->tmp = NULL;
	t->fd = -1;
}

static int tmpfile_open(struct file_store *fs, const char *key, bool sync, struct tmpfile *t)
{
	unsigned char rnd[8];
	char hex[17];
	char *slash;
	int rc;

	t->final = obj_path(fs, key);
	t->dir = rv_strdup(t->final);
	slash = strrchr(t->dir, '/');
	slash[slash == t->dir ? 1 : 0] = '\0';
	t->tmp = NULL;
	t->fd = -1;
	for (int attempt = 0; attempt < MKDIR_RETRIES; attempt++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return rv_error_errno(RV_EFAIL, errno, "getrandom");
		rv_hex(hex, rnd, sizeof(rnd));
		free(t->tmp);
		t->tmp = rv_asprintf("%s/" TMP_PREFIX "%s", strcmp(t->dir, "/") ? t->dir : "", hex);
		t->fd = open(t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (t->fd != -1)
			return 0;
		if (errno == EEXIST)
			continue;
		if (errno != ENOENT)
			return io_error(fs, errno, "create a temporary file for", key);
		/* The folder is missing: first put there, or a delete pruned it. */
		rc = make_parents(fs, key, sync);
		if (rc)
			return rc;
	}
	return rv_error(RV_EFAIL, "file store: cannot create a temporary file for '%s' in '%s'",
			key, t->dir);
}

static int write_all(int fd, const void *p, size_t n, const char *key)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return rv_error_errno(RV_EFAIL, errno, "file store: write '%s'", key);
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int short_input(const char *key, uint64_t want, uint64_t got)
{
	return rv_error(RV_ECORRUPT,
			"put '%s': the input ended after %llu of %llu bytes (did it change while "
			"being read?)",
			key, (unsigned long long)got, (unsigned long long)want);
}

/* Copy from a regular file with pread semantics (offset 0, fd offset kept). */
static int copy_regular(int in, uint64_t want, int out, const char *key)
{
	loff_t off = 0;
	char *buf = NULL;
	int rc = 0;

	while ((uint64_t)off < want) {
		size_t chunk =
		    want - (uint64_t)off > (1u << 30) ? (1u << 30) : (size_t)(want - (uint64_t)off);
		ssize_t n = copy_file_range(in, &off, out, NULL, chunk, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
				errno == EOPNOTSUPP || errno == EBADF))
			break; /* not supported here: plain pread below */
		if (n == -1)
			return rv_error_errno(RV_EFAIL, errno, "file store: copy into '%s'", key);
		if (n == 0)
			return short_input(key, want, (uint64_t)off);
	}
	while (!rc && (uint64_t)off < want) {
		size_t chunk =
		    want - (uint64_t)off > COPY_CHUNK ? COPY_CHUNK : (size_t)(want - (uint64_t)off);
		ssize_t n;
		if (!buf)
			buf = rv_malloc(COPY_CHUNK);
		n = pread(in, buf, chunk, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			rc = rv_error_errno(RV_EFAIL, errno, "put '%s': read the input", key);
		else if (n == 0)
			rc = short_input(key, want, (uint64_t)off);
		else
			rc = write_all(out, buf, (size_t)n, key);
		off += n > 0 ? n : 0;
	}
	free(buf);
	return rc;
}

/* Copy a stream (pipe, socket) from its current offset, or a put_src. */
static int copy_stream(int in, const struct rv_put_src *src, uint64_t want, int out,
		       const char *key)
{
	char *buf = rv_malloc(COPY_CHUNK);
	uint64_t got = 0;
	int rc = 0;

	while (!rc && got < want) {
		size_t chunk = want - got > COPY_CHUNK ? COPY_CHUNK : (size_t)(want - got);
		ssize_t n = src ? src->read(src->ud, buf, chunk) : read(in, buf, chunk);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = rv_error_errno(RV_EFAIL, errno, "put '%s': read the input", key);
		} else if (n == 0) {
			if (want != UINT64_MAX)
				rc = short_input(key, want, got);
			break;
		} else {
			rc = write_all(out, buf, (size_t)n, key);
			got += (uint64_t)n;
		}
	}
	free(buf);
	return rc;
}

/* Make the written temporary visible under its final name as `po` asks. */
static int commit(struct file_store *fs, const char *key, struct tmpfile *t, struct rv_put_opts *po,
		  bool sync)
{
	enum rv_put_cond cond = po ? po->cond : RV_PUT_ALWAYS;
	struct stat st;
	char etag[80];
	int rc = 0;

	while (sync && fsync(t->fd) == -1) {
		if (errno != EINTR)
			return rv_error_errno(RV_EFAIL, errno, "file store: fsync '%s'", key);
	}
	if (fstat(t->fd, &st) == -1)
		return rv_error_errno(RV_EFAIL, errno, "file store: stat '%s'", key);
	etag_of(&st, etag);

	if (cond == RV_PUT_IF_ABSENT) {
		if (renameat2(AT_FDCWD, t->tmp, AT_FDCWD, t->final, RENAME_NOREPLACE) == 0) {
			free(t->tmp);
			t->tmp = NULL;
		} else if (errno == EEXIST) {
			return rv_error(RV_EPRECOND, "object '%s' already exists", key);
		} else if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
			/* No RENAME_NOREPLACE on this filesystem: link() refuses an
			 * existing name just as atomically. */
			if (link(t->tmp, t->final) == -1) {
				if (errno == EEXIST)
					return rv_error(RV_EPRECOND, "object '%s' already exists",
							key);
				return io_error(fs, errno, "publish", key);
			}
		} else {
			return io_error(fs, errno, "publish", key);
		}
	} else {
		rc = store_lock(fs);
		if (rc)
			return rc;
		if (cond == RV_PUT_IF_MATCH) {
			struct stat cur;
			char cur_etag[80];
			if (stat(t->final, &cur) == -1 || !S_ISREG(cur.st_mode)) {
				store_unlock(fs);
				return rv_error(
				    RV_EPRECOND,
				    "object '%s' does not exist (conditional put on etag "
				    "'%s')",
				    key, po->if_match);
			}
			etag_of(&cur, cur_etag);
			if (strcmp(cur_etag, po->if_match)) {
				store_unlock(fs);
				return rv_error(RV_EPRECOND,
						"object '%s' changed: etag is '%s', expected '%s'",
						key, cur_etag, po->if_match);
			}
		}
		if (rename(t->tmp, t->final) == -1) {
			int err = errno;
			store_unlock(fs);
			return io_error(fs, err, "publish", key);
		}
		store_unlock(fs);
		free(t->tmp);
		t->tmp = NULL;
	}
	if (sync) {
		rc = fsync_path(t->dir);
		if (rc)
			return rc;
	}
	if (po)
		memcpy(po->etag_out, etag, sizeof(etag));
	return 0;
}

static int file_put_fd(struct rv_store *s, const char *key, int fd, uint64_t size,
		       struct rv_put_opts *po)
{
	struct file_store *fs = fs_of(s);
	struct tmpfile t = {NULL, NULL, NULL, -1};
	struct stat st;
	int rc = check_key(key);

	if (rc)
		return rc;
	if (fstat(fd, &st) == -1)
		return rv_error_errno(RV_EFAIL, errno, "put '%s': stat the input", key);
	rc = tmpfile_open(fs, key, s->opts.fsync, &t);
	if (!rc) {
		if (S_ISREG(st.st_mode)) {
			uint64_t want = size == UINT64_MAX ? (uint64_t)st.st_size : size;
			rc = copy_regular(fd, want, t.fd, key);
		} else {
			rc = copy_stream(fd, NULL, size, t.fd, key);
		}
	}
	if (!rc)
		rc = commit(fs, key, &t, po, s->opts.fsync);
	tmpfile_release(&t, true);
	return rc;
}

static int file_put_src(struct rv_store *s, const char *key, const struct rv_put_src *src,
			uint64_t size, struct rv_put_opts *po)
{
	struct file_store *fs = fs_of(s);
	struct tmpfile t = {NULL, NULL, NULL, -1};
	int rc = check_key(key);

	if (rc)
		return rc;
	rc = tmpfile_open(fs, key, s->opts.fsync, &t);
	if (!rc)
		rc = copy_stream(-1, src, size, t.fd, key);
	if (!rc)
		rc = commit(fs, key, &t, po, s->opts.fsync);
	tmpfile_release(&t, true);
	return rc;
}

static int file_put_buf(struct rv_store *s, const char *key, const void *data, size_t len,
			struct rv_put_opts *po)
{
	struct file_store *fs = fs_of(s);
	struct tmpfile t = {NULL, NULL, NULL, -1};
	int rc = check_key(key);
	bool sync = s->opts.fsync && !(po && po->volatile_ok);

	if (rc)
		return rc;
	rc = tmpfile_open(fs, key, sync, &t);
	if (!rc)
		rc = write_all(t.fd, data, len, key);
	if (!rc)
		rc = commit(fs, key, &t, po, sync);
	tmpfile_release(&t, true);
	return rc;
}

static int not_found(const struct rv_store *s, const char *key)
{
	return rv_error(RV_ENOTFOUND, "no object '%s' in %s", key, s->describe);
}

static int file_head(struct rv_store *s, const char *key, struct rv_obj_info *out)
{
	struct stat st;
	char *p;
	int rc = check_key(key), err;

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	p = obj_path(fs_of(s), key);
	rc = stat(p, &st);
	err = errno;
	free(p);
	if (rc == -1 && (err == ENOENT || err == ENOTDIR))
		return not_found(s, key);
	if (rc == -1)
		return rv_error(err == EACCES ? RV_EAUTH : RV_EFAIL, "file store: stat '%s': %s",
				key, strerror(err));
	if (!S_ISREG(st.st_mode))
		return not_found(s, key);
	info_fill(out, key, &st);
	return 0;
}

/* Write [off, off+len) of `in` to `out` at out's offset. */
static int send_range(int in, int out, uint64_t off, uint64_t len, const char *key)
{
	off_t pos = (off_t)off;
	uint64_t end = off + len;
	char *buf = NULL;
	int rc = 0;

	while ((uint64_t)pos < end) {
		size_t chunk =
		    end - (uint64_t)pos > (1u << 30) ? (1u << 30) : (size_t)(end - (uint64_t)pos);
		ssize_t n = sendfile(out, in, &pos, chunk);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EINVAL || errno == ENOSYS))
			break; /* e.g. an O_APPEND target: plain copy below */
		if (n == -1)
			return rv_error_errno(RV_EFAIL, errno, "get '%s': write the output", key);
		if (n == 0)
			return rv_error(RV_ECORRUPT, "get '%s': object shrank while being read",
					key);
	}
	while (!rc && (uint64_t)pos < end) {
		size_t chunk =
		    end - (uint64_t)pos > COPY_CHUNK ? COPY_CHUNK : (size_t)(end - (uint64_t)pos);
		ssize_t n;
		if (!buf)
			buf = rv_malloc(COPY_CHUNK);
		n = pread(in, buf, chunk, pos);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = rv_error_errno(RV_EFAIL, errno, "file store: read '%s'", key);
		} else if (n == 0) {
			rc = rv_error(RV_ECORRUPT, "get '%s': object shrank while being read", key);
		} else if (rv_write_all(out, buf, (size_t)n)) {
			rc = rv_error(RV_EFAIL, "get '%s': write the output: %s", key, rv_errmsg());
		}
		pos += n > 0 ? n : 0;
	}
	free(buf);
	return rc;
}

static int file_get_fd(struct rv_store *s, const char *key, int fd, uint64_t off, uint64_t len,
		       struct rv_obj_info *info_out)
{
	struct stat st;
	uint64_t size;
	char *p;
	int in, rc = check_key(key);

	if (info_out)
		memset(info_out, 0, sizeof(*info_out));
	if (rc)
		return rc;
	p = obj_path(fs_of(s), key);
	in = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	if (in == -1 && (errno == ENOENT || errno == ENOTDIR || errno == EISDIR))
		return not_found(s, key);
	if (in == -1)
		return rv_error(errno == EACCES ? RV_EAUTH : RV_EFAIL, "file store: open '%s': %s",
				key, strerror(errno));
	/* Everything below reads this inode, even if a put replaces the name. */
	if (fstat(in, &st) == -1) {
		rc = rv_error_errno(RV_EFAIL, errno, "file store: stat '%s'", key);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = not_found(s, key);
		goto out;
	}
	size = (uint64_t)st.st_size;
	if (off > size || (off == size && off > 0)) {
		rc = rv_error(RV_EUSAGE, "range start %llu is beyond the end of '%s' (%llu bytes)",
			      (unsigned long long)off, key, (unsigned long long)size);
		goto out;
	}
	if (!len || len > size - off)
		len = size - off;
	rc = send_range(in, fd, off, len, key);
	if (!rc && info_out)
		info_fill(info_out, key, &st);
out:
	close(in);
	return rc;
}

static int file_del(struct rv_store *s, const char *key)
{
	struct file_store *fs = fs_of(s);
	char *p, *slash;
	int rc = check_key(key), err = 0;

	if (rc)
		return rc;
	rc = store_lock(fs);
	if (rc)
		return rc;
	p = obj_path(fs, key);
	if (unlink(p) == -1)
		err = errno;
	store_unlock(fs);
	if (err && err != ENOENT && err != ENOTDIR && err != EISDIR) {
		free(p);
		return io_error(fs, err, "delete", key);
	}
	slash = strrchr(p, '/');
	*slash = '\0';
	if (!err && s->opts.fsync) {
		rc = fsync_path(*p ? p : "/");
		/* Gone: a concurrent delete emptied and removed the folder,
		 * which takes this unlink with it. */
		if (rc && access(*p ? p : "/", F_OK) == -1 && errno == ENOENT) {
			rv_error_clear();
			rc = 0;
		}
	}
	/* Prune folders left empty, so that the tree does not fill up with
	 * them; a concurrent put into one of them recreates it (tmpfile_open). */
	while (!rc && strlen(p) > strlen(fs->root)) {
		if (rmdir(p) == -1)
			break;
		slash = strrchr(p, '/');
		*slash = '\0';
	}
	free(p);
	return rc;
}

/* --- listing --------------------------------------------------------- */

struct dent {
	char *name;
	bool dir;
};

/* Order entries as their keys sort: a folder "a" holds keys "a/...", so it
 * sorts as "a/" ("a-b" < "a/x" < "a0" in a flat byte sort). */
static int dent_cmp(const void *pa, const void *pb)
{
	const struct dent *a = pa, *b = pb;
	const unsigned char *x = (const unsigned char *)a->name;
	const unsigned char *y = (const unsigned char *)b->name;

	for (size_t i = 0;; i++) {
		int cx = x[i] ? x[i] : (a->dir ? '/' : 0);
		int cy = y[i] ? y[i] : (b->dir ? '/' : 0);
		if (cx != cy)
			return cx - cy;
		if (!x[i] || !y[i])
			return 0; /* equal names cannot occur in one folder */
	}
}

struct walk {
	struct rv_store *s;
	const char *prefix;
	const char *token;
	size_t want; /* collect one more than the page size to know if more follow */
	struct rv_obj_info *items;
	size_t count;
	size_t alloc;
	struct rv_buf key; /* the key of the current folder, "" or "a/b/" */
};

static void key_truncate(struct rv_buf *b, size_t len)
{
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
}

static int read_folder(const char *path, struct dent **out, size_t *n_out)
{
	struct dent *v = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;
	DIR *d;

	*out = NULL;
	*n_out = 0;
	d = opendir(path);
	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0; /* pruned meanwhile, or the prefix names no folder */
		return rv_error(errno == EACCES ? RV_EAUTH : RV_EFAIL,
				"file store: read folder '%s': %s", path, strerror(errno));
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    rv_str_startswith(de->d_name, RESERVED_PREFIX))
			continue;
		bool dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN || de->d_type == DT_LNK) {
			struct stat st;
			if (fstatat(dirfd(d), de->d_name, &st, 0) == -1)
				continue;
			if (S_ISDIR(st.st_mode) && de->d_type == DT_LNK)
				continue; /* never follow folder links: no loops */
			dir = S_ISDIR(st.st_mode);
		}
		v = rv_grow(v, &alloc, n + 1, sizeof(*v));
		v[n].name = rv_strdup(de->d_name);
		v[n].dir = dir;
		n++;
	}
	if (errno) {
		int err = errno;
		closedir(d);
		for (size_t i = 0; i < n; i++)
			free(v[i].name);
		free(v);
		return rv_error(RV_EFAIL, "file store: read folder '%s': %s", path, strerror(err));
	}
	closedir(d);
	if (n > 1) /* v is NULL for an empty folder, and qsort's base may not be */
		qsort(v, n, sizeof(*v), dent_cmp);
	*out = v;
	*n_out = n;
	return 0;
}

static int walk_folder(struct walk *w)
{
	struct file_store *fs = fs_of(w->s);
	char *path = obj_path(fs, rv_buf_str(&w->key));
	size_t base = w->key.len, n;
	struct dent *v;
	int rc;

	rc = read_folder(path, &v, &n);
	for (size_t i = 0; !rc && i < n && w->count < w->want; i++) {
		const char *k;
		key_truncate(&w->key, base);
		rc = rv_buf_addstr(&w->key, v[i].name);
		if (!rc && v[i].dir)
			rc = rv_buf_addstr(&w->key, "/");
		if (rc)
			break;
		k = rv_buf_str(&w->key);
		if (v[i].dir) {
			/* Descend only where keys under "k" can match the prefix and
			 * can come after the token. */
			if (!rv_str_startswith(k, w->prefix) && !rv_str_startswith(w->prefix, k))
				continue;
			if (w->token && !rv_str_startswith(w->token, k) && strcmp(k, w->token) < 0)
				continue;
			rc = walk_folder(w);
		} else {
			struct stat st;
			char *fp;
			if (!rv_str_startswith(k, w->prefix))
				continue;
			if (w->token && strcmp(k, w->token) <= 0)
				continue;
			fp = rv_asprintf("%s/%s", path, v[i].name);
			if (stat(fp, &st) == -1 || !S_ISREG(st.st_mode)) {
				free(fp);
				continue; /* deleted meanwhile, or a socket or such */
			}
			free(fp);
			w->items = rv_grow(w->items, &w->alloc, w->count + 1, sizeof(*w->items));
			info_fill(&w->items[w->count++], k, &st);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	free(path);
	key_truncate(&w->key, base);
	return rc;
}

static int file_list_page(struct rv_store *s, const char *prefix, const char *token, unsigned max,
			  struct rv_list_page *out)
{
	struct walk w = {s, prefix, token, (size_t)max + 1, NULL, 0, 0, RV_BUF_INIT(4096)};
	const char *slash = strrchr(prefix, '/');
	int rc = 0;

	/* Start in the deepest folder the prefix names whole. */
	if (slash)
		rc = rv_buf_add(&w.key, prefix, (size_t)(slash - prefix + 1));
	if (!rc)
		rc = walk_folder(&w);
	rv_buf_release(&w.key);
	if (rc) {
		for (size_t i = 0; i < w.count; i++)
			rv_obj_info_release(&w.items[i]);
		free(w.items);
		return rc;
	}
	if (w.count > max) {
		rv_obj_info_release(&w.items[max]);
		w.count = max;
		out->next_token = rv_strdup(w.items[max - 1].key);
	}
	out->items = w.items;
	out->count = w.count;
	return 0;
}

/* Whether a key lives anywhere below folder `path` (S3 has no empty
 * folders: one left by a put in progress or a racing delete is no folder). */
static int folder_has_key(const char *path, bool *out)
{
	struct dent *v;
	size_t n;
	int rc;

	*out = false;
	rc = read_folder(path, &v, &n);
	for (size_t i = 0; !rc && i < n && !*out; i++) {
		char *p = rv_asprintf("%s/%s", path, v[i].name);
		struct stat st;

		if (v[i].dir)
			rc = folder_has_key(p, out);
		else if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
			*out = true;
		free(p);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	return rc;
}

static int file_list_dirs_page(struct rv_store *s, const char *prefix, const char *token,
			       unsigned max, struct rv_list_page *out)
{
	struct file_store *fs = fs_of(s);
	const char *slash = strrchr(prefix, '/');
	size_t dirlen = slash ? (size_t)(slash - prefix + 1) : 0, alloc = 0, n = 0;
	const char *rest = prefix + dirlen;
	char *dir = rv_strndup(prefix, dirlen), *path = obj_path(fs, dir);
	struct dent *v = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = read_folder(path, &v, &n);
	/* dent_cmp sorts a folder "a" as "a/": the order of the keys made here. */
	for (size_t i = 0; !rc && i < n; i++) {
		char *key, *sub;
		bool has = false;

		if (!v[i].dir || !rv_str_startswith(v[i].name, rest))
			continue;
		key = rv_asprintf("%s%s/", dir, v[i].name);
		if (token && strcmp(key, token) <= 0) {
			free(key);
			continue;
		}
		if (out->count == max) {
			/* One more exists: the page ends at the last one returned. */
			out->next_token = rv_strdup(out->items[max - 1].key);
			free(key);
			break;
		}
		sub = rv_asprintf("%s/%s", path, v[i].name);
		rc = folder_has_key(sub, &has);
		free(sub);
		if (rc || !has) {
			free(key);
			continue;
		}
		out->items = rv_grow(out->items, &alloc, out->count + 1, sizeof(*out->items));
		memset(&out->items[out->count], 0, sizeof(out->items[0]));
		out->items[out->count++].key = key;
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	free(path);
	free(dir);
	if (rc)
		rv_list_page_release(out);
	return rc;
}

static void file_free(struct rv_store *s)
{
	struct file_store *fs = fs_of(s);

	if (!fs)
		return;
	if (fs->lock_fd != -1)
		close(fs->lock_fd);
	pthread_mutex_destroy(&fs->lock_mu);
	free(fs->root);
	free(fs);
	s->impl = NULL;
}

static const struct rv_store_ops file_ops = {
    .name = "file",
    .put_fd = file_put_fd,
    .put_src = file_put_src,
    .put_buf = file_put_buf,
    .get_fd = file_get_fd,
    .head = file_head,
    .list_page = file_list_page,
    .del = file_del,
    .free = file_free,
    .list_dirs_page = file_list_dirs_page,
};

int rv_store_file_open(struct rv_store *s)
{
	struct file_store *fs;
	struct stat st;
	const char *root = s->url.path;

	/* Writability is checked by the first write, not here, so that a
	 * read-only copy of a store (a restore from a read-only mount) can
	 * still be listed and read. */
	if (stat(root, &st) == -1) {
		if (errno == ENOENT)
			return rv_error(RV_ENOTFOUND,
					"store folder '%s' does not exist — create it with mkdir "
					"(or `revenant bucket init file://%s`)",
					root, root);
		return rv_error(errno == EACCES ? RV_EAUTH : RV_EFAIL, "store folder '%s': %s",
				root, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return rv_error(RV_EUSAGE, "store path '%s' is not a folder", root);
	fs = rv_calloc(1, sizeof(*fs));
	fs->root = rv_strdup(root);
	fs->lock_fd = -1;
	pthread_mutex_init(&fs->lock_mu, NULL);
	s->impl = fs;
	s->ops = &file_ops;
	s->caps.put_if_absent = true;
	s->caps.put_if_match = true;
	s->caps.versioning = false;
	s->caps.multipart = false;
	return 0;
}
