/* content_config.c - the `content:` section of revenant.yml: the content
 * folder, its filter and the pace of manifests and uploads. */
#include "content/content.h"
#include "core/config.h"

static const struct rv_config_entry entries[] = {
    {.name = "content.path", .type = RV_CONFIG_PATH, .off = RV_CONFIG_FIELD(content.path)},
    /* The default is the filter's own, so `config show` prints what runs. */
    {.name = "content.exclude",
     .type = RV_CONFIG_LIST,
     .off = RV_CONFIG_FIELD(content.exclude),
     .names = rv_content_default_excludes},
    {.name = "content.include", .type = RV_CONFIG_LIST, .off = RV_CONFIG_FIELD(content.include)},
    /* FORMAT.md promises a manifest at least every 256 commits. */
    {.name = "content.manifest_every",
     .type = RV_CONFIG_INT,
     .off = RV_CONFIG_FIELD(content.manifest_every),
     .def = "256",
     .min = 1,
     .max = 256},
    {.name = "content.manifest_interval",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(content.manifest_interval_ms),
     .def = "10m",
     .min = 1 * RV_CONFIG_SEC,
     .max = RV_CONFIG_DAY},
    {.name = "content.upload_workers",
     .type = RV_CONFIG_INT,
     .off = RV_CONFIG_FIELD(content.upload_workers),
     .def = "8",
     .min = 1,
     .max = 64},
};

const struct rv_config_section rv_config_section_content = {
    .owner = "content",
    .entries = entries,
    .nentries = sizeof(entries) / sizeof(entries[0]),
};
