/* test_watch.c - the recursive inotify watcher on a real temporary folder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include "content/content.h"
#include "content/watch.h"
#include "core/mem.h"
#include "core/util.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
	char root[64], outside[64];
	struct rv_content_opts o;
	struct rv_watch *w;
	char **ev; /* "P:path", "D:path" (dir), "X:path" (delete), "O:" */
	size_t nev, aev;
};

static char *at(struct fx *fx, const char *rel)
{
	return rv_asprintf("%s/%s", fx->root, rel);
}

static void mk(struct fx *fx, const char *rel)
{
	char *p = at(fx, rel);

	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
}

static void put_abs(const char *p, const char *data)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static void put(struct fx *fx, const char *rel, const char *data)
{
	char *p = at(fx, rel);

	put_abs(p, data);
	free(p);
}

static int open_watch(struct fx *fx)
{
	return rv_watch_open(&fx->w, &fx->o);
}

static int setup(void **state)
{
	struct fx *fx = rv_calloc(1, sizeof(*fx));

	snprintf(fx->root, sizeof(fx->root), "/tmp/rv-test-watch-XXXXXX");
	snprintf(fx->outside, sizeof(fx->outside), "/tmp/rv-test-watch-out-XXXXXX");
	if (!mkdtemp(fx->root) || !mkdtemp(fx->outside))
		return -1;
	rv_content_opts_default(&fx->o);
	fx->o.root = fx->root;
	fx->o.debounce_ms = 20;
	fx->o.debounce_max_ms = 200;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	rv_watch_free(fx->w);
	for (size_t i = 0; i < fx->nev; i++)
		free(fx->ev[i]);
	free(fx->ev);
	rv_test_rm_rf(fx->root);
	rv_test_rm_rf(fx->outside);
	free(fx);
	return 0;
}

static void record(struct fx *fx, const struct rv_watch_event *ev)
{
	static const char kinds[] = {'?', 'P', 'D', 'X', 'O'};

	if (fx->nev == fx->aev) {
		fx->aev = fx->aev ? fx->aev * 2 : 64;
		fx->ev = rv_realloc(fx->ev, fx->aev * sizeof(*fx->ev));
	}
	fx->ev[fx->nev++] = rv_asprintf("%c:%s", kinds[ev->kind], ev->path ? ev->path : "");
}

/* Process inotify and take every ready event for `ms`. */
static void pump(struct fx *fx, int ms)
{
	int64_t end = rv_mono_ms() + ms;

	do {
		struct rv_watch_event ev;

		assert_int_equal(rv_watch_poll(fx->w, 5), 0);
		for (;;) {
			assert_int_equal(rv_watch_pop(fx->w, &ev, 0), 0);
			if (ev.kind == RV_WATCH_NONE)
				break;
			record(fx, &ev);
			rv_watch_event_release(&ev);
		}
	} while (rv_mono_ms() < end);
}

static size_t count(struct fx *fx, const char *want)
{
	size_t n = 0;

	for (size_t i = 0; i < fx->nev; i++)
		n += !strcmp(fx->ev[i], want);
	return n;
}

/* Pump until `want` was seen (or 3 s). */
static void wait_for(struct fx *fx, const char *want)
{
	int64_t end = rv_mono_ms() + 3000;

	while (!count(fx, want) && rv_mono_ms() < end)
		pump(fx, 20);
	if (!count(fx, want)) {
		for (size_t i = 0; i < fx->nev; i++)
			print_message("  got %s\n", fx->ev[i]);
		fail_msg("no event '%s'", want);
	}
}

static void reset(struct fx *fx)
{
	for (size_t i = 0; i < fx->nev; i++)
		free(fx->ev[i]);
	fx->nev = 0;
}

static void test_written_in_pieces_reported_once(void **state)
{
	struct fx *fx = *state;
	char *p = at(fx, "piece.bin");
	int fd;

	assert_int_equal(open_watch(fx), 0);
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(write(fd, "chunk", 5), 5);
		pump(fx, 30);
	}
	assert_int_equal(count(fx, "P:piece.bin"), 0); /* still open: nothing yet */
	close(fd);
	wait_for(fx, "P:piece.bin");
	pump(fx, 100);
	assert_int_equal(count(fx, "P:piece.bin"), 1);
	/* Rewritten several times in a burst: coalesced into one. */
	reset(fx);
	for (int i = 0; i < 10; i++)
		put_abs(p, "again");
	wait_for(fx, "P:piece.bin");
	pump(fx, 100);
	assert_int_equal(count(fx, "P:piece.bin"), 1);
	free(p);
}

static void test_nested_new_dirs(void **state)
{
	struct fx *fx = *state;
	char path[256] = "";
	struct rv_watch_stats st;

	assert_int_equal(open_watch(fx), 0);
	/* Created faster than watches land: files inside must still show. */
	for (int i = 0; i < 6; i++) {
		char *p;

		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%sd%d", i ? "/" : "",
			 i);
		mk(fx, path);
		p = rv_asprintf("%s/f.txt", path);
		put(fx, p, "x");
		free(p);
	}
	wait_for(fx, "D:d0");
	wait_for(fx, "D:d0/d1/d2/d3/d4/d5");
	wait_for(fx, "P:d0/f.txt");
	wait_for(fx, "P:d0/d1/d2/d3/d4/d5/f.txt");
	{
		char want[300], pre[64] = "";

		for (int i = 0; i < 6; i++) {
			snprintf(pre + strlen(pre), sizeof(pre) - strlen(pre), "d%d/", i);
			snprintf(want, sizeof(want), "P:%sf.txt", pre);
			wait_for(fx, want);
		}
	}
	/* The deepest folder is watched now. */
	reset(fx);
	put(fx, "d0/d1/d2/d3/d4/d5/later.txt", "y");
	wait_for(fx, "P:d0/d1/d2/d3/d4/d5/later.txt");
	rv_watch_get_stats(fx->w, &st);
	assert_int_equal(st.dirs, 7);
}

static void test_dir_moved_in_and_out(void **state)
{
	struct fx *fx = *state;
	char *src = rv_asprintf("%s/album", fx->outside), *p, *dst;
	struct rv_watch_stats st;

	assert_int_equal(open_watch(fx), 0);
	assert_int_equal(mkdir(src, 0755), 0);
	p = rv_asprintf("%s/sub", src);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = rv_asprintf("%s/one.jpg", src);
	put_abs(p, "1");
	free(p);
	p = rv_asprintf("%s/sub/two words.jpg", src);
	put_abs(p, "2");
	free(p);
	dst = at(fx, "album");
	assert_int_equal(rename(src, dst), 0);
	wait_for(fx, "D:album");
	wait_for(fx, "D:album/sub");
	wait_for(fx, "P:album/one.jpg");
	wait_for(fx, "P:album/sub/two words.jpg");
	/* The moved-in subtree is watched. */
	put(fx, "album/sub/three.jpg", "3");
	wait_for(fx, "P:album/sub/three.jpg");
	rv_watch_get_stats(fx->w, &st);
	assert_int_equal(st.dirs, 3);

	/* Moved out: one delete of the subtree, and no more events from it. */
	reset(fx);
	assert_int_equal(rename(dst, src), 0);
	wait_for(fx, "X:album");
	p = rv_asprintf("%s/sub/after.jpg", src);
	put_abs(p, "4");
	free(p);
	pump(fx, 150);
	for (size_t i = 0; i < fx->nev; i++)
		assert_null(strstr(fx->ev[i], "after.jpg"));
	rv_watch_get_stats(fx->w, &st);
	assert_int_equal(st.dirs, 1);
	free(src);
	free(dst);
}

static void test_renames_and_deletes(void **state)
{
	struct fx *fx = *state;
	char *a, *b;

	mk(fx, "dir");
	mk(fx, "dir/inner");
	put(fx, "dir/inner/f", "f");
	put(fx, "file", "x");
	assert_int_equal(open_watch(fx), 0);

	a = at(fx, "file");
	b = at(fx, "renamed file");
	assert_int_equal(rename(a, b), 0);
	wait_for(fx, "X:file");
	wait_for(fx, "P:renamed file");
	free(a);
	free(b);

	/* A folder renamed inside the tree keeps being watched, under its new
	 * name. */
	a = at(fx, "dir");
	b = at(fx, "dir2");
	assert_int_equal(rename(a, b), 0);
	wait_for(fx, "X:dir");
	wait_for(fx, "D:dir2");
	wait_for(fx, "P:dir2/inner/f");
	reset(fx);
	put(fx, "dir2/inner/g", "g");
	wait_for(fx, "P:dir2/inner/g");
	assert_int_equal(count(fx, "P:dir/inner/g"), 0);
	free(a);
	free(b);

	reset(fx);
	a = at(fx, "dir2/inner/f");
	assert_int_equal(unlink(a), 0);
	wait_for(fx, "X:dir2/inner/f");
	free(a);
	a = at(fx, "dir2/inner/g");
	assert_int_equal(unlink(a), 0);
	free(a);
	a = at(fx, "dir2/inner");
	assert_int_equal(rmdir(a), 0);
	wait_for(fx, "X:dir2/inner");
	free(a);
	/* Deleted and recreated: the order survives debouncing. */
	reset(fx);
	a = at(fx, "dir2");
	assert_int_equal(rmdir(a), 0);
	mk(fx, "dir2");
	put(fx, "dir2/new", "n");
	wait_for(fx, "P:dir2/new");
	{
		size_t x = SIZE_MAX, d = SIZE_MAX, pn = SIZE_MAX;

		for (size_t i = 0; i < fx->nev; i++) {
			if (!strcmp(fx->ev[i], "X:dir2") && x == SIZE_MAX)
				x = i;
			if (!strcmp(fx->ev[i], "D:dir2"))
				d = i;
			if (!strcmp(fx->ev[i], "P:dir2/new"))
				pn = i;
		}
		assert_true(x < d && d < pn);
	}
	free(a);
}

static void test_excludes_links_and_names(void **state)
{
	struct fx *fx = *state;
	char *p, *q;

	mk(fx, "logs");
	mk(fx, "data");
	mk(fx, "images");
	mk(fx, "images/size");
	assert_int_equal(open_watch(fx), 0);
	put(fx, "logs/ghost.log", "l");
	put(fx, "data/ghost.db", "d");
	put(fx, "data/ghost.db-wal", "w");
	put(fx, "images/size/w600.jpg", "s");
	put(fx, "data/redirects.yaml", "r");
	wait_for(fx, "P:data/redirects.yaml");
	pump(fx, 100);
	assert_int_equal(fx->nev, 1);

	/* Names with newlines and Unicode arrive intact. */
	put(fx, "images/new\nline ünï 😀.png", "u");
	wait_for(fx, "P:images/new\nline ünï 😀.png");

	/* A symlink is reported; a folder it points to outside is not watched. */
	reset(fx);
	p = at(fx, "out");
	assert_int_equal(symlink(fx->outside, p), 0);
	wait_for(fx, "P:out");
	q = rv_asprintf("%s/outside.txt", fx->outside);
	put_abs(q, "o");
	pump(fx, 100);
	assert_int_equal(fx->nev, 1);
	free(p);
	free(q);

	/* A hard link gets no close event but is complete. */
	reset(fx);
	p = at(fx, "data/redirects.yaml");
	q = at(fx, "hardlink.yaml");
	assert_int_equal(link(p, q), 0);
	wait_for(fx, "P:hardlink.yaml");
	free(p);
	free(q);
}

static void test_queue_overflow(void **state)
{
	struct fx *fx = *state;
	char name[32];

	fx->o.queue_max = 8;
	assert_int_equal(open_watch(fx), 0);
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		put(fx, name, "x");
	}
	wait_for(fx, "O:");
	assert_string_equal(fx->ev[0], "O:");
	pump(fx, 100);
	assert_true(fx->nev <= 9); /* the overflow and at most a queue's worth */
	{
		struct rv_watch_stats st;

		rv_watch_get_stats(fx->w, &st);
		assert_true(st.overflows >= 1);
	}
}

static void test_vanished_file_and_bad_folder(void **state)
{
	struct fx *fx = *state;
	struct rv_watch *w;
	struct rv_content_opts o = fx->o;
	char *p;

	assert_int_equal(open_watch(fx), 0);
	p = at(fx, "gone");
	put_abs(p, "x");
	assert_int_equal(unlink(p), 0);
	wait_for(fx, "X:gone"); /* and nothing failed on the way */
	free(p);

	o.root = "/nonexistent/rv-watch";
	assert_int_equal(rv_watch_open(&w, &o), RV_ENOTFOUND);
	assert_non_null(strstr(rv_errmsg(), "/nonexistent/rv-watch"));
}

static void *run_thread(void *w)
{
	return (void *)(intptr_t)rv_watch_run(w);
}

/* The way replicate will use it: a watcher thread, a blocking consumer. */
static void test_threaded_consumer(void **state)
{
	struct fx *fx = *state;
	struct rv_watch_event ev;
	pthread_t t;
	void *ret;

	assert_int_equal(open_watch(fx), 0);
	assert_int_equal(pthread_create(&t, NULL, run_thread, fx->w), 0);
	put(fx, "threaded", "t");
	assert_int_equal(rv_watch_pop(fx->w, &ev, 3000), 0);
	assert_int_equal(ev.kind, RV_WATCH_PUT);
	assert_string_equal(ev.path, "threaded");
	rv_watch_event_release(&ev);
	assert_int_equal(rv_watch_pop(fx->w, &ev, 50), 0);
	assert_int_equal(ev.kind, RV_WATCH_NONE);
	rv_watch_stop(fx->w);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_int_equal((intptr_t)ret, 0);
	assert_int_equal(rv_watch_pop(fx->w, &ev, 1000), RV_EINTR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_written_in_pieces_reported_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nested_new_dirs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dir_moved_in_and_out, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_renames_and_deletes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_excludes_links_and_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_overflow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vanished_file_and_bad_folder, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threaded_consumer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
