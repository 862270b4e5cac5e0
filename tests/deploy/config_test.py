#!/usr/bin/python3
"""The bare-metal configuration (docs/deployment.md): every key in the
example configs deploy/config/{gateway,agent,arbiter}.yaml and every BATON_*
variable that a unit in deploy/systemd/ sets is one its binary accepts (read
from the binary's --help), and no example sets a key its unit sets (the
unit's environment would silently win). A broken copy shows the check can
fail. (notify_test.py also starts every daemon from its example.)"""

import os
import sys

import yaml

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_util  # noqa: E402
from deploy_util import Failure  # noqa: E402

# example config, unit, binary
CASES = [
    ("gateway.yaml", "baton-gateway@.service", "baton-gateway"),
    ("agent.yaml", "baton-agent@.service", "baton-agent"),
    ("arbiter.yaml", "baton-arbiter@.service", "baton-arbiter"),
]


def problems_of(config, unit_settings, keys, names):
    config_file, unit, binary = names
    env_to_key = {env: key for key, env in keys.items()}
    problems = []
    for key in deploy_util.flatten(config):
        if key not in keys:
            problems.append(f"deploy/config/{config_file}: key {key!r} is not one {binary} accepts")
    unit_keys = set()
    for section, setting, value in unit_settings:
        if section == "Service" and setting == "Environment":
            for assignment in value.split():
                name = assignment.partition("=")[0]
                if name.startswith("BATON_"):
                    if name not in env_to_key:
                        problems.append(f"deploy/systemd/{unit}: {name} is not a variable {binary} accepts")
                    else:
                        unit_keys.add(env_to_key[name])
    for key in sorted(unit_keys & set(deploy_util.flatten(config))):
        problems.append(f"deploy/config/{config_file} sets {key!r}, which {unit} overrides from its environment")
    return problems


def main():
    try:
        for config_file, unit, binary in CASES:
            keys = deploy_util.accepted_keys(binary)
            with open(os.path.join(deploy_util.SOURCE_DIR, "deploy", "config", config_file)) as f:
                config = yaml.safe_load(f) or {}
            settings = deploy_util.unit_settings(os.path.join(deploy_util.SOURCE_DIR, "deploy", "systemd", unit))
            names = (config_file, unit, binary)
            problems = problems_of(config, settings, keys, names)
            if problems:
                raise Failure("\n  ".join(problems))
            print(f"ok: deploy/config/{config_file} ({len(deploy_util.flatten(config))} keys) and the "
                  f"environment of {unit} are all accepted by {binary}")
            # The check can fail.
            broken = dict(config, heartbeat_msec=100)
            broken_settings = settings + [("Service", "Environment", "BATON_INSTANCE_IDENT=x")]
            found = problems_of(broken, broken_settings, keys, names)
            if not any("heartbeat_msec" in p for p in found) or not any("BATON_INSTANCE_IDENT" in p for p in found):
                raise Failure(f"an unknown key or variable for {binary} passes the check: {found}")
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
