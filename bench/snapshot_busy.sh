#!/usr/bin/env bash
# snapshot_busy.sh - does replicate ever make a Ghost write fail (issue 9,
# defect 5)?  Usage: bash bench/snapshot_busy.sh [path/to/revenant] (a
# Release build: build-rel/revenant).  See bench/README.md, "Snapshots and
# Ghost's writes".
#
# For each rate in RATES: a fresh Ghost-shaped database, `revenant
# replicate` on a file:// store (sync_interval 1s, snapshot_interval
# INTERVAL, snapshot_log_ratio RATIO: snapshots come from the clock and
# from the log volume), and tests/lib/db_writer.py at that rate for SECS
# seconds: deferred transactions that read first, busy timeout 5 s, post
# bodies of 2-20 KiB.  Reported per rate: the transactions committed, every
# SQLITE_BUSY/LOCKED the writer saw (by extended code; each one is an HTTP
# 500 in Ghost, so the only acceptable figure is 0), how long before the
# next "database snapshot written" line each one came, the snapshots by
# reason, the writer's transaction latency (p50/p99/max, retries included),
# the largest WAL seen, and whether the latest restore equals the source
# row for row.
# Env: RATES ("50 100 200"), SECS (600), INTERVAL (20s), RATIO (1), LABEL
# (a name for the table), KEEP=1 keeps the work folder.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
rv="$(realpath "${1:-$top/build-rel/revenant}")"
RATES=${RATES:-50 100 200}
SECS=${SECS:-600}
INTERVAL=${INTERVAL:-20s}
RATIO=${RATIO:-1}
LABEL=${LABEL:-$rv}
PY=/usr/bin/python3
W="$top/tests/lib/db_writer.py"
C="$top/tests/lib/db_check.py"
[ -x "$rv" ] || { echo "bench: no revenant at $rv" >&2; exit 1; }

work=$(mktemp -d -t rv-snapbusy.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
die() {
	echo "bench: $*" >&2
	exit 1
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "snapshot_busy: $LABEL; rates $RATES txn/s, $SECS s each, snapshot_interval $INTERVAL, snapshot_log_ratio $RATIO; load $load_before"
printf '| rate target | achieved | commits | SQLITE_BUSY (by code) | BUSY → next snapshot | snapshots interval / log_volume | latency p50 / p99 / max ms | WAL max MiB (rewinds) | restore = source |\n'
printf '|---:|---:|---:|---|---|---|---|---|---|\n'
for rate in $RATES; do
	d="$work/r$rate"
	mkdir -p "$d/db" "$d/content" "$d/store"
	db="$d/db/ghost.db"
	$PY "$W" --db "$db" --ack "$d/init.ack" --init --count 0 2>/dev/null || die "cannot create the database"
	cat >"$d/r.yml" <<YML
site: bench
sync_interval: 1s
retention: 1d
store:
  url: "file://$d/store"
metrics:
  listen: off
content:
  path: $d/content
database:
  sqlite: $db
  snapshot_interval: $INTERVAL
  snapshot_log_ratio: $RATIO
  busy_timeout: 5s
YML
	"$rv" -c "$d/r.yml" replicate >"$d/r.log" 2>&1 &
	rpid=$!
	pids+=("$rpid")
	for _ in $(seq 1 600); do
		grep -q 'content generation started' "$d/r.log" && break
		kill -0 "$rpid" 2>/dev/null || die "replicate exited: $(tail -3 "$d/r.log")"
		sleep 0.05
	done
	# The WAL's extent in use (frames of the current incarnation, from
	# SQLite's wal-index header: the file itself never shrinks) and its
	# rewinds, sampled every 0.2 s.
	$PY - "$db" "$d/wal.json" <<'PY' &
import json, os, struct, sys, time
db, out = sys.argv[1], sys.argv[2]
mx, rewinds, salt = 0, 0, None
while True:
    try:
        with open(db + "-shm", "rb") as f:
            h = f.read(48)
        if len(h) == 48 and h[:48] == open(db + "-shm", "rb").read(48):
            page = struct.unpack_from("<H", h, 14)[0] or 65536
            frames = struct.unpack_from("<I", h, 16)[0]
            s = h[32:40]
            if salt is not None and s != salt:
                rewinds += 1
            salt = s
            mx = max(mx, 32 + frames * (page + 24))
            with open(out + ".series", "a") as f:
                f.write("%.1f %d\n" % (time.time(), 32 + frames * (page + 24)))
            with open(out + ".tmp", "w") as f:
                json.dump({"max": mx, "rewinds": rewinds}, f)
            os.replace(out + ".tmp", out)
    except OSError:
        pass
    time.sleep(0.2)
PY
	spid=$!
	pids+=("$spid")
	$PY "$W" --db "$db" --ack "$d/ack" --rate "$rate" --duration "$SECS" \
		--stats "$d/stats.json" --busy-log "$d/busy.log" 2>"$d/w.err" ||
		die "the writer failed: $(tail -3 "$d/w.err")"
	kill "$spid" 2>/dev/null || true
	sleep 2
	kill -TERM "$rpid"
	wait "$rpid" || die "replicate exit $?: $(tail -3 "$d/r.log")"
	"$rv" -c "$d/r.yml" restore --db-only --db "$d/out.db" >"$d/restore.log" 2>&1 ||
		die "restore failed: $(tail -3 "$d/restore.log")"
	same=no
	cmp -s <($PY "$C" digest "$db") <($PY "$C" digest "$d/out.db") && same=yes
	$PY - "$d" "$rate" "$same" <<'PY'
import calendar, json, os, re, sys, time
d, rate, same = sys.argv[1], sys.argv[2], sys.argv[3]
st = json.load(open(d + "/stats.json"))
snaps = []  # (unix ms, reason)
for line in open(d + "/r.log"):
    if "database snapshot written" not in line:
        continue
    m = re.search(r'ts=(\d+-\d+-\d+T\d+:\d+:\d+)\.(\d+)Z', line)
    r = re.search(r'reason=(\w+)', line)
    if m and r:
        t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
        snaps.append((t * 1000 + int(m.group(2)), r.group(1)))
busy = []
if os.path.exists(d + "/busy.log"):
    for line in open(d + "/busy.log"):
        p = line.split()
        if len(p) >= 2:
            busy.append(int(p[0]))
gaps = []
for b in busy:
    nxt = [s for s, _ in snaps if s >= b]
    gaps.append("%d ms" % (min(nxt) - b) if nxt else "none")
reasons = {}
for _, r in snaps:
    reasons[r] = reasons.get(r, 0) + 1
nbusy = sum(st["errors"].values())
codes = ", ".join("%s: %d" % kv for kv in sorted(st["errors"].items())) or "—"
gap = "—"
if gaps:
    gap = ", ".join(gaps[:6]) + (" …" if len(gaps) > 6 else "")
wal = json.load(open(d + "/wal.json")) if os.path.exists(d + "/wal.json") else {"max": 0, "rewinds": 0}
lat = st["latency_ms"]
print("| %s | %.1f | %d | **%d** (%s) | %s | %d / %d | %.1f / %.1f / %.1f | %.1f (%d) | %s |" % (
    rate, st["rate"], st["txns"], nbusy, codes, gap, reasons.get("interval", 0),
    reasons.get("log_volume", 0), lat["p50"], lat["p99"], lat["max"], wal["max"] / 2**20, wal["rewinds"], same))
PY
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
