/* cmd_restore.c - `revenant restore`: rebuild the content folder from the
 * store, at the latest commit or at a given time. */
#include "cli/cli.h"
#include "content/restore.h"
#include "engine/site_restore.h"
#include "core/config.h"
#include "core/mem.h"
#include "db/mysql/mysql.h"
#include "core/log.h"
#include "core/util.h"
#include "store/store.h"
#include "store/versions.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char restore_usage[] =
    "usage: revenant restore --to DIR --db FILE [--at TIME] [--before-gap]\n"
    "                        [--generation G] [-j N] [--delete]\n"
    "                        [--allow-outside-links] [--versions [--versions-at T]]\n"
    "                        [URL]\n"
    "       revenant restore --to DIR --content-only [...]\n"
    "       revenant restore --db FILE --db-only [...]\n"
    "\n"
    "Rebuild a Ghost site from the store (URL, default store.url of the\n"
    "configuration) as it was at one recovery point: the latest, or the last one at\n"
    "or before TIME.  The content folder goes to DIR and the SQLite database to FILE,\n"
    "both at the same point.  Every file is checked against its SHA-256 before it is\n"
    "renamed into place; modes and mtimes are restored; files already right are\n"
    "skipped, so an interrupted restore is resumed by running it again.  The database\n"
    "is rebuilt from a snapshot and the WAL segments after it, every object verified,\n"
    "into a temporary file renamed to FILE only after PRAGMA integrity_check says ok.\n"
    "\n"
    "  --to DIR               the content folder to restore into (created if missing)\n"
    "  --db FILE              the database file to create (it must not exist; its\n"
    "                         folder is created if missing)\n"
    "  --db mysql://USER@HOST[:PORT]/DATABASE  (or ...@localhost/DATABASE?socket=PATH)\n"
    "                         a MySQL/MariaDB database to create: the snapshot, then\n"
    "                         the binlog up to the point (BINLOG statements: the\n"
    "                         account needs BINLOG REPLAY); the password comes from\n"
    "                         --db-password-file FILE or REVENANT_DB_PASSWORD\n"
    "  --force                mysql: drop a database already at that name first\n"
    "  --at TIME              the last point at or before TIME: RFC 3339\n"
    "                         (2026-01-02T03:04:05Z) or Unix seconds\n"
    "  --generation G         restore from generation G instead of the lease's\n"
    "  --before-gap           when a content log object is missing while later ones\n"
    "                         are present (a gap: exit 7 without this), restore the\n"
    "                         newest point before it and say so on stderr\n"
    "  --content-only         only the content folder\n"
    "  --db-only              only the database (no --to)\n"
    "  -j, --jobs N           parallel downloads (default 8)\n"
    "  --delete               remove what is in DIR but not in the store's folder,\n"
    "                         except what replicate never ships (content.exclude:\n"
    "                         logs/, images/size/, data/*.db...) and the --db file\n"
    "                         with its -wal/-shm; without it such paths are kept\n"
    "                         and counted\n"
    "  --allow-outside-links  also restore symlinks pointing outside DIR\n"
    "  --versions             read the bucket's object versions instead of its\n"
    "                         current objects: every key as its newest version that\n"
    "                         is not a delete marker (recovers a store whose objects\n"
    "                         were deleted or overwritten; needs S3 versioning)\n"
    "  --versions-at TIME     with --versions: each key's newest version created at\n"
    "                         or before TIME (before the damage)\n"
    "  --progress-every DUR   progress line interval when stderr is not a\n"
    "                         terminal (default 10s; a bar on a terminal)\n"
    "\n"
    "Exit codes: 0 restored, 2 bad usage (or a database in the store and neither\n"
    "--db nor --content-only), 3 store unreachable, 4 permission, 5 nothing to\n"
    "restore or a blob missing, 6 FILE (or the MySQL database) exists, 7 a corrupt\n"
    "object, blob or segment,\n"
    "or a gap in the content or database log (the message names the generation and\n"
    "the missing sequence or position; no wrong file is left in place).\n";

enum {
	OPT_TO = 'T',
	OPT_AT = 'A',
	OPT_GEN = 'G',
	OPT_CONTENT = 'C',
	OPT_DELETE = 'D',
	OPT_LINKS = 'L',
	OPT_PROGRESS = 'P',
	OPT_DB = 'B',
	OPT_DB_ONLY = 'O',
	OPT_BEFORE_GAP = 'g',
	OPT_VERSIONS = 'V',
	OPT_VERSIONS_AT = 'v',
	OPT_DB_PASSWORD_FILE = 'W',
	OPT_FORCE = 'F',
};

struct progress_ui {
	bool tty;
	bool drawn;
};

static void show_progress(void *ud, const struct rv_restore_stats *st, bool final)
{
	struct progress_ui *ui = ud;
	uint64_t done = st->downloaded + st->same + st->fixed + st->failed;
	double pct = st->files ? 100.0 * (double)done / (double)st->files : 100.0;
	double rate = st->seconds > 0 ? (double)st->bytes_downloaded / st->seconds : 0;
	char b1[32], b2[32], r[32];

	rv_human_size(b1, sizeof(b1), st->bytes_downloaded);
	rv_human_size(b2, sizeof(b2), st->bytes);
	rv_human_size(r, sizeof(r), (uint64_t)rate);
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

/* A gap the point stops before (--before-gap) is said before the restore
 * starts: it may run for a while. */
static void point_chosen(void *ud, const struct rv_restore_point *p)
{
	char d[160], when[32];

	(void)ud;
	if (!p->gap.missing)
		return;
	rv_restore_format_time(when, p->time_ms);
	rv_restore_gap_describe(d, sizeof(d), &p->gap);
	fprintf(stderr,
		"warning: %s; restoring the newest point before it (--before-gap): "
		"generation %s, seq %" PRIu64 ", commit %s\n",
		d, p->gen, p->seq, when);
}

static void print_result(const struct rv_site_restore_result *r, const char *db)
{
	const struct rv_restore_stats *st = &r->content;
	char when[32], b1[32], b2[32];

	rv_restore_format_time(when, r->time_ms);
	if (r->db)
		printf("restored database %s: generation %s, position %" PRIu64
		       " (%u segments after the snapshot), point %s, %.2f s\n",
		       db, r->dbres.gen, r->dbres.pos, r->dbres.segments, when, r->db_seconds);
	if (!r->folder)
		return;
	rv_human_size(b1, sizeof(b1), st->bytes);
	rv_human_size(b2, sizeof(b2), st->bytes_downloaded);
	printf("restored %s: generation %s, seq %" PRIu64 ", commit %s\n", r->root, r->gen, r->seq,
	       when);
	printf("files: %" PRIu64 " (%s); downloaded %" PRIu64 " (%s), already right %" PRIu64
	       ", mode/mtime fixed %" PRIu64 "\n",
	       st->files, b1, st->downloaded, b2, st->same, st->fixed);
	printf("folders: %" PRIu64 "; symlinks: %" PRIu64 " (%" PRIu64
	       " pointing outside skipped)\n",
	       st->dirs, st->links, st->links_skipped);
	if (st->removed)
		printf("removed %" PRIu64 " paths not in the store (--delete)\n", st->removed);
	if (st->extra)
		printf("kept %" PRIu64 " paths not in the store (--delete removes them)\n",
		       st->extra);
	printf("took %.2f s (%.1f MiB/s)\n", st->seconds,
	       st->seconds > 0 ? (double)st->bytes_downloaded / (1024.0 * 1024.0) / st->seconds
			       : 0.0);
}

int rv_cmd_restore(struct rv_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"to", required_argument, NULL, OPT_TO},
	    {"at", required_argument, NULL, OPT_AT},
	    {"generation", required_argument, NULL, OPT_GEN},
	    {"content-only", no_argument, NULL, OPT_CONTENT},
	    {"db", required_argument, NULL, OPT_DB},
	    {"db-only", no_argument, NULL, OPT_DB_ONLY},
	    {"before-gap", no_argument, NULL, OPT_BEFORE_GAP},
	    {"db-password-file", required_argument, NULL, OPT_DB_PASSWORD_FILE},
	    {"force", no_argument, NULL, OPT_FORCE},
	    {"jobs", required_argument, NULL, 'j'},
	    {"delete", no_argument, NULL, OPT_DELETE},
	    {"allow-outside-links", no_argument, NULL, OPT_LINKS},
	    {"progress-every", required_argument, NULL, OPT_PROGRESS},
	    {"versions", no_argument, NULL, OPT_VERSIONS},
	    {"versions-at", required_argument, NULL, OPT_VERSIONS_AT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct rv_site_restore_opts o = {
	    .at_ms = RV_RESTORE_LATEST,
	    .content = {.jobs = 8, .progress_ms = 10000},
	    .chosen = point_chosen,
	};
	struct rv_site_restore_result res = {0};
	struct rv_content_opts keep;
	struct rv_config *cfg = NULL;
	struct progress_ui ui = {0};
	struct rv_store *s = NULL;
	bool versions = false;
	int64_t versions_at = RV_VERSIONS_NEWEST;
	struct rv_mysql_conf my = {0};
	const char *pwfile = NULL;
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
			o.to = optarg;
			break;
		case OPT_AT:
			if ((rc = rv_restore_parse_time(optarg, &o.at_ms)))
				return rc;
			break;
		case OPT_GEN:
			if (rv_gen_id_check(optarg))
				return RV_EUSAGE;
			o.gen = optarg;
			break;
		case OPT_CONTENT:
			o.content_only = true;
			break;
		case OPT_DB:
			o.db = optarg;
			break;
		case OPT_DB_ONLY:
			o.db_only = true;
			break;
		case OPT_DB_PASSWORD_FILE:
			pwfile = optarg;
			break;
		case OPT_FORCE:
			o.force = true;
			break;
		case OPT_BEFORE_GAP:
			o.find_flags |= RV_RESTORE_BEFORE_GAP;
			break;
		case 'j':
			if ((rc = rv_cli_parse_jobs(optarg, &o.content.jobs)))
				return rc;
			break;
		case OPT_DELETE:
			o.content.delete_extra = true;
			break;
		case OPT_LINKS:
			o.content.allow_outside_links = o.apply.allow_outside_links = true;
			break;
		case OPT_VERSIONS:
			versions = true;
			break;
		case OPT_VERSIONS_AT:
			if ((rc = rv_restore_parse_time(optarg, &versions_at)))
				return rc;
			break;
		case OPT_PROGRESS: {
			int64_t ms;
			if (rv_parse_duration_ms(optarg, &ms) || ms < 100 || ms > 86400000)
				return rv_error(
				    RV_EUSAGE,
				    "--progress-every wants a duration from 100ms to 1d, "
				    "not '%s'",
				    optarg);
			o.content.progress_ms = (unsigned)ms;
			break;
		}
		default:
			return rv_cli_bad_option("restore", argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return rv_error(RV_EUSAGE, "restore takes at most one URL (see revenant restore "
					   "--help)");
	if (versions_at != RV_VERSIONS_NEWEST && !versions)
		return rv_error(RV_EUSAGE, "--versions-at goes with --versions");
	{
		bool is_mysql;

		if ((rc = rv_cli_db_mysql(o.db, pwfile, &my, &is_mysql)))
			return rc;
		if (is_mysql)
			o.db_mysql = &my;
	}
	if ((rc = rv_site_restore_check(&o))) {
		rv_mysql_conf_release(&my);
		return rc;
	}
	ui.tty = isatty(2);
	if (ui.tty)
		o.content.progress_ms = 200;
	o.content.progress = show_progress;
	o.content.progress_ud = &ui;

	/* --delete spares what replicate does not ship (content.exclude) and
	 * the database with its companions. */
	if ((rc = rv_cli_load_config(cli, false, &cfg))) {
		rv_mysql_conf_release(&my);
		return rc;
	}
	rv_cli_content_opts(cfg, &keep);
	o.content.keep = &keep;
	o.content.keep_path = o.db_mysql ? NULL : o.db;
	rc = versions ? rv_cli_open_store_versions(cfg, optind < argc ? argv[optind] : NULL,
						   versions_at, &s)
		      : rv_cli_open_store_cfg(cfg, optind < argc ? argv[optind] : NULL, &s);
	if (!rc)
		rc = rv_site_restore(s, &o, &res);
	if (!rc) {
		print_result(&res, o.db);
		fflush(stdout);
	}
	rv_site_restore_result_release(&res);
	rv_store_free(s);
	rv_config_free(cfg);
	rv_mysql_conf_release(&my);
	return rc;
}
