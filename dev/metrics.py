#!/usr/bin/env python3
"""The layout's numbers, before and after a change (issue 33's closing note):
`ls functions` against the template's Lambdas, lines of Rust per crate, and the longest
functions outside tests. Run from the repository root: `python3 dev/metrics.py [--top N]`."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(async\s+)?(const\s+)?(unsafe\s+)?fn\s+(\w+)")


def template_binaries():
    text = open(os.path.join(ROOT, "infra/template.yaml")).read()
    return sorted(set(re.findall(r"^\s+Binary:\s*(\S+)", text, re.M)))


def crates():
    for parent in ("functions", "crates", "dev", "tests"):
        path = os.path.join(ROOT, parent)
        if not os.path.isdir(path):
            continue
        if os.path.exists(os.path.join(path, "Cargo.toml")):
            yield parent, path
            continue
        for name in sorted(os.listdir(path)):
            if os.path.exists(os.path.join(path, name, "Cargo.toml")):
                yield f"{parent}/{name}", os.path.join(path, name)


def rust_files(path):
    for directory, _, files in os.walk(path):
        for name in files:
            if name.endswith(".rs"):
                yield os.path.join(directory, name)


def is_test_file(path):
    parts = path.split(os.sep)
    return "tests" in parts[:-1] or "benches" in parts or parts[-1] == "tests.rs"


LITERAL = re.compile(r'"(\\.|[^"\\])*"|b?\'(\\.|[^\'\\])\'')


def code_of(line):
    """The line without its comment and its string and char literals (whose braces don't count)."""
    return LITERAL.sub('""', line).split("//")[0]


def functions_of(path):
    """(name, first line, length) of each fn outside `#[cfg(test)]` modules, by brace depth."""
    lines = open(path).read().split("\n")
    found, index, test_depth, depth = [], 0, None, 0
    pending_test = False
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if stripped.startswith("#[cfg(test)]"):
            pending_test = True
        match = FN.match(line)
        if match and test_depth is None and not pending_test:
            start, body_depth, opened = index, 0, False
            while index < len(lines):
                code = code_of(lines[index])
                body_depth += code.count("{") - code.count("}")
                opened = opened or "{" in code
                if (opened and body_depth <= 0) or (not opened and code.rstrip().endswith(";")):
                    break
                index += 1
            found.append((match.group(6), start + 1, index - start + 1))
            index += 1
            continue
        code = code_of(line)
        if pending_test and "{" in code:
            test_depth, pending_test = depth, False
        depth += code.count("{") - code.count("}")
        if test_depth is not None and depth <= test_depth:
            test_depth = None
        index += 1
    return found


def main():
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 12
    listed = sorted(os.listdir(os.path.join(ROOT, "functions")))
    binaries = template_binaries()
    print(f"ls functions ({len(listed)}): {' '.join(listed)}")
    print(f"template's Lambdas ({len(binaries)}): {' '.join(binaries)}")
    print(f"in functions/, not a Lambda: {sorted(set(listed) - set(binaries)) or 'none'}")
    print("\nlines of Rust per crate (all / outside tests):")
    lengths = []
    for name, path in crates():
        total = non_test = 0
        for file in rust_files(path):
            count = sum(1 for _ in open(file))
            total += count
            if not is_test_file(file):
                non_test += count
                lengths += [(n, os.path.relpath(file, ROOT), line, size) for n, line, size in functions_of(file)]
        print(f"  {name:32} {total:6} {non_test:6}")
    print(f"\nlongest functions outside tests (top {top}):")
    for name, file, line, size in sorted(lengths, key=lambda f: -f[3])[:top]:
        print(f"  {size:4}  {file}:{line} {name}")
    print(f"functions over 80 lines: {sum(1 for f in lengths if f[3] > 80)}")


if __name__ == "__main__":
    main()
