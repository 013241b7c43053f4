/* test_sigv4_botocore.c - revenant's signer against botocore's.
 *
 * tests/tools/botocore_sign.py (run by CTest as a fixture, under Debian's
 * /usr/bin/python3 with python3-botocore) signs S3, STS and Route 53
 * requests with a fixed clock and writes them to $RV_BOTOCORE_CASES; every
 * one must come out identical here.  A missing file is a failure, not a
 * skip: the generator is part of the test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aws/sigv4.h"
#include "core/mem.h"
#include "core/util.h"

#define MIN_CASES 20

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int same(const char *cs, const char *what, const char *want, const char *got)
{
	if ((!want && !got) || (want && got && !strcmp(want, got)))
		return 0;
	fprintf(stderr, "FAIL %s: %s differs\n--- botocore\n%s\n--- revenant\n%s\n", cs, what,
		want ? want : "(none)", got ? got : "(none)");
	return 1;
}

static int run_case(json_t *c)
{
	const char *name = jstr(c, "name"), *bhex = jstr(c, "body_hex");
	json_t *hj = json_object_get(c, "headers"), *exp = json_object_get(c, "expected");
	size_t nh = json_array_size(hj), blen = bhex ? strlen(bhex) / 2 : 0;
	struct rv_header *hs = rv_calloc(nh ? nh : 1, sizeof(*hs));
	unsigned char *body = rv_malloc(blen ? blen : 1);
	struct rv_sigv4_req req = {0};
	struct rv_sigv4_params p = {0};
	struct rv_aws_key key = {0};
	struct rv_sigv4_out out;
	int fails = 0, rc;

	assert_non_null(name);
	assert_non_null(exp);
	for (size_t i = 0; i < nh; i++) {
		json_t *pair = json_array_get(hj, i);
		hs[i].name = json_string_value(json_array_get(pair, 0));
		hs[i].value = json_string_value(json_array_get(pair, 1));
		assert_non_null(hs[i].name);
		assert_non_null(hs[i].value);
	}
	if (blen)
		assert_int_equal(rv_unhex(body, blen, bhex), 0);
	req.method = jstr(c, "method");
	req.path = jstr(c, "path");
	req.query = jstr(c, "query");
	req.headers = hs;
	req.nheaders = nh;
	req.payload_hash = jstr(c, "payload_hash");
	req.body = blen ? body : NULL;
	req.body_len = blen;
	p.region = jstr(c, "region");
	p.service = jstr(c, "service");
	p.when = (time_t)json_integer_value(json_object_get(c, "when"));
	p.s3 = json_is_true(json_object_get(c, "s3"));
	p.normalize_path = !p.s3;
	key.access_key_id = jstr(c, "access_key_id");
	key.secret_access_key = jstr(c, "secret_access_key");
	key.session_token = jstr(c, "session_token");

	rc = rv_sigv4_sign(&out, &req, &p, &key);
	if (rc) {
		fprintf(stderr, "FAIL %s: sign returned %d: %s\n", name, rc, rv_errmsg());
		fails++;
	} else {
		fails += same(name, "canonical request", jstr(exp, "canonical_request"),
			      out.canonical_request);
		fails +=
		    same(name, "string to sign", jstr(exp, "string_to_sign"), out.string_to_sign);
		fails += same(name, "authorization", jstr(exp, "authorization"), out.authorization);
		fails += same(name, "x-amz-date", jstr(exp, "amz_date"), out.amz_date);
		fails += same(name, "x-amz-content-sha256", jstr(exp, "content_sha256"),
			      out.content_sha256);
		/* botocore sends the token it signed; so must the caller. */
		fails +=
		    same(name, "security token", jstr(exp, "security_token"), key.session_token);
	}
	rv_sigv4_out_release(&out);
	free(hs);
	free(body);
	return fails;
}

static void test_botocore(void **state)
{
	const char *path = getenv("RV_BOTOCORE_CASES");
	json_error_t jerr;
	json_t *root, *cases;
	size_t n, failed = 0, s3 = 0, other = 0;

	(void)state;
	if (!path)
		fail_msg("RV_BOTOCORE_CASES is not set (run through ctest: the generator "
			 "tools/botocore_sign_gen writes it)");
	root = json_load_file(path, 0, &jerr);
	if (!root)
		fail_msg("cannot read botocore cases '%s': %s", path, jerr.text);
	cases = json_object_get(root, "cases");
	n = json_array_size(cases);
	for (size_t i = 0; i < n; i++) {
		json_t *c = json_array_get(cases, i);
		failed += run_case(c) != 0;
		if (json_is_true(json_object_get(c, "s3")))
			s3++;
		else
			other++;
	}
	printf("botocore %s cross-check: %zu requests (%zu s3, %zu sts/route53/other), "
	       "%zu failed\n",
	       jstr(root, "botocore_version"), n, s3, other, failed);
	json_decref(root);
	assert_true(n >= MIN_CASES);
	assert_true(s3 > 0 && other > 0);
	assert_int_equal(failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_botocore),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
