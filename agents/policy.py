"""The policy contract: what evaluation, the service and the baselines code against.

A :class:`Policy` plays :class:`fusionrank.protocols.RankingPolicy`: per query it may
choose the retriever's fusion weights, and it scores the fused candidates. The ranking
sorts by descending score; padding (``mask`` False) gets ``-inf`` and never ranks above a
real candidate. A saved policy is one folder::

    policy.json   kind, name, modality_names, feature_names, query_feature_dim, config,
                  default_fusion_weights, metrics, files ({path: sha256}), version
    <weights>     whatever the subclass writes (e.g. ``scorer.pt``)

``version`` is ``sha256[:12]`` of what decides the scores (see
:mod:`~fusionrank.agents.policy_files`), never of ``name``, ``metrics`` or timings;
:func:`load_policy` checks every file's sha256 and the version before it loads anything.
A policy without fusion weights of its own ranks with the ``default_fusion_weights`` it
was trained with (:meth:`Policy.weights_for` decides it);
:func:`~fusionrank.agents.scoring.score_candidates` is the one retrieve-fuse-score path
that evaluation and the service share.

A subclass sets a unique class attribute ``kind`` (the registry key), implements
:meth:`Policy.scores`, and overrides :meth:`Policy._save_state` /
:meth:`Policy._from_saved` when it has weights.
"""

from __future__ import annotations

import abc
import importlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from fusionrank.agents.policy_files import (
    POLICY_FILE,
    file_hashes,
    policy_version,
    read_policy_meta,
)
from fusionrank.io import atomic_dir, write_json
from fusionrank.types import PAD, CandidateBatch, Query

if TYPE_CHECKING:
    import torch

    from fusionrank.retrieval.retriever import Retriever

logger = logging.getLogger(__name__)

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
        default_fusion_weights: float, shape (M,), on the simplex: the retriever's default
            fusion weights it was trained with (``Retriever.default_weights(1)[0]``);
            None: unknown (the retriever's at ranking time).
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
        default_fusion_weights: Sequence[float] | np.ndarray | None = None,
    ) -> None:
        self.name = name
        self.modality_names: tuple[str, ...] = tuple(modality_names)
        self.feature_names: tuple[str, ...] = tuple(feature_names)
        self.query_feature_dim = int(query_feature_dim)
        self.config: dict[str, Any] = dict(config or {})
        self.metrics: dict[str, Any] = dict(metrics or {})
        self.default_fusion_weights = default_fusion_weights
        self.version = UNSAVED

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, version={self.version!r})"

    @property
    def default_fusion_weights(self) -> tuple[float, ...] | None:
        """The default fusion weights it was trained with (M floats), or None."""
        return self._default_fusion_weights

    @default_fusion_weights.setter
    def default_fusion_weights(self, weights: Sequence[float] | np.ndarray | None) -> None:
        array = None if weights is None else np.asarray(weights, dtype=np.float64)
        m = len(self.modality_names)
        if array is not None and not (
            array.shape == (m,) and np.all(array >= 0) and abs(array.sum() - 1) <= 1e-3
        ):
            raise ValueError(
                f"policy {self.name!r}: default_fusion_weights must be {m} weights >= 0 "
                f"summing to 1 (modalities {list(self.modality_names)}), got "
                f"{array.tolist()}; pass Retriever.default_weights(1)[0]"
            )
        self._default_fusion_weights = None if array is None else tuple(map(float, array))

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
            or None for the default weights (the base class).
        """
        return None

    def weights_for(
        self,
        queries: Sequence[Query],
        query_features: np.ndarray | None = None,
        retriever: Retriever | None = None,
    ) -> np.ndarray | None:
        """The fusion weights this policy ranks with (the one place that decides it):
        its own :meth:`fusion_weights`, else the :attr:`default_fusion_weights` it was
        trained with, else the retriever's default weights; float64 (B, M), or None
        when there is none of the three.
        """
        own = self.fusion_weights(queries, query_features)
        if own is not None:
            return np.asarray(own, dtype=np.float64)
        if self.default_fusion_weights is not None:
            row = np.asarray(self.default_fusion_weights, dtype=np.float64)
            return np.broadcast_to(row, (len(queries), row.size)).copy()
        if retriever is not None:
            return np.asarray(retriever.default_weights(len(queries)), dtype=np.float64)
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
            meta["files"] = file_hashes(tmp)
            meta["version"] = policy_version(meta)
            write_json(tmp / POLICY_FILE, meta)
        self.version = meta["version"]
        logger.info("saved policy %s (%s) to %s", self.name, self.version, folder)
        return folder

    def _meta(self) -> dict[str, Any]:
        weights = self.default_fusion_weights
        return {
            "kind": self.kind,
            "name": self.name,
            "modality_names": list(self.modality_names),
            "feature_names": list(self.feature_names),
            "query_feature_dim": self.query_feature_dim,
            "config": self.config,
            "default_fusion_weights": None if weights is None else list(weights),
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


def check_retriever(policy: Policy, retriever: Any) -> None:
    """Raise a ValueError, naming what differs and the fix, unless ``retriever`` gives the
    candidates and query features ``policy`` was trained on."""
    check_names("modality_names", policy.modality_names, retriever.modality_names, policy.name)
    check_names("feature_names", policy.feature_names, retriever.feature_names, policy.name)
    served = len(retriever.query_feature_names)
    if policy.query_feature_dim and policy.query_feature_dim != served:
        raise ValueError(
            f"policy {policy.name!r} reads {policy.query_feature_dim} query features but the "
            f"retriever gives {served} ({', '.join(retriever.query_feature_names[:4])}, ...); "
            "serve it with the retriever of the run it was trained in, or retrain it"
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


def registered_kinds() -> tuple[str, ...]:
    """The policy kinds that :func:`load_policy` can read."""
    _import_policy_modules()
    return tuple(sorted(_REGISTRY))


def load_policy(folder: str | Path) -> Policy:
    """Load a policy saved by :meth:`Policy.save`, dispatching on its ``kind``.

    Every file's sha256 and the version are checked before any weight file is read.

    Raises:
        ValueError: If ``policy.json`` is missing or corrupt, its kind is unknown, or the
            files do not match its recorded hashes or version; the message names the file
            and fix.
    """
    folder = Path(folder)
    meta = read_policy_meta(folder)
    if meta["kind"] not in _REGISTRY:
        _import_policy_modules()
    cls = _REGISTRY.get(meta["kind"])
    if cls is None:
        raise ValueError(
            f"{folder / POLICY_FILE}: unknown policy kind {meta['kind']!r}; known kinds: "
            f"{', '.join(registered_kinds())}"
        )
    try:
        policy = cls._from_saved(folder, meta)
    except (OSError, KeyError, RuntimeError, TypeError) as error:
        raise ValueError(f"{folder}: cannot load the {meta['kind']} policy ({error})") from None
    policy.version = meta["version"]
    return policy


def policy_args(meta: dict[str, Any]) -> dict[str, Any]:
    """The :class:`Policy` constructor's keyword arguments from ``policy.json``'s ``meta``
    (what every ``_from_saved`` passes on besides its own)."""
    names = ("name", "modality_names", "feature_names", "query_feature_dim", "config")
    return {key: meta[key] for key in (*names, "metrics", "default_fusion_weights")}


def _import_policy_modules() -> None:
    for module in _POLICY_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise
