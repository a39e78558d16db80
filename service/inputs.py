"""Checks of a re-rank request's values: the query, counts, ids, arrays and the scores
they give.

Every check raises :class:`RequestError`, a ``ValueError`` that names the request field,
so the HTTP layer answers 422 with that field and the in-process caller reads the same
message.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np


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


def check_query(text: object, max_chars: int) -> str:
    """The query text; raise for a non-string, an empty one or one over ``max_chars``."""
    if not isinstance(text, str):
        raise RequestError("query", f"is a {type(text).__name__}; give the query as a string")
    if not text.strip():
        raise RequestError("query", "is empty; give the query text")
    if len(text) > max_chars:
        raise RequestError(
            "query",
            f"has {len(text)} characters, over the limit of {max_chars} "
            "(service.max_query_chars); send a shorter query",
        )
    return text


def check_count(name: str, value: object, default: int, upper: int) -> int:
    """A count such as ``top_k``: ``default`` for None, else an int >= 1 (not a bool or a
    string), capped at ``upper``."""
    if value is None:
        return min(default, upper)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise RequestError(name, f"is {value!r}; give a whole number >= 1")
    if value < 1:
        raise RequestError(name, f"is {value}; give a number >= 1")
    return min(int(value), upper)


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
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise RequestError(name, "holds values that are not numbers; give numbers") from None
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
    row and column), including a number too large for float32."""
    if values is None:
        return None
    try:
        with np.errstate(over="ignore"):
            array = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        raise RequestError(
            name, "rows have different lengths or hold non-numbers; give K rows of numbers"
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
            f"{name}[{row}]",
            f"{columns[col]} is {array[row, col]} as float32; give finite numbers within +-3.4e38",
        )
    return array


def check_scores(
    scores: np.ndarray,
    ids: Sequence[str],
    field: str,
    policy: str,
    alone: np.ndarray | None = None,
) -> None:
    """Raise if a candidate's score is not finite, naming the rows at fault.

    Args:
        scores: float, shape (K,), in request order (row ``i`` is ``ids[i]``).
        ids: The K candidate ids.
        field: The request field the rows come from (``features`` or ``item_ids``).
        policy: The policy's name.
        alone: float (K,): each candidate's score in a list of its own, or None. A policy
            that pools over the candidates spreads one row's overflow to every score;
            the rows non-finite on their own are the ones at fault.
    """
    bad = np.flatnonzero(~np.isfinite(scores))
    if bad.size == 0:
        return
    culprits = bad if alone is None else np.flatnonzero(~np.isfinite(alone))
    rows = culprits if culprits.size else bad
    more = " ..." if rows.size > 10 else ""
    spread = f" (and make {bad.size} scores non-finite)" if bad.size > rows.size else ""
    raise RequestError(
        field,
        f"rows {rows[:10].tolist()}{more} (item ids {[ids[i] for i in rows[:10]]}{more}) get "
        f"a non-finite score from policy {policy!r}{spread}: their features are outside "
        "the range the policy was trained on; send features like the retriever's",
    )
