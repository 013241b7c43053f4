#!/usr/bin/env bash
# mysql_position.sh - the MySQL 8 way of streaming the binlog (by binlog
# file and offset: COM_BINLOG_DUMP from the snapshot's position, resumed
# at the file and offset after the last complete transaction, the server
# identity checked at each reconnect) run against MariaDB 10.11, since no
# MySQL 8 server runs here: mysql_replicate.sh (a rotation, a restart
# under replicate, a 15 MB transaction, restores equal to the source, the
# binlog purged past revenant's position and RESET MASTER each starting a
# new generation) under the stream's test hook REVENANT_MYSQL_DUMP=position.
# mysql_pitr.sh passes the same way (later snapshots cut by position).
set -uo pipefail
: "${RV_TESTDIR:?}"
export REVENANT_MYSQL_DUMP=position
exec bash "$RV_TESTDIR/integration/mysql_replicate.sh"
