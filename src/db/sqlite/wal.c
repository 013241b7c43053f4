/* wal.c - SQLite WAL header, frame and checksum parsing (see wal.h). */
#include "db/sqlite/wal.h"

#include <errno.h>
#include <unistd.h>

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | (uint32_t)p[0];
}

void rv_wal_checksum(bool big_endian, const unsigned char *p, size_t n, uint32_t s[2])
{
	uint32_t s0 = s[0], s1 = s[1];

	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint32_t x0 = big_endian ? get_be32(p + i) : get_le32(p + i);
		uint32_t x1 = big_endian ? get_be32(p + i + 4) : get_le32(p + i + 4);

		s0 += x0 + s1;
		s1 += x1 + s0;
	}
	s[0] = s0;
	s[1] = s1;
}

int rv_wal_hdr_parse(struct rv_wal_hdr *out, const unsigned char b[RV_WAL_HDR_SIZE],
		     const char *name)
{
	uint32_t s[2] = {0, 0};

	out->magic = get_be32(b);
	out->version = get_be32(b + 4);
	out->page_size = get_be32(b + 8);
	out->ckpt_seq = get_be32(b + 12);
	out->salt1 = get_be32(b + 16);
	out->salt2 = get_be32(b + 20);
	out->ck1 = get_be32(b + 24);
	out->ck2 = get_be32(b + 28);
	if (out->magic != RV_WAL_MAGIC_LE && out->magic != RV_WAL_MAGIC_BE)
		return rv_error(RV_ECORRUPT, "'%s' is not a sqlite WAL (magic %08x)", name,
				out->magic);
	/* The page size is a power of two in [512, 65536]. */
	if (out->page_size < 512 || out->page_size > RV_WAL_MAX_PAGE ||
	    (out->page_size & (out->page_size - 1)))
		return rv_error(RV_ECORRUPT, "'%s' has an invalid page size %u", name,
				out->page_size);
	rv_wal_checksum(out->magic == RV_WAL_MAGIC_BE, b, 24, s);
	if (s[0] != out->ck1 || s[1] != out->ck2)
		return rv_error(RV_ECORRUPT, "'%s' has a bad header checksum", name);
	return 0;
}

void rv_wal_frame_parse(struct rv_wal_frame *out, const unsigned char b[RV_WAL_FRAME_HDR_SIZE])
{
	out->pgno = get_be32(b);
	out->commit = get_be32(b + 4);
	out->salt1 = get_be32(b + 8);
	out->salt2 = get_be32(b + 12);
	out->ck1 = get_be32(b + 16);
	out->ck2 = get_be32(b + 20);
}

bool rv_wal_frame_valid(const struct rv_wal_hdr *h, const unsigned char *fh,
			const unsigned char *page, uint32_t s[2])
{
	struct rv_wal_frame f;
	uint32_t t[2] = {s[0], s[1]};
	bool be = h->magic == RV_WAL_MAGIC_BE;

	rv_wal_frame_parse(&f, fh);
	if (f.pgno == 0 || f.salt1 != h->salt1 || f.salt2 != h->salt2)
		return false;
	rv_wal_checksum(be, fh, 8, t);
	rv_wal_checksum(be, page, h->page_size, t);
	if (t[0] != f.ck1 || t[1] != f.ck2)
		return false;
	s[0] = t[0];
	s[1] = t[1];
	return true;
}

static int pread_full(int fd, void *p, size_t n, uint64_t off, size_t *got)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, (char *)p + done, n - done, (off_t)(off + done));

		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	*got = done;
	return 0;
}

int rv_wal_scan(int fd, const struct rv_wal_hdr *h, const struct rv_wal_cursor *cur,
		unsigned char *buf, struct rv_wal_cursor *end, const char *name)
{
	return rv_wal_scan_to(fd, h, cur, UINT32_MAX, buf, end, name);
}

int rv_wal_scan_to(int fd, const struct rv_wal_hdr *h, const struct rv_wal_cursor *cur,
		   uint32_t max, unsigned char *buf, struct rv_wal_cursor *end, const char *name)
{
	struct rv_wal_cursor c = *cur;
	size_t fsz = RV_WAL_FRAME_HDR_SIZE + h->page_size;

	*end = *cur;
	while (c.frame < max) {
		size_t got;
		struct rv_wal_frame f;

		if (pread_full(fd, buf, fsz, rv_wal_frame_off(h, c.frame), &got) == -1)
			return rv_error_errno(RV_EFAIL, errno, "read '%s'", name);
		if (got < fsz)
			return 0;
		if (!rv_wal_frame_valid(h, buf, buf + RV_WAL_FRAME_HDR_SIZE, c.ck))
			return 0;
		c.frame++;
		rv_wal_frame_parse(&f, buf);
		if (f.commit)
			*end = c;
	}
	return 0;
}
