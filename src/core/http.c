#include "core/http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <strings.h>

static pthread_once_t http_once = PTHREAD_ONCE_INIT;

static void http_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void rv_http_global_init(void)
{
	pthread_once(&http_once, http_init_once);
}

struct sink {
	struct rv_buf *buf;
	int failed;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;

	if (rv_buf_add(s->buf, p, size * n)) {
		s->failed = 1;
		return 0;
	}
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;

	/* A new status line (after a 100-continue or redirect) starts over. */
	if (n * size > 5 && !memcmp(p, "HTTP/", 5))
		rv_buf_reset(s->buf);
	if (rv_buf_add(s->buf, p, size * n)) {
		s->failed = 1;
		return 0;
	}
	return size * n;
}

int rv_http_do(const struct rv_http_req *req, struct rv_http_resp *resp)
{
	struct curl_slist *hdrs = NULL;
	struct sink body, head;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode cc;
	CURL *c;
	int rc = 0;

	rv_http_global_init();
	rv_buf_init(&resp->body, req->max_response ? req->max_response : 16u << 20);
	rv_buf_init(&resp->headers, 64u << 10);
	resp->status = 0;
	body.buf = &resp->body;
	body.failed = 0;
	head.buf = &resp->headers;
	head.failed = 0;

	c = curl_easy_init();
	if (!c)
		return rv_error(RV_EFAIL, "cannot initialise libcurl");
	for (const char *const *h = req->headers; h && *h; h++)
		hdrs = curl_slist_append(hdrs, *h);
	/* curl adds "Expect: 100-continue" to large POST/PUTs; a blank value stops it. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 req->connect_timeout_ms ? req->connect_timeout_ms : 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms ? req->timeout_ms : 30000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &head);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (req->body || !strcmp(req->method, "POST") || !strcmp(req->method, "PUT")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	} else if (!strcmp(req->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	}

	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		if (body.failed || head.failed)
			rc = rv_error(RV_ECORRUPT, "answer from %s is larger than %zu bytes",
				      req->url, resp->body.max);
		else
			rc = rv_error(RV_ENET, "%s %s: %s", req->method, req->url,
				      errbuf[0] ? errbuf : curl_easy_strerror(cc));
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return rc;
}

void rv_http_resp_release(struct rv_http_resp *resp)
{
	rv_buf_release(&resp->body);
	rv_buf_release(&resp->headers);
}

int rv_http_resp_header(const struct rv_http_resp *resp, const char *name, char *out, size_t outlen)
{
	const char *p = rv_buf_str(&resp->headers);
	size_t nl = strlen(name);

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t linelen = eol ? (size_t)(eol - p) : strlen(p);
		if (linelen > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1;
			const char *end = p + linelen;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == '\r' || end[-1] == ' '))
				end--;
			if ((size_t)(end - v) >= outlen)
				return RV_ECORRUPT;
			memcpy(out, v, (size_t)(end - v));
			out[end - v] = '\0';
			return 0;
		}
		if (!eol)
			break;
		p = eol + 1;
	}
	return RV_ENOTFOUND;
}
