#!/usr/bin/python3
"""Runs the rendered Kubernetes manifests on podman, as a kubelet on one node
would run their StatefulSets, and checks that the result is a working Baton
cluster. Driven by scripts/k8s-smoke (which builds the image); see
docs/deployment.md, "Trying the manifests without a cluster".

What is taken from the manifests as written: every StatefulSet's replicas,
pod names (<set>-<ordinal>), hostnames and the DNS names of their governing
Service (<pod>.<service>[.<namespace>[.svc[.cluster.local]]], as /etc/hosts
entries), each container's image, command, args and environment (fieldRef,
configMapKeyRef, $(VAR)), ConfigMap, emptyDir and volumeClaimTemplate
volumes with their mount paths, subPath and readOnly, runAsUser/runAsGroup,
fsGroup, readOnlyRootFilesystem, capabilities drop ALL,
allowPrivilegeEscalation false, shareProcessNamespace, memory and CPU
limits, and the httpGet/tcpSocket probes. Services are evaluated as
Kubernetes would: a Service's endpoints are the pods its selector matches
whose containers pass their readiness probes.

What is not Kubernetes here: no API server, scheduler or kube-proxy (a
client reaches an endpoint pod's IP directly), one node, restartPolicy
Always is podman's --restart always, and the probes are polled by this
script when it checks rather than by a kubelet on their periods. Images
may be substituted with --image FROM=TO (the ZooKeeper StatefulSet names
Docker Hub's zookeeper:3.8, which this machine cannot pull).

Checks, each with a deadline: every container runs and passes its startup
and liveness probes; every readiness probe but the standbys' passes; the
client Service of each cluster has exactly one endpoint, and it is the
active the arbiter names; a write through that endpoint is acknowledged and
reaches every standby's durable position; the containers run as the
manifests' non-root uid with a read-only root; after SIGKILL of the active's
gateway container the Service's one endpoint moves to another pod, a write
there is acknowledged, and the killed pod comes back as a standby.

Exit 0 = all checks passed, 1 = a check failed (the message says which),
77 = podman or the image is missing."""

import argparse
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import socket
import urllib.request


sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_util  # noqa: E402
from deploy_util import Failure  # noqa: E402
from k8s_test import binary_of, render  # noqa: E402


def log(message):
    print(f"[k8s_podman {time.strftime('%H:%M:%S')}] {message}", flush=True)


def podman(*args, check=True, timeout=120):
    out = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise Failure(f"podman {' '.join(args[:3])} ... exited {out.returncode}: {out.stderr.strip()}")
    return out


def wait_for(what, deadline_s, predicate, interval_s=0.2):
    """predicate() -> (done, detail); deploy_util.wait_until, with the last
    detail in the Failure. Returns the detail that came with done."""
    last = [""]

    def done():
        ok, last[0] = predicate()
        return ok

    deploy_util.wait_until(done, deadline_s, f"{what}: not", lambda: f" ({last[0]})", interval_s)
    return last[0]


def http_get(url, timeout=2.0):
    """(status, body) of a GET; status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except OSError as e:
        return 0, str(e)


class Pod:
    """One StatefulSet replica: its name, IP, labels, spec and host dirs."""

    def __init__(self, owner, ordinal, ip, namespace):
        self.owner = owner
        self.name = f"{owner['metadata']['name']}-{ordinal}"
        self.ip = ip
        self.namespace = namespace
        template = owner["spec"]["template"]
        self.labels = template.get("metadata", {}).get("labels", {})
        self.spec = template["spec"]
        self.service = owner["spec"].get("serviceName")

    def dns_names(self):
        if not self.service:
            return [self.name]
        base = f"{self.name}.{self.service}"
        return [self.name, base, f"{base}.{self.namespace}", f"{base}.{self.namespace}.svc",
                f"{base}.{self.namespace}.svc.cluster.local"]

    def container_name(self, container):
        return f"{self.name}-{container['name']}"

    def port(self, container, port):
        """A probe's port: a number, or the name of one of the container's ports."""
        if isinstance(port, int):
            return port
        for p in container.get("ports", []):
            if p.get("name") == port:
                return p["containerPort"]
        raise Failure(f"pod {self.name} container {container['name']}: probe port {port!r} is not a named port")


class Node:
    """The podman side: one network, pods, their volumes, and probing."""

    def __init__(self, docs, args):
        self.docs = docs
        self.args = args
        self.images = dict(m.split("=", 1) for m in args.image)
        self.prefix = f"baton-k8s-{os.getpid()}"
        self.network = self.prefix
        self.dir = tempfile.mkdtemp(prefix=f"{self.prefix}-")
        self.subnet = ipaddress.ip_network(args.subnet)
        self.network_created = False
        self.pods = []
        self.config_maps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}

    # --- bring-up ---------------------------------------------------------
    def plan(self):
        hosts = iter(self.subnet.hosts())
        next(hosts)  # the gateway address
        for owner in (d for d in self.docs if d["kind"] == "StatefulSet"):
            for ordinal in range(owner["spec"].get("replicas", 1)):
                self.pods.append(Pod(owner, ordinal, str(next(hosts)), self.args.namespace))

    def start(self):
        podman("network", "create", "--subnet", str(self.subnet), self.network)
        self.network_created = True
        add_hosts = [f"--add-host={name}:{p.ip}" for p in self.pods for name in p.dns_names()]
        for pod in self.pods:
            shares = "ipc,net,uts" + (",pid" if pod.spec.get("shareProcessNamespace") else "")
            podman("pod", "create", "--name", pod.name, "--hostname", pod.name, "--network", self.network,
                   "--ip", pod.ip, "--share", shares, *add_hosts)
            volumes = self.make_volumes(pod)
            for container in pod.spec.get("containers", []):
                self.run_container(pod, container, volumes)
            log(f"pod {pod.name} at {pod.ip}: {', '.join(c['name'] for c in pod.spec['containers'])}")

    def make_volumes(self, pod):
        """{volume name: host path} with the contents Kubernetes would give."""
        security = pod.spec.get("securityContext", {})
        uid = security.get("runAsUser", 0)
        gid = security.get("fsGroup", security.get("runAsGroup", 0))
        paths = {}
        claims = [t["metadata"]["name"] for t in pod.owner["spec"].get("volumeClaimTemplates", [])]
        for volume in pod.spec.get("volumes", []) + [{"name": c, "claim": True} for c in claims]:
            path = os.path.join(self.dir, pod.name, volume["name"])
            os.makedirs(path)
            if "configMap" in volume:
                name = volume["configMap"]["name"]
                if name not in self.config_maps:
                    raise Failure(f"pod {pod.name}: volume {volume['name']} names ConfigMap {name}, which is not rendered")
                items = volume["configMap"].get("items")
                data = self.config_maps[name].get("data", {})
                for key, file in ((i["key"], i["path"]) for i in items) if items else ((k, k) for k in data):
                    with open(os.path.join(path, file), "w") as f:
                        f.write(data[key])
                os.chmod(path, 0o755)
                for file in os.listdir(path):
                    os.chmod(os.path.join(path, file), 0o644)
            else:
                # emptyDir and claims: writable by the pod's fsGroup, as the kubelet sets them up.
                os.chown(path, uid, gid)
                os.chmod(path, 0o2770)
            paths[volume["name"]] = path
        return paths

    def env_of(self, pod, container):
        env = {}
        for var in container.get("env", []):
            if "value" in var:
                value = var["value"]
                for name, known in env.items():
                    value = value.replace(f"$({name})", known)
            else:
                source = var["valueFrom"]
                if "fieldRef" in source:
                    field = source["fieldRef"]["fieldPath"]
                    value = {"metadata.name": pod.name, "metadata.namespace": pod.namespace,
                             "status.podIP": pod.ip}.get(field)
                    if value is None:
                        raise Failure(f"pod {pod.name}: env {var['name']} uses fieldRef {field}, not emulated here")
                elif "configMapKeyRef" in source:
                    ref = source["configMapKeyRef"]
                    value = self.config_maps[ref["name"]]["data"][ref["key"]]
                else:
                    raise Failure(f"pod {pod.name}: env {var['name']}: unsupported valueFrom {list(source)}")
            env[var["name"]] = value
        return env

    def run_container(self, pod, container, volumes):
        pod_security = pod.spec.get("securityContext", {})
        security = {**pod_security, **container.get("securityContext", {})}
        argv = ["run", "--detach", "--pod", pod.name, "--name", pod.container_name(container),
                "--restart", "always", "--read-only-tmpfs=false"]
        if "runAsUser" in security:
            argv += ["--user", f"{security['runAsUser']}:{security.get('runAsGroup', security['runAsUser'])}"]
            if "fsGroup" in pod_security:
                argv += ["--group-add", str(pod_security["fsGroup"])]
        if security.get("readOnlyRootFilesystem"):
            argv.append("--read-only")
        if "ALL" in security.get("capabilities", {}).get("drop", []):
            argv += ["--cap-drop", "all"]
        if security.get("allowPrivilegeEscalation") is False:
            argv += ["--security-opt", "no-new-privileges"]
        limits = container.get("resources", {}).get("limits", {})
        if "memory" in limits and not self.args.no_limits:
            argv += ["--memory", limits["memory"].replace("Mi", "m").replace("Gi", "g")]
        if "cpu" in limits and not self.args.no_limits:
            cpu = limits["cpu"]
            argv += ["--cpus", str(int(cpu[:-1]) / 1000 if str(cpu).endswith("m") else float(cpu))]
        for name, value in self.env_of(pod, container).items():
            argv += ["--env", f"{name}={value}"]
        for mount in container.get("volumeMounts", []):
            source = volumes[mount["name"]]
            if "subPath" in mount:
                source = os.path.join(source, mount["subPath"])
            argv += ["--volume", f"{source}:{mount['mountPath']}:{'ro' if mount.get('readOnly') else 'rw'}"]
        image = self.images.get(container["image"], container["image"])
        command = container.get("command") or []
        if command:
            argv += ["--entrypoint", json.dumps(command[:1])]
        argv += [image, *command[1:], *(container.get("args") or [])]
        podman(*argv)

    def stop(self):
        for pod in self.pods:
            podman("pod", "rm", "--force", "--time", "5", pod.name, check=False)
        if self.network_created:
            podman("network", "rm", "--force", self.network, check=False)
        if not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- observing ----------------------------------------------------------
    def running(self, pod, container):
        out = podman("inspect", "--format", "{{.State.Running}} {{.RestartCount}}", pod.container_name(container),
                     check=False)
        fields = out.stdout.split()
        return bool(fields) and fields[0] == "true", int(fields[1]) if len(fields) > 1 else -1

    def pid(self, pod, container):
        """The host pid of the container's main process."""
        out = podman("inspect", "--format", "{{.State.Pid}}", pod.container_name(container))
        pid = int(out.stdout.strip() or 0)
        if pid <= 0:
            raise Failure(f"{pod.container_name(container)} has no process ({out.stdout.strip()!r})")
        return pid

    def probe(self, pod, container, kind):
        """(passed, detail) of one of the container's probes; a missing probe passes."""
        probe = container.get(kind)
        if not probe:
            return True, "no probe"
        if "httpGet" in probe:
            port = pod.port(container, probe["httpGet"]["port"])
            url = f"http://{pod.ip}:{port}{probe['httpGet'].get('path', '/')}"
            status, body = http_get(url, timeout=probe.get("timeoutSeconds", 1))
            return 200 <= status < 400, f"{url} {status} {body[:120]!r}"
        if "tcpSocket" in probe:
            port = pod.port(container, probe["tcpSocket"]["port"])
            try:
                socket.create_connection((pod.ip, port), timeout=probe.get("timeoutSeconds", 1)).close()
                return True, f"{pod.ip}:{port} open"
            except OSError as e:
                return False, f"{pod.ip}:{port} {e}"
        raise Failure(f"pod {pod.name}: {kind} of {container['name']} is neither httpGet nor tcpSocket")

    def ready(self, pod):
        return all(self.running(pod, c)[0] and self.probe(pod, c, "readinessProbe")[0]
                   for c in pod.spec["containers"])

    def endpoints(self, service):
        selector = service["spec"].get("selector", {})
        matched = [p for p in self.pods if all(p.labels.get(k) == v for k, v in selector.items())]
        if service["spec"].get("publishNotReadyAddresses"):
            return matched
        return [p for p in matched if self.ready(p)]

    def pod(self, name):
        return next(p for p in self.pods if p.name == name)

    def logs(self, pod, container, lines=40):
        out = podman("logs", "--tail", str(lines), pod.container_name(container), check=False)
        return (out.stdout + out.stderr).strip()


def container_of(pod, binary):
    return next(c for c in pod.spec["containers"] if binary_of(c) == binary)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kustomization", default="deploy/k8s-try")
    parser.add_argument("--image", action="append", default=[], metavar="FROM=TO",
                        help="run image TO where the manifests name FROM")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--subnet", default="10.89.77.0/24", help="the pods' network; must be unused")
    parser.add_argument("--deadline-s", type=float, default=120)
    parser.add_argument("--no-limits", action="store_true", help="do not apply CPU and memory limits")
    parser.add_argument("--keep", action="store_true", help="keep the volumes' host directories")
    args = parser.parse_args()
    if shutil.which("podman") is None:
        print("SKIP: podman not installed (scripts/k8s-smoke installs it)")
        return deploy_util.SKIP
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("SKIP: kubectl not installed")
        return deploy_util.SKIP
    docs = render(kubectl, args.kustomization)
    node = Node(docs, args)
    node.plan()
    images = {node.images.get(c["image"], c["image"]) for p in node.pods for c in p.spec["containers"]}
    for image in sorted(images):
        if podman("image", "exists", image, check=False).returncode != 0:
            print(f"SKIP: image {image} is not built (scripts/k8s-smoke builds it)")
            return deploy_util.SKIP
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    started = time.monotonic()
    try:
        node.start()
        check(node, services, args)
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        for pod in node.pods:
            for container in pod.spec["containers"]:
                if node.running(pod, container)[1] >= 0:
                    print(f"--- {pod.container_name(container)} (last lines)\n{node.logs(pod, container)}",
                          file=sys.stderr)
        return 1
    finally:
        node.stop()
    log(f"PASS in {time.monotonic() - started:.1f} s")
    return 0


def arbiter_view(node, cluster):
    """The cluster's view from the first arbiter that answers, or None."""
    for pod in node.pods:
        if pod.labels.get("app.kubernetes.io/name") != "baton-arbiter":
            continue
        port = pod.port(container_of(pod, "baton-arbiter"), "http")
        status, body = http_get(f"http://{pod.ip}:{port}/v1/clusters/{cluster}")
        if status == 200:
            return json.loads(body)
    return None


def batonctl(node, pod, *argv):
    """batonctl from the image, run in `pod`'s gateway container."""
    return podman("exec", pod.container_name(container_of(pod, "baton-gateway")), "batonctl",
                  "--gateway", "127.0.0.1:7700", "--timeout-ms", "5000", *argv, check=False, timeout=30)


def write_through(node, service, object_id):
    """Inserts `object_id` through the Service's one endpoint; returns that pod."""
    endpoints = node.endpoints(service)
    if len(endpoints) != 1:
        raise Failure(f"Service {service['metadata']['name']} has {len(endpoints)} endpoints, not one: "
                      f"{[p.name for p in endpoints]}")
    pod = endpoints[0]
    container = container_of(pod, "baton-gateway")
    grpc_port = pod.port(container, "grpc")
    dimension = 128
    vector = ",".join(["0.5"] * dimension)
    out = podman("run", "--rm", "--network", node.network, node.images.get(container["image"], container["image"]),
                 "batonctl", "--gateway", f"{pod.ip}:{grpc_port}", "--timeout-ms", "5000", "insert", "--id",
                 object_id, "--vector", vector, check=False, timeout=60)
    if out.returncode != 0:
        raise Failure(f"insert {object_id} through {pod.name} ({pod.ip}:{grpc_port}) failed: "
                      f"{(out.stdout + out.stderr).strip()}")
    return pod


def check(node, services, args):
    deadline = args.deadline_s
    for pod in node.pods:
        for container in pod.spec["containers"]:
            for kind in ("startupProbe", "livenessProbe"):
                wait_for(f"{pod.container_name(container)} {kind}", deadline,
                         lambda: node.probe(pod, container, kind) if node.running(pod, container)[0]
                         else (False, "not running"))
    log("every container runs and passes its startup and liveness probes")

    gateway_pods = [p for p in node.pods if p.labels.get("app.kubernetes.io/name") == "baton-gateway"]
    for pod in node.pods:
        if pod not in gateway_pods:  # a gateway is ready only while it is its cluster's active
            wait_for(f"pod {pod.name} ready", deadline, lambda: (node.ready(pod), "readiness probe fails"))
    log(f"every pod but the gateways is ready: {', '.join(p.name for p in node.pods if p not in gateway_pods)}")

    for pod in node.pods:
        for container in pod.spec["containers"]:
            name = pod.container_name(container)
            uid = podman("exec", name, "id", "-u", check=False).stdout.strip()
            expected = str({**pod.spec.get("securityContext", {}),
                            **container.get("securityContext", {})}.get("runAsUser", ""))
            if expected and uid != expected:
                raise Failure(f"{name} runs as uid {uid!r}, the manifest says {expected}")
            if container.get("securityContext", {}).get("readOnlyRootFilesystem"):
                wrote = podman("exec", name, "sh", "-c", "echo x > /probe-write", check=False)
                if wrote.returncode == 0:
                    raise Failure(f"{name}: wrote to / although readOnlyRootFilesystem")
    log("containers run as the manifests' uid with a read-only root")

    gateway_sets = [d for d in node.docs if d["kind"] == "StatefulSet"
                    and d["spec"]["template"].get("metadata", {}).get("labels", {}).get("app.kubernetes.io/name")
                    == "baton-gateway"]
    for sts in gateway_sets:
        cluster = sts["spec"]["template"]["metadata"]["labels"]["baton.io/cluster"]
        client = next(s for s in services.values() if s["spec"].get("selector", {}).get("baton.io/cluster") == cluster
                      and not s["spec"].get("publishNotReadyAddresses"))
        members = [p for p in node.pods if p.owner is sts]

        def one_endpoint_is_the_active(previous=None):
            view = arbiter_view(node, cluster)
            endpoints = [p.name for p in node.endpoints(client)]
            active = view.get("active") if view else None
            settled = view is not None and not view.get("sync_pending") and len(view.get("sync_set", [])) > 0
            ok = (len(endpoints) == 1 and endpoints[0] == active and active != previous and settled)
            return ok, f"endpoints {endpoints}, arbiter's active {active!r}, sync set " \
                       f"{view.get('sync_set') if view else None}, pending {view.get('sync_pending') if view else None}"

        detail = wait_for(f"Service {client['metadata']['name']} selects the active alone", deadline,
                          one_endpoint_is_the_active)
        log(f"cluster {cluster}: {detail}")

        def durable_of(pod):
            """(epoch, seq) durable in `pod`'s gateway, from its own GetState; None if it does not answer."""
            out = batonctl(node, pod, "control", "state", "--json")
            try:
                durable = json.loads(out.stdout.strip().splitlines()[-1])["durable"]
                return int(durable.get("epoch", 0)), int(durable.get("seq", 0))
            except (IndexError, KeyError, ValueError):
                return None

        def standbys_have(position, active):
            behind = {p.name: durable_of(p) for p in members if p is not active}
            behind = {name: d for name, d in behind.items() if d is None or d < position}
            return not behind, f"behind {position}: {behind}"

        active = write_through(node, client, "k8s-smoke-1")
        position = durable_of(active)  # taken after the ack, so it covers the write
        log(f"cluster {cluster}: insert acknowledged by {active.name} through Service "
            f"{client['metadata']['name']}; its durable position {position}")
        if position is None:
            raise Failure(f"{active.name} acknowledged a write but does not answer GetState")
        wait_for(f"every standby of {cluster} holds {position}", deadline, lambda: standbys_have(position, active))
        log(f"cluster {cluster}: every standby durable at or past {position}")

        gateway = container_of(active, "baton-gateway")
        _, restarts_before = node.running(active, gateway)
        killed_at = time.monotonic()
        # From the host, as a crash would: podman's restart policy ignores `podman kill`.
        os.kill(node.pid(active, gateway), signal.SIGKILL)
        detail = wait_for(f"Service {client['metadata']['name']} moves to another pod after SIGKILL of "
                          f"{active.name}'s gateway", deadline, lambda: one_endpoint_is_the_active(active.name), 0.05)
        moved_s = time.monotonic() - killed_at
        log(f"cluster {cluster}: SIGKILL of {active.name}'s gateway; {moved_s:.2f} s later {detail}")
        new_active = write_through(node, client, "k8s-smoke-2")
        log(f"cluster {cluster}: insert acknowledged by {new_active.name}")
        out = batonctl(node, new_active, "get", "--id", "k8s-smoke-1")
        if out.returncode != 0 or "k8s-smoke-1" not in out.stdout:
            raise Failure(f"{new_active.name} lacks the write acknowledged before the failover: "
                          f"{(out.stdout + out.stderr).strip()}")
        log(f"cluster {cluster}: {new_active.name} holds the write acknowledged by {active.name}")

        def rejoined():
            running, restarts = node.running(active, gateway)
            view = arbiter_view(node, cluster) or {"instances": []}
            role = next((i.get("role") for i in view["instances"] if i["id"] == active.name), None)
            return (running and restarts > restarts_before and role == "standby" and not node.ready(active),
                    f"running {running}, restarts {restarts}, role {role!r}")

        detail = wait_for(f"{active.name} restarted and back as a standby", deadline, rejoined)
        log(f"cluster {cluster}: {active.name} {detail}")
        position = durable_of(new_active)
        if position is None:
            raise Failure(f"{new_active.name} acknowledged a write but does not answer GetState")
        wait_for(f"every standby of {cluster} holds {position}", deadline, lambda: standbys_have(position, new_active))
        log(f"cluster {cluster}: every standby, {active.name} included, durable at or past {position}")
        for pod in members:
            for container in pod.spec["containers"]:
                running, restarts = node.running(pod, container)
                expected = restarts_before + 1 if (pod is active and container is gateway) else 0
                if not running or restarts != expected:
                    raise Failure(f"{pod.container_name(container)}: running {running}, restarted {restarts} "
                                  f"times (expected {expected})")
    log("no container restarted but the one killed")


if __name__ == "__main__":
    sys.exit(main())
