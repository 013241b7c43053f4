/* s3_int.h - the S3 backend's internal pieces shared between s3.c (the
 * request engine and object operations), s3_bucket.c (bucket init) and
 * s3_xml.c (response parsing, request bodies, error mapping).  The XML and
 * mapping functions are pure so that unit tests drive them with recorded
 * answers and no server. */
#ifndef RV_S3_INT_H
#define RV_S3_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Largest answer body parsed as XML (list pages are ~300 KiB at most). */
#define RV_S3_MAX_XML (8u << 20)
/* Largest error body kept. */
#define RV_S3_MAX_ERRBODY (64u << 10)

struct rv_s3_error {
	char code[64];
	char message[256];
	char region[32]; /* <Region> of a redirect / AuthorizationHeaderMalformed */
};

/* Parse <Error><Code/><Message/></Error>; 0 when one was found, RV_ENOTFOUND
 * when the body is not an S3 error (the fields are then empty). */
int rv_s3_parse_error(const char *body, size_t len, struct rv_s3_error *out);

enum rv_s3_verdict {
	RV_S3_FAIL,	     /* permanent: map it and stop */
	RV_S3_RETRY,	     /* transient: back off and try again */
	RV_S3_REFRESH_CREDS, /* drop cached credentials and try once more */
};
enum rv_s3_verdict rv_s3_classify(long status, const char *code);

/* What the failing request was, for the message. */
struct rv_s3_ctx {
	const char *op;	 /* "put", "get", "head", "list", "delete", ... */
	const char *key; /* relative key (or list prefix); NULL for bucket ops */
	const char *bucket;
	const char *prefix; /* store prefix, "" or "a/" */
	const char *region;
	const char *endpoint; /* NULL for AWS */
};
/* Set the one-line message for a failed answer and return its RV_E* code. */
int rv_s3_error_map(const struct rv_s3_ctx *c, long status, const struct rv_s3_error *e);
/* The IAM action an operation needs ("s3:PutObject"). */
const char *rv_s3_permission(const char *op);

/* ListObjectsV2 answer -> page; keys not under `strip` are skipped, the rest
 * are returned with `strip` removed. */
int rv_s3_parse_list(const char *body, size_t len, const char *strip, struct rv_list_page *out);
/* The same with delimiter=/: the <CommonPrefixes> under `strip`, relative
 * to it, as keys ("a/b/"); plain keys (<Contents>) are ignored. */
int rv_s3_parse_list_dirs(const char *body, size_t len, const char *strip,
			  struct rv_list_page *out);
/* InitiateMultipartUploadResult/UploadId (owned). */
int rv_s3_parse_upload_id(const char *body, size_t len, char **out);
/* CompleteMultipartUploadResult/ETag into etag (may be empty); an <Error>
 * body (S3 answers 200 then fails) gives RV_ECORRUPT with *err filled. */
int rv_s3_parse_complete(const char *body, size_t len, char *etag, size_t etag_len,
			 struct rv_s3_error *err);
/* VersioningConfiguration/Status ("" when never enabled). */
int rv_s3_parse_versioning(const char *body, size_t len, char *status, size_t status_len);

/* Request bodies (owned strings). */
char *rv_s3_create_bucket_body(const char *region); /* NULL for us-east-1 */
char *rv_s3_complete_body(char *const *etags, unsigned nparts);
char *rv_s3_versioning_body(bool enabled);

/* "Wed, 12 Oct 2009 17:50:00 GMT" -> Unix ms. */
int rv_s3_parse_http_date(const char *s, int64_t *out_ms);

/* A bucket-level request (bucket init) through the backend's signing and
 * retry engine.  0 on 2xx; otherwise the mapped error, with *status and
 * *err saying what the server answered so the caller may override it. */
int rv_s3_bucket_call(struct rv_store *s, const char *op, const char *method, const char *query,
		      const char *body, struct rv_buf *resp, long *status,
		      struct rv_s3_error *err) RV_WARN_UNUSED;

/* rv_s3_bucket_call with one more signed x-amz-* header (name, value). */
int rv_s3_bucket_call_hdr(struct rv_store *s, const char *op, const char *method, const char *query,
			  const char *body, const char *hdr_name, const char *hdr_value,
			  struct rv_buf *resp, long *status,
			  struct rv_s3_error *err) RV_WARN_UNUSED;
/* <ObjectLockConfiguration> with a default retention (owned string). */
char *rv_s3_object_lock_body(unsigned days, bool compliance);

/* Region to use: explicit, URL, AWS_REGION, AWS_DEFAULT_REGION, us-east-1. */
const char *rv_s3_pick_region(const char *opt, const char *url_region);

/* ---- the versioned view (s3_versions.c) ---------------------------------- */

/* One entry of a ListObjectVersions answer: a <Version> or a
 * <DeleteMarker>, in the answer's order (keys ascending, each key's
 * versions newest first). */
struct rv_s3_version {
	char *key;	  /* relative to the strip prefix; owned */
	char *version_id; /* owned */
	bool delete_marker;
	bool is_latest;
	uint64_t size;
	int64_t mtime_ms;
	char etag[80];
};
struct rv_s3_version_page {
	struct rv_s3_version *v;
	size_t n;
	struct rv_list_page dirs; /* <CommonPrefixes> (with a delimiter) */
	bool truncated;
	char *next_key_marker; /* full keys, as the server gave them */
	char *next_vid_marker;
};
/* ListVersionsResult -> page; entries not under `strip` are skipped, the
 * rest are returned with `strip` removed. */
int rv_s3_parse_versions(const char *body, size_t len, const char *strip,
			 struct rv_s3_version_page *out) RV_WARN_UNUSED;
void rv_s3_version_page_release(struct rv_s3_version_page *p);

/* True when `s` is the plain S3 backend. */
bool rv_s3_is(const struct rv_store *s);
/* GetObject / HeadObject of one version (versionId); as the ops do. */
int rv_s3_get_version(struct rv_store *s, const char *key, const char *version_id, int fd,
		      uint64_t off, uint64_t len, struct rv_obj_info *info_out) RV_WARN_UNUSED;
int rv_s3_head_version(struct rv_store *s, const char *key, const char *version_id,
		       struct rv_obj_info *out) RV_WARN_UNUSED;
/* One ListObjectVersions request (GET ?versions) for the keys under
 * `prefix` (relative to the store's), from the full-key markers; the raw
 * answer in `body` (parse with rv_s3_parse_versions). */
int rv_s3_list_versions(struct rv_store *s, const char *prefix, const char *key_marker,
			const char *vid_marker, bool dirs, unsigned max,
			struct rv_buf *body) RV_WARN_UNUSED;

#endif
