#!/usr/bin/env bash
# idle_wakeups.sh - what an idle `revenant replicate` costs the machine:
# wake-ups (context switches) per second per thread and CPU per minute,
# with a Ghost-shaped content folder and SQLite database that nobody
# writes to, on a file:// store.  An idle blog is most blogs most of the
# time, and every sidecar pays this forever.
#
#   bash bench/idle_wakeups.sh [REVENANT] [SECONDS]
#
# Prints one line per thread (by name) and the totals.  The peer is the same
# measurement of lsyncd watching the same folder (the tool a single-host
# operator would otherwise leave running), when it is installed.
set -eu
REVENANT=${1:-build/revenant}
SECS=${2:-30}
T=$(mktemp -d /tmp/rv-idle.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT

mkdir -p "$T/content/images/2026/12" "$T/content/data" "$T/store"
for i in $(seq 1 200); do head -c 20000 /dev/urandom >"$T/content/images/2026/12/p$i.jpg"; done
python3 - "$T/content/data/ghost.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("pragma journal_mode=wal")
c.execute("create table posts(id integer primary key, body text)")
c.executemany("insert into posts(body) values (?)", [("x" * 2000,) for _ in range(500)])
c.commit()
PY
cat >"$T/r.yml" <<YML
sync_interval: 1s
store:
  url: file://$T/store
metrics:
  listen: off
content:
  path: $T/content
database:
  sqlite: $T/content/data/ghost.db
YML

# sample PID: "tid name ctxt" per thread, then "cpu ticks" for the process
sample() {
	for t in /proc/"$1"/task/*; do
		printf '%s %s %s\n' "${t##*/}" "$(tr ' ' '_' <"$t/comm")" \
			"$(awk '/ctxt_switches/ {s += $2} END {print s}' "$t/status")"
	done
	awk '{print "cpu", $14 + $15}' "/proc/$1/stat"
}

report() { # NAME BEFORE AFTER
	echo "== $1: ${SECS}s idle"
	awk -v secs="$SECS" -v hz="$(getconf CLK_TCK)" '
		FNR == NR { if ($1 == "cpu") c0 = $2; else b[$1] = $3; next }
		$1 == "cpu" { cpu = ($2 - c0) / hz; next }
		{ d = $3 - b[$1]; tot += d; printf "  %-8s %-16s %8.2f wake-ups/s\n", $1, $2, d / secs }
		END { printf "  total                     %8.2f wake-ups/s, CPU %.3f s per minute\n",
			tot / secs, cpu * 60 / secs }' "$2" "$3"
}

"$REVENANT" --log-level warn -c "$T/r.yml" replicate 2>"$T/r.err" &
PID=$!
# settled: the first commit is out and the start-up walk is over
sleep 5
kill -0 "$PID" || { cat "$T/r.err"; exit 1; }
sample "$PID" >"$T/before"
sleep "$SECS"
sample "$PID" >"$T/after"
report "revenant replicate ($("$REVENANT" version | head -1))" "$T/before" "$T/after"
kill -TERM "$PID"
wait "$PID" || true
PID=

if command -v lsyncd >/dev/null; then
	mkdir -p "$T/mirror"
	lsyncd -nodaemon -log scarce -rsync "$T/content" "$T/mirror" >/dev/null 2>&1 &
	PID=$!
	sleep 5
	sample "$PID" >"$T/before"
	sleep "$SECS"
	sample "$PID" >"$T/after"
	report "lsyncd $(lsyncd --version 2>&1 | awk '{print $2; exit}') -rsync (peer)" "$T/before" "$T/after"
fi
