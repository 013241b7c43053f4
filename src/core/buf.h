/* buf.h - growable byte buffer with a hard cap (curl's dynbuf idea).
 *
 * Every buffer that grows from outside input is given a maximum at init;
 * growing past it fails with RV_ECORRUPT instead of eating memory.  The
 * contents are always NUL-terminated so text can be used as a C string. */
#ifndef RV_BUF_H
#define RV_BUF_H

#include <stddef.h>
#include <stdarg.h>

#include "core/err.h"

struct rv_buf {
	char *data; /* NULL until the first add */
	size_t len;
	size_t alloc;
	size_t max; /* hard cap on len */
};

#define RV_BUF_INIT(maxlen)                                                                        \
	{                                                                                          \
		NULL, 0, 0, (maxlen)                                                               \
	}

void rv_buf_init(struct rv_buf *b, size_t max);
int rv_buf_add(struct rv_buf *b, const void *p, size_t n) RV_WARN_UNUSED;
int rv_buf_addstr(struct rv_buf *b, const char *s) RV_WARN_UNUSED;
/* Room for up to `n` more bytes, for a writer that knows only their bound
 * (an escaper): `*at` is where they go; rv_buf_grew(b, k) then makes the
 * first k <= n of them part of the contents.  The cap applies to `n`. */
int rv_buf_room(struct rv_buf *b, size_t n, char **at) RV_WARN_UNUSED;
void rv_buf_grew(struct rv_buf *b, size_t k);
int rv_buf_addf(struct rv_buf *b, const char *fmt, ...) RV_PRINTF(2, 3) RV_WARN_UNUSED;
int rv_buf_vaddf(struct rv_buf *b, const char *fmt, va_list ap) RV_PRINTF(2, 0) RV_WARN_UNUSED;
/* The contents as a C string ("" when empty); borrowed. */
const char *rv_buf_str(const struct rv_buf *b);
/* Empty it, keeping the allocation. */
void rv_buf_reset(struct rv_buf *b);
/* Free the allocation; the buffer can be reused (same cap). */
void rv_buf_release(struct rv_buf *b);
/* Hand the allocation to the caller (free() it); never NULL. */
char *rv_buf_detach(struct rv_buf *b, size_t *len_out);

#endif
