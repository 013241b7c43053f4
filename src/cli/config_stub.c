#include "cli/cli.h"

/* Placeholder until src/core/config.c lands. */
int rv_cli_load_config(struct rv_cli *cli, bool required, struct rv_config **out)
{
	(void)cli;
	(void)required;
	*out = NULL;
	return 0;
}
