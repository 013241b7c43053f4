/* standby.c - `revenant standby`: keep a folder, and optionally a
 * SQLite file, equal to the store's latest recovery point (see restore.h).
 *
 * Each poll reads lease.json (one GET) and lists the log objects after the
 * last one applied (one LIST per 256).  A new generation in the lease, or
 * a log missing in the middle of the generation, means a full restore with
 * delete, which skips every file that is already right.
 *
 * A missing log with later ones present is a gap: damage, at once (replicate
 * writes log N+1 only after the PUT of log N succeeded, so no consistent
 * LIST shows N+1 without N).  The standby then needs a manifest past the
 * gap; until replicate writes one it stays where it is and reports the gap
 * (an error, looked at every poll, logged again every 30 s) — it never goes
 * back to an older point, and it does not skip the missing commit.  With `before_gap` a start or a
 * promote takes the newest point before the gap instead of failing.
 *
 * The database follows the content logs: before a log's records are
 * applied, the database is moved to the log's `db=` position by its
 * target's follower (db/target.h; SQLite's writes the segments between in
 * place under a state file: db/sqlite/follow.c), so folder and database
 * always sit at one point. */
#include "content/restore.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "db/target.h"
#include "store/store.h"
#include "engine/lease.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A failure that repeats is logged again only after this long. */
#define REPEAT_LOG_MS 30000
/* With no new log for this long, look for a gap that the regular LIST
 * cannot show (the missing log was the last of its 256-block, or only a
 * manifest lies past it). */
#define GAP_CHECK_MS 10000
/* Past this, /healthz says the standby is behind. */
#define HEALTHY_LAG_S 60.0
/* Catch-up rounds of --promote-once after the first restore. */
#define PROMOTE_ROUNDS 16

/* The database side: a target's follower (db/target.h), NULL without one. */
struct dbside {
	const struct rv_dbtgt_ops *ops;
	void *h;
};

struct standby {
	struct rv_store *s;
	struct rv_apply *a;
	const struct rv_standby_opts *o;
	struct rv_restore_opts ro;
	struct dbside db;
	bool promote;
	bool have; /* a point has been restored */
	char gen[RV_GEN_ID_LEN];
	uint64_t seq;
	int64_t commit_ms;  /* of the last commit applied */
	int64_t current_ms; /* the folder is known to match the store as of this time */
	int64_t progress_mono, gap_check_mono;
	uint64_t gap_logged; /* the missing sequence last logged, so a wait logs once */
	uint64_t gap_next;   /* a later sequence seen past the missing one (0: unknown) */
	char *last_err;
	int64_t last_err_ms;
	uint64_t lease_epoch; /* as the last poll read it (0: not read yet) */
};

static bool stop_now(void *ud)
{
	const struct rv_standby_opts *o = ud;

	return o->wait && o->wait(o->wait_ud, 0);
}

static void report_error(struct standby *sb, const char *what)
{
	const char *msg = rv_errmsg();
	int64_t now = rv_mono_ms();

	/* The same failure every second would drown the log. */
	if (sb->last_err && !strcmp(sb->last_err, msg) && now - sb->last_err_ms < REPEAT_LOG_MS)
		return;
	free(sb->last_err);
	sb->last_err = rv_strdup(msg);
	sb->last_err_ms = now;
	rv_log(RV_LOG_ERROR, what, "error", msg, "hint", "retrying at every poll", NULL);
}

static int sync_folder(struct standby *sb)
{
	int fd = open(rv_apply_root(sb->a), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd == -1 || syncfs(fd) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "sync folder '%s'", rv_apply_root(sb->a));
	if (fd != -1)
		close(fd);
	return rc;
}

static void pos_str(char out[24], uint64_t v)
{
	snprintf(out, 24, "%" PRIu64, v);
}

/* ---- the database ------------------------------------------------------ */

static bool db_on(const struct standby *sb)
{
	return sb->db.h != NULL;
}

static int db_goto(struct standby *sb, const char *gen, uint64_t pos)
{
	return sb->db.ops->follow_go(sb->db.h, gen, pos);
}

/* The database half of a point, or an error when the point names none. */
static int point_db(struct standby *sb, const struct rv_restore_point *p, bool *has,
		    char gen[RV_GEN_ID_LEN], uint64_t *pos)
{
	int rc = rv_restore_point_db(sb->s, p, has, pos, gen);

	if (rc)
		return rc;
	if (!*has)
		return rv_error(RV_ENOTFOUND,
				"the store's latest point (generation %s, seq %" PRIu64
				") names no database position — replicate must ship the database "
				"(database.sqlite), or run standby without --db",
				p->gen, p->seq);
	return 0;
}

/* ---- content ----------------------------------------------------------- */

/* `past`: only a point beyond the one applied will do (a gap was found:
 * going back to before it would not help). */
static int full_restore(struct standby *sb, bool past)
{
	struct rv_restore_point p;
	struct rv_restore_stats st;
	int64_t started = rv_now_ms();
	char when[32], n1[24], n2[24], n3[24], n4[24];
	char dbgen[RV_GEN_ID_LEN] = "";
	uint64_t dbpos = 0;
	bool has_db = false;
	int rc;

	if ((rc = rv_restore_find_flags(sb->s, NULL, RV_RESTORE_LATEST,
					sb->o->before_gap ? RV_RESTORE_BEFORE_GAP : 0, &p)))
		return rc;
	if (past && !strcmp(p.gen, sb->gen) && p.seq <= sb->seq) {
		/* Nothing past the gap yet: stay, and say why. */
		struct rv_restore_gap g = {.missing = sb->seq + 1, .next = sb->gap_next};

		memcpy(g.gen, sb->gen, RV_GEN_ID_LEN);
		if (p.gap.missing)
			g = p.gap;
		if (sb->promote && sb->o->before_gap) {
			char d[160];

			rv_restore_gap_describe(d, sizeof(d), &g);
			rv_log(RV_LOG_WARN,
			       "promoting the newest point before a gap (--before-gap)", "gap", d,
			       NULL);
			goto out;
		}
		rc = rv_restore_gap_error(&g);
		goto out;
	}
	if (p.gap.missing) {
		char d[160];

		rv_restore_gap_describe(d, sizeof(d), &p.gap);
		rv_log(RV_LOG_WARN, "standby takes the newest point before a gap (--before-gap)",
		       "gap", d, NULL);
	}
	if (db_on(sb) && !(rc = point_db(sb, &p, &has_db, dbgen, &dbpos)))
		rc = db_goto(sb, dbgen, dbpos);
	if (!rc)
		rc = rv_restore_apply_point(sb->s, sb->a, &p, &sb->ro, &st);
	if (!rc) {
		memcpy(sb->gen, p.gen, RV_GEN_ID_LEN);
		sb->seq = p.seq;
		sb->commit_ms = p.time_ms;
		sb->current_ms = started;
		sb->have = true;
		sb->progress_mono = rv_mono_ms();
		sb->gap_logged = 0;
		rv_restore_format_time(when, p.time_ms);
		pos_str(n1, st.files);
		pos_str(n2, st.downloaded);
		pos_str(n3, st.removed);
		pos_str(n4, p.seq);
		if (has_db) {
			char n5[24];

			pos_str(n5, dbpos);
			rv_log(RV_LOG_INFO, "standby restored the latest point", "generation",
			       p.gen, "seq", n4, "db_position", n5, "commit", when, "files", n1,
			       "downloaded", n2, "removed", n3, NULL);
		} else {
			rv_log(RV_LOG_INFO, "standby restored the latest point", "generation",
			       p.gen, "seq", n4, "commit", when, "files", n1, "downloaded", n2,
			       "removed", n3, NULL);
		}
	}
out:
	rv_restore_point_release(&p);
	return rc;
}

/* The logs after the one applied, in sequence; `*gap` when the LIST shows
 * a later sequence while the next one is missing (lost, or deleted after
 * an earlier LIST). */
static int list_new(struct standby *sb, struct rv_restore_obj **logs, size_t *nlogs, bool *gap)
{
	uint64_t later = 0;
	int rc = rv_restore_list_logs(sb->s, sb->gen, sb->seq + 1, RV_RESTORE_LATEST, logs, nlogs,
				      &later);

	*gap = later != 0;
	if (*gap)
		sb->gap_next = later;
	return rc;
}

/* With nothing new for a while: the next log may be missing where the
 * regular LIST cannot tell (a later 256-block has logs, or a manifest is
 * already past it). */
static int gap_check(struct standby *sb, bool *gap)
{
	uint64_t want = sb->seq + 1;
	char *mp = rv_content_manifest_prefix(sb->gen);
	char *np = rv_content_log_block_prefix(sb->gen, want + 256);
	struct rv_keylist mk = {0}, nk = {0};
	int rc;

	*gap = false;
	sb->gap_check_mono = rv_mono_ms();
	rc = rv_store_list_keys(sb->s, mp, &mk);
	for (size_t i = 0; !rc && i < mk.n; i++) {
		uint64_t seq;
		int64_t ms;

		if (rv_str_endswith(mk.v[i], "/"))
			continue;
		if ((rc = rv_content_key_parse(mk.v[i], &seq, &ms)))
			break;
		if (seq >= want && (!*gap || seq < sb->gap_next)) {
			*gap = true;
			sb->gap_next = seq;
		}
	}
	if (!rc && !*gap) {
		rc = rv_store_list_keys(sb->s, np, &nk);
		if (!rc && nk.n) {
			uint64_t seq;
			int64_t ms;

			*gap = true;
			sb->gap_next = rv_content_key_parse(nk.v[0], &seq, &ms) ? 0 : seq;
			rv_error_clear();
		}
	}
	rv_keylist_release(&mk);
	rv_keylist_release(&nk);
	free(mp);
	free(np);
	return rc;
}

/* A gap right after the point applied: only a manifest past it helps
 * (full_restore fails with the gap's RV_ECORRUPT until there is one). */
static int on_gap(struct standby *sb)
{
	struct rv_restore_gap g = {.missing = sb->seq + 1, .next = sb->gap_next};
	char d[160];

	memcpy(g.gen, sb->gen, RV_GEN_ID_LEN);
	rv_restore_gap_describe(d, sizeof(d), &g);
	if (sb->gap_logged != sb->seq + 1)
		rv_log(RV_LOG_WARN,
		       "content log gap: looking for a manifest past it (a full restore); the "
		       "standby stays at the point before it until there is one",
		       "gap", d, NULL);
	sb->gap_logged = sb->seq + 1;
	return full_restore(sb, true);
}

/* After RV_ENOTFOUND from applying a log: was it the log itself (gone
 * since the LIST) or something it names (a blob)?  The error stays set in
 * the second case. */
static bool log_gone(struct standby *sb, const char *key)
{
	char *msg = rv_strdup(rv_errmsg());
	struct rv_obj_info info = {0};
	int rc = rv_store_head(sb->s, key, &info);

	rv_obj_info_release(&info);
	if (rc == RV_ENOTFOUND) {
		rv_error_clear();
		free(msg);
		return true;
	}
	rv_error(RV_ENOTFOUND, "%s", msg);
	free(msg);
	return false;
}

/* A log's database position, before its files: the database is moved
 * there first, so folder and database sit at one point. */
static int log_db(void *ud, const struct rv_cobj_hdr *h)
{
	struct standby *sb = ud;

	if (!db_on(sb) || !h->has_db)
		return 0;
	return db_goto(sb, h->gen, h->db_pos);
}

/* Apply the logs committed since the last poll; `*applied` counts them. */
static int follow(struct standby *sb, size_t *applied)
{
	struct rv_restore_obj *logs = NULL;
	struct rv_lease lease;
	size_t nlogs = 0, i;
	int64_t started = rv_now_ms();
	bool gap = false;
	int rc;

	*applied = 0;
	if ((rc = rv_lease_read(sb->s, &lease)))
		return rc;
	sb->lease_epoch = lease.epoch;
	if (sb->o->lease_seen)
		sb->o->lease_seen(sb->o->applied_ud, lease.site, lease.epoch, lease.gen);
	if (strcmp(lease.gen, sb->gen)) {
		rv_log(RV_LOG_INFO, "the lease names a new generation: restoring it", "from",
		       sb->gen, "to", lease.gen, "site", lease.site, NULL);
		rv_lease_release(&lease);
		rc = full_restore(sb, false);
		*applied = !rc;
		return rc;
	}
	rv_lease_release(&lease);
	if ((rc = list_new(sb, &logs, &nlogs, &gap)))
		return rc;
	if (!nlogs && !gap && rv_mono_ms() - sb->progress_mono >= GAP_CHECK_MS &&
	    rv_mono_ms() - sb->gap_check_mono >= GAP_CHECK_MS && (rc = gap_check(sb, &gap)))
		return rc;
	for (i = 0; i < nlogs && !rc; i++) {
		uint64_t files, bytes;
		char n1[24], n2[24], n3[24];

		if (stop_now((void *)sb->o))
			break;
		rc = rv_restore_apply_log(sb->s, sb->a, &logs[i], &sb->ro, log_db, sb, &files,
					  &bytes);
		if (rc == RV_ENOTFOUND && log_gone(sb, logs[i].key)) {
			rc = 0;
			gap = true;
			sb->gap_next = i + 1 < nlogs ? logs[i + 1].seq : 0;
			break;
		}
		if (rc)
			break;
		sb->seq = logs[i].seq;
		sb->commit_ms = logs[i].time_ms;
		sb->progress_mono = rv_mono_ms();
		(*applied)++;
		pos_str(n1, logs[i].seq);
		pos_str(n2, files);
		pos_str(n3, bytes);
		rv_log(RV_LOG_DEBUG, "standby applied a log", "seq", n1, "files", n2, "bytes", n3,
		       NULL);
	}
	if (*applied && !rc)
		rc = sync_folder(sb);
	if (!rc && i == nlogs && !gap)
		sb->current_ms = started;
	else if (i < nlogs && logs[i].time_ms < sb->current_ms)
		sb->current_ms = logs[i].time_ms; /* behind since that commit */
	for (size_t k = 0; k < nlogs; k++)
		free(logs[k].key);
	free(logs);
	if (!rc && gap) {
		uint64_t before = sb->seq;

		rc = on_gap(sb);
		if (!rc && sb->seq != before)
			(*applied)++;
	}
	return rc;
}

static int standby_open(struct standby *sb, struct rv_store *s, const char *dir,
			const struct rv_standby_opts *o)
{
	struct rv_apply_opts ao = {.allow_outside_links = o->restore.allow_outside_links};
	int rc;

	memset(sb, 0, sizeof(*sb));
	sb->s = s;
	sb->o = o;
	sb->ro = o->restore;
	sb->ro.delete_extra = true;
	sb->ro.stop = stop_now;
	sb->ro.stop_ud = (void *)o;
	sb->progress_mono = sb->gap_check_mono = rv_mono_ms();
	if ((rc = rv_apply_open(&sb->a, s, dir, &ao)))
		return rc;
	if (o->db_path) {
		struct rv_dbtgt_follow_opts fo = {.target = o->db_path,
						  .mysql = o->db_mysql,
						  .locked_dir = dir,
						  .replace = o->db_replace};

		sb->db.ops = rv_dbtgt_of(o->db_mysql);
		rc = sb->db.ops->follow_open(&sb->db.h, s, &fo);
	}
	return rc;
}

static void standby_close(struct standby *sb)
{
	free(sb->last_err);
	rv_apply_free(sb->a);
	if (db_on(sb))
		sb->db.ops->follow_close(sb->db.h);
}

/* The primary's heartbeat against the lease: how old, and whether a
 * fenced writer's.  A store failure here is the follow loop's to report. */
static void look_at_heartbeat(struct standby *sb)
{
	struct rv_heartbeat hb;
	struct rv_lease l;
	bool current;
	int rc = rv_heartbeat_read(sb->s, &hb);

	if (rc == RV_ENOTFOUND) {
		rv_error_clear();
		sb->o->heartbeat(sb->o->applied_ud, -1.0, false);
		return;
	}
	if (rc) {
		rv_error_clear();
		return;
	}
	/* The follow loop reads the lease every poll; only before its first
	 * poll is there none to compare with. */
	if (!sb->lease_epoch && !rv_lease_read(sb->s, &l)) {
		sb->lease_epoch = l.epoch;
		rv_lease_release(&l);
	}
	rv_error_clear();
	current = sb->lease_epoch == hb.epoch;
	sb->o->heartbeat(sb->o->applied_ud, (double)(rv_now_ms() - hb.time_ms) / 1000.0, current);
	rv_heartbeat_release(&hb);
}

int rv_standby_run(struct rv_store *s, const char *dir, const struct rv_standby_opts *o)
{
	unsigned interval = o->interval_ms ? o->interval_ms : 1000;
	unsigned lag_log = o->lag_log_ms ? o->lag_log_ms : 30000;
	unsigned hb_every = o->heartbeat_check_ms ? o->heartbeat_check_ms : 5000;
	struct standby sb;
	int64_t last_lag_log = rv_mono_ms(), next_hb = 0;
	int rc;

	if ((rc = standby_open(&sb, s, dir, o))) {
		standby_close(&sb);
		return rc;
	}
	for (;;) {
		size_t applied;
		double lag;

		if (!sb.have)
			rc = full_restore(&sb, false);
		else
			rc = follow(&sb, &applied);
		if (rc == RV_EINTR)
			break;
		if (rc == RV_EUSAGE || rc == RV_EAUTH || rc == RV_ENOTSUP) {
			/* Configuration, not weather: retrying will not help. */
			break;
		}
		if (rc)
			report_error(&sb, sb.have ? "standby cannot follow the store"
						  : "standby cannot restore the latest point");
		rc = 0;
		lag = sb.have ? (double)(rv_now_ms() - sb.current_ms) / 1000.0 : -1.0;
		if (lag < 0 && sb.have)
			lag = 0;
		if (o->applied && sb.have) {
			struct rv_dbtgt_point dp;
			bool at = db_on(&sb) && sb.db.ops->follow_at(sb.db.h, &dp);

			o->applied(o->applied_ud, sb.gen, sb.seq, sb.commit_ms, lag,
				   at ? (int64_t)dp.pos : -1);
		}
		if (o->heartbeat && rv_mono_ms() >= next_hb) {
			look_at_heartbeat(&sb);
			next_hb = rv_mono_ms() + hb_every;
		}
		if (sb.have && rv_mono_ms() - last_lag_log >= lag_log) {
			char l[32], q[24], when[32];

			snprintf(l, sizeof(l), "%.3f", lag);
			pos_str(q, sb.seq);
			rv_restore_format_time(when, sb.commit_ms);
			rv_log(RV_LOG_INFO, "standby lag", "lag_seconds", l, "generation", sb.gen,
			       "seq", q, "last_commit", when, NULL);
			last_lag_log = rv_mono_ms();
		}
		if (o->wait && o->wait(o->wait_ud, interval))
			break;
	}
	if (rc == RV_EINTR)
		rc = 0; /* asked to stop: a clean exit */
	standby_close(&sb);
	return rc;
}

/* Follow until a round applies nothing (commits that land while it runs),
 * at most PROMOTE_ROUNDS times. */
static int catch_up(struct standby *sb, int rc)
{
	for (int round = 0; !rc && round < PROMOTE_ROUNDS; round++) {
		size_t applied;

		if ((rc = follow(sb, &applied)) || !applied)
			break;
	}
	return rc;
}

static void where(const struct standby *sb, struct rv_standby_point *out)
{
	memcpy(out->gen, sb->gen, RV_GEN_ID_LEN);
	out->seq = sb->seq;
	out->commit_ms = sb->commit_ms;
}

int rv_standby_promote(struct rv_store *s, const char *dir, const struct rv_standby_opts *o,
		       struct rv_standby_point *out)
{
	struct standby sb;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = standby_open(&sb, s, dir, o)))
		goto out;
	sb.promote = true;
	rc = full_restore(&sb, false);
	/* Commits that landed during the restore. */
	rc = catch_up(&sb, rc);
	if (!rc && o->before_promote) {
		struct rv_dbtgt_point dp;

		where(&sb, out);
		if (db_on(&sb) && sb.db.ops->follow_at(sb.db.h, &dp)) {
			out->has_db = true;
			memcpy(out->db_gen, dp.gen, RV_GEN_ID_LEN);
			out->db_pos = dp.pos;
		}
		if ((rc = o->before_promote(o->before_promote_ud, out)))
			goto out;
		/* What landed before the caller's step took effect. */
		rc = catch_up(&sb, 0);
	}
	if (!rc && db_on(&sb)) {
		struct rv_dbtgt_point dp;

		if (!sb.db.ops->follow_at(sb.db.h, &dp)) {
			rc = rv_error(RV_EFAIL, "the database holds no point after the catch-up");
			goto out;
		}
		/* Ghost owns the database from now on. */
		if ((rc = sb.db.ops->promote(sb.db.h)))
			goto out;
		out->has_db = true;
		memcpy(out->db_gen, dp.gen, RV_GEN_ID_LEN);
		out->db_pos = dp.pos;
	}
	if (!rc)
		where(&sb, out);
out:
	standby_close(&sb);
	return rc;
}

int rv_standby_health(bool ready, double lag, char *why, size_t n)
{
	if (!ready) {
		snprintf(why, n, "standby has not restored the latest point yet");
		return -1;
	}
	if (lag > HEALTHY_LAG_S) {
		snprintf(why, n, "standby is %.0f s behind the store", lag);
		return -1;
	}
	return 0;
}
