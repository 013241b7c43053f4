/* follow.c - SQLite as a database target (db/target.h): restore whole, and
 * a follower that keeps a database file at the store's latest point.
 *
 * The follower writes segments into the file in place, so that a folder
 * and its database always sit at one point.  Writing in place is not
 * atomic, so a state file next to the database (`<db>.revenant-standby`)
 * says where it is and whether it is consistent: "clean" only after the
 * file was fsynced at a segment boundary, "applying" before the first byte
 * changes.  A follower killed mid-apply finds "applying" and restores the
 * database whole (snapshot + segments into a temporary file renamed over
 * it); so does one that finds no state, a file changed by someone else,
 * another generation or anything it does not expect. */
#include "core/log.h"
#include "core/mem.h"
#include "core/testpoint.h"
#include "core/util.h"
#include "db/sqlite/sqlite.h"
#include "db/target.h"

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

#include <sqlite3.h>
#include <unistd.h>

/* A state file is a few hundred bytes. */
#define STATE_MAX 4096

struct file_id {
	uint64_t dev, ino, size;
	int64_t mtime_ns;
};

struct follower {
	struct rv_store *s;
	char *path, *state_path, *dir, *tmp;
	bool have; /* the file is consistent at (gen, pos) and the state says so */
	char gen[RV_GEN_ID_LEN];
	uint64_t pos;
	int64_t time_ms;
	struct file_id id; /* the file as last written here */
	int lock_fd;	   /* holds the database folder's flock */
};

static void pos_str(char out[24], uint64_t v)
{
	snprintf(out, 24, "%" PRIu64, v);
}

/* ---- restore ------------------------------------------------------------- */

static int sqlite_restore(struct rv_store *st, const struct rv_dbtgt_restore_opts *o,
			  struct rv_dbtgt_point *res)
{
	struct rv_sqlite_restore_opts so = {
	    .gen = o->gen,
	    .pos = o->pos == RV_DBTGT_POS_LATEST ? RV_SQLITE_POS_LATEST : o->pos,
	    .at_ms = o->at_ms,
	    .out = o->out,
	    .tmpdir = o->tmpdir,
	    .jobs = o->jobs,
	    .no_sync = o->no_sync,
	};
	struct rv_sqlite_restore_result r;
	int rc;

	memset(res, 0, sizeof(*res));
	if ((rc = rv_sqlite_restore(st, &so, &r)))
		return rc;
	memcpy(res->gen, o->gen, RV_GEN_ID_LEN);
	res->pos = r.pos;
	res->time_ms = r.time_ms;
	res->segments = r.segments;
	return 0;
}

/* ---- the state file ------------------------------------------------------ */

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
static int state_write(struct follower *db, bool clean)
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
		rc = rv_fsync_dir(db->dir);
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
static bool state_load(struct follower *db, const char **why)
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
static int remove_side_files(struct follower *db)
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

/* Snapshot + segments into a temporary file, renamed over the database. */
static int db_full(struct follower *db, const char *gen, uint64_t pos, const char *why)
{
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
	if ((rc = rv_sqlite_restore(db->s, &ro, &res)))
		return rc;
	db->have = false;
	if ((rc = remove_side_files(db)) || (rc = state_write(db, false)))
		goto fail;
	if (rename(db->tmp, db->path) == -1) {
		rc = rv_error_errno(RV_EFAIL, errno, "rename '%s' to '%s'", db->tmp, db->path);
		goto fail;
	}
	if ((rc = rv_fsync_dir(db->dir)))
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
static int db_forward(struct follower *db, uint64_t pos)
{
	int rc = 0;

	while (!rc && db->pos < pos) {
		struct rv_sqlite_segs *g = NULL;
		struct stat st;
		int fd;

		if ((rc = rv_sqlite_segs_fetch(&g, db->s, db->gen, db->pos, pos, 0, db->dir)))
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
 * that generation and not past it, whole otherwise (target.h). */
static int follow_go(void *h, const char *gen, uint64_t pos)
{
	struct follower *db = h;
	struct stat st;
	struct file_id now;
	int rc;

	if (!db->have)
		return db_full(db, gen, pos, "no consistent database yet");
	if (strcmp(db->gen, gen))
		return db_full(db, gen, pos, "new generation");
	if (pos < db->pos)
		return db_full(db, gen, pos, "the point is before the database's position");
	if (lstat(db->path, &st) == -1)
		return db_full(db, gen, pos, "the database file is missing");
	id_of(&now, &st);
	if (!id_same(&now, &db->id))
		return db_full(db, gen, pos, "the database file was changed by another process");
	if (pos == db->pos)
		return 0;
	if ((rc = remove_side_files(db)))
		return rc;
	rc = db_forward(db, pos);
	if (rc == RV_ECORRUPT || rc == RV_ENOTFOUND) {
		/* A lost or damaged segment: a newer snapshot may still cover
		 * the point. */
		rv_log(RV_LOG_WARN, "standby cannot move the database forward", "error",
		       rv_errmsg(), NULL);
		return db_full(db, gen, pos, "segments missing or damaged");
	}
	return rc;
}

/* ---- the follower -------------------------------------------------------- */

/* One follower (standby or promote) per database: two would interleave
 * their writes and their state files.  The database's folder is locked
 * with flock on the folder itself (no lock file left behind, and the
 * kernel lets go however the process dies), unless the caller holds that
 * folder locked already. */
static int lock_folder(struct follower *db, const char *locked_dir)
{
	struct stat a, b;
	int rc;

	/* A fresh DR host has no content/data yet: made like --to. */
	if ((rc = rv_mkdirs(db->dir)))
		return rc;
	db->lock_fd = open(db->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (db->lock_fd == -1 || fstat(db->lock_fd, &b) == -1)
		return rv_error_errno(RV_EFAIL, errno, "open the database folder '%s'", db->dir);
	if (locked_dir && stat(locked_dir, &a) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return 0; /* already held by the caller's lock */
	if (flock(db->lock_fd, LOCK_EX | LOCK_NB) == -1)
		return errno == EWOULDBLOCK
			   ? rv_error(RV_EPRECOND,
				      "another revenant standby or promote is working on the "
				      "database folder '%s' — stop it first",
				      db->dir)
			   : rv_error_errno(RV_EFAIL, errno, "lock '%s'", db->dir);
	return 0;
}

static void follow_close(void *h)
{
	struct follower *db = h;

	if (!db)
		return;
	if (db->lock_fd != -1)
		close(db->lock_fd);
	free(db->path);
	free(db->state_path);
	free(db->dir);
	free(db->tmp);
	free(db);
}

/* The follower's state file: next to the database it vouches for. */
static char *state_path_of(const char *db)
{
	return rv_asprintf("%s.revenant-standby", db);
}

static int follow_open(void **h, struct rv_store *st, const struct rv_dbtgt_follow_opts *o)
{
	struct follower *db = rv_calloc(1, sizeof(*db));
	char *d = rv_strdup(o->target);
	const char *why = NULL;
	char n[24];
	int rc;

	*h = NULL;
	db->s = st;
	db->lock_fd = -1;
	db->path = rv_strdup(o->target);
	db->dir = rv_strdup(dirname(d));
	free(d);
	db->state_path = state_path_of(db->path);
	db->tmp = rv_asprintf("%s.revenant-standby-new", db->path);
	if ((rc = lock_folder(db, o->locked_dir))) {
		follow_close(db);
		return rc;
	}
	db->have = state_load(db, &why);
	if (db->have) {
		pos_str(n, db->pos);
		rv_log(RV_LOG_INFO, "standby database state is clean: resuming", "db", db->path,
		       "generation", db->gen, "position", n, NULL);
	} else {
		rv_log(RV_LOG_INFO, "standby database will be restored whole", "db", db->path,
		       "reason", why, NULL);
	}
	if ((rc = remove_side_files(db))) {
		follow_close(db);
		return rc;
	}
	*h = db;
	return 0;
}

static bool follow_at(const void *h, struct rv_dbtgt_point *p)
{
	const struct follower *db = h;

	memset(p, 0, sizeof(*p));
	if (!db->have)
		return false;
	memcpy(p->gen, db->gen, RV_GEN_ID_LEN);
	p->pos = db->pos;
	p->time_ms = db->time_ms;
	return true;
}

/* Ghost owns the file from now on: no later standby may trust the state. */
static int promote(void *h)
{
	struct follower *db = h;
	int rc;

	if ((rc = rv_sqlite_check(db->path)))
		return rc;
	db->have = false;
	if (unlink(db->state_path) == -1 && errno != ENOENT)
		return rv_error_errno(RV_EFAIL, errno, "remove '%s'", db->state_path);
	return rv_fsync_dir(db->dir);
}

static bool is_ghosts(const struct rv_dbtgt_follow_opts *o)
{
	char *state = state_path_of(o->target);
	struct stat b;
	bool ghosts = stat(o->target, &b) == 0 && stat(state, &b) == -1 && errno == ENOENT;

	free(state);
	return ghosts;
}

static bool exists(const struct rv_dbtgt_follow_opts *o)
{
	return access(o->target, F_OK) == 0 || errno != ENOENT; /* not ours to wait out */
}

/* SQLite's online backup into `dir`: consistent while Ghost may still
 * write. */
static int save_aside(const struct rv_dbtgt_follow_opts *o, const char *dir, const char *stamp,
		      char *where, size_t n)
{
	const char *target = o->target;
	char *d = rv_strdup(target), *dest = rv_asprintf("%s/%s", dir, basename(d));
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b;
	int rc = RV_OK, e;

	(void)stamp;
	free(d);
	snprintf(where, n, "%s", dest);

	if (sqlite3_open_v2(target, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = rv_error(RV_EFAIL, "open '%s' to save it aside: %s", target,
			      src ? sqlite3_errmsg(src) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(src, 5000);
	if (sqlite3_open_v2(dest, &dst,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE,
			    NULL) != SQLITE_OK) {
		rc = rv_error(RV_EFAIL, "create '%s': %s", dest,
			      dst ? sqlite3_errmsg(dst) : "out of memory");
		goto out;
	}
	if (!(b = sqlite3_backup_init(dst, "main", src, "main"))) {
		rc = rv_error(RV_EFAIL, "save '%s' aside: %s", target, sqlite3_errmsg(dst));
		goto out;
	}
	e = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (e != SQLITE_DONE)
		rc = rv_error(RV_EFAIL, "save '%s' aside to '%s': %s", target, dest,
			      sqlite3_errstr(e));
out:
	sqlite3_close(src);
	sqlite3_close(dst);
	free(dest);
	return rc;
}

const struct rv_dbtgt_ops rv_dbtgt_sqlite = {
    .name = "sqlite",
    .restore = sqlite_restore,
    .restore_size = rv_sqlite_restore_size,
    .inspect = rv_sqlite_inspect,
    .follow_open = follow_open,
    .follow_close = follow_close,
    .follow_at = follow_at,
    .follow_go = follow_go,
    .is_ghosts = is_ghosts,
    .exists = exists,
    .save_aside = save_aside,
    .promote = promote,
};
