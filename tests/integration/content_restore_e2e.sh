#!/usr/bin/env bash
# content_restore_e2e.sh - revenant's own writer and reader together:
# `replicate` ships a folder while it changes (and across a restart, which
# starts a new generation), a `standby` follows it live, and `restore` into
# an empty folder gives the same tree (diff -r; modes and mtimes).
set -euo pipefail

: "${REVENANT:?set REVENANT to the built binary}"
: "${RV_TESTDIR:?set RV_TESTDIR to tests/}"
export LC_ALL=C.UTF-8
umask 022

WORK=$(mktemp -d /tmp/rv-restore-e2e.XXXXXX)
REP=
SB=
cleanup() {
	for p in $REP $SB; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

FX="python3 $RV_TESTDIR/integration/content_restore_fixture.py"
SRC=$WORK/content
STORE=$WORK/store
checks=0
fail() {
	echo "FAIL: $*" >&2
	for f in rep.log sb.log; do [ -f "$WORK/$f" ] && { echo "--- $f" >&2; tail -15 "$WORK/$f" >&2; }; done
	exit 1
}
ok() { checks=$((checks + 1)); }

mkdir -p "$STORE"
cat >"$WORK/rv.yml" <<EOF
site: dc
sync_interval: 200ms
store:
  url: file://$STORE
metrics:
  listen: off
content:
  path: $SRC
EOF

# What restore must give back: the folder without the default excludes.
expected() {
	rm -rf "$WORK/expected"
	cp -a "$SRC" "$WORK/expected"
	rm -rf "$WORK/expected/logs" "$WORK/expected/images/size"
}
same_tree() { # same_tree WANT GOT [--no-dir-mtime]
	$FX sig "$1" ${3:-} >"$WORK/sig.want"
	$FX sig "$2" ${3:-} | grep -v "^b'.revenant-staging" >"$WORK/sig.got" || true
	diff "$WORK/sig.want" "$WORK/sig.got" >"$WORK/sig.diff" ||
		fail "$2 differs from $1: $(head -20 "$WORK/sig.diff")"
	ok
}
start_replicate() {
	"$REVENANT" -c "$WORK/rv.yml" replicate >>"$WORK/rep.out" 2>>"$WORK/rep.log" &
	REP=$!
}
stop_replicate() {
	kill -TERM "$REP"
	wait "$REP" || fail "replicate did not stop cleanly"
	REP=
}
# wait_store: a restore of the latest point equals the folder (within 20 s).
wait_store() {
	expected
	for _ in $(seq 1 100); do
		rm -rf "$WORK/probe"
		if "$REVENANT" --log-level error restore --to "$WORK/probe" "file://$STORE" >/dev/null 2>&1 &&
			$FX sig "$WORK/expected" --no-dir-mtime >"$WORK/a" &&
			$FX sig "$WORK/probe" --no-dir-mtime >"$WORK/b" && cmp -s "$WORK/a" "$WORK/b"; then
			ok
			return 0
		fi
		sleep 0.2
	done
	diff "$WORK/a" "$WORK/b" | head >&2 || true
	fail "the store did not converge to the folder ($1)"
}

mkdir -p "$SRC/images/2026/01" "$SRC/images/size/w600" "$SRC/logs" "$SRC/themes/casper" "$SRC/files"
for i in $(seq 1 50); do head -c $((i * 997)) /dev/urandom >"$SRC/images/2026/01/p$i.jpg"; done
printf 'resized' >"$SRC/images/size/w600/p1.jpg"
printf 'log' >"$SRC/logs/ghost.log"
printf 'theme' >"$SRC/themes/casper/index.hbs"
printf 'u' >"$SRC/files/ünï cødé.txt"
printf 'n' >"$SRC/files/new"$'\n'"line.txt"
chmod 0600 "$SRC/files/ünï cødé.txt"

start_replicate
wait_store "initial sync"

"$REVENANT" standby --to "$WORK/standby" --interval 200ms --metrics-listen off "file://$STORE" \
	>/dev/null 2>"$WORK/sb.log" &
SB=$!

# Changes while both run.
rm "$SRC/images/2026/01/p3.jpg"
printf 'changed' >"$SRC/themes/casper/index.hbs"
mkdir -p "$SRC/images/2026/02/nested/deeper"
for i in $(seq 1 30); do printf 'feb %d' "$i" >"$SRC/images/2026/02/nested/deeper/f$i.png"; done
mv "$SRC/files" "$SRC/documents"
wait_store "after changes"
sleep 0.5
T_MID=$(date +%s.%N)
cp -a "$SRC" "$WORK/mid"
rm -rf "$WORK/mid/logs" "$WORK/mid/images/size"
sleep 0.5

# A restart: a new generation that continues the first.
stop_replicate
rm -r "$SRC/themes"
printf 'while stopped' >"$SRC/offline.txt"
start_replicate
wait_store "after a restart"
stop_replicate
[ "$(ls "$STORE/generations" | wc -l)" -ge 2 ] || fail "no second generation after the restart"
ok

# Restore the latest point into an empty folder: byte for byte, modes, mtimes.
expected
"$REVENANT" --log-level warn restore --to "$WORK/restored" -j 8 "file://$STORE" >"$WORK/out" ||
	fail "restore: $(cat "$WORK/out")"
diff -r "$WORK/expected" "$WORK/restored" || fail "diff -r after restore"
ok
same_tree "$WORK/expected" "$WORK/restored" --no-dir-mtime

# --at the middle point (inside the first generation).
"$REVENANT" --log-level warn restore --to "$WORK/restored-mid" --at "$T_MID" "file://$STORE" \
	>/dev/null || fail "restore --at"
diff -r "$WORK/mid" "$WORK/restored-mid" || fail "diff -r after restore --at"
ok

# The standby followed all of it, across the generation change.
for _ in $(seq 1 100); do
	$FX sig "$WORK/expected" --no-dir-mtime >"$WORK/a"
	$FX sig "$WORK/standby" --no-dir-mtime | grep -v "^b'.revenant-staging" >"$WORK/b" || true
	cmp -s "$WORK/a" "$WORK/b" && break
	sleep 0.2
done
cmp -s "$WORK/a" "$WORK/b" || fail "standby differs: $(diff "$WORK/a" "$WORK/b" | head)"
ok
kill -TERM "$SB"
wait "$SB" || fail "standby did not stop cleanly"
SB=
diff -r "$WORK/expected" "$WORK/standby" || fail "diff -r of the standby"
ok

echo "content_restore_e2e: $checks checks passed"
