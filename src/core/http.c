/* http.c - the one libcurl transfer layer (see http.h). */
#include "core/http.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/retry.h"
#include "core/util.h"

static pthread_once_t http_once = PTHREAD_ONCE_INIT;

static void http_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void rv_http_global_init(void)
{
	pthread_once(&http_once, http_init_once);
}

CURL *rv_http_handle_new(void)
{
	CURL *c;

	rv_http_global_init();
	c = curl_easy_init();
	if (!c)
		rv_error(RV_EFAIL, "cannot initialise libcurl");
	return c;
}

/* One exchange's state, shared by the callbacks. */
struct xstate {
	const struct rv_http_xfer *x;
	struct rv_http_outcome *o;
	CURL *c;
	uint64_t up_pos;
	uint64_t limit;	 /* bytes still wanted for out_fd */
	long hdr_status; /* from the last status line */
	int local_rc;	 /* a failure on our side: reported, never retried */
	char local_msg[512];
};

static bool status_ok(long st)
{
	return st >= 200 && st < 300;
}

static void local_fail(struct xstate *s, int code, const char *fmt, ...) RV_PRINTF(3, 4);
static void local_fail(struct xstate *s, int code, const char *fmt, ...)
{
	va_list ap;

	s->local_rc = code;
	va_start(ap, fmt);
	vsnprintf(s->local_msg, sizeof(s->local_msg), fmt, ap);
	va_end(ap);
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
	struct xstate *s = ud;
	const struct rv_http_xfer *x = s->x;
	uint64_t left = x->body_len - s->up_pos;
	size_t want = size * n;

	if (want > left)
		want = (size_t)left;
	if (!want)
		return 0;
	if (x->body_from_fd) {
		ssize_t got;
		do
			got = pread(x->body_fd, buf, want, (off_t)(x->body_off + s->up_pos));
		while (got == -1 && errno == EINTR);
		if (got <= 0) {
			local_fail(s, RV_EFAIL, "%s",
				   got == 0 ? "the input file shrank while it was being uploaded"
					    : strerror(errno));
			return CURL_READFUNC_ABORT;
		}
		want = (size_t)got;
	} else {
		memcpy(buf, (const char *)x->body + s->up_pos, want);
	}
	s->up_pos += want;
	return want;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
	struct xstate *s = ud;

	/* curl rewinds to resend the body (a re-used connection that turned
	 * out dead, a redirect); only absolute positions occur. */
	if (origin != SEEK_SET || off < 0 || (uint64_t)off > s->x->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	s->up_pos = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

static int write_all_fd(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static size_t to_buf(struct xstate *s, const char *p, size_t len)
{
	if (rv_buf_add(s->x->body_out, p, len)) {
		local_fail(s, RV_ECORRUPT, "the answer is larger than %zu bytes",
			   s->x->body_out->max);
		return 0;
	}
	return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
	struct xstate *s = ud;
	const struct rv_http_xfer *x = s->x;
	size_t len = size * n;

	if (!s->o->status)
		curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &s->o->status);
	if (!status_ok(s->o->status)) {
		if (x->err_out) {
			/* Errors are small; past the cap the rest is dropped, not failed. */
			size_t room = x->err_out->max - x->err_out->len;
			if (room && rv_buf_add(x->err_out, p, len < room ? len : room))
				return 0;
			return len;
		}
		return x->body_out ? to_buf(s, p, len) : len;
	}
	s->o->got += len;
	if (x->out_to_fd) {
		size_t take = len;
		if (x->out_limit) {
			take = (uint64_t)len > s->limit ? (size_t)s->limit : len;
			s->limit -= take;
		}
		if (take && write_all_fd(x->out_fd, p, take) == -1) {
			local_fail(s, RV_EFAIL, "writing the output: %s", strerror(errno));
			return 0;
		}
		s->o->written += take;
		return len;
	}
	return x->body_out ? to_buf(s, p, len) : len;
}

/* Copy a header value (trimmed) when the line is "name: value". */
static bool header_is(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *v, *end;

	if (len <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
		return false;
	v = line + nl + 1;
	end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	snprintf(out, outlen, "%.*s", (int)(end - v), v);
	return true;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct xstate *s = ud;
	struct rv_http_outcome *o = s->o;
	size_t len = size * n;
	char v[256];

	if (len > 5 && !memcmp(p, "HTTP/", 5)) {
		/* A new status line (after 100 Continue): forget the last one. */
		const char *sp = memchr(p, ' ', len);
		o->status = 0;
		o->etag[0] = o->last_modified[0] = '\0';
		o->have_length = o->have_total = false;
		s->hdr_status = sp && (size_t)(sp - p) + 4 <= len ? strtol(sp + 1, NULL, 10) : 0;
		return len;
	}
	if (len <= 2 && s->hdr_status == 206 && o->have_total && o->total_size == 0) {
		/* s3rver answers a range on an empty object with "Content-Range:
		 * bytes 0-0/0" and a Content-Length of 1 it never sends; stop
		 * here instead of waiting for a byte that does not exist. */
		o->empty_range = true;
		return 0;
	}
	if (header_is(p, len, "ETag", v, sizeof(v))) {
		/* A truncated etag would be wrong; an over-long one is dropped. */
		size_t vl = strlen(v);
		if (vl < sizeof(o->etag))
			memcpy(o->etag, v, vl + 1);
	} else if (header_is(p, len, "Content-Length", v, sizeof(v))) {
		o->have_length = !rv_parse_u64(v, &o->content_length);
	} else if (header_is(p, len, "Content-Range", v, sizeof(v))) {
		/* "bytes 0-9/1234" */
		char *slash = strrchr(v, '/');
		o->have_total = slash && !rv_parse_u64(slash + 1, &o->total_size);
	} else if (header_is(p, len, "Last-Modified", v, sizeof(v))) {
		size_t vl = strlen(v);
		if (vl < sizeof(o->last_modified))
			memcpy(o->last_modified, v, vl + 1);
	}
	return len;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)ud;
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return rv_shutdown_requested();
}

static struct curl_slist *build_headers(const char *const *lines)
{
	struct curl_slist *l = NULL, *n;

	for (const char *const *h = lines; h && *h; h++) {
		n = curl_slist_append(l, *h);
		if (!n)
			goto oom;
		l = n;
	}
	/* No 100-continue round trip (curl asks for one on large bodies). */
	n = curl_slist_append(l, "Expect:");
	if (n)
		return n;
oom:
	curl_slist_free_all(l);
	return NULL;
}

static void setup(CURL *c, const struct rv_http_xfer *x, struct xstate *s, struct curl_slist *hl,
		  char *errbuf)
{
	bool upload =
	    x->body || x->body_from_fd || !strcmp(x->method, "PUT") || !strcmp(x->method, "POST");

	curl_easy_setopt(c, CURLOPT_URL, x->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 x->connect_timeout_ms > 0 ? x->connect_timeout_ms : 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, x->timeout_ms > 0 ? x->timeout_ms : 30000L);
	if (x->stall_ms > 0) {
		/* A stalled transfer fails after stall_ms without progress,
		 * however large the body: no fixed total for big bodies. */
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
				 x->stall_ms >= 2000 ? x->stall_ms / 1000 : 1L);
	}
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 15L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (x->user_agent)
		curl_easy_setopt(c, CURLOPT_USERAGENT, x->user_agent);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
	if (x->interruptible) {
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	}
	if (!strcmp(x->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (upload) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->body_len);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, s);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, s);
		if (strcmp(x->method, "PUT"))
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, x->method);
	} else if (strcmp(x->method, "GET")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, x->method);
	}
}

/* After curl_easy_perform: what happened, in the outcome. */
static int conclude(struct xstate *s, CURLcode cc, const char *errbuf)
{
	const struct rv_http_xfer *x = s->x;
	struct rv_http_outcome *o = s->o;
	char *loc = NULL;

	if (o->empty_range) {
		o->status = 206;
		return 0;
	}
	if (s->local_rc || cc == CURLE_ABORTED_BY_CALLBACK) {
		const char *why = s->local_rc ? s->local_msg : "interrupted by shutdown";
		int code = s->local_rc ? s->local_rc : RV_EINTR;
		if (x->what)
			return o->rc = rv_error(code, "%s: %s", x->what, why);
		return o->rc = rv_error(code, "%s %s: %s", x->method, x->url, why);
	}
	if (cc != CURLE_OK) {
		if (!o->status)
			o->status = s->hdr_status;
		o->curl = cc;
		snprintf(o->why, sizeof(o->why), "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
		return 0;
	}
	curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &o->status);
	if (curl_easy_getinfo(s->c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
		snprintf(o->location, sizeof(o->location), "%s", loc);
	if (x->out_to_fd && status_ok(o->status) && o->have_length && o->got != o->content_length) {
		/* curl normally reports a short body itself; belt and braces. */
		o->curl = CURLE_PARTIAL_FILE;
		snprintf(o->why, sizeof(o->why), "short body: %llu of %llu bytes",
			 (unsigned long long)o->got, (unsigned long long)o->content_length);
	}
	return 0;
}

int rv_http_perform(CURL *c, const struct rv_http_xfer *x, struct rv_http_outcome *o)
{
	struct curl_slist *hl;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct xstate s;
	CURL *own = NULL;
	CURLcode cc;
	int rc;

	memset(o, 0, sizeof(*o));
	memset(&s, 0, sizeof(s));
	s.x = x;
	s.o = o;
	s.limit = x->out_limit;
	if (!c) {
		c = own = rv_http_handle_new();
		if (!c)
			return o->rc = RV_EFAIL;
	} else {
		/* Reset keeps the live connections: keep-alive across requests. */
		curl_easy_reset(c);
	}
	s.c = c;
	hl = build_headers(x->headers);
	if (!hl) {
		rc = o->rc = rv_error(RV_EFAIL, "out of memory building request headers");
		goto out;
	}
	setup(c, x, &s, hl, errbuf);
	cc = curl_easy_perform(c);
	rc = conclude(&s, cc, errbuf);
out:
	/* The handle must not keep pointers to this call's stack. */
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	if (own)
		curl_easy_cleanup(own);
	return rc;
}

/* ---- small calls ---------------------------------------------------------- */

int rv_http_do(const struct rv_http_req *req, struct rv_http_resp *resp)
{
	struct rv_http_xfer x = {
	    .method = req->method,
	    .url = req->url,
	    .headers = req->headers,
	    .body = req->body,
	    .body_len = req->body_len,
	    .body_out = &resp->body,
	    .connect_timeout_ms = req->connect_timeout_ms,
	    .timeout_ms = req->timeout_ms,
	};
	struct rv_http_outcome o;
	int rc;

	rv_buf_init(&resp->body, req->max_response ? req->max_response : 16u << 20);
	resp->status = 0;
	rc = rv_http_perform(NULL, &x, &o);
	if (rc)
		return rc;
	if (o.curl != CURLE_OK)
		return rv_error(RV_ENET, "%s %s: %s", req->method, req->url, o.why);
	resp->status = o.status;
	return 0;
}

void rv_http_resp_release(struct rv_http_resp *resp)
{
	rv_buf_release(&resp->body);
}
