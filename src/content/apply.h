/* apply.h - make one content entry real in a local folder, safely: the
 * building blocks of `revenant restore` and `revenant standby`.
 *
 * Every file is downloaded into a staging folder inside the target
 * (".revenant-staging/", same file system), checked against its recorded
 * size and SHA-256, given its mode and mtime, and only then renamed into
 * place, so a reader of the folder sees the old file or the new one, never
 * a half-written or wrong one.  Paths are walked one folder at a time from
 * a descriptor of the target with O_NOFOLLOW|O_DIRECTORY and the last
 * component is changed with *at() calls on its parent: nothing is ever
 * written, removed or chmod-ed through a symlink, whatever is on disk, and
 * a symlink or file standing where the record wants a folder is replaced.
 * Paths must be canonical (rv_content_path_check: RV_ECORRUPT otherwise).
 *
 * All functions are thread-safe on one struct rv_apply (workers share it).
 */
#ifndef RV_CONTENT_APPLY_H
#define RV_CONTENT_APPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "format/content.h"
#include "core/err.h"

struct rv_store;

/* The staging folder's name in the target; restore and standby skip it
 * and remove it when they finish. */
#define RV_APPLY_STAGING ".revenant-staging"

struct rv_apply_opts {
	/* Restore symlinks whose target is absolute or leaves the folder
	 * (default: skipped with a warning). */
	bool allow_outside_links;
	/* fsync each file before the rename (standby); restore syncs the
	 * whole file system once at the end instead. */
	bool fsync;
};

struct rv_apply;

/* Creates `dir` (and its parents) if missing and an empty staging folder
 * in it (leftovers of a killed run are removed).  RV_EAUTH / RV_EUSAGE /
 * RV_EFAIL naming the folder when it cannot be used. */
/* Whether another process holds `dir` as rv_apply_open does (a running
 * standby, restore or `revenant run`); false when it cannot tell. */
bool rv_apply_busy(const char *dir);

int rv_apply_open(struct rv_apply **out, struct rv_store *s, const char *dir,
		  const struct rv_apply_opts *o) RV_WARN_UNUSED;
/* Removes the staging folder. */
void rv_apply_free(struct rv_apply *a);
/* The absolute path of the target folder. */
const char *rv_apply_root(const struct rv_apply *a);

enum rv_apply_result {
	RV_APPLIED,	/* written (downloaded, created, replaced) */
	RV_APPLY_SAME,	/* already correct, left alone */
	RV_APPLY_FIXED, /* content was right; mode or mtime corrected */
	RV_APPLY_SKIP,	/* a symlink pointing outside the folder, not created */
};

/* A regular file: skipped when the local one has the recorded size and
 * mtime (and mode), or the recorded size and SHA-256 (then mode and mtime
 * are fixed); else downloaded from its blob.  RV_ECORRUPT / RV_ENOTFOUND
 * naming the file when the blob is damaged or missing; nothing is left at
 * the path then (the old file, if any, stays).  `*bytes` gets the bytes
 * downloaded. */
int rv_apply_file(struct rv_apply *a, const struct rv_centry *e, enum rv_apply_result *res,
		  uint64_t *bytes) RV_WARN_UNUSED;

/* Download and check a file into the staging folder without placing it;
 * rv_apply_place() renames it in later (standby: every file of a batch is
 * fetched in parallel, then the batch is applied in order).  `*staged` is a
 * fresh string, NULL when `check_existing` found the local file already
 * correct (`*res`). */
int rv_apply_stage(struct rv_apply *a, const struct rv_centry *e, bool check_existing,
		   char **staged, enum rv_apply_result *res, uint64_t *bytes) RV_WARN_UNUSED;
int rv_apply_place(struct rv_apply *a, const char *staged, const char *path) RV_WARN_UNUSED;
/* Drop a staged file that will not be placed. */
void rv_apply_unstage(struct rv_apply *a, const char *staged);

/* A folder: created if missing, replacing a file or link in the way.  With
 * `final` its mode and mtime are set now; without it the folder is left
 * writable by its owner (mode | 0700) and rv_apply_dir_finish() sets them
 * after its contents are written. */
int rv_apply_dir(struct rv_apply *a, const struct rv_centry *e, bool final) RV_WARN_UNUSED;
int rv_apply_dir_finish(struct rv_apply *a, const char *path, uint32_t mode,
			int64_t mtime_ns) RV_WARN_UNUSED;

/* A symlink, created beside and renamed over whatever is there. */
int rv_apply_link(struct rv_apply *a, const struct rv_centry *e,
		  enum rv_apply_result *res) RV_WARN_UNUSED;

/* Remove the path and, for a folder, everything under it (symlinks are
 * removed, never followed).  A missing path is not an error. */
int rv_apply_remove(struct rv_apply *a, const char *path) RV_WARN_UNUSED;

/* Whether a symlink at `path` with `target` stays inside the folder
 * whatever the other symlinks in it are: `target` relative, ".." only
 * before its first name and never climbing above the folder from the
 * link's own folder, and ending below the folder (not at it).  A textual
 * rule that holds by induction over every link restored under it, so a
 * chain of links cannot lead out.  rv_apply_link() also asks the kernel
 * (openat2 RESOLVE_BENEATH, where it exists) about what is on disk. */
bool rv_apply_link_inside(const char *path, const char *target);

#endif
