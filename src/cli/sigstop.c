/* sigstop.c - a long-running command stops on SIGTERM/SIGINT (cli.h). */
#include "cli/cli.h"
#include "core/log.h"
#include "core/retry.h"
#include "core/util.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

void rv_cli_sig_init(struct rv_cli_sig *s)
{
	s->sg.fd = -1;
	s->done_fd = -1;
	s->started = false;
	s->stop = NULL;
	s->obj = NULL;
}

int rv_cli_sig_open(struct rv_cli_sig *s)
{
	int rc;

	if ((rc = rv_signals_open(&s->sg)))
		return rc;
	if ((s->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return rv_error_errno(RV_EFAIL, errno, "cannot set up signal handling");
	return 0;
}

/* Sleeps until a signal comes (no tick: an idle sidecar must not wake for
 * nothing); after the first, until the grace period ends.  A thread of its
 * own, not the command's loop: that may sit in a store call that only the
 * shutdown flag ends. */
static void *signal_thread(void *arg)
{
	struct rv_cli_sig *s = arg;
	int64_t hard_at = 0;

	for (;;) {
		int64_t left = hard_at ? hard_at - rv_mono_ms() : -1;
		int sig =
		    rv_signals_wait(&s->sg, hard_at ? (left > 0 ? (int)left : 0) : -1, s->done_fd);
		char b[16];
		uint64_t v;

		if (read(s->done_fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
			return NULL;
		if (sig && !hard_at) {
			rv_log(RV_LOG_INFO, "signal received, stopping", "signal",
			       rv_signals_name(sig, b), NULL);
			s->stop(s->obj);
			hard_at = rv_mono_ms() + s->grace_ms + 1000;
		} else if (sig || (hard_at && rv_mono_ms() >= hard_at)) {
			rv_shutdown_request();
		}
	}
}

int rv_cli_sig_start(struct rv_cli_sig *s, void (*stop)(void *), void *obj, int64_t grace_ms)
{
	s->stop = stop;
	s->obj = obj;
	s->grace_ms = grace_ms;
	if ((errno = pthread_create(&s->t, NULL, signal_thread, s)))
		return rv_error_errno(RV_EFAIL, errno, "cannot start the signal thread");
	s->started = true;
	return 0;
}

void rv_cli_sig_close(struct rv_cli_sig *s)
{
	if (s->started) {
		uint64_t one = 1;

		if (write(s->done_fd, &one, sizeof(one)) == -1) {
			/* an eventfd at its limit is still readable */
		}
		pthread_join(s->t, NULL);
		s->started = false;
	}
	if (s->done_fd >= 0)
		close(s->done_fd);
	s->done_fd = -1;
	rv_signals_close(&s->sg);
}
