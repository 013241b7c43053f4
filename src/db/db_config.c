/* db_config.c - the `database:` section of revenant.yml: which database to
 * ship — Ghost's SQLite file (database.sqlite) or a MySQL 8 / MariaDB
 * database (database.mysql), exactly one of them — and how often a fresh
 * snapshot bounds the log a restore replays. */
#include "core/config.h"

#include <string.h>

static const char *const tls_names[] = {"off", "on", NULL};

#define MY(k) "database.mysql." k

static const struct rv_config_entry entries[] = {
    {.name = "database.sqlite", .type = RV_CONFIG_PATH, .off = RV_CONFIG_FIELD(database.sqlite)},
    /* database.mysql: the server (host and port, or a unix socket), the
     * account and Ghost's database; `revenant config check` connects and
     * names what the server or the account lacks. */
    {.name = MY("host"), .type = RV_CONFIG_STRING, .off = RV_CONFIG_FIELD(database.mysql.host)},
    {.name = MY("port"),
     .type = RV_CONFIG_INT,
     .off = RV_CONFIG_FIELD(database.mysql.port),
     .def = "3306",
     .min = 1,
     .max = 65535},
    {.name = MY("socket"), .type = RV_CONFIG_PATH, .off = RV_CONFIG_FIELD(database.mysql.socket)},
    {.name = MY("user"), .type = RV_CONFIG_STRING, .off = RV_CONFIG_FIELD(database.mysql.user)},
    {.name = MY("password"),
     .type = RV_CONFIG_STRING,
     .flags = RV_CONFIG_F_SECRET,
     .off = RV_CONFIG_FIELD(database.mysql.password)},
    {.name = MY("database"),
     .type = RV_CONFIG_NAME,
     .off = RV_CONFIG_FIELD(database.mysql.database)},
    /* on: TLS required, and the certificate and host name verified unless
     * tls_verify is false; tls_ca: a CA file instead of the system's. */
    {.name = MY("tls"),
     .type = RV_CONFIG_ENUM,
     .off = RV_CONFIG_FIELD(database.mysql.tls),
     .def = "off",
     .names = tls_names},
    {.name = MY("tls_verify"),
     .type = RV_CONFIG_BOOL,
     .off = RV_CONFIG_FIELD(database.mysql.tls_verify),
     .def = "true"},
    {.name = MY("tls_ca"), .type = RV_CONFIG_PATH, .off = RV_CONFIG_FIELD(database.mysql.tls_ca)},
    /* The server_id revenant's replica connection announces; 0 derives one
     * from the site name: 1381367808 (0x52560000) + FNV-1a(site) mod 65536
     * (db/mysql/mysql.h, rv_mysql_server_id). */
    {.name = MY("server_id"),
     .type = RV_CONFIG_INT,
     .off = RV_CONFIG_FIELD(database.mysql.server_id),
     .def = "0",
     .min = 0,
     .max = 4294967295LL},
    /* Connections dumping tables in parallel.  1 takes no lock at all on
     * MariaDB; above 1 they open their snapshots while commits are held
     * for a moment (MariaDB: BACKUP STAGE BLOCK_COMMIT; MySQL always:
     * FLUSH TABLES WITH READ LOCK), which needs RELOAD. */
    {.name = MY("snapshot_jobs"),
     .type = RV_CONFIG_INT,
     .off = RV_CONFIG_FIELD(database.mysql.snapshot_jobs),
     .def = "1",
     .min = 1,
     .max = 16},
    /* With snapshot_jobs > 1, a table of at least twice this size (the
     * server's DATA_LENGTH) is read as ranges of its primary key of about
     * this size, spread over the connections: one large table (Ghost's
     * posts) is then read in parallel too. */
    {.name = MY("snapshot_chunk"),
     .type = RV_CONFIG_SIZE,
     .off = RV_CONFIG_FIELD(database.mysql.snapshot_chunk),
     .def = "64MiB",
     .min = 1ull << 20,
     .max = 1ull << 40},
    {.name = MY("connect_timeout"),
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(database.mysql.connect_timeout_ms),
     .def = "10s",
     .min = 1 * RV_CONFIG_SEC,
     .max = 5 * RV_CONFIG_MIN},
    {.name = "database.snapshot_interval",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(database.snapshot_interval_ms),
     .def = "6h",
     .min = 1 * RV_CONFIG_SEC,
     .max = 30 * RV_CONFIG_DAY},
    /* A restore replays the log since its snapshot: this bounds that to a
     * multiple of the database's size (0: the clock alone). */
    {.name = "database.snapshot_log_ratio",
     .type = RV_CONFIG_INT,
     .off = RV_CONFIG_FIELD(database.snapshot_log_ratio),
     .def = "2",
     .min = 0,
     .max = 1000},
    {.name = "database.busy_timeout",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(database.busy_timeout_ms),
     .def = "5s",
     .min = 10,
     .max = 5 * RV_CONFIG_MIN},
};

/* database.mysql is configured when any of the keys that name a server,
 * an account or a database is set (port, tls and the rest have defaults
 * and alone mean nothing, as `config show` writes them all): the first
 * such key given, and its line. */
static const char *mysql_given(const struct rv_config *c, const struct rv_config_origin *o,
			       unsigned *line)
{
	const struct rv_mysql_conf *m = &c->database.mysql;
	const struct {
		const char *key;
		const char *val;
	} k[] = {{MY("host"), m->host},		{MY("socket"), m->socket},
		 {MY("user"), m->user},		{MY("password"), m->password},
		 {MY("database"), m->database}, {MY("tls_ca"), m->tls_ca}};
	const char *first = NULL;

	*line = 0;
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		unsigned l = rv_config_line(o, k[i].key);

		if (k[i].val && (!first || (l && (l < *line || !*line)))) {
			first = k[i].key;
			*line = l;
		}
	}
	return first;
}

static int database_check(const struct rv_config *c, const struct rv_config_origin *o)
{
	const struct rv_mysql_conf *m = &c->database.mysql;
	unsigned line = 0;
	const char *key = mysql_given(c, o, &line);

	if (!key)
		return 0;
	if (c->database.sqlite)
		return rv_config_fail(o, line, key,
				      "database.sqlite is set too: replicate one database, "
				      "give database.sqlite or database.mysql, not both");
	if (!m->database)
		return rv_config_fail(o, line, MY("database"),
				      "missing: name Ghost's database (database.connection."
				      "database in Ghost's config)");
	if (!m->user)
		return rv_config_fail(o, rv_config_line(o, MY("database")), MY("user"),
				      "missing: the account revenant connects as");
	if (!m->host == !m->socket)
		return rv_config_fail(o, rv_config_line(o, m->host ? MY("socket") : MY("database")),
				      m->host ? MY("socket") : MY("host"), "%s",
				      m->host ? "give host (and port) or socket, not both"
					      : "missing: give host (and port) or socket");
	if (m->socket && m->tls == RV_MYSQL_TLS_ON)
		return rv_config_fail(o, rv_config_line(o, MY("tls")), MY("tls"),
				      "TLS over a unix socket is not needed: turn tls off or "
				      "connect to host and port");
	if (m->tls_ca && m->tls != RV_MYSQL_TLS_ON)
		return rv_config_fail(o, rv_config_line(o, MY("tls_ca")), MY("tls_ca"),
				      "given while tls is off: set tls: on");
	return 0;
}

const struct rv_config_section rv_config_section_database = {
    .owner = "db",
    .entries = entries,
    .nentries = sizeof(entries) / sizeof(entries[0]),
    .check = database_check,
};
