/* dns.h - switching a public name between sites: the DNS provider
 * interface (RFC 2136 today; Route 53 and exec land beside it as ops
 * tables) and the switch policy every caller uses (`revenant dns switch`,
 * promote, switchover).
 *
 * A record is one name and type with a target per site (its values: the
 * addresses of an A/AAAA set, the one name of a CNAME).  The switch reads
 * what the provider's authoritative source answers now, finds which site
 * that is, and swaps it for the new site's values.
 *
 * Provider contract, what the switch relies on:
 *   - read answers what the authoritative source holds now for the name
 *     and type (exists false when nothing), and whether an external-dns
 *     ownership record sits on the name (external-dns would revert any
 *     change on its next loop);
 *   - change is a compare-and-swap: it replaces exactly `from` (values as
 *     read; none: the record must not exist) by `to`, all or nothing, and
 *     fails with RV_EPRECOND, nothing changed, when the record no longer
 *     holds `from`;
 *   - change returns once the authoritative source answers `to` (verified,
 *     not assumed), or fails;
 *   - errors: RV_EAUTH (key or permission), RV_ENET (unreachable, timed
 *     out), RV_EPRECOND (changed behind our back), RV_EUSAGE (a
 *     configuration the provider cannot serve), RV_ECORRUPT (an answer
 *     that makes no sense); the message names the server and what to do. */
#ifndef RV_DNS_DNS_H
#define RV_DNS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define RV_DNS_MAX_VALUES 8
#define RV_DNS_MAX_SITES  4
#define RV_DNS_NAME_MAX	  256

enum rv_dns_type { RV_DNS_A, RV_DNS_AAAA, RV_DNS_CNAME };

/* "A", "AAAA", "CNAME"; parse: RV_EUSAGE for anything else. */
const char *rv_dns_type_name(enum rv_dns_type t);
int rv_dns_type_parse(const char *s, enum rv_dns_type *out) RV_WARN_UNUSED;

/* A record set's values, in canonical text: addresses as inet_ntop writes
 * them, names lower-case with the final dot. */
struct rv_dns_values {
	unsigned n;
	char v[RV_DNS_MAX_VALUES][RV_DNS_NAME_MAX];
};

/* Canonical text for one value of type `t`; RV_EUSAGE when it is not one. */
int rv_dns_value_canon(enum rv_dns_type t, const char *in, char out[RV_DNS_NAME_MAX]);

/* Alias targets (Route 53 A/AAAA aliases to a load balancer or CloudFront)
 * are one value "DNSNAME@ZONEID": the target's name, canonical as a CNAME
 * value, and the target's hosted zone id ("Z32O12XQLNTSW2").  These two
 * are the only places that encoding is written or read. */
#define RV_DNS_ZONE_ID_MAX 64
int rv_dns_alias_canon(const char *in, char out[RV_DNS_NAME_MAX]) RV_WARN_UNUSED;
int rv_dns_alias_split(const char *v, char name[RV_DNS_NAME_MAX],
		       char zone[RV_DNS_ZONE_ID_MAX]) RV_WARN_UNUSED;
/* The same set, whatever the order. */
bool rv_dns_values_equal(const struct rv_dns_values *a, const struct rv_dns_values *b);
/* "192.0.2.1,192.0.2.2" (sorted) into out; "(none)" when empty. */
void rv_dns_values_str(const struct rv_dns_values *v, char *out, size_t n);

struct rv_dns_site {
	char name[64];
	struct rv_dns_values values;
};

/* One name the switch moves. */
struct rv_dns_record {
	char name[RV_DNS_NAME_MAX]; /* fully qualified, with the final dot */
	enum rv_dns_type type;
	unsigned ttl;
	unsigned nsites;
	struct rv_dns_site sites[RV_DNS_MAX_SITES];
	/* Route 53 only.  alias: each site's one value is an alias target
	 * (rv_dns_alias_canon).  weighted: one weighted set per site, its
	 * SetIdentifier the site's name; the site the record "points at" is
	 * the one set weighted above 0. */
	bool alias;
	bool weighted;
};

struct rv_dns_answer {
	bool exists;
	unsigned ttl;
	struct rv_dns_values values;
	bool external_dns; /* an external-dns ownership TXT names it */
	char owner[64];	   /* its external-dns/owner=, when given */
	uint32_t serial;   /* the zone's SOA serial, when the provider has one */
	bool has_serial;
	/* Not "" when what the provider holds is no single site's state (a
	 * weighted name with no set or several sets weighted above 0, a set
	 * that is no site's): what it is.  A switch refuses it (RV_EPRECOND). */
	char unclear[256];
};

struct rv_dns_change_result {
	int64_t ms;	 /* from the request to the verified answer */
	uint32_t serial; /* the zone's serial afterwards (has_serial) */
	bool has_serial;
};

struct rv_dns_ops {
	const char *name; /* "rfc2136" */
	void (*close)(void *h);
	int (*read)(void *h, const struct rv_dns_record *r, struct rv_dns_answer *out);
	int (*change)(void *h, const struct rv_dns_record *r, const struct rv_dns_values *from,
		      const struct rv_dns_values *to, struct rv_dns_change_result *res);
};

/* An open provider: its ops and handle. */
struct rv_dns_provider {
	const struct rv_dns_ops *ops;
	void *h;
};

/* ---- RFC 2136 ------------------------------------------------------------ */

struct rv_dns_rfc2136_opts {
	const char *server; /* the primary's address (IPv4 or IPv6 literal) */
	unsigned port;	    /* 0: 53 */
	const char *zone;   /* the zone the names live in */
	const char *key_name;
	const char *key_algorithm; /* hmac-sha256 (default), hmac-sha512, hmac-sha1, hmac-md5 */
	const char *key_secret;	   /* base64, as tsig-keygen writes it */
	unsigned timeout_ms;	   /* per exchange; 0: 2000 */
};

/* RV_EUSAGE with the reason for an algorithm this build cannot sign with
 * (hmac-sha384 is broken in ldns 1.8.3; hmac-sha224 is not supported). */
int rv_dns_rfc2136_check_algorithm(const char *alg) RV_WARN_UNUSED;
int rv_dns_rfc2136_open(struct rv_dns_provider *out,
			const struct rv_dns_rfc2136_opts *o) RV_WARN_UNUSED;

/* ---- Route 53 ------------------------------------------------------------ */

struct rv_creds_config;

struct rv_dns_route53_opts {
	const char *zone_id;  /* "Z0123456789ABC" (a "/hostedzone/" prefix is dropped) */
	const char *endpoint; /* NULL: https://route53.amazonaws.com */
	unsigned weight;      /* weighted: the winner's weight; 0: 1 */
	bool upsert;	      /* UPSERT instead of DELETE exact + CREATE */
	unsigned timeout_ms;  /* until INSYNC; 0: 120000 */
	const struct rv_creds_config *creds;
};

int rv_dns_route53_open(struct rv_dns_provider *out,
			const struct rv_dns_route53_opts *o) RV_WARN_UNUSED;

/* ---- exec ---------------------------------------------------------------- */

/* `command` (an absolute path) run as `command read` and `command change`
 * with the record in its environment (dns/exec.c has the protocol), killed
 * after `timeout_ms` (0: 30 s). */
int rv_dns_exec_open(struct rv_dns_provider *out, const char *command,
		     unsigned timeout_ms) RV_WARN_UNUSED;

/* ---- the switch ---------------------------------------------------------- */

struct rv_dns_switch_result {
	char from_site[64]; /* the site the name pointed at ("" : none of them) */
	bool changed;	    /* false: it already pointed at the site (or dry run) */
	struct rv_dns_values before, after;
	struct rv_dns_change_result change;
};

/* Which site a record points at now: `site` gets its name, or "" when the
 * answer is none of the sites' targets. */
int rv_dns_show(struct rv_dns_provider *p, const struct rv_dns_record *r, struct rv_dns_answer *ans,
		char site[64]) RV_WARN_UNUSED;

/* Point `r` at `to_site`: refused (RV_EUSAGE) when external-dns owns the
 * name, or (RV_EPRECOND) when it points at something that is not one of
 * the sites' targets — someone else's value is never overwritten; nothing
 * to do when it already points there; else a compare-and-swap from what
 * was read.  `dry_run` reads and decides only. */
int rv_dns_switch(struct rv_dns_provider *p, const struct rv_dns_record *r, const char *to_site,
		  bool dry_run, struct rv_dns_switch_result *res) RV_WARN_UNUSED;

void rv_dns_provider_close(struct rv_dns_provider *p);

/* ---- from revenant.yml (dns/dns_config.c) -------------------------------- */

struct rv_config;

/* The records `dns.names` × `dns.targets` describe (an array the caller
 * frees); RV_EUSAGE naming the key that is wrong. */
int rv_dns_records_from_config(const struct rv_config *c, struct rv_dns_record **out,
			       size_t *n) RV_WARN_UNUSED;
/* The provider `dns.provider` names, opened with its settings. */
int rv_dns_open_from_config(const struct rv_config *c, struct rv_dns_provider *p) RV_WARN_UNUSED;

/* What `revenant dns show` / `dns switch` do, for every configured name in
 * order.  One entry per name in `out` (the caller frees it; *n names how
 * many were reached).  A switch stops at the first name that fails (the
 * names before it stay switched, and say so in `out`); show reads them
 * all and fails with the first error after. */
struct rv_dns_report {
	struct rv_dns_record rec;
	struct rv_dns_answer answer;	/* show */
	char site[64];			/* show: the site it points at ("": none) */
	struct rv_dns_switch_result sw; /* switch */
	int rc;				/* this name's result */
};
int rv_dns_show_all(const struct rv_config *c, struct rv_dns_report **out,
		    size_t *n) RV_WARN_UNUSED;
int rv_dns_switch_all(const struct rv_config *c, const char *to_site, bool dry_run,
		      struct rv_dns_report **out, size_t *n) RV_WARN_UNUSED;

#endif
