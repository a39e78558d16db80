"""Checks of a re-rank request's arrays, and the fused score of caller-given features.

Every check raises :class:`RequestError`, a ``ValueError`` that names the request field,
so the HTTP layer answers 422 with that field and the in-process caller reads the same
message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fusionrank.retrieval.pool import FUSED_SCORE


class RequestError(ValueError):
    """Bad re-rank input.

    Args:
        field: The request field at fault, e.g. ``"features[3]"``.
        message: What is wrong and how to fix it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_ids(item_ids: Sequence[str], max_candidates: int) -> list[str]:
    """The ids as strings; raise for an empty list, too many, or duplicates."""
    if item_ids is None or len(item_ids) == 0:
        raise RequestError("item_ids", "the candidate list is empty; send at least one item id")
    if len(item_ids) > max_candidates:
        raise RequestError(
            "item_ids",
            f"{len(item_ids)} candidates exceed the limit of {max_candidates} "
            "(service.max_candidates); send fewer or raise the limit",
        )
    ids = list(map(str, item_ids))
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dupes = list(dict.fromkeys(i for i in ids if i in seen or seen.add(i)))  # type: ignore[func-returns-value]
        raise RequestError("item_ids", f"duplicate id(s) {dupes[:5]}; send each candidate once")
    return ids


def check_vector(
    name: str, values: Sequence[float] | np.ndarray | None, k: int
) -> np.ndarray | None:
    """float64 (K,) or None; raise for a wrong length or a non-finite value."""
    if values is None:
        return None
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (k,):
        raise RequestError(name, f"has shape {array.shape}; give one number per candidate ({k})")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise RequestError(f"{name}[{int(bad[0])}]", f"is {array[bad[0]]}; give finite numbers")
    return array


def check_matrix(
    name: str, values: Sequence[Sequence[float]] | np.ndarray | None, k: int, columns: Sequence[str]
) -> np.ndarray | None:
    """float32 (K, C) or None; raise for a wrong shape or a non-finite value (naming the
    row and column)."""
    if values is None:
        return None
    try:
        array = np.asarray(values, dtype=np.float32)
    except ValueError:
        raise RequestError(
            name, "rows have different lengths; give every row the same length"
        ) from None
    width = len(columns)
    if array.ndim != 2 or array.shape[0] != k:
        raise RequestError(name, f"has shape {array.shape}; give {k} rows (one per candidate)")
    if array.shape[1] != width:
        raise RequestError(
            name, f"rows have {array.shape[1]} values; give {width} ({', '.join(columns)})"
        )
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        row, col = (int(x) for x in bad[0])
        raise RequestError(
            f"{name}[{row}]", f"{columns[col]} is {array[row, col]}; give finite numbers"
        )
    return array


@dataclass(frozen=True)
class FeatureLayout:
    """Where the policy's features are, to complete and fuse caller-given features.

    Args:
        feature_names: The policy's F names; ``fused_score`` may be among them.
        modality_names: M modality names.
        method: ``weighted`` (``fused = sum_m w_m * {m}_z``) or ``rrf``
            (``fused = sum_m w_m / (rrf_k + rank_m)``, ``rank_m = 1 / {m}_recip_rank``,
            a term 0 where the recip rank is 0).
        rrf_k: Rank offset of reciprocal-rank fusion.
    """

    feature_names: tuple[str, ...]
    modality_names: tuple[str, ...]
    method: str = "weighted"
    rrf_k: float = 60.0

    @property
    def fused_column(self) -> int | None:
        names = self.feature_names
        return names.index(FUSED_SCORE) if FUSED_SCORE in names else None

    @property
    def given_names(self) -> tuple[str, ...]:
        """The names a caller may give: all, or all but ``fused_score``."""
        return tuple(n for n in self.feature_names if n != FUSED_SCORE)

    def fusion_terms(self, features: np.ndarray) -> np.ndarray | None:
        """Per-modality fusion terms float64 (K, M) from features float32 (K, F), or None
        when the features lack the columns."""
        kind = "z" if self.method == "weighted" else "recip_rank"
        wanted = [f"{m}_{kind}" for m in self.modality_names]
        if any(w not in self.feature_names for w in wanted):
            return None
        columns = [self.feature_names.index(w) for w in wanted]
        values = features[:, columns].astype(np.float64)
        if self.method == "weighted":
            return values
        rank = np.where(values > 0, 1.0 / np.maximum(values, 1e-12), np.inf)
        return np.where(values > 0, 1.0 / (self.rrf_k + rank), 0.0)

    def arrange(
        self,
        features: Sequence[Sequence[float]] | np.ndarray,
        names: Sequence[str] | None,
        k: int,
    ) -> tuple[np.ndarray, bool]:
        """Caller features as float32 (K, F) in policy order, and whether they held the
        fused score (if not, its column is 0 and must be filled).

        Args:
            features: (K, F) or (K, F - 1) values.
            names: Their column names (any order); None: the policy's order.
            k: K.
        """
        full = self.fused_column is not None
        if names is not None:
            names = [str(n) for n in names]
            missing = [n for n in self.given_names if n not in names]
            extra = [n for n in names if n not in self.feature_names]
            if missing or extra or len(set(names)) != len(names):
                raise RequestError(
                    "feature_names",
                    f"missing {missing}, unknown {extra} or repeated names; give the "
                    f"policy's features {list(self.feature_names)} (fused_score optional)",
                )
            values = check_matrix("features", features, k, names)
            assert values is not None
            out = np.zeros((k, len(self.feature_names)), dtype=np.float32)
            out[:, [self.feature_names.index(n) for n in names]] = values
            return out, FUSED_SCORE in names or not full
        width = np.shape(features)[1] if np.ndim(features) == 2 else -1
        if full and width == len(self.given_names):
            values = check_matrix("features", features, k, self.given_names)
            assert values is not None
            out = np.insert(values, self.fused_column, 0.0, axis=1)  # type: ignore[arg-type]
            return out.astype(np.float32), False
        values = check_matrix("features", features, k, self.feature_names)
        assert values is not None
        return values, True
