/* apply.c - write content entries into a local folder (see apply.h). */
#include "content/apply.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

/* rm_tree recursion: deeper than any sane content folder, shallower than
 * the open-file limit (one descriptor per level). */
#define RM_MAX_DEPTH 512

struct rv_apply {
	struct rv_store *s;
	struct rv_apply_opts o;
	char *root;    /* absolute */
	char *staging; /* root + "/" + RV_APPLY_STAGING */
	int root_fd, staging_fd;
	atomic_uint seq; /* unique names in the staging folder */
};

static struct timespec ts_from_ns(int64_t ns)
{
	struct timespec t;
	int64_t sec = ns / 1000000000, rem = ns % 1000000000;

	if (rem < 0) { /* floor, for times before 1970 */
		rem += 1000000000;
		sec--;
	}
	t.tv_sec = (time_t)sec;
	t.tv_nsec = (long)rem;
	return t;
}

static int64_t st_mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Remove `name` in `dfd` and, for a folder, everything under it. */
static int rm_tree(int dfd, const char *name, const char *shown, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return rv_error_errno(rv_errno_result(errno), errno, "cannot remove '%s'", shown);
	if (depth > RM_MAX_DEPTH)
		return rv_error(RV_EFAIL, "cannot remove '%s': folders nested deeper than %d",
				shown, RM_MAX_DEPTH);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0
				       : rv_error_errno(rv_errno_result(errno), errno,
							"cannot remove '%s'", shown);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return rv_error_errno(RV_EFAIL, errno, "cannot read folder '%s'", shown);
	}
	while (!rc && (de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		rc = rm_tree(dirfd(d), de->d_name, shown, depth + 1);
	}
	closedir(d);
	if (!rc && unlinkat(dfd, name, AT_REMOVEDIR) == -1 && errno != ENOENT)
		rc = rv_error_errno(rv_errno_result(errno), errno, "cannot remove folder '%s'",
				    shown);
	return rc;
}

static int check_reserved(const char *path)
{
	size_t n = strlen(RV_APPLY_STAGING);

	if (!strncmp(path, RV_APPLY_STAGING, n) && (path[n] == '\0' || path[n] == '/'))
		return rv_error(RV_ECORRUPT,
				"content path '%s' uses the name of restore's staging folder — "
				"rename it on the primary",
				path);
	return rv_content_path_check(path) ? RV_ECORRUPT : 0;
}

/* Open the folder holding `path` (relative), one component at a time,
 * never following a symlink.  With `create`, missing folders are made and
 * a file or symlink in the way is replaced by a folder.  `*base` points at
 * the last component inside `path`. */
static int open_parent(struct rv_apply *a, const char *path, bool create, int *out,
		       const char **base)
{
	const char *p = path;
	int fd = dup(a->root_fd);

	*out = -1;
	if (fd == -1)
		return rv_error_errno(RV_EFAIL, errno, "dup");
	for (;;) {
		const char *slash = strchr(p, '/');
		char name[NAME_MAX + 1];
		size_t n;
		int nfd;

		if (!slash) {
			if (strlen(p) > NAME_MAX) {
				close(fd);
				return rv_error(RV_EFAIL, "name too long in '%s'", path);
			}
			*base = p;
			*out = fd;
			return 0;
		}
		n = (size_t)(slash - p);
		if (n > NAME_MAX) {
			close(fd);
			return rv_error(RV_EFAIL, "name too long in '%s'", path);
		}
		memcpy(name, p, n);
		name[n] = '\0';
		nfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd == -1 && create && (errno == ENOTDIR || errno == ELOOP)) {
			/* A file or symlink where the record needs a folder. */
			if (unlinkat(fd, name, 0) == -1 && errno != ENOENT) {
				int err = errno;
				close(fd);
				return rv_error_errno(rv_errno_result(err), err,
						      "cannot replace '%s/%.*s' by a folder",
						      a->root, (int)(slash - path), path);
			}
			errno = ENOENT;
		}
		if (nfd == -1 && create && errno == ENOENT) {
			if (mkdirat(fd, name, 0755) == -1 && errno != EEXIST) {
				int err = errno;
				close(fd);
				return rv_error_errno(rv_errno_result(err), err,
						      "cannot create folder '%s/%.*s'", a->root,
						      (int)(slash - path), path);
			}
			nfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (nfd == -1) {
			int err = errno;
			close(fd);
			return rv_error_errno(err == ENOENT || err == ENOTDIR || err == ELOOP
						  ? RV_ENOTFOUND
						  : rv_errno_result(err),
					      err, "cannot open folder '%s/%.*s'", a->root,
					      (int)(slash - path), path);
		}
		close(fd);
		fd = nfd;
		p = slash + 1;
	}
}

bool rv_apply_busy(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool busy;

	if (fd == -1)
		return false;
	busy = flock(fd, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK;
	close(fd);
	return busy;
}

int rv_apply_open(struct rv_apply **out, struct rv_store *s, const char *dir,
		  const struct rv_apply_opts *o)
{
	struct rv_apply *a;
	char *real;
	int rc;

	*out = NULL;
	if (!*dir)
		return rv_error(RV_EUSAGE, "empty target folder");
	if ((rc = rv_mkdirs(dir)))
		return rc;
	real = realpath(dir, NULL);
	if (!real)
		return rv_error_errno(rv_errno_result(errno), errno, "cannot resolve folder '%s'",
				      dir);
	a = rv_calloc(1, sizeof(*a));
	a->s = s;
	if (o)
		a->o = *o;
	a->root = real;
	a->staging = rv_asprintf("%s/%s", real, RV_APPLY_STAGING);
	a->staging_fd = -1;
	a->root_fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->root_fd == -1) {
		rc = rv_error_errno(errno == ENOTDIR ? RV_EUSAGE : rv_errno_result(errno), errno,
				    "cannot open folder '%s'", real);
		goto fail;
	}
	/* Two writers in one folder would delete each other's staged files. */
	if (flock(a->root_fd, LOCK_EX | LOCK_NB) == -1) {
		rc = errno == EWOULDBLOCK
			 ? rv_error(RV_EPRECOND,
				    "another revenant restore or standby is writing into '%s' — "
				    "stop it first",
				    real)
			 : rv_error_errno(RV_EFAIL, errno, "cannot lock folder '%s'", real);
		goto fail;
	}
	if ((rc = rm_tree(a->root_fd, RV_APPLY_STAGING, a->staging, 0)))
		goto fail;
	if (mkdirat(a->root_fd, RV_APPLY_STAGING, 0700) == -1) {
		rc = rv_error_errno(rv_errno_result(errno), errno, "cannot create folder '%s'",
				    a->staging);
		goto fail;
	}
	a->staging_fd =
	    openat(a->root_fd, RV_APPLY_STAGING, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (a->staging_fd == -1) {
		rc = rv_error_errno(rv_errno_result(errno), errno, "cannot open folder '%s'",
				    a->staging);
		goto fail;
	}
	*out = a;
	return 0;
fail:
	rv_apply_free(a);
	return rc;
}

void rv_apply_free(struct rv_apply *a)
{
	if (!a)
		return;
	if (a->staging_fd != -1) {
		close(a->staging_fd);
		if (rm_tree(a->root_fd, RV_APPLY_STAGING, a->staging, 0))
			rv_log(RV_LOG_WARN, "cannot remove the staging folder", "path", a->staging,
			       "error", rv_errmsg(), NULL);
	}
	if (a->root_fd != -1)
		close(a->root_fd);
	free(a->root);
	free(a->staging);
	free(a);
}

const char *rv_apply_root(const struct rv_apply *a)
{
	return a->root;
}

/* Hash the local file; true when it has the record's content. */
static bool same_content(int pfd, const char *base, const struct rv_centry *e, int *fd_out)
{
	unsigned char sha[RV_SHA256_LEN];
	uint64_t size = 0;
	int fd = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;

	*fd_out = fd;
	if (fd != -1 && (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)))
		return false;
	if (fd == -1)
		return false;
	if (rv_sha256_fd(sha, fd, &size)) {
		rv_error_clear();
		return false;
	}
	return size == e->size && !memcmp(sha, e->sha256, RV_SHA256_LEN);
}

/* Whether the local file is already right; fixes mode and mtime when only
 * they differ. */
static int check_local(struct rv_apply *a, const struct rv_centry *e, enum rv_apply_result *res)
{
	const char *base;
	struct stat st;
	int pfd, fd = -1, rc = 0;

	*res = RV_APPLIED;
	if (open_parent(a, e->path, false, &pfd, &base)) {
		rv_error_clear();
		return 0;
	}
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != e->size)
		goto out;
	if (st_mtime_ns(&st) == e->mtime_ns && (st.st_mode & 07777) == e->mode) {
		*res = RV_APPLY_SAME;
		goto out;
	}
	if (same_content(pfd, base, e, &fd)) {
		struct timespec t[2];

		t[0] = t[1] = ts_from_ns(e->mtime_ns);
		if (fchmod(fd, e->mode) == -1 || futimens(fd, t) == -1)
			rc =
			    rv_error_errno(rv_errno_result(errno), errno,
					   "cannot set mode or mtime of '%s/%s'", a->root, e->path);
		else
			*res = RV_APPLY_FIXED;
	}
out:
	if (fd != -1)
		close(fd);
	close(pfd);
	return rc;
}

int rv_apply_stage(struct rv_apply *a, const struct rv_centry *e, bool check_existing,
		   char **staged, enum rv_apply_result *res, uint64_t *bytes)
{
	char key[RV_BLOB_KEY_LEN], hex[RV_SHA256_HEX];
	const unsigned char *name_key;
	unsigned char sha[RV_SHA256_LEN];
	struct timespec t[2];
	uint64_t size = 0;
	char *tmp;
	int fd, rc;

	*staged = NULL;
	*bytes = 0;
	*res = RV_APPLIED;
	if ((rc = check_reserved(e->path)) || (check_existing && (rc = check_local(a, e, res))))
		return rc;
	if (*res != RV_APPLIED)
		return 0;
	if ((rc = rv_store_name_key(a->s, &name_key)))
		return rc;
	rv_content_blob_key(key, e->sha256, name_key);
	tmp = rv_asprintf("%s/f%u.XXXXXX", a->staging, atomic_fetch_add(&a->seq, 1));
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd == -1) {
		rc = rv_error_errno(rv_errno_result(errno), errno, "cannot create a file in '%s'",
				    a->staging);
		free(tmp);
		return rc;
	}
	rc = rv_store_get_fd(a->s, key, fd, 0, 0, NULL);
	if (rc == RV_ENOTFOUND) {
		rc = rv_error(RV_ENOTFOUND,
			      "file '%s' cannot be restored: its blob %s is missing from the store "
			      "— restore an earlier point (--at) or let replicate re-upload it",
			      e->path, key);
	} else if (rc) {
		char *m = rv_strdup(rv_errmsg());
		rc = rv_error(rc, "file '%s': %s", e->path, m);
		free(m);
	}
	if (!rc && lseek(fd, 0, SEEK_SET) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "seek in '%s'", tmp);
	if (!rc && (rc = rv_sha256_fd(sha, fd, &size)) == 0 &&
	    (size != e->size || memcmp(sha, e->sha256, RV_SHA256_LEN))) {
		rv_hex(hex, sha, RV_SHA256_LEN);
		rc = rv_error(
		    RV_ECORRUPT,
		    "file '%s' cannot be restored: blob %s is corrupt (%" PRIu64
		    " bytes with sha-256 %s; the record says %" PRIu64
		    " bytes) — the stored copy is damaged; restore an earlier point (--at)",
		    e->path, key, size, hex, e->size);
	}
	t[0] = t[1] = ts_from_ns(e->mtime_ns);
	if (!rc && (fchmod(fd, e->mode) == -1 || futimens(fd, t) == -1))
		rc = rv_error_errno(RV_EFAIL, errno, "cannot set mode or mtime of '%s'", tmp);
	while (!rc && a->o.fsync && fsync(fd) == -1)
		if (errno != EINTR)
			rc = rv_error_errno(RV_EFAIL, errno, "fsync '%s'", tmp);
	if (close(fd) == -1 && !rc)
		rc = rv_error_errno(RV_EFAIL, errno, "write '%s'", tmp);
	if (rc) {
		unlink(tmp);
		free(tmp);
		return rc;
	}
	*staged = tmp;
	*bytes = size;
	return 0;
}

int rv_apply_place(struct rv_apply *a, const char *staged, const char *path)
{
	size_t sl = strlen(a->staging);
	const char *base, *sname = staged + sl + 1;
	struct stat st;
	int pfd, rc;

	/* Only a file rv_apply_stage made: a name directly in the staging
	 * folder, renamed relative to its descriptor. */
	if (strncmp(staged, a->staging, sl) || staged[sl] != '/' || strchr(sname, '/') || !*sname)
		return rv_error(RV_EUSAGE, "'%s' is not a staged file", staged);
	if ((rc = check_reserved(path)) || (rc = open_parent(a, path, true, &pfd, &base))) {
		unlink(staged);
		return rc;
	}
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
		rc = rm_tree(pfd, base, path, 0);
	if (!rc && renameat(a->staging_fd, sname, pfd, base) == -1)
		rc = rv_error_errno(rv_errno_result(errno), errno, "cannot rename into '%s/%s'",
				    a->root, path);
	if (rc)
		unlink(staged);
	close(pfd);
	return rc;
}

void rv_apply_unstage(struct rv_apply *a, const char *staged)
{
	(void)a;
	if (staged)
		unlink(staged);
}

int rv_apply_file(struct rv_apply *a, const struct rv_centry *e, enum rv_apply_result *res,
		  uint64_t *bytes)
{
	char *staged;
	int rc = rv_apply_stage(a, e, true, &staged, res, bytes);

	if (!rc && staged)
		rc = rv_apply_place(a, staged, e->path);
	free(staged);
	return rc;
}

/* Set the mode (and with `set_time` the mtime) of the folder `base` in
 * `pfd` through a descriptor opened without following a symlink, so a
 * link swapped in after the check is never the one changed. */
static int dir_attrs(struct rv_apply *a, int pfd, const char *base, const char *path, mode_t mode,
		     bool set_time, int64_t mtime_ns)
{
	int fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct timespec t[2];
	int rc = 0;

	if (fd == -1)
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP
			   ? rv_error(RV_EFAIL, "folder '%s/%s' vanished during the restore",
				      a->root, path)
			   : rv_error_errno(rv_errno_result(errno), errno,
					    "cannot open folder '%s/%s'", a->root, path);
	t[0] = t[1] = ts_from_ns(mtime_ns);
	if (fchmod(fd, mode) == -1 || (set_time && futimens(fd, t) == -1))
		rc = rv_error_errno(rv_errno_result(errno), errno,
				    "cannot set the mode or mtime of '%s/%s'", a->root, path);
	close(fd);
	return rc;
}

int rv_apply_dir(struct rv_apply *a, const struct rv_centry *e, bool final)
{
	mode_t mode = final ? e->mode : (e->mode | 0700);
	const char *base;
	struct stat st;
	int pfd, rc;

	if ((rc = check_reserved(e->path)) || (rc = open_parent(a, e->path, true, &pfd, &base)))
		return rc;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode) &&
	    unlinkat(pfd, base, 0) == -1 && errno != ENOENT)
		rc = rv_error_errno(rv_errno_result(errno), errno,
				    "cannot replace '%s/%s' by a folder", a->root, e->path);
	if (!rc && mkdirat(pfd, base, 0700) == -1 && errno != EEXIST)
		rc = rv_error_errno(rv_errno_result(errno), errno, "cannot create folder '%s/%s'",
				    a->root, e->path);
	if (!rc)
		rc = dir_attrs(a, pfd, base, e->path, mode, final, e->mtime_ns);
	close(pfd);
	return rc;
}

int rv_apply_dir_finish(struct rv_apply *a, const char *path, uint32_t mode, int64_t mtime_ns)
{
	const char *base;
	int pfd, rc;

	if ((rc = check_reserved(path)) || (rc = open_parent(a, path, false, &pfd, &base)))
		return rc;
	rc = dir_attrs(a, pfd, base, path, mode, true, mtime_ns);
	close(pfd);
	return rc;
}

/* The rule is about what the kernel does, not about the text: a reader of
 * DIR/path resolves the target from the link's folder, and any component
 * may itself be a symlink (an earlier restored one), after which ".."
 * climbs from wherever that link led, not from where the text says.  So
 * ".." may only come first, where it climbs real folders (the link's own
 * folder was reached without following anything), and no further than
 * DIR; after the first other component only names follow.  Then, by
 * induction over the links in DIR, every link resolves to a place at
 * least one level below DIR whatever the links it passes through are,
 * and a chain of links cannot climb out. */
bool rv_apply_link_inside(const char *path, const char *target)
{
	long depth = 0;
	bool down = false;
	const char *p;

	if (!*target || target[0] == '/' || rv_content_path_check(path)) {
		rv_error_clear();
		return false;
	}
	for (p = path; *p; p++)
		depth += *p == '/';
	for (p = target; *p;) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (down || --depth < 0)
				return false;
		} else if (n && !(n == 1 && p[0] == '.')) {
			if (n > NAME_MAX)
				return false;
			depth++;
			down = true;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	/* A link to the folder itself would let "link/.." climb out. */
	return depth >= 1;
}

/* What is on disk now, as a second line behind rv_apply_link_inside():
 * resolve the target as the kernel will, from the link's folder, but held
 * beneath DIR (openat2 RESOLVE_BENEATH), so a symlink already in the
 * folder that did not come from the store (restore without --delete)
 * cannot carry the new link outside.  True when the kernel says it would
 * leave DIR; a target that does not exist yet, or a kernel without
 * openat2 (ENOSYS; a seccomp filter's EPERM), leaves the textual rule,
 * which alone is sound for links the store made. */
static bool link_leaves_on_disk(struct rv_apply *a, const char *path, const char *target)
{
#ifdef SYS_openat2
	struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH};
	const char *slash = strrchr(path, '/');
	char *rel;
	long fd;

	rel = slash ? rv_asprintf("%.*s/%s", (int)(slash - path), path, target) : rv_strdup(target);
	fd = syscall(SYS_openat2, a->root_fd, rel, &how, sizeof(how));
	free(rel);
	if (fd >= 0) {
		close((int)fd);
		return false;
	}
	return errno == EXDEV;
#else
	(void)a;
	(void)path;
	(void)target;
	return false;
#endif
}

int rv_apply_link(struct rv_apply *a, const struct rv_centry *e, enum rv_apply_result *res)
{
	struct timespec t[2];
	const char *base;
	struct stat st;
	char name[48];
	int pfd, rc;
	bool inside;

	*res = RV_APPLIED;
	if ((rc = check_reserved(e->path)))
		return rc;
	inside = a->o.allow_outside_links || rv_apply_link_inside(e->path, e->target);
	if (inside && (rc = open_parent(a, e->path, true, &pfd, &base)))
		return rc;
	/* On disk only once the link's folders are real ones. */
	if (inside && !a->o.allow_outside_links && link_leaves_on_disk(a, e->path, e->target)) {
		close(pfd);
		inside = false;
	}
	if (!inside) {
		rv_log(RV_LOG_WARN, "symlink points outside the folder: not restored", "path",
		       e->path, "target", e->target, "hint", "--allow-outside-links restores it",
		       NULL);
		*res = RV_APPLY_SKIP;
		return 0;
	}
	t[0] = t[1] = ts_from_ns(e->mtime_ns);
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode) && (size_t)st.st_size == strlen(e->target)) {
			char *buf = rv_malloc((size_t)st.st_size + 1);
			ssize_t n = readlinkat(pfd, base, buf, (size_t)st.st_size + 1);
			bool same = n == st.st_size && !memcmp(buf, e->target, (size_t)n);

			free(buf);
			if (same) {
				*res = st_mtime_ns(&st) == e->mtime_ns ? RV_APPLY_SAME
								       : RV_APPLY_FIXED;
				goto times;
			}
		} else if (S_ISDIR(st.st_mode) && (rc = rm_tree(pfd, base, e->path, 0))) {
			goto out;
		}
	}
	snprintf(name, sizeof(name), "l%u.%ld", atomic_fetch_add(&a->seq, 1), (long)getpid());
	if (symlinkat(e->target, a->staging_fd, name) == -1) {
		rc = rv_error_errno(rv_errno_result(errno), errno, "cannot create symlink '%s/%s'",
				    a->root, e->path);
		goto out;
	}
	if (renameat(a->staging_fd, name, pfd, base) == -1) {
		rc = rv_error_errno(rv_errno_result(errno), errno, "cannot rename into '%s/%s'",
				    a->root, e->path);
		unlinkat(a->staging_fd, name, 0);
		goto out;
	}
times:
	if (utimensat(pfd, base, t, AT_SYMLINK_NOFOLLOW) == -1)
		rc = rv_error_errno(rv_errno_result(errno), errno,
				    "cannot set the mtime of '%s/%s'", a->root, e->path);
out:
	close(pfd);
	return rc;
}

int rv_apply_remove(struct rv_apply *a, const char *path)
{
	const char *base;
	int pfd, rc;

	if ((rc = check_reserved(path)))
		return rc;
	if ((rc = open_parent(a, path, false, &pfd, &base))) {
		if (rc == RV_ENOTFOUND) {
			rv_error_clear();
			return 0; /* a parent is gone: so is the path */
		}
		return rc;
	}
	rc = rm_tree(pfd, base, path, 0);
	close(pfd);
	return rc;
}
