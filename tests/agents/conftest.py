"""The agent tests reuse the env tests' prepared components (tiny world, retriever without
images, fitted simulator) rather than building a second retriever."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_path = Path(__file__).resolve().parents[1] / "envs" / "conftest.py"
_spec = importlib.util.spec_from_file_location("_fusionrank_env_fixtures", _path)
assert _spec is not None and _spec.loader is not None
_env_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_env_fixtures)

ENV_CONFIG = _env_fixtures.ENV_CONFIG
env_pages = _env_fixtures.env_pages
env_components = _env_fixtures.env_components
