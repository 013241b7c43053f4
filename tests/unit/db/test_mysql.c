/* db/mysql/ pieces that need no server: the restore target URL (what
 * `restore --db mysql://…` and `standby --db mysql://…` accept and
 * refuse), the binlog event checksum (CRC-32: the check value of
 * "123456789", and the residue of an event with its checksum), and the
 * binlog events the stream reads (event.c) — MySQL 8's built from the
 * layouts in MySQL's source documentation ("Binary Log Event", the
 * binary_log::Gtid_event, Rotate_event, Query_event, Xid_event,
 * Heartbeat_event, Format_description_event class references) and
 * MariaDB's from its Knowledge Base ("GTID_EVENT"), since no MySQL 8
 * server runs here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "db/mysql/mysql.h"

static void test_url(void **state)
{
	struct rv_mysql_conf c;

	(void)state;
	assert_int_equal(rv_mysql_url_parse("mysql://rv@db-dr:3307/ghost_dr", "pw", &c), 0);
	assert_string_equal(c.user, "rv");
	assert_string_equal(c.host, "db-dr");
	assert_int_equal(c.port, 3307);
	assert_null(c.socket);
	assert_string_equal(c.database, "ghost_dr");
	assert_string_equal(c.password, "pw");
	rv_mysql_conf_release(&c);

	assert_int_equal(
	    rv_mysql_url_parse("mysql://root@localhost/g?socket=/run/m.sock", NULL, &c), 0);
	assert_null(c.host);
	assert_string_equal(c.socket, "/run/m.sock");
	assert_string_equal(c.database, "g");
	assert_null(c.password);
	rv_mysql_conf_release(&c);

	assert_int_equal(rv_mysql_url_parse("mysql://rv@h/ghost", NULL, &c), 0);
	assert_int_equal(c.port, 3306);
	rv_mysql_conf_release(&c);

	/* a password in the URL, no user, a bad name, a bad port, other
	 * options: each refused */
	assert_int_equal(rv_mysql_url_parse("mysql://rv:secret@h/ghost", NULL, &c), RV_EUSAGE);
	assert_int_equal(rv_mysql_url_parse("mysql://h/ghost", NULL, &c), RV_EUSAGE);
	assert_int_equal(rv_mysql_url_parse("mysql://rv@h/gh-ost", NULL, &c), RV_EUSAGE);
	assert_int_equal(rv_mysql_url_parse("mysql://rv@h/", NULL, &c), RV_EUSAGE);
	assert_int_equal(rv_mysql_url_parse("mysql://rv@h:0/ghost", NULL, &c), RV_EUSAGE);
	assert_int_equal(rv_mysql_url_parse("mysql://rv@h:99999/ghost", NULL, &c), RV_EUSAGE);
	assert_int_equal(rv_mysql_url_parse("mysql://rv@h/ghost?tls=1", NULL, &c), RV_EUSAGE);
	assert_int_equal(rv_mysql_url_parse("/var/lib/ghost.db", NULL, &c), RV_EUSAGE);
	assert_false(rv_mysql_is_url("/var/lib/ghost.db"));
	assert_false(rv_mysql_is_url(NULL));
	assert_true(rv_mysql_is_url("mysql://rv@h/g"));
}

static void test_crc32(void **state)
{
	unsigned char ev[64];
	uint32_t c;

	(void)state;
	assert_int_equal(rv_mysql_crc32((const unsigned char *)"123456789", 9), 0xcbf43926u);
	assert_int_equal(rv_mysql_crc32((const unsigned char *)"", 0), 0);
	/* An event with its checksum appended little-endian, as the binlog
	 * stores it, has CRC-32's constant residue: what the apply's rewrite
	 * of a table map must produce. */
	for (size_t i = 0; i < 60; i++)
		ev[i] = (unsigned char)(i * 37 + 11);
	c = rv_mysql_crc32(ev, 60);
	ev[60] = (unsigned char)c;
	ev[61] = (unsigned char)(c >> 8);
	ev[62] = (unsigned char)(c >> 16);
	ev[63] = (unsigned char)(c >> 24);
	assert_int_equal(rv_mysql_crc32(ev, 64), 0x2144df1cu);
}

/* ---- binlog events, built from the documented layouts ---- */

static void put16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* The v4 common header (timestamp 4, type 1, server_id 4, event_size 4,
 * log_pos 4, flags 2), the body, and with `crc` the CRC-32 footer of all
 * that.  Returns the event's length. */
static size_t ev(unsigned char *out, unsigned type, uint32_t log_pos, uint16_t flags,
		 const void *body, size_t blen, int crc)
{
	size_t n = 19 + blen + (crc ? 4 : 0);

	put32(out, 1767323045);
	out[4] = (unsigned char)type;
	put32(out + 5, 1);
	put32(out + 9, (uint32_t)n);
	put32(out + 13, log_pos);
	put16(out + 17, flags);
	memcpy(out + 19, body, blen);
	if (crc)
		put32(out + 19 + blen, rv_mysql_crc32(out, 19 + blen));
	return n;
}

/* A Query event's body: thread_id 4, exec_time 4, db_len 1, error_code
 * 2, status_vars_len 2 (no status variables), the database and a NUL,
 * the statement. */
static size_t query_body(unsigned char *b, const char *db, const char *stmt)
{
	size_t dl = strlen(db), sl = strlen(stmt);

	memset(b, 0, 13);
	put32(b, 42);
	b[8] = (unsigned char)dl;
	memcpy(b + 13, db, dl + 1);
	memcpy(b + 14 + dl, stmt, sl);
	return 14 + dl + sl;
}

/* MySQL's Gtid_event body: GTID_FLAGS 1, SID 16, GNO 8, lt_type 1 (2),
 * last_committed 8, sequence_number 8, then immediate_commit_timestamp 7
 * (top bit clear: no original timestamp follows). */
static size_t gtid_body(unsigned char *b, const unsigned char sid[16], uint64_t gno)
{
	memset(b, 0, 49);
	b[0] = 0; /* rows only: no FLAG_MAY_HAVE_SBR */
	memcpy(b + 1, sid, 16);
	put64(b + 17, gno);
	b[25] = 2;
	put64(b + 26, 6);
	put64(b + 34, 7);
	put32(b + 42, 0x5e1f2a3b); /* microseconds since the epoch, 7 bytes */
	return 49;
}

struct seen {
	enum rv_mysql_ev_kind kind;
	enum rv_mysql_step step;
};

static struct seen feed(struct rv_mysql_trx *t, const unsigned char *p, size_t n,
			enum rv_mysql_crc crc)
{
	struct rv_mysql_ev e;
	struct seen r;

	assert_int_equal(rv_mysql_ev_parse(p, n, crc, &e), 0);
	r.kind = e.kind;
	r.step = rv_mysql_trx_step(t, &e);
	return r;
}

/* What a MySQL 8 dump from binlog.000007:4 sends: the artificial Rotate
 * (before any Format_description: its footer is recognised), the FDE,
 * Previous_gtids, a GTID transaction (BEGIN, table map, rows, XID), an
 * anonymous DDL (no BEGIN: its one statement ends it), a heartbeat, a
 * Heartbeat v2, a COMMIT-ended transaction, and the rotation to the next
 * file. */
static void test_mysql8_stream(void **state)
{
	static const unsigned char sid[16] = {0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1,
					      0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62};
	static const unsigned char zero[16];
	unsigned char p[512], b[256];
	struct rv_mysql_trx t = {0};
	struct rv_mysql_ev e;
	struct seen r;
	char uuid[37];
	size_t n, bl;

	(void)state;
	/* Rotate: position 8, then the file name. */
	put64(b, 4);
	memcpy(b + 8, "binlog.000007", 13);
	n = ev(p, RV_MYEV_T_ROTATE, 0, 0x20, b, 21, 1);
	assert_int_equal(rv_mysql_ev_parse(p, n, RV_MYSQL_CRC_UNKNOWN, &e), 0);
	assert_int_equal(e.kind, RV_MYEV_ROTATE);
	assert_int_equal(e.rotate_pos, 4);
	assert_int_equal(e.name_len, 13);
	assert_memory_equal(e.name, "binlog.000007", 13);
	assert_int_equal(rv_mysql_trx_step(&t, &e), RV_MYSTEP_OUTSIDE);
	/* The same without a footer: the whole rest is the name. */
	n = ev(p, RV_MYEV_T_ROTATE, 0, 0x20, b, 21, 0);
	assert_int_equal(rv_mysql_ev_parse(p, n, RV_MYSQL_CRC_UNKNOWN, &e), 0);
	assert_int_equal(e.name_len, 13);

	/* Format_description: binlog_version 2, server_version 50,
	 * create_timestamp 4, header_length 1, post-header lengths (41 types
	 * here), checksum_alg 1 (CRC32), footer. */
	memset(b, 0, sizeof(b));
	put16(b, 4);
	memcpy(b + 2, "8.0.36", 6);
	b[56] = 19;
	for (int i = 0; i < 41; i++)
		b[57 + i] = 8;
	b[57 + 41] = 1;
	n = ev(p, RV_MYEV_T_FDE, 0, 0, b, 57 + 41 + 1, 1);
	assert_int_equal(rv_mysql_ev_parse(p, n, RV_MYSQL_CRC_UNKNOWN, &e), 0);
	assert_int_equal(e.kind, RV_MYEV_FDE);
	assert_true(e.fde_crc);
	/* checksum_alg 0 (OFF): the footer bytes are still there. */
	b[57 + 41] = 0;
	n = ev(p, RV_MYEV_T_FDE, 0, 0, b, 57 + 41 + 1, 1);
	assert_int_equal(rv_mysql_ev_parse(p, n, RV_MYSQL_CRC_UNKNOWN, &e), 0);
	assert_false(e.fde_crc);

	/* Previous_gtids (35): skipped, outside any transaction. */
	memset(b, 0, 8);
	n = ev(p, RV_MYEV_T_PREVIOUS_GTIDS, 157, 0, b, 8, 1);
	r = feed(&t, p, n, RV_MYSQL_CRC_ON);
	assert_int_equal(r.kind, RV_MYEV_SKIP);
	assert_int_equal(r.step, RV_MYSTEP_OUTSIDE);

	/* A GTID transaction. */
	bl = gtid_body(b, sid, 23);
	n = ev(p, RV_MYEV_T_MYSQL_GTID, 157 + 19 + 49 + 4, 0, b, bl, 1);
	assert_int_equal(rv_mysql_ev_parse(p, n, RV_MYSQL_CRC_ON, &e), 0);
	assert_int_equal(e.kind, RV_MYEV_TRX_START);
	assert_true(e.mysql_gtid);
	assert_false(e.anonymous);
	assert_int_equal(e.gno, 23);
	rv_mysql_sid_fmt(e.sid, uuid);
	assert_string_equal(uuid, "3e11fa47-71ca-11e1-9e33-c80aa9429562");
	assert_int_equal(rv_mysql_trx_step(&t, &e), RV_MYSTEP_START);
	bl = query_body(b, "ghost", "BEGIN");
	n = ev(p, RV_MYEV_T_QUERY, 300, 8, b, bl, 1);
	r = feed(&t, p, n, RV_MYSQL_CRC_ON);
	assert_int_equal(r.kind, RV_MYEV_QUERY);
	assert_int_equal(r.step, RV_MYSTEP_INSIDE);
	memset(b, 0, 40); /* a Table_map and a Write_rows v2: opaque here */
	n = ev(p, 19, 360, 0, b, 40, 1);
	assert_int_equal(feed(&t, p, n, RV_MYSQL_CRC_ON).step, RV_MYSTEP_INSIDE);
	n = ev(p, 30, 420, 0, b, 40, 1);
	r = feed(&t, p, n, RV_MYSQL_CRC_ON);
	assert_int_equal(r.kind, RV_MYEV_OTHER);
	assert_int_equal(r.step, RV_MYSTEP_INSIDE);
	put64(b, 991); /* Xid: the xid, 8 bytes */
	n = ev(p, RV_MYEV_T_XID, 451, 0, b, 8, 1);
	r = feed(&t, p, n, RV_MYSQL_CRC_ON);
	assert_int_equal(r.kind, RV_MYEV_XID);
	assert_int_equal(r.step, RV_MYSTEP_END);

	/* An anonymous GTID (gtid_mode OFF: SID zero, GNO 0) and a DDL. */
	bl = gtid_body(b, zero, 0);
	n = ev(p, RV_MYEV_T_MYSQL_ANON_GTID, 523, 0, b, bl, 1);
	assert_int_equal(rv_mysql_ev_parse(p, n, RV_MYSQL_CRC_ON, &e), 0);
	assert_true(e.anonymous);
	assert_int_equal(rv_mysql_trx_step(&t, &e), RV_MYSTEP_START);
	bl = query_body(b, "ghost", "ALTER TABLE posts ADD COLUMN excerpt TEXT");
	n = ev(p, RV_MYEV_T_QUERY, 640, 0, b, bl, 1);
	assert_int_equal(rv_mysql_ev_parse(p, n, RV_MYSQL_CRC_ON, &e), 0);
	assert_int_equal(e.db_len, 5);
	assert_memory_equal(e.db, "ghost", 5);
	assert_int_equal(e.stmt_len, strlen("ALTER TABLE posts ADD COLUMN excerpt TEXT"));
	assert_int_equal(rv_mysql_trx_step(&t, &e), RV_MYSTEP_END);

	/* Heartbeats: the current file's name (27); TLV fields (41). */
	n = ev(p, RV_MYEV_T_HEARTBEAT, 640, 0, "binlog.000007", 13, 1);
	assert_int_equal(rv_mysql_ev_parse(p, n, RV_MYSQL_CRC_ON, &e), 0);
	assert_int_equal(e.kind, RV_MYEV_HEARTBEAT);
	assert_memory_equal(e.name, "binlog.000007", 13);
	assert_int_equal(rv_mysql_trx_step(&t, &e), RV_MYSTEP_OUTSIDE);
	memcpy(b,
	       "\x01\x0d"
	       "binlog.000007"
	       "\x02\x02\x80\x02",
	       19);
	n = ev(p, RV_MYEV_T_HEARTBEAT_V2, 0, 0, b, 19, 1);
	r = feed(&t, p, n, RV_MYSQL_CRC_ON);
	assert_int_equal(r.kind, RV_MYEV_HEARTBEAT);
	assert_int_equal(r.step, RV_MYSTEP_OUTSIDE);

	/* A transaction ended by a COMMIT Query (a non-transactional
	 * engine's), then the rotation to the next file. */
	bl = gtid_body(b, sid, 24);
	n = ev(p, RV_MYEV_T_MYSQL_GTID, 712, 0, b, bl, 1);
	assert_int_equal(feed(&t, p, n, RV_MYSQL_CRC_ON).step, RV_MYSTEP_START);
	bl = query_body(b, "ghost", "BEGIN");
	n = ev(p, RV_MYEV_T_QUERY, 780, 8, b, bl, 1);
	assert_int_equal(feed(&t, p, n, RV_MYSQL_CRC_ON).step, RV_MYSTEP_INSIDE);
	bl = query_body(b, "ghost", "COMMIT");
	n = ev(p, RV_MYEV_T_QUERY, 850, 8, b, bl, 1);
	assert_int_equal(feed(&t, p, n, RV_MYSQL_CRC_ON).step, RV_MYSTEP_END);
	put64(b, 4);
	memcpy(b + 8, "binlog.000008", 13);
	n = ev(p, RV_MYEV_T_ROTATE, 900, 0, b, 21, 1);
	assert_int_equal(rv_mysql_ev_parse(p, n, RV_MYSQL_CRC_ON, &e), 0);
	assert_int_equal(e.kind, RV_MYEV_ROTATE);
	assert_memory_equal(e.name, "binlog.000008", 13);
	assert_int_equal(e.name_len, 13);
	assert_int_equal(rv_mysql_trx_step(&t, &e), RV_MYSTEP_OUTSIDE);

	/* binlog_checksum=NONE: no footer, the same events. */
	bl = gtid_body(b, sid, 25);
	n = ev(p, RV_MYEV_T_MYSQL_GTID, 60, 0, b, bl, 0);
	assert_int_equal(feed(&t, p, n, RV_MYSQL_CRC_OFF).step, RV_MYSTEP_START);
	put64(b, 992);
	n = ev(p, RV_MYEV_T_XID, 91, 0, b, 8, 0);
	assert_int_equal(feed(&t, p, n, RV_MYSQL_CRC_OFF).step, RV_MYSTEP_END);
	(void)r;
}

/* What the stream refuses or calls damaged: a bad CRC, a length that
 * disagrees with the header, a body too short for its type, a compressed
 * transaction (Transaction_payload, 40), a tagged GTID (42). */
static void test_mysql8_refusals(void **state)
{
	unsigned char p[256], b[128];
	struct rv_mysql_ev e;
	size_t n;

	(void)state;
	put64(b, 991);
	n = ev(p, RV_MYEV_T_XID, 451, 0, b, 8, 1);
	assert_int_equal(rv_mysql_ev_parse(p, n, RV_MYSQL_CRC_ON, &e), 0);
	p[20] ^= 0x40; /* one bit of the xid */
	assert_int_equal(rv_mysql_ev_parse(p, n, RV_MYSQL_CRC_ON, &e), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "CRC-32"));
	/* Read as unchecked (binlog_checksum=NONE) the damage passes: the
	 * footer is the only guard. */
	assert_int_equal(rv_mysql_ev_parse(p, n, RV_MYSQL_CRC_OFF, &e), 0);
	n = ev(p, RV_MYEV_T_XID, 451, 0, b, 8, 1);
	assert_int_equal(rv_mysql_ev_parse(p, n - 1, RV_MYSQL_CRC_ON, &e), RV_ECORRUPT);
	n = ev(p, RV_MYEV_T_MYSQL_GTID, 451, 0, b, 10, 1);
	assert_int_equal(rv_mysql_ev_parse(p, n, RV_MYSQL_CRC_ON, &e), RV_ECORRUPT);
	assert_int_equal(rv_mysql_ev_parse(p, 10, RV_MYSQL_CRC_ON, &e), RV_ECORRUPT);
	memset(b, 0, 32);
	n = ev(p, RV_MYEV_T_PAYLOAD, 600, 0, b, 32, 1);
	assert_int_equal(rv_mysql_ev_parse(p, n, RV_MYSQL_CRC_ON, &e), RV_ENOTSUP);
	assert_non_null(strstr(rv_errmsg(), "binlog_transaction_compression"));
	n = ev(p, RV_MYEV_T_MYSQL_TAGGED_GTID, 600, 0, b, 32, 1);
	assert_int_equal(rv_mysql_ev_parse(p, n, RV_MYSQL_CRC_ON, &e), RV_ENOTSUP);
}

/* MariaDB's GTID event (seq_no 8, domain_id 4, flags 1): a standalone
 * group (DDL) ends at its statement; a transaction at its XID. */
static void test_mariadb_gtid(void **state)
{
	unsigned char p[256], b[128];
	struct rv_mysql_trx t = {0};
	struct rv_mysql_ev e;
	size_t n, bl;

	(void)state;
	memset(b, 0, 19);
	put64(b, 5121);
	put32(b + 8, 0);
	b[12] = 1; /* FL_STANDALONE */
	n = ev(p, RV_MYEV_T_MARIADB_GTID, 400, 8, b, 19, 1);
	assert_int_equal(rv_mysql_ev_parse(p, n, RV_MYSQL_CRC_ON, &e), 0);
	assert_int_equal(e.seq, 5121);
	assert_true(e.standalone);
	assert_false(e.mysql_gtid);
	assert_int_equal(rv_mysql_trx_step(&t, &e), RV_MYSTEP_START);
	bl = query_body(b, "ghost", "CREATE TABLE t (id INT PRIMARY KEY)");
	n = ev(p, RV_MYEV_T_QUERY, 500, 0, b, bl, 1);
	assert_int_equal(feed(&t, p, n, RV_MYSQL_CRC_ON).step, RV_MYSTEP_END);
	memset(b, 0, 19);
	put64(b, 5122);
	n = ev(p, RV_MYEV_T_MARIADB_GTID, 540, 8, b, 19, 1);
	assert_int_equal(feed(&t, p, n, RV_MYSQL_CRC_ON).step, RV_MYSTEP_START);
	put64(b, 7);
	n = ev(p, RV_MYEV_T_XID, 571, 0, b, 8, 1);
	assert_int_equal(feed(&t, p, n, RV_MYSQL_CRC_ON).step, RV_MYSTEP_END);
}

/* rv_mysql_escape against a plain byte-by-byte reference: every length up
 * to 80 with a byte to escape at every position (the SSE2 blocks, the
 * bytes after them, both ends), random buffers over all 256 byte values,
 * and nothing written past the length rv_mysql_escaped_len counts. */
static size_t ref_escape(char *out, const unsigned char *v, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const char *e = NULL;

		switch (v[i]) {
		case 0:
			e = "\\0";
			break;
		case '\n':
			e = "\\n";
			break;
		case '\r':
			e = "\\r";
			break;
		case '\\':
			e = "\\\\";
			break;
		case '\'':
			e = "\\'";
			break;
		case 26:
			e = "\\Z";
			break;
		}
		if (e) {
			memcpy(out + k, e, 2);
			k += 2;
		} else {
			out[k++] = (char)v[i];
		}
	}
	return k;
}

static void escape_one(const unsigned char *v, size_t n)
{
	static char want[2 * 4096 + 16], have[2 * 4096 + 16];
	size_t wn = ref_escape(want, v, n), hn;

	memset(have, 0x55, sizeof(have));
	assert_int_equal(rv_mysql_escaped_len((const char *)v, n), wn);
	hn = rv_mysql_escape(have, (const char *)v, n);
	assert_int_equal(hn, wn);
	assert_memory_equal(have, want, wn);
	for (size_t i = wn; i < wn + 16; i++)
		assert_int_equal((unsigned char)have[i], 0x55);
}

static void test_escape(void **state)
{
	static const unsigned char special[] = {0, '\n', '\r', '\\', '\'', 26, '"', 0xff};
	unsigned char v[4096];
	uint32_t x = 12345;

	(void)state;
	for (size_t n = 0; n <= 80; n++) {
		memset(v, 'a', n);
		escape_one(v, n);
		for (size_t at = 0; at < n; at++)
			for (size_t s = 0; s < sizeof(special); s++) {
				memset(v, 'a', n);
				v[at] = special[s];
				escape_one(v, n);
			}
	}
	for (int round = 0; round < 200; round++) {
		size_t n = (size_t)(x % sizeof(v));

		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			/* every 256 values, and runs of text between them */
			v[i] = (unsigned char)(x % 7 ? 'a' + x % 26 : x >> 8);
		}
		escape_one(v, n);
	}
	/* a value in text: the quote escaped, `"` and UTF-8 as they are */
	{
		static const char t[] = "Zoë's \"post\" — 🎉 \\ line\nnext";
		char o[128];
		size_t k = rv_mysql_escape(o, t, sizeof(t) - 1);

		assert_int_equal(k, sizeof(t) - 1 + 3);
		assert_memory_equal(o, "Zoë\\'s \"post\" — 🎉 \\\\ line\\nnext", k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_url),
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_crc32),
	    cmocka_unit_test(test_mysql8_stream),
	    cmocka_unit_test(test_mysql8_refusals),
	    cmocka_unit_test(test_mariadb_gtid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
