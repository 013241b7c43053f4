#!/usr/bin/env bash
# content_standby_cli.sh - `revenant standby` follows a file:// store while
# commits are written after it started (content_restore_fixture.py is the
# writer): every state is reached, files are replaced atomically (a reader
# never sees a half or mixed file), a new generation in the lease is
# followed, the lag is exported, SIGTERM stops it cleanly.
set -euo pipefail

: "${REVENANT:?set REVENANT to the built binary}"
: "${RV_TESTDIR:?set RV_TESTDIR to tests/}"
export LC_ALL=C.UTF-8
umask 022

WORK=$(mktemp -d /tmp/rv-standby-cli.XXXXXX)
SB=
READER=
cleanup() {
	for p in $SB $READER; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

FX="python3 $RV_TESTDIR/integration/content_restore_fixture.py"
STORE=$WORK/store
SRC=$WORK/src
DST=$WORK/standby
checks=0
fail() {
	echo "FAIL: $*" >&2
	[ -f "$WORK/sb.log" ] && tail -20 "$WORK/sb.log" >&2
	exit 1
}
ok() { checks=$((checks + 1)); }

# wait_same: the standby folder reaches the source's state within 15 s.
wait_same() {
	$FX sig "$SRC" --no-dir-mtime >"$WORK/want"
	for _ in $(seq 1 150); do
		if [ -d "$DST" ] && $FX sig "$DST" --no-dir-mtime 2>/dev/null | grep -v "^b'.revenant-staging" >"$WORK/got" &&
			cmp -s "$WORK/want" "$WORK/got"; then
			ok
			return 0
		fi
		sleep 0.1
	done
	diff "$WORK/want" "$WORK/got" | head -20 >&2 || true
	fail "standby did not reach the state of $1"
}

mkdir -p "$SRC/images" "$SRC/themes/t1"
printf 'one' >"$SRC/images/a.jpg"
printf 'theme' >"$SRC/themes/t1/index.hbs"
$FX init "$STORE" >/dev/null
$FX snapshot "$STORE" "$SRC" >/dev/null

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$REVENANT" standby --to "$DST" --interval 100ms --metrics-listen "127.0.0.1:$PORT" \
	"file://$STORE" >"$WORK/sb.out" 2>"$WORK/sb.log" &
SB=$!
wait_same "the snapshot"

# Commits written after the standby started: new, changed, deleted files,
# a folder removed, names with spaces and newlines, a folder turned file.
printf 'two' >"$SRC/images/b c.jpg"
$FX commit "$STORE" "$SRC" >/dev/null
wait_same "commit 1"
printf 'one, changed' >"$SRC/images/a.jpg"
printf 'nl' >"$SRC/images/new"$'\n'"line"
rm -r "$SRC/themes/t1"
$FX commit "$STORE" "$SRC" >/dev/null
wait_same "commit 2"
rm "$SRC/images/b c.jpg"
mkdir -p "$SRC/themes/t1/deep" && printf 'x' >"$SRC/themes/t1/deep/y"
$FX commit "$STORE" "$SRC" >/dev/null
rm -r "$SRC/themes" && printf 'now a file' >"$SRC/themes"
$FX commit "$STORE" "$SRC" >/dev/null
wait_same "commits 3 and 4"

# Metrics: the lag gauge exists and is small once caught up; healthz is 200.
curl -sf "http://127.0.0.1:$PORT/metrics" >"$WORK/metrics" || fail "no /metrics on $PORT"
grep -q '^revenant_standby_lag_seconds ' "$WORK/metrics" || fail "no lag metric: $(cat "$WORK/metrics")"
lag=$(awk '/^revenant_standby_lag_seconds /{print $2}' "$WORK/metrics")
python3 -c "import sys; sys.exit(0 if float('$lag') < 5 else 1)" || fail "lag $lag after catching up"
grep -q '^revenant_standby_applied_seq 4' "$WORK/metrics" || fail "applied seq: $(cat "$WORK/metrics")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" = 200 ] || fail "healthz"
ok

# Atomic replacement: a reader hammers a 4 MiB file while it is rewritten;
# every read must be one whole version.
python3 - "$SRC/images/big.bin" 0 <<'EOF'
import sys
open(sys.argv[1], 'wb').write(bytes([int(sys.argv[2])]) * (4 << 20))
EOF
$FX commit "$STORE" "$SRC" >/dev/null
wait_same "the big file"
python3 - "$DST/images/big.bin" "$WORK/reader.done" >"$WORK/reader.out" 2>&1 <<'EOF' &
import os, sys
path, stop = sys.argv[1], sys.argv[2]
reads = bad = 0
while not os.path.exists(stop):
    try:
        with open(path, 'rb') as f:
            d = f.read()
    except FileNotFoundError:
        bad += 1
        print('missing')
        continue
    reads += 1
    if len(d) != 4 << 20 or d.count(d[0:1]) != len(d):
        bad += 1
        print('torn read: %d bytes' % len(d))
print('reads=%d bad=%d' % (reads, bad))
sys.exit(1 if bad or reads < 10 else 0)
EOF
READER=$!
for v in 1 2 3 4 5 6; do
	python3 - "$SRC/images/big.bin" "$v" <<'EOF'
import sys
open(sys.argv[1], 'wb').write(bytes([int(sys.argv[2])]) * (4 << 20))
EOF
	$FX commit "$STORE" "$SRC" >/dev/null
	wait_same "big file version $v"
done
touch "$WORK/reader.done"
wait "$READER" || fail "reader saw a torn or missing file: $(cat "$WORK/reader.out")"
READER=
ok

# A new generation in the lease (a promotion elsewhere) is followed.
printf 'in gen 2' >"$SRC/gen2.txt"
$FX init "$STORE" >/dev/null
$FX snapshot "$STORE" "$SRC" >/dev/null
wait_same "the new generation"
grep -q "the lease names a new generation" "$WORK/sb.log" || fail "generation change not logged"
ok
rm "$SRC/gen2.txt"
$FX commit "$STORE" "$SRC" >/dev/null
wait_same "a commit in the new generation"

# A local file the store does not have is removed by the standby's restore
# of a new generation (it mirrors the store).
printf 'stray' >"$DST/stray.txt"
$FX init "$STORE" >/dev/null
$FX snapshot "$STORE" "$SRC" >/dev/null
wait_same "the third generation"
[ ! -e "$DST/stray.txt" ] || fail "stray file kept by the standby"
ok

# SIGTERM: exit 0 quickly, staging folder gone.
kill -TERM "$SB"
for _ in $(seq 1 50); do kill -0 "$SB" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SB" 2>/dev/null && fail "standby still running 5 s after SIGTERM"
rc=0
wait "$SB" || rc=$?
SB=
[ "$rc" -eq 0 ] || fail "standby exited $rc after SIGTERM"
[ ! -e "$DST/.revenant-staging" ] || fail "staging folder left after SIGTERM"
grep -q "standby stopping" "$WORK/sb.log" || fail "stop not logged"
ok

echo "content_standby_cli: $checks checks passed"
