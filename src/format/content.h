/* content.h - store format v1, content half (docs/FORMAT.md is the spec):
 * path escaping and order, and the streaming writer/reader of content logs
 * and manifests.  Keys and generation IDs: format/layout.h.
 *
 * A content object is one zstd frame (or, for debugging, plain text) of
 * lines: a header line, records, and an "end" line carrying the record
 * count and the SHA-256 of every byte before it.  The reader verifies both
 * and stops with RV_ECORRUPT naming the object on any damage. */
#ifndef RV_FORMAT_CONTENT_H
#define RV_FORMAT_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/util.h"
#include "format/layout.h"

/* Longest relative path recorded (Linux PATH_MAX) and symlink target. */
#define RV_CPATH_MAX 4096

/* The order of manifests and of the scanner: segment by segment, bytewise,
 * so a folder comes right before its contents ("a", "a/b", "a.txt"). */
int rv_content_path_cmp(const char *a, const char *b);
/* RV_EUSAGE unless `p` is a relative path without empty, "." or ".."
 * segments, at most RV_CPATH_MAX bytes: what may be written and restored. */
int rv_content_path_check(const char *p) RV_WARN_UNUSED;
/* %XX for bytes <= 0x20, 0x7f, '%' and bytes outside valid UTF-8; text
 * (Unicode included) stays readable. */
int rv_content_escape(struct rv_buf *out, const char *s) RV_WARN_UNUSED;
/* The inverse; RV_ECORRUPT on a bad escape, a raw control byte or %00. */
int rv_content_unescape(struct rv_buf *out, const char *s, size_t n) RV_WARN_UNUSED;

enum rv_cobj_kind { RV_COBJ_LOG, RV_COBJ_MANIFEST };

struct rv_cobj_hdr {
	enum rv_cobj_kind kind;
	unsigned major, minor; /* the reader fills these; the writer writes RV_FORMAT_* */
	char gen[RV_GEN_ID_LEN];
	uint64_t from, to; /* log: the commit's sequence (from == to); manifest: state at `to` */
	int64_t time_ms;   /* commit (log) or cut (manifest) time, Unix ms */
	/* Format 1.1: the recovery point.  The database position (frames,
	 * docs/FORMAT.md "Database objects") of the same generation that goes
	 * with this content state; every segment up to it was in the store
	 * before this object was written. */
	bool has_db;
	uint64_t db_pos;
};

enum rv_centry_type { RV_CE_FILE, RV_CE_DIR, RV_CE_LINK, RV_CE_DEL };

struct rv_centry {
	enum rv_centry_type type;
	const char *path;		     /* relative, decoded */
	uint64_t size;			     /* file */
	uint32_t mode;			     /* file, dir: permission bits (07777) */
	int64_t mtime_ns;		     /* file, dir, link */
	unsigned char sha256[RV_SHA256_LEN]; /* file */
	const char *target;		     /* link: the symlink's text, decoded */
};

/* A copy of `e` with owned strings; free with rv_centry_release. */
void rv_centry_copy(struct rv_centry *dst, const struct rv_centry *src);
void rv_centry_release(struct rv_centry *e);

/* Where a writer's bytes go: 0 or a negative RV_E*. */
typedef int (*rv_cobj_sink)(void *ud, const void *p, size_t n);
/* Where a reader's bytes come from: bytes read, 0 at the end, or RV_E*. */
typedef ssize_t (*rv_cobj_source)(void *ud, void *p, size_t n);

int rv_cobj_sink_fd(void *fdp, const void *p, size_t n);  /* ud: int * */
int rv_cobj_sink_buf(void *buf, const void *p, size_t n); /* ud: struct rv_buf * */
ssize_t rv_cobj_source_fd(void *fdp, void *p, size_t n);  /* ud: int * */
struct rv_cobj_mem {
	const void *data;
	size_t len, off;
};
ssize_t rv_cobj_source_mem(void *mem, void *p, size_t n); /* ud: struct rv_cobj_mem * */

struct rv_cobj_writer;
/* `compress` false writes plain text (tests, debugging). */
int rv_cobj_writer_new(struct rv_cobj_writer **out, const struct rv_cobj_hdr *h, bool compress,
		       rv_cobj_sink sink, void *ud) RV_WARN_UNUSED;
/* Manifests take file, dir and link entries in rv_content_path_cmp order,
 * each path once; logs take any type in the order they happened. */
int rv_cobj_writer_add(struct rv_cobj_writer *w, const struct rv_centry *e) RV_WARN_UNUSED;
/* Writes the end line and flushes; the object is complete after this. */
int rv_cobj_writer_finish(struct rv_cobj_writer *w) RV_WARN_UNUSED;
uint64_t rv_cobj_writer_count(const struct rv_cobj_writer *w);
void rv_cobj_writer_free(struct rv_cobj_writer *w);

struct rv_cobj_reader;
/* Reads and checks the header; `name` (the key) goes into error messages.
 * RV_ENOTSUP when the object's major version is not RV_FORMAT_MAJOR. */
int rv_cobj_reader_new(struct rv_cobj_reader **out, const char *name, rv_cobj_source src,
		       void *ud) RV_WARN_UNUSED;
const struct rv_cobj_hdr *rv_cobj_reader_hdr(const struct rv_cobj_reader *r);
/* Next entry (borrowed until the next call) or NULL once the end line has
 * been verified.  Entries handed out before a later RV_ECORRUPT must not be
 * trusted: callers that act irreversibly read the object twice (verify
 * first), e.g. from a downloaded temporary file. */
int rv_cobj_reader_next(struct rv_cobj_reader *r, const struct rv_centry **out) RV_WARN_UNUSED;
void rv_cobj_reader_free(struct rv_cobj_reader *r);
/* Read a whole object just to verify it; `*count` gets the record count. */
int rv_cobj_verify(const char *name, rv_cobj_source src, void *ud, uint64_t *count) RV_WARN_UNUSED;

/* ---- reading a stored object: the one check every reader makes ---- */

/* What a content object's key says it is:
 * generations/<gen>/content/log/<seq>-<ms>.log.zst or
 * .../content/snapshot/<seq>-<ms>.manifest.zst.  RV_ECORRUPT otherwise. */
struct rv_cobj_name {
	enum rv_cobj_kind kind;
	char gen[RV_GEN_ID_LEN];
	uint64_t seq;
	int64_t time_ms;
};
int rv_cobj_name_parse(const char *key, struct rv_cobj_name *out) RV_WARN_UNUSED;

typedef int (*rv_centry_fn)(void *ud, const struct rv_centry *e);

/* Read the object `key` through from `src`: every record to `fn` (may be
 * NULL; what it saw must not be acted on before this returns 0), the end
 * line, and the header against the key's name (kind, generation, from =
 * to = seq, time): RV_ECORRUPT naming the key on any difference or damage.
 * `hdr_out` (may be NULL) gets the header. */
int rv_cobj_read_checked(const char *key, rv_cobj_source src, void *src_ud, rv_centry_fn fn,
			 void *fn_ud, struct rv_cobj_hdr *hdr_out) RV_WARN_UNUSED;

struct rv_store;
/* Download `key` into `fd` (a fresh temporary file at offset 0) and read it
 * through as rv_cobj_read_checked does; `fd` is left at offset 0.
 * RV_ENOTFOUND when the object is not in the store. */
int rv_cobj_fetch(struct rv_store *s, const char *key, int fd, rv_centry_fn fn, void *fn_ud,
		  struct rv_cobj_hdr *hdr_out) RV_WARN_UNUSED;

#endif
