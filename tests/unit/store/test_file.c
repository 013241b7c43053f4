/* test_file.c - the local-folder store backend through the rv_store API. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include "core/mem.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
	char dir[64];
	char *url;
	struct rv_store *s;
};

static int setup(void **state)
{
	struct fx *fx = rv_calloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/rv-test-file-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	fx->url = rv_asprintf("file://%s", fx->dir);
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
	free(fx->url);
	free(fx);
	return 0;
}

static void put_str(struct rv_store *s, const char *key, const char *v)
{
	assert_int_equal(rv_store_put_buf(s, key, v, strlen(v), NULL), 0);
}

static char *get_str(struct rv_store *s, const char *key)
{
	struct rv_buf b = RV_BUF_INIT(1 << 20);
	int rc = rv_store_get_buf(s, key, &b, NULL);

	assert_int_equal(rc, 0);
	return rv_buf_detach(&b, NULL);
}

static void test_roundtrip_head_range(void **state)
{
	struct fx *fx = *state;
	struct rv_put_opts po = {0};
	struct rv_obj_info info;
	char buf[64], etag1[80];
	char *v;
	int fd;

	assert_int_equal(rv_store_put_buf(fx->s, "a/b/c.txt", "hello world", 11, &po), 0);
	assert_true(po.etag_out[0]);
	snprintf(etag1, sizeof(etag1), "%s", po.etag_out);
	v = get_str(fx->s, "a/b/c.txt");
	assert_string_equal(v, "hello world");
	free(v);

	assert_int_equal(rv_store_head(fx->s, "a/b/c.txt", &info), 0);
	assert_string_equal(info.key, "a/b/c.txt");
	assert_int_equal(info.size, 11);
	assert_string_equal(info.etag, etag1);
	assert_true(info.mtime_ms > 1600000000000LL);
	rv_obj_info_release(&info);

	/* Range: bytes 6..10, and "to the end" from 6. */
	fd = memfd_create("t", 0);
	assert_int_equal(rv_store_get_fd(fx->s, "a/b/c.txt", fd, 6, 3, NULL), 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), 3);
	assert_memory_equal(buf, "wor", 3);
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(rv_store_get_fd(fx->s, "a/b/c.txt", fd, 6, 0, NULL), 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "world", 5);
	/* Past the end is an error, not an empty success. */
	assert_int_equal(rv_store_get_fd(fx->s, "a/b/c.txt", fd, 11, 0, NULL), RV_EUSAGE);
	close(fd);

	/* Replacing changes the etag. */
	put_str(fx->s, "a/b/c.txt", "hello again");
	assert_int_equal(rv_store_head(fx->s, "a/b/c.txt", &info), 0);
	assert_string_not_equal(info.etag, etag1);
	rv_obj_info_release(&info);

	/* Missing keys, and a folder is not an object. */
	assert_int_equal(rv_store_head(fx->s, "a/b/none", &info), RV_ENOTFOUND);
	assert_non_null(strstr(rv_errmsg(), "a/b/none"));
	assert_int_equal(rv_store_head(fx->s, "a/b", &info), RV_ENOTFOUND);
	assert_int_equal(rv_store_head(fx->s, "a/b/c.txt/x", &info), RV_ENOTFOUND);
	fd = memfd_create("t", 0);
	assert_int_equal(rv_store_get_fd(fx->s, "nope", fd, 0, 0, NULL), RV_ENOTFOUND);
	close(fd);

	/* Empty objects exist. */
	assert_int_equal(rv_store_put_buf(fx->s, "empty", "", 0, NULL), 0);
	assert_int_equal(rv_store_head(fx->s, "empty", &info), 0);
	assert_int_equal(info.size, 0);
	rv_obj_info_release(&info);
	v = get_str(fx->s, "empty");
	assert_string_equal(v, "");
	free(v);
}

static void test_put_fd_sources(void **state)
{
	struct fx *fx = *state;
	char path[128], *v;
	int p[2], fd;

	/* A regular file is read from offset 0 whatever its fd offset. */
	snprintf(path, sizeof(path), "%s.src", fx->dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	assert_int_equal(rv_store_put_fd(fx->s, "f", fd, UINT64_MAX, NULL), 0);
	v = get_str(fx->s, "f");
	assert_string_equal(v, "0123456789");
	free(v);
	assert_int_equal(rv_store_put_fd(fx->s, "f4", fd, 4, NULL), 0);
	v = get_str(fx->s, "f4");
	assert_string_equal(v, "0123");
	free(v);
	/* Asking for more than the file has fails and publishes nothing. */
	assert_int_equal(rv_store_put_fd(fx->s, "f20", fd, 20, NULL), RV_ECORRUPT);
	close(fd);
	unlink(path);

	/* A pipe that ends early: no object, no leftover temporary. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "abc", 3), 3);
	close(p[1]);
	assert_int_equal(rv_store_put_fd(fx->s, "dir/short", p[0], 100, NULL), RV_ECORRUPT);
	close(p[0]);
	assert_int_equal(rv_store_head(fx->s, "dir/short", &(struct rv_obj_info){0}), RV_ENOTFOUND);
	{
		char *d = rv_asprintf("%s/dir", fx->dir);
		DIR *dd = opendir(d);
		struct dirent *de;
		assert_non_null(dd);
		while ((de = readdir(dd)))
			assert_true(de->d_name[0] == '.' &&
				    (!de->d_name[1] || !strcmp(de->d_name, "..")));
		closedir(dd);
		free(d);
	}

	/* A pipe read to its end. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "streamed", 8), 8);
	close(p[1]);
	assert_int_equal(rv_store_put_fd(fx->s, "dir/pipe", p[0], UINT64_MAX, NULL), 0);
	close(p[0]);
	v = get_str(fx->s, "dir/pipe");
	assert_string_equal(v, "streamed");
	free(v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_list_paging_byte_order(void **state)
{
	struct fx *fx = *state;
	enum { N = 2500 };
	/* Names whose folder/file mix breaks a naive per-folder sort. */
	static const char *tricky[] = {
	    "a-b",	     "a/b",  "a/b/c", "a0",  "a.",  "a/b-c",
	    "a/b/d",	     "a/b0", "b",     "b/a", "b c", "\xc3\xa9t\xc3\xa9",
	    "z/\xe2\x82\xac"};
	size_t nt = sizeof(tricky) / sizeof(*tricky), total = 0, pages = 0;
	char **want = rv_calloc(N + nt, sizeof(char *));
	char *token = NULL;
	size_t nw = 0;

	for (size_t i = 0; i < nt; i++) {
		/* "a/b" cannot be both a key and a folder; keep the folder. */
		if (!strcmp(tricky[i], "a/b") || !strcmp(tricky[i], "b"))
			continue;
		want[nw++] = rv_strdup(tricky[i]);
	}
	for (int i = 0; nw < N; i++)
		want[nw++] = rv_asprintf("d%d/s%d/k-%d", i % 7, i % 13, i);
	for (size_t i = 0; i < nw; i++)
		put_str(fx->s, want[i], want[i]);
	qsort(want, nw, sizeof(*want), cmp_str);

	for (;;) {
		struct rv_list_page pg;
		assert_int_equal(rv_store_list_page(fx->s, "", token, 1000, &pg), 0);
		free(token);
		token = NULL;
		assert_true(pg.count <= 1000);
		for (size_t i = 0; i < pg.count; i++) {
			assert_true(total < nw);
			assert_string_equal(pg.items[i].key, want[total]);
			assert_int_equal(pg.items[i].size, strlen(want[total]));
			total++;
		}
		pages++;
		if (pg.next_token)
			token = rv_strdup(pg.next_token);
		rv_list_page_release(&pg);
		if (!token)
			break;
	}
	assert_int_equal(total, nw);
	assert_int_equal(pages, 3); /* 1000 + 1000 + 500, no empty last page */

	/* A prefix that ends inside a name, and one naming a folder. */
	{
		struct rv_list_page pg;
		size_t expect = 0, j = 0;
		for (size_t i = 0; i < nw; i++)
			expect += !strncmp(want[i], "a", 1);
		assert_int_equal(rv_store_list_page(fx->s, "a", NULL, 0, &pg), 0);
		assert_int_equal(pg.count, expect);
		for (size_t i = 0; i < nw; i++)
			if (!strncmp(want[i], "a", 1))
				assert_string_equal(pg.items[j++].key, want[i]);
		rv_list_page_release(&pg);
		assert_int_equal(rv_store_list_page(fx->s, "a/b/", NULL, 0, &pg), 0);
		assert_int_equal(pg.count, 2);
		assert_string_equal(pg.items[0].key, "a/b/c");
		assert_string_equal(pg.items[1].key, "a/b/d");
		rv_list_page_release(&pg);
		assert_int_equal(rv_store_list_page(fx->s, "no/such/", NULL, 0, &pg), 0);
		assert_int_equal(pg.count, 0);
		assert_null(pg.next_token);
		rv_list_page_release(&pg);
	}
	/* Small pages through a prefix. */
	{
		size_t seen = 0;
		char *t = NULL;
		do {
			struct rv_list_page pg;
			assert_int_equal(rv_store_list_page(fx->s, "d3/", t, 7, &pg), 0);
			free(t);
			t = pg.next_token ? rv_strdup(pg.next_token) : NULL;
			for (size_t i = 0; i < pg.count; i++)
				assert_true(!strncmp(pg.items[i].key, "d3/", 3));
			seen += pg.count;
			rv_list_page_release(&pg);
		} while (t);
		size_t expect = 0;
		for (size_t i = 0; i < nw; i++)
			expect += !strncmp(want[i], "d3/", 3);
		assert_int_equal(seen, expect);
	}
	for (size_t i = 0; i < nw; i++)
		free(want[i]);
	free(want);
}

struct race {
	struct rv_store *s;
	const char *key;
	enum rv_put_cond cond;
	const char *etag;
	pthread_barrier_t *bar;
	int rc;
};

static void *race_put(void *arg)
{
	struct race *r = arg;
	struct rv_put_opts po = {.cond = r->cond, .if_match = r->etag};
	char body[32];

	snprintf(body, sizeof(body), "%p", (void *)r);
	pthread_barrier_wait(r->bar);
	r->rc = rv_store_put_buf(r->s, r->key, body, strlen(body), &po);
	return NULL;
}

static void run_race(struct rv_store *s, const char *key, enum rv_put_cond cond, const char *etag)
{
	pthread_barrier_t bar;
	pthread_t t[2];
	struct race r[2];

	pthread_barrier_init(&bar, NULL, 2);
	for (int i = 0; i < 2; i++) {
		r[i] = (struct race){s, key, cond, etag, &bar, 99};
		assert_int_equal(pthread_create(&t[i], NULL, race_put, &r[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&bar);
	/* Exactly one wins, the other loses with RV_EPRECOND. */
	assert_true((r[0].rc == 0 && r[1].rc == RV_EPRECOND) ||
		    (r[1].rc == 0 && r[0].rc == RV_EPRECOND));
}

static void test_conditional_races(void **state)
{
	struct fx *fx = *state;
	struct rv_put_opts po = {0};
	struct rv_obj_info info;

	for (int i = 0; i < 100; i++) {
		char key[32];
		snprintf(key, sizeof(key), "lease/%d", i);
		run_race(fx->s, key, RV_PUT_IF_ABSENT, NULL);
		assert_int_equal(rv_store_head(fx->s, key, &info), 0);
		run_race(fx->s, key, RV_PUT_IF_MATCH, info.etag);
		rv_obj_info_release(&info);
	}

	/* Sequential semantics. */
	po.cond = RV_PUT_IF_ABSENT;
	assert_int_equal(rv_store_put_buf(fx->s, "c", "1", 1, &po), 0);
	assert_int_equal(rv_store_put_buf(fx->s, "c", "2", 1, &po), RV_EPRECOND);
	assert_non_null(strstr(rv_errmsg(), "already exists"));
	po.cond = RV_PUT_IF_MATCH;
	po.if_match = "not-the-etag";
	assert_int_equal(rv_store_put_buf(fx->s, "c", "3", 1, &po), RV_EPRECOND);
	assert_int_equal(rv_store_head(fx->s, "c", &info), 0);
	po.if_match = info.etag;
	assert_int_equal(rv_store_put_buf(fx->s, "c", "4", 1, &po), 0);
	assert_string_not_equal(po.etag_out, info.etag);
	/* The old etag no longer matches. */
	assert_int_equal(rv_store_put_buf(fx->s, "c", "5", 1, &po), RV_EPRECOND);
	rv_obj_info_release(&info);
	po.if_match = "x";
	assert_int_equal(rv_store_put_buf(fx->s, "missing", "5", 1, &po), RV_EPRECOND);
	/* Every temporary was cleaned up or renamed: none is listed. */
	{
		struct rv_list_page pg;
		assert_int_equal(rv_store_list_page(fx->s, "", NULL, 0, &pg), 0);
		assert_int_equal(pg.count, 101);
		rv_list_page_release(&pg);
	}
}

static void test_temporaries_hidden(void **state)
{
	struct fx *fx = *state;
	struct rv_list_page pg;
	char *p;
	int fd;

	put_str(fx->s, "x/real", "r");
	/* A crash leaves temporaries; the listing never shows them. */
	p = rv_asprintf("%s/x/.rv-tmp.0123456789abcdef", fx->dir);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	free(p);
	p = rv_asprintf("%s/.rv-tmp.feedface", fx->dir);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	close(fd);
	free(p);
	assert_int_equal(rv_store_list_page(fx->s, "", NULL, 0, &pg), 0);
	assert_int_equal(pg.count, 1);
	assert_string_equal(pg.items[0].key, "x/real");
	rv_list_page_release(&pg);
	/* And keys cannot use the reserved names. */
	assert_int_equal(rv_store_put_buf(fx->s, "x/.rv-tmp.0123456789abcdef", "z", 1, NULL),
			 RV_EUSAGE);
	assert_int_equal(rv_store_put_buf(fx->s, ".rv-lock", "z", 1, NULL), RV_EUSAGE);
	assert_int_equal(rv_store_head(fx->s, ".rv-lock", &(struct rv_obj_info){0}), RV_EUSAGE);
}

static void test_odd_names(void **state)
{
	struct fx *fx = *state;
	static const char *keys[] = {"with space/and more spaces.txt",
				     "caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac",
				     "quote'\"back\\slash",
				     "emoji \xf0\x9f\x98\x80",
				     "-dash",
				     "%41"};
	struct rv_list_page pg;

	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		char *v;
		put_str(fx->s, keys[i], keys[i]);
		v = get_str(fx->s, keys[i]);
		assert_string_equal(v, keys[i]);
		free(v);
	}
	assert_int_equal(rv_store_list_page(fx->s, "", NULL, 0, &pg), 0);
	assert_int_equal(pg.count, sizeof(keys) / sizeof(*keys));
	rv_list_page_release(&pg);
	/* Control characters (newline) are refused by the key rules, cleanly. */
	assert_int_equal(rv_store_put_buf(fx->s, "new\nline", "x", 1, NULL), RV_EUSAGE);
	assert_non_null(strstr(rv_errmsg(), "control character"));
	/* A key cannot be both an object and a folder of objects here. */
	put_str(fx->s, "obj", "1");
	assert_int_equal(rv_store_put_buf(fx->s, "obj/child", "x", 1, NULL), RV_EFAIL);
	assert_non_null(strstr(rv_errmsg(), "obj/child"));
}

static bool exists(const char *dir, const char *rel)
{
	struct stat st;
	char *p = rv_asprintf("%s/%s", dir, rel);
	bool r = stat(p, &st) == 0;

	free(p);
	return r;
}

static void test_delete_prunes(void **state)
{
	struct fx *fx = *state;

	put_str(fx->s, "p/q/r/k1", "1");
	put_str(fx->s, "p/q/k2", "2");
	assert_int_equal(rv_store_delete(fx->s, "p/q/r/k1"), 0);
	assert_false(exists(fx->dir, "p/q/r"));
	assert_true(exists(fx->dir, "p/q/k2"));
	assert_int_equal(rv_store_delete(fx->s, "p/q/k2"), 0);
	assert_false(exists(fx->dir, "p"));
	assert_true(exists(fx->dir, "")); /* the root stays */
	/* Deleting what is not there succeeds. */
	assert_int_equal(rv_store_delete(fx->s, "p/q/k2"), 0);
	assert_int_equal(rv_store_delete(fx->s, "never/was"), 0);
	/* A put into a folder being pruned recreates it. */
	for (int i = 0; i < 50; i++) {
		put_str(fx->s, "z/y/a", "a");
		assert_int_equal(rv_store_delete(fx->s, "z/y/a"), 0);
		put_str(fx->s, "z/y/b", "b");
		assert_int_equal(rv_store_delete(fx->s, "z/y/b"), 0);
	}
	assert_false(exists(fx->dir, "z"));
	/* Many at once on 8 threads, with fsync (a folder another thread
	 * just emptied and removed is not an error), two keys per folder; a
	 * missing key is fine. */
	{
		char *keys[301], *url = rv_asprintf("file://%s", fx->dir);
		struct rv_store_opts o;
		struct rv_store *synced;

		rv_store_opts_default(&o);
		assert_int_equal(rv_store_open(&synced, url, &o), 0);
		free(url);
		for (int i = 0; i < 300; i++) {
			keys[i] = rv_asprintf("m/%d/k%d", i / 2, i);
			put_str(fx->s, keys[i], "x");
		}
		keys[300] = rv_strdup("m/never");
		assert_int_equal(rv_store_delete_many(synced, keys, 301, 8), 0);
		rv_store_free(synced);
		assert_false(exists(fx->dir, "m"));
		/* A bad key stops it with its own error. */
		free(keys[150]);
		keys[150] = rv_strdup("m/../x");
		assert_int_equal(rv_store_delete_many(fx->s, keys, 301, 8), RV_EUSAGE);
		assert_non_null(strstr(rv_errmsg(), "'m/../x'"));
		for (int i = 0; i < 301; i++)
			free(keys[i]);
	}
}

static void test_open_errors(void **state)
{
	struct fx *fx = *state;
	struct rv_store *s = NULL;
	char *url, *file;
	int fd;

	url = rv_asprintf("file://%s/missing", fx->dir);
	assert_int_equal(rv_store_open(&s, url, NULL), RV_ENOTFOUND);
	assert_non_null(strstr(rv_errmsg(), "does not exist"));
	assert_non_null(strstr(rv_errmsg(), "mkdir"));
	assert_null(s);
	free(url);
	file = rv_asprintf("%s/plain", fx->dir);
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	close(fd);
	url = rv_asprintf("file://%s", file);
	assert_int_equal(rv_store_open(&s, url, NULL), RV_EUSAGE);
	assert_non_null(strstr(rv_errmsg(), "not a folder"));
	free(url);
	free(file);
	assert_true(rv_store_caps(fx->s)->put_if_absent);
	assert_true(rv_store_caps(fx->s)->put_if_match);
	assert_false(rv_store_caps(fx->s)->versioning);
}

/* Many threads sharing one handle: puts, gets and deletes interleaved. */
struct churn {
	struct rv_store *s;
	int id;
	int fails;
};

static void *churn_run(void *arg)
{
	struct churn *c = arg;

	for (int i = 0; i < 200; i++) {
		char key[64], body[64];
		struct rv_buf b = RV_BUF_INIT(256);
		snprintf(key, sizeof(key), "t/%d/%d/k%d", i % 5, c->id, i);
		snprintf(body, sizeof(body), "%d-%d", c->id, i);
		if (rv_store_put_buf(c->s, key, body, strlen(body), NULL))
			c->fails++;
		else if (rv_store_get_buf(c->s, key, &b, NULL) || strcmp(rv_buf_str(&b), body))
			c->fails++;
		rv_buf_release(&b);
		if (i % 2 && rv_store_delete(c->s, key))
			c->fails++;
	}
	return NULL;
}

static void test_threads_share_handle(void **state)
{
	struct fx *fx = *state;
	pthread_t t[8];
	struct churn c[8];
	size_t n = 0;
	char *tok = NULL;

	for (int i = 0; i < 8; i++) {
		c[i] = (struct churn){fx->s, i, 0};
		pthread_create(&t[i], NULL, churn_run, &c[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(c[i].fails, 0);
	}
	do {
		struct rv_list_page pg;
		assert_int_equal(rv_store_list_page(fx->s, "t/", tok, 333, &pg), 0);
		free(tok);
		tok = pg.next_token ? rv_strdup(pg.next_token) : NULL;
		n += pg.count;
		rv_list_page_release(&pg);
	} while (tok);
	assert_int_equal(n, 8 * 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip_head_range, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_put_fd_sources, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_paging_byte_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conditional_races, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_temporaries_hidden, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_odd_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_prunes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads_share_handle, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
