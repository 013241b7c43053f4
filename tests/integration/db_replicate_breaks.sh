#!/usr/bin/env bash
# db_replicate_breaks.sh - what can break the WAL chain or the store, under
# a 200 txn/s Ghost-shaped writer:
#   (a) another connection runs PRAGMA wal_checkpoint(TRUNCATE) in a loop,
#       first without a busy timeout (latest restores keep their latency
#       bound), then with .timeout 5000 (only "nothing lost"): restores
#       pass, and any new generation is logged with its reason;
#   (b) the database file is replaced (new file written aside, mv over it,
#       writer stopped as Ghost would be): replicate logs "new generation",
#       the latest restore is the new database (row for row);
#   (c) s3rver killed for 30 s and restarted on the same port and data:
#       replicate keeps running, logs the store failures, catches up; no
#       transaction acked before the outage is lost, and the latest restore
#       equals the source.
set -u
. "$RV_SRCDIR/tests/lib/db_replicate.sh"
. "$RV_SRCDIR/tests/lib/s3rver.sh"

T=$(mktemp -d /tmp/rv-dbbreak.XXXXXX)
DR_PID='' DR_WPID='' CKPID=''
cleanup() {
	[ -n "${CKPID:-}" ] && kill -KILL "$CKPID" 2>/dev/null
	[ -n "${DR_WPID:-}" ] && kill -KILL "$DR_WPID" 2>/dev/null
	[ -n "${DR_PID:-}" ] && kill -KILL "$DR_PID" 2>/dev/null
	s3rver_cleanup
	wait 2>/dev/null
	[ -n "${RV_KEEP:-}" ] && echo "kept $T" >&2 || rm -rf "$T"
}
trap cleanup EXIT
LOG=$T/r.log
fail() {
	echo "FAIL: $*" >&2
	tail -20 "$LOG" >&2
	exit 1
}
SLACK=2000 # sync_interval (1 s) + 1 s

# latest NAME ACK [args]: restore latest, check against ACK (acked more than
# SLACK ago must be in), echo the result line.
latest() {
	local name=$1 ack=$2 r0
	shift 2
	r0=$(dr_now_ms)
	dr_restore "$CFG" "$T/$name.db" || fail "$name: restore: $(cat "$T/$name.db.log")"
	dr_check --db "$T/$name.db" --ack "$ack" --acked-before $((r0 - SLACK)) "$@" || fail "$name"
}
# wait_settled: the writer is stopped; one tick ships the rest.
wait_settled() { sleep 2.5; }

mkdir -p "$T/store" "$T/content" "$T/db"
DB=$T/db/ghost.db
CFG=$T/r.yml
dr_config "$CFG" "file://$T/store" "$T/content" "$DB" 1s
/usr/bin/python3 "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/init.ack" --init --count 100 --rate 0 ||
	fail "cannot create the database"

# ckpt_loop SECS [sqlite3 options]: a foreign TRUNCATE checkpoint every 100 ms.
ckpt_loop() {
	local end=$((SECONDS + $1))
	shift
	while [ $SECONDS -lt $end ]; do
		sqlite3 "$@" "$DB" "PRAGMA wal_checkpoint(TRUNCATE)" 2>&1 || echo "error"
		sleep 0.1
	done
}
ckpt_report() {
	grep -q error "$1" && fail "a checkpoint failed: $(grep -m1 -B1 error "$1")"
	echo "$(wc -l <"$1") checkpoints: $(grep -c '^0|' "$1") complete, $(grep -c '^1|' "$1") busy"
}

echo "--- (a) a foreign wal_checkpoint(TRUNCATE) every 100 ms"
dr_start "$CFG" "$LOG" || fail "replicate did not start"
dr_writer_start "$DB" "$T/ackA" --rate 200 --max-posts 800 --stats "$T/ackA.json"
# As an admin would type it (no busy timeout): SQLite answers busy at once
# when revenant's read transaction holds the WAL, and nobody waits.
ckpt_loop 12 >"$T/ckpt1.out" &
CKPID=$!
for i in 1 2 3; do
	sleep 4
	r=$(latest a$i "$T/ackA") || exit 1
	echo "(a) latest $i: $r"
done
wait "$CKPID"
CKPID=
echo "(a) $(ckpt_report "$T/ckpt1.out")"
# With a busy timeout, a TRUNCATE checkpoint holds the write lock while it
# waits for readers to leave; revenant's never leaves, so every writer
# (Ghost) waits up to that timeout: only "nothing lost" is asserted here,
# the writer's throughput is printed.
ckpt_loop 8 -cmd ".timeout 5000" >"$T/ckpt2.out" &
CKPID=$!
wait "$CKPID"
CKPID=
echo "(a) with .timeout 5000: $(ckpt_report "$T/ckpt2.out")"
dr_writer_stop || fail "the writer failed: $(cat "$T/ackA.err")"
echo "(a) writer: $(tail -1 "$T/ackA.err")"
wait_settled
r=$(latest a-final "$T/ackA") || exit 1
diff <(dr_digest "$DB") <(dr_digest "$T/a-final.db") || fail "(a) the latest restore differs from the source"
ngen=$(grep -c 'new generation' "$LOG")
if [ "$ngen" -gt 0 ]; then
	grep 'new generation' "$LOG" | grep -vq 'reason=' && fail "(a) a new generation without a reason"
	echo "(a) $ngen new generation line(s): $(grep -m1 'new generation' "$LOG")"
fi
echo "ok (a): $r, equal to the source; $(ls "$T/store/generations" | wc -l) generation(s)"

echo "--- (b) the database file replaced under replicate"
gens0=$(ls "$T/store/generations" | wc -l)
n0=$(grep -c 'new generation' "$LOG")
# Written aside in rollback-journal mode, as a copied backup would be: a
# WAL-mode file moved in next to the old file's -wal would be misread by
# any SQLite that opened it (not something revenant can prevent).
/usr/bin/python3 "$DR_LIB/db_writer.py" --db "$T/db/new.db" --ack "$T/initB.ack" --init --origin B \
	--count 300 --rate 0 --journal-mode delete || fail "cannot create the new database"
mv "$T/db/new.db" "$DB"
for i in $(seq 1 100); do
	[ "$(grep -c 'new generation' "$LOG")" -gt "$n0" ] && break
	sleep 0.1
done
[ "$(grep -c 'new generation' "$LOG")" -gt "$n0" ] || fail "(b) no 'new generation' within 10 s of the mv"
line=$(grep 'new generation' "$LOG" | tail -1)
echo "(b) $line"
echo "$line" | grep -q 'reason=.*replaced' || fail "(b) the log line does not say the file was replaced"
kill -0 "$DR_PID" || fail "(b) replicate died"
# The next snapshot (of the new file) is in the new generation.
for i in $(seq 1 100); do
	[ "$(ls "$T/store/generations" | wc -l)" -gt "$gens0" ] && break
	sleep 0.1
done
[ "$(ls "$T/store/generations" | wc -l)" -gt "$gens0" ] || fail "(b) no new generation in the store"
dr_writer_start "$DB" "$T/ackB" --rate 200 --max-posts 800
sleep 4
r=$(latest b1 "$T/ackB" --origin B) || exit 1
echo "(b) latest while writing: $r"
dr_writer_stop || fail "the writer failed: $(cat "$T/ackB.err")"
wait_settled
r=$(latest b-final "$T/ackB" --origin B) || exit 1
diff <(dr_digest "$DB") <(dr_digest "$T/b-final.db") || fail "(b) the latest restore differs from the new database"
echo "ok (b): $r, equal to the new database"
dr_stop
[ "$DR_RC" = 0 ] || fail "replicate exit $DR_RC on SIGTERM"

echo "--- (c) s3rver down for 30 s"
s3rver_start || fail "cannot start s3rver"
s3rver_mkbucket rv-db || fail "cannot create the bucket"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_CA_BUNDLE
CFG=$T/s3.yml
LOG=$T/s3.log
# Short S3 timeouts, so that the outage shows in the log within seconds.
cat >"$CFG" <<YML
site: dc
sync_interval: 1s
store:
  url: "s3://rv-db/site?endpoint=$S3RVER_URL&region=us-east-1"
  s3: {deadline: 3s, max_attempts: 3, connect_timeout: 500ms, request_timeout: 2s}
metrics:
  listen: off
content:
  path: $T/content
database:
  sqlite: $DB
  busy_timeout: 5s
YML
dr_start "$CFG" "$LOG" || fail "replicate on s3 did not start"
dr_writer_start "$DB" "$T/ackC" --rate 200 --max-posts 800
sleep 5
r=$(latest c1 "$T/ackC" --origin B) || exit 1
echo "(c) before the outage: $r"
out_ms=$(dr_now_ms)
s3rver_stop KILL
for i in $(seq 1 30); do
	sleep 1
	kill -0 "$DR_PID" || fail "(c) replicate died during the outage"
	kill -0 "$DR_WPID" || fail "(c) the writer died during the outage: $(cat "$T/ackC.err")"
done
s3rver_start "$S3RVER_DIR" "$S3RVER_PORT" || fail "cannot restart s3rver"
back_ms=$(dr_now_ms)
# Caught up: a latest restore holds what was acked before the server came back.
ok=
for i in $(seq 1 30); do
	if dr_restore "$CFG" "$T/c2.db" && r=$(dr_check --db "$T/c2.db" --ack "$T/ackC" \
		--acked-before "$back_ms" --origin B 2>"$T/c2.err"); then
		ok=1
		break
	fi
	sleep 1
done
[ -n "$ok" ] || fail "(c) no catch-up within 30 s of the restart: $(cat "$T/c2.db.log" "$T/c2.err")"
echo "(c) caught up $(($(dr_now_ms) - back_ms)) ms after the restart: $r"
errs=$(grep -cE 'level=(warn|error)' "$LOG")
[ "$errs" -gt 0 ] || fail "(c) nothing logged about the store outage"
echo "(c) outage from $out_ms: $errs warn/error lines, e.g. $(grep -m1 -E 'level=(warn|error)' "$LOG")"
dr_writer_stop || fail "the writer failed: $(cat "$T/ackC.err")"
wait_settled
r=$(latest c-final "$T/ackC" --origin B) || exit 1
diff <(dr_digest "$DB") <(dr_digest "$T/c-final.db") || fail "(c) the latest restore differs from the source"
dr_stop
[ "$DR_RC" = 0 ] || fail "replicate exit $DR_RC on SIGTERM"
echo "ok (c): $r, equal to the source"
echo PASS
