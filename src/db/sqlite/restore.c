/* restore.c - rebuild a database file from a snapshot and log
 * segments, or move one forward in place (see sqlite.h).  Frames are
 * applied the way a checkpoint would: each page written at (pgno - 1) *
 * page_size, the file cut to the commit frame's size; every segment ends on
 * a commit, so each applied segment leaves a consistent database.
 *
 * A full restore applies the segments first, onto an empty file, and the
 * snapshot last, writing only the pages no segment wrote and no commit cut
 * (see "Segments first" below): the result is the same file as snapshot
 * then segments, but the snapshot's pages that the log replaces are never
 * written, and the segments are decoded while the snapshot downloads. */
#include "core/log.h"
#include "core/mem.h"
#include "core/testpoint.h"
#include "core/util.h"
#include "format/dbobj.h"
#include "db/sqlite/sqlite.h"
#include "db/sqlite/wal.h"
#include "db/target.h"
#include "store/pfetch.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct dbkey {
	char *key;
	uint64_t from, to, size;
	int64_t ms;
};

struct keylist {
	struct dbkey *v;
	size_t n, cap;
	enum rv_dbobj_kind kind;
};

static int collect(const struct rv_obj_info *info, void *ud)
{
	struct keylist *l = ud;
	struct dbkey k = {0};
	int rc = rv_dbobj_key_parse(info->key, l->kind, &k.from, &k.to, &k.ms);

	if (rc)
		return rc;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = rv_realloc(l->v, l->cap * sizeof(*l->v));
	}
	k.key = rv_strdup(info->key);
	k.size = info->size;
	l->v[l->n++] = k;
	return 0;
}

static void keylist_release(struct keylist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].key);
	free(l->v);
}

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);

		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p = (const char *)p + w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Pages reach the file through a writer thread: the applying thread
 * decodes (and verifies) the next APPLY_BUF bytes into one half of a
 * double buffer while the writer writes the other half.  A snapshot's
 * pages are in order and go as one run; a segment's frames go as a list of
 * page writes and truncations, in order, where a frame whose page a later
 * frame of the same batch writes again is skipped (the later one wins
 * either way, and the truncations still happen: a page cut and written
 * again reads the same as one only written again).  The kernel is asked to
 * start writing back every WRITEBACK_STEP bytes, so that the fsync before
 * the rename finds little left to do. */
#define APPLY_BUF      (2u << 20)
#define WRITEBACK_STEP (64ull << 20)
#define FRAME_MIN      (RV_WAL_FRAME_HDR_SIZE + 512u)
#define OPS_MAX	       (APPLY_BUF / FRAME_MIN + 1)
#define SEEN_SLOTS     8192u /* a power of two, at least 2 * OPS_MAX */
_Static_assert(SEEN_SLOTS >= 2 * OPS_MAX, "the seen table must stay half empty");

struct pw_op {
	const unsigned char *page; /* NULL: skipped, a later frame writes it */
	uint32_t pgno;
	uint32_t commit; /* database size in pages after it, 0 if none */
};

/* ---- Segments first ----
 * Applying the segments in order onto an empty file, then the snapshot's
 * page p only where (1) no frame of the segments wrote p and (2) p <= the
 * smallest database size any of their commits set, gives the same file as
 * the snapshot followed by the segments:
 * - a page some frame wrote after the last cut below it holds that frame's
 *   bytes either way (a cut and a later write read as the write);
 * - a page once cut (a commit smaller than p) and not written after it
 *   reads as zeros either way (here: a hole, or cut by the same commit);
 * - any other page is the snapshot's (or zeros beyond its end).
 * The file ends at the last commit's size, which no snapshot write passes.
 * `struct pagemap` is (1): one bit per page number, in chunks allocated on
 * first use, so a 1 GiB database of 4 KiB pages takes 32 KiB. */
#define PM_CHUNK_SHIFT 18 /* bits per chunk: 32 KiB */
#define PM_CHUNK_WORDS ((1u << PM_CHUNK_SHIFT) / 64)
#define PM_TOP	       (1u << (32 - PM_CHUNK_SHIFT))
#define PM_CHUNKS_MAX  256 /* 8 MiB of bits at most, for 2^26 pages */

struct pagemap {
	uint64_t *chunk[PM_TOP];
	unsigned nchunks;
};

static int pm_set(struct pagemap *m, uint32_t pgno)
{
	uint64_t **c = &m->chunk[pgno >> PM_CHUNK_SHIFT];
	uint32_t bit = pgno & ((1u << PM_CHUNK_SHIFT) - 1);

	if (!*c) {
		if (m->nchunks == PM_CHUNKS_MAX)
			return rv_error(RV_ENOTSUP,
					"the database log writes pages spread over more than %u "
					"regions of %u pages — too sparse to restore",
					PM_CHUNKS_MAX, 1u << PM_CHUNK_SHIFT);
		*c = rv_calloc(PM_CHUNK_WORDS, sizeof(**c));
		m->nchunks++;
	}
	(*c)[bit / 64] |= 1ull << (bit % 64);
	return 0;
}

static bool pm_get(const struct pagemap *m, uint32_t pgno)
{
	const uint64_t *c = m->chunk[pgno >> PM_CHUNK_SHIFT];
	uint32_t bit = pgno & ((1u << PM_CHUNK_SHIFT) - 1);

	return c && (c[bit / 64] >> (bit % 64) & 1);
}

static void pm_release(struct pagemap *m)
{
	for (size_t i = 0; m && i < PM_TOP; i++)
		free(m->chunk[i]);
}

struct pw_job {
	const unsigned char *p; /* a run of n bytes at off ... */
	size_t n;
	uint64_t off;
	const struct pw_op *ops; /* ... or nops page writes */
	size_t nops;
	uint32_t page_size;
	/* For a run: when `skip` is set, only its pages not in `skip` and
	 * numbered at most `limit` are written (segments first). */
	const struct pagemap *skip;
	uint64_t limit;
};

struct pwriter {
	pthread_t t;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd;
	bool running;
	unsigned char *buf; /* 2 * APPLY_BUF */
	struct pw_op *ops;  /* 2 * OPS_MAX */
	uint32_t *seen;	    /* SEEN_SLOTS, the applying thread's */
	unsigned half;	    /* the half the applying thread fills next */
	/* Under mu: the job handed over, the stop flag, the first errno. */
	struct pw_job job;
	bool have, quit;
	int err;
	uint64_t flushed; /* the writer's own */
	/* The file's size as the writer left it (the writer's own; the
	 * applying thread's after pw_drain): a commit that leaves the size as
	 * it is (most do) costs no ftruncate. */
	uint64_t size;
};

static void pw_grew(struct pwriter *w, uint64_t end)
{
	if (end > w->size)
		w->size = end;
}

/* The file cut (or extended) to `size` bytes, unless it has that size. */
static int pw_truncate(struct pwriter *w, uint64_t size)
{
	if (size == w->size)
		return 0;
	if (ftruncate(w->fd, (off_t)size) == -1)
		return errno;
	w->size = size;
	return 0;
}

/* The pages of run `j` that segments first leaves to the snapshot, as
 * maximal runs. */
static int pw_run_kept(struct pwriter *w, const struct pw_job *j)
{
	uint64_t first = j->off / j->page_size + 1, np = j->n / j->page_size;

	for (uint64_t a = 0, b; a < np; a = b) {
		while (a < np && (first + a > j->limit || pm_get(j->skip, (uint32_t)(first + a))))
			a++;
		for (b = a;
		     b < np && first + b <= j->limit && !pm_get(j->skip, (uint32_t)(first + b));
		     b++)
			;
		if (b > a &&
		    pwrite_all(w->fd, j->p + a * j->page_size, (size_t)((b - a) * j->page_size),
			       j->off + a * j->page_size) == -1)
			return errno;
		if (b > a)
			pw_grew(w, j->off + b * j->page_size);
	}
	return 0;
}

static int pw_run(struct pwriter *w, const struct pw_job *j)
{
	if (!j->ops) {
		if (j->skip) {
			int err = pw_run_kept(w, j);

			if (err)
				return err;
		} else if (pwrite_all(w->fd, j->p, j->n, j->off) == -1) {
			return errno;
		} else {
			pw_grew(w, j->off + j->n);
		}
		rv_testpoint("db.written");
		if (j->off + j->n - w->flushed >= WRITEBACK_STEP) {
			/* Only a hint: the fsync at the end is what counts. */
			(void)sync_file_range(w->fd, (off_t)w->flushed,
					      (off_t)(j->off + j->n - w->flushed),
					      SYNC_FILE_RANGE_WRITE);
			w->flushed = j->off + j->n;
		}
		return 0;
	}
	for (size_t i = 0; i < j->nops; i++) {
		const struct pw_op *o = &j->ops[i];

		int err;

		if (o->page && pwrite_all(w->fd, o->page, j->page_size,
					  (uint64_t)(o->pgno - 1) * j->page_size) == -1)
			return errno;
		if (o->page) {
			pw_grew(w, (uint64_t)o->pgno * j->page_size);
			rv_testpoint("db.written");
		}
		if (o->commit && (err = pw_truncate(w, (uint64_t)o->commit * j->page_size)) != 0)
			return err;
	}
	return 0;
}

static void *pw_main(void *arg)
{
	struct pwriter *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct pw_job j;
		int err;

		while (!w->have && !w->quit)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->have)
			break;
		j = w->job;
		pthread_mutex_unlock(&w->mu);
		err = pw_run(w, &j);
		pthread_mutex_lock(&w->mu);
		if (err && !w->err)
			w->err = err;
		w->have = false;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void pw_start(struct pwriter *w, int fd)
{
	struct stat st;

	memset(w, 0, sizeof(*w));
	w->fd = fd;
	/* Unknown: then the first commit cuts, as every one used to. */
	w->size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
	w->buf = rv_malloc(2 * APPLY_BUF);
	w->ops = rv_malloc(2 * OPS_MAX * sizeof(*w->ops));
	w->seen = rv_malloc(SEEN_SLOTS * sizeof(*w->seen));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	/* Without a thread the jobs run inline: slower, not wrong. */
	w->running = pthread_create(&w->t, NULL, pw_main, w) == 0;
}

static int pw_error(int err)
{
	return err ? rv_error_errno(RV_EFAIL, err, "write restored database") : 0;
}

/* Waits until the writer is idle: every job so far is in the file. */
static int pw_drain(struct pwriter *w)
{
	int err;

	if (!w->running)
		return pw_error(w->err);
	pthread_mutex_lock(&w->mu);
	while (w->have)
		pthread_cond_wait(&w->cv, &w->mu);
	err = w->err;
	pthread_mutex_unlock(&w->mu);
	return pw_error(err);
}

/* The half to fill next: the writer may hold the other one, never this
 * one (pw_submit waited for the job before it). */
static unsigned char *pw_half(struct pwriter *w)
{
	return w->buf + (size_t)w->half * APPLY_BUF;
}

static struct pw_op *pw_ops(struct pwriter *w)
{
	return w->ops + (size_t)w->half * OPS_MAX;
}

static int pw_submit(struct pwriter *w, const struct pw_job *j)
{
	int rc;

	w->half ^= 1;
	if (!w->running) {
		if (!w->err)
			w->err = pw_run(w, j);
		return pw_error(w->err);
	}
	if ((rc = pw_drain(w)))
		return rc;
	pthread_mutex_lock(&w->mu);
	w->job = *j;
	w->have = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

static int pw_stop(struct pwriter *w)
{
	int rc = pw_drain(w);

	if (w->running) {
		pthread_mutex_lock(&w->mu);
		w->quit = true;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->t, NULL);
	}
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->buf);
	free(w->ops);
	free(w->seen);
	return rc;
}

/* Marks every op whose page a later op of the batch writes again. */
static void skip_rewritten(uint32_t *seen, struct pw_op *ops, size_t n)
{
	memset(seen, 0, SEEN_SLOTS * sizeof(*seen));
	for (size_t i = n; i-- > 0;) {
		uint32_t h = ops[i].pgno * 2654435761u & (SEEN_SLOTS - 1);

		while (seen[h] && seen[h] != ops[i].pgno)
			h = (h + 1) & (SEEN_SLOTS - 1);
		if (seen[h])
			ops[i].page = NULL;
		else
			seen[h] = ops[i].pgno;
	}
}

/* How objects are applied: through the writer `w`, or only read
 * through and checked (into `buf`, APPLY_BUF bytes) when w is NULL.
 * `page_size` is fixed by the first object and checked for every later
 * one.  With `written` set (segments first), a segment's pages are marked
 * there and its commits tracked, and a snapshot writes only the pages they
 * leave to it. */
struct apply_ctx {
	struct pwriter *w;
	unsigned char *buf;
	uint32_t page_size;
	struct pagemap *written;
	uint64_t min_commit;  /* smallest database size a commit set; UINT64_MAX */
	uint64_t last_commit; /* the last commit's size, 0 before any */
};

/* The snapshot's pages, in order, to the writer. */
static int apply_snapshot(struct rv_dbobj_reader *r, const struct rv_dbobj_hdr *h,
			  struct apply_ctx *a)
{
	uint64_t per = APPLY_BUF / h->page_size;
	bool first = a->written && a->last_commit;
	int rc = 0;

	for (uint64_t i = 0; !rc && i < h->count; i += per) {
		uint64_t m = h->count - i < per ? h->count - i : per;
		unsigned char *to = a->w ? pw_half(a->w) : a->buf;
		struct pw_job j = {.p = to,
				   .n = (size_t)(m * h->page_size),
				   .off = i * h->page_size,
				   .page_size = h->page_size,
				   .skip = first ? a->written : NULL,
				   .limit = a->min_commit};

		rc = rv_dbobj_reader_read(r, to, j.n);
		if (!rc && a->w)
			rc = pw_submit(a->w, &j);
	}
	/* After segments the file already ends at the last commit's size. */
	if (!rc && a->w && !first && !(rc = pw_drain(a->w))) {
		int err = pw_truncate(a->w, h->count * h->page_size);

		if (err)
			rc = rv_error_errno(RV_EFAIL, err, "truncate restored database");
	}
	return rc;
}

/* A segment's frames, a batch at a time, to the writer. */
static int apply_segment(struct rv_dbobj_reader *r, const struct rv_dbobj_hdr *h, const char *key,
			 struct apply_ctx *a)
{
	size_t fsz = RV_WAL_FRAME_HDR_SIZE + h->page_size;
	uint64_t per = APPLY_BUF / fsz;
	struct rv_wal_frame f = {0};
	int rc = 0;

	for (uint64_t i = 0; !rc && i < h->count; i += per) {
		uint64_t m = h->count - i < per ? h->count - i : per;
		unsigned char *from = a->w ? pw_half(a->w) : a->buf;
		struct pw_op *ops = a->w ? pw_ops(a->w) : NULL;
		struct pw_job j = {.ops = ops, .nops = (size_t)m, .page_size = h->page_size};

		if ((rc = rv_dbobj_reader_read(r, from, (size_t)m * fsz)))
			break;
		for (uint64_t k = 0; !rc && k < m; k++) {
			rv_wal_frame_parse(&f, from + k * fsz);
			if (f.pgno == 0)
				return rv_error(RV_ECORRUPT,
						"log segment '%s' has a frame for page 0", key);
			if (ops)
				ops[k] =
				    (struct pw_op){.page = from + k * fsz + RV_WAL_FRAME_HDR_SIZE,
						   .pgno = f.pgno,
						   .commit = f.commit};
			if (a->written) {
				rc = pm_set(a->written, f.pgno);
				if (f.commit && f.commit < a->min_commit)
					a->min_commit = f.commit;
				if (f.commit)
					a->last_commit = f.commit;
			}
		}
		if (!rc && a->w) {
			skip_rewritten(a->w->seen, ops, j.nops);
			rc = pw_submit(a->w, &j);
		}
	}
	if (!rc && !f.commit)
		rc = rv_error(RV_ECORRUPT, "log segment '%s' does not end on a commit", key);
	return rc;
}

/* Apply one object, read through `r`.  The writer may still be writing
 * when this returns: pw_stop (or pw_drain) says whether all went in. */
static int apply(struct rv_dbobj_reader *r, const struct dbkey *k, const char *gen,
		 enum rv_dbobj_kind kind, struct apply_ctx *a)
{
	const struct rv_dbobj_hdr *h = rv_dbobj_reader_hdr(r);
	int rc;

	if (h->kind != kind || strcmp(h->gen, gen) != 0 || h->from != k->from || h->to != k->to)
		return rv_error(RV_ECORRUPT,
				"database object '%s' does not hold what its name says (kind, "
				"generation or position)",
				k->key);
	if (rv_dbobj_records(h))
		return rv_error(RV_ECORRUPT,
				"database object '%s' is a %s object in an SQLite generation",
				k->key, h->engine);
	if (!a->page_size)
		a->page_size = h->page_size;
	if (h->page_size != a->page_size)
		return rv_error(RV_ECORRUPT,
				"database object '%s' has page size %" PRIu32
				", the database %" PRIu32,
				k->key, h->page_size, a->page_size);
	if (kind == RV_DBOBJ_SNAPSHOT)
		rc = apply_snapshot(r, h, a);
	else
		rc = apply_segment(r, h, k->key, a);
	if (!rc)
		rc = rv_dbobj_reader_finish(r);
	return rc;
}

/* apply() on a downloaded file, from its start. */
static int apply_fd(int in, const struct dbkey *k, const char *gen, enum rv_dbobj_kind kind,
		    struct apply_ctx *a)
{
	struct rv_dbobj_reader *r = NULL;
	int rc;

	if (lseek(in, 0, SEEK_SET) == -1)
		return rv_error_errno(RV_EFAIL, errno, "seek download of '%s'", k->key);
	if ((rc = rv_dbobj_reader_new(&r, in, k->key)))
		return rc;
	rc = apply(r, k, gen, kind, a);
	rv_dbobj_reader_free(r);
	return rc;
}

/* Reading object `i` of a pfetch from the start, as a zstream source.
 *
 * With `punch`, the download's bytes behind the reader are given back as
 * it goes (a hole punched in the unnamed file every PUNCH_STEP), so that
 * the restored file's pages can reuse that memory: the restore's page
 * cache holds the database plus what the download is ahead, not the
 * database plus the whole compressed snapshot.  The descriptor is only
 * handed out once the download is complete (rv_pfetch_wait), so a helper
 * thread waits for it; until then nothing is punched.  Only ever a hint:
 * a failed punch leaves the bytes where they were. */
#define PUNCH_STEP (8ull << 20)

struct punch {
	struct rv_pfetch *pf;
	size_t i;
	pthread_t t;
	bool started;
	_Atomic int fd; /* -1 until the download is complete */
};

static void *punch_main(void *arg)
{
	struct punch *u = arg;
	int fd;

	if (rv_pfetch_wait(u->pf, u->i, &fd) == 0)
		atomic_store(&u->fd, fd);
	return NULL;
}

static void punch_start(struct punch *u, struct rv_pfetch *pf, size_t i)
{
	u->pf = pf;
	u->i = i;
	atomic_init(&u->fd, -1);
	u->started = pthread_create(&u->t, NULL, punch_main, u) == 0;
}

/* After rv_pfetch_drop (which ends a wait still under way). */
static void punch_stop(struct punch *u)
{
	if (u->started)
		pthread_join(u->t, NULL);
	u->started = false;
}

struct cursor {
	struct rv_pfetch *pf;
	size_t i;
	uint64_t off;
	struct punch *punch;
	uint64_t punched;
};

static ssize_t cursor_read(void *ud, void *p, size_t n)
{
	struct cursor *c = ud;
	ssize_t got = rv_pfetch_read(c->pf, c->i, c->off, p, n);
	int fd;

	if (got > 0)
		c->off += (uint64_t)got;
	if (c->punch && c->off - c->punched >= PUNCH_STEP &&
	    (fd = atomic_load(&c->punch->fd)) != -1) {
		uint64_t to = c->off / PUNCH_STEP * PUNCH_STEP;

		(void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)c->punched,
				(off_t)(to - c->punched));
		c->punched = to;
	}
	return got;
}

/* apply() on object `i` of a pfetch while it is still arriving. */
static int apply_fetched(struct rv_pfetch *pf, size_t i, const struct dbkey *k, const char *gen,
			 enum rv_dbobj_kind kind, struct apply_ctx *a, struct punch *punch)
{
	struct cursor c = {.pf = pf, .i = i, .punch = punch};
	struct rv_dbobj_reader *r = NULL;
	int rc = rv_dbobj_reader_new_src(&r, cursor_read, &c, -1, k->key);

	if (rc)
		return rc;
	rc = apply(r, k, gen, kind, a);
	rv_dbobj_reader_free(r);
	return rc;
}

int rv_sqlite_check(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int rc = 0;

	/* Not through a mapping (PRAGMA mmap_size): that checks 1 GiB in
	 * 0.21 s instead of 0.59 s here, but every page read counts in the
	 * process's RSS, and a restore that shows the database's size as its
	 * memory would alarm whoever watches it. */
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) != SQLITE_OK) {
		rc = rv_error(RV_ECORRUPT, "cannot open database '%s' to check it: %s", path,
			      sqlite3_errmsg(db));
	} else if (sqlite3_step(q) != SQLITE_ROW ||
		   strcmp((const char *)sqlite3_column_text(q, 0), "ok") != 0) {
		rc = rv_error(RV_ECORRUPT, "database '%s' fails integrity_check: %s", path,
			      sqlite3_column_text(q, 0) ? (const char *)sqlite3_column_text(q, 0)
							: sqlite3_errmsg(db));
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	return rc;
}

/* integrity_check reads the file from the page cache while the fsync
 * writes it out: the two run side by side, and both must pass before the
 * rename. */
struct syncer {
	int fd;
	int err; /* errno of a failed fsync, 0 */
};

static void *sync_main(void *arg)
{
	struct syncer *y = arg;

	y->err = fsync(y->fd) == -1 ? errno : 0;
	return NULL;
}

static int check_and_sync(const char *path, int fd, bool sync)
{
	struct syncer y = {.fd = fd};
	pthread_t t;
	bool threaded;
	int rc;

	if (!sync)
		return rv_sqlite_check(path);
	threaded = pthread_create(&t, NULL, sync_main, &y) == 0;

	if (!threaded)
		sync_main(&y);
	rc = rv_sqlite_check(path);
	if (threaded)
		pthread_join(t, NULL);
	if (!rc && y.err)
		rc = rv_error_errno(RV_EFAIL, y.err, "fsync '%s'", path);
	return rc;
}

/* Pick the snapshot and the chain of segments for the target. */
static int plan(const struct rv_sqlite_restore_opts *o, struct keylist *snaps, struct keylist *logs,
		size_t *snap, size_t *first, size_t *nlogs)
{
	bool latest = o->at_ms <= 0 && o->pos == RV_SQLITE_POS_LATEST;
	size_t i, j;
	uint64_t at;

	*snap = SIZE_MAX;
	for (i = 0; i < snaps->n; i++) {
		const struct dbkey *k = &snaps->v[i];

		if ((o->at_ms > 0 && k->ms > o->at_ms) ||
		    (!latest && o->at_ms <= 0 && k->from > o->pos))
			continue;
		if (*snap == SIZE_MAX || k->from >= snaps->v[*snap].from)
			*snap = i;
	}
	if (*snap == SIZE_MAX)
		return rv_error(RV_ENOTFOUND,
				"no database snapshot in generation %s at or before the requested "
				"point — pick a later point or another generation",
				o->gen);
	at = snaps->v[*snap].from;
	/* Logs are listed in byte order = position order. */
	for (j = 0; j < logs->n && logs->v[j].from < at; j++)
		;
	*first = j;
	*nlogs = 0;
	for (; j < logs->n; j++) {
		const struct dbkey *k = &logs->v[j];

		/* Segments past the target are not needed, so a gap there is not
		 * this restore's concern. */
		if (!latest && o->at_ms <= 0 && at == o->pos)
			break;
		if (o->at_ms > 0 && k->ms > o->at_ms)
			break;
		if (k->from != at)
			return rv_error(RV_ECORRUPT,
					"generation %s: database log has a gap: position %" PRIu64
					" is missing, %" PRIu64 "… present ('%s') — the store lost "
					"a segment; restore an earlier point with --at",
					o->gen, at, k->from, k->key);
		if (!latest && o->at_ms <= 0 && k->to > o->pos)
			break;
		at = k->to;
		(*nlogs)++;
	}
	/* Positions come from recovery points, which are written only after
	 * their segments: falling short is a loss in the store. */
	if (!latest && o->at_ms <= 0 && at != o->pos)
		return rv_error(RV_ECORRUPT,
				"generation %s: database log ends at position %" PRIu64
				" but the recovery point names %" PRIu64
				" — the store lost a segment; restore an earlier point with --at",
				o->gen, at, o->pos);
	return 0;
}

static void log_restored(const char *path, int64_t segs_ms, int64_t snap_ms, int64_t check_ms)
{
	char a[24], b[24], c[24];

	snprintf(a, sizeof(a), "%" PRId64, segs_ms);
	snprintf(b, sizeof(b), "%" PRId64, snap_ms);
	snprintf(c, sizeof(c), "%" PRId64, check_ms);
	rv_log(RV_LOG_INFO, "sqlite: restored", "db", path, "segments_ms", a, "snapshot_ms", b,
	       "check_ms", c, NULL);
}

int rv_sqlite_restore(struct rv_store *st, const struct rv_sqlite_restore_opts *o,
		      struct rv_sqlite_restore_result *res)
{
	struct keylist snaps = {.kind = RV_DBOBJ_SNAPSHOT}, logs = {.kind = RV_DBOBJ_LOG};
	char *sp = NULL, *lp = NULL, *tmp = NULL, *tmpdir = NULL;
	struct rv_pfetch_obj *objs = NULL;
	struct pwriter w;
	struct apply_ctx a = {.w = &w, .min_commit = UINT64_MAX};
	struct rv_pfetch *pf = NULL;
	size_t snap = 0, first = 0, n = 0;
	int out = -1, rc;
	struct stat stt;
	int64_t t0, t1 = 0, t2, t3;

	memset(res, 0, sizeof(*res));
	rc = rv_gen_id_check(o->gen);
	if (!rc && lstat(o->out, &stt) == 0)
		rc = rv_error(RV_EUSAGE, "restore target '%s' exists — remove it or pick another",
			      o->out);
	if (rc)
		goto out;
	if (o->tmpdir) {
		tmpdir = rv_strdup(o->tmpdir);
	} else {
		char *d = rv_strdup(o->out);

		tmpdir = rv_strdup(dirname(d));
		free(d);
	}
	sp = rv_dbobj_snapshot_prefix(o->gen);
	lp = rv_dbobj_log_prefix(o->gen);
	rc = rv_store_list(st, sp, collect, &snaps);
	if (!rc)
		rc = rv_store_list(st, lp, collect, &logs);
	if (!rc)
		rc = plan(o, &snaps, &logs, &snap, &first, &n);
	if (rc)
		goto out;
	tmp = rv_asprintf("%s.revenant-restore", o->out);
	out = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out == -1) {
		rc = rv_error_errno(RV_EFAIL, errno, "create '%s'", tmp);
		goto out;
	}
	/* Segments first (see above): they are fetched first, in chain order,
	 * then the snapshot, in parallel ranged parts; each is applied while
	 * it arrives, the segments while the snapshot is still downloading. */
	objs = rv_malloc((n + 1) * sizeof(*objs));
	for (size_t i = 0; i <= n; i++) {
		const struct dbkey *k = i < n ? &logs.v[first + i] : &snaps.v[snap];

		objs[i] = (struct rv_pfetch_obj){.key = k->key, .size = k->size};
	}
	{
		struct rv_pfetch_opts po = {.tmpdir = tmpdir, .jobs = o->jobs};

		rc = rv_pfetch_start(&pf, st, objs, n + 1, &po);
	}
	a.written = rv_calloc(1, sizeof(*a.written));
	pw_start(&w, out);
	t0 = rv_mono_ms();
	for (size_t i = 0; !rc && i <= n; i++) {
		const struct dbkey *k = i < n ? &logs.v[first + i] : &snaps.v[snap];

		struct punch u = {0};

		if (i == n) {
			t1 = rv_mono_ms();
			punch_start(&u, pf, i);
		}
		rc = apply_fetched(pf, i, k, o->gen, i < n ? RV_DBOBJ_LOG : RV_DBOBJ_SNAPSHOT, &a,
				   i == n ? &u : NULL);
		rv_pfetch_drop(pf, i);
		punch_stop(&u);
	}
	{
		int rc2 = pw_stop(&w);

		if (!rc)
			rc = rc2;
	}
	t2 = rv_mono_ms();
	if (n) {
		res->pos = logs.v[first + n - 1].to;
		res->time_ms = logs.v[first + n - 1].ms;
	} else {
		res->pos = snaps.v[snap].to;
		res->time_ms = snaps.v[snap].ms;
	}
	rv_pfetch_free(pf);
	free(objs);
	res->segments = (unsigned)n;
	if (!rc)
		rc = check_and_sync(tmp, out, !o->no_sync);
	t3 = rv_mono_ms();
	close(out);
	if (!rc && rename(tmp, o->out) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "rename '%s' to '%s'", tmp, o->out);
	if (rc)
		unlink(tmp);
	else
		log_restored(o->out, t1 - t0, t2 - t1, t3 - t2);
out:
	pm_release(a.written);
	free(a.written);
	keylist_release(&snaps);
	keylist_release(&logs);
	free(sp);
	free(lp);
	free(tmp);
	free(tmpdir);
	return rc;
}

/* ---- applying segments in place ---------------------------------------- */

#define SEGS_MAX_DEFAULT 64

struct rv_sqlite_segs {
	char gen[RV_GEN_ID_LEN];
	struct keylist logs; /* the chain, in order */
	int *fd;	     /* downloaded copies, at offset 0 after fetching */
	size_t nfd;
	uint64_t end;
	int64_t time_ms;
};

void rv_sqlite_segs_free(struct rv_sqlite_segs *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->nfd; i++)
		if (g->fd[i] != -1)
			close(g->fd[i]);
	free(g->fd);
	keylist_release(&g->logs);
	free(g);
}

uint64_t rv_sqlite_segs_end(const struct rv_sqlite_segs *g)
{
	return g->end;
}

int64_t rv_sqlite_segs_time(const struct rv_sqlite_segs *g)
{
	return g->time_ms;
}

/* Every segment starting in [from, to) has a name whose <from> digits
 * share the leading hex digits of `from` and `to - 1`: listing that prefix
 * finds them without walking the whole generation. */
static char *segs_prefix(const char *gen, uint64_t from, uint64_t to)
{
	char a[17], b[17];
	char *lp = rv_dbobj_log_prefix(gen), *p;
	size_t n = 0;

	snprintf(a, sizeof(a), "%016" PRIx64, from);
	snprintf(b, sizeof(b), "%016" PRIx64, to - 1);
	while (n < 16 && a[n] == b[n])
		n++;
	p = rv_asprintf("%s%.*s", lp, (int)n, a);
	free(lp);
	return p;
}

int rv_sqlite_segs_fetch(struct rv_sqlite_segs **out, struct rv_store *st, const char *gen,
			 uint64_t from, uint64_t to, unsigned max, const char *tmpdir)
{
	struct rv_sqlite_segs *g;
	struct keylist all = {.kind = RV_DBOBJ_LOG};
	struct rv_pfetch_opts po = {.tmpdir = tmpdir};
	struct rv_pfetch_obj *objs = NULL;
	struct rv_pfetch *pf = NULL;
	struct apply_ctx a = {0};
	uint64_t at = from;
	char *prefix;
	int rc;

	*out = NULL;
	if ((rc = rv_gen_id_check(gen)))
		return rc;
	if (to <= from)
		return rv_error(RV_EUSAGE,
				"no database segments to fetch from %" PRIu64 " to %" PRIu64, from,
				to);
	if (!max)
		max = SEGS_MAX_DEFAULT;
	g = rv_calloc(1, sizeof(*g));
	memcpy(g->gen, gen, RV_GEN_ID_LEN);
	g->logs.kind = RV_DBOBJ_LOG;
	prefix = segs_prefix(gen, from, to);
	rc = rv_store_list(st, prefix, collect, &all);
	free(prefix);
	/* The chain: byte order is position order; a retried upload may list
	 * the same <from> twice, the first one is taken. */
	for (size_t i = 0; !rc && i < all.n && at < to && g->logs.n < max; i++) {
		struct dbkey *k = &all.v[i];

		if (k->from < at)
			continue;
		if (k->from > at)
			break;
		if (k->to > to) {
			rc = rv_error(RV_ENOTFOUND,
				      "no database point at position %" PRIu64
				      " in generation %s: segment '%s' crosses it",
				      to, gen, k->key);
			break;
		}
		if (g->logs.n == g->logs.cap) {
			g->logs.cap = g->logs.cap ? g->logs.cap * 2 : 16;
			g->logs.v = rv_realloc(g->logs.v, g->logs.cap * sizeof(*g->logs.v));
		}
		g->logs.v[g->logs.n++] = *k;
		k->key = NULL; /* moved */
		at = k->to;
	}
	keylist_release(&all);
	if (!rc && at < to && g->logs.n < max)
		rc = rv_error(RV_ECORRUPT,
			      "database log of generation %s has no segment starting at position "
			      "%" PRIu64 " although a recovery point names %" PRIu64
			      " — the store lost a segment",
			      gen, at, to);
	if (rc)
		goto out;
	g->fd = rv_malloc(g->logs.n * sizeof(*g->fd));
	a.buf = rv_malloc(APPLY_BUF);
	objs = rv_malloc((g->logs.n ? g->logs.n : 1) * sizeof(*objs));
	for (size_t i = 0; i < g->logs.n; i++)
		objs[i] =
		    (struct rv_pfetch_obj){.key = g->logs.v[i].key, .size = g->logs.v[i].size};
	rc = rv_pfetch_start(&pf, st, objs, g->logs.n, &po);
	for (size_t i = 0; !rc && i < g->logs.n; i++) {
		const struct dbkey *k = &g->logs.v[i];
		int fd;

		if ((rc = rv_pfetch_wait(pf, i, &fd)))
			break;
		/* Kept past the pfetch: a descriptor of our own (pfetch reads
		 * with pread, so the shared offset is ours to move). */
		g->fd[i] = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (g->fd[i] == -1) {
			rc = rv_error_errno(RV_EFAIL, errno, "keep the download of '%s'", k->key);
			break;
		}
		g->nfd++;
		rc = apply_fd(g->fd[i], k, gen, RV_DBOBJ_LOG, &a);
		g->end = k->to;
		g->time_ms = k->ms;
	}
	rv_pfetch_free(pf);
	free(objs);
out:
	free(a.buf);
	if (rc) {
		rv_sqlite_segs_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

/* The page size recorded in a database file's header. */
static int file_page_size(int fd, uint32_t *ps)
{
	unsigned char h[100];
	ssize_t n = pread(fd, h, sizeof(h), 0);

	if (n == -1)
		return rv_error_errno(RV_EFAIL, errno, "read the database header");
	if (n < (ssize_t)sizeof(h) || memcmp(h, "SQLite format 3", 16) != 0)
		return rv_error(RV_ECORRUPT, "the database file has no SQLite header");
	*ps = (uint32_t)h[16] << 8 | h[17];
	if (*ps == 1)
		*ps = 65536;
	return 0;
}

int rv_sqlite_segs_apply(struct rv_sqlite_segs *g, int fd)
{
	struct pwriter w;
	struct apply_ctx a = {.w = &w};
	int rc = file_page_size(fd, &a.page_size), rc2;

	if (rc)
		return rc;
	pw_start(&w, fd);
	for (size_t i = 0; !rc && i < g->nfd; i++)
		rc = apply_fd(g->fd[i], &g->logs.v[i], g->gen, RV_DBOBJ_LOG, &a);
	rc2 = pw_stop(&w);
	return rc ? rc : rc2;
}

/* ---- what a restore needs (verify) ------------------------------------------ */

/* The snapshot's header is in its first zstd block (at most 128 KiB of
 * text and pages, a little more compressed). */
#define PROBE_HEAD (256u << 10)
/* A last segment up to this size is read through for its commit's size;
 * beyond it the log's frames bound the growth instead. */
#define PROBE_SEG_MAX (16u << 20)

/* Download [0, len) of `key` to a temporary file and open a reader on it. */
static int probe_open(struct rv_store *st, const char *key, uint64_t len, const char *tmpdir,
		      int *fd, struct rv_dbobj_reader **r)
{
	int rc;

	*r = NULL;
	if ((rc = rv_tmpfile_in(tmpdir, fd)))
		return rc;
	rc = rv_store_get_fd(st, key, *fd, 0, len, NULL);
	if (!rc && lseek(*fd, 0, SEEK_SET) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "seek");
	if (!rc)
		rc = rv_dbobj_reader_new(r, *fd, key);
	return rc;
}

/* The database size the last commit of segment `k` left, in bytes. */
static int probe_last_commit(struct rv_store *st, const struct dbkey *k, const char *tmpdir,
			     uint64_t *bytes)
{
	struct rv_dbobj_reader *r = NULL;
	const struct rv_dbobj_hdr *h;
	unsigned char *frame = NULL;
	struct rv_wal_frame f = {0};
	int fd = -1, rc;

	rc = probe_open(st, k->key, 0, tmpdir, &fd, &r);
	if (!rc) {
		h = rv_dbobj_reader_hdr(r);
		frame = rv_malloc(RV_WAL_FRAME_HDR_SIZE + (size_t)h->page_size);
		for (uint64_t i = 0; !rc && i < h->count; i++)
			rc = rv_dbobj_reader_read(r, frame, RV_WAL_FRAME_HDR_SIZE + h->page_size);
		if (!rc)
			rc = rv_dbobj_reader_finish(r);
		if (!rc && h->count)
			rv_wal_frame_parse(&f, frame);
		*bytes = (uint64_t)f.commit * h->page_size;
	}
	free(frame);
	rv_dbobj_reader_free(r);
	if (fd != -1)
		close(fd);
	return rc;
}

int rv_sqlite_restore_size(struct rv_store *st, const char *gen, uint64_t pos, const char *tmpdir,
			   struct rv_dbtgt_size *out)
{
	struct keylist snaps = {.kind = RV_DBOBJ_SNAPSHOT}, logs = {.kind = RV_DBOBJ_LOG};
	struct rv_sqlite_restore_opts o = {.gen = gen, .pos = pos};
	struct rv_dbobj_reader *r = NULL;
	char *sp = rv_dbobj_snapshot_prefix(gen), *lp = rv_dbobj_log_prefix(gen);
	size_t snap = 0, first = 0, n = 0;
	uint32_t page_size = 0;
	int fd = -1, rc;

	memset(out, 0, sizeof(*out));
	rc = rv_store_list(st, sp, collect, &snaps);
	if (!rc)
		rc = rv_store_list(st, lp, collect, &logs);
	if (!rc)
		rc = plan(&o, &snaps, &logs, &snap, &first, &n);
	if (rc)
		goto out;
	{
		const struct dbkey *k = &snaps.v[snap];
		uint64_t len = k->size < PROBE_HEAD ? k->size : PROBE_HEAD;

		out->download = k->size;
		out->probed = len;
		if ((rc = probe_open(st, k->key, len, tmpdir, &fd, &r)))
			goto out;
		page_size = rv_dbobj_reader_hdr(r)->page_size;
		out->database = rv_dbobj_body_size(rv_dbobj_reader_hdr(r));
	}
	out->segments = (unsigned)n;
	for (size_t i = 0; i < n; i++)
		out->download += logs.v[first + i].size;
	if (n) {
		const struct dbkey *last = &logs.v[first + n - 1];
		uint64_t size;

		if (last->size <= PROBE_SEG_MAX) {
			if ((rc = probe_last_commit(st, last, tmpdir, &size)))
				goto out;
			out->probed += last->size;
		} else {
			/* Every frame after the snapshot could be a new page. */
			size = out->database + (last->to - snaps.v[snap].from) * page_size;
		}
		if (size > out->database)
			out->database = size;
	}
out:
	rv_dbobj_reader_free(r);
	if (fd != -1)
		close(fd);
	keylist_release(&snaps);
	keylist_release(&logs);
	free(sp);
	free(lp);
	return rc;
}
