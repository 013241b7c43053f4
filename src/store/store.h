/* store.h - the replica store: one interface, several backends.
 *
 *   file:///abs/path                      local folder (atomic rename + fsync)
 *   s3://bucket/prefix?region=R&endpoint=URL&path_style=true
 *
 * Keys are relative to the URL's path/prefix, '/'-separated, never starting
 * with '/' and never containing "." or ".." segments.  Every operation is
 * thread-safe on one struct rv_store (backends keep per-thread connections),
 * so a pool of workers can share a handle.
 *
 * Errors: RV_ENOTFOUND (no such key / bucket), RV_EPRECOND (a conditional
 * put lost), RV_EAUTH (credentials / permission), RV_ENET (unreachable after
 * retries and deadline), RV_ENOTSUP (capability missing), RV_ECORRUPT
 * (malformed answer, size mismatch), RV_EUSAGE (bad URL or key). */
#ifndef RV_STORE_H
#define RV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/err.h"

struct rv_store;
struct rv_creds_provider;
struct rv_creds_config;

/* What a backend can do; conditional puts are only attempted where true. */
struct rv_store_caps {
	bool put_if_absent; /* put with RV_PUT_IF_ABSENT is atomic */
	bool put_if_match;  /* put with RV_PUT_IF_MATCH is atomic */
	bool versioning;    /* the bucket keeps old versions (S3 only) */
	bool multipart;	    /* large puts are split into parts */
};

/* Parsed store URL. */
enum rv_store_kind { RV_STORE_FILE, RV_STORE_S3 };
struct rv_store_url {
	enum rv_store_kind kind;
	char *path;	/* file: absolute folder, no trailing '/' */
	char *bucket;	/* s3 */
	char *prefix;	/* s3: "" or "a/b/" (always ends with '/' when set) */
	char *region;	/* s3: NULL when not given */
	char *endpoint; /* s3: "http://127.0.0.1:9000" or NULL for AWS */
	bool path_style;
};
int rv_store_url_parse(struct rv_store_url *out, const char *url) RV_WARN_UNUSED;
void rv_store_url_release(struct rv_store_url *u);
/* Key syntax check; RV_EUSAGE with a message when bad. */
int rv_store_key_check(const char *key) RV_WARN_UNUSED;
/* The one check before a listed key names a local file: `key` (from a
 * listing of `prefix`) must start with `prefix`, and the rest must be a
 * relative path of non-empty segments, none "." or "..", each at most
 * NAME_MAX bytes, with no control byte; one trailing '/' (a folder marker)
 * is allowed.  `*rel` then points at the rest, inside `key`.  RV_ECORRUPT
 * naming the key otherwise. */
int rv_store_key_local(const char *key, const char *prefix, const char **rel) RV_WARN_UNUSED;

/* Tunables; zero means "the default" for every field. */
struct rv_store_opts {
	uint64_t part_size;		 /* multipart part size, default 8 MiB (min 5 MiB on AWS) */
	uint64_t multipart_threshold;	 /* default = part_size */
	unsigned parts_in_flight;	 /* default 4 */
	long connect_timeout_ms;	 /* default 5000 */
	long request_timeout_ms;	 /* one attempt, default 60000 (+ per-MiB allowance) */
	long deadline_ms;		 /* one operation including retries, default 300000 */
	unsigned max_attempts;		 /* default 8 */
	long retry_base_ms;		 /* default 100 */
	long retry_cap_ms;		 /* default 10000 */
	bool fsync;			 /* file: default true (set by rv_store_opts_default) */
	struct rv_creds_provider *creds; /* s3: borrowed; NULL = the backend makes
					    its own from creds_config */
	const struct rv_creds_config *creds_config; /* s3: copied at open; NULL = chain defaults */
	const char *region;			    /* s3: overrides the URL / environment */
};
void rv_store_opts_default(struct rv_store_opts *o);

enum rv_put_cond { RV_PUT_ALWAYS, RV_PUT_IF_ABSENT, RV_PUT_IF_MATCH };
struct rv_put_opts {
	enum rv_put_cond cond;
	const char *if_match;	  /* etag for RV_PUT_IF_MATCH */
	const char *content_type; /* default application/octet-stream */
	char etag_out[80];	  /* filled on success when not NULL-terminated-empty */
	/* Losing this write to a crash harms nothing (a heartbeat rewritten
	 * every few seconds): the file backend skips its fsyncs.  Atomic
	 * either way (temporary file and rename). */
	bool volatile_ok;
};

struct rv_obj_info {
	char *key; /* relative key; owned (free with rv_obj_info_release) */
	uint64_t size;
	int64_t mtime_ms;
	char etag[80]; /* opaque, usable with RV_PUT_IF_MATCH */
};
void rv_obj_info_release(struct rv_obj_info *i);

struct rv_list_page {
	struct rv_obj_info *items;
	size_t count;
	char *next_token; /* NULL when this was the last page */
};
void rv_list_page_release(struct rv_list_page *p);

int rv_store_open(struct rv_store **out, const char *url,
		  const struct rv_store_opts *opts) RV_WARN_UNUSED;
void rv_store_free(struct rv_store *s);
const struct rv_store_caps *rv_store_caps(const struct rv_store *s);
/* The URL the store was opened with (no secrets in it). */
const char *rv_store_describe(const struct rv_store *s);

/* Detect what the server can do and update rv_store_caps(): S3 puts a
 * random key under ".revenant/probe/" with If-None-Match twice and with a
 * wrong If-Match (a 412 means the header is honoured), reads ?versioning and
 * deletes the key; it needs put and delete permission.  Until it runs an S3
 * store reports no conditional puts and no versioning.  A no-op for file. */
int rv_store_probe(struct rv_store *s) RV_WARN_UNUSED;

/* The store's blob-name key (format/layout.h, rv_content_blob_key): NULL
 * in a plain store.  An encrypted store (store/crypt.h) opened on an empty
 * store records its encryption marker at the first call or the first put,
 * whichever comes first, so that every writer names blobs alike. */
int rv_store_name_key(struct rv_store *s, const unsigned char **out) RV_WARN_UNUSED;

/* Put `size` bytes read from `fd` (from its current offset for pipes; a
 * regular file is read with pread from offset 0 when `size` is UINT64_MAX
 * meaning "to the end").  Never leaves a partial object under `key`. */
int rv_store_put_fd(struct rv_store *s, const char *key, int fd, uint64_t size,
		    struct rv_put_opts *po) RV_WARN_UNUSED;
int rv_store_put_buf(struct rv_store *s, const char *key, const void *data, size_t len,
		     struct rv_put_opts *po) RV_WARN_UNUSED;
/* Get bytes [off, off+len) (len 0 = to the end) written to `fd`. */
int rv_store_get_fd(struct rv_store *s, const char *key, int fd, uint64_t off, uint64_t len,
		    struct rv_obj_info *info_out) RV_WARN_UNUSED;
/* Whole object into `out` (its cap bounds the size). */
int rv_store_get_buf(struct rv_store *s, const char *key, struct rv_buf *out,
		     struct rv_obj_info *info_out) RV_WARN_UNUSED;
int rv_store_head(struct rv_store *s, const char *key, struct rv_obj_info *out) RV_WARN_UNUSED;
/* One page (at most `max`, <= 1000; 0 = 1000) of keys under `prefix`, in
 * byte order.  `token` is NULL for the first page, then next_token. */
int rv_store_list_page(struct rv_store *s, const char *prefix, const char *token, unsigned max,
		       struct rv_list_page *out) RV_WARN_UNUSED;
/* Every key under `prefix`; `cb` returning non-zero stops with that value. */
typedef int (*rv_store_list_cb)(const struct rv_obj_info *info, void *ud);
int rv_store_list(struct rv_store *s, const char *prefix, rv_store_list_cb cb,
		  void *ud) RV_WARN_UNUSED;
/* The immediate "sub-folders" of `prefix` (S3's CommonPrefixes with
 * delimiter '/'): each distinct "<prefix>SEG/" that at least one key starts
 * with, once, in byte order, as the key of an otherwise zeroed info.  Keys
 * directly under `prefix` are not reported.  `prefix` is "" or normally
 * ends with '/'; with "a/b" the folders of "a/" starting with "b" come.
 * One request per 1000 entries instead of one per 1000 keys below. */
int rv_store_list_dirs(struct rv_store *s, const char *prefix, rv_store_list_cb cb,
		       void *ud) RV_WARN_UNUSED;
/* Every key under `prefix`, in byte order, as owned strings. */
struct rv_keylist {
	char **v;
	size_t n, cap;
};
int rv_store_list_keys(struct rv_store *s, const char *prefix,
		       struct rv_keylist *out) RV_WARN_UNUSED;
void rv_keylist_release(struct rv_keylist *kl);
/* Delete; deleting a missing key is not an error. */
int rv_store_delete(struct rv_store *s, const char *key) RV_WARN_UNUSED;
/* Delete `n` keys on up to `jobs` threads, in no particular order within
 * the call; stops at the first failure and returns it (some keys after it
 * may be gone, some before it may not). */
int rv_store_delete_many(struct rv_store *s, char *const *keys, size_t n,
			 unsigned jobs) RV_WARN_UNUSED;

/* Bytes made on demand for a put (store-internal: the encrypting layer
 * seals an object chunk by chunk in the thread that uploads it, with no
 * pipe and no helper thread).  read(2)-like: up to `n` bytes into `buf`,
 * the count (short counts are fine), 0 at the end, -1 on failure (the
 * source keeps its own error; the put then fails). */
struct rv_put_src {
	ssize_t (*read)(void *ud, void *buf, size_t n);
	void *ud;
};

/* Backend vtable (store-t internal, used by file.c, s3.c and the
 * encrypting layer crypt.c, which implements it over another store). */
struct rv_store_ops {
	const char *name;
	int (*put_fd)(struct rv_store *, const char *, int, uint64_t, struct rv_put_opts *);
	int (*put_buf)(struct rv_store *, const char *, const void *, size_t, struct rv_put_opts *);
	int (*get_fd)(struct rv_store *, const char *, int, uint64_t, uint64_t,
		      struct rv_obj_info *);
	int (*head)(struct rv_store *, const char *, struct rv_obj_info *);
	int (*list_page)(struct rv_store *, const char *, const char *, unsigned,
			 struct rv_list_page *);
	int (*del)(struct rv_store *, const char *);
	void (*free)(struct rv_store *);
	/* One page of rv_store_list_dirs: items hold "<prefix>SEG/" keys;
	 * next_token is opaque (NULL after the last page).  A page may be
	 * empty and still have a next_token (S3 counts plain keys too). */
	int (*list_dirs_page)(struct rv_store *, const char *, const char *, unsigned,
			      struct rv_list_page *);
	/* rv_store_probe; NULL: the capabilities are known at open. */
	int (*probe)(struct rv_store *);
	/* rv_store_name_key; NULL: a plain store. */
	int (*name_key)(struct rv_store *, const unsigned char **);
	/* Put `size` bytes (UINT64_MAX: until the source ends) from `src`,
	 * read in order on the calling thread; as put_fd with a pipe. */
	int (*put_src)(struct rv_store *, const char *, const struct rv_put_src *, uint64_t,
		       struct rv_put_opts *);
};

struct rv_store {
	const struct rv_store_ops *ops;
	struct rv_store_caps caps;
	struct rv_store_opts opts;
	struct rv_store_url url;
	char *describe;
	void *impl; /* backend state */
};

/* Backend constructors, called by rv_store_open. */
int rv_store_file_open(struct rv_store *s) RV_WARN_UNUSED;
int rv_store_s3_open(struct rv_store *s) RV_WARN_UNUSED;

/* S3 bucket bootstrap (revenant bucket init): create if missing with the
 * right LocationConstraint, enable versioning where the server supports it.
 * `*created` / `*versioned` say what happened; RV_ENOTSUP is never returned
 * for versioning: `*versioning_note` explains instead (static string). */
struct rv_bucket_init_result {
	bool created;
	bool versioning_enabled;
	const char *versioning_note;
};
int rv_s3_bucket_init(const struct rv_store_url *url, const struct rv_store_opts *opts,
		      struct rv_bucket_init_result *out) RV_WARN_UNUSED;
/* The same with S3 Object Lock (`bucket init --object-lock DAYS`): a new
 * bucket is created with Object Lock enabled, and the bucket gets a default
 * retention of `days` in `compliance` or governance mode
 * (PutObjectLockConfiguration, after versioning).  An existing bucket
 * without Object Lock is asked to turn it on (AWS allows it on a versioned
 * bucket); a server that refuses is RV_EUSAGE saying so, one without
 * Object Lock RV_ENOTSUP. */
struct rv_object_lock {
	unsigned days; /* 0: no Object Lock */
	bool compliance;
};
int rv_s3_bucket_init_lock(const struct rv_store_url *url, const struct rv_store_opts *opts,
			   const struct rv_object_lock *lock,
			   struct rv_bucket_init_result *out) RV_WARN_UNUSED;

#endif
