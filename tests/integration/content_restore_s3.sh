#!/usr/bin/env bash
# content_restore_s3.sh - `revenant restore` and `standby` against a real
# s3rver (tests/lib/s3rver.sh): a 2,000-file tree with -j 8, an --at point,
# a corrupt blob, and a standby following commits.  The history is written
# by content_restore_fixture.py into a folder and uploaded with
# `revenant store put -r`.
set -euo pipefail

: "${REVENANT:?set REVENANT to the built binary}"
: "${RV_TESTDIR:?set RV_TESTDIR to tests/}"
export LC_ALL=C.UTF-8
umask 022

WORK=$(mktemp -d /tmp/rv-restore-s3.XXXXXX)
SB=
FP=
cleanup() {
	if [ -n "$SB" ]; then kill -9 "$SB" 2>/dev/null || true; fi
	if [ -n "$FP" ]; then kill -9 "$FP" 2>/dev/null || true; fi
	if declare -F s3rver_stop >/dev/null; then s3rver_stop || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE

FX="python3 $RV_TESTDIR/integration/content_restore_fixture.py"
STORE=$WORK/store
SRC=$WORK/src
checks=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); }
rv() { "$REVENANT" --log-level warn "$@"; }
same_tree() {
	$FX sig "$1" >"$WORK/sig.want"
	$FX sig "$2" >"$WORK/sig.got"
	diff "$WORK/sig.want" "$WORK/sig.got" >"$WORK/sig.diff" ||
		fail "$2 differs from $1: $(head -20 "$WORK/sig.diff")"
	diff -r --no-dereference "$1" "$2" >/dev/null || fail "diff -r $1 $2"
	ok
}

# shellcheck source=/dev/null
source "$RV_TESTDIR/lib/s3rver.sh"
export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--openssl-legacy-provider"
s3rver_start "$WORK/s3rver" || fail "cannot start s3rver"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
URL="s3://rv-restore/site?endpoint=$S3RVER_URL&region=us-east-1"
rv bucket init "$URL" >/dev/null || fail "bucket init"
upload() { rv store put -r "$URL" "" "$STORE" -j 8 >/dev/null || fail "upload of the store"; }

# 2,000 files in nested folders, some hostile names.
python3 - "$SRC" <<'EOF'
import os, sys
root = sys.argv[1]
for i in range(2000):
    d = os.path.join(root, 'images', '2026', '%02d' % (i % 12 + 1), 'batch %d' % (i % 7))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'ph\u00f6to %04d.jpg' % i), 'wb') as f:
        f.write(os.urandom(1000 + (i * 37) % 20000))
os.makedirs(os.path.join(root, 'files'), exist_ok=True)
open(os.path.join(root, 'files', 'line\nbreak'), 'w').write('nl')
EOF
$FX init "$STORE" >/dev/null
$FX snapshot "$STORE" "$SRC" >/dev/null
cp -a "$SRC" "$WORK/state0"
sleep 0.01
printf 'later' >"$SRC/files/later.txt"
rm "$SRC/images/2026/01/batch 0/phöto 0000.jpg"
$FX commit "$STORE" "$SRC" >/dev/null
upload

start=$(date +%s%N)
rv restore --to "$WORK/r1" -j 8 "$URL" >"$WORK/out" || fail "restore from s3rver"
echo "restore of 2,000 files from s3rver: $((($(date +%s%N) - start) / 1000000)) ms"
same_tree "$SRC" "$WORK/r1"
MAN=$(ls "$STORE"/generations/*/content/snapshot/)
MAN_MS=$((16#${MAN:17:16}))
rv restore --to "$WORK/r0" -j 8 --at "$((MAN_MS / 1000)).$(printf %03d $((MAN_MS % 1000)))" "$URL" \
	>/dev/null || fail "restore --at from s3rver"
same_tree "$WORK/state0" "$WORK/r0"

# Progress lines when stderr is not a terminal.  The restore goes through
# tests/fakes/faultproxy.py delaying every request by 50 ms, so with -j 1
# it takes at least 2,000 x 50 ms whatever the machine: several 100 ms
# progress ticks must appear, with a rising file count.
python3 "$RV_TESTDIR/fakes/faultproxy.py" --upstream "127.0.0.1:$S3RVER_PORT" --mode delay \
	--count -1 --stall-seconds 0.05 --port-file "$WORK/fp.port" 2>"$WORK/fp.err" &
FP=$!
for _ in $(seq 1 50); do [ -s "$WORK/fp.port" ] && break; sleep 0.1; done
[ -s "$WORK/fp.port" ] || fail "faultproxy did not start: $(cat "$WORK/fp.err")"
SLOW="s3://rv-restore/site?endpoint=http://127.0.0.1:$(cat "$WORK/fp.port")&region=us-east-1"
"$REVENANT" restore --to "$WORK/r-slow" -j 1 --progress-every 100ms "$SLOW" \
	>"$WORK/out" 2>"$WORK/err" &
RS=$!
sleep 3
kill -TERM "$RS" 2>/dev/null || true
wait "$RS" || true
n=$(grep -c 'msg="restore progress"' "$WORK/err" || true)
[ "$n" -ge 5 ] || fail "$n progress lines in 3 s at 100 ms: $(head -c 2000 "$WORK/err")"
first=$(grep -m1 'msg="restore progress"' "$WORK/err" | sed -n 's/.*files=\([0-9]*\)\/.*/\1/p')
last=$(grep 'msg="restore progress"' "$WORK/err" | tail -1 | sed -n 's/.*files=\([0-9]*\)\/.*/\1/p')
[ -n "$first" ] && [ -n "$last" ] && [ "$last" -gt "$first" ] ||
	fail "progress did not move ($first -> $last): $(tail -3 "$WORK/err")"
kill -9 "$FP" 2>/dev/null || true
wait "$FP" 2>/dev/null || true
FP=
ok

# A corrupt blob on the server: exit 7 naming the file, no wrong file.
PHOTO="images/2026/02/batch 1/phöto 0001.jpg"
BLOB=$($FX blobpath "$STORE" "$PHOTO")
KEY=${BLOB#"$STORE/"}
head -c 1500 /dev/urandom >"$WORK/junk"
rv store put "$URL" "$KEY" "$WORK/junk" || fail "put junk"
rc=0
rv restore --to "$WORK/r2" -j 8 "$URL" >/dev/null 2>"$WORK/err" || rc=$?
[ "$rc" -eq 7 ] || fail "corrupt blob on s3: exit $rc: $(cat "$WORK/err")"
grep -qF "file '$PHOTO' cannot be restored" "$WORK/err" || fail "message: $(cat "$WORK/err")"
[ ! -e "$WORK/r2/$PHOTO" ] || fail "corrupt file left in place"
ok
rv store put "$URL" "$KEY" "$BLOB" || fail "put the good blob back"

# A standby following the s3 store.
"$REVENANT" standby --to "$WORK/sb" --interval 200ms --metrics-listen off "$URL" \
	>/dev/null 2>"$WORK/sb.log" &
SB=$!
wait_same() {
	$FX sig "$SRC" --no-dir-mtime >"$WORK/want"
	for _ in $(seq 1 300); do
		if $FX sig "$WORK/sb" --no-dir-mtime 2>/dev/null | grep -v "^b'.revenant-staging" >"$WORK/got" &&
			cmp -s "$WORK/want" "$WORK/got"; then
			ok
			return 0
		fi
		sleep 0.1
	done
	tail -5 "$WORK/sb.log" >&2
	fail "s3 standby did not reach $1"
}
wait_same "the latest point"
rm -r "$SRC/images/2026/03"
printf 'new' >"$SRC/files/new one.txt"
$FX commit "$STORE" "$SRC" >/dev/null
upload
wait_same "a commit with a folder removed"
kill -TERM "$SB"
rc=0
wait "$SB" || rc=$?
SB=
[ "$rc" -eq 0 ] || fail "standby exit $rc after SIGTERM"
ok

echo "content_restore_s3: $checks checks passed"
