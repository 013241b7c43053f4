#!/usr/bin/env bash
# prune.sh - retention against a real history: `revenant replicate` (content
# folder + SQLite database) over three generations, then `revenant prune`
# with a cutoff C inside the second generation, while the third replicates:
#   - --dry-run deletes nothing (every file of the store is unchanged);
#   - the first generation goes, the second (the parent the state at C
#     comes from) and the lease's stay; older objects inside them go;
#   - every point at or after C restores byte for byte (folder and rows),
#     a point before C no longer does (exit 5);
#   - unreferenced blobs stay within the grace and go after it; referenced
#     ones stay;
#   - a damaged kept object stops the blob sweep (exit 7, no blob deleted);
#   - prune stopped at a test point after the K-th delete inside the
#     removal of generation 1 or inside the blob sweep and killed there
#     leaves a store that restores every point at or after C, and a second
#     run finishes.
set -euo pipefail

: "${REVENANT:?set REVENANT to the built binary}"
export LC_ALL=C.UTF-8
umask 022

WORK=$(mktemp -d /tmp/rv-prune.XXXXXX)
REP=
cleanup() {
	[ -n "$REP" ] && kill -9 "$REP" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

SRC=$WORK/content
STORE=$WORK/store
DB=$WORK/ghost.db
PT=$WORK/points
checks=0
fail() {
	echo "FAIL: $*" >&2
	[ -f "$WORK/rep.log" ] && { echo "--- rep.log" >&2; tail -15 "$WORK/rep.log" >&2; }
	exit 1
}
ok() { checks=$((checks + 1)); }
now_ms() { date +%s%3N; }
at_arg() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
# The retention that puts the cutoff at TC (prune reads its clock a little
# later, so its C is at most a few ms after TC: nothing happens around TC).
ret() { echo "$(($(now_ms) - TC))ms"; }

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

mkdir -p "$SRC" "$STORE" "$PT"
cat >"$WORK/rv.yml" <<EOF
site: dc
sync_interval: 200ms
store:
  url: file://$STORE
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
newest_gen() { ls "$STORE/generations" | tail -1; }

# restore_cmp NAME T STORE: the point at T equals what was saved as NAME.
restore_cmp() {
	local name=$1 t=$2 store=$3
	rm -rf "$WORK/out" "$WORK/out.db"
	"$REVENANT" --log-level error restore --to "$WORK/out" --db "$WORK/out.db" \
		--at "$(at_arg "$t")" "file://$store" >/dev/null 2>"$WORK/restore.err" ||
		fail "restore --at $name ($store): $(cat "$WORK/restore.err")"
	diff -r "$PT/$name" "$WORK/out" >/dev/null || fail "content at $name differs ($store)"
	dbdump "$WORK/out.db" | cmp -s - "$PT/$name.rows" || fail "database at $name differs ($store)"
	ok
}

# save_point NAME: once the latest point in the store equals the folder and
# the database, remember it (T_NAME, a copy of both).
save_point() {
	local name=$1 i
	dbdump "$DB" >"$PT/$name.rows"
	for i in $(seq 1 100); do
		rm -rf "$WORK/probe" "$WORK/probe.db"
		if "$REVENANT" --log-level error restore --to "$WORK/probe" --db "$WORK/probe.db" \
			"file://$STORE" >/dev/null 2>&1 &&
			diff -r "$SRC" "$WORK/probe" >/dev/null &&
			dbdump "$WORK/probe.db" | cmp -s - "$PT/$name.rows"; then
			sleep 0.3
			eval "T_$name=$(now_ms)"
			cp -a "$SRC" "$PT/$name"
			sleep 0.3
			ok
			return 0
		fi
		sleep 0.2
	done
	fail "the store did not reach point $name"
}

blob_of() { echo "$STORE/blobs/sha256/${1:0:2}/$1"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
# Every object but the running replicate's (generation G3, temporaries).
store_sig() {
	(cd "$1" && find . -type f ! -name .rv-lock ! -name '.rv-tmp.*' ! -path "./generations/$G3/*" \
		-print0 | sort -z | xargs -0 sha256sum)
}

# ---- history --------------------------------------------------------------
dbw "create table t(id integer primary key, v text)"
dbw "insert into t(v) values('one')"
head -c $((3 << 20)) /dev/urandom >"$SRC/big.bin" # a blob past the 1 MiB in-memory path
printf 'a v1' >"$SRC/a.txt"
printf 'b' >"$SRC/b.txt"
head -c 5000 /dev/urandom >"$SRC/doomed.bin"
SHA_DOOMED=$(sha "$SRC/doomed.bin")
SHA_B=$(sha "$SRC/b.txt")
SHA_A1=$(sha "$SRC/a.txt")
SHA_BIG=$(sha "$SRC/big.bin")

start_replicate # generation 1
save_point p1
G1=$(newest_gen)
# More history in generation 1, so that a kill lands inside its removal
# (8 more blobs only generation 1 names: 10 unreferenced blobs in all).
for i in $(seq 1 8); do
	printf 'churn %d' "$i" >"$SRC/churn.txt"
	dbw "insert into t(v) values('churn $i')"
	sleep 0.4
done
rm "$SRC/churn.txt"
rm "$SRC/doomed.bin"
printf 'c' >"$SRC/c.txt"
dbw "insert into t(v) values('two')"
save_point p2
stop_replicate

start_replicate # generation 2
save_point p3
G2=$(newest_gen)
[ "$G2" != "$G1" ] || fail "no second generation"
rm "$SRC/b.txt"
printf 'd' >"$SRC/d.txt"
dbw "insert into t(v) values('three')"
save_point p4
printf 'e' >"$SRC/e.txt"
dbw "insert into t(v) values('four')"
save_point p5
sleep 1.2
TC=$(now_ms) # the cutoff: the state here is p5
T_pc=$TC
cp -a "$PT/p5" "$PT/pc"
cp "$PT/p5.rows" "$PT/pc.rows"
sleep 1.2
stop_replicate

start_replicate # generation 3, the lease's, running during the prunes
save_point p6
G3=$(newest_gen)
[ "$G3" != "$G2" ] || fail "no third generation"
printf 'a v2' >"$SRC/a.txt"
dbw "insert into t(v) values('five')"
save_point p7
rm "$SRC/c.txt"
dbw "update t set v = 'FIVE' where v = 'five'"
save_point p8

ls "$STORE/generations/$G2/content/snapshot" | grep -q '^0000000000000000-' ||
	fail "generation 2 has no first manifest"
[ "$(ls "$STORE/generations/$G2/content/snapshot" | wc -l)" -ge 2 ] ||
	fail "generation 2 has one manifest only: nothing to trim inside it"
for s in $SHA_DOOMED $SHA_B $SHA_A1 $SHA_BIG; do
	[ -f "$(blob_of "$s")" ] || fail "blob $s not in the store"
done
ok

# Copies of the store while generation 3 replicates into it: its temporary
# objects come and go under `cp -a` (which then fails), so they are left
# out; finished objects only ever appear by rename.  Times are kept (the
# blob grace reads them).
copy_store() {
	python3 -c 'import shutil, sys
shutil.copytree(sys.argv[1], sys.argv[2], symlinks=True,
                ignore=shutil.ignore_patterns(".rv-tmp.*"))' "$1" "$2" || fail "cannot copy the store"
}
copy_store "$STORE" "$WORK/store-kill" # for the SIGKILL runs
copy_store "$STORE" "$WORK/store-bad"  # for the damaged-object run
check_window() {                  # every saved point at or after C, in store $1
	for p in pc p6 p7 p8; do restore_cmp "$p" "$(eval echo "\$T_$p")" "$1"; done
}
check_window "$STORE"

# ---- dry run --------------------------------------------------------------
store_sig "$STORE" >"$WORK/sig.before"
"$REVENANT" --log-level warn prune --dry-run --retention "$(ret)" --blob-grace 1ms \
	"file://$STORE" >"$WORK/dry.out" || fail "prune --dry-run: $(cat "$WORK/dry.out")"
grep -q '^generations   would remove 1 ' "$WORK/dry.out" || fail "dry run: $(cat "$WORK/dry.out")"
grep -q '^blobs         would remove 10 ' "$WORK/dry.out" || fail "dry run blobs: $(cat "$WORK/dry.out")"
store_sig "$STORE" >"$WORK/sig.after"
diff "$WORK/sig.before" "$WORK/sig.after" >/dev/null ||
	fail "--dry-run changed the store"
ok

# ---- prune, default blob grace (1 h) ----------------------------------------
"$REVENANT" --log-level warn prune --retention "$(ret)" --json "file://$STORE" >"$WORK/p1.json" ||
	fail "prune: $(cat "$WORK/p1.json")"
python3 - "$WORK/p1.json" <<'PY' || fail "prune output: $(cat "$WORK/p1.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert not j["dry_run"]
assert j["generations"]["removed"] == 1 and j["generations"]["kept"] == 2, j["generations"]
assert j["manifests"]["removed"] >= 1 and j["logs"]["removed"] >= 1, (j["manifests"], j["logs"])
assert j["db_snapshots"]["removed"] >= 1, j["db_snapshots"]
assert j["blobs"]["removed"] == 0 and j["blobs"]["young"] == 10, j["blobs"]
PY
[ ! -e "$STORE/generations/$G1" ] || fail "generation 1 is still there"
[ -z "$("$REVENANT" --log-level warn store ls "file://$STORE" "generations/$G1/")" ] ||
	fail "generation 1 still lists objects"
[ -f "$STORE/generations/$G2/meta.json" ] || fail "generation 2 (parent of the window) was removed"
[ -f "$STORE/generations/$G3/meta.json" ] || fail "the lease's generation was removed"
ls "$STORE/generations/$G2/content/snapshot" | grep -q '^0000000000000000-' &&
	fail "generation 2's first manifest (before C) was kept"
[ -f "$(blob_of "$SHA_DOOMED")" ] || fail "an unreferenced blob went within the grace"
ok
check_window "$STORE"
rm -rf "$WORK/out" "$WORK/out.db"
rc=0
"$REVENANT" --log-level error restore --to "$WORK/out" --db "$WORK/out.db" --at "$(at_arg "$T_p1")" \
	"file://$STORE" >/dev/null 2>&1 || rc=$?
[ "$rc" = 5 ] || fail "restore of a point before C: exit $rc, want 5"
ok

# ---- prune, short blob grace ---------------------------------------------------
"$REVENANT" --log-level warn prune --retention "$(ret)" --blob-grace 1ms "file://$STORE" \
	>"$WORK/p2.out" || fail "prune --blob-grace: $(cat "$WORK/p2.out")"
grep -q '^generations   removed 0 ' "$WORK/p2.out" || fail "second prune: $(cat "$WORK/p2.out")"
grep -q '^blobs         removed 10 ' "$WORK/p2.out" || fail "second prune: $(cat "$WORK/p2.out")"
[ ! -e "$(blob_of "$SHA_DOOMED")" ] || fail "the blob only generation 1 named is still there"
[ ! -e "$(blob_of "$SHA_B")" ] || fail "the blob only removed manifests named is still there"
[ -f "$(blob_of "$SHA_A1")" ] || fail "a blob the kept manifest of generation 2 names went"
[ -f "$(blob_of "$SHA_BIG")" ] || fail "a blob every point names went"
ok
check_window "$STORE"

# ---- a damaged kept object: no blob deleted, exit 7 --------------------------
bad=$(ls "$WORK/store-bad/generations/$G3/content/log/" | tail -1)
printf 'garbage' >"$WORK/store-bad/generations/$G3/content/log/$bad"
n_before=$(find "$WORK/store-bad/blobs" -type f | wc -l)
rc=0
"$REVENANT" --log-level error prune --retention "$(ret)" --blob-grace 1ms "file://$WORK/store-bad" \
	>"$WORK/bad.out" 2>"$WORK/bad.err" || rc=$?
[ "$rc" = 7 ] || fail "prune with a damaged object: exit $rc, want 7 ($(cat "$WORK/bad.err"))"
grep -q "$bad" "$WORK/bad.err" || fail "the error does not name the object: $(cat "$WORK/bad.err")"
grep -q '^blobs: *skipped' "$WORK/bad.out" || fail "the output does not say so: $(cat "$WORK/bad.out")"
[ "$(find "$WORK/store-bad/blobs" -type f | wc -l)" = "$n_before" ] || fail "blobs were deleted"
ok

# ---- SIGKILL at several moments ------------------------------------------------
# Stop prune at a test point (src/core/testpoint.h) after the K-th delete
# inside the removal of generation 1, or inside the blob sweep, and kill
# it there: the store must restore the window whatever was deleted so far,
# and a second run must finish the job.
stop_replicate
. "$RV_SRCDIR/tests/lib/testpoint.sh"
count() { find "$1" -type f 2>/dev/null | wc -l; }
# 300 more orphan blobs from before C (as a long-running store collects):
# a sweep with deletes to stop between.
python3 - "$WORK/store-kill/blobs/sha256" "$((TC / 1000 - 60))" <<'PY'
import hashlib, os, sys
root, old = sys.argv[1], int(sys.argv[2])
for i in range(300):
    data = b"orphan %d" % i
    h = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(root, h[:2]), exist_ok=True)
    p = os.path.join(root, h[:2], h)
    with open(p, "wb") as f:
        f.write(data)
    os.utime(p, (old, old))
PY
# Generation 1 grows by 400 database segments (named as replicate names
# them, from before C; prune removes a dropped generation unread): a removal
# (8 deletes at a time) with deletes to stop between.
python3 - "$WORK/store-kill/generations/$G1/db/log" "$((TC - 120000))" <<'PY'
import os, sys
d, ms = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
for i in range(400):
    with open(os.path.join(d, "%016x-%016x-%016x.wal.zst" % (1 << 40 | i, 1 << 40 | i + 1, ms + i)), "wb") as f:
        f.write(b"filler %d" % i)
PY
mid_gen=0
mid_blobs=0
for kill_at in gen:1 gen:8 gen:150 gen:390 blobs:1 blobs:150 blobs:295; do
	phase=${kill_at%%:*}
	rm -rf "$WORK/sk"
	cp -a "$WORK/store-kill" "$WORK/sk"
	if [ "$phase" = gen ]; then
		watch="$WORK/sk/generations/$G1"
		tp="prune.generation>store.deleted@${kill_at#*:}"
	else
		watch="$WORK/sk/blobs"
		tp="prune.blobs>store.deleted@${kill_at#*:}"
	fi
	n0=$(count "$watch")
	REVENANT_TESTPOINT=$tp "$REVENANT" --log-level error prune --retention "$(ret)" \
		--blob-grace 1ms "file://$WORK/sk" >/dev/null 2>"$WORK/tp.err" &
	pid=$!
	tp_wait_stopped "$pid" || fail "prune did not stop at $tp: $(cat "$WORK/tp.err")"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	if [ "$phase" = gen ]; then
		[ -f "$watch/meta.json" ] && [ "$(count "$watch")" -lt "$n0" ] ||
			fail "$tp: the kill did not land inside the removal of generation 1"
		mid_gen=$((mid_gen + 1))
	else
		[ "$(count "$watch")" -lt "$n0" ] && [ "$(count "$watch")" -gt $((n0 - 310)) ] ||
			fail "$tp: the kill did not land inside the blob sweep"
		mid_blobs=$((mid_blobs + 1))
	fi
	check_window "$WORK/sk"
	"$REVENANT" --log-level warn prune --retention "$(ret)" --blob-grace 1ms \
		"file://$WORK/sk" >/dev/null || fail "prune after a kill at $tp"
	# (a kill between a file store's unlink and rmdir can leave empty folders)
	[ "$(count "$WORK/sk/generations/$G1")" = 0 ] || fail "$tp: the second run left generation 1"
	[ ! -e "$WORK/sk/blobs/sha256/${SHA_DOOMED:0:2}/$SHA_DOOMED" ] ||
		fail "$tp: the second run left an unreferenced blob"
	[ "$(count "$WORK/sk/blobs")" = "$(count "$STORE/blobs")" ] ||
		fail "$tp: the second run left other blobs than the pruned store keeps"
	check_window "$WORK/sk"
done
echo "prune: $checks checks passed ($mid_gen kills inside a generation's removal, $mid_blobs inside the blob sweep)"
