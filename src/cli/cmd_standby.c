/* cmd_standby.c - `revenant standby`, content half: keep a folder equal to
 * the store's latest point until SIGTERM. */
#include "cli/cli.h"
#include "content/restore.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "metrics/metrics.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static const char standby_usage[] =
    "usage: revenant standby --to DIR [--interval DUR] [-j N] [--allow-outside-links] [URL]\n"
    "\n"
    "Follow the store (URL, default store.url of the configuration) and keep DIR\n"
    "equal to its content folder: first a full restore of the latest point (paths\n"
    "that are not in the store are removed), then every new commit of the lease's\n"
    "generation is applied as it appears, each file verified and renamed into\n"
    "place atomically.  A new generation in the lease is followed.  The lag (how\n"
    "far behind the store the folder may be) is logged every 30 s.  Store errors\n"
    "are logged and retried; SIGTERM or SIGINT stop it cleanly (exit 0).\n"
    "This version follows the content folder only.\n"
    "\n"
    "  --to DIR               the standby's content folder (created if missing)\n"
    "  --interval DUR         how often to look for new commits (default 1s)\n"
    "  -j, --jobs N           parallel downloads (default 8)\n"
    "  --allow-outside-links  also restore symlinks pointing outside DIR\n"
    "  --metrics-listen ADDR  serve /metrics and /healthz on host:port, or 'off'\n"
    "                         (default metrics.listen of the configuration)\n"
    "\n"
    "Metrics: revenant_standby_lag_seconds (how long the folder may have been\n"
    "behind the store: 0 right after a poll that applied everything; it grows while\n"
    "the store is unreachable or a commit cannot be applied),\n"
    "revenant_standby_applied_seq, revenant_standby_last_commit_timestamp_seconds.\n"
    "/healthz is 200 once the first restore is done and the lag is under 60 s.\n"
    "\n"
    "Exit codes: 0 stopped by a signal, 2 bad usage, 4 permission (not retried).\n";

enum { OPT_TO = 'T', OPT_INTERVAL = 'I', OPT_LINKS = 'L', OPT_METRICS = 'M' };

/* Past this, /healthz says the standby is behind. */
#define HEALTHY_LAG_S 60.0

struct gauges {
	struct rv_metric *lag, *seq, *commit, *ready;
};

static void on_applied(void *ud, const char *gen, uint64_t seq, int64_t commit_ms, double lag)
{
	struct gauges *g = ud;

	(void)gen;
	rv_metric_set(g->lag, lag);
	rv_metric_set(g->seq, (double)seq);
	rv_metric_set(g->commit, (double)commit_ms / 1000.0);
	rv_metric_set(g->ready, 1);
}

static int health(void *ud, char *why, size_t n)
{
	struct gauges *g = ud;
	double lag = rv_metric_get(g->lag);

	if (rv_metric_get(g->ready) < 1) {
		snprintf(why, n, "standby has not restored the latest point yet");
		return -1;
	}
	if (lag > HEALTHY_LAG_S) {
		snprintf(why, n, "standby is %.0f s behind the store", lag);
		return -1;
	}
	return 0;
}

struct sig {
	int fd;
	bool stopped;
};

/* The signals arrive on a signalfd: nothing runs in a handler. */
static bool wait_signal(void *ud, unsigned ms)
{
	struct sig *sg = ud;
	struct pollfd pfd = {sg->fd, POLLIN, 0};
	int64_t until = rv_mono_ms() + ms;

	while (!sg->stopped) {
		int64_t left = until - rv_mono_ms();
		int n = poll(&pfd, 1, left > 0 ? (int)left : 0);

		if (n > 0) {
			struct signalfd_siginfo si;

			if (read(sg->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				char num[16];
				snprintf(num, sizeof(num), "%u", si.ssi_signo);
				rv_log(RV_LOG_INFO, "standby stopping", "signal", num, NULL);
				sg->stopped = true;
			}
		} else if (n == -1 && errno != EINTR) {
			break;
		} else if (left <= 0) {
			break;
		}
	}
	return sg->stopped;
}

int rv_cmd_standby(struct rv_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"to", required_argument, NULL, OPT_TO},
	    {"interval", required_argument, NULL, OPT_INTERVAL},
	    {"jobs", required_argument, NULL, 'j'},
	    {"allow-outside-links", no_argument, NULL, OPT_LINKS},
	    {"metrics-listen", required_argument, NULL, OPT_METRICS},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct rv_standby_opts so = {.restore = {.jobs = 8}, .interval_ms = 1000};
	struct sig sg = {-1, false};
	struct rv_store *s = NULL;
	struct rv_config *cfg = NULL;
	struct rv_metrics *m = NULL;
	struct rv_metrics_server *srv = NULL;
	struct gauges g;
	const char *to = NULL, *listen = NULL;
	sigset_t set;
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
	/* Blocked before any thread exists, so every thread inherits it. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    (sg.fd = signalfd(-1, &set, SFD_CLOEXEC)) == -1)
		return rv_error_errno(RV_EFAIL, errno, "cannot set up signal handling");
	so.wait = wait_signal;
	so.wait_ud = &sg;
	rv_metrics_new(&m);
	g.lag =
	    rv_metrics_gauge(m, "revenant_standby_lag_seconds",
			     "How long the standby folder may have been behind the store.", NULL);
	g.seq = rv_metrics_gauge(m, "revenant_standby_applied_seq",
				 "Content sequence number applied last (in its generation).", NULL);
	g.commit = rv_metrics_gauge(m, "revenant_standby_last_commit_timestamp_seconds",
				    "Commit time of the content commit applied last.", NULL);
	g.ready = rv_metrics_gauge(m, "revenant_standby_ready",
				   "1 once the first full restore is done.", NULL);
	so.applied = on_applied;
	so.applied_ud = &g;
	rc = rv_cli_load_config(cli, false, &cfg);
	if (!rc && !listen)
		listen = cfg->metrics.listen;
	if (listen && !strcmp(listen, "off"))
		listen = NULL;
	if (!rc && listen && !(rc = rv_metrics_serve(&srv, listen, m, health, &g))) {
		char port[16];
		snprintf(port, sizeof(port), "%u", rv_metrics_server_port(srv));
		rv_log(RV_LOG_INFO, "standby metrics", "listen", listen, "port", port, NULL);
	}
	if (!rc)
		rc = rv_cli_open_store(cli, optind < argc ? argv[optind] : NULL, &s);
	if (!rc)
		rc = rv_standby_run(s, to, &so);
	rv_metrics_server_free(srv);
	rv_store_free(s);
	rv_metrics_free(m);
	rv_config_free(cfg);
	close(sg.fd);
	return rc;
}
