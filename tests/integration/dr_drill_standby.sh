#!/usr/bin/env bash
# dr_drill_standby.sh - the DR drill (scripts/demo.sh) with a warm DR site:
# `revenant standby` follows the store while the DC Ghost takes posts and
# image uploads, its database inside its content folder as Ghost lays it
# out (content/data/ghost.db); the DC site is killed with SIGKILL; the
# standby is stopped, `standby --promote-once` readies the site and a
# second real Ghost starts on it; every write acknowledged more than
# sync_interval + 1 s before the kill must be served (images
# byte-identical), and the DC Ghost must not have rejected a write.
set -euo pipefail
: "${REVENANT:?set REVENANT to the revenant binary}" "${RV_SRCDIR:?set RV_SRCDIR to the repo}"
RV_DRILL_DR=standby RV_DRILL_SECONDS=${RV_DRILL_SECONDS:-15} \
	RV_DEMO_KEEP_ON_FAIL=${RV_DEMO_KEEP_ON_FAIL:-0} exec bash "$RV_SRCDIR/scripts/demo.sh" "$REVENANT"
