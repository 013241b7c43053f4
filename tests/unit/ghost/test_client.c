/* The Ghost client against recorded answers of a real Ghost 5.130.4
 * (tests/fixtures/ghost/, re-recorded by record.sh there) and against an
 * in-memory fake site for the purge rounds, through an injected transport. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/mem.h"
#include "core/util.h"
#include "ghost/client.h"
#include "ghost/purge.h"

#define KEY_TEXT                                                                                   \
	"5f1a2b3c4d5e6f7a8b9c0d1e:"                                                                \
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define SITE "http://ghost.test:2368"

static struct rv_ghost_key test_key;

static char *fixture(const char *name)
{
	const char *dir = getenv("RV_TESTDIR");
	char path[1024];
	char *text = NULL;

	snprintf(path, sizeof(path), "%s/fixtures/ghost/%s", dir ? dir : "tests", name);
	if (rv_read_file(path, 1 << 20, &text, NULL))
		fail_msg("cannot read fixture %s (is RV_TESTDIR set?)", path);
	return text;
}

static long query_long(const char *url, const char *name)
{
	char pat[32];
	const char *p;
	uint64_t v = 0;
	char num[24];
	size_t n = 0;

	snprintf(pat, sizeof(pat), "%s=", name);
	p = strstr(url, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	while (p[n] >= '0' && p[n] <= '9' && n + 1 < sizeof(num)) {
		num[n] = p[n];
		n++;
	}
	num[n] = '\0';
	if (rv_parse_u64(num, &v))
		return -1;
	return (long)v;
}

static bool has_header(const struct rv_ghost_http *h, const char *prefix)
{
	for (const char *const *p = h->headers; p && *p; p++)
		if (rv_str_startswith(*p, prefix))
			return true;
	return false;
}

static void reply(struct rv_ghost_http *h, long status, const char *body)
{
	h->status = status;
	if (body)
		assert_int_equal(rv_buf_addstr(h->resp, body), 0);
}

/* --- replaying recorded pages ------------------------------------------ */

struct replay {
	int cap; /* the page size the recorded server applied: 15 or 100 */
	int requests;
	int fail_first; /* answer 503 (odd) / connection refused (even) this many times */
	char first_url[2048];
};

static int replay_transport(void *ud, struct rv_ghost_http *h)
{
	struct replay *r = ud;
	long page = query_long(h->url, "page");
	char name[64];
	char *body;

	r->requests++;
	if (r->requests == 1)
		snprintf(r->first_url, sizeof(r->first_url), "%s", h->url);
	assert_true(has_header(h, "Accept-Version: v5.0"));
	assert_true(has_header(h, "Authorization: Ghost ey"));
	if (r->fail_first > 0) {
		r->fail_first--;
		if (r->fail_first % 2)
			return rv_error(RV_ENET, "cannot reach Ghost: connection refused");
		reply(h, 503, "{\"errors\":[{\"message\":\"busy\"}]}");
		return 0;
	}
	/* The client asks for 100 a page; a capped server ignores that. */
	assert_int_equal(query_long(h->url, "limit"), 100);
	snprintf(name, sizeof(name), "posts-limit%d-page%ld.json", r->cap, page);
	body = fixture(name);
	reply(h, 200, body);
	free(body);
	return 0;
}

struct idset {
	char ids[400][RV_GHOST_KEY_ID_LEN + 1];
	size_t n;
};

static int collect_id(void *ud, json_t *item)
{
	struct idset *s = ud;
	const char *id = json_string_value(json_object_get(item, "id"));

	assert_non_null(id);
	assert_true(s->n < 400);
	for (size_t i = 0; i < s->n; i++)
		assert_string_not_equal(s->ids[i], id); /* no duplicates */
	snprintf(s->ids[s->n++], RV_GHOST_KEY_ID_LEN + 1, "%s", id);
	return 0;
}

static struct rv_ghost_client *client_with(rv_ghost_transport_fn fn, void *ud)
{
	struct rv_ghost_opts o = {0};
	struct rv_ghost_client *c;

	o.url = SITE "/";
	o.key = &test_key;
	o.transport = fn;
	o.transport_ud = ud;
	o.backoff_ms = 1;
	o.backoff_max_ms = 2;
	assert_int_equal(rv_ghost_client_new(&c, &o), 0);
	assert_string_equal(rv_ghost_client_url(c), SITE);
	return c;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void browse_all(int cap, struct idset *s, int *requests)
{
	struct replay r = {.cap = cap};
	struct rv_ghost_client *c = client_with(replay_transport, &r);

	s->n = 0;
	assert_int_equal(
	    rv_ghost_browse(c, "posts", NULL, "id,title,status,slug", 100, collect_id, s), 0);
	*requests = r.requests;
	rv_ghost_client_free(c);
	qsort(s->ids, s->n, sizeof(s->ids[0]), cmp_id);
}

static void test_paging_caps_15_and_100(void **state)
{
	static struct idset a, b;
	int ra, rb;

	(void)state;
	/* 250 seeded posts plus Ghost's own "Coming soon" post. */
	browse_all(15, &a, &ra);
	assert_int_equal(a.n, 251);
	assert_int_equal(ra, 17);
	browse_all(100, &b, &rb);
	assert_int_equal(b.n, 251);
	assert_int_equal(rb, 3);
	for (size_t i = 0; i < a.n; i++)
		assert_string_equal(a.ids[i], b.ids[i]);
}

static void test_filter_is_encoded(void **state)
{
	struct replay r = {.cap = 100};
	struct rv_ghost_client *c = client_with(replay_transport, &r);
	static struct idset s;

	(void)state;
	assert_int_equal(rv_ghost_browse(c, "posts", "tag:old+status:[draft,published]", "id,slug",
					 0, collect_id, &s),
			 0);
	assert_non_null(strstr(r.first_url, SITE "/ghost/api/admin/posts/?limit=100&page=1"));
	assert_non_null(strstr(r.first_url, "&fields=id%2Cslug"));
	assert_non_null(
	    strstr(r.first_url, "&filter=tag%3Aold%2Bstatus%3A%5Bdraft%2Cpublished%5D"));
	rv_ghost_client_free(c);
}

static void test_retry_then_success(void **state)
{
	struct replay r = {.cap = 100, .fail_first = 4};
	struct rv_ghost_client *c = client_with(replay_transport, &r);
	static struct idset s;

	(void)state;
	assert_int_equal(rv_ghost_browse(c, "posts", NULL, NULL, 0, collect_id, &s), 0);
	assert_int_equal(s.n, 251);
	assert_int_equal(rv_ghost_client_retries(c), 4);
	rv_ghost_client_free(c);
}

static void test_retry_gives_up(void **state)
{
	struct replay r = {.cap = 100, .fail_first = 1000};
	struct rv_ghost_client *c = client_with(replay_transport, &r);
	static struct idset s;

	(void)state;
	assert_int_not_equal(rv_ghost_browse(c, "posts", NULL, NULL, 0, collect_id, &s), 0);
	assert_int_equal(r.requests, 5); /* the default max_attempts */
	rv_ghost_client_free(c);
}

/* --- single canned answers ---------------------------------------------- */

struct canned {
	long status;
	const char *body;
	const char *fixture;
	int requests;
};

static int canned_transport(void *ud, struct rv_ghost_http *h)
{
	struct canned *k = ud;

	k->requests++;
	if (k->fixture) {
		char *body = fixture(k->fixture);
		reply(h, k->status, body);
		free(body);
	} else {
		reply(h, k->status, k->body);
	}
	return 0;
}

static void test_site(void **state)
{
	struct canned k = {200, NULL, "site.json", 0};
	struct rv_ghost_client *c = client_with(canned_transport, &k);
	json_t *site = NULL;

	(void)state;
	assert_int_equal(rv_ghost_site(c, &site), 0);
	assert_string_equal(json_string_value(json_object_get(site, "version")), "5.130");
	json_decref(site);
	rv_ghost_client_free(c);
}

static void test_not_ghost(void **state)
{
	struct canned html = {200, "<html><body>Directory listing</body></html>", NULL, 0};
	struct canned notfound = {404, "<html>404 Not Found</html>", NULL, 0};
	struct canned otherjson = {200, "{\"hello\":\"world\"}", NULL, 0};
	struct canned *cases[] = {&html, &notfound, &otherjson};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct rv_ghost_client *c = client_with(canned_transport, cases[i]);
		json_t *site = NULL;

		assert_int_equal(rv_ghost_site(c, &site), RV_ECORRUPT);
		assert_non_null(strstr(rv_errmsg(), SITE " does not look like a Ghost site"));
		assert_null(site);
		rv_ghost_client_free(c);
	}
}

static void test_auth_errors(void **state)
{
	struct canned unknown = {401, NULL, "error-401-unknown-key.json", 0};
	struct canned badjwt = {400, NULL, "error-400-invalid-jwt.json", 0};
	struct canned *cases[] = {&unknown, &badjwt};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct rv_ghost_client *c = client_with(canned_transport, cases[i]);
		json_t *j = NULL;

		assert_int_equal(rv_ghost_call(c, NULL, true, "GET", "posts/", NULL, NULL, &j),
				 RV_EAUTH);
		assert_non_null(strstr(rv_errmsg(), "the Admin API key was rejected: check that "
						    "the key is an Admin API key of an active "
						    "integration on " SITE));
		assert_null(strstr(rv_errmsg(), "00112233"));
		assert_null(strstr(rv_errmsg(), "Ghost ey"));
		assert_int_equal(cases[i]->requests, 1); /* not retried */
		/* Ghost's own reason is kept for the operator. */
		assert_non_null(
		    strstr(rv_errmsg(), i == 0 ? "Unknown Admin API Key" : "Invalid token"));
		rv_ghost_client_free(c);
	}
}

static void test_delete_404_is_notfound(void **state)
{
	struct canned k = {404, NULL, "error-404-post.json", 0};
	struct rv_ghost_client *c = client_with(canned_transport, &k);
	long status = 0;

	(void)state;
	assert_int_equal(rv_ghost_call(c, NULL, true, "DELETE", "posts/000000000000000000000000/",
				       NULL, &status, NULL),
			 RV_ENOTFOUND);
	assert_int_equal(status, 404);
	assert_non_null(strstr(rv_errmsg(), "Post not found"));
	rv_ghost_client_free(c);
}

static int64_t fake_now;
static int64_t fake_clock(void)
{
	return fake_now;
}

static char last_auth[RV_GHOST_JWT_MAX + 32];
static int auth_transport(void *ud, struct rv_ghost_http *h)
{
	(void)ud;
	for (const char *const *p = h->headers; *p; p++)
		if (rv_str_startswith(*p, "Authorization: "))
			snprintf(last_auth, sizeof(last_auth), "%s", *p);
	reply(h, 204, NULL);
	return 0;
}

static void expect_token_of(struct rv_ghost_client *c, int64_t iat)
{
	char tok[RV_GHOST_JWT_MAX], want[RV_GHOST_JWT_MAX + 32];

	assert_int_equal(rv_ghost_call(c, NULL, true, "DELETE", "posts/x/", NULL, NULL, NULL), 0);
	assert_int_equal(rv_ghost_jwt(tok, &test_key, iat), 0);
	snprintf(want, sizeof(want), "Authorization: Ghost %s", tok);
	assert_string_equal(last_auth, want);
}

static void test_token_refresh(void **state)
{
	struct rv_ghost_opts o = {0};
	struct rv_ghost_client *c;

	(void)state;
	o.url = SITE;
	o.key = &test_key;
	o.transport = auth_transport;
	o.now_s = fake_clock;
	assert_int_equal(rv_ghost_client_new(&c, &o), 0);
	fake_now = 1700000000;
	expect_token_of(c, 1700000000);
	fake_now += 239; /* still fresh: reused */
	expect_token_of(c, 1700000000);
	fake_now += 1; /* four minutes old: a new one before Ghost's five-minute limit */
	expect_token_of(c, 1700000240);
	fake_now -= 100; /* the clock stepped back: never send a token from the future */
	expect_token_of(c, 1700000140);
	rv_ghost_client_free(c);
}

static void test_no_key_needs_key(void **state)
{
	struct rv_ghost_opts o = {0};
	struct rv_ghost_client *c;

	(void)state;
	o.url = SITE;
	o.transport = auth_transport;
	assert_int_equal(rv_ghost_client_new(&c, &o), 0);
	assert_int_equal(rv_ghost_call(c, NULL, true, "GET", "posts/", NULL, NULL, NULL),
			 RV_EUSAGE);
	rv_ghost_client_free(c);
	o.url = "ftp://x";
	assert_int_equal(rv_ghost_client_new(&c, &o), RV_EUSAGE);
	o.url = "http://x/?a=b";
	assert_int_equal(rv_ghost_client_new(&c, &o), RV_EUSAGE);
}

/* --- a live fake site for the purge rounds -------------------------------- */

struct fake_site {
	pthread_mutex_t lock;
	char ids[600][RV_GHOST_KEY_ID_LEN + 1];
	bool tagged[600];
	size_t n;
	unsigned next_id;
	int cap;
	int deletes;
	int spawn_after; /* create `spawn` new posts after this many deletes */
	int spawn;
	char refuse[RV_GHOST_KEY_ID_LEN + 1]; /* this one answers 422 */
	int refused;
	int bulk_deletes; /* DELETE without an id: must stay 0 */
};

static void fake_add(struct fake_site *f, bool tagged)
{
	snprintf(f->ids[f->n], sizeof(f->ids[0]), "%024x", ++f->next_id);
	f->tagged[f->n++] = tagged;
}

static int fake_transport(void *ud, struct rv_ghost_http *h)
{
	struct fake_site *f = ud;
	const char *path = strstr(h->url, "/ghost/api/admin/posts/");

	assert_non_null(path);
	path += strlen("/ghost/api/admin/posts/");
	pthread_mutex_lock(&f->lock);
	if (!strcmp(h->method, "DELETE")) {
		char id[RV_GHOST_KEY_ID_LEN + 1] = "";
		size_t i;

		if (strlen(path) != RV_GHOST_KEY_ID_LEN + 1) {
			f->bulk_deletes++;
			reply(h, 400, NULL);
			goto out;
		}
		memcpy(id, path, RV_GHOST_KEY_ID_LEN);
		if (!strcmp(id, f->refuse)) {
			f->refused++;
			reply(h, 422,
			      "{\"errors\":[{\"message\":\"Validation error, cannot delete "
			      "post.\",\"type\":\"ValidationError\"}]}");
			goto out;
		}
		for (i = 0; i < f->n && strcmp(f->ids[i], id); i++)
			;
		if (i == f->n) {
			reply(h, 404, "{\"errors\":[{\"message\":\"Post not found.\"}]}");
			goto out;
		}
		memmove(&f->ids[i], &f->ids[i + 1], (f->n - i - 1) * sizeof(f->ids[0]));
		memmove(&f->tagged[i], &f->tagged[i + 1], (f->n - i - 1) * sizeof(f->tagged[0]));
		f->n--;
		if (++f->deletes == f->spawn_after)
			for (int k = 0; k < f->spawn; k++)
				fake_add(f, true);
		reply(h, 204, NULL);
	} else {
		bool only_tagged = strstr(h->url, "filter=tag%3Aold") != NULL;
		long page = query_long(h->url, "page"), limit = query_long(h->url, "limit");
		size_t total = 0, seen = 0, pages;
		json_t *arr = json_array(), *doc;
		char *text;

		if (limit > f->cap)
			limit = f->cap;
		for (size_t i = 0; i < f->n; i++)
			total += !only_tagged || f->tagged[i];
		pages = (total + (size_t)limit - 1) / (size_t)limit;
		for (size_t i = 0; i < f->n; i++) {
			if (only_tagged && !f->tagged[i])
				continue;
			if (seen >= (size_t)((page - 1) * limit) && seen < (size_t)(page * limit))
				json_array_append_new(
				    arr, json_pack("{s:s,s:s,s:s,s:s}", "id", f->ids[i], "status",
						   "draft", "slug", f->ids[i], "title", "t"));
			seen++;
		}
		doc = json_pack("{s:o,s:{s:{s:I,s:I,s:I,s:I,s:o,s:o}}}", "posts", arr, "meta",
				"pagination", "page", (json_int_t)page, "limit", (json_int_t)limit,
				"pages", (json_int_t)pages, "total", (json_int_t)total, "next",
				(size_t)page < pages ? json_integer(page + 1) : json_null(), "prev",
				page > 1 ? json_integer(page - 1) : json_null());
		text = json_dumps(doc, JSON_COMPACT);
		reply(h, 200, text);
		free(text);
		json_decref(doc);
	}
out:
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static void purge_fake(struct fake_site *f, const char *filter, unsigned jobs,
		       struct rv_ghost_purge_stats *st, int *rc)
{
	static const char *const posts[] = {"posts", NULL};
	struct rv_ghost_client *c = client_with(fake_transport, f);
	struct rv_ghost_items items = {0};
	struct rv_ghost_purge_opts po = {.filter = filter, .resources = posts, .jobs = jobs};

	memset(st, 0, sizeof(*st));
	assert_int_equal(rv_ghost_collect(c, "posts", filter, NULL, &items), 0);
	st->found = items.n;
	*rc = rv_ghost_purge(c, &po, &items, st);
	rv_ghost_items_release(&items);
	rv_ghost_client_free(c);
}

static void test_purge_rounds(void **state)
{
	static struct fake_site f;
	struct rv_ghost_purge_stats st;
	int rc;

	(void)state;
	memset(&f, 0, sizeof(f));
	pthread_mutex_init(&f.lock, NULL);
	for (int i = 0; i < 250; i++)
		fake_add(&f, i % 4 == 0);
	f.cap = 15;
	f.spawn_after = 20;
	f.spawn = 7; /* tagged posts appear while the purge runs */
	snprintf(f.refuse, sizeof(f.refuse), "%s", f.ids[8]); /* a tagged one */

	purge_fake(&f, "tag:old", 8, &st, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(st.found, 63 + 7);
	assert_int_equal(st.deleted, 63 + 7 - 1);
	assert_int_equal(st.failed, 1);
	assert_int_equal(f.refused, 1); /* a refused object is not retried every round */
	assert_true(st.rounds >= 2);
	assert_int_equal(f.n, 250 - 63 + 1);
	for (size_t i = 0; i < f.n; i++)
		assert_true(!f.tagged[i] || !strcmp(f.ids[i], f.refuse));

	/* No filter: everything goes, on a server capping pages at 100. */
	f.cap = 100;
	f.refuse[0] = '\0';
	f.spawn_after = 0;
	purge_fake(&f, NULL, 3, &st, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(st.found, 188);
	assert_int_equal(st.deleted, 188);
	assert_int_equal(f.n, 0);
	assert_int_equal(f.bulk_deletes, 0);
	pthread_mutex_destroy(&f.lock);
}

static int setup(void **state)
{
	(void)state;
	return rv_ghost_key_parse(&test_key, KEY_TEXT, "test");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_paging_caps_15_and_100),
	    cmocka_unit_test(test_filter_is_encoded),
	    cmocka_unit_test(test_retry_then_success),
	    cmocka_unit_test(test_retry_gives_up),
	    cmocka_unit_test(test_site),
	    cmocka_unit_test(test_not_ghost),
	    cmocka_unit_test(test_auth_errors),
	    cmocka_unit_test(test_delete_404_is_notfound),
	    cmocka_unit_test(test_token_refresh),
	    cmocka_unit_test(test_no_key_needs_key),
	    cmocka_unit_test(test_purge_rounds),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
