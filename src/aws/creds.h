/* creds.h - where AWS credentials come from, in the SDKs' order:
 *
 *   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *   2. shared files: ~/.aws/credentials, ~/.aws/config (AWS_PROFILE,
 *      AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE)
 *   3. web identity (EKS IRSA): AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE ->
 *      STS AssumeRoleWithWebIdentity (AWS_ENDPOINT_URL_STS overrides the host)
 *   4. container (EKS Pod Identity, ECS): AWS_CONTAINER_CREDENTIALS_FULL_URI /
 *      _RELATIVE_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)
 *   5. EC2 IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT overrides the host,
 *      AWS_EC2_METADATA_DISABLED=true skips it)
 *
 * Static keys from revenant's config come before all of these.  A profile in
 * ~/.aws/config may also name role_arn + web_identity_token_file.  A source
 * that is configured but fails stops the chain with its own error (as in the
 * SDKs); one that is not configured is skipped.  The source that answered
 * first is kept for later refreshes.
 *
 * Temporary credentials are refreshed before they expire (refresh_margin),
 * under a lock, while other threads keep using the still-valid ones.  A
 * failed refresh keeps the old keys until they expire and is retried after
 * a pause (1-60 s), with one warning per failure streak. */
#ifndef RV_CREDS_H
#define RV_CREDS_H

#include <stdint.h>

#include "core/err.h"

struct rv_aws_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token; /* NULL when none */
	int64_t expires_ms;  /* Unix ms; 0 = does not expire */
	const char *source;  /* "environment", "shared-file", "web-identity",
				"container", "imds", "static" */
};
void rv_aws_creds_release(struct rv_aws_creds *c);
int rv_aws_creds_copy(struct rv_aws_creds *dst, const struct rv_aws_creds *src);

struct rv_creds_config {
	const char *profile;	   /* NULL: AWS_PROFILE or "default" */
	const char *region;	   /* for the STS endpoint; NULL: AWS_REGION or us-east-1 */
	const char *access_key_id; /* static keys from revenant's config, or NULL */
	const char *secret_access_key;
	const char *session_token;
	int64_t refresh_margin_ms; /* default 5 minutes */
};

struct rv_creds_provider;

/* The chain above (or static keys when the config gives them).  Resolution
 * is lazy: the first rv_creds_get() finds the source. */
int rv_creds_provider_new(struct rv_creds_provider **out,
			  const struct rv_creds_config *cfg) RV_WARN_UNUSED;
void rv_creds_provider_free(struct rv_creds_provider *p);
/* A copy of current credentials (refreshing them when due); thread-safe.
 * RV_EAUTH with a message naming every source tried when none has any. */
int rv_creds_get(struct rv_creds_provider *p, struct rv_aws_creds *out) RV_WARN_UNUSED;
/* Forget cached credentials (after a 403 ExpiredToken, say). */
void rv_creds_invalidate(struct rv_creds_provider *p);

#endif
