"""Fitting the user simulator from logged pages.

1. Fit the click model with its scalar prior (PyClick's one click in two views).
2. For ``feature_rounds`` rounds: fit a :class:`FeatureModel` per pair parameter to the
   click model's estimates (weighted by their evidence: expected examinations for
   attractiveness, clicks for satisfaction), then refit the click model with each
   pair's prior mean set to the feature model's prediction ``f`` and strength
   ``m = blend_strength``. EM then estimates ``a_qd = (m f_qd + sum P(A = 1 | c)) /
   (m + n_qd)``, i.e. the documented blend ``n / (n + m)`` own evidence plus
   ``m / (n + m)`` feature model, and the examination parameters are fitted together
   with the shrunk pair parameters.
3. The purchase model on the pairs' click and purchase counts.
4. The session model, with each page's stop probability from the fitted pages.
"""

from __future__ import annotations

import logging

import numpy as np

from fusionrank.protocols import PairFeaturizer
from fusionrank.simulator.click_models import PairClickModel, make_click_model
from fusionrank.simulator.click_models.base import PairTable, check_pages
from fusionrank.simulator.config import SimulatorConfig
from fusionrank.simulator.feature_model import AnyFeatureModel, make_feature_model
from fusionrank.simulator.purchase import PurchaseModel
from fusionrank.simulator.session import SessionModel, session_outcomes
from fusionrank.simulator.user_simulator import UserSimulator
from fusionrank.types import LoggedPages

logger = logging.getLogger(__name__)


def pair_features(
    pages: LoggedPages, table: PairTable, featurizer: PairFeaturizer | None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Features of every pair of the table (float64 (P, F)) and their names."""
    if featurizer is None:
        return np.zeros((len(table), 0)), ()
    query, item = table.keys // table.n_items, table.keys % table.n_items
    texts = [str(t) for t in pages.query_texts[query]]
    features = featurizer.pair_features(texts, item[:, None])[:, 0, :]
    return features.astype(np.float64), tuple(featurizer.feature_names)


def check_prices(prices: np.ndarray | None, n_items: int) -> np.ndarray:
    """Item prices as float64 (n_items,); ones when unknown.

    Raises:
        ValueError: If the shape is wrong or a price is negative or not finite.
    """
    if prices is None:
        return np.ones(n_items)
    prices = np.asarray(prices, dtype=np.float64)
    if prices.shape != (n_items,):
        raise ValueError(f"prices must have shape ({n_items},), got {prices.shape}")
    bad = ~np.isfinite(prices) | (prices < 0)
    if bad.any():
        raise ValueError(
            f"prices: {int(bad.sum())} value(s) are negative or missing (first at item"
            f" {int(np.argmax(bad))}); fix the catalog's price column"
        )
    return prices


def fit_simulator(
    pages: LoggedPages,
    featurizer: PairFeaturizer | None = None,
    prices: np.ndarray | None = None,
    config: SimulatorConfig | None = None,
) -> UserSimulator:
    """Fit a user simulator to logged pages (module docstring).

    Args:
        pages: The fitting logs, item indices into the catalog the simulator will serve.
        featurizer: Pair features (a retriever or a :class:`CatalogFeaturizer`); None
            fits constant feature models.
        prices: float64, shape (n_items,): item prices for revenue; None counts 1.
        config: The simulator's configuration (defaults otherwise).
    """
    config = config or SimulatorConfig()
    check_pages(pages, "simulator fit")
    prices = check_prices(prices, len(pages.item_ids))
    table, rows = PairTable.from_pages(pages)
    features, names = pair_features(pages, table, featurizer)
    model, feature_models = fit_click_model(pages, features, config)
    counts = np.stack(
        [
            np.bincount(rows[pages.clicks], minlength=len(table)),
            np.bincount(rows[pages.purchases], minlength=len(table)),
        ]
    ).astype(np.float64)
    purchase = fit_purchase_model(features, counts, config, pages.has_purchases)
    simulator = UserSimulator(
        click_model=model,
        feature_models=feature_models,
        purchase=purchase,
        session=SessionModel(0.0, 0.0, 1, 0),
        featurizer=featurizer,
        feature_names=names,
        query_texts=pages.query_texts,
        prices=prices,
        purchase_counts=counts,
        config=config,
    )
    simulator.session = fit_session(simulator, pages, config)
    logger.info(
        "simulator: %s on %d pages, %d pairs, %d features; session %s",
        model.name,
        len(pages),
        len(table),
        len(names),
        simulator.session.to_dict(),
    )
    return simulator


def fit_purchase_model(
    features: np.ndarray, counts: np.ndarray, config: SimulatorConfig, has_purchases: bool
) -> PurchaseModel:
    """P(purchase | click) per pair from its (clicks, purchases) ``counts`` (2, n_pairs),
    blended with the feature model; a prior-only model for logs without purchases."""
    if not has_purchases:
        return PurchaseModel(None, config.purchase_blend_strength)
    return PurchaseModel.fit(
        features,
        counts[0],
        counts[1],
        config.purchase_blend_strength,
        config.feature_regularization,
        make_feature_model(
            config.feature_model, config.feature_regularization, config.feature_trees
        ),
    )


def fit_click_model(
    pages: LoggedPages, features: np.ndarray, config: SimulatorConfig
) -> tuple[PairClickModel, dict[str, AnyFeatureModel]]:
    """Steps 1 and 2 of the module docstring: the click model, refitted under the feature
    models' prior, and the feature models (float64 features (P, F) of the pages' pairs)."""
    model = make_click_model(
        config.click_model, config.prior, config.em_iterations, config.em_tolerance
    )
    model.fit(pages)

    def feature_models() -> dict[str, AnyFeatureModel]:
        return {
            name: make_feature_model(
                config.feature_model, config.feature_regularization, config.feature_trees
            ).fit(features, model.pair_values[name], model.pair_weights[name])
            for name in model.pair_param_names
        }

    fitted = feature_models()
    for _ in range(config.feature_rounds):
        prior = {name: fm.predict(features) for name, fm in fitted.items()}
        model.fit(pages, pair_prior=prior, prior_strength=config.blend_strength)
        fitted = feature_models()
    return model, fitted


def fit_session(
    simulator: UserSimulator, pages: LoggedPages, config: SimulatorConfig
) -> SessionModel:
    """The session model, with stop = 1 after a purchase, else the click model's
    posterior probability that the user was satisfied."""
    page, purchase = simulator.logged_page(pages)
    satisfied = page.stop_posterior(pages.clicks, purchase)
    stop = np.where(pages.purchases.any(axis=1), 1.0, satisfied)
    return SessionModel.fit(session_outcomes(pages, config.max_pages), stop)
