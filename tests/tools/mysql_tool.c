/* mysql_tool.c - drives the MySQL database source and target through
 * their interfaces (db/source.h, db/target.h) for the integration test and
 * the benchmark, until `replicate` and `restore` carry MySQL (issue 11):
 *
 *   mysql_tool snapshot CONFIG STORE_URL        a new generation's snapshot;
 *                                               prints "gen=<id>"
 *   mysql_tool restore CONFIG STORE_URL GEN DB  its newest snapshot into DB
 *
 *   mysql_tool write CONFIG ACK [RATE [DDL_AT]]  a Ghost-shaped writer (below)
 *
 * CONFIG is a revenant.yml with database.mysql (the restore connects to
 * the same server as the same account).
 *
 * The writer creates users, tags, posts, posts_tags and counters (24-hex
 * ids as Ghost makes them) if they are missing, then commits transactions
 * at RATE a second (0: as fast as it can) until SIGTERM: a post, its tag
 * link, the author's count and counters.v = n; every 7th also edits and
 * unlinks an older post.  At DDL_AT (if > 0) it runs ALTER TABLE posts ADD
 * COLUMN excerpt and CREATE TABLE post_revisions, used from then on.  After
 * each commit it appends "n ms" to ACK (flushed).  A lost connection (a
 * server restart) is retried: counters.v says whether n committed. */
#include "core/config.h"
#include "core/log.h"
#include "db/source.h"
#include "db/target.h"
#include "format/layout.h"
#include "store/store.h"

#include <mysql.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "db/mysql/mysql.h"

static volatile sig_atomic_t stop_writer;

static void on_term(int sig)
{
	(void)sig;
	stop_writer = 1;
}

static int q(MYSQL *m, const char *sql)
{
	MYSQL_RES *r;

	if (mysql_query(m, sql))
		return -1;
	r = mysql_store_result(m);
	mysql_free_result(r);
	return 0;
}

static const char *const writer_schema[] = {
    "CREATE TABLE IF NOT EXISTS users (id VARCHAR(24) PRIMARY KEY, name VARCHAR(191) NOT NULL, "
    "email VARCHAR(191) NOT NULL UNIQUE, post_count INT NOT NULL DEFAULT 0, updated_at "
    "DATETIME(6) NULL) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS tags (id VARCHAR(24) PRIMARY KEY, name VARCHAR(191) NOT NULL, "
    "slug VARCHAR(191) NOT NULL UNIQUE) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS posts (id VARCHAR(24) PRIMARY KEY, uuid VARCHAR(36) NOT NULL, "
    "title VARCHAR(2000) NOT NULL, slug VARCHAR(191) NOT NULL UNIQUE, html LONGTEXT NULL, "
    "status VARCHAR(50) NOT NULL DEFAULT 'draft', author_id VARCHAR(24) NOT NULL, created_at "
    "DATETIME(6) NOT NULL, updated_at TIMESTAMP(6) NULL, INDEX (author_id), FOREIGN KEY "
    "(author_id) REFERENCES users(id)) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS posts_tags (id VARCHAR(24) PRIMARY KEY, post_id VARCHAR(24) NOT "
    "NULL, tag_id VARCHAR(24) NOT NULL, sort_order INT UNSIGNED NOT NULL DEFAULT 0, FOREIGN KEY "
    "(post_id) REFERENCES posts(id), FOREIGN KEY (tag_id) REFERENCES tags(id)) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS counters (id INT PRIMARY KEY, v BIGINT NOT NULL) ENGINE=InnoDB",
    "INSERT IGNORE INTO counters VALUES (1, 0)",
    "INSERT IGNORE INTO users (id, name, email) WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL "
    "SELECT i+1 FROM s WHERE i < 10) SELECT CONCAT('5f00000000000000000000', LPAD(HEX(i),2,'0')), "
    "CONCAT('Autor ', i, ' ✍️'), CONCAT('u', i, '@example.com') FROM s",
    "INSERT IGNORE INTO tags WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE "
    "i < 10) SELECT CONCAT('6a00000000000000000000', LPAD(HEX(i),2,'0')), CONCAT('Tag ', i), "
    "CONCAT('tag-', i) FROM s",
};

static void oid(char out[25], unsigned kind, uint64_t n)
{
	snprintf(out, 25, "%02x%06x%016llx", kind, 0x6543u, (unsigned long long)n);
}

/* One transaction; 0 committed, -1 failed (connection or statement). */
static int write_txn(MYSQL *m, uint64_t n, bool ddl)
{
	char sql[4096], pid[25], ptid[25], old[25], oldpt[25], author[25], tag[25];

	oid(pid, 0x63, n);
	oid(ptid, 0x64, n);
	snprintf(author, sizeof(author), "5f00000000000000000000%02X", (unsigned)(1 + n % 10));
	snprintf(tag, sizeof(tag), "6a00000000000000000000%02X", (unsigned)(1 + n % 10));
	if (q(m, "BEGIN"))
		return -1;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO posts (id, uuid, title, slug, html, status, author_id, created_at, "
		 "updated_at%s) VALUES ('%s', UUID(), 'Post %llu — héllo 🎉 \\'quoted\\'', "
		 "'post-%llu', REPEAT('<p>body %llu</p>', %u), '%s', '%s', NOW(6), NOW(6)%s)",
		 ddl ? ", excerpt" : "", pid, (unsigned long long)n, (unsigned long long)n,
		 (unsigned long long)n, (unsigned)(1 + n % 40), n % 3 ? "published" : "draft",
		 author, ddl ? ", 'an excerpt'" : "");
	if (q(m, sql))
		goto fail;
	snprintf(sql, sizeof(sql), "INSERT INTO posts_tags VALUES ('%s', '%s', '%s', %u)", ptid,
		 pid, tag, (unsigned)(n % 5));
	if (q(m, sql))
		goto fail;
	snprintf(
	    sql, sizeof(sql),
	    "UPDATE users SET post_count = post_count + 1, updated_at = NOW(6) WHERE id = '%s'",
	    author);
	if (q(m, sql))
		goto fail;
	if (n % 7 == 0 && n > 20) {
		oid(old, 0x63, n - 20);
		oid(oldpt, 0x64, n - 20);
		snprintf(sql, sizeof(sql),
			 "UPDATE posts SET title = CONCAT(title, ' (edited)'), status = "
			 "'published', updated_at = NOW(6) WHERE id = '%s'",
			 old);
		if (q(m, sql))
			goto fail;
		snprintf(sql, sizeof(sql), "DELETE FROM posts_tags WHERE id = '%s'", oldpt);
		if (q(m, sql))
			goto fail;
	}
	if (ddl) {
		snprintf(sql, sizeof(sql),
			 "INSERT INTO post_revisions VALUES ('%s', '%s', REPEAT('rev ', %u), "
			 "NOW(3))",
			 ptid, pid, (unsigned)(n % 50));
		if (q(m, sql))
			goto fail;
	}
	snprintf(sql, sizeof(sql), "UPDATE counters SET v = %llu WHERE id = 1",
		 (unsigned long long)n);
	if (q(m, sql) || q(m, "COMMIT"))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "writer: txn %llu: %s\n", (unsigned long long)n, mysql_error(m));
	return -1;
}

static uint64_t counter(MYSQL *m, bool *ok)
{
	MYSQL_RES *r;
	MYSQL_ROW row;
	uint64_t v = 0;

	*ok = false;
	if (mysql_query(m, "SELECT v FROM counters WHERE id = 1") || !(r = mysql_store_result(m)))
		return 0;
	if ((row = mysql_fetch_row(r)) && row[0]) {
		v = strtoull(row[0], NULL, 10);
		*ok = true;
	}
	mysql_free_result(r);
	return v;
}

static int writer(const struct rv_mysql_conf *c, const char *ack_path, double rate, uint64_t ddl_at)
{
	FILE *ack = fopen(ack_path, "a");
	MYSQL *m = NULL;
	uint64_t n = 0;
	bool ddl = false, ok;
	int64_t t0 = rv_mono_ms();
	uint64_t done = 0;

	if (!ack)
		return rv_error(RV_EFAIL, "writer: cannot open '%s'", ack_path);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	while (!stop_writer) {
		if (!m) {
			if (rv_mysql_connect(&m, c, NULL)) {
				m = NULL;
				usleep(100000);
				continue;
			}
			for (size_t i = 0; i < sizeof(writer_schema) / sizeof(*writer_schema); i++)
				if (q(m, writer_schema[i]))
					fprintf(stderr, "writer: schema: %s\n", mysql_error(m));
			n = counter(m, &ok);
			if (!ok) {
				mysql_close(m);
				m = NULL;
				continue;
			}
			ddl = ddl_at && n >= ddl_at;
		}
		if (ddl_at && n + 1 == ddl_at && !ddl) {
			if (q(m, "ALTER TABLE posts ADD COLUMN excerpt VARCHAR(300) NULL AFTER "
				 "title") ||
			    q(m,
			      "CREATE TABLE post_revisions (id VARCHAR(24) PRIMARY KEY, post_id "
			      "VARCHAR(24) NOT NULL, lexical LONGTEXT NULL, created_at DATETIME(3) "
			      "NOT NULL) ENGINE=InnoDB")) {
				fprintf(stderr, "writer: ddl: %s\n", mysql_error(m));
				mysql_close(m);
				m = NULL;
				continue;
			}
			ddl = true;
		}
		if (write_txn(m, n + 1, ddl)) {
			mysql_close(m);
			m = NULL;
			usleep(100000);
			continue; /* the reconnect reads counters.v: committed or not */
		}
		n++;
		fprintf(ack, "%llu %lld\n", (unsigned long long)n, (long long)rv_now_ms());
		fflush(ack);
		done++;
		if (rate > 0) {
			int64_t due = t0 + (int64_t)((double)done * 1000.0 / rate);
			int64_t now = rv_mono_ms();

			if (due > now)
				usleep((useconds_t)(due - now) * 1000);
		}
	}
	if (m)
		mysql_close(m);
	fclose(ack);
	fprintf(stderr, "writer: %llu transactions, last %llu\n", (unsigned long long)done,
		(unsigned long long)n);
	return 0;
}

static int run(int argc, char **argv)
{
	struct rv_config *cfg = NULL;
	struct rv_store *st = NULL;
	struct rv_store_opts so;
	int rc;

	if ((rc = rv_config_load(&cfg, argv[2])))
		return rc;
	rv_store_opts_default(&so);
	if (strcmp(argv[1], "write") && (rc = rv_store_open(&st, argv[3], &so)))
		goto out;
	if (!strcmp(argv[1], "snapshot") && argc == 4) {
		struct rv_dbsrc_opts o = {.mysql = &cfg->database.mysql};
		char gen[RV_GEN_ID_LEN];
		void *h = NULL;
		uint64_t pos = 0;

		rv_gen_id_new(gen);
		o.gen = gen;
		rc = rv_dbsrc_mysql.open(&h, &o);
		rc = rc ? rc : rv_dbsrc_mysql.snapshot(h, st, &pos);
		rv_dbsrc_mysql.close(h);
		if (!rc)
			printf("gen=%s pos=%llu\n", gen, (unsigned long long)pos);
	} else if (!strcmp(argv[1], "restore") && argc == 6) {
		struct rv_dbtgt_restore_opts o = {.gen = argv[4],
						  .pos = RV_DBTGT_POS_LATEST,
						  .out = argv[5],
						  .mysql = &cfg->database.mysql};
		struct rv_dbtgt_point p;

		rc = rv_dbtgt_mysql.restore(st, &o, &p);
		if (!rc)
			printf("gen=%s pos=%llu\n", p.gen, (unsigned long long)p.pos);
	} else if (!strcmp(argv[1], "write") && argc >= 4) {
		rc = writer(&cfg->database.mysql, argv[3], argc > 4 ? strtod(argv[4], NULL) : 0,
			    argc > 5 ? strtoull(argv[5], NULL, 10) : 0);
	} else {
		rc = rv_error(RV_EUSAGE, "usage: mysql_tool snapshot CONFIG STORE_URL | restore "
					 "CONFIG STORE_URL GEN DB");
	}
out:
	rv_store_free(st);
	rv_config_free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 4) {
		fprintf(stderr, "usage: mysql_tool snapshot CONFIG STORE_URL | restore CONFIG "
				"STORE_URL GEN DB\n");
		return 2;
	}
	rc = run(argc, argv);
	if (rc)
		fprintf(stderr, "error: %s\n", rv_errmsg());
	return rv_exit_code(rc);
}
