"""Encoding throughput (items/s) of the retriever's text and image encoders on this machine.

Text: ``TextEncoder.encode_items`` (all-MiniLM-L6-v2 through our batching, progress and
cache bookkeeping, cache empty) beside the bare ``SentenceTransformer.encode`` of the same
texts (the peer: our overhead). Image: ``ImageEncoder.encode_items`` of PNG files on disk
(hash, decode, open_clip preprocessing, image tower) with the project's tiny open_clip
architecture, beside the image tower alone on the already-preprocessed tensors.
Inputs are a generated ShopWorld's catalog (titles + descriptions, 64 px images).

    python benchmarks/retrieval_encode.py            # ~1 min on 2 free cores
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from fusionrank.datasets import load_catalog
from fusionrank.datasets.shopworld.config import ShopWorldConfig
from fusionrank.datasets.shopworld.world import generate_world
from fusionrank.retrieval.clip import load_clip
from fusionrank.retrieval.config import TINY_CLIP
from fusionrank.retrieval.encoders import ImageEncoder, TextEncoder
from fusionrank.retrieval.images import decode_images, read_image_bytes
from fusionrank.retrieval.index import set_threads
from fusionrank.retrieval.store import item_texts


def timed(step) -> tuple[float, float]:
    """Wall and CPU seconds of one call (CPU time is steadier on a shared machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    step()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000, help="Catalog items encoded.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    set_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        world = Path(tmp) / "world"
        config = ShopWorldConfig(n_items=args.n, n_pages=1_000, image_size=64)
        generate_world(config, 0, world)
        catalog = load_catalog(world / "data" / "catalog.parquet")
        texts = item_texts(catalog, "title_description")
        paths = catalog.image_paths()

        text = TextEncoder("default", args.batch_size)
        text.model.encode(texts[:64])  # warm up
        ours = timed(lambda: text.encode_items(texts))
        bare = timed(
            lambda: text.model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True)
        )

        clip = load_clip(TINY_CLIP, None)
        image = ImageEncoder(clip, args.batch_size)
        image.encode_items(paths[:64])  # warm up
        files = timed(lambda: image.encode_items(paths))
        pixels = decode_images([read_image_bytes(p) for p in paths], paths, clip.preprocess)
        tower = timed(
            lambda: [
                clip.encode_pixels(pixels[s : s + args.batch_size])
                for s in range(0, len(paths), args.batch_size)
            ]
        )
    n = len(texts)
    print(f"{n:,} items, batch {args.batch_size}, {args.threads} threads")
    print(f"{'':<48}{'items/s':>9}{'items/CPU-s':>13}")
    for label, (wall, cpu) in [
        ("text  all-MiniLM-L6-v2 encode_items", ours),
        ("text  bare SentenceTransformer.encode (peer)", bare),
        (f"image {TINY_CLIP} encode_items from files", files),
        ("image tower alone on decoded tensors (peer)", tower),
    ]:
        print(f"{label:<48}{n / wall:>9.0f}{n / cpu:>13.0f}")


if __name__ == "__main__":
    main()
