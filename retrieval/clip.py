"""open_clip models: the project's registered architectures, checkpoints, and encoding.

The project registers its small architectures (``clip_configs/*.json``) with
``open_clip.add_model_config``, so a checkpoint that ``fusionrank clip train`` writes loads
back through ``open_clip.create_model_and_transforms(name, pretrained=PATH)``: exactly the
path that a user's own checkpoint (e.g. a ``ViT-B-32`` one) takes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from fusionrank.io import atomic_path

logger = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).resolve().parent / "clip_configs"
CHECKPOINT_FORMAT = "fusionrank-clip-1"


@cache
def register_architectures() -> tuple[str, ...]:
    """Register the project's open_clip model configs (once); return their names."""
    import open_clip

    open_clip.add_model_config(CONFIG_DIR)
    return tuple(sorted(p.stem for p in CONFIG_DIR.glob("*.json")))


def file_digest(path: str | Path) -> str:
    """The sha256 hex digest of a file's bytes (1 MiB chunks)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _known_architecture(name: str) -> None:
    import open_clip

    register_architectures()
    if name not in open_clip.list_models():
        shown = ", ".join(register_architectures())
        raise ValueError(
            f"retrieval.clip.model: {name!r} is not an open_clip architecture; use one of "
            f"the project's ({shown}) or an open_clip name such as 'ViT-B-32'"
        )


@dataclass
class ClipModel:
    """An open_clip model in eval mode with its preprocessing and tokenizer.

    Args:
        name: The open_clip architecture name.
        model: The ``open_clip.CLIP`` module.
        preprocess: open_clip's eval transform (PIL image -> float tensor (3, H, W)).
        tokenizer: open_clip's tokenizer (list of str -> int64 tensor (n, context)).
        identity: ``name`` plus the checkpoint's sha256 (or ``random-<seed>``); the
            embedding cache key of everything this model encodes.
    """

    name: str
    model: Any
    preprocess: Callable[[Any], Any]
    tokenizer: Callable[[list[str]], Any]
    identity: str

    @property
    def dim(self) -> int:
        return int(self.model.text_projection.shape[1])

    @property
    def image_size(self) -> int:
        size = self.model.visual.image_size
        return int(size[0] if isinstance(size, tuple | list) else size)

    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """L2-normalised text-tower embeddings, float32 shape (len(texts), dim)."""
        import torch

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                tokens = self.tokenizer(list(texts[start : start + batch_size]))
                vectors = self.model.encode_text(tokens, normalize=True)
                out[start : start + len(tokens)] = vectors.float().numpy()
        return out

    def encode_pixels(self, pixels: Any) -> np.ndarray:
        """L2-normalised image-tower embeddings of a float tensor (n, 3, H, W) that
        ``preprocess`` made; float32 shape (n, dim)."""
        import torch

        with torch.inference_mode():
            return self.model.encode_image(pixels, normalize=True).float().numpy()


def load_clip(name: str, checkpoint: str | Path | None, seed: int = 0) -> ClipModel:
    """Create an open_clip model, from a checkpoint or with seeded random weights.

    Args:
        name: open_clip architecture, e.g. ``fusionrank-tiny-rn`` or ``ViT-B-32``.
        checkpoint: A checkpoint file (open_clip's formats, or one that
            :func:`save_checkpoint` wrote); None for random initial weights.
        seed: torch seed of the random initial weights.

    Raises:
        ValueError: If the architecture is unknown, the file is missing, or the
            checkpoint holds another architecture's weights.
    """
    import open_clip
    import torch

    _known_architecture(name)
    if checkpoint is None:
        torch.manual_seed(seed)
        identity = f"{name}:random-{seed}"
    else:
        checkpoint = Path(checkpoint)
        if not checkpoint.is_file():
            raise ValueError(
                f"CLIP checkpoint {checkpoint} does not exist; run `fusionrank clip train` "
                "or set retrieval.clip.pretrained to an existing file"
            )
        _check_architecture(checkpoint, name)
        identity = f"{name}:{file_digest(checkpoint)}"
    try:
        with _quiet_open_clip(checkpoint is None):
            model, _, preprocess = open_clip.create_model_and_transforms(
                name, pretrained=None if checkpoint is None else str(checkpoint)
            )
    except RuntimeError as error:
        raise ValueError(
            f"CLIP checkpoint {checkpoint} does not fit architecture {name!r}: "
            f"{str(error).splitlines()[0][:300]}; set retrieval.clip.model to the "
            "architecture it was trained with"
        ) from None
    model.eval()
    with _quiet_open_clip(False):
        tokenizer = open_clip.get_tokenizer(name)
    return ClipModel(name, model, preprocess, tokenizer, identity)


@contextmanager
def _quiet_open_clip(random: bool) -> Iterator[None]:
    """Silence open_clip's progress notes (logged on the root logger) and, for a
    deliberate random init, its "no pretrained weights" warning."""
    logging.disable(logging.WARNING if random else logging.INFO)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _check_architecture(checkpoint: Path, name: str) -> None:
    """Compare the architecture a project checkpoint records with ``name``."""
    import torch

    try:
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:  # torch raises many types for a file that is not a checkpoint
        raise ValueError(
            f"CLIP checkpoint {checkpoint} cannot be read ({type(error).__name__}: "
            f"{str(error)[:200]}); give a torch checkpoint file"
        ) from None
    meta = saved.get("fusionrank") if isinstance(saved, dict) else None
    if isinstance(meta, dict) and meta.get("model") not in (None, name):
        raise ValueError(
            f"CLIP checkpoint {checkpoint} holds a {meta['model']!r} model, not {name!r}; "
            f"set retrieval.clip.model={meta['model']} or give a {name!r} checkpoint"
        )


def save_checkpoint(model: Any, name: str, path: str | Path, meta: dict[str, Any]) -> str:
    """Write ``{"state_dict": ..., "fusionrank": {...}}`` atomically; return its sha256.

    open_clip's ``load_checkpoint`` reads the ``state_dict`` entry, so the file loads
    through ``create_model_and_transforms(name, pretrained=path)``.
    """
    import torch

    record = {"format": CHECKPOINT_FORMAT, "model": name, **meta}
    with atomic_path(path) as tmp:
        torch.save({"state_dict": model.state_dict(), "fusionrank": record}, tmp)
        digest = file_digest(tmp)
    return digest
