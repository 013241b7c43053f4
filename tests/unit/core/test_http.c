/* The libcurl transfer layer (core/http.c) against a small libmicrohttpd
 * server in the test itself: status and body, headers, caps, a refused
 * connection, a timeout, shutdown, and an upload from a file that curl must
 * rewind when a re-used connection turns out dead. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/http.h"
#include "core/log.h"
#include "core/retry.h"
#include "core/util.h"

static struct MHD_Daemon *srv;
static int port;
static atomic_int requests;  /* complete requests the server saw */
static atomic_int drop_next; /* close the next request's connection unanswered */
static atomic_int dropped;

struct upload {
	struct rv_buf body;
};

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct upload *u = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (u) {
		rv_buf_release(&u->body);
		free(u);
		*con_cls = NULL;
	}
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *body,
			      size_t len, const char *etag)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (etag)
		MHD_add_response_header(r, "ETag", etag);
	MHD_add_response_header(r, "Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	struct upload *u = *con_cls;

	(void)cls;
	(void)version;
	if (!u) {
		u = calloc(1, sizeof(*u));
		rv_buf_init(&u->body, 1u << 20);
		*con_cls = u;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (rv_buf_add(&u->body, upload_data, *upload_data_size))
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	atomic_fetch_add(&requests, 1);
	if (!strcmp(method, "PUT") && atomic_exchange(&drop_next, 0)) {
		/* The whole body was read; the answer never comes. */
		atomic_fetch_add(&dropped, 1);
		return MHD_NO;
	}
	if (!strcmp(url, "/hello"))
		return answer(conn, 200, "hello world", 11, "\"abc\"");
	if (!strcmp(url, "/missing"))
		return answer(conn, 404, "<Error><Code>NoSuchKey</Code></Error>", 37, NULL);
	if (!strcmp(url, "/big")) {
		static char big[64 << 10];
		memset(big, 'b', sizeof(big));
		return answer(conn, 200, big, sizeof(big), NULL);
	}
	if (!strcmp(url, "/slow")) {
		sleep(2);
		return answer(conn, 200, "late", 4, NULL);
	}
	if (!strcmp(url, "/echo"))
		return answer(conn, 200, u->body.data ? u->body.data : "", u->body.len, NULL);
	return answer(conn, 404, "", 0, NULL);
}

static int setup(void **state)
{
	const union MHD_DaemonInfo *info;

	(void)state;
	rv_log_setup(RV_LOG_WARN, RV_LOG_LOGFMT);
	rv_http_global_init();
	srv = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
			       NULL, NULL, handler, NULL, MHD_OPTION_NOTIFY_COMPLETED, completed,
			       NULL, MHD_OPTION_END);
	if (!srv)
		return -1;
	info = MHD_get_daemon_info(srv, MHD_DAEMON_INFO_BIND_PORT);
	port = info ? info->port : 0;
	return port ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	MHD_stop_daemon(srv);
	return 0;
}

static char *url_of(const char *path)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", port, path);
	return buf;
}

static void test_status_body_headers(void **state)
{
	struct rv_buf body = RV_BUF_INIT(1024);
	struct rv_http_xfer x = {.method = "GET", .url = url_of("/hello"), .body_out = &body};
	struct rv_http_outcome o;

	(void)state;
	assert_int_equal(rv_http_perform(NULL, &x, &o), 0);
	assert_int_equal(o.rc, 0);
	assert_int_equal(o.curl, CURLE_OK);
	assert_int_equal(o.status, 200);
	assert_string_equal(rv_buf_str(&body), "hello world");
	assert_string_equal(o.etag, "\"abc\"");
	assert_true(o.have_length);
	assert_int_equal(o.content_length, 11);
	assert_int_equal(o.got, 11);
	assert_string_equal(o.last_modified, "Wed, 21 Oct 2015 07:28:00 GMT");
	rv_buf_release(&body);
}

static void test_error_body_is_cut_not_failed(void **state)
{
	struct rv_buf body = RV_BUF_INIT(1024), err = RV_BUF_INIT(7);
	struct rv_http_xfer x = {
	    .method = "GET", .url = url_of("/missing"), .body_out = &body, .err_out = &err};
	struct rv_http_outcome o;

	(void)state;
	assert_int_equal(rv_http_perform(NULL, &x, &o), 0);
	assert_int_equal(o.curl, CURLE_OK);
	assert_int_equal(o.status, 404);
	assert_string_equal(rv_buf_str(&err), "<Error>");
	assert_int_equal(body.len, 0);
	assert_int_equal(o.got, 0);
	rv_buf_release(&body);
	rv_buf_release(&err);
}

static void test_cap_exceeded(void **state)
{
	struct rv_buf body = RV_BUF_INIT(1024);
	struct rv_http_xfer x = {.method = "GET", .url = url_of("/big"), .body_out = &body};
	struct rv_http_outcome o;
	struct rv_http_req req = {.method = "GET", .url = url_of("/big"), .max_response = 1000};
	struct rv_http_resp resp;

	(void)state;
	assert_int_equal(rv_http_perform(NULL, &x, &o), RV_ECORRUPT);
	assert_int_equal(o.rc, RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "/big: the answer is larger than 1024 bytes"));
	assert_true(body.len <= 1024);
	/* The short form says the same. */
	assert_int_equal(rv_http_do(&req, &resp), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "GET http://127.0.0.1:"));
	assert_non_null(strstr(rv_errmsg(), "larger than 1000 bytes"));
	rv_http_resp_release(&resp);
	rv_buf_release(&body);
}

static void test_connection_refused(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char url[64], want[32];
	struct rv_http_xfer x = {.method = "GET"};
	struct rv_http_outcome o;
	struct rv_http_req req = {.method = "GET"};
	struct rv_http_resp resp;

	(void)state;
	/* A port that was free a moment ago and has no listener. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", ntohs(sa.sin_port));
	snprintf(want, sizeof(want), "port %d", ntohs(sa.sin_port));
	x.url = req.url = url;

	assert_int_equal(rv_http_perform(NULL, &x, &o), 0);
	assert_int_equal(o.curl, CURLE_COULDNT_CONNECT);
	assert_int_equal(o.status, 0);
	assert_non_null(strstr(o.why, want)); /* curl's own reason */

	assert_int_equal(rv_http_do(&req, &resp), RV_ENET);
	assert_non_null(strstr(rv_errmsg(), url));
	assert_non_null(strstr(rv_errmsg(), want));
	rv_http_resp_release(&resp);
}

static void test_timeout(void **state)
{
	struct rv_http_xfer x = {.method = "GET", .url = url_of("/slow"), .timeout_ms = 300};
	struct rv_http_outcome o;
	int64_t t0 = rv_mono_ms();

	(void)state;
	assert_int_equal(rv_http_perform(NULL, &x, &o), 0);
	assert_int_equal(o.curl, CURLE_OPERATION_TIMEDOUT);
	assert_non_null(strstr(o.why, "timed out"));
	assert_true(rv_mono_ms() - t0 < 1500);
}

static void test_shutdown_interrupts(void **state)
{
	struct rv_http_xfer x = {
	    .method = "GET", .url = url_of("/slow"), .what = "fetch 'slow'", .interruptible = true};
	struct rv_http_outcome o;

	(void)state;
	rv_shutdown_request();
	assert_int_equal(rv_http_perform(NULL, &x, &o), RV_EINTR);
	rv_shutdown_reset();
	assert_string_equal(rv_errmsg(), "fetch 'slow': interrupted by shutdown");
}

static int tmpfile_with(const char *data, size_t n)
{
	char path[] = "/tmp/rv-test-http.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	return fd;
}

/* The body comes from a file with pread (offset and length), the same
 * handle serves two exchanges, and the second one's connection dies after
 * the server read the whole body: curl reconnects and must rewind. */
static void test_upload_from_fd_rewinds(void **state)
{
	static const char data[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	int fd = tmpfile_with(data, sizeof(data) - 1);
	struct rv_buf body = RV_BUF_INIT(1024);
	struct rv_http_xfer x = {
	    .method = "PUT",
	    .url = url_of("/echo"),
	    .body_from_fd = true,
	    .body_fd = fd,
	    .body_off = 10,
	    .body_len = 20,
	    .body_out = &body,
	};
	struct rv_http_outcome o;
	CURL *c = rv_http_handle_new();

	(void)state;
	assert_non_null(c);
	atomic_store(&requests, 0);
	atomic_store(&dropped, 0);
	assert_int_equal(rv_http_perform(c, &x, &o), 0);
	assert_int_equal(o.curl, CURLE_OK);
	assert_int_equal(o.status, 200);
	assert_string_equal(rv_buf_str(&body), "abcdefghijklmnopqrst");

	rv_buf_reset(&body);
	atomic_store(&drop_next, 1);
	assert_int_equal(rv_http_perform(c, &x, &o), 0);
	assert_int_equal(o.curl, CURLE_OK);
	assert_int_equal(o.status, 200);
	assert_string_equal(rv_buf_str(&body), "abcdefghijklmnopqrst");
	assert_int_equal(atomic_load(&dropped), 1);
	assert_int_equal(atomic_load(&requests), 3);

	/* A memory body rewinds the same way. */
	rv_buf_reset(&body);
	x.body_from_fd = false;
	x.body = "from memory";
	x.body_len = 11;
	atomic_store(&drop_next, 1);
	assert_int_equal(rv_http_perform(c, &x, &o), 0);
	assert_int_equal(o.status, 200);
	assert_string_equal(rv_buf_str(&body), "from memory");
	assert_int_equal(atomic_load(&dropped), 2);

	curl_easy_cleanup(c);
	rv_buf_release(&body);
	close(fd);
}

static void test_upload_input_shrank(void **state)
{
	int fd = tmpfile_with("short", 5);
	struct rv_http_xfer x = {
	    .method = "PUT",
	    .url = url_of("/echo"),
	    .what = "s3 put 'k'",
	    .body_from_fd = true,
	    .body_fd = fd,
	    .body_len = 100,
	};
	struct rv_http_outcome o;

	(void)state;
	assert_int_equal(rv_http_perform(NULL, &x, &o), RV_EFAIL);
	assert_string_equal(rv_errmsg(),
			    "s3 put 'k': the input file shrank while it was being uploaded");
	close(fd);
}

static void test_download_to_fd_with_limit(void **state)
{
	int fd = tmpfile_with("", 0);
	struct rv_http_xfer x = {.method = "GET",
				 .url = url_of("/hello"),
				 .out_to_fd = true,
				 .out_fd = fd,
				 .out_limit = 5};
	struct rv_http_outcome o;
	char got[16] = "";

	(void)state;
	assert_int_equal(rv_http_perform(NULL, &x, &o), 0);
	assert_int_equal(o.curl, CURLE_OK);
	assert_int_equal(o.got, 11);
	assert_int_equal(o.written, 5);
	assert_int_equal(pread(fd, got, sizeof(got) - 1, 0), 5);
	assert_string_equal(got, "hello");
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_body_headers),
	    cmocka_unit_test(test_error_body_is_cut_not_failed),
	    cmocka_unit_test(test_cap_exceeded),
	    cmocka_unit_test(test_connection_refused),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_shutdown_interrupts),
	    cmocka_unit_test(test_upload_from_fd_rewinds),
	    cmocka_unit_test(test_upload_input_shrank),
	    cmocka_unit_test(test_download_to_fd_with_limit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
