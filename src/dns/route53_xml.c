/* route53_xml.c - Route 53's XML with libxml2: list and change answers
 * parsed, errors read for their code, and the change batch written (text
 * escaped by libxml2, never pasted into markup). */
#include "dns/route53_int.h"
#include "core/util.h"
#include "core/xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool child_i64(const xmlNode *n, const char *name, int64_t *v)
{
	char s[32];
	uint64_t u;

	if (!rv_xml_child_text(n, name, s, sizeof(s)) || rv_parse_u64(s, &u) || u > INT64_MAX)
		return false;
	*v = (int64_t)u;
	return true;
}

static int type_of(const char *t, enum rv_dns_type *out)
{
	if (!strcmp(t, "A"))
		*out = RV_DNS_A;
	else if (!strcmp(t, "AAAA"))
		*out = RV_DNS_AAAA;
	else if (!strcmp(t, "CNAME"))
		*out = RV_DNS_CNAME;
	else
		return -1;
	return 0;
}

/* A value in canonical text when it is one of the switched types; other
 * types (TXT) keep Route 53's text. */
static void value_of(const char *type, const char *raw, char out[RV_DNS_NAME_MAX])
{
	enum rv_dns_type t;

	if (!type_of(type, &t) && !rv_dns_value_canon(t, raw, out))
		return;
	snprintf(out, RV_DNS_NAME_MAX, "%s", raw);
}

static int parse_set(const xmlNode *n, struct rv_r53_set *s)
{
	xmlNode *rrs = rv_xml_child(n, "ResourceRecords"), *at = rv_xml_child(n, "AliasTarget");
	char hc[64];

	memset(s, 0, sizeof(*s));
	if (!rv_xml_child_text(n, "Name", s->name, sizeof(s->name)) || !s->name[0] ||
	    !rv_xml_child_text(n, "Type", s->type, sizeof(s->type)) || !s->type[0])
		return -1;
	for (char *p = s->name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	rv_xml_child_text(n, "SetIdentifier", s->set_id, sizeof(s->set_id));
	s->has_weight = child_i64(n, "Weight", &s->weight);
	if (rv_xml_child(n, "Weight") && !s->has_weight)
		return -1;
	s->has_ttl = child_i64(n, "TTL", &s->ttl);
	if (rv_xml_child(n, "TTL") && !s->has_ttl)
		return -1;
	if (rv_xml_child_text(n, "HealthCheckId", hc, sizeof(hc)))
		snprintf(s->health_check_id, sizeof(s->health_check_id), "%s", hc);
	s->foreign = rv_xml_child(n, "Failover") || rv_xml_child(n, "GeoLocation") ||
		     rv_xml_child(n, "Region") || rv_xml_child(n, "MultiValueAnswer") ||
		     rv_xml_child(n, "CidrRoutingConfig") ||
		     rv_xml_child(n, "GeoProximityLocation") ||
		     rv_xml_child(n, "TrafficPolicyInstanceId");
	if (at) {
		char name[RV_DNS_NAME_MAX], zone[RV_DNS_ZONE_ID_MAX], eval[8],
		    in[2 * RV_DNS_NAME_MAX];

		if (!rv_xml_child_text(at, "DNSName", name, sizeof(name)) ||
		    !rv_xml_child_text(at, "HostedZoneId", zone, sizeof(zone)))
			return -1;
		rv_xml_child_text(at, "EvaluateTargetHealth", eval, sizeof(eval));
		s->evaluate_health = !strcmp(eval, "true");
		s->alias = true;
		snprintf(in, sizeof(in), "%s@%s", name, zone);
		if (rv_dns_alias_canon(in, s->values.v[0]))
			snprintf(s->values.v[0], RV_DNS_NAME_MAX, "%.255s", in);
		s->values.n = 1;
		rv_error_clear();
		return 0;
	}
	for (xmlNode *c = rrs ? rrs->children : NULL; c; c = c->next) {
		char raw[RV_DNS_NAME_MAX];

		if (!rv_xml_is(c, "ResourceRecord"))
			continue;
		if (s->values.n == RV_DNS_MAX_VALUES) {
			/* More than revenant switches: not one of its sets. */
			s->foreign = true;
			break;
		}
		if (!rv_xml_child_text(c, "Value", raw, sizeof(raw)))
			return -1;
		value_of(s->type, raw, s->values.v[s->values.n++]);
	}
	rv_error_clear();
	return 0;
}

int rv_r53_parse_list(const char *body, size_t len, struct rv_r53_list *out)
{
	xmlDocPtr doc = rv_xml_parse(body, len, RV_R53_MAX_XML, "route53.xml");
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL, *sets;
	char trunc[8];
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!rv_xml_is(root, "ListResourceRecordSetsResponse") ||
	    !(sets = rv_xml_child(root, "ResourceRecordSets"))) {
		xmlFreeDoc(doc);
		return rv_error(RV_ECORRUPT, "route53: the record set list is not a "
					     "ListResourceRecordSetsResponse");
	}
	for (xmlNode *c = sets->children; c && !rc; c = c->next) {
		if (!rv_xml_is(c, "ResourceRecordSet"))
			continue;
		if (out->n == RV_R53_MAX_SETS)
			rc = rv_error(RV_ECORRUPT,
				      "route53: more record sets than asked for "
				      "(maxitems %d)",
				      RV_R53_MAX_SETS);
		else if (parse_set(c, &out->sets[out->n]))
			rc = rv_error(RV_ECORRUPT, "route53: a record set in the list has no "
						   "name, type or a malformed TTL/weight/alias");
		else
			out->n++;
	}
	rv_xml_child_text(root, "IsTruncated", trunc, sizeof(trunc));
	out->truncated = !strcmp(trunc, "true");
	rv_xml_child_text(root, "NextRecordName", out->next_name, sizeof(out->next_name));
	rv_xml_child_text(root, "NextRecordType", out->next_type, sizeof(out->next_type));
	rv_xml_child_text(root, "NextRecordIdentifier", out->next_id, sizeof(out->next_id));
	for (char *p = out->next_name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	xmlFreeDoc(doc);
	return rc;
}

int rv_r53_parse_change_info(const char *body, size_t len, char id[RV_R53_ID_MAX], char status[16])
{
	xmlDocPtr doc = rv_xml_parse(body, len, RV_R53_MAX_XML, "route53.xml");
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	xmlNode *ci = rv_xml_child(root, "ChangeInfo");
	bool ok;

	id[0] = status[0] = '\0';
	ok = (rv_xml_is(root, "ChangeResourceRecordSetsResponse") ||
	      rv_xml_is(root, "GetChangeResponse")) &&
	     rv_xml_child_text(ci, "Id", id, RV_R53_ID_MAX) &&
	     rv_xml_child_text(ci, "Status", status, 16) && id[0] && status[0];
	xmlFreeDoc(doc);
	if (!ok)
		return rv_error(RV_ECORRUPT, "route53: the answer has no ChangeInfo Id and Status");
	/* An id goes into a URL path: letters, digits, '/', '_', '-' only. */
	for (const char *p = id; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '/' || *p == '_' || *p == '-'))
			return rv_error(RV_ECORRUPT, "route53: change id '%.64s' is malformed", id);
	return 0;
}

void rv_r53_parse_error(const char *body, size_t len, struct rv_r53_error *e)
{
	xmlDocPtr doc = rv_xml_parse(body, len, RV_R53_MAX_XML, "route53.xml");
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;

	memset(e, 0, sizeof(*e));
	if (rv_xml_is(root, "ErrorResponse")) {
		xmlNode *er = rv_xml_child(root, "Error");

		rv_xml_child_text(er, "Code", e->code, sizeof(e->code));
		rv_xml_child_text(er, "Type", e->type, sizeof(e->type));
		rv_xml_child_text(er, "Message", e->message, sizeof(e->message));
	} else if (rv_xml_is(root, "InvalidChangeBatch")) {
		snprintf(e->code, sizeof(e->code), "InvalidChangeBatch");
		rv_xml_child_text(rv_xml_child(root, "Messages"), "Message", e->message,
				  sizeof(e->message));
		if (!e->message[0])
			rv_xml_child_text(root, "Message", e->message, sizeof(e->message));
	}
	/* One line: a message never carries a newline into the log. */
	for (char *p = e->message; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	for (char *p = e->code; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	xmlFreeDoc(doc);
}

static xmlNodePtr add_text(xmlNodePtr parent, const char *name, const char *text)
{
	return xmlNewTextChild(parent, NULL, (const xmlChar *)name, (const xmlChar *)text);
}

int rv_r53_change_batch(struct rv_buf *out, const char *comment, const struct rv_r53_change *c,
			size_t n)
{
	xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
	xmlNodePtr root = xmlNewNode(NULL, (const xmlChar *)"ChangeResourceRecordSetsRequest");
	xmlNodePtr batch, changes;
	xmlChar *mem = NULL;
	int len = 0, rc = 0;

	xmlDocSetRootElement(doc, root);
	xmlSetNs(root, xmlNewNs(root, (const xmlChar *)RV_R53_NS, NULL));
	batch = xmlNewChild(root, NULL, (const xmlChar *)"ChangeBatch", NULL);
	if (comment)
		add_text(batch, "Comment", comment);
	changes = xmlNewChild(batch, NULL, (const xmlChar *)"Changes", NULL);
	for (size_t i = 0; i < n && !rc; i++) {
		const struct rv_r53_set *s = c[i].set;
		xmlNodePtr ch = xmlNewChild(changes, NULL, (const xmlChar *)"Change", NULL);
		xmlNodePtr rs;
		char num[32];

		add_text(ch, "Action", c[i].action);
		rs = xmlNewChild(ch, NULL, (const xmlChar *)"ResourceRecordSet", NULL);
		add_text(rs, "Name", s->name);
		add_text(rs, "Type", s->type);
		if (s->set_id[0])
			add_text(rs, "SetIdentifier", s->set_id);
		if (s->has_weight) {
			snprintf(num, sizeof(num), "%lld", (long long)s->weight);
			add_text(rs, "Weight", num);
		}
		if (s->alias) {
			char name[RV_DNS_NAME_MAX], zone[RV_DNS_ZONE_ID_MAX];
			xmlNodePtr at;

			if (s->values.n != 1 || rv_dns_alias_split(s->values.v[0], name, zone)) {
				rc = RV_EUSAGE;
				break;
			}
			at = xmlNewChild(rs, NULL, (const xmlChar *)"AliasTarget", NULL);
			add_text(at, "HostedZoneId", zone);
			add_text(at, "DNSName", name);
			add_text(at, "EvaluateTargetHealth", s->evaluate_health ? "true" : "false");
		} else {
			xmlNodePtr rrs;

			if (s->has_ttl) {
				snprintf(num, sizeof(num), "%lld", (long long)s->ttl);
				add_text(rs, "TTL", num);
			}
			rrs = xmlNewChild(rs, NULL, (const xmlChar *)"ResourceRecords", NULL);
			for (unsigned k = 0; k < s->values.n; k++)
				add_text(
				    xmlNewChild(rrs, NULL, (const xmlChar *)"ResourceRecord", NULL),
				    "Value", s->values.v[k]);
		}
		if (s->health_check_id[0])
			add_text(rs, "HealthCheckId", s->health_check_id);
	}
	if (!rc) {
		xmlDocDumpMemoryEnc(doc, &mem, &len, "UTF-8");
		rc = mem ? rv_buf_add(out, mem, (size_t)len)
			 : rv_error(RV_EFAIL, "route53: cannot write the change batch");
	}
	xmlFree(mem);
	xmlFreeDoc(doc);
	return rc;
}
