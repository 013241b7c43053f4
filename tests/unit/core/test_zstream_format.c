/* Store format bytes pinned across the zstream refactor: content logs and
 * manifests (content/format.c) and database segments and snapshots
 * (db/dbobj.c) written from fixed inputs must hash to what the code before
 * the shared zstream module wrote, and read back.
 *
 * The decompressed bytes are the format and are pinned always.  The
 * compressed bytes depend on the zstd library as well, so they are pinned
 * only for the zstd the hashes were recorded with (1.5.4). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "format/content.h"
#include "core/buf.h"
#include "core/mem.h"
#include "core/util.h"
#include "format/dbobj.h"

#define RECORDED_ZSTD 10504

static const char gen[RV_GEN_ID_LEN] = "0000018f2a3b4c5d-1a2b3c4d";

struct golden {
	const char *name;
	const char *sha_stored; /* the object's bytes; NULL: not pinned */
	const char *sha_text;	/* the decompressed bytes */
};

static void check_hashes(const struct golden *g, const void *p, size_t n)
{
	unsigned char sha[RV_SHA256_LEN];
	char hex[RV_SHA256_HEX];
	struct rv_buf text = RV_BUF_INIT(64u << 20);

	rv_sha256(sha, p, n);
	rv_hex(hex, sha, sizeof(sha));
	if (g->sha_stored && ZSTD_versionNumber() == RECORDED_ZSTD)
		assert_string_equal(hex, g->sha_stored);
	if (n >= 4 && !memcmp(p, "\x28\xb5\x2f\xfd", 4)) {
		ZSTD_DCtx *d = ZSTD_createDCtx();
		ZSTD_inBuffer in = {p, n, 0};
		char out[4096];
		size_t left = 1;

		assert_non_null(d);
		while (in.pos < in.size) {
			ZSTD_outBuffer ob = {out, sizeof(out), 0};

			left = ZSTD_decompressStream(d, &ob, &in);
			assert_false(ZSTD_isError(left));
			assert_int_equal(rv_buf_add(&text, out, ob.pos), 0);
		}
		assert_int_equal(left, 0); /* one whole frame, nothing after it */
		ZSTD_freeDCtx(d);
		rv_sha256(sha, text.data, text.len);
		rv_hex(hex, sha, sizeof(sha));
	}
	assert_string_equal(hex, g->sha_text);
	rv_buf_release(&text);
}

/* ---- content objects ---- */

static void write_cobj(struct rv_buf *out, enum rv_cobj_kind k, bool z, int n, bool db)
{
	struct rv_cobj_hdr h = {.kind = k, .from = 7, .time_ms = 1700000000123, .db_pos = 99};
	struct rv_cobj_writer *w;
	char p[256];

	memcpy(h.gen, gen, RV_GEN_ID_LEN);
	h.to = k == RV_COBJ_LOG ? 7 : 123;
	h.has_db = db;
	assert_int_equal(rv_cobj_writer_new(&w, &h, z, rv_cobj_sink_buf, out), 0);
	for (int i = 0; i < n; i++) {
		struct rv_centry e = {.path = p,
				      .mtime_ns = 1700000000123456789LL + i,
				      .mode = 0644,
				      .size = (uint64_t)i * 1000};

		/* A space, UTF-8, '%' and a control byte: all escaped or kept. */
		snprintf(p, sizeof(p), "dir%03d/file %d \xc3\xa9%%\x01.txt", i / 10, i);
		for (int j = 0; j < RV_SHA256_LEN; j++)
			e.sha256[j] = (unsigned char)(i * 7 + j);
		switch (k == RV_COBJ_MANIFEST ? 0 : i % 4) {
		case 0:
			e.type = RV_CE_FILE;
			break;
		case 1:
			e.type = RV_CE_DIR;
			e.mode = 0755;
			break;
		case 2:
			e.type = RV_CE_LINK;
			e.target = "../some target";
			break;
		default:
			e.type = RV_CE_DEL;
			break;
		}
		assert_int_equal(rv_cobj_writer_add(w, &e), 0);
	}
	assert_int_equal(rv_cobj_writer_finish(w), 0);
	rv_cobj_writer_free(w);
}

static void test_content_objects(void **state)
{
	static const struct {
		struct golden g;
		enum rv_cobj_kind kind;
		bool z, db;
		int n;
	} cases[] = {
	    {{"log_z", "691aab3bf1bb6e4590217211ccf0bf2b5880d79384c02edacc79772633160864",
	      "31abea2ae20fe8a20f802facdcee1547502346c8e2c3cee95d63fd95ba97092a"},
	     RV_COBJ_LOG,
	     true,
	     false,
	     40},
	    {{"log_plain", "a9180d6f6a6d5aab3f51046d385b5b4ff2d57eb8f05006331bf8d1b8ceb88c77",
	      "a9180d6f6a6d5aab3f51046d385b5b4ff2d57eb8f05006331bf8d1b8ceb88c77"},
	     RV_COBJ_LOG,
	     false,
	     true,
	     40},
	    {{"log_empty_z", "390c4aa67d6514c713c997564bf15404e752873a173af3bc89ffc74c275658e3",
	      "e43f384d28c22d78a61dc5ce51b0bc540878349c5eb465b9fbdde76263cb2aa1"},
	     RV_COBJ_LOG,
	     true,
	     false,
	     0},
	    {{"manifest_z", "aa1307e3ee46180af560e25d019ffb6d1bd5ed77d63a3cb8382609bac5b7873b",
	      "15b13cec30eb97774626471c71c548f69948082d73cf9aa0425a8840f090a463"},
	     RV_COBJ_MANIFEST,
	     true,
	     true,
	     5000},
	    {{"manifest_plain", "0b17b9acef4dbfa7ad139f0b9b9a580f560e9085d2ef807bad224b5e059de6d2",
	      "0b17b9acef4dbfa7ad139f0b9b9a580f560e9085d2ef807bad224b5e059de6d2"},
	     RV_COBJ_MANIFEST,
	     false,
	     false,
	     3000},
	};

	(void)state;
	if (ZSTD_versionNumber() != RECORDED_ZSTD)
		print_message("zstd %u, not %u: compressed bytes not compared\n",
			      ZSTD_versionNumber(), RECORDED_ZSTD);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct rv_buf b = RV_BUF_INIT(64u << 20);
		struct rv_cobj_mem m;
		uint64_t count = 0;

		write_cobj(&b, cases[i].kind, cases[i].z, cases[i].n, cases[i].db);
		check_hashes(&cases[i].g, b.data, b.len);
		m = (struct rv_cobj_mem){b.data, b.len, 0};
		assert_int_equal(rv_cobj_verify(cases[i].g.name, rv_cobj_source_mem, &m, &count),
				 0);
		assert_int_equal(count, (uint64_t)cases[i].n);
		rv_buf_release(&b);
	}
}

/* ---- database objects ---- */

static unsigned char body_byte(uint64_t off, unsigned *x)
{
	*x = *x * 1103515245u + 12345u;
	return off % 5 ? (unsigned char)(*x >> 16) : 0;
}

/* Database objects are compressed at a speed-tuned level (dbobj.c), a
 * choice that may change: only their decompressed bytes are pinned. */
static void test_db_objects(void **state)
{
	static const struct {
		struct golden g;
		enum rv_dbobj_kind kind;
		uint64_t count;
		uint32_t page_size;
	} cases[] = {
	    {{"dblog", NULL, "37bede7ca91d0e0d774217aeaf189622430cd2a530156a24a4acc46960c5af5c"},
	     RV_DBOBJ_LOG,
	     50,
	     4096},
	    {{"dbsnap", NULL, "93ad485789a518c45bcfb5df8c4006fa4805102b8758d72e51aaf26baa7c8c7e"},
	     RV_DBOBJ_SNAPSHOT,
	     300,
	     4096},
	    {{"dbsnap_small", NULL,
	      "1eac8c1657c10e4e0e469ec184f02f739f08d5721a8d7b855a48fc9a57aa6bd2"},
	     RV_DBOBJ_SNAPSHOT,
	     3,
	     512},
	    {{"dblog_empty", NULL,
	      "ba92134bd7c0ed3c25535f427486fe2be87b7943a73cfca53d043d30c785bed9"},
	     RV_DBOBJ_LOG,
	     0,
	     1024},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct rv_dbobj_hdr h = {.kind = cases[i].kind,
					 .from = 10,
					 .time_ms = 1700000000456,
					 .page_size = cases[i].page_size,
					 .count = cases[i].count};
		char tmpl[] = "/tmp/rv-test-zsgolden-XXXXXX";
		int fd = mkstemp(tmpl);
		struct rv_dbobj_writer *w;
		struct rv_dbobj_reader *r;
		unsigned char chunk[3001], *buf;
		uint64_t body, off = 0;
		unsigned x = 12345;
		char *data;
		size_t len, unit;

		assert_true(fd >= 0);
		memcpy(h.gen, gen, RV_GEN_ID_LEN);
		h.to = h.kind == RV_DBOBJ_LOG ? 10 + h.count : 10;
		body = rv_dbobj_body_size(&h);
		assert_int_equal(rv_dbobj_writer_new(&w, &h, fd), 0);
		while (off < body) {
			size_t n =
			    body - off < sizeof(chunk) ? (size_t)(body - off) : sizeof(chunk);

			for (size_t j = 0; j < n; j++)
				chunk[j] = body_byte(off + j, &x);
			assert_int_equal(rv_dbobj_writer_add(w, chunk, n), 0);
			off += n;
		}
		assert_int_equal(rv_dbobj_writer_finish(w), 0);
		rv_dbobj_writer_free(w);
		assert_int_equal(rv_read_file(tmpl, 64u << 20, &data, &len), 0);
		check_hashes(&cases[i].g, data, len);
		free(data);

		/* Read back: the same body, then the end checks. */
		assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
		assert_int_equal(rv_dbobj_reader_new(&r, fd, cases[i].g.name), 0);
		assert_int_equal(rv_dbobj_reader_hdr(r)->count, cases[i].count);
		unit = h.page_size + (h.kind == RV_DBOBJ_LOG ? 24u : 0u);
		buf = rv_malloc(unit);
		x = 12345;
		off = 0;
		for (uint64_t k = 0; k < h.count; k++) {
			assert_int_equal(rv_dbobj_reader_read(r, buf, unit), 0);
			for (size_t j = 0; j < unit; j++, off++)
				assert_int_equal(buf[j], body_byte(off, &x));
		}
		assert_int_equal(rv_dbobj_reader_finish(r), 0);
		rv_dbobj_reader_free(r);
		free(buf);
		close(fd);
		unlink(tmpl);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_content_objects),
	    cmocka_unit_test(test_db_objects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
