/* test_url.c - store URL parsing and key rules (store.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/store.h"

#include <stdio.h>
#include <string.h>

static void test_file_urls(void **state)
{
	struct rv_store_url u;

	(void)state;
	assert_int_equal(rv_store_url_parse(&u, "file:///srv/store"), 0);
	assert_int_equal(u.kind, RV_STORE_FILE);
	assert_string_equal(u.path, "/srv/store");
	rv_store_url_release(&u);

	assert_int_equal(rv_store_url_parse(&u, "file:///srv/store///"), 0);
	assert_string_equal(u.path, "/srv/store");
	rv_store_url_release(&u);

	assert_int_equal(rv_store_url_parse(&u, "file:///srv/my%20store/%C3%A9"), 0);
	assert_string_equal(u.path, "/srv/my store/\xc3\xa9");
	rv_store_url_release(&u);

	assert_int_equal(rv_store_url_parse(&u, "file:///"), 0);
	assert_string_equal(u.path, "/");
	rv_store_url_release(&u);
}

static void test_s3_urls(void **state)
{
	struct rv_store_url u;

	(void)state;
	assert_int_equal(rv_store_url_parse(&u, "s3://my-bucket"), 0);
	assert_int_equal(u.kind, RV_STORE_S3);
	assert_string_equal(u.bucket, "my-bucket");
	assert_string_equal(u.prefix, "");
	assert_null(u.region);
	assert_null(u.endpoint);
	assert_false(u.path_style);
	rv_store_url_release(&u);

	assert_int_equal(rv_store_url_parse(&u, "s3://b.example/site/a"), 0);
	assert_string_equal(u.bucket, "b.example");
	assert_string_equal(u.prefix, "site/a/");
	rv_store_url_release(&u);

	assert_int_equal(rv_store_url_parse(&u, "s3://bkt/p/"), 0);
	assert_string_equal(u.prefix, "p/");
	rv_store_url_release(&u);

	/* An endpoint alone implies path-style (what local servers need). */
	assert_int_equal(
	    rv_store_url_parse(&u, "s3://bkt/p?endpoint=http://127.0.0.1:9000/&region=eu-west-1"),
	    0);
	assert_string_equal(u.endpoint, "http://127.0.0.1:9000");
	assert_string_equal(u.region, "eu-west-1");
	assert_string_equal(u.prefix, "p/");
	rv_store_url_release(&u);

	assert_int_equal(rv_store_url_parse(&u, "s3://bkt?endpoint=https%3A%2F%2Fs3.example.com&"
						"path_style=false"),
			 0);
	assert_string_equal(u.endpoint, "https://s3.example.com");
	assert_false(u.path_style);
	rv_store_url_release(&u);

	assert_int_equal(rv_store_url_parse(&u, "s3://bkt?path_style=true"), 0);
	assert_true(u.path_style);
	assert_null(u.endpoint);
	rv_store_url_release(&u);
}

struct bad {
	const char *url;
	const char *says; /* a fragment the message must contain */
};

static void test_bad_urls(void **state)
{
	static const struct bad bad[] = {
	    {"", "empty store URL"},
	    {"/srv/store", "needs a scheme"},
	    {"http://example.com/x", "unsupported store URL"},
	    {"gs://bucket", "unsupported store URL"},
	    {"file://srv/store", "three slashes"},
	    {"file:///srv/../etc", "'.' or '..'"},
	    {"file:///srv/./x", "'.' or '..'"},
	    {"file:///srv/store?x=1", "takes no options"},
	    {"file:///srv/%zz", "%-escape"},
	    {"file:///srv/%00x", "%-escape"},
	    {"s3://", "not a valid bucket name"},
	    {"s3://ab", "not a valid bucket name"},
	    {"s3://My-Bucket", "not a valid bucket name"},
	    {"s3://-bucket", "not a valid bucket name"},
	    {"s3://bucket-", "not a valid bucket name"},
	    {"s3://bu_cket", "not a valid bucket name"},
	    {"s3://bucket?endpoint=ftp://x", "must start with http"},
	    {"s3://bucket?endpoint=", "must start with http"},
	    {"s3://bucket?region=", "empty region"},
	    {"s3://bucket?region", "empty region"},
	    {"s3://bucket?path_style", "true or false"},
	    {"s3://bucket?path_style=maybe", "true or false"},
	    {"s3://bucket?colour=blue", "unknown option 'colour'"},
	    {"s3://bucket?region=%zz", "%-escape"},
	    {"s3://bucket/a//b", "empty path segment"},
	    {"s3://bucket/a%2", "%-escape"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct rv_store_url u;
		int rc = rv_store_url_parse(&u, bad[i].url);
		if (rc != RV_EUSAGE || !strstr(rv_errmsg(), bad[i].says)) {
			fprintf(stderr, "url '%s': rc %d, message '%s', wanted '%s'\n", bad[i].url,
				rc, rv_errmsg(), bad[i].says);
			fail();
		}
		/* A failed parse leaves nothing to free. */
		assert_null(u.path);
		assert_null(u.bucket);
		assert_null(u.prefix);
	}
	{
		struct rv_store_url u;
		assert_int_equal(rv_store_url_parse(&u, NULL), RV_EUSAGE);
	}
}

static void test_keys(void **state)
{
	static const char *good[] = {"a",	"a/b/c",  "with space", "caf\xc3\xa9",
				     ".hidden", "a/.b/c", "..x",	"x..",
				     "a/b/",	"%20",	  "a-b_c.d~e"};
	static const struct bad bad[] = {
	    {"", "empty object key"},
	    {"/a", "must not start with '/'"},
	    {"a//b", "empty segment"},
	    {".", "'.' or '..'"},
	    {"..", "'.' or '..'"},
	    {"a/./b", "'.' or '..'"},
	    {"a/../b", "'.' or '..'"},
	    {"a/..", "'.' or '..'"},
	    {"new\nline", "control character"},
	    {"tab\there", "control character"},
	    {"del\x7f", "control character"},
	};
	char longkey[1000];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		if (rv_store_key_check(good[i])) {
			fprintf(stderr, "key '%s' refused: %s\n", good[i], rv_errmsg());
			fail();
		}
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int rc = rv_store_key_check(bad[i].url);
		if (rc != RV_EUSAGE || !strstr(rv_errmsg(), bad[i].says)) {
			fprintf(stderr, "key #%zu: rc %d, message '%s', wanted '%s'\n", i, rc,
				rv_errmsg(), bad[i].says);
			fail();
		}
	}
	memset(longkey, 'k', sizeof(longkey));
	longkey[900] = '\0';
	assert_int_equal(rv_store_key_check(longkey), 0);
	longkey[900] = 'k';
	longkey[901] = '\0';
	assert_int_equal(rv_store_key_check(longkey), RV_EUSAGE);
	assert_non_null(strstr(rv_errmsg(), "longer than 900"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_file_urls),
	    cmocka_unit_test(test_s3_urls),
	    cmocka_unit_test(test_bad_urls),
	    cmocka_unit_test(test_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
