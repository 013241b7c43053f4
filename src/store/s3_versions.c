/* s3_versions.c - the versioned view of an S3 store (store/versions.h).
 *
 * A store backend over the S3 one: listings come from ListObjectVersions,
 * reads are GetObject/HeadObject with the versionId chosen for the key.
 * The answer lists keys in order and each key's versions newest first,
 * so one pass over a page chooses, per key, the first version that is not
 * a delete marker and is not newer than `at`; the rest of that key's
 * versions are skipped (the next request starts after the key).
 *
 * Threads: the chosen versions are remembered in a hash set under `mu`;
 * everything else is per call. */
#include "store/versions.h"
#include "store/s3_int.h"
#include "core/hset.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Versions asked for per ListObjectVersions request. */
#define VER_PAGE 1000

struct chosen {
	char *vid;
	uint64_t size;
	int64_t mtime_ms;
	char etag[80];
};

struct vview {
	struct rv_store *inner; /* the S3 backend; owned */
	int64_t at_ms;
	pthread_mutex_t mu;   /* cache */
	struct rv_hset cache; /* relative key -> struct chosen * */
	bool cache_full_logged;
};

static struct vview *vv_of(struct rv_store *s)
{
	return s->impl;
}

static bool wanted(const struct vview *v, const struct rv_s3_version *e)
{
	return !e->delete_marker && e->mtime_ms <= v->at_ms;
}

static void chosen_free(struct chosen *c)
{
	if (!c)
		return;
	free(c->vid);
	free(c);
}

static struct chosen *chosen_of(const struct rv_s3_version *e)
{
	struct chosen *c = rv_calloc(1, sizeof(*c));

	c->vid = rv_strdup(e->version_id);
	c->size = e->size;
	c->mtime_ms = e->mtime_ms;
	memcpy(c->etag, e->etag, sizeof(c->etag));
	return c;
}

/* Remember the version chosen for `key` (a copy); silently not once the
 * cache is full: a get then looks the key up again. */
static void remember(struct vview *v, const char *key, const struct rv_s3_version *e)
{
	void **slot;

	pthread_mutex_lock(&v->mu);
	if (rv_hset_add(&v->cache, key, strlen(key), &slot)) {
		rv_error_clear();
		if (!v->cache_full_logged)
			rv_log(RV_LOG_INFO,
			       "versioned view: version cache full; gets look each key up", "keys",
			       "262144", NULL);
		v->cache_full_logged = true;
	} else {
		chosen_free(*slot);
		*slot = chosen_of(e);
	}
	pthread_mutex_unlock(&v->mu);
}

/* A copy of what is remembered for `key`; false when nothing is. */
static bool recall(struct vview *v, const char *key, struct chosen *out)
{
	void **slot;
	bool found = false;

	pthread_mutex_lock(&v->mu);
	slot = rv_hset_find(&v->cache, key, strlen(key));
	if (slot && *slot) {
		const struct chosen *c = *slot;
		*out = *c;
		out->vid = rv_strdup(c->vid);
		found = true;
	}
	pthread_mutex_unlock(&v->mu);
	return found;
}

/* "2026-01-02T03:04:05.678Z" */
static void fmt_time(char out[32], int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char sec[24];

	gmtime_r(&t, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%.19s.%03dZ", sec, (int)(ms % 1000));
}

/* ---- tokens: where the next listing request starts -------------------------- */

/* "<length of the key marker>:<key marker><version-id marker>"; the key
 * marker is a full key (store prefix included), as S3 wants it. */
static char *token_make(const char *key_marker, const char *vid_marker)
{
	return rv_asprintf("%zu:%s%s", strlen(key_marker), key_marker,
			   vid_marker ? vid_marker : "");
}

static int token_split(const char *tok, char **km, char **vm)
{
	const char *colon = strchr(tok, ':');
	char num[24];
	uint64_t n;

	*km = *vm = NULL;
	if (!colon || colon == tok || (size_t)(colon - tok) >= sizeof(num))
		return rv_error(RV_EUSAGE, "versioned view: bad listing token");
	memcpy(num, tok, (size_t)(colon - tok));
	num[colon - tok] = '\0';
	if (rv_parse_u64(num, &n) || n > strlen(colon + 1))
		return rv_error(RV_EUSAGE, "versioned view: bad listing token");
	*km = rv_strndup(colon + 1, (size_t)n);
	*vm = rv_strdup(colon + 1 + n);
	return 0;
}

/* A next page must start past this one: a server that hands back the
 * markers it was given would have the listing loop for ever. */
static int moved_on(const char *km, const char *vm, const char *nkm, const char *nvm)
{
	if (km && nkm && !strcmp(km, nkm) && !strcmp(vm ? vm : "", nvm ? nvm : ""))
		return rv_error(RV_ECORRUPT,
				"s3 list versions: the server answered a page that starts where "
				"it started ('%.200s') — its answer is wrong",
				nkm);
	return 0;
}

/* ---- one ListObjectVersions page ------------------------------------------------ */

static int fetch(struct vview *v, const char *prefix, const char *km, const char *vm, bool dirs,
		 struct rv_s3_version_page *out)
{
	struct rv_buf body = RV_BUF_INIT(RV_S3_MAX_XML);
	int rc;

	memset(out, 0, sizeof(*out));
	rc = rv_s3_list_versions(v->inner, prefix, km, vm, dirs, VER_PAGE, &body);
	if (!rc)
		rc = rv_s3_parse_versions(body.data, body.len, v->inner->url.prefix, out);
	rv_buf_release(&body);
	return rc;
}

static void emit(struct rv_list_page *out, size_t *alloc, const char *key,
		 const struct rv_s3_version *e)
{
	struct rv_obj_info *it;

	out->items = rv_grow(out->items, alloc, out->count + 1, sizeof(*out->items));
	it = &out->items[out->count++];
	memset(it, 0, sizeof(*it));
	it->key = rv_strdup(key);
	it->size = e->size;
	it->mtime_ms = e->mtime_ms;
	memcpy(it->etag, e->etag, sizeof(it->etag));
}

/* The keys of one page of versions, at most `max`.  A request that
 * yields no key (all delete markers, or versions after `at`) goes on to
 * the next, so that a page is empty only at the end of the listing. */
static int vv_list_page(struct rv_store *s, const char *prefix, const char *token, unsigned max,
			struct rv_list_page *out)
{
	struct vview *v = vv_of(s);
	const char *sp = v->inner->url.prefix;
	char *km = NULL, *vm = NULL, *cur = NULL;
	size_t alloc = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (token && (rc = token_split(token, &km, &vm)))
		return rc;
	while (!rc) {
		struct rv_s3_version_page pg;
		bool resolved = false, full = false;

		rc = fetch(v, prefix, km, vm, false, &pg);
		if (rc)
			break;
		free(cur);
		cur = NULL;
		for (size_t i = 0; i < pg.n && !full; i++) {
			const struct rv_s3_version *e = &pg.v[i];

			if (!cur || strcmp(cur, e->key)) {
				free(cur);
				cur = rv_strdup(e->key);
				resolved = false;
			}
			if (resolved || !wanted(v, e))
				continue;
			if (out->count == max) {
				/* One more key to show: the next page starts after
				 * the last key shown. */
				full = true;
				break;
			}
			emit(out, &alloc, e->key, e);
			remember(v, e->key, e);
			resolved = true;
		}
		if (!full && pg.truncated && !(cur && resolved))
			rc = moved_on(km, vm, pg.next_key_marker, pg.next_vid_marker);
		free(km);
		free(vm);
		km = vm = NULL;
		if (rc) {
			rv_s3_version_page_release(&pg);
			break;
		}
		if (full) {
			char *last = rv_asprintf("%s%s", sp, out->items[out->count - 1].key);
			out->next_token = token_make(last, "");
			free(last);
		} else if (pg.truncated && cur && resolved) {
			/* The key in progress is decided: skip its older versions. */
			km = rv_asprintf("%s%s", sp, cur);
			vm = rv_strdup("");
		} else if (pg.truncated) {
			km = rv_strdup(pg.next_key_marker);
			vm = rv_strdup(pg.next_vid_marker ? pg.next_vid_marker : "");
		}
		rv_s3_version_page_release(&pg);
		if (full || !km)
			break;
		if (out->count) {
			out->next_token = token_make(km, vm);
			break;
		}
	}
	free(km);
	free(vm);
	free(cur);
	if (rc)
		rv_list_page_release(out);
	return rc;
}

/* Folders: ListObjectVersions with a delimiter.  A folder shows when any
 * version lies under it (even one newer than `at`); a restore then finds
 * nothing of it at its point, as with an empty folder. */
static int vv_list_dirs_page(struct rv_store *s, const char *prefix, const char *token,
			     unsigned max, struct rv_list_page *out)
{
	struct vview *v = vv_of(s);
	struct rv_s3_version_page pg;
	char *km = NULL, *vm = NULL;
	int rc = 0;

	(void)max;
	memset(out, 0, sizeof(*out));
	if (token && (rc = token_split(token, &km, &vm)))
		return rc;
	rc = fetch(v, prefix, km, vm, true, &pg);
	free(km);
	free(vm);
	if (rc)
		return rc;
	*out = pg.dirs;
	memset(&pg.dirs, 0, sizeof(pg.dirs));
	if (pg.truncated)
		out->next_token =
		    token_make(pg.next_key_marker, pg.next_vid_marker ? pg.next_vid_marker : "");
	rv_s3_version_page_release(&pg);
	return 0;
}

/* ---- one key ------------------------------------------------------------------- */

/* The version to read for `key`: remembered from a listing, or looked up
 * with ListObjectVersions on the key alone.  RV_ENOTFOUND when the key has
 * no version to show. */
static int resolve(struct vview *v, const char *key, struct chosen *out)
{
	const char *sp = v->inner->url.prefix;
	char *km = NULL, *vm = NULL;
	bool done = false;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (recall(v, key, out))
		return 0;
	while (!rc && !done) {
		struct rv_s3_version_page pg;

		rc = fetch(v, key, km, vm, false, &pg);
		if (rc)
			break;
		done = !pg.truncated;
		for (size_t i = 0; i < pg.n; i++) {
			const struct rv_s3_version *e = &pg.v[i];
			int cmp = strcmp(e->key, key);

			if (cmp > 0) {
				done = true; /* past the key: longer keys it prefixes */
				break;
			}
			if (!cmp && wanted(v, e)) {
				struct chosen *c = chosen_of(e);
				*out = *c;
				free(c);
				remember(v, key, e);
				done = true;
				rv_s3_version_page_release(&pg);
				goto out;
			}
		}
		if (!done)
			rc = moved_on(km, vm, pg.next_key_marker, pg.next_vid_marker);
		free(km);
		free(vm);
		km = pg.next_key_marker ? rv_strdup(pg.next_key_marker) : NULL;
		vm = rv_strdup(pg.next_vid_marker ? pg.next_vid_marker : "");
		rv_s3_version_page_release(&pg);
	}
	if (!rc) {
		char when[32] = "";
		if (v->at_ms != RV_VERSIONS_NEWEST)
			fmt_time(when, v->at_ms);
		rc = rv_error(RV_ENOTFOUND, "s3 get '%s': no version of it in s3://%s/%s%s%s", key,
			      v->inner->url.bucket, sp, when[0] ? " at or before " : "", when);
	}
out:
	free(km);
	free(vm);
	return rc;
}

static int vv_head(struct rv_store *s, const char *key, struct rv_obj_info *out)
{
	struct chosen c;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = resolve(vv_of(s), key, &c);
	if (rc)
		return rc;
	out->key = rv_strdup(key);
	out->size = c.size;
	out->mtime_ms = c.mtime_ms;
	memcpy(out->etag, c.etag, sizeof(out->etag));
	free(c.vid);
	return 0;
}

static int vv_get_fd(struct rv_store *s, const char *key, int fd, uint64_t off, uint64_t len,
		     struct rv_obj_info *info_out)
{
	struct vview *v = vv_of(s);
	struct chosen c;
	int rc;

	if (info_out)
		memset(info_out, 0, sizeof(*info_out));
	rc = resolve(v, key, &c);
	if (rc)
		return rc;
	rc = rv_s3_get_version(v->inner, key, c.vid, fd, off, len, info_out);
	free(c.vid);
	return rc;
}

/* ---- writes are refused ----------------------------------------------------------- */

static int refuse(struct rv_store *s, const char *what, const char *key)
{
	return rv_error(RV_ENOTSUP,
			"%s '%s': the versioned view of %s is read-only (restore/verify "
			"--versions); write through the store itself",
			what, key, s->describe);
}

static int vv_put_fd(struct rv_store *s, const char *key, int fd, uint64_t size,
		     struct rv_put_opts *po)
{
	(void)fd;
	(void)size;
	(void)po;
	return refuse(s, "put", key);
}

static int vv_put_src(struct rv_store *s, const char *key, const struct rv_put_src *src,
		      uint64_t size, struct rv_put_opts *po)
{
	(void)src;
	(void)size;
	(void)po;
	return refuse(s, "put", key);
}

static int vv_put_buf(struct rv_store *s, const char *key, const void *data, size_t len,
		      struct rv_put_opts *po)
{
	(void)data;
	(void)len;
	(void)po;
	return refuse(s, "put", key);
}

static int vv_del(struct rv_store *s, const char *key)
{
	return refuse(s, "delete", key);
}

static void vv_free(struct rv_store *s)
{
	struct vview *v = vv_of(s);
	const struct rv_hset_slot *sl;
	size_t pos = 0;

	if (!v)
		return;
	while (rv_hset_next(&v->cache, &pos, &sl))
		chosen_free(sl->val);
	rv_hset_release(&v->cache);
	pthread_mutex_destroy(&v->mu);
	rv_store_free(v->inner);
	free(v);
	s->impl = NULL;
}

static const struct rv_store_ops versions_ops = {
    .name = "s3 versions",
    .put_fd = vv_put_fd,
    .put_buf = vv_put_buf,
    .put_src = vv_put_src,
    .get_fd = vv_get_fd,
    .head = vv_head,
    .list_page = vv_list_page,
    .del = vv_del,
    .free = vv_free,
    .list_dirs_page = vv_list_dirs_page,
};

/* ---- open -------------------------------------------------------------------------- */

static const char versioning_off[] =
    "turn versioning on with revenant bucket init; objects already deleted cannot be "
    "recovered";

/* The bucket must keep versions: Enabled, or Suspended (what it kept
 * before the suspension is still there). */
static int check_versioning(struct rv_store *in)
{
	struct rv_buf body = RV_BUF_INIT(64u << 10);
	struct rv_s3_error err;
	char status[32] = "";
	long http = 0;
	int rc;

	rc =
	    rv_s3_bucket_call(in, "get-versioning", "GET", "versioning=", NULL, &body, &http, &err);
	if (rc && (http == 501 || http == 405 || !strcmp(err.code, "NotImplemented"))) {
		rv_buf_release(&body);
		return rv_error(RV_EUSAGE,
				"--versions: the server of bucket '%s' does not support "
				"versioning (%s), so it keeps no old versions",
				in->url.bucket, err.code[0] ? err.code : "no versioning");
	}
	if (!rc && rv_s3_parse_versioning(body.data, body.len, status, sizeof(status)))
		rv_error_clear(); /* not an answer about versioning: none */
	rv_buf_release(&body);
	if (rc)
		return rc;
	if (strcmp(status, "Enabled") && strcmp(status, "Suspended"))
		return rv_error(RV_EUSAGE, "--versions: bucket '%s' has no versioning — %s",
				in->url.bucket, versioning_off);
	if (!strcmp(status, "Suspended"))
		rv_log(RV_LOG_WARN,
		       "bucket versioning is suspended: objects written since keep no old "
		       "versions",
		       "bucket", in->url.bucket, NULL);
	return 0;
}

int rv_store_versions_open(struct rv_store **sp, int64_t at_ms)
{
	struct rv_store *in = *sp, *s;
	struct vview *v;
	int rc;

	if (!rv_s3_is(in))
		return rv_error(RV_EUSAGE,
				"--versions reads old object versions of an s3:// store with "
				"versioning; '%s' is not one",
				in ? rv_store_describe(in) : "");
	rc = check_versioning(in);
	if (rc)
		return rc;
	s = rv_calloc(1, sizeof(*s));
	v = rv_calloc(1, sizeof(*v));
	v->inner = in;
	v->at_ms = at_ms;
	pthread_mutex_init(&v->mu, NULL);
	rv_hset_init(&v->cache, "keys in the version cache", RV_VERSIONS_CACHE_MAX);
	s->ops = &versions_ops;
	s->opts = in->opts;
	s->opts.creds = NULL;
	s->opts.creds_config = NULL;
	s->opts.region = NULL;
	s->url.kind = RV_STORE_S3;
	s->url.bucket = rv_strdup(in->url.bucket);
	s->url.prefix = rv_strdup(in->url.prefix);
	s->url.region = in->url.region ? rv_strdup(in->url.region) : NULL;
	s->url.endpoint = in->url.endpoint ? rv_strdup(in->url.endpoint) : NULL;
	s->url.path_style = in->url.path_style;
	s->caps.versioning = true;
	if (at_ms == RV_VERSIONS_NEWEST) {
		s->describe = rv_asprintf("%s (old versions)", in->describe);
	} else {
		char when[32];
		fmt_time(when, at_ms);
		s->describe = rv_asprintf("%s (versions at %s)", in->describe, when);
	}
	s->impl = v;
	*sp = s;
	return 0;
}
