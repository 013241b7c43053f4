/* test_config.c - revenant.yml: good files, a table of bad ones with their
 * exact messages (tests/configs/bad/, first line "# expect: ..."), secrets
 * never printed, round trips through `config show`, and the CLI glue. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "store/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/mysql/mysql.h"

/* Every secret value in tests/configs; none may ever be printed. */
static const char *const secrets[] = {
    "test-inline-secret/not-real", "test-inline-token-not-real",
    "test-file-secret/not-real",   "test-file-token-not-real",
    "inline-secret-value",	   "unterminated-secret",
    "not-a-real-key-name-value",   "TOPSECRET-LINE",
    "test-db-password-not-real",   NULL,
};

static void assert_no_secret(const char *text)
{
	for (int i = 0; secrets[i]; i++) {
		if (strstr(text, secrets[i]))
			fail_msg("secret '%s' printed in: %s", secrets[i], text);
	}
}

static char *cfg_path(const char *rel)
{
	const char *dir = getenv("RV_TESTDIR");

	assert_non_null(dir);
	return rv_asprintf("%s/configs/%s", dir, rel);
}

static struct rv_config *load_ok(const char *rel)
{
	char *path = cfg_path(rel);
	struct rv_config *c = NULL;
	int rc = rv_config_load(&c, path);

	if (rc)
		fail_msg("%s: %s", rel, rv_errmsg());
	assert_string_equal(c->source, path);
	free(path);
	return c;
}

static char *show(const struct rv_config *c)
{
	struct rv_buf b = RV_BUF_INIT(1u << 20);

	assert_int_equal(rv_config_write(c, &b), 0);
	return rv_buf_detach(&b, NULL);
}

static void set_test_env(void)
{
	setenv("RV_CFGTEST_SITE", "dr-2", 1);
	setenv("RV_CFGTEST_DIR", "/srv/rv", 1);
	setenv("RV_CFGTEST_PARTS", "16", 1);
	setenv("RV_CFGTEST_EMPTY", "", 1);
	setenv("RV_CFGTEST_DBPW", "test-db-password-not-real", 1);
	unsetenv("RV_CFGTEST_UNSET_REGION");
	unsetenv("RV_CFGTEST_UNSET_PART");
	unsetenv("RV_CFGTEST_SURELY_UNSET");
}

static void assert_defaults(const struct rv_config *c)
{
	char host[256];

	assert_int_equal(gethostname(host, sizeof(host)), 0);
	host[strcspn(host, ".")] = '\0';
	assert_string_equal(c->site, host);
	assert_null(c->store.url);
	assert_true(c->store.fsync);
	assert_null(c->store.s3.region);
	assert_int_equal(c->store.s3.part_size, 8u << 20);
	assert_int_equal(c->store.s3.multipart_threshold, 8u << 20);
	assert_int_equal(c->store.s3.parts_in_flight, 4);
	assert_int_equal(c->store.s3.connect_timeout_ms, 5000);
	assert_int_equal(c->store.s3.request_timeout_ms, 60000);
	assert_int_equal(c->store.s3.deadline_ms, 300000);
	assert_int_equal(c->store.s3.max_attempts, 8);
	assert_null(c->store.credentials.profile);
	assert_null(c->store.credentials.access_key_id);
	assert_null(c->store.credentials.secret_access_key);
	assert_null(c->store.credentials.session_token);
	assert_int_equal(c->log.level, RV_LOG_INFO);
	assert_int_equal(c->log.format, RV_LOG_LOGFMT);
	assert_string_equal(c->metrics.listen, "127.0.0.1:9187");
}

static void test_defaults(void **state)
{
	struct rv_config *c;

	(void)state;
	assert_int_equal(rv_config_defaults(&c), 0);
	assert_string_equal(c->source, RV_CONFIG_DEFAULT_NAME);
	assert_defaults(c);
	rv_config_free(c);
	rv_config_free(NULL);

	c = load_ok("good/empty.yml");
	assert_defaults(c);
	rv_config_free(c);
	c = load_ok("good/comments.yml");
	assert_defaults(c);
	rv_config_free(c);
}

static void test_full(void **state)
{
	struct rv_config *c = load_ok("good/full.yml");

	(void)state;
	assert_string_equal(c->site, "dr-eu");
	assert_string_equal(c->store.url, "s3://ghost-dr/site1?region=eu-west-1&endpoint=http://"
					  "127.0.0.1:9000&path_style=true");
	assert_false(c->store.fsync);
	assert_string_equal(c->store.s3.region, "eu-central-1");
	assert_int_equal(c->store.s3.part_size, 16u << 20);
	assert_int_equal(c->store.s3.multipart_threshold, 64u << 20);
	assert_int_equal(c->store.s3.parts_in_flight, 8);
	assert_int_equal(c->store.s3.connect_timeout_ms, 2000);
	assert_int_equal(c->store.s3.request_timeout_ms, 120000);
	assert_int_equal(c->store.s3.deadline_ms, 3600000);
	assert_int_equal(c->store.s3.max_attempts, 3);
	assert_string_equal(c->store.credentials.access_key_id, "TESTKEYID-NOT-A-REAL-KEY");
	assert_string_equal(c->store.credentials.secret_access_key, secrets[0]);
	assert_string_equal(c->store.credentials.session_token, secrets[1]);
	assert_int_equal(c->log.level, RV_LOG_DEBUG);
	assert_int_equal(c->log.format, RV_LOG_JSON);
	assert_string_equal(c->metrics.listen, "[::1]:9999");
	rv_config_free(c);
}

static void test_minimal(void **state)
{
	struct rv_config *c = load_ok("good/minimal.yml");

	(void)state;
	assert_string_equal(c->store.url, "file:///var/lib/revenant/store");
	assert_int_equal(c->store.s3.part_size, 8u << 20);
	assert_int_equal(c->log.level, RV_LOG_INFO);
	rv_config_free(c);
}

static void test_env(void **state)
{
	struct rv_config *c;

	(void)state;
	set_test_env();
	c = load_ok("good/env.yml");
	assert_string_equal(c->site, "dr-2");
	assert_string_equal(c->store.url, "file:///srv/rv/store");
	assert_string_equal(c->store.s3.region, "us-west-2");
	assert_int_equal(c->store.s3.part_size, 8u << 20); /* empty: the default */
	assert_int_equal(c->store.s3.parts_in_flight, 16);
	assert_string_equal(c->store.credentials.profile, "cost$center-${HOME}");
	assert_int_equal(c->log.level, RV_LOG_WARN);
	rv_config_free(c);

	/* A set variable wins over the default; an expanded value is not
	 * expanded again. */
	setenv("RV_CFGTEST_UNSET_REGION", "${HOME}", 1);
	setenv("RV_CFGTEST_EMPTY", "error", 1);
	c = load_ok("good/env.yml");
	assert_string_equal(c->store.s3.region, "${HOME}");
	assert_int_equal(c->log.level, RV_LOG_ERROR);
	rv_config_free(c);
	set_test_env();
}

static void test_secret_file(void **state)
{
	struct rv_config *c;

	(void)state;
	c = load_ok("good/secret_file.yml");
	assert_string_equal(c->store.credentials.access_key_id, "TESTKEYID-NOT-A-REAL-KEY");
	assert_string_equal(c->store.credentials.secret_access_key, secrets[2]);
	assert_string_equal(c->store.credentials.session_token, secrets[3]); /* CRLF gone */
	rv_config_free(c);
}

/* "# expect: 12: key: message" -> "<path>:12: key: message"; a trailing
 * "..." makes it a prefix. */
static bool check_bad(const char *path)
{
	char *text, *nl, *want;
	struct rv_config *c = (struct rv_config *)1;
	bool prefix, ok = true;
	int rc;

	assert_int_equal(rv_read_file(path, 1u << 20, &text, NULL), 0);
	if (!rv_str_startswith(text, "# expect: "))
		fail_msg("%s: the first line must be '# expect: ...'", path);
	nl = strchr(text, '\n');
	assert_non_null(nl);
	*nl = '\0';
	prefix = rv_str_endswith(text, "...");
	if (prefix)
		text[strlen(text) - 3] = '\0';
	want = rv_asprintf("%s:%s", path, text + strlen("# expect: "));
	rc = rv_config_load(&c, path);
	if (rc != RV_EUSAGE) {
		print_error("%s: expected RV_EUSAGE, got %d (%s)\n", path, rc,
			    rc ? rv_errmsg() : "ok");
		rv_config_free(rc ? NULL : c);
		ok = false;
	} else if (prefix ? !rv_str_startswith(rv_errmsg(), want)
			  : strcmp(rv_errmsg(), want) != 0) {
		print_error("%s:\n  want: %s%s\n  got:  %s\n", path, want, prefix ? "..." : "",
			    rv_errmsg());
		ok = false;
	} else {
		assert_null(c);
		assert_null(strchr(rv_errmsg(), '\n'));
		assert_no_secret(rv_errmsg());
	}
	free(want);
	free(text);
	return ok;
}

static void test_bad_table(void **state)
{
	char *dir = cfg_path("bad");
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0, bad = 0;

	(void)state;
	set_test_env();
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char *path;
		if (!rv_str_endswith(de->d_name, ".yml"))
			continue;
		path = rv_asprintf("%s/%s", dir, de->d_name);
		bad += !check_bad(path);
		free(path);
		n++;
	}
	closedir(d);
	free(dir);
	assert_int_equal(bad, 0);
	/* Guard against the glob silently finding nothing. */
	assert_true(n >= 35);
	print_message("%d bad configurations rejected with the expected message\n", n);
}

static char *tmp_file(const char *content, size_t len)
{
	char *path = rv_strdup("/tmp/rv-test-config-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(rv_write_all(fd, content, len), 0);
	assert_int_equal(close(fd), 0);
	return path;
}

static void test_too_large(void **state)
{
	size_t len = 2u << 20;
	char *big = rv_malloc(len), *path, *want;
	struct rv_config *c;

	(void)state;
	/* A valid YAML comment all the way: only the size is wrong. */
	memset(big, '#', len);
	for (size_t i = 80; i < len; i += 80)
		big[i] = '\n';
	path = tmp_file(big, len);
	assert_int_equal(rv_config_load(&c, path), RV_EUSAGE);
	want = rv_asprintf("%s: larger than 1048576 bytes: is this the right file?", path);
	assert_string_equal(rv_errmsg(), want);
	assert_int_equal(rv_config_parse(&c, "mem.yml", big, len), RV_EUSAGE);
	assert_string_equal(rv_errmsg(),
			    "mem.yml: larger than 1048576 bytes: is this the right file?");
	/* Exactly at the cap is fine. */
	big[RV_CONFIG_MAX_SIZE - 1] = '\n';
	assert_int_equal(rv_config_parse(&c, "mem.yml", big, RV_CONFIG_MAX_SIZE), 0);
	rv_config_free(c);
	unlink(path);
	free(path);
	free(want);
	free(big);
}

static void test_missing_file(void **state)
{
	struct rv_config *c;

	(void)state;
	assert_int_equal(rv_config_load(&c, "/nonexistent/revenant.yml"), RV_ENOTFOUND);
	assert_null(c);
	assert_string_equal(rv_errmsg(), "config file '/nonexistent/revenant.yml' does not exist");
}

/* The secret file's content must not leak through its error messages. */
static void test_secret_file_errors(void **state)
{
	static const char two_lines[] = "TOPSECRET-LINE\nTOPSECRET-LINE-2\n";
	char *path = tmp_file(two_lines, sizeof(two_lines) - 1), *yml, *want;
	char *big = rv_malloc(RV_CONFIG_SECRET_MAX + 1), *bigpath, *empty;
	struct rv_config *c;

	(void)state;
	yml = rv_asprintf("store:\n  credentials:\n    access_key_id: AKIA\n"
			  "    secret_access_key_file: %s\n",
			  path);
	assert_int_equal(rv_config_parse(&c, "t.yml", yml, strlen(yml)), RV_EUSAGE);
	want = rv_asprintf("t.yml:4: store.credentials.secret_access_key_file: '%s' must hold "
			   "the secret on one line",
			   path);
	assert_string_equal(rv_errmsg(), want);
	assert_no_secret(rv_errmsg());
	free(want);
	free(yml);

	memset(big, 'S', RV_CONFIG_SECRET_MAX + 1);
	bigpath = tmp_file(big, RV_CONFIG_SECRET_MAX + 1);
	yml = rv_asprintf("store:\n  credentials:\n    session_token_file: %s\n", bigpath);
	assert_int_equal(rv_config_parse(&c, "t.yml", yml, strlen(yml)), RV_EUSAGE);
	want = rv_asprintf("t.yml:3: store.credentials.session_token_file: '%s' is larger than "
			   "65536 bytes",
			   bigpath);
	assert_string_equal(rv_errmsg(), want);
	free(want);
	free(yml);

	empty = tmp_file("\n", 1);
	yml = rv_asprintf("store:\n  credentials:\n    session_token_file: %s\n", empty);
	assert_int_equal(rv_config_parse(&c, "t.yml", yml, strlen(yml)), RV_EUSAGE);
	assert_non_null(strstr(rv_errmsg(), "must hold the secret on one line"));
	free(yml);

	unlink(path);
	unlink(bigpath);
	unlink(empty);
	free(path);
	free(bigpath);
	free(empty);
	free(big);
}

static void test_show_redacts(void **state)
{
	static const char *const files[] = {"good/full.yml", "good/secret_file.yml", NULL};

	(void)state;
	for (int i = 0; files[i]; i++) {
		struct rv_config *c = load_ok(files[i]);
		char *out = show(c);
		assert_no_secret(out);
		assert_non_null(strstr(out, "secret_access_key: \"[redacted]\"\n"));
		assert_non_null(strstr(out, "session_token: \"[redacted]\"\n"));
		assert_non_null(strstr(out, "access_key_id: \"TESTKEYID-NOT-A-REAL-KEY\"\n"));
		free(out);
		rv_config_free(c);
	}
}

static void test_show_format(void **state)
{
	static const char yml[] = "site: dc\nstore:\n  url: file:///srv/a$$b\n";
	static const char want[] = "# revenant configuration from x.yml\n"
				   "# (defaults filled in, secrets redacted)\n"
				   "site: \"dc\"\n"
				   "sync_interval: 1s\n"
				   "store:\n"
				   "  url: \"file:///srv/a$$b\"\n"
				   "  fsync: true\n"
				   "  s3:\n"
				   "    region: null\n"
				   "    part_size: 8MiB\n"
				   "    multipart_threshold: 8MiB\n"
				   "    parts_in_flight: 4\n"
				   "    connect_timeout: 5s\n"
				   "    request_timeout: 1m\n"
				   "    deadline: 5m\n"
				   "    max_attempts: 8\n"
				   "  credentials:\n"
				   "    profile: null\n"
				   "    access_key_id: null\n"
				   "    secret_access_key: null\n"
				   "    session_token: null\n"
				   "  encryption:\n"
				   "    key_file: null\n"
				   "    old_key_files: []\n"
				   "    passphrase_file: null\n"
				   "    old_passphrase_files: []\n"
				   "    kms_key_id: null\n"
				   "log:\n"
				   "  level: info\n"
				   "  format: logfmt\n"
				   "metrics:\n"
				   "  listen: \"127.0.0.1:9187\"\n"
				   "content:\n"
				   "  path: null\n"
				   "  exclude: [\"logs/\", \"images/size/\", \"data/*.db\", "
				   "\"data/*.db-wal\", \"data/*.db-shm\", \"data/*.db-journal\"]\n"
				   "  include: []\n"
				   "  manifest_every: 256\n"
				   "  manifest_interval: 10m\n"
				   "  upload_workers: 8\n"
				   "ghost:\n"
				   "  url: null\n"
				   "  admin_key: null\n"
				   "database:\n"
				   "  sqlite: null\n"
				   "  mysql:\n"
				   "    host: null\n"
				   "    port: 3306\n"
				   "    socket: null\n"
				   "    user: null\n"
				   "    password: null\n"
				   "    database: null\n"
				   "    tls: off\n"
				   "    tls_verify: true\n"
				   "    tls_ca: null\n"
				   "    server_id: 0\n"
				   "    snapshot_jobs: 1\n"
				   "    snapshot_chunk: 64MiB\n"
				   "    connect_timeout: 10s\n"
				   "  snapshot_interval: 6h\n"
				   "  snapshot_log_ratio: 2\n"
				   "  busy_timeout: 5s\n"
				   "dns:\n"
				   "  provider: off\n"
				   "  names: []\n"
				   "  type: A\n"
				   "  ttl: 1m\n"
				   "  targets: []\n"
				   "  rfc2136:\n"
				   "    server: null\n"
				   "    zone: null\n"
				   "    key_name: null\n"
				   "    key_algorithm: \"hmac-sha256\"\n"
				   "    key_secret: null\n"
				   "    timeout: 2s\n"
				   "  route53:\n"
				   "    zone_id: null\n"
				   "    endpoint: null\n"
				   "    alias: false\n"
				   "    weighted: false\n"
				   "    weight: 1\n"
				   "    upsert: false\n"
				   "    timeout: 2m\n"
				   "    profile: null\n"
				   "  exec:\n"
				   "    command: null\n"
				   "    timeout: 30s\n"
				   "failover:\n"
				   "  heartbeat_interval: 5s\n"
				   "  dead_after: 30s\n"
				   "  fence_after: 10s\n"
				   "  max_clock_skew: 2s\n"
				   "  max_loss: 30s\n"
				   "  initial_primary: null\n"
				   "  save_dir: null\n"
				   "  auto: false\n"
				   "  probe_url: null\n"
				   "  probe_interval: 2s\n"
				   "  fall: 3\n"
				   "  rise: 2\n"
				   "  ghost_timeout: 2m\n"
				   "hooks:\n"
				   "  promote: null\n"
				   "  demote: null\n"
				   "  fenced: null\n"
				   "  standby: null\n"
				   "  gate: null\n"
				   "  timeout: 15s\n"
				   "retention: 3d\n";
	struct rv_config *c;
	char *out;

	(void)state;
	assert_int_equal(rv_config_parse(&c, "x.yml", yml, sizeof(yml) - 1), 0);
	assert_string_equal(c->store.url, "file:///srv/a$b");
	out = show(c);
	assert_string_equal(out, want);
	free(out);
	rv_config_free(c);
}

/* database.mysql: the keys, the secret from the environment and never
 * shown, the derived server_id. */
static void test_mysql(void **state)
{
	struct rv_config *c;
	struct rv_mysql_conf m = {0};
	char *out;

	(void)state;
	set_test_env();
	c = load_ok("server/mysql.yml");
	assert_null(c->database.sqlite);
	assert_string_equal(c->database.mysql.host, "mysql.ghost.svc.cluster.local");
	assert_int_equal(c->database.mysql.port, 3307);
	assert_null(c->database.mysql.socket);
	assert_string_equal(c->database.mysql.user, "revenant");
	assert_string_equal(c->database.mysql.password, "test-db-password-not-real");
	assert_string_equal(c->database.mysql.database, "ghost");
	assert_int_equal(c->database.mysql.tls, RV_MYSQL_TLS_ON);
	assert_true(c->database.mysql.tls_verify);
	assert_string_equal(c->database.mysql.tls_ca, "/etc/ssl/certs/db-ca.pem");
	assert_int_equal(c->database.mysql.snapshot_jobs, 1);
	assert_int_equal(c->database.mysql.snapshot_chunk, 64u << 20);
	assert_int_equal(rv_mysql_server_id(&c->database.mysql, "dc"), 4242);
	out = show(c);
	assert_no_secret(out);
	assert_non_null(strstr(out, "    password: \"[redacted]\"\n"));
	free(out);
	rv_config_free(c);
	/* Derived: 0x52560000 + FNV-1a-32(site) mod 65536, stable, per site. */
	assert_int_equal(rv_mysql_server_id(&m, "dc"), 0x52560000u + (0x561cc530u & 0xffffu));
	assert_int_not_equal(rv_mysql_server_id(&m, "dc"), rv_mysql_server_id(&m, "dr"));
}

/* show -> parse -> show is a fixed point for every good file. */
static void test_roundtrip(void **state)
{
	static const char *const files[] = {"good/full.yml",
					    "good/minimal.yml",
					    "good/empty.yml",
					    "good/comments.yml",
					    "good/env.yml",
					    "good/secret_file.yml",
					    "good/dns_route53.yml",
					    "server/mysql.yml",
					    "../../revenant.example.yml",
					    NULL};

	(void)state;
	set_test_env();
	for (int i = 0; files[i]; i++) {
		struct rv_config *a = load_ok(files[i]), *b;
		char *out1 = show(a), *out2;
		int rc = rv_config_parse(&b, a->source, out1, strlen(out1));
		if (rc)
			fail_msg("%s: show output does not load: %s\n%s", files[i], rv_errmsg(),
				 out1);
		out2 = show(b);
		assert_string_equal(out1, out2);
		assert_string_equal(a->site, b->site);
		free(out1);
		free(out2);
		rv_config_free(a);
		rv_config_free(b);
	}
}

/* Every prefix of every example file: errors are fine, crashes and leaks
 * are not (run under ASan). */
static void test_truncations(void **state)
{
	static const char *const dirs[] = {"good", "bad", NULL};
	int n = 0;

	(void)state;
	set_test_env();
	for (int i = 0; dirs[i]; i++) {
		char *dir = cfg_path(dirs[i]);
		DIR *d = opendir(dir);
		struct dirent *de;
		assert_non_null(d);
		while ((de = readdir(d)) != NULL) {
			char *path, *text;
			size_t len;
			if (!rv_str_endswith(de->d_name, ".yml"))
				continue;
			path = rv_asprintf("%s/%s", dir, de->d_name);
			assert_int_equal(rv_read_file(path, 1u << 20, &text, &len), 0);
			for (size_t cut = 0; cut <= len; cut++) {
				struct rv_config *c = NULL;
				char *copy = rv_strndup(text, cut);
				if (!rv_config_parse(&c, "cut.yml", copy, cut)) {
					char *out = show(c);
					assert_no_secret(out);
					free(out);
				}
				rv_config_free(c);
				free(copy);
				n++;
			}
			free(text);
			free(path);
		}
		closedir(d);
		free(dir);
	}
	assert_true(n > 1000);
}

static void test_cli_glue(void **state)
{
	struct rv_cli cli = {NULL, RV_LOG_INFO, RV_LOG_LOGFMT, false, false};
	struct rv_config *c;
	struct rv_store *s;
	char dir[] = "/tmp/rv-test-glue-XXXXXX", *yml, *path, *url;

	(void)state;
	cli.config_path = cfg_path("good/full.yml");
	assert_int_equal(rv_cli_load_config(&cli, true, &c), 0);
	assert_int_equal(cli.log_level, RV_LOG_DEBUG);
	assert_int_equal(cli.log_format, RV_LOG_JSON);
	rv_config_free(c);

	/* The command line wins over the file. */
	cli.log_level = RV_LOG_ERROR;
	cli.log_level_set = true;
	cli.log_format = RV_LOG_LOGFMT;
	cli.log_format_set = true;
	assert_int_equal(rv_cli_load_config(&cli, true, &c), 0);
	assert_int_equal(cli.log_level, RV_LOG_ERROR);
	assert_int_equal(cli.log_format, RV_LOG_LOGFMT);
	rv_config_free(c);
	free((char *)cli.config_path);
	rv_log_setup(RV_LOG_INFO, RV_LOG_LOGFMT);

	cli.config_path = "/nonexistent/missing.yml";
	assert_int_equal(rv_cli_load_config(&cli, false, &c), RV_EUSAGE);
	assert_null(c);
	assert_string_equal(rv_errmsg(), "config file '/nonexistent/missing.yml' does not exist");
	assert_int_equal(rv_cli_open_store(&cli, "file:///tmp", &s), RV_EUSAGE);

	/* A store from the config's URL, with its tunables. */
	assert_non_null(mkdtemp(dir));
	url = rv_asprintf("file://%s/store", dir);
	path = rv_asprintf("%s/store", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	free(path);
	yml = rv_asprintf("store:\n  url: %s\n  fsync: false\n", url);
	path = rv_asprintf("%s/revenant.yml", dir);
	{
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(rv_write_all(fd, yml, strlen(yml)), 0);
		close(fd);
	}
	cli.config_path = path;
	assert_int_equal(rv_cli_open_store(&cli, NULL, &s), 0);
	assert_string_equal(rv_store_describe(s), url);
	assert_false(s->opts.fsync);
	assert_int_equal(s->opts.part_size, 8u << 20);
	assert_int_equal(rv_store_put_buf(s, "a/b", "x", 1, NULL), 0);
	rv_store_free(s);

	/* Neither -c nor a default file: defaults, and no URL to open. */
	cli.config_path = NULL;
	{
		char cwd[4096];
		/* A real /etc/revenant/revenant.yml would be found instead. */
		if (access("/etc/revenant/revenant.yml", F_OK) == 0)
			skip();
		assert_non_null(getcwd(cwd, sizeof(cwd)));
		assert_int_equal(chdir("/"), 0);
		assert_int_equal(rv_cli_load_config(&cli, false, &c), 0);
		assert_string_equal(c->source, RV_CONFIG_DEFAULT_NAME);
		rv_config_free(c);
		assert_int_equal(rv_cli_load_config(&cli, true, &c), RV_EUSAGE);
		assert_int_equal(rv_cli_open_store(&cli, NULL, &s), RV_EUSAGE);
		assert_string_equal(rv_errmsg(), "no store URL: give one, or set store.url in "
						 "(built-in defaults)");
		/* ./revenant.yml is found from the working directory. */
		assert_int_equal(chdir(dir), 0);
		assert_int_equal(rv_cli_load_config(&cli, true, &c), 0);
		assert_string_equal(c->source, "revenant.yml");
		rv_config_free(c);
		assert_int_equal(chdir(cwd), 0);
	}
	{
		char *cmd = rv_asprintf("rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
		free(cmd);
	}
	free(url);
	free(yml);
	free(path);
}

/* The subsystems' sections: no key claimed twice, none of core's (site,
 * log.*), and each section under one top-level name, so that `config show`
 * opens it once. */
static void test_sections(void **state)
{
	const struct rv_config_section *const secs[] = {
	    &rv_config_section_sync,	  &rv_config_section_store, &rv_config_section_metrics,
	    &rv_config_section_content,	  &rv_config_section_ghost, &rv_config_section_database,
	    &rv_config_section_retention,
	};
	const size_t nsecs = sizeof(secs) / sizeof(secs[0]);

	(void)state;
	for (size_t s = 0; s < nsecs; s++) {
		const char *first = secs[s]->entries[0].name;
		size_t top = strcspn(first, ".");

		assert_non_null(secs[s]->owner);
		assert_true(secs[s]->nentries > 0);
		for (size_t i = 0; i < secs[s]->nentries; i++) {
			const char *name = secs[s]->entries[i].name;

			assert_true(strcmp(name, "site") && strncmp(name, "log.", 4));
			assert_true(strcspn(name, ".") == top && !strncmp(name, first, top));
			for (size_t t = 0; t < nsecs; t++)
				for (size_t j = 0; j < secs[t]->nentries; j++)
					if (t != s || j != i)
						assert_string_not_equal(name,
									secs[t]->entries[j].name);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_minimal),
	    cmocka_unit_test(test_env),
	    cmocka_unit_test(test_secret_file),
	    cmocka_unit_test(test_bad_table),
	    cmocka_unit_test(test_too_large),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_secret_file_errors),
	    cmocka_unit_test(test_show_redacts),
	    cmocka_unit_test(test_show_format),
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_mysql),
	    cmocka_unit_test(test_truncations),
	    cmocka_unit_test(test_cli_glue),
	    cmocka_unit_test(test_sections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
