/* prune.c - retention: plan from LIST results, delete generations and old
 * objects, then mark and sweep the blobs (see prune.h for the rules). */
#include "engine/prune.h"

#include "format/content.h"
#include "core/hset.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/testpoint.h"
#include "core/util.h"
#include "format/dbobj.h"
#include "store/store.h"
#include "engine/lease.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum okind { K_OTHER, K_META, K_CLOG, K_CMAN, K_DLOG, K_DSNAP };

struct pobj {
	char *key;
	uint64_t size;
	enum okind kind;
	uint64_t a, b; /* content: seq (a); db log: from, to; db snapshot: pos (a) */
	int64_t ms;
	bool del;
};

struct pgen {
	char id[RV_GEN_ID_LEN];
	struct pobj *o;
	size_t n, cap;
	bool keep, has_meta, has_point;
	int64_t min_ms, max_ms; /* of its recovery points */
	int64_t cut;		/* its cutoff: C, or earlier when a child needs its state */
	bool meta_read;
	char parent[RV_GEN_ID_LEN]; /* "" when none */
	int64_t created_ms;
};

/* Keys in one set (objects to delete, blobs referenced): far beyond any
 * real site, low enough that a runaway listing fails instead of eating
 * memory. */
#define PRUNE_SET_MAX (1u << 24)

struct rv_prune_plan {
	struct pgen *g;
	size_t n, cap;
	struct rv_hset del; /* every key the plan removes */
	int64_t now_ms;
};

const char *rv_prune_cat_name(enum rv_prune_cat c)
{
	static const char *const names[RV_PRUNE_NCAT] = {
	    "generations", "manifests", "logs", "db snapshots", "db segments", "blobs",
	};

	return c < RV_PRUNE_NCAT ? names[c] : "?";
}

/* ---- listing ---------------------------------------------------------------- */

/* What a key under generations/<gen>/ is, from its name alone. */
static enum okind classify(const char *rest, const char *key, uint64_t *a, uint64_t *b, int64_t *ms)
{
	*a = *b = 0;
	*ms = 0;
	if (!strcmp(rest, "meta.json"))
		return K_META;
	if (rv_str_endswith(rest, "/"))
		return K_OTHER; /* a folder marker made by another S3 tool */
	if (rv_str_startswith(rest, "content/log/") && !rv_content_key_parse(key, a, ms))
		return K_CLOG;
	if (rv_str_startswith(rest, "content/snapshot/") && !rv_content_key_parse(key, a, ms))
		return K_CMAN;
	if (rv_str_startswith(rest, "db/log/") && !rv_dbobj_key_parse(key, RV_DBOBJ_LOG, a, b, ms))
		return K_DLOG;
	if (rv_str_startswith(rest, "db/snapshot/") &&
	    !rv_dbobj_key_parse(key, RV_DBOBJ_SNAPSHOT, a, b, ms))
		return K_DSNAP;
	rv_error_clear(); /* unknown names are left alone, not an error */
	return K_OTHER;
}

static struct pgen *gen_find(struct rv_prune_plan *p, const char *id)
{
	/* A LIST returns a generation's keys together: the last one is the
	 * usual answer. */
	for (size_t i = p->n; i-- > 0;)
		if (!strcmp(p->g[i].id, id))
			return &p->g[i];
	return NULL;
}

static int collect(const struct rv_obj_info *info, void *ud)
{
	struct rv_prune_plan *p = ud;
	char id[RV_GEN_ID_LEN];
	const char *rest;
	struct pgen *g;
	struct pobj *o;

	if (!rv_key_gen_split(info->key, id, &rest))
		return 0;
	if (!(g = gen_find(p, id))) {
		if (p->n == p->cap) {
			p->cap = p->cap ? 2 * p->cap : 16;
			p->g = rv_realloc(p->g, p->cap * sizeof(*p->g));
		}
		g = &p->g[p->n++];
		memset(g, 0, sizeof(*g));
		memcpy(g->id, id, RV_GEN_ID_LEN);
	}
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 64;
		g->o = rv_realloc(g->o, g->cap * sizeof(*g->o));
	}
	o = &g->o[g->n++];
	memset(o, 0, sizeof(*o));
	o->key = rv_strdup(info->key);
	o->size = info->size;
	o->kind = classify(rest, info->key, &o->a, &o->b, &o->ms);
	if (o->kind == K_META)
		g->has_meta = true;
	if (o->kind == K_CLOG || o->kind == K_CMAN) {
		if (!g->has_point || o->ms < g->min_ms)
			g->min_ms = o->ms;
		if (!g->has_point || o->ms > g->max_ms)
			g->max_ms = o->ms;
		g->has_point = true;
	}
	return 0;
}

/* ---- reading content objects ---------------------------------------------- */

/* The blobs the content objects name, by the digest in their key (the
 * SHA-256 itself, or its keyed hash in an encrypted store). */
struct refs {
	struct rv_hset set;
	const unsigned char *name_key;
};

static int add_ref(void *ud, const struct rv_centry *e)
{
	struct refs *r = ud;
	unsigned char name[RV_SHA256_LEN];

	if (e->type != RV_CE_FILE)
		return 0;
	rv_content_blob_name(name, e->sha256, r->name_key);
	return rv_hset_add(&r->set, name, RV_SHA256_LEN, NULL);
}

/* Download `key` into `fd` (emptied first) and read it through, checked
 * against its name (content/format.h): every file record's blob goes into
 * `refs` (when not NULL), the header into `*hdr` (when not NULL). */
static int read_obj(struct rv_store *s, int fd, const char *key, struct refs *refs,
		    struct rv_cobj_hdr *hdr)
{
	int rc;

	if (ftruncate(fd, 0) == -1 || lseek(fd, 0, SEEK_SET) == -1)
		return rv_error_errno(RV_EFAIL, errno, "cannot reset a temporary file");
	rc = rv_cobj_fetch(s, key, fd, refs ? add_ref : NULL, refs, hdr);
	if (rc == RV_ENOTFOUND)
		return rv_error(RV_ENOTFOUND,
				"content object '%s' vanished during the prune (another prune "
				"running?) — run it again",
				key);
	return rc;
}

/* ---- planning --------------------------------------------------------------- */

static int read_meta(struct rv_store *s, struct pgen *g)
{
	struct rv_gen_meta m;
	int rc;

	g->meta_read = true;
	if (!g->has_meta)
		return 0;
	if ((rc = rv_gen_meta_read(s, g->id, &m)))
		return rc;
	g->created_ms = m.created_ms;
	if (m.parent && !rv_gen_id_check(m.parent))
		snprintf(g->parent, sizeof(g->parent), "%s", m.parent);
	rv_error_clear();
	rv_gen_meta_release(&m);
	return 0;
}

/* The first content sequence missing after the base of `g` for cutoff
 * `cut` (its newest manifest at or before `cut`, else sequence 1) while a
 * later log or manifest is listed: a gap (0: none; `*next` the first later
 * sequence).  From the listing alone: logs come in sequence order. */
static uint64_t content_gap(const struct pgen *g, int64_t cut, uint64_t *next)
{
	const struct pobj *base = NULL;
	uint64_t want = 1;

	*next = 0;
	for (size_t i = 0; i < g->n; i++)
		if (g->o[i].kind == K_CMAN && g->o[i].ms <= cut && (!base || g->o[i].a > base->a))
			base = &g->o[i];
	if (base)
		want = base->a + 1;
	for (size_t i = 0; i < g->n; i++) {
		const struct pobj *o = &g->o[i];

		if (o->kind != K_CLOG || o->a < want)
			continue; /* before the base, or a duplicate of a retried commit */
		if (o->a != want)
			break;
		want++;
	}
	for (size_t i = 0; i < g->n; i++) {
		const struct pobj *o = &g->o[i];

		if ((o->kind == K_CLOG && o->a > want) || (o->kind == K_CMAN && o->a >= want))
			if (!*next || o->a < *next)
				*next = o->a;
	}
	/* Nothing usable and the oldest object a manifest: a prune already
	 * removed the logs it replaced (restore's rule too). */
	if (want == 1 && *next) {
		for (size_t i = 0; i < g->n; i++)
			if (g->o[i].kind == K_CMAN && g->o[i].a == *next)
				*next = 0;
	}
	return *next ? want : 0;
}

/* Which generations stay: the lease's, those with a point at or after C,
 * and, for a kept generation without a point at or before its cutoff, its
 * parent (whose state at the child's creation is what a restore between C
 * and the child's first point gives). */
static int choose_generations(struct rv_store *s, struct rv_prune_plan *p, const char *lease_gen,
			      int64_t cutoff)
{
	bool changed = true;
	int rc;

	for (size_t i = 0; i < p->n; i++) {
		struct pgen *g = &p->g[i];

		g->cut = cutoff;
		g->keep = !strcmp(g->id, lease_gen) || (g->has_point && g->max_ms >= cutoff);
	}
	/* Cutoffs only fall and `keep` only turns on: this ends. */
	while (changed) {
		changed = false;
		for (size_t i = 0; i < p->n; i++) {
			struct pgen *g = &p->g[i], *parent;
			int64_t cut;
			uint64_t next;

			/* A gap at its first sequence: its points all build on the
			 * parent's state, and the point before the gap is that. */
			if (!g->keep || (g->has_point && g->min_ms <= g->cut &&
					 content_gap(g, g->cut, &next) != 1))
				continue;
			if (!g->meta_read && (rc = read_meta(s, g)))
				return rc;
			if (!g->parent[0] || !(parent = gen_find(p, g->parent)))
				continue;
			cut = g->created_ms < g->cut ? g->created_ms : g->cut;
			if (!parent->keep || parent->cut > cut) {
				parent->keep = true;
				if (parent->cut > cut)
					parent->cut = cut;
				changed = true;
			}
		}
	}
	return 0;
}

/* Snapshots by position, then by time (one position can be snapshotted
 * again when the database did not move). */
static bool snap_older(const struct pobj *x, const struct pobj *y)
{
	return x->a < y->a || (x->a == y->a && x->ms < y->ms);
}

/* Inside a kept generation: mark what no point at or after its cutoff
 * needs. */
static int trim_generation(struct rv_store *s, int fd, struct pgen *g)
{
	struct pobj *base = NULL, *cover = NULL, *first = NULL, *snap = NULL, *first_snap = NULL;
	uint64_t minpos = UINT64_MAX;
	int rc;

	for (size_t i = 0; i < g->n; i++) {
		struct pobj *o = &g->o[i];

		if (o->kind == K_CMAN && o->ms <= g->cut && (!base || o->a > base->a))
			base = o;
		if (o->kind != K_CLOG && o->kind != K_CMAN)
			continue;
		if (o->ms <= g->cut && (!cover || o->a > cover->a))
			cover = o;
		if (!first || o->a < first->a)
			first = o;
	}
	if (base) {
		for (size_t i = 0; i < g->n; i++) {
			struct pobj *o = &g->o[i];

			if ((o->kind == K_CMAN && o->a < base->a) ||
			    (o->kind == K_CLOG && o->a <= base->a))
				o->del = true;
		}
	}

	for (size_t i = 0; i < g->n; i++)
		if (g->o[i].kind == K_DSNAP && (!first_snap || snap_older(&g->o[i], first_snap)))
			first_snap = &g->o[i];
	if (!first_snap)
		return 0;
	/* The database position of the oldest state still needed: a snapshot
	 * taken later than its time but past its position must not become
	 * the base. */
	if (cover || first) {
		struct rv_cobj_hdr h;

		if ((rc = read_obj(s, fd, (cover ? cover : first)->key, NULL, &h)))
			return rc;
		if (h.has_db)
			minpos = h.db_pos;
	}
	for (size_t i = 0; i < g->n; i++) {
		struct pobj *o = &g->o[i];

		if (o->kind == K_DSNAP && o->ms <= g->cut && o->a <= minpos &&
		    (!snap || snap_older(snap, o)))
			snap = o;
	}
	if (!snap)
		snap = first_snap;
	if (snap->a > minpos)
		return 0; /* no snapshot before the needed position: leave it all */
	for (size_t i = 0; i < g->n; i++) {
		struct pobj *o = &g->o[i];

		if ((o->kind == K_DSNAP && snap_older(o, snap)) ||
		    (o->kind == K_DLOG && o->b <= snap->a))
			o->del = true;
	}
	return 0;
}

static enum rv_prune_cat cat_of(enum okind k)
{
	switch (k) {
	case K_CMAN:
		return RV_PRUNE_MANIFESTS;
	case K_CLOG:
		return RV_PRUNE_LOGS;
	case K_DSNAP:
		return RV_PRUNE_DB_SNAPSHOTS;
	case K_DLOG:
		return RV_PRUNE_DB_SEGMENTS;
	default:
		return RV_PRUNE_NCAT;
	}
}

void rv_prune_plan_free(struct rv_prune_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		for (size_t j = 0; j < p->g[i].n; j++)
			free(p->g[i].o[j].key);
		free(p->g[i].o);
	}
	free(p->g);
	rv_hset_release(&p->del);
	free(p);
}

int rv_prune_plan(struct rv_store *s, const struct rv_prune_opts *o, struct rv_prune_plan **out,
		  struct rv_prune_stats *st)
{
	struct rv_prune_plan *p;
	struct rv_lease lease;
	char lease_gen[RV_GEN_ID_LEN] = "";
	int64_t grace = o->blob_grace_ms > 0 ? o->blob_grace_ms : RV_PRUNE_BLOB_GRACE_MS;
	int fd = -1, rc;

	*out = NULL;
	memset(st, 0, sizeof(*st));
	if (o->retention_ms <= 0)
		return rv_error(RV_EUSAGE, "retention must be positive (e.g. 72h)");
	p = rv_calloc(1, sizeof(*p));
	rv_hset_init(&p->del, "objects to delete", PRUNE_SET_MAX);
	p->now_ms = o->now_ms ? o->now_ms : rv_now_ms();
	st->cutoff_ms = p->now_ms - o->retention_ms;
	st->blob_cutoff_ms = p->now_ms - grace < st->cutoff_ms ? p->now_ms - grace : st->cutoff_ms;

	/* The lease first: a generation started after this read is newer than
	 * the listing below, so it is not in the plan at all. */
	rc = rv_lease_read(s, &lease);
	if (!rc) {
		memcpy(lease_gen, lease.gen, RV_GEN_ID_LEN);
		rv_lease_release(&lease);
	} else if (rc == RV_ENOTFOUND) {
		rv_error_clear();
		rc = 0;
	}
	if (!rc)
		rc = rv_store_list(s, RV_KEY_GENERATIONS, collect, p);
	if (!rc)
		rc = choose_generations(s, p, lease_gen, st->cutoff_ms);
	if (!rc)
		rc = rv_tmpfile(&fd);
	for (size_t i = 0; !rc && i < p->n; i++) {
		struct pgen *g = &p->g[i];
		uint64_t miss, next;

		if (!g->keep) {
			for (size_t j = 0; j < g->n; j++)
				g->o[j].del = true;
			continue;
		}
		if ((miss = content_gap(g, g->cut, &next))) {
			struct rv_restore_gap gap = {.missing = miss, .next = next};
			char d[160];

			memcpy(gap.gen, g->id, RV_GEN_ID_LEN);
			rv_restore_gap_describe(d, sizeof(d), &gap);
			rv_log(RV_LOG_ERROR,
			       "prune leaves a generation whole: its content log has a gap", "gap",
			       d, NULL);
			if (!st->gap_generations++)
				st->gap = gap;
			continue;
		}
		rc = trim_generation(s, fd, g);
	}
	if (fd >= 0)
		close(fd);
	if (rc) {
		rv_prune_plan_free(p);
		return rc;
	}

	for (size_t i = 0; i < p->n; i++) {
		struct pgen *g = &p->g[i];

		if (g->keep)
			st->generations_kept++;
		else
			st->removed[RV_PRUNE_GENERATIONS].count++;
		for (size_t j = 0; j < g->n; j++) {
			struct pobj *ob = &g->o[j];

			if (!ob->del)
				continue;
			if ((rc = rv_hset_add(&p->del, ob->key, strlen(ob->key), NULL))) {
				rv_prune_plan_free(p);
				return rc;
			}
			if (!g->keep) {
				st->removed[RV_PRUNE_GENERATIONS].bytes += ob->size;
			} else if (cat_of(ob->kind) < RV_PRUNE_NCAT) {
				st->removed[cat_of(ob->kind)].count++;
				st->removed[cat_of(ob->kind)].bytes += ob->size;
			}
		}
	}
	*out = p;
	return 0;
}

/* ---- executing -------------------------------------------------------------- */

/* Deletes in flight at once (rv_store_delete_many). */
#define DELETE_JOBS 8

struct keyvec {
	char **v; /* borrowed from the plan or the listing */
	size_t n, cap;
};

static void kv_add(struct keyvec *kv, char *key)
{
	if (kv->n == kv->cap) {
		kv->cap = kv->cap ? 2 * kv->cap : 64;
		kv->v = rv_realloc(kv->v, kv->cap * sizeof(*kv->v));
	}
	kv->v[kv->n++] = key;
}

/* Delete the keys gathered so far and empty the vector. */
static int kv_delete(struct rv_store *s, struct keyvec *kv, const char *what)
{
	int rc = rv_store_delete_many(s, kv->v, kv->n, DELETE_JOBS);

	if (!rc && kv->n) {
		char n[24];

		snprintf(n, sizeof(n), "%zu", kv->n);
		rv_log(RV_LOG_DEBUG, "prune deleted", "what", what, "objects", n, NULL);
	}
	kv->n = 0;
	return rc;
}

static int delete_planned(struct rv_store *s, const struct rv_prune_plan *p)
{
	struct keyvec kv = {0};
	int rc = 0;

	/* Generations nothing needs, each with meta.json last: a prune killed
	 * half-way leaves a generation that is still listed and is finished by
	 * the next run. */
	for (size_t i = 0; !rc && i < p->n; i++) {
		const struct pgen *g = &p->g[i];

		if (g->keep)
			continue;
		rv_testpoint("prune.generation");
		for (int pass = 0; !rc && pass < 2; pass++) {
			for (size_t j = 0; j < g->n; j++)
				if ((g->o[j].kind == K_META) == (pass == 1))
					kv_add(&kv, g->o[j].key);
			rc = kv_delete(s, &kv, pass ? "generation meta" : "generation objects");
		}
		if (!rc)
			rv_log(RV_LOG_INFO, "prune removed generation", "generation", g->id, NULL);
	}
	/* Inside kept generations only objects older than every base go;
	 * nothing within the window needs any of them. */
	for (size_t i = 0; !rc && i < p->n; i++) {
		const struct pgen *g = &p->g[i];

		if (!g->keep)
			continue;
		for (size_t j = 0; j < g->n; j++)
			if (g->o[j].del)
				kv_add(&kv, g->o[j].key);
		rc = kv_delete(s, &kv, "objects before the oldest base");
	}
	free(kv.v);
	return rc;
}

struct mark {
	struct rv_store *s;
	const struct rv_hset *del;
	struct refs refs;
	char **keys;
	size_t n, cap;
};

static int collect_live(const struct rv_obj_info *info, void *ud)
{
	struct mark *m = ud;
	char id[RV_GEN_ID_LEN];
	const char *rest;
	uint64_t a, b;
	int64_t ms;
	enum okind k;

	if (!rv_key_gen_split(info->key, id, &rest))
		return 0;
	k = classify(rest, info->key, &a, &b, &ms);
	if ((k != K_CLOG && k != K_CMAN) || rv_hset_has(m->del, info->key, strlen(info->key)))
		return 0;
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 64;
		m->keys = rv_realloc(m->keys, m->cap * sizeof(*m->keys));
	}
	m->keys[m->n++] = rv_strdup(info->key);
	return 0;
}

/* Every content object still listed (minus what the plan removes, for a
 * dry run) names the blobs that stay.  A fresh LIST, so objects written
 * while the prune ran count too. */
static int mark_blobs(struct mark *m)
{
	int fd, rc;

	if ((rc = rv_store_list(m->s, RV_KEY_GENERATIONS, collect_live, m)))
		return rc;
	if ((rc = rv_tmpfile(&fd)))
		return rc;
	for (size_t i = 0; !rc && i < m->n; i++)
		rc = read_obj(m->s, fd, m->keys[i], &m->refs, NULL);
	close(fd);
	return rc;
}

struct blobvec {
	struct rv_obj_info *v;
	size_t n, cap;
};

static int collect_blob(const struct rv_obj_info *info, void *ud)
{
	struct blobvec *bv = ud;

	if (bv->n == bv->cap) {
		bv->cap = bv->cap ? 2 * bv->cap : 256;
		bv->v = rv_realloc(bv->v, bv->cap * sizeof(*bv->v));
	}
	bv->v[bv->n] = *info;
	bv->v[bv->n++].key = rv_strdup(info->key);
	return 0;
}

/* The digest a blob key names, or false for anything that is not exactly
 * blobs/sha256/<aa>/<64 hex> (never deleted). */
static int sweep_blobs(struct rv_store *s, const struct refs *refs, bool dry_run,
		       struct rv_prune_stats *st)
{
	struct blobvec bv = {0};
	struct keyvec doomed = {0};
	int rc = rv_store_list(s, rv_content_blob_prefix(refs->name_key), collect_blob, &bv);

	for (size_t i = 0; !rc && i < bv.n; i++) {
		const struct rv_obj_info *b = &bv.v[i];
		unsigned char sha[RV_SHA256_LEN];

		if (!rv_content_blob_key_parse(b->key, refs->name_key, sha) ||
		    rv_hset_has(&refs->set, sha, sizeof(sha))) {
			st->blobs_kept++;
			continue;
		}
		if (b->mtime_ms >= st->blob_cutoff_ms) {
			st->blobs_kept++;
			st->blobs_young++;
			continue;
		}
		kv_add(&doomed, b->key);
		st->removed[RV_PRUNE_BLOBS].count++;
		st->removed[RV_PRUNE_BLOBS].bytes += b->size;
	}
	if (!rc && !dry_run) {
		rv_testpoint("prune.blobs");
		rc = kv_delete(s, &doomed, "blobs");
	}
	free(doomed.v);
	for (size_t i = 0; i < bv.n; i++)
		free(bv.v[i].key);
	free(bv.v);
	return rc;
}

int rv_prune_execute(struct rv_store *s, const struct rv_prune_plan *p,
		     const struct rv_prune_opts *o, struct rv_prune_stats *st)
{
	struct mark m = {.s = s, .del = &p->del};
	int rc = 0;

	if (!o->dry_run && (rc = delete_planned(s, p)))
		return rc;
	rv_hset_init(&m.refs.set, "blobs referenced", PRUNE_SET_MAX);
	rc = rv_store_name_key(s, &m.refs.name_key);
	if (!rc)
		rc = mark_blobs(&m);
	st->blobs_referenced = rv_hset_count(&m.refs.set);
	if (rc) {
		st->blobs_skipped = true;
		rv_log(RV_LOG_ERROR, "prune deletes no blob: a content object could not be read",
		       "error", rv_errmsg(), NULL);
	} else {
		rc = sweep_blobs(s, &m.refs, o->dry_run, st);
	}
	for (size_t i = 0; i < m.n; i++)
		free(m.keys[i]);
	free(m.keys);
	rv_hset_release(&m.refs.set);
	return rc;
}

int rv_prune_run(struct rv_store *s, const struct rv_prune_opts *o, struct rv_prune_stats *st)
{
	struct rv_prune_plan *p;
	int rc = rv_prune_plan(s, o, &p, st);

	if (rc)
		return rc;
	rc = rv_prune_execute(s, p, o, st);
	rv_prune_plan_free(p);
	if (!rc && st->gap.missing) {
		char d[160];

		rv_restore_gap_describe(d, sizeof(d), &st->gap);
		rc = rv_error(RV_ECORRUPT,
			      "%s — prune left %" PRIu64
			      " generation(s) whole (nothing in them deleted) and did the rest; "
			      "the gap goes once replicate's manifests past it leave it outside "
			      "the retention window, or restore the point before it with "
			      "--before-gap",
			      d, st->gap_generations);
	}
	return rc;
}
