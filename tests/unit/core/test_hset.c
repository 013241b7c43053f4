#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hset.h"

static void key_of(char *out, size_t n, unsigned i)
{
	snprintf(out, n, "generations/%08x/content/log-%u", i * 2654435761u, i);
}

static void test_many_keys_and_growth(void **state)
{
	struct rv_hset s;
	char k[80];
	size_t cap_before;

	(void)state;
	rv_hset_init(&s, "keys", 1u << 20);
	assert_int_equal(rv_hset_count(&s), 0);
	assert_false(rv_hset_has(&s, "x", 1));
	for (unsigned i = 0; i < 100000; i++) {
		key_of(k, sizeof(k), i);
		assert_int_equal(rv_hset_add(&s, k, strlen(k), NULL), 0);
		if (i == 10)
			cap_before = s.cap;
	}
	assert_int_equal(rv_hset_count(&s), 100000);
	assert_true(s.cap > cap_before);
	assert_true(s.n * 10 <= s.cap * 7);
	for (unsigned i = 0; i < 100000; i++) {
		key_of(k, sizeof(k), i);
		assert_true(rv_hset_has(&s, k, strlen(k)));
		/* A prefix or an extension is another key. */
		assert_false(rv_hset_has(&s, k, strlen(k) - 1));
	}
	key_of(k, sizeof(k), 100000);
	assert_false(rv_hset_has(&s, k, strlen(k)));
	rv_hset_release(&s);
	assert_int_equal(rv_hset_count(&s), 0);
	key_of(k, sizeof(k), 1);
	assert_false(rv_hset_has(&s, k, strlen(k)));
	/* Usable again after release. */
	assert_int_equal(rv_hset_add(&s, k, strlen(k), NULL), 0);
	assert_true(rv_hset_has(&s, k, strlen(k)));
	rv_hset_release(&s);
}

static void test_duplicates_and_values(void **state)
{
	struct rv_hset s;
	void **v1, **v2;
	int a = 1;

	(void)state;
	rv_hset_init(&s, "paths", 100);
	assert_int_equal(rv_hset_add(&s, "a/b", 3, &v1), 0);
	assert_null(*v1);
	*v1 = &a;
	assert_int_equal(rv_hset_add(&s, "a/b", 3, &v2), 0);
	assert_ptr_equal(*v2, &a);
	assert_int_equal(rv_hset_count(&s), 1);
	/* Keys are copied: the caller's buffer may change. */
	{
		char buf[] = "c/d";
		assert_int_equal(rv_hset_add(&s, buf, 3, NULL), 0);
		buf[0] = 'x';
		assert_true(rv_hset_has(&s, "c/d", 3));
		assert_false(rv_hset_has(&s, "x/d", 3));
	}
	assert_ptr_equal(*rv_hset_find(&s, "a/b", 3), &a);
	assert_null(*rv_hset_find(&s, "c/d", 3));
	assert_null(rv_hset_find(&s, "e/f", 3));
	/* A prefix of a longer key, as restore looks up folders. */
	assert_true(rv_hset_has(&s, "a/b/c", 3));
	rv_hset_release(&s);
}

static void test_empty_and_binary_keys(void **state)
{
	struct rv_hset s;
	const unsigned char d1[4] = {0, 0, 0, 1}, d2[4] = {0, 0, 0, 2};
	size_t pos = 0;
	const struct rv_hset_slot *e;

	(void)state;
	rv_hset_init(&s, "keys", 10);
	assert_false(rv_hset_has(&s, "", 0));
	assert_int_equal(rv_hset_add(&s, "", 0, NULL), 0);
	assert_true(rv_hset_has(&s, "", 0));
	assert_false(rv_hset_has(&s, "\0", 1));
	assert_int_equal(rv_hset_add(&s, d1, sizeof(d1), NULL), 0);
	assert_true(rv_hset_has(&s, d1, sizeof(d1)));
	assert_false(rv_hset_has(&s, d2, sizeof(d2)));
	assert_int_equal(rv_hset_count(&s), 2);
	while (rv_hset_next(&s, &pos, &e))
		assert_int_equal(e->key[e->len], '\0');
	assert_true(rv_hset_del(&s, "", 0));
	assert_false(rv_hset_del(&s, "", 0));
	assert_false(rv_hset_has(&s, "", 0));
	assert_true(rv_hset_has(&s, d1, sizeof(d1)));
	rv_hset_release(&s);
}

/* Random adds and deletes on a small universe (long probe runs at 70%),
 * checked against a plain array after every step. */
static void test_deletion_against_reference(void **state)
{
	enum { U = 700 };
	static bool in[U];
	struct rv_hset s;
	char k[32];
	size_t want = 0;

	(void)state;
	srand(7);
	rv_hset_init(&s, "keys", U);
	for (int step = 0; step < 200000; step++) {
		unsigned i = (unsigned)rand() % U;

		snprintf(k, sizeof(k), "k%u", i);
		if (rand() % 2) {
			assert_int_equal(rv_hset_add(&s, k, strlen(k), NULL), 0);
			want += !in[i];
			in[i] = true;
		} else {
			assert_int_equal(rv_hset_del(&s, k, strlen(k)), in[i]);
			want -= in[i];
			in[i] = false;
		}
		assert_int_equal(rv_hset_count(&s), want);
		if (step % 997 == 0) {
			for (unsigned j = 0; j < U; j++) {
				snprintf(k, sizeof(k), "k%u", j);
				assert_int_equal(rv_hset_has(&s, k, strlen(k)), in[j]);
			}
		}
	}
	for (unsigned j = 0; j < U; j++) {
		snprintf(k, sizeof(k), "k%u", j);
		assert_int_equal(rv_hset_has(&s, k, strlen(k)), in[j]);
	}
	rv_hset_release(&s);
}

static void test_walk_visits_each_key_once(void **state)
{
	struct rv_hset s;
	const struct rv_hset_slot *e;
	size_t pos = 0, seen = 0;
	char k[32];
	static int hits[1000];

	(void)state;
	rv_hset_init(&s, "keys", 1000);
	for (int i = 0; i < 1000; i++) {
		void **v;

		snprintf(k, sizeof(k), "%d", i);
		assert_int_equal(rv_hset_add(&s, k, strlen(k), &v), 0);
		*v = &hits[i];
	}
	for (int i = 0; i < 1000; i += 3) {
		snprintf(k, sizeof(k), "%d", i);
		assert_true(rv_hset_del(&s, k, strlen(k)));
	}
	while (rv_hset_next(&s, &pos, &e)) {
		int i = (int)strtol(e->key, NULL, 10);

		assert_ptr_equal(e->val, &hits[i]);
		hits[i]++;
		seen++;
	}
	assert_int_equal(seen, rv_hset_count(&s));
	for (int i = 0; i < 1000; i++)
		assert_int_equal(hits[i], i % 3 ? 1 : 0);
	rv_hset_release(&s);
}

static void test_capped(void **state)
{
	struct rv_hset s;
	char k[32];

	(void)state;
	rv_hset_init(&s, "objects to delete", 100);
	for (int i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "%d", i);
		assert_int_equal(rv_hset_add(&s, k, strlen(k), NULL), 0);
	}
	assert_int_equal(rv_hset_add(&s, "100", 3, NULL), RV_EFAIL);
	assert_string_equal(rv_errmsg(),
			    "more than 100 objects to delete: refusing to hold more in memory");
	/* Present keys still answer; a freed place takes a new key. */
	assert_int_equal(rv_hset_add(&s, "99", 2, NULL), 0);
	assert_true(rv_hset_del(&s, "0", 1));
	assert_int_equal(rv_hset_add(&s, "100", 3, NULL), 0);
	assert_true(s.n * 10 <= s.cap * 7);
	rv_hset_release(&s);
}

/* Two sets hash the same keys differently (per-set seed). */
static void test_seeded(void **state)
{
	struct rv_hset a, b;
	const struct rv_hset_slot *ea, *eb;
	size_t pa = 0, pb = 0;

	(void)state;
	rv_hset_init(&a, "keys", 10);
	rv_hset_init(&b, "keys", 10);
	assert_true(a.seed != b.seed);
	assert_int_equal(rv_hset_add(&a, "k", 1, NULL), 0);
	assert_int_equal(rv_hset_add(&b, "k", 1, NULL), 0);
	assert_true(rv_hset_next(&a, &pa, &ea));
	assert_true(rv_hset_next(&b, &pb, &eb));
	assert_true(ea->hash != eb->hash);
	rv_hset_release(&a);
	rv_hset_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_many_keys_and_growth),
	    cmocka_unit_test(test_duplicates_and_values),
	    cmocka_unit_test(test_empty_and_binary_keys),
	    cmocka_unit_test(test_deletion_against_reference),
	    cmocka_unit_test(test_walk_visits_each_key_once),
	    cmocka_unit_test(test_capped),
	    cmocka_unit_test(test_seeded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
