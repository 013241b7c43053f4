#!/usr/bin/env bash
# One-time preparation before ctest: things too slow to do inside each test
# (installing Ghost from npm takes minutes).  Fails loudly.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -f "$here/ghost.sh" ]; then
	# shellcheck source=/dev/null
	. "$here/ghost.sh"
	ghost_install
fi
