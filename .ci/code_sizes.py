#!/usr/bin/env python3
"""No module over 400 lines, no function over 60 lines (migrations excepted): past that, split it.

Usage: .ci/code_sizes.py [FILE ...]   (default: every Python file git knows, tracked or new)
Exits 1 and lists each offender with its size.
"""

import ast
import subprocess
import sys
from pathlib import Path

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def python_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return [Path(name) for name in listed if "/migrations/" not in f"/{name}" and Path(name).is_file()]


def offences(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    found = []
    lines = len(text.splitlines())
    if lines > MAX_MODULE_LINES:
        found.append(f"{path}: module of {lines} lines (at most {MAX_MODULE_LINES}): make it a package")
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{path}:{node.lineno}: {node.name}() has {length} lines (at most {MAX_FUNCTION_LINES})")
    return found


def main(argv: list[str]) -> int:
    paths = [Path(arg) for arg in argv] or python_files()
    found = [offence for path in paths for offence in offences(path)]
    for offence in found:
        print(offence)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
