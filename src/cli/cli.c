#include "cli/cli.h"
#include "core/util.h"

#include <stdint.h>
#include <string.h>

bool rv_cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return false;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	}
	return false;
}

int rv_cli_parse_jobs(const char *arg, unsigned *out)
{
	uint64_t v;

	if (rv_parse_u64(arg, &v) || v < 1 || v > RV_CLI_MAX_JOBS)
		return rv_error(RV_EUSAGE, "-j wants 1 to %d, not '%s'", RV_CLI_MAX_JOBS, arg);
	*out = (unsigned)v;
	return 0;
}

int rv_cli_bad_option(const char *cmd, const char *arg)
{
	return rv_error(RV_EUSAGE, "unknown option or missing value '%s' (see revenant %s --help)",
			arg, cmd);
}

int rv_cli_need_to_and_url(const char *cmd, const char *to, int nargs)
{
	if (!to)
		return rv_error(RV_EUSAGE, "%s needs --to DIR (see revenant %s --help)", cmd, cmd);
	if (nargs > 1)
		return rv_error(RV_EUSAGE, "%s takes at most one URL (see revenant %s --help)", cmd,
				cmd);
	return 0;
}
