"""What a fitted simulator believes about each (query, item) pair, as features a ranking
policy can read at serving time without the simulator.

Per pair, two numbers:

* ``sim_value``: the expected purchases if the user examines the item,
  ``a_qd * b_qd`` (attractiveness times purchase given a click): the click model's
  blended estimate for a pair the logs showed, the feature models' prediction from the
  pair features for one they never showed;
* ``sim_evidence``: ``ln(1 + n_qd)``, with ``n_qd`` the pair's expected number of
  examinations in the fitting logs (0 for an unseen pair): how much of ``sim_value`` is
  the pair's own evidence rather than the feature model.

A policy trained in an ensemble of simulators fitted on resamples of the logs sees the
full-data beliefs while each member's users follow their own resample's estimates; it so
learns how far to trust a belief of given evidence. Seen pairs are looked up by query
text (what a search service receives), so a :class:`BeliefTable` holds only arrays and
the feature models' states, never the logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fusionrank.io import atomic_path
from fusionrank.simulator.feature_model import AnyFeatureModel, feature_model_from_state
from fusionrank.simulator.user_simulator import PURCHASE, UserSimulator

BELIEF_NAMES = ("sim_value", "sim_evidence")
ATTRACTIVENESS = "attractiveness"


@dataclass(frozen=True, eq=False)
class BeliefTable:
    """A simulator's beliefs about the pairs its logs showed, and its feature models.

    Args:
        query_texts: object, shape (U,): distinct query texts of the logged pairs.
        keys: int64, shape (P,), sorted: ``text_row * n_items + item_index``.
        value: float64, shape (P,): ``a * b`` of each pair.
        evidence: float64, shape (P,): ``ln(1 + n)`` of each pair.
        n_items: Size of the catalog's item index space.
        attractiveness: Feature model of ``a`` for unseen pairs.
        purchase: Feature model of ``b``, or None (a simulator that never buys).
    """

    query_texts: np.ndarray
    keys: np.ndarray
    value: np.ndarray
    evidence: np.ndarray
    n_items: int
    attractiveness: AnyFeatureModel
    purchase: AnyFeatureModel | None

    @classmethod
    def from_simulator(cls, simulator: UserSimulator) -> BeliefTable:
        """The beliefs of every pair in the simulator's fitting logs.

        Raises:
            ValueError: If the click model has no attractiveness parameter.
        """
        model = simulator.click_model
        if ATTRACTIVENESS not in model.pair_param_names:
            raise ValueError(f"the {model.name} click model has no attractiveness parameter")
        table = model.table
        query, item = table.keys // table.n_items, table.keys % table.n_items
        params = simulator.params(query, item[:, None])
        a, b = params[ATTRACTIVENESS][:, 0], params[PURCHASE][:, 0]
        texts = np.asarray(simulator.query_texts[query]).astype(str)
        unique, text_row = np.unique(texts, return_inverse=True)
        keys = text_row.astype(np.int64) * simulator.n_items + item
        order = np.argsort(keys, kind="stable")
        evidence = np.log1p(model.pair_weights[ATTRACTIVENESS])
        return cls(
            query_texts=unique.astype(object),
            keys=keys[order],
            value=(a * b)[order],
            evidence=evidence[order],
            n_items=simulator.n_items,
            attractiveness=simulator.feature_models[ATTRACTIVENESS],
            purchase=simulator.purchase.feature_model,
        )

    def features(
        self, query_texts: Sequence[str], item_index: np.ndarray, pair_features: np.ndarray
    ) -> np.ndarray:
        """float32, shape (B, K, 2): ``sim_value`` and ``sim_evidence`` of candidates.

        Args:
            query_texts: B query texts.
            item_index: int64, shape (B, K), ``PAD`` allowed (gets zeros).
            pair_features: float, shape (B, K, F): the simulator's pair features of the
                candidates (the retriever's ``pair_features``), for unseen pairs.
        """
        rows = pd.Index(self.query_texts.astype(str)).get_indexer(pd.Index(list(query_texts)))
        valid = (rows[:, None] >= 0) & (item_index >= 0) & (item_index < self.n_items)
        wanted = rows[:, None].astype(np.int64) * self.n_items + item_index
        at = np.minimum(np.searchsorted(self.keys, wanted), max(len(self.keys) - 1, 0))
        seen = valid & (self.keys[at] == wanted) if len(self.keys) else np.zeros_like(valid)
        a = self.attractiveness.predict(pair_features)
        b = self.purchase.predict(pair_features) if self.purchase is not None else 0.0 * a
        value = np.where(seen, self.value[at] if len(self.keys) else 0.0, a * b)
        evidence = np.where(seen, self.evidence[at] if len(self.keys) else 0.0, 0.0)
        shown = item_index >= 0
        out = np.stack([np.where(shown, value, 0.0), np.where(shown, evidence, 0.0)], axis=-1)
        return out.astype(np.float32)

    def save(self, path: Path) -> None:
        """Write the table and the feature models' states to one ``.npz`` file."""
        arrays: dict[str, Any] = {
            "query_texts": self.query_texts.astype(str),
            "keys": self.keys,
            "value": self.value,
            "evidence": self.evidence,
            "n_items": np.array([self.n_items]),
        }
        arrays.update({f"a.{k}": v for k, v in self.attractiveness.state().items()})
        if self.purchase is not None:
            arrays.update({f"b.{k}": v for k, v in self.purchase.state().items()})
        with atomic_path(path) as tmp, tmp.open("wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: Path) -> BeliefTable:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}

        def state(prefix: str) -> dict[str, np.ndarray]:
            return {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}

        purchase = state("b.")
        return cls(
            query_texts=arrays["query_texts"].astype(object),
            keys=arrays["keys"],
            value=arrays["value"],
            evidence=arrays["evidence"],
            n_items=int(arrays["n_items"][0]),
            attractiveness=feature_model_from_state(state("a.")),
            purchase=feature_model_from_state(purchase) if purchase else None,
        )
