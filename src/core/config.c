/* config.c - revenant.yml: YAML -> tree with line numbers -> typed tables ->
 * struct rv_config.
 *
 * The machinery only: the tables belong to the subsystems (config.h lists
 * them).  Adding a key is one row in its owner's table plus a field in
 * struct rv_config; a new section is one more rv_config_section in
 * `sections`.  Everything else (unknown-key detection, defaults, `config
 * show`, redaction, *_file) follows from the tables. */
#include "core/config.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define KIB  RV_CONFIG_KIB
#define MIB  RV_CONFIG_MIB
#define GIB  RV_CONFIG_GIB
#define SEC  RV_CONFIG_SEC
#define MIN  RV_CONFIG_MIN
#define HOUR RV_CONFIG_HOUR
#define DAY  RV_CONFIG_DAY

/* ---- core's own keys: the site's name and the log ---- */

static const struct rv_config_entry site_entries[] = {
    {.name = "site", .type = RV_CONFIG_NAME, .off = RV_CONFIG_FIELD(site)},
};

static const struct rv_config_section section_site = {
    .owner = "core",
    .entries = site_entries,
    .nentries = sizeof(site_entries) / sizeof(site_entries[0]),
};

/* Indexes match enum rv_log_level / enum rv_log_format. */
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"logfmt", "json", NULL};

static const struct rv_config_entry log_entries[] = {
    {.name = "log.level",
     .type = RV_CONFIG_ENUM,
     .off = RV_CONFIG_FIELD(log.level),
     .def = "info",
     .names = log_levels},
    {.name = "log.format",
     .type = RV_CONFIG_ENUM,
     .off = RV_CONFIG_FIELD(log.format),
     .def = "logfmt",
     .names = log_formats},
};

static const struct rv_config_section section_log = {
    .owner = "core",
    .entries = log_entries,
    .nentries = sizeof(log_entries) / sizeof(log_entries[0]),
};

/* Every section, in the order `config show` writes them and "expected …"
 * lists name them (tests and users read both). */
static const struct rv_config_section *const sections[] = {
    &section_site,
    &rv_config_section_sync,
    &rv_config_section_store,
    &section_log,
    &rv_config_section_metrics,
    &rv_config_section_content,
    &rv_config_section_ghost,
    &rv_config_section_database,
    &rv_config_section_dns,
    &rv_config_section_failover,
    &rv_config_section_hooks,
    &rv_config_section_retention,
};

#define NSECT (sizeof(sections) / sizeof(sections[0]))

/* The entries of all sections are numbered in list order; the number
 * indexes a parse's per-entry slots (line, *_file). */
static size_t nent(void)
{
	size_t n = 0;

	for (size_t s = 0; s < NSECT; s++)
		n += sections[s]->nentries;
	return n;
}

static const struct rv_config_entry *ent(size_t i)
{
	for (size_t s = 0; s < NSECT; s++) {
		if (i < sections[s]->nentries)
			return &sections[s]->entries[i];
		i -= sections[s]->nentries;
	}
	return NULL;
}

/* ---- the YAML tree ---- */

enum nkind { N_SCALAR, N_MAP, N_SEQ };

struct node;
struct pair {
	char *key;
	unsigned line;
	struct node *val;
};

struct node {
	enum nkind kind;
	unsigned line;
	bool plain; /* an unquoted scalar: may mean null */
	char *text;
	struct pair *pairs;
	size_t npairs;
	struct node **items;
	size_t nitems;
};

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->npairs; i++) {
		free(n->pairs[i].key);
		node_free(n->pairs[i].val);
	}
	for (size_t i = 0; i < n->nitems; i++)
		node_free(n->items[i]);
	free(n->pairs);
	free(n->items);
	free(n->text);
	free(n);
}

struct rv_config_origin {
	const char *file;
	const char *text; /* the whole input, to turn offsets into lines */
	size_t len;
	yaml_parser_t parser;
	size_t nodes;
	struct rv_config *c;
	size_t nent;	  /* entries in all sections */
	unsigned *line;	  /* [nent]: where an entry got a value; 0: default */
	char **file_path; /* [nent]: a secret's <name>_file, read after the walk */
	unsigned *file_line;
};

/* The message is formatted before rv_error() so that arguments may point
 * into the thread's current error message. */
static int vcerr(const struct rv_config_origin *x, unsigned line, const char *key, const char *fmt,
		 va_list ap) RV_PRINTF(4, 0);
static int vcerr(const struct rv_config_origin *x, unsigned line, const char *key, const char *fmt,
		 va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line && key)
		return rv_error(RV_EUSAGE, "%s:%u: %s: %s", x->file, line, key, msg);
	if (line)
		return rv_error(RV_EUSAGE, "%s:%u: %s", x->file, line, msg);
	return rv_error(RV_EUSAGE, "%s: %s", x->file, msg);
}

static int cerr(const struct rv_config_origin *x, unsigned line, const char *key, const char *fmt,
		...) RV_PRINTF(4, 5);
static int cerr(const struct rv_config_origin *x, unsigned line, const char *key, const char *fmt,
		...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vcerr(x, line, key, fmt, ap);
	va_end(ap);
	return rc;
}

int rv_config_fail(const struct rv_config_origin *x, unsigned line, const char *key,
		   const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vcerr(x, line, key, fmt, ap);
	va_end(ap);
	return rc;
}

static unsigned offset_line(const struct rv_config_origin *x, size_t off)
{
	unsigned line = 1;

	for (size_t i = 0; i < off && i < x->len; i++)
		if (x->text[i] == '\n')
			line++;
	return line;
}

static int yaml_fail(struct rv_config_origin *x)
{
	const yaml_parser_t *p = &x->parser;
	const char *problem = p->problem ? p->problem : "malformed document";
	unsigned line;

	if (p->error == YAML_READER_ERROR)
		line = offset_line(x, p->problem_offset);
	else
		line = (unsigned)p->problem_mark.line + 1;
	if (p->context)
		return cerr(x, line, NULL, "invalid YAML: %s (%s at line %u)", problem, p->context,
			    (unsigned)p->context_mark.line + 1);
	return cerr(x, line, NULL, "invalid YAML: %s", problem);
}

static int next_event(struct rv_config_origin *x, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&x->parser, ev))
		return yaml_fail(x);
	return 0;
}

static struct node *node_new(enum nkind kind, unsigned line)
{
	struct node *n = rv_calloc(1, sizeof(*n));

	n->kind = kind;
	n->line = line;
	return n;
}

static int check_tag(struct rv_config_origin *x, unsigned line, const yaml_char_t *tag)
{
	if (tag)
		return cerr(x, line, NULL, "YAML tags such as '%.40s' are not supported",
			    (const char *)tag);
	return 0;
}

/* Build the node that starts with `ev` (the caller deletes `ev`).  On
 * failure *out may hold a partial tree for the caller to free. */
static int parse_node(struct rv_config_origin *x, const yaml_event_t *ev, unsigned depth,
		      struct node **out)
{
	unsigned line = (unsigned)ev->start_mark.line + 1;
	struct node *n;
	yaml_event_t ch;
	int rc;

	*out = NULL;
	if (++x->nodes > RV_CONFIG_MAX_NODES)
		return cerr(x, line, NULL, "more than %d values: is this the right file?",
			    RV_CONFIG_MAX_NODES);
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return cerr(x, line, NULL, "YAML aliases (*name) are not supported");
	case YAML_SCALAR_EVENT:
		if ((rc = check_tag(x, line, ev->data.scalar.tag)))
			return rc;
		if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
			return cerr(x, line, NULL, "a value holds a NUL character");
		n = node_new(N_SCALAR, line);
		n->text = rv_strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		*out = n;
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		break;
	default:
		return cerr(x, line, NULL, "invalid YAML: unexpected event");
	}
	if (depth >= RV_CONFIG_MAX_DEPTH)
		return cerr(x, line, NULL, "nested deeper than %d levels", RV_CONFIG_MAX_DEPTH);
	rc = check_tag(x, line,
		       ev->type == YAML_MAPPING_START_EVENT ? ev->data.mapping_start.tag
							    : ev->data.sequence_start.tag);
	if (rc)
		return rc;
	n = node_new(ev->type == YAML_MAPPING_START_EVENT ? N_MAP : N_SEQ, line);
	*out = n;
	for (;;) {
		struct node *child = NULL;
		char *key = NULL;
		unsigned kline = 0;

		if ((rc = next_event(x, &ch)))
			return rc;
		if (ch.type == YAML_MAPPING_END_EVENT || ch.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ch);
			return 0;
		}
		if (n->kind == N_MAP) {
			kline = (unsigned)ch.start_mark.line + 1;
			if (ch.type != YAML_SCALAR_EVENT || ch.data.scalar.tag ||
			    memchr(ch.data.scalar.value, '\0', ch.data.scalar.length)) {
				yaml_event_delete(&ch);
				return cerr(x, kline, NULL, "keys must be plain names");
			}
			key = rv_strndup((const char *)ch.data.scalar.value, ch.data.scalar.length);
			yaml_event_delete(&ch);
			if ((rc = next_event(x, &ch))) {
				free(key);
				return rc;
			}
		}
		rc = parse_node(x, &ch, depth + 1, &child);
		yaml_event_delete(&ch);
		/* Capacity doubles: grow at 0 and at every power of two. */
		if (n->kind == N_MAP) {
			if (!(n->npairs & (n->npairs - 1)))
				n->pairs = rv_realloc(n->pairs, (n->npairs ? 2 * n->npairs : 1) *
								    sizeof(*n->pairs));
			n->pairs[n->npairs++] = (struct pair){key, kline, child};
		} else {
			if (!(n->nitems & (n->nitems - 1)))
				n->items = rv_realloc(n->items, (n->nitems ? 2 * n->nitems : 1) *
								    sizeof(*n->items));
			n->items[n->nitems++] = child;
		}
		if (rc)
			return rc;
	}
}

/* The single document of the file; *root stays NULL for an empty file. */
static int parse_tree(struct rv_config_origin *x, struct node **root)
{
	yaml_event_t ev;
	int rc;

	*root = NULL;
	if ((rc = next_event(x, &ev)))
		return rc;
	yaml_event_delete(&ev); /* stream start */
	if ((rc = next_event(x, &ev)))
		return rc;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return 0;
	}
	yaml_event_delete(&ev); /* document start */
	if ((rc = next_event(x, &ev)))
		return rc;
	rc = parse_node(x, &ev, 0, root);
	yaml_event_delete(&ev);
	if (rc)
		return rc;
	if ((rc = next_event(x, &ev)))
		return rc;
	yaml_event_delete(&ev); /* document end */
	if ((rc = next_event(x, &ev)))
		return rc;
	if (ev.type != YAML_STREAM_END_EVENT) {
		unsigned line = (unsigned)ev.start_mark.line + 1;
		yaml_event_delete(&ev);
		return cerr(x, line, NULL,
			    "a second YAML document ('---'): put the whole configuration in one");
	}
	yaml_event_delete(&ev);
	return 0;
}

/* ---- values ---- */

static const char *type_desc(const struct rv_config_entry *e)
{
	if (e->desc)
		return e->desc;
	switch (e->type) {
	case RV_CONFIG_BOOL:
		return "true or false";
	case RV_CONFIG_INT:
		return "a whole number";
	case RV_CONFIG_SIZE:
		return "a size such as 8MiB";
	case RV_CONFIG_DURATION:
		return "a duration such as 5s";
	case RV_CONFIG_ENUM:
		return "one word";
	case RV_CONFIG_PATH:
		return "a file path";
	case RV_CONFIG_ADDR:
		return "host:port";
	case RV_CONFIG_NAME:
		return "a name";
	case RV_CONFIG_LIST:
		return "a list of strings";
	case RV_CONFIG_STRING:
	default:
		return "a string";
	}
}

static void fmt_size(char *out, size_t n, uint64_t v)
{
	if (v && v % GIB == 0)
		snprintf(out, n, "%lluGiB", (unsigned long long)(v / GIB));
	else if (v && v % MIB == 0)
		snprintf(out, n, "%lluMiB", (unsigned long long)(v / MIB));
	else if (v && v % KIB == 0)
		snprintf(out, n, "%lluKiB", (unsigned long long)(v / KIB));
	else
		snprintf(out, n, "%llu", (unsigned long long)v);
}

void rv_config_fmt_duration(char *out, size_t n, int64_t ms)
{
	static const struct {
		int64_t ms;
		const char *unit;
	} units[] = {{DAY, "d"}, {HOUR, "h"}, {MIN, "m"}, {SEC, "s"}, {1, "ms"}};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms && ms % units[i].ms == 0) {
			snprintf(out, n, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
			return;
		}
	}
	snprintf(out, n, "0s");
}

static void fmt_bound(char *out, size_t n, const struct rv_config_entry *e, int64_t v)
{
	if (e->type == RV_CONFIG_SIZE)
		fmt_size(out, n, (uint64_t)v);
	else if (e->type == RV_CONFIG_DURATION)
		rv_config_fmt_duration(out, n, v);
	else
		snprintf(out, n, "%lld", (long long)v);
}

static int check_range(const struct rv_config_origin *x, unsigned line,
		       const struct rv_config_entry *e, const char *s, int64_t v, bool too_big)
{
	char b[48];

	if (too_big || v > e->max) {
		fmt_bound(b, sizeof(b), e, e->max);
		return cerr(x, line, e->name, "%.60s is above the maximum %s", s, b);
	}
	if (v < e->min) {
		fmt_bound(b, sizeof(b), e, e->min);
		return cerr(x, line, e->name, "%.60s is below the minimum %s", s, b);
	}
	return 0;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (const char *p = s; *p; p++) {
		bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9');
		if (!alnum && (p == s || (*p != '.' && *p != '_' && *p != '-')))
			return false;
	}
	return true;
}

static bool valid_addr(const char *s)
{
	const char *colon = strrchr(s, ':');
	uint64_t port;

	if (!colon || rv_parse_u64(colon + 1, &port) || port == 0 || port > 65535)
		return false;
	for (const char *p = s; p < colon; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '/')
			return false;
	if (s[0] == '[')
		return colon > s + 1 && colon[-1] == ']';
	for (const char *p = s; p < colon; p++)
		if (*p == ':' || *p == '[' || *p == ']')
			return false;
	return true;
}

/* C0, DEL, C1 (U+0080..U+009F) and U+2028/U+2029: YAML would read the last
 * ones back as line breaks, and no setting needs any of them. */
static bool has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return true;
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return true;
		if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9))
			return true;
	}
	return false;
}

/* Store `s` (already expanded, not empty) into the entry's field. */
static int set_value(struct rv_config_origin *x, const struct rv_config_entry *e, const char *s,
		     unsigned line)
{
	void *field = (char *)x->c + e->off;
	const char *shown = e->flags & RV_CONFIG_F_SECRET ? "[redacted]" : s;
	uint64_t u;
	int64_t v;
	int rc;

	switch (e->type) {
	case RV_CONFIG_BOOL:
		if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
			*(bool *)field = true;
		else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))
			*(bool *)field = false;
		else
			return cerr(x, line, e->name, "'%.60s' is not true or false", shown);
		return 0;
	case RV_CONFIG_INT:
		if (rv_parse_i64(s, &v))
			return cerr(x, line, e->name, "'%.60s' is not a whole number", shown);
		if ((rc = check_range(x, line, e, shown, v, false)))
			return rc;
		*(int64_t *)field = v;
		return 0;
	case RV_CONFIG_SIZE:
		if (rv_parse_size(s, &u))
			return cerr(x, line, e->name,
				    "'%.60s' is not a size (use bytes or KiB, MiB, GiB: 8MiB)",
				    shown);
		if ((rc = check_range(x, line, e, shown, (int64_t)(u & INT64_MAX), u > INT64_MAX)))
			return rc;
		*(uint64_t *)field = u;
		return 0;
	case RV_CONFIG_DURATION:
		if (rv_parse_duration_ms(s, &v) && s[0] && strspn(s, "0123456789") == strlen(s))
			return cerr(
			    x, line, e->name,
			    "'%.30s' has no unit: write %.30ss, %.30sm or %.30sh (a bare number "
			    "is ambiguous)",
			    shown, shown, shown, shown);
		if (rv_parse_duration_ms(s, &v))
			return cerr(
			    x, line, e->name,
			    "'%.60s' is not a duration (use ms, s, m, h or d: 500ms, 5s, 72h)",
			    shown);
		if ((rc = check_range(x, line, e, shown, v, false)))
			return rc;
		*(int64_t *)field = v;
		return 0;
	case RV_CONFIG_ENUM:
		for (int i = 0; e->names[i]; i++) {
			if (!strcmp(s, e->names[i])) {
				*(int *)field = i;
				return 0;
			}
		}
		{
			char list[256] = "";
			size_t off = 0;
			for (int i = 0; e->names[i] && off < sizeof(list); i++)
				off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
							i ? ", " : "", e->names[i]);
			return cerr(x, line, e->name, "'%.60s' is not one of %s", shown, list);
		}
	case RV_CONFIG_NAME:
		if (!valid_name(s))
			return cerr(x, line, e->name,
				    "'%.60s' is not a valid name (up to 63 letters, digits, '.', "
				    "'_' or '-', starting with a letter or digit)",
				    shown);
		break;
	case RV_CONFIG_ADDR:
		if (!valid_addr(s))
			return cerr(x, line, e->name,
				    "'%.60s' is not host:port (e.g. 127.0.0.1:9187 or [::1]:9187)",
				    shown);
		break;
	case RV_CONFIG_PATH:
	case RV_CONFIG_STRING:
		if (has_control(s))
			return cerr(x, line, e->name, "the value holds a control character");
		break;
	case RV_CONFIG_LIST:
		return cerr(x, line, e->name, "expected a list such as [\"a\", \"b\"]");
	}
	if (e->check && e->check(s))
		return cerr(x, line, e->name, "%s", rv_errmsg());
	free(*(char **)field);
	*(char **)field = rv_strdup(s);
	return 0;
}

static bool is_null(const struct node *n)
{
	return n->kind == N_SCALAR && n->plain &&
	       (!*n->text || !strcmp(n->text, "~") || !strcasecmp(n->text, "null"));
}

static char **list_dup(const char *const *l)
{
	size_t n = 0;
	char **out;

	while (l && l[n])
		n++;
	out = rv_calloc(n + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = rv_strdup(l[i]);
	return out;
}

static void list_free(char **l)
{
	for (size_t i = 0; l && l[i]; i++)
		free(l[i]);
	free(l);
}

/* ${VAR}, ${VAR:-default}, $$.  Anything else after '$' is kept as is. */
static int expand(const struct rv_config_origin *x, const struct node *v, const char *key,
		  char **out)
{
	struct rv_buf b = RV_BUF_INIT(RV_CONFIG_MAX_SIZE);
	const char *p = v->text;
	int rc = 0;

	*out = NULL;
	while (*p && !rc) {
		const char *name, *end, *after, *val;
		char var[128];
		size_t n;

		if (p[0] != '$' || (p[1] != '$' && p[1] != '{')) {
			rc = rv_buf_add(&b, p++, 1);
			continue;
		}
		if (p[1] == '$') {
			rc = rv_buf_add(&b, "$", 1);
			p += 2;
			continue;
		}
		name = p + 2;
		end = strchr(name, '}');
		if (!end) {
			rv_buf_release(&b);
			return cerr(x, v->line, key,
				    "'${' without a closing '}' (write $$ for a '$')");
		}
		n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
		after = name + n;
		if (n == 0 || n >= sizeof(var) || (name[0] >= '0' && name[0] <= '9') ||
		    (after != end && (after[0] != ':' || after[1] != '-'))) {
			rv_buf_release(&b);
			return cerr(
			    x, v->line, key,
			    "'${' must be followed by a variable name and '}' or ':-default}' "
			    "(write $$ for a '$')");
		}
		memcpy(var, name, n);
		var[n] = '\0';
		val = getenv(var);
		if (after == end) {
			if (!val) {
				rv_buf_release(&b);
				return cerr(x, v->line, key,
					    "environment variable %s is not set (set it, or write "
					    "${%s:-default})",
					    var, var);
			}
			rc = rv_buf_addstr(&b, val);
		} else if (val && *val) {
			rc = rv_buf_addstr(&b, val);
		} else {
			rc = rv_buf_add(&b, after + 2, (size_t)(end - after - 2));
		}
		p = end + 1;
	}
	if (rc) {
		rv_buf_release(&b);
		return cerr(x, v->line, key, "the value is longer than %u bytes after expansion",
			    RV_CONFIG_MAX_SIZE);
	}
	*out = rv_buf_detach(&b, NULL);
	return 0;
}

static const struct rv_config_entry *find_entry(const char *name, size_t *idx)
{
	for (size_t i = 0, n = nent(); i < n; i++) {
		const struct rv_config_entry *e = ent(i);

		if (!strcmp(e->name, name)) {
			if (idx)
				*idx = i;
			return e;
		}
	}
	return NULL;
}

static bool is_section(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0, all = nent(); i < all; i++)
		if (!strncmp(ent(i)->name, name, n) && ent(i)->name[n] == '.')
			return true;
	return false;
}

/* "region, part_size, …" for the keys directly under `prefix` ("" or "store.s3."). */
static void known_keys(char *out, size_t size, const char *prefix)
{
	size_t plen = strlen(prefix), off = 0;

	out[0] = '\0';
	for (size_t i = 0, all = nent(); i < all && off < size; i++) {
		const struct rv_config_entry *e = ent(i);
		const char *rest = e->name + plen, *dot;
		size_t n;
		bool seen = false;

		if (strncmp(e->name, prefix, plen))
			continue;
		dot = strchr(rest, '.');
		n = dot ? (size_t)(dot - rest) : strlen(rest);
		for (size_t j = 0; j < i && !seen; j++) {
			const char *other = ent(j)->name;

			seen = !strncmp(other, prefix, plen) && !strncmp(other + plen, rest, n) &&
			       (other[plen + n] == '.' || !other[plen + n]);
		}
		if (seen)
			continue;
		off += (size_t)snprintf(out + off, size - off, "%s%.*s%s", off ? ", " : "", (int)n,
					rest,
					!dot && (e->flags & RV_CONFIG_F_SECRET) ? "[_file]" : "");
	}
}

static int apply_map(struct rv_config_origin *x, const struct node *map, const char *prefix);

static void set_off(struct rv_config_origin *x, const struct rv_config_entry *e, size_t idx,
		    unsigned line)
{
	char **f = (char **)((char *)x->c + e->off);

	free(*f);
	*f = NULL;
	x->line[idx] = line;
}

/* A list of plain strings; each item is expanded like a scalar and an item
 * that is empty after expansion is dropped. */
static int apply_list(struct rv_config_origin *x, const struct rv_config_entry *e, size_t idx,
		      const struct node *v, const char *key)
{
	char ***field = (char ***)((char *)x->c + e->off);
	char **l;
	size_t n = 0;
	int rc;

	if (v->kind == N_SCALAR && is_null(v))
		return 0;
	if (v->kind != N_SEQ)
		return cerr(x, v->line, key, "expected %s, got a %s", type_desc(e),
			    v->kind == N_MAP ? "mapping" : "single value");
	l = rv_calloc(v->nitems + 1, sizeof(*l));
	for (size_t i = 0; i < v->nitems; i++) {
		const struct node *it = v->items[i];
		char *s;

		if (it->kind != N_SCALAR || is_null(it)) {
			list_free(l);
			return cerr(x, it->line, key, "list items must be strings");
		}
		if ((rc = expand(x, it, key, &s))) {
			list_free(l);
			return rc;
		}
		if (has_control(s)) {
			free(s);
			list_free(l);
			return cerr(x, it->line, key, "an item holds a control character");
		}
		if (*s)
			l[n++] = s;
		else
			free(s);
	}
	list_free(*field);
	*field = l;
	x->line[idx] = v->line;
	return 0;
}

static int apply_pair(struct rv_config_origin *x, const struct pair *p, const char *prefix,
		      const char *key)
{
	const struct node *v = p->val;
	const struct rv_config_entry *e;
	size_t idx, n = strlen(key);
	char known[512], *s;
	int rc;

	/* "store.url: x" at the top is not a spelling of store: {url: x}. */
	if (strchr(p->key, '.'))
		e = NULL;
	else
		e = find_entry(key, &idx);
	if (e && e->type == RV_CONFIG_LIST)
		return apply_list(x, e, idx, v, key);
	if (e) {
		if (v->kind != N_SCALAR)
			return cerr(x, p->line, key, "expected %s, got a %s", type_desc(e),
				    v->kind == N_MAP ? "mapping" : "list");
		if (is_null(v))
			return 0;
		if ((e->flags & RV_CONFIG_F_OFF) && !v->plain && !*v->text) {
			set_off(x, e, idx, v->line);
			return 0;
		}
		if ((rc = expand(x, v, key, &s)))
			return rc;
		if ((e->flags & RV_CONFIG_F_OFF) && !strcmp(s, "off")) {
			free(s);
			set_off(x, e, idx, v->line);
			return 0;
		}
		if (*s) {
			rc = set_value(x, e, s, v->line);
			x->line[idx] = v->line;
		}
		free(s);
		return rc;
	}
	if (!strchr(p->key, '.') && is_section(key)) {
		if (is_null(v))
			return 0;
		if (v->kind != N_MAP)
			return cerr(x, p->line, key,
				    "expected a section (key: value lines), got %s",
				    v->kind == N_SEQ ? "a list" : "a single value");
		{
			char *sub = rv_asprintf("%s.", key);
			rc = apply_map(x, v, sub);
			free(sub);
		}
		return rc;
	}
	if (n > 5 && !strcmp(key + n - 5, "_file") && !strchr(p->key, '.')) {
		char *base = rv_strndup(key, n - 5);
		e = find_entry(base, &idx);
		free(base);
		if (e && (e->flags & RV_CONFIG_F_SECRET)) {
			if (v->kind != N_SCALAR)
				return cerr(x, p->line, key, "expected a file path, got a %s",
					    v->kind == N_MAP ? "mapping" : "list");
			if (is_null(v))
				return 0;
			if ((rc = expand(x, v, key, &s)))
				return rc;
			if (!*s) {
				free(s);
				return 0;
			}
			if (has_control(s)) {
				free(s);
				return cerr(x, v->line, key, "the path holds a control character");
			}
			x->file_path[idx] = s;
			x->file_line[idx] = v->line;
			return 0;
		}
	}
	known_keys(known, sizeof(known), prefix);
	if (!*prefix)
		return cerr(x, p->line, key, "unknown %s (expected %s)",
			    v->kind == N_MAP ? "section" : "key", known);
	return cerr(x, p->line, key, "unknown %s (expected under %.*s: %s)",
		    v->kind == N_MAP ? "section" : "key", (int)(strlen(prefix) - 1), prefix, known);
}

static int apply_map(struct rv_config_origin *x, const struct node *map, const char *prefix)
{
	for (size_t i = 0; i < map->npairs; i++) {
		char *key = rv_asprintf("%s%.200s", prefix, map->pairs[i].key);
		int rc = 0;

		/* Checked here rather than in the tree so that the message can
		 * name the whole key; the walk stops at the first unknown key,
		 * so this stays short. */
		for (size_t j = 0; j < i && !rc; j++)
			if (!strcmp(map->pairs[j].key, map->pairs[i].key))
				rc = cerr(x, map->pairs[i].line, key,
					  "duplicate key (first given at line %u)",
					  map->pairs[j].line);
		if (!rc)
			rc = apply_pair(x, &map->pairs[i], prefix, key);
		free(key);
		if (rc)
			return rc;
	}
	return 0;
}

/* A regular file only: a FIFO or a device would block or never end. */
static int read_secret(const char *path, char **out)
{
	struct stat st;
	char *buf;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	*out = NULL;
	if (fd == -1)
		return rv_error_errno(RV_EUSAGE, errno, "cannot open '%s'", path);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rv_error(RV_EUSAGE, "'%s' is not a regular file", path);
	}
	buf = rv_malloc(RV_CONFIG_SECRET_MAX + 2);
	for (;;) {
		ssize_t r = read(fd, buf + len, RV_CONFIG_SECRET_MAX + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			int e = errno;
			close(fd);
			free(buf);
			return rv_error_errno(RV_EUSAGE, e, "cannot read '%s'", path);
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > RV_CONFIG_SECRET_MAX) {
			close(fd);
			free(buf);
			return rv_error(RV_EUSAGE, "'%s' is larger than %d bytes", path,
					RV_CONFIG_SECRET_MAX);
		}
	}
	close(fd);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	if (!len || memchr(buf, '\0', len) || memchr(buf, '\n', len)) {
		free(buf);
		return rv_error(RV_EUSAGE, "'%s' must hold the secret on one line", path);
	}
	*out = buf;
	return 0;
}

static int read_secret_files(struct rv_config_origin *x)
{
	for (size_t i = 0; i < x->nent; i++) {
		const struct rv_config_entry *e = ent(i);
		char *key, *val;
		int rc;

		if (!x->file_path[i])
			continue;
		key = rv_asprintf("%s_file", e->name);
		if (x->line[i]) {
			const char *leaf = strrchr(e->name, '.');
			rc = cerr(x, x->file_line[i], key,
				  "%s is given too (line %u): keep only one",
				  leaf ? leaf + 1 : e->name, x->line[i]);
			free(key);
			return rc;
		}
		rc = read_secret(x->file_path[i], &val);
		if (rc) {
			rc = cerr(x, x->file_line[i], key, "%s", rv_errmsg());
			free(key);
			return rc;
		}
		free(key);
		free(*(char **)((char *)x->c + e->off));
		*(char **)((char *)x->c + e->off) = val;
		x->line[i] = x->file_line[i];
	}
	return 0;
}

unsigned rv_config_line(const struct rv_config_origin *x, const char *name)
{
	size_t idx;

	if (!find_entry(name, &idx))
		return 0;
	return x->line[idx];
}

/* Rules that span keys, each section's own. */
static int check_sections(const struct rv_config_origin *x)
{
	for (size_t s = 0; s < NSECT; s++) {
		int rc = sections[s]->check ? sections[s]->check(x->c, x) : 0;

		if (rc)
			return rc;
	}
	return 0;
}

static int default_site(struct rv_config_origin *x)
{
	char host[256];

	if (x->c->site)
		return 0;
	if (gethostname(host, sizeof(host)) == -1)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	host[strcspn(host, ".")] = '\0';
	if (!valid_name(host))
		return cerr(x, 0, NULL,
			    "site: not set, and the host name is no valid site name; set 'site:'");
	x->c->site = rv_strdup(host);
	return 0;
}

void rv_config_free(struct rv_config *c)
{
	if (!c)
		return;
	for (size_t i = 0, n = nent(); i < n; i++) {
		const struct rv_config_entry *e = ent(i);

		switch (e->type) {
		case RV_CONFIG_STRING:
		case RV_CONFIG_NAME:
		case RV_CONFIG_PATH:
		case RV_CONFIG_ADDR: {
			char **f = (char **)((char *)c + e->off);
			if (*f && (e->flags & RV_CONFIG_F_SECRET))
				explicit_bzero(*f, strlen(*f));
			free(*f);
			break;
		}
		case RV_CONFIG_LIST:
			list_free(*(char ***)((char *)c + e->off));
			break;
		default:
			break;
		}
	}
	free(c->source);
	free(c);
}

int rv_config_parse(struct rv_config **out, const char *name, const char *text, size_t len)
{
	struct rv_config_origin *x;
	struct node *root = NULL;
	int rc = 0;

	*out = NULL;
	if (len > RV_CONFIG_MAX_SIZE)
		return rv_error(RV_EUSAGE, "%s: larger than %u bytes: is this the right file?",
				name, RV_CONFIG_MAX_SIZE);
	x = rv_calloc(1, sizeof(*x));
	x->file = name;
	x->text = text;
	x->len = len;
	x->c = rv_calloc(1, sizeof(*x->c));
	x->c->source = rv_strdup(name);
	x->nent = nent();
	x->line = rv_calloc(x->nent, sizeof(*x->line));
	x->file_path = rv_calloc(x->nent, sizeof(*x->file_path));
	x->file_line = rv_calloc(x->nent, sizeof(*x->file_line));
	for (size_t i = 0; i < x->nent && !rc; i++) {
		const struct rv_config_entry *e = ent(i);

		if (e->type == RV_CONFIG_LIST && e->names)
			*(char ***)((char *)x->c + e->off) = list_dup(e->names);
		else if (e->def)
			rc = set_value(x, e, e->def, 0);
	}
	if (!rc) {
		if (!yaml_parser_initialize(&x->parser))
			abort();
		yaml_parser_set_encoding(&x->parser, YAML_UTF8_ENCODING);
		yaml_parser_set_input_string(&x->parser, (const unsigned char *)text, len);
		rc = parse_tree(x, &root);
		yaml_parser_delete(&x->parser);
	}
	if (!rc && root && !is_null(root)) {
		if (root->kind != N_MAP)
			rc = cerr(x, root->line, NULL,
				  "the file must be a mapping of sections (site:, store:, log:, "
				  "metrics:), not %s",
				  root->kind == N_SEQ ? "a list" : "a single value");
		else
			rc = apply_map(x, root, "");
	}
	if (!rc)
		rc = read_secret_files(x);
	if (!rc)
		rc = check_sections(x);
	if (!rc)
		rc = default_site(x);
	node_free(root);
	for (size_t i = 0; i < x->nent; i++)
		free(x->file_path[i]);
	free(x->file_path);
	free(x->file_line);
	free(x->line);
	if (rc)
		rv_config_free(x->c);
	else
		*out = x->c;
	free(x);
	return rc;
}

int rv_config_load(struct rv_config **out, const char *path)
{
	char *text;
	size_t len;
	int rc;

	*out = NULL;
	rc = rv_read_file(path, RV_CONFIG_MAX_SIZE, &text, &len);
	if (rc == RV_ENOTFOUND)
		return rv_error(RV_ENOTFOUND, "config file '%s' does not exist", path);
	if (rc == RV_EUSAGE)
		return rv_error(RV_EUSAGE, "%s: larger than %u bytes: is this the right file?",
				path, RV_CONFIG_MAX_SIZE);
	if (rc) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", rv_errmsg());
		return rv_error(RV_EUSAGE, "config file: %s", msg);
	}
	rc = rv_config_parse(out, path, text, len);
	free(text);
	return rc;
}

int rv_config_defaults(struct rv_config **out)
{
	return rv_config_parse(out, RV_CONFIG_DEFAULT_NAME, "", 0);
}

/* ---- writing ---- */

static int add_quoted(struct rv_buf *b, const char *s)
{
	int rc = rv_buf_add(b, "\"", 1);

	for (const unsigned char *p = (const unsigned char *)s; !rc && *p; p++) {
		if (*p == '"' || *p == '\\')
			rc = rv_buf_addf(b, "\\%c", *p);
		else if (*p == '$')
			rc = rv_buf_addstr(b, "$$");
		else if (*p == '\n')
			rc = rv_buf_addstr(b, "\\n");
		else if (*p == '\t')
			rc = rv_buf_addstr(b, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			rc = rv_buf_addf(b, "\\x%02x", *p);
		else
			rc = rv_buf_add(b, p, 1);
	}
	return rc ? rc : rv_buf_add(b, "\"", 1);
}

static int add_value(struct rv_buf *b, const struct rv_config *c, const struct rv_config_entry *e)
{
	const void *field = (const char *)c + e->off;
	char tmp[48];

	switch (e->type) {
	case RV_CONFIG_BOOL:
		return rv_buf_addstr(b, *(const bool *)field ? "true" : "false");
	case RV_CONFIG_INT:
		return rv_buf_addf(b, "%lld", (long long)*(const int64_t *)field);
	case RV_CONFIG_SIZE:
		fmt_size(tmp, sizeof(tmp), *(const uint64_t *)field);
		return rv_buf_addstr(b, tmp);
	case RV_CONFIG_DURATION:
		rv_config_fmt_duration(tmp, sizeof(tmp), *(const int64_t *)field);
		return rv_buf_addstr(b, tmp);
	case RV_CONFIG_ENUM:
		return rv_buf_addstr(b, e->names[*(const int *)field]);
	case RV_CONFIG_LIST: {
		char *const *l = *(char **const *)field;
		int rc = rv_buf_add(b, "[", 1);

		for (size_t i = 0; !rc && l && l[i]; i++) {
			if (i)
				rc = rv_buf_addstr(b, ", ");
			rc = rc ? rc : add_quoted(b, l[i]);
		}
		return rc ? rc : rv_buf_add(b, "]", 1);
	}
	default:
		break;
	}
	if (!*(char *const *)field && (e->flags & RV_CONFIG_F_OFF))
		return rv_buf_addstr(b, "off");
	if (!*(char *const *)field)
		return rv_buf_addstr(b, "null");
	if (e->flags & RV_CONFIG_F_SECRET)
		return rv_buf_addstr(b, "\"[redacted]\"");
	return add_quoted(b, *(char *const *)field);
}

/* Split "store.s3.part_size" into its sections ("store", "s3"). */
static size_t split_sections(const char *name, const char **segs, size_t *lens, size_t max)
{
	const char *p = name, *dot;
	size_t k = 0;

	while (k < max && (dot = strchr(p, '.')) != NULL) {
		segs[k] = p;
		lens[k++] = (size_t)(dot - p);
		p = dot + 1;
	}
	return k;
}

int rv_config_write(const struct rv_config *c, struct rv_buf *b)
{
	const char *segs[RV_CONFIG_MAX_DEPTH], *open[RV_CONFIG_MAX_DEPTH];
	size_t lens[RV_CONFIG_MAX_DEPTH], open_lens[RV_CONFIG_MAX_DEPTH], nopen = 0;
	int rc;

	rc = rv_buf_addf(b,
			 "# revenant configuration from %s\n# (defaults filled in, secrets "
			 "redacted)\n",
			 c->source);
	for (size_t i = 0, n = nent(); i < n && !rc; i++) {
		const struct rv_config_entry *e = ent(i);
		size_t k = split_sections(e->name, segs, lens, RV_CONFIG_MAX_DEPTH), same = 0;
		const char *leaf = strrchr(e->name, '.');

		while (same < k && same < nopen && lens[same] == open_lens[same] &&
		       !memcmp(segs[same], open[same], lens[same]))
			same++;
		for (size_t j = same; j < k && !rc; j++)
			rc = rv_buf_addf(b, "%*s%.*s:\n", (int)(2 * j), "", (int)lens[j], segs[j]);
		memcpy(open, segs, k * sizeof(*segs));
		memcpy(open_lens, lens, k * sizeof(*lens));
		nopen = k;
		rc = rc ? rc
			: rv_buf_addf(b, "%*s%s: ", (int)(2 * k), "", leaf ? leaf + 1 : e->name);
		rc = rc ? rc : add_value(b, c, e);
		rc = rc ? rc : rv_buf_add(b, "\n", 1);
	}
	return rc;
}
