/* rfc2136.c - the RFC 2136 provider (dns.h): dynamic UPDATE signed with
 * TSIG, to the zone's primary (BIND, Knot, PowerDNS), through ldns.
 *
 * The change is one UPDATE message: a prerequisite that the RRset holds
 * exactly the values read (RFC 2136 2.4.2; "does not exist", 2.4.3, when
 * there were none), the RRset's deletion (2.5.2) and the new records.  The
 * server applies it all or nothing and answers NXRRSET when the
 * prerequisite fails: the compare-and-swap.  Then the primary is asked
 * again until it answers the new values (and a new SOA serial): verified,
 * not assumed.  Updates are TSIG-signed and their answer must carry a
 * signature that verifies against the request's MAC (ldns checks it; an
 * unsigned answer, which is how a server rejects an unknown key, fails
 * too).  Reads are plain queries of public data at the primary, which must
 * answer authoritatively.  Answers that come back truncated are asked again
 * over TCP. */
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "dns/dns.h"

#include <errno.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct r2136 {
	ldns_resolver *res;
	char *server, *zone, *key_name;
	unsigned port;
	unsigned timeout_ms;
};

/* What ldns 1.8.3 can sign with, against BIND 9.18 (shared/FACTS.md). */
static const char *alg_wire(const char *alg)
{
	static const struct {
		const char *name, *wire;
	} algs[] = {
	    {"hmac-sha256", "hmac-sha256."},
	    {"hmac-sha512", "hmac-sha512."},
	    {"hmac-sha1", "hmac-sha1."},
	    {"hmac-md5", "hmac-md5.sig-alg.reg.int."},
	};
	size_t n = strlen(alg);

	if (n && alg[n - 1] == '.')
		n--;
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strlen(algs[i].name) == n && !strncasecmp(algs[i].name, alg, n))
			return algs[i].wire;
	if (!strncasecmp(alg, "hmac-md5.sig-alg.reg.int", n))
		return "hmac-md5.sig-alg.reg.int.";
	return NULL;
}

int rv_dns_rfc2136_check_algorithm(const char *alg)
{
	if (!alg || alg_wire(alg))
		return 0;
	if (!strncasecmp(alg, "hmac-sha384", 11))
		return rv_error(RV_EUSAGE,
				"TSIG algorithm hmac-sha384 does not work with the ldns release "
				"this build uses (1.8.3 signs it wrongly) — make the key "
				"hmac-sha256 or hmac-sha512 (tsig-keygen -a hmac-sha256)");
	return rv_error(RV_EUSAGE,
			"TSIG algorithm '%s' is not supported — use hmac-sha256 (default), "
			"hmac-sha512, hmac-sha1 or hmac-md5",
			alg);
}

static const char *where(const struct r2136 *d, char *buf, size_t n)
{
	snprintf(buf, n, "%s port %u", d->server, d->port);
	return buf;
}

/* ldns's status as ours, for an exchange with the server. */
static int status_error(const struct r2136 *d, ldns_status st, const char *what)
{
	char w[300];

	where(d, w, sizeof(w));
	if (st == LDNS_STATUS_CRYPTO_TSIG_BOGUS || st == LDNS_STATUS_CRYPTO_TSIG_ERR)
		return rv_error(RV_EAUTH,
				"dns %s at %s: the server did not accept TSIG key '%s' (its answer "
				"is not signed with it) — check the key's name, algorithm and "
				"secret against the server's",
				what, w, d->key_name);
	if (st == LDNS_STATUS_NETWORK_ERR || st == LDNS_STATUS_RES_NO_NS ||
	    st == LDNS_STATUS_SOCKET_ERROR || st == LDNS_STATUS_ADDRESS_ERR)
		return rv_error(RV_ENET,
				"dns %s at %s: no answer within %u ms (%s) — is the server up and "
				"the address right?",
				what, w, d->timeout_ms, ldns_get_errorstr_by_id(st));
	return rv_error(RV_EFAIL, "dns %s at %s: %s", what, w, ldns_get_errorstr_by_id(st));
}

static int rcode_error(const struct r2136 *d, ldns_pkt_rcode rc, const char *what, const char *name)
{
	char w[300];

	where(d, w, sizeof(w));
	switch (rc) {
	case LDNS_RCODE_NXRRSET:
	case LDNS_RCODE_YXRRSET:
		return rv_error(RV_EPRECOND,
				"dns %s '%s' at %s: the record changed since revenant read it; "
				"nothing was changed — look again (revenant dns show)",
				what, name, w);
	case LDNS_RCODE_NOTAUTH:
		return rv_error(RV_EAUTH,
				"dns %s '%s' at %s: the server does not accept TSIG key '%s' for "
				"zone '%s' (NOTAUTH) — check the key's name, algorithm and secret",
				what, name, w, d->key_name, d->zone);
	case LDNS_RCODE_REFUSED:
		return rv_error(
		    RV_EAUTH,
		    "dns %s '%s' at %s: refused — the zone's update-policy must grant "
		    "key '%s' this name (BIND: update-policy { grant %s zonesub ANY; })",
		    what, name, w, d->key_name, d->key_name);
	case LDNS_RCODE_NOTZONE:
		return rv_error(RV_EUSAGE, "dns %s '%s' at %s: the name is not in zone '%s'", what,
				name, w, d->zone);
	default:
		return rv_error(RV_EFAIL, "dns %s '%s' at %s: the server answered %s", what, name,
				w, ldns_pkt_rcode2str(rc) ? ldns_pkt_rcode2str(rc) : "an error");
	}
}

static int query(struct r2136 *d, const char *name, ldns_rr_type t, ldns_pkt **out)
{
	ldns_rdf *qn = ldns_dname_new_frm_str(name);
	ldns_pkt *q = NULL, *a = NULL;
	ldns_status st;
	int rc = 0;

	*out = NULL;
	if (!qn)
		return rv_error(RV_EUSAGE, "dns name '%s' is not a domain name", name);
	st = ldns_resolver_prepare_query_pkt(&q, d->res, qn, t, LDNS_RR_CLASS_IN, 0);
	if (st == LDNS_STATUS_OK)
		st = ldns_resolver_send_pkt(&a, d->res, q);
	if (st != LDNS_STATUS_OK)
		rc = status_error(d, st, "query");
	else if (ldns_pkt_get_rcode(a) != LDNS_RCODE_NOERROR &&
		 ldns_pkt_get_rcode(a) != LDNS_RCODE_NXDOMAIN)
		rc = rcode_error(d, ldns_pkt_get_rcode(a), "query", name);
	else if (!ldns_pkt_aa(a))
		rc = rv_error(RV_EUSAGE,
			      "dns query '%s': the server at %s port %u is not authoritative for "
			      "it — give the zone's primary server",
			      name, d->server, d->port);
	ldns_pkt_free(q);
	ldns_rdf_deep_free(qn);
	if (rc)
		ldns_pkt_free(a);
	else
		*out = a;
	return rc;
}

static ldns_rr_type rr_type(enum rv_dns_type t)
{
	return t == RV_DNS_A	  ? LDNS_RR_TYPE_A
	       : t == RV_DNS_AAAA ? LDNS_RR_TYPE_AAAA
				  : LDNS_RR_TYPE_CNAME;
}

/* The answer section's records of type `t` owned by `name`, as values. */
static int answer_values(const ldns_pkt *a, const char *name, enum rv_dns_type t,
			 struct rv_dns_values *v, unsigned *ttl)
{
	ldns_rr_list *an = ldns_pkt_answer(a);
	ldns_rdf *owner = ldns_dname_new_frm_str(name);

	memset(v, 0, sizeof(*v));
	for (size_t i = 0; an && i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		char *s;
		int rc;

		if (ldns_rr_get_type(rr) != rr_type(t) ||
		    ldns_dname_compare(ldns_rr_owner(rr), owner))
			continue;
		if (v->n == RV_DNS_MAX_VALUES || ldns_rr_rd_count(rr) < 1) {
			ldns_rdf_deep_free(owner);
			return rv_error(RV_ECORRUPT, "dns answer for '%s': more than %d records",
					name, RV_DNS_MAX_VALUES);
		}
		s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
		rc = s ? rv_dns_value_canon(t, s, v->v[v->n]) : RV_EFAIL;
		free(s);
		if (rc) {
			ldns_rdf_deep_free(owner);
			return rv_error(RV_ECORRUPT, "dns answer for '%s': a record that is not %s",
					name, rv_dns_type_name(t));
		}
		*ttl = ldns_rr_ttl(rr);
		v->n++;
	}
	ldns_rdf_deep_free(owner);
	return 0;
}

/* external-dns's TXT registry: a TXT "heritage=external-dns,…" at the name
 * itself (old layout) or at "<type>-<name>" (the layout since 0.13). */
static int external_dns(struct r2136 *d, const struct rv_dns_record *r, struct rv_dns_answer *out)
{
	char names[2][RV_DNS_NAME_MAX + 8];
	const char *ty = r->type == RV_DNS_A ? "a" : r->type == RV_DNS_AAAA ? "aaaa" : "cname";

	snprintf(names[0], sizeof(names[0]), "%s", r->name);
	snprintf(names[1], sizeof(names[1]), "%s-%s", ty, r->name);
	for (int k = 0; k < 2; k++) {
		ldns_pkt *a;
		ldns_rr_list *an;
		int rc = query(d, names[k], LDNS_RR_TYPE_TXT, &a);

		if (rc)
			return rc;
		an = ldns_pkt_answer(a);
		for (size_t i = 0; an && i < ldns_rr_list_rr_count(an); i++) {
			ldns_rr *rr = ldns_rr_list_rr(an, i);
			char *s, *o;

			if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT || ldns_rr_rd_count(rr) < 1)
				continue;
			s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
			if (s && strstr(s, "heritage=external-dns")) {
				out->external_dns = true;
				if ((o = strstr(s, "external-dns/owner="))) {
					size_t n = strcspn(o + 19, ",\"");
					snprintf(out->owner, sizeof(out->owner), "%.*s", (int)n,
						 o + 19);
				}
			}
			free(s);
		}
		ldns_pkt_free(a);
		if (out->external_dns)
			break;
	}
	return 0;
}

static int soa_serial(struct r2136 *d, uint32_t *serial)
{
	ldns_pkt *a;
	ldns_rr_list *an;
	int rc = query(d, d->zone, LDNS_RR_TYPE_SOA, &a);

	if (rc)
		return rc;
	an = ldns_pkt_answer(a);
	rc = rv_error(RV_EUSAGE, "dns zone '%s': the server at %s port %u has no SOA for it",
		      d->zone, d->server, d->port);
	for (size_t i = 0; an && i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) >= 3) {
			*serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
			rv_error_clear();
			rc = 0;
			break;
		}
	}
	ldns_pkt_free(a);
	return rc;
}

static int r_read(void *h, const struct rv_dns_record *r, struct rv_dns_answer *out)
{
	struct r2136 *d = h;
	ldns_pkt *a;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = query(d, r->name, rr_type(r->type), &a)))
		return rc;
	rc = answer_values(a, r->name, r->type, &out->values, &out->ttl);
	ldns_pkt_free(a);
	if (rc)
		return rc;
	out->exists = out->values.n > 0;
	if ((rc = external_dns(d, r, out)))
		return rc;
	if ((rc = soa_serial(d, &out->serial)))
		return rc;
	out->has_serial = true;
	return 0;
}

/* One update record: class IN with TTL and value, or (value NULL) the
 * RRset with class ANY/NONE, TTL 0 and no rdata. */
static ldns_rr *update_rr(const char *name, ldns_rr_type t, ldns_rr_class c, uint32_t ttl,
			  const char *value)
{
	ldns_rr *rr = ldns_rr_new();

	ldns_rr_set_owner(rr, ldns_dname_new_frm_str(name));
	ldns_rr_set_type(rr, t);
	ldns_rr_set_class(rr, c);
	ldns_rr_set_ttl(rr, ttl);
	if (value) {
		ldns_rdf *rd = t == LDNS_RR_TYPE_A ? ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, value)
			       : t == LDNS_RR_TYPE_AAAA
				   ? ldns_rdf_new_frm_str(LDNS_RDF_TYPE_AAAA, value)
				   : ldns_dname_new_frm_str(value);
		if (!rd) {
			ldns_rr_free(rr);
			return NULL;
		}
		ldns_rr_push_rdf(rr, rd);
	}
	return rr;
}

/* The UPDATE message: prerequisite (the RRset holds exactly `from`, or
 * does not exist), the RRset's deletion, the new records.  NULL with the
 * error set when a value is not of the record's type. */
static ldns_pkt *update_pkt(const struct r2136 *d, const struct rv_dns_record *r,
			    const struct rv_dns_values *from, const struct rv_dns_values *to)
{
	ldns_rr_type t = rr_type(r->type);
	ldns_rr_list *pr = ldns_rr_list_new(), *up = ldns_rr_list_new();
	ldns_pkt *u = NULL;

	if (from->n)
		for (unsigned i = 0; i < from->n; i++)
			ldns_rr_list_push_rr(
			    pr, update_rr(r->name, t, LDNS_RR_CLASS_IN, 0, from->v[i]));
	else
		ldns_rr_list_push_rr(pr, update_rr(r->name, t, LDNS_RR_CLASS_NONE, 0, NULL));
	ldns_rr_list_push_rr(up, update_rr(r->name, t, LDNS_RR_CLASS_ANY, 0, NULL));
	for (unsigned i = 0; i < to->n; i++) {
		ldns_rr *rr = update_rr(r->name, t, LDNS_RR_CLASS_IN, r->ttl, to->v[i]);
		if (!rr) {
			rv_error(RV_EUSAGE, "dns record '%s': '%s' is not a %s value", r->name,
				 to->v[i], rv_dns_type_name(r->type));
			goto out;
		}
		ldns_rr_list_push_rr(up, rr);
	}
	/* The packet takes the zone name; the lists are copied. */
	u = ldns_update_pkt_new(ldns_dname_new_frm_str(d->zone), LDNS_RR_CLASS_IN, pr, up, NULL);
	ldns_pkt_set_rd(u, false);
	ldns_pkt_set_random_id(u);
out:
	ldns_rr_list_deep_free(pr);
	ldns_rr_list_deep_free(up);
	return u;
}

/* Ask the primary until it answers `to` under a serial other than
 * `before`, or the deadline passes. */
static int verify(struct r2136 *d, const struct rv_dns_record *r, const struct rv_dns_values *to,
		  uint32_t before, int64_t deadline, struct rv_dns_change_result *res)
{
	for (;;) {
		struct rv_dns_answer now;
		char v[512];
		int rc;

		if ((rc = r_read(d, r, &now)))
			return rc;
		if (rv_dns_values_equal(&now.values, to) && now.serial != before) {
			res->serial = now.serial;
			res->has_serial = true;
			return 0;
		}
		if (rv_mono_ms() >= deadline) {
			rv_dns_values_str(&now.values, v, sizeof(v));
			return rv_error(
			    RV_ECORRUPT,
			    "dns update '%s' at %s port %u was accepted, but the server "
			    "still answers %s — check the zone on the server",
			    r->name, d->server, d->port, v);
		}
		rv_sleep_ms(10);
	}
}

static int r_change(void *h, const struct rv_dns_record *r, const struct rv_dns_values *from,
		    const struct rv_dns_values *to, struct rv_dns_change_result *res)
{
	struct r2136 *d = h;
	ldns_pkt *u = NULL, *a = NULL;
	int64_t t0 = rv_mono_ms();
	uint32_t before = 0;
	ldns_status st;
	int rc;

	memset(res, 0, sizeof(*res));
	if ((rc = soa_serial(d, &before)))
		return rc;
	if (!(u = update_pkt(d, r, from, to)))
		return RV_EUSAGE;
	st = ldns_update_pkt_tsig_add(u, d->res);
	if (st == LDNS_STATUS_OK)
		st = ldns_resolver_send_pkt(&a, d->res, u);
	if (st != LDNS_STATUS_OK)
		rc = status_error(d, st, "update");
	else if (ldns_pkt_get_rcode(a) != LDNS_RCODE_NOERROR)
		rc = rcode_error(d, ldns_pkt_get_rcode(a), "update", r->name);
	else
		rc = verify(d, r, to, before, t0 + d->timeout_ms, res);
	res->ms = rv_mono_ms() - t0;
	ldns_pkt_free(u);
	ldns_pkt_free(a);
	return rc;
}

static void r_close(void *h)
{
	struct r2136 *d = h;

	if (!d)
		return;
	if (d->res)
		ldns_resolver_deep_free(d->res);
	free(d->server);
	free(d->zone);
	free(d->key_name);
	free(d);
}

static const struct rv_dns_ops rfc2136_ops = {
    .name = "rfc2136",
    .close = r_close,
    .read = r_read,
    .change = r_change,
};

int rv_dns_rfc2136_open(struct rv_dns_provider *out, const struct rv_dns_rfc2136_opts *o)
{
	const char *alg = o->key_algorithm ? o->key_algorithm : "hmac-sha256";
	struct r2136 *d;
	ldns_rdf *ns;
	char zone[RV_DNS_NAME_MAX];
	int rc;

	out->ops = NULL;
	out->h = NULL;
	if (!o->server || !o->zone || !o->key_name || !o->key_secret)
		return rv_error(RV_EUSAGE,
				"dns rfc2136 needs server, zone, key_name and key_secret");
	if ((rc = rv_dns_rfc2136_check_algorithm(alg)))
		return rc;
	if ((rc = rv_dns_value_canon(RV_DNS_CNAME, o->zone, zone)))
		return rv_error(RV_EUSAGE, "dns zone '%s' is not a domain name", o->zone);
	ns = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, o->server);
	if (!ns)
		ns = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_AAAA, o->server);
	if (!ns)
		return rv_error(RV_EUSAGE,
				"dns server '%s' is not an IP address — give the primary's address",
				o->server);
	d = rv_calloc(1, sizeof(*d));
	d->server = rv_strdup(o->server);
	d->zone = rv_strdup(zone);
	d->key_name = rv_strdup(o->key_name);
	d->port = o->port ? o->port : 53;
	d->timeout_ms = o->timeout_ms ? o->timeout_ms : 2000;
	d->res = ldns_resolver_new();
	if (ldns_resolver_push_nameserver(d->res, ns) != LDNS_STATUS_OK) {
		ldns_rdf_deep_free(ns);
		r_close(d);
		return rv_error(RV_EFAIL, "dns: cannot set up a resolver for '%s'", o->server);
	}
	ldns_rdf_deep_free(ns);
	ldns_resolver_set_port(d->res, (uint16_t)d->port);
	ldns_resolver_set_recursive(d->res, false);
	ldns_resolver_set_dnssec(d->res, false);
	ldns_resolver_set_timeout(
	    d->res, (struct timeval){d->timeout_ms / 1000, (long)(d->timeout_ms % 1000) * 1000});
	ldns_resolver_set_retry(d->res, 1);
	ldns_resolver_set_retrans(d->res, 1);
	ldns_resolver_set_fallback(d->res, true); /* TCP when truncated */
	ldns_resolver_set_tsig_keyname(d->res, o->key_name);
	ldns_resolver_set_tsig_keydata(d->res, o->key_secret);
	ldns_resolver_set_tsig_algorithm(d->res, alg_wire(alg));
	out->ops = &rfc2136_ops;
	out->h = d;
	return 0;
}
