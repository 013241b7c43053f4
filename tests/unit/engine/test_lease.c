/* test_lease.c - the primary lease and generation metadata against the
 * file store (which has atomic conditional puts), plus its weak mode. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include "format/content.h"
#include "core/mem.h"
#include "store/store.h"
#include "engine/lease.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct fx {
	char dir[64];
	struct rv_store *s;
};

static int setup(void **state)
{
	struct fx *fx = rv_calloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/rv-test-lease-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	if (rv_test_open_file_store(fx->dir, &fx->s))
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	rv_store_free(fx->s);
	rv_test_rm_rf(fx->dir);
	free(fx);
	return 0;
}

static struct rv_lease_opts lopts(const char *site, const char *holder, char gen[RV_GEN_ID_LEN])
{
	struct rv_lease_opts o = {.site = site, .holder = holder, .gen = gen, .settle_ms = 10};

	rv_gen_id_new(gen);
	return o;
}

static void test_create_check_and_same_site_restart(void **state)
{
	struct fx *fx = *state;
	char g1[RV_GEN_ID_LEN], g2[RV_GEN_ID_LEN], holder[128];
	struct rv_lease_opts o1 = lopts("dc", "dc-pod-1", g1);
	struct rv_lease a, b, r;

	assert_int_equal(rv_lease_read(fx->s, &r), RV_ENOTFOUND);
	assert_int_equal(rv_lease_acquire(fx->s, &o1, &a), 0);
	assert_int_equal(a.epoch, 1);
	assert_string_equal(a.site, "dc");
	assert_string_equal(a.gen, g1);
	assert_int_equal(rv_lease_check(fx->s, &a), 0);
	assert_int_equal(rv_lease_check(fx->s, &a), 0);

	/* A second writer of the same site (restart, rolling update) bumps the
	 * epoch and fences the first. */
	rv_lease_holder_id(holder, sizeof(holder));
	assert_non_null(strchr(holder, ':'));
	struct rv_lease_opts o2 = lopts("dc", holder, g2);
	assert_int_equal(rv_lease_acquire(fx->s, &o2, &b), 0);
	assert_int_equal(b.epoch, 2);
	assert_int_equal(rv_lease_check(fx->s, &b), 0);
	assert_int_equal(rv_lease_check(fx->s, &a), RV_EFENCED);
	assert_non_null(strstr(rv_errmsg(), "epoch 2"));
	assert_non_null(strstr(rv_errmsg(), "stopped writing"));

	assert_int_equal(rv_lease_read(fx->s, &r), 0);
	assert_int_equal(r.epoch, 2);
	assert_string_equal(r.gen, g2);
	assert_string_equal(r.holder, holder);
	rv_lease_release(&r);
	rv_lease_release(&a);
	rv_lease_release(&b);
}

static void test_other_site_fenced_and_take_over(void **state)
{
	struct fx *fx = *state;
	char g1[RV_GEN_ID_LEN], g2[RV_GEN_ID_LEN];
	struct rv_lease_opts dc = lopts("dc", "dc-1", g1), dr = lopts("dr", "dr-1", g2);
	struct rv_lease a, b;

	assert_int_equal(rv_lease_acquire(fx->s, &dc, &a), 0);
	/* Another site may not simply start writing... */
	assert_int_equal(rv_lease_acquire(fx->s, &dr, &b), RV_EFENCED);
	assert_non_null(strstr(rv_errmsg(), "site 'dc' holds the primary lease"));
	assert_int_equal(rv_lease_check(fx->s, &a), 0);
	/* ...but a promotion takes it, and the old primary is fenced. */
	dr.take_over = true;
	assert_int_equal(rv_lease_acquire(fx->s, &dr, &b), 0);
	assert_int_equal(b.epoch, 2);
	assert_string_equal(b.site, "dr");
	assert_int_equal(rv_lease_check(fx->s, &a), RV_EFENCED);
	assert_non_null(strstr(rv_errmsg(), "site 'dr'"));
	rv_lease_release(&a);
	rv_lease_release(&b);
}

static void test_newer_epoch_written_by_hand(void **state)
{
	struct fx *fx = *state;
	char g1[RV_GEN_ID_LEN], g2[RV_GEN_ID_LEN];
	struct rv_lease_opts dc = lopts("dc", "dc-1", g1);
	struct rv_lease a, forged = {.epoch = 7, .since_ms = 1};
	struct rv_buf b = RV_BUF_INIT(RV_LEASE_MAX);
	struct rv_put_opts po = {0};

	assert_int_equal(rv_lease_acquire(fx->s, &dc, &a), 0);
	rv_gen_id_new(g2);
	forged.site = "dr";
	forged.holder = "operator";
	memcpy(forged.gen, g2, RV_GEN_ID_LEN);
	assert_int_equal(rv_lease_encode(&forged, &b), 0);
	assert_int_equal(rv_store_put_buf(fx->s, RV_LEASE_KEY, b.data, b.len, &po), 0);
	assert_int_equal(rv_lease_check(fx->s, &a), RV_EFENCED);
	assert_non_null(strstr(rv_errmsg(), "epoch 7"));
	assert_int_equal(rv_exit_code(RV_EFENCED), RV_EXIT_FENCED);

	/* Damaged or removed: also stop writing. */
	assert_int_equal(rv_store_put_buf(fx->s, RV_LEASE_KEY, "{\"epoch\":", 9, &po), 0);
	assert_int_equal(rv_lease_check(fx->s, &a), RV_EFENCED);
	assert_int_equal(rv_store_delete(fx->s, RV_LEASE_KEY), 0);
	assert_int_equal(rv_lease_check(fx->s, &a), RV_EFENCED);
	assert_non_null(strstr(rv_errmsg(), "gone"));
	rv_buf_release(&b);
	rv_lease_release(&a);
}

static void test_weak_mode(void **state)
{
	struct fx *fx = *state;
	char g1[RV_GEN_ID_LEN], g2[RV_GEN_ID_LEN];
	struct rv_lease_opts o1 = lopts("dc", "dc-1", g1), o2 = lopts("dc", "dc-2", g2);
	struct rv_lease a, b;

	o1.weak = o2.weak = true;
	assert_int_equal(rv_lease_acquire(fx->s, &o1, &a), 0);
	assert_int_equal(a.epoch, 1);
	assert_int_equal(rv_lease_acquire(fx->s, &o2, &b), 0);
	assert_int_equal(b.epoch, 2);
	assert_int_equal(rv_lease_check(fx->s, &a), RV_EFENCED);
	assert_int_equal(rv_lease_check(fx->s, &b), 0);
	rv_lease_release(&a);
	rv_lease_release(&b);
}

/* The stored lease.json, bytes and etag (on the file store the etag names
 * the inode, so an unchanged etag means the object was not rewritten). */
struct stored {
	struct rv_buf b;
	struct rv_obj_info info;
};

static void stored_get(struct rv_store *s, struct stored *out)
{
	rv_buf_init(&out->b, RV_LEASE_MAX);
	memset(&out->info, 0, sizeof(out->info));
	assert_int_equal(rv_store_get_buf(s, RV_LEASE_KEY, &out->b, &out->info), 0);
}

static void stored_assert_same(const struct stored *a, const struct stored *b)
{
	assert_int_equal(a->b.len, b->b.len);
	assert_memory_equal(a->b.data, b->b.data, a->b.len);
	assert_string_equal(a->info.etag, b->info.etag);
}

static void stored_release(struct stored *s)
{
	rv_buf_release(&s->b);
	rv_obj_info_release(&s->info);
}

/* A writer renews the lease it holds (a new generation: epoch + 1); once
 * another writer of its site took the lease, a renewal of its old lease
 * is refused with RV_EFENCED naming the new holder and lease.json is not
 * touched: a writer that lost the lease never takes it back. */
static void renew_case(struct fx *fx, bool weak)
{
	char g1[RV_GEN_ID_LEN], g2[RV_GEN_ID_LEN], g3[RV_GEN_ID_LEN], g4[RV_GEN_ID_LEN];
	struct rv_lease_opts a1 = lopts("dc", "dc-a", g1), b1 = lopts("dc", "dc-b", g3);
	struct rv_lease_opts a2 = lopts("dc", "dc-a", g2), a3 = lopts("dc", "dc-a", g4);
	struct rv_lease la, la2, lb, got, r;
	struct stored before, after;

	a1.weak = a2.weak = a3.weak = b1.weak = weak;
	assert_int_equal(rv_lease_acquire(fx->s, &a1, &la), 0);
	assert_int_equal(la.epoch, 1);

	/* Still the holder: the renewal moves the epoch on. */
	a2.renew = &la;
	assert_int_equal(rv_lease_acquire(fx->s, &a2, &la2), 0);
	assert_int_equal(la2.epoch, 2);
	assert_string_equal(la2.gen, g2);
	assert_string_equal(la2.holder, "dc-a");
	assert_int_equal(rv_lease_check(fx->s, &la2), 0);
	assert_int_equal(rv_lease_check(fx->s, &la), RV_EFENCED);

	/* Renewing the lease it had before its own renewal: stale too. */
	a3.renew = &la;
	stored_get(fx->s, &before);
	assert_int_equal(rv_lease_acquire(fx->s, &a3, &got), RV_EFENCED);
	stored_get(fx->s, &after);
	stored_assert_same(&before, &after);
	stored_release(&before);
	stored_release(&after);

	/* A second writer of the site takes over (a fresh start may). */
	assert_int_equal(rv_lease_acquire(fx->s, &b1, &lb), 0);
	assert_int_equal(lb.epoch, 3);
	assert_int_equal(rv_lease_check(fx->s, &la2), RV_EFENCED);

	/* The first one, resumed, wants a new generation: refused. */
	a3.renew = &la2;
	stored_get(fx->s, &before);
	assert_int_equal(rv_lease_acquire(fx->s, &a3, &got), RV_EFENCED);
	assert_non_null(strstr(rv_errmsg(), "holder dc-b"));
	assert_non_null(strstr(rv_errmsg(), "epoch 3"));
	assert_null(strchr(rv_errmsg(), '\n'));
	assert_null(got.holder);
	stored_get(fx->s, &after);
	stored_assert_same(&before, &after);
	stored_release(&before);
	stored_release(&after);
	assert_int_equal(rv_lease_check(fx->s, &lb), 0);
	assert_int_equal(rv_lease_read(fx->s, &r), 0);
	assert_int_equal(r.epoch, 3);
	assert_string_equal(r.holder, "dc-b");
	assert_string_equal(r.gen, g3);
	rv_lease_release(&r);

	/* The holder's own renewal still works. */
	b1.renew = &lb;
	rv_gen_id_new(g4);
	b1.gen = g4;
	assert_int_equal(rv_lease_acquire(fx->s, &b1, &got), 0);
	assert_int_equal(got.epoch, 4);
	assert_string_equal(got.gen, g4);
	assert_int_equal(rv_lease_check(fx->s, &got), 0);

	/* Gone: a renewal does not create it again. */
	assert_int_equal(rv_store_delete(fx->s, RV_LEASE_KEY), 0);
	b1.renew = &got;
	assert_int_equal(rv_lease_acquire(fx->s, &b1, &r), RV_EFENCED);
	assert_non_null(strstr(rv_errmsg(), "gone"));
	assert_int_equal(rv_lease_read(fx->s, &r), RV_ENOTFOUND);

	rv_lease_release(&got);
	rv_lease_release(&la);
	rv_lease_release(&la2);
	rv_lease_release(&lb);
}

static void test_renew_conditional(void **state)
{
	renew_case(*state, false);
}

static void test_renew_weak(void **state)
{
	renew_case(*state, true);
}

/* A renewal names a lease of its own site. */
static void test_renew_usage(void **state)
{
	struct fx *fx = *state;
	char g1[RV_GEN_ID_LEN], g2[RV_GEN_ID_LEN];
	struct rv_lease_opts dc = lopts("dc", "dc-1", g1), dr = lopts("dr", "dr-1", g2);
	struct rv_lease a, b;

	assert_int_equal(rv_lease_acquire(fx->s, &dc, &a), 0);
	dr.renew = &a;
	dr.take_over = true;
	assert_int_equal(rv_lease_acquire(fx->s, &dr, &b), RV_EUSAGE);
	assert_int_equal(rv_lease_check(fx->s, &a), 0);
	rv_lease_release(&a);
}

struct racer {
	struct rv_store *s;
	char holder[32];
	char gen[RV_GEN_ID_LEN];
	struct rv_lease got;
	int rc;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct rv_lease_opts o = {.site = "dc", .holder = r->holder, .gen = r->gen};

	r->rc = rv_lease_acquire(r->s, &o, &r->got);
	return NULL;
}

/* Writers racing with conditional puts: every one that succeeded got its
 * own epoch, and exactly one of them still holds the lease. */
static void test_conditional_race(void **state)
{
	struct fx *fx = *state;
	struct racer r[6];
	pthread_t t[6];
	int holders = 0, ok = 0;

	for (int i = 0; i < 6; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].s = fx->s;
		snprintf(r[i].holder, sizeof(r[i].holder), "racer-%d", i);
		rv_gen_id_new(r[i].gen);
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 6; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (int i = 0; i < 6; i++) {
		if (r[i].rc) {
			assert_int_equal(r[i].rc, RV_EPRECOND);
			continue;
		}
		ok++;
		for (int j = 0; j < i; j++)
			if (!r[j].rc)
				assert_int_not_equal(r[i].got.epoch, r[j].got.epoch);
		if (!rv_lease_check(fx->s, &r[i].got))
			holders++;
		rv_lease_release(&r[i].got);
	}
	assert_true(ok >= 1);
	assert_int_equal(holders, 1);
}

static void test_codec_and_meta(void **state)
{
	struct fx *fx = *state;
	struct rv_lease l;
	struct rv_gen_meta m = {.site = "dc",
				.epoch = 3,
				.created_ms = 1700000000123,
				.database = "sqlite"},
			   back;
	const char *v2 = "{\"format\":\"revenant-lease\",\"version\":\"2.0\",\"epoch\":1}";
	const char *dup = "{\"format\":\"revenant-lease\",\"version\":\"1.0\",\"format\":\"x\"}";
	const char *future =
	    "{\"format\":\"revenant-lease\",\"version\":\"1.4\",\"epoch\":5,\"site\":\"dr\","
	    "\"generation\":\"0000019a3c5e7f10-3fa9c2d1\",\"since_ms\":1,\"holder\":\"h\","
	    "\"new_field\":[1,2]}";

	assert_int_equal(rv_lease_decode(&l, v2, strlen(v2)), RV_ENOTSUP);
	assert_int_equal(rv_lease_decode(&l, dup, strlen(dup)), RV_ECORRUPT);
	assert_int_equal(rv_lease_decode(&l, "[]", 2), RV_ECORRUPT);
	assert_int_equal(rv_lease_decode(&l, future, strlen(future)), 0);
	assert_int_equal(l.epoch, 5);
	assert_string_equal(l.site, "dr");
	rv_lease_release(&l);

	rv_gen_id_new(m.gen);
	assert_int_equal(rv_gen_meta_write(fx->s, &m), 0);
	assert_int_equal(rv_gen_meta_write(fx->s, &m), RV_EPRECOND); /* IDs are never reused */
	assert_int_equal(rv_gen_meta_read(fx->s, m.gen, &back), 0);
	assert_string_equal(back.site, "dc");
	assert_int_equal(back.epoch, 3);
	assert_int_equal(back.created_ms, 1700000000123);
	assert_null(back.parent);
	assert_string_equal(back.database, "sqlite");
	rv_gen_meta_release(&back);
	{
		struct rv_lease_opts bad = {.site = "no spaces", .holder = "h", .gen = m.gen};

		assert_int_equal(rv_lease_acquire(fx->s, &bad, &l), RV_EUSAGE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create_check_and_same_site_restart, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_other_site_fenced_and_take_over, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_epoch_written_by_hand, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_weak_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_renew_conditional, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_renew_weak, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_renew_usage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conditional_race, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_codec_and_meta, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
