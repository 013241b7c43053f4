# mysql_snapshot.sh - a consistent online snapshot of a Ghost-shaped
# MariaDB database into a file store while a writer keeps committing, and
# its restore into another database on the same server, compared row for
# row with the source AS OF the snapshot's binlog position (real MariaDB
# 10.11 from tests/lib/mariadb.sh; the source and target are driven through
# their interfaces by tests/tools/mysql_tool until replicate/restore carry
# MySQL).
#   - the data: utf8mb4 (emoji, CJK), NULLs, binary blobs with every byte
#     value (one of 8 MiB), 1 MiB TEXT, datetimes with fractions, JSON,
#     generated columns, views (one naming another, one with DEFINER=
#     in its query), a trigger, foreign keys;
#   - the writer commits (insert + counter update) in one transaction,
#     continuously: the restore holds exactly the writes the binlog has
#     before the header's position (mariadb-binlog decodes them), none
#     after, and its counter equals its row count; twice, with one
#     connection (no lock) and with three (snapshot_jobs: 3, commits held
#     while they open; snapshot_chunk: 1MiB, so that the larger tables,
#     the written one among them, are read in ranges of their primary key
#     by all three) as an account with exactly the privileges `config
#     check` asks for, restored by one limited to `ghost\_r%`.*;
#   - the static tables: CHECKSUM TABLE and an ordered dump, equal;
#   - a restore into an existing database: exit 6, nothing touched; a
#     corrupt or truncated object: exit 7 and no database left behind;
#   - the dumping connections killed on the server mid-snapshot (three
#     connections, ranges): the snapshot fails saying so, leaves no
#     object, and does not hang;
#   - stored procedures and functions (one created under ANSI_QUOTES)
#     restored alike and callable; an event, not dumped: named in a
#     warning;
#   - killed at a test point: a snapshot leaves no object; a restore
#     leaves its marker table, and the next restore into that name drops
#     it and finishes.
set -uo pipefail
: "${RV_MYSQL_TOOL:?set RV_MYSQL_TOOL to the mysql_tool binary}" "${RV_TESTDIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-mysql-snap.XXXXXX")
# shellcheck source=/dev/null
. "$RV_TESTDIR/lib/mariadb.sh"
# shellcheck source=/dev/null
. "$RV_TESTDIR/lib/testpoint.sh"
WRITER=
trap '[ -n "$WRITER" ] && kill $WRITER 2>/dev/null; mariadb_stop; rm -rf "$W"' EXIT
T=$RV_MYSQL_TOOL
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
step() { echo "--- $*"; }

mariadb_start "$W/db" || fail "cannot start MariaDB"
echo "mariadb started in ${MARIADB_START_MS} ms"
cat >"$W/rv.yml" <<YML
database:
  mysql:
    socket: $MARIADB_SOCK
    user: root
    database: ghost
YML

step "a Ghost-shaped database"
mariadb_sql "CREATE DATABASE ghost" || fail "create"
mariadb_sql -D ghost "
SET SESSION max_recursive_iterations = 100000;
CREATE TABLE users (id VARCHAR(24) PRIMARY KEY, name VARCHAR(191) NOT NULL, email VARCHAR(191) NOT NULL UNIQUE,
  bio TEXT NULL, created_at DATETIME NOT NULL) ENGINE=InnoDB;
CREATE TABLE posts (id VARCHAR(24) PRIMARY KEY, uuid VARCHAR(36) NOT NULL, title VARCHAR(2000) NOT NULL,
  slug VARCHAR(191) NOT NULL UNIQUE, lexical LONGTEXT NULL, html LONGTEXT NULL, feature_image VARCHAR(2000) NULL,
  status VARCHAR(50) NOT NULL DEFAULT 'draft', author_id VARCHAR(24) NOT NULL, created_at DATETIME NOT NULL,
  published_at DATETIME(3) NULL, updated_at TIMESTAMP(6) NULL, INDEX (author_id),
  FOREIGN KEY (author_id) REFERENCES users(id)) ENGINE=InnoDB;
CREATE TABLE tags (id VARCHAR(24) PRIMARY KEY, name VARCHAR(191) NOT NULL, slug VARCHAR(191) NOT NULL UNIQUE) ENGINE=InnoDB;
CREATE TABLE posts_tags (id VARCHAR(24) PRIMARY KEY, post_id VARCHAR(24) NOT NULL, tag_id VARCHAR(24) NOT NULL,
  sort_order INT UNSIGNED NOT NULL DEFAULT 0, FOREIGN KEY (post_id) REFERENCES posts(id),
  FOREIGN KEY (tag_id) REFERENCES tags(id)) ENGINE=InnoDB;
CREATE TABLE members (id VARCHAR(24) PRIMARY KEY, email VARCHAR(191) NOT NULL UNIQUE, name VARCHAR(191) NULL,
  note VARCHAR(2000) NULL, geolocation JSON NULL, email_disabled TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL, domain VARCHAR(191) AS (SUBSTRING_INDEX(email, '@', -1)) VIRTUAL,
  name_len INT AS (CHAR_LENGTH(name)) STORED, INDEX (domain)) ENGINE=InnoDB;
CREATE TABLE media (id INT PRIMARY KEY, data LONGBLOB NULL, small VARBINARY(64) NULL, sha CHAR(64) NULL) ENGINE=InnoDB;
CREATE TABLE settings (id VARCHAR(24) PRIMARY KEY, \`key\` VARCHAR(50) NOT NULL UNIQUE, value TEXT NULL,
  \`type\` VARCHAR(50) NOT NULL, flags DOUBLE NULL, amount DECIMAL(20,6) NULL, b BIT(8) NULL) ENGINE=InnoDB;
CREATE TABLE writes (id BIGINT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL, note VARCHAR(100), at DATETIME(6) NOT NULL) ENGINE=InnoDB;
CREATE TABLE counters (id INT PRIMARY KEY, v BIGINT NOT NULL) ENGINE=InnoDB;
INSERT INTO counters VALUES (1, 0);
INSERT INTO users WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < 50)
  SELECT LPAD(HEX(i),24,'0'), CONCAT('Autor ', i, ' — ✍️ 作者'), CONCAT('user', i, '@example.com'),
         IF(i % 5 = 0, NULL, REPEAT('Bio ünïcödé 🙂 ', i)), '2024-01-01 00:00:00' + INTERVAL i HOUR FROM s;
INSERT INTO posts WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < 2000)
  SELECT CONCAT('a', LPAD(HEX(i),23,'0')), UUID(), CONCAT('Post ', i, ' \"quoted\" \\\\ back\\\\slash ''single'' 🎉'),
         CONCAT('post-', i), IF(i % 7 = 0, NULL, CONCAT('{\"root\":{\"children\":[{\"text\":\"Line ', i, '\\\\nnext\"}]}}')),
         IF(i = 1, REPEAT('<p>long html — 長い</p>\n', 40000), CONCAT('<p>', i, '</p>\r\n\t<p>tab</p>')),
         IF(i % 3 = 0, NULL, CONCAT('https://example.com/content/images/', i, '.jpg')),
         ELT(1 + i % 3, 'draft', 'published', 'scheduled'), LPAD(HEX(1 + i % 50),24,'0'),
         '2024-02-01 00:00:00' + INTERVAL i MINUTE,
         IF(i % 4 = 0, NULL, '2024-03-01 00:00:00.123' + INTERVAL i SECOND),
         '2024-03-01 00:00:00.654321' + INTERVAL i SECOND FROM s;
INSERT INTO tags WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < 40)
  SELECT CONCAT('b', LPAD(HEX(i),23,'0')), CONCAT('Tag ', i, ' ☕'), CONCAT('tag-', i) FROM s;
INSERT INTO posts_tags WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < 3000)
  SELECT CONCAT('c', LPAD(HEX(i),23,'0')), CONCAT('a', LPAD(HEX(1 + i % 2000),23,'0')), CONCAT('b', LPAD(HEX(1 + i % 40),23,'0')), i % 4 FROM s;
INSERT INTO members (id, email, name, note, geolocation, email_disabled, created_at) WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < 2000)
  SELECT CONCAT('d', LPAD(HEX(i),23,'0')), CONCAT('m', i, '@example.org'), IF(i % 9 = 0, NULL, CONCAT('Mitglied ', i, ' 👩‍💻')),
         IF(i % 11 = 0, CONCAT('nul', CHAR(0), 'byte, quote '' and \\\\ and ', CHAR(26), ' sub'), NULL),
         IF(i % 2 = 0, JSON_OBJECT('city', 'Zürich', 'i', i, 'ok', TRUE, 'ratio', i / 7), NULL),
         i % 2, '2024-04-01 00:00:00.000001' + INTERVAL i SECOND FROM s;
INSERT INTO media WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < 300)
  SELECT i, IF(i % 10 = 0, NULL, IF(i % 10 = 1, '',
            CONCAT(UNHEX(SHA2(i, 256)), UNHEX(SHA2(i + 1, 512)), REPEAT(UNHEX('00275C0A0D1A22FF'), i)))),
         IF(i % 3 = 0, NULL, UNHEX(SHA2(i, 256))), SHA2(i, 256) FROM s;
INSERT INTO media VALUES (1000, RANDOM_BYTES(1024) , RANDOM_BYTES(64), NULL);
INSERT INTO media VALUES (1001, REPEAT(RANDOM_BYTES(1024), 8192), NULL, 'one 8 MiB row: a 16 MiB statement alone');
INSERT INTO settings VALUES ('s1', 'title', 'Mein Blog 🚀', 'string', 1.5e-300, 12345678901234.123456, b'10100101'),
  ('s2', 'description', NULL, 'string', NULL, -0.000001, b'0'), ('s3', 'empty', '', 'string', -0.0, 0, NULL);
INSERT INTO writes (n, note, at) SELECT 0, REPEAT('prefill ', 12), '2024-01-01' FROM seq_1_to_30000;
UPDATE counters SET v = 30000;
CREATE TABLE pairs (a INT NOT NULL, b INT NOT NULL, pad VARCHAR(200) NOT NULL, PRIMARY KEY (a, b)) ENGINE=InnoDB;
INSERT INTO pairs SELECT seq % 100, seq, REPEAT('p', 150) FROM seq_1_to_15000;
CREATE TABLE nokey (v VARCHAR(200) NULL) ENGINE=InnoDB;
INSERT INTO nokey SELECT IF(seq % 50 = 0, NULL, REPEAT(CHAR(65 + seq % 26), 150)) FROM seq_1_to_15000;
ANALYZE TABLE posts, media, writes, pairs, nokey;
CREATE PROCEDURE bump() UPDATE counters SET v = v WHERE id = 0;
CREATE DEFINER=\`root\`@\`localhost\` FUNCTION post_title(p VARCHAR(24)) RETURNS VARCHAR(2000) READS SQL DATA
  RETURN (SELECT CONCAT(title, ' — 🎉') FROM posts WHERE id = p);
SET SESSION sql_mode = 'ANSI_QUOTES';
CREATE PROCEDURE quoted() SELECT "id" FROM posts LIMIT 0;
SET SESSION sql_mode = DEFAULT;
CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM writes WHERE id < 0;
CREATE VIEW published_posts AS SELECT p.id, p.title, u.name AS author FROM posts p JOIN users u ON u.id = p.author_id WHERE p.status = 'published';
CREATE VIEW published_count AS SELECT COUNT(*) AS c FROM published_posts;
CREATE TRIGGER posts_slug BEFORE INSERT ON posts FOR EACH ROW SET NEW.slug = LOWER(NEW.slug);
CREATE DEFINER=\`root\`@\`localhost\` SQL SECURITY INVOKER VIEW a_defs AS SELECT 'x DEFINER=\`y\`@\`z\` VIEW' AS d, COUNT(*) AS c FROM published_count;
" || fail "load the schema and rows"
echo "rows: $(mariadb_sql -D ghost "SELECT (SELECT COUNT(*) FROM posts)+(SELECT COUNT(*) FROM posts_tags)+(SELECT COUNT(*) FROM members)+(SELECT COUNT(*) FROM media)+(SELECT COUNT(*) FROM users)")"

step "a writer commits continuously (insert + counter, one transaction each)"
writes() {
	local i=0
	while :; do
		i=$((i + 1))
		echo "BEGIN; INSERT INTO writes (n, note, at) VALUES ($i, 'w$i ✓', NOW(6)); UPDATE counters SET v = v + 1 WHERE id = 1; COMMIT;"
		[ $((i % 20)) = 0 ] && echo "DO SLEEP(0.01);"
	done
}
# $! is the client (the pipeline's last process): killing it stops the
# writes at once, and the generator dies on the closed pipe.
writes | mariadb --no-defaults --default-character-set=utf8mb4 -S "$MARIADB_SOCK" -uroot -D ghost 2>/dev/null &
WRITER=$!
for _ in $(seq 1 100); do
	[ "$(mariadb_sql -D ghost "SELECT COUNT(*) FROM writes WHERE n > 0")" -gt 200 ] && break
	sleep 0.05
done
[ "$(mariadb_sql -D ghost "SELECT COUNT(*) FROM writes WHERE n > 0")" -gt 200 ] || fail "the writer does not write"

# The accounts an operator would give: the snapshot's has exactly what
# `config check` asks for; the restore's ends at the databases it makes.
mariadb_sql "CREATE USER 'rv'@'localhost' IDENTIFIED BY 'snap-pw';
GRANT RELOAD, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'rv'@'localhost';
GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON ghost.* TO 'rv'@'localhost';
CREATE USER 'rvrestore'@'localhost' IDENTIFIED BY 'restore-pw';
GRANT CREATE, DROP, INSERT, SELECT, ALTER, INDEX, CREATE VIEW, SHOW VIEW, TRIGGER, REFERENCES
  ON \`ghost\\_r%\`.* TO 'rvrestore'@'localhost';" || fail "accounts"
printf 'snap-pw\n' >"$W/snap-pw"
cat >"$W/rv3.yml" <<YML
database:
  mysql:
    socket: $MARIADB_SOCK
    user: rv
    password_file: $W/snap-pw
    database: ghost
    snapshot_jobs: 3
    snapshot_chunk: 1MiB
YML
cat >"$W/restore.yml" <<YML
database:
  mysql:
    socket: $MARIADB_SOCK
    user: rvrestore
    password: restore-pw
    database: ghost
YML

# snap CONFIG: a snapshot while the writer writes; sets gen, obj, hdr
snap() {
	local t0
	t0=$(date +%s%N)
	"$T" snapshot "$1" "file://$W/store" >"$W/snap.out" 2>"$W/snap.err" || { cat "$W/snap.err" >&2; fail "snapshot"; }
	echo "snapshot took $((($(date +%s%N) - t0) / 1000000)) ms"
	gen=$(sed -n 's/^gen=\([^ ]*\) .*/\1/p' "$W/snap.out")
	obj=$(find "$W/store/generations/$gen/db/snapshot" -name '*.db.zst')
	[ -f "$obj" ] || fail "no snapshot object"
	hdr=$(zstdcat "$obj" | head -1)
	echo "header: $hdr"
	echo "object: $(stat -c %s "$obj") bytes"
}

# check GEN OBJ DB CONFIG: restore GEN into DB as CONFIG's account and
# compare it with the source as of the binlog position in OBJ's header
check() {
	local gen=$1 obj=$2 db=$3 cfg=$4 hdr file pos gtid t0 files n max src dst a b
	hdr=$(zstdcat "$obj" | head -1)
	file=$(sed -n 's/.* binlog_file=\([^ ]*\).*/\1/p' <<<"$hdr")
	pos=$(sed -n 's/.* binlog_pos=\([0-9]*\).*/\1/p' <<<"$hdr")
	gtid=$(sed -n 's/.* gtid=\([^ ]*\).*/\1/p' <<<"$hdr")
	[ -n "$file" ] && [ -n "$pos" ] && [ -n "$gtid" ] || fail "no binlog position in the header"
	[ "$gtid" = "$(mariadb_sql "SELECT BINLOG_GTID_POS('$file', $pos)")" ] || fail "the GTID does not match the position"
	zstd -tq "$obj" || fail "zstd -t"

	step "$db: restore"
	t0=$(date +%s%N)
	"$T" restore "$cfg" "file://$W/store" "$gen" "$db" >"$W/rest.out" 2>"$W/rest.err" || { cat "$W/rest.err" >&2; fail "restore"; }
	echo "restore took $((($(date +%s%N) - t0) / 1000000)) ms"
	[ -z "$(mariadb_sql -D "$db" "SHOW TABLES LIKE 'revenant_restore_incomplete'")" ] || fail "the marker table is still there"

	step "$db: the writes are exactly those before $file:$pos"
	# The binlog up to the position, decoded: every writes row inserted there.
	files=$(cd "$MARIADB_DIR/data" && ls binlog.[0-9]* | sort | awk -v f="$file" '$0 <= f')
	# shellcheck disable=SC2086
	(cd "$MARIADB_DIR/data" && mariadb-binlog --no-defaults --base64-output=decode-rows -v --stop-position="$pos" $files) >"$W/binlog.txt" 2>"$W/binlog.err" || fail "mariadb-binlog: $(cat "$W/binlog.err")"
	# "### INSERT INTO `ghost`.`writes`" then "### SET" then "###   @1=<id>"
	awk '/^### INSERT INTO `ghost`.`writes`/ {w=1; next} w && /^###   @1=/ {sub(/^###   @1=/, ""); print; w=0}' "$W/binlog.txt" | sort -n >"$W/ids.binlog"
	mariadb_sql -D "$db" "SELECT id FROM writes ORDER BY id" >"$W/ids.restored"
	n=$(wc -l <"$W/ids.restored")
	echo "writes: $n in the snapshot, $(mariadb_sql -D ghost "SELECT COUNT(*) FROM writes") now"
	[ "$(mariadb_sql -D "$db" "SELECT COUNT(*) FROM writes WHERE n > 0")" -gt 200 ] || fail "too few writes in the snapshot ($n with the 30000 before the writer)"
	diff -q "$W/ids.binlog" "$W/ids.restored" >/dev/null || fail "restored writes differ from the binlog before $file:$pos ($(wc -l <"$W/ids.binlog") there)"
	[ "$(mariadb_sql -D "$db" "SELECT v FROM counters")" = "$n" ] || fail "counter $(mariadb_sql -D "$db" "SELECT v FROM counters") != rows $n: not one consistent moment"
	max=$(tail -1 "$W/ids.restored")
	src=$(mariadb_sql -D ghost "SELECT id, n, note, at FROM writes WHERE id <= $max ORDER BY id" | md5sum)
	dst=$(mariadb_sql -D "$db" "SELECT id, n, note, at FROM writes ORDER BY id" | md5sum)
	[ "$src" = "$dst" ] || fail "the writes rows differ"

	step "$db: every other table equal, row for row"
	for t in users posts tags posts_tags members media settings pairs nokey; do
		a=$(mariadb_sql "CHECKSUM TABLE ghost.$t" | cut -f2)
		b=$(mariadb_sql "CHECKSUM TABLE $db.$t" | cut -f2)
		[ "$a" = "$b" ] || fail "CHECKSUM TABLE $t: $a != $b"
		a=$(mariadb_sql -D ghost "SELECT * FROM $t ORDER BY 1" | md5sum)
		b=$(mariadb_sql -D "$db" "SELECT * FROM $t ORDER BY 1" | md5sum)
		[ "$a" = "$b" ] || fail "ordered dump of $t differs"
		[ "$(mariadb_sql "SHOW CREATE TABLE ghost.$t" | cut -f2-)" = "$(mariadb_sql "SHOW CREATE TABLE $db.$t" | cut -f2-)" ] || fail "schema of $t differs"
	done
	[ "$(mariadb_sql -D ghost "SELECT * FROM published_count")" = "$(mariadb_sql -D "$db" "SELECT * FROM published_count")" ] || fail "views"
	[ "$(mariadb_sql -D "$db" "SELECT d FROM a_defs")" = 'x DEFINER=`y`@`z` VIEW' ] || fail "a view naming DEFINER= in its query"
	[ "$(mariadb_sql "SELECT SECURITY_TYPE FROM information_schema.VIEWS WHERE TABLE_SCHEMA='$db' AND TABLE_NAME='a_defs'")" = INVOKER ] || fail "SQL SECURITY"
	[ "$(mariadb_sql "SELECT ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA='$db'")" = "SET NEW.slug = LOWER(NEW.slug)" ] || fail "trigger"
	[ "$(mariadb_sql "SELECT COUNT(*) FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_SCHEMA='$db' AND CONSTRAINT_TYPE='FOREIGN KEY'")" = 3 ] || fail "foreign keys"
}

mkdir -p "$W/store"
step "snapshot while it writes: one connection, no lock"
snap "$W/rv.yml"
gen1=$gen obj1=$obj
# Routines are dumped (root reads them); events are not, said by name.
grep -q 'are not in the snapshot.* missing="event nightly"$' "$W/snap.err" || fail "no word of the event alone: $(cat "$W/snap.err")"
sleep 0.3
step "snapshot while it writes: three connections opened while commits are held, as an account with only what config check asks"
snap "$W/rv3.yml"
gen3=$gen obj3=$obj
# rv may read events (EVENT) but not routines: without SELECT on
# mysql.proc MariaDB does not even list them to it.
grep -q 'not in the snapshot.* missing="event nightly"$' "$W/snap.err" || fail "no word of the event: $(cat "$W/snap.err")"
# Tables of two chunks or more are read in ranges of their primary key, by
# all three connections: writes (BIGINT, 30000 rows and the writer's,
# which land in the last range), media (INT, an 8 MiB row), posts
# (VARCHAR).  check() below proves every row is there once, at one moment.
grep 'large table' "$W/snap.err"
for t in writes media posts; do
	r=$(sed -n "s/.*read in ranges.* table=$t .*ranges=\([0-9]*\).*/\1/p" "$W/snap.err")
	[ "${r:-0}" -ge 2 ] || fail "$t was not read in ranges: $(cat "$W/snap.err")"
done
# Their boundaries: every k-th key of the server's sort for fat rows
# (media, posts: read through the smallest index, not the clustered
# one), a scan of the key in order for thin ones (writes).
grep -q "read in ranges.* table=writes .*boundaries=scan" "$W/snap.err" || fail "writes: $(cat "$W/snap.err")"
for t in media posts; do
	grep -q "read in ranges.* table=$t .*boundaries=sorted" "$W/snap.err" || fail "$t: $(cat "$W/snap.err")"
done
# Blobs as _binary'…' (their bytes escaped, not hex), BIT as hex, and no
# escaped `"` (it needs none inside '…'); check() proves they load.
zstdcat "$obj3" >"$W/obj3.sql"
grep -aq "_binary'" "$W/obj3.sql" || fail "no _binary literal in the snapshot"
grep -aqF ",0xa5)" "$W/obj3.sql" || fail "BIT b'10100101' is not the hex literal 0xa5"
grep -aqF "'Post 7 \"quoted\" \\\\ back" "$W/obj3.sql" || fail "the title's \" escaped, or its \\ not"
# A composite key and no key: one range each, said so.
for t in pairs nokey; do
	grep -q "read by one connection.* table=$t\$" "$W/snap.err" || fail "$t: $(cat "$W/snap.err")"
done
sleep 0.3
kill "$WRITER" 2>/dev/null
wait "$WRITER" 2>/dev/null
WRITER=
after=$(mariadb_sql -D ghost "SELECT COUNT(*) FROM writes")

check "$gen1" "$obj1" ghost_restored "$W/rv.yml"
# The routines root's snapshot holds: the same definitions under the same
# sql_mode (ANSI_QUOTES for `quoted`, whose body needs it), and they run.
routines() { mariadb_sql "SELECT ROUTINE_TYPE, ROUTINE_NAME, SQL_MODE, ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA='$1' ORDER BY 1, 2"; }
[ "$(routines ghost_restored | wc -l)" -ge 3 ] || fail "routines missing: $(routines ghost_restored)"
[ "$(routines ghost)" = "$(routines ghost_restored)" ] || fail "routines differ: $(routines ghost_restored)"
[ "$(mariadb_sql -D ghost_restored "SELECT post_title('a00000000000000000000007')")" = "$(mariadb_sql -D ghost "SELECT post_title('a00000000000000000000007')")" ] || fail "the function does not run alike"
mariadb_sql -D ghost_restored "CALL bump(); CALL quoted()" || fail "the procedures do not run"
n=$(wc -l <"$W/ids.restored")
[ "$after" -gt "$n" ] || fail "no write after the snapshot: the test proves nothing"
# A limited account creates triggers on a server with binary logging on
# only with log_bin_trust_function_creators (else SUPER): refused, named.
"$T" restore "$W/restore.yml" "file://$W/store" "$gen3" ghost_rx >/dev/null 2>"$W/err"
rc=$?
[ "$rc" = 4 ] || fail "trigger without SUPER: exit $rc: $(cat "$W/err")"
grep -q "the target has binary logging on: SET GLOBAL log_bin_trust_function_creators=1 there" "$W/err" || fail "no hint: $(cat "$W/err")"
[ -z "$(mariadb_sql "SHOW DATABASES LIKE 'ghost_rx'")" ] || fail "a refused restore left its database"
mariadb_sql "SET GLOBAL log_bin_trust_function_creators=1"
check "$gen3" "$obj3" ghost_restored3 "$W/restore.yml"
[ "$(wc -l <"$W/ids.restored")" -gt "$n" ] || fail "the second snapshot has no more writes than the first"
[ "$after" -gt "$(wc -l <"$W/ids.restored")" ] || fail "no write after the second snapshot"
gen=$gen1 obj=$obj1

step "a restore into an existing database is refused (exit 6), nothing touched"
"$T" restore "$W/rv.yml" "file://$W/store" "$gen" ghost_restored >/dev/null 2>"$W/err"
rc=$?
[ "$rc" = 6 ] || fail "exit $rc"
grep -q "database 'ghost_restored' already exists" "$W/err" || fail "message: $(cat "$W/err")"
[ "$(mariadb_sql -D ghost_restored "SELECT v FROM counters")" = "$n" ] || fail "the existing database changed"

step "a snapshot killed half-way (test point mysql.dumped) leaves no object"
REVENANT_TESTPOINT=mysql.dumped@4 "$T" snapshot "$W/rv.yml" "file://$W/store" >/dev/null 2>"$W/err" &
pid=$!
tp_wait_stopped "$pid" || fail "the snapshot never reached mysql.dumped"
kill -9 "$pid"
wait "$pid" 2>/dev/null
[ "$(find "$W/store" -name '*.db.zst' | wc -l)" = 2 ] || fail "a killed snapshot left an object: $(find "$W/store" -name '*.db.zst')"

step "connections lost mid-snapshot (three connections, ranges): the snapshot fails and says so, no object, no hang"
# The killed snapshot's connection lingers until the server notices (it
# was counted here once, on a busy machine).
for _ in $(seq 1 100); do
	[ -z "$(mariadb_sql "SELECT ID FROM information_schema.PROCESSLIST WHERE USER='rv'")" ] && break
	sleep 0.1
done
REVENANT_TESTPOINT=mysql.range@2 "$T" snapshot "$W/rv3.yml" "file://$W/store" >/dev/null 2>"$W/err" &
pid=$!
tp_wait_stopped "$pid" || fail "the snapshot never reached mysql.range"
# Its dumping connections, killed on the server while it is stopped at the
# start of its second range: one may be mid-result, one scanning a key,
# one waiting for ranges; the first to notice fails the snapshot, and the
# others must stop too (not the binlog connection mysql_tool keeps open).
ids=$(mariadb_sql "SELECT ID FROM information_schema.PROCESSLIST WHERE USER='rv' AND COMMAND <> 'Binlog Dump'")
[ "$(wc -w <<<"$ids")" = 3 ] || fail "not three dumping connections: $(mariadb_sql "SELECT ID, COMMAND, STATE, LEFT(INFO, 90) FROM information_schema.PROCESSLIST WHERE USER='rv'")"
for id in $ids; do mariadb_sql "KILL CONNECTION $id" || fail "KILL CONNECTION $id"; done
t0=$(date +%s%N)
(sleep 60 && kill -9 "$pid") >/dev/null 2>&1 &
watchdog=$!
kill -CONT "$pid"
wait "$pid"
rc=$?
pkill -P "$watchdog" sleep 2>/dev/null
kill "$watchdog" 2>/dev/null
[ "$rc" != 0 ] && [ "$rc" != 137 ] || fail "a snapshot that lost its connections: exit $rc (137: hung for 60 s): $(cat "$W/err")"
grep -q "^error: mysql snapshot: .*\(Lost connection\|gone away\)" "$W/err" || fail "no word of the lost connections: $(cat "$W/err")"
[ "$(find "$W/store" -name '*.db.zst' | wc -l)" = 2 ] || fail "a failed snapshot left an object: $(find "$W/store" -name '*.db.zst')"
echo "exit $rc after $((($(date +%s%N) - t0) / 1000000)) ms: $(grep '^error' "$W/err")"

step "a restore killed half-way (test point mysql.loaded) is marked, and the next one redoes it"
REVENANT_TESTPOINT=mysql.loaded@5 "$T" restore "$W/rv.yml" "file://$W/store" "$gen" ghost_killed >/dev/null 2>"$W/err" &
pid=$!
tp_wait_stopped "$pid" || fail "the restore never reached mysql.loaded"
kill -9 "$pid"
wait "$pid" 2>/dev/null
[ "$(mariadb_sql -D ghost_killed "SHOW TABLES LIKE 'revenant_restore_incomplete'")" = revenant_restore_incomplete ] || fail "a killed restore left no marker"
"$T" restore "$W/rv.yml" "file://$W/store" "$gen" ghost_killed >/dev/null 2>"$W/err" || fail "the restore after a killed one: $(cat "$W/err")"
grep -q "did not finish (its marker table is there): dropping it" "$W/err" || fail "no word of the earlier restore"
[ -z "$(mariadb_sql -D ghost_killed "SHOW TABLES LIKE 'revenant_restore_incomplete'")" ] || fail "the marker is still there"
for t in users posts members media writes counters; do
	[ "$(mariadb_sql "CHECKSUM TABLE ghost_restored.$t" | cut -f2)" = "$(mariadb_sql "CHECKSUM TABLE ghost_killed.$t" | cut -f2)" ] || fail "$t differs after the redone restore"
done

step "a corrupt or truncated object: exit 7, no database left"
size=$(stat -c %s "$obj")
cp "$obj" "$W/good"
# Four bytes inverted (writing fixed ones could leave the object as it was).
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(4); f.seek(int(sys.argv[2])); f.write(bytes(x ^ 0xff for x in b))' "$obj" $((size / 2))
cmp -s "$obj" "$W/good" && fail "the object was not changed"
"$T" restore "$W/rv.yml" "file://$W/store" "$gen" ghost_bad >/dev/null 2>"$W/err"
rc=$?
[ "$rc" = 7 ] || fail "corrupt: exit $rc: $(cat "$W/err")"
[ -z "$(mariadb_sql "SHOW DATABASES LIKE 'ghost_bad'")" ] || fail "a corrupt restore left its database"
head -c $((size - 60)) "$W/good" >"$obj"
"$T" restore "$W/rv.yml" "file://$W/store" "$gen" ghost_bad >/dev/null 2>"$W/err"
rc=$?
[ "$rc" = 7 ] || fail "truncated: exit $rc: $(cat "$W/err")"
[ -z "$(mariadb_sql "SHOW DATABASES LIKE 'ghost_bad'")" ] || fail "a truncated restore left its database"
echo "mysql_snapshot: ok"
