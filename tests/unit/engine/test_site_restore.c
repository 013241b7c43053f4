/* rv_site_restore: the options that do not go together are refused before
 * any store is touched (and in the order the CLI documents), an existing
 * --db is never overwritten, an empty store has no point (RV_ENOTFOUND)
 * and nothing is written then. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "engine/site_restore.h"
#include "store/store.h"

static char dir[64];

static struct rv_site_restore_opts opts(void)
{
	struct rv_site_restore_opts o = {.at_ms = RV_RESTORE_LATEST, .content = {.jobs = 2}};

	return o;
}

static void test_check(void **state)
{
	struct rv_site_restore_opts o;
	char exists[128];
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/rv-sr.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(exists, sizeof(exists), "%s/ghost.db", dir);
	fd = open(exists, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);

	o = opts();
	assert_int_equal(rv_site_restore_check(&o), RV_EUSAGE); /* no --to */
	o.to = dir;
	assert_int_equal(rv_site_restore_check(&o), 0);
	o.content_only = true;
	o.db = "/tmp/x.db";
	assert_int_equal(rv_site_restore_check(&o), RV_EUSAGE);
	o = opts();
	o.db_only = true;
	assert_int_equal(rv_site_restore_check(&o), RV_EUSAGE); /* no --db */
	o.db = "/tmp/nonexistent-rv-sr.db";
	o.to = dir;
	assert_int_equal(rv_site_restore_check(&o), RV_EUSAGE); /* --to with --db-only */
	o.to = NULL;
	assert_int_equal(rv_site_restore_check(&o), 0);
	/* an existing database file is never overwritten, whatever else */
	o = opts();
	o.db = exists;
	assert_int_equal(rv_site_restore_check(&o), RV_EPRECOND);
	assert_non_null(strstr(rv_errmsg(), "exists"));
	unlink(exists);
}

static void test_empty_store(void **state)
{
	struct rv_store_opts so;
	struct rv_store *s;
	struct rv_site_restore_opts o = opts();
	struct rv_site_restore_result r;
	char store[96], to[96], *url;
	DIR *d;
	int n = 0;

	(void)state;
	snprintf(store, sizeof(store), "%s/store", dir);
	snprintf(to, sizeof(to), "%s/site", dir);
	assert_int_equal(mkdir(store, 0700), 0);
	rv_store_opts_default(&so);
	so.fsync = false;
	url = rv_asprintf("file://%s", store);
	assert_int_equal(rv_store_open(&s, url, &so), 0);
	free(url);
	o.to = to;
	assert_int_equal(rv_site_restore(s, &o, &r), RV_ENOTFOUND);
	assert_false(r.folder);
	assert_false(r.db);
	rv_site_restore_result_release(&r);
	/* nothing made: not even the target folder */
	assert_int_equal(access(to, F_OK), -1);
	d = opendir(store);
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	assert_int_equal(n, 2); /* . and .. */
	rv_store_free(s);
	rmdir(store);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_empty_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
