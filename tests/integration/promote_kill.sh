#!/usr/bin/env bash
# promote_kill.sh - `revenant promote` killed (SIGKILL) at each of its steps
# (test points promote.caught_up, lease_taken, handed_over, hook_done,
# dns_done), then run again: the rerun either finishes or refuses clearly,
# never leaves two primaries.  Set-up once (dc replicates a Ghost-shaped
# SQLite database with a writer, dr's standby follows, dc is killed and its
# heartbeat ages past dead_after); each round starts from a copy of that
# state.  After every rerun: exit 0, the lease is dr's (one holder), the
# database passes integrity_check and holds every transaction acked more
# than sync_interval + 1 s before dc's kill, the name points at dr, and the
# promote hook ran (again, as hooks must allow).
set -u
. "$RV_SRCDIR/tests/lib/db_replicate.sh"
. "$RV_SRCDIR/tests/lib/wait.sh"
. "$RV_SRCDIR/tests/lib/testpoint.sh"

T=$(mktemp -d /tmp/rv-promotekill.XXXXXX)
DR_PID= DR_WPID= SB= PR=
cleanup() {
	for p in ${DR_WPID:-} ${DR_PID:-} ${SB:-} ${PR:-}; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/w/*.log "$T"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -8 "$f" >&2; }; done
	exit 1
}
HOOK="$RV_SRCDIR/tests/fixtures/hooks/record_hook.sh"
mkdir -p "$T/s/store" "$T/s/dc" "$T/s/dr"
config() { # config FILE SITE ROOT
	cat >"$1" <<YML
site: $2
sync_interval: 200ms
store: {url: "file://$3/store", fsync: false}
content: {path: $3/$2}
database: {sqlite: $3/$2.db}
metrics: {listen: "off"}
failover: {heartbeat_interval: 1s, dead_after: 3s, fence_after: 2s, max_clock_skew: 500ms, max_loss: 10s}
hooks: {promote: $HOOK, timeout: 10s}
dns:
  provider: exec
  names: [www.example.test]
  targets: ["dc=192.0.2.10", "dr=192.0.2.20"]
  exec: {command: $RV_SRCDIR/tests/fixtures/dns/exec_provider.sh}
YML
}
config "$T/dc.yml" dc "$T/s"
j() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# --- the state every round starts from --------------------------------------
dr_writer_start "$T/s/dc.db" "$T/acks.log" --init --rate 50 || fail "writer"
until_ok 10 test -s "$T/acks.log" || fail "the writer acked nothing"
echo one >"$T/s/dc/one.txt"
dr_start "$T/dc.yml" "$T/dc.log" || fail "dc's replicate did not start"
config "$T/drs.yml" dr "$T/s"
"$REVENANT" -c "$T/drs.yml" standby --to "$T/s/dr" --db "$T/s/dr.db" >"$T/standby.log" 2>&1 &
SB=$!
until_ok 20 test -e "$T/s/dr.db.revenant-standby" || fail "the standby never held a point"
sleep 1
kill -TERM "$SB"
wait "$SB"
SB=
kill -KILL "$DR_WPID" "$DR_PID"
KILL_MS=$(dr_now_ms)
wait "$DR_WPID" "$DR_PID" 2>/dev/null
DR_WPID= DR_PID=
sleep 3.2 # failover.dead_after

for point in caught_up lease_taken handed_over hook_done dns_done; do
	rm -rf "$T/w"
	cp -a "$T/s" "$T/w"
	config "$T/dr.yml" dr "$T/w"
	export RV_HOOK_LOG="$T/w/hooks.log" RV_EXEC_STATE="$T/w/dns.state"
	echo 192.0.2.10 >"$RV_EXEC_STATE"
	REVENANT_TESTPOINT="promote.$point" "$REVENANT" -c "$T/dr.yml" promote --no-replicate \
		>"$T/w/first.out" 2>"$T/w/first.log" &
	PR=$!
	tp_wait_stopped "$PR" 30 || fail "$point: promote never reached its test point"
	kill -KILL "$PR"
	wait "$PR" 2>/dev/null
	PR=
	"$REVENANT" -c "$T/dr.yml" promote --no-replicate >"$T/w/rerun.out" 2>"$T/w/rerun.log" ||
		fail "$point: the rerun after a kill failed: $(tail -1 "$T/w/rerun.log")"
	[ "$(j "$T/w/store/lease.json" site)" = dr ] || fail "$point: the lease is not dr's"
	[ "$(grep -c '^event=promote' "$RV_HOOK_LOG")" -ge 1 ] || fail "$point: the promote hook never ran"
	[ "$(cat "$RV_EXEC_STATE")" = 192.0.2.20 ] || fail "$point: the name does not point at dr"
	[ ! -e "$T/w/dr.db.revenant-standby" ] || fail "$point: the database still has a standby state"
	dr_check --db "$T/w/dr.db" --ack "$T/acks.log" --acked-before $((KILL_MS - 1200)) >"$T/w/check.out" ||
		fail "$point: the promoted database: $(cat "$T/w/check.out")"
	echo "ok: killed at promote.$point, the rerun finished ($(grep -c '^event=promote' "$RV_HOOK_LOG") promote hook runs)"
done
echo "PASS"
