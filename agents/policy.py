"""The policy contract: what evaluation, the service and the baselines code against.

A :class:`Policy` plays :class:`fusionrank.protocols.RankingPolicy`: per query it may
choose the retriever's fusion weights, and it scores the fused candidates. The ranking
sorts by descending score; padding (``mask`` False) gets ``-inf`` and never ranks above a
real candidate. A saved policy is one folder::

    policy.json   kind, name, modality_names, feature_names, query_feature_dim,
                  config, metrics, version
    <weights>     whatever the subclass writes (e.g. ``scorer.pt``)

``version`` is ``sha256[:12]`` of the weight files and the rest of ``policy.json``;
:func:`load_policy` recomputes it and refuses a folder whose files were changed.
A subclass sets a unique class attribute ``kind`` (the registry key), implements
:meth:`Policy.scores`, and overrides :meth:`Policy._save_state` /
:meth:`Policy._from_saved` when it has weights.
"""

from __future__ import annotations

import abc
import hashlib
import importlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from fusionrank.io import atomic_dir, write_json
from fusionrank.types import PAD, CandidateBatch, Query

if TYPE_CHECKING:
    import torch

    from fusionrank.retrieval.retriever import Retriever

logger = logging.getLogger(__name__)

POLICY_FILE = "policy.json"
UNSAVED = "unsaved"
_REGISTRY: dict[str, type[Policy]] = {}
# Modules whose import registers policy kinds; load_policy imports them on demand.
_POLICY_MODULES = (
    "fusionrank.agents.ppo",
    "fusionrank.agents.baselines.lambdamart",
    "fusionrank.agents.baselines.oracle",
    "fusionrank.agents.baselines.simple",
    "fusionrank.agents.baselines.static_fusion",
)


class Policy(abc.ABC):
    """A ranking policy: optional per-query fusion weights, then a score per candidate.

    Args:
        name: Display name, e.g. ``"ppo-rerank"``.
        modality_names: The retriever's modality names, in weight-axis order (M).
        feature_names: The ``CandidateBatch.feature_names`` it expects, in order (F).
        query_feature_dim: Dq of ``Retriever.query_features``; 0 if it uses none.
        config: JSON-able settings that rebuild it (saved in ``policy.json``).
        metrics: JSON-able training or evaluation figures (saved in ``policy.json``).
    """

    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind and not getattr(cls, "__abstractmethods__", None):
            other = _REGISTRY.get(cls.kind)
            if other is not None and other.__qualname__ != cls.__qualname__:
                raise TypeError(f"policy kind {cls.kind!r} is taken by {other.__qualname__}")
            _REGISTRY[cls.kind] = cls

    def __init__(
        self,
        name: str,
        modality_names: Sequence[str],
        feature_names: Sequence[str],
        query_feature_dim: int = 0,
        config: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.modality_names: tuple[str, ...] = tuple(modality_names)
        self.feature_names: tuple[str, ...] = tuple(feature_names)
        self.query_feature_dim = int(query_feature_dim)
        self.config: dict[str, Any] = dict(config or {})
        self.metrics: dict[str, Any] = dict(metrics or {})
        self.version = UNSAVED

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, version={self.version!r})"

    # ----------------------------------------------------------------- the contract
    def fusion_weights(
        self, queries: Sequence[Query], query_features: np.ndarray | None = None
    ) -> np.ndarray | None:
        """Per-query fusion weights.

        Args:
            queries: B queries.
            query_features: float32, shape (B, Dq): ``Retriever.query_features(queries)``.

        Returns:
            float64, shape (B, M), rows on the simplex (axis order ``modality_names``);
            or None for the retriever's default weights (the base class).
        """
        return None

    @abc.abstractmethod
    def scores(
        self, candidates: CandidateBatch, query_features: np.ndarray | None = None
    ) -> np.ndarray:
        """Deterministic scores of the candidates.

        Args:
            candidates: B lists of K candidates (``feature_names`` must match).
            query_features: float32, shape (B, Dq), or None.

        Returns:
            float64, shape (B, K); ``-inf`` where ``candidates.mask`` is False.
        """

    def scorer(self) -> torch.nn.Module | None:
        """The scoring network for export, or None for a non-neural policy.

        Its ``forward(features f32 (B, K, F), mask bool (B, K), query_features f32
        (B, Dq)) -> f32 (B, K)`` gives the same order as :meth:`scores`.
        """
        return None

    # ---------------------------------------------------------------- persistence
    def save(self, folder: str | Path) -> Path:
        """Write the policy to ``folder`` atomically and set :attr:`version`.

        Returns:
            The folder.
        """
        folder = Path(folder)
        with atomic_dir(folder) as tmp:
            self._save_state(tmp)
            meta = json.loads(json.dumps(self._meta()))
            meta["version"] = _digest(tmp, meta)
            write_json(tmp / POLICY_FILE, meta)
        self.version = meta["version"]
        logger.info("saved policy %s (%s) to %s", self.name, self.version, folder)
        return folder

    def _meta(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "modality_names": list(self.modality_names),
            "feature_names": list(self.feature_names),
            "query_feature_dim": self.query_feature_dim,
            "config": self.config,
            "metrics": self.metrics,
        }

    def _save_state(self, folder: Path) -> None:
        """Write the weight files into ``folder`` (nothing for a policy without any)."""
        return None

    @classmethod
    def _from_saved(cls, folder: Path, meta: dict[str, Any]) -> Policy:
        """Rebuild from ``policy.json``'s ``meta`` and the weight files in ``folder``."""
        return cls(**policy_args(meta))

    # -------------------------------------------------------------------- helpers
    def check_candidates(
        self, candidates: CandidateBatch, query_features: np.ndarray | None = None
    ) -> None:
        """Raise a ValueError if the batch or query features do not fit this policy."""
        check_names("feature_names", self.feature_names, candidates.feature_names, self.name)
        if query_features is None:
            return
        expected = (len(candidates), self.query_feature_dim)
        if np.shape(query_features) != expected:
            raise ValueError(
                f"policy {self.name!r}: query_features must have shape {expected} "
                f"(Retriever.query_features of the batch's queries), got "
                f"{np.shape(query_features)}"
            )

    def require_query_features(self, query_features: np.ndarray | None) -> np.ndarray:
        """float32 query features, or a ValueError saying how to get them."""
        if query_features is None:
            raise ValueError(
                f"policy {self.name!r} needs query_features; pass "
                "Retriever.query_features(queries) (rank_candidates does)"
            )
        return np.asarray(query_features, dtype=np.float32)


def check_names(field: str, expected: Sequence[str], got: Sequence[str], owner: str) -> None:
    """Raise a ValueError naming the first difference of two name lists."""
    if tuple(expected) == tuple(got):
        return
    missing = [n for n in expected if n not in got]
    extra = [n for n in got if n not in expected]
    detail = f"missing {missing}, unexpected {extra}" if missing or extra else "order differs"
    raise ValueError(
        f"policy {owner!r} was trained on {field} {list(expected)} but got {list(got)} "
        f"({detail}); use a retriever built with the same config or retrain the policy"
    )


def ranking_from_scores(scores: np.ndarray, candidates: CandidateBatch) -> np.ndarray:
    """Item indices by descending score; ties keep the candidate order; padding last.

    Args:
        scores: float, shape (B, K).
        candidates: The scored candidates.

    Returns:
        int64, shape (B, K): a permutation of each row's unmasked ``item_index``, then
        ``PAD``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != candidates.mask.shape:
        raise ValueError(f"scores must have shape {candidates.mask.shape}, got {scores.shape}")
    masked = np.where(candidates.mask, np.nan_to_num(scores, nan=-np.inf), -np.inf)
    # lexsort is stable (ties keep the candidate order); the last key puts padding last
    # even after real candidates scored -inf.
    order = np.lexsort((-masked, ~candidates.mask), axis=1)
    ranked = np.take_along_axis(candidates.item_index, order, axis=1)
    kept = np.take_along_axis(candidates.mask, order, axis=1)
    return np.where(kept, ranked, PAD).astype(np.int64)


def rank_candidates(
    policy: Policy, retriever: Retriever, queries: Sequence[Query], k: int
) -> tuple[CandidateBatch, np.ndarray]:
    """Retrieve with the policy's fusion weights, then rank by its scores.

    The one place the two stages meet: ``query_features = retriever.query_features``,
    ``weights = policy.fusion_weights(...)`` or the retriever's default,
    ``batch = fuse(retriever.pool(queries), weights, k)``, ``scores = policy.scores``.

    Args:
        policy: The policy.
        retriever: A retriever with the policy's modality and feature names.
        queries: B queries.
        k: Candidates per query, >= 1.

    Returns:
        ``(batch, ranking)``: the fused candidates (B, k) and int64 (B, k) ranked item
        indices, ``PAD`` past the end of a short list.
    """
    from fusionrank.retrieval.pool import fuse

    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    check_names("modality_names", policy.modality_names, retriever.modality_names, policy.name)
    check_names("feature_names", policy.feature_names, retriever.feature_names, policy.name)
    query_features = retriever.query_features(queries)
    weights = policy.fusion_weights(queries, query_features)
    if weights is None:
        weights = retriever.default_weights(len(queries))
    batch = fuse(retriever.pool(queries), np.asarray(weights, dtype=np.float64), k)
    scores = policy.scores(batch, query_features)
    return batch, ranking_from_scores(scores, batch)


def registered_kinds() -> tuple[str, ...]:
    """The policy kinds that :func:`load_policy` can read."""
    _import_policy_modules()
    return tuple(sorted(_REGISTRY))


def load_policy(folder: str | Path) -> Policy:
    """Load a policy saved by :meth:`Policy.save`, dispatching on its ``kind``.

    Raises:
        ValueError: If ``policy.json`` is missing or corrupt, its kind is unknown, or the
            files do not match its recorded version; the message names the file and fix.
    """
    folder = Path(folder)
    path = folder / POLICY_FILE
    if not path.is_file():
        raise ValueError(
            f"{path} does not exist; pass a folder written by Policy.save "
            "(e.g. runs/<name>/policies/<policy>/), or train one with `fusionrank train`"
        )
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}); save the policy again") from None
    meta = _check_meta(meta, path)
    if meta["kind"] not in _REGISTRY:
        _import_policy_modules()
    cls = _REGISTRY.get(meta["kind"])
    if cls is None:
        raise ValueError(
            f"{path}: unknown policy kind {meta['kind']!r}; known kinds: "
            f"{', '.join(registered_kinds())}"
        )
    stored = meta.pop("version", None)
    actual = _digest(folder, meta)
    if stored != actual:
        raise ValueError(
            f"{folder}: the files do not match the version in {POLICY_FILE} "
            f"({stored!r} recorded, {actual!r} found); the folder was changed or is "
            "incomplete: save the policy again"
        )
    try:
        policy = cls._from_saved(folder, meta)
    except (OSError, KeyError, RuntimeError, TypeError) as error:
        raise ValueError(f"{folder}: cannot load the {meta['kind']} policy ({error})") from None
    policy.version = actual
    return policy


def policy_args(meta: dict[str, Any]) -> dict[str, Any]:
    """The :class:`Policy` constructor's keyword arguments from ``policy.json``'s ``meta``
    (what every ``_from_saved`` passes on besides its own)."""
    return {key: meta[key] for key in _META_FIELDS if key != "kind"}


_META_FIELDS: dict[str, type | tuple[type, ...]] = {
    "kind": str,
    "name": str,
    "modality_names": list,
    "feature_names": list,
    "query_feature_dim": int,
    "config": dict,
    "metrics": dict,
}


def _check_meta(meta: Any, path: Path) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: the top level must be an object; save the policy again")
    for key, kind in _META_FIELDS.items():
        if not isinstance(meta.get(key), kind):
            raise ValueError(
                f"{path}: field {key!r} is missing or not a {getattr(kind, '__name__', kind)} "
                f"(got {meta.get(key)!r}); save the policy again"
            )
    return meta


def _import_policy_modules() -> None:
    for module in _POLICY_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise


def _digest(folder: Path, meta: dict[str, Any]) -> str:
    """sha256[:12] of the policy's files (except ``policy.json``) and its metadata."""
    digest = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != POLICY_FILE):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
