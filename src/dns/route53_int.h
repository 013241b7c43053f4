/* route53_int.h - what route53.c and route53_xml.c share (and the fuzzer
 * reaches): Route 53's record sets as revenant holds them, its answers
 * parsed, and the change batch written. */
#ifndef RV_DNS_ROUTE53_INT_H
#define RV_DNS_ROUTE53_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "dns/dns.h"

#define RV_R53_NS	 "https://route53.amazonaws.com/doc/2013-04-01/"
#define RV_R53_MAX_XML	 (1u << 20) /* an answer bigger than this is refused */
#define RV_R53_MAX_SETS	 16	    /* sets one list page may return (maxitems) */
#define RV_R53_ID_MAX	 128
#define RV_R53_SETID_MAX 128

/* One resource record set.  `values` holds addresses/names, or for an
 * alias the one value "DNSNAME@ZONEID" (dns.h).  `foreign` marks what
 * revenant does not write back (failover, geo, latency, multivalue...):
 * such a set is never deleted by a switch. */
struct rv_r53_set {
	char name[RV_DNS_NAME_MAX];
	char type[8];
	char set_id[RV_R53_SETID_MAX];
	bool has_weight;
	int64_t weight;
	bool has_ttl;
	int64_t ttl;
	bool alias;
	bool evaluate_health;
	char health_check_id[64];
	bool foreign;
	struct rv_dns_values values;
};

struct rv_r53_list {
	unsigned n;
	struct rv_r53_set sets[RV_R53_MAX_SETS];
	bool truncated;
	char next_name[RV_DNS_NAME_MAX];
	char next_type[8];
	char next_id[RV_R53_SETID_MAX];
};

/* Route 53's error answers: ErrorResponse/Error/{Type,Code,Message}, and
 * InvalidChangeBatch/Messages/Message for a refused batch. */
struct rv_r53_error {
	char code[64];
	char type[16];
	char message[512];
};

struct rv_r53_change {
	const char *action; /* "CREATE", "DELETE", "UPSERT" */
	const struct rv_r53_set *set;
};

/* ListResourceRecordSetsResponse; RV_ECORRUPT when it is not one. */
int rv_r53_parse_list(const char *body, size_t len, struct rv_r53_list *out) RV_WARN_UNUSED;
/* ChangeInfo/{Id,Status} of ChangeResourceRecordSetsResponse or
 * GetChangeResponse; RV_ECORRUPT when missing. */
int rv_r53_parse_change_info(const char *body, size_t len, char id[RV_R53_ID_MAX],
			     char status[16]) RV_WARN_UNUSED;
/* Whatever can be had; fields stay "" otherwise. */
void rv_r53_parse_error(const char *body, size_t len, struct rv_r53_error *e);
/* The ChangeResourceRecordSetsRequest document. */
int rv_r53_change_batch(struct rv_buf *out, const char *comment, const struct rv_r53_change *c,
			size_t n) RV_WARN_UNUSED;

#endif
