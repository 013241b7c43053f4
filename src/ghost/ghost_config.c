/* ghost_config.c - the `ghost:` section of revenant.yml: the site's URL and
 * the Admin API key (a secret, or admin_key_file). */
#include "core/config.h"

static const struct rv_config_entry entries[] = {
    {.name = "ghost.url", .type = RV_CONFIG_STRING, .off = RV_CONFIG_FIELD(ghost.url)},
    {.name = "ghost.admin_key",
     .type = RV_CONFIG_STRING,
     .flags = RV_CONFIG_F_SECRET,
     .off = RV_CONFIG_FIELD(ghost.admin_key)},
};

const struct rv_config_section rv_config_section_ghost = {
    .owner = "ghost",
    .entries = entries,
    .nentries = sizeof(entries) / sizeof(entries[0]),
};
