/* watch.h - recursive inotify watcher of the content folder.
 *
 * One thread runs rv_watch_run() (or a test calls rv_watch_poll()); one
 * consumer takes events with rv_watch_pop().  What the consumer gets:
 *
 *   PUT path       a file or symlink was written (after close), created as a
 *                  link, moved in or changed mode: stat and ship it.  It may
 *                  be gone by then: that is not an error.
 *   DIR path       a folder appeared (created or moved in) or changed mode;
 *                  the watcher has already walked it, added watches and
 *                  queued PUT/DIR for everything inside it.
 *   DELETE path    a file, link or whole folder subtree left (deleted,
 *                  renamed away, moved out of the tree).
 *   OVERFLOW       events were lost (kernel queue overflow, our queue full,
 *                  a watch could not be added, the folder itself moved):
 *                  reconcile the folder against the last manifest.
 *
 * Events are debounced: a path is handed out after `debounce_ms` without a
 * new event for it (at most `debounce_max_ms` after its first), and repeats
 * are coalesced.  Order across paths is kept, and no event is merged across
 * a DELETE, so a folder deleted and recreated comes out in that order. */
#ifndef RV_CONTENT_WATCH_H
#define RV_CONTENT_WATCH_H

#include <stdint.h>

#include "content/content.h"

enum rv_watch_kind {
	RV_WATCH_NONE,
	RV_WATCH_PUT,
	RV_WATCH_DIR,
	RV_WATCH_DELETE,
	RV_WATCH_OVERFLOW,
};

struct rv_watch_event {
	enum rv_watch_kind kind;
	char *path; /* relative; owned by the caller (NULL for NONE/OVERFLOW) */
};

struct rv_watch_stats {
	uint64_t events;    /* inotify events read */
	uint64_t queued;    /* entries added to the queue */
	uint64_t coalesced; /* repeats merged into a queued entry */
	uint64_t overflows; /* OVERFLOW events raised */
	uint64_t watch_errors;
	unsigned depth; /* entries waiting now */
	unsigned dirs;	/* folders watched */
};

struct rv_watch;

/* Watches every folder under o->root (not excluded) and returns; no events
 * for what is already there (start-up reconciliation covers it).  `o` is
 * borrowed for the watcher's lifetime.  RV_ENOTFOUND / RV_EAUTH / RV_EUSAGE
 * for a bad folder; RV_EFAIL naming fs.inotify.max_user_watches when the
 * kernel refuses more watches. */
int rv_watch_open(struct rv_watch **out, const struct rv_content_opts *o) RV_WARN_UNUSED;
/* Wait up to `timeout_ms` for inotify events and process all that are there. */
int rv_watch_poll(struct rv_watch *w, int timeout_ms) RV_WARN_UNUSED;
/* rv_watch_poll until rv_watch_stop(); for a dedicated thread. */
int rv_watch_run(struct rv_watch *w) RV_WARN_UNUSED;
/* Thread-safe; makes rv_watch_run return and wakes rv_watch_pop. */
void rv_watch_stop(struct rv_watch *w);
/* Have `fd` (an eventfd the consumer polls) written whenever an event is
 * queued into an empty queue or an overflow replaces the queue: with
 * rv_watch_next_ready, a consumer can sleep instead of polling.  -1: none. */
void rv_watch_notify(struct rv_watch *w, int fd);
/* When the first queued event becomes ready (rv_mono_ms() clock; it can
 * move later while the path keeps changing), INT64_MAX when none is queued. */
int64_t rv_watch_next_ready(struct rv_watch *w);
/* The next ready event, waiting up to `timeout_ms`; kind NONE on timeout.
 * RV_EINTR once stopped and empty. */
int rv_watch_pop(struct rv_watch *w, struct rv_watch_event *ev, int timeout_ms) RV_WARN_UNUSED;
void rv_watch_event_release(struct rv_watch_event *ev);
void rv_watch_get_stats(struct rv_watch *w, struct rv_watch_stats *st);
/* After rv_watch_run has returned. */
void rv_watch_free(struct rv_watch *w);

#endif
