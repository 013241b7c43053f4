/* util.h - small helpers used across subsystems: hex, SHA-256, time, and
 * strict number parsing (the banned atoi/sscanf replacements). */
#ifndef RV_UTIL_H
#define RV_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define RV_SHA256_LEN 32
#define RV_SHA256_HEX 65 /* 64 hex digits + NUL */

/* Lower-case hex of `n` bytes into `out` (2n+1 bytes). */
void rv_hex(char *out, const void *in, size_t n);
/* The value of one hex digit (either case), or -1. */
int rv_hexval(char c);
/* Decode exactly `n` bytes of hex; RV_EUSAGE if `in` is not 2n hex digits. */
int rv_unhex(void *out, size_t n, const char *in) RV_WARN_UNUSED;

void rv_sha256(unsigned char out[RV_SHA256_LEN], const void *data, size_t len);
void rv_sha256_hex(char out[RV_SHA256_HEX], const void *data, size_t len);
/* SHA-256 of a whole file descriptor from its current offset (read()). */
int rv_sha256_fd(unsigned char out[RV_SHA256_LEN], int fd, uint64_t *size_out) RV_WARN_UNUSED;

/* Milliseconds: wall clock (Unix epoch) and monotonic. */
int64_t rv_now_ms(void);
int64_t rv_mono_ms(void);
void rv_sleep_ms(int64_t ms);

/* Strict parsers: whole string, no sign surprises, range checked.  They set
 * no error message (the caller knows what the number was for). */
int rv_parse_u64(const char *s, uint64_t *out);
int rv_parse_i64(const char *s, int64_t *out);
/* "8MiB", "512k", "1G", "1048576" -> bytes (k/K = 1024). */
int rv_parse_size(const char *s, uint64_t *out);
/* "30s", "500ms", "2m", "72h", "1d" -> milliseconds; a bare number (no
 * unit) is refused. */
int rv_parse_duration_ms(const char *s, int64_t *out);
/* RFC 3339 date-time -> Unix milliseconds: "2026-01-02T03:04:05Z",
 * "...05.678Z", "...05+01:00"; 'T' and 'Z' in either case, fraction cut to
 * milliseconds.  RV_ECORRUPT (no message) on anything else, NULL included. */
int rv_parse_iso8601_ms(const char *s, int64_t *out) RV_WARN_UNUSED;

/* Read a whole small file into a fresh NUL-terminated string, at most
 * `max` bytes (secrets, tokens, config); RV_ENOTFOUND if it does not exist. */
int rv_read_file(const char *path, size_t max, char **out, size_t *len_out) RV_WARN_UNUSED;
/* write() all of it, retrying on EINTR and short writes. */
int rv_write_all(int fd, const void *p, size_t n);

/* mkdir -p with mode 0755: every missing folder on the way; RV_EAUTH when
 * not allowed, RV_ENOTFOUND, RV_EFAIL otherwise. */
int rv_mkdirs(const char *dir) RV_WARN_UNUSED;
/* An anonymous temporary file under $TMPDIR (or /tmp), already unlinked. */
int rv_tmpfile(int *fd_out) RV_WARN_UNUSED;
/* The same in `dir` (NULL: as above). */
int rv_tmpfile_in(const char *dir, int *fd_out) RV_WARN_UNUSED;
/* fsync a folder, so that a rename or a new name in it is durable. */
int rv_fsync_dir(const char *dir) RV_WARN_UNUSED;

bool rv_str_startswith(const char *s, const char *prefix);
bool rv_str_endswith(const char *s, const char *suffix);
/* "512 B", "1.5 KiB", "3.2 MiB", "1.0 GiB": a size for people to read. */
void rv_human_size(char *out, size_t n, uint64_t bytes);

#endif
