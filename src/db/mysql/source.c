/* source.c - MySQL/MariaDB as a database source (db/source.h), the
 * second implementation beside db/sqlite/: the snapshot (snapshot.c) at
 * the generation's start starts the binlog stream (stream.c) from its
 * position (MariaDB: its GTID; MySQL 8: its binlog file and offset,
 * built to MySQL's documentation only — docs/ARCHITECTURE.md); ship puts the transactions received
 * since into the store as one log segment; a later snapshot is cut at exactly a shipped position
 * (the stream ships up to the snapshot's GTID first, and that is its position).  The stream's
 * eventfd wakes the engine at each commit. */
#include "db/source.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/mysql/mysql.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* How long a later snapshot waits for the stream to reach its GTID. */
#define SNAP_WAIT_MS 30000

struct mysql_src {
	const struct rv_mysql_conf *c; /* borrowed from the caller's config */
	char gen[RV_GEN_ID_LEN];
	char site[64];
	uint64_t size;
	bool mariadb;			/* else MySQL 8: the stream by file/offset */
	struct rv_mysql_stream *stream; /* NULL before the first snapshot */
	struct rv_store *st;		/* the snapshot's store, for the cut */
};

/* MySQL 8: what the stream cannot read, refused before anything is
 * written.  binlog_transaction_compression (8.0.20+) puts a
 * transaction's events inside one compressed Transaction_payload event;
 * an older server has no such variable. */
static int mysql_refusals(MYSQL *m)
{
	struct rv_buf v = RV_BUF_INIT(15);
	int rc = rv_mysql_value(m, "SELECT @@global.binlog_transaction_compression", &v);
	bool on = !rc && (!strcmp(rv_buf_str(&v), "1") || !strcasecmp(rv_buf_str(&v), "ON"));

	rv_buf_release(&v);
	if (on)
		return rv_error(RV_ENOTSUP,
				"mysql source: binlog_transaction_compression is ON; revenant "
				"cannot read compressed transactions (Transaction_payload events) "
				"— SET PERSIST binlog_transaction_compression=OFF");
	return 0;
}

static int src_open(void **h, const struct rv_dbsrc_opts *o)
{
	struct mysql_src *s;
	MYSQL *m = NULL;
	int rc;

	*h = NULL;
	if (!o->mysql || !o->mysql->database)
		return rv_error(RV_EUSAGE, "mysql source: no database.mysql configured");
	if (rv_gen_id_check(o->gen))
		return rv_error(RV_EUSAGE, "mysql source: bad generation '%s'", o->gen);
	if ((rc = rv_mysql_connect(&m, o->mysql, NULL)))
		return rc;
	if (!rv_mysql_is_mariadb(m) && (rc = mysql_refusals(m))) {
		mysql_close(m);
		return rc;
	}
	s = rv_calloc(1, sizeof(*s));
	s->mariadb = rv_mysql_is_mariadb(m);
	mysql_close(m);
	s->c = o->mysql;
	memcpy(s->gen, o->gen, RV_GEN_ID_LEN);
	snprintf(s->site, sizeof(s->site), "%s", o->site ? o->site : "");
	*h = s;
	return 0;
}

static void src_close(void *h)
{
	struct mysql_src *s = h;

	if (!s)
		return;
	rv_mysql_stream_free(s->stream);
	free(s);
}

static int src_ship(void *h, struct rv_store *st, struct rv_dbsrc_ship *res)
{
	struct mysql_src *s = h;
	struct rv_mysql_stream_ship sh;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!s->stream)
		return 0; /* no snapshot yet: nothing to continue */
	rc = rv_mysql_stream_ship(s->stream, st, NULL, 0, &sh);
	res->from = sh.from;
	res->to = sh.to;
	res->bytes = sh.bytes;
	res->new_generation = sh.new_generation;
	res->source_down = sh.down;
	snprintf(res->reason, sizeof(res->reason), "%s", sh.reason);
	return rc;
}

/* The snapshot's consistent point is known: at the generation's start the
 * stream starts there (position 0); later the stream ships up to exactly
 * that GTID and the snapshot takes the position reached. */
static int snap_at(void *ud, const struct rv_mysql_snap_pos *p, uint64_t *at)
{
	struct mysql_src *s = ud;
	struct rv_mysql_stream_ship sh;
	int rc;

	if (!*p->file)
		return rv_error(RV_EUSAGE, "mysql source: the server has binary logging off — "
					   "start it with log_bin (see `revenant config check`)");
	if (!s->stream) {
		*at = 0;
		return rv_mysql_stream_start(&s->stream, s->c, rv_mysql_server_id(s->c, s->site),
					     s->gen, s->mariadb, p, 0);
	}
	rc = rv_mysql_stream_ship(s->stream, s->st, p, SNAP_WAIT_MS, &sh);
	if (!rc)
		*at = rv_mysql_stream_pos(s->stream);
	return rc;
}

static int src_snapshot(void *h, struct rv_store *st, uint64_t *pos)
{
	struct mysql_src *s = h;
	struct rv_mysql_snap_pos sp;
	uint64_t at = 0;
	int rc;

	s->st = st;
	rc = rv_mysql_snapshot_at(s->c, st, s->gen, snap_at, s, &sp, NULL);
	(void)at;
	if (!rc) {
		*pos = rv_mysql_stream_pos(s->stream);
		s->size = sp.bytes;
	}
	return rc;
}

static uint64_t src_pos(const void *h)
{
	const struct mysql_src *s = h;

	return s->stream ? rv_mysql_stream_pos(s->stream) : 0;
}

/* The last snapshot's uncompressed size (the engine's log/snapshot ratio
 * compares log bytes with it); 0 before the first. */
static uint64_t src_size(const void *h)
{
	return ((const struct mysql_src *)h)->size;
}

static int src_change_fd(const void *h)
{
	const struct mysql_src *s = h;

	return s->stream ? rv_mysql_stream_fd(s->stream) : -1;
}

static int src_changes(void *h)
{
	struct mysql_src *s = h;

	return s->stream ? rv_mysql_stream_changes(s->stream) : 0;
}

const struct rv_dbsrc_ops rv_dbsrc_mysql = {
    .name = "mysql",
    .open = src_open,
    .close = src_close,
    .ship = src_ship,
    .snapshot = src_snapshot,
    .pos = src_pos,
    .size = src_size,
    .change_fd = src_change_fd,
    .changes = src_changes,
};
