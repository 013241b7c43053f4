/* creds_src.h - the individual credential sources behind rv_creds_get()
 * (internal to src/aws; exposed for the unit tests).
 *
 * Each source fills `out` and returns 0; it returns 0 with
 * out->access_key_id == NULL when it is not configured here (so the chain
 * moves on), and a negative RV_E* with the message set when it is
 * configured but fails (so the chain stops, as the SDKs do). */
#ifndef RV_CREDS_SRC_H
#define RV_CREDS_SRC_H

#include <stdint.h>

#include "aws/creds.h"

/* The JSON both the container endpoint and IMDS answer with:
 * {AccessKeyId, SecretAccessKey, Token, Expiration[, Code, Message]}.
 * `what` names the endpoint in messages. */
int rv_creds_from_json(struct rv_aws_creds *out, const char *body, size_t len, const char *source,
		       const char *what) RV_WARN_UNUSED;

/* EKS Pod Identity / ECS: AWS_CONTAINER_CREDENTIALS_{RELATIVE,FULL}_URI. */
int rv_creds_container(struct rv_aws_creds *out) RV_WARN_UNUSED;
/* Whether a full URI may be used: https anywhere, http only to loopback,
 * 169.254.170.2, 169.254.170.23 or [fd00:ec2::23] (the SDKs' rule). */
int rv_creds_container_uri_allowed(const char *uri);

/* EC2 IMDSv2; not configured when AWS_EC2_METADATA_DISABLED=true, when the
 * endpoint does not answer, or when the instance has no role. */
int rv_creds_imds(struct rv_aws_creds *out) RV_WARN_UNUSED;

#endif
