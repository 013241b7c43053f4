/* cmd_switchover.c - `revenant switchover`: parse, call rv_switchover
 * (engine/switchover.h), print. */
#include "cli/cli.h"
#include "core/config.h"
#include "engine/lease.h"
#include "engine/switchover.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char switchover_usage[] =
    "usage: revenant [-c FILE] switchover [--to SITE] [--cancel]\n"
    "\n"
    "Move the primary role to SITE (default: this site, site:) with nothing lost.\n"
    "Both sites run 'revenant run'.  It refuses (exit 10) unless the primary writes\n"
    "its heartbeat and SITE's standby reports, follows the primary and is within\n"
    "failover.max_loss of it.  Then the primary runs hooks.demote (Ghost stops\n"
    "taking writes), ships its final point and hands the lease over; SITE's agent\n"
    "applies exactly that point, runs hooks.promote, waits for Ghost, switches DNS\n"
    "and replicates; the old primary follows it.  Waits for all of it and prints\n"
    "how long each part took.\n"
    "\n"
    "  --to SITE  the site to become primary\n"
    "  --cancel   take back a switchover the primary has not acted on yet\n"
    "\n"
    "exit codes: 0 done, 1 the primary took it back (its demote hook failed),\n"
    "2 bad usage, 3 a step outlived the timeout (it says where things stand),\n"
    "5 nothing replicates to the store, 6 the lease changed meanwhile,\n"
    "10 refused by the checks.\n";

int rv_cmd_switchover(struct rv_cli *cli, int argc, char **argv)
{
	enum { OPT_TO = 1000, OPT_CANCEL };
	static const struct option longopts[] = {
	    {"to", required_argument, NULL, OPT_TO},
	    {"cancel", no_argument, NULL, OPT_CANCEL},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct rv_switchover_opts so = {0};
	struct rv_switchover_result res;
	struct rv_config *cfg = NULL;
	struct rv_store *s = NULL;
	bool cancel = false;
	int c, rc;

	if (rv_cli_wants_help(argc, argv)) {
		fputs(switchover_usage, stdout);
		return 0;
	}
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == OPT_TO)
			so.to = optarg;
		else if (c == OPT_CANCEL)
			cancel = true;
		else
			return rv_cli_bad_option("switchover", argv[optind - 1]);
	}
	if (optind != argc)
		return rv_error(RV_EUSAGE, "switchover takes no arguments (see revenant switchover "
					   "--help)");
	if ((rc = rv_cli_load_config(cli, true, &cfg)))
		return rc;
	if (!so.to)
		so.to = cfg->site;
	so.max_behind_ms = cfg->failover.max_loss_ms;
	so.status_fresh_ms = 3 * cfg->failover.heartbeat_interval_ms + 2000;
	so.dead_after_ms = cfg->failover.dead_after_ms;
	so.timeout_ms = 2 * cfg->hooks.timeout_ms + cfg->failover.ghost_timeout_ms + 60000;
	if ((rc = rv_cli_open_store_cfg(cfg, NULL, &s)))
		goto out;
	so.store = s;
	if (cancel) {
		struct rv_lease l;

		if (!(rc = rv_lease_read(s, &l))) {
			rc = rv_lease_ask_switchover(s, l.epoch, NULL, true);
			rv_lease_release(&l);
		}
		if (!rc)
			printf("switchover request taken back\n");
		goto out;
	}
	rc = rv_switchover(&so, &res);
	if (!rc)
		printf("switched over from=%s to=%s epoch=%" PRIu64 " handover_seq=%" PRIu64
		       " handed_over_s=%.3f primary_s=%.3f\n",
		       res.from, so.to, res.epoch_after, res.handover_seq,
		       (double)res.handed_ms / 1000.0, (double)res.primary_ms / 1000.0);
	if (fflush(stdout) == EOF && !rc)
		rc = rv_error_errno(RV_EFAIL, errno, "write to standard output");
out:
	rv_store_free(s);
	rv_config_free(cfg);
	return rc;
}
