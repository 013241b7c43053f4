/* content.h - options of content replication and the include/exclude filter
 * shared by the watcher and the scanner.
 *
 * Globs are relative to the content folder and anchored at it:
 *   "logs/"        the folder logs and everything under it (trailing '/')
 *   "data/x.db"    fnmatch globs (star, ?, [...]) that never cross a '/'
 *   two stars, '/', then a pattern: matches at any depth
 * A pattern that matches a folder excludes its whole subtree.  An include
 * pattern overrides the excludes for the paths it matches, but cannot reach
 * inside a folder that is itself excluded (the folder is never walked). */
#ifndef RV_CONTENT_H
#define RV_CONTENT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

/* Ghost's content folder: logs, regenerable resized images, and the SQLite
 * files the database adapter ships consistently (a copy of a live .db file
 * is not a backup). */
extern const char *const rv_content_default_excludes[];

struct rv_content_opts {
	const char *root;	    /* the content folder (absolute or relative) */
	const char *const *exclude; /* NULL-terminated; NULL = rv_content_default_excludes */
	const char *const *include; /* NULL-terminated; NULL = none */
	/* Relative path of a file left out with every name that extends it
	 * after '-' or '.' (-wal, -shm, -journal...), whatever exclude and
	 * include say: the SQLite database when it lies inside the folder,
	 * which the database replication ships, never the folder's. */
	const char *always_exclude;
	unsigned queue_max;	  /* watcher queue entries before "overflow" */
	unsigned debounce_ms;	  /* quiet time before an event is handed out */
	unsigned debounce_max_ms; /* a path rewritten continuously is handed out anyway */
};

/* queue_max 65536, debounce 50 ms, debounce_max 1000 ms, default excludes. */
void rv_content_opts_default(struct rv_content_opts *o);

/* RV_EUSAGE naming the pattern when a glob is malformed (empty, absolute,
 * "." or ".." segments). */
int rv_content_opts_check(const struct rv_content_opts *o) RV_WARN_UNUSED;

/* `path` relative to the folder `root` (compared as real paths; the file
 * itself need not exist, its folder must), or NULL when it lies outside.
 * Free the result. */
char *rv_content_rel_under(const char *root, const char *path);

/* Whether `rel` (relative to the root, no leading '/') is left out.
 * `is_dir` lets "x/" patterns match folders only. */
bool rv_content_excluded(const struct rv_content_opts *o, const char *rel, bool is_dir);

#endif
