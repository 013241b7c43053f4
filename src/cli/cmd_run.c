/* cmd_run.c - `revenant run`: the one process per site whose role follows
 * the lease (engine/agent.h).  Parses, builds the options from revenant.yml,
 * calls rv_agent_run. */
#include "cli/cli.h"
#include "content/restore.h"
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "engine/agent.h"
#include "metrics/metrics.h"
#include "store/store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STOP_GRACE_MS 10000

static const char run_usage[] =
    "usage: revenant [-c FILE] run\n"
    "\n"
    "One long-lived process per site, the same command line at both: its role\n"
    "follows the lease in the store.  Where this site (site:) holds the lease it\n"
    "replicates content.path and database.sqlite (as 'replicate'); where another\n"
    "site does, it keeps them a warm standby (as 'standby') until this site is\n"
    "promoted — by 'revenant promote' (here or anywhere: it takes the lease for\n"
    "this site and this process finishes: catch-up, hooks.promote, Ghost, DNS),\n"
    "or by the automatic failover (failover.auto).  A primary that finds a newer\n"
    "epoch runs hooks.fenced, saves aside what the store may not hold\n"
    "(failover.save_dir), runs hooks.standby and follows the new primary.  On an\n"
    "empty store only failover.initial_primary starts as primary.\n"
    "Serves /metrics (revenant_role{role=...}) and /healthz on metrics.listen.\n"
    "SIGTERM or SIGINT: stops the current role cleanly, exit 0.\n"
    "\n"
    "exit codes: 0 stopped, 1 a hook failed or a promotion could not finish (it\n"
    "says where), 2 bad configuration, 4 permission, 5 content folder missing.\n";

static void stop_agent(void *a)
{
	rv_agent_stop(a);
}

int rv_cmd_run(struct rv_cli *cli, int argc, char **argv)
{
	struct rv_agent_opts ao = {0};
	struct rv_config *cfg = NULL;
	struct rv_store *st = NULL;
	struct rv_metrics *m = NULL;
	struct rv_metrics_server *srv = NULL;
	struct rv_agent *a = NULL;
	struct rv_cli_rep rep = {0};
	struct rv_content_opts keep;
	struct rv_hooks hooks;
	struct rv_cli_sig sc;
	char *save_dir = NULL;
	void *gauges = NULL;
	int rc;

	if (rv_cli_wants_help(argc, argv)) {
		fputs(run_usage, stdout);
		return 0;
	}
	if (argc > 1)
		return rv_error(RV_EUSAGE, "run takes no arguments (see revenant run --help)");
	rv_cli_sig_init(&sc);
	if ((rc = rv_cli_load_config(cli, true, &cfg)))
		return rc;
	rv_metrics_new(&m);
	if ((rc = rv_cli_rep_setup(cfg, m, false, &rep)))
		goto out;
	ao.rep = rep.ro;
	ao.site = cfg->site;
	ao.dir = cfg->content.path;
	rv_cli_promote_opts(cfg, &ao.pro, &keep, &hooks);
	ao.hooks = &hooks;
	ao.rep.hooks = &hooks;
	/* The standby role follows into what a promotion hands to Ghost. */
	ao.sb = ao.pro.standby;
	ao.sb.interval_ms = 1000;
	gauges = rv_cli_standby_gauges(m, &ao.sb);
	ao.initial_primary =
	    cfg->failover.initial_primary && !strcmp(cfg->failover.initial_primary, cfg->site);
	save_dir = cfg->failover.save_dir ? rv_strdup(cfg->failover.save_dir)
					  : rv_asprintf("%s.revenant-saved", cfg->content.path);
	ao.save_dir = save_dir;
	ao.sync_interval_ms = cfg->sync_interval_ms;
	ao.metrics = m;
	ao.auto_failover = cfg->failover.auto_failover;
	ao.probe_url = cfg->failover.probe_url;
	ao.rise = (unsigned)cfg->failover.rise;
	ao.fall = (unsigned)cfg->failover.fall;
	ao.probe_interval_ms = cfg->failover.probe_interval_ms;
	ao.dead_after_ms = cfg->failover.dead_after_ms;
	/* Before any thread exists, so that every thread inherits the mask. */
	if ((rc = rv_cli_sig_open(&sc)))
		goto out;
	if ((rc = rv_cli_open_store_cfg(cfg, NULL, &st)) || (rc = rv_store_probe(st)))
		goto out;
	ao.store = ao.rep.store = ao.pro.store = st;
	if ((rc = rv_agent_new(&a, &ao)))
		goto out;
	if (cfg->metrics.listen &&
	    (rc = rv_metrics_serve(&srv, cfg->metrics.listen, m, rv_agent_health, a)))
		goto out;
	if ((rc = rv_cli_sig_start(&sc, stop_agent, a, STOP_GRACE_MS)))
		goto out;
	rv_log(RV_LOG_INFO, "revenant run", "site", cfg->site, "store", rv_store_describe(st),
	       "auto_failover", ao.auto_failover ? "on" : "off", NULL);
	rc = rv_agent_run(a);
	if (!rc)
		rv_log(RV_LOG_INFO, "run stopped cleanly", NULL);
out:
	rv_cli_sig_close(&sc);
	rv_metrics_server_free(srv);
	rv_agent_free(a);
	rv_metrics_free(m);
	rv_store_free(st);
	rv_cli_rep_release(&rep);
	free(save_dir);
	free(gauges);
	rv_config_free(cfg);
	return rc;
}
