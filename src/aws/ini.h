/* ini.h - the INI dialect of AWS's shared files (~/.aws/credentials and
 * ~/.aws/config).
 *
 * Written by hand because no Debian library parses this dialect: `[profile
 * NAME]` sections, `#`/`;` comments (inline only after whitespace), and
 * indented sub-property lines (`s3 =` followed by `  key = value`) that a
 * generic INI parser rejects or misreads.  Input is capped (line length,
 * file size) since the files may come from anywhere. */
#ifndef RV_INI_H
#define RV_INI_H

#include <stddef.h>

#include "core/err.h"

#define RV_INI_MAX_LINE 16384 /* session tokens run to a few KiB */
#define RV_INI_MAX_FILE (1u << 20)

struct rv_ini;

/* Parse `len` bytes of `text`; `what` names the file in error messages.
 * RV_ECORRUPT (with the line number) on a malformed or over-long line. */
int rv_ini_parse(struct rv_ini **out, const char *text, size_t len,
		 const char *what) RV_WARN_UNUSED;
/* Read and parse a file; RV_ENOTFOUND when it does not exist. */
int rv_ini_load(struct rv_ini **out, const char *path) RV_WARN_UNUSED;
void rv_ini_free(struct rv_ini *ini);
/* Value of `key` in section `section` (exact names, `section` as written
 * between the brackets with inner whitespace collapsed, e.g. "profile dev");
 * NULL when absent.  Borrowed. */
const char *rv_ini_get(const struct rv_ini *ini, const char *section, const char *key);
/* Whether the section exists (even empty). */
int rv_ini_has_section(const struct rv_ini *ini, const char *section);

#endif
