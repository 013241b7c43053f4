/* sqlite_restore.c - rebuild a database file from a snapshot and log
 * segments (see sqlite.h).  Frames are applied the way a checkpoint would:
 * each page written at (pgno - 1) * page_size, the file cut to the commit
 * frame's size; every segment ends on a commit, so each applied segment
 * leaves a consistent database. */
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "db/dbobj.h"
#include "db/sqlite.h"
#include "db/wal.h"
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

struct dbkey {
	char *key;
	uint64_t from, to;
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
	l->v[l->n++] = k;
	return 0;
}

static void keylist_release(struct keylist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].key);
	free(l->v);
}

static int download(struct rv_store *st, const char *key, const char *tmpdir, int *fd)
{
	int rc;

	*fd = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (*fd == -1)
		return rv_error_errno(RV_EFAIL, errno, "create a temporary file in '%s'", tmpdir);
	rc = rv_store_get_fd(st, key, *fd, 0, 0, NULL);
	if (!rc && lseek(*fd, 0, SEEK_SET) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "seek download of '%s'", key);
	if (rc) {
		close(*fd);
		*fd = -1;
	}
	return rc;
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

/* Apply one downloaded object to `out`; `*page_size` is fixed by the
 * snapshot and checked for every segment. */
static int apply(int in, const struct dbkey *k, const char *gen, enum rv_dbobj_kind kind, int out,
		 uint32_t *page_size, unsigned char *buf)
{
	struct rv_dbobj_reader *r = NULL;
	const struct rv_dbobj_hdr *h;
	int rc = rv_dbobj_reader_new(&r, in, k->key);

	if (rc)
		return rc;
	h = rv_dbobj_reader_hdr(r);
	if (h->kind != kind || strcmp(h->gen, gen) != 0 || h->from != k->from || h->to != k->to) {
		rc = rv_error(RV_ECORRUPT,
			      "database object '%s' does not hold what its name says (kind, "
			      "generation or position)",
			      k->key);
		goto out;
	}
	if (kind == RV_DBOBJ_SNAPSHOT) {
		*page_size = h->page_size;
		for (uint64_t i = 0; !rc && i < h->count; i++) {
			rc = rv_dbobj_reader_read(r, buf, h->page_size);
			if (!rc && pwrite_all(out, buf, h->page_size, i * h->page_size) == -1)
				rc = rv_error_errno(RV_EFAIL, errno, "write restored database");
		}
		if (!rc && ftruncate(out, (off_t)(h->count * h->page_size)) == -1)
			rc = rv_error_errno(RV_EFAIL, errno, "truncate restored database");
	} else {
		struct rv_wal_frame f = {0};

		if (h->page_size != *page_size) {
			rc = rv_error(RV_ECORRUPT,
				      "log segment '%s' has page size %" PRIu32
				      ", the snapshot %" PRIu32,
				      k->key, h->page_size, *page_size);
			goto out;
		}
		for (uint64_t i = 0; !rc && i < h->count; i++) {
			rc = rv_dbobj_reader_read(r, buf, RV_WAL_FRAME_HDR_SIZE + h->page_size);
			if (rc)
				break;
			rv_wal_frame_parse(&f, buf);
			if (f.pgno == 0) {
				rc = rv_error(RV_ECORRUPT,
					      "log segment '%s' has a frame for page 0", k->key);
				break;
			}
			if (pwrite_all(out, buf + RV_WAL_FRAME_HDR_SIZE, h->page_size,
				       (uint64_t)(f.pgno - 1) * h->page_size) == -1)
				rc = rv_error_errno(RV_EFAIL, errno, "write restored database");
			else if (f.commit &&
				 ftruncate(out, (off_t)((uint64_t)f.commit * h->page_size)) == -1)
				rc = rv_error_errno(RV_EFAIL, errno, "truncate restored database");
		}
		if (!rc && !f.commit)
			rc = rv_error(RV_ECORRUPT, "log segment '%s' does not end on a commit",
				      k->key);
	}
	if (!rc)
		rc = rv_dbobj_reader_finish(r);
out:
	rv_dbobj_reader_free(r);
	return rc;
}

static int integrity(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int rc = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) != SQLITE_OK) {
		rc = rv_error(RV_ECORRUPT, "cannot open restored database '%s': %s", path,
			      sqlite3_errmsg(db));
	} else if (sqlite3_step(q) != SQLITE_ROW ||
		   strcmp((const char *)sqlite3_column_text(q, 0), "ok") != 0) {
		rc = rv_error(RV_ECORRUPT, "restored database '%s' fails integrity_check: %s", path,
			      sqlite3_column_text(q, 0) ? (const char *)sqlite3_column_text(q, 0)
							: sqlite3_errmsg(db));
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
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
					"database log of generation %s has a gap: position %" PRIu64
					" is followed by '%s' — the store lost a segment; restore "
					"an earlier point explicitly",
					o->gen, at, k->key);
		if (!latest && o->at_ms <= 0 && k->to > o->pos)
			break;
		at = k->to;
		(*nlogs)++;
	}
	if (!latest && o->at_ms <= 0 && at != o->pos)
		return rv_error(RV_ENOTFOUND,
				"no database point at position %" PRIu64 " in generation %s (the "
				"chain reaches %" PRIu64 ")",
				o->pos, o->gen, at);
	return 0;
}

int rv_sqlite_restore(struct rv_store *st, const struct rv_sqlite_restore_opts *o,
		      struct rv_sqlite_restore_result *res)
{
	struct keylist snaps = {.kind = RV_DBOBJ_SNAPSHOT}, logs = {.kind = RV_DBOBJ_LOG};
	char *sp = NULL, *lp = NULL, *tmp = NULL, *tmpdir = NULL;
	unsigned char *buf = rv_malloc(RV_WAL_FRAME_HDR_SIZE + RV_WAL_MAX_PAGE);
	size_t snap = 0, first = 0, n = 0;
	uint32_t page_size = 0;
	int out = -1, rc;
	struct stat stt;

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
	for (size_t i = 0; !rc && i <= n; i++) {
		const struct dbkey *k = i == 0 ? &snaps.v[snap] : &logs.v[first + i - 1];
		int in;

		rc = download(st, k->key, tmpdir, &in);
		if (rc)
			break;
		rc = apply(in, k, o->gen, i == 0 ? RV_DBOBJ_SNAPSHOT : RV_DBOBJ_LOG, out,
			   &page_size, buf);
		close(in);
		res->pos = k->to;
		res->time_ms = k->ms;
	}
	res->segments = (unsigned)n;
	if (!rc && fsync(out) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "fsync '%s'", tmp);
	close(out);
	if (!rc)
		rc = integrity(tmp);
	if (!rc && rename(tmp, o->out) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "rename '%s' to '%s'", tmp, o->out);
	if (rc)
		unlink(tmp);
	else
		rv_log(RV_LOG_INFO, "sqlite: restored", "db", o->out, NULL);
out:
	keylist_release(&snaps);
	keylist_release(&logs);
	free(sp);
	free(lp);
	free(tmp);
	free(tmpdir);
	free(buf);
	return rc;
}
