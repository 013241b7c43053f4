/* cmd_rekey.c - `revenant rekey`: rewrite an encrypted store under the
 * current key (src/engine/rekey.h has the rules). */
#include "cli/cli.h"
#include "core/config.h"
#include "core/util.h"
#include "engine/rekey.h"
#include "store/store.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

static const char rekey_usage[] =
    "usage: revenant rekey [--dry-run] [--jobs N] [URL]\n"
    "\n"
    "Rewrite every object of the encrypted store (URL, default store.url) that is\n"
    "sealed under another key than store.encryption.key_file under that key, then\n"
    "remove the other keys from the store's encryption marker.  The old keys must\n"
    "still be in store.encryption.old_key_files while it runs; afterwards they can\n"
    "go (docs/OPERATIONS.md, \"Rotating the encryption key\").  A killed rekey\n"
    "leaves every object readable; run it again to finish.\n"
    "\n"
    "  --dry-run   count what would be rewritten, write nothing\n"
    "  --jobs N    objects in flight (default 4)\n"
    "\n"
    "Exit codes: 0 done, 2 bad usage or a plain store, 3 store unreachable,\n"
    "4 permission or a key missing from the keyring, 7 a damaged object (named).\n";

enum { OPT_DRY = 'n', OPT_JOBS = 'j' };

int rv_cmd_rekey(struct rv_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"dry-run", no_argument, NULL, OPT_DRY},
	    {"jobs", required_argument, NULL, OPT_JOBS},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct rv_rekey_opts o = {0};
	struct rv_rekey_stats st;
	struct rv_config *cfg = NULL;
	struct rv_store *s = NULL;
	uint64_t jobs;
	int c, rc;

	if (rv_cli_wants_help(argc, argv)) {
		fputs(rekey_usage, stdout);
		return 0;
	}
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DRY:
			o.dry_run = true;
			break;
		case OPT_JOBS:
			if (rv_parse_u64(optarg, &jobs) || jobs < 1 || jobs > 64)
				return rv_error(RV_EUSAGE, "--jobs wants 1 to 64, not '%s'",
						optarg);
			o.jobs = (unsigned)jobs;
			break;
		default:
			return rv_cli_bad_option("rekey", argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return rv_error(RV_EUSAGE,
				"rekey takes at most one URL (see revenant rekey --help)");
	if ((rc = rv_cli_load_config(cli, false, &cfg)))
		return rc;
	rc = rv_cli_open_store_cfg(cfg, optind < argc ? argv[optind] : NULL, &s);
	rv_config_free(cfg);
	if (!rc)
		rc = rv_store_probe(s); /* conditional rewrites where the store has them */
	if (!rc)
		rc = rv_rekey_run(s, &o, &st);
	if (!rc) {
		printf("%s %" PRIu64 " of %" PRIu64 " objects under key %s (%" PRIu64
		       " bytes); %" PRIu64 " already were, %" PRIu64 " vanished meanwhile\n",
		       o.dry_run ? "dry run: would rewrite" : "rewrote", st.rewritten, st.scanned,
		       st.current, st.bytes, st.already, st.vanished);
		if (!o.dry_run)
			printf("encryption marker: %u other key(s) removed; every object is under "
			       "key %s\n",
			       st.marker_dropped, st.current);
		if (fflush(stdout) == EOF)
			rc = rv_error(RV_EFAIL, "cannot write to standard output");
	}
	rv_store_free(s);
	return rc;
}
