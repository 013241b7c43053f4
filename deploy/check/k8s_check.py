#!/usr/bin/python3
"""k8s_check.py - checks on the rendered manifests of one kustomization that
the schemas cannot make (tests/integration/deploy_k8s.sh runs it on every
overlay and example; deploy/check/k8s_schema.js does the schemas).

  k8s_check.py RENDERED.yaml OUT_DIR [--site dc|dr|single]

Writes OUT_DIR/objects.json (every object, for k8s_schema.js) and
OUT_DIR/revenant-<configmap>.yml (every revenant.yml a ConfigMap carries,
for `revenant config check`).  Checks:
  - every document parses, has apiVersion, kind, metadata.name;
  - every container image is pinned: a tag other than `latest`, or a digest;
  - every container has cpu and memory requests and a memory limit;
  - every pod meets Pod Security "restricted": non-root, no privilege
    escalation, every capability dropped, a RuntimeDefault seccomp profile,
    no host namespaces or hostPath; revenant's containers also have a
    read-only root filesystem;
  - no Secret objects and no secret values: env entries whose name says
    password/secret/token/key come from secretKeyRef, and no ConfigMap holds
    a key that looks like a credential;
  - references resolve inside the rendering: ServiceAccounts, ConfigMaps
    (env and volumes), PVCs, Services behind the Ingress and the front end,
    the HPA's target, Service selectors that match a pod template;
  - Ghost is one writer: replicas <= 1, strategy Recreate, no HPA on it;
  - revenant's metrics listen where the probes and the container port are;
  - the site's role: a single site runs `replicate` beside Ghost; dc and
    dr both run `run` with Ghost behind the gate (components/gate: one
    emptyDir in both containers at revenant.yml's hooks.gate, Ghost's
    command ghost-gate.sh, no HTTP liveness probe on Ghost, a
    failover.initial_primary), and dr's prune is suspended.
Exits 1 with one line per problem.
"""

import json
import os
import re
import sys

import yaml

SECRETISH = re.compile(r"(password|passwd|secret|token|api_?key|access_?key)", re.I)
CRED_IN_CONFIG = re.compile(
    r"^\s*(secret_access_key|access_key_id|session_token|admin_key|key_secret|password)\s*:(.*)$", re.M
)
# A value that only names an environment variable (filled from a Secret in
# the pod) is no credential.
ENV_REF = re.compile(r"""\s*(["']?)\$\{[A-Za-z_][A-Za-z0-9_]*\}\1\s*(#.*)?""")

problems = []


def bad(msg):
    problems.append(msg)


def pod_spec(o):
    k = o["kind"]
    if k in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return o["spec"]["template"]["spec"]
    if k == "CronJob":
        return o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def pod_labels(o):
    k = o["kind"]
    if k == "CronJob":
        return o["spec"]["jobTemplate"]["spec"]["template"].get("metadata", {}).get("labels", {})
    return o["spec"]["template"].get("metadata", {}).get("labels", {})


def check_container(where, c, pod_sc):
    img = c.get("image", "")
    name_tag = img.split("@")[0]
    if "@sha256:" not in img:
        last = name_tag.rsplit("/", 1)[-1]
        if ":" not in last:
            bad(f"{where}: image '{img}' has no tag")
        elif last.endswith(":latest"):
            bad(f"{where}: image '{img}' uses latest")
    res = c.get("resources", {})
    for part, keys in (("requests", ("cpu", "memory")), ("limits", ("memory",))):
        for k in keys:
            if k not in res.get(part, {}):
                bad(f"{where}: no resources.{part}.{k}")
    sc = c.get("securityContext", {})
    if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
        bad(f"{where}: not runAsNonRoot")
    if sc.get("allowPrivilegeEscalation") is not False:
        bad(f"{where}: allowPrivilegeEscalation is not false")
    if "ALL" not in sc.get("capabilities", {}).get("drop", []):
        bad(f"{where}: capabilities are not all dropped")
    if "revenant" in img and sc.get("readOnlyRootFilesystem") is not True:
        bad(f"{where}: revenant without readOnlyRootFilesystem")
    for e in c.get("env", []):
        if SECRETISH.search(e["name"]) and "value" in e:
            bad(f"{where}: env {e['name']} holds a value, not a secretKeyRef")
        if "value" in e and re.search(r"(AKIA|ASIA)[A-Z0-9]{16}", e["value"]):
            bad(f"{where}: env {e['name']} holds an AWS access key id")


def check_gate(ghost, side, rv, cms, bad):
    """Two sites: Ghost runs behind the gate revenant's `run` holds
    (components/gate): one volume mounted in both containers where the
    revenant.yml's hooks.gate says, Ghost's command the wrapper, and a
    failover: section naming the first primary."""
    spec = pod_spec(ghost)
    gh = side.get("ghost")
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = lambda c: {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    cfgs = [v["configMap"]["name"] for v in vols.values() if "configMap" in v]
    cfg = next((yaml.safe_load(cms[n]["data"]["revenant.yml"]) for n in cfgs
                if n in cms and "revenant.yml" in cms[n].get("data", {})), None) or {}
    gate = (cfg.get("hooks") or {}).get("gate")
    if not gate:
        bad("Deployment/ghost: revenant.yml sets no hooks.gate: nothing stops Ghost at a fenced or standby site")
        return
    shared = [n for n, p in mounts(rv).items() if p == gate and mounts(gh or {}).get(n) == gate]
    if not shared or "emptyDir" not in vols.get(shared[0], {}):
        bad(f"Deployment/ghost: the gate {gate} is not one emptyDir mounted in both containers")
    cmd = (gh or {}).get("command", [])
    if not any(str(a).endswith("ghost-gate.sh") for a in cmd) or gate not in cmd:
        bad(f"Deployment/ghost: Ghost's command is not ghost-gate.sh {gate} …")
    if "httpGet" in (gh or {}).get("livenessProbe", {}):
        bad("Deployment/ghost: an HTTP liveness probe on a gated Ghost restarts it forever at the standby")
    if not (cfg.get("failover") or {}).get("initial_primary"):
        bad("Deployment/ghost: revenant.yml names no failover.initial_primary: no site would start the store")


def main():
    src, out = sys.argv[1], sys.argv[2]
    site = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--site" else None
    os.makedirs(out, exist_ok=True)
    try:
        docs = [d for d in yaml.safe_load_all(open(src)) if d is not None]
    except yaml.YAMLError as e:
        sys.exit(f"k8s_check: {src}: {e}")
    if not docs:
        sys.exit(f"k8s_check: {src}: no objects")
    by = {}
    for i, o in enumerate(docs):
        if not isinstance(o, dict):
            bad(f"document {i}: not a mapping")
            continue
        for k in ("apiVersion", "kind"):
            if not o.get(k):
                bad(f"document {i}: no {k}")
        meta = o.get("metadata", {})
        name = meta.get("name") or meta.get("generateName")
        if not name:
            bad(f"document {i} ({o.get('kind')}): no metadata.name")
            continue
        meta.setdefault("name", name)
        by.setdefault(o["kind"], {})[name] = o
    json.dump(docs, open(os.path.join(out, "objects.json"), "w"))

    if "Secret" in by:
        bad(f"Secret objects in the manifests: {sorted(by['Secret'])} (reference them, never ship them)")
    cms = by.get("ConfigMap", {})
    for name, cm in cms.items():
        for key, text in cm.get("data", {}).items():
            if any(not ENV_REF.fullmatch(m.group(2)) for m in CRED_IN_CONFIG.finditer(text)):
                bad(f"ConfigMap/{name}: {key} holds a credential")
            if key == "revenant.yml":
                with open(os.path.join(out, f"revenant-{name}.yml"), "w") as f:
                    f.write(text)
    sas, pvcs, svcs = by.get("ServiceAccount", {}), by.get("PersistentVolumeClaim", {}), by.get("Service", {})

    workloads = [o for k in ("Deployment", "StatefulSet", "CronJob", "Job") for o in by.get(k, {}).values()]
    for o in workloads:
        ps = pod_spec(o)
        wname = f"{o['kind']}/{o['metadata']['name']}"
        sa = ps.get("serviceAccountName")
        if sa and sa not in sas:
            bad(f"{wname}: ServiceAccount '{sa}' is not in the manifests")
        if ps.get("automountServiceAccountToken") is not False:
            bad(f"{wname}: the API token is mounted (automountServiceAccountToken not false)")
        psc = ps.get("securityContext", {})
        # Pod Security "restricted" (namespace.yaml enforces it).
        for k in ("hostNetwork", "hostPID", "hostIPC"):
            if ps.get(k):
                bad(f"{wname}: {k}")
        for v in ps.get("volumes", []):
            if "hostPath" in v:
                bad(f"{wname}: hostPath volume '{v['name']}'")
        for c in ps.get("initContainers", []) + ps["containers"]:
            sp = c.get("securityContext", {}).get("seccompProfile") or psc.get("seccompProfile")
            if not sp or sp.get("type") not in ("RuntimeDefault", "Localhost"):
                bad(f"{wname}/{c['name']}: no RuntimeDefault seccomp profile")
            check_container(f"{wname}/{c['name']}", c, psc)
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("configMapKeyRef")
                if ref and ref["name"] not in cms:
                    bad(f"{wname}/{c['name']}: ConfigMap '{ref['name']}' is not in the manifests")
                elif ref and ref["key"] not in cms[ref["name"]].get("data", {}):
                    bad(f"{wname}/{c['name']}: ConfigMap '{ref['name']}' has no key '{ref['key']}'")
        for v in ps.get("volumes", []):
            if "configMap" in v and v["configMap"]["name"] not in cms:
                bad(f"{wname}: volume ConfigMap '{v['configMap']['name']}' is not in the manifests")
            if "persistentVolumeClaim" in v and v["persistentVolumeClaim"]["claimName"] not in pvcs:
                bad(f"{wname}: PVC '{v['persistentVolumeClaim']['claimName']}' is not in the manifests")
            if "secret" in v and v["secret"].get("secretName") and "Secret" in by:
                pass

    for name, s in svcs.items():
        sel = s["spec"].get("selector", {})
        if sel and not any(all(pod_labels(o).get(k) == v for k, v in sel.items()) for o in workloads):
            bad(f"Service/{name}: its selector {sel} matches no pod template")
    for name, ing in by.get("Ingress", {}).items():
        for r in ing["spec"].get("rules", []):
            if r.get("host"):
                bad(f"Ingress/{name}: a rule host ({r['host']}) makes external-dns own that name")
            for p in r["http"]["paths"]:
                if p["backend"]["service"]["name"] not in svcs:
                    bad(f"Ingress/{name}: backend Service '{p['backend']['service']['name']}' is missing")
    deps = by.get("Deployment", {})
    for name, h in by.get("HorizontalPodAutoscaler", {}).items():
        t = h["spec"]["scaleTargetRef"]
        if t["name"] not in by.get(t["kind"], {}):
            bad(f"HorizontalPodAutoscaler/{name}: target {t['kind']}/{t['name']} is missing")
        if t["name"] == "ghost":
            bad(f"HorizontalPodAutoscaler/{name}: Ghost is a single writer and must not scale")

    # The Prometheus Operator's objects (no schema in kubernetes-models).
    for name, pm in by.get("PodMonitor", {}).items():
        sel = pm["spec"].get("selector", {}).get("matchLabels", {})
        pods = [o for o in workloads if sel and all(pod_labels(o).get(k) == v for k, v in sel.items())]
        if not pods:
            bad(f"PodMonitor/{name}: its selector {sel} matches no pod template")
        for ep in pm["spec"].get("podMetricsEndpoints", []):
            for o in pods:
                names = {p.get("name") for c in pod_spec(o)["containers"] for p in c.get("ports", [])}
                if ep.get("port") not in names:
                    bad(f"PodMonitor/{name}: {o['metadata']['name']} has no port '{ep.get('port')}'")
    for name, pr in by.get("PrometheusRule", {}).items():
        groups = pr.get("spec", {}).get("groups", [])
        if not groups:
            bad(f"PrometheusRule/{name}: no groups")
        for g in groups:
            for r in g.get("rules", []):
                if not r.get("expr") or not (r.get("alert") or r.get("record")):
                    bad(f"PrometheusRule/{name}: a rule in {g.get('name')} without expr and alert/record")

    ghost = deps.get("ghost")
    if not ghost and site:
        bad("no Deployment/ghost")
    ghost_ok = ghost is not None
    if ghost:
        if ghost["spec"].get("replicas", 1) > 1:
            bad("Deployment/ghost: more than one replica (Ghost is a single writer)")
        if ghost["spec"].get("strategy", {}).get("type") != "Recreate":
            bad("Deployment/ghost: strategy is not Recreate (two pods would share the volume)")

    # revenant's metrics address agrees with its ports and probes.
    for o in workloads:
        for c in pod_spec(o)["containers"]:
            if "revenant" not in c.get("image", "") or o["kind"] in ("CronJob", "Job"):
                continue
            cfgs = [v["configMap"]["name"] for v in pod_spec(o).get("volumes", []) if "configMap" in v]
            cfg = next((yaml.safe_load(cms[n]["data"]["revenant.yml"]) for n in cfgs
                        if n in cms and "revenant.yml" in cms[n].get("data", {})), None)
            if cfg is None:
                bad(f"{o['kind']}/{o['metadata']['name']}: revenant has no revenant.yml mounted")
                continue
            listen = str(cfg.get("metrics", {}).get("listen", "127.0.0.1:9187"))
            host, _, port = listen.rpartition(":")
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            if host in ("127.0.0.1", "localhost", "[::1]"):
                bad(f"{o['metadata']['name']}: metrics.listen {listen} is unreachable for probes")
            if ports.get("metrics") != int(port):
                bad(f"{o['metadata']['name']}: container port 'metrics' is not {port}")
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                p = c.get(probe)
                if p and "httpGet" in p and p["httpGet"]["port"] not in ("metrics", int(port)):
                    bad(f"{o['metadata']['name']}: {probe} is not on the metrics port")

    if site and ghost_ok:
        side = {c["name"]: c for c in pod_spec(ghost)["containers"]}
        rv = side.get("revenant")
        want = "replicate" if site == "single" else "run"
        if not rv or want not in rv.get("args", []):
            bad(f"Deployment/ghost: no revenant sidecar running {want}")
        if site == "single" and (rv or {}).get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
            bad("Deployment/ghost: revenant has no /healthz liveness probe")
        if site != "single" and not (rv or {}).get("livenessProbe"):
            bad("Deployment/ghost: revenant has no liveness probe")
        cron = by.get("CronJob", {}).get("revenant-prune")
        if not cron or "prune" not in cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]:
            bad("no CronJob/revenant-prune running prune")
        if ghost["spec"].get("replicas", 1) != 1:
            bad(f"{site}: the Ghost pod must run (at a standby site Ghost waits behind the gate)")
        if site in ("dc", "dr") and rv:
            check_gate(ghost, side, rv, cms, bad)
        if site == "dr" and cron and not cron["spec"].get("suspend"):
            bad("dr: prune must be suspended at the standby site")

    if problems:
        for p in problems:
            print(f"k8s_check: {src}: {p}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {len(docs)} objects in {src}")


if __name__ == "__main__":
    main()
