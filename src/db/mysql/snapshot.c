/* snapshot.c - a consistent online snapshot of one MySQL/MariaDB database
 * into the store (mysql.h; docs/FORMAT.md, "Database objects (MySQL)").
 *
 * One connection opens a consistent-snapshot transaction and reads the
 * binlog position that goes with it: on MariaDB from the status variables
 * binlog_snapshot_file/_position, which describe exactly that transaction,
 * with no lock at all; elsewhere (MySQL) under FLUSH TABLES WITH READ LOCK
 * held only while the transaction starts and SHOW MASTER STATUS runs.
 * With snapshot_jobs > 1, that many connections open their transactions at
 * one moment (commits held for it) and take tables from a shared list, the
 * largest first, each writing whole statements into the one object; a
 * table of two snapshot_chunks or more is split into ranges of its primary
 * key, which they take too (split(), below).
 * Then, inside that transaction: each table's CREATE TABLE and its rows as
 * multi-row INSERTs (strings escaped by the server's own rules for the
 * connection's utf8mb4, binary values as hex), the views, the triggers.
 * Each statement is a record of a database object compressed on the fly
 * and written into a pipe that a second thread puts into the store: the
 * dump is never whole in memory or on disk; one statement per connection
 * is (at most INSERT_BATCH bytes, or one row's). */
#include "db/mysql/mysql.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/testpoint.h"
#include "core/util.h"
#include "format/dbobj.h"
#include "format/layout.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An INSERT is sent on once it holds this much (a row alone may be more):
 * large enough that a restore's statements cost nothing apart, small
 * enough that four connections' statements stay within replicate's memory
 * budget. */
#define INSERT_BATCH (512u << 10)

/* A split's ranges double in size after every this many (the server's row
 * estimate that sized them may be low). */
#define RANGES_PER_STEP 512

/* A split of a table whose rows average this many bytes or more (and that
 * has at most SORTED_ROWS_MAX of them) asks the server for every k-th key
 * (ROW_NUMBER over the key) instead of scanning the key in order: the
 * server then reads the smallest index that holds the key, not the
 * clustered index's leaves, which fat rows make large.  On the bench's
 * Ghost-shaped `posts` (27 KiB a row on disk, 76,000 rows) 0.1 s and 0.1
 * CPU s of the server against 0.9 s and 0.4; on `members` (136 bytes a
 * row, 300,000 rows) the sort was the slower one, 1.4 s. */
#define SORTED_ROW_MIN	1024
#define SORTED_ROWS_MAX (4u << 20)

/* A piece of the dump: a whole table; a table to split into ranges of its
 * primary key (its CREATE TABLE, then the ranges go to the front of the
 * queue); or one such range. */
enum item_kind { ITEM_TABLE, ITEM_SPLIT, ITEM_RANGE };
struct item {
	enum item_kind kind;
	char *table;
	char *where;	      /* a range's condition; NULL: every row */
	uint64_t bytes, rows; /* list(): the server's estimates, for the split */
};

struct items {
	struct item *v;
	size_t n;
};

static void items_free(struct items *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].table);
		free(l->v[i].where);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* What the dumping connections share (snapshot_jobs > 1: one thread
 * each), under `mu`: the object writer, the counters, the queue of items
 * and the next one to take, the splits under way (a connection that finds
 * the queue empty waits on `cv` for their ranges), the first failure. */
struct shared {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rv_dbobj_writer *w;
	struct rv_mysql_snap_pos *res;
	struct items q;
	size_t next;
	unsigned splitting;
	uint64_t chunk; /* snapshot_chunk: the bytes of a range */
	int rc;		/* the first failure, its message in err */
	char err[1024];
};

/* One connection's dump: its own snapshot transaction and statement. */
struct dump {
	MYSQL *m;
	struct rv_buf stmt; /* the statement being built */
	struct shared *sh;
	const char *db;
	pthread_t th;
	bool started;
};

/* The first failure of any connection wins; later ones are its echoes. */
static int fail_shared(struct shared *sh, int rc)
{
	pthread_mutex_lock(&sh->mu);
	if (!sh->rc) {
		sh->rc = rc;
		snprintf(sh->err, sizeof(sh->err), "%s", rv_errmsg());
	}
	pthread_cond_broadcast(&sh->cv);
	pthread_mutex_unlock(&sh->mu);
	return rc;
}

static int my_err(MYSQL *m, const char *what, const char *name)
{
	return rv_error(rv_mysql_result(mysql_errno(m)), "mysql snapshot: %s '%s': %s", what, name,
			mysql_error(m));
}

/* `s` escaped for a '…' literal on this connection: a name (at most 290
 * bytes of it, more than any name has). */
static const char *esc(struct dump *d, char out[600], const char *s)
{
	mysql_real_escape_string(d->m, out, s, (unsigned long)strnlen(s, 290));
	return out;
}

/* The query `fmt` run and its whole result in *r (the caller frees it);
 * a failure says "mysql snapshot: <what> '<name>': <the server's words>". */
static int query_store(struct dump *d, MYSQL_RES **r, const char *what, const char *name,
		       const char *fmt, ...) RV_PRINTF(5, 6);
static int query_store(struct dump *d, MYSQL_RES **r, const char *what, const char *name,
		       const char *fmt, ...)
{
	struct rv_buf q = RV_BUF_INIT(16u << 10);
	va_list ap;
	int rc;

	*r = NULL;
	va_start(ap, fmt);
	rc = rv_buf_vaddf(&q, fmt, ap);
	va_end(ap);
	if (!rc && (mysql_real_query(d->m, q.data, q.len) || !(*r = mysql_store_result(d->m))))
		rc = my_err(d->m, what, name);
	rv_buf_release(&q);
	return rc;
}

static int record(struct dump *d, const char *type, const char *kind, const char *name)
{
	char tag[RV_DBOBJ_TAG_MAX];
	int rc;

	rv_dbobj_tag(tag, kind, name ? name : "");
	pthread_mutex_lock(&d->sh->mu);
	if (d->sh->rc)
		rc = RV_EINTR; /* another connection failed: stop */
	else
		rc = rv_dbobj_writer_record(d->sh->w, type, tag, d->stmt.data ? d->stmt.data : "",
					    d->stmt.len);
	d->sh->res->bytes += d->stmt.len;
	pthread_mutex_unlock(&d->sh->mu);
	rv_buf_reset(&d->stmt);
	rv_testpoint("mysql.dumped");
	return rc;
}

/* ---- the position ---- */

static int status_pos(struct dump *d, struct rv_mysql_snap_pos *res)
{
	static const char q[] = "SHOW STATUS LIKE 'binlog_snapshot_%'";
	MYSQL_RES *r;
	MYSQL_ROW row;
	bool file = false, pos = false;

	if (mysql_real_query(d->m, q, sizeof(q) - 1) || !(r = mysql_store_result(d->m)))
		return my_err(d->m, "reading", "binlog_snapshot_*");
	while ((row = mysql_fetch_row(r))) {
		if (!row[0] || !row[1])
			continue;
		if (!strcasecmp(row[0], "Binlog_snapshot_file")) {
			snprintf(res->file, sizeof(res->file), "%s", row[1]);
			file = true;
		} else if (!strcasecmp(row[0], "Binlog_snapshot_position")) {
			pos = !rv_parse_u64(row[1], &res->pos);
		}
	}
	mysql_free_result(r);
	return file && pos ? 0 : RV_ENOTFOUND;
}

static int master_status(MYSQL *m, struct rv_mysql_snap_pos *res)
{
	MYSQL_RES *r;
	MYSQL_ROW row;
	int rc = RV_ENOTFOUND;

	/* MySQL 8.2 renamed it; older servers know only the first name. */
	if (mysql_query(m, "SHOW BINARY LOG STATUS") && mysql_query(m, "SHOW MASTER STATUS"))
		return my_err(m, "reading", "SHOW MASTER STATUS");
	if (!(r = mysql_store_result(m)))
		return my_err(m, "reading", "SHOW MASTER STATUS");
	if ((row = mysql_fetch_row(r)) && row[0] && row[1]) {
		snprintf(res->file, sizeof(res->file), "%s", row[0]);
		rc = rv_parse_u64(row[1], &res->pos) ? RV_ENOTFOUND : 0;
		if (mysql_num_fields(r) >= 5 && row[4])
			snprintf(res->gtid, sizeof(res->gtid), "%s", row[4]);
	}
	mysql_free_result(r);
	return rc;
}

static const char binlog_off[] = "mysql snapshot: the server has binary logging off — set "
				 "log_bin in its config and restart it (revenant config "
				 "check lists what else it needs)";

static int start_txn(MYSQL *m)
{
	int rc;

	if ((rc = rv_mysql_exec(m, "mysql snapshot: session",
				"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")) ||
	    (rc = rv_mysql_exec(m, "mysql snapshot: session", "SET SESSION time_zone='+00:00'")))
		return rc;
	return rv_mysql_exec(m, "mysql snapshot: start",
			     "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
}

/* MariaDB: the GTID position of the binlog position. */
static int gtid_of(MYSQL *m, struct rv_mysql_snap_pos *res)
{
	struct rv_buf v = RV_BUF_INIT(sizeof(res->gtid) - 1);
	char *q, esc[600];
	int rc;

	mysql_real_escape_string(m, esc, res->file, (unsigned long)strnlen(res->file, 290));
	q = rv_asprintf("SELECT BINLOG_GTID_POS('%s', %" PRIu64 ")", esc, res->pos);
	rc = rv_mysql_value(m, q, &v);
	free(q);
	if (rc == RV_ENOTFOUND)
		rc = 0;
	if (!rc)
		snprintf(res->gtid, sizeof(res->gtid), "%s", rv_buf_str(&v));
	rv_buf_release(&v);
	return rc;
}

/* Open the snapshot transactions of `d[0..n)` at one moment and learn
 * its binlog position.  MariaDB, one connection: the transaction's own
 * binlog_snapshot_* status, no lock.  MariaDB, several: BACKUP STAGE
 * BLOCK_COMMIT on a control connection while they start (commits wait
 * that long; every one must report the same position).  MySQL: FLUSH
 * TABLES WITH READ LOCK while they start and SHOW MASTER STATUS runs. */
static int begin(const struct rv_mysql_conf *c, struct dump *d, unsigned n,
		 struct rv_mysql_snap_pos *res)
{
	bool mariadb = rv_mysql_is_mariadb(d[0].m);
	MYSQL *ctl = NULL;
	int rc = 0, rc2;

	if (n > 1 || !mariadb) {
		if ((rc = rv_mysql_connect(&ctl, c, NULL)))
			return rc;
		if (mariadb) {
			rc = rv_mysql_exec(ctl, "mysql snapshot: hold commits",
					   "BACKUP STAGE START");
			rc = rc ? rc
				: rv_mysql_exec(ctl, "mysql snapshot: hold commits",
						"BACKUP STAGE BLOCK_COMMIT");
		} else {
			res->locked = true;
			rc = rv_mysql_exec(ctl, "mysql snapshot: lock",
					   "FLUSH TABLES WITH READ LOCK");
		}
	}
	for (unsigned i = 0; !rc && i < n; i++) {
		struct rv_mysql_snap_pos p = {0};

		rc = start_txn(d[i].m);
		if (rc || !mariadb)
			continue;
		rc = status_pos(&d[i], &p);
		if (rc == RV_ENOTFOUND || (!rc && !*p.file))
			rc = rv_error(RV_EUSAGE, "%s", binlog_off);
		else if (!rc && i == 0)
			*res = p;
		else if (!rc && (strcmp(p.file, res->file) || p.pos != res->pos))
			rc = rv_error(RV_EFAIL,
				      "mysql snapshot: the connections' snapshots are at different "
				      "binlog positions (%s:%" PRIu64 " and %s:%" PRIu64
				      ") although commits were held",
				      res->file, res->pos, p.file, p.pos);
	}
	if (!rc && !mariadb) {
		rc = master_status(ctl, res);
		if (rc == RV_ENOTFOUND)
			rc = rv_error(RV_EUSAGE, "%s", binlog_off);
	}
	if (ctl) {
		rc2 = rv_mysql_exec(ctl, "mysql snapshot: release commits",
				    mariadb ? "BACKUP STAGE END" : "UNLOCK TABLES");
		rc = rc ? rc : rc2;
		mysql_close(ctl);
	}
	if (!rc && mariadb)
		rc = gtid_of(d[0].m, res);
	return rc;
}

/* ---- tables ---- */

/* BIT and GEOMETRY values as hex literals (what loads into either). */
static int add_hex(struct rv_buf *b, const unsigned char *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	char *o;
	int rc;

	if ((rc = rv_buf_room(b, 2 + 2 * n, &o)))
		return rc;
	*o++ = '0';
	*o++ = 'x';
	for (size_t i = 0; i < n; i++) {
		*o++ = hx[p[i] >> 4];
		*o++ = hx[p[i] & 15];
	}
	rv_buf_grew(b, 2 + 2 * n);
	return 0;
}

/* Binary strings and blobs (not BIT: see add_value). */
static bool is_binary(const MYSQL_FIELD *f)
{
	if (f->type == MYSQL_TYPE_JSON)
		return false; /* MySQL reports JSON as binary; it loads as text */
	if (f->charsetnr != 63)
		return false;
	switch (f->type) {
	case MYSQL_TYPE_TINY_BLOB:
	case MYSQL_TYPE_MEDIUM_BLOB:
	case MYSQL_TYPE_LONG_BLOB:
	case MYSQL_TYPE_BLOB:
	case MYSQL_TYPE_STRING:
	case MYSQL_TYPE_VAR_STRING:
	case MYSQL_TYPE_VARCHAR:
		return true;
	default:
		return false;
	}
}

static bool is_number(const MYSQL_FIELD *f)
{
	switch (f->type) {
	case MYSQL_TYPE_TINY:
	case MYSQL_TYPE_SHORT:
	case MYSQL_TYPE_LONG:
	case MYSQL_TYPE_INT24:
	case MYSQL_TYPE_LONGLONG:
	case MYSQL_TYPE_DECIMAL:
	case MYSQL_TYPE_NEWDECIMAL:
	case MYSQL_TYPE_FLOAT:
	case MYSQL_TYPE_DOUBLE:
	case MYSQL_TYPE_YEAR:
		return true;
	default:
		return false;
	}
}

/* A string literal of `v`, escaped (rv_mysql_escape), after `intro`
 * (`_binary` for a binary string: its bytes then load as they are; blobs
 * were hex before, `0x…`, twice their size, which cost zstd five times as
 * much on random bytes).  Written straight into room for the worst case
 * (every byte escaped): a call per escape had been 20 % of a dump's CPU. */
static int add_string(struct rv_buf *b, const char *intro, const char *v, size_t n)
{
	size_t il = strlen(intro), need = il + 2 + 2 * n;
	char *o;
	int rc;

	/* Near the statement's cap, room for the worst case may not be
	 * there although the value fits: count what it needs. */
	if (need > b->max - b->len)
		need = il + 2 + rv_mysql_escaped_len(v, n);
	if ((rc = rv_buf_room(b, need, &o)))
		return rc;
	memcpy(o, intro, il);
	o[il] = '\'';
	need = il + 1 + rv_mysql_escape(o + il + 1, v, n);
	o[need++] = '\'';
	rv_buf_grew(b, need);
	return 0;
}

static int add_value(struct rv_buf *b, const MYSQL_FIELD *f, const char *v, unsigned long n)
{
	if (!v)
		return rv_buf_add(b, "NULL", 4);
	if (f->type == MYSQL_TYPE_BIT || f->type == MYSQL_TYPE_GEOMETRY)
		return n ? add_hex(b, (const unsigned char *)v, n) : rv_buf_add(b, "''", 2);
	if (is_binary(f))
		return add_string(b, "_binary", v, n);
	/* Numbers as the server wrote them; "inf"/"nan" cannot be stored. */
	if (is_number(f))
		return rv_buf_add(b, v, n);
	return add_string(b, "", v, n);
}

/* The columns a dump reads and loads: all but generated ones, which the
 * server computes again (by GENERATION_EXPRESSION, which both servers
 * have: MySQL's EXTRA also says DEFAULT_GENERATED of an ordinary column
 * with an expression default). */
static int columns(struct dump *d, const char *table, struct rv_buf *cols)
{
	char et[600], ed[600];
	MYSQL_RES *r;
	MYSQL_ROW row;
	int rc, n = 0;

	rc = query_store(d, &r, "reading the columns of", table,
			 "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
			 "TABLE_SCHEMA='%s' AND TABLE_NAME='%s' AND (GENERATION_EXPRESSION IS "
			 "NULL OR GENERATION_EXPRESSION = '') ORDER BY ORDINAL_POSITION",
			 esc(d, ed, d->db), esc(d, et, table));
	if (rc)
		return rc;
	while (!rc && (row = mysql_fetch_row(r))) {
		if (n++)
			rc = rv_buf_add(cols, ",", 1);
		rc = rc ? rc : rv_mysql_ident(cols, row[0]);
	}
	mysql_free_result(r);
	if (!rc && !n)
		rc = rv_error(RV_EFAIL, "mysql snapshot: table '%s' has no columns to dump", table);
	return rc;
}

/* SHOW CREATE `what` `name`: its row in *r (the caller frees it). */
static int show_create_row(struct dump *d, const char *what, const char *name, MYSQL_RES **r)
{
	struct rv_buf id = RV_BUF_INIT(1024);
	int rc = rv_mysql_ident(&id, name);

	rc =
	    rc ? rc : query_store(d, r, "SHOW CREATE of", name, "SHOW CREATE %s %s", what, id.data);
	rv_buf_release(&id);
	return rc;
}

static int show_create(struct dump *d, const char *what, const char *name, unsigned col,
		       struct rv_buf *out)
{
	MYSQL_RES *r;
	MYSQL_ROW row;
	int rc;

	if ((rc = show_create_row(d, what, name, &r)))
		return rc;
	row = mysql_fetch_row(r);
	if (!row || mysql_num_fields(r) <= col || !row[col])
		rc = rv_error(RV_EFAIL, "mysql snapshot: SHOW CREATE %s '%s' gave nothing", what,
			      name);
	else
		rc = rv_buf_add(out, row[col], mysql_fetch_lengths(r)[col]);
	mysql_free_result(r);
	return rc;
}

/* "CREATE ALGORITHM=… DEFINER=`u`@`h` SQL SECURITY …": without the
 * DEFINER clause the restoring account becomes the definer (the source's
 * accounts need not exist where a database is restored). */
static void strip_definer(struct rv_buf *b)
{
	static const char *const kinds[] = {" VIEW ", " TRIGGER ", " PROCEDURE ", " FUNCTION "};
	char *p = b->data ? strcasestr(b->data, " DEFINER=") : NULL, *e;

	/* Only in the clauses before the object's name: "DEFINER=" in a
	 * view's query or a trigger's or routine's body is someone's data. */
	for (size_t i = 0; p && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *k = strcasestr(b->data, kinds[i]);

		if (k && p > k)
			return;
	}
	if (!p)
		return;
	p++;
	e = p + 8;
	for (int part = 0; part < 2; part++) {
		if (*e == '`') {
			for (e++; *e && !(*e == '`' && e[1] != '`'); e += *e == '`' ? 2 : 1)
				;
			if (*e)
				e++;
		} else {
			while (*e && *e != '@' && *e != ' ')
				e++;
		}
		if (part == 0 && *e == '@')
			e++;
		else
			break;
	}
	while (*e == ' ')
		e++;
	memmove(p, e, strlen(e) + 1);
	b->len -= (size_t)(e - p);
}

static int dump_rows(struct dump *d, const char *table, const char *where)
{
	struct rv_buf cols = RV_BUF_INIT(1u << 20), head = RV_BUF_INIT(1u << 20),
		      q = RV_BUF_INIT(1u << 20);
	MYSQL_RES *r = NULL;
	MYSQL_ROW row;
	MYSQL_FIELD *f;
	unsigned nf;
	uint64_t rows = 0;
	int rc;

	rc = columns(d, table, &cols);
	rc = rc ? rc : rv_buf_add(&head, "INSERT INTO ", 12);
	rc = rc ? rc : rv_mysql_ident(&head, table);
	rc = rc ? rc : rv_buf_addf(&head, " (%s) VALUES ", cols.data);
	rc = rc ? rc : rv_buf_addf(&q, "SELECT %s FROM ", cols.data);
	rc = rc ? rc : rv_mysql_ident(&q, table);
	if (!rc && where)
		rc = rv_buf_addf(&q, " WHERE %s", where);
	if (!rc && (mysql_real_query(d->m, q.data, q.len) || !(r = mysql_use_result(d->m))))
		rc = my_err(d->m, "reading the rows of", table);
	rv_buf_release(&q);
	rv_buf_release(&cols);
	if (rc) {
		rv_buf_release(&head);
		return rc;
	}
	if (where)
		rv_testpoint("mysql.range"); /* a range's rows on their way */
	f = mysql_fetch_fields(r);
	nf = mysql_num_fields(r);
	while (!rc && (row = mysql_fetch_row(r))) {
		unsigned long *len = mysql_fetch_lengths(r);

		if (!d->stmt.len)
			rc = rv_buf_add(&d->stmt, head.data, head.len);
		else
			rc = rv_buf_add(&d->stmt, ",", 1);
		rc = rc ? rc : rv_buf_add(&d->stmt, "(", 1);
		for (unsigned i = 0; !rc && i < nf; i++) {
			if (i)
				rc = rv_buf_add(&d->stmt, ",", 1);
			rc = rc ? rc : add_value(&d->stmt, &f[i], row[i], len[i]);
		}
		rc = rc ? rc : rv_buf_add(&d->stmt, ")", 1);
		rows++;
		if (!rc && d->stmt.len >= INSERT_BATCH)
			rc = record(d, "sql", "rows:", table);
	}
	if (!rc && mysql_errno(d->m))
		rc = my_err(d->m, "reading the rows of", table);
	mysql_free_result(r);
	if (!rc && d->stmt.len)
		rc = record(d, "sql", "rows:", table);
	rv_buf_release(&head);
	pthread_mutex_lock(&d->sh->mu);
	d->sh->res->rows += rows;
	pthread_mutex_unlock(&d->sh->mu);
	return rc;
}

struct names {
	char **v;
	size_t n;
};

static void names_free(struct names *n)
{
	for (size_t i = 0; i < n->n; i++)
		free(n->v[i]);
	free(n->v);
	n->v = NULL;
	n->n = 0;
}

/* The database's tables or views (TABLE_TYPE), the largest first (the
 * connections of a parallel dump take them in this order). */
static int list(struct dump *d, const char *type, struct items *out)
{
	char ed[600];
	MYSQL_RES *r;
	MYSQL_ROW row;
	int rc;

	rc = query_store(d, &r, "listing the tables of", d->db,
			 "SELECT TABLE_NAME, ENGINE, DATA_LENGTH, TABLE_ROWS FROM "
			 "information_schema.TABLES WHERE TABLE_SCHEMA='%s' AND TABLE_TYPE='%s' "
			 "ORDER BY COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0) DESC, "
			 "TABLE_NAME",
			 esc(d, ed, d->db), type);
	if (rc)
		return rc;
	out->v = rv_calloc(mysql_num_rows(r) + 1, sizeof(*out->v));
	while ((row = mysql_fetch_row(r))) {
		struct item *it = &out->v[out->n++];

		if (row[1] && strcasecmp(row[1], "InnoDB"))
			rv_log(RV_LOG_WARN,
			       "mysql snapshot: a table outside InnoDB is not in the consistent "
			       "snapshot (writes to it during the dump may be half in)",
			       "table", row[0], "engine", row[1], NULL);
		it->table = rv_strdup(row[0]);
		if (!row[2] || rv_parse_u64(row[2], &it->bytes))
			it->bytes = 0;
		if (!row[3] || rv_parse_u64(row[3], &it->rows))
			it->rows = 0;
	}
	mysql_free_result(r);
	return 0;
}

/* A stored program's two records, from one SHOW CREATE (a trigger's and
 * a routine's rows both hold the name, the sql_mode it was created under
 * and the statement): a `mode:<name>` record setting that sql_mode, then
 * the statement without DEFINER as `<tag><name>`.  A statement the server
 * withholds (NULL: this account may not read it) is named in `unread`
 * (*written false); without `unread` it is an error. */
static int program(struct dump *d, const char *what, const char *name, const char *tag,
		   struct rv_buf *unread, bool *written)
{
	MYSQL_RES *r;
	MYSQL_ROW row;
	int rc;

	*written = false;
	if ((rc = show_create_row(d, what, name, &r)))
		return rc;
	row = mysql_fetch_row(r);
	if (!row || mysql_num_fields(r) < 3 || !row[1] || !row[2]) {
		if (!unread) {
			rc = rv_error(RV_EFAIL, "mysql snapshot: SHOW CREATE %s '%s' gave nothing",
				      what, name);
		} else {
			int full = rv_buf_addf(unread, "%s%.*s %s", unread->len ? ", " : "",
					       (int)strlen(tag) - 1, tag, name);

			(void)full; /* past the list's 64 KiB, the names that fit */
		}
	} else {
		rc = rv_buf_addf(&d->stmt, "SET SESSION sql_mode='%s'", row[1]);
		rc = rc ? rc : record(d, "sql", "mode:", name);
		rc = rc ? rc : rv_buf_add(&d->stmt, row[2], mysql_fetch_lengths(r)[2]);
		if (!rc)
			strip_definer(&d->stmt);
		rc = rc ? rc : record(d, "sql", tag, name);
		*written = !rc;
	}
	mysql_free_result(r);
	return rc;
}

/* The first column of every row of `r`, which it frees. */
static void first_column(MYSQL_RES *r, struct names *out)
{
	MYSQL_ROW row;

	out->v = rv_calloc(mysql_num_rows(r) + 1, sizeof(char *));
	while ((row = mysql_fetch_row(r)))
		if (row[0])
			out->v[out->n++] = rv_strdup(row[0]);
	mysql_free_result(r);
}

static int dump_triggers(struct dump *d)
{
	struct rv_buf id = RV_BUF_INIT(1024);
	struct names t = {0};
	MYSQL_RES *r;
	bool written;
	int rc = rv_mysql_ident(&id, d->db);

	rc = rc ? rc
		: query_store(d, &r, "listing the triggers of", d->db, "SHOW TRIGGERS FROM %s",
			      id.data);
	rv_buf_release(&id);
	if (rc)
		return rc;
	first_column(r, &t);
	for (size_t i = 0; !rc && i < t.n; i++) {
		rc = program(d, "TRIGGER", t.v[i], "trigger:", NULL, &written);
		d->sh->res->triggers++;
	}
	names_free(&t);
	return rc;
}

/* The session a load needs, as the dump's first record; its sql_mode
 * again after records that set their own. */
static const char preamble[] = "SET NAMES utf8mb4, time_zone='+00:00', foreign_key_checks=0, "
			       "unique_checks=0, sql_mode='NO_AUTO_VALUE_ON_ZERO'";
static const char load_mode[] = "SET SESSION sql_mode='NO_AUTO_VALUE_ON_ZERO'";

/* Stored procedures and functions, each as program() writes it; before
 * the views, which may call functions, and followed by the load's
 * sql_mode again.  Only what this account may see: information_schema.
 * ROUTINES lists a routine to an account with a privilege on it, and SHOW
 * CREATE gives its body only to one that may read it (MariaDB: its
 * definer, or SELECT on mysql.proc); one listed without a body is named
 * in `unread` for warn_unsaved(). */
static int dump_routines(struct dump *d, struct rv_buf *unread)
{
	struct names t = {0};
	MYSQL_RES *r;
	char ed[600];
	bool written;
	int rc, n = 0;

	rc = query_store(d, &r, "listing the stored routines of", d->db,
			 "SELECT CONCAT(ROUTINE_TYPE, ' ', ROUTINE_NAME) FROM "
			 "information_schema.ROUTINES WHERE ROUTINE_SCHEMA='%s' AND ROUTINE_TYPE "
			 "IN ('PROCEDURE', 'FUNCTION') ORDER BY ROUTINE_NAME, ROUTINE_TYPE",
			 esc(d, ed, d->db));
	if (rc)
		return rc;
	first_column(r, &t);
	for (size_t i = 0; !rc && i < t.n; i++) {
		bool fn = !strncmp(t.v[i], "FUNCTION ", 9);

		rc = program(d, fn ? "FUNCTION" : "PROCEDURE", strchr(t.v[i], ' ') + 1,
			     fn ? "function:" : "procedure:", unread, &written);
		n += written;
	}
	if (!rc && n) {
		rc = rv_buf_add(&d->stmt, load_mode, sizeof(load_mode) - 1);
		rc = rc ? rc : record(d, "sql", "session", NULL);
	}
	d->sh->res->routines += (unsigned)n;
	names_free(&t);
	return rc;
}

/* Events are not in the snapshot (docs/FORMAT.md), nor routines this
 * account cannot read (`unread`): say so, by name, so that nobody learns
 * it from a restore.  A routine this account has no privilege on is not
 * even listed to it, so silence is not proof there are none. */
static void warn_unsaved(struct dump *d, struct rv_buf *unread)
{
	char ed[600], q[1600];
	struct rv_buf v = RV_BUF_INIT(4096);
	int rc;

	snprintf(q, sizeof(q),
		 "SELECT GROUP_CONCAT(CONCAT('event ', EVENT_NAME) ORDER BY EVENT_NAME SEPARATOR "
		 "', ') FROM information_schema.EVENTS WHERE EVENT_SCHEMA='%s'",
		 esc(d, ed, d->db));
	rc = rv_mysql_value(d->m, q, &v);
	if (rc && rc != RV_ENOTFOUND) /* only a warning's worth: go on */
		rv_log(RV_LOG_WARN,
		       "mysql snapshot: cannot tell whether the database has events (they "
		       "would not be in the snapshot)",
		       "error", rv_errmsg(), NULL);
	if (v.len) {
		int full = rv_buf_addf(unread, "%s%s", unread->len ? ", " : "", rv_buf_str(&v));

		(void)full; /* past the list's 64 KiB, the names that fit */
	}
	if (unread->len)
		rv_log(RV_LOG_WARN,
		       "mysql snapshot: events, and stored routines this account may not read, "
		       "are not in the snapshot: recreate them after a restore (their "
		       "definitions are in the server's SHOW CREATE output)",
		       "database", d->db, "missing", rv_buf_str(unread), NULL);
	rv_buf_release(&v);
}

static const char postamble[] = "SET foreign_key_checks=1, unique_checks=1";

static int create_table(struct dump *d, const char *table)
{
	int rc = show_create(d, "TABLE", table, 1, &d->stmt);

	return rc ? rc : record(d, "sql", "table:", table);
}

static void table_done(struct dump *d)
{
	pthread_mutex_lock(&d->sh->mu);
	d->sh->res->tables++;
	pthread_mutex_unlock(&d->sh->mu);
}

/* The column a table can be split by: its primary key, if that is one
 * whole column of a type whose ORDER BY is the order its comparisons use
 * (integers, strings, binary strings, dates): then ranges [b_i, b_i+1) of
 * the values the ORDER BY yields hold every row exactly once, whatever the
 * boundaries are.  Not ENUM or SET (sorted by their index, compared as
 * strings), floats, or a key prefix.  `*col` empty: none. */
static bool orderable(const char *type)
{
	static const char *const ok[] = {"tinyint",   "smallint", "mediumint", "int",
					 "bigint",    "char",	  "varchar",   "binary",
					 "varbinary", "date",	  "datetime"};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcasecmp(type, ok[i]))
			return true;
	return false;
}

static int split_column(struct dump *d, const char *table, struct rv_buf *col)
{
	char et[600], ed[600];
	MYSQL_RES *r;
	MYSQL_ROW row;
	unsigned parts = 0;
	bool usable = false;
	int rc;

	rc = query_store(d, &r, "reading the primary key of", table,
			 "SELECT s.COLUMN_NAME, c.DATA_TYPE, s.SUB_PART FROM "
			 "information_schema.STATISTICS s JOIN information_schema.COLUMNS c ON "
			 "c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND "
			 "c.COLUMN_NAME = s.COLUMN_NAME WHERE s.TABLE_SCHEMA='%s' AND "
			 "s.TABLE_NAME='%s' AND s.INDEX_NAME='PRIMARY'",
			 esc(d, ed, d->db), esc(d, et, table));
	if (rc)
		return rc;
	while ((row = mysql_fetch_row(r))) {
		/* COLUMN_NAME, DATA_TYPE, SUB_PART (NULL: the whole column) */
		usable = ++parts == 1 && row[0] && row[1] && !row[2] && orderable(row[1]);
		if (usable)
			rc = rv_mysql_ident(col, row[0]);
	}
	mysql_free_result(r);
	if (!rc && (parts != 1 || !usable))
		rv_buf_reset(col);
	return rc;
}

/* Queue the range [lo, hi) of `table` by `col` (NULL: unbounded) after
 * the ones this split queued before it (`*at`: where the next goes), ahead
 * of the tables not yet taken, and wake a connection waiting for work.
 * RV_EINTR when another connection failed: the split stops. */
static int queue_range(struct shared *sh, const char *table, const char *col, const char *lo,
		       const char *hi, size_t *at)
{
	struct item it = {.kind = ITEM_RANGE, .table = rv_strdup(table)};

	if (lo && hi)
		it.where = rv_asprintf("%s >= %s AND %s < %s", col, lo, col, hi);
	else if (lo || hi)
		it.where = rv_asprintf("%s %s %s", col, lo ? ">=" : "<", lo ? lo : hi);
	pthread_mutex_lock(&sh->mu);
	if (sh->rc) {
		pthread_mutex_unlock(&sh->mu);
		free(it.table);
		free(it.where);
		return RV_EINTR;
	}
	if (*at < sh->next) /* taken meanwhile: the next goes where they resume */
		*at = sh->next;
	sh->q.v = rv_realloc(sh->q.v, (sh->q.n + 1) * sizeof(*sh->q.v));
	memmove(sh->q.v + *at + 1, sh->q.v + *at, (sh->q.n - *at) * sizeof(*sh->q.v));
	sh->q.v[(*at)++] = it;
	sh->q.n++;
	pthread_cond_signal(&sh->cv);
	pthread_mutex_unlock(&sh->mu);
	return 0;
}

/* The query for a split's boundaries, every `step`-th value of key `col`
 * in order: for fat rows (`sorted`) counted by the server, each value it
 * returns a boundary; otherwise the whole key in order, its rows counted
 * out by the caller. */
static int key_query(const struct item *it, const char *col, uint64_t step, bool sorted,
		     struct rv_buf *q)
{
	int rc;

	if (sorted) {
		rc = rv_buf_addf(q,
				 "SELECT %s FROM (SELECT %s, ROW_NUMBER() OVER (ORDER BY %s) AS "
				 "rv_n FROM ",
				 col, col, col);
		rc = rc ? rc : rv_mysql_ident(q, it->table);
		return rc ? rc
			  : rv_buf_addf(q, ") AS rv_k WHERE rv_n %% %" PRIu64 " = 0 ORDER BY rv_n",
					step);
	}
	rc = rv_buf_addf(q, "SELECT %s FROM ", col);
	rc = rc ? rc : rv_mysql_ident(q, it->table);
	return rc ? rc : rv_buf_addf(q, " ORDER BY %s", col);
}

/* Split the table of `it` into ranges of its primary key: its CREATE
 * TABLE first (every range comes after it in the object), then every k-th
 * value of the key in order (key_query), in this connection's snapshot
 * (the ranges are read in the same one), each queued as a range's end as
 * it arrives — k from the server's row estimate, doubled after every
 * RANGES_PER_STEP ranges — so that the other connections start on the
 * first ranges while the rest come.  A table that cannot be split is one
 * range. */
static int split(struct dump *d, const struct item *it)
{
	struct shared *sh = d->sh;
	struct rv_buf col = RV_BUF_INIT(1024), lo = RV_BUF_INIT(64u << 10),
		      hi = RV_BUF_INIT(64u << 10), q = RV_BUF_INIT(4096), swap;
	uint64_t want = it->bytes / sh->chunk, step, seen = 0, ranges = 0;
	MYSQL_RES *r = NULL;
	MYSQL_ROW row;
	size_t at = 0; /* queue_range() starts at the queue's head */
	bool sorted =
	    it->rows && it->rows <= SORTED_ROWS_MAX && it->bytes / it->rows >= SORTED_ROW_MIN;
	int rc;

	step = want && it->rows / want ? it->rows / want : 1;
	rc = create_table(d, it->table);
	rc = rc ? rc : split_column(d, it->table, &col);
	if (!rc && col.len) {
		rc = key_query(it, col.data, step, sorted, &q);
		step = sorted ? 1 : step; /* the server counted */
		if (!rc && (mysql_real_query(d->m, q.data, q.len) || !(r = mysql_use_result(d->m))))
			rc = my_err(d->m, "reading the key of", it->table);
	}
	while (r && !rc && (row = mysql_fetch_row(r))) {
		if (++seen % step || !row[0])
			continue;
		rc = add_value(&hi, mysql_fetch_field_direct(r, 0), row[0],
			       mysql_fetch_lengths(r)[0]);
		if (rc)
			break;
		rc = queue_range(sh, it->table, col.data, ranges ? lo.data : NULL, hi.data, &at);
		if (rc)
			break;
		if (++ranges % RANGES_PER_STEP == 0)
			step *= 2;
		swap = lo; /* this range's end is the next one's start */
		lo = hi;
		hi = swap;
		rv_buf_reset(&hi);
	}
	if (r && !rc && mysql_errno(d->m))
		rc = my_err(d->m, "reading the key of", it->table);
	if (r)
		mysql_free_result(r);
	rc = rc ? rc : queue_range(sh, it->table, col.data, ranges ? lo.data : NULL, NULL, &at);
	if (!rc) {
		char nr[24];

		table_done(d);
		snprintf(nr, sizeof(nr), "%" PRIu64, ranges + 1);
		if (col.len)
			rv_log(RV_LOG_INFO,
			       "mysql snapshot: a large table is read in ranges of its "
			       "primary key",
			       "table", it->table, "key", col.data, "ranges", nr, "boundaries",
			       sorted ? "sorted" : "scan", NULL);
		else
			rv_log(RV_LOG_INFO,
			       "mysql snapshot: a large table is read by one connection "
			       "(its primary key is not one column of an integer, "
			       "string or date type)",
			       "table", it->table, NULL);
	}
	pthread_mutex_lock(&sh->mu);
	sh->splitting--;
	pthread_cond_broadcast(&sh->cv);
	pthread_mutex_unlock(&sh->mu);
	rv_buf_release(&col);
	rv_buf_release(&lo);
	rv_buf_release(&hi);
	rv_buf_release(&q);
	return rc;
}

static int dump_item(struct dump *d, const struct item *it)
{
	int rc;

	if (it->kind == ITEM_SPLIT)
		return split(d, it);
	if (it->kind == ITEM_RANGE) /* its CREATE TABLE came with the split */
		return dump_rows(d, it->table, it->where);
	rc = create_table(d, it->table);
	rc = rc ? rc : dump_rows(d, it->table, NULL);
	if (!rc)
		table_done(d);
	return rc;
}

/* The next item, waiting while a split may still add some; false when
 * none is left or a connection failed.  The item's strings stay the
 * queue's. */
static bool take(struct shared *sh, struct item *out)
{
	bool got = false;

	pthread_mutex_lock(&sh->mu);
	while (!sh->rc) {
		if (sh->next < sh->q.n) {
			*out = sh->q.v[sh->next++];
			sh->splitting += out->kind == ITEM_SPLIT;
			got = true;
			break;
		}
		if (!sh->splitting)
			break;
		pthread_cond_wait(&sh->cv, &sh->mu);
	}
	pthread_mutex_unlock(&sh->mu);
	return got;
}

/* Take items until none is left or a connection failed. */
static void *worker_main(void *p)
{
	struct dump *d = p;
	struct item it;
	int rc;

	while (take(d->sh, &it))
		if ((rc = dump_item(d, &it))) {
			fail_shared(d->sh, rc);
			break;
		}
	return NULL;
}

/* Tables on `n` connections (the first on this thread), then views and
 * triggers on the first.  With more than one, a table of two ranges'
 * worth or more (snapshot_chunk) is split by its primary key, so that its
 * ranges go to every connection. */
static int dump_all(struct dump *d, unsigned n)
{
	struct shared *sh = d[0].sh;
	struct items views = {0};
	struct rv_buf unread = RV_BUF_INIT(64u << 10);
	int rc;

	rc = list(&d[0], "BASE TABLE", &sh->q);
	rc = rc ? rc : list(&d[0], "VIEW", &views);
	rc = rc ? rc : rv_buf_add(&d[0].stmt, preamble, sizeof(preamble) - 1);
	rc = rc ? rc : record(&d[0], "sql", "session", NULL);
	if (!rc) {
		for (size_t i = 0; n > 1 && i < sh->q.n; i++)
			if (sh->q.v[i].bytes / 2 >= sh->chunk)
				sh->q.v[i].kind = ITEM_SPLIT;
		for (unsigned i = 1; i < n; i++)
			d[i].started = !pthread_create(&d[i].th, NULL, worker_main, &d[i]);
		worker_main(&d[0]);
		for (unsigned i = 1; i < n; i++)
			if (d[i].started)
				pthread_join(d[i].th, NULL);
		/* A connection that did not start leaves its items to the
		 * others; only a failure counts. */
		if (sh->rc)
			rc = rv_error(sh->rc, "%s", sh->err);
	}
	items_free(&sh->q);
	rc = rc ? rc : dump_routines(&d[0], &unread);
	for (size_t i = 0; !rc && i < views.n; i++) {
		rc = show_create(&d[0], "VIEW", views.v[i].table, 1, &d[0].stmt);
		if (!rc)
			strip_definer(&d[0].stmt);
		rc = rc ? rc : record(&d[0], "sql", "view:", views.v[i].table);
		sh->res->views++;
	}
	rc = rc ? rc : dump_triggers(&d[0]);
	if (!rc)
		warn_unsaved(&d[0], &unread);
	rc = rc ? rc : rv_buf_add(&d[0].stmt, postamble, sizeof(postamble) - 1);
	rc = rc ? rc : record(&d[0], "sql", "session", NULL);
	items_free(&views);
	rv_buf_release(&unread);
	return rc;
}

/* ---- into the store ---- */

struct putter {
	struct rv_store *st;
	const char *key;
	int fd;
	int rc;
	char err[1024];
};

static void *put_main(void *p)
{
	struct putter *pt = p;
	struct rv_put_opts po = {.cond = RV_PUT_ALWAYS};

	pt->rc = rv_store_put_fd(pt->st, pt->key, pt->fd, UINT64_MAX, &po);
	if (pt->rc)
		snprintf(pt->err, sizeof(pt->err), "%s", rv_errmsg());
	close(pt->fd);
	return NULL;
}

/* The charset and collation of the database: the restore creates it so. */
static int db_charset(struct dump *d, char *meta, size_t n)
{
	char ed[600];
	MYSQL_RES *r;
	MYSQL_ROW row;
	int rc;

	rc = query_store(d, &r, "reading the charset of", d->db,
			 "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM "
			 "information_schema.SCHEMATA WHERE SCHEMA_NAME='%s'",
			 esc(d, ed, d->db));
	if (rc)
		return rc;
	row = mysql_fetch_row(r);
	if (row && row[0] && row[1])
		snprintf(meta, n, "charset=%s collation=%s", row[0], row[1]);
	mysql_free_result(r);
	return 0;
}

/* A header token's value: no space or control byte (GTID lists carry
 * newlines on MySQL). */
static void token_clean(char *s)
{
	char *o = s;

	for (char *p = s; *p; p++)
		if ((unsigned char)*p > 0x20 && *p != 0x7f)
			*o++ = *p;
	*o = '\0';
}

static int build_header(struct dump *d, struct rv_dbobj_hdr *h)
{
	char cs[256] = "";
	int rc, n;

	if ((rc = db_charset(d, cs, sizeof(cs))))
		return rc;
	struct rv_mysql_snap_pos *res = d->sh->res;

	token_clean(res->file);
	token_clean(res->gtid);
	snprintf(res->server, sizeof(res->server), "%s", mysql_get_server_info(d->m));
	token_clean(res->server);
	snprintf(h->engine, sizeof(h->engine), "mysql");
	n = snprintf(h->meta, sizeof(h->meta),
		     "binlog_file=%s binlog_pos=%" PRIu64 " gtid=%s server=%s%s%s", res->file,
		     res->pos, *res->gtid ? res->gtid : "-", res->server, *cs ? " " : "", cs);
	if (n < 0 || (size_t)n >= sizeof(h->meta))
		return rv_error(RV_EFAIL, "mysql snapshot: the GTID position is too long for the "
					  "object header");
	return 0;
}

/* The put side: a pipe whose read end a thread puts into the store as
 * `key`; the dump writes the object into *wfd. */
static int put_start(struct putter *pt, pthread_t *th, int *wfd)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) == -1)
		return rv_error_errno(RV_EFAIL, errno, "mysql snapshot: pipe");
	/* 1 MiB instead of 64 KiB: a sixteenth of the wake-ups of two threads
	 * handing the object over (not fatal if refused: the default works). */
	(void)fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
	pt->fd = fds[0];
	if (pthread_create(th, NULL, put_main, pt)) {
		close(fds[0]);
		close(fds[1]);
		return rv_error(RV_EFAIL, "mysql snapshot: cannot start a thread");
	}
	*wfd = fds[1];
	return 0;
}

/* After the pipe closed: the put's outcome, and no partial object left
 * under the key when anything failed. */
static int put_finish(struct putter *pt, pthread_t th, int rc)
{
	pthread_join(th, NULL);
	/* The store's failure is the cause when there is one (the dump then
	 * only saw the pipe close). */
	if (pt->rc)
		rc = rv_error(pt->rc, "%s", pt->err);
	/* A failed dump ends the pipe early and the put may have stored what
	 * came: never leave a partial snapshot under its name (a reader would
	 * refuse it, but it must not even look like one). */
	if (rc && !pt->rc) {
		char why[1024];

		/* The delete's own messages must not replace the failure's. */
		snprintf(why, sizeof(why), "%s", rv_errmsg());
		if (rv_store_delete(pt->st, pt->key) != 0)
			rv_log(RV_LOG_WARN,
			       "mysql snapshot: a failed snapshot could not be removed", "key",
			       pt->key, "error", rv_errmsg(), NULL);
		rc = rv_error(rc, "%s", why);
	}
	return rc;
}

/* Commit (read-only: ends the snapshot) and close every connection.  After
 * a failure only close: closing ends the transaction too, and a COMMIT on
 * a lost connection would put its own message over the failure's. */
static int dumps_close(struct dump *d, unsigned n, int rc)
{
	for (unsigned i = 0; i < n; i++) {
		if (d[i].m) {
			if (!rc)
				rc = rv_mysql_exec(d[i].m, "mysql snapshot: commit", "COMMIT");
			mysql_close(d[i].m);
		}
		rv_buf_release(&d[i].stmt);
	}
	free(d);
	return rc;
}

static void log_written(const char *key, const struct rv_mysql_snap_pos *res, unsigned n,
			int64_t t0)
{
	char ms[24], rows[24], jobs[8];

	snprintf(ms, sizeof(ms), "%" PRId64, rv_mono_ms() - t0);
	snprintf(rows, sizeof(rows), "%" PRIu64, res->rows);
	snprintf(jobs, sizeof(jobs), "%u", n);
	rv_log(RV_LOG_INFO, "mysql: snapshot written", "key", key, "binlog_file", res->file, "gtid",
	       res->gtid, "rows", rows, "connections", jobs, "ms", ms, NULL);
}

struct fixed_at {
	uint64_t at;
};

static int fixed_at_fn(void *ud, const struct rv_mysql_snap_pos *p, uint64_t *at)
{
	(void)p;
	*at = ((const struct fixed_at *)ud)->at;
	return 0;
}

int rv_mysql_snapshot(const struct rv_mysql_conf *c, struct rv_store *st, const char *gen,
		      uint64_t at, struct rv_mysql_snap_pos *res, char **key_out)
{
	struct fixed_at f = {.at = at};

	return rv_mysql_snapshot_at(c, st, gen, fixed_at_fn, &f, res, key_out);
}

int rv_mysql_snapshot_at(const struct rv_mysql_conf *c, struct rv_store *st, const char *gen,
			 rv_mysql_at_fn at_fn, void *ud, struct rv_mysql_snap_pos *res,
			 char **key_out)
{
	uint64_t at = 0;
	unsigned n = c->snapshot_jobs > 1 ? (unsigned)c->snapshot_jobs : 1;
	struct shared sh = {
	    .res = res, .chunk = c->snapshot_chunk ? c->snapshot_chunk : RV_MYSQL_SNAPSHOT_CHUNK};
	struct dump *d = rv_calloc(n, sizeof(*d));
	struct rv_dbobj_hdr h = {.kind = RV_DBOBJ_SNAPSHOT};
	struct putter pt = {.st = st, .fd = -1};
	pthread_t th;
	bool started = false;
	int wfd = -1, rc = 0;
	char *key = NULL;
	int64_t t0 = rv_mono_ms();

	memset(res, 0, sizeof(*res));
	if (key_out)
		*key_out = NULL;
	pthread_mutex_init(&sh.mu, NULL);
	pthread_cond_init(&sh.cv, NULL);
	for (unsigned i = 0; i < n; i++) {
		d[i].sh = &sh;
		d[i].db = c->database;
		rv_buf_init(&d[i].stmt, RV_DBOBJ_RECORD_MAX);
		if (!rc)
			rc = rv_mysql_connect(&d[i].m, c, NULL);
	}
	rc = rc ? rc : begin(c, d, n, res);
	rc = rc ? rc : at_fn(ud, res, &at);
	if (!rc) {
		h.from = h.to = at;
		memcpy(h.gen, gen, RV_GEN_ID_LEN);
		h.time_ms = rv_now_ms();
		rc = build_header(&d[0], &h);
	}
	if (!rc) {
		key = rv_dbobj_snapshot_key(gen, at, h.time_ms);
		pt.key = key;
		started = !(rc = put_start(&pt, &th, &wfd));
	}
	rc = rc ? rc : rv_dbobj_writer_new(&sh.w, &h, wfd);
	rc = rc ? rc : dump_all(d, n);
	rc = rc ? rc : rv_dbobj_writer_finish(sh.w);
	rv_dbobj_writer_free(sh.w);
	if (wfd != -1)
		close(wfd); /* the put sees the end of the object */
	rc = dumps_close(d, n, rc);
	pthread_mutex_destroy(&sh.mu);
	pthread_cond_destroy(&sh.cv);
	if (started)
		rc = put_finish(&pt, th, rc);
	if (!rc) {
		log_written(key, res, n, t0);
		if (key_out) {
			*key_out = key;
			key = NULL;
		}
	}
	free(key);
	return rc;
}
