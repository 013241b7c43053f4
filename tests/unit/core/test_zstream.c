#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/util.h"
#include "core/zstream.h"

/* A source over memory that hands out at most `step` bytes a call, to
 * exercise every buffer boundary; `fail_at` injects a read error. */
struct src {
	const unsigned char *p;
	size_t len, off, step;
	size_t fail_at; /* 0: never */
};

static ssize_t src_read(void *ud, void *p, size_t n)
{
	struct src *s = ud;

	if (s->fail_at && s->off >= s->fail_at)
		return rv_error(RV_EFAIL, "injected read failure");
	if (s->step && n > s->step)
		n = s->step;
	if (n > s->len - s->off)
		n = s->len - s->off;
	memcpy(p, s->p + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static int sink_buf(void *ud, const void *p, size_t n)
{
	return rv_buf_add(ud, p, n);
}

static int corrupt_named(void *ud, const char *what)
{
	return rv_error(RV_ECORRUPT, "object '%s' is corrupt: %s", (const char *)ud, what);
}

#define BODY_LEN (200u * 1024u) /* more than three I/O chunks */

/* "hello\n", a binary body of BODY_LEN bytes, then "end <sha of both>\n". */
static void write_obj(struct rv_buf *out, bool compress, unsigned char sha_out[RV_SHA256_LEN])
{
	struct rv_zstream_writer *w;
	unsigned char *body = rv_malloc(BODY_LEN), sha[RV_SHA256_LEN];
	char hex[RV_SHA256_HEX], *end;
	struct rv_buf all = RV_BUF_INIT(BODY_LEN + 16);

	for (size_t i = 0; i < BODY_LEN; i++)
		body[i] = (unsigned char)(i % 7 ? i * 31 : '\n');
	assert_int_equal(rv_zstream_writer_new(&w, compress, sink_buf, out), 0);
	assert_int_equal(rv_zstream_write(w, "hello\n", 6), 0);
	/* Odd-sized pieces, one larger than the output buffer. */
	assert_int_equal(rv_zstream_write(w, body, 1), 0);
	assert_int_equal(rv_zstream_write(w, body + 1, 70000), 0);
	assert_int_equal(rv_zstream_write(w, body + 70001, BODY_LEN - 70001), 0);
	assert_int_equal(rv_zstream_writer_sha256(w, sha), 0);
	assert_int_equal(rv_buf_add(&all, "hello\n", 6), 0);
	assert_int_equal(rv_buf_add(&all, body, BODY_LEN), 0);
	rv_sha256(sha_out, all.data, all.len);
	assert_memory_equal(sha, sha_out, RV_SHA256_LEN);
	rv_hex(hex, sha, sizeof(sha));
	end = rv_asprintf("end %s\n", hex);
	assert_int_equal(rv_zstream_writer_finish(w, end, strlen(end)), 0);
	assert_int_equal(rv_zstream_writer_finish(w, "x", 1), 0); /* no second trailer */
	assert_int_equal(rv_zstream_write(w, "x", 1), RV_EUSAGE);
	rv_zstream_writer_free(w);
	free(end);
	free(body);
	rv_buf_release(&all);
}

/* Reads an object of write_obj's shape: 0 or the first error. */
static int read_obj(const void *p, size_t n, size_t step, bool allow_plain)
{
	struct src s = {p, n, 0, step, 0};
	struct rv_zstream_reader_opts o = {
	    .allow_plain = allow_plain, .corrupt = corrupt_named, .corrupt_ud = "obj"};
	struct rv_zstream_reader *r;
	struct rv_buf line = RV_BUF_INIT(128);
	unsigned char *body = rv_malloc(BODY_LEN), sha[RV_SHA256_LEN];
	char hex[RV_SHA256_HEX];
	bool eof;
	int rc;

	if ((rc = rv_zstream_reader_new(&r, src_read, &s, &o)))
		goto out0;
	if ((rc = rv_zstream_read_line(r, &line, true, &eof)))
		goto out;
	if (eof || strcmp(line.data, "hello")) {
		rc = corrupt_named("obj", "bad first line");
		goto out;
	}
	if ((rc = rv_zstream_read(r, body, BODY_LEN)))
		goto out;
	for (size_t i = 0; i < BODY_LEN; i++)
		if (body[i] != (unsigned char)(i % 7 ? i * 31 : '\n')) {
			rc = corrupt_named("obj", "bad body");
			goto out;
		}
	if ((rc = rv_zstream_read_line(r, &line, false, &eof)) ||
	    (rc = rv_zstream_reader_sha256(r, sha)))
		goto out;
	rv_hex(hex, sha, sizeof(sha));
	if (eof || strncmp(line.data, "end ", 4) || strcmp(line.data + 4, hex)) {
		rc = corrupt_named("obj", "bad end line");
		goto out;
	}
	rc = rv_zstream_reader_finish(r);
out:
	rv_zstream_reader_free(r);
out0:
	rv_buf_release(&line);
	free(body);
	return rc;
}

static void test_round_trip(void **state)
{
	struct rv_buf z = RV_BUF_INIT(1 << 24), plain = RV_BUF_INIT(1 << 24);
	unsigned char sha_z[RV_SHA256_LEN], sha_p[RV_SHA256_LEN];

	(void)state;
	write_obj(&z, true, sha_z);
	write_obj(&plain, false, sha_p);
	assert_memory_equal(sha_z, sha_p, RV_SHA256_LEN);
	assert_true(z.len < plain.len / 4); /* compressed */
	assert_memory_equal(z.data, "\x28\xb5\x2f\xfd", 4);
	assert_memory_equal(plain.data, "hello\n", 6);
	/* One frame with the content checksum flag (FHD bit 2). */
	assert_true(z.data[4] & 0x04);
	for (size_t step = 0; step <= 3; step++) {
		assert_int_equal(read_obj(z.data, z.len, step ? step * 997 : 0, false), 0);
		assert_int_equal(read_obj(z.data, z.len, step ? step * 997 : 0, true), 0);
		assert_int_equal(read_obj(plain.data, plain.len, step ? step * 997 : 0, true), 0);
	}
	assert_int_equal(read_obj(z.data, z.len, 1, true), 0); /* one byte a read */
	/* Plain bytes where only zstd is allowed. */
	assert_int_equal(read_obj(plain.data, plain.len, 0, false), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "object 'obj' is corrupt"));
	rv_buf_release(&z);
	rv_buf_release(&plain);
}

static void test_truncated(void **state)
{
	struct rv_buf z = RV_BUF_INIT(1 << 24), plain = RV_BUF_INIT(1 << 24);
	unsigned char sha[RV_SHA256_LEN];

	(void)state;
	write_obj(&z, true, sha);
	write_obj(&plain, false, sha);
	for (size_t n = 0; n < z.len; n++)
		assert_int_equal(read_obj(z.data, n, 0, false), RV_ECORRUPT);
	/* Cut inside the frame's checksum: the data is all there, the frame
	 * is not complete. */
	assert_int_equal(read_obj(z.data, z.len - 2, 0, false), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "truncated compressed data"));
	for (size_t n = plain.len - 100; n < plain.len; n++)
		assert_int_equal(read_obj(plain.data, n, 0, true), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "truncated line"));
	rv_buf_release(&z);
	rv_buf_release(&plain);
}

static void test_corrupted_byte(void **state)
{
	struct rv_buf z = RV_BUF_INIT(1 << 24);
	unsigned char sha[RV_SHA256_LEN], *copy;
	size_t benign = 0;

	(void)state;
	write_obj(&z, true, sha);
	copy = rv_malloc(z.len);
	/* Every flip is caught (by zstd, its checksum, or the hash) or changes
	 * nothing decoded (e.g. a larger window in the frame header). */
	for (size_t i = 0; i < z.len; i++) {
		int rc;

		memcpy(copy, z.data, z.len);
		copy[i] ^= 0x10;
		rc = read_obj(copy, z.len, 0, false);
		if (rc == 0)
			benign++;
		else if (rc != RV_ECORRUPT)
			fail_msg("flip at byte %zu of %zu: %s", i, z.len, rv_errmsg());
	}
	assert_true(benign < 8);
	/* The zstd checksum itself. */
	memcpy(copy, z.data, z.len);
	copy[z.len - 1] ^= 0x01;
	assert_int_equal(read_obj(copy, z.len, 0, false), RV_ECORRUPT);
	free(copy);
	rv_buf_release(&z);
}

static void test_trailing_garbage(void **state)
{
	static const unsigned char skippable[8] = {0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0};
	struct rv_buf z = RV_BUF_INIT(1 << 24), plain = RV_BUF_INIT(1 << 24);
	unsigned char sha[RV_SHA256_LEN];
	size_t zlen, plen;

	(void)state;
	write_obj(&z, true, sha);
	write_obj(&plain, false, sha);
	zlen = z.len;
	plen = plain.len;
	assert_int_equal(rv_buf_add(&z, "x", 1), 0);
	assert_int_equal(read_obj(z.data, z.len, 0, false), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "data after the end line"));
	/* A second frame, even one zstd would skip, is not "nothing". */
	z.len = zlen;
	assert_int_equal(rv_buf_add(&z, skippable, sizeof(skippable)), 0);
	assert_int_equal(read_obj(z.data, z.len, 0, false), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "data after the end line"));
	/* Garbage that arrives in a later read than the frame's end. */
	z.len = zlen;
	assert_int_equal(rv_buf_add(&z, "xyz", 3), 0);
	assert_int_equal(read_obj(z.data, z.len, 1, false), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "data after the end line"));
	assert_int_equal(rv_buf_add(&plain, "x", 1), 0);
	assert_int_equal(read_obj(plain.data, plain.len, 0, true), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "data after the end line"));
	plain.len = plen;
	assert_int_equal(read_obj(plain.data, plain.len, 0, true), 0);
	rv_buf_release(&z);
	rv_buf_release(&plain);
}

/* Lines: the cap of the caller's buffer, with and without the '\n'. */
static void test_lines(void **state)
{
	struct rv_buf z = RV_BUF_INIT(1 << 20), line = RV_BUF_INIT(8);
	struct rv_zstream_writer *w;
	struct rv_zstream_reader *r;
	struct src s;
	struct rv_zstream_reader_opts o = {.corrupt = corrupt_named, .corrupt_ud = "lines"};
	unsigned char sha[RV_SHA256_LEN], want[RV_SHA256_LEN];
	const unsigned char *p;
	size_t n;
	bool eof;

	(void)state;
	assert_int_equal(rv_zstream_writer_new(&w, true, sink_buf, &z), 0);
	assert_int_equal(rv_zstream_write(w, "12345678\n\nabc\n123456789\n", 24), 0);
	assert_int_equal(rv_zstream_writer_finish(w, "tail", 4), 0);
	rv_zstream_writer_free(w);

	s = (struct src){(const unsigned char *)z.data, z.len, 0, 0, 0};
	assert_int_equal(rv_zstream_reader_new(&r, src_read, &s, &o), 0);
	assert_false(rv_zstream_reader_is_plain(r));
	assert_int_equal(rv_zstream_peek(r, 3, &p, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(p, "123", 3);
	assert_int_equal(rv_zstream_read_line(r, &line, true, &eof), 0);
	assert_false(eof);
	assert_string_equal(line.data, "12345678"); /* exactly the cap */
	assert_int_equal(rv_zstream_read_line(r, &line, true, &eof), 0);
	assert_int_equal(line.len, 0);
	assert_string_equal(line.data, "");
	assert_int_equal(rv_zstream_read_line(r, &line, false, &eof), 0); /* not hashed */
	assert_string_equal(line.data, "abc");
	assert_int_equal(rv_zstream_reader_sha256(r, sha), 0);
	rv_sha256(want, "12345678\n\n", 10);
	assert_memory_equal(sha, want, RV_SHA256_LEN);
	/* One byte over the cap. */
	assert_int_equal(rv_zstream_read_line(r, &line, true, &eof), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "object 'lines' is corrupt: line too long"));
	/* A failed reader stays failed. */
	assert_int_equal(rv_zstream_read_line(r, &line, true, &eof), RV_ECORRUPT);
	assert_int_equal(rv_zstream_reader_finish(r), RV_ECORRUPT);
	rv_zstream_reader_free(r);

	/* The tail without '\n' is a truncated line; peek sees to the end. */
	s = (struct src){(const unsigned char *)z.data, z.len, 0, 1, 0};
	assert_int_equal(rv_zstream_reader_new(&r, src_read, &s, &o), 0);
	{
		unsigned char all[24];

		assert_int_equal(rv_zstream_read(r, all, sizeof(all)), 0);
	}
	assert_int_equal(rv_zstream_peek(r, 100, &p, &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(p, "tail", 4);
	assert_int_equal(rv_zstream_peek(r, (64u << 10) + 1, &p, &n), RV_EUSAGE);
	assert_int_equal(rv_zstream_read_line(r, &line, false, &eof), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "truncated line"));
	rv_zstream_reader_free(r);

	/* Reading past the end. */
	s = (struct src){(const unsigned char *)z.data, z.len, 0, 0, 0};
	assert_int_equal(rv_zstream_reader_new(&r, src_read, &s, NULL), 0);
	{
		unsigned char all[29];

		assert_int_equal(rv_zstream_read(r, all, sizeof(all)), RV_ECORRUPT);
		assert_non_null(strstr(rv_errmsg(), "corrupt zstd stream: truncated"));
	}
	rv_zstream_reader_free(r);
	rv_buf_release(&z);
	rv_buf_release(&line);
}

static int sink_fail_after(void *ud, const void *p, size_t n)
{
	size_t *left = ud;

	(void)p;
	if (n > *left)
		return rv_error(RV_EFAIL, "injected write failure");
	*left -= n;
	return 0;
}

/* I/O errors come back unchanged, and stay. */
static void test_io_errors(void **state)
{
	struct rv_buf z = RV_BUF_INIT(1 << 24), line = RV_BUF_INIT(64);
	struct rv_zstream_writer *w;
	struct rv_zstream_reader *r;
	unsigned char sha[RV_SHA256_LEN], *big = rv_calloc(1, 1 << 20);
	size_t left = 100;
	struct src s;
	bool eof;

	(void)state;
	assert_int_equal(rv_zstream_writer_new(&w, false, sink_fail_after, &left), 0);
	assert_int_equal(rv_zstream_write(w, big, 10), 0);
	assert_int_equal(rv_zstream_write(w, big, 1 << 20), RV_EFAIL);
	assert_int_equal(rv_zstream_write(w, big, 1), RV_EFAIL);
	assert_int_equal(rv_zstream_writer_finish(w, "end\n", 4), RV_EFAIL);
	rv_zstream_writer_free(w);

	write_obj(&z, true, sha);
	s = (struct src){(const unsigned char *)z.data, z.len, 0, 16, 0};
	assert_int_equal(rv_zstream_reader_new(&r, src_read, &s, NULL), 0);
	assert_int_equal(rv_zstream_read_line(r, &line, true, &eof), 0);
	s.fail_at = s.off; /* the next read fails */
	assert_int_equal(rv_zstream_read(r, big, BODY_LEN), RV_EFAIL);
	assert_string_equal(rv_errmsg(), "injected read failure");
	assert_int_equal(rv_zstream_read(r, big, 1), RV_EFAIL);
	rv_zstream_reader_free(r);

	/* While sniffing for the magic: two bytes, then a failure. */
	s = (struct src){(const unsigned char *)z.data, z.len, 0, 2, 2};
	{
		struct rv_zstream_reader_opts o = {.allow_plain = true};

		assert_int_equal(rv_zstream_reader_new(&r, src_read, &s, &o), RV_EFAIL);
		assert_null(r);
	}
	free(big);
	rv_buf_release(&z);
	rv_buf_release(&line);
}

/* Plain input that is too short to tell, or empty. */
static void test_short_inputs(void **state)
{
	struct rv_zstream_reader_opts o = {
	    .allow_plain = true, .corrupt = corrupt_named, .corrupt_ud = "short"};
	struct rv_zstream_reader *r;
	struct rv_buf line = RV_BUF_INIT(64);
	struct src s = {(const unsigned char *)"ab\n", 3, 0, 0, 0};
	bool eof;

	(void)state;
	assert_int_equal(rv_zstream_reader_new(&r, src_read, &s, &o), 0);
	assert_true(rv_zstream_reader_is_plain(r));
	assert_int_equal(rv_zstream_read_line(r, &line, true, &eof), 0);
	assert_string_equal(line.data, "ab");
	assert_int_equal(rv_zstream_read_line(r, &line, true, &eof), 0);
	assert_true(eof);
	assert_int_equal(rv_zstream_reader_finish(r), 0);
	rv_zstream_reader_free(r);

	s = (struct src){(const unsigned char *)"", 0, 0, 0, 0};
	assert_int_equal(rv_zstream_reader_new(&r, src_read, &s, NULL), 0);
	assert_int_equal(rv_zstream_read_line(r, &line, true, &eof), RV_ECORRUPT);
	rv_zstream_reader_free(r);
	rv_buf_release(&line);
}

/* The hash thread (hash_thread): large reads decoded straight into the
 * caller's memory and hashed on a second thread give the same bytes and
 * the same digest as hashing inline, for reads of every shape; a cut, a
 * flipped byte or a failing source is the same error either way, and a
 * reader dropped mid-stream joins its thread. */
#define BIG_LEN ((5u << 20) + 12345u)

static unsigned char big_byte(size_t i)
{
	return (unsigned char)((i * 2654435761u) >> 13);
}

static int read_big(const struct rv_buf *z, size_t len, bool thread, size_t piece, size_t fail_at,
		    unsigned char sha[RV_SHA256_LEN])
{
	struct src s = {(const unsigned char *)z->data, len, 0, 0, fail_at};
	struct rv_zstream_reader_opts o = {.hash_thread = thread};
	struct rv_zstream_reader *r;
	unsigned char *body = rv_malloc(BIG_LEN);
	size_t off = 0;
	int rc;

	if ((rc = rv_zstream_reader_new(&r, src_read, &s, &o)))
		goto out;
	while (!rc && off < BIG_LEN) {
		size_t n = BIG_LEN - off < piece ? BIG_LEN - off : piece;

		rc = rv_zstream_read(r, body + off, n);
		off += n;
	}
	for (size_t i = 0; !rc && i < BIG_LEN; i++)
		if (body[i] != big_byte(i))
			fail_msg("byte %zu differs (thread %d, piece %zu)", i, thread, piece);
	if (!rc)
		rc = rv_zstream_reader_sha256(r, sha);
	if (!rc)
		rc = rv_zstream_reader_finish(r);
	rv_zstream_reader_free(r);
out:
	free(body);
	return rc;
}

static void test_hash_thread(void **state)
{
	struct rv_buf z = RV_BUF_INIT(1 << 25);
	struct rv_zstream_writer *w;
	unsigned char *body = rv_malloc(BIG_LEN), want[RV_SHA256_LEN], got[RV_SHA256_LEN];
	static const size_t pieces[] = {BIG_LEN, 1u << 20, (512u << 10) + 1, 4096, 70001};

	(void)state;
	for (size_t i = 0; i < BIG_LEN; i++)
		body[i] = big_byte(i);
	rv_sha256(want, body, BIG_LEN);
	assert_int_equal(rv_zstream_writer_new(&w, true, sink_buf, &z), 0);
	assert_int_equal(rv_zstream_write(w, body, BIG_LEN), 0);
	assert_int_equal(rv_zstream_writer_finish(w, NULL, 0), 0);
	rv_zstream_writer_free(w);
	for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
		for (int t = 0; t < 2; t++) {
			memset(got, 0, sizeof(got));
			assert_int_equal(read_big(&z, z.len, t, pieces[k], 0, got), 0);
			assert_memory_equal(got, want, RV_SHA256_LEN);
		}
	}
	for (int t = 0; t < 2; t++) {
		/* Cut in the middle, failing source in the middle. */
		assert_int_equal(read_big(&z, z.len / 2, t, BIG_LEN, 0, got), RV_ECORRUPT);
		assert_int_equal(read_big(&z, z.len, t, 1u << 20, z.len / 3, got), RV_EFAIL);
		assert_non_null(strstr(rv_errmsg(), "injected read failure"));
	}
	/* A flipped byte in the middle of the compressed data. */
	z.data[z.len / 2] ^= 0x20;
	for (int t = 0; t < 2; t++)
		assert_int_equal(read_big(&z, z.len, t, 1u << 20, 0, got), RV_ECORRUPT);
	free(body);
	rv_buf_release(&z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),	   cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_corrupted_byte), cmocka_unit_test(test_trailing_garbage),
	    cmocka_unit_test(test_lines),	   cmocka_unit_test(test_io_errors),
	    cmocka_unit_test(test_short_inputs),   cmocka_unit_test(test_hash_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
