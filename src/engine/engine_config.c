/* engine_config.c - the engine's top-level keys of revenant.yml: how often
 * replicate commits (sync_interval) and how long prune keeps recovery points
 * (retention).  Two sections because `config show` writes sync_interval
 * after site and retention last. */
#include <string.h>

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

/* failover: the primary's heartbeat (engine/lease.h) and what `promote`
 * needs to decide and to finish (engine/promote.h). */
static const struct rv_config_entry failover_entries[] = {
    {.name = "failover.heartbeat_interval",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(failover.heartbeat_interval_ms),
     .def = "5s",
     .min = 1 * RV_CONFIG_SEC,
     .max = 10 * RV_CONFIG_MIN},
    {.name = "failover.dead_after",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(failover.dead_after_ms),
     .def = "30s",
     .min = 1 * RV_CONFIG_SEC,
     .max = 24 * 60 * RV_CONFIG_MIN,
     .desc = "a heartbeat older than this: the primary counts as gone"},
    {.name = "failover.fence_after",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(failover.fence_after_ms),
     .def = "10s",
     .min = 1 * RV_CONFIG_SEC,
     .max = 24 * 60 * RV_CONFIG_MIN,
     .desc = "a primary whose heartbeat cannot reach the store this long runs hooks.fenced"},
    {.name = "failover.max_clock_skew",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(failover.max_clock_skew_ms),
     .def = "2s",
     .min = 0,
     .max = 10 * RV_CONFIG_MIN,
     .desc = "the most the sites' wall clocks may differ (NTP keeps it far lower)"},
    {.name = "failover.max_loss",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(failover.max_loss_ms),
     .def = "30s",
     .min = 0,
     .max = 24 * 60 * RV_CONFIG_MIN,
     .desc = "promote refuses (exit 10) when it cannot show the loss is within this"},
    {.name = "failover.initial_primary",
     .type = RV_CONFIG_NAME,
     .off = RV_CONFIG_FIELD(failover.initial_primary),
     .desc = "revenant run: the site that starts as primary on an empty store"},
    {.name = "failover.save_dir",
     .type = RV_CONFIG_PATH,
     .off = RV_CONFIG_FIELD(failover.save_dir),
     .desc = "where a fenced primary keeps what the store may not hold; default: "
	     "<content.path>.revenant-saved"},
    {.name = "failover.auto",
     .type = RV_CONFIG_BOOL,
     .off = RV_CONFIG_FIELD(failover.auto_failover),
     .def = "false",
     .desc = "revenant run at the standby: promote when the heartbeat is dead_after old and "
	     "the probe fails"},
    {.name = "failover.probe_url",
     .type = RV_CONFIG_STRING,
     .off = RV_CONFIG_FIELD(failover.probe_url),
     .desc = "the primary site's health URL the automatic failover probes"},
    {.name = "failover.probe_interval",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(failover.probe_interval_ms),
     .def = "2s",
     .min = 100,
     .max = 10 * RV_CONFIG_MIN},
    {.name = "failover.fall",
     .type = RV_CONFIG_INT,
     .off = RV_CONFIG_FIELD(failover.fall),
     .def = "3",
     .min = 1,
     .max = 100},
    {.name = "failover.rise",
     .type = RV_CONFIG_INT,
     .off = RV_CONFIG_FIELD(failover.rise),
     .def = "2",
     .min = 1,
     .max = 100},
    {.name = "failover.ghost_timeout",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(failover.ghost_timeout_ms),
     .def = "2m",
     .min = 1 * RV_CONFIG_SEC,
     .max = 60 * RV_CONFIG_MIN,
     .desc = "how long promote waits for Ghost (ghost.url) to answer"},
};

/* A dead_after within two heartbeats would call a primary dead between
 * two of its heartbeats. */
static int failover_check(const struct rv_config *c, const struct rv_config_origin *o)
{
	int64_t fenced_by = c->failover.fence_after_ms + c->failover.max_clock_skew_ms;
	bool stops = c->hooks.fenced || c->hooks.gate; /* something stops Ghost */
	char d[32], h[32], f[32], t[32], k[32];

	rv_config_fmt_duration(d, sizeof(d), c->failover.dead_after_ms);
	rv_config_fmt_duration(h, sizeof(h), c->failover.heartbeat_interval_ms);
	rv_config_fmt_duration(f, sizeof(f), c->failover.fence_after_ms);
	rv_config_fmt_duration(t, sizeof(t), c->hooks.timeout_ms);
	rv_config_fmt_duration(k, sizeof(k), c->failover.max_clock_skew_ms);
	if (c->failover.fence_after_ms < 2 * c->failover.heartbeat_interval_ms)
		return rv_config_fail(o, rv_config_line(o, "failover.fence_after"),
				      "failover.fence_after",
				      "%s is less than two heartbeats (failover.heartbeat_interval "
				      "%s): one slow write would stop Ghost",
				      f, h);
	if (c->failover.auto_failover &&
	    (!c->failover.probe_url || (strncmp(c->failover.probe_url, "http://", 7) &&
					strncmp(c->failover.probe_url, "https://", 8))))
		return rv_config_fail(o, rv_config_line(o, "failover.auto"), "failover.auto",
				      "automatic failover needs failover.probe_url, an http(s) URL "
				      "of the primary site that answers while it is up (its "
				      "revenant /healthz, or Ghost's /ghost/api/admin/site/)");
	if (stops)
		fenced_by += c->hooks.timeout_ms;
	/* The other site promotes at dead_after by its clock; Ghost here
	 * stops by fence_after (+ the fenced hook's time) by this one. */
	if (c->failover.dead_after_ms <= fenced_by)
		return rv_config_fail(
		    o, rv_config_line(o, "failover.dead_after"), "failover.dead_after",
		    "%s must exceed failover.fence_after (%s)%s%s%s + failover.max_clock_skew "
		    "(%s), or both sites could take writes at once (docs/ARCHITECTURE.md, "
		    "\"Failover timing\")",
		    d, f, stops ? " + hooks.timeout (" : "", stops ? t : "", stops ? ")" : "", k);
	return 0;
}

const struct rv_config_section rv_config_section_failover = {
    .owner = "engine",
    .entries = failover_entries,
    .nentries = sizeof(failover_entries) / sizeof(failover_entries[0]),
    .check = failover_check,
};

/* hooks: the operator's commands at each role change (engine/hooks.h). */
static const struct rv_config_entry hooks_entries[] = {
    {.name = "hooks.promote",
     .type = RV_CONFIG_PATH,
     .off = RV_CONFIG_FIELD(hooks.promote),
     .desc = "run when this site becomes primary: start Ghost"},
    {.name = "hooks.demote",
     .type = RV_CONFIG_PATH,
     .off = RV_CONFIG_FIELD(hooks.demote),
     .desc = "run before this site hands the primary role over: stop Ghost's writes"},
    {.name = "hooks.fenced",
     .type = RV_CONFIG_PATH,
     .off = RV_CONFIG_FIELD(hooks.fenced),
     .desc = "run when this site finds it lost the lease: stop Ghost"},
    {.name = "hooks.standby",
     .type = RV_CONFIG_PATH,
     .off = RV_CONFIG_FIELD(hooks.standby),
     .desc = "run when this site starts following the other as a standby"},
    {.name = "hooks.gate",
     .type = RV_CONFIG_PATH,
     .off = RV_CONFIG_FIELD(hooks.gate),
     .desc = "a folder shared with Ghost's wrapper: open while this site is primary "
	     "(docs/OPERATIONS.md \"The Ghost gate\")"},
    {.name = "hooks.timeout",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(hooks.timeout_ms),
     .def = "15s",
     .min = 1 * RV_CONFIG_SEC,
     .max = 60 * RV_CONFIG_MIN},
};

static int hooks_check(const struct rv_config *c, const struct rv_config_origin *o)
{
	static const char *const names[] = {"hooks.promote", "hooks.demote", "hooks.fenced",
					    "hooks.standby"};
	const char *v[] = {c->hooks.promote, c->hooks.demote, c->hooks.fenced, c->hooks.standby};

	if (c->hooks.gate && c->hooks.gate[0] != '/')
		return rv_config_fail(o, rv_config_line(o, "hooks.gate"), "hooks.gate",
				      "the gate is a folder's absolute path (the volume "
				      "shared with Ghost's wrapper)");

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (v[i] && v[i][0] != '/')
			return rv_config_fail(o, rv_config_line(o, names[i]), names[i],
					      "a hook is an executable's absolute path (it gets "
					      "the event in its environment: docs/OPERATIONS.md "
					      "\"Hooks\")");
	return 0;
}

const struct rv_config_section rv_config_section_hooks = {
    .owner = "engine",
    .entries = hooks_entries,
    .nentries = sizeof(hooks_entries) / sizeof(hooks_entries[0]),
    .check = hooks_check,
};
