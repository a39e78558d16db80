"""Self-contained HTML reports: one file with the figures embedded as base64 PNGs and the
tables inline, and beside it a JSON file with every figure's numbers.

```
<out>/report.html    open in any browser; needs no other file
<out>/figures.json   {figure name: the numbers it draws}, plus the report's tables
```
"""

from __future__ import annotations

import base64
import html
import io
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fusionrank.io import atomic_path, write_json

logger = logging.getLogger(__name__)

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { border-bottom: 2px solid #1f77b4; padding-bottom: .2em; }
h2 { margin-top: 1.8em; color: #1f4e79; }
table { border-collapse: collapse; margin: .8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th { background: #eef3f8; } td:first-child, th:first-child { text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
p.note { font-size: 0.9em; color: #444; }
"""


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


@dataclass
class Report:
    """An HTML report built section by section, written atomically.

    Args:
        title: The page title.
    """

    title: str
    _parts: list[str] = field(default_factory=list)
    _figures: dict[str, Any] = field(default_factory=dict)
    _tables: dict[str, Any] = field(default_factory=dict)

    def heading(self, text: str) -> None:
        self._parts.append(f"<h2>{html.escape(text)}</h2>")

    def text(self, text: str, note: bool = False) -> None:
        css = ' class="note"' if note else ""
        self._parts.append(f"<p{css}>{html.escape(text)}</p>")

    def links(self, items: Sequence[tuple[str, str]]) -> None:
        """A list of links: ``(label, href)``, hrefs relative to the report's folder."""
        rows = "".join(
            f'<li><a href="{html.escape(href)}">{html.escape(label)}</a></li>'
            for label, href in items
        )
        self._parts.append(f"<ul>{rows}</ul>")

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
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(f(v))}</td>" for f, v in zip(formatters, row, strict=True))
            + "</tr>"
            for row in rows
        )
        self._parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        self._tables[name] = {"header": list(header), "rows": _jsonable([list(r) for r in rows])}

    def figure(self, name: str, figure: Any, data: Mapping[str, Any], caption: str = "") -> None:
        """Embed a matplotlib figure as a PNG and keep its numbers under ``name``."""
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110)
        plt.close(figure)
        encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
        self._parts.append(
            f'<figure id="{html.escape(name)}"><img alt="{html.escape(name)}" '
            f'src="data:image/png;base64,{encoded}"><figcaption>{html.escape(caption)}'
            "</figcaption></figure>"
        )
        self._figures[name] = _jsonable(dict(data))

    def html(self) -> str:
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{html.escape(self.title)}</h1>\n" + "\n".join(self._parts) + "\n</body></html>\n"
        )

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
