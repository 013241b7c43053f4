/* exec.c - the exec provider (dns.h): the operator's own command does the
 * reading and the switching (Cloudflare's API, an internal DNS service,
 * `kubectl annotate` to flip external-dns's source).
 *
 *   COMMAND read     print the record's current values, one per line
 *                    (nothing: there is none); exit 0
 *   COMMAND change   replace REVENANT_DNS_FROM by REVENANT_DNS_TO and return
 *                    once it is live; exit 0 when done, 6 when the record no
 *                    longer holds REVENANT_DNS_FROM (nothing changed)
 *
 * Both get REVENANT_DNS_NAME, REVENANT_DNS_TYPE, REVENANT_DNS_TTL (seconds),
 * REVENANT_DNS_FROM and REVENANT_DNS_TO (values, comma-separated; TO is
 * empty for read) in their environment, no stdin, and are killed when they
 * take longer than the timeout.  Any other exit is a failure whose message
 * is the command's last line on stderr. */
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "dns/dns.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* What a command may print: a few values, or a few lines of complaint. */
#define OUT_MAX (64u << 10)

struct dexec {
	char *command;
	unsigned timeout_ms;
};

/* Drain `fd` into `b` (capped) until EOF or the deadline. */
static void drain(int fds[2], struct rv_buf *b[2], int64_t deadline, bool *timed_out)
{
	struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
	char chunk[4096];

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		int64_t left = deadline - rv_mono_ms();

		if (left <= 0) {
			*timed_out = true;
			return;
		}
		if (poll(p, 2, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return;
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
			/* Past the cap the rest is read and dropped: the command
			 * must not block on a full pipe. */
			if (b[i]->len + (size_t)n <= OUT_MAX && rv_buf_add(b[i], chunk, (size_t)n))
				rv_error_clear();
		}
	}
}

static void last_line(const struct rv_buf *b, char *out, size_t n)
{
	size_t end = b->len, start;

	while (end && (b->data[end - 1] == '\n' || b->data[end - 1] == '\r'))
		end--;
	start = end;
	while (start && b->data[start - 1] != '\n')
		start--;
	snprintf(out, n, "%.*s", (int)(end - start), b->data + start);
}

/* Run `command action` with the record's environment; 0 with the exit
 * status in *status, or an error when it could not run or timed out. */
static int run(const struct dexec *d, const char *action, const struct rv_dns_record *r,
	       const struct rv_dns_values *from, const struct rv_dns_values *to, struct rv_buf *out,
	       struct rv_buf *err, int *status)
{
	char fv[2048] = "", tv[2048] = "", ttl[16];
	char *e_name, *e_type, *e_ttl, *e_from, *e_to;
	char **env;
	size_t nenv = 0;
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, fds[2];
	struct rv_buf *bufs[2] = {out, err};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	pid_t pid;
	bool timed_out = false;
	char *argv[] = {d->command, (char *)action, NULL};
	int rc = 0, e;

	for (unsigned i = 0; from && i < from->n; i++)
		snprintf(fv + strlen(fv), sizeof(fv) - strlen(fv), "%s%s", i ? "," : "",
			 from->v[i]);
	for (unsigned i = 0; to && i < to->n; i++)
		snprintf(tv + strlen(tv), sizeof(tv) - strlen(tv), "%s%s", i ? "," : "", to->v[i]);
	snprintf(ttl, sizeof(ttl), "%u", r->ttl);
	e_name = rv_asprintf("REVENANT_DNS_NAME=%s", r->name);
	e_type = rv_asprintf("REVENANT_DNS_TYPE=%s", rv_dns_type_name(r->type));
	e_ttl = rv_asprintf("REVENANT_DNS_TTL=%s", ttl);
	e_from = rv_asprintf("REVENANT_DNS_FROM=%s", fv);
	e_to = rv_asprintf("REVENANT_DNS_TO=%s", tv);
	while (environ[nenv])
		nenv++;
	env = rv_calloc(nenv + 6, sizeof(*env));
	for (size_t i = 0, k = 0; i < nenv; i++)
		if (strncmp(environ[i], "REVENANT_DNS_", 13))
			env[k++] = environ[i];
	for (size_t k = 0;; k++)
		if (!env[k]) {
			env[k] = e_name;
			env[k + 1] = e_type;
			env[k + 2] = e_ttl;
			env[k + 3] = e_from;
			env[k + 4] = e_to;
			break;
		}
	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) {
		rc = rv_error_errno(RV_EFAIL, errno, "dns exec: pipe");
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	/* Its own process group, so a timeout kills what it started too. */
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&at, 0);
	e = posix_spawn(&pid, d->command, &fa, &at, argv, env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	if (e) {
		rc = rv_error_errno(e == ENOENT ? RV_EUSAGE : RV_EFAIL, e,
				    "dns exec: cannot run '%s' (dns.exec.command)", d->command);
		goto out;
	}
	fds[0] = po[0];
	fds[1] = pe[0];
	drain(fds, bufs, rv_mono_ms() + d->timeout_ms, &timed_out);
	if (timed_out)
		kill(-pid, SIGKILL);
	while (waitpid(pid, status, 0) == -1 && errno == EINTR)
		;
	if (timed_out)
		rc = rv_error(RV_ENET, "dns exec: '%s %s' did not finish within %u ms (killed)",
			      d->command, action, d->timeout_ms);
out:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	free(env);
	free(e_name);
	free(e_type);
	free(e_ttl);
	free(e_from);
	free(e_to);
	return rc;
}

static int failed(const struct dexec *d, const char *action, int status, const struct rv_buf *err)
{
	char line[512];

	last_line(err, line, sizeof(line));
	if (WIFSIGNALED(status))
		return rv_error(RV_EFAIL, "dns exec: '%s %s' was killed by signal %d%s%s",
				d->command, action, WTERMSIG(status), line[0] ? ": " : "", line);
	return rv_error(RV_EFAIL, "dns exec: '%s %s' exited %d%s%s", d->command, action,
			WEXITSTATUS(status), line[0] ? ": " : "", line[0] ? line : "");
}

static int x_read(void *h, const struct rv_dns_record *r, struct rv_dns_answer *ans)
{
	struct dexec *d = h;
	struct rv_buf out = RV_BUF_INIT(OUT_MAX), err = RV_BUF_INIT(OUT_MAX);
	int status = 0, rc;

	memset(ans, 0, sizeof(*ans));
	rc = run(d, "read", r, NULL, NULL, &out, &err, &status);
	if (!rc && (!WIFEXITED(status) || WEXITSTATUS(status)))
		rc = failed(d, "read", status, &err);
	for (size_t i = 0; !rc && i < out.len;) {
		size_t n = 0;
		char v[RV_DNS_NAME_MAX];

		while (i + n < out.len && out.data[i + n] != '\n')
			n++;
		if (n && n < sizeof(v)) {
			memcpy(v, out.data + i, n);
			v[n] = '\0';
			if (ans->values.n == RV_DNS_MAX_VALUES ||
			    rv_dns_value_canon(r->type, v, ans->values.v[ans->values.n]))
				rc = rv_error(RV_ECORRUPT,
					      "dns exec: '%s read' printed '%s', which is not one "
					      "of up to %d %s values",
					      d->command, v, RV_DNS_MAX_VALUES,
					      rv_dns_type_name(r->type));
			else
				ans->values.n++;
		}
		i += n + 1;
	}
	ans->exists = ans->values.n > 0;
	ans->ttl = r->ttl;
	rv_buf_release(&out);
	rv_buf_release(&err);
	return rc;
}

static int x_change(void *h, const struct rv_dns_record *r, const struct rv_dns_values *from,
		    const struct rv_dns_values *to, struct rv_dns_change_result *res)
{
	struct dexec *d = h;
	struct rv_buf out = RV_BUF_INIT(OUT_MAX), err = RV_BUF_INIT(OUT_MAX);
	int64_t t0 = rv_mono_ms();
	int status = 0, rc;

	memset(res, 0, sizeof(*res));
	rc = run(d, "change", r, from, to, &out, &err, &status);
	if (!rc && WIFEXITED(status) && WEXITSTATUS(status) == 6) {
		char line[512];

		last_line(&err, line, sizeof(line));
		rc = rv_error(RV_EPRECOND,
			      "dns exec: '%s change' says '%s' no longer holds what revenant read; "
			      "nothing was changed%s%s",
			      d->command, r->name, line[0] ? ": " : "", line);
	} else if (!rc && (!WIFEXITED(status) || WEXITSTATUS(status))) {
		rc = failed(d, "change", status, &err);
	}
	res->ms = rv_mono_ms() - t0;
	rv_buf_release(&out);
	rv_buf_release(&err);
	return rc;
}

static void x_close(void *h)
{
	struct dexec *d = h;

	if (!d)
		return;
	free(d->command);
	free(d);
}

static const struct rv_dns_ops exec_ops = {
    .name = "exec",
    .close = x_close,
    .read = x_read,
    .change = x_change,
};

int rv_dns_exec_open(struct rv_dns_provider *out, const char *command, unsigned timeout_ms)
{
	struct dexec *d;

	out->ops = NULL;
	out->h = NULL;
	if (!command || command[0] != '/')
		return rv_error(RV_EUSAGE,
				"dns.exec.command: give the command's absolute path (it is run "
				"with 'read' or 'change' as its one argument)");
	if (access(command, X_OK) == -1)
		return rv_error_errno(RV_EUSAGE, errno, "dns.exec.command '%s' cannot be run",
				      command);
	d = rv_calloc(1, sizeof(*d));
	d->command = rv_strdup(command);
	d->timeout_ms = timeout_ms ? timeout_ms : 30000;
	out->ops = &exec_ops;
	out->h = d;
	return 0;
}
