#!/usr/bin/env bash
# hostile_store.sh - restore --to, standby, standby --promote-once, status and
# prune against file:// stores crafted straight from docs/FORMAT.md
# (tests/lib/hostile_store.py) with traversal in every field that becomes a
# path: content paths (raw and %-escaped "..", absolute, empty segments,
# trailing '/', %00, the staging folder), symlink targets (absolute, out
# directly, and the chained links of issue 9), and generation ids.  Each
# run must refuse (exit 7, one line naming the object) or stay inside its
# target; a canary tree beside the target is hashed before and after, and
# every symlink in the target must resolve inside it.
set -euo pipefail

: "${REVENANT:?set REVENANT to the built binary}"
: "${RV_TESTDIR:?set RV_TESTDIR to tests/}"
export LC_ALL=C.UTF-8
umask 022

WORK=$(mktemp -d /tmp/rv-hostile-store.XXXXXX)
cleanup() {
	chmod -R u+rwx "$WORK" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

H="python3 $RV_TESTDIR/lib/hostile_store.py"
BOX=$WORK/a/b/c/box # deep, so that many ".." are needed to reach /
OUT=$BOX/out
checks=0
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
ok() { checks=$((checks + 1)); }

# The canary: beside the target, one level up, and a file a link could aim at.
mkdir -p "$BOX/canary/sub" "$WORK/a/b/c/up"
echo secret >"$BOX/canary/secret"
echo victim >"$BOX/canary/sub/victim"
echo up >"$WORK/a/b/c/up/file"
canary() { # one hash of everything outside OUT that a write could reach
	{
		find "$BOX/canary" "$WORK/a/b/c/up" -printf '%p %y %m %s %T@ %l\n' | sort
		find "$BOX/canary" "$WORK/a/b/c/up" -type f -exec sha256sum {} + | sort
		find "$BOX" -mindepth 1 -maxdepth 1 ! -name out | sort
		ls -a "$WORK/a/b/c" "$WORK/a/b" "$WORK/a"
		ls -d "$WORK/escape" "$WORK/s/escape" /tmp/escape /etc/escape 2>/dev/null || true
	} | sha256sum
}
BEFORE=$(canary)

check_outside() { # check_outside WHAT: nothing beside OUT changed, links stay in
	[ "$(canary)" = "$BEFORE" ] || fail "$1: something outside the target changed"
	if [ -d "$OUT" ]; then
		local root l r
		root=$(realpath "$OUT")
		while IFS= read -r -d '' l; do
			r=$(realpath -eq "$l") || continue # dangling: resolves nowhere
			case $r/ in
			"$root"/?*/) ;;
			*) fail "$1: symlink $l resolves to $r, outside $root" ;;
			esac
		done < <(find "$OUT" -type l -print0)
	fi
	ok
}

# run NAME CMD...: bounded; stdout+stderr in $WORK/log; rc in $RC.
run() {
	local name=$1
	shift
	RC=0
	timeout -k 5 30 "$@" >"$WORK/log" 2>&1 || RC=$?
	[ "$RC" -lt 124 ] || fail "$name: exit $RC (timeout or crash): $(tail -5 "$WORK/log")"
	check_outside "$name"
}

# expect_corrupt NAME URL: every command refuses the store with exit 7 and
# one error line naming the content object.
expect_corrupt() {
	local name=$1 url=$2 line
	rm -rf "$OUT"
	run "$name/restore" "$REVENANT" --log-level warn restore --content-only --to "$OUT" "$url"
	[ "$RC" -eq 7 ] || fail "$name/restore: exit $RC, wanted 7: $(cat "$WORK/log")"
	line=$(grep -c '^error:' "$WORK/log" || true)
	[ "$line" -eq 1 ] || fail "$name/restore: $line error lines: $(cat "$WORK/log")"
	grep -q "^error: .*content object 'generations/.*corrupt" "$WORK/log" ||
		fail "$name/restore: the error does not name the object: $(cat "$WORK/log")"
	ok
	[ -z "${LIGHT:-}" ] || return 0
	rm -rf "$OUT"
	run "$name/promote" "$REVENANT" --log-level warn standby --promote-once --to "$OUT" "$url"
	[ "$RC" -eq 7 ] || fail "$name/promote-once: exit $RC, wanted 7: $(cat "$WORK/log")"
	grep -q "^error: .*content object 'generations/" "$WORK/log" ||
		fail "$name/promote-once: the error does not name the object: $(cat "$WORK/log")"
	ok
	# The follower logs and retries store errors: let it try for a while
	# (only for some stores, to keep the test short), then stop it.
	if [ -n "${FOLLOW:-}" ]; then
		rm -rf "$OUT"
		run "$name/standby" timeout --preserve-status -s TERM 2 "$REVENANT" --log-level warn \
			standby --interval 200ms --to "$OUT" "$url"
		[ "$RC" -eq 0 ] || fail "$name/standby: exit $RC: $(tail -3 "$WORK/log")"
		grep -q "is corrupt" "$WORK/log" || fail "$name/standby: $(tail -3 "$WORK/log")"
	fi
	run "$name/status" "$REVENANT" status "$url"
	[ "$RC" -eq 0 ] || [ "$RC" -eq 7 ] || fail "$name/status: exit $RC: $(cat "$WORK/log")"
	run "$name/prune" "$REVENANT" prune --dry-run --retention 1000000h "$url"
	[ "$RC" -eq 0 ] || [ "$RC" -eq 7 ] || fail "$name/prune: exit $RC: $(cat "$WORK/log")"
}

n=0
G=$($H init "$WORK/template")
$H manifest "$WORK/template" "$G" 0 "dir d 0755 1" "file d/f {size:ok} 0644 1 {sha:ok}" >/dev/null
new_store() { # a copy of a generation with a sane manifest; STORE, URL set
	n=$((n + 1))
	STORE=$WORK/s/$n
	URL=file://$STORE
	mkdir -p "$WORK/s"
	cp -a "$WORK/template" "$STORE"
}

# --- malformed paths: refused as corrupt, in logs and in manifests -------------
bad_paths=(
	'../escape' 'd/../../escape' '%2e%2E/escape' '..%2Fescape' 'd%2F..%2F..%2Fescape'
	'%2Ftmp%2Fescape' '/tmp/escape' 'd//x' 'd/' './d' 'd/.' 'a%00b'
)
for p in "${bad_paths[@]}"; do
	FOLLOW=
	[ "$p" != ../escape ] || FOLLOW=1
	LIGHT=
	for rec in "file $p {size:hostile} 0644 1 {sha:hostile}" "dir $p 0755 1" \
		"link $p 1 x" "del $p"; do
		new_store
		$H log "$STORE" "$G" 1 "$rec" >/dev/null
		expect_corrupt "log '$rec'" "$URL"
		LIGHT=1 # the others read every record alike: once per path
		FOLLOW=
	done
	LIGHT=
	new_store
	$H manifest "$STORE" "$G" 1 "file $p {size:hostile} 0644 1 {sha:hostile}" >/dev/null
	expect_corrupt "manifest '$p'" "$URL"
done

# --- the staging folder's name: refused (exit 7) before anything is written -----
new_store
$H log "$STORE" "$G" 1 'file %2Erevenant-staging/x {size:x} 0644 1 {sha:x}' >/dev/null
rm -rf "$OUT"
run "staging name" "$REVENANT" --log-level warn restore --content-only --to "$OUT" "$URL"
if [ "$RC" -ne 7 ] || ! grep -q "^error: .*'.revenant-staging/x'" "$WORK/log"; then
	fail "staging name: exit $RC: $(cat "$WORK/log")"
fi

# --- the issue's exploit: a link whose path has ".." is corrupt -----------------
new_store
$H log "$STORE" "$G" 1 'link p1/../p8/s 1 ../../../../../../../../t' \
	'link passwd 1 p1/../p8/s/../../../../../../../etc/passwd' >/dev/null
expect_corrupt "issue 9 exploit" "$URL"

# --- link targets: out directly, absolute, and through an earlier link ----------
# Each chained link looks inside on its own text; the later ones climb from
# where d/e/f/g/h/s really leads (d), which is 4 levels above the text.
new_store
$H log "$STORE" "$G" 1 'dir d/e/f/g/h 0755 1' 'link d/e/f/g/h/s 1 ../../../..' \
	'link passwd 1 d/e/f/g/h/s/../../../../../../../../../../../../../../../etc/passwd' \
	'link secret 1 d/e/f/g/h/s/../../../../../../canary/secret' \
	'link up 1 d/e/f/g/h/s/../../../../../../../up/file' \
	'link abs 1 /etc/passwd' 'link d/out 1 ../../canary' 'link self 1 .' \
	'link d/ok 1 ../d/e/f/g/h/s/f' >/dev/null
for mode in restore promote standby; do
	rm -rf "$OUT"
	case $mode in
	restore) run "links/$mode" "$REVENANT" --log-level warn restore --content-only --to "$OUT" "$URL" ;;
	promote) run "links/$mode" "$REVENANT" --log-level warn standby --promote-once --to "$OUT" "$URL" ;;
	standby)
		# Until it has applied the log (bounded), then SIGTERM.
		"$REVENANT" --log-level warn standby --interval 200ms --to "$OUT" "$URL" \
			>"$WORK/log" 2>&1 &
		pid=$!
		for _ in $(seq 100); do
			[ -L "$OUT/d/ok" ] && break
			sleep 0.1
		done
		kill -TERM "$pid"
		RC=0
		wait "$pid" || RC=$?
		[ "$RC" -eq 0 ] || fail "links/standby: exit $RC: $(tail -3 "$WORK/log")"
		check_outside "links/standby"
		;;
	esac
	[ "$RC" -eq 0 ] || fail "links/$mode: exit $RC: $(cat "$WORK/log")"
	for l in passwd secret up abs d/out self; do
		if [ -e "$OUT/$l" ] || [ -L "$OUT/$l" ]; then fail "links/$mode: '$l' was restored"; fi
	done
	if [ ! -L "$OUT/d/e/f/g/h/s" ] || [ ! -L "$OUT/d/ok" ]; then
		fail "links/$mode: inside links missing"
	fi
	grep -q 'symlink points outside the folder' "$WORK/log" || fail "links/$mode: no warning"
	ok
done

# --- a folder turned into a symlink on disk before a restore writes under it -----
new_store
$H log "$STORE" "$G" 1 'file d/secret {size:overwritten} 0644 1 {sha:overwritten}' \
	'del d/sub/victim' >/dev/null
rm -rf "$OUT"
mkdir -p "$OUT"
ln -s "$BOX/canary" "$OUT/d"
run "symlinked folder" "$REVENANT" --log-level warn restore --content-only --to "$OUT" "$URL"
[ "$RC" -eq 0 ] || fail "symlinked folder: exit $RC: $(cat "$WORK/log")"
if [ ! -d "$OUT/d" ] || [ -L "$OUT/d" ]; then fail "symlinked folder: d is not a real folder"; fi

# --- generation ids -------------------------------------------------------------
new_store
$H lease "$STORE" "../../../../escape"
for c in "restore --content-only --to $OUT" "standby --promote-once --to $OUT" status; do
	rm -rf "$OUT"
	# shellcheck disable=SC2086
	run "lease gen ($c)" "$REVENANT" --log-level warn $c "$URL"
	[ "$RC" -eq 7 ] || fail "lease gen ($c): exit $RC, wanted 7: $(cat "$WORK/log")"
	grep -q "^error: .*lease" "$WORK/log" || fail "lease gen ($c): $(cat "$WORK/log")"
done
new_store
# A log under G whose header names another generation.
key=$($H log "$STORE" "../../x" 1 "file e {size:x} 0644 1 {sha:x}")
mkdir -p "$STORE/generations/$G/content/log"
mv "$STORE/$key" "$STORE/generations/$G/content/log/$(basename "$key")"
expect_corrupt "header gen" "$URL"
rm -rf "$OUT"
run "restore --generation" "$REVENANT" --log-level warn restore --content-only \
	--generation ../../escape --to "$OUT" "$URL"
[ "$RC" -eq 2 ] || fail "restore --generation ../..: exit $RC, wanted 2: $(cat "$WORK/log")"

echo "hostile_store: $checks checks passed"
