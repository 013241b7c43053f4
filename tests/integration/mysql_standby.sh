#!/usr/bin/env bash
# mysql_standby.sh - `revenant standby --db mysql://…` keeps a DR MariaDB
# current from the store while replicate ships a primary MariaDB under a
# Ghost-shaped writer (100 txn/s, DDL at transaction 400):
#   - the DR database follows: every transaction acked 3 s before a look
#     is there;
#   - killed inside the DDL statement (test point mysql.ddl), it restores
#     the database whole, saying why;
#   - killed with SIGKILL and started again (once inside a segment, at a
#     test point, and three times at random), it goes on from the position
#     recorded inside the DR database (no second full restore; from inside
#     a segment too) and never applies a transaction twice (a duplicate
#     would fail the apply);
#   - a second standby on the same database is refused;
#   - writer and replicate stopped, `standby --promote-once` brings it to
#     the newest point: it equals the primary table by table, and the
#     standby's table is gone (Ghost's database now).
set -uo pipefail
: "${REVENANT:?}" "${RV_MYSQL_TOOL:?}" "${RV_TESTDIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-mysql-sb.XXXXXX")
# shellcheck source=/dev/null
. "$RV_TESTDIR/lib/mariadb.sh"
# shellcheck source=/dev/null
. "$RV_TESTDIR/lib/testpoint.sh"
WP= RP= SP=
cleanup() {
	mariadb_reap $WP $RP $SP
	mariadb_stop
	[ -f "$W/tgt/env" ] && bash "$RV_TESTDIR/lib/mariadb.sh" stop "$W/tgt" >/dev/null 2>&1
	[ -n "${RV_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	[ -f "$W/s.log" ] && tail -15 "$W/s.log" >&2
	# What the store held then (a standby stuck on a gap: issue 11 notes).
	ls "$W"/store/generations/*/db/log 2>/dev/null | tail -8 >&2
	grep -h 'database ship\|level=error\|level=warn' "$W/r.log" 2>/dev/null | tail -5 >&2
	exit 1
}
T0=$(date +%s)
now_ms() { date +%s%3N; }

mariadb_start "$W/src" || fail "cannot start the primary MariaDB"
mkdir -p "$W/tgt"
bash "$RV_TESTDIR/lib/mariadb.sh" start "$W/tgt" || fail "cannot start the DR MariaDB"
TSOCK=$(sed -n 's/^MARIADB_SOCK=//p' "$W/tgt/env")
tsql() { mariadb --no-defaults -S "$TSOCK" -uroot --batch --skip-column-names "$@"; }
mariadb_sql "CREATE DATABASE ghost" || fail "create database"
mkdir -p "$W/content" "$W/store" "$W/dr"
mariadb_rv_config "$W/r.yml" "$W" 500ms
cat >"$W/s.yml" <<YML
site: dr
store:
  url: "file://$W/store"
metrics:
  listen: off
YML
DRURL="mysql://root@localhost/ghost_dr?socket=$TSOCK"
start_standby() {
	"$REVENANT" -c "$W/s.yml" standby --to "$W/dr" --db "$DRURL" --interval 200ms >>"$W/s.log" 2>&1 &
	SP=$!
}
dr_v() { tsql -D ghost_dr -e "SELECT v FROM counters" 2>/dev/null || echo 0; }
check_follows() { # WHAT
	local r0 want got
	r0=$(now_ms)
	sleep 0.1
	got=$(dr_v)
	want=$(awk -v t=$((r0 - 3000)) '$2 < t { n = $1 } END { print n + 0 }' "$W/ack")
	[ "$got" -ge "$want" ] || fail "$1: the DR database holds $got transactions, $want were acked 3 s before"
	echo "$1: DR holds $got (acked 3 s before: $want)"
}

"$RV_MYSQL_TOOL" write "$W/r.yml" "$W/ack" 100 400 2>>"$W/w.err" &
WP=$!
sleep 0.5
mariadb_replicate "$W/r.yml" "$W/r.log" || fail "replicate did not start"
# Killed inside a DDL statement (the writer's, at transaction 400, after
# the first restore): the state row names no point; the restart restores
# the database whole, saying why, rather than run the statement twice.
REVENANT_TESTPOINT='mysql.restored>mysql.ddl' "$REVENANT" -c "$W/s.yml" standby --to "$W/dr" \
	--db "$DRURL" --interval 200ms >>"$W/s.log" 2>&1 &
SP=$!
tp_wait_stopped "$SP" || fail "the standby never reached the DDL statement after its first restore"
kill -9 "$SP"
wait "$SP" 2>/dev/null
[ -z "$(tsql -D ghost_dr -e "SELECT gen FROM revenant_standby")" ] || fail "the state row names a point inside a DDL statement"
start_standby
sleep 4
kill -0 "$SP" || fail "standby died"
check_follows "following"
grep -q 'stopped inside a DDL statement last time' "$W/s.log" || fail "the restart did not say why it restores whole"
[ "$(grep -c 'mysql: database restored' "$W/s.log")" = 2 ] || fail "not exactly two full restores (first, after the DDL kill)"

"$REVENANT" -c "$W/s.yml" standby --to "$W/dr2" --db "$DRURL" --interval 200ms >"$W/s2.log" 2>&1 &
p2=$!
sleep 2
kill -9 "$p2" 2>/dev/null
wait "$p2"
grep -q 'another standby follows database' "$W/s2.log" || fail "a second standby was not refused: $(tail -3 "$W/s2.log")"

# Killed inside a segment (test point: after the 75th transaction a
# run applies): the row says a position no segment starts at.
kill -9 "$SP"
wait "$SP" 2>/dev/null
REVENANT_TESTPOINT=mysql.applied@75 "$REVENANT" -c "$W/s.yml" standby --to "$W/dr" --db "$DRURL" \
	--interval 200ms >>"$W/s.log" 2>&1 &
SP=$!
tp_wait_stopped "$SP" || fail "the standby never reached mysql.applied"
kill -9 "$SP"
wait "$SP" 2>/dev/null
echo "killed inside a segment at position $(tsql -D ghost_dr -e "SELECT pos FROM revenant_standby")"
start_standby
sleep 2.5
check_follows "after a kill inside a segment"
for i in 1 2 3; do
	sleep "$((RANDOM % 2)).$((RANDOM % 10))"
	kill -9 "$SP"
	wait "$SP" 2>/dev/null
	start_standby
	sleep 2.5
	kill -0 "$SP" || fail "standby died after restart $i"
	check_follows "after kill $i"
done
[ "$(grep -c 'mysql: database restored' "$W/s.log")" = 2 ] || fail "a restart restored the database whole again"
grep -q 'level=error' "$W/s.log" && fail "standby logged an error: $(grep 'level=error' "$W/s.log" | head -3)"

kill -TERM "$WP"
wait "$WP" || fail "the writer failed"
WP=
sleep 1.5
kill -TERM "$RP"
wait "$RP" || fail "replicate exited $?"
RP=
kill -TERM "$SP"
wait "$SP"
SP=
"$REVENANT" -c "$W/s.yml" standby --to "$W/dr" --db "$DRURL" --promote-once >"$W/p.log" 2>&1 ||
	fail "--promote-once: $(cat "$W/p.log")"
cat "$W/p.log" | tail -1
for t in $(mariadb_sql "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='ghost' ORDER BY 1"); do
	a=$(mariadb_sql -D ghost "CHECKSUM TABLE \`$t\`" | cut -f2)
	b=$(tsql -D ghost_dr -e "CHECKSUM TABLE \`$t\`" | cut -f2)
	[ "$a" = "$b" ] || fail "promoted: $t differs ($b, the primary's $a)"
done
[ -z "$(tsql -e "SHOW TABLES FROM ghost_dr LIKE 'revenant%'")" ] || fail "the promoted database keeps revenant's tables"
echo "promoted: equals the primary ($(mariadb_sql -D ghost "SELECT v FROM counters") transactions)"
echo "PASS ($(($(date +%s) - T0)) s)"
