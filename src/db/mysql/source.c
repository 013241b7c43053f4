/* source.c - MySQL/MariaDB as a database source (db/source.h), the
 * second implementation beside db/sqlite/.  What exists: open (the
 * server answers), the snapshot (snapshot.c), the database's size.  What
 * does not yet: ship — streaming the binlog (issue 11's next milestone);
 * it fails with RV_ENOTSUP, and `replicate` refuses database.mysql before
 * it gets here, so no recovery point ever claims a database state that
 * was not shipped. */
#include "db/source.h"
#include "core/mem.h"
#include "db/mysql/mysql.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct mysql_src {
	const struct rv_mysql_conf *c; /* borrowed from the caller's config */
	char gen[RV_GEN_ID_LEN];
	uint64_t size;
};

static int src_open(void **h, const struct rv_dbsrc_opts *o)
{
	struct mysql_src *s;
	MYSQL *m = NULL;
	int rc;

	*h = NULL;
	if (!o->mysql || !o->mysql->database)
		return rv_error(RV_EUSAGE, "mysql source: no database.mysql configured");
	if (rv_gen_id_check(o->gen))
		return rv_error(RV_EUSAGE, "mysql source: bad generation '%s'", o->gen);
	if ((rc = rv_mysql_connect(&m, o->mysql, NULL)))
		return rc;
	mysql_close(m);
	s = rv_calloc(1, sizeof(*s));
	s->c = o->mysql;
	memcpy(s->gen, o->gen, RV_GEN_ID_LEN);
	*h = s;
	return 0;
}

static void src_close(void *h)
{
	free(h);
}

static int src_ship(void *h, struct rv_store *st, struct rv_dbsrc_ship *res)
{
	(void)h;
	(void)st;
	memset(res, 0, sizeof(*res));
	return rv_error(RV_ENOTSUP, "mysql: shipping the binlog is not built yet (issue 11)");
}

static int src_snapshot(void *h, struct rv_store *st, uint64_t *pos)
{
	struct mysql_src *s = h;
	struct rv_mysql_snap_pos sp;
	int rc = rv_mysql_snapshot(s->c, st, s->gen, 0, &sp, NULL);

	if (!rc) {
		*pos = 0;
		s->size = sp.bytes;
	}
	return rc;
}

static uint64_t src_pos(const void *h)
{
	(void)h;
	return 0; /* no log shipped: the generation's snapshot is all there is */
}

/* The last snapshot's uncompressed size (the engine's log/snapshot ratio
 * compares log bytes with it); 0 before the first. */
static uint64_t src_size(const void *h)
{
	return ((const struct mysql_src *)h)->size;
}

const struct rv_dbsrc_ops rv_dbsrc_mysql = {
    .name = "mysql",
    .open = src_open,
    .close = src_close,
    .ship = src_ship,
    .snapshot = src_snapshot,
    .pos = src_pos,
    .size = src_size,
};
