# ghost_errors.sh - `revenant ghost check` and `purge-posts` when things go
# wrong, against a real Ghost 5.130.4: a wrong key, a malformed key, an
# unreachable URL, a URL that is not Ghost, and Ghost killed in the middle of
# a purge (then restarted: a rerun finishes the job).  Each failure must be
# one clear line on stderr with its documented exit code.
set -uo pipefail
: "${REVENANT:?set REVENANT to the revenant binary}" "${RV_SRCDIR:?}"
. "$RV_SRCDIR/tests/lib/ghost.sh"
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-ghost-errors.XXXXXX")
web_pid=
trap '[[ -n $web_pid ]] && kill $web_pid 2>/dev/null; ghost_cleanup_all; rm -rf "$W"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
step() { echo "--- $*"; }

# expect RC PATTERN CMD...: exit code RC, exactly one stderr line matching PATTERN.
expect() {
	local want=$1 pat=$2 rc
	shift 2
	"$@" >"$W/out" 2>"$W/err" </dev/null
	rc=$?
	cat "$W/out" "$W/err"
	[[ $rc == "$want" ]] || fail "'${*:2:3}...' exited $rc, expected $want"
	[[ $(wc -l <"$W/err") == 1 ]] || fail "expected one line on stderr, got: $(cat "$W/err")"
	grep -qE "$pat" "$W/err" || fail "stderr does not match '$pat'"
	cat "$W/out" "$W/err" >>"$W/all-output"
}

ghost_install || fail "cannot install Ghost (see above)"
port=$(ghost_free_port)
ghost_start site "$port" || fail "Ghost did not start"
key=$(ghost_setup_admin site) || fail "cannot get an Admin API key"
url=$(ghost_url site)
R=$REVENANT
id=$(cut -d: -f1 "$key")
secret=$(cut -d: -f2 "$key")

step "check: all good"
"$R" ghost check --url "$url" --key-file "$key" >"$W/out" 2>&1 || fail "check: $(cat "$W/out")"
cat "$W/out"
grep -q '^key: ok' "$W/out" || fail "key not reported ok"
grep -q '^version: ok (Ghost 5.130)' "$W/out" || fail "version line"

step "url and key from the configuration (ghost.url, ghost.admin_key_file)"
printf 'ghost:\n  url: "%s"\n  admin_key_file: "%s"\nmetrics: {listen: off}\n' "$url" "$key" >"$W/ghost.yml"
"$R" -c "$W/ghost.yml" ghost check >"$W/out" 2>&1 || fail "check from config: $(cat "$W/out")"
grep -q '^key: ok' "$W/out" || fail "key from config not reported ok"
"$R" -c "$W/ghost.yml" config show >"$W/show" 2>&1 || fail "config show: $(cat "$W/show")"
grep -qF "$(cut -d: -f2 "$key")" "$W/show" && fail "config show printed the admin key secret"
echo "not-a-key" >"$W/malformed-cfg.key"
printf 'ghost:\n  url: "%s"\n  admin_key_file: "%s"\nmetrics: {listen: off}\n' "$url" "$W/malformed-cfg.key" >"$W/ghost-bad.yml"
expect 2 "^error: malformed Admin API key in $W/ghost-bad.yml: ghost.admin_key" \
	"$R" -c "$W/ghost-bad.yml" ghost purge-posts --yes
# Flags win over the configuration.
expect 2 "^error: malformed Admin API key in key file '$W/malformed-cfg.key'" \
	"$R" -c "$W/ghost.yml" ghost purge-posts --key-file "$W/malformed-cfg.key" --yes

step "wrong key: a valid-looking key Ghost does not know -> exit 4"
echo "0123456789abcdef01234567:$(printf 'ab%.0s' {1..32})" >"$W/unknown.key"
expect 4 "^error: the Admin API key was rejected: check that the key is an Admin API key of an active integration on $url" \
	"$R" ghost purge-posts --url "$url" --key-file "$W/unknown.key" --yes
step "wrong secret for a real key id -> exit 4"
echo "$id:$(printf 'cd%.0s' {1..32})" >"$W/badsecret.key"
expect 4 "^error: the Admin API key was rejected" \
	"$R" ghost purge-posts --url "$url" --key-file "$W/badsecret.key" --dry-run
expect 4 "^error: the Admin API key was rejected" \
	"$R" ghost check --url "$url" --key-file "$W/badsecret.key"
grep -q '^key: FAIL' "$W/out" || fail "check did not print key: FAIL"

step "malformed key -> exit 2"
echo "not-a-key" >"$W/malformed.key"
expect 2 "^error: malformed Admin API key in key file '$W/malformed.key'" \
	"$R" ghost purge-posts --url "$url" --key-file "$W/malformed.key" --yes
# The Content API key (26 characters) is the usual mix-up.
RV_TEST_KEY=a6e2b1c4d8f00e12345678ab9c expect 2 "malformed Admin API key in \\\$RV_TEST_KEY" \
	"$R" ghost check --url "$url" --key-env RV_TEST_KEY
expect 2 "does not exist" "$R" ghost purge-posts --url "$url" --key-file "$W/nope.key" --yes
expect 2 "unknown or incomplete option '--key'" \
	"$R" ghost purge-posts --url "$url" --key "$id:$secret" --yes

step "unreachable URL -> exit 3"
dead=http://127.0.0.1:$(ghost_free_port)
expect 3 "^error: cannot reach Ghost: GET $dead/ghost/api/admin/site/" \
	"$R" ghost purge-posts --url "$dead" --key-file "$key" --yes
expect 3 "^error: cannot reach Ghost" "$R" ghost check --url "$dead" --key-file "$key"
grep -q '^reachable: FAIL' "$W/out" || fail "check did not print reachable: FAIL"

step "a URL that is not Ghost -> exit 7"
webport=$(ghost_free_port)
mkdir -p "$W/www" && echo hello >"$W/www/index.html"
/usr/bin/python3 -m http.server "$webport" --bind 127.0.0.1 --directory "$W/www" \
	>"$W/web.log" 2>&1 &
web_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$webport/" && break; sleep 0.1; done
expect 7 "^error: http://127.0.0.1:$webport does not look like a Ghost site" \
	"$R" ghost purge-posts --url "http://127.0.0.1:$webport" --key-file "$key" --yes
expect 7 "does not look like a Ghost site" \
	"$R" ghost check --url "http://127.0.0.1:$webport"
grep -q '^reachable: ok' "$W/out" || fail "check: the web server is reachable"
# The token must not be sent to something that is not Ghost.
grep -q Authorization "$W/web.log" && fail "a token went to the non-Ghost server"

step "site URL mismatch -> exit 1"
expect 1 "is configured with url $url/" \
	"$R" ghost check --url "http://localhost:$port" --key-file "$key"
grep -q '^site url: FAIL' "$W/out" || fail "check did not print site url: FAIL"

step "Ghost killed in the middle of a purge -> exit 3; a rerun after a restart finishes"
ghost_api seed --url "$url" --key-file "$key" --posts 250 >/dev/null || fail "seeding failed"
"$R" --log-level debug ghost purge-posts --url "$url" --key-file "$key" --yes --jobs 2 \
	>"$W/kill.out" 2>"$W/kill.err" &
purge_pid=$!
for _ in $(seq 600); do
	(($(grep -c 'msg=deleted' "$W/kill.err") >= 40)) && break
	kill -0 $purge_pid 2>/dev/null || break
	sleep 0.05
done
deleted_before=$(grep -c 'msg=deleted' "$W/kill.err")
ghost_kill site
wait $purge_pid
rc=$?
cat "$W/kill.out"
grep -v 'level=debug' "$W/kill.err"
((deleted_before >= 40)) || fail "the purge did not get going before the kill"
[[ $rc == 3 ]] || fail "purge with Ghost killed exited $rc, expected 3"
grep -v 'level=debug' "$W/kill.err" | grep -q "^error: purge stopped: cannot reach Ghost" ||
	fail "no 'purge stopped' error line"
[[ $(grep -vc 'level=' "$W/kill.err") == 1 ]] || fail "more than one error line"
grep -qE "^posts on $url: found 251, deleted [0-9]+, failed 0" "$W/kill.out" ||
	fail "no summary after the kill"
ghost_start site "$port" || fail "Ghost did not restart"
left=$(ghost_api count --url "$url" --key-file "$key")
echo "after the restart $left posts are left"
((left > 0 && left < 251)) || fail "expected a partly purged site, $left posts left"
"$R" ghost purge-posts --url "$url" --key-file "$key" --yes >"$W/rerun.out" 2>"$W/rerun.err" ||
	fail "rerun failed: $(cat "$W/rerun.err")"
cat "$W/rerun.out"
grep -q "found $left, deleted $left, failed 0" "$W/rerun.out" || fail "rerun summary"
[[ $(ghost_api count --url "$url" --key-file "$key") == 0 ]] || fail "posts left after the rerun"

step "the key never shows up in any output"
cat "$W/kill.out" "$W/kill.err" "$W/rerun.out" "$W/rerun.err" >>"$W/all-output"
grep -qF "$secret" "$W/all-output" && fail "the key's secret was printed"
grep -q 'Ghost ey' "$W/all-output" && fail "a token was printed"
echo "PASS"
