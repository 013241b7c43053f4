/* err.h - result codes, the thread-local last error, exit codes.
 *
 * Convention (libgit2/curl style): a fallible function returns int, 0 on
 * success, a negative RV_E* code on failure.  The function that *finds* the
 * failure sets the message once with rv_error(); callers propagate the code
 * unchanged (`if (rc) return rc;`) and the top level prints rv_errmsg() as
 * one line and exits with rv_exit_code(rc). */
#ifndef RV_ERR_H
#define RV_ERR_H

#include <stdarg.h>

#define RV_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define RV_WARN_UNUSED	__attribute__((warn_unused_result))
#define RV_NORETURN	__attribute__((noreturn))

enum rv_result {
	RV_OK = 0,
	RV_EFAIL = -1,	   /* anything without a more specific code */
	RV_EUSAGE = -2,	   /* bad arguments or configuration */
	RV_ENET = -3,	   /* server unreachable, connection failed, timed out */
	RV_EAUTH = -4,	   /* credentials missing/rejected, permission denied */
	RV_ENOTFOUND = -5, /* object, bucket, file or key does not exist */
	RV_EPRECOND = -6,  /* a conditional write lost (object exists / etag changed) */
	RV_ECORRUPT = -7,  /* checksum mismatch, malformed object or answer */
	RV_EFENCED = -8,   /* another site holds a newer lease epoch */
	RV_ENOTSUP = -9,   /* the backend or server cannot do this */
	RV_EINTR = -10,	   /* interrupted by shutdown */
	/* verify: the store holds a recovery point that does not restore (a
	 * damaged or missing object, a gap, a database that fails its checks,
	 * posts naming images the point lacks) */
	RV_EUNRESTORABLE = -11,
	RV_EREFUSED = -12, /* a safety guard said no (promote's max-loss guard, switchover) */
};

/* Documented process exit codes (docs/OPERATIONS.md, `revenant --help`). */
enum rv_exit {
	RV_EXIT_OK = 0,
	RV_EXIT_FAIL = 1,
	RV_EXIT_USAGE = 2,
	RV_EXIT_NET = 3,
	RV_EXIT_AUTH = 4,
	RV_EXIT_NOTFOUND = 5,
	RV_EXIT_CONFLICT = 6,
	RV_EXIT_CORRUPT = 7,
	RV_EXIT_FENCED = 8,
	RV_EXIT_UNRESTORABLE = 9,
	RV_EXIT_REFUSED = 10,
	RV_EXIT_INTR = 130,
};

/* Set the thread's last error message and return `code`, so that
 * `return rv_error(RV_ENOTFOUND, "no object '%s'", key);` is one line. */
int rv_error(int code, const char *fmt, ...) RV_PRINTF(2, 3);
int rv_verror(int code, const char *fmt, va_list ap) RV_PRINTF(2, 0);
/* Same, appending ": strerror(errno)". */
int rv_error_errno(int code, int errnum, const char *fmt, ...) RV_PRINTF(3, 4);
const char *rv_errmsg(void);
/* The RV_E* a failed file operation's errno stands for: RV_EAUTH for
 * EACCES/EPERM/EROFS, RV_ENOTFOUND for ENOENT, RV_EFAIL otherwise. */
int rv_errno_result(int err);
void rv_error_clear(void);
int rv_exit_code(int rc);
const char *rv_result_name(int rc);

#endif
