#include "core/err.h"

#include <errno.h>

/* One message per thread; 1 KiB is plenty for "what failed, on what, and what
 * to do", and a longer one is cut rather than allocated. */
static _Thread_local char last_error[1024];

int rv_verror(int code, const char *fmt, va_list ap)
{
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	return code;
}

int rv_error(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rv_verror(code, fmt, ap);
	va_end(ap);
	return code;
}

int rv_error_errno(int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	rv_verror(code, fmt, ap);
	va_end(ap);
	n = strlen(last_error);
	if (n < sizeof(last_error))
		snprintf(last_error + n, sizeof(last_error) - n, ": %s", strerror(errnum));
	return code;
}

const char *rv_errmsg(void)
{
	return last_error[0] ? last_error : "unknown error";
}

void rv_error_clear(void)
{
	last_error[0] = '\0';
}

int rv_exit_code(int rc)
{
	switch (rc) {
	case RV_OK:
		return RV_EXIT_OK;
	case RV_EUSAGE:
		return RV_EXIT_USAGE;
	case RV_ENET:
		return RV_EXIT_NET;
	case RV_EAUTH:
		return RV_EXIT_AUTH;
	case RV_ENOTFOUND:
		return RV_EXIT_NOTFOUND;
	case RV_EPRECOND:
		return RV_EXIT_CONFLICT;
	case RV_ECORRUPT:
		return RV_EXIT_CORRUPT;
	case RV_EFENCED:
		return RV_EXIT_FENCED;
	case RV_EREFUSED:
		return RV_EXIT_REFUSED;
	case RV_EINTR:
		return RV_EXIT_INTR;
	case RV_EUNRESTORABLE:
		return RV_EXIT_UNRESTORABLE;
	default:
		return RV_EXIT_FAIL;
	}
}

const char *rv_result_name(int rc)
{
	switch (rc) {
	case RV_OK:
		return "ok";
	case RV_EUSAGE:
		return "usage";
	case RV_ENET:
		return "network";
	case RV_EAUTH:
		return "auth";
	case RV_ENOTFOUND:
		return "not_found";
	case RV_EPRECOND:
		return "precondition";
	case RV_ECORRUPT:
		return "corrupt";
	case RV_EFENCED:
		return "fenced";
	case RV_ENOTSUP:
		return "not_supported";
	case RV_EINTR:
		return "interrupted";
	case RV_EUNRESTORABLE:
		return "unrestorable";
	case RV_EREFUSED:
		return "refused";
	default:
		return "failure";
	}
}

int rv_errno_result(int err)
{
	if (err == EACCES || err == EPERM || err == EROFS)
		return RV_EAUTH;
	return err == ENOENT ? RV_ENOTFOUND : RV_EFAIL;
}
