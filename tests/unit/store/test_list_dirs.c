/* test_list_dirs.c - rv_store_list_dirs (the "sub-folders" of a prefix,
 * S3's CommonPrefixes with delimiter '/') on both backends: the file store
 * in a temp folder and the S3 store against a real s3rver; the same keys
 * must give the same folders, in byte order, across pages.  Plus the
 * CommonPrefixes parser on a recorded AWS-shaped answer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"
#include "s3_harness.h"

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/s3_int.h"

#define BUCKET "rv-dirs"
#define NMANY  23

static struct s3srv srv;

struct names {
	char *v[64];
	size_t n;
	int stop_after; /* callback returns 42 after this many (0: never) */
};

static int collect(const struct rv_obj_info *info, void *ud)
{
	struct names *l = ud;

	assert_true(l->n < 64);
	assert_int_equal(info->size, 0);
	l->v[l->n++] = rv_strdup(info->key);
	return l->stop_after && (int)l->n == l->stop_after ? 42 : 0;
}

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

static void expect(struct rv_store *s, const char *prefix, const char *const *want)
{
	struct names l = {0};
	size_t n = 0;

	assert_int_equal(rv_store_list_dirs(s, prefix, collect, &l), 0);
	while (want[n])
		n++;
	if (l.n != n) {
		for (size_t i = 0; i < l.n; i++)
			fprintf(stderr, "  got '%s'\n", l.v[i]);
		fail_msg("prefix '%s': %zu folders, want %zu", prefix, l.n, n);
	}
	for (size_t i = 0; i < n; i++)
		assert_string_equal(l.v[i], want[i]);
	names_free(&l);
}

static void put_str(struct rv_store *s, const char *key)
{
	struct rv_put_opts po = {0};

	assert_int_equal(rv_store_put_buf(s, key, key, strlen(key), &po), 0);
}

/* The same keys and the same questions for every backend.  s3rver 3.7
 * finds a common prefix only through a key right inside it (its walk skips
 * folders below one) and does not count common prefixes against max-keys,
 * so folders here hold a key of their own and the page size is checked for
 * the file store only (`strict`). */
static void scenario(struct rv_store *s, bool strict)
{
	static const char *const keys[] = {
	    "lease.json",
	    "generations/01J0000000000000000000000A/meta.json",
	    "generations/01J0000000000000000000000A/content/log/0001.log.zst",
	    "generations/01J0000000000000000000000B/db/snapshot/0001.db.zst",
	    "generations/01J0000000000000000000000B/meta.json",
	    "generations/top.txt", /* a key right under the prefix: no folder */
	    "generations-x/k",	   /* '-' sorts before '/' */
	    "a/k",
	    "a-b/k",
	    "a0/k",
	    "a0/deep/er/k",
	    NULL,
	};
	static const char *const gens[] = {"generations/01J0000000000000000000000A/",
					   "generations/01J0000000000000000000000B/", NULL};
	static const char *const top[] = {"a-b/",	    "a/",	    "a0/",
					  "generations-x/", "generations/", NULL};
	static const char *const part[] = {"generations-x/", "generations/", NULL};
	static const char *const deep[] = {"a0/deep/er/", NULL};
	static const char *const none[] = {NULL};
	struct names l = {.stop_after = 2};
	char key[64];

	for (size_t i = 0; keys[i]; i++)
		put_str(s, keys[i]);
	expect(s, "generations/", gens);
	expect(s, "", top);
	expect(s, "gen", part);
	expect(s, "a0/deep/", deep);
	expect(s, "nothing-here/", none);
	expect(s, "a0/deep/er/", none); /* only a key below: no folder */

	/* The callback's non-zero answer stops the listing with that value. */
	assert_int_equal(rv_store_list_dirs(s, "", collect, &l), 42);
	assert_int_equal(l.n, 2);
	names_free(&l);

	/* Pages: the backend op with a small page walks every folder once, in
	 * order, and the tokens lead from one page to the next.  The plain keys
	 * make s3rver truncate (it pages by keys), so its tokens are followed
	 * too, through pages that hold no folder at all. */
	for (int i = 0; i < NMANY; i++) {
		snprintf(key, sizeof(key), "many/d%02d/k", i);
		put_str(s, key);
		snprintf(key, sizeof(key), "many/d%02d/sub/k", i);
		put_str(s, key);
		snprintf(key, sizeof(key), "many/f%02d", i);
		put_str(s, key);
	}
	{
		char *token = NULL;
		int seen = 0, pages = 0;

		do {
			struct rv_list_page p = {0};

			assert_int_equal(s->ops->list_dirs_page(s, "many/", token, 5, &p), 0);
			free(token);
			token = p.next_token ? rv_strdup(p.next_token) : NULL;
			if (strict)
				assert_true(p.count <= 5);
			for (size_t i = 0; i < p.count; i++) {
				snprintf(key, sizeof(key), "many/d%02d/", seen++);
				assert_string_equal(p.items[i].key, key);
			}
			rv_list_page_release(&p);
			assert_true(++pages < 20);
		} while (token);
		assert_int_equal(seen, NMANY);
		assert_true(pages >= (strict ? (NMANY + 4) / 5 : 2));
	}

	/* A folder emptied by deletes is gone from the listing. */
	assert_int_equal(rv_store_delete(s, "a-b/k"), 0);
	{
		static const char *const after[] = {"a/",	    "a0/",   "generations-x/",
						    "generations/", "many/", NULL};
		expect(s, "", after);
	}
}

static void test_file(void **state)
{
	char dir[] = "/tmp/rv-test-dirs-XXXXXX", p[128];
	struct rv_store *s = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(rv_test_open_file_store(dir, &s), 0);
	scenario(s, true);
	/* Only a key deep below: still a folder (S3 does so; s3rver cannot). */
	put_str(s, "deep/x/y/z/k");
	{
		static const char *const one[] = {"deep/", NULL};
		expect(s, "dee", one);
	}
	/* Folders without a key below (a put in progress left only its
	 * temporary, or a bare mkdir) are no folders to S3 either. */
	snprintf(p, sizeof(p), "%s/generations/empty", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/generations/inflight", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/generations/inflight/.rv-tmp.x", dir);
	{
		int fd = open(p, O_CREAT | O_WRONLY, 0644);
		assert_true(fd >= 0);
		close(fd);
	}
	{
		static const char *const gens[] = {"generations/01J0000000000000000000000A/",
						   "generations/01J0000000000000000000000B/", NULL};
		expect(s, "generations/", gens);
	}
	rv_store_free(s);
	rv_test_rm_rf(dir);
}

static void test_s3(void **state)
{
	struct rv_store_opts o;
	struct rv_store *s = NULL;

	(void)state;
	h_opts(&o);
	/* A store prefix: CommonPrefixes come back with it and are stripped. */
	assert_int_equal(rv_store_open(&s, h_url(srv.port, BUCKET, "site"), &o), 0);
	scenario(s, false);
	rv_store_free(s);
	/* It really asked with a delimiter (s3rver logs each request line). */
	assert_true(s3srv_log_count(&srv, "delimiter=%2F") > 0);
}

static void test_parse(void **state)
{
	static const char body[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Name>b</Name><Prefix>site/generations/</Prefix><KeyCount>3</KeyCount>"
	    "<MaxKeys>3</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>"
	    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</"
	    "NextContinuationToken>"
	    "<Contents><Key>site/generations/top.txt</Key><Size>3</Size></Contents>"
	    "<CommonPrefixes><Prefix>site/generations/A/</Prefix></CommonPrefixes>"
	    "<CommonPrefixes><Prefix>other/x/</Prefix></CommonPrefixes>"
	    "<CommonPrefixes><Prefix>site/generations/B%20c/</Prefix></CommonPrefixes>"
	    "</ListBucketResult>";
	static const char bad[] = "<ListBucketResult><CommonPrefixes><Nope/></CommonPrefixes>"
				  "</ListBucketResult>";
	static const char trunc[] =
	    "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
	struct rv_list_page p;

	(void)state;
	assert_int_equal(rv_s3_parse_list_dirs(body, sizeof(body) - 1, "site/", &p), 0);
	assert_int_equal(p.count, 2);
	assert_string_equal(p.items[0].key, "generations/A/");
	assert_string_equal(p.items[1].key, "generations/B%20c/");
	assert_string_equal(p.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	rv_list_page_release(&p);
	assert_int_equal(rv_s3_parse_list_dirs(bad, sizeof(bad) - 1, "", &p), RV_ECORRUPT);
	assert_int_equal(rv_s3_parse_list_dirs(trunc, sizeof(trunc) - 1, "", &p), RV_ECORRUPT);
	assert_int_equal(rv_s3_parse_list_dirs("nope", 4, "", &p), RV_ECORRUPT);
}

static int setup(void **state)
{
	(void)state;
	return s3srv_setup(&srv, BUCKET);
}

static int teardown(void **state)
{
	(void)state;
	s3srv_cleanup(&srv);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_file),
	    cmocka_unit_test(test_s3),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
