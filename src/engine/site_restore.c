/* site_restore.c - restore a whole site (see site_restore.h). */
#include "engine/site_restore.h"
#include "engine/lease.h"
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"

#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rv_site_restore_check(const struct rv_site_restore_opts *o)
{
	if (o->content_only && (o->db_only || o->db))
		return rv_error(RV_EUSAGE, "--content-only does not go with --db or --db-only");
	if (o->db_only && !o->db)
		return rv_error(RV_EUSAGE,
				"--db-only needs --db FILE (see revenant restore --help)");
	if (o->db_only && o->to)
		return rv_error(RV_EUSAGE, "--db-only restores no folder: drop --to");
	if (o->force && !o->db_mysql)
		return rv_error(RV_EUSAGE, "--force goes only with a mysql:// --db");
	if (o->db && !o->db_mysql && access(o->db, F_OK) == 0)
		return rv_error(RV_EPRECOND,
				"--db '%s' exists; restore writes a new file — move it away or "
				"name another",
				o->db);
	if (!o->db_only && !o->to)
		return rv_error(RV_EUSAGE, "restore needs --to DIR (see revenant restore --help)");
	return 0;
}

static int restore_db(struct rv_store *s, const char *gen, uint64_t pos,
		      const struct rv_site_restore_opts *o, struct rv_site_restore_result *res)
{
	const struct rv_dbtgt_ops *ops = rv_dbtgt_of(o->db_mysql);
	struct rv_dbtgt_restore_opts so = {.gen = gen,
					   .pos = pos,
					   .out = o->db_mysql ? o->db_mysql->database : o->db,
					   .mysql = o->db_mysql,
					   .force = o->force,
					   .no_sync = o->no_sync};
	int64_t t0 = rv_mono_ms();
	struct rv_gen_meta meta = {0};
	int rc = 0;

	/* The generation says which database it holds: a SQLite file for a
	 * MySQL generation (or the reverse) is a usage error, not damage. */
	if (!rv_gen_meta_read(s, gen, &meta) && meta.database && strcmp(meta.database, ops->name)) {
		rc = rv_error(RV_EUSAGE, "generation %s holds a %s database: give --db %s", gen,
			      meta.database,
			      strcmp(meta.database, "mysql") ? "FILE (the SQLite file to create)"
							     : "mysql://USER@HOST/DATABASE");
		rv_gen_meta_release(&meta);
		return rc;
	}
	rv_gen_meta_release(&meta);
	/* Its folder is made like --to (a fresh site has no content/data). */
	if (!o->db_mysql) {
		char *d = rv_strdup(o->db);

		rc = rv_mkdirs(dirname(d));
		free(d);
	}
	if (!rc)
		rc = ops->restore(s, &so, &res->dbres);
	if (rc)
		return rc;
	res->db = true;
	res->db_seconds = (double)(rv_mono_ms() - t0) / 1000.0;
	return 0;
}

/* Which database the point names, and whether that fits the options. */
static int point_db(struct rv_store *s, const struct rv_site_restore_opts *o,
		    const struct rv_restore_point *p, bool *has_db, uint64_t *pos,
		    char gen[RV_GEN_ID_LEN])
{
	char when[32];
	int rc;

	*has_db = false;
	if (o->content_only)
		return 0;
	if ((rc = rv_restore_point_db(s, p, has_db, pos, gen)))
		return rc;
	rv_restore_format_time(when, p->time_ms);
	if (!*has_db && o->db)
		return rv_error(RV_ENOTFOUND,
				"the point at %s (generation %s, seq %" PRIu64
				") has no database: replicate ran without database.sqlite — use "
				"--content-only",
				when, p->gen, p->seq);
	if (*has_db && !o->db)
		return rv_error(RV_EUSAGE,
				"the store holds a database at this point: give --db FILE (where "
				"Ghost's SQLite file goes) or --content-only");
	return 0;
}

int rv_site_restore(struct rv_store *s, const struct rv_site_restore_opts *o,
		    struct rv_site_restore_result *res)
{
	struct rv_restore_point found = {0};
	const struct rv_restore_point *pp = &found;
	struct rv_apply *a = NULL;
	char db_gen[RV_GEN_ID_LEN];
	uint64_t db_pos = 0;
	bool has_db;
	int rc;

	memset(res, 0, sizeof(*res));
	if ((rc = rv_site_restore_check(o)))
		return rc;
	if (o->point)
		pp = o->point;
	else if ((rc = rv_restore_find_flags(s, o->gen, o->at_ms, o->find_flags, &found)))
		return rc;
	memcpy(res->gen, pp->gen, RV_GEN_ID_LEN);
	res->seq = pp->seq;
	res->time_ms = pp->time_ms;
	if (o->chosen)
		o->chosen(o->ud, pp);
	if ((rc = point_db(s, o, pp, &has_db, &db_pos, db_gen)))
		goto out;
	if (!o->db_only) {
		char seq[24], logs[24], when[32];

		rv_restore_format_time(when, pp->time_ms);
		snprintf(seq, sizeof(seq), "%" PRIu64, pp->seq);
		snprintf(logs, sizeof(logs), "%zu", pp->nlogs);
		rv_log(RV_LOG_INFO, "restoring", "generation", pp->gen, "seq", seq, "commit", when,
		       "manifest", pp->manifest.key ? pp->manifest.key : "none", "logs", logs, "to",
		       o->to, NULL);
		if ((rc = rv_apply_open(&a, s, o->to, &o->apply)))
			goto out;
		struct rv_restore_opts co = o->content;

		co.no_sync |= o->no_sync;
		if ((rc = rv_restore_apply_point(s, a, pp, &co, &res->content)))
			goto out;
		res->folder = true;
		res->root = rv_strdup(rv_apply_root(a));
	}
	if (has_db)
		rc = restore_db(s, db_gen, db_pos, o, res);
out:
	rv_apply_free(a);
	rv_restore_point_release(&found);
	return rc;
}

void rv_site_restore_result_release(struct rv_site_restore_result *res)
{
	free(res->root);
	res->root = NULL;
}
