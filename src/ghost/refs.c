/* refs.c - image references in Ghost's posts (see refs.h). */
#include "ghost/refs.h"
#include "core/util.h"
#include "format/content.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MARK "/content/images/"

const char *const rv_ghost_post_columns[] = {"html", "feature_image", "mobiledoc", "lexical", NULL};

/* Where a URL ends inside HTML, JSON, CSS or a srcset list. */
static bool url_end(unsigned char c)
{
	return c <= ' ' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '?' || c == '#' ||
	       c == '\\' || c == ')' || c == '`' || c == 0x7f;
}

/* Drop one leading "name/" segment when it starts with `word`. */
static const char *skip_seg(const char *p, const char *word)
{
	size_t w = strlen(word);
	const char *slash;

	if (strncmp(p, word, w) != 0 || !(slash = strchr(p + w, '/')))
		return p;
	return slash + 1;
}

/* "size/w600/format/webp/2026/a.jpg" -> "2026/a.jpg" */
static const char *original(const char *p)
{
	if (strncmp(p, "size/", 5) != 0)
		return p;
	p = skip_seg(p + 5, "w");
	if (!strncmp(p, "format/", 7))
		p = skip_seg(p + 7, "");
	return p;
}

static int one_ref(const char *s, size_t n, rv_ghost_ref_fn fn, void *ud)
{
	char raw[RV_CPATH_MAX + 1], path[RV_CPATH_MAX + 1];
	size_t k = 0;

	if (n > RV_CPATH_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < n && (hi = rv_hexval(s[i + 1])) >= 0 &&
		    (lo = rv_hexval(s[i + 2])) >= 0 && (hi || lo)) {
			raw[k++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			raw[k++] = s[i];
		}
	}
	raw[k] = '\0';
	if ((size_t)snprintf(path, sizeof(path), "images/%s", original(raw)) >= sizeof(path))
		return 0;
	if (!strcmp(path, "images/") || rv_content_path_check(path) != 0) {
		rv_error_clear();
		return 0;
	}
	return fn(ud, path);
}

int rv_ghost_image_refs(const char *text, size_t n, rv_ghost_ref_fn fn, void *ud)
{
	const size_t m = sizeof(MARK) - 1;
	size_t i = 0;

	while (i + m <= n) {
		const char *hit = memmem(text + i, n - i, MARK, m);
		size_t start, end;
		int rc;

		if (!hit)
			break;
		start = end = (size_t)(hit - text) + m;
		while (end < n && !url_end((unsigned char)text[end]))
			end++;
		if (end > start && (rc = one_ref(text + start, end - start, fn, ud)))
			return rc;
		i = end > start ? end : start;
	}
	return 0;
}
