#!/usr/bin/env bash
# content_replicate.sh - helpers for the content_replicate_* integration
# tests: start/stop `revenant replicate`, and compare what the store
# records (`revenant status --manifest`) with a folder.
#
#   . "$RV_SRCDIR/tests/lib/content_replicate.sh"
#   cr_start CONFIG LOG          # background replicate; sets CR_PID; waits for the first walk
#   cr_listing DIR               # "F path sha256" / "D path" / "L path target", sorted
#   cr_recorded CONFIG           # the same from the store's latest recorded state
#   cr_wait_converged CONFIG DIR SECONDS
#
# Paths are escaped as docs/FORMAT.md says (%XX for bytes <= 0x20, 0x7f,
# '%'), so names with spaces and newlines compare too.

CR_PY=/usr/bin/python3

cr_die() {
	echo "content_replicate.sh: $*" >&2
	return 1
}

cr_free_port() {
	"$CR_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# cr_start CONFIG LOG [extra revenant args...]
cr_start() {
	local cfg="$1" log="$2" i
	shift 2
	"$REVENANT" -c "$cfg" "$@" replicate >>"$log" 2>&1 &
	CR_PID=$!
	for i in $(seq 1 200); do
		if grep -q 'content reconcile walked the folder' "$log" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$CR_PID" 2>/dev/null; then
			cat "$log" >&2
			cr_die "replicate exited during start-up"
			return 1
		fi
		sleep 0.05
	done
	cat "$log" >&2
	cr_die "replicate did not finish its first walk within 10 s"
}

# cr_stop: SIGTERM, wait; the exit code goes to CR_RC (not a subshell:
# only this shell can wait for its child).
cr_stop() {
	CR_RC=0
	kill -TERM "$CR_PID" 2>/dev/null
	wait "$CR_PID" || CR_RC=$?
	CR_PID=
}

cr_listing() {
	"$CR_PY" - "$1" <<'PY'
import hashlib, os, sys
root = sys.argv[1].encode()
def esc(b):
    out = []
    for c in b:
        if c <= 0x20 or c == 0x7f or c == 0x25:
            out.append('%%%02X' % c)
        else:
            out.append(chr(c))
    return ''.join(out).encode('latin-1').decode('utf-8')
lines = []
for d, dirs, files in os.walk(root):
    rel = os.path.relpath(d, root)
    for n in dirs + files:
        p = os.path.join(d, n)
        r = os.path.normpath(os.path.join(rel, n)) if rel != b'.' else n
        if os.path.islink(p):
            lines.append('L %s %s' % (esc(r), esc(os.readlink(p))))
        elif os.path.isdir(p):
            lines.append('D %s' % esc(r))
        elif os.path.isfile(p):
            h = hashlib.sha256()
            with open(p, 'rb') as f:
                for chunk in iter(lambda: f.read(1 << 16), b''):
                    h.update(chunk)
            lines.append('F %s %s' % (esc(r), h.hexdigest()))
for l in sorted(lines):
    print(l)
PY
}

cr_recorded() {
	"$REVENANT" -c "$1" --log-level warn status --manifest | awk '
		$1 == "file" { print "F " $2 " " $6; next }
		$1 == "dir"  { print "D " $2; next }
		$1 == "link" { print "L " $2 " " $4; next }' | LC_ALL=C sort
}

# cr_wait_converged CONFIG DIR SECONDS: 0 once equal; shows a diff otherwise.
cr_wait_converged() {
	local cfg="$1" dir="$2" secs="$3" end
	end=$(($(date +%s) + secs))
	while :; do
		if diff <(cr_listing "$dir" | LC_ALL=C sort) <(cr_recorded "$cfg") >/dev/null 2>&1; then
			return 0
		fi
		if [ "$(date +%s)" -ge "$end" ]; then
			diff <(cr_listing "$dir" | LC_ALL=C sort) <(cr_recorded "$cfg") | head -20 >&2
			cr_die "store did not converge to '$dir' within $secs s"
			return 1
		fi
		sleep 0.2
	done
}
