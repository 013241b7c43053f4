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
 * applied, the file is moved to the log's `db=` position by writing the
 * segments between in place, so folder and database always sit at one
 * point.  Writing in place is not atomic, so a state file next to the
 * database says where it is and whether it is consistent: "clean" only
 * after the file was fsynced at a segment boundary, "applying" before the
 * first byte changes.  A standby killed mid-apply finds "applying" and
 * restores the database whole (snapshot + segments into a temporary file
 * renamed over it); so does one that finds no state, a file changed by
 * someone else, another generation or anything it does not expect. */
#include "content/restore.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/testpoint.h"
#include "core/util.h"
#include "db/sqlite/sqlite.h"
#include "store/store.h"
#include "engine/lease.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* A failure that repeats is logged again only after this long. */
#define REPEAT_LOG_MS 30000
/* With no new log for this long, look for a gap that the regular LIST
 * cannot show (the missing log was the last of its 256-block, or only a
 * manifest lies past it). */
#define GAP_CHECK_MS 10000
/* A state file is a few hundred bytes. */
#define STATE_MAX 4096
/* Catch-up rounds of --promote-once after the first restore. */
#define PROMOTE_ROUNDS 16

struct file_id {
	uint64_t dev, ino, size;
	int64_t mtime_ns;
};

/* The database side; only touched by the standby's thread. */
struct dbside {
	const char *path; /* NULL: content only */
	char *state_path, *dir, *tmp;
	bool have; /* the file is consistent at (gen, pos) and the state says so */
	char gen[RV_GEN_ID_LEN];
	uint64_t pos;
	int64_t time_ms;
	struct file_id id; /* the file as last written by the standby */
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
	int lock_fd; /* holds the database folder's flock */
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

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd == -1 || fsync(fd) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "fsync folder '%s'", dir);
	if (fd != -1)
		close(fd);
	return rc;
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

/* ---- the database's state file ------------------------------------------ */

static void id_of(struct file_id *id, const struct stat *st)
{
	id->dev = (uint64_t)st->st_dev;
	id->ino = (uint64_t)st->st_ino;
	id->size = (uint64_t)st->st_size;
	id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static bool id_same(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns;
}

/* Temporary file, fsync, rename, fsync the folder: the state is always
 * one whole version. */
static int state_write(struct dbside *db, bool clean)
{
	char *tmp = rv_asprintf("%s.tmp", db->state_path);
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:I, s:I, s:I}", "format",
			      "revenant-standby-db", "version", "1.0", "generation", db->gen, "pos",
			      (json_int_t)db->pos, "time_ms", (json_int_t)db->time_ms, "clean",
			      clean, "ino", (json_int_t)db->id.ino, "size", (json_int_t)db->id.size,
			      "mtime_ns", (json_int_t)db->id.mtime_ns);
	char *text = j ? json_dumps(j, JSON_SORT_KEYS) : NULL;
	int fd = -1, rc = 0;

	if (!text) {
		rc = rv_error(RV_EFAIL, "cannot encode the standby state");
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1 || rv_write_all(fd, text, strlen(text)) || rv_write_all(fd, "\n", 1) ||
	    fsync(fd) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "write standby state '%s'", tmp);
	if (fd != -1)
		close(fd);
	if (!rc && rename(tmp, db->state_path) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "rename '%s' to '%s'", tmp, db->state_path);
	if (!rc)
		rc = sync_dir(db->dir);
	if (rc)
		unlink(tmp);
out:
	free(text);
	json_decref(j);
	free(tmp);
	return rc;
}

/* Whether the state file vouches for the file as it is now; `why` says
 * why not. */
static bool state_load(struct dbside *db, const char **why)
{
	char *text = NULL;
	size_t len;
	json_t *j = NULL;
	const char *gen = NULL;
	json_int_t pos = -1, tms = 0, ino = 0, size = 0, mt = 0;
	int clean = 0;
	struct stat st;
	struct file_id now;
	bool ok = false;

	if (rv_read_file(db->state_path, STATE_MAX, &text, &len)) {
		rv_error_clear();
		*why = "no standby state next to the database";
		return false;
	}
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (!j ||
	    json_unpack(j, "{s:s, s:I, s:I, s:b, s:I, s:I, s:I}", "generation", &gen, "pos", &pos,
			"time_ms", &tms, "clean", &clean, "ino", &ino, "size", &size, "mtime_ns",
			&mt) ||
	    rv_gen_id_check(gen) || pos < 0) {
		rv_error_clear();
		*why = "the standby state is unreadable";
	} else if (!clean) {
		*why = "the standby was stopped while it wrote the database";
	} else if (lstat(db->path, &st) == -1) {
		*why = "the database file is missing";
	} else {
		id_of(&now, &st);
		db->id = (struct file_id){now.dev, (uint64_t)ino, (uint64_t)size, mt};
		if (!id_same(&now, &db->id)) {
			*why = "the database file was changed by another process";
		} else {
			memcpy(db->gen, gen, RV_GEN_ID_LEN);
			db->pos = (uint64_t)pos;
			db->time_ms = tms;
			ok = true;
		}
	}
	json_decref(j);
	free(text);
	return ok;
}

/* SQLite's side files belong to a process that had the database open
 * (Ghost, before this host became a standby).  A stale -wal would be
 * replayed over the pages written here, a hot -journal rolled back into
 * them: both go before the standby writes. */
static int remove_side_files(struct dbside *db)
{
	static const char *const sfx[] = {"-wal", "-shm", "-journal"};
	int rc = 0;

	for (size_t i = 0; !rc && i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		char *p = rv_asprintf("%s%s", db->path, sfx[i]);
		struct stat st;

		if (lstat(p, &st) == 0) {
			rv_log(RV_LOG_WARN,
			       "removing a SQLite side file left by another process; Ghost must "
			       "not run on the standby's database",
			       "path", p, NULL);
			if (unlink(p) == -1 && errno != ENOENT)
				rc = rv_error_errno(RV_EFAIL, errno, "remove '%s'", p);
		}
		free(p);
	}
	return rc;
}

static int db_init(struct dbside *db, const char *path)
{
	char *d = rv_strdup(path);
	const char *why = NULL;
	char n[24];

	db->path = path;
	db->dir = rv_strdup(dirname(d));
	free(d);
	db->state_path = rv_asprintf("%s.revenant-standby", path);
	db->tmp = rv_asprintf("%s.revenant-standby-new", path);
	db->have = state_load(db, &why);
	if (db->have) {
		pos_str(n, db->pos);
		rv_log(RV_LOG_INFO, "standby database state is clean: resuming", "db", path,
		       "generation", db->gen, "position", n, NULL);
	} else {
		rv_log(RV_LOG_INFO, "standby database will be restored whole", "db", path, "reason",
		       why, NULL);
	}
	return remove_side_files(db);
}

static void db_release(struct dbside *db)
{
	free(db->state_path);
	free(db->dir);
	free(db->tmp);
}

/* Snapshot + segments into a temporary file, renamed over the database. */
static int db_full(struct standby *sb, const char *gen, uint64_t pos, const char *why)
{
	struct dbside *db = &sb->db;
	struct rv_sqlite_restore_opts ro = {
	    .gen = gen, .pos = pos, .out = db->tmp, .tmpdir = db->dir};
	struct rv_sqlite_restore_result res;
	struct stat st;
	char n[24];
	int rc;

	pos_str(n, pos);
	rv_log(RV_LOG_INFO, "standby restores the database whole", "db", db->path, "generation",
	       gen, "position", n, "reason", why, NULL);
	if (unlink(db->tmp) == -1 && errno != ENOENT)
		return rv_error_errno(RV_EFAIL, errno, "remove '%s'", db->tmp);
	if ((rc = rv_sqlite_restore(sb->s, &ro, &res)))
		return rc;
	db->have = false;
	if ((rc = remove_side_files(db)) || (rc = state_write(db, false)))
		goto fail;
	if (rename(db->tmp, db->path) == -1) {
		rc = rv_error_errno(RV_EFAIL, errno, "rename '%s' to '%s'", db->tmp, db->path);
		goto fail;
	}
	if ((rc = sync_dir(db->dir)))
		return rc;
	if (lstat(db->path, &st) == -1)
		return rv_error_errno(RV_EFAIL, errno, "stat '%s'", db->path);
	id_of(&db->id, &st);
	memcpy(db->gen, gen, RV_GEN_ID_LEN);
	db->pos = res.pos;
	db->time_ms = res.time_ms;
	if ((rc = state_write(db, true)))
		return rc;
	db->have = true;
	return 0;
fail:
	unlink(db->tmp);
	return rc;
}

/* Fetch (verified), mark "applying", write, fsync, mark "clean" at the
 * boundary reached; repeated until `pos`. */
static int db_forward(struct standby *sb, uint64_t pos)
{
	struct dbside *db = &sb->db;
	int rc = 0;

	while (!rc && db->pos < pos) {
		struct rv_sqlite_segs *g = NULL;
		struct stat st;
		int fd;

		if ((rc = rv_sqlite_segs_fetch(&g, sb->s, db->gen, db->pos, pos, 0, db->dir)))
			return rc;
		fd = open(db->path, O_RDWR | O_CLOEXEC);
		if (fd == -1) {
			rv_sqlite_segs_free(g);
			return rv_error_errno(RV_EFAIL, errno, "open '%s'", db->path);
		}
		db->have = false;
		if (!(rc = state_write(db, false))) {
			rv_testpoint("standby.forward");
			rc = rv_sqlite_segs_apply(g, fd);
		}
		if (!rc && fsync(fd) == -1)
			rc = rv_error_errno(RV_EFAIL, errno, "fsync '%s'", db->path);
		if (!rc && fstat(fd, &st) == -1)
			rc = rv_error_errno(RV_EFAIL, errno, "stat '%s'", db->path);
		close(fd);
		if (!rc) {
			id_of(&db->id, &st);
			db->pos = rv_sqlite_segs_end(g);
			db->time_ms = rv_sqlite_segs_time(g);
			rc = state_write(db, true);
		}
		if (!rc)
			db->have = true;
		rv_sqlite_segs_free(g);
	}
	return rc;
}

/* Bring the database to (gen, pos): forward in place when it is clean in
 * that generation and not past it, whole otherwise. */
static int db_goto(struct standby *sb, const char *gen, uint64_t pos)
{
	struct dbside *db = &sb->db;
	struct stat st;
	struct file_id now;
	int rc;

	if (!db->have)
		return db_full(sb, gen, pos, "no consistent database yet");
	if (strcmp(db->gen, gen))
		return db_full(sb, gen, pos, "new generation");
	if (pos < db->pos)
		return db_full(sb, gen, pos, "the point is before the database's position");
	if (lstat(db->path, &st) == -1)
		return db_full(sb, gen, pos, "the database file is missing");
	id_of(&now, &st);
	if (!id_same(&now, &db->id))
		return db_full(sb, gen, pos, "the database file was changed by another process");
	if (pos == db->pos)
		return 0;
	if ((rc = remove_side_files(db)))
		return rc;
	rc = db_forward(sb, pos);
	if (rc == RV_ECORRUPT || rc == RV_ENOTFOUND) {
		/* A lost or damaged segment: a newer snapshot may still cover
		 * the point. */
		rv_log(RV_LOG_WARN, "standby cannot move the database forward", "error",
		       rv_errmsg(), NULL);
		return db_full(sb, gen, pos, "segments missing or damaged");
	}
	return rc;
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
	if (sb->db.path && !(rc = point_db(sb, &p, &has_db, dbgen, &dbpos)))
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
	uint64_t want = sb->seq + 1;
	size_t cap = 0;
	int rc = 0;

	*gap = false;
	for (;;) {
		/* 14 of the 16 hex digits: one prefix covers 256 sequences. */
		char *prefix = rv_content_log_block_prefix(sb->gen, want);
		struct rv_keylist kv = {0};
		bool stop = false;

		rc = rv_store_list_keys(sb->s, prefix, &kv);
		free(prefix);
		if (!rc && !kv.n)
			stop = true;
		for (size_t i = 0; !rc && !stop && i < kv.n; i++) {
			uint64_t seq;
			int64_t ms;

			if ((rc = rv_content_key_parse(kv.v[i], &seq, &ms)))
				break;
			if (seq < want)
				continue;
			if (seq > want) {
				*gap = true;
				sb->gap_next = seq;
				stop = true;
				break;
			}
			if (*nlogs == cap) {
				cap = cap ? cap * 2 : 64;
				*logs = rv_realloc(*logs, cap * sizeof(**logs));
			}
			(*logs)[*nlogs] = (struct rv_restore_obj){rv_strdup(kv.v[i]), {0}, seq, ms};
			memcpy((*logs)[*nlogs].gen, sb->gen, RV_GEN_ID_LEN);
			(*nlogs)++;
			want++;
		}
		rv_keylist_release(&kv);
		if (rc || stop || (want & 0xff))
			break;
	}
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

	if (!sb->db.path || !h->has_db)
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

/* One standby (or promote) per database: two would interleave their
 * writes and their state files.  The content folder is locked by
 * rv_apply_open; the database's folder is locked here the same way (flock
 * on the folder itself: no lock file left behind, and the kernel lets go
 * however the process dies) unless it is that same folder. */
static int standby_lock_db(struct standby *sb, const char *dir, const char *db_path)
{
	char *d = rv_strdup(db_path);
	const char *ddir = dirname(d);
	struct stat a, b;
	int rc;

	/* A fresh DR host has no content/data yet: made like --to. */
	if ((rc = rv_apply_mkdirs(ddir))) {
		free(d);
		return rc;
	}
	sb->lock_fd = open(ddir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sb->lock_fd == -1 || fstat(sb->lock_fd, &b) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "open the database folder '%s'", ddir);
	else if (stat(dir, &a) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		; /* already held by the folder's own lock */
	else if (flock(sb->lock_fd, LOCK_EX | LOCK_NB) == -1)
		rc = errno == EWOULDBLOCK
			 ? rv_error(RV_EPRECOND,
				    "another revenant standby or promote is working on the "
				    "database folder '%s' — stop it first",
				    ddir)
			 : rv_error_errno(RV_EFAIL, errno, "lock '%s'", ddir);
	free(d);
	return rc;
}

static int standby_open(struct standby *sb, struct rv_store *s, const char *dir,
			const struct rv_standby_opts *o)
{
	struct rv_apply_opts ao = {.allow_outside_links = o->restore.allow_outside_links};
	int rc;

	memset(sb, 0, sizeof(*sb));
	sb->lock_fd = -1;
	sb->s = s;
	sb->o = o;
	sb->ro = o->restore;
	sb->ro.delete_extra = true;
	sb->ro.stop = stop_now;
	sb->ro.stop_ud = (void *)o;
	sb->progress_mono = sb->gap_check_mono = rv_mono_ms();
	if ((rc = rv_apply_open(&sb->a, s, dir, &ao)))
		return rc;
	if (o->db_path && !(rc = standby_lock_db(sb, dir, o->db_path)))
		rc = db_init(&sb->db, o->db_path);
	return rc;
}

static void standby_close(struct standby *sb)
{
	if (sb->lock_fd != -1)
		close(sb->lock_fd);
	free(sb->last_err);
	rv_apply_free(sb->a);
	db_release(&sb->db);
}

int rv_standby_run(struct rv_store *s, const char *dir, const struct rv_standby_opts *o)
{
	unsigned interval = o->interval_ms ? o->interval_ms : 1000;
	unsigned lag_log = o->lag_log_ms ? o->lag_log_ms : 30000;
	struct standby sb;
	int64_t last_lag_log = rv_mono_ms();
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
		if (o->applied && sb.have)
			o->applied(o->applied_ud, sb.gen, sb.seq, sb.commit_ms, lag,
				   sb.db.path && sb.db.have ? (int64_t)sb.db.pos : -1);
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
	for (int round = 0; !rc && round < PROMOTE_ROUNDS; round++) {
		size_t applied;

		if ((rc = follow(&sb, &applied)) || !applied)
			break;
	}
	if (!rc && o->db_path) {
		if ((rc = rv_sqlite_check(o->db_path)))
			goto out;
		/* Ghost owns the file from now on: no later standby may trust
		 * the state. */
		if (unlink(sb.db.state_path) == -1 && errno != ENOENT) {
			rc = rv_error_errno(RV_EFAIL, errno, "remove '%s'", sb.db.state_path);
			goto out;
		}
		if ((rc = sync_dir(sb.db.dir)))
			goto out;
		out->has_db = true;
		memcpy(out->db_gen, sb.db.gen, RV_GEN_ID_LEN);
		out->db_pos = sb.db.pos;
	}
	if (!rc) {
		memcpy(out->gen, sb.gen, RV_GEN_ID_LEN);
		out->seq = sb.seq;
		out->commit_ms = sb.commit_ms;
	}
out:
	standby_close(&sb);
	return rc;
}
