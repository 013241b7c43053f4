/* test_format.c - content logs and manifests: names, escaping, round trips,
 * corruption, and streaming a 100,000-entry manifest in flat memory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "format/content.h"
#include "core/mem.h"
#include "core/util.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const hostile[] = {
    "plain.jpg",
    "with space/and  two.png",
    "new\nline/file\n",
    "tab\there",
    "percent%25%/100%",
    "ünïcødé/日本語/😀.webp",
    "bad-utf8-\xff\xfe.bin",
    "overlong-\xc0\xaf.txt",
    "surrogate-\xed\xa0\x80",
    "del\x7f",
    ".hidden/..dots/...",
    "cr\rlf",
};

static void test_escape_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(*hostile); i++) {
		struct rv_buf esc = RV_BUF_INIT(1 << 16), back = RV_BUF_INIT(RV_CPATH_MAX);

		assert_int_equal(rv_content_escape(&esc, hostile[i]), 0);
		for (size_t j = 0; j < esc.len; j++) {
			unsigned char c = (unsigned char)esc.data[j];

			assert_true(c > 0x20 && c != 0x7f);
		}
		assert_int_equal(rv_content_unescape(&back, esc.data, esc.len), 0);
		assert_string_equal(back.data, hostile[i]);
		rv_buf_release(&esc);
		rv_buf_release(&back);
	}
	/* Unicode stays readable. */
	{
		struct rv_buf esc = RV_BUF_INIT(1024);

		assert_int_equal(rv_content_escape(&esc, "日本 x"), 0);
		assert_string_equal(esc.data, "日本%20x");
		rv_buf_release(&esc);
	}
	{
		struct rv_buf b = RV_BUF_INIT(64);

		assert_int_equal(rv_content_unescape(&b, "a%0", 3), RV_ECORRUPT);
		assert_int_equal(rv_content_unescape(&b, "a%zz", 4), RV_ECORRUPT);
		assert_int_equal(rv_content_unescape(&b, "a%00", 4), RV_ECORRUPT);
		assert_int_equal(rv_content_unescape(&b, "a\tb", 3), RV_ECORRUPT);
		rv_buf_release(&b);
	}
}

static void test_paths_and_keys(void **state)
{
	static const char *const bad[] = {"", "/a", "a/", "a//b", ".", "..", "a/../b", "a/./b"};
	static const char *const order[] = {"a", "a/b", "a/b/c", "a/b.txt", "a.txt", "a0", "ab"};
	unsigned char sha[RV_SHA256_LEN];
	char key[RV_BLOB_KEY_LEN], gen[RV_GEN_ID_LEN], gen2[RV_GEN_ID_LEN];
	uint64_t seq;
	int64_t t;
	char *k;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(rv_content_path_check(bad[i]), RV_EUSAGE);
	assert_int_equal(rv_content_path_check("a/..b/.c/d..."), 0);
	for (size_t i = 0; i + 1 < sizeof(order) / sizeof(*order); i++) {
		assert_true(rv_content_path_cmp(order[i], order[i + 1]) < 0);
		assert_true(rv_content_path_cmp(order[i + 1], order[i]) > 0);
	}
	assert_int_equal(rv_content_path_cmp("x/y", "x/y"), 0);

	rv_sha256(sha, "abc", 3);
	rv_content_blob_key(key, sha, NULL);
	assert_string_equal(
	    key,
	    "blobs/sha256/ba/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	rv_gen_id_new(gen);
	assert_int_equal(strlen(gen), RV_GEN_ID_LEN - 1);
	assert_int_equal(rv_gen_id_check(gen), 0);
	rv_sleep_ms(2);
	rv_gen_id_new(gen2);
	assert_true(strcmp(gen, gen2) < 0); /* later generations sort later */
	assert_int_equal(rv_gen_id_check("0000019A3C5E7F10-3fa9c2d1"), RV_EUSAGE);
	assert_int_equal(rv_gen_id_check("0000019a3c5e7f10_3fa9c2d1"), RV_EUSAGE);

	k = rv_content_log_key(gen, 0x1234, 1700000000123);
	assert_true(rv_str_endswith(k, "/content/log/0000000000001234-0000018bcfe5687b.log.zst"));
	assert_int_equal(rv_content_key_parse(k, &seq, &t), 0);
	assert_int_equal(seq, 0x1234);
	assert_int_equal(t, 1700000000123);
	free(k);
	k = rv_content_manifest_key(gen, 7, 1);
	assert_true(
	    rv_str_endswith(k, "/content/snapshot/0000000000000007-0000000000000001.manifest.zst"));
	free(k);
	assert_int_equal(rv_content_key_parse("generations/x/content/log/zz.log.zst", &seq, &t),
			 RV_ECORRUPT);
}

static struct rv_cobj_hdr hdr(enum rv_cobj_kind kind)
{
	struct rv_cobj_hdr h = {.kind = kind, .from = 41, .to = 42, .time_ms = 1700000000123};

	memcpy(h.gen, "0000019a3c5e7f10-3fa9c2d1", RV_GEN_ID_LEN);
	return h;
}

/* A log holding every record type over every hostile name. */
static void write_log(struct rv_buf *out, bool compress)
{
	struct rv_cobj_hdr h = hdr(RV_COBJ_LOG);
	struct rv_cobj_writer *w;

	assert_int_equal(rv_cobj_writer_new(&w, &h, compress, rv_cobj_sink_buf, out), 0);
	for (size_t i = 0; i < sizeof(hostile) / sizeof(*hostile); i++) {
		struct rv_centry e = {.path = hostile[i],
				      .size = i * 1000,
				      .mode = 0644,
				      .mtime_ns = 1700000000123456789 + (int64_t)i};

		e.type = (enum rv_centry_type)(i % 4);
		rv_sha256(e.sha256, hostile[i], strlen(hostile[i]));
		if (e.type == RV_CE_LINK)
			e.target = hostile[(i + 1) % (sizeof(hostile) / sizeof(*hostile))];
		if (e.type == RV_CE_DIR)
			e.mode = 02755;
		assert_int_equal(rv_cobj_writer_add(w, &e), 0);
	}
	assert_int_equal(rv_cobj_writer_count(w), sizeof(hostile) / sizeof(*hostile));
	assert_int_equal(rv_cobj_writer_finish(w), 0);
	rv_cobj_writer_free(w);
}

static int read_all(const void *data, size_t len, uint64_t *count)
{
	struct rv_cobj_mem m = {data, len, 0};

	return rv_cobj_verify("generations/g/content/log/x.log.zst", rv_cobj_source_mem, &m, count);
}

static void check_log(const struct rv_buf *b)
{
	struct rv_cobj_mem m = {b->data, b->len, 0};
	struct rv_cobj_reader *r;
	const struct rv_centry *e;
	size_t i = 0;

	assert_int_equal(rv_cobj_reader_new(&r, "log", rv_cobj_source_mem, &m), 0);
	assert_int_equal(rv_cobj_reader_hdr(r)->kind, RV_COBJ_LOG);
	assert_int_equal(rv_cobj_reader_hdr(r)->major, 1);
	assert_int_equal(rv_cobj_reader_hdr(r)->from, 41);
	assert_int_equal(rv_cobj_reader_hdr(r)->to, 42);
	assert_int_equal(rv_cobj_reader_hdr(r)->time_ms, 1700000000123);
	assert_string_equal(rv_cobj_reader_hdr(r)->gen, "0000019a3c5e7f10-3fa9c2d1");
	for (;;) {
		assert_int_equal(rv_cobj_reader_next(r, &e), 0);
		if (!e)
			break;
		assert_true(i < sizeof(hostile) / sizeof(*hostile));
		assert_int_equal(e->type, (int)(i % 4));
		assert_string_equal(e->path, hostile[i]);
		if (e->type == RV_CE_FILE) {
			unsigned char sha[RV_SHA256_LEN];

			rv_sha256(sha, hostile[i], strlen(hostile[i]));
			assert_memory_equal(e->sha256, sha, sizeof(sha));
			assert_int_equal(e->size, i * 1000);
			assert_int_equal(e->mode, 0644);
		}
		if (e->type == RV_CE_DIR)
			assert_int_equal(e->mode, 02755);
		if (e->type == RV_CE_LINK)
			assert_string_equal(
			    e->target, hostile[(i + 1) % (sizeof(hostile) / sizeof(*hostile))]);
		if (e->type != RV_CE_DEL)
			assert_int_equal(e->mtime_ns, 1700000000123456789 + (int64_t)i);
		i++;
	}
	assert_int_equal(i, sizeof(hostile) / sizeof(*hostile));
	/* Reading past the end stays at the end. */
	assert_int_equal(rv_cobj_reader_next(r, &e), 0);
	assert_null(e);
	rv_cobj_reader_free(r);
}

static void test_log_round_trip(void **state)
{
	struct rv_buf plain = RV_BUF_INIT(1 << 20), z = RV_BUF_INIT(1 << 20);

	(void)state;
	write_log(&plain, false);
	write_log(&z, true);
	assert_true(rv_str_startswith(plain.data, "revenant 1.1 content-log gen="));
	assert_memory_equal(z.data, "\x28\xb5\x2f\xfd", 4);
	/* No raw newline inside a record: one line per record + header + end. */
	{
		size_t lines = 0;

		for (size_t i = 0; i < plain.len; i++)
			lines += plain.data[i] == '\n';
		assert_int_equal(lines, sizeof(hostile) / sizeof(*hostile) + 2);
	}
	check_log(&plain);
	check_log(&z);
	rv_buf_release(&plain);
	rv_buf_release(&z);
}

/* Format 1.1's recovery point: written only when set, read back exactly;
 * a 1.0 object (no db=) reads as "no database position". */
static void test_header_db_pos(void **state)
{
	struct rv_buf b = RV_BUF_INIT(1 << 16);
	struct rv_cobj_hdr h = hdr(RV_COBJ_LOG);
	struct rv_cobj_writer *w;
	struct rv_cobj_reader *r;
	struct rv_cobj_mem m;

	(void)state;
	h.has_db = true;
	h.db_pos = 18446744073709551614u;
	assert_int_equal(rv_cobj_writer_new(&w, &h, false, rv_cobj_sink_buf, &b), 0);
	assert_int_equal(rv_cobj_writer_finish(w), 0);
	rv_cobj_writer_free(w);
	assert_non_null(strstr(b.data, " db=18446744073709551614\n"));
	m = (struct rv_cobj_mem){b.data, b.len, 0};
	assert_int_equal(rv_cobj_reader_new(&r, "log", rv_cobj_source_mem, &m), 0);
	assert_true(rv_cobj_reader_hdr(r)->has_db);
	assert_true(rv_cobj_reader_hdr(r)->db_pos == 18446744073709551614u);
	rv_cobj_reader_free(r);
	rv_buf_reset(&b);
	h.has_db = false;
	assert_int_equal(rv_cobj_writer_new(&w, &h, false, rv_cobj_sink_buf, &b), 0);
	assert_int_equal(rv_cobj_writer_finish(w), 0);
	rv_cobj_writer_free(w);
	assert_null(strstr(b.data, "db="));
	m = (struct rv_cobj_mem){b.data, b.len, 0};
	assert_int_equal(rv_cobj_reader_new(&r, "log", rv_cobj_source_mem, &m), 0);
	assert_false(rv_cobj_reader_hdr(r)->has_db);
	rv_cobj_reader_free(r);
	rv_buf_release(&b);
}

static void test_writer_rejects(void **state)
{
	struct rv_buf out = RV_BUF_INIT(1 << 20);
	struct rv_cobj_hdr h = hdr(RV_COBJ_MANIFEST);
	struct rv_cobj_writer *w;
	struct rv_centry e = {.type = RV_CE_FILE, .mode = 0644};

	(void)state;
	assert_int_equal(rv_cobj_writer_new(&w, &h, true, rv_cobj_sink_buf, &out), 0);
	e.path = "b";
	assert_int_equal(rv_cobj_writer_add(w, &e), 0);
	e.path = "a";
	assert_int_equal(rv_cobj_writer_add(w, &e), RV_EUSAGE); /* out of order */
	e.path = "b";
	assert_int_equal(rv_cobj_writer_add(w, &e), RV_EUSAGE); /* duplicate */
	e.path = "c";
	e.type = RV_CE_DEL;
	assert_int_equal(rv_cobj_writer_add(w, &e), RV_EUSAGE); /* no deletes in manifests */
	e.type = RV_CE_FILE;
	e.path = "../escape";
	assert_int_equal(rv_cobj_writer_add(w, &e), RV_EUSAGE);
	e.path = "c";
	e.mode = 010000;
	assert_int_equal(rv_cobj_writer_add(w, &e), RV_EUSAGE);
	e.mode = 0600;
	assert_int_equal(rv_cobj_writer_add(w, &e), 0);
	assert_int_equal(rv_cobj_writer_finish(w), 0);
	rv_cobj_writer_free(w);
	{
		uint64_t n = 0;

		assert_int_equal(read_all(out.data, out.len, &n), 0);
		assert_int_equal(n, 2);
	}
	rv_buf_release(&out);
}

static void test_corruption_detected(void **state)
{
	struct rv_buf z = RV_BUF_INIT(1 << 20), plain = RV_BUF_INIT(1 << 20);
	char *copy;
	size_t hdr_end, benign = 0;

	(void)state;
	write_log(&z, true);
	write_log(&plain, false);
	copy = rv_malloc(z.len + plain.len);
	/* Every single-byte flip of the compressed object is detected, or
	 * changes nothing that is decoded (a larger zstd window size in the
	 * frame header is such a flip). */
	for (size_t i = 0; i < z.len; i++) {
		struct rv_buf same = RV_BUF_INIT(1 << 20);
		int rc;

		memcpy(copy, z.data, z.len);
		copy[i] ^= 0x20;
		rc = read_all(copy, z.len, NULL);
		if (rc == 0) {
			benign++;
			assert_int_equal(rv_buf_add(&same, copy, z.len), 0);
			check_log(&same);
			rv_buf_release(&same);
			continue;
		}
		if (rc != RV_ECORRUPT)
			fail_msg("flip at byte %zu of %zu not detected", i, z.len);
	}
	assert_true(benign < 8);
	/* Every truncation. */
	for (size_t n = 0; n < z.len; n++)
		assert_int_equal(read_all(z.data, n, NULL), RV_ECORRUPT);
	/* Plain text: every flip after the header line (where a version digit
	 * could legitimately turn into "unsupported"). */
	hdr_end = (size_t)((char *)memchr(plain.data, '\n', plain.len) - plain.data) + 1;
	for (size_t i = hdr_end; i < plain.len; i++) {
		memcpy(copy, plain.data, plain.len);
		copy[i] ^= 0x01;
		assert_int_equal(read_all(copy, plain.len, NULL), RV_ECORRUPT);
	}
	for (size_t n = 0; n < plain.len; n++)
		assert_int_equal(read_all(plain.data, n, NULL), RV_ECORRUPT);
	/* The message names the object. */
	memcpy(copy, z.data, z.len);
	copy[z.len / 2] ^= 0x01;
	assert_int_equal(read_all(copy, z.len, NULL), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "generations/g/content/log/x.log.zst"));
	/* Bytes after the end line. */
	memcpy(copy, plain.data, plain.len);
	memcpy(copy + plain.len, "x\n", 2);
	assert_int_equal(read_all(copy, plain.len + 2, NULL), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "after the end"));
	free(copy);
	rv_buf_release(&z);
	rv_buf_release(&plain);
}

/* Hand-written objects, checksummed here: what a later 1.x writer may add is
 * ignored; a different major version is refused; unsafe paths are corrupt. */
static int parse_text(const char *body)
{
	unsigned char sha[RV_SHA256_LEN];
	char hex[RV_SHA256_HEX];
	size_t lines = 0;
	char *obj;
	int rc;

	for (const char *p = body; *p; p++)
		lines += *p == '\n';
	rv_sha256(sha, body, strlen(body));
	rv_hex(hex, sha, sizeof(sha));
	obj = rv_asprintf("%send %zu %s\n", body, lines - 1, hex);
	rc = read_all(obj, strlen(obj), NULL);
	free(obj);
	return rc;
}

static void test_compatibility(void **state)
{
	(void)state;
	assert_int_equal(parse_text("revenant 1.0 content-log gen=0000019a3c5e7f10-3fa9c2d1 from=1 "
				    "to=1 time=5\n"
				    "del a\n"),
			 0);
	assert_int_equal(parse_text("revenant 1.7 content-log gen=0000019a3c5e7f10-3fa9c2d1 from=1 "
				    "to=1 time=5 future=yes\n"
				    "del a extra-field\n"
				    "newtype whatever 1 2 3\n"),
			 0);
	assert_int_equal(parse_text("revenant 2.0 content-log gen=0000019a3c5e7f10-3fa9c2d1 from=1 "
				    "to=1 time=5\n"
				    "del a\n"),
			 RV_ENOTSUP);
	assert_non_null(strstr(rv_errmsg(), "format 2.0"));
	assert_int_equal(parse_text("revenant 1.0 content-log gen=0000019a3c5e7f10-3fa9c2d1 from=1 "
				    "to=1 time=5\n"
				    "del a/../../etc/passwd\n"),
			 RV_ECORRUPT);
	assert_int_equal(parse_text("revenant 1.0 content-log gen=0000019a3c5e7f10-3fa9c2d1 from=1 "
				    "to=1 time=5\n"
				    "del /etc/passwd\n"),
			 RV_ECORRUPT);
	assert_int_equal(parse_text("revenant 1.0 content-log from=1 to=1 time=5\n"
				    "del a\n"),
			 RV_ECORRUPT); /* no generation */
	assert_int_equal(parse_text("revenant 1.0 content-manifest gen=0000019a3c5e7f10-3fa9c2d1 "
				    "from=1 to=1 time=5\n"
				    "dir b 0755 1\n"
				    "dir a 0755 1\n"),
			 RV_ECORRUPT); /* out of order */
	assert_int_equal(parse_text("revenant 1.0 content-log gen=0000019a3c5e7f10-3fa9c2d1 from=1 "
				    "to=1 time=5\n"
				    "file a 1 0644 1 abcd\n"),
			 RV_ECORRUPT); /* short sha */
}

static void *volatile heap_probe;

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* Is the heap glibc's (so mallinfo2 sees our allocations)?  Not under ASan. */
static bool heap_measurable(void)
{
	size_t before = heap_in_use();
	bool yes;

	heap_probe = malloc(1 << 20);
	memset(heap_probe, 1, 1 << 20);
	yes = heap_in_use() >= before + (1 << 20);
	free(heap_probe);
	return yes;
}

#define MANY 100000

static void test_manifest_100k_streaming(void **state)
{
	char tmpl[] = "/tmp/rv-test-manifest-XXXXXX";
	struct rv_cobj_hdr h = hdr(RV_COBJ_MANIFEST);
	struct rv_cobj_writer *w;
	struct rv_cobj_reader *r;
	const struct rv_centry *e;
	size_t base = 0, peak_w = 0, peak_r = 0, n = 0;
	bool measure = heap_measurable();
	char path[64], prev[64] = "";
	int fd = mkstemp(tmpl);
	off_t size;

	(void)state;
	assert_true(fd >= 0);
	unlink(tmpl);
	assert_int_equal(rv_cobj_writer_new(&w, &h, true, rv_cobj_sink_fd, &fd), 0);
	for (size_t i = 0; i < MANY; i++) {
		struct rv_centry f = {.type = RV_CE_FILE,
				      .path = path,
				      .size = i,
				      .mode = 0644,
				      .mtime_ns = (int64_t)i};

		/* images/2024/NN/img-NNNNNN.jpg sorts in loop order. */
		snprintf(path, sizeof(path), "images/2024/%02zu/img-%06zu.jpg", i / 10000, i);
		rv_sha256(f.sha256, &i, sizeof(i));
		assert_int_equal(rv_cobj_writer_add(w, &f), 0);
		if (i == 1000)
			base = heap_in_use();
		if (i > 1000 && i % 10000 == 0 && heap_in_use() > peak_w)
			peak_w = heap_in_use();
	}
	assert_int_equal(rv_cobj_writer_finish(w), 0);
	rv_cobj_writer_free(w);
	size = lseek(fd, 0, SEEK_END);
	assert_true(size > 0 && size < 8 * 1024 * 1024); /* compressed */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);

	assert_int_equal(rv_cobj_reader_new(&r, "manifest", rv_cobj_source_fd, &fd), 0);
	for (;;) {
		assert_int_equal(rv_cobj_reader_next(r, &e), 0);
		if (!e)
			break;
		assert_true(rv_content_path_cmp(prev, e->path) < 0 || !n);
		snprintf(prev, sizeof(prev), "%s", e->path);
		assert_int_equal(e->size, n);
		n++;
		if (n % 10000 == 0 && heap_in_use() > peak_r)
			peak_r = heap_in_use();
	}
	assert_int_equal(n, MANY);
	rv_cobj_reader_free(r);
	close(fd);
	if (measure) {
		/* 99,000 more entries may not cost more than 1 MiB of heap. */
		assert_true(peak_w < base + (1 << 20));
		assert_true(peak_r < base + (1 << 20));
	} else {
		print_message("heap not measurable here (sanitizer allocator): memory bound "
			      "checked in the plain build only\n");
	}
}

/* The one check every reader makes: the header against the key's name. */
static void test_read_checked(void **state)
{
	const char *gen = "0000019a3c5e7f10-3fa9c2d1";
	struct rv_cobj_hdr h = {.kind = RV_COBJ_LOG, .from = 7, .to = 7, .time_ms = 0x1234};
	struct rv_centry e = {.type = RV_CE_DIR, .path = "d", .mode = 0755, .mtime_ns = 1};
	struct rv_buf b = RV_BUF_INIT(1 << 16);
	struct rv_cobj_writer *w;
	struct rv_cobj_hdr got;
	struct {
		const char *key;
		int rc;
	} cases[] = {
	    {"generations/0000019a3c5e7f10-3fa9c2d1/content/log/"
	     "0000000000000007-0000000000001234.log.zst",
	     0},
	    /* the same bytes under another sequence, time, generation or kind */
	    {"generations/0000019a3c5e7f10-3fa9c2d1/content/log/"
	     "0000000000000008-0000000000001234.log.zst",
	     RV_ECORRUPT},
	    {"generations/0000019a3c5e7f10-3fa9c2d1/content/log/"
	     "0000000000000007-0000000000001235.log.zst",
	     RV_ECORRUPT},
	    {"generations/0000019a3c5e7f11-3fa9c2d1/content/log/"
	     "0000000000000007-0000000000001234.log.zst",
	     RV_ECORRUPT},
	    {"generations/0000019a3c5e7f10-3fa9c2d1/content/snapshot/"
	     "0000000000000007-0000000000001234.manifest.zst",
	     RV_ECORRUPT},
	    /* not a content object's key at all */
	    {"generations/0000019a3c5e7f10-3fa9c2d1/db/log/x.wal.zst", RV_ECORRUPT},
	    {"blobs/sha256/ab/cd", RV_ECORRUPT},
	};

	(void)state;
	memcpy(h.gen, gen, RV_GEN_ID_LEN);
	assert_int_equal(rv_cobj_writer_new(&w, &h, true, rv_cobj_sink_buf, &b), 0);
	assert_int_equal(rv_cobj_writer_add(w, &e), 0);
	assert_int_equal(rv_cobj_writer_finish(w), 0);
	rv_cobj_writer_free(w);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rv_cobj_mem m = {b.data, b.len, 0};
		int rc =
		    rv_cobj_read_checked(cases[i].key, rv_cobj_source_mem, &m, NULL, NULL, &got);

		if (rc != cases[i].rc)
			fail_msg("%s: %d, want %d (%s)", cases[i].key, rc, cases[i].rc,
				 rv_errmsg());
		if (!rc) {
			assert_int_equal(got.to, 7);
			assert_string_equal(got.gen, gen);
		} else {
			assert_non_null(strstr(rv_errmsg(), cases[i].key));
		}
	}
	rv_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape_round_trip),
	    cmocka_unit_test(test_paths_and_keys),
	    cmocka_unit_test(test_log_round_trip),
	    cmocka_unit_test(test_header_db_pos),
	    cmocka_unit_test(test_writer_rejects),
	    cmocka_unit_test(test_corruption_detected),
	    cmocka_unit_test(test_compatibility),
	    cmocka_unit_test(test_manifest_100k_streaming),
	    cmocka_unit_test(test_read_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
