#!/usr/bin/env bash
# content_gaps.sh - a content log object lost from the store (issue 9):
# a missing sequence with later ones present is damage, not the end of the
# log.  Real `revenant replicate` (content folder + SQLite) writes a short
# history to a file:// store and stops; each case damages its own copy of
# the store and checks what the operator sees:
#   middle  restore exits 7 naming the generation and sequence; with
#           --before-gap it restores the point before the gap (equal to a
#           restore --at that point of the undamaged store) and says so on
#           stderr; status exits 7 with a gap line (and JSON); standby
#           --promote-once exits 7, with --before-gap it promotes that
#           point; a running standby logs the gap and holds that point;
#           prune leaves the generation whole and exits 7
#   start   the first log after the generation's first manifest: the same
#   end     the newest log lost: not a gap, the newest point left is fine
#   db      a database segment lost in the middle (later snapshots removed
#           too, as they would cover it): restore exits 7 with the same
#           wording ("database log has a gap: position P is missing")
# Every command runs under `timeout`; nothing depends on speed.
set -u
. "$RV_SRCDIR/tests/lib/db_replicate.sh"
. "$RV_SRCDIR/tests/lib/content_replicate.sh"
export LC_ALL=C.UTF-8

dr_setup gaps
mkdir -p "$T/content" "$T/db" "$T/orig"
DB=$T/db/ghost.db
dr_config "$T/r.yml" "file://$T/orig" "$T/content" "$DB" 100ms false
# Database snapshots during the history too: a prune that took its base from
# a point past the gap would drop the snapshot the point before it needs.
sed -i 's/snapshot_interval: 6h/snapshot_interval: 1s/' "$T/r.yml"
"$DR_PY" "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/ack" --init --count 5 --rate 0 \
	2>/dev/null || fail "cannot create the database"
dr_start "$T/r.yml" "$T/r.log" || fail "replicate did not start"
GEN=$("$DR_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["generation"])' \
	"$T/orig/lease.json")

nlogs() { find "$T/orig/generations/$GEN/content/log" -name '*.log.zst' 2>/dev/null | wc -l; }
# Six commits, each a database change and a new file, each its own log.
for i in 1 2 3 4 5 6; do
	[ "$i" -ge 4 ] && sleep 1.1 # a snapshot due at the next tick
	n0=$(nlogs)
	"$DR_PY" "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/ack" --count 3 --rate 0 2>/dev/null ||
		fail "db writer"
	printf 'commit %s\n' "$i" >"$T/content/f$i.txt"
	for _ in $(seq 1 200); do
		[ "$(nlogs)" -gt "$n0" ] && break
		sleep 0.05
	done
	[ "$(nlogs)" -gt "$n0" ] || fail "no log object for commit $i"
done
sleep 0.5 # a last tick for anything still pending
dr_stop

LOGS=($(cd "$T/orig/generations/$GEN/content/log" && ls | sort))
NSNAP=$(ls "$T/orig/generations/$GEN/db/snapshot" | wc -l)
[ "$NSNAP" -ge 2 ] || fail "only $NSNAP database snapshots"
MANS=($(cd "$T/orig/generations/$GEN/content/snapshot" && ls | sort))
[ "${#MANS[@]}" -eq 1 ] || fail "expected only the generation's first manifest: ${MANS[*]}"
[ "${#LOGS[@]}" -ge 6 ] || fail "only ${#LOGS[@]} logs"
seq_of() { echo $((16#${1%%-*})); }
ms_of() { local r=${1#*-}; echo $((16#${r%%.*})); }
at_of() { local ms; ms=$(ms_of "$1"); printf '%d.%03d' $((ms / 1000)) $((ms % 1000)); }
echo "generation $GEN: $NSNAP db snapshots, ${#LOGS[@]} logs, seq $(seq_of "${LOGS[0]}")..$(seq_of "${LOGS[-1]}")"

checks=0
ok() { checks=$((checks + 1)); }
# run NAME CODE SECONDS CMD...: stdout in $T/NAME.out, stderr in $T/NAME.err
run() {
	local name=$1 want=$2 secs=$3 rc=0
	shift 3
	timeout "$secs" "$@" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
	[ "$rc" -eq "$want" ] ||
		fail "$name: '$*' exited $rc, wanted $want; stderr: $(tail -5 "$T/$name.err")"
	ok
}
has() { grep -qF -- "$2" "$T/$1" || fail "$1 does not say '$2': $(tail -5 "$T/$1")"; ok; }
rv="$REVENANT --log-level warn"
copy() { rm -rf "$T/$1"; cp -a "$T/orig" "$T/$1"; }
same_folder() {
	cr_listing "$1" | grep -v 'revenant-staging' >"$T/a.list"
	cr_listing "$2" | grep -v 'revenant-staging' >"$T/b.list"
	diff "$T/a.list" "$T/b.list" >&2 || fail "$1 and $2 differ"
	ok
}
same_db() {
	dr_digest "$1" >"$T/a.dig"
	dr_digest "$2" >"$T/b.dig"
	cmp -s "$T/a.dig" "$T/b.dig" || fail "databases $1 and $2 differ"
	ok
}

# gap_case NAME INDEX: delete log LOGS[INDEX] from a copy and check everything.
gap_case() {
	local name=$1 idx=$2 S=$T/$1 URL=file://$T/$1 k prev gapmsg nobj
	k=$(seq_of "${LOGS[$idx]}")
	# The point before: the log before, or the generation's first manifest.
	if [ "$idx" -gt 0 ]; then prev=${LOGS[$((idx - 1))]}; else prev=${MANS[0]}; fi
	gapmsg="generation $GEN: content log has a gap: sequence $k is missing, $((k + 1))… present"
	echo "--- $name: log $k deleted"
	copy "$name"
	rm "$S/generations/$GEN/content/log/${LOGS[$idx]}"

	# The reference: the undamaged store at the point before the gap.
	run "$name-ref" 0 60 $rv restore --to "$T/$name-ref" --db "$T/$name-ref.db" \
		--at "$(at_of "$prev")" "file://$T/orig"
	has "$name-ref.out" "seq $((k - 1)),"

	run "$name-restore" 7 60 $rv restore --to "$T/$name-r1" --db "$T/$name-r1.db" "$URL"
	has "$name-restore.err" "$gapmsg"
	has "$name-restore.err" "--before-gap"
	[ -e "$T/$name-r1.db" ] && fail "$name: a database was written despite the gap"
	[ -e "$T/$name-r1/f$k.txt" ] && fail "$name: files restored despite the gap"

	run "$name-before" 0 60 $rv restore --before-gap --to "$T/$name-r2" --db "$T/$name-r2.db" \
		"$URL"
	has "$name-before.err" "warning: $gapmsg; restoring the newest point before it"
	has "$name-before.out" "seq $((k - 1)),"
	same_folder "$T/$name-ref" "$T/$name-r2"
	same_db "$T/$name-ref.db" "$T/$name-r2.db"

	run "$name-status" 7 30 $rv status "$URL"
	has "$name-status.out" "gap:        $gapmsg"
	run "$name-status-json" 7 30 $rv status --json "$URL"
	"$DR_PY" -c 'import json,sys; g=json.load(open(sys.argv[1]))["content"]["gap"]; sys.exit(not (g["missing_seq"] == int(sys.argv[2]) and g["generation"] == sys.argv[3]))' \
		"$T/$name-status-json.out" "$k" "$GEN" || fail "$name: status --json has no gap"
	ok

	run "$name-promote" 7 60 $rv standby --promote-once --to "$T/$name-p1" \
		--db "$T/$name-p1.d/ghost.db" --metrics-listen off "$URL"
	has "$name-promote.err" "$gapmsg"
	run "$name-promote-before" 0 60 $rv standby --promote-once --before-gap \
		--to "$T/$name-p2" --db "$T/$name-p2.d/ghost.db" --metrics-listen off "$URL"
	has "$name-promote-before.out" "seq=$((k - 1)) "
	same_folder "$T/$name-ref" "$T/$name-p2"
	same_db "$T/$name-ref.db" "$T/$name-p2.d/ghost.db"

	# A running standby that starts where the gap blocks the latest point
	# reports it and restores nothing older; one that holds the point
	# before the gap (from --before-gap) stays there and reports it too.
	run "$name-standby" 124 4 "$REVENANT" standby --to "$T/$name-s1" --db "$T/$name-s1.d/g.db" \
		--interval 200ms --metrics-listen off "$URL"
	has "$name-standby.err" "$gapmsg"
	[ -e "$T/$name-s1/f1.txt" ] && fail "$name: the standby restored an older point"
	run "$name-standby-b" 124 4 "$REVENANT" standby --before-gap --to "$T/$name-s2" \
		--db "$T/$name-s2.d/g.db" --interval 200ms --metrics-listen off "$URL"
	has "$name-standby-b.err" "standby takes the newest point before a gap"
	has "$name-standby-b.err" "$gapmsg"
	same_folder "$T/$name-ref" "$T/$name-s2"

	# prune: every point is older than a 1 s window; the generation is
	# left whole (nothing in it deleted), the exit says why.
	sleep 1.1
	nobj=$(find "$S/generations" -type f | wc -l)
	run "$name-prune" 7 60 $rv prune --retention 1s "$URL"
	has "$name-prune.err" "$gapmsg"
	has "$name-prune.out" "gap:"
	[ "$(find "$S/generations" -type f | wc -l)" -eq "$nobj" ] ||
		fail "$name: prune deleted objects of a generation with a gap"
	ok
	run "$name-after-prune" 0 60 $rv restore --before-gap --to "$T/$name-r3" \
		--db "$T/$name-r3.db" "$URL"
	same_folder "$T/$name-ref" "$T/$name-r3"
	same_db "$T/$name-ref.db" "$T/$name-r3.db"
	echo "ok: $name"
}

gap_case middle $((${#LOGS[@]} / 2))
gap_case start 0

echo "--- end: the newest log deleted"
copy end
rm "$T/end/generations/$GEN/content/log/${LOGS[-1]}"
run end-restore 0 60 $rv restore --to "$T/end-r" --db "$T/end-r.db" "file://$T/end"
has end-restore.out "seq $(seq_of "${LOGS[-2]}"),"
grep -q 'gap' "$T/end-restore.err" && fail "end: a gap reported for the end of the log"
run end-status 0 30 $rv status "file://$T/end"
grep -q '^gap:' "$T/end-status.out" && fail "end: status reports a gap"
echo "ok: end"

echo "--- db: a database segment deleted in the middle"
copy db
# Only the first snapshot: a later one would cover the lost segment.
find "$T/db/generations/$GEN/db/snapshot" -type f ! -name '0000000000000000-*' -delete
SEGS=($(cd "$T/db/generations/$GEN/db/log" && ls | sort))
[ "${#SEGS[@]}" -ge 3 ] || fail "only ${#SEGS[@]} db segments"
seg=${SEGS[$((${#SEGS[@]} / 2))]}
rm "$T/db/generations/$GEN/db/log/$seg"
pos=$((16#${seg%%-*}))
run db-restore 7 60 $rv restore --to "$T/db-r" --db "$T/db-r.db" "file://$T/db"
has db-restore.err "generation $GEN: database log has a gap: position $pos is missing"
[ -e "$T/db-r.db" ] && fail "db: a database was written despite the gap"
echo "ok: db"

echo "content_gaps: ok ($checks checks)"
