"""Type-check the package with mypy.

The repository maps its top-level folders into the one package ``fusionrank`` with
setuptools ``package-dir``, a layout mypy cannot see from the source tree. This script
builds the package's shape as a tree of symbolic links under ``build/typecheck`` (from the
mapping in pyproject.toml, so the two cannot drift) and runs mypy on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    tree = ROOT / "build" / "typecheck"
    shutil.rmtree(tree, ignore_errors=True)
    for package in setuptools["packages"]:
        source = ROOT / setuptools["package-dir"][package]
        target = tree.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for module in source.glob("*.py"):
            os.symlink(module, target / module.name)
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
