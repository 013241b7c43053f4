/* load.c - a MySQL/MariaDB snapshot object loaded into a new database
 * (mysql.h), and the MySQL side of the restore interface (db/target.h).
 *
 * The object is downloaded through a pipe and its statements run as they
 * arrive; nothing is spooled.  The database is created by the load with a
 * marker table, `revenant_restore_incomplete`, dropped only after the
 * object's end line, SHA-256 and zstd checksum verified: a database that
 * still has the marker is not a restore (a load killed half-way leaves
 * it, and the next load into that name drops it and starts again); a
 * load that fails drops the database again.  Any other database at the
 * name is refused: a restore never touches what it did not make. */
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
#include <mysqld_error.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MARKER "revenant_restore_incomplete"

static int load(const struct rv_mysql_conf *c, struct rv_store *st, const char *key,
		const char *gen, uint64_t pos, const char *dbname, struct rv_mysql_snap_pos *res,
		bool force, rv_mysql_after_fn after, void *ud);

struct getter {
	struct rv_store *st;
	const char *key;
	int fd;
	int rc;
	char err[1024];
	atomic_bool done; /* set before its end of the pipe closes */
};

static void *get_main(void *p)
{
	struct getter *g = p;

	g->rc = rv_store_get_fd(g->st, g->key, g->fd, 0, 0, NULL);
	if (g->rc)
		snprintf(g->err, sizeof(g->err), "%s", rv_errmsg());
	atomic_store(&g->done, true);
	close(g->fd);
	return NULL;
}

/* "k=v" of the header's engine tokens into `out`; "" when absent. */
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

static bool name_ok(const char *s)
{
	for (; *s; s++)
		if (!(*s == '_' || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z')))
			return false;
	return true;
}

struct deferred {
	struct rv_buf *v;
	char (*tag)[RV_DBOBJ_TAG_MAX];
	size_t n, cap;
	uint64_t bytes;
};

static void deferred_free(struct deferred *d)
{
	for (size_t i = 0; i < d->n; i++)
		rv_buf_release(&d->v[i]);
	free(d->v);
	free(d->tag);
}

/* A view whose tables (or views) are not there yet runs again later. */
static int defer(struct deferred *d, const char *tag, const struct rv_buf *b)
{
	if (d->bytes + b->len > (64u << 20))
		return rv_error(RV_EFAIL, "mysql restore: too many views wait for others");
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 16;
		d->v = rv_realloc(d->v, d->cap * sizeof(*d->v));
		d->tag = rv_realloc(d->tag, d->cap * sizeof(*d->tag));
	}
	rv_buf_init(&d->v[d->n], b->len + 1);
	snprintf(d->tag[d->n], RV_DBOBJ_TAG_MAX, "%s", tag);
	d->bytes += b->len;
	return rv_buf_add(&d->v[d->n++], b->data, b->len);
}

static int run_deferred(MYSQL *m, struct deferred *d, const char *key)
{
	for (bool progress = true; d->n && progress;) {
		progress = false;
		for (size_t i = 0; i < d->n;) {
			if (mysql_real_query(m, d->v[i].data, d->v[i].len) == 0) {
				rv_buf_release(&d->v[i]);
				d->v[i] = d->v[--d->n];
				memcpy(d->tag[i], d->tag[d->n], RV_DBOBJ_TAG_MAX);
				progress = true;
			} else {
				i++;
			}
		}
	}
	if (d->n && mysql_real_query(m, d->v[0].data, d->v[0].len))
		return rv_error(rv_mysql_result(mysql_errno(m)), "mysql restore of '%s': %s: %s",
				key, d->tag[0], mysql_error(m));
	return 0;
}

struct load {
	MYSQL *m;
	struct rv_dbobj_reader *r;
	const char *key;
	uint64_t records;
};

/* Run every record, then verify the object.  A statement runs before
 * the end line is checked (the object streams in), so a statement that
 * fails may be damage, not the server: the rest is then read without
 * running anything, and a failed verification is the error (corrupt, exit
 * 7) rather than whatever the server said about the damaged statement. */
static int run_records(struct load *l)
{
	struct rv_buf body = RV_BUF_INIT(RV_DBOBJ_RECORD_MAX);
	struct deferred dv = {0};
	char type[16], tag[RV_DBOBJ_TAG_MAX], *failed = NULL;
	bool end = false;
	int rc = 0, sql_rc = 0;

	while (!rc && !end) {
		rc = rv_dbobj_reader_record(l->r, type, tag, &body, &end);
		if (rc || end || sql_rc || strcmp(type, "sql"))
			continue; /* a record type of a newer 1.x: not ours to run */
		l->records++;
		if (mysql_real_query(l->m, body.data ? body.data : "", body.len) == 0) {
			MYSQL_RES *res = mysql_store_result(l->m);

			mysql_free_result(res);
			rv_testpoint("mysql.loaded");
			continue;
		}
		if (!strncmp(tag, "view:", 5) && (mysql_errno(l->m) == ER_NO_SUCH_TABLE ||
						  mysql_errno(l->m) == ER_VIEW_INVALID)) {
			rc = defer(&dv, tag, &body);
		} else {
			bool super = mysql_errno(l->m) == ER_BINLOG_CREATE_ROUTINE_NEED_SUPER;

			sql_rc = super ? RV_EAUTH : rv_mysql_result(mysql_errno(l->m));
			failed = rv_asprintf(
			    "mysql restore of '%s': record %" PRIu64 " (%s): %s%s", l->key,
			    l->records, *tag ? tag : "sql", mysql_error(l->m),
			    super ? " — the target has binary logging on: SET GLOBAL "
				    "log_bin_trust_function_creators=1 there, or restore as an "
				    "account with SUPER"
				  : "");
		}
	}
	if (!rc)
		rc = rv_dbobj_reader_finish(l->r);
	if (!rc && sql_rc)
		rc = rv_error(sql_rc, "%s", failed);
	if (!rc)
		rc = run_deferred(l->m, &dv, l->key);
	free(failed);
	deferred_free(&dv);
	rv_buf_release(&body);
	return rc;
}

static int check_header(struct load *l, const char *gen, uint64_t pos,
			struct rv_mysql_snap_pos *res, char *cs, char *coll)
{
	const struct rv_dbobj_hdr *h = rv_dbobj_reader_hdr(l->r);
	char v[64];

	if (h->kind != RV_DBOBJ_SNAPSHOT || strcmp(h->gen, gen) || h->from != pos)
		return rv_error(RV_ECORRUPT,
				"database object '%s' does not hold what its name says (kind, "
				"generation or position)",
				l->key);
	if (strcmp(h->engine, "mysql"))
		return rv_error(RV_ECORRUPT, "database object '%s' is not a MySQL snapshot",
				l->key);
	meta_get(h->meta, "charset", cs, 64);
	meta_get(h->meta, "collation", coll, 64);
	if (!name_ok(cs) || !name_ok(coll))
		return rv_error(RV_ECORRUPT, "database object '%s': bad charset or collation",
				l->key);
	if (res) {
		meta_get(h->meta, "binlog_file", res->file, sizeof(res->file));
		meta_get(h->meta, "binlog_pos", v, sizeof(v));
		if (rv_parse_u64(v, &res->pos))
			return rv_error(RV_ECORRUPT, "database object '%s': bad binlog_pos",
					l->key);
		meta_get(h->meta, "gtid", res->gtid, sizeof(res->gtid));
		if (!strcmp(res->gtid, "-"))
			res->gtid[0] = '\0';
		meta_get(h->meta, "server", res->server, sizeof(res->server));
	}
	return 0;
}

static int exists(MYSQL *m, const char *db, bool *yes)
{
	struct rv_buf v = RV_BUF_INIT(64);
	char e[600], *q;
	int rc;

	mysql_real_escape_string(m, e, db, (unsigned long)strnlen(db, 290));
	q = rv_asprintf("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='%s'",
			e);
	rc = rv_mysql_value(m, q, &v);
	*yes = !rc && strcmp(rv_buf_str(&v), "0");
	free(q);
	rv_buf_release(&v);
	return rc;
}

/* A database at the name: ours half-loaded (the marker table is there:
 * `*ours`), or someone else's. */
static int has_marker(MYSQL *m, const char *db, bool *ours)
{
	struct rv_buf v = RV_BUF_INIT(64);
	char e[600], *q;
	int rc;

	mysql_real_escape_string(m, e, db, (unsigned long)strnlen(db, 290));
	q = rv_asprintf(
	    "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='%s' AND "
	    "TABLE_NAME='" MARKER "'",
	    e);
	rc = rv_mysql_value(m, q, &v);
	*ours = !rc && strcmp(rv_buf_str(&v), "0");
	free(q);
	rv_buf_release(&v);
	return rc;
}

/* `*created` once the database is ours to drop again (a CREATE that lost
 * a race with someone else's leaves theirs alone). */
static int create_db(MYSQL *m, const char *db, const char *cs, const char *coll, bool *created)
{
	struct rv_buf q = RV_BUF_INIT(4096);
	int rc = rv_buf_add(&q, "CREATE DATABASE ", 16);

	rc = rc ? rc : rv_mysql_ident(&q, db);
	if (!rc && *cs)
		rc = rv_buf_addf(&q, " CHARACTER SET %s", cs);
	if (!rc && *coll)
		rc = rv_buf_addf(&q, " COLLATE %s", coll);
	rc = rc ? rc : rv_mysql_exec(m, "mysql restore: create the database", q.data);
	*created = !rc;
	if (!rc && mysql_select_db(m, db))
		rc = rv_error(rv_mysql_result(mysql_errno(m)), "mysql restore: use '%s': %s", db,
			      mysql_error(m));
	rc = rc ? rc
		: rv_mysql_exec(m, "mysql restore: the marker",
				"CREATE TABLE `" MARKER "` (note VARCHAR(200)) ENGINE=InnoDB");
	rc = rc ? rc
		: rv_mysql_exec(m, "mysql restore: the marker",
				"INSERT INTO `" MARKER "` VALUES ('revenant is loading this "
				"database; it is not a restore until this table is gone')");
	rv_buf_release(&q);
	return rc;
}

static void drop_db(MYSQL *m, const char *db)
{
	struct rv_buf q = RV_BUF_INIT(1024);

	if (!rv_buf_add(&q, "DROP DATABASE IF EXISTS ", 24) && !rv_mysql_ident(&q, db) &&
	    mysql_real_query(m, q.data, q.len))
		rv_log(RV_LOG_WARN, "mysql restore: the half-loaded database could not be dropped",
		       "database", db, "error", mysql_error(m), NULL);
	rv_buf_release(&q);
}

int rv_mysql_load(const struct rv_mysql_conf *c, struct rv_store *st, const char *key,
		  const char *gen, uint64_t pos, const char *dbname, struct rv_mysql_snap_pos *res)
{
	return load(c, st, key, gen, pos, dbname, res, false, NULL, NULL);
}

int rv_mysql_load_ex(const struct rv_mysql_conf *c, struct rv_store *st, const char *key,
		     const char *gen, uint64_t pos, const char *dbname, bool force,
		     rv_mysql_after_fn after, void *ud)
{
	struct rv_mysql_snap_pos sp;

	return load(c, st, key, gen, pos, dbname, &sp, force, after, ud);
}

static int load(const struct rv_mysql_conf *c, struct rv_store *st, const char *key,
		const char *gen, uint64_t pos, const char *dbname, struct rv_mysql_snap_pos *res,
		bool force, rv_mysql_after_fn after, void *ud)
{
	struct load l = {.key = key};
	struct getter g = {.st = st, .key = key, .fd = -1, .done = false};
	pthread_t th;
	bool started = false, created = false, there, early;
	int fds[2] = {-1, -1}, rc;
	char cs[64] = "", coll[64] = "", where[300];

	if (res)
		memset(res, 0, sizeof(*res));
	if ((rc = rv_mysql_connect(&l.m, c, "")))
		return rc;
	rc = exists(l.m, dbname, &there);
	if (!rc && there) {
		bool ours = false;

		rc = has_marker(l.m, dbname, &ours);
		if (!rc && ours) {
			rv_log(RV_LOG_WARN,
			       "mysql restore: the database holds an earlier restore that did not "
			       "finish (its marker table is there): dropping it and starting again",
			       "database", dbname, NULL);
			drop_db(l.m, dbname);
			rc = exists(l.m, dbname, &there);
			if (!rc && there)
				rc = rv_error(RV_EFAIL,
					      "mysql restore: cannot drop the unfinished "
					      "restore in '%s'",
					      dbname);
		} else if (!rc && force) {
			rv_log(RV_LOG_WARN,
			       "mysql restore: --force: dropping the existing database", "database",
			       dbname, NULL);
			drop_db(l.m, dbname);
			rc = exists(l.m, dbname, &there);
			if (!rc && there)
				rc = rv_error(RV_EFAIL, "mysql restore: cannot drop '%s' (--force)",
					      dbname);
		} else if (!rc) {
			rc = rv_error(RV_EPRECOND,
				      "mysql restore: database '%s' already exists on %s — "
				      "restore into a new name, or drop it first (or --force)",
				      dbname, rv_mysql_where(c, where, sizeof(where)));
		}
	}
	if (!rc && pipe2(fds, O_CLOEXEC) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "mysql restore: pipe");
	if (!rc) {
		g.fd = fds[1];
		fds[1] = -1;
		if (pthread_create(&th, NULL, get_main, &g)) {
			close(g.fd);
			rc = rv_error(RV_EFAIL, "mysql restore: cannot start a thread");
		} else {
			started = true;
		}
	}
	rc = rc ? rc : rv_dbobj_reader_new(&l.r, fds[0], key);
	rc = rc ? rc : check_header(&l, gen, pos, res, cs, coll);
	rc = rc ? rc : create_db(l.m, dbname, cs, coll, &created);
	rc = rc ? rc : run_records(&l);
	if (!rc && after) {
		rv_dbobj_reader_free(l.r);
		l.r = NULL;
		rc = after(ud, l.m, res);
	}
	rc = rc ? rc
		: rv_mysql_exec(l.m, "mysql restore: drop the marker", "DROP TABLE `" MARKER "`");
	rv_dbobj_reader_free(l.r);
	/* An object that ended early because its download had failed
	 * already: the download's error is the cause.  A download still
	 * running when the load stops gets EPIPE below, which is not. */
	early = started && atomic_load(&g.done);
	if (fds[0] != -1)
		close(fds[0]); /* a download still writing stops on EPIPE */
	if (started) {
		pthread_join(th, NULL);
		if (early && g.rc && rc == RV_ECORRUPT)
			rc = rv_error(g.rc, "%s", g.err);
	}
	if (rc && created)
		drop_db(l.m, dbname);
	mysql_close(l.m);
	return rc;
}

/* ---- db/target.h ---- */

struct snap {
	char *key;
	uint64_t pos;
	int64_t ms;
};

struct pick {
	const struct rv_dbtgt_restore_opts *o;
	struct snap best;
};

static int pick_cb(const struct rv_obj_info *info, void *ud)
{
	struct pick *p = ud;
	uint64_t from, to;
	int64_t ms;

	if (rv_dbobj_key_parse(info->key, RV_DBOBJ_SNAPSHOT, &from, &to, &ms))
		return 0; /* not a snapshot's name: someone else's file */
	if (p->o->pos != RV_DBTGT_POS_LATEST && from > p->o->pos)
		return 0;
	if (p->o->at_ms > 0 && ms > p->o->at_ms)
		return 0;
	/* Keys sort by position, then time: the last one that fits wins. */
	free(p->best.key);
	p->best = (struct snap){.key = rv_strdup(info->key), .pos = from, .ms = ms};
	return 0;
}

struct after {
	const struct rv_dbtgt_restore_opts *o;
	struct rv_store *st;
	bool standby;
	uint64_t from;
	uint64_t reached;
	int64_t last_ms;
	unsigned segments;
	int64_t log_ms; /* the time the segments took: download, verify, apply */
};

/* Between the snapshot's load and the marker's drop: the binlog
 * segments from the snapshot's position to the point. */
static int after_load(void *ud, MYSQL *m, const struct rv_mysql_snap_pos *snap)
{
	struct after *af = ud;
	char q[256];

	(void)snap;
	if (af->standby) {
		int rc =
		    rv_mysql_exec(m, "mysql standby: its state table",
				  "CREATE TABLE `" RV_MYSQL_STANDBY_TABLE
				  "` (id INT PRIMARY KEY, gen VARCHAR(32) NOT NULL, pos BIGINT "
				  "UNSIGNED NOT NULL, time_ms BIGINT NOT NULL) ENGINE=InnoDB");

		snprintf(q, sizeof(q),
			 "INSERT INTO `" RV_MYSQL_STANDBY_TABLE "` VALUES (1, '%s', %" PRIu64
			 ", %" PRId64 ")",
			 af->o->gen, af->from, af->last_ms);
		rc = rc ? rc : rv_mysql_exec(m, "mysql standby: its state", q);
		if (rc)
			return rc;
	}
	{
		int64_t t0 = rv_mono_ms();
		int rc = rv_mysql_apply_log(m, af->st, af->o->gen, af->from, af->o->pos, af->o->out,
					    af->standby, &af->reached, &af->last_ms, &af->segments);

		af->log_ms = rv_mono_ms() - t0;
		return rc;
	}
}

static int tgt_restore(struct rv_store *st, const struct rv_dbtgt_restore_opts *o,
		       struct rv_dbtgt_point *res)
{
	return rv_mysql_restore(st, o, false, res);
}

int rv_mysql_restore(struct rv_store *st, const struct rv_dbtgt_restore_opts *o, bool standby,
		     struct rv_dbtgt_point *res)
{
	struct pick p = {.o = o};
	struct after af = {.o = o, .st = st, .standby = standby};
	char *prefix, n1[24], n2[24], n3[24];
	int rc;

	memset(res, 0, sizeof(*res));
	if (!o->mysql || !o->out)
		return rv_error(RV_EUSAGE, "mysql restore: no server or database name given");
	prefix = rv_dbobj_snapshot_prefix(o->gen);
	rc = rv_store_list(st, prefix, pick_cb, &p);
	free(prefix);
	if (!rc && !p.best.key)
		rc = rv_error(RV_ENOTFOUND,
			      "generation %s has no MySQL snapshot at or before the "
			      "point asked for",
			      o->gen);
	af.from = af.reached = p.best.pos;
	af.last_ms = p.best.ms;
	if (!rc)
		rc = rv_mysql_load_ex(o->mysql, st, p.best.key, o->gen, p.best.pos, o->out,
				      o->force, after_load, &af);
	if (!rc) {
		memcpy(res->gen, o->gen, RV_GEN_ID_LEN);
		res->pos = af.reached;
		res->time_ms = af.last_ms;
		res->segments = af.segments;
		snprintf(n1, sizeof(n1), "%" PRIu64, af.reached);
		snprintf(n2, sizeof(n2), "%u", af.segments);
		snprintf(n3, sizeof(n3), "%" PRId64, af.log_ms);
		rv_log(RV_LOG_INFO, "mysql: database restored", "snapshot", p.best.key, "database",
		       o->out, "position", n1, "segments", n2, "segments_ms", n3, NULL);
	}
	free(p.best.key);
	return rc;
}

/* Restore and the follower (follow.c); restore_size, inspect, is_ghosts
 * and save_copy are SQLite's only so far (NULL). */
const struct rv_dbtgt_ops rv_dbtgt_mysql = {
    .name = "mysql",
    .restore = tgt_restore,
    .follow_open = rv_mysql_follow_open,
    .follow_close = rv_mysql_follow_close,
    .follow_at = rv_mysql_follow_at,
    .follow_go = rv_mysql_follow_go,
    .promote = rv_mysql_follow_promote,
    .is_ghosts = rv_mysql_is_ghosts,
    .exists = rv_mysql_exists,
    .save_aside = rv_mysql_save_aside,
    .inspect = rv_mysql_inspect,
    .drop = rv_mysql_drop,
};
