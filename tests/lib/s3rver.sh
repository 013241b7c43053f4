#!/usr/bin/env bash
# s3rver.sh - start and stop a throw-away s3rver (npm s3rver 3.7.1, pinned in
# tests/package.json; install with `npm ci --prefix tests`) for tests.
#
#   . tests/lib/s3rver.sh
#   s3rver_start            # sets S3RVER_PORT, S3RVER_URL, S3RVER_DIR, S3RVER_PID
#   s3rver_mkbucket NAME    # creates a bucket (signed PUT through awscli)
#   s3rver_stop
#
# Keys are S3RVER / S3RVER.  Every function fails loudly: a missing server is
# a test failure, never a skip.

S3RVER_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
S3RVER_TESTS_DIR="$(cd "$S3RVER_LIB_DIR/.." && pwd)"
S3RVER_BIN="$S3RVER_TESTS_DIR/node_modules/s3rver/bin/s3rver.js"
# Debian's awscli, not a pyenv shim that may be first in PATH.
S3RVER_AWS=/usr/bin/aws

s3rver_die() {
	echo "s3rver.sh: $*" >&2
	return 1
}

# A free TCP port on 127.0.0.1 (bind to 0, read it back, release it).
s3rver_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# s3rver_start [DATA_DIR] [PORT]: reuse DATA_DIR/PORT to restart a killed server.
# S3RVER_ADDR: the address it listens on (default 127.0.0.1; S3RVER_URL is
# 127.0.0.1 either way).
s3rver_start() {
	[ -f "$S3RVER_BIN" ] || s3rver_die "s3rver is not installed: run 'npm ci --prefix $S3RVER_TESTS_DIR'" || return 1
	command -v node >/dev/null || s3rver_die "node is not installed" || return 1
	S3RVER_DIR="${1:-$(mktemp -d /tmp/rv-s3rver.XXXXXX)}"
	S3RVER_PORT="${2:-$(s3rver_free_port)}"
	S3RVER_URL="http://127.0.0.1:$S3RVER_PORT"
	mkdir -p "$S3RVER_DIR/data"
	# s3rver makes list continuation tokens with DES, which OpenSSL 3 keeps
	# in its legacy provider: without it every truncated list answers 500.
	node --openssl-legacy-provider "$S3RVER_BIN" -d "$S3RVER_DIR/data" -a "${S3RVER_ADDR:-127.0.0.1}" -p "$S3RVER_PORT" --no-vhost-buckets \
		>>"$S3RVER_DIR/s3rver.log" 2>&1 &
	S3RVER_PID=$!
	export S3RVER_DIR S3RVER_PORT S3RVER_URL S3RVER_PID
	local i
	for i in $(seq 1 100); do
		if ! kill -0 "$S3RVER_PID" 2>/dev/null; then
			cat "$S3RVER_DIR/s3rver.log" >&2
			s3rver_die "s3rver exited during start-up (port $S3RVER_PORT)"
			return 1
		fi
		# Any HTTP answer (403 for an anonymous list) means it is up.
		if curl -s -o /dev/null -m 1 "$S3RVER_URL/"; then
			return 0
		fi
		sleep 0.1
	done
	cat "$S3RVER_DIR/s3rver.log" >&2
	s3rver_stop
	s3rver_die "s3rver did not answer on $S3RVER_URL within 10 s"
}

s3rver_aws() {
	AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 \
		AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
		"$S3RVER_AWS" --endpoint-url "$S3RVER_URL" "$@"
}

s3rver_mkbucket() {
	s3rver_aws s3api create-bucket --bucket "$1" >/dev/null ||
		s3rver_die "cannot create bucket '$1' on $S3RVER_URL"
}

# Stop the server (SIGKILL with `s3rver_stop kill`); keeps the data dir for
# a restart unless `s3rver_cleanup` is called.
s3rver_stop() {
	local sig="${1:-TERM}"
	if [ -n "${S3RVER_PID:-}" ] && kill -0 "$S3RVER_PID" 2>/dev/null; then
		kill "-$sig" "$S3RVER_PID" 2>/dev/null
		wait "$S3RVER_PID" 2>/dev/null || true
	fi
	S3RVER_PID=
}

s3rver_cleanup() {
	s3rver_stop
	[ -n "${S3RVER_DIR:-}" ] && [ -d "$S3RVER_DIR" ] && rm -rf "$S3RVER_DIR"
	S3RVER_DIR=
}
