/* db_config.c - the `database:` section of revenant.yml: which database to
 * ship and how often a fresh snapshot bounds the log a restore replays. */
#include "core/config.h"

static const struct rv_config_entry entries[] = {
    {.name = "database.sqlite", .type = RV_CONFIG_PATH, .off = RV_CONFIG_FIELD(database.sqlite)},
    {.name = "database.snapshot_interval",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(database.snapshot_interval_ms),
     .def = "6h",
     .min = 1 * RV_CONFIG_SEC,
     .max = 30 * RV_CONFIG_DAY},
    /* A restore replays the log since its snapshot: this bounds that to a
     * multiple of the database's size (0: the clock alone). */
    {.name = "database.snapshot_log_ratio",
     .type = RV_CONFIG_INT,
     .off = RV_CONFIG_FIELD(database.snapshot_log_ratio),
     .def = "2",
     .min = 0,
     .max = 1000},
    {.name = "database.busy_timeout",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(database.busy_timeout_ms),
     .def = "5s",
     .min = 10,
     .max = 5 * RV_CONFIG_MIN},
};

const struct rv_config_section rv_config_section_database = {
    .owner = "db",
    .entries = entries,
    .nentries = sizeof(entries) / sizeof(entries[0]),
};
