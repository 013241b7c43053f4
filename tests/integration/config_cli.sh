# config_cli.sh - `revenant config check|show` as a user runs them: every
# good example passes with "ok: FILE" and exit 0, every bad example fails
# with exactly its expected one-line message and exit 2, a missing -c file is
# one clear line, the default search (./revenant.yml) works, `show` redacts
# secrets and its output passes `check` and shows the same again.  (That the
# config's log settings apply unless given on the command line is checked in
# tests/unit/core/test_config.c, test_cli_glue.)
set -uo pipefail
: "${REVENANT:?set REVENANT to the revenant binary}" "${RV_SRCDIR:?}" "${RV_TESTDIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-config-cli.XXXXXX")
trap 'rm -rf "$W"' EXIT
R=$REVENANT
C=$RV_TESTDIR/configs
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
step() { echo "--- $*"; }

# The variables tests/configs/good/env.yml uses.
export RV_CFGTEST_SITE=dr-2 RV_CFGTEST_DIR=/srv/rv RV_CFGTEST_PARTS=16 RV_CFGTEST_EMPTY=
unset RV_CFGTEST_UNSET_REGION RV_CFGTEST_UNSET_PART RV_CFGTEST_SURELY_UNSET

# run CMD...: stdout in $W/out, stderr in $W/err, exit code in $rc; all
# output is kept for the secret scan at the end.
run() {
	"$@" >"$W/out" 2>"$W/err" </dev/null
	rc=$?
	cat "$W/out" "$W/err" >>"$W/all-output"
}

step "good configurations"
n=0
for f in "$C"/good/*.yml "$RV_SRCDIR/revenant.example.yml"; do
	run "$R" config check -c "$f"
	[[ $rc == 0 ]] || fail "$f: exit $rc: $(cat "$W/err")"
	[[ $(cat "$W/out") == "ok: $f" ]] || fail "$f: stdout is '$(cat "$W/out")'"
	[[ ! -s $W/err ]] || fail "$f: stderr not empty: $(cat "$W/err")"
	# show's output is itself a valid configuration that shows the same.
	run "$R" config show -c "$f"
	[[ $rc == 0 ]] || fail "$f: show exit $rc"
	sed 1d "$W/out" >"$W/shown.yml"
	run "$R" config check -c "$W/shown.yml"
	[[ $rc == 0 ]] || fail "$f: the output of show does not pass check: $(cat "$W/err")"
	run "$R" config show -c "$W/shown.yml"
	diff <(sed 1d "$W/shown.yml") <(sed 1,2d "$W/out") ||
		fail "$f: show output changes when shown again"
	n=$((n + 1))
done
echo "$n good files pass"

step "bad configurations: exact message, exit 2"
n=0
for f in "$C"/bad/*.yml; do
	want="$f:$(head -1 "$f" | sed 's/^# expect: //')"
	run "$R" config check -c "$f"
	[[ $rc == 2 ]] || fail "$f: exit $rc, expected 2"
	[[ ! -s $W/out ]] || fail "$f: stdout not empty: $(cat "$W/out")"
	[[ $(wc -l <"$W/err") == 1 ]] || fail "$f: expected one line on stderr: $(cat "$W/err")"
	got=$(cat "$W/err")
	if [[ $want == *... ]]; then
		[[ $got == "error: ${want%...}"* ]] || fail "$f: got '$got', want 'error: $want'"
	else
		[[ $got == "error: $want" ]] || fail "$f: got '$got', want 'error: $want'"
	fi
	# show refuses the same files the same way.
	run "$R" config show -c "$f"
	[[ $rc == 2 && $(cat "$W/err") == "$got" ]] || fail "$f: show gave $rc: $(cat "$W/err")"
	n=$((n + 1))
done
((n >= 35)) || fail "only $n bad files found"
echo "$n bad files rejected"

step "a 2 MiB file"
head -c $((2 << 20)) /dev/zero | tr '\0' '#' >"$W/big.yml"
run "$R" config check -c "$W/big.yml"
[[ $rc == 2 && $(cat "$W/err") == "error: $W/big.yml: larger than 1048576 bytes: is this the right file?" ]] ||
	fail "big file: $rc $(cat "$W/err")"

step "-c missing.yml: one line, exit 2"
for args in "-c $W/missing.yml config check" "config check -c $W/missing.yml" \
	"-c $W/missing.yml config show"; do
	# shellcheck disable=SC2086
	run "$R" $args
	[[ $rc == 2 ]] || fail "$args: exit $rc"
	[[ $(cat "$W/err") == "error: config file '$W/missing.yml' does not exist" ]] ||
		fail "$args: $(cat "$W/err")"
done

step "default search: ./revenant.yml, else built-in defaults for show"
mkdir "$W/cwd"
(
	cd "$W/cwd" || exit 1
	if [[ ! -e /etc/revenant/revenant.yml ]]; then
		run "$R" config check
		[[ $rc == 2 && $(cat "$W/err") == "error: no configuration: give -c FILE, or create ./revenant.yml or /etc/revenant/revenant.yml" ]] ||
			fail "check without a file: $rc $(cat "$W/err")"
		run "$R" config show
		[[ $rc == 0 ]] || fail "show without a file: $rc"
		grep -q '^# revenant configuration from (built-in defaults)$' "$W/out" ||
			fail "show without a file: $(head -1 "$W/out")"
		grep -q '^    part_size: 8MiB$' "$W/out" || fail "show without a file lacks defaults"
	fi
	cp "$C/good/minimal.yml" revenant.yml
	run "$R" config check
	[[ $rc == 0 && $(cat "$W/out") == "ok: revenant.yml" ]] || fail "./revenant.yml: $rc"
	run "$R" config show
	grep -q '^  url: "file:///var/lib/revenant/store"$' "$W/out" || fail "show ./revenant.yml"
) || exit 1

step "show redacts secrets (inline and *_file)"
for f in full secret_file; do
	run "$R" config show -c "$C/good/$f.yml"
	[[ $rc == 0 ]] || fail "$f: show exit $rc"
	[[ $(grep -c '"\[redacted\]"$' "$W/out") == 2 ]] || fail "$f: expected 2 redacted values"
done

step "no secret in any output"
for s in test-inline-secret/not-real test-inline-token-not-real \
	test-file-secret/not-real test-file-token-not-real \
	inline-secret-value unterminated-secret not-a-real-key-name-value; do
	if grep -qF -- "$s" "$W/all-output"; then
		fail "secret '$s' was printed"
	fi
done
[[ -s $W/all-output ]] || fail "no output captured"

step "help"
run "$R" config --help
[[ $rc == 0 ]] && grep -q '^usage: revenant \[-c FILE\] config check' "$W/out" || fail "config --help"
run "$R" config frobnicate
[[ $rc == 2 && $(cat "$W/err") == "error: config: unknown subcommand 'frobnicate' (use check or show)" ]] ||
	fail "unknown subcommand: $rc $(cat "$W/err")"
echo "PASS"
