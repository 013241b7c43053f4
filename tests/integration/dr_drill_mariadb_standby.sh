#!/usr/bin/env bash
# dr_drill_mariadb_standby.sh - `RV_DRILL_DB=mariadb RV_DRILL_DR=standby
# make demo` as a test: the drill of dr_drill_mariadb.sh with a warm DR
# site.  `revenant standby --db mysql://…` keeps a second MariaDB and the
# DR content folder current while the writer runs (the drill checks that
# the DR database holds posts before the kill); after the SIGKILL of
# Ghost, mariadbd and revenant at the DC the standby is stopped, `standby
# --promote-once` hands the database to a second Ghost, and every write
# acknowledged more than sync_interval + 1 s before the kill must be
# served by it (images byte-identical); RPO and RTO are printed.  A
# MariaDB or a Ghost that cannot start fails the test.  About 45 s here.
set -euo pipefail
: "${REVENANT:?set REVENANT to the revenant binary}" "${RV_SRCDIR:?set RV_SRCDIR to the repo}"
command -v mariadbd >/dev/null || {
	echo "FAIL: mariadbd is not installed (apt-get install mariadb-server): this test needs it" >&2
	exit 1
}
out=$(mktemp "${TMPDIR:-/tmp}/rv-drill-mariadb.XXXXXX")
trap 'rm -f "$out"' EXIT
rc=0
RV_DRILL_DB=mariadb RV_DRILL_DR=standby RV_DEMO_KEEP_ON_FAIL=${RV_DEMO_KEEP_ON_FAIL:-0} \
	bash "$RV_SRCDIR/scripts/demo.sh" "$REVENANT" 2>&1 | tee "$out" || rc=$?
((rc == 0)) || {
	echo "FAIL: the MariaDB standby drill failed (exit $rc)" >&2
	exit 1
}
for want in "DC: start MariaDB" "posts before the kill" "killed (Ghost, MariaDB and revenant, SIGKILL)" \
	"promoted generation=" "db=mysql://" "RPO: " "RTO: "; do
	grep -qF "$want" "$out" || {
		echo "FAIL: the drill's output lacks: $want" >&2
		exit 1
	}
done
