#!/usr/bin/env bash
# ctest_run.sh BUILD_DIR [ctest args...] - run ctest, keep its exit code, and
# print the ten slowest tests of the run, so that the time budget of every
# CI log can be read at a glance (issue 16).
set -uo pipefail
build=$1
shift
log=$(mktemp /tmp/rv-ctest.XXXXXX)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
ctest --test-dir "$build" --output-on-failure "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
echo
echo "slowest tests in $build ($(($(date +%s) - start)) s wall):"
# "  12/63 Test #31: integration/config_cli .....   Passed    1.91 sec"
sed -n 's/^ *[0-9]*\/[0-9]* Test *#[0-9]*: \([^ ]*\) .* \([0-9.]*\) sec$/\2 \1/p' "$log" |
	sort -rn | head -n 10 | awk '{ printf "  %8.1f s  %s\n", $1, $2 }'
# ctest's own verdict stays the last line, where CI reads it.
grep -E '^[0-9]+% tests passed' "$log" | tail -n 1
exit "$rc"
