#include "cli/cli.h"

/* Placeholder: being implemented. */
int rv_cmd_ghost(struct rv_cli *cli, int argc, char **argv)
{
	(void)cli;
	(void)argc;
	(void)argv;
	return rv_error(RV_ENOTSUP, "'ghost' is not implemented yet");
}
