/* replicate_state.c - base manifest + overlay of committed changes (see
 * replicate_state.h). */
#include "engine/replicate_state.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "store/store.h"
#include "engine/lease.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void change_release(struct rv_cchange *x)
{
	rv_centry_release(&x->e);
}

void rv_cchanges_clear(struct rv_cchanges *c)
{
	for (size_t i = 0; i < c->n; i++)
		change_release(&c->v[i]);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

/* Index of the first change whose path is >= `path`. */
static size_t lower(const struct rv_cchanges *c, const char *path)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rv_content_path_cmp(c->v[mid].e.path, path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool under(const char *p, const char *top, size_t tlen)
{
	return !strncmp(p, top, tlen) && p[tlen] == '/';
}

void rv_cchanges_apply(struct rv_cchanges *c, const struct rv_centry *e)
{
	size_t i = lower(c, e->path);
	struct rv_cchange *x;

	if (i == c->n || strcmp(c->v[i].e.path, e->path)) {
		if (c->n == c->cap) {
			c->cap = c->cap ? 2 * c->cap : 64;
			c->v = rv_realloc(c->v, c->cap * sizeof(*c->v));
		}
		memmove(&c->v[i + 1], &c->v[i], (c->n - i) * sizeof(*c->v));
		c->n++;
		x = &c->v[i];
		memset(x, 0, sizeof(*x));
		x->e.path = rv_strdup(e->path);
	} else {
		x = &c->v[i];
	}
	if (e->type == RV_CE_DEL) {
		size_t tlen = strlen(e->path), j = i + 1;

		/* Everything recorded under it since the base goes with it; what
		 * the base had under it is dropped by the del at merge time. */
		while (j < c->n && under(c->v[j].e.path, e->path, tlen))
			change_release(&c->v[j++]);
		memmove(&c->v[i + 1], &c->v[j], (c->n - j) * sizeof(*c->v));
		c->n -= j - i - 1;
		x->del = true;
		x->has = false;
		free((char *)x->e.target);
		x->e.target = NULL;
		return;
	}
	{
		char *path = (char *)x->e.path;

		free((char *)x->e.target);
		x->e = *e;
		x->e.path = path;
		x->e.target = e->target ? rv_strdup(e->target) : NULL;
		x->has = true;
	}
	/* A file or link replacing a folder: the folder's old contents are
	 * gone even if no del said so (reconcile and the watcher always send
	 * one first, this keeps a manifest valid regardless). */
	if (e->type != RV_CE_DIR) {
		size_t tlen = strlen(e->path), j = i + 1;

		x->del = true;
		while (j < c->n && under(c->v[j].e.path, e->path, tlen))
			change_release(&c->v[j++]);
		memmove(&c->v[i + 1], &c->v[j], (c->n - j) * sizeof(*c->v));
		c->n -= j - i - 1;
	}
}

int rv_cstate_merge(int base_fd, const char *name, const struct rv_cchanges *c, rv_cstate_cb cb,
		    void *ud)
{
	struct rv_cobj_reader *r = NULL;
	const struct rv_centry *b = NULL;
	const char *delp = NULL;
	size_t dlen = 0, i = 0;
	int fd = base_fd, rc = 0;

	if (base_fd >= 0) {
		if (lseek(base_fd, 0, SEEK_SET) == -1)
			return rv_error_errno(RV_EFAIL, errno, "cannot rewind '%s'", name);
		if ((rc = rv_cobj_reader_new(&r, name, rv_cobj_source_fd, &fd)))
			return rc;
		rc = rv_cobj_reader_next(r, &b);
	}
	while (!rc && (b || i < c->n)) {
		int cmp = !b ? 1 : i == c->n ? -1 : rv_content_path_cmp(b->path, c->v[i].e.path);

		if (cmp < 0) {
			if (!(delp && under(b->path, delp, dlen)))
				rc = cb(ud, b);
			if (!rc)
				rc = rv_cobj_reader_next(r, &b);
			continue;
		}
		{
			const struct rv_cchange *x = &c->v[i++];

			if (x->del && !(delp && under(x->e.path, delp, dlen))) {
				delp = x->e.path;
				dlen = strlen(delp);
			}
			if (cmp == 0)
				rc = rv_cobj_reader_next(r, &b);
			if (!rc && x->has)
				rc = cb(ud, &x->e);
		}
	}
	rv_cobj_reader_free(r);
	return rc;
}

void rv_cstate_init(struct rv_cstate *s)
{
	memset(s, 0, sizeof(*s));
	s->base_fd = -1;
}

void rv_cstate_release(struct rv_cstate *s)
{
	if (s->base_fd >= 0)
		close(s->base_fd);
	rv_cchanges_clear(&s->changes);
	rv_cstate_init(s);
}

/* Download `key` into a fresh temporary file, checked against its name
 * (content/format.h: the key says the kind, generation and sequence the
 * caller asked for). */
static int fetch_verified(struct rv_store *st, const char *key, int *fd_out)
{
	int fd, rc;

	*fd_out = -1;
	if ((rc = rv_tmpfile(&fd)))
		return rc;
	if ((rc = rv_cobj_fetch(st, key, fd, NULL, NULL, NULL))) {
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

struct last_key {
	char *key;
};

static int keep_last(const struct rv_obj_info *info, void *ud)
{
	struct last_key *l = ud;

	free(l->key);
	l->key = rv_strdup(info->key);
	return 0;
}

static int apply_log(struct rv_store *st, const char *key, struct rv_cchanges *c)
{
	struct rv_cobj_reader *r = NULL;
	const struct rv_centry *e;
	int fd, rc;

	/* Verified whole first: a damaged log must not half-apply. */
	if ((rc = fetch_verified(st, key, &fd)))
		return rc;
	rc = rv_cobj_reader_new(&r, key, rv_cobj_source_fd, &fd);
	while (!rc && !(rc = rv_cobj_reader_next(r, &e)) && e)
		rv_cchanges_apply(c, e);
	rv_cobj_reader_free(r);
	close(fd);
	return rc;
}

struct log_scan {
	uint64_t next; /* the sequence wanted next */
	char **keys;   /* in order */
	size_t n, cap;
	bool gap;
};

static int collect_log(const struct rv_obj_info *info, void *ud)
{
	struct log_scan *ls = ud;
	uint64_t seq;
	int64_t ms;

	if (rv_content_key_parse(info->key, &seq, &ms))
		return 0; /* not ours (a temporary of a backend, say) */
	if (seq < ls->next)
		return 0; /* a duplicate of a retried commit: the first one counts */
	if (seq > ls->next) {
		ls->gap = true;
		return 1;
	}
	ls->keys = rv_grow(ls->keys, &ls->cap, ls->n + 1, sizeof(*ls->keys));
	ls->keys[ls->n++] = rv_strdup(info->key);
	ls->next++;
	return 0;
}

static int load_one(struct rv_store *st, const char *gen, struct rv_cstate *out, bool *empty)
{
	char *mprefix = rv_content_manifest_prefix(gen), *lprefix = rv_content_log_prefix(gen);
	struct last_key last = {NULL};
	int rc;

	*empty = true;
	rc = rv_store_list(st, mprefix, keep_last, &last);
	if (!rc && last.key) {
		rc = rv_content_key_parse(last.key, &out->manifest_seq, &out->manifest_ms);
		if (!rc)
			rc = fetch_verified(st, last.key, &out->base_fd);
		*empty = false;
	}
	out->seq = out->manifest_seq;
	out->seq_ms = out->manifest_ms;
	/* FORMAT.md, "Finding the latest point": one LIST per 256 sequence
	 * numbers, until a block does not continue the sequence. */
	while (!rc) {
		struct log_scan ls = {.next = out->seq + 1};
		char *prefix = rv_content_log_block_prefix(gen, out->seq + 1);

		rc = rv_store_list(st, prefix, collect_log, &ls);
		if (rc == 1)
			rc = 0;
		free(prefix);
		for (size_t i = 0; i < ls.n; i++) {
			uint64_t seq;
			int64_t ms;

			if (!rc)
				rc = rv_content_key_parse(ls.keys[i], &seq, &ms);
			if (!rc)
				rc = apply_log(st, ls.keys[i], &out->changes);
			if (!rc) {
				out->seq = seq;
				out->seq_ms = ms;
				out->logs++;
				*empty = false;
			}
			free(ls.keys[i]);
		}
		free(ls.keys);
		/* A block that ended exactly at its boundary may continue in the
		 * next one; anything else ends the log. */
		if (rc || !ls.n || ls.gap || ((out->seq + 1) & 0xff))
			break;
	}
	free(last.key);
	free(mprefix);
	free(lprefix);
	return rc;
}

int rv_cstate_load(struct rv_store *st, const char *gen, unsigned follow_parents,
		   struct rv_cstate *out)
{
	char cur[RV_GEN_ID_LEN];
	int rc;

	rv_cstate_init(out);
	snprintf(cur, sizeof(cur), "%s", gen);
	for (unsigned depth = 0;; depth++) {
		struct rv_gen_meta meta;
		bool empty;

		rv_cstate_release(out);
		if ((rc = load_one(st, cur, out, &empty))) {
			rv_cstate_release(out);
			return rc;
		}
		if (!empty) {
			memcpy(out->gen, cur, RV_GEN_ID_LEN);
			return 0;
		}
		if (depth == follow_parents)
			return 0;
		rc = rv_gen_meta_read(st, cur, &meta);
		if (rc == RV_ENOTFOUND)
			return 0;
		if (rc)
			return rc;
		if (!meta.parent) {
			rv_gen_meta_release(&meta);
			return 0;
		}
		snprintf(cur, sizeof(cur), "%s", meta.parent);
		rv_gen_meta_release(&meta);
	}
}

struct wctx {
	struct rv_cobj_writer *w;
	uint64_t files, bytes;
};

static int write_one(void *ud, const struct rv_centry *e)
{
	struct wctx *x = ud;

	if (e->type == RV_CE_FILE) {
		x->files++;
		x->bytes += e->size;
	}
	return rv_cobj_writer_add(x->w, e);
}

int rv_cstate_write_manifest(int base_fd, const struct rv_cchanges *c, const struct rv_cobj_hdr *h,
			     int *fd_out, uint64_t *files, uint64_t *bytes, uint64_t *entries)
{
	struct wctx x = {0};
	int fd, rc;

	*fd_out = -1;
	if ((rc = rv_tmpfile(&fd)))
		return rc;
	rc = rv_cobj_writer_new(&x.w, h, true, rv_cobj_sink_fd, &fd);
	if (!rc)
		rc = rv_cstate_merge(base_fd, "the previous manifest", c, write_one, &x);
	if (!rc)
		rc = rv_cobj_writer_finish(x.w);
	if (!rc && entries)
		*entries = rv_cobj_writer_count(x.w);
	rv_cobj_writer_free(x.w);
	if (!rc && lseek(fd, 0, SEEK_SET) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "cannot rewind a temporary file");
	if (rc) {
		close(fd);
		return rc;
	}
	if (files)
		*files = x.files;
	if (bytes)
		*bytes = x.bytes;
	*fd_out = fd;
	return 0;
}
