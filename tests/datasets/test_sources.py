"""Missing-input messages speak to the run they belong to."""

from __future__ import annotations

from fusionrank.datasets.sources import missing_input_message


def test_own_data_names_the_config_field_never_shopworld() -> None:
    message = missing_input_message("logs", "data/logs.parquet", own_data=True, run_name="shop")
    assert "set data.logs in your run config" in message and "--set data.logs=FILE" in message
    assert "world generate" not in message and "ShopWorld" not in message


def test_shopworld_runs_name_the_command_and_the_fields() -> None:
    message = missing_input_message("catalog", "runs/x/world/data/catalog.parquet",
                                    own_data=False, run_name="x")  # fmt: skip
    assert "`fusionrank world generate --name x`" in message
    assert "data.catalog and data.logs" in message
