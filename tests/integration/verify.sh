#!/usr/bin/env bash
# verify.sh - `revenant verify`, the restore drill, on a file:// store that
# `revenant replicate` built from a Ghost-shaped SQLite database (posts with
# image references in html, feature_image, mobiledoc and lexical) and a
# content folder:
#   - a healthy store: exit 0, the JSON's figures (point, age, files,
#     database position, posts and image references), the metrics file
#     (every gauge, ok 1, written atomically);
#   - --at a time in the middle verifies an earlier point; --sample 3
#     verifies three;
#   - too little scratch space (declared through the test build's
#     REVENANT_TEST_SCRATCH_FREE: no small file system without root)
#     refuses before any download, exit 1, and leaves no scratch folder;
#   - SIGINT at the moment the space is checked (test point
#     verify.planned): exit 130, the scratch folder removed;
#   - the store is byte for byte the same after all of that (verify never
#     writes, never takes the lease);
#   - --pushgateway POSTs the same gauges to a small listener (a failed
#     run without the last success's time); an unreachable gateway is
#     exit 3 after a good drill;
#   - damage, each on a copy of the store: a flipped byte in a blob, in a
#     database segment, a database segment removed, a truncated manifest,
#     a content log removed (a gap), an image a post names deleted at the
#     source: exit 9 and the object (or the image and the post) named; the
#     metrics file then says ok 0 and keeps the last success's time;
#   - a store replicated without a database: the folder alone verified.
set -euo pipefail

: "${REVENANT:?set REVENANT to the built binary}"
. "$RV_SRCDIR/tests/lib/wait.sh"
. "$RV_SRCDIR/tests/lib/testpoint.sh"
export LC_ALL=C.UTF-8

W=$(mktemp -d /tmp/rv-verify.XXXXXX)
RP=
PG=
cleanup() {
	if [ -n "$RP" ]; then kill -9 "$RP" 2>/dev/null || true; fi
	if [ -n "$PG" ]; then kill -9 "$PG" 2>/dev/null || true; fi
	if [ -n "${RV_KEEP:-}" ]; then echo "kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
# A command that fails outside a check (set -e) says where.
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND exited $?" >&2' ERR
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
step() { echo "--- $*"; }
sql() { sqlite3 -cmd ".timeout 5000" "$@"; }
# in_logs REGEX [STORE]: a content log in the store has a line matching it.
in_logs() { find "${2:-$W/store}/generations" -path '*/content/log/*' -exec zstdcat {} + 2>/dev/null | grep -qE "$1"; }
nlogs() { find "$W/store/generations" -path '*/content/log/*' -name '*.zst' 2>/dev/null | wc -l; }
more_logs() { (($(nlogs) > $1)); }
# jq-like checks without jq: py EXPR FILE, EXPR over `j` (the JSON).
py() { python3 -c "import json,sys; j=json.load(open(sys.argv[2])); sys.exit(0 if ($1) else 1)" "$1" "$2"; }
# verify_rc WANT OUT STORE [args]: verify's exit code must be WANT; stdout
# in OUT, stderr in OUT.err.
verify_rc() {
	local want=$1 out=$2 store=$3 rc=0
	shift 3
	"$REVENANT" --log-level warn verify --scratch "$W/scratch" "$@" "file://$store" \
		>"$out" 2>"$out.err" || rc=$?
	[[ $rc == "$want" ]] || fail "verify $* on $store exited $rc, expected $want: $(cat "$out.err") $(head -c 2000 "$out")"
	[[ -z $(ls -A "$W/scratch") ]] || fail "verify left scratch files: $(ls -A "$W/scratch")"
}
store_sums() { (cd "$W/store" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

mkdir -p "$W/content/images/2026/12" "$W/content/files" "$W/content/data" "$W/store" "$W/scratch"
DB=$W/content/data/ghost.db
head -c 300000 /dev/urandom >"$W/content/images/2026/12/a.jpg"
head -c 2000000 /dev/urandom >"$W/content/images/2026/12/big.png"
printf 'gone soon' >"$W/content/images/2026/12/gone.jpg"
printf 'doc' >"$W/content/files/doc.pdf"
# Ghost's shape, what verify reads of it: posts(id, html, feature_image,
# mobiledoc, lexical) and a table that names posts.
sql "$DB" "PRAGMA foreign_keys = ON;
	CREATE TABLE posts(id VARCHAR(24) PRIMARY KEY, title TEXT, html TEXT,
		feature_image TEXT, mobiledoc TEXT, lexical TEXT);
	CREATE TABLE posts_tags(id VARCHAR(24) PRIMARY KEY,
		post_id VARCHAR(24) REFERENCES posts(id), tag_id VARCHAR(24));"
cat >"$W/r.yml" <<EOF
site: dc
sync_interval: 200ms
store: {url: "file://$W/store", fsync: false}
content: {path: "$W/content"}
database: {sqlite: "$DB"}
metrics: {listen: off}
EOF

start_replicate() {
	"$REVENANT" -c "$W/r.yml" replicate 2>>"$W/rep.log" &
	RP=$!
	local n0=$1
	until_ok 30 started "$n0" || fail "replicate did not start: $(tail "$W/rep.log")"
}
started() { (($(grep -c 'content generation started' "$W/rep.log") > $1)); }
stop_replicate() {
	kill -TERM "$RP"
	wait "$RP" || fail "replicate did not stop cleanly"
	RP=
}

step "replicate a site in two steps"
touch "$W/rep.log"
start_replicate 0
# The posts that name images come once the first sync shipped the files:
# before that the store's points hold the database but only part of the
# folder, and verify would rightly call them broken.
until_ok 20 in_logs '^file images/2026/12/a.jpg ' && until_ok 20 in_logs '^file images/2026/12/big.png ' ||
	fail "the first sync did not ship the images"
n=$(nlogs)
sql "$DB" "PRAGMA foreign_keys = ON;
	INSERT INTO posts VALUES ('p1', 'one',
		'<p><img src=\"__GHOST_URL__/content/images/2026/12/a.jpg\" srcset=\"/content/images/size/w600/2026/12/a.jpg 600w, /content/images/size/w1000/format/webp/2026/12/a.jpg 1000w\"></p>',
		'__GHOST_URL__/content/images/2026/12/big.png', NULL,
		'{\"root\":{\"children\":[{\"type\":\"image\",\"src\":\"__GHOST_URL__/content/images/2026/12/a.jpg\"}]}}');
	INSERT INTO posts VALUES ('p2', 'two', '<p>no images; https://images.unsplash.com/photo-1</p>',
		'https://blog.example.com/content/images/2026/12/big.png?v=2',
		'{\"cards\":[[\"image\",{\"src\":\"/content/images/2026/12/a.jpg\"}]]}', NULL);
	INSERT INTO posts_tags VALUES ('t1', 'p1', 'x');"
for i in $(seq 3 40); do
	sql "$DB" "INSERT INTO posts(id, title, html) VALUES ('p$i', 'post $i', printf('%.*c', 3000, 'x'))"
done
until_ok 20 more_logs "$n" || fail "no commit after the first writes"
sleep 0.6
T_MID=$(date +%s.%N)
sleep 0.3
# As Ghost does: the upload first, the post naming it later.
head -c 5000 /dev/urandom >"$W/content/images/2026/12/late.jpg"
until_ok 20 in_logs '^file images/2026/12/late.jpg ' || fail "late.jpg did not ship"
n=$(nlogs)
sql "$DB" "INSERT INTO posts(id, title, feature_image) VALUES ('p41', 'late', '/content/images/2026/12/late.jpg')"
until_ok 20 more_logs "$n" || fail "no commit after the second writes"
stop_replicate
store_sums >"$W/sums.before"

step "a healthy store: exit 0, the figures, the metrics file"
mkdir -p "$W/m"
t0=$(date +%s.%N)
verify_rc 0 "$W/v1.json" "$W/store" --json --metrics-file "$W/m/verify.prom"
t1=$(date +%s.%N)
py 'j["ok"] and j["exit_code"] == 0 and j["error"] is None and len(j["points"]) == 1' "$W/v1.json" ||
	fail "JSON: $(cat "$W/v1.json")"
py 'j["rpo_seconds"] > 0 and j["rto_seconds"] > 0 and j["bytes_read"] > 2300000' "$W/v1.json" ||
	fail "JSON figures: $(cat "$W/v1.json")"
# The point: the newest log in the store, its files, its database, its posts.
newest=$(basename "$(find "$W/store/generations" -path '*/content/log/*' | sort | tail -1)")
seq=$((16#${newest%%-*}))
py "(lambda p: p['ok'] and p['seq'] == $seq and p['db_position'] > 0 and p['files'] == 5
	and p['ghost_schema'] and p['posts'] == 41 and p['image_refs'] == 8
	and p['images_missing'] == 0 and p['fk_violations'] == 0
	and p['scratch_need'] > p['content_bytes'] + p['db_bytes']
	and 0 < p['age_seconds'] < 120 and p['restore_seconds'] > 0
	and p['db_bytes'] == $(sql "$DB" "PRAGMA page_count") * $(sql "$DB" "PRAGMA page_size"))(j['points'][0])" "$W/v1.json" ||
	fail "point: $(cat "$W/v1.json")"
M=$W/m/verify.prom
for m in revenant_verify_ok revenant_verify_last_success_timestamp_seconds \
	revenant_verify_duration_seconds revenant_verify_rpo_seconds \
	revenant_verify_restore_seconds revenant_verify_bytes_read revenant_verify_points; do
	grep -q "^# TYPE $m gauge" "$M" || fail "metrics file: no $m: $(cat "$M")"
done
grep -qx 'revenant_verify_ok 1' "$M" || fail "metrics: not ok: $(cat "$M")"
ok_at=$(awk '/^revenant_verify_last_success_timestamp_seconds / { print $2 }' "$M")
python3 -c "import sys; t=float(sys.argv[1]); sys.exit(0 if float(sys.argv[2]) - 1 <= t <= float(sys.argv[3]) + 1 else 1)" \
	"$ok_at" "$t0" "$t1" || fail "last success $ok_at not between $t0 and $t1"
[[ -z $(find "$W/m" -name '*.tmp') ]] || fail "metrics temporary file left"
# The text form says the same in lines a person reads.
verify_rc 0 "$W/v1.txt" "$W/store"
grep -q "^verified: generation .*, seq $seq," "$W/v1.txt" || fail "text: $(cat "$W/v1.txt")"
grep -q '^RPO now: ' "$W/v1.txt" || fail "text: no RPO: $(cat "$W/v1.txt")"
grep -q '8 image references, all present' "$W/v1.txt" || fail "text: $(cat "$W/v1.txt")"

step "--at a time in the middle, --sample 3"
verify_rc 0 "$W/v2.json" "$W/store" --json --at "$T_MID"
# Before p41 and its late.jpg; p1 and p2 name 7 images.
py "j['points'][0]['seq'] < $seq and j['points'][0]['time_ms'] <= $T_MID * 1000
	and 2 <= j['points'][0]['posts'] <= 40 and j['points'][0]['image_refs'] == 7" "$W/v2.json" ||
	fail "--at: $(cat "$W/v2.json")"
verify_rc 0 "$W/v3.json" "$W/store" --json --sample 3
py "len(j['points']) == 3 and all(p['ok'] and 'asked_ms' in p and p['time_ms'] <= p['asked_ms'] for p in j['points'])
	and [p['asked_ms'] for p in j['points']] == sorted(p['asked_ms'] for p in j['points'])" "$W/v3.json" ||
	fail "--sample: $(cat "$W/v3.json")"
verify_rc 2 "$W/v4" "$W/store" --sample 3 --at "$T_MID"
grep -q 'do not go together' "$W/v4.err" || fail "--sample with --at: $(cat "$W/v4.err")"
verify_rc 2 "$W/v4" "$W/store" --sample 0
verify_rc 2 "$W/v4" "$W/store" --scratch "$W/nowhere"
grep -q "error: --scratch '$W/nowhere' cannot be used" "$W/v4.err" || fail "missing scratch: $(cat "$W/v4.err")"

step "too little scratch space: refused before any download"
REVENANT_TEST_SCRATCH_FREE=1M verify_rc 1 "$W/v5" "$W/store"
grep -qE "error: not enough scratch space in '$W/scratch/revenant-verify\.[^']+': the point needs [0-9.]+ MiB .* 1\.0 MiB free" "$W/v5.err" ||
	fail "scratch refusal: $(cat "$W/v5.err")"
! grep -q 'sqlite: restored' "$W/v5.err" || fail "the database was restored before the refusal"

step "SIGINT during the drill: exit 130, the scratch folder removed"
REVENANT_TESTPOINT=verify.planned "$REVENANT" --log-level warn verify --scratch "$W/scratch" \
	"file://$W/store" >"$W/i.out" 2>"$W/i.err" &
VP=$!
tp_wait_stopped "$VP" 30 || fail "verify did not stop at verify.planned: $(cat "$W/i.err")"
[[ -n $(ls -A "$W/scratch") ]] || fail "no scratch folder while the drill runs"
kill -INT "$VP"
kill -CONT "$VP"
rc=0
wait "$VP" || rc=$?
[[ $rc == 130 ]] || fail "an interrupted verify exited $rc: $(cat "$W/i.err")"
grep -q '^error: .*interrupted' "$W/i.err" || fail "interrupted: $(cat "$W/i.err")"
[[ -z $(ls -A "$W/scratch") ]] || fail "an interrupted verify left $(ls -A "$W/scratch")"

step "the store is unchanged by all of that"
store_sums >"$W/sums.after"
diff "$W/sums.before" "$W/sums.after" >/dev/null || fail "verify changed the store: $(diff "$W/sums.before" "$W/sums.after")"

# damaged STORE-COPY: a fresh copy of the store to damage.
damaged() {
	rm -rf "$W/$1"
	cp -a "$W/store" "$W/$1"
	D=$W/$1
}
flip() { # flip FILE OFFSET
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $(((b + 1) % 256)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# damage_zst FILE: flip a byte that changes what the zstd object holds.
# Not every byte does: a flip in bits the decoder never reads leaves the
# content (and both checksums over it) as it was, and such an object is
# not damaged at all (it restores to the same bytes).
damage_zst() {
	local f=$1 off want
	want=$(zstdcat "$f" | sha256sum)
	cp "$f" "$f.orig"
	for off in $(seq $(($(stat -c %s "$f") / 2)) $(($(stat -c %s "$f") - 1))); do
		flip "$f" "$off"
		if ! zstd -qt "$f" 2>/dev/null || [[ $(zstdcat "$f" 2>/dev/null | sha256sum) != "$want" ]]; then
			rm "$f.orig"
			return 0
		fi
		cp "$f.orig" "$f"
	done
	fail "no byte of $f changes its content"
}

step "a flipped byte in a blob: exit 9, the file and its blob named"
damaged s1
sha=$(sha256sum "$W/content/images/2026/12/big.png" | cut -c1-64)
flip "$D/blobs/sha256/${sha:0:2}/$sha" 1000
verify_rc 9 "$W/d1" "$D" --json --metrics-file "$M"
grep -q "error: the point at .* does not restore: .*images/2026/12/big.png" "$W/d1.err" ||
	fail "blob damage: $(cat "$W/d1.err")"
py "not j['ok'] and j['exit_code'] == 9 and 'big.png' in j['points'][0]['error']" "$W/d1" ||
	fail "blob damage JSON: $(cat "$W/d1")"
grep -qx 'revenant_verify_ok 0' "$M" || fail "metrics after a failure: $(cat "$M")"
grep -qx "revenant_verify_last_success_timestamp_seconds $ok_at" "$M" ||
	fail "the last success's time was not kept: $(cat "$M")"

step "a flipped byte in a database segment: exit 9, the segment named"
damaged s2
seg=$(cd "$D" && find generations -path '*/db/log/*' | sort | head -1)
damage_zst "$D/$seg"
verify_rc 9 "$W/d2" "$D"
grep -qF "$seg" "$W/d2.err" || fail "segment damage does not name '$seg': $(cat "$W/d2.err")"

step "a database segment removed: exit 9, the gap named"
damaged s5
rm "$D/$seg"
verify_rc 9 "$W/d5s" "$D"
grep -q "does not restore: generation .*: database log has a gap: position 0 is missing" "$W/d5s.err" ||
	fail "segment gap: $(cat "$W/d5s.err")"

step "a truncated manifest: exit 9, the manifest named"
damaged s3
man=$(cd "$D" && find generations -path '*/content/snapshot/*' | sort | tail -1)
truncate -s $(($(stat -c %s "$D/$man") / 2)) "$D/$man"
verify_rc 9 "$W/d3" "$D"
grep -qF "$man" "$W/d3.err" || fail "manifest damage does not name '$man': $(cat "$W/d3.err")"

step "a content log removed (a gap): exit 9, the sequence named"
damaged s4
log2=$(cd "$D" && find generations -path '*/content/log/*' | sort | sed -n 2p)
rm "$D/$log2"
verify_rc 9 "$W/d4" "$D"
grep -q "content log has a gap: sequence 2 is missing" "$W/d4.err" || fail "gap: $(cat "$W/d4.err")"

step "a post names an image the point lacks: exit 9, image and post named"
T_GOOD=$(date +%s.%N)
sleep 0.3
start_replicate 1
sql "$DB" "INSERT INTO posts(id, title, lexical) VALUES ('p42', 'broken', '{\"src\":\"__GHOST_URL__/content/images/2026/12/gone.jpg\"}')"
rm "$W/content/images/2026/12/gone.jpg"
until_ok 20 in_logs '^del images/2026/12/gone.jpg$' || fail "no commit of the image's removal"
stop_replicate
verify_rc 9 "$W/d5.json" "$W/store" --json
grep -q "error: the point at .* does not restore: 1 image named by posts is missing from the folder (first: post p42 names 'images/2026/12/gone.jpg')" "$W/d5.json.err" ||
	fail "missing image: $(cat "$W/d5.json.err")"
py "j['points'][0]['missing'] == [{'post': 'p42', 'path': 'images/2026/12/gone.jpg'}]" "$W/d5.json" ||
	fail "missing image JSON: $(cat "$W/d5.json")"
verify_rc 0 "$W/d6" "$W/store" --at "$T_GOOD"
# The first generation's latest point is the good one.
gen1=$(ls "$W/store/generations" | head -1)
verify_rc 0 "$W/d7.json" "$W/store" --json --generation "$gen1"
py "j['points'][0]['generation'] == '$gen1' and j['points'][0]['posts'] == 41" "$W/d7.json" ||
	fail "--generation: $(cat "$W/d7.json")"
verify_rc 2 "$W/d7" "$W/store" --generation "$gen1" --sample 2

step "--pushgateway: the gauges POSTed to URL/metrics/job/revenant_verify"
python3 - "$W/pg.port" "$W/pushed" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "ab") as f:
            f.write(("%s %s %s\n" % (self.command, self.path, self.headers.get("Content-Type"))).encode() + body)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    do_PUT = do_POST
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".tmp", "w").write(str(s.server_port))
__import__("os").rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
PY
PG=$!
have_port() { [ -s "$W/pg.port" ]; }
until_ok 10 have_port || fail "the pushgateway listener did not start"
PGURL=http://127.0.0.1:$(cat "$W/pg.port")/
verify_rc 0 "$W/p1" "$W/store" --at "$T_GOOD" --pushgateway "$PGURL"
grep -qx 'POST /metrics/job/revenant_verify text/plain; version=0.0.4' "$W/pushed" || fail "push: $(cat "$W/pushed")"
grep -qx 'revenant_verify_ok 1' "$W/pushed" && grep -q '^revenant_verify_last_success_timestamp_seconds ' "$W/pushed" ||
	fail "push: $(cat "$W/pushed")"
: >"$W/pushed"
verify_rc 9 "$W/p2" "$W/s1" --pushgateway "$PGURL"
grep -qx 'revenant_verify_ok 0' "$W/pushed" && ! grep -q 'last_success' "$W/pushed" ||
	fail "push after a failure: $(cat "$W/pushed")"
kill "$PG"
wait "$PG" 2>/dev/null || true
PG=
verify_rc 3 "$W/p3" "$W/store" --at "$T_GOOD" --pushgateway "$PGURL"
grep -q '^error: ' "$W/p3.err" || fail "unreachable pushgateway: $(cat "$W/p3.err")"

step "a store without a database: the folder alone"
mkdir "$W/store-c"
sed -e "s|file://$W/store|file://$W/store-c|" -e '/^database:/d' "$W/r.yml" >"$W/rc.yml"
"$REVENANT" -c "$W/rc.yml" replicate 2>>"$W/rep-c.log" &
RP=$!
until_ok 20 in_logs '^file images/2026/12/big.png ' "$W/store-c" || fail "content-only replicate shipped nothing"
stop_replicate
verify_rc 0 "$W/c1.json" "$W/store-c" --json
py "(lambda p: p['ok'] and p['db_position'] is None and not p['ghost_schema'] and p['files'] == 4)(j['points'][0])" \
	"$W/c1.json" || fail "content-only: $(cat "$W/c1.json")"
echo "PASS"
