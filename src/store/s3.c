/* s3.c - the S3 replica-store backend.
 *
 * One request engine (s3_call) signs, sends and retries every request; the
 * object operations are thin layers on it.  Bodies stream: uploads of a
 * regular file are hashed and then sent with pread, part by part, and
 * downloads are written straight to the caller's fd.  Only pipes are
 * buffered, one part per upload thread and the one being read, each in an
 * unlinked temporary file ($TMPDIR) so that the heap stays flat whatever
 * the size (a database snapshot is a pipe).
 *
 * Threads: the store is shared.  curl easy handles come from a mutex-
 * protected pool of idle handles so that connections are reused and each
 * request runs on a handle no other thread touches.  Multipart uploads
 * hand their parts, in order, to a work queue (core/workq) of
 * parts_in_flight threads; the calling thread reads a pipe's parts. */
#include "store/s3_int.h"
#include "aws/creds.h"
#include "aws/sigv4.h"
#include "core/http.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/retry.h"
#include "core/util.h"
#include "core/workq.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S3_MAX_PARTS	10000
#define MP_THREADS_MAX	64 /* parts in flight at most, whatever parts_in_flight says */
#define S3_POOL_MAX	32
#define S3_BIG_BODY	(1u << 20)
#define S3_COPY_CHUNK	(256u << 10)
#define S3_PROBE_PREFIX ".revenant/probe/"

struct s3_store {
	char *region;
	char *base_url;	 /* scheme://host[:port], no trailing '/' */
	char *host;	 /* Host header value */
	char *path_base; /* "/bucket" (path style) or "" (virtual host) */
	char *endpoint_desc;
	struct rv_creds_provider *creds;
	bool own_creds;
	/* The server wants Content-MD5 on object uploads (a bucket with an
	 * Object Lock default retention): learnt from its first refusal. */
	atomic_bool md5_puts;
	pthread_mutex_t pool_mu;
	CURL *pool[S3_POOL_MAX];
	size_t npool;
};

static struct s3_store *st_of(struct rv_store *s)
{
	return s->impl;
}

/* ---- request description ------------------------------------------------ */

struct s3_req {
	const char *op;	    /* for messages and the IAM hint */
	const char *method; /* GET HEAD PUT POST DELETE */
	const char *key;    /* relative object key; NULL = bucket request */
	const char *shown;  /* what messages name instead of key (list prefix) */
	const char *query;  /* sorted, already encoded; NULL = none */
	const char *content_type;
	const char *if_none_match;
	const char *if_match;
	bool content_md5;     /* bucket configuration bodies */
	char md5[32];	      /* Content-MD5 of the body (base64), "" = none */
	const char *hdr_name; /* one more signed header (x-amz-...), or NULL */
	const char *hdr_value;
	/* Body: memory, or `body_fd` read with pread from body_off. */
	const void *body;
	uint64_t body_len;
	int body_fd; /* -1 = memory */
	uint64_t body_off;
	const char *payload_hash; /* hex; NULL = hash the memory body */
	/* Answer: a 2xx body goes to out_fd (from range_off) or into resp. */
	int out_fd;		       /* -1 = none */
	uint64_t range_off, range_len; /* range_len 0 = to the end */
	bool ranged;
	struct rv_buf *resp;
	bool error_in_200; /* a 2xx body may be <Error> (CompleteMultipartUpload) */
	bool no_retry;	   /* abort-on-cleanup: bounded separately */
};

struct s3_resp {
	long status;
	char etag[80];
	uint64_t content_length;
	bool have_cl;
	uint64_t total_size; /* from Content-Range */
	bool have_total;
	int64_t mtime_ms;
	uint64_t written;     /* bytes written to out_fd over all attempts */
	char resume_etag[80]; /* a resumed download must get the same object */
	struct rv_s3_error err;
	unsigned attempts;
};

/* ---- handle pool --------------------------------------------------------- */

static CURL *pool_get(struct s3_store *st)
{
	CURL *c = NULL;

	pthread_mutex_lock(&st->pool_mu);
	if (st->npool)
		c = st->pool[--st->npool];
	pthread_mutex_unlock(&st->pool_mu);
	/* rv_http_perform resets a reused handle; its connections stay. */
	return c ? c : rv_http_handle_new();
}

static void pool_put(struct s3_store *st, CURL *c)
{
	pthread_mutex_lock(&st->pool_mu);
	if (st->npool < S3_POOL_MAX) {
		st->pool[st->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&st->pool_mu);
	if (c)
		curl_easy_cleanup(c);
}

static bool status_ok(long st)
{
	return st >= 200 && st < 300;
}

/* ---- one attempt ---------------------------------------------------------- */

static int encode_path(struct rv_buf *out, struct rv_store *s, const char *key)
{
	struct s3_store *st = st_of(s);
	int rc;

	if (!key) {
		/* Bucket requests: "/bucket" path style, "/" virtual host. */
		return rv_buf_addstr(out, *st->path_base ? st->path_base : "/");
	}
	rc = rv_buf_addf(out, "%s/", st->path_base);
	if (!rc && *s->url.prefix)
		rc = rv_aws_uri_encode(out, s->url.prefix, strlen(s->url.prefix), true);
	if (!rc)
		rc = rv_aws_uri_encode(out, key, strlen(key), true);
	return rc;
}

static void content_md5(char out[32], const void *p, size_t n)
{
	unsigned char md[16];
	unsigned int len = sizeof(md);

	EVP_Digest(p, n, md, &len, EVP_md5(), NULL);
	EVP_EncodeBlock((unsigned char *)out, md, 16);
}

#define S3_MAX_HEADERS 14

/* The header lines of a signed request, each a fresh string in lines[]
 * (NULL-terminated; the caller frees them). */
static int sign_request(struct rv_store *s, const struct s3_req *r, const struct s3_resp *resp,
			const char *path, const char *range, char *lines[S3_MAX_HEADERS])
{
	struct s3_store *st = st_of(s);
	struct rv_aws_creds cr = {0};
	struct rv_sigv4_out sig = {0};
	struct rv_header sh[5];
	char md5[32];
	size_t nsh = 0, nl = 0;
	int rc;

	rc = rv_creds_get(st->creds, &cr);
	if (rc)
		return rc;
	sh[nsh++] = (struct rv_header){"Host", st->host};
	if (r->if_none_match)
		sh[nsh++] = (struct rv_header){"If-None-Match", r->if_none_match};
	if (r->hdr_name)
		sh[nsh++] = (struct rv_header){r->hdr_name, r->hdr_value};
	if (r->if_match)
		sh[nsh++] = (struct rv_header){"If-Match", r->if_match};
	else if (r->out_fd >= 0 && resp->written && resp->resume_etag[0])
		sh[nsh++] = (struct rv_header){"If-Match", resp->resume_etag};
	{
		struct rv_sigv4_req sr = {
		    .method = r->method,
		    .path = path,
		    .query = r->query,
		    .headers = sh,
		    .nheaders = nsh,
		    .payload_hash = r->payload_hash,
		    .body = r->body_fd < 0 ? r->body : NULL,
		    .body_len = r->body_fd < 0 ? (size_t)r->body_len : 0,
		};
		struct rv_sigv4_params sp = {
		    .region = st->region,
		    .service = "s3",
		    .when = time(NULL),
		    .s3 = true,
		};
		struct rv_aws_key k = {cr.access_key_id, cr.secret_access_key, cr.session_token};
		rc = rv_sigv4_sign(&sig, &sr, &sp, &k);
	}
	if (!rc) {
		for (size_t i = 0; i < nsh; i++)
			lines[nl++] = rv_asprintf("%s: %s", sh[i].name, sh[i].value);
		lines[nl++] = rv_asprintf("x-amz-date: %s", sig.amz_date);
		lines[nl++] = rv_asprintf("x-amz-content-sha256: %s", sig.content_sha256);
		lines[nl++] = rv_asprintf("Authorization: %s", sig.authorization);
		if (cr.session_token && *cr.session_token)
			lines[nl++] = rv_asprintf("X-Amz-Security-Token: %s", cr.session_token);
		if (r->content_type)
			lines[nl++] = rv_asprintf("Content-Type: %s", r->content_type);
		if (r->md5[0]) {
			lines[nl++] = rv_asprintf("Content-MD5: %s", r->md5);
		} else if (r->content_md5 && r->body_fd < 0 && r->body_len) {
			content_md5(md5, r->body, (size_t)r->body_len);
			lines[nl++] = rv_asprintf("Content-MD5: %s", md5);
		}
		if (range[0])
			lines[nl++] = rv_asprintf("Range: %s", range);
	}
	lines[nl] = NULL;
	rv_sigv4_out_release(&sig);
	rv_aws_creds_release(&cr);
	return rc;
}

/* What an answer said, from the outcome into resp (and o->why). */
static void read_answer(const struct s3_req *r, struct s3_resp *resp, struct rv_http_outcome *o,
			const struct rv_buf *errbody)
{
	resp->status = o->status;
	memcpy(resp->etag, o->etag, sizeof(resp->etag));
	resp->have_cl = o->have_length;
	resp->content_length = o->content_length;
	resp->have_total = o->have_total;
	resp->total_size = o->total_size;
	if (!o->last_modified[0] || rv_s3_parse_http_date(o->last_modified, &resp->mtime_ms))
		resp->mtime_ms = 0;
	resp->written += o->written;
	/* A resumed download must get the same object. */
	if (r->out_fd >= 0 && o->got && !resp->resume_etag[0])
		snprintf(resp->resume_etag, sizeof(resp->resume_etag), "%s", o->etag);
	if (o->empty_range || o->curl != CURLE_OK)
		return;
	if (status_ok(resp->status) && r->error_in_200 && r->resp &&
	    !rv_s3_parse_error(r->resp->data, r->resp->len, &resp->err)) {
		/* 200 with an <Error> body: the request failed after all. */
		resp->status = 200;
		snprintf(o->why, sizeof(o->why), "HTTP 200 with error %s", resp->err.code);
	} else if (!status_ok(resp->status)) {
		if (rv_s3_parse_error(errbody->data, errbody->len, &resp->err))
			memset(&resp->err, 0, sizeof(resp->err));
		snprintf(o->why, sizeof(o->why), "HTTP %ld%s%s", resp->status,
			 resp->err.code[0] ? " " : "", resp->err.code);
	}
}

/* Sign and send one attempt.  0 with *o telling what came back (a
 * transport failure in o->curl, or an answer in resp; o->why says what went
 * wrong, for a log line or the final message), or a negative RV_E* for a
 * failure on our side (message set). */
static int attempt(struct rv_store *s, struct s3_req *r, struct s3_resp *resp, long timeout_ms,
		   struct rv_http_outcome *o)
{
	struct s3_store *st = st_of(s);
	struct rv_buf path = RV_BUF_INIT(64u << 10);
	struct rv_buf errbody = RV_BUF_INIT(RV_S3_MAX_ERRBODY);
	char *lines[S3_MAX_HEADERS] = {NULL}, *url = NULL, *what = NULL;
	char range[64] = "";
	uint64_t limit = 0;
	CURL *c = NULL;
	int rc;

	memset(o, 0, sizeof(*o));
	resp->status = 0;
	resp->etag[0] = '\0';
	resp->have_cl = resp->have_total = false;
	if (r->resp)
		rv_buf_reset(r->resp);
	if (encode_path(&path, s, r->key)) {
		rc = rv_error(RV_EUSAGE, "s3 %s: the key is too long", r->op);
		goto out;
	}
	if (r->out_fd >= 0 && (r->ranged || resp->written)) {
		/* A retry resumes after what the fd already holds. */
		uint64_t from = r->range_off + resp->written;
		if (r->range_len) {
			uint64_t last = r->range_off + r->range_len - 1;
			snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)from,
				 (unsigned long long)last);
			limit = last + 1 - from;
		} else {
			snprintf(range, sizeof(range), "bytes=%llu-", (unsigned long long)from);
		}
	}
	rc = sign_request(s, r, resp, rv_buf_str(&path), range, lines);
	if (rc)
		goto out;
	url = rv_asprintf("%s%s%s%s", st->base_url, rv_buf_str(&path), r->query ? "?" : "",
			  r->query ? r->query : "");
	what = rv_asprintf("s3 %s '%s'", r->op, r->shown ? r->shown : "");
	c = pool_get(st);
	if (!c) {
		rc = RV_EFAIL;
		goto out;
	}
	{
		struct rv_http_xfer x = {
		    .method = r->method,
		    .url = url,
		    .what = what,
		    .headers = (const char *const *)lines,
		    .body = r->body,
		    .body_len = r->body_len,
		    .body_from_fd = r->body_fd >= 0,
		    .body_fd = r->body_fd,
		    .body_off = r->body_off,
		    .out_to_fd = r->out_fd >= 0,
		    .out_fd = r->out_fd,
		    .out_limit = limit,
		    .body_out = r->resp,
		    .err_out = &errbody,
		    .connect_timeout_ms = s->opts.connect_timeout_ms,
		    .timeout_ms = timeout_ms,
		    /* Big bodies have no total limit, only this stall limit. */
		    .stall_ms = s->opts.request_timeout_ms > 0 ? s->opts.request_timeout_ms : 60000,
		    /* Cleanup requests (abort multipart) run to completion on shutdown. */
		    .interruptible = !r->no_retry,
		};
		rc = rv_http_perform(c, &x, o);
	}
	if (!rc)
		read_answer(r, resp, o, &errbody);
out:
	if (c)
		pool_put(st, c);
	for (size_t i = 0; lines[i]; i++)
		free(lines[i]);
	free(url);
	free(what);
	rv_buf_release(&path);
	rv_buf_release(&errbody);
	return rc;
}

static bool curl_retryable(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SEND_FAIL_REWIND:
	case CURLE_UPLOAD_FAILED:
	case CURLE_WEIRD_SERVER_REPLY:
		return true;
	default:
		return false;
	}
}

static struct rv_s3_ctx ctx_of(struct rv_store *s, const struct s3_req *r)
{
	struct s3_store *st = st_of(s);

	return (struct rv_s3_ctx){
	    .op = r->op,
	    .key = r->shown,
	    .bucket = s->url.bucket,
	    .prefix = s->url.prefix,
	    .region = st->region,
	    .endpoint = s->url.endpoint,
	};
}

static struct rv_retry_policy policy_of(const struct rv_store *s)
{
	return (struct rv_retry_policy){
	    .max_attempts = s->opts.max_attempts,
	    .base_ms = s->opts.retry_base_ms,
	    .cap_ms = s->opts.retry_cap_ms,
	    .deadline_ms = s->opts.deadline_ms,
	};
}

/* The attempt's timeout: small requests get request_timeout, big bodies
 * rely on the low-speed limit; both stop at the deadline (`left`). */
static long attempt_timeout(const struct rv_store *s, const struct s3_req *r, int64_t left)
{
	bool big = r->body_len > S3_BIG_BODY || r->out_fd >= 0;
	long tmo = left > LONG_MAX / 2 ? LONG_MAX / 2 : (long)left;

	if (!big && s->opts.request_timeout_ms > 0 && s->opts.request_timeout_ms < tmo)
		tmo = s->opts.request_timeout_ms;
	return tmo < 1 ? 1 : tmo;
}

/* The one line for a request that ran out of attempts or time: what the
 * server (or the network) kept answering, how often, for how long. */
static int gave_up(struct rv_store *s, const struct s3_req *r, const struct s3_resp *resp,
		   const struct rv_retry *rt, CURLcode last_cc, const char *why)
{
	struct s3_store *st = st_of(s);
	double secs = (double)(rv_mono_ms() - rt->start_ms) / 1000.0;
	const char *shown = r->shown ? r->shown : "";

	if (rv_shutdown_requested() && !r->no_retry)
		return rv_error(RV_EINTR, "s3 %s '%s': interrupted by shutdown", r->op, shown);
	if (last_cc)
		return rv_error(RV_ENET,
				"s3 %s '%s': cannot reach %s: %s (%u attempt%s in %.1f s) — is "
				"the endpoint right and the server up?",
				r->op, shown, st->endpoint_desc, why, rt->attempt,
				rt->attempt == 1 ? "" : "s", secs);
	if (!strcmp(resp->err.code, "ConditionalRequestConflict")) {
		struct rv_s3_ctx c = ctx_of(s, r);
		return rv_s3_error_map(&c, 412, &resp->err);
	}
	return rv_error(RV_ENET,
			"s3 %s '%s': %s kept failing: %s%s%s (%u attempt%s in %.1f s) — "
			"the server is overloaded or down; retry later",
			r->op, shown, st->endpoint_desc, why, resp->err.message[0] ? ": " : "",
			resp->err.message, rt->attempt, rt->attempt == 1 ? "" : "s", secs);
}

/* The Content-MD5 of a request's body: memory, or pread from its fd. */
static int body_md5(struct s3_req *r)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[16];
	unsigned int mdlen = sizeof(md);
	char *buf = NULL;
	uint64_t done = 0;
	int rc = 0;

	if (!ctx)
		abort();
	EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
	if (r->body_fd < 0) {
		EVP_DigestUpdate(ctx, r->body, (size_t)r->body_len);
		done = r->body_len;
	} else {
		buf = rv_malloc(S3_COPY_CHUNK);
	}
	while (done < r->body_len) {
		size_t want = r->body_len - done > S3_COPY_CHUNK ? S3_COPY_CHUNK
								 : (size_t)(r->body_len - done);
		ssize_t n = pread(r->body_fd, buf, want, (off_t)(r->body_off + done));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = rv_error_errno(RV_EFAIL, n ? errno : EIO, "s3 %s '%s': read the input",
					    r->op, r->shown ? r->shown : "");
			break;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		done += (uint64_t)n;
	}
	if (!rc) {
		EVP_DigestFinal_ex(ctx, md, &mdlen);
		EVP_EncodeBlock((unsigned char *)r->md5, md, 16);
	}
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

/* An upload the server refused for want of Content-MD5 (S3 asks for it
 * in a bucket with an Object Lock default retention): true when it is
 * worth sending again with one, which every later upload then carries. */
static bool wants_md5(struct rv_store *s, struct s3_req *r, const struct s3_resp *resp)
{
	if (resp->status != 400 || strcmp(resp->err.code, "InvalidRequest") || r->md5[0] ||
	    strcmp(r->method, "PUT") || !strstr(resp->err.message, "Content-MD5"))
		return false;
	if (body_md5(r)) {
		rv_error_clear();
		return false;
	}
	if (!atomic_exchange(&st_of(s)->md5_puts, true))
		rv_log(RV_LOG_INFO,
		       "s3: the bucket wants Content-MD5 on uploads (Object Lock); "
		       "sending it from now on",
		       "store", s->describe, NULL);
	return true;
}

/* Content-MD5 up front once the server has asked for it. */
static int md5_if_wanted(struct rv_store *s, struct s3_req *r)
{
	return atomic_load(&st_of(s)->md5_puts) ? body_md5(r) : 0;
}

/* One S3 request with retries.  0 on a 2xx answer; otherwise the mapped
 * error (resp->status and resp->err tell the caller what S3 said, so that
 * it may treat, say, a 404 on delete as success). */
static int s3_call(struct rv_store *s, struct s3_req *r, struct s3_resp *resp)
{
	struct s3_store *st = st_of(s);
	struct rv_retry_policy pol = policy_of(s);
	struct rv_retry rt;
	bool refreshed = false;
	char why[CURL_ERROR_SIZE + 64] = "";
	/* The failure that made us retry: when the deadline cuts the last
	 * attempt short, that timeout is ours, and the operator needs what the
	 * server kept saying before it. */
	char prev_why[CURL_ERROR_SIZE + 64] = "";
	struct rv_s3_error prev_err;
	struct rv_http_outcome o;
	CURLcode last_cc = CURLE_OK, prev_cc = CURLE_OK;
	int rc;

	if (r->no_retry) {
		pol.max_attempts = 3;
		if (pol.deadline_ms <= 0 || pol.deadline_ms > 30000)
			pol.deadline_ms = 30000;
	}
	memset(&resp->err, 0, sizeof(resp->err));
	memset(&prev_err, 0, sizeof(prev_err));
	rv_retry_start(&rt, &pol);
	for (;;) {
		int64_t left = rv_retry_remaining_ms(&rt);
		long tmo = attempt_timeout(s, r, left);
		bool cut;

		if (!r->no_retry && rv_shutdown_requested())
			return rv_error(RV_EINTR, "s3 %s '%s': interrupted by shutdown", r->op,
					r->shown ? r->shown : "");
		if (why[0]) {
			memcpy(prev_why, why, sizeof(prev_why));
			prev_err = resp->err;
			prev_cc = last_cc;
		}
		why[0] = '\0';
		memset(&resp->err, 0, sizeof(resp->err));
		resp->attempts = rt.attempt;
		rc = attempt(s, r, resp, tmo, &o);
		if (rc)
			return rc;
		memcpy(why, o.why, sizeof(why));
		cut = o.curl == CURLE_OPERATION_TIMEDOUT && tmo >= left && prev_why[0];
		if (cut) {
			/* The deadline, not the server, ended this attempt. */
			memcpy(why, prev_why, sizeof(why));
			resp->err = prev_err;
			last_cc = prev_cc;
			break;
		}
		if (o.curl != CURLE_OK) {
			last_cc = o.curl;
			if (!curl_retryable(o.curl))
				break;
		} else if (status_ok(resp->status) && !resp->err.code[0]) {
			return 0;
		} else {
			enum rv_s3_verdict v = rv_s3_classify(resp->status, resp->err.code);
			last_cc = CURLE_OK;
			if (v == RV_S3_REFRESH_CREDS && !refreshed) {
				refreshed = true;
				rv_creds_invalidate(st->creds);
				rv_log(RV_LOG_WARN, "s3 credentials expired; refreshing", "op",
				       r->op, "key", r->shown ? r->shown : "", "reason", why, NULL);
				continue;
			}
			if (v != RV_S3_RETRY && wants_md5(s, r, resp))
				continue;
			if (v != RV_S3_RETRY) {
				struct rv_s3_ctx c = ctx_of(s, r);
				return rv_s3_error_map(&c, resp->status, &resp->err);
			}
		}
		if (!rv_retry_next(&rt))
			break;
		{
			char att[16], delay[24];
			snprintf(att, sizeof(att), "%u", rt.attempt);
			snprintf(delay, sizeof(delay), "%ld", rt.last_delay_ms);
			rv_log(RV_LOG_WARN, "s3 request failed; retrying", "op", r->op, "key",
			       r->shown ? r->shown : "", "attempt", att, "delay_ms", delay,
			       "reason", why, NULL);
		}
	}

	return gave_up(s, r, resp, &rt, last_cc, why);
}

static void req_init(struct s3_req *r, const char *op, const char *method, const char *key)
{
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->method = method;
	r->key = key;
	r->shown = key;
	r->body_fd = -1;
	r->out_fd = -1;
}

/* ---- put ------------------------------------------------------------------ */

static void set_cond(struct s3_req *r, const struct rv_put_opts *po)
{
	if (!po)
		return;
	if (po->cond == RV_PUT_IF_ABSENT)
		r->if_none_match = "*";
	else if (po->cond == RV_PUT_IF_MATCH)
		r->if_match = po->if_match;
	r->content_type = po->content_type;
}

static void put_done(struct rv_put_opts *po, const char *etag)
{
	if (po)
		snprintf(po->etag_out, sizeof(po->etag_out), "%s", etag);
}

/* SHA-256 hex of [off, off+len) of a regular file, with pread. */
static int hash_range(int fd, uint64_t off, uint64_t len, char hex[RV_SHA256_HEX], const char *key)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[RV_SHA256_LEN];
	unsigned int mdlen = sizeof(md);
	char *buf = rv_malloc(S3_COPY_CHUNK);
	uint64_t done = 0;
	int rc = 0;

	if (!ctx)
		abort();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while (done < len) {
		size_t want = len - done > S3_COPY_CHUNK ? S3_COPY_CHUNK : (size_t)(len - done);
		ssize_t n = pread(fd, buf, want, (off_t)(off + done));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = rv_error_errno(RV_EFAIL, errno, "s3 put '%s': read the input", key);
			break;
		}
		if (n == 0) {
			rc = rv_error(
			    RV_EFAIL, "s3 put '%s': the input ended at %llu bytes, %llu expected",
			    key, (unsigned long long)(off + done), (unsigned long long)(off + len));
			break;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		done += (uint64_t)n;
	}
	if (!rc) {
		EVP_DigestFinal_ex(ctx, md, &mdlen);
		rv_hex(hex, md, sizeof(md));
	}
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

/* Where a put's bytes come from. */
struct src {
	int fd;		  /* regular file (pread) or pipe (read) */
	bool regular;	  /* pread from offset 0 */
	const char *mem;  /* put_buf, or a pipe's read-ahead */
	uint64_t total;	  /* regular/mem: the size; pipe: bytes read so far */
	uint64_t mem_pos; /* pipe: consumed part of the read-ahead */
	uint64_t mem_len;
	uint64_t pipe_limit;	     /* pipe: bytes the caller allows (UINT64_MAX = EOF) */
	const struct rv_put_src *rd; /* pipe: read this instead of fd (put_src) */
	char *ahead;		     /* pipe: the read-ahead's allocation, freed once consumed */
	bool pipe;
	bool eof;
	/* pipe: a read-ahead of more than AHEAD_MEM, in a temporary file
	 * instead (-1: none; ahead_len bytes, ahead_pos consumed) */
	int ahead_fd;
	uint64_t ahead_len, ahead_pos;
};

static int single_put(struct rv_store *s, const char *key, struct src *in, struct rv_put_opts *po)
{
	struct s3_req r;
	struct s3_resp resp = {0};
	char hash[RV_SHA256_HEX];
	int rc;

	req_init(&r, "put", "PUT", key);
	set_cond(&r, po);
	if (!r.content_type)
		r.content_type = "application/octet-stream";
	if (in->regular) {
		rc = hash_range(in->fd, 0, in->total, hash, key);
		if (rc)
			return rc;
		r.body_fd = in->fd;
		r.body_len = in->total;
		r.payload_hash = hash;
	} else {
		r.body = in->mem;
		r.body_len = in->mem_len;
	}
	rc = md5_if_wanted(s, &r);
	if (!rc)
		rc = s3_call(s, &r, &resp);
	if (!rc)
		put_done(po, resp.etag);
	return rc;
}

struct mp {
	struct rv_store *s;
	const char *key;
	const char *upload_id;
	struct src *in; /* a pipe's read position: the submitter's alone */
	uint64_t part_size;
	unsigned nparts; /* known total (regular/mem); 0 for pipes until EOF */
	struct rv_workq q;
	pthread_mutex_t mu; /* etags: grown by the submitter, filled by the jobs */
	char **etags;
	unsigned etags_alloc;
};

/* One part for the queue: a pipe's bytes in the temporary file `fd`
 * (owned; -1 otherwise), else the range [off, off + len) of the file or
 * buffer. */
struct mp_part {
	unsigned pn;
	uint64_t off, len;
	int fd;
};

static ssize_t src_read(struct src *in, void *buf, size_t n)
{
	return in->rd ? in->rd->read(in->rd->ud, buf, n) : read(in->fd, buf, n);
}

/* The chunk a pipe's part is copied through into its temporary file. */
#define MP_SPOOL_CHUNK (256u << 10)

/* Pipe: up to `cap` bytes of the input into `buf` (read-ahead first); less
 * only at its end.  Pipe reads are sequential: only the submitter makes
 * them; the uploads still overlap. */
static int pipe_fill(struct mp *m, char *buf, uint64_t cap, uint64_t *len)
{
	struct src *in = m->in;
	uint64_t n = 0;

	while (n < cap && in->mem_pos < in->mem_len) {
		uint64_t take = in->mem_len - in->mem_pos;
		if (take > cap - n)
			take = cap - n;
		memcpy(buf + n, in->mem + in->mem_pos, (size_t)take);
		in->mem_pos += take;
		n += take;
	}
	if (in->ahead && in->mem_pos >= in->mem_len) { /* held no longer */
		free(in->ahead);
		in->ahead = NULL;
		in->mem = NULL;
		in->mem_pos = in->mem_len = 0;
	}
	while (in->ahead_fd >= 0 && n < cap && in->ahead_pos < in->ahead_len) {
		uint64_t take = in->ahead_len - in->ahead_pos;
		ssize_t got;

		if (take > cap - n)
			take = cap - n;
		got = pread(in->ahead_fd, buf + n, (size_t)take, (off_t)in->ahead_pos);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			return rv_error_errno(RV_EFAIL, got ? errno : EIO,
					      "s3 put '%s': read the spooled input", m->key);
		in->ahead_pos += (uint64_t)got;
		n += (uint64_t)got;
	}
	if (in->ahead_fd >= 0 && in->ahead_pos >= in->ahead_len) {
		close(in->ahead_fd);
		in->ahead_fd = -1;
	}
	while (n < cap && !in->eof) {
		uint64_t want = cap - n;
		ssize_t got;
		if (in->pipe_limit != UINT64_MAX && want > in->pipe_limit - in->total)
			want = in->pipe_limit - in->total;
		if (!want) {
			in->eof = true;
			break;
		}
		got = src_read(in, buf + n, (size_t)want);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1)
			return rv_error_errno(RV_EFAIL, errno, "s3 put '%s': read the input",
					      m->key);
		if (got == 0) {
			in->eof = true;
			if (in->pipe_limit != UINT64_MAX && in->total < in->pipe_limit)
				return rv_error(RV_EFAIL,
						"s3 put '%s': the input ended at %llu bytes, %llu "
						"expected",
						m->key, (unsigned long long)in->total,
						(unsigned long long)in->pipe_limit);
			break;
		}
		n += (uint64_t)got;
		in->total += (uint64_t)got;
	}
	*len = n;
	return 0;
}

/* Pipe: the next part into a new temporary file (*fd, -1 when the input
 * had ended), through `chunk`.  A part waiting for its upload lies in the
 * page cache, not the heap: a piped upload of any size (a database
 * snapshot) holds one chunk of memory, not (parts_in_flight + 1) parts. */
static int pipe_spool(struct mp *m, char *chunk, int *fd, uint64_t *len)
{
	uint64_t n = 0, got = 0;
	int rc;

	*fd = -1;
	*len = 0;
	do {
		uint64_t want =
		    m->part_size - n < MP_SPOOL_CHUNK ? m->part_size - n : MP_SPOOL_CHUNK;

		if ((rc = pipe_fill(m, chunk, want, &got)) || !got)
			break;
		if (*fd == -1 && (rc = rv_tmpfile(fd)))
			break;
		if ((rc = rv_write_all(*fd, chunk, (size_t)got))) /* "write: <why>" */
			break;
		n += got;
	} while (n < m->part_size && got);
	*len = n;
	if (rc && *fd != -1) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

static int upload_part(struct mp *m, unsigned pn, const char *mem, int fd, uint64_t off,
		       uint64_t len, char **etag_out)
{
	char q[1200], hash[RV_SHA256_HEX];
	struct rv_buf enc = RV_BUF_INIT(1024);
	struct s3_req r;
	struct s3_resp resp = {0};
	int rc;

	if (fd >= 0) {
		rc = hash_range(fd, off, len, hash, m->key);
		if (rc)
			return rc;
	} else {
		rv_sha256_hex(hash, mem, (size_t)len);
	}
	rc = rv_aws_uri_encode(&enc, m->upload_id, strlen(m->upload_id), false);
	if (rc)
		return rv_error(RV_ECORRUPT, "s3 put '%s': the upload id is too long", m->key);
	snprintf(q, sizeof(q), "partNumber=%u&uploadId=%s", pn, rv_buf_str(&enc));
	rv_buf_release(&enc);
	req_init(&r, "upload-part", "PUT", m->key);
	r.query = q;
	r.payload_hash = hash;
	r.body_len = len;
	if (fd >= 0) {
		r.body_fd = fd;
		r.body_off = off;
	} else {
		r.body = mem;
	}
	rc = md5_if_wanted(m->s, &r);
	if (!rc)
		rc = s3_call(m->s, &r, &resp);
	if (rc)
		return rc;
	if (!resp.etag[0])
		return rv_error(RV_ECORRUPT, "s3 put '%s': part %u was accepted without an ETag",
				m->key, pn);
	*etag_out = rv_strdup(resp.etag);
	return 0;
}

static int mp_job(void *ctx, void *arg)
{
	struct mp *m = ctx;
	struct mp_part *p = arg;
	char *etag = NULL;
	int rc = 0;

	/* After a failure or a shutdown, the parts still queued are dropped. */
	if (!rv_workq_failed(&m->q) && !rv_shutdown_requested()) {
		if (p->fd != -1)
			rc = upload_part(m, p->pn, NULL, p->fd, 0, p->len, &etag);
		else if (m->in->regular)
			rc = upload_part(m, p->pn, NULL, m->in->fd, p->off, p->len, &etag);
		else
			rc = upload_part(m, p->pn, m->in->mem + p->off, -1, 0, p->len, &etag);
	}
	if (etag) {
		pthread_mutex_lock(&m->mu);
		m->etags[p->pn - 1] = etag;
		pthread_mutex_unlock(&m->mu);
	}
	if (p->fd != -1)
		close(p->fd);
	free(p);
	return rc;
}

/* Hands the parts to the queue in order, reading a pipe here, one part
 * ahead of the uploads; `*sent` counts the parts handed out.  A failure
 * found here is the queue's (rv_workq_fail), so the first one wins. */
static void submit_parts(struct mp *m, unsigned *sent)
{
	struct src *in = m->in;
	char *chunk = in->pipe ? rv_malloc(MP_SPOOL_CHUNK) : NULL;

	*sent = 0;
	for (unsigned pn = 1;; pn++) {
		struct mp_part *p;
		int rc = 0;

		if (rv_workq_failed(&m->q) || rv_shutdown_requested())
			break;
		if (in->pipe ? in->eof && in->mem_pos >= in->mem_len && in->ahead_fd < 0
			     : pn > m->nparts)
			break;
		p = rv_calloc(1, sizeof(*p));
		p->pn = pn;
		p->fd = -1;
		if (!in->pipe) {
			p->off = (uint64_t)(pn - 1) * m->part_size;
			p->len =
			    in->total - p->off < m->part_size ? in->total - p->off : m->part_size;
		} else {
			rc = pipe_spool(m, chunk, &p->fd, &p->len);
			if (!rc && !p->len) {
				free(p);
				break;
			}
			if (!rc && pn > S3_MAX_PARTS)
				rc = rv_error(RV_EUSAGE,
					      "s3 put '%s': more than %u parts — raise part_size",
					      m->key, S3_MAX_PARTS);
		}
		if (!rc && pn > m->etags_alloc) {
			unsigned na = m->etags_alloc ? m->etags_alloc * 2 : 64;
			while (na < pn)
				na *= 2;
			pthread_mutex_lock(&m->mu);
			m->etags = rv_realloc(m->etags, na * sizeof(*m->etags));
			memset(m->etags + m->etags_alloc, 0,
			       (na - m->etags_alloc) * sizeof(*m->etags));
			m->etags_alloc = na;
			pthread_mutex_unlock(&m->mu);
		}
		if (rc)
			rv_workq_fail(&m->q, rc);
		if (rc || rv_workq_submit(&m->q, p)) {
			if (p->fd != -1) /* refused: still ours */
				close(p->fd);
			free(p);
			break;
		}
		(*sent)++;
	}
	free(chunk);
}

static char *upload_query(const char *upload_id, const char *key)
{
	struct rv_buf enc = RV_BUF_INIT(1024);
	char *q;

	if (rv_aws_uri_encode(&enc, upload_id, strlen(upload_id), false)) {
		rv_buf_release(&enc);
		(void)key;
		return NULL;
	}
	q = rv_asprintf("uploadId=%s", rv_buf_str(&enc));
	rv_buf_release(&enc);
	return q;
}

/* Best effort: the object never becomes visible without Complete, but
 * parts left behind cost storage until a lifecycle rule removes them. */
static void abort_upload(struct rv_store *s, const char *key, const char *upload_id)
{
	char saved[1024];
	char *q = upload_query(upload_id, key);
	struct s3_req r;
	struct s3_resp resp = {0};
	int rc;

	if (!q)
		return;
	snprintf(saved, sizeof(saved), "%s", rv_errmsg());
	req_init(&r, "abort-multipart", "DELETE", key);
	r.query = q;
	r.no_retry = true;
	rc = s3_call(s, &r, &resp);
	if (rc && resp.status != 404)
		rv_log(RV_LOG_WARN,
		       "s3 could not abort a multipart upload; its parts stay stored until "
		       "an AbortIncompleteMultipartUpload lifecycle rule removes them",
		       "key", key, "reason", rv_errmsg(), NULL);
	free(q);
	/* The caller reports the failure that made us abort, not the abort's. */
	rv_error(RV_EFAIL, "%s", saved);
}

static int complete_upload(struct rv_store *s, struct mp *m, unsigned nparts,
			   struct rv_put_opts *po)
{
	struct rv_buf body_resp = RV_BUF_INIT(1u << 20);
	char *body = NULL, *q = upload_query(m->upload_id, m->key);
	struct s3_req r;
	struct s3_resp resp = {0};
	struct rv_s3_error err;
	char etag[80];
	int rc;

	for (unsigned i = 0; i < nparts; i++)
		if (!m->etags[i]) {
			free(q);
			return rv_error(RV_EFAIL, "s3 put '%s': part %u has no ETag", m->key,
					i + 1);
		}
	body = rv_s3_complete_body(m->etags, nparts);
	if (!q || !body) {
		free(q);
		free(body);
		return rv_error(RV_EFAIL, "s3 put '%s': cannot build the complete request", m->key);
	}
	req_init(&r, "complete-multipart", "POST", m->key);
	set_cond(&r, po);
	r.content_type = "application/xml";
	r.query = q;
	r.body = body;
	r.body_len = strlen(body);
	r.resp = &body_resp;
	r.error_in_200 = true;
	rc = s3_call(s, &r, &resp);
	if (!rc) {
		rc = rv_s3_parse_complete(body_resp.data, body_resp.len, etag, sizeof(etag), &err);
		if (rc == RV_ECORRUPT && err.code[0]) {
			struct rv_s3_ctx c = ctx_of(s, &r);
			rc = rv_s3_error_map(&c, 200, &err);
		}
		if (!rc)
			put_done(po, etag);
	}
	rv_buf_release(&body_resp);
	free(body);
	free(q);
	return rc;
}

static int multipart_put(struct rv_store *s, const char *key, struct src *in,
			 struct rv_put_opts *po)
{
	struct rv_buf body = RV_BUF_INIT(64u << 10);
	struct s3_req r;
	struct s3_resp resp = {0};
	struct mp m;
	unsigned nth, nparts;
	char *upload_id = NULL;
	int rc;

	memset(&m, 0, sizeof(m));
	m.s = s;
	m.key = key;
	m.in = in;
	m.part_size = s->opts.part_size ? s->opts.part_size : 8u << 20;
	if (!in->pipe) {
		uint64_t np = (in->total + m.part_size - 1) / m.part_size;
		if (np > S3_MAX_PARTS) {
			/* Grow parts (in whole MiB) rather than fail a big file. */
			m.part_size = (in->total + S3_MAX_PARTS - 1) / S3_MAX_PARTS;
			m.part_size = (m.part_size + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
			np = (in->total + m.part_size - 1) / m.part_size;
		}
		m.nparts = (unsigned)np;
	}

	req_init(&r, "create-multipart", "POST", key);
	r.query = "uploads=";
	r.content_type = po && po->content_type ? po->content_type : "application/octet-stream";
	r.resp = &body;
	rc = s3_call(s, &r, &resp);
	if (!rc)
		rc = rv_s3_parse_upload_id(body.data, body.len, &upload_id);
	rv_buf_release(&body);
	if (rc)
		return rc;
	m.upload_id = upload_id;
	pthread_mutex_init(&m.mu, NULL);

	nth = s->opts.parts_in_flight ? s->opts.parts_in_flight : 4;
	if (nth > MP_THREADS_MAX)
		nth = MP_THREADS_MAX;
	if (!in->pipe && nth > m.nparts)
		nth = m.nparts;
	/* No part waits for a thread: `nth` in flight (a pipe's next part is
	 * read meanwhile into a temporary file, so nth + 1 part files). */
	rv_workq_init(&m.q, nth, 0, mp_job, &m);
	submit_parts(&m, &nparts);
	rc = rv_workq_wait(&m.q);
	rv_workq_release(&m.q);
	if (!rc && rv_shutdown_requested())
		rc = rv_error(RV_EINTR, "s3 put '%s': interrupted by shutdown", key);
	if (!rc)
		rc = complete_upload(s, &m, nparts, po);
	if (rc)
		abort_upload(s, key, upload_id); /* keeps the message of rc */
	for (unsigned i = 0; i < m.etags_alloc; i++)
		free(m.etags[i]);
	free(m.etags);
	pthread_mutex_destroy(&m.mu);
	free(upload_id);
	return rc;
}

static uint64_t threshold_of(const struct rv_store *s)
{
	uint64_t part = s->opts.part_size ? s->opts.part_size : 8u << 20;

	return s->opts.multipart_threshold ? s->opts.multipart_threshold : part;
}

static int s3_put_buf(struct rv_store *s, const char *key, const void *data, size_t len,
		      struct rv_put_opts *po)
{
	struct src in = {.fd = -1, .mem = data, .total = len, .mem_len = len};

	if (len <= threshold_of(s))
		return single_put(s, key, &in, po);
	return multipart_put(s, key, &in, po);
}

/* A pipe's read-ahead kept on the heap; a longer one (up to a threshold's
 * worth: 8 MiB by default) goes on into a temporary file, which the page
 * cache holds instead of the heap — a piped snapshot's peak RSS had been
 * 8 MiB higher for it (bench/README.md). */
#define AHEAD_MEM (1u << 20)

/* Up to `want` bytes of the pipe into `buf`; fewer only at its end. */
static int ahead_read(struct src *in, const char *key, char *buf, uint64_t want, uint64_t *got)
{
	*got = 0;
	while (*got < want) {
		ssize_t n = src_read(in, buf + *got, (size_t)(want - *got));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return rv_error_errno(RV_EFAIL, errno, "s3 put '%s': read the input", key);
		if (n == 0) {
			in->eof = true;
			break;
		}
		*got += (uint64_t)n;
	}
	return 0;
}

/* The read-ahead past AHEAD_MEM: what `in` holds in memory and the rest,
 * up to `cap` bytes in all, into a temporary file. */
static int ahead_spill(struct src *in, const char *key, uint64_t cap)
{
	int fd, rc;

	if ((rc = rv_tmpfile(&fd)))
		return rc;
	in->ahead_len = 0;
	for (;;) {
		if ((rc = rv_write_all(fd, in->ahead, (size_t)in->mem_len))) {
			close(fd);
			return rv_error(rc, "s3 put '%s': spool the input: %s", key, rv_errmsg());
		}
		in->ahead_len += in->mem_len;
		if (in->eof || in->ahead_len >= cap)
			break;
		rc = ahead_read(in, key, in->ahead,
				cap - in->ahead_len < AHEAD_MEM ? cap - in->ahead_len : AHEAD_MEM,
				&in->mem_len);
		if (rc) {
			close(fd);
			return rc;
		}
	}
	free(in->ahead);
	in->ahead = NULL;
	in->mem_len = 0;
	in->ahead_fd = fd;
	return 0;
}

/* A pipe or a put_src (`in` has fd or rd): read ahead one threshold's
 * worth (+1) to choose the method. */
static int put_stream(struct rv_store *s, const char *key, struct src *in, uint64_t size,
		      struct rv_put_opts *po)
{
	uint64_t thr = threshold_of(s), cap, mcap;
	int rc;

	in->pipe = true;
	in->pipe_limit = size;
	in->ahead_fd = -1;
	cap = size < thr + 1 ? size : thr + 1;
	mcap = cap < AHEAD_MEM ? cap : AHEAD_MEM;
	in->ahead = rv_malloc((size_t)(mcap ? mcap : 1));
	rc = ahead_read(in, key, in->ahead, mcap, &in->mem_len);
	if (!rc && !in->eof && in->mem_len < cap)
		rc = ahead_spill(in, key, cap);
	in->total = in->ahead_fd >= 0 ? in->ahead_len : in->mem_len;
	in->mem = in->ahead;
	if (!rc && size != UINT64_MAX && in->total == size)
		in->eof = true;
	if (!rc && in->eof && size != UINT64_MAX && in->total < size)
		rc = rv_error(RV_EFAIL, "s3 put '%s': the input ended at %llu bytes, %llu expected",
			      key, (unsigned long long)in->total, (unsigned long long)size);
	if (!rc && in->eof && in->total <= thr) {
		struct src f = {.fd = in->ahead_fd, .regular = true, .total = in->ahead_len};

		in->pipe = false;
		rc = single_put(s, key, in->ahead_fd >= 0 ? &f : in, po);
	} else if (!rc) {
		rc = multipart_put(s, key, in, po);
	}
	free(in->ahead);
	if (in->ahead_fd >= 0)
		close(in->ahead_fd);
	return rc;
}

static int s3_put_fd(struct rv_store *s, const char *key, int fd, uint64_t size,
		     struct rv_put_opts *po)
{
	uint64_t thr = threshold_of(s);
	struct src in = {.fd = fd};
	struct stat stt;

	if (fstat(fd, &stt) == -1)
		return rv_error_errno(RV_EFAIL, errno, "s3 put '%s': stat the input", key);
	if (S_ISREG(stt.st_mode)) {
		in.regular = true;
		in.total = size == UINT64_MAX ? (uint64_t)stt.st_size : size;
		if (in.total > (uint64_t)stt.st_size)
			return rv_error(
			    RV_EFAIL, "s3 put '%s': the input has %llu bytes, %llu expected", key,
			    (unsigned long long)stt.st_size, (unsigned long long)in.total);
		return in.total <= thr ? single_put(s, key, &in, po)
				       : multipart_put(s, key, &in, po);
	}
	return put_stream(s, key, &in, size, po);
}

static int s3_put_src(struct rv_store *s, const char *key, const struct rv_put_src *src,
		      uint64_t size, struct rv_put_opts *po)
{
	struct src in = {.fd = -1, .rd = src};

	return put_stream(s, key, &in, size, po);
}

/* ---- get, head, list, delete ------------------------------------------------ */

static const struct rv_store_ops s3_ops;

static void info_from(struct rv_obj_info *out, const char *key, const struct s3_resp *r,
		      uint64_t size)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	out->key = rv_strdup(key);
	out->size = size;
	out->mtime_ms = r->mtime_ms;
	snprintf(out->etag, sizeof(out->etag), "%s", r->etag);
}

/* HEAD, or with `vquery` ("versionId=...", encoded) HEAD of one version. */
static int head_obj(struct rv_store *s, const char *key, const char *vquery,
		    struct rv_obj_info *out)
{
	struct s3_req r;
	struct s3_resp resp = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	if (vquery)
		req_init(&r, "head-version", "HEAD", key);
	else
		req_init(&r, "head", "HEAD", key);
	r.query = vquery;
	rc = s3_call(s, &r, &resp);
	if (rc)
		return rc;
	if (!resp.have_cl)
		return rv_error(RV_ECORRUPT, "s3 head '%s': no Content-Length in the answer", key);
	info_from(out, key, &resp, resp.content_length);
	return 0;
}

static int s3_head(struct rv_store *s, const char *key, struct rv_obj_info *out)
{
	return head_obj(s, key, NULL, out);
}

static int get_obj(struct rv_store *s, const char *key, const char *vquery, int fd, uint64_t off,
		   uint64_t len, struct rv_obj_info *info_out)
{
	struct s3_req r;
	struct s3_resp resp = {0};
	uint64_t size, want;
	int rc;

	if (info_out)
		memset(info_out, 0, sizeof(*info_out));
	if (vquery)
		req_init(&r, "get-version", "GET", key);
	else
		req_init(&r, "get", "GET", key);
	r.query = vquery;
	r.out_fd = fd;
	r.range_off = off;
	r.range_len = len;
	r.ranged = off || len;
	rc = s3_call(s, &r, &resp);
	if (rc && resp.status == 416 && off == 0 && !resp.written) {
		/* A range on an empty object has nothing to satisfy it. */
		struct rv_obj_info hi;
		char saved[512];
		snprintf(saved, sizeof(saved), "%s", rv_errmsg());
		if (!head_obj(s, key, vquery, &hi) && hi.size == 0) {
			if (info_out)
				*info_out = hi;
			else
				rv_obj_info_release(&hi);
			return 0;
		}
		rv_obj_info_release(&hi);
		return rv_error(rc, "%s", saved);
	}
	if (rc)
		return rc;
	if (r.ranged && resp.status == 200 && off > 0)
		return rv_error(RV_ECORRUPT, "s3 get '%s': the server ignored the Range header",
				key);
	size = resp.have_total ? resp.total_size : resp.content_length;
	if (!resp.have_total && !resp.have_cl)
		return rv_error(RV_ECORRUPT, "s3 get '%s': the answer has no length", key);
	want = off >= size ? 0 : size - off;
	if (len && len < want)
		want = len;
	if (resp.written != want)
		return rv_error(RV_ECORRUPT, "s3 get '%s': got %llu bytes, expected %llu", key,
				(unsigned long long)resp.written, (unsigned long long)want);
	info_from(info_out, key, &resp, size);
	return 0;
}

static int s3_get_fd(struct rv_store *s, const char *key, int fd, uint64_t off, uint64_t len,
		     struct rv_obj_info *info_out)
{
	return get_obj(s, key, NULL, fd, off, len, info_out);
}

/* "versionId=<id>", encoded, for the one-version requests. */
static char *version_query(const char *version_id)
{
	struct rv_buf q = RV_BUF_INIT(4096);
	char *out = NULL;

	if (!rv_buf_addstr(&q, "versionId=") &&
	    !rv_aws_uri_encode(&q, version_id, strlen(version_id), false))
		out = rv_strdup(rv_buf_str(&q));
	rv_buf_release(&q);
	return out;
}

int rv_s3_get_version(struct rv_store *s, const char *key, const char *version_id, int fd,
		      uint64_t off, uint64_t len, struct rv_obj_info *info_out)
{
	char *q = version_query(version_id);
	int rc;

	if (!q)
		return rv_error(RV_ECORRUPT, "s3 get '%s': the version id is too long", key);
	rc = get_obj(s, key, q, fd, off, len, info_out);
	free(q);
	return rc;
}

int rv_s3_head_version(struct rv_store *s, const char *key, const char *version_id,
		       struct rv_obj_info *out)
{
	char *q = version_query(version_id);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!q)
		return rv_error(RV_ECORRUPT, "s3 head '%s': the version id is too long", key);
	rc = head_obj(s, key, q, out);
	free(q);
	return rc;
}

int rv_s3_list_versions(struct rv_store *s, const char *prefix, const char *key_marker,
			const char *vid_marker, bool dirs, unsigned max, struct rv_buf *body)
{
	struct rv_buf q = RV_BUF_INIT(16384);
	char *full = rv_asprintf("%s%s", s->url.prefix, prefix);
	struct s3_req r;
	struct s3_resp resp = {0};
	int rc = 0;

	/* Parameters in canonical (sorted) order; key-marker is a full key. */
	if (dirs)
		rc = rv_buf_addstr(&q, "delimiter=%2F&");
	if (!rc && key_marker && *key_marker) {
		rc = rv_buf_addstr(&q, "key-marker=");
		if (!rc)
			rc = rv_aws_uri_encode(&q, key_marker, strlen(key_marker), false);
		if (!rc)
			rc = rv_buf_addstr(&q, "&");
	}
	if (!rc)
		rc = rv_buf_addf(&q, "max-keys=%u&prefix=", max);
	if (!rc)
		rc = rv_aws_uri_encode(&q, full, strlen(full), false);
	if (!rc && key_marker && *key_marker && vid_marker && *vid_marker) {
		rc = rv_buf_addstr(&q, "&version-id-marker=");
		if (!rc)
			rc = rv_aws_uri_encode(&q, vid_marker, strlen(vid_marker), false);
	}
	if (!rc)
		rc = rv_buf_addstr(&q, "&versions=");
	if (rc) {
		rc =
		    rv_error(RV_EUSAGE, "s3 list versions '%s': prefix or marker too long", prefix);
		goto out;
	}
	req_init(&r, "list-versions", "GET", NULL);
	r.shown = prefix;
	r.query = rv_buf_str(&q);
	r.resp = body;
	rc = s3_call(s, &r, &resp);
out:
	free(full);
	rv_buf_release(&q);
	return rc;
}

bool rv_s3_is(const struct rv_store *s)
{
	return s && s->ops == &s3_ops;
}

/* ListObjectsV2; `dirs` asks with delimiter '/' for the CommonPrefixes. */
static int list_call(struct rv_store *s, const char *prefix, const char *token, unsigned max,
		     bool dirs, struct rv_list_page *out)
{
	struct rv_buf q = RV_BUF_INIT(8192), body = RV_BUF_INIT(RV_S3_MAX_XML);
	char *full = rv_asprintf("%s%s", s->url.prefix, prefix);
	struct s3_req r;
	struct s3_resp resp = {0};
	int rc = 0;

	memset(out, 0, sizeof(*out));
	/* Parameters in canonical (sorted) order. */
	if (token) {
		rc = rv_buf_addstr(&q, "continuation-token=");
		if (!rc)
			rc = rv_aws_uri_encode(&q, token, strlen(token), false);
		if (!rc)
			rc = rv_buf_addstr(&q, "&");
	}
	if (!rc)
		rc = rv_buf_addf(
		    &q, "%slist-type=2&max-keys=%u&prefix=", dirs ? "delimiter=%2F&" : "", max);
	if (!rc)
		rc = rv_aws_uri_encode(&q, full, strlen(full), false);
	if (rc) {
		rc = rv_error(RV_EUSAGE, "s3 list '%s': prefix or token too long", prefix);
		goto out;
	}
	req_init(&r, "list", "GET", NULL);
	r.shown = prefix;
	r.query = rv_buf_str(&q);
	r.resp = &body;
	rc = s3_call(s, &r, &resp);
	if (!rc)
		rc = dirs ? rv_s3_parse_list_dirs(body.data, body.len, s->url.prefix, out)
			  : rv_s3_parse_list(body.data, body.len, s->url.prefix, out);
out:
	free(full);
	rv_buf_release(&q);
	rv_buf_release(&body);
	return rc;
}

static int s3_list_page(struct rv_store *s, const char *prefix, const char *token, unsigned max,
			struct rv_list_page *out)
{
	return list_call(s, prefix, token, max, false, out);
}

static int s3_list_dirs_page(struct rv_store *s, const char *prefix, const char *token,
			     unsigned max, struct rv_list_page *out)
{
	return list_call(s, prefix, token, max, true, out);
}

static int s3_del(struct rv_store *s, const char *key)
{
	struct s3_req r;
	struct s3_resp resp = {0};
	int rc;

	req_init(&r, "delete", "DELETE", key);
	rc = s3_call(s, &r, &resp);
	if (rc == RV_ENOTFOUND && strcmp(resp.err.code, "NoSuchBucket")) {
		rv_error_clear();
		return 0;
	}
	return rc;
}

/* ---- capabilities ------------------------------------------------------------ */

static int probe_put(struct rv_store *s, const char *key, enum rv_put_cond cond, const char *etag,
		     bool *lost, char *etag_out)
{
	struct rv_put_opts po = {.cond = cond, .if_match = etag};
	int rc = s3_put_buf(s, key, "revenant capability probe\n", 26, &po);

	*lost = rc == RV_EPRECOND;
	if (rc == RV_EPRECOND) {
		rv_error_clear();
		return 0;
	}
	if (!rc && etag_out)
		snprintf(etag_out, 80, "%s", po.etag_out);
	return rc;
}

static int s3_probe(struct rv_store *s)
{
	struct rv_buf body = RV_BUF_INIT(64u << 10);
	unsigned char rnd[8];
	char hex[17], status[32], etag[80] = "";
	char *key;
	struct s3_req r;
	struct s3_resp resp = {0};
	bool lost;
	int rc, drc;

	/* Random, so that concurrent probes by several sites never collide. */
	{
		struct timespec ts;
		uint64_t v;
		clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid() << 32 ^
		    (uint64_t)ts.tv_sec;
		memcpy(rnd, &v, sizeof(rnd));
		rv_hex(hex, rnd, sizeof(rnd));
	}
	key = rv_asprintf(S3_PROBE_PREFIX "%s", hex);

	rc = probe_put(s, key, RV_PUT_IF_ABSENT, NULL, &lost, etag);
	if (!rc && lost)
		rc = rv_error(RV_EFAIL, "s3 probe: a fresh key '%s' was reported as existing", key);
	if (!rc)
		rc = probe_put(s, key, RV_PUT_IF_ABSENT, NULL, &lost, NULL);
	if (!rc)
		s->caps.put_if_absent = lost;
	if (!rc) {
		/* An etag that cannot match: a server that honours If-Match refuses. */
		rc = probe_put(s, key, RV_PUT_IF_MATCH, "\"00000000000000000000000000000000\"",
			       &lost, NULL);
		if (!rc)
			s->caps.put_if_match = lost;
	}
	drc = s3_del(s, key);
	if (!rc)
		rc = drc;
	free(key);
	if (rc)
		return rc;

	req_init(&r, "get-versioning", "GET", NULL);
	r.query = "versioning=";
	r.resp = &body;
	s->caps.versioning = false;
	if (!s3_call(s, &r, &resp) &&
	    !rv_s3_parse_versioning(body.data, body.len, status, sizeof(status)))
		s->caps.versioning = !strcmp(status, "Enabled");
	rv_error_clear();
	rv_buf_release(&body);
	rv_log(RV_LOG_INFO, "s3 capabilities", "store", s->describe, "put_if_absent",
	       s->caps.put_if_absent ? "yes" : "no", "put_if_match",
	       s->caps.put_if_match ? "yes" : "no", "versioning", s->caps.versioning ? "yes" : "no",
	       NULL);
	return 0;
}

int rv_s3_bucket_call(struct rv_store *s, const char *op, const char *method, const char *query,
		      const char *body, struct rv_buf *resp, long *status, struct rv_s3_error *err)
{
	return rv_s3_bucket_call_hdr(s, op, method, query, body, NULL, NULL, resp, status, err);
}

int rv_s3_bucket_call_hdr(struct rv_store *s, const char *op, const char *method, const char *query,
			  const char *body, const char *hdr_name, const char *hdr_value,
			  struct rv_buf *resp, long *status, struct rv_s3_error *err)
{
	struct s3_req r;
	struct s3_resp rs = {0};
	int rc;

	req_init(&r, op, method, NULL);
	r.hdr_name = hdr_name;
	r.hdr_value = hdr_value;
	r.query = query;
	r.body = body;
	r.body_len = body ? strlen(body) : 0;
	r.content_md5 = body != NULL;
	r.content_type = body ? "application/xml" : NULL;
	r.resp = resp;
	rc = s3_call(s, &r, &rs);
	*status = rs.status;
	*err = rs.err;
	return rc;
}

/* ---- open / free ----------------------------------------------------------------- */

static void s3_free(struct rv_store *s)
{
	struct s3_store *st = st_of(s);

	if (!st)
		return;
	for (size_t i = 0; i < st->npool; i++)
		curl_easy_cleanup(st->pool[i]);
	pthread_mutex_destroy(&st->pool_mu);
	if (st->own_creds)
		rv_creds_provider_free(st->creds);
	free(st->region);
	free(st->base_url);
	free(st->host);
	free(st->path_base);
	free(st->endpoint_desc);
	free(st);
	s->impl = NULL;
}

static const struct rv_store_ops s3_ops = {
    .name = "s3",
    .put_fd = s3_put_fd,
    .put_src = s3_put_src,
    .put_buf = s3_put_buf,
    .get_fd = s3_get_fd,
    .head = s3_head,
    .list_page = s3_list_page,
    .del = s3_del,
    .free = s3_free,
    .list_dirs_page = s3_list_dirs_page,
    .probe = s3_probe,
};

/* True for hosts that cannot carry a bucket name in front (IPs, localhost). */
static bool host_is_literal(const char *host, size_t n)
{
	bool digits_dots = true;

	if (n && host[0] == '[')
		return true;
	if (n >= 9 && !strncmp(host, "localhost", 9))
		return true;
	for (size_t i = 0; i < n && host[i] != ':'; i++)
		if (!((host[i] >= '0' && host[i] <= '9') || host[i] == '.'))
			digits_dots = false;
	return digits_dots;
}

int rv_store_s3_open(struct rv_store *s)
{
	struct s3_store *st = rv_calloc(1, sizeof(*st));
	const char *bucket = s->url.bucket;
	int rc;

	pthread_mutex_init(&st->pool_mu, NULL);
	st->region = rv_strdup(rv_s3_pick_region(s->opts.region, s->url.region));
	/* Borrowed pointers in the caller's opts must not be kept. */
	s->opts.region = NULL;
	if (s->url.endpoint) {
		const char *ep = s->url.endpoint, *hs = strstr(ep, "://") + 3;
		const char *he = strchr(hs, '/');
		size_t hn = he ? (size_t)(he - hs) : strlen(hs);
		if (s->url.path_style || host_is_literal(hs, hn) || strchr(bucket, '.')) {
			st->base_url = rv_strdup(ep);
			st->path_base = rv_asprintf("/%s", bucket);
		} else {
			st->base_url = rv_asprintf("%.*s%s.%s", (int)(hs - ep), ep, bucket, hs);
			st->path_base = rv_strdup("");
		}
		st->endpoint_desc = rv_strdup(ep);
	} else if (s->url.path_style || strchr(bucket, '.')) {
		/* Dotted names break the *.s3 TLS wildcard: use path style. */
		st->base_url = rv_asprintf("https://s3.%s.amazonaws.com", st->region);
		st->path_base = rv_asprintf("/%s", bucket);
		st->endpoint_desc = rv_strdup(st->base_url);
	} else {
		st->base_url = rv_asprintf("https://%s.s3.%s.amazonaws.com", bucket, st->region);
		st->path_base = rv_strdup("");
		st->endpoint_desc = rv_strdup(st->base_url);
	}
	{
		const char *hs = strstr(st->base_url, "://") + 3, *he = strchr(hs, '/');
		st->host = he ? rv_strndup(hs, (size_t)(he - hs)) : rv_strdup(hs);
		if (he) {
			/* An endpoint with a path: requests go under it. */
			char *pb = rv_asprintf("%s%s", he, st->path_base);
			char *base = rv_strndup(st->base_url, (size_t)(he - st->base_url));
			free(st->path_base);
			free(st->base_url);
			st->path_base = pb;
			st->base_url = base;
		}
	}
	if (s->opts.creds) {
		st->creds = s->opts.creds;
	} else {
		rc = rv_creds_provider_new(&st->creds, s->opts.creds_config);
		if (rc) {
			s->impl = st;
			s3_free(s);
			return rc;
		}
		st->own_creds = true;
	}
	s->opts.creds_config = NULL;
	rv_http_global_init();
	/* Conservative until rv_store_probe() has tested the server. */
	s->caps.multipart = true;
	s->caps.put_if_absent = false;
	s->caps.put_if_match = false;
	s->caps.versioning = false;
	s->ops = &s3_ops;
	s->impl = st;
	return 0;
}
