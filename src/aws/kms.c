/* kms.c - GenerateDataKey and Decrypt (see kms.h). */
#include "aws/kms.h"
#include "aws/creds.h"
#include "aws/sigv4.h"
#include "core/http.h"
#include "core/mem.h"
#include "core/retry.h"
#include "core/util.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KMS_MAX_ANSWER (64u << 10)
#define KMS_BLOB_MAX   6144 /* KMS ciphertext blobs are at most 6144 bytes */

struct rv_kms {
	struct rv_creds_provider *creds;
	char *region;
	char *url;  /* https://kms.<region>.amazonaws.com or the override, no '/' */
	char *host; /* its host[:port], signed */
};

/* The context both calls bind the data key to (KMS refuses a Decrypt
 * without the same context): a wrapped key of revenant's cannot be
 * unwrapped by a call that does not say what it is for. */
static json_t *context(void)
{
	return json_pack("{s:s}", "revenant", "store-data-key");
}

int rv_kms_new(struct rv_kms **out, const struct rv_creds_config *cc, const char *region)
{
	struct rv_kms *k = rv_calloc(1, sizeof(*k));
	const char *ep = getenv("AWS_ENDPOINT_URL_KMS");
	const char *h;
	int rc;

	*out = NULL;
	if (!region || !*region)
		region = getenv("AWS_REGION");
	if (!region || !*region)
		region = getenv("AWS_DEFAULT_REGION");
	if (!region || !*region) {
		free(k);
		return rv_error(RV_EUSAGE, "KMS needs a region: set store.s3.region or AWS_REGION");
	}
	k->region = rv_strdup(region);
	if (ep && *ep) {
		if (!rv_str_startswith(ep, "http://") && !rv_str_startswith(ep, "https://")) {
			rv_kms_free(k);
			return rv_error(
			    RV_EUSAGE,
			    "AWS_ENDPOINT_URL_KMS '%s' must start with http:// or https://", ep);
		}
		k->url = rv_strdup(ep);
		while (rv_str_endswith(k->url, "/"))
			k->url[strlen(k->url) - 1] = '\0';
	} else {
		k->url = rv_asprintf("https://kms.%s.amazonaws.com", region);
	}
	h = strstr(k->url, "://") + 3;
	k->host = rv_strndup(h, strcspn(h, "/"));
	rc = rv_creds_provider_new(&k->creds, cc);
	if (rc) {
		rv_kms_free(k);
		return rc;
	}
	*out = k;
	return 0;
}

void rv_kms_free(struct rv_kms *k)
{
	if (!k)
		return;
	rv_creds_provider_free(k->creds);
	free(k->region);
	free(k->url);
	free(k->host);
	free(k);
}

/* KMS's error answer as one line. */
static int kms_error(const char *op, const char *key_id, long status, const struct rv_buf *b)
{
	json_t *o = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
	const char *type = json_string_value(json_object_get(o, "__type"));
	const char *msg = json_string_value(json_object_get(o, "message"));
	char t[128];
	int rc;

	if (!msg)
		msg = json_string_value(json_object_get(o, "Message"));
	snprintf(t, sizeof(t), "%s",
		 type ? (strchr(type, '#') ? strchr(type, '#') + 1 : type) : "(no error type)");
	if (!msg)
		msg = "";
	if (!strcmp(t, "NotFoundException"))
		rc =
		    rv_error(RV_ENOTFOUND, "kms %s: key '%s' does not exist (%s)", op, key_id, msg);
	else if (!strcmp(t, "AccessDeniedException") || !strcmp(t, "InvalidCiphertextException") ||
		 !strcmp(t, "DisabledException") || !strcmp(t, "KMSInvalidStateException") ||
		 !strcmp(t, "IncorrectKeyException") || !strcmp(t, "UnrecognizedClientException") ||
		 !strcmp(t, "InvalidSignatureException") || status == 403)
		rc =
		    rv_error(RV_EAUTH,
			     "kms %s with key '%s': %s%s%s — check the role's kms:%s permission on "
			     "that key and that the key is enabled",
			     op, key_id, t, *msg ? ": " : "", msg, op);
	else
		rc = rv_error(RV_EFAIL, "kms %s with key '%s': HTTP %ld %s%s%s", op, key_id, status,
			      t, *msg ? ": " : "", msg);
	json_decref(o);
	return rc;
}

/* One signed attempt: the answer's status and body in `resp`. */
static int attempt(struct rv_kms *k, const char *target, const char *body,
		   struct rv_http_resp *resp)
{
	struct rv_aws_creds cr = {0};
	struct rv_sigv4_out sig = {0};
	struct rv_header h[3] = {{"Host", k->host},
				 {"Content-Type", "application/x-amz-json-1.1"},
				 {"X-Amz-Target", target}};
	struct rv_sigv4_req sr = {.method = "POST",
				  .path = "/",
				  .headers = h,
				  .nheaders = 3,
				  .body = body,
				  .body_len = strlen(body)};
	struct rv_sigv4_params sp = {.region = k->region, .service = "kms", .when = time(NULL)};
	char *lines[7] = {NULL}, *url;
	size_t nl = 0;
	int rc;

	if ((rc = rv_creds_get(k->creds, &cr)))
		return rc;
	{
		struct rv_aws_key key = {cr.access_key_id, cr.secret_access_key, cr.session_token};

		rc = rv_sigv4_sign(&sig, &sr, &sp, &key);
	}
	if (!rc) {
		struct rv_http_req req = {.method = "POST",
					  .headers = (const char *const *)lines,
					  .body = body,
					  .body_len = strlen(body),
					  .max_response = KMS_MAX_ANSWER};

		lines[nl++] = rv_asprintf("Content-Type: application/x-amz-json-1.1");
		lines[nl++] = rv_asprintf("X-Amz-Target: %s", target);
		lines[nl++] = rv_asprintf("X-Amz-Date: %s", sig.amz_date);
		lines[nl++] = rv_asprintf("Authorization: %s", sig.authorization);
		if (cr.session_token && *cr.session_token)
			lines[nl++] = rv_asprintf("X-Amz-Security-Token: %s", cr.session_token);
		req.url = url = rv_asprintf("%s/", k->url);
		rc = rv_http_do(&req, resp);
		free(url);
		for (size_t i = 0; i < nl; i++)
			free(lines[i]);
	}
	rv_sigv4_out_release(&sig);
	rv_aws_creds_release(&cr);
	return rc;
}

/* One signed JSON call with retries on 5xx, throttling and the network. */
static int call(struct rv_kms *k, const char *op, const char *key_id, json_t *in, json_t **out)
{
	struct rv_retry_policy pol = {
	    .max_attempts = 4, .base_ms = 100, .cap_ms = 2000, .deadline_ms = 30000};
	char *body = json_dumps(in, JSON_COMPACT);
	char *target = rv_asprintf("TrentService.%s", op);
	struct rv_retry rt;
	int rc;

	*out = NULL;
	if (!body) {
		free(target);
		return rv_error(RV_EFAIL, "kms %s: cannot encode the request", op);
	}
	rv_retry_start(&rt, &pol);
	for (;;) {
		struct rv_http_resp resp = {0};
		bool again = false;

		rc = attempt(k, target, body, &resp);
		if (rc == RV_ENET) {
			again = true;
		} else if (!rc && resp.status == 200) {
			*out = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0,
					  NULL);
			if (!json_is_object(*out))
				rc = rv_error(RV_ECORRUPT,
					      "kms %s: the answer is not a json object", op);
		} else if (!rc) {
			again = resp.status >= 500 || strstr(rv_buf_str(&resp.body), "Throttling");
			rc = kms_error(op, key_id, resp.status, &resp.body);
		}
		if (resp.body.data)
			OPENSSL_cleanse(resp.body.data, resp.body.len);
		rv_http_resp_release(&resp);
		if (!rc || !again || !rv_retry_next(&rt))
			break;
	}
	free(body);
	free(target);
	if (rc) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

/* base64 -> bytes, at most `max`; -1 when malformed. */
static long unbase64(const char *in, unsigned char *out, size_t max)
{
	size_t n = strlen(in);
	unsigned char *tmp;
	int len;

	if (!n || n % 4 || n / 4 * 3 > max + 2)
		return -1;
	tmp = rv_malloc(n / 4 * 3 + 1);
	len = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
	if (len >= 0) {
		len -= (in[n - 1] == '=') + (in[n - 2] == '=');
		if ((size_t)len > max)
			len = -1;
		else
			memcpy(out, tmp, (size_t)len);
	}
	OPENSSL_cleanse(tmp, n / 4 * 3 + 1);
	free(tmp);
	return len;
}

static char *base64(const void *in, size_t n)
{
	char *out = rv_malloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return out;
}

static int take_plain(json_t *o, const char *op, unsigned char plain[32])
{
	const char *p = json_string_value(json_object_get(o, "Plaintext"));

	if (!p || unbase64(p, plain, 32) != 32)
		return rv_error(RV_ECORRUPT, "kms %s: no 32-byte Plaintext in the answer", op);
	return 0;
}

int rv_kms_generate(struct rv_kms *k, const char *key_id, unsigned char plain[32],
		    struct rv_buf *blob)
{
	json_t *in = json_pack("{s:s, s:s, s:o}", "KeyId", key_id, "KeySpec", "AES_256",
			       "EncryptionContext", context());
	json_t *out = NULL;
	unsigned char *raw = rv_malloc(KMS_BLOB_MAX);
	const char *b;
	long n;
	int rc = call(k, "GenerateDataKey", key_id, in, &out);

	json_decref(in);
	if (!rc)
		rc = take_plain(out, "GenerateDataKey", plain);
	if (!rc) {
		b = json_string_value(json_object_get(out, "CiphertextBlob"));
		n = b ? unbase64(b, raw, KMS_BLOB_MAX) : -1;
		rc = n <= 0 ? rv_error(RV_ECORRUPT, "kms GenerateDataKey: no CiphertextBlob in the "
						    "answer")
			    : rv_buf_add(blob, raw, (size_t)n);
	}
	json_decref(out);
	free(raw);
	return rc;
}

int rv_kms_decrypt(struct rv_kms *k, const char *key_id, const void *blob, size_t n,
		   unsigned char plain[32])
{
	char *b64 = base64(blob, n);
	json_t *in = json_pack("{s:s, s:s, s:o}", "CiphertextBlob", b64, "KeyId", key_id,
			       "EncryptionContext", context());
	json_t *out = NULL;
	int rc = call(k, "Decrypt", key_id, in, &out);

	json_decref(in);
	free(b64);
	if (!rc)
		rc = take_plain(out, "Decrypt", plain);
	json_decref(out);
	return rc;
}
