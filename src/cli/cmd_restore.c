/* cmd_restore.c - `revenant restore`: rebuild the content folder from the
 * store, at the latest commit or at a given time. */
#include "cli/cli.h"
#include "content/restore.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "store/store.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char restore_usage[] =
    "usage: revenant restore --to DIR [--at TIME] [--generation G] [--content-only]\n"
    "                        [-j N] [--delete] [--allow-outside-links] [URL]\n"
    "\n"
    "Rebuild the content folder in DIR as it was at the latest commit in the store\n"
    "(URL, default store.url of the configuration), or at TIME.  Every file is\n"
    "checked against its SHA-256 before it is renamed into place; modes and mtimes\n"
    "are restored.  Files already right are skipped, so an interrupted restore is\n"
    "resumed by running it again.  This version restores the content folder only\n"
    "(the database comes with the database work); --content-only says so explicitly.\n"
    "\n"
    "  --to DIR               the folder to restore into (created if missing)\n"
    "  --at TIME              the last commit at or before TIME: RFC 3339\n"
    "                         (2026-01-02T03:04:05Z) or Unix seconds\n"
    "  --generation G         restore from generation G instead of the lease's\n"
    "  --content-only         only the content folder (the only half so far)\n"
    "  -j, --jobs N           parallel downloads (default 8)\n"
    "  --delete               remove what is in DIR but not in the store's folder;\n"
    "                         without it such paths are kept and counted\n"
    "  --allow-outside-links  also restore symlinks pointing outside DIR\n"
    "  --progress-every DUR   progress line interval when stderr is not a\n"
    "                         terminal (default 10s; a bar on a terminal)\n"
    "\n"
    "Exit codes: 0 restored, 2 bad usage, 3 store unreachable, 4 permission,\n"
    "5 nothing to restore or a blob missing, 7 a corrupt object or blob (the\n"
    "message names the file; no wrong file is left in place).\n";

enum {
	OPT_TO = 'T',
	OPT_AT = 'A',
	OPT_GEN = 'G',
	OPT_CONTENT = 'C',
	OPT_DELETE = 'D',
	OPT_LINKS = 'L',
	OPT_PROGRESS = 'P',
};

struct progress_ui {
	bool tty;
	bool drawn;
};

static void human(char *out, size_t n, uint64_t bytes)
{
	if (bytes >= (1ull << 30))
		snprintf(out, n, "%.1f GiB", (double)bytes / (double)(1ull << 30));
	else if (bytes >= (1ull << 20))
		snprintf(out, n, "%.1f MiB", (double)bytes / (double)(1ull << 20));
	else if (bytes >= 1024)
		snprintf(out, n, "%.1f KiB", (double)bytes / 1024.0);
	else
		snprintf(out, n, "%" PRIu64 " B", bytes);
}

static void show_progress(void *ud, const struct rv_restore_stats *st, bool final)
{
	struct progress_ui *ui = ud;
	uint64_t done = st->downloaded + st->same + st->fixed + st->failed;
	double pct = st->files ? 100.0 * (double)done / (double)st->files : 100.0;
	double rate = st->seconds > 0 ? (double)st->bytes_downloaded / st->seconds : 0;
	char b1[32], b2[32], r[32];

	human(b1, sizeof(b1), st->bytes_downloaded);
	human(b2, sizeof(b2), st->bytes);
	human(r, sizeof(r), (uint64_t)rate);
	if (ui->tty) {
		char bar[31];
		int fill = (int)(pct * 30 / 100);

		for (int i = 0; i < 30; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[30] = '\0';
		fprintf(stderr,
			"\r[%s] %5.1f%% %" PRIu64 "/%" PRIu64 " files  %s of %s  %s/s \x1b[K", bar,
			pct, done, st->files, b1, b2, r);
		if (final)
			fputc('\n', stderr);
		fflush(stderr);
		ui->drawn = true;
		return;
	}
	if (final)
		return; /* the summary follows */
	{
		char f[48], p[16], rs[32];

		snprintf(f, sizeof(f), "%" PRIu64 "/%" PRIu64, done, st->files);
		snprintf(p, sizeof(p), "%.1f", pct);
		snprintf(rs, sizeof(rs), "%.0f", rate);
		rv_log(RV_LOG_INFO, "restore progress", "files", f, "percent", p, "downloaded", b1,
		       "bytes_per_second", rs, NULL);
	}
}

int rv_cmd_restore(struct rv_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"to", required_argument, NULL, OPT_TO},
	    {"at", required_argument, NULL, OPT_AT},
	    {"generation", required_argument, NULL, OPT_GEN},
	    {"content-only", no_argument, NULL, OPT_CONTENT},
	    {"jobs", required_argument, NULL, 'j'},
	    {"delete", no_argument, NULL, OPT_DELETE},
	    {"allow-outside-links", no_argument, NULL, OPT_LINKS},
	    {"progress-every", required_argument, NULL, OPT_PROGRESS},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct rv_restore_opts ro = {.jobs = 8, .progress_ms = 10000};
	struct rv_apply_opts ao = {0};
	struct progress_ui ui = {0};
	struct rv_restore_point p;
	struct rv_restore_stats st;
	struct rv_store *s = NULL;
	struct rv_apply *a = NULL;
	const char *to = NULL, *gen = NULL;
	int64_t at = RV_RESTORE_LATEST;
	char when[32], b1[32], b2[32];
	int c, rc;

	if (rv_cli_wants_help(argc, argv)) {
		fputs(restore_usage, stdout);
		return 0;
	}
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "j:", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TO:
			to = optarg;
			break;
		case OPT_AT:
			if ((rc = rv_restore_parse_time(optarg, &at)))
				return rc;
			break;
		case OPT_GEN:
			if (rv_gen_id_check(optarg))
				return RV_EUSAGE;
			gen = optarg;
			break;
		case OPT_CONTENT:
			break; /* the content folder is all restore does so far */
		case 'j':
			if ((rc = rv_cli_parse_jobs(optarg, &ro.jobs)))
				return rc;
			break;
		case OPT_DELETE:
			ro.delete_extra = true;
			break;
		case OPT_LINKS:
			ro.allow_outside_links = ao.allow_outside_links = true;
			break;
		case OPT_PROGRESS: {
			int64_t ms;
			if (rv_parse_duration_ms(optarg, &ms) || ms < 100 || ms > 86400000)
				return rv_error(
				    RV_EUSAGE,
				    "--progress-every wants a duration from 100ms to 1d, "
				    "not '%s'",
				    optarg);
			ro.progress_ms = (unsigned)ms;
			break;
		}
		default:
			return rv_cli_bad_option("restore", argv[optind - 1]);
		}
	}
	if ((rc = rv_cli_need_to_and_url("restore", to, argc - optind)))
		return rc;
	ui.tty = isatty(2);
	if (ui.tty)
		ro.progress_ms = 200;
	ro.progress = show_progress;
	ro.progress_ud = &ui;

	if ((rc = rv_cli_open_store(cli, optind < argc ? argv[optind] : NULL, &s)))
		return rc;
	if ((rc = rv_restore_find(s, gen, at, &p)))
		goto out;
	rv_restore_format_time(when, p.time_ms);
	{
		char seq[24], logs[24];

		snprintf(seq, sizeof(seq), "%" PRIu64, p.seq);
		snprintf(logs, sizeof(logs), "%zu", p.nlogs);
		rv_log(RV_LOG_INFO, "restoring", "generation", p.gen, "seq", seq, "commit", when,
		       "manifest", p.manifest.key ? p.manifest.key : "none", "logs", logs, "to", to,
		       NULL);
	}
	if (!(rc = rv_apply_open(&a, s, to, &ao)))
		rc = rv_restore_apply_point(s, a, &p, &ro, &st);
	if (!rc) {
		human(b1, sizeof(b1), st.bytes);
		human(b2, sizeof(b2), st.bytes_downloaded);
		printf("restored %s: generation %s, seq %" PRIu64 ", commit %s\n", rv_apply_root(a),
		       p.gen, p.seq, when);
		printf("files: %" PRIu64 " (%s); downloaded %" PRIu64
		       " (%s), already right %" PRIu64 ", mode/mtime fixed %" PRIu64 "\n",
		       st.files, b1, st.downloaded, b2, st.same, st.fixed);
		printf("folders: %" PRIu64 "; symlinks: %" PRIu64 " (%" PRIu64
		       " pointing outside skipped)\n",
		       st.dirs, st.links, st.links_skipped);
		if (st.removed)
			printf("removed %" PRIu64 " paths not in the store (--delete)\n",
			       st.removed);
		if (st.extra)
			printf("kept %" PRIu64 " paths not in the store (--delete removes them)\n",
			       st.extra);
		printf("took %.2f s (%.1f MiB/s)\n", st.seconds,
		       st.seconds > 0 ? (double)st.bytes_downloaded / (1024.0 * 1024.0) / st.seconds
				      : 0.0);
		fflush(stdout);
	}
	rv_apply_free(a);
	rv_restore_point_release(&p);
out:
	rv_store_free(s);
	return rc;
}
