/* config.c - revenant.yml: YAML -> tree with line numbers -> typed table ->
 * struct rv_config.
 *
 * Adding a key is one row in `table` plus a field in struct rv_config; a new
 * section exists as soon as one row names it.  Everything else (unknown-key
 * detection, defaults, `config show`, redaction, *_file) follows from the
 * table. */
#include "core/config.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/util.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

enum ctype {
	CT_STRING,
	CT_NAME, /* a short identifier: letters, digits, '.', '_', '-' */
	CT_BOOL,
	CT_INT,
	CT_SIZE,     /* bytes, written 8MiB */
	CT_DURATION, /* milliseconds, written 5s */
	CT_ENUM,     /* index into `names` */
	CT_URL,	     /* a store URL */
	CT_PATH,
	CT_ADDR, /* host:port */
	CT_LIST, /* a list of strings (char **, NULL-terminated); `names` is the default */
};

#define F_SECRET 0x1u /* never printed; may be given as <name>_file */
#define F_OFF	 0x2u /* "off" or a quoted "" turns it off: the field is NULL */

struct entry {
	const char *name; /* dotted: section.subsection.key */
	enum ctype type;
	unsigned flags;
	size_t off;
	const char *def; /* parsed like a value from the file; NULL: not set */
	int64_t min, max;
	const char *const *names;
};

#define OFF(field) offsetof(struct rv_config, field)
#define KIB	   (1LL << 10)
#define MIB	   (1LL << 20)
#define GIB	   (1LL << 30)
#define SEC	   1000LL
#define MIN	   (60 * SEC)
#define HOUR	   (60 * MIN)
#define DAY	   (24 * HOUR)

/* Indexes match enum rv_log_level / enum rv_log_format. */
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"logfmt", "json", NULL};
/* Same as rv_content_default_excludes (content/filter.c), which the
 * content tests pin; repeated here so that the config layer stands alone. */
static const char *const content_excludes[] = {
    "logs/",	     "images/size/",	  "data/*.db", "data/*.db-wal",
    "data/*.db-shm", "data/*.db-journal", NULL,
};

static const struct entry table[] = {
    {.name = "site", .type = CT_NAME, .off = OFF(site)},
    {.name = "sync_interval",
     .type = CT_DURATION,
     .off = OFF(sync_interval_ms),
     .def = "1s",
     .min = 50,
     .max = MIN},
    {.name = "store.url", .type = CT_URL, .off = OFF(store.url)},
    {.name = "store.fsync", .type = CT_BOOL, .off = OFF(store.fsync), .def = "true"},
    {.name = "store.s3.region", .type = CT_STRING, .off = OFF(store.s3.region)},
    /* S3 parts are 5 MiB..5 GiB (the last one excepted). */
    {.name = "store.s3.part_size",
     .type = CT_SIZE,
     .off = OFF(store.s3.part_size),
     .def = "8MiB",
     .min = 5 * MIB,
     .max = 5 * GIB},
    {.name = "store.s3.multipart_threshold",
     .type = CT_SIZE,
     .off = OFF(store.s3.multipart_threshold),
     .def = "8MiB",
     .min = 5 * MIB,
     .max = 5 * GIB},
    {.name = "store.s3.parts_in_flight",
     .type = CT_INT,
     .off = OFF(store.s3.parts_in_flight),
     .def = "4",
     .min = 1,
     .max = 64},
    {.name = "store.s3.connect_timeout",
     .type = CT_DURATION,
     .off = OFF(store.s3.connect_timeout_ms),
     .def = "5s",
     .min = 100,
     .max = 5 * MIN},
    {.name = "store.s3.request_timeout",
     .type = CT_DURATION,
     .off = OFF(store.s3.request_timeout_ms),
     .def = "60s",
     .min = 1 * SEC,
     .max = DAY},
    {.name = "store.s3.deadline",
     .type = CT_DURATION,
     .off = OFF(store.s3.deadline_ms),
     .def = "5m",
     .min = 1 * SEC,
     .max = 7 * DAY},
    {.name = "store.s3.max_attempts",
     .type = CT_INT,
     .off = OFF(store.s3.max_attempts),
     .def = "8",
     .min = 1,
     .max = 100},
    {.name = "store.credentials.profile", .type = CT_STRING, .off = OFF(store.credentials.profile)},
    {.name = "store.credentials.access_key_id",
     .type = CT_STRING,
     .off = OFF(store.credentials.access_key_id)},
    {.name = "store.credentials.secret_access_key",
     .type = CT_STRING,
     .flags = F_SECRET,
     .off = OFF(store.credentials.secret_access_key)},
    {.name = "store.credentials.session_token",
     .type = CT_STRING,
     .flags = F_SECRET,
     .off = OFF(store.credentials.session_token)},
    {.name = "log.level",
     .type = CT_ENUM,
     .off = OFF(log.level),
     .def = "info",
     .names = log_levels},
    {.name = "log.format",
     .type = CT_ENUM,
     .off = OFF(log.format),
     .def = "logfmt",
     .names = log_formats},
    {.name = "metrics.listen",
     .type = CT_ADDR,
     .flags = F_OFF,
     .off = OFF(metrics.listen),
     .def = "127.0.0.1:9187"},
    {.name = "content.path", .type = CT_PATH, .off = OFF(content.path)},
    {.name = "content.exclude",
     .type = CT_LIST,
     .off = OFF(content.exclude),
     .names = content_excludes},
    {.name = "content.include", .type = CT_LIST, .off = OFF(content.include)},
    /* FORMAT.md promises a manifest at least every 256 commits. */
    {.name = "content.manifest_every",
     .type = CT_INT,
     .off = OFF(content.manifest_every),
     .def = "256",
     .min = 1,
     .max = 256},
    {.name = "content.manifest_interval",
     .type = CT_DURATION,
     .off = OFF(content.manifest_interval_ms),
     .def = "10m",
     .min = 1 * SEC,
     .max = DAY},
    {.name = "content.upload_workers",
     .type = CT_INT,
     .off = OFF(content.upload_workers),
     .def = "8",
     .min = 1,
     .max = 64},
    {.name = "ghost.url", .type = CT_STRING, .off = OFF(ghost.url)},
    {.name = "ghost.admin_key", .type = CT_STRING, .flags = F_SECRET, .off = OFF(ghost.admin_key)},
    {.name = "database.sqlite", .type = CT_PATH, .off = OFF(database.sqlite)},
    {.name = "database.snapshot_interval",
     .type = CT_DURATION,
     .off = OFF(database.snapshot_interval_ms),
     .def = "6h",
     .min = 1 * SEC,
     .max = 30 * DAY},
    /* A restore replays the log since its snapshot: this bounds that to a
     * multiple of the database's size (0: the clock alone). */
    {.name = "database.snapshot_log_ratio",
     .type = CT_INT,
     .off = OFF(database.snapshot_log_ratio),
     .def = "2",
     .min = 0,
     .max = 1000},
    {.name = "database.busy_timeout",
     .type = CT_DURATION,
     .off = OFF(database.busy_timeout_ms),
     .def = "5s",
     .min = 10,
     .max = 5 * MIN},
    {.name = "retention",
     .type = CT_DURATION,
     .off = OFF(retention_ms),
     .def = "72h",
     .min = 1 * SEC,
     .max = 3650 * DAY},
};

#define NENT (sizeof(table) / sizeof(table[0]))

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

struct pctx {
	const char *file;
	const char *text; /* the whole input, to turn offsets into lines */
	size_t len;
	yaml_parser_t parser;
	size_t nodes;
	struct rv_config *c;
	unsigned line[NENT];   /* where an entry got a value; 0: default */
	char *file_path[NENT]; /* a secret's <name>_file, read after the walk */
	unsigned file_line[NENT];
};

/* The message is formatted before rv_error() so that arguments may point
 * into the thread's current error message. */
static int cerr(const struct pctx *x, unsigned line, const char *key, const char *fmt, ...)
    RV_PRINTF(4, 5);
static int cerr(const struct pctx *x, unsigned line, const char *key, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line && key)
		return rv_error(RV_EUSAGE, "%s:%u: %s: %s", x->file, line, key, msg);
	if (line)
		return rv_error(RV_EUSAGE, "%s:%u: %s", x->file, line, msg);
	return rv_error(RV_EUSAGE, "%s: %s", x->file, msg);
}

static unsigned offset_line(const struct pctx *x, size_t off)
{
	unsigned line = 1;

	for (size_t i = 0; i < off && i < x->len; i++)
		if (x->text[i] == '\n')
			line++;
	return line;
}

static int yaml_fail(struct pctx *x)
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

static int next_event(struct pctx *x, yaml_event_t *ev)
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

static int check_tag(struct pctx *x, unsigned line, const yaml_char_t *tag)
{
	if (tag)
		return cerr(x, line, NULL, "YAML tags such as '%.40s' are not supported",
			    (const char *)tag);
	return 0;
}

/* Build the node that starts with `ev` (the caller deletes `ev`).  On
 * failure *out may hold a partial tree for the caller to free. */
static int parse_node(struct pctx *x, const yaml_event_t *ev, unsigned depth, struct node **out)
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
static int parse_tree(struct pctx *x, struct node **root)
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

static const char *type_desc(const struct entry *e)
{
	switch (e->type) {
	case CT_BOOL:
		return "true or false";
	case CT_INT:
		return "a whole number";
	case CT_SIZE:
		return "a size such as 8MiB";
	case CT_DURATION:
		return "a duration such as 5s";
	case CT_ENUM:
		return "one word";
	case CT_URL:
		return "a store URL";
	case CT_PATH:
		return "a file path";
	case CT_ADDR:
		return "host:port";
	case CT_NAME:
		return "a name";
	case CT_LIST:
		return "a list of strings";
	case CT_STRING:
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

static void fmt_duration(char *out, size_t n, int64_t ms)
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

static void fmt_bound(char *out, size_t n, const struct entry *e, int64_t v)
{
	if (e->type == CT_SIZE)
		fmt_size(out, n, (uint64_t)v);
	else if (e->type == CT_DURATION)
		fmt_duration(out, n, v);
	else
		snprintf(out, n, "%lld", (long long)v);
}

static int check_range(const struct pctx *x, unsigned line, const struct entry *e, const char *s,
		       int64_t v, bool too_big)
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
static int set_value(struct pctx *x, const struct entry *e, const char *s, unsigned line)
{
	void *field = (char *)x->c + e->off;
	const char *shown = e->flags & F_SECRET ? "[redacted]" : s;
	struct rv_store_url url;
	uint64_t u;
	int64_t v;
	int rc;

	switch (e->type) {
	case CT_BOOL:
		if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
			*(bool *)field = true;
		else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))
			*(bool *)field = false;
		else
			return cerr(x, line, e->name, "'%.60s' is not true or false", shown);
		return 0;
	case CT_INT:
		if (rv_parse_i64(s, &v))
			return cerr(x, line, e->name, "'%.60s' is not a whole number", shown);
		if ((rc = check_range(x, line, e, shown, v, false)))
			return rc;
		*(int64_t *)field = v;
		return 0;
	case CT_SIZE:
		if (rv_parse_size(s, &u))
			return cerr(x, line, e->name,
				    "'%.60s' is not a size (use bytes or KiB, MiB, GiB: 8MiB)",
				    shown);
		if ((rc = check_range(x, line, e, shown, (int64_t)(u & INT64_MAX), u > INT64_MAX)))
			return rc;
		*(uint64_t *)field = u;
		return 0;
	case CT_DURATION:
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
	case CT_ENUM:
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
	case CT_URL:
		if (has_control(s))
			return cerr(x, line, e->name, "the value holds a control character");
		if (rv_store_url_parse(&url, s))
			return cerr(x, line, e->name, "%s", rv_errmsg());
		rv_store_url_release(&url);
		break;
	case CT_NAME:
		if (!valid_name(s))
			return cerr(x, line, e->name,
				    "'%.60s' is not a valid name (up to 63 letters, digits, '.', "
				    "'_' or '-', starting with a letter or digit)",
				    shown);
		break;
	case CT_ADDR:
		if (!valid_addr(s))
			return cerr(x, line, e->name,
				    "'%.60s' is not host:port (e.g. 127.0.0.1:9187 or [::1]:9187)",
				    shown);
		break;
	case CT_PATH:
	case CT_STRING:
		if (has_control(s))
			return cerr(x, line, e->name, "the value holds a control character");
		break;
	case CT_LIST:
		return cerr(x, line, e->name, "expected a list such as [\"a\", \"b\"]");
	}
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
static int expand(const struct pctx *x, const struct node *v, const char *key, char **out)
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

static const struct entry *find_entry(const char *name, size_t *idx)
{
	for (size_t i = 0; i < NENT; i++) {
		if (!strcmp(table[i].name, name)) {
			if (idx)
				*idx = i;
			return &table[i];
		}
	}
	return NULL;
}

static bool is_section(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < NENT; i++)
		if (!strncmp(table[i].name, name, n) && table[i].name[n] == '.')
			return true;
	return false;
}

/* "region, part_size, …" for the keys directly under `prefix` ("" or "store.s3."). */
static void known_keys(char *out, size_t size, const char *prefix)
{
	size_t plen = strlen(prefix), off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < NENT && off < size; i++) {
		const char *rest = table[i].name + plen, *dot;
		size_t n;
		bool seen = false;

		if (strncmp(table[i].name, prefix, plen))
			continue;
		dot = strchr(rest, '.');
		n = dot ? (size_t)(dot - rest) : strlen(rest);
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strncmp(table[j].name, prefix, plen) &&
			       !strncmp(table[j].name + plen, rest, n) &&
			       (table[j].name[plen + n] == '.' || !table[j].name[plen + n]);
		if (seen)
			continue;
		off += (size_t)snprintf(out + off, size - off, "%s%.*s%s", off ? ", " : "", (int)n,
					rest, !dot && (table[i].flags & F_SECRET) ? "[_file]" : "");
	}
}

static int apply_map(struct pctx *x, const struct node *map, const char *prefix);

static void set_off(struct pctx *x, const struct entry *e, size_t idx, unsigned line)
{
	char **f = (char **)((char *)x->c + e->off);

	free(*f);
	*f = NULL;
	x->line[idx] = line;
}

/* A list of plain strings; each item is expanded like a scalar and an item
 * that is empty after expansion is dropped. */
static int apply_list(struct pctx *x, const struct entry *e, size_t idx, const struct node *v,
		      const char *key)
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

static int apply_pair(struct pctx *x, const struct pair *p, const char *prefix, const char *key)
{
	const struct node *v = p->val;
	const struct entry *e;
	size_t idx, n = strlen(key);
	char known[512], *s;
	int rc;

	/* "store.url: x" at the top is not a spelling of store: {url: x}. */
	if (strchr(p->key, '.'))
		e = NULL;
	else
		e = find_entry(key, &idx);
	if (e && e->type == CT_LIST)
		return apply_list(x, e, idx, v, key);
	if (e) {
		if (v->kind != N_SCALAR)
			return cerr(x, p->line, key, "expected %s, got a %s", type_desc(e),
				    v->kind == N_MAP ? "mapping" : "list");
		if (is_null(v))
			return 0;
		if ((e->flags & F_OFF) && !v->plain && !*v->text) {
			set_off(x, e, idx, v->line);
			return 0;
		}
		if ((rc = expand(x, v, key, &s)))
			return rc;
		if ((e->flags & F_OFF) && !strcmp(s, "off")) {
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
		if (e && (e->flags & F_SECRET)) {
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

static int apply_map(struct pctx *x, const struct node *map, const char *prefix)
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

static int read_secret_files(struct pctx *x)
{
	for (size_t i = 0; i < NENT; i++) {
		const struct entry *e = &table[i];
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

static unsigned set_line(const struct pctx *x, const char *name)
{
	size_t idx;

	if (!find_entry(name, &idx))
		return 0;
	return x->line[idx];
}

/* Rules that span keys. */
static int check_combinations(struct pctx *x)
{
	const struct rv_config *c = x->c;
	unsigned l_id = set_line(x, "store.credentials.access_key_id");
	unsigned l_secret = set_line(x, "store.credentials.secret_access_key");
	unsigned l_token = set_line(x, "store.credentials.session_token");
	unsigned l_profile = set_line(x, "store.credentials.profile");
	const char *k = "store.credentials";

	if (c->store.credentials.access_key_id && !c->store.credentials.secret_access_key)
		return cerr(x, l_id, k,
			    "access_key_id needs secret_access_key (or secret_access_key_file)");
	if (!c->store.credentials.access_key_id && c->store.credentials.secret_access_key)
		return cerr(x, l_secret, k, "secret_access_key needs access_key_id");
	if (c->store.credentials.session_token && !c->store.credentials.access_key_id)
		return cerr(x, l_token, k,
			    "session_token needs access_key_id and secret_access_key");
	if (c->store.credentials.profile && c->store.credentials.access_key_id)
		return cerr(x, l_profile > l_id ? l_profile : l_id, k,
			    "give either profile or access_key_id/secret_access_key, not both");
	/* A point in the window restores from the snapshot before it: a window
	 * shorter than the snapshot interval is almost surely a typo (72 for
	 * 72h), and prune would keep far less than the operator thinks. */
	if (c->database.sqlite && c->retention_ms < c->database.snapshot_interval_ms) {
		char r[32], i[32];
		unsigned lr = set_line(x, "retention"),
			 li = set_line(x, "database.snapshot_interval");

		fmt_duration(r, sizeof(r), c->retention_ms);
		fmt_duration(i, sizeof(i), c->database.snapshot_interval_ms);
		return cerr(x, lr > li ? lr : li, "retention",
			    "%s is shorter than database.snapshot_interval (%s): raise retention "
			    "or shorten snapshot_interval",
			    r, i);
	}
	return 0;
}

static int default_site(struct pctx *x)
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
	for (size_t i = 0; i < NENT; i++) {
		switch (table[i].type) {
		case CT_STRING:
		case CT_NAME:
		case CT_URL:
		case CT_PATH:
		case CT_ADDR: {
			char **f = (char **)((char *)c + table[i].off);
			if (*f && (table[i].flags & F_SECRET))
				explicit_bzero(*f, strlen(*f));
			free(*f);
			break;
		}
		case CT_LIST:
			list_free(*(char ***)((char *)c + table[i].off));
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
	struct pctx *x;
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
	for (size_t i = 0; i < NENT && !rc; i++) {
		if (table[i].type == CT_LIST && table[i].names)
			*(char ***)((char *)x->c + table[i].off) = list_dup(table[i].names);
		else if (table[i].def)
			rc = set_value(x, &table[i], table[i].def, 0);
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
		rc = check_combinations(x);
	if (!rc)
		rc = default_site(x);
	node_free(root);
	for (size_t i = 0; i < NENT; i++)
		free(x->file_path[i]);
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

static int add_value(struct rv_buf *b, const struct rv_config *c, const struct entry *e)
{
	const void *field = (const char *)c + e->off;
	char tmp[48];

	switch (e->type) {
	case CT_BOOL:
		return rv_buf_addstr(b, *(const bool *)field ? "true" : "false");
	case CT_INT:
		return rv_buf_addf(b, "%lld", (long long)*(const int64_t *)field);
	case CT_SIZE:
		fmt_size(tmp, sizeof(tmp), *(const uint64_t *)field);
		return rv_buf_addstr(b, tmp);
	case CT_DURATION:
		fmt_duration(tmp, sizeof(tmp), *(const int64_t *)field);
		return rv_buf_addstr(b, tmp);
	case CT_ENUM:
		return rv_buf_addstr(b, e->names[*(const int *)field]);
	case CT_LIST: {
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
	if (!*(char *const *)field && (e->flags & F_OFF))
		return rv_buf_addstr(b, "off");
	if (!*(char *const *)field)
		return rv_buf_addstr(b, "null");
	if (e->flags & F_SECRET)
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
	for (size_t i = 0; i < NENT && !rc; i++) {
		size_t k = split_sections(table[i].name, segs, lens, RV_CONFIG_MAX_DEPTH), same = 0;
		const char *leaf = strrchr(table[i].name, '.');

		while (same < k && same < nopen && lens[same] == open_lens[same] &&
		       !memcmp(segs[same], open[same], lens[same]))
			same++;
		for (size_t j = same; j < k && !rc; j++)
			rc = rv_buf_addf(b, "%*s%.*s:\n", (int)(2 * j), "", (int)lens[j], segs[j]);
		memcpy(open, segs, k * sizeof(*segs));
		memcpy(open_lens, lens, k * sizeof(*lens));
		nopen = k;
		rc = rc ? rc
			: rv_buf_addf(b, "%*s%s: ", (int)(2 * k), "",
				      leaf ? leaf + 1 : table[i].name);
		rc = rc ? rc : add_value(b, c, &table[i]);
		rc = rc ? rc : rv_buf_add(b, "\n", 1);
	}
	return rc;
}
