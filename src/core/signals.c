#include "core/signals.h"
#include "core/util.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <unistd.h>

int rv_signals_open(struct rv_signals *sg)
{
	sg->fd = -1;
	sigemptyset(&sg->set);
	sigaddset(&sg->set, SIGTERM);
	sigaddset(&sg->set, SIGINT);
	if ((errno = pthread_sigmask(SIG_BLOCK, &sg->set, NULL)) ||
	    (sg->fd = signalfd(-1, &sg->set, SFD_CLOEXEC | SFD_NONBLOCK)) == -1)
		return rv_error_errno(RV_EFAIL, errno, "cannot set up signal handling");
	return 0;
}

int rv_signals_wait(struct rv_signals *sg, int ms, int wake_fd)
{
	struct pollfd pf[2] = {{sg->fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
	int64_t until = ms < 0 ? 0 : rv_mono_ms() + ms;

	for (;;) {
		struct signalfd_siginfo si;
		int64_t left = ms < 0 ? -1 : until - rv_mono_ms();
		int n;

		if (read(sg->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			return (int)si.ssi_signo;
		if (ms >= 0 && left <= 0)
			return 0;
		n = poll(pf, wake_fd >= 0 ? 2 : 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n == -1 && errno != EINTR)
			return 0; /* cannot wait: the caller's timer goes on */
		if (n > 0 && pf[1].revents)
			return 0;
	}
}

const char *rv_signals_name(int sig, char buf[16])
{
	if (sig == SIGTERM)
		return "TERM";
	if (sig == SIGINT)
		return "INT";
	snprintf(buf, 16, "%d", sig);
	return buf;
}

void rv_signals_close(struct rv_signals *sg)
{
	if (sg->fd >= 0)
		close(sg->fd);
	sg->fd = -1;
}
