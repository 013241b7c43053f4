#!/usr/bin/env bash
# db_standby.sh - `revenant standby --db` under a 100 txn/s Ghost-shaped
# writer (tests/lib/db_writer.py) replicated to a file:// store:
#   - while writing, consistent copies of the standby's database (taken
#     while its state file says "clean" and does not change during the
#     copy) pass integrity_check, hold a gapless prefix of the writer's
#     transactions and every one acked more than 3 s before;
#   - kill -9 the standby stopped at a test point after a page written
#     inside an in-place apply: the state says "applying", the restart
#     restores the database whole;
#   - kill -9 the standby 4 times at random moments: if the state left
#     behind says "clean", the file itself must be whole and a prefix (no
#     torn database); the restart resumes or restores whole, never serves a
#     torn file; a stale -wal planted before one restart is removed
#     (logged); a state marked "applying" over a scribbled file (what a kill
#     inside an in-place write leaves), and a file touched by someone else,
#     are restored whole;
#   - a content file written on the primary reaches the standby folder;
#   - writer stopped, 2 s later: `standby --promote-once` (after the
#     running standby is stopped, and again from a cold start into empty
#     paths) gives a database equal to the source table for table, row for
#     row, that integrity_check passes and SQLite can write to, with no
#     state file left;
#   - a second standby, or a promote, on the same folder or database
#     while one runs: exit 6, one line;
#   - a standby's /metrics shows the promoted database position;
#   - promote errors: an empty store (exit 5), a corrupt segment (exit 7),
#     one line each.
set -u
. "$RV_SRCDIR/tests/lib/db_replicate.sh"

"$REVENANT" replicate --help | grep -q database.sqlite || {
	echo "FAIL: replicate does not ship the database yet" >&2
	exit 1
}

T=$(mktemp -d /tmp/rv-dbsb.XXXXXX)
DR_PID= DR_WPID= SB=
cleanup() {
	for p in ${DR_WPID:-} ${DR_PID:-} ${SB:-}; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/r.log "$T"/sb.log "$T"/*.err; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -15 "$f" >&2; }
	done
	exit 1
}

mkdir -p "$T/store" "$T/content" "$T/db" "$T/sbdb"
DB=$T/db/ghost.db
SDB=$T/sbdb/ghost.db
STATE=$SDB.revenant-standby
URL=file://$T/store
dr_config "$T/r.yml" "$URL" "$T/content" "$DB" 200ms false

/usr/bin/python3 "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/init.ack" --init --count 100 \
	--rate 0 2>/dev/null || fail "cannot create the database"
dr_start "$T/r.yml" "$T/r.log" || fail "replicate did not start"
dr_writer_start "$DB" "$T/ack" --rate 100 --max-posts 300

sb_start() {
	"$REVENANT" standby --to "$T/sb" --db "$SDB" --interval 200ms --metrics-listen off "$URL" \
		>>"$T/sb.out" 2>>"$T/sb.log" &
	SB=$!
}

# copy_clean OUT: copy the standby database while its state says clean
# and is the same before and after the copy (the standby writes in place).
copy_clean() {
	local s1 s2 i
	for i in $(seq 1 200); do
		s1=$(cat "$STATE" 2>/dev/null)
		if printf '%s' "$s1" | grep -q '"clean": true'; then
			cp "$SDB" "$1" 2>/dev/null
			s2=$(cat "$STATE" 2>/dev/null)
			[ "$s1" = "$s2" ] && return 0
		fi
		sleep 0.05
	done
	return 1
}

# check_follow NAME: a clean copy is whole, a prefix, and current to 3 s.
last_m=0
check_follow() {
	local now r m
	now=$(dr_now_ms)
	sleep 3.5
	copy_clean "$T/copy.db" || fail "$1: the standby's state never stayed clean for a copy"
	r=$(dr_check --db "$T/copy.db" --ack "$T/ack" --acked-before $((now - 3000))) ||
		fail "$1: standby database"
	m=${r#ok m=}
	m=${m%% *}
	[ "$m" -ge "$last_m" ] || fail "$1: the standby went back from $last_m to $m transactions"
	last_m=$m
	echo "$1: $r"
}

sb_start
check_follow "first restore"
check_follow "following"

# One standby per folder and database: a second standby on the same
# paths, a promote while it runs, and one on another folder but the same
# database are each refused with exit 6 and one line; the running standby
# goes on.
refused() {
	local rc=0 err
	err=$("$REVENANT" standby "$@" --metrics-listen off "$URL" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = 6 ] || fail "a second standby ($*) was not refused: exit $rc: $err"
	[ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "refusal is not one line: $err"
	printf '%s\n' "$err" | grep -q "^error: another revenant .* — stop it first" ||
		fail "refusal message: $err"
}
refused --to "$T/sb" --db "$SDB"
refused --promote-once --to "$T/sb" --db "$SDB"
mkdir -p "$T/other"
refused --to "$T/other" --db "$SDB"
refused --to "$T/sb" --db "$T/other/ghost.db"
kill -0 "$SB" 2>/dev/null || fail "the running standby died"
check_follow "following after the refusals"

printf 'on the primary' >"$T/content/note.txt"

# A kill inside an in-place apply, every run: the standby stops at a test
# point (src/core/testpoint.h) after the third page written past the
# "applying" mark and is killed there; the state must not vouch for the
# torn file, and the restart must restore it whole.
. "$RV_SRCDIR/tests/lib/testpoint.sh"
kill -TERM "$SB"
wait "$SB" || fail "standby did not stop cleanly before the test-point kill"
REVENANT_TESTPOINT='standby.forward>db.written@3' "$REVENANT" standby --to "$T/sb" --db "$SDB" \
	--interval 200ms --metrics-listen off "$URL" >>"$T/sb.out" 2>>"$T/sb.log" &
SB=$!
tp_wait_stopped "$SB" || fail "the standby did not stop at a page write inside an apply"
grep -q '"clean": false' "$STATE" || fail "stopped inside an apply, but the state says clean"
kill -KILL "$SB"
wait "$SB" 2>/dev/null
w0=$(grep -c 'standby restores the database whole' "$T/sb.log")
sb_start
check_follow "restart after a kill inside an apply"
grep -q "will be restored whole.*stopped while it wrote the database" "$T/sb.log" ||
	fail "after a kill inside an apply: 'stopped while it wrote the database' not noticed"
[ "$(grep -c 'standby restores the database whole' "$T/sb.log")" -gt "$w0" ] ||
	fail "after a kill inside an apply: the database was not restored whole"

kills=0 torn_checked=0 unclean=0
for c in 1 2 3 4; do
	sleep "$((RANDOM % 2)).$((RANDOM % 10))$((RANDOM % 10))"
	kill -KILL "$SB"
	wait "$SB" 2>/dev/null
	SB=
	kills=$((kills + 1))
	if grep -q '"clean": true' "$STATE" 2>/dev/null; then
		# The state vouches for the file as it is: it must be whole.
		cp "$SDB" "$T/killed.db"
		r=$(dr_check --db "$T/killed.db" --ack "$T/ack") ||
			fail "kill $c: the state says clean but the file is not whole"
		torn_checked=$((torn_checked + 1))
		echo "kill $c: left clean: $r"
	else
		unclean=$((unclean + 1))
		echo "kill $c: left mid-apply (state not clean)"
	fi
	want_whole=
	case $c in
	2)
		printf 'stale wal from an earlier Ghost run' >"$SDB-wal"
		: >"$SDB-shm"
		;;
	3)
		# What a kill inside an in-place apply leaves: the state says
		# "applying" and the file is torn.
		sed -i 's/"clean": true/"clean": false/' "$STATE"
		dd if=/dev/urandom of="$SDB" bs=4096 seek=3 count=5 conv=notrunc status=none
		want_whole="stopped while it wrote the database"
		;;
	4)
		touch "$SDB" # someone else wrote to it
		want_whole="changed by another process"
		# A kill that landed mid-apply is the reason the standby gives
		# first; either way the database must be restored whole.
		grep -q '"clean": true' "$STATE" 2>/dev/null ||
			want_whole="stopped while it wrote the database"
		;;
	esac
	n0=$(grep -c 'standby restored the latest point' "$T/sb.log")
	w0=$(grep -c 'standby restores the database whole' "$T/sb.log")
	sb_start
	check_follow "restart $c"
	[ "$(grep -c 'standby restored the latest point' "$T/sb.log")" -gt "$n0" ] ||
		fail "restart $c: no restore logged"
	if [ -n "$want_whole" ]; then
		grep -q "will be restored whole.*$want_whole" "$T/sb.log" ||
			fail "restart $c: '$want_whole' not noticed"
		[ "$(grep -c 'standby restores the database whole' "$T/sb.log")" -gt "$w0" ] ||
			fail "restart $c: the database was not restored whole"
	fi
done
grep -q "removing a SQLite side file.*$SDB-wal" "$T/sb.log" || fail "the stale -wal was not removed"
[ ! -e "$SDB-wal" ] || fail "the stale -wal is still there"
[ -f "$T/sb/note.txt" ] || fail "the content file did not reach the standby folder"
echo "kills=$kills clean_after_kill=$torn_checked mid_apply=$unclean"

dr_writer_stop 2>/dev/null || fail "writer failed: $(tail -3 "$T/ack.err")"
sleep 2
kill -TERM "$SB"
wait "$SB" || fail "standby did not stop cleanly"
SB=

# promote_check NAME DIR DB: one line, then the database equals the source.
promote_check() {
	local out rc=0
	out=$("$REVENANT" standby --promote-once --to "$2" --db "$3" "$URL" 2>"$T/promote.err") ||
		rc=$?
	[ "$rc" = 0 ] || fail "$1: promote exit $rc: $(tail -3 "$T/promote.err")"
	[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "$1: more than one line: $out"
	printf '%s\n' "$out" >"$T/promote.out"
	printf '%s\n' "$out" | grep -Eq '^promoted generation=[0-9a-f-]+ seq=[0-9]+ db_generation=[0-9a-f-]+ db_pos=[0-9]+ commit=2[0-9T:.-]+Z ' ||
		fail "$1: promote line: $out"
	[ ! -e "$3.revenant-standby" ] || fail "$1: the state file is still there"
	[ ! -e "$3-wal" ] || fail "$1: promote left a -wal behind"
	dr_digest "$DB" >"$T/want.digest"
	dr_digest "$3" >"$T/got.digest"
	cmp -s "$T/want.digest" "$T/got.digest" || {
		diff "$T/want.digest" "$T/got.digest" >&2
		fail "$1: the promoted database differs from the source"
	}
	dr_check --db "$3" --ack "$T/ack" --acked-before "$(dr_now_ms)" >/dev/null ||
		fail "$1: promoted database"
	# Ghost can write to it (the file stays in WAL mode).
	/usr/bin/python3 - "$3" <<'EOF' || fail "$1: cannot write to the promoted database"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
c.execute("INSERT INTO meta (k, v) VALUES ('promoted', 'yes')")
c.commit()
assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
EOF
	[ -f "$2/note.txt" ] || fail "$1: the content folder lacks note.txt"
	echo "$1: $out"
}

promote_check "promote after the standby" "$T/sb" "$SDB"
mkdir -p "$T/cold"
promote_check "promote from a cold start" "$T/cold/content" "$T/cold/ghost.db"

# /metrics: a standby's database position equals the promoted one (the
# writer is stopped, so the latest point no longer moves).
want_pos=$(sed -n 's/.* db_pos=\([0-9]*\) .*/\1/p' "$T/promote.out")
[ -n "$want_pos" ] || fail "no db_pos in the promote line"
PORT=$("$DR_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
mkdir -p "$T/m"
"$REVENANT" standby --to "$T/m/content" --db "$T/m/ghost.db" --interval 200ms \
	--metrics-listen "127.0.0.1:$PORT" "$URL" >/dev/null 2>"$T/m.log" &
SB=$!
got_pos=
for _ in $(seq 1 150); do
	got_pos=$(curl -fsS "http://127.0.0.1:$PORT/metrics" 2>/dev/null |
		awk '$1 == "revenant_standby_db_position_frames" { print $2 }')
	[ -n "$got_pos" ] && [ "$got_pos" = "$want_pos" ] && break
	sleep 0.1
done
[ "$got_pos" = "$want_pos" ] ||
	fail "revenant_standby_db_position_frames is '${got_pos}', the promoted position $want_pos"
kill -TERM "$SB"
wait "$SB" || fail "metrics standby did not stop cleanly"
SB=
echo "standby metric: revenant_standby_db_position_frames $got_pos"

dr_stop
[ "$DR_RC" = 0 ] || fail "replicate exit $DR_RC"

# Errors: one line and the documented exit code.
expect_promote_fail() { # expect_promote_fail CODE PATTERN URL
	local rc=0 err
	rm -rf "$T/e"
	mkdir -p "$T/e"
	err=$("$REVENANT" standby --promote-once --to "$T/e/c" --db "$T/e/g.db" "$3" 2>&1 >/dev/null) ||
		rc=$?
	[ "$rc" = "$1" ] || fail "promote from $3: exit $rc, want $1 ($err)"
	printf '%s\n' "$err" | grep -v '^ts=' >"$T/e.err"
	[ "$(wc -l <"$T/e.err")" = 1 ] || fail "promote from $3: not one error line: $err"
	grep -q "$2" "$T/e.err" || fail "promote from $3: '$(cat "$T/e.err")' lacks '$2'"
	[ ! -e "$T/e/g.db" ] || fail "promote from $3 failed but left a database"
	echo "ok: exit $rc: $(cat "$T/e.err")"
}
mkdir -p "$T/empty"
expect_promote_fail 5 "nothing has been replicated" "file://$T/empty"
cp -a "$T/store" "$T/bad"
seg=$(find "$T/bad/generations" -path '*/db/log/*.wal.zst' | sort | tail -1)
[ -n "$seg" ] || fail "no database segment in the store"
python3 - "$seg" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[len(b) // 2] ^= 0xff
open(p, 'wb').write(bytes(b))
EOF
expect_promote_fail 7 "wal.zst" "file://$T/bad"
echo "db_standby: ok"
