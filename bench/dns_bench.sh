#!/usr/bin/env bash
# dns_bench.sh - a DNS switch with revenant vs the tools an operator would
# otherwise run, against the same server in the same run:
#
#   1. RFC 2136: N switches (alternating DC/DR) with `revenant dns switch`
#      vs N with `nsupdate` (the same compare-and-swap: prerequisite on the
#      current value, delete, add) against a local BIND 9.18
#      (tests/lib/bind.sh); p50/p99 of each, and the ratio.  revenant also
#      reads the record first and verifies the answer after; nsupdate only
#      sends the update.
#   2. Route 53: M switches against tests/fakes/route53.py with a 1 s
#      (then DELAY2 s) PENDING -> INSYNC delay: `revenant dns switch` vs
#      `aws route53 change-resource-record-sets` + `aws route53 wait
#      resource-record-sets-changed` (Debian's awscli; its waiter polls
#      every 30 s); wall time of each, and the ratio.
#
#   bash bench/dns_bench.sh [build/revenant]      N=100 M=3 DELAY2=5 by default
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REVENANT=$(realpath "${1:-$HERE/../build/revenant}")
N=${N:-100}
M=${M:-3}
export RV_TESTDIR=$HERE/../tests
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-dns-bench.XXXXXX")
# shellcheck source=/dev/null
. "$RV_TESTDIR/lib/bind.sh"
# shellcheck source=/dev/null
. "$RV_TESTDIR/lib/route53.sh"
trap 'bind_stop; route53_stop; rm -rf "$W"' EXIT
mkdir -p "$HERE/results"
OUT=$HERE/results/dns-$(date -u +%Y%m%dT%H%M%SZ).txt
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# stats FILE: "p50 p99 mean" of one number a line (ms)
stats() {
	python3 -c 'import sys,statistics as s
v=sorted(float(x) for x in open(sys.argv[1]))
p=lambda q: v[min(len(v)-1, int(round(q*(len(v)-1))))]
print("%.1f %.1f %.1f" % (p(.5), p(.99), s.mean(v)))' "$1"
}
say() { echo "$*" | tee -a "$OUT"; }

say "# dns_bench $(date -u '+%Y-%m-%d %H:%M UTC') on $(hostname) ($(nproc) CPU), N=$N M=$M"
say "# revenant: $REVENANT"

# ---- 1. RFC 2136 ----
bind_start "$W/bind" || exit 1
printf '%s\n' "$BIND_KEY_SECRET" >"$W/secret"
cat >"$W/rfc.yml" <<YML
dns:
  provider: rfc2136
  names: [www.example.test]
  type: A
  ttl: 60s
  targets: ["dc=192.0.2.10", "dr=198.51.100.20"]
  rfc2136: {server: "127.0.0.1:$BIND_PORT", zone: example.test, key_name: rv-test, key_secret_file: $W/secret}
YML
: >"$W/rv.ms"
for ((i = 0; i < N; i++)); do
	to=dr
	((i % 2)) && to=dc
	t0=$(now_ms)
	"$REVENANT" --log-level error -c "$W/rfc.yml" dns switch --to "$to" >/dev/null 2>"$W/err" || {
		cat "$W/err"
		exit 1
	}
	echo $(($(now_ms) - t0)) >>"$W/rv.ms"
done
[[ $(bind_dig www.example.test A) == 192.0.2.10 ]] || echo "warning: revenant left www at $(bind_dig www.example.test A)"
: >"$W/ns.ms"
for ((i = 0; i < N; i++)); do
	from=192.0.2.10 to=198.51.100.20
	((i % 2)) && from=198.51.100.20 to=192.0.2.10
	t0=$(now_ms)
	printf 'server 127.0.0.1 %s\nzone example.test\nprereq yxrrset www.example.test A %s\nupdate delete www.example.test A\nupdate add www.example.test 60 A %s\nsend\n' \
		"$BIND_PORT" "$from" "$to" | nsupdate -k "$BIND_KEY_FILE" || exit 1
	echo $(($(now_ms) - t0)) >>"$W/ns.ms"
done
[[ $(bind_dig www.example.test A) == 192.0.2.10 ]] || echo "warning: nsupdate left www at $(bind_dig www.example.test A)"
read -r rp50 rp99 rmean < <(stats "$W/rv.ms")
read -r np50 np99 nmean < <(stats "$W/ns.ms")
say ""
say "## RFC 2136, $N switches against BIND $(named -v | awk '{print $2}') (ms per switch, process start to exit)"
say "| tool | p50 | p99 | mean |"
say "|---|---:|---:|---:|"
say "| revenant dns switch (read, CAS update, verify) | $rp50 | $rp99 | $rmean |"
say "| nsupdate (CAS update only) | $np50 | $np99 | $nmean |"
say "| ratio revenant/nsupdate (p50) | $(python3 -c "print('%.2f' % ($rp50/$np50))") | | |"
bind_stop

# ---- 2. Route 53 ----
cat >"$W/state.json" <<'JSON'
[{"Name": "www.example.com.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.10"}]}]
JSON
route53_env
# r53 DELAY: M switches each way with the fake answering PENDING for DELAY s.
r53() {
	local delay=$1 i to from batch id t0 bad
	route53_start "$W/r53-$delay" "$W/state.json" "$delay" || exit 1
	cat >"$W/r53.yml" <<YML
dns:
  provider: route53
  names: [www.example.com]
  type: A
  ttl: 60s
  targets: ["dc=192.0.2.10", "dr=198.51.100.20"]
  route53: {zone_id: $R53_ZONE, endpoint: "$R53_URL"}
YML
	: >"$W/rv53.ms"
	for ((i = 0; i < M; i++)); do
		to=dr
		((i % 2)) && to=dc
		t0=$(now_ms)
		"$REVENANT" --log-level error -c "$W/r53.yml" dns switch --to "$to" >/dev/null 2>"$W/err" || {
			cat "$W/err"
			exit 1
		}
		echo $(($(now_ms) - t0)) >>"$W/rv53.ms"
	done
	# Leave it at dc for the CLI's turn.
	((M % 2)) && "$REVENANT" --log-level error -c "$W/r53.yml" dns switch --to dc >/dev/null
	: >"$W/aws.ms"
	for ((i = 0; i < M; i++)); do
		from=192.0.2.10 to=198.51.100.20
		((i % 2)) && from=198.51.100.20 to=192.0.2.10
		batch='{"Changes":[{"Action":"DELETE","ResourceRecordSet":{"Name":"www.example.com.","Type":"A","TTL":60,"ResourceRecords":[{"Value":"'$from'"}]}},{"Action":"CREATE","ResourceRecordSet":{"Name":"www.example.com.","Type":"A","TTL":60,"ResourceRecords":[{"Value":"'$to'"}]}}]}'
		t0=$(now_ms)
		id=$(aws --endpoint-url "$R53_URL" route53 change-resource-record-sets --hosted-zone-id "$R53_ZONE" \
			--change-batch "$batch" --query ChangeInfo.Id --output text) || exit 1
		aws --endpoint-url "$R53_URL" route53 wait resource-record-sets-changed --id "$id" || exit 1
		echo $(($(now_ms) - t0)) >>"$W/aws.ms"
	done
	bad=$(route53_ctl GET /_ctl/stats | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["bad_signature"]+s["bad_body"])')
	route53_stop
	read -r r53p50 r53p99 r53mean < <(stats "$W/rv53.ms")
	read -r awsp50 awsp99 awsmean < <(stats "$W/aws.ms")
	say ""
	say "## Route 53 (fake, PENDING -> INSYNC after $delay s), $M switches (ms, process start to INSYNC)"
	say "| tool | p50 | max | mean |"
	say "|---|---:|---:|---:|"
	say "| revenant dns switch (GetChange backoff 100 ms -> 2 s, then verified) | $r53p50 | $r53p99 | $r53mean |"
	say "| aws route53 change-resource-record-sets + wait resource-record-sets-changed | $awsp50 | $awsp99 | $awsmean |"
	say "| ratio aws/revenant (p50) | $(python3 -c "print('%.1f' % ($awsp50/$r53p50))") | | |"
	say "# requests the fake refused (signature or model): $bad"
}
# 1 s: the CLI's own start-up (~2 s for the change, then the waiter) hides
# the delay, so its first GetChange already sees INSYNC.  5 s: the waiter's
# first GetChange sees PENDING and it sleeps its 30 s.
r53 1
r53 "${DELAY2:-5}"
echo "results in $OUT"
