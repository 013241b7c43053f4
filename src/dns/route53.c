/* route53.c - the Route 53 provider (dns.h): ChangeResourceRecordSets
 * signed with SigV4 (service route53, region us-east-1), credentials from
 * the same chain as the S3 store, HTTP through core/http.
 *
 * Compare-and-swap: Route 53 applies a change batch all or nothing, and a
 * DELETE must name a record set exactly (values, TTL, weight, alias
 * target), so "DELETE what was read + CREATE the new" in one batch fails
 * with InvalidChangeBatch, nothing changed, when the record moved since the
 * read: RV_EPRECOND.  A record that did not exist is only CREATEd (which
 * fails the same way if someone created it meanwhile).  UPSERT, which
 * overwrites whatever is there, only when dns.route53.upsert says so.
 *
 * Weighted records: one set per site (SetIdentifier = the site's name); a
 * switch rewrites all of them in one batch, the winner weighted
 * dns.route53.weight and every other site 0.
 *
 * Verified, not assumed: the change is polled with GetChange (backoff from
 * 100 ms to 2 s, not the AWS CLI waiter's 30 s) until INSYNC, then the
 * record is listed again and must hold the new values. */
#include "aws/creds.h"
#include "aws/sigv4.h"
#include "core/http.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/retry.h"
#include "core/util.h"
#include "dns/dns.h"
#include "dns/route53_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define R53_ENDPOINT   "https://route53.amazonaws.com"
#define R53_API	       "/2013-04-01"
#define R53_MAXITEMS   (RV_DNS_MAX_SITES + 4)
#define R53_MAX_PAGES  4
#define R53_MAX_ANSWER (256u * 1024)
#define R53_POLL_FIRST 100
#define R53_POLL_CAP   2000

struct r53 {
	CURL *curl;
	struct rv_creds_provider *creds;
	char *zone_id, *base;
	char host[256];
	unsigned weight, timeout_ms;
	bool upsert;
	/* The sets the last read found: what a change deletes. */
	bool have_last;
	char last_name[RV_DNS_NAME_MAX];
	enum rv_dns_type last_type;
	unsigned nlast;
	struct rv_r53_set last[RV_R53_MAX_SETS];
};

/* What a request is, for messages: "list 'www.example.com.'", the IAM
 * action it needs and the resource that action is granted on. */
struct call {
	const char *method, *path, *query, *body;
	const char *what;
	const char *action;
	const char *resource;
	struct rv_buf *out;
	struct rv_r53_error err; /* of a refused change batch */
	long status;
};

static bool retryable(long status, const char *code)
{
	return status >= 500 || !strcmp(code, "Throttling") ||
	       !strcmp(code, "ThrottlingException") || !strcmp(code, "PriorRequestNotComplete") ||
	       !strcmp(code, "RequestTimeout") || !strcmp(code, "ServiceUnavailable");
}

static bool refresh_code(const char *code)
{
	return !strcmp(code, "ExpiredToken") || !strcmp(code, "ExpiredTokenException") ||
	       !strcmp(code, "RequestExpired") || !strcmp(code, "InvalidClientTokenId");
}

/* A refused batch whose DELETE or CREATE did not find the state read. */
static bool lost_race(const char *msg)
{
	return (strstr(msg, "Tried to delete") || strstr(msg, "Tried to create")) &&
	       (strstr(msg, "not found") || strstr(msg, "do not match") ||
		strstr(msg, "already exists"));
}

static int map_error(const struct r53 *d, struct call *c, const struct rv_r53_error *e)
{
	const char *code = e->code[0] ? e->code : "(no code)";

	if (!strcmp(code, "AccessDenied") || !strcmp(code, "AccessDeniedException") ||
	    (c->status == 403 && !e->code[0]))
		return rv_error(RV_EAUTH,
				"route53 %s: access denied — the credentials need %s on %s "
				"(IAM policy: docs/OPERATIONS.md \"Switching DNS\")",
				c->what, c->action, c->resource);
	if (refresh_code(code))
		return rv_error(RV_EAUTH,
				"route53 %s: the credentials were refused (%s) — renew them or "
				"check which ones are in use",
				c->what, code);
	if (!strcmp(code, "SignatureDoesNotMatch") || !strcmp(code, "IncompleteSignature") ||
	    !strcmp(code, "InvalidSignatureException"))
		return rv_error(RV_EAUTH,
				"route53 %s: the request signature was refused (%s) — check the "
				"secret access key",
				c->what, code);
	if (!strcmp(code, "NoSuchHostedZone"))
		return rv_error(RV_EUSAGE,
				"route53 %s: no hosted zone '%s' (NoSuchHostedZone) — check "
				"dns.route53.zone_id",
				c->what, d->zone_id);
	if (!strcmp(code, "InvalidChangeBatch")) {
		if (lost_race(e->message))
			return rv_error(RV_EPRECOND,
					"route53 %s: the record changed since revenant read it "
					"(Route 53: %s); nothing was changed — show it again, then "
					"switch",
					c->what, e->message);
		return rv_error(RV_EUSAGE,
				"route53 %s: the change was refused (InvalidChangeBatch: %s) — "
				"check dns.targets and the dns.route53 settings",
				c->what, e->message);
	}
	if (!strcmp(code, "InvalidInput"))
		return rv_error(RV_EUSAGE,
				"route53 %s: InvalidInput: %s — check dns.names, "
				"dns.targets and dns.route53.zone_id",
				c->what, e->message);
	if (!strcmp(code, "NoSuchChange"))
		return rv_error(RV_ECORRUPT,
				"route53 %s: Route 53 does not know the change it "
				"just accepted (NoSuchChange: %s)",
				c->what, e->message);
	return rv_error(RV_EFAIL, "route53 %s: HTTP %ld %s%s%s", c->what, c->status, code,
			e->message[0] ? ": " : "", e->message);
}

/* The signed header lines of one request (the caller frees them). */
static int sign(struct r53 *d, const struct call *c, char *lines[8])
{
	struct rv_aws_creds cr = {0};
	struct rv_sigv4_out sig = {0};
	struct rv_header h[1] = {{"Host", d->host}};
	size_t nl = 0;
	int rc;

	lines[0] = NULL;
	if ((rc = rv_creds_get(d->creds, &cr)))
		return rc;
	{
		struct rv_sigv4_req sr = {
		    .method = c->method,
		    .path = c->path,
		    .query = c->query,
		    .headers = h,
		    .nheaders = 1,
		    .body = c->body,
		    .body_len = c->body ? strlen(c->body) : 0,
		};
		struct rv_sigv4_params sp = {
		    .region = "us-east-1",
		    .service = "route53",
		    .when = time(NULL),
		};
		struct rv_aws_key k = {cr.access_key_id, cr.secret_access_key, cr.session_token};

		rc = rv_sigv4_sign(&sig, &sr, &sp, &k);
	}
	if (!rc) {
		lines[nl++] = rv_asprintf("Host: %s", d->host);
		lines[nl++] = rv_asprintf("X-Amz-Date: %s", sig.amz_date);
		lines[nl++] = rv_asprintf("Authorization: %s", sig.authorization);
		if (cr.session_token && *cr.session_token)
			lines[nl++] = rv_asprintf("X-Amz-Security-Token: %s", cr.session_token);
		if (c->body)
			lines[nl++] = rv_asprintf("Content-Type: text/xml");
		lines[nl] = NULL;
	}
	rv_sigv4_out_release(&sig);
	rv_aws_creds_release(&cr);
	return rc;
}

static void free_lines(char *lines[8])
{
	for (size_t i = 0; lines[i]; i++)
		free(lines[i]);
	lines[0] = NULL;
}

/* One Route 53 request with retries (throttling, PriorRequestNotComplete,
 * 5xx, transport failures) and one credential refresh; 0 on a 2xx answer
 * (its body in c->out), else the mapped error. */
static int call(struct r53 *d, struct call *c)
{
	struct rv_retry_policy pol = {
	    .max_attempts = 6, .base_ms = 100, .cap_ms = 2000, .deadline_ms = d->timeout_ms};
	struct rv_retry rt;
	struct rv_buf errb;
	char *url = rv_asprintf("%s%s%s%s", d->base, c->path, c->query ? "?" : "",
				c->query ? c->query : "");
	char why[CURL_ERROR_SIZE + 128] = "";
	bool refreshed = false;
	int rc;

	rv_buf_init(&errb, 64 * 1024);
	rv_retry_start(&rt, &pol);
	for (;;) {
		struct rv_http_outcome o;
		char *lines[8];
		int64_t left = rv_retry_remaining_ms(&rt);
		struct rv_http_xfer x = {
		    .method = c->method,
		    .url = url,
		    .what = c->what,
		    .headers = (const char *const *)lines,
		    .user_agent = "revenant/" RV_VERSION,
		    .body = c->body,
		    .body_len = c->body ? strlen(c->body) : 0,
		    .body_out = c->out,
		    .err_out = &errb,
		    .timeout_ms = left < 30000 ? (left < 1000 ? 1000 : (long)left) : 30000,
		    .interruptible = true,
		};
		struct rv_r53_error e;

		rv_buf_reset(c->out);
		rv_buf_reset(&errb);
		if ((rc = sign(d, c, lines)))
			goto out;
		rc = rv_http_perform(d->curl, &x, &o);
		free_lines(lines);
		if (rc)
			goto out;
		c->status = o.status;
		if (o.curl != CURLE_OK) {
			snprintf(why, sizeof(why), "%s", o.why);
		} else if (o.status >= 200 && o.status < 300) {
			rc = 0;
			goto out;
		} else {
			rv_r53_parse_error(errb.data, errb.len, &e);
			if (refresh_code(e.code) && !refreshed) {
				refreshed = true;
				rv_creds_invalidate(d->creds);
				rv_log(RV_LOG_WARN, "route53 credentials refused; refreshing", "op",
				       c->what, "code", e.code, NULL);
				continue;
			}
			if (!retryable(o.status, e.code)) {
				c->err = e;
				rc = map_error(d, c, &e);
				goto out;
			}
			snprintf(why, sizeof(why), "HTTP %ld %s%s%.200s", o.status,
				 e.code[0] ? e.code : "", e.message[0] ? ": " : "", e.message);
		}
		if (!rv_retry_next(&rt))
			break;
		{
			char att[16];

			snprintf(att, sizeof(att), "%u", rt.attempt);
			rv_log(RV_LOG_WARN, "route53 request failed; retrying", "op", c->what,
			       "attempt", att, "reason", why, NULL);
		}
	}
	if (rv_shutdown_requested())
		rc = rv_error(RV_EINTR, "route53 %s: interrupted by shutdown", c->what);
	else
		rc = rv_error(RV_ENET,
			      "route53 %s: %s kept failing: %s (%u attempt%s in %.1f s) — "
			      "Route 53 is throttling or unreachable; retry later",
			      c->what, d->base, why, rt.attempt, rt.attempt == 1 ? "" : "s",
			      (double)(rv_mono_ms() - rt.start_ms) / 1000.0);
out:
	rv_buf_release(&errb);
	free(url);
	return rc;
}

/* ListResourceRecordSets from name/type (and set identifier). */
static int list_page(struct r53 *d, const char *name, const char *type, const char *ident,
		     unsigned maxitems, struct rv_r53_list *out)
{
	struct rv_buf q, body;
	char path[RV_R53_ID_MAX + 64], what[RV_DNS_NAME_MAX + 32], res[RV_R53_ID_MAX + 64];
	struct call c = {0};
	int rc;

	rv_buf_init(&q, 4096);
	rv_buf_init(&body, R53_MAX_ANSWER);
	snprintf(path, sizeof(path), R53_API "/hostedzone/%s/rrset", d->zone_id);
	snprintf(what, sizeof(what), "list '%s' %s", name, type);
	snprintf(res, sizeof(res), "arn:aws:route53:::hostedzone/%s", d->zone_id);
	rc = rv_buf_addf(&q, "maxitems=%u&name=", maxitems);
	if (!rc)
		rc = rv_aws_uri_encode(&q, name, strlen(name), false);
	if (!rc)
		rc = rv_buf_addf(&q, "&type=%s", type);
	if (!rc && ident && *ident) {
		rc = rv_buf_addstr(&q, "&identifier=");
		if (!rc)
			rc = rv_aws_uri_encode(&q, ident, strlen(ident), false);
	}
	if (!rc) {
		c.method = "GET";
		c.path = path;
		c.query = rv_buf_str(&q);
		c.what = what;
		c.action = "route53:ListResourceRecordSets";
		c.resource = res;
		c.out = &body;
		rc = call(d, &c);
	}
	if (!rc)
		rc = rv_r53_parse_list(body.data, body.len, out);
	rv_buf_release(&q);
	rv_buf_release(&body);
	return rc;
}

/* Every set of exactly name+type, following truncation. */
static int list_sets(struct r53 *d, const char *name, const char *type, struct rv_r53_set *sets,
		     unsigned *n)
{
	struct rv_r53_list *l = rv_calloc(1, sizeof(*l));
	char ident[RV_R53_SETID_MAX] = "";
	int rc = 0;

	*n = 0;
	for (int page = 0; page < R53_MAX_PAGES; page++) {
		bool more;

		if ((rc = list_page(d, name, type, ident, R53_MAXITEMS, l)))
			goto out;
		for (unsigned i = 0; i < l->n; i++) {
			if (strcasecmp(l->sets[i].name, name) || strcmp(l->sets[i].type, type))
				continue;
			if (*n == RV_R53_MAX_SETS) {
				rc = rv_error(RV_EUSAGE,
					      "route53 '%s' %s has more than %d record sets — "
					      "revenant switches one set or one per site",
					      name, type, RV_R53_MAX_SETS);
				goto out;
			}
			sets[(*n)++] = l->sets[i];
		}
		more = l->truncated && !strcasecmp(l->next_name, name) &&
		       !strcmp(l->next_type, type) && l->next_id[0];
		if (!more)
			goto out;
		snprintf(ident, sizeof(ident), "%s", l->next_id);
	}
	rc = rv_error(RV_EUSAGE, "route53 '%s' %s: more record sets than revenant reads", name,
		      type);
out:
	free(l);
	return rc;
}

/* external-dns's TXT registry at the name or "<type>-<name>". */
static int external_dns(struct r53 *d, const struct rv_dns_record *r, struct rv_dns_answer *out)
{
	char names[2][RV_DNS_NAME_MAX + 8];
	const char *ty = r->type == RV_DNS_A ? "a" : r->type == RV_DNS_AAAA ? "aaaa" : "cname";
	struct rv_r53_list *l = rv_calloc(1, sizeof(*l));
	int rc = 0;

	snprintf(names[0], sizeof(names[0]), "%s", r->name);
	snprintf(names[1], sizeof(names[1]), "%s-%s", ty, r->name);
	for (int k = 0; k < 2 && !rc && !out->external_dns; k++) {
		if ((rc = list_page(d, names[k], "TXT", NULL, 1, l)))
			break;
		for (unsigned i = 0; i < l->n; i++) {
			const struct rv_r53_set *s = &l->sets[i];

			if (strcasecmp(s->name, names[k]) || strcmp(s->type, "TXT"))
				continue;
			for (unsigned v = 0; v < s->values.n; v++) {
				const char *o;

				if (!strstr(s->values.v[v], "heritage=external-dns"))
					continue;
				out->external_dns = true;
				if ((o = strstr(s->values.v[v], "external-dns/owner="))) {
					size_t len = strcspn(o + 19, ",\"");
					snprintf(out->owner, sizeof(out->owner), "%.*s", (int)len,
						 o + 19);
				}
			}
		}
	}
	free(l);
	return rc;
}

static const struct rv_dns_site *site_named(const struct rv_dns_record *r, const char *name)
{
	for (unsigned i = 0; i < r->nsites; i++)
		if (!strcmp(r->sites[i].name, name))
			return &r->sites[i];
	return NULL;
}

/* What the sets read mean for record r: exists/values/ttl, or `unclear`. */
static void interpret(const struct rv_dns_record *r, const struct rv_r53_set *sets, unsigned n,
		      struct rv_dns_answer *out)
{
	const struct rv_r53_set *win = NULL;
	unsigned winners = 0;

	out->exists = n > 0;
	if (!n)
		return;
	if (!r->weighted) {
		if (n > 1 || sets[0].set_id[0])
			snprintf(out->unclear, sizeof(out->unclear),
				 "it is a routing-policy set (SetIdentifier '%s') — set "
				 "dns.route53.weighted: true for weighted sets",
				 sets[0].set_id);
		else if (sets[0].foreign)
			snprintf(out->unclear, sizeof(out->unclear),
				 "it carries a routing policy revenant does not switch");
		out->values = sets[0].values;
		out->ttl = sets[0].has_ttl ? (unsigned)sets[0].ttl : 0;
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct rv_r53_set *s = &sets[i];
		const struct rv_dns_site *site = s->set_id[0] ? site_named(r, s->set_id) : NULL;
		char v[512];

		if (!s->set_id[0] || !s->has_weight || s->foreign) {
			snprintf(out->unclear, sizeof(out->unclear),
				 "a set of the name is not a weighted set");
			return;
		}
		if (!site) {
			snprintf(
			    out->unclear, sizeof(out->unclear),
			    "weighted set '%s' is no site's (SetIdentifier must be a site name)",
			    s->set_id);
			return;
		}
		if (!rv_dns_values_equal(&s->values, &site->values)) {
			rv_dns_values_str(&s->values, v, sizeof(v));
			snprintf(out->unclear, sizeof(out->unclear),
				 "weighted set '%.60s' answers %.120s, not the site's target",
				 s->set_id, v);
			return;
		}
		if (s->weight > 0) {
			winners++;
			if (!win)
				win = s;
			else
				snprintf(out->unclear, sizeof(out->unclear),
					 "weighted sets '%.60s' and '%.60s' are both above 0",
					 win->set_id, s->set_id);
		}
	}
	if (!winners) {
		snprintf(out->unclear, sizeof(out->unclear),
			 "every weighted set is at 0 (Route 53 answers all of them)");
		return;
	}
	if (winners == 1) {
		out->values = win->values;
		out->ttl = win->has_ttl ? (unsigned)win->ttl : 0;
	}
}

static int r_read(void *h, const struct rv_dns_record *r, struct rv_dns_answer *out)
{
	struct r53 *d = h;
	int rc;

	memset(out, 0, sizeof(*out));
	d->have_last = false;
	if ((rc = list_sets(d, r->name, rv_dns_type_name(r->type), d->last, &d->nlast)))
		return rc;
	snprintf(d->last_name, sizeof(d->last_name), "%s", r->name);
	d->last_type = r->type;
	d->have_last = true;
	interpret(r, d->last, d->nlast, out);
	return external_dns(d, r, out);
}

/* The set revenant writes for `values` (one site's, or the plain record). */
static void new_set(const struct rv_dns_record *r, const struct rv_dns_values *values,
		    struct rv_r53_set *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", r->name);
	snprintf(s->type, sizeof(s->type), "%s", rv_dns_type_name(r->type));
	s->alias = r->alias;
	s->has_ttl = !r->alias;
	s->ttl = r->ttl;
	s->values = *values;
}

static int post_batch(struct r53 *d, const struct rv_dns_record *r, const struct rv_r53_change *ch,
		      size_t n, char id[RV_R53_ID_MAX])
{
	struct rv_buf req, body;
	char path[RV_R53_ID_MAX + 64], what[RV_DNS_NAME_MAX + 32], res[RV_R53_ID_MAX + 64];
	char status[16];
	struct call c = {0};
	int rc;

	rv_buf_init(&req, 256 * 1024);
	rv_buf_init(&body, R53_MAX_ANSWER);
	snprintf(path, sizeof(path), R53_API "/hostedzone/%s/rrset", d->zone_id);
	snprintf(what, sizeof(what), "change '%s' %s", r->name, rv_dns_type_name(r->type));
	snprintf(res, sizeof(res), "arn:aws:route53:::hostedzone/%s", d->zone_id);
	rc = rv_r53_change_batch(&req, "revenant dns switch", ch, n);
	if (rc == RV_EUSAGE)
		rc = rv_error(RV_EUSAGE, "route53 %s: an alias target is not DNSNAME@ZONEID", what);
	if (!rc) {
		c.method = "POST";
		c.path = path;
		c.body = rv_buf_str(&req);
		c.what = what;
		c.action = "route53:ChangeResourceRecordSets";
		c.resource = res;
		c.out = &body;
		rc = call(d, &c);
	}
	if (!rc)
		rc = rv_r53_parse_change_info(body.data, body.len, id, status);
	rv_buf_release(&req);
	rv_buf_release(&body);
	return rc;
}

/* GetChange with backoff until INSYNC or the deadline. */
static int wait_insync(struct r53 *d, const char *id, int64_t deadline)
{
	const char *bare = strncmp(id, "/change/", 8) ? id : id + 8;
	char path[RV_R53_ID_MAX + 32], what[RV_R53_ID_MAX + 32], res[RV_R53_ID_MAX + 32];
	char status[16], got[RV_R53_ID_MAX];
	struct rv_buf body;
	int64_t delay = R53_POLL_FIRST;
	int rc = 0;

	rv_buf_init(&body, R53_MAX_ANSWER);
	snprintf(path, sizeof(path), R53_API "/change/%s", bare);
	snprintf(what, sizeof(what), "get-change '%s'", bare);
	snprintf(res, sizeof(res), "arn:aws:route53:::change/*");
	for (;;) {
		struct call c = {.method = "GET",
				 .path = path,
				 .what = what,
				 .action = "route53:GetChange",
				 .resource = res,
				 .out = &body};

		if ((rc = call(d, &c)) ||
		    (rc = rv_r53_parse_change_info(body.data, body.len, got, status)))
			break;
		if (!strcmp(status, "INSYNC"))
			break;
		if (rv_mono_ms() >= deadline) {
			rc = rv_error(
			    RV_ENET,
			    "route53 change '%s' is still %s after dns.route53.timeout "
			    "(%.1f s) — Route 53 accepted it and will apply it; watch it "
			    "with `aws route53 get-change --id %s`, then `revenant dns show`",
			    bare, status, d->timeout_ms / 1000.0, bare);
			break;
		}
		if (rv_shutdown_requested()) {
			rc = rv_error(RV_EINTR, "route53 change '%s': interrupted while %s", bare,
				      status);
			break;
		}
		/* The last look falls on the deadline itself. */
		rv_sleep_ms(delay < deadline - rv_mono_ms() ? delay : deadline - rv_mono_ms());
		delay = delay * 2 > R53_POLL_CAP ? R53_POLL_CAP : delay * 2;
	}
	rv_buf_release(&body);
	return rc;
}

/* The change batch: plain, the set as read DELETEd and the new one
 * CREATEd (or one UPSERT); weighted, every site's set rewritten, the
 * winner with the weight and the others 0.  `*n` changes into `ch`. */
static int build_batch(const struct r53 *d, const struct rv_dns_record *r,
		       const struct rv_dns_values *to, struct rv_r53_change *ch,
		       struct rv_r53_set *news, size_t *n)
{
	const struct rv_dns_site *win = NULL;

	*n = 0;
	if (!r->weighted) {
		new_set(r, to, &news[0]);
		if (d->upsert) {
			ch[(*n)++] = (struct rv_r53_change){"UPSERT", &news[0]};
		} else {
			if (d->nlast)
				ch[(*n)++] = (struct rv_r53_change){"DELETE", &d->last[0]};
			ch[(*n)++] = (struct rv_r53_change){"CREATE", &news[0]};
		}
		return 0;
	}
	for (unsigned i = 0; i < r->nsites && !win; i++)
		if (rv_dns_values_equal(&r->sites[i].values, to))
			win = &r->sites[i];
	if (!win)
		return rv_error(
		    RV_EUSAGE, "route53 change '%s': the new values are no site's target", r->name);
	if (!d->upsert)
		for (unsigned i = 0; i < d->nlast; i++)
			ch[(*n)++] = (struct rv_r53_change){"DELETE", &d->last[i]};
	for (unsigned i = 0; i < r->nsites; i++) {
		new_set(r, &r->sites[i].values, &news[i]);
		snprintf(news[i].set_id, sizeof(news[i].set_id), "%s", r->sites[i].name);
		news[i].has_weight = true;
		news[i].weight = &r->sites[i] == win ? (d->weight ? d->weight : 1) : 0;
		/* A health check on a site's set stays with it. */
		for (unsigned k = 0; k < d->nlast; k++)
			if (!strcmp(d->last[k].set_id, news[i].set_id)) {
				memcpy(news[i].health_check_id, d->last[k].health_check_id,
				       sizeof(news[i].health_check_id));
				news[i].evaluate_health = d->last[k].evaluate_health;
			}
		ch[(*n)++] = (struct rv_r53_change){d->upsert ? "UPSERT" : "CREATE", &news[i]};
	}
	return 0;
}

static int r_change(void *h, const struct rv_dns_record *r, const struct rv_dns_values *from,
		    const struct rv_dns_values *to, struct rv_dns_change_result *res)
{
	struct r53 *d = h;
	struct rv_r53_change ch[2 * RV_R53_MAX_SETS];
	struct rv_r53_set news[RV_DNS_MAX_SITES];
	struct rv_dns_answer now;
	char id[RV_R53_ID_MAX], v[512];
	int64_t t0;
	size_t n = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	/* The sets to delete are those the read found; read again if that read
	 * was of another record. */
	if (!d->have_last || strcmp(d->last_name, r->name) || d->last_type != r->type) {
		if ((rc = r_read(d, r, &now)))
			return rc;
	} else {
		memset(&now, 0, sizeof(now));
		interpret(r, d->last, d->nlast, &now);
	}
	if (now.unclear[0] || now.exists != (from->n > 0) ||
	    (from->n && !rv_dns_values_equal(&now.values, from)))
		return rv_error(RV_EPRECOND,
				"route53 change '%s' %s: the record changed since revenant read "
				"it; nothing was changed — show it again, then switch",
				r->name, rv_dns_type_name(r->type));
	if ((rc = build_batch(d, r, to, ch, news, &n)))
		return rc;
	t0 = rv_mono_ms();
	d->have_last = false; /* whatever happens, the next change reads again */
	if ((rc = post_batch(d, r, ch, n, id)) || (rc = wait_insync(d, id, t0 + d->timeout_ms)))
		return rc;
	res->ms = rv_mono_ms() - t0;
	/* Verified: the record now answers the new values. */
	if ((rc = r_read(d, r, &now)))
		return rc;
	if (now.unclear[0] || !rv_dns_values_equal(&now.values, to)) {
		rv_dns_values_str(&now.values, v, sizeof(v));
		return rv_error(RV_ECORRUPT,
				"route53 change '%s' is INSYNC, but the record answers %s%s%s — "
				"check the hosted zone",
				r->name, v, now.unclear[0] ? ": " : "", now.unclear);
	}
	return 0;
}

static void r_close(void *h)
{
	struct r53 *d = h;

	if (!d)
		return;
	if (d->curl)
		curl_easy_cleanup(d->curl);
	rv_creds_provider_free(d->creds);
	free(d->zone_id);
	free(d->base);
	free(d);
}

static const struct rv_dns_ops route53_ops = {
    .name = "route53",
    .close = r_close,
    .read = r_read,
    .change = r_change,
};

int rv_dns_route53_open(struct rv_dns_provider *out, const struct rv_dns_route53_opts *o)
{
	const char *ep = o->endpoint && *o->endpoint ? o->endpoint : R53_ENDPOINT;
	const char *zid = o->zone_id;
	const char *hs;
	struct rv_creds_config none = {0};
	struct r53 *d;
	size_t n;
	int rc;

	out->ops = NULL;
	out->h = NULL;
	if (zid && !strncmp(zid, "/hostedzone/", 12))
		zid += 12;
	if (!zid || !*zid || strlen(zid) >= RV_R53_ID_MAX - 1)
		return rv_error(RV_EUSAGE, "dns.route53.zone_id: give the hosted zone's id "
					   "(aws route53 list-hosted-zones-by-name)");
	for (const char *p = zid; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9')))
			return rv_error(RV_EUSAGE,
					"dns.route53.zone_id '%s' is not a hosted zone id (letters "
					"and digits, e.g. Z0123456789ABCDEFGHIJ)",
					zid);
	if (!strncmp(ep, "https://", 8))
		hs = ep + 8;
	else if (!strncmp(ep, "http://", 7))
		hs = ep + 7;
	else
		return rv_error(RV_EUSAGE, "dns.route53.endpoint '%s' is not an http(s):// URL",
				ep);
	n = strcspn(hs, "/");
	if (!n || n >= sizeof(d->host))
		return rv_error(RV_EUSAGE, "dns.route53.endpoint '%s' names no host", ep);
	d = rv_calloc(1, sizeof(*d));
	memcpy(d->host, hs, n);
	d->base = rv_strndup(ep, (size_t)(hs - ep) + n);
	d->zone_id = rv_strdup(zid);
	d->weight = o->weight;
	d->upsert = o->upsert;
	d->timeout_ms = o->timeout_ms ? o->timeout_ms : 120000;
	rv_http_global_init();
	if (!(d->curl = rv_http_handle_new())) {
		r_close(d);
		return RV_EFAIL;
	}
	if ((rc = rv_creds_provider_new(&d->creds, o->creds ? o->creds : &none))) {
		r_close(d);
		return rc;
	}
	out->ops = &route53_ops;
	out->h = d;
	return 0;
}
