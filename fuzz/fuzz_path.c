/* fuzz_path.c - the checks that stand between a name from the store and a
 * local path: rv_content_path_check (content paths), rv_apply_link_inside
 * (symlink targets) and rv_store_key_local / rv_store_key_check (listed
 * keys).  Input: up to three NUL-separated strings A, B, C (missing ones
 * are ""); A is a content path and a listing prefix, B a link target, C a
 * listed key.  Besides not crashing, whatever a check accepts must honour
 * its contract, which this harness restates independently. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "content/apply.h"
#include "format/content.h"
#include "core/err.h"
#include "core/mem.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Next '/'-separated segment of *p (length in *n); false at the end. */
static bool seg(const char **p, const char **s, size_t *n, bool *more)
{
	if (!*p)
		return false;
	*s = *p;
	*n = strcspn(*p, "/");
	*more = (*p)[*n] == '/';
	*p = *more ? *p + *n + 1 : NULL;
	return true;
}

static bool is_dot(const char *s, size_t n)
{
	return (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* An accepted content path: relative, no empty, "." or ".." segment. */
static void check_content_path(const char *a)
{
	const char *p = a, *s;
	size_t n;
	bool more;

	if (rv_content_path_check(a)) {
		rv_error_clear();
		return;
	}
	if (!*a)
		abort();
	while (seg(&p, &s, &n, &more))
		if (!n || is_dot(s, n))
			abort();
}

/* An accepted link: resolved from the link's folder, ".." only before
 * any name, never above the root, and ending below it. */
static void check_link(const char *path, const char *target)
{
	const char *p = target, *s;
	long depth = 0;
	size_t n;
	bool more, named = false;

	if (!rv_apply_link_inside(path, target))
		return;
	if (!*target || target[0] == '/' || rv_content_path_check(path))
		abort();
	for (const char *q = path; *q; q++)
		depth += *q == '/';
	while (seg(&p, &s, &n, &more)) {
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (named || --depth < 0)
				abort();
		} else if (n && !is_dot(s, n)) {
			named = true;
			depth++;
		}
	}
	if (depth < 1)
		abort();
}

/* An accepted listed key: under the prefix, and the rest a relative path
 * that cannot leave the folder it is joined to. */
static void check_key(const char *key, const char *prefix)
{
	const char *rel, *p, *s;
	size_t n;
	bool more;

	(void)!rv_store_key_check(key);
	if (rv_store_key_local(key, prefix, &rel)) {
		rv_error_clear();
		return;
	}
	if (strncmp(key, prefix, strlen(prefix)) || rel != key + strlen(prefix) || !*rel ||
	    rel[0] == '/' || has_control(key))
		abort();
	p = rel;
	while (seg(&p, &s, &n, &more))
		if ((!n && (more || s == rel)) || is_dot(s, n))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = rv_malloc(size + 3), *a, *b, *c;

	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = buf[size + 2] = '\0';
	a = buf;
	b = a + strlen(a) + 1;
	b = b <= buf + size ? b : buf + size + 1;
	c = b + strlen(b) + 1;
	c = c <= buf + size + 1 ? c : buf + size + 2;
	check_content_path(a);
	check_link(a, b);
	check_key(c, a);
	check_key(b, "");
	free(buf);
	return 0;
}
