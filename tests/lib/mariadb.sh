#!/usr/bin/env bash
# mariadb.sh - a throw-away MariaDB server (Debian 12's mariadb-server
# 10.11) for the MySQL/MariaDB tests: its own datadir, unix socket and free
# loopback port in a temporary folder, binary logging on (ROW, FULL row
# image), started as an unprivileged process (as root: the user `nobody`,
# which owns the folder; otherwise the caller).  Recipe: shared/FACTS.md.
# Measured here: mariadb-install-db 1.4 s, start to first ping 0.15 s,
# shutdown 1 s.
#
#   . tests/lib/mariadb.sh
#   mariadb_start [DIR] [OPTION…]   # sets MARIADB_DIR, MARIADB_PORT, MARIADB_PID,
#                                   # MARIADB_SOCK; root@localhost, no password
#   mariadb_sql [-D DB] "SQL"       # runs SQL as root through the socket (batch, no headers)
#   mariadb_restart [OPTION…]       # stop, then start on the same datadir and port
#                                   # with other server options (e.g. --skip-log-bin)
#   mariadb_rv_config FILE DIR SYNC [SNAP]  # a revenant.yml replicating its database "ghost"
#   mariadb_replicate CONFIG LOG    # revenant replicate in the background (RP), started
#                                   # (MARIADB_RV_STORE…: another store)
#   mariadb_reap PID…               # kill -9 and reap (cleanups)
#   mariadb_stop / mariadb_cleanup
#
# Server options given to start/restart are added to the defaults (the last
# one of an option wins, as mariadbd reads them).  As a command (for C
# tests): `bash mariadb.sh start DIR` starts a server that outlives the
# command and writes DIR/env (the variables above, one per line); `bash
# mariadb.sh stop DIR` stops it.  Every function fails loudly: a missing or
# dead server is an error, never a skip.

mariadb_die() {
	echo "mariadb.sh: $*" >&2
	return 1
}

mariadb_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# The user the server runs as: root may not run mariadbd as itself.
mariadb_user() {
	if [ "$(id -u)" -eq 0 ]; then echo nobody; else id -un; fi
}

mariadb_sql() {
	local db=()
	if [ "${1:-}" = -D ]; then
		db=(-D "$2")
		shift 2
	fi
	mariadb --no-defaults --default-character-set=utf8mb4 -S "$MARIADB_SOCK" -uroot --batch --skip-column-names "${db[@]}" -e "$1"
}

# _mariadb_run OPTION…: start mariadbd on MARIADB_DIR and wait for it.
_mariadb_run() {
	local user t0
	user=$(mariadb_user)
	t0=$(date +%s%N)
	mariadbd --no-defaults --datadir="$MARIADB_DIR/data" --socket="$MARIADB_SOCK" \
		--port="$MARIADB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
		--pid-file="$MARIADB_DIR/mariadbd.pid" --log-error="$MARIADB_DIR/error.log" \
		--user="$user" --log-bin="$MARIADB_DIR/data/binlog" --server-id=1 \
		--binlog-format=ROW --binlog-row-image=FULL \
		--innodb-buffer-pool-size=64M --innodb-log-file-size=16M \
		--max-allowed-packet=256M --local-infile=1 \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci "$@" \
		>>"$MARIADB_DIR/mariadbd.out" 2>&1 &
	MARIADB_PID=$!
	export MARIADB_PID
	for _ in $(seq 1 300); do
		if ! kill -0 "$MARIADB_PID" 2>/dev/null; then
			tail -20 "$MARIADB_DIR/error.log" >&2
			mariadb_die "mariadbd exited during start-up (port $MARIADB_PORT)"
			return 1
		fi
		if mariadb-admin --no-defaults -S "$MARIADB_SOCK" -uroot ping >/dev/null 2>&1; then
			MARIADB_START_MS=$((($(date +%s%N) - t0) / 1000000))
			export MARIADB_START_MS
			return 0
		fi
		sleep 0.05
	done
	tail -20 "$MARIADB_DIR/error.log" >&2
	mariadb_stop
	mariadb_die "mariadbd did not answer on $MARIADB_SOCK within 15 s"
}

# mariadb_start [DIR] [OPTION…]
mariadb_start() {
	local user
	command -v mariadbd >/dev/null || mariadb_die "mariadbd is not installed: apt-get install mariadb-server" || return 1
	if [ -n "${1:-}" ] && [ "${1#--}" = "$1" ]; then
		MARIADB_DIR=$1
		shift
	else
		MARIADB_DIR=$(mktemp -d /tmp/rv-mariadb.XXXXXX)
	fi
	mkdir -p "$MARIADB_DIR/data"
	user=$(mariadb_user)
	# The server's user must reach its folder; the test (root or the
	# same user) reaches everything anyway.  A test's own mktemp folder
	# (0700) gets o+x: others may pass through it, not list it.
	chmod 755 "$MARIADB_DIR"
	chown -R "$user" "$MARIADB_DIR"
	if [ "$user" != "$(id -un)" ]; then
		local d
		d=$(dirname "$(readlink -f "$MARIADB_DIR")")
		while [ "$d" != / ] && [ -O "$d" ] && ! runuser -u "$user" -- test -x "$d" 2>/dev/null; do
			chmod o+x "$d"
			d=$(dirname "$d")
		done
		runuser -u "$user" -- test -w "$MARIADB_DIR/data" ||
			mariadb_die "user $user cannot reach $MARIADB_DIR" || return 1
	fi
	MARIADB_SOCK=$MARIADB_DIR/mariadb.sock
	MARIADB_PORT=$(mariadb_free_port)
	export MARIADB_DIR MARIADB_SOCK MARIADB_PORT
	if ! mariadb-install-db --no-defaults --datadir="$MARIADB_DIR/data" --user="$user" \
		--auth-root-authentication-method=normal --skip-test-db \
		--innodb-log-file-size=16M >"$MARIADB_DIR/install.log" 2>&1; then
		tail -20 "$MARIADB_DIR/install.log" >&2
		mariadb_die "mariadb-install-db failed in $MARIADB_DIR"
		return 1
	fi
	_mariadb_run "$@"
}

mariadb_restart() {
	mariadb_stop || return 1
	_mariadb_run "$@"
}

mariadb_stop() {
	if [ -n "${MARIADB_PID:-}" ] && kill -0 "$MARIADB_PID" 2>/dev/null; then
		mariadb-admin --no-defaults -S "$MARIADB_SOCK" -uroot shutdown >/dev/null 2>&1 || kill "$MARIADB_PID" 2>/dev/null
		for _ in $(seq 1 200); do kill -0 "$MARIADB_PID" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$MARIADB_PID" 2>/dev/null || true
		wait "$MARIADB_PID" 2>/dev/null || true
	fi
	MARIADB_PID=
}

# mariadb_rv_config FILE DIR SYNC_INTERVAL [SNAPSHOT_INTERVAL]: a
# revenant.yml (site dc) replicating database "ghost" of the server
# mariadb_start started (root over its socket) and DIR/content into the
# folder store DIR/store.  MARIADB_RV_STORE (a store URL) and
# MARIADB_RV_STORE_OPTS (YAML lines under store:, e.g. its s3: block)
# point it elsewhere; MARIADB_RV_METRICS is metrics.listen (default off);
# MARIADB_RV_DB_OPTS, YAML lines under database.mysql.
mariadb_rv_config() {
	cat >"$1" <<YML
site: dc
sync_interval: $3
store:
  url: "${MARIADB_RV_STORE:-file://$2/store}"
${MARIADB_RV_STORE_OPTS:-}
metrics:
  listen: ${MARIADB_RV_METRICS:-off}
content:
  path: $2/content
database:
  mysql:
    socket: $MARIADB_SOCK
    user: root
    database: ghost
${MARIADB_RV_DB_OPTS:-}
${4:+  snapshot_interval: $4}
YML
}

# mariadb_reap PID…: SIGKILL each process still there and reap it (a
# test's cleanup: its writer, replicate, standby).
mariadb_reap() {
	local p
	for p in "$@"; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	return 0
}

# mariadb_replicate CONFIG LOG: `revenant replicate -c CONFIG` in the
# background (RP its pid, its output appended to LOG), back once its first
# generation started; 1 if it exited or took more than 15 s.
mariadb_replicate() {
	"$REVENANT" -c "$1" replicate >>"$2" 2>&1 &
	RP=$!
	for _ in $(seq 1 300); do
		grep -q 'content generation started' "$2" && return 0
		kill -0 "$RP" 2>/dev/null || { mariadb_die "replicate exited during start-up"; return 1; }
		sleep 0.05
	done
	mariadb_die "replicate started no generation within 15 s"
}

mariadb_cleanup() {
	mariadb_stop
	[ -n "${MARIADB_DIR:-}" ] && [ -d "$MARIADB_DIR" ] && rm -rf "$MARIADB_DIR"
	MARIADB_DIR=
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	case "${1:-}" in
	start)
		[ -n "${2:-}" ] || mariadb_die "usage: mariadb.sh start DIR [OPTION…]"
		dir=$2
		shift 2
		mariadb_start "$dir" "$@"
		for v in MARIADB_DIR MARIADB_PORT MARIADB_PID MARIADB_SOCK MARIADB_START_MS; do
			printf '%s=%s\n' "$v" "${!v}"
		done >"$dir/env"
		;;
	stop)
		[ -n "${2:-}" ] && [ -f "$2/env" ] || mariadb_die "usage: mariadb.sh stop DIR (with a running server)"
		MARIADB_SOCK=$2/mariadb.sock
		MARIADB_PID=$(sed -n 's/^MARIADB_PID=//p' "$2/env")
		# Not our child here: wait by polling.
		mariadb-admin --no-defaults -S "$MARIADB_SOCK" -uroot shutdown >/dev/null 2>&1 || kill "$MARIADB_PID" 2>/dev/null || true
		for _ in $(seq 1 200); do kill -0 "$MARIADB_PID" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$MARIADB_PID" 2>/dev/null || true
		;;
	*) mariadb_die "usage: mariadb.sh start|stop DIR" ;;
	esac
fi
