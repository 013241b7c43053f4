/* switch.c - values, and the switch policy every provider shares (see
 * dns.h). */
#include "dns/dns.h"
#include "core/log.h"
#include "core/mem.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *rv_dns_type_name(enum rv_dns_type t)
{
	return t == RV_DNS_A ? "A" : t == RV_DNS_AAAA ? "AAAA" : "CNAME";
}

int rv_dns_type_parse(const char *s, enum rv_dns_type *out)
{
	if (!strcasecmp(s, "A"))
		*out = RV_DNS_A;
	else if (!strcasecmp(s, "AAAA"))
		*out = RV_DNS_AAAA;
	else if (!strcasecmp(s, "CNAME"))
		*out = RV_DNS_CNAME;
	else
		return rv_error(RV_EUSAGE, "record type '%s': revenant switches A, AAAA or CNAME",
				s);
	return 0;
}

int rv_dns_value_canon(enum rv_dns_type t, const char *in, char out[RV_DNS_NAME_MAX])
{
	unsigned char addr[16];
	size_t n = strlen(in);

	if (t == RV_DNS_A || t == RV_DNS_AAAA) {
		int af = t == RV_DNS_A ? AF_INET : AF_INET6;

		if (inet_pton(af, in, addr) != 1 || !inet_ntop(af, addr, out, RV_DNS_NAME_MAX))
			return rv_error(RV_EUSAGE, "'%s' is not an %s address", in,
					t == RV_DNS_A ? "IPv4" : "IPv6");
		return 0;
	}
	if (n == 0 || n + 2 > RV_DNS_NAME_MAX)
		return rv_error(RV_EUSAGE, "'%s' is not a host name", in);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (!isalnum(c) && c != '-' && c != '.' && c != '_')
			return rv_error(RV_EUSAGE, "'%s' is not a host name", in);
		out[i] = (char)tolower(c);
	}
	if (out[n - 1] != '.')
		out[n++] = '.';
	out[n] = '\0';
	return 0;
}

int rv_dns_alias_canon(const char *in, char out[RV_DNS_NAME_MAX])
{
	const char *at = strrchr(in, '@');
	char name[RV_DNS_NAME_MAX];
	size_t n = at ? (size_t)(at - in) : 0, z = at ? strlen(at + 1) : 0;

	if (!at || !n || n >= sizeof(name) || !z || z >= RV_DNS_ZONE_ID_MAX)
		return rv_error(RV_EUSAGE,
				"'%s' is not an alias target DNSNAME@ZONEID (e.g. "
				"dualstack.my-alb.eu-west-1.elb.amazonaws.com@Z32O12XQLNTSW2)",
				in);
	for (size_t i = 0; i < z; i++)
		if (!isalnum((unsigned char)at[1 + i]))
			return rv_error(RV_EUSAGE,
					"'%s': the hosted zone id after '@' is letters "
					"and digits",
					in);
	memcpy(name, in, n);
	name[n] = '\0';
	if (rv_dns_value_canon(RV_DNS_CNAME, name, out))
		return RV_EUSAGE;
	n = strlen(out);
	if (n + 1 + z + 1 > RV_DNS_NAME_MAX)
		return rv_error(RV_EUSAGE, "alias target '%s' is too long", in);
	out[n] = '@';
	for (size_t i = 0; i <= z; i++)
		out[n + 1 + i] = (char)toupper((unsigned char)at[1 + i]);
	return 0;
}

int rv_dns_alias_split(const char *v, char name[RV_DNS_NAME_MAX], char zone[RV_DNS_ZONE_ID_MAX])
{
	const char *at = strrchr(v, '@');
	size_t n = at ? (size_t)(at - v) : 0;

	if (!at || !n || n >= RV_DNS_NAME_MAX || strlen(at + 1) >= RV_DNS_ZONE_ID_MAX || !at[1])
		return rv_error(RV_EUSAGE, "'%s' is not an alias target DNSNAME@ZONEID", v);
	memcpy(name, v, n);
	name[n] = '\0';
	snprintf(zone, RV_DNS_ZONE_ID_MAX, "%s", at + 1);
	return 0;
}

static int cmp_value(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void sorted(const struct rv_dns_values *in, struct rv_dns_values *out)
{
	*out = *in;
	qsort(out->v, out->n, sizeof(out->v[0]), cmp_value);
}

bool rv_dns_values_equal(const struct rv_dns_values *a, const struct rv_dns_values *b)
{
	struct rv_dns_values x, y;

	if (a->n != b->n)
		return false;
	sorted(a, &x);
	sorted(b, &y);
	for (unsigned i = 0; i < x.n; i++)
		if (strcmp(x.v[i], y.v[i]))
			return false;
	return true;
}

void rv_dns_values_str(const struct rv_dns_values *v, char *out, size_t n)
{
	struct rv_dns_values s;
	size_t len = 0;

	if (!v->n) {
		snprintf(out, n, "(none)");
		return;
	}
	sorted(v, &s);
	out[0] = '\0';
	for (unsigned i = 0; i < s.n && len < n; i++) {
		int w = snprintf(out + len, n - len, "%s%s", i ? "," : "", s.v[i]);
		if (w < 0)
			break;
		len += (size_t)w;
	}
}

int rv_dns_show(struct rv_dns_provider *p, const struct rv_dns_record *r, struct rv_dns_answer *ans,
		char site[64])
{
	int rc;

	site[0] = '\0';
	if ((rc = p->ops->read(p->h, r, ans)))
		return rc;
	for (unsigned i = 0; ans->exists && !ans->unclear[0] && i < r->nsites; i++)
		if (rv_dns_values_equal(&ans->values, &r->sites[i].values)) {
			snprintf(site, 64, "%s", r->sites[i].name);
			break;
		}
	return 0;
}

int rv_dns_switch(struct rv_dns_provider *p, const struct rv_dns_record *r, const char *to_site,
		  bool dry_run, struct rv_dns_switch_result *res)
{
	const struct rv_dns_site *to = NULL;
	struct rv_dns_answer ans;
	char now[512];
	int rc;

	memset(res, 0, sizeof(*res));
	for (unsigned i = 0; i < r->nsites; i++)
		if (!strcmp(r->sites[i].name, to_site))
			to = &r->sites[i];
	if (!to)
		return rv_error(RV_EUSAGE, "dns record '%s' has no target for site '%s'", r->name,
				to_site);
	if ((rc = rv_dns_show(p, r, &ans, res->from_site)))
		return rc;
	res->before = ans.values;
	res->after = ans.values;
	if (ans.external_dns)
		return rv_error(
		    RV_EUSAGE,
		    "dns record '%s' is owned by external-dns (owner '%s'), which would "
		    "revert a switch on its next loop — switch a name external-dns does "
		    "not manage, or flip external-dns's source with the exec provider",
		    r->name, ans.owner[0] ? ans.owner : "unknown");
	if (ans.unclear[0])
		return rv_error(RV_EPRECOND,
				"dns record '%s' %s: %s — revenant does not overwrite a state it "
				"does not recognise (correct the record, then switch)",
				r->name, rv_dns_type_name(r->type), ans.unclear);
	rv_dns_values_str(&ans.values, now, sizeof(now));
	if (ans.exists && !res->from_site[0])
		return rv_error(
		    RV_EPRECOND,
		    "dns record '%s' %s answers %s, which is no site's target — someone "
		    "else changed it; revenant does not overwrite it (check the record, "
		    "then correct it or the configuration)",
		    r->name, rv_dns_type_name(r->type), now);
	if (!strcmp(res->from_site, to_site) || dry_run) {
		if (!dry_run)
			res->after = to->values;
		return 0;
	}
	if ((rc = p->ops->change(p->h, r, &ans.values, &to->values, &res->change)))
		return rc;
	res->changed = true;
	res->after = to->values;
	return 0;
}

void rv_dns_provider_close(struct rv_dns_provider *p)
{
	if (p->ops && p->h)
		p->ops->close(p->h);
	p->ops = NULL;
	p->h = NULL;
}

static int run_all(const struct rv_config *c, const char *to_site, bool dry_run, bool show,
		   struct rv_dns_report **out, size_t *n)
{
	struct rv_dns_provider p;
	struct rv_dns_record *recs;
	struct rv_dns_report *rep;
	size_t count;
	int rc, first = 0;
	char msg[1024] = "";

	*out = NULL;
	*n = 0;
	if ((rc = rv_dns_records_from_config(c, &recs, &count)))
		return rc;
	if ((rc = rv_dns_open_from_config(c, &p))) {
		free(recs);
		return rc;
	}
	rep = rv_calloc(count, sizeof(*rep));
	for (size_t i = 0; i < count; i++) {
		rep[i].rec = recs[i];
		rep[i].rc = show ? rv_dns_show(&p, &recs[i], &rep[i].answer, rep[i].site)
				 : rv_dns_switch(&p, &recs[i], to_site, dry_run, &rep[i].sw);
		*n = i + 1;
		if (rep[i].rc && !first) {
			first = rep[i].rc;
			snprintf(msg, sizeof(msg), "%s", rv_errmsg());
			if (!show)
				break;
		}
		if (!show && rep[i].sw.changed) {
			char ms[24];

			snprintf(ms, sizeof(ms), "%lld", (long long)rep[i].sw.change.ms);
			rv_log(RV_LOG_INFO, "dns switched", "name", recs[i].name, "from",
			       rep[i].sw.from_site, "to", to_site, "ms", ms, NULL);
		}
	}
	rv_dns_provider_close(&p);
	free(recs);
	*out = rep;
	if (first)
		return rv_error(first, "%s", msg);
	return 0;
}

int rv_dns_show_all(const struct rv_config *c, struct rv_dns_report **out, size_t *n)
{
	return run_all(c, NULL, false, true, out, n);
}

int rv_dns_switch_all(const struct rv_config *c, const char *to_site, bool dry_run,
		      struct rv_dns_report **out, size_t *n)
{
	return run_all(c, to_site, dry_run, false, out, n);
}
