#!/usr/bin/env bash
# content_replicate_basic.sh - `revenant replicate` against a file:// store:
# bad configuration and paths, files reaching the store within 2 s (odd
# names, links, empty folders, deletes), /metrics and /healthz, `status`,
# SIGTERM with a final commit, and fencing by a second writer or a newer
# epoch written into lease.json.
set -u
. "$RV_SRCDIR/tests/lib/content_replicate.sh"

T=$(mktemp -d /tmp/rv-crb.XXXXXX)
chmod 755 "$T"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}" ${CR_PID:-}; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
	exit 1
}

mkdir -p "$T/store" "$T/content"
PORT=$(cr_free_port)
config() { # config FILE SITE CONTENT STORE [METRICS]
	cat >"$1" <<YML
site: $2
sync_interval: 200ms
store:
  url: file://$4
  fsync: false
metrics:
  listen: ${5:-off}
content:
  path: $3
YML
	chmod 644 "$1"
}
config "$T/r.yml" dc "$T/content" "$T/store" "127.0.0.1:$PORT"

# expect_fail CODE PATTERN CONFIG: one line on stderr, the exit code.
expect_fail() {
	local want="$1" pat="$2" cfg="$3" rc=0 err
	shift 3
	err=$("$@" "$REVENANT" -c "$cfg" replicate 2>&1 >/dev/null) || rc=$?
	[ "$rc" = "$want" ] || fail "$cfg: exit $rc, want $want ($err)"
	[ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "$cfg: more than one line: $err"
	printf '%s\n' "$err" | grep -q "$pat" || fail "$cfg: '$err' lacks '$pat'"
	echo "ok: exit $rc: $err"
}

echo "--- bad configuration and paths"
config "$T/missing.yml" dc "$T/nope" "$T/store"
expect_fail 5 "content folder '$T/nope' does not exist" "$T/missing.yml"
printf 'site: dc\nstore:\n  url: file://%s\n' "$T/store" >"$T/nopath.yml"
expect_fail 2 "content.path is not set" "$T/nopath.yml"
config "$T/nostore.yml" dc "$T/content" "$T/nostore"
expect_fail 5 "store folder '$T/nostore' does not exist" "$T/nostore.yml"
: >"$T/afile"
config "$T/notdir.yml" dc "$T/afile" "$T/store"
expect_fail 2 "is not a folder" "$T/notdir.yml"
printf 'content:\n  exclude: logs/\n' >"$T/badlist.yml"
expect_fail 2 "content.exclude: expected a list" "$T/badlist.yml"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	mkdir -p "$T/secret"
	chmod 700 "$T/secret"
	config "$T/unreadable.yml" dc "$T/secret" "$T/store"
	expect_fail 4 "cannot read content folder" "$T/unreadable.yml" setpriv --reuid=65534 --regid=65534 --clear-groups
else
	mkdir -p "$T/secret"
	chmod 000 "$T/secret"
	config "$T/unreadable.yml" dc "$T/secret" "$T/store"
	expect_fail 4 "cannot read content folder" "$T/unreadable.yml"
fi
[ -z "$(ls -A "$T/store")" ] || fail "a failed start wrote to the store"

echo "--- start; existing files are shipped by the first walk"
echo existing >"$T/content/existing.txt"
mkdir -p "$T/content/logs" && echo skip >"$T/content/logs/ghost.log"
cr_start "$T/r.yml" "$T/r.log" || fail "start"
# Bounds here say "it happens", not "it is fast": a busy machine may be
# slow, and the latency target (sync_interval + 500 ms) is measured in
# bench/content_bench.sh, not asserted in tests (issue 16).
for i in $(seq 1 600); do
	"$REVENANT" -c "$T/r.yml" status --manifest | grep -q '^file existing.txt ' && break
	sleep 0.05
done
"$REVENANT" -c "$T/r.yml" status --manifest | grep -q '^file existing.txt ' || fail "existing file not recorded within 30 s"
"$REVENANT" -c "$T/r.yml" status --manifest | grep -q 'logs' && fail "excluded logs/ was shipped"

echo "--- new files reach the store"
mkdir -p "$T/content/images/2026/01" "$T/content/empty dir"
head -c 300000 /dev/urandom >"$T/content/images/2026/01/photo one.jpg"
head -c 3000000 /dev/urandom >"$T/content/images/2026/01/big.mp4"
printf 'x' >"$T/content/ünïcødé.txt"
printf 'y' >"$T/content/new
line.txt"
ln -s ../existing.txt "$T/content/images/link"
start=$(date +%s.%N)
rm -rf "$T/content/logs"
mkdir -p "$T/content/logs"
cr_wait_converged_excl() {
	local end=$(($(date +%s) + $1))
	while :; do
		if diff <(cr_listing "$T/content" | grep -v '^[DF] logs' | LC_ALL=C sort) <(cr_recorded "$T/r.yml") >/dev/null; then
			return 0
		fi
		[ "$(date +%s)" -lt "$end" ] || {
			diff <(cr_listing "$T/content" | grep -v '^[DF] logs' | LC_ALL=C sort) <(cr_recorded "$T/r.yml") >&2
			return 1
		}
		sleep 0.1
	done
}
cr_wait_converged_excl 30 || fail "changes did not reach the store within 30 s"
took=$(echo "$(date +%s.%N) - $start" | bc)
echo "ok: converged in ${took}s"
# The blob is the file's bytes.
sha=$(sha256sum "$T/content/images/2026/01/big.mp4" | cut -c1-64)
cmp "$T/store/blobs/sha256/${sha:0:2}/$sha" "$T/content/images/2026/01/big.mp4" || fail "blob differs from the file"

echo "--- deletes and renames"
rm "$T/content/existing.txt"
mv "$T/content/images/2026" "$T/content/images/2025"
echo changed >>"$T/content/ünïcødé.txt"
cr_wait_converged_excl 3 || fail "deletes/renames not recorded"

echo "--- metrics and health"
m=$(curl -sf "http://127.0.0.1:$PORT/metrics") || fail "/metrics did not answer"
for name in revenant_content_last_sync_timestamp_seconds revenant_content_files_shipped_total \
	revenant_content_bytes_shipped_total revenant_content_queue_depth 'revenant_errors_total{kind=' \
	revenant_lease_epoch revenant_content_commits_total 'revenant_build_info{version='; do
	printf '%s\n' "$m" | grep -q "^$name" || fail "/metrics lacks $name"
done
printf '%s\n' "$m" | grep -q '^revenant_lease_epoch 1$' || fail "epoch is not 1"
files=$(printf '%s\n' "$m" | awk '$1=="revenant_content_files_shipped_total"{print $2}')
[ "${files:-0}" -ge 5 ] || fail "files_shipped_total is $files"
h=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$PORT/healthz")
[ "$h" = "ok
 200" ] || fail "/healthz: $h"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope")
[ "$code" = 404 ] || fail "unknown path answered $code"
echo "ok: metrics and health"

echo "--- status"
"$REVENANT" -c "$T/r.yml" status >"$T/status.txt" || fail "status failed"
grep -q '^lease: *site dc, epoch 1' "$T/status.txt" || fail "status: $(cat "$T/status.txt")"
"$REVENANT" status --json "file://$T/store" >"$T/status.json" || fail "status --json failed"
python3 - "$T/status.json" "$T/content" <<'PY' || fail "status --json is wrong"
import json, os, sys
s = json.load(open(sys.argv[1]))
files = sum(len(f) for d, _, f in os.walk(sys.argv[2]) if '/logs' not in d)
links = 1
assert s["lease"]["site"] == "dc" and s["lease"]["epoch"] == 1, s["lease"]
assert len(s["generations"]) == 1, s["generations"]
c = s["content"]
assert c["seq"] >= 1 and c["files"] + c["links"] == files, (c, files)
PY
echo "ok: status"

echo "--- SIGTERM: final commit, exit 0 promptly"
echo last >"$T/content/last.txt"
t0=$(date +%s%N)
cr_stop
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$CR_RC" = 0 ] || fail "replicate exited $CR_RC on SIGTERM"
# Prompt means no waiting on a tick, a deadline or a retry; 15 s leaves a
# busy machine room and still catches a shutdown that waits out a timeout.
[ "$ms" -lt 15000 ] || fail "SIGTERM took $ms ms"
"$REVENANT" -c "$T/r.yml" status --manifest | grep -q '^file last.txt ' || fail "the last file was not in the final commit"
echo "ok: stopped in $ms ms with the last file committed"

echo "--- a restart reconciles changes made while stopped"
echo offline >"$T/content/offline.txt"
rm "$T/content/last.txt"
cr_start "$T/r.yml" "$T/r2.log" || fail "restart"
cr_wait_converged_excl 3 || fail "restart did not reconcile"
grep -q 'parent=0' "$T/r2.log" || fail "the new generation has no parent: $(cat "$T/r2.log")"
FIRST=$CR_PID

echo "--- fencing: a second writer of the same site takes over, the first exits 8"
config "$T/r2.yml" dc "$T/content" "$T/store"
cr_start "$T/r2.yml" "$T/second.log" || fail "second writer"
SECOND=$CR_PID
PIDS+=("$SECOND")
echo poke >"$T/content/poke.txt"
rc=0
timeout 20 tail --pid="$FIRST" -f /dev/null || fail "the first writer did not stop within 20 s"
wait "$FIRST" || rc=$?
[ "$rc" = 8 ] || fail "first writer exited $rc, want 8"
grep -q 'fenced' "$T/r2.log" || grep -q 'fenced' "$T/r.log" || true
echo "ok: first writer exited 8"

echo "--- another site cannot take the lease (exit 8 at once)"
config "$T/other.yml" other "$T/content" "$T/store"
expect_fail 8 "site 'dc' holds the primary lease" "$T/other.yml"
kill -0 "$SECOND" || fail "the holder died when another site tried"

echo "--- a newer epoch written to lease.json fences the holder"
python3 - "$T/store/lease.json" <<'PY'
import json, sys
p = sys.argv[1]
l = json.load(open(p))
l["epoch"] += 1
l["holder"] = "someone-else:1:00000000"
open(p + ".new", "w").write(json.dumps(l))
PY
mv "$T/store/lease.json.new" "$T/store/lease.json"
echo poke2 >"$T/content/poke2.txt"
rc=0
timeout 20 tail --pid="$SECOND" -f /dev/null || fail "holder not fenced within 20 s"
wait "$SECOND" || rc=$?
[ "$rc" = 8 ] || fail "holder exited $rc, want 8"
grep -q 'level=error\|fenced' "$T/second.log" || true
ls "$T/store/generations/"*/content/log/ | wc -l >/dev/null
echo "ok: fenced holder exited 8"
echo PASS
