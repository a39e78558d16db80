"""Run configuration: YAML files loaded into pydantic models.

Every model forbids unknown keys, so a mistyped key fails with its name. The CLI loads a
file (or the defaults) and applies ``--set section.key=value`` overrides.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fusionrank.agents.baselines.config import BaselinesConfig
from fusionrank.agents.config import AgentConfig
from fusionrank.datasets.shopworld.config import ShopWorldConfig
from fusionrank.envs.config import EnvConfig
from fusionrank.evaluation.config import EvaluationConfig
from fusionrank.retrieval.config import RetrievalConfig
from fusionrank.service.config import ServiceConfig
from fusionrank.simulator.config import SimulatorConfig

logger = logging.getLogger(__name__)


class DataConfig(BaseModel):
    """Where the user's own files are; unset means the run's generated ShopWorld."""

    model_config = ConfigDict(extra="forbid")

    catalog: Path | None = None
    logs: Path | None = None


class RunConfig(BaseModel):
    """The resolved configuration of one run, saved as ``runs/<name>/config.yaml``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("shopworld", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    seed: int = Field(0, ge=0)
    runs_dir: Path = Path("runs")
    world: ShopWorldConfig = ShopWorldConfig()
    data: DataConfig = DataConfig()
    retrieval: RetrievalConfig = RetrievalConfig()
    simulator: SimulatorConfig = SimulatorConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    envs: EnvConfig = EnvConfig()
    service: ServiceConfig = ServiceConfig()
    baselines: BaselinesConfig = BaselinesConfig()
    agents: AgentConfig = AgentConfig()

    @property
    def run_dir(self) -> Path:
        return self.runs_dir / self.name


# Config fields that are the number of results on a page; on the user's own data they
# default to the logs' page width (a slate the logs never showed cannot be simulated).
SLATE_FIELDS = (("envs", "slate_size"), ("evaluation", "slate_size"), ("baselines", "slate_size"))


def with_page_width(config: RunConfig, width: int) -> RunConfig:
    """``config`` with every page-size field the user did not set equal to ``width``.

    Raises:
        ValueError: If the resulting config is invalid (e.g. ``envs.k`` below ``width``);
            the message names the field.
    """
    tree = config.model_dump(mode="json")
    changed = []
    for section, field in SLATE_FIELDS:
        part = getattr(config, section)
        if field not in part.model_fields_set and getattr(part, field) != width:
            tree[section][field] = width
            changed.append(f"{section}.{field}")
    if not changed:
        return config
    logger.info("pages of %d results in the logs: %s set to %d", width, ", ".join(changed), width)
    try:
        return RunConfig.model_validate(tree)
    except ValidationError as error:
        source = f"the logs' page width ({width} results)"
        raise ValueError(format_validation_error(error, source)) from None


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ValueError(f"override {dotted!r}: {key!r} is not a section")
        node = child
    node[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``"world.n_items=1000"`` into the dotted key and its YAML-parsed value."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"override {text!r} must look like section.key=value")
    return key.strip(), yaml.safe_load(raw)


def format_validation_error(error: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(root)"
        got = item.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        hint = "; remove it or check its spelling" if item["type"] == "extra_forbidden" else ""
        lines.append(f"  {where}: {item['msg']}{shown}{hint}")
    return "\n".join(lines)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Load a YAML config (or the defaults) and apply overrides.

    Raises:
        ValueError: If the file is missing or malformed, or a field is invalid; the
            message names the file and every bad field.
    """
    tree: dict[str, Any] = {}
    source = "default config"
    if path is not None:
        path = Path(path)
        source = str(path)
        if not path.is_file():
            raise ValueError(f"config file {path} does not exist; pass an existing YAML file")
        loaded = yaml.safe_load(path.read_text())
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: the top level must be a mapping of sections")
        tree = loaded
    for text in overrides or []:
        key, value = parse_override(text)
        _set_dotted(tree, key, value)
    if overrides:
        source += " with --set " + " ".join(overrides)
    try:
        return RunConfig.model_validate(tree)
    except ValidationError as error:
        raise ValueError(format_validation_error(error, source)) from None
