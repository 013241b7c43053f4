/* source.c - SQLite as a database source (db/source.h): the
 * shipper of db/sqlite.h, and an inotify watch on the database and its
 * -wal (a commit grows the WAL by write(2); revenant's own spools beside
 * it are O_TMPFILE or other names and never wake anyone). */
#include "db/source.h"
#include "core/filewatch.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/sqlite/sqlite.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct sqlite_src {
	struct rv_sqlite *db;
	char *path;
	struct rv_filewatch *fw; /* NULL: no watch (logged once) */
};

static void watch_open(struct sqlite_src *s)
{
	char *d = rv_strdup(s->path), *b = rv_strdup(s->path);
	const char *base = basename(b);
	char *wal = rv_asprintf("%s-wal", base);
	const char *names[2] = {base, wal};

	if (rv_filewatch_open(&s->fw, dirname(d), names, 2))
		rv_log(RV_LOG_WARN, "database writes are not watched; looking every second",
		       "error", rv_errmsg(), NULL);
	free(wal);
	free(b);
	free(d);
}

static int src_open(void **h, const struct rv_dbsrc_opts *o)
{
	struct rv_sqlite_opts so = {
	    .db_path = o->path, .gen = o->gen, .busy_timeout_ms = o->busy_timeout_ms};
	struct sqlite_src *s = rv_calloc(1, sizeof(*s));
	int rc;

	*h = NULL;
	if ((rc = rv_sqlite_open(&s->db, &so))) {
		free(s);
		return rc;
	}
	s->path = rv_strdup(o->path);
	watch_open(s);
	*h = s;
	return 0;
}

static void src_close(void *h)
{
	struct sqlite_src *s = h;

	if (!s)
		return;
	rv_sqlite_free(s->db);
	rv_filewatch_free(s->fw);
	free(s->path);
	free(s);
}

static int src_ship(void *h, struct rv_store *st, struct rv_dbsrc_ship *res)
{
	struct sqlite_src *s = h;
	struct rv_sqlite_ship sh;
	int rc = rv_sqlite_ship(s->db, st, &sh);

	memset(res, 0, sizeof(*res));
	res->from = sh.from;
	res->to = sh.to;
	res->bytes = sh.bytes;
	res->new_generation = sh.new_generation;
	snprintf(res->reason, sizeof(res->reason), "%s", sh.reason);
	return rc;
}

static int src_snapshot(void *h, struct rv_store *st, uint64_t *pos)
{
	return rv_sqlite_snapshot(((struct sqlite_src *)h)->db, st, pos);
}

static uint64_t src_pos(const void *h)
{
	return rv_sqlite_pos(((const struct sqlite_src *)h)->db);
}

static uint64_t src_size(const void *h)
{
	struct stat st;

	return stat(((const struct sqlite_src *)h)->path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int src_change_fd(const void *h)
{
	const struct sqlite_src *s = h;

	return s->fw ? rv_filewatch_fd(s->fw) : -1;
}

static int src_changes(void *h)
{
	struct sqlite_src *s = h;
	int rc;

	if (!s->fw)
		return 0;
	rc = rv_filewatch_drain(s->fw);
	if (rc < 0) {
		rv_log(RV_LOG_WARN, "database writes are no longer watched; looking every second",
		       "error", rv_errmsg(), NULL);
		rv_filewatch_free(s->fw);
		s->fw = NULL;
	}
	return rc;
}

const struct rv_dbsrc_ops rv_dbsrc_sqlite = {
    .name = "sqlite",
    .open = src_open,
    .close = src_close,
    .ship = src_ship,
    .snapshot = src_snapshot,
    .pos = src_pos,
    .size = src_size,
    .change_fd = src_change_fd,
    .changes = src_changes,
};
