/* check.c - `revenant config check` for database.mysql: connect as the
 * configured account and name, one line each, what the server or the
 * account lacks for replication, with the fix (mysql.h). */
#include "db/mysql/mysql.h"
#include "core/mem.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct chk {
	FILE *out;
	char where[300];
	unsigned n;
	int first; /* the RV_E* of the first problem */
};

static void problem(struct chk *k, int code, const char *fmt, ...) RV_PRINTF(3, 4);
static void problem(struct chk *k, int code, const char *fmt, ...)
{
	va_list ap;

	if (!k->n++)
		k->first = code;
	fprintf(k->out, "error: mysql %s: ", k->where);
	va_start(ap, fmt);
	vfprintf(k->out, fmt, ap);
	va_end(ap);
	fputc('\n', k->out);
}

/* ---- server variables ---- */

struct vars {
	char log_bin[16], format[16], row_image[16], compression[16];
	char expire_days[32], expire_secs[32], server_id[24];
	bool have_secs, have_compression;
};

static void var_set(struct vars *v, const char *name, const char *val)
{
	struct {
		const char *name;
		char *dst;
		size_t n;
		bool *seen;
	} map[] = {
	    {"log_bin", v->log_bin, sizeof(v->log_bin), NULL},
	    {"binlog_format", v->format, sizeof(v->format), NULL},
	    {"binlog_row_image", v->row_image, sizeof(v->row_image), NULL},
	    {"binlog_transaction_compression", v->compression, sizeof(v->compression),
	     &v->have_compression},
	    {"expire_logs_days", v->expire_days, sizeof(v->expire_days), NULL},
	    {"binlog_expire_logs_seconds", v->expire_secs, sizeof(v->expire_secs), &v->have_secs},
	    {"server_id", v->server_id, sizeof(v->server_id), NULL},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcasecmp(name, map[i].name)) {
			snprintf(map[i].dst, map[i].n, "%s", val ? val : "");
			if (map[i].seen)
				*map[i].seen = true;
		}
}

static int read_vars(MYSQL *m, struct vars *v)
{
	static const char q[] =
	    "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin','binlog_format',"
	    "'binlog_row_image','binlog_transaction_compression','expire_logs_days',"
	    "'binlog_expire_logs_seconds','server_id')";
	MYSQL_RES *r;
	MYSQL_ROW row;

	memset(v, 0, sizeof(*v));
	if (mysql_real_query(m, q, sizeof(q) - 1) || !(r = mysql_store_result(m)))
		return rv_error(rv_mysql_result(mysql_errno(m)),
				"mysql: reading the server's "
				"variables: %s",
				mysql_error(m));
	while ((row = mysql_fetch_row(r)))
		var_set(v, row[0], row[1]);
	mysql_free_result(r);
	return 0;
}

static void fmt_secs(char *out, size_t n, double s)
{
	rv_config_fmt_duration(out, n, (int64_t)(s * 1000.0));
}

static void check_vars(struct chk *k, const struct rv_config *c, const struct vars *v, bool mariadb)
{
	double secs = 0;
	uint32_t mine = rv_mysql_server_id(&c->database.mysql, c->site);
	const char *cnf = mariadb ? "the [mariadbd] section of the server's config"
				  : "the [mysqld] section of the server's config";

	if (strcasecmp(v->log_bin, "ON") && strcmp(v->log_bin, "1")) {
		problem(k, RV_EUSAGE,
			"binary logging is off — set log_bin (log-bin=NAME) in %s and restart "
			"the server",
			cnf);
		/* Nothing about the binlog below means anything without it. */
	} else {
		if (strcasecmp(v->format, "ROW"))
			problem(k, RV_EUSAGE,
				"binlog_format is %s; revenant replays row events only — set "
				"binlog_format=ROW in %s (SET GLOBAL binlog_format=ROW applies "
				"to new sessions at once)",
				v->format, cnf);
		if (*v->row_image && strcasecmp(v->row_image, "FULL"))
			problem(k, RV_EUSAGE,
				"binlog_row_image is %s; revenant needs whole rows — set "
				"binlog_row_image=FULL in %s (or SET GLOBAL binlog_row_image=FULL)",
				v->row_image, cnf);
		if (v->have_compression && !strcasecmp(v->compression, "ON"))
			problem(k, RV_EUSAGE,
				"binlog_transaction_compression is ON; revenant cannot read "
				"compressed transactions — SET GLOBAL "
				"binlog_transaction_compression=OFF and in %s",
				cnf);
	}
	if (v->have_secs && strtod(v->expire_secs, NULL) > 0)
		secs = strtod(v->expire_secs, NULL);
	else
		secs = strtod(v->expire_days, NULL) * 86400.0;
	if (secs > 0 && secs * 1000.0 < (double)c->database.snapshot_interval_ms) {
		char have[32], want[32];

		fmt_secs(have, sizeof(have), secs);
		rv_config_fmt_duration(want, sizeof(want), c->database.snapshot_interval_ms);
		problem(k, RV_EUSAGE,
			"binary logs expire after %s (%s), less than database.snapshot_interval "
			"(%s): the log since a snapshot may be gone before the next one — raise "
			"%s to at least %s, or shorten database.snapshot_interval",
			have, v->have_secs ? "binlog_expire_logs_seconds" : "expire_logs_days",
			want, v->have_secs ? "binlog_expire_logs_seconds" : "expire_logs_days",
			want);
	}
	if (!strcmp(v->server_id, "0"))
		problem(k, RV_EUSAGE,
			"the server's server_id is 0, which refuses replicas — set server_id "
			"in %s",
			cnf);
	else if (strtoull(v->server_id, NULL, 10) == mine)
		problem(k, RV_EUSAGE,
			"database.mysql.server_id %" PRIu32 " is the server's own server_id — "
			"set database.mysql.server_id to a number no server or replica uses",
			mine);
}

/* ---- privileges ---- */

/* SQL LIKE with '\' escapes: a database pattern of a grant. */
static bool like(const char *pat, const char *s)
{
	for (; *pat; pat++, s++) {
		if (*pat == '%') {
			for (;; s++) {
				if (like(pat + 1, s))
					return true;
				if (!*s)
					return false;
			}
		}
		if (!*s)
			return false;
		if (*pat == '\\' && pat[1])
			pat++;
		else if (*pat == '_')
			continue;
		if (*pat != *s)
			return false;
	}
	return !*s;
}

/* A backquoted identifier at *p (`a``b`) into out; false if not one. */
static bool ident(const char **p, char *out, size_t n)
{
	const char *s = *p;
	size_t k = 0;

	if (*s != '`')
		return false;
	for (s++; *s; s++) {
		if (*s == '`') {
			if (s[1] != '`')
				break;
			s++;
		}
		if (k + 1 < n)
			out[k++] = *s;
	}
	if (*s != '`')
		return false;
	out[k] = '\0';
	*p = s + 1;
	return true;
}

enum {
	P_REPL_SLAVE,
	P_REPL_CLIENT,
	P_RELOAD,
	P_SELECT,
	P_SHOW_VIEW,
	P_TRIGGER,
	P_EVENT,
	/* the standby role of `revenant run` (failover.initial_primary set) */
	P_BINLOG_REPLAY,
	P_CREATE,
	P_INSERT,
	P_UPDATE,
	P_DELETE,
	P_ALTER,
	P_INDEX,
	P_DROP,
	P_CREATE_VIEW,
	P_REFERENCES,
	P_SAVED_CREATE,
	P_SAVED_INSERT,
	P_N
};

/* Where a privilege must be granted: on *.*, on Ghost's database, or on
 * the databases a fenced primary moves Ghost's tables into
 * (`<db>_saved_<time>_e<epoch>`: RENAME TABLE needs CREATE and INSERT on
 * the new name). */
enum scope { ON_GLOBAL, ON_DB, ON_SAVED };

struct priv {
	const char *name;   /* as the fix names it (MariaDB's name where they differ) */
	const char *mysql;  /* MySQL's name, NULL: the same */
	const char *alias;  /* another name SHOW GRANTS may print */
	const char *alias2; /* and another */
	enum scope on;
	bool standby; /* needed by run's standby role only */
	bool maria;   /* MariaDB only (MySQL has no such privilege) */
	const char *why;
};

static const struct priv privs[P_N] = {
    [P_REPL_SLAVE] = {"REPLICATION SLAVE", NULL, "REPLICATION REPLICA", NULL, ON_GLOBAL, false,
		      false, "to stream the binary log"},
    [P_REPL_CLIENT] = {"BINLOG MONITOR", "REPLICATION CLIENT", "REPLICATION CLIENT", NULL,
		       ON_GLOBAL, false, false, "to read the binlog position"},
    [P_RELOAD] = {"RELOAD", NULL, "BACKUP_ADMIN", NULL, ON_GLOBAL, false, false,
		  "to hold commits for a moment while a snapshot starts"},
    [P_SELECT] = {"SELECT", NULL, NULL, NULL, ON_DB, false, false, "to dump the tables"},
    [P_SHOW_VIEW] = {"SHOW VIEW", NULL, NULL, NULL, ON_DB, false, false, "to dump views"},
    [P_TRIGGER] = {"TRIGGER", NULL, NULL, NULL, ON_DB, false, false, "to dump triggers"},
    [P_EVENT] = {"EVENT", NULL, NULL, NULL, ON_DB, false, false, "to dump scheduled events"},
    [P_BINLOG_REPLAY] = {"BINLOG REPLAY", NULL, "SUPER", NULL, ON_GLOBAL, true, true,
			 "for the standby to apply the binlog"},
    [P_CREATE] = {"CREATE", NULL, NULL, NULL, ON_DB, true, false, "for the standby to restore"},
    [P_INSERT] = {"INSERT", NULL, NULL, NULL, ON_DB, true, false, "for the standby to restore"},
    [P_UPDATE] = {"UPDATE", NULL, NULL, NULL, ON_DB, true, false,
		  "for the standby to apply the binlog"},
    [P_DELETE] = {"DELETE", NULL, NULL, NULL, ON_DB, true, false,
		  "for the standby to apply the binlog"},
    [P_ALTER] = {"ALTER", NULL, NULL, NULL, ON_DB, true, false,
		 "for the standby's DDL, and to move Ghost's tables aside when fenced"},
    [P_INDEX] = {"INDEX", NULL, NULL, NULL, ON_DB, true, false, "for the standby to restore"},
    [P_DROP] = {"DROP", NULL, NULL, NULL, ON_DB, true, false,
		"for the standby to restore, and to move Ghost's tables aside when fenced"},
    [P_CREATE_VIEW] = {"CREATE VIEW", NULL, NULL, NULL, ON_DB, true, false,
		       "for the standby to restore views"},
    [P_REFERENCES] = {"REFERENCES", NULL, NULL, NULL, ON_DB, true, false,
		      "for the standby to restore foreign keys"},
    [P_SAVED_CREATE] = {"CREATE", NULL, NULL, NULL, ON_SAVED, true, false,
			"to keep Ghost's tables aside when fenced"},
    [P_SAVED_INSERT] = {"INSERT", NULL, NULL, NULL, ON_SAVED, true, false,
			"to keep Ghost's tables aside when fenced"},
};

/* One "GRANT a, b ON target TO ..." line: mark what it gives.  `saved`
 * is a name the save-aside databases take. */
static void grant_line(const char *line, const char *db, const char *saved, bool have[P_N])
{
	const char *on = strstr(line, " ON "), *t;
	char list[2048], name[256];
	bool global = false, dbl = false, savedl = false;

	if (strncmp(line, "GRANT ", 6) || !on || (size_t)(on - line - 6) >= sizeof(list))
		return; /* a role grant ("GRANT r TO u") or something else */
	memcpy(list, line + 6, (size_t)(on - line - 6));
	list[on - line - 6] = '\0';
	t = on + 4;
	if (!strncmp(t, "*.* ", 4))
		global = true;
	else if (ident(&t, name, sizeof(name)) && !strncmp(t, ".* ", 3)) {
		dbl = like(name, db);
		savedl = like(name, saved);
	}
	if (!global && !dbl && !savedl)
		return;
	for (char *save = NULL, *p = strtok_r(list, ",", &save); p;
	     p = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*p))
			p++;
		for (size_t e = strlen(p); e && isspace((unsigned char)p[e - 1]); e--)
			p[e - 1] = '\0';
		for (int i = 0; i < P_N; i++) {
			bool all = !strcmp(p, "ALL PRIVILEGES") || !strcmp(p, "ALL");

			if (!global &&
			    (privs[i].on == ON_GLOBAL || (privs[i].on == ON_DB && !dbl) ||
			     (privs[i].on == ON_SAVED && !savedl)))
				continue;
			if (all || !strcmp(p, privs[i].name) ||
			    (privs[i].mysql && !strcmp(p, privs[i].mysql)) ||
			    (privs[i].alias && !strcmp(p, privs[i].alias)) ||
			    (privs[i].alias2 && !strcmp(p, privs[i].alias2)))
				have[i] = true;
		}
	}
}

static void user_quoted(char *out, size_t n, const char *cu)
{
	const char *at = strrchr(cu, '@');

	if (at)
		snprintf(out, n, "'%.*s'@'%s'", (int)(at - cu), cu, at + 1);
	else
		snprintf(out, n, "'%s'", cu);
}

static int check_grants(struct chk *k, MYSQL *m, const char *db, bool mariadb, bool standby)
{
	static const char q[] = "SHOW GRANTS FOR CURRENT_USER()";
	struct rv_buf cu = RV_BUF_INIT(512);
	bool have[P_N] = {false};
	char who[600], saved[300], pat[320];
	MYSQL_RES *r;
	MYSQL_ROW row;
	int rc;

	if ((rc = rv_mysql_value(m, "SELECT CURRENT_USER()", &cu))) {
		rv_buf_release(&cu);
		return rc;
	}
	user_quoted(who, sizeof(who), rv_buf_str(&cu));
	rv_buf_release(&cu);
	if (mysql_real_query(m, q, sizeof(q) - 1) || !(r = mysql_store_result(m)))
		return rv_error(rv_mysql_result(mysql_errno(m)), "mysql: %s: %s", q,
				mysql_error(m));
	/* A name rv_mysql_save_aside makes, and the pattern to grant. */
	snprintf(saved, sizeof(saved), "%s_saved_20260101T000000Z_e1", db);
	snprintf(pat, sizeof(pat), "%s\\_saved\\_%%", db);
	while ((row = mysql_fetch_row(r)))
		if (row[0])
			grant_line(row[0], db, saved, have);
	mysql_free_result(r);
	for (int i = 0; i < P_N; i++) {
		const char *name = mariadb || !privs[i].mysql ? privs[i].name : privs[i].mysql;
		const char *on = privs[i].on == ON_SAVED ? pat : db;

		if (have[i] || (privs[i].standby && !standby) || (privs[i].maria && !mariadb))
			continue;
		if (privs[i].on == ON_GLOBAL)
			problem(k, RV_EAUTH, "missing privilege %s (%s) — GRANT %s ON *.* TO %s",
				name, privs[i].why, name, who);
		else
			problem(k, RV_EAUTH,
				"missing privilege %s on `%s` (%s) — GRANT %s ON `%s`.* TO %s",
				name, on, privs[i].why, name, on, who);
	}
	return 0;
}

int rv_mysql_check(const struct rv_config *c, FILE *out)
{
	const struct rv_mysql_conf *mc = &c->database.mysql;
	struct chk k = {.out = out};
	struct vars v;
	MYSQL *m = NULL;
	bool mariadb;
	int rc;

	rv_mysql_where(mc, k.where, sizeof(k.where));
	if ((rc = rv_mysql_connect(&m, mc, NULL)))
		return rc;
	mariadb = rv_mysql_is_mariadb(m);
	rc = read_vars(m, &v);
	if (!rc) {
		check_vars(&k, c, &v, mariadb);
		/* Both sites run `revenant run`, which is a standby at the one
		 * that does not hold the lease. */
		rc =
		    check_grants(&k, m, mc->database, mariadb, c->failover.initial_primary != NULL);
	}
	if (!rc && !k.n)
		printf("ok: mysql %s: %s, binlog_format ROW, binlog_row_image FULL, server_id %s "
		       "(revenant's replica: %" PRIu32 "), every privilege granted\n",
		       k.where, mysql_get_server_info(m), v.server_id,
		       rv_mysql_server_id(mc, c->site));
	mysql_close(m);
	if (rc)
		return rc;
	if (k.n)
		return rv_error(k.first, "mysql %s: %u problem%s for replication (above)", k.where,
				k.n, k.n == 1 ? "" : "s");
	return 0;
}
