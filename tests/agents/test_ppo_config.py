"""Bad agent configs fail with the field, the value and the fix."""

from __future__ import annotations

import pytest

from fusionrank.config import load_config


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["agents.batch_size=4096", "agents.n_envs=8", "agents.n_steps=8"], "batch_size"),
        (["agents.total_steps={bogus: 10}"], "unknown env"),
        (["agents.network.hidden=30", "agents.network.attention_heads=4"], "divisible"),
        (["agents.env=joint"], "agents.env"),
        (["agents.learning_rate=0"], "agents.learning_rate"),
        (["agents.n_epoch=3"], "agents.n_epoch"),
    ],
)
def test_bad_agent_config_names_the_field(overrides: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_config(None, overrides)


def test_default_agent_config_is_valid() -> None:
    config = load_config(None, [])
    assert config.agents.steps_for("rerank") > 0
    assert config.agents.batch_size <= config.agents.n_envs * config.agents.n_steps
