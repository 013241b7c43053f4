/* cmd_standby.c - `revenant standby`: keep a folder, and optionally a
 * SQLite file, at the store's latest recovery point until SIGTERM, or
 * catch up once and hand both over (--promote-once). */
#include "cli/cli.h"
#include "content/restore.h"
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/signals.h"
#include "db/mysql/mysql.h"
#include "core/util.h"
#include "metrics/metrics.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char standby_usage[] =
    "usage: revenant standby --to DIR [--db FILE] [--promote-once] [--interval DUR] [-j N]\n"
    "                        [--allow-outside-links] [--before-gap] [URL]\n"
    "\n"
    "Follow the store (URL, default store.url of the configuration) and keep DIR\n"
    "equal to its content folder and, with --db, FILE equal to its SQLite database,\n"
    "both at the same recovery point: first a full restore of the latest point\n"
    "(paths that are not in the store are removed, except what replicate never ships:\n"
    "content.exclude and FILE with its companions), then every new commit of the\n"
    "lease's generation is applied as it appears: the database is moved to the\n"
    "commit's position (WAL segments written in place, each verified first), then\n"
    "the commit's files are applied, each verified and renamed into place\n"
    "atomically.  A new generation in the lease is followed.  A commit missing while\n"
    "later ones are present (a gap in the content log) is damage: the standby stays\n"
    "at the point before it, logs the gap as an error (every 30 s) and moves on\n"
    "only from a manifest past it (replicate writes one every 256 commits or 10\n"
    "minutes); it never goes back to an older point or skips the commit.  The\n"
    "lag (how far behind the store the folder may be) is logged every 30 s.  Store\n"
    "errors are logged and retried; SIGTERM or SIGINT stop it cleanly (exit 0).\n"
    "\n"
    "The standby owns FILE while it runs: Ghost (or anything else) must not have it\n"
    "open.  FILE-wal, FILE-shm and FILE-journal left by an earlier Ghost run are\n"
    "removed (logged).  FILE.revenant-standby records the generation, the position\n"
    "and whether FILE is consistent; a standby killed while writing FILE, a missing\n"
    "state or a FILE changed by someone else means a full restore of the database at\n"
    "the next start (snapshot + segments into a temporary file renamed over FILE).\n"
    "\n"
    "  --to DIR               the standby's content folder (created if missing)\n"
    "  --db FILE              also keep this SQLite database (replicate must ship it:\n"
    "                         database.sqlite on the primary)\n"
    "  --db mysql://USER@HOST[:PORT]/DATABASE  (or ...@localhost/DATABASE?socket=PATH)\n"
    "                         ... or keep this MySQL/MariaDB database (database.mysql\n"
    "                         on the primary): each transaction applied moves the\n"
    "                         table revenant_standby inside it in the same\n"
    "                         transaction; --promote-once drops that table; the\n"
    "                         password from --db-password-file FILE or\n"
    "                         REVENANT_DB_PASSWORD\n"
    "  --promote-once         catch up once to the latest point (from a previous\n"
    "                         standby's state or from nothing), run PRAGMA\n"
    "                         integrity_check on FILE, remove the state file, print\n"
    "                         one line (generation, seq, db position, commit time) and\n"
    "                         exit: DIR and FILE are then ready for Ghost\n"
    "  --interval DUR         how often to look for new commits (default 1s)\n"
    "  -j, --jobs N           parallel downloads (default 8)\n"
    "  --allow-outside-links  also restore symlinks pointing outside DIR\n"
    "  --before-gap           when a gap blocks the latest point, start from (and\n"
    "                         --promote-once promotes) the newest point before it,\n"
    "                         with a warning, instead of failing\n"
    "  --metrics-listen ADDR  serve /metrics and /healthz on host:port, or 'off'\n"
    "                         (default metrics.listen of the configuration)\n"
    "\n"
    "Metrics: revenant_standby_lag_seconds (how long the folder may have been\n"
    "behind the store: 0 right after a poll that applied everything; it grows while\n"
    "the store is unreachable or a commit cannot be applied),\n"
    "revenant_standby_applied_seq, revenant_standby_last_commit_timestamp_seconds.\n"
    "/healthz is 200 once the first restore is done and the lag is under 60 s.\n"
    "\n"
    "Exit codes: 0 stopped by a signal (or promoted), 2 bad usage, 4 permission (not\n"
    "retried).  --promote-once: 3 store unreachable, 5 nothing to promote, 7 an\n"
    "object or the promoted database is corrupt, or a gap in the content log\n"
    "(without --before-gap), 1 anything else.\n";

enum {
	OPT_TO = 'T',
	OPT_INTERVAL = 'I',
	OPT_LINKS = 'L',
	OPT_METRICS = 'M',
	OPT_DB = 'D',
	OPT_PROMOTE = 'P',
	OPT_BEFORE_GAP = 'g',
	OPT_DB_PASSWORD_FILE = 'W',
};

struct gauges {
	struct rv_metric *lag, *seq, *commit, *ready, *db_pos, *hb_age;
	bool hb_stale; /* logged as stale, not yet as back */
};

/* A heartbeat this old says the primary, or its way to the store, is gone. */
#define STALE_HEARTBEAT_S 30.0

static void on_heartbeat(void *ud, double age, bool current)
{
	struct gauges *g = ud;
	char a[32];
	bool stale = age < 0 || age > STALE_HEARTBEAT_S || !current;

	rv_metric_set(g->hb_age, age);
	snprintf(a, sizeof(a), "%.1f", age);
	if (stale && !g->hb_stale)
		rv_log(RV_LOG_WARN,
		       age < 0	  ? "no primary heartbeat in the store"
		       : !current ? "the primary heartbeat is a fenced writer's"
				  : "the primary heartbeat is stale: the primary or its way to "
				    "the store is down",
		       "age_seconds", a, NULL);
	else if (!stale && g->hb_stale)
		rv_log(RV_LOG_INFO, "the primary heartbeat is current again", "age_seconds", a,
		       NULL);
	g->hb_stale = stale;
}

static void on_applied(void *ud, const char *gen, uint64_t seq, int64_t commit_ms, double lag,
		       int64_t db_pos)
{
	struct gauges *g = ud;

	(void)gen;
	if (g->db_pos && db_pos >= 0)
		rv_metric_set(g->db_pos, (double)db_pos);
	rv_metric_set(g->lag, lag);
	rv_metric_set(g->seq, (double)seq);
	rv_metric_set(g->commit, (double)commit_ms / 1000.0);
	rv_metric_set(g->ready, 1);
}

static int health(void *ud, char *why, size_t n)
{
	struct gauges *g = ud;

	return rv_standby_health(rv_metric_get(g->ready) >= 1, rv_metric_get(g->lag), why, n);
}

struct sig {
	struct rv_signals sg;
	bool stopped;
};

/* The standby's wait between looks at the store, cut short by SIGTERM or
 * SIGINT (core/signals.h: nothing runs in a handler). */
static bool wait_signal(void *ud, unsigned ms)
{
	struct sig *s = ud;
	char b[16];
	int sig;

	if (s->stopped)
		return true;
	sig = rv_signals_wait(&s->sg, (int)ms, -1);
	if (sig) {
		rv_log(RV_LOG_INFO, "standby stopping", "signal", rv_signals_name(sig, b), NULL);
		s->stopped = true;
	}
	return s->stopped;
}

static int promote_once(struct rv_store *s, const char *to, const struct rv_standby_opts *so)
{
	struct rv_standby_point p;
	char when[32];
	int rc = rv_standby_promote(s, to, so, &p);

	if (rc)
		return rc;
	rv_restore_format_time(when, p.commit_ms);
	if (p.has_db)
		printf("promoted generation=%s seq=%" PRIu64 " db_generation=%s db_pos=%" PRIu64
		       " commit=%s dir=%s db=%s\n",
		       p.gen, p.seq, p.db_gen, p.db_pos, when, to, so->db_path);
	else
		printf("promoted generation=%s seq=%" PRIu64 " commit=%s dir=%s\n", p.gen, p.seq,
		       when, to);
	if (fflush(stdout) == EOF)
		return rv_error_errno(RV_EFAIL, errno, "write to standard output");
	return 0;
}

void *rv_cli_standby_gauges(struct rv_metrics *m, struct rv_standby_opts *so)
{
	struct gauges *g = rv_calloc(1, sizeof(*g));

	g->lag =
	    rv_metrics_gauge(m, "revenant_standby_lag_seconds",
			     "How long the standby folder may have been behind the store.", NULL);
	g->seq =
	    rv_metrics_gauge(m, "revenant_standby_applied_seq",
			     "Content sequence number applied last (in its generation).", NULL);
	g->commit = rv_metrics_gauge(m, "revenant_standby_last_commit_timestamp_seconds",
				     "Commit time of the content commit applied last.", NULL);
	g->ready = rv_metrics_gauge(m, "revenant_standby_ready",
				    "1 once the first full restore is done.", NULL);
	if (so->db_path)
		g->db_pos = rv_metrics_gauge(
		    m, "revenant_standby_db_position_frames",
		    "Database position (WAL frames in its generation) applied last; compare "
		    "with the primary's revenant_db_position_frames.",
		    NULL);
	g->hb_age =
	    rv_metrics_gauge(m, "revenant_primary_heartbeat_age_seconds",
			     "Age of the primary's heartbeat.json (-1: none in the store).", NULL);
	so->applied = on_applied;
	so->applied_ud = g;
	so->heartbeat = on_heartbeat;
	return g;
}

int rv_cmd_standby(struct rv_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"to", required_argument, NULL, OPT_TO},
	    {"db", required_argument, NULL, OPT_DB},
	    {"promote-once", no_argument, NULL, OPT_PROMOTE},
	    {"db-password-file", required_argument, NULL, OPT_DB_PASSWORD_FILE},
	    {"before-gap", no_argument, NULL, OPT_BEFORE_GAP},
	    {"interval", required_argument, NULL, OPT_INTERVAL},
	    {"jobs", required_argument, NULL, 'j'},
	    {"allow-outside-links", no_argument, NULL, OPT_LINKS},
	    {"metrics-listen", required_argument, NULL, OPT_METRICS},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct rv_standby_opts so = {.restore = {.jobs = 8}, .interval_ms = 1000};
	struct sig sg = {.sg = {.fd = -1}, .stopped = false};
	struct rv_store *s = NULL;
	struct rv_config *cfg = NULL;
	struct rv_content_opts keep;
	struct rv_metrics *m = NULL;
	struct rv_metrics_server *srv = NULL;
	void *gp = NULL;
	const char *to = NULL, *listen = NULL, *pwfile = NULL;
	struct rv_mysql_conf my = {0};
	bool promote = false, is_mysql = false;
	int c, rc;

	if (rv_cli_wants_help(argc, argv)) {
		fputs(standby_usage, stdout);
		return 0;
	}
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "j:", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TO:
			to = optarg;
			break;
		case OPT_DB:
			so.db_path = optarg;
			break;
		case OPT_PROMOTE:
			promote = true;
			break;
		case OPT_DB_PASSWORD_FILE:
			pwfile = optarg;
			break;
		case OPT_BEFORE_GAP:
			so.before_gap = true;
			break;
		case OPT_INTERVAL: {
			int64_t ms;
			if (rv_parse_duration_ms(optarg, &ms) || ms < 10 || ms > 3600000)
				return rv_error(
				    RV_EUSAGE,
				    "--interval wants a duration from 10ms to 1h, not '%s'",
				    optarg);
			so.interval_ms = (unsigned)ms;
			break;
		}
		case 'j':
			if ((rc = rv_cli_parse_jobs(optarg, &so.restore.jobs)))
				return rc;
			break;
		case OPT_LINKS:
			so.restore.allow_outside_links = true;
			break;
		case OPT_METRICS:
			listen = optarg;
			break;
		default:
			return rv_cli_bad_option("standby", argv[optind - 1]);
		}
	}
	if ((rc = rv_cli_need_to_and_url("standby", to, argc - optind)))
		return rc;
	if ((rc = rv_cli_db_mysql(so.db_path, pwfile, &my, &is_mysql)))
		return rc;
	if (is_mysql)
		so.db_mysql = &my;
	/* Blocked before any thread exists, so every thread inherits it. */
	if ((rc = rv_signals_open(&sg.sg)))
		return rc;
	so.wait = wait_signal;
	so.wait_ud = &sg;
	rv_metrics_new(&m);
	gp = rv_cli_standby_gauges(m, &so);
	rv_metric_set(
	    rv_metrics_gauge(m, "revenant_role", RV_METRICS_ROLE_HELP, "role=\"standby\""), 1);
	rc = rv_cli_load_config(cli, false, &cfg);
	if (!rc && !listen)
		listen = cfg->metrics.listen;
	if (!rc) {
		/* Not the store's to remove: what replicate does not ship
		 * (content.exclude) and the database with its companions. */
		rv_cli_content_opts(cfg, &keep);
		so.restore.keep = &keep;
		so.restore.keep_path = so.db_mysql ? NULL : so.db_path;
	}
	if ((listen && !strcmp(listen, "off")) || promote)
		listen = NULL; /* a one-shot run has nothing to serve */
	if (!rc && listen && !(rc = rv_metrics_serve(&srv, listen, m, health, gp))) {
		char port[16];
		snprintf(port, sizeof(port), "%u", rv_metrics_server_port(srv));
		rv_log(RV_LOG_INFO, "standby metrics", "listen", listen, "port", port, NULL);
	}
	if (!rc)
		rc = rv_cli_open_store_cfg(cfg, optind < argc ? argv[optind] : NULL, &s);
	if (!rc && promote)
		rc = promote_once(s, to, &so);
	else if (!rc)
		rc = rv_standby_run(s, to, &so);
	rv_metrics_server_free(srv);
	rv_store_free(s);
	rv_metrics_free(m);
	free(gp);
	rv_config_free(cfg);
	rv_signals_close(&sg.sg);
	rv_mysql_conf_release(&my);
	return rc;
}
