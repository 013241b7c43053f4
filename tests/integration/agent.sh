#!/usr/bin/env bash
# agent.sh - `revenant run` at two sites (dc, dr) over one file:// store,
# without Ghost (a Ghost-shaped SQLite writer at dc), hooks recorded:
#   - dc (failover.initial_primary) starts as primary, dr as a standby;
#     revenant_role says so on both;
#   - `promote` at dr while dc's heartbeat is fresh: refused, exit 10;
#   - dc's agent frozen (SIGSTOP) while its writer goes on and a file is
#     written at dc: after dead_after, `promote` at dr finds the folder held
#     by dr's agent, takes the lease for it and waits; the agent finishes
#     (hooks.promote with the event, the DNS name switched) and replicates;
#     promote prints the summary and exits 0;
#   - dr writes (a file, a row);
#   - dc thawed: fenced at its next check, hooks.fenced runs once, it saves
#     aside a consistent copy of its database (holding the transactions
#     dr never got) and the file written while frozen (paths.txt), runs
#     hooks.standby, writes nothing more into its own generation, and
#     follows dr: dr's file and row reach dc's folder and database;
#   - fall-back: `switchover` at dc once it follows dr: dr runs
#     hooks.demote, hands over; dc is primary again with everything dr
#     wrote; dr follows, and restarted, stays a standby.
set -u
. "$RV_SRCDIR/tests/lib/db_replicate.sh"
. "$RV_SRCDIR/tests/lib/wait.sh"
. "$RV_SRCDIR/tests/lib/content_replicate.sh"

T=$(mktemp -d /tmp/rv-agent.XXXXXX)
DC= DR= DR_WPID=
cleanup() {
	for p in ${DC:-} ${DR:-}; do kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
	[ -n "${DR_WPID:-}" ] && kill -KILL "$DR_WPID" 2>/dev/null
	[ -n "${RV_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; grep -v 'level=debug' "$f" | tail -12 >&2; }; done
	exit 1
}
HOOK="$RV_SRCDIR/tests/fixtures/hooks/record_hook.sh"
export RV_EXEC_STATE="$T/dns.state"
echo 192.0.2.10 >"$RV_EXEC_STATE"
mkdir -p "$T/store" "$T/dc/c" "$T/dr/c"
PORT_DC=$(cr_free_port) PORT_DR=$(cr_free_port)
config() { # config SITE PORT
	cat >"$T/$1.yml" <<YML
site: $1
sync_interval: 200ms
store: {url: "file://$T/store", fsync: false}
content: {path: $T/$1/c}
database: {sqlite: $T/$1/ghost.db}
metrics: {listen: "127.0.0.1:$2"}
failover:
  initial_primary: dc
  heartbeat_interval: 1s
  dead_after: 3s
  fence_after: 2s
  max_clock_skew: 500ms
  max_loss: 10s
  save_dir: $T/$1/saved
hooks: {promote: $HOOK, fenced: $HOOK, standby: $HOOK, demote: $HOOK, timeout: 2s}
dns:
  provider: exec
  names: [www.example.test]
  targets: ["dc=192.0.2.10", "dr=192.0.2.20"]
  exec: {command: $RV_SRCDIR/tests/fixtures/dns/exec_provider.sh}
YML
}
# dead_after must exceed fence_after + hooks.timeout + skew with hooks.fenced
config dc "$PORT_DC"
config dr "$PORT_DR"
sed -i 's/dead_after: 3s/dead_after: 5s/' "$T/dc.yml" "$T/dr.yml"
j() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
role() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v r="revenant_role{role=\"$2\"}" '$1 == r {print $2}'; }
is_role() { [ "$(role "$1" "$2")" = 1 ]; } # is_role PORT ROLE
in_store() { "$REVENANT" -c "$T/$1.yml" status --manifest 2>/dev/null | grep -q " $2 "; }
run() { # run SITE: starts its agent, sets DC or DR
	RV_HOOK_LOG="$T/$1.hooks" "$REVENANT" -c "$T/$1.yml" run >>"$T/$1.log" 2>&1 &
	if [ "$1" = dc ]; then DC=$!; else DR=$!; fi
}

# --- dc primary, dr standby -------------------------------------------------
# Ghost's database exists before revenant starts; the writer starts after
# (switching a busy database to WAL mode can meet its lock)
/usr/bin/python3 "$RV_SRCDIR/tests/lib/db_writer.py" --db "$T/dc/ghost.db" --ack "$T/acks.log" \
	--init --count 1 >/dev/null 2>&1 || fail "cannot create dc's database"
echo one >"$T/dc/c/one.txt"
run dc
until_ok 20 in_store dc one.txt || fail "dc's agent did not replicate"
dr_writer_start "$T/dc/ghost.db" "$T/acks.log" --rate 50 || fail "writer"
until_ok 10 test -s "$T/acks.log" || fail "the writer acked nothing"
is_role "$PORT_DC" primary || fail "dc's role is not primary"
run dr
until_ok 20 test -f "$T/dr/c/one.txt" || fail "dr's agent did not follow"
until_ok 10 is_role "$PORT_DR" standby || fail "dr's role is not standby"

"$REVENANT" -c "$T/dr.yml" promote >"$T/alive.out" 2>"$T/alive.err"
rc=$?
[ "$rc" = 10 ] || fail "promote while dc is alive exited $rc, not 10: $(cat "$T/alive.err")"
grep -q "looks alive" "$T/alive.err" || fail "the refusal: $(cat "$T/alive.err")"

# --- dc frozen; promote at dr through its agent ---------------------------
kill -STOP "$DC"
DC_GEN=$(j "$T/store/lease.json" generation)
echo frozen >"$T/dc/c/while-frozen.txt"
sleep 5.2 # failover.dead_after
"$REVENANT" -c "$T/dr.yml" promote >"$T/promote.out" 2>"$T/promote.err" ||
	fail "promote at dr: $(cat "$T/promote.err")"
grep -q "held by this site's agent" "$T/promote.err" || fail "promote did not hand over to the agent"
grep -q "^promoted site_from=dc" "$T/promote.out" || fail "promote's summary: $(cat "$T/promote.out")"
[ "$(j "$T/store/lease.json" site)" = dr ] || fail "the lease is not dr's"
DR_GEN=$(j "$T/store/lease.json" generation)
[ "$(j "$T/store/generations/$DR_GEN/meta.json" parent)" = "$DC_GEN" ] || fail "dr's generation does not continue dc's"
grep -q "^event=promote .*REVENANT_SITE=dr" "$T/dr.hooks" || fail "dr's promote hook: $(cat "$T/dr.hooks")"
[ "$(cat "$RV_EXEC_STATE")" = 192.0.2.20 ] || fail "the DNS name does not point at dr"
until_ok 5 is_role "$PORT_DR" primary || fail "dr's role is not primary"
echo two >"$T/dr/c/two.txt"
sqlite3 "$T/dr/ghost.db" "INSERT INTO txlog(id, ms) VALUES (1000000, 0)" || fail "dr's database is not writable"
until_ok 10 in_store dr two.txt || fail "two.txt (written at dr) never reached the store"

# --- dc thawed: fenced, saves aside, follows dr ----------------------------
dr_writer_stop >/dev/null 2>&1 # Ghost at dc stops with it (hooks.fenced would)
DC_LOGS=$(find "$T/store/generations/$DC_GEN/content/log" -type f | wc -l)
kill -CONT "$DC"
until_ok 15 grep -q '^event=standby' "$T/dc.hooks" || fail "dc never became a standby"
[ "$(grep -c '^event=fenced' "$T/dc.hooks")" = 1 ] || fail "hooks.fenced ran $(grep -c '^event=fenced' "$T/dc.hooks") times"
SAVED=$(sed -n 's/^event=standby .*REVENANT_SAVED=\([^ ]*\).*/\1/p' "$T/dc.hooks" | head -1)
[ -d "$SAVED" ] || fail "hooks.standby was not told where the saved writes are ($SAVED): $(tr "\n" "|" <"$T/dc.hooks")"
grep -qx "while-frozen.txt" "$SAVED/paths.txt" || fail "the file written while frozen is not saved: $(cat "$SAVED/paths.txt")"
cmp -s "$SAVED/content/while-frozen.txt" "$T/dc/c/while-frozen.txt" 2>/dev/null ||
	cmp -s "$SAVED/content/while-frozen.txt" <(echo frozen) || fail "the saved copy differs"
[ "$(sqlite3 "$SAVED/ghost.db" 'PRAGMA integrity_check')" = ok ] || fail "the saved database is not consistent"
SAVED_MAX=$(sqlite3 "$SAVED/ghost.db" 'SELECT max(id) FROM txlog WHERE id < 1000000')
DR_MAX=$(sqlite3 "$T/dr/ghost.db" 'SELECT max(id) FROM txlog WHERE id < 1000000')
[ "$SAVED_MAX" -gt "$DR_MAX" ] || fail "the saved database holds nothing dr lacks ($SAVED_MAX vs $DR_MAX): the freeze wrote nothing?"
grep -q "saved aside" "$T/dc.log" || fail "no log line names what was saved"
[ "$(find "$T/store/generations/$DC_GEN/content/log" -type f | wc -l)" = "$DC_LOGS" ] ||
	fail "the fenced dc committed into its generation after it was fenced"
until_ok 15 test -f "$T/dc/c/two.txt" || fail "dc (now a standby) did not get dr's two.txt"
until_ok 10 is_role "$PORT_DC" standby || fail "dc's role is not standby"
[ ! -e "$T/dc/c/while-frozen.txt" ] || fail "dc's folder still has the divergent file (it follows dr now)"

# --- fall-back to dc ----------------------------------------------------------
echo three >"$T/dr/c/three.txt"
until_ok 10 in_store dr three.txt || fail "three.txt never reached the store"
dc_follows() { [ "$(j "$T/store/sites/dc/standby.json" generation)" = "$(j "$T/store/lease.json" generation)" ]; }
until_ok 15 dc_follows || fail "dc does not report as a standby of dr's generation"
"$REVENANT" -c "$T/dc.yml" switchover >"$T/back.out" 2>"$T/back.err" ||
	fail "switchover back to dc: $(cat "$T/back.err")"
grep -q "^switched over from=dr to=dc" "$T/back.out" || fail "switchover's summary: $(cat "$T/back.out")"
[ "$(j "$T/store/lease.json" site)" = dc ] || fail "the lease is not dc's after the fall-back"
for f in one two three; do
	test -f "$T/dc/c/$f.txt" || fail "dc lacks $f.txt after the fall-back"
done
[ "$(sqlite3 "$T/dc/ghost.db" 'SELECT count(*) FROM txlog WHERE id = 1000000')" = 1 ] ||
	fail "dc lacks the row written at dr"
until_ok 10 is_role "$PORT_DR" standby || fail "dr is not a standby after the switchover"
grep -q '^event=demote' "$T/dr.hooks" || fail "dr's demote hook did not run"
# dr's agent restarted: still a standby
kill -TERM "$DR"
wait "$DR"
rc=$?
DR=
[ "$rc" = 0 ] || fail "dr's agent exited $rc on SIGTERM"
run dr
until_ok 20 is_role "$PORT_DR" standby || fail "dr's restarted agent is not a standby: $(curl -s "http://127.0.0.1:$PORT_DR/metrics" | grep role)"
kill -TERM "$DC"
wait "$DC"
rc=$?
DC=
[ "$rc" = 0 ] || fail "dc's agent exited $rc on SIGTERM"
echo "PASS"
