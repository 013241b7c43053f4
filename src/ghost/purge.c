#include "ghost/purge.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/retry.h"
#include "core/workq.h"

#define MAX_JOBS 64

void rv_ghost_items_release(struct rv_ghost_items *items)
{
	for (size_t i = 0; i < items->n; i++) {
		free(items->v[i].status);
		free(items->v[i].slug);
		free(items->v[i].title);
	}
	free(items->v);
	items->v = NULL;
	items->n = items->alloc = 0;
}

static bool items_has(const struct rv_ghost_items *items, const char *resource, const char *id)
{
	/* Linear: a purge holds at most a site's posts, and the lookups happen
	 * once per browsed object; a hash is not worth its code here. */
	for (size_t i = 0; items && i < items->n; i++)
		if (items->v[i].resource == resource && !strcmp(items->v[i].id, id))
			return true;
	return false;
}

struct collect {
	const char *resource;
	const struct rv_ghost_items *skip;
	struct rv_ghost_items *out;
	size_t start; /* first index added by this browse */
	const char *url;
};

static bool valid_id(const char *id)
{
	if (strlen(id) != RV_GHOST_KEY_ID_LEN)
		return false;
	for (const char *p = id; *p; p++)
		if (!isxdigit((unsigned char)*p))
			return false;
	return true;
}

static char *dup_field(json_t *item, const char *name)
{
	const char *s = json_string_value(json_object_get(item, name));
	char *d = rv_strdup(s ? s : "");

	/* Listed one object a line, tab-separated: keep titles on one line. */
	for (char *p = d; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return d;
}

static int on_item(void *ud, json_t *item)
{
	struct collect *cl = ud;
	const char *id = json_string_value(json_object_get(item, "id"));
	struct rv_ghost_item *it;

	if (!id || !valid_id(id))
		return rv_error(RV_ECORRUPT, "%s: a browsed %s has no valid id", cl->url,
				cl->resource);
	if (items_has(cl->skip, cl->resource, id) || items_has(cl->out, cl->resource, id))
		return 0;
	if (cl->out->n == cl->out->alloc) {
		cl->out->alloc = cl->out->alloc ? 2 * cl->out->alloc : 256;
		cl->out->v = rv_realloc(cl->out->v, cl->out->alloc * sizeof(*cl->out->v));
	}
	it = &cl->out->v[cl->out->n++];
	it->resource = cl->resource;
	memcpy(it->id, id, sizeof(it->id));
	it->status = dup_field(item, "status");
	it->slug = dup_field(item, "slug");
	it->title = dup_field(item, "title");
	return 0;
}

int rv_ghost_collect(struct rv_ghost_client *c, const char *resource, const char *filter,
		     const struct rv_ghost_items *skip, struct rv_ghost_items *out)
{
	struct collect cl = {resource, skip, out, out->n, rv_ghost_client_url(c)};

	if (strcmp(resource, "posts") && strcmp(resource, "pages"))
		return rv_error(RV_EUSAGE, "cannot purge '%s': only posts and pages", resource);
	/* Resource names are compared by pointer in items_has. */
	cl.resource = !strcmp(resource, "posts") ? "posts" : "pages";
	return rv_ghost_browse(c, cl.resource, filter, "id,title,status,slug", 100, on_item, &cl);
}

struct pool {
	struct rv_ghost_client *c;
	struct rv_ghost_items *failed;
	struct rv_ghost_purge_stats *st;
	struct rv_workq q;
	pthread_mutex_t lock;	     /* guards st, failed and the idle connections */
	struct rv_ghost_conn **idle; /* one per thread at most: keep-alive per thread */
	size_t nidle;
};

static void add_failed(struct rv_ghost_items *failed, const struct rv_ghost_item *it)
{
	struct rv_ghost_item *f;

	if (failed->n == failed->alloc) {
		failed->alloc = failed->alloc ? 2 * failed->alloc : 16;
		failed->v = rv_realloc(failed->v, failed->alloc * sizeof(*failed->v));
	}
	f = &failed->v[failed->n++];
	f->resource = it->resource;
	memcpy(f->id, it->id, sizeof(f->id));
	f->status = rv_strdup(it->status);
	f->slug = rv_strdup(it->slug);
	f->title = rv_strdup(it->title);
}

static struct rv_ghost_conn *conn_take(struct pool *p)
{
	struct rv_ghost_conn *conn = NULL;

	pthread_mutex_lock(&p->lock);
	if (p->nidle)
		conn = p->idle[--p->nidle];
	pthread_mutex_unlock(&p->lock);
	return conn ? conn : rv_ghost_conn_new(p->c);
}

static void conn_put(struct pool *p, struct rv_ghost_conn *conn)
{
	pthread_mutex_lock(&p->lock);
	p->idle[p->nidle++] = conn;
	pthread_mutex_unlock(&p->lock);
}

static int delete_job(void *ctx, void *arg)
{
	struct pool *p = ctx;
	const struct rv_ghost_item *it = arg;
	struct rv_ghost_conn *conn;
	char path[128];
	long status;
	int rc;

	if (rv_workq_failed(&p->q))
		return 0; /* the purge is aborting: nothing more is deleted */
	if (rv_shutdown_requested())
		return rv_error(RV_EINTR, "purge interrupted by shutdown");
	snprintf(path, sizeof(path), "%s/%s/", it->resource, it->id);
	conn = conn_take(p);
	rc = rv_ghost_call(p->c, conn, true, "DELETE", path, NULL, &status, NULL);
	conn_put(p, conn);
	/* What the next delete would meet as well ends the purge. */
	if (rc == RV_ENET || rc == RV_EAUTH || rc == RV_ECORRUPT || rc == RV_EINTR)
		return rc;

	pthread_mutex_lock(&p->lock);
	if (!rc) {
		p->st->deleted++;
		rv_log(RV_LOG_DEBUG, "deleted", "type", it->resource, "id", it->id, "slug",
		       it->slug, NULL);
	} else if (rc == RV_ENOTFOUND) {
		p->st->gone++;
		rv_log(RV_LOG_DEBUG, "already gone", "type", it->resource, "id", it->id, NULL);
	} else {
		p->st->failed++;
		add_failed(p->failed, it);
		rv_log(RV_LOG_ERROR, "cannot delete", "type", it->resource, "id", it->id, "slug",
		       it->slug, "error", rv_errmsg(), NULL);
	}
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static int delete_all(struct rv_ghost_client *c, unsigned jobs, struct rv_ghost_items *items,
		      struct rv_ghost_items *failed, struct rv_ghost_purge_stats *st)
{
	struct pool p = {.c = c, .failed = failed, .st = st};
	int rc = 0;

	if (!items->n)
		return 0;
	if (jobs > items->n)
		jobs = (unsigned)items->n;
	pthread_mutex_init(&p.lock, NULL);
	p.idle = rv_calloc(jobs, sizeof(*p.idle));
	rv_workq_init(&p.q, jobs, jobs, delete_job, &p);
	for (size_t i = 0; !rc && i < items->n; i++)
		rc = rv_workq_submit(&p.q, &items->v[i]);
	rc = rv_workq_wait(&p.q);
	rv_workq_release(&p.q);
	for (size_t i = 0; i < p.nidle; i++)
		rv_ghost_conn_free(p.idle[i]);
	free(p.idle);
	pthread_mutex_destroy(&p.lock);
	return rc;
}

int rv_ghost_purge(struct rv_ghost_client *c, const struct rv_ghost_purge_opts *o,
		   struct rv_ghost_items *items, struct rv_ghost_purge_stats *st)
{
	struct rv_ghost_items failed = {0};
	unsigned jobs = o->jobs ? o->jobs : 4;
	unsigned max_rounds = o->max_rounds ? o->max_rounds : 10;
	int rc = 0;

	if (jobs > MAX_JOBS)
		jobs = MAX_JOBS;
	for (st->rounds = 1;; st->rounds++) {
		rc = delete_all(c, jobs, items, &failed, st);
		if (rc)
			break;
		rv_ghost_items_release(items);
		/* Browse again: anything created (or missed because pages shifted
		 * under deletes) since the first browse shows up now. */
		for (const char *const *r = o->resources; *r && !rc; r++)
			rc = rv_ghost_collect(c, *r, o->filter, &failed, items);
		if (rc || !items->n)
			break;
		st->found += items->n;
		{
			char n[32];

			snprintf(n, sizeof(n), "%zu", items->n);
			rv_log(RV_LOG_INFO, "more matching objects found, deleting them", "count",
			       n, NULL);
		}
		if (st->rounds >= max_rounds) {
			rc = rv_error(RV_EFAIL,
				      "%zu objects still match on %s after %u rounds of deletes: "
				      "something keeps creating them; stop it and run again",
				      items->n, rv_ghost_client_url(c), st->rounds);
			break;
		}
	}
	rv_ghost_items_release(&failed);
	return rc;
}
