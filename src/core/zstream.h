/* zstream.h - hashed zstd streams: the byte layer under every store object
 * (docs/FORMAT.md).  A writer hashes each byte it is given with SHA-256 and
 * compresses it into one zstd frame with the content checksum on; the
 * object's own trailer (its end line, which carries that hash) is written
 * unhashed at the end.  A reader decompresses one frame (or, when allowed,
 * plain bytes), hashes what it hands out, and at the end checks that the
 * frame and its checksum are complete and that nothing follows it.
 *
 * Memory is bounded: fixed 64 KiB input and output buffers, lines into the
 * caller's capped rv_buf, and zstd's default decoder window limit (2^27). */
#ifndef RV_CORE_ZSTREAM_H
#define RV_CORE_ZSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/util.h"

/* Where a writer's bytes go: 0 or a negative RV_E* (with its message). */
typedef int (*rv_zstream_sink)(void *ud, const void *p, size_t n);
/* Where a reader's bytes come from: bytes read, 0 at the end, or RV_E*. */
typedef ssize_t (*rv_zstream_source)(void *ud, void *p, size_t n);

struct rv_zstream_writer;
/* `compress` false passes the bytes through as they are (plain text for
 * tests and debugging); they are hashed all the same. */
int rv_zstream_writer_new(struct rv_zstream_writer **out, bool compress, rv_zstream_sink sink,
			  void *ud) RV_WARN_UNUSED;
/* Before the first write: zstd level (default 3) and worker threads (0:
 * compress on the caller's thread; n: zstd compresses on n threads while
 * the caller hashes and writes).  Database snapshots are large and already
 * dense: level 1 on one worker is about three times faster than level 3
 * inline for a few percent more bytes.  Workers are ignored when the zstd
 * library has no thread support. */
int rv_zstream_writer_tune(struct rv_zstream_writer *w, int level, int workers) RV_WARN_UNUSED;
/* With workers: the input each of them takes at a time (zstd's default is
 * several MiB at level 3, and a few jobs are buffered: 1 MiB keeps a
 * MySQL dump's writer near 20 MiB of RSS instead of near 60, at the same
 * speed and the same bytes within 1 %).  Ignored without workers. */
int rv_zstream_writer_job_size(struct rv_zstream_writer *w, size_t bytes) RV_WARN_UNUSED;
/* Hash and compress; the sink sees output in chunks of up to 64 KiB.  A
 * failed writer stays failed: every later call returns the same code. */
int rv_zstream_write(struct rv_zstream_writer *w, const void *p, size_t n) RV_WARN_UNUSED;
/* SHA-256 of every byte written so far; writing may go on. */
int rv_zstream_writer_sha256(struct rv_zstream_writer *w,
			     unsigned char out[RV_SHA256_LEN]) RV_WARN_UNUSED;
/* Writes `trailer` (not hashed), ends the frame and flushes; the stream is
 * complete after this.  A second call does nothing. */
int rv_zstream_writer_finish(struct rv_zstream_writer *w, const void *trailer,
			     size_t n) RV_WARN_UNUSED;
void rv_zstream_writer_free(struct rv_zstream_writer *w);

struct rv_zstream_reader_opts {
	/* Input that does not start with the zstd magic is read as it is. */
	bool allow_plain;
	/* Builds the RV_ECORRUPT message from a short reason ("truncated
	 * line", a zstd error name...), so that it names the object; NULL for
	 * a generic message. */
	int (*corrupt)(void *ud, const char *what);
	void *corrupt_ud;
	/* Hash on a second thread while decoding (for large reads, 512 KiB
	 * and up: a database snapshot's pages).  Same bytes, same digest. */
	bool hash_thread;
};

struct rv_zstream_reader;
/* `o` may be NULL (zstd only, generic messages).  Reads at most the first
 * few bytes, to tell zstd from plain input. */
int rv_zstream_reader_new(struct rv_zstream_reader **out, rv_zstream_source src, void *ud,
			  const struct rv_zstream_reader_opts *o) RV_WARN_UNUSED;
bool rv_zstream_reader_is_plain(const struct rv_zstream_reader *r);
/* Exactly `n` decompressed bytes, hashed; RV_ECORRUPT when fewer are left.
 * A failed reader stays failed. */
int rv_zstream_read(struct rv_zstream_reader *r, void *p, size_t n) RV_WARN_UNUSED;
/* The next line, without its '\n', into `line` (reset first; its cap is
 * the longest line accepted, "line too long" beyond).  `hash` says whether
 * the line and its '\n' count in the SHA-256: an end line carrying the
 * hash does not.  `*eof` at the end of the data when no byte is left;
 * a last line without '\n' is "truncated line". */
int rv_zstream_read_line(struct rv_zstream_reader *r, struct rv_buf *line, bool hash,
			 bool *eof) RV_WARN_UNUSED;
/* Up to `want` (at most 64 KiB) next bytes, without consuming or hashing
 * them: `*n` is less than `want` only at the end of the data.  Borrowed
 * until the next call. */
int rv_zstream_peek(struct rv_zstream_reader *r, size_t want, const unsigned char **p,
		    size_t *n) RV_WARN_UNUSED;
/* SHA-256 of every byte handed out (and hashed) so far. */
int rv_zstream_reader_sha256(struct rv_zstream_reader *r,
			     unsigned char out[RV_SHA256_LEN]) RV_WARN_UNUSED;
/* After the trailer: the zstd frame is complete (its checksum verified)
 * and no byte follows, decompressed or raw. */
int rv_zstream_reader_finish(struct rv_zstream_reader *r) RV_WARN_UNUSED;
void rv_zstream_reader_free(struct rv_zstream_reader *r);

#endif
