"""Check the import contracts (pyproject.toml's ``[tool.importlinter]``) with import-linter.

import-linter reads the package from the file system, so it runs over the package's link
tree (see package_tree.py): ``python scripts/lint_imports.py [--root REPO]``. Exits with
``lint-imports``' status: 0 when every contract holds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from package_tree import ROOT, build_tree


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=ROOT, help="repository to check")
    args = parser.parse_args()
    root = args.root.resolve()
    tree = build_tree(root / "build" / "imports", root)
    lint = Path(sys.executable).parent / "lint-imports"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [str(lint), str(root / "pyproject.toml"), "--no-cache"]
    return subprocess.call(command, cwd=tree, env=env)


if __name__ == "__main__":
    sys.exit(main())
