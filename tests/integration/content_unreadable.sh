#!/usr/bin/env bash
# content_unreadable.sh - a file in the content folder that replicate cannot
# read: named in the log exactly once (at the start-up reconcile and when it
# appears while running, however often it changes or the loop turns),
# counted once in revenant_errors_total{kind="unreadable"}; replicate keeps
# running and every other file replicates; once readable (chmod + touch) it
# is shipped.  As root, replicate runs as nobody (setpriv) so that file
# modes bind it; otherwise mode 000 does.
set -u
. "$RV_SRCDIR/tests/lib/content_replicate.sh"

T=$(mktemp -d /tmp/rv-cunr.XXXXXX)
chmod 755 "$T"
cleanup() {
	[ -n "${CR_PID:-}" ] && kill -KILL "$CR_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -30 "$f" >&2; }; done
	exit 1
}

# RV_AS runs revenant as the replicate user (cr_start takes the binary from
# $REVENANT; setpriv execs it, so CR_PID stays its pid).
RV_AS="$REVENANT"
if [ "$(id -u)" = 0 ]; then
	command -v setpriv >/dev/null || fail "running as root needs setpriv (util-linux) to drop to nobody"
	RV_AS="$T/as-nobody"
	printf '#!/bin/sh\nexec setpriv --reuid=nobody --regid=nogroup --clear-groups "%s" "$@"\n' \
		"$REVENANT" >"$RV_AS"
	chmod 755 "$RV_AS"
fi
mkdir -p "$T/store" "$T/content/images"
if [ "$(id -u)" = 0 ]; then
	chown -R nobody:nogroup "$T/store" "$T/content"
fi
PORT=$(cr_free_port)
cat >"$T/r.yml" <<YML
site: dc
sync_interval: 200ms
store:
  url: file://$T/store
  fsync: false
metrics:
  listen: 127.0.0.1:$PORT
content:
  path: $T/content
YML
chmod 644 "$T/r.yml"

# hide PATH: make the file unreadable for replicate but still writable
# here (root-owned 0600 when replicate runs as nobody, mode 0200 otherwise).
hide() {
	if [ "$(id -u)" = 0 ]; then
		chown root:root "$1"
		chmod 600 "$1"
	else
		chmod 200 "$1"
	fi
}
# secret PATH TEXT: create PATH unreadable from its first byte (a file that
# is readable for a moment could be shipped in that moment).
secret() {
	if [ "$(id -u)" = 0 ]; then
		(umask 077 && echo "$2" >"$1")
	else
		(umask 577 && echo "$2" >"$1")
	fi
}
# reports NAME: log lines naming NAME.
reports() { grep -c -F -- "$1" "$T/r.log"; }
unreadable_metric() {
	curl -s "http://127.0.0.1:$PORT/metrics" |
		awk '$1 == "revenant_errors_total{kind=\"unreadable\"}" { print $2 }'
}
# converged_except PATH...: the store equals the folder without PATHs.
converged_except() {
	local end=$(($(date +%s) + 10)) pat
	pat=$(printf '^[FDL] %s( |$)|' "$@")
	pat="${pat%|}"
	while :; do
		if diff <(cr_listing "$T/content" | LC_ALL=C sort | grep -Ev "$pat") \
			<(cr_recorded "$T/r.yml") >/dev/null 2>&1; then
			return 0
		fi
		if [ "$(date +%s)" -ge "$end" ]; then
			diff <(cr_listing "$T/content" | LC_ALL=C sort | grep -Ev "$pat") \
				<(cr_recorded "$T/r.yml") | head -20 >&2
			return 1
		fi
		sleep 0.2
	done
}
alive() { kill -0 "$CR_PID" 2>/dev/null || fail "replicate exited: $*"; }

echo "--- start-up reconcile meets an unreadable file"
echo one >"$T/content/images/one.txt"
secret "$T/content/images/start-secret.txt" "secret at start"
[ "$(id -u)" = 0 ] && chown nobody:nogroup "$T/content/images/one.txt"
REVENANT="$RV_AS" cr_start "$T/r.yml" "$T/r.log" || fail "start"
if [ "$(id -u)" = 0 ]; then
	[ "$(stat -c %U /proc/"$CR_PID")" = nobody ] || fail "replicate does not run as nobody"
fi
converged_except images/start-secret.txt || fail "readable files not replicated at start"
sleep 2 # ten sync intervals
alive "after the first walk"
[ "$(reports start-secret.txt)" = 1 ] || fail "start-secret.txt reported $(reports start-secret.txt) times, want 1"
grep -F start-secret.txt "$T/r.log" | grep -q 'unreadable' || fail "the report does not say unreadable"
echo "ok: reported once: $(grep -F start-secret.txt "$T/r.log")"

echo "--- while running: appears unreadable, changes, other files change"
secret "$T/content/images/run-secret.txt" "secret while running"
for i in 1 2 3; do
	echo "two $i" >"$T/content/images/two.txt"
	touch "$T/content/images/one.txt"
	echo "more $i" >>"$T/content/images/run-secret.txt" # still unreadable
	sleep 0.5
done
converged_except images/start-secret.txt images/run-secret.txt || fail "other files not replicated next to unreadable ones"
sleep 2
alive "with unreadable files"
[ "$(reports run-secret.txt)" = 1 ] || fail "run-secret.txt reported $(reports run-secret.txt) times, want 1"
[ "$(reports start-secret.txt)" = 1 ] || fail "start-secret.txt reported again"
# Each unreadable read is counted; four reads (create + three appends)
# may coalesce in the watcher's debounce, so bound it instead of pinning it.
m=$(unreadable_metric)
[ -n "$m" ] && [ "${m%.*}" -ge 2 ] && [ "${m%.*}" -le 5 ] || fail "errors_total{kind=unreadable} is '$m'"
echo "ok: reported once each; errors_total{kind=unreadable} $m"

echo "--- readable again: shipped"
if [ "$(id -u)" = 0 ]; then
	chown nobody:nogroup "$T/content/images/run-secret.txt" "$T/content/images/start-secret.txt"
fi
chmod 644 "$T/content/images/run-secret.txt" "$T/content/images/start-secret.txt"
touch "$T/content/images/run-secret.txt" "$T/content/images/start-secret.txt"
cr_wait_converged "$T/r.yml" "$T/content" 10 || fail "files not shipped once readable"
alive "after the files became readable"
echo "ok: both shipped"

echo "--- unreadable again after being shipped: one new report, the store keeps the old bytes"
hide "$T/content/images/run-secret.txt"
echo "changed and hidden" >"$T/content/images/run-secret.txt"
sleep 2
[ "$(reports run-secret.txt)" = 2 ] || fail "run-secret.txt: $(reports run-secret.txt) reports, want 2"
cr_recorded "$T/r.yml" | grep -q "^F images/run-secret.txt " || fail "the recorded file vanished"
echo "ok"

echo "--- restart: the reconcile reports it once more, and only once"
cr_stop
[ "$CR_RC" = 0 ] || fail "SIGTERM exit $CR_RC"
REVENANT="$RV_AS" cr_start "$T/r.yml" "$T/r2.log" || fail "restart"
echo three >"$T/content/images/three.txt"
[ "$(id -u)" = 0 ] && chown nobody:nogroup "$T/content/images/three.txt"
sleep 2
alive "after the restart"
n=$(grep -c -F run-secret.txt "$T/r2.log")
[ "$n" = 1 ] || fail "after restart run-secret.txt reported $n times, want 1"
cr_recorded "$T/r.yml" | grep -q "^F images/three.txt " || fail "three.txt not replicated after restart"
cr_stop
[ "$CR_RC" = 0 ] || fail "SIGTERM exit $CR_RC"
echo PASS
