#!/usr/bin/python3
"""The Kubernetes manifests (docs/deployment.md): `kubectl kustomize` renders
deploy/k8s and deploy/k8s-try, and in what it renders everything refers to
something that exists and the binaries accept:

  - every probe port is a containerPort of its container (name or number),
    every Service selector and targetPort matches some pod template, every
    PodDisruptionBudget selects pods, every StatefulSet's serviceName is a
    headless Service;
  - every volumeMount names a volume (or volume claim template), every
    ConfigMap a pod uses (volume, configMapKeyRef with its key, envFrom)
    exists, and $(VAR) in an env value names a variable defined before it;
  - for every Baton container: its --config file is a key of a ConfigMap
    mounted at that path, every key in that YAML, every --flag and every
    BATON_* variable is one the binary accepts (from its --help), and its
    required keys are set; every YAML file in those ConfigMaps is some
    container's --config;
  - the shape the product needs: 3 arbiter replicas; a gateway pod's
    readiness is its gateway's /readyz alone (so the client Service selects
    only the active), its peers Service publishes not-ready pods, the agent
    shares the gateway's pid namespace when it watches its pid file; every
    container runs as non-root on a read-only root filesystem without
    privilege escalation, with resource requests and limits; every Baton
    workload has a PodDisruptionBudget.

Then the same checks run on broken copies (an unknown config key, an
unknown BATON_ variable, a probe on a missing port, ...) to show that each
one fails. KUBECTL= picks the kubectl; exit 77 (skip) if there is none.
"""

import copy
import os
import re
import shutil
import subprocess
import sys

import yaml

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_util  # noqa: E402
from deploy_util import Failure  # noqa: E402

KUSTOMIZATIONS = ["deploy/k8s", "deploy/k8s-try"]
WORKLOADS = ("StatefulSet", "Deployment", "DaemonSet", "ReplicaSet", "Job")
BATON_BINARIES = ("baton-gateway", "baton-agent", "baton-arbiter")


def render(kubectl, path):
    out = subprocess.run([kubectl, "kustomize", os.path.join(deploy_util.SOURCE_DIR, path)],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise Failure(f"kubectl kustomize {path} exited {out.returncode}:\n{out.stderr}")
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    if not docs:
        raise Failure(f"kubectl kustomize {path} rendered nothing")
    return docs


def name_of(doc):
    return f"{doc['kind']}/{doc['metadata']['name']}"


def pod_templates(docs):
    """[(owner name, pod metadata, pod spec, owner doc)]"""
    pods = []
    for d in docs:
        if d["kind"] in WORKLOADS:
            t = d["spec"]["template"]
            pods.append((name_of(d), t.get("metadata", {}), t["spec"], d))
        elif d["kind"] == "Pod":
            pods.append((name_of(d), d["metadata"], d["spec"], d))
    return pods


def containers(spec):
    return spec.get("initContainers", []) + spec.get("containers", [])


def binary_of(container):
    command = container.get("command") or []
    return os.path.basename(command[0]) if command else None


def flag_args(container):
    """{--key: value} of the command and args after the binary."""
    argv = (container.get("command") or [])[1:] + (container.get("args") or [])
    flags = {}
    i = 0
    while i < len(argv):
        if argv[i].startswith("--"):
            flags[argv[i][2:]] = argv[i + 1] if i + 1 < len(argv) else None
            i += 2
        else:
            i += 1
    return flags


class Checker:
    def __init__(self, schemas):
        self.schemas = schemas  # binary -> {"keys": {key: env}, "required": set}

    def check(self, docs):
        problems = []
        pods = pod_templates(docs)
        configmaps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
        services = [d for d in docs if d["kind"] == "Service"]
        self._probes(pods, problems)
        self._services(pods, services, docs, problems)
        self._volumes_and_configmaps(pods, configmaps, problems)
        self._baton_config(pods, configmaps, problems)
        self._shape(docs, pods, services, problems)
        return problems

    def _probes(self, pods, problems):
        for owner, _, spec, _ in pods:
            for c in containers(spec):
                names = {p["name"]: p["containerPort"] for p in c.get("ports", []) if "name" in p}
                numbers = {p["containerPort"] for p in c.get("ports", [])}
                for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                    p = c.get(probe)
                    if not p:
                        continue
                    for handler in ("httpGet", "tcpSocket", "grpc"):
                        if handler not in p:
                            continue
                        port = p[handler].get("port")
                        ok = port in names if isinstance(port, str) else port in numbers
                        if not ok:
                            problems.append(f"{owner} container {c['name']}: {probe} {handler} port {port!r} "
                                            f"is not one of its containerPorts {sorted(names) or sorted(numbers)}")

    @staticmethod
    def _selects(selector, labels):
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

    def _services(self, pods, services, docs, problems):
        for s in services:
            selector = s["spec"].get("selector") or {}
            matched = [(o, spec) for o, meta, spec, _ in pods if self._selects(selector, meta.get("labels", {}))]
            if not matched:
                problems.append(f"{name_of(s)}: selector {selector} matches no pod template")
                continue
            for port in s["spec"].get("ports", []):
                target = port.get("targetPort", port["port"])
                for owner, spec in matched:
                    declared = [(p.get("name"), p["containerPort"]) for c in containers(spec) for p in c.get("ports", [])]
                    if not any(target in (n, num) for n, num in declared):
                        problems.append(f"{name_of(s)}: targetPort {target!r} is not a containerPort of {owner}")
        for d in docs:
            if d["kind"] == "PodDisruptionBudget":
                selector = d["spec"]["selector"].get("matchLabels", {})
                if not any(self._selects(selector, meta.get("labels", {})) for _, meta, _, _ in pods):
                    problems.append(f"{name_of(d)}: selector {selector} matches no pod template")
            if d["kind"] in WORKLOADS:
                selector = d["spec"]["selector"].get("matchLabels", {})
                if not self._selects(selector, d["spec"]["template"]["metadata"].get("labels", {})):
                    problems.append(f"{name_of(d)}: selector {selector} does not match its own pod template")
            if d["kind"] == "StatefulSet":
                svc = [s for s in services if s["metadata"]["name"] == d["spec"].get("serviceName")]
                if not svc or svc[0]["spec"].get("clusterIP") != "None":
                    problems.append(f"{name_of(d)}: serviceName {d['spec'].get('serviceName')!r} "
                                    "is not a headless Service")

    def _volumes_and_configmaps(self, pods, configmaps, problems):
        for owner, _, spec, doc in pods:
            volumes = {v["name"]: v for v in spec.get("volumes", [])}
            claims = {t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates", [])} \
                if doc["kind"] == "StatefulSet" else set()
            for v in volumes.values():
                refs = [v["configMap"]["name"]] if "configMap" in v else []
                refs += [src["configMap"]["name"] for src in v.get("projected", {}).get("sources", [])
                         if "configMap" in src]
                for ref in refs:
                    if ref not in configmaps:
                        problems.append(f"{owner} volume {v['name']}: ConfigMap {ref!r} does not exist")
            for c in containers(spec):
                for m in c.get("volumeMounts", []):
                    if m["name"] not in volumes and m["name"] not in claims:
                        problems.append(f"{owner} container {c['name']}: volumeMount {m['name']!r} names no volume")
                defined = set()
                for e in c.get("env", []):
                    ref = e.get("valueFrom", {}).get("configMapKeyRef")
                    if ref:
                        cm = configmaps.get(ref["name"])
                        if cm is None:
                            problems.append(f"{owner} container {c['name']} env {e['name']}: "
                                            f"ConfigMap {ref['name']!r} does not exist")
                        elif ref["key"] not in cm.get("data", {}):
                            problems.append(f"{owner} container {c['name']} env {e['name']}: "
                                            f"ConfigMap {ref['name']} has no key {ref['key']!r}")
                    for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", e.get("value", "")):
                        if var not in defined:
                            problems.append(f"{owner} container {c['name']} env {e['name']}: $({var}) "
                                            "is not defined before it (Kubernetes would leave it as is)")
                    defined.add(e["name"])
                for src in c.get("envFrom", []):
                    ref = src.get("configMapRef", {}).get("name")
                    if ref and ref not in configmaps:
                        problems.append(f"{owner} container {c['name']} envFrom: ConfigMap {ref!r} does not exist")

    def _baton_config(self, pods, configmaps, problems):
        used_files = set()   # (configmap, key) some container's --config points at
        baton_maps = set()   # configmaps mounted into Baton containers
        for owner, _, spec, _ in pods:
            volumes = {v["name"]: v for v in spec.get("volumes", [])}
            for c in containers(spec):
                binary = binary_of(c)
                if binary not in BATON_BINARIES:
                    continue
                where = f"{owner} container {c['name']} ({binary})"
                schema = self.schemas[binary]
                env_names = {env: key for key, env in schema["keys"].items()}
                set_keys = set()
                for key, value in flag_args(c).items():
                    if key == "config":
                        continue
                    if key not in schema["keys"]:
                        problems.append(f"{where}: flag --{key} is not a key {binary} accepts")
                    set_keys.add(key)
                for e in c.get("env", []):
                    if e["name"].startswith("BATON_"):
                        if e["name"] not in env_names:
                            problems.append(f"{where}: env {e['name']} is not a variable {binary} accepts")
                        else:
                            set_keys.add(env_names[e["name"]])
                mounts = {m["mountPath"].rstrip("/"): volumes.get(m["name"]) for m in c.get("volumeMounts", [])}
                for m in c.get("volumeMounts", []):
                    v = volumes.get(m["name"])
                    if v and "configMap" in v:
                        baton_maps.add(v["configMap"]["name"])
                config_path = flag_args(c).get("config")
                if not config_path:
                    problems.append(f"{where}: no --config file")
                    continue
                directory, filename = os.path.split(config_path)
                volume = mounts.get(directory)
                if not volume or "configMap" not in volume:
                    problems.append(f"{where}: --config {config_path}: no ConfigMap is mounted at {directory}")
                    continue
                cm_name = volume["configMap"]["name"]
                cm = configmaps.get(cm_name)
                if cm is None:
                    continue  # reported by the volume check
                if filename not in cm.get("data", {}):
                    problems.append(f"{where}: --config {config_path}: ConfigMap {cm_name} has no key {filename!r}")
                    continue
                used_files.add((cm_name, filename))
                try:
                    content = yaml.safe_load(cm["data"][filename]) or {}
                except yaml.YAMLError as e:
                    problems.append(f"{where}: {cm_name}/{filename} is not YAML: {e}")
                    continue
                for key in deploy_util.flatten(content):
                    if key not in schema["keys"]:
                        problems.append(f"{where}: {cm_name}/{filename}: key {key!r} is not one {binary} accepts")
                    set_keys.add(key)
                for key in schema["required"] - set_keys:
                    problems.append(f"{where}: required key {key!r} is set neither in {filename} nor by env or flag")
        for cm_name in baton_maps:
            for filename in configmaps.get(cm_name, {}).get("data", {}):
                if filename.endswith(".yaml") and (cm_name, filename) not in used_files:
                    problems.append(f"ConfigMap {cm_name}: {filename} is no container's --config (unused or misnamed)")

    def _shape(self, docs, pods, services, problems):
        for owner, meta, spec, doc in pods:
            sc = spec.get("securityContext", {})
            for c in containers(spec):
                where = f"{owner} container {c['name']}"
                csc = c.get("securityContext", {})
                if not (csc.get("runAsNonRoot", sc.get("runAsNonRoot")) is True):
                    problems.append(f"{where}: not runAsNonRoot")
                if csc.get("readOnlyRootFilesystem") is not True:
                    problems.append(f"{where}: root filesystem not read-only")
                if csc.get("allowPrivilegeEscalation") is not False:
                    problems.append(f"{where}: allowPrivilegeEscalation is not false")
                res = c.get("resources", {})
                for kind in ("requests", "limits"):
                    for r in ("cpu", "memory"):
                        if r not in res.get(kind, {}):
                            problems.append(f"{where}: no resources.{kind}.{r}")
                if binary_of(c) in BATON_BINARIES and "livenessProbe" not in c:
                    problems.append(f"{where}: no livenessProbe")
            binaries = {binary_of(c): c for c in containers(spec)}
            gateway = binaries.get("baton-gateway")
            if gateway:
                path = gateway.get("readinessProbe", {}).get("httpGet", {}).get("path")
                if path != "/readyz":
                    problems.append(f"{owner}: the gateway's readinessProbe is {path!r}, not /readyz "
                                    "(the client Service must select only the active)")
                for c in containers(spec):
                    if c is not gateway and "readinessProbe" in c:
                        problems.append(f"{owner} container {c['name']}: a readinessProbe besides the gateway's "
                                        "makes pod readiness more than 'this gateway is the active'")
                peers = [s for s in services if s["metadata"]["name"] == doc["spec"].get("serviceName")]
                if peers and peers[0]["spec"].get("publishNotReadyAddresses") is not True:
                    problems.append(f"{name_of(peers[0])}: standbys are never ready, so the peers Service "
                                    "must publishNotReadyAddresses")
                if not any(s["spec"].get("clusterIP") != "None" and
                           self._selects(s["spec"].get("selector"), meta.get("labels", {})) for s in services):
                    problems.append(f"{owner}: no client Service selects these gateways")
            agent = binaries.get("baton-agent")
            if agent and gateway and not spec.get("shareProcessNamespace"):
                problems.append(f"{owner}: the agent watches the gateway's pid but shareProcessNamespace is not set")
            if doc["kind"] in WORKLOADS and set(binaries) & set(BATON_BINARIES) and not any(
                    d["kind"] == "PodDisruptionBudget" and
                    self._selects(d["spec"]["selector"].get("matchLabels", {}), meta.get("labels", {})) for d in docs):
                problems.append(f"{owner}: no PodDisruptionBudget")
        arbiters = [d for _, _, spec, d in pods if "baton-arbiter" in {binary_of(c) for c in containers(spec)}]
        if not arbiters or any(d["spec"].get("replicas") != 3 for d in arbiters):
            problems.append("the arbiter must be a StatefulSet of 3 replicas")


def schemas():
    out = {}
    for binary in BATON_BINARIES:
        keys = deploy_util.accepted_keys(binary)
        help_text = subprocess.run([deploy_util.binary_path(binary), "--help"], capture_output=True, text=True).stdout
        required = set(re.findall(r"^  --([a-z0-9_.]+) \(required\)", help_text, re.M))
        out[binary] = {"keys": keys, "required": required}
    return out


def find(docs, kind, predicate=lambda d: True):
    for d in docs:
        if d["kind"] == kind and predicate(d):
            return d
    raise Failure(f"no {kind} to break in the rendered manifests")


def container_running(docs, binary):
    for _, _, spec, _ in pod_templates(docs):
        for c in containers(spec):
            if binary_of(c) == binary:
                return spec, c
    raise Failure(f"no container runs {binary}")


def config_map_of(docs, binary):
    spec, c = container_running(docs, binary)
    directory, filename = os.path.split(flag_args(c)["config"])
    volume_name = next(m["name"] for m in c["volumeMounts"] if m["mountPath"].rstrip("/") == directory)
    cm_name = next(v["configMap"]["name"] for v in spec["volumes"] if v["name"] == volume_name)
    return find(docs, "ConfigMap", lambda d: d["metadata"]["name"] == cm_name), filename


def breakages():
    """(what, how to break a copy of the docs, text the problems must contain)"""
    def bogus_key(docs):
        cm, filename = config_map_of(docs, "baton-gateway")
        cm["data"][filename] += "\nreplication:\n  sync_standby: 2\n"

    def bogus_env(docs):
        _, c = container_running(docs, "baton-agent")
        c["env"].append({"name": "BATON_AGENT_GATEWAY_PIDFILE", "value": "/run/x"})

    def bad_probe(docs):
        _, c = container_running(docs, "baton-arbiter")
        c["livenessProbe"]["httpGet"]["port"] = "metrics"

    def bad_selector(docs):
        find(docs, "Service", lambda d: d["spec"].get("clusterIP") != "None")["spec"]["selector"]["extra"] = "x"

    def missing_configmap(docs):
        spec, _ = container_running(docs, "baton-arbiter")
        next(v for v in spec["volumes"] if "configMap" in v)["configMap"]["name"] = "no-such-config"

    def missing_volume(docs):
        _, c = container_running(docs, "baton-gateway")
        c["volumeMounts"].append({"name": "scratch", "mountPath": "/scratch"})

    def bogus_flag(docs):
        _, c = container_running(docs, "baton-arbiter")
        c["command"] += ["--zookeeper.conect", "x:2181"]

    def readiness_on_agent(docs):
        _, c = container_running(docs, "baton-agent")
        c["readinessProbe"] = {"httpGet": {"path": "/readyz", "port": "agent-http"}}

    return [
        ("unknown key in a gateway config file", bogus_key, "'replication.sync_standby' is not one baton-gateway accepts"),
        ("unknown BATON_ variable", bogus_env, "BATON_AGENT_GATEWAY_PIDFILE is not a variable baton-agent accepts"),
        ("probe on an undeclared port", bad_probe, "livenessProbe httpGet port 'metrics'"),
        ("Service selector matching nothing", bad_selector, "matches no pod template"),
        ("missing ConfigMap", missing_configmap, "ConfigMap 'no-such-config' does not exist"),
        ("volumeMount without a volume", missing_volume, "volumeMount 'scratch' names no volume"),
        ("unknown flag", bogus_flag, "flag --zookeeper.conect is not a key"),
        ("agent readiness", readiness_on_agent, "a readinessProbe besides the gateway's"),
    ]


def main():
    kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not kubectl:
        print("SKIP: kubectl not installed (Debian package kubernetes-client; scripts/install-deps installs it)")
        return deploy_util.SKIP
    version = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True).stdout.strip()
    print(f"kubectl: {version.splitlines()[0] if version else '?'}")
    try:
        checker = Checker(schemas())
        rendered = {}
        for path in KUSTOMIZATIONS:
            docs = render(kubectl, path)
            rendered[path] = docs
            problems = checker.check(docs)
            if problems:
                raise Failure(f"{path}:\n  " + "\n  ".join(problems))
            print(f"ok: {path} renders {len(docs)} objects ({', '.join(sorted({name_of(d) for d in docs}))}), "
                  "all references resolve, every config key is accepted")
        for what, breaker, expected in breakages():
            docs = copy.deepcopy(rendered["deploy/k8s"])
            breaker(docs)
            problems = checker.check(docs)
            if not any(expected in p for p in problems):
                raise Failure(f"a manifest with a {what} passes the checks (expected a problem containing "
                              f"{expected!r}; got {problems})")
            print(f"ok: caught: {what}")
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
