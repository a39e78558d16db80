"""Bad env configuration fails with a message that names the field and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from fusionrank.cli import app, register_commands
from fusionrank.config import load_config
from fusionrank.envs import EnvComponents, EnvConfig, make_core, make_env
from tests.envs.conftest import ENV_CONFIG

BAD = [
    ({"reward": "likes"}, "reward"),
    ({"k": 0}, "k"),
    ({"slate_size": 30, "k": 20}, "slate_size=30 must be at most envs.k=20"),
    ({"max_pages": 0}, "max_pages"),
    ({"mix": {"purchases": 0, "revenue": 0, "clicks": 0}}, "every weight is 0"),
    ({"rewards": "clicks"}, "rewards"),
]


@pytest.mark.parametrize(("update", "message"), BAD)
def test_bad_config_is_rejected(update: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        EnvConfig.model_validate(update)


def test_run_config_names_the_envs_section() -> None:
    with pytest.raises(ValueError, match=r"envs\.reward.*likes"):
        load_config(None, ["envs.reward=likes"])
    assert load_config(None, ["envs.k=7", "envs.slate_size=5"]).envs.k == 7


def test_unknown_kind_and_mismatched_components(env_components: EnvComponents) -> None:
    with pytest.raises(ValueError, match="unknown env kind 'joint'"):
        make_core(env_components, ENV_CONFIG, "joint", 4)
    with pytest.raises(ValueError, match=r"built for .*'k': 20.*'k': 30"):
        make_env(env_components, ENV_CONFIG.model_copy(update={"k": 30}), "rerank", 4)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        make_core(env_components, ENV_CONFIG, "rerank", 0)


def test_wrong_action_shape_is_named(env_components: EnvComponents) -> None:
    core = make_core(env_components, ENV_CONFIG, "rerank", 4)
    core.reset()
    with pytest.raises(ValueError, match=r"actions must have shape \(4, 20\)"):
        core.step(np.zeros((4, 3)))


def test_missing_run_parts_name_the_command(tmp_path) -> None:
    with pytest.raises(ValueError, match="fusionrank index build"):
        make_env(tmp_path / "nothing", ENV_CONFIG, "rerank")


@pytest.mark.slow
def test_envs_check_command_loads_a_run(
    env_components: EnvComponents, tiny_world: Path, tmp_path: Path, monkeypatch
) -> None:
    """A run folder with a saved retriever and simulator: load_components and the CLI."""
    run = tmp_path / "runs" / "tiny"
    (run / "world").mkdir(parents=True)
    (run / "world" / "data").symlink_to(tiny_world / "data")
    env_components.retriever.save(run / "retrieval")
    env_components.simulator.save(run / "simulator" / "model")
    monkeypatch.chdir(tmp_path)
    register_commands()
    overrides = ["--set", "envs.k=20", "--set", "envs.slate_size=5", "--set", "envs.batch_size=8"]
    result = CliRunner().invoke(app, ["envs", "check", "--name", "tiny", *overrides])
    assert result.exit_code == 0, result.output
    assert "mean reward" in result.output and "session" in result.output
