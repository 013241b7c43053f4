/* cli.h - the command table and what every command gets from main(). */
#ifndef RV_CLI_H
#define RV_CLI_H

#include <stdbool.h>

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
int rv_cmd_verify(struct rv_cli *cli, int argc, char **argv);
int rv_cmd_dns(struct rv_cli *cli, int argc, char **argv);

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
