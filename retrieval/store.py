"""Building a :class:`Retriever` from a catalog, and saving and loading it.

```
runs/<name>/retrieval/clip/model.pt      the trained open_clip checkpoint (clip train)
runs/<name>/retrieval/clip/train.json    its architecture, budget and loss curve
runs/<name>/retrieval/cache/             content-keyed item embeddings, one store per model
runs/<name>/retrieval/index/             written atomically by `index build`:
    manifest.json                        config, modalities, model identities
    text.faiss, text_vectors.npy         the text modality's index and stored vectors
    image.faiss, image_vectors.npy       the image modality's (when the catalog has images)
    lexical_vocabulary.json, lexical_counts.npz   BM25 term counts
    items.npz                            item ids and attributes; pca.npz: query PCA
```
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrank.io import atomic_dir, read_json, write_json
from fusionrank.retrieval.cache import EmbeddingCache
from fusionrank.retrieval.clip import ClipModel, load_clip
from fusionrank.retrieval.config import IndexConfig, RetrievalConfig
from fusionrank.retrieval.encoders import ImageEncoder, TextEncoder
from fusionrank.retrieval.features import ItemAttributes
from fusionrank.retrieval.index import (
    build_index,
    load_index,
    make_index,
    save_index,
    set_threads,
)
from fusionrank.retrieval.lexical import LexicalIndex
from fusionrank.retrieval.modality import DenseModality
from fusionrank.types import Catalog

if TYPE_CHECKING:
    from fusionrank.retrieval.retriever import Retriever

logger = logging.getLogger(__name__)

INDEX_DIR = "index"
CLIP_DIR = "clip"
CLIP_FILE = "model.pt"
MANIFEST = "manifest.json"
FORMAT = 1
BUILD_FIELDS = ("text_model", "item_text", "image", "clip")
"""Config fields fixed when the index is built; a later config cannot change them."""


def item_texts(catalog: Catalog, item_text: str) -> list[str]:
    """What the text and lexical modalities read: the title, or title and description."""
    titles = catalog.table["title"].astype(str)
    if item_text == "title_description" and "description" in catalog.table.columns:
        titles = titles + ". " + catalog.table["description"].fillna("").astype(str)
    return titles.tolist()


def trained_checkpoint(folder: Path | None, model: str) -> Path | None:
    """The run's own checkpoint (``clip train``) when it was trained for ``model``."""
    if folder is None:
        return None
    path = folder / CLIP_DIR / CLIP_FILE
    meta = folder / CLIP_DIR / "train.json"
    if path.is_file() and meta.is_file() and read_json(meta).get("model") == model:
        return path
    return None


def clip_checkpoint(config: RetrievalConfig, folder: Path | None) -> Path:
    """The CLIP checkpoint of the image modality: the run's trained one, else
    ``retrieval.clip.pretrained``.

    Raises:
        ValueError: If there is neither.
    """
    path = trained_checkpoint(folder, config.clip.model) or config.clip.pretrained
    if path is None:
        raise ValueError(
            "the image modality needs a CLIP checkpoint: run `fusionrank clip train` first, "
            "set retrieval.clip.pretrained=PATH to your own open_clip checkpoint, or turn "
            "images off with retrieval.image=false"
        )
    return Path(path)


def fit_pca(vectors: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray] | None:
    """PCA of item text embeddings: ``(mean (d,), components (D, d))``, or None."""
    from sklearn.decomposition import PCA

    n_components = min(dim, vectors.shape[0], vectors.shape[1])
    if n_components < 1:
        return None
    pca = PCA(n_components=n_components, random_state=0).fit(vectors)
    return pca.mean_.astype(np.float32), pca.components_.astype(np.float32)


def build(
    cls: type[Retriever],
    catalog: Catalog,
    config: RetrievalConfig,
    folder: Path | None,
    clip: ClipModel | None = None,
) -> Retriever:
    """Encode a catalog's texts (and images) and index every modality.

    Args:
        cls: The Retriever class.
        catalog: The catalog.
        config: The retrieval config.
        folder: The run's retrieval folder (embedding cache, trained CLIP); None for
            neither.
        clip: An open_clip model to use instead of the configured checkpoint (e.g. a
            random-weights baseline).

    Raises:
        ValueError: For a bad index string, a missing image, or no CLIP checkpoint.
    """
    set_threads(config.threads)
    texts = item_texts(catalog, config.item_text)
    cache = EmbeddingCache(None if folder is None else folder / "cache")
    text_encoder = TextEncoder(config.text_model, config.encode_batch_size, cache)
    make_index(text_encoder.dim, config.text_index, "retrieval.text_index")  # fail early
    text_vectors = text_encoder.encode_items(texts, "retrieval: encode item texts")
    text_index = build_index(text_vectors, config.text_index, "retrieval.text_index")
    modalities: list[DenseModality | LexicalIndex] = [
        DenseModality("text", text_vectors, text_index, text_encoder.encode_queries)
    ]
    clip_record: dict[str, Any] | None = None
    if config.image and catalog.has_images:
        image, clip_record = _image_modality(catalog, config, folder, cache, clip)
        modalities.append(image)
    lexical = LexicalIndex.build(texts, config.lexical.k1, config.lexical.b)
    if config.lexical.enabled:
        modalities.append(lexical)
    manifest = {
        "format": FORMAT,
        "config": config.model_dump(mode="json"),
        "modalities": [m.name for m in modalities],
        "n_items": len(catalog),
        "catalog_root": str(catalog.root),
        "text_model": {"path": str(text_encoder.path), "identity": text_encoder.identity},
        "clip": clip_record,
    }
    logger.info("retriever built: %d items, modalities %s", len(catalog), manifest["modalities"])
    return cls(
        modalities=modalities,
        lexical=lexical,
        items=ItemAttributes.from_table(catalog.table),
        item_ids=catalog.item_ids,
        config=config,
        pca=fit_pca(text_vectors, config.query_pca_dim),
        manifest=manifest,
    )


def _image_modality(
    catalog: Catalog,
    config: RetrievalConfig,
    folder: Path | None,
    cache: EmbeddingCache,
    clip: ClipModel | None,
) -> tuple[DenseModality, dict[str, Any]]:
    """The image modality (the catalog's images through CLIP, indexed) and its record."""
    checkpoint: Path | None = None
    if clip is None:
        checkpoint = clip_checkpoint(config, folder)
        clip = load_clip(config.clip.model, checkpoint)
    make_index(clip.dim, config.image_index, "retrieval.image_index")  # fail early
    image_encoder = ImageEncoder(clip, config.encode_batch_size, cache)
    image_vectors = image_encoder.encode_items(
        catalog.image_paths(), "retrieval: encode item images"
    )
    image_index = build_index(image_vectors, config.image_index, "retrieval.image_index")
    modality = DenseModality("image", image_vectors, image_index, image_encoder.encode_queries)
    return modality, _clip_record(clip, checkpoint)


def _clip_record(clip: ClipModel, checkpoint: Path | None) -> dict[str, Any]:
    seed = None
    if checkpoint is None and ":random-" in clip.identity:
        seed = int(clip.identity.rsplit("-", 1)[1])
    return {
        "model": clip.name,
        "checkpoint": None if checkpoint is None else str(checkpoint.resolve()),
        "identity": clip.identity,
        "random_seed": seed,
    }


def save(retriever: Retriever, folder: Path) -> Path:
    """Write the retriever to ``folder/index``, replacing an old one only when complete."""
    target = folder / INDEX_DIR
    with atomic_dir(target) as tmp:
        for modality in retriever.dense.values():
            save_index(modality.index, tmp / f"{modality.name}.faiss")
            np.save(tmp / f"{modality.name}_vectors.npy", modality.vectors)
        retriever.lexical.save(tmp)
        np.savez(
            tmp / "items.npz",
            item_ids=retriever.item_ids.astype(str),
            log_price=retriever.items.log_price,
            price_z=retriever.items.price_z,
        )
        if retriever.pca is not None:
            np.savez(tmp / "pca.npz", mean=retriever.pca[0], components=retriever.pca[1])
        write_json(tmp / MANIFEST, retriever.manifest)
    logger.info("retriever saved to %s", target)
    return target


def index_folder(folder: Path) -> Path:
    """The folder holding ``manifest.json``: ``folder/index`` or ``folder`` itself."""
    for candidate in (folder / INDEX_DIR, folder):
        if (candidate / MANIFEST).is_file():
            return candidate
    raise ValueError(f"{folder} holds no retriever index; run `fusionrank index build`")


def effective_config(saved: RetrievalConfig, config: RetrievalConfig | None) -> RetrievalConfig:
    """``config``'s search-time fields on top of the build-time fields of ``saved``."""
    if config is None:
        return saved
    update: dict[str, Any] = {name: getattr(saved, name) for name in BUILD_FIELDS}
    for name in ("text_index", "image_index"):
        wanted: IndexConfig = getattr(config, name)
        update[name] = wanted.model_copy(update={"factory": getattr(saved, name).factory})
    return config.model_copy(update=update)


def load(cls: type[Retriever], folder: Path, config: RetrievalConfig | None) -> Retriever:
    """Load a saved retriever.

    Args:
        cls: The Retriever class.
        folder: A run's ``retrieval`` folder, or its ``index`` folder.
        config: Search-time settings (k, fusion, weights, nprobe, efSearch) to use
            instead of the saved ones; the build-time ones always come from the index.

    Raises:
        ValueError: If there is no index, or the text model or CLIP checkpoint changed
            since it was built.
    """
    where = index_folder(folder)
    manifest = read_json(where / MANIFEST)
    cfg = effective_config(RetrievalConfig.model_validate(manifest["config"]), config)
    set_threads(cfg.threads)
    modalities: list[DenseModality | LexicalIndex] = []
    for name in manifest["modalities"]:
        if name == "text":
            encoder = TextEncoder(manifest["text_model"]["path"], cfg.encode_batch_size)
            _same_identity("text model", encoder.identity, manifest["text_model"]["identity"])
            modalities.append(_dense(where, "text", cfg.text_index, encoder.encode_queries))
        elif name == "image":
            record = manifest["clip"]
            checkpoint = _moved_checkpoint(record["checkpoint"], where.parent)
            clip = load_clip(record["model"], checkpoint, record["random_seed"] or 0)
            _same_identity("CLIP checkpoint", clip.identity, record["identity"])
            image_encoder = ImageEncoder(clip, cfg.encode_batch_size)
            modalities.append(_dense(where, "image", cfg.image_index, image_encoder.encode_queries))
    lexical = LexicalIndex.load(where, cfg.lexical.k1, cfg.lexical.b)
    if "lexical" in manifest["modalities"]:
        modalities.append(lexical)
    with np.load(where / "items.npz") as items:
        attributes = ItemAttributes(log_price=items["log_price"], price_z=items["price_z"])
        item_ids = items["item_ids"].astype(object)
    pca = None
    if (where / "pca.npz").is_file():
        with np.load(where / "pca.npz") as saved:
            pca = (saved["mean"], saved["components"])
        pca = None if cfg.query_pca_dim == 0 else (pca[0], pca[1][: cfg.query_pca_dim])
    return cls(modalities, lexical, attributes, item_ids, cfg, pca, manifest)


def _moved_checkpoint(recorded: str | None, folder: Path) -> Path | None:
    """The recorded CLIP checkpoint, or the run's own ``clip/model.pt`` when the run folder
    was moved or copied (the identity check that follows proves it is the same file)."""
    if recorded is None or Path(recorded).is_file():
        return None if recorded is None else Path(recorded)
    own = folder / CLIP_DIR / CLIP_FILE
    return own if own.is_file() else Path(recorded)


def _dense(where: Path, name: str, config: IndexConfig, encode: Any) -> DenseModality:
    vectors = np.load(where / f"{name}_vectors.npy")
    return DenseModality(name, vectors, load_index(where / f"{name}.faiss", config), encode)


def _same_identity(what: str, now: str, saved: str) -> None:
    if now != saved:
        raise ValueError(
            f"the {what} changed since the index was built ({saved[:60]} -> {now[:60]}); "
            "rebuild the index with `fusionrank index build`"
        )
