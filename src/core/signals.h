/* signals.h - SIGTERM and SIGINT as a file descriptor, the one way every
 * long-running command takes them: blocked in every thread, read from a
 * signalfd, so no work ever runs in a signal handler and a poll loop can
 * sleep on them beside its other descriptors. */
#ifndef RV_SIGNALS_H
#define RV_SIGNALS_H

#include <signal.h>

#include "core/err.h"

struct rv_signals {
	int fd; /* readable when SIGTERM or SIGINT is pending; -1: closed */
	sigset_t set;
};

/* Block SIGTERM and SIGINT in the calling thread and open the signalfd.
 * Call it before any thread starts: threads inherit the mask. */
int rv_signals_open(struct rv_signals *sg) RV_WARN_UNUSED;
/* Wait up to `ms` (-1: without end) for a signal: its number, or 0 on
 * timeout or when `wake_fd` (>= 0; not read) becomes readable first. */
int rv_signals_wait(struct rv_signals *sg, int ms, int wake_fd);
/* "TERM", "INT" or the number. */
const char *rv_signals_name(int sig, char buf[16]);
void rv_signals_close(struct rv_signals *sg);

#endif
