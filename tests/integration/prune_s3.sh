#!/usr/bin/env bash
# prune_s3.sh - `revenant prune` against a real s3rver (tests/lib/s3rver.sh):
# `revenant replicate` (content folder + SQLite) writes two generations to
# S3, then prune with the cutoff between them removes the first generation
# and the blob only it named, keeps the rest, and every point at or after
# the cutoff restores byte for byte (folder and rows) from S3.
set -euo pipefail

: "${REVENANT:?set REVENANT to the built binary}"
: "${RV_TESTDIR:?set RV_TESTDIR to tests/}"
export LC_ALL=C.UTF-8
umask 022

WORK=$(mktemp -d /tmp/rv-prune-s3.XXXXXX)
REP=
cleanup() {
	[ -n "$REP" ] && kill -9 "$REP" 2>/dev/null || true
	if declare -F s3rver_stop >/dev/null; then s3rver_stop || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE

SRC=$WORK/content
DB=$WORK/ghost.db
PT=$WORK/points
checks=0
fail() {
	echo "FAIL: $*" >&2
	[ -f "$WORK/rep.log" ] && { echo "--- rep.log" >&2; tail -15 "$WORK/rep.log" >&2; }
	exit 1
}
ok() { checks=$((checks + 1)); }
rv() { "$REVENANT" --log-level warn "$@"; }
now_ms() { date +%s%3N; }
at_arg() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
ret() { echo "$(($(now_ms) - TC))ms"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
dbw() {
	python3 - "$DB" "$1" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10)
c.execute(sys.argv[2])
c.commit()
PY
}
dbdump() {
	python3 - "$1" <<'PY'
import sqlite3, sys
for r in sqlite3.connect(sys.argv[1]).execute("select id, v from t order by id"):
    print(r)
PY
}

# shellcheck source=/dev/null
source "$RV_TESTDIR/lib/s3rver.sh"
export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--openssl-legacy-provider"
s3rver_start "$WORK/s3rver" || fail "cannot start s3rver"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
URL="s3://rv-prune/site?endpoint=$S3RVER_URL&region=us-east-1"
rv bucket init "$URL" >/dev/null || fail "bucket init"

mkdir -p "$SRC" "$PT"
cat >"$WORK/rv.yml" <<EOF
site: dc
sync_interval: 200ms
store:
  url: "$URL"
metrics:
  listen: off
content:
  path: $SRC
  manifest_every: 2
database:
  sqlite: $DB
  snapshot_interval: 1s
EOF
start_replicate() {
	"$REVENANT" -c "$WORK/rv.yml" replicate >>"$WORK/rep.log" 2>&1 &
	REP=$!
}
stop_replicate() {
	kill -TERM "$REP"
	wait "$REP" || fail "replicate did not stop cleanly"
	REP=
}
gens() { rv store ls "$URL" generations/ | sed -n 's|^generations/\([0-9a-f-]*\)/meta.json.*|\1|p'; }
restore_cmp() { # NAME T
	rm -rf "$WORK/out" "$WORK/out.db"
	rv restore --to "$WORK/out" --db "$WORK/out.db" --at "$(at_arg "$2")" "$URL" >/dev/null \
		2>"$WORK/restore.err" || fail "restore --at $1: $(cat "$WORK/restore.err")"
	diff -r "$PT/$1" "$WORK/out" >/dev/null || fail "content at $1 differs"
	dbdump "$WORK/out.db" | cmp -s - "$PT/$1.rows" || fail "database at $1 differs"
	ok
}
save_point() { # NAME: once the store's latest point is the folder + rows
	local i
	dbdump "$DB" >"$PT/$1.rows"
	for i in $(seq 1 100); do
		rm -rf "$WORK/probe" "$WORK/probe.db"
		if rv restore --to "$WORK/probe" --db "$WORK/probe.db" "$URL" >/dev/null 2>&1 &&
			diff -r "$SRC" "$WORK/probe" >/dev/null &&
			dbdump "$WORK/probe.db" | cmp -s - "$PT/$1.rows"; then
			sleep 0.3
			eval "T_$1=$(now_ms)"
			cp -a "$SRC" "$PT/$1"
			sleep 0.3
			ok
			return 0
		fi
		sleep 0.2
	done
	fail "the store did not reach point $1"
}

dbw "create table t(id integer primary key, v text)"
dbw "insert into t(v) values('one')"
printf 'a' >"$SRC/a.txt"
head -c 5000 /dev/urandom >"$SRC/doomed.bin"
SHA_DOOMED=$(sha "$SRC/doomed.bin")
SHA_A=$(sha "$SRC/a.txt")
start_replicate # generation 1
save_point p1
rm "$SRC/doomed.bin"
dbw "insert into t(v) values('two')"
save_point p2
stop_replicate
G1=$(gens | tail -1)
sleep 1.2
TC=$(now_ms) # the cutoff: the state here is p2
T_pc=$TC
cp -a "$PT/p2" "$PT/pc"
cp "$PT/p2.rows" "$PT/pc.rows"
sleep 1.2
start_replicate # generation 2, the lease's
save_point p3
printf 'b' >"$SRC/b.txt"
dbw "insert into t(v) values('three')"
save_point p4
G2=$(gens | tail -1)
[ "$G1" != "$G2" ] || fail "no second generation"

rv prune --retention "$(ret)" --blob-grace 1ms "$URL" >"$WORK/prune.out" ||
	fail "prune: $(cat "$WORK/prune.out")"
grep -q '^generations   removed 0 ' "$WORK/prune.out" ||
	fail "the parent of the window's first generation went: $(cat "$WORK/prune.out")"
ok
for p in pc p3 p4; do restore_cmp "$p" "$(eval echo "\$T_$p")"; done

# Move the cutoff past generation 2's start: generation 1 goes, and with it
# (now or in the first run, with generation 1's older objects) the blob only
# it named.
sleep 1.2
TC=$(now_ms)
T_pc2=$TC
cp -a "$PT/p4" "$PT/pc2"
cp "$PT/p4.rows" "$PT/pc2.rows"
sleep 1.2
rv prune --retention "$(ret)" --blob-grace 1ms --json "$URL" >"$WORK/prune.json" ||
	fail "prune: $(cat "$WORK/prune.json")"
python3 - "$WORK/prune.json" <<'PY' || fail "prune output: $(cat "$WORK/prune.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["generations"]["removed"] == 1 and j["generations"]["kept"] == 1, j["generations"]
assert not j["blobs"]["skipped"], j["blobs"]
PY
[ -z "$(rv store ls "$URL" "generations/$G1/")" ] || fail "generation 1 still lists objects"
[ -n "$(rv store ls "$URL" "generations/$G2/meta.json")" ] || fail "the lease's generation went"
rc=0
rv store head "$URL" "blobs/sha256/${SHA_DOOMED:0:2}/$SHA_DOOMED" >/dev/null 2>&1 || rc=$?
[ "$rc" = 5 ] || fail "the blob only generation 1 named is still there (head exit $rc)"
for k in "$SHA_A" "$(sha "$SRC/b.txt")"; do
	rv store head "$URL" "blobs/sha256/${k:0:2}/$k" >/dev/null || fail "a kept blob ($k) went"
done
ok
for p in pc2 p4; do restore_cmp "$p" "$(eval echo "\$T_$p")"; done
stop_replicate
echo "prune_s3: $checks checks passed"
