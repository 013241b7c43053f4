/* dbobj.c - database log segments and snapshots (see dbobj.h). */
#include "format/dbobj.h"
#include "core/mem.h"
#include "core/util.h"
#include "core/zstream.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_B 512u

static const char *const kind_names[] = {"db-log", "db-snapshot"};

uint64_t rv_dbobj_body_size(const struct rv_dbobj_hdr *h)
{
	if (h->kind == RV_DBOBJ_LOG)
		return h->count * (24u + (uint64_t)h->page_size);
	return h->count * (uint64_t)h->page_size;
}

/* ---- writer ---- */

struct rv_dbobj_writer {
	int fd;
	struct rv_zstream_writer *zs;
	uint64_t body_left, count;
};

static int w_sink(void *w, const void *p, size_t n)
{
	if (rv_write_all(((struct rv_dbobj_writer *)w)->fd, p, n) != 0)
		return rv_error_errno(RV_EFAIL, errno, "write database object spool");
	return 0;
}

int rv_dbobj_writer_new(struct rv_dbobj_writer **out, const struct rv_dbobj_hdr *h, int fd)
{
	struct rv_dbobj_writer *w = rv_calloc(1, sizeof(*w));
	char line[LINE_MAX_B];
	int n, rc;

	*out = NULL;
	w->fd = fd;
	w->body_left = rv_dbobj_body_size(h);
	w->count = h->count;
	n = snprintf(line, sizeof(line),
		     "revenant %d.%d %s gen=%s from=%" PRIu64 " to=%" PRIu64 " time=%" PRId64
		     " page_size=%" PRIu32 " %s=%" PRIu64 "\n",
		     RV_FORMAT_MAJOR, RV_FORMAT_MINOR, kind_names[h->kind], h->gen, h->from, h->to,
		     h->time_ms, h->page_size, h->kind == RV_DBOBJ_LOG ? "frames" : "pages",
		     h->count);
	rc = rv_zstream_writer_new(&w->zs, true, w_sink, w);
	/* Pages are dense; speed matters more than the last percent (see
	 * rv_zstream_writer_tune).  A snapshot is compressed on its own thread
	 * while this one hashes and writes. */
	if (!rc)
		rc = rv_zstream_writer_tune(w->zs, 1, h->kind == RV_DBOBJ_SNAPSHOT ? 1 : 0);
	if (!rc)
		rc = rv_zstream_write(w->zs, line, (size_t)n);
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
	return rv_zstream_write(w->zs, p, n);
}

int rv_dbobj_writer_finish(struct rv_dbobj_writer *w)
{
	unsigned char sha[RV_SHA256_LEN];
	char hex[RV_SHA256_HEX], line[128];
	int n, rc;

	if (w->body_left)
		return rv_error(RV_EFAIL, "database object body shorter than its header says");
	if ((rc = rv_zstream_writer_sha256(w->zs, sha)))
		return rc;
	rv_hex(hex, sha, sizeof(sha));
	n = snprintf(line, sizeof(line), "end %" PRIu64 " %s\n", w->count, hex);
	return rv_zstream_writer_finish(w->zs, line, (size_t)n);
}

void rv_dbobj_writer_free(struct rv_dbobj_writer *w)
{
	if (!w)
		return;
	rv_zstream_writer_free(w->zs);
	free(w);
}

/* ---- reader ---- */

struct rv_dbobj_reader {
	int fd;
	rv_zstream_source src; /* or read(fd) when NULL */
	void *src_ud;
	char *name;
	struct rv_zstream_reader *zs;
	struct rv_buf line;
	struct rv_dbobj_hdr h;
	uint64_t body_left;
};

static int corrupt(struct rv_dbobj_reader *r, const char *what)
{
	return rv_error(RV_ECORRUPT, "database object '%s' is corrupt: %s", r->name, what);
}

static int zs_corrupt(void *r, const char *what)
{
	return corrupt(r, what);
}

static ssize_t r_source(void *ud, void *p, size_t n)
{
	struct rv_dbobj_reader *r = ud;

	if (r->src)
		return r->src(r->src_ud, p, n);
	for (;;) {
		ssize_t got = read(r->fd, p, n);

		if (got != -1)
			return got;
		if (errno != EINTR)
			return rv_error_errno(RV_EFAIL, errno, "read '%s'", r->name);
	}
}

/* A text line into r->line; the end of the data is "truncated". */
static int r_line(struct rv_dbobj_reader *r, bool hash)
{
	bool eof;
	int rc = rv_zstream_read_line(r->zs, &r->line, hash, &eof);

	if (!rc && eof)
		return corrupt(r, "truncated");
	return rc;
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
	return rv_dbobj_reader_new_src(out, NULL, NULL, fd, name);
}

int rv_dbobj_reader_new_src(struct rv_dbobj_reader **out, rv_zstream_source src, void *ud, int fd,
			    const char *name)
{
	struct rv_dbobj_reader *r = rv_calloc(1, sizeof(*r));
	struct rv_zstream_reader_opts o = {
	    .corrupt = zs_corrupt, .corrupt_ud = r, .hash_thread = true};
	int rc;

	*out = NULL;
	r->fd = fd;
	r->src = src;
	r->src_ud = ud;
	r->name = rv_strdup(name);
	/* A line and its '\n' fit LINE_MAX_B with room for a NUL. */
	rv_buf_init(&r->line, LINE_MAX_B - 2);
	rc = rv_zstream_reader_new(&r->zs, r_source, r, &o);
	if (!rc)
		rc = r_line(r, true);
	if (!rc)
		rc = parse_header(r, r->line.data);
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
	return rv_zstream_read(r->zs, p, n);
}

int rv_dbobj_reader_finish(struct rv_dbobj_reader *r)
{
	char hex[RV_SHA256_HEX], want[160];
	unsigned char sha[RV_SHA256_LEN];
	int rc;

	if (r->body_left)
		return corrupt(r, "body not fully read");
	if ((rc = r_line(r, false)) || (rc = rv_zstream_reader_sha256(r->zs, sha)))
		return rc;
	rv_hex(hex, sha, sizeof(sha));
	snprintf(want, sizeof(want), "end %" PRIu64 " %s", r->h.count, hex);
	if (strcmp(r->line.data, want) != 0)
		return corrupt(r, "end line count or sha256 does not match");
	return rv_zstream_reader_finish(r->zs);
}

void rv_dbobj_reader_free(struct rv_dbobj_reader *r)
{
	if (!r)
		return;
	rv_zstream_reader_free(r->zs);
	rv_buf_release(&r->line);
	free(r->name);
	free(r);
}
