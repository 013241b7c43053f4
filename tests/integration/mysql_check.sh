# mysql_check.sh - `revenant config check` with database.mysql against a
# real MariaDB 10.11 started here (tests/lib/mariadb.sh), configured wrong
# in each way the check knows, one at a time: each gives its exact line
# and the documented exit code (2 a server setting, 3 unreachable, 4
# refused or a missing privilege, 5 no such database), and no password
# ever appears in the output.  TLS against a server with a certificate
# made here: verified with tls_ca, refused without, tls_verify: false.  Also the database.mysql rules of the file
# itself (exit 2) and `config show`'s redaction.
set -uo pipefail
: "${REVENANT:?set REVENANT to the revenant binary}" "${RV_TESTDIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-mysql-check.XXXXXX")
# shellcheck source=/dev/null
. "$RV_TESTDIR/lib/mariadb.sh"
trap 'mariadb_stop; rm -rf "$W"' EXIT
R=$REVENANT
PW='pw-Zq8#s3cret'
fail() {
	echo "FAIL: $*" >&2
	echo "--- output:" >&2
	cat "$W/out" "$W/err" >&2
	exit 1
}
step() { echo "--- $*"; }
run() {
	"$@" >"$W/out" 2>"$W/err" </dev/null
	rc=$?
	cat "$W/out" "$W/err" >>"$W/all-output"
}
# expect RC LINE…: the exit code and exactly these error lines, in order
expect() {
	local want=$1
	shift
	[ "$rc" = "$want" ] || fail "exit $rc, expected $want"
	printf '%s\n' "$@" >"$W/want"
	grep -v '^error: mysql .*: [0-9]* problems\? for replication (above)$' "$W/err" >"$W/got"
	diff -u "$W/want" "$W/got" >&2 || fail "the lines differ"
}

mariadb_start "$W/db" || fail "cannot start MariaDB"
echo "mariadb started in ${MARIADB_START_MS} ms"
P=$MARIADB_PORT
AT="127.0.0.1:$P"
mariadb_sql "CREATE DATABASE ghost;
CREATE USER 'rv'@'%' IDENTIFIED BY '$PW';
GRANT REPLICATION SLAVE, BINLOG MONITOR, RELOAD ON *.* TO 'rv'@'%';
GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON ghost.* TO 'rv'@'%';
CREATE USER 'ro'@'%' IDENTIFIED BY '$PW';
GRANT SELECT ON ghost.* TO 'ro'@'%';
CREATE USER 'wild'@'%' IDENTIFIED BY '$PW';
GRANT REPLICATION SLAVE, REPLICATION CLIENT, RELOAD ON *.* TO 'wild'@'%';
GRANT ALL PRIVILEGES ON \`gh%\`.* TO 'wild'@'%';" || fail "setup"
printf '%s\n' "$PW" >"$W/pw"

# config USER [DB] [EXTRA…]: host/port, the password from a file
config() {
	cat <<YML
site: dc
database:
  mysql:
    host: 127.0.0.1
    port: ${PORT:-$P}
    user: $1
    password_file: $W/pw
    database: ${2:-ghost}
${3:-}
YML
}

step "a server ready for replication: ok"
config rv >"$W/ok.yml"
run "$R" config check -c "$W/ok.yml"
[ "$rc" = 0 ] || fail "exit $rc"
grep -qx "ok: $W/ok.yml" "$W/out" || fail "no ok line"
grep -q "^ok: mysql $AT: 10\.11\.[0-9]*-MariaDB.*, binlog_format ROW, binlog_row_image FULL, server_id 1 (revenant's replica: [0-9]*), every privilege granted$" "$W/out" || fail "no server line"

step "config show redacts the password"
config rv | sed "s|password_file: .*|password: \${PWENV}|" >"$W/show.yml"
run env PWENV="$PW" "$R" config show -c "$W/show.yml"
grep -q '    password: "\[redacted\]"' "$W/out" || fail "password not redacted"

step "unreachable: exit 3"
PORT=1 config rv >"$W/c.yml"
run "$R" config check -c "$W/c.yml"
[ "$rc" = 3 ] || fail "exit $rc"
grep -q "^error: mysql 127.0.0.1:1: cannot connect: .* — check database.mysql.host/port or socket, TLS, and that the server runs$" "$W/err" || fail "message"

step "wrong password: exit 4, no secret printed"
printf 'not-the-password\n' >"$W/badpw"
config rv | sed "s|$W/pw|$W/badpw|" >"$W/c.yml"
run "$R" config check -c "$W/c.yml"
expect 4 "error: mysql $AT: Access denied for user 'rv'@'127.0.0.1' (using password: YES) — check database.mysql.user and its password (password or password_file)"

step "no such database: exit 5"
config rv nosuch >"$W/c.yml"
run "$R" config check -c "$W/c.yml"
# rv has no grant on nosuch: the server says access denied, as it should
# not reveal which databases exist; root sees "does not exist"
[ "$rc" = 4 ] || fail "exit $rc (expected 4: no grant on it)"
mariadb_sql "GRANT SELECT ON nosuch.* TO 'rv'@'%'"
run "$R" config check -c "$W/c.yml"
expect 5 "error: mysql $AT: database 'nosuch' does not exist — check database.mysql.database"

step "missing privileges, named one a line with the GRANT that fixes each: exit 4"
config ro >"$W/c.yml"
run "$R" config check -c "$W/c.yml"
expect 4 \
	"error: mysql $AT: missing privilege REPLICATION SLAVE (to stream the binary log) — GRANT REPLICATION SLAVE ON *.* TO 'ro'@'%'" \
	"error: mysql $AT: missing privilege BINLOG MONITOR (to read the binlog position) — GRANT BINLOG MONITOR ON *.* TO 'ro'@'%'" \
	"error: mysql $AT: missing privilege RELOAD (to hold commits for a moment while a snapshot starts) — GRANT RELOAD ON *.* TO 'ro'@'%'" \
	"error: mysql $AT: missing privilege SHOW VIEW on \`ghost\` (to dump views) — GRANT SHOW VIEW ON \`ghost\`.* TO 'ro'@'%'" \
	"error: mysql $AT: missing privilege TRIGGER on \`ghost\` (to dump triggers) — GRANT TRIGGER ON \`ghost\`.* TO 'ro'@'%'" \
	"error: mysql $AT: missing privilege EVENT on \`ghost\` (to dump scheduled events) — GRANT EVENT ON \`ghost\`.* TO 'ro'@'%'"
grep -q "^error: mysql $AT: 6 problems for replication (above)$" "$W/err" || fail "summary"

step "grants through a database pattern and the REPLICATION CLIENT alias: ok"
config wild >"$W/c.yml"
run "$R" config check -c "$W/c.yml"
[ "$rc" = 0 ] || fail "exit $rc"

step "two sites (failover.initial_primary): run's standby role needs what a restore needs, and the save-aside databases"
FO=$(printf 'failover:\n  initial_primary: dc')
config rv ghost "$FO" >"$W/c.yml"
run "$R" config check -c "$W/c.yml"
S="(for the standby to restore)"
A="(for the standby to apply the binlog)"
expect 4 \
	"error: mysql $AT: missing privilege BINLOG REPLAY $A — GRANT BINLOG REPLAY ON *.* TO 'rv'@'%'" \
	"error: mysql $AT: missing privilege CREATE on \`ghost\` $S — GRANT CREATE ON \`ghost\`.* TO 'rv'@'%'" \
	"error: mysql $AT: missing privilege INSERT on \`ghost\` $S — GRANT INSERT ON \`ghost\`.* TO 'rv'@'%'" \
	"error: mysql $AT: missing privilege UPDATE on \`ghost\` $A — GRANT UPDATE ON \`ghost\`.* TO 'rv'@'%'" \
	"error: mysql $AT: missing privilege DELETE on \`ghost\` $A — GRANT DELETE ON \`ghost\`.* TO 'rv'@'%'" \
	"error: mysql $AT: missing privilege ALTER on \`ghost\` (for the standby's DDL, and to move Ghost's tables aside when fenced) — GRANT ALTER ON \`ghost\`.* TO 'rv'@'%'" \
	"error: mysql $AT: missing privilege INDEX on \`ghost\` $S — GRANT INDEX ON \`ghost\`.* TO 'rv'@'%'" \
	"error: mysql $AT: missing privilege DROP on \`ghost\` (for the standby to restore, and to move Ghost's tables aside when fenced) — GRANT DROP ON \`ghost\`.* TO 'rv'@'%'" \
	"error: mysql $AT: missing privilege CREATE VIEW on \`ghost\` (for the standby to restore views) — GRANT CREATE VIEW ON \`ghost\`.* TO 'rv'@'%'" \
	"error: mysql $AT: missing privilege REFERENCES on \`ghost\` (for the standby to restore foreign keys) — GRANT REFERENCES ON \`ghost\`.* TO 'rv'@'%'" \
	"error: mysql $AT: missing privilege CREATE on \`ghost\\_saved\\_%\` (to keep Ghost's tables aside when fenced) — GRANT CREATE ON \`ghost\\_saved\\_%\`.* TO 'rv'@'%'" \
	"error: mysql $AT: missing privilege INSERT on \`ghost\\_saved\\_%\` (to keep Ghost's tables aside when fenced) — GRANT INSERT ON \`ghost\\_saved\\_%\`.* TO 'rv'@'%'"
# The GRANTs it printed, run as printed, make it whole.
sed -n 's/^error: .* — \(GRANT .*\)$/\1/p' "$W/err" >"$W/grants.sql"
[ "$(wc -l <"$W/grants.sql")" = 12 ] || fail "not 12 GRANTs: $(cat "$W/grants.sql")"
mariadb_sql "$(cat "$W/grants.sql" | sed 's/$/;/')" || fail "the printed GRANTs do not run"
run "$R" config check -c "$W/c.yml"
[ "$rc" = 0 ] || fail "after the printed GRANTs: exit $rc ($(cat "$W/err"))"
config wild ghost "$FO" >"$W/c.yml"
run "$R" config check -c "$W/c.yml"
expect 4 "error: mysql $AT: missing privilege BINLOG REPLAY $A — GRANT BINLOG REPLAY ON *.* TO 'wild'@'%'"

step "the deploy kit's account (deploy/k8s/components/mariadb/revenant-user.sh) is all two sites need"
# The mariadb image runs it with its docker_process_sql; here the client.
KPW="kit'pass\\word"
MARIADB_REVENANT_PASSWORD=$KPW bash -c 'docker_process_sql() { mariadb --no-defaults -S "$MARIADB_SOCK" -uroot "$@"; }; . "$1"' _ \
	"$RV_SRCDIR/deploy/k8s/components/mariadb/revenant-user.sh" || fail "the kit's initdb script failed"
printf '%s\n' "$KPW" >"$W/kitpw"
config revenant ghost "$FO" | sed "s|$W/pw|$W/kitpw|" >"$W/c.yml"
run "$R" config check -c "$W/c.yml"
[ "$rc" = 0 ] || fail "the kit's account: exit $rc ($(cat "$W/err"))"

step "binlog_format MIXED: exit 2"
mariadb_sql "SET GLOBAL binlog_format=MIXED"
run "$R" config check -c "$W/ok.yml"
expect 2 "error: mysql $AT: binlog_format is MIXED; revenant replays row events only — set binlog_format=ROW in the [mariadbd] section of the server's config (SET GLOBAL binlog_format=ROW applies to new sessions at once)"
mariadb_sql "SET GLOBAL binlog_format=ROW"

step "binlog_row_image MINIMAL: exit 2"
mariadb_sql "SET GLOBAL binlog_row_image=MINIMAL"
run "$R" config check -c "$W/ok.yml"
expect 2 "error: mysql $AT: binlog_row_image is MINIMAL; revenant needs whole rows — set binlog_row_image=FULL in the [mariadbd] section of the server's config (or SET GLOBAL binlog_row_image=FULL)"
mariadb_sql "SET GLOBAL binlog_row_image=FULL"

step "binlog retention shorter than the snapshot interval: exit 2"
mariadb_sql "SET GLOBAL binlog_expire_logs_seconds=3600"
run "$R" config check -c "$W/ok.yml"
expect 2 "error: mysql $AT: binary logs expire after 1h (binlog_expire_logs_seconds), less than database.snapshot_interval (6h): the log since a snapshot may be gone before the next one — raise binlog_expire_logs_seconds to at least 6h, or shorten database.snapshot_interval"
config rv ghost "  snapshot_interval: 30m" >"$W/c.yml"
run "$R" config check -c "$W/c.yml"
[ "$rc" = 0 ] || fail "a 30m interval within 1h of binlogs: exit $rc"
mariadb_sql "SET GLOBAL binlog_expire_logs_seconds=0"

step "server_id clash with the server's own: exit 2"
config rv ghost | sed 's/^    database: ghost$/    database: ghost\n    server_id: 1/' >"$W/c.yml"
run "$R" config check -c "$W/c.yml"
expect 2 "error: mysql $AT: database.mysql.server_id 1 is the server's own server_id — set database.mysql.server_id to a number no server or replica uses"

step "two problems at once: both lines, the first one's exit code"
mariadb_sql "SET GLOBAL binlog_format=STATEMENT"
config ro >"$W/c.yml"
run "$R" config check -c "$W/c.yml"
[ "$rc" = 2 ] || fail "exit $rc"
[ "$(grep -c '^error: mysql' "$W/err")" = 8 ] || fail "expected 7 lines and the summary"
mariadb_sql "SET GLOBAL binlog_format=ROW"

step "TLS: verified against the CA given, refused against the system's, unverified on request"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=rv-test-ca" \
	-keyout "$W/ca.key" -out "$W/ca.pem" 2>/dev/null || fail "CA"
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$W/srv.key" -out "$W/srv.csr" 2>/dev/null || fail "CSR"
printf 'subjectAltName=IP:127.0.0.1\n' >"$W/san.ext"
openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 2 \
	-extfile "$W/san.ext" -out "$W/srv.pem" 2>/dev/null || fail "server certificate"
cp "$W/ca.pem" "$W/srv.pem" "$W/srv.key" "$MARIADB_DIR/"
chown "$(mariadb_user)" "$MARIADB_DIR"/*.pem "$MARIADB_DIR/srv.key"
mariadb_restart --ssl-ca="$MARIADB_DIR/ca.pem" --ssl-cert="$MARIADB_DIR/srv.pem" --ssl-key="$MARIADB_DIR/srv.key" || fail "restart with TLS"
mariadb_sql "ALTER USER 'rv'@'%' REQUIRE SSL" || fail "require ssl"
config rv ghost | sed "s|^    database: ghost\$|    database: ghost\n    tls: on\n    tls_ca: $W/ca.pem|" >"$W/c.yml"
run "$R" config check -c "$W/c.yml"
[ "$rc" = 0 ] || fail "TLS verified against its CA: exit $rc"
config rv ghost | sed 's|^    database: ghost$|    database: ghost\n    tls: on|' >"$W/c.yml"
run "$R" config check -c "$W/c.yml"
[ "$rc" = 3 ] || fail "TLS against the system's CAs: exit $rc"
grep -q "^error: mysql $AT: cannot connect: .* — check database.mysql.host/port or socket, TLS, and that the server runs$" "$W/err" || fail "TLS message"
config rv ghost | sed 's|^    database: ghost$|    database: ghost\n    tls: on\n    tls_verify: false|' >"$W/c.yml"
run "$R" config check -c "$W/c.yml"
[ "$rc" = 0 ] || fail "TLS unverified: exit $rc"
run "$R" config check -c "$W/ok.yml"
[ "$rc" = 4 ] || fail "an account that requires TLS, without it: exit $rc"
mariadb_sql "ALTER USER 'rv'@'%' REQUIRE NONE"

step "binary logging off (server restarted without it): exit 2"
mariadb_restart --skip-log-bin || fail "restart"
run "$R" config check -c "$W/ok.yml"
expect 2 "error: mysql $AT: binary logging is off — set log_bin (log-bin=NAME) in the [mariadbd] section of the server's config and restart the server"

step "the file's own rules: exit 2"
cat >"$W/c.yml" <<YML
database:
  sqlite: /tmp/ghost.db
  mysql:
    socket: /tmp/x.sock
    user: rv
    database: ghost
YML
run "$R" config check -c "$W/c.yml"
[ "$rc" = 2 ] || fail "exit $rc"
grep -qF "error: $W/c.yml:4: database.mysql.socket: database.sqlite is set too: replicate one database, give database.sqlite or database.mysql, not both" "$W/err" || fail "both"
printf 'database:\n  mysql:\n    socket: /tmp/x.sock\n    database: ghost\n' >"$W/c.yml"
run "$R" config check -c "$W/c.yml"
grep -qF "database.mysql.user: missing: the account revenant connects as" "$W/err" || fail "no user"
printf 'database:\n  mysql:\n    host: db\n    socket: /tmp/x.sock\n    user: rv\n    database: ghost\n' >"$W/c.yml"
run "$R" config check -c "$W/c.yml"
grep -qF "database.mysql.socket: give host (and port) or socket, not both" "$W/err" || fail "host and socket"
printf 'database:\n  mysql:\n    host: db\n    user: rv\n    database: ghost\n    tls_ca: /etc/ca.pem\n' >"$W/c.yml"
run "$R" config check -c "$W/c.yml"
grep -qF "database.mysql.tls_ca: given while tls is off: set tls: on" "$W/err" || fail "tls_ca"

step "replicate with binary logging off: exit 2, saying so"
mkdir -p "$W/content" "$W/store"
cat >"$W/c.yml" <<YML
store:
  url: file://$W/store
content:
  path: $W/content
database:
  mysql:
    socket: $MARIADB_SOCK
    user: root
    database: ghost
YML
run "$R" -c "$W/c.yml" replicate
[ "$rc" = 2 ] || fail "replicate exit $rc"
grep -qF "binary logging off" "$W/err" || fail "replicate message"

step "run as the first primary with binary logging off: exit 2, saying so"
mkdir -p "$W/store2"
sed -i "s|file://$W/store\$|file://$W/store2|" "$W/c.yml"
printf 'site: dc\nfailover:\n  initial_primary: dc\n' >>"$W/c.yml"
run "$R" -c "$W/c.yml" run
[ "$rc" = 2 ] || fail "run exit $rc"
grep -qF "binary logging off" "$W/err" || fail "run message: $(cat "$W/err")"

step "no password anywhere in what was printed"
! grep -qF "$PW" "$W/all-output" || fail "the password was printed"
echo "mysql_check: ok"
