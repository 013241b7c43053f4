/* mysql.h - MySQL 8 / MariaDB through Connector/C (libmariadb): the
 * connection every part of src/db/mysql/ opens, the server checks of
 * `config check`, and the snapshot and restore of a database (the binlog
 * stream: stream.c and event.c).
 *
 * What differs between the two servers stays in this folder: the snapshot
 * position (MariaDB's binlog_snapshot_* status without a lock; elsewhere a
 * moment of FLUSH TABLES WITH READ LOCK), the privilege names (BINLOG
 * MONITOR on MariaDB 10.5+, REPLICATION CLIENT on MySQL), the retention
 * variables.  Tested against MariaDB 10.11; MySQL 8 is built to its
 * documentation only (docs/FORMAT.md, "Database objects (MySQL)"). */
#ifndef RV_DB_MYSQL_H
#define RV_DB_MYSQL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <mysql.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"

/* The derived replica server_id when database.mysql.server_id is 0:
 * 1381367808 (0x52560000, "RV") + FNV-1a-32(site) mod 65536. */
uint32_t rv_mysql_server_id(const struct rv_mysql_conf *c, const char *site);

/* Connect as the configured account to `database` (NULL: the configured
 * one; "" none), utf8mb4, with the configured TLS and timeouts.  Errors:
 * RV_ENET (unreachable, TLS handshake), RV_EAUTH (access denied),
 * RV_ENOTFOUND (no such database), RV_EFAIL; the message names the server
 * and never a secret. */
int rv_mysql_connect(MYSQL **out, const struct rv_mysql_conf *c,
		     const char *database) RV_WARN_UNUSED;
/* The same with a read timeout of `read_timeout_s` seconds (the binlog
 * stream's: a dead link is noticed within it). */
int rv_mysql_connect_rt(MYSQL **out, const struct rv_mysql_conf *c, const char *database,
			unsigned read_timeout_s) RV_WARN_UNUSED;
/* A restore target `mysql://USER@HOST[:PORT]/DATABASE` or
 * `mysql://USER@localhost/DATABASE?socket=PATH` into `out` (fresh strings;
 * rv_mysql_conf_release), with `password` (NULL: none).  No password in
 * the URL: it would show in the process list.  RV_EUSAGE otherwise. */
bool rv_mysql_is_url(const char *s);
int rv_mysql_url_parse(const char *url, const char *password,
		       struct rv_mysql_conf *out) RV_WARN_UNUSED;
void rv_mysql_conf_release(struct rv_mysql_conf *c);
/* "host:port" or "socket PATH", for messages. */
const char *rv_mysql_where(const struct rv_mysql_conf *c, char *buf, size_t n);
/* Run one statement; on failure the message is "<what>: <server error>". */
int rv_mysql_exec(MYSQL *m, const char *what, const char *sql) RV_WARN_UNUSED;
/* The first column of the first row of `sql` into `out` (NULL → ""),
 * capped by out's cap; RV_ENOTFOUND when no row. */
int rv_mysql_value(MYSQL *m, const char *sql, struct rv_buf *out) RV_WARN_UNUSED;
/* The RV_E* a server or client error number stands for. */
int rv_mysql_result(unsigned err);
/* `name` quoted as an identifier (`a``b`) appended to `b`. */
int rv_mysql_ident(struct rv_buf *b, const char *name) RV_WARN_UNUSED;
/* The body of a string literal holding the `n` bytes at `v` (text in
 * utf8mb4, or a binary string after `_binary`), backslash-escaped for a
 * load that keeps backslash escapes: NUL, ', \, newline, CR and ^Z
 * (escape.c); into `out`, which has room for rv_mysql_escaped_len(v, n)
 * bytes (2 * n always suffice); nothing is written past them.  Returns
 * the bytes written. */
size_t rv_mysql_escape(char *out, const char *v, size_t n);
size_t rv_mysql_escaped_len(const char *v, size_t n);
bool rv_mysql_is_mariadb(MYSQL *m);

/* config check: connect, then one line on `out` for each problem, each
 * naming its fix.  Returns 0 when none (after one "ok: mysql …" line on
 * stdout saying what was found), else the RV_E* of the first line
 * (RV_ENET unreachable, RV_EAUTH refused or missing privileges,
 * RV_ENOTFOUND no database, RV_EUSAGE server settings), with the message
 * "<n> problem(s) …". */
int rv_mysql_check(const struct rv_config *c, FILE *out) RV_WARN_UNUSED;

/* ---- snapshot (snapshot.c) ---- */

/* Where a snapshot sits in the server's history. */
struct rv_mysql_snap_pos {
	char file[256];	  /* the binlog file (empty: binary logging off) */
	uint64_t pos;	  /* and the offset in it */
	char gtid[1024];  /* MariaDB: BINLOG_GTID_POS(file,pos); MySQL: gtid_executed */
	char server[128]; /* @@version */
	uint64_t tables, views, triggers, routines, rows;
	uint64_t bytes; /* body bytes, before compression */
	bool locked;	/* the position needed FLUSH TABLES WITH READ LOCK */
};

/* Dump `c->database` at one consistent moment into the store as the
 * snapshot object of generation `gen` at position `at` (streamed through a
 * pipe: nothing is held whole or spooled).  `key_out` (may be NULL) gets
 * the key written (fresh string). */
struct rv_store;
int rv_mysql_snapshot(const struct rv_mysql_conf *c, struct rv_store *st, const char *gen,
		      uint64_t at, struct rv_mysql_snap_pos *res, char **key_out) RV_WARN_UNUSED;
/* The same, with the position decided once the consistent point is
 * known (before anything is written): `at_fn` gets the point and says
 * the position (the binlog stream ships up to exactly that point). */
typedef int (*rv_mysql_at_fn)(void *ud, const struct rv_mysql_snap_pos *p, uint64_t *at);
int rv_mysql_snapshot_at(const struct rv_mysql_conf *c, struct rv_store *st, const char *gen,
			 rv_mysql_at_fn at_fn, void *ud, struct rv_mysql_snap_pos *res,
			 char **key_out) RV_WARN_UNUSED;

/* Load the snapshot object `key` into database `dbname` on the server of
 * `c` (it must not exist: created by the load; on any failure it is
 * dropped again, so a database at that name is a whole restore).
 * `res` (may be NULL) gets the snapshot's position from its header. */
int rv_mysql_load(const struct rv_mysql_conf *c, struct rv_store *st, const char *key,
		  const char *gen, uint64_t pos, const char *dbname,
		  struct rv_mysql_snap_pos *res) RV_WARN_UNUSED;
/* The same, then `after` on the load's connection (default database
 * `dbname`) before the marker goes: the binlog segments; `force` drops a
 * database already at the name that is not an unfinished restore. */
typedef int (*rv_mysql_after_fn)(void *ud, MYSQL *m, const struct rv_mysql_snap_pos *snap);
int rv_mysql_load_ex(const struct rv_mysql_conf *c, struct rv_store *st, const char *key,
		     const char *gen, uint64_t pos, const char *dbname, bool force,
		     rv_mysql_after_fn after, void *ud) RV_WARN_UNUSED;

/* ---- the binlog stream (stream.c) ----
 *
 * A replica connection (Connector/C's mariadb_rpl) from a GTID position,
 * read by its own thread into a spool file (O_TMPFILE: a transaction of
 * any size costs disk, not memory); every complete transaction (GTID
 * event to XID, COMMIT, or a standalone statement) moves the committed
 * end and wakes an eventfd.  ship puts the committed transactions into
 * the store as one log segment (docs/FORMAT.md, "Database objects
 * (MySQL)").  Positions count transactions shipped in the generation.
 * MariaDB from a GTID position; MySQL 8 (built to its documentation
 * only) from a binlog file and offset, its transactions found by
 * event.c. */
struct rv_mysql_stream;

struct rv_mysql_stream_ship {
	uint64_t from, to, bytes;
	bool new_generation;
	bool down; /* failed because the stream is down (not the store) */
	char reason[200];
};

/* Start streaming from the snapshot position `from`: MariaDB after its
 * GTID position (`from->gtid`, "" none: from the first binlog); MySQL 8
 * (`mariadb` false) at its binlog file and offset, resumed after a
 * reconnect at the file and offset after the last complete transaction.
 * `pos` is revenant's position there. */
int rv_mysql_stream_start(struct rv_mysql_stream **out, const struct rv_mysql_conf *c,
			  uint32_t server_id, const char *gen, bool mariadb,
			  const struct rv_mysql_snap_pos *from, uint64_t pos) RV_WARN_UNUSED;
void rv_mysql_stream_free(struct rv_mysql_stream *s);
/* Ship every committed transaction; with `limit` (a later snapshot's
 * position: its GTID on MariaDB, its file and offset on MySQL) only
 * those before it, after waiting (up to `wait_ms`) for the stream to
 * reach it.  RV_EPRECOND with new_generation set when the stream cannot
 * continue. */
int rv_mysql_stream_ship(struct rv_mysql_stream *s, struct rv_store *st,
			 const struct rv_mysql_snap_pos *limit, int wait_ms,
			 struct rv_mysql_stream_ship *res) RV_WARN_UNUSED;
uint64_t rv_mysql_stream_pos(const struct rv_mysql_stream *s);
int rv_mysql_stream_fd(const struct rv_mysql_stream *s);
/* 1 when transactions were committed since the last call, else 0. */
int rv_mysql_stream_changes(struct rv_mysql_stream *s);

/* ---- binlog events (event.c) ----
 *
 * One event's bytes (19-byte header first, the CRC-32 footer included)
 * read by the layouts MySQL's and MariaDB's documentation give (event.c
 * names them): the header, the footer checked, and what the stream needs
 * of the bodies. */
enum {
	RV_MYEV_T_QUERY = 2,
	RV_MYEV_T_STOP = 3,
	RV_MYEV_T_ROTATE = 4,
	RV_MYEV_T_FDE = 15,
	RV_MYEV_T_XID = 16,
	RV_MYEV_T_HEARTBEAT = 27,
	RV_MYEV_T_MYSQL_GTID = 33,
	RV_MYEV_T_MYSQL_ANON_GTID = 34,
	RV_MYEV_T_PREVIOUS_GTIDS = 35,
	RV_MYEV_T_PAYLOAD = 40,
	RV_MYEV_T_HEARTBEAT_V2 = 41,
	RV_MYEV_T_MYSQL_TAGGED_GTID = 42,
	RV_MYEV_T_MARIADB_CHECKPOINT = 161,
	RV_MYEV_T_MARIADB_GTID = 162,
	RV_MYEV_T_MARIADB_GTID_LIST = 163,
};

enum rv_mysql_ev_kind {
	RV_MYEV_OTHER,	   /* an event inside a transaction (rows, table map, ...) */
	RV_MYEV_FDE,	   /* Format_description */
	RV_MYEV_ROTATE,	   /* the next file (artificial at a dump's start) */
	RV_MYEV_TRX_START, /* MariaDB GTID, MySQL GTID or anonymous GTID */
	RV_MYEV_QUERY,
	RV_MYEV_XID,
	RV_MYEV_HEARTBEAT, /* 27, or MySQL 8.0.26+'s v2 (41) */
	RV_MYEV_SKIP,	   /* outside transactions: previous GTIDs, GTID lists, stop */
	RV_MYEV_REFUSED,   /* compressed transactions, tagged GTIDs */
};

/* Whether events carry the CRC-32 footer: the last Format_description
 * says; before one, a footer is recognised by checking. */
enum rv_mysql_crc { RV_MYSQL_CRC_UNKNOWN, RV_MYSQL_CRC_OFF, RV_MYSQL_CRC_ON };

struct rv_mysql_ev {
	unsigned type;
	uint32_t when, server_id, len, log_pos; /* log_pos: the event's end in its file */
	uint16_t flags;
	enum rv_mysql_ev_kind kind;
	bool fde_crc;	       /* FDE: its checksum_alg is CRC32 */
	bool mysql_gtid;       /* TRX_START from MySQL: "BEGIN" follows unless DDL */
	bool anonymous;	       /* MySQL's ANONYMOUS_GTID (gtid_mode OFF) */
	unsigned char sid[16]; /* MySQL: the source UUID */
	uint64_t gno;	       /* MySQL: the transaction number */
	bool standalone;       /* MariaDB: FL_STANDALONE (no XID/COMMIT follows) */
	uint32_t domain;       /* MariaDB */
	uint64_t seq;	       /* MariaDB */
	uint64_t rotate_pos;   /* ROTATE: the position in the next file */
	const char *name;      /* ROTATE: the next file; HEARTBEAT (27): the current */
	size_t name_len;
	const char *db, *stmt; /* QUERY (pointers into the event) */
	size_t db_len, stmt_len;
};

/* RV_ECORRUPT: a length that disagrees with the header, a body too short
 * for its type, a failed CRC-32; RV_ENOTSUP: a Transaction_payload (40)
 * or tagged GTID (42) event, with the message saying what to change. */
int rv_mysql_ev_parse(const unsigned char *p, size_t n, enum rv_mysql_crc crc,
		      struct rv_mysql_ev *out) RV_WARN_UNUSED;
/* A Query "BEGIN"; an XID or a Query "COMMIT"/"ROLLBACK". */
bool rv_mysql_ev_is_begin(const struct rv_mysql_ev *e);
bool rv_mysql_ev_is_end(const struct rv_mysql_ev *e);
/* Transaction boundaries, the same for both servers: a transaction
 * starts at a GTID event (MariaDB's, MySQL's, MySQL's anonymous) and ends
 * at its XID, a Query "COMMIT"/"ROLLBACK", or its one statement (MariaDB:
 * FL_STANDALONE; MySQL: a GTID event not followed by "BEGIN", i.e. DDL).
 * START also when one was open (it never ended: the caller drops it). */
enum rv_mysql_step { RV_MYSTEP_OUTSIDE, RV_MYSTEP_START, RV_MYSTEP_INSIDE, RV_MYSTEP_END };
struct rv_mysql_trx {
	bool in, await_begin, standalone;
};
enum rv_mysql_step rv_mysql_trx_step(struct rv_mysql_trx *t, const struct rv_mysql_ev *e);
/* A MySQL SID as its UUID text (36 characters and a NUL). */
void rv_mysql_sid_fmt(const unsigned char sid[16], char out[37]);

/* ---- applying segments (apply.c) ---- */

/* The CRC-32 (ISO-HDLC) binlog event checksums use. */
uint32_t rv_mysql_crc32(const unsigned char *p, size_t n);

/* Apply the log segments of `gen` from position `from` to `to`
 * (RV_DBTGT_POS_LATEST: as far as they chain) on `m`, whose default
 * database is `dbname`; row events and statements of the source's
 * database only.  `*reached` gets the position reached and `*last_ms`
 * the last segment's time.  Every segment is verified whole before a
 * statement of it runs: RV_ECORRUPT (a damaged or missing segment). */
int rv_mysql_apply_log(MYSQL *m, struct rv_store *st, const char *gen, uint64_t from, uint64_t to,
		       const char *dbname, bool standby, uint64_t *reached, int64_t *last_ms,
		       unsigned *segments) RV_WARN_UNUSED;
/* The restore of db/target.h (load.c); with `standby` the database
 * also gets RV_MYSQL_STANDBY_TABLE and keeps it. */
struct rv_dbtgt_restore_opts;
struct rv_dbtgt_point;
int rv_mysql_restore(struct rv_store *st, const struct rv_dbtgt_restore_opts *o, bool standby,
		     struct rv_dbtgt_point *res) RV_WARN_UNUSED;
/* A standby's state inside its database (follow.c): one row (id 1) with
 * gen, pos, time_ms, moved in the same transaction as each transaction
 * applied (`standby` above). */
#define RV_MYSQL_STANDBY_TABLE "revenant_standby"

/* database.mysql.snapshot_chunk's default (db/db_config.c says "64MiB"),
 * also for a configuration made from a URL. */
#define RV_MYSQL_SNAPSHOT_CHUNK (64u << 20)
/* db/target.h's follower functions for rv_dbtgt_mysql (follow.c). */
struct rv_dbtgt_follow_opts;
int rv_mysql_follow_open(void **h, struct rv_store *st,
			 const struct rv_dbtgt_follow_opts *o) RV_WARN_UNUSED;
void rv_mysql_follow_close(void *h);
bool rv_mysql_follow_at(const void *h, struct rv_dbtgt_point *p);
int rv_mysql_follow_go(void *h, const char *gen, uint64_t pos) RV_WARN_UNUSED;
int rv_mysql_follow_promote(void *h) RV_WARN_UNUSED;
bool rv_mysql_is_ghosts(const struct rv_dbtgt_follow_opts *o);
/* inspect.c: target.h's inspect and drop (o->target: the database). */
struct rv_dbtgt_inspect;
int rv_mysql_inspect(const struct rv_dbtgt_follow_opts *o,
		     int (*fn)(void *ud, const char *id, const char *column, const char *text,
			       size_t n),
		     void *ud, struct rv_dbtgt_inspect *out) RV_WARN_UNUSED;
int rv_mysql_drop(const struct rv_dbtgt_follow_opts *o) RV_WARN_UNUSED;
bool rv_mysql_exists(const struct rv_dbtgt_follow_opts *o);
int rv_mysql_save_aside(const struct rv_dbtgt_follow_opts *o, const char *dir, const char *stamp,
			char *where, size_t n) RV_WARN_UNUSED;

#endif
