#!/usr/bin/env bash
# mysql_loss.sh - MariaDB replication's loss window: commit acknowledged →
# durable in the store at a recovery point, under the Ghost-shaped writer
# (tests/tools/mysql_tool write) at RATE txn/s for SECS seconds, file://
# store (or STORE=s3: a local s3rver, tests/lib/s3rver.sh), sync_interval
# SYNC; and replicate's peak RSS (VmHWM) and CPU.
#
#   bash bench/mysql_loss.sh [BUILD_DIR]      # default build/
#   RATE=200 SECS=30 SYNC=1s bash bench/mysql_loss.sh
#   STORE=s3 SYNC=100ms bash bench/mysql_loss.sh   # into a local s3rver instead
#
# How: a transaction n is durable once a content log (a recovery point)
# whose db position covers it is in the store; the log's file mtime is
# when it landed (on s3rver: the mtime of the object's metadata file, which
# s3rver writes last, before it answers the PUT).  Position p of the generation is the p-th transaction
# after the snapshot, and the writer is the only one, so n = n0 + p where
# n0 is counters.v in the snapshot (read back from a restore at the last
# point: n0 = v - position).  The peer, mariadb-binlog
# --read-from-remote-server --raw --stop-never, is run on the same server
# for the same time: what it loses is what a shipper of closed binlog
# files would (everything after the last rotation), printed as the bytes
# of the active file it holds and no shipping at all until a rotation.
set -uo pipefail
B=${1:-build}
RATE=${RATE:-200}
SECS=${SECS:-30}
SYNC=${SYNC:-1s}
STORE=${STORE:-file}
SRC=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/rv-mysql-loss.XXXXXX)
# shellcheck source=/dev/null
. "$SRC/tests/lib/mariadb.sh"
WP= RP= BP=
cleanup() {
	mariadb_reap $WP $RP $BP
	mariadb_stop
	[ "$STORE" = s3 ] && s3rver_cleanup
	rm -rf "$W"
}
trap cleanup EXIT
mariadb_start "$W/db" >/dev/null || exit 1
if [ "$STORE" = s3 ]; then
	# shellcheck source=/dev/null
	. "$SRC/tests/lib/s3rver.sh"
	s3rver_start "$W/s3" >/dev/null || exit 1
	s3rver_mkbucket bench || exit 1
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
	export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
	URL="s3://bench/loss?endpoint=$S3RVER_URL&region=us-east-1"
	LOGS="$W/s3/data/bench/loss/generations/*/content/log/*._S3rver_metadata.json"
	OBJ=._S3rver_object
else
	URL="file://$W/store"
	LOGS="$W/store/generations/*/content/log/*"
	OBJ=
fi
mariadb_sql "CREATE DATABASE ghost"
mkdir -p "$W/content" "$W/store" "$W/raw"
MARIADB_RV_STORE=$URL MARIADB_RV_STORE_OPTS=$([ "$STORE" = s3 ] || echo "  fsync: true") \
	mariadb_rv_config "$W/r.yml" "$W" "$SYNC"
"$B/tests/mysql_tool" write "$W/r.yml" "$W/ack" 0 0 2>/dev/null &
WP=$!
sleep 0.3
kill "$WP"
wait "$WP"
: >"$W/ack"
"$B/revenant" -c "$W/r.yml" replicate >"$W/r.log" 2>&1 &
RP=$!
for _ in $(seq 1 200); do grep -q 'content generation started' "$W/r.log" && break; sleep 0.05; done
(cd "$W/raw" && exec mariadb-binlog --no-defaults --read-from-remote-server --raw --stop-never \
	-S "$MARIADB_SOCK" -uroot binlog.000001) 2>/dev/null &
BP=$!
t0=$(date +%s%N)
c0=$(awk '{print $14+$15}' "/proc/$RP/stat")
"$B/tests/mysql_tool" write "$W/r.yml" "$W/ack" "$RATE" 0 2>/dev/null &
WP=$!
sleep "$SECS"
kill -TERM "$WP"
wait "$WP"
WP=
sleep 2
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$RP/status")
c1=$(awk '{print $14+$15}' "/proc/$RP/stat")
kill -TERM "$RP"
wait "$RP"
RP=
t1=$(date +%s%N)
raw=$(du -cb "$W"/raw/* 2>/dev/null | tail -1 | cut -f1)
"$B/revenant" -c "$W/r.yml" restore --db-only --db "mysql://root@localhost/final?socket=$MARIADB_SOCK" >"$W/restore.log" 2>&1 || {
	cat "$W/restore.log"
	exit 1
}
v=$(mariadb_sql -D final "SELECT v FROM counters")
pos=$(sed -n 's/.*position \([0-9]*\) .*/\1/p' "$W/restore.log" | head -1)
for f in $LOGS; do
	printf '%s %s\n' "$(stat -c %.3Y "$f")" "$(zstdcat "${f%._S3rver_metadata.json}$OBJ" | head -1 | sed -n 's/.* db=\([0-9]*\).*/\1/p')"
done | sort -n >"$W/points"
python3 - "$W/ack" "$W/points" "$((v - pos))" "$RATE" "$SECS" "$SYNC" "$hwm" "$(((c1 - c0)))" "$raw" "$STORE" <<'PY'
import sys, bisect
ack, points, n0 = sys.argv[1], sys.argv[2], int(sys.argv[3])
pts = [(float(a) * 1000, int(b)) for a, b in (l.split() for l in open(points)) if b]
pos_sorted = []
best = float('inf')
# the earliest landing time of a point covering each position
cover = []  # (db position, time) with time increasing
for t, p in pts:
    cover.append((p, t))
lat = []
miss = 0
for line in open(ack):
    n, ms = line.split()
    n, ms = int(n), int(ms)
    need = n - n0
    t = next((t for p, t in cover if p >= need), None)
    if t is None:
        miss += 1
        continue
    lat.append(t - ms)
lat.sort()
q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))]
print(f"store {sys.argv[10]}, rate {sys.argv[4]} txn/s for {sys.argv[5]} s, sync_interval {sys.argv[6]}: {len(lat)} transactions, {miss} never in a point")
print(f"commit -> durable at a recovery point: p50 {q(.5):.0f} ms, p99 {q(.99):.0f} ms, max {lat[-1]:.0f} ms")
print(f"replicate: peak RSS {int(sys.argv[7]) / 1024:.1f} MiB, CPU {int(sys.argv[8]) / 100:.2f} s")
print(f"mariadb-binlog --raw --stop-never held {int(sys.argv[9] or 0)} bytes of the active binlog; a shipper of closed files shipped none of it (no rotation in the run)")
PY
