#!/usr/bin/env bash
# hostile_s3.sh - `store get -r`, restore, standby --promote-once, status and
# prune against an S3 endpoint that lies (tests/fakes/hostile_s3.py):
# listings with keys outside the requested prefix, shorter than it, absolute,
# with "..", empty or control-character segments, or not XML at all; GETs
# with a short body, a wrong Content-Length, a redirect and an HTML 403.
# Every run is bounded; none may crash, hang or write outside its folder,
# and each failure is said in clear error lines.
set -euo pipefail

: "${REVENANT:?set REVENANT to the built binary}"
: "${RV_TESTDIR:?set RV_TESTDIR to tests/}"
export LC_ALL=C.UTF-8

WORK=$(mktemp -d /tmp/rv-hostile-s3.XXXXXX)
FAKE=
cleanup() {
	if [ -n "$FAKE" ]; then kill "$FAKE" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE
export AWS_ACCESS_KEY_ID=hostile-key AWS_SECRET_ACCESS_KEY=hostile-secret AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

checks=0
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
ok() { checks=$((checks + 1)); }

python3 "$RV_TESTDIR/fakes/hostile_s3.py" --port-file "$WORK/port" &
FAKE=$!
for _ in $(seq 100); do
	[ -s "$WORK/port" ] && break
	sleep 0.1
done
[ -s "$WORK/port" ] || fail "hostile_s3.py did not start"
EP="http://127.0.0.1:$(cat "$WORK/port")"
url() { echo "s3://$1/site?endpoint=$EP&region=us-east-1"; }

# Everything a write could reach outside the targets (all under $WORK/box).
mkdir -p "$WORK/box/canary"
echo secret >"$WORK/box/canary/secret"
canary() {
	find "$WORK" -path "$WORK/box/t" -prune -o -path "$WORK/run" -prune -o \
		-printf '%p %y %s\n' | grep -v "^$WORK/port" | sort | sha256sum
}
BEFORE=$(canary)

# run WANT CMD...: bounded, no crash, the exit code WANT (or any of
# "WANT|WANT2"), nothing outside $WORK/box/t changed; output in $WORK/run.
run() {
	local want=$1 rc=0
	shift
	timeout -k 5 60 "$REVENANT" --log-level warn "$@" >"$WORK/run" 2>&1 || rc=$?
	[ "$rc" -lt 124 ] || fail "'$*': exit $rc (timeout or crash): $(tail -5 "$WORK/run")"
	[[ "$rc" =~ ^($want)$ ]] || fail "'$*': exit $rc, wanted $want: $(cat "$WORK/run")"
	[ "$(canary)" = "$BEFORE" ] || fail "'$*': something outside the target changed"
	if [ -e "$WORK/box/escape" ] || [ -e "$WORK/escape" ] || [ -e "$WORK/box/t/escape" ]; then
		fail "'$*': wrote an escape file"
	fi
	if grep -q 'AddressSanitizer\|runtime error' "$WORK/run"; then
		fail "'$*': sanitizer report: $(cat "$WORK/run")"
	fi
	ok
}
T=$WORK/box/t/x

# --- store get -r ----------------------------------------------------------------
# Keys outside the prefix or shorter than it: the whole listing is refused.
run 7 store get -r "$(url outside)" abcd "$T"
grep -q "^error: the listing of 'abcd/'.*returned the key 'abcd../escape'" "$WORK/run" ||
	fail "outside: $(cat "$WORK/run")"
[ -z "$(ls -A "$T" 2>/dev/null)" ] || fail "outside: files were written"
run 7 store get -r "$(url outside)" ab "$T"
run 7 store get -r "$(url outside)" abc "$T" # 'abc../escape' is "../escape" past "abc/"
# Keys under the prefix that climb out of it: each refused, the good one kept.
rm -rf "$WORK/box/t"
run 7 store get -r "$(url dots)" abc "$T"
[ "$(cat "$T/ok.txt")" = fine ] || fail "dots: ok.txt not fetched"
for k in 'abc/../escape' 'abc/a/../../escape' 'abc/a//b' "abc/'"; do
	grep -qF "error: listed key '$k" "$WORK/run" || fail "dots: '$k' not refused: $(cat "$WORK/run")"
done
grep -q "failed; first: listed key" "$WORK/run" || fail "dots: no summary line"
[ ! -e "$WORK/box/t/escape" ] || fail "dots: escape written"
[ "$(find "$WORK/box/t" | wc -l)" -le 4 ] || fail "dots: stray files: $(find "$WORK/box/t")"
# Not XML, or a NUL character reference: one clear line.
run 7 store get -r "$(url nul)" abc "$T"
grep -q "^error: s3 list: the answer is not XML" "$WORK/run" || fail "nul: $(cat "$WORK/run")"
run 7 store get -r "$(url notxml)" abc "$T"
grep -q "^error: s3 list: the answer is not a ListBucketResult" "$WORK/run" ||
	fail "notxml: $(cat "$WORK/run")"
# Broken GETs: a clear line each, nothing half-written left behind.
rm -rf "$WORK/box/t"
run '1|3|4|7' store get -r "$(url gets)" abc "$T"
grep -q "abc/redirect.*302" "$WORK/run" || fail "gets: redirect: $(cat "$WORK/run")"
grep -q "abc/denied.*access denied" "$WORK/run" || fail "gets: 403: $(cat "$WORK/run")"
grep -q "abc/short.*transfer closed" "$WORK/run" || fail "gets: short: $(cat "$WORK/run")"
for f in short redirect denied; do [ ! -e "$T/$f" ] || fail "gets: '$f' was written"; done
[ -z "$(find "$WORK/box/t" -name '*.rv-tmp.*')" ] || fail "gets: temporaries left behind"

# --- restore, standby, status, prune: the listings they use are refused ----------
rm -rf "$WORK/box/t"
run 7 status "$(url lease)"
grep -q "^error: the listing of 'generations/'" "$WORK/run" || fail "status: $(cat "$WORK/run")"
run 7 restore --content-only --to "$T" "$(url lease)"
grep -q "^error: the listing of 'generations/" "$WORK/run" || fail "restore: $(cat "$WORK/run")"
[ "$(grep -c '^error:' "$WORK/run")" -eq 1 ] || fail "restore: not one line: $(cat "$WORK/run")"
run 7 standby --promote-once --to "$T" "$(url lease)"
grep -q "^error: the listing of 'generations/" "$WORK/run" || fail "standby: $(cat "$WORK/run")"
run 7 prune --dry-run "$(url lease)"
grep -q "^error: the listing of 'generations/" "$WORK/run" || fail "prune: $(cat "$WORK/run")"
run 7 store ls "$(url outside)" abc/

echo "hostile_s3: $checks checks passed"
