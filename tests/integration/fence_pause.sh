#!/usr/bin/env bash
# fence_pause.sh - a writer that lost the lease while it was paused never
# takes it back (issue 9, split brain).  Writer A of site dc is stopped
# with SIGSTOP, writer B of the same site takes the lease (epoch + 1),
# A is resumed with SIGCONT:
#   (a) A's database file was replaced meanwhile (new inode), so A's WAL
#       chain is broken and it wants a new generation: it must stop with
#       exit 8 instead of taking the lease again (which fenced B before);
#       before that, A's own renewal while it still holds the lease works;
#   (b) A stopped at a test point right after it took the lease, B takes
#       over during A's start-up (A's database replaced too);
#   (c) A paused while idle (between ticks and idle lease checks), with
#       new database frames waiting for it on resume;
#   (d) = (a) on s3rver, which has no conditional puts: the lease is
#       taken and renewed the weak way (write, settle, re-read).
# Each time: A exits 8, lease.json is not rewritten (same etag — on the
# file store that names the inode — and bytes), no new generation
# appears, nothing under B's generation changes, B keeps running, holds
# the lease and still commits; SIGTERM ends B with 0.
# A and B use their own database file (B's is a copy, as on a second host)
# and share the content folder.  Everything is waited for with bounded
# polls, no fixed sleeps.
set -u
. "$RV_SRCDIR/tests/lib/db_replicate.sh"
. "$RV_SRCDIR/tests/lib/s3rver.sh"
. "$RV_SRCDIR/tests/lib/testpoint.sh"
. "$RV_SRCDIR/tests/lib/wait.sh"

dr_setup fencepause
APID='' BPID=''
DR_EXTRA_PIDS="APID BPID"
trap 's3rver_cleanup; dr_cleanup' EXIT # s3rver first: dr_cleanup waits for every child
URL=file://$T/store
mkdir -p "$T/store" "$T/content" "$T/db"
echo hello >"$T/content/a.txt"
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -15 "$f" >&2; }; done
	exit 1
}

# new_dbs NAME: A's and B's database files (B's a copy of A's).
new_dbs() {
	DBA=$T/db/$1-a.db DBB=$T/db/$1-b.db
	/usr/bin/python3 "$DR_LIB/db_writer.py" --db "$DBA" --ack "$T/$1.ack" --init --count 20 --rate 0 ||
		fail "cannot create the database"
	cp "$DBA" "$DBB"
}
new_dbs f
configs() {
	dr_config "$T/a.yml" "$URL" "$T/content" "$DBA" 300ms false
	dr_config "$T/b.yml" "$URL" "$T/content" "$DBB" 300ms false
}
configs

# exited PID: gone or a zombie (kill -0 succeeds on a zombie).
exited() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
	[ -z "$st" ] || [ "$st" = Z ]
}
has_lines() { [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ]; }
# The store as another client sees it (`revenant store`).
store() { "$REVENANT" --log-level warn store "$1" "$URL" "${@:2}"; }
lease_json() { store get lease.json -; }
# lease FIELD: epoch, holder or generation of the stored lease.
lease() {
	lease_json | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
# lease_sig: changes whenever lease.json is written (the file store's
# etag names the inode: every put renames a new file into place).
lease_sig() { echo "$(store ls lease.json -l) $(lease_json | sha256sum)"; }
gens() { store ls generations/ | cut -d/ -f2 | LC_ALL=C sort -u; }
gen_objects() { store ls "generations/$1/" -l; }
pid_of_holder() { lease holder | cut -d: -f2; }
# replace_db FILE: a new database (new inode) moved over FILE.
replace_db() {
	rm -f "$1.new" "$1.new.ack"
	/usr/bin/python3 "$DR_LIB/db_writer.py" --db "$1.new" --ack "$1.new.ack" --init --origin B \
		--count 5 --rate 0 --journal-mode delete || fail "cannot write a new database"
	mv "$1.new" "$1"
}
start_a() { # start_a LOG: until A started its generation
	dr_start_cmd "$1" "$REVENANT" -c "$T/a.yml" replicate || fail "A did not start"
	APID=$DR_PID DR_PID=''
}
start_b() {
	dr_start_cmd "$1" "$REVENANT" -c "$T/b.yml" replicate || fail "B did not start"
	BPID=$DR_PID DR_PID=''
	[ "$(pid_of_holder)" = "$BPID" ] || fail "B started but does not hold the lease: $(lease_json)"
}
stop_b() {
	kill -TERM "$BPID"
	local rc=0
	wait "$BPID" || rc=$?
	BPID=''
	[ "$rc" = 0 ] || fail "$1: B exited $rc on SIGTERM (fenced by the resumed A?)"
}

# before_cont: remember the store as B left it, while A is stopped.
before_cont() {
	L0=$(lease_sig) E0=$(lease epoch) G0=$(gens) GB=$(lease generation)
	OB0=$(gen_objects "$GB")
	NA0=$(grep -c 'lease taken\|lease renewed' "$ALOG")
}
# resume_a CASE: SIGCONT A; until it exits (30 s) lease.json must stay
# B's and B must keep running; then A's exit code must be 8 and nothing
# of B's may have changed.
resume_a() {
	local c=$1 rc=0
	kill -CONT "$APID"
	for _ in $(seq 1 600); do
		[ "$(lease_sig)" = "$L0" ] || fail "$c: lease.json was rewritten after A resumed: $(lease_json)"
		exited "$BPID" && fail "$c: B stopped after A resumed"
		exited "$APID" && break
		sleep 0.05
	done
	exited "$APID" || fail "$c: A still runs 30 s after SIGCONT"
	wait "$APID" || rc=$?
	APID=''
	[ "$rc" = 8 ] || fail "$c: A exited $rc, not 8 (fenced)"
	grep -q 'error: .*fenced' "$ALOG" || fail "$c: A's log does not say it was fenced"
	[ "$(grep -c 'lease taken\|lease renewed' "$ALOG")" = "$NA0" ] ||
		fail "$c: A took the lease again: $(grep 'lease taken\|lease renewed' "$ALOG" | tail -1)"
	[ "$(lease_sig)" = "$L0" ] || fail "$c: lease.json was rewritten"
	[ "$(lease epoch)" = "$E0" ] || fail "$c: lease epoch $(lease epoch), B had $E0"
	[ "$(pid_of_holder)" = "$BPID" ] || fail "$c: B does not hold the lease: $(lease_json)"
	[ "$(gens)" = "$G0" ] || fail "$c: a generation appeared: $(diff <(echo "$G0") <(gens))"
	[ "$(gen_objects "$GB")" = "$OB0" ] ||
		fail "$c: B's generation changed: $(diff <(echo "$OB0") <(gen_objects "$GB"))"
	exited "$BPID" && fail "$c: B stopped"
	echo "ok ($c): A exit 8: $(grep 'error: ' "$ALOG" | tail -1 | cut -c1-220)"
}
# b_commits CASE: B still writes: a content change reaches B's generation.
logs_of() { gen_objects "$1" | grep -c '/content/log/'; }
more_logs() { [ "$(logs_of "$1")" -gt "$2" ]; }
b_commits() {
	local n0
	n0=$(logs_of "$GB")
	echo "$1" >"$T/content/$1.txt"
	until_ok 30 more_logs "$GB" "$n0" || fail "$1: B did not commit a content change within 30 s"
	[ "$(pid_of_holder)" = "$BPID" ] || fail "$1: B lost the lease"
}

# case_replaced C: (a), or (d) on another store.
case_replaced() {
	local c=$1 nbroken
	ALOG=$T/$c-a1.log
	start_a "$ALOG"
	# First A's own renewal: its database replaced while it holds the lease.
	replace_db "$DBA"
	until_ok 30 has_lines "$ALOG" 'content generation started' 2 ||
		fail "($c) A did not start a new generation after its database was replaced"
	[ "$(lease epoch)" = 2 ] && [ "$(pid_of_holder)" = "$APID" ] ||
		fail "($c) A's renewal: lease $(lease_json)"
	echo "ok ($c): A renewed its own lease (epoch 2) for a new generation"
	kill -STOP "$APID"
	start_b "$T/$c-b1.log"
	[ "$(lease epoch)" = 3 ] || fail "($c) B took epoch $(lease epoch), not 3"
	replace_db "$DBA"
	before_cont
	nbroken=$(grep -c 'database chain broken' "$ALOG")
	resume_a "$c"
	has_lines "$ALOG" 'database chain broken' $((nbroken + 1)) ||
		fail "($c) A did not notice its replaced database (the case did not happen)"
	b_commits "$c"
	stop_b "($c)"
}

echo "--- (a) A's database replaced while A is paused and B holds the lease"
case_replaced a

echo "--- (b) A paused right after it took the lease; B takes over during A's start"
ALOG=$T/b-a2.log
# A stops itself at a test point (src/core/testpoint.h) right after it
# took the lease, before its generation's meta, snapshot or manifest.
: >"$ALOG"
REVENANT_TESTPOINT=replicate.lease_taken "$REVENANT" -c "$T/a.yml" replicate >>"$ALOG" 2>&1 &
APID=$!
tp_wait_stopped "$APID" || fail "(b) A did not stop at the test point after taking the lease"
has_lines "$ALOG" 'lease taken' 1 || fail "(b) A stopped but logged no lease taken"
start_b "$T/b-b2.log"
replace_db "$DBA"
before_cont
resume_a "b"
b_commits b
stop_b "(b)"

echo "--- (c) A paused while idle, database frames waiting for it"
ALOG=$T/c-a3.log
start_a "$ALOG"
# Idle once its first reconcile is done: ticks and idle lease checks.
until_ok 30 has_lines "$ALOG" 'content reconcile walked the folder' 1 ||
	fail "(c) A's first reconcile did not end"
kill -STOP "$APID"
start_b "$T/c-b3.log"
/usr/bin/python3 "$DR_LIB/db_writer.py" --db "$DBA" --ack "$T/c.ack" --count 30 --rate 0 ||
	fail "(c) cannot write into A's database"
before_cont
resume_a "c"
b_commits c
stop_b "(c)"

echo "--- (d) = (a) on s3rver (no conditional puts: the weak lease)"
s3rver_start || fail "cannot start s3rver"
s3rver_mkbucket rv-fence || fail "cannot create the bucket"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_CA_BUNDLE
URL="s3://rv-fence/site?endpoint=$S3RVER_URL&region=us-east-1"
store caps >"$T/caps" || fail "store caps: $(cat "$T/caps")"
grep -q '^put_if_match: no' "$T/caps" || echo "(d) note: the lease is not weak here: $(tr '\n' ' ' <"$T/caps")"
new_dbs d
configs
case_replaced d

echo PASS
