#!/usr/bin/env bash
# content_replicate_burst.sh - 5,000 files written in a few seconds, with
# nested new folders, a folder moved into the tree and one moved out, plus
# deletes and rewrites: once quiet, the store's latest state equals the
# folder (path + sha256 of every file, every folder and link).
set -u
. "$RV_SRCDIR/tests/lib/content_replicate.sh"

T=$(mktemp -d /tmp/rv-crburst.XXXXXX)
cleanup() {
	[ -n "${CR_PID:-}" ] && kill -KILL "$CR_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	tail -30 "$T/r.log" >&2
	exit 1
}

mkdir -p "$T/store" "$T/content/images" "$T/outside/incoming/deeper"
cat >"$T/r.yml" <<YML
site: dc
sync_interval: 500ms
store:
  url: file://$T/store
  fsync: false
metrics:
  listen: off
content:
  path: $T/content
YML
for i in $(seq 1 100); do echo "in $i" >"$T/outside/incoming/f$i.txt"; done
for i in $(seq 1 20); do echo "deep $i" >"$T/outside/incoming/deeper/d$i.txt"; done
mkdir -p "$T/content/leaving/sub"
for i in $(seq 1 50); do echo "leave $i" >"$T/content/leaving/sub/l$i.txt"; done

cr_start "$T/r.yml" "$T/r.log" || fail "start"

echo "--- burst"
t0=$(date +%s.%N)
python3 - "$T/content" <<'PY'
import os, sys
root = sys.argv[1]
n = 0
for a in range(25):
    for b in range(4):
        d = os.path.join(root, "images", "2026", "%02d" % a, "set%d" % b)
        os.makedirs(d, exist_ok=True)
        for c in range(50):
            with open(os.path.join(d, "img%03d.jpg" % c), "wb") as f:
                f.write(os.urandom(200 + (n % 7) * 100))
            n += 1
# rewrites and deletes inside the burst
for a in range(0, 25, 5):
    p = os.path.join(root, "images", "2026", "%02d" % a, "set0", "img000.jpg")
    with open(p, "ab") as f:
        f.write(b"appended")
    os.unlink(os.path.join(root, "images", "2026", "%02d" % a, "set1", "img001.jpg"))
print("wrote", n, "files")
PY
mv "$T/outside/incoming" "$T/content/images/incoming"
mv "$T/content/leaving" "$T/outside/left"
echo "burst written in $(echo "$(date +%s.%N) - $t0" | bc) s"
[ "$(find "$T/content" -type f | wc -l)" -ge 5000 ] || fail "burst wrote too few files"

cr_wait_converged "$T/r.yml" "$T/content" 60 || fail "store did not converge after the burst"
echo "converged $(echo "$(date +%s.%N) - $t0" | bc) s after the burst began"

echo "--- a second wave: delete a whole tree, recreate it with other content"
rm -rf "$T/content/images/2026/03"
mkdir -p "$T/content/images/2026/03/set0"
echo recreated >"$T/content/images/2026/03/set0/img000.jpg"
cr_wait_converged "$T/r.yml" "$T/content" 30 || fail "store did not converge after the second wave"

cr_stop
[ "$CR_RC" = 0 ] || fail "SIGTERM exit $CR_RC"
grep -q 'level=error' "$T/r.log" && fail "errors in the log"
echo PASS
