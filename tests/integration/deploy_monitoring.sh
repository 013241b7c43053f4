#!/usr/bin/env bash
# deploy_monitoring.sh - the alerts and the dashboard of
# deploy/k8s/components/monitoring:
#   - the PrometheusRule's spec passes `promtool check rules` and the unit
#     tests of rules.test.yml (`promtool test rules`: the alerts fire when
#     they must and stay quiet before) - promtool from Debian's prometheus;
#   - every dashboard query parses (promtool checks them as recording rules);
#   - every metric the alerts and the dashboard name is one a live revenant
#     exports: `replicate` (file store, SQLite database), `standby` and
#     `run` (resuming as primary: a DNS switch) run here and their
#     /metrics are read, with the file `verify --metrics-file` writes; the only other names allowed are
#     Prometheus's `up` and the kubelet's container memory;
#   - the name check is not vacuous: a misspelt metric is reported.
# About 5 s.
set -u
. "$RV_SRCDIR/tests/lib/db_replicate.sh"
. "$RV_SRCDIR/tests/lib/wait.sh"
. "$RV_SRCDIR/tests/lib/s3rver.sh"
MON=$RV_SRCDIR/deploy/k8s/components/monitoring
PY=/usr/bin/python3
command -v promtool >/dev/null || {
	echo "FAIL: promtool is missing (bash scripts/deps.sh installs Debian's prometheus)" >&2
	exit 1
}
dr_setup deploy-mon
SB=''
DR_EXTRA_PIDS="SB"
start=$SECONDS
checks=0
ok() { checks=$((checks + 1)); }

$PY - "$MON/prometheusrule.yaml" "$MON/dashboard.json" "$T" <<'PY' || fail "cannot read the rules or the dashboard"
import json, sys, yaml
rule, dash, out = sys.argv[1:]
spec = yaml.safe_load(open(rule))["spec"]
yaml.safe_dump(spec, open(f"{out}/rules.yml", "w"))
exprs = [r["expr"] for g in spec["groups"] for r in g["rules"]]
d = json.load(open(dash))
dexprs = [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": [
    {"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(dexprs)]}]},
    open(f"{out}/dashboard-rules.yml", "w"))
json.dump(exprs + dexprs, open(f"{out}/exprs.json", "w"))
PY
cp "$MON/rules.test.yml" "$T/"
(cd "$T" && promtool check rules rules.yml >check.out 2>&1) || fail "promtool check rules: $(cat "$T/check.out")"
(cd "$T" && promtool test rules rules.test.yml >test.out 2>&1) || fail "promtool test rules: $(cat "$T/test.out")"
(cd "$T" && promtool check rules dashboard-rules.yml >dcheck.out 2>&1) || fail "a dashboard query does not parse: $(cat "$T/dcheck.out")"
ok

# A live replicate and standby, to read the names they export.
mkdir -p "$T/dc/data" "$T/dr" "$T/store"
DB=$T/dc/data/ghost.db
$PY "$DR_LIB/db_writer.py" --db "$DB" --ack "$T/init.ack" --init --count 10 --rate 0 2>/dev/null ||
	fail "cannot create the database"
dr_config "$T/dc.yml" "file://$T/store" "$T/dc" "$DB" 200ms false
p1=$(s3rver_free_port) p2=$(s3rver_free_port)
sed -i "s|^  listen: off|  listen: 127.0.0.1:$p1|" "$T/dc.yml"
dr_start "$T/dc.yml" "$T/r.log" || fail "replicate did not start"
"$REVENANT" -c "$T/dc.yml" standby --to "$T/dr" --db "$T/dr/ghost.db" \
	--metrics-listen "127.0.0.1:$p2" >"$T/sb.log" 2>&1 &
SB=$!
ready() { curl -fsS "http://127.0.0.1:$p2/metrics" 2>/dev/null | grep -q '^revenant_standby_ready 1'; }
until_ok 30 ready || fail "the standby never became ready: $(tail -5 "$T/sb.log")"
{
	curl -fsS "http://127.0.0.1:$p1/metrics" || fail "no /metrics from replicate"
	curl -fsS "http://127.0.0.1:$p2/metrics" || fail "no /metrics from standby"
} >"$T/metrics.txt"
kill -TERM "$SB" && wait "$SB"
SB=
dr_stop
# `revenant run` at the site holding the lease finishes its promotion
# (here: only the DNS switch, through an exec provider over a file) before
# it replicates: the switch's metrics.
export RV_EXEC_STATE=$T/record # tests/fixtures/dns/exec_provider.sh's record
printf '198.51.100.20\n' >"$RV_EXEC_STATE"
p3=$(s3rver_free_port)
sed "s|^  listen: .*|  listen: 127.0.0.1:$p3|" "$T/dc.yml" >"$T/run.yml"
cat >>"$T/run.yml" <<YML
dns:
  provider: exec
  names: [blog.example.test]
  type: A
  targets: ["dc=192.0.2.10", "dr=198.51.100.20"]
  exec: {command: $RV_SRCDIR/tests/fixtures/dns/exec_provider.sh}
YML
"$REVENANT" -c "$T/run.yml" run >"$T/run.log" 2>&1 &
SB=$!
switched() { curl -fsS "http://127.0.0.1:$p3/metrics" 2>/dev/null | grep -q '^revenant_dns_switch_success 1'; }
until_ok 30 switched || fail "run did not switch DNS: $(tail -5 "$T/run.log")"
[ "$(cat "$T/record")" = 192.0.2.10 ] || fail "the record is $(cat "$T/record"), not dc's"
curl -fsS "http://127.0.0.1:$p3/metrics" >>"$T/metrics.txt" || fail "no /metrics from run"
kill -TERM "$SB" && wait "$SB"
SB=
# verify's figures, as its CronJob pushes them (the same text).
"$REVENANT" -c "$T/run.yml" verify --metrics-file "$T/verify.prom" >"$T/verify.log" 2>&1 ||
	fail "verify: $(tail -3 "$T/verify.log")"
cat "$T/verify.prom" >>"$T/metrics.txt"
ok

# names FILE: every metric name the expressions in exprs.json use that is
# not exported; exit 1 when there is one.
names() {
	$PY - "$1" "$T/metrics.txt" <<'PY'
import json, re, sys
exprs = json.load(open(sys.argv[1]))
live = set(re.findall(r"^# TYPE (\w+) ", open(sys.argv[2]).read(), re.M))
other = {"up", "container_memory_working_set_bytes"}
words = {"and", "or", "unless", "bool", "by", "without", "on", "ignoring", "offset",
         "group_left", "group_right", "inf", "nan"}
missing = set()
for e in exprs:
    x = re.sub(r'"(?:[^"\\]|\\.)*"', "", e)          # strings
    x = re.sub(r"\{[^}]*\}", "", x)                  # label matchers
    x = re.sub(r"\[[^\]]*\]", "", x)                 # ranges
    x = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", x)
    for name in re.findall(r"(?<![\w.])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()", x):
        if name in words:
            continue
        if name not in live and name not in other:
            missing.add(name)
print(f"{len(live)} names exported; {len(exprs)} expressions", file=sys.stderr)
for m in sorted(missing):
    print(f"not exported by revenant: {m}")
sys.exit(1 if missing else 0)
PY
}
names "$T/exprs.json" >"$T/names.out" || fail "the alerts or the dashboard name metrics revenant does not export: $(cat "$T/names.out")"
ok
$PY -c 'import json,sys; e=json.load(open(sys.argv[1])); e.append("rate(revenant_content_comits_total[5m]) > 0"); json.dump(e, open(sys.argv[2], "w"))' \
	"$T/exprs.json" "$T/bad.json"
names "$T/bad.json" >"$T/bad.out" 2>/dev/null && fail "a misspelt metric was not reported"
grep -q 'revenant_content_comits_total' "$T/bad.out" || fail "the misspelt metric is not named: $(cat "$T/bad.out")"
ok

echo "deploy_monitoring: $checks checks in $((SECONDS - start)) s"
echo "$checks passed, 0 failed"
