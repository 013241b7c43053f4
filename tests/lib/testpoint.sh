# testpoint.sh - stop revenant at a named point (src/core/testpoint.h) and
# wait for it, instead of guessing with sleep how far it has come.
#
#   REVENANT_TESTPOINT='prune.generation>store.deleted@50' "$REVENANT" prune ... &
#   pid=$!
#   tp_wait_stopped "$pid" || fail "prune never reached the test point"
#   kill -9 "$pid"
#
# tp_wait_stopped PID [SECONDS]: 0 once PID is stopped (state T), 1 if it
# exits first or SECONDS (default 60) pass.  A build without test points
# (-DRV_TESTPOINTS=OFF) never stops, so the caller fails loudly.

tp_wait_stopped() {
	local pid=$1 limit=$(($(date +%s) + ${2:-60})) st
	while [ "$(date +%s)" -le "$limit" ]; do
		# the state follows the last ')' (the command name may hold spaces)
		st=$(sed 's/^.*) \(.\).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
		case $st in
		T | t) return 0 ;;
		Z | X | '') return 1 ;;
		esac
		sleep 0.02
	done
	return 1
}
