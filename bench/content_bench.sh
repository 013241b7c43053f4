#!/usr/bin/env bash
# Content replication benchmark (issue 3): `revenant replicate` vs rclone,
# the AWS CLI and lsyncd + rsync, same machine, same run.  Not a test: it
# prints a table and writes it to bench/results/content-<date>.md.
#
#   bash bench/content_bench.sh [build/revenant]
#
# (a) initial sync of FILES Ghost-sized images (20-200 KiB, images/YYYY/MM/):
#     over S3 (one s3rver) revenant vs `aws s3 sync` and `rclone copy`; into a
#     folder revenant's file:// store vs lsyncd's start-up rsync.
# (b) steady state: RATE files/s for SECS s, latency from each close() to the
#     file being durable in the store (revenant, sync_interval 1s and 100ms;
#     and one file every 3 s for SPARSE_SECS at 1s)
#     or complete in the target (lsyncd, delay 15 s = its default, and 1 s).
# (c) peak RSS of replicate watching BIG 1 KiB files, after the initial sync
#     and after CHANGES changes (file:// store, store.fsync off).
# Env: FILES (10000), RATE (5), SECS (60), SPARSE_SECS (90), BIG (100000), CHANGES (1000),
# PARTS (abc: which parts to run).
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
rv="$(realpath "${1:-$top/build/revenant}")"
FILES=${FILES:-10000}
RATE=${RATE:-5}
SECS=${SECS:-60}
SPARSE_SECS=${SPARSE_SECS:-90}
BIG=${BIG:-100000}
CHANGES=${CHANGES:-1000}
PARTS=${PARTS:-abc}
AWS=/usr/bin/aws
PY="/usr/bin/python3 $top/bench/content_bench.py"
for t in "$AWS" rclone lsyncd rsync zstdcat /usr/bin/time node curl; do
	command -v "$t" >/dev/null || { echo "bench: $t is missing (make deps)" >&2; exit 1; }
done
[ -x "$top/tests/node_modules/.bin/s3rver" ] || { echo "bench: s3rver missing: run make deps" >&2; exit 1; }
REVENANT="$rv"
. "$top/tests/lib/content_replicate.sh"

work=$(mktemp -d -t rv-cbench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill $(pgrep -P "$p") "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { echo "$EPOCHREALTIME"; }
since() { awk "BEGIN{printf \"%.2f\", $(now) - $1}"; }
die() {
	echo "bench: $*" >&2
	for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -5 "$f" >&2; }; done
	exit 1
}

results="$work/results.tsv" # part, label, wall, cpu, rss MiB, note
: >"$results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# rv_config FILE URL CONTENT INTERVAL FSYNC METRICS_PORT
rv_config() {
	cat >"$1" <<YML
site: bench
sync_interval: $4
store:
  url: "$2"
  fsync: $5
log:
  level: warn
metrics:
  listen: 127.0.0.1:$6
content:
  path: $3
YML
}
# time_bg LOG CMD...: start CMD under /usr/bin/time; sets BG (the time pid).
time_bg() {
	local log=$1
	shift
	/usr/bin/time -f 'TIME %e %U %S %M' -o "$log.time" "$@" >"$log" 2>&1 &
	BG=$!
	pids+=("$BG")
}
# time_end LOG: stop the timed process with SIGTERM; sets CR="cpu rss_mib"
# (not in a subshell: only this shell can wait for its child).
time_end() {
	# GNU time dies of a SIGTERM itself (no report): signal its child.
	kill -TERM $(pgrep -P "$BG") 2>/dev/null || true
	wait "$BG" 2>/dev/null || true
	local l
	l=$(grep '^TIME ' "$1.time" | tail -1) || die "no /usr/bin/time output in $1.time"
	set -- $l
	CR="$(awk "BEGIN{print $3 + $4}") $(($5 / 1024))"
}
add() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"; printf '  %-44s %s\n' "$2" "${*:3}"; }

# ---- (a) initial sync ----
if [[ $PARTS == *a* ]]; then
	port=$(free_port)
	mkdir -p "$work/s3"
	# --openssl-legacy-provider: s3rver encrypts list continuation tokens with
	# DES, which Node 20 only has in its legacy provider.
	node --openssl-legacy-provider "$top/tests/node_modules/.bin/s3rver" -d "$work/s3" -a 127.0.0.1 \
		-p "$port" --no-vhost-buckets >"$work/s3rver.log" 2>&1 &
	pids+=($!)
	ep="http://127.0.0.1:$port"
	for _ in $(seq 100); do curl -s -o /dev/null "$ep" && break; sleep 0.1; done
	# Plain http on loopback: a CA bundle from the environment only makes
	# rclone's AWS SDK fail to build its transport.
	unset AWS_CA_BUNDLE
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
	export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
	export RCLONE_CONFIG_S3_TYPE=s3 RCLONE_CONFIG_S3_PROVIDER=Other RCLONE_CONFIG_S3_ENDPOINT="$ep"
	export RCLONE_CONFIG_S3_ACCESS_KEY_ID=S3RVER RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=S3RVER
	export RCLONE_CONFIG_S3_FORCE_PATH_STYLE=true
	"$AWS" --endpoint-url "$ep" s3 mb s3://bench >/dev/null

	echo "bench: (a) generating $FILES files of 20-200 KiB"
	$PY gen "$work/src" "$FILES" 20 200 100
	src_bytes=$(du -sb "$work/src" | cut -f1)
	echo "bench: (a) $FILES files, $((src_bytes >> 20)) MiB; load $(cut -d' ' -f1-3 /proc/loadavg)"
	cr_listing "$work/src" | LC_ALL=C sort >"$work/src.listing"

	# revenant_initial LABEL URL FSYNC: from start until the metrics say
	# every file record is committed (files_shipped counts records whose log
	# object the store acknowledged, so >= FILES on a tree nobody writes to
	# means all are durable); then the recorded state is compared with the
	# folder, byte hashes included.
	revenant_initial() {
		local label=$1 url=$2 fsync=$3 mport t0 wall
		mport=$(free_port)
		rv_config "$work/a.yml" "$url" "$work/src" 1s "$fsync" "$mport"
		sync
		t0=$(now)
		time_bg "$work/a-rv.log" "$rv" -c "$work/a.yml" replicate
		$PY waitmetric "http://127.0.0.1:$mport/metrics" revenant_content_files_shipped_total \
			"$FILES" 1800 >/dev/null || die "$label did not finish"
		wall=$(since "$t0")
		time_end "$work/a-rv.log"
		cr_recorded "$work/a.yml" | diff -q "$work/src.listing" - >/dev/null ||
			die "$label: the store does not equal the folder"
		add a "$label" "$wall" $CR "verified"
	}
	revenant_initial "S3 revenant replicate" "s3://bench/rv?endpoint=$ep&path_style=true" true
	sync
	t0=$(now)
	/usr/bin/time -f 'TIME %e %U %S %M' -o "$work/aws.time" "$AWS" --endpoint-url "$ep" s3 sync \
		--only-show-errors "$work/src" s3://bench/aws >"$work/aws.log" 2>&1 || die "aws s3 sync failed"
	set -- $(grep '^TIME ' "$work/aws.time")
	add a "S3 aws s3 sync" "$2" "$(awk "BEGIN{print $3 + $4}")" "$(($5 / 1024))" \
		"$("$AWS" --endpoint-url "$ep" s3 ls --recursive s3://bench/aws/ | wc -l) objects"
	sync
	/usr/bin/time -f 'TIME %e %U %S %M' -o "$work/rclone.time" rclone copy --fast-list \
		"$work/src" s3:bench/rclone >"$work/rclone.log" 2>&1 || die "rclone copy failed"
	set -- $(grep '^TIME ' "$work/rclone.time")
	add a "S3 rclone copy --fast-list" "$2" "$(awk "BEGIN{print $3 + $4}")" "$(($5 / 1024))" \
		"$(rclone lsf -R --files-only --fast-list s3:bench/rclone 2>/dev/null | wc -l) objects"

	mkdir -p "$work/fstore" "$work/fstore-nosync"
	# fsync off first: the ratio column compares with it (rsync does not fsync).
	revenant_initial "folder revenant (fsync off)" "file://$work/fstore-nosync" false
	revenant_initial "folder revenant (fsync on)" "file://$work/fstore" true

	# lsyncd's start-up is one recursive rsync of the whole tree; it logs
	# "Startup of SRC -> DST finished." when that rsync exited 0.
	mkdir -p "$work/mirror"
	cat >"$work/a.lua" <<LUA
settings { nodaemon = true }
sync { default.rsync, source = "$work/src", target = "$work/mirror" }
LUA
	sync
	t0=$(now)
	time_bg "$work/a-lsyncd.log" lsyncd "$work/a.lua"
	$PY waitline "$work/a-lsyncd.log" "Startup of $work/src/ -> $work/mirror/ finished." 1800 \
		>/dev/null || die "lsyncd did not finish its start-up"
	wall=$(since "$t0")
	time_end "$work/a-lsyncd.log"
	diff -rq "$work/src" "$work/mirror" >/dev/null || die "lsyncd: the target differs"
	add a "folder lsyncd + rsync (start-up)" "$wall" $CR "verified (no fsync)"
	rm -rf "$work/mirror" "$work/fstore" "$work/fstore-nosync" "$work/src"
	kill "${pids[0]}" 2>/dev/null || true
fi

# ---- (b) steady state ----
if [[ $PARTS == *b* ]]; then
	echo "bench: (b) $RATE files/s for $SECS s; load $(cut -d' ' -f1-3 /proc/loadavg)"
	$PY gen "$work/st" 500 20 200 50
	for run in "$RATE:1s" "$RATE:100ms" sparse:1s; do
		rate=${run%%:*} iv=${run#*:} secs=$SECS
		# sparse: one image every 3 s, as an editor uploads
		[ "$rate" = sparse ] && rate=0.3333 secs=$SPARSE_SECS
		rm -rf "$work/bstore"
		mkdir -p "$work/bstore"
		mport=$(free_port)
		rv_config "$work/b.yml" "file://$work/bstore" "$work/st" "$iv" true "$mport"
		"$rv" -c "$work/b.yml" replicate >"$work/b-rv.log" 2>&1 &
		rvpid=$!
		pids+=("$rvpid")
		$PY waitmetric "http://127.0.0.1:$mport/metrics" revenant_content_files_shipped_total \
			"$(find "$work/st" -type f | wc -l)" 600 >/dev/null || die "replicate did not start"
		# sparse: start after a quiet spell, not right after the initial
		# sync's commit (which holds the next one back by sync_interval)
		[ "$secs" = "$SPARSE_SECS" ] && sleep 2
		logdir=$(echo "$work"/bstore/generations/*/content/log)
		[ -d "$logdir" ] || die "no content log folder in the store"
		r=$($PY steady revenant "$logdir" "$work/st" "$rate" "$secs" "$work/b-rv-$run.lat") ||
			die "revenant $run: steady run failed"
		kill -TERM "$rvpid"
		wait "$rvpid" || die "replicate did not stop cleanly"
		set -- $r
		add b "revenant sync_interval $iv, $([ "$rate" = "$RATE" ] && echo "$RATE files/s" || echo "1 file/3 s")" "$1" "$2" "$3" "$4 files"
	done
	for delay in 15 1; do
		rm -rf "$work/bmirror"
		mkdir -p "$work/bmirror"
		cat >"$work/b.lua" <<LUA
settings { nodaemon = true }
sync { default.rsync, source = "$work/st", target = "$work/bmirror", delay = $delay }
LUA
		lsyncd "$work/b.lua" >"$work/b-lsyncd.log" 2>&1 &
		lpid=$!
		pids+=("$lpid")
		$PY waitline "$work/b-lsyncd.log" "Startup of $work/st/" 600 >/dev/null ||
			die "lsyncd did not start"
		$PY waitline "$work/b-lsyncd.log" "finished." 600 >/dev/null || die "lsyncd did not start"
		r=$($PY steady mirror "$work/bmirror" "$work/st" "$RATE" "$SECS" "$work/b-lsyncd-$delay.lat") ||
			die "lsyncd delay=$delay: steady run failed"
		kill -TERM "$lpid"
		wait "$lpid" || true
		set -- $r
		add b "lsyncd + rsync delay=$delay" "$1" "$2" "$3" "$4 files"
	done
	rm -rf "$work/st" "$work/bstore" "$work/bmirror"
fi

# ---- (c) memory with a large tree ----
if [[ $PARTS == *c* ]]; then
	echo "bench: (c) generating $BIG files of 1 KiB"
	$PY gen "$work/big" "$BIG" 1 1 100
	mkdir -p "$work/cstore"
	mport=$(free_port)
	rv_config "$work/c.yml" "file://$work/cstore" "$work/big" 1s false "$mport"
	echo "bench: (c) load $(cut -d' ' -f1-3 /proc/loadavg)"
	t0=$(now)
	"$rv" -c "$work/c.yml" replicate >"$work/c-rv.log" 2>&1 &
	rvpid=$!
	pids+=("$rvpid")
	$PY waitmetric "http://127.0.0.1:$mport/metrics" revenant_content_files_shipped_total "$BIG" 3600 \
		>/dev/null || die "replicate did not ship $BIG files"
	wall=$(since "$t0")
	hwm() { awk -v k="$1:" '$1 == k { printf "%d", $2 / 1024 }' "/proc/$rvpid/status"; }
	cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$rvpid/stat"; }
	add c "replicate $BIG files: initial sync" "$wall" "$(cpu)" "$(hwm VmHWM)" "VmRSS $(hwm VmRSS) MiB after"
	t0=$(now)
	$PY changes "$work/big" "$CHANGES"
	$PY waitmetric "http://127.0.0.1:$mport/metrics" revenant_content_files_shipped_total \
		"$((BIG + CHANGES))" 600 >/dev/null || die "replicate did not ship the $CHANGES changes"
	wall=$(since "$t0")
	add c "replicate $BIG files: +$CHANGES changes" "$wall" "$(cpu)" "$(hwm VmHWM)" "VmRSS $(hwm VmRSS) MiB after"
	kill -TERM "$rvpid"
	wait "$rvpid" || die "replicate did not stop cleanly"
	cr_wait_converged "$work/c.yml" "$work/big" 60 || die "(c) the store does not equal the folder"
fi

mkdir -p "$top/bench/results"
out="$top/bench/results/content-$(date -u +%Y%m%dT%H%M%SZ).md"
python3 - "$results" "$out" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
out = open(sys.argv[2], "w")
def emit(s=""):
    print(s); out.write(s + "\n")
a = [r for r in rows if r[0] == "a"]
if a:
    emit("| (a) initial sync | wall s | CPU s | peak RSS MiB | revenant speed-up | check |")
    emit("|---|---:|---:|---:|---:|---|")
    for _, label, wall, cpu, rss, note in a:
        rv = [r for r in a if r[1].split()[0] == label.split()[0] and "revenant" in r[1]]
        ratio = "—" if "revenant" in label else "%.2f×" % (float(wall) / float(rv[0][2]))
        emit("| %s | %s | %s | %s | %s | %s |" % (label, wall, cpu, rss, ratio, note))
    emit()
b = [r for r in rows if r[0] == "b"]
if b:
    emit("| (b) close → durable | p50 ms | p99 ms | max ms | files |")
    emit("|---|---:|---:|---:|---:|")
    for _, label, p50, p99, mx, n in b:
        emit("| %s | %s | %s | %s | %s |" % (label, p50, p99, mx, n.split()[0]))
    emit()
c = [r for r in rows if r[0] == "c"]
if c:
    emit("| (c) memory | wall s | CPU s (cumulative) | peak RSS MiB | |")
    emit("|---|---:|---:|---:|---|")
    for _, label, wall, cpu, rss, note in c:
        emit("| %s | %s | %s | %s | %s |" % (label, wall, cpu, rss, note))
    emit()
emit("load average before %s, after %s (2 vCPUs, shared)" % (sys.argv[3], sys.argv[4]))
PY
echo "bench: table written to $out"
