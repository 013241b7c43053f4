#!/usr/bin/env bash
# systemd_units.sh - the units in contrib/systemd, as an operator installs
# them (only the binary, the configuration and /var/www/ghost moved into a
# work folder):
#   - `systemd-analyze verify` accepts every unit without a word;
#   - with a content.exclude that forgets the database inside the folder,
#     the database still never ships as a content file and the standby
#     still keeps it;
#   - revenant.service's ExecStart replicates a Ghost-shaped SQLite database
#     and content folder, and stops on SIGTERM with exit 0 within the unit's
#     TimeoutStopSec;
#   - revenant-standby.service's ExecStart brings a second folder and
#     database to the same point, and stops the same way;
#   - revenant-prune.service's ExecStart runs to exit 0;
#   - revenant-verify.service's ExecStart restores the latest point into
#     scratch space, exits 0 and writes its metrics file;
#   - the exit codes the units refuse to restart on are the ones revenant
#     really gives: a bad configuration, a fenced replicate (another site
#     holds the lease), a second standby on the same folder.
set -u
. "$RV_SRCDIR/tests/lib/db_replicate.sh"

command -v systemd-analyze >/dev/null || {
	echo "FAIL: systemd-analyze is missing (make deps installs systemd)" >&2
	exit 1
}
dr_setup sdunits
SB='' SB2=''
DR_EXTRA_PIDS="SB SB2"
checks=0
ok() { checks=$((checks + 1)); }

# unit NAME ROOT: the installed unit with the test's paths, in $T/units.
mkdir -p "$T/units"
unit() {
	sed -e "s|/usr/local/bin/revenant|$REVENANT|g" \
		-e "s|/etc/revenant/revenant.yml|$T/revenant.yml|g" \
		-e "s|/var/www/ghost|$2|g" \
		-e "s|/var/lib/node_exporter/textfile_collector|$T/textfile|g" \
		"$RV_SRCDIR/contrib/systemd/$1" >"$T/units/$1"
}
# exec_start NAME: its ExecStart command line (no quoting in our units).
exec_start() { sed -n 's/^ExecStart=//p' "$T/units/$1"; }
key() { sed -n "s/^$2=//p" "$T/units/$1"; }

unit revenant.service "$T/dc"
unit revenant-standby.service "$T/dr"
unit revenant-prune.service "$T/dc"
unit revenant-verify.service "$T/dc"
unit revenant-run.service "$T/dc"
cp "$RV_SRCDIR/contrib/systemd/revenant-prune.timer" "$RV_SRCDIR/contrib/systemd/revenant-verify.timer" \
	"$T/units/"
out=$(cd "$T/units" && systemd-analyze verify ./*.service ./*.timer 2>&1) ||
	fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify has remarks: $out"
ok

mkdir -p "$T/dc/content/data" "$T/dc/content/images" "$T/store"
DB=$T/dc/content/data/ghost.db
dr_config "$T/revenant.yml" "file://$T/store" "$T/dc/content" "$DB" 200ms
# An exclude list of one's own that forgets the database: the database
# inside the folder still never ships as a file, nor leaves the standby.
sed -i "s|^  path: $T/dc/content\$|&\n  exclude: [\"logs/\"]|" "$T/revenant.yml"
grep -q 'exclude: \["logs/"\]' "$T/revenant.yml" || fail "cannot set content.exclude"
/usr/bin/python3 "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/init.ack" --init --count 50 \
	--rate 0 2>/dev/null || fail "cannot create the database"
printf 'a picture' >"$T/dc/content/images/a.jpg"

# replicate, as the unit starts it
read -r -a cmd <<<"$(exec_start revenant.service)"
dr_start_cmd "$T/r.log" "${cmd[@]}" || fail "replicate (unit command) did not start"
dr_writer_start "$DB" "$T/ack" --rate 50 --max-posts 100
sleep 2
dr_writer_stop >/dev/null
sleep 1
stop_within() { # PID SECONDS -> exit code in RC
	local t0=$SECONDS
	kill -TERM "$1"
	RC=0
	wait "$1" || RC=$?
	((SECONDS - t0 <= $2)) || fail "stopped after $((SECONDS - t0)) s, the unit allows $2 s"
}
tstop=$(key revenant.service TimeoutStopSec)
stop_within "$DR_PID" "${tstop%s}"
DR_PID=
[ "$RC" = 0 ] || fail "replicate (unit command) exit $RC on SIGTERM"
"$REVENANT" -c "$T/revenant.yml" status --manifest >"$T/manifest" || fail "status --manifest"
grep -q '^file images/a.jpg ' "$T/manifest" || fail "the image is not in the store: $(cat "$T/manifest")"
! grep -q 'ghost\.db' "$T/manifest" || fail "the database shipped as a content file: $(grep ghost.db "$T/manifest")"
ok

# standby, as the DR unit starts it
read -r -a cmd <<<"$(exec_start revenant-standby.service)"
"${cmd[@]}" >"$T/sb.log" 2>&1 &
SB=$!
SDB=$T/dr/content/data/ghost.db
# The database lives inside the standby's folder, as in every Ghost
# install; the store does not hold it as a file, and the standby must not
# remove it (or its state) as a path the store lacks.
for i in $(seq 1 301); do
	[ -f "$T/dr/content/images/a.jpg" ] && grep -q clean "$SDB.revenant-standby" 2>/dev/null && break
	[ "$i" = 301 ] && fail "the standby did not reach the point in 30 s: $(tail -5 "$T/sb.log")"
	kill -0 "$SB" 2>/dev/null || fail "standby (unit command) exited: $(tail -5 "$T/sb.log")"
	sleep 0.1
done
cmp -s "$T/dc/content/images/a.jpg" "$T/dr/content/images/a.jpg" || fail "the standby folder lacks the image"
ok
# A second standby on the same folder: the exit code the unit does not retry.
read -r -a cmd2 <<<"$(exec_start revenant-standby.service)"
rc=0
"${cmd2[@]}" >"$T/sb2.log" 2>&1 || rc=$?
grep -qw -- "$rc" <<<"$(key revenant-standby.service RestartPreventExitStatus)" ||
	fail "a second standby exits $rc, not in the unit's RestartPreventExitStatus: $(cat "$T/sb2.log")"
ok
stop_within "$SB" "$(key revenant-standby.service TimeoutStopSec | tr -d s)"
SB=
[ "$RC" = 0 ] || fail "standby (unit command) exit $RC on SIGTERM: $(tail -5 "$T/sb.log")"
# The standby's database equals the source (the writer has stopped).
dr_check --db "$SDB" --ack "$T/ack" --acked-before $(($(dr_now_ms) + 1)) >/dev/null ||
	fail "the standby's database is not the source's"
ok
# Promotion as the unit's comment gives it: the database stays, complete.
read -r -a cmd <<<"$(exec_start revenant-standby.service) --promote-once"
"${cmd[@]}" >"$T/promote.log" 2>&1 || fail "promote-once: $(cat "$T/promote.log")"
[ ! -e "$SDB.revenant-standby" ] || fail "promote-once left the standby state"
dr_check --db "$SDB" --ack "$T/ack" --acked-before $(($(dr_now_ms) + 1)) >/dev/null ||
	fail "the promoted database is not the source's"
ok

# verify, as its timer's service runs it
mkdir -p "$T/textfile"
read -r -a cmd <<<"$(exec_start revenant-verify.service)"
"${cmd[@]}" >"$T/verify.log" 2>&1 || fail "verify (unit command): $(cat "$T/verify.log")"
grep -qx 'revenant_verify_ok 1' "$T/textfile/revenant_verify.prom" ||
	fail "verify (unit command) metrics: $(cat "$T/textfile/revenant_verify.prom")"
ok

# prune, as the timer's service runs it
read -r -a cmd <<<"$(exec_start revenant-prune.service)"
"${cmd[@]}" >"$T/prune.log" 2>&1 || fail "prune (unit command): $(cat "$T/prune.log")"
ok

# The exit codes revenant.service does not retry.
prevent=$(key revenant.service RestartPreventExitStatus)
read -r -a cmd <<<"$(exec_start revenant.service)"
sed -i 's/^site: dc/site: other/' "$T/revenant.yml"
rc=0
timeout 20 "${cmd[@]}" >"$T/fenced.log" 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -qw -- "$rc" <<<"$prevent" ||
	fail "a fenced replicate exits $rc, not in RestartPreventExitStatus ($prevent): $(cat "$T/fenced.log")"
ok
printf 'site: dc\nsync_interval: soon\n' >"$T/revenant.yml"
rc=0
timeout 20 "${cmd[@]}" >"$T/bad.log" 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -qw -- "$rc" <<<"$prevent" ||
	fail "a bad configuration exits $rc, not in RestartPreventExitStatus ($prevent): $(cat "$T/bad.log")"
ok
# run: the same bad configuration is not retried either
read -r -a cmd <<<"$(exec_start revenant-run.service)"
[ "${cmd[-1]}" = run ] || fail "revenant-run.service does not run 'revenant run': ${cmd[*]}"
rc=0
timeout 20 "${cmd[@]}" >"$T/runbad.log" 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -qw -- "$rc" <<<"$(key revenant-run.service RestartPreventExitStatus)" ||
	fail "run with a bad configuration exits $rc, not in RestartPreventExitStatus: $(cat "$T/runbad.log")"
ok
echo "systemd_units: $checks checks passed"
