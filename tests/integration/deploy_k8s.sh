#!/usr/bin/env bash
# deploy_k8s.sh - the Kubernetes manifests in deploy/k8s, offline:
#   - `kubectl kustomize` renders the base, overlays/dc, overlays/dr and
#     examples/single-site (kubectl 1.32 with its built-in kustomize);
#   - deploy/check/k8s_check.py on each rendering: every document parses
#     with apiVersion/kind/name, images pinned (no latest), resources set,
#     non-root, revenant read-only, no secret values, references resolve,
#     Ghost a single writer, the site's role (single-site replicate; dc
#     and dr `run` with Ghost behind the gate);
#   - deploy/check/k8s_schema.js: every object against the Kubernetes
#     schemas of npm kubernetes-models 4.5.1, unknown fields refused;
#   - every revenant.yml in a ConfigMap passes `revenant config check`,
#     run in an empty network namespace (the check opens no connection:
#     the store and DNS names in them need not exist);
#   - the on-demand Job template (jobs/purge-posts.yaml) and the cluster's
#     gp3 StorageClass (cluster/) the same way, and the StorageClass is the
#     one the manifests name;
#   - the checkers are not vacuous: a deep unknown field, a `latest` image,
#     a password in an env value, Ghost outside the gate and a broken
#     revenant.yml are refused;
#   - ghost-gate.sh parses (sh -n) and its gate path is the one revenant.yml
#     names (integration/gate.sh runs it with a real Ghost).
# About 5 s.
set -u
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
K8S=$RV_SRCDIR/deploy/k8s
CHECK=$RV_SRCDIR/deploy/check
PY=/usr/bin/python3
command -v kubectl >/dev/null ||
	fail "kubectl is missing: this machine image ships kubectl 1.32 (kustomize built in); elsewhere install kubectl >= 1.27 from the Kubernetes project's packages"
command -v node >/dev/null || fail "node is missing (bash scripts/deps.sh)"
[ -d "$CHECK/node_modules/kubernetes-models" ] ||
	fail "deploy/check/node_modules is missing: run bash scripts/deps.sh (npm ci in deploy/check)"
$PY -c 'import yaml' 2>/dev/null || fail "python3-yaml is missing (bash scripts/deps.sh)"
command -v unshare >/dev/null || fail "unshare (util-linux) is missing"

T=$(mktemp -d /tmp/rv-deploy-k8s.XXXXXX)
trap 'rm -rf "$T"' EXIT
checks=0
ok() { checks=$((checks + 1)); }
start=$SECONDS

# config_check FILE: revenant config check with no network at all (the
# database server is not asked: --offline; the password the pod gets from
# its Secret is a stand-in).
config_check() {
	REVENANT_DB_PASSWORD=stand-in unshare -n "$REVENANT" config check --offline -c "$1" >"$T/cc.out" 2>&1
}

for k in base:base overlays/dc:dc overlays/dr:dr examples/single-site:single; do
	dir=${k%%:*} site=${k##*:}
	out="$T/${dir//\//-}"
	kubectl kustomize "$K8S/$dir" >"$out.yaml" 2>"$out.err" || fail "kubectl kustomize $dir: $(cat "$out.err")"
	args=()
	[ "$site" = base ] || args=(--site "$site")
	$PY "$CHECK/k8s_check.py" "$out.yaml" "$out" "${args[@]}" || fail "k8s_check on $dir"
	node "$CHECK/k8s_schema.js" "$out/objects.json" >/dev/null || fail "schemas on $dir"
	n=0
	for cfg in "$out"/revenant-*.yml; do
		[ -f "$cfg" ] || continue
		config_check "$cfg" || fail "$dir: revenant config check on $(basename "$cfg"): $(cat "$T/cc.out")"
		n=$((n + 1))
	done
	[ "$n" -ge 1 ] || fail "$dir: no revenant.yml in its ConfigMaps"
	echo "$dir: $(grep -c '^kind:' "$out.yaml") objects, $n revenant.yml checked"
	ok
done

# The Job templates and the cluster-wide objects (the gp3 StorageClass the
# manifests name), outside every kustomization.
for j in "$K8S"/jobs/*.yaml "$K8S"/cluster/*.yaml; do
	n=$(basename "$j" .yaml)
	$PY "$CHECK/k8s_check.py" "$j" "$T/jobs-$n" || fail "k8s_check on jobs/$n.yaml"
	node "$CHECK/k8s_schema.js" "$T/jobs-$n/objects.json" >/dev/null || fail "schemas on jobs/$n.yaml"
done
$PY - "$T" "$K8S/cluster" <<'PY' || fail "a StorageClass the manifests name is not in deploy/k8s/cluster"
import glob, json, sys, yaml
t, cluster = sys.argv[1:]
have = {d["metadata"]["name"] for f in glob.glob(f"{cluster}/*.yaml")
        for d in yaml.safe_load_all(open(f)) if d and d["kind"] == "StorageClass"}
def names(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "storageClassName":
                yield x
            else:
                yield from names(x)
    elif isinstance(v, list):
        for x in v:
            yield from names(x)
want = {n for f in glob.glob(f"{t}/*/objects.json") for n in names(json.load(open(f)))}
missing = want - have
if not want or missing:
    print(f"storage classes named {sorted(want)}, deploy/k8s/cluster has {sorted(have)}", file=sys.stderr)
sys.exit(1 if not want or missing else 0)
PY
ok

# The checkers refuse what they must.
$PY - "$T/overlays-dc/objects.json" "$T/bad.json" <<'PY' || fail "cannot make the broken objects"
import json, sys
objs = json.load(open(sys.argv[1]))
for o in objs:
    if o["kind"] == "CronJob":
        o["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["readonly"] = True
json.dump(objs, open(sys.argv[2], "w"))
PY
node "$CHECK/k8s_schema.js" "$T/bad.json" 2>"$T/bad.err" && fail "k8s_schema accepted an unknown field"
grep -q 'volumeMounts\[0\].readonly: unknown field' "$T/bad.err" || fail "k8s_schema did not name the field: $(cat "$T/bad.err")"
$PY - "$T/overlays-dc.yaml" "$T/bad.yaml" <<'PY' || fail "cannot make the broken manifests"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for d in docs:
    if d["kind"] == "Deployment" and d["metadata"]["name"] == "ghost":
        c = d["spec"]["template"]["spec"]["containers"]
        c[1]["image"] = c[1]["image"].rsplit(":", 1)[0] + ":latest"
        c[0]["env"].append({"name": "DB_PASSWORD", "value": "hunter2"})
        del c[0]["command"]  # Ghost no longer behind the gate
    if d["kind"] == "ConfigMap" and "revenant.yml" in d.get("data", {}):
        # a literal password where ${REVENANT_DB_PASSWORD} belongs
        d["data"]["revenant.yml"] += "database:\n  mysql:\n    password: hunter2\n"
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
PY
$PY "$CHECK/k8s_check.py" "$T/bad.yaml" "$T/bad" --site dc 2>"$T/bad2.err" && fail "k8s_check accepted a latest image and a password value"
grep -q 'uses latest' "$T/bad2.err" || fail "k8s_check missed the latest tag: $(cat "$T/bad2.err")"
grep -q 'DB_PASSWORD holds a value' "$T/bad2.err" || fail "k8s_check missed the password: $(cat "$T/bad2.err")"
grep -q "Ghost's command is not ghost-gate.sh" "$T/bad2.err" || fail "k8s_check missed an ungated Ghost: $(cat "$T/bad2.err")"
grep -q 'revenant.yml holds a credential' "$T/bad2.err" || fail "k8s_check missed a password in revenant.yml: $(cat "$T/bad2.err")"
cfg=$(ls "$T/overlays-dc"/revenant-*.yml | head -1)
sed 's/^sync_interval: 1s/sync_interval: 1/' "$cfg" >"$T/bad.yml"
config_check "$T/bad.yml" && fail "config check accepted sync_interval: 1"
ok

sh -n "$K8S/components/gate/ghost-gate.sh" || fail "ghost-gate.sh does not parse"
ok

echo "deploy_k8s: $checks checks in $((SECONDS - start)) s"
echo "$checks passed, 0 failed"
