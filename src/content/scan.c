/* scan.c - sorted, symlink-safe walk of the content folder (see scan.h). */
#include "content/scan.h"
#include "core/log.h"
#include "core/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Deeper trees are not Ghost content folders; refuse rather than run out
 * of descriptors. */
#define MAX_DEPTH 128

struct frame {
	int fd;
	char **names;
	size_t n, i;
	size_t plen; /* length of this folder's relative path */
};

struct rv_scan {
	const struct rv_content_opts *o;
	struct frame st[MAX_DEPTH];
	int depth;
	struct rv_buf path;
	char target[RV_CPATH_MAX + 1];
	struct rv_centry e;
	uint64_t unreadable;
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void frame_release(struct frame *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->names[i]);
	free(f->names);
	if (f->fd >= 0)
		close(f->fd);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}

static void unreadable(struct rv_scan *s, const char *path, int err)
{
	s->unreadable++;
	rv_log(RV_LOG_WARN, "content entry unreadable, skipped", "path", path, "error",
	       strerror(err), NULL);
}

/* Take ownership of `fd` and read its sorted listing into a new frame. */
static int push(struct rv_scan *s, int fd)
{
	struct frame *f;
	struct dirent *d;
	size_t alloc = 0;
	int dfd;
	DIR *dir;

	if (s->depth == MAX_DEPTH) {
		close(fd);
		unreadable(s, s->path.data, ELOOP);
		return 0;
	}
	dfd = dup(fd);
	if (dfd == -1 || !(dir = fdopendir(dfd))) {
		int err = errno;

		if (dfd != -1)
			close(dfd);
		close(fd);
		unreadable(s, s->path.len ? s->path.data : ".", err);
		return 0;
	}
	f = &s->st[s->depth++];
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->plen = s->path.len;
	errno = 0;
	while ((d = readdir(dir))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		f->names = rv_grow(f->names, &alloc, f->n + 1, sizeof(*f->names));
		f->names[f->n++] = rv_strdup(d->d_name);
	}
	if (errno)
		unreadable(s, s->path.len ? s->path.data : ".", errno);
	closedir(dir);
	if (f->n > 1)
		qsort(f->names, f->n, sizeof(*f->names), name_cmp);
	return 0;
}

int rv_scan_open(struct rv_scan **out, const struct rv_content_opts *o)
{
	struct rv_scan *s;
	int fd;

	*out = NULL;
	fd = open(o->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		int err = errno;

		if (err == ENOENT)
			return rv_error(RV_ENOTFOUND, "content folder '%s' does not exist",
					o->root);
		if (err == EACCES || err == EPERM)
			return rv_error(RV_EAUTH, "cannot read content folder '%s': %s", o->root,
					strerror(err));
		if (err == ENOTDIR)
			return rv_error(RV_EUSAGE, "content folder '%s' is not a folder", o->root);
		return rv_error_errno(RV_EFAIL, err, "cannot open content folder '%s'", o->root);
	}
	s = rv_calloc(1, sizeof(*s));
	s->o = o;
	rv_buf_init(&s->path, RV_CPATH_MAX);
	(void)push(s, fd);
	*out = s;
	return 0;
}

int rv_scan_next(struct rv_scan *s, const struct rv_centry **out)
{
	struct stat st;

	*out = NULL;
	while (s->depth) {
		struct frame *f = &s->st[s->depth - 1];
		const char *name;

		s->path.len = f->plen;
		if (s->path.data)
			s->path.data[f->plen] = '\0';
		if (f->i == f->n) {
			frame_release(f);
			s->depth--;
			continue;
		}
		name = f->names[f->i++];
		if ((f->plen && rv_buf_add(&s->path, "/", 1)) || rv_buf_addstr(&s->path, name)) {
			unreadable(s, name, ENAMETOOLONG);
			continue;
		}
		if (fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno != ENOENT)
				unreadable(s, s->path.data, errno);
			continue;
		}
		memset(&s->e, 0, sizeof(s->e));
		s->e.path = s->path.data;
		s->e.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		s->e.mode = st.st_mode & 07777;
		if (S_ISDIR(st.st_mode)) {
			int fd;

			if (rv_content_excluded(s->o, s->path.data, true))
				continue;
			s->e.type = RV_CE_DIR;
			fd = openat(f->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd == -1) {
				if (errno == ENOENT)
					continue;
				unreadable(s, s->path.data, errno);
			} else {
				(void)push(s, fd);
			}
		} else if (S_ISREG(st.st_mode)) {
			if (rv_content_excluded(s->o, s->path.data, false))
				continue;
			s->e.type = RV_CE_FILE;
			s->e.size = (uint64_t)st.st_size;
		} else if (S_ISLNK(st.st_mode)) {
			ssize_t n;

			if (rv_content_excluded(s->o, s->path.data, false))
				continue;
			n = readlinkat(f->fd, name, s->target, RV_CPATH_MAX);
			if (n <= 0 || n == RV_CPATH_MAX) {
				if (n == -1 && errno != ENOENT)
					unreadable(s, s->path.data, errno);
				else if (n == RV_CPATH_MAX)
					unreadable(s, s->path.data, ENAMETOOLONG);
				continue;
			}
			s->target[n] = '\0';
			s->e.type = RV_CE_LINK;
			s->e.mode = 0;
			s->e.target = s->target;
		} else {
			continue; /* sockets, fifos, devices: not content */
		}
		*out = &s->e;
		return 0;
	}
	return 0;
}

uint64_t rv_scan_unreadable(const struct rv_scan *s)
{
	return s->unreadable;
}

void rv_scan_free(struct rv_scan *s)
{
	if (!s)
		return;
	while (s->depth)
		frame_release(&s->st[--s->depth]);
	rv_buf_release(&s->path);
	free(s);
}
