/* content.c - content objects of store format v1 (docs/FORMAT.md). */
#include "format/content.h"
#include "core/mem.h"
#include "store/store.h"
#include "core/util.h"
#include "core/zstream.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* A record holds at most two escaped paths (3 bytes per byte) and numbers. */
#define LINE_MAX_BYTES (2u * 3u * RV_CPATH_MAX + 256u)

static const char *const kind_names[] = {"content-log", "content-manifest"};

/* ---- paths ---- */

static int order_key(unsigned char c)
{
	return c == '/' ? 1 : c + 2;
}

int rv_content_path_cmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;

	while (*x && *x == *y) {
		x++;
		y++;
	}
	if (*x == *y)
		return 0;
	return (*x ? order_key(*x) : 0) - (*y ? order_key(*y) : 0);
}

int rv_content_path_check(const char *p)
{
	size_t len = strlen(p);
	const char *seg = p;

	if (!len)
		return rv_error(RV_EUSAGE, "empty content path");
	if (len > RV_CPATH_MAX)
		return rv_error(RV_EUSAGE, "content path of %zu bytes is longer than %u", len,
				RV_CPATH_MAX);
	for (;;) {
		size_t n = strcspn(seg, "/");

		if (!n || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return rv_error(RV_EUSAGE,
					"content path '%s' is not relative or has an empty, '.' or "
					"'..' segment",
					p);
		if (!seg[n])
			return 0;
		seg += n + 1;
	}
}

/* Length of the valid UTF-8 sequence at `s` (NUL-terminated), 0 if none. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0; /* overlong, surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0; /* overlong, above U+10FFFF */
		return 4;
	}
	return 0;
}

int rv_content_escape(struct rv_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;
	int rc = 0;

	while (*p && !rc) {
		size_t n = (*p <= 0x20 || *p == 0x7f || *p == '%') ? 0 : utf8_len(p);

		if (n) {
			rc = rv_buf_add(out, p, n);
			p += n;
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};

			rc = rv_buf_add(out, e, 3);
			p++;
		}
	}
	return rc;
}

int rv_content_unescape(struct rv_buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n || (hi = rv_hexval(s[i + 1])) < 0 ||
			    (lo = rv_hexval(s[i + 2])) < 0)
				return rv_error(RV_ECORRUPT, "bad %%-escape in a recorded name");
			c = (unsigned char)(hi << 4 | lo);
			if (!c)
				return rv_error(RV_ECORRUPT, "a recorded name contains %%00");
			i += 2;
		} else if (c <= 0x20 || c == 0x7f) {
			return rv_error(RV_ECORRUPT, "raw control byte 0x%02x in a recorded name",
					c);
		}
		if (rv_buf_add(out, &c, 1))
			return rv_error(RV_ECORRUPT, "a recorded name is longer than %zu bytes",
					out->max);
	}
	return 0;
}

/* ---- sinks and sources ---- */

int rv_cobj_sink_fd(void *fdp, const void *p, size_t n)
{
	if (rv_write_all(*(int *)fdp, p, n))
		return rv_error_errno(RV_EFAIL, errno, "cannot write a content object");
	return 0;
}

int rv_cobj_sink_buf(void *buf, const void *p, size_t n)
{
	return rv_buf_add(buf, p, n);
}

ssize_t rv_cobj_source_fd(void *fdp, void *p, size_t n)
{
	for (;;) {
		ssize_t r = read(*(int *)fdp, p, n);

		if (r >= 0)
			return r;
		if (errno != EINTR)
			return rv_error_errno(RV_EFAIL, errno, "cannot read a content object");
	}
}

ssize_t rv_cobj_source_mem(void *mem, void *p, size_t n)
{
	struct rv_cobj_mem *m = mem;
	size_t left = m->len - m->off;

	if (n > left)
		n = left;
	memcpy(p, (const char *)m->data + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

/* ---- writer ---- */

struct rv_cobj_writer {
	enum rv_cobj_kind kind;
	struct rv_zstream_writer *zs;
	struct rv_buf line;
	struct rv_buf prev; /* manifest: the previous path */
	uint64_t count;
	int failed; /* sticky error: a writer that failed once writes nothing more */
	bool finished;
};

static int w_line(struct rv_cobj_writer *w)
{
	int rc;

	if ((rc = rv_buf_add(&w->line, "\n", 1)))
		return rc;
	rc = rv_zstream_write(w->zs, w->line.data, w->line.len);
	rv_buf_reset(&w->line);
	return rc;
}

int rv_cobj_writer_new(struct rv_cobj_writer **out, const struct rv_cobj_hdr *h, bool compress,
		       rv_cobj_sink sink, void *ud)
{
	struct rv_cobj_writer *w;
	int rc;

	*out = NULL;
	if ((rc = rv_gen_id_check(h->gen)))
		return rc;
	if (h->kind != RV_COBJ_LOG && h->kind != RV_COBJ_MANIFEST)
		return rv_error(RV_EUSAGE, "unknown content object kind %d", (int)h->kind);
	w = rv_calloc(1, sizeof(*w));
	w->kind = h->kind;
	rv_buf_init(&w->line, LINE_MAX_BYTES);
	rv_buf_init(&w->prev, RV_CPATH_MAX);
	rc = rv_zstream_writer_new(&w->zs, compress, sink, ud);
	if (!rc)
		rc = rv_buf_addf(&w->line,
				 "revenant %d.%d %s gen=%s from=%" PRIu64 " to=%" PRIu64
				 " time=%" PRId64,
				 RV_FORMAT_MAJOR, RV_FORMAT_MINOR, kind_names[h->kind], h->gen,
				 h->from, h->to, h->time_ms);
	if (!rc && h->has_db)
		rc = rv_buf_addf(&w->line, " db=%" PRIu64, h->db_pos);
	if (!rc)
		rc = w_line(w);
	if (rc) {
		rv_cobj_writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

static int w_field_name(struct rv_cobj_writer *w, const char *what, const char *s)
{
	if (rv_content_escape(&w->line, s))
		return rv_error(RV_EUSAGE, "%s is too long to record", what);
	return 0;
}

static int w_add(struct rv_cobj_writer *w, const struct rv_centry *e)
{
	char hex[RV_SHA256_HEX];
	int rc;

	if ((rc = rv_content_path_check(e->path)))
		return rc;
	if (w->kind == RV_COBJ_MANIFEST) {
		if (e->type == RV_CE_DEL)
			return rv_error(RV_EUSAGE, "a manifest cannot hold a delete ('%s')",
					e->path);
		if (w->count && rv_content_path_cmp(w->prev.data, e->path) >= 0)
			return rv_error(RV_EUSAGE, "manifest entries out of order: '%s' after '%s'",
					e->path, w->prev.data);
	}
	if ((e->type == RV_CE_FILE || e->type == RV_CE_DIR) && e->mode > 07777)
		return rv_error(RV_EUSAGE, "mode %o of '%s' has bits beyond 07777", e->mode,
				e->path);
	switch (e->type) {
	case RV_CE_FILE:
		rv_hex(hex, e->sha256, RV_SHA256_LEN);
		if (!(rc = rv_buf_addstr(&w->line, "file ")) &&
		    !(rc = w_field_name(w, "a path", e->path)))
			rc = rv_buf_addf(&w->line, " %" PRIu64 " %04o %" PRId64 " %s", e->size,
					 e->mode, e->mtime_ns, hex);
		break;
	case RV_CE_DIR:
		if (!(rc = rv_buf_addstr(&w->line, "dir ")) &&
		    !(rc = w_field_name(w, "a path", e->path)))
			rc = rv_buf_addf(&w->line, " %04o %" PRId64, e->mode, e->mtime_ns);
		break;
	case RV_CE_LINK:
		if (!e->target || !*e->target || strlen(e->target) > RV_CPATH_MAX)
			return rv_error(RV_EUSAGE, "symlink '%s' has an empty or too long target",
					e->path);
		if (!(rc = rv_buf_addstr(&w->line, "link ")) &&
		    !(rc = w_field_name(w, "a path", e->path)) &&
		    !(rc = rv_buf_addf(&w->line, " %" PRId64 " ", e->mtime_ns)))
			rc = w_field_name(w, "a symlink target", e->target);
		break;
	case RV_CE_DEL:
		if (!(rc = rv_buf_addstr(&w->line, "del ")))
			rc = w_field_name(w, "a path", e->path);
		break;
	default:
		return rv_error(RV_EUSAGE, "unknown content entry type %d", (int)e->type);
	}
	if (!rc)
		rc = w_line(w);
	if (!rc)
		w->count++;
	if (!rc && w->kind == RV_COBJ_MANIFEST) {
		rv_buf_reset(&w->prev);
		rc = rv_buf_addstr(&w->prev, e->path);
	}
	return rc;
}

int rv_cobj_writer_add(struct rv_cobj_writer *w, const struct rv_centry *e)
{
	int rc;

	if (w->failed)
		return w->failed;
	if (w->finished)
		return rv_error(RV_EUSAGE, "content object already finished");
	rv_buf_reset(&w->line);
	rc = w_add(w, e);
	rv_buf_reset(&w->line);
	/* A bad entry from the caller leaves the object intact; an I/O failure
	 * does not (part of a line may be out). */
	if (rc && rc != RV_EUSAGE)
		w->failed = rc;
	return rc;
}

int rv_cobj_writer_finish(struct rv_cobj_writer *w)
{
	unsigned char sha[RV_SHA256_LEN];
	char hex[RV_SHA256_HEX];
	int rc;

	if (w->failed)
		return w->failed;
	if (w->finished)
		return 0;
	if ((rc = rv_zstream_writer_sha256(w->zs, sha)))
		return w->failed = rc;
	rv_hex(hex, sha, sizeof(sha));
	rv_buf_reset(&w->line);
	if ((rc = rv_buf_addf(&w->line, "end %" PRIu64 " %s\n", w->count, hex)) ||
	    (rc = rv_zstream_writer_finish(w->zs, w->line.data, w->line.len)))
		return w->failed = rc;
	w->finished = true;
	return 0;
}

uint64_t rv_cobj_writer_count(const struct rv_cobj_writer *w)
{
	return w->count;
}

void rv_cobj_writer_free(struct rv_cobj_writer *w)
{
	if (!w)
		return;
	rv_zstream_writer_free(w->zs);
	rv_buf_release(&w->line);
	rv_buf_release(&w->prev);
	free(w);
}

/* ---- reader ---- */

struct rv_cobj_reader {
	char *name;
	struct rv_zstream_reader *zs;
	struct rv_cobj_hdr hdr;
	struct rv_buf line, path, target, prev;
	struct rv_centry e;
	uint64_t count, lineno;
	bool done;
	int failed;
};

static int corrupt(struct rv_cobj_reader *r, const char *what)
{
	return r->failed = rv_error(RV_ECORRUPT,
				    "content object '%s' is corrupt: %s (line %" PRIu64
				    ") — the stored copy is damaged; restore from an earlier "
				    "point or let replicate write a new manifest",
				    r->name, what, r->lineno);
}

static int zs_corrupt(void *r, const char *what)
{
	return corrupt(r, what);
}

/* One line without its '\n' into r->line; `*eof` at the clean end. */
static int read_line(struct rv_cobj_reader *r, bool hash, bool *eof)
{
	int rc = rv_zstream_read_line(r->zs, &r->line, hash, eof);

	if (rc)
		return r->failed = rc;
	if (!*eof)
		r->lineno++;
	return 0;
}

/* Split r->line at spaces in place; extra fields beyond `max` are ignored
 * (later minor versions may append fields). */
static int split(struct rv_cobj_reader *r, char **f, int max, int *nf)
{
	char *p = r->line.data;

	*nf = 0;
	if (!p || !*p)
		return corrupt(r, "empty line");
	while (*nf < max) {
		char *sp = strchr(p, ' ');

		f[(*nf)++] = p;
		if (!sp)
			break;
		*sp = '\0';
		p = sp + 1;
		if (!*p || *p == ' ')
			return corrupt(r, "empty field");
	}
	return 0;
}

static int parse_u64(struct rv_cobj_reader *r, const char *s, uint64_t *v)
{
	if (rv_parse_u64(s, v))
		return corrupt(r, "bad number");
	return 0;
}

static int parse_i64(struct rv_cobj_reader *r, const char *s, int64_t *v)
{
	if (rv_parse_i64(s, v))
		return corrupt(r, "bad number");
	return 0;
}

static int parse_mode(struct rv_cobj_reader *r, const char *s, uint32_t *mode)
{
	uint32_t m = 0;

	if (!*s || strlen(s) > 5)
		return corrupt(r, "bad mode");
	for (; *s; s++) {
		if (*s < '0' || *s > '7')
			return corrupt(r, "bad mode");
		m = m << 3 | (uint32_t)(*s - '0');
	}
	if (m > 07777)
		return corrupt(r, "bad mode");
	*mode = m;
	return 0;
}

static int parse_name(struct rv_cobj_reader *r, struct rv_buf *b, const char *s, bool is_path)
{
	rv_buf_reset(b);
	if (rv_content_unescape(b, s, strlen(s)) || !b->len)
		return corrupt(r, is_path ? "bad path" : "bad symlink target");
	if (is_path && rv_content_path_check(b->data)) {
		/* `s` is the escaped form: printable, one line. */
		char what[160];

		snprintf(what, sizeof(what), "unsafe or malformed path '%.100s%s'", s,
			 strlen(s) > 100 ? "…" : "");
		return corrupt(r, what);
	}
	return 0;
}

static int parse_header(struct rv_cobj_reader *r)
{
	char *f[16], *end;
	int nf, rc;
	bool have[4] = {false, false, false, false};
	unsigned long major, minor;

	if ((rc = split(r, f, 16, &nf)))
		return rc;
	if (nf < 3 || strcmp(f[0], "revenant"))
		return corrupt(r, "no revenant header");
	errno = 0;
	major = strtoul(f[1], &end, 10);
	if (errno || end == f[1] || *end != '.')
		return corrupt(r, "bad format version");
	minor = strtoul(end + 1, &end, 10);
	if (errno || *end)
		return corrupt(r, "bad format version");
	r->hdr.major = (unsigned)major;
	r->hdr.minor = (unsigned)minor;
	if (major != RV_FORMAT_MAJOR)
		return r->failed = rv_error(RV_ENOTSUP,
					    "object '%s' is in store format %lu.%lu; this revenant "
					    "reads format %d.x — use a revenant that knows it",
					    r->name, major, minor, RV_FORMAT_MAJOR);
	if (!strcmp(f[2], kind_names[RV_COBJ_LOG]))
		r->hdr.kind = RV_COBJ_LOG;
	else if (!strcmp(f[2], kind_names[RV_COBJ_MANIFEST]))
		r->hdr.kind = RV_COBJ_MANIFEST;
	else
		return corrupt(r, "not a content object");
	for (int i = 3; i < nf; i++) {
		char *eq = strchr(f[i], '=');

		if (!eq)
			continue;
		*eq++ = '\0';
		if (!strcmp(f[i], "gen")) {
			if (strlen(eq) != RV_GEN_ID_LEN - 1 || rv_gen_id_check(eq))
				return corrupt(r, "bad generation in the header");
			memcpy(r->hdr.gen, eq, RV_GEN_ID_LEN);
			have[0] = true;
		} else if (!strcmp(f[i], "from")) {
			if ((rc = parse_u64(r, eq, &r->hdr.from)))
				return rc;
			have[1] = true;
		} else if (!strcmp(f[i], "to")) {
			if ((rc = parse_u64(r, eq, &r->hdr.to)))
				return rc;
			have[2] = true;
		} else if (!strcmp(f[i], "time")) {
			if ((rc = parse_i64(r, eq, &r->hdr.time_ms)))
				return rc;
			have[3] = true;
		} else if (!strcmp(f[i], "db")) {
			if ((rc = parse_u64(r, eq, &r->hdr.db_pos)))
				return rc;
			r->hdr.has_db = true;
		} /* unknown keys: a later minor version's additions */
	}
	if (!have[0] || !have[1] || !have[2] || !have[3])
		return corrupt(r, "header lacks gen, from, to or time");
	return 0;
}

int rv_cobj_reader_new(struct rv_cobj_reader **out, const char *name, rv_cobj_source src, void *ud)
{
	struct rv_cobj_reader *r = rv_calloc(1, sizeof(*r));
	struct rv_zstream_reader_opts o = {
	    .allow_plain = true, .corrupt = zs_corrupt, .corrupt_ud = r};
	const unsigned char *start;
	size_t n;
	bool eof;
	int rc;

	*out = NULL;
	r->name = rv_strdup(name);
	rv_buf_init(&r->line, LINE_MAX_BYTES);
	rv_buf_init(&r->path, RV_CPATH_MAX);
	rv_buf_init(&r->target, RV_CPATH_MAX);
	rv_buf_init(&r->prev, RV_CPATH_MAX);
	if ((rc = rv_zstream_reader_new(&r->zs, src, ud, &o)))
		goto fail;
	if (rv_zstream_reader_is_plain(r->zs)) {
		if ((rc = rv_zstream_peek(r->zs, 9, &start, &n)))
			goto fail;
		if (n < 9 || memcmp(start, "revenant ", 9)) {
			rc = corrupt(r, "neither zstd nor a revenant header at the start");
			goto fail;
		}
	}
	if ((rc = read_line(r, true, &eof)))
		goto fail;
	if (eof) {
		rc = corrupt(r, "empty object");
		goto fail;
	}
	if ((rc = parse_header(r)))
		goto fail;
	*out = r;
	return 0;
fail:
	rv_cobj_reader_free(r);
	return rc;
}

const struct rv_cobj_hdr *rv_cobj_reader_hdr(const struct rv_cobj_reader *r)
{
	return &r->hdr;
}

static int check_end(struct rv_cobj_reader *r, char **f, int nf)
{
	unsigned char sha[RV_SHA256_LEN], want[RV_SHA256_LEN];
	uint64_t count;
	int rc;

	if (nf < 3 || (rc = parse_u64(r, f[1], &count)))
		return nf < 3 ? corrupt(r, "short end line") : rc;
	if (strlen(f[2]) != 2 * RV_SHA256_LEN || rv_unhex(want, sizeof(want), f[2]))
		return corrupt(r, "bad checksum in the end line");
	if ((rc = rv_zstream_reader_sha256(r->zs, sha)))
		return r->failed = rc;
	if (count != r->count)
		return corrupt(r, "record count mismatch");
	if (memcmp(sha, want, sizeof(sha)))
		return corrupt(r, "checksum mismatch");
	if ((rc = rv_zstream_reader_finish(r->zs)))
		return r->failed = rc;
	r->done = true;
	return 0;
}

int rv_cobj_reader_next(struct rv_cobj_reader *r, const struct rv_centry **out)
{
	const unsigned char *next;
	char *f[8];
	size_t n;
	int nf, rc;
	bool eof, is_end;

	*out = NULL;
	if (r->failed)
		return r->failed;
	while (!r->done) {
		/* The end line is the one line outside the checksum it carries. */
		if ((rc = rv_zstream_peek(r->zs, 4, &next, &n)))
			return r->failed = rc;
		is_end = n == 4 && !memcmp(next, "end ", 4);
		if ((rc = read_line(r, !is_end, &eof)))
			return rc;
		if (eof)
			return corrupt(r, "truncated: no end line");
		if (is_end) {
			if ((rc = split(r, f, 8, &nf)))
				return rc;
			return check_end(r, f, nf);
		}
		if ((rc = split(r, f, 8, &nf)))
			return rc;
		r->count++;
		memset(&r->e, 0, sizeof(r->e));
		if (!strcmp(f[0], "file")) {
			if (nf < 6)
				return corrupt(r, "short file record");
			r->e.type = RV_CE_FILE;
			if ((rc = parse_u64(r, f[2], &r->e.size)) ||
			    (rc = parse_mode(r, f[3], &r->e.mode)) ||
			    (rc = parse_i64(r, f[4], &r->e.mtime_ns)))
				return rc;
			if (strlen(f[5]) != 2 * RV_SHA256_LEN ||
			    rv_unhex(r->e.sha256, RV_SHA256_LEN, f[5]))
				return corrupt(r, "bad sha256");
		} else if (!strcmp(f[0], "dir")) {
			if (nf < 4)
				return corrupt(r, "short dir record");
			r->e.type = RV_CE_DIR;
			if ((rc = parse_mode(r, f[2], &r->e.mode)) ||
			    (rc = parse_i64(r, f[3], &r->e.mtime_ns)))
				return rc;
		} else if (!strcmp(f[0], "link")) {
			if (nf < 4)
				return corrupt(r, "short link record");
			r->e.type = RV_CE_LINK;
			if ((rc = parse_i64(r, f[2], &r->e.mtime_ns)) ||
			    (rc = parse_name(r, &r->target, f[3], false)))
				return rc;
			r->e.target = r->target.data;
		} else if (!strcmp(f[0], "del")) {
			if (nf < 2)
				return corrupt(r, "short del record");
			r->e.type = RV_CE_DEL;
		} else {
			continue; /* a later minor version's record type: ignorable */
		}
		if (nf < 2 || (rc = parse_name(r, &r->path, f[1], true)))
			return nf < 2 ? corrupt(r, "record without a path") : rc;
		r->e.path = r->path.data;
		if (r->hdr.kind == RV_COBJ_MANIFEST) {
			if (r->e.type == RV_CE_DEL)
				return corrupt(r, "delete record in a manifest");
			if (r->prev.len && rv_content_path_cmp(r->prev.data, r->e.path) >= 0)
				return corrupt(r, "manifest entries out of order");
			rv_buf_reset(&r->prev);
			if (rv_buf_addstr(&r->prev, r->e.path))
				return corrupt(r, "path too long");
		}
		*out = &r->e;
		return 0;
	}
	return 0;
}

void rv_cobj_reader_free(struct rv_cobj_reader *r)
{
	if (!r)
		return;
	free(r->name);
	rv_zstream_reader_free(r->zs);
	rv_buf_release(&r->line);
	rv_buf_release(&r->path);
	rv_buf_release(&r->target);
	rv_buf_release(&r->prev);
	free(r);
}

int rv_cobj_verify(const char *name, rv_cobj_source src, void *ud, uint64_t *count)
{
	struct rv_cobj_reader *r;
	const struct rv_centry *e;
	int rc;

	if ((rc = rv_cobj_reader_new(&r, name, src, ud)))
		return rc;
	do
		rc = rv_cobj_reader_next(r, &e);
	while (!rc && e);
	if (!rc && count)
		*count = r->count;
	rv_cobj_reader_free(r);
	return rc;
}

void rv_centry_copy(struct rv_centry *dst, const struct rv_centry *src)
{
	*dst = *src;
	dst->path = rv_strdup(src->path);
	dst->target = src->target ? rv_strdup(src->target) : NULL;
}

void rv_centry_release(struct rv_centry *e)
{
	free((char *)e->path);
	free((char *)e->target);
	e->path = NULL;
	e->target = NULL;
}

int rv_cobj_name_parse(const char *key, struct rv_cobj_name *out)
{
	const char *rest;

	memset(out, 0, sizeof(*out));
	if (!rv_key_gen_split(key, out->gen, &rest))
		return rv_error(RV_ECORRUPT, "'%s' is not a key under a generation", key);
	if (rv_str_startswith(rest, "content/log/") && rv_str_endswith(rest, ".log.zst"))
		out->kind = RV_COBJ_LOG;
	else if (rv_str_startswith(rest, "content/snapshot/") &&
		 rv_str_endswith(rest, ".manifest.zst"))
		out->kind = RV_COBJ_MANIFEST;
	else
		return rv_error(RV_ECORRUPT, "'%s' is not a content log or manifest key", key);
	return rv_content_key_parse(key, &out->seq, &out->time_ms);
}

int rv_cobj_read_checked(const char *key, rv_cobj_source src, void *src_ud, rv_centry_fn fn,
			 void *fn_ud, struct rv_cobj_hdr *hdr_out)
{
	struct rv_cobj_reader *r = NULL;
	struct rv_cobj_name nm;
	const struct rv_cobj_hdr *h;
	const struct rv_centry *e;
	int rc;

	if ((rc = rv_cobj_name_parse(key, &nm)))
		return rc;
	if ((rc = rv_cobj_reader_new(&r, key, src, src_ud)))
		return rc;
	while (!(rc = rv_cobj_reader_next(r, &e)) && e)
		if (fn && (rc = fn(fn_ud, e)))
			break;
	/* Read to the end line: only now is the header trusted. */
	h = rv_cobj_reader_hdr(r);
	if (!rc && (h->kind != nm.kind || strcmp(h->gen, nm.gen) || h->from != nm.seq ||
		    h->to != nm.seq || h->time_ms != nm.time_ms))
		rc = rv_error(RV_ECORRUPT,
			      "content object '%s' is corrupt: its header (gen=%s from=%" PRIu64
			      " to=%" PRIu64 " time=%" PRId64
			      ") does not match its name — the stored copy is damaged",
			      key, h->gen, h->from, h->to, h->time_ms);
	if (!rc && hdr_out)
		*hdr_out = *h;
	rv_cobj_reader_free(r);
	return rc;
}

int rv_cobj_fetch(struct rv_store *s, const char *key, int fd, rv_centry_fn fn, void *fn_ud,
		  struct rv_cobj_hdr *hdr_out)
{
	int rc = rv_store_get_fd(s, key, fd, 0, 0, NULL);

	if (!rc && lseek(fd, 0, SEEK_SET) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "cannot rewind a temporary file");
	if (!rc)
		rc = rv_cobj_read_checked(key, rv_cobj_source_fd, &fd, fn, fn_ud, hdr_out);
	if (!rc && lseek(fd, 0, SEEK_SET) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "cannot rewind a temporary file");
	return rc;
}
