#!/usr/bin/env bash
# mysql_outage.sh - the store unreachable for 45 s under `revenant
# replicate` with database.mysql: a MariaDB 10.11 (tests/lib/mariadb.sh)
# with the Ghost-shaped writer (mysql_tool write, 100 txn/s) replicated
# into s3rver (tests/lib/s3rver.sh); s3rver is killed for 45 s (a real
# network failure: connection refused) and started again on the same port
# with its data.  Meanwhile the binlog rotates (FLUSH BINARY LOGS) and the
# older files are purged.
#   - while the store is down: a clear log line ("database ship failed,
#     will retry" naming the store error), /healthz 503, /metrics counts
#     the store errors, replicate keeps running and keeps its binlog
#     position (the reader thread spools what arrives: no new
#     generation even though the older binlogs were purged; purged past
#     revenant's own position is mysql_replicate's case);
#   - after the restart the recovery points advance again
#     (revenant_db_position_frames grows, the newest point's position
#     passes the outage), still one generation;
#   - the writer stopped, replicate SIGKILLed 2.2 s later (sync_interval
#     1 s + 1 s: no final ship helps): every acknowledged transaction is in
#     the restore (`restore --db mysql://…` into a second database), which
#     equals the source table by table (CHECKSUM TABLE and columns).
set -uo pipefail
: "${REVENANT:?}" "${RV_MYSQL_TOOL:?}" "${RV_TESTDIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-mysql-outage.XXXXXX")
# shellcheck source=/dev/null
. "$RV_TESTDIR/lib/mariadb.sh"
# shellcheck source=/dev/null
. "$RV_TESTDIR/lib/s3rver.sh"
WP= RP=
cleanup() {
	mariadb_reap $WP $RP
	mariadb_stop
	s3rver_cleanup
	rm -rf "$W"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	[ -f "$W/r.log" ] && tail -15 "$W/r.log" >&2
	exit 1
}
step() { echo "--- $* (+$(($(date +%s) - T0)) s)"; }
now_ms() { date +%s%3N; }
metric() { curl -s "http://127.0.0.1:$MPORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
T0=$(date +%s)

mariadb_start "$W/db" || fail "cannot start MariaDB"
mariadb_sql "CREATE DATABASE ghost" || fail "create database"
s3rver_start || fail "cannot start s3rver"
s3rver_mkbucket rv-mysql-outage || fail "cannot create the bucket"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
MPORT=$(s3rver_free_port)
mkdir -p "$W/content"
MARIADB_RV_STORE="s3://rv-mysql-outage/dc?endpoint=$S3RVER_URL&region=us-east-1" \
	MARIADB_RV_STORE_OPTS="  s3:
    deadline: 3s
    max_attempts: 3
    connect_timeout: 500ms
    request_timeout: 2s" \
	MARIADB_RV_METRICS="127.0.0.1:$MPORT" \
	mariadb_rv_config "$W/r.yml" "$W" 1s 6h

step "replicate into s3rver while the writer runs"
"$RV_MYSQL_TOOL" write "$W/r.yml" "$W/ack" 100 2>>"$W/w.err" &
WP=$!
sleep 0.5
mariadb_replicate "$W/r.yml" "$W/r.log" || fail "replicate did not start"
sleep 3
p0=$(metric revenant_db_position_frames)
[ "${p0:-0}" -gt 100 ] || fail "replicate shipped only '${p0:-0}' transactions in 3 s"
echo "before the outage: position $p0"

step "s3rver killed for 45 s"
s3rver_stop KILL
sleep 15
mariadb_sql "FLUSH BINARY LOGS" || fail "flush binary logs"
# Binlogs purged meanwhile do not matter: the stream keeps reading (into
# its spool), so its place in the binlog stays current.
cur=$(mariadb_sql "SHOW MASTER STATUS" | cut -f1)
mariadb_sql "PURGE BINARY LOGS TO '$cur'" || fail "purge binary logs"
echo "binlog rotated and purged to $cur while the store is down"
sleep 15
kill -0 "$RP" || fail "replicate exited while the store was down"
grep 'database ship failed, will retry' "$W/r.log" | head -1 | grep -q . ||
	fail "no log line for the unreachable store"
grep 'database ship failed, will retry' "$W/r.log" | head -1
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/healthz")" = 503 ] ||
	fail "/healthz is not 503 without a store"
e=$(metric 'revenant_errors_total{kind="store"}')
[ "${e:-0}" != 0 ] || fail "store errors not counted (revenant_errors_total{kind=\"store\"} '$e')"
p1=$(metric revenant_db_position_frames)
echo "during the outage: position ${p1:-?}, store errors $e, /healthz 503"
sleep 15
kill -0 "$RP" || fail "replicate exited while the store was down"
n_out=$(mariadb_sql -D ghost "SELECT v FROM counters")
s3rver_start "$S3RVER_DIR" "$S3RVER_PORT" || fail "cannot restart s3rver"
step "s3rver back on port $S3RVER_PORT ($n_out transactions committed by then)"
t_back=$(now_ms)
ok=
for _ in $(seq 1 200); do
	p2=$(metric revenant_db_position_frames)
	[ "${p2:-0}" -gt "$n_out" ] && ok=1 && break
	sleep 0.1
done
[ -n "$ok" ] || fail "the position did not pass the outage's $n_out transactions within 20 s of the restart (at ${p2:-?})"
echo "caught up $(($(now_ms) - t_back)) ms after the restart: position $p2"
sleep 2
p3=$(metric revenant_db_position_frames)
[ "$p3" -gt "$p2" ] || fail "the points do not advance after the recovery ($p2 then $p3)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/healthz")" = 200 ] ||
	fail "/healthz is not 200 after the recovery"
[ "$(metric revenant_db_new_generations_total)" = 0 ] ||
	fail "a new generation during the outage: $(grep 'database chain broken' "$W/r.log")"

step "the writer stopped, replicate SIGKILLed 2.2 s later"
kill -TERM "$WP"
wait "$WP" || fail "the writer failed: $(tail -3 "$W/w.err")"
WP=
last=$(tail -1 "$W/ack" | cut -d' ' -f1)
sleep 2.2
kill -9 "$RP"
wait "$RP" 2>/dev/null
RP=
gens=$(s3rver_aws s3 ls "s3://rv-mysql-outage/dc/generations/" | wc -l)
[ "$gens" = 1 ] || fail "$gens generations after the outage (want 1)"

"$REVENANT" -c "$W/r.yml" restore --db-only \
	--db "mysql://root@localhost/restored?socket=$MARIADB_SOCK" >"$W/restore.log" 2>&1 ||
	fail "restore: $(cat "$W/restore.log")"
got=$(mariadb_sql -D restored "SELECT v FROM counters")
[ "$got" = "$last" ] || fail "the restore holds $got transactions, the writer acked $last more than 2.2 s before the kill"
tables=$(mariadb_sql "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA='ghost'")
b=$(mariadb_sql "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA='restored'")
[ "$tables" = "$b" ] || fail "restored tables '$b', the source has '$tables'"
for t in ${tables//,/ }; do
	a=$(mariadb_sql -D ghost "CHECKSUM TABLE \`$t\`" | cut -f2)
	b=$(mariadb_sql -D restored "CHECKSUM TABLE \`$t\`" | cut -f2)
	[ "$a" = "$b" ] || fail "restored.$t: checksum $b, the source's $a"
	a=$(mariadb_sql "SELECT GROUP_CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='ghost' AND TABLE_NAME='$t'")
	b=$(mariadb_sql "SELECT GROUP_CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='restored' AND TABLE_NAME='$t'")
	[ "$a" = "$b" ] || fail "restored.$t: columns '$b', the source's '$a'"
done
echo "the restore equals the source: $got transactions, tables ${tables//,/ }"
echo "PASS ($(($(date +%s) - T0)) s)"
