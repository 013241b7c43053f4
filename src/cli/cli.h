/* cli.h - the command table and what every command gets from main(). */
#ifndef RV_CLI_H
#define RV_CLI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/log.h"

struct rv_config;

struct rv_cli {
	const char *config_path; /* -c FILE, or NULL for the default search */
	enum rv_log_level log_level;
	enum rv_log_format log_format;
	bool log_level_set; /* given on the command line: overrides the config */
	bool log_format_set;
};

/* A command returns 0 or a negative RV_E* code with rv_error() set; main()
 * prints the message as one line and exits with rv_exit_code(). */
struct rv_command {
	const char *name;
	const char *summary;
	int (*run)(struct rv_cli *cli, int argc, char **argv);
};

int rv_cmd_store(struct rv_cli *cli, int argc, char **argv);
int rv_cmd_bucket(struct rv_cli *cli, int argc, char **argv);
int rv_cmd_config(struct rv_cli *cli, int argc, char **argv);
int rv_cmd_ghost(struct rv_cli *cli, int argc, char **argv);
int rv_cmd_replicate(struct rv_cli *cli, int argc, char **argv);
int rv_cmd_status(struct rv_cli *cli, int argc, char **argv);
int rv_cmd_restore(struct rv_cli *cli, int argc, char **argv);
int rv_cmd_standby(struct rv_cli *cli, int argc, char **argv);
int rv_cmd_prune(struct rv_cli *cli, int argc, char **argv);
int rv_cmd_rekey(struct rv_cli *cli, int argc, char **argv);
int rv_cmd_verify(struct rv_cli *cli, int argc, char **argv);
int rv_cmd_dns(struct rv_cli *cli, int argc, char **argv);
int rv_cmd_promote(struct rv_cli *cli, int argc, char **argv);
int rv_cmd_run(struct rv_cli *cli, int argc, char **argv);
int rv_cmd_switchover(struct rv_cli *cli, int argc, char **argv);

/* Stopping a long-running command on SIGTERM/SIGINT (cli/sigstop.c): the
 * signals are blocked in every thread (open it before any thread starts)
 * and read by one thread of its own, which calls `stop(obj)` at the first;
 * after `grace_ms` (or at a second signal) it asks every store call to
 * give up (core/retry.h's shutdown flag). */
#include "core/signals.h"
struct rv_cli_sig {
	struct rv_signals sg;
	void (*stop)(void *);
	void *obj;
	int64_t grace_ms;
	int done_fd; /* written when the command ends */
	bool started;
	pthread_t t;
};
/* --db mysql://… and --db-password-file (or REVENANT_DB_PASSWORD) into
 * `out` (rv_mysql_conf_release); `*mysql` false (and `out` untouched)
 * when `db` is no mysql:// URL: then --db-password-file is a usage
 * error. */
struct rv_mysql_conf;
int rv_cli_db_mysql(const char *db, const char *pwfile, struct rv_mysql_conf *out,
		    bool *mysql) RV_WARN_UNUSED;

void rv_cli_sig_init(struct rv_cli_sig *s);
int rv_cli_sig_open(struct rv_cli_sig *s) RV_WARN_UNUSED;
int rv_cli_sig_start(struct rv_cli_sig *s, void (*stop)(void *), void *obj,
		     int64_t grace_ms) RV_WARN_UNUSED;
void rv_cli_sig_close(struct rv_cli_sig *s);

/* What `replicate` and `run` build from revenant.yml for the primary role
 * (cmd_replicate.c). */
#include "content/content.h"
#include "engine/hooks.h"
#include "engine/replicate.h"
struct rv_metrics;
struct rv_cli_rep {
	struct rv_replicate_opts ro;
	struct rv_content_opts co;
	struct rv_hooks hooks;
	char *db_rel;
};
int rv_cli_rep_setup(const struct rv_config *cfg, struct rv_metrics *m, bool need_db,
		     struct rv_cli_rep *out) RV_WARN_UNUSED;
void rv_cli_rep_release(struct rv_cli_rep *r);

/* What `promote` and `run` build from revenant.yml for a promotion
 * (cmd_promote.c); `keep` and `hooks` are filled and borrowed. */
struct rv_promote_opts;
void rv_cli_promote_opts(const struct rv_config *cfg, struct rv_promote_opts *po,
			 struct rv_content_opts *keep, struct rv_hooks *hooks);

/* The standby's metrics (cmd_standby.c): revenant_standby_* gauges and
 * revenant_primary_heartbeat_age_seconds, set through so->applied and
 * so->heartbeat (so->applied_ud); the returned state is freed with free(). */
struct rv_standby_opts;
void *rv_cli_standby_gauges(struct rv_metrics *m, struct rv_standby_opts *so);

/* `replicate` on a loaded configuration, until SIGTERM/SIGINT (what
 * `promote` goes on with); `cfg` stays the caller's. */
int rv_cli_replicate(const struct rv_config *cfg, bool take_over) RV_WARN_UNUSED;

/* Load the config (-c, ./revenant.yml, /etc/revenant/revenant.yml); with
 * `required` false a missing default file gives the built-in defaults.
 * Applies the config's log settings unless overridden on the command line. */
int rv_cli_load_config(struct rv_cli *cli, bool required, struct rv_config **out) RV_WARN_UNUSED;

/* Open the store at `url` with the tunables and credentials settings of the
 * config (when one is found; built-in defaults otherwise). */
struct rv_store;
struct rv_store_opts;
struct rv_creds_config;
int rv_cli_open_store(struct rv_cli *cli, const char *url, struct rv_store **out) RV_WARN_UNUSED;
/* The same with a config the command has already loaded (`url` NULL:
 * store.url). */
int rv_cli_open_store_cfg(const struct rv_config *cfg, const char *url,
			  struct rv_store **out) RV_WARN_UNUSED;

/* The same, then the store's versioned view as of `at_ms` (Unix ms, or
 * RV_VERSIONS_NEWEST from store/versions.h): restore/verify --versions. */
int rv_cli_open_store_versions(const struct rv_config *cfg, const char *url, int64_t at_ms,
			       struct rv_store **out) RV_WARN_UNUSED;

/* The config's content.exclude / content.include as content options (the
 * strings are borrowed from `cfg`). */
struct rv_content_opts;
void rv_cli_content_opts(const struct rv_config *cfg, struct rv_content_opts *co);

/* The config's store tunables and credentials settings as store options;
 * `o` and `cc` borrow strings from `cfg`, and `o->creds_config` points at cc. */
void rv_cli_store_opts(const struct rv_config *cfg, struct rv_store_opts *o,
		       struct rv_creds_config *cc);

/* True when argv has -h/--help before "--"; commands print their usage. */
bool rv_cli_wants_help(int argc, char **argv);

/* -j N for the commands that download in parallel: 1 to RV_CLI_MAX_JOBS. */
#define RV_CLI_MAX_JOBS 256
int rv_cli_parse_jobs(const char *arg, unsigned *out) RV_WARN_UNUSED;
/* The usage error for getopt's '?' in `revenant <cmd>` (`arg` is
 * argv[optind - 1]). */
int rv_cli_bad_option(const char *cmd, const char *arg);
/* The checks `restore` and `standby` share after their options: --to DIR
 * was given and at most one URL (`nargs` operands) follows. */
int rv_cli_need_to_and_url(const char *cmd, const char *to, int nargs) RV_WARN_UNUSED;

#endif
