/* Credentials chain without a network: INI dialect, ISO 8601, the answer
 * parsers, source precedence and that secrets never reach a message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include "aws/creds.h"
#include "aws/creds_src.h"
#include "aws/ini.h"
#include "aws/sts.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static void write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	if (rv_test_aws_sandbox(tmpdir, sizeof(tmpdir), "/tmp/rv-creds-XXXXXX"))
		return -1;
	rv_error_clear();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return rv_test_rm_rf(tmpdir) ? -1 : 0;
}

/* ---- INI ---------------------------------------------------------------- */

static void test_ini_profiles(void **state)
{
	static const char text[] = "# leading comment\n"
				   "; another\n"
				   "[default]\n"
				   "aws_access_key_id = AKIDDEFAULT\n"
				   "  aws_secret_access_key=secret/with+chars=  \r\n"
				   "\n"
				   "[profile   dev ]  # trailing comment\n"
				   "region = eu-west-1 ; inline comment\n"
				   "AWS_Access_Key_Id = AKIDDEV\n"
				   "s3 =\n"
				   "    addressing_style = path\n"
				   "    max_concurrent_requests = 4\n"
				   "empty =\n"
				   "hash = a#b\n";
	struct rv_ini *ini;

	(void)state;
	assert_int_equal(rv_ini_parse(&ini, text, sizeof(text) - 1, "t"), 0);
	assert_string_equal(rv_ini_get(ini, "default", "aws_access_key_id"), "AKIDDEFAULT");
	assert_string_equal(rv_ini_get(ini, "default", "aws_secret_access_key"),
			    "secret/with+chars=");
	assert_string_equal(rv_ini_get(ini, "profile dev", "region"), "eu-west-1");
	assert_string_equal(rv_ini_get(ini, "profile dev", "aws_access_key_id"), "AKIDDEV");
	/* sub-properties are not top-level keys */
	assert_null(rv_ini_get(ini, "profile dev", "addressing_style"));
	assert_string_equal(rv_ini_get(ini, "profile dev", "s3"), "");
	assert_string_equal(rv_ini_get(ini, "profile dev", "hash"), "a#b");
	assert_null(rv_ini_get(ini, "profile dev", "aws_secret_access_key"));
	assert_null(rv_ini_get(ini, "dev", "region"));
	assert_true(rv_ini_has_section(ini, "profile dev"));
	assert_false(rv_ini_has_section(ini, "nope"));
	rv_ini_free(ini);
}

static void test_ini_errors(void **state)
{
	struct rv_ini *ini = (void *)1;
	char *big;

	(void)state;
	assert_int_equal(rv_ini_parse(&ini, "key = v\n", 8, "f"), RV_ECORRUPT);
	assert_null(ini);
	assert_non_null(strstr(rv_errmsg(), "line 1 of 'f'"));
	assert_int_equal(rv_ini_parse(&ini, "[a]\nno equals\n", 14, "f"), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "line 2"));
	assert_int_equal(rv_ini_parse(&ini, "[a\n", 3, "f"), RV_ECORRUPT);
	assert_int_equal(rv_ini_parse(&ini, "[a] junk\n", 9, "f"), RV_ECORRUPT);
	assert_int_equal(rv_ini_parse(&ini, "[a]\n = v\n", 9, "f"), RV_ECORRUPT);
	assert_int_equal(rv_ini_parse(&ini, "[a]\nk=\0v\n", 8, "f"), RV_ECORRUPT);

	/* A huge line is refused, not buffered. */
	big = rv_malloc(RV_INI_MAX_LINE + 64);
	memcpy(big, "[a]\nk=", 6);
	memset(big + 6, 'x', RV_INI_MAX_LINE + 10);
	big[RV_INI_MAX_LINE + 16] = '\n';
	assert_int_equal(rv_ini_parse(&ini, big, RV_INI_MAX_LINE + 17, "f"), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "longer than"));
	/* ... and a line just under the cap is fine. */
	memset(big + 6, 'x', RV_INI_MAX_LINE - 10);
	big[RV_INI_MAX_LINE - 4] = '\n';
	assert_int_equal(rv_ini_parse(&ini, big, RV_INI_MAX_LINE - 3, "f"), 0);
	rv_ini_free(ini);
	free(big);
	assert_int_equal(rv_ini_load(&ini, "/nonexistent/rv/credentials"), RV_ENOTFOUND);
}

/* ---- answer parsers ------------------------------------------------------ */

static const char sts_ok[] =
    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
    "<AssumeRoleWithWebIdentityResult><Credentials>"
    "<SessionToken>SESSTOK</SessionToken><SecretAccessKey>SECRETKEY</SecretAccessKey>"
    "<Expiration>2026-11-26T09:00:00Z</Expiration><AccessKeyId>ASIAX</AccessKeyId>"
    "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";

static void test_sts_parse(void **state)
{
	const char *arn = "arn:aws:iam::1:role/r";
	struct rv_aws_creds c;
	char body[1024];
	int retry;

	(void)state;
	assert_int_equal(rv_sts_parse_answer(200, sts_ok, strlen(sts_ok), arn, "TOK", &c, &retry),
			 0);
	assert_string_equal(c.access_key_id, "ASIAX");
	assert_string_equal(c.secret_access_key, "SECRETKEY");
	assert_string_equal(c.session_token, "SESSTOK");
	assert_int_equal(c.expires_ms, 1795683600000LL);
	assert_string_equal(c.source, "web-identity");
	rv_aws_creds_release(&c);

#define STS_ERR(code)                                                                              \
	"<ErrorResponse><Error><Type>Sender</Type><Code>" code "</Code><Message>nope TOK-SECRET"   \
	"</Message></Error><RequestId>1</RequestId></ErrorResponse>"
	snprintf(body, sizeof(body), STS_ERR("InvalidIdentityToken"));
	assert_int_equal(
	    rv_sts_parse_answer(400, body, strlen(body), arn, "TOK-SECRET", &c, &retry), RV_EAUTH);
	assert_false(retry);
	assert_non_null(strstr(rv_errmsg(), arn));
	assert_non_null(strstr(rv_errmsg(), "InvalidIdentityToken"));
	assert_null(strstr(rv_errmsg(), "TOK-SECRET")); /* scrubbed */
	snprintf(body, sizeof(body), STS_ERR("AccessDenied"));
	assert_int_equal(rv_sts_parse_answer(403, body, strlen(body), arn, "X", &c, &retry),
			 RV_EAUTH);
	snprintf(body, sizeof(body), STS_ERR("Throttling"));
	assert_int_equal(rv_sts_parse_answer(400, body, strlen(body), arn, "X", &c, &retry),
			 RV_ENET);
	assert_true(retry);
	assert_int_equal(rv_sts_parse_answer(502, "<html>", 6, arn, "X", &c, &retry), RV_ENET);
	assert_true(retry);
	assert_int_equal(rv_sts_parse_answer(200, "<Assume", 7, arn, "X", &c, &retry), RV_ECORRUPT);
	/* a success document missing the session token */
	snprintf(body, sizeof(body), "%s", sts_ok);
	memcpy(strstr(body, "<SessionToken>"), "<SessionTokem>", 14);
	memcpy(strstr(body, "</SessionToken>"), "</SessionTokem>", 15);
	assert_int_equal(rv_sts_parse_answer(200, body, strlen(body), arn, "X", &c, &retry),
			 RV_ECORRUPT);
	assert_null(c.access_key_id);
}

static void test_json_parse(void **state)
{
	static const char ok[] =
	    "{\"AccessKeyId\":\"ASIAJ\",\"SecretAccessKey\":\"S\",\"Token\":"
	    "\"T\",\"Expiration\":\"2026-11-26T09:00:00Z\",\"Code\":\"Success\"}";
	static const char fail[] = "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"m\"}";
	struct rv_aws_creds c;

	(void)state;
	assert_int_equal(rv_creds_from_json(&c, ok, strlen(ok), "imds", "ec2 imds"), 0);
	assert_string_equal(c.access_key_id, "ASIAJ");
	assert_string_equal(c.session_token, "T");
	assert_int_equal(c.expires_ms, 1795683600000LL);
	rv_aws_creds_release(&c);
	assert_int_equal(rv_creds_from_json(&c, fail, strlen(fail), "imds", "ec2 imds"), RV_EAUTH);
	assert_non_null(strstr(rv_errmsg(), "AssumeRoleUnauthorizedAccess"));
	assert_int_equal(rv_creds_from_json(&c, "{\"Acc", 5, "imds", "ec2 imds"), RV_ECORRUPT);
	assert_int_equal(rv_creds_from_json(&c, "[]", 2, "imds", "ec2 imds"), RV_ECORRUPT);
	assert_int_equal(rv_creds_from_json(&c, "{\"AccessKeyId\":\"A\"}", 19, "c", "c"),
			 RV_ECORRUPT);
}

static void test_sts_endpoint(void **state)
{
	struct rv_sts_web_identity wi = {.role_arn = "r", .token_file = "t"};
	char *u;

	(void)state;
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_STS");
	u = rv_sts_endpoint(&wi);
	assert_string_equal(u, "https://sts.us-east-1.amazonaws.com/");
	free(u);
	wi.region = "eu-west-1";
	u = rv_sts_endpoint(&wi);
	assert_string_equal(u, "https://sts.eu-west-1.amazonaws.com/");
	free(u);
	wi.region = "cn-north-1";
	u = rv_sts_endpoint(&wi);
	assert_string_equal(u, "https://sts.cn-north-1.amazonaws.com.cn/");
	free(u);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9", 1);
	u = rv_sts_endpoint(&wi);
	assert_string_equal(u, "http://127.0.0.1:9/");
	free(u);
	setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:10/sts/", 1);
	u = rv_sts_endpoint(&wi);
	assert_string_equal(u, "http://127.0.0.1:10/sts/");
	free(u);
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_STS");
}

static void test_container_uri_rule(void **state)
{
	(void)state;
	assert_true(rv_creds_container_uri_allowed("http://127.0.0.1:8080/creds"));
	assert_true(rv_creds_container_uri_allowed("http://127.5.0.1/creds"));
	assert_true(rv_creds_container_uri_allowed("http://localhost/creds"));
	assert_true(rv_creds_container_uri_allowed("http://[::1]:80/creds"));
	assert_true(rv_creds_container_uri_allowed("http://169.254.170.2/v2/credentials/x"));
	assert_true(rv_creds_container_uri_allowed("http://169.254.170.23/v1/credentials"));
	assert_true(rv_creds_container_uri_allowed("http://[fd00:ec2::23]/v1/credentials"));
	assert_true(rv_creds_container_uri_allowed("https://creds.example.com/x"));
	assert_false(rv_creds_container_uri_allowed("http://creds.example.com/x"));
	assert_false(rv_creds_container_uri_allowed("http://169.254.169.254/x"));
	assert_false(rv_creds_container_uri_allowed("http://128.0.0.1/x"));
	assert_false(rv_creds_container_uri_allowed("ftp://127.0.0.1/x"));
	assert_false(rv_creds_container_uri_allowed("not a url"));
}

/* ---- precedence -------------------------------------------------------- */

static void test_precedence(void **state)
{
	struct rv_creds_config stat = {.access_key_id = "AKIDSTATIC",
				       .secret_access_key = "SSTATIC"};
	struct rv_aws_creds c;
	char path[512];

	(void)state;
	/* nothing anywhere: one line naming every source */
	assert_int_equal(rv_test_creds_get(NULL, &c), RV_EAUTH);
	assert_non_null(strstr(rv_errmsg(), "no AWS credentials found"));
	assert_non_null(strstr(rv_errmsg(), "AWS_ROLE_ARN"));
	assert_non_null(strstr(rv_errmsg(), "AWS_CONTAINER_CREDENTIALS"));
	assert_non_null(strstr(rv_errmsg(), "imds (disabled)"));
	assert_null(strchr(rv_errmsg(), '\n'));

	snprintf(path, sizeof(path), "%s/.aws", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	write_file(".aws/credentials", "[default]\naws_access_key_id=AKIDFILE\n"
				       "aws_secret_access_key=SFILE\n"
				       "[other]\naws_access_key_id=AKIDOTHER\n"
				       "aws_secret_access_key=SOTHER\naws_session_token=TOTHER\n");
	write_file(".aws/config", "[profile cfgonly]\naws_access_key_id=AKIDCFG\n"
				  "aws_secret_access_key=SCFG\nregion=eu-west-1\n"
				  "[profile sso]\nsso_session=x\n"
				  "[profile assume]\nrole_arn=arn:aws:iam::1:role/x\n"
				  "source_profile=default\n");
	assert_int_equal(rv_test_creds_get(NULL, &c), 0);
	assert_string_equal(c.access_key_id, "AKIDFILE");
	assert_string_equal(c.source, "shared-file");
	assert_int_equal(c.expires_ms, 0);
	rv_aws_creds_release(&c);

	setenv("AWS_PROFILE", "other", 1);
	assert_int_equal(rv_test_creds_get(NULL, &c), 0);
	assert_string_equal(c.access_key_id, "AKIDOTHER");
	assert_string_equal(c.session_token, "TOTHER");
	rv_aws_creds_release(&c);

	/* cfg->profile beats AWS_PROFILE; config-file profiles need "profile " */
	{
		struct rv_creds_config pc = {.profile = "cfgonly"};
		assert_int_equal(rv_test_creds_get(&pc, &c), 0);
		assert_string_equal(c.access_key_id, "AKIDCFG");
		assert_null(c.session_token);
		rv_aws_creds_release(&c);
		pc.profile = "missing";
		assert_int_equal(rv_test_creds_get(&pc, &c), RV_EAUTH);
		assert_non_null(strstr(rv_errmsg(), "profile 'missing' not found"));
		pc.profile = "sso";
		assert_int_equal(rv_test_creds_get(&pc, &c), RV_ENOTSUP);
		pc.profile = "assume";
		assert_int_equal(rv_test_creds_get(&pc, &c), RV_ENOTSUP);
		assert_non_null(strstr(rv_errmsg(), "role_arn without web_identity_token_file"));
	}

	/* environment beats the files */
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SENV", 1);
	setenv("AWS_SESSION_TOKEN", "TENV", 1);
	assert_int_equal(rv_test_creds_get(NULL, &c), 0);
	assert_string_equal(c.access_key_id, "AKIDENV");
	assert_string_equal(c.session_token, "TENV");
	assert_string_equal(c.source, "environment");
	rv_aws_creds_release(&c);

	/* static config beats the environment */
	assert_int_equal(rv_test_creds_get(&stat, &c), 0);
	assert_string_equal(c.access_key_id, "AKIDSTATIC");
	assert_null(c.session_token);
	assert_string_equal(c.source, "static");
	rv_aws_creds_release(&c);

	/* half-set environment is an error, not a silent fall-through */
	unsetenv("AWS_SECRET_ACCESS_KEY");
	assert_int_equal(rv_test_creds_get(NULL, &c), RV_EAUTH);
	assert_non_null(strstr(rv_errmsg(), "AWS_SECRET_ACCESS_KEY is not"));
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SESSION_TOKEN");

	/* the override variables replace ~/.aws */
	write_file("alt-creds", "[other]\naws_access_key_id=AKIDALT\naws_secret_access_key=S\n");
	snprintf(path, sizeof(path), "%s/alt-creds", tmpdir);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	assert_int_equal(rv_test_creds_get(NULL, &c), 0);
	assert_string_equal(c.access_key_id, "AKIDALT");
	rv_aws_creds_release(&c);
	/* a malformed file stops the chain with its line number */
	write_file("alt-creds", "[other\n");
	assert_int_equal(rv_test_creds_get(NULL, &c), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "line 1"));

	/* shared files beat web identity: with a usable profile the (unreachable) STS
	 * is never asked */
	setenv("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials", 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/x", 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token", 1);
	assert_int_equal(rv_test_creds_get(NULL, &c), 0);
	assert_string_equal(c.access_key_id, "AKIDOTHER");
	rv_aws_creds_release(&c);
	unsetenv("AWS_PROFILE");
	snprintf(path, sizeof(path), "%s/.aws/credentials", tmpdir);
	assert_int_equal(unlink(path), 0);
	/* now web identity is next, and a missing token file is a clear error */
	assert_int_equal(rv_test_creds_get(NULL, &c), RV_EAUTH);
	assert_non_null(strstr(rv_errmsg(), "arn:aws:iam::1:role/x"));
	assert_non_null(strstr(rv_errmsg(), "AWS_WEB_IDENTITY_TOKEN_FILE"));

	/* web identity beats the container endpoint */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://evil.example.com/x", 1);
	assert_int_equal(rv_test_creds_get(NULL, &c), RV_EAUTH);
	unsetenv("AWS_ROLE_ARN");
	/* the container URI rule is enforced before any request */
	assert_int_equal(rv_test_creds_get(NULL, &c), RV_EUSAGE);
	assert_non_null(strstr(rv_errmsg(), "not allowed"));
}

/* ---- redaction ----------------------------------------------------------- */

static void test_no_secret_in_messages_or_logs(void **state)
{
	char logpath[512], *log;
	struct rv_creds_provider *p;
	struct rv_aws_creds c;
	size_t len;
	int fd;

	(void)state;
	snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	rv_log_setup(RV_LOG_DEBUG, RV_LOG_LOGFMT);
	rv_log_set_fd(fd);

	/* a profile with only a secret: the message names the key, not its value */
	write_file("c1", "[default]\naws_secret_access_key = SUPERSECRET1\n");
	snprintf(logpath, sizeof(logpath), "%s/c1", tmpdir);
	setenv("AWS_SHARED_CREDENTIALS_FILE", logpath, 1);
	assert_int_equal(rv_test_creds_get(NULL, &c), RV_EAUTH);
	assert_non_null(strstr(rv_errmsg(), "aws_secret_access_key but no aws_access_key_id"));
	assert_null(strstr(rv_errmsg(), "SUPERSECRET1"));
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");

	setenv("AWS_SECRET_ACCESS_KEY", "SUPERSECRET2", 1);
	assert_int_equal(rv_test_creds_get(NULL, &c), RV_EAUTH);
	assert_null(strstr(rv_errmsg(), "SUPERSECRET2"));

	/* a success logs the source and expiry only */
	setenv("AWS_ACCESS_KEY_ID", "AKIDLOGGED", 1);
	setenv("AWS_SESSION_TOKEN", "SUPERSECRET3", 1);
	assert_int_equal(rv_creds_provider_new(&p, NULL), 0);
	assert_int_equal(rv_creds_get(p, &c), 0);
	rv_aws_creds_release(&c);
	rv_creds_invalidate(p);
	assert_int_equal(rv_creds_get(p, &c), 0);
	rv_aws_creds_release(&c);
	rv_creds_provider_free(p);

	rv_log_set_fd(2);
	rv_log_setup(RV_LOG_INFO, RV_LOG_LOGFMT);
	close(fd);
	snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
	assert_int_equal(rv_read_file(logpath, 1 << 20, &log, &len), 0);
	assert_non_null(strstr(log, "source=environment"));
	assert_null(strstr(log, "SUPERSECRET"));
	free(log);
}

static void test_static_config_validation(void **state)
{
	struct rv_creds_config half = {.access_key_id = "AKID"};
	struct rv_creds_provider *p = (void *)1;

	(void)state;
	assert_int_equal(rv_creds_provider_new(&p, &half), RV_EUSAGE);
	assert_null(p);
	rv_creds_provider_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ini_profiles),
	    cmocka_unit_test(test_ini_errors),
	    cmocka_unit_test(test_sts_parse),
	    cmocka_unit_test(test_json_parse),
	    cmocka_unit_test(test_sts_endpoint),
	    cmocka_unit_test(test_container_uri_rule),
	    cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_secret_in_messages_or_logs, setup, teardown),
	    cmocka_unit_test(test_static_config_validation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
