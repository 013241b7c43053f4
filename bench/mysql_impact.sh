#!/usr/bin/env bash
# mysql_impact.sh - what `replicate` costs the primary: the Ghost-shaped
# writer (tests/tools/mysql_tool write, unthrottled: one connection, one
# transaction after another) for SECS seconds with replicate running and
# without, PAIRS times, alternating (without, with, with, without, …) so
# that the shared machine's drift falls on both sides.  Throughput in
# transactions per second of each run, the ratio of the sums, replicate's
# CPU over its runs and its peak RSS (VmHWM).
#
#   bash bench/mysql_impact.sh [BUILD_DIR]            # default build/, file:// store (fsync)
#   STORE=s3 PAIRS=3 SECS=15 bash bench/mysql_impact.sh build-rel
set -uo pipefail
B=${1:-build}
SECS=${SECS:-15}
PAIRS=${PAIRS:-3}
SYNC=${SYNC:-1s}
STORE=${STORE:-file}
SRC=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/rv-mysql-impact.XXXXXX)
# shellcheck source=/dev/null
. "$SRC/tests/lib/mariadb.sh"
WP='' RP=''
cleanup() {
	mariadb_reap $WP $RP
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
	URL="s3://bench/impact?endpoint=$S3RVER_URL&region=us-east-1"
else
	URL="file://$W/store"
fi
mariadb_sql "CREATE DATABASE ghost"
mkdir -p "$W/content" "$W/store"
MARIADB_RV_STORE=$URL MARIADB_RV_STORE_OPTS=$([ "$STORE" = s3 ] || echo "  fsync: true") \
	mariadb_rv_config "$W/r.yml" "$W" "$SYNC"
run_writer() { # → transactions in SECS
	: >"$W/ack"
	"$B/tests/mysql_tool" write "$W/r.yml" "$W/ack" 0 0 2>/dev/null &
	WP=$!
	sleep "$SECS"
	kill -TERM "$WP"
	wait "$WP"
	WP=
	wc -l <"$W/ack"
}
run_writer >/dev/null # the schema, and a warm buffer pool
declare -a WITH WITHOUT
cpu=0 hwm=0
for i in $(seq 1 "$PAIRS"); do
	for side in $( ((i % 2)) && echo "without with" || echo "with without"); do
		if [ "$side" = with ]; then
			"$B/revenant" -c "$W/r.yml" replicate >>"$W/r.log" 2>&1 &
			RP=$!
			n0=$(grep -c 'database snapshot written' "$W/r.log")
			for _ in $(seq 1 300); do # its snapshot is not what is measured
				[ "$(grep -c 'database snapshot written' "$W/r.log")" -gt "$n0" ] && break
				sleep 0.1
			done
			c0=$(awk '{print $14+$15}' "/proc/$RP/stat")
			n=$(run_writer)
			c1=$(awk '{print $14+$15}' "/proc/$RP/stat")
			h=$(awk '/VmHWM/ {print $2}' "/proc/$RP/status")
			((h > hwm)) && hwm=$h
			cpu=$((cpu + c1 - c0))
			kill -TERM "$RP"
			wait "$RP"
			RP=
			WITH+=("$n")
		else
			n=$(run_writer)
			WITHOUT+=("$n")
		fi
		echo "pair $i, $side replicate: $n transactions in $SECS s ($(echo "scale=1; $n / $SECS" | bc) txn/s), load average $(cut -d' ' -f1 /proc/loadavg)"
	done
done
sw=0 so=0
for n in "${WITH[@]}"; do sw=$((sw + n)); done
for n in "${WITHOUT[@]}"; do so=$((so + n)); done
echo "store $STORE, sync_interval $SYNC: without $(echo "scale=1; $so / $SECS / $PAIRS" | bc) txn/s, with $(echo "scale=1; $sw / $SECS / $PAIRS" | bc) txn/s:" \
	"$(echo "scale=1; 100 * $sw / $so" | bc) % of without"
echo "replicate: CPU $(echo "scale=2; $cpu / 100" | bc) s over $((PAIRS * SECS)) s of writing, peak RSS $((hwm / 1024)) MiB"
