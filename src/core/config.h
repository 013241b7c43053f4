/* config.h - revenant.yml, loaded and validated once.
 *
 * The file is parsed with libyaml into a small tree that keeps line numbers,
 * then checked against tables of typed entries and copied into a struct
 * rv_config.  Nothing changes it after load: hand it around as a const
 * pointer and free it with rv_config_free.
 *
 * Each subsystem owns its section: its table of entries (names, types,
 * defaults, bounds, per-value checks) and the rules that span its keys live
 * beside its code (store/store_config.c, content/content_config.c, …) and
 * only include this header.  core/config.c holds the generic machinery and
 * the ordered list of sections it walks (rv_config_section_* below); that
 * order is the order of `config show` and of "expected …" lists.
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
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define RV_CONFIG_MAX_SIZE     (1u << 20) /* bytes of YAML */
#define RV_CONFIG_MAX_DEPTH    8	  /* nested mappings/lists */
#define RV_CONFIG_MAX_NODES    10000	  /* scalars, mappings and lists */
#define RV_CONFIG_SECRET_MAX   65536	  /* bytes in one *_file */
#define RV_CONFIG_DEFAULT_NAME "(built-in defaults)"

/* database.mysql (db/db_config.c): a MySQL 8 / MariaDB server and the
 * database to replicate.  Set when `database` is not NULL. */
enum rv_mysql_tls { RV_MYSQL_TLS_OFF, RV_MYSQL_TLS_ON };
struct rv_mysql_conf {
	char *host;		 /* NULL: the socket */
	int64_t port;		 /* with host */
	char *socket;		 /* a unix socket path; NULL: host */
	char *user;		 /* required */
	char *password;		 /* secret; NULL: none */
	char *database;		 /* Ghost's database (e.g. "ghost"); NULL: not configured */
	int tls;		 /* enum rv_mysql_tls */
	bool tls_verify;	 /* the server's certificate and name, when tls is on */
	char *tls_ca;		 /* a CA file; NULL: the system's */
	int64_t server_id;	 /* revenant's replica server_id; 0: derived (rv_mysql_server_id) */
	int64_t snapshot_jobs;	 /* connections dumping tables in parallel */
	uint64_t snapshot_chunk; /* with several: the bytes of a table's range */
	int64_t connect_timeout_ms;
};

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
		/* Client-side encryption (store/crypt.h); key_file NULL: off. */
		struct {
			char *key_file;	       /* the current key: writes and reads */
			char **old_key_files;  /* NULL-terminated: still read */
			char *passphrase_file; /* or a passphrase's key (scrypt) */
			char **old_passphrase_files;
			char *kms_key_id; /* or a data key wrapped by this KMS key */
		} encryption;
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
		struct rv_mysql_conf mysql;   /* or a MySQL/MariaDB database (never both) */
		int64_t snapshot_interval_ms; /* a fresh snapshot at least this often */
		int64_t snapshot_log_ratio;   /* ... and once the log is this many times the db */
		int64_t busy_timeout_ms;      /* waiting for Ghost's write lock */
	} database;
	struct {
		int provider;	/* 0: off, 1: rfc2136, 2: route53, 3: exec (dns/dns_config.c) */
		char **names;	/* NULL-terminated record names */
		int type;	/* enum rv_dns_type */
		int64_t ttl_ms; /* of the records a switch writes */
		char **targets; /* NULL-terminated "SITE=VALUE[,VALUE]" */
		struct {
			char *server; /* the zone's primary, ADDRESS[:PORT] */
			char *zone;
			char *key_name;
			char *key_algorithm;
			char *key_secret; /* secret */
			int64_t timeout_ms;
		} rfc2136;
		struct {
			char *zone_id;
			char *endpoint; /* NULL: https://route53.amazonaws.com */
			bool alias;	/* targets are DNSNAME@ZONEID alias targets */
			bool weighted;	/* one weighted set per site */
			int64_t weight; /* the winner's weight */
			bool upsert;
			int64_t timeout_ms; /* until INSYNC */
			char *profile;	    /* NULL: store.credentials */
		} route53;
		struct {
			char *command; /* absolute path, run with read|change */
			int64_t timeout_ms;
		} exec;
	} dns;
	struct {
		/* replicate writes heartbeat.json at least this often */
		int64_t heartbeat_interval_ms;
		int64_t dead_after_ms;	/* older heartbeat: the primary is gone */
		int64_t fence_after_ms; /* no heartbeat landed this long: self-fence */
		int64_t max_clock_skew_ms;
		int64_t max_loss_ms;	  /* promote's guard */
		int64_t ghost_timeout_ms; /* promote waits this long for Ghost */
		char *initial_primary;	  /* run: may create the lease; NULL: none */
		char *save_dir;		  /* NULL: <content.path>.revenant-saved */
		bool auto_failover;
		char *probe_url;
		int64_t probe_interval_ms;
		int64_t fall, rise;
	} failover;
	struct {
		char *promote, *demote, *fenced, *standby; /* absolute paths; NULL: none */
		char *gate; /* the Ghost gate's folder (engine/gate.h); NULL: none */
		int64_t timeout_ms;
	} hooks;
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

/* ---- sections: what a subsystem writes to own its keys ---- */

enum rv_config_type {
	RV_CONFIG_STRING,
	RV_CONFIG_NAME, /* a short identifier: letters, digits, '.', '_', '-' */
	RV_CONFIG_BOOL,
	RV_CONFIG_INT,	    /* int64_t within [min, max] */
	RV_CONFIG_SIZE,	    /* uint64_t bytes, written 8MiB, within [min, max] */
	RV_CONFIG_DURATION, /* int64_t milliseconds, written 5s, within [min, max] */
	RV_CONFIG_ENUM,	    /* int: index into `names` */
	RV_CONFIG_PATH,
	RV_CONFIG_ADDR, /* host:port */
	RV_CONFIG_LIST, /* char **, NULL-terminated; `names` is the default */
};

#define RV_CONFIG_F_SECRET 0x1u /* never printed; may be given as <name>_file */
#define RV_CONFIG_F_OFF	   0x2u /* "off" or a quoted "" turns it off: the field is NULL */

/* Where a field lives: .off = RV_CONFIG_FIELD(store.s3.part_size). */
#define RV_CONFIG_FIELD(f) offsetof(struct rv_config, f)

/* Units for bounds. */
#define RV_CONFIG_KIB  (1LL << 10)
#define RV_CONFIG_MIB  (1LL << 20)
#define RV_CONFIG_GIB  (1LL << 30)
#define RV_CONFIG_SEC  1000LL
#define RV_CONFIG_MIN  (60 * RV_CONFIG_SEC)
#define RV_CONFIG_HOUR (60 * RV_CONFIG_MIN)
#define RV_CONFIG_DAY  (24 * RV_CONFIG_HOUR)

struct rv_config_entry {
	const char *name; /* dotted: section.subsection.key */
	enum rv_config_type type;
	unsigned flags;	 /* RV_CONFIG_F_* */
	size_t off;	 /* RV_CONFIG_FIELD(...) */
	const char *def; /* parsed like a value from the file; NULL: not set */
	int64_t min, max;
	const char *const *names; /* an enum's words; a list's default */
	/* What a value looks like in "expected …" messages; NULL: the type's. */
	const char *desc;
	/* A further check of a string-like value that has passed the type's
	 * own (no control characters): 0, or a negative RV_E* code with the
	 * message set by rv_error(), which is shown after "file:line: key: ". */
	int (*check)(const char *value);
};

/* A parse in progress, as a section's cross-key check sees it. */
struct rv_config_origin;

struct rv_config_section {
	const char *owner; /* the subsystem that owns the keys ("store", …) */
	const struct rv_config_entry *entries;
	size_t nentries;
	/* Rules that span keys, run once every value (and *_file secret) is
	 * in, in list order: 0, or what rv_config_fail() returns.  NULL: none. */
	int (*check)(const struct rv_config *c, const struct rv_config_origin *o);
};

/* The line where key `name` got its value; 0 when it has the default. */
unsigned rv_config_line(const struct rv_config_origin *o, const char *name);
/* RV_EUSAGE with "file:line: key: message" (line 0: "file: key: …"). */
int rv_config_fail(const struct rv_config_origin *o, unsigned line, const char *key,
		   const char *fmt, ...) RV_PRINTF(4, 5);
/* A duration as `config show` writes it ("72h", "1m", "500ms"). */
void rv_config_fmt_duration(char *out, size_t n, int64_t ms);

/* The sections, each defined by its owner; core/config.c lists them in
 * this order.  The engine owns two top-level keys that sit apart in
 * `config show` (sync_interval after site, retention at the end). */
extern const struct rv_config_section rv_config_section_sync;	   /* engine/engine_config.c */
extern const struct rv_config_section rv_config_section_store;	   /* store/store_config.c */
extern const struct rv_config_section rv_config_section_metrics;   /* metrics/metrics_config.c */
extern const struct rv_config_section rv_config_section_content;   /* content/content_config.c */
extern const struct rv_config_section rv_config_section_ghost;	   /* ghost/ghost_config.c */
extern const struct rv_config_section rv_config_section_database;  /* db/db_config.c */
extern const struct rv_config_section rv_config_section_dns;	   /* dns/dns_config.c */
extern const struct rv_config_section rv_config_section_failover;  /* engine/engine_config.c */
extern const struct rv_config_section rv_config_section_hooks;	   /* engine/engine_config.c */
extern const struct rv_config_section rv_config_section_retention; /* engine/engine_config.c */

#endif
