"""Type-check the package with mypy, over the package's link tree (see package_tree.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from package_tree import ROOT, build_tree


def main() -> int:
    tree = build_tree(ROOT / "build" / "typecheck")
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "-p",
        "fusionrank",
    ]
    return subprocess.call(command, cwd=tree, env={**os.environ, "MYPYPATH": str(tree)})


if __name__ == "__main__":
    sys.exit(main())
