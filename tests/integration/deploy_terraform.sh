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
#   - the network, EKS and add-on IAM modules and their use (tree_check.py):
#     every variable typed and described, every output described; the
#     subnets carry the Load Balancer Controller's ELB and cluster tags, the
#     private route tables go out through NAT and reach S3 through a gateway
#     endpoint; Secrets encrypted, the private endpoint on, control-plane
#     logs, the OIDC provider and the five add-ons; external-dns may change
#     records in the one zone and only under the site's own names, the
#     cluster autoscaler only Auto Scaling groups tagged as its cluster's,
#     the Load Balancer Controller delete only what carries its tag; each
#     stack feeds revenant-iam from its eks module, has its site's region,
#     the VPC CIDR the overlay's NetworkPolicy names and external-dns on
#     <site>.<public name> as the overlay's annotation, and the outputs the
#     README names; the examples' access entries name the groups
#     deploy/k8s/base/rbac.yaml binds;
#   - the checkers are not vacuous: an undeclared variable, a missing module
#     output, an undefined resource, a syntax error and an account id in a
#     copy of the tree are each reported by tf_check, and an untagged
#     subnet, no S3 endpoint, external-dns on "*", an autoscaler condition
#     on the wrong key, a CIDR off the overlay's, revenant-iam fed past the
#     eks module and an unbound group by tree_check.
# About 3 s.
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

node "$CHECK/tf_check.js" "$TF" "$T/iam.json" "$T/tree.json" || fail "tf_check on deploy/terraform"
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
/usr/bin/python3 - "$T" "$RV_SRCDIR/deploy/k8s" <<'PY' || fail "the stacks and the manifests disagree"
import json, re, sys, yaml
t, k8s = sys.argv[1:]
tree = json.load(open(f"{t}/tree.json"))
j = lambda f: tree[f]
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

# The network, EKS and add-on IAM modules, and how the stacks use them
# (tree_check.py, run on the tree and on broken copies below).
cat >"$T/tree_check.py" <<'PY'
import glob, json, os, re, sys, yaml
tf, tree_file, k8s = sys.argv[1:]
tree = json.load(open(tree_file))
errors = []
def err(m): errors.append(m)
def folder(d):
    """A folder's blocks, merged over its files."""
    out = {"variable": {}, "output": {}, "module": {}, "resource": {}, "data": {}, "locals": {}}
    for f, j in tree.items():
        if os.path.dirname(f) != d:
            continue
        for k in ("variable", "output", "module"):
            out[k].update(j.get(k, {}))
        for k in ("resource", "data"):
            for typ, byname in j.get(k, {}).items():
                for name, b in byname.items():
                    out[k][f"{typ}.{name}"] = b[0]
        for l in j.get("locals", []):
            out["locals"].update(l)
    return out
def text(v): return json.dumps(v)

# Every variable has a type and a description, every output a description.
for d in sorted({os.path.dirname(f) for f in tree}):
    m = folder(d)
    for v, b in m["variable"].items():
        if not b[0].get("description") or "type" not in b[0]:
            err(f"{d}: variable {v} lacks a description or a type")
    for o, b in m["output"].items():
        if not b[0].get("description"):
            err(f"{d}: output {o} lacks a description")

# network: ELB tags on the subnets, the cluster tag, NAT routes, the S3 endpoint.
net = folder("modules/network")
cluster_tag = net["locals"].get("cluster_tag", {})
if list(cluster_tag) != ["kubernetes.io/cluster/${var.cluster_name}"]:
    err(f"network: local.cluster_tag is {cluster_tag}, not kubernetes.io/cluster/<cluster_name>")
for kind, tag in (("public", "kubernetes.io/role/elb"), ("private", "kubernetes.io/role/internal-elb")):
    tags = text(net["resource"].get(f"aws_subnet.{kind}", {}).get("tags", ""))
    if not re.search(r'\\"%s\\"\s*=\s*\\"1\\"' % re.escape(tag), tags):
        err(f"network: the {kind} subnets are not tagged {tag} = 1")
    if "local.cluster_tag" not in tags:
        err(f"network: the {kind} subnets lack the cluster tag")
eps = [b for k, b in net["resource"].items() if k.startswith("aws_vpc_endpoint.")
       and b.get("vpc_endpoint_type") == "Gateway" and str(b.get("service_name", "")).endswith(".s3")]
if not eps or "aws_route_table.private" not in text(eps[0].get("route_table_ids")):
    err("network: no S3 gateway endpoint on the private route tables")
if "aws_nat_gateway." not in text(net["resource"].get("aws_route.private_nat", {}).get("nat_gateway_id")):
    err("network: the private route tables have no route through a NAT gateway")

# eks: encrypted Secrets, logs, private endpoint, the OIDC provider, the add-ons.
eks = folder("modules/eks")
c = eks["resource"].get("aws_eks_cluster.this", {})
if c.get("encryption_config", [{}])[0].get("resources") != ["secrets"]:
    err("eks: Secrets are not envelope-encrypted")
if c.get("vpc_config", [{}])[0].get("endpoint_private_access") is not True:
    err("eks: the private endpoint is off")
if not eks["variable"].get("cluster_log_types", [{}])[0].get("default"):
    err("eks: no control-plane log types by default")
oidc = eks["resource"].get("aws_iam_openid_connect_provider.this", {})
if oidc.get("client_id_list") != ["sts.amazonaws.com"] or "aws_eks_cluster.this.identity" not in text(oidc.get("url")):
    err("eks: no OIDC provider for the cluster's issuer")
addons = set()
for k, b in eks["resource"].items():
    if k.startswith("aws_eks_addon."):
        fe = b.get("for_each", "")
        addons |= set(re.findall(r'\\?"([a-z-]+)\\?"', fe)) if fe else {b["addon_name"]}
want = {"vpc-cni", "kube-proxy", "coredns", "aws-ebs-csi-driver", "eks-pod-identity-agent"}
if not want <= addons:
    err(f"eks: add-ons {sorted(want - addons)} missing")

# addons-iam: external-dns and the autoscaler scoped, the controller's policy well-formed.
ai = folder("modules/addons-iam")
def stmts(name):
    return ai["data"].get(f"aws_iam_policy_document.{name}", {}).get("statement", [])
for st in stmts("external_dns") + stmts("cluster_autoscaler") + stmts("load_balancer_controller"):
    if "*" in st.get("actions", []) or any(a.endswith(":*") for a in st.get("actions", [])):
        err(f"addons-iam: a wildcard action {st.get('actions')}")
crr = [st for st in stmts("external_dns") if "route53:ChangeResourceRecordSets" in st.get("actions", [])]
if not crr:
    err("addons-iam: external-dns cannot change records")
for st in crr:
    res = [ai["locals"].get(r[8:-1], r) if re.fullmatch(r"\$\{local\.\w+\}", r) else r for r in st.get("resources", [])]
    if any(r == "*" or "hostedzone/*" in r for r in res):
        err(f"addons-iam: external-dns may change records in any zone ({res})")
    if "route53:ChangeResourceRecordSetsNormalizedRecordNames" not in [c.get("variable") for c in st.get("condition", [])]:
        err("addons-iam: external-dns's changes are not limited to the site's names")
scale = [st for st in stmts("cluster_autoscaler") if {"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"} & set(st.get("actions", []))]
if not scale:
    err("addons-iam: the cluster autoscaler cannot scale")
for st in scale:
    conds = [c.get("variable") for c in st.get("condition", [])]
    if "*" in st.get("resources", []) or "aws:ResourceTag/k8s.io/cluster-autoscaler/${var.cluster_name}" not in conds:
        err("addons-iam: the cluster autoscaler may scale groups that are not its cluster's")
lbc = json.load(open(f"{tf}/modules/addons-iam/aws-load-balancer-controller.json"))
owned = set()
for st in lbc["Statement"]:
    if st.get("Effect") != "Allow" or not st.get("Action") or not st.get("Resource"):
        err(f"addons-iam: load balancer controller statement {st.get('Sid')} lacks Effect/Action/Resource")
    if "Null" in st.get("Condition", {}) and st["Condition"]["Null"].get("aws:ResourceTag/elbv2.k8s.aws/cluster") == "false":
        owned |= set(st["Action"])
# An inline role policy (all of a role's together) holds 10,240 characters.
if len(json.dumps(lbc, separators=(",", ":"))) > 10240:
    err("addons-iam: the load balancer controller's policy is over IAM's 10,240 characters")
for a in ("elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DeleteTargetGroup", "ec2:DeleteSecurityGroup"):
    if a not in owned:
        err(f"addons-iam: the load balancer controller's {a} is not limited to its own (elbv2.k8s.aws/cluster)")

# The stacks: revenant-iam fed from the eks module (or the existing cluster),
# the site's CIDR as the overlay's NetworkPolicy, external-dns on the site's
# own name, the outputs the README names.
for site, region in (("dc", "eu-west-1"), ("dr", "eu-west-2")):
    st = folder(site)
    loc = st["locals"]
    for k in ("oidc_provider_arn", "oidc_provider_url", "cluster_name"):
        if st["module"]["revenant_iam"][0].get(k) != f"${{local.{k}}}" or f"module.eks[0].{k}" not in loc.get(k, ""):
            err(f"{site}: revenant_iam's {k} does not come from the eks module")
    for mod in ("network", "eks"):
        if "var.create_cluster" not in st["module"].get(mod, [{}])[0].get("count", ""):
            err(f"{site}: module {mod} is missing or not behind create_cluster")
    if st["variable"]["region"][0].get("default") != region:
        err(f"{site}: region is not {region}")
    kz = yaml.safe_load(open(f"{k8s}/overlays/{site}/kustomization.yaml"))
    cidr = host = None
    for p in kz.get("patches", []):
        for op in yaml.safe_load(p["patch"]):
            if op["path"].endswith("ipBlock/cidr"):
                cidr = op["value"]
            if op["path"].endswith("external-dns.alpha.kubernetes.io~1hostname"):
                host = op["value"]
    if st["variable"]["vpc_cidr"][0].get("default") != cidr:
        err(f"{site}: vpc_cidr {st['variable']['vpc_cidr'][0].get('default')} is not the overlay's NetworkPolicy CIDR {cidr}")
    names = st["module"]["addons_iam"][0].get("external_dns_names", "")
    if loc.get("site") != site or "${local.site}.${var.public_name}" not in names or not (host or "").startswith(f"{site}."):
        err(f"{site}: external-dns may publish {names} (site {loc.get('site')}), the overlay's name is {host}")
    for o in ("cluster_name", "kubeconfig_command", "addon_role_arns", "revenant_role_arns"):
        if o not in st["output"]:
            err(f"{site}: no output {o}")
# The groups the examples map IAM roles to are the ones the RBAC binds.
bound = {s["name"] for d in yaml.safe_load_all(open(f"{k8s}/base/rbac.yaml")) if d
         for s in d.get("subjects", []) if s.get("kind") == "Group"}
for site in ("dc", "dr"):
    ex = open(f"{tf}/{site}/terraform.tfvars.example").read()
    groups = set(re.findall(r'groups = \[((?:"[^"]+",? ?)+)\]', ex))
    named = {g for gs in groups for g in re.findall(r'"([^"]+)"', gs)}
    if not named or named - bound:
        err(f"{site}: terraform.tfvars.example maps roles to groups {sorted(named)}, rbac.yaml binds {sorted(bound)}")
for e in errors:
    print("tree: " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
/usr/bin/python3 "$T/tree_check.py" "$TF" "$T/tree.json" "$RV_SRCDIR/deploy/k8s" ||
	fail "the network, EKS and add-on modules or their use"
ok

# The checkers refuse a broken copy: tf_check ...
cp -r "$TF" "$T/bad"
sed -i 's/module.replica_bucket.arn$/module.replica_bucket.arnn/' "$T/bad/dr/main.tf"
sed -i 's/var.noncurrent_days/var.noncurrent_dayz/' "$T/bad/modules/replica-bucket/main.tf"
sed -i 's/aws_s3_bucket.replica.arn$/aws_s3_bucket.replika.arn/' "$T/bad/modules/replica-bucket/outputs.tf"
echo 'locals { broken = ' >>"$T/bad/modules/dns/outputs.tf"
echo 'locals { account = "123456789012" }' >>"$T/bad/dc/main.tf"
# ... and tree_check.
sed -i 's|"kubernetes.io/role/elb" = "1"|"kubernetes.io/role/elx" = "1"|' "$T/bad/modules/network/main.tf"
sed -i 's|vpc_endpoint_type = "Gateway"|vpc_endpoint_type = "Interface"|' "$T/bad/modules/network/main.tf"
sed -i 's|resources = \[local.zone_arn\]|resources = ["*"]|' "$T/bad/modules/addons-iam/main.tf"
sed -i 's|aws:ResourceTag/k8s.io/cluster-autoscaler/|aws:RequestTag/k8s.io/cluster-autoscaler/|' "$T/bad/modules/addons-iam/main.tf"
sed -i 's|"10.20.0.0/16"|"10.30.0.0/16"|' "$T/bad/dr/variables.tf"
sed -i 's|oidc_provider_arn = local.oidc_provider_arn|oidc_provider_arn = var.oidc_provider_arn|' "$T/bad/dc/main.tf"
sed -i 's|"ghost:dev"|"ghost:developers"|' "$T/bad/dr/terraform.tfvars.example"
node "$CHECK/tf_check.js" "$T/bad" "$T/bad.json" "$T/bad-tree.json" 2>"$T/bad.err" && fail "tf_check accepted a broken tree"
for want in 'has no output arnn' 'var.noncurrent_dayz is used but not declared' \
	'aws_s3_bucket.replika is not defined' 'outputs.tf: does not parse' 'a 12-digit number'; do
	grep -qF "$want" "$T/bad.err" || fail "tf_check did not report '$want': $(cat "$T/bad.err")"
done
ok
/usr/bin/python3 "$T/tree_check.py" "$T/bad" "$T/bad-tree.json" "$RV_SRCDIR/deploy/k8s" 2>"$T/bad2.err" &&
	fail "tree_check accepted a broken tree"
for want in 'public subnets are not tagged kubernetes.io/role/elb' 'no S3 gateway endpoint' \
	'external-dns may change records in any zone' 'may scale groups that are not' \
	"dr: vpc_cidr 10.30.0.0/16 is not" "dc: revenant_iam's oidc_provider_arn does not come" \
	"dr: terraform.tfvars.example maps roles to groups ['ghost:developers'"; do
	grep -qF "$want" "$T/bad2.err" || fail "tree_check did not report '$want': $(cat "$T/bad2.err")"
done
ok

echo "deploy_terraform: $checks checks in $((SECONDS - start)) s"
echo "$checks passed, 0 failed"
