/* mysql_tool.c - drives the MySQL database source and target through
 * their interfaces (db/source.h, db/target.h) for the integration test and
 * the benchmark, until `replicate` and `restore` carry MySQL (issue 11):
 *
 *   mysql_tool snapshot CONFIG STORE_URL        a new generation's snapshot;
 *                                               prints "gen=<id>"
 *   mysql_tool restore CONFIG STORE_URL GEN DB  its newest snapshot into DB
 *
 * CONFIG is a revenant.yml with database.mysql (the restore connects to
 * the same server as the same account). */
#include "core/config.h"
#include "core/log.h"
#include "db/source.h"
#include "db/target.h"
#include "format/layout.h"
#include "store/store.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static int run(int argc, char **argv)
{
	struct rv_config *cfg = NULL;
	struct rv_store *st = NULL;
	struct rv_store_opts so;
	int rc;

	if ((rc = rv_config_load(&cfg, argv[2])))
		return rc;
	rv_store_opts_default(&so);
	if ((rc = rv_store_open(&st, argv[3], &so)))
		goto out;
	if (!strcmp(argv[1], "snapshot") && argc == 4) {
		struct rv_dbsrc_opts o = {.mysql = &cfg->database.mysql};
		char gen[RV_GEN_ID_LEN];
		void *h = NULL;
		uint64_t pos = 0;

		rv_gen_id_new(gen);
		o.gen = gen;
		rc = rv_dbsrc_mysql.open(&h, &o);
		rc = rc ? rc : rv_dbsrc_mysql.snapshot(h, st, &pos);
		rv_dbsrc_mysql.close(h);
		if (!rc)
			printf("gen=%s pos=%llu\n", gen, (unsigned long long)pos);
	} else if (!strcmp(argv[1], "restore") && argc == 6) {
		struct rv_dbtgt_restore_opts o = {.gen = argv[4],
						  .pos = RV_DBTGT_POS_LATEST,
						  .out = argv[5],
						  .mysql = &cfg->database.mysql};
		struct rv_dbtgt_point p;

		rc = rv_dbtgt_mysql.restore(st, &o, &p);
		if (!rc)
			printf("gen=%s pos=%llu\n", p.gen, (unsigned long long)p.pos);
	} else {
		rc = rv_error(RV_EUSAGE, "usage: mysql_tool snapshot CONFIG STORE_URL | restore "
					 "CONFIG STORE_URL GEN DB");
	}
out:
	rv_store_free(st);
	rv_config_free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 4) {
		fprintf(stderr, "usage: mysql_tool snapshot CONFIG STORE_URL | restore CONFIG "
				"STORE_URL GEN DB\n");
		return 2;
	}
	rc = run(argc, argv);
	if (rc)
		fprintf(stderr, "error: %s\n", rv_errmsg());
	return rv_exit_code(rc);
}
