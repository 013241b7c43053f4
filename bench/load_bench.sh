#!/usr/bin/env bash
# load_bench.sh - what revenant costs the Ghost it protects, under load
# (issue 14's load test): `wrk` (Debian's) against a real Ghost's front
# page and a Content API read, with a writer publishing posts through the
# Admin API all along (so that replication has work), first with nothing
# beside Ghost, then with `revenant replicate` (SQLite + content folder, a
# local folder store, sync_interval 1 s) — alternating, RUNS times each,
# reporting requests/s and the ratio (goal: revenant costs Ghost at most
# 5 %).  The same figures size deploy/k8s's front end (bench/README.md,
# "Load").
#
#   bash bench/load_bench.sh [build/revenant]    RUNS=3 SECONDS_EACH=20 CONNS=16
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REVENANT=$(realpath "${1:-$HERE/../build/revenant}")
RUNS=${RUNS:-3}
SECS=${SECONDS_EACH:-20}
CONNS=${CONNS:-16}
export RV_SRCDIR=$HERE/..
command -v wrk >/dev/null || {
	echo "wrk is missing: apt-get install wrk" >&2
	exit 1
}
# shellcheck source=/dev/null
. "$HERE/../tests/lib/ghost.sh"
mkdir -p "$HERE/results"
OUT=$HERE/results/load-$(date -u +%Y%m%dT%H%M%SZ).txt
exec > >(tee "$OUT") 2>&1
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-load-bench.XXXXXX")
RV= WRITER=
cleanup() {
	[ -n "$RV" ] && kill -TERM "$RV" 2>/dev/null && wait "$RV" 2>/dev/null
	[ -n "$WRITER" ] && kill -TERM "$WRITER" 2>/dev/null && wait "$WRITER" 2>/dev/null
	ghost_cleanup_all
	rm -rf "$W"
}
trap cleanup EXIT
die() {
	echo "load_bench: $*" >&2
	exit 1
}

ghost_install || die "Ghost is not installed"
PORT=$(ghost_free_port)
ghost_start g "$PORT" || die "Ghost did not start"
URL=$(ghost_url g)
KEY=$(ghost_setup_admin g) || die "no admin key"
ghost_api seed --url "$URL" --key-file "$KEY" --posts 60 --pages 3 >/dev/null || die "seeding failed"
# The Content API key of Ghost's built-in integration, from its database.
CKEY=$(/usr/bin/python3 -c 'import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(c.execute("select secret from api_keys where type = ? limit 1", ("content",)).fetchone()[0])' "$(ghost_db g)") ||
	die "no content API key"
curl -fsS -o /dev/null "$URL/" || die "the front page does not answer"
curl -fsS -o /dev/null "$URL/ghost/api/content/posts/?key=$CKEY&limit=15" || die "the Content API does not answer"

# A writer: one post published every 200 ms through the Admin API, all along.
/usr/bin/python3 - "$URL" "$KEY" "$HERE/../tests/lib" >"$W/writer.log" 2>&1 <<'PY' &
import sys, time
sys.path.insert(0, sys.argv[3])
import ghost_api
api = ghost_api.Api(sys.argv[1], ghost_api.read_key(sys.argv[2]))
i = 0
while True:
    i += 1
    api.call("POST", "posts/", {"posts": [{"title": "load %d" % i, "status": "published"}]})
    time.sleep(0.2)
PY
WRITER=$!

mkdir -p "$W/store"
cat >"$W/rv.yml" <<YML
site: dc
sync_interval: 1s
store: {url: "file://$W/store"}
content: {path: $(ghost_content g)}
database: {sqlite: $(ghost_db g)}
metrics: {listen: off}
YML

rps() { # rps PATH: requests/s of one wrk run
	wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$URL$1" >"$W/wrk.out" 2>&1
	awk '/^Requests\/sec:/ {print $2}' "$W/wrk.out"
}
p99() { awk '$1 == "99%" {print $2}' "$W/wrk.out"; }
cpu() { # cpu PID: user+system CPU seconds so far
	awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || echo 0
}
GPID=$(ghost_pid g)

echo "revenant $("$REVENANT" --version | cut -d' ' -f2), Ghost $RV_GHOST_VERSION, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%FT%TZ)"
echo "wrk -t2 -c$CONNS -d${SECS}s, a writer publishing 5 posts/s throughout; $RUNS alternating runs"
echo
printf '%-12s %-26s %10s %8s\n' "revenant" "path" "req/s" "p99"
declare -A sum
for run in $(seq 1 "$RUNS"); do
	for mode in off on; do
		if [ "$mode" = on ]; then
			"$REVENANT" -c "$W/rv.yml" replicate >>"$W/rv.log" 2>&1 &
			RV=$!
			sleep 3
			kill -0 "$RV" 2>/dev/null || die "replicate exited: $(tail -3 "$W/rv.log")"
			rv0=$(cpu "$RV") g0=$(cpu "$GPID")
		fi
		for path in / "/ghost/api/content/posts/?key=$CKEY&limit=15"; do
			name=${path%%\?*}
			r=$(rps "$path")
			[ -n "$r" ] || die "wrk failed: $(cat "$W/wrk.out")"
			printf '%-12s %-26s %10s %8s\n' "$mode" "$name" "$r" "$(p99)"
			sum[$mode$name]=$(python3 -c "print(${sum[$mode$name]:-0} + $r)")
		done
		if [ "$mode" = on ]; then
			rvc=$(python3 -c "print($(cpu "$RV") - $rv0 + ${rvc:-0})")
			gc=$(python3 -c "print($(cpu "$GPID") - $g0 + ${gc:-0})")
			kill -TERM "$RV" && wait "$RV"
			RV=
		fi
	done
done
echo
for name in / /ghost/api/content/posts/; do
	python3 -c "import sys; off, on = float(sys.argv[1]), float(sys.argv[2])
print('%-26s without %8.1f req/s, with revenant %8.1f req/s: %.1f %% of it (goal >= 95 %%)' % (sys.argv[3], off / $RUNS, on / $RUNS, 100 * on / off))" \
		"${sum[off$name]}" "${sum[on$name]}" "$name"
done
python3 -c "print('CPU while both ran: revenant %.2f s, Ghost %.2f s: revenant used %.2f %% of what Ghost did' % ($rvc, $gc, 100 * $rvc / $gc))"
n=$(/usr/bin/python3 -c 'import sqlite3, sys
print(sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True).execute("select count(*) from posts where title like ?", ("load %",)).fetchone()[0])' "$(ghost_db g)")
[ "${n:-0}" -gt 0 ] || die "the writer published nothing: $(tail -3 "$W/writer.log")"
kill -0 "$WRITER" 2>/dev/null || die "the writer died: $(tail -3 "$W/writer.log")"
echo "posts published by the writer during the runs: $n"
echo "results: $OUT"
