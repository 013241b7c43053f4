/* test_route53.c - the Route 53 provider and the switch against
 * tests/fakes/route53.py, which checks every request's SigV4 signature with
 * botocore and its body against botocore's Route 53 model, and applies
 * change batches with Route 53's all-or-nothing, exact-match semantics:
 *   - a plain A record DC -> DR -> DC, read back from the fake's state, the
 *     second switch to the same site a no-op; a record that does not exist
 *     is CREATEd;
 *   - an alias record and a weighted pair, switched; a weighted state that
 *     is no site's (both above 0) refused, nothing changed;
 *   - changed behind revenant's back between read and change (values, or
 *     only the TTL): RV_EPRECOND from Route 53's refusal, nothing changed;
 *   - AccessDenied on each call: RV_EAUTH naming the IAM action; an expired
 *     token: refreshed once; Throttling twice, then through; NoSuchHostedZone:
 *     RV_EUSAGE naming dns.route53.zone_id; external-dns: refused;
 *   - PENDING for 1 s: the switch returns soon after INSYNC (printed; a
 *     generous bound asserted);
 *   - a session token is sent and signed; a wrong secret: RV_EAUTH;
 *   - upsert sends one UPSERT; INSYNC later than the timeout: RV_ENET. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "aws/creds.h"
#include "core/http.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "dns/dns.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define AKID   "AKIDREVENANTTEST"
#define SECRET "revenant/route53+fake/secret"
#define ZONE   "Z1EXAMPLE"

struct fake {
	char dir[64];
	char base[64];
	pid_t pid;
};

/* The one fake of the running test: the teardown stops it even when an
 * assertion jumped out of the test. */
static struct fake F;

static void fake_stop(struct fake *f);

static const char *testdir(void)
{
	const char *d = getenv("RV_TESTDIR");

	if (!d) {
		fprintf(stderr, "RV_TESTDIR is not set (run through ctest)\n");
		exit(1);
	}
	return d;
}

/* Start the fake with `state` (a JSON list of record sets). */
static void fake_start(struct fake *f, const char *state, const char *delay)
{
	char state_path[128], port_path[128], script[512], port[16] = "";
	FILE *fp;

	fake_stop(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/rv-r53.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(state_path, sizeof(state_path), "%s/state.json", f->dir);
	snprintf(port_path, sizeof(port_path), "%s/port", f->dir);
	snprintf(script, sizeof(script), "%s/fakes/route53.py", testdir());
	fp = fopen(state_path, "w");
	assert_non_null(fp);
	fputs(state, fp);
	fclose(fp);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		execl("/usr/bin/python3", "python3", script, "--port-file", port_path, "--state",
		      state_path, "--zone-id", ZONE, "--insync-delay", delay, "--access-key", AKID,
		      "--secret-key", SECRET, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && !port[0]; i++) {
		fp = fopen(port_path, "r");
		if (fp) {
			if (!fgets(port, sizeof(port), fp))
				port[0] = '\0';
			fclose(fp);
		}
		if (!port[0])
			usleep(25000);
	}
	if (!port[0])
		fail_msg("FAIL: the Route 53 fake did not start (python3-botocore installed?)");
	port[strcspn(port, "\n")] = '\0';
	snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%s", port);
}

static void fake_stop(struct fake *f)
{
	char cmd[128];

	if (!f->dir[0])
		return;
	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		waitpid(f->pid, NULL, 0);
		f->pid = 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	f->dir[0] = '\0';
}

static int teardown(void **state)
{
	(void)state;
	fake_stop(&F);
	return 0;
}

/* A control call; the answer's JSON (caller decrefs). */
static json_t *ctl(const struct fake *f, const char *method, const char *path, const char *body)
{
	char url[128];
	struct rv_http_req req = {
	    .method = method, .url = url, .body = body, .body_len = body ? strlen(body) : 0};
	struct rv_http_resp resp = {0};
	json_t *j;

	snprintf(url, sizeof(url), "%s%s", f->base, path);
	assert_int_equal(rv_http_do(&req, &resp), 0);
	assert_int_equal(resp.status, 200);
	j = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	assert_non_null(j);
	rv_http_resp_release(&resp);
	return j;
}

static void ctl_do(const struct fake *f, const char *method, const char *path, const char *body)
{
	json_decref(ctl(f, method, path, body));
}

/* The fake's set name/type/set-id (NULL when none), borrowed from `all`. */
static json_t *find_set(json_t *all, const char *name, const char *type, const char *id)
{
	size_t i;
	json_t *s;

	json_array_foreach(all, i, s)
	{
		const char *sid = json_string_value(json_object_get(s, "SetIdentifier"));

		if (!strcmp(json_string_value(json_object_get(s, "Name")), name) &&
		    !strcmp(json_string_value(json_object_get(s, "Type")), type) &&
		    ((!id && !sid) || (id && sid && !strcmp(id, sid))))
			return s;
	}
	return NULL;
}

/* The one value of a plain set in the fake, or "" when it has none. */
static const char *fake_value(json_t *all, const char *name, const char *id)
{
	json_t *s = find_set(all, name, "A", id);
	json_t *rr = s ? json_object_get(s, "ResourceRecords") : NULL;

	return rr ? json_string_value(json_object_get(json_array_get(rr, 0), "Value")) : "";
}

static int64_t stat_of(const struct fake *f, const char *key, const char *sub)
{
	json_t *j = ctl(f, "GET", "/_ctl/stats", NULL);
	json_t *v = json_object_get(j, key);
	int64_t n;

	if (sub)
		v = json_object_get(v, sub);
	n = v ? json_integer_value(v) : 0;
	json_decref(j);
	return n;
}

/* Nothing the fake refused as badly signed or off the model. */
static void assert_clean(const struct fake *f)
{
	assert_int_equal(stat_of(f, "bad_signature", NULL), 0);
	assert_int_equal(stat_of(f, "bad_body", NULL), 0);
}

static void open_creds(const struct fake *f, struct rv_dns_provider *p, const char *zone,
		       unsigned weight, const char *secret, const char *token)
{
	struct rv_creds_config cc = {
	    .access_key_id = AKID, .secret_access_key = secret, .session_token = token};
	struct rv_dns_route53_opts o = {.zone_id = zone,
					.endpoint = f->base,
					.weight = weight,
					.timeout_ms = 20000,
					.creds = &cc};

	if (rv_dns_route53_open(p, &o))
		fail_msg("open: %s", rv_errmsg());
}

static void open_p(const struct fake *f, struct rv_dns_provider *p, const char *zone,
		   unsigned weight)
{
	open_creds(f, p, zone, weight, SECRET, NULL);
}

static void site(struct rv_dns_record *r, const char *name, const char *value)
{
	struct rv_dns_site *s = &r->sites[r->nsites++];

	snprintf(s->name, sizeof(s->name), "%s", name);
	s->values.n = 1;
	if (r->alias)
		assert_int_equal(rv_dns_alias_canon(value, s->values.v[0]), 0);
	else
		assert_int_equal(rv_dns_value_canon(r->type, value, s->values.v[0]), 0);
}

static void plain_record(struct rv_dns_record *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "www.example.com.");
	r->type = RV_DNS_A;
	r->ttl = 30;
	site(r, "dc", "192.0.2.10");
	site(r, "dr", "198.51.100.20");
}

#define STATE_DC                                                                                   \
	"[{\"Name\":\"www.example.com.\",\"Type\":\"A\",\"TTL\":60,"                               \
	"\"ResourceRecords\":[{\"Value\":\"192.0.2.10\"}]}]"

static void test_plain_switch(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r;
	struct rv_dns_switch_result res;
	struct rv_dns_answer ans;
	char at[64];
	json_t *all;

	(void)state;
	fake_start(&F, STATE_DC, "0");
	open_p(&F, &p, ZONE, 0);
	plain_record(&r);
	assert_int_equal(rv_dns_show(&p, &r, &ans, at), 0);
	assert_string_equal(at, "dc");
	assert_int_equal(ans.ttl, 60);
	if (rv_dns_switch(&p, &r, "dr", false, &res))
		fail_msg("switch: %s", rv_errmsg());
	assert_true(res.changed);
	assert_string_equal(res.from_site, "dc");
	all = ctl(&F, "GET", "/_ctl/state", NULL);
	assert_string_equal(fake_value(all, "www.example.com.", NULL), "198.51.100.20");
	assert_int_equal(json_integer_value(
			     json_object_get(find_set(all, "www.example.com.", "A", NULL), "TTL")),
			 30);
	json_decref(all);
	assert_int_equal(rv_dns_switch(&p, &r, "dc", false, &res), 0);
	assert_true(res.changed);
	all = ctl(&F, "GET", "/_ctl/state", NULL);
	assert_string_equal(fake_value(all, "www.example.com.", NULL), "192.0.2.10");
	json_decref(all);
	assert_int_equal(rv_dns_switch(&p, &r, "dc", false, &res), 0);
	assert_false(res.changed);
	assert_int_equal(stat_of(&F, "requests", "ChangeResourceRecordSets"), 2);
	assert_clean(&F);
	rv_dns_provider_close(&p);
	fake_stop(&F);
}

static void test_create_when_absent(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r;
	struct rv_dns_switch_result res;
	json_t *all;

	(void)state;
	fake_start(&F, "[]", "0");
	open_p(&F, &p, ZONE, 0);
	plain_record(&r);
	if (rv_dns_switch(&p, &r, "dr", false, &res))
		fail_msg("switch: %s", rv_errmsg());
	assert_true(res.changed);
	assert_string_equal(res.from_site, "");
	all = ctl(&F, "GET", "/_ctl/state", NULL);
	assert_string_equal(fake_value(all, "www.example.com.", NULL), "198.51.100.20");
	json_decref(all);
	assert_clean(&F);
	rv_dns_provider_close(&p);
	fake_stop(&F);
}

#define DC_ALB "dualstack.dc-alb-1.eu-west-1.elb.amazonaws.com"
#define DR_ALB "dualstack.dr-alb-1.eu-central-1.elb.amazonaws.com"

static void test_alias_switch(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r;
	struct rv_dns_switch_result res;
	json_t *all, *at;

	(void)state;
	fake_start(&F,
		   "[{\"Name\":\"www.example.com.\",\"Type\":\"A\",\"AliasTarget\":{"
		   "\"HostedZoneId\":\"Z32O12XQLNTSW2\",\"DNSName\":\"" DC_ALB ".\","
		   "\"EvaluateTargetHealth\":false}}]",
		   "0");
	open_p(&F, &p, ZONE, 0);
	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "www.example.com.");
	r.type = RV_DNS_A;
	r.ttl = 60;
	r.alias = true;
	site(&r, "dc", DC_ALB "@Z32O12XQLNTSW2");
	site(&r, "dr", DR_ALB "@z215jyrzr1tbd5");
	if (rv_dns_switch(&p, &r, "dr", false, &res))
		fail_msg("switch: %s", rv_errmsg());
	assert_string_equal(res.from_site, "dc");
	assert_true(res.changed);
	all = ctl(&F, "GET", "/_ctl/state", NULL);
	at = json_object_get(find_set(all, "www.example.com.", "A", NULL), "AliasTarget");
	assert_non_null(at);
	assert_string_equal(json_string_value(json_object_get(at, "DNSName")), DR_ALB ".");
	assert_string_equal(json_string_value(json_object_get(at, "HostedZoneId")),
			    "Z215JYRZR1TBD5");
	json_decref(all);
	assert_int_equal(rv_dns_switch(&p, &r, "dc", false, &res), 0);
	assert_string_equal(res.from_site, "dr");
	assert_clean(&F);
	rv_dns_provider_close(&p);
	fake_stop(&F);
}

#define WSET(id, w, v)                                                                             \
	"{\"Name\":\"www.example.com.\",\"Type\":\"A\",\"SetIdentifier\":\"" id "\","              \
	"\"Weight\":" #w ",\"TTL\":60,\"ResourceRecords\":[{\"Value\":\"" v "\"}]}"

static void weighted_record(struct rv_dns_record *r)
{
	plain_record(r);
	r->weighted = true;
}

static void test_weighted_switch(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r;
	struct rv_dns_switch_result res;
	struct rv_dns_answer ans;
	char at[64];
	json_t *all;

	(void)state;
	fake_start(
	    &F,
	    "[" WSET("dc", 1, "192.0.2.10") "," WSET(
		"dr", 0,
		"198.51.100.20") ","
				 "{\"Name\":\"www.example.com.\",\"Type\":\"TXT\",\"TTL\":300,"
				 "\"ResourceRecords\":[{\"Value\":\"\\\"v=spf1 -all\\\"\"}]}]",
	    "0");
	open_p(&F, &p, ZONE, 100);
	weighted_record(&r);
	assert_int_equal(rv_dns_show(&p, &r, &ans, at), 0);
	assert_string_equal(at, "dc");
	if (rv_dns_switch(&p, &r, "dr", false, &res))
		fail_msg("switch: %s", rv_errmsg());
	assert_true(res.changed);
	all = ctl(&F, "GET", "/_ctl/state", NULL);
	assert_int_equal(json_integer_value(json_object_get(
			     find_set(all, "www.example.com.", "A", "dc"), "Weight")),
			 0);
	assert_int_equal(json_integer_value(json_object_get(
			     find_set(all, "www.example.com.", "A", "dr"), "Weight")),
			 100);
	assert_string_equal(fake_value(all, "www.example.com.", "dr"), "198.51.100.20");
	json_decref(all);
	assert_int_equal(rv_dns_show(&p, &r, &ans, at), 0);
	assert_string_equal(at, "dr");

	/* Both above 0: no site's state, refused, nothing changed. */
	ctl_do(&F, "PUT", "/_ctl/state",
	       "[" WSET("dc", 1, "192.0.2.10") "," WSET("dr", 1, "198.51.100.20") "]");
	assert_int_equal(rv_dns_show(&p, &r, &ans, at), 0);
	assert_string_equal(at, "");
	assert_non_null(strstr(ans.unclear, "both above 0"));
	assert_int_equal(rv_dns_switch(&p, &r, "dc", false, &res), RV_EPRECOND);
	print_message("refused: %s\n", rv_errmsg());
	assert_non_null(strstr(rv_errmsg(), "both above 0"));
	assert_int_equal(stat_of(&F, "requests", "ChangeResourceRecordSets"), 1);
	assert_clean(&F);
	rv_dns_provider_close(&p);
	fake_stop(&F);
}

static void test_changed_behind_our_back(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r;
	struct rv_dns_answer ans;
	struct rv_dns_change_result cr;
	char at[64];
	json_t *all;

	(void)state;
	fake_start(&F, STATE_DC, "0");
	open_p(&F, &p, ZONE, 0);
	plain_record(&r);
	/* Another value between the read and the change. */
	assert_int_equal(rv_dns_show(&p, &r, &ans, at), 0);
	ctl_do(&F, "PUT", "/_ctl/state",
	       "[{\"Name\":\"www.example.com.\",\"Type\":\"A\",\"TTL\":60,"
	       "\"ResourceRecords\":[{\"Value\":\"203.0.113.5\"}]}]");
	assert_int_equal(p.ops->change(p.h, &r, &ans.values, &r.sites[1].values, &cr), RV_EPRECOND);
	print_message("values: %s\n", rv_errmsg());
	assert_non_null(strstr(rv_errmsg(), "changed since revenant read it"));
	all = ctl(&F, "GET", "/_ctl/state", NULL);
	assert_string_equal(fake_value(all, "www.example.com.", NULL), "203.0.113.5");
	json_decref(all);
	/* The same values under another TTL: the exact DELETE still fails. */
	ctl_do(&F, "PUT", "/_ctl/state", STATE_DC);
	assert_int_equal(rv_dns_show(&p, &r, &ans, at), 0);
	ctl_do(&F, "PUT", "/_ctl/state",
	       "[{\"Name\":\"www.example.com.\",\"Type\":\"A\",\"TTL\":300,"
	       "\"ResourceRecords\":[{\"Value\":\"192.0.2.10\"}]}]");
	assert_int_equal(p.ops->change(p.h, &r, &ans.values, &r.sites[1].values, &cr), RV_EPRECOND);
	all = ctl(&F, "GET", "/_ctl/state", NULL);
	assert_string_equal(fake_value(all, "www.example.com.", NULL), "192.0.2.10");
	json_decref(all);
	assert_clean(&F);
	rv_dns_provider_close(&p);
	fake_stop(&F);
}

static void access_denied_on(const char *op)
{
	struct rv_dns_provider p;
	struct rv_dns_record r;
	struct rv_dns_switch_result res;
	char body[160], perm[64];

	fake_start(&F, STATE_DC, "0");
	open_p(&F, &p, ZONE, 0);
	plain_record(&r);
	snprintf(body, sizeof(body), "{\"code\":\"AccessDenied\",\"n\":1,\"op\":\"%s\"}", op);
	ctl_do(&F, "POST", "/_ctl/fault", body);
	assert_int_equal(rv_dns_switch(&p, &r, "dr", false, &res), RV_EAUTH);
	print_message("%s: %s\n", op, rv_errmsg());
	snprintf(perm, sizeof(perm), "route53:%s", op);
	assert_non_null(strstr(rv_errmsg(), perm));
	assert_null(strstr(rv_errmsg(), SECRET));
	rv_dns_provider_close(&p);
	fake_stop(&F);
}

static void test_access_denied(void **state)
{
	(void)state;
	access_denied_on("ChangeResourceRecordSets");
	access_denied_on("ListResourceRecordSets");
	access_denied_on("GetChange");
}

static void test_throttled_then_ok(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r;
	struct rv_dns_switch_result res;

	(void)state;
	fake_start(&F, STATE_DC, "0");
	open_p(&F, &p, ZONE, 0);
	plain_record(&r);
	ctl_do(&F, "POST", "/_ctl/fault",
	       "{\"code\":\"Throttling\",\"n\":2,\"op\":\"ChangeResourceRecordSets\"}");
	ctl_do(&F, "POST", "/_ctl/fault",
	       "{\"code\":\"ExpiredToken\",\"n\":1,\"op\":\"GetChange\"}");
	if (rv_dns_switch(&p, &r, "dr", false, &res))
		fail_msg("switch: %s", rv_errmsg());
	assert_int_equal(stat_of(&F, "requests", "ChangeResourceRecordSets"), 3);
	assert_int_equal(stat_of(&F, "faults", NULL), 3);
	/* Throttled for good: RV_ENET after the retries. */
	ctl_do(&F, "POST", "/_ctl/fault",
	       "{\"code\":\"Throttling\",\"n\":100,\"op\":\"ChangeResourceRecordSets\"}");
	assert_int_equal(rv_dns_switch(&p, &r, "dc", false, &res), RV_ENET);
	print_message("throttled: %s\n", rv_errmsg());
	assert_clean(&F);
	rv_dns_provider_close(&p);
	fake_stop(&F);
}

static void test_pending_then_insync(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r;
	struct rv_dns_switch_result res;
	int64_t t0, wall;

	(void)state;
	fake_start(&F, STATE_DC, "1");
	open_p(&F, &p, ZONE, 0);
	plain_record(&r);
	t0 = rv_mono_ms();
	if (rv_dns_switch(&p, &r, "dr", false, &res))
		fail_msg("switch: %s", rv_errmsg());
	wall = rv_mono_ms() - t0;
	print_message("PENDING for 1000 ms: change %lld ms (%lld ms after INSYNC), switch %lld "
		      "ms, %lld GetChange calls\n",
		      (long long)res.change.ms, (long long)res.change.ms - 1000, (long long)wall,
		      (long long)stat_of(&F, "requests", "GetChange"));
	assert_true(res.change.ms >= 1000);
	assert_true(res.change.ms < 1000 + 1000 + 500); /* backoff caps at 2 s; generous */
	assert_clean(&F);
	rv_dns_provider_close(&p);
	fake_stop(&F);
}

static void test_no_such_zone(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r;
	struct rv_dns_answer ans;
	char at[64];

	(void)state;
	fake_start(&F, STATE_DC, "0");
	open_p(&F, &p, "ZNOSUCHZONE", 0);
	plain_record(&r);
	assert_int_equal(rv_dns_show(&p, &r, &ans, at), RV_EUSAGE);
	print_message("%s\n", rv_errmsg());
	assert_non_null(strstr(rv_errmsg(), "dns.route53.zone_id"));
	rv_dns_provider_close(&p);
	fake_stop(&F);
}

static void test_external_dns(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r;
	struct rv_dns_switch_result res;

	(void)state;
	fake_start(&F,
		   "[{\"Name\":\"www.example.com.\",\"Type\":\"A\",\"TTL\":60,"
		   "\"ResourceRecords\":[{\"Value\":\"192.0.2.10\"}]},"
		   "{\"Name\":\"a-www.example.com.\",\"Type\":\"TXT\",\"TTL\":300,"
		   "\"ResourceRecords\":[{\"Value\":\"\\\"heritage=external-dns,external-dns/"
		   "owner=k8s-prod\\\"\"}]}]",
		   "0");
	open_p(&F, &p, ZONE, 0);
	plain_record(&r);
	assert_int_equal(rv_dns_switch(&p, &r, "dr", false, &res), RV_EUSAGE);
	assert_non_null(strstr(rv_errmsg(), "k8s-prod"));
	assert_int_equal(stat_of(&F, "requests", "ChangeResourceRecordSets"), 0);
	rv_dns_provider_close(&p);
	fake_stop(&F);
}

/* Temporary credentials (IRSA, Pod Identity): the token is sent and signed;
 * a wrong secret is refused by the fake's botocore check, and says so. */
static void test_credentials(void **state)
{
	struct rv_dns_provider p;
	struct rv_dns_record r;
	struct rv_dns_switch_result res;
	json_t *all;

	(void)state;
	fake_start(&F, STATE_DC, "0");
	open_creds(&F, &p, ZONE, 0, SECRET, "FQoGZXIvYXdzEXAMPLETOKEN//+=");
	plain_record(&r);
	if (rv_dns_switch(&p, &r, "dr", false, &res))
		fail_msg("switch: %s", rv_errmsg());
	rv_dns_provider_close(&p);
	all = ctl(&F, "GET", "/_ctl/state", NULL);
	assert_string_equal(fake_value(all, "www.example.com.", NULL), "198.51.100.20");
	json_decref(all);
	assert_clean(&F);
	open_creds(&F, &p, ZONE, 0, "not/the/secret", NULL);
	assert_int_equal(rv_dns_switch(&p, &r, "dc", false, &res), RV_EAUTH);
	print_message("%s\n", rv_errmsg());
	assert_non_null(strstr(rv_errmsg(), "SignatureDoesNotMatch"));
	assert_null(strstr(rv_errmsg(), "not/the/secret"));
	assert_int_equal(stat_of(&F, "bad_signature", NULL), 1);
	rv_dns_provider_close(&p);
	fake_stop(&F);
}

/* dns.route53.upsert: one UPSERT, no DELETE; and Route 53 slower than
 * dns.route53.timeout: RV_ENET saying the change was accepted. */
static void test_upsert_and_timeout(void **state)
{
	struct rv_creds_config cc = {.access_key_id = AKID, .secret_access_key = SECRET};
	struct rv_dns_route53_opts o = {
	    .zone_id = ZONE, .upsert = true, .timeout_ms = 1500, .creds = &cc};
	struct rv_dns_provider p;
	struct rv_dns_record r;
	struct rv_dns_switch_result res;
	int64_t t0, took;
	json_t *all;

	(void)state;
	fake_start(&F, STATE_DC, "30");
	o.endpoint = F.base;
	if (rv_dns_route53_open(&p, &o))
		fail_msg("open: %s", rv_errmsg());
	plain_record(&r);
	t0 = rv_mono_ms();
	assert_int_equal(rv_dns_switch(&p, &r, "dr", false, &res), RV_ENET);
	took = rv_mono_ms() - t0;
	print_message("%lld ms: %s\n", (long long)took, rv_errmsg());
	assert_non_null(strstr(rv_errmsg(), "still PENDING"));
	assert_true(took >= 1500 && took < 1500 + 2500);
	assert_int_equal(stat_of(&F, "actions", "UPSERT"), 1);
	assert_int_equal(stat_of(&F, "actions", "DELETE"), 0);
	all = ctl(&F, "GET", "/_ctl/state", NULL);
	assert_string_equal(fake_value(all, "www.example.com.", NULL), "198.51.100.20");
	json_decref(all);
	assert_clean(&F);
	rv_dns_provider_close(&p);
	fake_stop(&F);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_plain_switch, teardown),
	    cmocka_unit_test_teardown(test_create_when_absent, teardown),
	    cmocka_unit_test_teardown(test_alias_switch, teardown),
	    cmocka_unit_test_teardown(test_weighted_switch, teardown),
	    cmocka_unit_test_teardown(test_changed_behind_our_back, teardown),
	    cmocka_unit_test_teardown(test_access_denied, teardown),
	    cmocka_unit_test_teardown(test_throttled_then_ok, teardown),
	    cmocka_unit_test_teardown(test_pending_then_insync, teardown),
	    cmocka_unit_test_teardown(test_no_such_zone, teardown),
	    cmocka_unit_test_teardown(test_external_dns, teardown),
	    cmocka_unit_test_teardown(test_credentials, teardown),
	    cmocka_unit_test_teardown(test_upsert_and_timeout, teardown),
	};

	rv_log_setup(RV_LOG_ERROR, RV_LOG_LOGFMT);
	rv_http_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
