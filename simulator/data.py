"""Getting logs, catalogs and featurizers for the simulator, and the held-out split."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fusionrank.protocols import PairFeaturizer
from fusionrank.runs import RunFolder
from fusionrank.simulator.featurizer import CatalogFeaturizer
from fusionrank.types import Catalog, LoggedPages

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Split:
    """Logged pages split by session time.

    Args:
        train: Pages of the earliest sessions.
        held_out: Pages of the latest ``fraction`` of sessions (by first timestamp).
        fraction: The held-out share of sessions.
    """

    train: LoggedPages
    held_out: LoggedPages
    fraction: float


def split_sessions(pages: LoggedPages, fraction: float) -> Split:
    """Hold out the latest ``fraction`` of sessions, ordered by their first page's time
    (ties: order of appearance), so no held-out session started before a training one.

    Raises:
        ValueError: If ``fraction`` is outside [0, 1) or leaves no training session.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"held-out fraction must be in [0, 1), got {fraction}")
    sessions, first = np.unique(pages.session, return_index=True)
    start = pd.Series(pages.timestamp).groupby(pages.session).min().reindex(sessions).to_numpy()
    order = sessions[np.lexsort((first, start))]
    n_train = round(len(order) * (1 - fraction))
    if n_train == 0:
        raise ValueError(
            f"held_out_fraction={fraction} leaves no training session of {len(order)}; lower it"
        )
    in_train = np.isin(pages.session, order[:n_train])
    return Split(pages.subset(in_train), pages.subset(~in_train), fraction)


def load_fit_data(logs: Path, catalog: Path) -> tuple[LoggedPages, Catalog]:
    """Validated logs (as pages indexed by the catalog's items) and the catalog.

    Raises:
        ValueError: (from the loaders) naming the file, row, column and fix of bad input.
    """
    from fusionrank.datasets import load_catalog, load_logs, logs_to_pages

    loaded = load_catalog(catalog, check_images=False)
    frame = load_logs(logs, catalog=loaded)
    return logs_to_pages(frame, catalog=loaded), loaded


def catalog_prices(catalog: Catalog) -> np.ndarray | None:
    """float64 item prices (n_items,), or None when the catalog has no price column."""
    if "price" not in catalog.table.columns:
        return None
    return pd.to_numeric(catalog.table["price"], errors="coerce").fillna(0.0).to_numpy(np.float64)


def run_featurizer(run: RunFolder, catalog: Catalog) -> tuple[PairFeaturizer, str]:
    """The run's retriever when it has one (``fusionrank index build``), else a catalog
    featurizer.

    Returns:
        The featurizer and a sentence that says which one it is.
    """
    if run.retrieval.exists:
        from fusionrank.retrieval.stages import load_run_retriever

        return load_run_retriever(run), f"the run's retriever in {run.retrieval.path}"
    return CatalogFeaturizer(catalog), "the catalog featurizer (text TF-IDF, prices)"
