#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ghost/jwt.h"

#define KEY_ID	   "5f1a2b3c4d5e6f7a8b9c0d1e"
#define KEY_SECRET "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

/* Computed independently of this code with Python's standard library:
 *
 *   b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
 *   h = b(json.dumps({"alg":"HS256","typ":"JWT","kid":KEY_ID}, separators=(",",":")).encode())
 *   p = b(json.dumps({"iat":1700000000,"exp":1700000300,"aud":"/admin/"},
 *                    separators=(",",":")).encode())
 *   s = b(hmac.new(bytes.fromhex(KEY_SECRET), (h+"."+p).encode(), hashlib.sha256).digest())
 *   print(h + "." + p + "." + s)
 *
 * (the same recipe as @tryghost/admin-api; a real Ghost accepting our tokens
 * is checked by tests/integration/ghost_purge.sh). */
static const char known_token[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjVmMWEyYjNjNGQ1ZTZmN2E4YjljMGQxZSJ9"
    ".eyJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDMwMCwiYXVkIjoiL2FkbWluLyJ9"
    ".15M_rnInar8YtVU_aO1eeyDbNfWBe_5qZWYPWSbGrCc";

static void test_known_token(void **state)
{
	struct rv_ghost_key key;
	char tok[RV_GHOST_JWT_MAX];

	(void)state;
	assert_int_equal(rv_ghost_key_parse(&key, KEY_ID ":" KEY_SECRET, "test"), 0);
	assert_string_equal(key.id, KEY_ID);
	assert_int_equal(key.secret[0], 0x00);
	assert_int_equal(key.secret[1], 0x11);
	assert_int_equal(key.secret[31], 0xff);
	assert_int_equal(rv_ghost_jwt(tok, &key, 1700000000), 0);
	assert_string_equal(tok, known_token);
	/* A different time is a different token. */
	assert_int_equal(rv_ghost_jwt(tok, &key, 1700000001), 0);
	assert_string_not_equal(tok, known_token);
}

static void test_key_whitespace_and_case(void **state)
{
	struct rv_ghost_key a, b;

	(void)state;
	assert_int_equal(rv_ghost_key_parse(&a, "  " KEY_ID ":" KEY_SECRET "\n", "f"), 0);
	assert_int_equal(rv_ghost_key_parse(&b,
					    KEY_ID ":00112233445566778899AABBCCDDEEFF"
						   "00112233445566778899aabbccddeeff",
					    "f"),
			 0);
	assert_memory_equal(a.secret, b.secret, sizeof(a.secret));
	rv_ghost_key_clear(&a);
	assert_int_equal(a.secret[1], 0);
}

static void test_key_malformed(void **state)
{
	static const char *bad[] = {
	    "",
	    "\n",
	    KEY_ID,
	    KEY_ID ":",
	    KEY_ID KEY_SECRET,	   /* no colon */
	    KEY_ID ";" KEY_SECRET, /* wrong separator */
	    "5f1a2b3c4d5e6f7a8b9c0d1"
	    ":" KEY_SECRET "0",			    /* 23 : 65 */
	    KEY_ID ":" KEY_SECRET "00",		    /* secret too long */
	    KEY_ID ":0011223344556677",		    /* secret too short */
	    "5f1a2b3c4d5e6f7a8b9c0dzz:" KEY_SECRET, /* id not hex */
	    KEY_ID ":g0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	    KEY_ID ":" KEY_SECRET " trailing",
	    "a6e2b1c4d8f00e12345678ab9c", /* a Content API key */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rv_ghost_key k;

		assert_int_equal(rv_ghost_key_parse(&k, bad[i], "key file 'k'"), RV_EUSAGE);
		assert_non_null(strstr(rv_errmsg(), "malformed Admin API key in key file 'k'"));
		/* The message never echoes key material. */
		assert_null(strstr(rv_errmsg(), "00112233"));
		assert_null(strstr(rv_errmsg(), KEY_ID));
	}
}

static void test_b64url(void **state)
{
	/* RFC 4648 section 10 vectors, without padding. */
	static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *out[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < 7; i++) {
		assert_int_equal(rv_ghost_b64url(buf, in[i], strlen(in[i])), strlen(out[i]));
		assert_string_equal(buf, out[i]);
	}
	/* The URL-safe alphabet: 0xfb 0xff -> "-_8". */
	assert_int_equal(rv_ghost_b64url(buf, "\xfb\xff", 2), 3);
	assert_string_equal(buf, "-_8");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_token),
	    cmocka_unit_test(test_key_whitespace_and_case),
	    cmocka_unit_test(test_key_malformed),
	    cmocka_unit_test(test_b64url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
