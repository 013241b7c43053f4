#!/usr/bin/env bash
# bind.sh - a throw-away BIND 9 (Debian's bind9) for the DNS switch tests:
# one primary zone that TSIG key "rv-test" (hmac-sha256) may update, on a
# free loopback port, in a temporary folder.  Recipe: shared/FACTS.md.
#
#   . tests/lib/bind.sh
#   bind_start              # sets BIND_DIR, BIND_PORT, BIND_PID, BIND_ZONE,
#                           # BIND_KEY_FILE, BIND_KEY_NAME, BIND_KEY_SECRET;
#                           # its log, with the queries it answered
#                           # (named -g logs to stderr): $BIND_DIR/named.log
#   bind_dig NAME [TYPE]    # what the server answers (+short)
#   bind_stop / bind_cleanup
#
# As a command (for C tests): `bash bind.sh start DIR` starts a server
# that outlives the command and writes DIR/env (the variables above, one
# per line); `bash bind.sh stop DIR` stops it.  Every function fails
# loudly: a missing server is an error, never a skip.
BIND_ZONE=example.test
BIND_KEY_NAME=rv-test

bind_die() {
	echo "bind.sh: $*" >&2
	return 1
}

bind_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# bind_start [DIR]
bind_start() {
	command -v named >/dev/null || bind_die "named is not installed: apt-get install bind9 bind9-dnsutils" || return 1
	BIND_DIR="${1:-$(mktemp -d /tmp/rv-bind.XXXXXX)}"
	mkdir -p "$BIND_DIR"
	BIND_PORT=$(bind_free_port)
	tsig-keygen -a hmac-sha256 "$BIND_KEY_NAME" >"$BIND_DIR/key.conf" || bind_die "tsig-keygen failed" || return 1
	BIND_KEY_FILE=$BIND_DIR/key.conf
	BIND_KEY_SECRET=$(sed -n 's/.*secret "\(.*\)";.*/\1/p' "$BIND_KEY_FILE")
	cat >"$BIND_DIR/zone.db" <<EOF
\$TTL 60
@	IN SOA	ns.$BIND_ZONE. admin.$BIND_ZONE. ( 1 3600 600 86400 60 )
	IN NS	ns.$BIND_ZONE.
ns	IN A	127.0.0.1
www	IN A	192.0.2.10
blog	IN CNAME	dc-lb.$BIND_ZONE.
owned	IN A	192.0.2.30
owned	IN TXT	"heritage=external-dns,external-dns/owner=dc,external-dns/resource=ingress/ghost/ghost"
EOF
	# "big": an A record whose name also holds more TXT than fits in a UDP
	# answer (BIND truncates it: the client must ask again over TCP), the
	# external-dns ownership record last among them.
	{
		echo "big	IN A	192.0.2.10"
		for i in $(seq 10 29); do
			printf 'big	IN TXT	"site-verification-%s=%s"\n' "$i" "$(printf '%0230d' "$i")"
		done
		echo 'big	IN TXT	"heritage=external-dns,external-dns/owner=dr,external-dns/resource=service/ghost/ghost"'
	} >>"$BIND_DIR/zone.db"
	cat >"$BIND_DIR/named.conf" <<EOF
include "$BIND_DIR/key.conf";
options {
	directory "$BIND_DIR";
	listen-on port $BIND_PORT { 127.0.0.1; };
	listen-on-v6 { none; };
	pid-file "$BIND_DIR/named.pid";
	recursion no;
	notify no;
	querylog yes;
};
zone "$BIND_ZONE" {
	type primary;
	file "$BIND_DIR/zone.db";
	update-policy { grant $BIND_KEY_NAME zonesub ANY; };
};
EOF
	named -c "$BIND_DIR/named.conf" -g -u "$(id -un)" >"$BIND_DIR/named.log" 2>&1 &
	BIND_PID=$!
	export BIND_DIR BIND_PORT BIND_PID BIND_ZONE BIND_KEY_FILE BIND_KEY_NAME BIND_KEY_SECRET
	for _ in $(seq 1 100); do
		if ! kill -0 "$BIND_PID" 2>/dev/null; then
			cat "$BIND_DIR/named.log" >&2
			bind_die "named exited during start-up (port $BIND_PORT)"
			return 1
		fi
		if [ "$(dig @127.0.0.1 -p "$BIND_PORT" +short +time=1 +tries=1 "www.$BIND_ZONE" A 2>/dev/null)" = 192.0.2.10 ]; then
			return 0
		fi
		sleep 0.1
	done
	cat "$BIND_DIR/named.log" >&2
	bind_stop
	bind_die "named did not answer on 127.0.0.1:$BIND_PORT within 10 s"
}

bind_dig() {
	dig @127.0.0.1 -p "$BIND_PORT" +short +time=2 +tries=1 "$1" "${2:-A}"
}

bind_stop() {
	if [ -n "${BIND_PID:-}" ] && kill -0 "$BIND_PID" 2>/dev/null; then
		kill "$BIND_PID" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$BIND_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$BIND_PID" 2>/dev/null || true
	fi
	BIND_PID=
}

bind_cleanup() {
	bind_stop
	[ -n "${BIND_DIR:-}" ] && [ -d "$BIND_DIR" ] && rm -rf "$BIND_DIR"
	BIND_DIR=
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	case "${1:-}" in
	start)
		[ -n "${2:-}" ] || bind_die "usage: bind.sh start DIR"
		bind_start "$2"
		for v in BIND_DIR BIND_PORT BIND_PID BIND_ZONE BIND_KEY_NAME BIND_KEY_SECRET; do
			printf '%s=%s\n' "$v" "${!v}"
		done >"$2/env"
		;;
	stop)
		[ -n "${2:-}" ] && [ -f "$2/named.pid" ] || bind_die "usage: bind.sh stop DIR (with a running server)"
		BIND_PID=$(cat "$2/named.pid")
		bind_stop
		;;
	*) bind_die "usage: bind.sh start|stop DIR" ;;
	esac
fi
