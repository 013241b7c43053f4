#!/usr/bin/env bash
# failover_bench.sh - how long a failover and a switchover take, on real
# processes, against what the alternatives are documented to take:
#
#   1. unplanned, automatic: scripts/demo.sh RV_DRILL_DR=auto (real Ghosts,
#      SQLite; DR runs `revenant run` with failover.auto probing the DC
#      Ghost every 500 ms, fall 2, dead_after 3 s) — kill of the DC site ->
#      DR Ghost answering with the name switched, nobody running a command;
#   2. unplanned, by hand: RV_DRILL_DR=standby (`revenant promote` retried
#      until dead_after passes);
#   3. planned: tests/integration/switchover.sh's ten switchovers under a
#      100 txn/s writer (the hooks stop and start it) — end to end, and the
#      part that is the writer stopping;
#   4. the agent's peak RSS in either role (VmHWM of `revenant run` at both
#      sites during a promote through the agent: tests/integration/agent.sh's
#      set-up, shortened).
# Route 53 health-check failover and the reference deployment's manual
# procedure cannot run here; their figures are the documented ones
# (shared/FACTS.md) and are printed beside revenant's.
#
#   bash bench/failover_bench.sh [build/revenant]     RUNS=3 by default
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REVENANT=$(realpath "${1:-$HERE/../build/revenant}")
RUNS=${RUNS:-3}
export REVENANT RV_SRCDIR=$HERE/.. RV_TESTDIR=$HERE/../tests
mkdir -p "$HERE/results"
OUT=$HERE/results/failover-$(date -u +%Y%m%dT%H%M%SZ).txt
exec > >(tee "$OUT") 2>&1

rto() { # rto MODE: the drill's RTO line's first figure
	RV_DRILL_DR=$1 RV_DRILL_SECONDS=8 RV_DEMO_KEEP_ON_FAIL=0 bash "$HERE/../scripts/demo.sh" "$REVENANT" \
		>"$W/drill.out" 2>&1 || { tail -5 "$W/drill.out" >&2; echo fail; return; }
	sed -n 's/^  RTO: \([0-9.]*\) s.*/\1/p' "$W/drill.out"
}
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-failover-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT

echo "revenant $("$REVENANT" --version | cut -d' ' -f2), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%FT%TZ)"
echo
printf '%-58s %s\n' "scenario" "seconds (each run)"
a=() s=()
for _ in $(seq 1 "$RUNS"); do a+=("$(rto auto)"); done
for _ in $(seq 1 "$RUNS"); do s+=("$(rto standby)"); done
printf '%-58s %s\n' "kill -> DR Ghost serving, automatic (failover.auto)" "${a[*]}"
printf '%-58s %s\n' "kill -> DR Ghost serving, revenant promote by hand" "${s[*]}"
bash "$RV_TESTDIR/integration/switchover.sh" >"$W/so.out" 2>&1 || echo "switchover.sh failed: $(tail -3 "$W/so.out")"
printf '%-58s %s\n' "planned switchover, end to end (10 rounds)" \
	"$(sed -n 's/.*primary_s=\([0-9.]*\).*/\1/p' "$W/so.out" | tr '\n' ' ')"
printf '%-58s %s\n' "  of which the primary handing over (demote + final commit)" \
	"$(sed -n 's/.*handed_over_s=\([0-9.]*\).*/\1/p' "$W/so.out" | tr '\n' ' ')"
grep -h 'zero loss' "$W/so.out"
echo
echo "documented alternatives (shared/FACTS.md):"
printf '%-58s %s\n' "Route 53 failover record, fastest health check" \
	"10 s interval x threshold 1 + propagation (generally <= 60 s) + TTL; typically 70-150 s + TTL"
printf '%-58s %s\n' "reference deployment, by hand" \
	"two terraform apply runs + external-dns's 60 s loop + TTL; no database sync at all"

# the agent's RSS in both roles
bash "$RV_TESTDIR/integration/agent.sh" >"$W/agent.out" 2>&1 &
AP=$!
peak_p=0 peak_s=0
while kill -0 "$AP" 2>/dev/null; do
	for pid in $(pgrep -f "revenant -c .*/(dc|dr).yml run" 2>/dev/null); do
		kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null)
		role=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -o '/d[cr].yml')
		[ -n "$kb" ] || continue
		if [ "$role" = /dc.yml ]; then ((kb > peak_p)) && peak_p=$kb; else ((kb > peak_s)) && peak_s=$kb; fi
	done
	sleep 0.2
done
wait "$AP" || echo "agent.sh failed: $(tail -3 "$W/agent.out")"
printf '%-58s %s\n' "revenant run, peak RSS at dc (primary, fenced, standby)" "$((peak_p / 1024)) MiB"
printf '%-58s %s\n' "revenant run, peak RSS at dr (standby, primary)" "$((peak_s / 1024)) MiB"
echo
echo "results: $OUT"
