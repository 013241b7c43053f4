/* test_crypt.c - the encrypting store layer (store/crypt.h) over a file
 * store: objects of odd sizes put from memory, a file, a pipe of known and
 * of unknown length, read back whole and in ranges that start and end
 * anywhere (also through pfetch, as a restore reads); listings and heads
 * give plaintext sizes; the raw store holds no plaintext; the marker and
 * the modes (a plain store with a key, an encrypted store without one, a
 * wrong key); rotation (old objects open with the old key in the keyring,
 * blob names do not change); damage (a flipped byte, a cut, an object
 * copied to another name) is RV_ECORRUPT and writes nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../testutil.h"

#include "core/log.h"
#include "core/util.h"
#include "format/layout.h"
#include "store/crypt.h"
#include "store/pfetch.h"

#define CH RV_SEAL_CHUNK

static const uint64_t sizes[] = {0, 1, 100, CH - 1, CH, CH + 1, 3 * CH + 7, 300000};
#define NOBJ (sizeof(sizes) / sizeof(sizes[0]))

struct fx {
	char dir[64], store[96], k1[96], k2[96], k3[96];
};

static unsigned char byte_at(size_t obj, uint64_t off)
{
	/* a text-free pattern would hide nothing: plant a readable marker */
	static const char mark[] = "PLAINTEXT-MARKER-";

	return off % 64 < sizeof(mark) - 1 ? (unsigned char)mark[off % 64]
					   : (unsigned char)((off * 2654435761u) >> 7 ^ obj * 131);
}

static unsigned char *pattern(size_t obj, uint64_t n)
{
	unsigned char *p = rv_malloc(n ? n : 1);

	for (uint64_t i = 0; i < n; i++)
		p[i] = byte_at(obj, i);
	return p;
}

static void write_key(const char *path, unsigned char fill, bool hex)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	unsigned char raw[32];
	char h[65];

	assert_true(fd >= 0);
	memset(raw, fill, sizeof(raw));
	if (hex) {
		rv_hex(h, raw, sizeof(raw));
		h[64] = '\n';
		assert_int_equal(rv_write_all(fd, h, 65), 0);
	} else {
		assert_int_equal(rv_write_all(fd, raw, 32), 0);
	}
	close(fd);
}

static int setup(void **state)
{
	struct fx *f = rv_calloc(1, sizeof(*f));

	signal(SIGPIPE, SIG_IGN); /* as main() does */
	rv_log_setup(RV_LOG_ERROR, RV_LOG_LOGFMT);
	snprintf(f->dir, sizeof(f->dir), "/tmp/rv-crypt-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->store, sizeof(f->store), "%s/store", f->dir);
	snprintf(f->k1, sizeof(f->k1), "%s/k1", f->dir);
	snprintf(f->k2, sizeof(f->k2), "%s/k2", f->dir);
	snprintf(f->k3, sizeof(f->k3), "%s/k3", f->dir);
	assert_int_equal(rv_mkdirs(f->store), 0);
	write_key(f->k1, 0x11, false);
	write_key(f->k2, 0x22, true);
	write_key(f->k3, 0x33, false);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	rv_test_rm_rf(f->dir);
	free(f);
	return 0;
}

/* The store with `key` current and `old` (may be NULL) still read; the
 * result of rv_crypt_open. */
static int open_enc(struct fx *f, const char *key, const char *old, struct rv_store **out)
{
	const char *olds[] = {old, NULL};
	struct rv_crypt_conf conf = {.key_file = key, .old_key_files = old ? olds : NULL};
	int rc;

	assert_int_equal(rv_test_open_file_store(f->store, out), 0);
	rc = rv_crypt_open(out, &conf);
	if (rc) {
		rv_store_free(*out);
		*out = NULL;
	}
	return rc;
}

static void put_all(struct rv_store *s, const char *prefix)
{
	for (size_t i = 0; i < NOBJ; i++) {
		unsigned char *p = pattern(i, sizes[i]);
		char key[64];
		int pfd[2], tfd;

		/* memory, a regular file, a pipe of known and unknown length */
		snprintf(key, sizeof(key), "%s/buf/%zu", prefix, i);
		assert_int_equal(rv_store_put_buf(s, key, p, sizes[i], NULL), 0);
		snprintf(key, sizeof(key), "%s/file/%zu", prefix, i);
		assert_int_equal(rv_tmpfile(&tfd), 0);
		assert_int_equal(rv_write_all(tfd, p, sizes[i]), 0);
		assert_int_equal(rv_store_put_fd(s, key, tfd, UINT64_MAX, NULL), 0);
		close(tfd);
		for (int known = 0; known < 2; known++) {
			/* every size fits a pipe of 1 MiB: written before the put
			 * (streams of several chunks, sealed as the store reads) */
			assert_int_equal(pipe(pfd), 0);
			assert_true(fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20) >= (int)sizes[NOBJ - 1]);
			assert_int_equal(rv_write_all(pfd[1], p, sizes[i]), 0);
			close(pfd[1]);
			snprintf(key, sizeof(key), "%s/pipe%d/%zu", prefix, known, i);
			assert_int_equal(
			    rv_store_put_fd(s, key, pfd[0], known ? sizes[i] : UINT64_MAX, NULL),
			    0);
			close(pfd[0]);
		}
		free(p);
	}
}

/* [off, off+len) of the object through get_fd, compared with the pattern. */
static void check_range(struct rv_store *s, const char *key, size_t obj, uint64_t off, uint64_t len)
{
	int fd = memfd_create("t", 0);
	uint64_t want = off + len > sizes[obj] || !len ? sizes[obj] - off : len;
	unsigned char *got = rv_malloc(want + 1), *p = pattern(obj, sizes[obj]);
	struct rv_obj_info info = {0};

	assert_int_equal(rv_store_get_fd(s, key, fd, off, len, &info), 0);
	assert_int_equal(info.size, sizes[obj]);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), want);
	assert_int_equal(pread(fd, got, want + 1, 0), want);
	if (want)
		assert_memory_equal(got, p + off, want);
	rv_obj_info_release(&info);
	free(got);
	free(p);
	close(fd);
}

static void check_all(struct rv_store *s, const char *prefix)
{
	static const char *const kinds[] = {"buf", "file", "pipe0", "pipe1"};

	for (size_t i = 0; i < NOBJ; i++) {
		for (size_t k = 0; k < 4; k++) {
			char key[64];
			struct rv_obj_info info;

			snprintf(key, sizeof(key), "%s/%s/%zu", prefix, kinds[k], i);
			check_range(s, key, i, 0, 0);
			assert_int_equal(rv_store_head(s, key, &info), 0);
			assert_int_equal(info.size, sizes[i]);
			rv_obj_info_release(&info);
			if (!sizes[i])
				continue;
			/* ranges at and around chunk boundaries, from the start and
			 * inside */
			check_range(s, key, i, 0, 1);
			check_range(s, key, i, sizes[i] - 1, 0);
			check_range(s, key, i, sizes[i] / 2, 0);
			check_range(s, key, i, sizes[i] / 3, sizes[i] / 3 + 1);
			if (sizes[i] > CH) {
				check_range(s, key, i, CH - 1, 2);
				check_range(s, key, i, CH, CH);
				check_range(s, key, i, 0, CH);
				check_range(s, key, i, 1, CH + 1);
			}
		}
	}
}

/* No object in the store's folder holds the planted marker. */
static void assert_no_plaintext(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "grep -rqa PLAINTEXT-MARKER %s", dir);
	assert_int_not_equal(system(cmd), 0);
}

static void test_round_trips(void **state)
{
	struct fx *f = *state;
	struct rv_store *s;
	struct rv_keylist kl;
	struct rv_list_page pg;
	const unsigned char *nk;

	assert_int_equal(open_enc(f, f->k1, NULL, &s), 0);
	put_all(s, "a");
	check_all(s, "a");
	assert_no_plaintext(f->store);
	/* the marker is there, plain, naming the key */
	assert_int_equal(rv_store_list_keys(s, "", &kl), 0);
	assert_string_equal(kl.v[kl.n - 1], RV_CRYPT_MARKER_KEY);
	rv_keylist_release(&kl);
	/* listings give plaintext sizes */
	assert_int_equal(rv_store_list_page(s, "a/file/", NULL, 0, &pg), 0);
	assert_int_equal(pg.count, NOBJ);
	for (size_t i = 0; i < pg.count; i++) {
		size_t obj = (size_t)(pg.items[i].key[7] - '0');

		assert_int_equal(pg.items[i].size, sizes[obj]);
	}
	rv_list_page_release(&pg);
	assert_int_equal(rv_store_name_key(s, &nk), 0);
	assert_non_null(nk);
	/* the marker cannot be overwritten or removed through the layer */
	assert_int_equal(rv_store_put_buf(s, RV_CRYPT_MARKER_KEY, "x", 1, NULL), RV_EUSAGE);
	assert_int_equal(rv_store_delete(s, RV_CRYPT_MARKER_KEY), RV_EUSAGE);
	rv_store_free(s);

	/* reopened: the same name key (from the marker) */
	{
		unsigned char first[32];
		struct rv_store *s2;

		assert_int_equal(open_enc(f, f->k1, NULL, &s), 0);
		assert_int_equal(rv_store_name_key(s, &nk), 0);
		memcpy(first, nk, 32);
		assert_int_equal(open_enc(f, f->k1, NULL, &s2), 0);
		assert_int_equal(rv_store_name_key(s2, &nk), 0);
		assert_memory_equal(first, nk, 32);
		rv_store_free(s2);
	}
	check_all(s, "a");
	rv_store_free(s);
}

/* An input that ends before its stated size fails the put with the
 * layer's reason (not the store's "read the input") and stores nothing. */
static void test_short_input(void **state)
{
	struct fx *f = *state;
	struct rv_store *s;
	struct rv_obj_info info;
	unsigned char *p = pattern(6, sizes[6]);
	int pfd[2];

	assert_int_equal(open_enc(f, f->k1, NULL, &s), 0);
	assert_int_equal(pipe(pfd), 0);
	assert_true(fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20) >= (int)sizes[6]);
	assert_int_equal(rv_write_all(pfd[1], p, sizes[6]), 0);
	close(pfd[1]);
	assert_int_equal(rv_store_put_fd(s, "short", pfd[0], sizes[6] + 10, NULL), RV_EFAIL);
	assert_non_null(strstr(rv_errmsg(), "the input ended"));
	close(pfd[0]);
	assert_int_equal(rv_store_head(s, "short", &info), RV_ENOTFOUND);
	free(p);
	rv_store_free(s);
}

/* What a restore does: parallel ranged parts, not on chunk boundaries. */
static void test_pfetch(void **state)
{
	struct fx *f = *state;
	struct rv_pfetch_obj objs[NOBJ];
	struct rv_pfetch_opts o = {.tmpdir = f->dir, .jobs = 3, .part = 10007};
	struct rv_pfetch *pf;
	struct rv_store *s;
	char keys[NOBJ][32];

	assert_int_equal(open_enc(f, f->k1, NULL, &s), 0);
	put_all(s, "p");
	for (size_t i = 0; i < NOBJ; i++) {
		struct rv_obj_info info;

		snprintf(keys[i], sizeof(keys[i]), "p/file/%zu", i);
		assert_int_equal(rv_store_head(s, keys[i], &info), 0);
		objs[i] = (struct rv_pfetch_obj){.key = keys[i], .size = info.size};
		rv_obj_info_release(&info);
	}
	assert_int_equal(rv_pfetch_start(&pf, s, objs, NOBJ, &o), 0);
	for (size_t i = 0; i < NOBJ; i++) {
		unsigned char *p = pattern(i, sizes[i]), *got = rv_malloc(sizes[i] + 1);
		uint64_t off = 0;
		ssize_t n;

		while ((n = rv_pfetch_read(pf, i, off, got + off, 4093)) > 0)
			off += (uint64_t)n;
		assert_true(n == 0);
		assert_int_equal(off, sizes[i]);
		if (sizes[i])
			assert_memory_equal(got, p, sizes[i]);
		free(p);
		free(got);
	}
	rv_pfetch_free(pf);
	rv_store_free(s);
}

static void test_modes(void **state)
{
	struct fx *f = *state;
	struct rv_store *s;
	char plain_dir[128];

	/* a reader never writes: an empty store stays empty until a put */
	{
		struct rv_keylist kl;
		struct rv_obj_info info;
		int fd = memfd_create("t", 0);

		assert_int_equal(open_enc(f, f->k1, NULL, &s), 0);
		assert_int_equal(rv_store_list_keys(s, "", &kl), 0);
		assert_int_equal(kl.n, 0);
		rv_keylist_release(&kl);
		assert_int_equal(rv_store_get_fd(s, "lease.json", fd, 0, 0, NULL), RV_ENOTFOUND);
		assert_int_equal(rv_store_head(s, "lease.json", &info), RV_ENOTFOUND);
		assert_int_equal(rv_store_probe(s), 0);
		close(fd);
		rv_store_free(s);
		assert_int_equal(rv_test_open_file_store(f->store, &s), 0);
		assert_int_equal(rv_store_list_keys(s, "", &kl), 0);
		assert_int_equal(kl.n, 0);
		rv_keylist_release(&kl);
		rv_store_free(s);
	}
	/* an encrypted store without a key, and with a wrong one */
	assert_int_equal(open_enc(f, f->k1, NULL, &s), 0);
	assert_int_equal(rv_store_put_buf(s, "x", "secret", 6, NULL), 0);
	rv_store_free(s);
	assert_int_equal(rv_test_open_file_store(f->store, &s), 0);
	assert_int_equal(rv_crypt_open(&s, &(struct rv_crypt_conf){0}), RV_EAUTH);
	assert_non_null(strstr(rv_errmsg(), "key_file"));
	rv_store_free(s);
	assert_int_equal(open_enc(f, f->k3, NULL, &s), RV_EAUTH);
	assert_non_null(strstr(rv_errmsg(), "encrypted with key"));

	/* a plain store that holds objects, with a key */
	snprintf(plain_dir, sizeof(plain_dir), "%s/plain", f->dir);
	assert_int_equal(rv_mkdirs(plain_dir), 0);
	assert_int_equal(rv_test_open_file_store(plain_dir, &s), 0);
	assert_int_equal(rv_store_put_buf(s, "lease.json", "{}", 2, NULL), 0);
	assert_int_equal(rv_crypt_open(&s, &(struct rv_crypt_conf){0}), 0);
	assert_int_equal(rv_crypt_open(&s, &(struct rv_crypt_conf){.key_file = f->k1}), RV_EUSAGE);
	assert_non_null(strstr(rv_errmsg(), "unencrypted objects ('lease.json')"));
	rv_store_free(s);

	/* a key file of the wrong shape */
	{
		char bad[128];
		int fd;

		snprintf(bad, sizeof(bad), "%s/badkey", f->dir);
		fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		assert_int_equal(rv_write_all(fd, "hunter2\n", 8), 0);
		close(fd);
		assert_int_equal(open_enc(f, bad, NULL, &s), RV_EUSAGE);
		assert_non_null(strstr(rv_errmsg(), "openssl rand 32"));
	}
}

static void test_rotation(void **state)
{
	struct fx *f = *state;
	struct rv_store *s;
	const unsigned char *nk;
	unsigned char nk1[32], id[RV_SEAL_KEYID];
	char b1[RV_BLOB_KEY_LEN], b2[RV_BLOB_KEY_LEN];
	unsigned char sha[32];

	memset(sha, 7, sizeof(sha));
	assert_int_equal(open_enc(f, f->k1, NULL, &s), 0);
	put_all(s, "r1");
	assert_int_equal(rv_store_name_key(s, &nk), 0);
	memcpy(nk1, nk, 32);
	rv_content_blob_key(b1, sha, nk);
	rv_store_free(s);

	/* key 2 current, key 1 still read: both open, blob names stay */
	assert_int_equal(open_enc(f, f->k2, f->k1, &s), 0);
	put_all(s, "r2");
	check_all(s, "r1");
	check_all(s, "r2");
	assert_int_equal(rv_store_name_key(s, &nk), 0);
	assert_memory_equal(nk, nk1, 32);
	rv_content_blob_key(b2, sha, nk);
	assert_string_equal(b1, b2);
	assert_int_equal(rv_crypt_object_keyid(s, "r2/buf/1", id), 0);
	assert_memory_equal(id, rv_crypt_current(s)->id, RV_SEAL_KEYID);
	assert_int_equal(rv_crypt_object_keyid(s, "r1/buf/1", id), 0);
	assert_memory_not_equal(id, rv_crypt_current(s)->id, RV_SEAL_KEYID);
	rv_store_free(s);

	/* key 2 alone opens the store (the marker names it now) but not the
	 * old objects: RV_EAUTH naming key 1's id */
	assert_int_equal(open_enc(f, f->k2, NULL, &s), 0);
	check_range(s, "r2/file/3", 3, 0, 0);
	{
		int fd = memfd_create("t", 0);

		assert_int_equal(rv_store_get_fd(s, "r1/file/3", fd, 0, 0, NULL), RV_EAUTH);
		assert_int_equal(lseek(fd, 0, SEEK_END), 0);
		close(fd);
	}
	rv_store_free(s);
}

/* Damage to the raw object: RV_ECORRUPT, and not a byte of the damaged
 * chunk or after it reaches the output. */
static void test_damage(void **state)
{
	struct fx *f = *state;
	struct rv_store *s;
	char path[256], path2[256];
	unsigned char b;
	int fd, out;
	size_t obj = 6; /* 3 chunks + 7 bytes */

	assert_int_equal(open_enc(f, f->k1, NULL, &s), 0);
	put_all(s, "d");

	snprintf(path, sizeof(path), "%s/d/file/%zu", f->store, obj);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, RV_SEAL_HDR + RV_SEAL_FRAME + 100), 1);
	b ^= 0x20;
	assert_int_equal(pwrite(fd, &b, 1, RV_SEAL_HDR + RV_SEAL_FRAME + 100), 1);
	close(fd);
	out = memfd_create("t", 0);
	assert_int_equal(rv_store_get_fd(s, "d/file/6", out, 0, 0, NULL), RV_ECORRUPT);
	assert_non_null(strstr(rv_errmsg(), "chunk 1"));
	assert_true(lseek(out, 0, SEEK_END) <= (off_t)CH);
	close(out);
	/* a range that does not touch the damaged chunk still reads */
	check_range(s, "d/file/6", obj, 2 * CH + 3, 0);

	/* cut at a chunk boundary: the new last chunk was not sealed as last */
	snprintf(path, sizeof(path), "%s/d/buf/%zu", f->store, obj);
	assert_int_equal(truncate(path, RV_SEAL_HDR + 2 * RV_SEAL_FRAME), 0);
	out = memfd_create("t", 0);
	assert_int_equal(rv_store_get_fd(s, "d/buf/6", out, 0, 0, NULL), RV_ECORRUPT);
	close(out);
	/* cut inside the header */
	assert_int_equal(truncate(path, 20), 0);
	out = memfd_create("t", 0);
	assert_int_equal(rv_store_get_fd(s, "d/buf/6", out, 0, 0, NULL), RV_ECORRUPT);
	close(out);

	/* copied to another name */
	snprintf(path, sizeof(path), "%s/d/pipe0/2", f->store);
	snprintf(path2, sizeof(path2), "%s/d/pipe0/7", f->store);
	assert_int_equal(rename(path, path2), 0);
	out = memfd_create("t", 0);
	assert_int_equal(rv_store_get_fd(s, "d/pipe0/7", out, 0, 0, NULL), RV_ECORRUPT);
	assert_int_equal(lseek(out, 0, SEEK_END), 0);
	close(out);
	rv_store_free(s);
}

/* Ranged reads keep the header of the objects read last; an object
 * replaced under the same name (another salt, maybe another size) is read
 * right through the stale entry, and a shorter one is not cut short. */
static void test_header_cache(void **state)
{
	struct fx *f = *state;
	struct rv_store *s;
	unsigned char *a = pattern(6, sizes[6]), *b = pattern(7, sizes[7]);
	unsigned char got[100];
	int fd;

	assert_int_equal(open_enc(f, f->k1, NULL, &s), 0);
	assert_int_equal(rv_store_put_buf(s, "hc/x", a, sizes[6], NULL), 0);
	for (int round = 0; round < 2; round++) {
		fd = memfd_create("t", 0);
		assert_int_equal(rv_store_get_fd(s, "hc/x", fd, CH + 5, 100, NULL), 0);
		assert_int_equal(pread(fd, got, 100, 0), 100);
		assert_memory_equal(got, a + CH + 5, 100);
		close(fd);
	}
	/* replaced by a longer object: the cached header (another salt) fails
	 * on its first chunk and is dropped; the read is right */
	assert_int_equal(rv_store_put_buf(s, "hc/x", b, sizes[7], NULL), 0);
	fd = memfd_create("t", 0);
	assert_int_equal(rv_store_get_fd(s, "hc/x", fd, 200000, 100, NULL), 0);
	assert_int_equal(pread(fd, got, 100, 0), 100);
	assert_memory_equal(got, b + 200000, 100);
	close(fd);
	/* replaced by a shorter one: a range past its end is refused by the
	 * object's own size, not the cached one */
	assert_int_equal(rv_store_put_buf(s, "hc/x", a, 1000, NULL), 0);
	fd = memfd_create("t", 0);
	assert_int_equal(rv_store_get_fd(s, "hc/x", fd, 2000, 100, NULL), RV_EUSAGE);
	assert_int_equal(rv_store_get_fd(s, "hc/x", fd, 500, 100, NULL), 0);
	assert_int_equal(pread(fd, got, 100, 0), 100);
	assert_memory_equal(got, a + 500, 100);
	close(fd);
	rv_store_free(s);
	free(a);
	free(b);
}

static int open_conf(struct fx *f, const struct rv_crypt_conf *conf, struct rv_store **out)
{
	int rc;

	assert_int_equal(rv_test_open_file_store(f->store, out), 0);
	rc = rv_crypt_open(out, conf);
	if (rc) {
		rv_store_free(*out);
		*out = NULL;
	}
	return rc;
}

static void write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(rv_write_all(fd, text, strlen(text)), 0);
	close(fd);
}

/* A passphrase: scrypt with the salt and cost in the marker; the same
 * passphrase opens the store again, another does not; a marker that
 * weakens the cost is refused; a raw key can take over, the passphrase
 * still reading the old objects. */
static void test_passphrase(void **state)
{
	struct fx *f = *state;
	char p1[128], p2[128], marker[160];
	const char *olds[2] = {p1, NULL};
	struct rv_store *s;
	struct rv_buf m = RV_BUF_INIT(1 << 16);
	char *text;
	size_t len;

	snprintf(p1, sizeof(p1), "%s/pass1", f->dir);
	snprintf(p2, sizeof(p2), "%s/pass2", f->dir);
	snprintf(marker, sizeof(marker), "%s/" RV_CRYPT_MARKER_KEY, f->store);
	write_text(p1, "correct horse battery staple\n");
	write_text(p2, "another passphrase entirely\n");

	assert_int_equal(open_conf(f, &(struct rv_crypt_conf){.passphrase_file = p1}, &s), 0);
	put_all(s, "pp");
	rv_store_free(s);
	assert_int_equal(rv_read_file(marker, 1 << 16, &text, &len), 0);
	assert_non_null(strstr(text, "\"scrypt\""));
	assert_null(strstr(text, "correct horse"));

	assert_int_equal(open_conf(f, &(struct rv_crypt_conf){.passphrase_file = p1}, &s), 0);
	check_all(s, "pp");
	rv_store_free(s);
	assert_int_equal(open_conf(f, &(struct rv_crypt_conf){.passphrase_file = p2}, &s),
			 RV_EAUTH);

	/* a raw key takes over; the passphrase still reads what it sealed */
	assert_int_equal(
	    open_conf(f, &(struct rv_crypt_conf){.key_file = f->k1, .old_passphrase_files = olds},
		      &s),
	    0);
	put_all(s, "pk");
	check_all(s, "pp");
	check_all(s, "pk");
	rv_store_free(s);

	/* A reader that opened an empty store before the writer's first write
	 * learns the writer's key (another salt) from the marker when it
	 * meets an object under it. */
	{
		struct rv_store *r, *w;
		char store2[160];
		unsigned char *pb = pattern(3, sizes[3]);

		snprintf(store2, sizeof(store2), "%s/store2", f->dir);
		assert_int_equal(rv_mkdirs(store2), 0);
		assert_int_equal(rv_test_open_file_store(store2, &r), 0);
		assert_int_equal(rv_crypt_open(&r, &(struct rv_crypt_conf){.passphrase_file = p1}),
				 0);
		assert_int_equal(rv_test_open_file_store(store2, &w), 0);
		assert_int_equal(rv_crypt_open(&w, &(struct rv_crypt_conf){.passphrase_file = p1}),
				 0);
		assert_int_equal(rv_store_put_buf(w, "late", pb, sizes[3], NULL), 0);
		check_range(r, "late", 3, 0, 0);
		check_range(r, "late", 3, 100, 200);
		rv_store_free(r);
		rv_store_free(w);
		free(pb);
	}
	/* a marker whose cost was lowered is refused, not obeyed */
	{
		char *weak = rv_strdup(text), *n = strstr(weak, "\"N\": 65536");

		assert_non_null(n);
		memcpy(n, "\"N\": 16   ", 10);
		write_text(marker, weak);
		assert_int_equal(open_conf(f, &(struct rv_crypt_conf){.passphrase_file = p1}, &s),
				 RV_ECORRUPT);
		assert_non_null(strstr(rv_errmsg(), "scrypt parameters"));
		free(weak);
	}
	/* too short a passphrase */
	write_text(p2, "short\n");
	assert_int_equal(open_conf(f, &(struct rv_crypt_conf){.passphrase_file = p2}, &s),
			 RV_EUSAGE);
	free(text);
	rv_buf_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trips, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_short_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pfetch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_passphrase, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_header_cache, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
