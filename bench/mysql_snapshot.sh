#!/usr/bin/env bash
# mysql_snapshot.sh - a MySQL/MariaDB snapshot: revenant's (consistent
# snapshot streamed as one zstd object into a file:// store) against what
# a user runs otherwise, `mariadb-dump --single-transaction | zstd` into a
# file (fsynced, as the store's file is), on the same Ghost-shaped database in the same run, on a private
# MariaDB (tests/lib/mariadb.sh).  Wall time, CPU, peak RSS and bytes of
# each, and the ratios.  Both outputs are loaded back and compared
# (CHECKSUM TABLE) so that neither wins by dumping less.
#
#   bash bench/mysql_snapshot.sh BUILD_DIR          # needs BUILD_DIR/tests/mysql_tool
#   MIB=1024 bash bench/mysql_snapshot.sh build     # database size (default 256)
#
# STORE=s3 runs the same into a local s3rver (tests/lib/s3rver.sh) instead:
# revenant's snapshot streamed into the store against
# `mariadb-dump --single-transaction | zstd | aws s3 cp -` (streamed), the
# same into a file followed by `aws s3 cp` (two passes), and `mydumper
# -t JOBS -c` (the same thread count as revenant's snapshot_jobs: JOBS,
# default 4, mydumper's own default; gzip, its only compression in Debian
# 12's 0.10.1) followed by `aws s3 cp --recursive`.  revenant runs with one
# connection and with JOBS; the JOBS snapshot is the one restored and
# compared.
# RESTORE=1 (with STORE=s3) then adds the restore benchmark (see
# bench/mysql_restore.sh, sourced from here).
#
#   STORE=s3 MIB=256 bash bench/mysql_snapshot.sh build-rel
#   STORE=s3 RESTORE=1 MIB=256 bash bench/mysql_snapshot.sh build-rel
#   RUNS=2 RESTORE_RUNS=3 …   # repetitions of the snapshots, of the restores
#   JOBS=4                    # revenant's snapshot_jobs and mydumper's -t
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
tool=$build/tests/mysql_tool
[ -x "$tool" ] || { echo "no $tool: build first (make build)" >&2; exit 2; }
MIB=${MIB:-256}
STORE=${STORE:-file}
RESTORE=${RESTORE:-0}
RUNS=${RUNS:-2}
JOBS=${JOBS:-4}
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-mysql-bench.XXXXXX")
# shellcheck source=/dev/null
. "$top/tests/lib/mariadb.sh"
cleanup_pids=""
trap 'for p in $cleanup_pids; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; mariadb_stop; [ "$STORE" = s3 ] && s3rver_cleanup; rm -rf "$W"' EXIT
if [ "$STORE" = s3 ]; then
	# shellcheck source=/dev/null
	. "$top/tests/lib/s3rver.sh"
	command -v mydumper >/dev/null || { echo "no mydumper: scripts/deps.sh installs it" >&2; exit 2; }
	s3rver_start "$W/s3" >/dev/null
	s3rver_mkbucket bench
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
	export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
	STORE_URL="s3://bench/rv?endpoint=$S3RVER_URL&region=us-east-1"
	AWS="$S3RVER_AWS --endpoint-url $S3RVER_URL"
else
	STORE_URL="file://$W/store"
fi
mariadb_start "$W/db" --innodb-buffer-pool-size=512M >/dev/null
echo "mariadb started in ${MARIADB_START_MS} ms"

# Ghost-shaped rows: posts (~9 KiB of HTML and lexical JSON each: words
# and hashes, which compress about like real posts), members (JSON),
# posts_tags, and media blobs (random, 1/8 of the bytes).
posts=$((MIB * 1024 * 7 / 8 / 12))
echo "generating ~${MIB} MiB: $posts posts …"
mariadb_sql "CREATE DATABASE ghost"
mariadb_sql -D ghost "
SET SESSION max_recursive_iterations = 100000000, group_concat_max_len = 1073741824;
CREATE TABLE posts (id VARCHAR(24) PRIMARY KEY, uuid VARCHAR(36) NOT NULL, title VARCHAR(2000) NOT NULL,
  slug VARCHAR(191) NOT NULL UNIQUE, lexical LONGTEXT NULL, html LONGTEXT NULL, status VARCHAR(50) NOT NULL,
  created_at DATETIME NOT NULL, published_at DATETIME(3) NULL) ENGINE=InnoDB;
CREATE TABLE members (id VARCHAR(24) PRIMARY KEY, email VARCHAR(191) NOT NULL UNIQUE, name VARCHAR(191) NULL,
  geolocation JSON NULL, created_at DATETIME(6) NOT NULL) ENGINE=InnoDB;
CREATE TABLE posts_tags (id VARCHAR(24) PRIMARY KEY, post_id VARCHAR(24) NOT NULL, tag_id VARCHAR(24) NOT NULL,
  sort_order INT NOT NULL) ENGINE=InnoDB;
CREATE TABLE media (id INT PRIMARY KEY, data LONGBLOB NOT NULL) ENGINE=InnoDB;
INSERT INTO posts WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < $posts)
  SELECT CONCAT('p', LPAD(HEX(i),23,'0')), UUID(), CONCAT('Post number ', i, ' about ', MD5(i)), CONCAT('post-', i),
    (SELECT CONCAT('{\"root\":{\"children\":[', GROUP_CONCAT(CONCAT('{\"type\":\"paragraph\",\"text\":\"',
       ELT(1 + (i + seq) % 5, 'Lorem ipsum dolor sit amet', 'Sed ut perspiciatis unde omnis', 'At vero eos et accusamus',
       'Nemo enim ipsam voluptatem', 'Quis autem vel eum iure'), ' ', LEFT(SHA2(i * 100 + seq, 256), 8 + (i + seq) % 24),
       ' ', i % 97, '\"}') SEPARATOR ','), ']}}') FROM seq_1_to_40),
    (SELECT GROUP_CONCAT(CONCAT('<p>', ELT(1 + (i * seq) % 4, 'Consectetur adipiscing elit', 'Ut enim ad minima veniam',
       'Temporibus autem quibusdam', 'Itaque earum rerum hic'), ' ', SHA1(i * 1000 + seq), ' — ', seq, '.</p>') SEPARATOR '\n')
       FROM seq_1_to_60),
    ELT(1 + i % 3, 'draft', 'published', 'scheduled'), '2024-01-01' + INTERVAL i MINUTE,
    '2024-01-01 00:00:00.123' + INTERVAL i SECOND FROM s;
INSERT INTO members WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < $posts * 4)
  SELECT CONCAT('m', LPAD(HEX(i),23,'0')), CONCAT('member', i, '@example.org'), CONCAT('Member ', i),
    JSON_OBJECT('city', ELT(1 + i % 4, 'Zürich', 'Paris', 'Tokyo', 'Lagos'), 'i', i), '2024-01-01' + INTERVAL i SECOND FROM s;
INSERT INTO posts_tags WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < $posts * 3)
  SELECT CONCAT('t', LPAD(HEX(i),23,'0')), CONCAT('p', LPAD(HEX(1 + i % $posts),23,'0')), CONCAT('g', i % 50), i % 4 FROM s;
INSERT INTO media WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < $((MIB / 8)))
  SELECT i, (SELECT GROUP_CONCAT(RANDOM_BYTES(1024) SEPARATOR '') FROM seq_1_to_256) FROM s;
ANALYZE TABLE posts, members, posts_tags, media;
" >/dev/null
size=$(mariadb_sql "SELECT ROUND(SUM(DATA_LENGTH + INDEX_LENGTH) / 1048576) FROM information_schema.TABLES WHERE TABLE_SCHEMA='ghost'")
raw=$(mariadb_sql -D ghost "SELECT ROUND((SELECT SUM(LENGTH(lexical) + LENGTH(html)) FROM posts) / 1048576 + (SELECT SUM(LENGTH(data)) FROM media) / 1048576)")
echo "database: ${size} MiB on disk (InnoDB), ${raw} MiB of text and blobs"
cat >"$W/rv.yml" <<YML
database:
  mysql:
    socket: $MARIADB_SOCK
    user: root
    database: ghost
YML
sed "s/^    database: ghost\$/    database: ghost\n    snapshot_jobs: $JOBS/" "$W/rv.yml" >"$W/rv2.yml"
mkdir -p "$W/store"
sync
srvcpu() { # CPU ticks of mariadbd (and s3rver)
	local p t=0
	for p in $MARIADB_PID ${S3RVER_PID:-}; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done
	echo "$t"
}
measure() { # cmd…  → "wall CPU RSS server-CPU" on stdout (CPU and RSS of the whole process tree;
	local s0 # server CPU: mariadbd's and s3rver's over the same time)
	s0=$(srvcpu)
	/usr/bin/time -f "%e %U %S %M" -o "$W/time" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
	read -r wall u s rss <"$W/time"
	printf '%s %s %s %s\n' "$wall" "$(echo "$u + $s" | bc)" "$((rss / 1024))" "$(echo "scale=2; ($(srvcpu) - $s0) / 100" | bc)"
}
s3bytes() { # prefix → bytes stored under s3://bench/prefix
	$AWS s3 ls --recursive --summarize "s3://bench/$1" | sed -n 's/.*Total Size: //p'
}
s3clear() { $AWS s3 rm --quiet --recursive s3://bench/ >/dev/null; }
dump="mariadb-dump --no-defaults -S '$MARIADB_SOCK' -uroot --single-transaction --default-character-set=utf8mb4 ghost | zstd -q -c"
declare -A R
for run in $(seq 1 "$RUNS"); do
	echo "run $run (load average $(cut -d' ' -f1-3 /proc/loadavg)) …"
	if [ "$STORE" = s3 ]; then
		s3clear
		R[rv$run]=$(measure "$tool" snapshot "$W/rv.yml" "$STORE_URL")
		R[rvb$run]=$(s3bytes rv/)
		s3clear
		R[rvj$run]=$(measure "$tool" snapshot "$W/rv2.yml" "$STORE_URL")
		R[rvjb$run]=$(s3bytes rv/)
		R[md$run]=$(measure bash -c "set -o pipefail; $dump | $AWS s3 cp --quiet - s3://bench/dump.sql.zst")
		R[mdb$run]=$(s3bytes dump.sql.zst)
		rm -f "$W/dump.sql.zst"
		R[mf$run]=$(measure bash -c "set -o pipefail; $dump > '$W/dump.sql.zst' && $AWS s3 cp --quiet '$W/dump.sql.zst' s3://bench/dump2.sql.zst")
		R[mfb$run]=$(s3bytes dump2.sql.zst)
		rm -rf "$W/mydumper"
		R[my$run]=$(measure bash -c "mydumper -S '$MARIADB_SOCK' -u root -B ghost -t $JOBS -c --trx-consistency-only -v 1 -o '$W/mydumper' && $AWS s3 cp --quiet --recursive '$W/mydumper' s3://bench/mydumper/")
		R[myb$run]=$(s3bytes mydumper/)
	else
		rm -rf "$W/store/generations" "$W/dump.sql.zst"
		R[rv$run]=$(measure "$tool" snapshot "$W/rv.yml" "$STORE_URL")
		R[rvb$run]=$(find "$W/store/generations" -name '*.db.zst' -printf '%s')
		rm -rf "$W/store/generations"
		R[rvj$run]=$(measure "$tool" snapshot "$W/rv2.yml" "$STORE_URL")
		R[rvjb$run]=$(find "$W/store/generations" -name '*.db.zst' -printf '%s')
		R[md$run]=$(measure bash -c "set -o pipefail; $dump > '$W/dump.sql.zst' && sync '$W/dump.sql.zst'")
		R[mdb$run]=$(stat -c %s "$W/dump.sql.zst")
	fi
done

echo "checking both outputs load to the same tables …"
if [ "$STORE" = s3 ]; then
	gen=$($AWS s3 ls --recursive s3://bench/rv/generations/ | sed -n 's|.*rv/generations/\([^/]*\)/db/snapshot/.*|\1|p' | head -1)
	$AWS s3 cp --quiet s3://bench/dump.sql.zst "$W/dump.sql.zst"
else
	gen=$(ls "$W/store/generations")
fi
"$tool" restore "$W/rv.yml" "$STORE_URL" "$gen" from_rv >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
mariadb_sql "CREATE DATABASE from_dump"
zstdcat "$W/dump.sql.zst" | mariadb --no-defaults -S "$MARIADB_SOCK" -uroot from_dump
for t in posts members posts_tags media; do
	a=$(mariadb_sql "CHECKSUM TABLE ghost.$t" | cut -f2)
	b=$(mariadb_sql "CHECKSUM TABLE from_rv.$t" | cut -f2)
	c=$(mariadb_sql "CHECKSUM TABLE from_dump.$t" | cut -f2)
	[ "$a" = "$b" ] && [ "$a" = "$c" ] || { echo "CHECKSUM TABLE $t differs: $a $b $c" >&2; exit 1; }
done
mariadb_sql "DROP DATABASE from_rv; DROP DATABASE from_dump"

mib() { echo "scale=1; $1 / 1048576" | bc; }
row() { # run label key
	local w c r v
	read -r w c r v <<<"${R[$3$1]}"
	echo "| $1 | $2 | $w | $c | $v | $r | $(mib "${R[$3b$1]}") |"
}
ratio() { # run label peer-key rv-key
	local w1 c1 w2 c2 r v1 v2
	read -r w1 c1 r v1 <<<"${R[$3$1]}"
	read -r w2 c2 r v2 <<<"${R[$4$1]}"
	echo "| $1 | $2 | $(echo "scale=2; $w1 / $w2" | bc)× | $(echo "scale=2; $c1 / $c2" | bc)× | $(echo "scale=2; $v1 / $v2" | bc)× | | $(echo "scale=3; ${R[$3b$1]} / ${R[$4b$1]}" | bc)× |"
}
echo
echo "| run | tool | wall s | CPU s | server CPU s | peak RSS MiB | output MiB |"
echo "|---|---|---:|---:|---:|---:|---:|"
for run in $(seq 1 "$RUNS"); do
	if [ "$STORE" = s3 ]; then
		row "$run" "revenant snapshot → s3rver" rv
		row "$run" "revenant snapshot → s3rver, snapshot_jobs: $JOBS" rvj
		row "$run" "mariadb-dump \\| zstd \\| aws s3 cp -" md
		row "$run" "mariadb-dump \\| zstd > file; aws s3 cp file" mf
		row "$run" "mydumper -t $JOBS -c; aws s3 cp --recursive" my
		ratio "$run" "ratio dump\\|zstd\\|cp - ÷ revenant" md rv
		ratio "$run" "ratio dump\\|zstd; cp ÷ revenant" mf rv
		ratio "$run" "ratio dump\\|zstd\\|cp - ÷ revenant ($JOBS conn.)" md rvj
		ratio "$run" "ratio dump\\|zstd; cp ÷ revenant ($JOBS conn.)" mf rvj
		ratio "$run" "ratio mydumper -t $JOBS ÷ revenant ($JOBS conn.)" my rvj
	else
		row "$run" "revenant snapshot (mysql_tool)" rv
		row "$run" "revenant snapshot, snapshot_jobs: $JOBS" rvj
		row "$run" "mariadb-dump --single-transaction \\| zstd" md
		ratio "$run" "ratio (dump / revenant)" md rv
		ratio "$run" "ratio (dump / revenant, $JOBS connections)" md rvj
	fi
done
if [ "$RESTORE" = 1 ]; then
	[ "$STORE" = s3 ] || { echo "RESTORE=1 needs STORE=s3" >&2; exit 2; }
	# shellcheck source=/dev/null
	. "$top/bench/mysql_restore.sh"
fi
