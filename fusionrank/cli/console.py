"""Presentation for every command: one console, summaries and tables of figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def print_summary(title: str, summary: Mapping[str, Any]) -> None:
    """A two-column table of named figures."""
    table = Table(title=title, show_header=False, title_justify="left")
    for key, value in summary.items():
        table.add_row(key, _cell(value))
    console.print(table)


def print_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 1
) -> None:
    """A table whose first ``left`` columns are text (left-aligned), the rest figures."""
    table = Table(title=title, title_justify="left")
    for number, column in enumerate(columns):
        table.add_column(column, justify="left" if number < left else "right")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    console.print(table)
