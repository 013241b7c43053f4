#include "core/log.h"
#include "core/buf.h"
#include "core/err.h"

#include <pthread.h>
#include <stdarg.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* The log sink is one of the few process-wide mutable states (STYLE.md). */
static enum rv_log_level log_level = RV_LOG_INFO;
static enum rv_log_format log_format = RV_LOG_LOGFMT;
static int log_fd = 2;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void rv_log_setup(enum rv_log_level level, enum rv_log_format format)
{
	log_level = level;
	log_format = format;
}

void rv_log_set_fd(int fd)
{
	log_fd = fd;
}

int rv_log_parse_level(const char *s, enum rv_log_level *out)
{
	for (int i = 0; i <= RV_LOG_OFF; i++) {
		if (!strcasecmp(s, level_names[i])) {
			*out = (enum rv_log_level)i;
			return 0;
		}
	}
	if (!strcasecmp(s, "warning")) {
		*out = RV_LOG_WARN;
		return 0;
	}
	return rv_error(RV_EUSAGE, "unknown log level '%s' (use debug, info, warn, error or off)",
			s);
}

int rv_log_parse_format(const char *s, enum rv_log_format *out)
{
	if (!strcmp(s, "logfmt")) {
		*out = RV_LOG_LOGFMT;
		return 0;
	}
	if (!strcmp(s, "json")) {
		*out = RV_LOG_JSON;
		return 0;
	}
	return rv_error(RV_EUSAGE, "unknown log format '%s' (use logfmt or json)", s);
}

bool rv_log_enabled(enum rv_log_level level)
{
	return level >= log_level && level < RV_LOG_OFF;
}

bool rv_log_is_secret_field(const char *name)
{
	static const char *const words[] = {"secret",	 "token",	  "password",	"passwd",
					    "signature", "authorization", "credential", NULL};

	for (int i = 0; words[i]; i++)
		if (strcasestr(name, words[i]))
			return true;
	return false;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), or 0. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n;
	unsigned cp;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Append `s` quoted for logfmt (only when needed) or JSON (always). */
static int add_value(struct rv_buf *b, const char *s)
{
	bool json = log_format == RV_LOG_JSON;
	bool quote = json || !*s;
	int rc = 0;

	for (const char *p = s; *p && !quote; p++)
		if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20 ||
		    (unsigned char)*p >= 0x7f)
			quote = true;
	if (!quote)
		return rv_buf_addstr(b, s);
	rc = rv_buf_add(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; !rc && *p; p++) {
		if (*p == '"' || *p == '\\')
			rc = rv_buf_addf(b, "\\%c", *p);
		else if (*p == '\n')
			rc = rv_buf_addstr(b, "\\n");
		else if (*p == '\t')
			rc = rv_buf_addstr(b, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			rc = rv_buf_addf(b, "\\u%04x", *p);
		else if (*p < 0x80)
			rc = rv_buf_add(b, p, 1);
		else {
			/* File names are bytes, not UTF-8: keep a line valid JSON by
			 * writing each byte of a malformed sequence as U+FFFD. */
			size_t n = utf8_len(p);
			if (n) {
				rc = rv_buf_add(b, p, n);
				p += n - 1;
			} else {
				rc = rv_buf_addstr(b, json ? "\\ufffd" : "\\x");
				if (!rc && !json)
					rc = rv_buf_addf(b, "%02x", *p);
			}
		}
	}
	return rc ? rc : rv_buf_add(b, "\"", 1);
}

static int add_field(struct rv_buf *b, bool first, const char *k, const char *v)
{
	int rc;

	if (log_format == RV_LOG_JSON) {
		rc = rv_buf_addstr(b, first ? "{" : ",");
		rc = rc ? rc : add_value(b, k);
		rc = rc ? rc : rv_buf_add(b, ":", 1);
	} else {
		rc = first ? 0 : rv_buf_add(b, " ", 1);
		rc = rc ? rc : rv_buf_addstr(b, k);
		rc = rc ? rc : rv_buf_add(b, "=", 1);
	}
	return rc ? rc : add_value(b, v);
}

void rv_log(enum rv_log_level level, const char *msg, ...)
{
	struct rv_buf b = RV_BUF_INIT(16384);
	struct timespec ts;
	struct tm tm;
	char when[96];
	const char *k, *v;
	va_list ap;
	int rc;

	if (!rv_log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

	rc = add_field(&b, true, "ts", when);
	rc = rc ? rc : add_field(&b, false, "level", level_names[level]);
	rc = rc ? rc : add_field(&b, false, "msg", msg);
	va_start(ap, msg);
	while (!rc && (k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (!v)
			v = "";
		rc = add_field(&b, false, k, rv_log_is_secret_field(k) ? "[redacted]" : v);
	}
	va_end(ap);
	if (!rc && log_format == RV_LOG_JSON)
		rc = rv_buf_add(&b, "}", 1);
	if (!rc)
		rc = rv_buf_add(&b, "\n", 1);
	if (!rc) {
		pthread_mutex_lock(&log_lock);
		for (size_t off = 0; off < b.len;) {
			ssize_t n = write(log_fd, b.data + off, b.len - off);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		pthread_mutex_unlock(&log_lock);
	}
	rv_buf_release(&b);
}
