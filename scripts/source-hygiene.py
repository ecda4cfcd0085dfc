#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Checks (or, with --fix, adds) the SPDX line every source file carries.

   scripts/source-hygiene.py          exit 1 and list the files without one
   scripts/source-hygiene.py --fix    add it where it is missing

Source files are the tracked C, C++, Python, shell, CMake, YAML, systemd
and Containerfile files; generated ones (vmlinux.h), fuzz corpora and
JSON (which has no comments) are left out.
"""
import subprocess
import sys
from pathlib import Path

SPDX = "SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause"
ROOT = Path(__file__).resolve().parent.parent
SLASH = {".c", ".h", ".cpp", ".hpp"}
HASH = {".py", ".sh", ".cmake", ".yaml", ".yml", ".service"}
HASH_NAMES = {"CMakeLists.txt", "Containerfile", "run", ".clang-format", ".editorconfig"}


def comment_style(path: Path):
    if path.parts[0] == "vmlinux" or "corpus" in path.parts:
        return None
    if path.suffix in SLASH:
        return "// "
    if path.suffix in HASH or path.name in HASH_NAMES:
        return "# "
    if path.suffix == "" and path.is_file():
        with open(ROOT / path, "rb") as f:
            if f.read(2) == b"#!":
                return "# "
    return None


def main() -> int:
    fix = "--fix" in sys.argv[1:]
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    missing = []
    for name in tracked.splitlines():
        path = Path(name)
        style = comment_style(path)
        if style is None or not (ROOT / path).is_file():
            continue
        text = (ROOT / path).read_text(encoding="utf-8", errors="surrogateescape")
        head = "\n".join(text.splitlines()[:3])
        if SPDX in head:
            continue
        missing.append(name)
        if fix:
            line = style + SPDX + "\n"
            if text.startswith("#!"):
                first, _, rest = text.partition("\n")
                text = first + "\n" + line + rest
            else:
                text = line + text
            (ROOT / path).write_text(text, encoding="utf-8", errors="surrogateescape")
    if missing and not fix:
        print("files without an SPDX-License-Identifier line (scripts/source-hygiene.py --fix adds it):")
        for name in missing:
            print("  " + name)
        return 1
    if fix:
        print(f"added the SPDX line to {len(missing)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
