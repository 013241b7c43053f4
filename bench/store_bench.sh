#!/usr/bin/env bash
# Store benchmark (issue 2): revenant vs the AWS CLI and rclone, same s3rver,
# same data, same run.  Not a test: it prints a table and writes it to
# bench/results/store-<date>.md.
#
#   bash bench/store_bench.sh [build/revenant]
#
# Workloads: (a) 10,000 files of 20-200 KiB (Ghost-sized images), uploaded
# then downloaded; (b) one 1 GiB file, uploaded then downloaded.  For each
# tool and direction: wall seconds, CPU seconds (user+sys), peak RSS (MiB),
# and revenant's throughput ratio against each tool.
# Env: FILES (10000), BIG_MIB (1024), JOBS (16, revenant's workers).
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
rv="$(realpath "${1:-$top/build/revenant}")"
# s3rver answers delimiter listings in a way that makes rclone's directory walk
# find nothing; --fast-list (one recursive listing) works and is what a user
# with many small files would pick anyway.
RCLONE_LIST=${RCLONE_LIST:---fast-list}
FILES=${FILES:-10000}
BIG_MIB=${BIG_MIB:-1024}
JOBS=${JOBS:-16}
AWS=/usr/bin/aws
for t in "$AWS" rclone /usr/bin/time node; do
	command -v "$t" >/dev/null || { echo "bench: $t is missing (make deps)" >&2; exit 1; }
done
[ -x "$top/tests/node_modules/.bin/s3rver" ] || { echo "bench: s3rver missing: run make deps" >&2; exit 1; }

work=$(mktemp -d -t rv-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/s3"
# --openssl-legacy-provider: s3rver encrypts list continuation tokens with DES,
# which Node 20 only has in its legacy provider.
node --openssl-legacy-provider "$top/tests/node_modules/.bin/s3rver" -d "$work/s3" -a 127.0.0.1 -p "$port" --no-vhost-buckets \
	>"$work/s3rver.log" 2>&1 &
pids+=($!)
ep="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -s -o /dev/null "$ep" && break; sleep 0.1; done

# The endpoint is plain http on loopback: a CA bundle from the environment
# only makes rclone's AWS SDK fail to build its transport.
unset AWS_CA_BUNDLE
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
export RCLONE_CONFIG_S3_TYPE=s3 RCLONE_CONFIG_S3_PROVIDER=Other RCLONE_CONFIG_S3_ENDPOINT="$ep"
export RCLONE_CONFIG_S3_ACCESS_KEY_ID=S3RVER RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=S3RVER
export RCLONE_CONFIG_S3_FORCE_PATH_STYLE=true
"$AWS" --endpoint-url "$ep" s3 mb s3://bench >/dev/null
url="s3://bench/rv?endpoint=$ep&path_style=true"

echo "bench: generating $FILES files of 20-200 KiB and one $BIG_MIB MiB file in $work"
python3 - "$work/small" "$FILES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
for i in range(n):
    d = os.path.join(root, "%04d" % (i // 100 % 12), "%02d" % (i % 31))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "img-%05d.jpg" % i), "wb") as f:
        f.write(os.urandom(rnd.randint(20, 200) * 1024))
PY
head -c $((BIG_MIB << 20)) /dev/urandom >"$work/big.bin"
small_bytes=$(du -sb "$work/small" | cut -f1)

results="$work/results.tsv"
: >"$results"
# run LABEL BYTES CMD... : time one command, record wall/cpu/rss.
run() {
	local label=$1 bytes=$2
	shift 2
	sync
	/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" >"$work/out" 2>&1 || {
		echo "bench: $label failed:" >&2
		tail -5 "$work/out" >&2
		exit 1
	}
	read -r wall user sys rss <"$work/time"
	printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$wall" "$(awk "BEGIN{print $user + $sys}")" \
		"$((rss / 1024))" "$bytes" >>"$results"
	printf '  %-34s %8.2f s wall %8.2f s cpu %6d MiB rss\n' "$label" "$wall" \
		"$(awk "BEGIN{print $user + $sys}")" "$((rss / 1024))"
}
verify_tree() {
	diff -rq "$work/small" "$1" >/dev/null || {
		echo "bench: $1 differs from the source; the tool said:" >&2
		tail -5 "$work/out" >&2
		exit 1
	}
}

echo "bench: (a) $FILES small files, $((small_bytes >> 20)) MiB"
run "small upload revenant -j$JOBS" "$small_bytes" "$rv" store put -r -j "$JOBS" "$url" small "$work/small"
run "small upload aws s3 cp --recursive" "$small_bytes" "$AWS" --endpoint-url "$ep" s3 cp --recursive --only-show-errors "$work/small" s3://bench/aws/small
run "small upload rclone copy" "$small_bytes" rclone copy $RCLONE_LIST "$work/small" s3:bench/rclone/small
run "small download revenant -j$JOBS" "$small_bytes" "$rv" store get -r -j "$JOBS" "$url" small "$work/dl-rv"
verify_tree "$work/dl-rv"
run "small download aws s3 cp --recursive" "$small_bytes" "$AWS" --endpoint-url "$ep" s3 cp --recursive --only-show-errors s3://bench/aws/small "$work/dl-aws"
verify_tree "$work/dl-aws"
run "small download rclone copy" "$small_bytes" rclone copy $RCLONE_LIST s3:bench/rclone/small "$work/dl-rclone"
verify_tree "$work/dl-rclone"
rm -rf "$work/dl-rv" "$work/dl-aws" "$work/dl-rclone"

big_bytes=$((BIG_MIB << 20))
echo "bench: (b) one $BIG_MIB MiB file"
run "big upload revenant" "$big_bytes" "$rv" store put "$url" big.bin "$work/big.bin"
run "big upload aws s3 cp" "$big_bytes" "$AWS" --endpoint-url "$ep" s3 cp --only-show-errors "$work/big.bin" s3://bench/aws/big.bin
run "big upload rclone copyto" "$big_bytes" rclone copyto "$work/big.bin" s3:bench/rclone/big.bin
run "big download revenant" "$big_bytes" "$rv" store get "$url" big.bin "$work/big.rv"
cmp "$work/big.bin" "$work/big.rv" && rm -f "$work/big.rv"
run "big download aws s3 cp" "$big_bytes" "$AWS" --endpoint-url "$ep" s3 cp --only-show-errors s3://bench/aws/big.bin "$work/big.aws"
cmp "$work/big.bin" "$work/big.aws" && rm -f "$work/big.aws"
run "big download rclone copyto" "$big_bytes" rclone copyto s3:bench/rclone/big.bin "$work/big.rclone"
cmp "$work/big.bin" "$work/big.rclone" && rm -f "$work/big.rclone"

mkdir -p "$top/bench/results"
out="$top/bench/results/store-$(date -u +%Y%m%dT%H%M%SZ).md"
python3 - "$results" "$out" "$FILES" "$BIG_MIB" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
out = open(sys.argv[2], "w")
def emit(s=""):
    print(s); out.write(s + "\n")
emit("| workload | tool | wall s | MiB/s | CPU s | peak RSS MiB | revenant speed-up |")
emit("|---|---|---:|---:|---:|---:|---:|")
groups = {}
for label, wall, cpu, rss, nbytes in rows:
    kind = " ".join(label.split()[:2])
    groups.setdefault(kind, []).append((label, float(wall), float(cpu), int(rss), int(nbytes)))
for kind, items in groups.items():
    rv = next(i for i in items if "revenant" in i[0])
    for label, wall, cpu, rss, nbytes in items:
        tool = label[len(kind) + 1:]
        ratio = "—" if "revenant" in label else "%.2f×" % (wall / rv[1])
        emit("| %s | %s | %.2f | %.1f | %.2f | %d | %s |" % (kind, tool, wall, nbytes / wall / 2**20, cpu, rss, ratio))
PY
echo "bench: table written to $out"
