#!/usr/bin/env bash
# content_standby_gap.sh - a content log lost in the middle of a
# generation (issue 3): `revenant standby --db` must notice it and fall back
# to a full restore once a manifest past the gap exists, never skip the
# commit or stall forever.  Real `revenant replicate` (content folder plus
# a SQLite database, content.manifest_every 4) on a file:// store; the
# standby is paused (SIGSTOP) while the store is damaged so the damage is
# in place before its next poll.
#   1. log N deleted while N+1 is present (same LIST block): the gap is
#      logged, the standby waits for a manifest past N (logged as an
#      error), then converges: folder and database equal the source.
#   2. the newest log deleted where a manifest was cut at the same
#      sequence: no later log shows the gap, the periodic check (10 s
#      without progress) finds the manifest and restores from it.
set -u
. "$RV_SRCDIR/tests/lib/db_replicate.sh"
. "$RV_SRCDIR/tests/lib/content_replicate.sh"

"$REVENANT" replicate --help | grep -q database.sqlite || {
	echo "FAIL: replicate does not ship the database yet" >&2
	exit 1
}

T=$(mktemp -d /tmp/rv-sbgap.XXXXXX)
DR_PID= SB=
cleanup() {
	[ -n "${SB:-}" ] && kill -CONT "$SB" 2>/dev/null
	for p in ${DR_PID:-} ${SB:-}; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/r.log "$T"/sb.log; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -15 "$f" >&2; }
	done
	exit 1
}

mkdir -p "$T/store" "$T/content" "$T/db" "$T/sbdb"
DB=$T/db/ghost.db
SDB=$T/sbdb/ghost.db
dr_config "$T/r.yml" "file://$T/store" "$T/content" "$DB" 200ms false
sed -i '/^content:/a\  manifest_every: 4' "$T/r.yml"
/usr/bin/python3 "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/ack" --init --count 20 --rate 0 \
	2>/dev/null || fail "cannot create the database"
dr_start "$T/r.yml" "$T/r.log" || fail "replicate did not start"
GEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["generation"])' "$T/store/lease.json")
LOGS=$T/store/generations/$GEN/content/log
MANS=$T/store/generations/$GEN/content/snapshot

"$REVENANT" standby --to "$T/sb" --db "$SDB" --interval 200ms --metrics-listen off \
	"file://$T/store" >"$T/sb.out" 2>"$T/sb.log" &
SB=$!

nlogs() { find "$LOGS" -name '*.log.zst' 2>/dev/null | wc -l; }
newest_log() { find "$LOGS" -name '*.log.zst' | sort | tail -1; }
seq_of() { basename "$1" | cut -d- -f1; }

# commit NAME: a content change; waits until its log object is stored.
commit() {
	local n0 i
	n0=$(nlogs)
	printf '%s' "$1" >"$T/content/$1.txt"
	for i in $(seq 1 100); do
		[ "$(nlogs)" -gt "$n0" ] && return 0
		sleep 0.05
	done
	fail "no log object for $1"
}

# converged WHAT SECONDS: the standby folder and database equal the source.
converged() {
	local i
	cr_listing "$T/content" >"$T/want.list"
	dr_digest "$DB" >"$T/want.digest"
	for i in $(seq 1 $(($2 * 10))); do
		if cr_listing "$T/sb" 2>/dev/null | grep -v '\.revenant-staging' >"$T/got.list" &&
			cmp -s "$T/want.list" "$T/got.list" &&
			grep -q '"clean": true' "$SDB.revenant-standby" 2>/dev/null; then
			cp "$SDB" "$T/copy.db"
			dr_digest "$T/copy.db" >"$T/got.digest"
			cmp -s "$T/want.digest" "$T/got.digest" && return 0
		fi
		sleep 0.1
	done
	diff "$T/want.list" "$T/got.list" >&2
	diff "$T/want.digest" "$T/got.digest" >&2
	fail "standby did not converge: $1"
}

commit a0
converged "before any damage" 15
/usr/bin/python3 "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/ack" --count 30 --rate 100 2>/dev/null
converged "database writes" 15

# has_manifest SEQHEX: a manifest was cut at that sequence (it follows its
# log within moments).
has_manifest() {
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		ls "$MANS" | grep -q "^$1-" && return 0
		sleep 0.1
	done
	return 1
}

echo "--- 1. a log missing between two present ones"
# Line up so that the next log follows a manifest: the next manifest
# then lies 4 commits ahead, past the log about to be lost.
until has_manifest "$(seq_of "$(newest_log)")"; do commit "p$RANDOM"; done
kill -STOP "$SB"
commit a1
gone=$(newest_log)
commit a2
[ "$(seq_of "$(newest_log)")" \> "$(seq_of "$gone")" ] || fail "no log after $gone"
rm "$gone"
gseq=$((16#$(seq_of "$gone")))
echo "deleted log $gseq: $(basename "$gone")"
kill -CONT "$SB"
for i in $(seq 1 100); do
	grep -q 'content log gap: looking for a manifest past it' "$T/sb.log" && break
	sleep 0.1
done
grep -q "content log gap: looking for a manifest past it.*sequence $gseq is missing" "$T/sb.log" ||
	fail "the gap at $gseq was not noticed"
# No manifest past the gap yet: the standby must say that it waits.
for i in $(seq 1 50); do
	grep -q "once replicate has written a manifest past it" "$T/sb.log" && break
	sleep 0.1
done
grep -q "generation $GEN: content log has a gap: sequence $gseq is missing.*manifest past it" \
	"$T/sb.log" || fail "no manifest past the gap and the standby does not say it waits"
cr_listing "$T/sb" | grep -q 'a2.txt' && fail "the standby skipped the lost commit"
commit b1
commit b2
commit b3
converged "after the gap in the middle" 20
grep -q 'standby restored the latest point' "$T/sb.log" || fail "no full restore logged"
echo "ok: converged after the gap"

echo "--- 2. the newest log missing, a manifest at its sequence"
kill -STOP "$SB"
/usr/bin/python3 "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/ack" --count 5 --rate 0 2>/dev/null
# Manifests fall on every 4th sequence: one file a round (one log each,
# the database's writes in the first) reaches one within a few rounds.
for round in $(seq 1 12); do
	commit "c$RANDOM"
	last=$(newest_log)
	s=$(seq_of "$last")
	has_manifest "$s" && break
	((round < 12)) || fail "no round ended on a log with a manifest at its sequence"
done
rm "$last"
echo "deleted log $((16#$s)) (a manifest holds it)"
n0=$(grep -c 'content log gap: looking for a manifest past it' "$T/sb.log")
kill -CONT "$SB"
converged "after losing the newest log" 25
[ "$(grep -c 'content log gap: looking for a manifest past it' "$T/sb.log")" -gt "$n0" ] ||
	fail "converged without noticing the gap?"
echo "ok: converged through the periodic check"

kill -TERM "$SB"
wait "$SB" || fail "standby did not stop cleanly"
SB=
dr_stop
echo "standby log: $(grep -c 'content log gap:' "$T/sb.log") gaps noticed," \
	"$(grep -c 'once replicate has written a manifest past it' "$T/sb.log") waits for a manifest," \
	"$(grep -c 'restores the database whole' "$T/sb.log") whole database restores"
echo "content_standby_gap: ok"
