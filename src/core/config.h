/* config.h - revenant.yml, loaded and validated once.
 *
 * The file is parsed with libyaml into a small tree that keeps line numbers,
 * then checked against one table of typed entries (config.c) and copied into
 * a struct rv_config.  Nothing changes it after load: hand it around as a
 * const pointer and free it with rv_config_free.
 *
 * Every problem is one line naming the file, the line and the key:
 *
 *   revenant.yml:12: store.s3.part_size: 1MiB is below the minimum 5MiB
 *
 * Scalar values may use ${VAR}, ${VAR:-default} (used when VAR is unset or
 * empty) and $$ for a literal '$'; a value that is empty after expansion
 * means "the default".  Each secret key `x` may instead be given as
 * `x_file: /path`, whose contents (trailing newline stripped) become the
 * value.  Secret values never appear in messages or in rv_config_write. */
#ifndef RV_CONFIG_H
#define RV_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define RV_CONFIG_MAX_SIZE     (1u << 20) /* bytes of YAML */
#define RV_CONFIG_MAX_DEPTH    8	  /* nested mappings/lists */
#define RV_CONFIG_MAX_NODES    10000	  /* scalars, mappings and lists */
#define RV_CONFIG_SECRET_MAX   65536	  /* bytes in one *_file */
#define RV_CONFIG_DEFAULT_NAME "(built-in defaults)"

struct rv_config {
	char *source;		  /* the file it came from, or RV_CONFIG_DEFAULT_NAME */
	char *site;		  /* this site's name; default: the short hostname */
	int64_t sync_interval_ms; /* commit interval of replicate */
	struct {
		char *url;  /* NULL when not configured */
		bool fsync; /* file backend */
		struct {
			char *region; /* NULL: the URL's, then the environment's */
			uint64_t part_size;
			uint64_t multipart_threshold;
			int64_t parts_in_flight;
			int64_t connect_timeout_ms;
			int64_t request_timeout_ms;
			int64_t deadline_ms;
			int64_t max_attempts;
		} s3;
		struct {
			/* All NULL: the AWS chain (env, shared files, IRSA, Pod
			 * Identity, IMDS). */
			char *profile;
			char *access_key_id;
			char *secret_access_key; /* secret */
			char *session_token;	 /* secret */
		} credentials;
	} store;
	struct {
		int level;  /* enum rv_log_level */
		int format; /* enum rv_log_format */
	} log;
	struct {
		char *listen; /* host:port; NULL when turned off */
	} metrics;
	struct {
		char *path;		      /* the content folder; NULL when not configured */
		char **exclude;		      /* NULL-terminated globs (content.h) */
		char **include;		      /* NULL-terminated; NULL or empty: none */
		int64_t manifest_every;	      /* commits between full manifests */
		int64_t manifest_interval_ms; /* and at least this often */
		int64_t upload_workers;
	} content;
	struct {
		char *url;	 /* the site's URL as Ghost has it; NULL: not set */
		char *admin_key; /* secret: "id:secret" of an Admin API key */
	} ghost;
	struct {
		char *sqlite;		      /* Ghost's SQLite file; NULL: no database */
		int64_t snapshot_interval_ms; /* a fresh snapshot at least this often */
		int64_t snapshot_log_ratio;   /* ... and once the log is this many times the db */
		int64_t busy_timeout_ms;      /* waiting for Ghost's write lock */
	} database;
	/* Recovery points younger than this stay restorable (`revenant prune`). */
	int64_t retention_ms;
};

/* Read and validate `path`.  RV_ENOTFOUND when it does not exist; RV_EUSAGE
 * for everything wrong inside it. */
int rv_config_load(struct rv_config **out, const char *path) RV_WARN_UNUSED;
/* The same from memory; `name` is what messages call the file. */
int rv_config_parse(struct rv_config **out, const char *name, const char *text,
		    size_t len) RV_WARN_UNUSED;
/* Built-in defaults only (what an empty file gives). */
int rv_config_defaults(struct rv_config **out) RV_WARN_UNUSED;
void rv_config_free(struct rv_config *c);

/* The effective configuration as YAML, every key present, defaults filled
 * in, secrets as "[redacted]".  Reading it back gives the same config
 * (apart from the secrets). */
int rv_config_write(const struct rv_config *c, struct rv_buf *out) RV_WARN_UNUSED;

#endif
