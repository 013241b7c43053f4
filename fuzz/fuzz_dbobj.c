/* fuzz_dbobj.c - the database-object reader (rv_dbobj_reader_*, SQLite's
 * page bodies and MySQL's record bodies, docs/FORMAT.md) on arbitrary
 * bytes.  The first byte picks the layer: odd, the rest is fed as it is
 * (the zstd frame itself is fuzzed); even, the harness compresses the rest
 * first, so the fuzzer works on the text and records inside.  Besides not
 * crashing or leaking: a record's type is a non-empty word, its tag has no
 * space, its body stays within the buffer's cap, and an object that
 * verifies counts exactly the records handed out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <zstd.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "format/dbobj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
	const uint8_t *p;
	size_t n, off;
};

static ssize_t mem_read(void *ud, void *out, size_t n)
{
	struct mem *m = ud;
	size_t k = m->n - m->off < n ? m->n - m->off : n;

	memcpy(out, m->p + m->off, k);
	m->off += k;
	return (ssize_t)k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rv_dbobj_reader *r = NULL;
	struct rv_buf body = RV_BUF_INIT(1u << 20);
	struct mem m = {0};
	void *z = NULL;
	char type[16], tag[RV_DBOBJ_TAG_MAX];
	uint64_t n = 0;
	bool end = false;
	int rc;

	if (size < 1 || size > (1u << 20))
		return 0;
	if (data[0] & 1) {
		m = (struct mem){data + 1, size - 1, 0};
	} else {
		size_t cap = ZSTD_compressBound(size - 1), zn;
		ZSTD_CCtx *c = ZSTD_createCCtx();

		z = rv_malloc(cap);
		ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
		zn = ZSTD_compress2(c, z, cap, data + 1, size - 1);
		ZSTD_freeCCtx(c);
		if (ZSTD_isError(zn))
			abort();
		m = (struct mem){z, zn, 0};
	}
	if (rv_dbobj_reader_new_src(&r, mem_read, &m, -1, "fuzz"))
		goto out;
	if (rv_dbobj_records(rv_dbobj_reader_hdr(r))) {
		while (!(rc = rv_dbobj_reader_record(r, type, tag, &body, &end)) && !end) {
			if (!type[0] || strchr(type, ' ') || strchr(tag, ' ') ||
			    body.len > body.max)
				abort();
			n++;
		}
		if (!rc && !rv_dbobj_reader_finish(r) && rv_dbobj_reader_hdr(r)->count != n)
			abort();
	} else {
		const struct rv_dbobj_hdr *h = rv_dbobj_reader_hdr(r);
		uint64_t left = rv_dbobj_body_size(h);
		char buf[4096];

		/* Bodies beyond the input's size cannot verify: stop early. */
		if (left > size * 64ull)
			goto out;
		while (left) {
			size_t k = left < sizeof(buf) ? (size_t)left : sizeof(buf);

			if (rv_dbobj_reader_read(r, buf, k))
				goto out;
			left -= k;
		}
		if (rv_dbobj_reader_finish(r))
			goto out;
	}
out:
	rv_dbobj_reader_free(r);
	rv_buf_release(&body);
	free(z);
	rv_error_clear();
	return 0;
}
