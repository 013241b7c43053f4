/* test_rfc2136.c - the RFC 2136 provider and the switch against a real BIND
 * 9.18 started for the test (tests/lib/bind.sh: zone example.test, TSIG key
 * rv-test, hmac-sha256):
 *   - show finds which site a name points at (A set, CNAME), and an
 *     external-dns ownership record;
 *   - switch DC -> DR -> DC, each verified with dig at that server, with a
 *     new SOA serial, and a second switch to the same site changes nothing;
 *   - a record changed behind revenant's back: refused, nothing changed;
 *     a compare-and-swap that loses the race: RV_EPRECOND, nothing changed;
 *   - a wrong secret, a wrong key name: RV_EAUTH, nothing changed;
 *   - external-dns owns the name: refused;
 *   - hmac-sha384 refused up front; the server stopped: RV_ENET within the
 *     timeout.
 * Also the p50/p99 of 100 switches (printed, not asserted). */
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

struct bind {
	char dir[64];
	char port[16], secret[128];
};

static struct bind B;

static const char *testdir(void)
{
	const char *d = getenv("RV_TESTDIR");

	if (!d) {
		fprintf(stderr, "RV_TESTDIR is not set (run through ctest)\n");
		exit(1);
	}
	return d;
}

static void env_get(const char *dir, const char *var, char *out, size_t n)
{
	char path[128], line[256];
	size_t vl = strlen(var);
	FILE *f;

	snprintf(path, sizeof(path), "%s/env", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, var, vl) && line[vl] == '=') {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, n, "%s", line + vl + 1);
		}
	fclose(f);
	assert_true(out[0] != '\0');
}

static int group_setup(void **state)
{
	char *cmd;
	int rc;

	(void)state;
	rv_log_setup(RV_LOG_ERROR, RV_LOG_LOGFMT);
	snprintf(B.dir, sizeof(B.dir), "/tmp/rv-bind.XXXXXX");
	if (!mkdtemp(B.dir))
		return -1;
	cmd = rv_asprintf("bash '%s/lib/bind.sh' start '%s'", testdir(), B.dir);
	rc = system(cmd);
	free(cmd);
	if (rc != 0) {
		fprintf(stderr, "FAIL: cannot start BIND (tests/lib/bind.sh)\n");
		return -1;
	}
	env_get(B.dir, "BIND_PORT", B.port, sizeof(B.port));
	env_get(B.dir, "BIND_KEY_SECRET", B.secret, sizeof(B.secret));
	return 0;
}

static int group_teardown(void **state)
{
	char *cmd = rv_asprintf("[ ! -f '%s/named.pid' ] || bash '%s/lib/bind.sh' stop '%s'; "
				"rm -rf '%s'",
				B.dir, testdir(), B.dir, B.dir);

	(void)state;
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not stop BIND in %s\n", B.dir);
	free(cmd);
	return 0;
}

static struct rv_dns_rfc2136_opts opts(void)
{
	return (struct rv_dns_rfc2136_opts){
	    .server = "127.0.0.1",
	    .port = (unsigned)strtoul(B.port, NULL, 10),
	    .zone = "example.test",
	    .key_name = "rv-test",
	    .key_secret = B.secret,
	    .timeout_ms = 1000,
	};
}

static void open_ok(struct rv_dns_provider *p)
{
	struct rv_dns_rfc2136_opts o = opts();

	if (rv_dns_rfc2136_open(p, &o))
		fail_msg("%s", rv_errmsg());
}

/* What BIND answers, through dig (the second client). */
static void dig(const char *name, const char *type, char *out, size_t n)
{
	bool full = strstr(type, "+answer") != NULL;
	char *cmd = rv_asprintf("dig @127.0.0.1 -p %s %s +time=2 +tries=1 %s %s | sort | "
				"paste -sd, -",
				B.port, full ? "" : "+short", name, type);
	FILE *f = popen(cmd, "r");

	assert_non_null(f);
	out[0] = '\0';
	if (!fgets(out, (int)n, f))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	assert_int_equal(pclose(f), 0);
	free(cmd);
}

static void nsupdate(const char *cmds)
{
	char *cmd = rv_asprintf("printf 'server 127.0.0.1 %s\\nzone example.test\\n%s\\nsend\\n' | "
				"nsupdate -k '%s/key.conf'",
				B.port, cmds, B.dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void site(struct rv_dns_record *r, unsigned i, const char *name, const char *v1,
		 const char *v2)
{
	struct rv_dns_site *s = &r->sites[i];

	snprintf(s->name, sizeof(s->name), "%s", name);
	assert_int_equal(rv_dns_value_canon(r->type, v1, s->values.v[0]), 0);
	s->values.n = 1;
	if (v2) {
		assert_int_equal(rv_dns_value_canon(r->type, v2, s->values.v[1]), 0);
		s->values.n = 2;
	}
	if (r->nsites <= i)
		r->nsites = i + 1;
}

static struct rv_dns_record www(void)
{
	struct rv_dns_record r = {.name = "www.example.test.", .type = RV_DNS_A, .ttl = 30};

	site(&r, 0, "dc", "192.0.2.10", NULL);
	site(&r, 1, "dr", "198.51.100.20", "198.51.100.21");
	return r;
}

static void test_show(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r = www(),
			     c = {.name = "blog.example.test.", .type = RV_DNS_CNAME, .ttl = 30};
	struct rv_dns_answer a;
	char s[64];

	(void)state;
	site(&c, 0, "dc", "dc-lb.example.test", NULL);
	site(&c, 1, "dr", "dr-lb.example.test.", NULL);
	open_ok(&p);
	assert_int_equal(rv_dns_show(&p, &r, &a, s), 0);
	assert_true(a.exists);
	assert_string_equal(s, "dc");
	assert_int_equal(a.ttl, 60);
	assert_false(a.external_dns);
	assert_true(a.has_serial);
	assert_int_equal(rv_dns_show(&p, &c, &a, s), 0);
	assert_string_equal(s, "dc");
	assert_string_equal(a.values.v[0], "dc-lb.example.test.");
	rv_dns_provider_close(&p);
}

static void test_switch_and_back(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r = www();
	struct rv_dns_switch_result res;
	char got[256];
	uint32_t serial0;
	struct rv_dns_answer a;
	char s[64];

	(void)state;
	open_ok(&p);
	assert_int_equal(rv_dns_show(&p, &r, &a, s), 0);
	serial0 = a.serial;

	/* a dry run decides and changes nothing */
	assert_int_equal(rv_dns_switch(&p, &r, "dr", true, &res), 0);
	assert_false(res.changed);
	assert_string_equal(res.from_site, "dc");
	dig("www.example.test", "A", got, sizeof(got));
	assert_string_equal(got, "192.0.2.10");

	if (rv_dns_switch(&p, &r, "dr", false, &res))
		fail_msg("%s", rv_errmsg());
	assert_true(res.changed);
	assert_string_equal(res.from_site, "dc");
	assert_true(res.change.has_serial);
	assert_true(res.change.serial != serial0);
	dig("www.example.test", "A", got, sizeof(got));
	assert_string_equal(got, "198.51.100.20,198.51.100.21");
	/* the new records carry the record's TTL */
	dig("www.example.test", "A +noall +answer +nottlunits", got, sizeof(got));
	assert_non_null(strstr(got, "\t30\tIN\tA\t198.51.100.20"));

	/* already there: nothing to do */
	assert_int_equal(rv_dns_switch(&p, &r, "dr", false, &res), 0);
	assert_false(res.changed);
	assert_string_equal(res.from_site, "dr");

	if (rv_dns_switch(&p, &r, "dc", false, &res))
		fail_msg("%s", rv_errmsg());
	assert_true(res.changed);
	assert_string_equal(res.from_site, "dr");
	dig("www.example.test", "A", got, sizeof(got));
	assert_string_equal(got, "192.0.2.10");

	/* a site the record has no target for */
	assert_int_equal(rv_dns_switch(&p, &r, "eu3", false, &res), RV_EUSAGE);
	rv_dns_provider_close(&p);
}

static void test_changed_behind_our_back(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r = www();
	struct rv_dns_switch_result res;
	struct rv_dns_values from = r.sites[0].values;
	struct rv_dns_change_result cr;
	char got[256];

	(void)state;
	open_ok(&p);
	/* someone points it elsewhere: the switch refuses to overwrite it */
	nsupdate("update delete www.example.test A\\nupdate add www.example.test 60 A 203.0.113.9");
	assert_int_equal(rv_dns_switch(&p, &r, "dr", false, &res), RV_EPRECOND);
	fprintf(stderr, "changed: %s\n", rv_errmsg());
	assert_non_null(strstr(rv_errmsg(), "203.0.113.9"));
	assert_non_null(strstr(rv_errmsg(), "no site's target"));
	dig("www.example.test", "A", got, sizeof(got));
	assert_string_equal(got, "203.0.113.9");

	/* the compare-and-swap itself: read dc, then someone changed it */
	assert_int_equal(p.ops->change(p.h, &r, &from, &r.sites[1].values, &cr), RV_EPRECOND);
	assert_non_null(strstr(rv_errmsg(), "changed since revenant read it"));
	dig("www.example.test", "A", got, sizeof(got));
	assert_string_equal(got, "203.0.113.9");

	nsupdate("update delete www.example.test A\\nupdate add www.example.test 60 A 192.0.2.10");
	rv_dns_provider_close(&p);
}

static void test_wrong_key(void **state)
{
	struct rv_dns_rfc2136_opts o = opts();
	struct rv_dns_provider p;
	struct rv_dns_record r = www();
	struct rv_dns_switch_result res;
	char got[256];

	(void)state;
	o.key_secret = "c2VjcmV0IHRoYXQgaXMgbm90IHRoZSBzZXJ2ZXIncyBrZXkgISEhISE=";
	assert_int_equal(rv_dns_rfc2136_open(&p, &o), 0);
	assert_int_equal(rv_dns_switch(&p, &r, "dr", false, &res), RV_EAUTH);
	fprintf(stderr, "wrong secret: %s\n", rv_errmsg());
	assert_non_null(strstr(rv_errmsg(), "rv-test"));
	assert_null(strstr(rv_errmsg(), o.key_secret));
	rv_dns_provider_close(&p);

	o = opts();
	o.key_name = "not-the-key";
	assert_int_equal(rv_dns_rfc2136_open(&p, &o), 0);
	assert_int_equal(rv_dns_switch(&p, &r, "dr", false, &res), RV_EAUTH);
	fprintf(stderr, "wrong key name: %s\n", rv_errmsg());
	assert_non_null(strstr(rv_errmsg(), "not-the-key"));
	rv_dns_provider_close(&p);
	dig("www.example.test", "A", got, sizeof(got));
	assert_string_equal(got, "192.0.2.10");
}

static void test_external_dns(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r = {.name = "owned.example.test.", .type = RV_DNS_A, .ttl = 30};
	struct rv_dns_switch_result res;
	char got[256];

	(void)state;
	site(&r, 0, "dc", "192.0.2.30", NULL);
	site(&r, 1, "dr", "198.51.100.30", NULL);
	open_ok(&p);
	assert_int_equal(rv_dns_switch(&p, &r, "dr", false, &res), RV_EUSAGE);
	assert_non_null(strstr(rv_errmsg(), "external-dns"));
	assert_non_null(strstr(rv_errmsg(), "owner 'dc'"));
	rv_dns_provider_close(&p);
	dig("owned.example.test", "A", got, sizeof(got));
	assert_string_equal(got, "192.0.2.30");
}

static void test_bad_config(void **state)
{
	struct rv_dns_rfc2136_opts o = opts();
	struct rv_dns_provider p;

	(void)state;
	o.key_algorithm = "hmac-sha384";
	assert_int_equal(rv_dns_rfc2136_open(&p, &o), RV_EUSAGE);
	assert_non_null(strstr(rv_errmsg(), "hmac-sha256"));
	o.key_algorithm = "hmac-sha224";
	assert_int_equal(rv_dns_rfc2136_open(&p, &o), RV_EUSAGE);
	o = opts();
	o.server = "ns1.example.test";
	assert_int_equal(rv_dns_rfc2136_open(&p, &o), RV_EUSAGE);
	assert_non_null(strstr(rv_errmsg(), "not an IP address"));
	o = opts();
	o.key_algorithm = "hmac-sha512";
	assert_int_equal(rv_dns_rfc2136_open(&p, &o), 0); /* opens; the key does not match */
	rv_dns_provider_close(&p);
}

/* 100 switches back and forth: p50 and p99 of switch + verification. */
static void test_timing(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r = www();
	struct rv_dns_switch_result res;
	int64_t ms[100];

	(void)state;
	open_ok(&p);
	for (int i = 0; i < 100; i++) {
		int64_t t0 = rv_mono_ms();

		if (rv_dns_switch(&p, &r, i % 2 ? "dc" : "dr", false, &res))
			fail_msg("%s", rv_errmsg());
		assert_true(res.changed);
		ms[i] = rv_mono_ms() - t0;
	}
	for (int i = 1; i < 100; i++)
		for (int j = i; j > 0 && ms[j - 1] > ms[j]; j--) {
			int64_t t = ms[j];
			ms[j] = ms[j - 1];
			ms[j - 1] = t;
		}
	fprintf(stderr,
		"rfc2136 switch (read, update, verify), 100 runs: p50 %lld ms, p99 %lld ms\n",
		(long long)ms[49], (long long)ms[98]);
	rv_dns_provider_close(&p);
}

/* Last: it stops the server. */
static void test_server_down(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r = www();
	struct rv_dns_switch_result res;
	char *cmd = rv_asprintf("bash '%s/lib/bind.sh' stop '%s'", testdir(), B.dir);
	int64_t t0;

	(void)state;
	assert_int_equal(system(cmd), 0);
	free(cmd);
	open_ok(&p);
	t0 = rv_mono_ms();
	assert_int_equal(rv_dns_switch(&p, &r, "dr", false, &res), RV_ENET);
	fprintf(stderr, "server down: %s\n", rv_errmsg());
	assert_true(rv_mono_ms() - t0 < 5000);
	assert_non_null(strstr(rv_errmsg(), "127.0.0.1 port"));
	rv_dns_provider_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_show),
	    cmocka_unit_test(test_switch_and_back),
	    cmocka_unit_test(test_changed_behind_our_back),
	    cmocka_unit_test(test_wrong_key),
	    cmocka_unit_test(test_external_dns),
	    cmocka_unit_test(test_bad_config),
	    cmocka_unit_test(test_timing),
	    cmocka_unit_test(test_server_down),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
