#!/usr/bin/env bash
# switchover.sh - planned switchovers between two `revenant run` agents
# (dc, dr) over one file:// store, under continuous writes, zero loss.  The
# sites' "Ghost" is a Ghost-shaped SQLite writer (tests/lib/db_writer.py,
# 100 txn/s) that hooks.promote starts and hooks.demote stops
# (tests/fixtures/hooks/writer_hook.sh); its acks (one log for both sites)
# are what Ghost would have acknowledged.
#   - refused (exit 10) while dr's agent does not run (no standby report);
#   - 5 rounds dc -> dr -> dc under writes: each switchover exits 0 and
#     prints its timings; the old primary follows the new one;
#   - no acknowledged transaction is lost: every acked id is in the final
#     primary's database, no id was acknowledged twice (a lost transaction
#     would be written again under the same id), integrity_check passes,
#     and the standby's database reaches the same rows;
#   - a demote hook that fails, or none set: the switchover is taken back
#     (exit 1), the primary stays primary and keeps replicating.
set -u
. "$RV_SRCDIR/tests/lib/wait.sh"
. "$RV_SRCDIR/tests/lib/db_replicate.sh"

T=$(mktemp -d /tmp/rv-switchover.XXXXXX)
DC= DR=
export RV_TEST_DIR=$T RV_SRCDIR
cleanup() {
	for p in ${DC:-} ${DR:-}; do kill -KILL "$p" 2>/dev/null; done
	for f in "$T"/*.writer.pid; do [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null; done
	[ -n "${RV_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log "$T"/*.hooks; do [ -f "$f" ] && { echo "--- $f" >&2; grep -v 'level=debug' "$f" | tail -12 >&2; }; done
	exit 1
}
HOOK="$RV_SRCDIR/tests/fixtures/hooks/writer_hook.sh"
mkdir -p "$T/store" "$T/dc/c" "$T/dr/c"
config() { # config SITE [DEMOTE_HOOK]
	cat >"$T/$1.yml" <<YML
site: $1
sync_interval: 200ms
store: {url: "file://$T/store", fsync: false}
content: {path: $T/$1/c}
database: {sqlite: $T/$1/ghost.db}
metrics: {listen: "off"}
failover:
  initial_primary: dc
  heartbeat_interval: 1s
  dead_after: 8s
  fence_after: 2s
  max_clock_skew: 500ms
  max_loss: 5s
hooks: {promote: $HOOK, $([ "${2:-}" = none ] || echo "demote: ${2:-$HOOK},") fenced: $HOOK, timeout: 5s}
YML
}
config dc
config dr
j() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
primary_is() { [ "$(j "$T/store/lease.json" site)" = "$1" ] && grep -q "\"site\": *\"$1\"" "$T/store/heartbeat.json"; }
run() {
	"$REVENANT" -c "$T/$1.yml" run >>"$T/$1.log" 2>&1 &
	if [ "$1" = dc ]; then DC=$!; else DR=$!; fi
}

# dc's database exists before its first start, as Ghost's would
/usr/bin/python3 "$RV_SRCDIR/tests/lib/db_writer.py" --db "$T/dc/ghost.db" --ack "$T/acks.log" --init --count 1 >/dev/null 2>&1 ||
	fail "cannot create dc's database"
run dc
until_ok 20 primary_is dc || fail "dc's agent did not become primary"
REVENANT_SITE=dc "$HOOK" promote || fail "cannot start dc's writer"

"$REVENANT" -c "$T/dr.yml" switchover >"$T/refused.out" 2>"$T/refused.err"
rc=$?
[ "$rc" = 10 ] || fail "a switchover with no standby at dr exited $rc, not 10: $(cat "$T/refused.err")"
grep -q "no standby report" "$T/refused.err" || fail "the refusal: $(cat "$T/refused.err")"

run dr
until_ok 20 test -f "$T/store/sites/dr/standby.json" || fail "dr's agent never reported as a standby"
sleep 1
for round in 1 2 3 4 5; do
	for to in dr dc; do
		"$REVENANT" -c "$T/$to.yml" switchover >"$T/so.out" 2>"$T/so.err" ||
			fail "round $round, switchover to $to: $(cat "$T/so.err")"
		sed "s/^/round $round: /" "$T/so.out"
		primary_is "$to" || fail "round $round: $to is not primary after the switchover"
		other=$([ "$to" = dr ] && echo dc || echo dr)
		follows() { [ "$(j "$T/store/sites/$1/standby.json" generation)" = "$(j "$T/store/lease.json" generation)" ]; }
		until_ok 10 follows "$other" || fail "round $round: $other does not follow $to"
		sleep 1
	done
done

# --- zero loss ----------------------------------------------------------------
REVENANT_SITE=dc "$HOOK" demote || fail "cannot stop dc's writer"
python3 - "$T/acks.log" "$T/dc/ghost.db" <<'PY' || fail "acknowledged writes were lost"
import sqlite3, sys
acks = [int(l.split()[0]) for l in open(sys.argv[1]) if l.strip()]
dup = len(acks) - len(set(acks))
if dup:
    sys.exit("%d transaction ids were acknowledged twice: a transaction was lost and its id written again" % dup)
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[2], uri=True)
if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
    sys.exit("integrity_check failed")
have = {r[0] for r in db.execute("SELECT id FROM txlog")}
lost = sorted(set(acks) - have)
if lost:
    sys.exit("%d acknowledged transactions missing, first %s" % (len(lost), lost[:5]))
print("zero loss: %d acknowledged transactions over 10 switchovers, all in dc's database" % len(acks))
PY
same_rows() {
	[ "$(sqlite3 "file:$T/dr/ghost.db?mode=ro" 'SELECT count(*), max(id) FROM txlog' 2>/dev/null)" = \
		"$(sqlite3 "file:$T/dc/ghost.db?mode=ro" 'SELECT count(*), max(id) FROM txlog')" ]
}
until_ok 15 same_rows || fail "dr's standby database did not reach dc's rows"

# --- a demote hook that fails: taken back ----------------------------------
config dc /bin/false
REVENANT_SITE=dc "$HOOK" promote || fail "cannot restart dc's writer"
kill -TERM "$DC"
wait "$DC"
DC=
run dc
until_ok 20 primary_is dc || fail "dc's agent did not come back as primary"
dr_follows() { [ "$(j "$T/store/sites/dr/standby.json" generation)" = "$(j "$T/store/lease.json" generation)" ]; }
until_ok 15 dr_follows || fail "dr does not follow dc's new generation"
"$REVENANT" -c "$T/dr.yml" switchover >"$T/back.out" 2>"$T/back.err"
rc=$?
[ "$rc" = 1 ] || fail "a switchover whose demote hook fails exited $rc, not 1: $(cat "$T/back.err")"
grep -q "took the switchover back" "$T/back.err" || fail "the message: $(cat "$T/back.err")"
primary_is dc || fail "dc is not primary after the cancelled switchover"
grep -q '"switchover_to"' "$T/store/lease.json" && fail "the request is still in lease.json"
# --- no demote hook at all: refused by the primary, taken back -------------
config dc none
kill -TERM "$DC"
wait "$DC"
DC=
run dc
until_ok 20 primary_is dc || fail "dc's agent did not come back as primary"
until_ok 15 dr_follows || fail "dr does not follow dc's new generation"
"$REVENANT" -c "$T/dr.yml" switchover >"$T/none.out" 2>"$T/none.err"
rc=$?
[ "$rc" = 1 ] || fail "a switchover with no demote hook exited $rc, not 1: $(cat "$T/none.err")"
grep -q "neither hooks.demote nor hooks.gate is set" "$T/dc.log" || fail "dc's log does not say why it refused"
primary_is dc || fail "dc is not primary after the refused switchover"
N=$(find "$T/store/generations" -name '*.log.zst' | wc -l)
more_logs() { [ "$(find "$T/store/generations" -name '*.log.zst' | wc -l)" -gt "$N" ]; }
until_ok 10 more_logs || fail "dc stopped committing after the cancelled switchover"
REVENANT_SITE=dc "$HOOK" demote
for p in $DC $DR; do kill -TERM "$p"; done
wait $DC $DR
DC= DR=
echo "PASS"
