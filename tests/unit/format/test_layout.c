/* format/layout: the keys of docs/FORMAT.md "Layout", built and read back,
 * and the parsers refusing near-misses (a foreign object must never be
 * taken for one of ours, nor one of ours for a foreign one). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "format/layout.h"

#define GEN "0000019a3c5e7f10-3fa9c2d1"

static void test_generation_keys(void **state)
{
	char id[RV_GEN_ID_LEN], *k;
	const char *rest;

	(void)state;
	rv_gen_id_new(id);
	assert_int_equal(rv_gen_id_check(id), 0);
	k = rv_gen_meta_key(GEN);
	assert_string_equal(k, "generations/" GEN "/meta.json");
	assert_true(rv_key_gen_split(k, id, &rest));
	assert_string_equal(id, GEN);
	assert_string_equal(rest, "meta.json");
	free(k);

	/* not a generation folder: upper case, short, no '/', another tree */
	assert_false(
	    rv_key_gen_split("generations/0000019A3C5E7F10-3fa9c2d1/meta.json", id, &rest));
	assert_false(rv_key_gen_split("generations/0000019a3c5e7f10-3fa9c2d/meta.json", id, &rest));
	assert_false(rv_key_gen_split("generations/" GEN, id, &rest));
	assert_false(rv_key_gen_split("other/" GEN "/meta.json", id, &rest));
	assert_false(rv_key_gen_split("generations/", id, &rest));
}

static void test_blob_keys(void **state)
{
	unsigned char sha[RV_SHA256_LEN], back[RV_SHA256_LEN];
	char key[RV_BLOB_KEY_LEN], bad[RV_BLOB_KEY_LEN + 8];

	(void)state;
	for (int i = 0; i < RV_SHA256_LEN; i++)
		sha[i] = (unsigned char)(i * 37 + 5);
	rv_content_blob_key(key, sha, NULL);
	assert_int_equal(strlen(key), strlen(RV_KEY_BLOBS) + 3 + 64);
	assert_true(rv_content_blob_key_parse(key, NULL, back));
	assert_memory_equal(sha, back, sizeof(sha));

	/* the folder must match the name's first two digits */
	strcpy(bad, key);
	bad[13] = bad[13] == '0' ? '1' : '0';
	assert_false(rv_content_blob_key_parse(bad, NULL, back));
	/* upper case, short, long, a temporary next to it */
	strcpy(bad, key);
	bad[20] = 'A';
	assert_false(rv_content_blob_key_parse(bad, NULL, back));
	assert_false(rv_content_blob_key_parse("blobs/sha256/ab/ab", NULL, back));
	strcpy(bad, key);
	strcat(bad, ".tmp");
	assert_false(rv_content_blob_key_parse(bad, NULL, back));
	assert_false(rv_content_blob_key_parse("blobs/sha1/ab/abcdef", NULL, back));
}

/* An encrypted store names a blob by a keyed hash: the same file gets
 * another name under another name key, never its SHA-256, and each kind of
 * store parses only its own names. */
static void test_blob_keys_keyed(void **state)
{
	unsigned char sha[RV_SHA256_LEN], back[RV_SHA256_LEN], nk1[32], nk2[32];
	char plain[RV_BLOB_KEY_LEN], k1[RV_BLOB_KEY_LEN], k2[RV_BLOB_KEY_LEN], hex[RV_SHA256_HEX];

	(void)state;
	memset(sha, 0x5a, sizeof(sha));
	memset(nk1, 1, sizeof(nk1));
	memset(nk2, 2, sizeof(nk2));
	rv_content_blob_key(plain, sha, NULL);
	rv_content_blob_key(k1, sha, nk1);
	rv_content_blob_key(k2, sha, nk2);
	assert_int_equal(strlen(k1), RV_BLOB_KEY_LEN - 1);
	assert_true(rv_str_startswith(k1, RV_KEY_BLOBS_KEYED));
	assert_string_not_equal(k1, k2);
	rv_hex(hex, sha, sizeof(sha));
	assert_null(strstr(k1, hex));
	assert_true(rv_content_blob_key_parse(k1, nk1, back));
	assert_memory_not_equal(back, sha, sizeof(sha));
	assert_false(rv_content_blob_key_parse(k1, NULL, back));
	assert_false(rv_content_blob_key_parse(plain, nk1, back));
}

static void test_content_keys(void **state)
{
	char *log = rv_content_log_key(GEN, 0x1234, 0x19a3c5e7f10);
	char *man = rv_content_manifest_key(GEN, 0x1200, 0x19a3c5e7f10);
	char *lp = rv_content_log_prefix(GEN), *bp;
	uint64_t seq;
	int64_t ms;

	(void)state;
	assert_string_equal(log, "generations/" GEN
				 "/content/log/0000000000001234-0000019a3c5e7f10.log.zst");
	assert_true(strncmp(log, lp, strlen(lp)) == 0);
	assert_int_equal(rv_content_key_parse(log, &seq, &ms), 0);
	assert_int_equal(seq, 0x1234);
	assert_int_equal(ms, 0x19a3c5e7f10);
	assert_int_equal(rv_content_key_parse(man, &seq, &ms), 0);
	assert_int_equal(seq, 0x1200);

	/* the listing block holding a sequence: a prefix of its key, and the
	 * next block's prefix is not */
	bp = rv_content_log_block_prefix(GEN, 0x1234);
	assert_string_equal(bp, "generations/" GEN "/content/log/00000000000012");
	assert_true(strncmp(log, bp, strlen(bp)) == 0);
	free(bp);
	bp = rv_content_log_block_prefix(GEN, 0x1234 + 256);
	assert_false(strncmp(log, bp, strlen(bp)) == 0);
	free(bp);

	assert_true(rv_content_key_parse("generations/" GEN "/content/log/notes.txt", &seq, &ms) <
		    0);
	free(log);
	free(man);
	free(lp);
}

static void test_db_keys(void **state)
{
	char *lk = rv_dbobj_log_key(GEN, 10, 20, 0x19a3c5e7f10);
	char *sk = rv_dbobj_snapshot_key(GEN, 20, 0x19a3c5e7f10);
	uint64_t from, to;
	int64_t ms;

	(void)state;
	assert_int_equal(rv_dbobj_key_parse(lk, RV_DBOBJ_LOG, &from, &to, &ms), 0);
	assert_int_equal(from, 10);
	assert_int_equal(to, 20);
	assert_int_equal(ms, 0x19a3c5e7f10);
	assert_int_equal(rv_dbobj_key_parse(sk, RV_DBOBJ_SNAPSHOT, &from, &to, &ms), 0);
	assert_int_equal(from, 20);
	assert_int_equal(to, 20);
	/* a log key is not a snapshot key and back; an empty range is refused */
	assert_true(rv_dbobj_key_parse(lk, RV_DBOBJ_SNAPSHOT, &from, &to, &ms) < 0);
	assert_true(rv_dbobj_key_parse(sk, RV_DBOBJ_LOG, &from, &to, &ms) < 0);
	free(lk);
	lk = rv_dbobj_log_key(GEN, 20, 20, 0);
	assert_true(rv_dbobj_key_parse(lk, RV_DBOBJ_LOG, &from, &to, &ms) < 0);
	free(lk);
	free(sk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generation_keys), cmocka_unit_test(test_blob_keys),
	    cmocka_unit_test(test_blob_keys_keyed), cmocka_unit_test(test_content_keys),
	    cmocka_unit_test(test_db_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
