"""``fusionrank serve`` (the HTTP re-ranker) and ``fusionrank export`` (ONNX)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fusionrank.cli.console import console, print_summary
from fusionrank.cli.options import ConfigOption, SetOption, run_config
from fusionrank.service.config import ServiceConfig

RunOption = Annotated[
    Path, typer.Option("--run", help="Run folder (runs/NAME) or a policy folder.")
]
PolicyOption = Annotated[
    str | None, typer.Option("--policy", help="Policy folder name under runs/NAME/policies/.")
]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("export")(export)


def _service_config(
    config: Path | None, overrides: list[str] | None, policy: str | None
) -> ServiceConfig:
    extra = list(overrides or [])
    resolved = run_config(config, extra).service
    if policy is not None:
        resolved = resolved.model_copy(update={"policy": policy})
    return resolved


def serve(
    run: RunOption,
    port: Annotated[int | None, typer.Option(help="TCP port (default service.port).")] = None,
    host: Annotated[str | None, typer.Option(help="Interface (default 127.0.0.1).")] = None,
    policy: PolicyOption = None,
    config: ConfigOption = None,
    overrides: SetOption = None,
) -> None:
    """Serve the run's policy over HTTP: /rerank, /search, /healthz, /metrics, /docs."""
    from fusionrank.service.server import run_server

    settings = _service_config(config, overrides, policy)
    updates = {k: v for k, v in (("port", port), ("host", host)) if v is not None}
    settings = settings.model_copy(update=updates)
    if not run.exists():
        raise ValueError(f"--run {run} does not exist; pass runs/NAME or a policy folder")
    console.print(f"serving {run} on http://{settings.host}:{settings.port} (docs at /docs)")
    run_server(run, settings)


def export(
    run: RunOption,
    policy: PolicyOption = None,
    out: Annotated[
        Path | None,
        typer.Option(help="ONNX file; default runs/NAME/service/exports/<policy>-<version>.onnx."),
    ] = None,
    config: ConfigOption = None,
    overrides: SetOption = None,
) -> None:
    """Export the policy's scoring network to ONNX and check it against the training one."""
    from fusionrank.agents.policy import load_policy
    from fusionrank.io import atomic_path
    from fusionrank.service.export import (
        OnnxScorer,
        check_export,
        export_onnx,
        onnx_session,
        query_dim,
    )
    from fusionrank.service.loading import export_path, resolve

    settings = _service_config(config, overrides, policy)
    policy_dir, run_dir = resolve(run, settings.policy)
    loaded = load_policy(policy_dir)
    target = out or export_path(loaded, run_dir)
    if target is None:
        raise ValueError(f"{policy_dir} is not inside a run folder; pass --out FILE.onnx")
    model = export_onnx(loaded)
    check = check_export(loaded, OnnxScorer(onnx_session(model), query_dim(loaded)))
    with atomic_path(target) as tmp:
        tmp.write_bytes(model)
    print_summary(
        f"ONNX export in {target}",
        {
            "policy": f"{loaded.name} ({loaded.kind})",
            "version": loaded.version,
            "max |onnx - torch|": check.max_abs_diff,
            "checked (B, K)": [f"{b}x{k}" for b, k in check.shapes],
            "bytes": len(model),
        },
    )
