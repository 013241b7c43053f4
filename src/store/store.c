/* store.c - URL parsing, key rules and dispatch to the backends. */
#include "store/store.h"
#include "core/mem.h"
#include "core/testpoint.h"
#include "core/util.h"
#include "core/workq.h"

#include <errno.h>
#include <limits.h>
#include <sys/mman.h>
#include <unistd.h>
#include <strings.h>

void rv_store_opts_default(struct rv_store_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->part_size = 8u << 20;
	o->multipart_threshold = 8u << 20;
	o->parts_in_flight = 4;
	o->connect_timeout_ms = 5000;
	o->request_timeout_ms = 60000;
	o->deadline_ms = 300000;
	o->max_attempts = 8;
	o->retry_base_ms = 100;
	o->retry_cap_ms = 10000;
	o->fsync = true;
}

void rv_store_url_release(struct rv_store_url *u)
{
	free(u->path);
	free(u->bucket);
	free(u->prefix);
	free(u->region);
	free(u->endpoint);
	memset(u, 0, sizeof(*u));
}

/* Decode %XX in place; RV_EUSAGE on a bad escape or an encoded NUL. */
static int pct_decode(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (*r == '%') {
			int v = 0;
			for (int i = 1; i <= 2; i++) {
				char c = r[i];
				v <<= 4;
				if (c >= '0' && c <= '9')
					v |= c - '0';
				else if (c >= 'a' && c <= 'f')
					v |= c - 'a' + 10;
				else if (c >= 'A' && c <= 'F')
					v |= c - 'A' + 10;
				else
					return RV_EUSAGE;
			}
			if (!v)
				return RV_EUSAGE;
			*w++ = (char)v;
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) {
		*out = false;
		return 0;
	}
	return RV_EUSAGE;
}

static bool valid_bucket(const char *b)
{
	size_t n = strlen(b);

	/* S3 rules: 3-63 chars, lower-case letters, digits, '.', '-', starting
	 * and ending with a letter or digit. */
	if (n < 3 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = b[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
			return false;
	}
	return b[0] != '.' && b[0] != '-' && b[n - 1] != '.' && b[n - 1] != '-';
}

static int parse_s3_query(struct rv_store_url *u, char *q, const char *url)
{
	char *save = NULL;

	for (char *kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		char *v = eq ? eq + 1 : kv + strlen(kv); /* writable: pct_decode */
		if (eq)
			*eq = '\0';
		if (pct_decode(v))
			return rv_error(RV_EUSAGE, "bad %%-escape in '%s' of store URL '%s'", kv,
					url);
		if (!strcmp(kv, "region")) {
			if (!*v)
				return rv_error(RV_EUSAGE, "empty region in store URL '%s'", url);
			free(u->region);
			u->region = rv_strdup(v);
		} else if (!strcmp(kv, "endpoint")) {
			if (!rv_str_startswith(v, "http://") && !rv_str_startswith(v, "https://"))
				return rv_error(
				    RV_EUSAGE,
				    "endpoint '%s' in store URL must start with http:// "
				    "or https://",
				    v);
			free(u->endpoint);
			u->endpoint = rv_strdup(v);
			/* A trailing '/' would double up in request paths. */
			while (rv_str_endswith(u->endpoint, "/") && strlen(u->endpoint) > 8)
				u->endpoint[strlen(u->endpoint) - 1] = '\0';
		} else if (!strcmp(kv, "path_style")) {
			if (parse_bool(v, &u->path_style))
				return rv_error(
				    RV_EUSAGE,
				    "path_style in store URL must be true or false, not '%s'", v);
		} else {
			return rv_error(
			    RV_EUSAGE,
			    "unknown option '%s' in store URL '%s' (known: region, endpoint, "
			    "path_style)",
			    kv, url);
		}
	}
	return 0;
}

static int parse_s3(struct rv_store_url *u, const char *rest, const char *url)
{
	char *copy = rv_strdup(rest), *q, *slash, *prefix;
	int rc = 0;

	q = strchr(copy, '?');
	if (q) {
		*q++ = '\0';
		rc = parse_s3_query(u, q, url);
		if (rc)
			goto out;
	}
	slash = strchr(copy, '/');
	if (slash)
		*slash = '\0';
	if (!valid_bucket(copy)) {
		rc = rv_error(RV_EUSAGE,
			      "'%s' is not a valid bucket name in store URL '%s' (3-63 characters: "
			      "a-z, 0-9, '.', '-')",
			      copy, url);
		goto out;
	}
	u->bucket = rv_strdup(copy);
	prefix = slash ? slash + 1 : copy + strlen(copy); /* writable: pct_decode */
	while (*prefix == '/')
		prefix++;
	if (pct_decode(prefix)) {
		rc = rv_error(RV_EUSAGE, "bad %%-escape in the prefix of store URL '%s'", url);
		goto out;
	}
	/* Checked after decoding: "%2F" must not smuggle in a leading '/'. */
	if (*prefix == '/') {
		rc = rv_error(RV_EUSAGE, "the prefix of store URL '%s' must not start with '/'",
			      url);
		goto out;
	}
	if (*prefix && !rv_str_endswith(prefix, "/"))
		u->prefix = rv_asprintf("%s/", prefix);
	else
		u->prefix = rv_strdup(prefix);
	if (*u->prefix && strstr(u->prefix, "//")) {
		rc = rv_error(RV_EUSAGE, "empty path segment in the prefix of store URL '%s'", url);
		goto out;
	}
	/* S3-compatible servers at a custom endpoint rarely have wildcard DNS
	 * for virtual-hosted buckets: path-style unless the URL says otherwise. */
	if (u->endpoint && !strstr(url, "path_style="))
		u->path_style = true;
out:
	free(copy);
	return rc;
}

static int parse_file(struct rv_store_url *u, const char *rest, const char *url)
{
	char *p;
	size_t n;

	/* file:///abs/path: after "file://" comes an empty host and the path. */
	if (rest[0] != '/')
		return rv_error(
		    RV_EUSAGE, "store URL '%s' must be file:///absolute/path (three slashes)", url);
	if (strchr(rest, '?') || strchr(rest, '#'))
		return rv_error(RV_EUSAGE, "file store URL '%s' takes no options", url);
	p = rv_strdup(rest);
	if (pct_decode(p)) {
		free(p);
		return rv_error(RV_EUSAGE, "bad %%-escape in store URL '%s'", url);
	}
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	if (strstr(p, "/../") || rv_str_endswith(p, "/..") || strstr(p, "/./")) {
		free(p);
		return rv_error(RV_EUSAGE, "store URL '%s' must not contain '.' or '..'", url);
	}
	u->path = p;
	return 0;
}

int rv_store_url_parse(struct rv_store_url *out, const char *url)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (!url || !*url)
		return rv_error(RV_EUSAGE,
				"empty store URL (use file:///path or s3://bucket/prefix)");
	if (rv_str_startswith(url, "file://")) {
		out->kind = RV_STORE_FILE;
		rc = parse_file(out, url + 7, url);
	} else if (rv_str_startswith(url, "s3://")) {
		out->kind = RV_STORE_S3;
		rc = parse_s3(out, url + 5, url);
	} else if (url[0] == '/') {
		return rv_error(RV_EUSAGE, "store URL '%s' needs a scheme: file://%s", url, url);
	} else {
		return rv_error(
		    RV_EUSAGE,
		    "unsupported store URL '%s' (use file:///path or s3://bucket/prefix)", url);
	}
	if (rc)
		rv_store_url_release(out);
	return rc;
}

int rv_store_key_check(const char *key)
{
	const char *seg = key;
	size_t n = strlen(key);

	if (!n)
		return rv_error(RV_EUSAGE, "empty object key");
	if (n > 900)
		return rv_error(RV_EUSAGE, "object key longer than 900 bytes");
	if (key[0] == '/')
		return rv_error(RV_EUSAGE, "object key '%s' must not start with '/'", key);
	for (const char *p = key;; p++) {
		if (*p == '/' || !*p) {
			size_t len = (size_t)(p - seg);
			if (len == 0 && *p)
				return rv_error(RV_EUSAGE, "object key '%s' has an empty segment",
						key);
			if ((len == 1 && seg[0] == '.') ||
			    (len == 2 && seg[0] == '.' && seg[1] == '.'))
				return rv_error(RV_EUSAGE,
						"object key '%s' has a '.' or '..' segment", key);
			if (!*p)
				break;
			seg = p + 1;
		} else if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			return rv_error(RV_EUSAGE, "object key has a control character");
		}
	}
	return 0;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

int rv_store_key_local(const char *key, const char *prefix, const char **rel)
{
	size_t pl = strlen(prefix), n;
	const char *r, *seg;

	*rel = NULL;
	if (strncmp(key, prefix, pl) || has_control(key))
		return rv_error(RV_ECORRUPT,
				"listed key '%.200s' is not under the prefix '%.200s' or has a "
				"control byte — the store's answer is wrong",
				has_control(key) ? "(unprintable)" : key, prefix);
	r = key + pl;
	n = strlen(r);
	if (!n || r[0] == '/' || n > PATH_MAX / 2)
		return rv_error(RV_ECORRUPT,
				"listed key '%.200s' gives an empty, absolute or too long local "
				"name under the prefix '%.200s'",
				key, prefix);
	for (seg = r;;) {
		size_t len = strcspn(seg, "/");

		/* One trailing '/' is a folder marker ("dir/") made by other
		 * S3 tools; any other empty segment, ".", ".." or an over-long
		 * name is refused. */
		if ((!len && seg[0]) || (!len && seg == r) || len > NAME_MAX ||
		    (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return rv_error(RV_ECORRUPT,
					"listed key '%.200s' would name a path outside its folder "
					"(an empty, '.', '..' or over-long segment) — refused",
					key);
		if (!seg[len] || !seg[len + 1])
			break;
		seg += len + 1;
	}
	*rel = r;
	return 0;
}

/* A listing is the server's answer, not trusted: every key it hands out
 * must start with the prefix asked for and have no control byte (a key
 * shorter than the prefix, or beside it, would otherwise be sliced past
 * its end or land outside the caller's folder), and a folder from
 * list_dirs is "<prefix>SEG/" with no other '/'.  Anything else refuses
 * the whole answer. */
static int check_page(const struct rv_store *s, const char *prefix, bool dirs,
		      const struct rv_list_page *pg)
{
	size_t pl = strlen(prefix);

	for (size_t i = 0; i < pg->count; i++) {
		const char *k = pg->items[i].key, *rest;
		bool bad = !k || strncmp(k, prefix, pl) || has_control(k) || strlen(k) > 4096;

		if (!bad && dirs) {
			rest = k + pl;
			bad = !*rest || strchr(rest, '/') != rest + strlen(rest) - 1;
		}
		if (bad)
			return rv_error(
			    RV_ECORRUPT,
			    "the listing of '%.200s' in '%s' returned the key '%.200s', which is "
			    "not %s under that prefix — the server's answer is wrong or hostile",
			    prefix, s->describe, !k || has_control(k) ? "(unprintable)" : k,
			    dirs ? "a folder" : "a key");
	}
	return 0;
}

void rv_obj_info_release(struct rv_obj_info *i)
{
	if (!i)
		return;
	free(i->key);
	i->key = NULL;
}

void rv_list_page_release(struct rv_list_page *p)
{
	for (size_t i = 0; i < p->count; i++)
		rv_obj_info_release(&p->items[i]);
	free(p->items);
	free(p->next_token);
	memset(p, 0, sizeof(*p));
}

int rv_store_open(struct rv_store **out, const char *url, const struct rv_store_opts *opts)
{
	struct rv_store *s = rv_calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (opts)
		s->opts = *opts;
	else
		rv_store_opts_default(&s->opts);
	rc = rv_store_url_parse(&s->url, url);
	if (rc) {
		free(s);
		return rc;
	}
	s->describe = rv_strdup(url);
	rc = s->url.kind == RV_STORE_FILE ? rv_store_file_open(s) : rv_store_s3_open(s);
	if (rc) {
		rv_store_url_release(&s->url);
		free(s->describe);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void rv_store_free(struct rv_store *s)
{
	if (!s)
		return;
	if (s->ops && s->ops->free)
		s->ops->free(s);
	rv_store_url_release(&s->url);
	free(s->describe);
	free(s);
}

const struct rv_store_caps *rv_store_caps(const struct rv_store *s)
{
	return &s->caps;
}

const char *rv_store_describe(const struct rv_store *s)
{
	return s->describe;
}

static int put_check(const char *key, struct rv_put_opts *po)
{
	int rc = rv_store_key_check(key);

	if (rc)
		return rc;
	if (po && po->cond == RV_PUT_IF_MATCH && (!po->if_match || !*po->if_match))
		return rv_error(RV_EUSAGE, "conditional put of '%s' needs an etag", key);
	return 0;
}

int rv_store_probe(struct rv_store *s)
{
	return s->ops->probe ? s->ops->probe(s) : 0;
}

int rv_store_name_key(struct rv_store *s, const unsigned char **out)
{
	*out = NULL;
	return s->ops->name_key ? s->ops->name_key(s, out) : 0;
}

int rv_store_put_fd(struct rv_store *s, const char *key, int fd, uint64_t size,
		    struct rv_put_opts *po)
{
	int rc = put_check(key, po);

	return rc ? rc : s->ops->put_fd(s, key, fd, size, po);
}

int rv_store_put_buf(struct rv_store *s, const char *key, const void *data, size_t len,
		     struct rv_put_opts *po)
{
	int rc = put_check(key, po);

	return rc ? rc : s->ops->put_buf(s, key, data, len, po);
}

int rv_store_get_fd(struct rv_store *s, const char *key, int fd, uint64_t off, uint64_t len,
		    struct rv_obj_info *info_out)
{
	int rc = rv_store_key_check(key);

	return rc ? rc : s->ops->get_fd(s, key, fd, off, len, info_out);
}

int rv_store_head(struct rv_store *s, const char *key, struct rv_obj_info *out)
{
	int rc = rv_store_key_check(key);

	return rc ? rc : s->ops->head(s, key, out);
}

int rv_store_delete(struct rv_store *s, const char *key)
{
	int rc = rv_store_key_check(key);

	return rc ? rc : s->ops->del(s, key);
}

/* Deletes are one request each and independent: a handful in flight
 * turns a prune of thousands of segments from minutes into seconds on a
 * real S3 (DeleteObjects would batch them, but not every S3-compatible
 * service has it, and it needs its own error parsing). */
#define DELETE_JOBS_MAX 16

struct delmany {
	struct rv_store *s;
	struct rv_workq q;
};

static int del_job(void *ctx, void *arg)
{
	struct delmany *d = ctx;
	int rc;

	if (rv_workq_failed(&d->q))
		return 0; /* another delete failed: stop as soon as we can */
	rc = rv_store_delete(d->s, arg);
	if (!rc)
		rv_testpoint("store.deleted");
	return rc;
}

int rv_store_delete_many(struct rv_store *s, char *const *keys, size_t n, unsigned jobs)
{
	struct delmany d = {.s = s};
	int rc = 0;

	if (jobs > DELETE_JOBS_MAX)
		jobs = DELETE_JOBS_MAX;
	if (jobs > n)
		jobs = (unsigned)n;
	/* One job: in order on this thread, stopping at the first failure. */
	rv_workq_init(&d.q, jobs <= 1 ? 0 : jobs, jobs, del_job, &d);
	for (size_t i = 0; !rc && i < n; i++)
		rc = rv_workq_submit(&d.q, keys[i]);
	rc = rv_workq_wait(&d.q);
	rv_workq_release(&d.q);
	return rc;
}

int rv_store_list_page(struct rv_store *s, const char *prefix, const char *token, unsigned max,
		       struct rv_list_page *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (!max || max > 1000)
		max = 1000;
	if (!prefix)
		prefix = "";
	rc = s->ops->list_page(s, prefix, token, max, out);
	if (!rc && (rc = check_page(s, prefix, false, out)))
		rv_list_page_release(out);
	return rc;
}

/* Every page of keys (or of folders) under `prefix`, each item to `cb`. */
static int list_all(struct rv_store *s, const char *prefix, bool dirs, rv_store_list_cb cb,
		    void *ud)
{
	struct rv_list_page page;
	char *token = NULL;
	int rc;

	for (;;) {
		memset(&page, 0, sizeof(page));
		rc = dirs ? s->ops->list_dirs_page(s, prefix ? prefix : "", token, 1000, &page)
			  : rv_store_list_page(s, prefix, token, 1000, &page);
		if (!rc && dirs && (rc = check_page(s, prefix ? prefix : "", true, &page)))
			rv_list_page_release(&page);
		free(token);
		token = NULL;
		if (rc)
			return rc;
		for (size_t i = 0; i < page.count && !rc; i++)
			rc = cb(&page.items[i], ud);
		if (!rc && page.next_token)
			token = rv_strdup(page.next_token);
		rv_list_page_release(&page);
		if (rc || !token)
			return rc;
	}
}

int rv_store_list(struct rv_store *s, const char *prefix, rv_store_list_cb cb, void *ud)
{
	return list_all(s, prefix, false, cb, ud);
}

static int collect_key(const struct rv_obj_info *info, void *ud)
{
	struct rv_keylist *kl = ud;

	kl->v = rv_grow(kl->v, &kl->cap, kl->n + 1, sizeof(*kl->v));
	kl->v[kl->n++] = rv_strdup(info->key);
	return 0;
}

int rv_store_list_keys(struct rv_store *s, const char *prefix, struct rv_keylist *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = list_all(s, prefix, false, collect_key, out);
	if (rc)
		rv_keylist_release(out);
	return rc;
}

void rv_keylist_release(struct rv_keylist *kl)
{
	for (size_t i = 0; i < kl->n; i++)
		free(kl->v[i]);
	free(kl->v);
	memset(kl, 0, sizeof(*kl));
}

int rv_store_list_dirs(struct rv_store *s, const char *prefix, rv_store_list_cb cb, void *ud)
{
	if (!s->ops->list_dirs_page)
		return rv_error(RV_ENOTSUP, "the %s store cannot list folders", s->ops->name);
	return list_all(s, prefix, true, cb, ud);
}

int rv_store_get_buf(struct rv_store *s, const char *key, struct rv_buf *out,
		     struct rv_obj_info *info_out)
{
	struct rv_obj_info info = {0};
	int fd, rc;
	off_t size;

	/* Objects read whole are small (leases, manifests); go through a memfd
	 * so that backends implement one streaming get, and bound the range by
	 * the buffer's cap so that an oversized object cannot fill memory. */
	fd = memfd_create("rv-get", MFD_CLOEXEC);
	if (fd < 0)
		return rv_error_errno(RV_EFAIL, errno, "memfd_create");
	rc = rv_store_get_fd(s, key, fd, 0, out->max - out->len + 1, &info);
	if (!rc) {
		size = lseek(fd, 0, SEEK_CUR);
		if (size < 0 || (uint64_t)size > out->max - out->len) {
			rc = rv_error(RV_ECORRUPT, "object '%s' is larger than %zu bytes", key,
				      out->max - out->len);
		} else {
			char tmp[65536];
			ssize_t n;
			lseek(fd, 0, SEEK_SET);
			while (!rc && (n = read(fd, tmp, sizeof(tmp))) > 0)
				rc = rv_buf_add(out, tmp, (size_t)n);
		}
	}
	close(fd);
	if (!rc && info_out)
		*info_out = info;
	else
		rv_obj_info_release(&info);
	return rc;
}
