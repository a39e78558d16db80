"""The saved form of a policy: ``policy.json``'s fields, the sha256 of every file, and the
content-hash ``version``.

::

    policy.json   kind, name, modality_names, feature_names, query_feature_dim, config,
                  default_fusion_weights, metrics, files ({relative path: sha256}), version

``version = sha256(json(VERSION_FIELDS + files))[:12]``: what decides the scores, never
``name``, ``metrics`` or timings. :func:`read_policy_meta` checks a folder against its
``policy.json`` without loading any weight file, so a reader can refuse a changed folder
before native code (torch, lightgbm) parses it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

POLICY_FILE = "policy.json"
VERSION_FIELDS = (
    "kind",
    "modality_names",
    "feature_names",
    "query_feature_dim",
    "config",
    "default_fusion_weights",
)
"""The ``policy.json`` fields that decide a policy's scores (hashed with ``files``)."""

_META_FIELDS: dict[str, type | tuple[type, ...]] = {
    "kind": str,
    "name": str,
    "modality_names": list,
    "feature_names": list,
    "query_feature_dim": int,
    "config": dict,
    "default_fusion_weights": (list, type(None)),
    "metrics": dict,
    "files": dict,
    "version": str,
}
_FIX = "the folder was changed or copied in part: copy the whole folder or save it again"


def file_hashes(folder: Path) -> dict[str, str]:
    """``{relative posix path: sha256 hex}`` of every file in ``folder`` but
    ``policy.json``."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.relative_to(folder).as_posix() != POLICY_FILE
    }


def policy_version(meta: dict[str, Any]) -> str:
    """``sha256[:12]`` of :data:`VERSION_FIELDS` and ``files`` of ``policy.json``'s
    ``meta``."""
    decisive = {key: meta.get(key) for key in (*VERSION_FIELDS, "files")}
    return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()[:12]


def read_policy_meta(folder: str | Path) -> dict[str, Any]:
    """``policy.json`` of a policy folder, after checking every file's sha256 and the
    version (nothing but ``policy.json`` is parsed; no weight file is loaded).

    Raises:
        ValueError: If ``policy.json`` is missing or corrupt, or a file is missing, extra
            or changed, or the version does not match; the message names it and the fix.
    """
    folder = Path(folder)
    path = folder / POLICY_FILE
    if not path.is_file():
        raise ValueError(
            f"{path} does not exist; pass a folder written by Policy.save "
            "(e.g. runs/<name>/policies/<policy>/), or train one with `fusionrank train`"
        )
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}); save the policy again") from None
    meta = _check_meta(meta, path)
    _check_files(folder, meta["files"])
    actual = policy_version(meta)
    if meta["version"] != actual:
        raise ValueError(
            f"{folder}: the files do not match the version in {POLICY_FILE} "
            f"({meta['version']!r} recorded, {actual!r} found); the folder was changed or "
            "is incomplete: save the policy again"
        )
    return meta


def _check_meta(meta: Any, path: Path) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: the top level must be an object; save the policy again")
    if "files" not in meta and isinstance(meta.get("version"), str):
        raise ValueError(
            f"{path} records no file hashes (saved by an older fusionrank); train or fit "
            "the policy again (`fusionrank train`, `fusionrank baselines fit`)"
        )
    for key, kind in _META_FIELDS.items():
        if key not in meta or not isinstance(meta[key], kind):
            names = kind.__name__ if isinstance(kind, type) else "list or null"
            raise ValueError(
                f"{path}: field {key!r} is missing or not a {names} "
                f"(got {meta.get(key)!r}); save the policy again"
            )
    return meta


def _check_files(folder: Path, recorded: dict[str, Any]) -> None:
    """Raise a ValueError naming the first file that is missing, extra or changed."""
    found = file_hashes(folder)
    for name in sorted(set(recorded) | set(found)):
        if name not in found:
            raise ValueError(f"{folder}: {name} is listed in {POLICY_FILE} but missing; {_FIX}")
        if name not in recorded:
            raise ValueError(f"{folder}: {name} is not listed in {POLICY_FILE}'s files; {_FIX}")
        if recorded[name] != found[name]:
            raise ValueError(
                f"{folder}: {name} does not match its sha256 in {POLICY_FILE} "
                f"({str(recorded[name])[:12]}... recorded, {found[name][:12]}... found); {_FIX}"
            )
