#!/usr/bin/env bash
# db_replicate_kill.sh - kill -9 at random moments, 32 cycles, under a
# 200 txn/s Ghost-shaped writer (file:// store, sync_interval 200ms):
#   - replicate cycles: kill -9 replicate; the latest restore passes
#     integrity_check, holds a prefix of the committed transactions, and at
#     least every transaction acked before that replicate was launched (its
#     generation's snapshot); then replicate restarts (a new generation).
#   - writer cycles: kill -9 the writer (possibly inside a transaction: its
#     frames are in the WAL without a commit frame), restart it (ids go on
#     from the database's max); the latest restore is a prefix again.
# Every 4th cycle, replication must go on: within 10 s a latest restore
# holds every transaction acked up to 0.5 s after the cycle (the time it
# took is printed).  Latency bounds are db_replicate_pitr.sh's business:
# here a restart can find a WAL of many MiB that the killed process pinned,
# and its first ship (copy + checkpoint) takes as long as the disk needs.
# At the end the latest restore equals the source, row for row.
set -u
. "$RV_SRCDIR/tests/lib/db_replicate.sh"

dr_setup dbkill

CYCLES=${CYCLES:-32}
mkdir -p "$T/store" "$T/content" "$T/db"
DB=$T/db/ghost.db
dr_config "$T/r.yml" "file://$T/store" "$T/content" "$DB" 200ms

/usr/bin/python3 "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/init.ack" --init --count 100 --rate 0 ||
	fail "cannot create the database"
dr_start "$T/r.yml" "$T/r.log" || fail "replicate did not start"
W="--rate 200 --max-posts 300"
dr_writer_start "$DB" "$T/ack" $W
t_start=$(date +%s)
rkills=0 wkills=0

check() { # check NAME ACKED_BEFORE_MS
	rm -f "$T/x.db"
	dr_restore "$T/r.yml" "$T/x.db" || fail "$1: restore failed: $(cat "$T/x.db.log")"
	dr_check --db "$T/x.db" --ack "$T/ack" --acked-before "$2" || fail "$1: $(tail -1 "$T/x.db.log")"
}

for c in $(seq 1 "$CYCLES"); do
	sleep "$((RANDOM % 2)).$((RANDOM % 10))$((RANDOM % 10))"
	if [ $((c % 3)) != 0 ]; then
		now=$(dr_now_ms)
		kill -KILL "$DR_PID"
		wait "$DR_PID" 2>/dev/null
		DR_PID=
		rkills=$((rkills + 1))
		r=$(check "cycle $c (replicate killed)" "$DR_LAUNCH_MS") || exit 1
		echo "cycle $c: replicate killed after $((now - DR_LAUNCH_MS)) ms: $r"
		dr_start "$T/r.yml" "$T/r.log" || fail "cycle $c: replicate did not restart"
	else
		kill -KILL "$DR_WPID"
		wait "$DR_WPID" 2>/dev/null
		DR_WPID=
		wkills=$((wkills + 1))
		dr_writer_start "$DB" "$T/ack" $W
		sleep 0.3
		kill -0 "$DR_WPID" || fail "cycle $c: the writer did not restart: $(tail -3 "$T/ack.err")"
		r=$(check "cycle $c (writer killed)" 0) || exit 1
		echo "cycle $c: writer killed: $r"
	fi
	if [ $((c % 4)) = 0 ]; then
		t0=$(dr_now_ms)
		need=$((t0 + 500))
		want=0
		for _ in $(seq 1 40); do
			sleep 0.25
			# The ack log is fsync'ed every 50 ms: read it once past need.
			[ "$want" = 0 ] && [ "$(dr_now_ms)" -gt $((need + 200)) ] &&
				want=$(/usr/bin/python3 "$DR_LIB/db_check.py" acked-max "$T/ack" "$need")
			# Corrupt or not a prefix: fail at once; short: try again.
			r=$(check "cycle $c (after restart)" 0) || exit 1
			m=$(sed 's/.* m=\([0-9]*\).*/\1/' <<<"$r")
			[ "$want" != 0 ] && [ "$m" -ge "$want" ] && break
		done
		[ "$want" != 0 ] && [ "$m" -ge "$want" ] || fail "cycle $c: replication did not go on: $r, want $want within 10 s"
		echo "cycle $c: replication goes on ($(($(dr_now_ms) - t0)) ms): $r"
	fi
	kill -0 "$DR_PID" || fail "cycle $c: replicate died"
done

dr_writer_stop || fail "the writer failed: $(tail -3 "$T/ack.err")"
tail -1 "$T/ack.err"
sleep 1
dr_stop
[ "$DR_RC" = 0 ] || fail "replicate exit $DR_RC on SIGTERM"
dr_restore "$T/r.yml" "$T/final.db" || fail "final restore: $(cat "$T/final.db.log")"
dr_check --db "$T/final.db" --ack "$T/ack" --acked-before $(($(dr_now_ms) + 1)) >/dev/null || fail "final"
diff <(dr_digest "$DB") <(dr_digest "$T/final.db") || fail "final restore differs from the source"
gens=$(ls "$T/store/generations" | wc -l)
# Only restarts start generations: a crashed application (the writer) must
# not break the WAL chain, SQLite ignores its uncommitted frames.
[ "$gens" = $((rkills + 1)) ] || fail "$gens generations after $rkills restarts (want $((rkills + 1))); breaks: $(grep -o 'needed.*reason="[^"]*"' "$T/r.log" | sed 's/[0-9][0-9]* -> [0-9][0-9]*/N -> M/' | sort | uniq -c)"
busy=$(grep -ho 'busy=[0-9]*' "$T/ack.err" | cut -d= -f2 | awk '{s += $1} END {print s + 0}')
echo "$rkills replicate kills, $wkills writer kills, $gens generations, $(($(date +%s) - t_start)) s, writer busy retries (clean exits only) $busy"
echo PASS
