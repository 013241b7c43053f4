/* config_glue.c - what every command gets from the configuration: finding
 * and loading the file, applying its log settings, and opening the store
 * with its tunables and credentials. */
#include "aws/creds.h"
#include "cli/cli.h"
#include "content/content.h"
#include "core/config.h"
#include "core/log.h"
#include "store/crypt.h"
#include "core/mem.h"
#include "core/util.h"
#include "db/mysql/mysql.h"
#include "store/store.h"
#include "store/versions.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const default_paths[] = {"revenant.yml", "/etc/revenant/revenant.yml", NULL};

static void apply_log(struct rv_cli *cli, const struct rv_config *cfg)
{
	if (!cli->log_level_set)
		cli->log_level = (enum rv_log_level)cfg->log.level;
	if (!cli->log_format_set)
		cli->log_format = (enum rv_log_format)cfg->log.format;
	rv_log_setup(cli->log_level, cli->log_format);
}

int rv_cli_load_config(struct rv_cli *cli, bool required, struct rv_config **out)
{
	const char *path = cli->config_path;
	int rc;

	*out = NULL;
	if (!path) {
		for (int i = 0; default_paths[i] && !path; i++) {
			/* Present but unreadable is an error below, not a reason
			 * to fall back to the next file. */
			if (access(default_paths[i], F_OK) == 0 || errno != ENOENT)
				path = default_paths[i];
		}
	}
	if (!path) {
		if (required)
			return rv_error(RV_EUSAGE, "no configuration: give -c FILE, or create "
						   "./revenant.yml or /etc/revenant/revenant.yml");
		rc = rv_config_defaults(out);
	} else {
		rc = rv_config_load(out, path);
		if (rc == RV_ENOTFOUND)
			rc = RV_EUSAGE; /* the message already names the file */
	}
	if (rc)
		return rc;
	apply_log(cli, *out);
	return 0;
}

void rv_cli_store_opts(const struct rv_config *cfg, struct rv_store_opts *o,
		       struct rv_creds_config *cc)
{
	rv_store_opts_default(o);
	o->part_size = cfg->store.s3.part_size;
	o->multipart_threshold = cfg->store.s3.multipart_threshold;
	o->parts_in_flight = (unsigned)cfg->store.s3.parts_in_flight;
	o->connect_timeout_ms = (long)cfg->store.s3.connect_timeout_ms;
	o->request_timeout_ms = (long)cfg->store.s3.request_timeout_ms;
	o->deadline_ms = (long)cfg->store.s3.deadline_ms;
	o->max_attempts = (unsigned)cfg->store.s3.max_attempts;
	o->fsync = cfg->store.fsync;
	o->region = cfg->store.s3.region;

	memset(cc, 0, sizeof(*cc));
	cc->profile = cfg->store.credentials.profile;
	cc->region = cfg->store.s3.region;
	cc->access_key_id = cfg->store.credentials.access_key_id;
	cc->secret_access_key = cfg->store.credentials.secret_access_key;
	cc->session_token = cfg->store.credentials.session_token;
	o->creds_config = cc;
}

/* The store at `url` with the config's tunables and credentials; with
 * `versions`, its versioned view as of `at_ms` (store/versions.h).  The
 * view reads the backend's raw objects: a layer over the objects' bytes
 * (the encryption layer) goes on top of it, here, for both paths. */
static int open_store(const struct rv_config *cfg, const char *url, bool versions, int64_t at_ms,
		      struct rv_store **out)
{
	struct rv_crypt_conf enc = {
	    .key_file = cfg->store.encryption.key_file,
	    .old_key_files = (const char *const *)cfg->store.encryption.old_key_files,
	    .passphrase_file = cfg->store.encryption.passphrase_file,
	    .old_passphrase_files = (const char *const *)cfg->store.encryption.old_passphrase_files,
	    .kms_key_id = cfg->store.encryption.kms_key_id,
	    .region = cfg->store.s3.region};
	struct rv_store_opts o;
	struct rv_creds_config cc;
	int rc;

	*out = NULL;
	if (!url)
		url = cfg->store.url;
	if (!url)
		return rv_error(RV_EUSAGE, "no store URL: give one, or set store.url in %s",
				cfg->source);

	rv_cli_store_opts(cfg, &o, &cc);
	enc.creds = &cc;
	/* The backends copy what they keep of `o` and `cc` at open (store.h). */
	if ((rc = rv_store_open(out, url, &o)))
		return rc;
	/* Encrypted or not, the store's mode is checked here, once, for every
	 * command (store/crypt.h) — over the versioned view when asked, so
	 * that the marker too is read as it was then. */
	if ((versions && (rc = rv_store_versions_open(out, at_ms))) ||
	    (rc = rv_crypt_open(out, &enc))) {
		rv_store_free(*out);
		*out = NULL;
	}
	return rc;
}

int rv_cli_open_store_cfg(const struct rv_config *cfg, const char *url, struct rv_store **out)
{
	return open_store(cfg, url, false, 0, out);
}

int rv_cli_open_store_versions(const struct rv_config *cfg, const char *url, int64_t at_ms,
			       struct rv_store **out)
{
	return open_store(cfg, url, true, at_ms, out);
}

int rv_cli_open_store(struct rv_cli *cli, const char *url, struct rv_store **out)
{
	struct rv_config *cfg;
	int rc;

	*out = NULL;
	if ((rc = rv_cli_load_config(cli, false, &cfg)))
		return rc;
	rc = rv_cli_open_store_cfg(cfg, url, out);
	rv_config_free(cfg);
	return rc;
}

void rv_cli_content_opts(const struct rv_config *cfg, struct rv_content_opts *co)
{
	rv_content_opts_default(co);
	co->root = cfg->content.path;
	co->exclude = (const char *const *)cfg->content.exclude;
	co->include = (const char *const *)cfg->content.include;
}

int rv_cli_db_mysql(const char *db, const char *pwfile, struct rv_mysql_conf *out, bool *mysql)
{
	char *pw = NULL;
	size_t n = 0;
	int rc;

	*mysql = rv_mysql_is_url(db);
	if (!*mysql)
		return pwfile ? rv_error(RV_EUSAGE,
					 "--db-password-file goes only with a mysql:// --db")
			      : 0;
	if (pwfile && (rc = rv_read_file(pwfile, 4096, &pw, &n)))
		return rc;
	while (pw && n && (pw[n - 1] == '\n' || pw[n - 1] == '\r'))
		pw[--n] = '\0';
	rc = rv_mysql_url_parse(db, pw ? pw : getenv("REVENANT_DB_PASSWORD"), out);
	if (pw) {
		explicit_bzero(pw, n);
		free(pw);
	}
	return rc;
}
