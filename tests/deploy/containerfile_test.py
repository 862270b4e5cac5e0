#!/usr/bin/python3
"""deploy/Containerfile, checked without building an image (no container
engine or registry is needed):

  - two stages from Debian 12: `debian:bookworm AS build`, which runs
    scripts/install-deps --build and CMake for all four binaries, and a
    bookworm runtime stage that copies them from it;
  - the runtime stage installs exactly the Debian packages that own the
    shared libraries the built binaries link (readelf NEEDED -> dpkg -S):
    none missing, no -dev package, compiler or anything else;
  - the sources the build stage copies are enough for CMake to configure
    with the stage's options (a temp copy of just those paths is
    configured);
  - the image's baton uid is the runAsUser and fsGroup the Baton pods in
    deploy/k8s use.
"""

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_util  # noqa: E402
from deploy_util import Failure  # noqa: E402

CONTAINERFILE = os.path.join(deploy_util.SOURCE_DIR, "deploy", "Containerfile")
BINARIES = ["gateway/baton-gateway", "instance-agent/baton-agent", "arbiter/baton-arbiter", "tools/batonctl"]
BUILD_TOOLS = {"build-essential", "cmake", "ninja-build", "pkg-config", "gcc", "g++", "clang", "make"}


def instructions(path):
    """[(INSTRUCTION, argument text)] with continuation lines joined."""
    out, pending = [], ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            line = pending + line
            pending = ""
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages(instrs):
    result = []
    for word, rest in instrs:
        if word == "FROM":
            result.append({"from": rest, "instrs": []})
        elif result:
            result[-1]["instrs"].append((word, rest))
    return result


def apt_packages(run):
    """Packages named by `apt-get install` in a RUN line."""
    packages = []
    for command in re.split(r"&&|;", run):
        words = shlex.split(command)
        if "apt-get" in words and "install" in words:
            for word in words[words.index("install") + 1:]:
                if not word.startswith("-"):
                    packages.append(word)
    return packages


def needed_packages():
    """{package: [sonames]} owning the libraries the built binaries link."""
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    paths = {}
    for line in cache.splitlines():
        m = re.match(r"\s*(\S+) \(([^)]*)\) => (\S+)", line)
        if m and "x86-64" in m.group(2) and m.group(1) not in paths:
            paths[m.group(1)] = m.group(3)
    owners = {}
    for binary in BINARIES:
        path = os.path.join(deploy_util.BUILD_DIR, binary)
        if not os.access(path, os.X_OK):
            raise Failure(f"{path} is missing: build it first")
        dynamic = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
        for soname in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic):
            lib = paths.get(soname)
            if lib is None:
                raise Failure(f"{binary} needs {soname}, which ldconfig does not know")
            owner = None
            for candidate in (os.path.realpath(lib), lib):
                out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
                if out.returncode == 0:
                    owner = out.stdout.split(":")[0].strip()
                    break
            if owner is None:
                raise Failure(f"{binary} needs {soname} ({lib}), which no Debian package owns")
            if re.fullmatch(r"lib(a|ub|t|l|hwa)san\d*", owner):
                continue  # a sanitizer build (scripts/test --asan/--tsan); images are built without
            owners.setdefault(owner, set()).add(soname)
    return owners


def check_sources_configure(build_stage):
    copied = [shlex.split(rest)[0] for word, rest in build_stage["instrs"]
              if word == "COPY" and not rest.startswith("--from")]
    configure = next((rest for word, rest in build_stage["instrs"] if word == "RUN" and "cmake -S" in rest), None)
    if configure is None:
        raise Failure("the build stage runs no `cmake -S`")
    options = re.findall(r"(-D\w+=\S+)", configure.split("&&")[0])
    with tempfile.TemporaryDirectory(prefix="baton-containerfile-") as tmp:
        ctx = os.path.join(tmp, "src")
        os.makedirs(ctx)
        for source in copied:
            src = os.path.join(deploy_util.SOURCE_DIR, source)
            dst = os.path.join(ctx, source)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if os.path.isdir(src):
                shutil.copytree(src, dst)
            else:
                shutil.copy2(src, dst)
        out = subprocess.run(["cmake", "-S", ctx, "-B", os.path.join(tmp, "build"), "-G", "Ninja", *options],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise Failure(f"CMake does not configure from what the build stage copies ({', '.join(copied)}) "
                          f"with {' '.join(options)}:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    print(f"ok: the copied sources ({', '.join(copied)}) configure with {' '.join(options)}")


def image_uid(runtime):
    for word, rest in runtime["instrs"]:
        m = re.search(r"useradd .*--uid (\d+)", rest) if word == "RUN" else None
        if m:
            return int(m.group(1))
    raise Failure("the runtime stage creates no user with a fixed --uid")


def check_manifests_uid(uid):
    for path in glob.glob(os.path.join(deploy_util.SOURCE_DIR, "deploy", "k8s", "*.yaml")):
        for doc in yaml.safe_load_all(open(path)):
            if not doc or doc.get("kind") not in ("StatefulSet", "Deployment"):
                continue
            spec = doc["spec"]["template"]["spec"]
            if not any(c.get("image") == "baton" for c in spec["containers"]):
                continue
            sc = spec.get("securityContext", {})
            for key in ("runAsUser", "runAsGroup"):
                if sc.get(key) != uid:
                    raise Failure(f"{os.path.basename(path)} {doc['metadata']['name']}: {key} is {sc.get(key)}, "
                                  f"but the image's baton uid is {uid}")
            if "fsGroup" in sc and sc["fsGroup"] != uid:
                raise Failure(f"{os.path.basename(path)} {doc['metadata']['name']}: fsGroup {sc['fsGroup']} != {uid}")
    print(f"ok: the Baton pods in deploy/k8s run as the image's baton uid {uid}")


def main():
    try:
        st = stages(instructions(CONTAINERFILE))
        if len(st) != 2:
            raise Failure(f"expected two stages (build, runtime), found {len(st)}")
        build, runtime = st
        if not re.fullmatch(r"debian:bookworm\s+AS\s+build", build["from"], re.I):
            raise Failure(f"the build stage is FROM {build['from']!r}, expected 'debian:bookworm AS build'")
        if not re.fullmatch(r"debian:bookworm(-slim)?", runtime["from"]):
            raise Failure(f"the runtime stage is FROM {runtime['from']!r}, expected debian:bookworm(-slim)")
        build_runs = " ".join(rest for word, rest in build["instrs"] if word == "RUN")
        if "scripts/install-deps --build" not in build_runs:
            raise Failure("the build stage does not install its packages with scripts/install-deps --build")
        for binary in BINARIES:
            target = os.path.basename(binary)
            if not re.search(r"--target[^&]*\b" + re.escape(target) + r"\b", build_runs) or binary not in build_runs:
                raise Failure(f"the build stage does not build and collect {target}")
        if not any(word == "COPY" and rest.startswith("--from=build") for word, rest in runtime["instrs"]):
            raise Failure("the runtime stage copies nothing from the build stage")
        print(f"ok: stages FROM {build['from']} and {runtime['from']}; install-deps --build, cmake, 4 binaries")

        installed = []
        for word, rest in runtime["instrs"]:
            if word == "RUN":
                installed += apt_packages(rest)
        needed = needed_packages()
        missing = sorted(set(needed) - set(installed))
        if missing:
            raise Failure("the runtime stage does not install " +
                          ", ".join(f"{p} ({', '.join(sorted(needed[p]))})" for p in missing))
        extra = sorted(p for p in set(installed) - set(needed))
        build_only = sorted(p for p in installed if p.endswith("-dev") or p in BUILD_TOOLS)
        if build_only or extra:
            raise Failure(f"the runtime stage installs more than the binaries' libraries: {build_only + extra}")
        print(f"ok: the runtime stage installs exactly the {len(needed)} packages of the linked libraries: "
              f"{' '.join(sorted(needed))}")

        check_sources_configure(build)
        check_manifests_uid(image_uid(runtime))
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
