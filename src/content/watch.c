/* watch.c - recursive inotify watcher (see watch.h).
 *
 * inotify watches one folder, so every folder gets its own watch and the
 * watcher keeps a map wd -> relative path.  A folder that appears is walked
 * right after its watch is added, because files can be created in it before
 * the watch lands.  Rename pairs (IN_MOVED_FROM/IN_MOVED_TO, same cookie)
 * of folders keep their watches and only change paths in the map; a
 * MOVED_FROM left without its pair once the kernel queue is drained moved
 * out of the tree, and its subtree's watches are removed (the kernel queues
 * both halves of a rename together, so a drained queue means no pair).
 *
 * Threads: the map and the pending renames belong to the polling thread;
 * the queue and the stats are under `mu`. */
#include "content/watch.h"
#include "format/content.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WATCH_MASK                                                                                 \
	(IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB |        \
	 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
#define READ_BUF (64u << 10)
/* How far back from the tail a repeat is looked for: bursts of writes to
 * one file land close together; older repeats are cheap duplicates. */
#define COALESCE_WINDOW 64
#define MAX_PENDING	64

struct dir_ent {
	int wd;
	char *path; /* relative; "" for the root */
};

struct qent {
	enum rv_watch_kind kind;
	char *path;
	uint64_t id;
	int64_t first_ms, ready_ms;
};

struct pending {
	uint32_t cookie;
	char *path;
};

struct rv_watch {
	const struct rv_content_opts *o;
	int ifd, efd;
	int notify_fd; /* written when the queue's head changes; -1: none */
	int root_wd;
	/* polling thread only */
	struct dir_ent *dirs; /* sorted by wd */
	size_t ndirs, adirs;
	struct pending pend[MAX_PENDING];
	size_t npend;
	bool warned_limit;
	/* under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct qent *q; /* ring */
	size_t qcap, qhead, qcount;
	uint64_t next_id, barrier_id;
	struct rv_watch_stats st;
	bool stopped;
};

/* ---- wd map ---- */

static size_t dir_lower(const struct rv_watch *w, int wd)
{
	size_t lo = 0, hi = w->ndirs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (w->dirs[mid].wd < wd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct dir_ent *dir_find(struct rv_watch *w, int wd)
{
	size_t i = dir_lower(w, wd);

	return i < w->ndirs && w->dirs[i].wd == wd ? &w->dirs[i] : NULL;
}

static void dir_set(struct rv_watch *w, int wd, const char *path)
{
	size_t i = dir_lower(w, wd);

	if (i < w->ndirs && w->dirs[i].wd == wd) {
		if (strcmp(w->dirs[i].path, path)) {
			free(w->dirs[i].path);
			w->dirs[i].path = rv_strdup(path);
		}
		return;
	}
	w->dirs = rv_grow(w->dirs, &w->adirs, w->ndirs + 1, sizeof(*w->dirs));
	memmove(&w->dirs[i + 1], &w->dirs[i], (w->ndirs - i) * sizeof(*w->dirs));
	w->dirs[i].wd = wd;
	w->dirs[i].path = rv_strdup(path);
	w->ndirs++;
}

static void dir_remove_at(struct rv_watch *w, size_t i)
{
	free(w->dirs[i].path);
	memmove(&w->dirs[i], &w->dirs[i + 1], (w->ndirs - i - 1) * sizeof(*w->dirs));
	w->ndirs--;
}

/* `path` equals `top` or lies under it. */
static bool under(const char *path, const char *top)
{
	size_t n = strlen(top);

	return !strncmp(path, top, n) && (path[n] == '\0' || path[n] == '/');
}

/* ---- queue ---- */

static void q_clear_locked(struct rv_watch *w)
{
	while (w->qcount) {
		free(w->q[w->qhead].path);
		w->qhead = (w->qhead + 1) % w->qcap;
		w->qcount--;
	}
	w->qhead = 0;
}

static struct qent *q_at(struct rv_watch *w, size_t i)
{
	return &w->q[(w->qhead + i) % w->qcap];
}

static void q_append_locked(struct rv_watch *w, enum rv_watch_kind kind, char *path, int64_t now)
{
	struct qent *e;

	if (w->qcount == w->qcap) {
		size_t ncap = w->qcap * 2, i;
		struct qent *nq;

		if (ncap > w->o->queue_max)
			ncap = w->o->queue_max;
		nq = rv_malloc(ncap * sizeof(*nq));
		for (i = 0; i < w->qcount; i++)
			nq[i] = *q_at(w, i);
		free(w->q);
		w->q = nq;
		w->qcap = ncap;
		w->qhead = 0;
	}
	if (!w->qcount && w->notify_fd >= 0) {
		uint64_t one = 1;

		/* A new head: the consumer sleeps until its ready time. */
		if (write(w->notify_fd, &one, sizeof(one)) == -1) {
			/* an eventfd at its limit is still readable: nothing lost */
		}
	}
	e = q_at(w, w->qcount++);
	e->kind = kind;
	e->path = path;
	e->id = ++w->next_id;
	e->first_ms = now;
	e->ready_ms = kind == RV_WATCH_OVERFLOW ? now : now + w->o->debounce_ms;
	w->st.queued++;
	if (kind == RV_WATCH_DELETE || kind == RV_WATCH_OVERFLOW)
		w->barrier_id = e->id;
}

static void overflow_locked(struct rv_watch *w, const char *why)
{
	/* One report per reconcile: an overflow the consumer has not taken yet
	 * already asks for it. */
	bool pending = w->qcount && q_at(w, 0)->kind == RV_WATCH_OVERFLOW;

	q_clear_locked(w);
	q_append_locked(w, RV_WATCH_OVERFLOW, NULL, rv_mono_ms());
	if (pending)
		return;
	w->st.overflows++;
	rv_log(RV_LOG_WARN, "content events lost, reconcile needed", "reason", why, NULL);
	pthread_cond_broadcast(&w->cv);
}

static void overflow(struct rv_watch *w, const char *why)
{
	pthread_mutex_lock(&w->mu);
	overflow_locked(w, why);
	pthread_mutex_unlock(&w->mu);
}

static void push(struct rv_watch *w, enum rv_watch_kind kind, const char *path)
{
	int64_t now = rv_mono_ms();
	size_t i, seen;

	pthread_mutex_lock(&w->mu);
	for (i = w->qcount, seen = 0; i > 0 && seen < COALESCE_WINDOW; i--, seen++) {
		struct qent *e = q_at(w, i - 1);

		if (e->id <= w->barrier_id)
			break;
		if (e->path && !strcmp(e->path, path)) {
			if (e->kind != kind)
				break;
			e->ready_ms = now + w->o->debounce_ms;
			if (e->ready_ms > e->first_ms + w->o->debounce_max_ms)
				e->ready_ms = e->first_ms + w->o->debounce_max_ms;
			w->st.coalesced++;
			pthread_mutex_unlock(&w->mu);
			return;
		}
	}
	if (w->qcount >= w->o->queue_max) {
		overflow_locked(w, "watch queue full");
		if (w->qcount >= w->o->queue_max) { /* queue_max of 1: keep the overflow */
			pthread_mutex_unlock(&w->mu);
			return;
		}
	}
	q_append_locked(w, kind, rv_strdup(path), now);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* ---- folders ---- */

static char *join(const char *dir, const char *name)
{
	return *dir ? rv_asprintf("%s/%s", dir, name) : rv_strdup(name);
}

static char *full_path(const struct rv_watch *w, const char *rel)
{
	return *rel ? rv_asprintf("%s/%s", w->o->root, rel) : rv_strdup(w->o->root);
}

static int watch_error(struct rv_watch *w, const char *rel, int err)
{
	pthread_mutex_lock(&w->mu);
	w->st.watch_errors++;
	pthread_mutex_unlock(&w->mu);
	if (err == ENOSPC) {
		if (!w->warned_limit)
			rv_log(RV_LOG_ERROR, "inotify watch limit reached", "path", rel, "fix",
			       "raise sysctl fs.inotify.max_user_watches", NULL);
		w->warned_limit = true;
		return rv_error(RV_EFAIL,
				"cannot watch '%s': the inotify watch limit is reached — raise "
				"sysctl fs.inotify.max_user_watches",
				rel);
	}
	rv_log(RV_LOG_WARN, "cannot watch folder", "path", rel, "error", strerror(err), NULL);
	return rv_error_errno(RV_EFAIL, err, "cannot watch folder '%s'", rel);
}

/* Watch `rel` and every folder under it; with `emit`, queue DIR for each
 * folder and PUT for each file and link found (they may predate the
 * watch).  Returns the first watch error; the walk goes on past it. */
static int add_tree(struct rv_watch *w, const char *rel, bool emit)
{
	char **stack = NULL;
	size_t n = 0, alloc = 0;
	int first_rc = 0;

	stack = rv_malloc(sizeof(*stack));
	alloc = 1;
	stack[n++] = rv_strdup(rel);
	while (n) {
		char *p = stack[--n], *full = full_path(w, p);
		struct dirent *d;
		DIR *dir;
		int wd = inotify_add_watch(w->ifd, full, WATCH_MASK);

		if (wd == -1) {
			if (errno != ENOENT && errno != ENOTDIR) {
				int rc = watch_error(w, *p ? p : ".", errno);

				if (!first_rc)
					first_rc = rc;
			}
			goto next;
		}
		dir_set(w, wd, p);
		if (!*p)
			w->root_wd = wd;
		if (emit && *p)
			push(w, RV_WATCH_DIR, p);
		dir = opendir(full);
		if (!dir)
			goto next; /* gone again, or unreadable: the watch reports changes */
		while ((d = readdir(dir))) {
			bool is_dir;
			char *child;

			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			is_dir = d->d_type == DT_DIR;
			if (d->d_type == DT_UNKNOWN) {
				struct stat st;

				if (fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
					continue;
				is_dir = S_ISDIR(st.st_mode);
			}
			child = join(p, d->d_name);
			if (rv_content_excluded(w->o, child, is_dir)) {
				free(child);
				continue;
			}
			if (is_dir) {
				if (n == alloc) {
					alloc *= 2;
					stack = rv_realloc(stack, alloc * sizeof(*stack));
				}
				stack[n++] = child;
				continue;
			}
			if (emit && d->d_type != DT_SOCK && d->d_type != DT_FIFO &&
			    d->d_type != DT_CHR && d->d_type != DT_BLK)
				push(w, RV_WATCH_PUT, child);
			free(child);
		}
		closedir(dir);
	next:
		free(full);
		free(p);
	}
	free(stack);
	if (first_rc)
		overflow(w, "a folder could not be watched");
	return first_rc;
}

/* The folder `top` left the tree: stop watching it and its subtree. */
static void drop_tree(struct rv_watch *w, const char *top)
{
	size_t i = 0;

	while (i < w->ndirs) {
		if (under(w->dirs[i].path, top)) {
			(void)inotify_rm_watch(w->ifd, w->dirs[i].wd);
			dir_remove_at(w, i);
		} else {
			i++;
		}
	}
}

/* A folder renamed inside the tree keeps its watches; only paths change. */
static void rename_tree(struct rv_watch *w, const char *from, const char *to)
{
	size_t n = strlen(from);

	for (size_t i = 0; i < w->ndirs; i++) {
		if (under(w->dirs[i].path, from)) {
			char *np = rv_asprintf("%s%s", to, w->dirs[i].path + n);

			free(w->dirs[i].path);
			w->dirs[i].path = np;
		}
	}
}

static void pending_flush(struct rv_watch *w)
{
	for (size_t i = 0; i < w->npend; i++) {
		drop_tree(w, w->pend[i].path);
		free(w->pend[i].path);
	}
	w->npend = 0;
}

static void pending_add(struct rv_watch *w, uint32_t cookie, const char *path)
{
	if (w->npend == MAX_PENDING) {
		drop_tree(w, w->pend[0].path);
		free(w->pend[0].path);
		memmove(&w->pend[0], &w->pend[1], (MAX_PENDING - 1) * sizeof(w->pend[0]));
		w->npend--;
	}
	w->pend[w->npend].cookie = cookie;
	w->pend[w->npend].path = rv_strdup(path);
	w->npend++;
}

static char *pending_take(struct rv_watch *w, uint32_t cookie)
{
	for (size_t i = 0; i < w->npend; i++) {
		if (w->pend[i].cookie == cookie) {
			char *p = w->pend[i].path;

			memmove(&w->pend[i], &w->pend[i + 1],
				(w->npend - i - 1) * sizeof(w->pend[0]));
			w->npend--;
			return p;
		}
	}
	return NULL;
}

/* ---- events ---- */

static void handle(struct rv_watch *w, const struct inotify_event *ev)
{
	struct dir_ent *d;
	bool is_dir = ev->mask & IN_ISDIR;
	char *rel;

	if (ev->mask & IN_Q_OVERFLOW) {
		overflow(w, "inotify queue overflow");
		return;
	}
	d = dir_find(w, ev->wd);
	if (!d)
		return; /* a watch already dropped */
	if (ev->mask & IN_IGNORED) {
		bool root = ev->wd == w->root_wd;

		dir_remove_at(w, (size_t)(d - w->dirs));
		if (root)
			overflow(w, "the content folder was removed or unmounted");
		return;
	}
	if (!ev->len || !ev->name[0]) {
		if (ev->wd == w->root_wd && (ev->mask & (IN_MOVE_SELF | IN_UNMOUNT)))
			overflow(w, "the content folder was moved or unmounted");
		return; /* other self events are reported by the parent's watch */
	}
	rel = join(d->path, ev->name);
	if (rv_content_excluded(w->o, rel, is_dir)) {
		free(rel);
		return;
	}
	if (ev->mask & IN_MOVED_FROM) {
		push(w, RV_WATCH_DELETE, rel);
		if (is_dir)
			pending_add(w, ev->cookie, rel);
	} else if (ev->mask & IN_MOVED_TO) {
		if (is_dir) {
			char *from = pending_take(w, ev->cookie);

			if (from)
				rename_tree(w, from, rel);
			free(from);
			(void)add_tree(w, rel, true);
		} else {
			push(w, RV_WATCH_PUT, rel);
		}
	} else if (ev->mask & IN_CREATE) {
		struct stat st;

		/* Files opened for writing come with IN_CLOSE_WRITE; a symlink or
		 * a hard link is complete at creation and gets no close. */
		if (is_dir) {
			(void)add_tree(w, rel, true);
		} else {
			char *full = full_path(w, rel);

			if (lstat(full, &st) == 0 &&
			    (S_ISLNK(st.st_mode) || (S_ISREG(st.st_mode) && st.st_nlink > 1)))
				push(w, RV_WATCH_PUT, rel);
			free(full);
		}
	} else if (ev->mask & IN_CLOSE_WRITE) {
		push(w, RV_WATCH_PUT, rel);
	} else if (ev->mask & IN_ATTRIB) {
		push(w, is_dir ? RV_WATCH_DIR : RV_WATCH_PUT, rel);
	} else if (ev->mask & IN_DELETE) {
		push(w, RV_WATCH_DELETE, rel);
	}
	free(rel);
}

static int drain(struct rv_watch *w)
{
	_Alignas(struct inotify_event) char buf[READ_BUF];
	uint64_t nev = 0;

	for (;;) {
		ssize_t n = read(w->ifd, buf, sizeof(buf));
		char *p;

		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return rv_error_errno(RV_EFAIL, errno, "cannot read inotify events");
		}
		for (p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			handle(w, ev);
			nev++;
			p += sizeof(*ev) + ev->len;
		}
	}
	pending_flush(w);
	pthread_mutex_lock(&w->mu);
	w->st.events += nev;
	w->st.dirs = (unsigned)w->ndirs;
	pthread_mutex_unlock(&w->mu);
	return 0;
}

int rv_watch_open(struct rv_watch **out, const struct rv_content_opts *o)
{
	struct rv_watch *w;
	pthread_condattr_t ca;
	struct stat st;
	int rc;

	*out = NULL;
	if ((rc = rv_content_opts_check(o)))
		return rc;
	if (stat(o->root, &st) == -1) {
		if (errno == ENOENT)
			return rv_error(RV_ENOTFOUND, "content folder '%s' does not exist",
					o->root);
		if (errno == EACCES)
			return rv_error(RV_EAUTH, "cannot reach content folder '%s': %s", o->root,
					strerror(errno));
		return rv_error_errno(RV_EFAIL, errno, "cannot stat content folder '%s'", o->root);
	}
	if (!S_ISDIR(st.st_mode))
		return rv_error(RV_EUSAGE, "content folder '%s' is not a folder", o->root);
	if (access(o->root, R_OK | X_OK) == -1)
		return rv_error(RV_EAUTH, "cannot read content folder '%s': %s", o->root,
				strerror(errno));
	if (!o->queue_max)
		return rv_error(RV_EUSAGE, "content watch queue size must be at least 1");
	w = rv_calloc(1, sizeof(*w));
	w->o = o;
	w->root_wd = -1;
	w->efd = -1;
	w->notify_fd = -1;
	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ifd == -1) {
		rc = rv_error_errno(RV_EFAIL, errno,
				    "cannot start inotify (fs.inotify.max_user_instances?)");
		free(w);
		return rc;
	}
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd == -1) {
		rc = rv_error_errno(RV_EFAIL, errno, "cannot create an eventfd");
		close(w->ifd);
		free(w);
		return rc;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	w->qcap = o->queue_max < 256 ? o->queue_max : 256;
	w->q = rv_malloc(w->qcap * sizeof(*w->q));
	rc = add_tree(w, "", false);
	if (!rc && w->root_wd == -1)
		rc = rv_error(RV_EFAIL, "cannot watch content folder '%s'", o->root);
	if (rc) {
		rv_watch_free(w);
		return rc;
	}
	w->st.dirs = (unsigned)w->ndirs;
	*out = w;
	return 0;
}

int rv_watch_poll(struct rv_watch *w, int timeout_ms)
{
	struct pollfd pf[2] = {{w->ifd, POLLIN, 0}, {w->efd, POLLIN, 0}};
	int n = poll(pf, 2, timeout_ms);

	if (n == -1) {
		if (errno == EINTR)
			return 0;
		return rv_error_errno(RV_EFAIL, errno, "poll on inotify failed");
	}
	if (n == 0 || !(pf[0].revents & POLLIN))
		return 0;
	return drain(w);
}

int rv_watch_run(struct rv_watch *w)
{
	for (;;) {
		bool stop;
		int rc;

		pthread_mutex_lock(&w->mu);
		stop = w->stopped;
		pthread_mutex_unlock(&w->mu);
		if (stop)
			return 0;
		/* rv_watch_stop wakes the poll through efd */
		if ((rc = rv_watch_poll(w, -1)))
			return rc;
	}
}

void rv_watch_stop(struct rv_watch *w)
{
	uint64_t one = 1;

	pthread_mutex_lock(&w->mu);
	w->stopped = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (write(w->efd, &one, sizeof(one)) == -1) {
		/* The counter cannot overflow from one write; the flag is set anyway. */
	}
}

void rv_watch_notify(struct rv_watch *w, int fd)
{
	pthread_mutex_lock(&w->mu);
	w->notify_fd = fd;
	pthread_mutex_unlock(&w->mu);
}

int64_t rv_watch_next_ready(struct rv_watch *w)
{
	int64_t at = INT64_MAX;

	pthread_mutex_lock(&w->mu);
	if (w->qcount)
		at = q_at(w, 0)->ready_ms;
	pthread_mutex_unlock(&w->mu);
	return at;
}

static void deadline_ts(struct timespec *ts, int64_t at_ms)
{
	ts->tv_sec = at_ms / 1000;
	ts->tv_nsec = (at_ms % 1000) * 1000000;
}

int rv_watch_pop(struct rv_watch *w, struct rv_watch_event *ev, int timeout_ms)
{
	int64_t deadline = rv_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);

	ev->kind = RV_WATCH_NONE;
	ev->path = NULL;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		int64_t now = rv_mono_ms(), until = deadline;
		struct timespec ts;

		if (w->qcount) {
			struct qent *e = q_at(w, 0);

			if (e->ready_ms <= now) {
				ev->kind = e->kind;
				ev->path = e->path;
				w->qhead = (w->qhead + 1) % w->qcap;
				w->qcount--;
				pthread_mutex_unlock(&w->mu);
				return 0;
			}
			if (e->ready_ms < until)
				until = e->ready_ms;
		} else if (w->stopped) {
			pthread_mutex_unlock(&w->mu);
			return RV_EINTR;
		}
		if (now >= deadline && (!w->qcount || q_at(w, 0)->ready_ms > deadline)) {
			pthread_mutex_unlock(&w->mu);
			return 0;
		}
		deadline_ts(&ts, until);
		pthread_cond_timedwait(&w->cv, &w->mu, &ts);
	}
}

void rv_watch_event_release(struct rv_watch_event *ev)
{
	free(ev->path);
	ev->path = NULL;
	ev->kind = RV_WATCH_NONE;
}

void rv_watch_get_stats(struct rv_watch *w, struct rv_watch_stats *st)
{
	pthread_mutex_lock(&w->mu);
	*st = w->st;
	st->depth = (unsigned)w->qcount;
	pthread_mutex_unlock(&w->mu);
}

void rv_watch_free(struct rv_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	q_clear_locked(w);
	pthread_mutex_unlock(&w->mu);
	free(w->q);
	for (size_t i = 0; i < w->ndirs; i++)
		free(w->dirs[i].path);
	free(w->dirs);
	for (size_t i = 0; i < w->npend; i++)
		free(w->pend[i].path);
	if (w->ifd >= 0)
		close(w->ifd);
	if (w->efd >= 0)
		close(w->efd);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
