/* The image references verify reads out of Ghost's posts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ghost/refs.h"

struct got {
	char v[16][256];
	size_t n;
};

static int collect(void *ud, const char *path)
{
	struct got *g = ud;

	if (g->n < 16)
		snprintf(g->v[g->n++], sizeof(g->v[0]), "%s", path);
	return 0;
}

static struct got refs(const char *text)
{
	struct got g = {0};

	assert_int_equal(rv_ghost_image_refs(text, strlen(text), collect, &g), 0);
	return g;
}

/* The forms Ghost 5 writes: __GHOST_URL__ in html and lexical, the site's
 * URL, a bare path; resized copies in srcset stand for the original. */
static void test_forms(void **state)
{
	struct got g;

	(void)state;
	g = refs("<img src=\"__GHOST_URL__/content/images/2026/12/a.jpg\" "
		 "srcset=\"/content/images/size/w600/2026/12/a.jpg 600w, "
		 "/content/images/size/w1000/format/webp/2026/12/b.jpg 1000w\">");
	assert_int_equal(g.n, 3);
	assert_string_equal(g.v[0], "images/2026/12/a.jpg");
	assert_string_equal(g.v[1], "images/2026/12/a.jpg");
	assert_string_equal(g.v[2], "images/2026/12/b.jpg");

	g = refs("https://blog.example.com/content/images/2026/12/c.png?v=2#x");
	assert_int_equal(g.n, 1);
	assert_string_equal(g.v[0], "images/2026/12/c.png");

	g = refs("{\"root\":{\"children\":[{\"type\":\"image\",\"src\":\"__GHOST_URL__/content/"
		 "images/d.gif\"},{\"html\":\"<img src=\\\"/content/images/e.jpg\\\">\"}]}}");
	assert_int_equal(g.n, 2);
	assert_string_equal(g.v[0], "images/d.gif");
	assert_string_equal(g.v[1], "images/e.jpg");

	g = refs("<div style=\"background-image: url(/content/images/f.jpg)\">'/content/images/"
		 "g.jpg'</div>");
	assert_int_equal(g.n, 2);
	assert_string_equal(g.v[0], "images/f.jpg");
	assert_string_equal(g.v[1], "images/g.jpg");
}

static void test_escapes_and_junk(void **state)
{
	struct got g;

	(void)state;
	g = refs("/content/images/2026/my%20photo%C3%A9.jpg");
	assert_int_equal(g.n, 1);
	assert_string_equal(g.v[0], "images/2026/my photo\xc3\xa9.jpg");
	/* nothing after the mark, "..", an empty segment, %00: not a file of
	 * the folder, skipped */
	g = refs("/content/images/ /content/images/../../etc/passwd /content/images/a//b.jpg "
		 "/content/images/x%00.jpg /content/images/");
	assert_int_equal(g.n, 1);
	assert_string_equal(g.v[0], "images/x%00.jpg");
	/* other sites' images and other folders are not ours */
	g = refs("https://images.unsplash.com/photo-1 /content/media/v.mp4 /content/imagesx/a.jpg");
	assert_int_equal(g.n, 0);
	/* a mark cut off at the end of the text */
	g = refs("/content/ima");
	assert_int_equal(g.n, 0);
}

static int stop(void *ud, const char *path)
{
	(void)ud;
	(void)path;
	return -7;
}

static void test_stop(void **state)
{
	const char *t = "/content/images/a.jpg /content/images/b.jpg";

	(void)state;
	assert_int_equal(rv_ghost_image_refs(t, strlen(t), stop, NULL), -7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_forms),
	    cmocka_unit_test(test_escapes_and_junk),
	    cmocka_unit_test(test_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
