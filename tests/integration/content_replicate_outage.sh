#!/usr/bin/env bash
# content_replicate_outage.sh - `revenant replicate` keeps going through
# store outages and catches up by itself, losing nothing:
#  (a) s3rver killed for 30 s (data kept, restarted on the same port) while
#      files are written, changed, chmod'ed, renamed and deleted;
#  (b) tests/fakes/faultproxy.py answering 503 SlowDown / ServiceUnavailable
#      to 80 % of the requests for 20 s while the same churn goes on.
# After each, within a bound, the store's latest state equals the folder
# (paths, bytes, modes, link targets), a `revenant restore` into an empty
# folder equals it too (diff -r and a sha256+mode list), the one replicate
# process never exited, /metrics counted the store errors, and it did not
# spin while it waited (under 10 s of CPU in the 30 s outage).
set -u
. "$RV_SRCDIR/tests/lib/s3rver.sh"
. "$RV_SRCDIR/tests/lib/content_replicate.sh"

T=$(mktemp -d /tmp/rv-crout.XXXXXX)
FP_PID=
cleanup() {
	[ -n "${CR_PID:-}" ] && kill -KILL "$CR_PID" 2>/dev/null
	[ -n "$FP_PID" ] && kill -KILL "$FP_PID" 2>/dev/null
	s3rver_cleanup
	rm -rf "$T"
}
trap cleanup EXIT
LOG="$T/a.log"
fail() {
	echo "FAIL: $*" >&2
	tail -30 "$LOG" >&2
	exit 1
}

s3rver_start || fail "cannot start s3rver"
s3rver_mkbucket rv-outage || fail "cannot create the bucket"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
config() { # config FILE ENDPOINT SITEPREFIX CONTENT METRICSPORT
	cat >"$1" <<YML
site: dc
sync_interval: 300ms
store:
  url: "s3://rv-outage/$3?endpoint=$2&region=us-east-1"
  s3:
    deadline: 3s
    max_attempts: 3
    connect_timeout: 500ms
    request_timeout: 2s
metrics:
  listen: 127.0.0.1:$5
content:
  path: $4
YML
}

# tree DIR: "F path mode sha256" / "D path mode" / "L path target", sorted,
# paths %-escaped as docs/FORMAT.md says (as `status --manifest` prints).
tree() {
	python3 - "$1" <<'PY' | LC_ALL=C sort
import hashlib, os, sys
root = sys.argv[1].encode()
def esc(b):
    return ''.join('%%%02X' % c if c <= 0x20 or c in (0x25, 0x7f) else chr(c) for c in b)
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        p = os.path.join(d, n)
        r = esc(os.path.relpath(p, root))
        st = os.lstat(p)
        if os.path.islink(p):
            print('L %s %s' % (r, esc(os.readlink(p))))
        elif os.path.isdir(p):
            print('D %s %04o' % (r, st.st_mode & 0o7777))
        else:
            with open(p, 'rb') as f:
                print('F %s %04o %s' % (r, st.st_mode & 0o7777, hashlib.sha256(f.read()).hexdigest()))
PY
}
recorded() {
	"$REVENANT" -c "$1" --log-level warn status --manifest | awk '
		$1 == "file" { print "F " $2 " " $4 " " $6; next }
		$1 == "dir"  { print "D " $2 " " $3; next }
		$1 == "link" { print "L " $2 " " $4 }' | LC_ALL=C sort
}
# converge CONFIG DIR SECONDS: the latest recorded state equals DIR,
# modes included; prints how long it took.
converge() {
	local start end now
	start=$(date +%s)
	end=$((start + $3))
	while :; do
		kill -0 "$CR_PID" 2>/dev/null || fail "replicate exited"
		if diff <(tree "$2") <(recorded "$1") >"$T/diff" 2>&1; then
			echo "converged in $(($(date +%s) - start)) s"
			return 0
		fi
		now=$(date +%s)
		if [ "$now" -ge "$end" ]; then
			head -20 "$T/diff" >&2
			return 1
		fi
		sleep 0.5
	done
}
# restore_check CONFIG DIR: restore the latest state into an empty folder
# and compare it with DIR byte for byte and mode for mode.
restore_check() {
	local out="$T/restored.$RANDOM"
	"$REVENANT" -c "$1" --log-level warn restore --to "$out" >"$T/restore.out" 2>&1 ||
		{ cat "$T/restore.out" >&2; fail "restore failed"; }
	diff -r --no-dereference "$2" "$out" >&2 || fail "restored folder differs (diff -r)"
	diff <(tree "$2") <(tree "$out") >&2 || fail "restored folder differs (sha256/modes)"
	echo "ok: restore into an empty folder equals the folder ($(tree "$out" | wc -l) entries)"
	rm -rf "$out"
}
metric() { # metric PORT NAME{labels}
	curl -s "http://127.0.0.1:$1/metrics" | awk -v k="$2" '$1 == k { print $2 }'
}

# churn DIR SECONDS TAG: writes, overwrites, deletes, chmods, renames,
# folders, links and a large file now and then, four times a second.
churn() {
	local d="$1" end=$(($(date +%s) + $2)) tag="$3" i=0
	mkdir -p "$d/$tag"
	while [ "$(date +%s)" -lt "$end" ]; do
		i=$((i + 1))
		head -c $((RANDOM % 5000)) /dev/urandom >"$d/$tag/w$i.txt"
		[ $i -gt 2 ] && echo "rewritten $i" >"$d/$tag/w$((i - 2)).txt"
		[ $((i % 3)) = 0 ] && rm -f "$d/$tag/w$((i - 1)).txt"
		[ $((i % 4)) = 0 ] && chmod 600 "$d/$tag/w$i.txt"
		[ $((i % 5)) = 0 ] && chmod 755 "$d/$tag/w$((i - 3)).txt" 2>/dev/null
		[ $((i % 6)) = 0 ] && mkdir -p "$d/$tag/sub$i/deep" && echo "$i" >"$d/$tag/sub$i/deep/f.txt"
		[ $((i % 7)) = 0 ] && rm -rf "$d/$tag/sub$((i - 1))"
		[ $((i % 8)) = 0 ] && ln -sf "w$i.txt" "$d/$tag/link$i"
		[ $((i % 9)) = 0 ] && mv "$d/$tag/w$((i - 4)).txt" "$d/$tag/moved $i.txt" 2>/dev/null
		[ $((i % 25)) = 0 ] && head -c $((1536 * 1024 + RANDOM)) /dev/urandom >"$d/$tag/big$i.bin"
		[ $((i % 10)) = 0 ] && chmod 700 "$d/$tag/sub$((i - 4))" 2>/dev/null
		sleep 0.25
	done
	echo "churn $tag: $i rounds"
}

echo "=== (a) s3rver killed for 30 s"
mkdir -p "$T/c/images/2026" "$T/c/files"
for i in $(seq 1 40); do head -c $((RANDOM * 2)) /dev/urandom >"$T/c/images/2026/p$i.jpg"; done
echo "a b" >"$T/c/files/with space.txt"
chmod 640 "$T/c/files/with space.txt"
PA=$(cr_free_port)
config "$T/a.yml" "$S3RVER_URL" site-a "$T/c" "$PA"
cr_start "$T/a.yml" "$LOG" || fail "start"
PID_A=$CR_PID
converge "$T/a.yml" "$T/c" 10 || fail "initial files not replicated"
s3rver_stop KILL
echo "s3rver killed"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
C0=$(cpu_ticks "$PID_A")
churn "$T/c" 30 out-a
kill -0 "$PID_A" || fail "replicate died while the store was down"
# Waiting out the outage is sleeping, not spinning: a loop that woke for
# a heartbeat it would not write burned a whole core here.
CPU_S=$(( ($(cpu_ticks "$PID_A") - C0) / $(getconf CLK_TCK) ))
echo "replicate used $CPU_S s of CPU during the 30 s outage"
((CPU_S < 10)) || fail "replicate used $CPU_S s of CPU in a 30 s store outage: it spins"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PA/healthz")" = 503 ] ||
	fail "/healthz is not 503 after 30 s without a store"
s3rver_start "$S3RVER_DIR" "$S3RVER_PORT" || fail "cannot restart s3rver"
echo "s3rver restarted on port $S3RVER_PORT with its data"
# Blob upload retries back off up to 30 s: the bound allows one full wait.
converge "$T/a.yml" "$T/c" 60 || fail "did not catch up within 60 s of the restart"
restore_check "$T/a.yml" "$T/c"
[ "$CR_PID" = "$PID_A" ] && kill -0 "$PID_A" || fail "replicate was replaced or exited"
[ "$(grep -c 'content generation started' "$LOG")" = 1 ] || fail "replicate started more than once"
m=$(metric "$PA" 'revenant_errors_total{kind="store"}')
[ "${m:-0}" != 0 ] || fail "store errors not counted (revenant_errors_total{kind=\"store\"} '$m')"
echo "ok: revenant_errors_total{kind=\"store\"} $m, {kind=\"upload\"} $(metric "$PA" 'revenant_errors_total{kind="upload"}')"
cr_stop
[ "$CR_RC" = 0 ] || fail "SIGTERM exit $CR_RC"

echo "=== (b) 80 % of requests answered 503 for 20 s"
LOG="$T/b.log"
FAULTS="$T/faults-on"
python3 "$RV_TESTDIR/fakes/faultproxy.py" --upstream "127.0.0.1:$S3RVER_PORT" --mode busy \
	--count -1 --ratio 0.8 --seed 7 --while-file "$FAULTS" \
	--port-file "$T/fp.port" --stats-file "$T/fp.stats" 2>"$T/fp.err" &
FP_PID=$!
for i in $(seq 1 50); do [ -s "$T/fp.port" ] && break; sleep 0.1; done
[ -s "$T/fp.port" ] || { cat "$T/fp.err" >&2; fail "faultproxy did not start"; }
PB=$(cr_free_port)
config "$T/b.yml" "http://127.0.0.1:$(cat "$T/fp.port")" site-b "$T/c" "$PB"
cr_start "$T/b.yml" "$LOG" || fail "start through the proxy"
PID_B=$CR_PID
converge "$T/b.yml" "$T/c" 20 || fail "initial state not replicated through the proxy"
before=$(metric "$PB" 'revenant_errors_total{kind="store"}')
: >"$FAULTS"
echo "faults on"
churn "$T/c" 20 out-b
rm -f "$FAULTS"
echo "faults off: $(cat "$T/fp.stats")"
faults=$(sed -n 's/.*faults=\([0-9]*\).*/\1/p' "$T/fp.stats")
[ "${faults:-0}" -ge 20 ] || fail "the proxy injected only '${faults:-0}' faults"
converge "$T/b.yml" "$T/c" 45 || fail "did not catch up within 45 s after the faults stopped"
restore_check "$T/b.yml" "$T/c"
[ "$CR_PID" = "$PID_B" ] && kill -0 "$PID_B" || fail "replicate was replaced or exited"
after=$(metric "$PB" 'revenant_errors_total{kind="store"}')
upl=$(metric "$PB" 'revenant_errors_total{kind="upload"}')
# Each store operation is retried 3 times inside the backend first; what
# outlasts that is counted: a commit (kind store) or a blob (kind upload).
[ "$(python3 -c "print(int(${after:-0} + ${upl:-0} > ${before:-0}))")" = 1 ] ||
	fail "no store errors counted during the faults (store $before -> $after, upload $upl)"
echo "ok: errors_total store $before -> $after, upload $upl"
grep -q 'SlowDown\|ServiceUnavailable' "$LOG" || fail "the log does not name the 503 answers"
cr_stop
[ "$CR_RC" = 0 ] || fail "SIGTERM exit $CR_RC"
echo PASS
