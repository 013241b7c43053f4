/* refs.h - the content files a Ghost post names.  Ghost writes an uploaded
 * image's URL into the post (html, feature_image, mobiledoc, lexical) as
 * `__GHOST_URL__/content/images/2026/12/a.jpg`, the site's absolute URL or
 * a path; resized copies (`/content/images/size/w600/format/webp/...`) are
 * made on demand from the original, which is what must exist. */
#ifndef RV_GHOST_REFS_H
#define RV_GHOST_REFS_H

#include <stddef.h>

#include "core/err.h"

/* Called with the content-folder path an image reference resolves to
 * ("images/2026/12/a.jpg": percent-escapes decoded, the resized-copy
 * prefix dropped, query and fragment cut); non-zero stops and is returned.
 * References whose path is not canonical (empty, "..", too long) are
 * skipped: they cannot name a file of the folder. */
typedef int (*rv_ghost_ref_fn)(void *ud, const char *path);

/* The columns of Ghost's posts table that may hold image references
 * (Ghost 5), NULL-terminated. */
extern const char *const rv_ghost_post_columns[];

/* Every `/content/images/...` reference in `text` (n bytes, any of the
 * post's columns: HTML, JSON or a bare URL). */
int rv_ghost_image_refs(const char *text, size_t n, rv_ghost_ref_fn fn, void *ud) RV_WARN_UNUSED;

#endif
