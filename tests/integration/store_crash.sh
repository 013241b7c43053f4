#!/usr/bin/env bash
# store_crash.sh - kill -9 `revenant store put` at random moments and check
# that the key is always byte-identical to a complete version, never
# partial or missing.  Two writers: a large file (copy + fsync take a while), and
# a slow pipe that stalls half-way (the temporary is certainly half-written
# when the kill comes).  Where the random kills land depends on the
# machine's speed, so their count is information; the stalled-pipe kills
# land mid-write by construction and are what the test requires.
set -euo pipefail

: "${REVENANT:?set REVENANT to the built binary}"
export LC_ALL=C

WORK=$(mktemp -d /tmp/rv-store-crash.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

SIZE_MB=${RV_CRASH_SIZE_MB:-96}
CYCLES=${RV_CRASH_CYCLES:-24}
S="$WORK/store"
U="file://$S"
mkdir -p "$S"
head -c "${SIZE_MB}M" /dev/urandom >"$WORK/v1"
head -c "${SIZE_MB}M" /dev/urandom >"$WORK/v2"

# The key (put whole once before the kills) must equal one of the complete
# versions.
check_key() {
	local key=$1
	[ -e "$S/$key" ] || fail "cycle $c: '$key' vanished"
	if cmp -s "$S/$key" "$WORK/v1"; then echo v1; return; fi
	if cmp -s "$S/$key" "$WORK/v2"; then echo v2; return; fi
	fail "cycle $c: '$key' is partial or mixed ($(stat -c %s "$S/$key") bytes)"
}

# Time one complete put, so the kills can land anywhere inside one.
t0=$(date +%s%N)
"$REVENANT" store put "$U" big/object "$WORK/v1"
full_ms=$((($(date +%s%N) - t0) / 1000000 + 1))
echo "a complete ${SIZE_MB} MiB put takes ${full_ms} ms"

killed_mid=0
for ((c = 1; c <= CYCLES; c++)); do
	v=v$(((c % 2) + 1))
	# Anywhere in a put: before the open, mid-copy, mid-fsync, at the rename.
	# (up to twice its length, so that some complete and replace the key).
	ms=$(((RANDOM * 32768 + RANDOM) % (2 * full_ms)))
	delay=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
	"$REVENANT" store put "$U" big/object "$WORK/$v" &
	PID=$!
	sleep "$delay"
	kill -9 "$PID" 2>/dev/null || true
	wait "$PID" 2>/dev/null || true
	PID=
	state=$(check_key big/object)
	tmps=$(find "$S" -name '.rv-tmp.*' | wc -l)
	# A temporary left behind proves the kill landed mid-write.
	[ "$tmps" -gt 0 ] && killed_mid=$((killed_mid + 1))
	echo "cycle $c: put $v killed after ${delay}s -> key is $state ($tmps temporaries left)"
	# Leftovers are harmless but big; clear them so the disk does not fill.
	find "$S" -name '.rv-tmp.*' -delete
done

# Slow pipe: half the bytes, then a stall; the kill lands in the stall.
"$REVENANT" store put "$U" big/object "$WORK/v1"
piped_mid=0
c=pipe
for ((c = CYCLES + 1; c <= CYCLES + 4; c++)); do
	# Earlier leftovers would satisfy the wait below: clear them.
	find "$S" -name '.rv-tmp.*' -delete
	rm -f "$WORK/fifo" && mkfifo "$WORK/fifo"
	(head -c "$((SIZE_MB / 2))M" "$WORK/v2" && exec sleep 60) >"$WORK/fifo" &
	WPID=$!
	"$REVENANT" store put "$U" big/object - <"$WORK/fifo" &
	PID=$!
	# Wait until half the bytes are in the temporary, then kill.
	for ((i = 0; i < 200; i++)); do
		t=$(find "$S" -name '.rv-tmp.*' -size +$((SIZE_MB / 2 * 1024 - 1))k | head -n 1)
		[ -n "$t" ] && break
		sleep 0.05
	done
	[ -n "$t" ] || fail "the piped put never wrote half the bytes"
	kill -9 "$PID" 2>/dev/null || fail "the piped put was not running at the kill"
	wait "$PID" 2>/dev/null || true
	kill "$WPID" 2>/dev/null || true
	wait "$WPID" 2>/dev/null || true
	PID=
	tmp_count=$(find "$S" -name '.rv-tmp.*' | wc -l)
	[ "$tmp_count" -ge 1 ] || fail "no half-written temporary: the kill did not land mid-write"
	state=$(check_key big/object)
	[ "$state" = v1 ] || fail "cycle $c: stalled put changed the key to $state"
	echo "cycle $c: piped put killed mid-stream ($tmp_count temporaries) -> key is $state"
	piped_mid=$((piped_mid + 1))
done

# The leftovers are invisible to list, and a later put still works.
keys=$("$REVENANT" store ls "$U")
[ "$keys" = big/object ] || fail "ls shows more than the object: $keys"
"$REVENANT" store put "$U" big/object "$WORK/v2"
[ "$(check_key big/object)" = v2 ] || fail "put after the crashes"
[ "$piped_mid" -eq 4 ] || fail "only $piped_mid of the 4 stalled puts were killed mid-write"
echo "store_crash: $((CYCLES + 4)) kills; $piped_mid stalled puts and $killed_mid of $CYCLES random kills landed mid-write; the key was never partial"
