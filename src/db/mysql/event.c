/* event.c - one binlog event read from its bytes (mysql.h, "binlog
 * events"): the common header, the checksum footer and the few bodies the
 * stream needs to find transaction boundaries and positions, for MariaDB
 * and MySQL 8 alike.
 *
 * The layouts, as documented (no code taken from either server):
 *   - the v4 common header (19 bytes: timestamp 4, type 1, server_id 4,
 *     event_size 4, log_pos 4, flags 2, little-endian) and the CRC-32
 *     footer (4 bytes, ISO-HDLC CRC of every byte before it, present when
 *     the Format_description event's checksum_alg byte — the fifth byte
 *     from its end — is 1): MySQL Source Code Documentation, "Binary Log
 *     Event" / "Binlog Event Header" and binary_log::Format_description_event;
 *     MariaDB Knowledge Base, "Replication Protocol";
 *   - Query (2): post-header thread_id 4, exec_time 4, db_len 1,
 *     error_code 2, status_vars_len 2; then the status variables, the
 *     database name and a NUL, then the statement (binary_log::Query_event);
 *   - Rotate (4): position 8, then the next file's name to the footer
 *     (binary_log::Rotate_event);
 *   - XID (16): the xid 8 (binary_log::Xid_event);
 *   - Heartbeat (27): the current file's name (binary_log::Heartbeat_event);
 *     Heartbeat v2 (41, MySQL 8.0.26+): TLV fields (file, position), read
 *     as liveness only (binary_log::Heartbeat_event_v2);
 *   - MySQL GTID (33) and anonymous GTID (34): GTID_FLAGS 1, SID 16 (the
 *     source's UUID, bytes in order), GNO 8, then logical-clock and
 *     commit-timestamp fields revenant does not need (42 bytes of
 *     post-header since 5.7; 25 in 5.6) (binary_log::Gtid_event); a
 *     transaction is the GTID event, then a Query "BEGIN" … XID (or Query
 *     "COMMIT"), or for DDL the GTID event and one Query;
 *   - Previous_gtids (35): the set of GTIDs before this file, skipped;
 *   - Transaction_payload (40, binlog_transaction_compression): a
 *     compressed transaction — refused (binary_log::Transaction_payload_event);
 *   - MariaDB GTID (162): seq_no 8, domain_id 4, flags 1 (bit 0
 *     FL_STANDALONE: no XID or COMMIT follows) (MariaDB KB, "GTID_EVENT").
 */
#include "db/mysql/mysql.h"

#include <inttypes.h>
#include <string.h>
#include <strings.h>

#define HDR 19

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int short_event(unsigned type, uint32_t at)
{
	return rv_error(RV_ECORRUPT,
			"mysql binlog: a short event of type %u (ending at %" PRIu32
			") — the stream is damaged; it reconnects",
			type, at);
}

int rv_mysql_ev_parse(const unsigned char *p, size_t n, enum rv_mysql_crc crc,
		      struct rv_mysql_ev *out)
{
	size_t body, end;
	bool has_crc;

	memset(out, 0, sizeof(*out));
	if (n < HDR)
		return rv_error(RV_ECORRUPT,
				"mysql binlog: an event of %zu bytes (the header "
				"alone is 19)",
				n);
	out->when = le32(p);
	out->type = p[4];
	out->server_id = le32(p + 5);
	out->len = le32(p + 9);
	out->log_pos = le32(p + 13);
	out->flags = (uint16_t)(p[17] | p[18] << 8);
	if (out->len != n)
		return rv_error(RV_ECORRUPT,
				"mysql binlog: an event of type %u says %" PRIu32
				" bytes and has %zu",
				out->type, out->len, n);
	if (out->type == RV_MYEV_T_FDE) {
		/* binlog_version 2, server_version 50, create_timestamp 4,
		 * header_length 1, the post-header lengths, checksum_alg 1,
		 * and the 4-byte footer. */
		if (n < HDR + 57 + 5)
			return short_event(out->type, out->log_pos);
		out->kind = RV_MYEV_FDE;
		out->fde_crc = p[n - 5] == 1;
		has_crc = out->fde_crc;
	} else if (crc == RV_MYSQL_CRC_UNKNOWN) {
		/* Before the first Format_description (the artificial Rotate a
		 * dump starts with): a footer is there when it checks. */
		has_crc = n >= HDR + 4 && rv_mysql_crc32(p, n - 4) == le32(p + n - 4);
	} else {
		has_crc = crc == RV_MYSQL_CRC_ON;
	}
	if (has_crc && n < HDR + 4)
		return short_event(out->type, out->log_pos);
	end = has_crc ? n - 4 : n;
	/* Heartbeats carry nothing shipped: their footer is not trusted for
	 * anything, and servers differ in sending one. */
	if (has_crc && out->type != RV_MYEV_T_HEARTBEAT && out->type != RV_MYEV_T_HEARTBEAT_V2) {
		uint32_t want = le32(p + n - 4), got = rv_mysql_crc32(p, n - 4);

		if (want != got)
			return rv_error(RV_ECORRUPT,
					"mysql binlog: event of type %u ending at %" PRIu32
					" fails its CRC-32 (0x%08" PRIx32 ", computed 0x%08" PRIx32
					") — the stream is damaged; it reconnects",
					out->type, out->log_pos, want, got);
	}
	body = end - HDR;
	p += HDR;
	switch (out->type) {
	case RV_MYEV_T_FDE:
		return 0;
	case RV_MYEV_T_ROTATE:
		if (body < 8)
			return short_event(out->type, out->log_pos);
		out->kind = RV_MYEV_ROTATE;
		out->rotate_pos = le64(p);
		out->name = (const char *)p + 8;
		out->name_len = body - 8;
		return 0;
	case RV_MYEV_T_QUERY: {
		size_t dbl, stl, qo;

		if (body < 13)
			return short_event(out->type, out->log_pos);
		dbl = p[8];
		stl = (size_t)(p[11] | p[12] << 8);
		qo = 13 + stl + dbl + 1;
		if (qo > body)
			return short_event(out->type, out->log_pos);
		out->kind = RV_MYEV_QUERY;
		out->db = (const char *)p + 13 + stl;
		out->db_len = dbl;
		out->stmt = (const char *)p + qo;
		out->stmt_len = body - qo;
		return 0;
	}
	case RV_MYEV_T_XID:
		if (body < 8)
			return short_event(out->type, out->log_pos);
		out->kind = RV_MYEV_XID;
		return 0;
	case RV_MYEV_T_HEARTBEAT:
		out->kind = RV_MYEV_HEARTBEAT;
		out->name = (const char *)p;
		out->name_len = body;
		return 0;
	case RV_MYEV_T_HEARTBEAT_V2:
		out->kind = RV_MYEV_HEARTBEAT;
		return 0;
	case RV_MYEV_T_MYSQL_GTID:
	case RV_MYEV_T_MYSQL_ANON_GTID:
		if (body < 25)
			return short_event(out->type, out->log_pos);
		out->kind = RV_MYEV_TRX_START;
		out->mysql_gtid = true;
		memcpy(out->sid, p + 1, 16);
		out->gno = le64(p + 17);
		out->anonymous = out->type == RV_MYEV_T_MYSQL_ANON_GTID;
		return 0;
	case RV_MYEV_T_MARIADB_GTID:
		if (body < 13)
			return short_event(out->type, out->log_pos);
		out->kind = RV_MYEV_TRX_START;
		out->seq = le64(p);
		out->domain = le32(p + 8);
		out->standalone = p[12] & 1;
		return 0;
	case RV_MYEV_T_PREVIOUS_GTIDS:
	case RV_MYEV_T_STOP:
	case RV_MYEV_T_MARIADB_CHECKPOINT:
	case RV_MYEV_T_MARIADB_GTID_LIST:
		out->kind = RV_MYEV_SKIP;
		return 0;
	case RV_MYEV_T_PAYLOAD:
		out->kind = RV_MYEV_REFUSED;
		return rv_error(RV_ENOTSUP,
				"mysql binlog: a Transaction_payload event (ending at %" PRIu32
				"): the server compresses transactions "
				"(binlog_transaction_compression=ON), which revenant cannot read "
				"— set it OFF (SET PERSIST binlog_transaction_compression=OFF)",
				out->log_pos);
	case RV_MYEV_T_MYSQL_TAGGED_GTID:
		out->kind = RV_MYEV_REFUSED;
		return rv_error(RV_ENOTSUP,
				"mysql binlog: a tagged GTID event (type 42, MySQL 8.3+ "
				"gtid_next=UUID:TAG:N) ending at %" PRIu32
				": revenant reads untagged GTIDs only",
				out->log_pos);
	default:
		out->kind = RV_MYEV_OTHER;
		return 0;
	}
}

bool rv_mysql_ev_is_begin(const struct rv_mysql_ev *e)
{
	return e->kind == RV_MYEV_QUERY && e->stmt_len == 5 && !strncasecmp(e->stmt, "BEGIN", 5);
}

bool rv_mysql_ev_is_end(const struct rv_mysql_ev *e)
{
	return e->kind == RV_MYEV_XID ||
	       (e->kind == RV_MYEV_QUERY &&
		((e->stmt_len == 6 && !strncasecmp(e->stmt, "COMMIT", 6)) ||
		 (e->stmt_len == 8 && !strncasecmp(e->stmt, "ROLLBACK", 8))));
}

void rv_mysql_sid_fmt(const unsigned char sid[16], char out[37])
{
	static const char hx[] = "0123456789abcdef";
	size_t o = 0;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hx[sid[i] >> 4];
		out[o++] = hx[sid[i] & 15];
	}
	out[o] = '\0';
}

enum rv_mysql_step rv_mysql_trx_step(struct rv_mysql_trx *t, const struct rv_mysql_ev *e)
{
	if (e->kind == RV_MYEV_TRX_START) {
		t->in = true;
		t->await_begin = e->mysql_gtid;
		t->standalone = !e->mysql_gtid && e->standalone;
		return RV_MYSTEP_START;
	}
	if (!t->in)
		return RV_MYSTEP_OUTSIDE;
	if (t->await_begin && e->kind == RV_MYEV_QUERY) {
		t->await_begin = false;
		if (rv_mysql_ev_is_begin(e))
			return RV_MYSTEP_INSIDE;
		t->in = false; /* MySQL's DDL: the GTID event and one statement */
		return RV_MYSTEP_END;
	}
	if (rv_mysql_ev_is_end(e) || (e->kind == RV_MYEV_QUERY && t->standalone)) {
		t->in = false;
		return RV_MYSTEP_END;
	}
	return RV_MYSTEP_INSIDE;
}
