/* client.h - a small Ghost Admin API client (JWT auth, JSON, paging, retry).
 *
 * One client per site.  Requests go through a connection (struct
 * rv_ghost_conn: one libcurl handle, so keep-alive works); the client owns
 * one for the calling thread and worker threads create their own.  The
 * client itself is safe to share between threads (the token cache is
 * locked); a connection is not.
 *
 * Errors, one message each:
 *   RV_ENET      the site cannot be reached (after retries)
 *   RV_EAUTH     401/403: the Admin API key was rejected
 *   RV_ECORRUPT  the answer is not Ghost's JSON ("does not look like a Ghost site")
 *   RV_ENOTFOUND 404 on an object (the caller decides whether that is fine)
 *   RV_EFAIL     any other refusal, with Ghost's own message */
#ifndef RV_GHOST_CLIENT_H
#define RV_GHOST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "ghost/jwt.h"

/* One HTTP exchange, for the transport (a test can replace libcurl). */
struct rv_ghost_http {
	const char *method;
	const char *url;
	const char *const *headers; /* "Name: value", NULL-terminated */
	const char *body;	    /* NULL for none */
	size_t body_len;
	long status;	     /* out */
	struct rv_buf *resp; /* out: the body, capped */
	char location[512];  /* out: Location header of a 3xx, if any */
};

/* Perform `h`; 0 with h->status set when an HTTP answer came back, RV_ENET
 * (message set) when none did. */
typedef int (*rv_ghost_transport_fn)(void *ud, struct rv_ghost_http *h);

struct rv_ghost_opts {
	const char *url;		 /* site URL, http(s)://host[:port][/path] */
	const struct rv_ghost_key *key;	 /* NULL: unauthenticated calls only */
	int max_attempts;		 /* per request, 0 = 5 */
	int64_t backoff_ms;		 /* first retry delay, 0 = 250 */
	int64_t backoff_max_ms;		 /* 0 = 4000 */
	long timeout_ms;		 /* per attempt, 0 = 30000 */
	rv_ghost_transport_fn transport; /* NULL = libcurl */
	void *transport_ud;
	int64_t (*now_s)(void); /* NULL = wall clock (tests fix it) */
};

struct rv_ghost_client;
struct rv_ghost_conn;

int rv_ghost_client_new(struct rv_ghost_client **out,
			const struct rv_ghost_opts *opts) RV_WARN_UNUSED;
void rv_ghost_client_free(struct rv_ghost_client *c);
/* The normalised site URL (no trailing slash); borrowed. */
const char *rv_ghost_client_url(const struct rv_ghost_client *c);
/* Requests retried so far (all threads), for reports and tests. */
unsigned rv_ghost_client_retries(const struct rv_ghost_client *c);

struct rv_ghost_conn *rv_ghost_conn_new(struct rv_ghost_client *c);
void rv_ghost_conn_free(struct rv_ghost_conn *conn);

/* One Admin API call: `path` is relative to /ghost/api/admin/ and may carry
 * a query.  Retries 429, 5xx and connection failures with jittered backoff.
 * On 2xx, *json_out (if not NULL) gets the parsed body or NULL when empty
 * (204).  `auth` false sends no token.  `conn` NULL = the client's own. */
int rv_ghost_call(struct rv_ghost_client *c, struct rv_ghost_conn *conn, bool auth,
		  const char *method, const char *path, const char *body, long *status_out,
		  json_t **json_out) RV_WARN_UNUSED;

/* GET /site/ (no auth): *site_out is the "site" object (title, url,
 * version, ...); RV_ECORRUPT if the answer is not Ghost's. */
int rv_ghost_site(struct rv_ghost_client *c, json_t **site_out) RV_WARN_UNUSED;

/* Called for every browsed object (borrowed); a non-zero return stops the
 * browse and is returned. */
typedef int (*rv_ghost_item_fn)(void *ud, json_t *item);

/* Browse `resource` ("posts", "pages") page by page, following
 * meta.pagination.next until null, whatever page size the server applies.
 * `filter` (NQL) and `fields` may be NULL; `limit` 0 = 100. */
int rv_ghost_browse(struct rv_ghost_client *c, const char *resource, const char *filter,
		    const char *fields, unsigned limit, rv_ghost_item_fn fn,
		    void *ud) RV_WARN_UNUSED;

/* Percent-encode everything but RFC 3986 unreserved characters. */
int rv_ghost_urlencode(struct rv_buf *out, const char *s) RV_WARN_UNUSED;

#endif
