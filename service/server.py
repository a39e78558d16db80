"""Run the service under uvicorn: what ``fusionrank serve`` calls, and a module entry for
scripts and tests that start it in their own process::

    python -m fusionrank.service.server RUN_FOLDER '{"port": 8765, ...}'

(the JSON is a :class:`~fusionrank.service.config.ServiceConfig`). The access log is one
JSON line per request on stderr, as log collectors read it.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from fusionrank.service.config import ServiceConfig


def plain_access_log() -> None:
    """One JSON line per request on stderr (not rich-formatted)."""
    access = logging.getLogger("fusionrank.service.access")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False


def run_server(source: str | Path, config: ServiceConfig, access_log: bool = True) -> None:
    """Serve ``source`` (a run or policy folder) on ``config.host:config.port`` until
    interrupted (uvloop and httptools when installed)."""
    import uvicorn

    from fusionrank.service.app import create_app

    if access_log:
        plain_access_log()
    uvicorn.run(
        create_app(source, config),
        host=config.host,
        port=config.port,
        log_level="warning",
        access_log=False,
        log_config=None,
    )


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    config = ServiceConfig.model_validate_json(argv[1] if len(argv) > 1 else "{}")
    run_server(Path(argv[0]), config, access_log="--no-access-log" not in argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
