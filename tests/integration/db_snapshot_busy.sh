#!/usr/bin/env bash
# db_snapshot_busy.sh - replicate never makes a Ghost write fail (issue 9,
# defect 5): a Ghost-shaped writer (deferred transactions that read first,
# busy timeout 5 s, posts of 2-20 KiB) at 100 txn/s for 40 s while
# snapshots come every 2 s (and from the log volume when it gets there)
# sees not one SQLITE_BUSY — SQLite answers a transaction that read and
# then wants to write with an immediate SQLITE_BUSY, without waiting, while
# another connection holds the write lock, so a single lock taken by
# revenant at the wrong moment is an HTTP 500 in Ghost.  Then, with the
# clock's snapshots off, the same writer flat out until two snapshots come
# from the log volume (the same code, the other trigger, a WAL past 64 MiB
# and no pause between commits): again not one SQLITE_BUSY.  The latest
# restore then equals the source row for row.  The code before the fix
# took the write lock for every snapshot and failed this in 11 runs of 11
# (3-45 SQLITE_BUSY in the first phase alone).
# Zero BUSY is a correctness property, not a speed one: under a sanitizer
# or on a loaded machine the writer may fall short of 100 txn/s (the rate
# it reached is printed), and the test still asks for zero.
# Env: SBUSY_SECS (40), SBUSY_RATE (100) for the first phase.
set -u
. "$RV_SRCDIR/tests/lib/db_replicate.sh"

dr_setup dbsb

SECS=${SBUSY_SECS:-40}
RATE=${SBUSY_RATE:-100}
DB=$T/db/ghost.db
mkdir -p "$T/db" "$T/content" "$T/store"
"$DR_PY" "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/init.ack" --init --count 0 2>/dev/null ||
	fail "cannot create the database"
dr_config "$T/r.yml" "file://$T/store" "$T/content" "$DB" 1s false
sed -i 's/^  snapshot_interval: 6h$/  snapshot_interval: 2s\n  snapshot_log_ratio: 1/' "$T/r.yml"
grep -q 'snapshot_interval: 2s' "$T/r.yml" || fail "could not set snapshot_interval"
sed -i 's/^site: dc$/site: dc\nretention: 1d/' "$T/r.yml"
dr_start "$T/r.yml" "$T/r.log" || fail "replicate did not start"
n0=$(grep -c 'database snapshot written' "$T/r.log")
"$DR_PY" "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/ack" --rate "$RATE" --duration "$SECS" \
	--stats "$T/stats.json" --busy-log "$T/busy.log" 2>"$T/w.err" ||
	fail "the writer failed: $(tail -3 "$T/w.err")"
nsnap=$(($(grep -c 'database snapshot written' "$T/r.log") - n0))
sleep 1.5
dr_stop
[ "$DR_RC" = 0 ] || fail "replicate exit $DR_RC"
read -r txns rate nbusy codes <<<"$("$DR_PY" -c '
import json, sys
st = json.load(open(sys.argv[1]))
e = st["errors"]
print(st["txns"], st["rate"], sum(e.values()),
      ",".join("%s:%d" % kv for kv in sorted(e.items())) or "-")
' "$T/stats.json")"
echo "writer: $txns transactions at $rate txn/s (asked $RATE); $nsnap snapshots during the run" \
	"($(grep -c 'reason=interval' "$T/r.log") interval, $(grep -c 'reason=log_volume' "$T/r.log") log_volume)"
if [ "$nbusy" != 0 ]; then
	echo "BUSY errors (unix ms, extended code, transaction, statement):" >&2
	head -20 "$T/busy.log" >&2
	fail "the writer saw $nbusy SQLITE_BUSY/LOCKED errors (by code: $codes): each one is a failed Ghost request"
fi
[ "$nsnap" -ge 3 ] || fail "only $nsnap snapshots during the run: the test proves nothing"
# Phase 2: log-volume snapshots under a writer without pauses.
sed -i 's/^  snapshot_interval: 2s$/  snapshot_interval: 6h/' "$T/r.yml"
dr_start "$T/r.yml" "$T/r.log" || fail "replicate did not start again"
n0=$(grep -c 'reason=log_volume' "$T/r.log")
"$DR_PY" "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/ack" --rate 0 --max-posts 400 \
	--stats "$T/stats2.json" --busy-log "$T/busy.log" 2>"$T/w2.err" &
DR_WPID=$!
start=$(date +%s)
while (($(grep -c 'reason=log_volume' "$T/r.log") - n0 < 2)); do
	(($(date +%s) - start < 90)) || fail "fewer than 2 log-volume snapshots within 90 s"
	kill -0 "$DR_WPID" 2>/dev/null || fail "the writer died: $(tail -3 "$T/w2.err")"
	sleep 0.5
done
dr_writer_stop || fail "the writer failed: $(tail -3 "$T/w2.err")"
sleep 1.5
dr_stop
[ "$DR_RC" = 0 ] || fail "replicate exit $DR_RC"
read -r txns2 rate2 nbusy2 codes2 <<<"$("$DR_PY" -c '
import json, sys
st = json.load(open(sys.argv[1]))
e = st["errors"]
print(st["txns"], st["rate"], sum(e.values()),
      ",".join("%s:%d" % kv for kv in sorted(e.items())) or "-")
' "$T/stats2.json")"
echo "flat out: $txns2 transactions at $rate2 txn/s; 2 log-volume snapshots after $(($(date +%s) - start)) s"
if [ "$nbusy2" != 0 ]; then
	echo "BUSY errors (unix ms, extended code, transaction, statement):" >&2
	head -20 "$T/busy.log" >&2
	fail "the flat-out writer saw $nbusy2 SQLITE_BUSY/LOCKED errors (by code: $codes2)"
fi
dr_restore "$T/r.yml" "$T/out.db" || fail "restore: $(cat "$T/out.db.log")"
dr_check --db "$T/out.db" --ack "$T/ack" --acked-before "$(dr_now_ms)" >/dev/null ||
	fail "the restore lacks acknowledged transactions"
dr_digest "$DB" >"$T/want"
dr_digest "$T/out.db" >"$T/got"
cmp -s "$T/want" "$T/got" || fail "the restored database differs from the source"
echo "db_snapshot_busy: 0 SQLITE_BUSY in $((txns + txns2)) transactions across $((nsnap + 2))+ snapshots; restore = source"
