"""What ``/admin/reload`` may load, and the isolated check before it loads it.

* **Confinement**: a reload target is a policy name or relative path inside the run's
  ``policies/`` folder, or a path inside one of ``service.reload_dirs``; after resolving
  symbolic links it must lie inside one of those folders, and the policy folder may hold
  no symbolic link. Anything else is refused with 403 before the path is even looked at.
* **Retriever**: a service with a retriever keeps one: the new policy's run must hold an
  index (or the policy lies outside any run and fits the serving retriever).
* **Isolation**: the policy is loaded, its engine built and a probe batch scored in a
  child process (:mod:`fusionrank.service.probe`); only when the child succeeds is it
  loaded in the server. A crash in native code kills the child, and the reload answers
  422 with what the child said.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusionrank.runs import RunFolder
from fusionrank.service.config import ServiceConfig

MAX_PATH_CHARS = 4096


class ReloadRefused(ValueError):
    """A reload refused before anything was loaded.

    Args:
        status: 403 (not allowed), 409 (a reload is running) or 422 (cannot serve).
        message: Why, and what to do.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ReloadRules:
    """The folders a reload may read.

    Args:
        policies: The serving run's ``policies/`` folder (resolved), or None.
        roots: Every allowed folder (resolved): ``policies`` and ``service.reload_dirs``.
    """

    policies: Path | None
    roots: tuple[Path, ...]

    @classmethod
    def for_run(cls, run: Path | None, config: ServiceConfig) -> ReloadRules:
        policies = None if run is None else Path(os.path.realpath(RunFolder.at(run).policies.path))
        extra = tuple(Path(os.path.realpath(d)) for d in config.reload_dirs)
        return cls(policies, ((policies,) if policies else ()) + extra)

    def target(self, path: str) -> Path:
        """The resolved folder ``path`` names.

        Raises:
            ReloadRefused: 403 if it lies outside the allowed folders.
        """
        if not path.strip() or "\x00" in path or len(path) > MAX_PATH_CHARS:
            raise ReloadRefused(422, "give a policy name or a folder path")
        given = Path(path)
        if not given.is_absolute():
            if self.policies is None:
                raise ReloadRefused(
                    403,
                    f"{path!r} is relative and this service serves no run folder; give an "
                    "absolute path inside service.reload_dirs",
                )
            given = self.policies / given
        real = Path(os.path.realpath(given))
        self.confine(real, path)
        return real

    def confine(self, folder: Path, shown: str | None = None) -> None:
        """Raise a 403 :class:`ReloadRefused` unless ``folder`` (resolved) lies inside an
        allowed folder and holds no symbolic link."""
        real = Path(os.path.realpath(folder))
        if not any(real.is_relative_to(root) for root in self.roots):
            allowed = ", ".join(str(r) for r in self.roots) or "none are configured"
            raise ReloadRefused(
                403,
                f"{shown or folder} resolves to {real}, outside the folders a reload may read "
                f"({allowed}); copy the policy into the run's policies/ folder or add its "
                "folder to service.reload_dirs",
            )
        if real.is_dir():
            links = [p for p in real.rglob("*") if p.is_symlink()]
            if links:
                raise ReloadRefused(
                    403,
                    f"{real} holds a symbolic link ({links[0].relative_to(real)}); a reload "
                    "target must hold plain files",
                )


def probe_policy(folder: Path, config: ServiceConfig, exports: Path | None) -> dict[str, Any]:
    """Load and score the policy in ``folder`` in a child process.

    Returns:
        ``{"version", "kind", "engine"}`` of the policy the child loaded.

    Raises:
        ValueError: If the child refused the policy, crashed, or ran past
            ``service.reload_timeout_s``; the message says which, with its last output.
    """
    from fusionrank.service.probe import ERROR, OK

    child_config = config.model_copy(
        update={"exports_dir": None if exports is None else str(exports)}
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "fusionrank.service.probe",
        str(folder),
        child_config.model_dump_json(),
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, timeout=config.reload_timeout_s, env=env
        )
    except subprocess.TimeoutExpired:
        raise ValueError(
            f"{folder}: loading and scoring the policy took longer than "
            f"{config.reload_timeout_s:.0f} s (service.reload_timeout_s); the old policy "
            "keeps serving"
        ) from None
    # A crashing native library may print pieces of memory: decode what is not UTF-8.
    stdout = done.stdout.decode("utf-8", "replace")
    stderr = done.stderr.decode("utf-8", "replace")
    for line in reversed(stdout.splitlines()):
        kind, _, payload = line.partition(" ")
        if kind == OK and done.returncode == 0:
            return dict(json.loads(payload))
        if kind == ERROR:
            raise ValueError(json.loads(payload)["error"])
    raise ValueError(
        f"{folder}: the policy crashed the process that checked it ({_exit(done.returncode)}) "
        f"before it could serve; the old policy keeps serving. Its last output: "
        f"{_tail(stdout + stderr)}"
    )


def _exit(code: int) -> str:
    if code < 0:
        import signal

        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _tail(text: str, lines: int = 3, chars: int = 400) -> str:
    """The last lines of a child's output, printable characters only (a crashing native
    library may print pieces of memory)."""
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    clean = " | ".join("".join(c if c.isprintable() else "?" for c in line) for line in kept)
    return clean[-chars:] or "(nothing)"
