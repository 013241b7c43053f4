/* test_proc.c - core/proc.h: a command's output collected up to the cap
 * (and a chatty command never blocks), the environment with the dropped
 * prefix gone and the added variables present, exit statuses, a missing
 * command, a timeout that kills the whole process group, and (until_exit)
 * a command that leaves a daemon behind holding its output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/mem.h"
#include "core/proc.h"
#include "core/util.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int sh(const char *script, const char *const *env, unsigned timeout_ms, size_t cap,
	      struct rv_proc_result *r)
{
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	struct rv_proc_opts o = {.argv = argv,
				 .env = env,
				 .env_drop = "RV_PROCTEST_",
				 .timeout_ms = timeout_ms,
				 .out_max = cap,
				 .what = "test"};

	return rv_proc_run(&o, r);
}

static void test_output_and_status(void **state)
{
	struct rv_proc_result r;
	char line[64];

	(void)state;
	assert_int_equal(sh("echo out; echo err1 >&2; echo err2 >&2; exit 3", NULL, 5000, 1024, &r),
			 0);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 3);
	assert_int_equal(r.out.len, 4);
	assert_memory_equal(r.out.data, "out\n", 4);
	rv_proc_last_line(&r.err, line, sizeof(line));
	assert_string_equal(line, "err2");
	rv_proc_last_line(&r.out, line, sizeof(line));
	assert_string_equal(line, "out");
	rv_proc_result_release(&r);

	/* 4 MiB of output: kept up to the cap, the rest drained */
	assert_int_equal(sh("head -c 4194304 /dev/zero", NULL, 10000, 65536, &r), 0);
	assert_int_equal(WEXITSTATUS(r.status), 0);
	assert_true(r.out.len <= 65536);
	assert_true(r.out.len > 0);
	rv_proc_result_release(&r);
}

static void test_env(void **state)
{
	const char *add[] = {"RV_PROCTEST_NEW=yes", NULL};
	struct rv_proc_result r;

	(void)state;
	setenv("RV_PROCTEST_OLD", "leak", 1);
	setenv("RV_KEPT", "kept", 1);
	assert_int_equal(
	    sh("echo \"${RV_PROCTEST_OLD:-none} $RV_PROCTEST_NEW $RV_KEPT\"", add, 5000, 1024, &r),
	    0);
	assert_int_equal(r.out.len, strlen("none yes kept\n"));
	assert_memory_equal(r.out.data, "none yes kept\n", r.out.len);
	rv_proc_result_release(&r);
}

/* Gone, or a zombie waiting for init to reap it: not running. */
static bool gone(pid_t pid)
{
	char path[64], buf[256];
	FILE *f;
	char *p;
	bool g = true;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return true;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[1] == ' ')
		g = p[2] == 'Z' || p[2] == 'X';
	fclose(f);
	return g;
}

static void test_missing_and_timeout(void **state)
{
	const char *argv[] = {"/nonexistent/cmd", NULL};
	struct rv_proc_opts o = {.argv = argv, .timeout_ms = 1000, .out_max = 1024, .what = "test"};
	struct rv_proc_result r;
	char *pidfile = rv_asprintf("/tmp/rv-proctest.%d", (int)getpid());
	char *script = rv_asprintf("sleep 30 & echo $! > %s; wait", pidfile);
	int64_t t0;
	char *text = NULL;
	size_t n;
	uint64_t child;

	(void)state;
	assert_int_equal(rv_proc_run(&o, &r), RV_EUSAGE);
	assert_non_null(strstr(rv_errmsg(), "cannot run '/nonexistent/cmd'"));
	rv_proc_result_release(&r);

	t0 = rv_mono_ms();
	assert_int_equal(sh(script, NULL, 500, 1024, &r), RV_ENET);
	assert_true(rv_mono_ms() - t0 < 5000);
	assert_non_null(strstr(rv_errmsg(), "did not finish within 500 ms"));
	rv_proc_result_release(&r);
	/* the grandchild went with it */
	assert_int_equal(rv_read_file(pidfile, 64, &text, &n), 0);
	text[strcspn(text, "\n")] = '\0';
	assert_int_equal(rv_parse_u64(text, &child), 0);
	usleep(100000);
	assert_true(gone((pid_t)child));
	unlink(pidfile);
	free(text);
	free(script);
	free(pidfile);
}

/* A hook that starts Ghost in the background: done when the hook exits,
 * the daemon left running with the pipes it holds; without until_exit the
 * run would wait for the daemon until the timeout and kill it. */
static void test_daemon_left_behind(void **state)
{
	const char *argv[] = {"/bin/sh", "-c", "sleep 30 & echo $! ; echo started", NULL};
	struct rv_proc_opts o = {
	    .argv = argv, .timeout_ms = 10000, .out_max = 1024, .what = "test", .until_exit = true};
	struct rv_proc_result r;
	int64_t t0 = rv_mono_ms();
	long daemon;

	(void)state;
	assert_int_equal(rv_proc_run(&o, &r), 0);
	assert_true(rv_mono_ms() - t0 < 5000);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 0);
	assert_true(r.out.len > 0);
	daemon = strtol(r.out.data, NULL, 10);
	assert_true(daemon > 1);
	assert_int_equal(kill((pid_t)daemon, 0), 0); /* still running */
	kill((pid_t)daemon, SIGKILL);
	rv_proc_result_release(&r);
}

/* The caller blocks SIGTERM (as every revenant thread does for its
 * signalfd): the command must still start with nothing blocked, or a Ghost
 * a hook starts could never be stopped with SIGTERM. */
static void test_signals_unblocked(void **state)
{
	sigset_t term, old;
	struct rv_proc_result r;
	char line[64];

	(void)state;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &term, &old), 0);
	assert_int_equal(sh("grep '^SigBlk' /proc/self/status", NULL, 5000, 1024, &r), 0);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	rv_proc_last_line(&r.out, line, sizeof(line));
	assert_string_equal(line, "SigBlk:\t0000000000000000");
	rv_proc_result_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_output_and_status),	cmocka_unit_test(test_env),
	    cmocka_unit_test(test_missing_and_timeout), cmocka_unit_test(test_daemon_left_behind),
	    cmocka_unit_test(test_signals_unblocked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
