#!/usr/bin/env bash
# mysql_pitr.sh - point-in-time restore of a MariaDB database
# (`revenant restore --at TIME --db mysql://…`): a Ghost-shaped writer
# (mysql_tool write, 150 txn/s, DDL at transaction 200) runs under
# replicate; ten times the test pauses the writer (SIGSTOP), waits past a
# sync_interval, records the time and the CHECKSUM TABLE of every table
# (what a dump at that time holds), and lets it go on.  Afterwards each
# `restore --at` that time must hold exactly that state: the same tables,
# columns and checksums (some points before the DDL, some after); a time
# before the generation is refused (exit 5).  snapshot_interval 4s: later
# snapshots are cut at exactly a position (the stream ships up to their
# GTID first), and restores start from them.
set -uo pipefail
: "${REVENANT:?}" "${RV_MYSQL_TOOL:?}" "${RV_TESTDIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-mysql-pitr.XXXXXX")
# shellcheck source=/dev/null
. "$RV_TESTDIR/lib/mariadb.sh"
WP= RP=
cleanup() {
	local p
	for p in $WP $RP; do kill -CONT "$p" 2>/dev/null; done
	mariadb_reap $WP $RP
	mariadb_stop
	rm -rf "$W"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	[ -f "$W/r.log" ] && tail -15 "$W/r.log" >&2
	exit 1
}
T0=$(date +%s)
now_ms() { date +%s%3N; }

mariadb_start "$W/db" || fail "cannot start MariaDB"
mariadb_sql "CREATE DATABASE ghost" || fail "create database"
mkdir -p "$W/content" "$W/store"
mariadb_rv_config "$W/r.yml" "$W" 500ms 4s

# state DB: "table checksum columns" lines of every table of DB.
state() {
	local t
	for t in $(mariadb_sql "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='$1' AND TABLE_NAME <> 'revenant_restore_incomplete' ORDER BY TABLE_NAME"); do
		echo "$t $(mariadb_sql -D "$1" "CHECKSUM TABLE \`$t\`" | cut -f2) $(mariadb_sql "SELECT GROUP_CONCAT(COLUMN_NAME, ':', COLUMN_TYPE ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='$1' AND TABLE_NAME='$t'")"
	done
}

before=$(now_ms)
sleep 0.2
"$RV_MYSQL_TOOL" write "$W/r.yml" "$W/ack" 150 200 2>>"$W/w.err" &
WP=$!
sleep 0.5
mariadb_replicate "$W/r.yml" "$W/r.log" || fail "replicate did not start"
ats=()
for i in $(seq 1 10); do
	sleep "0.$((RANDOM % 9 + 1))"
	kill -STOP "$WP"
	sleep 1.2 # past a sync_interval and its upload: the point holds it all
	at=$(now_ms)
	state ghost >"$W/state.$i"
	n=$(mariadb_sql -D ghost "SELECT v FROM counters")
	echo "point $i at $at: $n transactions, $(wc -l <"$W/state.$i") tables"
	ats+=("$at")
	sleep 0.3
	kill -CONT "$WP"
	kill -0 "$RP" || fail "replicate died"
done
kill -TERM "$WP"
wait "$WP" || fail "the writer failed: $(tail -3 "$W/w.err")"
WP=
kill -TERM "$RP"
wait "$RP" || fail "replicate exited $? on SIGTERM"
RP=
grep -q 'excerpt' "$W/state.10" || fail "the writer's DDL is not in the last point (too few transactions?)"
grep -q 'excerpt' "$W/state.1" && echo "note: the DDL came before point 1"

i=0
for at in "${ats[@]}"; do
	i=$((i + 1))
	sec="${at:0:10}.${at:10:3}"
	"$REVENANT" -c "$W/r.yml" restore --db-only --at "$sec" \
		--db "mysql://root@localhost/pitr$i?socket=$MARIADB_SOCK" >"$W/restore.$i" 2>&1 ||
		fail "restore --at $sec: $(cat "$W/restore.$i")"
	state "pitr$i" >"$W/got.$i"
	diff "$W/state.$i" "$W/got.$i" >"$W/diff.$i" || fail "restore --at $sec differs from the state at that time: $(head -5 "$W/diff.$i")"
	snap=$(sed -n 's/.*db\/snapshot\/\([0-9a-f]*\)-.*/\1/p' "$W/restore.$i" | head -1)
	echo "restore --at $sec: equal (snapshot at position $((16#${snap:-0})), $(grep -o '([0-9]* segments' "$W/restore.$i" | tr -d '(') after it)"
done
sec="${before:0:10}.${before:10:3}"
"$REVENANT" -c "$W/r.yml" restore --db-only --at "$sec" \
	--db "mysql://root@localhost/early?socket=$MARIADB_SOCK" >"$W/restore.early" 2>&1
rc=$?
[ "$rc" = 5 ] || fail "restore --at before the first point: exit $rc, not 5 ($(cat "$W/restore.early"))"
snaps=$(ls "$W"/store/generations/*/db/snapshot | wc -l)
[ "$snaps" -ge 3 ] || fail "only $snaps snapshots with snapshot_interval 4s"
echo "$snaps snapshots in the generation"
# verify: a MySQL generation's database needs --scratch-db (without it:
# not supported, exit 1, never "unrestorable"); with it, restored into a
# scratch database, CHECK TABLE, the posts read, the database dropped.
"$REVENANT" -c "$W/r.yml" verify >"$W/verify.out" 2>&1
rc=$?
[ "$rc" = 1 ] || fail "verify of a MySQL store without --scratch-db: exit $rc, not 1 ($(cat "$W/verify.out"))"
grep -q "holds a MySQL/MariaDB database: give verify a scratch database" "$W/verify.out" ||
	fail "verify without --scratch-db: $(cat "$W/verify.out")"
SCRATCH="mysql://root@localhost/vscratch?socket=$MARIADB_SOCK"
"$REVENANT" -c "$W/r.yml" verify --scratch-db "$SCRATCH" >"$W/verify.out" 2>&1 ||
	fail "verify --scratch-db: exit $? ($(cat "$W/verify.out"))"
grep -Eq "CHECK TABLE ok on [5-9] tables" "$W/verify.out" || fail "verify's tables: $(cat "$W/verify.out")"
grep -Eq "posts: [1-9][0-9]*, 0 image references" "$W/verify.out" || fail "verify's posts: $(cat "$W/verify.out")"
[ -z "$(mariadb_sql "SHOW DATABASES LIKE 'vscratch'")" ] || fail "verify left its scratch database"
cp "$W/verify.out" "$W/verify.ok"
mariadb_sql "CREATE DATABASE vscratch" || fail "create vscratch"
"$REVENANT" -c "$W/r.yml" verify --scratch-db "$SCRATCH" >"$W/verify.out" 2>&1
rc=$?
[ "$rc" = 2 ] || fail "verify into an existing database: exit $rc, not 2"
grep -q "database 'vscratch' already exists" "$W/verify.out" || fail "verify into an existing database: $(cat "$W/verify.out")"
[ -n "$(mariadb_sql "SHOW DATABASES LIKE 'vscratch'")" ] || fail "verify dropped a database it did not create"
mariadb_sql "DROP DATABASE vscratch"
# Damage an object the newest point needs: its last segment, or its
# snapshot when the point sits right on one (no segment after it).
seg=$(sed -n 's/.*mysql: database restored" snapshot=\([^ ]*\) .* segments=0 .*/\1/p' "$W/verify.ok")
if [ -n "$seg" ]; then
	seg=$W/store/$seg
else
	seg=$(find "$W"/store/generations/*/db/log -type f | sort | tail -1)
fi
[ -f "$seg" ] || fail "no object to damage ($seg): $(cat "$W/verify.ok")"
echo "damaging $(basename "$seg")"
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=0x40; open(p,"wb").write(b)' "$seg"
"$REVENANT" -c "$W/r.yml" verify --scratch-db "$SCRATCH" >"$W/verify.out" 2>&1
rc=$?
[ "$rc" = 9 ] || fail "verify of a damaged object: exit $rc, not 9 ($(cat "$W/verify.out"))"
grep -qF "$(basename "$seg")" "$W/verify.out" || fail "verify does not name the damaged object: $(cat "$W/verify.out")"
[ -z "$(mariadb_sql "SHOW DATABASES LIKE 'vscratch'")" ] || fail "a failed verify left its scratch database"
grep -h "CHECK TABLE\|posts:\|restored in" "$W/verify.ok"
echo "verify: ok, then the damaged object found"
echo "PASS ($(($(date +%s) - T0)) s)"
