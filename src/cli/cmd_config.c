#include "cli/cli.h"

/* Placeholder: being implemented. */
int rv_cmd_config(struct rv_cli *cli, int argc, char **argv)
{
	(void)cli;
	(void)argc;
	(void)argv;
	return rv_error(RV_ENOTSUP, "'config' is not implemented yet");
}
