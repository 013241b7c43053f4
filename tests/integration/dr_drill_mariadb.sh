#!/usr/bin/env bash
# dr_drill_mariadb.sh - `RV_DRILL_DB=mariadb make demo` as a test: the DR
# drill of dr_drill.sh with the DC Ghost 5.130.4 on a throw-away MariaDB
# 10.11 (tests/lib/mariadb.sh: binlog on, ROW), replicated by `revenant
# replicate` with database.mysql (snapshot + binlog stream) and the content
# folder.  Ghost, mariadbd and revenant at the DC are killed with SIGKILL
# at the same instant while the writer creates posts and uploads images;
# `revenant restore --db mysql://…` rebuilds the database in a second
# MariaDB and the content folder at DR, a second Ghost starts on them, and
# every write acknowledged more than sync_interval + 1 s before the kill
# must be served by it (images byte-identical); RPO and RTO are printed.
# RV_DRILL_SELFTEST checks that the checker reports a lost post, a lost
# image and wrong bytes.  A MariaDB or a Ghost that cannot start fails the
# test (scripts/demo.sh fails on either); it never skips.  About 55 s here.
set -euo pipefail
: "${REVENANT:?set REVENANT to the revenant binary}" "${RV_SRCDIR:?set RV_SRCDIR to the repo}"
command -v mariadbd >/dev/null || {
	echo "FAIL: mariadbd is not installed (apt-get install mariadb-server): this test needs it" >&2
	exit 1
}
out=$(mktemp "${TMPDIR:-/tmp}/rv-drill-mariadb.XXXXXX")
trap 'rm -f "$out"' EXIT
rc=0
RV_DRILL_DB=mariadb RV_DRILL_SELFTEST=1 RV_DEMO_KEEP_ON_FAIL=${RV_DEMO_KEEP_ON_FAIL:-0} \
	bash "$RV_SRCDIR/scripts/demo.sh" "$REVENANT" 2>&1 | tee "$out" || rc=$?
((rc == 0)) || {
	echo "FAIL: the MariaDB drill failed (exit $rc)" >&2
	exit 1
}
# The drill that passed must be the MariaDB one, not the SQLite default.
for want in "DC: start MariaDB" "killed (Ghost, MariaDB and revenant, SIGKILL)" \
	"restored database mysql://" "RPO: " "RTO: " "ok: all four reported"; do
	grep -qF "$want" "$out" || {
		echo "FAIL: the drill's output lacks: $want" >&2
		exit 1
	}
done
