/* http.h - the one libcurl transfer layer.
 *
 * rv_http_perform() runs one HTTP exchange on a caller's easy handle (kept
 * for connection reuse: the S3 handle pool, a Ghost connection) or on its
 * own, and describes what happened in a struct rv_http_outcome: a local
 * failure (rc, message set), a transport failure (curl + why) or an HTTP
 * answer (status, headers).  It owns every libcurl setting revenant uses:
 * timeouts, the low-speed limit, no signals, TLS verification (on, with
 * libcurl's CA bundle; proxies from the environment as libcurl reads them),
 * header lists, bodies from memory or from a file with pread (rewindable,
 * so curl can resend on a new connection), answers into capped buffers or
 * to a file descriptor.  Retries stay with the callers (core/retry.h): an
 * outcome is one attempt.
 *
 * rv_http_do() is the short form for small control-plane calls (STS, IMDS,
 * container credentials): a fresh handle, the body in a capped buffer, and
 * RV_ENET when no answer came. */
#ifndef RV_HTTP_H
#define RV_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "core/buf.h"
#include "core/err.h"

/* One exchange.  Zero-initialise and fill what applies. */
struct rv_http_xfer {
	const char *method; /* "GET", "HEAD", "PUT", "POST", "DELETE", ... */
	const char *url;
	/* Subject of local-failure messages ("s3 put 'key'", "GET <url>"):
	 * they read "<what>: <reason>".  NULL = "<method> <url>". */
	const char *what;
	const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
	const char *user_agent;	    /* NULL = none */
	/* Upload (sent for PUT and POST, or whenever body/body_from_fd is
	 * set): body_len bytes from memory, or from body_fd with pread from
	 * body_off.  Either can be re-read, so a resend rewinds. */
	const void *body;
	uint64_t body_len;
	bool body_from_fd;
	int body_fd;
	uint64_t body_off;
	/* Answer.  A 2xx body goes to out_fd (when out_to_fd; at most out_limit
	 * bytes, 0 = all, the rest dropped), else into body_out.  Any other
	 * body goes into err_out (silently cut at its cap: error bodies are
	 * read for a code), else into body_out.  Growing body_out past its cap
	 * is a local failure (RV_ECORRUPT). */
	bool out_to_fd;
	int out_fd;
	uint64_t out_limit;
	struct rv_buf *body_out;
	struct rv_buf *err_out;
	/* Limits: connect (0 = 5000 ms), whole exchange (0 = 30000 ms), and
	 * a stall: less than one byte a second for this long fails (0 = no
	 * stall limit; rounded to whole seconds, at least 1). */
	long connect_timeout_ms;
	long timeout_ms;
	long stall_ms;
	bool interruptible; /* rv_shutdown_requested() stops it: RV_EINTR */
};

struct rv_http_outcome {
	int rc;	       /* 0, or the RV_E* of a local failure (message set) */
	CURLcode curl; /* CURLE_OK when an HTTP answer arrived */
	long status;   /* status of the final answer (also of one cut short); 0 = none */
	char why[CURL_ERROR_SIZE + 64]; /* the transport failure, when curl != CURLE_OK */
	uint64_t got;			/* 2xx body bytes received */
	uint64_t written;		/* of those, bytes written to out_fd */
	/* A 206 whose Content-Range says the object is empty ("bytes 0-0/0",
	 * as s3rver answers): stopped at the headers, curl is CURLE_OK. */
	bool empty_range;
	/* Headers of the final answer. */
	char etag[80]; /* "" when absent or too long to keep whole */
	bool have_length;
	uint64_t content_length;
	bool have_total; /* from Content-Range: "bytes a-b/total" */
	uint64_t total_size;
	char last_modified[64];
	char location[512]; /* the redirect target of a 3xx */
};

/* curl_global_init once per process (thread-safe). */
void rv_http_global_init(void);
/* A new easy handle for rv_http_perform (connections are kept between
 * exchanges on it); NULL with the message set when libcurl cannot. */
CURL *rv_http_handle_new(void);

/* Run one exchange on `c` (reset first: nothing of an earlier exchange
 * leaks into this one, but its connections stay), or on a handle of its
 * own when `c` is NULL.  Fills *o and returns o->rc: 0 whether or not an
 * HTTP answer came (see o->curl), negative only for a local failure (the
 * input file, the output fd, a body over its cap, shutdown, libcurl). */
int rv_http_perform(CURL *c, const struct rv_http_xfer *x,
		    struct rv_http_outcome *o) RV_WARN_UNUSED;

/* ---- small calls ---- */

struct rv_http_req {
	const char *method;
	const char *url;
	const char *const *headers; /* "Name: value" strings, NULL-terminated; may be NULL */
	const void *body;
	size_t body_len;
	long connect_timeout_ms; /* 0 = 5000 */
	long timeout_ms;	 /* whole request, 0 = 30000 */
	size_t max_response;	 /* body cap, 0 = 16 MiB */
};

struct rv_http_resp {
	long status;
	struct rv_buf body;
};

/* RV_ENET with curl's reason when the request could not complete; any HTTP
 * status is a success here (the caller interprets it).  `resp` is reset. */
int rv_http_do(const struct rv_http_req *req, struct rv_http_resp *resp) RV_WARN_UNUSED;
void rv_http_resp_release(struct rv_http_resp *resp);

#endif
