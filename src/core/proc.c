/* proc.c - run an operator's command with a timeout (see proc.h). */
#include "core/proc.h"
#include "core/mem.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

/* What is in a pipe now, without waiting for more. */
static void take_rest(int fd, struct rv_buf *b, size_t cap)
{
	char chunk[4096];
	ssize_t n;

	if (fd < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
		return;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (b->len + (size_t)n <= cap && rv_buf_add(b, chunk, (size_t)n))
			rv_error_clear();
}

/* Read both pipes until both end or the deadline passes; with a pidfd
 * (>= 0), also until the command itself exits: something it started in the
 * background may hold the pipes open for as long as it runs. */
static bool drain(int fds[2], int pidfd, struct rv_buf *b[2], size_t cap, int64_t deadline)
{
	struct pollfd p[3] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}, {pidfd, POLLIN, 0}};
	char chunk[4096];

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		int64_t left = deadline - rv_mono_ms();

		if (left <= 0)
			return false;
		if (poll(p, 3, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return true;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(p[i].fd, chunk, sizeof(chunk));
			if (n <= 0) {
				p[i].fd = -1;
				continue;
			}
			if (b[i]->len + (size_t)n <= cap && rv_buf_add(b[i], chunk, (size_t)n))
				rv_error_clear();
		}
		if (p[2].fd >= 0 && (p[2].revents & POLLIN)) {
			take_rest(p[0].fd, b[0], cap);
			take_rest(p[1].fd, b[1], cap);
			return true;
		}
	}
	return true;
}

static char **make_env(const struct rv_proc_opts *o)
{
	size_t n = 0, add = 0, k = 0;
	size_t drop = o->env_drop ? strlen(o->env_drop) : 0;
	char **env;

	while (environ[n])
		n++;
	while (o->env && o->env[add])
		add++;
	env = rv_calloc(n + add + 1, sizeof(*env));
	for (size_t i = 0; i < n; i++)
		if (!drop || strncmp(environ[i], o->env_drop, drop))
			env[k++] = environ[i];
	for (size_t i = 0; i < add; i++)
		env[k++] = (char *)o->env[i];
	return env;
}

int rv_proc_run(const struct rv_proc_opts *o, struct rv_proc_result *res)
{
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, fds[2];
	struct rv_buf *bufs[2] = {&res->out, &res->err};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	char **env = make_env(o);
	pid_t pid;
	int rc = 0, e, pidfd;
	bool ok;

	res->status = 0;
	res->out = (struct rv_buf)RV_BUF_INIT(o->out_max);
	res->err = (struct rv_buf)RV_BUF_INIT(o->out_max);
	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) {
		rc = rv_error_errno(RV_EFAIL, errno, "%s: pipe", o->what);
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	/* Its own process group, so a timeout kills what it started too; and
	 * the signal mask and dispositions of a fresh process: revenant
	 * blocks SIGTERM/SIGINT in every thread (core/signals.h), and a
	 * command — or the Ghost a hook starts — inheriting that could never
	 * be stopped with SIGTERM. */
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					  POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&at, 0);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&at, &none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGHUP);
	posix_spawnattr_setsigdefault(&at, &dfl);
	e = posix_spawn(&pid, o->argv[0], &fa, &at, (char *const *)o->argv, env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	if (e) {
		rc = rv_error_errno(e == ENOENT || e == EACCES ? RV_EUSAGE : RV_EFAIL, e,
				    "%s: cannot run '%s'", o->what, o->argv[0]);
		goto out;
	}
	fds[0] = po[0];
	fds[1] = pe[0];
	/* Linux >= 5.3; without it, the pipes' end is the command's. */
	pidfd = o->until_exit ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	ok = drain(fds, pidfd, bufs, o->out_max, rv_mono_ms() + o->timeout_ms);
	if (pidfd >= 0)
		close(pidfd);
	if (!ok) {
		kill(-pid, SIGKILL);
		rc = rv_error(RV_ENET, "%s: '%s' did not finish within %u ms (killed)", o->what,
			      o->argv[0], o->timeout_ms);
	}
	while (waitpid(pid, &res->status, 0) == -1 && errno == EINTR)
		;
out:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	free(env);
	return rc;
}

void rv_proc_result_release(struct rv_proc_result *res)
{
	rv_buf_release(&res->out);
	rv_buf_release(&res->err);
}

void rv_proc_last_line(const struct rv_buf *b, char *out, size_t n)
{
	size_t end = b->len, start;

	while (end && (b->data[end - 1] == '\n' || b->data[end - 1] == '\r'))
		end--;
	start = end;
	while (start && b->data[start - 1] != '\n')
		start--;
	snprintf(out, n, "%.*s", (int)(end - start), end ? b->data + start : "");
}
