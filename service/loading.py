"""Find and load what the service serves: the policy, the run's retriever (with the
serving query encoders), the scoring engine.

A path is either a run folder (``runs/<name>``, whose ``policies/`` holds one folder per
policy and ``retrieval/`` the retriever) or one policy folder
(``runs/<name>/policies/<policy>``). ONNX exports (of a neural policy's scorer and of the
text encoder) are cached in ``service.exports_dir``, by default
``runs/<name>/service/exports/`` (beside, never inside, the policy folder, whose files
the version hashes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrank.runs import RunFolder
from fusionrank.service.batching import CachedEncoder
from fusionrank.service.config import ServiceConfig
from fusionrank.service.context import RetrievalCache
from fusionrank.service.export import ExportCheck, load_or_export, torch_scorer

if TYPE_CHECKING:
    from fusionrank.agents.policy import Policy
    from fusionrank.retrieval.retriever import Retriever

logger = logging.getLogger(__name__)

DEFAULT_POLICIES = ("pg-joint", "ppo-rerank")
"""Served when a run holds several policies and none is chosen: the first one present
(``pg-joint`` is the demo's best learned policy on ShopWorld's hidden users)."""
# Kinds whose scores read catalog item indices of logged data or the hidden truth; they
# cannot score a caller's unseen items, and the oracle is for evaluation only.
NOT_SERVABLE = frozenset({"oracle-shopworld", "logging"})


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A policy ready to serve.

    Args:
        policy: The loaded policy.
        retriever: The run's retriever (serving encoders), or None when there is none.
        scorer: The fast scoring call of a neural policy, ``(features f32 (B, K, F),
            mask bool (B, K), query_features f32 (B, Dq) | None) -> f32 (B, K)``; None
            for a policy served through its own ``scores``.
        engine: ``onnx``, ``torch`` (the training module) or ``policy`` (its ``scores``).
        policy_dir: The policy folder.
        run_dir: The run folder, or None for a policy folder outside one.
        export: The ONNX export's check, when ONNX serves.
        text_encoder: The query text encoder (``service.text_encoder``), or None.
        retrieval: The retriever's query cache (kept across reloads with the retriever).
    """

    policy: Policy
    retriever: Retriever | None
    scorer: Any
    engine: str
    policy_dir: Path
    run_dir: Path | None
    export: ExportCheck | None = None
    text_encoder: str | None = None
    retrieval: RetrievalCache | None = None


def resolve(path: Path, policy: str | None) -> tuple[Path, Path | None]:
    """``(policy folder, run folder or None)`` for a run or policy folder.

    Raises:
        ValueError: If neither is found, naming the path and what was looked for.
    """
    from fusionrank.agents.policy import POLICY_FILE

    if (path / POLICY_FILE).is_file():
        inside_run = RunFolder.containing(path) is not None
        return path, path.parent.parent if inside_run else None
    if not path.is_dir():
        raise ValueError(
            f"{path} does not exist; pass a run folder (runs/<name>) or a policy folder"
        )
    folder = RunFolder.at(path).policies.path
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
    for name in DEFAULT_POLICIES:
        if name in found:
            return folder / name, path
    raise ValueError(
        f"{folder} holds {len(found)} policies {found}; choose one with --policy NAME "
        "(or service.policy), or train one with `fusionrank train`"
    )


def _names(folder: Path) -> list[str]:
    from fusionrank.agents.policy import POLICY_FILE

    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / POLICY_FILE).is_file())


def has_retriever(run: Path | None) -> bool:
    """Whether ``run`` holds a retriever index."""
    from fusionrank.retrieval.store import index_folder

    if run is None:
        return False
    try:
        index_folder(RunFolder.at(run).retrieval.path)
    except ValueError:
        return False
    return True


def check_fits(policy: Policy, retriever: Retriever) -> None:
    """Raise a ValueError if the policy's modality or feature names, or its number of
    query features, differ from the retriever's."""
    from fusionrank.agents.policy import check_retriever

    check_retriever(policy, retriever)


def exports_folder(run: Path | None, config: ServiceConfig) -> Path | None:
    """Where ONNX exports are cached: ``service.exports_dir``, else the run's
    ``service/exports``; None outside a run."""
    if config.exports_dir is not None:
        return Path(config.exports_dir)
    return exports_folder_of(run)


def exports_folder_of(run: Path | None) -> Path | None:
    """The run's ``service/exports`` folder, or None outside a run."""
    return None if run is None else RunFolder.at(run).exports


def export_path(policy: Policy, run: Path | None, exports: Path | None = None) -> Path | None:
    """Where a policy's ONNX export is cached (in ``exports``, default the run's), or
    None outside a run."""
    folder = (
        exports if exports is not None else (None if run is None else RunFolder.at(run).exports)
    )
    return None if folder is None else folder / f"{policy.name}-{policy.version}.onnx"


def serving_retriever(base: Retriever, config: ServiceConfig, exports: Path | None) -> Retriever:
    """``base`` with query encoders that many threads may share: the text one through
    ONNX Runtime unless ``service.text_encoder`` is ``torch`` (checked against torch)."""
    from fusionrank.retrieval.index import set_threads
    from fusionrank.retrieval.modality import DenseModality
    from fusionrank.retrieval.retriever import Retriever

    set_threads(config.threads)
    modalities: list[Any] = []
    for modality in base.modalities:
        if isinstance(modality, DenseModality):
            encode: Callable[[list[str]], np.ndarray] = _locked(modality.encode)
            if modality.name == "text" and config.text_encoder != "torch":
                encode = _onnx_text(base, modality.encode, config, exports)
            modality = DenseModality(
                modality.name,
                modality.vectors,
                modality.index,
                CachedEncoder(encode, max(config.query_cache, 1024)),
            )
        modalities.append(modality)
    return Retriever(
        modalities, base.lexical, base.items, base.item_ids, base.config, base.pca, base.manifest
    )


def _onnx_text(
    base: Retriever,
    reference: Callable[[Sequence[str]], np.ndarray],
    config: ServiceConfig,
    exports: Path | None,
) -> Callable[[list[str]], np.ndarray]:
    from fusionrank.retrieval.encoders import resolve_text_model
    from fusionrank.service.text_onnx import check_text_encoder, load_text_encoder

    record = base.manifest["text_model"]
    encoder = load_text_encoder(
        resolve_text_model(record["path"]),
        record["identity"],
        exports,
        config.text_encoder == "onnx-int8",
        config.threads,
    )
    check_text_encoder(encoder, reference)
    return encoder


def _locked(encode: Callable[[Sequence[str]], np.ndarray]) -> Callable[[list[str]], np.ndarray]:
    """``encode`` behind a lock (the encoders' own query memos are not thread-safe)."""
    lock = threading.Lock()

    def call(texts: list[str]) -> np.ndarray:
        with lock:
            return encode(texts)

    return call


def load_retriever(run: Path | None, policy: Policy, config: ServiceConfig) -> Retriever | None:
    """The run's serving retriever, checked against the policy; None when absent."""
    from fusionrank.retrieval.retriever import Retriever

    if not has_retriever(run):
        return None
    assert run is not None
    base = Retriever.load(RunFolder.at(run).retrieval.path)
    check_fits(policy, base)
    return serving_retriever(base, config, exports_folder(run, config))


def load_model(path: Path, config: ServiceConfig, reuse: LoadedModel | None = None) -> LoadedModel:
    """Load the policy at ``path`` (see :func:`resolve`), its retriever and its engine.

    ``reuse``: a loaded model whose retriever serves again when the policy is of the
    same run or of no run (a reload swaps the policy, not the index).

    Raises:
        ValueError: For a missing, corrupt or mismatched policy, a policy kind that
            cannot serve, or a policy that needs query features and has no retriever.
    """
    from fusionrank.agents.policy import load_policy

    policy_dir, run = resolve(path, config.policy)
    policy = load_policy(policy_dir)
    check_servable(policy, policy_dir)
    same_run = reuse is not None and (run is None or _same(run, reuse.run_dir))
    retriever: Retriever | None
    if reuse is not None and reuse.retriever is not None and same_run:
        check_fits(policy, reuse.retriever)
        retriever, text, cache = reuse.retriever, reuse.text_encoder, reuse.retrieval
    else:
        retriever = load_retriever(run, policy, config)
        text = None if retriever is None else config.text_encoder
        cache = None if retriever is None else retrieval_cache(retriever, config)
    if retriever is None and policy.query_feature_dim:
        raise ValueError(
            f"{policy_dir}: policy {policy.name!r} needs query features, which need the "
            f"run's retriever, but {run or policy_dir.parent} holds no retriever "
            "index; serve it from its run folder or run `fusionrank index build`"
        )
    scorer, engine, check = policy_engine(policy, exports_folder(run, config), config)
    logger.info(
        "serving policy %s (%s, %s) with engine %s",
        policy.name,
        policy.kind,
        policy.version,
        engine,
    )
    return LoadedModel(policy, retriever, scorer, engine, policy_dir, run, check, text, cache)


def retrieval_cache(retriever: Retriever, config: ServiceConfig) -> RetrievalCache:
    """The query cache of a serving retriever (``query_cache``, ``encode_*``)."""
    return RetrievalCache(
        retriever, config.query_cache, config.encode_batch, config.encode_wait_ms / 1e3
    )


def _same(a: Path, b: Path | None) -> bool:
    return b is not None and a.resolve() == b.resolve()


def check_servable(policy: Policy, policy_dir: Path) -> None:
    """Raise a ValueError for a policy kind that cannot serve."""
    if policy.kind in NOT_SERVABLE:
        raise ValueError(
            f"{policy_dir}: a {policy.kind!r} policy cannot serve (it reads logged or hidden "
            "data, not candidate features); serve a trained or feature-based policy"
        )


def policy_engine(
    policy: Policy, exports: Path | None, config: ServiceConfig
) -> tuple[Any, str, ExportCheck | None]:
    """``(scorer or None, engine name, export check)`` of a loaded policy."""
    if policy.scorer() is None:
        return None, "policy", None
    if config.engine in ("auto", "onnx"):
        try:
            cache = export_path(policy, None, exports)
            scorer, check = load_or_export(policy, cache, config.threads)
            return scorer, "onnx", check
        except (ValueError, RuntimeError) as error:
            if config.engine == "onnx":
                raise ValueError(f"policy {policy.name!r}: ONNX export failed: {error}") from None
            logger.warning("ONNX export of %s failed (%s); serving torch", policy.name, error)
    return torch_scorer(policy, config.threads), "torch", None
