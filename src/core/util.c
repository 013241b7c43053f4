#include "core/util.h"
#include "core/mem.h"

#include <errno.h>
#include <strings.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <time.h>
#include <unistd.h>

void rv_hex(char *out, const void *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = in;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int rv_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int rv_unhex(void *out, size_t n, const char *in)
{
	unsigned char *p = out;

	if (strlen(in) != 2 * n)
		return RV_EUSAGE;
	for (size_t i = 0; i < n; i++) {
		int hi = rv_hexval(in[2 * i]), lo = rv_hexval(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return RV_EUSAGE;
		p[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

void rv_sha256(unsigned char out[RV_SHA256_LEN], const void *data, size_t len)
{
	unsigned int n = RV_SHA256_LEN;

	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void rv_sha256_hex(char out[RV_SHA256_HEX], const void *data, size_t len)
{
	unsigned char md[RV_SHA256_LEN];

	rv_sha256(md, data, len);
	rv_hex(out, md, sizeof(md));
}

int rv_sha256_fd(unsigned char out[RV_SHA256_LEN], int fd, uint64_t *size_out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char buf[65536];
	uint64_t total = 0;
	unsigned int n = RV_SHA256_LEN;
	int rc = 0;

	if (!ctx)
		return rv_error(RV_EFAIL, "out of memory");
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = rv_error_errno(RV_EFAIL, errno, "read");
			break;
		}
		if (r == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)r);
		total += (uint64_t)r;
	}
	if (!rc)
		EVP_DigestFinal_ex(ctx, out, &n);
	EVP_MD_CTX_free(ctx);
	if (size_out)
		*size_out = total;
	return rc;
}

int64_t rv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rv_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rv_sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int rv_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return RV_EUSAGE;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return RV_EUSAGE;
	*out = v;
	return 0;
}

int rv_parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s || *s == ' ' || *s == '+')
		return RV_EUSAGE;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return RV_EUSAGE;
	*out = v;
	return 0;
}

/* Split "123unit" into a number and a suffix. */
static int split_num(const char *s, uint64_t *num, const char **unit)
{
	const char *p = s;
	char digits[32];
	size_t n;

	while (*p >= '0' && *p <= '9')
		p++;
	n = (size_t)(p - s);
	if (n == 0 || n >= sizeof(digits))
		return RV_EUSAGE;
	memcpy(digits, s, n);
	digits[n] = '\0';
	*unit = p;
	return rv_parse_u64(digits, num);
}

static int mul_checked(uint64_t a, uint64_t b, uint64_t *out)
{
	if (b && a > UINT64_MAX / b)
		return RV_EUSAGE;
	*out = a * b;
	return 0;
}

int rv_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *unit;
		uint64_t mul;
	} units[] = {{"", 1},
		     {"b", 1},
		     {"k", 1ULL << 10},
		     {"kb", 1ULL << 10},
		     {"kib", 1ULL << 10},
		     {"m", 1ULL << 20},
		     {"mb", 1ULL << 20},
		     {"mib", 1ULL << 20},
		     {"g", 1ULL << 30},
		     {"gb", 1ULL << 30},
		     {"gib", 1ULL << 30},
		     {NULL, 0}};
	uint64_t n;
	const char *unit;

	if (split_num(s, &n, &unit))
		return RV_EUSAGE;
	for (int i = 0; units[i].unit; i++)
		if (!strcasecmp(unit, units[i].unit))
			return mul_checked(n, units[i].mul, out);
	return RV_EUSAGE;
}

/* A unit is required: a bare `72` meant 72 seconds once, and a retention
 * written that way silently pruned everything older than a minute. */
int rv_parse_duration_ms(const char *s, int64_t *out)
{
	static const struct {
		const char *unit;
		uint64_t mul;
	} units[] = {{"ms", 1},	     {"s", 1000},     {"m", 60000},
		     {"h", 3600000}, {"d", 86400000}, {NULL, 0}};
	uint64_t n, v;
	const char *unit;

	if (split_num(s, &n, &unit))
		return RV_EUSAGE;
	for (int i = 0; units[i].unit; i++) {
		if (!strcmp(unit, units[i].unit)) {
			if (mul_checked(n, units[i].mul, &v) || v > INT64_MAX)
				return RV_EUSAGE;
			*out = (int64_t)v;
			return 0;
		}
	}
	return RV_EUSAGE;
}

/* Reads exactly `n` decimal digits; NULL if any is not a digit. */
static const char *fixed_digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return NULL;
		*v = *v * 10 + (s[i] - '0');
	}
	return s + n;
}

int rv_parse_iso8601_ms(const char *s, int64_t *out)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec, oh = 0, om = 0, frac_ms = 0;
	const char *p = s;

	if (!p || !(p = fixed_digits(p, 4, &y)) || *p++ != '-' || !(p = fixed_digits(p, 2, &mo)) ||
	    *p++ != '-' || !(p = fixed_digits(p, 2, &d)) || (*p != 'T' && *p != 't') ||
	    !(p = fixed_digits(p + 1, 2, &h)) || *p++ != ':' || !(p = fixed_digits(p, 2, &mi)) ||
	    *p++ != ':' || !(p = fixed_digits(p, 2, &sec)))
		return RV_ECORRUPT;
	if (*p == '.') {
		int n = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 3)
				frac_ms = frac_ms * 10 + (*p - '0');
		if (!n)
			return RV_ECORRUPT;
		for (; n < 3; n++)
			frac_ms *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		if (!(p = fixed_digits(p + 1, 2, &oh)) || *p++ != ':' ||
		    !(p = fixed_digits(p, 2, &om)) || oh > 23 || om > 59)
			return RV_ECORRUPT;
		oh *= sign;
		om *= sign;
	} else {
		return RV_ECORRUPT;
	}
	/* 60 seconds is a leap second; timegm folds it into the next minute. */
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return RV_ECORRUPT;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = ((int64_t)timegm(&tm) - (int64_t)oh * 3600 - (int64_t)om * 60) * 1000 + frac_ms;
	return 0;
}

int rv_read_file(const char *path, size_t max, char **out, size_t *len_out)
{
	char *buf = NULL;
	size_t len = 0, alloc = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return rv_error_errno(errno == ENOENT ? RV_ENOTFOUND : RV_EFAIL, errno,
				      "cannot open '%s'", path);
	for (;;) {
		ssize_t r;
		if (alloc - len < 4096) {
			alloc = alloc ? alloc * 2 : 4096;
			buf = rv_realloc(buf, alloc + 1);
		}
		r = read(fd, buf + len, alloc - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			free(buf);
			return rv_error_errno(RV_EFAIL, e, "cannot read '%s'", path);
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max) {
			close(fd);
			free(buf);
			return rv_error(RV_EUSAGE, "'%s' is larger than %zu bytes", path, max);
		}
	}
	close(fd);
	if (!buf)
		buf = rv_malloc(1);
	buf[len] = '\0';
	*out = buf;
	if (len_out)
		*len_out = len;
	return 0;
}

int rv_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return rv_error_errno(RV_EFAIL, errno, "write");
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

bool rv_str_startswith(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

bool rv_str_endswith(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !memcmp(s + a - b, suffix, b);
}

int rv_mkdirs(const char *dir)
{
	char *p = rv_strdup(dir);
	int rc = 0;

	for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
		if (s)
			*s = '\0';
		if (*p && mkdir(p, 0755) == -1 && errno != EEXIST) {
			int e = errno;

			rc = rv_error_errno(rv_errno_result(e), e, "cannot create folder '%s'", p);
			break;
		}
		if (!s)
			break;
		*s = '/';
	}
	free(p);
	return rc;
}

int rv_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd == -1 || fsync(fd) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "fsync folder '%s'", dir);
	if (fd != -1)
		close(fd);
	return rc;
}

int rv_tmpfile(int *fd_out)
{
	return rv_tmpfile_in(NULL, fd_out);
}

int rv_tmpfile_in(const char *dir, int *fd_out)
{
	char *path;
	int fd;

	if (!dir)
		dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0) {
		*fd_out = fd;
		return 0;
	}
	/* Filesystems without O_TMPFILE. */
	path = rv_asprintf("%s/revenant-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd == -1) {
		int e = errno;
		free(path);
		return rv_error_errno(RV_EFAIL, e,
				      "cannot create a temporary file in '%s' (TMPDIR)", dir);
	}
	unlink(path);
	free(path);
	*fd_out = fd;
	return 0;
}

void rv_human_size(char *out, size_t n, uint64_t bytes)
{
	if (bytes >= (1ull << 30))
		snprintf(out, n, "%.1f GiB", (double)bytes / (double)(1ull << 30));
	else if (bytes >= (1ull << 20))
		snprintf(out, n, "%.1f MiB", (double)bytes / (double)(1ull << 20));
	else if (bytes >= 1024)
		snprintf(out, n, "%.1f KiB", (double)bytes / 1024.0);
	else
		snprintf(out, n, "%" PRIu64 " B", bytes);
}
