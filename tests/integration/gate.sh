#!/usr/bin/env bash
# gate.sh - the Ghost gate (hooks.gate, src/engine/gate.h) with a real Ghost
# run by deploy/k8s/components/gate/ghost-gate.sh, the Kubernetes kit's Ghost command:
#   - a new site: `revenant run` (initial primary) opens the gate, the
#     wrapper starts Ghost, Ghost creates its database, run waits for it
#     and replicates;
#   - promoted elsewhere (promote --force at dr): dc's agent is fenced,
#     closes the gate and waits until Ghost has stopped (Ghost's port
#     closed, `running` gone) BEFORE it saves aside and follows;
#   - promoted back (promote at dc, through its agent): the gate opens and
#     Ghost serves again, with what dr wrote;
#   - config check refuses a relative gate and counts hooks.timeout in the
#     failover timing when only the gate stops Ghost.
# About 30 s (Ghost boots twice).
set -u
. "$RV_SRCDIR/tests/lib/wait.sh"
. "$RV_SRCDIR/tests/lib/ghost.sh"
. "$RV_SRCDIR/tests/lib/content_replicate.sh"

T=$(mktemp -d /tmp/rv-gate.XXXXXX)
WRAP= DC=
cleanup() {
	[ -n "${DC:-}" ] && kill -KILL "$DC" 2>/dev/null
	# The wrapper leads its own session: Ghost goes with it.
	[ -n "${WRAP:-}" ] && kill -KILL -- "-$WRAP" 2>/dev/null
	ghost_cleanup_all
	[ -n "${RV_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; grep -v 'level=debug' "$f" | tail -15 >&2; }; done
	exit 1
}
ghost_install || fail "Ghost is not installed"
GPORT=$(ghost_free_port) || fail "no free port"
ghost_prepare dc "$GPORT" || fail "ghost_prepare"
URL=$(ghost_url dc)
mkdir -p "$T/store" "$T/dr/c"
PORT_DC=$(cr_free_port)
config() { # config SITE CONTENT DB
	cat >"$T/$1.yml" <<YML
site: $1
sync_interval: 200ms
store: {url: "file://$T/store", fsync: false}
content: {path: $2}
database: {sqlite: $3}
metrics: {listen: "$4"}
ghost: {url: "$URL"}
failover:
  initial_primary: dc
  heartbeat_interval: 1s
  fence_after: 3s
  dead_after: 20s
  max_clock_skew: 500ms
  max_loss: 10s
  ghost_timeout: 60s
  save_dir: $T/$1/saved
hooks: {gate: $T/gate, timeout: 15s}
YML
}
config dc "$(ghost_content dc)" "$(ghost_db dc)" "127.0.0.1:$PORT_DC"
config dr "$T/dr/c" "$T/dr/ghost.db" off
answers() { curl -fsS -o /dev/null --max-time 2 -H 'Accept-Version: v5.0' "$URL/ghost/api/admin/site/" 2>/dev/null; }
port_closed() { ! (exec 3<>"/dev/tcp/127.0.0.1/$GPORT") 2>/dev/null; }
line() { grep -n "$2" "$1" | head -1 | cut -d: -f1; }

echo "--- config check"
sed 's|gate: [^,]*,|gate: gate,|' "$T/dc.yml" >"$T/rel.yml"
"$REVENANT" -c "$T/rel.yml" config check >"$T/out" 2>&1 && fail "a relative hooks.gate was accepted"
grep -q "hooks.gate.*absolute path" "$T/out" || fail "relative gate: $(cat "$T/out")"
sed 's/dead_after: 20s/dead_after: 10s/' "$T/dc.yml" >"$T/tight.yml"
"$REVENANT" -c "$T/tight.yml" config check >"$T/out" 2>&1 && fail "dead_after 10s < fence_after + hooks.timeout was accepted with a gate"
grep -q "hooks.timeout (15s)" "$T/out" || fail "tight timing: $(cat "$T/out")"
"$REVENANT" -c "$T/dc.yml" config check >"$T/out" 2>&1 || fail "config check: $(cat "$T/out")"

echo "--- a new site: the gate opens, Ghost starts and creates its database"
(
	cd "$(ghost_dir dc)" || exit 1
	exec setsid env NODE_ENV=development sh "$RV_SRCDIR/deploy/k8s/components/gate/ghost-gate.sh" "$T/gate" \
		node "$RV_GHOST_HOME/package/index.js"
) >"$T/ghost.log" 2>&1 &
WRAP=$!
sleep 1
! answers || fail "Ghost answers before the gate opened"
[ ! -e "$(ghost_db dc)" ] || fail "the database exists before Ghost ever ran"
"$REVENANT" -c "$T/dc.yml" run >"$T/dc.log" 2>&1 &
DC=$!
until_ok 60 answers || fail "Ghost did not start when the gate opened"
[ -e "$T/gate/open" ] && [ -e "$T/gate/running" ] || fail "the gate's files: $(ls "$T/gate")"
until_ok 30 grep -q 'content generation started' "$T/dc.log" || fail "run did not replicate once Ghost made its database"
grep -q 'waiting for Ghost to create it' "$T/dc.log" || fail "run did not say it waits for the database"
echo marker-one >"$(ghost_content dc)/images/one.txt"
in_store() { "$REVENANT" -c "$T/dc.yml" status --manifest 2>/dev/null | grep -q " $1 "; }
until_ok 10 in_store images/one.txt || fail "the file never reached the store"

echo "--- promoted at dr: dc closes the gate and waits for Ghost to stop"
"$REVENANT" -c "$T/dr.yml" promote --force --no-replicate >"$T/promote-dr.log" 2>&1 ||
	fail "promote at dr: $(tail -3 "$T/promote-dr.log")"
until_ok 20 grep -q 'gate closed: Ghost stopped' "$T/dc.log" || fail "dc never closed the gate"
port_closed || fail "Ghost's port is still open after the gate closed"
[ ! -e "$T/gate/open" ] && [ ! -e "$T/gate/running" ] || fail "the gate's files after closing: $(ls "$T/gate")"
until_ok 20 grep -q 'saved aside' "$T/dc.log" || fail "dc did not save aside"
closed=$(line "$T/dc.log" 'gate closed: Ghost stopped') saved=$(line "$T/dc.log" 'saved aside')
((closed < saved)) || fail "dc saved aside (line $saved) before Ghost stopped (line $closed)"
ms=$(grep 'gate closed: Ghost stopped' "$T/dc.log" | head -1 | sed 's/.* ms=\([0-9]*\).*/\1/')
echo "Ghost stopped ${ms} ms after the gate closed"
((ms < 15000)) || fail "Ghost took $ms ms to stop"
sleep 2
port_closed || fail "Ghost started again at the fenced site"

echo "--- promoted back at dc (through its agent): the gate opens, Ghost serves again"
"$REVENANT" -c "$T/dc.yml" promote --force >"$T/promote-dc.log" 2>&1 ||
	fail "promote at dc: $(tail -3 "$T/promote-dc.log")"
until_ok 60 answers || fail "Ghost did not start again when dc was promoted"
grep -q 'gate opened' "$T/dc.log" || fail "no gate opened line"
cmp -s "$(ghost_content dc)/images/one.txt" <(echo marker-one) || fail "dc lost its own file"

echo "--- SIGTERM: the agent and the wrapper stop cleanly"
kill -TERM "$DC"
wait "$DC"
rc=$?
DC=
[ "$rc" = 0 ] || fail "run exited $rc on SIGTERM"
kill -TERM "$WRAP"
wait "$WRAP"
rc=$?
WRAP=
[ "$rc" = 0 ] || fail "ghost-gate.sh exited $rc on SIGTERM"
port_closed || fail "Ghost still runs after its wrapper stopped"
[ ! -e "$T/gate/running" ] || fail "the wrapper left 'running' behind"
echo "PASS"
