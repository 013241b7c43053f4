/* stream.c - the binlog stream of a MariaDB or MySQL 8 server into log
 * segments (mysql.h, "the binlog stream"; MySQL 8 is built to its
 * documentation only: docs/ARCHITECTURE.md).
 *
 * Threads and who owns what:
 *   the reader thread owns the replica connection, the open transaction
 *     and the spool's write end; it appends each event of a transaction
 *     to the spool and, at the transaction's end, moves `commit_off` and
 *     the committed GTID state (under `mu`) and wakes the eventfd;
 *   the caller (the engine's loop) ships: it reads [ship_off, commit_off)
 *     from the spool, writes one segment, uploads it, then moves
 *     `ship_off` and moves the unshipped tail to the spool's start (under
 *     `mu`, so the reader waits for that copy).
 *
 * The stream starts from a GTID position through session variables
 * (@slave_connect_state with @mariadb_slave_capability=4: Connector/C
 * 3.3's GTID options do not work), asks for a heartbeat every second and
 * reads with a 5 s timeout, so a dead link is noticed; it reconnects
 * from the last committed GTID (a transaction half-received is dropped
 * and comes again).  A server that cannot continue from there (binlog
 * purged, reset, another server) or a GTID that does not follow the last
 * one is a broken chain: ship says new_generation with the reason.
 *
 * MySQL 8 (open_mysql): the dump starts at a binlog file and offset and
 * resumes after a reconnect at the file and offset after the last
 * complete transaction; another @@server_uuid is a broken chain. */
#include "db/mysql/mysql.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "format/dbobj.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <mariadb_rpl.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EV_HDR	19
#define FDE_MAX 1024
#define DOMAINS 32
/* A spool entry: a 4-byte little-endian length, bit 31 set for a binlog
 * file name (a rotation inside the spooled range), then the bytes. */
#define SPOOL_NAME   0x80000000u
#define EVENT_MAX    (1u << 30)
#define READ_TMO_S   5
#define COMPACT_TAIL (1u << 20)
#define COMPACT_OFF  (64u << 20)
/* A stream down longer than this fails ship: a recovery point must not
 * claim the database while transactions may be waiting unseen. */
#define DOWN_GRACE_MS 2000

struct gtid {
	uint32_t domain, server;
	uint64_t seq;
};

/* Where the stream stands: MariaDB's GTID position (a GTID per domain);
 * MySQL's binlog file and offset (where a dump resumes: after a complete
 * transaction or an event outside one) and the last GTID seen. */
struct gtid_state {
	unsigned n;
	struct gtid g[DOMAINS];
	char file[256];
	uint64_t fpos;
	char last[64]; /* MySQL: "UUID:GNO", "anonymous" or "" */
};

struct rv_mysql_stream {
	const struct rv_mysql_conf *c;
	uint32_t server_id;
	char gen[RV_GEN_ID_LEN];
	bool mysql;	   /* MySQL 8: the dump starts at a file and offset, not a GTID */
	bool maria_server; /* that, on a MariaDB server (the test hook) */
	pthread_t th;
	bool started;
	atomic_bool stop;
	int efd, spool;
	char *tmpdir;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	uint64_t write_off, commit_off, ship_off;
	struct gtid_state committed; /* through commit_off */
	uint64_t commits;	     /* transactions committed (ever) */
	unsigned char fde[FDE_MAX];
	size_t fde_len;
	bool broken;
	char reason[200];
	int sock;	    /* the replica connection's socket (stop shuts it down), or -1 */
	int64_t down_since; /* rv_mono_ms when the stream went down; 0: up */
	char down_err[300];

	/* the reader's own */
	struct gtid_state open; /* committed + the open transaction's GTID */
	uint64_t group_off;
	bool in_group;
	char file[256]; /* the binlog file being read */
	bool said_down;
	struct rv_mysql_trx trx; /* where the reader is in a transaction */
	enum rv_mysql_crc crc;	 /* the current dump's Format_description says */
	char uuid[64];		 /* MySQL: @@server_uuid at the first connect */

	/* the shipper's own */
	uint64_t pos;		   /* transactions shipped in the generation */
	struct gtid_state shipped; /* the GTID state at pos */
	unsigned changes_seen;
	int pend_fd; /* a sealed segment not yet uploaded, or -1 */
	uint64_t pend_from, pend_to, pend_bytes, pend_end_off;
	int64_t pend_ms;
	struct gtid_state pend_state;
	char ship_file[256], pend_file[256];
};

/* ---- GTID positions ("d-s-q,d-s-q") ---- */

static int gtid_parse(const char *s, struct gtid_state *out)
{
	memset(out, 0, sizeof(*out));
	while (s && *s) {
		struct gtid g;
		char *e;

		while (*s == ',' || *s == ' ' || *s == '\n')
			s++;
		if (!*s)
			break;
		errno = 0;
		g.domain = (uint32_t)strtoul(s, &e, 10);
		if (*e != '-' || e == s)
			return rv_error(RV_EFAIL, "mysql: bad GTID position '%s'", s);
		s = e + 1;
		g.server = (uint32_t)strtoul(s, &e, 10);
		if (*e != '-' || e == s)
			return rv_error(RV_EFAIL, "mysql: bad GTID position '%s'", s);
		s = e + 1;
		g.seq = strtoull(s, &e, 10);
		if (e == s || errno || out->n == DOMAINS)
			return rv_error(RV_EFAIL, "mysql: bad GTID position '%s'", s);
		out->g[out->n++] = g;
		s = e;
	}
	return 0;
}

static void gtid_fmt(const struct gtid_state *st, char *buf, size_t n)
{
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < st->n && o < n; i++) {
		int w = snprintf(buf + o, n - o, "%s%" PRIu32 "-%" PRIu32 "-%" PRIu64, i ? "," : "",
				 st->g[i].domain, st->g[i].server, st->g[i].seq);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

static struct gtid *gtid_find(struct gtid_state *st, uint32_t domain)
{
	for (unsigned i = 0; i < st->n; i++)
		if (st->g[i].domain == domain)
			return &st->g[i];
	return NULL;
}

/* Whether the transaction (domain, seq) is inside position `lim`. */
static bool gtid_inside(const struct gtid_state *lim, uint32_t domain, uint64_t seq)
{
	for (unsigned i = 0; i < lim->n; i++)
		if (lim->g[i].domain == domain)
			return seq <= lim->g[i].seq;
	return false;
}

/* Every domain of `lim` reached by `st`. */
static bool gtid_reached(const struct gtid_state *st, const struct gtid_state *lim)
{
	for (unsigned i = 0; i < lim->n; i++) {
		bool ok = false;

		for (unsigned j = 0; j < st->n; j++)
			if (st->g[j].domain == lim->g[i].domain && st->g[j].seq >= lim->g[i].seq)
				ok = true;
		if (!ok)
			return false;
	}
	return true;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* ---- the reader thread ---- */

static void set_broken(struct rv_mysql_stream *s, const char *fmt, const char *arg)
{
	pthread_mutex_lock(&s->mu);
	if (!s->broken) {
		s->broken = true;
		snprintf(s->reason, sizeof(s->reason), fmt, arg);
		rv_log(RV_LOG_WARN, "mysql: the binlog stream cannot continue its chain", "reason",
		       s->reason, NULL);
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	{
		uint64_t one = 1;

		if (write(s->efd, &one, sizeof(one)) < 0) {
			/* the counter is full: the engine is woken anyway */
		}
	}
}

static int spool_append(struct rv_mysql_stream *s, uint32_t tag, const void *p, size_t n)
{
	unsigned char h[4] = {(unsigned char)tag, (unsigned char)(tag >> 8),
			      (unsigned char)(tag >> 16), (unsigned char)(tag >> 24)};
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	if (pwrite(s->spool, h, 4, (off_t)s->write_off) != 4 ||
	    pwrite(s->spool, p, n, (off_t)(s->write_off + 4)) != (ssize_t)n)
		rc = rv_error_errno(RV_EFAIL, errno, "mysql: write the binlog spool in '%s'",
				    s->tmpdir);
	else
		s->write_off += 4 + n;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static void commit_group(struct rv_mysql_stream *s)
{
	uint64_t one = 1;

	pthread_mutex_lock(&s->mu);
	s->commit_off = s->write_off;
	s->committed = s->open;
	s->commits++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	s->in_group = false;
	if (write(s->efd, &one, sizeof(one)) < 0) {
		/* the counter is full: the engine is woken anyway */
	}
}

/* Forget a transaction half-received (a lost connection): it comes again
 * after the reconnect. */
static void drop_open(struct rv_mysql_stream *s)
{
	pthread_mutex_lock(&s->mu);
	s->write_off = s->commit_off;
	s->open = s->committed;
	pthread_mutex_unlock(&s->mu);
	s->in_group = false;
	memset(&s->trx, 0, sizeof(s->trx));
}

/* MySQL: the resume point moves past an event outside any transaction
 * (the reader's own state and, being complete, the committed one). */
static void idle_at(struct rv_mysql_stream *s, const char *file, uint64_t pos)
{
	pthread_mutex_lock(&s->mu);
	if (file)
		snprintf(s->open.file, sizeof(s->open.file), "%s", file);
	s->open.fpos = pos;
	snprintf(s->committed.file, sizeof(s->committed.file), "%s", s->open.file);
	s->committed.fpos = pos;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* MariaDB's GTID event: the next transaction of its domain, or a broken
 * chain. */
static int mariadb_start(struct rv_mysql_stream *s, const struct rv_mysql_ev *e)
{
	struct gtid *g = gtid_find(&s->open, e->domain);
	char why[160];

	if (g && e->seq != g->seq + 1) {
		snprintf(why, sizeof(why),
			 "GTID %" PRIu32 "-%" PRIu32 "-%" PRIu64 " does not follow %" PRIu32
			 "-%" PRIu32 "-%" PRIu64,
			 e->domain, e->server_id, e->seq, g->domain, g->server, g->seq);
		set_broken(s, "%s", why);
		return RV_EPRECOND;
	}
	if (!g) {
		if (s->open.n == DOMAINS) {
			set_broken(s, "%s", "too many GTID domains");
			return RV_EPRECOND;
		}
		g = &s->open.g[s->open.n++];
		g->domain = e->domain;
	}
	g->server = e->server_id;
	g->seq = e->seq;
	return 0;
}

/* One event (`p`, `n`: header first, checksum included), read by
 * event.c.  A transaction starts at a GTID event (MariaDB's, MySQL's or
 * MySQL's anonymous one) and ends at its XID, a COMMIT/ROLLBACK Query,
 * or — MariaDB's FL_STANDALONE, MySQL's GTID event not followed by
 * "BEGIN" — its one statement. */
static int on_event(struct rv_mysql_stream *s, const unsigned char *p, size_t n)
{
	struct rv_mysql_ev e;
	int rc = rv_mysql_ev_parse(p, n, s->crc, &e);

	if (rc)
		return rc;
	if (e.kind == RV_MYEV_FDE) {
		if (n > FDE_MAX)
			return rv_error(RV_EFAIL, "mysql: format description event too long");
		s->crc = e.fde_crc ? RV_MYSQL_CRC_ON : RV_MYSQL_CRC_OFF;
		pthread_mutex_lock(&s->mu);
		memcpy(s->fde, p, n);
		s->fde_len = n;
		pthread_mutex_unlock(&s->mu);
		if (s->mysql && !s->in_group && e.log_pos)
			idle_at(s, NULL, e.log_pos);
		return 0;
	}
	if (e.kind == RV_MYEV_ROTATE) {
		snprintf(s->file, sizeof(s->file), "%.*s", (int)e.name_len, e.name);
		if (s->mysql && !s->in_group)
			idle_at(s, s->file, e.rotate_pos);
		/* Inside the spooled range the file name counts for headers. */
		return spool_append(s, SPOOL_NAME | (uint32_t)strlen(s->file), s->file,
				    strlen(s->file));
	}
	switch (rv_mysql_trx_step(&s->trx, &e)) {
	case RV_MYSTEP_START:
		if (s->in_group)
			drop_open(s); /* an unterminated group: never shipped */
		s->trx.in = true;
		s->trx.await_begin = e.mysql_gtid;
		s->trx.standalone = !e.mysql_gtid && e.standalone;
		if (!e.mysql_gtid) {
			if ((rc = mariadb_start(s, &e)))
				return rc;
		} else if (e.anonymous) {
			snprintf(s->open.last, sizeof(s->open.last), "anonymous");
		} else {
			char sid[37];

			rv_mysql_sid_fmt(e.sid, sid);
			snprintf(s->open.last, sizeof(s->open.last), "%s:%" PRIu64, sid, e.gno);
		}
		s->in_group = true;
		pthread_mutex_lock(&s->mu);
		s->group_off = s->write_off;
		pthread_mutex_unlock(&s->mu);
		if (s->mysql && e.log_pos)
			s->open.fpos = e.log_pos;
		return spool_append(s, (uint32_t)n, p, n);
	case RV_MYSTEP_OUTSIDE:
		/* GTID lists, previous GTIDs, checkpoints, heartbeats; only
		 * events of the file move the resume point (a heartbeat only
		 * says where the server is). */
		if (s->mysql && e.log_pos && e.kind != RV_MYEV_HEARTBEAT &&
		    !(e.flags & 0x20 /* LOG_EVENT_ARTIFICIAL_F */))
			idle_at(s, NULL, e.log_pos);
		return 0;
	case RV_MYSTEP_INSIDE:
	case RV_MYSTEP_END:
		break;
	}
	if ((rc = spool_append(s, (uint32_t)n, p, n)))
		return rc;
	if (s->mysql && e.log_pos)
		s->open.fpos = e.log_pos;
	if (!s->trx.in)
		commit_group(s);
	return 0;
}

static bool stopping(struct rv_mysql_stream *s)
{
	return atomic_load(&s->stop);
}

static void pause_ms(struct rv_mysql_stream *s, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mu);
	if (!stopping(s))
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	pthread_mutex_unlock(&s->mu);
}

/* A fatal answer of the dump thread: the server cannot send from our
 * position (purged, reset, unknown GTID). */
static bool fatal_position(unsigned err)
{
	return err == ER_MASTER_FATAL_ERROR_READING_BINLOG || err == 1236;
}

/* Ask for the dump on `m` (its session set up, `rc` the set-up's result)
 * from `file` at `fpos` ("" and 4: from the GTID state the session
 * carries); on success `*mo` and `*ro` hold the connection and the
 * replica handle, on failure both are closed. */
static int start_dump(struct rv_mysql_stream *s, MYSQL *m, const char *file, uint64_t fpos, int rc,
		      MYSQL **mo, MARIADB_RPL **ro)
{
	MARIADB_RPL *rpl = NULL;
	char where[300];

	if (!rc && !(rpl = mariadb_rpl_init(m)))
		rc = rv_error(RV_EFAIL, "mysql binlog stream: cannot set up the replica protocol");
	if (!rc) {
		unsigned int one = 1;

		mariadb_rpl_optionsv(rpl, MARIADB_RPL_SERVER_ID, s->server_id);
		mariadb_rpl_optionsv(rpl, MARIADB_RPL_FILENAME, file, strlen(file));
		mariadb_rpl_optionsv(rpl, MARIADB_RPL_START, (unsigned long)fpos);
		mariadb_rpl_optionsv(rpl, MARIADB_RPL_FLAGS,
				     (unsigned int)MARIADB_RPL_IGNORE_HEARTBEAT);
		mariadb_rpl_optionsv(rpl, MARIADB_RPL_VERIFY_CHECKSUM, one);
		if (mariadb_rpl_open(rpl)) {
			rv_mysql_where(s->c, where, sizeof(where));
			rc = fatal_position(mysql_errno(m)) ? RV_EPRECOND
							    : rv_mysql_result(mysql_errno(m));
			rc = *file
				 ? rv_error(rc, "mysql binlog stream from %s at %s:%" PRIu64 ": %s",
					    where, file, fpos, mysql_error(m))
				 : rv_error(rc, "mysql binlog stream from %s: %s", where,
					    mysql_error(m));
		}
	}
	if (rc) {
		if (rpl)
			mariadb_rpl_close(rpl);
		mysql_close(m);
		return rc;
	}
	pthread_mutex_lock(&s->mu);
	s->sock = (int)mysql_get_socket(m);
	pthread_mutex_unlock(&s->mu);
	*mo = m;
	*ro = rpl;
	return 0;
}

/* MySQL 8: COM_BINLOG_DUMP from a file and offset (Connector/C 3.3 has no
 * GTID dump for MySQL; the file/offset is exact and survives a
 * reconnect).  The server's identity is checked on every connect: a
 * different server_uuid is another history. */
static int open_mysql(struct rv_mysql_stream *s, MYSQL *m, const char *file, uint64_t fpos,
		      MYSQL **mo, MARIADB_RPL **ro)
{
	struct rv_buf uuid = RV_BUF_INIT(63);
	char where[300];
	int rc;

	rv_mysql_where(s->c, where, sizeof(where));
	if (!*file) {
		mysql_close(m);
		return rv_error(RV_EPRECOND,
				"mysql binlog stream from %s: no binlog file to start from", where);
	}
	/* A MariaDB server here is the test hook (rv_mysql_stream_start):
	 * it has no server_uuid, and sends its GTID events only to a
	 * replica that says it understands them. */
	rc = rv_mysql_value(m,
			    s->maria_server ? "SELECT CONCAT('server_id ', @@server_id)"
					    : "SELECT @@server_uuid",
			    &uuid);
	if (!rc && s->maria_server)
		rc = rv_mysql_exec(m, "mysql binlog stream", "SET @mariadb_slave_capability=4");
	if (!rc && *s->uuid && strcmp(s->uuid, rv_buf_str(&uuid)))
		rc = rv_error(RV_EPRECOND,
			      "the server at %s is another one (server_uuid %s, was %s): its "
			      "binlog is another history",
			      where, rv_buf_str(&uuid), s->uuid);
	if (!rc && !*s->uuid)
		snprintf(s->uuid, sizeof(s->uuid), "%s", rv_buf_str(&uuid));
	rv_buf_release(&uuid);
	/* The dump thread reads these user variables (the source_* names
	 * since 8.0.26, the master_* ones before). */
	rc = rc ? rc
		: rv_mysql_exec(m, "mysql binlog stream",
				"SET @master_binlog_checksum=@@global.binlog_checksum, "
				"@source_binlog_checksum=@@global.binlog_checksum");
	rc = rc ? rc
		: rv_mysql_exec(m, "mysql binlog stream",
				"SET @master_heartbeat_period=1000000000, "
				"@source_heartbeat_period=1000000000");
	return start_dump(s, m, file, fpos, rc, mo, ro);
}

static int open_stream(struct rv_mysql_stream *s, MYSQL **mo, MARIADB_RPL **ro)
{
	char state[DOMAINS * 48], q[DOMAINS * 48 + 64], file[256];
	uint64_t fpos;
	MYSQL *m = NULL;
	int rc;

	*mo = NULL;
	*ro = NULL;
	if ((rc = rv_mysql_connect_rt(&m, s->c, "", READ_TMO_S)))
		return rc;
	pthread_mutex_lock(&s->mu);
	gtid_fmt(&s->committed, state, sizeof(state));
	snprintf(file, sizeof(file), "%s", s->committed.file);
	fpos = s->committed.fpos;
	pthread_mutex_unlock(&s->mu);
	s->crc = RV_MYSQL_CRC_UNKNOWN;
	memset(&s->trx, 0, sizeof(s->trx));
	if (s->mysql)
		return open_mysql(s, m, file, fpos, mo, ro);
	snprintf(q, sizeof(q), "SET @slave_connect_state='%s'", state);
	rc = rv_mysql_exec(m, "mysql binlog stream", "SET @mariadb_slave_capability=4");
	rc = rc ? rc
		: rv_mysql_exec(m, "mysql binlog stream",
				"SET @master_binlog_checksum=@@global.binlog_checksum");
	rc = rc ? rc : rv_mysql_exec(m, "mysql binlog stream", "SET @slave_gtid_strict_mode=1");
	/* One heartbeat per idle second: the read timeout then means a dead
	 * link, not a quiet blog. */
	rc =
	    rc ? rc
	       : rv_mysql_exec(m, "mysql binlog stream", "SET @master_heartbeat_period=1000000000");
	rc = rc ? rc : rv_mysql_exec(m, "mysql binlog stream", q);
	/* From the GTID state: the file and offset the server picks. */
	return start_dump(s, m, "", 4, rc, mo, ro);
}

static void close_stream(struct rv_mysql_stream *s, MYSQL *m, MARIADB_RPL *rpl)
{
	pthread_mutex_lock(&s->mu);
	s->sock = -1;
	pthread_mutex_unlock(&s->mu);
	if (rpl)
		mariadb_rpl_close(rpl);
	if (m)
		mysql_close(m);
}

static void *reader_main(void *arg)
{
	struct rv_mysql_stream *s = arg;
	char where[300];

	rv_mysql_where(s->c, where, sizeof(where));
	while (!stopping(s)) {
		MYSQL *m = NULL;
		MARIADB_RPL *rpl = NULL;
		MARIADB_RPL_EVENT *ev = NULL;
		bool refused = false;
		int rc = open_stream(s, &m, &rpl);

		if (rc == RV_EPRECOND) {
			set_broken(s, "%s", rv_errmsg());
			break;
		}
		if (rc) {
			if (!s->said_down)
				rv_log(RV_LOG_WARN,
				       "mysql: the binlog stream is down; reconnecting", "server",
				       where, "error", rv_errmsg(), NULL);
			s->said_down = true;
			pause_ms(s, 1000);
			continue;
		}
		if (s->said_down)
			rv_log(RV_LOG_INFO, "mysql: the binlog stream is back", "server", where,
			       NULL);
		pthread_mutex_lock(&s->mu);
		s->down_since = 0;
		pthread_mutex_unlock(&s->mu);
		s->said_down = false;
		while (!stopping(s)) {
			/* A fresh event each time: 3.3 reusing one it failed on
			 * (or freeing it after a failed fetch) reads freed memory. */
			ev = mariadb_rpl_fetch(rpl, NULL);
			if (!ev) {
				unsigned err = mysql_errno(m);

				if (stopping(s))
					break;
				pthread_mutex_lock(&s->mu);
				snprintf(s->down_err, sizeof(s->down_err), "%s", mysql_error(m));
				pthread_mutex_unlock(&s->mu);
				if (fatal_position(err)) {
					set_broken(s,
						   "the server cannot stream from revenant's "
						   "position (binlog purged or reset?): %s",
						   mysql_error(m));
				} else {
					rv_log(RV_LOG_WARN,
					       "mysql: the binlog stream broke; reconnecting from "
					       "the last complete transaction",
					       "server", where, "error", mysql_error(m), NULL);
					s->said_down = true;
				}
				break;
			}
			rc = 0;
			if (ev->raw_data_size >= 1 + EV_HDR && ev->raw_data_size - 1 <= EVENT_MAX)
				rc = on_event(s, ev->raw_data + 1, ev->raw_data_size - 1);
			mariadb_free_rpl_event(ev);
			ev = NULL;
			if (rc == RV_EPRECOND)
				break;
			if (rc == RV_ECORRUPT || rc == RV_ENOTSUP) {
				/* A damaged event comes again after a reconnect; an
				 * event revenant cannot read keeps the stream down
				 * (no recovery point) with the reason, until the
				 * server's setting changes. */
				pthread_mutex_lock(&s->mu);
				snprintf(s->down_err, sizeof(s->down_err), "%s", rv_errmsg());
				pthread_mutex_unlock(&s->mu);
				rv_log(
				    RV_LOG_WARN,
				    "mysql: the binlog stream cannot read an event; reconnecting "
				    "from the last complete transaction",
				    "server", where, "error", rv_errmsg(), NULL);
				s->said_down = true;
				refused = rc == RV_ENOTSUP;
				break;
			}
			if (rc) {
				set_broken(s, "%s", rv_errmsg());
				break;
			}
		}
		close_stream(s, m, rpl);
		if (s->in_group)
			drop_open(s);
		pthread_mutex_lock(&s->mu);
		if (!s->down_since)
			s->down_since = rv_mono_ms();
		pthread_mutex_unlock(&s->mu);
		pthread_mutex_lock(&s->mu);
		bool broken = s->broken;
		pthread_mutex_unlock(&s->mu);
		if (broken)
			break;
		pause_ms(s, refused ? 5000 : 200);
	}
	return NULL;
}

int rv_mysql_stream_start(struct rv_mysql_stream **out, const struct rv_mysql_conf *c,
			  uint32_t server_id, const char *gen, bool mariadb,
			  const struct rv_mysql_snap_pos *from, uint64_t pos)
{
	struct rv_mysql_stream *s = rv_calloc(1, sizeof(*s));
	const char *t = getenv("TMPDIR");
	int rc;

	*out = NULL;
	s->c = c;
	s->server_id = server_id;
	memcpy(s->gen, gen, RV_GEN_ID_LEN);
	s->pos = pos;
	s->sock = -1;
	s->pend_fd = -1;
	s->tmpdir = rv_strdup(t && *t ? t : "/tmp");
	atomic_init(&s->stop, false);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->spool = open(s->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (s->efd == -1 || s->spool == -1) {
		rc = rv_error_errno(RV_EFAIL, errno, "mysql: binlog spool in '%s'", s->tmpdir);
		rv_mysql_stream_free(s);
		return rc;
	}
	s->mysql = !mariadb;
#ifdef RV_TESTPOINTS
	{
		/* Test hook (test builds only, as core/testpoint.h): MariaDB
		 * streamed the way MySQL 8 is (by file and offset), so that
		 * path runs against a real server here. */
		const char *h = getenv("REVENANT_MYSQL_DUMP");

		if (mariadb && h && !strcmp(h, "position")) {
			s->mysql = true;
			s->maria_server = true;
			rv_log(RV_LOG_WARN,
			       "mysql: REVENANT_MYSQL_DUMP=position: streaming MariaDB by binlog "
			       "file and offset (a test hook)",
			       NULL);
		}
	}
#endif
	if ((rc = gtid_parse(s->mysql ? "" : from->gtid, &s->committed))) {
		rv_mysql_stream_free(s);
		return rc;
	}
	if (s->mysql) {
		snprintf(s->committed.file, sizeof(s->committed.file), "%s", from->file);
		s->committed.fpos = from->pos;
		snprintf(s->ship_file, sizeof(s->ship_file), "%s", from->file);
	}
	s->open = s->shipped = s->committed;
	s->down_since = rv_mono_ms(); /* until the first connect */
	snprintf(s->down_err, sizeof(s->down_err), "not connected yet");
	if (pthread_create(&s->th, NULL, reader_main, s)) {
		rv_mysql_stream_free(s);
		return rv_error(RV_EFAIL, "mysql: cannot start the binlog reader thread");
	}
	s->started = true;
	*out = s;
	return 0;
}

void rv_mysql_stream_free(struct rv_mysql_stream *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, true);
	pthread_mutex_lock(&s->mu);
	if (s->sock != -1)
		shutdown(s->sock, SHUT_RDWR); /* a blocked fetch returns at once */
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->started)
		pthread_join(s->th, NULL);
	if (s->efd != -1)
		close(s->efd);
	if (s->spool != -1)
		close(s->spool);
	if (s->pend_fd != -1)
		close(s->pend_fd);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->tmpdir);
	free(s);
}

uint64_t rv_mysql_stream_pos(const struct rv_mysql_stream *s)
{
	return s->pos;
}

int rv_mysql_stream_fd(const struct rv_mysql_stream *s)
{
	return s->efd;
}

int rv_mysql_stream_changes(struct rv_mysql_stream *s)
{
	uint64_t v;

	return read(s->efd, &v, sizeof(v)) == (ssize_t)sizeof(v) ? 1 : 0;
}

/* ---- shipping ---- */

static int pread_all(int fd, void *p, size_t n, uint64_t off)
{
	ssize_t r = pread(fd, p, n, (off_t)off);

	if (r != (ssize_t)n)
		return rv_error_errno(RV_EFAIL, r == -1 ? errno : EIO,
				      "mysql: read the binlog spool");
	return 0;
}

/* One event read back from the spool (grows to the largest event). */
struct ebuf {
	unsigned char *p;
	size_t cap;
};

static unsigned char *ebuf_get(struct ebuf *b, size_t n)
{
	if (n > b->cap) {
		b->cap = n < 65536 ? 65536 : n;
		b->p = rv_realloc(b->p, b->cap);
	}
	return b->p;
}

struct seal {
	uint64_t start, end; /* spool range */
	uint64_t groups, bytes;
	char file[256];
	uint64_t log_pos; /* the end of the last event in the server's file */
	char last[64];	  /* MySQL: the last transaction's GTID */
};

static bool is_trx_start(unsigned type)
{
	return type == RV_MYEV_T_MYSQL_GTID || type == RV_MYEV_T_MYSQL_ANON_GTID ||
	       type == RV_MYEV_T_MARIADB_GTID;
}

/* Binlog coordinates in order: the files' numeric suffixes (of one
 * basename) compare by length first, so binlog.1000000 follows
 * binlog.999999. */
static int coord_cmp(const char *fa, uint64_t pa, const char *fb, uint64_t pb)
{
	size_t la = strlen(fa), lb = strlen(fb);
	int c = la != lb ? (la < lb ? -1 : 1) : strcmp(fa, fb);

	if (c)
		return c;
	return pa < pb ? -1 : pa > pb;
}

/* Whether a transaction starting at `e` (in file `file`) is inside the
 * limit: MariaDB by its GTID, MySQL by where it starts. */
static bool inside(const struct rv_mysql_stream *s, const unsigned char *e, size_t n,
		   const char *file, const struct gtid_state *lim)
{
	if (!s->mysql)
		return gtid_inside(lim, le32(e + EV_HDR + 8), le64(e + EV_HDR));
	return coord_cmp(file, (uint64_t)le32(e + 13) - n, lim->file, lim->fpos) < 0;
}

/* Whether the stream has reached the limit. */
static bool reached(const struct rv_mysql_stream *s, const struct gtid_state *lim)
{
	if (!s->mysql)
		return gtid_reached(&s->committed, lim);
	return coord_cmp(s->committed.file, s->committed.fpos, lim->file, lim->fpos) >= 0;
}

/* Walk [start, end) of the spool: where `lim` cuts it (at the first
 * transaction outside it), how many transactions, and, with `w`, each
 * event into the segment. */
static int walk(struct rv_mysql_stream *s, struct seal *z, const struct gtid_state *lim,
		struct rv_dbobj_writer *w, struct ebuf *b)
{
	uint64_t off = z->start;
	int rc = 0;

	z->groups = z->bytes = 0;
	while (!rc && off < z->end) {
		unsigned char h[4];
		uint32_t tag, n;

		if ((rc = pread_all(s->spool, h, 4, off)))
			break;
		tag = le32(h);
		n = tag & ~SPOOL_NAME;
		if (n > EVENT_MAX || off + 4 + n > z->end)
			return rv_error(RV_EFAIL, "mysql: the binlog spool is damaged");
		if ((rc = pread_all(s->spool, ebuf_get(b, n + 1), n, off + 4)))
			break;
		if (tag & SPOOL_NAME) {
			snprintf(z->file, sizeof(z->file), "%.*s", (int)n, (const char *)b->p);
			off += 4 + n;
			continue;
		}
		if (n < EV_HDR)
			return rv_error(RV_EFAIL, "mysql: the binlog spool is damaged");
		{
			const unsigned char *e = b->p;

			char tag_s[80] = "";

			if (is_trx_start(e[4])) {
				bool maria = e[4] == RV_MYEV_T_MARIADB_GTID;

				if (n < EV_HDR + (maria ? 13 : 25))
					return rv_error(RV_EFAIL, "mysql: short GTID event");
				if (lim && !inside(s, e, n, z->file, lim)) {
					z->end = off;
					break;
				}
				z->groups++;
				if (maria) {
					snprintf(z->last, sizeof(z->last),
						 "%" PRIu32 "-%" PRIu32 "-%" PRIu64,
						 le32(e + EV_HDR + 8), le32(e + 5),
						 le64(e + EV_HDR));
				} else if (e[4] == RV_MYEV_T_MYSQL_ANON_GTID) {
					snprintf(z->last, sizeof(z->last), "anonymous");
				} else {
					char sid[37];

					rv_mysql_sid_fmt(e + EV_HDR + 1, sid);
					snprintf(z->last, sizeof(z->last), "%s:%" PRIu64, sid,
						 le64(e + EV_HDR + 17));
				}
				snprintf(tag_s, sizeof(tag_s), "gtid:%s", z->last);
			}
			z->log_pos = le32(e + 13);
			if (w)
				rc = rv_dbobj_writer_record(w, "ev", *tag_s ? tag_s : NULL, e, n);
			z->bytes += n;
		}
		off += 4 + n;
	}
	return rc;
}

/* Seal [start, end) into the pending segment. */
static int seal(struct rv_mysql_stream *s, struct seal *z, const struct gtid_state *end_state,
		const unsigned char *fde, size_t fde_len)
{
	struct rv_dbobj_writer *w = NULL;
	struct rv_dbobj_hdr h = {
	    .kind = RV_DBOBJ_LOG, .from = s->pos, .to = s->pos + z->groups, .time_ms = rv_now_ms()};
	struct ebuf b = {0};
	char from_s[DOMAINS * 48], to_s[DOMAINS * 48];
	int fd, rc, n;

	gtid_fmt(&s->shipped, from_s, sizeof(from_s));
	gtid_fmt(end_state, to_s, sizeof(to_s));
	memcpy(h.gen, s->gen, RV_GEN_ID_LEN);
	snprintf(h.engine, sizeof(h.engine), "mysql");
	/* z holds the counting walk's end: the file and offset reached. */
	n = snprintf(h.meta, sizeof(h.meta),
		     "binlog_file=%s binlog_pos=%" PRIu64 " gtid_from=%s gtid=%s database=%s "
		     "transactions=%" PRIu64,
		     *z->file ? z->file : "-", z->log_pos, *from_s ? from_s : "-",
		     *to_s ? to_s : "-", s->c->database, z->groups);
	if (n >= 0 && (size_t)n < sizeof(h.meta) && s->mysql)
		n += snprintf(h.meta + n, sizeof(h.meta) - (size_t)n,
			      " binlog_from=%s:%" PRIu64 " last_gtid=%s",
			      *s->shipped.file ? s->shipped.file : "-", s->shipped.fpos,
			      *z->last ? z->last : "-");
	if (n < 0 || (size_t)n >= sizeof(h.meta))
		return rv_error(RV_EFAIL, "mysql: the GTID position is too long for a header");
	/* The writing walk starts again in the file in force at the start;
	 * rotations inside the range are in the spool. */
	snprintf(z->file, sizeof(z->file), "%s", s->ship_file);
	fd = open(s->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd == -1)
		return rv_error_errno(RV_EFAIL, errno, "mysql: a segment spool in '%s'", s->tmpdir);
	rc = rv_dbobj_writer_new(&w, &h, fd);
	rc = rc ? rc : rv_dbobj_writer_record(w, "fde", NULL, fde, fde_len);
	rc = rc ? rc : walk(s, z, NULL, w, &b);
	rc = rc ? rc : rv_dbobj_writer_finish(w);
	rv_dbobj_writer_free(w);
	free(b.p);
	if (rc) {
		close(fd);
		return rc;
	}
	s->pend_fd = fd;
	s->pend_from = h.from;
	s->pend_to = h.to;
	s->pend_ms = h.time_ms;
	s->pend_bytes = z->bytes;
	s->pend_end_off = z->end;
	s->pend_state = *end_state;
	snprintf(s->pend_file, sizeof(s->pend_file), "%s", z->file);
	return 0;
}

/* Move what is not shipped yet to the spool's start (the reader waits). */
static int compact(struct rv_mysql_stream *s)
{
	uint64_t tail = s->write_off - s->ship_off;
	char *buf;
	int rc = 0;

	if (!s->ship_off || (tail > COMPACT_TAIL && s->ship_off < COMPACT_OFF))
		return 0;
	buf = rv_malloc(64 << 10);
	for (uint64_t o = 0; o < tail && !rc;) {
		size_t k = tail - o > (64u << 10) ? 64u << 10 : (size_t)(tail - o);

		if (pread(s->spool, buf, k, (off_t)(s->ship_off + o)) != (ssize_t)k ||
		    pwrite(s->spool, buf, k, (off_t)o) != (ssize_t)k)
			rc = rv_error_errno(RV_EFAIL, errno, "mysql: compact the binlog spool");
		o += k;
	}
	free(buf);
	if (rc)
		return rc;
	s->write_off -= s->ship_off;
	s->commit_off -= s->ship_off;
	s->group_off = s->group_off >= s->ship_off ? s->group_off - s->ship_off : 0;
	s->ship_off = 0;
	if (ftruncate(s->spool, (off_t)s->write_off) == -1)
		return rv_error_errno(RV_EFAIL, errno, "mysql: truncate the binlog spool");
	return 0;
}

static int upload(struct rv_mysql_stream *s, struct rv_store *st, struct rv_mysql_stream_ship *res)
{
	char *key = rv_dbobj_log_key(s->gen, s->pend_from, s->pend_to, s->pend_ms);
	int rc = rv_store_put_fd(st, key, s->pend_fd, UINT64_MAX, NULL);

	free(key);
	if (rc)
		return rc;
	close(s->pend_fd);
	s->pend_fd = -1;
	res->from = s->pend_from;
	res->to = s->pend_to;
	res->bytes = s->pend_bytes;
	s->pos = s->pend_to;
	s->shipped = s->pend_state;
	snprintf(s->ship_file, sizeof(s->ship_file), "%s", s->pend_file);
	pthread_mutex_lock(&s->mu);
	s->ship_off = s->pend_end_off;
	rc = compact(s);
	pthread_mutex_unlock(&s->mu);
	if (rc)
		set_broken(s, "the binlog spool failed: %s", rv_errmsg());
	return 0;
}

int rv_mysql_stream_ship(struct rv_mysql_stream *s, struct rv_store *st,
			 const struct rv_mysql_snap_pos *limit, int wait_ms,
			 struct rv_mysql_stream_ship *res)
{
	char lim_s[DOMAINS * 48 + 300] = "";
	struct gtid_state lim, end_state;
	struct seal z = {0};
	unsigned char fde[FDE_MAX];
	size_t fde_len;
	bool broken;
	int rc;

	memset(res, 0, sizeof(*res));
	res->from = res->to = s->pos;
	if (s->pend_fd != -1) {
		/* The same bytes again: a put that failed may have landed. */
		if ((rc = upload(s, st, res)))
			return rc;
		if (!limit)
			return 0;
	}
	if (limit && !s->mysql) {
		if ((rc = gtid_parse(limit->gtid, &lim)))
			return rc;
		snprintf(lim_s, sizeof(lim_s), "GTID %s", limit->gtid);
	} else if (limit) {
		memset(&lim, 0, sizeof(lim));
		snprintf(lim.file, sizeof(lim.file), "%s", limit->file);
		lim.fpos = limit->pos;
		snprintf(lim_s, sizeof(lim_s), "%s:%" PRIu64, limit->file, limit->pos);
	}
	pthread_mutex_lock(&s->mu);
	if (limit) {
		int64_t until = rv_mono_ms() + wait_ms;

		while (!s->broken && !reached(s, &lim) && rv_mono_ms() < until) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		}
		if (!reached(s, &lim)) {
			char have[DOMAINS * 48 + 300];

			if (s->mysql)
				snprintf(have, sizeof(have), "%s:%" PRIu64, s->committed.file,
					 s->committed.fpos);
			else
				gtid_fmt(&s->committed, have, sizeof(have));
			snprintf(res->reason, sizeof(res->reason), "%s", s->reason);
			broken = s->broken;
			pthread_mutex_unlock(&s->mu);
			if (broken) {
				res->new_generation = true;
				return rv_error(RV_EPRECOND,
						"mysql binlog stream needs a new generation: %s",
						res->reason);
			}
			return rv_error(RV_ENET,
					"mysql: the binlog stream did not reach %s within "
					"%d ms (it is at %s)",
					lim_s, wait_ms, *have ? have : "-");
		}
	}
	broken = s->broken;
	if (!broken && !limit && s->down_since && rv_mono_ms() - s->down_since > DOWN_GRACE_MS) {
		int64_t secs = (rv_mono_ms() - s->down_since) / 1000;
		char err[300];

		snprintf(err, sizeof(err), "%s", s->down_err);
		pthread_mutex_unlock(&s->mu);
		res->down = true;
		return rv_error(RV_ENET,
				"mysql: the binlog stream has been down for %" PRId64
				" s (%s): no recovery point until it is back",
				secs, err);
	}
	z.start = s->ship_off;
	z.end = s->commit_off;
	end_state = limit ? lim : s->committed;
	fde_len = s->fde_len;
	memcpy(fde, s->fde, fde_len);
	snprintf(res->reason, sizeof(res->reason), "%s", s->reason);
	pthread_mutex_unlock(&s->mu);
	if (broken && !limit) {
		/* What arrived before the break still ships, then the chain
		 * ends there. */
		if (z.end == z.start) {
			res->new_generation = true;
			return rv_error(RV_EPRECOND,
					"mysql binlog stream needs a new generation: %s",
					res->reason);
		}
	}
	if (z.end == z.start)
		return 0;
	if (!fde_len)
		return rv_error(RV_EFAIL, "mysql: no format description event received yet");
	/* The file in force at `start`; rotations inside the range are in
	 * the spool. */
	snprintf(z.file, sizeof(z.file), "%s", s->ship_file);
	{
		/* How many transactions (and, with a limit, where it cuts). */
		struct ebuf b = {0};

		rc = walk(s, &z, limit ? &lim : NULL, NULL, &b);
		free(b.p);
		if (rc)
			return rc;
		if (!z.groups) {
			if (limit)
				s->shipped = lim; /* nothing of ours between: the state moves */
			return 0;
		}
	}
	if ((rc = seal(s, &z, &end_state, fde, fde_len)))
		return rc;
	return upload(s, st, res);
}
