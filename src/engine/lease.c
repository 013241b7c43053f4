/* lease.c - primary lease and generation metadata (see lease.h). */
#include "engine/lease.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define LEASE_FORMAT "revenant-lease"
#define META_FORMAT  "revenant-generation"
#define HB_FORMAT    "revenant-heartbeat"
/* Conditional puts that keep losing mean another writer is in a loop too. */
#define ACQUIRE_ROUNDS 5

void rv_lease_release(struct rv_lease *l)
{
	if (!l)
		return;
	free(l->site);
	free(l->holder);
	free(l->switchover_to);
	free(l->handover_from);
	memset(l, 0, sizeof(*l));
}

void rv_gen_meta_release(struct rv_gen_meta *m)
{
	if (!m)
		return;
	free(m->site);
	free(m->parent);
	free(m->database);
	memset(m, 0, sizeof(*m));
}

void rv_lease_holder_id(char *out, size_t n)
{
	char host[256];
	uint32_t r;

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint32_t)rv_mono_ms();
	snprintf(out, n, "%s:%ld:%08" PRIx32, host, (long)getpid(), r);
}

static bool site_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 63)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

static void iso_time(char out[32], int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char base[24];

	if (!gmtime_r(&t, &tm) || !strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(base, sizeof(base), "1970-01-01T00:00:00");
	snprintf(out, 32, "%s.%03dZ", base, (int)(ms % 1000));
}

static int dump(json_t *o, struct rv_buf *out)
{
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	int rc;

	json_decref(o);
	if (!s)
		return rv_error(RV_EFAIL, "cannot encode json");
	rc = rv_buf_addstr(out, s);
	if (!rc)
		rc = rv_buf_add(out, "\n", 1);
	free(s);
	return rc;
}

static json_t *header(const char *format)
{
	char ver[16];

	snprintf(ver, sizeof(ver), "%d.%d", RV_FORMAT_MAJOR, RV_FORMAT_MINOR);
	return json_pack("{s:s, s:s}", "format", format, "version", ver);
}

int rv_lease_encode(const struct rv_lease *l, struct rv_buf *out)
{
	json_t *o = header(LEASE_FORMAT);
	char since[32];

	iso_time(since, l->since_ms);
	json_object_set_new(o, "epoch", json_integer((json_int_t)l->epoch));
	json_object_set_new(o, "site", json_string(l->site));
	json_object_set_new(o, "generation", json_string(l->gen));
	json_object_set_new(o, "since", json_string(since));
	json_object_set_new(o, "since_ms", json_integer(l->since_ms));
	json_object_set_new(o, "holder", json_string(l->holder));
	if (l->switchover_to)
		json_object_set_new(o, "switchover_to", json_string(l->switchover_to));
	if (l->handover_from) {
		json_t *h = json_object();

		json_object_set_new(h, "from", json_string(l->handover_from));
		json_object_set_new(h, "seq", json_integer((json_int_t)l->handover_seq));
		json_object_set_new(h, "commit_ms", json_integer(l->handover_commit_ms));
		json_object_set_new(o, "handover", h);
	}
	return dump(o, out);
}

/* Parse, check "format" and the major version; the caller reads fields. */
static int load(json_t **out, const char *name, const char *format, const char *json, size_t len)
{
	json_error_t err;
	json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
	const char *f, *v;
	char *end;
	unsigned long major;

	*out = NULL;
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return rv_error(RV_ECORRUPT,
				"'%s' is not a json object (%s) — the stored copy is "
				"damaged or not revenant's",
				name, o ? "wrong type" : err.text);
	}
	f = json_string_value(json_object_get(o, "format"));
	v = json_string_value(json_object_get(o, "version"));
	if (!f || strcmp(f, format) || !v) {
		json_decref(o);
		return rv_error(RV_ECORRUPT, "'%s' is not a %s document (format/version missing)",
				name, format);
	}
	errno = 0;
	major = strtoul(v, &end, 10);
	/* `v` lives in `o`: the message is made before `o` goes. */
	if (errno || end == v || *end != '.') {
		int rc = rv_error(RV_ECORRUPT, "'%s' has a malformed version '%s'", name, v);

		json_decref(o);
		return rc;
	}
	if (major != RV_FORMAT_MAJOR) {
		int rc = rv_error(RV_ENOTSUP,
				  "'%s' is in store format %s; this revenant reads format %d.x — "
				  "use a revenant that knows it",
				  name, v, RV_FORMAT_MAJOR);

		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

/* The optional switchover fields (format 1.2): absent in older leases. */
static int lease_decode_switchover(json_t *o, struct rv_lease *out)
{
	json_t *to = json_object_get(o, "switchover_to"), *h = json_object_get(o, "handover");

	if (to) {
		if (!json_is_string(to) || !site_ok(json_string_value(to)))
			return rv_error(RV_ECORRUPT, "'" RV_LEASE_KEY "': switchover_to is not a "
						     "site name — the stored copy is damaged");
		out->switchover_to = rv_strdup(json_string_value(to));
	}
	if (h) {
		const char *from = json_string_value(json_object_get(h, "from"));
		json_t *seq = json_object_get(h, "seq"), *cms = json_object_get(h, "commit_ms");

		if (!json_is_object(h) || !from || !site_ok(from) || !json_is_integer(seq) ||
		    json_integer_value(seq) < 0 || !json_is_integer(cms))
			return rv_error(RV_ECORRUPT, "'" RV_LEASE_KEY "': a malformed handover "
						     "— the stored copy is damaged");
		out->handover_from = rv_strdup(from);
		out->handover_seq = (uint64_t)json_integer_value(seq);
		out->handover_commit_ms = json_integer_value(cms);
	}
	return 0;
}

int rv_lease_decode(struct rv_lease *out, const char *json, size_t len)
{
	json_t *o, *epoch, *since;
	const char *site, *gen, *holder;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = load(&o, RV_LEASE_KEY, LEASE_FORMAT, json, len)))
		return rc;
	epoch = json_object_get(o, "epoch");
	since = json_object_get(o, "since_ms");
	site = json_string_value(json_object_get(o, "site"));
	gen = json_string_value(json_object_get(o, "generation"));
	holder = json_string_value(json_object_get(o, "holder"));
	if (!json_is_integer(epoch) || json_integer_value(epoch) < 1 || !json_is_integer(since) ||
	    !site || !site_ok(site) || !gen || strlen(gen) != RV_GEN_ID_LEN - 1 ||
	    rv_gen_id_check(gen) || !holder || !*holder) {
		json_decref(o);
		return rv_error(RV_ECORRUPT,
				"'" RV_LEASE_KEY
				"' lacks a valid epoch, site, generation, since_ms "
				"or holder — the stored copy is damaged; inspect it with "
				"`revenant store get " RV_LEASE_KEY "`");
	}
	out->epoch = (uint64_t)json_integer_value(epoch);
	out->since_ms = json_integer_value(since);
	out->site = rv_strdup(site);
	out->holder = rv_strdup(holder);
	memcpy(out->gen, gen, RV_GEN_ID_LEN);
	rc = lease_decode_switchover(o, out);
	json_decref(o);
	if (rc)
		rv_lease_release(out);
	return rc;
}

int rv_lease_read(struct rv_store *s, struct rv_lease *out)
{
	struct rv_buf b = RV_BUF_INIT(RV_LEASE_MAX);
	struct rv_obj_info info = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = rv_store_get_buf(s, RV_LEASE_KEY, &b, &info);
	if (!rc)
		rc = rv_lease_decode(out, b.data ? b.data : "", b.len);
	if (!rc)
		memcpy(out->etag, info.etag, sizeof(out->etag));
	rv_obj_info_release(&info);
	rv_buf_release(&b);
	return rc;
}

/* The weak path: write, wait, re-read; we won if the stored lease is ours. */
static int weak_put(struct rv_store *s, const struct rv_lease_opts *o, const struct rv_lease *l,
		    const struct rv_buf *b)
{
	struct rv_put_opts po = {.cond = RV_PUT_ALWAYS, .content_type = "application/json"};
	struct rv_lease back;
	int rc;

	if ((rc = rv_store_put_buf(s, RV_LEASE_KEY, b->data, b->len, &po)))
		return rc;
	rv_sleep_ms(o->settle_ms ? o->settle_ms : 500);
	if ((rc = rv_lease_read(s, &back)))
		return rc;
	if (back.epoch != l->epoch || strcmp(back.holder, l->holder)) {
		rc = rv_error(RV_EPRECOND,
			      "lost the race for the lease: '%s' of site '%s' wrote epoch %" PRIu64
			      " at the same time",
			      back.holder, back.site, back.epoch);
	}
	rv_lease_release(&back);
	return rc;
}

static bool same_lease(const struct rv_lease *a, const struct rv_lease *b)
{
	return a->epoch == b->epoch && a->holder && b->holder && !strcmp(a->holder, b->holder);
}

/* A renewal found something else than the lease it renews: this writer
 * lost the lease and, having lost it, never takes it back. */
static int renew_lost(const struct rv_lease_opts *o, const struct rv_lease *cur)
{
	if (!cur)
		return rv_error(RV_EFENCED,
				"fenced: the lease object '" RV_LEASE_KEY
				"' is gone; this writer held epoch %" PRIu64
				" and does not take it back — stopped writing",
				o->renew->epoch);
	return rv_error(RV_EFENCED,
			"fenced: site '%s' holds the lease at epoch %" PRIu64
			" (holder %s, generation %s); this writer held epoch %" PRIu64
			" and does not take it back — stopped writing",
			cur->site, cur->epoch, cur->holder, cur->gen, o->renew->epoch);
}

int rv_lease_acquire(struct rv_store *s, const struct rv_lease_opts *o, struct rv_lease *out)
{
	const struct rv_store_caps *caps = rv_store_caps(s);
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!o->site || !site_ok(o->site))
		return rv_error(RV_EUSAGE,
				"site name '%s' must be 1-63 letters, digits, '.', '_' or '-'",
				o->site ? o->site : "");
	if (!o->holder || !*o->holder)
		return rv_error(RV_EUSAGE, "lease holder id is empty");
	if (o->renew && (!o->renew->site || strcmp(o->renew->site, o->site) || !o->renew->holder ||
			 !o->renew->epoch))
		return rv_error(RV_EUSAGE, "a lease renewal needs a lease of site '%s' it holds",
				o->site);
	if ((rc = rv_gen_id_check(o->gen)))
		return rc;
	for (int round = 0; round < ACQUIRE_ROUNDS; round++) {
		struct rv_buf b = RV_BUF_INIT(RV_LEASE_MAX);
		struct rv_put_opts po = {.content_type = "application/json"};
		struct rv_lease cur, next = {0};
		bool absent;

		rc = rv_lease_read(s, &cur);
		if (rc && rc != RV_ENOTFOUND)
			return rc;
		absent = rc == RV_ENOTFOUND;
		/* Re-checked on every round: a put that lost its condition
		 * comes back here and finds the lease someone else took. */
		if (o->renew && (absent || !same_lease(&cur, o->renew))) {
			rc = renew_lost(o, absent ? NULL : &cur);
			rv_lease_release(&cur);
			return rc;
		}
		if (o->from && (absent || !same_lease(&cur, o->from))) {
			rc = absent
				 ? rv_error(RV_EFENCED,
					    "the lease object '" RV_LEASE_KEY "' vanished while "
					    "this promotion ran: nothing was taken")
				 : rv_error(RV_EFENCED,
					    "the lease moved on while this promotion ran: site "
					    "'%s' holds it at epoch %" PRIu64 " (holder %s) — "
					    "another promotion, or a primary that started again; "
					    "nothing was taken",
					    cur.site, cur.epoch, cur.holder);
			rv_lease_release(&cur);
			return rc;
		}
		if (!absent && strcmp(cur.site, o->site) && !o->take_over && !o->from) {
			rc = rv_error(RV_EFENCED,
				      "site '%s' holds the primary lease (epoch %" PRIu64
				      ", holder %s); this is site '%s' — run it as a standby "
				      "('revenant standby') while that site writes; to take over "
				      "after 'standby --promote-once', run 'replicate --take-over'",
				      cur.site, cur.epoch, cur.holder, o->site);
			rv_lease_release(&cur);
			return rc;
		}
		next.epoch = absent ? 1 : cur.epoch + 1;
		next.site = rv_strdup(o->site);
		next.holder = rv_strdup(o->holder);
		memcpy(next.gen, o->gen, RV_GEN_ID_LEN);
		next.since_ms = rv_now_ms();
		rc = rv_lease_encode(&next, &b);
		if (!rc && o->weak) {
			rc = weak_put(s, o, &next, &b);
		} else if (!rc && absent) {
			if (!caps->put_if_absent)
				rc = weak_put(s, o, &next, &b);
			else {
				po.cond = RV_PUT_IF_ABSENT;
				rc = rv_store_put_buf(s, RV_LEASE_KEY, b.data, b.len, &po);
			}
		} else if (!rc) {
			if (!caps->put_if_match)
				rc = weak_put(s, o, &next, &b);
			else {
				po.cond = RV_PUT_IF_MATCH;
				po.if_match = cur.etag;
				rc = rv_store_put_buf(s, RV_LEASE_KEY, b.data, b.len, &po);
			}
		}
		rv_buf_release(&b);
		rv_lease_release(&cur);
		if (!rc) {
			char epoch[24];

			rc = rv_lease_read(s, out);
			if (rc == RV_ENOTFOUND && o->renew)
				rc = renew_lost(o, NULL);
			else if (!rc && !same_lease(out, &next))
				rc = o->renew
					 ? renew_lost(o, out)
					 : rv_error(RV_EPRECOND,
						    "the lease changed right after it was taken");
			snprintf(epoch, sizeof(epoch), "%" PRIu64, next.epoch);
			if (!rc)
				rv_log(RV_LOG_INFO, o->renew ? "lease renewed" : "lease taken",
				       "site", out->site, "epoch", epoch, "generation", out->gen,
				       "holder", out->holder, NULL);
			rv_lease_release(&next);
			if (rc)
				rv_lease_release(out);
			return rc;
		}
		rv_lease_release(&next);
		if (rc != RV_EPRECOND)
			return rc;
		rv_sleep_ms(50 + 50 * round);
	}
	return rc;
}

int rv_lease_check(struct rv_store *s, const struct rv_lease *mine)
{
	struct rv_lease cur;
	int rc = rv_lease_check_read(s, mine, &cur);

	rv_lease_release(&cur);
	return rc;
}

int rv_lease_check_read(struct rv_store *s, const struct rv_lease *mine, struct rv_lease *out)
{
	struct rv_lease cur;
	int rc = rv_lease_read(s, &cur);

	memset(out, 0, sizeof(*out));

	if (rc == RV_ENOTFOUND)
		return rv_error(RV_EFENCED,
				"the lease object '" RV_LEASE_KEY "' is gone — stopped writing; "
				"find out who removed it before restarting");
	if (rc == RV_ECORRUPT || rc == RV_ENOTSUP) {
		char why[512];

		snprintf(why, sizeof(why), "%s", rv_errmsg());
		return rv_error(RV_EFENCED, "stopped writing: %s", why);
	}
	if (rc)
		return rc; /* unreachable store: the caller retries, it does not write */
	if (cur.epoch != mine->epoch || strcmp(cur.holder, mine->holder)) {
		rc = rv_error(RV_EFENCED,
			      "fenced: site '%s' holds the lease at epoch %" PRIu64
			      " (holder %s, generation %s); this writer had epoch %" PRIu64
			      " — stopped writing",
			      cur.site, cur.epoch, cur.holder, cur.gen, mine->epoch);
		rv_lease_release(&cur);
		return rc;
	}
	*out = cur;
	return 0;
}

/* Rewrite the stored lease `cur` as `next` with put-if-match on its etag
 * (a weak store: weak_put's write, settle, re-read), then read it back to
 * see the site and the switchover request are what was written. */
static int lease_rewrite(struct rv_store *s, const struct rv_lease *cur,
			 const struct rv_lease *next)
{
	struct rv_put_opts po = {
	    .content_type = "application/json", .cond = RV_PUT_IF_MATCH, .if_match = cur->etag};
	const struct rv_lease_opts settle = {0};
	struct rv_buf b = RV_BUF_INIT(RV_LEASE_MAX);
	struct rv_lease back;
	int rc = rv_lease_encode(next, &b);

	if (!rc)
		rc = rv_store_caps(s)->put_if_match
			 ? rv_store_put_buf(s, RV_LEASE_KEY, b.data, b.len, &po)
			 : weak_put(s, &settle, next, &b);
	rv_buf_release(&b);
	if (rc)
		return rc;
	if ((rc = rv_lease_read(s, &back)))
		return rc;
	if (!same_lease(&back, next) || strcmp(back.site, next->site) ||
	    !back.switchover_to != !next->switchover_to)
		rc = rv_error(RV_EPRECOND, "the lease changed while it was rewritten");
	rv_lease_release(&back);
	return rc;
}

int rv_lease_ask_switchover(struct rv_store *s, uint64_t epoch, const char *to, bool clear)
{
	struct rv_lease cur, next;
	int rc;

	if (!clear && (!to || !site_ok(to)))
		return rv_error(RV_EUSAGE, "switchover: '%s' is not a site name", to ? to : "");
	if ((rc = rv_lease_read(s, &cur)))
		return rc;
	if (cur.epoch != epoch) {
		rc = rv_error(RV_EPRECOND,
			      "the lease moved on (epoch %" PRIu64 ", site '%s') since it was read",
			      cur.epoch, cur.site);
		rv_lease_release(&cur);
		return rc;
	}
	if (!clear && !strcmp(cur.site, to)) {
		rc = rv_error(RV_EUSAGE, "site '%s' holds the lease already", to);
		rv_lease_release(&cur);
		return rc;
	}
	next = cur;
	next.switchover_to = clear ? NULL : (char *)to;
	rc = lease_rewrite(s, &cur, &next);
	rv_lease_release(&cur);
	return rc;
}

int rv_lease_hand_over(struct rv_store *s, const struct rv_lease *mine, const char *to,
		       uint64_t seq, int64_t commit_ms)
{
	struct rv_lease cur, next = {0};
	char epoch[24];
	int rc = rv_lease_check_read(s, mine, &cur);

	if (rc)
		return rc;
	next.epoch = cur.epoch + 1;
	next.site = (char *)to;
	memcpy(next.gen, cur.gen, RV_GEN_ID_LEN);
	next.since_ms = rv_now_ms();
	next.holder = rv_asprintf("handover:%s", mine->holder);
	next.handover_from = mine->site;
	next.handover_seq = seq;
	next.handover_commit_ms = commit_ms;
	rc = lease_rewrite(s, &cur, &next);
	snprintf(epoch, sizeof(epoch), "%" PRIu64, next.epoch);
	if (!rc)
		rv_log(RV_LOG_INFO, "lease handed over", "to", to, "epoch", epoch, "generation",
		       next.gen, NULL);
	free(next.holder);
	rv_lease_release(&cur);
	return rc;
}

int rv_gen_meta_write(struct rv_store *s, const struct rv_gen_meta *m)
{
	struct rv_buf b = RV_BUF_INIT(RV_LEASE_MAX);
	struct rv_put_opts po = {.content_type = "application/json"};
	json_t *o;
	char created[32], *key;
	int rc;

	if ((rc = rv_gen_id_check(m->gen)))
		return rc;
	o = header(META_FORMAT);
	iso_time(created, m->created_ms);
	json_object_set_new(o, "generation", json_string(m->gen));
	json_object_set_new(o, "site", json_string(m->site ? m->site : ""));
	json_object_set_new(o, "epoch", json_integer((json_int_t)m->epoch));
	json_object_set_new(o, "created", json_string(created));
	json_object_set_new(o, "created_ms", json_integer(m->created_ms));
	json_object_set_new(o, "parent", m->parent ? json_string(m->parent) : json_null());
	json_object_set_new(o, "database", json_string(m->database ? m->database : "none"));
	json_object_set_new(o, "revenant", json_string(RV_VERSION));
	if ((rc = dump(o, &b)))
		goto out;
	/* A generation ID is fresh: an existing meta means a clash, not ours. */
	po.cond = rv_store_caps(s)->put_if_absent ? RV_PUT_IF_ABSENT : RV_PUT_ALWAYS;
	key = rv_gen_meta_key(m->gen);
	rc = rv_store_put_buf(s, key, b.data, b.len, &po);
	free(key);
out:
	rv_buf_release(&b);
	return rc;
}

int rv_gen_meta_read(struct rv_store *s, const char *gen, struct rv_gen_meta *out)
{
	struct rv_buf b = RV_BUF_INIT(RV_LEASE_MAX);
	char *key = rv_gen_meta_key(gen);
	json_t *o = NULL, *epoch, *cms;
	const char *g, *site, *parent, *db;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = rv_store_get_buf(s, key, &b, NULL);
	if (!rc)
		rc = load(&o, key, META_FORMAT, b.data ? b.data : "", b.len);
	if (rc)
		goto out;
	g = json_string_value(json_object_get(o, "generation"));
	site = json_string_value(json_object_get(o, "site"));
	parent = json_string_value(json_object_get(o, "parent"));
	db = json_string_value(json_object_get(o, "database"));
	epoch = json_object_get(o, "epoch");
	cms = json_object_get(o, "created_ms");
	if (!g || strcmp(g, gen) || !site || !json_is_integer(epoch) || !json_is_integer(cms) ||
	    (parent && rv_gen_id_check(parent))) {
		rc = rv_error(RV_ECORRUPT,
			      "'%s' lacks a valid generation, site, epoch or created_ms", key);
		goto out;
	}
	memcpy(out->gen, g, RV_GEN_ID_LEN);
	out->site = rv_strdup(site);
	out->epoch = (uint64_t)json_integer_value(epoch);
	out->created_ms = json_integer_value(cms);
	out->parent = parent ? rv_strdup(parent) : NULL;
	out->database = rv_strdup(db ? db : "none");
out:
	json_decref(o);
	free(key);
	rv_buf_release(&b);
	return rc;
}

/* ---- heartbeat ------------------------------------------------------------ */

void rv_heartbeat_release(struct rv_heartbeat *h)
{
	free(h->site);
	free(h->holder);
	h->site = h->holder = NULL;
}

int rv_heartbeat_encode(const struct rv_heartbeat *h, struct rv_buf *out)
{
	json_t *o = header(HB_FORMAT);
	char at[32];

	iso_time(at, h->time_ms);
	json_object_set_new(o, "site", json_string(h->site ? h->site : ""));
	json_object_set_new(o, "epoch", json_integer((json_int_t)h->epoch));
	json_object_set_new(o, "generation", json_string(h->gen));
	json_object_set_new(o, "holder", json_string(h->holder ? h->holder : ""));
	json_object_set_new(o, "time", json_string(at));
	json_object_set_new(o, "time_ms", json_integer(h->time_ms));
	json_object_set_new(o, "seq", json_integer((json_int_t)h->seq));
	json_object_set_new(o, "commit_ms", json_integer(h->commit_ms));
	json_object_set_new(o, "db_pos",
			    h->has_db ? json_integer((json_int_t)h->db_pos) : json_null());
	json_object_set_new(o, "idle", json_boolean(h->idle));
	return dump(o, out);
}

int rv_heartbeat_write(struct rv_store *s, const struct rv_heartbeat *h)
{
	struct rv_buf b = RV_BUF_INIT(RV_LEASE_MAX);
	struct rv_put_opts po = {
	    .content_type = "application/json", .cond = RV_PUT_ALWAYS, .volatile_ok = true};
	int rc = rv_heartbeat_encode(h, &b);

	if (!rc)
		rc = rv_store_put_buf(s, RV_HEARTBEAT_KEY, b.data, b.len, &po);
	rv_buf_release(&b);
	return rc;
}

int rv_heartbeat_decode(struct rv_heartbeat *out, const char *json, size_t len)
{
	json_t *o = NULL, *epoch, *tms, *seq, *cms, *db;
	const char *site, *gen, *holder;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = load(&o, RV_HEARTBEAT_KEY, HB_FORMAT, json, len)))
		return rc;
	site = json_string_value(json_object_get(o, "site"));
	gen = json_string_value(json_object_get(o, "generation"));
	holder = json_string_value(json_object_get(o, "holder"));
	epoch = json_object_get(o, "epoch");
	tms = json_object_get(o, "time_ms");
	seq = json_object_get(o, "seq");
	cms = json_object_get(o, "commit_ms");
	db = json_object_get(o, "db_pos");
	if (!site || !site_ok(site) || !gen || strlen(gen) != RV_GEN_ID_LEN - 1 ||
	    rv_gen_id_check(gen) || !holder || !json_is_integer(epoch) ||
	    json_integer_value(epoch) < 1 || !json_is_integer(tms) || !json_is_integer(seq) ||
	    json_integer_value(seq) < 0 || !json_is_integer(cms) ||
	    (db && !json_is_null(db) && (!json_is_integer(db) || json_integer_value(db) < 0))) {
		rv_error_clear();
		json_decref(o);
		return rv_error(RV_ECORRUPT,
				"'" RV_HEARTBEAT_KEY "' lacks a valid site, epoch, generation, "
				"holder, time_ms, seq or commit_ms");
	}
	out->site = rv_strdup(site);
	out->holder = rv_strdup(holder);
	memcpy(out->gen, gen, RV_GEN_ID_LEN);
	out->epoch = (uint64_t)json_integer_value(epoch);
	out->time_ms = json_integer_value(tms);
	out->seq = (uint64_t)json_integer_value(seq);
	out->commit_ms = json_integer_value(cms);
	out->idle = json_is_true(json_object_get(o, "idle"));
	out->has_db = db && json_is_integer(db);
	out->db_pos = out->has_db ? (uint64_t)json_integer_value(db) : 0;
	json_decref(o);
	return 0;
}

int rv_heartbeat_read(struct rv_store *s, struct rv_heartbeat *out)
{
	struct rv_buf b = RV_BUF_INIT(RV_LEASE_MAX);
	int rc;

	memset(out, 0, sizeof(*out));
	rc = rv_store_get_buf(s, RV_HEARTBEAT_KEY, &b, NULL);
	if (!rc)
		rc = rv_heartbeat_decode(out, b.data ? b.data : "", b.len);
	rv_buf_release(&b);
	return rc;
}

/* ---- sites/<site>/standby.json -------------------------------------- */

#define SB_FORMAT "revenant-standby-status"

void rv_standby_status_release(struct rv_standby_status *st)
{
	free(st->site);
	memset(st, 0, sizeof(*st));
}

int rv_standby_status_write(struct rv_store *s, const struct rv_standby_status *st)
{
	struct rv_put_opts po = {
	    .content_type = "application/json", .cond = RV_PUT_ALWAYS, .volatile_ok = true};
	struct rv_buf b = RV_BUF_INIT(RV_LEASE_MAX);
	json_t *o = header(SB_FORMAT);
	char *key = rv_site_standby_key(st->site);
	int rc;

	json_object_set_new(o, "site", json_string(st->site));
	json_object_set_new(o, "generation", json_string(st->gen));
	json_object_set_new(o, "seq", json_integer((json_int_t)st->seq));
	json_object_set_new(o, "commit_ms", json_integer(st->commit_ms));
	json_object_set_new(o, "time_ms", json_integer(st->time_ms));
	rc = dump(o, &b);
	if (!rc)
		rc = rv_store_put_buf(s, key, b.data, b.len, &po);
	rv_buf_release(&b);
	free(key);
	return rc;
}

int rv_standby_status_read(struct rv_store *s, const char *site, struct rv_standby_status *out)
{
	struct rv_buf b = RV_BUF_INIT(RV_LEASE_MAX);
	char *key = rv_site_standby_key(site);
	json_t *o = NULL, *seq, *cms, *tms;
	const char *st, *gen;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = rv_store_get_buf(s, key, &b, NULL);
	if (!rc)
		rc = load(&o, key, SB_FORMAT, b.data ? b.data : "", b.len);
	rv_buf_release(&b);
	if (rc) {
		free(key);
		return rc;
	}
	st = json_string_value(json_object_get(o, "site"));
	gen = json_string_value(json_object_get(o, "generation"));
	seq = json_object_get(o, "seq");
	cms = json_object_get(o, "commit_ms");
	tms = json_object_get(o, "time_ms");
	if (!st || strcmp(st, site) || !gen || strlen(gen) != RV_GEN_ID_LEN - 1 ||
	    rv_gen_id_check(gen) || !json_is_integer(seq) || json_integer_value(seq) < 0 ||
	    !json_is_integer(cms) || !json_is_integer(tms)) {
		rc = rv_error(RV_ECORRUPT, "'%s' is malformed — the stored copy is damaged", key);
	} else {
		out->site = rv_strdup(st);
		memcpy(out->gen, gen, RV_GEN_ID_LEN);
		out->seq = (uint64_t)json_integer_value(seq);
		out->commit_ms = json_integer_value(cms);
		out->time_ms = json_integer_value(tms);
	}
	json_decref(o);
	free(key);
	return rc;
}

int64_t rv_standby_behind_ms(const struct rv_heartbeat *hb, const struct rv_standby_status *st)
{
	if (!strcmp(hb->gen, st->gen) && st->seq >= hb->seq)
		return 0;
	return hb->commit_ms > st->commit_ms ? hb->commit_ms - st->commit_ms : 0;
}

int rv_heartbeat_wait(struct rv_store *s, const char *site, uint64_t min_epoch, int64_t end_ms,
		      char gen[RV_GEN_ID_LEN])
{
	for (;;) {
		struct rv_heartbeat hb;
		bool done = false;

		if (!rv_heartbeat_read(s, &hb)) {
			done = !strcmp(hb.site, site) && hb.epoch >= min_epoch;
			if (done && gen)
				memcpy(gen, hb.gen, RV_GEN_ID_LEN);
			rv_heartbeat_release(&hb);
		}
		rv_error_clear();
		if (done)
			return 0;
		if (rv_mono_ms() >= end_ms)
			return RV_ENET;
		rv_sleep_ms(100);
	}
}
