#include "aws/sts.h"
#include "aws/creds_src.h"
#include "core/http.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STS_ATTEMPTS	4
#define STS_MAX_ANSWER	(256u << 10)
#define STS_MAX_TOKEN	(64u << 10)
#define STS_MAX_MESSAGE 300

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init_once(void)
{
	/* libxml2 wants its globals set up before threads parse concurrently. */
	xmlInitParser();
}

/* The first element child of `n` with local name `name` (namespaces are
 * ignored: STS puts everything in its 2011-06-15 namespace). */
static xmlNode *child(xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name))
			return c;
	return NULL;
}

/* Text of `n` as a fresh string, or NULL when the element is absent. */
static char *text_of(xmlNode *n)
{
	xmlChar *t;
	char *s;

	if (!n)
		return NULL;
	t = xmlNodeGetContent(n);
	s = rv_strdup(t ? (const char *)t : "");
	xmlFree(t);
	return s;
}

static int is_retryable_code(const char *code)
{
	static const char *const codes[] = {
	    "Throttling",	    "ThrottlingException",
	    "RequestLimitExceeded", "IDPCommunicationError",
	    "ServiceUnavailable",   "InternalFailure",
	    "RequestThrottled",	    NULL,
	};
	for (int i = 0; codes[i]; i++)
		if (code && !strcmp(code, codes[i]))
			return 1;
	return 0;
}

/* A message from the server is shown to the user; make sure it cannot carry
 * the token (STS does not echo it, but a proxy or fake might). */
static void scrub(char *msg, const char *token)
{
	size_t n;

	if (!msg)
		return;
	if (token && *token && strstr(msg, token)) {
		snprintf(msg, strlen(msg) + 1, "%s", "(message withheld: it quoted the token)");
		return;
	}
	n = strlen(msg);
	if (n > STS_MAX_MESSAGE)
		memcpy(msg + STS_MAX_MESSAGE - 3, "...", 4);
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
}

static int error_answer(long status, xmlNode *root, const char *role_arn, const char *token,
			int *retry)
{
	xmlNode *err = root ? child(root, "Error") : NULL;
	char *code = text_of(child(err, "Code"));
	char *msg = text_of(child(err, "Message"));
	int rc;

	scrub(code, token);
	scrub(msg, token);
	if (status >= 500 || status == 429 || is_retryable_code(code)) {
		*retry = 1;
		rc = rv_error(RV_ENET,
			      "sts AssumeRoleWithWebIdentity for role '%s': HTTP %ld %s%s%s — "
			      "STS is throttling or unavailable; retry later",
			      role_arn, status, code ? code : "(no error code)", msg ? ": " : "",
			      msg ? msg : "");
	} else if (code && (!strcmp(code, "InvalidIdentityToken") ||
			    !strcmp(code, "ExpiredTokenException"))) {
		rc = rv_error(RV_EAUTH,
			      "sts refused the web identity token for role '%s': %s: %s — check "
			      "the service account token file and the role's OIDC trust policy",
			      role_arn, code, msg ? msg : "");
	} else if (code && !strcmp(code, "AccessDenied")) {
		rc = rv_error(RV_EAUTH,
			      "sts denied AssumeRoleWithWebIdentity for role '%s': %s — check the "
			      "role's trust policy (sts:AssumeRoleWithWebIdentity for this service "
			      "account)",
			      role_arn, msg ? msg : "AccessDenied");
	} else if (!code) {
		rc = rv_error(RV_EAUTH,
			      "sts AssumeRoleWithWebIdentity for role '%s': HTTP %ld with no "
			      "parsable error — check AWS_ENDPOINT_URL_STS / AWS_REGION",
			      role_arn, status);
	} else {
		rc = rv_error(RV_EAUTH, "sts AssumeRoleWithWebIdentity for role '%s': %s: %s",
			      role_arn, code, msg ? msg : "");
	}
	free(code);
	free(msg);
	return rc;
}

int rv_sts_parse_answer(long status, const char *body, size_t len, const char *role_arn,
			const char *token, struct rv_aws_creds *out, int *retry)
{
	xmlDoc *doc = NULL;
	xmlNode *root, *c;
	int rc = 0;

	pthread_once(&xml_once, xml_init_once);
	memset(out, 0, sizeof(*out));
	*retry = 0;
	if (len > 0 && len < (size_t)1 << 30)
		doc = xmlReadMemory(body, (int)len, "sts.xml", NULL,
				    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (status != 200) {
		if (!root && status >= 500)
			*retry = 1;
		rc = error_answer(status, root, role_arn, token, retry);
		goto done;
	}
	if (!root || strcmp((const char *)root->name, "AssumeRoleWithWebIdentityResponse")) {
		rc =
		    rv_error(RV_ECORRUPT,
			     "sts AssumeRoleWithWebIdentity for role '%s': HTTP 200 but the answer "
			     "is not an AssumeRoleWithWebIdentityResponse document — check "
			     "AWS_ENDPOINT_URL_STS",
			     role_arn);
		goto done;
	}
	c = child(child(root, "AssumeRoleWithWebIdentityResult"), "Credentials");
	out->access_key_id = text_of(child(c, "AccessKeyId"));
	out->secret_access_key = text_of(child(c, "SecretAccessKey"));
	out->session_token = text_of(child(c, "SessionToken"));
	{
		char *exp = text_of(child(c, "Expiration"));
		if (!out->access_key_id || !*out->access_key_id || !out->secret_access_key ||
		    !*out->secret_access_key || !out->session_token || !exp ||
		    rv_parse_iso8601_ms(exp, &out->expires_ms)) {
			rc = rv_error(RV_ECORRUPT,
				      "sts AssumeRoleWithWebIdentity for role '%s': answer lacks "
				      "AccessKeyId, SecretAccessKey, SessionToken or a valid "
				      "Expiration",
				      role_arn);
		}
		free(exp);
	}
	out->source = "web-identity";
done:
	if (rc)
		rv_aws_creds_release(out);
	xmlFreeDoc(doc);
	return rc;
}

/* application/x-www-form-urlencoded value: unreserved characters as they
 * are, everything else %XX (a space too, which is unambiguous). */
static int form_add(struct rv_buf *b, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = rv_buf_addf(b, "%s%s=", b->len ? "&" : "", name);

	for (const unsigned char *p = (const unsigned char *)value; !rc && *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			rc = rv_buf_add(b, p, 1);
		} else {
			char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			rc = rv_buf_add(b, enc, 3);
		}
	}
	return rc;
}

char *rv_sts_endpoint(const struct rv_sts_web_identity *req)
{
	const char *e = req->endpoint;
	const char *region = req->region && *req->region ? req->region : "us-east-1";

	if (!e || !*e)
		e = getenv("AWS_ENDPOINT_URL_STS");
	if (!e || !*e)
		e = getenv("AWS_ENDPOINT_URL");
	if (e && *e) {
		/* The action goes in the body; the path is "/" unless the override has one. */
		const char *scheme = strstr(e, "://");
		if (scheme && !strchr(scheme + 3, '/'))
			return rv_asprintf("%s/", e);
		return rv_strdup(e);
	}
	return rv_asprintf("https://sts.%s.amazonaws.com%s/", region,
			   rv_str_startswith(region, "cn-") ? ".cn" : "");
}

static int read_token(const char *path, const char *role_arn, char **out)
{
	char why[512];
	size_t len;
	int rc = rv_read_file(path, STS_MAX_TOKEN, out, &len);

	if (rc) {
		snprintf(why, sizeof(why), "%s", rv_errmsg());
		return rv_error(RV_EAUTH,
				"cannot read the web identity token for role '%s': %s — check "
				"AWS_WEB_IDENTITY_TOKEN_FILE",
				role_arn, why);
	}
	while (len && ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r' ||
		       (*out)[len - 1] == ' ' || (*out)[len - 1] == '\t'))
		(*out)[--len] = '\0';
	if (!len) {
		free(*out);
		*out = NULL;
		return rv_error(RV_EAUTH, "web identity token file '%s' for role '%s' is empty",
				path, role_arn);
	}
	return 0;
}

int rv_sts_assume_role_with_web_identity(const struct rv_sts_web_identity *req,
					 struct rv_aws_creds *out)
{
	static const char *const headers[] = {
	    "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
	    "Accept: text/xml",
	    NULL,
	};
	struct rv_buf form = RV_BUF_INIT(STS_MAX_TOKEN * 4);
	char *token = NULL, *url = NULL, *session = NULL;
	int rc, retry = 0;

	memset(out, 0, sizeof(*out));
	rc = read_token(req->token_file, req->role_arn, &token);
	if (rc)
		return rc;
	session = req->session_name && *req->session_name
		      ? rv_strdup(req->session_name)
		      : rv_asprintf("revenant-%lld", (long long)(rv_now_ms() / 1000));
	rc = form_add(&form, "Action", "AssumeRoleWithWebIdentity");
	rc = rc ? rc : form_add(&form, "Version", "2011-06-15");
	rc = rc ? rc : form_add(&form, "RoleArn", req->role_arn);
	rc = rc ? rc : form_add(&form, "RoleSessionName", session);
	rc = rc ? rc : form_add(&form, "WebIdentityToken", token);
	if (rc) {
		rc = rv_error(RV_EUSAGE, "web identity request for role '%s' is too large",
			      req->role_arn);
		goto out;
	}
	url = rv_sts_endpoint(req);
	for (int attempt = 1; attempt <= STS_ATTEMPTS; attempt++) {
		struct rv_http_req hr = {
		    .method = "POST",
		    .url = url,
		    .headers = headers,
		    .body = form.data,
		    .body_len = form.len,
		    .connect_timeout_ms = 3000,
		    .timeout_ms = 15000,
		    .max_response = STS_MAX_ANSWER,
		};
		struct rv_http_resp resp;

		rc = rv_http_do(&hr, &resp);
		if (rc == RV_ENET) {
			char why[512];
			snprintf(why, sizeof(why), "%s", rv_errmsg());
			retry = 1;
			rc = rv_error(RV_ENET,
				      "sts AssumeRoleWithWebIdentity for role '%s': %s — check "
				      "network access to STS (or AWS_ENDPOINT_URL_STS)",
				      req->role_arn, why);
		} else if (!rc) {
			rc = rv_sts_parse_answer(resp.status, rv_buf_str(&resp.body), resp.body.len,
						 req->role_arn, token, out, &retry);
		} else {
			retry = 0;
		}
		rv_http_resp_release(&resp);
		if (!rc || !retry)
			break;
		if (attempt < STS_ATTEMPTS) {
			/* Jittered exponential backoff: 200 ms, 400 ms, 800 ms (+0-25%). */
			int64_t delay = 200LL << (attempt - 1);
			delay += (int64_t)(rv_mono_ms() % (delay / 4 + 1));
			rv_log(RV_LOG_DEBUG, "sts retry", "role", req->role_arn, "error",
			       rv_errmsg(), NULL);
			rv_sleep_ms(delay);
		}
	}
out:
	free(token);
	free(url);
	free(session);
	rv_buf_release(&form);
	return rc;
}
