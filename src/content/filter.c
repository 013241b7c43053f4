/* filter.c - include/exclude globs of the content folder (see content.h). */
#include "content/content.h"

#include "core/mem.h"

#include <fnmatch.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

const char *const rv_content_default_excludes[] = {
    "logs/",	     "images/size/",	  "data/*.db", "data/*.db-wal",
    "data/*.db-shm", "data/*.db-journal", NULL,
};

void rv_content_opts_default(struct rv_content_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->queue_max = 65536;
	o->debounce_ms = 50;
	o->debounce_max_ms = 1000;
}

static int check_glob(const char *kind, const char *g)
{
	const char *seg = g;

	if (!*g || *g == '/')
		return rv_error(RV_EUSAGE,
				"content %s pattern '%s' must be relative to the content folder",
				kind, g);
	while (*seg) {
		size_t n = strcspn(seg, "/");

		if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return rv_error(RV_EUSAGE,
					"content %s pattern '%s' may not use '.' or '..' segments",
					kind, g);
		seg += n;
		if (*seg)
			seg++;
	}
	return 0;
}

int rv_content_opts_check(const struct rv_content_opts *o)
{
	const char *const *p;
	int rc;

	if (!o->root || !*o->root)
		return rv_error(RV_EUSAGE, "content folder is not set");
	for (p = o->exclude ? o->exclude : rv_content_default_excludes; *p; p++)
		if ((rc = check_glob("exclude", *p)))
			return rc;
	for (p = o->include; p && *p; p++)
		if ((rc = check_glob("include", *p)))
			return rc;
	return 0;
}

/* One pattern against one path; "dir/" patterns only match folders. */
static bool glob_match(const char *pat, const char *rel, bool is_dir)
{
	char tmp[4096];
	size_t n = strlen(pat);
	const char *p;

	if (n && pat[n - 1] == '/') {
		if (!is_dir || n >= sizeof(tmp))
			return false;
		memcpy(tmp, pat, n - 1);
		tmp[n - 1] = '\0';
		pat = tmp;
	}
	if (strncmp(pat, "**/", 3) == 0) {
		pat += 3;
		for (p = rel;; p++) {
			if (fnmatch(pat, p, FNM_PATHNAME) == 0)
				return true;
			p = strchr(p, '/');
			if (!p)
				return false;
		}
	}
	return fnmatch(pat, rel, FNM_PATHNAME) == 0;
}

static bool any_match(const char *const *pats, const char *rel, bool is_dir)
{
	for (; pats && *pats; pats++)
		if (glob_match(*pats, rel, is_dir))
			return true;
	return false;
}

bool rv_content_excluded(const struct rv_content_opts *o, const char *rel, bool is_dir)
{
	const char *const *ex = o->exclude ? o->exclude : rv_content_default_excludes;

	if (o->always_exclude && !is_dir) {
		size_t n = strlen(o->always_exclude);

		if (!strncmp(rel, o->always_exclude, n) && strchr("-.", rel[n]))
			return true; /* the file ('\0' is in the set) or a companion */
	}

	if (!any_match(ex, rel, is_dir))
		return false;
	return !any_match(o->include, rel, is_dir);
}

char *rv_content_rel_under(const char *root, const char *path)
{
	char *d = rv_strdup(path), *rr = realpath(root, NULL), *rd = realpath(dirname(d), NULL);
	const char *base = strrchr(path, '/');
	char *rel = NULL;

	base = base ? base + 1 : path;
	if (rr && rd && *base) {
		size_t n = strlen(rr);

		if (!strcmp(rd, rr))
			rel = rv_strdup(base);
		else if (!strncmp(rd, rr, n) && (rd[n] == '/' || n == 1))
			rel = rv_asprintf("%s/%s", rd + n + (n > 1), base);
	}
	free(rr);
	free(rd);
	free(d);
	return rel;
}
