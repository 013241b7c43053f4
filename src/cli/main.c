/* main.c - revenant's entry point: global options, then one command. */
#include "cli/cli.h"
#include "core/err.h"
#include "core/http.h"
#include "core/log.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>

static const struct rv_command commands[] = {
    {"store", "list, get, put and remove objects in a replica store", rv_cmd_store},
    {"bucket", "create and prepare an S3 bucket (bucket init)", rv_cmd_bucket},
    {"config", "check a configuration file and print it with secrets hidden", rv_cmd_config},
    {"ghost", "talk to a Ghost site: check it, purge posts (Admin API)", rv_cmd_ghost},
    {"replicate", "ship the database and the content folder to the store, continuously",
     rv_cmd_replicate},
    {"status", "what the store holds: lease, generations, latest commit", rv_cmd_status},
    {"restore", "bring the database and content folder back (latest or --at TIME)", rv_cmd_restore},
    {"standby", "keep a warm copy of the database and content folder (--promote-once)",
     rv_cmd_standby},
    {"run", "the one process per site: replicate or follow, as the lease says", rv_cmd_run},
    {"promote", "fail over: make this site primary when the other is gone", rv_cmd_promote},
    {"switchover", "move the primary role to another site, nothing lost (planned)",
     rv_cmd_switchover},
    {"verify", "restore drill: restore a point into scratch space and check it", rv_cmd_verify},
    {"prune", "remove what the retention window no longer needs", rv_cmd_prune},
    {"rekey", "rewrite an encrypted store under its current key", rv_cmd_rekey},
    {"dns", "show where the public names point; switch them to a site", rv_cmd_dns},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: revenant [-c FILE] [--log-level L] [--log-format F] <command> [args]\n"
		   "\n"
		   "revenant keeps a Ghost site recoverable at a second site: it replicates the\n"
		   "database and the content folder to an object store and brings them back.\n"
		   "\n"
		   "commands:\n");
	for (const struct rv_command *c = commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	fprintf(
	    f, "\n"
	       "global options:\n"
	       "  -c, --config FILE     configuration (default ./revenant.yml, then\n"
	       "                        /etc/revenant/revenant.yml)\n"
	       "      --log-level L     debug, info, warn, error (default info)\n"
	       "      --log-format F    logfmt or json (default logfmt)\n"
	       "  -h, --help            this help; `revenant <command> --help` for one command\n"
	       "  -V, --version         print the version\n"
	       "\n"
	       "exit codes:\n"
	       "  0 success            1 failure             2 bad usage or configuration\n"
	       "  3 network/unreachable 4 auth or permission  5 not found\n"
	       "  6 conflict (conditional write lost)         7 corrupt data\n"
	       "  8 fenced (another site is primary)          9 a point does not restore (verify)\n"
	       "  10 refused (promote's or switchover's guard) 130 interrupted\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"log-level", required_argument, NULL, 'L'},
	    {"log-format", required_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct rv_cli cli = {NULL, RV_LOG_INFO, RV_LOG_LOGFMT, false, false};
	int c, rc;

	/* A closed pipe is an error return, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli.config_path = optarg;
			break;
		case 'L':
			if (rv_log_parse_level(optarg, &cli.log_level)) {
				fprintf(stderr, "error: %s\n", rv_errmsg());
				return RV_EXIT_USAGE;
			}
			cli.log_level_set = true;
			break;
		case 'F':
			if (rv_log_parse_format(optarg, &cli.log_format)) {
				fprintf(stderr, "error: %s\n", rv_errmsg());
				return RV_EXIT_USAGE;
			}
			cli.log_format_set = true;
			break;
		case 'h':
			usage(stdout);
			return RV_EXIT_OK;
		case 'V':
			printf("revenant %s\n", RV_VERSION);
			return RV_EXIT_OK;
		default:
			usage(stderr);
			return RV_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return RV_EXIT_USAGE;
	}
	rv_log_setup(cli.log_level, cli.log_format);
	rv_http_global_init();
	for (const struct rv_command *cmd = commands; cmd->name; cmd++) {
		if (strcmp(cmd->name, argv[optind]))
			continue;
		argc -= optind;
		argv += optind;
		optind = 0; /* full getopt re-initialisation for the command */
		rc = cmd->run(&cli, argc, argv);
		if (rc) {
			fprintf(stderr, "error: %s\n", rv_errmsg());
			return rv_exit_code(rc);
		}
		return RV_EXIT_OK;
	}
	if (!strcmp(argv[optind], "help")) {
		usage(stdout);
		return RV_EXIT_OK;
	}
	if (!strcmp(argv[optind], "version")) {
		printf("revenant %s\n", RV_VERSION);
		return RV_EXIT_OK;
	}
	fprintf(stderr, "error: unknown command '%s' (see revenant --help)\n", argv[optind]);
	return RV_EXIT_USAGE;
}
