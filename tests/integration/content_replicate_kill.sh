#!/usr/bin/env bash
# content_replicate_kill.sh - kill -9 of replicate at random moments during
# a burst, 20 times, restarting it each time.  After every kill the store's
# latest state must load (every object verifies) and every file it records
# must have its blob; after the last restart the store equals the folder.
set -u
. "$RV_SRCDIR/tests/lib/content_replicate.sh"

T=$(mktemp -d /tmp/rv-crkill.XXXXXX)
GEN=
cleanup() {
	[ -n "${CR_PID:-}" ] && kill -KILL "$CR_PID" 2>/dev/null
	[ -n "$GEN" ] && kill -KILL "$GEN" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	tail -30 "$T/r.log" >&2
	exit 1
}

mkdir -p "$T/store" "$T/content"
cat >"$T/r.yml" <<YML
site: dc
sync_interval: 100ms
store:
  url: file://$T/store
  fsync: false
metrics:
  listen: off
content:
  path: $T/content
  manifest_every: 4
YML

# A writer that keeps changing the folder: new files in new folders,
# rewrites, deletes, folder renames.
writer() {
	python3 - "$T/content" "$1" <<'PY'
import os, random, sys, time
root, cycle = sys.argv[1], int(sys.argv[2])
rnd = random.Random(cycle)
end = time.time() + 1.5
n = 0
while time.time() < end:
    d = os.path.join(root, "c%02d" % cycle, "d%d" % rnd.randrange(8))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%d" % rnd.randrange(60)), "wb") as f:
        f.write(os.urandom(rnd.randrange(1, 70000)))
    n += 1
    if n % 50 == 0 and cycle > 0:
        old = os.path.join(root, "c%02d" % rnd.randrange(cycle))
        if os.path.isdir(old):
            victim = os.path.join(old, "d%d" % rnd.randrange(8))
            if os.path.isdir(victim):
                os.rename(victim, victim + "-moved%d" % n)
    if n % 70 == 0:
        for dd, _, files in os.walk(root):
            if files:
                os.unlink(os.path.join(dd, files[0]))
                break
PY
}

check_consistent() {
	"$REVENANT" -c "$T/r.yml" status --manifest >"$T/state" 2>"$T/state.err" ||
		fail "cycle $1: the recorded state does not load: $(cat "$T/state.err")"
	# One listing of the blobs (name, size), not a stat per file: the
	# state grows to thousands of files over the cycles.
	find "$T/store/blobs/sha256" -type f -printf '%f %s\n' >"$T/blobs"
	awk 'NR == FNR { size[$1] = $2; next }
	     $1 == "file" && !($6 in size) { print "missing blob " $6; bad = 1 }
	     $1 == "file" && ($6 in size) && size[$6] != $3 { print "blob " $6 " has the wrong size"; bad = 1 }
	     END { exit bad }' "$T/blobs" "$T/state" || fail "cycle $1: a recorded file has no blob"
}

for cycle in $(seq 0 19); do
	cr_start "$T/r.yml" "$T/r.log" || fail "start in cycle $cycle"
	writer "$cycle" &
	GEN=$!
	sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
	kill -KILL "$CR_PID"
	wait "$CR_PID" 2>/dev/null
	CR_PID=
	wait "$GEN"
	GEN=
	check_consistent "$cycle"
	echo "cycle $cycle: killed; $(grep -c '^file' "$T/state") files recorded, state consistent"
done

cr_start "$T/r.yml" "$T/r.log" || fail "final start"
cr_wait_converged "$T/r.yml" "$T/content" 60 || fail "store did not converge after 20 kills"
check_consistent final
cr_stop
[ "$CR_RC" = 0 ] || fail "SIGTERM exit $CR_RC"
echo "converged: $(grep -c '^file' "$T/state") files, $(ls "$T/store/generations" | wc -l) generations"
echo PASS
