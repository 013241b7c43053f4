/* Retries and failures with tests/fakes/faultproxy.py between the backend
 * and a real s3rver: 503 SlowDown, connection resets, a stalled server, a
 * permanently failing server against a deadline, and s3rver killed in the
 * middle of a multipart upload. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

#include "s3_harness.h"
#include "core/buf.h"
#include "core/log.h"

#define BUCKET "rv-faults"

static struct s3srv srv;
/* The running proxy, stopped by teardown when an assertion jumps out. */
static struct fproxy proxy;

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	rv_log_setup(RV_LOG_WARN, RV_LOG_LOGFMT);
	if (s3srv_start(&srv, NULL, 0) || s3srv_mkbucket(&srv, BUCKET)) {
		fprintf(stderr, "FAIL: s3rver did not start or bucket creation failed\n");
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fproxy_stop(&proxy);
	s3srv_cleanup(&srv);
	return 0;
}

static int test_teardown(void **state)
{
	(void)state;
	fproxy_stop(&proxy);
	return 0;
}

static struct rv_store *open_at(int port, struct rv_store_opts *o)
{
	struct rv_store *s = NULL;

	assert_int_equal(rv_store_open(&s, h_url(port, BUCKET, "f"), o), 0);
	return s;
}

/* The object as s3rver has it, read directly (not through the proxy). */
static void check_direct(const char *key, const void *data, size_t len)
{
	struct rv_store_opts o;
	struct rv_store *s;
	struct rv_buf b = RV_BUF_INIT(64u << 20);

	h_opts(&o);
	s = open_at(srv.port, &o);
	assert_int_equal(rv_store_get_buf(s, key, &b, NULL), 0);
	assert_int_equal(b.len, len);
	assert_memory_equal(b.data, data, len);
	rv_buf_release(&b);
	rv_store_free(s);
}

static void test_slowdown_then_ok(void **state)
{
	struct fproxy *pp = &proxy;
	struct rv_store_opts o;
	struct rv_store *s;
	int faults, reqs;

	(void)state;
	assert_int_equal(fproxy_start(pp, srv.port, "slowdown", 3, 0), 0);
	h_opts(&o);
	o.retry_base_ms = 20;
	s = open_at(pp->port, &o);
	assert_int_equal(rv_store_put_buf(s, "slow", "after three 503s", 16, NULL), 0);
	faults = fproxy_faults(pp, &reqs);
	assert_int_equal(faults, 3);
	assert_int_equal(reqs, 4);
	rv_store_free(s);
	fproxy_stop(pp);
	check_direct("slow", "after three 503s", 16);
}

static void test_resets_multipart(void **state)
{
	struct fproxy *pp = &proxy;
	struct rv_store_opts o;
	struct rv_store *s;
	size_t len = (11u << 20) + 11;
	char *data = malloc(len);
	int faults, reqs;

	(void)state;
	for (size_t i = 0; i < len; i++)
		data[i] = (char)(i * 31 + (i >> 12));
	/* Resets hit CreateMultipartUpload and the first parts. */
	assert_int_equal(fproxy_start(pp, srv.port, "reset", 4, 0), 0);
	h_opts(&o);
	o.part_size = 5u << 20;
	o.multipart_threshold = 5u << 20;
	o.retry_base_ms = 20;
	s = open_at(pp->port, &o);
	assert_int_equal(rv_store_put_buf(s, "reset/mp", data, len, NULL), 0);
	faults = fproxy_faults(pp, &reqs);
	assert_int_equal(faults, 4);
	assert_true(reqs >= 4 + 5); /* create, 3 parts, complete */
	rv_store_free(s);
	fproxy_stop(pp);
	check_direct("reset/mp", data, len);
	free(data);
}

static void test_stall_then_ok(void **state)
{
	struct fproxy *pp = &proxy;
	struct rv_store_opts o;
	struct rv_store *s;
	int64_t t0;
	int faults, reqs;

	(void)state;
	assert_int_equal(fproxy_start(pp, srv.port, "stall", 1, 30), 0);
	h_opts(&o);
	o.request_timeout_ms = 2000;
	o.retry_base_ms = 20;
	s = open_at(pp->port, &o);
	t0 = rv_mono_ms();
	assert_int_equal(rv_store_put_buf(s, "stalled", "x", 1, NULL), 0);
	/* One attempt timed out (not the 30 s stall), the next went through. */
	assert_true(rv_mono_ms() - t0 >= 1800);
	assert_true(rv_mono_ms() - t0 < 10000);
	faults = fproxy_faults(pp, &reqs);
	assert_int_equal(faults, 1);
	assert_int_equal(reqs, 2);
	rv_store_free(s);
	fproxy_stop(pp);
	check_direct("stalled", "x", 1);
}

static void test_deadline(void **state)
{
	struct fproxy *pp = &proxy;
	struct rv_store_opts o;
	struct rv_store *s;
	int64_t t0, took;

	(void)state;
	assert_int_equal(fproxy_start(pp, srv.port, "slowdown", -1, 0), 0);
	h_opts(&o);
	o.deadline_ms = 2000;
	o.max_attempts = 1000;
	o.retry_base_ms = 50;
	o.retry_cap_ms = 400;
	s = open_at(pp->port, &o);
	t0 = rv_mono_ms();
	assert_int_equal(rv_store_put_buf(s, "never", "x", 1, NULL), RV_ENET);
	took = rv_mono_ms() - t0;
	assert_true(took <= 2100);
	assert_non_null(strstr(rv_errmsg(), "s3 put 'never'"));
	assert_non_null(strstr(rv_errmsg(), "503 SlowDown"));
	assert_non_null(strstr(rv_errmsg(), "kept failing"));
	fprintf(stderr, "deadline: gave up after %lld ms: %s\n", (long long)took, rv_errmsg());
	rv_store_free(s);
	fproxy_stop(pp);
}

/* The deadline ends an attempt that stalls after a 503: the error must name
 * the 503 the server kept answering, not the timeout revenant imposed. */
static void test_deadline_cuts_attempt(void **state)
{
	struct fproxy *pp = &proxy;
	struct rv_store_opts o;
	struct rv_store *s;
	int faults, reqs;

	(void)state;
	assert_int_equal(fproxy_start(pp, srv.port, "slowstall", -1, 30), 0);
	h_opts(&o);
	o.deadline_ms = 1500;
	o.max_attempts = 1000;
	o.retry_base_ms = 10;
	o.retry_cap_ms = 20;
	s = open_at(pp->port, &o);
	assert_int_equal(rv_store_put_buf(s, "cut", "x", 1, NULL), RV_ENET);
	fprintf(stderr, "deadline cut an attempt: %s\n", rv_errmsg());
	assert_non_null(strstr(rv_errmsg(), "503 SlowDown"));
	assert_non_null(strstr(rv_errmsg(), "kept failing"));
	assert_null(strstr(rv_errmsg(), "timed out"));
	faults = fproxy_faults(pp, &reqs);
	assert_int_equal(reqs, 2);
	assert_int_equal(faults, 2);
	rv_store_free(s);
	fproxy_stop(pp);
}

struct killer {
	int fd;
	uint64_t before, after;
};

static void *feed_and_kill(void *arg)
{
	struct killer *k = arg;
	char buf[65536];
	uint64_t done = 0;

	memset(buf, 'k', sizeof(buf));
	while (done < k->before + k->after) {
		if (done == k->before) {
			/* Let the first parts land, then kill the server hard. */
			usleep(500000);
			s3srv_kill(&srv, SIGKILL);
		}
		if (rv_write_all(k->fd, buf, sizeof(buf)))
			break; /* the put gave up and closed the pipe */
		done += sizeof(buf);
	}
	close(k->fd);
	return NULL;
}

static void test_server_killed_mid_multipart(void **state)
{
	struct rv_store_opts o;
	struct rv_store *s;
	struct killer k;
	pthread_t th;
	struct rv_list_page page;
	int p[2], port = srv.port;
	char dir[256];

	(void)state;
	h_opts(&o);
	o.part_size = 5u << 20;
	o.multipart_threshold = 5u << 20;
	o.parts_in_flight = 1;
	o.deadline_ms = 3000;
	o.retry_base_ms = 50;
	s = open_at(port, &o);
	assert_int_equal(pipe(p), 0);
	k.fd = p[1];
	k.before = 11u << 20;
	k.after = 20u << 20;
	assert_int_equal(pthread_create(&th, NULL, feed_and_kill, &k), 0);
	assert_int_equal(rv_store_put_fd(s, "killed/obj", p[0], UINT64_MAX, NULL), RV_ENET);
	assert_non_null(strstr(rv_errmsg(), "killed/obj"));
	assert_non_null(strstr(rv_errmsg(), "is the endpoint right and the server up?"));
	fprintf(stderr, "killed server: %s\n", rv_errmsg());
	close(p[0]);
	pthread_join(th, NULL);

	/* Back up on the same data: nothing is visible under the key. */
	snprintf(dir, sizeof(dir), "%s", srv.dir);
	assert_int_equal(s3srv_start(&srv, dir, port), 0);
	assert_int_equal(rv_store_list_page(s, "killed/", NULL, 0, &page), 0);
	assert_int_equal(page.count, 0);
	rv_list_page_release(&page);
	{
		struct rv_obj_info info;
		assert_int_equal(rv_store_head(s, "killed/obj", &info), RV_ENOTFOUND);
	}
	rv_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_slowdown_then_ok, test_teardown),
	    cmocka_unit_test_teardown(test_resets_multipart, test_teardown),
	    cmocka_unit_test_teardown(test_stall_then_ok, test_teardown),
	    cmocka_unit_test_teardown(test_deadline, test_teardown),
	    cmocka_unit_test_teardown(test_deadline_cuts_attempt, test_teardown),
	    cmocka_unit_test_teardown(test_server_killed_mid_multipart, test_teardown),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
