/* log.h - structured log lines on stderr: logfmt (default) or JSON.
 *
 *   rv_log(RV_LOG_INFO, "uploaded", "key", key, "bytes", nbuf, NULL);
 *   ts=2026-11-26T08:00:00.123Z level=info msg=uploaded key=a/b bytes=42
 *
 * Fields are string pairs ending in NULL.  A field whose name says it holds
 * a secret (secret, token, password, signature, authorization, credential)
 * is printed as [redacted] whatever the caller passed.  The level is checked
 * before anything is formatted. */
#ifndef RV_LOG_H
#define RV_LOG_H

#include <stdbool.h>

enum rv_log_level { RV_LOG_DEBUG, RV_LOG_INFO, RV_LOG_WARN, RV_LOG_ERROR, RV_LOG_OFF };
enum rv_log_format { RV_LOG_LOGFMT, RV_LOG_JSON };

void rv_log_setup(enum rv_log_level level, enum rv_log_format format);
int rv_log_parse_level(const char *s, enum rv_log_level *out);
int rv_log_parse_format(const char *s, enum rv_log_format *out);
bool rv_log_enabled(enum rv_log_level level);
bool rv_log_is_secret_field(const char *name);
void rv_log(enum rv_log_level level, const char *msg, ...) __attribute__((sentinel));

/* For tests: send lines to `fd` instead of 2. */
void rv_log_set_fd(int fd);

#endif
