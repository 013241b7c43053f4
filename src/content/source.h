/* source.h - the content as the replication engine sees it: the writer's
 * side of content (the reader's side is restore.h and apply.h).  Ghost's
 * content folder is the one source today (rv_csrc_folder); a second one —
 * the bucket Ghost's S3 storage adapter writes images to, say — would be a
 * second ops table, not a branch in the engine.
 *
 * Contract, what the engine relies on:
 *   - events (watch_*) say which paths may have changed (PUT, DIR, DELETE;
 *     content/watch.h has their meaning) or that some were lost (OVERFLOW:
 *     reconcile); a watched source writes the engine's eventfd when an
 *     event becomes available, so the engine sleeps instead of polling;
 *   - a scan lists every entry in manifest order (rv_content_path_cmp),
 *     without hashes, for reconciliation against the last recorded state;
 *   - present says whether a path exists now (a scan is a moment ago);
 *   - read gives one path's entry with its blob already in the store: the
 *     bytes uploaded are the bytes hashed, a path that changed while read is
 *     CHANGED (read it again), one that is not content (gone, a socket, a
 *     link on the way) is GONE; store failures are retried until they
 *     succeed or a shutdown is asked (ABORTED).
 * The include/exclude filter (content.h) applies to all of it. */
#ifndef RV_CONTENT_SOURCE_H
#define RV_CONTENT_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "content/content.h"
#include "format/content.h"
#include "content/watch.h"
#include "core/err.h"

struct rv_store;
struct rv_metrics;

/* Files up to this size are read into memory and uploaded from there;
 * larger ones are copied to a temporary file while hashed. */
#define RV_CSRC_MEM_MAX (1u << 20)

enum rv_csrc_result {
	RV_CSRC_RECORD,	    /* `e` is what to record (its blob is in the store) */
	RV_CSRC_GONE,	    /* nothing there (or nothing that is content) */
	RV_CSRC_CHANGED,    /* it changed while being read: read it again */
	RV_CSRC_UNREADABLE, /* permission or I/O error: `err` */
	RV_CSRC_ABORTED,    /* shutdown while the store was failing */
};

struct rv_csrc_read {
	enum rv_csrc_result res;
	struct rv_centry e; /* RECORD: strings owned (rv_centry_release) */
	int err;	    /* errno, UNREADABLE */
	uint64_t uploaded;  /* bytes sent to the store (0 when the blob was there) */
};

struct rv_csrc_ops {
	const char *name; /* "folder" */
	/* `o` is borrowed for the source's lifetime.  RV_ENOTFOUND,
	 * RV_EAUTH or RV_EUSAGE with a message that says what to fix. */
	int (*open)(void **h, const struct rv_content_opts *o);
	void (*close)(void *h);

	/* Start watching (no events for what is already there) and write
	 * `wake_fd` whenever an event becomes available. */
	int (*watch_start)(void *h, int wake_fd);
	/* The watcher's thread body: returns after watch_stop. */
	int (*watch_run)(void *h);
	void (*watch_stop)(void *h); /* thread-safe */
	/* When the first queued event is ready (rv_mono_ms clock), INT64_MAX
	 * when none is. */
	int64_t (*watch_next_ready)(void *h);
	/* The next ready event (kind NONE: none now); RV_EINTR once stopped. */
	int (*watch_pop)(void *h, struct rv_watch_event *ev);
	void (*watch_stats)(void *h, struct rv_watch_stats *st);

	int (*scan_open)(void *h, void **it);
	/* The next entry (borrowed until the next call) or NULL at the end. */
	int (*scan_next)(void *it, const struct rv_centry **e);
	void (*scan_close)(void *it);

	bool (*present)(void *h, const char *path);
	/* Thread-safe: the engine's upload workers call it in parallel.
	 * `m` may be NULL. */
	void (*read)(void *h, struct rv_store *st, struct rv_metrics *m, const char *path,
		     struct rv_csrc_read *out);
};

/* A source: its ops and open handle. */
struct rv_csrc {
	const struct rv_csrc_ops *ops;
	void *h;
};

extern const struct rv_csrc_ops rv_csrc_folder;

void rv_csrc_read_release(struct rv_csrc_read *r);

#endif
