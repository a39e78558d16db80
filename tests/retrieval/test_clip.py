"""The tiny open_clip model: it trains on the tiny world, its checkpoint loads back
through open_clip's own loader with identical outputs, and a checkpoint of another
architecture is a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fusionrank.io import read_json
from fusionrank.retrieval.clip import load_clip, register_architectures
from fusionrank.retrieval.config import TINY_CLIP
from fusionrank.retrieval.images import decode_images, read_image_bytes

TEXTS = ["red striped t-shirt", "blue denim jacket", "black leather boots"]


def test_tiny_clip_trains_below_chance(retrieval_folder: Path) -> None:
    summary = read_json(retrieval_folder / "clip" / "train.json")
    first, last = summary["losses"][0][1], summary["losses"][-1][1]
    assert summary["model"] == TINY_CLIP and summary["steps"] == 40
    assert last < 0.8 * summary["chance_loss"] < first, summary["losses"]


def test_checkpoint_loads_through_open_clip_with_identical_outputs(
    retrieval_folder: Path, tiny_catalog
) -> None:
    import open_clip

    checkpoint = retrieval_folder / "clip" / "model.pt"
    ours = load_clip(TINY_CLIP, checkpoint)
    model, _, preprocess = open_clip.create_model_and_transforms(
        TINY_CLIP, pretrained=str(checkpoint)
    )
    model.eval()
    paths = tiny_catalog.image_paths()[:4]
    pixels = decode_images([read_image_bytes(p) for p in paths], paths, preprocess)
    tokens = open_clip.get_tokenizer(TINY_CLIP)(TEXTS)
    with torch.inference_mode():
        images = model.encode_image(pixels, normalize=True).numpy()
        texts = model.encode_text(tokens, normalize=True).numpy()
    np.testing.assert_array_equal(ours.encode_pixels(pixels), images)
    np.testing.assert_array_equal(ours.encode_texts(TEXTS), texts)
    again = load_clip(TINY_CLIP, checkpoint)
    assert again.identity == ours.identity and TINY_CLIP in ours.identity


def test_random_init_is_seeded() -> None:
    a, b = load_clip(TINY_CLIP, None, seed=3), load_clip(TINY_CLIP, None, seed=3)
    np.testing.assert_array_equal(a.encode_texts(TEXTS), b.encode_texts(TEXTS))
    assert a.identity == f"{TINY_CLIP}:random-3"


def test_checkpoint_of_another_architecture_is_a_clear_error(retrieval_folder: Path) -> None:
    checkpoint = retrieval_folder / "clip" / "model.pt"
    with pytest.raises(ValueError, match=f"holds a '{TINY_CLIP}' model, not 'RN50'"):
        load_clip("RN50", checkpoint)


def test_foreign_checkpoint_that_does_not_fit_is_a_clear_error(tmp_path: Path) -> None:
    """A plain open_clip state dict (no fusionrank record) of a narrower model."""
    import open_clip

    from fusionrank.retrieval.clip import CONFIG_DIR

    register_architectures()
    narrow = json.loads((CONFIG_DIR / f"{TINY_CLIP}.json").read_text())
    narrow["embed_dim"] = 64
    (tmp_path / "test-narrow-rn.json").write_text(json.dumps(narrow))
    open_clip.add_model_config(tmp_path)
    model = open_clip.create_model("test-narrow-rn")
    torch.save({"state_dict": model.state_dict()}, tmp_path / "narrow.pt")
    with pytest.raises(ValueError, match=f"does not fit architecture '{TINY_CLIP}'"):
        load_clip(TINY_CLIP, tmp_path / "narrow.pt")


def test_missing_or_unreadable_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_clip(TINY_CLIP, tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read"):
        load_clip(TINY_CLIP, tmp_path / "junk.pt")


def test_unknown_architecture_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not an open_clip architecture"):
        load_clip("no-such-clip", None)
