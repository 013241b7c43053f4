/* test_sealed.c - the encrypted object framing (format/sealed.h): round
 * trips at the chunk boundaries, the size arithmetic both ways, and every
 * kind of tampering — a flipped byte in each chunk, a cut at a chunk
 * boundary and inside one, two chunks swapped, a chunk from another object,
 * the object under another name, another key, a foreign header. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "format/sealed.h"

#define CH RV_SEAL_CHUNK

static const uint64_t sizes[] = {0, 1, CH - 1, CH, CH + 1, 2 * CH, 3 * CH + 5};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static struct rv_seal_key k1, k2;
static struct rv_seal_keyring ring1, ring2, both;

static unsigned char *pattern(uint64_t n)
{
	unsigned char *p = rv_malloc(n ? n : 1);

	for (uint64_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 7 + (i >> 11));
	return p;
}

static int setup(void **state)
{
	unsigned char raw[RV_SEAL_KEY];

	(void)state;
	memset(raw, 0x11, sizeof(raw));
	rv_seal_key_init(&k1, raw);
	memset(raw, 0x22, sizeof(raw));
	rv_seal_key_init(&k2, raw);
	ring1 = (struct rv_seal_keyring){.keys = &k1, .n = 1};
	ring2 = (struct rv_seal_keyring){.keys = &k2, .n = 1};
	both.keys = rv_calloc(2, sizeof(*both.keys));
	both.keys[0] = k2;
	both.keys[1] = k1;
	both.n = 2;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(both.keys);
	return 0;
}

static void seal(const struct rv_seal_key *k, const char *name, const void *p, uint64_t n,
		 struct rv_buf *out)
{
	rv_buf_init(out, SIZE_MAX / 2);
	assert_int_equal(rv_seal_buf(k, name, p, (size_t)n, out), 0);
}

static int open_buf(const struct rv_seal_keyring *kr, const char *name, const struct rv_buf *in,
		    struct rv_buf *out)
{
	rv_buf_init(out, SIZE_MAX / 2);
	return rv_unseal_buf(kr, name, in->data, in->len, out);
}

static void test_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < NSIZES; i++) {
		unsigned char *p = pattern(sizes[i]);
		struct rv_buf c, back;
		uint64_t plain;

		seal(&k1, "generations/g/x", p, sizes[i], &c);
		assert_int_equal(c.len, rv_seal_size(sizes[i]));
		assert_true(rv_seal_plain_size(c.len, &plain));
		assert_int_equal(plain, sizes[i]);
		assert_memory_equal(c.data, "rvenc", 5);
		assert_int_equal(open_buf(&ring1, "generations/g/x", &c, &back), 0);
		assert_int_equal(back.len, sizes[i]);
		if (sizes[i])
			assert_memory_equal(back.data, p, sizes[i]);
		/* the keyring with both keys opens it too */
		rv_buf_release(&back);
		assert_int_equal(open_buf(&both, "generations/g/x", &c, &back), 0);
		assert_int_equal(back.len, sizes[i]);
		/* no plaintext in the sealed bytes (a run of 16 is enough) */
		if (sizes[i] >= 64)
			assert_null(memmem(c.data, c.len, p + 32, 16));
		rv_buf_release(&back);
		rv_buf_release(&c);
		free(p);
	}
}

/* Every sealed size maps back; every size between two valid ones either
 * maps to a plaintext size that seals to it, or is refused. */
static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(rv_seal_chunks(0), 1);
	assert_int_equal(rv_seal_chunks(CH), 1);
	assert_int_equal(rv_seal_chunks(CH + 1), 2);
	for (uint64_t c = 0; c < 3 * RV_SEAL_FRAME + 200; c++) {
		uint64_t plain;

		if (rv_seal_plain_size(c, &plain))
			assert_int_equal(rv_seal_size(plain), c);
		else
			assert_true(c < RV_SEAL_HDR + RV_SEAL_TAG ||
				    (c - RV_SEAL_HDR) % RV_SEAL_FRAME <= RV_SEAL_TAG);
	}
}

static void expect_corrupt(const struct rv_buf *c, const char *name)
{
	struct rv_buf back;

	assert_int_equal(open_buf(&ring1, name, c, &back), RV_ECORRUPT);
	assert_int_equal(back.len, 0); /* nothing from a chunk that failed */
	rv_buf_release(&back);
}

static void test_tampering(void **state)
{
	uint64_t n = 3 * CH + 5;
	unsigned char *p = pattern(n);
	struct rv_buf c, other, t, back;

	(void)state;
	seal(&k1, "obj", p, n, &c);
	seal(&k1, "obj", p, n, &other); /* same bytes, same name: another salt */
	assert_memory_not_equal(c.data + 16, other.data + 16, 32);

	/* a flipped byte in each chunk and in each tag */
	for (uint64_t i = 0; i < 4; i++) {
		size_t at = RV_SEAL_HDR + (size_t)i * RV_SEAL_FRAME + 3;

		rv_buf_init(&t, SIZE_MAX / 2);
		assert_int_equal(rv_buf_add(&t, c.data, c.len), 0);
		t.data[at] ^= 0x40;
		expect_corrupt(&t, "obj");
		t.data[at] ^= 0x40;
		t.data[i < 3 ? at + RV_SEAL_FRAME - 4 : t.len - 1] ^= 1;
		expect_corrupt(&t, "obj");
		rv_buf_release(&t);
	}
	/* the salt and the key id are in the AAD or pick the key */
	rv_buf_init(&t, SIZE_MAX / 2);
	assert_int_equal(rv_buf_add(&t, c.data, c.len), 0);
	t.data[20] ^= 1;
	expect_corrupt(&t, "obj");
	t.data[20] ^= 1;
	t.data[7] ^= 1; /* the minor version is bound too */
	expect_corrupt(&t, "obj");
	rv_buf_release(&t);

	/* cut at a chunk boundary (the new end was not sealed as the last) and
	 * inside a chunk */
	rv_buf_init(&t, SIZE_MAX / 2);
	assert_int_equal(rv_buf_add(&t, c.data, RV_SEAL_HDR + 2 * RV_SEAL_FRAME), 0);
	expect_corrupt(&t, "obj");
	rv_buf_release(&t);
	rv_buf_init(&t, SIZE_MAX / 2);
	assert_int_equal(rv_buf_add(&t, c.data, c.len - 3), 0);
	expect_corrupt(&t, "obj");
	rv_buf_release(&t);

	/* chunks 0 and 1 swapped */
	rv_buf_init(&t, SIZE_MAX / 2);
	assert_int_equal(rv_buf_add(&t, c.data, c.len), 0);
	memcpy(t.data + RV_SEAL_HDR, c.data + RV_SEAL_HDR + RV_SEAL_FRAME, RV_SEAL_FRAME);
	memcpy(t.data + RV_SEAL_HDR + RV_SEAL_FRAME, c.data + RV_SEAL_HDR, RV_SEAL_FRAME);
	expect_corrupt(&t, "obj");
	rv_buf_release(&t);

	/* chunk 1 from another object with the same bytes and name */
	rv_buf_init(&t, SIZE_MAX / 2);
	assert_int_equal(rv_buf_add(&t, c.data, c.len), 0);
	memcpy(t.data + RV_SEAL_HDR + RV_SEAL_FRAME, other.data + RV_SEAL_HDR + RV_SEAL_FRAME,
	       RV_SEAL_FRAME);
	expect_corrupt(&t, "obj");
	rv_buf_release(&t);

	/* the whole object under another name */
	expect_corrupt(&c, "obj2");

	/* another key: RV_EAUTH, naming the id needed */
	assert_int_equal(open_buf(&ring2, "obj", &c, &back), RV_EAUTH);
	{
		char id[RV_SEAL_KEYID_HEX];

		rv_seal_keyid_hex(id, k1.id);
		assert_non_null(strstr(rv_errmsg(), id));
	}
	rv_buf_release(&back);

	/* not sealed at all, and a future major version */
	rv_buf_init(&t, SIZE_MAX / 2);
	assert_int_equal(rv_buf_add(&t, c.data, c.len), 0);
	t.data[0] = 'x';
	expect_corrupt(&t, "obj");
	t.data[0] = 'r';
	t.data[6] = 2;
	assert_int_equal(open_buf(&ring1, "obj", &t, &back), RV_ENOTSUP);
	rv_buf_release(&back);
	rv_buf_release(&t);

	rv_buf_release(&c);
	rv_buf_release(&other);
	free(p);
}

/* Key ids are stable, differ between keys, and say nothing of the key. */
static void test_key_ids(void **state)
{
	struct rv_seal_key again;
	unsigned char raw[RV_SEAL_KEY];
	char a[RV_SEAL_KEYID_HEX], b[RV_SEAL_KEYID_HEX], ids[64];

	(void)state;
	memset(raw, 0x11, sizeof(raw));
	rv_seal_key_init(&again, raw);
	assert_memory_equal(again.id, k1.id, RV_SEAL_KEYID);
	assert_memory_not_equal(k1.id, k2.id, RV_SEAL_KEYID);
	assert_memory_not_equal(k1.id, raw, RV_SEAL_KEYID);
	rv_seal_keyid_hex(a, k1.id);
	rv_seal_keyid_hex(b, k2.id);
	assert_int_equal(strlen(a), 16);
	rv_seal_keyring_ids(&both, ids, sizeof(ids));
	assert_non_null(strstr(ids, a));
	assert_non_null(strstr(ids, b));
	assert_ptr_equal(rv_seal_keyring_find(&both, k1.id), &both.keys[1]);
	assert_null(rv_seal_keyring_find(&ring2, k1.id));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_tampering),
	    cmocka_unit_test(test_key_ids),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
