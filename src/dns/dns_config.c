/* dns_config.c - the `dns:` section of revenant.yml (which names the switch
 * moves, each site's target, the provider and its settings), and the
 * provider and records it describes:
 *
 *   dns:
 *     provider: rfc2136
 *     names: [www.example.com]
 *     type: A
 *     ttl: 60s
 *     targets: ["dc=192.0.2.10", "dr=198.51.100.20,198.51.100.21"]
 *     rfc2136: {server: "192.0.2.53", zone: example.com,
 *               key_name: revenant, key_secret_file: /etc/revenant/tsig}
 *
 * or, on Route 53 (credentials as the S3 store's, store.credentials):
 *
 *     provider: route53
 *     route53: {zone_id: Z0123456789ABCDEFGHIJ, alias: false, weighted: false}
 *
 * With route53.alias each target is an alias target DNSNAME@ZONEID
 * ("dc=dualstack.dc-alb.eu-west-1.elb.amazonaws.com@Z32O12XQLNTSW2");
 * with route53.weighted each site has its own weighted set.
 *
 * Both sites carry the same section: a switch names the site to point at. */
#include "core/config.h"
#include "core/mem.h"
#include "aws/creds.h"
#include "core/util.h"
#include "dns/dns.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The index is the value of c->dns.provider. */
static const char *const providers[] = {"off", "rfc2136", "route53", "exec", NULL};

enum { PROVIDER_OFF, PROVIDER_RFC2136, PROVIDER_ROUTE53, PROVIDER_EXEC };
static const char *const types[] = {"A", "AAAA", "CNAME", NULL};

static int alg_check(const char *v)
{
	return rv_dns_rfc2136_check_algorithm(v);
}

static const struct rv_config_entry entries[] = {
    {.name = "dns.provider",
     .type = RV_CONFIG_ENUM,
     .off = RV_CONFIG_FIELD(dns.provider),
     .def = "off",
     .names = providers},
    {.name = "dns.names", .type = RV_CONFIG_LIST, .off = RV_CONFIG_FIELD(dns.names)},
    {.name = "dns.type",
     .type = RV_CONFIG_ENUM,
     .off = RV_CONFIG_FIELD(dns.type),
     .def = "A",
     .names = types},
    {.name = "dns.ttl",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(dns.ttl_ms),
     .def = "60s",
     .min = 1 * RV_CONFIG_SEC,
     .max = RV_CONFIG_DAY},
    {.name = "dns.targets",
     .type = RV_CONFIG_LIST,
     .off = RV_CONFIG_FIELD(dns.targets),
     .desc = "a list of SITE=VALUE[,VALUE]"},
    {.name = "dns.rfc2136.server",
     .type = RV_CONFIG_STRING,
     .off = RV_CONFIG_FIELD(dns.rfc2136.server),
     .desc = "ADDRESS or ADDRESS:PORT"},
    {.name = "dns.rfc2136.zone",
     .type = RV_CONFIG_STRING,
     .off = RV_CONFIG_FIELD(dns.rfc2136.zone)},
    {.name = "dns.rfc2136.key_name",
     .type = RV_CONFIG_STRING,
     .off = RV_CONFIG_FIELD(dns.rfc2136.key_name)},
    {.name = "dns.rfc2136.key_algorithm",
     .type = RV_CONFIG_STRING,
     .off = RV_CONFIG_FIELD(dns.rfc2136.key_algorithm),
     .def = "hmac-sha256",
     .check = alg_check},
    {.name = "dns.rfc2136.key_secret",
     .type = RV_CONFIG_STRING,
     .flags = RV_CONFIG_F_SECRET,
     .off = RV_CONFIG_FIELD(dns.rfc2136.key_secret)},
    {.name = "dns.rfc2136.timeout",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(dns.rfc2136.timeout_ms),
     .def = "2s",
     .min = 100,
     .max = 60 * RV_CONFIG_SEC},
    {.name = "dns.route53.zone_id",
     .type = RV_CONFIG_STRING,
     .off = RV_CONFIG_FIELD(dns.route53.zone_id)},
    {.name = "dns.route53.endpoint",
     .type = RV_CONFIG_STRING,
     .off = RV_CONFIG_FIELD(dns.route53.endpoint),
     .desc = "URL; default https://route53.amazonaws.com"},
    {.name = "dns.route53.alias",
     .type = RV_CONFIG_BOOL,
     .off = RV_CONFIG_FIELD(dns.route53.alias),
     .def = "false"},
    {.name = "dns.route53.weighted",
     .type = RV_CONFIG_BOOL,
     .off = RV_CONFIG_FIELD(dns.route53.weighted),
     .def = "false"},
    {.name = "dns.route53.weight",
     .type = RV_CONFIG_INT,
     .off = RV_CONFIG_FIELD(dns.route53.weight),
     .def = "1",
     .min = 1,
     .max = 255},
    {.name = "dns.route53.upsert",
     .type = RV_CONFIG_BOOL,
     .off = RV_CONFIG_FIELD(dns.route53.upsert),
     .def = "false"},
    {.name = "dns.route53.timeout",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(dns.route53.timeout_ms),
     .def = "120s",
     .min = RV_CONFIG_SEC,
     .max = 3600 * RV_CONFIG_SEC},
    {.name = "dns.route53.profile",
     .type = RV_CONFIG_NAME,
     .off = RV_CONFIG_FIELD(dns.route53.profile),
     .desc = "an AWS profile; default: store.credentials"},
    {.name = "dns.exec.command", .type = RV_CONFIG_PATH, .off = RV_CONFIG_FIELD(dns.exec.command)},
    {.name = "dns.exec.timeout",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(dns.exec.timeout_ms),
     .def = "30s",
     .min = 1 * RV_CONFIG_SEC,
     .max = 10 * RV_CONFIG_MIN},
};

/* "192.0.2.53", "192.0.2.53:5353", "[2001:db8::53]:53", "2001:db8::53". */
static int parse_server(const char *s, char host[64], unsigned *port)
{
	const char *colon = strrchr(s, ':');
	uint64_t p = 53;
	size_t n;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || (end[1] && (end[1] != ':' || rv_parse_u64(end + 2, &p))))
			return -1;
		n = (size_t)(end - s - 1);
		s++;
	} else if (colon && strchr(s, ':') == colon) {
		if (rv_parse_u64(colon + 1, &p))
			return -1;
		n = (size_t)(colon - s);
	} else {
		n = strlen(s);
	}
	if (n == 0 || n >= 64 || p == 0 || p > 65535)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	*port = (unsigned)p;
	{
		unsigned char a[16];

		if (inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1)
			return -1;
	}
	return 0;
}

/* "dc=192.0.2.10,192.0.2.11" into a site. */
static int parse_target(const char *t, enum rv_dns_type type, bool alias, struct rv_dns_site *site)
{
	const char *eq = strchr(t, '=');
	const char *v;
	size_t n = eq ? (size_t)(eq - t) : 0;

	memset(site, 0, sizeof(*site));
	if (!eq || n == 0 || n >= sizeof(site->name))
		return rv_error(RV_EUSAGE, "'%s' is not SITE=VALUE[,VALUE]", t);
	memcpy(site->name, t, n);
	for (v = eq + 1; *v;) {
		size_t len = strcspn(v, ",");
		char one[RV_DNS_NAME_MAX];

		if (len == 0 || len >= sizeof(one))
			return rv_error(RV_EUSAGE, "'%s' has an empty or overlong value", t);
		if (site->values.n == RV_DNS_MAX_VALUES)
			return rv_error(RV_EUSAGE, "'%s' has more than %d values", t,
					RV_DNS_MAX_VALUES);
		memcpy(one, v, len);
		one[len] = '\0';
		if (alias ? rv_dns_alias_canon(one, site->values.v[site->values.n])
			  : rv_dns_value_canon(type, one, site->values.v[site->values.n]))
			return RV_EUSAGE;
		site->values.n++;
		v += len;
		if (*v == ',')
			v++;
	}
	if (!site->values.n)
		return rv_error(RV_EUSAGE, "'%s' names no value", t);
	if (type == RV_DNS_CNAME && site->values.n > 1)
		return rv_error(RV_EUSAGE, "'%s': a CNAME has one value", t);
	if (alias && site->values.n > 1)
		return rv_error(RV_EUSAGE, "'%s': an alias has one target", t);
	return 0;
}

static bool in_zone(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);

	return n == z ? !strcmp(name, zone)
		      : n > z && name[n - z - 1] == '.' && !strcmp(name + n - z, zone);
}

int rv_dns_records_from_config(const struct rv_config *c, struct rv_dns_record **out, size_t *n)
{
	struct rv_dns_record *r;
	size_t count = 0;

	*out = NULL;
	*n = 0;
	for (char **p = c->dns.names; p && *p; p++)
		count++;
	if (!count)
		return rv_error(RV_EUSAGE, "dns.names is empty: name the records the switch moves");
	r = rv_calloc(count, sizeof(*r));
	for (size_t i = 0; i < count; i++) {
		r[i].type = (enum rv_dns_type)c->dns.type;
		r[i].ttl = (unsigned)(c->dns.ttl_ms / 1000);
		if (c->dns.provider == PROVIDER_ROUTE53) {
			r[i].alias = c->dns.route53.alias;
			r[i].weighted = c->dns.route53.weighted;
		}
		if (rv_dns_value_canon(RV_DNS_CNAME, c->dns.names[i], r[i].name)) {
			free(r);
			return rv_error(RV_EUSAGE, "dns.names: '%s' is not a domain name",
					c->dns.names[i]);
		}
		for (char **t = c->dns.targets; t && *t; t++) {
			if (r[i].nsites == RV_DNS_MAX_SITES) {
				free(r);
				return rv_error(RV_EUSAGE, "dns.targets: more than %d sites",
						RV_DNS_MAX_SITES);
			}
			if (parse_target(*t, r[i].type, r[i].alias, &r[i].sites[r[i].nsites])) {
				char msg[512];
				snprintf(msg, sizeof(msg), "%s", rv_errmsg());
				free(r);
				return rv_error(RV_EUSAGE, "dns.targets: %s", msg);
			}
			for (unsigned k = 0; k < r[i].nsites; k++)
				if (!strcmp(r[i].sites[k].name, r[i].sites[r[i].nsites].name)) {
					int rc = rv_error(RV_EUSAGE, "dns.targets: site '%s' twice",
							  r[i].sites[k].name);
					free(r);
					return rc;
				}
			r[i].nsites++;
		}
		if (r[i].nsites < 2) {
			free(r);
			return rv_error(RV_EUSAGE,
					"dns.targets: give a target for each site (at least two), "
					"e.g. [\"dc=192.0.2.10\", \"dr=198.51.100.20\"]");
		}
	}
	*out = r;
	*n = count;
	return 0;
}

static int open_route53(const struct rv_config *c, struct rv_dns_provider *p)
{
	struct rv_creds_config cc = {0};
	struct rv_dns_route53_opts o = {0};

	/* The store's credentials (static keys, a profile, or the chain); a
	 * profile of its own for DNS when dns.route53.profile names one. */
	cc.region = "us-east-1";
	if (c->dns.route53.profile) {
		cc.profile = c->dns.route53.profile;
	} else {
		cc.profile = c->store.credentials.profile;
		cc.access_key_id = c->store.credentials.access_key_id;
		cc.secret_access_key = c->store.credentials.secret_access_key;
		cc.session_token = c->store.credentials.session_token;
	}
	o.zone_id = c->dns.route53.zone_id;
	o.endpoint = c->dns.route53.endpoint;
	o.weight = (unsigned)c->dns.route53.weight;
	o.upsert = c->dns.route53.upsert;
	o.timeout_ms = (unsigned)c->dns.route53.timeout_ms;
	o.creds = &cc;
	/* The provider copies what it keeps. */
	return rv_dns_route53_open(p, &o);
}

int rv_dns_open_from_config(const struct rv_config *c, struct rv_dns_provider *p)
{
	struct rv_dns_rfc2136_opts o = {0};
	char host[64];

	p->ops = NULL;
	p->h = NULL;
	if (c->dns.provider == PROVIDER_EXEC)
		return rv_dns_exec_open(p, c->dns.exec.command, (unsigned)c->dns.exec.timeout_ms);
	if (c->dns.provider == PROVIDER_OFF)
		return rv_error(
		    RV_EUSAGE,
		    "dns.provider is off: configure the dns: section (docs/OPERATIONS.md "
		    "\"Switching DNS\")");
	if (c->dns.provider == PROVIDER_ROUTE53)
		return open_route53(c, p);
	if (!c->dns.rfc2136.server || parse_server(c->dns.rfc2136.server, host, &o.port))
		return rv_error(
		    RV_EUSAGE,
		    "dns.rfc2136.server: give the zone primary's ADDRESS or ADDRESS:PORT");
	o.server = host;
	o.zone = c->dns.rfc2136.zone;
	o.key_name = c->dns.rfc2136.key_name;
	o.key_algorithm = c->dns.rfc2136.key_algorithm;
	o.key_secret = c->dns.rfc2136.key_secret;
	o.timeout_ms = (unsigned)c->dns.rfc2136.timeout_ms;
	return rv_dns_rfc2136_open(p, &o);
}

static int check_route53(const struct rv_config *c, const struct rv_config_origin *o)
{
	struct rv_dns_record *r;
	size_t n;

	if (!c->dns.route53.zone_id)
		return rv_config_fail(o, rv_config_line(o, "dns.provider"), "dns.route53.zone_id",
				      "the route53 provider needs the hosted zone's id "
				      "(aws route53 list-hosted-zones-by-name)");
	if (c->dns.route53.alias && c->dns.type == RV_DNS_CNAME)
		return rv_config_fail(
		    o, rv_config_line(o, "dns.route53.alias"), "dns.route53.alias",
		    "an alias record is of type A or AAAA, not CNAME (set dns.type)");
	if (c->dns.route53.endpoint && strncmp(c->dns.route53.endpoint, "https://", 8) &&
	    strncmp(c->dns.route53.endpoint, "http://", 7))
		return rv_config_fail(o, rv_config_line(o, "dns.route53.endpoint"),
				      "dns.route53.endpoint", "'%s' is not an http(s):// URL",
				      c->dns.route53.endpoint);
	if (c->dns.route53.profile && c->store.credentials.access_key_id)
		return rv_config_fail(o, rv_config_line(o, "dns.route53.profile"),
				      "dns.route53.profile",
				      "give either a profile for DNS or static store.credentials, "
				      "not both");
	if (rv_dns_records_from_config(c, &r, &n))
		return rv_config_fail(o, rv_config_line(o, "dns.targets"), "dns", "%s",
				      rv_errmsg());
	free(r);
	{
		struct rv_dns_provider p;

		if (rv_dns_route53_open(
			&p, &(struct rv_dns_route53_opts){.zone_id = c->dns.route53.zone_id,
							  .endpoint = c->dns.route53.endpoint}))
			return rv_config_fail(o, rv_config_line(o, "dns.route53.zone_id"),
					      "dns.route53", "%s", rv_errmsg());
		rv_dns_provider_close(&p);
	}
	return 0;
}

/* Everything a switch needs is there and well formed, so `config check`
 * refuses what `dns switch` would. */
static int check(const struct rv_config *c, const struct rv_config_origin *o)
{
	struct rv_dns_record *r;
	char host[64];
	unsigned port;
	size_t n;
	char zone[RV_DNS_NAME_MAX];

	if (c->dns.provider == PROVIDER_OFF)
		return 0;
	if (c->dns.provider == PROVIDER_ROUTE53)
		return check_route53(c, o);
	if (rv_dns_records_from_config(c, &r, &n))
		return rv_config_fail(o, rv_config_line(o, "dns.targets"), "dns", "%s",
				      rv_errmsg());
	if (c->dns.provider == PROVIDER_EXEC) {
		free(r);
		if (!c->dns.exec.command || c->dns.exec.command[0] != '/')
			return rv_config_fail(
			    o, rv_config_line(o, "dns.exec.command"), "dns.exec.command",
			    "the exec provider needs the command's absolute path");
		return 0;
	}
	if (!c->dns.rfc2136.server || !c->dns.rfc2136.zone || !c->dns.rfc2136.key_name ||
	    !c->dns.rfc2136.key_secret) {
		free(r);
		return rv_config_fail(o, rv_config_line(o, "dns.provider"), "dns.rfc2136",
				      "the rfc2136 provider needs server, zone, key_name and "
				      "key_secret (or key_secret_file)");
	}
	if (parse_server(c->dns.rfc2136.server, host, &port)) {
		free(r);
		return rv_config_fail(o, rv_config_line(o, "dns.rfc2136.server"),
				      "dns.rfc2136.server",
				      "'%s' is not ADDRESS or ADDRESS:PORT (an IP address: the "
				      "zone's primary)",
				      c->dns.rfc2136.server);
	}
	if (rv_dns_value_canon(RV_DNS_CNAME, c->dns.rfc2136.zone, zone)) {
		free(r);
		return rv_config_fail(o, rv_config_line(o, "dns.rfc2136.zone"), "dns.rfc2136.zone",
				      "'%s' is not a domain name", c->dns.rfc2136.zone);
	}
	for (size_t i = 0; i < n; i++)
		if (!in_zone(r[i].name, zone)) {
			int rc = rv_config_fail(o, rv_config_line(o, "dns.names"), "dns.names",
						"'%s' is not in zone '%s'", r[i].name, zone);
			free(r);
			return rc;
		}
	free(r);
	return 0;
}

const struct rv_config_section rv_config_section_dns = {
    .owner = "dns",
    .entries = entries,
    .nentries = sizeof(entries) / sizeof(entries[0]),
    .check = check,
};
