#!/usr/bin/env bash
# The README's first command (`make demo`): a disaster-recovery drill on one
# machine.  A "DC" Ghost (SQLite) runs with `revenant replicate` shipping its
# database and content folder to a local-folder store while a writer creates
# posts and uploads images through the Admin API; the DC site (Ghost and
# revenant) is killed with SIGKILL in the middle of writing; `revenant
# restore` rebuilds the "DR" site from the store and a second Ghost starts on
# it; every write acknowledged more than sync_interval (+1 s) before the kill
# must be there, every image byte-identical.  Prints the loss (RPO) and the
# recovery time (RTO: kill -> DR Ghost answering).  Exits non-zero if any
# check fails.
#
#   scripts/demo.sh [path/to/revenant]
#   RV_DRILL_SECONDS=20   how long the writer runs before the kill
#   RV_DEMO_KEEP=1        keep the work dir (logs, store, both sites); by
#                         default it is kept only when the drill fails
#   RV_DEMO_KEEP_ON_FAIL=0  remove it even then (the test sets this)
#   RV_DRILL_SELFTEST=1   also check that the checker catches losses
#   RV_DRILL_DR=standby   a warm DR site instead of a cold one: `revenant
#                         standby` follows the store during the writes (the
#                         database inside the folder, as Ghost lays it out);
#                         after the kill it is stopped and `revenant promote`
#                         fails over: it refuses until DC's heartbeat is
#                         failover.dead_after (3 s) old, then catches up,
#                         takes the lease, starts the DR Ghost through
#                         hooks.promote, waits for it, switches a DNS name
#                         (the exec provider, a file here) and replicates
#                         as primary
#   RV_DRILL_DR=auto      the DR site runs `revenant run` with failover.auto
#                         (probing the DC Ghost): after the kill it promotes
#                         itself — nobody runs a command — and its
#                         hooks.promote starts the DR Ghost
#   RV_DRILL_DB=mariadb   Ghost on MariaDB instead of SQLite: a throw-away
#                         DC MariaDB (tests/lib/mariadb.sh: binlog on, ROW)
#                         under the DC Ghost, replicated with database.mysql
#                         (snapshot + binlog stream); the disaster also
#                         kill -9s the DC mariadbd; DR restores with
#                         `restore --db mysql://…` into a second MariaDB
#                         (already running, empty: the DR site's server)
#                         and the DR Ghost starts on it.  With
#                         RV_DRILL_DR=standby `revenant standby --db
#                         mysql://…` keeps that database current during
#                         the writes and `standby --promote-once` hands it
#                         to the DR Ghost (promote and run do not take a
#                         MySQL standby yet); RV_DRILL_DR=auto is refused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rv=${1:-$here/../build/revenant}
rv=$(cd "$(dirname "$rv")" && pwd)/$(basename "$rv")
write_s=${RV_DRILL_SECONDS:-20}
dr_mode=${RV_DRILL_DR:-restore}
[[ $dr_mode == restore || $dr_mode == standby || $dr_mode == auto ]] || {
	echo "demo: RV_DRILL_DR is 'restore', 'standby' or 'auto', not '$dr_mode'" >&2
	exit 2
}
db_kind=${RV_DRILL_DB:-sqlite}
[[ $db_kind == sqlite || $db_kind == mariadb ]] || {
	echo "demo: RV_DRILL_DB is 'sqlite' or 'mariadb', not '$db_kind'" >&2
	exit 2
}
[[ $db_kind == sqlite || $dr_mode != auto ]] || {
	echo "demo: RV_DRILL_DB=mariadb runs a cold restore or a standby (revenant run does not take a MySQL standby yet)" >&2
	exit 2
}
sync_ms=1000
export LC_ALL=C.UTF-8
umask 022

[[ -x $rv ]] || {
	echo "demo: no revenant binary at $rv (run make first)" >&2
	exit 2
}
# shellcheck source=tests/lib/ghost.sh
. "$here/../tests/lib/ghost.sh"
# shellcheck source=tests/lib/mariadb.sh
. "$here/../tests/lib/mariadb.sh"

W=$(mktemp -d "${TMPDIR:-/tmp}/revenant-drill.XXXXXX")
RV_GHOST_WORK=$W/sites # ghost.sh keeps its sites there
REP="" WRITER="" SB="" PR="" DETECT_MS="" ok="" DRDB_DIR="" SLEEPER=""
cleanup() {
	if [[ -n $SLEEPER ]]; then kill -TERM "$SLEEPER" 2>/dev/null || true; fi
	if [[ -n $WRITER ]]; then kill -TERM "$WRITER" 2>/dev/null || true; fi
	if [[ -n $REP ]]; then kill -KILL "$REP" 2>/dev/null || true; fi
	if [[ -n $SB ]]; then kill -KILL "$SB" 2>/dev/null || true; fi
	if [[ -n $PR ]]; then kill -KILL "$PR" 2>/dev/null || true; fi
	ghost_cleanup_all
	# the DC MariaDB (this shell's child) and the DR one (its own process)
	mariadb_stop
	if [[ -n $DRDB_DIR && -f $DRDB_DIR/env ]]; then
		bash "$here/../tests/lib/mariadb.sh" stop "$DRDB_DIR" >/dev/null 2>&1 || true
	fi
	if [[ -n ${RV_DEMO_KEEP:-} || (-z $ok && ${RV_DEMO_KEEP_ON_FAIL:-1} == 1) ]]; then
		[[ -n $ok ]] || echo "demo: logs kept in $W (ghost: sites/*/ghost.log, revenant: rep.log)" >&2
	else
		rm -rf "$W"
	fi
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
	echo "demo: FAILED: $*" >&2
	[[ -f $W/rep.log ]] && { echo "--- revenant replicate log (tail)" >&2; tail -n 15 "$W/rep.log" >&2; }
	exit 1
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
T0=$(now_ms)
step() { printf '[%6.1fs] %s\n' "$(($(now_ms) - T0))e-3" "$*"; }

step "revenant $("$rv" --version | cut -d' ' -f2); work dir $W"
"$rv" replicate --help | grep -q database.sqlite ||
	fail "$rv does not replicate Ghost's database yet (no database.sqlite in 'replicate --help')"
ghost_install || fail "cannot install Ghost (see above)"

# ---- the DC site
if [[ $db_kind == mariadb ]]; then
	step "DC: start MariaDB ($(mariadbd --version 2>/dev/null | grep -o '[0-9]*\.[0-9]*\.[0-9]*-MariaDB' || echo '?'); binlog on, ROW)"
	mariadb_start "$W/dcdb" || fail "the DC MariaDB did not start"
	mariadb_sql "CREATE DATABASE ghost CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" ||
		fail "cannot create the DC database"
	DC_DB="mysql://root@localhost/ghost?socket=$MARIADB_SOCK"
	step "DC: start Ghost $RV_GHOST_VERSION (MariaDB; it creates its schema)"
	ghost_start dc "$(ghost_free_port)" mysql "" "$DC_DB" || fail "the DC Ghost did not start on MariaDB"
else
	step "DC: start Ghost $RV_GHOST_VERSION (SQLite)"
	ghost_start dc "$(ghost_free_port)" || fail "the DC Ghost did not start"
fi
KEY=$(ghost_setup_admin dc) || fail "cannot get an Admin API key from the DC Ghost"
DC_URL=$(ghost_url dc) DC_CONTENT=$(ghost_content dc) DC_DB=$(ghost_db dc)
if [[ $db_kind == mariadb ]]; then
	n=$(mariadb_sql -D ghost "SELECT COUNT(*) FROM users") || fail "cannot read the DC Ghost's database"
	((n >= 1)) || fail "the DC Ghost's database has no users after setup"
	DB_YML="{mysql: {socket: \"$MARIADB_SOCK\", user: root, database: ghost}, snapshot_interval: 6h}"
else
	[[ -f $DC_DB ]] || fail "the DC Ghost's database '$DC_DB' is missing"
	DB_YML="{sqlite: \"$DC_DB\"}"
fi
echo "         $DC_URL, content $DC_CONTENT, database $DC_DB"

mkdir -p "$W/store"
STORE=file://$W/store
cat >"$W/dc.yml" <<EOF
site: dc
sync_interval: ${sync_ms}ms
store: {url: "$STORE", fsync: true}
content: {path: "$DC_CONTENT"}
database: $DB_YML
metrics: {listen: "off"}
failover: {heartbeat_interval: 1s, fence_after: 2s, dead_after: 3s, max_clock_skew: 500ms}
EOF
step "DC: revenant replicate -> $STORE (sync_interval ${sync_ms} ms)"
"$rv" -c "$W/dc.yml" --log-level debug replicate >>"$W/rep.log" 2>&1 &
REP=$!
committed() { # the first commit after the start-up walk is in the store
	"$rv" --log-level error status --json "$STORE" 2>/dev/null | /usr/bin/python3 -c '
import json, sys
c = json.load(sys.stdin)["content"]
sys.exit(0 if c and c["seq"] >= 1 else 1)'
}
for _ in $(seq 1 150); do
	committed && break
	kill -0 "$REP" 2>/dev/null || fail "revenant replicate exited while starting"
	sleep 0.1
done
committed || fail "no first commit in the store within 15 s"

# dr_config EXTRA: the DR site's revenant.yml (promote, run), EXTRA appended
# under failover:.
dr_config() {
	cat >"$W/dr.yml" <<YML
site: dr
sync_interval: ${sync_ms}ms
store: {url: "$STORE", fsync: true}
content: {path: "$DR_CONTENT"}
database: {sqlite: "$DR_DB"}
metrics: {listen: "off"}
ghost: {url: "http://127.0.0.1:$DR_PORT"}
failover:
  heartbeat_interval: 1s
  fence_after: 2s
  dead_after: 3s
  max_clock_skew: 500ms
  initial_primary: dc
$1
hooks: {promote: "$here/../tests/fixtures/hooks/ghost_launch.sh", timeout: 10s}
dns:
  provider: exec
  names: [blog.example.test]
  type: A
  targets: ["dc=192.0.2.10", "dr=192.0.2.20"]
  exec: {command: "$here/../tests/fixtures/dns/exec_provider.sh"}
YML
}

# A warm DR site follows the store from now on.
DR_CONTENT=$W/dr/content DR_DB=$W/dr/ghost.db
DR_PORT=$(ghost_free_port)
if [[ $db_kind == mariadb ]]; then
	# The DR site's database server stands by, empty; the restore creates
	# the database in it.
	step "DR: start an empty MariaDB (the DR site's server)"
	DRDB_DIR=$W/drdb
	mkdir -p "$DRDB_DIR"
	bash "$here/../tests/lib/mariadb.sh" start "$DRDB_DIR" || fail "the DR MariaDB did not start"
	DR_DB="mysql://root@localhost/ghost?socket=$(sed -n 's/^MARIADB_SOCK=//p' "$DRDB_DIR/env")"
fi
if [[ $dr_mode == auto ]]; then
	DR_DB=$W/dr/content/data/ghost.db
	mkdir -p "$DR_CONTENT"
	# ghost_prepare (below, once the database is there) writes the DR
	# Ghost's folder where the promote hook looks for it
	export RV_GHOST_LAUNCH_DIR=$RV_GHOST_WORK/dr RV_EXEC_STATE=$W/dns.state
	echo 192.0.2.10 >"$RV_EXEC_STATE"
	dr_config "  auto: true
  probe_url: $DC_URL/
  probe_interval: 500ms
  fall: 2
  rise: 2"
	step "DR: revenant run with failover.auto (warm site, probing $DC_URL/)"
	"$rv" -c "$W/dr.yml" --log-level info run >>"$W/standby.log" 2>&1 &
	SB=$!
	for _ in $(seq 1 300); do
		[[ -e $DR_DB.revenant-standby ]] && break
		sleep 0.05
	done
	[[ -e $DR_DB.revenant-standby ]] || fail "the DR agent restored no database: $(tail -5 "$W/standby.log")"
	ghost_prepare dr "$DR_PORT" sqlite "$DR_CONTENT" "$DR_DB" || fail "cannot prepare the DR Ghost"
	[[ $(ghost_dir dr) == "$RV_GHOST_LAUNCH_DIR" ]] || fail "the DR Ghost's folder is not where the hook looks"
fi
if [[ $dr_mode == standby ]]; then
	if [[ $db_kind == mariadb ]]; then
		step "DR: revenant standby --to dr/content --db mysql://root@localhost/ghost?socket=… (warm site)"
	else
		DR_DB=$W/dr/content/data/ghost.db
		step "DR: revenant standby --to dr/content --db dr/content/data/ghost.db (warm site)"
	fi
	"$rv" --log-level info standby --to "$DR_CONTENT" --db "$DR_DB" --interval 200ms \
		--metrics-listen off "$STORE" >>"$W/standby.log" 2>&1 &
	SB=$!
fi

step "DC: writing posts and images through the Admin API for ${write_s} s, then SIGKILL"
: >"$W/acks.jsonl"
/usr/bin/python3 "$here/drill.py" write --url "$DC_URL" --key-file "$KEY" \
	--acks "$W/acks.jsonl" 2>"$W/writer.log" &
WRITER=$!
# In the background: a SIGINT/SIGTERM then runs the cleanup at once, not
# after the writes.
sleep "$write_s" &
SLEEPER=$!
wait "$SLEEPER"
SLEEPER=
kill -0 "$REP" 2>/dev/null || fail "revenant replicate died during the writes"
kill -0 "$WRITER" 2>/dev/null || fail "the writer stopped early: $(cat "$W/writer.log")"
if [[ $dr_mode == standby && $db_kind == mariadb ]]; then
	# A warm site: the standby must have followed the writes, not merely
	# be there for promote-once to do a cold restore.
	n=$(mariadb --no-defaults -S "$(sed -n 's/^MARIADB_SOCK=//p' "$DRDB_DIR/env")" -uroot \
		--batch --skip-column-names -e "SELECT COUNT(*) FROM ghost.posts p JOIN ghost.revenant_standby s" 2>&1) ||
		fail "the DR standby database cannot be read: $n ($(tail -3 "$W/standby.log"))"
	((n > 0)) || fail "the DR standby database holds no post after ${write_s} s of writes"
	echo "         the standby database holds $n posts before the kill"
fi

# ---- the disaster: every process of the DC site at the same instant
if [[ $db_kind == mariadb ]]; then
	kill -0 "$MARIADB_PID" 2>/dev/null || fail "the DC MariaDB died during the writes"
	KILL_MS=$(now_ms)
	kill -KILL "$(ghost_pid dc)" "$REP" "$MARIADB_PID"
	wait "$MARIADB_PID" 2>/dev/null || true
	MARIADB_PID=
	what="Ghost, MariaDB and revenant"
else
	KILL_MS=$(now_ms)
	kill -KILL "$(ghost_pid dc)" "$REP"
	what="Ghost and revenant"
fi
wait "$REP" 2>/dev/null || true
REP=
ghost_kill dc
step "DC: killed ($what, SIGKILL) at $(date -u -d "@$((KILL_MS / 1000)).$((KILL_MS % 1000))" +%T.%3N) UTC"

# ---- the DR site
if [[ $dr_mode == standby && $db_kind == mariadb ]]; then
	kill -0 "$SB" 2>/dev/null || fail "the standby died during the writes: $(tail -5 "$W/standby.log")"
	step "DR: stop the standby; revenant standby --promote-once (the database becomes Ghost's)"
	kill -TERM "$SB"
	rc=0
	wait "$SB" || rc=$?
	SB=
	((rc == 0)) || fail "the standby exited $rc on SIGTERM: $(tail -5 "$W/standby.log")"
	"$rv" --log-level warn standby --to "$DR_CONTENT" --db "$DR_DB" --promote-once "$STORE" \
		>"$W/restore.out" 2>"$W/restore.err" ||
		fail "standby --promote-once failed: $(cat "$W/restore.out" "$W/restore.err")"
elif [[ $dr_mode == standby ]]; then
	kill -0 "$SB" 2>/dev/null || fail "the standby died during the writes: $(tail -5 "$W/standby.log")"
	step "DR: stop the standby; revenant promote (hooks.promote starts Ghost, DNS via exec)"
	kill -TERM "$SB"
	rc=0
	wait "$SB" || rc=$?
	SB=
	((rc == 0)) || fail "the standby exited $rc on SIGTERM: $(tail -5 "$W/standby.log")"
	ghost_prepare dr "$DR_PORT" sqlite "$DR_CONTENT" "$DR_DB" || fail "cannot prepare the DR Ghost"
	export RV_GHOST_LAUNCH_DIR RV_EXEC_STATE=$W/dns.state
	RV_GHOST_LAUNCH_DIR=$(ghost_dir dr)
	echo 192.0.2.10 >"$RV_EXEC_STATE"
	dr_config ""
	# Refused (exit 10) while DC's heartbeat is younger than dead_after:
	# that wait is the failure detection.  Once it passes, promote goes on
	# replicating as primary; it is done when it prints its timings.
	for _ in $(seq 1 40); do
		rc=0
		"$rv" -c "$W/dr.yml" --log-level info promote >"$W/restore.out" 2>"$W/promote.log" &
		PR=$!
		while kill -0 "$PR" 2>/dev/null && ! grep -q '^timings ' "$W/restore.out"; do
			sleep 0.05
		done
		grep -q '^timings ' "$W/restore.out" && break
		wait "$PR" || rc=$?
		PR=
		((rc == 10)) || fail "promote failed (exit $rc): $(tail -3 "$W/promote.log")"
		DETECT_MS=$(now_ms)
		sleep 0.25
	done
	[[ -n $PR ]] || fail "promote kept refusing: $(tail -1 "$W/promote.log")"
	ghost_adopt dr || fail "the promote hook started no Ghost"
	[[ $(cat "$RV_EXEC_STATE") == 192.0.2.20 ]] || fail "the DNS name does not point at dr"
elif [[ $dr_mode == auto ]]; then
	step "DR: waiting for the agent to fail over by itself"
	kill -0 "$SB" 2>/dev/null || fail "the DR agent died during the writes: $(tail -5 "$W/standby.log")"
	for _ in $(seq 1 300); do
		[[ -s $RV_GHOST_LAUNCH_DIR/ghost.pid ]] && grep -q 'msg=promoted' "$W/standby.log" && break
		sleep 0.05
	done
	grep -q 'msg=promoted' "$W/standby.log" || fail "the DR agent did not promote itself: $(tail -5 "$W/standby.log")"
	ghost_adopt dr || fail "the promote hook started no Ghost"
	[[ $(cat "$RV_EXEC_STATE") == 192.0.2.20 ]] || fail "the DNS name does not point at dr"
	grep -E 'automatic failover|msg=promoted' "$W/standby.log" >"$W/restore.out"
	PR=$SB SB=
elif [[ $db_kind == mariadb ]]; then
	step "DR: revenant restore --to dr/content --db mysql://root@localhost/ghost?socket=…"
	mkdir -p "$W/dr"
	"$rv" --log-level warn restore --to "$DR_CONTENT" --db "$DR_DB" "$STORE" \
		>"$W/restore.out" 2>"$W/restore.err" ||
		fail "restore failed: $(cat "$W/restore.out" "$W/restore.err")"
else
	step "DR: revenant restore --to dr/content --db dr/ghost.db"
	mkdir -p "$W/dr"
	"$rv" --log-level warn restore --to "$DR_CONTENT" --db "$DR_DB" "$STORE" \
		>"$W/restore.out" 2>"$W/restore.err" ||
		fail "restore failed: $(cat "$W/restore.out" "$W/restore.err")"
fi
sed 's/^/         /' "$W/restore.out"
RESTORED_MS=$(now_ms)
if [[ $dr_mode == standby && $db_kind == sqlite ]]; then
	# promote waited for Ghost (ghost.url) before it printed its timings
	UP_MS=$RESTORED_MS
	ghost_wait dr || fail "the DR Ghost started by the promote hook does not answer"
elif [[ $dr_mode == auto ]]; then
	# the agent logs "promoted" once Ghost answered and DNS switched
	UP_MS=$RESTORED_MS
	ghost_wait dr || fail "the DR Ghost started by the promote hook does not answer"
else
	step "DR: start Ghost on the $dr_mode folder and database"
	ghost_start dr "$DR_PORT" "${db_kind/mariadb/mysql}" "$DR_CONTENT" "$DR_DB" ||
		fail "the DR Ghost did not start on the $dr_mode site"
	UP_MS=$(now_ms)
fi
DR_URL=$(ghost_url dr)
step "DR: $DR_URL answers (/ghost/api/admin/site/ 200)"

# The writer sees the DC site gone and stops by itself.
for _ in $(seq 1 100); do
	kill -0 "$WRITER" 2>/dev/null || break
	sleep 0.1
done
kill -TERM "$WRITER" 2>/dev/null || true
wait "$WRITER" 2>/dev/null || true
WRITER=
sed 's/^/         /' "$W/writer.log"

step "DR: checking every acknowledged write over HTTP"
rc=0
/usr/bin/python3 "$here/drill.py" check --url "$DR_URL" --key-file "$KEY" --acks "$W/acks.jsonl" \
	--kill-ms "$KILL_MS" --dc-content "$DC_CONTENT" --sync-ms "$sync_ms" --grace-ms 1000 \
	--summary "$W/summary.json" || rc=$?
if [[ $dr_mode == standby && $db_kind == sqlite ]]; then
	printf '  RTO: %.3f s from the kill to the DR Ghost answering with the name switched (detection: promote refused for %.3f s, until dead_after)\n' \
		"$((UP_MS - KILL_MS))e-3" "$((${DETECT_MS:-$KILL_MS} - KILL_MS))e-3"
	sed 's/^/         /' "$W/restore.out"
elif [[ $dr_mode == auto ]]; then
	printf '  RTO: %.3f s from the kill to the DR Ghost answering with the name switched, no operator (automatic failover)\n' \
		"$((UP_MS - KILL_MS))e-3"
	sed 's/^/         /' "$W/restore.out"
else
	printf '  RTO: %.3f s from the kill to the DR Ghost answering (%s %.3f s, Ghost start %.3f s)\n' \
		"$((UP_MS - KILL_MS))e-3" "$([[ $dr_mode == standby ]] && echo "standby stopped + promote-once" || echo restore)" \
		"$((RESTORED_MS - KILL_MS))e-3" "$((UP_MS - RESTORED_MS))e-3"
fi
((rc == 0)) || fail "the checks of the DR site failed (see FAIL above)"
# Ghost must keep working while revenant holds its database (WAL shipping
# must never make a write fail with "database is locked").
rejected=$(sed -n 's/.* \([0-9][0-9]*\) writes rejected by Ghost.*/\1/p' "$W/writer.log")
[[ -n $rejected ]] || fail "the writer did not report its rejected writes"
((rejected == 0)) || fail "the DC Ghost rejected $rejected writes while revenant replicated it"

# RV_DRILL_SELFTEST=1 (the integration test): the checker must catch what
# it is there to catch.  Against the same DR site, a copy of the ack log
# with an old post that never existed, an image whose upload had other
# bytes, and an image that was never stored, plus one DC image altered
# after the fact, must each be reported.
if [[ -n ${RV_DRILL_SELFTEST:-} ]]; then
	step "self-test: the checker catches a lost post, lost image and wrong bytes"
	/usr/bin/python3 - "$W/acks.jsonl" "$W/acks.bad" "$KILL_MS" "$DC_CONTENT" <<'PY' || fail "self-test setup failed"
import json, sys
src, dst, kill, dc = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
acks = [json.loads(l) for l in open(src) if l.strip()]
imgs = [a for a in acks if a["kind"] == "image"]
old = kill - 10000
acks.append({"kind": "post", "id": "0" * 24, "slug": "never", "title": "never", "ack_ms": old})
acks.append({"kind": "image", "rel": "images/never/lost.png", "sha256": "0" * 64, "bytes": 1, "ack_ms": old})
acks.append(dict(imgs[0], sha256="1" * 64))
with open(dc + "/" + imgs[1]["rel"], "ab") as f:
    f.write(b"tampered")
with open(dst, "w") as f:
    f.writelines(json.dumps(a) + "\n" for a in acks)
PY
	src=$(/usr/bin/python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1])
		if json.loads(l)["kind"] == "image"][1]["rel"])' "$W/acks.jsonl")
	if /usr/bin/python3 "$here/drill.py" check --url "$DR_URL" --key-file "$KEY" \
		--acks "$W/acks.bad" --kill-ms "$KILL_MS" --dc-content "$DC_CONTENT" \
		--sync-ms "$sync_ms" --all-problems >"$W/selftest.out" 2>&1; then
		cat "$W/selftest.out"
		fail "self-test: the checker passed a tampered ack log"
	fi
	for want in "post 000000000000000000000000 acknowledged 10.000 s before the kill is missing" \
		"image images/never/lost.png acknowledged 10.000 s before the kill is missing" \
		"serves no byte-identical copy of the upload" \
		"image /content/$src: DR serves other bytes than DC's folder holds"; do
		grep -qF "$want" "$W/selftest.out" || {
			cat "$W/selftest.out"
			fail "self-test: the checker did not report: $want"
		}
	done
	echo "         ok: all four reported"
fi
ghost_stop dr
if [[ -n $PR ]]; then
	kill -TERM "$PR"
	rc=0
	wait "$PR" || rc=$?
	PR=
	((rc == 0)) || fail "promote's replicate exited $rc on SIGTERM: $(tail -3 "$W/promote.log")"
fi
ok=1
step "demo: OK — the DR site has every write acknowledged more than $((sync_ms + 1000)) ms before the kill"
