"""Reading users' CSV files as they come: any of the common separators and encodings.

Spreadsheet exports differ by locale: Excel writes ``;`` (with ``,`` as the decimal
mark) where the comma is a decimal mark, tabs or ``|`` are common in database dumps,
and files come as UTF-8, UTF-8 with a byte-order mark, or Windows-1252/Latin-1.
:func:`sniff_csv` finds the encoding (BOM, else strict UTF-8, else Windows-1252, else
Latin-1) and the separator (the candidate that splits the first lines into the same
number of fields, most fields winning), and :func:`read_csv` reads the file with them;
the format is named in messages, so a user sees how the file was read.
"""

from __future__ import annotations

import codecs
import csv
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

SEPARATORS = (",", ";", "\t", "|")
_SAMPLE_BYTES = 1 << 16
_SAMPLE_LINES = 50
_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
_COMMA_DECIMAL = re.compile(r"^-?\d+,\d+$")
_POINT_DECIMAL = re.compile(r"^-?\d+\.\d+$")


@dataclass(frozen=True)
class CsvFormat:
    """How a CSV file is written.

    Args:
        encoding: A Python codec name: ``utf-8``, ``utf-8-sig`` (UTF-8 with a BOM),
            ``utf-16``, ``cp1252`` or ``latin-1``.
        separator: The field separator, one of :data:`SEPARATORS`.
        decimal: The decimal mark of numbers (``","`` in ``;`` files from such locales).
    """

    encoding: str
    separator: str
    decimal: str = "."

    def describe(self) -> str:
        """E.g. ``"separator ';', decimal ',', encoding UTF-8 with BOM"``."""
        names = {
            "utf-8": "UTF-8",
            "utf-8-sig": "UTF-8 with BOM",
            "utf-16": "UTF-16 (BOM)",
            "cp1252": "Windows-1252 (Latin-1)",
            "latin-1": "Latin-1",
        }
        text = f"separator {_NAMES[self.separator]}"
        if self.decimal != ".":
            text += f", decimal '{self.decimal}'"
        return text + f", encoding {names.get(self.encoding, self.encoding)}"

    @property
    def is_utf8(self) -> bool:
        return self.encoding in ("utf-8", "utf-8-sig")


def _encoding(raw: bytes) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "cp1252"):
        try:
            raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"  # decodes any bytes


def _separator(lines: list[str]) -> str:
    """The separator that splits ``lines`` into the most fields, equally on every line
    (lines inside quotes are handled by the csv module); ``,`` when none splits."""
    best, best_fields = ",", 1
    for separator in SEPARATORS:
        rows = [r for r in csv.reader(lines, delimiter=separator) if r]
        if not rows:
            continue
        widths = {len(r) for r in rows[:-1]} or {len(rows[0])}  # the last line may be cut
        if len(widths) == 1 and (fields := widths.pop()) > best_fields:
            best, best_fields = separator, fields
    return best


def _decimal(lines: list[str], separator: str) -> str:
    if separator == ",":
        return "."
    fields = [f.strip() for r in csv.reader(lines[1:], delimiter=separator) for f in r]
    comma = any(_COMMA_DECIMAL.match(f) for f in fields)
    point = any(_POINT_DECIMAL.match(f) for f in fields)
    return "," if comma and not point else "."


def sniff_csv(path: Path) -> CsvFormat:
    """The encoding, separator and decimal mark of a CSV file (module docstring).

    The encoding is judged on the whole file (a Windows-1252 byte may be anywhere), the
    separator and the decimal mark on its first lines.
    """
    raw = path.read_bytes()
    encoding = _encoding(raw)
    text = raw[: _SAMPLE_BYTES * 4].decode(encoding, errors="replace")
    lines = text.splitlines()[:_SAMPLE_LINES]
    separator = _separator(lines)
    return CsvFormat(encoding, separator, _decimal(lines, separator))


def read_csv(path: Path, text_columns: tuple[str, ...] = ()) -> tuple[pd.DataFrame, CsvFormat]:
    """Read a CSV file in its own format; ``text_columns`` are read as strings (so that
    ids such as ``007`` keep their zeros).

    Raises:
        ValueError: As pandas does for a file it cannot parse, the message saying how the
            file was read (separator, encoding).
        OSError: When the file cannot be read.
    """
    fmt = sniff_csv(path)
    try:
        frame = pd.read_csv(
            path,
            sep=fmt.separator,
            encoding=fmt.encoding,
            decimal=fmt.decimal,
            dtype=dict.fromkeys(text_columns, str),
        )
    except ValueError as error:
        raise ValueError(f"{error}; it was read with {fmt.describe()}") from error
    logger.info("%s: read as CSV, %s", path, fmt.describe())
    return frame, fmt


def line_numbers(path: Path, fmt: CsvFormat) -> np.ndarray:
    """int64, shape (n_rows,): the file line (1-based, the header is line 1) on which each
    data row starts, counting quoted line breaks and skipping blank lines as pandas does."""
    starts = []
    with open(path, encoding=fmt.encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=fmt.separator)
        previous = 0
        for record in reader:
            if record and any(field != "" for field in record):
                starts.append(previous + 1)
            previous = reader.line_num
    return np.asarray(starts[1:], dtype=np.int64)  # the first record is the header


def line_mapper(path: Path, fmt: CsvFormat):
    """A function of data rows (int (n,)) to file lines, reading the file on first use."""
    cache: list[np.ndarray] = []

    def lines(rows: np.ndarray) -> np.ndarray:
        if not cache:
            cache.append(line_numbers(path, fmt))
        table = cache[0]
        rows = np.asarray(rows, dtype=np.int64)
        inside = rows < table.shape[0]
        return np.where(inside, table[np.minimum(rows, max(table.shape[0] - 1, 0))], rows + 2)

    return lines


def separator_hint(frame: pd.DataFrame, fmt: CsvFormat) -> str:
    """A sentence for a missing-column error: how the file was read, and what its
    header looked like when it has one column only (a separator the sniffing missed)."""
    hint = f"the file was read as CSV with {fmt.describe()}"
    if len(frame.columns) == 1:
        hint += (
            f", which gave one column named {str(frame.columns[0])!r}; save the file with "
            "one of the separators , ; tab |"
        )
    return hint
