#!/usr/bin/env bash
# crypt_bench.sh - the cost of store.encryption (issue 15): the same
# replicate and restore, plain and encrypted, side by side, alternating
# (plain, encrypted, encrypted, plain, …) so that drift in the machine's
# load hits both alike.  Not a test: it prints a table.
#
#   bash bench/crypt_bench.sh [build-rel/revenant]
#
# Workload: a DB_MIB Ghost-shaped SQLite database (bench/db_bench.py
# genbig) and FILES Ghost-sized images (20-200 KiB, bench/content_bench.py
# gen) in the content folder.
#   replicate: start -> the first snapshot and every file in the store
#              (revenant_content_files_shipped_total), then SIGTERM; wall
#              to that point, CPU of the whole process (user + sys).
#   restore:   `restore --to DIR --db FILE` of the latest point: wall, CPU,
#              peak RSS.
# Env: DB_MIB (512), FILES (2000), RUNS (3 pairs), STORE (file | s3;
# file: a folder store with fsync off, so the store costs as little as it
# can and the crypto's share is the largest; s3: a local s3rver).
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
rv="$(realpath "${1:-$top/build-rel/revenant}")"
DB_MIB=${DB_MIB:-512}
FILES=${FILES:-2000}
RUNS=${RUNS:-3}
STORE=${STORE:-file}
PY=/usr/bin/python3
for t in "$PY" sqlite3 /usr/bin/time curl openssl; do
	command -v "$t" >/dev/null || { echo "bench: $t is missing (make deps)" >&2; exit 1; }
done

work=$(mktemp -d -t rv-cryptbench.XXXXXX)
RP=
cleanup() {
	if [ -n "$RP" ]; then kill "$(pgrep -P "$RP")" "$RP" 2>/dev/null || true; fi
	if declare -F s3rver_stop >/dev/null; then s3rver_stop || true; fi
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
die() { echo "bench: $*" >&2; exit 1; }
port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "bench: generating a $DB_MIB MiB database and $FILES files"
mkdir -p "$work/content/data"
DB=$work/content/data/ghost.db
$PY "$top/tests/lib/db_writer.py" --db "$DB" --ack "$work/init.ack" --init --count 0 2>/dev/null
$PY "$top/bench/db_bench.py" genbig "$DB" "$DB_MIB"
$PY "$top/bench/content_bench.py" gen "$work/content" "$FILES" 20 200 300 >/dev/null
openssl rand 32 >"$work/key"
echo "bench: $(($(stat -c %s "$DB") >> 20)) MiB database, $(du -sm "$work/content" | cut -f1) MiB in all"

if [ "$STORE" = s3 ]; then
	. "$top/tests/lib/s3rver.sh"
	export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--openssl-legacy-provider"
	s3rver_start "$work/s3" >/dev/null || die "cannot start s3rver"
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
	export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
fi

# config FILE MODE N: a fresh store for run N in MODE (plain | enc)
config() {
	local url enc=""
	if [ "$STORE" = s3 ]; then
		url="s3://bench/$2-$3?endpoint=$S3RVER_URL&region=us-east-1"
		"$rv" --log-level error bucket init "$url" >/dev/null || die "bucket init"
	else
		mkdir -p "$work/store-$2-$3"
		url="file://$work/store-$2-$3"
	fi
	[ "$2" = enc ] && enc=", encryption: {key_file: \"$work/key\"}"
	cat >"$1" <<YML
site: bench
sync_interval: 1s
store: {url: "$url", fsync: false$enc}
content: {path: "$work/content"}
database: {sqlite: "$DB"}
metrics: {listen: "127.0.0.1:$MPORT"}
log: {level: info}
YML
}

declare -A rw rc sw sc sm
for m in plain enc; do rw[$m]= rc[$m]= sw[$m]= sc[$m]= sm[$m]=; done
order=(plain enc enc plain plain enc enc plain)
for ((i = 0; i < 2 * RUNS; i++)); do
	m=${order[$((i % 8))]}
	MPORT=$(port)
	config "$work/c.yml" "$m" "$i"
	sync
	t0=$(date +%s.%N)
	/usr/bin/time -f 'TIME %e %U %S %M' -o "$work/rep.time" "$rv" -c "$work/c.yml" replicate \
		>"$work/rep.log" 2>&1 &
	RP=$!
	$PY "$top/bench/content_bench.py" waitmetric "http://127.0.0.1:$MPORT/metrics" \
		revenant_content_files_shipped_total "$FILES" 1800 >/dev/null || die "replicate: $(tail -3 "$work/rep.log")"
	grep -q 'sqlite: snapshot written' "$work/rep.log" || die "no snapshot"
	t1=$(date +%s.%N)
	# /usr/bin/time passes no signal on: stop revenant, its child
	kill -TERM "$(pgrep -P "$RP")"
	wait "$RP" || die "replicate did not stop cleanly: $(tail -3 "$work/rep.log")"
	RP=
	read -r _ _ u s _ <"$work/rep.time"
	wall=$(awk "BEGIN{printf \"%.2f\", $t1 - $t0}")
	cpu=$(awk "BEGIN{printf \"%.2f\", $u + $s}")
	rw[$m]+=" $wall"
	rc[$m]+=" $cpu"
	sleep 5 # let the machine settle before the restore (see bench/README.md, SETTLE)
	/usr/bin/time -f 'TIME %e %U %S %M' -o "$work/res.time" "$rv" -c "$work/c.yml" --log-level warn \
		restore --to "$work/r" --db "$work/r.db" >/dev/null 2>"$work/res.log" || die "restore: $(cat "$work/res.log")"
	read -r _ e u s k <"$work/res.time"
	sw[$m]+=" $e"
	sc[$m]+=" $(awk "BEGIN{printf \"%.2f\", $u + $s}")"
	sm[$m]+=" $((k / 1024))"
	echo "bench: run $i $m: replicate ${wall}s (cpu ${cpu}s), restore ${e}s (cpu $(awk "BEGIN{printf \"%.2f\", $u + $s}")s, ${k} KiB)"
	rm -rf "$work/r" "$work/r.db" "$work/store-$m-$i"
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
pct() { awk "BEGIN{printf \"%+.1f %%\", ($2 - $1) * 100 / $1}"; }
echo
echo "| $STORE store, $DB_MIB MiB db + $FILES files, median of $RUNS | plain | encrypted | overhead |"
echo "|---|---:|---:|---:|"
for row in "replicate wall s:rw" "replicate CPU s:rc" "restore wall s:sw" "restore CPU s:sc" "restore peak RSS MiB:sm"; do
	name=${row%%:*}
	arr=${row#*:}
	declare -n ref=$arr
	p=$(echo "${ref[plain]}" | median)
	e=$(echo "${ref[enc]}" | median)
	echo "| $name | $p | $e | $(pct "$p" "$e") |"
	unset -n ref
done
echo
for m in plain enc; do
	echo "raw $m: replicate wall${rw[$m]}; cpu${rc[$m]}; restore wall${sw[$m]}; cpu${sc[$m]}"
done
