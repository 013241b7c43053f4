/* test_exec.c - the exec provider (dns/exec.c) and the switch through it,
 * with tests/fixtures/dns/exec_provider.sh keeping the record in a file:
 * read, a switch there and back, the record changed behind our back (exit
 * 6 -> RV_EPRECOND, nothing changed), a failing command (its stderr line in
 * the message), output that is no value (RV_ECORRUPT), a command that hangs
 * (killed at the timeout), and a command that does not exist. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "dns/dns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], state_path[128], script[512];

static void put_state(const char *text)
{
	FILE *f = fopen(state_path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *get_state(void)
{
	char *t = NULL;
	size_t n;

	assert_int_equal(rv_read_file(state_path, 4096, &t, &n), 0);
	return t;
}

static int setup(void **state)
{
	const char *td = getenv("RV_TESTDIR");

	(void)state;
	if (!td)
		return -1;
	rv_log_setup(RV_LOG_ERROR, RV_LOG_LOGFMT);
	snprintf(dir, sizeof(dir), "/tmp/rv-dnsexec.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(state_path, sizeof(state_path), "%s/record", dir);
	snprintf(script, sizeof(script), "%s/fixtures/dns/exec_provider.sh", td);
	setenv("RV_EXEC_STATE", state_path, 1);
	return 0;
}

static int teardown(void **state)
{
	char *cmd = rv_asprintf("rm -rf '%s'", dir);

	(void)state;
	if (system(cmd) != 0)
		fprintf(stderr, "warning: cannot remove %s\n", dir);
	free(cmd);
	return 0;
}

static struct rv_dns_record rec(void)
{
	struct rv_dns_record r = {
	    .name = "blog.example.com.", .type = RV_DNS_A, .ttl = 45, .nsites = 2};

	snprintf(r.sites[0].name, sizeof(r.sites[0].name), "dc");
	snprintf(r.sites[0].values.v[0], RV_DNS_NAME_MAX, "192.0.2.10");
	r.sites[0].values.n = 1;
	snprintf(r.sites[1].name, sizeof(r.sites[1].name), "dr");
	snprintf(r.sites[1].values.v[0], RV_DNS_NAME_MAX, "198.51.100.21");
	snprintf(r.sites[1].values.v[1], RV_DNS_NAME_MAX, "198.51.100.20");
	r.sites[1].values.n = 2;
	return r;
}

static void test_switch(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r = rec();
	struct rv_dns_switch_result res;
	struct rv_dns_answer a;
	char site[64], *t;

	(void)state;
	unsetenv("RV_EXEC_MODE");
	put_state("192.0.2.10\n");
	if (rv_dns_exec_open(&p, script, 5000))
		fail_msg("%s", rv_errmsg());
	assert_int_equal(rv_dns_show(&p, &r, &a, site), 0);
	assert_string_equal(site, "dc");
	if (rv_dns_switch(&p, &r, "dr", false, &res))
		fail_msg("%s", rv_errmsg());
	assert_true(res.changed);
	t = get_state();
	assert_string_equal(t, "198.51.100.21\n198.51.100.20\n");
	free(t);
	assert_int_equal(rv_dns_switch(&p, &r, "dr", false, &res), 0);
	assert_false(res.changed);
	assert_int_equal(rv_dns_switch(&p, &r, "dc", false, &res), 0);
	assert_true(res.changed);
	t = get_state();
	assert_string_equal(t, "192.0.2.10\n");
	free(t);

	/* the compare-and-swap lost: exit 6, nothing changed */
	put_state("203.0.113.7\n");
	assert_int_equal(
	    p.ops->change(p.h, &r, &r.sites[0].values, &r.sites[1].values, &res.change),
	    RV_EPRECOND);
	assert_non_null(strstr(rv_errmsg(), "record holds '203.0.113.7'"));
	t = get_state();
	assert_string_equal(t, "203.0.113.7\n");
	free(t);
	/* and the switch refuses to overwrite a value no site owns */
	assert_int_equal(rv_dns_switch(&p, &r, "dr", false, &res), RV_EPRECOND);
	rv_dns_provider_close(&p);
}

static void test_misbehaving(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r = rec();
	struct rv_dns_answer a;
	char site[64];
	int64_t t0;

	(void)state;
	put_state("192.0.2.10\n");
	assert_int_equal(rv_dns_exec_open(&p, script, 1000), 0);
	setenv("RV_EXEC_MODE", "fail", 1);
	assert_int_equal(rv_dns_show(&p, &r, &a, site), RV_EFAIL);
	assert_non_null(strstr(rv_errmsg(), "exited 3: provider API said: 401 Unauthorized"));
	setenv("RV_EXEC_MODE", "junk", 1);
	assert_int_equal(rv_dns_show(&p, &r, &a, site), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "'not an address'"));
	setenv("RV_EXEC_MODE", "slow", 1);
	t0 = rv_mono_ms();
	assert_int_equal(rv_dns_show(&p, &r, &a, site), RV_ENET);
	assert_true(rv_mono_ms() - t0 < 5000);
	assert_non_null(strstr(rv_errmsg(), "did not finish within 1000 ms"));
	unsetenv("RV_EXEC_MODE");
	rv_dns_provider_close(&p);

	assert_int_equal(rv_dns_exec_open(&p, "/nonexistent/switch-dns", 1000), RV_EUSAGE);
	assert_int_equal(rv_dns_exec_open(&p, "relative/path", 1000), RV_EUSAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_switch),
	    cmocka_unit_test(test_misbehaving),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
