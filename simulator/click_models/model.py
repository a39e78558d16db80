"""The base class of the click models: vocabularies, pair lookups, likelihoods, sampling
and storage, so that each model adds only its fitting and its page shape."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar, Self

import numpy as np

from fusionrank.simulator.click_models.base import (
    Likelihood,
    PairParam,
    PairTable,
    Perplexity,
    Vocabulary,
    cell_log_likelihood,
    check_pages,
    load_arrays,
    save_arrays,
    smoothed,
    summarize_likelihood,
)
from fusionrank.simulator.click_models.pages import Page
from fusionrank.types import LoggedPages


class PairClickModel(ABC):
    """Shared machinery of the click models: vocabularies, pair lookups, likelihoods,
    sampling and storage. A model class adds its fitting (``_fit``), its per-rank
    parameters (``rank_params``) and how parameters make a page (``page_from``).

    Pair parameters can be shrunk towards a per-pair prior (a feature model's
    prediction ``f``, strength ``m``): estimates become ``(m f + numerator) / (m +
    denominator)``, inside EM as well (a MAP-EM step), instead of the scalar prior.

    Args:
        prior: Pseudo-counts ``(clicks, views)`` that smooth every probability estimate,
            ``(prior_clicks + numerator) / (prior_views + denominator)``; unseen pairs get
            ``prior_clicks / prior_views``.
        n_iterations: EM iterations (models with a closed-form MLE ignore it).
        tolerance: EM stops early when the mean log-likelihood per shown cell gains less
            than this in an iteration; 0 runs every iteration.
    """

    name: ClassVar[str] = ""
    pair_param_names: ClassVar[tuple[str, ...]] = ("attractiveness",)

    def __init__(
        self,
        prior: tuple[float, float] = (1.0, 2.0),
        n_iterations: int = 50,
        tolerance: float = 0.0,
    ) -> None:
        if not 0 < prior[0] < prior[1]:
            raise ValueError(f"prior must satisfy 0 < clicks < views, got {prior}")
        if n_iterations < 1:
            raise ValueError(f"n_iterations must be >= 1, got {n_iterations}")
        self.prior = (float(prior[0]), float(prior[1]))
        self.n_iterations = int(n_iterations)
        self.tolerance = float(tolerance)
        self.iterations_run = 0
        self.vocabulary = Vocabulary(np.empty(0, object), np.empty(0, object))
        self.table = PairTable(keys=np.empty(0, np.int64), n_items=0)
        self.slate_size = 0
        self.pair_values: dict[str, np.ndarray] = {}
        self.pair_weights: dict[str, np.ndarray] = {}
        self._pair_prior: dict[str, np.ndarray] = {}
        self._prior_strength = 0.0

    # -- what each model adds ---------------------------------------------------------
    @abstractmethod
    def _fit(self, pages: LoggedPages, rows: np.ndarray) -> None:
        """Set ``pair_values``, ``pair_weights`` and the rank parameters."""

    @abstractmethod
    def rank_params(self) -> dict[str, np.ndarray]:
        """The model's parameters that do not belong to pairs, by name."""

    @abstractmethod
    def _set_rank_params(self, params: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`rank_params` returned."""

    @abstractmethod
    def page_from(self, params: dict[str, np.ndarray], shown: np.ndarray) -> Page:
        """A page from pair parameters (float64 (B, L) each) and the shown mask (B, L)."""

    # -- shared -----------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        return self.slate_size > 0

    @property
    def fallback(self) -> float:
        """The value of a pair parameter for pairs the logs never showed."""
        return self.prior[0] / self.prior[1]

    def fit(
        self,
        pages: LoggedPages,
        pair_prior: dict[str, np.ndarray] | None = None,
        prior_strength: float = 0.0,
    ) -> Self:
        """Fit the model's parameters to logged pages (see the class docstring).

        Args:
            pages: The logged pages.
            pair_prior: Optional prior mean of each pair parameter, float64 (P,) in the
                row order of ``PairTable.from_pages(pages)``.
            prior_strength: ``m``, the prior's weight in pseudo-observations.
        """
        check_pages(pages, f"{self.name} fit")
        self.vocabulary = Vocabulary(pages.query_ids, pages.item_ids)
        self.table, rows = PairTable.from_pages(pages)
        self._pair_prior = {}
        for name, mean in (pair_prior or {}).items():
            if name not in self.pair_param_names or mean.shape != (len(self.table),):
                raise ValueError(
                    f"pair_prior[{name!r}] must be one of {self.pair_param_names} with"
                    f" shape ({len(self.table)},), got shape {mean.shape}"
                )
            self._pair_prior[name] = np.clip(mean, 1e-6, 1 - 1e-6)
        self._prior_strength = float(prior_strength)
        self.slate_size = pages.slate_size
        self._fit(pages, rows)
        return self

    def initial(self, name: str) -> np.ndarray:
        """Starting values of a pair parameter for EM, float64 (P,)."""
        if name in self._pair_prior:
            return self._pair_prior[name].copy()
        return np.full(len(self.table), self.fallback)

    def smooth(self, name: str, numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
        """A pair parameter's estimate: ``(m f + numerator) / (m + denominator)`` with a
        pair prior, else ``(prior_clicks + numerator) / (prior_views + denominator)``."""
        if name in self._pair_prior:
            m = self._prior_strength
            return (m * self._pair_prior[name] + numerator) / np.maximum(m + denominator, 1e-12)
        return smoothed(numerator, denominator, self.prior)

    def _check_fitted(self, n_ranks: int) -> None:
        if not self.fitted:
            raise ValueError(f"the {self.name} model is not fitted; call fit(pages) first")
        if n_ranks > self.slate_size:
            raise ValueError(
                f"pages have {n_ranks} ranks but the {self.name} model was fitted on"
                f" {self.slate_size}; show at most {self.slate_size} items per page"
            )

    def pair_params(self, query: np.ndarray, item_index: np.ndarray) -> dict[str, PairParam]:
        """Each pair parameter for a batch (query int64 (B,), item_index int64 (B, L))."""
        self._check_fitted(item_index.shape[1])
        rows = self.table.locate(query, item_index)
        seen = rows >= 0
        safe = np.maximum(rows, 0)
        return {
            name: PairParam(
                value=np.where(seen, self.pair_values[name][safe], self.fallback),
                weight=np.where(seen, self.pair_weights[name][safe], 0.0),
            )
            for name in self.pair_param_names
        }

    def page(self, query: np.ndarray, item_index: np.ndarray) -> Page:
        params = self.pair_params(query, item_index)
        return self.page_from({k: v.value for k, v in params.items()}, item_index >= 0)

    def click_probs(self, query: np.ndarray, item_index: np.ndarray) -> np.ndarray:
        """float64, shape (B, L): ``P(C_r = 1)`` of each rank of any ranking.

        Args:
            query: int64, shape (B,): query indices in this model (-1: unseen query).
            item_index: int64, shape (B, L): item indices, ``PAD`` at empty ranks.
        """
        return self.page(query, item_index).click_probs()

    def sample(
        self, query: np.ndarray, item_index: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Sampled clicks, bool shape (B, L), for a batch of rankings (as click_probs)."""
        return self.page(query, item_index).sample(np.zeros(item_index.shape), rng).clicks

    def conditional_click_probs(self, pages: LoggedPages) -> np.ndarray:
        """float64, shape (N, L): ``P(C_r = 1 | c_<r)`` on logged pages."""
        check_pages(pages, f"{self.name} evaluation")
        query, items = self.vocabulary.map_pages(pages)
        return self.page(query, items).conditional_click_probs(pages.clicks)

    def evaluate(self, pages: LoggedPages) -> tuple[Likelihood, Perplexity]:
        """Log-likelihood and perplexity of logged pages, conditional on earlier clicks."""
        probs = self.conditional_click_probs(pages)
        return summarize_likelihood(cell_log_likelihood(probs, pages.clicks), pages.shown)

    def log_likelihood(self, pages: LoggedPages) -> Likelihood:
        return self.evaluate(pages)[0]

    def perplexity(self, pages: LoggedPages) -> Perplexity:
        return self.evaluate(pages)[1]

    def save(self, folder: str | Path) -> None:
        """Write the fitted model to ``folder`` (meta.json and params.npz)."""
        self._check_fitted(0)
        arrays = {
            "query_ids": self.vocabulary.query_ids,
            "item_ids": self.vocabulary.item_ids,
            "keys": self.table.keys,
            **{f"rank_{k}": v for k, v in self.rank_params().items()},
        }
        for name in self.pair_param_names:
            arrays[f"value_{name}"] = self.pair_values[name]
            arrays[f"weight_{name}"] = self.pair_weights[name]
        meta = {
            "name": self.name,
            "prior": list(self.prior),
            "n_iterations": self.n_iterations,
            "tolerance": self.tolerance,
            "iterations_run": self.iterations_run,
            "slate_size": self.slate_size,
        }
        save_arrays(Path(folder), meta, arrays)

    @classmethod
    def load(cls, folder: str | Path) -> Self:
        """Read a model written by :meth:`save`."""
        meta, arrays = load_arrays(Path(folder), cls.name)
        model = cls(tuple(meta["prior"]), meta["n_iterations"], meta["tolerance"])
        model.iterations_run = meta["iterations_run"]
        model.slate_size = meta["slate_size"]
        model.vocabulary = Vocabulary(arrays["query_ids"], arrays["item_ids"])
        model.table = PairTable(keys=arrays["keys"], n_items=len(arrays["item_ids"]))
        model.pair_values = {n: arrays[f"value_{n}"] for n in cls.pair_param_names}
        model.pair_weights = {n: arrays[f"weight_{n}"] for n in cls.pair_param_names}
        model._set_rank_params(
            {k.removeprefix("rank_"): v for k, v in arrays.items() if k.startswith("rank_")}
        )
        return model
