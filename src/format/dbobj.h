/* dbobj.h - database objects of store format v1 (docs/FORMAT.md, "Database
 * objects"): one zstd frame (content checksum on) holding a text header
 * line, a binary body of a length the header states, and an end line
 * "end <count> <sha256 of every byte before it>\n".  Written and read as
 * streams; nothing is held whole. */
#ifndef RV_FORMAT_DBOBJ_H
#define RV_FORMAT_DBOBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/content.h"
#include "core/err.h"
#include "core/zstream.h"
#include "format/layout.h"

struct rv_dbobj_hdr {
	enum rv_dbobj_kind kind;
	unsigned major, minor;
	char gen[RV_GEN_ID_LEN];
	uint64_t from, to; /* log: frames [from, to); snapshot: from == to == position */
	int64_t time_ms;
	uint32_t page_size;
	uint64_t count; /* log: frames; snapshot: pages */
};

/* Bytes of body the header announces. */
uint64_t rv_dbobj_body_size(const struct rv_dbobj_hdr *h);

/* Keys: format/layout.h. */

struct rv_dbobj_writer;
/* Writes compressed bytes to `fd` (from its current offset). */
int rv_dbobj_writer_new(struct rv_dbobj_writer **out, const struct rv_dbobj_hdr *h,
			int fd) RV_WARN_UNUSED;
int rv_dbobj_writer_add(struct rv_dbobj_writer *w, const void *p, size_t n) RV_WARN_UNUSED;
/* RV_EFAIL unless exactly the announced body was added. */
int rv_dbobj_writer_finish(struct rv_dbobj_writer *w) RV_WARN_UNUSED;
void rv_dbobj_writer_free(struct rv_dbobj_writer *w);

struct rv_dbobj_reader;
/* Reads the compressed object from `fd` (current offset) and parses the
 * header; `name` goes into error messages. */
int rv_dbobj_reader_new(struct rv_dbobj_reader **out, int fd, const char *name) RV_WARN_UNUSED;
/* The same, reading the compressed bytes from `src` (fd ignored) when
 * `src` is not NULL: a download still arriving (store/pfetch.h). */
int rv_dbobj_reader_new_src(struct rv_dbobj_reader **out, rv_zstream_source src, void *ud, int fd,
			    const char *name) RV_WARN_UNUSED;
const struct rv_dbobj_hdr *rv_dbobj_reader_hdr(const struct rv_dbobj_reader *r);
/* Exactly `n` body bytes; RV_ECORRUPT when the body is shorter. */
int rv_dbobj_reader_read(struct rv_dbobj_reader *r, void *p, size_t n) RV_WARN_UNUSED;
/* After the whole body: the end line, its count and SHA-256, the zstd
 * checksum and that nothing follows.  Only then is the body trusted. */
int rv_dbobj_reader_finish(struct rv_dbobj_reader *r) RV_WARN_UNUSED;
void rv_dbobj_reader_free(struct rv_dbobj_reader *r);

#endif
