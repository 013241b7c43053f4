#!/usr/bin/env bash
# db_snapshot_volume.sh - a snapshot is taken when the log since the last
# one outweighs the database (at least 64 MiB), not only on the clock: a
# small database under a writer going flat out gets a second snapshot
# (logged with reason=log_volume) long before snapshot_interval (6 h); the
# latest restore then starts from it (few segments after the snapshot) and
# equals the source row for row.  With snapshot_log_ratio: 0 the same load
# gets none.
set -u
. "$RV_SRCDIR/tests/lib/db_replicate.sh"

dr_setup dbsv

DB=$T/db/ghost.db
mkdir -p "$T/db" "$T/content" "$T/store"
"$DR_PY" "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/init.ack" --init --count 0 2>/dev/null ||
	fail "cannot create the database"
dr_config "$T/r.yml" "file://$T/store" "$T/content" "$DB" 500ms false
dr_start "$T/r.yml" "$T/r.log" || fail "replicate did not start"
grep -q 'database snapshot written.*reason=generation_start' "$T/r.log" ||
	fail "the first snapshot is not logged with its reason"
# Flat out, posts capped so that the database stays small while the log
# grows: updates and deletes keep rewriting the same pages.
dr_writer_start "$DB" "$T/ack" --rate 0 --max-posts 400
start=$(date +%s)
while ! grep -q 'database snapshot written.*reason=log_volume' "$T/r.log"; do
	(($(date +%s) - start < 120)) || fail "no snapshot for the log volume within 120 s"
	kill -0 "$DR_WPID" 2>/dev/null || fail "the writer died: $(tail -3 "$T/ack.err")"
	sleep 0.5
done
echo "log-volume snapshot after $(($(date +%s) - start)) s; database $(($(stat -c %s "$DB") >> 20)) MiB"
dr_writer_stop >/dev/null || fail "writer failed: $(tail -3 "$T/ack.err")"
sleep 1.5
dr_stop
[ "$DR_RC" = 0 ] || fail "replicate exit $DR_RC"
nsnap=$(find "$T/store" -path '*db/snapshot/*' -name '*.zst' | wc -l)
[ "$nsnap" -ge 2 ] || fail "$nsnap snapshots in the store"
dr_restore "$T/r.yml" "$T/out.db" || fail "restore: $(cat "$T/out.db.log")"
segs=$(sed -n 's/.*(\([0-9]*\) segments after the snapshot).*/\1/p' "$T/out.db.log")
nlog=$(find "$T/store" -path '*db/log/*' -name '*.zst' | wc -l)
[ -n "$segs" ] && [ "$segs" -lt "$nlog" ] ||
	fail "the restore replayed ${segs:-?} of $nlog segments: it did not start from the later snapshot"
dr_digest "$DB" >"$T/want"
dr_digest "$T/out.db" >"$T/got"
cmp -s "$T/want" "$T/got" || fail "the restored database differs from the source"
# snapshot_log_ratio: 0 leaves it to the clock: the same load for 8 s (a
# few times what took the first one) writes no log-volume snapshot.
sed -i 's/^database:$/database:\n  snapshot_log_ratio: 0/' "$T/r.yml"
grep -q 'snapshot_log_ratio: 0' "$T/r.yml" || fail "could not set snapshot_log_ratio"
n0=$(grep -c 'reason=log_volume' "$T/r.log")
dr_start "$T/r.yml" "$T/r.log" || fail "replicate did not start again"
dr_writer_start "$DB" "$T/ack2" --rate 0 --max-posts 400
sleep 8
dr_writer_stop >/dev/null || fail "writer failed: $(tail -3 "$T/ack2.err")"
dr_stop
[ "$DR_RC" = 0 ] || fail "replicate exit $DR_RC"
[ "$(grep -c 'reason=log_volume' "$T/r.log")" = "$n0" ] ||
	fail "a log-volume snapshot with snapshot_log_ratio: 0"
echo "db_snapshot_volume: $nsnap snapshots, restore replayed $segs of $nlog segments"
