/* fuzz_sealed.c - the encrypted object framing (format/sealed.h), the
 * first thing a reader of an encrypted store trusts.  The first byte picks
 * a mode:
 *   0: the rest is a stored object, opened with a fixed key under the name
 *      "obj": whatever opens is within its size, and the size arithmetic
 *      agrees with it;
 *   1: the rest is a plaintext, sealed under the fixed key: it must open
 *      again to the same bytes, and with one bit flipped anywhere (the
 *      position from the last two bytes) it must not open at all;
 *   2: the rest is a header: its key id parses or is refused, never more. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "format/sealed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rv_seal_key key;
static struct rv_seal_keyring ring = {.keys = &key, .n = 1};

static void open_case(const uint8_t *p, size_t n)
{
	struct rv_buf out = RV_BUF_INIT(1u << 20);
	uint64_t plain;
	bool valid = rv_seal_plain_size(n, &plain);

	if (valid && rv_seal_size(plain) != n)
		abort();
	if (!rv_unseal_buf(&ring, "obj", p, n, &out) && (!valid || out.len != plain))
		abort();
	rv_buf_release(&out);
}

static void seal_case(const uint8_t *p, size_t n)
{
	struct rv_buf c = RV_BUF_INIT(1u << 21), back = RV_BUF_INIT(1u << 20);
	size_t at;

	if (n < 2)
		return;
	at = ((size_t)p[n - 2] << 8 | p[n - 1]);
	n -= 2;
	if (rv_seal_buf(&key, "obj", p, n, &c) || c.len != rv_seal_size(n))
		abort();
	if (rv_unseal_buf(&ring, "obj", c.data, c.len, &back) || back.len != n ||
	    (n && memcmp(back.data, p, n)))
		abort();
	rv_buf_release(&back);
	at %= c.len;
	c.data[at] ^= (char)(1u << (at % 8));
	if (!rv_unseal_buf(&ring, "obj", c.data, c.len, &back))
		abort(); /* a flipped bit went unnoticed */
	rv_buf_release(&back);
	rv_buf_release(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char raw[RV_SEAL_KEY] = {
	    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11};
	unsigned char hdr[RV_SEAL_HDR], id[RV_SEAL_KEYID];

	if (!size)
		return 0;
	rv_seal_key_init(&key, raw);
	switch (data[0] % 3) {
	case 0:
		open_case(data + 1, size - 1);
		break;
	case 1:
		if (size - 1 <= (1u << 18))
			seal_case(data + 1, size - 1);
		break;
	default:
		memset(hdr, 0, sizeof(hdr));
		memcpy(hdr, data + 1, size - 1 < sizeof(hdr) ? size - 1 : sizeof(hdr));
		if (!rv_seal_header_id(hdr, "obj", id) && memcmp(id, hdr + 8, sizeof(id)))
			abort();
		break;
	}
	return 0;
}
