"""The run folder, ``runs/<name>/``: the one place that knows its layout.

```
config.yaml                     the resolved config of the last command that wrote here
manifest.json                   per stage: what it read (content hashes) and wrote
world/data/                     ShopWorld's user-facing files: catalog, images, logs
world/truth/                    ShopWorld's hidden truth, read only by evaluation
retrieval/clip/model.pt         the open_clip checkpoint trained on the catalog
retrieval/                      embedding cache, FAISS and BM25 indexes, metrics/
simulator/model/                the fitted user simulator
simulator/fit.json              what it was fitted on, the split, the session rates
simulator/report/               its fidelity report
policies/<policy>/              one folder per policy (Policy.save), baselines.json
tensorboard/, checkpoints/      PPO training curves and SB3 checkpoints
evaluation/                     compare.html and compare.json, ab-*/, ope/
service/exports/                ONNX exports of neural policies
report.html, report.json        the run's own report
```

Every other module asks a :class:`RunFolder` for a path; none spells a stage folder.
Which catalog and logs a run uses is recorded once in the manifest
(:meth:`RunFolder.record_inputs`) and read back by every later stage
(:meth:`RunFolder.inputs`), so the stages cannot disagree about it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fusionrank.io import atomic_path
from fusionrank.manifest import Manifest

CONFIG_FILE = "config.yaml"


@dataclass(frozen=True)
class WorldFolder:
    """``world/``: what ShopWorld generated (or ``--out`` of ``world generate``)."""

    path: Path

    @property
    def data(self) -> Path:
        return self.path / "data"

    @property
    def truth(self) -> Path:
        return self.path / "truth"

    @property
    def catalog(self) -> Path:
        return self.data / "catalog.parquet"

    @property
    def logs(self) -> Path:
        return self.data / "logs.parquet"

    @property
    def summary(self) -> Path:
        return self.path / "summary.json"

    @property
    def has_truth(self) -> bool:
        return (self.truth / "user_model.json").is_file()


@dataclass(frozen=True)
class RetrievalFolder:
    """``retrieval/``: the CLIP checkpoint, the embedding cache, the indexes, metrics."""

    path: Path

    @property
    def clip(self) -> Path:
        return self.path / "clip"

    @property
    def clip_model(self) -> Path:
        return self.clip / "model.pt"

    @property
    def index(self) -> Path:
        """Where :meth:`Retriever.save` writes the indexes."""
        return self.path / "index"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics"

    @property
    def exists(self) -> bool:
        return self.path.is_dir()


@dataclass(frozen=True)
class SimulatorFolder:
    """``simulator/``: the fitted model, what it was fitted on, its fidelity report."""

    path: Path

    @property
    def model(self) -> Path:
        return self.path / "model"

    @property
    def fit(self) -> Path:
        return self.path / "fit.json"

    @property
    def report(self) -> Path:
        return self.path / "report"

    @property
    def report_html(self) -> Path:
        return self.report / "report.html"

    @property
    def validation(self) -> Path:
        """A simulator fitted on the held-out sessions alone; it judges policies."""
        return self.path / "validation"

    @property
    def ensemble(self) -> Path:
        """Simulators fitted on bootstrap resamples of the logs: the spread of a verdict."""
        return self.path / "ensemble"


@dataclass(frozen=True)
class PolicyFolders:
    """``policies/``: one folder per saved policy."""

    path: Path

    def of(self, name: str) -> Path:
        """The folder of the policy called ``name`` (it may not exist yet)."""
        return self.path / name

    @property
    def baselines_summary(self) -> Path:
        return self.path / "baselines.json"

    def saved(self) -> list[Path]:
        """Every saved policy folder (one with a ``policy.json``), by name."""
        if not self.path.is_dir():
            return []
        return sorted(p for p in self.path.iterdir() if (p / "policy.json").is_file())

    def contains(self, folder: Path) -> bool:
        """Whether ``folder`` lies inside this ``policies/`` folder."""
        try:
            folder.resolve().relative_to(self.path.resolve())
        except ValueError:
            return False
        return True


@dataclass(frozen=True)
class EvaluationFolder:
    """``evaluation/``: the policy comparison, A/B reports, off-policy estimates."""

    path: Path

    @property
    def compare_json(self) -> Path:
        return self.path / "compare.json"

    @property
    def compare_html(self) -> Path:
        return self.path / "compare.html"

    def ab(self, name_a: str, name_b: str) -> Path:
        """The report folder of an A/B of two policies (names made file-safe)."""
        return self.path / f"ab-{_slug(name_a)}-vs-{_slug(name_b)}"

    @property
    def ope(self) -> Path:
        return self.path / "ope"


@dataclass(frozen=True)
class RunInputs:
    """The catalog and logs a run was built on.

    Args:
        catalog: The catalog file.
        logs: The log file.
        own_data: True for the user's own files, False for the run's ShopWorld.
    """

    catalog: Path
    logs: Path
    own_data: bool

    def to_dict(self) -> dict[str, Any]:
        return {"catalog": str(self.catalog), "logs": str(self.logs), "own_data": self.own_data}


@dataclass(frozen=True)
class RunFolder:
    """``runs/<name>/`` and every path in it."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def world(self) -> WorldFolder:
        return WorldFolder(self.path / "world")

    @property
    def retrieval(self) -> RetrievalFolder:
        return RetrievalFolder(self.path / "retrieval")

    @property
    def simulator(self) -> SimulatorFolder:
        return SimulatorFolder(self.path / "simulator")

    @property
    def policies(self) -> PolicyFolders:
        return PolicyFolders(self.path / "policies")

    @property
    def evaluation(self) -> EvaluationFolder:
        return EvaluationFolder(self.path / "evaluation")

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    def checkpoints(self, policy: str) -> Path:
        return self.path / "checkpoints" / policy

    @property
    def exports(self) -> Path:
        """``service/exports/``: cached ONNX exports of the run's neural policies."""
        return self.path / "service" / "exports"

    @property
    def report_html(self) -> Path:
        return self.path / "report.html"

    @property
    def report_json(self) -> Path:
        return self.path / "report.json"

    @property
    def manifest(self) -> Manifest:
        return Manifest(self.path / "manifest.json")

    @classmethod
    def at(cls, run: RunFolder | str | Path) -> RunFolder:
        """``run`` itself, or the run folder at that path."""
        return run if isinstance(run, RunFolder) else cls(Path(run))

    @classmethod
    def containing(cls, folder: Path) -> RunFolder | None:
        """The run whose ``policies/`` holds ``folder`` (a policy folder), or None."""
        parent = folder.resolve().parent
        run = cls(parent.parent)
        return run if parent.name == run.policies.path.name else None

    # ------------------------------------------------------------------- inputs
    def record_inputs(self, inputs: RunInputs) -> None:
        """Record which catalog and logs this run is built on (read by every stage)."""
        self.manifest.set_inputs(inputs.to_dict())

    def inputs(self, need: tuple[str, ...] = ("catalog", "logs")) -> RunInputs:
        """The catalog and logs recorded by :meth:`record_inputs`, else the run's world.

        Args:
            need: The files that must exist (``catalog``, ``logs``).

        Raises:
            ValueError: If a needed file is missing; the message says how to provide it.
        """
        recorded = self.manifest.inputs()
        if recorded is None:
            inputs = RunInputs(self.world.catalog, self.world.logs, own_data=False)
        else:
            inputs = RunInputs(
                Path(recorded["catalog"]), Path(recorded["logs"]), bool(recorded["own_data"])
            )
        for field in need:
            path = getattr(inputs, field)
            if path.is_file():
                continue
            if inputs.own_data:
                raise ValueError(
                    f"the {field} file {path} recorded for run {self.name!r} does not exist; "
                    f"set data.{field} to your {field} file"
                )
            raise ValueError(
                f"the run's {field} {path} does not exist; generate the world first "
                f"(`fusionrank world generate --name {self.name}`) or set data.catalog and "
                "data.logs to your own files"
            )
        return inputs

    # ------------------------------------------------------------------- config
    def save_config(self, config: Any) -> Path:
        """Write a resolved pydantic config as YAML, atomically; return its path."""
        self.path.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.config_path) as tmp:
            tmp.write_text(dump_config(config))
        return self.config_path

    def require(self, what: str, path: Path, command: str) -> Path:
        """``path``, or a ValueError naming the command that makes ``what``."""
        if not path.exists():
            raise ValueError(
                f"{path} is missing ({what}); run `fusionrank {command} --name {self.name}` first"
            )
        return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "policy"


def dump_config(config: Any) -> str:
    """A pydantic config as YAML, every field resolved (what ``load_config`` reads back)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
