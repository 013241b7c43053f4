# ghost.sh - run real Ghost 5.130.4 instances for tests and benchmarks.
#
# Source it (bash): `. "$RV_SRCDIR/tests/lib/ghost.sh"`.  See tests/lib/README.md
# for the functions, the variables they read and set, and an example.
#
# Every function returns non-zero (and prints "ghost.sh: ..." to stderr) on
# failure; callers usually run under `set -e` or check `|| exit 1`.

# Version pinned: Ghost 6 needs Node 22, this project's machines have Node 20.
RV_GHOST_VERSION=${RV_GHOST_VERSION:-5.130.4}
RV_GHOST_HOME=${RV_GHOST_HOME:-$HOME/.cache/revenant/ghost-$RV_GHOST_VERSION}
# Per-instance folders live under RV_GHOST_WORK (a fresh temp dir by default).
RV_GHOST_WORK=${RV_GHOST_WORK:-}
RV_GHOST_START_TIMEOUT=${RV_GHOST_START_TIMEOUT:-60}
# Credentials of the staff user ghost_setup_admin creates (throw-away sites only).
RV_GHOST_EMAIL=${RV_GHOST_EMAIL:-revenant@example.com}
RV_GHOST_PASSWORD=${RV_GHOST_PASSWORD:-Revenant-test-Pa55word}

# NAME -> pid / port / dir of the running instances of this shell.
declare -gA RV_GHOST_PIDS=()
declare -gA RV_GHOST_PORTS=()
declare -gA RV_GHOST_DIRS=()
declare -gA RV_GHOST_CONTENTS=()
declare -gA RV_GHOST_DBS=()
RV_GHOST_OWN_WORK=

_ghost_err() { echo "ghost.sh: $*" >&2; }

# ghost_install: install Ghost once into $RV_GHOST_HOME (package/ under it).
# A marker file written last makes a complete install a no-op; anything else
# found there is a partial install and is redone from scratch.  Tests run
# two at a time: a lock file beside the install makes a second caller wait
# for the first one's install instead of wiping it.
ghost_install() {
	mkdir -p "$(dirname "$RV_GHOST_HOME")" || return 1
	(
		flock 9 || exit 1
		_ghost_install_locked
	) 9>"$RV_GHOST_HOME.lock"
}

_ghost_install_locked() {
	local home=$RV_GHOST_HOME marker=$RV_GHOST_HOME/.installed
	if [[ -f $marker && -f $home/package/index.js && -d $home/package/node_modules ]]; then
		return 0
	fi
	local tool
	for tool in node npm python3 make g++ tar; do
		command -v "$tool" >/dev/null || {
			_ghost_err "ghost_install needs '$tool' (Debian: nodejs npm python3 make g++ tar)"
			return 1
		}
	done
	[[ -f /usr/include/node/node.h ]] || {
		_ghost_err "ghost_install needs Node's headers in /usr/include/node (NodeSource nodejs has them; Debian's nodejs needs libnode-dev)"
		return 1
	}
	# Only ever wipe what looks like our own (partial) install.
	if [[ -d $home && -n $(ls -A "$home") && ! -e $home/pack.log && ! -d $home/package ]]; then
		_ghost_err "$home is not empty and not a ghost.sh install: set RV_GHOST_HOME elsewhere"
		return 1
	fi
	local start=$SECONDS
	echo "ghost.sh: installing Ghost $RV_GHOST_VERSION into $home (about 4 minutes)" >&2
	rm -rf "$home" && mkdir -p "$home" || return 1
	(
		set -e
		cd "$home"
		npm pack --silent "ghost@$RV_GHOST_VERSION" >pack.log 2>&1
		tar xzf "ghost-$RV_GHOST_VERSION.tgz"
		rm -f "ghost-$RV_GHOST_VERSION.tgz"
		# The devDependencies include a GitHub tarball, unreachable here.
		node -e '
			const fs = require("fs"), f = "package/package.json";
			const p = JSON.parse(fs.readFileSync(f, "utf8"));
			delete p.devDependencies;
			fs.writeFileSync(f, JSON.stringify(p, null, 2));'
		cd package
		# Native modules (sqlite3, re2, ...) build against Debian's Node headers.
		npm_config_nodedir=/usr npm install --omit=dev --legacy-peer-deps --no-audit \
			--no-fund >../install.log 2>&1
	) || {
		_ghost_err "Ghost install failed; last lines of $home/install.log:"
		tail -n 30 "$home/install.log" "$home/pack.log" 2>/dev/null >&2
		return 1
	}
	date -u +%Y-%m-%dT%H:%M:%SZ >"$marker"
	echo "ghost.sh: Ghost $RV_GHOST_VERSION installed in $((SECONDS - start)) s" >&2
}

_ghost_work() {
	if [[ -z $RV_GHOST_WORK ]]; then
		RV_GHOST_WORK=$(mktemp -d "${TMPDIR:-/tmp}/rv-ghost.XXXXXX") || return 1
		RV_GHOST_OWN_WORK=1
	fi
	mkdir -p "$RV_GHOST_WORK"
}

# ghost_free_port: print a TCP port on 127.0.0.1 that nothing listens on.
ghost_free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# ghost_url NAME: the instance's base URL (no trailing slash).
ghost_url() { echo "http://127.0.0.1:${RV_GHOST_PORTS[$1]}"; }
# ghost_dir NAME: the instance's folder (content/, config, ghost.log, admin.key).
ghost_dir() { echo "${RV_GHOST_DIRS[$1]}"; }
ghost_pid() { echo "${RV_GHOST_PIDS[$1]}"; }
# ghost_content NAME: the instance's content folder (Ghost's paths.contentPath).
ghost_content() { echo "${RV_GHOST_CONTENTS[$1]}"; }
# ghost_db NAME: the instance's SQLite database file.
ghost_db() { echo "${RV_GHOST_DBS[$1]}"; }

# _ghost_mysql_json URL: Ghost's `database` config (client mysql) for a
# mysql://USER[:PASSWORD]@HOST[:PORT]/DB[?socket=PATH] URL.
_ghost_mysql_json() {
	/usr/bin/python3 - "$1" <<'PY' || {
import json, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
db = urllib.parse.unquote(u.path.lstrip("/"))
if u.scheme != "mysql" or not u.username or not db:
    sys.exit("not a mysql://USER@HOST/DB URL")
c = {"user": urllib.parse.unquote(u.username),
     "password": urllib.parse.unquote(u.password or ""),
     "database": db, "charset": "utf8mb4"}
sock = urllib.parse.parse_qs(u.query).get("socket")
if sock:
    c["socketPath"] = sock[0]
else:
    c["host"] = u.hostname or "127.0.0.1"
    c["port"] = u.port or 3306
print(json.dumps({"client": "mysql", "connection": c,
                  "pool": {"min": 1, "max": 10}}, indent=2))
PY
		_ghost_err "ghost_start: bad mysql URL '$1'"
		return 1
	}
}

# ghost_start NAME PORT [sqlite [CONTENT_DIR [DB_FILE]]]: start an instance in
# the background and wait until its Admin API answers.  Reuses NAME's folder
# (and so its database) if it was started before in this work dir: a restart
# keeps the data.  With CONTENT_DIR (an existing folder, e.g. a restored one)
# Ghost uses it as its content path as it is (not copied, never removed), and
# keeps its SQLite database in NAME/data/ghost.db, outside CONTENT_DIR, so the
# instance starts on a fresh database of its own whatever CONTENT_DIR/data
# holds.  With DB_FILE (e.g. a restored database; CONTENT_DIR may be "" for
# the default folder) Ghost uses that SQLite file as it is, never removed.
#
# ghost_start NAME PORT mysql CONTENT_DIR URL: the same on a MySQL/MariaDB
# database, URL mysql://USER[:PASSWORD]@HOST[:PORT]/DB[?socket=PATH]
# (CONTENT_DIR may be "" for the default folder).  The database must exist;
# Ghost creates its schema on first boot if it is empty.  ghost_db NAME
# answers the URL.
ghost_start() {
	local name=$1 port=$2 db=${3:-sqlite} content=${4:-} dbfile_arg=${5:-}
	if [[ -z $name || -z $port ]]; then
		_ghost_err "usage: ghost_start NAME PORT [sqlite [CONTENT_DIR [DB_FILE]] | mysql CONTENT_DIR URL]"
		return 1
	fi
	if [[ -n $dbfile_arg && $db == sqlite ]]; then
		[[ -f $dbfile_arg ]] || {
			_ghost_err "ghost_start: database file '$dbfile_arg' does not exist"
			return 1
		}
		dbfile_arg=$(cd "$(dirname "$dbfile_arg")" && pwd -P)/$(basename "$dbfile_arg") || return 1
	fi
	if [[ -n $content ]]; then
		[[ -d $content ]] || {
			_ghost_err "ghost_start: content folder '$content' does not exist"
			return 1
		}
		content=$(cd "$content" && pwd -P) || return 1
	fi
	local dbjson
	case $db in
	sqlite) ;;
	mysql)
		# DB_FILE is a mysql://USER[:PASSWORD]@HOST[:PORT]/DB[?socket=PATH] URL.
		[[ -n $dbfile_arg ]] || {
			_ghost_err "ghost_start: mysql needs a mysql://USER@HOST/DB[?socket=PATH] URL"
			return 1
		}
		dbjson=$(_ghost_mysql_json "$dbfile_arg") || return 1
		;;
	*)
		_ghost_err "ghost_start: database '$db' is not supported (sqlite or mysql)"
		return 1
		;;
	esac
	if [[ -n ${RV_GHOST_PIDS[$name]:-} ]] && kill -0 "${RV_GHOST_PIDS[$name]}" 2>/dev/null; then
		_ghost_err "ghost_start: instance '$name' is already running"
		return 1
	fi
	[[ -f $RV_GHOST_HOME/.installed ]] || {
		_ghost_err "Ghost is not installed in $RV_GHOST_HOME: run ghost_install first"
		return 1
	}
	# Otherwise the readiness probe below would find whatever already
	# answers there and take it for this instance.
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		_ghost_err "ghost_start: port $port on 127.0.0.1 is already in use"
		return 1
	fi
	_ghost_work || return 1
	local dir=$RV_GHOST_WORK/$name pkg=$RV_GHOST_HOME/package
	mkdir -p "$dir"
	local dbfile=$dir/content/data/ghost.db
	if [[ -n $content ]]; then
		dbfile=$dir/data/ghost.db
		mkdir -p "$dir/data" || return 1
	else
		content=$dir/content
		if [[ ! -d $content ]]; then
			cp -r "$pkg/content" "$content" || return 1
			mkdir -p "$content/data" "$content/logs"
		fi
	fi
	if [[ $db == mysql ]]; then
		dbfile=$dbfile_arg
	elif [[ -n $dbfile_arg ]]; then
		dbfile=$dbfile_arg
	fi
	if [[ $db == sqlite ]]; then
		dbjson='{
    "client": "sqlite3",
    "connection": {"filename": "'"$dbfile"'"},
    "useNullAsDefault": true,
    "debug": false
  }'
	fi
	# Ghost reads config.<env>.json from its working directory, so each
	# instance runs in its own folder with the shared install's index.js; a
	# `current` link to the install (as Ghost-CLI lays it out) is how Ghost
	# finds its own package.json from there.
	ln -sfn "$pkg" "$dir/current" || return 1
	cat >"$dir/config.development.json" <<EOF
{
  "url": "http://127.0.0.1:$port",
  "server": {"host": "127.0.0.1", "port": $port},
  "database": $dbjson,
  "paths": {"contentPath": "$content"},
  "logging": {"transports": ["stdout"], "level": "info"},
  "privacy": {"useUpdateCheck": false, "useGravatar": false},
  "security": {"staffDeviceVerification": false},
  "mail": {"transport": "Direct"},
  "spam": {"user_login": {"freeRetries": 10000}, "global_block": {"freeRetries": 10000}}
}
EOF
	RV_GHOST_PORTS[$name]=$port
	RV_GHOST_DIRS[$name]=$dir
	RV_GHOST_CONTENTS[$name]=$content
	RV_GHOST_DBS[$name]=$dbfile
	[[ -n ${RV_GHOST_PREPARE_ONLY:-} ]] && return 0
	echo "=== start $(date -u +%H:%M:%S)" >>"$dir/ghost.log"
	(
		cd "$dir" || exit 1
		exec env NODE_ENV=development node "$pkg/index.js"
	) >>"$dir/ghost.log" 2>&1 &
	RV_GHOST_PIDS[$name]=$!
	echo "${RV_GHOST_PIDS[$name]}" >"$dir/ghost.pid"
	ghost_wait "$name"
}

# ghost_prepare NAME PORT [sqlite [CONTENT_DIR [DB_FILE]]]: ghost_start's
# set-up without the start: the instance's folder and config are written
# and ghost_url/ghost_dir/... answer; something else starts it (a failover
# hook: tests/fixtures/hooks/ghost_launch.sh with RV_GHOST_LAUNCH_DIR set to
# ghost_dir NAME), then ghost_adopt NAME.
ghost_prepare() {
	RV_GHOST_PREPARE_ONLY=1 ghost_start "$@"
}

# ghost_adopt NAME: take the instance something else started (its
# ghost.pid) as this shell's, for ghost_stop and the cleanup.
ghost_adopt() {
	local name=$1 dir=${RV_GHOST_DIRS[$1]:-}
	[[ -n $dir && -s $dir/ghost.pid ]] || {
		_ghost_err "ghost_adopt: '$name' has no ghost.pid"
		return 1
	}
	RV_GHOST_PIDS[$name]=$(cat "$dir/ghost.pid")
}

# ghost_wait NAME: until the instance's Admin API answers (or it exits, or
# RV_GHOST_START_TIMEOUT passes: then it is killed).
ghost_wait() {
	local name=$1 dir=${RV_GHOST_DIRS[$1]} port=${RV_GHOST_PORTS[$1]}
	local url=http://127.0.0.1:$port deadline=$((SECONDS + RV_GHOST_START_TIMEOUT))
	while ((SECONDS < deadline)); do
		if ! kill -0 "${RV_GHOST_PIDS[$name]}" 2>/dev/null; then
			_ghost_err "Ghost '$name' exited while starting; last lines of $dir/ghost.log:"
			tail -n 40 "$dir/ghost.log" >&2
			unset 'RV_GHOST_PIDS[$name]'
			return 1
		fi
		if curl -fsS -o /dev/null --max-time 2 -H 'Accept-Version: v5.0' \
			"$url/ghost/api/admin/site/" 2>/dev/null; then
			return 0
		fi
		sleep 0.3
	done
	_ghost_err "Ghost '$name' did not answer on $url within ${RV_GHOST_START_TIMEOUT}s; last lines of $dir/ghost.log:"
	tail -n 40 "$dir/ghost.log" >&2
	ghost_kill "$name"
	return 1
}

# ghost_stop NAME: SIGTERM, then SIGKILL after 10 s.
ghost_stop() {
	local name=$1 pid=${RV_GHOST_PIDS[$1]:-} i
	[[ -n $pid ]] || return 0
	# `|| true` throughout: these run from EXIT traps of `set -e` scripts.
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset 'RV_GHOST_PIDS[$name]'
	return 0
}

# ghost_kill NAME: SIGKILL at once (a crash).
ghost_kill() {
	local name=$1 pid=${RV_GHOST_PIDS[$1]:-}
	[[ -n $pid ]] || return 0
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset 'RV_GHOST_PIDS[$name]'
	return 0
}

# ghost_cleanup_all: stop every instance of this shell and remove the work
# dir if ghost.sh created it (set RV_GHOST_KEEP=1 to keep it for a post-mortem).
ghost_cleanup_all() {
	local name
	for name in "${!RV_GHOST_PIDS[@]}"; do
		ghost_stop "$name"
	done
	if [[ -n $RV_GHOST_OWN_WORK && -n $RV_GHOST_WORK && -z ${RV_GHOST_KEEP:-} ]]; then
		rm -rf "$RV_GHOST_WORK"
		RV_GHOST_WORK=
		RV_GHOST_OWN_WORK=
	fi
	return 0
}

# ghost_setup_admin NAME: create the owner user (first run only), log in and
# create a custom integration; write its Admin API key (id:secret) to
# <instance dir>/admin.key (mode 0600) and print that path.  Idempotent: an
# existing key file is reused.
ghost_setup_admin() {
	local name=$1 url dir jar keyfile out
	url=$(ghost_url "$name")
	dir=$(ghost_dir "$name")
	[[ -n $dir && -n ${RV_GHOST_PORTS[$name]:-} ]] || {
		_ghost_err "ghost_setup_admin: no instance '$name' (ghost_start it first)"
		return 1
	}
	keyfile=$dir/admin.key jar=$dir/cookies.txt
	if [[ -s $keyfile ]]; then
		echo "$keyfile"
		return 0
	fi
	local -a common=(-sS --max-time 30 -H "Origin: $url" -H 'Accept-Version: v5.0'
		-H 'Content-Type: application/json' -c "$jar" -b "$jar")
	# Setup answers 403 once an owner exists (a restarted instance): fine.
	out=$(curl "${common[@]}" -o /dev/null -w '%{http_code}' -X POST \
		"$url/ghost/api/admin/authentication/setup/" \
		-d "{\"setup\":[{\"name\":\"Revenant Test\",\"email\":\"$RV_GHOST_EMAIL\",\"password\":\"$RV_GHOST_PASSWORD\",\"blogTitle\":\"revenant $name\"}]}") || true
	if [[ $out != 201 && $out != 200 && $out != 403 ]]; then
		_ghost_err "ghost_setup_admin: setup of '$name' answered HTTP $out"
		return 1
	fi
	out=$(curl "${common[@]}" -o /dev/null -w '%{http_code}' -X POST \
		"$url/ghost/api/admin/session/" \
		-d "{\"username\":\"$RV_GHOST_EMAIL\",\"password\":\"$RV_GHOST_PASSWORD\"}") || true
	[[ $out == 201 || $out == 200 ]] || {
		_ghost_err "ghost_setup_admin: login to '$name' answered HTTP $out"
		return 1
	}
	out=$(curl "${common[@]}" -f -X POST "$url/ghost/api/admin/integrations/" \
		-d '{"integrations":[{"name":"revenant"}]}') || {
		_ghost_err "ghost_setup_admin: creating an integration on '$name' failed"
		return 1
	}
	(
		umask 077
		/usr/bin/python3 -c 'import json, sys
keys = json.load(sys.stdin)["integrations"][0]["api_keys"]
print([k["secret"] for k in keys if k["type"] == "admin"][0])' <<<"$out" >"$keyfile"
	) || {
		_ghost_err "ghost_setup_admin: no admin key in the integration of '$name'"
		rm -f "$keyfile"
		return 1
	}
	chmod 600 "$keyfile"
	echo "$keyfile"
}

# ghost_api ARGS...: the stdlib-only Python helper (tests/lib/ghost_api.py):
# seed, create, count, list, delete-all, upload-image.  See its --help.
ghost_api() {
	/usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/ghost_api.py" "$@"
}
