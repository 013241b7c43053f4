/* rekey.c - rewrite an encrypted store under its current key (rekey.h). */
#include "engine/rekey.h"
#include "core/log.h"
#include "core/retry.h"
#include "core/mem.h"
#include "core/testpoint.h"
#include "core/util.h"
#include "core/workq.h"
#include "store/crypt.h"
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define REKEY_JOBS    4
#define REKEY_RETRIES 3

struct rekey {
	struct rv_store *s;
	const struct rv_rekey_opts *o;
	const unsigned char *cur; /* the current key's id */
	struct rv_workq q;
	pthread_mutex_t mu;
	struct rv_rekey_stats *st; /* counts under mu */
};

static void count(struct rekey *r, uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&r->mu);
	*field += n;
	pthread_mutex_unlock(&r->mu);
}

/* Read `key` whole (opened with whatever key of the keyring sealed it)
 * and put it back sealed under the current key, if it still is what was
 * read.  RV_EPRECOND: it changed meanwhile; RV_ENOTFOUND: it is gone. */
static int rewrite(struct rekey *r, const char *key, uint64_t *bytes)
{
	struct rv_obj_info info = {0};
	struct rv_put_opts po = {0};
	int fd, rc;

	if ((rc = rv_tmpfile(&fd)))
		return rc;
	rc = rv_store_get_fd(r->s, key, fd, 0, 0, &info);
	if (!rc) {
		*bytes = info.size;
		if (rv_store_caps(r->s)->put_if_match) {
			po.cond = RV_PUT_IF_MATCH;
			po.if_match = info.etag;
		}
		rc = rv_store_put_fd(r->s, key, fd, UINT64_MAX, &po);
	}
	rv_obj_info_release(&info);
	close(fd);
	return rc;
}

static int rekey_one(void *ctx, void *arg)
{
	struct rekey *r = ctx;
	char *key = arg;
	unsigned char id[RV_SEAL_KEYID];
	uint64_t bytes = 0;
	int rc = 0;

	if (rv_workq_failed(&r->q) || rv_shutdown_requested()) {
		free(key);
		return 0;
	}
	for (int i = 0; i < REKEY_RETRIES; i++) {
		rc = rv_crypt_object_keyid(r->s, key, id);
		if (rc == RV_ENOTFOUND) {
			rv_error_clear();
			count(r, &r->st->vanished, 1);
			rc = 0;
			break;
		}
		if (rc)
			break;
		if (!memcmp(id, r->cur, RV_SEAL_KEYID)) {
			/* i > 0: a writer rewrote it under the current key */
			count(r, i ? &r->st->rewritten : &r->st->already, 1);
			break;
		}
		if (r->o->dry_run) {
			count(r, &r->st->rewritten, 1);
			break;
		}
		rc = rewrite(r, key, &bytes);
		if (!rc) {
			count(r, &r->st->rewritten, 1);
			count(r, &r->st->bytes, bytes);
			rv_testpoint("rekey.rewritten");
			break;
		}
		if (rc != RV_EPRECOND && rc != RV_ENOTFOUND)
			break;
		rv_error_clear(); /* changed or gone since it was read: look again */
		rc = 0;
	}
	free(key);
	return rc;
}

int rv_rekey_run(struct rv_store *s, const struct rv_rekey_opts *o, struct rv_rekey_stats *st)
{
	struct rekey r = {.s = s, .o = o, .st = st};
	struct rv_keylist kl;
	unsigned jobs = o->jobs ? o->jobs : REKEY_JOBS;
	int rc = 0, wrc;

	memset(st, 0, sizeof(*st));
	if (!rv_crypt_is(s))
		return rv_error(RV_EUSAGE, "rekey needs an encrypted store: set "
					   "store.encryption.key_file (docs/OPERATIONS.md)");
	r.cur = rv_crypt_current(s)->id;
	rv_seal_keyid_hex(st->current, r.cur);
	if ((rc = rv_store_list_keys(s, "", &kl)))
		return rc;
	pthread_mutex_init(&r.mu, NULL);
	rv_workq_init(&r.q, jobs, jobs, rekey_one, &r);
	for (size_t i = 0; !rc && i < kl.n; i++) {
		if (!strcmp(kl.v[i], RV_CRYPT_MARKER_KEY) ||
		    rv_str_startswith(kl.v[i], ".revenant/"))
			continue;
		st->scanned++;
		if (!(rc = rv_workq_submit(&r.q, kl.v[i])))
			kl.v[i] = NULL; /* the job owns it now */
	}
	wrc = rv_workq_wait(&r.q);
	if (!rc)
		rc = wrc;
	rv_workq_release(&r.q);
	pthread_mutex_destroy(&r.mu);
	rv_keylist_release(&kl);
	if (!rc && rv_shutdown_requested())
		rc = rv_error(RV_EINTR, "rekey interrupted: run it again to finish");
	/* Every object is under the current key: the other keys' entries in
	 * the marker go, so the store no longer opens with them alone. */
	if (!rc && !o->dry_run)
		rc = rv_crypt_marker_retire(s, &st->marker_dropped);
	return rc;
}
