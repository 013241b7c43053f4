/* sqlite.h - SQLite replication, library core: the shipper (WAL frames →
 * log segments, snapshots) and the restore (snapshot + segments → a
 * database file).  Store layout: docs/FORMAT.md, "Database objects".
 *
 * Positions.  A database position inside a generation counts WAL frames
 * shipped since the generation's start (position 0 = the database as it
 * was when rv_sqlite_open() ran).  A log segment holds frames [from, to)
 * and always ends on a commit frame; a snapshot is the whole database at a
 * position.  Positions keep counting across WAL restarts.
 *
 * How no frame is checkpointed away before it is shipped: revenant's own
 * connections never checkpoint automatically (wal_autocheckpoint=0), and one
 * of its connections always holds a read transaction whose view contains
 * nothing unshipped.  SQLite rewinds (restarts) the WAL only when every frame
 * was copied into the database and no reader uses the WAL; a reader that
 * began on a fully copied WAL reads the database file alone, and while it
 * lives no newer frame may be copied into that file.  So while such a read
 * transaction lives, SQLite can at most rewind over frames that existed when
 * it began — all shipped — never discard unshipped ones.  Each ship copies
 * the new committed frames to a local compressed spool without any lock,
 * then "leapfrogs": a second read transaction begins, everything committed
 * by then is copied (a superset of what it sees), and only then does the old
 * one end.  A snapshot needs a read transaction whose view ends exactly at
 * the shipped end; "pin" gets one without any lock: SQLite's wal-index
 * header (the -shm file, read through SQLite's own mapping) is read just
 * before and just after a read transaction begins, and when the two agree
 * the transaction's view ends at that header's last frame; the WAL is
 * followed, and if it ends there too the new transaction replaces the old
 * one (else, a commit came in between: try again).  The WAL is kept small
 * the same way: pin, PASSIVE checkpoint up to the pin, pin again — if no
 * commit came in between, the new read transaction reads the database file
 * alone (the file is then the snapshot, nothing being copied into it while
 * it lives) and Ghost's next writer rewinds the WAL.  Under writes without
 * a pause this can take a few tries or ticks (a try starts right after a
 * commit, to have the whole gap to the next one).
 *
 * revenant never takes the write lock (no BEGIN IMMEDIATE, no write, no
 * FULL/RESTART/TRUNCATE checkpoint — except after the database file was
 * replaced, when the chain is over anyway).  That matters because SQLite
 * answers a transaction that read and then wants to write with an
 * immediate SQLITE_BUSY, without calling its busy handler, while another
 * connection holds that lock, or once its snapshot is stale; a read
 * transaction and a PASSIVE checkpoint neither hold that lock nor change
 * what a reader's snapshot is checked against (the wal-index header), so
 * no transaction of Ghost's fails because of revenant, nor waits for it
 * beyond the microseconds of SQLite's own lock retries (measured:
 * bench/snapshot_busy.sh, tests/integration/db_snapshot_busy.sh).
 * Anything that still breaks the chain (the database file replaced, the WAL rewound more than once
 * or its salts changed without a restart) is reported as "new generation needed". */
#ifndef RV_DB_SQLITE_SQLITE_H
#define RV_DB_SQLITE_SQLITE_H

#include <stdbool.h>
#include <stdint.h>

#include "format/content.h"
#include "core/err.h"

struct rv_store;

struct rv_sqlite_opts {
	const char *db_path;
	const char *gen;	   /* the generation objects are written under */
	const char *tmpdir;	   /* spools and snapshot copies; NULL = the db's folder */
	int busy_timeout_ms;	   /* our busy handler (WAL switch, WAL-index recovery); 0 = 5000 */
	uint64_t checkpoint_bytes; /* PASSIVE checkpoint once the WAL is larger; 0 = 4 MiB */
};

struct rv_sqlite;

/* Open `db_path` (it must exist), switch it to WAL (persistent: it is
 * recorded in the database header), take control of checkpoints and fix
 * position 0 at the current state.  Switching needs a moment when no other
 * connection is inside a transaction; RV_EPRECOND says so otherwise. */
int rv_sqlite_open(struct rv_sqlite **out, const struct rv_sqlite_opts *o) RV_WARN_UNUSED;
void rv_sqlite_free(struct rv_sqlite *s);

struct rv_sqlite_ship {
	uint64_t from, to; /* the segment written ([from, to)); equal when nothing new */
	int64_t time_ms;
	char key[160];	     /* the segment's key, "" when nothing was written */
	uint64_t bytes;	     /* the segment's frames (uncompressed WAL bytes) */
	bool checkpointed;   /* a PASSIVE checkpoint ran */
	bool new_generation; /* the chain cannot be continued: start a new one */
	char reason[200];    /* why, when new_generation */
};

/* Ship the WAL frames committed since the last call as one segment.
 * RV_EPRECOND with `res->new_generation` set when the chain is broken (the
 * caller starts a new generation: rv_sqlite_free + rv_sqlite_open with a new
 * gen + rv_sqlite_snapshot).  A store failure keeps the spooled segment;
 * the next call uploads the same bytes first. */
int rv_sqlite_ship(struct rv_sqlite *s, struct rv_store *st,
		   struct rv_sqlite_ship *res) RV_WARN_UNUSED;

/* Ship, then write a snapshot of the database at the shipped position
 * (sqlite3_backup from the read transaction into a temporary file, then
 * compressed as a stream).  `*pos_out` gets its position. */
int rv_sqlite_snapshot(struct rv_sqlite *s, struct rv_store *st, uint64_t *pos_out) RV_WARN_UNUSED;

/* Frames shipped (uploaded) so far in this generation. */
uint64_t rv_sqlite_pos(const struct rv_sqlite *s);

/* ---- restore ---- */

#define RV_SQLITE_POS_LATEST UINT64_MAX

struct rv_sqlite_restore_opts {
	const char *gen;
	uint64_t pos;	    /* exact position (a segment boundary), or RV_SQLITE_POS_LATEST */
	int64_t at_ms;	    /* > 0: the latest point whose commit time is <= at_ms */
	const char *out;    /* the database file to create; must not exist */
	const char *tmpdir; /* downloads; NULL = out's folder */
	unsigned jobs;	    /* parallel ranged GETs; 0 = 4 */
	bool no_sync;	    /* no fsync before the rename (a throw-away copy) */
};

struct rv_sqlite_restore_result {
	uint64_t pos;
	int64_t time_ms;
	unsigned segments;
};

/* Snapshot + segments in order, each verified (zstd checksum, end-line
 * SHA-256, frame layout) into a temporary file that is renamed to `out`
 * only after PRAGMA integrity_check says ok.  (The segments are written
 * first and the snapshot's remaining pages last: the same file, see
 * restore.c.)  A missing segment is
 * RV_ECORRUPT (never a silently older state); no snapshot at or before the
 * target is RV_ENOTFOUND. */
int rv_sqlite_restore(struct rv_store *st, const struct rv_sqlite_restore_opts *o,
		      struct rv_sqlite_restore_result *res) RV_WARN_UNUSED;

/* What restoring `gen` at exactly `pos` downloads and writes
 * (target.h's restore_size): the snapshot's header and the last
 * segment's last commit are read (a segment over 16 MiB is not: the
 * log's frames then bound the growth), the rest comes from LISTs.  What
 * is read goes to unnamed files in `tmpdir` (NULL: $TMPDIR). */
struct rv_dbtgt_size;
int rv_sqlite_restore_size(struct rv_store *st, const char *gen, uint64_t pos, const char *tmpdir,
			   struct rv_dbtgt_size *out) RV_WARN_UNUSED;

/* target.h's inspect: foreign_key_check's rows counted, the posts
 * table's html, feature_image, mobiledoc and lexical (those it has) to
 * `fn`, on a read-only connection. */
struct rv_dbtgt_inspect;
struct rv_dbtgt_follow_opts;
int rv_sqlite_inspect(const struct rv_dbtgt_follow_opts *o,
		      int (*fn)(void *ud, const char *id, const char *column, const char *text,
				size_t n),
		      void *ud, struct rv_dbtgt_inspect *out) RV_WARN_UNUSED;

/* ---- applying segments in place (standby) ---- */

/* Log segments downloaded and verified, ready to be applied to a database
 * file that sits at their first position. */
struct rv_sqlite_segs;

/* Download the segments of `gen` that lead from position `from` to `to`
 * (both segment boundaries; from < to), at most `max` of them (0: 64),
 * into unlinked temporary files in `tmpdir`, each read through and
 * verified (zstd checksum, end line, header against name, frames, page
 * size).  Nothing local changes.  One LIST covers the positions between.
 * A missing segment is RV_ECORRUPT; `to` not being a boundary is
 * RV_ENOTFOUND. */
int rv_sqlite_segs_fetch(struct rv_sqlite_segs **out, struct rv_store *st, const char *gen,
			 uint64_t from, uint64_t to, unsigned max,
			 const char *tmpdir) RV_WARN_UNUSED;
/* The position after the last fetched segment (`to` when all fitted under
 * `max`) and that segment's time. */
uint64_t rv_sqlite_segs_end(const struct rv_sqlite_segs *g);
int64_t rv_sqlite_segs_time(const struct rv_sqlite_segs *g);
/* Write the fetched segments onto `fd`, an open database file at their
 * first position: each page at (pgno - 1) * page_size, the file cut to
 * every commit frame's size.  Its page size (from the file's header) must
 * match.  Does not fsync.  A failure may leave the file half-written. */
int rv_sqlite_segs_apply(struct rv_sqlite_segs *g, int fd) RV_WARN_UNUSED;
void rv_sqlite_segs_free(struct rv_sqlite_segs *g);

/* PRAGMA integrity_check on the database file `path`: RV_ECORRUPT unless
 * it answers ok. */
int rv_sqlite_check(const char *path) RV_WARN_UNUSED;

#endif
