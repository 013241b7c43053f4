#!/usr/bin/env bash
# take_over.sh - a manual promotion with what exists today: site dc
# replicates; site dr restores the latest point (`standby --promote-once`);
# `replicate` at dr refuses while dc holds the lease (exit 8, naming
# --take-over); `replicate --take-over` takes it (epoch + 1, site dr), its
# generation continues dc's (meta.json parent), dc's writer stops at its
# next commit (exit 8) and writes nothing more, the heartbeat is dr's, and
# a restore of the latest point holds dc's files and what dr wrote after.
set -u
. "$RV_SRCDIR/tests/lib/content_replicate.sh"
. "$RV_SRCDIR/tests/lib/wait.sh"

T=$(mktemp -d /tmp/rv-takeover.XXXXXX)
DC_PID=
cleanup() {
	for p in $DC_PID ${CR_PID:-}; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
	exit 1
}
mkdir -p "$T/store" "$T/dc" "$T/dr"
config() { # config FILE SITE CONTENT
	cat >"$1" <<YML
site: $2
sync_interval: 200ms
store:
  url: file://$T/store
  fsync: false
content:
  path: $3
metrics:
  listen: "off"
failover:
  heartbeat_interval: 1s
YML
}
config "$T/dc.yml" dc "$T/dc"
config "$T/dr.yml" dr "$T/dr"
j() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
recorded() { "$REVENANT" -c "$T/$1.yml" status --manifest 2>/dev/null | grep -q " $2 "; }
gone() { ! kill -0 "$1" 2>/dev/null; }

echo one >"$T/dc/one.txt"
cr_start "$T/dc.yml" "$T/dc.log" || fail "dc replicate did not start"
DC_PID=$CR_PID CR_PID=
until_ok 10 recorded dc one.txt || fail "one.txt never reached the store"
DC_GEN=$(j "$T/store/lease.json" generation)
EPOCH=$(j "$T/store/lease.json" epoch)

"$REVENANT" -c "$T/dr.yml" standby --to "$T/dr" --promote-once >"$T/promote.out" 2>"$T/promote.log" ||
	fail "standby --promote-once: $(cat "$T/promote.log")"
cmp -s "$T/dc/one.txt" "$T/dr/one.txt" || fail "dr did not get one.txt"

# without --take-over: refused, nothing written
"$REVENANT" -c "$T/dr.yml" replicate >"$T/refused.log" 2>&1
rc=$?
[ "$rc" = 8 ] || fail "replicate at dr while dc holds the lease exited $rc, not 8"
grep -q -- "--take-over" "$T/refused.log" || fail "the refusal does not name --take-over: $(cat "$T/refused.log")"
[ "$(j "$T/store/lease.json" epoch)" = "$EPOCH" ] || fail "a refused writer changed the lease"

# --take-over
"$REVENANT" -c "$T/dr.yml" replicate --take-over >"$T/dr.log" 2>&1 &
CR_PID=$!
until_ok 10 grep -q 'content reconcile walked the folder' "$T/dr.log" ||
	fail "replicate --take-over did not start"
[ "$(j "$T/store/lease.json" site)" = dr ] || fail "the lease is not dr's"
[ "$(j "$T/store/lease.json" epoch)" -gt "$EPOCH" ] || fail "the epoch did not move on"
DR_GEN=$(j "$T/store/lease.json" generation)
[ "$DR_GEN" != "$DC_GEN" ] || fail "dr writes into dc's generation"
[ "$(j "$T/store/generations/$DR_GEN/meta.json" parent)" = "$DC_GEN" ] ||
	fail "dr's generation does not continue dc's"

# dc is fenced at its next commit and writes nothing more
dc_logs() { find "$T/store/generations/$DC_GEN/content/log" -type f | wc -l; }
N=$(dc_logs)
echo two >"$T/dc/two.txt"
until_ok 15 gone "$DC_PID" || fail "dc's writer still runs after the take-over"
wait "$DC_PID"
rc=$?
DC_PID=
[ "$rc" = 8 ] || fail "dc's writer exited $rc, not 8"
grep -q "fenced\|holds the primary lease\|lost the lease" "$T/dc.log" || fail "dc's log does not say it was fenced"
[ "$(dc_logs)" = "$N" ] || fail "dc committed after it lost the lease ($N logs, now $(dc_logs))"

# dr carries on; the heartbeat is dr's; the latest point has both
echo three >"$T/dr/three.txt"
until_ok 10 recorded dr three.txt || fail "three.txt never reached the store"
hb_is_dr() { [ "$(j "$T/store/heartbeat.json" site)" = dr ]; }
until_ok 5 hb_is_dr || fail "the heartbeat is not dr's"
"$REVENANT" -c "$T/dr.yml" restore --to "$T/check" >/dev/null 2>"$T/restore.log" || fail "restore: $(cat "$T/restore.log")"
cmp -s "$T/check/one.txt" "$T/dc/one.txt" && cmp -s "$T/check/three.txt" "$T/dr/three.txt" ||
	fail "the restored point lacks one.txt or three.txt"
[ ! -e "$T/check/two.txt" ] || fail "the fenced writer's two.txt is in the new history"
cr_stop
[ "$CR_RC" = 0 ] || fail "dr's replicate exited $CR_RC on SIGTERM"
echo "PASS"
