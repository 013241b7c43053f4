#!/usr/bin/env bash
# mysql_agent.sh - `revenant run` at two sites whose Ghosts are on MariaDB
# (database.mysql: each site its own server), one file:// store, the
# Ghost-shaped writer at dc, hooks recorded:
#   - dc (failover.initial_primary) replicates its MariaDB; dr follows it
#     into its own MariaDB (the standby role over rv_dbtgt_mysql);
#   - dc's agent frozen (SIGSTOP) while its writer goes on: after
#     dead_after, `promote` at dr hands over to dr's agent, which brings
#     the DR database to the newest point, drops the standby's table and
#     replicates it as the new primary; every transaction acked
#     sync_interval + 1 s before the freeze is there;
#   - dr writes a row;
#   - dc's writer stopped (Ghost would be, by hooks.fenced), dc thawed:
#     fenced, it moves Ghost's tables aside into ghost_saved_<time>_e<N>
#     on its own server (holding the transactions dr never got; named in
#     database.txt and the log), then follows dr: dr's row reaches dc;
#   - fall-back: `switchover` at dc: dc is primary again, with dr's row,
#     dr a standby; both databases equal table by table; a resumed
#     promote at a site whose database is Ghost's restores nothing over it.
set -uo pipefail
: "${REVENANT:?}" "${RV_MYSQL_TOOL:?}" "${RV_TESTDIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-mysql-agent.XXXXXX")
# shellcheck source=/dev/null
. "$RV_TESTDIR/lib/mariadb.sh"
# shellcheck source=/dev/null
. "$RV_TESTDIR/lib/wait.sh"
DC= DR= WP=
cleanup() {
	local p
	for p in $DC $DR $WP; do kill -CONT "$p" 2>/dev/null; done
	mariadb_reap $DC $DR $WP
	mariadb_stop
	[ -f "$W/drdb/env" ] && bash "$RV_TESTDIR/lib/mariadb.sh" stop "$W/drdb" >/dev/null 2>&1
	[ -n "${RV_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$W"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; grep -v 'level=debug' "$f" | tail -12 >&2; }; done
	exit 1
}
T0=$(date +%s)

mariadb_start "$W/dcdb" || fail "cannot start dc's MariaDB"
mkdir -p "$W/drdb"
bash "$RV_TESTDIR/lib/mariadb.sh" start "$W/drdb" || fail "cannot start dr's MariaDB"
DR_SOCK=$(sed -n 's/^MARIADB_SOCK=//p' "$W/drdb/env")
dcsql() { mariadb_sql "$@"; }
drsql() { MARIADB_SOCK=$DR_SOCK mariadb_sql "$@"; }
# Ghost's databases exist before Ghost starts (as the demo and the
# Bitnami chart make them); dr's stays empty until the standby fills it.
dcsql "CREATE DATABASE ghost CHARACTER SET utf8mb4" || fail "create dc's database"
drsql "CREATE DATABASE ghost CHARACTER SET utf8mb4" || fail "create dr's database"

HOOK="$RV_TESTDIR/fixtures/hooks/record_hook.sh"
PORT_DC=$(mariadb_free_port) PORT_DR=$(mariadb_free_port)
config() { # config SITE PORT SOCKET
	mkdir -p "$W/$1/c"
	cat >"$W/$1.yml" <<YML
site: $1
sync_interval: 200ms
store: {url: "file://$W/store", fsync: false}
content: {path: $W/$1/c}
database:
  mysql: {socket: "$3", user: root, database: ghost}
metrics: {listen: "127.0.0.1:$2"}
failover:
  initial_primary: dc
  heartbeat_interval: 1s
  dead_after: 5s
  fence_after: 2s
  max_clock_skew: 500ms
  max_loss: 10s
  save_dir: $W/$1/saved
hooks: {promote: $HOOK, fenced: $HOOK, standby: $HOOK, demote: $HOOK, timeout: 2s}
YML
}
config dc "$PORT_DC" "$MARIADB_SOCK"
config dr "$PORT_DR" "$DR_SOCK"
mkdir -p "$W/store"
j() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
role() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v r="revenant_role{role=\"$2\"}" '$1 == r {print $2}'; }
is_role() { [ "$(role "$1" "$2")" = 1 ]; }
run() { # run SITE: starts its agent, sets DC or DR
	RV_HOOK_LOG="$W/$1.hooks" "$REVENANT" -c "$W/$1.yml" run >>"$W/$1.log" 2>&1 &
	if [ "$1" = dc ]; then DC=$!; else DR=$!; fi
}
dr_v() { drsql -D ghost "SELECT v FROM counters" 2>/dev/null || echo 0; }
acked_before() { awk -v t="$1" '$2 < t { n = $1 } END { print n + 0 }' "$W/ack"; }
same_tables() { # same_tables WHAT: dc's and dr's ghost equal table by table
	local t a b n=0
	for t in $(dcsql "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='ghost' ORDER BY 1"); do
		a=$(dcsql -D ghost "CHECKSUM TABLE \`$t\`" | cut -f2)
		b=$(drsql -D ghost "CHECKSUM TABLE \`$t\`" | cut -f2)
		[ "$a" = "$b" ] || fail "$1: table $t differs (dc $a, dr $b)"
		n=$((n + 1))
	done
	[ "$n" -ge 5 ] || fail "$1: only $n tables at dc"
	[ "$(drsql "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='ghost' AND TABLE_NAME NOT LIKE 'revenant%'")" = "$n" ] ||
		fail "$1: dr has other tables than dc's $n"
}

# --- dc primary, dr standby ------------------------------------------------
"$RV_MYSQL_TOOL" write "$W/dc.yml" "$W/ack" 100 2>>"$W/w.err" &
WP=$!
until_ok 10 test -s "$W/ack" || fail "the writer acked nothing: $(cat "$W/w.err")"
run dc
until_ok 20 test -f "$W/store/lease.json" || fail "dc's agent took no lease"
until_ok 10 is_role "$PORT_DC" primary || fail "dc's role is not primary"
run dr
until_ok 30 is_role "$PORT_DR" standby || fail "dr's role is not standby"
dr_follows() { [ "$(dr_v)" -ge "$(acked_before $(($(date +%s%3N) - 2000)))" ] && [ "$(dr_v)" -gt 0 ]; }
acks() { wc -l <"$W/ack"; }
three_s() { [ "$(acks)" -ge 300 ]; }
until_ok 20 three_s || fail "the writer is stuck at $(acks) transactions"
until_ok 30 dr_follows || fail "dr's database does not follow dc's ($(dr_v))"
echo "dr follows: $(dr_v) transactions"

# --- dc frozen; promote at dr through its agent ------------------------------
DC_GEN=$(j "$W/store/lease.json" generation)
kill -STOP "$DC"
FROZE=$(date +%s%3N)
sleep 5.3 # failover.dead_after
"$REVENANT" -c "$W/dr.yml" promote >"$W/promote.out" 2>"$W/promote.err" ||
	fail "promote at dr: $(cat "$W/promote.err")"
grep -q "held by this site's agent" "$W/promote.err" || fail "promote did not hand over to the agent"
[ "$(j "$W/store/lease.json" site)" = dr ] || fail "the lease is not dr's"
DR_GEN=$(j "$W/store/lease.json" generation)
[ "$(j "$W/store/generations/$DR_GEN/meta.json" database)" = mysql ] || fail "dr's generation is not a MySQL one"
until_ok 10 is_role "$PORT_DR" primary || fail "dr's role is not primary"
grep -q "^event=promote .*REVENANT_SITE=dr" "$W/dr.hooks" || fail "dr's promote hook: $(cat "$W/dr.hooks")"
[ -z "$(drsql "SHOW TABLES FROM ghost LIKE 'revenant%'")" ] || fail "the promoted database keeps the standby's table"
want=$(acked_before $((FROZE - 1200)))
got=$(dr_v)
[ "$got" -ge "$want" ] || fail "dr holds $got transactions; $want were acked sync_interval + 1 s before the freeze"
[ "$want" -ge 100 ] || fail "only $want transactions acked 1.2 s before the freeze: nothing to check"
echo "promoted: dr holds $got transactions (acked 1.2 s before the freeze: $want)"
drsql -D ghost "INSERT INTO tags (id, name, slug) VALUES ('written-at-dr', 'dr', 'dr')" ||
	fail "dr's database is not writable"
in_dr_gen() { [ -n "$(find "$W/store/generations/$DR_GEN/db/log" -type f 2>/dev/null | head -1)" ]; }
until_ok 10 in_dr_gen || fail "dr's generation ships no log"

# --- dc thawed: fenced, moves Ghost's tables aside, follows dr -------------
kill -TERM "$WP"
wait "$WP"
WP=
DC_MAX=$(dcsql -D ghost "SELECT v FROM counters")
[ "$DC_MAX" -gt "$got" ] || fail "dc wrote nothing while frozen ($DC_MAX vs dr's $got)"
kill -CONT "$DC"
until_ok 20 grep -q '^event=standby' "$W/dc.hooks" || fail "dc never became a standby"
SAVED=$(sed -n 's/^event=standby .*REVENANT_SAVED=\([^ ]*\).*/\1/p' "$W/dc.hooks" | head -1)
[ -f "$SAVED/database.txt" ] || fail "no database.txt in the saved folder ($SAVED)"
ASIDE=$(dcsql "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'ghost\\_saved\\_%'")
[ -n "$ASIDE" ] || fail "no ghost_saved_* database at dc"
grep -qF "'$ASIDE'" "$SAVED/database.txt" || fail "database.txt does not name $ASIDE: $(cat "$SAVED/database.txt")"
grep -q "saved aside.*$ASIDE" "$W/dc.log" || fail "the log does not name $ASIDE"
[ "$(dcsql -D "$ASIDE" "SELECT v FROM counters")" = "$DC_MAX" ] ||
	fail "the tables kept aside do not hold dc's last transaction ($DC_MAX)"
echo "fenced: dc's tables kept in $ASIDE ($DC_MAX transactions, $((DC_MAX - got)) dr never got)"
dc_has_dr_row() { [ "$(dcsql -D ghost "SELECT COUNT(*) FROM tags WHERE id='written-at-dr'" 2>/dev/null)" = 1 ]; }
until_ok 20 dc_has_dr_row || fail "dc (a standby now) did not get the row written at dr"
until_ok 10 is_role "$PORT_DC" standby || fail "dc's role is not standby"

# --- fall-back to dc ---------------------------------------------------------
dc_follows() { [ "$(j "$W/store/sites/dc/standby.json" generation)" = "$DR_GEN" ]; }
until_ok 15 dc_follows || fail "dc does not report as a standby of dr's generation"
"$REVENANT" -c "$W/dc.yml" switchover >"$W/back.out" 2>"$W/back.err" ||
	fail "switchover back to dc: $(cat "$W/back.err")"
grep -q "^switched over from=dr to=dc" "$W/back.out" || fail "switchover's summary: $(cat "$W/back.out")"
[ "$(j "$W/store/lease.json" site)" = dc ] || fail "the lease is not dc's after the fall-back"
until_ok 10 is_role "$PORT_DC" primary || fail "dc is not primary after the switchover"
until_ok 10 is_role "$PORT_DR" standby || fail "dr is not a standby after the switchover"
dc_has_dr_row || fail "dc lacks the row written at dr after the fall-back"
[ -z "$(dcsql "SHOW TABLES FROM ghost LIKE 'revenant%'")" ] || fail "dc's database keeps the standby's table"
# dc writes again; dr follows dc's new generation
dcsql -D ghost "INSERT INTO tags (id, name, slug) VALUES ('written-after', 'dc', 'dc')" || fail "dc not writable"
dr_has_row() { [ "$(drsql -D ghost "SELECT COUNT(*) FROM tags WHERE id='written-after'" 2>/dev/null)" = 1 ]; }
until_ok 20 dr_has_row || fail "dr does not follow dc after the fall-back"
same_tables "after the fall-back"
for s in DC DR; do
	kill -TERM "${!s}"
	wait "${!s}"
	rc=$?
	eval "$s="
	[ "$rc" = 0 ] || fail "$s's agent exited $rc on SIGTERM"
done
grep -h 'level=error' "$W/dc.log" "$W/dr.log" | grep -v 'fenced' | grep -q . &&
	fail "an unexpected error was logged: $(grep -h 'level=error' "$W/dc.log" "$W/dr.log" | grep -v fenced | head -3)"
echo "PASS ($(($(date +%s) - T0)) s)"
