/* metrics_config.c - the `metrics:` section of revenant.yml: where the
 * /metrics and /healthz server listens ("off": nowhere). */
#include "core/config.h"

static const struct rv_config_entry entries[] = {
    {.name = "metrics.listen",
     .type = RV_CONFIG_ADDR,
     .flags = RV_CONFIG_F_OFF,
     .off = RV_CONFIG_FIELD(metrics.listen),
     .def = "127.0.0.1:9187"},
};

const struct rv_config_section rv_config_section_metrics = {
    .owner = "metrics",
    .entries = entries,
    .nentries = sizeof(entries) / sizeof(entries[0]),
};
