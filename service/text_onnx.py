"""The query text encoder through ONNX Runtime: the retriever's sentence-transformers
model exported with ``torch.onnx`` (and optionally int8 dynamic quantisation).

The exported graph is the whole encoder, pooling and normalisation included::

    input_ids, attention_mask, token_type_ids   int64 (B, S)
    embedding                                   float32 (B, dim), L2-normalised

    embedding = normalize(sum_s h[b, s] * mask[b, s] / max(sum_s mask[b, s], 1e-9))

with ``h`` the transformer's last hidden state, as sentence-transformers' ``Transformer
-> Pooling(mean) -> Normalize`` computes it. Texts are tokenised with the model's own
``tokenizer.json`` (truncated to the model's ``max_seq_length``, padded to the longest).
An export is checked against the torch encoder on probe texts before it serves, and
cached as ``<exports>/text-<model digest>[-int8].onnx``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrank.io import atomic_path

if TYPE_CHECKING:
    import onnxruntime

logger = logging.getLogger(__name__)

EXPORT_VERSION = 1  # part of the cache name: bump when the exported graph changes
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PROBE_TEXTS = (
    "red cotton shirt",
    "Blue striped DRESS, size 12!",
    "leather bag",
    "wool",
    "a warm green sweater with a round neck and long sleeves for the winter",
    "écharpe en soie rouge",
    " ".join(["very long query"] * 120),  # past max_seq_length: truncation must agree
)
FP32_ATOL = 1e-4
INT8_MIN_COSINE = 0.9


def export_name(identity: str, quantized: bool) -> str:
    """The cache file name of a text model's export (``identity``: the retriever's
    ``text_model.identity``)."""
    digest = hashlib.sha256(f"{identity}:{EXPORT_VERSION}".encode()).hexdigest()[:12]
    return f"text-{digest}{'-int8' if quantized else ''}.onnx"


def export_text_model(model_dir: Path) -> bytes:
    """The sentence-transformers model in ``model_dir`` as an ONNX model (bytes).

    Raises:
        ValueError: If the model is not ``Transformer -> Pooling(mean) -> Normalize``.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    parts: list[Any] = list(model)
    kinds = [type(m).__name__ for m in parts]
    pooling = parts[1].get_config_dict().get("pooling_mode") if len(parts) > 1 else None
    if kinds != ["Transformer", "Pooling", "Normalize"] or pooling not in ("mean", None):
        raise ValueError(
            f"text model {model_dir} is {kinds} (pooling {pooling!r}); the ONNX export "
            "handles Transformer -> Pooling(mean) -> Normalize: set service.text_encoder=torch"
        )
    module = _pooled(parts[0].auto_model).eval()
    sample = _tokenizer(model_dir, _max_length(model_dir))(["red cotton shirt", "bag"])
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS} | {"embedding": {0: "batch"}}
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # tracing warnings; the check against torch guards
        torch.onnx.export(
            module,
            tuple(torch.from_numpy(sample[name]) for name in INPUTS),
            buffer,  # type: ignore[arg-type]
            dynamo=False,
            input_names=list(INPUTS),
            output_names=["embedding"],
            dynamic_axes=axes,
            opset_version=17,
        )
    return buffer.getvalue()


def quantize_int8(model: bytes) -> bytes:
    """int8 dynamic quantisation of the export's MatMul weights (onnxruntime)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        source.write_bytes(model)
        quantize_dynamic(
            source,
            target,
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
        )
        return target.read_bytes()


class OnnxTextEncoder:
    """Texts -> float32 (n, dim) L2-normalised vectors with an exported text model.

    Args:
        session: An onnxruntime session of :func:`export_text_model`'s graph.
        tokenizer: Texts -> ``{input name: int64 (B, S)}``.
        quantized: Whether the graph is the int8 one.
    """

    def __init__(self, session: onnxruntime.InferenceSession, tokenizer: Any, quantized: bool):
        self.session = session
        self.tokenizer = tokenizer
        self.quantized = quantized

    def __call__(self, texts: list[str]) -> np.ndarray:
        """float32 (len(texts), dim)."""
        feed = self.tokenizer(list(texts))
        return np.asarray(self.session.run(None, feed)[0], dtype=np.float32)


def load_text_encoder(
    model_dir: Path, identity: str, exports: Path | None, quantized: bool, threads: int
) -> OnnxTextEncoder:
    """The ONNX encoder of a text model, from the cache in ``exports`` or exported now
    (and cached there when ``exports`` is given and writable)."""
    from fusionrank.service.export import onnx_session

    cache = None if exports is None else exports / export_name(identity, quantized)
    model = cache.read_bytes() if cache is not None and cache.is_file() else None
    if model is None:
        model = export_text_model(model_dir)
        model = quantize_int8(model) if quantized else model
        if cache is not None:
            try:
                with atomic_path(cache) as tmp:
                    tmp.write_bytes(model)
            except OSError as error:  # a read-only run folder still serves
                logger.warning("could not cache the text export at %s: %s", cache, error)
    return OnnxTextEncoder(
        onnx_session(model, threads), _tokenizer(model_dir, _max_length(model_dir)), quantized
    )


def check_text_encoder(encoder: OnnxTextEncoder, reference: Any) -> float:
    """Compare with the torch encoder on :data:`PROBE_TEXTS`; return the smallest cosine.

    Raises:
        ValueError: If an fp32 vector differs by more than 1e-4 or an int8 one has a
            cosine under 0.9 with the torch one.
    """
    texts = list(PROBE_TEXTS)
    got = encoder(texts)
    want = np.asarray(reference(texts), dtype=np.float32)
    cosine = float((got * want).sum(axis=1).min())
    worst = float(np.abs(got - want).max())
    if (not encoder.quantized and worst > FP32_ATOL) or cosine < INT8_MIN_COSINE:
        raise ValueError(
            f"the ONNX text encoder differs from the torch one (max |diff| {worst:.3g}, "
            f"min cosine {cosine:.4f}); set service.text_encoder=torch"
        )
    logger.info("ONNX text encoder: max |diff| %.2g, min cosine %.5f", worst, cosine)
    return cosine


def _pooled(transformer: Any) -> Any:
    """Transformer + masked mean pooling + L2 normalisation as one torch module."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return Pooled()


def _max_length(model_dir: Path) -> int:
    config = model_dir / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return 256


def _tokenizer(model_dir: Path, max_length: int) -> Any:
    """texts -> ``{input name: int64 (B, S)}``, as sentence-transformers tokenises."""
    from tokenizers import Tokenizer

    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise ValueError(f"{path} does not exist; set service.text_encoder=torch")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=max_length)
    padding = tokenizer.padding or {}
    tokenizer.no_padding()
    tokenizer.enable_padding(
        pad_id=int(padding.get("pad_id", 0)), pad_token=str(padding.get("pad_token", "[PAD]"))
    )

    def tokenize(texts: list[str]) -> dict[str, np.ndarray]:
        encodings = tokenizer.encode_batch(texts)
        return {
            "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64),
        }

    return tokenize
