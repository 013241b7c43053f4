/* test_dbobj_records.c - database objects with a record body (engine=mysql,
 * format 1.2): round trip with odd bytes and a large record, unknown record
 * types skipped but counted, tags escaped, and every damage refused
 * (truncated, flipped byte, wrong count, bad record line, a foreign engine). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/util.h"
#include "format/dbobj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

static const char gen[] = "0000019a3c5e7f10-3fa9c2d1";

static int tmpfd(void)
{
	char tmpl[] = "/tmp/rv-test-dbrec-XXXXXX";
	int fd = mkstemp(tmpl);

	assert_true(fd >= 0);
	unlink(tmpl);
	return fd;
}

static void hdr(struct rv_dbobj_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->kind = RV_DBOBJ_SNAPSHOT;
	memcpy(h->gen, gen, RV_GEN_ID_LEN);
	h->from = h->to = 7;
	h->time_ms = 1700000000123;
	snprintf(h->engine, sizeof(h->engine), "mysql");
	snprintf(h->meta, sizeof(h->meta), "binlog_file=binlog.000003 binlog_pos=4567 gtid=0-1-9");
}

/* Write: three sql records (one 3 MiB of every byte value), one of an
 * unknown type. */
static int write_obj(char **big, size_t *big_n)
{
	struct rv_dbobj_hdr h;
	struct rv_dbobj_writer *w;
	char tag[RV_DBOBJ_TAG_MAX];
	int fd = tmpfd();

	*big_n = 3u << 20;
	*big = rv_malloc(*big_n);
	for (size_t i = 0; i < *big_n; i++)
		(*big)[i] = (char)(i * 7 + (i >> 11));
	hdr(&h);
	assert_int_equal(rv_dbobj_writer_new(&w, &h, fd), 0);
	assert_int_equal(rv_dbobj_writer_record(w, "sql", "session", "SET NAMES utf8mb4", 17), 0);
	rv_dbobj_tag(tag, "table:", "we ird%\n name");
	assert_string_equal(tag, "table:we%20ird%25%0A%20name");
	assert_int_equal(rv_dbobj_writer_record(w, "sql", tag, *big, *big_n), 0);
	assert_int_equal(rv_dbobj_writer_record(w, "future", NULL, "x\ny", 3), 0);
	assert_int_equal(rv_dbobj_writer_record(w, "sql", NULL, "", 0), 0);
	/* Raw bytes and reserved or bad names are refused. */
	assert_int_not_equal(rv_dbobj_writer_add(w, "x", 1), 0);
	assert_int_not_equal(rv_dbobj_writer_record(w, "end", NULL, "x", 1), 0);
	assert_int_not_equal(rv_dbobj_writer_record(w, "sql", "a b", "x", 1), 0);
	assert_int_equal(rv_dbobj_writer_finish(w), 0);
	rv_dbobj_writer_free(w);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static int read_all(int fd, const char *big, size_t big_n)
{
	struct rv_dbobj_reader *r = NULL;
	struct rv_buf body = RV_BUF_INIT(8u << 20);
	char type[16], tag[RV_DBOBJ_TAG_MAX];
	bool end = false;
	int rc, k = 0;

	rc = rv_dbobj_reader_new(&r, fd, "obj");
	if (!rc) {
		const struct rv_dbobj_hdr *h = rv_dbobj_reader_hdr(r);

		assert_string_equal(h->engine, "mysql");
		assert_string_equal(h->meta,
				    "binlog_file=binlog.000003 binlog_pos=4567 gtid=0-1-9");
		assert_int_equal(h->from, 7);
	}
	while (!rc && !end) {
		rc = rv_dbobj_reader_record(r, type, tag, &body, &end);
		if (rc || end)
			break;
		if (k == 0) {
			assert_string_equal(type, "sql");
			assert_string_equal(tag, "session");
			assert_memory_equal(body.data, "SET NAMES utf8mb4", 17);
		} else if (k == 1 && big) {
			assert_string_equal(tag, "table:we%20ird%25%0A%20name");
			assert_int_equal(body.len, big_n);
			assert_memory_equal(body.data, big, big_n);
		} else if (k == 2) {
			assert_string_equal(type, "future");
			assert_string_equal(tag, "");
			assert_int_equal(body.len, 3);
		} else if (k == 3) {
			assert_int_equal(body.len, 0);
		}
		k++;
	}
	if (!rc) {
		assert_int_equal(k, 4);
		rc = rv_dbobj_reader_finish(r);
	}
	rv_dbobj_reader_free(r);
	rv_buf_release(&body);
	return rc;
}

static void test_round_trip(void **state)
{
	char *big;
	size_t n;
	int fd;

	(void)state;
	fd = write_obj(&big, &n);
	assert_int_equal(read_all(fd, big, n), 0);
	close(fd);
	free(big);
}

/* The compressed object, damaged by `how`, must be refused as corrupt. */
static void damaged(int how)
{
	char *big, *data;
	size_t n, len;
	int fd = write_obj(&big, &n), fd2, rc;
	off_t sz = lseek(fd, 0, SEEK_END);

	data = rv_malloc((size_t)sz);
	assert_int_equal(pread(fd, data, (size_t)sz, 0), sz);
	len = (size_t)sz;
	if (how == 0)
		len -= 30; /* truncated */
	else
		data[len / 2] ^= 0x40; /* one flipped bit */
	fd2 = tmpfd();
	assert_int_equal(write(fd2, data, len), (ssize_t)len);
	assert_int_equal(lseek(fd2, 0, SEEK_SET), 0);
	rc = read_all(fd2, NULL, 0);
	assert_int_equal(rc, RV_ECORRUPT);
	close(fd);
	close(fd2);
	free(data);
	free(big);
}

static void test_truncated(void **state)
{
	(void)state;
	damaged(0);
}

static void test_flipped(void **state)
{
	(void)state;
	damaged(1);
}

/* A hand-made object: `body` (header line included), then "end COUNT
 * <sha>" (the sha of `body`, spoilt when !hash_right), compressed with
 * the zstd command when `compress`, else left plain (refused: objects are
 * zstd frames). */
static int read_text(const char *body, int count, bool hash_right, bool compress)
{
	struct rv_dbobj_reader *r = NULL;
	struct rv_buf b = RV_BUF_INIT(1024);
	char type[16], tag[RV_DBOBJ_TAG_MAX], hex[RV_SHA256_HEX],
	    path[] = "/tmp/rv-test-dbrec-zXXXXXX";
	unsigned char sha[RV_SHA256_LEN];
	char *text, *cmd;
	bool end = false;
	int fd, rc;
	FILE *p;

	rv_sha256(sha, body, strlen(body));
	if (!hash_right)
		sha[0] ^= 1;
	rv_hex(hex, sha, sizeof(sha));
	text = rv_asprintf("%send %d %s\n", body, count, hex);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	cmd = rv_asprintf(compress ? "zstd -q --check -c > %s" : "cat > %s", path);
	p = popen(cmd, "w");
	assert_non_null(p);
	assert_int_equal(fwrite(text, 1, strlen(text), p), strlen(text));
	assert_int_equal(pclose(p), 0);
	free(cmd);
	free(text);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	unlink(path);
	rc = rv_dbobj_reader_new(&r, fd, "hand");
	while (!rc && !end)
		rc = rv_dbobj_reader_record(r, type, tag, &b, &end);
	rc = rc ? rc : rv_dbobj_reader_finish(r);
	rv_dbobj_reader_free(r);
	rv_buf_release(&b);
	close(fd);
	return rc;
}

#define H                                                                                          \
	"revenant 1.2 db-snapshot gen=0000019a3c5e7f10-3fa9c2d1 from=0 to=0 time=1 engine=mysql "  \
	"k=v\n"
#define RT(body, count, right) read_text(body, count, right, true)

static void test_plain_refused(void **state)
{
	(void)state;
	assert_int_equal(read_text(H "sql 3 t\nabc\n", 1, true, false), RV_ECORRUPT);
}

static void test_hand_made(void **state)
{
	(void)state;
	assert_int_equal(RT(H "sql 3 t\nabc\n", 1, true), 0);
	assert_int_equal(RT(H, 0, true), 0);
	assert_int_equal(RT(H "sql 3 t\nabc\n", 2, true), RV_ECORRUPT);	  /* count */
	assert_int_equal(RT(H "sql 3 t\nabc\n", 1, false), RV_ECORRUPT);  /* sha */
	assert_int_equal(RT(H "sql 4 t\nabc\n", 1, true), RV_ECORRUPT);	  /* length */
	assert_int_equal(RT(H "sql 2 t\nabc\n", 1, true), RV_ECORRUPT);	  /* no \n */
	assert_int_equal(RT(H "sql x t\nabc\n", 1, true), RV_ECORRUPT);	  /* length */
	assert_int_equal(RT(H "sql 3 t u\nabc\n", 1, true), RV_ECORRUPT); /* tag */
	assert_int_equal(RT(H "sql 99999999999999 t\nabc\n", 1, true), RV_ECORRUPT);
	assert_int_equal(RT("revenant 1.2 db-snapshot gen=0000019a3c5e7f10-3fa9c2d1 from=0 "
			    "to=1 time=1 engine=mysql\n",
			    0, true),
			 RV_ECORRUPT); /* a snapshot is one position */
	assert_int_equal(RT("revenant 1.2 db-snapshot gen=0000019a3c5e7f10-3fa9c2d1 from=0 "
			    "to=0 time=1 engine=oracle\n",
			    0, true),
			 RV_ENOTSUP);
	assert_int_equal(RT("revenant 2.0 db-snapshot gen=0000019a3c5e7f10-3fa9c2d1 from=0 "
			    "to=0 time=1 engine=mysql\n",
			    0, true),
			 RV_ENOTSUP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip), cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_flipped),    cmocka_unit_test(test_plain_refused),
	    cmocka_unit_test(test_hand_made),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
