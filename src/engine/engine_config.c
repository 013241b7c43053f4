/* engine_config.c - the engine's top-level keys of revenant.yml: how often
 * replicate commits (sync_interval) and how long prune keeps recovery points
 * (retention).  Two sections because `config show` writes sync_interval
 * after site and retention last. */
#include "core/config.h"

static const struct rv_config_entry sync_entries[] = {
    {.name = "sync_interval",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(sync_interval_ms),
     .def = "1s",
     .min = 50,
     .max = RV_CONFIG_MIN},
};

const struct rv_config_section rv_config_section_sync = {
    .owner = "engine",
    .entries = sync_entries,
    .nentries = sizeof(sync_entries) / sizeof(sync_entries[0]),
};

static const struct rv_config_entry retention_entries[] = {
    {.name = "retention",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(retention_ms),
     .def = "72h",
     .min = 1 * RV_CONFIG_SEC,
     .max = 3650 * RV_CONFIG_DAY},
};

/* A point in the window restores from the snapshot before it: a window
 * shorter than the snapshot interval is almost surely a typo (72 for 72h),
 * and prune would keep far less than the operator thinks. */
static int retention_check(const struct rv_config *c, const struct rv_config_origin *o)
{
	char r[32], i[32];
	unsigned lr, li;

	if ((!c->database.sqlite && !c->database.mysql.database) ||
	    c->retention_ms >= c->database.snapshot_interval_ms)
		return 0;
	lr = rv_config_line(o, "retention");
	li = rv_config_line(o, "database.snapshot_interval");
	rv_config_fmt_duration(r, sizeof(r), c->retention_ms);
	rv_config_fmt_duration(i, sizeof(i), c->database.snapshot_interval_ms);
	return rv_config_fail(o, lr > li ? lr : li, "retention",
			      "%s is shorter than database.snapshot_interval (%s): raise "
			      "retention or shorten snapshot_interval",
			      r, i);
}

const struct rv_config_section rv_config_section_retention = {
    .owner = "engine",
    .entries = retention_entries,
    .nentries = sizeof(retention_entries) / sizeof(retention_entries[0]),
    .check = retention_check,
};

/* failover: the primary's heartbeat (engine/lease.h), and the failover
 * keys that come with promotion. */
static const struct rv_config_entry failover_entries[] = {
    {.name = "failover.heartbeat_interval",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(failover.heartbeat_interval_ms),
     .def = "5s",
     .min = 1 * RV_CONFIG_SEC,
     .max = 10 * RV_CONFIG_MIN},
};

const struct rv_config_section rv_config_section_failover = {
    .owner = "engine",
    .entries = failover_entries,
    .nentries = sizeof(failover_entries) / sizeof(failover_entries[0]),
};
