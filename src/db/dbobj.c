/* dbobj.c - database log segments and snapshots (see dbobj.h). */
#include "db/dbobj.h"
#include "core/mem.h"
#include "core/util.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define IO_CHUNK   (64u << 10)
#define LINE_MAX_B 512u
#define ZSTD_LEVEL 3

static const char *const kind_names[] = {"db-log", "db-snapshot"};

uint64_t rv_dbobj_body_size(const struct rv_dbobj_hdr *h)
{
	if (h->kind == RV_DBOBJ_LOG)
		return h->count * (24u + (uint64_t)h->page_size);
	return h->count * (uint64_t)h->page_size;
}

char *rv_dbobj_log_prefix(const char *gen)
{
	return rv_asprintf("generations/%s/db/log/", gen);
}

char *rv_dbobj_snapshot_prefix(const char *gen)
{
	return rv_asprintf("generations/%s/db/snapshot/", gen);
}

char *rv_dbobj_log_key(const char *gen, uint64_t from, uint64_t to, int64_t ms)
{
	return rv_asprintf("generations/%s/db/log/%016" PRIx64 "-%016" PRIx64 "-%016" PRIx64
			   ".wal.zst",
			   gen, from, to, (uint64_t)ms);
}

char *rv_dbobj_snapshot_key(const char *gen, uint64_t pos, int64_t ms)
{
	return rv_asprintf("generations/%s/db/snapshot/%016" PRIx64 "-%016" PRIx64 ".db.zst", gen,
			   pos, (uint64_t)ms);
}

static bool hex16(const char *s, uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < 16; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			*v = *v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v = *v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return false;
	}
	return true;
}

int rv_dbobj_key_parse(const char *key, enum rv_dbobj_kind kind, uint64_t *from, uint64_t *to,
		       int64_t *ms)
{
	const char *b = strrchr(key, '/');
	uint64_t t;
	bool ok;

	b = b ? b + 1 : key;
	if (kind == RV_DBOBJ_LOG)
		ok = strlen(b) == 58 && hex16(b, from) && b[16] == '-' && hex16(b + 17, to) &&
		     b[33] == '-' && hex16(b + 34, &t) && strcmp(b + 50, ".wal.zst") == 0 &&
		     *to > *from;
	else
		ok = strlen(b) == 40 && hex16(b, from) && b[16] == '-' && hex16(b + 17, &t) &&
		     strcmp(b + 33, ".db.zst") == 0;
	if (!ok)
		return rv_error(RV_ECORRUPT,
				"object key '%s' is not a database %s name — a foreign object "
				"inside a generation folder",
				key, kind == RV_DBOBJ_LOG ? "log" : "snapshot");
	if (kind == RV_DBOBJ_SNAPSHOT)
		*to = *from;
	*ms = (int64_t)t;
	return 0;
}

/* ---- writer ---- */

struct rv_dbobj_writer {
	int fd;
	ZSTD_CCtx *cctx;
	EVP_MD_CTX *md;
	uint64_t body_left, count;
	unsigned char ob[IO_CHUNK];
};

static int w_feed(struct rv_dbobj_writer *w, const void *p, size_t n, bool end)
{
	ZSTD_inBuffer in = {p, n, 0};

	for (;;) {
		ZSTD_outBuffer out = {w->ob, sizeof(w->ob), 0};
		size_t left =
		    ZSTD_compressStream2(w->cctx, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);

		if (ZSTD_isError(left))
			return rv_error(RV_EFAIL, "zstd compression failed: %s",
					ZSTD_getErrorName(left));
		if (out.pos && rv_write_all(w->fd, w->ob, out.pos) != 0)
			return rv_error_errno(RV_EFAIL, errno, "write database object spool");
		if (end ? left == 0 : in.pos == in.size)
			return 0;
	}
}

static int w_text(struct rv_dbobj_writer *w, const void *p, size_t n)
{
	EVP_DigestUpdate(w->md, p, n);
	return w_feed(w, p, n, false);
}

int rv_dbobj_writer_new(struct rv_dbobj_writer **out, const struct rv_dbobj_hdr *h, int fd)
{
	struct rv_dbobj_writer *w = rv_calloc(1, sizeof(*w));
	char line[LINE_MAX_B];
	int n, rc;

	*out = NULL;
	w->fd = fd;
	w->cctx = ZSTD_createCCtx();
	w->md = EVP_MD_CTX_new();
	if (!w->cctx || !w->md || !EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1))) {
		rv_dbobj_writer_free(w);
		return rv_error(RV_EFAIL, "cannot set up zstd/sha256 for a database object");
	}
	w->body_left = rv_dbobj_body_size(h);
	w->count = h->count;
	n = snprintf(line, sizeof(line),
		     "revenant %d.%d %s gen=%s from=%" PRIu64 " to=%" PRIu64 " time=%" PRId64
		     " page_size=%" PRIu32 " %s=%" PRIu64 "\n",
		     RV_FORMAT_MAJOR, RV_FORMAT_MINOR, kind_names[h->kind], h->gen, h->from, h->to,
		     h->time_ms, h->page_size, h->kind == RV_DBOBJ_LOG ? "frames" : "pages",
		     h->count);
	rc = w_text(w, line, (size_t)n);
	if (rc) {
		rv_dbobj_writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

int rv_dbobj_writer_add(struct rv_dbobj_writer *w, const void *p, size_t n)
{
	if (n > w->body_left)
		return rv_error(RV_EFAIL, "database object body longer than its header says");
	w->body_left -= n;
	return w_text(w, p, n);
}

int rv_dbobj_writer_finish(struct rv_dbobj_writer *w)
{
	unsigned char sha[RV_SHA256_LEN];
	char hex[RV_SHA256_HEX], line[128];
	int n;

	if (w->body_left)
		return rv_error(RV_EFAIL, "database object body shorter than its header says");
	EVP_DigestFinal_ex(w->md, sha, NULL);
	rv_hex(hex, sha, sizeof(sha));
	n = snprintf(line, sizeof(line), "end %" PRIu64 " %s\n", w->count, hex);
	return w_feed(w, line, (size_t)n, false) ?: w_feed(w, NULL, 0, true);
}

void rv_dbobj_writer_free(struct rv_dbobj_writer *w)
{
	if (!w)
		return;
	ZSTD_freeCCtx(w->cctx);
	EVP_MD_CTX_free(w->md);
	free(w);
}

/* ---- reader ---- */

struct rv_dbobj_reader {
	int fd;
	char *name;
	ZSTD_DCtx *dctx;
	EVP_MD_CTX *md;
	struct rv_dbobj_hdr h;
	uint64_t body_left;
	size_t frame_left; /* zstd's hint: 0 once a whole frame was decoded */
	bool in_eof;
	unsigned char in[IO_CHUNK];
	size_t in_len, in_pos;
	unsigned char out[IO_CHUNK];
	size_t out_len, out_pos;
};

static int corrupt(struct rv_dbobj_reader *r, const char *what)
{
	return rv_error(RV_ECORRUPT, "database object '%s' is corrupt: %s", r->name, what);
}

/* Refill r->out; 0 with out_len == 0 means the compressed input ended. */
static int r_fill(struct rv_dbobj_reader *r)
{
	r->out_len = r->out_pos = 0;
	while (r->out_len == 0) {
		ZSTD_inBuffer ib;
		ZSTD_outBuffer ob = {r->out, sizeof(r->out), 0};

		if (r->in_pos == r->in_len && !r->in_eof) {
			ssize_t n = read(r->fd, r->in, sizeof(r->in));

			if (n == -1) {
				if (errno == EINTR)
					continue;
				return rv_error_errno(RV_EFAIL, errno, "read '%s'", r->name);
			}
			r->in_len = (size_t)n;
			r->in_pos = 0;
			r->in_eof = n == 0;
		}
		if (r->in_pos == r->in_len && r->in_eof)
			return 0;
		ib = (ZSTD_inBuffer){r->in, r->in_len, r->in_pos};
		r->frame_left = ZSTD_decompressStream(r->dctx, &ob, &ib);
		r->in_pos = ib.pos;
		if (ZSTD_isError(r->frame_left))
			return corrupt(r, ZSTD_getErrorName(r->frame_left));
		r->out_len = ob.pos;
		if (r->frame_left == 0 && ob.pos == 0 && ib.pos == ib.size && r->in_eof)
			return 0;
	}
	return 0;
}

static int r_get(struct rv_dbobj_reader *r, void *p, size_t n, bool hash)
{
	unsigned char *d = p;

	while (n) {
		size_t k;
		int rc;

		if (r->out_pos == r->out_len) {
			rc = r_fill(r);
			if (rc)
				return rc;
			if (r->out_len == 0)
				return corrupt(r, "truncated");
		}
		k = r->out_len - r->out_pos;
		if (k > n)
			k = n;
		memcpy(d, r->out + r->out_pos, k);
		if (hash)
			EVP_DigestUpdate(r->md, d, k);
		r->out_pos += k;
		d += k;
		n -= k;
	}
	return 0;
}

static int r_line(struct rv_dbobj_reader *r, char *line, size_t cap, bool hash)
{
	for (size_t i = 0; i + 1 < cap; i++) {
		int rc = r_get(r, line + i, 1, hash);

		if (rc)
			return rc;
		if (line[i] == '\n') {
			line[i] = '\0';
			return 0;
		}
	}
	return corrupt(r, "line too long");
}

static int kv_u64(const char *tok, const char *key, uint64_t *v)
{
	size_t kl = strlen(key);

	if (strncmp(tok, key, kl) != 0 || tok[kl] != '=')
		return -1;
	return rv_parse_u64(tok + kl + 1, v) == 0 ? 0 : -1;
}

static int parse_header(struct rv_dbobj_reader *r, char *line)
{
	char *save = NULL, *t[12];
	int n = 0;
	uint64_t v;
	struct rv_dbobj_hdr *h = &r->h;

	for (char *p = strtok_r(line, " ", &save); p && n < 12; p = strtok_r(NULL, " ", &save))
		t[n++] = p;
	if (n < 3 || strcmp(t[0], "revenant") != 0)
		return corrupt(r, "no revenant header line");
	{
		char *dot = strchr(t[1], '.');
		uint64_t ma, mi;

		if (!dot)
			return corrupt(r, "bad format version");
		*dot = '\0';
		if (rv_parse_u64(t[1], &ma) || rv_parse_u64(dot + 1, &mi))
			return corrupt(r, "bad format version");
		if (ma != RV_FORMAT_MAJOR)
			return rv_error(RV_ENOTSUP,
					"object '%s' is in store format %" PRIu64 ".%" PRIu64
					"; this revenant reads format %d.x",
					r->name, ma, mi, RV_FORMAT_MAJOR);
		h->major = (unsigned)ma;
		h->minor = (unsigned)mi;
	}
	if (strcmp(t[2], kind_names[0]) == 0)
		h->kind = RV_DBOBJ_LOG;
	else if (strcmp(t[2], kind_names[1]) == 0)
		h->kind = RV_DBOBJ_SNAPSHOT;
	else
		return corrupt(r, "not a database object");
	unsigned seen = 0;
	for (int i = 3; i < n; i++) {
		if (strncmp(t[i], "gen=", 4) == 0 && rv_gen_id_check(t[i] + 4) == 0) {
			memcpy(h->gen, t[i] + 4, RV_GEN_ID_LEN);
			seen |= 1;
		} else if (kv_u64(t[i], "from", &h->from) == 0) {
			seen |= 2;
		} else if (kv_u64(t[i], "to", &h->to) == 0) {
			seen |= 4;
		} else if (kv_u64(t[i], "time", &v) == 0 && v <= INT64_MAX) {
			h->time_ms = (int64_t)v;
			seen |= 8;
		} else if (kv_u64(t[i], "page_size", &v) == 0 && v >= 512 && v <= 65536 &&
			   !(v & (v - 1))) {
			h->page_size = (uint32_t)v;
			seen |= 16;
		} else if (kv_u64(t[i], h->kind == RV_DBOBJ_LOG ? "frames" : "pages", &v) == 0 &&
			   v < (1ull << 40)) {
			h->count = v;
			seen |= 32;
		}
		/* Unknown keys are a newer minor version's: ignored. */
	}
	if (seen != 63)
		return corrupt(r, "header misses a key");
	if (h->kind == RV_DBOBJ_LOG && h->to - h->from != h->count)
		return corrupt(r, "frame count does not match the position range");
	r->body_left = rv_dbobj_body_size(h);
	return 0;
}

int rv_dbobj_reader_new(struct rv_dbobj_reader **out, int fd, const char *name)
{
	struct rv_dbobj_reader *r = rv_calloc(1, sizeof(*r));
	char line[LINE_MAX_B];
	int rc;

	*out = NULL;
	r->fd = fd;
	r->name = rv_strdup(name);
	r->dctx = ZSTD_createDCtx();
	r->md = EVP_MD_CTX_new();
	if (!r->dctx || !r->md || !EVP_DigestInit_ex(r->md, EVP_sha256(), NULL)) {
		rv_dbobj_reader_free(r);
		return rv_error(RV_EFAIL, "cannot set up zstd/sha256 to read '%s'", name);
	}
	rc = r_line(r, line, sizeof(line), true);
	if (!rc)
		rc = parse_header(r, line);
	if (rc) {
		rv_dbobj_reader_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

const struct rv_dbobj_hdr *rv_dbobj_reader_hdr(const struct rv_dbobj_reader *r)
{
	return &r->h;
}

int rv_dbobj_reader_read(struct rv_dbobj_reader *r, void *p, size_t n)
{
	if (n > r->body_left)
		return corrupt(r, "read past the announced body");
	r->body_left -= n;
	return r_get(r, p, n, true);
}

int rv_dbobj_reader_finish(struct rv_dbobj_reader *r)
{
	char line[LINE_MAX_B], hex[RV_SHA256_HEX], want[160];
	unsigned char sha[RV_SHA256_LEN];
	int rc;

	if (r->body_left)
		return corrupt(r, "body not fully read");
	rc = r_line(r, line, sizeof(line), false);
	if (rc)
		return rc;
	EVP_DigestFinal_ex(r->md, sha, NULL);
	rv_hex(hex, sha, sizeof(sha));
	snprintf(want, sizeof(want), "end %" PRIu64 " %s", r->h.count, hex);
	if (strcmp(line, want) != 0)
		return corrupt(r, "end line count or sha256 does not match");
	if (r->out_pos != r->out_len)
		return corrupt(r, "bytes after the end line");
	rc = r_fill(r);
	if (rc)
		return rc;
	if (r->out_len || r->frame_left != 0)
		return corrupt(r, r->out_len ? "bytes after the end line" : "truncated zstd frame");
	return 0;
}

void rv_dbobj_reader_free(struct rv_dbobj_reader *r)
{
	if (!r)
		return;
	ZSTD_freeDCtx(r->dctx);
	EVP_MD_CTX_free(r->md);
	free(r->name);
	free(r);
}
