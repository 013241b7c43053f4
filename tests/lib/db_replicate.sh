#!/usr/bin/env bash
# db_replicate.sh - helpers for the db_replicate_* integration tests: a
# Ghost-shaped writer (db_writer.py), `revenant replicate` with a database,
# and restores checked by db_check.py.
#
#   . "$RV_SRCDIR/tests/lib/db_replicate.sh"
#   dr_config FILE URL CONTENT DB INTERVAL   # a replicate configuration
#   dr_writer_start DB ACK [args...]         # sets DR_WPID
#   dr_writer_stop                           # SIGTERM, prints the counts line
#   dr_start CONFIG LOG                      # sets DR_PID, DR_LAUNCH_MS; waits for the snapshot
#   dr_start_cmd LOG COMMAND...              # the same for a replicate command line
#   dr_stop                                  # SIGTERM; exit code in DR_RC
#   dr_restore CONFIG OUT [restore args...]  # revenant restore --db-only --db OUT
#   dr_check ARGS...                         # db_check.py check ...
#   dr_now_ms
#   dr_setup NAME                            # T=/tmp/rv-NAME.*, cleanup trap, fail()
#
# The writer's ack log says which transactions SQLite committed and when
# (tests/lib/db_writer.py); db_check.py compares a restored database's
# txlog with it.

DR_PY=/usr/bin/python3
DR_LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

dr_die() {
	echo "db_replicate.sh: $*" >&2
	return 1
}

dr_now_ms() {
	local t=$EPOCHREALTIME
	echo "${t%.*}${t#*.}" | cut -c1-13
}

# dr_config FILE URL CONTENT DB INTERVAL [FSYNC]
dr_config() {
	cat >"$1" <<YML
site: dc
sync_interval: $5
store:
  url: "$2"
  fsync: ${6:-true}
metrics:
  listen: off
content:
  path: $3
database:
  sqlite: $4
  snapshot_interval: 6h
  busy_timeout: 5s
YML
}

dr_writer_start() {
	local db="$1" ack="$2"
	shift 2
	"$DR_PY" "$DR_LIB/db_writer.py" --db "$db" --ack "$ack" "$@" 2>>"$ack.err" &
	DR_WPID=$!
}

dr_writer_stop() {
	[ -n "${DR_WPID:-}" ] || return 0
	kill -TERM "$DR_WPID" 2>/dev/null
	wait "$DR_WPID"
	local rc=$?
	DR_WPID=
	return $rc
}

# dr_start CONFIG LOG: waits (30 s) until this run started its generation
# (its snapshot and first manifest written: the log line
# "content generation started" appears once more).
dr_start() {
	dr_start_cmd "$2" "$REVENANT" -c "$1" replicate
}

# dr_start_cmd LOG COMMAND...: dr_start with a replicate command line of
# one's own (a systemd unit's ExecStart, say).
dr_start_cmd() {
	local log="$1" n0
	shift
	n0=$(grep -c 'content generation started' "$log" 2>/dev/null)
	DR_LAUNCH_MS=$(dr_now_ms)
	"$@" >>"$log" 2>&1 &
	DR_PID=$!
	for _ in $(seq 1 600); do
		if [ "$(grep -c 'content generation started' "$log" 2>/dev/null)" -gt "${n0:-0}" ]; then
			return 0
		fi
		if ! kill -0 "$DR_PID" 2>/dev/null; then
			tail -20 "$log" >&2
			dr_die "replicate exited during start-up"
			return 1
		fi
		sleep 0.05
	done
	tail -20 "$log" >&2
	dr_die "replicate started no generation within 30 s"
}

dr_stop() {
	DR_RC=0
	kill -TERM "$DR_PID" 2>/dev/null
	wait "$DR_PID" || DR_RC=$?
	DR_PID=
}

# dr_restore CONFIG OUT [args]: output in OUT.log; removes OUT first.
dr_restore() {
	local cfg="$1" out="$2"
	shift 2
	rm -f "$out"
	"$REVENANT" -c "$cfg" restore --db-only --db "$out" "$@" >"$out.log" 2>&1
}

dr_check() {
	"$DR_PY" "$DR_LIB/db_check.py" check "$@"
}

dr_digest() {
	"$DR_PY" "$DR_LIB/db_check.py" digest "$1"
}

# dr_setup NAME: a work folder in T, an EXIT trap that kills the writer,
# replicate and any pid in the variables named by DR_EXTRA_PIDS, then
# removes T (kept with RV_KEEP=1); fail MSG prints MSG and the last lines
# of $T/r.log, and exits 1.
dr_setup() {
	T=$(mktemp -d "/tmp/rv-$1.XXXXXX")
	DR_PID='' DR_WPID=''
	trap dr_cleanup EXIT
}

dr_cleanup() {
	local v p
	for v in DR_WPID DR_PID ${DR_EXTRA_PIDS:-}; do
		p=${!v:-}
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ -n "${RV_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}

fail() {
	echo "FAIL: $*" >&2
	[ -f "$T/r.log" ] && tail -20 "$T/r.log" >&2
	exit 1
}
