/* verify.c - restore drills (see verify.h). */
#include "engine/verify.h"
#include "content/restore.h"
#include "core/config.h"
#include "core/http.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/retry.h"
#include "core/testpoint.h"
#include "core/util.h"
#include "db/target.h"
#include "engine/lease.h"
#include "engine/site_restore.h"
#include "engine/status.h"
#include "ghost/refs.h"
#include "metrics/metrics.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Missing images remembered per post to count each once, whatever
 * columns name it. */
#define POST_SEEN_MAX 64

struct vctx {
	struct rv_store *s;
	const struct rv_verify_opts *o;
	const struct rv_dbtgt_ops *db;
	struct rv_verify_point *vp;
	struct rv_dbtgt_size dbsize;
	const char *dir; /* this point's scratch folder */
	int rootfd;	 /* the restored content folder */
	/* image references of the post being read */
	char *post;
	char *seen[POST_SEEN_MAX];
	size_t nseen;
};

uint64_t rv_verify_scratch_need(uint64_t files, uint64_t content_bytes, uint64_t db_bytes,
				uint64_t db_download)
{
	return content_bytes + files * 4096 + db_bytes + db_download + (16u << 20);
}

/* Free space for an unprivileged writer on the file system of `dir`.
 * Test builds let REVENANT_TEST_SCRATCH_FREE (a size) stand in for it:
 * no test can make a small file system without root. */
static int scratch_free(const char *dir, uint64_t *out)
{
	struct statvfs sv;

#ifdef RV_TESTPOINTS
	const char *fake = getenv("REVENANT_TEST_SCRATCH_FREE");

	if (fake && *fake)
		return rv_parse_size(fake, out) ? rv_error(RV_EUSAGE,
							   "REVENANT_TEST_SCRATCH_FREE "
							   "'%s' is no size",
							   fake)
						: 0;
#endif
	if (statvfs(dir, &sv) == -1)
		return rv_error_errno(RV_EFAIL, errno, "statvfs '%s'", dir);
	*out = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
	return 0;
}

/* The content restore's hook: the target set is counted, nothing is
 * downloaded yet. */
static int space_check(void *ud, const struct rv_restore_stats *st)
{
	struct vctx *v = ud;
	struct rv_verify_point *vp = v->vp;
	char need[32], fr[32], cb[32], db[32], dl[32];
	int rc;

	vp->files = st->files;
	vp->content_bytes = st->bytes;
	vp->db_bytes = v->dbsize.database;
	vp->scratch_need =
	    rv_verify_scratch_need(st->files, st->bytes, v->dbsize.database, v->dbsize.download);
	if ((rc = scratch_free(v->dir, &vp->scratch_free)))
		return rc;
	rv_testpoint("verify.planned");
	rv_human_size(need, sizeof(need), vp->scratch_need);
	rv_human_size(fr, sizeof(fr), vp->scratch_free);
	rv_human_size(cb, sizeof(cb), st->bytes);
	rv_human_size(db, sizeof(db), v->dbsize.database);
	rv_human_size(dl, sizeof(dl), v->dbsize.download);
	rv_log(RV_LOG_INFO, "verify: scratch space", "folder", v->dir, "needs", need, "free", fr,
	       "content", cb, "database", db, "db_download", dl, NULL);
	if (vp->scratch_need > vp->scratch_free)
		return rv_error(RV_EFAIL,
				"not enough scratch space in '%s': the point needs %s (content %s "
				"in %" PRIu64 " files, database %s, its objects %s), %s free — "
				"give --scratch a folder on a larger file system",
				v->dir, need, cb, st->files, db, dl, fr);
	return 0;
}

/* ---- the posts' images ------------------------------------------------------ */

static void seen_reset(struct vctx *v, const char *post)
{
	for (size_t i = 0; i < v->nseen; i++)
		free(v->seen[i]);
	v->nseen = 0;
	free(v->post);
	v->post = rv_strdup(post);
}

static int image_ref(void *ud, const char *path)
{
	struct vctx *v = ud;
	struct rv_verify_point *vp = v->vp;
	struct stat sb;

	vp->image_refs++;
	if (fstatat(v->rootfd, path, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (S_ISREG(sb.st_mode) || S_ISLNK(sb.st_mode)))
		return 0;
	for (size_t i = 0; i < v->nseen; i++)
		if (!strcmp(v->seen[i], path))
			return 0; /* the same post named it in another column */
	if (v->nseen < POST_SEEN_MAX)
		v->seen[v->nseen++] = rv_strdup(path);
	vp->images_missing++;
	if (vp->nmissing < RV_VERIFY_MISSING_MAX) {
		vp->missing[vp->nmissing].post = rv_strdup(v->post);
		vp->missing[vp->nmissing].path = rv_strdup(path);
		vp->nmissing++;
	}
	return 0;
}

static int post_text(void *ud, const char *id, const char *column, const char *text, size_t n)
{
	struct vctx *v = ud;

	(void)column;
	if (!v->post || strcmp(v->post, id) != 0)
		seen_reset(v, id);
	return rv_ghost_image_refs(text, n, image_ref, v);
}

static int check_db(struct vctx *v, const struct rv_dbtgt_follow_opts *fo, const char *root)
{
	struct rv_verify_point *vp = v->vp;
	struct rv_dbtgt_inspect in;
	int64_t t0 = rv_mono_ms();
	int rc;

	v->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (v->rootfd == -1)
		return rv_error_errno(RV_EFAIL, errno, "open '%s'", root);
	rc = v->db->inspect(fo, post_text, v, &in);
	close(v->rootfd);
	v->rootfd = -1;
	seen_reset(v, "");
	free(v->post);
	v->post = NULL;
	if (rc)
		return rc;
	vp->fk_violations = in.fk_violations;
	vp->tables_checked = in.tables;
	vp->ghost_schema = in.app_schema;
	vp->posts = in.posts;
	{
		char ms[24], posts[24], refs[24];

		snprintf(ms, sizeof(ms), "%" PRId64, rv_mono_ms() - t0);
		snprintf(posts, sizeof(posts), "%" PRIu64, in.posts);
		snprintf(refs, sizeof(refs), "%" PRIu64, vp->image_refs);
		rv_log(RV_LOG_INFO, "verify: database inspected", "posts", posts, "image_refs",
		       refs, "inspect_ms", ms, NULL);
	}
	if (in.fk_violations) {
		char n[24];

		snprintf(n, sizeof(n), "%" PRIu64, in.fk_violations);
		rv_log(RV_LOG_WARN,
		       "verify: foreign_key_check reports rows (as the source holds them: "
		       "SQLite enforces foreign keys only when the application asks)",
		       "rows", n, NULL);
	}
	if (vp->images_missing)
		return rv_error(RV_ECORRUPT,
				"%" PRIu64 " image%s named by posts %s missing from the folder "
				"(first: post %s names '%s') — the file was never replicated "
				"(content.exclude?) or its blob is lost",
				vp->images_missing, vp->images_missing == 1 ? "" : "s",
				vp->images_missing == 1 ? "is" : "are", vp->missing[0].post,
				vp->missing[0].path);
	return 0;
}

/* ---- one point ------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) == -1 && errno != ENOENT)
		rv_log(RV_LOG_WARN, "verify: cannot remove scratch path", "path", path, "error",
		       strerror(errno), NULL);
	return 0;
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A failure of the point itself (an object damaged or missing, a gap, a
 * database that fails its checks) rather than of verify's means. */
static bool point_failure(int rc)
{
	return rc == RV_ECORRUPT || rc == RV_ENOTFOUND;
}

static int unrestorable(const struct rv_verify_point *vp)
{
	char *msg = rv_strdup(rv_errmsg());
	int rc;

	if (vp->found) {
		char when[32];

		rv_restore_format_time(when, vp->time_ms);
		rc = rv_error(RV_EUNRESTORABLE,
			      "the point at %s (generation %s, seq %" PRIu64
			      ") does not restore: %s",
			      when, vp->gen, vp->seq, msg);
	} else {
		rc = rv_error(RV_EUNRESTORABLE, "the store's %s point does not restore: %s",
			      vp->asked_ms == RV_RESTORE_LATEST ? "latest" : "asked", msg);
	}
	free(msg);
	return rc;
}

static bool stop_asked(void *ud)
{
	(void)ud;
	return rv_shutdown_requested();
}

static int restore_point(struct vctx *v, const struct rv_restore_point *p)
{
	struct rv_verify_point *vp = v->vp;
	struct rv_site_restore_opts so = {
	    .point = p,
	    .at_ms = RV_RESTORE_LATEST,
	    /* thrown away afterwards: making it durable would only load the
	     * disk the primary may share */
	    .no_sync = true,
	    .content = {.jobs = v->o->jobs ? v->o->jobs : 8,
			.planned = space_check,
			.planned_ud = v,
			.stop = stop_asked},
	};
	struct rv_site_restore_result r = {0};
	char *to = rv_asprintf("%s/content", v->dir);
	char *db = rv_asprintf("%s/ghost.db", v->dir);
	const struct rv_mysql_conf *my = v->db == &rv_dbtgt_mysql ? v->o->scratch_mysql : NULL;
	const struct rv_dbtgt_follow_opts fo = {.target = my ? my->database : db, .mysql = my};
	int64_t t0 = rv_mono_ms();
	bool restored;
	int rc = 0;

	so.to = to;
	so.db_mysql = my;
	if (vp->has_db)
		so.db = fo.target;
	else
		so.content_only = true;
	/* A scratch database is created and dropped here: one that exists is
	 * someone's (or a killed verify's), never dropped unasked. */
	if (my && vp->has_db && v->db->exists(&fo)) {
		rc = rv_error(RV_EUSAGE,
			      "--scratch-db: database '%s' already exists on that server — "
			      "verify creates and drops its scratch database itself: name one "
			      "that does not exist (or drop this one if an earlier verify was "
			      "killed)",
			      my->database);
		goto out;
	}
	rc = rv_site_restore(v->s, &so, &r);
	/* Only a database this restore made is dropped below: a failed one
	 * removed its own (or refused one that was there). */
	restored = !rc && vp->has_db;
	vp->restore_seconds = (double)(rv_mono_ms() - t0) / 1000.0;
	vp->bytes_read += r.content.bytes_downloaded + r.content.bytes_objects;
	if (r.db)
		vp->bytes_read += v->dbsize.download;
	if (!rc && vp->has_db)
		rc = check_db(v, &fo, to);
	if (restored && v->db->drop) {
		char *msg = rc ? rv_strdup(rv_errmsg()) : NULL;

		if (v->db->drop(&fo))
			rv_log(RV_LOG_WARN,
			       "verify: cannot drop the scratch database — drop it by hand",
			       "database", fo.target, "error", rv_errmsg(), NULL);
		rv_error_clear();
		if (msg)
			rv_error(rc, "%s", msg);
		free(msg);
	}
	rv_site_restore_result_release(&r);
out:
	free(to);
	free(db);
	return rc;
}

/* The drill restores the database into a scratch SQLite file, or a
 * MySQL generation's into the scratch database --scratch-db names.
 * Without one, refused as what it is (not supported here), never reported
 * as a point that does not restore. */
static int pick_db(struct vctx *v, const char *dbgen)
{
	struct rv_gen_meta meta = {0};
	bool mysql = false;

	if (!rv_gen_meta_read(v->s, dbgen, &meta))
		mysql = meta.database && !strcmp(meta.database, "mysql");
	rv_gen_meta_release(&meta);
	rv_error_clear();
	v->db = rv_dbtgt_of(mysql ? v->o->scratch_mysql : NULL);
	if (mysql && !v->o->scratch_mysql)
		return rv_error(RV_ENOTSUP,
				"generation %s holds a MySQL/MariaDB database: give verify a "
				"scratch database to restore it into, --scratch-db "
				"mysql://USER@HOST/SCRATCH_DB (it creates and drops it)",
				dbgen);
	return 0;
}

static int verify_point(struct vctx *v, const char *gen)
{
	struct rv_verify_point *vp = v->vp;
	struct rv_restore_point p = {0};
	char dbgen[RV_GEN_ID_LEN];
	char *dir = NULL;
	bool made = false;
	int64_t t0 = rv_mono_ms();
	int rc;

	rc = rv_restore_find(v->s, gen, vp->asked_ms, &p);
	if (!rc) {
		vp->found = true;
		memcpy(vp->gen, p.gen, RV_GEN_ID_LEN);
		vp->seq = p.seq;
		vp->time_ms = p.time_ms;
		rc = rv_restore_point_db(v->s, &p, &vp->has_db, &vp->db_pos, dbgen);
	}
	memset(&v->dbsize, 0, sizeof(v->dbsize));
	if (!rc && vp->has_db)
		rc = pick_db(v, dbgen);
	if (!rc) {
		dir = rv_asprintf("%s/revenant-verify.XXXXXX", v->o->scratch);
		/* A local failure, never the point's (not RV_ENOTFOUND). */
		made = mkdtemp(dir) != NULL;
		if (!made)
			rc = rv_error_errno(errno == EACCES || errno == EPERM ? RV_EAUTH : RV_EFAIL,
					    errno, "cannot make a scratch folder in '%s'",
					    v->o->scratch);
	}
	if (!rc && vp->has_db && v->db->restore_size) {
		rc = v->db->restore_size(v->s, dbgen, vp->db_pos, dir, &v->dbsize);
		vp->bytes_read += v->dbsize.probed;
	}
	if (!rc) {
		v->dir = dir;
		rc = restore_point(v, &p);
		v->dir = NULL;
	}
	if (made) {
		int64_t t1 = rv_mono_ms();
		char ms[24];

		rm_tree(dir);
		snprintf(ms, sizeof(ms), "%" PRId64, rv_mono_ms() - t1);
		rv_log(RV_LOG_DEBUG, "verify: scratch folder removed", "folder", dir, "ms", ms,
		       NULL);
	}
	/* "Nothing to verify" is the store's state, not a damaged point. */
	if (rc && point_failure(rc) && (vp->found || rc == RV_ECORRUPT))
		rc = unrestorable(vp);
	vp->rc = rc;
	vp->error = rc ? rv_strdup(rv_errmsg()) : NULL;
	vp->seconds = (double)(rv_mono_ms() - t0) / 1000.0;
	rv_restore_point_release(&p);
	free(dir);
	return rc;
}

/* ---- sampling ---------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

void rv_verify_sample_times(int64_t *out, unsigned n, int64_t lo, int64_t hi, uint64_t seed)
{
	uint64_t span = hi > lo ? (uint64_t)(hi - lo) + 1 : 1;

	for (unsigned i = 0; i < n; i++)
		out[i] = lo + (int64_t)(splitmix(&seed) % span);
	qsort(out, n, sizeof(*out), cmp_i64);
}

/* A generation ID's creation time (its first 16 hex digits). */
static int64_t gen_ms(const char *id)
{
	uint64_t v = 0;

	for (int i = 0; i < 16; i++)
		v = v << 4 | (uint64_t)rv_hexval(id[i]);
	return (int64_t)v;
}

/* The time of the oldest point in the store: the first manifest of the
 * oldest generation that has one. */
static int oldest_point(struct rv_store *s, const struct rv_status_gens *g, int64_t *out)
{
	int rc = 0;

	*out = -1;
	for (size_t i = 0; !rc && *out < 0 && i < g->n; i++) {
		char *pfx = rv_content_manifest_prefix(g->ids[i]);
		struct rv_list_page page = {0};

		rc = rv_store_list_page(s, pfx, NULL, 1, &page);
		if (!rc && page.count) {
			uint64_t seq;

			rc = rv_content_key_parse(page.items[0].key, &seq, out);
		}
		rv_list_page_release(&page);
		free(pfx);
	}
	return rc;
}

/* The point at or before `t`: in the newest generation created by then,
 * or an older one when that has none (its parent pruned). */
static int sample_one(struct vctx *v, const struct rv_status_gens *g, int64_t t)
{
	size_t i = g->n;
	char when[32];
	int rc;

	while (i > 0 && gen_ms(g->ids[i - 1]) > t)
		i--;
	for (; i > 0; i--) {
		free(v->vp->error); /* an earlier try found no point: nothing else is set */
		memset(v->vp, 0, sizeof(*v->vp));
		v->vp->asked_ms = t;
		rc = verify_point(v, g->ids[i - 1]);
		if (rc != RV_ENOTFOUND || v->vp->found)
			return rc;
	}
	rv_restore_format_time(when, t);
	rc = rv_error(RV_ENOTFOUND, "no recovery point at or before %s in any generation", when);
	free(v->vp->error);
	v->vp->rc = rc;
	v->vp->error = rv_strdup(rv_errmsg());
	return rc;
}

static int sample(struct vctx *v, struct rv_verify_result *res)
{
	const struct rv_verify_opts *o = v->o;
	struct rv_status_gens g = {0};
	int64_t lo, *times = NULL;
	uint64_t seed = 0;
	int rc, first_bad = 0;

	if ((rc = rv_status_list_generations(v->s, &g)) || (rc = oldest_point(v->s, &g, &lo)))
		goto out;
	if (lo < 0) {
		rc = rv_error(RV_ENOTFOUND, "the store holds no recovery point to verify");
		goto out;
	}
	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = (uint64_t)rv_now_ms();
	times = rv_malloc(o->sample * sizeof(*times));
	/* A latest point that does not restore still ends the window. */
	rv_verify_sample_times(times, o->sample, lo,
			       res->have_latest ? res->latest_ms : rv_now_ms(), seed);
	res->points = rv_calloc(o->sample, sizeof(*res->points));
	for (unsigned i = 0; i < o->sample; i++) {
		v->vp = &res->points[res->n++];
		rc = sample_one(v, &g, times[i]);
		res->bytes_read += v->vp->bytes_read;
		if (o->point_done)
			o->point_done(o->ud, v->vp);
		if (rc == RV_EUNRESTORABLE) {
			/* Go on: the operator wants every damaged point. */
			if (!first_bad)
				first_bad = i + 1;
			continue;
		}
		if (rc)
			goto out;
	}
	if (first_bad) {
		const struct rv_verify_point *bad = &res->points[first_bad - 1];
		size_t nbad = 0;

		for (size_t i = 0; i < res->n; i++)
			nbad += res->points[i].rc != 0;
		rc = rv_error(RV_EUNRESTORABLE,
			      "%zu of %zu sampled points do not restore; first: %s", nbad, res->n,
			      bad->error);
	}
out:
	free(times);
	rv_status_gens_release(&g);
	return rc;
}

/* ---- the run ------------------------------------------------------------------ */

/* The newest point's time, for the RPO (LISTs and one small object). */
static int find_latest(struct rv_store *s, const char *gen, struct rv_verify_result *res)
{
	struct rv_restore_point p = {0};
	int rc = rv_restore_find(s, gen, RV_RESTORE_LATEST, &p);

	if (!rc) {
		res->have_latest = true;
		res->latest_ms = p.time_ms;
		res->rpo_seconds = (double)(rv_now_ms() - p.time_ms) / 1000.0;
	} else if (rc == RV_ENOTFOUND || rc == RV_ECORRUPT) {
		/* verify_point says it, with the point named */
		rv_error_clear();
		rc = 0;
	}
	rv_restore_point_release(&p);
	return rc;
}

int rv_verify(struct rv_store *s, const struct rv_verify_opts *o, struct rv_verify_result *res)
{
	struct rv_verify_opts oo = *o;
	struct vctx v = {.s = s, .o = &oo, .db = &rv_dbtgt_sqlite, .rootfd = -1};
	int64_t t0 = rv_mono_ms();
	int rc;

	memset(res, 0, sizeof(*res));
	if (o->sample > RV_VERIFY_SAMPLE_MAX)
		return rv_error(RV_EUSAGE, "--sample takes 1 to %d points", RV_VERIFY_SAMPLE_MAX);
	if (o->sample && o->gen)
		return rv_error(RV_EUSAGE,
				"--sample draws from every generation: drop --generation");
	if (!oo.scratch) {
		const char *t = getenv("TMPDIR");

		oo.scratch = t && *t ? t : "/tmp";
	}
	snprintf(res->scratch, sizeof(res->scratch), "%s", oo.scratch);
	if ((rc = find_latest(s, oo.gen, res)))
		return rc;
	if (oo.sample) {
		rc = sample(&v, res);
	} else {
		res->points = rv_calloc(1, sizeof(*res->points));
		v.vp = &res->points[res->n++];
		v.vp->asked_ms = oo.at_ms;
		rc = verify_point(&v, oo.gen);
		res->bytes_read = v.vp->bytes_read;
		if (oo.point_done)
			oo.point_done(oo.ud, v.vp);
	}
	res->seconds = (double)(rv_mono_ms() - t0) / 1000.0;
	return rc;
}

void rv_verify_result_release(struct rv_verify_result *res)
{
	for (size_t i = 0; i < res->n; i++) {
		struct rv_verify_point *p = &res->points[i];

		for (size_t j = 0; j < p->nmissing; j++) {
			free(p->missing[j].post);
			free(p->missing[j].path);
		}
		free(p->error);
	}
	free(res->points);
	memset(res, 0, sizeof(*res));
}

/* ---- metrics ------------------------------------------------------------------- */

#define M_SUCCESS "revenant_verify_last_success_timestamp_seconds"

bool rv_verify_metrics_prev_success(const char *text, size_t n, double *out)
{
	const size_t m = sizeof(M_SUCCESS) - 1;
	size_t i = 0;

	while (i < n) {
		const char *nl = memchr(text + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (text + i)) : n - i;

		if (len > m + 1 && len - m - 1 < 64 && !memcmp(text + i, M_SUCCESS, m) &&
		    text[i + m] == ' ') {
			char num[64], *end;
			double d;

			memcpy(num, text + i + m + 1, len - m - 1);
			num[len - m - 1] = '\0';
			errno = 0;
			d = strtod(num, &end);
			if (!errno && end != num && *end == '\0' && d >= 0) {
				*out = d;
				return true;
			}
		}
		i += len + 1;
	}
	return false;
}

void rv_verify_metrics(struct rv_metrics *m, const struct rv_verify_result *res, int rc, double now,
		       double prev_success)
{
	double restore = 0;

	for (size_t i = 0; i < res->n; i++)
		if (res->points[i].restore_seconds > restore)
			restore = res->points[i].restore_seconds;
	rv_metric_set(rv_metrics_gauge(m, "revenant_verify_ok",
				       "1 when the last verify restored every point it tried.",
				       NULL),
		      rc ? 0 : 1);
	if (!rc || prev_success >= 0)
		rv_metric_set(rv_metrics_gauge(
				  m, M_SUCCESS,
				  "Unix time of the last verify that restored every point.", NULL),
			      rc ? prev_success : now);
	rv_metric_set(rv_metrics_gauge(m, "revenant_verify_duration_seconds",
				       "How long the last verify took, checks included.", NULL),
		      res->seconds);
	rv_metric_set(rv_metrics_gauge(m, "revenant_verify_restore_seconds",
				       "The longest restore of a point in the last verify (the "
				       "RTO estimate).",
				       NULL),
		      restore);
	if (res->have_latest)
		rv_metric_set(rv_metrics_gauge(m, "revenant_verify_rpo_seconds",
					       "Age of the newest recovery point when the last "
					       "verify started.",
					       NULL),
			      res->rpo_seconds);
	rv_metric_set(rv_metrics_gauge(m, "revenant_verify_bytes_read",
				       "Bytes the last verify read from the store.", NULL),
		      (double)res->bytes_read);
	rv_metric_set(rv_metrics_gauge(m, "revenant_verify_points",
				       "Recovery points the last verify tried.", NULL),
		      (double)res->n);
}

static int write_file_atomic(const char *path, const void *data, size_t n)
{
	char *tmp = rv_asprintf("%s.%ld.tmp", path, (long)getpid());
	char *d = rv_strdup(path), *slash = strrchr(d, '/');
	int fd, rc = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		rc = rv_error_errno(rv_errno_result(errno), errno, "cannot write metrics file '%s'",
				    tmp);
	else if (rv_write_all(fd, data, n) || fsync(fd) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "cannot write metrics file '%s'", tmp);
	if (fd != -1 && close(fd) == -1 && !rc)
		rc = rv_error_errno(RV_EFAIL, errno, "close '%s'", tmp);
	if (!rc && rename(tmp, path) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "rename '%s' to '%s'", tmp, path);
	if (rc) {
		unlink(tmp);
	} else if (slash) {
		slash[slash == d] = '\0'; /* "/x" -> "/" */
		rc = rv_fsync_dir(d);
	} else {
		rc = rv_fsync_dir(".");
	}
	free(d);
	free(tmp);
	return rc;
}

int rv_verify_write_metrics(const char *path, const struct rv_verify_result *res, int rc)
{
	struct rv_metrics *m = NULL;
	struct rv_buf b;
	char *old = NULL;
	size_t oldn = 0;
	double prev = -1;
	int err;

	if (rv_read_file(path, 1u << 20, &old, &oldn) == 0)
		(void)rv_verify_metrics_prev_success(old, oldn, &prev);
	rv_error_clear();
	free(old);
	rv_metrics_new(&m);
	rv_verify_metrics(m, res, rc, (double)rv_now_ms() / 1000.0, prev);
	rv_buf_init(&b, 1u << 20);
	err = rv_metrics_render(m, &b);
	if (!err)
		err = write_file_atomic(path, b.data, b.len);
	rv_buf_release(&b);
	rv_metrics_free(m);
	return err;
}

int rv_verify_push_metrics(const char *url, const struct rv_verify_result *res, int rc)
{
	static const char *const hdrs[] = {"Content-Type: text/plain; version=0.0.4", NULL};
	struct rv_http_resp resp = {0};
	struct rv_metrics *m = NULL;
	struct rv_buf b;
	size_t n = strlen(url);
	char *full;
	int err;

	while (n && url[n - 1] == '/')
		n--;
	full = rv_asprintf("%.*s/metrics/job/revenant_verify", (int)n, url);
	rv_metrics_new(&m);
	/* A failure sends no last-success time: POST replaces only the
	 * metrics it names, so the gateway keeps the one it has. */
	rv_verify_metrics(m, res, rc, (double)rv_now_ms() / 1000.0, -1);
	rv_buf_init(&b, 1u << 20);
	err = rv_metrics_render(m, &b);
	if (!err) {
		struct rv_http_req req = {.method = "POST",
					  .url = full,
					  .headers = hdrs,
					  .body = b.data,
					  .body_len = b.len,
					  .timeout_ms = 30000,
					  .max_response = 64u << 10};

		err = rv_http_do(&req, &resp);
		if (!err && (resp.status < 200 || resp.status > 299))
			err = rv_error(RV_ENET, "pushgateway '%s' answered %ld: %.200s", full,
				       resp.status, resp.body.data ? resp.body.data : "");
	}
	rv_http_resp_release(&resp);
	rv_buf_release(&b);
	rv_metrics_free(m);
	free(full);
	return err;
}
