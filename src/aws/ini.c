#include "aws/ini.h"
#include "core/mem.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ini_entry {
	size_t section; /* index into sections */
	char *key;
	char *value;
};

struct rv_ini {
	char **sections;
	size_t nsections;
	struct ini_entry *entries;
	size_t nentries, alloc;
};

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static void trim(const char **b, const char **e)
{
	while (*b < *e && is_space(**b))
		(*b)++;
	while (*e > *b && is_space((*e)[-1]))
		(*e)--;
}

/* A comment inside a line starts at # or ; preceded by whitespace, so that
 * values holding those characters (rare, but legal) survive. */
static const char *inline_comment(const char *b, const char *e)
{
	for (const char *p = b + 1; p < e; p++)
		if ((*p == '#' || *p == ';') && is_space(p[-1]))
			return p;
	return e;
}

static void add_section(struct rv_ini *ini, const char *b, const char *e)
{
	char *name = rv_malloc((size_t)(e - b) + 1), *w = name;
	int in_space = 0;

	/* "[profile   dev]" and "[profile dev]" name the same profile. */
	for (const char *p = b; p < e; p++) {
		if (is_space(*p)) {
			in_space = 1;
			continue;
		}
		if (in_space && w > name)
			*w++ = ' ';
		in_space = 0;
		*w++ = *p;
	}
	*w = '\0';
	ini->sections = rv_realloc(ini->sections, (ini->nsections + 1) * sizeof(char *));
	ini->sections[ini->nsections++] = name;
}

static void add_entry(struct rv_ini *ini, const char *kb, const char *ke, const char *vb,
		      const char *ve)
{
	struct ini_entry *en;

	ini->entries = rv_grow(ini->entries, &ini->alloc, ini->nentries + 1, sizeof(*ini->entries));
	en = &ini->entries[ini->nentries++];
	en->section = ini->nsections - 1;
	en->key = rv_strndup(kb, (size_t)(ke - kb));
	en->value = rv_strndup(vb, (size_t)(ve - vb));
}

static int parse_line(struct rv_ini *ini, const char *b, const char *e, int *in_sub, size_t lineno,
		      const char *what)
{
	const char *eq;
	int indented = b < e && is_space(*b);

	trim(&b, &e);
	if (b == e || *b == '#' || *b == ';')
		return 0;
	if (*b == '[') {
		const char *close = memchr(b, ']', (size_t)(e - b));
		const char *nb = b + 1, *ne;
		if (!close)
			return rv_error(RV_ECORRUPT, "line %zu of '%s': section header has no ']'",
					lineno, what);
		ne = close;
		trim(&nb, &ne);
		if (nb == ne)
			return rv_error(RV_ECORRUPT, "line %zu of '%s': empty section name", lineno,
					what);
		/* Anything after ']' must be a comment. */
		for (const char *p = close + 1; p < e; p++) {
			if (*p == '#' || *p == ';')
				break;
			if (!is_space(*p))
				return rv_error(RV_ECORRUPT,
						"line %zu of '%s': text after section header",
						lineno, what);
		}
		add_section(ini, nb, ne);
		*in_sub = 0;
		return 0;
	}
	if (!ini->nsections)
		return rv_error(RV_ECORRUPT,
				"line %zu of '%s': setting before the first [section] header",
				lineno, what);
	/* Indented lines under "key =" are sub-properties (`s3 =\n  addressing_style
	 * = path`); none of them matters for credentials, so they are skipped. */
	if (indented && *in_sub)
		return 0;
	eq = memchr(b, '=', (size_t)(e - b));
	if (!eq)
		return rv_error(RV_ECORRUPT, "line %zu of '%s': expected 'key = value'", lineno,
				what);
	{
		const char *kb = b, *ke = eq, *vb = eq + 1, *ve = e;
		trim(&kb, &ke);
		if (kb == ke)
			return rv_error(RV_ECORRUPT, "line %zu of '%s': empty key", lineno, what);
		trim(&vb, &ve);
		ve = inline_comment(vb, ve);
		trim(&vb, &ve);
		add_entry(ini, kb, ke, vb, ve);
		*in_sub = vb == ve;
	}
	return 0;
}

int rv_ini_parse(struct rv_ini **out, const char *text, size_t len, const char *what)
{
	struct rv_ini *ini = rv_calloc(1, sizeof(*ini));
	const char *p = text, *end = text + len;
	size_t lineno = 0;
	int in_sub = 0;

	*out = NULL;
	if (len > RV_INI_MAX_FILE) {
		rv_ini_free(ini);
		return rv_error(RV_ECORRUPT, "'%s' is larger than %u bytes", what, RV_INI_MAX_FILE);
	}
	if (memchr(text, '\0', len)) {
		rv_ini_free(ini);
		return rv_error(RV_ECORRUPT, "'%s' contains a NUL byte; not a text file", what);
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		int rc;

		lineno++;
		if ((size_t)(le - p) > RV_INI_MAX_LINE) {
			rv_ini_free(ini);
			return rv_error(RV_ECORRUPT, "line %zu of '%s' is longer than %d bytes",
					lineno, what, RV_INI_MAX_LINE);
		}
		rc = parse_line(ini, p, le, &in_sub, lineno, what);
		if (rc) {
			rv_ini_free(ini);
			return rc;
		}
		p = nl ? nl + 1 : end;
	}
	*out = ini;
	return 0;
}

int rv_ini_load(struct rv_ini **out, const char *path)
{
	char *text;
	size_t len;
	int rc;

	*out = NULL;
	rc = rv_read_file(path, RV_INI_MAX_FILE, &text, &len);
	if (rc)
		return rc;
	rc = rv_ini_parse(out, text, len, path);
	free(text);
	return rc;
}

void rv_ini_free(struct rv_ini *ini)
{
	if (!ini)
		return;
	for (size_t i = 0; i < ini->nsections; i++)
		free(ini->sections[i]);
	for (size_t i = 0; i < ini->nentries; i++) {
		free(ini->entries[i].key);
		free(ini->entries[i].value);
	}
	free(ini->sections);
	free(ini->entries);
	free(ini);
}

const char *rv_ini_get(const struct rv_ini *ini, const char *section, const char *key)
{
	/* Backwards, so that a later duplicate wins; keys are case-insensitive
	 * as in the SDKs. */
	for (size_t i = ini ? ini->nentries : 0; i-- > 0;) {
		const struct ini_entry *en = &ini->entries[i];
		if (!strcasecmp(en->key, key) && !strcmp(ini->sections[en->section], section))
			return en->value;
	}
	return NULL;
}

int rv_ini_has_section(const struct rv_ini *ini, const char *section)
{
	for (size_t i = 0; ini && i < ini->nsections; i++)
		if (!strcmp(ini->sections[i], section))
			return 1;
	return 0;
}
