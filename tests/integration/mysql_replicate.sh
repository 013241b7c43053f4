#!/usr/bin/env bash
# mysql_replicate.sh - `revenant replicate` with database.mysql on a real
# MariaDB 10.11 (tests/lib/mariadb.sh) while a Ghost-shaped writer commits
# 100 txn/s (mysql_tool write: posts, users, tags, posts_tags with 24-hex
# ids, counters.v = the transaction number), restored by `revenant restore
# --db mysql://…` into a second MariaDB:
#   - DDL mid-stream: ALTER TABLE posts ADD COLUMN and CREATE TABLE
#     post_revisions at transaction 300, used from then on; one
#     transaction of 15 MB of binlog (a 50,000-row INSERT and an UPDATE
#     of half of them: its row events go out in several BINLOG statements)
#     with replicate's peak RSS at most 32 MiB;
#   - the binlog rotated (FLUSH BINARY LOGS) and MariaDB stopped for 3 s
#     and started again under replicate: the stream says it broke, no
#     recovery point is written while it is down (it could not vouch for
#     the database), it is back, nothing is lost, one generation;
#   - a latest restore while it runs holds every transaction acked more
#     than sync_interval + 1 s before it started;
#   - stopped: the restore equals the source table by table (CHECKSUM
#     TABLE and the columns of every table);
#   - a restore killed while applying the binlog (test point) leaves its
#     marker (saying the position reached) and the next one redoes it,
#     equal to the source;
#   - --db FILE for a MySQL store: exit 2 saying which --db; a restore
#     into an existing database: exit 6 (and --force replaces it); a
#     damaged or a missing segment: exit 7 and no database left;
#   - the binlog purged past revenant's position (replicate stopped, its
#     dump connection killed, PURGE BINARY LOGS): a new generation, with
#     the reason in the log, whose restore equals the source again;
#   - RESET MASTER under replicate (the server's history starts again):
#     a new generation, whose restore equals the source.
set -uo pipefail
: "${REVENANT:?}" "${RV_MYSQL_TOOL:?}" "${RV_TESTDIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-mysql-repl.XXXXXX")
# shellcheck source=/dev/null
. "$RV_TESTDIR/lib/mariadb.sh"
# shellcheck source=/dev/null
. "$RV_TESTDIR/lib/testpoint.sh"
WP= RP=
cleanup() {
	local p
	for p in $WP $RP; do kill -CONT "$p" 2>/dev/null; done
	mariadb_reap $WP $RP
	mariadb_stop
	[ -f "$W/tgt/env" ] && bash "$RV_TESTDIR/lib/mariadb.sh" stop "$W/tgt" >/dev/null 2>&1
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
T0=$(date +%s)

mariadb_start "$W/src" || fail "cannot start the source MariaDB"
mkdir -p "$W/tgt"
bash "$RV_TESTDIR/lib/mariadb.sh" start "$W/tgt" || fail "cannot start the target MariaDB"
TSOCK=$(sed -n 's/^MARIADB_SOCK=//p' "$W/tgt/env")
tsql() { mariadb --no-defaults -S "$TSOCK" -uroot --batch --skip-column-names "$@"; }
mariadb_sql "CREATE DATABASE ghost" || fail "create database"
mkdir -p "$W/content" "$W/store"
mariadb_rv_config "$W/r.yml" "$W" 1s 6h
TURL="mysql://root@localhost/%s?socket=$TSOCK"

start_writer() {
	"$RV_MYSQL_TOOL" write "$W/r.yml" "$W/ack" 100 300 2>>"$W/w.err" &
	WP=$!
}
stop_writer() {
	kill -TERM "$WP"
	wait "$WP" || fail "the writer failed: $(tail -3 "$W/w.err")"
	WP=
}
start_replicate() {
	local n0
	n0=$(grep -c 'content generation started' "$W/r.log" 2>/dev/null)
	"$REVENANT" -c "$W/r.yml" replicate >>"$W/r.log" 2>&1 &
	RP=$!
	for _ in $(seq 1 300); do
		[ "$(grep -c 'content generation started' "$W/r.log" 2>/dev/null)" -gt "${n0:-0}" ] && return 0
		kill -0 "$RP" 2>/dev/null || fail "replicate exited during start-up"
		sleep 0.05
	done
	fail "replicate started no generation within 15 s"
}
stop_replicate() {
	kill -TERM "$RP"
	wait "$RP" || fail "replicate exited $? on SIGTERM"
	RP=
}
restore() { # DB [args]
	local db=$1
	shift
	# shellcheck disable=SC2059
	"$REVENANT" -c "$W/r.yml" restore --db-only --db "$(printf "$TURL" "$db")" "$@" >"$W/restore-$db.log" 2>&1
}
# same DB: every table of ghost on the source equals DB on the target.
same() {
	local t a b tables
	tables=$(mariadb_sql "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA='ghost'")
	b=$(tsql -e "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA='$1'")
	[ "$tables" = "$b" ] || fail "$1: tables '$b', the source has '$tables'"
	for t in ${tables//,/ }; do
		a=$(mariadb_sql -D ghost "CHECKSUM TABLE \`$t\`" | cut -f2)
		b=$(tsql -D "$1" -e "CHECKSUM TABLE \`$t\`" | cut -f2)
		[ "$a" = "$b" ] || fail "$1.$t: checksum $b, the source's $a"
		a=$(mariadb_sql "SELECT GROUP_CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='ghost' AND TABLE_NAME='$t'")
		b=$(tsql -e "SELECT GROUP_CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='$1' AND TABLE_NAME='$t'")
		[ "$a" = "$b" ] || fail "$1.$t: columns '$b', the source's '$a'"
	done
	echo "$1 equals the source: $(mariadb_sql -D ghost "SELECT v FROM counters") transactions, tables ${tables//,/ }"
}

step "replicate while the writer runs"
start_writer
sleep 1
start_replicate
sleep 2
step "rotate the binlog; a 15 MB transaction and a statement over 50,000 rows"
mariadb_sql "FLUSH BINARY LOGS" || fail "flush binary logs"
mariadb_sql -D ghost "CREATE TABLE big (id INT PRIMARY KEY, body TEXT) ENGINE=InnoDB;
SET SESSION max_recursive_iterations = 1000000;
BEGIN; INSERT INTO big WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < 50000)
  SELECT i, REPEAT(MD5(i), 8) FROM s; UPDATE big SET body = CONCAT(body, 'x') WHERE id % 2 = 0; COMMIT" ||
	fail "the big transaction"
sleep 1
step "MariaDB down for 3 s and restarted under replicate"
mariadb_stop
sleep 3
_mariadb_run || fail "cannot restart the source"
sleep 3
grep -q 'binlog stream broke; reconnecting' "$W/r.log" || fail "no log line for the lost stream"
grep -q 'binlog stream has been down for .* no recovery point until it is back' "$W/r.log" ||
	fail "no recovery point refused while the stream was down"
grep -q 'binlog stream is back' "$W/r.log" || fail "the stream did not come back"
kill -0 "$RP" || fail "replicate died"

step "a latest restore while it runs"
r0=$(now_ms)
restore live || fail "live restore: $(cat "$W/restore-live.log")"
got=$(tsql -D live -e "SELECT v FROM counters")
want=$(awk -v t=$((r0 - 2000)) '$2 < t { n = $1 } END { print n + 0 }' "$W/ack")
[ "$want" -gt 300 ] || fail "the writer acked only $want transactions 2 s before the restore"
[ "$got" -ge "$want" ] || fail "live restore holds $got transactions, $want were acked 2 s before it"
echo "live restore: $got transactions (acked 2 s before: $want) in $(($(now_ms) - r0)) ms"
tsql -D live -e "SELECT COUNT(*) FROM post_revisions" >/dev/null || fail "live restore lacks the DDL's table"

step "stop; the restore equals the source"
stop_writer
sleep 1.5
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$RP/status")
# A sanitizer build's shadow memory and quarantine are no measure.
if ldd "$REVENANT" | grep -q 'libasan'; then
	echo "replicate's peak RSS: $((hwm / 1024)) MiB (sanitizer build: the 32 MiB bound is for release builds)"
else
	[ "$hwm" -le $((32 * 1024)) ] || fail "replicate's peak RSS $hwm KiB (more than 32 MiB)"
	echo "replicate's peak RSS: $((hwm / 1024)) MiB"
fi
stop_replicate
restore final || fail "final restore: $(cat "$W/restore-final.log")"
same final
gens=$(ls "$W/store/generations" | wc -l)
[ "$gens" = 1 ] || fail "$gens generations after a rotation and a restart (want 1)"
segs=$(ls "$W/store/generations"/*/db/log | wc -l)
echo "one generation, $segs segments"

step "refusals: a SQLite file for a MySQL store, an existing database, a damaged segment"
"$REVENANT" -c "$W/r.yml" restore --db-only --db "$W/ghost.db" >"$W/restore-file.log" 2>&1
rc=$?
[ "$rc" = 2 ] && grep -q 'holds a mysql database' "$W/restore-file.log" ||
	fail "--db FILE for a MySQL generation: exit $rc ($(cat "$W/restore-file.log"))"
[ ! -e "$W/ghost.db" ] || fail "--db FILE for a MySQL generation left a file"
restore final
[ $? = 6 ] || fail "a restore into an existing database: not exit 6 ($(cat "$W/restore-final.log"))"
restore final --force || fail "--force: $(cat "$W/restore-final.log")"
same final
REVENANT_TESTPOINT=mysql.applied@300 "$REVENANT" -c "$W/r.yml" restore --db-only \
	--db "mysql://root@localhost/killed?socket=$TSOCK" >"$W/restore-killed.log" 2>&1 &
kp=$!
tp_wait_stopped "$kp" || fail "the restore never reached mysql.applied"
kill -9 "$kp"
wait "$kp" 2>/dev/null
note=$(tsql -D killed -e "SELECT note FROM revenant_restore_incomplete")
echo "$note" | grep -q 'position 300' || fail "a restore killed while applying: marker says '$note'"
restore killed || fail "the restore after a killed one: $(cat "$W/restore-killed.log")"
grep -q 'did not finish' "$W/restore-killed.log" || fail "no word of the killed restore"
same killed
seg=$(ls "$W/store/generations"/*/db/log/* | sed -n 3p)
cp "$seg" "$W/seg.bak"
printf 'XXXX' | dd of="$seg" bs=1 seek=200 conv=notrunc status=none
restore broken
rc=$?
[ "$rc" = 7 ] || fail "a damaged segment: exit $rc, not 7 ($(cat "$W/restore-broken.log"))"
grep -q "$(basename "$seg")" "$W/restore-broken.log" || fail "the error does not name the segment: $(cat "$W/restore-broken.log")"
[ -z "$(tsql -e "SHOW DATABASES LIKE 'broken'")" ] || fail "a failed restore left its database"
cp "$W/seg.bak" "$seg"
rm "$(ls "$W/store/generations"/*/db/log/* | sed -n 4p)"
restore gap
rc=$?
[ "$rc" = 7 ] || fail "a missing segment: exit $rc, not 7 ($(cat "$W/restore-gap.log"))"
grep -q 'gap' "$W/restore-gap.log" || fail "no gap named: $(cat "$W/restore-gap.log")"
[ -z "$(tsql -e "SHOW DATABASES LIKE 'gap'")" ] || fail "a failed restore left its database"
cat "$W/restore-gap.log"

step "the binlog purged past revenant's position"
start_writer
start_replicate
sleep 1
kill -STOP "$RP"
sleep 1
mariadb_sql "FLUSH BINARY LOGS" || fail "flush"
for id in $(mariadb_sql "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'"); do
	mariadb_sql "KILL $id" || true
done
sleep 0.5
cur=$(mariadb_sql "SHOW MASTER STATUS" | cut -f1)
mariadb_sql "PURGE BINARY LOGS TO '$cur'" || fail "purge"
first=$(mariadb_sql "SHOW BINARY LOGS" | head -1 | cut -f1)
[ "$first" = "$cur" ] || fail "the purge kept $first (want $cur first)"
sleep 0.5
kill -CONT "$RP"
for _ in $(seq 1 100); do
	grep -q 'database chain broken' "$W/r.log" && break
	sleep 0.1
done
grep 'database chain broken' "$W/r.log" || fail "no new generation after the purge"
grep 'database chain broken' "$W/r.log" | grep -qi 'purged' || fail "the log line does not say the binlog was purged"
sleep 1
stop_writer
sleep 1.5
stop_replicate
gens=$(ls "$W/store/generations" | wc -l)
[ "$gens" = 3 ] || fail "$gens generations (want 3: the first, the restart's, the purge's)"
restore after || fail "restore after the purge: $(cat "$W/restore-after.log")"
same after

step "the server's binlog reset (RESET MASTER) under replicate"
start_writer
start_replicate
sleep 1
b0=$(grep -c 'database chain broken' "$W/r.log")
mariadb_sql "RESET MASTER" || fail "reset master"
for _ in $(seq 1 100); do
	[ "$(grep -c 'database chain broken' "$W/r.log")" -gt "$b0" ] && break
	sleep 0.1
done
[ "$(grep -c 'database chain broken' "$W/r.log")" -gt "$b0" ] || fail "no new generation after RESET MASTER"
grep 'database chain broken' "$W/r.log" | tail -1
sleep 1
stop_writer
sleep 1.5
stop_replicate
restore reset || fail "restore after the reset: $(cat "$W/restore-reset.log")"
same reset
echo "PASS ($(($(date +%s) - T0)) s)"
