/* conn.c - the one way src/db/mysql/ connects to a server (mysql.h). */
#include "db/mysql/mysql.h"
#include "core/mem.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <stdlib.h>
#include <string.h>

uint32_t rv_mysql_server_id(const struct rv_mysql_conf *c, const char *site)
{
	uint32_t h = 2166136261u;

	if (c->server_id)
		return (uint32_t)c->server_id;
	for (const unsigned char *p = (const unsigned char *)(site ? site : ""); *p; p++)
		h = (h ^ *p) * 16777619u;
	return 0x52560000u + (h & 0xffffu);
}

const char *rv_mysql_where(const struct rv_mysql_conf *c, char *buf, size_t n)
{
	if (c->socket)
		snprintf(buf, n, "socket '%s'", c->socket);
	else
		snprintf(buf, n, "%s:%lld", c->host ? c->host : "localhost", (long long)c->port);
	return buf;
}

int rv_mysql_result(unsigned err)
{
	switch (err) {
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_UNKNOWN_HOST:
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_SSL_CONNECTION_ERROR:
	case ER_CON_COUNT_ERROR:
		return RV_ENET;
	case ER_ACCESS_DENIED_ERROR:
	case ER_DBACCESS_DENIED_ERROR:
	case ER_TABLEACCESS_DENIED_ERROR:
	case ER_SPECIFIC_ACCESS_DENIED_ERROR:
	case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
		return RV_EAUTH;
	case ER_BAD_DB_ERROR:
		return RV_ENOTFOUND;
	default:
		return RV_EFAIL;
	}
}

int rv_mysql_connect(MYSQL **out, const struct rv_mysql_conf *c, const char *database)
{
	return rv_mysql_connect_rt(out, c, database, 600);
}

int rv_mysql_connect_rt(MYSQL **out, const struct rv_mysql_conf *c, const char *database,
			unsigned read_timeout_s)
{
	MYSQL *m = mysql_init(NULL);
	unsigned tmo = (unsigned)((c->connect_timeout_ms + 999) / 1000), rw = read_timeout_s;
	char where[300];
	my_bool yes = 1, no = 0;
	const char *db = database ? database : c->database;
	int rc;

	*out = NULL;
	if (!m)
		return rv_error(RV_EFAIL, "mysql: out of memory");
	if (!tmo)
		tmo = 10;
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &tmo);
	/* A dead link must not hang a dump or a load for ever. */
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(m, MYSQL_OPT_LOCAL_INFILE, &no);
	if (c->socket) {
		unsigned proto = MYSQL_PROTOCOL_SOCKET;

		mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);
	} else {
		unsigned proto = MYSQL_PROTOCOL_TCP;

		mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);
	}
	if (c->tls == RV_MYSQL_TLS_ON) {
		mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &yes);
		mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, c->tls_verify ? &yes : &no);
		if (c->tls_ca)
			mysql_options(m, MYSQL_OPT_SSL_CA, c->tls_ca);
	}
	if (!mysql_real_connect(m, c->socket ? NULL : (c->host ? c->host : "localhost"), c->user,
				c->password ? c->password : "", db && *db ? db : NULL,
				(unsigned)c->port, c->socket, 0)) {
		unsigned e = mysql_errno(m);

		rv_mysql_where(c, where, sizeof(where));
		rc = rv_mysql_result(e);
		if (rc == RV_EAUTH)
			rc = rv_error(RV_EAUTH,
				      "mysql %s: %s — check database.mysql.user and its password "
				      "(password or password_file)",
				      where, mysql_error(m));
		else if (rc == RV_ENOTFOUND)
			rc = rv_error(RV_ENOTFOUND,
				      "mysql %s: database '%s' does not exist — check "
				      "database.mysql.database",
				      where, db);
		else if (rc == RV_ENET || e >= 2000)
			rc = rv_error(RV_ENET,
				      "mysql %s: cannot connect: %s — check database.mysql.host/"
				      "port or socket, TLS, and that the server runs",
				      where, mysql_error(m));
		else
			rc = rv_error(rc, "mysql %s: %s", where, mysql_error(m));
		mysql_close(m);
		return rc;
	}
	*out = m;
	return 0;
}

int rv_mysql_exec(MYSQL *m, const char *what, const char *sql)
{
	if (mysql_real_query(m, sql, strlen(sql)) == 0) {
		MYSQL_RES *r = mysql_store_result(m);

		mysql_free_result(r);
		if (!mysql_errno(m))
			return 0;
	}
	return rv_error(rv_mysql_result(mysql_errno(m)), "%s: %s", what, mysql_error(m));
}

int rv_mysql_value(MYSQL *m, const char *sql, struct rv_buf *out)
{
	MYSQL_RES *r;
	MYSQL_ROW row;
	int rc = 0;

	rv_buf_reset(out);
	if (mysql_real_query(m, sql, strlen(sql)) || !(r = mysql_store_result(m)))
		return rv_error(rv_mysql_result(mysql_errno(m)), "mysql: '%s': %s", sql,
				mysql_error(m));
	row = mysql_fetch_row(r);
	if (!row)
		rc = RV_ENOTFOUND;
	else if (row[0])
		rc = rv_buf_addstr(out, row[0]);
	else
		rc = rv_buf_addstr(out, "");
	mysql_free_result(r);
	return rc;
}

int rv_mysql_ident(struct rv_buf *b, const char *name)
{
	int rc = rv_buf_add(b, "`", 1);

	for (const char *p = name; !rc && *p; p++)
		rc = *p == '`' ? rv_buf_add(b, "``", 2) : rv_buf_add(b, p, 1);
	return rc ? rc : rv_buf_add(b, "`", 1);
}

bool rv_mysql_is_mariadb(MYSQL *m)
{
	const char *v = mysql_get_server_info(m);

	return v && strstr(v, "MariaDB") != NULL;
}

static int url_fail(const char *url, const char *why)
{
	return rv_error(RV_EUSAGE,
			"--db '%s': %s — write mysql://USER@HOST[:PORT]/DATABASE or "
			"mysql://USER@localhost/DATABASE?socket=PATH",
			url, why);
}

static bool url_name_ok(const char *s, size_t n)
{
	if (!n || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '_' || s[i] == '$' || (s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	return true;
}

bool rv_mysql_is_url(const char *s)
{
	return s && !strncmp(s, "mysql://", 8);
}

int rv_mysql_url_parse(const char *url, const char *password, struct rv_mysql_conf *out)
{
	const char *p = url + 8, *at, *slash, *q;
	char *host;

	memset(out, 0, sizeof(*out));
	if (!rv_mysql_is_url(url))
		return url_fail(url, "not a mysql:// URL");
	at = strchr(p, '@');
	slash = strchr(p, '/');
	if (!at || !slash || at > slash || at == p)
		return url_fail(url, "no user");
	if (memchr(p, ':', (size_t)(at - p)))
		return url_fail(url, "a password does not go in the URL (use --db-password-file "
				     "or REVENANT_DB_PASSWORD)");
	q = strchr(slash, '?');
	if (!url_name_ok(slash + 1, q ? (size_t)(q - slash - 1) : strlen(slash + 1)))
		return url_fail(url, "the database name must be 1-64 of [A-Za-z0-9_$]");
	out->user = rv_strndup(p, (size_t)(at - p));
	out->database = rv_strndup(slash + 1, q ? (size_t)(q - slash - 1) : strlen(slash + 1));
	host = rv_strndup(at + 1, (size_t)(slash - at - 1));
	out->port = 3306;
	{
		char *colon = strrchr(host, ':');

		if (colon) {
			char *e;
			long v = strtol(colon + 1, &e, 10);

			if (*e || v < 1 || v > 65535) {
				free(host);
				rv_mysql_conf_release(out);
				return url_fail(url, "a bad port");
			}
			out->port = v;
			*colon = '\0';
		}
	}
	if (q && !strncmp(q, "?socket=", 8) && q[8]) {
		out->socket = rv_strdup(q + 8);
		free(host);
	} else if (q) {
		free(host);
		rv_mysql_conf_release(out);
		return url_fail(url, "the only query option is ?socket=PATH");
	} else {
		out->host = *host ? host : (free(host), rv_strdup("localhost"));
	}
	out->password = password ? rv_strdup(password) : NULL;
	out->snapshot_jobs = 1;
	out->snapshot_chunk = RV_MYSQL_SNAPSHOT_CHUNK;
	out->connect_timeout_ms = 10000;
	return 0;
}

void rv_mysql_conf_release(struct rv_mysql_conf *c)
{
	free(c->host);
	free(c->socket);
	free(c->user);
	if (c->password)
		explicit_bzero(c->password, strlen(c->password));
	free(c->password);
	free(c->database);
	free(c->tls_ca);
	memset(c, 0, sizeof(*c));
}
