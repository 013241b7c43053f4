#include "core/buf.h"
#include "core/mem.h"

#include <stdint.h>

#include <stdio.h>

void rv_buf_init(struct rv_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->max = max;
}

static int buf_grow(struct rv_buf *b, size_t extra)
{
	size_t need, n;

	if (extra > b->max || b->len > b->max - extra)
		return rv_error(RV_ECORRUPT, "data exceeds the %zu-byte limit", b->max);
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return 0;
	n = b->alloc ? b->alloc : 64;
	while (n < need)
		n = n > SIZE_MAX / 2 ? need : n * 2;
	if (n > b->max + 1)
		n = b->max + 1;
	b->data = rv_realloc(b->data, n);
	b->alloc = n;
	return 0;
}

int rv_buf_add(struct rv_buf *b, const void *p, size_t n)
{
	int rc = buf_grow(b, n);

	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int rv_buf_room(struct rv_buf *b, size_t n, char **at)
{
	int rc = buf_grow(b, n);

	*at = rc ? NULL : b->data + b->len;
	return rc;
}

void rv_buf_grew(struct rv_buf *b, size_t k)
{
	b->len += k;
	b->data[b->len] = '\0';
}

int rv_buf_addstr(struct rv_buf *b, const char *s)
{
	return rv_buf_add(b, s, strlen(s));
}

int rv_buf_vaddf(struct rv_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n, rc;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return rv_error(RV_EFAIL, "bad format string");
	rc = buf_grow(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int rv_buf_addf(struct rv_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = rv_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

const char *rv_buf_str(const struct rv_buf *b)
{
	return b->data ? b->data : "";
}

void rv_buf_reset(struct rv_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void rv_buf_release(struct rv_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
}

char *rv_buf_detach(struct rv_buf *b, size_t *len_out)
{
	char *p = b->data ? b->data : rv_strdup("");

	if (len_out)
		*len_out = b->len;
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	return p;
}
