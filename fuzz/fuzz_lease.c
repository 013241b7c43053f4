/* fuzz_lease.c - the small JSON documents every writer and reader trusts:
 * lease.json (rv_lease_decode) and heartbeat.json (rv_heartbeat_decode),
 * on arbitrary bytes.  The first byte picks the decoder.  Besides not
 * crashing or leaking: what decodes has a valid generation ID and an epoch
 * of at least 1, and encoding it and decoding that again gives the same
 * fields (what a writer renews is what it read). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "engine/lease.h"
#include "format/layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void lease_case(const char *json, size_t len)
{
	struct rv_lease a, b;
	struct rv_buf buf = RV_BUF_INIT(RV_LEASE_MAX);

	if (rv_lease_decode(&a, json, len)) {
		rv_lease_release(&a);
		return;
	}
	if (a.epoch < 1 || rv_gen_id_check(a.gen) || !a.site || !a.holder)
		abort();
	if (rv_lease_encode(&a, &buf) || rv_lease_decode(&b, buf.data, buf.len))
		abort();
	if (a.epoch != b.epoch || a.since_ms != b.since_ms || strcmp(a.site, b.site) ||
	    strcmp(a.holder, b.holder) || strcmp(a.gen, b.gen))
		abort();
	rv_lease_release(&a);
	rv_lease_release(&b);
	rv_buf_release(&buf);
}

static void heartbeat_case(const char *json, size_t len)
{
	struct rv_heartbeat a, b;
	struct rv_buf buf = RV_BUF_INIT(RV_LEASE_MAX);

	if (rv_heartbeat_decode(&a, json, len)) {
		rv_heartbeat_release(&a);
		return;
	}
	if (a.epoch < 1 || rv_gen_id_check(a.gen) || !a.site || !a.holder)
		abort();
	if (rv_heartbeat_encode(&a, &buf) || rv_heartbeat_decode(&b, buf.data, buf.len))
		abort();
	if (a.epoch != b.epoch || a.time_ms != b.time_ms || a.seq != b.seq ||
	    a.commit_ms != b.commit_ms || a.has_db != b.has_db || a.db_pos != b.db_pos ||
	    a.idle != b.idle || strcmp(a.site, b.site) || strcmp(a.holder, b.holder) ||
	    strcmp(a.gen, b.gen))
		abort();
	rv_heartbeat_release(&a);
	rv_heartbeat_release(&b);
	rv_buf_release(&buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > RV_LEASE_MAX)
		return 0;
	if (data[0] & 1)
		heartbeat_case((const char *)data + 1, size - 1);
	else
		lease_case((const char *)data + 1, size - 1);
	rv_error_clear();
	return 0;
}
