/* cmd_config.c - revenant config check|show. */
#include "cli/cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/util.h"
#include "db/mysql/mysql.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: revenant [-c FILE] config check [-c FILE] [--offline]\n"
		   "       revenant [-c FILE] config show [-c FILE]\n"
		   "\n"
		   "  check   validate the configuration; print \"ok: FILE\" (exit 0) or the\n"
		   "          first problem as FILE:LINE: KEY: what is wrong (exit 2).  With\n"
		   "          database.mysql it then connects and prints one line for each\n"
		   "          thing the server or the account lacks, with its fix; the exit\n"
		   "          code is the first line's: 2 a server setting, 3 unreachable,\n"
		   "          4 refused or a missing privilege, 5 no such database;\n"
		   "          --offline skips that (a CI pipeline checking manifests)\n"
		   "  show    print the effective configuration as YAML: every key, defaults\n"
		   "          filled in, secrets as [redacted]\n"
		   "\n"
		   "Without -c, ./revenant.yml then /etc/revenant/revenant.yml is used; `show`\n"
		   "prints the built-in defaults when neither exists.  Values may use ${VAR},\n"
		   "${VAR:-default} and $$; a secret key x may be given as x_file: /path.\n"
		   "See revenant.example.yml for every key.\n");
}

int rv_cmd_config(struct rv_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"offline", no_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct rv_config *cfg = NULL;
	struct rv_buf out = RV_BUF_INIT(1u << 20);
	const char *sub;
	bool offline = false;
	int c, rc;

	if (argc < 2 || rv_cli_wants_help(2, argv)) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? rv_error(RV_EUSAGE, "config: give a subcommand: check or show")
				: 0;
	}
	sub = argv[1];
	if (strcmp(sub, "check") && strcmp(sub, "show"))
		return rv_error(RV_EUSAGE, "config: unknown subcommand '%s' (use check or show)",
				sub);
	argc--;
	argv++;
	optind = 0;
	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli->config_path = optarg;
			break;
		case 'o':
			offline = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return rv_error(RV_EUSAGE,
					"config %s: bad option (see revenant config --help)", sub);
		}
	}
	if (optind < argc)
		return rv_error(RV_EUSAGE, "config %s: unexpected argument '%s'", sub,
				argv[optind]);

	if (offline && strcmp(sub, "check"))
		return rv_error(RV_EUSAGE, "config %s: --offline goes with check", sub);
	if (!strcmp(sub, "check")) {
		rc = rv_cli_load_config(cli, true, &cfg);
		if (!rc && cfg->database.mysql.database && !offline) {
			fflush(stdout);
			rc = rv_mysql_check(cfg, stderr);
		}
		if (!rc)
			printf("ok: %s\n", cfg->source);
		rv_config_free(cfg);
		return rc;
	}
	rc = rv_cli_load_config(cli, false, &cfg);
	if (!rc)
		rc = rv_config_write(cfg, &out);
	if (!rc) {
		fflush(stdout);
		if (rv_write_all(1, out.data, out.len))
			rc = rv_error(RV_EFAIL, "config show: writing the output: %s",
				      strerror(errno));
	}
	rv_buf_release(&out);
	rv_config_free(cfg);
	return rc;
}
