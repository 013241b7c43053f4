/* test_log.c - log lines as written: logfmt quoting, JSON escaping (checked
 * by parsing with jansson), level filtering, secret-field redaction.  Lines
 * are captured from a pipe given to rv_log_set_fd. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int pipefd[2];

static int setup(void **state)
{
	(void)state;
	if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) == -1)
		return -1;
	rv_log_set_fd(pipefd[1]);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rv_log_set_fd(2);
	rv_log_setup(RV_LOG_INFO, RV_LOG_LOGFMT);
	close(pipefd[0]);
	close(pipefd[1]);
	return 0;
}

/* Everything logged since the last call ("" when nothing). */
static char *drain(void)
{
	static char buf[65536];
	size_t len = 0;

	for (;;) {
		ssize_t n = read(pipefd[0], buf + len, sizeof(buf) - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

/* "ts=2026-11-26T08:00:00.123Z " -> what follows it. */
static const char *after_ts(const char *line)
{
	const char *t = line + 3;

	assert_memory_equal(line, "ts=", 3);
	assert_int_equal(strlen(line) > 28, 1);
	for (int i = 0; i < 24; i++) {
		char c = t[i];
		if (i == 4 || i == 7)
			assert_int_equal(c, '-');
		else if (i == 10)
			assert_int_equal(c, 'T');
		else if (i == 13 || i == 16)
			assert_int_equal(c, ':');
		else if (i == 19)
			assert_int_equal(c, '.');
		else if (i == 23)
			assert_int_equal(c, 'Z');
		else
			assert_true(c >= '0' && c <= '9');
	}
	assert_int_equal(t[24], ' ');
	return t + 25;
}

static void test_logfmt_quoting(void **state)
{
	(void)state;
	rv_log_setup(RV_LOG_INFO, RV_LOG_LOGFMT);
	rv_log(RV_LOG_INFO, "object uploaded", "key", "a/b.db", "spaced", "a b", "empty", "", "eq",
	       "x=y", "quote", "say \"hi\"", "back", "c:\\dir", "nl", "one\ntwo", "tab", "a\tb",
	       "ctl", "\x01", "null", NULL, NULL);
	assert_string_equal(after_ts(drain()),
			    "level=info msg=\"object uploaded\" key=a/b.db spaced=\"a b\" "
			    "empty=\"\" eq=\"x=y\" quote=\"say \\\"hi\\\"\" back=c:\\dir "
			    "nl=\"one\\ntwo\" tab=\"a\\tb\" ctl=\"\\u0001\" null=\"\"\n");

	/* A bare word stays bare; one line per call. */
	rv_log(RV_LOG_WARN, "done", NULL);
	rv_log(RV_LOG_ERROR, "failed", "code", "3", NULL);
	{
		char *out = drain(), *nl = strchr(out, '\n');
		assert_non_null(nl);
		*nl = '\0';
		assert_string_equal(after_ts(out), "level=warn msg=done");
		assert_string_equal(after_ts(nl + 1), "level=error msg=failed code=3\n");
	}
}

static void test_json_escaping(void **state)
{
	static const char *const tricky[] = {
	    "plain",	    "",		 "say \"hi\"",	     "c:\\dir", "one\ntwo", "a\tb\r",
	    "\x01\x1f\x7f", "ünïcødé €", "{\"injected\":1}", NULL,
	};
	json_error_t err;
	json_t *o;
	char *out;

	(void)state;
	rv_log_setup(RV_LOG_DEBUG, RV_LOG_JSON);
	for (int i = 0; tricky[i]; i++) {
		rv_log(RV_LOG_DEBUG, tricky[i], "value", tricky[i], "we\"ird key", "v", NULL);
		out = drain();
		assert_true(strlen(out) > 0);
		/* One line: the only newline is the last byte. */
		assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
		o = json_loads(out, 0, &err);
		if (!o)
			fail_msg("not JSON (%s): %s", err.text, out);
		assert_string_equal(json_string_value(json_object_get(o, "level")), "debug");
		assert_string_equal(json_string_value(json_object_get(o, "msg")), tricky[i]);
		assert_string_equal(json_string_value(json_object_get(o, "value")), tricky[i]);
		assert_string_equal(json_string_value(json_object_get(o, "we\"ird key")), "v");
		assert_int_equal(strlen(json_string_value(json_object_get(o, "ts"))), 24);
		assert_null(json_object_get(o, "injected"));
		json_decref(o);
	}
}

/* File names are bytes: a malformed UTF-8 name must still give valid JSON
 * (U+FFFD per bad byte) and an unambiguous logfmt value (\xNN). */
static void test_invalid_utf8(void **state)
{
	json_error_t err;
	json_t *o;
	char *out;

	(void)state;
	rv_log_setup(RV_LOG_INFO, RV_LOG_JSON);
	rv_log(RV_LOG_INFO, "skipped", "path", "a\xff\xc3(b\xe2\x82\xac", NULL);
	out = drain();
	o = json_loads(out, 0, &err);
	if (!o)
		fail_msg("not JSON (%s): %s", err.text, out);
	assert_string_equal(json_string_value(json_object_get(o, "path")),
			    "a\xef\xbf\xbd\xef\xbf\xbd(b\xe2\x82\xac");
	json_decref(o);

	rv_log_setup(RV_LOG_INFO, RV_LOG_LOGFMT);
	rv_log(RV_LOG_INFO, "skipped", "path",
	       "a\xff"
	       "b",
	       NULL);
	assert_string_equal(after_ts(drain()), "level=info msg=skipped path=\"a\\xffb\"\n");
}

static void test_level_filtering(void **state)
{
	(void)state;
	rv_log_setup(RV_LOG_WARN, RV_LOG_LOGFMT);
	assert_false(rv_log_enabled(RV_LOG_DEBUG));
	assert_false(rv_log_enabled(RV_LOG_INFO));
	assert_true(rv_log_enabled(RV_LOG_WARN));
	assert_true(rv_log_enabled(RV_LOG_ERROR));
	rv_log(RV_LOG_DEBUG, "d", NULL);
	rv_log(RV_LOG_INFO, "i", NULL);
	assert_string_equal(drain(), "");
	rv_log(RV_LOG_WARN, "w", NULL);
	assert_string_equal(after_ts(drain()), "level=warn msg=w\n");

	rv_log_setup(RV_LOG_OFF, RV_LOG_LOGFMT);
	rv_log(RV_LOG_ERROR, "e", NULL);
	assert_string_equal(drain(), "");
	/* OFF is a threshold, never a level to log at. */
	rv_log_setup(RV_LOG_DEBUG, RV_LOG_LOGFMT);
	assert_false(rv_log_enabled(RV_LOG_OFF));
	rv_log(RV_LOG_OFF, "x", NULL);
	assert_string_equal(drain(), "");
	rv_log(RV_LOG_DEBUG, "d", NULL);
	assert_string_equal(after_ts(drain()), "level=debug msg=d\n");
}

static void test_redaction(void **state)
{
	static const char *const secret_names[] = {
	    "secret_access_key", "session_token", "password", "DB_PASSWD",	"Authorization",
	    "x-amz-signature",	 "credentials",	  "token",    "AdminApiSecret", NULL,
	};
	static const char *const plain_names[] = {"key", "access_key_id", "bucket", "site", NULL};
	const char *fmts[] = {"logfmt", "json"};

	(void)state;
	for (int f = 0; f < 2; f++) {
		rv_log_setup(RV_LOG_INFO, f ? RV_LOG_JSON : RV_LOG_LOGFMT);
		for (int i = 0; secret_names[i]; i++) {
			char *out;
			assert_true(rv_log_is_secret_field(secret_names[i]));
			rv_log(RV_LOG_INFO, "m", secret_names[i], "hunter2-SECRET", NULL);
			out = drain();
			if (strstr(out, "hunter2"))
				fail_msg("%s: field %s leaked: %s", fmts[f], secret_names[i], out);
			assert_non_null(strstr(out, "[redacted]"));
		}
		for (int i = 0; plain_names[i]; i++) {
			assert_false(rv_log_is_secret_field(plain_names[i]));
			rv_log(RV_LOG_INFO, "m", plain_names[i], "visible-value", NULL);
			assert_non_null(strstr(drain(), "visible-value"));
		}
	}
}

static void test_parse(void **state)
{
	enum rv_log_level l;
	enum rv_log_format f;

	(void)state;
	assert_int_equal(rv_log_parse_level("debug", &l), 0);
	assert_int_equal(l, RV_LOG_DEBUG);
	assert_int_equal(rv_log_parse_level("WARN", &l), 0);
	assert_int_equal(l, RV_LOG_WARN);
	assert_int_equal(rv_log_parse_level("warning", &l), 0);
	assert_int_equal(l, RV_LOG_WARN);
	assert_int_equal(rv_log_parse_level("error", &l), 0);
	assert_int_equal(l, RV_LOG_ERROR);
	assert_int_equal(rv_log_parse_level("verbose", &l), RV_EUSAGE);
	assert_non_null(strstr(rv_errmsg(), "'verbose'"));
	assert_int_equal(rv_log_parse_format("json", &f), 0);
	assert_int_equal(f, RV_LOG_JSON);
	assert_int_equal(rv_log_parse_format("logfmt", &f), 0);
	assert_int_equal(f, RV_LOG_LOGFMT);
	assert_int_equal(rv_log_parse_format("xml", &f), RV_EUSAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_logfmt_quoting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_escaping, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_utf8, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_level_filtering, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_redaction, setup, teardown),
	    cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
