#!/usr/bin/env bash
# under_load.sh COMMAND... - run COMMAND while one busy loop per core keeps
# the machine saturated (a CI runner shared with another job), then stop
# the loops and exit with COMMAND's status.  The loops run at the same
# priority as the tests, so they take about half of every core.
set -uo pipefail
hogs=()
stop() {
	((${#hogs[@]})) && kill "${hogs[@]}" 2>/dev/null
	wait 2>/dev/null
}
trap stop EXIT
for ((i = 0; i < $(nproc); i++)); do
	# Bounded: even if this script is killed the loop ends within 3 h.
	timeout 3h sh -c 'while :; do :; done' &
	hogs+=($!)
done
echo "under_load: ${#hogs[@]} busy loops on $(nproc) cores, running: $*"
start=$(date +%s)
"$@"
rc=$?
echo "under_load: '$*' exited $rc after $(($(date +%s) - start)) s with every core busy"
exit "$rc"
