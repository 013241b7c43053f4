#!/usr/bin/env bash
# self_fence.sh - a primary cut off from its store stops Ghost's writes
# itself before the other site may promote (docs/ARCHITECTURE.md, "Failover
# timing"): replicate ships to s3rver with heartbeat_interval 1s and
# fence_after 3s; s3rver is frozen (SIGSTOP: every request hangs, as on a
# partition).  Checked:
#   - hooks.fenced runs once, with the event in its environment, within
#     fence_after + one heartbeat interval (+ 1.5 s slack) of the freeze —
#     while its store calls still hang in their deadlines — which is well
#     before dead_after (12 s) by the heartbeat in the store;
#   - /healthz says it is cut off, revenant_self_fenced_total is 1;
#   - thawed, the heartbeat lands again, replicate logs it and goes on: a
#     file written while frozen reaches the store, /healthz is ok again,
#     and the hook did not run a second time;
#   - Ghost is started again (hooks.promote, once) only after a second
#     heartbeat confirmed the lease, at least one heartbeat interval after
#     the store answered.
set -u
. "$RV_SRCDIR/tests/lib/s3rver.sh"
. "$RV_SRCDIR/tests/lib/content_replicate.sh"
. "$RV_SRCDIR/tests/lib/wait.sh"

T=$(mktemp -d /tmp/rv-selffence.XXXXXX)
cleanup() {
	[ -n "${S3RVER_PID:-}" ] && kill -CONT "$S3RVER_PID" 2>/dev/null
	[ -n "${CR_PID:-}" ] && kill -KILL "$CR_PID" 2>/dev/null
	s3rver_cleanup
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	tail -30 "$T/r.log" >&2
	exit 1
}

s3rver_start || fail "cannot start s3rver"
s3rver_mkbucket rv-fence || fail "cannot create the bucket"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export RV_HOOK_LOG="$T/hooks.log"
PORT=$(cr_free_port)
mkdir -p "$T/content"
cat >"$T/r.yml" <<YML
site: dc
sync_interval: 300ms
store:
  url: "s3://rv-fence/site?endpoint=$S3RVER_URL&region=us-east-1"
  s3:
    deadline: 20s
    max_attempts: 10
    connect_timeout: 500ms
    request_timeout: 2s
metrics:
  listen: 127.0.0.1:$PORT
content:
  path: $T/content
failover:
  heartbeat_interval: 1s
  fence_after: 3s
  dead_after: 12s
hooks:
  fenced: $RV_SRCDIR/tests/fixtures/hooks/record_hook.sh
  promote: $RV_SRCDIR/tests/fixtures/hooks/record_hook.sh
  timeout: 5s
YML
health() { curl -s "http://127.0.0.1:$PORT/healthz"; }
metric() { curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
now_ms() { date +%s%3N; }

echo a >"$T/content/a.txt"
cr_start "$T/r.yml" "$T/r.log" || fail "replicate did not start"
until_ok 10 grep -q 'heartbeat' <(curl -sf "http://127.0.0.1:$PORT/metrics") || fail "no metrics"
sleep 1.5 # a few heartbeats land

kill -STOP "$S3RVER_PID"
FROZE=$(now_ms)
echo b >"$T/content/b.txt"
until_ok 10 grep -q '^event=fenced' "$RV_HOOK_LOG" || fail "hooks.fenced never ran"
TOOK=$(($(now_ms) - FROZE))
echo "hooks.fenced ran ${TOOK} ms after the store froze"
((TOOK <= 5500)) || fail "the self-fencing took $TOOK ms (fence_after 3 s + a heartbeat + slack)"
grep -q '^event=fenced .*REVENANT_EVENT=fenced .*REVENANT_SITE=dc' "$RV_HOOK_LOG" ||
	fail "the hook's environment: $(cat "$RV_HOOK_LOG")"
grep -q 'cut off from the store past failover.fence_after' "$T/r.log" || fail "no log line says why"
health | grep -q "cut off from the store" || fail "/healthz does not say it: $(health)"
[ "$(metric revenant_self_fenced_total)" = 1 ] || fail "revenant_self_fenced_total is $(metric revenant_self_fenced_total)"
kill -0 "$CR_PID" || fail "replicate exited while cut off"

kill -CONT "$S3RVER_PID"
until_ok 30 grep -q 'the store answers again' "$T/r.log" || fail "replicate never saw the store back"
BACK=$(now_ms)
grep -q '^event=promote' "$RV_HOOK_LOG" && fail "Ghost was started again at the first heartbeat"
until_ok 10 grep -q '^event=promote' "$RV_HOOK_LOG" || fail "Ghost was never started again (hooks.promote)"
AFTER=$(($(now_ms) - BACK))
echo "hooks.promote ran ${AFTER} ms after the store answered again"
((AFTER >= 700)) || fail "Ghost started again ${AFTER} ms after the store came back: before a second heartbeat"
grep -q 'the lease held through two heartbeats' "$T/r.log" || fail "no log line says why Ghost starts again"
until_ok 15 sh -c "\"$REVENANT\" -c \"$T/r.yml\" status --manifest 2>/dev/null | grep -q ' b.txt '" ||
	fail "b.txt, written while cut off, never reached the store"
until_ok 10 sh -c "curl -sf http://127.0.0.1:$PORT/healthz >/dev/null" || fail "/healthz not ok again: $(health)"
[ "$(grep -c '^event=fenced' "$RV_HOOK_LOG")" = 1 ] || fail "the hook ran more than once"
[ "$(grep -c '^event=promote' "$RV_HOOK_LOG")" = 1 ] || fail "hooks.promote ran more than once"
cr_stop
[ "$CR_RC" = 0 ] || fail "replicate exited $CR_RC on SIGTERM"
echo "PASS"
