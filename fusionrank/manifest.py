"""The run manifest, ``runs/<name>/manifest.json``: which inputs a run is built on and,
per stage, its fingerprint, what it read and what it wrote, with content hashes.

```json
{"inputs": {"catalog": "data/catalog.csv", "logs": "data/logs.parquet", "own_data": true},
 "stages": {"simulator": {"fingerprint": "...", "seconds": 4.2, "summary": {...},
                          "read": {"data/logs.parquet": "9f2c..."},
                          "wrote": {"runs/x/simulator/model": "41aa..."}}}}
```

A stage is reused only while its fingerprint and the content of everything it wrote are
unchanged (:meth:`Manifest.is_current`); editing or deleting an output, or editing an
input file in place, re-runs it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusionrank.io import write_json

# Content hashes of files by (path, size, mtime, inode): a file is read again only when
# one of them changed, so hashing a run's outputs on every rerun costs almost nothing.
_FILE_HASHES: dict[tuple[str, int, int, int], str] = {}
_CHUNK = 1 << 20

Hasher = Callable[[Path], "str | None"]


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes (hex)."""
    info = path.stat()
    key = (str(path.resolve()), info.st_size, info.st_mtime_ns, info.st_ino)
    known = _FILE_HASHES.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    _FILE_HASHES[key] = digest.hexdigest()
    return _FILE_HASHES[key]


def content_hash(path: Path) -> str | None:
    """sha256 of a file, or of a folder's files (relative names and contents, sorted);
    None when ``path`` does not exist. Hidden files (``.*``, e.g. temporary files of an
    atomic write) are left out."""
    if path.is_file():
        return file_hash(path)
    if not path.is_dir():
        return None
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        relative = item.relative_to(path)
        if any(part.startswith(".") for part in relative.parts):
            continue
        digest.update(relative.as_posix().encode() + b"\0" + file_hash(item).encode())
    return digest.hexdigest()


def hashes(paths: Iterable[Path]) -> dict[str, str | None]:
    """``{path: content_hash(path)}`` for each path (None where it is missing)."""
    return {str(p): content_hash(p) for p in paths}


@dataclass(frozen=True)
class StageRecord:
    """What the manifest keeps of a finished stage.

    Args:
        fingerprint: Hash of the stage's config sections, seed, input contents and the
            stage before it.
        read: Input path -> content hash, as read.
        wrote: Output path -> content hash, as written.
        seconds: Wall time of the run that wrote it.
        summary: The stage's figures (JSON-able).
    """

    fingerprint: str
    read: Mapping[str, str | None]
    wrote: Mapping[str, str | None]
    seconds: float
    summary: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "read": dict(self.read),
            "wrote": dict(self.wrote),
            "seconds": self.seconds,
            "summary": dict(self.summary),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageRecord:
        return cls(
            str(data["fingerprint"]),
            dict(data.get("read", {})),
            dict(data.get("wrote", {})),
            float(data.get("seconds", 0.0)),
            dict(data.get("summary", {})),
        )

    def outputs_intact(self, hasher: Hasher | None = None) -> bool:
        """Whether every output still exists with the content it was written with
        (``hasher``: how outputs are hashed, default :func:`content_hash`)."""
        hasher = hasher or content_hash
        return all(h is not None and hasher(Path(p)) == h for p, h in self.wrote.items())


@dataclass(frozen=True)
class Manifest:
    """``manifest.json`` of one run; every change is written atomically."""

    path: Path

    def load(self) -> dict[str, Any]:
        if not self.path.is_file():
            return {"inputs": None, "stages": {}}
        try:
            data = json.loads(self.path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            # A manifest that cannot be read only costs a rerun of every stage.
            return {"inputs": None, "stages": {}}
        data.setdefault("inputs", None)
        data.setdefault("stages", {})
        return data

    def _update(self, key: str, value: Any) -> None:
        data = self.load()
        data[key] = value
        write_json(self.path, data)

    def inputs(self) -> dict[str, Any] | None:
        return self.load()["inputs"]

    def set_inputs(self, inputs: Mapping[str, Any]) -> None:
        self._update("inputs", dict(inputs))

    def stage(self, name: str) -> StageRecord | None:
        entry = self.load()["stages"].get(name)
        return None if entry is None else StageRecord.from_dict(entry)

    def set_stage(self, name: str, record: StageRecord) -> None:
        data = self.load()
        data["stages"][name] = record.to_dict()
        write_json(self.path, data)

    def forget(self, name: str) -> None:
        """Drop a stage's record (it is about to be rerun)."""
        data = self.load()
        if data["stages"].pop(name, None) is not None:
            write_json(self.path, data)

    def is_current(
        self, name: str, fingerprint: str, hasher: Hasher | None = None
    ) -> StageRecord | None:
        """The stage's record when its fingerprint matches and its outputs are intact."""
        record = self.stage(name)
        if record is None or record.fingerprint != fingerprint:
            return None
        return record if record.outputs_intact(hasher) else None
