#!/usr/bin/python3
"""Runs real daemons the way their systemd units do (Type=notify,
WatchdogSec=) and checks what they tell systemd.

Each daemon gets the ExecStart arguments and Environment= lines of its unit
in deploy/systemd/ (paths under /var/lib/baton and /run/baton moved into a
temp dir, the --config file replaced by its example in deploy/config/),
plus flags for loopback ports and addresses; NOTIFY_SOCKET names a unix
datagram socket this test owns and WATCHDOG_USEC asks for a ping every
500 ms. Then:

  gateway  standalone (no arbiter.addresses): READY=1 carries STATUS=active.
  arbiter  with a real ZooKeeper: STATUS= becomes "leader".
  agent    with ZooKeeper, an arbiter and a gateway under it: the agent's
           STATUS= becomes "ready", the gateway's goes from unassigned to
           active.

For every daemon: the moment READY=1 arrives its /healthz answers 200 at
once (and its gRPC port accepts), WATCHDOG=1 keeps coming (5 within
10 s), and SIGTERM gives STOPPING=1 and exit 0. No sleeps: every wait polls
a condition with a deadline. Exit 77 (skip) only when ZooKeeper is not
installed (arbiter, agent).

  /usr/bin/python3 tests/deploy/notify_test.py gateway|arbiter|agent
"""

import http.client
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_util  # noqa: E402
from deploy_util import Failure, wait_until  # noqa: E402

WATCHDOG_USEC = 1_000_000  # pings every 500 ms
ZK_SERVER = "/usr/share/zookeeper/bin/zkServer.sh"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NotifySocket:
    """A unix datagram socket that records every sd_notify message, as
    systemd's notify socket does. Each message becomes a dict of its lines
    (READY, STATUS, WATCHDOG, STOPPING)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.05)
        self.messages = []  # (monotonic time, {key: value})
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.stopping:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            fields = dict(line.partition("=")[::2] for line in data.decode().splitlines() if line)
            with self.lock:
                self.messages.append((time.monotonic(), fields))

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def first(self, key, value=None):
        for _, fields in self.snapshot():
            if key in fields and (value is None or fields[key] == value):
                return fields
        return None

    def count(self, key):
        return sum(1 for _, fields in self.snapshot() if key in fields)

    def statuses(self):
        return [fields["STATUS"] for _, fields in self.snapshot() if "STATUS" in fields]

    def dump(self):
        return "\n".join("  " + " | ".join(f"{k}={v}" for k, v in f.items()) for _, f in self.snapshot())

    def close(self):
        self.stopping = True
        self.thread.join()
        self.sock.close()


class Run:
    """Everything one test started, so that it can all be stopped by pid."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="baton-notify-")
        self.children = []  # (name, Popen, log path)
        self.sockets = []

    def start(self, name, argv, env):
        log = os.path.join(self.dir, f"{name}.log")
        with open(log, "wb") as out:
            # Own session: its process group holds only what we started.
            proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.children.append((name, proc, log))
        return proc

    def log_tail(self, name, lines=25):
        for n, _, log in self.children:
            if n == name:
                with open(log, errors="replace") as f:
                    return "".join(f.readlines()[-lines:])
        return ""

    def notify_socket(self, name):
        sock = NotifySocket(os.path.join(self.dir, f"{name}.sock"))
        self.sockets.append(sock)
        return sock

    def cleanup(self, keep):
        for _, proc, _ in reversed(self.children):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # pgid == pid: start_new_session
                proc.wait()
        for sock in self.sockets:
            sock.close()
        if keep:
            print(f"logs kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def daemon_env(notify):
    """The test's environment without BATON_* (which would be config) and
    with systemd's notify variables."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("BATON_") and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    env["NOTIFY_SOCKET"] = notify.path
    env["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
    return env


def as_unit_runs_it(run, unit, instance):
    """(argv, env additions) of deploy/systemd/<unit> for `instance`, with
    systemd's directories moved under the run dir (and created, as
    StateDirectory=/RuntimeDirectory= would) and the example config."""
    path = os.path.join(deploy_util.SOURCE_DIR, "deploy", "systemd", unit)
    moved = {"/var/lib/baton": os.path.join(run.dir, "state"), "/run/baton": os.path.join(run.dir, "run")}

    def expand(value):
        value = value.replace("%i", instance)
        for old, new in moved.items():
            value = value.replace(old, new)
        return value

    argv, env = None, {}
    for section, key, value in deploy_util.unit_settings(path):
        if section != "Service":
            continue
        if key == "ExecStart":
            argv = shlex.split(expand(value))
        elif key == "Environment":
            for assignment in shlex.split(value):
                name, _, val = assignment.partition("=")
                env[name] = expand(val)
        elif key in ("StateDirectory", "RuntimeDirectory"):
            parent = "/var/lib/" if key == "StateDirectory" else "/run/"
            os.makedirs(expand(parent + value), exist_ok=True)
    if argv is None:
        raise Failure(f"{path}: no ExecStart=")
    binary = os.path.basename(argv[0])
    if not argv[0].startswith("/usr/local/bin/"):
        raise Failure(f"{path}: ExecStart= runs {argv[0]}, expected /usr/local/bin/{binary} (install.sh rewrites it)")
    argv[0] = deploy_util.binary_path(binary)
    for i, arg in enumerate(argv):
        m = re.fullmatch(r"/etc/baton/([a-z]+)-" + re.escape(instance) + r"\.yaml", arg)
        if m:
            argv[i] = os.path.join(deploy_util.SOURCE_DIR, "deploy", "config", m.group(1) + ".yaml")
    return argv, env


def http_status(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def tcp_accepts(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        return True


class Daemon:
    def __init__(self, run, name, unit, instance, flags):
        self.run, self.name = run, name
        self.notify = run.notify_socket(name)
        argv, unit_env = as_unit_runs_it(run, unit, instance)
        env = daemon_env(self.notify)
        env.update(unit_env)
        self.proc = run.start(name, argv + flags, env)

    def context(self):
        return f"\n{self.name} sent:\n{self.notify.dump()}\n{self.name} log ends:\n{self.run.log_tail(self.name)}"

    def wait_ready(self, http_port, grpc_port=None, timeout=30):
        def ready():
            if self.proc.poll() is not None:
                raise Failure(f"{self.name} exited with {self.proc.returncode} before READY=1{self.context()}")
            return self.notify.first("READY", "1")
        message = wait_until(ready, timeout, f"{self.name} sent no READY=1", self.context)
        # READY=1 means serving: the ports answer now, not eventually.
        try:
            code = http_status(http_port, "/healthz")
        except OSError as e:
            raise Failure(f"{self.name} sent READY=1 but GET /healthz on port {http_port} failed: {e}{self.context()}")
        if code != 200:
            raise Failure(f"{self.name} sent READY=1 but GET /healthz answered {code}{self.context()}")
        if grpc_port is not None:
            try:
                tcp_accepts(grpc_port)
            except OSError as e:
                raise Failure(f"{self.name} sent READY=1 but its gRPC port {grpc_port} refuses: {e}{self.context()}")
        print(f"{self.name}: READY=1, STATUS={message.get('STATUS')!r}; /healthz 200 at once")
        return message

    def wait_status(self, pattern, timeout=30):
        regex = re.compile(pattern)
        wait_until(lambda: any(regex.search(s) for s in self.notify.statuses()), timeout,
                   f"{self.name} sent no STATUS= matching {pattern!r}", self.context)
        print(f"{self.name}: STATUS= lines so far: {self.notify.statuses()}")

    def wait_pings(self, n=5, timeout=10):
        start = self.notify.count("WATCHDOG")
        wait_until(lambda: self.notify.count("WATCHDOG") >= start + n, timeout,
                   f"{self.name} sent fewer than {n} WATCHDOG=1", self.context)
        print(f"{self.name}: {self.notify.count('WATCHDOG')} WATCHDOG=1 so far")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            raise Failure(f"{self.name} still running 20 s after SIGTERM{self.context()}")
        if code != 0:
            raise Failure(f"{self.name} exited {code} after SIGTERM{self.context()}")
        wait_until(lambda: self.notify.first("STOPPING", "1"), 2, f"{self.name} sent no STOPPING=1", self.context)
        print(f"{self.name}: STOPPING=1, exit 0")


class Zookeeper:
    def __init__(self, run):
        self.port = free_port()
        zk_dir = os.path.join(run.dir, "zookeeper")
        os.makedirs(os.path.join(zk_dir, "data"))
        cfg = os.path.join(zk_dir, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write(f"tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={zk_dir}/data\nclientPort={self.port}\n"
                    "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n"
                    "maxSessionTimeout=60000\nforceSync=no\n")
        env = {k: v for k, v in os.environ.items() if k not in ("JVMFLAGS", "SERVER_JVMFLAGS")}
        env.update({"ZOO_LOG_DIR": zk_dir, "JMXDISABLE": "true",
                    "JVMFLAGS": "-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.net.preferIPv4Stack=true"})
        self.run = run
        self.proc = run.start("zookeeper", [ZK_SERVER, "start-foreground", cfg], env)

        def serving():
            if self.proc.poll() is not None:
                raise Failure(f"zookeeper exited with {self.proc.returncode}:\n{run.log_tail('zookeeper')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"srvr")
                    return b"Mode: " in s.recv(4096)
            except OSError:
                return False
        wait_until(serving, 60, f"zookeeper not serving on port {self.port}", lambda: run.log_tail("zookeeper"))
        print(f"zookeeper serving on 127.0.0.1:{self.port}")

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"


def arbiter(run, zk):
    grpc_port, http_port = free_port(), free_port()
    d = Daemon(run, "arbiter", "baton-arbiter@.service", "a1",
               ["--grpc.listen", f"127.0.0.1:{grpc_port}", "--http.listen", f"127.0.0.1:{http_port}",
                "--arbiter.advertise_grpc", f"127.0.0.1:{grpc_port}",
                "--arbiter.advertise_http", f"127.0.0.1:{http_port}",
                "--zookeeper.connect", zk.address, "--zookeeper.root", "/baton-notify-test"])
    d.grpc_port, d.http_port = grpc_port, http_port
    return d


def gateway(run, arbiter_address=""):
    grpc_port, http_port = free_port(), free_port()
    d = Daemon(run, "gateway", "baton-gateway@.service", "g1",
               ["--grpc.listen", f"127.0.0.1:{grpc_port}", "--http.listen", f"127.0.0.1:{http_port}",
                "--arbiter.addresses", arbiter_address])
    d.grpc_port, d.http_port = grpc_port, http_port
    return d


def test_gateway(run):
    g = gateway(run)
    ready = g.wait_ready(g.http_port, g.grpc_port)
    if not ready.get("STATUS", "").startswith("active"):
        raise Failure(f"a standalone gateway's READY=1 should say it is active, not {ready.get('STATUS')!r}")
    g.wait_pings()
    g.stop()


def test_arbiter(run):
    zk = Zookeeper(run)
    a = arbiter(run, zk)
    a.wait_ready(a.http_port, a.grpc_port)
    a.wait_status(r"^leader \(replica a1\)$")
    a.wait_pings()
    a.stop()


def test_agent(run):
    zk = Zookeeper(run)
    a = arbiter(run, zk)
    a.wait_ready(a.http_port, a.grpc_port)
    g = gateway(run, f"127.0.0.1:{a.grpc_port}")
    ready = g.wait_ready(g.http_port, g.grpc_port)
    if not ready.get("STATUS", "").startswith("unassigned"):
        raise Failure(f"a gateway under an arbiter starts unassigned, but READY=1 says {ready.get('STATUS')!r}")
    http_port = free_port()
    agent = Daemon(run, "agent", "baton-agent@.service", "g1",
                   ["--agent.gateway", f"127.0.0.1:{g.grpc_port}", "--agent.advertise_address",
                    f"127.0.0.1:{g.grpc_port}", "--http.listen", f"127.0.0.1:{http_port}",
                    "--arbiter.addresses", f"127.0.0.1:{a.grpc_port}"])
    agent.wait_ready(http_port)
    agent.wait_status(r"^ready: ")
    g.wait_status(r"^active, epoch \d+, cluster c1, instance g1$")
    agent.wait_pings()
    g.wait_pings()
    agent.stop()
    g.stop()
    a.stop()


TESTS = {"gateway": test_gateway, "arbiter": test_arbiter, "agent": test_agent}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in TESTS:
        print(__doc__)
        return 2
    which = sys.argv[1]
    if which != "gateway" and not (os.access(ZK_SERVER, os.X_OK) and shutil.which("java")):
        print(f"SKIP: ZooKeeper is not installed ({ZK_SERVER}, java); scripts/install-deps installs it")
        return deploy_util.SKIP
    run = Run()
    ok = False
    try:
        TESTS[which](run)
        ok = True
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
    finally:
        run.cleanup(keep=not ok)
    if ok:
        print(f"PASS: {which}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
