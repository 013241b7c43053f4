/* dbobj.h - database objects of store format v1 (docs/FORMAT.md, "Database
 * objects"): one zstd frame (content checksum on) holding a text header
 * line, a body, and an end line "end <count> <sha256 of every byte before
 * it>\n".  Two bodies:
 *   - pages (SQLite, no engine= key): binary, of a length the header states;
 *   - records (engine=mysql, since 1.2): "<type> <len>[ <tag>]\n", <len>
 *     bytes, "\n", as many as the end line counts; the length is not known
 *     when the header is written, so a dump streams straight out.
 * Written and read as streams; nothing is held whole but one record. */
#ifndef RV_FORMAT_DBOBJ_H
#define RV_FORMAT_DBOBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/content.h"
#include "core/err.h"
#include "core/zstream.h"
#include "format/layout.h"

/* The minor version of objects with a record body (engine=mysql). */
#define RV_DBOBJ_RECORDS_MINOR 2
/* Header key=value tokens an engine adds (binlog position, …). */
#define RV_DBOBJ_META_MAX 3072
/* A record's tag (escaped: no byte <= 0x20, no 0x7f, '%' as %25). */
#define RV_DBOBJ_TAG_MAX 512
/* The longest record: a statement holding a 512 MiB value as hex. */
#define RV_DBOBJ_RECORD_MAX (1100ull << 20)

struct rv_dbobj_hdr {
	enum rv_dbobj_kind kind;
	/* "" (SQLite's pages) or "mysql" (records). */
	char engine[16];
	/* Records: the engine's own "k=v k=v" header tokens, written as given
	 * and read back as found (each token non-empty, no space or control
	 * byte). */
	char meta[RV_DBOBJ_META_MAX];
	unsigned major, minor;
	char gen[RV_GEN_ID_LEN];
	uint64_t from, to; /* log: frames [from, to); snapshot: from == to == position */
	int64_t time_ms;
	uint32_t page_size; /* pages only */
	uint64_t count;	    /* log: frames; snapshot: pages; records: counted by the writer */
};

static inline bool rv_dbobj_records(const struct rv_dbobj_hdr *h)
{
	return h->engine[0] != '\0';
}

/* Bytes of body the header announces. */
uint64_t rv_dbobj_body_size(const struct rv_dbobj_hdr *h);

/* Keys: format/layout.h. */

struct rv_dbobj_writer;
/* Writes compressed bytes to `fd` (from its current offset). */
int rv_dbobj_writer_new(struct rv_dbobj_writer **out, const struct rv_dbobj_hdr *h,
			int fd) RV_WARN_UNUSED;
int rv_dbobj_writer_add(struct rv_dbobj_writer *w, const void *p, size_t n) RV_WARN_UNUSED;
/* A record body: one record, `tag` NULL or escaped as above. */
int rv_dbobj_writer_record(struct rv_dbobj_writer *w, const char *type, const char *tag,
			   const void *p, size_t n) RV_WARN_UNUSED;
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
/* A record body: the next record into `body` (reset first), its type and
 * tag; `*end` when the records are over (then call finish). */
int rv_dbobj_reader_record(struct rv_dbobj_reader *r, char type[16], char tag[RV_DBOBJ_TAG_MAX],
			   struct rv_buf *body, bool *end) RV_WARN_UNUSED;
/* Escape `s` into a tag (cut at RV_DBOBJ_TAG_MAX - 1 bytes, never inside an
 * escape). */
void rv_dbobj_tag(char out[RV_DBOBJ_TAG_MAX], const char *prefix, const char *s);
/* After the whole body: the end line, its count and SHA-256, the zstd
 * checksum and that nothing follows.  Only then is the body trusted. */
int rv_dbobj_reader_finish(struct rv_dbobj_reader *r) RV_WARN_UNUSED;
void rv_dbobj_reader_free(struct rv_dbobj_reader *r);

#endif
