"""The package's shape as a tree of symbolic links, for tools that read source trees.

The repository maps its top-level folders into the one package ``fusionrank`` with
setuptools ``package-dir``, a layout that mypy and import-linter cannot see from the
source tree. :func:`build_tree` builds ``fusionrank/`` under a folder from the mapping in
pyproject.toml (so the two cannot drift): real package folders holding links to the
modules.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_tree(tree: Path, root: Path = ROOT) -> Path:
    """Build the link tree of ``root``'s package under ``tree`` (replaced); return it."""
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    shutil.rmtree(tree, ignore_errors=True)
    for package in setuptools["packages"]:
        source = root / setuptools["package-dir"][package]
        target = tree.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for module in source.glob("*.py"):
            os.symlink(module, target / module.name)
    return tree
