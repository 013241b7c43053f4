/* restore.c - find a point in the store and rebuild the content folder
 * there (see restore.h). */
#include "content/restore.h"
#include "content/content.h"
#include "content/scan.h"
#include "core/hset.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "core/workq.h"
#include "store/store.h"
#include "engine/lease.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_JOBS	 8
#define QUEUE_CAP	 256
#define MAX_PARENT_HOPS	 32
#define PRINTED_FAILURES 20

/* ---- time ---------------------------------------------------------------- */

int rv_restore_parse_time(const char *s, int64_t *ms)
{
	if (*s && strspn(s, "0123456789") == strcspn(s, ".")) {
		uint64_t whole, f = 0;
		const char *dot = strchr(s, '.');
		char *w = rv_strndup(s, dot ? (size_t)(dot - s) : strlen(s));
		int bad = rv_parse_u64(w, &whole) || whole > (uint64_t)INT64_MAX / 1000;

		free(w);
		if (!bad && dot) {
			size_t n = strlen(dot + 1);
			bad = !n || strspn(dot + 1, "0123456789") != n;
			for (size_t i = 0; !bad && i < 3; i++)
				f = f * 10 + (i < n ? (uint64_t)(dot[1 + i] - '0') : 0);
		}
		if (bad)
			goto bad;
		*ms = (int64_t)(whole * 1000 + f);
		return 0;
	}
	/* People type a space between date and time (RFC 3339 section 5.6
	 * allows it); the shared parser takes only 'T'. */
	if (strlen(s) > 10 && s[10] == ' ') {
		char *t = rv_strdup(s);
		int rc;

		t[10] = 'T';
		rc = rv_parse_iso8601_ms(t, ms);
		free(t);
		if (!rc)
			return 0;
	} else if (!rv_parse_iso8601_ms(s, ms)) {
		return 0;
	}
bad:
	return rv_error(RV_EUSAGE,
			"'%s' is not a time: give RFC 3339 (2026-01-02T03:04:05Z) or Unix seconds",
			s);
}

void rv_restore_format_time(char out[32], int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm)) {
		snprintf(out, 32, "%" PRId64 "ms", ms);
		return;
	}
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);

	snprintf(out + n, 32 - n, ".%03dZ", (int)(((ms % 1000) + 1000) % 1000));
}

/* ---- finding a point ------------------------------------------------------ */

void rv_restore_point_release(struct rv_restore_point *p)
{
	if (!p)
		return;
	free(p->manifest.key);
	for (size_t i = 0; i < p->nlogs; i++)
		free(p->logs[i].key);
	free(p->logs);
	memset(p, 0, sizeof(*p));
}

void rv_restore_gap_describe(char *out, size_t n, const struct rv_restore_gap *g)
{
	if (g->next)
		snprintf(out, n,
			 "generation %s: content log has a gap: sequence %" PRIu64
			 " is missing, %" PRIu64 "… present",
			 g->gen, g->missing, g->next);
	else
		snprintf(out, n,
			 "generation %s: content log has a gap: sequence %" PRIu64
			 " is missing, later ones present",
			 g->gen, g->missing);
}

int rv_restore_gap_error(const struct rv_restore_gap *g)
{
	char d[160];

	rv_restore_gap_describe(d, sizeof(d), g);
	return rv_error(RV_ECORRUPT,
			"%s — the store lost that object: restore the newest point before "
			"it with --before-gap, an earlier one with --at, or a later one once "
			"replicate has written a manifest past it",
			d);
}

/* The newest manifest of `gen` cut at or before `at_ms`; `*later` the
 * lowest manifest sequence at or above `above` (any time; 0 when none),
 * which tells a lost log from the end of the log. */
struct mlist {
	uint64_t *seq;
	size_t n;
};

static int find_manifest(struct rv_store *s, const char *gen, int64_t at_ms,
			 struct rv_restore_obj *out, struct mlist *all)
{
	struct rv_keylist kv = {0};
	char *prefix = rv_content_manifest_prefix(gen);
	int rc = rv_store_list_keys(s, prefix, &kv);

	memset(out, 0, sizeof(*out));
	all->seq = rv_calloc(kv.n + 1, sizeof(*all->seq));
	all->n = 0;
	for (size_t i = 0; !rc && i < kv.n; i++) {
		uint64_t seq;
		int64_t ms;

		if (rv_str_endswith(kv.v[i], "/"))
			continue; /* a folder marker made by another S3 tool */
		if ((rc = rv_content_key_parse(kv.v[i], &seq, &ms)))
			break;
		all->seq[all->n++] = seq;
		if (ms <= at_ms && (!out->key || seq > out->seq)) {
			free(out->key);
			out->key = rv_strdup(kv.v[i]);
			out->seq = seq;
			out->time_ms = ms;
			memcpy(out->gen, gen, RV_GEN_ID_LEN);
		}
	}
	if (rc) {
		free(out->key);
		out->key = NULL;
	}
	rv_keylist_release(&kv);
	free(prefix);
	return rc;
}

/* The lowest manifest sequence at or above `above`, 0 when none. */
static uint64_t mlist_above(const struct mlist *all, uint64_t above)
{
	uint64_t best = 0;

	for (size_t i = 0; i < all->n; i++)
		if (all->seq[i] >= above && (!best || all->seq[i] < best))
			best = all->seq[i];
	return best;
}

/* How a run of logs ended. */
struct chain_end {
	uint64_t want;	/* the sequence that was not taken */
	bool by_time;	/* it exists but is after `at_ms` */
	uint64_t later; /* a later log seen while `want` is missing (0: none) */
};

static int list_chain(struct rv_store *s, const char *gen, uint64_t from, int64_t at_ms,
		      struct rv_restore_obj **logs, size_t *nlogs, struct chain_end *end)
{
	uint64_t want = from;
	size_t cap = *nlogs;
	int rc = 0;

	memset(end, 0, sizeof(*end));
	for (;;) {
		/* 14 of the 16 hex digits: one prefix covers 256 sequences. */
		char *prefix = rv_content_log_block_prefix(gen, want);
		struct rv_keylist kv = {0};
		bool stop = false;

		rc = rv_store_list_keys(s, prefix, &kv);
		free(prefix);
		if (!rc && !kv.n)
			stop = true;
		for (size_t i = 0; !rc && !stop && i < kv.n; i++) {
			uint64_t seq;
			int64_t ms;

			if ((rc = rv_content_key_parse(kv.v[i], &seq, &ms)))
				break;
			if (seq < want)
				continue; /* before `from`, or a duplicate */
			if (seq != want) {
				end->later = seq;
				stop = true;
				break;
			}
			if (ms > at_ms) {
				end->by_time = true;
				stop = true;
				break;
			}
			*logs = rv_grow(*logs, &cap, *nlogs + 1, sizeof(**logs));
			(*logs)[*nlogs] = (struct rv_restore_obj){rv_strdup(kv.v[i]), {0}, seq, ms};
			memcpy((*logs)[*nlogs].gen, gen, RV_GEN_ID_LEN);
			(*nlogs)++;
			want++;
		}
		rv_keylist_release(&kv);
		/* Not at the next block boundary: the next sequence is missing. */
		if (rc || stop || (want & 0xff))
			break;
	}
	end->want = want;
	return rc;
}

int rv_restore_list_logs(struct rv_store *s, const char *gen, uint64_t from, int64_t at_ms,
			 struct rv_restore_obj **logs, size_t *nlogs, uint64_t *later)
{
	struct chain_end end;
	int rc = list_chain(s, gen, from, at_ms, logs, nlogs, &end);

	if (later)
		*later = rc ? 0 : end.later;
	return rc;
}

/* The block after the one where the log stopped: a log there while `want`
 * is missing is a gap the regular LIST cannot show (the missing log was
 * the last of its block). */
static int probe_next_block(struct rv_store *s, const char *gen, uint64_t want, uint64_t *later)
{
	char *prefix = rv_content_log_block_prefix(gen, want + 256);
	struct rv_keylist kv = {0};
	int rc = rv_store_list_keys(s, prefix, &kv);

	for (size_t i = 0; !rc && i < kv.n; i++) {
		uint64_t seq;
		int64_t ms;

		if ((rc = rv_content_key_parse(kv.v[i], &seq, &ms)))
			break;
		if (seq > want) {
			*later = seq;
			break;
		}
	}
	rv_keylist_release(&kv);
	free(prefix);
	return rc;
}

static int find_in(struct rv_store *s, const char *gen, int64_t at_ms, unsigned flags, int hops,
		   struct rv_restore_point *out);

/* No manifest in `gen` at or before `at_ms`: its first commits build on
 * the parent's state when it was created.  `*done` when that state stops
 * before a gap in the parent: then it is the point. */
static int find_base_in_parent(struct rv_store *s, const char *gen, int64_t at_ms, unsigned flags,
			       int hops, struct rv_restore_point *out, bool *done)
{
	struct rv_restore_point base = {0};
	struct rv_gen_meta meta;
	int rc = rv_gen_meta_read(s, gen, &meta);

	*done = false;
	if (rc == RV_ENOTFOUND) {
		rv_error_clear();
		return 0;
	}
	if (rc)
		return rc;
	if (meta.parent && hops < MAX_PARENT_HOPS) {
		int64_t until = at_ms < meta.created_ms ? at_ms : meta.created_ms;

		rc = find_in(s, meta.parent, until, flags, hops + 1, &base);
		if (rc)
			rv_restore_point_release(&base);
		if (rc == RV_ENOTFOUND) {
			rv_error_clear();
			rc = 0;
		} else if (!rc && base.gap.missing) {
			/* This generation's commits do not build on a state
			 * before the parent's gap: the point is the parent's. */
			rv_restore_point_release(out);
			*out = base;
			*done = true;
		} else if (!rc) {
			out->manifest = base.manifest;
			out->logs = base.logs;
			out->nlogs = base.nlogs;
			out->time_ms = base.time_ms;
		}
	}
	rv_gen_meta_release(&meta);
	return rc;
}

static int find_in(struct rv_store *s, const char *gen, int64_t at_ms, unsigned flags, int hops,
		   struct rv_restore_point *out)
{
	struct mlist all = {0};
	struct chain_end end;
	size_t before;
	uint64_t from = 1;
	bool done = false, own_base;
	int rc;

	memcpy(out->gen, gen, RV_GEN_ID_LEN);
	if ((rc = find_manifest(s, gen, at_ms, &out->manifest, &all)))
		goto out;
	own_base = out->manifest.key != NULL;
	if (own_base) {
		from = out->manifest.seq + 1;
		out->seq = out->manifest.seq;
		out->time_ms = out->manifest.time_ms;
	} else if ((rc = find_base_in_parent(s, gen, at_ms, flags, hops, out, &done)) || done) {
		goto out;
	}
	before = out->nlogs;
	if ((rc = list_chain(s, gen, from, at_ms, &out->logs, &out->nlogs, &end)))
		goto out;
	if (out->nlogs > before) {
		out->seq = out->logs[out->nlogs - 1].seq;
		out->time_ms = out->logs[out->nlogs - 1].time_ms;
	}
	/* The next sequence is missing (not merely later than `at_ms`): a
	 * lost log, or the end of the log?  Anything later says lost -- except
	 * when nothing of this generation is usable and its oldest object is
	 * a manifest: prune removed the logs that manifest replaced, so the
	 * history before it is gone by retention, not lost. */
	if (!end.by_time) {
		uint64_t m = mlist_above(&all, end.want);

		if (!end.later && (rc = probe_next_block(s, gen, end.want, &end.later)))
			goto out;
		if (m && (!end.later || m < end.later))
			end.later = m;
		if (!own_base && end.want == 1 && m && m == end.later) {
			char when[32];

			rv_restore_format_time(when, at_ms);
			rc = rv_error(RV_ENOTFOUND,
				      "generation %s holds nothing at or before %s: its oldest "
				      "object is the manifest at sequence %" PRIu64
				      " (prune removed what came before) — give a later --at",
				      gen, when, m);
			goto out;
		}
	}
	if (!end.by_time && end.later) {
		struct rv_restore_gap gap = {.missing = end.want, .next = end.later};

		memcpy(gap.gen, gen, RV_GEN_ID_LEN);
		if (!(flags & RV_RESTORE_BEFORE_GAP)) {
			rc = rv_restore_gap_error(&gap);
			goto out;
		}
		out->gap = gap;
		if (!out->manifest.key && !out->nlogs) {
			char d[160];

			rv_restore_gap_describe(d, sizeof(d), &gap);
			rc = rv_error(RV_ENOTFOUND,
				      "%s, and nothing was committed before it: there is no point "
				      "before the gap to restore",
				      d);
			goto out;
		}
	}
	if (!out->manifest.key && !out->nlogs) {
		char when[32];

		if (at_ms == RV_RESTORE_LATEST) {
			rc = rv_error(RV_ENOTFOUND,
				      "generation %s has no content commits yet — is replicate "
				      "running?",
				      gen);
			goto out;
		}
		rv_restore_format_time(when, at_ms);
		rc = rv_error(RV_ENOTFOUND,
			      "nothing was committed at or before %s in generation %s — give a "
			      "later --at",
			      when, gen);
	}
out:
	free(all.seq);
	return rc;
}

int rv_restore_find(struct rv_store *s, const char *gen, int64_t at_ms,
		    struct rv_restore_point *out)
{
	return rv_restore_find_flags(s, gen, at_ms, 0, out);
}

int rv_restore_find_flags(struct rv_store *s, const char *gen, int64_t at_ms, unsigned flags,
			  struct rv_restore_point *out)
{
	struct rv_lease lease;
	char g[RV_GEN_ID_LEN];
	int rc;

	memset(out, 0, sizeof(*out));
	if (gen) {
		if (rv_gen_id_check(gen))
			return RV_EUSAGE;
		memcpy(g, gen, RV_GEN_ID_LEN);
	} else {
		rc = rv_lease_read(s, &lease);
		if (rc == RV_ENOTFOUND)
			return rv_error(
			    RV_ENOTFOUND,
			    "no %s in %s: nothing has been replicated there yet (or give "
			    "--generation)",
			    RV_LEASE_KEY, rv_store_describe(s));
		if (rc)
			return rc;
		memcpy(g, lease.gen, RV_GEN_ID_LEN);
		rv_lease_release(&lease);
	}
	rc = find_in(s, g, at_ms, flags, 0, out);
	if (rc) {
		struct rv_restore_gap gap = out->gap;

		rv_restore_point_release(out);
		out->gap = gap; /* RV_ENOTFOUND: nothing before this gap */
	}
	return rc;
}

/* ---- fetching and verifying objects ---------------------------------------- */

/* Download `o` into an unlinked temporary file in the staging folder and
 * read it through, checking it and that its header matches its name;
 * `fn` sees every record.  `*fd_out` is the file, at offset 0. */
static int fetch_obj(struct rv_store *s, struct rv_apply *a, const struct rv_restore_obj *o,
		     rv_centry_fn fn, void *ud, int *fd_out, struct rv_cobj_hdr *hdr_out)
{
	char *tmp = rv_asprintf("%s/%s/o.XXXXXX", rv_apply_root(a), RV_APPLY_STAGING);
	int fd, rc;

	*fd_out = -1;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd == -1) {
		rc = rv_error_errno(RV_EFAIL, errno, "cannot create a file in the staging folder");
		free(tmp);
		return rc;
	}
	unlink(tmp);
	free(tmp);
	rc = rv_cobj_fetch(s, o->key, fd, fn, ud, hdr_out);
	if (rc == RV_ENOTFOUND)
		rc = rv_error(RV_ENOTFOUND,
			      "content object '%s' vanished from the store during the restore — "
			      "run it again",
			      o->key);
	if (rc) {
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

/* ---- the overlay: logs applied on top of a manifest ------------------------- */

/* Paths one restore's logs may name: far beyond any real site, low enough
 * that a runaway log fails instead of eating memory. */
#define OV_MAX_PATHS (1u << 24)

struct ov_ent {
	struct rv_centry e; /* path and target point at owned copies */
	char *path, *target;
	uint64_t clock;
};

/* Every log record gets a tick; a `del` leaves a tombstone with its tick
 * that hides the path and everything under it from entries older than it
 * (the manifest is tick 0).  A file or link also leaves one: what was
 * under the path (a folder before) is gone. */
struct overlay {
	struct rv_hset ents;  /* path -> struct ov_ent * */
	struct rv_hset tombs; /* path -> tick */
	uint64_t clock;
	struct ov_ent **sorted;
	size_t nsorted;
};

static void ov_init(struct overlay *ov)
{
	memset(ov, 0, sizeof(*ov));
	rv_hset_init(&ov->ents, "paths in the content logs", OV_MAX_PATHS);
	rv_hset_init(&ov->tombs, "removed paths in the content logs", OV_MAX_PATHS);
}

static void ov_release(struct overlay *ov)
{
	const struct rv_hset_slot *e;
	size_t pos = 0;

	while (rv_hset_next(&ov->ents, &pos, &e)) {
		struct ov_ent *x = e->val;
		if (x) {
			free(x->path);
			free(x->target);
			free(x);
		}
	}
	rv_hset_release(&ov->ents);
	rv_hset_release(&ov->tombs);
	free(ov->sorted);
	memset(ov, 0, sizeof(*ov));
}

static int ov_tomb(struct overlay *ov, const char *path)
{
	void **slot;
	int rc = rv_hset_add(&ov->tombs, path, strlen(path), &slot);

	if (rc)
		return rc;
	*slot = (void *)(uintptr_t)++ov->clock;
	return 0;
}

static int ov_add(void *ud, const struct rv_centry *e)
{
	struct overlay *ov = ud;
	struct ov_ent *x;
	void **slot;
	int rc;

	if (e->type == RV_CE_DEL)
		return ov_tomb(ov, e->path);
	if (e->type != RV_CE_DIR && (rc = ov_tomb(ov, e->path)))
		return rc;
	if ((rc = rv_hset_add(&ov->ents, e->path, strlen(e->path), &slot)))
		return rc;
	x = *slot;
	if (!x) {
		x = rv_calloc(1, sizeof(*x));
		x->path = rv_strdup(e->path);
		*slot = x;
	}
	free(x->target);
	x->target = e->target ? rv_strdup(e->target) : NULL;
	x->e = *e;
	x->e.path = x->path;
	x->e.target = x->target;
	x->clock = ++ov->clock;
	return 0;
}

static bool ov_dead(struct overlay *ov, const char *path, uint64_t clock)
{
	for (size_t i = 0;; i++) {
		if (path[i] == '/' || !path[i]) {
			void **t = rv_hset_find(&ov->tombs, path, i);
			if (t && (uint64_t)(uintptr_t)*t > clock)
				return true;
		}
		if (!path[i])
			return false;
	}
}

static int ov_cmp(const void *a, const void *b)
{
	const struct ov_ent *x = *(struct ov_ent *const *)a, *y = *(struct ov_ent *const *)b;

	return rv_content_path_cmp(x->path, y->path);
}

static void ov_sort(struct overlay *ov)
{
	const struct rv_hset_slot *e;
	size_t pos = 0;

	ov->sorted = rv_calloc(rv_hset_count(&ov->ents) + 1, sizeof(*ov->sorted));
	ov->nsorted = 0;
	while (rv_hset_next(&ov->ents, &pos, &e))
		if (e->val)
			ov->sorted[ov->nsorted++] = e->val;
	qsort(ov->sorted, ov->nsorted, sizeof(*ov->sorted), ov_cmp);
}

/* ---- the target set: the manifest merged with the overlay, in order -------- */

struct titer {
	struct overlay *ov;
	struct rv_cobj_reader *mr; /* NULL: no manifest */
	int fd;
	const struct rv_centry *m; /* current manifest entry, NULL at its end */
	bool m_taken;		   /* handed out: advance before the next look */
	size_t i;
};

static int titer_open(struct titer *it, struct overlay *ov, int mfd, const char *mkey)
{
	int rc;

	memset(it, 0, sizeof(*it));
	it->ov = ov;
	it->fd = mfd;
	if (mfd == -1)
		return 0;
	if (lseek(mfd, 0, SEEK_SET) == -1)
		return rv_error_errno(RV_EFAIL, errno, "seek");
	if ((rc = rv_cobj_reader_new(&it->mr, mkey, rv_cobj_source_fd, &it->fd)))
		return rc;
	return rv_cobj_reader_next(it->mr, &it->m);
}

static void titer_close(struct titer *it)
{
	rv_cobj_reader_free(it->mr);
	it->mr = NULL;
}

static int titer_next(struct titer *it, const struct rv_centry **out)
{
	int rc;

	*out = NULL;
	for (;;) {
		struct ov_ent *o = it->i < it->ov->nsorted ? it->ov->sorted[it->i] : NULL;
		int c;

		if (it->m_taken) {
			it->m_taken = false;
			if ((rc = rv_cobj_reader_next(it->mr, &it->m)))
				return rc;
		}
		if (!it->m && !o)
			return 0;
		c = !it->m ? 1 : !o ? -1 : rv_content_path_cmp(it->m->path, o->path);
		if (c < 0) {
			it->m_taken = true;
			if (ov_dead(it->ov, it->m->path, 0))
				continue;
			*out = it->m;
			return 0;
		}
		if (c == 0)
			it->m_taken = true; /* the log's version replaces it */
		it->i++;
		if (ov_dead(it->ov, o->path, o->clock))
			continue;
		*out = &o->e;
		return 0;
	}
}

/* ---- the worker pool --------------------------------------------------------- */

struct pjob {
	struct rv_centry e;
	char *path;
	bool stage_only, keep; /* keep: the caller owns the job and reads the result */
	char *staged;
	enum rv_apply_result res;
	uint64_t bytes;
	int rc;
};

struct pool {
	struct rv_apply *a;
	struct rv_workq q; /* pool_job counts its failures here and returns 0 */
	pthread_mutex_t mu;
	/* under mu */
	struct rv_restore_stats st;
	int first_rc;
	char *first_msg;
};

static void pjob_free(struct pjob *j)
{
	if (!j)
		return;
	free(j->path);
	free(j->staged);
	free(j);
}

static struct pjob *pjob_new(const struct rv_centry *e, bool stage_only, bool keep)
{
	struct pjob *j = rv_calloc(1, sizeof(*j));

	j->e = *e;
	j->path = rv_strdup(e->path);
	j->e.path = j->path;
	j->e.target = NULL;
	j->stage_only = stage_only;
	j->keep = keep;
	return j;
}

static int pool_job(void *ctx, void *arg)
{
	struct pool *p = ctx;
	struct pjob *j = arg;

	if (j->stage_only)
		j->rc = rv_apply_stage(p->a, &j->e, false, &j->staged, &j->res, &j->bytes);
	else
		j->rc = rv_apply_file(p->a, &j->e, &j->res, &j->bytes);

	pthread_mutex_lock(&p->mu);
	if (j->rc) {
		p->st.failed++;
		if (!p->first_rc) {
			p->first_rc = j->rc;
			p->first_msg = rv_strdup(rv_errmsg());
		}
		if (p->st.failed <= PRINTED_FAILURES)
			rv_log(RV_LOG_ERROR, "file not restored", "path", j->path, "error",
			       rv_errmsg(), NULL);
	} else if (j->res == RV_APPLY_SAME) {
		p->st.same++;
	} else if (j->res == RV_APPLY_FIXED) {
		p->st.fixed++;
	} else {
		p->st.downloaded++;
		p->st.bytes_downloaded += j->bytes;
	}
	pthread_mutex_unlock(&p->mu);
	if (!j->keep)
		pjob_free(j);
	return 0;
}

static void pool_start(struct pool *p, struct rv_apply *a, unsigned n)
{
	memset(p, 0, sizeof(*p));
	p->a = a;
	pthread_mutex_init(&p->mu, NULL);
	rv_workq_init(&p->q, n ? n : DEFAULT_JOBS, QUEUE_CAP, pool_job, p);
}

static void pool_push(struct pool *p, struct pjob *j)
{
	/* Never refused: pool_job returns 0 (failures are counted). */
	if (rv_workq_submit(&p->q, j) && !j->keep)
		pjob_free(j);
}

/* Every job pushed has run; the workers are gone, the counts stay. */
static void pool_finish(struct pool *p)
{
	rv_workq_release(&p->q);
}

static void pool_snapshot(struct pool *p, struct rv_restore_stats *st)
{
	pthread_mutex_lock(&p->mu);
	*st = p->st;
	pthread_mutex_unlock(&p->mu);
}

static void pool_release(struct pool *p)
{
	free(p->first_msg);
	pthread_mutex_destroy(&p->mu);
}

/* ---- progress ----------------------------------------------------------------- */

struct progress {
	struct pool *pool;
	const struct rv_restore_opts *o;
	const struct rv_restore_stats *base; /* totals and what the main thread counts */
	pthread_t t;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, running;
	int64_t t0;
};

static void progress_fill(struct progress *pr, struct rv_restore_stats *st)
{
	struct rv_restore_stats w;

	pool_snapshot(pr->pool, &w);
	/* Only what the main thread set before this thread started. */
	memset(st, 0, sizeof(*st));
	st->files = pr->base->files;
	st->bytes = pr->base->bytes;
	st->extra = pr->base->extra;
	st->removed = pr->base->removed;
	st->downloaded = w.downloaded;
	st->bytes_downloaded = w.bytes_downloaded;
	st->same = w.same;
	st->fixed = w.fixed;
	st->failed = w.failed;
	st->seconds = (double)(rv_mono_ms() - pr->t0) / 1000.0;
}

static void *progress_thread(void *arg)
{
	struct progress *pr = arg;
	struct rv_restore_stats st;

	pthread_mutex_lock(&pr->mu);
	while (!pr->stop) {
		struct timespec dl;

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += pr->o->progress_ms / 1000;
		dl.tv_nsec += (long)(pr->o->progress_ms % 1000) * 1000000;
		if (dl.tv_nsec >= 1000000000) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&pr->cv, &pr->mu, &dl);
		if (pr->stop)
			break;
		pthread_mutex_unlock(&pr->mu);
		progress_fill(pr, &st);
		pr->o->progress(pr->o->progress_ud, &st, false);
		pthread_mutex_lock(&pr->mu);
	}
	pthread_mutex_unlock(&pr->mu);
	return NULL;
}

static void progress_start(struct progress *pr, struct pool *pool, const struct rv_restore_opts *o,
			   const struct rv_restore_stats *base, int64_t t0)
{
	memset(pr, 0, sizeof(*pr));
	pr->pool = pool;
	pr->o = o;
	pr->base = base;
	pr->t0 = t0;
	if (!o->progress)
		return;
	pthread_mutex_init(&pr->mu, NULL);
	pthread_cond_init(&pr->cv, NULL);
	if (pthread_create(&pr->t, NULL, progress_thread, pr) == 0)
		pr->running = true;
}

static void progress_end(struct progress *pr)
{
	if (!pr->running)
		return;
	pthread_mutex_lock(&pr->mu);
	pr->stop = true;
	pthread_cond_signal(&pr->cv);
	pthread_mutex_unlock(&pr->mu);
	pthread_join(pr->t, NULL);
	pthread_mutex_destroy(&pr->mu);
	pthread_cond_destroy(&pr->cv);
	pr->running = false;
}

/* ---- rebuilding the folder ------------------------------------------------------- */

static bool stopping(const struct rv_restore_opts *o)
{
	return o->stop && o->stop(o->stop_ud);
}

static bool is_staging(const char *path)
{
	size_t n = strlen(RV_APPLY_STAGING);

	return !strncmp(path, RV_APPLY_STAGING, n) && (path[n] == '\0' || path[n] == '/');
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return n && !strncmp(path, dir, n) && path[n] == '/';
}

/* What delete_extra leaves alone (rv_restore_opts.keep, keep_path): the
 * filter, with keep_path as its always_exclude when inside the root. */
struct keep {
	struct rv_content_opts f;
	char *rel;
};

static void keep_init(struct keep *k, struct rv_apply *a, const struct rv_restore_opts *o)
{
	memset(k, 0, sizeof(*k));
	if (o->keep)
		k->f = *o->keep;
	else
		rv_content_opts_default(&k->f);
	if (o->keep_path)
		k->rel = rv_content_rel_under(rv_apply_root(a), o->keep_path);
	k->f.always_exclude = k->rel;
}

/* Whether an extra local path stays: `*descend` when it is a folder that
 * may hold something that stays (then only the rest under it goes). */
static bool kept(const struct keep *k, const struct rv_centry *l, bool *descend)
{
	bool dir = l->type == RV_CE_DIR;
	size_t n = strlen(l->path);

	*descend = false;
	if (rv_content_excluded(&k->f, l->path, dir))
		return true;
	if (!dir)
		return false;
	if (k->rel && under(k->rel, l->path))
		*descend = true;
	for (const char *const *p = k->f.exclude ? k->f.exclude : rv_content_default_excludes;
	     !*descend && *p; p++)
		*descend = !strncmp(*p, l->path, n) && (*p)[n] == '/';
	return *descend;
}

/* First pass: totals for the progress, and what is in the folder but not
 * in the target (merged with a sorted walk of the folder). */
static int pass_count(struct rv_apply *a, struct overlay *ov, int mfd, const char *mkey,
		      const struct rv_restore_opts *o, struct rv_restore_stats *st)
{
	static const char *const none[] = {NULL};
	struct rv_content_opts co;
	const struct rv_centry *t = NULL, *l = NULL;
	struct rv_scan *scan = NULL;
	struct titer it;
	char *gone = NULL; /* an extra folder: what is under it is skipped */
	struct keep keep;
	int rc;

	keep_init(&keep, a, o);
	rv_content_opts_default(&co);
	co.root = rv_apply_root(a);
	co.exclude = none;
	if ((rc = titer_open(&it, ov, mfd, mkey)) || (rc = titer_next(&it, &t)) ||
	    (rc = rv_scan_open(&scan, &co)) || (rc = rv_scan_next(scan, &l)))
		goto out;
	while (t || l) {
		int c = !l ? 1 : !t ? -1 : rv_content_path_cmp(l->path, t->path);

		if (stopping(o)) {
			rc = rv_error(RV_EINTR, "restore interrupted");
			goto out;
		}
		if (c >= 0) {
			if (t->type == RV_CE_FILE) {
				st->files++;
				st->bytes += t->size;
			}
			if ((rc = titer_next(&it, &t)))
				goto out;
			if (c > 0)
				continue;
		}
		/* l is extra (c < 0) or matched (c == 0) */
		if (c < 0 && !is_staging(l->path) && !(gone && under(l->path, gone))) {
			bool descend = false;

			if (!o->delete_extra || kept(&keep, l, &descend)) {
				st->extra += !descend;
			} else {
				if ((rc = rv_apply_remove(a, l->path)))
					goto out;
				st->removed++;
			}
			if (l->type == RV_CE_DIR && !descend) {
				free(gone);
				gone = rv_strdup(l->path);
			}
		}
		if ((rc = rv_scan_next(scan, &l)))
			goto out;
	}
out:
	free(gone);
	free(keep.rel);
	rv_scan_free(scan);
	titer_close(&it);
	return rc;
}

static uint64_t fd_size(int fd)
{
	struct stat sb;

	return fd != -1 && fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

struct dirrec {
	char *path;
	uint32_t mode;
	int64_t mtime_ns;
};

int rv_restore_apply_point(struct rv_store *s, struct rv_apply *a, const struct rv_restore_point *p,
			   const struct rv_restore_opts *o, struct rv_restore_stats *st)
{
	struct overlay ov;
	struct rv_restore_stats base = {0};
	struct dirrec *dirs = NULL;
	size_t ndirs = 0, capdirs = 0;
	const struct rv_centry *e;
	struct progress pr;
	struct pool pool;
	struct titer it = {0};
	int64_t t0 = rv_mono_ms();
	int mfd = -1, rc = 0;

	memset(st, 0, sizeof(*st));
	ov_init(&ov);
	/* Every object is read and checked before the folder changes. */
	if (p->manifest.key && (rc = fetch_obj(s, a, &p->manifest, NULL, NULL, &mfd, NULL)))
		return rc;
	base.bytes_objects = fd_size(mfd);
	for (size_t i = 0; !rc && i < p->nlogs; i++) {
		int lfd;

		if (stopping(o))
			rc = rv_error(RV_EINTR, "restore interrupted");
		else if (!(rc = fetch_obj(s, a, &p->logs[i], ov_add, &ov, &lfd, NULL))) {
			base.bytes_objects += fd_size(lfd);
			close(lfd);
		}
	}
	if (!rc) {
		ov_sort(&ov);
		rc = pass_count(a, &ov, mfd, p->manifest.key, o, &base);
	}
	if (!rc && o->planned)
		rc = o->planned(o->planned_ud, &base);
	if (rc)
		goto out_early;

	pool_start(&pool, a, o->jobs);
	progress_start(&pr, &pool, o, &base, t0);
	rc = titer_open(&it, &ov, mfd, p->manifest.key);
	while (!rc && !(rc = titer_next(&it, &e)) && e) {
		enum rv_apply_result res;

		if (stopping(o)) {
			rc = rv_error(RV_EINTR, "restore interrupted");
			break;
		}
		switch (e->type) {
		case RV_CE_DIR:
			if ((rc = rv_apply_dir(a, e, false)))
				break;
			dirs = rv_grow(dirs, &capdirs, ndirs + 1, sizeof(*dirs));
			dirs[ndirs++] = (struct dirrec){rv_strdup(e->path), e->mode, e->mtime_ns};
			base.dirs++;
			break;
		case RV_CE_LINK:
			if ((rc = rv_apply_link(a, e, &res)))
				break;
			if (res == RV_APPLY_SKIP)
				base.links_skipped++;
			else
				base.links++;
			break;
		case RV_CE_FILE:
			pool_push(&pool, pjob_new(e, false, false));
			break;
		case RV_CE_DEL:
			break; /* never in a target set */
		}
	}
	titer_close(&it);
	pool_finish(&pool);
	progress_end(&pr);
	pool_snapshot(&pool, st);
	st->files = base.files;
	st->bytes = base.bytes;
	st->dirs = base.dirs;
	st->links = base.links;
	st->links_skipped = base.links_skipped;
	st->extra = base.extra;
	st->removed = base.removed;
	st->bytes_objects = base.bytes_objects;
	if (!rc && pool.first_rc)
		rc = rv_error(pool.first_rc,
			      "%" PRIu64 " of %" PRIu64 " files not restored; first: %s",
			      st->failed, st->files, pool.first_msg);
	pool_release(&pool);
	/* Folders last, deepest first: writing inside changes their mtime. */
	for (size_t i = ndirs; i-- > 0;) {
		if (!rc)
			rc = rv_apply_dir_finish(a, dirs[i].path, dirs[i].mode, dirs[i].mtime_ns);
		free(dirs[i].path);
	}
	free(dirs);
	if (!rc && !o->fsync_each && !o->no_sync) {
		int fd = open(rv_apply_root(a), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd == -1 || syncfs(fd) == -1)
			rc = rv_error_errno(RV_EFAIL, errno, "sync folder '%s'", rv_apply_root(a));
		if (fd != -1)
			close(fd);
	}
	st->seconds = (double)(rv_mono_ms() - t0) / 1000.0;
	if (o->progress)
		o->progress(o->progress_ud, st, true);
out_early:
	if (mfd != -1)
		close(mfd);
	ov_release(&ov);
	return rc;
}

/* ---- one log object (standby) --------------------------------------------------- */

struct logrecs {
	struct pjob **v;
	size_t n, cap;
};

static int collect_rec(void *ud, const struct rv_centry *e)
{
	struct logrecs *lr = ud;
	struct pjob *j;

	lr->v = rv_grow(lr->v, &lr->cap, lr->n + 1, sizeof(*lr->v));
	j = pjob_new(e, true, true);
	if (e->target) {
		free(j->staged);
		j->staged = rv_strdup(e->target); /* links: the target, not a file */
	}
	lr->v[lr->n++] = j;
	return 0;
}

int rv_restore_apply_log(struct rv_store *s, struct rv_apply *a, const struct rv_restore_obj *log,
			 const struct rv_restore_opts *o, rv_restore_log_fn before, void *ud,
			 uint64_t *files, uint64_t *bytes)
{
	struct logrecs lr = {0};
	struct rv_cobj_hdr h;
	struct pool pool;
	size_t nfiles = 0;
	int fd, rc;

	*files = *bytes = 0;
	if ((rc = fetch_obj(s, a, log, collect_rec, &lr, &fd, &h)))
		goto out;
	close(fd);
	if (before && (rc = before(ud, &h)))
		goto out;
	for (size_t i = 0; i < lr.n; i++)
		nfiles += lr.v[i]->e.type == RV_CE_FILE;
	if (nfiles) {
		pool_start(&pool, a, o->jobs);
		for (size_t i = 0; i < lr.n; i++)
			if (lr.v[i]->e.type == RV_CE_FILE)
				pool_push(&pool, lr.v[i]);
		pool_finish(&pool);
		*files = pool.st.downloaded;
		*bytes = pool.st.bytes_downloaded;
		if (pool.first_rc)
			rc = rv_error(pool.first_rc, "%s: %s", log->key, pool.first_msg);
		pool_release(&pool);
	}
	/* In order, as they happened: each file is renamed into place. */
	for (size_t i = 0; !rc && i < lr.n; i++) {
		struct pjob *j = lr.v[i];
		enum rv_apply_result res;

		switch (j->e.type) {
		case RV_CE_FILE:
			if (j->staged) {
				rc = rv_apply_place(a, j->staged, j->path);
				free(j->staged);
				j->staged = NULL;
			}
			break;
		case RV_CE_DIR:
			rc = rv_apply_dir(a, &j->e, true);
			break;
		case RV_CE_LINK:
			j->e.target = j->staged;
			rc = rv_apply_link(a, &j->e, &res);
			break;
		case RV_CE_DEL:
			rc = rv_apply_remove(a, j->path);
			break;
		}
	}
out:
	for (size_t i = 0; i < lr.n; i++) {
		if (lr.v[i]->e.type == RV_CE_FILE)
			rv_apply_unstage(a, lr.v[i]->staged);
		pjob_free(lr.v[i]);
	}
	free(lr.v);
	return rc;
}

/* A point's newest object, read whole to find its database position: a
 * log is a few MiB at most, a manifest of 100,000 files a few MiB. */
#define LOG_OBJ_MAX (256u << 20)

int rv_restore_point_db(struct rv_store *s, const struct rv_restore_point *p, bool *has_db,
			uint64_t *db_pos, char gen[RV_GEN_ID_LEN])
{
	const struct rv_restore_obj *o = p->nlogs ? &p->logs[p->nlogs - 1] : &p->manifest;
	struct rv_buf b = RV_BUF_INIT(LOG_OBJ_MAX);
	struct rv_cobj_hdr h;
	struct rv_cobj_mem m;
	int rc;

	*has_db = false;
	*db_pos = 0;
	gen[0] = '\0';
	if (!o->key)
		return 0;
	if ((rc = rv_store_get_buf(s, o->key, &b, NULL)))
		goto out;
	m = (struct rv_cobj_mem){b.data, b.len, 0};
	if ((rc = rv_cobj_read_checked(o->key, rv_cobj_source_mem, &m, NULL, NULL, &h)))
		goto out;
	*has_db = h.has_db;
	*db_pos = h.db_pos;
	memcpy(gen, h.gen, RV_GEN_ID_LEN);
out:
	if (rc)
		*has_db = false;
	rv_buf_release(&b);
	return rc;
}
