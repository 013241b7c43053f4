#include "ghost/client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "core/http.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/retry.h"
#include "core/util.h"

#define API_PREFIX "/ghost/api/admin/"
/* A browse page of 100 posts with a few fields is a few KiB; a full post
 * with its HTML can be large, so the cap is generous but finite. */
#define MAX_ANSWER (32u << 20)
/* Refresh the token a minute before Ghost's five-minute limit. */
#define TOKEN_REFRESH_S 240
/* Enough for a site of 100 million posts at 100 a page: a loop guard only. */
#define MAX_PAGES 1000000

struct rv_ghost_client {
	char *url;
	struct rv_ghost_opts opts;
	bool has_key;
	struct rv_ghost_key key;
	pthread_mutex_t lock; /* guards token, token_iat, retries */
	char token[RV_GHOST_JWT_MAX];
	int64_t token_iat;
	unsigned retries;
	struct rv_ghost_conn *own;
};

struct rv_ghost_conn {
	struct rv_ghost_client *c;
	CURL *curl;
};

static int64_t wall_now_s(void)
{
	return rv_now_ms() / 1000;
}

int rv_ghost_client_new(struct rv_ghost_client **out, const struct rv_ghost_opts *opts)
{
	struct rv_ghost_client *c;
	const char *u = opts->url;
	size_t n;

	*out = NULL;
	if (!u || !(rv_str_startswith(u, "http://") || rv_str_startswith(u, "https://")))
		return rv_error(RV_EUSAGE, "Ghost URL '%s' must start with http:// or https://",
				u ? u : "");
	if (strpbrk(u, "?# \t\r\n"))
		return rv_error(RV_EUSAGE,
				"Ghost URL '%s' must be the site's base URL (no query, fragment "
				"or spaces)",
				u);
	n = strlen(u);
	while (n > 8 && u[n - 1] == '/')
		n--;
	c = rv_calloc(1, sizeof(*c));
	c->url = rv_strndup(u, n);
	c->opts = *opts;
	c->opts.url = c->url;
	c->opts.key = NULL;
	if (!c->opts.max_attempts)
		c->opts.max_attempts = 5;
	if (!c->opts.backoff_ms)
		c->opts.backoff_ms = 250;
	if (!c->opts.backoff_max_ms)
		c->opts.backoff_max_ms = 4000;
	if (!c->opts.timeout_ms)
		c->opts.timeout_ms = 30000;
	if (!c->opts.now_s)
		c->opts.now_s = wall_now_s;
	if (opts->key) {
		c->key = *opts->key;
		c->has_key = true;
	}
	pthread_mutex_init(&c->lock, NULL);
	rv_http_global_init();
	c->own = rv_ghost_conn_new(c);
	*out = c;
	return 0;
}

void rv_ghost_client_free(struct rv_ghost_client *c)
{
	if (!c)
		return;
	rv_ghost_conn_free(c->own);
	pthread_mutex_destroy(&c->lock);
	rv_ghost_key_clear(&c->key);
	OPENSSL_cleanse(c->token, sizeof(c->token));
	free(c->url);
	free(c);
}

const char *rv_ghost_client_url(const struct rv_ghost_client *c)
{
	return c->url;
}

unsigned rv_ghost_client_retries(const struct rv_ghost_client *c)
{
	unsigned n;

	pthread_mutex_lock((pthread_mutex_t *)&c->lock);
	n = c->retries;
	pthread_mutex_unlock((pthread_mutex_t *)&c->lock);
	return n;
}

struct rv_ghost_conn *rv_ghost_conn_new(struct rv_ghost_client *c)
{
	struct rv_ghost_conn *conn = rv_calloc(1, sizeof(*conn));

	conn->c = c;
	return conn;
}

void rv_ghost_conn_free(struct rv_ghost_conn *conn)
{
	if (!conn)
		return;
	if (conn->curl)
		curl_easy_cleanup(conn->curl);
	free(conn);
}

static int curl_transport(struct rv_ghost_conn *conn, struct rv_ghost_http *h)
{
	struct rv_http_xfer x = {
	    .method = h->method,
	    .url = h->url,
	    .headers = h->headers,
	    .user_agent = "revenant/" RV_VERSION,
	    .body = h->body,
	    .body_len = h->body_len,
	    .body_out = h->resp,
	    .connect_timeout_ms = 5000,
	    .timeout_ms = conn->c->opts.timeout_ms,
	};
	struct rv_http_outcome o;
	int rc;

	if (!conn->curl) {
		conn->curl = rv_http_handle_new();
		if (!conn->curl)
			return RV_EFAIL;
	}
	/* One handle per connection: keep-alive across requests. */
	rc = rv_http_perform(conn->curl, &x, &o);
	if (rc)
		return rc;
	if (o.curl != CURLE_OK)
		return rv_error(RV_ENET, "cannot reach Ghost: %s %s: %s", h->method, h->url, o.why);
	h->status = o.status;
	snprintf(h->location, sizeof(h->location), "%s", o.location);
	return 0;
}

static int get_token(struct rv_ghost_client *c, char out[RV_GHOST_JWT_MAX])
{
	int64_t now = c->opts.now_s();
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	if (!c->token[0] || now - c->token_iat >= TOKEN_REFRESH_S || now < c->token_iat) {
		rc = rv_ghost_jwt(c->token, &c->key, now);
		c->token_iat = now;
		if (rc)
			c->token[0] = '\0';
	}
	if (!rc)
		memcpy(out, c->token, RV_GHOST_JWT_MAX);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static void count_retry(struct rv_ghost_client *c)
{
	pthread_mutex_lock(&c->lock);
	c->retries++;
	pthread_mutex_unlock(&c->lock);
}

/* The last message with a suffix (rv_error cannot format from itself). */
static int rewrap(int code, const char *fmt, int n)
{
	char prev[1024];

	snprintf(prev, sizeof(prev), "%s", rv_errmsg());
	return rv_error(code, fmt, prev, n);
}

static bool retryable(long status)
{
	return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

/* Ghost's error body: {"errors":[{"message","context","type"}]}. */
static void ghost_error_text(const struct rv_buf *body, char *out, size_t outlen, char *code,
			     size_t codelen)
{
	json_t *j = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
	json_t *e = json_array_get(json_object_get(j, "errors"), 0);
	const char *msg = json_string_value(json_object_get(e, "message"));
	const char *ctx = json_string_value(json_object_get(e, "context"));
	const char *type = json_string_value(json_object_get(e, "type"));
	const char *ecode = json_string_value(json_object_get(e, "code"));

	snprintf(code, codelen, "%s", ecode ? ecode : "");
	if (!msg)
		snprintf(out, outlen, "no Ghost error message");
	else if (ctx && *ctx)
		snprintf(out, outlen, "%s%s%s (%s)", type ? type : "", type ? ": " : "", msg, ctx);
	else
		snprintf(out, outlen, "%s%s%s", type ? type : "", type ? ": " : "", msg);
	json_decref(j);
	/* The server's words go into a one-line error message. */
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

static int map_status(struct rv_ghost_client *c, const char *method, const char *path, bool auth,
		      struct rv_ghost_http *h)
{
	char why[512], code[64];

	if (h->status >= 300 && h->status < 400)
		return rv_error(RV_EFAIL,
				"%s %s%s%s answered %ld, a redirect to '%s': give the site URL "
				"exactly as Ghost is configured with",
				method, c->url, API_PREFIX, path, h->status, h->location);
	ghost_error_text(h->resp, why, sizeof(why), code, sizeof(code));
	/* Ghost answers 400 INVALID_JWT to a token it cannot verify. */
	if ((h->status == 401 || h->status == 403 ||
	     (h->status == 400 && !strcmp(code, "INVALID_JWT"))) &&
	    auth)
		return rv_error(RV_EAUTH,
				"the Admin API key was rejected: check that the key is an Admin "
				"API key of an active integration on %s (Ghost said %ld: %s)",
				c->url, h->status, why);
	if (h->status == 401 || h->status == 403)
		return rv_error(RV_EAUTH, "%s %s%s%s needs an Admin API key (Ghost said %ld: %s)",
				method, c->url, API_PREFIX, path, h->status, why);
	if (h->status == 404)
		return rv_error(RV_ENOTFOUND, "%s %s%s%s: not found (%s)", method, c->url,
				API_PREFIX, path, why);
	return rv_error(RV_EFAIL, "%s %s%s%s failed with HTTP %ld: %s", method, c->url, API_PREFIX,
			path, h->status, why);
}

int rv_ghost_call(struct rv_ghost_client *c, struct rv_ghost_conn *conn, bool auth,
		  const char *method, const char *path, const char *body, long *status_out,
		  json_t **json_out)
{
	struct rv_buf resp = RV_BUF_INIT(MAX_ANSWER);
	char token[RV_GHOST_JWT_MAX];
	char authz[RV_GHOST_JWT_MAX + sizeof("Authorization: Ghost ")];
	const char *headers[6];
	struct rv_retry_policy policy = {0};
	struct rv_retry retry;
	char *url;
	int rc = 0, nh;

	if (json_out)
		*json_out = NULL;
	if (status_out)
		*status_out = 0;
	if (auth && !c->has_key)
		return rv_error(RV_EUSAGE,
				"%s %s needs an Admin API key: pass --key-file or "
				"--key-env",
				method, path);
	if (!conn)
		conn = c->own;
	url = rv_asprintf("%s%s%s", c->url, API_PREFIX, path);
	policy.max_attempts = (unsigned)c->opts.max_attempts;
	policy.base_ms = (long)c->opts.backoff_ms;
	policy.cap_ms = (long)c->opts.backoff_max_ms;
	rv_retry_start(&retry, &policy);
	for (int attempt = 1;; attempt++) {
		struct rv_ghost_http h = {0};

		nh = 0;
		headers[nh++] = "Accept-Version: v5.0";
		headers[nh++] = "Accept: application/json";
		if (body)
			headers[nh++] = "Content-Type: application/json";
		if (auth) {
			rc = get_token(c, token);
			if (rc)
				break;
			snprintf(authz, sizeof(authz), "Authorization: Ghost %s", token);
			headers[nh++] = authz;
		}
		headers[nh] = NULL;
		rv_buf_reset(&resp);
		h.method = method;
		h.url = url;
		h.headers = headers;
		h.body = body;
		h.body_len = body ? strlen(body) : 0;
		h.resp = &resp;
		if (c->opts.transport)
			rc = c->opts.transport(c->opts.transport_ud, &h);
		else
			rc = curl_transport(conn, &h);
		if (status_out)
			*status_out = h.status;
		if (rc == RV_ENET || (!rc && retryable(h.status))) {
			if (attempt < c->opts.max_attempts) {
				rv_log(RV_LOG_DEBUG, "ghost request will be retried", "method",
				       method, "path", path, "error",
				       rc ? rv_errmsg() : "retryable status", NULL);
				count_retry(c);
				if (rv_retry_next(&retry))
					continue;
			}
			if (rv_shutdown_requested()) {
				rc = rv_error(RV_EINTR, "%s %s interrupted by shutdown", method,
					      url);
				break;
			}
			if (!rc)
				rc = map_status(c, method, path, auth, &h);
			else
				rc = rewrap(RV_ENET, "%s (gave up after %d attempts)", attempt);
			break;
		}
		if (rc)
			break;
		if (h.status < 200 || h.status >= 300) {
			rc = map_status(c, method, path, auth, &h);
			break;
		}
		if (json_out && resp.len) {
			*json_out = json_loadb(resp.data, resp.len, 0, NULL);
			if (!json_is_object(*json_out)) {
				json_decref(*json_out);
				*json_out = NULL;
				rc =
				    rv_error(RV_ECORRUPT,
					     "%s does not look like a Ghost site: %s %s%s answered "
					     "%ld without Ghost's JSON",
					     c->url, method, API_PREFIX, path, h.status);
			}
		}
		break;
	}
	OPENSSL_cleanse(token, sizeof(token));
	OPENSSL_cleanse(authz, sizeof(authz));
	rv_buf_release(&resp);
	free(url);
	return rc;
}

int rv_ghost_site(struct rv_ghost_client *c, json_t **site_out)
{
	json_t *j = NULL, *site;
	long status = 0;
	int rc;

	*site_out = NULL;
	rc = rv_ghost_call(c, NULL, false, "GET", "site/", NULL, &status, &j);
	/* Anything but Ghost's JSON here (a 404 page, a login wall, a 500 from
	 * something else) means the URL does not lead to a Ghost site. */
	if (rc == RV_ENOTFOUND || rc == RV_EFAIL || rc == RV_EAUTH)
		return rv_error(RV_ECORRUPT,
				"%s does not look like a Ghost site: GET %ssite/ answered HTTP %ld "
				"(check the URL)",
				c->url, API_PREFIX, status);
	if (rc)
		return rc;
	site = json_object_get(j, "site");
	if (!json_is_object(site) || !json_is_string(json_object_get(site, "version"))) {
		json_decref(j);
		return rv_error(
		    RV_ECORRUPT,
		    "%s does not look like a Ghost site: GET %ssite/ has no site.version", c->url,
		    API_PREFIX);
	}
	*site_out = json_incref(site);
	json_decref(j);
	return 0;
}

int rv_ghost_urlencode(struct rv_buf *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int rc;

		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~')
			rc = rv_buf_add(out, p, 1);
		else
			rc = rv_buf_addf(out, "%%%02X", *p);
		if (rc)
			return rv_error(rc, "URL parameter too long");
	}
	return 0;
}

int rv_ghost_browse(struct rv_ghost_client *c, const char *resource, const char *filter,
		    const char *fields, unsigned limit, rv_ghost_item_fn fn, void *ud)
{
	struct rv_buf path = RV_BUF_INIT(64u << 10);
	long page = 1;
	int rc = 0;

	if (!limit)
		limit = 100;
	for (int npages = 0; npages < MAX_PAGES; npages++) {
		json_t *j = NULL, *items, *pag, *next, *item;
		size_t i;

		rv_buf_reset(&path);
		rc = rv_buf_addf(&path, "%s/?limit=%u&page=%ld", resource, limit, page);
		if (!rc && fields)
			rc = rv_buf_addstr(&path, "&fields=");
		if (!rc && fields)
			rc = rv_ghost_urlencode(&path, fields);
		if (!rc && filter)
			rc = rv_buf_addstr(&path, "&filter=");
		if (!rc && filter)
			rc = rv_ghost_urlencode(&path, filter);
		if (rc) {
			rc = rv_error(RV_EUSAGE, "the --filter is too long");
			break;
		}
		rc = rv_ghost_call(c, NULL, true, "GET", rv_buf_str(&path), NULL, NULL, &j);
		if (rc)
			break;
		items = json_object_get(j, resource);
		pag = json_object_get(json_object_get(j, "meta"), "pagination");
		if (!json_is_array(items) || !json_is_object(pag)) {
			json_decref(j);
			rc = rv_error(RV_ECORRUPT,
				      "%s does not look like a Ghost site: GET %s%s has no '%s' "
				      "list with meta.pagination",
				      c->url, API_PREFIX, rv_buf_str(&path), resource);
			break;
		}
		json_array_foreach(items, i, item)
		{
			rc = fn(ud, item);
			if (rc)
				break;
		}
		next = json_object_get(pag, "next");
		if (!rc && json_is_integer(next) && json_integer_value(next) <= page)
			rc = rv_error(RV_ECORRUPT,
				      "Ghost's paging of %s did not advance (page %ld says next is "
				      "%lld)",
				      resource, page, (long long)json_integer_value(next));
		else if (!rc && !json_is_null(next) && !json_is_integer(next) && next)
			rc = rv_error(RV_ECORRUPT,
				      "Ghost's meta.pagination.next of %s is not a "
				      "number",
				      resource);
		if (!rc && json_is_integer(next))
			page = (long)json_integer_value(next);
		else
			next = NULL;
		json_decref(j);
		if (rc || !next)
			break;
	}
	rv_buf_release(&path);
	return rc;
}
