#!/usr/bin/env bash
# heartbeat.sh - the primary's heartbeat.json (engine/lease.h): written at
# start and every failover.heartbeat_interval while Ghost is idle, under the
# lease's epoch, naming the last commit; `status` shows its age and that it
# is current; after a kill -9 it stops moving (a standby can tell dead from
# quiet); a restarted writer (epoch + 1) writes under the new epoch, and the
# killed writer's last heartbeat is never rewritten afterwards.  A standby
# exports the heartbeat's age (revenant_primary_heartbeat_age_seconds) and
# logs once when it goes stale.
set -u
. "$RV_SRCDIR/tests/lib/content_replicate.sh"
. "$RV_SRCDIR/tests/lib/wait.sh"

T=$(mktemp -d /tmp/rv-hb.XXXXXX)
SB_PID=
cleanup() {
	[ -n "${CR_PID:-}" ] && kill -KILL "$CR_PID" 2>/dev/null
	[ -n "$SB_PID" ] && kill -KILL "$SB_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
	exit 1
}
mkdir -p "$T/store" "$T/content"
echo hello >"$T/content/a.txt"
cat >"$T/rv.yml" <<YML
site: dc
sync_interval: 200ms
store:
  url: file://$T/store
  fsync: false
content:
  path: $T/content
metrics:
  listen: "off"
failover:
  heartbeat_interval: 1s
YML
HB=$T/store/heartbeat.json
# hb FIELD: one field of heartbeat.json
hb() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$HB" "$1"; }
lease() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/store/lease.json" "$1"; }
# field_above FIELD N: heartbeat.json's FIELD is above N (read anew each call)
field_above() { [ "$(hb "$1")" -gt "$2" ]; }

cr_start "$T/rv.yml" "$T/r1.log" || fail "replicate did not start"
until_ok 5 test -f "$HB" || fail "no heartbeat.json 5 s after the start"
[ "$(hb site)" = dc ] || fail "heartbeat site is $(hb site)"
[ "$(hb epoch)" = "$(lease epoch)" ] || fail "heartbeat epoch $(hb epoch), lease epoch $(lease epoch)"
[ "$(hb generation)" = "$(lease generation)" ] || fail "heartbeat names another generation"

# idle: it keeps moving, about once a second (two new ones within 5 s,
# each at least ~1 s after the one before)
seen=$(hb time_ms) n=0 end=$((SECONDS + 5))
while ((n < 2 && SECONDS < end)); do
	t=$(hb time_ms)
	if [ "$t" != "$seen" ]; then
		((t - seen >= 900)) || fail "heartbeats only $((t - seen)) ms apart (interval 1s)"
		seen=$t n=$((n + 1))
	fi
	sleep 0.1
done
((n == 2)) || fail "the idle writer's heartbeat moved $n times in 5 s"

# a commit shows in the next heartbeat
s1=$(hb seq)
echo more >"$T/content/b.txt"
until_ok 5 field_above seq "$s1" || fail "the heartbeat's seq stayed $s1 after a commit"

# status: current, and young
"$REVENANT" -c "$T/rv.yml" status >"$T/st.txt" || fail "status: $(cat "$T/st.txt")"
grep -q '^heartbeat:  site dc, epoch ' "$T/st.txt" || fail "status text: $(cat "$T/st.txt")"
"$REVENANT" -c "$T/rv.yml" status --json >"$T/st.json" || fail "status --json"
python3 -c 'import json,sys; h=json.load(open(sys.argv[1]))["heartbeat"]; assert h["current"] and h["age_seconds"] < 2.5, h' "$T/st.json" ||
	fail "status --json heartbeat: $(cat "$T/st.json")"

# a standby sees it young
PORT=$(cr_free_port)
"$REVENANT" -c "$T/rv.yml" standby --to "$T/dr" --interval 100ms --metrics-listen "127.0.0.1:$PORT" \
	>"$T/sb.log" 2>&1 &
SB_PID=$!
hb_metric() {
	curl -sf "http://127.0.0.1:$PORT/metrics" 2>/dev/null |
		awk '/^revenant_primary_heartbeat_age_seconds /{print $2}'
}
metric_between() { # LOW HIGH: the standby's heartbeat age is in [LOW, HIGH]
	local v
	v=$(hb_metric)
	[ -n "$v" ] && python3 -c 'import sys; sys.exit(0 if float(sys.argv[2]) <= float(sys.argv[1]) <= float(sys.argv[3]) else 1)' "$v" "$1" "$2"
}
until_ok 10 metric_between 0 3 || fail "standby heartbeat age: '$(hb_metric)'"

# kill -9: the heartbeat stops where it was
kill -KILL "$CR_PID"
wait "$CR_PID" 2>/dev/null
CR_PID=
dead=$(hb time_ms)
epoch1=$(hb epoch)
sleep 2.2
[ "$(hb time_ms)" = "$dead" ] || fail "the heartbeat moved after the writer died"
"$REVENANT" -c "$T/rv.yml" status --json >"$T/st.json" || fail "status --json"
python3 -c 'import json,sys; h=json.load(open(sys.argv[1]))["heartbeat"]; assert h["age_seconds"] >= 2.0, h' "$T/st.json" ||
	fail "a dead writer's heartbeat looks young: $(cat "$T/st.json")"
# the standby's look (every 5 s) sees it age
until_ok 12 metric_between 4 1000 || fail "standby heartbeat age after the kill: '$(hb_metric)'"
kill -TERM "$SB_PID"
wait "$SB_PID" || fail "standby exited $? on SIGTERM"
SB_PID=

# a new writer: epoch + 1, its own heartbeat
cr_start "$T/rv.yml" "$T/r2.log" || fail "the second replicate did not start"
until_ok 5 field_above epoch "$epoch1" || fail "the new writer's heartbeat is still epoch $(hb epoch)"
[ "$(hb epoch)" = "$(lease epoch)" ] || fail "heartbeat epoch $(hb epoch), lease epoch $(lease epoch)"
cr_stop
[ "$CR_RC" = 0 ] || fail "replicate exited $CR_RC on SIGTERM"
echo "PASS"
