"""An ensemble of user simulators fitted on bootstrap resamples of the logged sessions.

Member ``e`` is :func:`~fusionrank.simulator.fitting.fit_simulator` on ``n`` sessions
drawn with replacement from the ``n`` logged sessions (whole sessions, so the session
model still reads each page's successor); a session drawn twice appears twice under two
session numbers. The members agree where the logs are rich and disagree where they are
thin, so the spread of a verdict across members is the simulator's own uncertainty
(Efron's bootstrap; the model ensembles of PETS and MOPO). With ``resample=False`` every
member is fitted on the logs themselves and the spread is exactly zero.

```
<folder>/member-000/ ...   each member as UserSimulator.save writes it
<folder>/ensemble.json     members, resampling, seed
```
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from fusionrank.io import atomic_dir, read_json, write_json
from fusionrank.protocols import PairFeaturizer
from fusionrank.simulator.config import SimulatorConfig
from fusionrank.simulator.fitting import fit_simulator
from fusionrank.simulator.user_simulator import UserSimulator
from fusionrank.types import LoggedPages

logger = logging.getLogger(__name__)

ENSEMBLE_FILE = "ensemble.json"


def bootstrap_sessions(pages: LoggedPages, rng: np.random.Generator) -> LoggedPages:
    """The pages of ``n`` sessions drawn with replacement from the ``n`` sessions of
    ``pages``, renumbered so that every draw is its own session."""
    sessions = np.unique(pages.session)
    order = np.argsort(pages.session, kind="stable")
    start = np.searchsorted(pages.session[order], sessions)
    count = np.diff(np.r_[start, len(order)])
    drawn = rng.integers(0, len(sessions), size=len(sessions))
    rows = np.concatenate([order[start[d] : start[d] + count[d]] for d in np.sort(drawn)])
    labels = np.repeat(np.arange(len(drawn)), count[np.sort(drawn)])
    resampled = pages.subset(rows)
    return replace(resampled, session=labels.astype(np.int64))


@dataclass(frozen=True, eq=False)
class SimulatorEnsemble:
    """E fitted simulators.

    Args:
        members: The simulators.
        resampled: True when fitted on bootstrap resamples.
        seed: The resampling seed.
    """

    members: tuple[UserSimulator, ...]
    resampled: bool
    seed: int

    def __len__(self) -> int:
        return len(self.members)

    def save(self, folder: str | Path) -> None:
        """Write every member and ``ensemble.json`` to ``folder`` atomically."""
        with atomic_dir(Path(folder)) as tmp:
            for e, member in enumerate(self.members):
                member.save(tmp / f"member-{e:03d}")
            meta = {"members": len(self.members), "resampled": self.resampled, "seed": self.seed}
            write_json(tmp / ENSEMBLE_FILE, meta)

    @classmethod
    def load(cls, folder: str | Path, featurizer: PairFeaturizer | None) -> SimulatorEnsemble:
        """Read an ensemble written by :meth:`save`.

        Raises:
            ValueError: If the folder holds no ensemble.
        """
        folder = Path(folder)
        if not (folder / ENSEMBLE_FILE).is_file():
            raise ValueError(f"{folder} holds no simulator ensemble ({ENSEMBLE_FILE} missing)")
        meta = read_json(folder / ENSEMBLE_FILE)
        members = tuple(
            UserSimulator.load(folder / f"member-{e:03d}", featurizer)
            for e in range(int(meta["members"]))
        )
        return cls(members, bool(meta["resampled"]), int(meta["seed"]))


def fit_ensemble(
    pages: LoggedPages,
    featurizer: PairFeaturizer | None,
    prices: np.ndarray | None,
    config: SimulatorConfig,
    n_members: int,
    seed: int,
    resample: bool = True,
) -> SimulatorEnsemble:
    """Fit ``n_members`` simulators (module docstring).

    Raises:
        ValueError: If ``n_members`` is below 1.
    """
    if n_members < 1:
        raise ValueError(f"an ensemble needs n_members >= 1, got {n_members}")
    rng = np.random.default_rng(seed)
    members = []
    for e in range(n_members):
        data = bootstrap_sessions(pages, rng) if resample else pages
        members.append(fit_simulator(data, featurizer, prices, config))
        logger.info("ensemble: member %d of %d fitted", e + 1, n_members)
    return SimulatorEnsemble(tuple(members), resample, seed)
