#!/usr/bin/env bash
# content_restore_cli.sh - `revenant restore` against a file:// store whose
# history is written by an independent writer of docs/FORMAT.md
# (content_restore_fixture.py): latest and --at points, hostile names,
# modes and mtimes, corruption and missing blobs, --delete, resume after
# kill -9, parent generations.
set -euo pipefail

: "${REVENANT:?set REVENANT to the built binary}"
: "${RV_TESTDIR:?set RV_TESTDIR to tests/}"
export LC_ALL=C.UTF-8
umask 022

WORK=$(mktemp -d /tmp/rv-restore-cli.XXXXXX)
BG=
cleanup() {
	if [ -n "$BG" ]; then kill -9 "$BG" 2>/dev/null || true; fi
	chmod -R u+rwx "$WORK" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

FX="python3 $RV_TESTDIR/integration/content_restore_fixture.py"
STORE=$WORK/store
URL=file://$STORE
SRC=$WORK/src
rv() { "$REVENANT" --log-level warn restore "$@"; }
sig() { $FX sig "$1"; }

checks=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); }
expect_rc() { # expect_rc CODE CMD...: stdout in $WORK/out, stderr in $WORK/err
	local want=$1 rc=0
	shift
	"$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
	[ "$rc" -eq "$want" ] || fail "'$*' exited $rc, wanted $want; stderr: $(cat "$WORK/err")"
	ok
}
same_tree() { # same_tree WANT GOT: content, types, modes, mtimes, link targets
	sig "$1" >"$WORK/sig.want"
	sig "$2" >"$WORK/sig.got"
	diff "$WORK/sig.want" "$WORK/sig.got" >"$WORK/sig.diff" ||
		fail "$2 differs from $1: $(head -20 "$WORK/sig.diff")"
	diff -r --no-dereference "$1" "$2" >/dev/null || fail "diff -r $1 $2"
	ok
}
snap() { cp -a "$SRC" "$WORK/state$1"; }

# --- a history ---------------------------------------------------------------
mkdir -p "$SRC/images/2026/01" "$SRC/themes/casper/assets" "$SRC/empty dir" "$SRC/files"
printf 'jpeg-ish %s\n' {1..500} >"$SRC/images/2026/01/photo one.jpg"
head -c 300000 /dev/urandom >"$SRC/images/2026/01/big.bin"
printf 'css' >"$SRC/themes/casper/assets/screen.css"
printf '{}' >"$SRC/themes/casper/package.json"
: >"$SRC/files/empty"
printf 'unicode' >"$SRC/files/ünïcødé 日本語 😀.txt"
printf 'newline' >"$SRC/files/new"$'\n'"line"
printf 'percent' >"$SRC/files/100%25%.txt"
printf 'latin1' >"$SRC/files/caf"$'\xe9'".txt"
printf '#!/bin/sh\n' >"$SRC/files/run.sh" && chmod 0750 "$SRC/files/run.sh"
printf 'secret' >"$SRC/files/private" && chmod 0600 "$SRC/files/private"
chmod 0750 "$SRC/themes"
ln -s casper "$SRC/themes/current"
ln -s ../../../../etc/hostname "$SRC/files/outside"
touch -d '2001-02-03 04:05:06.123456789' "$SRC/files/private"
$FX init "$STORE" >"$WORK/gen1"
GEN1=$(cat "$WORK/gen1")
$FX snapshot "$STORE" "$SRC" --time 1000000 >/dev/null
snap 0

sleep 0.01
printf 'changed' >"$SRC/themes/casper/package.json"
rm "$SRC/images/2026/01/big.bin"
mkdir -p "$SRC/images/2026/02/deep/er"
printf 'feb' >"$SRC/images/2026/02/deep/er/f.png"
$FX commit "$STORE" "$SRC" --time 2000000 >/dev/null
snap 1

sleep 0.01
rm -r "$SRC/themes/casper" # a whole folder goes
printf 'file now' >"$SRC/empty dir2" # a new name
rmdir "$SRC/empty dir" && printf 'was a dir' >"$SRC/empty dir" # folder -> file
chmod 0644 "$SRC/files/run.sh" # mode only
$FX commit "$STORE" "$SRC" --time 3000000 >/dev/null
snap 2

sleep 0.01
mkdir "$SRC/themes/casper" && printf 'back' >"$SRC/themes/casper/index.hbs"
$FX commit "$STORE" "$SRC" --time 4000000 >/dev/null
snap 3

# --- latest, --at ------------------------------------------------------------
expect_rc 0 rv --to "$WORK/r-latest" --allow-outside-links "$URL"
same_tree "$WORK/state3" "$WORK/r-latest"
grep -q "seq 3" "$WORK/out" || fail "summary lacks the seq: $(cat "$WORK/out")"
[ ! -e "$WORK/r-latest/.revenant-staging" ] || fail "staging folder left behind"
ok

for i in 0 1 2; do
	expect_rc 0 rv --to "$WORK/r-at$i" --allow-outside-links --at $((i + 1))000.5 "$URL"
	same_tree "$WORK/state$i" "$WORK/r-at$i"
done
# RFC 3339 with an offset: 3000 s after the epoch is 01:50:00+01:00.
expect_rc 0 rv --to "$WORK/r-rfc" --allow-outside-links --at 1970-01-01T01:50:00.000+01:00 "$URL"
same_tree "$WORK/state2" "$WORK/r-rfc"
expect_rc 5 rv --to "$WORK/r-early" --at 999 "$URL"
grep -q "nothing was committed at or before" "$WORK/err" || fail "early --at: $(cat "$WORK/err")"
ok
expect_rc 2 rv --to "$WORK/x" --at yesterday "$URL"
expect_rc 2 rv --at 5 "$URL"
expect_rc 2 rv --to "$WORK/x" --generation nope "$URL"

# Without --allow-outside-links the outside link is skipped and said so.
expect_rc 0 "$REVENANT" restore --to "$WORK/r-nolinks" "$URL"
[ ! -L "$WORK/r-nolinks/files/outside" ] || fail "outside symlink restored by default"
[ -L "$WORK/r-nolinks/themes/current" ] || fail "inside symlink not restored"
grep -q "symlink points outside" "$WORK/err" || fail "no warning for the outside link"
grep -q "1 pointing outside skipped" "$WORK/out" || fail "summary: $(cat "$WORK/out")"
ok

# --- rewind an existing folder, --delete ----------------------------------------
cp -a "$WORK/r-latest" "$WORK/r-rewind"
printf 'local only' >"$WORK/r-rewind/extra.txt"
expect_rc 0 rv --to "$WORK/r-rewind" --allow-outside-links --at 1000 "$URL"
grep -q "kept .* paths not in the store" "$WORK/out" || fail "extras not reported"
[ -f "$WORK/r-rewind/extra.txt" ] || fail "extra file removed without --delete"
ok
expect_rc 0 rv --to "$WORK/r-rewind" --allow-outside-links --at 1000 --delete "$URL"
grep -q "removed .* paths not in the store (--delete)" "$WORK/out" || fail "no removal reported"
same_tree "$WORK/state0" "$WORK/r-rewind"
# Forward again, resuming: unchanged files are not downloaded.
expect_rc 0 rv --to "$WORK/r-rewind" --allow-outside-links --delete "$URL"
same_tree "$WORK/state3" "$WORK/r-rewind"
grep -Eq "already right [1-9]" "$WORK/out" || fail "nothing skipped: $(cat "$WORK/out")"
ok
# A local symlink where a folder must be: replaced, never followed.
mkdir -p "$WORK/victim"
rm -rf "$WORK/r-rewind/images" && ln -s "$WORK/victim" "$WORK/r-rewind/images"
expect_rc 0 rv --to "$WORK/r-rewind" --allow-outside-links --delete "$URL"
[ -z "$(ls -A "$WORK/victim")" ] || fail "restore wrote through a symlink"
same_tree "$WORK/state3" "$WORK/r-rewind"

# --- corruption and missing blobs ------------------------------------------------
PHOTO="images/2026/01/photo one.jpg"
BLOB=$($FX blobpath "$STORE" "$PHOTO")
cp "$BLOB" "$WORK/blob.good"
python3 - "$BLOB" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[100] ^= 0x01
open(p, 'wb').write(bytes(b))
EOF
expect_rc 7 rv --to "$WORK/r-corrupt" "$URL"
grep -qF "file '$PHOTO' cannot be restored: blob" "$WORK/err" || fail "corrupt blob: $(cat "$WORK/err")"
grep -q "is corrupt" "$WORK/err" || fail "corrupt blob message: $(cat "$WORK/err")"
[ ! -e "$WORK/r-corrupt/$PHOTO" ] || fail "a corrupt file was left in place"
[ -f "$WORK/r-corrupt/images/2026/02/deep/er/f.png" ] || fail "other files not restored"
[ ! -e "$WORK/r-corrupt/.revenant-staging" ] || fail "staging folder left behind"
ok
# Over an older local version: the older file stays, the corrupt one never lands.
printf 'an older local version' >"$WORK/r-latest/$PHOTO"
cp "$WORK/r-latest/$PHOTO" "$WORK/older"
expect_rc 7 rv --to "$WORK/r-latest" --allow-outside-links "$URL"
cmp -s "$WORK/r-latest/$PHOTO" "$WORK/older" || fail "local file replaced by a corrupt one"
ok
# A local file that is already right is not downloaded again (size + mtime).
cp -a "$WORK/state3/$PHOTO" "$WORK/r-latest/$PHOTO"
expect_rc 0 rv --to "$WORK/r-latest" --allow-outside-links "$URL"
same_tree "$WORK/state3" "$WORK/r-latest"
rm "$BLOB"
expect_rc 5 rv --to "$WORK/r-missing" "$URL"
grep -qF "file '$PHOTO' cannot be restored: its blob" "$WORK/err" || fail "missing blob: $(cat "$WORK/err")"
grep -q "missing from the store" "$WORK/err" || fail "missing blob message: $(cat "$WORK/err")"
[ ! -e "$WORK/r-missing/$PHOTO" ] || fail "a file appeared for a missing blob"
ok
cp "$WORK/blob.good" "$BLOB"

# A damaged log object: nothing in the folder changes at all.
LOG2=$(ls "$STORE/generations/$GEN1/content/log/" | sed -n 2p)
cp "$STORE/generations/$GEN1/content/log/$LOG2" "$WORK/log.good"
python3 - "$STORE/generations/$GEN1/content/log/$LOG2" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[len(b) // 2] ^= 0x20
open(p, 'wb').write(bytes(b))
EOF
mkdir -p "$WORK/r-badlog"
expect_rc 7 rv --to "$WORK/r-badlog" "$URL"
grep -qF "content object 'generations/$GEN1/content/log/$LOG2' is corrupt" "$WORK/err" ||
	fail "corrupt log: $(cat "$WORK/err")"
[ -z "$(ls -A "$WORK/r-badlog")" ] || fail "folder changed although an object was corrupt"
ok
# A log whose header names another sequence than its key (renamed object).
cp "$WORK/log.good" "$STORE/generations/$GEN1/content/log/$LOG2"
LOG1=$(ls "$STORE/generations/$GEN1/content/log/" | sed -n 1p)
cp "$STORE/generations/$GEN1/content/log/$LOG1" "$STORE/generations/$GEN1/content/log/$LOG2"
expect_rc 7 rv --to "$WORK/r-badlog" "$URL"
grep -q "does not match its name" "$WORK/err" || fail "renamed log: $(cat "$WORK/err")"
ok
cp "$WORK/log.good" "$STORE/generations/$GEN1/content/log/$LOG2"
# A truncated manifest.
MAN=$(ls "$STORE/generations/$GEN1/content/snapshot/")
cp "$STORE/generations/$GEN1/content/snapshot/$MAN" "$WORK/man.good"
head -c 40 "$WORK/man.good" >"$STORE/generations/$GEN1/content/snapshot/$MAN"
expect_rc 7 rv --to "$WORK/r-badlog" "$URL"
grep -q "snapshot/$MAN' is corrupt" "$WORK/err" || fail "truncated manifest: $(cat "$WORK/err")"
ok
cp "$WORK/man.good" "$STORE/generations/$GEN1/content/snapshot/$MAN"

# --- a new generation continuing the first one, without a manifest yet ---------------
sleep 0.01
printf 'gen2' >"$SRC/gen2.txt"
GEN2=$($FX init "$STORE" --parent "$GEN1" --time 5000000)
$FX commit "$STORE" "$SRC" --time 5000001 >/dev/null
snap 4
expect_rc 0 rv --to "$WORK/r-gen2" --allow-outside-links "$URL"
same_tree "$WORK/state4" "$WORK/r-gen2"
grep -q "generation $GEN2, seq 1" "$WORK/out" || fail "gen2 summary: $(cat "$WORK/out")"
ok
expect_rc 0 rv --to "$WORK/r-gen1" --allow-outside-links --generation "$GEN1" "$URL"
same_tree "$WORK/state3" "$WORK/r-gen1"
# --at inside the parent's history, through the child generation.
expect_rc 0 rv --to "$WORK/r-gen2-at" --allow-outside-links --at 2000 "$URL"
same_tree "$WORK/state1" "$WORK/r-gen2-at"

# --- resume after kill -9 ----------------------------------------------------------------
BIGSTORE=$WORK/bigstore
BIG=$WORK/big
mkdir -p "$BIG"
python3 - "$BIG" <<'EOF'
import os, sys
root = sys.argv[1]
for i in range(400):
    d = os.path.join(root, 'd%02d' % (i % 20))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'f%03d.bin' % i), 'wb') as f:
        f.write(os.urandom(256 * 1024))
EOF
$FX init "$BIGSTORE" >/dev/null
$FX snapshot "$BIGSTORE" "$BIG" >/dev/null
killed=0
for delay in 0.3 0.2 0.1 0.05 0.02; do
	rm -rf "$WORK/r-big"
	"$REVENANT" --log-level warn restore --to "$WORK/r-big" -j 2 "file://$BIGSTORE" \
		>/dev/null 2>&1 &
	BG=$!
	sleep "$delay"
	if kill -9 "$BG" 2>/dev/null; then
		wait "$BG" 2>/dev/null || true
		BG=
		# Whatever is in place is complete and right.
		n=$(find "$WORK/r-big" -path "$WORK/r-big/.revenant-staging" -prune -o -type f -print | wc -l)
		if [ "$n" -gt 0 ] && [ "$n" -lt 400 ]; then
			killed=1
			break
		fi
	else
		wait "$BG" 2>/dev/null || true
		BG=
	fi
done
[ "$killed" -eq 1 ] || fail "could not kill a restore half-way (machine too fast?)"
ok
while IFS= read -r -d '' f; do
	rel=${f#"$WORK/r-big/"}
	cmp -s "$f" "$BIG/$rel" || fail "half-restored file '$rel' differs from the source"
done < <(find "$WORK/r-big" -path "$WORK/r-big/.revenant-staging" -prune -o -type f -print0)
ok
expect_rc 0 rv --to "$WORK/r-big" -j 4 "file://$BIGSTORE"
same_tree "$BIG" "$WORK/r-big"
grep -Eq "already right [1-9]" "$WORK/out" || fail "resume downloaded everything: $(cat "$WORK/out")"
ok

# Progress lines are checked in content_restore_s3.sh, through a slow link.

echo "content_restore_cli: $checks checks passed"
