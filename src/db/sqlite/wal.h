/* wal.h - reading SQLite's write-ahead log file directly (the "WAL file
 * format" section of https://www.sqlite.org/fileformat2.html).
 *
 * A WAL is a 32-byte header followed by frames, each a 24-byte frame header
 * and one page.  Every frame carries the header's two salts and a checksum
 * that is cumulative over the header and every frame before it, so a frame
 * is only valid as part of an unbroken chain from the header; a new WAL
 * "incarnation" (after a checkpoint restarts the log) gets new salts, which
 * makes every frame of the previous one invalid at once.  A commit frame
 * has a non-zero "database size in pages" field. */
#ifndef RV_DB_SQLITE_WAL_H
#define RV_DB_SQLITE_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define RV_WAL_HDR_SIZE	      32
#define RV_WAL_FRAME_HDR_SIZE 24
#define RV_WAL_MAGIC_LE	      0x377f0682u /* checksum words are little-endian */
#define RV_WAL_MAGIC_BE	      0x377f0683u /* checksum words are big-endian */
#define RV_WAL_MAX_PAGE	      65536u

struct rv_wal_hdr {
	uint32_t magic, version, page_size, ckpt_seq, salt1, salt2, ck1, ck2;
};

struct rv_wal_frame {
	uint32_t pgno;
	uint32_t commit; /* database size in pages after a commit, else 0 */
	uint32_t salt1, salt2, ck1, ck2;
};

/* The cumulative checksum: `s` is the running pair, updated in place; `n`
 * is a multiple of 8. */
void rv_wal_checksum(bool big_endian, const unsigned char *p, size_t n, uint32_t s[2]);

/* Parse and verify the 32-byte header; RV_ECORRUPT (naming `name`) on a bad
 * magic, page size or header checksum. */
int rv_wal_hdr_parse(struct rv_wal_hdr *out, const unsigned char b[RV_WAL_HDR_SIZE],
		     const char *name) RV_WARN_UNUSED;

void rv_wal_frame_parse(struct rv_wal_frame *out, const unsigned char b[RV_WAL_FRAME_HDR_SIZE]);

/* Whether the frame (header `fh`, page `page` of h->page_size bytes)
 * continues the chain whose running checksum is `s`; when it does, `s` is
 * advanced past it. */
bool rv_wal_frame_valid(const struct rv_wal_hdr *h, const unsigned char *fh,
			const unsigned char *page, uint32_t s[2]);

/* Where a scan of the WAL stands: frames consumed of the current
 * incarnation and the checksum after the last of them. */
struct rv_wal_cursor {
	uint32_t frame;
	uint32_t ck[2];
};

/* Follow the valid chain in `fd` from `*cur` and report the cursor after
 * the last valid commit frame (`*end`; equal to `*cur` when there is none).
 * `buf` holds one frame (RV_WAL_FRAME_HDR_SIZE + page size).  Reads only;
 * stops at the first invalid or short frame. */
int rv_wal_scan(int fd, const struct rv_wal_hdr *h, const struct rv_wal_cursor *cur,
		unsigned char *buf, struct rv_wal_cursor *end, const char *name) RV_WARN_UNUSED;
/* The same, reading no frame at or past `max` (frames of the incarnation):
 * a commit frame there is not committed yet as far as SQLite knows. */
int rv_wal_scan_to(int fd, const struct rv_wal_hdr *h, const struct rv_wal_cursor *cur,
		   uint32_t max, unsigned char *buf, struct rv_wal_cursor *end,
		   const char *name) RV_WARN_UNUSED;

/* Byte offset of frame `i` (0-based) in the WAL file. */
static inline uint64_t rv_wal_frame_off(const struct rv_wal_hdr *h, uint32_t i)
{
	return RV_WAL_HDR_SIZE + (uint64_t)i * (RV_WAL_FRAME_HDR_SIZE + h->page_size);
}

#endif
