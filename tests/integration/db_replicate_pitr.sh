#!/usr/bin/env bash
# db_replicate_pitr.sh - a Ghost-shaped writer commits 200 txn/s while
# `revenant replicate` ships the database (file:// store, sync_interval 1s).
# Latest restores at random moments and `--at` restores to wall-clock times
# recorded during the run must each pass integrity_check and hold exactly a
# prefix of the committed transactions:
#   latest, replicate alive: every txn acked more than sync_interval + 1 s
#     before the restore started is there;
#   --at T: every txn acked before T - (sync_interval + 1 s) is there, and
#     no txn that began after T (txlog.ms > T; exact, see db_check.py).
# Then, writer stopped and replicate stopped, the latest restore equals the
# source table by table (every row), and every restore's txlog rows equal
# the source's.
set -u
. "$RV_SRCDIR/tests/lib/db_replicate.sh"

dr_setup dbpitr

SECS=${SECS:-45}
SLACK=2000 # sync_interval (1 s) + 1 s
mkdir -p "$T/store" "$T/content" "$T/db" "$T/out"
DB=$T/db/ghost.db
dr_config "$T/r.yml" "file://$T/store" "$T/content" "$DB" 1s

/usr/bin/python3 "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/init.ack" --init --count 200 --rate 0 ||
	fail "cannot create the database"
dr_start "$T/r.yml" "$T/r.log" || fail "replicate did not start"
dr_writer_start "$DB" "$T/ack" --rate 200 --max-posts 1500
start=$(date +%s)
ats=()
n=0
while [ $(($(date +%s) - start)) -lt "$SECS" ]; do
	sleep "$((RANDOM % 2)).$((RANDOM % 10))"
	kill -0 "$DR_WPID" || fail "the writer died: $(cat "$T/ack.err")"
	kill -0 "$DR_PID" || fail "replicate died"
	# Record a time for a later --at restore (not too close to the start).
	if [ $(($(date +%s) - start)) -ge 3 ] && [ $((RANDOM % 2)) = 0 ]; then
		ats+=("$(dr_now_ms)")
	fi
	if [ $((RANDOM % 3)) = 0 ]; then
		n=$((n + 1))
		r0=$(dr_now_ms)
		dr_restore "$T/r.yml" "$T/out/latest$n.db" || fail "latest restore $n: $(cat "$T/out/latest$n.db.log")"
		r=$(dr_check --db "$T/out/latest$n.db" --ack "$T/ack" --acked-before $((r0 - SLACK))) ||
			fail "latest restore $n"
		echo "latest $n at +$(($(date +%s) - start))s: $r ($(($(dr_now_ms) - r0)) ms)"
	fi
done
[ "$n" -ge 3 ] || fail "only $n latest restores"
[ "${#ats[@]}" -ge 3 ] || fail "only ${#ats[@]} --at times"

dr_writer_stop || fail "the writer failed: $(cat "$T/ack.err")"
tail -1 "$T/ack.err"
# Everything committed is shipped within one tick; SIGTERM commits the rest.
sleep 2
dr_stop
[ "$DR_RC" = 0 ] || fail "replicate exit $DR_RC on SIGTERM"

i=0
for at in "${ats[@]}"; do
	i=$((i + 1))
	sec="${at:0:10}.${at:10:3}"
	dr_restore "$T/r.yml" "$T/out/at$i.db" --at "$sec" || fail "restore --at $sec: $(cat "$T/out/at$i.db.log")"
	r=$(dr_check --db "$T/out/at$i.db" --ack "$T/ack" --acked-before $((at - SLACK)) --at-ms "$at") ||
		fail "restore --at $sec"
	echo "--at $sec: $r"
done

dr_restore "$T/r.yml" "$T/out/final.db" || fail "final restore: $(cat "$T/out/final.db.log")"
dr_check --db "$T/out/final.db" --ack "$T/ack" --acked-before $(($(dr_now_ms) + 1)) >/dev/null ||
	fail "final restore misses acked transactions"
diff <(dr_digest "$DB") <(dr_digest "$T/out/final.db") || fail "final restore differs from the source"
for f in "$T"/out/*.db; do
	/usr/bin/python3 "$DR_LIB/db_check.py" same-txlog --db "$f" --source "$DB" >/dev/null ||
		fail "$f holds transactions the source does not"
done
echo "final: $(dr_digest "$DB" | tr '\n' ' ')"
gens=$(ls "$T/store/generations" | wc -l)
[ "$gens" = 1 ] || fail "$gens generations in one run without a break"
echo PASS
