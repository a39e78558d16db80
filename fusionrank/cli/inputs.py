"""Which catalog and logs a command's run is built on, from its options and config."""

from __future__ import annotations

from pathlib import Path

from fusionrank.config import RunConfig
from fusionrank.runs import RunFolder, RunInputs


def record_run_inputs(
    run: RunFolder, config: RunConfig, catalog: Path | None = None, logs: Path | None = None
) -> None:
    """Record the run's inputs when the command line (``--catalog``, ``--logs``) or the
    config (``data.catalog``, ``data.logs``) names them; a file not named keeps what the
    run recorded before (its ShopWorld file, by default).

    Raises:
        ValueError: If a named file does not exist; the message names the field.
    """
    named = {
        "catalog": catalog or config.data.catalog,
        "logs": logs or config.data.logs,
    }
    if not any(named.values()):
        return
    for field, path in named.items():
        if path is not None and not Path(path).is_file():
            raise ValueError(f"data.{field}: {path} does not exist; set it to an existing file")
    known = run.inputs(need=())
    run.record_inputs(
        RunInputs(
            Path(named["catalog"] or known.catalog),
            Path(named["logs"] or known.logs),
            own_data=True,
        )
    )
