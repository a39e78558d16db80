import re
from pathlib import Path

import pytest
import yaml

from fusionrank.config import RunConfig, load_config
from fusionrank.runs import dump_config
from fusionrank.seeding import STREAMS, int_seed, rng

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_defaults_round_trip_through_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(dump_config(RunConfig()))
    assert load_config(path) == RunConfig()


def test_shipped_default_config_equals_the_built_in_defaults():
    assert load_config(CONFIGS / "shopworld.yaml") == RunConfig()


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    load_config(path)


def test_overrides_are_parsed_as_yaml():
    config = load_config(None, ["world.n_items=1200", "world.images=false", "seed=7"])
    assert (config.world.n_items, config.world.images, config.seed) == (1200, False, 7)


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ({"world": {"nitems": 5}}, "world.nitems: Extra inputs are not permitted (got 5)"),
        ({"seed": -1}, "seed: Input should be greater than or equal to 0 (got -1)"),
        ({"world": {"n_items": "many"}}, "world.n_items: Input should be a valid integer"),
        (
            {"world": {"intents": {"visual": 0.9}}},
            "intent shares must sum to 1, they sum to 1.6000",
        ),
        (
            {"world": {"candidate_pool": 10}},
            "candidate_pool=10 is smaller than slate_size * max_pages = 30",
        ),
        ({"name": "../x"}, "name: String should match pattern"),
    ],
)
def test_bad_config_names_the_file_and_field(tmp_path, tree, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tree))
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_missing_file_and_bad_override_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ValueError, match=r"must look like section\.key=value"):
        load_config(None, ["world.n_items"])


def test_streams_are_stable_distinct_and_seed_dependent():
    draws = {name: rng(3, name).random(4).tolist() for name in STREAMS}
    assert len({tuple(v) for v in draws.values()}) == len(STREAMS)
    assert rng(3, "world").random(4).tolist() == draws["world"]
    assert rng(4, "world").random(4).tolist() != draws["world"]
    assert 0 <= int_seed(3, "agent") < 2**31
    with pytest.raises(ValueError, match="unknown random stream 'wrld'"):
        rng(3, "wrld")


def test_page_sizes_follow_the_logs_unless_the_user_set_them() -> None:
    from fusionrank.config import with_page_width

    config = load_config(None, ["evaluation.slate_size=5"])
    fitted = with_page_width(config, 8)
    assert fitted.envs.slate_size == 8 and fitted.baselines.slate_size == 8
    assert fitted.evaluation.slate_size == 5  # set by the user: kept
    assert with_page_width(fitted, 8) is fitted
    with pytest.raises(ValueError, match=r"envs.*slate_size.*k"):
        with_page_width(load_config(None, ["envs.k=20"]), 30)
