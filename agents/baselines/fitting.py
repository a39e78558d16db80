"""Fitting every baseline of a run: what ``fusionrank baselines fit`` does.

```
default-order/   DefaultOrder
logging/         LoggingPolicy (every logged page)
static-fusion/   StaticFusion (fitted simulator, logged traffic)
lambdamart/      LambdaMART (the simulator's training sessions)
baselines.json   fit seconds and metrics of each
```
all in the run's policy folders (:class:`~fusionrank.runs.PolicyFolders`).
The oracle is never written here: it reads the hidden truth, so evaluation builds it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrank.agents.baselines.config import BaselinesConfig
from fusionrank.agents.baselines.lambdamart import LambdaMART, logged_ndcg
from fusionrank.agents.baselines.simple import DefaultOrder, LoggingPolicy
from fusionrank.agents.baselines.static_fusion import StaticFusion
from fusionrank.agents.policy import Policy
from fusionrank.io import write_json
from fusionrank.retrieval.pool import FUSED_SCORE
from fusionrank.runs import PolicyFolders
from fusionrank.types import LoggedPages

if TYPE_CHECKING:
    from fusionrank.retrieval.retriever import Retriever
    from fusionrank.simulator.user_simulator import UserSimulator

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class FitInputs:
    """What the baselines are fitted from.

    Args:
        retriever: The run's retriever (features, pools, default weights).
        simulator: The fitted user simulator (never the hidden truth).
        pages: Every logged page, item indices in the retriever's catalog order.
        train: The sessions the simulator was fitted on.
        held_out: The later sessions kept out of fitting.
    """

    retriever: Retriever
    simulator: UserSimulator
    pages: LoggedPages
    train: LoggedPages
    held_out: LoggedPages


def held_out_click_ndcg(
    lambdamart: LambdaMART, retriever: Retriever, held_out: LoggedPages, k: int = 10
) -> dict[str, float]:
    """Mean nDCG@k of the held-out logged clicks (purchases graded higher) when each
    clicked page is re-ranked by LambdaMART, by the default fused score, and as logged.

    Clicks favour the logged order (users see its top first), so ``logged`` is a biased
    reference; ``lambdamart`` vs ``default`` compares two re-rankings of the same items.
    """
    pages = held_out.subset(np.asarray(held_out.clicks.any(axis=1)))
    if len(pages) == 0:
        return {}
    texts = [str(t) for t in pages.query_texts[pages.query]]
    features = retriever.pair_features(texts, pages.item_index)
    grade = lambdamart.config.get("purchase_grade", 2)
    labels = pages.clicks.astype(np.int64) + (grade - 1) * pages.purchases
    logged = -np.broadcast_to(np.arange(pages.slate_size, dtype=np.float64), labels.shape)
    fused = features[..., list(retriever.feature_names).index(FUSED_SCORE)]
    return {
        f"{name}_ndcg@{k}": float(logged_ndcg(scores, labels, pages.shown, k).mean())
        for name, scores in (
            ("lambdamart", lambdamart.predict(features)),
            ("default", fused),
            ("logged", logged),
        )
    } | {"held_out_pages": len(pages)}


def _timed(fit: Callable[[], Policy]) -> tuple[Policy, float]:
    started = time.perf_counter()
    policy = fit()
    return policy, time.perf_counter() - started


def fit_baselines(
    inputs: FitInputs, config: BaselinesConfig, seed: int
) -> dict[str, tuple[Policy, float]]:
    """Fit the four saved baselines; return each with its fit time in seconds."""
    retriever = inputs.retriever
    names = (retriever.modality_names, retriever.feature_names)
    fitted = {
        "default-order": _timed(lambda: DefaultOrder.create(*names)),
        "logging": _timed(lambda: LoggingPolicy.fit(inputs.pages, *names)),
        "static-fusion": _timed(
            lambda: StaticFusion.fit(retriever, inputs.simulator, inputs.pages, config)
        ),
        "lambdamart": _timed(
            lambda: LambdaMART.fit(
                retriever, inputs.simulator, inputs.train, config.lambdamart, seed
            )
        ),
    }
    fitted.update(fit_position_debiased(inputs, config, seed))
    for policy, _ in fitted.values():  # what they rank with when they have no weights
        policy.default_fusion_weights = retriever.default_weights(1)[0]
    for name in ("lambdamart", "lambdamart-position"):
        if name in fitted:
            ranker = fitted[name][0]
            assert isinstance(ranker, LambdaMART)
            ranker.metrics.update(held_out_click_ndcg(ranker, retriever, inputs.held_out))
    return fitted


def fit_position_debiased(
    inputs: FitInputs, config: BaselinesConfig, seed: int
) -> dict[str, tuple[Policy, float]]:
    """LightGBM's position-debiased lambdarank (``baselines.lambdamart_position``), the
    second supervised ranker; nothing when that section is null."""
    settings = config.lambdamart_position
    if settings is None:
        return {}
    settings = settings.model_copy(update={"debias": "position"})
    return {
        "lambdamart-position": _timed(
            lambda: LambdaMART.fit_position_debiased(inputs.retriever, inputs.train, settings, seed)
        )
    }


def save_baselines(
    fitted: dict[str, tuple[Policy, float]], policies: PolicyFolders
) -> dict[str, Any]:
    """Save each policy to ``policies/<name>/`` and the summary beside them."""
    summary: dict[str, Any] = {}
    for name, (policy, seconds) in fitted.items():
        policy.save(policies.of(name))
        summary[name] = {
            "kind": policy.kind,
            "version": policy.version,
            "fit_seconds": round(seconds, 2),
            "metrics": policy.metrics,
        }
    write_json(policies.baselines_summary, summary)
    return summary
