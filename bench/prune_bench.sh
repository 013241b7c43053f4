#!/usr/bin/env bash
# prune_bench.sh - how long `revenant prune` takes to remove an old
# generation of N objects from s3rver, against `aws s3 rm --recursive` of
# the same prefix (what an operator would otherwise run; the AWS CLI sends
# DeleteObjects, 1,000 keys per request) on an identical copy of the store.
# Usage: bash bench/prune_bench.sh [path/to/revenant] [OLD_REVENANT]
# OLD_REVENANT (optional): a second build timed on a third copy, to compare
# two versions of prune.  Env: N (objects in the old generation, 3000);
# LATENCY (seconds, e.g. 0.02): time both tools through
# tests/fakes/faultproxy.py adding that much to every request, roughly a
# real S3 round trip instead of loopback.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
rv="$(realpath "${1:-$top/build-rel/revenant}")"
old="${2:+$(realpath "$2")}"
N=${N:-3000}
LATENCY=${LATENCY:-}
AWS=/usr/bin/aws
for t in "$AWS" python3 node curl; do
	command -v "$t" >/dev/null || { echo "bench: $t is missing (make deps)" >&2; exit 1; }
done
. "$top/tests/lib/s3rver.sh"

work=$(mktemp -d -t rv-prunebench.XXXXXX)
fp=
cleanup() {
	[ -n "$fp" ] && kill "$fp" 2>/dev/null
	s3rver_stop
	rm -rf "$work"
}
trap cleanup EXIT
die() {
	echo "bench: $*" >&2
	exit 1
}
now_ms() { local t=$EPOCHREALTIME; echo "${t%.*}${t#*.}" | cut -c1-13; }
unset AWS_CA_BUNDLE
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""

s3rver_start "$work/s3" || die "cannot start s3rver"
port=$S3RVER_PORT
s3rver_mkbucket bench || die "cannot create the bucket"
url="s3://bench/site?endpoint=$S3RVER_URL&region=us-east-1"
mkdir -p "$work/content"
echo hello >"$work/content/a.txt"
cat >"$work/r.yml" <<YML
site: bench
sync_interval: 100ms
store:
  url: "$url"
log:
  level: warn
metrics:
  listen: off
content:
  path: $work/content
YML

# Two generations: each start of replicate begins one.
gen_run() {
	"$rv" -c "$work/r.yml" replicate >>"$work/r.log" 2>&1 &
	local p=$!
	sleep "$1"
	kill -TERM "$p"
	wait "$p" || die "replicate exit $?: $(tail -3 "$work/r.log")"
}
gen_run 1.5
g1=$("$rv" --log-level warn store ls "$url" generations/ | sed -n 's|^generations/\([^/]*\)/meta.json.*|\1|p' | head -1)
[ -n "$g1" ] || die "no first generation"
# The old generation grows to N objects: database segments named as
# replicate names them (prune removes a dropped generation whole, unread).
seg=$(mktemp -p "$work")
head -c 3000 /dev/urandom >"$seg"
mkdir -p "$work/fill/generations/$g1/db/log"
python3 - "$work/fill/generations/$g1/db/log" "$N" "$seg" <<'PY'
import os, sys, shutil
d, n, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    shutil.copyfile(src, os.path.join(d, "%016x-%016x-%016x.wal.zst" % (i * 8, i * 8 + 8, 1700000000000 + i)))
PY
"$AWS" --endpoint-url "$S3RVER_URL" s3 cp --recursive --quiet "$work/fill" s3://bench/site/ ||
	die "cannot upload the filler"
sleep 2
gen_run 4
total=$("$AWS" --endpoint-url "$S3RVER_URL" s3 ls --recursive "s3://bench/site/generations/$g1/" | wc -l)
s3rver_stop
for c in aws old; do cp -a "$work/s3" "$work/s3-$c"; done

# serve DATA_DIR: s3rver on it, and the endpoint the timed tool uses (EP).
serve() {
	s3rver_start "$1" "$port" >/dev/null || die "cannot restart s3rver"
	EP=$S3RVER_URL
	[ -n "$LATENCY" ] || return 0
	rm -f "$work/fp.port"
	python3 "$top/tests/fakes/faultproxy.py" --upstream "127.0.0.1:$port" --mode delay \
		--count -1 --stall-seconds "$LATENCY" --port-file "$work/fp.port" 2>/dev/null &
	fp=$!
	for _ in $(seq 1 50); do [ -s "$work/fp.port" ] && break; sleep 0.1; done
	[ -s "$work/fp.port" ] || die "faultproxy did not start"
	EP="http://127.0.0.1:$(cat "$work/fp.port")"
}
unserve() {
	[ -n "$fp" ] && { kill "$fp" 2>/dev/null; wait "$fp" 2>/dev/null || true; }
	fp=
	s3rver_stop
}
time_prune() { # BINARY DATA_DIR -> ms
	serve "$2"
	local t0
	t0=$(now_ms)
	"$1" --log-level warn prune --retention 3s "s3://bench/site?endpoint=$EP&region=us-east-1" \
		>"$work/prune.out" 2>&1 || die "prune failed: $(cat "$work/prune.out")"
	echo $(($(now_ms) - t0))
	grep -q '^generations   removed 1 ' "$work/prune.out" || die "prune removed no generation: $(cat "$work/prune.out")"
	unserve
}
t_rv=$(time_prune "$rv" "$work/s3")
serve "$work/s3-aws"
t0=$(now_ms)
"$AWS" --endpoint-url "$EP" s3 rm --recursive --quiet "s3://bench/site/generations/$g1/" ||
	die "aws s3 rm failed"
t_aws=$(($(now_ms) - t0))
unserve
printf 'old generation: %s objects, added latency %s s (load %s)\n' "$total" "${LATENCY:-0}" \
	"$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  revenant prune (whole run)        %6d ms\n' "$t_rv"
printf '  aws s3 rm --recursive (prefix)    %6d ms   ratio %.2fx\n' "$t_aws" "$(echo "$t_aws / $t_rv" | bc -l)"
if [ -n "$old" ]; then
	t_old=$(time_prune "$old" "$work/s3-old")
	printf '  OLD_REVENANT prune                %6d ms   ratio %.2fx\n' "$t_old" \
		"$(echo "$t_old / $t_rv" | bc -l)"
fi
