/* sts.h - STS AssumeRoleWithWebIdentity (EKS IRSA), an unsigned POST whose
 * proof is the OIDC token Kubernetes writes to a file. */
#ifndef RV_STS_H
#define RV_STS_H

#include "aws/creds.h"

struct rv_sts_web_identity {
	const char *role_arn;
	const char *token_file;	  /* re-read on every call: Kubernetes rotates it */
	const char *session_name; /* NULL: "revenant-<unix time>" */
	const char *region;	  /* NULL: us-east-1 */
	const char *endpoint;	  /* NULL: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, or
				     https://sts.<region>.amazonaws.com/ */
};

/* RV_EAUTH when STS refuses (InvalidIdentityToken, ExpiredTokenException,
 * AccessDenied, ...), RV_ENET when it stays unreachable or throttled after a
 * few retries, RV_ECORRUPT on an answer that does not parse.  Messages name
 * the role ARN, never the token. */
int rv_sts_assume_role_with_web_identity(const struct rv_sts_web_identity *req,
					 struct rv_aws_creds *out) RV_WARN_UNUSED;

/* The URL the request goes to (exposed for tests); free() it. */
char *rv_sts_endpoint(const struct rv_sts_web_identity *req);

/* Interpret one STS answer (exposed for tests).  *retry is set when the
 * failure is worth another attempt (throttling, 5xx). */
int rv_sts_parse_answer(long status, const char *body, size_t len, const char *role_arn,
			const char *token, struct rv_aws_creds *out, int *retry) RV_WARN_UNUSED;

#endif
