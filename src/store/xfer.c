/* xfer.c - parallel tree transfers (see xfer.h). */
#include "store/xfer.h"
#include "core/mem.h"
#include "core/util.h"
#include "core/workq.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Enough to keep every worker busy; small enough that a million-file tree
 * costs no more memory than a ten-file one. */
#define QUEUE_CAP 256
/* Failures beyond this are counted but not each printed. */
#define MAX_PRINTED_FAILURES 20

struct job {
	struct rv_store *s;
	char *prefix; /* "" or ends with '/' */
	const char *dir;
	bool verbose;
	mode_t file_mode;  /* get: 0666 minus the umask */
	struct rv_workq q; /* its jobs count their failures here and return 0 */

	pthread_mutex_t mu;
	/* under mu */
	uint64_t files, bytes, failed;
	int first_rc;
	char *first_msg;
};

static void job_fail(struct job *j, int rc, const char *what)
{
	pthread_mutex_lock(&j->mu);
	j->failed++;
	if (!j->first_rc) {
		j->first_rc = rc;
		j->first_msg = rv_asprintf("%s", what);
	}
	if (j->failed <= MAX_PRINTED_FAILURES)
		fprintf(stderr, "error: %s\n", what);
	else if (j->failed == MAX_PRINTED_FAILURES + 1)
		fprintf(stderr, "error: more failures; only the count is reported from here on\n");
	pthread_mutex_unlock(&j->mu);
}

static void job_done(struct job *j, uint64_t bytes)
{
	pthread_mutex_lock(&j->mu);
	j->files++;
	j->bytes += bytes;
	pthread_mutex_unlock(&j->mu);
}

/* `item` (a path or key, allocated) goes to a worker, which frees it. */
static void queue_push(struct job *j, char *item)
{
	/* Never refused: put_job and get_job return 0 (failures are counted). */
	if (rv_workq_submit(&j->q, item))
		free(item);
}

/* --- put -r ------------------------------------------------------------ */

static void put_one(struct job *j, const char *rel)
{
	char *path = rv_asprintf("%s/%s", j->dir, rel);
	char *key = rv_asprintf("%s%s", j->prefix, rel);
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		int err = errno;
		char *m = rv_asprintf("cannot read local file '%s': %s", path, strerror(err));
		job_fail(j,
			 err == EACCES || err == EPERM ? RV_EAUTH
			 : err == ENOENT	       ? RV_ENOTFOUND
						       : RV_EFAIL,
			 m);
		free(m);
		goto out;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		char *m = rv_asprintf("local '%s' is not a regular file: not copied", path);
		job_fail(j, RV_EFAIL, m);
		free(m);
		goto out;
	}
	rc = rv_store_put_fd(j->s, key, fd, UINT64_MAX, NULL);
	if (rc) {
		char *m = rv_asprintf("put '%s' from '%s': %s", key, path, rv_errmsg());
		job_fail(j, rc, m);
		free(m);
		goto out;
	}
	if (j->verbose)
		fprintf(stderr, "put %s\n", key);
	job_done(j, (uint64_t)st.st_size);
out:
	if (fd != -1)
		close(fd);
	free(path);
	free(key);
}

static int put_job(void *ctx, void *arg)
{
	put_one(ctx, arg);
	free(arg);
	return 0;
}

/* Walk one folder (fd owned here); `rel` is its path below the root, "" or
 * "a/b/".  Folders are opened relative to their parent, so odd names and
 * deep trees need no long path strings. */
static void walk_local(struct job *j, int fd, const char *rel)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;

	if (!d) {
		char *m = rv_asprintf("cannot read local folder '%s/%s': %s", j->dir, rel,
				      strerror(errno));
		job_fail(j, RV_EFAIL, m);
		free(m);
		close(fd);
		return;
	}
	for (;;) {
		unsigned char type;
		char *child;
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		type = de->d_type;
		child = rv_asprintf("%s%s", rel, de->d_name);
		if (type == DT_UNKNOWN || type == DT_LNK) {
			struct stat st;
			/* A link to a file is copied as that file's contents; a
			 * link to a folder is not followed (loops) and says so. */
			if (fstatat(dirfd(d), de->d_name, &st, 0) == -1) {
				char *m = rv_asprintf("local '%s/%s': %s", j->dir, child,
						      strerror(errno));
				job_fail(j, RV_EFAIL, m);
				free(m);
				free(child);
				continue;
			}
			if (S_ISREG(st.st_mode))
				type = DT_REG;
			else if (S_ISDIR(st.st_mode))
				type = type == DT_LNK ? DT_LNK : DT_DIR;
			else
				type = DT_UNKNOWN;
		}
		if (type == DT_REG) {
			queue_push(j, child);
			continue;
		}
		if (type == DT_DIR) {
			int cfd = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			char *crel = rv_asprintf("%s/", child);
			if (cfd == -1) {
				char *m = rv_asprintf("cannot read local folder '%s/%s': %s",
						      j->dir, child, strerror(errno));
				job_fail(j, RV_EFAIL, m);
				free(m);
			} else {
				walk_local(j, cfd, crel);
			}
			free(crel);
		} else {
			char *m = rv_asprintf(type == DT_LNK
						  ? "local '%s/%s' is a link to a folder: not "
						    "followed, not copied"
						  : "local '%s/%s' is not a regular file (device, "
						    "socket or fifo): not copied",
					      j->dir, child);
			job_fail(j, RV_EFAIL, m);
			free(m);
		}
		free(child);
	}
	if (errno) {
		char *m = rv_asprintf("cannot read local folder '%s/%s': %s", j->dir, rel,
				      strerror(errno));
		job_fail(j, RV_EFAIL, m);
		free(m);
	}
	closedir(d);
}

/* --- get -r ------------------------------------------------------------ */

static int mkdirs(char *path, mode_t mode)
{
	/* mkdir -p of every folder above the last '/' of `path`. */
	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, mode) == -1 && errno != EEXIST) {
			int err = errno;
			*p = '/';
			return rv_error(
			    err == EACCES || err == EPERM || err == EROFS ? RV_EAUTH : RV_EFAIL,
			    "cannot create local folder for '%s': %s", path, strerror(err));
		}
		*p = '/';
	}
	return 0;
}

static int get_file(struct rv_store *s, const char *key, const char *path, uint64_t off,
		    uint64_t len, bool sync, mode_t mode, uint64_t *bytes_out)
{
	char *tmp, *slash;
	int fd, rc;
	off_t end;

	/* The temporary is a hidden sibling, so the rename is atomic. */
	slash = strrchr(path, '/');
	if (slash)
		tmp = rv_asprintf("%.*s/.%s.rv-tmp.XXXXXX", (int)(slash - path), path, slash + 1);
	else
		tmp = rv_asprintf(".%s.rv-tmp.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd == -1) {
		int err = errno;
		rc = rv_error(err == EACCES || err == EPERM || err == EROFS ? RV_EAUTH
			      : err == ENOENT				    ? RV_ENOTFOUND
									    : RV_EFAIL,
			      "cannot create a file beside '%s': %s", path, strerror(err));
		free(tmp);
		return rc;
	}
	rc = rv_store_get_fd(s, key, fd, off, len, NULL);
	if (!rc && fchmod(fd, mode) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "chmod '%s'", path);
	while (!rc && sync && fsync(fd) == -1) {
		if (errno != EINTR)
			rc = rv_error_errno(RV_EFAIL, errno, "fsync '%s'", path);
	}
	end = lseek(fd, 0, SEEK_CUR);
	if (close(fd) == -1 && !rc)
		rc = rv_error_errno(RV_EFAIL, errno, "write '%s'", path);
	if (!rc && rename(tmp, path) == -1)
		rc = rv_error_errno(errno == EACCES ? RV_EAUTH : RV_EFAIL, errno, "rename to '%s'",
				    path);
	if (rc)
		unlink(tmp);
	else if (bytes_out)
		*bytes_out = end > 0 ? (uint64_t)end : 0;
	free(tmp);
	return rc;
}

static mode_t file_mode_from_umask(void)
{
	/* umask() can only be read by setting it; done once, before any
	 * worker thread exists. */
	mode_t m = umask(0);

	umask(m);
	return 0666 & ~m;
}

int rv_xfer_get_file(struct rv_store *s, const char *key, const char *path, uint64_t off,
		     uint64_t len, bool sync, uint64_t *bytes_out)
{
	return get_file(s, key, path, off, len, sync, file_mode_from_umask(), bytes_out);
}

static void get_one(struct job *j, const char *key)
{
	const char *rel;
	char *path = NULL;
	uint64_t bytes = 0;
	int rc;

	/* Listed keys come from the server: the prefix, "..", absolute and
	 * empty names are checked before a key becomes a local path. */
	rc = rv_store_key_local(key, j->prefix, &rel);
	if (rc) {
		job_fail(j, rc, rv_errmsg());
		return;
	}
	path = rv_asprintf("%s/%s", j->dir, rel);
	rc = rv_store_key_check(key);
	if (!rc)
		rc = mkdirs(path, 0777);
	if (!rc && rv_str_endswith(rel, "/")) {
		/* A folder marker ("dir/") made by other S3 tools. */
		path[strlen(path) - 1] = '\0';
		if (mkdir(path, 0777) == -1 && errno != EEXIST)
			rc = rv_error_errno(RV_EFAIL, errno, "mkdir '%s'", path);
	} else if (!rc) {
		rc = get_file(j->s, key, path, 0, 0, false, j->file_mode, &bytes);
	}
	if (rc) {
		char *m = rv_asprintf("get '%s' to '%s': %s", key, path, rv_errmsg());
		job_fail(j, rc, m);
		free(m);
	} else {
		if (j->verbose)
			fprintf(stderr, "got %s\n", key);
		job_done(j, bytes);
	}
	free(path);
}

static int get_job(void *ctx, void *arg)
{
	get_one(ctx, arg);
	free(arg);
	return 0;
}

static int list_push(const struct rv_obj_info *info, void *ud)
{
	queue_push(ud, rv_strdup(info->key));
	return 0;
}

/* --- common ------------------------------------------------------------ */

static void job_init(struct job *j, struct rv_store *s, const char *prefix, const char *dir,
		     bool verbose, unsigned jobs, rv_workq_fn *fn)
{
	memset(j, 0, sizeof(*j));
	j->s = s;
	j->prefix = *prefix && !rv_str_endswith(prefix, "/") ? rv_asprintf("%s/", prefix)
							     : rv_strdup(prefix);
	j->dir = dir;
	j->verbose = verbose;
	pthread_mutex_init(&j->mu, NULL);
	rv_workq_init(&j->q, jobs, QUEUE_CAP, fn, j);
}

static int job_finish(struct job *j, const char *verb, int64_t t0, int walk_rc,
		      struct rv_xfer_stats *st)
{
	int rc = 0;

	rv_workq_release(&j->q); /* runs what is queued, then joins */
	st->files = j->files;
	st->bytes = j->bytes;
	st->failed = j->failed;
	st->seconds = (double)(rv_mono_ms() - t0) / 1000.0;
	if (walk_rc) {
		rc = walk_rc; /* the listing failed: its message is the one to show */
	} else if (j->failed) {
		rc = rv_error(j->first_rc, "%s: %llu of %llu files failed; first: %s", verb,
			      (unsigned long long)j->failed,
			      (unsigned long long)(j->failed + j->files), j->first_msg);
	}
	free(j->first_msg);
	free(j->prefix);
	pthread_mutex_destroy(&j->mu);
	return rc;
}

int rv_xfer_put_tree(struct rv_store *s, const char *prefix, const char *dir, unsigned jobs,
		     bool verbose, struct rv_xfer_stats *st)
{
	struct job j;
	int64_t t0 = rv_mono_ms();
	int fd;

	memset(st, 0, sizeof(*st));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		int err = errno;
		return rv_error(err == ENOENT	 ? RV_ENOTFOUND
				: err == EACCES	 ? RV_EAUTH
				: err == ENOTDIR ? RV_EUSAGE
						 : RV_EFAIL,
				"cannot read local folder '%s': %s", dir, strerror(err));
	}
	job_init(&j, s, prefix, dir, verbose, jobs, put_job);
	walk_local(&j, fd, "");
	return job_finish(&j, "put -r", t0, 0, st);
}

int rv_xfer_get_tree(struct rv_store *s, const char *prefix, const char *dir, unsigned jobs,
		     bool verbose, struct rv_xfer_stats *st)
{
	struct job j;
	int64_t t0 = rv_mono_ms();
	mode_t file_mode;
	int rc;
	char *d = rv_asprintf("%s/", dir);

	memset(st, 0, sizeof(*st));
	rc = mkdirs(d, 0777);
	free(d);
	if (rc)
		return rc;
	file_mode = file_mode_from_umask(); /* before job_init starts the workers */
	job_init(&j, s, prefix, dir, verbose, jobs, get_job);
	j.file_mode = file_mode;
	rc = rv_store_list(s, j.prefix, list_push, &j);
	rc = job_finish(&j, "get -r", t0, rc, st);
	/* Files were not synced one by one (too slow for big trees): one
	 * syncfs makes the whole restore durable before we report success. */
	if (!rc) {
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd == -1 || syncfs(fd) == -1)
			rc = rv_error_errno(RV_EFAIL, errno, "sync local folder '%s'", dir);
		if (fd != -1)
			close(fd);
	}
	return rc;
}
