#!/bin/bash
# revenant's account on the MariaDB Ghost uses, made once when the
# datadir is first initialised (the mariadb image runs *.sh files in
# /docker-entrypoint-initdb.d with its helper docker_process_sql).  What
# each privilege is for: docs/OPERATIONS.md "Ghost on MySQL 8 / MariaDB";
# `revenant config check` at each site names anything still missing.
#   - replicate (primary): REPLICATION SLAVE, BINLOG MONITOR, RELOAD and
#     reads of Ghost's database;
#   - the standby role of `revenant run` (the site without the lease):
#     what a restore needs on Ghost's database, and BINLOG REPLAY;
#   - a fenced primary keeps Ghost's tables in ghost_saved_<time>_e<epoch>;
#   - the daily verify restores into revenant_verify and drops it.
# The password comes from the Secret mariadb-credentials (key
# revenant-password), never from this file.
set -euo pipefail
: "${MARIADB_REVENANT_PASSWORD:?set from the Secret mariadb-credentials, key revenant-password}"
pw=${MARIADB_REVENANT_PASSWORD//\\/\\\\}
pw=${pw//\'/\\\'}
docker_process_sql --database=mysql <<SQL
CREATE USER IF NOT EXISTS 'revenant'@'%' IDENTIFIED BY '${pw}';
GRANT REPLICATION SLAVE, BINLOG MONITOR, RELOAD, BINLOG REPLAY ON *.* TO 'revenant'@'%';
GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, CREATE, INSERT, UPDATE, DELETE, ALTER, INDEX, DROP,
      CREATE VIEW, REFERENCES ON \`ghost\`.* TO 'revenant'@'%';
GRANT CREATE, INSERT ON \`ghost\\_saved\\_%\`.* TO 'revenant'@'%';
GRANT ALL PRIVILEGES ON \`revenant\\_verify\`.* TO 'revenant'@'%';
SQL
