/* shipper.c - the SQLite shipper: WAL control, log segments, snapshots
 * (see sqlite.h for the protocol and why it loses no frame). */
#include "db/sqlite/sqlite.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "format/dbobj.h"
#include "db/sqlite/wal.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where we stand in the WAL. */
struct follow {
	bool have_hdr; /* hdr/cur describe a WAL incarnation we follow */
	struct rv_wal_hdr hdr;
	struct rv_wal_cursor cur;
};

struct rv_sqlite {
	sqlite3 *w;  /* checkpoints; reads SQLite's wal-index header */
	sqlite3 *r;  /* the long read transaction */
	sqlite3 *r2; /* the next one, while frames are copied (leapfrog, pin) */
	bool exact;  /* `r`'s view ends exactly at the copied end (snapshots need it) */
	/* `r` began on a WAL copied completely into the database file: while
	 * it lives nothing may be copied into that file (a checkpoint stops at
	 * the oldest reader's view), so the file itself is the snapshot. */
	bool frozen;
	bool ckpt_full; /* the last checkpoint copied every frame of the WAL */
	uint64_t moves; /* times `r` was replaced */
	char *db_path, *wal_path, *tmpdir;
	char gen[RV_GEN_ID_LEN];
	uint64_t checkpoint_bytes;
	dev_t dev;
	ino_t ino;

	struct follow f;  /* committed only once the frames read are spooled */
	uint64_t pos;	  /* frames uploaded */
	uint64_t spooled; /* frames copied (uploaded or pending) */
	bool broken;
	char reason[200];

	int pend_fd; /* a finished segment not yet uploaded, or -1 */
	uint64_t pend_from, pend_to;
	int64_t pend_ms;
	unsigned char *frame; /* one WAL frame */
};

static int db_err(sqlite3 *db, const char *what, const char *path)
{
	int code = sqlite3_errcode(db);

	/* Busy is transient (the application held the write lock longer than
	 * busy_timeout): the caller retries at the next interval. */
	return rv_error(RV_EFAIL, "sqlite %s on '%s' failed: %s%s", what, path, sqlite3_errmsg(db),
			code == SQLITE_BUSY || code == SQLITE_LOCKED ? " (will retry)" : "");
}

static int exec(sqlite3 *db, const char *sql, const char *path)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(db, sql, path);
	return 0;
}

static int open_conn(sqlite3 **out, const char *path, int busy_ms)
{
	int rc = sqlite3_open_v2(path, out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK) {
		rc = rv_error(RV_EFAIL, "cannot open sqlite database '%s': %s", path,
			      *out ? sqlite3_errmsg(*out) : sqlite3_errstr(rc));
		sqlite3_close(*out);
		*out = NULL;
		return rc;
	}
	sqlite3_busy_timeout(*out, busy_ms);
	/* Our connections must never checkpoint on their own: only after a ship. */
	return exec(*out, "PRAGMA wal_autocheckpoint=0", path);
}

/* Start a read transaction; it must read a page to really hold a snapshot. */
static int read_begin_on(struct rv_sqlite *s, sqlite3 *c)
{
	int rc = exec(c, "BEGIN", s->db_path);

	if (!rc)
		rc = exec(c, "SELECT count(*) FROM sqlite_master", s->db_path);
	if (rc && !sqlite3_get_autocommit(c))
		sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int read_end_on(struct rv_sqlite *s, sqlite3 *c)
{
	return sqlite3_get_autocommit(c) ? 0 : exec(c, "COMMIT", s->db_path);
}

static int read_end(struct rv_sqlite *s)
{
	return read_end_on(s, s->r);
}

static int mark_broken(struct rv_sqlite *s, const char *reason)
{
	s->broken = true;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	rv_log(RV_LOG_WARN, "sqlite: new generation needed", "db", s->db_path, "reason", reason,
	       NULL);
	return rv_error(RV_EPRECOND,
			"sqlite replication of '%s' cannot continue its WAL chain: %s "
			"— a new generation (with a snapshot) is needed",
			s->db_path, reason);
}

static int spool_open(struct rv_sqlite *s, int *fd)
{
	*fd = open(s->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (*fd == -1)
		return rv_error_errno(RV_EFAIL, errno, "create a temporary file in '%s'",
				      s->tmpdir);
	return 0;
}

/* Read the WAL header; `*present` false when there is no complete header yet. */
static int wal_header(struct rv_sqlite *s, int fd, struct rv_wal_hdr *h, bool *present)
{
	unsigned char b[RV_WAL_HDR_SIZE];
	ssize_t n = pread(fd, b, sizeof(b), 0);

	if (n == -1)
		return rv_error_errno(RV_EFAIL, errno, "read '%s'", s->wal_path);
	*present = n == (ssize_t)sizeof(b);
	if (!*present)
		return 0;
	return rv_wal_hdr_parse(h, b, s->wal_path);
}

static int wal_open(struct rv_sqlite *s, int *fd)
{
	*fd = open(s->wal_path, O_RDONLY | O_CLOEXEC);
	if (*fd == -1 && errno != ENOENT)
		return rv_error_errno(RV_EFAIL, errno, "open '%s'", s->wal_path);
	return 0;
}

/* SQLite's own view of the WAL: the wal-index header in the shared memory
 * (the "-shm" file; "WAL-Index Format" in fileformat2.html).  Two copies
 * of a 48-byte header, then the checkpoint information; native byte order
 * except the salts, copied as bytes from the WAL header.  A writer
 * publishes a commit by writing the second copy, a memory barrier, then
 * the first; reading them in the other order, as SQLite's readers do, and
 * finding them equal means neither was half-written. */
#define SHM_HDR	     48
#define SHM_BACKFILL 96 /* frames already copied into the database file */

struct shm_view {
	unsigned char hdr[SHM_HDR];
	uint32_t mx_frame; /* the last committed frame: a new reader's view ends there */
	uint32_t backfill;
	uint32_t salt1, salt2; /* the WAL incarnation */
};

/* `*stable` false when a writer was publishing a commit just then. */
static int shm_read(struct rv_sqlite *s, struct shm_view *v, bool *stable)
{
	sqlite3_file *f = NULL;
	void volatile *map = NULL;
	const volatile unsigned char *b;
	unsigned char h2[SHM_HDR], w[4];

	*stable = false;
	/* Through SQLite's own handle: the mapping it uses, and no open() or
	 * close() of ours that could drop the process's POSIX locks. */
	if (sqlite3_file_control(s->w, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f ||
	    !f->pMethods || f->pMethods->iVersion < 2 || !f->pMethods->xShmMap ||
	    f->pMethods->xShmMap(f, 0, 32768, 0, &map) != SQLITE_OK || !map)
		return rv_error(RV_EFAIL,
				"sqlite '%s': cannot read the WAL index (is the database in "
				"exclusive locking mode?)",
				s->db_path);
	b = map;
	for (size_t i = 0; i < SHM_HDR; i++)
		v->hdr[i] = b[i];
	f->pMethods->xShmBarrier(f);
	for (size_t i = 0; i < SHM_HDR; i++)
		h2[i] = b[SHM_HDR + i];
	for (size_t i = 0; i < 4; i++)
		w[i] = b[SHM_BACKFILL + i];
	memcpy(&v->backfill, w, 4);
	memcpy(&v->mx_frame, v->hdr + 16, 4);
	v->salt1 = (uint32_t)v->hdr[32] << 24 | (uint32_t)v->hdr[33] << 16 |
		   (uint32_t)v->hdr[34] << 8 | v->hdr[35];
	v->salt2 = (uint32_t)v->hdr[36] << 24 | (uint32_t)v->hdr[37] << 16 |
		   (uint32_t)v->hdr[38] << 8 | v->hdr[39];
	/* Byte 12: the header is initialised. */
	*stable = memcmp(v->hdr, h2, SHM_HDR) == 0 && v->hdr[12] == 1;
	return 0;
}

/* shm_read() until no commit is being published (`*ok`), a moment at most. */
static int shm_settled(struct rv_sqlite *s, struct shm_view *v, bool *ok)
{
	int rc = shm_read(s, v, ok);

	for (int i = 0; !rc && !*ok && i < 100; i++) {
		usleep(50);
		rc = shm_read(s, v, ok);
	}
	return rc;
}

/* Follow the WAL from `f` to its last commit frame and append the new
 * frames, raw, to `raw_fd` (-1: only move).  `f` is the caller's copy;
 * `*nframes` gets the frames appended, `*wal_bytes` the WAL's valid length.
 * `lim` (may be NULL): SQLite's wal-index header, read after the caller's
 * read transaction began; in its incarnation nothing past its last frame
 * is taken.  A commit frame is in the file before SQLite publishes it, and
 * one whose writer died in between (kill -9 during the commit's fsync) is
 * not committed at all: the next writer overwrites it.  Shipping it would
 * put a transaction Ghost saw fail into the backup, and leave the cursor
 * on a chain that no longer continues. */
static int follow_wal(struct rv_sqlite *s, struct follow *f, int raw_fd, uint64_t *nframes,
		      uint64_t *wal_bytes, const struct shm_view *lim)
{
	int fd, rc = 0;
	struct rv_wal_hdr h;
	struct rv_wal_cursor end;
	bool present;
	char why[160];
	size_t fsz;

	*nframes = 0;
	*wal_bytes = 0;
	rc = wal_open(s, &fd);
	if (rc)
		return rc;
	if (fd == -1) {
		if (f->have_hdr && f->cur.frame > 0)
			return mark_broken(s, "the WAL file disappeared");
		return 0;
	}
	rc = wal_header(s, fd, &h, &present);
	if (rc || !present)
		goto out;
	if (!f->have_hdr) {
		/* The first WAL we see: follow it from its start. */
		f->hdr = h;
		f->cur = (struct rv_wal_cursor){0, {h.ck1, h.ck2}};
		f->have_hdr = true;
	} else if (h.salt1 != f->hdr.salt1 || h.salt2 != f->hdr.salt2) {
		/* A restart.  Our read transaction lets SQLite rewind the WAL only
		 * once, and only when every frame in it was already shipped.  A
		 * rewind adds one to salt-1 (kept in the shared WAL index); the
		 * checkpoint sequence is not usable here: each connection keeps
		 * its own count (a freshly opened one writes 1).  Other salts mean
		 * a WAL that was emptied and started anew by a connection that
		 * never rewound it: not provably continuous, so a new generation. */
		if (h.salt1 != f->hdr.salt1 + 1) {
			snprintf(why, sizeof(why),
				 "the WAL was started anew behind our back (salt %08" PRIx32
				 " -> %08" PRIx32 ", checkpoint sequence %" PRIu32 " -> %" PRIu32
				 ")",
				 f->hdr.salt1, h.salt1, f->hdr.ckpt_seq, h.ckpt_seq);
			rc = mark_broken(s, why);
			goto out;
		}
		f->hdr = h;
		f->cur = (struct rv_wal_cursor){0, {h.ck1, h.ck2}};
	} else if (h.page_size != f->hdr.page_size) {
		rc = mark_broken(s, "the WAL page size changed");
		goto out;
	}
	rc = rv_wal_scan_to(fd, &f->hdr, &f->cur,
			    lim && lim->salt1 == f->hdr.salt1 && lim->salt2 == f->hdr.salt2
				? lim->mx_frame
				: UINT32_MAX,
			    s->frame, &end, s->wal_path);
	if (rc)
		goto out;
	*wal_bytes = rv_wal_frame_off(&f->hdr, end.frame);
	fsz = RV_WAL_FRAME_HDR_SIZE + f->hdr.page_size;
	for (uint32_t i = f->cur.frame; raw_fd != -1 && i < end.frame; i++) {
		ssize_t n = pread(fd, s->frame, fsz, (off_t)rv_wal_frame_off(&f->hdr, i));

		if (n != (ssize_t)fsz) {
			rc = rv_error_errno(RV_EFAIL, n == -1 ? errno : EIO, "read '%s'",
					    s->wal_path);
			goto out;
		}
		if (rv_write_all(raw_fd, s->frame, fsz) != 0) {
			rc = rv_error_errno(RV_EFAIL, errno, "write a spool in '%s'", s->tmpdir);
			goto out;
		}
	}
	*nframes = end.frame - f->cur.frame;
	f->cur = end;
out:
	close(fd);
	return rc;
}

/* Compress the raw frames in `raw_fd` into the pending segment. */
static int seal_segment(struct rv_sqlite *s, const struct follow *f, int raw_fd, uint64_t nframes)
{
	struct rv_dbobj_writer *w = NULL;
	struct rv_dbobj_hdr oh = {.kind = RV_DBOBJ_LOG,
				  .from = s->spooled,
				  .to = s->spooled + nframes,
				  .time_ms = rv_now_ms(),
				  .page_size = f->hdr.page_size,
				  .count = nframes};
	size_t fsz = RV_WAL_FRAME_HDR_SIZE + f->hdr.page_size;
	int fd, rc;

	memcpy(oh.gen, s->gen, RV_GEN_ID_LEN);
	rc = spool_open(s, &fd);
	if (rc)
		return rc;
	rc = rv_dbobj_writer_new(&w, &oh, fd);
	for (uint64_t i = 0; !rc && i < nframes; i++) {
		ssize_t n = pread(raw_fd, s->frame, fsz, (off_t)(i * fsz));

		if (n != (ssize_t)fsz)
			rc = rv_error_errno(RV_EFAIL, n == -1 ? errno : EIO, "read a spool in '%s'",
					    s->tmpdir);
		else
			rc = rv_dbobj_writer_add(w, s->frame, fsz);
	}
	if (!rc)
		rc = rv_dbobj_writer_finish(w);
	rv_dbobj_writer_free(w);
	if (rc) {
		close(fd);
		return rc;
	}
	s->pend_fd = fd;
	s->pend_from = oh.from;
	s->pend_to = oh.to;
	s->pend_ms = oh.time_ms;
	return 0;
}

static int check_file(struct rv_sqlite *s)
{
	struct stat st;

	if (stat(s->db_path, &st) == -1) {
		if (errno == ENOENT)
			return mark_broken(s, "the database file was removed");
		return rv_error_errno(RV_EFAIL, errno, "stat '%s'", s->db_path);
	}
	if (st.st_dev != s->dev || st.st_ino != s->ino) {
		/* Our connections keep the old file's WAL alive, and SQLite
		 * leaves the WAL of a moved database in place when they close:
		 * the new file would pick up the old file's frames.  A TRUNCATE
		 * checkpoint empties the WAL SQLite has open (the old one; a WAL
		 * someone moved in with the new file is another inode). */
		int nlog = 0, nck = 0;

		if (read_end(s) || sqlite3_wal_checkpoint_v2(s->w, NULL, SQLITE_CHECKPOINT_TRUNCATE,
							     &nlog, &nck) != SQLITE_OK)
			rv_log(RV_LOG_WARN,
			       "sqlite: could not empty the replaced database's WAL (another "
			       "process still uses the old file): stop Ghost before replacing "
			       "its database",
			       "db", s->db_path, "error", sqlite3_errmsg(s->w), NULL);
		return mark_broken(s, "the database file was replaced (inode changed)");
	}
	return 0;
}

static int checkpoint(struct rv_sqlite *s, bool *done)
{
	int nlog = 0, nck = 0;
	int rc = sqlite3_wal_checkpoint_v2(s->w, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nck);

	/* BUSY only means another reader held some frames back. */
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		return db_err(s->w, "wal_checkpoint(PASSIVE)", s->db_path);
	*done = rc == SQLITE_OK;
	s->ckpt_full = rc == SQLITE_OK && nlog >= 0 && nlog == nck;
	return 0;
}

/* The lock-free step (see sqlite.h, "leapfrog"): a second read transaction
 * begins, then every frame committed by now is copied, which includes all
 * the new transaction can see; only then does the old one end.  At every
 * moment one of ours exists whose view holds nothing unshipped, so SQLite
 * can neither rewind the WAL past unshipped frames nor (for a reader of the
 * database file alone) copy newer frames into it.  The new transaction's
 * view may end before the copied end, so `exact` is false (see pin()). */
static int leapfrog(struct rv_sqlite *s, struct follow *f, int raw_fd, uint64_t *nframes,
		    uint64_t *wal_bytes)
{
	sqlite3 *t;
	struct shm_view v;
	bool ok = false;
	int rc = read_begin_on(s, s->r2);

	*nframes = 0;
	if (!rc)
		rc = shm_settled(s, &v, &ok);
	if (!rc)
		rc = follow_wal(s, f, raw_fd, nframes, wal_bytes, ok ? &v : NULL);
	if (rc) {
		read_end_on(s, s->r2);
		return rc;
	}
	if (read_end(s))
		sqlite3_exec(s->r, "ROLLBACK", NULL, NULL, NULL);
	t = s->r;
	s->r = s->r2;
	s->r2 = t;
	s->moves++;
	s->exact = false;
	s->frozen = false;
	return 0;
}

/* Whether a view ending at `v` ends exactly where `f` has followed the WAL. */
static bool view_at(const struct follow *f, const struct shm_view *v)
{
	if (f->have_hdr && v->salt1 == f->hdr.salt1 && v->salt2 == f->hdr.salt2)
		return f->cur.frame == v->mx_frame;
	if (v->mx_frame != 0)
		return false;
	/* A view of no frame reads the database file alone.  Either there is
	 * no WAL yet, or SQLite has just rewound it (salt-1 + 1) and no frame
	 * of the new incarnation is written: the rewind needed every frame
	 * of the old one in the database file, and `f` followed that one to
	 * its end (it is all in the file: only new frames would overwrite
	 * it, and they would carry the new salts). */
	return !f->have_hdr || v->salt1 == f->hdr.salt1 + 1;
}

#define PIN_TRIES 50

/* Wait (at most `ms`) for the next commit to be published. */
static int wait_commit(struct rv_sqlite *s, int ms)
{
	struct shm_view a, b;
	bool sa = false, sb = false;
	int rc = shm_read(s, &a, &sa);

	for (int i = 0; !rc && i < ms * 5; i++) {
		usleep(200);
		rc = shm_read(s, &b, &sb);
		/* Bytes 8-11: a counter of transactions. */
		if (!rc && sb && (!sa || memcmp(a.hdr + 8, b.hdr + 8, 4) != 0))
			break;
	}
	return rc;
}

/* The exact step, also without any lock: a new read transaction whose
 * view ends exactly where the copied frames end.  SQLite's wal-index
 * header is read just before the transaction begins and just after; when
 * both reads agree, the transaction began on that very header (it is only
 * ever replaced by a newer one: one more commit, or new salts), so its
 * view ends at that header's last frame.  The WAL is followed after that;
 * when it ends there too, the new transaction replaces the old one.  A
 * commit in between makes it try again (the frames stay copied; the old
 * transaction, still inside them, keeps protecting them); after `tries`
 * the old one stays and `exact` is false.  The new transaction reads the
 * database file alone (`frozen`) when every frame of its view was already
 * in that file as it began: SQLite then gives it read-mark 0, or any mark
 * would do, since nothing past its view may be copied into the file while
 * it lives.  Ghost's transactions are untouched: a read transaction takes
 * no lock a writer waits for, and none changes the wal-index header, so no
 * reader of Ghost's sees its snapshot go stale because of us. */
static int pin(struct rv_sqlite *s, struct follow *f, int raw_fd, uint64_t *nframes,
	       uint64_t *wal_bytes, int tries)
{
	*nframes = 0;
	for (int t = 0; t < tries; t++) {
		struct shm_view a, b;
		bool sa = false, sb = false;
		uint64_t n = 0;
		sqlite3 *x;
		int rc = shm_read(s, &a, &sa);

		if (!rc)
			rc = read_begin_on(s, s->r2);
		if (!rc)
			rc = shm_read(s, &b, &sb);
		if (!rc && sa && sb && memcmp(a.hdr, b.hdr, SHM_HDR) == 0)
			rc = follow_wal(s, f, raw_fd, &n, wal_bytes, &b);
		else if (!rc)
			sa = false; /* a commit was published meanwhile: again */
		*nframes += n;
		if (rc) {
			read_end_on(s, s->r2);
			return rc;
		}
		if (sa && view_at(f, &a)) {
			if (read_end(s))
				sqlite3_exec(s->r, "ROLLBACK", NULL, NULL, NULL);
			x = s->r;
			s->r = s->r2;
			s->r2 = x;
			s->moves++;
			s->exact = true;
			/* The count only grows within an incarnation, up to the
			 * last frame; the header did not change: at the start it
			 * was still all of them. */
			s->frozen = a.backfill == a.mx_frame;
			return 0;
		}
		if (read_end_on(s, s->r2))
			sqlite3_exec(s->r2, "ROLLBACK", NULL, NULL, NULL);
		/* A commit is being published: let it finish. */
		usleep(t < 5 ? 200 : 1000);
	}
	/* `f` may have moved past the view of `r`: not exact any more. */
	s->exact = false;
	return 0;
}

/* Copy the new committed frames of the WAL to `raw_fd` (-1 at open: only
 * find the end) and move the read transaction to their end, never taking
 * the write lock (see sqlite.h).  Ghost never waits for us and never gets
 * SQLITE_BUSY because of us: the only things done to the database are
 * read transactions and PASSIVE checkpoints, neither of which takes the
 * write lock or invalidates a reader's snapshot.  `exact`: try harder to
 * end with the read transaction exactly at the copied end (a snapshot
 * needs it; `s->exact` says whether that worked). */
static int sync_wal(struct rv_sqlite *s, struct follow *f, int raw_fd, uint64_t *nframes,
		    bool *ckpt, bool exact)
{
	uint64_t n1 = 0, n2 = 0, wal_bytes = 0, moves;
	int rc, rounds, tries;
	struct shm_view v;
	bool ok = false;

	*nframes = 0;
	*ckpt = false;
	if (raw_fd == -1) {
		/* Position 0: at open there is no read transaction of ours yet,
		 * so the chain starts with the first exact one. */
		rc = pin(s, f, -1, &n1, &wal_bytes, 20 * PIN_TRIES);
		if (!rc && !s->exact)
			rc = rv_error(RV_EFAIL,
				      "sqlite '%s': no moment between two commits to start at "
				      "(will retry)",
				      s->db_path);
		return rc;
	}
	/* The bulk: a checkpoint can copy frames up to where the read
	 * transaction began (the previous ship's end). */
	rc = shm_settled(s, &v, &ok);
	if (!rc)
		rc = follow_wal(s, f, raw_fd, &n1, &wal_bytes, ok ? &v : NULL);
	if (!rc && (wal_bytes >= s->checkpoint_bytes || (exact && !s->frozen)))
		rc = checkpoint(s, ckpt);
	if (rc)
		return rc;
	/* Nothing committed since the last ship, and the read transaction
	 * is where it should be: nothing to move — except when the checkpoint
	 * just copied the whole WAL into the database: a read transaction
	 * begun now reads the database file alone, and once the old one ends
	 * the next writer rewinds the WAL. */
	*nframes = n1;
	if (n1 == 0 && s->exact && (s->frozen || !*ckpt || !s->ckpt_full))
		return 0;
	/* Move to the end; for a snapshot (and for a WAL past
	 * checkpoint_bytes) try to end up reading the database file alone:
	 * pin, checkpoint up to the pin, pin again.  That works when no
	 * commit came in between; under writes without a pause a try starts
	 * right after a commit, to have the whole gap to the next one.  Then
	 * the WAL stays small without anyone waiting for a lock, and a
	 * snapshot is the database file itself. */
	rounds = exact ? 4 : wal_bytes >= 16 * s->checkpoint_bytes ? 8 : 2;
	tries = exact ? PIN_TRIES : 3;
	moves = s->moves;
	rc = pin(s, f, raw_fd, &n2, &wal_bytes, tries);
	*nframes += n2;
	for (int round = 1; !rc && s->exact && !s->frozen && round <= rounds; round++) {
		if (!exact && wal_bytes < s->checkpoint_bytes)
			break;
		if (round > 1) {
			n2 = 0;
			rc = wait_commit(s, 20);
			if (!rc)
				rc = pin(s, f, raw_fd, &n2, &wal_bytes, tries);
			*nframes += n2;
			if (rc || !s->exact)
				break;
		}
		rc = checkpoint(s, ckpt);
		if (rc || !s->ckpt_full)
			continue;
		rc = pin(s, f, raw_fd, &n2, &wal_bytes, tries);
		*nframes += n2;
	}
	/* No gap between commits just now: the read transaction still has
	 * to move on, or checkpoints could not either. */
	if (!rc && !s->exact && !exact) {
		rc = leapfrog(s, f, raw_fd, &n2, &wal_bytes);
		*nframes += n2;
	}
	/* Once the read transaction has moved, the frames copied must be
	 * shipped whatever failed after that: it no longer protects them. */
	if (rc && !s->broken && s->moves != moves) {
		rv_log(RV_LOG_WARN, "sqlite: WAL step failed after the frames were copied; retried",
		       "db", s->db_path, "error", rv_errmsg(), NULL);
		rc = 0;
	}
	return rc;
}

static int upload_pending(struct rv_sqlite *s, struct rv_store *st, struct rv_sqlite_ship *res)
{
	char *key = rv_dbobj_log_key(s->gen, s->pend_from, s->pend_to, s->pend_ms);
	int rc = rv_store_put_fd(st, key, s->pend_fd, UINT64_MAX, NULL);

	if (!rc) {
		if (res) {
			res->from = s->pend_from;
			res->to = s->pend_to;
			res->time_ms = s->pend_ms;
			res->bytes = (s->pend_to - s->pend_from) *
				     (RV_WAL_FRAME_HDR_SIZE + (uint64_t)s->f.hdr.page_size);
			snprintf(res->key, sizeof(res->key), "%s", key);
		}
		s->pos = s->pend_to;
		close(s->pend_fd);
		s->pend_fd = -1;
	}
	free(key);
	return rc;
}

/* `exact`: end with the read transaction exactly at the shipped end (what
 * a snapshot needs), taking the write lock if it is not there already. */
static int ship(struct rv_sqlite *s, struct rv_store *st, struct rv_sqlite_ship *res, bool exact)
{
	struct follow f;
	uint64_t n = 0;
	int raw, rc;

	memset(res, 0, sizeof(*res));
	res->from = res->to = s->pos;
	if (s->pend_fd != -1) {
		rc = upload_pending(s, st, res);
		if (rc)
			return rc;
	}
	if (s->broken)
		goto broken;
	rc = check_file(s);
	if (rc)
		goto broken;
	rc = spool_open(s, &raw);
	if (rc)
		return rc;
	f = s->f;
	rc = sync_wal(s, &f, raw, &n, &res->checkpointed, exact);
	if (!rc && n && seal_segment(s, &f, raw, n)) {
		/* The read transaction has moved past these frames, so they may
		 * be gone from the WAL by the next call. */
		char why[200];

		snprintf(why, sizeof(why), "could not spool WAL frames: %s", rv_errmsg());
		rc = mark_broken(s, why);
	}
	close(raw);
	if (s->broken)
		goto broken;
	if (rc)
		return rc;
	/* The frames are in the pending segment: from here on a failed upload
	 * is retried with the same bytes, so the cursor can move. */
	s->f = f;
	s->spooled += n;
	if (n == 0)
		return 0;
	return upload_pending(s, st, res);
broken:
	res->new_generation = true;
	snprintf(res->reason, sizeof(res->reason), "%s", s->reason);
	return rv_error(RV_EPRECOND, "sqlite replication of '%s' needs a new generation: %s",
			s->db_path, s->reason);
}

int rv_sqlite_ship(struct rv_sqlite *s, struct rv_store *st, struct rv_sqlite_ship *res)
{
	return ship(s, st, res, false);
}

uint64_t rv_sqlite_pos(const struct rv_sqlite *s)
{
	return s->pos;
}

/* The database file itself as the snapshot source (s->frozen), read
 * through SQLite's own file handle: opening and closing the file ourselves
 * would drop every POSIX lock this process holds on it (SQLite's too), and
 * the next connection to close elsewhere would think itself the last one
 * and delete the WAL.  Whole pages, the size the header states; NULL when
 * anything does not fit (the caller copies with the backup API). */
static sqlite3_file *frozen_file(struct rv_sqlite *s, uint64_t *size)
{
	sqlite3_file *f = NULL;
	unsigned char h[100];
	sqlite3_int64 sz = 0;
	uint32_t psz, pages;

	if (sqlite3_file_control(s->r, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f ||
	    !f->pMethods || f->pMethods->xFileSize(f, &sz) != SQLITE_OK || sz < 100 ||
	    f->pMethods->xRead(f, h, sizeof(h), 0) != SQLITE_OK ||
	    memcmp(h, "SQLite format 3", 16) != 0)
		return NULL;
	psz = ((uint32_t)h[16] << 8) | h[17];
	if (psz == 1)
		psz = 65536;
	pages = ((uint32_t)h[28] << 24) | ((uint32_t)h[29] << 16) | ((uint32_t)h[30] << 8) | h[31];
	/* The header's size counts only when written by a version that
	 * keeps it (its "valid-for" equals the change counter). */
	if (psz < 512 || (uint64_t)sz % psz || memcmp(h + 24, h + 92, 4) != 0 ||
	    (uint64_t)pages * psz != (uint64_t)sz || (s->f.have_hdr && s->f.hdr.page_size != psz))
		return NULL;
	*size = (uint64_t)sz;
	return f;
}

int rv_sqlite_snapshot(struct rv_sqlite *s, struct rv_store *st, uint64_t *pos_out)
{
	struct rv_sqlite_ship sh;
	char *tmp = NULL, *key = NULL;
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	int rc, tfd = -1, sfd = -1;
	sqlite3_file *sf = NULL;
	uint64_t src_size = 0;
	struct rv_dbobj_writer *w = NULL;
	struct rv_dbobj_hdr oh = {.kind = RV_DBOBJ_SNAPSHOT};
	struct stat stt;

	rc = ship(s, st, &sh, true);
	if (rc)
		return rc;
	if (!s->exact)
		return rv_error(RV_EFAIL,
				"sqlite snapshot of '%s': the read transaction is not at "
				"the shipped end (retried at the next tick)",
				s->db_path);
	/* The read transaction now sits exactly at the shipped position. */
	if (s->frozen && (sf = frozen_file(s, &src_size)))
		goto pages;
	tmp = rv_asprintf("%s/.revenant-snapshot-%d-%" PRIx64 ".db", s->tmpdir, (int)getpid(),
			  (uint64_t)rv_mono_ms());
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		rc = db_err(dst, "open", tmp);
		goto out;
	}
	rc = exec(dst, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF", tmp);
	if (rc)
		goto out;
	b = sqlite3_backup_init(dst, "main", s->r, "main");
	if (!b) {
		rc = db_err(dst, "backup", tmp);
		goto out;
	}
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		rc = rv_error(RV_EFAIL, "sqlite backup of '%s' to '%s' failed: %s", s->db_path, tmp,
			      sqlite3_errstr(rc));
		goto out;
	}
	sqlite3_close(dst);
	dst = NULL;
	tfd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (tfd == -1 || fstat(tfd, &stt) == -1) {
		rc = rv_error_errno(RV_EFAIL, errno, "open '%s'", tmp);
		goto out;
	}
	unlink(tmp);
	src_size = (uint64_t)stt.st_size;
pages:
	memcpy(oh.gen, s->gen, RV_GEN_ID_LEN);
	oh.from = oh.to = s->pos;
	oh.time_ms = rv_now_ms();
	oh.page_size = s->f.hdr.page_size;
	if (!s->f.have_hdr) {
		sqlite3_stmt *q = NULL;

		if (sqlite3_prepare_v2(s->r, "PRAGMA page_size", -1, &q, NULL) == SQLITE_OK &&
		    sqlite3_step(q) == SQLITE_ROW)
			oh.page_size = (uint32_t)sqlite3_column_int(q, 0);
		sqlite3_finalize(q);
	}
	if (oh.page_size == 0 || src_size % oh.page_size) {
		rc = rv_error(RV_EFAIL, "snapshot source of '%s' is not whole pages", s->db_path);
		goto out;
	}
	oh.count = src_size / oh.page_size;
	rc = spool_open(s, &sfd);
	if (!rc)
		rc = rv_dbobj_writer_new(&w, &oh, sfd);
	for (uint64_t i = 0; !rc && i < oh.count; i++) {
		if (sf) {
			if (sf->pMethods->xRead(sf, s->frame, (int)oh.page_size,
						(sqlite3_int64)(i * oh.page_size)) != SQLITE_OK)
				rc = rv_error(RV_EFAIL, "read page %" PRIu64 " of '%s'", i + 1,
					      s->db_path);
		} else {
			ssize_t n = read(tfd, s->frame, oh.page_size);

			if (n != (ssize_t)oh.page_size)
				rc = rv_error_errno(RV_EFAIL, n == -1 ? errno : EIO,
						    "read the snapshot copy of '%s'", s->db_path);
		}
		if (!rc)
			rc = rv_dbobj_writer_add(w, s->frame, oh.page_size);
	}
	if (!rc)
		rc = rv_dbobj_writer_finish(w);
	if (rc)
		goto out;
	key = rv_dbobj_snapshot_key(s->gen, oh.from, oh.time_ms);
	rc = rv_store_put_fd(st, key, sfd, UINT64_MAX, NULL);
	if (!rc) {
		*pos_out = oh.from;
		rv_log(RV_LOG_INFO, "sqlite: snapshot written", "key", key, "source",
		       sf ? "database file" : "backup copy", NULL);
	}
out:
	rv_dbobj_writer_free(w);
	if (dst)
		sqlite3_close(dst);
	if (tfd != -1)
		close(tfd);
	if (sfd != -1)
		close(sfd);
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(key);
	return rc;
}

int rv_sqlite_open(struct rv_sqlite **out, const struct rv_sqlite_opts *o)
{
	struct rv_sqlite *s = rv_calloc(1, sizeof(*s));
	int busy = o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 5000;
	struct stat st;
	uint64_t n;
	bool ck;
	int rc;

	*out = NULL;
	s->pend_fd = -1;
	s->db_path = rv_strdup(o->db_path);
	s->wal_path = rv_asprintf("%s-wal", o->db_path);
	if (o->tmpdir) {
		s->tmpdir = rv_strdup(o->tmpdir);
	} else {
		char *d = rv_strdup(o->db_path);

		s->tmpdir = rv_strdup(dirname(d));
		free(d);
	}
	memcpy(s->gen, o->gen, RV_GEN_ID_LEN);
	s->checkpoint_bytes = o->checkpoint_bytes ? o->checkpoint_bytes : (4u << 20);
	s->frame = rv_malloc(RV_WAL_FRAME_HDR_SIZE + RV_WAL_MAX_PAGE);
	rc = rv_gen_id_check(o->gen);
	if (!rc && stat(o->db_path, &st) == -1)
		rc = rv_error_errno(errno == ENOENT ? RV_ENOTFOUND : RV_EFAIL, errno,
				    "sqlite database '%s'", o->db_path);
	if (rc)
		goto fail;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	rc = open_conn(&s->w, o->db_path, busy);
	if (!rc) {
		sqlite3_stmt *q = NULL;
		const unsigned char *mode = NULL;

		int64_t until = rv_mono_ms() + busy;
		int step;

		/* WAL is recorded in the database header, so it outlives us and every
		 * other connection (Ghost's) uses it from its next transaction on.
		 * The switch needs the database to itself; SQLite answers BUSY at
		 * once, without its busy handler, when another connection is
		 * writing: retried here for the busy timeout. */
		for (;;) {
			if (sqlite3_prepare_v2(s->w, "PRAGMA journal_mode=WAL", -1, &q, NULL) !=
			    SQLITE_OK)
				break;
			step = sqlite3_step(q);
			if (step == SQLITE_ROW) {
				mode = sqlite3_column_text(q, 0);
				break;
			}
			if ((step != SQLITE_BUSY && step != SQLITE_LOCKED) || rv_mono_ms() >= until)
				break;
			sqlite3_finalize(q);
			q = NULL;
			rv_sleep_ms(20);
		}
		if (!mode || strcmp((const char *)mode, "wal") != 0)
			rc = rv_error(
			    RV_EPRECOND,
			    "cannot switch sqlite database '%s' to WAL mode (%s) — another "
			    "process holds it inside a transaction or in exclusive mode; "
			    "retry, or stop it once",
			    o->db_path, mode ? (const char *)mode : sqlite3_errmsg(s->w));
		sqlite3_finalize(q);
	}
	if (!rc)
		rc = open_conn(&s->r, o->db_path, busy);
	if (!rc)
		rc = open_conn(&s->r2, o->db_path, busy);
	/* A read maps the WAL index that shm_read() looks at. */
	if (!rc)
		rc = exec(s->w, "SELECT count(*) FROM sqlite_master", o->db_path);
	/* Position 0: the current end of the WAL, with the read transaction
	 * pinned there. */
	if (!rc)
		rc = sync_wal(s, &s->f, -1, &n, &ck, true);
	if (rc)
		goto fail;
	rv_log(RV_LOG_INFO, "sqlite: replicating", "db", s->db_path, "generation", s->gen, NULL);
	*out = s;
	return 0;
fail:
	rv_sqlite_free(s);
	return rc;
}

void rv_sqlite_free(struct rv_sqlite *s)
{
	if (!s)
		return;
	if (s->r && !sqlite3_get_autocommit(s->r))
		sqlite3_exec(s->r, "COMMIT", NULL, NULL, NULL);
	if (s->r2 && !sqlite3_get_autocommit(s->r2))
		sqlite3_exec(s->r2, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(s->r);
	sqlite3_close(s->r2);
	sqlite3_close(s->w);
	if (s->pend_fd != -1)
		close(s->pend_fd);
	free(s->db_path);
	free(s->wal_path);
	free(s->tmpdir);
	free(s->frame);
	free(s);
}
