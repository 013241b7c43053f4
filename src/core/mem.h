/* mem.h - allocation that never returns NULL.
 *
 * As in git and redis, running out of memory is not a recoverable condition
 * for a small agent: these abort with a message rather than thread NULL
 * checks through every caller.  Input-driven growth is bounded by rv_buf
 * caps, so OOM here means the machine, not hostile input. */
#ifndef RV_MEM_H
#define RV_MEM_H

#include <stddef.h>

void *rv_malloc(size_t n);
void *rv_calloc(size_t nmemb, size_t size);
void *rv_realloc(void *p, size_t n);
/* The one growable array: `p` (of `elem`-byte items, `*cap` of them) made
 * room for at least `need` items, doubling from 16; returns the (maybe
 * moved) array.  Call it before every append: `v = rv_grow(v, &cap, n + 1,
 * sizeof(*v));`.  Input-driven arrays still cap `n` themselves. */
void *rv_grow(void *p, size_t *cap, size_t need, size_t elem);
char *rv_strdup(const char *s);
char *rv_strndup(const char *s, size_t n);
/* snprintf into a fresh allocation. */
char *rv_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
