#!/usr/bin/env bash
# tidy_counts.sh - the size and complexity figures issue 10 asks for: how
# many functions in src/ are over 80 lines, and over cognitive complexity 50
# (clang-tidy's readability-function-size and -cognitive-complexity).
#
#   make build && bash scripts/tidy_counts.sh build   (CMake writes compile_commands.json)
#
# Prints the two counts, then every function over either line.
set -euo pipefail
BUILD=${1:-build}
[ -f "$BUILD/compile_commands.json" ] ||
	{ echo "tidy_counts.sh: no $BUILD/compile_commands.json (run make build first)" >&2; exit 2; }
out=$(git ls-files 'src/*.c' | xargs nice clang-tidy -p "$BUILD" --quiet \
	-checks='-*,readability-function-size,readability-function-cognitive-complexity' \
	-config='{CheckOptions: [{key: readability-function-size.LineThreshold, value: 80}, {key: readability-function-cognitive-complexity.Threshold, value: 50}]}' \
	2>/dev/null | grep -E "warning: function '.*' (exceeds recommended size|has cognitive complexity)" || true)
echo "functions over 80 lines: $(grep -c 'exceeds recommended size' <<<"$out" || true)"
echo "functions over complexity 50: $(grep -c 'cognitive complexity' <<<"$out" || true)"
sed -E 's/^([^:]*):[0-9]+:[0-9]+: warning: function (.*) \[.*/  \1: \2/' <<<"$out" | sort
