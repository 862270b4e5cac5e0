"""Helpers shared by the deployment tests (tests/deploy/*.py): paths, the
config keys each binary accepts (from its --help), flattening YAML configs
to dotted keys, and reading a systemd unit's settings.

Run with /usr/bin/python3 (Debian's python3-yaml)."""

import os
import re
import subprocess
import time

SOURCE_DIR = os.environ.get("BATON_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("BATON_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")

# Binary name -> path under the build dir.
BINARIES = {
    "baton-gateway": "gateway/baton-gateway",
    "baton-agent": "instance-agent/baton-agent",
    "baton-arbiter": "arbiter/baton-arbiter",
}

SKIP = 77


class Failure(Exception):
    """A check failed; the message says what and where."""


def wait_until(cond, timeout, what, on_fail=lambda: "", interval=0.02):
    """Polls `cond` every `interval` s until it returns something truthy,
    which it returns; after `timeout` s raises Failure with `what` and
    on_fail()."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Failure(f"{what} within {timeout} s{on_fail()}")
        time.sleep(interval)


def binary_path(name):
    path = os.path.join(BUILD_DIR, BINARIES[name])
    if not os.access(path, os.X_OK):
        raise Failure(f"{path} is missing: build it first (cmake --build {BUILD_DIR} --target {name})")
    return path


_KEY_LINE = re.compile(r"^  --([a-z0-9_.]+)")
_ENV = re.compile(r"\(env (BATON_[A-Z0-9_]+)\)")


def accepted_keys(name):
    """{key: env var} of every config key `name` accepts, read from its --help
    (the schema table of common/config: `  --key ...` then `(env BATON_KEY)`)."""
    out = subprocess.run([binary_path(name), "--help"], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise Failure(f"{name} --help exited {out.returncode}: {out.stderr.strip()}")
    keys = {}
    current = None
    for line in out.stdout.splitlines():
        m = _KEY_LINE.match(line)
        if m:
            current = m.group(1)
            keys[current] = None
        m = _ENV.search(line)
        if m and current:
            keys[current] = m.group(1)
    if len(keys) < 5 or any(env is None for env in keys.values()):
        raise Failure(f"cannot read the config schema from `{name} --help` (the format changed?):\n{out.stdout}")
    return keys


def flatten(node, prefix=""):
    """{dotted.key: value} of a YAML mapping, as common/config reads it
    (nesting = dots; a list is one value)."""
    if not isinstance(node, dict):
        return {prefix: node}
    flat = {}
    for key, value in node.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def unit_settings(path):
    """[(section, key, value)] of a systemd unit file, in order (comments
    and blank lines dropped; no line continuations are used in ours)."""
    settings = []
    section = None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#") or line.startswith(";"):
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            key, _, value = line.partition("=")
            settings.append((section, key.strip(), value.strip()))
    return settings
