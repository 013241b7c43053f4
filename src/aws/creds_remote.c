/* Credential sources reached over HTTP on the local link: the container
 * endpoint (EKS Pod Identity, ECS) and EC2 IMDSv2.  Both answer with the
 * same JSON shape. */
#include "aws/creds_src.h"
#include "core/http.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define REMOTE_MAX_ANSWER (64u << 10)
#define REMOTE_MAX_TOKEN  (16u << 10)

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int rv_creds_from_json(struct rv_aws_creds *out, const char *body, size_t len, const char *source,
		       const char *what)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *code, *id, *secret, *token, *exp;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(root)) {
		json_decref(root);
		return rv_error(RV_ECORRUPT, "%s answered with malformed JSON (line %d: %s)", what,
				jerr.line, root ? "not an object" : jerr.text);
	}
	code = jstr(root, "Code");
	if (code && strcmp(code, "Success")) {
		const char *msg = jstr(root, "Message");
		char m[200];
		snprintf(m, sizeof(m), "%s", msg ? msg : "");
		rc = rv_error(RV_EAUTH,
			      "%s answered Code '%.60s': %s — check the role attached "
			      "to this instance or task",
			      what, code, m);
		goto out;
	}
	id = jstr(root, "AccessKeyId");
	secret = jstr(root, "SecretAccessKey");
	token = jstr(root, "Token");
	exp = jstr(root, "Expiration");
	if (!id || !*id || !secret || !*secret) {
		rc = rv_error(RV_ECORRUPT, "%s answer lacks AccessKeyId or SecretAccessKey", what);
		goto out;
	}
	if (exp && rv_parse_iso8601_ms(exp, &out->expires_ms)) {
		rc =
		    rv_error(RV_ECORRUPT, "%s answer has an Expiration that is not ISO 8601", what);
		goto out;
	}
	out->access_key_id = rv_strdup(id);
	out->secret_access_key = rv_strdup(secret);
	out->session_token = token && *token ? rv_strdup(token) : NULL;
	out->source = source;
out:
	json_decref(root);
	return rc;
}

/* ---- container credentials ------------------------------------------- */

static int is_loopback_host(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char bare[64];
	size_t n = strlen(host);

	if (!strcasecmp(host, "localhost"))
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n > 2 && n < sizeof(bare) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(bare, host + 1, n - 2);
		bare[n - 2] = '\0';
		if (inet_pton(AF_INET6, bare, &a6) == 1)
			return IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return 0;
}

int rv_creds_container_uri_allowed(const char *uri)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int ok = 0;

	if (!u)
		return 0;
	if (curl_url_set(u, CURLUPART_URL, uri, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		if (!strcasecmp(scheme, "https"))
			ok = 1;
		else if (!strcasecmp(scheme, "http"))
			ok = is_loopback_host(host) || !strcmp(host, "169.254.170.2") ||
			     !strcmp(host, "169.254.170.23") || !strcasecmp(host, "[fd00:ec2::23]");
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

static int has_crlf(const char *s)
{
	return strchr(s, '\r') || strchr(s, '\n');
}

static int container_auth_header(char **out)
{
	const char *file = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tok = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char *text = NULL;
	size_t len;

	*out = NULL;
	if (file && *file) {
		/* Re-read every time: EKS Pod Identity rotates the token. */
		int rc = rv_read_file(file, REMOTE_MAX_TOKEN, &text, &len);
		if (rc)
			return rc;
		while (len &&
		       (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
			text[--len] = '\0';
		tok = text;
	}
	if (tok && *tok) {
		if (has_crlf(tok)) {
			free(text);
			return rv_error(RV_EUSAGE,
					"the container authorization token (%s) holds a "
					"line break; refusing to send it",
					file && *file ? file : "AWS_CONTAINER_AUTHORIZATION_TOKEN");
		}
		*out = rv_asprintf("Authorization: %s", tok);
	}
	free(text);
	return 0;
}

int rv_creds_container(struct rv_aws_creds *out)
{
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	char *url, *auth = NULL;
	const char *headers[3] = {"Accept: application/json", NULL, NULL};
	int rc;

	memset(out, 0, sizeof(*out));
	if (rel && *rel) {
		if (rel[0] != '/')
			return rv_error(RV_EUSAGE, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must "
						   "start with '/'");
		url = rv_asprintf("http://169.254.170.2%s", rel);
	} else if (full && *full) {
		if (!rv_creds_container_uri_allowed(full))
			return rv_error(RV_EUSAGE,
					"AWS_CONTAINER_CREDENTIALS_FULL_URI '%s' is not allowed: "
					"use https, or http to a loopback address, 169.254.170.2, "
					"169.254.170.23 or [fd00:ec2::23]",
					full);
		url = rv_strdup(full);
	} else {
		return 0;
	}
	rc = container_auth_header(&auth);
	if (rc) {
		free(url);
		return rc;
	}
	headers[1] = auth;
	for (int attempt = 1; attempt <= 3; attempt++) {
		struct rv_http_req hr = {
		    .method = "GET",
		    .url = url,
		    .headers = headers,
		    .connect_timeout_ms = 2000,
		    .timeout_ms = 5000,
		    .max_response = REMOTE_MAX_ANSWER,
		};
		struct rv_http_resp resp;
		int retry = 0;

		rc = rv_http_do(&hr, &resp);
		if (rc == RV_ENET) {
			retry = 1;
		} else if (rc) {
			/* oversized answer: already reported */
		} else if (resp.status == 200) {
			rc = rv_creds_from_json(out, rv_buf_str(&resp.body), resp.body.len,
						"container", "the container credentials endpoint");
		} else if (resp.status == 401 || resp.status == 403) {
			rc = rv_error(RV_EAUTH,
				      "container credentials endpoint %s refused the request (HTTP "
				      "%ld) — check AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE and the "
				      "pod identity association",
				      url, resp.status);
		} else if (resp.status >= 500 || resp.status == 429) {
			retry = 1;
			rc = rv_error(RV_ENET,
				      "container credentials endpoint %s answered HTTP %ld — the "
				      "agent is unavailable; retry later",
				      url, resp.status);
		} else {
			rc = rv_error(RV_EAUTH,
				      "container credentials endpoint %s answered HTTP %ld — check "
				      "AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI",
				      url, resp.status);
		}
		rv_http_resp_release(&resp);
		if (!rc || !retry)
			break;
		if (attempt < 3)
			rv_sleep_ms(100LL << attempt);
	}
	free(url);
	free(auth);
	return rc;
}

/* ---- EC2 IMDSv2 -------------------------------------------------------- */

static int imds_do(const char *method, const char *url, const char *const *headers,
		   struct rv_http_resp *resp)
{
	struct rv_http_req hr = {
	    .method = method,
	    .url = url,
	    .headers = headers,
	    /* A machine that is not on EC2 must fall through quickly. */
	    .connect_timeout_ms = 1000,
	    .timeout_ms = 3000,
	    .max_response = REMOTE_MAX_ANSWER,
	};
	return rv_http_do(&hr, resp);
}

static void trim_end(struct rv_buf *b)
{
	while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r' ||
			  b->data[b->len - 1] == ' '))
		b->data[--b->len] = '\0';
}

int rv_creds_imds(struct rv_aws_creds *out)
{
	static const char *const put_headers[] = {"x-aws-ec2-metadata-token-ttl-seconds: 21600",
						  NULL};
	const char *disabled = getenv("AWS_EC2_METADATA_DISABLED");
	const char *ep = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *headers[2] = {NULL, NULL};
	struct rv_http_resp resp = {0};
	char *base, *url = NULL, *tokhdr = NULL, *role = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (disabled && !strcasecmp(disabled, "true"))
		return 0;
	base = rv_strdup(ep && *ep ? ep : "http://169.254.169.254");
	for (size_t n = strlen(base); n && base[n - 1] == '/'; n--)
		base[n - 1] = '\0';

	url = rv_asprintf("%s/latest/api/token", base);
	rc = imds_do("PUT", url, put_headers, &resp);
	if (rc == RV_ENET) {
		rv_log(RV_LOG_DEBUG, "ec2 imds not reachable", "endpoint", base, "error",
		       rv_errmsg(), NULL);
		rc = 0; /* not on EC2: not configured */
		goto out;
	}
	if (rc)
		goto out;
	if (resp.status != 200) {
		rc = rv_error(RV_EAUTH,
			      "ec2 imds at %s refused a session token (PUT /latest/api/token: HTTP "
			      "%ld) — check the instance's metadata options (http-tokens, hop "
			      "limit), or set AWS_EC2_METADATA_DISABLED=true",
			      base, resp.status);
		goto out;
	}
	trim_end(&resp.body);
	if (!resp.body.len || has_crlf(rv_buf_str(&resp.body)) || resp.body.len > 4096) {
		rc = rv_error(RV_ECORRUPT, "ec2 imds at %s answered an unusable session token",
			      base);
		goto out;
	}
	tokhdr = rv_asprintf("x-aws-ec2-metadata-token: %s", rv_buf_str(&resp.body));
	headers[0] = tokhdr;
	rv_http_resp_release(&resp);

	free(url);
	url = rv_asprintf("%s/latest/meta-data/iam/security-credentials/", base);
	rc = imds_do("GET", url, headers, &resp);
	if (rc)
		goto out;
	if (resp.status == 404) {
		rc = rv_error(RV_EAUTH,
			      "ec2 imds at %s: this instance has no IAM role (HTTP 404 on "
			      "iam/security-credentials/) — attach an instance profile",
			      base);
		goto out;
	}
	if (resp.status != 200) {
		rc = rv_error(resp.status >= 500 ? RV_ENET : RV_EAUTH,
			      "ec2 imds at %s: listing the instance role failed (HTTP %ld)", base,
			      resp.status);
		goto out;
	}
	{
		const char *s = rv_buf_str(&resp.body);
		size_t n = strcspn(s, "\r\n");
		role = rv_strndup(s, n);
	}
	if (!*role || strchr(role, '/') || strchr(role, ' ') || strchr(role, '?')) {
		rc = rv_error(RV_ECORRUPT, "ec2 imds at %s answered an unusable role name", base);
		goto out;
	}
	rv_http_resp_release(&resp);

	free(url);
	url = rv_asprintf("%s/latest/meta-data/iam/security-credentials/%s", base, role);
	rc = imds_do("GET", url, headers, &resp);
	if (rc)
		goto out;
	if (resp.status != 200) {
		rc = rv_error(resp.status >= 500 ? RV_ENET : RV_EAUTH,
			      "ec2 imds at %s: credentials of role '%s' not available (HTTP %ld)",
			      base, role, resp.status);
		goto out;
	}
	rc = rv_creds_from_json(out, rv_buf_str(&resp.body), resp.body.len, "imds", "ec2 imds");
out:
	rv_http_resp_release(&resp);
	free(base);
	free(url);
	free(tokhdr);
	free(role);
	return rc;
}
