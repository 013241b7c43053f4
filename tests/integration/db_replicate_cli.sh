#!/usr/bin/env bash
# db_replicate_cli.sh - `revenant replicate` with database.sqlite and
# `revenant restore --db` on a file:// store: the database and the content
# folder come back at the same recovery point, bad paths and option mixes
# give one line and the documented exit code, the metrics show the
# database half, and every recovery point names a database position.
set -euo pipefail

: "${REVENANT:?set REVENANT to the built binary}"
export LC_ALL=C.UTF-8

W=$(mktemp -d /tmp/rv-db-cli.XXXXXX)
RP=
cleanup() {
	if [ -n "$RP" ]; then kill -9 "$RP" 2>/dev/null || true; fi
	rm -rf "$W"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
expect() { # expect RC PATTERN CMD...: exit code RC, one stderr line matching PATTERN
	local want=$1 pat=$2 rc=0
	shift 2
	"$@" >"$W/out" 2>"$W/err" || rc=$?
	[[ $rc == "$want" ]] || fail "'$*' exited $rc, expected $want: $(cat "$W/err")"
	[[ $(grep -vc 'level=' "$W/err") == 1 ]] || fail "'$*': expected one error line: $(cat "$W/err")"
	grep -qE -- "$pat" "$W/err" || fail "'$*': no line matching '$pat': $(cat "$W/err")"
}
# Like every real application (Ghost's driver included), wait for locks.
sql() { sqlite3 -cmd ".timeout 5000" "$@"; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

mkdir -p "$W/content/images" "$W/store"
DB=$W/content/data/ghost.db
mkdir -p "$W/content/data"
sql "$DB" "CREATE TABLE posts(id INTEGER PRIMARY KEY, title TEXT, html TEXT);
	INSERT INTO posts(title, html) VALUES ('first', 'hello');"
MPORT=$(port)
cat >"$W/r.yml" <<EOF
site: dc
sync_interval: 200ms
store: {url: "file://$W/store", fsync: false}
content: {path: "$W/content"}
database: {sqlite: "$DB"}
metrics: {listen: "127.0.0.1:$MPORT"}
EOF

step "bad database paths -> one line, documented exit code"
sed "s|sqlite: \"$DB\"|sqlite: \"$W/nope.db\"|" "$W/r.yml" >"$W/bad1.yml"
expect 5 "database.sqlite '$W/nope.db' cannot be used" "$REVENANT" -c "$W/bad1.yml" replicate
sed "s|sqlite: \"$DB\"|sqlite: \"$W/content\"|" "$W/r.yml" >"$W/bad2.yml"
expect 2 "is not a regular file" "$REVENANT" -c "$W/bad2.yml" replicate
[[ -z $(ls "$W/store") ]] || fail "a refused start wrote to the store"

step "replicate: database and content"
"$REVENANT" -c "$W/r.yml" replicate 2>"$W/rep.log" &
RP=$!
for _ in $(seq 100); do
	grep -q 'content generation started' "$W/rep.log" && break
	sleep 0.05
done
grep -q 'database snapshot written' "$W/rep.log" || fail "no snapshot at the generation start: $(cat "$W/rep.log")"
[[ $(sql "$DB" "PRAGMA journal_mode") == wal ]] || fail "the database was not switched to WAL"
for i in $(seq 1 200); do
	sql "$DB" "INSERT INTO posts(title, html) VALUES ('post $i', printf('%.*c', 2000, 'x'))"
done
printf 'image-one' >"$W/content/images/one.jpg"
sql "$DB" "UPDATE posts SET title = 'edited' WHERE id = 1; DELETE FROM posts WHERE id = 5;"
T_MID=$(date +%s.%N)
sleep 0.6
for i in $(seq 201 300); do
	sql "$DB" "INSERT INTO posts(title, html) VALUES ('post $i', 'y')"
done
printf 'image-two' >"$W/content/images/two.jpg"
# The file shrinks (a VACUUM after a large delete writes every page again
# and a commit frame with a smaller size): a restore must cut it too.
pages_before=$(sql "$DB" "PRAGMA page_count")
sql "$DB" "DELETE FROM posts WHERE id BETWEEN 20 AND 280; VACUUM;"
for i in $(seq 301 310); do
	sql "$DB" "INSERT INTO posts(title, html) VALUES ('post $i', 'z')"
done
pages_after=$(sql "$DB" "PRAGMA page_count")
((pages_after < pages_before)) || fail "the VACUUM did not shrink the database ($pages_before -> $pages_after pages)"
sleep 1
curl -fsS "http://127.0.0.1:$MPORT/metrics" >"$W/metrics" || fail "no /metrics"
for m in revenant_db_position_frames revenant_db_segments_total revenant_db_bytes_total \
	revenant_db_snapshots_total revenant_db_new_generations_total; do
	grep -q "^$m" "$W/metrics" || fail "metric $m missing"
done
awk '/^revenant_db_segments_total/ { exit !($2 >= 1) }' "$W/metrics" || fail "no segment counted"
kill -TERM $RP
wait $RP || fail "replicate did not stop cleanly"
RP=

step "every recovery point names a database position"
for f in "$W"/store/generations/*/content/log/*.zst "$W"/store/generations/*/content/snapshot/*.zst; do
	zstdcat "$f" | head -1 | grep -qE '^revenant 1\.1 content-(log|manifest) .* db=[0-9]+$' ||
		fail "$f: header without db=: $(zstdcat "$f" | head -1)"
done

step "restore: folder and database at the latest point"
"$REVENANT" --log-level warn restore --to "$W/r1" --db "$W/r1.db" "file://$W/store" >"$W/out" ||
	fail "restore: $(cat "$W/out")"
grep -q '^restored database' "$W/out" || fail "no database summary: $(cat "$W/out")"
[[ $(sql "$W/r1.db" "PRAGMA integrity_check") == ok ]] || fail "integrity_check"
[[ $(sql "$W/r1.db" "PRAGMA page_count") == "$pages_after" ]] ||
	fail "restored database has $(sql "$W/r1.db" "PRAGMA page_count") pages, the source $pages_after"
# SQLite trusts the size in the header, so a file left longer would still
# read right: the file itself must have been cut.
size=$(stat -c %s "$W/r1.db")
((size == pages_after * $(sql "$W/r1.db" "PRAGMA page_size"))) ||
	fail "restored file is $size bytes for $pages_after pages (not cut after the VACUUM)"
diff <(sql "$DB" ".dump posts") <(sql "$W/r1.db" ".dump posts") >/dev/null ||
	fail "restored database differs from the source"
cmp "$W/content/images/two.jpg" "$W/r1/images/two.jpg" || fail "image two"
[[ ! -e $W/r1/data/ghost.db ]] || fail "the database file was shipped as content"
# A fresh site: the database's folder does not exist yet and is made.
"$REVENANT" --log-level warn restore --db-only --db "$W/fresh/data/ghost.db" "file://$W/store" \
	>"$W/out" 2>&1 || fail "restore into a missing folder: $(cat "$W/out")"
diff <(sql "$DB" ".dump posts") <(sql "$W/fresh/data/ghost.db" ".dump posts") >/dev/null ||
	fail "the database restored into a new folder differs from the source"

step "restore --at a time in the middle: a consistent earlier state"
"$REVENANT" --log-level warn restore --db-only --db "$W/r2.db" --at "$T_MID" "file://$W/store" >/dev/null ||
	fail "restore --at"
[[ $(sql "$W/r2.db" "PRAGMA integrity_check") == ok ]] || fail "integrity_check --at"
n=$(sql "$W/r2.db" "SELECT count(*) FROM posts")
((n >= 1 && n < 300)) || fail "--at $T_MID restored $n posts (wanted an earlier state)"
# A state is a prefix: every id up to the highest is there (id 5 only
# until its delete).
max=$(sql "$W/r2.db" "SELECT max(id) FROM posts")
have5=$(sql "$W/r2.db" "SELECT count(*) FROM posts WHERE id = 5")
if ((max >= 5)); then
	[[ $n == $((max - 1 + have5)) ]] || fail "--at state is not a prefix ($n rows, max id $max)"
fi

step "option mixes and existing files"
expect 2 "give --db FILE" "$REVENANT" restore --to "$W/r3" "file://$W/store"
expect 6 "exists" "$REVENANT" restore --to "$W/r3" --db "$W/r1.db" "file://$W/store"
expect 2 "--db-only needs --db" "$REVENANT" restore --db-only "file://$W/store"
expect 2 "drop --to" "$REVENANT" restore --db-only --db "$W/r4.db" --to "$W/r4" "file://$W/store"
expect 2 "does not go with" "$REVENANT" restore --content-only --db "$W/r4.db" --to "$W/r4" "file://$W/store"
"$REVENANT" --log-level warn restore --content-only --to "$W/r5" "file://$W/store" >/dev/null ||
	fail "--content-only"
[[ ! -e $W/r4.db ]] || fail "a refused restore created the database file"

step "a lost segment before the point is an error, never an older state"
seg=$(ls "$W"/store/generations/*/db/log/*.zst | tail -1)
mv "$seg" "$W/seg.bak"
rc=0
"$REVENANT" --log-level warn restore --db-only --db "$W/r6.db" "file://$W/store" >"$W/out" 2>"$W/err" || rc=$?
((rc == 7)) || fail "restore without the last segment exited $rc (wanted 7): $(cat "$W/err")"
grep -q "the store lost a segment" "$W/err" || fail "no 'lost a segment' line: $(cat "$W/err")"
[[ ! -e $W/r6.db ]] || fail "a database was left behind"
mv "$W/seg.bak" "$seg"

step "a point without a database"
mkdir -p "$W/c2" "$W/s2"
printf 'x' >"$W/c2/a"
cat >"$W/c.yml" <<EOF
site: dc
sync_interval: 200ms
store: {url: "file://$W/s2", fsync: false}
content: {path: "$W/c2"}
metrics: {listen: off}
EOF
timeout -s TERM 2 "$REVENANT" -c "$W/c.yml" replicate 2>/dev/null || true
expect 5 "has no database" "$REVENANT" restore --to "$W/r7" --db "$W/r7.db" "file://$W/s2"
echo "db_replicate_cli: ok"
