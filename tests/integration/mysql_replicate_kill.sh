#!/usr/bin/env bash
# mysql_replicate_kill.sh - `revenant replicate` with database.mysql killed
# with SIGKILL at random moments (start-up and its snapshot included) while
# a Ghost-shaped writer commits 200 txn/s on a real MariaDB; after each
# kill the latest restore (`restore --db mysql://…`, into the same server
# under another name):
#   - holds every transaction acked more than sync_interval + 1 s before
#     the kill (counters.v >= the last such ack);
#   - holds whole transactions only: each one inserts a post and a tag link
#     and bumps its author's count and counters.v, so COUNT(posts) =
#     counters.v = SUM(users.post_count) in any prefix of the history;
# and at the end (writer stopped, one clean run) the restore equals the
# source table by table.  CYCLES (default 24) kill cycles, at least 16 of
# them checked (a run killed before its generation's first commit leaves
# the lease naming a generation without a point: restore says so, exit 5,
# and the next cycle checks the store).
set -uo pipefail
: "${REVENANT:?}" "${RV_MYSQL_TOOL:?}" "${RV_TESTDIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-mysql-kill.XXXXXX")
# shellcheck source=/dev/null
. "$RV_TESTDIR/lib/mariadb.sh"
CYCLES=${CYCLES:-24}
checked=0
SLACK=2000 # sync_interval (1 s) + 1 s
WP= RP=
cleanup() {
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
mariadb_rv_config "$W/r.yml" "$W" 1s
restore() { # DB
	"$REVENANT" -c "$W/r.yml" restore --db-only \
		--db "mysql://root@localhost/$1?socket=$MARIADB_SOCK" >"$W/restore-$1.log" 2>&1
}
one() { mariadb_sql -D "$1" "$2"; }

"$RV_MYSQL_TOOL" write "$W/r.yml" "$W/ack" 200 500 2>>"$W/w.err" &
WP=$!
sleep 0.5
for c in $(seq 1 "$CYCLES"); do
	g0=$(grep -c 'content generation started' "$W/r.log" 2>/dev/null)
	"$REVENANT" -c "$W/r.yml" replicate >>"$W/r.log" 2>&1 &
	RP=$!
	# Random moments: some inside the start-up (snapshot, stream start).
	if [ $((c % 5)) = 1 ]; then
		sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
	else
		sleep "$((1 + RANDOM % 3)).$((RANDOM % 10))"
	fi
	kill -0 "$RP" || fail "replicate died before the kill"
	kill -9 "$RP"
	k=$(now_ms)
	wait "$RP" 2>/dev/null
	RP=
	kill -0 "$WP" || fail "the writer died: $(tail -3 "$W/w.err")"
	if [ "$(grep -c 'content generation started' "$W/r.log")" -le "${g0:-0}" ]; then
		echo "cycle $c: killed during start-up (before its generation's first point)"
		continue
	fi
	checked=$((checked + 1))
	restore "k$c" || fail "cycle $c: restore: $(cat "$W/restore-k$c.log")"
	got=$(one "k$c" "SELECT v FROM counters")
	want=$(awk -v t=$((k - SLACK)) '$2 < t { n = $1 } END { print n + 0 }' "$W/ack")
	[ "$got" -ge "$want" ] || fail "cycle $c: the restore holds $got transactions, $want were acked ${SLACK} ms before the kill"
	posts=$(one "k$c" "SELECT COUNT(*) FROM posts")
	users=$(one "k$c" "SELECT SUM(post_count) FROM users")
	[ "$posts" = "$got" ] && [ "$users" = "$got" ] ||
		fail "cycle $c: half a transaction: counters.v $got, posts $posts, users' counts $users"
	echo "cycle $c: killed at +$(((k - T0 * 1000) / 1000)) s, restore holds $got (acked ${SLACK} ms before: $want)"
	mariadb_sql "DROP DATABASE k$c" >/dev/null
done
[ "$checked" -ge 16 ] || fail "only $checked cycles checked"
kill -TERM "$WP"
wait "$WP" || fail "the writer failed: $(tail -3 "$W/w.err")"
WP=
"$REVENANT" -c "$W/r.yml" replicate >>"$W/r.log" 2>&1 &
RP=$!
sleep 3
kill -TERM "$RP"
wait "$RP" || fail "the clean run exited $?"
RP=
restore final || fail "final restore: $(cat "$W/restore-final.log")"
for t in $(mariadb_sql "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='ghost'"); do
	a=$(one ghost "CHECKSUM TABLE \`$t\`" | cut -f2)
	b=$(one final "CHECKSUM TABLE \`$t\`" | cut -f2)
	[ "$a" = "$b" ] || fail "final: $t differs ($b, the source's $a)"
done
echo "final equals the source: $(one ghost "SELECT v FROM counters") transactions; $(ls "$W/store/generations" | wc -l) generations"
echo "PASS ($(($(date +%s) - T0)) s)"
