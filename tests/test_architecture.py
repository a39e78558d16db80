"""The architecture's rules, checked: layers only look down (import-linter), the run
folder's layout is spelt in one module, and modules and functions stay small."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
PACKAGE_DIRS = sorted({ROOT / d for d in SETUPTOOLS["package-dir"].values()})
STAGE_FOLDERS = {"world", "data", "truth", "retrieval", "simulator", "policies", "evaluation"}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    script = ROOT / "scripts" / "lint_imports.py"
    return subprocess.run(
        [sys.executable, str(script), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def modules() -> list[Path]:
    return sorted({p for folder in PACKAGE_DIRS for p in folder.glob("*.py")})


def test_every_import_contract_holds() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.slow
def test_an_upward_import_breaks_the_layers_contract(tmp_path: Path) -> None:
    """A copy of the package where retrieval imports evaluation (a layer above it)."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for folder in PACKAGE_DIRS:
        target = tmp_path / folder.relative_to(ROOT)
        target.mkdir(parents=True, exist_ok=True)
        for module in folder.glob("*.py"):
            shutil.copy(module, target / module.name)
    planted = tmp_path / "retrieval" / "metrics.py"
    planted.write_text(planted.read_text() + "\nfrom fusionrank.evaluation import traffic\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert "fusionrank.retrieval.metrics -> fusionrank.evaluation.traffic" in result.stdout


def _path_segments(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants used as path parts: ``x / "policies"``, ``Path("policies")`` and
    folder-name constants (``POLICIES_DIR = "policies"``)."""
    found = []
    for node in ast.walk(tree):
        parts: list[ast.expr] = []
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            parts = [node.right]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Path":
            parts = list(node.args)
        elif isinstance(node, ast.Assign) and any(
            getattr(t, "id", "").endswith("_DIR") for t in node.targets
        ):
            parts = [node.value]
        for part in parts:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                first = part.value.split("/")[0]
                if first in STAGE_FOLDERS:
                    found.append((node.lineno, part.value))
    return found


def test_the_run_folder_layout_is_spelt_only_in_the_run_folder_module() -> None:
    spelt = {
        f"{path.relative_to(ROOT)}:{line} {value!r}"
        for path in modules()
        if path != ROOT / "fusionrank" / "runs.py"
        for line, value in _path_segments(ast.parse(path.read_text()))
    }
    assert not spelt, "ask fusionrank.runs.RunFolder for these paths: " + ", ".join(sorted(spelt))


def test_modules_and_functions_stay_small() -> None:
    too_long = []
    scripts = sorted((ROOT / "benchmarks").glob("*.py")) + sorted((ROOT / "scripts").glob("*.py"))
    for path in [*modules(), *scripts]:
        source = path.read_text()
        if len(source.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    where = f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"
                    too_long.append(f"{where}: {length} lines")
    assert not too_long, "split these: " + "; ".join(too_long)
