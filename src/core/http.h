/* http.h - one synchronous HTTP request with libcurl, response captured in
 * capped buffers.  Used for small control-plane calls (STS, IMDS, container
 * credentials, Ghost Admin API).  The S3 data path drives curl directly so
 * that bodies stream from and to file descriptors. */
#ifndef RV_HTTP_H
#define RV_HTTP_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

struct rv_http_req {
	const char *method; /* "GET", "POST", "PUT", "DELETE", ... */
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
	struct rv_buf headers; /* raw header lines of the final response */
};

void rv_http_global_init(void);
/* RV_ENET with curl's reason when the request could not complete; any HTTP
 * status is a success here (the caller interprets it).  `resp` is reset. */
int rv_http_do(const struct rv_http_req *req, struct rv_http_resp *resp) RV_WARN_UNUSED;
void rv_http_resp_release(struct rv_http_resp *resp);
/* Value of response header `name` (case-insensitive) copied into out. */
int rv_http_resp_header(const struct rv_http_resp *resp, const char *name, char *out,
			size_t outlen);

#endif
