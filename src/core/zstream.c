/* zstream.c - hashed zstd streams (see zstream.h). */
#include "core/zstream.h"
#include "core/mem.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <zstd.h>

#define IO_CHUNK (64u << 10)
/* A read of at least DIRECT_MIN bytes is decoded straight into the
 * caller's memory, SUB_CHUNK at a time; with a hash thread each piece is
 * hashed there while the next one is decoded. */
#define DIRECT_MIN IO_CHUNK
#define SUB_CHUNK  (128u << 10)
#define HASH_QUEUE 8
/* Part of the store format's bytes: changing it changes every object. */
#define ZSTD_LEVEL 3

static const unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};

static int sha_new(EVP_MD_CTX **out)
{
	*out = EVP_MD_CTX_new();
	if (!*out || EVP_DigestInit_ex(*out, EVP_sha256(), NULL) != 1)
		return rv_error(RV_EFAIL, "cannot start sha-256 (openssl)");
	return 0;
}

static int sha_add(EVP_MD_CTX *md, const void *p, size_t n)
{
	if (n && EVP_DigestUpdate(md, p, n) != 1)
		return rv_error(RV_EFAIL, "sha-256 update failed");
	return 0;
}

/* The digest so far, on a copy, so that hashing may go on. */
static int sha_peek(const EVP_MD_CTX *md, unsigned char out[RV_SHA256_LEN])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok = c && EVP_MD_CTX_copy_ex(c, md) == 1 && EVP_DigestFinal_ex(c, out, &n) == 1 &&
		 n == RV_SHA256_LEN;

	EVP_MD_CTX_free(c);
	return ok ? 0 : rv_error(RV_EFAIL, "sha-256 final failed");
}

/* ---- writer ---- */

struct rv_zstream_writer {
	rv_zstream_sink sink;
	void *ud;
	ZSTD_CCtx *cctx; /* NULL when passing plain bytes */
	EVP_MD_CTX *md;
	unsigned char *ob; /* output buffer, IO_CHUNK */
	size_t ob_len;
	int failed; /* sticky: part of the stream may be out */
	bool finished;
};

int rv_zstream_writer_new(struct rv_zstream_writer **out, bool compress, rv_zstream_sink sink,
			  void *ud)
{
	struct rv_zstream_writer *w = rv_calloc(1, sizeof(*w));
	int rc;

	*out = NULL;
	w->sink = sink;
	w->ud = ud;
	w->ob = rv_malloc(IO_CHUNK);
	if ((rc = sha_new(&w->md))) {
		rv_zstream_writer_free(w);
		return rc;
	}
	if (compress) {
		w->cctx = ZSTD_createCCtx();
		if (!w->cctx ||
		    ZSTD_isError(
			ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1))) {
			rv_zstream_writer_free(w);
			return rv_error(RV_EFAIL, "cannot set up zstd compression");
		}
	}
	*out = w;
	return 0;
}

int rv_zstream_writer_tune(struct rv_zstream_writer *w, int level, int workers)
{
	if (!w->cctx)
		return 0;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level)))
		return rv_error(RV_EFAIL, "zstd refuses compression level %d", level);
	/* Without thread support in libzstd this fails: compress inline. */
	if (workers > 0)
		(void)ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, workers);
	return 0;
}

int rv_zstream_writer_job_size(struct rv_zstream_writer *w, size_t bytes)
{
	if (w->cctx)
		(void)ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_jobSize, (int)bytes);
	return 0;
}

static int ob_flush(struct rv_zstream_writer *w)
{
	int rc;

	if (!w->ob_len)
		return 0;
	rc = w->sink(w->ud, w->ob, w->ob_len);
	w->ob_len = 0;
	return rc;
}

/* Bytes through (zstd and) the output buffer; `end` closes the frame. */
static int emit(struct rv_zstream_writer *w, const void *p, size_t n, bool end)
{
	ZSTD_inBuffer in = {p, n, 0};
	int rc;

	if (!w->cctx) {
		if (w->ob_len + n > IO_CHUNK && (rc = ob_flush(w)))
			return rc;
		if (n > IO_CHUNK)
			return w->sink(w->ud, p, n);
		if (n)
			memcpy(w->ob + w->ob_len, p, n);
		w->ob_len += n;
		return end ? ob_flush(w) : 0;
	}
	for (;;) {
		ZSTD_outBuffer ob = {w->ob, IO_CHUNK, w->ob_len};
		size_t left =
		    ZSTD_compressStream2(w->cctx, &ob, &in, end ? ZSTD_e_end : ZSTD_e_continue);

		if (ZSTD_isError(left))
			return rv_error(RV_EFAIL, "zstd compression failed: %s",
					ZSTD_getErrorName(left));
		w->ob_len = ob.pos;
		if (w->ob_len == IO_CHUNK && (rc = ob_flush(w)))
			return rc;
		if (end ? left == 0 : in.pos == in.size)
			return end ? ob_flush(w) : 0;
	}
}

int rv_zstream_write(struct rv_zstream_writer *w, const void *p, size_t n)
{
	if (w->failed)
		return w->failed;
	if (w->finished)
		return rv_error(RV_EUSAGE, "write to a finished zstd stream");
	if ((w->failed = sha_add(w->md, p, n)))
		return w->failed;
	return w->failed = emit(w, p, n, false);
}

int rv_zstream_writer_sha256(struct rv_zstream_writer *w, unsigned char out[RV_SHA256_LEN])
{
	return sha_peek(w->md, out);
}

int rv_zstream_writer_finish(struct rv_zstream_writer *w, const void *trailer, size_t n)
{
	if (w->failed)
		return w->failed;
	if (w->finished)
		return 0;
	if ((w->failed = emit(w, trailer, n, true)))
		return w->failed;
	w->finished = true;
	return 0;
}

void rv_zstream_writer_free(struct rv_zstream_writer *w)
{
	if (!w)
		return;
	ZSTD_freeCCtx(w->cctx);
	EVP_MD_CTX_free(w->md);
	free(w->ob);
	free(w);
}

/* ---- reader ---- */

struct rv_zstream_reader {
	rv_zstream_source src;
	void *ud;
	struct rv_zstream_reader_opts o;
	ZSTD_DCtx *dctx;   /* NULL for plain input */
	size_t frame_left; /* zstd's hint: 0 once the whole frame is decoded */
	unsigned char *in; /* raw bytes, IO_CHUNK */
	size_t in_len, in_pos;
	bool src_eof;
	unsigned char *out; /* decoded bytes not handed out yet, IO_CHUNK */
	size_t out_len, out_pos;
	EVP_MD_CTX *md; /* the hash thread's while it has work, else ours */
	int failed;
	struct hasher *h; /* NULL: hash inline */
};

/* ---- the hash thread ----
 * SHA-256 costs about as much CPU as zstd decoding, and one stream's hash
 * cannot be split; what can be done is to hash piece k on a second thread
 * while piece k+1 is decoded.  Pieces are pointers into the memory of the
 * rv_zstream_read call in progress, which waits for all of them before it
 * returns; between calls the queue is empty and md is the caller's. */
struct hasher {
	pthread_t t;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const unsigned char *p[HASH_QUEUE];
	size_t n[HASH_QUEUE];
	unsigned head, count; /* under mu */
	bool busy, quit;      /* under mu */
	int rc;		      /* under mu: the first failure */
	char msg[256];
	EVP_MD_CTX *md;
};

static void *hasher_main(void *arg)
{
	struct hasher *h = arg;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		const unsigned char *p;
		size_t n;
		bool skip;
		int rc;

		while (!h->count && !h->quit)
			pthread_cond_wait(&h->cv, &h->mu);
		if (!h->count)
			break;
		p = h->p[h->head];
		n = h->n[h->head];
		h->busy = true;
		skip = h->rc != 0;
		pthread_mutex_unlock(&h->mu);
		rc = skip ? 0 : sha_add(h->md, p, n);
		pthread_mutex_lock(&h->mu);
		if (rc && !h->rc) {
			h->rc = rc;
			snprintf(h->msg, sizeof(h->msg), "%s", rv_errmsg());
		}
		h->head = (h->head + 1) % HASH_QUEUE;
		h->count--;
		h->busy = false;
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static struct hasher *hasher_start(EVP_MD_CTX *md)
{
	struct hasher *h = rv_calloc(1, sizeof(*h));

	h->md = md;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if (pthread_create(&h->t, NULL, hasher_main, h) != 0) {
		/* No thread: hashing inline is slower, not wrong. */
		pthread_mutex_destroy(&h->mu);
		pthread_cond_destroy(&h->cv);
		free(h);
		return NULL;
	}
	return h;
}

static void hasher_push(struct hasher *h, const unsigned char *p, size_t n)
{
	pthread_mutex_lock(&h->mu);
	while (h->count == HASH_QUEUE)
		pthread_cond_wait(&h->cv, &h->mu);
	h->p[(h->head + h->count) % HASH_QUEUE] = p;
	h->n[(h->head + h->count) % HASH_QUEUE] = n;
	h->count++;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* Every piece hashed: the caller's memory and md are the caller's again. */
static int hasher_wait(struct hasher *h)
{
	int rc;

	pthread_mutex_lock(&h->mu);
	while (h->count || h->busy)
		pthread_cond_wait(&h->cv, &h->mu);
	rc = h->rc;
	pthread_mutex_unlock(&h->mu);
	return rc ? rv_error(rc, "%s", h->msg) : 0;
}

static void hasher_stop(struct hasher *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->quit = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->t, NULL);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h);
}

static int corrupt(struct rv_zstream_reader *r, const char *what)
{
	if (r->o.corrupt)
		return r->failed = r->o.corrupt(r->o.corrupt_ud, what);
	return r->failed = rv_error(RV_ECORRUPT, "corrupt zstd stream: %s", what);
}

/* Raw bytes into an empty `in`; at the end of the source in_len stays 0. */
static int src_read(struct rv_zstream_reader *r)
{
	ssize_t n;

	r->in_pos = r->in_len = 0;
	if (r->src_eof)
		return 0;
	n = r->src(r->ud, r->in, IO_CHUNK);
	if (n < 0)
		return r->failed = (int)n;
	if (n == 0)
		r->src_eof = true;
	r->in_len = (size_t)n;
	return 0;
}

/* Appends decoded bytes to dst after *len (which must leave room before
 * cap); *len is unchanged at the end of the data: the source's end for
 * plain input, the frame's end for zstd, whatever follows it. */
static int fill_into(struct rv_zstream_reader *r, unsigned char *dst, size_t cap, size_t *len)
{
	int rc;

	for (;;) {
		ZSTD_outBuffer ob = {dst, cap, *len};
		ZSTD_inBuffer ib;

		if (r->dctx && !r->frame_left)
			return 0;
		if (r->in_pos == r->in_len) {
			if ((rc = src_read(r)))
				return rc;
			if (!r->in_len)
				return r->dctx ? corrupt(r, "truncated compressed data") : 0;
		}
		if (!r->dctx) {
			size_t k = r->in_len - r->in_pos;

			if (k > cap - *len)
				k = cap - *len;
			memcpy(dst + *len, r->in + r->in_pos, k);
			r->in_pos += k;
			*len += k;
			return 0;
		}
		ib = (ZSTD_inBuffer){r->in, r->in_len, r->in_pos};
		r->frame_left = ZSTD_decompressStream(r->dctx, &ob, &ib);
		r->in_pos = ib.pos;
		if (ZSTD_isError(r->frame_left))
			return corrupt(r, ZSTD_getErrorName(r->frame_left));
		if (ob.pos > *len) {
			*len = ob.pos;
			return 0;
		}
	}
}

static int fill(struct rv_zstream_reader *r)
{
	return fill_into(r, r->out, IO_CHUNK, &r->out_len);
}

/* At least one byte in out (0 bytes left: the end of the data). */
static int more(struct rv_zstream_reader *r, size_t *avail)
{
	int rc;

	if (r->out_pos == r->out_len) {
		r->out_pos = r->out_len = 0;
		if ((rc = fill(r)))
			return rc;
	}
	*avail = r->out_len - r->out_pos;
	return 0;
}

int rv_zstream_reader_new(struct rv_zstream_reader **out, rv_zstream_source src, void *ud,
			  const struct rv_zstream_reader_opts *o)
{
	struct rv_zstream_reader *r = rv_calloc(1, sizeof(*r));
	int rc;

	*out = NULL;
	r->src = src;
	r->ud = ud;
	if (o)
		r->o = *o;
	r->in = rv_malloc(IO_CHUNK);
	r->out = rv_malloc(IO_CHUNK);
	if ((rc = sha_new(&r->md)))
		goto fail;
	/* Sniff the magic; the bytes stay in `in` for whichever decoder. */
	while (r->o.allow_plain && r->in_len < sizeof(zstd_magic) && !r->src_eof) {
		ssize_t n = src(ud, r->in + r->in_len, IO_CHUNK - r->in_len);

		if (n < 0) {
			rc = (int)n;
			goto fail;
		}
		r->src_eof = n == 0;
		r->in_len += (size_t)n;
	}
	if (!r->o.allow_plain ||
	    (r->in_len >= sizeof(zstd_magic) && !memcmp(r->in, zstd_magic, sizeof(zstd_magic)))) {
		r->dctx = ZSTD_createDCtx();
		if (!r->dctx) {
			rc = rv_error(RV_EFAIL, "cannot set up zstd decompression");
			goto fail;
		}
		r->frame_left = 1;
	}
	*out = r;
	return 0;
fail:
	rv_zstream_reader_free(r);
	return rc;
}

bool rv_zstream_reader_is_plain(const struct rv_zstream_reader *r)
{
	return !r->dctx;
}

/* Hash bytes already in the caller's memory: queued or inline. */
static int hash_piece(struct rv_zstream_reader *r, const unsigned char *p, size_t n)
{
	if (r->h) {
		hasher_push(r->h, p, n);
		return 0;
	}
	return sha_add(r->md, p, n);
}

static int read_body(struct rv_zstream_reader *r, unsigned char *d, size_t n)
{
	size_t k;
	int rc;

	while (n) {
		if (r->out_pos == r->out_len && n >= DIRECT_MIN) {
			size_t want = n < SUB_CHUNK ? n : SUB_CHUNK, got = 0;

			while (got < want) {
				size_t before = got;

				if ((rc = fill_into(r, d, want, &got)))
					return rc;
				if (got == before)
					return corrupt(r, "truncated");
			}
			k = want;
		} else {
			if ((rc = more(r, &k)))
				return rc;
			if (!k)
				return corrupt(r, "truncated");
			if (k > n)
				k = n;
			memcpy(d, r->out + r->out_pos, k);
			r->out_pos += k;
		}
		if ((rc = hash_piece(r, d, k)))
			return rc;
		d += k;
		n -= k;
	}
	return 0;
}

int rv_zstream_read(struct rv_zstream_reader *r, void *p, size_t n)
{
	int rc, hrc = 0;

	if (r->failed)
		return r->failed;
	if (r->o.hash_thread && !r->h && n >= 2 * SUB_CHUNK)
		r->h = hasher_start(r->md);
	rc = read_body(r, p, n);
	if (r->h)
		hrc = hasher_wait(r->h);
	if (!rc)
		rc = hrc;
	return rc ? (r->failed = rc) : 0;
}

int rv_zstream_read_line(struct rv_zstream_reader *r, struct rv_buf *line, bool hash, bool *eof)
{
	size_t k;
	int rc;

	*eof = false;
	rv_buf_reset(line);
	if (r->failed)
		return r->failed;
	for (;;) {
		if ((rc = more(r, &k)))
			return rc;
		if (!k) {
			if (line->len)
				return corrupt(r, "truncated line");
			*eof = true;
			return 0;
		}
		unsigned char *s = r->out + r->out_pos;
		unsigned char *nl = memchr(s, '\n', k);
		size_t n = nl ? (size_t)(nl - s) + 1 : k;

		/* The cap counts the line without its '\n'. */
		if (rv_buf_add(line, s, nl ? n - 1 : n))
			return corrupt(r, "line too long");
		if (hash && (rc = sha_add(r->md, s, n)))
			return r->failed = rc;
		r->out_pos += n;
		if (nl)
			return 0;
	}
}

int rv_zstream_peek(struct rv_zstream_reader *r, size_t want, const unsigned char **p, size_t *n)
{
	int rc;

	if (r->failed)
		return r->failed;
	if (want > IO_CHUNK)
		return rv_error(RV_EUSAGE, "zstd stream peek of %zu bytes (at most %u)", want,
				IO_CHUNK);
	if (r->out_len - r->out_pos < want && r->out_pos) {
		memmove(r->out, r->out + r->out_pos, r->out_len - r->out_pos);
		r->out_len -= r->out_pos;
		r->out_pos = 0;
	}
	while (r->out_len - r->out_pos < want) {
		size_t had = r->out_len;

		if ((rc = fill(r)))
			return rc;
		if (r->out_len == had)
			break;
	}
	*p = r->out + r->out_pos;
	*n = r->out_len - r->out_pos < want ? r->out_len - r->out_pos : want;
	return 0;
}

int rv_zstream_reader_sha256(struct rv_zstream_reader *r, unsigned char out[RV_SHA256_LEN])
{
	int rc = sha_peek(r->md, out);

	return rc ? (r->failed = rc) : 0;
}

int rv_zstream_reader_finish(struct rv_zstream_reader *r)
{
	size_t k;
	int rc;

	if (r->failed)
		return r->failed;
	/* Decoding on to the frame's end also verifies its checksum. */
	if ((rc = more(r, &k)))
		return rc;
	if (k)
		return corrupt(r, "data after the end line");
	if (!r->dctx)
		return 0;
	if (r->in_pos == r->in_len && (rc = src_read(r)))
		return rc;
	if (r->in_pos < r->in_len)
		return corrupt(r, "data after the end line");
	return 0;
}

void rv_zstream_reader_free(struct rv_zstream_reader *r)
{
	if (!r)
		return;
	if (r->h) {
		int rc = hasher_wait(r->h);

		(void)rc; /* the stream is being dropped */
		hasher_stop(r->h);
	}
	ZSTD_freeDCtx(r->dctx);
	EVP_MD_CTX_free(r->md);
	free(r->in);
	free(r->out);
	free(r);
}
