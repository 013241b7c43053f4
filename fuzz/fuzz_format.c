/* fuzz_format.c - the content-object reader (rv_cobj_reader_*, content
 * logs and manifests, docs/FORMAT.md) on arbitrary bytes, zstd or plain.
 * Besides not crashing or leaking, what the reader hands out must honour
 * format.h: every path passes rv_content_path_check, a manifest's paths
 * come in rv_content_path_cmp order without repeats, and an object that
 * verifies is accepted by rv_cobj_verify too, with the same record count. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/content.h"
#include "core/err.h"
#include "core/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rv_cobj_mem m = {data, size, 0};
	struct rv_cobj_reader *r = NULL;
	const struct rv_centry *e;
	char *prev = NULL;
	uint64_t n = 0, count = 0;
	bool manifest;
	int rc;

	if (rv_cobj_reader_new(&r, "fuzz", rv_cobj_source_mem, &m))
		goto out;
	manifest = rv_cobj_reader_hdr(r)->kind == RV_COBJ_MANIFEST;
	while (!(rc = rv_cobj_reader_next(r, &e)) && e) {
		if (!e->path || rv_content_path_check(e->path))
			abort();
		if (e->type == RV_CE_LINK && !e->target)
			abort();
		if (manifest) {
			if (e->type == RV_CE_DEL)
				abort();
			if (prev && rv_content_path_cmp(prev, e->path) >= 0)
				abort();
			free(prev);
			prev = rv_strdup(e->path);
		}
		n++;
	}
	/* A verified object reads the same through rv_cobj_verify. */
	if (!rc) {
		m.off = 0;
		if (rv_cobj_verify("fuzz", rv_cobj_source_mem, &m, &count) || count < n)
			abort();
	}
out:
	rv_cobj_reader_free(r);
	free(prev);
	rv_error_clear();
	return 0;
}
