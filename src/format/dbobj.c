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

#define LINE_MAX_B (RV_DBOBJ_META_MAX + 512u)

static const char *const kind_names[] = {"db-log", "db-snapshot"};

uint64_t rv_dbobj_body_size(const struct rv_dbobj_hdr *h)
{
	if (rv_dbobj_records(h))
		return UINT64_MAX;
	if (h->kind == RV_DBOBJ_LOG)
		return h->count * (24u + (uint64_t)h->page_size);
	return h->count * (uint64_t)h->page_size;
}

/* ---- writer ---- */

struct rv_dbobj_writer {
	int fd;
	struct rv_zstream_writer *zs;
	uint64_t body_left, count;
	bool records;
};

/* Engine and meta tokens: no space, no control byte, nothing empty. */
static bool tokens_ok(const char *s, bool allow_space)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || (*p == ' ' && (!allow_space || p[1] == ' ')))
			return false;
	return !allow_space || (s[0] != ' ' && (!*s || s[strlen(s) - 1] != ' '));
}

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
	w->records = rv_dbobj_records(h);
	w->body_left = rv_dbobj_body_size(h);
	w->count = w->records ? 0 : h->count;
	if (w->records && (!tokens_ok(h->engine, false) || !tokens_ok(h->meta, true))) {
		free(w);
		return rv_error(RV_EFAIL, "database object header: bad engine or meta tokens");
	}
	if (w->records)
		n = snprintf(line, sizeof(line),
			     "revenant %d.%d %s gen=%s from=%" PRIu64 " to=%" PRIu64
			     " time=%" PRId64 " engine=%s%s%s\n",
			     RV_FORMAT_MAJOR, RV_DBOBJ_RECORDS_MINOR, kind_names[h->kind], h->gen,
			     h->from, h->to, h->time_ms, h->engine, *h->meta ? " " : "", h->meta);
	else
		n = snprintf(line, sizeof(line),
			     "revenant %d.%d %s gen=%s from=%" PRIu64 " to=%" PRIu64
			     " time=%" PRId64 " page_size=%" PRIu32 " %s=%" PRIu64 "\n",
			     RV_FORMAT_MAJOR, RV_FORMAT_MINOR, kind_names[h->kind], h->gen, h->from,
			     h->to, h->time_ms, h->page_size,
			     h->kind == RV_DBOBJ_LOG ? "frames" : "pages", h->count);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		free(w);
		return rv_error(RV_EFAIL, "database object header too long");
	}
	rc = rv_zstream_writer_new(&w->zs, true, w_sink, w);
	/* Pages are dense; speed matters more than the last percent (see
	 * rv_zstream_writer_tune).  A snapshot is compressed on its own thread
	 * while this one hashes and writes.  A MySQL snapshot's SQL text too
	 * at level 1, which was both faster and smaller than 3 on a dump
	 * (bench/README.md); a MySQL log segment's binlog events at 3. */
	if (!rc)
		rc = rv_zstream_writer_tune(w->zs,
					    w->records && h->kind != RV_DBOBJ_SNAPSHOT ? 3 : 1,
					    h->kind == RV_DBOBJ_SNAPSHOT ? 1 : 0);
	if (!rc && w->records)
		rc = rv_zstream_writer_job_size(w->zs, 1u << 20);
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
	if (w->records)
		return rv_error(RV_EFAIL, "database object: raw bytes in a record body");
	if (n > w->body_left)
		return rv_error(RV_EFAIL, "database object body longer than its header says");
	w->body_left -= n;
	return rv_zstream_write(w->zs, p, n);
}

void rv_dbobj_tag(char out[RV_DBOBJ_TAG_MAX], const char *prefix, const char *s)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t k = 0;

	for (const char *p = prefix; *p && k + 1 < RV_DBOBJ_TAG_MAX; p++)
		out[k++] = *p;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool esc = *p <= 0x20 || *p == 0x7f || *p == '%';

		if (k + (esc ? 3 : 1) >= RV_DBOBJ_TAG_MAX)
			break;
		if (esc) {
			out[k++] = '%';
			out[k++] = hx[*p >> 4];
			out[k++] = hx[*p & 15];
		} else {
			out[k++] = (char)*p;
		}
	}
	out[k] = '\0';
}

int rv_dbobj_writer_record(struct rv_dbobj_writer *w, const char *type, const char *tag,
			   const void *p, size_t n)
{
	char line[RV_DBOBJ_TAG_MAX + 64];
	int k, rc;

	if (!w->records)
		return rv_error(RV_EFAIL, "database object: a record in a page body");
	if (n > RV_DBOBJ_RECORD_MAX)
		return rv_error(RV_EFAIL,
				"database object: a record of %zu bytes is over the %llu "
				"the format allows",
				n, (unsigned long long)RV_DBOBJ_RECORD_MAX);
	k = snprintf(line, sizeof(line), "%s %zu%s%s\n", type, n, tag && *tag ? " " : "",
		     tag && *tag ? tag : "");
	if (k < 0 || (size_t)k >= sizeof(line) || !tokens_ok(type, false) || !*type ||
	    !strcmp(type, "end") || (tag && !tokens_ok(tag, false)))
		return rv_error(RV_EFAIL, "database object: bad record type or tag");
	rc = rv_zstream_write(w->zs, line, (size_t)k);
	rc = rc ? rc : rv_zstream_write(w->zs, p, n);
	rc = rc ? rc : rv_zstream_write(w->zs, "\n", 1);
	if (!rc)
		w->count++;
	return rc;
}

int rv_dbobj_writer_finish(struct rv_dbobj_writer *w)
{
	unsigned char sha[RV_SHA256_LEN];
	char hex[RV_SHA256_HEX], line[128];
	int n, rc;

	if (!w->records && w->body_left)
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
	uint64_t records; /* record bodies: read so far */
	bool at_end;	  /* record bodies: "end " seen */
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

/* "revenant <major>.<minor> <kind>": t[0..2]. */
static int parse_version_kind(struct rv_dbobj_reader *r, char **t)
{
	struct rv_dbobj_hdr *h = &r->h;
	char *dot = strchr(t[1], '.');
	uint64_t ma, mi;

	if (strcmp(t[0], "revenant") != 0)
		return corrupt(r, "no revenant header line");
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
	if (strcmp(t[2], kind_names[0]) == 0)
		h->kind = RV_DBOBJ_LOG;
	else if (strcmp(t[2], kind_names[1]) == 0)
		h->kind = RV_DBOBJ_SNAPSHOT;
	else
		return corrupt(r, "not a database object");
	return 0;
}

/* engine=: a record body, which has no page size or count (the records
 * end at the end line); an engine this reader does not know is refused. */
static int parse_engine(struct rv_dbobj_reader *r, char **t, int n, unsigned *seen)
{
	struct rv_dbobj_hdr *h = &r->h;

	for (int i = 3; i < n; i++) {
		if (strncmp(t[i], "engine=", 7))
			continue;
		if (strlen(t[i] + 7) >= sizeof(h->engine) || strcmp(t[i] + 7, "mysql"))
			return rv_error(RV_ENOTSUP,
					"object '%s' holds a database engine this revenant does "
					"not know (%s)",
					r->name, t[i]);
		memcpy(h->engine, t[i] + 7, strlen(t[i] + 7) + 1);
		*seen |= 16 | 32;
	}
	return 0;
}

/* An engine's own key, kept for it in order in h->meta. */
static int add_meta(struct rv_dbobj_reader *r, const char *tok, size_t *ml)
{
	struct rv_dbobj_hdr *h = &r->h;
	size_t tl = strlen(tok);

	if (*ml + tl + 2 > sizeof(h->meta))
		return corrupt(r, "header too long");
	if (*ml)
		h->meta[(*ml)++] = ' ';
	memcpy(h->meta + *ml, tok, tl + 1);
	*ml += tl;
	return 0;
}

static int parse_header(struct rv_dbobj_reader *r, char *line)
{
	char *save = NULL, *t[64];
	int n = 0, rc;
	size_t ml = 0;
	uint64_t v;
	unsigned seen = 0;
	struct rv_dbobj_hdr *h = &r->h;

	for (char *p = strtok_r(line, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
		if (n == 64)
			return corrupt(r, "header has too many keys");
		t[n++] = p;
	}
	if (n < 3)
		return corrupt(r, "no revenant header line");
	if ((rc = parse_version_kind(r, t)) || (rc = parse_engine(r, t, n, &seen)))
		return rc;
	for (int i = 3; i < n; i++) {
		if (!strncmp(t[i], "engine=", 7))
			continue;
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
		} else if (*h->engine) {
			if ((rc = add_meta(r, t[i], &ml)))
				return rc;
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
	if (*h->engine && h->kind == RV_DBOBJ_SNAPSHOT && h->from != h->to)
		return corrupt(r, "snapshot position range is not one position");
	if (!*h->engine && h->kind == RV_DBOBJ_LOG && h->to - h->from != h->count)
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

int rv_dbobj_reader_record(struct rv_dbobj_reader *r, char type[16], char tag[RV_DBOBJ_TAG_MAX],
			   struct rv_buf *body, bool *end)
{
	const unsigned char *pk;
	size_t got, tl;
	uint64_t len;
	char *sp, *sp2;
	int rc;

	*end = false;
	rv_buf_reset(body);
	if (!rv_dbobj_records(&r->h))
		return corrupt(r, "records asked of a page body");
	if (r->at_end) {
		*end = true;
		return 0;
	}
	if ((rc = rv_zstream_peek(r->zs, 4, &pk, &got)))
		return rc;
	if (got == 4 && !memcmp(pk, "end ", 4)) {
		r->at_end = *end = true;
		return 0;
	}
	if ((rc = r_line(r, true)))
		return rc;
	sp = strchr(r->line.data, ' ');
	if (!sp || (size_t)(sp - r->line.data) >= 16 || sp == r->line.data)
		return corrupt(r, "bad record line");
	memcpy(type, r->line.data, (size_t)(sp - r->line.data));
	type[sp - r->line.data] = '\0';
	sp2 = strchr(sp + 1, ' ');
	if (sp2)
		*sp2 = '\0';
	if (rv_parse_u64(sp + 1, &len) || len > RV_DBOBJ_RECORD_MAX)
		return corrupt(r, "bad record length");
	tl = sp2 ? strlen(sp2 + 1) : 0;
	if (tl >= RV_DBOBJ_TAG_MAX || (sp2 && (!tl || strchr(sp2 + 1, ' '))))
		return corrupt(r, "bad record tag");
	memcpy(tag, sp2 ? sp2 + 1 : "", tl + 1);
	if (len > body->max)
		return corrupt(r, "record longer than this reader accepts");
	/* Room for the bytes and the '\n' after them, read in one go. */
	rv_buf_reset(body);
	{
		char chunk[65536];
		uint64_t left = len + 1;

		while (left) {
			size_t k = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);

			if ((rc = rv_zstream_read(r->zs, chunk, k)))
				return rc;
			left -= k;
			if (!left) {
				if (chunk[k - 1] != '\n')
					return corrupt(r, "record not ended by a newline");
				k--;
			}
			if (k && (rc = rv_buf_add(body, chunk, k)))
				return corrupt(r, "record longer than this reader accepts");
		}
	}
	r->records++;
	return 0;
}

int rv_dbobj_reader_read(struct rv_dbobj_reader *r, void *p, size_t n)
{
	if (rv_dbobj_records(&r->h))
		return corrupt(r, "raw read of a record body");
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

	if (rv_dbobj_records(&r->h)) {
		if (!r->at_end)
			return corrupt(r, "records not fully read");
		r->h.count = r->records;
	} else if (r->body_left) {
		return corrupt(r, "body not fully read");
	}
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
