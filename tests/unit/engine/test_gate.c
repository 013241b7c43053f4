/* test_gate.c - the Ghost gate's two files (engine/gate.h): open creates
 * `open` (and the folder); close removes it and returns only once
 * `running` is gone, woken by inotify, or fails at its timeout. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include "core/err.h"
#include "core/util.h"
#include "engine/gate.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fx {
	char dir[64], gate[96], open[128], running[128];
};

static int setup(void **state)
{
	static struct fx fx;

	snprintf(fx.dir, sizeof(fx.dir), "/tmp/rv-test-gate-XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	snprintf(fx.gate, sizeof(fx.gate), "%s/g", fx.dir);
	snprintf(fx.open, sizeof(fx.open), "%s/open", fx.gate);
	snprintf(fx.running, sizeof(fx.running), "%s/running", fx.gate);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	unlink(fx->open);
	unlink(fx->running);
	rmdir(fx->gate);
	rmdir(fx->dir);
	return 0;
}

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fclose(f);
}

static void test_open_close(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(rv_gate_open(fx->gate), 0); /* creates the folder too */
	assert_int_equal(access(fx->open, F_OK), 0);
	assert_int_equal(rv_gate_open(fx->gate), 0); /* again: no change */
	assert_int_equal(rv_gate_close(fx->gate, 1000), 0);
	assert_int_not_equal(access(fx->open, F_OK), 0);
	assert_int_equal(rv_gate_close(fx->gate, 1000), 0); /* closed already */
}

static void *ghost_stops(void *arg)
{
	struct fx *fx = arg;

	rv_sleep_ms(300);
	unlink(fx->running);
	return NULL;
}

/* Close waits for the wrapper to say Ghost has exited, and no longer. */
static void test_close_waits_for_ghost(void **state)
{
	struct fx *fx = *state;
	pthread_t t;
	int64_t t0, took;

	assert_int_equal(rv_gate_open(fx->gate), 0);
	touch(fx->running);
	assert_int_equal(pthread_create(&t, NULL, ghost_stops, fx), 0);
	t0 = rv_mono_ms();
	assert_int_equal(rv_gate_close(fx->gate, 5000), 0);
	took = rv_mono_ms() - t0;
	pthread_join(t, NULL);
	assert_true(took >= 250);
	assert_true(took < 1500); /* woken by the removal, not at the timeout */
	assert_int_not_equal(access(fx->open, F_OK), 0);
}

/* Ghost that does not stop: RV_ENET at the timeout, the file named. */
static void test_close_times_out(void **state)
{
	struct fx *fx = *state;
	int64_t t0 = rv_mono_ms();

	assert_int_equal(rv_gate_open(fx->gate), 0);
	touch(fx->running);
	assert_int_equal(rv_gate_close(fx->gate, 400), RV_ENET);
	assert_true(rv_mono_ms() - t0 >= 350);
	assert_non_null(strstr(rv_errmsg(), "still runs"));
	assert_non_null(strstr(rv_errmsg(), fx->running));
	assert_int_not_equal(access(fx->open, F_OK), 0); /* closed all the same */
	unlink(fx->running);
}

/* A folder revenant cannot write: one clear error, not a crash. */
static void test_open_unwritable(void **state)
{
	(void)state;
	assert_int_equal(rv_gate_open("/proc/rv-no-such-gate"), RV_EUSAGE);
	assert_non_null(strstr(rv_errmsg(), "hooks.gate"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_waits_for_ghost, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_times_out, setup, teardown),
	    cmocka_unit_test(test_open_unwritable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
