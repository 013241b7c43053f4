/* cmd_replicate.c - `revenant replicate`: ship the content folder to the
 * store until stopped (engine/replicate.h does the work).
 *
 * Signals: SIGTERM and SIGINT are blocked in every thread and read from a
 * signalfd (core/signals.h) by one signal thread, so no work happens in a
 * handler.  The first
 * asks the loop to finish its uploads and commit; if that has not happened
 * within the grace period (or a second signal comes), the process-wide
 * shutdown flag makes stuck store operations give up. */
#include "cli/cli.h"
#include "content/content.h"
#include "engine/hooks.h"
#include "engine/replicate.h"
#include "core/config.h"
#include "core/log.h"
#include "core/retry.h"
#include "core/signals.h"
#include "core/util.h"
#include "metrics/metrics.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STOP_GRACE_MS 10000

static void usage(FILE *f)
{
	fprintf(f,
		"usage: revenant [-c FILE] replicate [--take-over]\n"
		"\n"
		"Ship the content folder (content.path) and, when database.sqlite is set,\n"
		"Ghost's SQLite database to the store (store.url), and keep following both:\n"
		"takes the primary lease, starts a generation (a database snapshot first),\n"
		"reconciles the folder with the last recorded state, then ships the new WAL\n"
		"frames and the changed files as they come and commits recovery points naming\n"
		"both, at most one per sync_interval.  The database is switched to WAL mode (it "
		"stays so) and only\n"
		"revenant checkpoints it from then on.  A new generation starts when the WAL\n"
		"chain cannot be continued (logged).  Serves /metrics and /healthz on\n"
		"metrics.listen.\n"
		"SIGTERM or SIGINT: finish the uploads in flight, commit, exit 0 (within 10 s).\n"
		"\n"
		"  --take-over  promotion: take the lease even though another site holds it\n"
		"               (its epoch moves on, so that site's writer stops at its next\n"
		"               commit) and continue that site's generation from its last\n"
		"               point; run it after 'standby --promote-once' restored it here\n"
		"\n"
		"exit codes: 0 stopped cleanly, 2 bad configuration, 3 store unreachable at\n"
		"start, 4 permission (store or content folder), 5 content folder or store\n"
		"folder missing, 8 fenced (another writer took the lease), 130 stopped before\n"
		"everything was committed (the next start reconciles it).\n");
}

static void stop_replicate(void *r)
{
	rv_replicate_stop(r);
}

/* The replicate options from a loaded configuration, the folder and the
 * database file checked (no store is touched; `need_db` false: a missing
 * database file is fine — `run`'s standby restores it); `out` borrows from `cfg`
 * and `m`.  Release with rv_cli_rep_release. */
int rv_cli_rep_setup(const struct rv_config *cfg, struct rv_metrics *m, bool need_db,
		     struct rv_cli_rep *out)
{
	struct rv_replicate_opts *ro = &out->ro;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!cfg->content.path)
		return rv_error(RV_EUSAGE,
				"%s: content.path is not set: name Ghost's content folder",
				cfg->source);
	if (!cfg->store.url)
		return rv_error(RV_EUSAGE, "%s: store.url is not set: name the replica store",
				cfg->source);
	rv_cli_content_opts(cfg, &out->co);
	rv_hooks_from_config(cfg, &out->hooks);
	ro->content = &out->co;
	ro->site = cfg->site;
	ro->sync_interval_ms = cfg->sync_interval_ms;
	ro->heartbeat_interval_ms = cfg->failover.heartbeat_interval_ms;
	ro->fence_after_ms = cfg->failover.fence_after_ms;
	ro->hooks = &out->hooks;
	ro->manifest_every = (unsigned)cfg->content.manifest_every;
	ro->manifest_interval_ms = cfg->content.manifest_interval_ms;
	ro->workers = (unsigned)cfg->content.upload_workers;
	ro->metrics = m;
	ro->stop_grace_ms = STOP_GRACE_MS;
	ro->sqlite_path = cfg->database.sqlite;
	ro->snapshot_interval_ms = cfg->database.snapshot_interval_ms;
	ro->snapshot_log_ratio = (unsigned)cfg->database.snapshot_log_ratio;
	ro->busy_timeout_ms = (int)cfg->database.busy_timeout_ms;
	if (cfg->database.mysql.database)
		ro->mysql = &cfg->database.mysql;
	/* The folder is checked before the store is touched: a wrong path
	 * is the most common mistake and needs no network to report. */
	if ((rc = rv_replicate_check_folder(&out->co)))
		return rc;
	if (cfg->database.sqlite) {
		struct stat sb;

		if (!need_db && stat(cfg->database.sqlite, &sb) == -1 && errno == ENOENT)
			sb.st_mode = S_IFREG; /* a standby's, restored when it follows */
		else if (stat(cfg->database.sqlite, &sb) == -1)
			return rv_error_errno(
			    errno == ENOENT ? RV_ENOTFOUND : RV_EAUTH, errno,
			    "%s: database.sqlite '%s' cannot be used — name Ghost's "
			    "SQLite file (database.connection.filename in its config)",
			    cfg->source, cfg->database.sqlite);
		if (!S_ISREG(sb.st_mode))
			return rv_error(RV_EUSAGE, "%s: database.sqlite '%s' is not a regular file",
					cfg->source, cfg->database.sqlite);
		/* The database inside the folder (content/data/ghost.db) is
		 * the database replication's, whatever content.exclude says. */
		out->co.always_exclude = out->db_rel =
		    rv_content_rel_under(out->co.root, cfg->database.sqlite);
	}
	return 0;
}

void rv_cli_rep_release(struct rv_cli_rep *r)
{
	free(r->db_rel);
	r->db_rel = NULL;
}

/* The replicate loop on a loaded configuration (also what `promote` runs
 * once this site is primary); `cfg` stays the caller's. */
int rv_cli_replicate(const struct rv_config *cfg, bool take_over)
{
	struct rv_store *st = NULL;
	struct rv_metrics *m = NULL;
	struct rv_metrics_server *srv = NULL;
	struct rv_replicate *r = NULL;
	struct rv_cli_rep rep = {0};
	struct rv_replicate_opts ro;
	struct rv_cli_sig sc;
	int rc;

	rv_cli_sig_init(&sc);
	rv_metrics_new(&m);
	if ((rc = rv_cli_rep_setup(cfg, m, true, &rep)))
		goto out;
	ro = rep.ro;
	ro.take_over = take_over;
	/* Before any thread exists, so that every thread inherits the mask. */
	if ((rc = rv_cli_sig_open(&sc)))
		goto out;
	if ((rc = rv_cli_open_store_cfg(cfg, NULL, &st)))
		goto out;
	if ((rc = rv_store_probe(st)))
		goto out;
	ro.store = st;
	if ((rc = rv_replicate_new(&r, &ro)))
		goto out;
	if (cfg->metrics.listen &&
	    (rc = rv_metrics_serve(&srv, cfg->metrics.listen, m, rv_replicate_health, r)))
		goto out;
	if ((rc = rv_cli_sig_start(&sc, stop_replicate, r, STOP_GRACE_MS)))
		goto out;
	rv_log(RV_LOG_DEBUG, "replicating content", "folder", rep.co.root, "store",
	       rv_store_describe(st), "site", cfg->site, "metrics",
	       cfg->metrics.listen ? cfg->metrics.listen : "off", NULL);
	rc = rv_replicate_run(r);
	if (!rc)
		rv_log(RV_LOG_INFO, "replicate stopped cleanly", NULL);
out:
	rv_cli_sig_close(&sc);
	rv_metrics_server_free(srv);
	rv_replicate_free(r);
	rv_metrics_free(m);
	rv_store_free(st);
	rv_cli_rep_release(&rep);
	return rc;
}

int rv_cmd_replicate(struct rv_cli *cli, int argc, char **argv)
{
	enum { OPT_TAKE_OVER = 'T' };
	static const struct option opts[] = {
	    {"take-over", no_argument, NULL, OPT_TAKE_OVER},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct rv_config *cfg = NULL;
	bool take_over = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == OPT_TAKE_OVER) {
			take_over = true;
			continue;
		}
		usage(stderr);
		return rv_error(RV_EUSAGE, "unknown option (see revenant replicate --help)");
	}
	if (optind != argc)
		return rv_error(RV_EUSAGE, "replicate takes no arguments (see revenant replicate "
					   "--help)");
	if ((rc = rv_cli_load_config(cli, true, &cfg)))
		return rc;
	rc = rv_cli_replicate(cfg, take_over);
	rv_config_free(cfg);
	return rc;
}
