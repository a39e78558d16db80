"""Messages for input files that are missing, written for the run they belong to: on the
user's own data they name the config field to set, never a ShopWorld command."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

InputKind = Literal["catalog", "logs"]
_OTHER = {"catalog": "logs", "logs": "catalog"}
_FORMAT = {"catalog": "a .parquet or .csv file", "logs": "a .parquet file"}


def missing_input_message(
    kind: InputKind, path: str | Path, *, own_data: bool, run_name: str
) -> str:
    """What to say when the run's catalog or log file does not exist.

    Args:
        kind: ``"catalog"`` or ``"logs"``.
        path: The path that was looked for.
        own_data: Whether the run is on the user's files (``data.catalog`` / ``data.logs``
            set) rather than on the run's generated ShopWorld.
        run_name: The run's name, for the ShopWorld command.
    """
    field = f"data.{kind}"
    if own_data:
        return (
            f"{kind} file {path} does not exist: set {field} in your run config to your "
            f"{kind} ({_FORMAT[kind]}; a relative path is read from the folder you run "
            f"fusionrank in), or override it with --set {field}=FILE"
        )
    return (
        f"{kind} file {path} does not exist: generate the run's ShopWorld first "
        f"(`fusionrank world generate --name {run_name}`, or `fusionrank demo`), or set "
        f"{field} and data.{_OTHER[kind]} in the run config to your own files"
    )
