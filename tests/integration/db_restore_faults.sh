#!/usr/bin/env bash
# db_restore_faults.sh - `revenant restore --db-only` of a ~45 MiB database
# (several 8 MiB ranged parts, plus log segments) from a real s3rver while
# things go wrong; every successful restore is compared row for row with
# the source (db_check.py digest), every failed one must leave no database
# file behind:
#   - 30 % of the requests answered 503 (tests/fakes/faultproxy.py): the
#     parts are retried, the restore succeeds;
#   - kill -9 in the middle of a slow restore (every request delayed):
#     no database file; a second restore succeeds and leaves no temporary;
#   - s3rver stopped for 4 s in the middle of a slow restore, then started
#     again: the restore waits it out and succeeds;
#   - a byte flipped in the middle of the snapshot object, and the object
#     cut short: exit 7 naming the object, no database file.
set -u
. "$RV_SRCDIR/tests/lib/db_replicate.sh"
. "$RV_SRCDIR/tests/lib/s3rver.sh"

T=$(mktemp -d /tmp/rv-dbrf.XXXXXX)
DR_PID= DR_WPID= FP= RS=
cleanup() {
	for p in ${DR_WPID:-} ${DR_PID:-} ${FP:-} ${RS:-}; do kill -KILL "$p" 2>/dev/null; done
	s3rver_stop 2>/dev/null
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
checks=0
ok() { checks=$((checks + 1)); }

export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE
s3rver_start "$T/s3" || fail "cannot start s3rver"
S3_PORT=$S3RVER_PORT
url() { echo "s3://rv-dbrf/site?endpoint=http://127.0.0.1:$1&region=us-east-1"; }
URL=$(url "$S3_PORT")
"$REVENANT" --log-level warn bucket init "$URL" >/dev/null || fail "bucket init"

# The source: the writer's schema, 30,000 posts of 1.5 KiB of hex (about
# 2:1 compressible, like Ghost's html), then replicate with the writer on
# for a few seconds so that log segments follow the snapshot.
DB=$T/src/ghost.db
mkdir -p "$T/src" "$T/content"
"$DR_PY" "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/init.ack" --init --count 0 2>/dev/null ||
	fail "cannot create the database"
sqlite3 "$DB" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000)
	INSERT INTO posts (id, uuid, title, slug, html, status, created_at, updated_at)
	SELECT printf('bulk%020d', i), printf('bulk-%d', i), printf('bulk %d', i),
	       printf('bulk-%d', i), hex(randomblob(750)), 'published', 0, 0 FROM n" ||
	fail "cannot fill the database"
dr_config "$T/r.yml" "$URL" "$T/content" "$DB" 200ms false
dr_start "$T/r.yml" "$T/rep.log" || fail "replicate did not start"
dr_writer_start "$DB" "$T/ack" --rate 100 --duration 3
wait "$DR_WPID" || fail "writer failed: $(tail -3 "$T/ack.err")"
DR_WPID=
sleep 1.5
dr_stop
[ "$DR_RC" = 0 ] || fail "replicate exit $DR_RC"
dr_digest "$DB" >"$T/want" || fail "digest of the source"
SNAP=$(find "$T/s3/data/rv-dbrf" -path '*db/snapshot/*' -name '*._S3rver_object' | head -1)
[ -n "$SNAP" ] || fail "no snapshot object in s3rver"
size=$(stat -c %s "$SNAP")
[ "$size" -gt $((16 << 20)) ] || fail "snapshot of $size bytes: wanted more than two parts"
nseg=$(find "$T/s3/data/rv-dbrf" -path '*db/log/*' -name '*._S3rver_object' | wc -l)
[ "$nseg" -ge 2 ] || fail "only $nseg log segments"
echo "source: snapshot $((size >> 20)) MiB compressed, $nseg log segments"

# same_db OUT WHAT: OUT equals the source, and no temporary is left.
same_db() {
	dr_digest "$1" >"$T/got" || fail "$2: digest"
	cmp -s "$T/want" "$T/got" || {
		diff "$T/want" "$T/got" | head -5 >&2
		fail "$2: the restored database differs from the source"
	}
	[ ! -e "$1.revenant-restore" ] || fail "$2: a temporary file is left"
	ok
}

# proxy MODE ARGS...: a faultproxy in front of s3rver; sets FP, PURL.
proxy() {
	rm -f "$T/fp.port"
	"$DR_PY" "$RV_TESTDIR/fakes/faultproxy.py" --upstream "127.0.0.1:$S3_PORT" \
		--port-file "$T/fp.port" --stats-file "$T/fp.stats" "$@" 2>"$T/fp.err" &
	FP=$!
	for _ in $(seq 1 50); do [ -s "$T/fp.port" ] && break; sleep 0.1; done
	[ -s "$T/fp.port" ] || fail "faultproxy did not start: $(cat "$T/fp.err")"
	PURL=$(url "$(cat "$T/fp.port")")
}
proxy_stop() {
	kill -KILL "$FP" 2>/dev/null
	wait "$FP" 2>/dev/null
	FP=
}
restore() { "$REVENANT" --log-level warn restore --db-only --db "$@"; }

echo "== a clean restore"
restore "$T/clean.db" "$URL" >"$T/out" 2>&1 || fail "restore: $(cat "$T/out")"
same_db "$T/clean.db" "clean"

echo "== 30 % of the requests answered 503"
proxy --mode busy --count -1 --ratio 0.3 --seed 11
restore "$T/busy.db" "$PURL" >"$T/out" 2>&1 || fail "restore through 503s: $(cat "$T/out")"
faults=$(sed -n 's/.*faults=\([0-9]*\).*/\1/p' "$T/fp.stats")
[ "${faults:-0}" -ge 3 ] || fail "the proxy injected only ${faults:-0} faults"
proxy_stop
same_db "$T/busy.db" "through 503s ($faults faults)"

# slow_restore OUT DELAY AFTER: a restore through a proxy that delays
# every request by DELAY s, in the background (RS), still running AFTER s
# later.
slow_restore() {
	proxy --mode delay --count -1 --stall-seconds "$2"
	restore "$1" "$PURL" >"$T/out" 2>&1 &
	RS=$!
	sleep "$3"
	kill -0 "$RS" 2>/dev/null || fail "the slow restore ended within $3 s: $(cat "$T/out")"
}

echo "== kill -9 in the middle"
slow_restore "$T/killed.db" 0.3 1
kill -KILL "$RS"
wait "$RS" 2>/dev/null
RS=
[ ! -e "$T/killed.db" ] || fail "a killed restore left a database file"
ok
proxy_stop
restore "$T/killed.db" "$URL" >"$T/out" 2>&1 || fail "restore after the kill: $(cat "$T/out")"
same_db "$T/killed.db" "after a kill"

echo "== s3rver stopped for 4 s in the middle"
slow_restore "$T/outage.db" 0.2 0.8
s3rver_stop
sleep 4
kill -0 "$RS" 2>/dev/null || fail "restore gave up during a 4 s outage: $(cat "$T/out")"
s3rver_start "$T/s3" "$S3_PORT" || fail "cannot restart s3rver"
rc=0
wait "$RS" || rc=$?
RS=
[ "$rc" = 0 ] || fail "restore across the outage: exit $rc: $(cat "$T/out")"
proxy_stop
same_db "$T/outage.db" "across an outage"

# corrupt WHAT: the restore of the damaged object exits 7, names it, and
# leaves no database file.
KEY=$(cd "$T/s3/data/rv-dbrf" && find . -path '*db/snapshot/*' -name '*._S3rver_object' | head -1)
KEY=${KEY#./site/}
KEY=${KEY%._S3rver_object}
cp "$SNAP" "$T/snap.good"
corrupt() {
	local rc=0
	"$REVENANT" --log-level warn store put "$URL" "$KEY" "$T/snap.bad" || fail "$1: put"
	restore "$T/bad.db" "$URL" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = 7 ] || fail "$1: exit $rc (wanted 7): $(cat "$T/err")"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "$1: more than one line: $(cat "$T/err")"
	grep -qF "$KEY" "$T/err" || fail "$1: the message does not name the object: $(cat "$T/err")"
	[ ! -e "$T/bad.db" ] && [ ! -e "$T/bad.db.revenant-restore" ] ||
		fail "$1: a database file was left behind"
	ok
	echo "$1: $(cat "$T/err")"
}
echo "== a flipped byte, a cut object"
cp "$T/snap.good" "$T/snap.bad"
printf '\x5a' | dd of="$T/snap.bad" bs=1 seek=$((size / 2)) conv=notrunc status=none
cmp -s "$T/snap.good" "$T/snap.bad" && printf '\xa5' | dd of="$T/snap.bad" bs=1 seek=$((size / 2)) conv=notrunc status=none
corrupt "flipped byte"
head -c $((size - size / 3)) "$T/snap.good" >"$T/snap.bad"
corrupt "cut short"
"$REVENANT" --log-level warn store put "$URL" "$KEY" "$T/snap.good" || fail "put the good snapshot back"
restore "$T/again.db" "$URL" >"$T/out" 2>&1 || fail "restore after repair: $(cat "$T/out")"
same_db "$T/again.db" "after the repair"

echo "db_restore_faults: $checks checks passed"
