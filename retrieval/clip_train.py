"""``fusionrank clip train``: contrastive training of an open_clip model on the catalog's
own (image, text) pairs.

Each step draws ``batch_size`` pairs (a fresh permutation per epoch) and minimises open_clip's
``ClipLoss``, the symmetric cross-entropy of the ``batch x batch`` image-text similarity
matrix scaled by the learned temperature; AdamW with linear warm-up then cosine decay.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from fusionrank import progress
from fusionrank.io import write_json
from fusionrank.retrieval.clip import load_clip, save_checkpoint
from fusionrank.retrieval.config import ClipConfig
from fusionrank.retrieval.images import decode_images, read_image_bytes
from fusionrank.retrieval.index import set_threads
from fusionrank.retrieval.store import item_texts
from fusionrank.seeding import int_seed, rng
from fusionrank.types import Catalog

logger = logging.getLogger(__name__)

LOG_EVERY = 10


def _optimizer(model: Any, config: ClipConfig) -> Any:
    """AdamW without weight decay on gains, biases and the temperature (as open_clip)."""
    import torch

    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if parameter.ndim < 2 or "bn" in name or "ln" in name or "logit_scale" in name:
            no_decay.append(parameter)
        else:
            decay.append(parameter)
    groups = [
        {"params": no_decay, "weight_decay": 0.0},
        {"params": decay, "weight_decay": config.weight_decay},
    ]
    return torch.optim.AdamW(groups, lr=config.learning_rate, betas=(0.9, 0.98), eps=1e-6)


def learning_rate_factor(step: int, config: ClipConfig) -> float:
    """Multiplier of the peak rate: ``(step + 1) / warmup`` during warm-up, then
    ``0.5 * (1 + cos(pi * progress))`` over the remaining steps."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    done = (step - config.warmup_steps) / max(config.steps - config.warmup_steps, 1)
    return 0.5 * (1.0 + math.cos(math.pi * done))


def _training_pairs(
    catalog: Catalog, config: ClipConfig, preprocess: Any, generator: np.random.Generator
) -> tuple[Any, list[str]]:
    """Decode the images that training will see: all, or a seeded sample of
    ``steps * batch_size`` when the catalog is larger."""
    n = len(catalog)
    wanted = min(n, config.steps * config.batch_size)
    rows = np.sort(generator.choice(n, size=wanted, replace=False)) if wanted < n else np.arange(n)
    paths = catalog.image_paths()
    texts = item_texts(catalog, config.text)
    chunks = []
    with progress.task("clip: read images", total=rows.size) as advance:
        for start in range(0, rows.size, 256):
            chunk = [paths[r] for r in rows[start : start + 256]]
            chunks.append(decode_images([read_image_bytes(p) for p in chunk], chunk, preprocess))
            advance(len(chunk))
    import torch

    return torch.cat(chunks), [texts[r] for r in rows]


def _train_steps(
    model: Any, pixels: Any, tokens: Any, config: ClipConfig, generator: np.random.Generator
) -> list[list[float]]:
    """``config.steps`` optimiser steps of ClipLoss on batches of the pairs; returns the
    logged ``[step, loss]`` pairs."""
    import open_clip
    import torch

    model.train()
    optimizer = _optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: learning_rate_factor(step, config)
    )
    loss_fn = open_clip.ClipLoss()
    n_pairs = int(tokens.shape[0])
    batch = min(config.batch_size, n_pairs)
    order, cursor, losses = generator.permutation(n_pairs), 0, []
    with progress.task("clip: train", total=config.steps) as advance:
        for step in range(config.steps):
            if cursor + batch > len(order):
                order, cursor = generator.permutation(n_pairs), 0
            rows = torch.from_numpy(order[cursor : cursor + batch])
            cursor += batch
            image_features, text_features, logit_scale = model(pixels[rows], tokens[rows])[:3]
            loss = loss_fn(image_features, text_features, logit_scale)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            with torch.no_grad():  # as open_clip: the temperature stays below 100
                model.logit_scale.clamp_(0, math.log(100))
            if step % LOG_EVERY == 0 or step == config.steps - 1:
                losses.append([step, round(loss.item(), 4)])
            advance(1)
    model.eval()
    return losses


def train_clip(
    catalog: Catalog, config: ClipConfig, seed: int, out: Path, threads: int = 2
) -> dict[str, Any]:
    """Train (or fine-tune, from ``config.pretrained``) and save a checkpoint.

    Args:
        catalog: A catalog with images.
        config: Architecture and training budget.
        seed: The root seed (the ``clip`` stream seeds weights and batches).
        out: Folder for ``model.pt`` and ``train.json`` (both written atomically).
        threads: torch threads.

    Returns:
        The training summary that ``train.json`` holds.

    Raises:
        ValueError: If the catalog has no images, one is missing, or the starting
            checkpoint is of another architecture.
    """
    if not catalog.has_images:
        raise ValueError("the catalog has no 'image_path' column: there is nothing to train on")
    if len(catalog) < 2:
        raise ValueError("CLIP training needs at least 2 catalog items with images")
    set_threads(threads)
    clip = load_clip(config.model, config.pretrained, seed=int_seed(seed, "clip"))
    generator = rng(seed, "clip")
    pixels, texts = _training_pairs(catalog, config, clip.preprocess, generator)
    started = time.perf_counter()
    losses = _train_steps(clip.model, pixels, clip.tokenizer(texts), config, generator)
    seconds = time.perf_counter() - started
    summary = {
        "model": config.model,
        "pretrained": None if config.pretrained is None else str(config.pretrained),
        "steps": config.steps,
        "batch_size": min(config.batch_size, len(texts)),
        "n_pairs": len(texts),
        "text": config.text,
        "seed": seed,
        "seconds": round(seconds, 1),
        "steps_per_second": round(config.steps / max(seconds, 1e-9), 3),
        "losses": losses,
        "chance_loss": round(math.log(min(config.batch_size, len(texts))), 4),
    }
    summary["sha256"] = save_checkpoint(
        clip.model, config.model, out / "model.pt", {"steps": config.steps}
    )
    write_json(out / "train.json", summary)
    logger.info(
        "CLIP %s trained %d steps in %.0f s, loss %.3f",
        config.model,
        config.steps,
        seconds,
        losses[-1][1],
    )
    return summary
