/* test_lease.c - the primary lease and generation metadata against the
 * file store (which has atomic conditional puts), plus its weak mode. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include "content/format.h"
#include "core/mem.h"
#include "store/store.h"
#include "switch/lease.h"

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
	    cmocka_unit_test_setup_teardown(test_conditional_race, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_codec_and_meta, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
