#!/usr/bin/python3
"""Checks docs/configuration.md against the binaries' own key tables.

Every daemon prints its config schema with --help (common/config.cc,
ConfigSchema::HelpText): one line per key,

    --KEY [(required) | (default VALUE)] [[MIN..MAX] | [A|B|C]]
        HELP  (env BATON_KEY)

docs/configuration.md has one section per binary ("## baton-gateway", ...)
with a table whose header starts "| key | type | default |". This test fails,
naming the keys, when:

  - a key the binary accepts is missing from its table, or the table lists a
    key the binary does not accept;
  - a default differs (the doc's default cell: `VALUE` in backticks, the word
    "required", or "—" for none);
  - an integer key's range (MIN..MAX) is not in the doc's type cell, or an
    enum key's values are not exactly the backticked values of the type cell;
  - the environment variable --help names is not BATON_ + the key upper-cased
    with dots as underscores (the rule the doc states).

It then checks itself: a copy of the doc with one key removed, one key added
and one default changed must produce exactly those complaints, so that a
parser that silently finds nothing cannot pass.

batonctl has no schema: with --batonctl, every global option of its --help
must be mentioned in the doc's "## batonctl" section, and every flag and
environment variable of that section's table must exist in its --help.

Run with /usr/bin/python3 (Debian's; no third-party modules):
  config_reference_test.py --doc docs/configuration.md \
      --binary baton-gateway=build/gateway/baton-gateway ... \
      --batonctl build/tools/batonctl
"""
import argparse
import os
import re
import subprocess
import sys

HELP_KEY = re.compile(
    r"^  --(?P<key>\S+)"
    r"(?: \((?P<required>required)\)| \(default (?P<default>.*?)\))?"
    r"(?: \[(?P<bracket>[^\]]*)\])?\s*$")
HELP_ENV = re.compile(r"\(env (?P<env>BATON_[A-Z0-9_]+)\)\s*$")
NO_DEFAULT = {"", "—", "-", "none", "(none)", "empty", "(empty)"}


class Key:
    def __init__(self, name):
        self.name = name
        self.default = None      # None = no default; "required"; else the text
        self.int_range = None    # "MIN..MAX"
        self.enum = None         # set of values
        self.env = None


def parse_help(text):
    """Key table of one binary's --help output: {name: Key}."""
    keys = {}
    current = None
    for line in text.splitlines():
        m = HELP_KEY.match(line)
        if m:
            current = Key(m.group("key"))
            if m.group("required"):
                current.default = "required"
            elif m.group("default") is not None:
                current.default = m.group("default")
            bracket = m.group("bracket")
            if bracket is not None:
                if ".." in bracket and "|" not in bracket:
                    current.int_range = bracket
                else:
                    current.enum = set(bracket.split("|"))
            keys[current.name] = current
            continue
        env = HELP_ENV.search(line)
        if env and current is not None and current.env is None:
            current.env = env.group("env")
    return keys


def split_row(line):
    """Cells of a markdown table row; '\\|' is a literal bar."""
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    cells = re.split(r"(?<!\\)\|", body)
    return [c.replace("\\|", "|").strip() for c in cells]


def backticked(cell):
    return re.findall(r"`([^`]*)`", cell)


def parse_doc(text, binary):
    """Rows of the key tables in section '## <binary>': {name: (type, default cell)}.

    Returns (rows, problems)."""
    rows = {}
    problems = []
    in_section = False
    in_table = False
    header = None
    found_section = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("## "):
            title = line[3:].strip().strip("`").strip()
            in_section = title == binary
            found_section = found_section or in_section
            in_table = False
            continue
        if not in_section:
            continue
        if not line.lstrip().startswith("|"):
            in_table = False
            continue
        cells = split_row(line)
        if not in_table:
            if [c.lower() for c in cells[:3]] == ["key", "type", "default"]:
                in_table = True
                header = cells
            continue
        if all(re.fullmatch(r":?-+:?", c) for c in cells if c):
            continue  # the separator row
        if len(cells) != len(header):
            problems.append(f"line {number}: {len(cells)} cells, the header has {len(header)}")
            continue
        names = backticked(cells[0])
        if len(names) != 1:
            problems.append(f"line {number}: the key cell must be one `key`, is {cells[0]!r}")
            continue
        name = names[0]
        if name in rows:
            problems.append(f"line {number}: key {name} is listed twice")
        rows[name] = (cells[1], cells[2])
    if not found_section:
        problems.append(f"no section '## {binary}'")
    elif not rows:
        problems.append(f"section '## {binary}' has no table with a 'key | type | default' header")
    return rows, problems


def doc_default(cell):
    if "required" in cell.lower():
        return "required"
    quoted = backticked(cell)
    if quoted:
        return quoted[0]
    if cell.strip().lower() in NO_DEFAULT:
        return None
    return cell.strip()


def env_name(key):
    return "BATON_" + re.sub(r"[.-]", "_", key).upper()


def compare(binary, help_keys, rows):
    """Every difference between a binary's keys and its doc table, as
    (kind, key, message) with kind one of missing, extra, default, type, env."""
    problems = []
    for name in sorted(set(help_keys) - set(rows)):
        problems.append(("missing", name, f"{binary} accepts {name}, the doc does not list it"))
    for name in sorted(set(rows) - set(help_keys)):
        problems.append(("extra", name, f"the doc lists {name}, {binary} does not accept it"))
    for name in sorted(set(help_keys) & set(rows)):
        key = help_keys[name]
        type_cell, default_cell = rows[name]
        if key.default != "****":  # a secret's default is masked in --help
            documented = doc_default(default_cell)
            if documented != key.default:
                problems.append(("default", name,
                                 f"{name}: default is {key.default!r} in {binary}, {documented!r} in the doc"))
        if key.int_range and key.int_range not in type_cell:
            problems.append(("type", name,
                             f"{name}: range {key.int_range} in {binary}, the doc's type says {type_cell!r}"))
        if key.enum is not None and set(backticked(type_cell)) != key.enum:
            problems.append(("type", name, f"{name}: values {sorted(key.enum)} in {binary}, "
                                           f"the doc's type says {sorted(backticked(type_cell))}"))
        if key.env != env_name(name):
            problems.append(("env", name, f"{name}: {binary} names the environment variable {key.env}, "
                                          f"not {env_name(name)} as the doc's rule says"))
    return problems


def self_check(binary, help_keys, rows):
    """The comparison must notice a removed key, an added key and a wrong
    default, and nothing else, in an otherwise matching table."""
    if not rows:
        return [f"self-check: no rows for {binary}"]
    names = sorted(rows)
    removed = names[0]
    changed = next((n for n in names[1:] if help_keys.get(n) and help_keys[n].default not in (None, "****")),
                   None)
    mutated = dict(rows)
    del mutated[removed]
    mutated["no.such.key_for_self_check"] = ("string", "—")
    expected = {("missing", removed), ("extra", "no.such.key_for_self_check")}
    if changed:
        type_cell, _ = mutated[changed]
        mutated[changed] = (type_cell, "`self-check-default`")
        expected.add(("default", changed))
    found = {(kind, name) for kind, name, _ in compare(binary, help_keys, mutated)}
    if found != expected:
        return [f"self-check: a doc with {removed} removed, an extra key and a wrong default of {changed} gave "
                f"{sorted(found)}, expected {sorted(expected)}"]
    return []


def section_text(text, title):
    """The lines of section '## <title>' (up to the next '## ')."""
    out = []
    inside = False
    for line in text.splitlines():
        if line.startswith("## "):
            inside = line[3:].strip().strip("`").strip() == title
            continue
        if inside:
            out.append(line)
    return out


def batonctl_options(help_text):
    """Global options of `batonctl --help` (the 'Options:' block) and every
    BATON_* variable it names."""
    options = set()
    in_options = False
    for line in help_text.splitlines():
        if line.startswith("Options:"):
            in_options = True
            continue
        if in_options:
            if not line.strip() or not line.startswith(" "):
                if line.strip():
                    in_options = False
                continue
            m = re.match(r"^\s+(?:-\w,)?(--[\w-]+)", line)
            if m:
                options.add(m.group(1))
    return options - {"--help"}, set(re.findall(r"BATON_[A-Z_]+", help_text))


def compare_batonctl(help_options, help_env, lines):
    """batonctl has no schema; its doc section has a table with 'flag' and
    'environment' columns. Every global option must be in the section, every
    flag of the table must exist, every variable of the table must be one
    batonctl names."""
    problems = []
    section = "\n".join(lines)
    mentioned = set(re.findall(r"--[a-z][\w-]*", section))
    table_flags, table_env = set(), set()
    header = None
    for line in lines:
        if not line.lstrip().startswith("|"):
            header = None
            continue
        cells = split_row(line)
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if all(re.fullmatch(r":?-+:?", c) for c in cells if c) or len(cells) != len(header):
            continue
        row = dict(zip(header, cells))
        table_flags |= set(re.findall(r"--[a-z][\w-]*", row.get("flag", "")))
        table_env |= set(re.findall(r"BATON_[A-Z_]+", row.get("environment", "")))
    if not table_flags:
        problems.append(("table", "", "the section has no table with a 'flag' column"))
    for option in sorted(help_options - mentioned):
        problems.append(("missing", option, f"batonctl --help has {option}, the doc does not mention it"))
    for option in sorted(table_flags - help_options):
        problems.append(("extra", option, f"the doc's table lists {option}, batonctl --help has no such option"))
    for env in sorted(table_env - help_env):
        problems.append(("env", env, f"the doc's table lists {env}, batonctl --help names no such variable"))
    return problems


def run_help(path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    result = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{path} --help exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doc", required=True, help="docs/configuration.md")
    parser.add_argument("--binary", action="append", required=True, metavar="NAME=PATH",
                        help="a binary and its path; NAME is its section title in the doc")
    parser.add_argument("--batonctl", metavar="PATH", help="batonctl, checked against the '## batonctl' section")
    args = parser.parse_args()
    with open(args.doc, encoding="utf-8") as f:
        doc = f.read()

    failures = []
    for spec in args.binary:
        name, _, path = spec.partition("=")
        if not path or not os.access(path, os.X_OK):
            failures.append(f"{name}: {path or '(no path)'} is not an executable (build it first)")
            continue
        try:
            help_keys = parse_help(run_help(path))
        except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
            failures.append(f"{name}: {e}")
            continue
        if not help_keys:
            failures.append(f"{name}: --help printed no key table (did its format change? see common/config.cc)")
            continue
        rows, problems = parse_doc(doc, name)
        failures += [f"{name}: {args.doc}: {p}" for p in problems]
        differences = compare(name, help_keys, rows)
        failures += [f"{name}: {message}" for _, _, message in differences]
        if not problems and not differences:
            failures += [f"{name}: {p}" for p in self_check(name, help_keys, rows)]
        print(f"{name}: {len(help_keys)} keys in --help, {len(rows)} in {os.path.basename(args.doc)}")

    if args.batonctl:
        try:
            help_options, help_env = batonctl_options(run_help(args.batonctl))
        except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
            failures.append(f"batonctl: {e}")
        else:
            lines = section_text(doc, "batonctl")
            if not lines:
                failures.append(f"batonctl: {args.doc}: no section '## batonctl'")
            elif not help_options:
                failures.append("batonctl: --help printed no 'Options:' block")
            else:
                differences = compare_batonctl(help_options, help_env, lines)
                failures += [f"batonctl: {message}" for _, _, message in differences]
                # Self-check: dropping an option from the section must be noticed.
                if not differences:
                    dropped = sorted(help_options)[0]
                    pattern = re.compile(re.escape(dropped) + r"(?![\w-])")
                    mutated = [pattern.sub("--self-check-gone", line) for line in lines]
                    found = {(kind, name) for kind, name, _ in compare_batonctl(help_options, help_env, mutated)}
                    if ("missing", dropped) not in found:
                        failures.append(f"batonctl: self-check: removing {dropped} from the doc went unnoticed")
                print(f"batonctl: {len(help_options)} global options in --help")

    if failures:
        print(f"\n{args.doc} and the binaries differ:", file=sys.stderr)
        for failure in failures:
            print("  " + failure, file=sys.stderr)
        return 1
    print("configuration reference matches every binary's keys and defaults")
    return 0


if __name__ == "__main__":
    sys.exit(main())
