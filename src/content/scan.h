/* scan.h - walk the content folder in manifest order (rv_content_path_cmp),
 * for start-up and overflow reconciliation against the last manifest.
 *
 * Memory is one sorted listing per open folder level (depth x folder size),
 * never the whole tree.  Symlinks are reported, not followed; sockets, fifos
 * and devices are skipped; an entry that vanishes mid-walk is skipped
 * silently and an unreadable one is logged once per walk and counted. */
#ifndef RV_CONTENT_SCAN_H
#define RV_CONTENT_SCAN_H

#include <stdint.h>

#include "content/content.h"
#include "format/content.h"

struct rv_scan;

/* RV_ENOTFOUND when the folder does not exist, RV_EAUTH when it cannot be
 * read, RV_EUSAGE when it is not a folder. */
int rv_scan_open(struct rv_scan **out, const struct rv_content_opts *o) RV_WARN_UNUSED;
/* The next file, dir or link entry (borrowed until the next call; sha256 is
 * not computed), or NULL at the end. */
int rv_scan_next(struct rv_scan *s, const struct rv_centry **out) RV_WARN_UNUSED;
/* Entries skipped because they could not be read. */
uint64_t rv_scan_unreadable(const struct rv_scan *s);
void rv_scan_free(struct rv_scan *s);

#endif
