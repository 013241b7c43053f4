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
 * take longer than the timeout (core/proc.h runs them).  Any other exit is a failure whose message
 * is the command's last line on stderr. */
#include "core/mem.h"
#include "core/proc.h"
#include "core/util.h"
#include "dns/dns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* What a command may print: a few values, or a few lines of complaint. */
#define OUT_MAX (64u << 10)

struct dexec {
	char *command;
	unsigned timeout_ms;
};

static void join(const struct rv_dns_values *v, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (unsigned i = 0; v && i < v->n && len < n; i++) {
		int w = snprintf(out + len, n - len, "%s%s", i ? "," : "", v->v[i]);
		if (w < 0)
			break;
		len += (size_t)w;
	}
}

/* Run `command action` with the record in the environment. */
static int run(const struct dexec *d, const char *action, const struct rv_dns_record *r,
	       const struct rv_dns_values *from, const struct rv_dns_values *to,
	       struct rv_proc_result *res)
{
	char fv[2048], tv[2048];
	char *env[6];
	const char *argv[] = {d->command, action, NULL};
	struct rv_proc_opts o = {.argv = argv,
				 .env = (const char *const *)env,
				 .env_drop = "REVENANT_DNS_",
				 .timeout_ms = d->timeout_ms,
				 .out_max = OUT_MAX,
				 .what = "dns exec"};
	int rc;

	join(from, fv, sizeof(fv));
	join(to, tv, sizeof(tv));
	env[0] = rv_asprintf("REVENANT_DNS_NAME=%s", r->name);
	env[1] = rv_asprintf("REVENANT_DNS_TYPE=%s", rv_dns_type_name(r->type));
	env[2] = rv_asprintf("REVENANT_DNS_TTL=%u", r->ttl);
	env[3] = rv_asprintf("REVENANT_DNS_FROM=%s", fv);
	env[4] = rv_asprintf("REVENANT_DNS_TO=%s", tv);
	env[5] = NULL;
	rc = rv_proc_run(&o, res);
	for (int i = 0; i < 5; i++)
		free(env[i]);
	return rc;
}

static int failed(const struct dexec *d, const char *action, int status, const struct rv_buf *err)
{
	char line[512];

	rv_proc_last_line(err, line, sizeof(line));
	if (WIFSIGNALED(status))
		return rv_error(RV_EFAIL, "dns exec: '%s %s' was killed by signal %d%s%s",
				d->command, action, WTERMSIG(status), line[0] ? ": " : "", line);
	return rv_error(RV_EFAIL, "dns exec: '%s %s' exited %d%s%s", d->command, action,
			WEXITSTATUS(status), line[0] ? ": " : "", line[0] ? line : "");
}

static int x_read(void *h, const struct rv_dns_record *r, struct rv_dns_answer *ans)
{
	struct dexec *d = h;
	struct rv_proc_result pr;
	const struct rv_buf *out = &pr.out;
	int rc;

	memset(ans, 0, sizeof(*ans));
	rc = run(d, "read", r, NULL, NULL, &pr);
	if (!rc && (!WIFEXITED(pr.status) || WEXITSTATUS(pr.status)))
		rc = failed(d, "read", pr.status, &pr.err);
	for (size_t i = 0; !rc && i < out->len;) {
		size_t n = 0;
		char v[RV_DNS_NAME_MAX];

		while (i + n < out->len && out->data[i + n] != '\n')
			n++;
		if (n && n < sizeof(v)) {
			memcpy(v, out->data + i, n);
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
	rv_proc_result_release(&pr);
	return rc;
}

static int x_change(void *h, const struct rv_dns_record *r, const struct rv_dns_values *from,
		    const struct rv_dns_values *to, struct rv_dns_change_result *res)
{
	struct dexec *d = h;
	struct rv_proc_result pr;
	int64_t t0 = rv_mono_ms();
	int rc;

	memset(res, 0, sizeof(*res));
	rc = run(d, "change", r, from, to, &pr);
	if (!rc && WIFEXITED(pr.status) && WEXITSTATUS(pr.status) == 6) {
		char line[512];

		rv_proc_last_line(&pr.err, line, sizeof(line));
		rc = rv_error(RV_EPRECOND,
			      "dns exec: '%s change' says '%s' no longer holds what revenant read; "
			      "nothing was changed%s%s",
			      d->command, r->name, line[0] ? ": " : "", line);
	} else if (!rc && (!WIFEXITED(pr.status) || WEXITSTATUS(pr.status))) {
		rc = failed(d, "change", pr.status, &pr.err);
	}
	res->ms = rv_mono_ms() - t0;
	rv_proc_result_release(&pr);
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
