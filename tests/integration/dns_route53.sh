# dns_route53.sh - `revenant dns show | switch` on the route53 provider, as
# an operator runs them, against tests/fakes/route53.py (which checks each
# request's signature with botocore and its body against botocore's Route 53
# model), with the AWS CLI as the second client: DC -> DR -> DC read back
# with `aws route53 list-resource-record-sets`; --dry-run and a second
# switch change nothing; weighted alias sets switched; a record changed
# behind revenant's back exits 6 and is left alone; AccessDenied exits 4
# naming the permission and prints no secret; a wrong hosted zone exits 2;
# the fake stopped exits 3; credentials from the environment (AWS_*) and
# from store.credentials.
set -uo pipefail
: "${REVENANT:?set REVENANT to the revenant binary}" "${RV_TESTDIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-dns-route53.XXXXXX")
# shellcheck source=/dev/null
. "$RV_TESTDIR/lib/route53.sh"
trap 'route53_stop; rm -rf "$W"' EXIT
R=$REVENANT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
step() { echo "--- $*"; }
run() {
	"$@" >"$W/out" 2>"$W/err" </dev/null
	rc=$?
	cat "$W/out" "$W/err" >>"$W/all-output"
}

cat >"$W/state.json" <<'JSON'
[{"Name": "www.example.com.", "Type": "A", "TTL": 60,
  "ResourceRecords": [{"Value": "192.0.2.10"}]},
 {"Name": "app.example.com.", "Type": "A", "SetIdentifier": "dc", "Weight": 1,
  "AliasTarget": {"HostedZoneId": "Z32O12XQLNTSW2", "EvaluateTargetHealth": false,
                  "DNSName": "dualstack.dc-alb-1.eu-west-1.elb.amazonaws.com."}},
 {"Name": "app.example.com.", "Type": "A", "SetIdentifier": "dr", "Weight": 0,
  "AliasTarget": {"HostedZoneId": "Z215JYRZR1TBD5", "EvaluateTargetHealth": false,
                  "DNSName": "dualstack.dr-alb-1.eu-central-1.elb.amazonaws.com."}}]
JSON
route53_start "$W/r53" "$W/state.json" 0.3 || fail "cannot start the Route 53 fake"
route53_env

# config NAME ZONE_ID [CREDS]: a dns section on the fake
config() {
	cat <<YML
site: dc
${3:-}
dns:
  provider: route53
  names: [$1.example.com]
  type: A
  ttl: 30s
  targets: ["dc=192.0.2.10", "dr=198.51.100.20,198.51.100.21"]
  route53:
    zone_id: $2
    endpoint: $R53_URL
    timeout: 10s
YML
}
config www "$R53_ZONE" >"$W/rv.yml"
config www ZWRONGZONE >"$W/wrongzone.yml"
config www "$R53_ZONE" "store: {credentials: {access_key_id: $R53_AKID, secret_access_key_file: $W/secret}}" >"$W/static.yml"
printf '%s\n' "$R53_SECRET" >"$W/secret"
cat >"$W/weighted.yml" <<YML
site: dc
dns:
  provider: route53
  names: [app.example.com]
  type: A
  targets:
    - "dc=dualstack.dc-alb-1.eu-west-1.elb.amazonaws.com@Z32O12XQLNTSW2"
    - "dr=dualstack.dr-alb-1.eu-central-1.elb.amazonaws.com@Z215JYRZR1TBD5"
  route53: {zone_id: $R53_ZONE, endpoint: "$R53_URL", alias: true, weighted: true, weight: 10}
YML
answer() {
	aws --endpoint-url "$R53_URL" route53 list-resource-record-sets --hosted-zone-id "$R53_ZONE" \
		--start-record-name "$1.example.com" --start-record-type A --max-items 1 \
		--query 'ResourceRecordSets[0].ResourceRecords[].Value' --output text | tr '\t' '\n' | sort | paste -sd, -
}
weights() {
	aws --endpoint-url "$R53_URL" route53 list-resource-record-sets --hosted-zone-id "$R53_ZONE" \
		--start-record-name app.example.com --start-record-type A \
		--query 'ResourceRecordSets[?Name==`app.example.com.`].[SetIdentifier,Weight]' --output text |
		tr '\t' '=' | paste -sd, -
}

step "config check, show"
run "$R" -c "$W/rv.yml" config check
[[ $rc == 0 ]] || fail "config check: exit $rc: $(cat "$W/err")"
run "$R" -c "$W/rv.yml" dns show
[[ $rc == 0 ]] || fail "dns show: exit $rc: $(cat "$W/err")"
grep -q '^www.example.com. A 192.0.2.10 site=dc$' "$W/out" || fail "dns show: $(cat "$W/out")"
[[ $(answer www) == 192.0.2.10 ]] || fail "aws cli reads $(answer www)"

step "dry run changes nothing"
run "$R" -c "$W/rv.yml" dns switch --to dr --dry-run
[[ $rc == 0 ]] && grep -q "would switch" "$W/out" || fail "dry run: exit $rc: $(cat "$W/out" "$W/err")"
[[ $(answer www) == 192.0.2.10 ]] || fail "dry run changed the record: $(answer www)"

step "DC -> DR -> DC (environment credentials, then store.credentials), read back with the AWS CLI"
run "$R" -c "$W/rv.yml" dns switch --to dr
[[ $rc == 0 ]] || fail "switch to dr: exit $rc: $(cat "$W/err")"
grep -q "switched dc -> dr" "$W/out" || fail "switch to dr: $(cat "$W/out")"
[[ $(answer www) == 198.51.100.20,198.51.100.21 ]] || fail "after the switch: $(answer www)"
run "$R" -c "$W/rv.yml" dns switch --to dr --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d[0]["result"]=="unchanged", d' "$W/out" ||
	fail "second switch: $(cat "$W/out")"
run env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$R" -c "$W/static.yml" dns switch --to dc
[[ $rc == 0 ]] || fail "switch back: exit $rc: $(cat "$W/err")"
[[ $(answer www) == 192.0.2.10 ]] || fail "after the switch back: $(answer www)"

step "weighted alias sets: the winner weighted 10, the other 0"
run "$R" -c "$W/weighted.yml" config check
[[ $rc == 0 ]] || fail "weighted config check: exit $rc: $(cat "$W/err")"
run "$R" -c "$W/weighted.yml" dns switch --to dr
[[ $rc == 0 ]] || fail "weighted switch: exit $rc: $(cat "$W/err")"
[[ $(weights) == dc=0,dr=10 ]] || fail "weights after the switch: $(weights)"
run "$R" -c "$W/weighted.yml" dns show
grep -q "site=dr" "$W/out" || fail "weighted show: $(cat "$W/out")"

step "a record changed behind revenant's back is left alone (exit 6)"
aws --endpoint-url "$R53_URL" route53 change-resource-record-sets --hosted-zone-id "$R53_ZONE" \
	--change-batch '{"Changes":[{"Action":"UPSERT","ResourceRecordSet":{"Name":"www.example.com.","Type":"A","TTL":60,"ResourceRecords":[{"Value":"203.0.113.9"}]}}]}' >/dev/null ||
	fail "aws cli upsert"
run "$R" -c "$W/rv.yml" dns switch --to dr
[[ $rc == 6 ]] || fail "foreign value: exit $rc, not 6: $(cat "$W/err")"
grep -q "203.0.113.9, which is no site's target" "$W/err" || fail "foreign value: $(cat "$W/err")"
[[ $(answer www) == 203.0.113.9 ]] || fail "the foreign value was overwritten: $(answer www)"
aws --endpoint-url "$R53_URL" route53 change-resource-record-sets --hosted-zone-id "$R53_ZONE" \
	--change-batch '{"Changes":[{"Action":"UPSERT","ResourceRecordSet":{"Name":"www.example.com.","Type":"A","TTL":60,"ResourceRecords":[{"Value":"192.0.2.10"}]}}]}' >/dev/null ||
	fail "aws cli upsert"

step "AccessDenied (exit 4, names the permission, no secret printed)"
route53_ctl POST /_ctl/fault '{"code":"AccessDenied","n":1,"op":"ChangeResourceRecordSets"}' >/dev/null
run "$R" -c "$W/rv.yml" dns switch --to dr
[[ $rc == 4 ]] || fail "access denied: exit $rc, not 4: $(cat "$W/err")"
grep -q "route53:ChangeResourceRecordSets on arn:aws:route53:::hostedzone/$R53_ZONE" "$W/err" ||
	fail "access denied: $(cat "$W/err")"
[[ $(answer www) == 192.0.2.10 ]] || fail "a refused switch changed the record"

step "wrong hosted zone (exit 2)"
run "$R" -c "$W/wrongzone.yml" dns switch --to dr
[[ $rc == 2 ]] && grep -q "check dns.route53.zone_id" "$W/err" || fail "wrong zone: exit $rc: $(cat "$W/err")"

step "every request signed and shaped right (botocore's check at the fake)"
route53_ctl GET /_ctl/stats >"$W/stats"
cp "$W/stats" "$W/stats-revenant"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["bad_signature"]==0 and s["bad_body"]==0, s' "$W/stats" ||
	fail "the fake refused requests: $(cat "$W/stats")"

step "the fake refuses what Route 53 would (so it cannot agree with a wrong request)"
/usr/bin/python3 - "$R53_URL" "$R53_ZONE" "$R53_AKID" "$R53_SECRET" <<'PY' || fail "the fake accepted a wrong request"
import sys, urllib.request, urllib.error
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, zone, akid, secret = sys.argv[1:5]
NS = "https://route53.amazonaws.com/doc/2013-04-01/"
def rrset(extra):
    return ('<?xml version="1.0"?><ChangeResourceRecordSetsRequest xmlns="%s"><ChangeBatch><Changes>'
            '<Change><Action>UPSERT</Action><ResourceRecordSet><Name>x.example.com.</Name><Type>A</Type>'
            '%s</ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>' % (NS, extra))
GOOD = '<TTL>60</TTL><ResourceRecords><ResourceRecord><Value>192.0.2.1</Value></ResourceRecord></ResourceRecords>'
def post(body, region="us-east-1", service="route53"):
    req = AWSRequest(method="POST", url="%s/2013-04-01/hostedzone/%s/rrset" % (url, zone), data=body.encode())
    SigV4Auth(Credentials(akid, secret), service, region).add_auth(req)
    r = urllib.request.Request(req.url, data=req.body, method="POST", headers=dict(req.headers.items()))
    try:
        with urllib.request.urlopen(r) as a:
            return a.status, a.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
cases = [
    (rrset(GOOD + "<Bogus>1</Bogus>"), {}, 400, "InvalidInput"),
    (rrset("<TTL>sixty</TTL>" + GOOD[15:]), {}, 400, "InvalidInput"),
    (rrset("<Weight>1</Weight>" + GOOD), {}, 400, "InvalidInput"),
    (rrset(GOOD).replace(NS, "https://example.com/ns/"), {}, 400, "InvalidInput"),
    (rrset(GOOD).replace("UPSERT", "REPLACE"), {}, 400, "InvalidInput"),
    (rrset(GOOD), {"region": "eu-west-1"}, 403, "SignatureDoesNotMatch"),
    (rrset(GOOD), {"service": "s3"}, 403, "SignatureDoesNotMatch"),
]
for body, kw, want, code in cases:
    st, txt = post(body, **kw)
    if st != want or "<Code>%s</Code>" % code not in txt:
        sys.exit("wanted %d %s, got %d %s for %s %s" % (want, code, st, txt, body, kw))
st, txt = post(rrset(GOOD))
if st != 200:
    sys.exit("a good request was refused: %d %s" % (st, txt))
PY

step "the fake stopped (exit 3)"
route53_stop
run "$R" -c "$W/rv.yml" dns switch --to dr
[[ $rc == 3 ]] || fail "endpoint down: exit $rc, not 3: $(cat "$W/err")"

step "no secret in any output"
! grep -qF "$R53_SECRET" "$W/all-output" || fail "a secret was printed"
echo "PASS"
