#!/usr/bin/env bash
# replicate_events.sh - `revenant replicate` sleeps until something happens
# (docs/ARCHITECTURE.md, "The replicate loop"), sync_interval 12s, a SQLite
# database and the content folder on a file:// store:
#   - idle, the whole process wakes (voluntary context switches, every
#     thread) at most 5 times a second (it polled 100 times a second);
#   - a file written after a quiet spell is in a recovery point within 6 s
#     (the event path; without it the next wake-up was up to 12 s away);
#   - a database commit right after that point is not committed before
#     sync_interval has passed since it (the interval still bounds the
#     request rate), and is committed after it;
#   - a database commit after another quiet spell is in a point within 6 s
#     (the WAL's inotify watch; the periodic look was up to 12 s away);
#   - the latest point restores all three, row for row and byte for byte.
# The bounds are far from the times involved (tens of milliseconds): they
# tell the event path from the timer, not fast from slow.
set -u
. "$RV_SRCDIR/tests/lib/db_replicate.sh"
dr_setup events

mkdir -p "$T/store" "$T/content/data" "$T/content/images"
DB=$T/content/data/ghost.db
dr_config "$T/r.yml" "file://$T/store" "$T/content" "$DB" 12s
"$DR_PY" "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/ack" --init --count 20 --rate 0 2>"$T/w.err" ||
	fail "cannot create the database: $(cat "$T/w.err")"
dr_start "$T/r.yml" "$T/r.log" || fail "replicate did not start"

points() { find "$T/store/generations" -path '*/content/log/*' -name '*.log.zst' | wc -l; }
# wait_points N SECONDS: 0 once there are more than N points
wait_points() {
	local end=$(($(date +%s%N) / 1000000 + $2 * 1000))
	while [ "$(points)" -le "$1" ]; do
		[ "$(($(date +%s%N) / 1000000))" -lt "$end" ] || return 1
		sleep 0.02
	done
}
# wait_quiet SECONDS: until no point has been written for SECONDS (a quiet
# spell longer than sync_interval: the next change may ship at once).
wait_quiet() {
	local n m since end=$(($(date +%s) + 90))
	n=$(points) since=$(date +%s)
	while [ "$(($(date +%s) - since))" -lt "$1" ]; do
		[ "$(date +%s)" -lt "$end" ] || fail "points kept coming for 90 s on an idle site"
		sleep 0.2
		m=$(points)
		[ "$m" = "$n" ] || n=$m since=$(date +%s)
	done
}
# the points with their times, for a failure's message
show_points() {
	find "$T/store/generations" -path '*/content/log/*' -name '*.log.zst' -printf '%TT %f\n' | sort
	date +%T.%N
}
wakeups() { # voluntary context switches of every thread of PID
	cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s}'
}
db_write() {
	"$DR_PY" "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/ack" --count 1 --rate 0 2>>"$T/w.err" ||
		fail "the writer failed: $(cat "$T/w.err")"
}

# Idle wake-ups over 10 s, then a quiet spell longer than sync_interval
# since the last point (the start-up's commits are behind us).
sleep 2
w0=$(wakeups "$DR_PID")
sleep 10
w1=$(wakeups "$DR_PID")
rate=$(((w1 - w0) / 10))
echo "idle: $((w1 - w0)) wake-ups in 10 s"
[ "$rate" -le 5 ] || fail "idle replicate woke $((w1 - w0)) times in 10 s (more than 5 a second)"

# A file after the quiet spell: in a point within 6 s.
wait_quiet 13
n=$(points)
head -c 50000 /dev/urandom >"$T/content/images/first.jpg"
t0=$(dr_now_ms)
wait_points "$n" 6 || fail "a file after a quiet spell was not committed within 6 s: $(show_points)"
echo "file after a quiet spell: committed in $(($(dr_now_ms) - t0)) ms"

# A database commit right after: held back until sync_interval has passed
# since that point, then committed.
n=$(points)
tp=$(dr_now_ms)
db_write
sleep 8
[ "$(points)" = "$n" ] || fail "a commit 8 s after the last point was not held back (sync_interval 12s)"
wait_points "$n" 30 || fail "the held-back database commit never reached the store"
echo "database commit inside the interval: committed $(($(dr_now_ms) - tp)) ms after the previous point"

# Another quiet spell, then a database commit: in a point within 6 s.
wait_quiet 13
n=$(points)
db_write
t0=$(dr_now_ms)
wait_points "$n" 6 || fail "a database commit after a quiet spell was not committed within 6 s: $(show_points)"
echo "database commit after a quiet spell: committed in $(($(dr_now_ms) - t0)) ms"

dr_stop
[ "$DR_RC" = 0 ] || fail "replicate exit $DR_RC on SIGTERM"
"$REVENANT" --log-level warn restore --to "$T/restored" --db "$T/restored.db" "file://$T/store" \
	>"$T/restore.out" 2>&1 || fail "restore: $(cat "$T/restore.out")"
cmp "$T/content/images/first.jpg" "$T/restored/images/first.jpg" || fail "the file was not restored byte for byte"
r=$(dr_check --db "$T/restored.db" --ack "$T/ack" --acked-before "$(dr_now_ms)") ||
	fail "the restored database lacks a commit"
"$DR_PY" "$DR_LIB/db_check.py" same-txlog --db "$T/restored.db" --source "$DB" ||
	fail "the restored database differs from the source"
echo "replicate_events: ok ($r)"
