"""Self-contained HTML reports, rendered from Jinja2 templates: one file with the figures
embedded as base64 PNGs and the tables inline, and beside it a JSON file with every
figure's numbers.

```
<out>/report.html    open in any browser; needs no other file
<out>/figures.json   {figure name: the numbers it draws}, plus the report's tables
```

Every page extends ``templates/base.html.j2`` (the layout and style). A :class:`Report` is
built block by block (headings, paragraphs, tables, figures, links) and rendered by its
report's template (``report.html.j2`` renders the blocks; a report's own template, e.g.
``compare.html.j2``, adds its fixed text around them).
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from fusionrank.io import atomic_path, write_json

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def environment() -> Any:
    """The Jinja2 environment of the report templates (HTML autoescaped)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render(template: str, **context: Any) -> str:
    """Render a report template (a file in ``fusionrank/templates``) with ``context``."""
    return str(environment().get_template(template).render(**context))


def png_base64(figure: Any, dpi: int = 110) -> str:
    """A matplotlib figure as a base64 PNG (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def format_p(p: float) -> str:
    """A p-value for display; one that underflows to 0 reads ``< 1e-300``."""
    return "< 1e-300" if p == 0 else f"{p:.3g}"


def format_cell(value: Any) -> str:
    """A table cell: floats to 4 significant digits, intervals as ``[low, high]``."""
    if isinstance(value, tuple) and len(value) == 2:
        return f"[{format_cell(value[0])}, {format_cell(value[1])}]"
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return "–"
        return f"{value:.4g}" if abs(float(value)) < 1000 else f"{value:,.0f}"
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    return str(value)


def format_percent(value: Any) -> str:
    """A relative change as a signed percentage (``+21.5%``); intervals as ``[low, high]``."""
    if isinstance(value, tuple | list) and len(value) == 2:
        return f"[{format_percent(value[0])}, {format_percent(value[1])}]"
    if isinstance(value, float | np.floating | int | np.integer) and np.isfinite(value):
        return f"{float(value):+.1%}"
    return "–"


@dataclass(frozen=True)
class Block:
    """One block of a report: ``kind`` is heading, text, note, table, figure or links."""

    kind: str
    text: str = ""
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    name: str = ""
    png: str = ""
    links: tuple[tuple[str, str], ...] = ()


@dataclass
class Report:
    """An HTML report built block by block, rendered by ``template``, written atomically.

    Args:
        title: The page title.
        template: The report's template in ``fusionrank/templates``.
        context: Values the template uses besides the blocks.
    """

    title: str
    template: str = "report.html.j2"
    context: dict[str, Any] = field(default_factory=dict)
    _blocks: list[Block] = field(default_factory=list)
    _figures: dict[str, Any] = field(default_factory=dict)
    _tables: dict[str, Any] = field(default_factory=dict)

    def heading(self, text: str) -> None:
        self._blocks.append(Block("heading", text))

    def text(self, text: str, note: bool = False) -> None:
        self._blocks.append(Block("note" if note else "text", text))

    def links(self, items: Sequence[tuple[str, str]]) -> None:
        """A list of links: ``(label, href)``, hrefs relative to the report's folder."""
        self._blocks.append(Block("links", links=tuple((str(a), str(b)) for a, b in items)))

    def table(
        self,
        name: str,
        header: Sequence[str],
        rows: Sequence[Sequence[Any]],
        formats: Mapping[str, Callable[[Any], str]] | None = None,
    ) -> None:
        """A table; its raw values are also stored in the JSON under ``tables[name]``.

        Args:
            formats: Column header -> formatter for that column (default
                :func:`format_cell`), e.g. ``{"p-value": format_p}``.
        """
        formatters = [(formats or {}).get(h, format_cell) for h in header]
        cells = tuple(tuple(f(v) for f, v in zip(formatters, row, strict=True)) for row in rows)
        self._blocks.append(Block("table", header=tuple(header), rows=cells, name=name))
        self._tables[name] = {"header": list(header), "rows": _jsonable([list(r) for r in rows])}

    def figure(self, name: str, figure: Any, data: Mapping[str, Any], caption: str = "") -> None:
        """Embed a matplotlib figure as a PNG and keep its numbers under ``name``."""
        self._blocks.append(Block("figure", caption, name=name, png=png_base64(figure)))
        self._figures[name] = _jsonable(dict(data))

    def html(self) -> str:
        return render(self.template, title=self.title, blocks=self._blocks, **self.context)

    def write(
        self,
        folder: str | Path,
        html_name: str = "report.html",
        json_name: str = "figures.json",
        extra: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write the HTML and the JSON of the figures into ``folder``; return the HTML path.

        Args:
            folder: Where to write.
            html_name, json_name: The two files' names.
            extra: More JSON-able content for the JSON file (beside ``figures``, ``tables``).
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        content = {**_jsonable(dict(extra or {})), "figures": self._figures, "tables": self._tables}
        write_json(folder / json_name, content)
        path = folder / html_name
        with atomic_path(path) as tmp:
            tmp.write_text(self.html(), encoding="utf-8")
        logger.info("report written to %s", path)
        return path
