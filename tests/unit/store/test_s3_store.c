/* The S3 backend against a real s3rver: objects, ranges, listing past one
 * page, multipart (50 MiB, checked by SHA-256), pipes, the capability probe,
 * bucket init and the error messages users see. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "s3_harness.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/retry.h"
#include "store/s3_int.h"

#define BUCKET "rv-test"

static struct s3srv srv;

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

static struct rv_store *open_store(const char *prefix, struct rv_store_opts *o)
{
	struct rv_store_opts def;
	struct rv_store *s = NULL;

	if (!o) {
		h_opts(&def);
		o = &def;
	}
	assert_int_equal(rv_store_open(&s, h_url(srv.port, BUCKET, prefix), o), 0);
	return s;
}

static void test_object_roundtrip(void **state)
{
	struct rv_store *s = open_store("site-a", NULL);
	const char *key = "dir/with space+plus é~.txt";
	struct rv_buf b = RV_BUF_INIT(1 << 20);
	struct rv_put_opts po = {0};
	struct rv_obj_info info;
	struct rv_list_page page;
	char tmpl[] = "/tmp/rv-s3get.XXXXXX", got[16] = "";
	int fd;

	(void)state;
	assert_int_equal(rv_store_put_buf(s, key, "hello, object", 13, &po), 0);
	assert_true(po.etag_out[0]);
	assert_int_equal(rv_store_head(s, key, &info), 0);
	assert_int_equal(info.size, 13);
	assert_string_equal(info.etag, po.etag_out);
	assert_true(info.mtime_ms > (int64_t)(time(NULL) - 600) * 1000);
	rv_obj_info_release(&info);

	assert_int_equal(rv_store_get_buf(s, key, &b, &info), 0);
	assert_int_equal(b.len, 13);
	assert_memory_equal(b.data, "hello, object", 13);
	assert_int_equal(info.size, 13);
	rv_obj_info_release(&info);

	/* Range [7, 7+6) = "object". */
	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	assert_int_equal(rv_store_get_fd(s, key, fd, 7, 6, &info), 0);
	assert_int_equal(info.size, 13);
	rv_obj_info_release(&info);
	assert_int_equal(pread(fd, got, sizeof(got), 0), 6);
	assert_memory_equal(got, "object", 6);
	/* Open-ended range from 10. */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(rv_store_get_fd(s, key, fd, 10, 0, NULL), 0);
	assert_int_equal(pread(fd, got, sizeof(got), 0), 3);
	assert_memory_equal(got, "ect", 3);
	close(fd);
	unlink(tmpl);

	/* Keys come back relative to the store prefix. */
	assert_int_equal(rv_store_list_page(s, "dir/", NULL, 0, &page), 0);
	assert_int_equal(page.count, 1);
	assert_string_equal(page.items[0].key, key);
	assert_int_equal(page.items[0].size, 13);
	assert_null(page.next_token);
	rv_list_page_release(&page);

	/* Empty object (a range on it has nothing to satisfy). */
	rv_buf_reset(&b);
	assert_int_equal(rv_store_put_buf(s, "empty", "", 0, NULL), 0);
	assert_int_equal(rv_store_get_buf(s, "empty", &b, NULL), 0);
	assert_int_equal(b.len, 0);

	assert_int_equal(rv_store_delete(s, key), 0);
	assert_int_equal(rv_store_delete(s, key), 0); /* missing: not an error */
	assert_int_equal(rv_store_delete(s, "empty"), 0);
	assert_int_equal(rv_store_head(s, key, &info), RV_ENOTFOUND);
	assert_int_equal(rv_store_get_buf(s, key, &b, NULL), RV_ENOTFOUND);
	assert_non_null(strstr(rv_errmsg(), "no such object"));
	assert_non_null(strstr(rv_errmsg(), key));
	rv_buf_release(&b);
	rv_store_free(s);
}

static void test_multipart_50mib(void **state)
{
	struct rv_store_opts o;
	struct rv_store *s;
	char src[64], dst[] = "/tmp/rv-s3dst.XXXXXX", want[RV_SHA256_HEX], have[RV_SHA256_HEX];
	struct rv_put_opts po = {0};
	struct rv_obj_info info;
	struct rv_list_page page;
	int64_t t0, t1, t2;
	int fd, out, parts;

	(void)state;
	h_opts(&o);
	o.part_size = 8u << 20; /* 7 parts: six of 8 MiB and one of 2 MiB */
	o.parts_in_flight = 4;
	s = open_store("mp", &o);
	fd = h_randfile(src, sizeof(src), 50u << 20, 7, want);
	assert_true(fd >= 0);
	parts = s3srv_log_count(&srv, "partNumber=");
	t0 = rv_mono_ms();
	assert_int_equal(rv_store_put_fd(s, "big/50mib.bin", fd, UINT64_MAX, &po), 0);
	t1 = rv_mono_ms();
	/* Really multipart: the server saw 7 UploadPart requests. */
	assert_int_equal(s3srv_log_count(&srv, "partNumber=") - parts, 7);
	assert_int_equal(rv_store_head(s, "big/50mib.bin", &info), 0);
	assert_int_equal(info.size, 50u << 20);
	rv_obj_info_release(&info);

	out = mkstemp(dst);
	assert_true(out >= 0);
	assert_int_equal(rv_store_get_fd(s, "big/50mib.bin", out, 0, 0, &info), 0);
	t2 = rv_mono_ms();
	assert_int_equal(info.size, 50u << 20);
	rv_obj_info_release(&info);
	close(out);
	h_sha_path(dst, have);
	assert_string_equal(have, want);
	fprintf(stderr, "timing: 50 MiB multipart put %.2f s (%.1f MiB/s), get %.2f s\n",
		(double)(t1 - t0) / 1000, 50.0 * 1000 / (double)(t1 - t0 + 1),
		(double)(t2 - t1) / 1000);

	/* A range across the part boundary at 8 MiB matches the source. */
	{
		char a[4096], b[4096];
		out = open(dst, O_RDWR | O_TRUNC);
		assert_true(out >= 0);
		assert_int_equal(
		    rv_store_get_fd(s, "big/50mib.bin", out, (8u << 20) - 2048, 4096, NULL), 0);
		assert_int_equal(pread(out, a, 4096, 0), 4096);
		assert_int_equal(pread(fd, b, 4096, (8u << 20) - 2048), 4096);
		assert_memory_equal(a, b, 4096);
		close(out);
	}
	assert_int_equal(rv_store_list_page(s, "big/", NULL, 0, &page), 0);
	assert_int_equal(page.count, 1);
	rv_list_page_release(&page);
	assert_int_equal(rv_store_delete(s, "big/50mib.bin"), 0);
	close(fd);
	unlink(src);
	unlink(dst);
	rv_store_free(s);
}

struct feeder {
	int fd;
	uint64_t size;
	uint64_t seed;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	unsigned char buf[65536];
	uint64_t x = f->seed | 1, done = 0;

	/* Same generator as h_randfile, so the SHA-256 can be compared. */
	while (done < f->size) {
		size_t n = f->size - done < sizeof(buf) ? (size_t)(f->size - done) : sizeof(buf);
		for (size_t i = 0; i < n; i += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			memcpy(buf + i, &x, n - i < 8 ? n - i : 8);
		}
		if (rv_write_all(f->fd, buf, n))
			break;
		done += n;
	}
	close(f->fd);
	return NULL;
}

static void put_from_pipe(struct rv_store *s, const char *key, uint64_t size, uint64_t declared)
{
	char path[64], want[RV_SHA256_HEX], have[RV_SHA256_HEX], dst[] = "/tmp/rv-s3p.XXXXXX";
	struct feeder f;
	pthread_t th;
	int p[2], ref, out;

	ref = h_randfile(path, sizeof(path), size, 99, want);
	assert_true(ref >= 0);
	close(ref);
	unlink(path);
	assert_int_equal(pipe(p), 0);
	f.fd = p[1];
	f.size = size;
	f.seed = 99;
	assert_int_equal(pthread_create(&th, NULL, feed, &f), 0);
	assert_int_equal(rv_store_put_fd(s, key, p[0], declared, NULL), 0);
	pthread_join(th, NULL);
	close(p[0]);
	out = mkstemp(dst);
	assert_int_equal(rv_store_get_fd(s, key, out, 0, 0, NULL), 0);
	close(out);
	h_sha_path(dst, have);
	unlink(dst);
	assert_string_equal(have, want);
}

static void test_pipes(void **state)
{
	struct rv_store_opts o;
	struct rv_store *s;
	struct rv_obj_info info;
	int parts;

	(void)state;
	h_opts(&o);
	o.part_size = 5u << 20;
	o.multipart_threshold = 5u << 20;
	o.parts_in_flight = 3;
	s = open_store("pipes", &o);
	/* The read-ahead that chooses the method: on the heap up to 1 MiB,
	 * past it in a temporary file (both ends of each). */
	parts = s3srv_log_count(&srv, "partNumber=");
	put_from_pipe(s, "small", 1000, UINT64_MAX);
	put_from_pipe(s, "one-mib", 1u << 20, UINT64_MAX);
	put_from_pipe(s, "one-mib-and-one", (1u << 20) + 1, UINT64_MAX);
	put_from_pipe(s, "exact-threshold", 5u << 20, UINT64_MAX);
	assert_int_equal(s3srv_log_count(&srv, "partNumber=") - parts, 0);
	put_from_pipe(s, "threshold-and-one", (5u << 20) + 1, UINT64_MAX);
	assert_int_equal(s3srv_log_count(&srv, "partNumber=") - parts, 2);
	parts = s3srv_log_count(&srv, "partNumber=");
	put_from_pipe(s, "multi", (12u << 20) + 5, UINT64_MAX);
	assert_int_equal(s3srv_log_count(&srv, "partNumber=") - parts, 3);
	assert_int_equal(rv_store_head(s, "multi", &info), 0);
	assert_int_equal(info.size, (12u << 20) + 5);
	rv_obj_info_release(&info);
	/* With a declared size. */
	put_from_pipe(s, "sized", 11u << 20, 11u << 20);
	rv_store_free(s);
}

struct filler {
	struct rv_store *s;
	int from, to;
	int rc;
};

static void *fill(void *arg)
{
	struct filler *f = arg;
	char key[64];

	for (int i = f->from; i < f->to && !f->rc; i++) {
		snprintf(key, sizeof(key), "many/k%05d", i);
		f->rc = rv_store_put_buf(f->s, key, key, strlen(key), NULL);
	}
	return NULL;
}

static int count_cb(const struct rv_obj_info *i, void *ud)
{
	int *n = ud;
	char want[32];

	snprintf(want, sizeof(want), "many/k%05d", *n);
	if (strcmp(i->key, want))
		return -100; /* out of order or missing */
	(*n)++;
	return 0;
}

static void test_paging(void **state)
{
	struct rv_store *s = open_store("page", NULL);
	struct filler f[8];
	pthread_t th[8];
	struct rv_list_page p1, p2;
	int n = 0;

	(void)state;
	/* 1,100 keys from 8 threads sharing the one store. */
	for (int i = 0; i < 8; i++) {
		f[i] = (struct filler){s, i * 1100 / 8, (i + 1) * 1100 / 8, 0};
		assert_int_equal(pthread_create(&th[i], NULL, fill, &f[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(f[i].rc, 0);
	}
	assert_int_equal(rv_store_list_page(s, "many/", NULL, 1000, &p1), 0);
	assert_int_equal(p1.count, 1000);
	assert_non_null(p1.next_token);
	assert_string_equal(p1.items[0].key, "many/k00000");
	assert_int_equal(rv_store_list_page(s, "many/", p1.next_token, 1000, &p2), 0);
	assert_int_equal(p2.count, 100);
	assert_null(p2.next_token);
	assert_string_equal(p2.items[0].key, "many/k01000");
	assert_string_equal(p2.items[99].key, "many/k01099");
	rv_list_page_release(&p1);
	rv_list_page_release(&p2);
	assert_int_equal(rv_store_list(s, "many/", count_cb, &n), 0);
	assert_int_equal(n, 1100);
	/* Small pages too. */
	assert_int_equal(rv_store_list_page(s, "many/k0109", NULL, 7, &p1), 0);
	assert_int_equal(p1.count, 7);
	assert_non_null(p1.next_token);
	rv_list_page_release(&p1);
	/* Deleted on 8 threads, one missing key among them. */
	{
		char *keys[1101];

		for (int i = 0; i < 1100; i++)
			keys[i] = rv_asprintf("many/k%05d", i);
		keys[1100] = rv_strdup("many/never");
		assert_int_equal(rv_store_delete_many(s, keys, 1101, 8), 0);
		for (int i = 0; i < 1101; i++)
			free(keys[i]);
	}
	n = 0;
	assert_int_equal(rv_store_list(s, "many/", count_cb, &n), 0);
	assert_int_equal(n, 0);
	rv_store_free(s);
}

static void test_probe(void **state)
{
	struct rv_store *s = open_store("probe", NULL);
	const struct rv_store_caps *c = rv_store_caps(s);
	struct rv_list_page p;

	(void)state;
	assert_true(c->multipart);
	assert_false(c->put_if_absent); /* not known before probing */
	assert_int_equal(rv_store_probe(s), 0);
	/* s3rver ignores If-None-Match / If-Match and has no versioning
	 * (FACTS.md): the probe must say so rather than assume. */
	assert_false(c->put_if_absent);
	assert_false(c->put_if_match);
	assert_false(c->versioning);
	assert_int_equal(rv_store_list_page(s, ".revenant/probe/", NULL, 0, &p), 0);
	assert_int_equal(p.count, 0);
	rv_list_page_release(&p);
	rv_store_free(s);
}

static void test_bucket_init(void **state)
{
	struct rv_store_opts o;
	struct rv_store_url u;
	struct rv_bucket_init_result r;
	char url[256];
	struct rv_store *s;

	(void)state;
	h_opts(&o);
	snprintf(url, sizeof(url), "s3://rv-init-one?endpoint=http://127.0.0.1:%d", srv.port);
	assert_int_equal(rv_store_url_parse(&u, url), 0);
	assert_int_equal(rv_s3_bucket_init(&u, &o, &r), 0);
	assert_true(r.created);
	assert_false(r.versioning_enabled);
	assert_non_null(r.versioning_note);
	assert_non_null(strstr(r.versioning_note, "versioning"));
	/* Idempotent. */
	assert_int_equal(rv_s3_bucket_init(&u, &o, &r), 0);
	assert_false(r.created);
	rv_store_url_release(&u);

	/* Outside us-east-1 the LocationConstraint body is sent. */
	o.region = "eu-west-1";
	snprintf(url, sizeof(url), "s3://rv-init-two?endpoint=http://127.0.0.1:%d", srv.port);
	assert_int_equal(rv_store_url_parse(&u, url), 0);
	assert_int_equal(rv_s3_bucket_init(&u, &o, &r), 0);
	assert_true(r.created);
	rv_store_url_release(&u);
	h_opts(&o);
	snprintf(url, sizeof(url), "s3://rv-init-two/x?endpoint=http://127.0.0.1:%d", srv.port);
	assert_int_equal(rv_store_open(&s, url, &o), 0);
	assert_int_equal(rv_store_put_buf(s, "k", "v", 1, NULL), 0);
	rv_store_free(s);
}

static void test_errors(void **state)
{
	struct rv_store_opts o;
	struct rv_store *s;
	char url[256];
	int64_t t0;
	int dead;

	(void)state;
	h_opts(&o);
	/* Wrong bucket: the message says how to create it. */
	snprintf(url, sizeof(url),
		 "s3://rv-no-such/p?endpoint=http://127.0.0.1:%d&region=eu-west-2", srv.port);
	assert_int_equal(rv_store_open(&s, url, &o), 0);
	assert_int_equal(rv_store_put_buf(s, "k", "v", 1, NULL), RV_ENOTFOUND);
	assert_string_equal(rv_errmsg(), "bucket 'rv-no-such' does not exist — run `revenant "
					 "bucket init s3://rv-no-such --region us-east-1`");
	{
		struct rv_list_page p;
		assert_int_equal(rv_store_list_page(s, "", NULL, 0, &p), RV_ENOTFOUND);
		assert_non_null(strstr(rv_errmsg(), "bucket 'rv-no-such' does not exist"));
	}
	rv_store_free(s);

	/* Unreachable endpoint: a port nobody listens on. */
	{
		int sfd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET};
		socklen_t al = sizeof(a);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(sfd, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(getsockname(sfd, (struct sockaddr *)&a, &al), 0);
		dead = ntohs(a.sin_port);
		close(sfd);
	}
	o.deadline_ms = 3000;
	o.max_attempts = 4;
	o.retry_base_ms = 50;
	snprintf(url, sizeof(url), "s3://rv-test/p?endpoint=http://127.0.0.1:%d", dead);
	assert_int_equal(rv_store_open(&s, url, &o), 0);
	t0 = rv_mono_ms();
	assert_int_equal(rv_store_put_buf(s, "k", "v", 1, NULL), RV_ENET);
	assert_true(rv_mono_ms() - t0 < 3500);
	snprintf(url, sizeof(url), "cannot reach http://127.0.0.1:%d", dead);
	assert_non_null(strstr(rv_errmsg(), url));
	assert_non_null(strstr(rv_errmsg(), "is the endpoint right and the server up?"));
	assert_non_null(strstr(rv_errmsg(), "4 attempts"));
	rv_store_free(s);

	/* Bad URLs and keys. */
	h_opts(&o);
	assert_int_equal(rv_store_open(&s, "s3://rv-test/p?colour=blue", &o), RV_EUSAGE);
	assert_non_null(strstr(rv_errmsg(), "unknown option 'colour'"));
	assert_int_equal(rv_store_open(&s, "s3://Bad_Bucket/p", &o), RV_EUSAGE);
	assert_int_equal(rv_store_open(&s, "s3://rv-test/p?endpoint=ftp://x", &o), RV_EUSAGE);
	assert_int_equal(rv_store_open(&s, "s3://rv-test/p?path_style=maybe", &o), RV_EUSAGE);
	assert_int_equal(rv_store_open(&s, "s3://rv-test/a//b", &o), RV_EUSAGE);
	s = open_store("p", NULL);
	assert_int_equal(rv_store_put_buf(s, "../x", "v", 1, NULL), RV_EUSAGE);
	assert_int_equal(rv_store_put_buf(s, "/abs", "v", 1, NULL), RV_EUSAGE);
	rv_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_object_roundtrip),
	    cmocka_unit_test(test_multipart_50mib),
	    cmocka_unit_test(test_pipes),
	    cmocka_unit_test(test_paging),
	    cmocka_unit_test(test_probe),
	    cmocka_unit_test(test_bucket_init),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
