/* cmd_promote.c - `revenant promote`: parse, call rv_promote
 * (engine/promote.h), print what happened, then replicate as primary. */
#include "cli/cli.h"
#include "content/apply.h"
#include "content/content.h"
#include "content/restore.h"
#include "core/config.h"
#include "core/log.h"
#include "engine/promote.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char promote_usage[] =
    "usage: revenant [-c FILE] promote [--force] [--no-replicate] [-j N]\n"
    "\n"
    "Fail over: make this site (site:) primary when the primary site is gone.\n"
    "Run it where the standby ran (stop the standby first: it holds the folder).\n"
    "It refuses (exit 10) while the primary's heartbeat is younger than\n"
    "failover.dead_after, or when the writes it would lose cannot be shown to be\n"
    "within failover.max_loss.  Then: brings content.path and database.sqlite to\n"
    "the newest point, takes the lease (epoch + 1: the old primary stops at its\n"
    "next commit), runs hooks.promote, waits for Ghost at ghost.url, switches\n"
    "the dns: names to this site, and replicates as primary (a new generation\n"
    "whose parent is the promoted point) until SIGTERM.  Stopped part-way, it says\n"
    "where; run it again to finish.  When this site's agent (revenant run) holds\n"
    "the folder, promote takes the lease for it and waits until the agent has\n"
    "finished and writes its heartbeat as primary.\n"
    "\n"
    "  --force         promote whatever the guard says (the figure is still printed)\n"
    "  --no-replicate  stop once DNS is switched (start 'revenant replicate' next)\n"
    "  -j, --jobs N    parallel downloads during the catch-up (default 8)\n"
    "\n"
    "exit codes: 0 done (or replicate stopped cleanly), 2 bad configuration,\n"
    "3 store, Ghost or DNS unreachable, 4 permission, 5 nothing to promote,\n"
    "6 another standby holds the folder, 7 a corrupt object or a gap, 8 another\n"
    "promotion took the lease first, 10 refused by the guard.\n";

static void print_result(const struct rv_promote_result *r)
{
	char when[32], loss[32];

	if (r->loss_bound_ms >= 0)
		snprintf(loss, sizeof(loss), "%.3f", (double)r->loss_bound_ms / 1000.0);
	else
		snprintf(loss, sizeof(loss), "unknown");
	rv_restore_format_time(when, r->point.commit_ms);
	printf("promoted site_from=%s epoch=%" PRIu64 " generation=%s seq=%" PRIu64
	       " point=%s loss_bound_seconds=%s%s\n",
	       r->from_site[0] ? r->from_site : "none", r->epoch,
	       r->point.gen[0] ? r->point.gen : "-", r->point.seq, r->point.commit_ms ? when : "-",
	       loss, r->forced ? " forced=yes" : "");
	printf("timings catchup_s=%.3f hook_s=%.3f ghost_s=%.3f dns_s=%.3f total_s=%.3f "
	       "dns_names_switched=%u\n",
	       (double)r->catchup_ms / 1000.0, (double)r->hook_ms / 1000.0,
	       (double)r->ghost_ms / 1000.0, (double)r->dns_ms / 1000.0,
	       (double)r->total_ms / 1000.0, r->dns_switched);
}

void rv_cli_promote_opts(const struct rv_config *cfg, struct rv_promote_opts *po,
			 struct rv_content_opts *keep, struct rv_hooks *hooks)
{
	rv_cli_content_opts(cfg, keep);
	rv_hooks_from_config(cfg, hooks);
	po->site = cfg->site;
	po->dir = cfg->content.path;
	/* The database a promotion hands to Ghost: the SQLite file, or the
	 * MySQL database (its name stands for it in messages). */
	po->standby.db_path = cfg->database.sqlite;
	if (cfg->database.mysql.database) {
		po->standby.db_path = cfg->database.mysql.database;
		po->standby.db_mysql = &cfg->database.mysql;
	}
	po->standby.restore.keep = keep;
	po->standby.restore.keep_path = cfg->database.sqlite;
	po->stops_within_ms =
	    cfg->failover.fence_after_ms +
	    (rv_hooks_stop_ghost(hooks, RV_HOOK_FENCED) ? cfg->hooks.timeout_ms : 0);
	po->sync_interval_ms = cfg->sync_interval_ms;
	po->dead_after_ms = cfg->failover.dead_after_ms;
	po->max_loss_ms = cfg->failover.max_loss_ms;
	po->hooks = hooks;
	po->ghost_url = cfg->ghost.url;
	po->ghost_timeout_ms = cfg->failover.ghost_timeout_ms;
	po->agent_timeout_ms = cfg->failover.ghost_timeout_ms + 60000;
	po->dns = cfg;
}

int rv_cmd_promote(struct rv_cli *cli, int argc, char **argv)
{
	enum { OPT_FORCE = 1000, OPT_NO_REPLICATE };
	static const struct option longopts[] = {
	    {"force", no_argument, NULL, OPT_FORCE},
	    {"no-replicate", no_argument, NULL, OPT_NO_REPLICATE},
	    {"jobs", required_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct rv_promote_opts po = {.standby = {.restore = {.jobs = 8}}};
	struct rv_promote_result res;
	struct rv_config *cfg = NULL;
	struct rv_store *s = NULL;
	struct rv_content_opts keep;
	struct rv_hooks hooks;
	bool replicate = true;
	int c, rc;

	if (rv_cli_wants_help(argc, argv)) {
		fputs(promote_usage, stdout);
		return 0;
	}
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "j:", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FORCE:
			po.force = true;
			break;
		case OPT_NO_REPLICATE:
			replicate = false;
			break;
		case 'j':
			if ((rc = rv_cli_parse_jobs(optarg, &po.standby.restore.jobs)))
				return rc;
			break;
		default:
			return rv_cli_bad_option("promote", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return rv_error(RV_EUSAGE,
				"promote takes no arguments (see revenant promote --help)");
	if ((rc = rv_cli_load_config(cli, true, &cfg)))
		return rc;
	if (!cfg->content.path || !cfg->store.url) {
		rc = rv_error(RV_EUSAGE,
			      "%s: %s is not set: promote needs the folder and the store "
			      "replicate uses",
			      cfg->source, !cfg->content.path ? "content.path" : "store.url");
		goto out;
	}
	rv_cli_promote_opts(cfg, &po, &keep, &hooks);
	if (rv_apply_busy(po.dir)) {
		/* This site's agent (revenant run) follows as a standby: it
		 * finishes once the lease is this site's. */
		po.remote = true;
		replicate = false;
		rv_log(RV_LOG_INFO, "the content folder is held by this site's agent: it finishes",
		       "folder", po.dir, NULL);
	}
	if ((rc = rv_cli_open_store_cfg(cfg, NULL, &s)))
		goto out;
	po.store = s;
	rc = rv_promote(&po, &res);
	if (!rc || res.stage > RV_PROMOTE_LEASE)
		print_result(&res);
	if (fflush(stdout) == EOF && !rc)
		rc = rv_error_errno(RV_EFAIL, errno, "write to standard output");
	rv_store_free(s);
	s = NULL;
	if (!rc && replicate)
		rc = rv_cli_replicate(cfg, false);
out:
	rv_store_free(s);
	rv_config_free(cfg);
	return rc;
}
