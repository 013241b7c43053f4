#!/usr/bin/env bash
# wait.sh - bounded waits for the integration tests (no fixed sleeps).
#
#   . "$RV_SRCDIR/tests/lib/wait.sh"
#   until_ok SECS CMD...   # CMD every 50 ms until it succeeds; 1 after SECS s
#
# CMD is run anew each time: put what changes inside a function, not in a
# $(...) argument (which is expanded once, before the first try).
until_ok() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.05
	done
}
