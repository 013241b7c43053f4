/* Shared helpers of core/util: rv_parse_iso8601_ms (the one RFC 3339 parser
 * behind STS and container credential expiry, S3 <LastModified> and
 * `restore --at`) and rv_hexval (SigV4 and content path unescaping). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/util.h"

static void test_iso8601_valid(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(rv_parse_iso8601_ms("1970-01-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(rv_parse_iso8601_ms("2026-11-26T09:00:00Z", &ms), 0);
	assert_int_equal(ms, 1795683600000LL);
	/* Lower-case separators, as RFC 3339 section 5.6 allows. */
	assert_int_equal(rv_parse_iso8601_ms("2026-11-26t09:00:00z", &ms), 0);
	assert_int_equal(ms, 1795683600000LL);
	/* S3 <LastModified> keeps its milliseconds. */
	assert_int_equal(rv_parse_iso8601_ms("2009-10-12T17:50:30.123Z", &ms), 0);
	assert_int_equal(ms, 1255369830123LL);
	/* Fractions shorter or longer than milliseconds. */
	assert_int_equal(rv_parse_iso8601_ms("2009-10-12T17:50:30.5Z", &ms), 0);
	assert_int_equal(ms, 1255369830500LL);
	assert_int_equal(rv_parse_iso8601_ms("2026-01-02T04:04:05.678123+01:00", &ms), 0);
	assert_int_equal(ms, 1767323045678LL);
	assert_int_equal(rv_parse_iso8601_ms("2026-11-26T10:30:00+01:30", &ms), 0);
	assert_int_equal(ms, 1795683600000LL);
	assert_int_equal(rv_parse_iso8601_ms("2026-11-26T07:30:00-01:30", &ms), 0);
	assert_int_equal(ms, 1795683600000LL);
	assert_int_equal(rv_parse_iso8601_ms("2009-10-12T17:50:30+00:00", &ms), 0);
	assert_int_equal(ms, 1255369830000LL);
	assert_int_equal(rv_parse_iso8601_ms("2024-02-29T23:59:59Z", &ms), 0);
	assert_int_equal(ms, 1709251199000LL);
	/* A leap second lands on the next minute. */
	assert_int_equal(rv_parse_iso8601_ms("2016-12-31T23:59:60Z", &ms), 0);
	assert_int_equal(ms, 1483228800000LL);
}

static void test_iso8601_invalid(void **state)
{
	static const char *const bad[] = {
	    "2026-11-26 09:00:00Z",
	    "2026-11-26T09:00:00",
	    "2026-13-26T09:00:00Z",
	    "2026-00-26T09:00:00Z",
	    "2026-11-00T09:00:00Z",
	    "2026-11-32T09:00:00Z",
	    "2026-11-26T24:00:00Z",
	    "2026-11-26T09:60:00Z",
	    "2026-11-26T09:00:61Z",
	    "2026-11-26T09:00:00Zjunk",
	    "2026-11-26T09:00:00.Z",
	    "2026-11-26T09:00:00+0100",
	    "2026-11-26T09:00:00+24:00",
	    "2026-11-26T09:00:00+01:60",
	    "2026-11-26T09:00:00+01:00x",
	    "2026-1-26T09:00:00Z",
	    "2026-11-26T9:00:00Z",
	    "-026-11-26T09:00:00Z",
	    "",
	    "1767323045",
	};
	int64_t ms = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (rv_parse_iso8601_ms(bad[i], &ms) != RV_ECORRUPT)
			fail_msg("accepted '%s'", bad[i]);
	}
	assert_int_equal(rv_parse_iso8601_ms(NULL, &ms), RV_ECORRUPT);
	assert_int_equal(ms, 42);
}

static void test_hexval(void **state)
{
	static const char digits[] = "0123456789abcdef";

	(void)state;
	for (int i = 0; i < 16; i++) {
		assert_int_equal(rv_hexval(digits[i]), i);
		if (i >= 10)
			assert_int_equal(rv_hexval((char)(digits[i] - 'a' + 'A')), i);
	}
	assert_int_equal(rv_hexval('g'), -1);
	assert_int_equal(rv_hexval('G'), -1);
	assert_int_equal(rv_hexval('/'), -1);
	assert_int_equal(rv_hexval(':'), -1);
	assert_int_equal(rv_hexval('@'), -1);
	assert_int_equal(rv_hexval('`'), -1);
	assert_int_equal(rv_hexval('\0'), -1);
	assert_int_equal(rv_hexval((char)0xc3), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_iso8601_valid),
	    cmocka_unit_test(test_iso8601_invalid),
	    cmocka_unit_test(test_hexval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
