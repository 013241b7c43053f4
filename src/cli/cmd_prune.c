/* cmd_prune.c - `revenant prune`: apply the retention window to a store
 * (src/engine/prune.h has the rules). */
#include "cli/cli.h"
#include "engine/prune.h"
#include "content/restore.h"
#include "core/config.h"
#include "core/util.h"
#include "store/store.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char prune_usage[] =
    "usage: revenant prune [--dry-run] [--retention DUR] [--json] [URL]\n"
    "\n"
    "Remove from the store (URL, default store.url) what no recovery point of the\n"
    "retention window needs: generations without a point in the window (never the\n"
    "lease's), manifests, content logs, database snapshots and segments older than\n"
    "the base each kept generation restores from, then blobs no kept object names\n"
    "and older than the window and than one hour.  Every point in the window stays\n"
    "restorable, also when prune is killed half-way (run it again to finish).\n"
    "\n"
    "  --retention DUR    the window (default: `retention` of the configuration, 72h)\n"
    "  --dry-run          say what would go, delete nothing\n"
    "  --json             one JSON object instead of text\n"
    "  --blob-grace DUR   the minimum age of a swept blob (default 1h); for tests\n"
    "                     and emergencies only: a shorter grace can sweep a blob that\n"
    "                     a running replicate uploaded but has not committed yet\n"
    "\n"
    "A kept generation whose content log has a gap (a commit missing while later\n"
    "ones are present) is left whole: nothing in it is deleted, the rest is pruned\n"
    "and the exit code is 7.\n"
    "\n"
    "Exit codes: 0 done, 2 bad usage, 3 store unreachable, 4 permission, 7 a kept\n"
    "object is damaged (no blob is deleted then; the message names it) or a gap\n"
    "(see above).\n";

enum { OPT_DRY = 'n', OPT_RETENTION = 'R', OPT_JSON = 'J', OPT_GRACE = 'G' };

static int print_text(const struct rv_prune_stats *st, const struct rv_prune_opts *o)
{
	char c[32], bc[32];

	rv_restore_format_time(c, st->cutoff_ms);
	rv_restore_format_time(bc, st->blob_cutoff_ms);
	printf("%s points at or after %s (retention %" PRId64 "s)\n",
	       o->dry_run ? "dry run: would keep" : "kept", c, o->retention_ms / 1000);
	for (int i = 0; i < RV_PRUNE_NCAT; i++) {
		const struct rv_prune_count *n = &st->removed[i];

		if (i == RV_PRUNE_BLOBS && st->blobs_skipped) {
			printf("%-13s skipped: a content object could not be read, no blob "
			       "deleted\n",
			       "blobs:");
			continue;
		}
		printf("%-13s %s %" PRIu64 " (%" PRIu64 " bytes)", rv_prune_cat_name(i),
		       o->dry_run ? "would remove" : "removed", n->count, n->bytes);
		if (i == RV_PRUNE_GENERATIONS)
			printf(", %" PRIu64 " kept", st->generations_kept);
		if (i == RV_PRUNE_BLOBS)
			printf(", %" PRIu64 " kept (%" PRIu64 " unreferenced but younger than %s)",
			       st->blobs_kept, st->blobs_young, bc);
		putchar('\n');
	}
	if (st->gap.missing) {
		char d[160];

		rv_restore_gap_describe(d, sizeof(d), &st->gap);
		printf("%-13s %s; %" PRIu64 " generation(s) left whole\n", "gap:", d,
		       st->gap_generations);
	}
	return fflush(stdout) == EOF ? rv_error(RV_EFAIL, "cannot write to standard output") : 0;
}

static int print_json(const struct rv_prune_stats *st, const struct rv_prune_opts *o)
{
	static const char *const keys[RV_PRUNE_NCAT] = {
	    "generations", "manifests", "logs", "db_snapshots", "db_segments", "blobs",
	};
	json_t *root = json_object();
	char c[32], bc[32];
	int rc = 0;

	rv_restore_format_time(c, st->cutoff_ms);
	rv_restore_format_time(bc, st->blob_cutoff_ms);
	json_object_set_new(root, "dry_run", json_boolean(o->dry_run));
	json_object_set_new(root, "retention_ms", json_integer(o->retention_ms));
	json_object_set_new(root, "cutoff", json_string(c));
	json_object_set_new(root, "cutoff_ms", json_integer(st->cutoff_ms));
	json_object_set_new(root, "gap_generations", json_integer((json_int_t)st->gap_generations));
	json_object_set_new(root, "blob_cutoff", json_string(bc));
	json_object_set_new(root, "blob_cutoff_ms", json_integer(st->blob_cutoff_ms));
	for (int i = 0; i < RV_PRUNE_NCAT; i++) {
		json_t *j = json_pack("{s:I, s:I}", "removed", (json_int_t)st->removed[i].count,
				      "bytes", (json_int_t)st->removed[i].bytes);

		if (i == RV_PRUNE_GENERATIONS)
			json_object_set_new(j, "kept",
					    json_integer((json_int_t)st->generations_kept));
		if (i == RV_PRUNE_BLOBS) {
			json_object_set_new(j, "kept", json_integer((json_int_t)st->blobs_kept));
			json_object_set_new(j, "young", json_integer((json_int_t)st->blobs_young));
			json_object_set_new(j, "referenced",
					    json_integer((json_int_t)st->blobs_referenced));
			json_object_set_new(j, "skipped", json_boolean(st->blobs_skipped));
		}
		json_object_set_new(root, keys[i], j);
	}
	if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) || puts("") == EOF ||
	    fflush(stdout) == EOF)
		rc = rv_error(RV_EFAIL, "cannot write to standard output");
	json_decref(root);
	return rc;
}

int rv_cmd_prune(struct rv_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"dry-run", no_argument, NULL, OPT_DRY},
	    {"retention", required_argument, NULL, OPT_RETENTION},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"blob-grace", required_argument, NULL, OPT_GRACE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct rv_prune_opts o = {0};
	struct rv_prune_stats st;
	struct rv_config *cfg = NULL;
	struct rv_store *s = NULL;
	bool json = false;
	int c, rc, prc;

	if (rv_cli_wants_help(argc, argv)) {
		fputs(prune_usage, stdout);
		return 0;
	}
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DRY:
			o.dry_run = true;
			break;
		case OPT_RETENTION:
			if (rv_parse_duration_ms(optarg, &o.retention_ms) || o.retention_ms < 1000)
				return rv_error(RV_EUSAGE,
						"--retention wants a duration of at least 1s "
						"(e.g. 72h), not '%s'",
						optarg);
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_GRACE:
			if (rv_parse_duration_ms(optarg, &o.blob_grace_ms) || o.blob_grace_ms < 1)
				return rv_error(RV_EUSAGE,
						"--blob-grace wants a positive duration, not '%s'",
						optarg);
			break;
		default:
			return rv_cli_bad_option("prune", argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return rv_error(RV_EUSAGE,
				"prune takes at most one URL (see revenant prune --help)");
	if ((rc = rv_cli_load_config(cli, false, &cfg)))
		return rc;
	if (!o.retention_ms)
		o.retention_ms = cfg->retention_ms;
	rc = rv_cli_open_store_cfg(cfg, optind < argc ? argv[optind] : NULL, &s);
	rv_config_free(cfg);
	if (rc)
		return rc;
	prc = rv_prune_run(s, &o, &st);
	/* What was done is worth printing also when the blob sweep was
	 * refused; a failure before that printed nothing. */
	if (!prc || st.blobs_skipped || st.gap.missing) {
		rc = json ? print_json(&st, &o) : print_text(&st, &o);
		if (!prc)
			prc = rc;
	}
	rv_store_free(s);
	return prc;
}
