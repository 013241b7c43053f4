/* proc.h - running an operator's command: the DNS exec provider today, the
 * failover hooks next.
 *
 * The command gets no stdin, the caller's environment minus the variables
 * under the caller's prefix plus the ones it adds, and its own process
 * group, so that a timeout kills everything it started.  Its stdout and
 * stderr are collected up to a cap each (the rest is read and dropped, so
 * a chatty command never blocks on a full pipe). */
#ifndef RV_PROC_H
#define RV_PROC_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

struct rv_proc_opts {
	const char *const *argv; /* argv[0] is the command's path */
	const char *const *env;	 /* NAME=VALUE to add; NULL-terminated, may be NULL */
	const char *env_drop;	 /* drop the caller's variables with this prefix */
	unsigned timeout_ms;	 /* > 0 */
	size_t out_max;		 /* cap of each of stdout and stderr */
	const char *what;	 /* for messages: "dns exec", "hook promote" */
	/* Done when the command itself exits, even if something it started
	 * in the background (a daemon: Ghost) still holds its stdout/stderr;
	 * that output is not read.  Else done when both pipes close. */
	bool until_exit;
};

struct rv_proc_result {
	int status; /* waitpid()'s, when the command ran to its end */
	struct rv_buf out, err;
};

/* 0 once the command ended on its own (look at res->status); RV_EUSAGE
 * when it cannot be run (missing, not executable), RV_ENET when it outlived
 * the timeout and was killed, RV_EFAIL for anything else.  Release `res`
 * either way. */
int rv_proc_run(const struct rv_proc_opts *o, struct rv_proc_result *res) RV_WARN_UNUSED;
void rv_proc_result_release(struct rv_proc_result *res);

/* The last non-empty line of `b` into `out` ("" when none). */
void rv_proc_last_line(const struct rv_buf *b, char *out, size_t n);

#endif
