"""Find and load what the service serves: the policy, the run's retriever, the engine.

A path is either a run folder (``runs/<name>``, whose ``policies/`` holds one folder per
policy and ``retrieval/`` the retriever) or one policy folder
(``runs/<name>/policies/<policy>``). The ONNX export of a neural policy is cached as
``runs/<name>/service/exports/<policy>-<version>.onnx`` (beside, never inside, the policy
folder, whose files the version hashes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusionrank.service.config import ServiceConfig
from fusionrank.service.export import ExportCheck, load_or_export, torch_scorer

if TYPE_CHECKING:
    from fusionrank.agents.policy import Policy
    from fusionrank.retrieval.retriever import Retriever

logger = logging.getLogger(__name__)

POLICIES_DIR = "policies"
RETRIEVAL_DIR = "retrieval"
EXPORTS_DIR = Path("service") / "exports"
DEFAULT_POLICY = "ppo-rerank"
# Kinds whose scores read catalog item indices of logged data or the hidden truth; they
# cannot score a caller's unseen items, and the oracle is for evaluation only.
NOT_SERVABLE = frozenset({"oracle-shopworld", "logging"})


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A policy ready to serve.

    Args:
        policy: The loaded policy.
        retriever: The run's retriever, or None when the run has none.
        scorer: The fast scoring call of a neural policy, ``(features f32 (B, K, F),
            mask bool (B, K), query_features f32 (B, Dq) | None) -> f32 (B, K)``; None
            for a policy served through its own ``scores``.
        engine: ``onnx``, ``torch`` (the training module) or ``policy`` (its ``scores``).
        policy_dir: The policy folder.
        run_dir: The run folder, or None for a policy folder outside one.
        export: The ONNX export's check, when ONNX serves.
    """

    policy: Policy
    retriever: Retriever | None
    scorer: Any
    engine: str
    policy_dir: Path
    run_dir: Path | None
    export: ExportCheck | None = None


def resolve(path: Path, policy: str | None) -> tuple[Path, Path | None]:
    """``(policy folder, run folder or None)`` for a run or policy folder.

    Raises:
        ValueError: If neither is found, naming the path and what was looked for.
    """
    from fusionrank.agents.policy import POLICY_FILE

    if (path / POLICY_FILE).is_file():
        run = path.parent.parent if path.parent.name == POLICIES_DIR else None
        return path, run
    if not path.is_dir():
        raise ValueError(
            f"{path} does not exist; pass a run folder (runs/<name>) or a policy folder"
        )
    folder = path / POLICIES_DIR
    if policy is not None:
        chosen = Path(policy) if Path(policy).is_absolute() else folder / policy
        if not (chosen / POLICY_FILE).is_file():
            raise ValueError(
                f"service.policy={policy!r}: {chosen / POLICY_FILE} does not exist; "
                f"choose one of {_names(folder)}"
            )
        return chosen, path
    found = _names(folder)
    if len(found) == 1:
        return folder / found[0], path
    if DEFAULT_POLICY in found:
        return folder / DEFAULT_POLICY, path
    raise ValueError(
        f"{folder} holds {len(found)} policies {found}; choose one with --policy NAME "
        "(or service.policy), or train one with `fusionrank train`"
    )


def _names(folder: Path) -> list[str]:
    from fusionrank.agents.policy import POLICY_FILE

    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / POLICY_FILE).is_file())


def load_retriever(run: Path | None, policy: Policy) -> Retriever | None:
    """The run's retriever, checked against the policy's names; None when absent."""
    from fusionrank.agents.policy import check_names
    from fusionrank.retrieval.store import index_folder

    if run is None:
        return None
    try:
        index_folder(run / RETRIEVAL_DIR)
    except ValueError:
        return None
    from fusionrank.retrieval.retriever import Retriever

    retriever = Retriever.load(run / RETRIEVAL_DIR)
    check_names("modality_names", policy.modality_names, retriever.modality_names, policy.name)
    check_names("feature_names", policy.feature_names, retriever.feature_names, policy.name)
    return retriever


def load_model(path: Path, config: ServiceConfig, reuse: LoadedModel | None = None) -> LoadedModel:
    """Load the policy at ``path`` (see :func:`resolve`), its retriever and its engine.

    ``reuse``: a loaded model whose retriever serves again when it is of the same run
    (a reload swaps the policy, not the index).

    Raises:
        ValueError: For a missing, corrupt or mismatched policy, a policy kind that
            cannot serve, or a policy that needs query features in a run without a
            retriever.
    """
    from fusionrank.agents.policy import load_policy

    policy_dir, run = resolve(path, config.policy)
    policy = load_policy(policy_dir)
    if policy.kind in NOT_SERVABLE:
        raise ValueError(
            f"{policy_dir}: a {policy.kind!r} policy cannot serve (it reads logged or hidden "
            "data, not candidate features); serve a trained or feature-based policy"
        )
    if reuse is not None and reuse.run_dir == run and reuse.retriever is not None:
        from fusionrank.agents.policy import check_names

        retriever: Retriever | None = reuse.retriever
        check_names(
            "modality_names", policy.modality_names, reuse.retriever.modality_names, policy.name
        )
        check_names(
            "feature_names", policy.feature_names, reuse.retriever.feature_names, policy.name
        )
    else:
        retriever = load_retriever(run, policy)
    if retriever is None and policy.query_feature_dim:
        raise ValueError(
            f"{policy_dir}: policy {policy.name!r} needs query features, which need the "
            f"run's retriever, but {run or policy_dir.parent}/{RETRIEVAL_DIR} holds no "
            "index; serve it from its run folder or run `fusionrank index build`"
        )
    scorer, engine, check = _engine(policy, run, config)
    logger.info(
        "serving policy %s (%s, %s) with engine %s",
        policy.name,
        policy.kind,
        policy.version,
        engine,
    )
    return LoadedModel(policy, retriever, scorer, engine, policy_dir, run, check)


def export_path(policy: Policy, run: Path | None) -> Path | None:
    """Where a policy's ONNX export is cached, or None outside a run."""
    if run is None:
        return None
    return run / EXPORTS_DIR / f"{policy.name}-{policy.version}.onnx"


def _engine(
    policy: Policy, run: Path | None, config: ServiceConfig
) -> tuple[Any, str, ExportCheck | None]:
    if policy.scorer() is None:
        return None, "policy", None
    if config.engine in ("auto", "onnx"):
        try:
            scorer, check = load_or_export(policy, export_path(policy, run), config.threads)
            return scorer, "onnx", check
        except (ValueError, RuntimeError) as error:
            if config.engine == "onnx":
                raise ValueError(f"policy {policy.name!r}: ONNX export failed: {error}") from None
            logger.warning("ONNX export of %s failed (%s); serving torch", policy.name, error)
    return torch_scorer(policy, config.threads), "torch", None
