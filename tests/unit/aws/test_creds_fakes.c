/* The credentials chain against fake STS, container and IMDSv2 servers
 * (tests/fakes/aws_creds_fake.py, started here on 127.0.0.1 port 0):
 * every source's success, its documented failures, refresh under
 * concurrency and keeping the old keys when a refresh fails. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include "aws/creds.h"
#include "core/http.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"

#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PYTHON	 "/usr/bin/python3"
#define ROLE_ARN "arn:aws:iam::123456789012:role/revenant"
#define TOKEN1	 "eyJhbGciOiJSUzI1NiJ9.first-token.sig"
#define TOKEN2	 "eyJhbGciOiJSUzI1NiJ9.second-token.sig"

struct fake {
	pid_t pid;
	int port;
	char url[64];
};

static struct fake fakes[4];
static int nfakes;
static char tmpdir[256];
static char tokfile[300];

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Start the fake and read "PORT n" from its stdout; fails the test loudly
 * when python3 or the script is missing or the server does not come up. */
static struct fake *fake_start(const char *service, ...)
{
	const char *testdir = getenv("RV_TESTDIR");
	const char *argv[24];
	char script[512], line[64] = "";
	struct fake *f = &fakes[nfakes];
	struct pollfd pfd;
	size_t n = 0, argc = 0;
	uint64_t port;
	va_list ap;
	int fds[2];

	if (access(PYTHON, X_OK) != 0)
		fail_msg("%s is missing: these tests need Python 3 for the fake AWS servers",
			 PYTHON);
	if (!testdir)
		fail_msg("RV_TESTDIR is not set (run through ctest)");
	snprintf(script, sizeof(script), "%s/fakes/aws_creds_fake.py", testdir);
	if (access(script, R_OK) != 0)
		fail_msg("fake server script '%s' is missing", script);
	argv[argc++] = PYTHON;
	argv[argc++] = script;
	argv[argc++] = "--service";
	argv[argc++] = service;
	va_start(ap, service);
	for (const char *a; argc < 22 && (a = va_arg(ap, const char *));)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;

	assert_int_equal(pipe(fds), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execv(PYTHON, (char *const *)argv);
		_exit(127);
	}
	nfakes++;
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	while (n < sizeof(line) - 1 && !strchr(line, '\n')) {
		ssize_t r;
		if (poll(&pfd, 1, 10000) != 1)
			fail_msg("fake %s server did not print its port within 10 s", service);
		r = read(fds[0], line + n, sizeof(line) - 1 - n);
		if (r <= 0)
			fail_msg("fake %s server exited before listening", service);
		n += (size_t)r;
		line[n] = '\0';
	}
	close(fds[0]);
	*strchr(line, '\n') = '\0';
	if (!rv_str_startswith(line, "PORT ") || rv_parse_u64(line + 5, &port) || !port ||
	    port > 65535)
		fail_msg("fake %s server printed '%s', not 'PORT <n>'", service, line);
	f->port = (int)port;
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->port);
	return f;
}

static void fake_stop_all(void)
{
	for (int i = 0; i < nfakes; i++) {
		if (kill(fakes[i].pid, SIGTERM) == 0)
			waitpid(fakes[i].pid, NULL, 0);
	}
	nfakes = 0;
}

static void fake_ctl(struct fake *f, const char *what)
{
	char url[160];
	struct rv_http_req req = {.method = "GET", .url = url};
	struct rv_http_resp resp;

	snprintf(url, sizeof(url), "%s/_ctl/%s", f->url, what);
	assert_int_equal(rv_http_do(&req, &resp), 0);
	assert_int_equal(resp.status, 200);
	rv_http_resp_release(&resp);
}

static long fake_count(struct fake *f, const char *field)
{
	char url[160];
	struct rv_http_req req = {.method = "GET", .url = url};
	struct rv_http_resp resp;
	json_t *j;
	long v;

	snprintf(url, sizeof(url), "%s/_ctl/count", f->url);
	assert_int_equal(rv_http_do(&req, &resp), 0);
	j = json_loads(rv_buf_str(&resp.body), 0, NULL);
	assert_non_null(j);
	v = (long)json_integer_value(json_object_get(j, field));
	json_decref(j);
	rv_http_resp_release(&resp);
	return v;
}

static int setup(void **state)
{
	(void)state;
	if (rv_test_aws_sandbox(tmpdir, sizeof(tmpdir), "/tmp/rv-credsfake-XXXXXX"))
		return -1;
	snprintf(tokfile, sizeof(tokfile), "%s/token", tmpdir);
	rv_log_setup(RV_LOG_WARN, RV_LOG_LOGFMT);
	rv_log_set_fd(2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fake_stop_all();
	rv_log_set_fd(2);
	return rv_test_rm_rf(tmpdir) ? -1 : 0;
}

/* ---- web identity ------------------------------------------------------- */

static struct fake *sts_env(const char *mode, const char *expires)
{
	struct fake *f;

	put_file(tokfile, TOKEN1 "\n");
	f = fake_start("sts", "--token-file", tokfile, "--mode", mode, "--expires-in", expires,
		       "--role-arn", ROLE_ARN, NULL);
	setenv("AWS_ROLE_ARN", ROLE_ARN, 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokfile, 1);
	setenv("AWS_ENDPOINT_URL_STS", f->url, 1);
	return f;
}

static void test_sts_success_and_rotation(void **state)
{
	struct fake *f = sts_env("ok", "3600");
	struct rv_creds_provider *p;
	struct rv_aws_creds c;
	int64_t now = rv_now_ms();

	(void)state;
	assert_int_equal(rv_creds_provider_new(&p, NULL), 0);
	assert_int_equal(rv_creds_get(p, &c), 0);
	assert_string_equal(c.source, "web-identity");
	assert_string_equal(c.access_key_id, "ASIAFAKESTS0001");
	assert_string_equal(c.secret_access_key, "fakeSecretKey0001");
	assert_string_equal(c.session_token, "FAKESESSIONTOKEN0001");
	assert_true(c.expires_ms > now + 3590000 && c.expires_ms < now + 3610000);
	rv_aws_creds_release(&c);
	/* cached: no second request */
	assert_int_equal(rv_creds_get(p, &c), 0);
	rv_aws_creds_release(&c);
	assert_int_equal(fake_count(f, "requests"), 1);

	/* Kubernetes rotates the token file; the fake now accepts only the new one,
	 * so this passes only if the file is read again. */
	put_file(tokfile, TOKEN2);
	rv_creds_invalidate(p);
	assert_int_equal(rv_creds_get(p, &c), 0);
	assert_string_equal(c.access_key_id, "ASIAFAKESTS0002");
	rv_aws_creds_release(&c);
	assert_int_equal(fake_count(f, "rejected"), 0);
	rv_creds_provider_free(p);

	/* AWS_ENDPOINT_URL is the fallback override; session name passes through */
	unsetenv("AWS_ENDPOINT_URL_STS");
	setenv("AWS_ENDPOINT_URL", f->url, 1);
	setenv("AWS_ROLE_SESSION_NAME", "my session/1", 1);
	assert_int_equal(rv_test_creds_get(NULL, &c), 0);
	assert_string_equal(c.access_key_id, "ASIAFAKESTS0003");
	rv_aws_creds_release(&c);
	assert_int_equal(fake_count(f, "rejected"), 0);
}

static void test_sts_from_profile(void **state)
{
	char conf[400], text[800];
	struct fake *f;
	struct rv_aws_creds c;

	(void)state;
	put_file(tokfile, TOKEN1);
	f = fake_start("sts", "--token-file", tokfile, NULL);
	snprintf(conf, sizeof(conf), "%s/config", tmpdir);
	snprintf(text, sizeof(text),
		 "[default]\nregion = us-west-2\n\n[profile irsa]\nrole_arn = %s\n"
		 "web_identity_token_file = %s\nrole_session_name = from-profile\n",
		 ROLE_ARN, tokfile);
	put_file(conf, text);
	setenv("AWS_CONFIG_FILE", conf, 1);
	setenv("AWS_PROFILE", "irsa", 1);
	setenv("AWS_ENDPOINT_URL_STS", f->url, 1);
	assert_int_equal(rv_test_creds_get(NULL, &c), 0);
	assert_string_equal(c.source, "web-identity");
	assert_string_equal(c.access_key_id, "ASIAFAKESTS0001");
	rv_aws_creds_release(&c);
	assert_int_equal(fake_count(f, "rejected"), 0);
}

static void test_sts_errors(void **state)
{
	static const struct {
		const char *mode;
		int rc;
		const char *needle;
		long requests; /* retried ones take several */
	} cases[] = {
	    {"invalid-token", RV_EAUTH, "InvalidIdentityToken", 1},
	    {"expired-token", RV_EAUTH, "ExpiredTokenException", 1},
	    {"access-denied", RV_EAUTH, "trust policy", 1},
	    {"echo-token", RV_EAUTH, "withheld", 1},
	    {"throttle", RV_ENET, "Throttling", 4},
	    {"503", RV_ENET, "503", 4},
	    {"malformed", RV_ECORRUPT, "AssumeRoleWithWebIdentityResponse", 1},
	};
	struct fake *f = sts_env("ok", "3600");
	struct rv_aws_creds c;
	char what[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long before = fake_count(f, "requests");
		snprintf(what, sizeof(what), "mode/%s", cases[i].mode);
		fake_ctl(f, what);
		assert_int_equal(rv_test_creds_get(NULL, &c), cases[i].rc);
		if (!strstr(rv_errmsg(), cases[i].needle) || !strstr(rv_errmsg(), ROLE_ARN))
			fail_msg("mode %s: message '%s' lacks '%s' or the role", cases[i].mode,
				 rv_errmsg(), cases[i].needle);
		assert_null(strstr(rv_errmsg(), "first-token"));
		assert_null(strchr(rv_errmsg(), '\n'));
		assert_int_equal(fake_count(f, "requests") - before, cases[i].requests);
	}
	assert_int_equal(fake_count(f, "rejected"), 0);

	/* an STS that does not answer at all */
	fake_stop_all();
	assert_int_equal(rv_test_creds_get(NULL, &c), RV_ENET);
	assert_non_null(strstr(rv_errmsg(), ROLE_ARN));
}

/* ---- container ----------------------------------------------------------- */

static void test_container(void **state)
{
	char authfile[400], uri[160];
	struct fake *f;
	struct rv_creds_provider *p;
	struct rv_aws_creds c;

	(void)state;
	snprintf(authfile, sizeof(authfile), "%s/pod-identity-token", tmpdir);
	put_file(authfile, "pod-token-1\n");
	f = fake_start("container", "--auth-file", authfile, "--path", "/v1/credentials", NULL);
	snprintf(uri, sizeof(uri), "%s/v1/credentials", f->url);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", authfile, 1);

	assert_int_equal(rv_creds_provider_new(&p, NULL), 0);
	assert_int_equal(rv_creds_get(p, &c), 0);
	assert_string_equal(c.source, "container");
	assert_string_equal(c.access_key_id, "ASIAFAKECTR0001");
	assert_string_equal(c.session_token, "FAKETOKEN0001");
	assert_true(c.expires_ms > rv_now_ms() + 3500000);
	rv_aws_creds_release(&c);
	/* the token file is read on every fetch */
	put_file(authfile, "pod-token-2");
	rv_creds_invalidate(p);
	assert_int_equal(rv_creds_get(p, &c), 0);
	assert_string_equal(c.access_key_id, "ASIAFAKECTR0002");
	rv_aws_creds_release(&c);
	rv_creds_provider_free(p);
	assert_int_equal(fake_count(f, "rejected"), 0);

	/* the token from the environment instead of a file */
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-token-2", 1);
	assert_int_equal(rv_test_creds_get(NULL, &c), 0);
	rv_aws_creds_release(&c);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong-token", 1);
	assert_int_equal(rv_test_creds_get(NULL, &c), RV_EAUTH);
	assert_non_null(strstr(rv_errmsg(), "HTTP 401"));
	assert_null(strstr(rv_errmsg(), "wrong-token"));
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "bad\r\nX-Injected: 1", 1);
	assert_int_equal(rv_test_creds_get(NULL, &c), RV_EUSAGE);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-token-2", 1);

	fake_ctl(f, "mode/unauthorized");
	assert_int_equal(rv_test_creds_get(NULL, &c), RV_EAUTH);
	{
		long before = fake_count(f, "requests");
		fake_ctl(f, "mode/500");
		assert_int_equal(rv_test_creds_get(NULL, &c), RV_ENET);
		assert_non_null(strstr(rv_errmsg(), "HTTP 500"));
		assert_int_equal(fake_count(f, "requests") - before, 3);
	}
	fake_ctl(f, "mode/malformed");
	assert_int_equal(rv_test_creds_get(NULL, &c), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "malformed JSON"));

	/* a wrong path is the endpoint's 404 */
	fake_ctl(f, "mode/ok");
	snprintf(uri, sizeof(uri), "%s/v2/other", f->url);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
	assert_int_equal(rv_test_creds_get(NULL, &c), RV_EAUTH);
	assert_non_null(strstr(rv_errmsg(), "HTTP 404"));
}

/* ---- IMDSv2 ------------------------------------------------------------------ */

static void test_imds(void **state)
{
	static const struct {
		const char *mode;
		int rc;
		const char *needle;
	} cases[] = {
	    {"token-403", RV_EAUTH, "refused a session token"},
	    {"no-role", RV_EAUTH, "no IAM role"},
	    {"role-404", RV_EAUTH, "revenant-role"},
	    {"code-fail", RV_EAUTH, "AssumeRoleUnauthorizedAccess"},
	    {"malformed", RV_ECORRUPT, "malformed JSON"},
	};
	struct fake *f = fake_start("imds", NULL);
	struct rv_aws_creds c;
	struct rv_http_resp resp;
	char url[160], what[64];
	int64_t t0;

	(void)state;
	unsetenv("AWS_EC2_METADATA_DISABLED");
	snprintf(url, sizeof(url), "%s/", f->url); /* a trailing slash is tolerated */
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	assert_int_equal(rv_test_creds_get(NULL, &c), 0);
	assert_string_equal(c.source, "imds");
	assert_string_equal(c.access_key_id, "ASIAFAKEIMDS0001");
	assert_string_equal(c.session_token, "FAKETOKEN0001");
	rv_aws_creds_release(&c);
	assert_int_equal(fake_count(f, "requests"), 3); /* PUT token, list role, get role */
	assert_int_equal(fake_count(f, "rejected"), 0);

	/* the fake enforces IMDSv2: a GET without the session token is refused */
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", f->url);
	{
		struct rv_http_req req = {.method = "GET", .url = url};
		assert_int_equal(rv_http_do(&req, &resp), 0);
		assert_int_equal(resp.status, 401);
		rv_http_resp_release(&resp);
	}

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(what, sizeof(what), "mode/%s", cases[i].mode);
		fake_ctl(f, what);
		assert_int_equal(rv_test_creds_get(NULL, &c), cases[i].rc);
		if (!strstr(rv_errmsg(), cases[i].needle))
			fail_msg("mode %s: message '%s' lacks '%s'", cases[i].mode, rv_errmsg(),
				 cases[i].needle);
	}

	/* disabled: not asked at all */
	fake_ctl(f, "mode/ok");
	{
		long before = fake_count(f, "requests");
		setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
		assert_int_equal(rv_test_creds_get(NULL, &c), RV_EAUTH);
		assert_non_null(strstr(rv_errmsg(), "no AWS credentials found"));
		assert_int_equal(fake_count(f, "requests"), before);
		unsetenv("AWS_EC2_METADATA_DISABLED");
	}

	/* nothing listening: not on EC2, the chain ends quickly with its summary */
	fake_stop_all();
	t0 = rv_mono_ms();
	assert_int_equal(rv_test_creds_get(NULL, &c), RV_EAUTH);
	assert_non_null(strstr(rv_errmsg(), "no AWS credentials found"));
	assert_true(rv_mono_ms() - t0 < 2000);
}

/* ---- refresh ------------------------------------------------------------------ */

struct hammer {
	struct rv_creds_provider *p;
	int64_t until_ms;
	int errors, expired, slow, calls;
	char first_err[256];
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;

	while (rv_now_ms() < h->until_ms) {
		struct rv_aws_creds c;
		int64_t t0 = rv_mono_ms(), now;
		int rc = rv_creds_get(h->p, &c);
		now = rv_now_ms();
		h->calls++;
		if (rv_mono_ms() - t0 > 200)
			h->slow++;
		if (rc) {
			if (!h->errors++)
				snprintf(h->first_err, sizeof(h->first_err), "%s", rv_errmsg());
			continue;
		}
		if (c.expires_ms <= now || !rv_str_startswith(c.access_key_id, "ASIAFAKESTS"))
			h->expired++;
		rv_aws_creds_release(&c);
		rv_sleep_ms(5);
	}
	return NULL;
}

static void test_refresh_concurrent(void **state)
{
	/* Keys live 4 s with a 2 s margin, and STS takes 300 ms to answer: a
	 * refresh is due every ~2 s and the other threads must keep getting the
	 * old keys without waiting or seeing an error. */
	struct rv_creds_config cfg = {.refresh_margin_ms = 2000};
	struct fake *f;
	struct hammer h[6];
	pthread_t th[6];
	struct rv_creds_provider *p;
	struct rv_aws_creds c;
	int slow = 0;
	long issued;

	(void)state;
	put_file(tokfile, TOKEN1);
	f = fake_start("sts", "--token-file", tokfile, "--expires-in", "4", "--delay-ms", "300",
		       NULL);
	setenv("AWS_ROLE_ARN", ROLE_ARN, 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokfile, 1);
	setenv("AWS_ENDPOINT_URL_STS", f->url, 1);
	assert_int_equal(rv_creds_provider_new(&p, &cfg), 0);
	assert_int_equal(rv_creds_get(p, &c), 0);
	rv_aws_creds_release(&c);
	for (int i = 0; i < 6; i++) {
		memset(&h[i], 0, sizeof(h[i]));
		h[i].p = p;
		h[i].until_ms = rv_now_ms() + 5500;
		assert_int_equal(pthread_create(&th[i], NULL, hammer_run, &h[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		if (h[i].errors)
			fail_msg("thread %d saw %d errors, first: %s", i, h[i].errors,
				 h[i].first_err);
		assert_int_equal(h[i].expired, 0);
		assert_true(h[i].calls > 50);
		slow += h[i].slow;
	}
	issued = fake_count(f, "issued");
	/* at least two refreshes in 5.5 s, and no stampede */
	if (issued < 3 || issued > 6)
		fail_msg("expected 3..6 STS answers, got %ld", issued);
	/* only the thread doing a refresh waits for STS */
	if (slow > issued - 1)
		fail_msg("%d slow gets for %ld refreshes: callers waited", slow, issued - 1);
	assert_int_equal(fake_count(f, "rejected"), 0);
	rv_creds_provider_free(p);
}

static int count_lines(const char *path, const char *needle)
{
	char *text, *s;
	size_t len;
	int n = 0;

	assert_int_equal(rv_read_file(path, 1 << 20, &text, &len), 0);
	for (s = text; (s = strstr(s, needle)); s++)
		n++;
	free(text);
	return n;
}

static void test_failed_refresh_keeps_old(void **state)
{
	struct rv_creds_config cfg = {.refresh_margin_ms = 3000};
	struct rv_creds_provider *p;
	struct rv_aws_creds c;
	char logpath[400];
	struct fake *f;
	int fd;

	(void)state;
	snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	rv_log_set_fd(fd);
	rv_log_setup(RV_LOG_INFO, RV_LOG_LOGFMT);
	put_file(tokfile, TOKEN1);
	f = fake_start("sts", "--token-file", tokfile, "--expires-in", "4", NULL);
	setenv("AWS_ROLE_ARN", ROLE_ARN, 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokfile, 1);
	setenv("AWS_ENDPOINT_URL_STS", f->url, 1);

	assert_int_equal(rv_creds_provider_new(&p, &cfg), 0);
	assert_int_equal(rv_creds_get(p, &c), 0);
	assert_string_equal(c.access_key_id, "ASIAFAKESTS0001");
	rv_aws_creds_release(&c);

	/* inside the margin, STS refuses: the old keys keep serving */
	fake_ctl(f, "mode/access-denied");
	rv_sleep_ms(1300);
	assert_int_equal(rv_creds_get(p, &c), 0);
	assert_string_equal(c.access_key_id, "ASIAFAKESTS0001");
	rv_aws_creds_release(&c);
	assert_int_equal(fake_count(f, "requests"), 2);
	/* not retried in a loop */
	for (int i = 0; i < 20; i++) {
		assert_int_equal(rv_creds_get(p, &c), 0);
		rv_aws_creds_release(&c);
	}
	assert_int_equal(fake_count(f, "requests"), 2);
	/* retried later, still failing, still warned only once */
	rv_sleep_ms(1100);
	assert_int_equal(rv_creds_get(p, &c), 0);
	assert_string_equal(c.access_key_id, "ASIAFAKESTS0001");
	rv_aws_creds_release(&c);
	assert_int_equal(fake_count(f, "requests"), 3);
	assert_int_equal(count_lines(logpath, "level=warn"), 1);
	assert_int_equal(count_lines(logpath, "fakeSecretKey"), 0);
	assert_int_equal(count_lines(logpath, "first-token"), 0);

	/* STS recovers: the next retry picks up new keys */
	fake_ctl(f, "mode/ok");
	rv_sleep_ms(1100);
	assert_int_equal(rv_creds_get(p, &c), 0);
	assert_string_equal(c.access_key_id, "ASIAFAKESTS0002");
	rv_aws_creds_release(&c);

	/* expired and unrefreshable: an error, never expired keys */
	fake_ctl(f, "mode/access-denied");
	rv_sleep_ms(4300);
	assert_int_equal(rv_creds_get(p, &c), RV_EAUTH);
	assert_non_null(strstr(rv_errmsg(), ROLE_ARN));
	assert_null(c.access_key_id);

	rv_creds_provider_free(p);
	rv_log_set_fd(2);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_sts_success_and_rotation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sts_from_profile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sts_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_container, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_imds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refresh_concurrent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failed_refresh_keeps_old, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
