/* test_metrics.c - the registry's exposition text, and the HTTP endpoint
 * answering /metrics, /healthz (200 and 503) and 404 through libcurl. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/mem.h"
#include "metrics/metrics.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static void test_render(void **state)
{
	struct rv_metrics *m;
	struct rv_buf b = RV_BUF_INIT(1 << 16);

	(void)state;
	rv_metrics_new(&m);
	rv_metric_add(rv_metrics_counter(m, "x_total", "Xs.", NULL), 2);
	rv_metric_set(rv_metrics_gauge(m, "g", "A gauge.", NULL), 1.5);
	rv_metrics_error(m, "store");
	rv_metric_add(rv_metrics_counter(m, "x_total", "Xs.", NULL), 3); /* same metric */
	rv_metrics_error(m, "upload");
	rv_metrics_error(m, "store");
	assert_int_equal(rv_metrics_render(m, &b), 0);
	assert_string_equal(rv_buf_str(&b), "# HELP x_total Xs.\n# TYPE x_total counter\n"
					    "x_total 5\n"
					    "# HELP g A gauge.\n# TYPE g gauge\n"
					    "g 1.5\n"
					    "# HELP revenant_errors_total Errors by kind.\n"
					    "# TYPE revenant_errors_total counter\n"
					    "revenant_errors_total{kind=\"store\"} 2\n"
					    "revenant_errors_total{kind=\"upload\"} 1\n");
	rv_buf_release(&b);
	rv_metrics_free(m);
}

static int healthy = 1;

static int health(void *ud, char *why, size_t n)
{
	(void)ud;
	if (healthy)
		return 0;
	snprintf(why, n, "store down");
	return -1;
}

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
	return rv_buf_add(ud, p, sz * n) ? 0 : sz * n;
}

static long get(unsigned port, const char *path, struct rv_buf *body)
{
	char url[128];
	CURL *c = curl_easy_init();
	long code = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	rv_buf_reset(body);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	return code;
}

static void test_server(void **state)
{
	struct rv_metrics *m;
	struct rv_metrics_server *s;
	struct rv_buf b = RV_BUF_INIT(1 << 16);
	unsigned port;

	(void)state;
	rv_metrics_new(&m);
	rv_metric_set(rv_metrics_gauge(m, "revenant_lease_epoch", "Epoch.", NULL), 4);
	assert_int_equal(rv_metrics_serve(&s, "127.0.0.1:0", m, health, NULL), 0);
	port = rv_metrics_server_port(s);
	assert_true(port > 0);
	assert_int_equal(get(port, "/metrics", &b), 200);
	assert_non_null(strstr(rv_buf_str(&b), "\nrevenant_lease_epoch 4\n"));
	assert_int_equal(get(port, "/healthz", &b), 200);
	assert_string_equal(rv_buf_str(&b), "ok\n");
	healthy = 0;
	assert_int_equal(get(port, "/healthz", &b), 503);
	assert_string_equal(rv_buf_str(&b), "store down\n");
	assert_int_equal(get(port, "/other", &b), 404);
	/* The port is taken now: a second server there is a clear error. */
	{
		char addr[32];
		struct rv_metrics_server *s2;

		snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
		assert_int_equal(rv_metrics_serve(&s2, addr, m, NULL, NULL), RV_EUSAGE);
	}
	rv_metrics_server_free(s);
	rv_buf_release(&b);
	rv_metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_render),
	    cmocka_unit_test(test_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
