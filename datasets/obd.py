"""The Open Bandit Dataset (OBD) CSV files as fusionrank logs and as bandit arrays for OPE.

Layout: ``<data_dir>/<policy>/<campaign>/<campaign>.csv`` and ``item_context.csv`` beside
it, ``policy`` in ``random``/``bts`` and ``campaign`` in ``all``/``men``/``women``. Each CSV
row is one impression: an unnamed index, ``timestamp``, ``item_id``, ``position`` (1-3),
``click``, ``propensity_score``, four hashed ``user_feature_*`` columns and
``user-item_affinity_*`` columns.

**One page per row.** An OBD recommendation event fills three slots, but the shipped
sample cannot be regrouped into events. In every one of the six files (10,000 rows each):
timestamps are unique except for 1-11 pairs; file order shows no 1, 2, 3 cycle (the
first rows of random/all have positions 3, 3, 3, 2, 2, 1, 1, 1, 3, 2, 2, 1); the median
gap between consecutive rows is about 34 s; and grouping consecutive rows with the same
user features less than 1 s apart gives only 7 complete {1, 2, 3} groups of about 9,600 in
random/all (2 in bts/all). The sample is a draw of single impressions from the full logs.
So each row becomes its own page and its own session (the data has no session or user
id; the user features are shared by many users), with ``positions=[position]``, so that
``logs_to_pages`` puts it in column ``position - 1`` of the page arrays.

The log's ``query_id`` and ``query_text`` are the campaign name (OBD has no queries), its
``policy`` the logging policy, and the four user features are kept as extra columns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fusionrank.datasets.errors import DataValidationError, require_columns
from fusionrank.datasets.logs import validate_logs
from fusionrank.types import Catalog

logger = logging.getLogger(__name__)

POLICIES = ("random", "bts")
CAMPAIGNS = ("all", "men", "women")
N_POSITIONS = 3
USER_FEATURES = tuple(f"user_feature_{i}" for i in range(4))
_REQUIRED = {
    "timestamp": "use an OBD file as shipped (it has a 'timestamp' column)",
    "item_id": "use an OBD file as shipped (it has an 'item_id' column)",
    "position": "use an OBD file as shipped (it has a 'position' column)",
    "click": "use an OBD file as shipped (it has a 'click' column)",
    "propensity_score": "use an OBD file as shipped (it has a 'propensity_score' column)",
}


@dataclass(frozen=True, eq=False)
class OBDImpressions:
    """OBD as logged bandit feedback, one entry per impression (CSV row), for OPE.

    Args:
        position: int64, shape (n,): the slot, 1-based (1-3) as in the file.
        item_index: int64, shape (n,): the item shown; OBD's item ids are already
            0 .. n_items - 1, the rows of ``action_context``.
        click: bool, shape (n,): the reward.
        propensity: float64, shape (n,): the logging policy's probability of showing
            that item in that slot.
        context: float64, shape (n, n_features): one-hot user features, then the
            user-item affinities (the context OBP builds).
        context_names: n_features column names.
        action_context: float64, shape (n_items, n_item_features): ``item_feature_0`` and
            one-hot ``item_feature_1..3``.
        timestamp: float64, shape (n,): seconds since the epoch.
        n_items: Items in the campaign.
        policy: ``"random"`` or ``"bts"``.
        campaign: ``"all"``, ``"men"`` or ``"women"``.
    """

    position: np.ndarray
    item_index: np.ndarray
    click: np.ndarray
    propensity: np.ndarray
    context: np.ndarray
    context_names: tuple[str, ...]
    action_context: np.ndarray
    timestamp: np.ndarray
    n_items: int
    policy: str
    campaign: str

    def __post_init__(self) -> None:
        n = self.position.shape[0]
        for name, dtype in (
            ("position", np.int64),
            ("item_index", np.int64),
            ("click", np.bool_),
            ("propensity", np.float64),
            ("timestamp", np.float64),
        ):
            array = getattr(self, name)
            if array.dtype != dtype or array.shape != (n,):
                raise ValueError(f"{name} must be {np.dtype(dtype)} of shape ({n},)")
        if self.context.shape != (n, len(self.context_names)):
            raise ValueError(f"context must have shape ({n}, {len(self.context_names)})")
        if self.action_context.shape[0] != self.n_items:
            raise ValueError(f"action_context must have {self.n_items} rows")

    def __len__(self) -> int:
        return int(self.position.shape[0])


def obd_file(data_dir: str | Path, policy: str, campaign: str, name: str | None = None) -> Path:
    """The path of an OBD file: ``<data_dir>/<policy>/<campaign>/<name or campaign.csv>``.

    Raises:
        ValueError: For an unknown policy or campaign.
        DataValidationError: When the file does not exist.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy={policy!r} is not an OBD policy; use one of {POLICIES}")
    if campaign not in CAMPAIGNS:
        raise ValueError(f"campaign={campaign!r} is not an OBD campaign; use one of {CAMPAIGNS}")
    path = Path(data_dir) / policy / campaign / (name or f"{campaign}.csv")
    if not path.is_file():
        raise DataValidationError(
            str(path),
            "does not exist",
            "pass the OBD folder that holds random/ and bts/ (as shipped in obp)",
        )
    return path


def read_obd_csv(data_dir: str | Path, policy: str, campaign: str) -> pd.DataFrame:
    """The raw impressions table of one OBD file, with required columns checked."""
    path = obd_file(data_dir, policy, campaign)
    frame = pd.read_csv(path, index_col=0)
    require_columns(frame, _REQUIRED, str(path))
    return frame


def load_obd(data_dir: str | Path, policy: str, campaign: str) -> pd.DataFrame:
    """One OBD file as a validated log table, one page per impression.

    Args:
        data_dir: The OBD folder that holds ``random/`` and ``bts/``.
        policy: ``"random"`` or ``"bts"``.
        campaign: ``"all"``, ``"men"`` or ``"women"``.

    Returns:
        The log table (see :mod:`fusionrank.datasets.logs`): ``session_id`` is
        ``"<policy>/<campaign>/<row>"``; ``item_ids``, ``clicks``, ``propensities`` and
        ``positions`` are one-entry lists; ``user_feature_0..3`` are kept.
    """
    raw = read_obd_csv(data_dir, policy, campaign)
    rows = raw.index.astype(str)
    frame = pd.DataFrame(
        {
            "session_id": (f"{policy}/{campaign}/" + rows).to_numpy(),
            "query_id": campaign,
            "query_text": campaign,
            "timestamp": pd.to_datetime(raw["timestamp"], utc=True).reset_index(drop=True),
            "item_ids": _one_entry_lists(raw["item_id"].astype(str)),
            "clicks": _one_entry_lists(raw["click"].astype(bool)),
            "propensities": _one_entry_lists(raw["propensity_score"].astype(np.float64)),
            "positions": _one_entry_lists(raw["position"].astype(np.int64)),
            "page": 0,
            "policy": policy,
        }
    )
    for column in USER_FEATURES:
        if column in raw.columns:
            frame[column] = raw[column].to_numpy()
    file = str(obd_file(data_dir, policy, campaign))
    return validate_logs(frame, file=file)


def _one_entry_lists(values: pd.Series) -> list[list[object]]:
    return [[v] for v in values.tolist()]


def load_obd_item_context(data_dir: str | Path, policy: str, campaign: str) -> pd.DataFrame:
    """The campaign's ``item_context.csv``: ``item_id`` (str) and ``item_feature_0..3``."""
    path = obd_file(data_dir, policy, campaign, "item_context.csv")
    frame = pd.read_csv(path, index_col=0)
    require_columns(frame, {"item_id": "use item_context.csv as shipped"}, str(path))
    frame["item_id"] = frame["item_id"].astype(str)
    return frame.reset_index(drop=True)


def obd_catalog(data_dir: str | Path, policy: str, campaign: str) -> Catalog:
    """A text-only catalog of the campaign's items (title ``"item <id>"``) and their
    features, so that ``logs_to_pages(load_obd(...), catalog)`` indexes items by OBD id."""
    items = load_obd_item_context(data_dir, policy, campaign)
    items.insert(1, "title", "item " + items["item_id"])
    return Catalog(table=items, root=obd_file(data_dir, policy, campaign).parent)


def obd_impressions(data_dir: str | Path, policy: str, campaign: str) -> OBDImpressions:
    """One OBD file as bandit arrays for off-policy evaluation.

    Args:
        data_dir: The OBD folder that holds ``random/`` and ``bts/``.
        policy: ``"random"`` or ``"bts"``.
        campaign: ``"all"``, ``"men"`` or ``"women"``.
    """
    raw = read_obd_csv(data_dir, policy, campaign)
    items = load_obd_item_context(data_dir, policy, campaign)
    users = pd.get_dummies(raw[list(USER_FEATURES)].astype(str), dtype=np.float64)
    affinities = raw[[c for c in raw.columns if c.startswith("user-item_affinity_")]]
    context = pd.concat([users, affinities.astype(np.float64)], axis=1)
    features = items.drop(columns="item_id")
    action_context = pd.get_dummies(features, dtype=np.float64).to_numpy(np.float64)
    times = pd.to_datetime(raw["timestamp"], utc=True).to_numpy(dtype="datetime64[us]")
    return OBDImpressions(
        position=raw["position"].to_numpy(np.int64),
        item_index=raw["item_id"].to_numpy(np.int64),
        click=raw["click"].to_numpy().astype(bool),
        propensity=raw["propensity_score"].to_numpy(np.float64),
        context=context.to_numpy(np.float64),
        context_names=tuple(context.columns),
        action_context=action_context,
        timestamp=times.astype(np.int64).astype(np.float64) / 1e6,
        n_items=len(items),
        policy=policy,
        campaign=campaign,
    )
