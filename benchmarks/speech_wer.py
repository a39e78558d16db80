"""Spoken queries on a ShopWorld run: word error rate and recall@10 against typed queries.

Samples ``--n-queries`` of the world's queries (seeded), speaks each with a seeded eSpeak
NG voice (:mod:`fusionrank.datasets.shopworld.speech`, default config) and decodes it with
pocketsphinx and, in the same run:

* the **catalog LM**: an interpolated Kneser-Ney trigram of the catalog's titles and
  descriptions and the logged query texts, over a dictionary of the shop's words;
* the **catalog-only LM**: the same without the logged queries (no query seen before);
* the **generic LM**: the ``pocketsphinx`` wheel's en-us model with all of CMUdict (the
  baseline; slow, so on ``--n-generic`` of the queries).

WER = (substitutions + deletions + insertions) / reference words, pooled over utterances.
The catalog LM is also run over an SNR sweep. Recall@10 (against the hidden graded
relevance, capped as :mod:`fusionrank.retrieval.metrics` defines it) of each transcript
through the run's retriever, default fusion weights, beside the typed query's recall on
the same queries; an empty transcript scores 0. Needs a run with an index:

    fusionrank world generate --name NAME && fusionrank clip train --name NAME \\
        && fusionrank index build --name NAME
    OMP_NUM_THREADS=1 python benchmarks/speech_wer.py --run runs/NAME

Measured on the default ShopWorld (seed 0), 200 queries, the default speech config (five
accents, 15 +/- 5 dB pink noise), a loaded 2-core machine: catalog LM WER 0.277 (61 %
exact), spoken recall@10 0.359 against typed 0.521 (0.69 of it); catalog-only LM WER
0.500 (0.46 of typed); generic LM (60 queries) WER 1.096 (0.01 of typed). Catalog LM over
SNR 5 / 10 / 20 / 30 dB / clean: WER 0.672 / 0.359 / 0.211 / 0.216 / 0.463 (clean
synthetic speech, with no noise floor at all, is harder for the en-us acoustic model).
Decoding 0.11 CPU s per utterance (catalog LM), 0.56 (generic).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fusionrank.datasets.shopworld.speech import SpeechConfig, Utterance, spoken_queries
from fusionrank.datasets.shopworld.truth import HiddenTruth
from fusionrank.evaluation.retrieval import Judge
from fusionrank.retrieval.metrics import retrieval_metrics
from fusionrank.retrieval.retriever import Retriever
from fusionrank.retrieval.speech import (
    PocketsphinxRecognizer,
    RecognizerConfig,
    SpeechRecognizer,
    Transcript,
    corpus_sentences,
    word_errors,
)
from fusionrank.runs import RunFolder
from fusionrank.types import Query


def recall_at_10(
    retriever: Retriever, judge: Judge, rows: np.ndarray, texts: list[str]
) -> np.ndarray:
    """Per-query recall@10 of ``texts`` standing for queries ``rows``; 0 for empty text."""
    out = np.zeros(len(rows))
    keep = [i for i, t in enumerate(texts) if t.strip()]
    if not keep:
        return out
    batch = retriever.search([Query(str(i), texts[i]) for i in keep], k=10)
    grades = judge.truth.relevance(rows[keep], batch.item_index)
    metrics = retrieval_metrics(
        grades, judge.ideal[rows[keep]], judge.n_relevant[rows[keep]], (10,)
    )
    out[keep] = np.nan_to_num(metrics["recall@10"])
    return out


def decode(
    recognizer: SpeechRecognizer, utterances: list[Utterance]
) -> tuple[list[Transcript], float]:
    started = time.process_time()
    transcripts = [recognizer.recognize(u.samples, u.sample_rate) for u in utterances]
    return transcripts, (time.process_time() - started) / max(len(utterances), 1)


def wer(utterances: list[Utterance], transcripts: list[Transcript]) -> tuple[float, np.ndarray]:
    counts = np.array(
        [word_errors(u.text, t.text) for u, t in zip(utterances, transcripts, strict=True)]
    )
    return float(counts[:, 0].sum() / counts[:, 1].sum()), counts


def confidence_auc(confidence: np.ndarray, correct: np.ndarray) -> float:
    """P(a correct transcript's confidence > a wrong one's), ties count half."""
    good, bad = confidence[correct], confidence[~correct]
    if not good.size or not bad.size:
        return float("nan")
    diff = good[:, None] - bad[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def wait_for_index(run: Path, minutes: float) -> Retriever:
    """The run's retriever, polling for its index for up to ``minutes`` (decoding may
    start while ``fusionrank index build`` still runs)."""
    manifest = RunFolder(run).retrieval.index / "manifest.json"
    deadline = time.monotonic() + 60 * minutes
    while not manifest.is_file() and time.monotonic() < deadline:
        time.sleep(20)
    return Retriever.load(RunFolder(run).retrieval.path)


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="run folder (runs/NAME)")
    parser.add_argument("--n-queries", type=int, default=200)
    parser.add_argument("--n-generic", type=int, default=60)
    parser.add_argument(
        "--snr", type=float, nargs="*", default=[5.0, 10.0, 20.0, 30.0, float("inf")]
    )
    parser.add_argument("--accents", nargs="*", help="eSpeak accents (default: the config's)")
    parser.add_argument("--accent-weights", type=float, nargs="*", help="their shares")
    parser.add_argument("--skip-catalog-only", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--wait-index", type=float, default=0.0, help="minutes to wait")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args()


def speech_config(args: argparse.Namespace) -> SpeechConfig:
    """The default speech config with the command line's accents and their shares."""
    config = SpeechConfig()
    if args.accents:
        config = replace(config, accents=tuple(args.accents))
    if args.accent_weights:
        config = replace(config, accent_weights=tuple(args.accent_weights))
    return config


def build_recognizers(
    catalog: pd.DataFrame,
    logs: pd.DataFrame,
    args: argparse.Namespace,
    n_rows: int,
    out: dict[str, Any],
) -> dict[str, tuple[PocketsphinxRecognizer, int]]:
    """Each recogniser by name with the number of queries it decodes; the catalog LM's
    build time goes into ``out``."""
    item_texts = catalog["title"].tolist() + catalog["description"].tolist()
    logged = logs["query_text"].drop_duplicates().tolist()
    build = time.perf_counter()
    rec_config = RecognizerConfig()
    catalog_lm = PocketsphinxRecognizer.from_sentences(
        corpus_sentences(item_texts, logged, rec_config.query_repeats), rec_config
    )
    out["catalog_lm_build_s"] = time.perf_counter() - build
    recognizers = {"catalog LM": (catalog_lm, n_rows)}
    if not args.skip_catalog_only:
        only = PocketsphinxRecognizer.from_sentences(corpus_sentences(item_texts, []), rec_config)
        recognizers["catalog-only LM"] = (only, n_rows)
    if args.n_generic > 0:
        generic = PocketsphinxRecognizer.generic(rec_config)
        recognizers["generic LM"] = (generic, min(args.n_generic, n_rows))
    return recognizers


def decode_all(
    recognizers: dict[str, tuple[PocketsphinxRecognizer, int]], utterances: list[Utterance]
) -> dict[str, tuple[list[Transcript], float, int]]:
    """Each recogniser's transcripts of its first queries, CPU s per utterance and count;
    each one's WER printed."""
    decoded = {}
    for name, (recognizer, n) in recognizers.items():
        decoded[name] = (*decode(recognizer, utterances[:n]), n)
        print(f"decoded {name}: {wer(utterances[:n], decoded[name][0])[0]:.3f} WER", flush=True)
    return decoded


def decode_sweep(
    texts: list[str],
    config: SpeechConfig,
    seed: int,
    snrs: list[float],
    recognizer: SpeechRecognizer,
) -> dict[float, tuple[list[Utterance], list[Transcript]]]:
    """The queries spoken at each SNR (no jitter) and their transcripts."""
    swept = {}
    for snr in snrs:
        noisy = spoken_queries(texts, replace(config, snr_jitter_db=0.0), seed, snr_db=snr)
        swept[snr] = (noisy, decode(recognizer, noisy)[0])
    return swept


def judged_sweep(
    swept: dict[float, tuple[list[Utterance], list[Transcript]]],
    typed: np.ndarray,
    rows: np.ndarray,
    retriever: Retriever,
    judge: Judge,
) -> dict[str, dict[str, float]]:
    """WER and recall@10 (and its ratio to typed) at each SNR of the sweep; printed."""
    sweep = {}
    for snr, (noisy, transcripts) in swept.items():
        rate, _ = wer(noisy, transcripts)
        spoken = recall_at_10(retriever, judge, rows, [t.text for t in transcripts])
        ratio = float(spoken.mean() / max(typed.mean(), 1e-12))
        sweep[str(snr)] = {"wer": rate, "spoken_recall@10": float(spoken.mean()), "ratio": ratio}
        print(
            f"catalog LM at SNR {snr:>5} dB: WER {rate:.3f}  recall@10 {spoken.mean():.3f} "
            f"({ratio:.2f} of typed)",
            flush=True,
        )
    return sweep


def main() -> None:
    args = parse_args()

    import torch

    torch.set_num_threads(1)
    world = RunFolder(args.run).world
    truth = HiddenTruth.load(world.truth)
    catalog = pd.read_parquet(world.catalog)
    logs = pd.read_parquet(world.logs, columns=["query_text"])
    rng = np.random.default_rng(args.seed)
    rows = np.sort(
        rng.choice(truth.n_queries, size=min(args.n_queries, truth.n_queries), replace=False)
    )
    texts = [str(t) for t in truth.query_texts[rows]]
    config = speech_config(args)
    out: dict[str, Any] = {"n_queries": len(rows), "speech_config": repr(config)}

    started = time.perf_counter()
    utterances = spoken_queries(texts, config, args.seed)
    out["synthesis_wall_s_per_utterance"] = (time.perf_counter() - started) / len(rows)
    out["mean_seconds_of_audio"] = float(np.mean([u.seconds for u in utterances]))

    recognizers = build_recognizers(catalog, logs, args, len(rows), out)
    decoded = decode_all(recognizers, utterances)
    swept = decode_sweep(texts, config, args.seed, args.snr, recognizers["catalog LM"][0])

    retriever = wait_for_index(args.run, args.wait_index)
    judge = Judge(truth, retriever.n_items, 10)
    typed = recall_at_10(retriever, judge, rows, texts)
    out["typed_recall@10"] = float(typed.mean())
    out["default_snr"] = {
        name: judged(name, utterances[:n], transcripts, cpu, typed[:n], rows[:n], retriever, judge)
        for name, (transcripts, cpu, n) in decoded.items()
    }
    print("catalog LM WER by accent:", by_accent(utterances, decoded["catalog LM"][0]))
    out["wer_by_accent_catalog_lm"] = by_accent(utterances, decoded["catalog LM"][0])
    out["snr_sweep_catalog_lm"] = judged_sweep(swept, typed, rows, retriever, judge)
    print(
        f"synthesis {out['synthesis_wall_s_per_utterance']:.3f} wall s/utterance, "
        f"{out['mean_seconds_of_audio']:.2f} s of audio on average; "
        f"LM build {out['catalog_lm_build_s']:.1f} s"
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


def judged(
    name: str,
    utterances: list[Utterance],
    transcripts: list[Transcript],
    cpu: float,
    typed: np.ndarray,
    rows: np.ndarray,
    retriever: Retriever,
    judge: Judge,
) -> dict[str, Any]:
    """WER, exact-transcript share, recall@10 against typed, confidence AUC; printed."""
    rate, counts = wer(utterances, transcripts)
    spoken = recall_at_10(retriever, judge, rows, [t.text for t in transcripts])
    confidence = np.array([t.confidence for t in transcripts])
    figures = {
        "n": len(utterances),
        "wer": rate,
        "exact": float((counts[:, 0] == 0).mean()),
        "spoken_recall@10": float(spoken.mean()),
        "typed_recall@10_same_queries": float(typed.mean()),
        "recall_ratio": float(spoken.mean() / max(typed.mean(), 1e-12)),
        "confidence_auc_exact": confidence_auc(confidence, counts[:, 0] == 0),
        "cpu_s_per_utterance": cpu,
    }
    print(
        f"{name:16s} n={len(utterances):4d} WER {rate:.3f}  exact {figures['exact']:.3f}  "
        f"recall@10 spoken {spoken.mean():.3f} / typed {typed.mean():.3f} "
        f"= {figures['recall_ratio']:.2f}  conf AUC {figures['confidence_auc_exact']:.2f}  "
        f"{cpu:.2f} CPU s/utt",
        flush=True,
    )
    return figures


def by_accent(utterances: list[Utterance], transcripts: list[Transcript]) -> dict[str, float]:
    totals: dict[str, list[int]] = {}
    for u, t in zip(utterances, transcripts, strict=True):
        errors, n = word_errors(u.text, t.text)
        entry = totals.setdefault(u.voice.name.split("+")[0], [0, 0])
        entry[0], entry[1] = entry[0] + errors, entry[1] + n
    return {a: round(e / max(m, 1), 3) for a, (e, m) in sorted(totals.items())}


if __name__ == "__main__":
    main()
