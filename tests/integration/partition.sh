#!/usr/bin/env bash
# partition.sh - a partition, not a death: the two sites run `revenant run`
# in network namespaces of their own (ip netns + veth, iproute2), the store
# (s3rver) in the host's, reachable from both; dr has failover.auto probing
# dc's /healthz across the link between the sites.
#   - the link between the sites cut (the host stops forwarding between the
#     two veths), the store reachable from both: dr's probe fails, yet dr
#     does not promote (dc's heartbeat is current) for 3 x dead_after, and
#     dc keeps committing (a file written at dc reaches dr through the
#     store);
#   - dc cut off from the store too (its veth down): dc stops Ghost itself
#     (hooks.fenced) within fence_after + a heartbeat interval, BEFORE dr
#     takes the lease (the hook's time < the lease's since_ms: the sites
#     never both take writes); dr promotes by itself;
#   - dc's link back: dc's writer finds the newer epoch at its next lease
#     check and writes not one log more into its generation, saves aside,
#     runs hooks.standby and follows dr.
# Needs root (network namespaces); fails loudly without.
set -u
. "$RV_SRCDIR/tests/lib/s3rver.sh"
. "$RV_SRCDIR/tests/lib/wait.sh"

[ "$(id -u)" = 0 ] || { echo "FAIL: partition.sh needs root for network namespaces" >&2; exit 1; }
command -v ip >/dev/null || { echo "FAIL: ip (iproute2) is missing" >&2; exit 1; }
T=$(mktemp -d /tmp/rv-partition.XXXXXX)
N=$$
NS_DC=rvdc$N NS_DR=rvdr$N HDC=rvhdc$N HDR=rvhdr$N
X=$((N % 200 + 20))
DC_IP=10.231.$X.2 DC_GW=10.231.$X.1 DR_IP=10.232.$X.2 DR_GW=10.232.$X.1
DC= DR=
cleanup() {
	for p in ${DC:-} ${DR:-}; do kill -KILL "$p" 2>/dev/null; done
	# whatever still runs inside the namespaces
	for ns in "$NS_DC" "$NS_DR"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
	done
	s3rver_cleanup 2>/dev/null
	ip netns del "$NS_DC" 2>/dev/null
	ip netns del "$NS_DR" 2>/dev/null
	ip link del "$HDC" 2>/dev/null
	ip link del "$HDR" 2>/dev/null
	[ -n "${RV_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log "$T"/*.hooks; do [ -f "$f" ] && { echo "--- $f" >&2; grep -v 'level=debug' "$f" | tail -10 >&2; }; done
	exit 1
}
# site NS HOSTIF GW IP: a namespace joined to the host by a veth pair
site() {
	ip netns add "$1" &&
		ip link add "$2" type veth peer name eth0 netns "$1" &&
		ip addr add "$3/24" dev "$2" && ip link set "$2" up &&
		ip -n "$1" addr add "$4/24" dev eth0 && ip -n "$1" link set eth0 up &&
		ip -n "$1" link set lo up && ip -n "$1" route add default via "$3" &&
		sysctl -qw "net.ipv4.conf.$2.forwarding=1"
}
site "$NS_DC" "$HDC" "$DC_GW" "$DC_IP" || fail "cannot make dc's network namespace"
site "$NS_DR" "$HDR" "$DR_GW" "$DR_IP" || fail "cannot make dr's network namespace"
link() { sysctl -qw "net.ipv4.conf.$HDC.forwarding=$1" "net.ipv4.conf.$HDR.forwarding=$1"; }

S3RVER_ADDR=0.0.0.0 s3rver_start || fail "cannot start s3rver"
s3rver_mkbucket rv-part || fail "cannot create the bucket"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
HOOK="$RV_SRCDIR/tests/fixtures/hooks/record_hook.sh"
mkdir -p "$T/dc" "$T/dr"
config() { # config SITE GW LISTEN EXTRA
	cat >"$T/$1.yml" <<YML
site: $1
sync_interval: 200ms
store:
  url: "s3://rv-part/p?endpoint=http://$2:$S3RVER_PORT&region=us-east-1"
  s3: {deadline: 3s, max_attempts: 3, connect_timeout: 500ms, request_timeout: 1s}
content: {path: $T/$1}
metrics: {listen: "$3"}
failover:
  initial_primary: dc
  heartbeat_interval: 1s
  fence_after: 2s
  dead_after: 5s
  max_clock_skew: 500ms
  max_loss: 20s
$4
hooks: {fenced: $HOOK, standby: $HOOK, promote: $HOOK, timeout: 2s}
YML
}
config dc "$DC_GW" "$DC_IP:9187" ""
config dr "$DR_GW" "127.0.0.1:9187" "  auto: true
  probe_url: http://$DC_IP:9187/healthz
  probe_interval: 500ms
  fall: 2
  rise: 2"
URL="s3://rv-part/p?endpoint=$S3RVER_URL&region=us-east-1"
get() { "$REVENANT" store get "$URL" "$1" 2>/dev/null; }
jf() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
lease() { get lease.json | jf "$1"; }
lease_is() { [ "$(lease site)" = "$1" ]; }
dc_logs() { "$REVENANT" store ls "$URL" "generations/$DC_GEN/content/log/" 2>/dev/null | wc -l; }
in_ns() { ns=$1; shift; ip netns exec "$ns" "$@"; }

echo one >"$T/dc/one.txt"
RV_HOOK_LOG="$T/dc.hooks" ip netns exec "$NS_DC" "$REVENANT" -c "$T/dc.yml" run >"$T/dc.log" 2>&1 &
DC=$!
until_ok 20 lease_is dc || fail "dc's agent did not become primary"
RV_HOOK_LOG="$T/dr.hooks" ip netns exec "$NS_DR" "$REVENANT" -c "$T/dr.yml" run >"$T/dr.log" 2>&1 &
DR=$!
until_ok 20 test -f "$T/dr/one.txt" || fail "dr's agent did not follow"
in_ns "$NS_DR" curl -sf -m 2 "http://$DC_IP:9187/healthz" >/dev/null || fail "dr cannot probe dc before the cut"
DC_GEN=$(lease generation)

# --- the link between the sites cut; the store reachable from both --------
link 0
! in_ns "$NS_DR" curl -sf -m 1 "http://$DC_IP:9187/healthz" >/dev/null 2>&1 || fail "the link between the sites is not cut"
until_ok 10 grep -q 'the primary site fails its probe' "$T/dr.log" || fail "dr never saw its probe fail"
echo two >"$T/dc/two.txt"
until_ok 15 test -f "$T/dr/two.txt" || fail "dc's writes stopped reaching dr through the store"
sleep 10
lease_is dc || fail "dr promoted while only the link between the sites was down"
! grep -q 'automatic failover:' "$T/dr.log" || fail "dr decided to fail over with dc alive"

# --- dc cut off from the store too ----------------------------------------
ip -n "$NS_DC" link set eth0 down
CUT_MS=$(date +%s%3N)
until_ok 10 grep -q '^event=fenced' "$T/dc.hooks" || fail "dc did not stop Ghost itself when cut off"
FENCED_MS=$(sed -n 's/^event=fenced at_ms=\([0-9]*\).*/\1/p' "$T/dc.hooks" | head -1)
until_ok 20 lease_is dr || fail "dr did not promote itself"
TAKEN_MS=$(lease since_ms)
echo "dc cut off at $CUT_MS: dc fenced itself at +$((FENCED_MS - CUT_MS)) ms, dr took the lease at +$((TAKEN_MS - CUT_MS)) ms"
((FENCED_MS < TAKEN_MS)) || fail "dr took the lease ($TAKEN_MS) before dc stopped Ghost ($FENCED_MS): both sites took writes"
N_DC=$(dc_logs)

# --- dc back: fenced by the lease, saves aside, follows --------------------
echo three >"$T/dc/three.txt"
ip -n "$NS_DC" link set eth0 up
ip -n "$NS_DC" route add default via "$DC_GW" 2>/dev/null
until_ok 20 grep -q '^event=standby' "$T/dc.hooks" || fail "dc did not become a standby"
grep -q "saved aside" "$T/dc.log" || fail "dc saved nothing aside"
[ "$(dc_logs)" = "$N_DC" ] || fail "dc committed into its generation after dr took the lease"
echo four >"$T/dr/four.txt"
until_ok 20 test -f "$T/dc/four.txt" || fail "dc does not follow dr"
[ ! -e "$T/dc/three.txt" ] || fail "dc's divergent file is still in its folder (it follows dr)"
for p in $DC $DR; do kill -TERM "$p"; done
wait $DC $DR
rc=$?
DC= DR=
[ "$rc" = 0 ] || fail "an agent exited $rc on SIGTERM"
echo "PASS"
