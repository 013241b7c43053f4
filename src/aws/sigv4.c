/* sigv4.c - AWS Signature Version 4, header form.
 *
 * The steps follow the published algorithm: canonical request, string to
 * sign, HMAC-SHA256 key chain, signature.  Everything that came from a
 * caller is length-checked before use and every buffer has a cap, because
 * paths, queries and header values end up here from object keys and config.
 * No message or log line ever contains the secret key, the session token or
 * anything derived from them. */
#include "aws/sigv4.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/mem.h"
#include "core/util.h"

/* Limits: an S3 key is at most 1024 bytes (3x when encoded) and our own
 * queries are short; these leave ample room while keeping hostile input
 * from building megabyte canonical requests. */
#define SIGV4_MAX_PATH	    (16u * 1024)
#define SIGV4_MAX_QUERY	    (16u * 1024)
#define SIGV4_MAX_HVALUE    (16u * 1024)
#define SIGV4_MAX_HNAME	    256u
#define SIGV4_MAX_HEADERS   128u
#define SIGV4_MAX_SECRET    256u
#define SIGV4_MAX_CANON	    (512u * 1024)
#define SIGV4_MAX_SCOPEPART 64u

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

int rv_aws_uri_encode(struct rv_buf *out, const char *s, size_t n, bool keep_slash)
{
	static const char hexd[] = "0123456789ABCDEF";
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_unreserved(c) || (keep_slash && c == '/')) {
			rc = rv_buf_add(out, &s[i], 1);
		} else {
			char esc[3] = {'%', hexd[c >> 4], hexd[c & 15]};
			rc = rv_buf_add(out, esc, 3);
		}
	}
	return rc;
}

/* Query parts are decoded and re-encoded so that "%e1%88%b4", "%E1%88%B4"
 * and raw UTF-8 all give the one canonical form AWS computes.  A '%' not
 * followed by two hex digits is a literal '%'.  '+' is kept literal: AWS
 * wants spaces as %20, and we never put '+' for a space on the wire. */
static int query_part_encode(struct rv_buf *out, const char *s, size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		char c = s[i];
		if (c == '%' && i + 2 < n && rv_hexval(s[i + 1]) >= 0 && rv_hexval(s[i + 2]) >= 0) {
			c = (char)(rv_hexval(s[i + 1]) * 16 + rv_hexval(s[i + 2]));
			i += 2;
		}
		rc = rv_aws_uri_encode(out, &c, 1, false);
	}
	return rc;
}

static bool has_ctl(const char *s, size_t n, bool allow_tab)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7f)
			return true;
	}
	return false;
}

/* RFC 3986 remove_dot_segments, plus what AWS adds: empty segments (from
 * "//") are dropped; a trailing '/' survives when anything is left. */
static int path_normalize(struct rv_buf *out, const char *path)
{
	size_t n = strlen(path), nseg = 0, cap = n / 2 + 2;
	struct seg {
		const char *p;
		size_t len;
	} *segs = rv_calloc(cap, sizeof(*segs));
	const char *s = path;
	int rc = 0;

	for (const char *p = path;; p++) {
		if (*p != '/' && *p)
			continue;
		size_t len = (size_t)(p - s);
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			if (nseg)
				nseg--;
		} else if (len && !(len == 1 && s[0] == '.')) {
			segs[nseg].p = s;
			segs[nseg].len = len;
			nseg++;
		}
		if (!*p)
			break;
		s = p + 1;
	}
	if (path[0] == '/')
		rc = rv_buf_add(out, "/", 1);
	for (size_t i = 0; i < nseg && !rc; i++) {
		if (i)
			rc = rv_buf_add(out, "/", 1);
		if (!rc)
			rc = rv_buf_add(out, segs[i].p, segs[i].len);
	}
	if (!rc && nseg && n && path[n - 1] == '/')
		rc = rv_buf_add(out, "/", 1);
	free(segs);
	return rc;
}

static int canonical_uri(struct rv_buf *cr, const struct rv_sigv4_req *req,
			 const struct rv_sigv4_params *p)
{
	struct rv_buf norm = RV_BUF_INIT(SIGV4_MAX_PATH);
	const char *path = req->path;
	int rc;

	if (p->s3)
		return rv_buf_addstr(cr, path);
	if (p->normalize_path) {
		rc = path_normalize(&norm, path);
		if (rc) {
			rv_buf_release(&norm);
			return rc;
		}
		path = rv_buf_str(&norm);
		if (!*path)
			path = "/";
	}
	/* Services other than S3 encode the already-encoded path once more. */
	rc = rv_aws_uri_encode(cr, path, strlen(path), true);
	rv_buf_release(&norm);
	return rc;
}

struct qparam {
	char *name;
	char *value;
};

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

static int canonical_query(struct rv_buf *cr, const char *query)
{
	size_t n = query ? strlen(query) : 0, np = 0, cap = 1;
	struct qparam *ps;
	int rc = 0;

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		cap += query[i] == '&';
	ps = rv_calloc(cap, sizeof(*ps));
	for (const char *s = query; *s && !rc;) {
		const char *amp = strchr(s, '&');
		size_t len = amp ? (size_t)(amp - s) : strlen(s);
		const char *eq = memchr(s, '=', len);
		size_t nlen = eq ? (size_t)(eq - s) : len;
		struct rv_buf b = RV_BUF_INIT(SIGV4_MAX_QUERY * 3);

		if (len) {
			rc = query_part_encode(&b, s, nlen);
			if (!rc)
				ps[np].name = rv_buf_detach(&b, NULL);
			if (!rc && eq)
				rc = query_part_encode(&b, eq + 1, len - nlen - 1);
			if (!rc)
				ps[np++].value = rv_buf_detach(&b, NULL);
			rv_buf_release(&b);
			if (rc && ps[np].name) {
				free(ps[np].name);
				ps[np].name = NULL;
			}
		}
		s += len + (amp ? 1 : 0);
	}
	if (!rc)
		qsort(ps, np, sizeof(*ps), qparam_cmp);
	for (size_t i = 0; i < np && !rc; i++)
		rc = rv_buf_addf(cr, "%s%s=%s", i ? "&" : "", ps[i].name, ps[i].value);
	for (size_t i = 0; i < np; i++) {
		free(ps[i].name);
		free(ps[i].value);
	}
	free(ps);
	return rc;
}

struct chdr {
	char *name;  /* lower-case */
	char *value; /* trimmed, runs of blanks collapsed */
	size_t order;
};

static int chdr_cmp(const void *a, const void *b)
{
	const struct chdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	/* Values of a repeated header keep the order the caller gave them. */
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static char *trim_collapse(const char *v)
{
	size_t n = strlen(v), o = 0;
	char *out = rv_malloc(n + 1);
	bool blank = false;

	for (size_t i = 0; i < n; i++) {
		if (v[i] == ' ' || v[i] == '\t') {
			blank = o > 0;
			continue;
		}
		if (blank)
			out[o++] = ' ';
		blank = false;
		out[o++] = v[i];
	}
	out[o] = '\0';
	return out;
}

/* Headers that proxies and HTTP clients change in flight; like botocore we
 * leave them out of the signature. */
static bool header_unsigned(const char *lname)
{
	return !strcmp(lname, "user-agent") || !strcmp(lname, "expect") ||
	       !strcmp(lname, "x-amzn-trace-id");
}

/* Headers this signer adds itself; a caller's copy would be sent twice. */
static bool header_reserved(const char *lname)
{
	return !strcmp(lname, "authorization") || !strcmp(lname, "x-amz-date") ||
	       !strcmp(lname, "x-amz-security-token") || !strcmp(lname, "x-amz-content-sha256");
}

static bool is_tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int check_header(const struct rv_header *h)
{
	size_t nlen = h->name ? strlen(h->name) : 0;

	if (!nlen || nlen > SIGV4_MAX_HNAME)
		return rv_error(RV_EUSAGE, "sigv4: header name is empty or too long");
	for (size_t i = 0; i < nlen; i++)
		if (!is_tchar((unsigned char)h->name[i]))
			return rv_error(RV_EUSAGE, "sigv4: invalid character in a header name");
	if (!h->value)
		return rv_error(RV_EUSAGE, "sigv4: header '%s' has no value", h->name);
	if (strlen(h->value) > SIGV4_MAX_HVALUE)
		return rv_error(RV_EUSAGE, "sigv4: header '%s' value is too long", h->name);
	/* CR or LF would let a value smuggle extra header lines. */
	if (has_ctl(h->value, strlen(h->value), true))
		return rv_error(RV_EUSAGE, "sigv4: header '%s' has a control character", h->name);
	return 0;
}

static void chdrs_free(struct chdr *hs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(hs[i].name);
		if (hs[i].value)
			OPENSSL_cleanse(hs[i].value, strlen(hs[i].value));
		free(hs[i].value);
	}
	free(hs);
}

static void chdr_push(struct chdr *hs, size_t *n, const char *name, const char *value)
{
	size_t nl = strlen(name);
	char *l = rv_malloc(nl + 1);

	for (size_t i = 0; i <= nl; i++)
		l[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] + 32) : name[i];
	hs[*n].name = l;
	hs[*n].value = trim_collapse(value);
	hs[*n].order = *n;
	(*n)++;
}

/* Canonical headers and the signed-headers list in one pass. */
static int canonical_headers(struct rv_buf *cr, struct rv_buf *signed_hdrs,
			     const struct rv_sigv4_req *req, const struct rv_sigv4_params *p,
			     const struct rv_aws_key *key, const char *amz_date,
			     const char *content_sha)
{
	struct chdr *hs;
	size_t n = 0;
	bool host = false;
	int rc = 0;

	if (req->nheaders > SIGV4_MAX_HEADERS)
		return rv_error(RV_EUSAGE, "sigv4: more than %u headers", SIGV4_MAX_HEADERS);
	if (req->nheaders && !req->headers)
		return rv_error(RV_EUSAGE, "sigv4: header count without headers");
	hs = rv_calloc(req->nheaders + 3, sizeof(*hs));
	for (size_t i = 0; i < req->nheaders; i++) {
		rc = check_header(&req->headers[i]);
		if (rc)
			goto out;
		chdr_push(hs, &n, req->headers[i].name, req->headers[i].value);
		if (header_reserved(hs[n - 1].name)) {
			rc = rv_error(RV_EUSAGE,
				      "sigv4: header '%s' is set by the signer, not the caller",
				      hs[n - 1].name);
			goto out;
		}
		if (header_unsigned(hs[n - 1].name)) {
			n--;
			free(hs[n].name);
			free(hs[n].value);
			hs[n].name = hs[n].value = NULL;
			continue;
		}
		host |= !strcmp(hs[n - 1].name, "host");
	}
	if (!host) {
		rc = rv_error(RV_EUSAGE, "sigv4: the request has no Host header");
		goto out;
	}
	chdr_push(hs, &n, "x-amz-date", amz_date);
	if (content_sha)
		chdr_push(hs, &n, "x-amz-content-sha256", content_sha);
	if (key->session_token && *key->session_token && !p->omit_session_token)
		chdr_push(hs, &n, "x-amz-security-token", key->session_token);
	qsort(hs, n, sizeof(*hs), chdr_cmp);
	for (size_t i = 0; i < n && !rc; i++) {
		bool first = i == 0 || strcmp(hs[i].name, hs[i - 1].name) != 0;
		bool last = i + 1 == n || strcmp(hs[i].name, hs[i + 1].name) != 0;
		if (first) {
			rc = rv_buf_addf(cr, "%s:", hs[i].name);
			if (!rc)
				rc = rv_buf_addf(signed_hdrs, "%s%s", i ? ";" : "", hs[i].name);
		} else {
			rc = rv_buf_add(cr, ",", 1);
		}
		if (!rc)
			rc = rv_buf_addstr(cr, hs[i].value);
		if (!rc && last)
			rc = rv_buf_add(cr, "\n", 1);
	}
out:
	chdrs_free(hs, n);
	return rc;
}

static int check_scope_part(const char *what, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!n || n > SIGV4_MAX_SCOPEPART)
		return rv_error(RV_EUSAGE, "sigv4: %s is empty or too long", what);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f || c == '/' || c == ',' || c == '=')
			return rv_error(RV_EUSAGE, "sigv4: invalid character in the %s", what);
	}
	return 0;
}

static int check_inputs(const struct rv_sigv4_req *req, const struct rv_sigv4_params *p,
			const struct rv_aws_key *key)
{
	int rc;

	if (!req->method || !*req->method || strlen(req->method) > 32)
		return rv_error(RV_EUSAGE, "sigv4: the request method is empty or too long");
	for (const char *m = req->method; *m; m++)
		if (!is_tchar((unsigned char)*m))
			return rv_error(RV_EUSAGE,
					"sigv4: invalid character in the request method");
	if (!req->path || req->path[0] != '/')
		return rv_error(RV_EUSAGE, "sigv4: the request path must start with '/'");
	if (strlen(req->path) > SIGV4_MAX_PATH || has_ctl(req->path, strlen(req->path), false))
		return rv_error(RV_EUSAGE, "sigv4: the request path is too long or has a control "
					   "character");
	if (req->query && (strlen(req->query) > SIGV4_MAX_QUERY ||
			   has_ctl(req->query, strlen(req->query), false)))
		return rv_error(RV_EUSAGE, "sigv4: the query string is too long or has a control "
					   "character");
	if (req->payload_hash) {
		size_t n = strlen(req->payload_hash);
		if (!n || n > 128 || has_ctl(req->payload_hash, n, false) ||
		    strchr(req->payload_hash, ' '))
			return rv_error(RV_EUSAGE, "sigv4: invalid payload hash");
	}
	if (!req->body && req->body_len)
		return rv_error(RV_EUSAGE, "sigv4: body length without a body");
	rc = check_scope_part("region", p->region);
	if (!rc)
		rc = check_scope_part("service", p->service);
	if (rc)
		return rc;
	if (!key || !key->access_key_id || !key->secret_access_key)
		return rv_error(RV_EAUTH, "sigv4: no AWS credentials to sign with");
	rc = check_scope_part("access key id", key->access_key_id);
	if (rc)
		return rc;
	if (!*key->secret_access_key || strlen(key->secret_access_key) > SIGV4_MAX_SECRET)
		return rv_error(RV_EAUTH, "sigv4: the secret access key is empty or too long");
	if (key->session_token &&
	    has_ctl(key->session_token, strnlen(key->session_token, 1u << 16), false))
		return rv_error(RV_EAUTH, "sigv4: the session token has a control character");
	if (key->session_token && strnlen(key->session_token, 1u << 16) == 1u << 16)
		return rv_error(RV_EAUTH, "sigv4: the session token is too long");
	return 0;
}

static int hmac(unsigned char out[RV_SHA256_LEN], const void *k, size_t klen, const char *msg)
{
	unsigned int olen = 0;

	if (!HMAC(EVP_sha256(), k, (int)klen, (const unsigned char *)msg, strlen(msg), out,
		  &olen) ||
	    olen != RV_SHA256_LEN)
		return rv_error(RV_EFAIL, "sigv4: HMAC-SHA256 failed in OpenSSL");
	return 0;
}

static int sign_string(char sig[RV_SHA256_HEX], const char *secret, const char *date,
		       const struct rv_sigv4_params *p, const char *sts)
{
	char ksecret[4 + SIGV4_MAX_SECRET + 1];
	unsigned char k1[RV_SHA256_LEN], k2[RV_SHA256_LEN], md[RV_SHA256_LEN];
	int n, rc;

	n = snprintf(ksecret, sizeof(ksecret), "AWS4%s", secret);
	if (n < 0 || (size_t)n >= sizeof(ksecret))
		return rv_error(RV_EAUTH, "sigv4: the secret access key is too long");
	rc = hmac(k1, ksecret, (size_t)n, date);
	if (!rc)
		rc = hmac(k2, k1, sizeof(k1), p->region);
	if (!rc)
		rc = hmac(k1, k2, sizeof(k2), p->service);
	if (!rc)
		rc = hmac(k2, k1, sizeof(k1), "aws4_request");
	if (!rc)
		rc = hmac(md, k2, sizeof(k2), sts);
	if (!rc)
		rv_hex(sig, md, sizeof(md));
	OPENSSL_cleanse(ksecret, sizeof(ksecret));
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	return rc;
}

int rv_sigv4_sign(struct rv_sigv4_out *out, const struct rv_sigv4_req *req,
		  const struct rv_sigv4_params *p, const struct rv_aws_key *key)
{
	struct rv_buf cr = RV_BUF_INIT(SIGV4_MAX_CANON), sh = RV_BUF_INIT(64u * 1024);
	struct rv_buf sts = RV_BUF_INIT(1024), auth = RV_BUF_INIT(64u * 1024);
	char amz_date[17], date[9], payload[129], crhash[RV_SHA256_HEX];
	const char *content_sha = NULL;
	struct tm tm;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = check_inputs(req, p, key);
	if (rc)
		return rc;
	if (!gmtime_r(&p->when, &tm) || tm.tm_year + 1900 < 1970 || tm.tm_year + 1900 > 9999 ||
	    !strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm))
		return rv_error(RV_EUSAGE, "sigv4: request time %lld is out of range",
				(long long)p->when);
	memcpy(date, amz_date, 8);
	date[8] = '\0';

	if (req->payload_hash)
		snprintf(payload, sizeof(payload), "%s", req->payload_hash);
	else
		rv_sha256_hex(payload, req->body ? req->body : "", req->body_len);
	if (p->s3 || p->sign_content_sha256)
		content_sha = payload;

	rc = rv_buf_addf(&cr, "%s\n", req->method);
	if (!rc)
		rc = canonical_uri(&cr, req, p);
	if (!rc)
		rc = rv_buf_add(&cr, "\n", 1);
	if (!rc)
		rc = canonical_query(&cr, req->query);
	if (!rc)
		rc = rv_buf_add(&cr, "\n", 1);
	if (!rc)
		rc = canonical_headers(&cr, &sh, req, p, key, amz_date, content_sha);
	if (!rc)
		rc = rv_buf_addf(&cr, "\n%s\n%s", rv_buf_str(&sh), payload);
	if (rc)
		goto fail;

	rv_sha256_hex(crhash, cr.data, cr.len);
	rc = rv_buf_addf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date,
			 p->region, p->service, crhash);
	if (!rc)
		rc = sign_string(out->signature, key->secret_access_key, date, p, rv_buf_str(&sts));
	if (!rc)
		rc = rv_buf_addf(&auth,
				 "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
				 "SignedHeaders=%s, Signature=%s",
				 key->access_key_id, date, p->region, p->service, rv_buf_str(&sh),
				 out->signature);
	if (rc)
		goto fail;
	out->canonical_request = rv_buf_detach(&cr, NULL);
	out->string_to_sign = rv_buf_detach(&sts, NULL);
	out->authorization = rv_buf_detach(&auth, NULL);
	out->amz_date = rv_strdup(amz_date);
	out->content_sha256 = content_sha ? rv_strdup(content_sha) : NULL;
	rv_buf_release(&sh);
	return 0;
fail:
	/* The canonical request holds the session token in clear. */
	if (cr.data)
		OPENSSL_cleanse(cr.data, cr.alloc);
	rv_buf_release(&cr);
	rv_buf_release(&sh);
	rv_buf_release(&sts);
	rv_buf_release(&auth);
	memset(out, 0, sizeof(*out));
	return rc;
}

void rv_sigv4_out_release(struct rv_sigv4_out *o)
{
	if (!o)
		return;
	if (o->canonical_request)
		OPENSSL_cleanse(o->canonical_request, strlen(o->canonical_request));
	free(o->canonical_request);
	free(o->string_to_sign);
	free(o->authorization);
	free(o->amz_date);
	free(o->content_sha256);
	memset(o, 0, sizeof(*o));
}
