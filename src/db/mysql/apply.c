/* apply.c - binlog log segments applied to a restored database
 * (mysql.h, "applying segments"; docs/FORMAT.md, "Database objects
 * (MySQL)").
 *
 * Through the client library only, the way mariadb-binlog's output does
 * it: the segment's format description event first as `BINLOG '<base64>'`,
 * then each transaction between BEGIN and COMMIT, its row events (a table
 * map and the rows events up to the statement's end) as one `BINLOG`
 * statement each, and statements (DDL) run with their session context
 * (sql_mode, charset, time zone, timestamp, checks) rebuilt from the
 * event.  Table maps name the source's database: the name is rewritten to
 * the target's (and the event's checksum recomputed).  Events of other
 * databases are left out.  Each transaction also moves the applied
 * position in the restore's marker table, in the same transaction.
 * Needs the BINLOG REPLAY privilege (MariaDB 10.5+) on the target. */
#include "db/mysql/mysql.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/testpoint.h"
#include "core/util.h"
#include "db/target.h"
#include "format/dbobj.h"
#include "format/layout.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MARKER	     "revenant_restore_incomplete"
#define EV_HDR	     19
#define EV_QUERY     2
#define EV_XID	     16
#define EV_TABLE_MAP 19
#define EV_GTID	     162
#define FDE_MAX	     1024
/* A statement's row events go out in BINLOG statements of about this
 * size; each one after the first starts with the statement's table maps
 * again (without them the server skips the rows, silently). */
#define BATCH_FLUSH (4u << 20)
#define FOREIGN_MAX 256

uint32_t rv_mysql_crc32(const unsigned char *p, size_t n)
{
	static uint32_t table[256];
	static _Atomic int ready;
	uint32_t c = 0xffffffffu;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;

			for (int k = 0; k < 8; k++)
				v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
			table[i] = v;
		}
		ready = 1;
	}
	for (size_t i = 0; i < n; i++)
		c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t le48(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le16(p + 4) << 32;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static bool rows_event(unsigned t)
{
	return (t >= 23 && t <= 25) || (t >= 30 && t <= 32) || (t >= 166 && t <= 171);
}

struct applier {
	MYSQL *m;
	const char *dbname; /* the target's */
	const char *gen;
	char src_db[256];
	const char *key;
	unsigned char fde[FDE_MAX];
	size_t fde_len;
	bool checksum;
	struct rv_buf sql;
	unsigned char *batch;
	size_t blen, bcap;
	uint64_t foreign[FOREIGN_MAX];
	unsigned nforeign;
	/* The current statement's table maps (renamed), for a batch split. */
	unsigned char *maps;
	size_t mlen, mcap;
	uint64_t map_ids[FOREIGN_MAX];
	unsigned nmaps;
	bool in_txn, standalone;
	bool await_begin; /* MySQL: a GTID event, "BEGIN" (or one DDL) next */
	bool standby;	  /* the position goes to the standby's state table */
	/* Transactions before this position are in the database already (a
	 * standby stopped inside a segment): read, counted, not applied. */
	uint64_t skip_to;
	uint64_t pos; /* transactions applied: the position */
	int64_t seg_ms;
};

static int sql_fail(struct applier *a, const char *what)
{
	return rv_error(rv_mysql_result(mysql_errno(a->m)),
			"mysql restore: applying '%s' (position %" PRIu64 "): %s: %s%s", a->key,
			a->pos, what, mysql_error(a->m),
			mysql_errno(a->m) == 1227 ? " — the restoring account needs the BINLOG "
						    "REPLAY privilege (GRANT BINLOG REPLAY ON *.*)"
						  : "");
}

static int run(struct applier *a, const char *what, const char *q, size_t n)
{
	MYSQL_RES *res;

	if (mysql_real_query(a->m, q, (unsigned long)n))
		return sql_fail(a, what);
	res = mysql_store_result(a->m);
	mysql_free_result(res);
	return 0;
}

/* `BINLOG '<base64 of p>'`. */
static int binlog_stmt(struct applier *a, const char *what, const unsigned char *p, size_t n)
{
	size_t b64 = 4 * ((n + 2) / 3);
	int rc;

	rv_buf_reset(&a->sql);
	if ((rc = rv_buf_add(&a->sql, "BINLOG '", 8)))
		return rc;
	{
		/* Room for the encoding and its NUL, written in place. */
		char *tmp = rv_malloc(b64 + 1);

		EVP_EncodeBlock((unsigned char *)tmp, p, (int)n);
		rc = rv_buf_add(&a->sql, tmp, b64);
		free(tmp);
	}
	rc = rc ? rc : rv_buf_add(&a->sql, "'", 1);
	return rc ? rc : run(a, what, a->sql.data, a->sql.len);
}

static int batch_add(struct applier *a, const unsigned char *p, size_t n)
{
	if (a->blen + n > a->bcap) {
		a->bcap = (a->blen + n) * 2;
		a->batch = rv_realloc(a->batch, a->bcap);
	}
	memcpy(a->batch + a->blen, p, n);
	a->blen += n;
	return 0;
}

static int batch_flush(struct applier *a)
{
	int rc = 0;

	if (a->blen)
		rc = binlog_stmt(a, "row events", a->batch, a->blen);
	a->blen = 0;
	return rc;
}

static bool is_ours(const struct applier *a, uint64_t id)
{
	for (unsigned i = 0; i < a->nmaps; i++)
		if (a->map_ids[i] == id)
			return true;
	return false;
}

static void stmt_end(struct applier *a)
{
	a->nforeign = 0;
	a->nmaps = 0;
	a->mlen = 0;
}

static bool is_foreign(const struct applier *a, uint64_t id)
{
	for (unsigned i = 0; i < a->nforeign; i++)
		if (a->foreign[i] == id)
			return true;
	return false;
}

/* A table map of the source's database, renamed to the target's. */
static int table_map(struct applier *a, const unsigned char *p, size_t n)
{
	size_t off = EV_HDR + 8, dl, nl = strlen(a->dbname), cs = a->checksum ? 4 : 0;
	unsigned char *e;
	size_t en;

	if (n < off + 2 + cs || off + 1 + (size_t)p[off] + 1 > n - cs)
		return rv_error(RV_ECORRUPT, "mysql restore: '%s': a short table map event",
				a->key);
	dl = p[off];
	if (dl != strlen(a->src_db) || memcmp(p + off + 1, a->src_db, dl)) {
		if (a->nforeign < FOREIGN_MAX)
			a->foreign[a->nforeign++] = le48(p + EV_HDR);
		return 0;
	}
	if (nl > 64)
		return rv_error(RV_EUSAGE, "mysql restore: database name '%s' too long", a->dbname);
	en = n - dl + nl;
	e = rv_malloc(en);
	memcpy(e, p, off);
	e[off] = (unsigned char)nl;
	memcpy(e + off + 1, a->dbname, nl);
	memcpy(e + off + 1 + nl, p + off + 1 + dl, n - (off + 1 + dl));
	put32(e + 9, (uint32_t)en);
	if (a->checksum)
		put32(e + en - 4, rv_mysql_crc32(e, en - 4));
	batch_add(a, e, en);
	if (a->nmaps < FOREIGN_MAX) {
		if (a->mlen + en > a->mcap) {
			a->mcap = (a->mlen + en) * 2;
			a->maps = rv_realloc(a->maps, a->mcap);
		}
		memcpy(a->maps + a->mlen, e, en);
		a->mlen += en;
		a->map_ids[a->nmaps++] = le48(p + EV_HDR);
	}
	free(e);
	return 0;
}

/* The session context of a Query event, from its status variables. */
struct qctx {
	bool has_flags, has_mode, has_cs;
	uint32_t flags2;
	uint64_t sql_mode;
	uint16_t cs_client, coll_conn, coll_server;
	char tz[65];
};

static void parse_status(const unsigned char *st, size_t n, struct qctx *q)
{
	size_t i = 0;

	memset(q, 0, sizeof(*q));
	while (i < n) {
		unsigned code = st[i++];
		size_t need;

		switch (code) {
		case 0:
			if (i + 4 > n)
				return;
			q->has_flags = true;
			q->flags2 = le32(st + i);
			i += 4;
			break;
		case 1:
			if (i + 8 > n)
				return;
			q->has_mode = true;
			q->sql_mode = (uint64_t)le32(st + i) | (uint64_t)le32(st + i + 4) << 32;
			i += 8;
			break;
		case 2:
			if (i >= n)
				return;
			i += 1 + (size_t)st[i] + 1;
			break;
		case 3:
			i += 4;
			break;
		case 4:
			if (i + 6 > n)
				return;
			q->has_cs = true;
			q->cs_client = le16(st + i);
			q->coll_conn = le16(st + i + 2);
			q->coll_server = le16(st + i + 4);
			i += 6;
			break;
		case 5:
			if (i >= n || i + 1 + st[i] > n)
				return;
			snprintf(q->tz, sizeof(q->tz), "%.*s", (int)st[i],
				 (const char *)st + i + 1);
			i += 1 + (size_t)st[i];
			break;
		case 6:
			if (i >= n)
				return;
			i += 1 + (size_t)st[i];
			break;
		case 7:
		case 8:
		case 18:
			i += 2;
			break;
		case 9:
		case 17:
		case 129:
			i += 8;
			break;
		case 10:
			i += 4;
			break;
		case 11:
			for (int k = 0; k < 2; k++) {
				if (i >= n)
					return;
				i += 1 + (size_t)st[i];
			}
			break;
		case 12:
			if (i >= n)
				return;
			need = st[i++];
			if (need != 254)
				for (size_t k = 0; k < need && i < n; k++)
					i += strnlen((const char *)st + i, n - i) + 1;
			break;
		case 13:
		case 128:
			i += 3;
			break;
		case 16:
		case 19:
		case 20:
		case 130:
			i += 1;
			break;
		default:
			return; /* unknown: its length is unknown too (mariadb-binlog stops too) */
		}
	}
}

static bool tz_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || strchr("+-:/_", *s)))
			return false;
	return true;
}

static int end_group(struct applier *a, bool commit);

static int query_event(struct applier *a, const unsigned char *p, size_t n)
{
	size_t cs = a->checksum ? 4 : 0, stl, dbl, qo;
	const unsigned char *st;
	struct qctx q;
	int rc;

	if (n < EV_HDR + 13 + cs)
		return rv_error(RV_ECORRUPT, "mysql restore: '%s': a short query event", a->key);
	dbl = p[EV_HDR + 8];
	stl = le16(p + EV_HDR + 11);
	st = p + EV_HDR + 13;
	qo = EV_HDR + 13 + stl + dbl + 1;
	if (qo > n - cs)
		return rv_error(RV_ECORRUPT, "mysql restore: '%s': a short query event", a->key);
	{
		const char *text = (const char *)p + qo;
		size_t tl = n - cs - qo;
		const char *db = (const char *)st + stl;

		if (a->pos < a->skip_to) {
			bool end;

			if (tl == 5 && !strncasecmp(text, "BEGIN", 5))
				a->standalone = false; /* MySQL: a transaction after all */
			end = (tl == 6 && !strncasecmp(text, "COMMIT", 6)) ||
			      (tl == 8 && !strncasecmp(text, "ROLLBACK", 8)) ||
			      (a->standalone && !(tl == 5 && !strncasecmp(text, "BEGIN", 5)));

			if (end)
				a->pos++;
			return 0;
		}
		if (tl == 5 && !strncasecmp(text, "BEGIN", 5)) {
			/* MySQL's transactions: the GTID event, then "BEGIN"
			 * (MariaDB's GTID event stands for it). */
			if (!a->await_begin)
				return 0;
			a->await_begin = false;
			a->standalone = false;
			if ((rc = run(a, "begin", "BEGIN", 5)))
				return rc;
			a->in_txn = true;
			return 0;
		}
		a->await_begin = false;
		if (tl == 6 && !strncasecmp(text, "COMMIT", 6))
			return end_group(a, true);
		if (tl == 8 && !strncasecmp(text, "ROLLBACK", 8))
			return end_group(a, false);
		if (dbl != strlen(a->src_db) || memcmp(db, a->src_db, dbl)) {
			/* Another database's statement (or none: CREATE USER…). */
			return a->standalone ? end_group(a, true) : 0;
		}
		parse_status(st, stl, &q);
		rv_buf_reset(&a->sql);
		rc = rv_buf_addf(&a->sql, "SET @@session.timestamp=%" PRIu32, le32(p));
		if (!rc && q.has_flags)
			rc = rv_buf_addf(
			    &a->sql,
			    ", @@session.foreign_key_checks=%d, "
			    "@@session.unique_checks=%d, @@session.sql_auto_is_null=%d",
			    q.flags2 & (1u << 26) ? 0 : 1, q.flags2 & (1u << 27) ? 0 : 1,
			    q.flags2 & (1u << 14) ? 1 : 0);
		if (!rc && q.has_mode)
			rc = rv_buf_addf(&a->sql, ", @@session.sql_mode=%" PRIu64, q.sql_mode);
		if (!rc && q.has_cs)
			rc = rv_buf_addf(&a->sql,
					 ", @@session.character_set_client=%u, "
					 "@@session.collation_connection=%u, "
					 "@@session.collation_server=%u",
					 q.cs_client, q.coll_conn, q.coll_server);
		if (!rc && *q.tz && tz_ok(q.tz))
			rc = rv_buf_addf(&a->sql, ", @@session.time_zone='%s'", q.tz);
		rc = rc ? rc : run(a, "a statement's session", a->sql.data, a->sql.len);
		if (!rc && a->standby && a->standalone && !a->in_txn) {
			/* A DDL statement commits by itself: its position cannot
			 * move with it.  The state row holds no point meanwhile,
			 * so a standby killed between the two restores whole
			 * (follow.c) instead of running the statement twice or
			 * never. */
			static const char unhold[] =
			    "UPDATE `" RV_MYSQL_STANDBY_TABLE "` SET gen='' WHERE id=1";

			rc = run(a, "the standby's state before a DDL statement", unhold,
				 sizeof(unhold) - 1);
			rv_testpoint("mysql.ddl");
		}
		rc = rc ? rc : run(a, "a statement", text, tl);
		rc = rc ? rc
			: run(a, "the session back",
			      "SET NAMES utf8mb4, @@session.timestamp=DEFAULT", 46);
		if (!rc && a->standalone)
			rc = end_group(a, true);
		return rc;
	}
}

static int mark_pos(struct applier *a)
{
	rv_buf_reset(&a->sql);
	if (a->standby) {
		if (rv_buf_addf(&a->sql,
				"UPDATE `" RV_MYSQL_STANDBY_TABLE "` SET gen='%s', pos=%" PRIu64
				", time_ms=%" PRId64 " WHERE id=1",
				a->gen, a->pos, a->seg_ms))
			return RV_EFAIL;
		return run(a, "the applied position", a->sql.data, a->sql.len);
	}
	if (rv_buf_addf(&a->sql,
			"UPDATE `" MARKER "` SET note='revenant is loading this database; it is "
			"not a restore until this table is gone (binlog applied: generation "
			"%s, position %" PRIu64 ")'",
			a->gen, a->pos))
		return RV_EFAIL;
	return run(a, "the applied position", a->sql.data, a->sql.len);
}

static int end_group(struct applier *a, bool commit)
{
	int rc = batch_flush(a);

	stmt_end(a);
	if (!commit) {
		if (a->in_txn)
			rc = run(a, "rollback", "ROLLBACK", 8);
		a->in_txn = false;
		a->pos++;
		return rc;
	}
	a->pos++;
	rc = rc ? rc : mark_pos(a);
	if (a->in_txn)
		rc = rc ? rc : run(a, "commit", "COMMIT", 6);
	a->in_txn = false;
	a->standalone = false;
	rv_testpoint("mysql.applied");
	return rc;
}

static int on_event(struct applier *a, const unsigned char *p, size_t n)
{
	unsigned t;
	int rc;

	if (n < EV_HDR || le32(p + 9) != n)
		return rv_error(RV_ECORRUPT, "mysql restore: '%s': an event of the wrong length",
				a->key);
	t = p[4];
	if (a->pos < a->skip_to) {
		if (t == EV_GTID && n >= EV_HDR + 13)
			a->standalone = p[EV_HDR + 12] & 1;
		else if (t == RV_MYEV_T_MYSQL_GTID || t == RV_MYEV_T_MYSQL_ANON_GTID)
			a->standalone = true; /* until a "BEGIN" */
		else if (t == EV_XID)
			a->pos++;
		else if (t == EV_QUERY)
			return query_event(a, p, n);
		return 0;
	}
	if (t == EV_GTID) {
		if (n < EV_HDR + 13)
			return rv_error(RV_ECORRUPT, "mysql restore: '%s': a short GTID event",
					a->key);
		if (a->in_txn && (rc = end_group(a, false)))
			return rc;
		a->standalone = p[EV_HDR + 12] & 1;
		stmt_end(a);
		a->blen = 0;
		if (!a->standalone) {
			if ((rc = run(a, "begin", "BEGIN", 5)))
				return rc;
			a->in_txn = true;
		}
		return 0;
	}
	if (t == RV_MYEV_T_MYSQL_GTID || t == RV_MYEV_T_MYSQL_ANON_GTID) {
		/* MySQL 8 (built to its documentation): "BEGIN" follows, or
		 * the one statement of a DDL. */
		if (n < EV_HDR + 25)
			return rv_error(RV_ECORRUPT, "mysql restore: '%s': a short GTID event",
					a->key);
		if (a->in_txn && (rc = end_group(a, false)))
			return rc;
		a->standalone = true;
		a->await_begin = true;
		stmt_end(a);
		a->blen = 0;
		return 0;
	}
	if (t == EV_QUERY)
		return query_event(a, p, n);
	if (t == EV_TABLE_MAP)
		return table_map(a, p, n);
	if (rows_event(t)) {
		uint64_t id;
		bool end;

		if (n < EV_HDR + 8)
			return rv_error(RV_ECORRUPT, "mysql restore: '%s': a short rows event",
					a->key);
		id = le48(p + EV_HDR);
		end = le16(p + EV_HDR + 6) & 1;
		if (!is_foreign(a, id)) {
			if (!is_ours(a, id))
				return rv_error(
				    RV_ECORRUPT,
				    "mysql restore: '%s': a rows event for table id %" PRIu64
				    " without its table map",
				    a->key, id);
			if ((rc = batch_add(a, p, n)))
				return rc;
		}
		if (end) {
			rc = batch_flush(a);
			stmt_end(a);
			return rc;
		}
		if (a->blen > BATCH_FLUSH) {
			/* Go on in a new BINLOG statement, its table maps first. */
			if ((rc = batch_flush(a)))
				return rc;
			return a->mlen ? batch_add(a, a->maps, a->mlen) : 0;
		}
		return 0;
	}
	if (t == EV_XID)
		return end_group(a, true);
	/* Annotations (160, MySQL's Rows_query 29) and the context events of statement-based
	 * logging (intvar 5, rand 13, user var 14) carry nothing a ROW
	 * binlog needs.  Anything else (compressed queries, LOAD DATA,
	 * XA, incidents...) would be lost in silence: refuse it. */
	if (t == 160 || t == 5 || t == 13 || t == 14 || t == 29)
		return 0;
	return rv_error(RV_ENOTSUP,
			"mysql restore: '%s' holds a binlog event of type %u that revenant cannot "
			"apply (log_bin_compress? LOAD DATA or XA under statement logging?)",
			a->key, t);
}

/* ---- the segments of a generation ---- */

struct seg {
	char *key;
	uint64_t from, to;
	int64_t ms;
};

struct seglist {
	struct seg *v;
	size_t n, cap;
	uint64_t from;
};

static int seg_cb(const struct rv_obj_info *info, void *ud)
{
	struct seglist *l = ud;
	struct seg s;

	if (rv_dbobj_key_parse(info->key, RV_DBOBJ_LOG, &s.from, &s.to, &s.ms) || s.to <= l->from)
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = rv_realloc(l->v, l->cap * sizeof(*l->v));
	}
	s.key = rv_strdup(info->key);
	l->v[l->n++] = s;
	return 0;
}

static int seg_cmp(const void *x, const void *y)
{
	const struct seg *a = x, *b = y;

	if (a->from != b->from)
		return a->from < b->from ? -1 : 1;
	return strcmp(a->key, b->key);
}

static void meta_get(const char *meta, const char *k, char *out, size_t n)
{
	size_t kl = strlen(k);

	out[0] = '\0';
	for (const char *p = meta; p && *p; p = strchr(p, ' '), p = p ? p + 1 : NULL)
		if (!strncmp(p, k, kl) && p[kl] == '=') {
			size_t vl = strcspn(p + kl + 1, " ");

			snprintf(out, n, "%.*s", (int)vl, p + kl + 1);
			return;
		}
}

/* Read the whole segment in `fd`: with `a` NULL only verify it; else
 * apply each event. */
static int read_segment(struct applier *a, int fd, const struct seg *sg, const char *gen,
			char *src_db, size_t src_db_n)
{
	struct rv_dbobj_reader *r = NULL;
	struct rv_buf body = RV_BUF_INIT(RV_DBOBJ_RECORD_MAX);
	char type[16], tag[RV_DBOBJ_TAG_MAX];
	bool end = false, first = true;
	int rc;

	if (lseek(fd, 0, SEEK_SET) == -1)
		return rv_error_errno(RV_EFAIL, errno, "mysql restore: seek a download");
	if ((rc = rv_dbobj_reader_new(&r, fd, sg->key)))
		return rc;
	{
		const struct rv_dbobj_hdr *h = rv_dbobj_reader_hdr(r);

		if (h->kind != RV_DBOBJ_LOG || strcmp(h->gen, gen) || h->from != sg->from ||
		    h->to != sg->to || h->time_ms != sg->ms || strcmp(h->engine, "mysql"))
			rc =
			    rv_error(RV_ECORRUPT,
				     "database object '%s' does not hold what its name says (kind, "
				     "generation, positions, time or engine)",
				     sg->key);
		if (!rc && src_db)
			meta_get(h->meta, "database", src_db, src_db_n);
	}
	while (!rc && !end) {
		rc = rv_dbobj_reader_record(r, type, tag, &body, &end);
		if (rc || end)
			break;
		if (first && strcmp(type, "fde"))
			rc = rv_error(RV_ECORRUPT,
				      "database object '%s' does not start with a format "
				      "description",
				      sg->key);
		first = false;
		if (rc || !a)
			continue;
		if (!strcmp(type, "fde")) {
			if (body.len > FDE_MAX || body.len < EV_HDR + 5)
				rc = rv_error(RV_ECORRUPT,
					      "database object '%s': bad format description",
					      sg->key);
			else {
				memcpy(a->fde, body.data, body.len);
				a->fde_len = body.len;
				a->checksum = a->fde[a->fde_len - 5] == 1;
				rc = binlog_stmt(a, "the format description", a->fde, a->fde_len);
			}
		} else if (!strcmp(type, "ev")) {
			rc = on_event(a, (const unsigned char *)body.data, body.len);
		}
	}
	if (!rc)
		rc = rv_dbobj_reader_finish(r);
	rv_dbobj_reader_free(r);
	rv_buf_release(&body);
	return rc;
}

int rv_mysql_apply_log(MYSQL *m, struct rv_store *st, const char *gen, uint64_t from, uint64_t to,
		       const char *dbname, bool standby, uint64_t *reached, int64_t *last_ms,
		       unsigned *segments)
{
	struct seglist l = {.from = from};
	struct applier a = {.m = m, .dbname = dbname, .gen = gen, .pos = from, .standby = standby};
	const char *t = getenv("TMPDIR");
	char *prefix = rv_dbobj_log_prefix(gen);
	uint64_t cur = from;
	int rc, fd = -1;

	*reached = from;
	*segments = 0;
	rv_buf_init(&a.sql, RV_DBOBJ_RECORD_MAX + 64);
	rc = rv_store_list(st, prefix, seg_cb, &l);
	free(prefix);
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), seg_cmp);
	for (size_t i = 0; !rc && i < l.n && (to == RV_DBTGT_POS_LATEST || cur < to); i++) {
		struct seg *sg = &l.v[i];

		/* The chain from `cur`: a segment starting there, or (a standby
		 * stopped inside one) holding it. */
		if (sg->from > cur || sg->to <= cur)
			continue;
		if (to != RV_DBTGT_POS_LATEST && sg->to > to)
			break;
		fd = open(t && *t ? t : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd == -1) {
			rc = rv_error_errno(RV_EFAIL, errno, "mysql restore: a temporary file");
			break;
		}
		rc = rv_store_get_fd(st, sg->key, fd, 0, 0, NULL);
		if (rc == RV_ENOTFOUND)
			rc = rv_error(RV_ECORRUPT,
				      "generation %s: database log segment '%s' is gone", gen,
				      sg->key);
		rc = rc ? rc : read_segment(NULL, fd, sg, gen, a.src_db, sizeof(a.src_db));
		if (!rc && !*a.src_db)
			rc = rv_error(RV_ECORRUPT, "database object '%s' names no database",
				      sg->key);
		a.key = sg->key;
		a.pos = sg->from;
		a.skip_to = cur;
		a.seg_ms = sg->ms;
		rc = rc ? rc : read_segment(&a, fd, sg, gen, NULL, 0);
		if (!rc && a.in_txn)
			rc = rv_error(RV_ECORRUPT, "database object '%s' ends inside a transaction",
				      sg->key);
		if (!rc && a.pos != sg->to)
			rc = rv_error(RV_ECORRUPT,
				      "database object '%s' holds %" PRIu64
				      " transactions, its name says %" PRIu64,
				      sg->key, a.pos - sg->from, sg->to - sg->from);
		close(fd);
		fd = -1;
		if (rc)
			break;
		cur = sg->to;
		*last_ms = sg->ms;
		(*segments)++;
	}
	if (!rc && to != RV_DBTGT_POS_LATEST && cur != to) {
		uint64_t next = 0;

		for (size_t i = 0; i < l.n; i++)
			if (l.v[i].from > cur && (!next || l.v[i].from < next))
				next = l.v[i].from;
		if (next)
			rc = rv_error(RV_ECORRUPT,
				      "generation %s: database log has a gap: position %" PRIu64
				      " is missing, %" PRIu64 "… present",
				      gen, cur, next);
		else
			rc = rv_error(RV_ECORRUPT,
				      "generation %s: database log ends at position %" PRIu64
				      ", the point needs %" PRIu64 " (a segment is missing)",
				      gen, cur, to);
	}
	if (a.in_txn)
		(void)mysql_real_query(m, "ROLLBACK", 8);
	*reached = cur;
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].key);
	free(l.v);
	free(a.batch);
	free(a.maps);
	rv_buf_release(&a.sql);
	return rc;
}
