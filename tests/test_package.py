"""The repository's folders are one import package, as pyproject.toml maps them."""

import importlib
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


@pytest.mark.parametrize("package", SETUPTOOLS["packages"])
def test_each_mapped_package_imports_from_its_folder(package):
    module = importlib.import_module(package)
    folder = ROOT / SETUPTOOLS["package-dir"][package]
    assert Path(module.__file__).resolve().parent == folder.resolve()


def test_every_package_folder_is_mapped():
    mapped = {(ROOT / d).resolve() for d in SETUPTOOLS["package-dir"].values()}
    skip = {"tests", "benchmarks", "build", "scripts"}
    folders = {
        init.parent.resolve()
        for init in ROOT.glob("**/__init__.py")
        if not ({".venv", "runs"} | skip) & set(init.relative_to(ROOT).parts)
    }
    assert folders <= mapped, f"add these to pyproject.toml: {sorted(map(str, folders - mapped))}"
