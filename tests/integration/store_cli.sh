#!/usr/bin/env bash
# store_cli.sh - `revenant store` and `revenant bucket init` end to end on a
# file:// store and on a real s3rver (tests/lib/s3rver.sh).
set -euo pipefail

: "${REVENANT:?set REVENANT to the built binary}"
: "${RV_TESTDIR:?set RV_TESTDIR to tests/}"
export LC_ALL=C

WORK=$(mktemp -d /tmp/rv-store-cli.XXXXXX)
chmod 755 "$WORK"
cleanup() {
	if declare -F s3rver_stop >/dev/null; then s3rver_stop || true; fi
	rm -rf "$WORK"
}
# An ambient AWS setup must not leak into the file:// part or s3rver.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE
trap cleanup EXIT

# Info lines (credentials loaded, ...) would break the one-line checks.
rv() { "$REVENANT" --log-level warn "$@"; }

checks=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); }

# expect_rc CODE CMD... : run, require exit CODE, keep stderr in $WORK/err.
expect_rc() {
	local want=$1 rc=0
	shift
	"$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
	[ "$rc" -eq "$want" ] || fail "'$*' exited $rc, wanted $want; stderr: $(cat "$WORK/err")"
	ok
}
# expect_err TEXT : the last command's stderr is one line containing TEXT.
expect_err() {
	grep -qF -- "$1" "$WORK/err" || fail "stderr lacks '$1': $(cat "$WORK/err")"
	[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "stderr is not one line: $(cat "$WORK/err")"
	ok
}

make_tree() { # make_tree DIR N: N files in nested folders, odd names included
	local dir=$1 n=$2 i
	mkdir -p "$dir"
	for ((i = 0; i < n; i++)); do
		local d="$dir/d$((i % 10))/s$((i % 7))"
		mkdir -p "$d"
		printf 'file %d %s\n' "$i" "$RANDOM" >"$d/f$i.txt"
	done
	mkdir -p "$dir/with space/caf$(printf '\xc3\xa9')"
	head -c 300000 /dev/urandom >"$dir/with space/caf$(printf '\xc3\xa9')/big bin"
	: >"$dir/empty file"
	printf 'x' >"$dir/a-b"
	mkdir -p "$dir/a" && printf 'y' >"$dir/a/b"
}

# Tests that hold for every backend.  $1 = store URL (empty store).
suite() {
	local U=$1 tag=$2
	echo "== $tag: $U"

	# Round trip of a file, via a file and via stdout.
	head -c 5000000 /dev/urandom >"$WORK/src.bin"
	expect_rc 0 rv store put "$U" "dir/obj.bin" "$WORK/src.bin"
	[ ! -s "$WORK/out" ] || fail "put printed something without -v"
	expect_rc 0 rv store get "$U" "dir/obj.bin" "$WORK/back.bin"
	cmp "$WORK/src.bin" "$WORK/back.bin" || fail "round trip differs"
	ok
	rv store get "$U" "dir/obj.bin" | cmp - "$WORK/src.bin" || fail "stdout get differs"
	ok
	rv store get "$U" "dir/obj.bin" - | cmp - "$WORK/src.bin" || fail "get - differs"
	ok

	# stdin put (a pipe, size unknown up front).
	head -c 3000000 /dev/urandom | tee "$WORK/stdin.bin" |
		rv store put "$U" "piped" - || fail "stdin put"
	rv store get "$U" piped | cmp - "$WORK/stdin.bin" || fail "stdin round trip"
	ok

	# Ranges (inclusive, like HTTP).
	rv store get --range 100-199 "$U" dir/obj.bin >"$WORK/r1"
	head -c 200 "$WORK/src.bin" | tail -c 100 | cmp - "$WORK/r1" || fail "range 100-199"
	ok
	rv store get "$U" dir/obj.bin --range 4999990- >"$WORK/r2"
	tail -c 10 "$WORK/src.bin" | cmp - "$WORK/r2" || fail "open range"
	ok
	expect_rc 2 rv store get --range 9-3 "$U" dir/obj.bin
	expect_err "END >= START"
	expect_rc 2 rv store get --range abc "$U" dir/obj.bin

	# head, and ls -l agreeing with it.
	expect_rc 0 rv store head "$U" dir/obj.bin
	grep -qx 'size: 5000000' "$WORK/out" || fail "head size: $(cat "$WORK/out")"
	etag=$(sed -n 's/^etag: //p' "$WORK/out")
	[ -n "$etag" ] || fail "head printed no etag"
	rv store ls -l "$U" dir/ >"$WORK/ls"
	grep -qF "$etag  dir/obj.bin" "$WORK/ls" || fail "ls -l: $(cat "$WORK/ls")"
	ok

	# Conditional puts: 6 = conflict; refused (1) where the server would
	# ignore the condition.
	rv store caps "$U" >"$WORK/caps"
	if grep -qx "put_if_absent: yes" "$WORK/caps"; then
		expect_rc 6 rv store put --if-absent "$U" dir/obj.bin "$WORK/stdin.bin"
		expect_rc 0 rv store put --if-absent "$U" fresh "$WORK/stdin.bin"
	else
		expect_rc 1 rv store put --if-absent "$U" fresh "$WORK/stdin.bin"
		expect_err "cannot be atomic"
		expect_rc 0 rv store put "$U" fresh "$WORK/stdin.bin"
	fi
	if grep -qx "put_if_match: yes" "$WORK/caps"; then
		expect_rc 6 rv store put --if-match nope "$U" dir/obj.bin "$WORK/stdin.bin"
		expect_rc 0 rv store put -v --if-match "$etag" "$U" dir/obj.bin "$WORK/stdin.bin"
		grep -q "etag" "$WORK/out" || fail "put -v printed no etag"
		expect_rc 6 rv store put --if-match "$etag" "$U" dir/obj.bin "$WORK/src.bin"
	else
		expect_rc 1 rv store put --if-match "$etag" "$U" dir/obj.bin "$WORK/stdin.bin"
		expect_err "cannot be atomic"
		expect_rc 0 rv store put -v "$U" dir/obj.bin "$WORK/stdin.bin"
	fi
	rv store get "$U" dir/obj.bin | cmp - "$WORK/stdin.bin" || fail "conditional put"
	ok

	# Missing keys: 5, one line naming the key; FILE untouched.
	expect_rc 5 rv store get "$U" no/such/key
	expect_err "no/such/key"
	echo keep >"$WORK/keep"
	expect_rc 5 rv store get "$U" no/such/key "$WORK/keep"
	[ "$(cat "$WORK/keep")" = keep ] || fail "failed get clobbered the target"
	ok
	[ -z "$(ls -A "$WORK" | grep rv-tmp || true)" ] || fail "get left a temporary"
	ok
	expect_rc 5 rv store head "$U" no/such/key
	expect_rc 2 rv store get "$U" ../escape
	expect_err "'.' or '..'"
	expect_rc 5 rv store put "$U" k "$WORK/does-not-exist"
	expect_err "does-not-exist"
	expect_rc 2 rv store put "$U" k "$WORK"
	expect_err "put -r"

	# rm: several keys, missing ones fine.
	expect_rc 0 rv store rm "$U" piped fresh never-was
	expect_rc 5 rv store head "$U" piped
	expect_rc 5 rv store head "$U" fresh

	# Trees: 2,000+ files up and down, compared with diff -r; ls pages.
	make_tree "$WORK/tree-$tag" 2000
	expect_rc 0 rv store put -r -j 8 "$U" "t/run 1" "$WORK/tree-$tag"
	grep -q '^put 2004 files, ' "$WORK/out" || fail "put -r summary: $(cat "$WORK/out")"
	ok
	expect_rc 0 rv store get -r "$U" "t/run 1/" "$WORK/back-$tag"
	grep -q '^got 2004 files, ' "$WORK/out" || fail "get -r summary: $(cat "$WORK/out")"
	diff -r "$WORK/tree-$tag" "$WORK/back-$tag" || fail "tree round trip differs"
	ok
	rv store ls "$U" "t/run 1/" >"$WORK/keys"
	[ "$(wc -l <"$WORK/keys")" -eq 2004 ] || fail "ls: $(wc -l <"$WORK/keys") keys, wanted 2004"
	# Byte order like AWS S3 ("a-b" < "a/b").  s3rver sorts "a/b" first (it
	# walks its own folders), so against it only the set of keys is checked.
	if [ "$tag" = file ]; then
		sort -c "$WORK/keys" || fail "ls is not in byte order"
	fi
	(cd "$WORK/tree-$tag" && find . -type f | sed 's|^\./|t/run 1/|' | sort) |
		diff - <(sort "$WORK/keys") || fail "ls keys differ from the tree"
	ok
	# A reader that goes away early: no hang, no crash (0 or a one-line 1).
	set +o pipefail
	rv store ls "$U" 2>"$WORK/err" | head -n 3 >/dev/null
	rc=${PIPESTATUS[0]}
	set -o pipefail
	[ "$rc" -le 1 ] || fail "ls into a closed pipe exited $rc"
	ok

	# A tree with things that cannot be copied: the rest goes, the exit is
	# non-zero and names the first failure.
	mkdir -p "$WORK/odd-$tag/sub"
	echo fine >"$WORK/odd-$tag/sub/ok"
	mkfifo "$WORK/odd-$tag/a fifo"
	ln -s "$WORK/odd-$tag/sub" "$WORK/odd-$tag/dirlink"
	expect_rc 1 rv store put -r "$U" odd "$WORK/odd-$tag"
	grep -q "a fifo" "$WORK/err" || fail "fifo failure not named: $(cat "$WORK/err")"
	grep -q "dirlink" "$WORK/err" || fail "folder link not named: $(cat "$WORK/err")"
	grep -q "2 of 3 files failed" "$WORK/err" || fail "failure count: $(cat "$WORK/err")"
	expect_rc 0 rv store head "$U" odd/sub/ok
}

# --- file:// ---------------------------------------------------------------
S="$WORK/store"
expect_rc 5 rv store ls "file://$S"
expect_err "does not exist"
expect_rc 0 rv bucket init "file://$S/"
grep -q "created store folder" "$WORK/out" || fail "bucket init: $(cat "$WORK/out")"
[ "$(stat -c %a "$S")" = 700 ] || fail "store folder mode $(stat -c %a "$S")"
expect_rc 0 rv bucket init "file://$S"
grep -q "already exists" "$WORK/out" || fail "bucket init again: $(cat "$WORK/out")"
expect_rc 2 rv bucket init "file://$S" --region eu-west-1
expect_rc 2 rv bucket init "ftp://x"

# Bad URLs: 2, one line.
expect_rc 2 rv store ls "file://relative/path"
expect_err "three slashes"
expect_rc 2 rv store ls "ftp://host/x"
expect_err "unsupported store URL"
expect_rc 2 rv store ls "$S"
expect_err "needs a scheme"
expect_rc 2 rv store ls "s3://Bad_Bucket"
expect_err "not a valid bucket name"
expect_rc 2 rv store frobnicate "file://$S"
expect_rc 2 rv store ls --if-absent "file://$S"
expect_rc 0 rv store put --help
grep -q "put -r URL PREFIX DIR" "$WORK/out" || fail "store put --help"
expect_rc 0 rv store caps "file://$S"
grep -qx "put_if_absent: yes" "$WORK/out" || fail "caps: $(cat "$WORK/out")"

suite "file://$S" file

# Temporaries are never listed; the store holds only objects.
[ -z "$(find "$S" -name '.rv-tmp.*')" ] || fail "temporaries left behind"
ok

# Unwritable folder: 4.  As root, permissions do not bind, so the check
# runs as the unprivileged user nobody against a root-owned 0755 folder.
RO="$WORK/ro-store"
mkdir -p "$RO/x" && echo data >"$RO/x/k" && chmod -R a+rX "$RO" && chmod 755 "$RO"
echo data >"$WORK/in" && chmod 644 "$WORK/in"
if [ "$(id -u)" -eq 0 ]; then
	AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
	chmod 555 "$RO" "$RO/x"
	AS=()
fi
expect_rc 4 "${AS[@]}" "$REVENANT" store put "file://$RO" y "$WORK/in"
expect_err "writable"
expect_rc 4 "${AS[@]}" "$REVENANT" store put "file://$RO" x/k2 "$WORK/in"
# Reading a store we cannot write still works (restore from a read-only copy).
expect_rc 0 "${AS[@]}" "$REVENANT" store get "file://$RO" x/k
[ "$(cat "$WORK/out")" = data ] || fail "read-only get"
# Unreadable local file: 4.
echo secret >"$WORK/unreadable" && chmod 600 "$WORK/unreadable"
mkdir -p "$WORK/nobody-store" && chmod 777 "$WORK/nobody-store"
if [ "$(id -u)" -eq 0 ]; then
	expect_rc 4 "${AS[@]}" "$REVENANT" store put "file://$WORK/nobody-store" k "$WORK/unreadable"
	expect_err "unreadable"
fi

# --- s3:// (s3rver) ---------------------------------------------------------
# shellcheck source=/dev/null
source "$RV_TESTDIR/lib/s3rver.sh"
# s3rver's continuation tokens use DES, which Node 20's OpenSSL 3 only has
# in the legacy provider: without it every listing past 1,000 keys is a 500.
export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--openssl-legacy-provider"
s3rver_start "$WORK/s3rver" || fail "cannot start s3rver"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
B="s3://rv-cli-test/site?endpoint=$S3RVER_URL&region=us-east-1"
expect_rc 5 rv store ls "$B"
expect_rc 0 rv bucket init "$B"
grep -q "created bucket 'rv-cli-test'" "$WORK/out" || fail "bucket init s3: $(cat "$WORK/out")"
grep -q "^versioning" "$WORK/out" || fail "bucket init s3: no versioning line: $(cat "$WORK/out")"
expect_rc 0 rv bucket init "$B"
grep -q "bucket 'rv-cli-test' already exists" "$WORK/out" || fail "bucket init s3 again"
expect_rc 0 rv store caps "$B"
grep -qx "backend: s3" "$WORK/out" || fail "s3 caps: $(cat "$WORK/out")"
suite "$B" s3

echo "store_cli: $checks checks passed"
