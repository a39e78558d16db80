"""Export a policy's scoring network to ONNX and run it with onnxruntime.

The exported graph has the scorer contract's inputs and output, with dynamic batch and
candidate axes::

    features        float32 (B, K, F)
    mask            bool    (B, K)
    query_features  float32 (B, Dq)   (Dq >= 1; a policy without query features gets zeros)
    scores          float32 (B, K)    (-inf at masked slots)

An export is checked before it is used: the ONNX model and the training module score
random inputs of a *different* B and K than the traced ones, and must agree to
``atol + rtol * |score|``; a graph that baked a shape in (e.g. some attention layers in
the TorchScript-based exporter) fails here rather than at serving time.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fusionrank.io import atomic_path

if TYPE_CHECKING:
    import onnxruntime
    import torch

    from fusionrank.agents.policy import Policy

logger = logging.getLogger(__name__)

INPUT_NAMES = ("features", "mask", "query_features")
OUTPUT_NAME = "scores"
OPSET = 17
ATOL = 1e-5
RTOL = 1e-5


@dataclass(frozen=True)
class ExportCheck:
    """How closely the exported model reproduced the training module.

    Args:
        max_abs_diff: Largest ``|onnx - torch|`` over unmasked slots.
        shapes: The (B, K) shapes checked.
    """

    max_abs_diff: float
    shapes: tuple[tuple[int, int], ...]


def query_dim(policy: Policy) -> int:
    """Dq of the exported graph's ``query_features`` input (at least 1)."""
    return max(policy.query_feature_dim, 1)


def sample_inputs(
    policy: Policy, batch: int, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random scorer inputs: features float32 (B, K, F), mask bool (B, K) with at least
    one real slot per row, query features float32 (B, Dq)."""
    features = rng.normal(size=(batch, k, len(policy.feature_names))).astype(np.float32)
    mask = rng.random((batch, k)) < 0.8
    mask[:, 0] = True
    qf = rng.normal(size=(batch, query_dim(policy))).astype(np.float32)
    return features, mask, qf


def export_onnx(policy: Policy, seed: int = 0) -> bytes:
    """The policy's scorer as an ONNX model (bytes), with dynamic B and K axes.

    Raises:
        ValueError: If the policy has no scoring network (a non-neural policy is served
            through its own ``scores``).
    """
    import torch

    module = policy.scorer()
    if module is None:
        raise ValueError(
            f"policy {policy.name!r} ({policy.kind}) has no scoring network to export; "
            "it is served through its own scores (engine=torch)"
        )
    module = module.eval()
    example = tuple(
        torch.from_numpy(a) for a in sample_inputs(policy, 2, 5, np.random.default_rng(seed))
    )
    axes = {
        "features": {0: "batch", 1: "k"},
        "mask": {0: "batch", 1: "k"},
        "query_features": {0: "batch"},
        OUTPUT_NAME: {0: "batch", 1: "k"},
    }
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode():
        # The TorchScript-based exporter warns about tracing; the check below is the guard.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            example,
            buffer,  # type: ignore[arg-type]  # the TorchScript exporter takes a file object
            dynamo=False,
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes=axes,
            opset_version=OPSET,
        )
    return buffer.getvalue()


def onnx_session(model: bytes | Path, threads: int = 1) -> onnxruntime.InferenceSession:
    """An onnxruntime CPU session with ``threads`` intra-op threads, no inter-op pool."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


class OnnxScorer:
    """Scores with an exported scorer: the fast inference form of a neural policy.

    Args:
        session: From :func:`onnx_session`.
        query_dim: Dq of the graph's ``query_features`` input.
    """

    def __init__(self, session: onnxruntime.InferenceSession, query_dim: int) -> None:
        self.session = session
        self.query_dim = query_dim
        # A graph that ignores an input (e.g. query features of a policy without them)
        # drops it; feed only what it has.
        self.inputs = frozenset(i.name for i in session.get_inputs())

    def __call__(
        self, features: np.ndarray, mask: np.ndarray, query_features: np.ndarray | None
    ) -> np.ndarray:
        """Scores float32 (B, K) of features float32 (B, K, F), mask bool (B, K) and query
        features float32 (B, Dq) (None: zeros, for a policy that reads none)."""
        if query_features is None:
            query_features = np.zeros((features.shape[0], self.query_dim), dtype=np.float32)
        feed = {"features": features, "mask": mask, "query_features": query_features}
        return self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]


def check_export(
    policy: Policy, scorer: OnnxScorer, seed: int = 1, atol: float = ATOL, rtol: float = RTOL
) -> ExportCheck:
    """Compare the exported model with the training module on random inputs.

    Raises:
        ValueError: If a score differs by more than ``atol + rtol * |score|`` or the
            masked slots disagree.
    """
    import torch

    module = policy.scorer()
    assert module is not None, "check_export needs a neural policy"
    rng = np.random.default_rng(seed)
    shapes = ((1, 100), (3, 7), (4, 1))
    worst = 0.0
    for batch, k in shapes:
        features, mask, qf = sample_inputs(policy, batch, k, rng)
        exported = scorer(features, mask, qf)
        with torch.inference_mode():
            reference = module(*(torch.from_numpy(a) for a in (features, mask, qf))).numpy()
        _compare(exported, reference, mask, atol, rtol, (batch, k))
        worst = max(worst, float(np.abs(exported[mask] - reference[mask]).max()))
    return ExportCheck(max_abs_diff=worst, shapes=shapes)


def _compare(
    exported: np.ndarray,
    reference: np.ndarray,
    mask: np.ndarray,
    atol: float,
    rtol: float,
    shape: tuple[int, int],
) -> None:
    if exported.shape != reference.shape or np.any(np.isneginf(exported) != ~mask):
        raise ValueError(
            f"the exported scorer gives shape {exported.shape} or masking unlike the "
            f"training module at (B, K) = {shape}; serve this policy with engine=torch"
        )
    diff = np.abs(exported[mask] - reference[mask])
    if np.any(diff > atol + rtol * np.abs(reference[mask])):
        raise ValueError(
            f"the exported scorer differs from the training module by up to "
            f"{float(diff.max()):.3g} at (B, K) = {shape}; serve it with engine=torch"
        )


def load_or_export(
    policy: Policy, cache: Path | None, threads: int = 1
) -> tuple[OnnxScorer, ExportCheck]:
    """The checked ONNX scorer of a saved policy, from ``cache`` (a ``.onnx`` file named
    after the policy version) when it is there, else exported (and written there).

    Raises:
        ValueError: If the policy has no network or the export does not match it.
    """
    model: bytes | None = None
    if cache is not None and cache.is_file():
        model = cache.read_bytes()
    if model is None:
        model = export_onnx(policy)
    scorer = OnnxScorer(onnx_session(model, threads), query_dim(policy))
    check = check_export(policy, scorer)
    if cache is not None and not cache.is_file():
        try:
            with atomic_path(cache) as tmp:
                tmp.write_bytes(model)
        except OSError as error:  # a read-only run folder still serves
            logger.warning("could not cache the ONNX export at %s: %s", cache, error)
    logger.info(
        "policy %s (%s): ONNX export matches the training module (max |diff| %.2g)",
        policy.name,
        policy.version,
        check.max_abs_diff,
    )
    return scorer, check


def torch_scorer(policy: Policy, threads: int = 1) -> TorchScorer:
    """The training module run under ``torch.inference_mode`` (the fallback engine)."""
    module = policy.scorer()
    if module is None:
        raise ValueError(f"policy {policy.name!r} has no scoring network")
    return TorchScorer(module.eval(), query_dim(policy), threads)


class TorchScorer:
    """Scores with the training module (same call as :class:`OnnxScorer`).

    Args:
        module: The scorer, ``forward(features, mask, query_features) -> scores``.
        query_dim: Dq of its ``query_features`` input.
        threads: torch intra-op threads (process-wide; set once here).
    """

    def __init__(self, module: torch.nn.Module, query_dim: int, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.module = module
        self.query_dim = query_dim

    def __call__(
        self, features: np.ndarray, mask: np.ndarray, query_features: np.ndarray | None
    ) -> np.ndarray:
        """Scores float32 (B, K), as :meth:`OnnxScorer.__call__`."""
        import torch

        if query_features is None:
            query_features = np.zeros((features.shape[0], self.query_dim), dtype=np.float32)
        with torch.inference_mode():
            out = self.module(
                torch.from_numpy(features), torch.from_numpy(mask), torch.from_numpy(query_features)
            )
        return out.numpy()
