"""Progress bars for long work.

Library code wraps long loops in :func:`track` or reports through :func:`task`; nothing is
shown unless the CLI (or a user) calls :func:`enable`, so library code never prints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")
_progress: Progress | None = None


def _columns() -> tuple:
    return (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[cyan]{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )


def enable(console: Console | None = None) -> Progress:
    """Start showing progress bars (the CLI calls this with its console)."""
    global _progress
    if _progress is None:
        _progress = Progress(*_columns(), console=console, transient=False)
        _progress.start()
    return _progress


def disable() -> None:
    global _progress
    if _progress is not None:
        _progress.stop()
        _progress = None


def _ignore(n: float = 1) -> None:
    """Progress is off: nothing to show."""


@contextmanager
def task(description: str, total: float | None) -> Iterator[Callable[[float], None]]:
    """Yield an ``advance(n)`` function for a unit of work of size ``total``."""
    progress = _progress
    if progress is None:
        yield _ignore
        return
    task_id = progress.add_task(description, total=total, rate="")

    def advance(n: float = 1) -> None:
        progress.advance(task_id, n)
        speed = progress.tasks[progress.task_ids.index(task_id)].speed
        if speed:
            progress.update(task_id, rate=f"{speed:,.0f}/s")

    try:
        yield advance
    finally:
        progress.update(task_id, completed=progress.tasks[progress.task_ids.index(task_id)].total)


def track(iterable: Iterable[T], description: str, total: float | None = None) -> Iterator[T]:
    """Iterate ``iterable`` with a progress bar when progress is enabled."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with task(description, total) as advance:
        for item in iterable:
            yield item
            advance(1)
