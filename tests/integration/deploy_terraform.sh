#!/usr/bin/env bash
# deploy_terraform.sh - deploy/terraform without Terraform (neither it nor
# its providers can run here):
#   - deploy/check/tf_check.js: every .tf parses (npm @cdktf/hcl2json, HCL2
#     offline); per folder, variables declared and used, locals defined,
#     module sources present with the variables they are given and the
#     outputs read from them, resource and data references defined, no
#     account id or access key written in;
#   - the IAM policies of modules/revenant-iam grant exactly the actions
#     revenant's code calls: the S3 operations s3.c makes, mapped to actions
#     by rv_s3_permission's table (s3_xml.c, the table its access-denied
#     messages name), less bucket init's (the bucket is Terraform's) and the
#     versioned recovery's (deploy/iam/recover.json must grant those), and the
#     Route 53 actions route53.c names; replicate deletes only its probe
#     objects (the prefix s3.c's S3_PROBE_PREFIX names), prune may delete
#     everything under the store's prefix;
#   - the stacks and the manifests agree: the roles the overlays' IRSA
#     annotations name are the ones Terraform makes, the ServiceAccounts and
#     namespace its trust policies name exist, and both sites' store.url is
#     the bucket's region and the prefix the policies grant;
#   - the checker is not vacuous: an undeclared variable, a missing module
#     output, an undefined resource, a syntax error and an account id in a
#     copy of the tree are each reported.
# About 2 s.
set -u
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
CHECK=$RV_SRCDIR/deploy/check
TF=$RV_SRCDIR/deploy/terraform
command -v node >/dev/null || fail "node is missing (bash scripts/deps.sh)"
[ -d "$CHECK/node_modules/@cdktf/hcl2json" ] ||
	fail "deploy/check/node_modules is missing: run bash scripts/deps.sh (npm ci in deploy/check)"
T=$(mktemp -d /tmp/rv-deploy-tf.XXXXXX)
trap 'rm -rf "$T"' EXIT
start=$SECONDS
checks=0
ok() { checks=$((checks + 1)); }

node "$CHECK/tf_check.js" "$TF" "$T/iam.json" || fail "tf_check on deploy/terraform"
ok

/usr/bin/python3 - "$RV_SRCDIR" "$T/iam.json" <<'PY' || fail "the IAM policies do not match the code"
import json, re, sys
src, iam = sys.argv[1], json.load(open(sys.argv[2]))
read = lambda p: open(f"{src}/{p}").read()
s3, s3x, bucket, r53 = (read("src/store/s3.c"), read("src/store/s3_xml.c"),
                        read("src/store/s3_bucket.c"), read("src/dns/route53.c"))
table = dict(re.findall(r'\{"([a-z-]+)", "(s3:\w+)"\}', s3x))
ops = set(re.findall(r'req_init\(&r, "([a-z-]+)"', s3))
init_ops = set(re.findall(r'rv_s3_bucket_call(?:_hdr)?\(s, "([a-z-]+)"', bucket))
# The versioned view's reads (restore/verify --versions) belong to a
# recovery role of their own: deploy/iam/recover.json, checked below.
versions_ops = {"list-versions", "get-version", "head-version"}
errors = []
for op in sorted(ops | init_ops):
    if op not in table:
        errors.append(f"s3 operation '{op}' has no action in rv_s3_permission")
code_s3 = {table[o] for o in ops - versions_ops if o in table}
recover = json.load(open(f"{src}/deploy/iam/recover.json"))
rec_acts = {a for st in recover["Statement"]
            for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])}
if not {table[o] for o in versions_ops} <= rec_acts:
    errors.append(f"deploy/iam/recover.json grants {sorted(rec_acts)}, not every action of "
                  f"{sorted(table[o] for o in versions_ops)}")
code_r53 = set(re.findall(r'"(route53:\w+)"', r53))
acts = lambda name: {a for st in iam[name] for a in st["actions"]}
granted = acts("replicate") | acts("prune")
if granted != code_s3:
    errors.append(f"S3 actions granted {sorted(granted)} != called {sorted(code_s3)}")
if acts("route53") != code_r53:
    errors.append(f"Route 53 actions granted {sorted(acts('route53'))} != called {sorted(code_r53)}")
probe = re.search(r'#define S3_PROBE_PREFIX "([^"]+)"', s3).group(1)
for st in iam["replicate"]:
    if "s3:DeleteObject" in st["actions"]:
        if not all(r.endswith("/" + probe + "*") for r in st["resources"]):
            errors.append(f"replicate may delete {st['resources']}, not only {probe}*")
if not any("s3:DeleteObject" in st["actions"] and all(r.endswith("}/*") for r in st["resources"])
           for st in iam["prune"]):
    errors.append("prune cannot delete under the prefix")
for e in errors:
    print("iam: " + e, file=sys.stderr)
print(f"iam: replicate {sorted(acts('replicate'))}; prune {sorted(acts('prune'))}; "
      f"route53 {sorted(acts('route53'))}; bucket init (not granted) "
      f"{sorted(table[o] for o in init_ops)}")
sys.exit(1 if errors else 0)
PY
ok

# The stacks and the manifests agree: role names, namespace and
# ServiceAccounts, the store's bucket region and prefix.
(cd "$TF" && OUT=$T NODE_PATH=$CHECK/node_modules node -e '
const h = require("@cdktf/hcl2json"), fs = require("fs");
(async () => {
	for (const f of process.argv.slice(1))
		fs.writeFileSync(process.env.OUT + "/" + f.replace(/\//g, "_") + ".json",
			JSON.stringify(await h.parse(f, fs.readFileSync(f, "utf8"))));
})().catch((e) => { console.error(String(e)); process.exit(1); });
' dc/main.tf dc/variables.tf dr/main.tf dr/variables.tf modules/revenant-iam/variables.tf \
	modules/revenant-iam/main.tf) 2>"$T/hcl.err" || fail "hcl2json: $(cat "$T/hcl.err")"
/usr/bin/python3 - "$T" "$RV_SRCDIR/deploy/k8s" <<'PY' || fail "the stacks and the manifests disagree"
import json, re, sys, yaml
t, k8s = sys.argv[1:]
j = lambda f: json.load(open(f"{t}/{f.replace('/', '_')}.json"))
iam_vars = j("modules/revenant-iam/variables.tf")["variable"]
iam_main = j("modules/revenant-iam/main.tf")
default = lambda vs, n: vs[n][0].get("default")
errors = []
sas = {d["metadata"]["name"] for d in yaml.safe_load_all(open(f"{k8s}/base/serviceaccounts.yaml"))}
for v in ("service_account", "prune_service_account"):
    if default(iam_vars, v) not in sas:
        errors.append(f"revenant-iam's {v} default {default(iam_vars, v)} is no ServiceAccount in base")
ns = yaml.safe_load(open(f"{k8s}/base/namespace.yaml"))["metadata"]["name"]
if default(iam_vars, "namespace") != ns:
    errors.append(f"revenant-iam's namespace default is not {ns}")
role_keys = set(iam_main["locals"][0]["accounts"].keys())
dr_vars = j("dr/variables.tf")["variable"]
bucket_region = default(dr_vars, "region")
for site in ("dc", "dr"):
    mod = j(f"{site}/main.tf")["module"]["revenant_iam"][0]
    vs = j(f"{site}/variables.tf")["variable"]
    prefix = default(vs, "store_prefix")
    kz = yaml.safe_load(open(f"{k8s}/overlays/{site}/kustomization.yaml"))
    for p in kz.get("patches", []):
        if p["target"]["kind"] != "ServiceAccount":
            continue
        arn = yaml.safe_load(p["patch"])[0]["value"]
        want = f"{mod['name_prefix']}-{p['target']['name']}"
        if p["target"]["name"] not in role_keys or not arn.endswith(f":role/{want}"):
            errors.append(f"overlays/{site}: {p['target']['name']} annotated {arn}, Terraform makes role {want}")
    cfg = yaml.safe_load(open(f"{k8s}/overlays/{site}/revenant.yml"))
    m = re.match(r"s3://[^/]+/([^?]+)\?(?:.*&)?region=([\w-]+)", cfg["store"]["url"])
    if not m or m.group(1).strip("/") != prefix or m.group(2) != bucket_region:
        errors.append(f"overlays/{site}: store.url {cfg['store']['url']} is not prefix {prefix} in {bucket_region}")
for e in errors:
    print("agree: " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
ok

cp -r "$TF" "$T/bad"
sed -i 's/module.replica_bucket.arn$/module.replica_bucket.arnn/' "$T/bad/dr/main.tf"
sed -i 's/var.noncurrent_days/var.noncurrent_dayz/' "$T/bad/modules/replica-bucket/main.tf"
sed -i 's/aws_s3_bucket.replica.arn$/aws_s3_bucket.replika.arn/' "$T/bad/modules/replica-bucket/outputs.tf"
echo 'locals { broken = ' >>"$T/bad/modules/dns/outputs.tf"
echo 'locals { account = "123456789012" }' >>"$T/bad/dc/main.tf"
node "$CHECK/tf_check.js" "$T/bad" "$T/bad.json" 2>"$T/bad.err" && fail "tf_check accepted a broken tree"
for want in 'has no output arnn' 'var.noncurrent_dayz is used but not declared' \
	'aws_s3_bucket.replika is not defined' 'outputs.tf: does not parse' 'a 12-digit number'; do
	grep -qF "$want" "$T/bad.err" || fail "tf_check did not report '$want': $(cat "$T/bad.err")"
done
ok

echo "deploy_terraform: $checks checks in $((SECONDS - start)) s"
echo "$checks passed, 0 failed"
