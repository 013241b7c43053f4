/* REVENANT_TESTPOINT: which hit stops the process, arming by a first
 * point, and malformed values that must never stop anything.  Each case
 * runs in a child (the parse happens once per process) that reports how
 * far it got through a pipe; the parent sees whether it stopped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/testpoint.h"

/* Run `seq` (names separated by spaces) under `spec`; return the number of
 * names passed before the child stopped, or -1 if it ran to the end. */
static int stops_after(const char *spec, const char *const *seq)
{
	int p[2], status;
	pid_t pid;
	char c;
	int n = 0;
	bool stopped;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		setenv("REVENANT_TESTPOINT", spec, 1);
		for (size_t i = 0; seq[i]; i++) {
			rv_testpoint(seq[i]);
			if (write(p[1], "x", 1) != 1)
				_exit(2);
		}
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	stopped = WIFSTOPPED(status);
	if (stopped) {
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
	} else {
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	/* the child is gone: the pipe ends where it got to */
	while (read(p[0], &c, 1) == 1)
		n++;
	close(p[0]);
	return stopped ? n : -1;
}

static void test_nth_hit(void **state)
{
	const char *seq[] = {"a", "b", "a", "a", "b", NULL};

	(void)state;
	assert_int_equal(stops_after("a", seq), 0);
	assert_int_equal(stops_after("a@2", seq), 2);
	assert_int_equal(stops_after("b@2", seq), 4);
	assert_int_equal(stops_after("a@4", seq), -1);
	assert_int_equal(stops_after("c", seq), -1);
}

static void test_armed_by_first(void **state)
{
	const char *seq[] = {"w", "w", "start", "w", "w", "start", "w", NULL};

	(void)state;
	/* hits before "start" do not count; "start" itself never stops */
	assert_int_equal(stops_after("start>w", seq), 3);
	assert_int_equal(stops_after("start>w@2", seq), 4);
	assert_int_equal(stops_after("start>w@3", seq), 6);
	assert_int_equal(stops_after("nothing>w", seq), -1);
	assert_int_equal(stops_after("start>start", seq), 5);
}

static void test_malformed_never_stops(void **state)
{
	const char *seq[] = {"a", "a", ">", "@", NULL};
	const char *bad[] = {"",   "a@0", "a@", "a@x",	 "a@-1",
			     ">a", "a>",  "@1", "a@1@2", "a@99999999999999999999999",
			     NULL};

	(void)state;
	for (size_t i = 0; bad[i]; i++)
		assert_int_equal(stops_after(bad[i], seq), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nth_hit),
	    cmocka_unit_test(test_armed_by_first),
	    cmocka_unit_test(test_malformed_never_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
