/* cmd_verify.c - `revenant verify`: restore a recovery point into scratch
 * space, check it, say how old it is and how long it took (see
 * engine/verify.h). */
#include "cli/cli.h"
#include "content/restore.h"
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/retry.h"
#include "core/signals.h"
#include "core/util.h"
#include "db/mysql/mysql.h"
#include "engine/verify.h"
#include "store/store.h"
#include "store/versions.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static const char verify_usage[] =
    "usage: revenant verify [--at TIME | --sample N] [--generation G] [--scratch DIR]\n"
    "                       [--json] [--metrics-file FILE] [--pushgateway URL] [-j N]\n"
    "                       [--versions [--versions-at TIME]]\n"
    "                       [--scratch-db mysql://USER@HOST/DB [--db-password-file F]] [URL]\n"
    "\n"
    "A restore drill: restore a recovery point of the store (URL, default store.url\n"
    "of the configuration) into a temporary folder under DIR and check everything a\n"
    "real restore checks: every object's checksums, the content and database logs\n"
    "without gaps, every file's SHA-256, PRAGMA integrity_check; then, when the\n"
    "database has Ghost's posts table, that every image a post names\n"
    "(/content/images/...) is a file of the folder at the same point.\n"
    "foreign_key_check's rows are counted and reported, not judged.  The folder is\n"
    "removed afterwards.  Only reads the store (never the lease): safe beside a\n"
    "running replicate.  Before downloading any file it works out the scratch space\n"
    "the point needs and refuses when the file system has less.\n"
    "\n"
    "  --at TIME              the last point at or before TIME (RFC 3339 or Unix\n"
    "                         seconds) instead of the latest\n"
    "  --sample N             N points at random times across the store's history\n"
    "                         (1 to 100), one after the other\n"
    "  --generation G         the latest point (or --at) of generation G instead of\n"
    "                         the lease's\n"
    "  --scratch DIR          where the temporary folder goes (default $TMPDIR, else\n"
    "                         /tmp)\n"
    "  --scratch-db mysql://USER@HOST[:PORT]/DB  (or ...@localhost/DB?socket=PATH)\n"
    "                         a MySQL/MariaDB generation's database is restored into\n"
    "                         DB on that server, which must not exist: verify\n"
    "                         creates it, runs CHECK TABLE on every table, reads the\n"
    "                         posts, and drops it (password: --db-password-file or\n"
    "                         REVENANT_DB_PASSWORD)\n"
    "  --db-password-file F   the --scratch-db account's password\n"
    "  --json                 one JSON object on stdout (also on failure)\n"
    "  --metrics-file FILE    write revenant_verify_* gauges to FILE for\n"
    "                         node_exporter's textfile collector (atomically; also\n"
    "                         on failure, keeping the last success's time)\n"
    "  --pushgateway URL      POST the same gauges to URL/metrics/job/revenant_verify\n"
    "                         (a Prometheus Pushgateway; a failure sends no last-success\n"
    "                         time, so the gateway keeps the last one)\n"
    "  -j, --jobs N           parallel downloads (default 8)\n"
    "  --versions             drill on the bucket's object versions (as restore\n"
    "                         --versions would read them): each key's newest version\n"
    "                         that is not a delete marker; needs S3 versioning\n"
    "  --versions-at TIME     with --versions: as of TIME\n"
    "\n"
    "Prints the point (generation, sequence, commit time), its age (the RPO now),\n"
    "how long the restore took (the RTO estimate) and the bytes read.\n"
    "\n"
    "Exit codes: 0 every point restored and checked, 9 the store holds a point\n"
    "that does not restore (the message names it and the object: a corrupt or\n"
    "missing object, a gap, a database failing integrity_check, images the posts\n"
    "name missing), 1 not enough scratch space (or another local failure),\n"
    "2 bad usage, 3 store (or pushgateway) unreachable, 4 permission, 5 nothing\n"
    "in the store, 130 interrupted (the scratch folder is removed all the same).\n";

enum {
	OPT_AT = 'A',
	OPT_SAMPLE = 'S',
	OPT_SCRATCH = 'D',
	OPT_JSON = 'J',
	OPT_METRICS = 'M',
	OPT_PUSH = 'P',
	OPT_GEN = 'G',
	OPT_VERSIONS = 'V',
	OPT_VERSIONS_AT = 'v',
	OPT_SCRATCH_DB = 'B',
	OPT_DB_PASSWORD_FILE = 'W',
};

/* Where the figures go besides stdout. */
struct outputs {
	bool json;
	const char *metrics_file;
	const char *pushgateway;
	bool versions; /* read through the store's versioned view */
	int64_t versions_at;
	const char *scratch_db, *db_password_file;
};

/* SIGINT/SIGTERM stop the drill between files; the scratch folder is
 * still removed. */
struct sigctx {
	struct rv_signals sg;
	int done_fd;
};

static void *signal_thread(void *arg)
{
	struct sigctx *s = arg;

	for (;;) {
		int sig = rv_signals_wait(&s->sg, -1, s->done_fd);
		uint64_t v;

		/* A signal pending when the drill ended still counts. */
		if (sig)
			rv_shutdown_request();
		if (read(s->done_fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
			return NULL;
	}
}

static void print_point(const struct rv_verify_point *p, int64_t now_ms)
{
	char when[32], cb[32], db[32], rd[32];

	if (!p->found) {
		printf("FAILED: %s\n", p->error ? p->error : "no point");
		return;
	}
	rv_restore_format_time(when, p->time_ms);
	rv_human_size(cb, sizeof(cb), p->content_bytes);
	rv_human_size(db, sizeof(db), p->db_bytes);
	rv_human_size(rd, sizeof(rd), p->bytes_read);
	printf("%s: generation %s, seq %" PRIu64 ", commit %s (%.1f s old)\n",
	       p->rc ? "FAILED" : "verified", p->gen, p->seq, when,
	       (double)(now_ms - p->time_ms) / 1000.0);
	if (p->rc) {
		printf("  %s\n", p->error);
		for (size_t i = 0; i < p->nmissing; i++)
			printf("  missing: post %s names %s\n", p->missing[i].post,
			       p->missing[i].path);
		if (p->images_missing > p->nmissing)
			printf("  ... %" PRIu64 " more\n", p->images_missing - p->nmissing);
		return;
	}
	printf("  content: %" PRIu64 " files (%s), every SHA-256 checked\n", p->files, cb);
	if (p->has_db && p->tables_checked)
		printf("  database: position %" PRIu64 ", CHECK TABLE ok on %" PRIu64 " tables\n",
		       p->db_pos, p->tables_checked);
	else if (p->has_db)
		printf("  database: position %" PRIu64 " (%s), integrity_check ok, "
		       "foreign_key_check %" PRIu64 " rows\n",
		       p->db_pos, db, p->fk_violations);
	if (p->ghost_schema)
		printf("  posts: %" PRIu64 ", %" PRIu64 " image references, all present\n",
		       p->posts, p->image_refs);
	printf("  restored in %.2f s (%.2f s with the checks), read %s\n", p->restore_seconds,
	       p->seconds, rd);
}

static void print_text(const struct rv_verify_result *r, int64_t now_ms)
{
	char when[32], rd[32];
	double rto = 0;

	for (size_t i = 0; i < r->n; i++) {
		print_point(&r->points[i], now_ms);
		if (r->points[i].restore_seconds > rto)
			rto = r->points[i].restore_seconds;
	}
	rv_human_size(rd, sizeof(rd), r->bytes_read);
	if (rto <= 0)
		return; /* no point was restored: the error line says why */
	if (r->have_latest) {
		rv_restore_format_time(when, r->latest_ms);
		printf("RPO now: %.1f s (newest point %s)\n", r->rpo_seconds, when);
	}
	printf("RTO estimate: %.2f s (restore); verify took %.2f s, read %s\n", rto, r->seconds,
	       rd);
}

static json_t *point_json(const struct rv_verify_point *p, int64_t now_ms)
{
	json_t *o = json_object(), *miss = json_array();
	char when[32];

	for (size_t i = 0; i < p->nmissing; i++)
		json_array_append_new(miss, json_pack("{s:s, s:s}", "post", p->missing[i].post,
						      "path", p->missing[i].path));
	json_object_set_new(o, "ok", json_boolean(!p->rc));
	json_object_set_new(o, "error", p->error ? json_string(p->error) : json_null());
	if (p->asked_ms != RV_RESTORE_LATEST)
		json_object_set_new(o, "asked_ms", json_integer(p->asked_ms));
	if (p->found) {
		rv_restore_format_time(when, p->time_ms);
		json_object_set_new(o, "generation", json_string(p->gen));
		json_object_set_new(o, "seq", json_integer((json_int_t)p->seq));
		json_object_set_new(o, "time", json_string(when));
		json_object_set_new(o, "time_ms", json_integer(p->time_ms));
		json_object_set_new(o, "age_seconds",
				    json_real((double)(now_ms - p->time_ms) / 1000.0));
	}
	json_object_set_new(o, "db_position",
			    p->has_db ? json_integer((json_int_t)p->db_pos) : json_null());
	json_object_set_new(o, "files", json_integer((json_int_t)p->files));
	json_object_set_new(o, "content_bytes", json_integer((json_int_t)p->content_bytes));
	json_object_set_new(o, "db_bytes", json_integer((json_int_t)p->db_bytes));
	json_object_set_new(o, "scratch_need", json_integer((json_int_t)p->scratch_need));
	json_object_set_new(o, "scratch_free", json_integer((json_int_t)p->scratch_free));
	json_object_set_new(o, "bytes_read", json_integer((json_int_t)p->bytes_read));
	json_object_set_new(o, "restore_seconds", json_real(p->restore_seconds));
	json_object_set_new(o, "seconds", json_real(p->seconds));
	json_object_set_new(o, "fk_violations", json_integer((json_int_t)p->fk_violations));
	json_object_set_new(o, "tables_checked", json_integer((json_int_t)p->tables_checked));
	json_object_set_new(o, "ghost_schema", json_boolean(p->ghost_schema));
	json_object_set_new(o, "posts", json_integer((json_int_t)p->posts));
	json_object_set_new(o, "image_refs", json_integer((json_int_t)p->image_refs));
	json_object_set_new(o, "images_missing", json_integer((json_int_t)p->images_missing));
	json_object_set_new(o, "missing", miss);
	return o;
}

static int print_json(const struct rv_verify_result *r, int rc, int64_t now_ms)
{
	json_t *root = json_object(), *pts = json_array();
	double rto = 0;
	char *s;

	for (size_t i = 0; i < r->n; i++) {
		json_array_append_new(pts, point_json(&r->points[i], now_ms));
		if (r->points[i].restore_seconds > rto)
			rto = r->points[i].restore_seconds;
	}
	json_object_set_new(root, "ok", json_boolean(!rc));
	json_object_set_new(root, "exit_code", json_integer(rv_exit_code(rc)));
	json_object_set_new(root, "error", rc ? json_string(rv_errmsg()) : json_null());
	json_object_set_new(root, "points", pts);
	json_object_set_new(root, "latest_ms",
			    r->have_latest ? json_integer(r->latest_ms) : json_null());
	json_object_set_new(root, "rpo_seconds",
			    r->have_latest ? json_real(r->rpo_seconds) : json_null());
	json_object_set_new(root, "rto_seconds", json_real(rto));
	json_object_set_new(root, "seconds", json_real(r->seconds));
	json_object_set_new(root, "bytes_read", json_integer((json_int_t)r->bytes_read));
	json_object_set_new(root, "scratch", json_string(r->scratch));
	s = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (!s)
		return rv_error(RV_EFAIL, "cannot render JSON");
	puts(s);
	free(s);
	return 0;
}

static int parse_args(int argc, char **argv, struct rv_verify_opts *o, struct outputs *out)
{
	static const struct option longopts[] = {
	    {"at", required_argument, NULL, OPT_AT},
	    {"sample", required_argument, NULL, OPT_SAMPLE},
	    {"scratch", required_argument, NULL, OPT_SCRATCH},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"metrics-file", required_argument, NULL, OPT_METRICS},
	    {"pushgateway", required_argument, NULL, OPT_PUSH},
	    {"generation", required_argument, NULL, OPT_GEN},
	    {"jobs", required_argument, NULL, 'j'},
	    {"versions", no_argument, NULL, OPT_VERSIONS},
	    {"versions-at", required_argument, NULL, OPT_VERSIONS_AT},
	    {"scratch-db", required_argument, NULL, OPT_SCRATCH_DB},
	    {"db-password-file", required_argument, NULL, OPT_DB_PASSWORD_FILE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool at = false;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "j:", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_AT:
			if ((rc = rv_restore_parse_time(optarg, &o->at_ms)))
				return rc;
			at = true;
			break;
		case OPT_SAMPLE: {
			uint64_t n;

			if (rv_parse_u64(optarg, &n) || n < 1 || n > RV_VERIFY_SAMPLE_MAX)
				return rv_error(RV_EUSAGE, "--sample takes 1 to %d, not '%s'",
						RV_VERIFY_SAMPLE_MAX, optarg);
			o->sample = (unsigned)n;
			break;
		}
		case OPT_GEN:
			if (rv_gen_id_check(optarg))
				return RV_EUSAGE;
			o->gen = optarg;
			break;
		case OPT_SCRATCH:
			o->scratch = optarg;
			break;
		case OPT_JSON:
			out->json = true;
			break;
		case OPT_METRICS:
			out->metrics_file = optarg;
			break;
		case OPT_PUSH:
			if (strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8))
				return rv_error(RV_EUSAGE,
						"--pushgateway wants an http:// or https:// URL, "
						"not '%s'",
						optarg);
			out->pushgateway = optarg;
			break;
		case 'j':
			if ((rc = rv_cli_parse_jobs(optarg, &o->jobs)))
				return rc;
			break;
		case OPT_VERSIONS:
			out->versions = true;
			break;
		case OPT_VERSIONS_AT:
			if ((rc = rv_restore_parse_time(optarg, &out->versions_at)))
				return rc;
			break;
		case OPT_SCRATCH_DB:
			out->scratch_db = optarg;
			break;
		case OPT_DB_PASSWORD_FILE:
			out->db_password_file = optarg;
			break;
		default:
			return rv_cli_bad_option("verify", argv[optind - 1]);
		}
	}
	if (out->db_password_file && !out->scratch_db)
		return rv_error(RV_EUSAGE, "--db-password-file goes with --scratch-db");
	if (out->versions_at != RV_VERSIONS_NEWEST && !out->versions)
		return rv_error(RV_EUSAGE, "--versions-at goes with --versions");
	if (at && o->sample)
		return rv_error(RV_EUSAGE, "--at and --sample do not go together");
	if (o->gen && o->sample)
		return rv_error(RV_EUSAGE,
				"--sample draws from every generation: drop --generation");
	if (argc - optind > 1)
		return rv_error(RV_EUSAGE, "verify takes at most one URL (see revenant verify "
					   "--help)");
	if (o->scratch && access(o->scratch, W_OK | X_OK) == -1)
		return rv_error_errno(RV_EUSAGE, errno, "--scratch '%s' cannot be used",
				      o->scratch);
	return 0;
}

static void point_done(void *ud, const struct rv_verify_point *p)
{
	char when[32];

	(void)ud;
	if (!p->found)
		return;
	rv_restore_format_time(when, p->time_ms);
	rv_log(p->rc ? RV_LOG_ERROR : RV_LOG_INFO,
	       p->rc ? "verify: point failed" : "verify: point ok", "generation", p->gen, "commit",
	       when, NULL);
}

/* An output that failed: the first failure (the drill's, or the first
 * output's) keeps its message in `*keep`, later ones are logged. */
static void output_failed(int err, int *rc2, char **keep)
{
	if (!err)
		return;
	if (*keep) {
		rv_log(RV_LOG_ERROR, "verify: cannot report the result", "error", rv_errmsg(),
		       NULL);
		return;
	}
	*keep = rv_strdup(rv_errmsg());
	*rc2 = err;
}

int rv_cmd_verify(struct rv_cli *cli, int argc, char **argv)
{
	struct rv_verify_opts o = {.at_ms = RV_RESTORE_LATEST, .point_done = point_done};
	struct rv_verify_result res = {0};
	struct rv_mysql_conf my = {0};
	struct sigctx sc = {.done_fd = -1};
	struct rv_config *cfg = NULL;
	struct rv_store *s = NULL;
	struct outputs out = {.versions_at = RV_VERSIONS_NEWEST};
	char *keep = NULL;
	bool sig = false;
	pthread_t th;
	int rc, rc2;

	if (rv_cli_wants_help(argc, argv)) {
		fputs(verify_usage, stdout);
		return 0;
	}
	if ((rc = parse_args(argc, argv, &o, &out)))
		return rc;
	if (out.scratch_db) {
		bool is_mysql;

		if ((rc = rv_cli_db_mysql(out.scratch_db, out.db_password_file, &my, &is_mysql)))
			return rc;
		if (!is_mysql) {
			rv_mysql_conf_release(&my);
			return rv_error(RV_EUSAGE,
					"--scratch-db wants mysql://USER@HOST[:PORT]/DB, not '%s'",
					out.scratch_db);
		}
		o.scratch_mysql = &my;
	}
	if ((rc = rv_signals_open(&sc.sg))) {
		rv_mysql_conf_release(&my);
		return rc;
	}
	sc.done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	sig = sc.done_fd != -1 && pthread_create(&th, NULL, signal_thread, &sc) == 0;
	if (!(rc = rv_cli_load_config(cli, false, &cfg)) &&
	    !(rc = out.versions
		       ? rv_cli_open_store_versions(cfg, optind < argc ? argv[optind] : NULL,
						    out.versions_at, &s)
		       : rv_cli_open_store_cfg(cfg, optind < argc ? argv[optind] : NULL, &s)))
		rc = rv_verify(s, &o, &res);
	if (sig) {
		uint64_t one = 1;

		if (write(sc.done_fd, &one, sizeof(one)) == (ssize_t)sizeof(one))
			pthread_join(th, NULL);
		else
			pthread_detach(th);
	}
	if (!rc && rv_shutdown_requested())
		rc = rv_error(RV_EINTR, "verify interrupted");
	rc2 = 0;
	if (out.json)
		rc2 = print_json(&res, rc, rv_now_ms());
	else if (res.n)
		print_text(&res, rv_now_ms());
	fflush(stdout);
	/* Their own failures must not hide the drill's. */
	keep = rc || rc2 ? rv_strdup(rv_errmsg()) : NULL;
	if (out.metrics_file)
		output_failed(rv_verify_write_metrics(out.metrics_file, &res, rc), &rc2, &keep);
	if (out.pushgateway)
		output_failed(rv_verify_push_metrics(out.pushgateway, &res, rc), &rc2, &keep);
	if (!rc)
		rc = rc2;
	if (keep)
		rv_error(rc, "%s", keep);
	free(keep);
	if (sc.done_fd != -1)
		close(sc.done_fd);
	rv_signals_close(&sc.sg);
	rv_verify_result_release(&res);
	rv_store_free(s);
	rv_config_free(cfg);
	rv_mysql_conf_release(&my);
	return rc;
}
