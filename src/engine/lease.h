/* lease.h - the primary lease (lease.json) and generation metadata
 * (generations/<gen>/meta.json), store format v1 (docs/FORMAT.md).
 *
 * The lease says which site may write and under which generation.  Writers
 * take it at start, then call rv_lease_check() before every commit and stop
 * writing on RV_EFENCED.  Where the store has conditional puts the lease is
 * created with RV_PUT_IF_ABSENT and bumped with RV_PUT_IF_MATCH; where it
 * has not (s3rver, old S3-compatible servers) it is written, then re-read
 * after `settle_ms` to see who won — weaker: two writers can both believe
 * they won until the loser's next check, which is why every writer writes
 * only under its own generation and readers follow the lease's generation. */
#ifndef RV_ENGINE_LEASE_H
#define RV_ENGINE_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "format/layout.h"

struct rv_store;

/* Leases and metas are tiny; anything bigger is not ours. */
#define RV_LEASE_MAX (64u << 10)

struct rv_lease {
	uint64_t epoch;
	char *site;
	char gen[RV_GEN_ID_LEN];
	int64_t since_ms;
	char *holder;
	char etag[80]; /* of the stored object, for RV_PUT_IF_MATCH */
	/* A planned switchover asked for (`revenant switchover`): the site
	 * the holder is to hand the lease to; NULL: none. */
	char *switchover_to;
	/* Set by a hand-over: the site that handed the lease over and its
	 * final commit, which the new holder must reach before it writes;
	 * NULL: the lease was taken, not handed over. */
	char *handover_from;
	uint64_t handover_seq;
	int64_t handover_commit_ms;
};
void rv_lease_release(struct rv_lease *l);

struct rv_lease_opts {
	const char *site;   /* [A-Za-z0-9._-]{1,63} */
	const char *holder; /* rv_lease_holder_id() */
	const char *gen;    /* the generation this writer starts */
	bool take_over;	    /* promotion: take the lease from another site */
	bool weak;	    /* behave as if the store had no conditional puts */
	unsigned settle_ms; /* weak: wait before the verifying re-read; 0 = 500 */
	/* The lease this process holds, when it takes the lease again for a
	 * new generation: the epoch moves on only while the stored lease is
	 * still exactly this one (holder and epoch), else RV_EFENCED.  A
	 * process that lost the lease never takes it back; only a fresh
	 * start (NULL here) or a promotion (take_over) may. */
	const struct rv_lease *renew;
	/* Promotion: take the lease only while the stored one is still
	 * exactly this (holder and epoch; implies take_over), else
	 * RV_EFENCED naming who holds it now — of two promotions that read
	 * the same lease, exactly one wins. */
	const struct rv_lease *from;
};

/* "<hostname>:<pid>:<8 hex random>" into `out`. */
void rv_lease_holder_id(char *out, size_t n);

int rv_lease_encode(const struct rv_lease *l, struct rv_buf *out) RV_WARN_UNUSED;
/* RV_ECORRUPT naming lease.json for anything malformed; RV_ENOTSUP for a
 * newer major format. */
int rv_lease_decode(struct rv_lease *out, const char *json, size_t len) RV_WARN_UNUSED;

/* RV_ENOTFOUND when there is no lease yet. */
int rv_lease_read(struct rv_store *s, struct rv_lease *out) RV_WARN_UNUSED;

/* Take the lease: create it at epoch 1 when absent; bump the epoch when
 * this site holds it (a restarted or second writer of the same site fences
 * the previous one); RV_EFENCED when another site holds it, unless
 * take_over.  With `renew`: bump the epoch only if the stored lease is
 * still `renew` (put-if-match on its etag, or on a weak store: re-read,
 * compare, write, settle, re-read); RV_EFENCED naming the new holder when
 * it is not, or is gone, and lease.json is left alone.  RV_EPRECOND when
 * it keeps losing races. */
int rv_lease_acquire(struct rv_store *s, const struct rv_lease_opts *o,
		     struct rv_lease *out) RV_WARN_UNUSED;

/* 0 while the stored lease is still `mine` (epoch and holder);
 * RV_EFENCED with a message naming the new holder otherwise, also when the
 * lease object is gone or unreadable as a lease. */
int rv_lease_check(struct rv_store *s, const struct rv_lease *mine) RV_WARN_UNUSED;

/* rv_lease_check, and the stored lease in `cur` when it is still `mine`
 * (to see a switchover asked for); `cur` is left empty otherwise. */
int rv_lease_check_read(struct rv_store *s, const struct rv_lease *mine,
			struct rv_lease *cur) RV_WARN_UNUSED;

/* Ask the holder of the lease at `epoch` to hand it to site `to` (a
 * conditional rewrite that leaves epoch and holder alone, so the holder is
 * not fenced by it): RV_EPRECOND when the lease is no longer at `epoch`,
 * RV_EUSAGE when `to` holds it already.  `clear` takes the request back. */
int rv_lease_ask_switchover(struct rv_store *s, uint64_t epoch, const char *to,
			    bool clear) RV_WARN_UNUSED;

/* The holder `mine`, its final commit shipped, hands the lease to `to`:
 * epoch + 1, the same generation, handover_* set; only while the stored
 * lease is still `mine` (RV_EFENCED otherwise). */
int rv_lease_hand_over(struct rv_store *s, const struct rv_lease *mine, const char *to,
		       uint64_t seq, int64_t commit_ms) RV_WARN_UNUSED;

/* generations/<gen>/meta.json: written once when a generation starts. */
struct rv_gen_meta {
	char gen[RV_GEN_ID_LEN];
	char *site;
	uint64_t epoch;
	int64_t created_ms;
	char *parent;	/* the generation this one continues, or NULL */
	char *database; /* "sqlite", "mysql" or "none" */
};
void rv_gen_meta_release(struct rv_gen_meta *m);
int rv_gen_meta_write(struct rv_store *s, const struct rv_gen_meta *m) RV_WARN_UNUSED;
int rv_gen_meta_read(struct rv_store *s, const char *gen, struct rv_gen_meta *out) RV_WARN_UNUSED;

/* heartbeat.json: the primary's "still here", written every
 * heartbeat_interval also when Ghost is idle, so that the other site can
 * tell a quiet primary from a dead one and bound what a promotion loses.
 * A heartbeat counts only under the lease it names: one whose epoch is
 * older than the lease's comes from a fenced writer. */
struct rv_heartbeat {
	char *site;
	uint64_t epoch;
	char gen[RV_GEN_ID_LEN];
	char *holder;
	int64_t time_ms;   /* when it was written (the writer's clock) */
	uint64_t seq;	   /* the last content commit */
	int64_t commit_ms; /* its time; 0: none yet */
	bool has_db;
	uint64_t db_pos; /* the database position of that commit */
	/* Nothing was waiting to be committed when it was written (no file
	 * change queued, read, uploading or sealed, no reconcile): everything
	 * Ghost wrote more than sync_interval before `time_ms` is in commit
	 * `seq` (the database's frames ship every tick).  False also when a
	 * writer that predates the field wrote it. */
	bool idle;
};
void rv_heartbeat_release(struct rv_heartbeat *h);
int rv_heartbeat_encode(const struct rv_heartbeat *h, struct rv_buf *out) RV_WARN_UNUSED;
/* RV_ECORRUPT for anything but a well-formed heartbeat (a valid site and
 * generation ID, epoch >= 1, the numbers present). */
int rv_heartbeat_decode(struct rv_heartbeat *out, const char *json, size_t len) RV_WARN_UNUSED;
int rv_heartbeat_write(struct rv_store *s, const struct rv_heartbeat *h) RV_WARN_UNUSED;
/* RV_ENOTFOUND when no primary has written one yet. */
int rv_heartbeat_read(struct rv_store *s, struct rv_heartbeat *out) RV_WARN_UNUSED;
/* Until site `site` writes a heartbeat at `min_epoch` or later (0; `gen`,
 * when not NULL, gets its generation) or the monotonic clock reaches
 * `end_ms` (RV_ENET, no message: the caller says what it waited for). */
int rv_heartbeat_wait(struct rv_store *s, const char *site, uint64_t min_epoch, int64_t end_ms,
		      char gen[RV_GEN_ID_LEN]) RV_WARN_UNUSED;

/* sites/<site>/standby.json: where a standby agent (`revenant run`)
 * stands, rewritten every heartbeat interval while it follows, so that a
 * planned switchover can refuse a standby that is gone or behind. */
struct rv_standby_status {
	char *site;
	char gen[RV_GEN_ID_LEN];
	uint64_t seq;	   /* the last content commit applied */
	int64_t commit_ms; /* its time */
	int64_t time_ms;   /* when this was written (the standby's clock) */
};
void rv_standby_status_release(struct rv_standby_status *st);
/* How far (ms) the standby is behind the primary's last commit as its
 * heartbeat names it; 0 when it holds that commit. */
int64_t rv_standby_behind_ms(const struct rv_heartbeat *hb, const struct rv_standby_status *st);
int rv_standby_status_write(struct rv_store *s, const struct rv_standby_status *st) RV_WARN_UNUSED;
/* RV_ENOTFOUND when that site never wrote one. */
int rv_standby_status_read(struct rv_store *s, const char *site,
			   struct rv_standby_status *out) RV_WARN_UNUSED;

#endif
