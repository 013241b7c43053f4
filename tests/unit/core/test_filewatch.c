/* rv_filewatch: writes to the watched names wake, everything else in the
 * folder does not, a rename over a watched name wakes, a removed folder
 * is reported as gone. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/filewatch.h"

static char dir[64];

static void write_file(const char *name, const char *text)
{
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static bool readable(struct rv_filewatch *fw)
{
	struct pollfd pf = {rv_filewatch_fd(fw), POLLIN, 0};

	return poll(&pf, 1, 0) == 1;
}

static void test_names_only(void **state)
{
	const char *names[] = {"ghost.db", "ghost.db-wal"};
	struct rv_filewatch *fw;
	char a[128], b[128];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/rv-fw.XXXXXX");
	assert_non_null(mkdtemp(dir));
	write_file("ghost.db", "db");
	assert_int_equal(rv_filewatch_open(&fw, dir, names, 2), 0);
	assert_false(readable(fw));
	assert_int_equal(rv_filewatch_drain(fw), 0);

	/* a spool file next to the database: events, but not ours */
	write_file("ghost.db.rv-spool", "spool");
	assert_true(readable(fw));
	assert_int_equal(rv_filewatch_drain(fw), 0);
	assert_false(readable(fw));

	write_file("ghost.db-wal", "frame");
	assert_int_equal(rv_filewatch_drain(fw), 1);
	assert_int_equal(rv_filewatch_drain(fw), 0);

	/* replaced by rename */
	write_file("new.db", "other");
	assert_int_equal(rv_filewatch_drain(fw), 0);
	snprintf(a, sizeof(a), "%s/new.db", dir);
	snprintf(b, sizeof(b), "%s/ghost.db", dir);
	assert_int_equal(rename(a, b), 0);
	assert_int_equal(rv_filewatch_drain(fw), 1);

	/* the folder removed: gone, not "changed" forever */
	snprintf(a, sizeof(a), "%s/ghost.db-wal", dir);
	unlink(a);
	unlink(b);
	snprintf(a, sizeof(a), "%s/ghost.db.rv-spool", dir);
	unlink(a);
	assert_int_equal(rmdir(dir), 0);
	assert_true(rv_filewatch_drain(fw) < 0);
	rv_filewatch_free(fw);
}

static void test_bad_folder(void **state)
{
	const char *names[] = {"x"};
	struct rv_filewatch *fw = NULL;

	(void)state;
	assert_true(rv_filewatch_open(&fw, "/nonexistent/rv-fw", names, 1) < 0);
	assert_null(fw);
	assert_true(rv_filewatch_open(&fw, "/tmp", names, 0) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_only),
	    cmocka_unit_test(test_bad_folder),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
