/* test_sigv4.c - the AWS SigV4 signing test suite (tests/vectors/aws-sigv4,
 * from awslabs/aws-c-auth) run case by case, plus the signer's own rules. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "aws/sigv4.h"
#include "core/mem.h"
#include "core/util.h"

#define MAX_HDRS 32

struct parsed_req {
	char *method;
	char *path;
	char *query;
	struct rv_header hdrs[MAX_HDRS];
	char *names[MAX_HDRS];
	char *values[MAX_HDRS];
	size_t nhdrs;
	const char *body;
	size_t body_len;
};

static void parsed_release(struct parsed_req *r)
{
	free(r->method);
	free(r->path);
	free(r->query);
	for (size_t i = 0; i < r->nhdrs; i++) {
		free(r->names[i]);
		free(r->values[i]);
	}
}

static size_t line_len(const char *s, const char *end)
{
	const char *nl = memchr(s, '\n', (size_t)(end - s));

	return nl ? (size_t)(nl - s) : (size_t)(end - s);
}

static char *dup_trim(const char *s, size_t n)
{
	while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	return rv_strndup(s, n);
}

/* request.txt: "METHOD target HTTP/1.1", header lines (a line starting with
 * a blank continues the previous value), an empty line, the body.  The
 * target may contain spaces (get-space-*), so the version is cut from the
 * right. */
static int parse_request(struct parsed_req *r, const char *txt, size_t len)
{
	const char *end = txt + len, *s = txt;
	size_t n = line_len(s, end);
	char *line = dup_trim(s, n), *sp1 = strchr(line, ' '), *sp2 = strrchr(line, ' '), *q;

	memset(r, 0, sizeof(*r));
	if (!sp1 || sp1 == sp2) {
		free(line);
		return -1;
	}
	r->method = rv_strndup(line, (size_t)(sp1 - line));
	*sp2 = '\0';
	q = strchr(sp1 + 1, '?');
	if (q) {
		r->query = rv_strdup(q + 1);
		*q = '\0';
	}
	r->path = rv_strdup(sp1 + 1);
	free(line);
	s += n + (s + n < end);
	while (s < end) {
		n = line_len(s, end);
		if (n == 0 || (n == 1 && s[0] == '\r')) {
			s += n + 1;
			break;
		}
		if ((s[0] == ' ' || s[0] == '\t') && r->nhdrs) {
			char *cont = dup_trim(s, n), *prev = r->values[r->nhdrs - 1];
			r->values[r->nhdrs - 1] = rv_asprintf("%s %s", prev, cont);
			free(prev);
			free(cont);
		} else {
			const char *colon = memchr(s, ':', n);
			if (!colon || r->nhdrs == MAX_HDRS)
				return -1;
			r->names[r->nhdrs] = rv_strndup(s, (size_t)(colon - s));
			r->values[r->nhdrs] = dup_trim(colon + 1, n - (size_t)(colon + 1 - s));
			r->nhdrs++;
		}
		s += n + 1;
	}
	for (size_t i = 0; i < r->nhdrs; i++) {
		r->hdrs[i].name = r->names[i];
		r->hdrs[i].value = r->values[i];
	}
	r->body = s < end ? s : NULL;
	r->body_len = s < end ? (size_t)(end - s) : 0;
	return 0;
}

static char *read_text(const char *dir, const char *name)
{
	char *path = rv_asprintf("%s/%s", dir, name), *txt = NULL;
	size_t len = 0;
	int rc = rv_read_file(path, 1 << 20, &txt, &len);

	free(path);
	return rc ? NULL : txt;
}

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* The value of header `name` in a signed-request.txt, or NULL. */
static char *signed_header(const char *txt, const char *name)
{
	size_t nl = strlen(name);

	for (const char *s = txt; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL) {
		if (!strncasecmp(s, name, nl) && s[nl] == ':')
			return dup_trim(s + nl + 1, strcspn(s + nl + 1, "\n"));
		if (*s == '\n' || (*s == '\r' && s[1] == '\n'))
			break;
	}
	return NULL;
}

static int expect_eq(const char *cs, const char *what, const char *want, const char *got)
{
	if (want && got && !strcmp(want, got))
		return 0;
	fprintf(stderr, "FAIL %s: %s differs\n--- expected\n%s\n--- got\n%s\n", cs, what,
		want ? want : "(missing)", got ? got : "(null)");
	return 1;
}

static bool json_flag(json_t *ctx, const char *k)
{
	return json_is_true(json_object_get(ctx, k));
}

/* Runs one case folder; returns the number of mismatches (0 = pass). */
static int run_case(const char *dir, const char *cs)
{
	char *req_txt = read_text(dir, "request.txt"), *ctx_txt = read_text(dir, "context.json");
	char *want_cr = read_text(dir, "header-canonical-request.txt");
	char *want_sts = read_text(dir, "header-string-to-sign.txt");
	char *want_sig = read_text(dir, "header-signature.txt");
	char *want_signed = read_text(dir, "header-signed-request.txt");
	char *want_auth = NULL, *want_date = NULL, *want_tok = NULL;
	struct parsed_req r;
	struct rv_sigv4_out out;
	struct rv_sigv4_req req = {0};
	struct rv_sigv4_params p = {0};
	struct rv_aws_key key = {0};
	json_error_t jerr;
	json_t *ctx = NULL, *creds;
	struct tm tm = {0};
	const char *ts;
	int fails = 0, rc;

	assert_non_null(req_txt);
	assert_non_null(ctx_txt);
	assert_non_null(want_cr);
	assert_non_null(want_sts);
	assert_non_null(want_sig);
	assert_non_null(want_signed);
	chomp(want_cr);
	chomp(want_sts);
	chomp(want_sig);
	want_auth = signed_header(want_signed, "Authorization");
	want_date = signed_header(want_signed, "X-Amz-Date");
	want_tok = signed_header(want_signed, "X-Amz-Security-Token");
	assert_non_null(want_auth);

	ctx = json_loads(ctx_txt, 0, &jerr);
	assert_non_null(ctx);
	creds = json_object_get(ctx, "credentials");
	key.access_key_id = json_string_value(json_object_get(creds, "access_key_id"));
	key.secret_access_key = json_string_value(json_object_get(creds, "secret_access_key"));
	key.session_token = json_string_value(json_object_get(creds, "token"));
	p.region = json_string_value(json_object_get(ctx, "region"));
	p.service = json_string_value(json_object_get(ctx, "service"));
	p.normalize_path = json_flag(ctx, "normalize");
	p.sign_content_sha256 = json_flag(ctx, "sign_body");
	p.omit_session_token = json_flag(ctx, "omit_session_token");
	ts = json_string_value(json_object_get(ctx, "timestamp"));
	assert_non_null(ts);
	assert_non_null(strptime(ts, "%Y-%m-%dT%H:%M:%SZ", &tm));
	p.when = timegm(&tm);

	assert_int_equal(parse_request(&r, req_txt, strlen(req_txt)), 0);
	req.method = r.method;
	req.path = r.path;
	req.query = r.query;
	req.headers = r.hdrs;
	req.nheaders = r.nhdrs;
	req.body = r.body;
	req.body_len = r.body_len;

	rc = rv_sigv4_sign(&out, &req, &p, &key);
	if (rc) {
		fprintf(stderr, "FAIL %s: sign returned %d: %s\n", cs, rc, rv_errmsg());
		fails++;
	} else {
		fails += expect_eq(cs, "canonical request", want_cr, out.canonical_request);
		fails += expect_eq(cs, "string to sign", want_sts, out.string_to_sign);
		fails += expect_eq(cs, "signature", want_sig, out.signature);
		fails += expect_eq(cs, "authorization", want_auth, out.authorization);
		fails += expect_eq(cs, "x-amz-date", want_date, out.amz_date);
		/* The token is always sent; whether it is signed is in the CR. */
		if (want_tok)
			fails += expect_eq(cs, "session token", want_tok, key.session_token);
		if (p.sign_content_sha256) {
			char *want_sha = signed_header(want_signed, "x-amz-content-sha256");
			fails +=
			    expect_eq(cs, "x-amz-content-sha256", want_sha, out.content_sha256);
			free(want_sha);
		}
	}
	rv_sigv4_out_release(&out);
	parsed_release(&r);
	json_decref(ctx);
	free(req_txt);
	free(ctx_txt);
	free(want_cr);
	free(want_sts);
	free(want_sig);
	free(want_signed);
	free(want_auth);
	free(want_date);
	free(want_tok);
	return fails;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_suite(void **state)
{
	const char *tdir = getenv("RV_TESTDIR");
	char *root, *dir, *probe;
	char *names[512];
	size_t nnames = 0, with_header = 0, checked = 0, failed = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;

	(void)state;
	assert_non_null(tdir);
	root = rv_asprintf("%s/vectors/aws-sigv4", tdir);
	d = opendir(root);
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		dir = rv_asprintf("%s/%s", root, de->d_name);
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
			assert_true(nnames < 512);
			names[nnames++] = rv_strdup(de->d_name);
		}
		free(dir);
	}
	closedir(d);
	qsort(names, nnames, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < nnames; i++) {
		dir = rv_asprintf("%s/%s", root, names[i]);
		probe = rv_asprintf("%s/header-canonical-request.txt", dir);
		if (stat(probe, &st) == 0) {
			int f;
			with_header++;
			f = run_case(dir, names[i]);
			checked++;
			failed += f != 0;
		} else {
			fprintf(stderr, "skip %s: query-string (presigned) form only\n", names[i]);
		}
		free(names[i]);
		free(dir);
		free(probe);
	}
	free(root);
	printf("sigv4 suite: %zu case folders, %zu with header form, %zu checked, %zu failed\n",
	       nnames, with_header, checked, failed);
	assert_true(nnames >= 30);
	assert_int_equal(checked, with_header);
	assert_int_equal(failed, 0);
}

static const struct rv_aws_key test_key = {"AKIDEXAMPLE",
					   "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};

static void test_uri_encode(void **state)
{
	struct rv_buf b = RV_BUF_INIT(256);
	const char in[] = "a b/+~%=\xc3\xa9-_.Z9";

	(void)state;
	assert_int_equal(rv_aws_uri_encode(&b, in, strlen(in), true), 0);
	assert_string_equal(rv_buf_str(&b), "a%20b/%2B~%25%3D%C3%A9-_.Z9");
	rv_buf_reset(&b);
	assert_int_equal(rv_aws_uri_encode(&b, in, strlen(in), false), 0);
	assert_string_equal(rv_buf_str(&b), "a%20b%2F%2B~%25%3D%C3%A9-_.Z9");
	rv_buf_release(&b);
}

static void test_s3_path_as_given(void **state)
{
	struct rv_header h[] = {{"Host", "bucket.s3.amazonaws.com"}};
	struct rv_sigv4_req req = {
	    "GET", "/a/../b%20c//d", "prefix=a%2fb&list-type=2&x", h, 1, "UNSIGNED-PAYLOAD", NULL,
	    0};
	struct rv_sigv4_params p = {"eu-west-1", "s3", 1440938160, true, false, false, false};
	struct rv_sigv4_out out;

	(void)state;
	assert_int_equal(rv_sigv4_sign(&out, &req, &p, &test_key), 0);
	assert_string_equal(out.canonical_request,
			    "GET\n/a/../b%20c//d\nlist-type=2&prefix=a%2Fb&x=\n"
			    "host:bucket.s3.amazonaws.com\n"
			    "x-amz-content-sha256:UNSIGNED-PAYLOAD\n"
			    "x-amz-date:20150830T123600Z\n\n"
			    "host;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD");
	assert_string_equal(out.content_sha256, "UNSIGNED-PAYLOAD");
	rv_sigv4_out_release(&out);

	/* The same path for another service is normalised and encoded again. */
	p.s3 = false;
	p.normalize_path = true;
	assert_int_equal(rv_sigv4_sign(&out, &req, &p, &test_key), 0);
	assert_true(rv_str_startswith(out.canonical_request, "GET\n/b%2520c/d\n"));
	assert_null(out.content_sha256);
	rv_sigv4_out_release(&out);
}

static void test_rejects(void **state)
{
	struct rv_header ok[] = {{"Host", "example.amazonaws.com"}};
	struct rv_header crlf[] = {{"Host", "h"}, {"X-A", "v\r\nX-Evil: 1"}};
	struct rv_header nohost[] = {{"X-A", "v"}};
	struct rv_header dated[] = {{"Host", "h"}, {"X-Amz-Date", "20150830T123600Z"}};
	struct rv_header badname[] = {{"Host", "h"}, {"X A", "v"}};
	struct rv_sigv4_req req = {"GET", "/", NULL, ok, 1, NULL, NULL, 0};
	struct rv_sigv4_params p = {"us-east-1", "service", 1440938160, false, true, false, false};
	struct rv_aws_key badkey = {"AKIDEXAMPLE", "", NULL};
	struct rv_sigv4_out out;

	(void)state;
	req.headers = crlf;
	req.nheaders = 2;
	assert_int_equal(rv_sigv4_sign(&out, &req, &p, &test_key), RV_EUSAGE);
	assert_null(strstr(rv_errmsg(), test_key.secret_access_key));
	req.headers = nohost;
	req.nheaders = 1;
	assert_int_equal(rv_sigv4_sign(&out, &req, &p, &test_key), RV_EUSAGE);
	req.headers = dated;
	req.nheaders = 2;
	assert_int_equal(rv_sigv4_sign(&out, &req, &p, &test_key), RV_EUSAGE);
	req.headers = badname;
	assert_int_equal(rv_sigv4_sign(&out, &req, &p, &test_key), RV_EUSAGE);
	req.headers = ok;
	req.nheaders = 1;
	req.path = "no-slash";
	assert_int_equal(rv_sigv4_sign(&out, &req, &p, &test_key), RV_EUSAGE);
	req.path = "/";
	req.method = "GE T";
	assert_int_equal(rv_sigv4_sign(&out, &req, &p, &test_key), RV_EUSAGE);
	req.method = "GET";
	p.region = "us/east";
	assert_int_equal(rv_sigv4_sign(&out, &req, &p, &test_key), RV_EUSAGE);
	p.region = "us-east-1";
	assert_int_equal(rv_sigv4_sign(&out, &req, &p, &badkey), RV_EAUTH);
	assert_int_equal(rv_sigv4_sign(&out, &req, &p, &test_key), 0);
	assert_string_equal(out.signature,
			    "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	rv_sigv4_out_release(&out);
	rv_sigv4_out_release(NULL);
}

static void test_unsigned_headers_and_query(void **state)
{
	struct rv_header h[] = {{"Host", "example.amazonaws.com"},
				{"User-Agent", "revenant/0.1"},
				{"Expect", "100-continue"},
				{"X-B", "  two\t\twords  "}};
	struct rv_sigv4_req req = {"GET", "/", "b=%7e&a=&a=%41%zz&c=x+y", h, 4, NULL, NULL, 0};
	struct rv_sigv4_params p = {"us-east-1", "service", 1440938160, false, true, false, false};
	struct rv_sigv4_out out;

	(void)state;
	assert_int_equal(rv_sigv4_sign(&out, &req, &p, &test_key), 0);
	assert_string_equal(out.canonical_request,
			    "GET\n/\na=&a=A%25zz&b=~&c=x%2By\nhost:example.amazonaws.com\n"
			    "x-amz-date:20150830T123600Z\nx-b:two words\n\n"
			    "host;x-amz-date;x-b\n"
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	rv_sigv4_out_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_suite),
	    cmocka_unit_test(test_uri_encode),
	    cmocka_unit_test(test_s3_path_as_given),
	    cmocka_unit_test(test_rejects),
	    cmocka_unit_test(test_unsigned_headers_and_query),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
