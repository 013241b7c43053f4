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
# The issue's targets (≥ 2× mariadb-dump | zstd + aws s3 cp, ≥ 1× mydumper
# with the same threads) are for snapshots straight to S3, measured once
# replicate ships them; this measures the snapshot into a file store.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
tool=$build/tests/mysql_tool
[ -x "$tool" ] || { echo "no $tool: build first (make build)" >&2; exit 2; }
MIB=${MIB:-256}
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-mysql-bench.XXXXXX")
# shellcheck source=/dev/null
. "$top/tests/lib/mariadb.sh"
trap 'mariadb_stop; rm -rf "$W"' EXIT
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
sed 's/^    database: ghost$/    database: ghost\n    snapshot_jobs: 2/' "$W/rv.yml" >"$W/rv2.yml"
mkdir -p "$W/store"
sync
measure() { # name cmd…  → wall CPU RSS on stdout
	/usr/bin/time -f "%e %U %S %M" -o "$W/time" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
	read -r wall u s rss <"$W/time"
	printf '%s %s %s\n' "$wall" "$(echo "$u + $s" | bc)" "$((rss / 1024))"
}
declare -A R
for run in 1 2; do
	rm -rf "$W/store/generations" "$W/dump.sql.zst"
	R[rvj$run]=$(measure "$tool" snapshot "$W/rv2.yml" "file://$W/store")
	R[rvjb$run]=$(find "$W/store/generations" -name '*.db.zst' -printf '%s')
	rm -rf "$W/store/generations"
	R[rv$run]=$(measure "$tool" snapshot "$W/rv.yml" "file://$W/store")
	R[rvb$run]=$(find "$W/store/generations" -name '*.db.zst' -printf '%s')
	R[md$run]=$(measure bash -c "set -o pipefail; mariadb-dump --no-defaults -S '$MARIADB_SOCK' -uroot --single-transaction --default-character-set=utf8mb4 ghost | zstd -q -c > '$W/dump.sql.zst' && sync '$W/dump.sql.zst'")
	R[mdb$run]=$(stat -c %s "$W/dump.sql.zst")
done

echo "checking both outputs load to the same tables …"
gen=$(ls "$W/store/generations")
"$tool" restore "$W/rv.yml" "file://$W/store" "$gen" from_rv >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
mariadb_sql "CREATE DATABASE from_dump"
zstdcat "$W/dump.sql.zst" | mariadb --no-defaults -S "$MARIADB_SOCK" -uroot from_dump
for t in posts members posts_tags media; do
	a=$(mariadb_sql "CHECKSUM TABLE ghost.$t" | cut -f2)
	b=$(mariadb_sql "CHECKSUM TABLE from_rv.$t" | cut -f2)
	c=$(mariadb_sql "CHECKSUM TABLE from_dump.$t" | cut -f2)
	[ "$a" = "$b" ] && [ "$a" = "$c" ] || { echo "CHECKSUM TABLE $t differs: $a $b $c" >&2; exit 1; }
done

mib() { echo "scale=1; $1 / 1048576" | bc; }
echo
echo "| run | tool | wall s | CPU s | peak RSS MiB | output MiB |"
echo "|---|---|---:|---:|---:|---:|"
for run in 1 2; do
	read -r w c r <<<"${R[rv$run]}"
	echo "| $run | revenant snapshot (mysql_tool) | $w | $c | $r | $(mib "${R[rvb$run]}") |"
	read -r wj cj rj <<<"${R[rvj$run]}"
	echo "| $run | revenant snapshot, snapshot_jobs: 2 | $wj | $cj | $rj | $(mib "${R[rvjb$run]}") |"
	read -r w2 c2 r2 <<<"${R[md$run]}"
	echo "| $run | mariadb-dump --single-transaction \\| zstd | $w2 | $c2 | $r2 | $(mib "${R[mdb$run]}") |"
	echo "| $run | ratio (dump / revenant) | $(echo "scale=2; $w2 / $w" | bc)× | | | $(echo "scale=3; ${R[mdb$run]} / ${R[rvb$run]}" | bc)× |"
	echo "| $run | ratio (dump / revenant, 2 connections) | $(echo "scale=2; $w2 / $wj" | bc)× | | | $(echo "scale=3; ${R[mdb$run]} / ${R[rvjb$run]}" | bc)× |"
done
