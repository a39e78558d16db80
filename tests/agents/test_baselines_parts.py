"""Baseline pieces that need no run folder: the simplex grid, config validation and the
oracle's refusal to exist without ShopWorld's hidden truth."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from fusionrank.agents.baselines import BaselinesConfig, OracleShopWorld, simplex_grid
from fusionrank.config import load_config


@pytest.mark.parametrize("where", [None, "empty"])
def test_oracle_refuses_without_the_hidden_truth(where, tmp_path):
    folder = None if where is None else tmp_path
    with pytest.raises(ValueError, match="needs the hidden truth"):
        OracleShopWorld.from_truth(folder, ("text",), ("text_z", "fused_score"))


def test_simplex_grid_counts_and_sums():
    grid = simplex_grid(3, 0.05)
    assert grid.shape == (231, 3)  # C(20 + 2, 2) = 231
    np.testing.assert_allclose(grid.sum(axis=1), 1.0)
    assert len(np.unique(grid, axis=0)) == 231 and grid.min() >= 0


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"reward": {"sales": 1.0}}, "reward.sales"),
        ({"reward": {"purchases": 0.0}}, "all 0"),
        ({"grid_step": 0.3}, "divide 1"),
        ({"slate_size": 0}, "slate_size"),
        ({"lambdamart": {"n_estimators": 0}}, "n_estimators"),
    ],
)
def test_bad_config_names_the_field(update, message):
    with pytest.raises(ValidationError, match=message):
        BaselinesConfig.model_validate(update)


def test_bad_override_is_a_clear_error():
    with pytest.raises(ValueError, match=r"baselines\.reward\.sales"):
        load_config(None, ["baselines.reward.sales=1"])
