"""Saving and loading a user simulator.

```
<folder>/click_model/      the click model (meta.json, params.npz)
<folder>/simulator.npz     prices, query texts, purchase counts, feature-model states
<folder>/simulator.json    configuration, session model, feature names
```
The folder is written into a temporary folder and renamed into place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrank.io import atomic_dir, atomic_path, write_json
from fusionrank.protocols import PairFeaturizer
from fusionrank.simulator.click_models import CLICK_MODELS
from fusionrank.simulator.config import SimulatorConfig
from fusionrank.simulator.feature_model import feature_model_from_state
from fusionrank.simulator.purchase import PurchaseModel
from fusionrank.simulator.session import SessionModel

if TYPE_CHECKING:
    from fusionrank.simulator.user_simulator import UserSimulator

FORMAT = 1


def save_simulator(simulator: UserSimulator, folder: Path) -> None:
    """Write ``simulator`` to ``folder`` (replacing it only once complete)."""
    with atomic_dir(folder) as tmp:
        simulator.click_model.save(tmp / "click_model")
        arrays: dict[str, Any] = {
            "prices": simulator.prices,
            "query_texts": simulator.query_texts[
                : len(simulator.click_model.vocabulary.query_ids)
            ].astype(str),
            "purchase_counts": simulator.purchase_counts,
        }
        for name, model in simulator.feature_models.items():
            arrays.update({f"feature.{name}.{k}": v for k, v in model.state().items()})
        if simulator.purchase.feature_model is not None:
            state = simulator.purchase.feature_model.state()
            arrays.update({f"purchase.{k}": v for k, v in state.items()})
        with atomic_path(tmp / "simulator.npz") as path, path.open("wb") as handle:
            np.savez(handle, **arrays)
        write_json(
            tmp / "simulator.json",
            {
                "format": FORMAT,
                "click_model": simulator.click_model.name,
                "config": simulator.config.model_dump(mode="json"),
                "session": simulator.session.to_dict(),
                "feature_names": list(simulator.feature_names),
                "purchase_strength": simulator.purchase.strength,
            },
        )


def _state(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}


def load_simulator(folder: Path, featurizer: PairFeaturizer | None) -> UserSimulator:
    """Read a simulator written by :func:`save_simulator`.

    Raises:
        ValueError: If the folder holds no simulator, or the featurizer's features are
            not the ones the simulator was fitted with.
    """
    from fusionrank.simulator.user_simulator import UserSimulator

    if not (folder / "simulator.json").is_file():
        raise ValueError(
            f"{folder} holds no user simulator (simulator.json is missing); run"
            " `fusionrank sim fit` first"
        )
    meta = json.loads((folder / "simulator.json").read_text())
    names = tuple(meta["feature_names"])
    given = tuple(featurizer.feature_names) if featurizer is not None else ()
    if names and given != names:
        raise ValueError(
            f"the simulator in {folder} was fitted with features {list(names)}, but the"
            f" featurizer gives {list(given)}; load it with the featurizer it was fitted with"
        )
    with np.load(folder / "simulator.npz", allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    click_model = CLICK_MODELS[meta["click_model"]].load(folder / "click_model")
    feature_models = {
        name: feature_model_from_state(_state(arrays, f"feature.{name}."))
        for name in click_model.pair_param_names
    }
    purchase_state = _state(arrays, "purchase.")
    purchase = PurchaseModel(
        feature_model_from_state(purchase_state) if purchase_state else None,
        meta["purchase_strength"],
    )
    return UserSimulator(
        click_model=click_model,
        feature_models=feature_models,
        purchase=purchase,
        session=SessionModel(**meta["session"]),
        featurizer=featurizer if names else None,
        feature_names=names,
        query_texts=arrays["query_texts"].astype(object),
        prices=arrays["prices"],
        purchase_counts=arrays["purchase_counts"],
        config=SimulatorConfig.model_validate(meta["config"]),
    )
