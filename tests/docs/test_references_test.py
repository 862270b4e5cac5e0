#!/usr/bin/python3
"""Checks that every test a doc names exists.

docs/failure-semantics.md (and other pages) name tests as
`tests/<dir>/<file>_test.cc: Suite.Name`, `<file>_test.cc: Suite.Name`, or a
file followed, in the same paragraph or list item, by more `Suite.Name`
spans. This test fails, naming the doc, the line and the reference, when the
file does not exist under tests/ or defines no TEST, TEST_F or TEST_P with
that suite and name (`Suite.*` needs only the suite).

Usage: test_references_test.py --root <source dir> DOC.md|DIR ...
(a directory stands for every *.md under it)
"""
import argparse
import os
import re
import sys

FILE = re.compile(r"^(?P<path>(?:tests/)?[\w./-]*_test\.(?:cc|sh))(?::\s*(?P<test>[A-Z]\w*\.(?:\w+|\*)))?$")
TEST = re.compile(r"^[A-Z]\w*\.(?:[A-Z]\w*|\*)$")


def index_tests(root):
    """{basename: [paths]} of every *_test.cc/.sh under tests/."""
    by_name = {}
    for directory, _, files in os.walk(os.path.join(root, "tests")):
        for name in files:
            if re.search(r"_test\.(cc|sh)$", name):
                by_name.setdefault(name, []).append(os.path.relpath(os.path.join(directory, name), root))
    return by_name


def defines(path, test):
    suite, _, name = test.partition(".")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if name == "*":
        pattern = rf"\bTEST(?:_F|_P)?\(\s*{re.escape(suite)}\s*,"
    else:
        pattern = rf"\bTEST(?:_F|_P)?\(\s*{re.escape(suite)}\s*,\s*{re.escape(name)}\s*\)"
    return re.search(pattern, text) is not None


def check(root, doc, by_name):
    problems = []
    references = 0
    current = None  # the test file the paragraph or list item is about
    with open(doc, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("- ", "* ", "|", "#")):
            current = None
        for span in re.findall(r"`([^`]+)`", line):
            span = span.strip()
            m = FILE.match(span)
            if m:
                path = m.group("path")
                if path.startswith("tests/"):
                    resolved = path if os.path.isfile(os.path.join(root, path)) else None
                else:
                    found = by_name.get(os.path.basename(path), [])
                    resolved = found[0] if len(found) == 1 else None
                    if len(found) > 1:
                        problems.append(f"{doc}:{number}: {path} is ambiguous ({', '.join(found)}); give the path")
                        continue
                if resolved is None:
                    problems.append(f"{doc}:{number}: no test file {path}")
                    current = None
                    continue
                current = resolved
                if m.group("test"):
                    references += 1
                    if not defines(os.path.join(root, current), m.group("test")):
                        problems.append(f"{doc}:{number}: {current} defines no test {m.group('test')}")
                continue
            if current and TEST.match(span):
                references += 1
                if not defines(os.path.join(root, current), span):
                    problems.append(f"{doc}:{number}: {current} defines no test {span}")
    return references, problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="the source tree")
    parser.add_argument("docs", nargs="+")
    args = parser.parse_args()
    by_name = index_tests(args.root)
    docs = []
    for item in args.docs:
        if os.path.isdir(item):
            for directory, _, files in sorted(os.walk(item)):
                docs += [os.path.join(directory, f) for f in sorted(files) if f.endswith(".md")]
        else:
            docs.append(item)
    failures = []
    for doc in docs:
        references, problems = check(args.root, doc, by_name)
        failures += problems
        print(f"{os.path.relpath(doc, args.root)}: {references} test references")
    if failures:
        print("\nDocs name tests that do not exist:", file=sys.stderr)
        for failure in failures:
            print("  " + failure, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
