/* hooks.c - running the operator's role-change commands (hooks.h). */
#include "engine/hooks.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "content/restore.h"
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/proc.h"
#include "core/util.h"
#include "engine/gate.h"

#define HOOK_OUT_MAX (64u << 10)

static const char *const names[] = {"promote", "demote", "fenced", "standby"};

const char *rv_hook_name(enum rv_hook_event ev)
{
	return (unsigned)ev < 4 ? names[ev] : "?";
}

void rv_hooks_from_config(const struct rv_config *c, struct rv_hooks *out)
{
	out->cmd[RV_HOOK_PROMOTE] = c->hooks.promote;
	out->cmd[RV_HOOK_DEMOTE] = c->hooks.demote;
	out->cmd[RV_HOOK_FENCED] = c->hooks.fenced;
	out->cmd[RV_HOOK_STANDBY] = c->hooks.standby;
	out->gate = c->hooks.gate;
	out->timeout_ms = (unsigned)c->hooks.timeout_ms;
}

bool rv_hooks_stop_ghost(const struct rv_hooks *h, enum rv_hook_event ev)
{
	return h && (unsigned)ev < 4 && (h->cmd[ev] || h->gate);
}

/* The gate as `ev` wants it, within `timeout_ms`. */
static int gate(const struct rv_hooks *h, enum rv_hook_event ev, unsigned timeout_ms)
{
	if (!h->gate)
		return 0;
	return ev == RV_HOOK_PROMOTE ? rv_gate_open(h->gate) : rv_gate_close(h->gate, timeout_ms);
}

static void log_output(const char *name, const char *stream, const struct rv_buf *b)
{
	char line[512];

	rv_proc_last_line(b, line, sizeof(line));
	if (line[0])
		rv_log(RV_LOG_INFO, "hook output", "hook", name, "stream", stream, "line", line,
		       NULL);
}

int rv_hook_run(const struct rv_hooks *h, enum rv_hook_event ev, const struct rv_hook_info *info)
{
	const char *cmd = (unsigned)ev < 4 ? h->cmd[ev] : NULL;
	const char *name = rv_hook_name(ev);
	char *env[10] = {0}, what[32], when[32], secs[32];
	const char *argv[] = {cmd, name, NULL};
	struct rv_proc_opts po = {.argv = argv,
				  .env = (const char *const *)env,
				  .env_drop = "REVENANT_",
				  .timeout_ms = h->timeout_ms ? h->timeout_ms : 60000,
				  .out_max = HOOK_OUT_MAX,
				  .what = what,
				  .until_exit = true};
	struct rv_proc_result res;
	int64_t t0 = rv_mono_ms(), spent;
	size_t n = 0;
	int rc;

	if ((rc = gate(h, ev, po.timeout_ms)))
		return rc;
	if (!cmd)
		return 0;
	/* One hooks.timeout for the gate and the hook: the failover timing
	 * counts it once. */
	spent = rv_mono_ms() - t0;
	po.timeout_ms = spent + 1000 < po.timeout_ms ? po.timeout_ms - (unsigned)spent : 1000;
	snprintf(what, sizeof(what), "hook %s", name);
	env[n++] = rv_asprintf("REVENANT_EVENT=%s", name);
	if (info->site)
		env[n++] = rv_asprintf("REVENANT_SITE=%s", info->site);
	if (info->epoch)
		env[n++] = rv_asprintf("REVENANT_EPOCH=%" PRIu64, info->epoch);
	if (info->gen) {
		env[n++] = rv_asprintf("REVENANT_GENERATION=%s", info->gen);
		env[n++] = rv_asprintf("REVENANT_POINT_SEQ=%" PRIu64, info->seq);
	}
	if (info->point_ms > 0) {
		rv_restore_format_time(when, info->point_ms);
		env[n++] = rv_asprintf("REVENANT_POINT_TIME=%s", when);
	}
	if (info->loss_bound_ms >= 0) {
		snprintf(secs, sizeof(secs), "%.3f", (double)info->loss_bound_ms / 1000.0);
		env[n++] = rv_asprintf("REVENANT_LOSS_BOUND_SECONDS=%s", secs);
	}
	if (info->from_site)
		env[n++] = rv_asprintf("REVENANT_FROM_SITE=%s", info->from_site);
	if (info->saved)
		env[n++] = rv_asprintf("REVENANT_SAVED=%s", info->saved);
	rv_log(RV_LOG_INFO, "running hook", "hook", name, "command", cmd, NULL);
	rc = rv_proc_run(&po, &res);
	for (size_t i = 0; i < n; i++)
		free(env[i]);
	if (!rc || rc == RV_ENET) {
		log_output(name, "stdout", &res.out);
		log_output(name, "stderr", &res.err);
	}
	if (rc == RV_ENET) {
		rv_proc_result_release(&res);
		return rv_error(RV_ENET,
				"hook %s (%s) did not finish within hooks.timeout (%u s) and was "
				"killed with everything it started",
				name, cmd, po.timeout_ms / 1000);
	}
	if (!rc && (!WIFEXITED(res.status) || WEXITSTATUS(res.status))) {
		char line[512];

		rv_proc_last_line(&res.err, line, sizeof(line));
		if (WIFSIGNALED(res.status))
			rc = rv_error(RV_EFAIL, "hook %s (%s) was killed by signal %d%s%s", name,
				      cmd, WTERMSIG(res.status), line[0] ? ": " : "", line);
		else
			rc = rv_error(RV_EFAIL, "hook %s (%s) exited %d%s%s", name, cmd,
				      WEXITSTATUS(res.status), line[0] ? ": " : "", line);
	}
	if (!rc) {
		char ms[24];

		snprintf(ms, sizeof(ms), "%" PRId64, rv_mono_ms() - t0);
		rv_log(RV_LOG_INFO, "hook done", "hook", name, "ms", ms, NULL);
	}
	rv_proc_result_release(&res);
	return rc;
}
