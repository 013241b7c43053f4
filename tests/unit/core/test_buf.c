#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/util.h"

static void test_cap_enforced(void **state)
{
	struct rv_buf b = RV_BUF_INIT(8);

	(void)state;
	assert_int_equal(rv_buf_addstr(&b, "1234"), 0);
	assert_int_equal(rv_buf_addf(&b, "%d", 5678), 0);
	assert_string_equal(rv_buf_str(&b), "12345678");
	assert_int_equal(rv_buf_add(&b, "9", 1), RV_ECORRUPT);
	assert_int_equal(b.len, 8);
	rv_buf_release(&b);
}

/* rv_buf_room: room for a bound, of which rv_buf_grew keeps what was
 * written; the cap applies to the bound; the contents stay a C string. */
static void test_room(void **state)
{
	struct rv_buf b = RV_BUF_INIT(10);
	char *at;

	(void)state;
	assert_int_equal(rv_buf_addstr(&b, "ab"), 0);
	assert_int_equal(rv_buf_room(&b, 8, &at), 0);
	at[0] = 'c';
	at[1] = 'd';
	rv_buf_grew(&b, 2);
	assert_string_equal(rv_buf_str(&b), "abcd");
	assert_int_equal(b.len, 4);
	/* 4 + 7 > 10: refused although 2 of the 7 would have been used */
	assert_int_equal(rv_buf_room(&b, 7, &at), RV_ECORRUPT);
	assert_null(at);
	assert_string_equal(rv_buf_str(&b), "abcd");
	assert_int_equal(rv_buf_room(&b, 6, &at), 0);
	rv_buf_grew(&b, 0);
	assert_string_equal(rv_buf_str(&b), "abcd");
	rv_buf_release(&b);
}

static void test_sizes_and_durations(void **state)
{
	uint64_t v;
	int64_t ms;

	(void)state;
	assert_int_equal(rv_parse_size("8MiB", &v), 0);
	assert_int_equal(v, 8u << 20);
	assert_int_equal(rv_parse_size("512k", &v), 0);
	assert_int_equal(v, 512u << 10);
	assert_int_equal(rv_parse_size("12", &v), 0);
	assert_int_equal(v, 12);
	assert_int_not_equal(rv_parse_size("-1", &v), 0);
	assert_int_not_equal(rv_parse_size("1X", &v), 0);
	assert_int_not_equal(rv_parse_size("99999999999999999999", &v), 0);
	assert_int_not_equal(rv_parse_size("99999999999G", &v), 0);
	assert_int_equal(rv_parse_duration_ms("500ms", &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(rv_parse_duration_ms("72h", &ms), 0);
	assert_int_equal(ms, 72LL * 3600 * 1000);
	/* A bare number has no unit: refused, not read as seconds. */
	assert_int_not_equal(rv_parse_duration_ms("3", &ms), 0);
	assert_int_not_equal(rv_parse_duration_ms("72", &ms), 0);
	assert_int_equal(rv_parse_duration_ms("3s", &ms), 0);
	assert_int_equal(ms, 3000);
	assert_int_not_equal(rv_parse_duration_ms("s", &ms), 0);
	assert_int_not_equal(rv_parse_duration_ms("1w", &ms), 0);
}

static void test_hex(void **state)
{
	unsigned char raw[3] = {0x00, 0xab, 0xff}, back[3];
	char hex[7], sha[RV_SHA256_HEX];

	(void)state;
	rv_hex(hex, raw, 3);
	assert_string_equal(hex, "00abff");
	assert_int_equal(rv_unhex(back, 3, "00ABff"), 0);
	assert_memory_equal(raw, back, 3);
	assert_int_not_equal(rv_unhex(back, 3, "00abf"), 0);
	assert_int_not_equal(rv_unhex(back, 3, "00abfg"), 0);
	rv_sha256_hex(sha, "", 0);
	assert_string_equal(sha,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cap_enforced),
	    cmocka_unit_test(test_room),
	    cmocka_unit_test(test_sizes_and_durations),
	    cmocka_unit_test(test_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
