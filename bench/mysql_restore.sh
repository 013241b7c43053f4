# shellcheck shell=bash disable=SC2154  # tool, build, W, R, …: set by bench/mysql_snapshot.sh
# mysql_restore.sh - sourced by bench/mysql_snapshot.sh (STORE=s3 RESTORE=1)
# once its database is generated and its snapshots measured: the restore of
# a snapshot plus LOG_SECS (30) seconds of log written by the Ghost-shaped
# writer (tests/tools/mysql_tool write) at RATE (200) txn/s, from s3rver.
#
# revenant: `replicate` (snapshot_jobs: JOBS, default 4, sync_interval 1s) into s3rver
# while the writer runs, then `revenant restore --db-only --db mysql://…`.
# The peer, taken at the same moment: `mydumper -t 2 -c` plus the server's
# binlog files after its position (the writer's load, closed with FLUSH
# BINARY LOGS), both uploaded to s3rver untimed; its restore is
# `aws s3 cp --recursive` down, `myloader -t 2 --enable-binlog` (revenant's
# load is binlogged too) and `mariadb-binlog --start-position … | mariadb`.
# Runs alternate; every restored table's CHECKSUM TABLE must equal the
# source's.  Also prints replicate's peak RSS (VmHWM) and CPU over its
# snapshot of the whole database and the LOG_SECS of log.
RATE=${RATE:-200}
LOG_SECS=${LOG_SECS:-30}
echo
echo "restore: snapshot + ${LOG_SECS} s of log at ${RATE} txn/s …"
s3clear
# The writer's own tables are posts/posts_tags too: set the generated ones aside.
mariadb_sql -D ghost "RENAME TABLE posts TO big_posts, posts_tags TO big_posts_tags"
"$tool" write "$W/rv.yml" "$W/ack0" 0 0 2>/dev/null &
wp=$!
sleep 0.5
kill "$wp"
wait "$wp" || true
mkdir -p "$W/content"
MARIADB_RV_STORE="s3://bench/repl?endpoint=$S3RVER_URL&region=us-east-1" \
	MARIADB_RV_DB_OPTS="    snapshot_jobs: ${JOBS:-4}" mariadb_rv_config "$W/r.yml" "$W" 1s
"$build/revenant" -c "$W/r.yml" replicate >"$W/r.log" 2>&1 &
rp=$!
cleanup_pids="$cleanup_pids $rp"
for _ in $(seq 1 3000); do
	grep -q 'database snapshot written' "$W/r.log" && break
	kill -0 "$rp" 2>/dev/null || { cat "$W/r.log" >&2; exit 1; }
	sleep 0.2
done
grep -q 'database snapshot written' "$W/r.log" || { echo "replicate wrote no snapshot in 600 s" >&2; exit 1; }
snap_ms=$(sed -n 's/.*mysql: snapshot written.* ms=\([0-9]*\).*/\1/p' "$W/r.log" | head -1)
rm -rf "$W/peer"
mkdir -p "$W/peer/binlog"
# The peer's log starts in a fresh binlog file (as it would on a server
# whose files rotated long ago): it does not pay for the generation's rows.
mariadb_sql "FLUSH BINARY LOGS"
mydumper -S "$MARIADB_SOCK" -u root -B ghost -t 2 -c --trx-consistency-only -v 1 -o "$W/peer/dump"
blog=$(sed -n 's/^[[:space:]]*Log: //p' "$W/peer/dump/metadata" | head -1)
bpos=$(sed -n 's/^[[:space:]]*Pos: //p' "$W/peer/dump/metadata" | head -1)
[ -n "$blog" ] && [ -n "$bpos" ] || { cat "$W/peer/dump/metadata" >&2; exit 1; }
c0=$(awk '{print $14+$15}' "/proc/$rp/stat")
"$tool" write "$W/rv.yml" "$W/ack" "$RATE" 0 2>"$W/writer.log" &
wp=$!
sleep "$LOG_SECS"
kill -TERM "$wp"
wait "$wp" || true
sleep 3
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$rp/status")
c1=$(awk '{print $14+$15}' "/proc/$rp/stat")
kill -TERM "$rp"
wait "$rp" || true
cleanup_pids=
mariadb_sql "FLUSH BINARY LOGS"
for f in "$MARIADB_DIR"/data/binlog.[0-9]*; do
	[[ "$(basename "$f")" < "$blog" ]] && continue
	cp "$f" "$W/peer/binlog/"
done
last=$(ls "$W/peer/binlog" | tail -1)
rm -f "$W/peer/binlog/$last" # the empty file FLUSH opened
$AWS s3 cp --quiet --recursive "$W/peer" s3://bench/peer/
txns=$(wc -l <"$W/ack")
tables=$(mariadb_sql "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA='ghost'")
declare -A S
for t in ${tables//,/ }; do S[$t]=$(mariadb_sql "CHECKSUM TABLE ghost.$t" | cut -f2); done
check() { # database
	local t
	for t in ${tables//,/ }; do
		[ "$(mariadb_sql "CHECKSUM TABLE $1.$t" | cut -f2)" = "${S[$t]}" ] || { echo "CHECKSUM TABLE $1.$t differs from ghost.$t" >&2; exit 1; }
	done
	mariadb_sql "DROP DATABASE $1"
}
rv_restore() {
	R[rr$1]=$(measure "$build/revenant" -c "$W/r.yml" restore --db-only --db "mysql://root@localhost/rv_$1?socket=$MARIADB_SOCK")
	R[rs$1]=$(sed -n 's/.*segments=\([0-9]*\).*segments_ms=\([0-9]*\).*/\1 segments in \2 ms/p' "$W/err")
	check "rv_$1"
}
peer_restore() {
	rm -rf "$W/pr"
	R[pr$1]=$(measure bash -c "set -o pipefail; $AWS s3 cp --quiet --recursive s3://bench/peer/ '$W/pr/' &&
		myloader -S '$MARIADB_SOCK' -u root -d '$W/pr/dump' -B peer_$1 -t 2 -e -v 1 &&
		mariadb-binlog --no-defaults --start-position=$bpos --rewrite-db='ghost->peer_$1' '$W/pr/binlog/'binlog.* |
		mariadb --no-defaults -S '$MARIADB_SOCK' -uroot")
	check "peer_$1"
}
# The generation, the setup's dump and log leave InnoDB flushing dirty
# pages for a while: whichever restore came first paid for it (0.82× in
# two runs where revenant did).  Flush them before anything is timed.
mariadb_sql "SET GLOBAL innodb_max_dirty_pages_pct = 0"
for _ in $(seq 1 600); do
	[ "$(mariadb_sql "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'INNODB_BUFFER_POOL_PAGES_DIRTY'")" -lt 100 ] && break
	sleep 0.5
done
mariadb_sql "SET GLOBAL innodb_max_dirty_pages_pct = DEFAULT"
for run in $(seq 1 "${RESTORE_RUNS:-$RUNS}"); do
	echo "restore run $run (load average $(cut -d' ' -f1-3 /proc/loadavg)) …"
	if ((run % 2)); then
		rv_restore "$run"
		peer_restore "$run"
	else
		peer_restore "$run"
		rv_restore "$run"
	fi
done
echo
echo "replicate: snapshot of the database in $snap_ms ms (snapshot_jobs: ${JOBS:-4}), then $txns transactions in ${LOG_SECS} s;"
echo "replicate peak RSS $((hwm / 1024)) MiB (VmHWM), CPU $(echo "scale=2; ($c1 - $c0) / 100" | bc) s over the ${LOG_SECS} s of log"
echo "peer: $(du -sm "$W/peer/dump" | cut -f1) MiB mydumper dump, $(du -cb "$W"/peer/binlog/* | tail -1 | cut -f1) bytes of binlog after $blog:$bpos"
echo
echo "| run | restore | wall s | CPU s | server CPU s | peak RSS MiB |"
echo "|---|---|---:|---:|---:|---:|"
for run in $(seq 1 "${RESTORE_RUNS:-$RUNS}"); do
	read -r w1 c1 r1 v1 <<<"${R[rr$run]}"
	read -r w2 c2 r2 v2 <<<"${R[pr$run]}"
	echo "| $run | revenant restore --db-only (${R[rs$run]}) | $w1 | $c1 | $v1 | $r1 |"
	echo "| $run | aws s3 cp; myloader -t 2; mariadb-binlog \\| mariadb | $w2 | $c2 | $v2 | $r2 |"
	echo "| $run | ratio (peer ÷ revenant) | $(echo "scale=2; $w2 / $w1" | bc)× | $(echo "scale=2; $c2 / $c1" | bc)× | $(echo "scale=2; $v2 / $v1" | bc)× | |"
done
