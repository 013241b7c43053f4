#include "cli/cli.h"

/* Placeholder until src/core/config.c lands. */
int rv_cli_load_config(struct rv_cli *cli, bool required, struct rv_config **out)
{
	(void)cli;
	(void)required;
	*out = NULL;
	return 0;
}

#include "store/store.h"

/* Placeholder until src/core/config.c lands: built-in defaults. */
int rv_cli_open_store(struct rv_cli *cli, const char *url, struct rv_store **out)
{
	(void)cli;
	return rv_store_open(out, url, NULL);
}
