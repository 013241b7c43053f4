#!/usr/bin/env bash
# promote.sh - `revenant promote`, the unplanned failover, without Ghost:
# site dc replicates a Ghost-shaped SQLite database (tests/lib/db_writer.py)
# and a content folder to a file:// store; site dr runs a standby, stops it
# and then:
#   - promote while dc's heartbeat is fresh: refused, exit 10, "looks
#     alive", the lease untouched, the standby's state kept;
#   - dc killed (writer and replicate, SIGKILL);
#   - a heartbeat that names a commit the store does not hold (forged):
#     refused, exit 10, the figure and failover.max_loss named;
#   - dc's heartbeat landing again while the promote catches up (stopped
#     at the test point promote.caught_up): refused just before the lease,
#     exit 10, "is back", the lease untouched;
#   - a promote hook that fails: exit 1 naming the hook, its exit status and
#     its stderr line, and saying the lease is held and to run it again;
#     one that hangs: killed at hooks.timeout, exit 3, said where;
#   - the rerun finishes: hooks.promote ran once more with the event in its
#     environment (site, epoch, generation, point, loss bound), the dns
#     name (exec provider) points at dr, the lease is dr's at a newer epoch,
#     replicate runs as primary in a new generation whose parent is dc's,
#     the database holds every transaction acked more than sync_interval +
#     1 s before the kill and passes integrity_check, and a file written at
#     dr after the promotion reaches the store;
#   - two promotes racing from two sites over the same lease: exactly one
#     takes it (the other exits 8 or 10, the lease names one winner);
#   - a store that cannot be read: refused, exit 10.
set -u
. "$RV_SRCDIR/tests/lib/db_replicate.sh"
. "$RV_SRCDIR/tests/lib/wait.sh"

T=$(mktemp -d /tmp/rv-promote.XXXXXX)
DR_PID= DR_WPID= SB= PR=
cleanup() {
	for p in ${DR_WPID:-} ${DR_PID:-} ${SB:-} ${PR:-}; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -15 "$f" >&2; }; done
	exit 1
}
HOOK="$RV_SRCDIR/tests/fixtures/hooks/record_hook.sh"
PROVIDER="$RV_SRCDIR/tests/fixtures/dns/exec_provider.sh"
export RV_HOOK_LOG="$T/hooks.log" RV_EXEC_STATE="$T/dns.state"
echo 192.0.2.10 >"$RV_EXEC_STATE"
mkdir -p "$T/store" "$T/dc" "$T/dr"
config() { # config FILE SITE FOLDER DB [MAX_LOSS] [STORE]
	cat >"$1" <<YML
site: $2
sync_interval: 200ms
store:
  url: ${6:-file://$T/store}
  fsync: false
  s3:
    deadline: 2s
    max_attempts: 2
content:
  path: $3
database:
  sqlite: $4
metrics:
  listen: "off"
failover:
  heartbeat_interval: 1s
  dead_after: 3s
  fence_after: 2s
  max_clock_skew: 500ms
  max_loss: ${5:-5s}
hooks:
  promote: $HOOK
  timeout: 10s
dns:
  provider: exec
  names: [www.example.test]
  type: A
  ttl: 60s
  targets: ["dc=192.0.2.10", "dr=192.0.2.20"]
  exec:
    command: $PROVIDER
YML
}
config "$T/dc.yml" dc "$T/dc" "$T/dc.db"
config "$T/dr.yml" dr "$T/dr" "$T/dr.db"
j() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# --- dc writes; dr follows as a standby, then stops -----------------------
dr_writer_start "$T/dc.db" "$T/acks.log" --init --rate 50 || fail "writer"
until_ok 10 test -s "$T/acks.log" || fail "the writer acked nothing"
echo one >"$T/dc/one.txt"
dr_start "$T/dc.yml" "$T/dc.log" || fail "dc's replicate did not start"
"$REVENANT" -c "$T/dr.yml" standby --to "$T/dr" --db "$T/dr.db" >"$T/standby.log" 2>&1 &
SB=$!
until_ok 20 test -e "$T/dr.db.revenant-standby" || fail "the standby never held a point"
until_ok 10 test -f "$T/dr/one.txt" || fail "one.txt never reached the standby"
kill -TERM "$SB"
wait "$SB"
SB=
DC_GEN=$(j "$T/store/lease.json" generation)
EPOCH=$(j "$T/store/lease.json" epoch)

# --- dc alive: refused -----------------------------------------------------
"$REVENANT" -c "$T/dr.yml" promote >"$T/alive.out" 2>"$T/alive.log"
rc=$?
[ "$rc" = 10 ] || fail "promote while dc's heartbeat is fresh exited $rc, not 10"
grep -q "looks alive" "$T/alive.log" || fail "the refusal does not say dc looks alive"
[ "$(wc -l <"$T/alive.log")" = 1 ] || fail "the refusal is not one line: $(cat "$T/alive.log")"
[ "$(j "$T/store/lease.json" site)" = dc ] && [ "$(j "$T/store/lease.json" epoch)" = "$EPOCH" ] ||
	fail "a refused promote changed the lease"
[ -e "$T/dr.db.revenant-standby" ] || fail "a refused promote dropped the standby's state"
[ ! -s "$RV_HOOK_LOG" ] || fail "a refused promote ran the hook"

# --- dc dies ---------------------------------------------------------------
kill -KILL "$DR_WPID" "$DR_PID"
KILL_MS=$(dr_now_ms)
wait "$DR_WPID" "$DR_PID" 2>/dev/null
DR_WPID= DR_PID=
sleep 3.2 # failover.dead_after

# --- a heartbeat naming a commit the store does not hold: refused ---------
cp "$T/store/heartbeat.json" "$T/hb.real"
python3 - "$T/store/heartbeat.json" <<'PY' || fail "cannot forge the heartbeat"
import json, sys, time
p = sys.argv[1]
h = json.load(open(p))
h["seq"] += 50
h["time_ms"] = int(time.time() * 1000) - 3100
json.dump(h, open(p, "w"))
PY
config "$T/dr0.yml" dr "$T/dr" "$T/dr.db" 0s
"$REVENANT" -c "$T/dr0.yml" promote >"$T/loss.out" 2>"$T/loss.log"
rc=$?
[ "$rc" = 10 ] || fail "promote past failover.max_loss exited $rc, not 10"
grep -q "failover.max_loss" "$T/loss.log" && grep -q "would be lost" "$T/loss.log" ||
	fail "the refusal does not give the figure and the limit: $(cat "$T/loss.log")"
[ "$(j "$T/store/lease.json" site)" = dc ] || fail "a refused promote took the lease"
cp "$T/hb.real" "$T/store/heartbeat.json"

# --- dc comes back during the catch-up (its heartbeat lands again): the
# promote judged it dead at the start, and refuses just before the lease -
. "$RV_SRCDIR/tests/lib/testpoint.sh"
REVENANT_TESTPOINT=promote.caught_up "$REVENANT" -c "$T/dr.yml" promote --no-replicate >"$T/back.out" 2>"$T/back.log" &
PR=$!
tp_wait_stopped "$PR" || fail "promote never reached promote.caught_up"
python3 - "$T/store/heartbeat.json" <<'PY' || fail "cannot write dc's new heartbeat"
import json, sys, time
p = sys.argv[1]
h = json.load(open(p))
h["time_ms"] = int(time.time() * 1000)
json.dump(h, open(p, "w"))
PY
kill -CONT "$PR"
wait "$PR"
rc=$?
PR=
[ "$rc" = 10 ] || fail "promote over a primary that came back exited $rc, not 10: $(cat "$T/back.log")"
grep -q "site 'dc' is back" "$T/back.log" || fail "the refusal does not say dc is back: $(cat "$T/back.log")"
[ "$(j "$T/store/lease.json" site)" = dc ] && [ "$(j "$T/store/lease.json" epoch)" = "$EPOCH" ] ||
	fail "a promote refused at the lease took it"
[ ! -s "$RV_HOOK_LOG" ] || fail "a refused promote ran the hook"
cp "$T/hb.real" "$T/store/heartbeat.json"

# --- the hook fails: stopped, said where ----------------------------------
RV_HOOK_MODE=fail "$REVENANT" -c "$T/dr.yml" promote >"$T/hookfail.out" 2>"$T/hookfail.log"
rc=$?
[ "$rc" = 1 ] || fail "promote with a failing hook exited $rc, not 1"
grep -q "hook promote ($HOOK) exited 3: cannot start ghost" "$T/hookfail.log" ||
	fail "the failure does not name the hook, its status and its line: $(cat "$T/hookfail.log")"
grep -q "stopped at the hook step.*holds the lease.*run 'revenant promote' again" "$T/hookfail.log" ||
	fail "the failure does not say where it stopped: $(cat "$T/hookfail.log")"
[ "$(j "$T/store/lease.json" site)" = dr ] || fail "the lease is not dr's after the catch-up"
NEW_EPOCH=$(j "$T/store/lease.json" epoch)
[ "$NEW_EPOCH" -gt "$EPOCH" ] || fail "the epoch did not move on"
[ "$(j "$T/store/lease.json" generation)" = "$DC_GEN" ] || fail "the lease left dc's generation before dr replicates"
[ "$(cat "$RV_EXEC_STATE")" = 192.0.2.10 ] || fail "DNS switched although the hook failed"
dr_check --db "$T/dr.db" --ack "$T/acks.log" --acked-before $((KILL_MS - 1200)) >"$T/check.out" ||
	fail "the promoted database: $(cat "$T/check.out")"
[ ! -e "$T/dr.db.revenant-standby" ] || fail "the promoted database still has a standby state"

# --- a hook that hangs: killed at hooks.timeout, stopped, said where -------
sed 's/^  timeout: 10s$/  timeout: 1s/' "$T/dr.yml" >"$T/dr1.yml"
RV_HOOK_MODE=hang timeout 30 "$REVENANT" -c "$T/dr1.yml" promote >"$T/hang.out" 2>"$T/hang.log"
rc=$?
[ "$rc" = 3 ] || fail "promote with a hanging hook exited $rc, not 3: $(cat "$T/hang.log")"
grep -q "did not finish within hooks.timeout (1 s) and was killed.*stopped at the hook step" "$T/hang.log" ||
	grep -q "stopped at the hook step.*did not finish within hooks.timeout (1 s)" "$T/hang.log" ||
	fail "the hang is not reported with where it stopped: $(cat "$T/hang.log")"
[ "$(cat "$RV_EXEC_STATE")" = 192.0.2.10 ] || fail "DNS switched although the hook hung"

# --- rerun: finishes, replicates -------------------------------------------
: >"$RV_HOOK_LOG"
sqlite3 "$T/dr.db" "INSERT INTO txlog(id, ms) VALUES (1000000, 0)" || fail "dr's database is not writable"
"$REVENANT" -c "$T/dr.yml" promote >"$T/promote.out" 2>"$T/promote.log" &
PR=$!
until_ok 20 grep -q 'content generation started' "$T/promote.log" || fail "promote did not go on to replicate"
grep -q "^promoted site_from=dr epoch=$NEW_EPOCH" "$T/promote.out" || fail "promote's summary: $(cat "$T/promote.out")"
grep -q "^timings .*dns_names_switched=1" "$T/promote.out" || fail "promote's timings: $(cat "$T/promote.out")"
grep -q "event=promote .*REVENANT_EPOCH=$NEW_EPOCH .*REVENANT_EVENT=promote .*REVENANT_SITE=dr" "$RV_HOOK_LOG" ||
	fail "the hook's environment: $(cat "$RV_HOOK_LOG")"
[ "$(cat "$RV_EXEC_STATE")" = 192.0.2.20 ] || fail "the name does not point at dr: $(cat "$RV_EXEC_STATE")"
DR_GEN=$(j "$T/store/lease.json" generation)
[ "$DR_GEN" != "$DC_GEN" ] || fail "dr replicates into dc's generation"
[ "$(j "$T/store/generations/$DR_GEN/meta.json" parent)" = "$DC_GEN" ] || fail "dr's generation does not continue dc's"
[ "$(j "$T/store/generations/$DR_GEN/meta.json" site)" = dr ] || fail "the new generation is not dr's"
echo two >"$T/dr/two.txt"
until_ok 10 sh -c "\"$REVENANT\" -c \"$T/dr.yml\" status --manifest 2>/dev/null | grep -q ' two.txt '" ||
	fail "a file written at dr after the promotion never reached the store"
kill -TERM "$PR"
wait "$PR"
rc=$?
PR=
[ "$rc" = 0 ] || fail "promote's replicate exited $rc on SIGTERM"
dr_restore "$T/dr.yml" "$T/check.db" || fail "restore after the promotion: $(cat "$T/check.db.log")"
[ "$(sqlite3 "$T/check.db" 'SELECT count(*) FROM txlog WHERE id = 1000000')" = 1 ] ||
	fail "the write made at dr is not in dr's generation"

# --- two promotes racing over one lease: exactly one wins -----------------
mkdir -p "$T/x" "$T/y" "$T/xd" "$T/yd"
config "$T/x.yml" x "$T/x" "$T/xd/x.db" 1h
config "$T/y.yml" y "$T/y" "$T/yd/y.db" 1h
sed -i "s|^  promote: .*|  promote: /bin/true|; s|provider: exec|provider: \"off\"|" "$T/x.yml" "$T/y.yml"
sleep 3.2 # dr's heartbeat is now older than dead_after: both may promote
"$REVENANT" -c "$T/x.yml" promote --no-replicate >"$T/x.out" 2>"$T/x.log" &
PX=$!
"$REVENANT" -c "$T/y.yml" promote --no-replicate >"$T/y.out" 2>"$T/y.log" &
PY=$!
wait "$PX"
RX=$?
wait "$PY"
RY=$?
WIN=$(j "$T/store/lease.json" site)
case "$RX/$RY/$WIN" in
0/8/x | 0/10/x) L=y ;;
8/0/y | 10/0/y) L=x ;;
*) fail "two racing promotes: x exited $RX, y $RY, the lease is $WIN's" ;;
esac
[ "$(grep -c '^error: ' "$T/$L.log")" = 1 ] || fail "the loser's error is not one line: $(cat "$T/$L.log")"
grep -q "^error: .*\(moved on while this promotion ran\|fenced writer's\)" "$T/$L.log" ||
	fail "the loser does not say why: $(cat "$T/$L.log")"

# --- a store that cannot be read: refused ----------------------------------
config "$T/bad.yml" dr "$T/dr" "$T/dr.db" 5s "s3://nobucket/p?endpoint=http://127.0.0.1:9&region=us-east-1"
AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y "$REVENANT" -c "$T/bad.yml" promote >"$T/bad.out" 2>"$T/bad.log"
rc=$?
[ "$rc" = 10 ] || fail "promote with the store unreachable exited $rc, not 10"
grep -q "cannot read the lease" "$T/bad.log" || fail "the refusal: $(cat "$T/bad.log")"
echo "PASS"
