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

struct sigctx {
	struct rv_signals sg;
	struct rv_replicate *r;
	int done_fd; /* written when the command ends */
};

/* Sleeps until a signal comes (no tick: an idle sidecar must not wake for
 * nothing); after the first, until the grace period ends.  A thread of its
 * own, not the replicate loop: the loop may sit in a store call that only
 * the shutdown flag ends. */
static void *signal_thread(void *arg)
{
	struct sigctx *s = arg;
	int64_t hard_at = 0;

	for (;;) {
		int64_t left = hard_at ? hard_at - rv_mono_ms() : -1;
		int sig =
		    rv_signals_wait(&s->sg, hard_at ? (left > 0 ? (int)left : 0) : -1, s->done_fd);
		char b[16];
		uint64_t v;

		if (read(s->done_fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
			return NULL;
		if (sig && !hard_at) {
			rv_log(RV_LOG_INFO, "signal received, stopping", "signal",
			       rv_signals_name(sig, b), NULL);
			rv_replicate_stop(s->r);
			hard_at = rv_mono_ms() + STOP_GRACE_MS + 1000;
		} else if (sig || (hard_at && rv_mono_ms() >= hard_at)) {
			rv_shutdown_request();
		}
	}
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
	struct rv_store *st = NULL;
	struct rv_metrics *m = NULL;
	struct rv_metrics_server *srv = NULL;
	struct rv_replicate *r = NULL;
	struct rv_content_opts co;
	char *db_rel = NULL;
	struct rv_replicate_opts ro = {0};
	struct sigctx sc = {.sg = {.fd = -1}, .done_fd = -1};
	pthread_t sig_thread;
	bool sig_started = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == OPT_TAKE_OVER) {
			ro.take_over = true;
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
	if (!cfg->content.path) {
		rc = rv_error(RV_EUSAGE, "%s: content.path is not set: name Ghost's content folder",
			      cfg->source);
		goto out;
	}
	if (!cfg->store.url) {
		rc = rv_error(RV_EUSAGE, "%s: store.url is not set: name the replica store",
			      cfg->source);
		goto out;
	}
	rv_cli_content_opts(cfg, &co);

	/* Before any thread exists, so that every thread inherits the mask. */
	if ((rc = rv_signals_open(&sc.sg)))
		goto out;
	if ((sc.done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		rc = rv_error_errno(RV_EFAIL, errno, "cannot set up signal handling");
		goto out;
	}

	rv_metrics_new(&m);
	ro.content = &co;
	ro.site = cfg->site;
	ro.sync_interval_ms = cfg->sync_interval_ms;
	ro.heartbeat_interval_ms = cfg->failover.heartbeat_interval_ms;
	ro.manifest_every = (unsigned)cfg->content.manifest_every;
	ro.manifest_interval_ms = cfg->content.manifest_interval_ms;
	ro.workers = (unsigned)cfg->content.upload_workers;
	ro.metrics = m;
	ro.stop_grace_ms = STOP_GRACE_MS;
	ro.sqlite_path = cfg->database.sqlite;
	ro.snapshot_interval_ms = cfg->database.snapshot_interval_ms;
	ro.snapshot_log_ratio = (unsigned)cfg->database.snapshot_log_ratio;
	ro.busy_timeout_ms = (int)cfg->database.busy_timeout_ms;
	/* MySQL/MariaDB: the snapshot and its restore exist, the binlog
	 * stream does not yet.  Shipping snapshots alone while recovery
	 * points claim the database at their time would be a lie told at
	 * restore time: refuse, before anything is written. */
	if (cfg->database.mysql.database) {
		rc = rv_error(RV_EUSAGE,
			      "%s: database.mysql: replicate cannot ship MySQL/MariaDB yet — the "
			      "binlog stream is not built (issue 11), and snapshots alone would "
			      "leave recovery points without their database; `revenant config "
			      "check` verifies the server meanwhile",
			      cfg->source);
		goto out;
	}
	/* The folder is checked before the store is touched: a wrong path
	 * is the most common mistake and needs no network to report. */
	if ((rc = rv_replicate_check_folder(&co)))
		goto out;
	if (cfg->database.sqlite) {
		struct stat sb;

		if (stat(cfg->database.sqlite, &sb) == -1) {
			rc = rv_error_errno(
			    errno == ENOENT ? RV_ENOTFOUND : RV_EAUTH, errno,
			    "%s: database.sqlite '%s' cannot be used — name Ghost's "
			    "SQLite file (database.connection.filename in its config)",
			    cfg->source, cfg->database.sqlite);
			goto out;
		}
		if (!S_ISREG(sb.st_mode)) {
			rc = rv_error(RV_EUSAGE, "%s: database.sqlite '%s' is not a regular file",
				      cfg->source, cfg->database.sqlite);
			goto out;
		}
	}
	/* The database inside the folder (content/data/ghost.db) is the
	 * database replication's, whatever content.exclude says. */
	if (cfg->database.sqlite)
		co.always_exclude = db_rel = rv_content_rel_under(co.root, cfg->database.sqlite);
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
	sc.r = r;
	if ((errno = pthread_create(&sig_thread, NULL, signal_thread, &sc))) {
		rc = rv_error_errno(RV_EFAIL, errno, "cannot start the signal thread");
		goto out;
	}
	sig_started = true;
	rv_log(RV_LOG_DEBUG, "replicating content", "folder", co.root, "store",
	       rv_store_describe(st), "site", cfg->site, "metrics",
	       cfg->metrics.listen ? cfg->metrics.listen : "off", NULL);
	rc = rv_replicate_run(r);
	if (!rc)
		rv_log(RV_LOG_INFO, "replicate stopped cleanly", NULL);
out:
	if (sig_started) {
		uint64_t one = 1;

		if (write(sc.done_fd, &one, sizeof(one)) == -1) {
			/* an eventfd at its limit is still readable */
		}
		pthread_join(sig_thread, NULL);
	}
	if (sc.done_fd >= 0)
		close(sc.done_fd);
	rv_signals_close(&sc.sg);
	rv_metrics_server_free(srv);
	rv_replicate_free(r);
	rv_metrics_free(m);
	rv_store_free(st);
	rv_config_free(cfg);
	free(db_rel);
	return rc;
}
