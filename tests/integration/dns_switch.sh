# dns_switch.sh - `revenant dns show | switch` as an operator runs them,
# against a real BIND 9.18 started here (tests/lib/bind.sh), with dig as
# the second client: DC -> DR -> DC, each verified with dig; --dry-run and a
# second switch change nothing; a record someone else changed is refused
# with exit 6 and left alone; a wrong TSIG secret exits 4 and prints no
# secret; a name external-dns owns is refused with exit 2; BIND stopped
# exits 3 within the timeout; an answer truncated over UDP is asked again
# over TCP; --json is JSON.
set -uo pipefail
: "${REVENANT:?set REVENANT to the revenant binary}" "${RV_TESTDIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-dns-switch.XXXXXX")
# shellcheck source=/dev/null
. "$RV_TESTDIR/lib/bind.sh"
trap 'bind_stop; rm -rf "$W"' EXIT
R=$REVENANT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
step() { echo "--- $*"; }
run() {
	"$@" >"$W/out" 2>"$W/err" </dev/null
	rc=$?
	cat "$W/out" "$W/err" >>"$W/all-output"
}

bind_start "$W/bind" || fail "cannot start BIND"
printf '%s\n' "$BIND_KEY_SECRET" >"$W/secret"
printf '%s\n' "c2VjcmV0IHRoYXQgaXMgbm90IHRoZSBzZXJ2ZXIncyBrZXkgISEhISE=" >"$W/wrong-secret"
# config NAME SECRET_FILE: a dns section for `name` in example.test
config() {
	cat <<YML
site: dc
dns:
  provider: rfc2136
  names: [$1.example.test]
  type: A
  ttl: 30s
  targets: ["dc=192.0.2.10", "dr=198.51.100.20,198.51.100.21"]
  rfc2136:
    server: "127.0.0.1:$BIND_PORT"
    zone: example.test
    key_name: rv-test
    key_secret_file: $2
    timeout: 1s
YML
}
config www "$W/secret" >"$W/rv.yml"
config www "$W/wrong-secret" >"$W/wrong.yml"
config owned "$W/secret" >"$W/owned.yml"
answer() { bind_dig "$1.example.test" A | sort | paste -sd, -; }

step "config check, show"
run "$R" -c "$W/rv.yml" config check
[[ $rc == 0 ]] || fail "config check: exit $rc: $(cat "$W/err")"
run "$R" -c "$W/rv.yml" dns show
[[ $rc == 0 ]] || fail "dns show: exit $rc: $(cat "$W/err")"
grep -q '^www.example.test. A 192.0.2.10 site=dc$' "$W/out" || fail "dns show: $(cat "$W/out")"
run "$R" -c "$W/rv.yml" dns show --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d[0]["site"]=="dc" and d[0]["values"]==["192.0.2.10"], d' "$W/out" ||
	fail "dns show --json: $(cat "$W/out")"

step "dry run changes nothing"
run "$R" -c "$W/rv.yml" dns switch --to dr --dry-run
[[ $rc == 0 ]] || fail "dry run: exit $rc: $(cat "$W/err")"
grep -q "would switch" "$W/out" || fail "dry run: $(cat "$W/out")"
[[ $(answer www) == 192.0.2.10 ]] || fail "dry run changed the record: $(answer www)"

step "DC -> DR -> DC, verified with dig"
run "$R" -c "$W/rv.yml" dns switch --to dr
[[ $rc == 0 ]] || fail "switch to dr: exit $rc: $(cat "$W/err")"
grep -q "switched dc -> dr" "$W/out" || fail "switch to dr: $(cat "$W/out")"
[[ $(answer www) == 198.51.100.20,198.51.100.21 ]] || fail "after the switch dig says $(answer www)"
run "$R" -c "$W/rv.yml" dns switch --to dr --json
[[ $rc == 0 ]] || fail "second switch: exit $rc"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d[0]["result"]=="unchanged", d' "$W/out" ||
	fail "second switch: $(cat "$W/out")"
run "$R" -c "$W/rv.yml" dns switch --to dc
[[ $rc == 0 ]] || fail "switch back: exit $rc: $(cat "$W/err")"
[[ $(answer www) == 192.0.2.10 ]] || fail "after the switch back dig says $(answer www)"

step "a record changed behind revenant's back is left alone (exit 6)"
printf 'server 127.0.0.1 %s\nzone example.test\nupdate delete www.example.test A\nupdate add www.example.test 60 A 203.0.113.9\nsend\n' \
	"$BIND_PORT" | nsupdate -k "$BIND_KEY_FILE" || fail "nsupdate"
run "$R" -c "$W/rv.yml" dns switch --to dr
[[ $rc == 6 ]] || fail "foreign value: exit $rc, not 6: $(cat "$W/err")"
grep -q "203.0.113.9, which is no site's target" "$W/err" || fail "foreign value: $(cat "$W/err")"
[[ $(answer www) == 203.0.113.9 ]] || fail "the foreign value was overwritten: $(answer www)"
printf 'server 127.0.0.1 %s\nzone example.test\nupdate delete www.example.test A\nupdate add www.example.test 60 A 192.0.2.10\nsend\n' \
	"$BIND_PORT" | nsupdate -k "$BIND_KEY_FILE" || fail "nsupdate"

step "wrong TSIG secret (exit 4, no secret printed)"
run "$R" -c "$W/wrong.yml" dns switch --to dr
[[ $rc == 4 ]] || fail "wrong secret: exit $rc, not 4: $(cat "$W/err")"
grep -q "did not accept TSIG key 'rv-test'" "$W/err" || fail "wrong secret: $(cat "$W/err")"
[[ $(answer www) == 192.0.2.10 ]] || fail "a refused switch changed the record"

step "a name external-dns owns is refused (exit 2)"
run "$R" -c "$W/owned.yml" dns switch --to dr
[[ $rc == 2 ]] || fail "external-dns: exit $rc, not 2: $(cat "$W/err")"
grep -q "owned by external-dns (owner 'dc')" "$W/err" || fail "external-dns: $(cat "$W/err")"
[[ $(answer owned) == 192.0.2.30 ]] || fail "an external-dns record was changed"

step "an answer too big for UDP is asked again over TCP (the ownership record in it is seen)"
config big "$W/secret" >"$W/big.yml"
run "$R" -c "$W/big.yml" dns switch --to dr
[[ $rc == 2 ]] || fail "big answer: exit $rc, not 2: $(cat "$W/err")"
grep -q "owned by external-dns (owner 'dr')" "$W/err" || fail "big answer: $(cat "$W/err")"
[[ $(answer big) == 192.0.2.10 ]] || fail "the big name was changed"
# BIND's query log marks a query that came over TCP with T in its flags.
grep -q "query: big.example.test IN TXT .*T" "$BIND_DIR/named.log" ||
	fail "no TXT query for big.example.test came over TCP: $(grep big.example.test "$BIND_DIR/named.log")"
grep -q "query: big.example.test IN TXT [^T]*\$" "$BIND_DIR/named.log" ||
	fail "revenant did not ask over UDP first: $(grep big.example.test "$BIND_DIR/named.log")"

step "usage errors"
run "$R" -c "$W/rv.yml" dns switch
[[ $rc == 2 ]] && grep -q "needs --to SITE" "$W/err" || fail "no --to: exit $rc: $(cat "$W/err")"
run "$R" -c "$W/rv.yml" dns switch --to eu3
[[ $rc == 2 ]] && grep -q "no target for site 'eu3'" "$W/err" || fail "unknown site: exit $rc: $(cat "$W/err")"

step "BIND stopped (exit 3 within the timeout)"
bind_stop
start=$(date +%s%N)
run "$R" -c "$W/rv.yml" dns switch --to dr
took=$((($(date +%s%N) - start) / 1000000))
[[ $rc == 3 ]] || fail "server down: exit $rc, not 3: $(cat "$W/err")"
((took < 5000)) || fail "server down: took $took ms"

step "no secret in any output"
for s in "$BIND_KEY_SECRET" "$(cat "$W/wrong-secret")"; do
	! grep -qF "$s" "$W/all-output" || fail "a TSIG secret was printed"
done
echo "PASS"
