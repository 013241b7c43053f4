/* fuzz_route53.c - the Route 53 answer parsers (dns/route53_xml.c) on
 * arbitrary bytes: a record set list, a ChangeInfo, an error.  Besides not
 * crashing or leaking: a list holds at most RV_R53_MAX_SETS sets of at most
 * RV_DNS_MAX_VALUES values, every string is terminated within its field, a
 * change id is safe in a URL path, and every set parsed can be written
 * back as a DELETE (what a switch does with what it read). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "dns/route53_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t n)
{
	if (!memchr(s, 0, n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct rv_r53_list *l = malloc(sizeof(*l));
	struct rv_r53_error e;
	char id[RV_R53_ID_MAX], status[16];

	if (!l)
		return 0;
	if (!rv_r53_parse_list(body, size, l)) {
		struct rv_r53_change ch[RV_R53_MAX_SETS];
		size_t n = 0;

		if (l->n > RV_R53_MAX_SETS)
			abort();
		check_str(l->next_name, sizeof(l->next_name));
		check_str(l->next_type, sizeof(l->next_type));
		check_str(l->next_id, sizeof(l->next_id));
		for (unsigned i = 0; i < l->n; i++) {
			const struct rv_r53_set *s = &l->sets[i];

			if (s->values.n > RV_DNS_MAX_VALUES || (s->alias && s->values.n != 1))
				abort();
			check_str(s->name, sizeof(s->name));
			check_str(s->type, sizeof(s->type));
			check_str(s->set_id, sizeof(s->set_id));
			for (unsigned k = 0; k < s->values.n; k++)
				check_str(s->values.v[k], sizeof(s->values.v[k]));
			ch[n++] = (struct rv_r53_change){"DELETE", s};
		}
		{
			struct rv_buf b;

			rv_buf_init(&b, 4u << 20);
			/* An alias whose target did not parse is refused, not written. */
			(void)!rv_r53_change_batch(&b, NULL, ch, n);
			rv_buf_release(&b);
		}
	}
	if (!rv_r53_parse_change_info(body, size, id, status)) {
		check_str(id, sizeof(id));
		for (const char *p = id; *p; p++)
			if (*p == '?' || *p == '#' || *p == '%' || *p == '.' || *p == ' ')
				abort();
	}
	rv_r53_parse_error(body, size, &e);
	check_str(e.code, sizeof(e.code));
	check_str(e.message, sizeof(e.message));
	for (const char *p = e.message; *p; p++)
		if (*p == '\n' || *p == '\r')
			abort();
	free(l);
	return 0;
}
