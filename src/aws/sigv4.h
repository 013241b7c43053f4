/* sigv4.h - AWS Signature Version 4, header form.
 *
 * Signs one request: builds the canonical request, the string to sign and
 * the signature, and returns the headers to add (Authorization, X-Amz-Date,
 * X-Amz-Security-Token, and for S3 x-amz-content-sha256).  Passes the AWS
 * signing test suite (tests/vectors/aws-sigv4/) and agrees with botocore. */
#ifndef RV_SIGV4_H
#define RV_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"

struct rv_aws_key {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL or "" when none */
};

struct rv_header {
	const char *name;
	const char *value;
};

struct rv_sigv4_req {
	const char *method;
	const char *path;		 /* as on the wire (already URI-encoded for S3) */
	const char *query;		 /* raw query string without '?', or NULL */
	const struct rv_header *headers; /* must include Host */
	size_t nheaders;
	/* Hex SHA-256 of the payload, or "UNSIGNED-PAYLOAD"; NULL = hash body. */
	const char *payload_hash;
	const void *body;
	size_t body_len;
};

struct rv_sigv4_params {
	const char *region;
	const char *service;
	time_t when;	     /* request time (UTC seconds) */
	bool s3;	     /* S3 rules: no path normalisation or double-encoding,
				always sign x-amz-content-sha256 */
	bool normalize_path; /* non-S3: RFC 3986 remove_dot_segments */
	/* Non-S3: also send and sign x-amz-content-sha256 (s3 implies it). */
	bool sign_content_sha256;
	/* Send X-Amz-Security-Token but leave it out of the signature, for the
	 * few services that want the token added after signing. */
	bool omit_session_token;
};

/* Rules, beyond the published algorithm:
 * - Host must be among req->headers; Authorization, X-Amz-Date,
 *   X-Amz-Security-Token and x-amz-content-sha256 must not be (the signer
 *   adds them).  User-Agent, Expect and X-Amzn-Trace-Id are sent unsigned,
 *   as botocore does, because clients and proxies rewrite them.
 * - Non-S3 paths are URI-encoded once more (after normalisation when
 *   asked); S3 paths are signed exactly as given.
 * - Query names and values are percent-decoded, then AWS-encoded, so both
 *   raw and already-encoded queries sign correctly.
 * - Header values lose leading/trailing blanks and runs of blanks become one
 *   space; values with CR, LF or other control characters are refused.
 * - Lengths are capped (path/query/header value 16 KiB, 128 headers);
 *   RV_EUSAGE past them.  Messages never include the secret or token. */

/* Output; all strings owned (rv_sigv4_out_release). */
struct rv_sigv4_out {
	char *authorization;	 /* value of the Authorization header */
	char *amz_date;		 /* value of X-Amz-Date: 20150830T123600Z */
	char *content_sha256;	 /* value of x-amz-content-sha256 (s3) or NULL */
	char *canonical_request; /* holds the session token: never log it */
	char *string_to_sign;
	char signature[65];
};

int rv_sigv4_sign(struct rv_sigv4_out *out, const struct rv_sigv4_req *req,
		  const struct rv_sigv4_params *p, const struct rv_aws_key *key) RV_WARN_UNUSED;
void rv_sigv4_out_release(struct rv_sigv4_out *o);

/* AWS URI encoding (RFC 3986 unreserved kept); '/' kept when keep_slash. */
int rv_aws_uri_encode(struct rv_buf *out, const char *s, size_t n, bool keep_slash) RV_WARN_UNUSED;

#endif
