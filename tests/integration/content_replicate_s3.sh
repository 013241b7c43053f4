#!/usr/bin/env bash
# content_replicate_s3.sh - `revenant replicate` against s3rver: files reach
# the store within 2 s; the server stopped for 15 s mid-run (writes go on)
# → replicate keeps watching, retries, catches up and loses nothing;
# /healthz says so while it is down; an unreachable store at start is one
# line and exit 3.
set -u
. "$RV_SRCDIR/tests/lib/s3rver.sh"
. "$RV_SRCDIR/tests/lib/content_replicate.sh"

T=$(mktemp -d /tmp/rv-crs3.XXXXXX)
cleanup() {
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
s3rver_mkbucket rv-content || fail "cannot create the bucket"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
URL="s3://rv-content/site?endpoint=$S3RVER_URL&region=us-east-1"
PORT=$(cr_free_port)
mkdir -p "$T/content"
config() { # config FILE URL
	cat >"$1" <<YML
site: dc
sync_interval: 300ms
store:
  url: "$2"
  s3:
    deadline: 3s
    max_attempts: 3
    connect_timeout: 500ms
    request_timeout: 2s
metrics:
  listen: 127.0.0.1:$PORT
content:
  path: $T/content
YML
}
config "$T/r.yml" "$URL"

echo "--- unreachable store at start: one line, exit 3"
DEAD=$(cr_free_port)
config "$T/dead.yml" "s3://rv-content/site?endpoint=http://127.0.0.1:$DEAD&region=us-east-1"
rc=0
err=$(timeout 60 "$REVENANT" -c "$T/dead.yml" replicate 2>&1 >/dev/null) || rc=$?
[ "$rc" = 3 ] || fail "unreachable store: exit $rc ($err)"
# Log lines (retries) may come first; the error itself is one line, last.
[ "$(printf '%s\n' "$err" | grep -c '^error:')" = 1 ] || fail "not one error line: $err"
printf '%s\n' "$err" | tail -1 | grep -q '^error: .*cannot reach' || fail "unclear error: $err"
echo "ok: $(printf '%s\n' "$err" | tail -1)"

echo "--- files reach s3rver (the latency is bench/content_bench.sh's to measure)"
mkdir -p "$T/content/images/2026"
for i in $(seq 1 50); do head -c $((RANDOM * 3)) /dev/urandom >"$T/content/images/2026/p$i.jpg"; done
cr_start "$T/r.yml" "$T/r.log" || fail "start"
echo "name with space" >"$T/content/images/a b.txt"
cr_wait_converged "$T/r.yml" "$T/content" 30 || fail "not in the store within 30 s"
# An independent client sees the blob with the file's bytes.
sha=$(sha256sum "$T/content/images/a b.txt" | cut -c1-64)
s3rver_aws s3 cp "s3://rv-content/site/blobs/sha256/${sha:0:2}/$sha" "$T/blob" >/dev/null || fail "aws cannot get the blob"
cmp "$T/blob" "$T/content/images/a b.txt" || fail "blob bytes differ"
echo "ok: converged; awscli reads the blob"

echo "--- s3rver down for 15 s while files keep changing"
s3rver_stop KILL
for i in $(seq 1 30); do
	echo "offline $i" >"$T/content/images/off$i.txt"
	sleep 0.25
done
rm "$T/content/images/2026/p1.jpg"
mkdir -p "$T/content/new/deep"
echo deep >"$T/content/new/deep/x.txt"
sleep 4
code=$(curl -s -o "$T/health" -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
[ "$code" = 503 ] || fail "/healthz answered $code while the store was down"
echo "ok: /healthz 503: $(cat "$T/health")"
kill -0 "$CR_PID" || fail "replicate died while the store was down"
s3rver_start "$S3RVER_DIR" "$S3RVER_PORT" || fail "cannot restart s3rver"
cr_wait_converged "$T/r.yml" "$T/content" 60 || fail "did not catch up after the outage"
echo "ok: caught up"
for i in $(seq 1 20); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" = 200 ] && break
	sleep 0.5
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" = 200 ] || fail "/healthz not 200 after recovery"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -q '^revenant_errors_total{kind="store"} [1-9]' || fail "store errors not counted"

echo "--- restart on s3 continues the state"
cr_stop
[ "$CR_RC" = 0 ] || fail "SIGTERM exit $CR_RC"
echo after >"$T/content/after.txt"
cr_start "$T/r.yml" "$T/r2.log" || fail "restart"
cr_wait_converged "$T/r.yml" "$T/content" 5 || fail "restart did not reconcile"
cr_stop
[ "$CR_RC" = 0 ] || fail "SIGTERM exit $CR_RC"
"$REVENANT" -c "$T/r.yml" status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); assert len(s["generations"])==2 and s["lease"]["epoch"]==2, s' || fail "status on s3"
echo PASS
