#!/bin/bash
# ghost_purge.sh - purge BENCH_POSTS posts (default 1000; drafts, scheduled,
# published) from a local Ghost 5.130.4: `revenant ghost purge-posts` vs the
# official @tryghost/admin-api client (bench/ghost_purge.js) doing the same
# browse-all-then-delete with the same concurrency.  Notes: bench/README-ghost.md.
#
#   REVENANT=build/revenant bench/ghost_purge.sh
#   BENCH_POSTS=1000 BENCH_JOBS="1 4 8" BENCH_REPEAT=1
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
REVENANT=${REVENANT:-$root/build/revenant}
BENCH_POSTS=${BENCH_POSTS:-1000}
BENCH_JOBS=${BENCH_JOBS:-"1 4"}
BENCH_REPEAT=${BENCH_REPEAT:-1}
[[ -x $REVENANT ]] || { echo "build revenant first (REVENANT=$REVENANT)" >&2; exit 1; }
. "$root/tests/lib/ghost.sh"
trap ghost_cleanup_all EXIT

if [[ ! -d $here/node_modules/@tryghost/admin-api ]]; then
	(cd "$here" && npm install --no-audit --no-fund >/dev/null)
fi
ghost_install
ghost_start bench "$(ghost_free_port)"
key=$(ghost_setup_admin bench)
url=$(ghost_url bench)
pid=$(ghost_pid bench)
tck=$(getconf CLK_TCK)

# CPU seconds Ghost's node process has used so far.
ghost_cpu() { awk -v t="$tck" '{printf "%.2f", ($14 + $15) / t}' "/proc/$pid/stat"; }

run() { # run TOOL JOBS
	case $1 in
	revenant) "$REVENANT" --log-level warn ghost purge-posts --url "$url" --key-file "$key" \
		--yes --jobs "$2" ;;
	admin-api) node "$here/ghost_purge.js" "$url" "$key" "$2" ;;
	esac
}

printf '%-10s %4s %6s %8s %8s %10s %10s\n' tool jobs posts wall_s posts/s client_cpu ghost_cpu
for ((r = 0; r < BENCH_REPEAT; r++)); do
	for jobs in $BENCH_JOBS; do
		for tool in revenant admin-api; do
			ghost_api seed --url "$url" --key-file "$key" --posts "$BENCH_POSTS" >/dev/null
			n=$(ghost_api count --url "$url" --key-file "$key")
			g0=$(ghost_cpu)
			TIMEFORMAT='%R %U %S'
			t=$( { time run $tool "$jobs" >/tmp/rv-bench-ghost.$$ 2>&1; } 2>&1) || {
				cat /tmp/rv-bench-ghost.$$ >&2
				exit 1
			}
			g1=$(ghost_cpu)
			left=$(ghost_api count --url "$url" --key-file "$key")
			[[ $left == 0 ]] || { echo "$tool left $left posts" >&2; exit 1; }
			read -r wall user sys <<<"$t"
			printf '%-10s %4s %6s %8.2f %8.1f %10.2f %10.2f\n' $tool "$jobs" "$n" "$wall" \
				"$(echo "$n / $wall" | bc -l)" "$(echo "$user + $sys" | bc -l)" \
				"$(echo "$g1 - $g0" | bc -l)"
		done
	done
done
rm -f /tmp/rv-bench-ghost.$$
