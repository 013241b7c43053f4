#!/bin/sh
# ghost-gate.sh GATE_DIR COMMAND [ARG...] - runs Ghost (COMMAND) only while
# revenant's gate is open: the Ghost container's command in deploy/k8s,
# where revenant's container has no shell for a hook to stop Ghost with.
#
# The protocol (src/engine/gate.h): revenant creates GATE_DIR/open while
# this site is primary and removes it when the site must stop taking
# writes; this script creates GATE_DIR/running before it starts COMMAND and
# removes it once COMMAND has exited, so revenant knows when Ghost has
# stopped.  Ghost exiting by itself while the gate is open is restarted
# after a pause.  SIGTERM (the pod stopping) stops Ghost and exits.
#
# It looks at the gate twice a second: Ghost's image has a shell and
# coreutils, no inotify tool; revenant's side of the wait sleeps on inotify.
set -u
gate=${1:?usage: ghost-gate.sh GATE_DIR COMMAND [ARG...]}
shift
[ $# -gt 0 ] || {
	echo "usage: ghost-gate.sh GATE_DIR COMMAND [ARG...]" >&2
	exit 2
}
child=
stopping=

say() { echo "ghost-gate: $*" >&2; }

stop_child() {
	if [ -n "$child" ]; then
		kill -TERM "$child" 2>/dev/null
		wait "$child" 2>/dev/null
		child=
	fi
	rm -f "$gate/running"
}

trap 'stopping=1' TERM INT
mkdir -p "$gate" || exit 1
# A file left by a predecessor that was killed: nothing of ours runs yet.
rm -f "$gate/running"
say "waiting for the gate ($gate/open)"
while [ -z "$stopping" ]; do
	if [ ! -e "$gate/open" ]; then
		sleep 0.5
		continue
	fi
	: >"$gate/running" || exit 1
	"$@" &
	child=$!
	say "gate open: started $1 (pid $child)"
	while [ -z "$stopping" ] && [ -e "$gate/open" ] && kill -0 "$child" 2>/dev/null; do
		sleep 0.5
	done
	if kill -0 "$child" 2>/dev/null; then
		say "gate closed or stopping: stopping Ghost"
		stop_child
		say "Ghost stopped"
	else
		wait "$child"
		say "Ghost exited ($?) with the gate open: starting it again in 5 s"
		child=
		rm -f "$gate/running"
		[ -n "$stopping" ] || sleep 5
	fi
done
stop_child
exit 0
