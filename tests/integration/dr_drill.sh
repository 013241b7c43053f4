#!/usr/bin/env bash
# dr_drill.sh - the README's `make demo`, as a test: the DR drill with a
# real Ghost 5.130.4 (scripts/demo.sh).  The DC site (Ghost + revenant
# replicate, SQLite database and content folder to a file:// store) is
# killed with SIGKILL while a writer creates posts and uploads images; the
# DR site is restored from the store and a second Ghost started on it;
# every write acknowledged more than sync_interval + 1 s before the kill
# must be served by DR (images byte-identical).  RV_DRILL_SELFTEST also
# checks that the checker reports a lost post, a lost image and wrong bytes.
# Runs serially (all integration tests are RUN_SERIAL: two Ghosts and a
# time-bound check do not share the machine well).
set -euo pipefail
: "${REVENANT:?set REVENANT to the revenant binary}" "${RV_SRCDIR:?set RV_SRCDIR to the repo}"
RV_DRILL_SELFTEST=1 RV_DEMO_KEEP_ON_FAIL=${RV_DEMO_KEEP_ON_FAIL:-0} exec bash "$RV_SRCDIR/scripts/demo.sh" "$REVENANT"
