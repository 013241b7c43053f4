#!/usr/bin/env bash
# db_bench.sh - the database benchmark of issue 4 (see bench/README.md,
# "Database").  Usage: bash bench/db_bench.sh [path/to/revenant] (a Release
# build: build-rel/revenant).
# (a) loss window: commit -> durable in the store (p50/p99/max) under the
#     200 txn/s Ghost-shaped writer (tests/lib/db_writer.py), sync_interval
#     1s and 100ms, and with one write every 3 s (a blog's pace) at 1s;
#     file:// store (fsync on) and s3rver.
# (b) a BIG_MIB database: revenant's first snapshot (replicate start ->
#     snapshot in s3rver) vs sqlite3 .backup + aws s3 cp; restore:
#     revenant restore --db-only vs aws s3 cp + cp; revenant verify (the
#     restore drill of issue 15: the same restore into scratch space, the
#     posts' texts read, foreign_key_check, the scratch removed) beside it.
# (c) peak RSS (VmHWM) of replicate on that database under the writer.
# Env: SECS (30, per (a) run), SPARSE_SECS (90, the sparse run), RUNS
# ("200:1s 200:100ms sparse:1s": which (a) runs, rate:sync_interval), BIG_MIB (1024), SECS_C (30), PARTS (abc),
# SETTLE (10: seconds of quiet before each timed restore, see below).
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
rv="$(realpath "${1:-$top/build-rel/revenant}")"
SECS=${SECS:-30}
BIG_MIB=${BIG_MIB:-1024}
SECS_C=${SECS_C:-30}
SETTLE=${SETTLE:-10}
SPARSE_SECS=${SPARSE_SECS:-90}
RUNS=${RUNS:-200:1s 200:100ms sparse:1s}
PARTS=${PARTS:-abc}
AWS=/usr/bin/aws
PY=/usr/bin/python3
B="$PY $top/bench/db_bench.py"
W="$top/tests/lib/db_writer.py"
for t in "$AWS" "$PY" sqlite3 zstd /usr/bin/time node curl; do
	command -v "$t" >/dev/null || { echo "bench: $t is missing (make deps)" >&2; exit 1; }
done
. "$top/tests/lib/s3rver.sh"

work=$(mktemp -d -t rv-dbbench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	s3rver_stop
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
die() {
	echo "bench: $*" >&2
	for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -5 "$f" >&2; }; done
	exit 1
}
now_ms() { local t=$EPOCHREALTIME; echo "${t%.*}${t#*.}" | cut -c1-13; }
results="$work/results.tsv"
: >"$results"
add() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"; printf '  %-44s %s\n' "$2" "${*:3}"; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

s3rver_start "$work/s3" || die "cannot start s3rver"
s3rver_mkbucket bench || die "cannot create the bucket"
# Plain http on loopback: a CA bundle from the environment breaks the tools.
unset AWS_CA_BUNDLE
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""

# rv_config FILE URL DB INTERVAL
rv_config() {
	mkdir -p "$work/content"
	cat >"$1" <<YML
site: bench
sync_interval: $4
store:
  url: "$2"
  fsync: true
log:
  level: info
metrics:
  listen: off
content:
  path: $work/content
database:
  sqlite: $3
  busy_timeout: 5s
YML
}
s3url() { echo "s3://bench/$1?endpoint=$S3RVER_URL&region=us-east-1"; }

# ---- (a) loss window ----
if [[ $PARTS == *a* ]]; then
	for store in file s3; do
		for run in $RUNS; do
			rate=${run%%:*} iv=${run#*:} secs=$SECS
			# sparse: one write every 3 s, as a blog writes
			[ "$rate" = sparse ] && rate=0.3333 secs=$SPARSE_SECS
			d="$work/a-$store-$run"
			mkdir -p "$d"
			$PY "$W" --db "$d/ghost.db" --ack "$d/init.ack" --init --count 200 --rate 0 2>/dev/null
			if [ $store = file ]; then
				mkdir -p "$d/store"
				url="file://$d/store" root="$d/store" suffix="" prefix=""
			else
				# The bucket's folder: s3rver removes emptied folders (the
				# prefix's too, after revenant's probe), so it is watched.
				url=$(s3url "a-${run/:/-}") root="$work/s3/data/bench" suffix="._S3rver_object" prefix="a-${run/:/-}/"
			fi
			rv_config "$d/r.yml" "$url" "$d/ghost.db" "$iv"
			$B watch "$root" "$d/visible" &
			wpid=$!
			pids+=("$wpid")
			sleep 0.5
			"$rv" -c "$d/r.yml" replicate >"$d/r.log" 2>&1 &
			rpid=$!
			pids+=("$rpid")
			$B waitline "$d/r.log" "content generation started" 60 >/dev/null || die "(a) replicate did not start"
			$PY "$W" --db "$d/ghost.db" --ack "$d/ack" --rate "$rate" --duration "$secs" 2>"$d/writer.err" ||
				die "(a) the writer failed: $(cat "$d/writer.err")"
			# Two ticks for the last transactions, then a clean stop.
			sleep 2.5
			kill -TERM "$rpid"
			wait "$rpid" || die "(a) replicate exit $? on SIGTERM"
			sleep 0.5
			kill -TERM "$wpid"
			wait "$wpid" || true
			r=$($B latency "$root" "$d/visible" "$d/ack" "$suffix" "$d/lat" "$prefix") || die "(a) no latencies"
			set -- $r
			add a "$store sync_interval $iv, $([ "$rate" = 200 ] && echo 200 txn/s || echo 1 txn/3 s)" "$1" "$2" "$3" "$4 txns, $5 unmatched; $(grep -o 'rate=[0-9.]*' "$d/writer.err") busy=$(grep -o ' busy=[0-9]*' "$d/writer.err" | cut -d= -f2)"
			rm -rf "$d/store"
		done
	done
fi

# ---- (b) 1 GiB database: snapshot + upload, restore ----
if [[ $PARTS == *[bc]* ]]; then
	echo "bench: (b) generating a $BIG_MIB MiB database"
	big="$work/big/ghost.db"
	mkdir -p "$work/big"
	t0=$(now_ms)
	$PY "$W" --db "$big" --ack "$work/big/init.ack" --init --count 0 2>/dev/null
	$B genbig "$big" "$BIG_MIB"
	echo "bench: (b) $(($(stat -c %s "$big") >> 20)) MiB in $(($(now_ms) - t0)) ms; load $(cut -d' ' -f1-3 /proc/loadavg)"
	rv_config "$work/b.yml" "$(s3url b)" "$big" 1s
	sync
	t0=$(now_ms)
	"$rv" -c "$work/b.yml" replicate >"$work/b-rv.log" 2>&1 &
	rpid=$!
	pids+=("$rpid")
	t1=$($B waitline "$work/b-rv.log" "sqlite: snapshot written" 1800) || die "(b) no snapshot"
	snap_ms=$((t1 - t0))
	snap_obj=$(find "$work/s3/data/bench/b" -name '*.db.zst._S3rver_object' | head -1)
	add b "revenant replicate: first snapshot" "$(awk "BEGIN{printf \"%.2f\", $snap_ms / 1000}")" "-" "-" \
		"$(($(stat -c %s "$snap_obj") >> 20)) MiB zstd object"
	# The peer: an online copy with the sqlite3 shell, then the AWS CLI.
	sync
	/usr/bin/time -f 'TIME %e %U %S %M' -o "$work/bk.time" sqlite3 "$big" ".backup $work/peer.db" ||
		die "(b) sqlite3 .backup failed"
	/usr/bin/time -f 'TIME %e %U %S %M' -o "$work/up.time" "$AWS" --endpoint-url "$S3RVER_URL" s3 cp \
		--only-show-errors "$work/peer.db" s3://bench/peer/ghost.db || die "(b) aws s3 cp failed"
	set -- $(grep '^TIME ' "$work/bk.time") && bk=$2
	set -- $(grep '^TIME ' "$work/up.time") && up=$2 && uprss=$(($5 / 1024))
	add b "sqlite3 .backup + aws s3 cp" "$(awk "BEGIN{printf \"%.2f\", $bk + $up}")" "-" "$uprss" \
		"backup ${bk} s + upload ${up} s, $(($(stat -c %s "$work/peer.db") >> 20)) MiB"
	rm -f "$work/peer.db"

	if [[ $PARTS == *c* ]]; then
		echo "bench: (c) replicate on the $BIG_MIB MiB database under 200 txn/s for $SECS_C s"
		$PY "$W" --db "$big" --ack "$work/c.ack" --rate 200 --duration "$SECS_C" --max-posts 10000000 \
			2>"$work/c-writer.err" || die "(c) the writer failed: $(cat "$work/c-writer.err")"
		sleep 2.5
		hwm=$(awk '$1 == "VmHWM:" { printf "%d", $2 / 1024 }' "/proc/$rpid/status")
		rss=$(awk '$1 == "VmRSS:" { printf "%d", $2 / 1024 }' "/proc/$rpid/status")
		cpu=$(awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$rpid/stat")
		add c "replicate, $BIG_MIB MiB db, snapshot + ${SECS_C}s at 200 txn/s" "-" "$cpu" "$hwm" \
			"VmRSS $rss MiB at the end; $(grep -o 'rate=[0-9.]*' "$work/c-writer.err")"
	fi
	kill -TERM "$rpid"
	wait "$rpid" || die "replicate exit $? on SIGTERM"

	# Restores: revenant (snapshot + segments, verified, integrity_check)
	# vs the AWS CLI download + a copy into place.  Each starts after
	# SETTLE quiet seconds: on this VM memory a process frees goes back to
	# the hypervisor within seconds and is slow to touch again (2 s of
	# system time per GiB cold, 0.2 s warm), so without the pause whichever
	# restore runs right after the other's 1 GiB file was removed writes
	# into warm pages and the other into cold ones.
	sync
	sleep "$SETTLE"
	/usr/bin/time -f 'TIME %e %U %S %M' -o "$work/rr.time" "$rv" -c "$work/b.yml" restore --db-only \
		--db "$work/restored.db" >"$work/rr.log" 2>&1 || die "(b) revenant restore failed: $(cat "$work/rr.log")"
	set -- $(grep '^TIME ' "$work/rr.time")
	add b "revenant restore --db-only" "$2" "$(awk "BEGIN{print $3 + $4}")" "$(($5 / 1024))" \
		"$(tail -1 "$work/rr.log" | grep -o '([0-9]* segments[^)]*)' || true) $(grep -o 'segments_ms=[0-9]* snapshot_ms=[0-9]* check_ms=[0-9]*' "$work/rr.log" || true)"
	rm -f "$work/restored.db"
	sync
	sleep "$SETTLE"
	mkdir -p "$work/scratch"
	/usr/bin/time -f 'TIME %e %U %S %M' -o "$work/vf.time" "$rv" -c "$work/b.yml" verify \
		--scratch "$work/scratch" >"$work/vf.log" 2>&1 || die "(b) revenant verify failed: $(cat "$work/vf.log")"
	set -- $(grep '^TIME ' "$work/vf.time")
	add b "revenant verify (restore drill)" "$2" "$(awk "BEGIN{print $3 + $4}")" "$(($5 / 1024))" \
		"$(grep -o 'restored in [0-9.]* s ([0-9.]* s with the checks)' "$work/vf.log" || true) $(grep -o 'snapshot_ms=[0-9]* check_ms=[0-9]*\|inspect_ms=[0-9]*' "$work/vf.log" | tr '\n' ' ' || true)"
	sync
	sleep "$SETTLE"
	/usr/bin/time -f 'TIME %e %U %S %M' -o "$work/dl.time" "$AWS" --endpoint-url "$S3RVER_URL" s3 cp \
		--only-show-errors s3://bench/peer/ghost.db "$work/dl.db" || die "(b) aws download failed"
	/usr/bin/time -f 'TIME %e %U %S %M' -o "$work/cp.time" cp "$work/dl.db" "$work/placed.db"
	set -- $(grep '^TIME ' "$work/dl.time") && dl=$2 && dlcpu=$(awk "BEGIN{print $3 + $4}") && dlrss=$(($5 / 1024))
	set -- $(grep '^TIME ' "$work/cp.time") && cpt=$2
	add b "aws s3 cp + cp" "$(awk "BEGIN{printf \"%.2f\", $dl + $cpt}")" "$dlcpu" "$dlrss" "download ${dl} s + cp ${cpt} s"
	/usr/bin/time -f 'TIME %e %U %S %M' -o "$work/ic.time" sqlite3 "$work/placed.db" "PRAGMA integrity_check" >/dev/null
	set -- $(grep '^TIME ' "$work/ic.time")
	add b "(sqlite3 integrity_check of that copy)" "$2" "-" "-" "revenant runs one before the rename"
	rm -f "$work/dl.db" "$work/placed.db"
fi

mkdir -p "$top/bench/results"
out="$top/bench/results/db-$(date -u +%Y%m%dT%H%M%SZ).md"
$PY - "$results" "$out" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
out = open(sys.argv[2], "w")
def emit(s=""):
    print(s); out.write(s + "\n")
a = [r for r in rows if r[0] == "a"]
if a:
    emit("| (a) commit → durable | p50 ms | p99 ms | max ms | |")
    emit("|---|---:|---:|---:|---|")
    for _, label, p50, p99, mx, note in a:
        emit("| %s | %s | %s | %s | %s |" % (label, p50, p99, mx, note))
    emit()
b = [r for r in rows if r[0] in "bc"]
if b:
    emit("| (b, c) | wall s | CPU s | peak RSS MiB | |")
    emit("|---|---:|---:|---:|---|")
    for _, label, wall, cpu, rss, note in b:
        emit("| %s | %s | %s | %s | %s |" % (label, wall, cpu, rss, note))
    emit()
emit("load average before %s, after %s (2 vCPUs, shared)" % (sys.argv[3], sys.argv[4]))
PY
echo "bench: table written to $out"
