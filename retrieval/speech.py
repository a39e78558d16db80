"""Speech recognition as a retrieval component: spoken queries become transcripts.

A :class:`SpeechRecognizer` turns samples into a :class:`Transcript` (text, confidence,
n-best list). :class:`PocketsphinxRecognizer` decodes with pocketsphinx's en-us acoustic
model and either the shop's own language model (an interpolated Kneser-Ney n-gram model
of the catalog's texts and the logged queries, :mod:`.language_model`) over a dictionary
restricted to the shop's words (:mod:`.pronounce`), or the wheel's generic model. Audio
is checked, down-mixed and resampled in memory (:mod:`.audio`) and never written to disk.

Confidence is the posterior probability of the best path in pocketsphinx's word lattice
(``bestpath``); the n-best alternatives carry ``exp(score / ascale)`` normalised over the
distinct texts, the same acoustic scaling the lattice posterior uses.
"""

from __future__ import annotations

import logging
import math
import re
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from fusionrank.io import atomic_dir, read_json, write_json
from fusionrank.retrieval.audio import AudioLimits, prepare_audio
from fusionrank.retrieval.language_model import kneser_ney, tokenize
from fusionrank.retrieval.pronounce import build_lexicon

logger = logging.getLogger(__name__)

DECODER_RATE = 16_000
"""The en-us acoustic model's sample rate, Hz."""
LM_FILE, DICT_FILE, MANIFEST = "lm.arpa", "words.dict", "manifest.json"
_SENTENCE = re.compile(r"[.!?;:]|\s-\s")
_FILLER = re.compile(r"^(<.*>|\[.*\]|\+\+.*\+\+)$")
_MAX_NBEST_SCAN = 200


@dataclass(frozen=True)
class Alternative:
    """One n-best hypothesis: its text and its share of the n-best probability."""

    text: str
    probability: float


@dataclass(frozen=True)
class Transcript:
    """What a recogniser heard.

    Args:
        text: The best hypothesis (words separated by single spaces; may be empty when
            nothing was recognised).
        confidence: In [0, 1]: the best hypothesis' posterior probability.
        n_best: Distinct alternatives, best first; the first is ``text``.
    """

    text: str
    confidence: float
    n_best: tuple[Alternative, ...] = field(default=())

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"transcript confidence {self.confidence} must lie in [0, 1]")

    @classmethod
    def typed(cls, text: str) -> Transcript:
        """A transcript the user sent as text: certain, a single alternative."""
        words = " ".join(tokenize(text)) or text.strip()
        return cls(words, 1.0, (Alternative(words, 1.0),))


@runtime_checkable
class SpeechRecognizer(Protocol):
    """Anything that turns audio into a transcript."""

    def recognize(self, audio: np.ndarray, sample_rate: int) -> Transcript:
        """Recognise one utterance.

        Args:
            audio: int16 or float (in [-1, 1]) samples, shape (n,) or (n, channels).
            sample_rate: Hz.

        Raises:
            ValueError: For audio that is empty, not samples, too long or short, or at a
                rate that cannot be resampled.
        """
        ...


@dataclass(frozen=True)
class RecognizerConfig:
    """How the shop's recogniser is built and decodes.

    Args:
        order: n-gram order of the language model.
        query_repeats: How many times each logged query counts in the LM corpus (the
            catalog's sentences count once).
        n_best: Distinct alternatives kept per transcript.
        lm_weight: pocketsphinx's language weight ``lw``.
        limits: Accepted durations.
        letter_to_sound: Spell words CMUdict lacks with eSpeak NG.
        extra_pronunciations: ``(word, "ARPABET PHONES")`` pairs that take precedence.
        decoder_options: Further pocketsphinx ``Config`` settings, e.g.
            ``(("beam", 1e-40),)``.
    """

    order: int = 3
    query_repeats: int = 10
    n_best: int = 5
    lm_weight: float = 10.0
    limits: AudioLimits = field(default_factory=AudioLimits)
    letter_to_sound: bool = True
    extra_pronunciations: tuple[tuple[str, str], ...] = ()
    decoder_options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.n_best <= 100:
            raise ValueError(f"speech.n_best={self.n_best} must be between 1 and 100")
        if not 1 <= self.query_repeats <= 1000:
            raise ValueError(f"speech.query_repeats={self.query_repeats} must be in [1, 1000]")
        if not 0.5 <= self.lm_weight <= 30:
            raise ValueError(f"speech.lm_weight={self.lm_weight} must be in [0.5, 30]")


GRAMMAR_CONFIG = RecognizerConfig(lm_weight=6.5)


def corpus_sentences(
    catalog_texts: Iterable[str], query_texts: Iterable[str], query_repeats: int = 1
) -> list[list[str]]:
    """The language model's corpus: each catalog text split into sentences (at ``.``,
    ``!``, ``?``, ``;``, ``:`` and `` - ``), and each query text ``query_repeats`` times."""
    sentences = [
        words
        for text in catalog_texts
        for part in _SENTENCE.split(str(text))
        if (words := tokenize(part))
    ]
    for text in query_texts:
        words = tokenize(str(text))
        sentences.extend([words] * query_repeats if words else [])
    return sentences


def build_speech_model(
    sentences: Sequence[Sequence[str]], folder: str | Path, config: RecognizerConfig
) -> dict[str, Any]:
    """Write a language model and its dictionary to ``folder`` (replaced atomically).

    ``folder/lm.arpa``, ``folder/words.dict`` and ``folder/manifest.json`` (order,
    vocabulary size, words spelled by letter-to-sound, words without a pronunciation).

    Returns:
        The manifest.
    """
    lexicon = build_lexicon(
        {w for s in sentences for w in s},
        extra=dict(config.extra_pronunciations),
        letter_to_sound=config.letter_to_sound,
    )
    known = set(lexicon.pronunciations)
    kept = [list(s) for s in sentences if s and all(w in known for w in s)]
    if not kept:
        raise ValueError("no sentence of the speech corpus has only pronounceable words")
    model = kneser_ney(kept, config.order)
    manifest = {
        "order": config.order,
        "n_sentences": len(kept),
        "n_dropped_sentences": len(sentences) - len(kept),
        "n_words": len(known),
        "letter_to_sound": list(lexicon.guessed),
        "missing": list(lexicon.missing),
    }
    with atomic_dir(Path(folder)) as tmp:
        model.write_arpa(tmp / LM_FILE)
        lexicon.write(tmp / DICT_FILE)
        write_json(tmp / MANIFEST, manifest)
    return manifest


def _clean(hypstr: str) -> str:
    words = (re.sub(r"\(\d+\)$", "", w) for w in hypstr.split())
    return " ".join(w for w in words if not _FILLER.match(w))


class PocketsphinxRecognizer:
    """pocketsphinx 5 behind :class:`SpeechRecognizer`. Thread-safe (one lock).

    Build with :meth:`from_sentences`, :meth:`load` (a folder from
    :func:`build_speech_model`) or :meth:`generic`.

    Args:
        decoder: A configured ``pocketsphinx.Decoder``.
        config: n-best size and limits.
        name: What the recogniser is, for logs and features.
    """

    def __init__(self, decoder: Any, config: RecognizerConfig, name: str) -> None:
        self.decoder = decoder
        self.config = config
        self.name = name
        self._ascale = float(decoder.config["ascale"])
        self._lock = threading.Lock()

    @classmethod
    def from_files(
        cls, lm: Path | None, dictionary: Path, config: RecognizerConfig, name: str
    ) -> PocketsphinxRecognizer:
        """A decoder over an ARPA (or binary) LM and a dictionary; both are read now."""
        from pocketsphinx import Decoder, get_model_path

        for what, path in (("language model", lm), ("dictionary", dictionary)):
            if path is not None and not Path(path).is_file():
                raise ValueError(f"speech {what} {path} does not exist; build it first")
        options = {
            "hmm": get_model_path("en-us/en-us"),
            "lm": None if lm is None else str(lm),
            "dict": str(dictionary),
            "samprate": DECODER_RATE,
            "lw": config.lm_weight,
            "bestpath": True,
            # No state across utterances: the dither of prepare_audio (seeded per
            # utterance) instead of the decoder's (one random stream for all).
            "dither": False,
            "loglevel": "FATAL",
            **dict(config.decoder_options),
        }
        decoder = Decoder(**options)
        return cls(decoder, config, name)

    @classmethod
    def load(
        cls, folder: str | Path, config: RecognizerConfig = RecognizerConfig()
    ) -> PocketsphinxRecognizer:
        """The recogniser of a folder that :func:`build_speech_model` wrote."""
        folder = Path(folder)
        if not (folder / MANIFEST).is_file():
            raise ValueError(f"{folder} holds no speech model; build it with build_speech_model")
        manifest = read_json(folder / MANIFEST)
        return cls.from_files(
            folder / LM_FILE, folder / DICT_FILE, config, f"catalog-lm-{manifest['order']}gram"
        )

    @classmethod
    def from_sentences(
        cls, sentences: Sequence[Sequence[str]], config: RecognizerConfig = RecognizerConfig()
    ) -> PocketsphinxRecognizer:
        """Build the LM and dictionary in a temporary folder, load them, delete the folder."""
        with tempfile.TemporaryDirectory(prefix="fusionrank-speech-") as tmp:
            build_speech_model(sentences, Path(tmp) / "model", config)
            return cls.load(Path(tmp) / "model", config)

    @classmethod
    def generic(cls, config: RecognizerConfig = RecognizerConfig()) -> PocketsphinxRecognizer:
        """The wheel's generic en-us language model and full CMUdict (a baseline)."""
        from pocketsphinx import get_model_path

        return cls.from_files(
            Path(get_model_path("en-us/en-us.lm.bin")),
            Path(get_model_path("en-us/cmudict-en-us.dict")),
            config,
            "generic-lm",
        )

    @classmethod
    def from_grammar(
        cls,
        jsgf: str,
        pronunciations: Mapping[str, str] | Iterable[str],
        config: RecognizerConfig = GRAMMAR_CONFIG,
    ) -> PocketsphinxRecognizer:
        """A decoder restricted to a JSGF grammar over the given words (a word list takes
        CMUdict/eSpeak pronunciations; a mapping gives ARPAbet phones). The default
        config keeps pocketsphinx's own language weight, 6.5, which suits a grammar."""
        extra = dict(pronunciations) if isinstance(pronunciations, Mapping) else {}
        lexicon = build_lexicon(
            set(pronunciations), extra=extra, letter_to_sound=config.letter_to_sound
        )
        with tempfile.TemporaryDirectory(prefix="fusionrank-speech-") as tmp:
            recognizer = cls.from_files(
                None, lexicon.write(Path(tmp) / DICT_FILE), config, "grammar"
            )
        recognizer.decoder.add_jsgf_string("grammar", jsgf)
        recognizer.decoder.activate_search("grammar")
        return recognizer

    def recognize(self, audio: np.ndarray, sample_rate: int) -> Transcript:
        """Decode one utterance (see :class:`SpeechRecognizer`)."""
        samples = prepare_audio(audio, sample_rate, DECODER_RATE, self.config.limits)
        with self._lock:
            decoder = self.decoder
            decoder.reinit_feat()  # no feature state (cepstral mean) from the last utterance
            decoder.start_utt()
            decoder.process_raw(samples.tobytes(), full_utt=True)
            decoder.end_utt()
            hypothesis = decoder.hyp()
            nbest = islice(decoder.nbest() or (), _MAX_NBEST_SCAN)
            scored = [(h.hypstr, h.score) for h in nbest if h is not None]
        if hypothesis is None:
            return Transcript("", 0.0, ())
        text = _clean(hypothesis.hypstr)
        confidence = float(np.clip(hypothesis.prob, 0.0, 1.0))
        return Transcript(text, confidence, self._alternatives(text, scored))

    def _alternatives(self, best: str, scored: list[tuple[str, float]]) -> tuple[Alternative, ...]:
        """Distinct n-best texts with ``exp(ln score / ascale)`` shares; ``best`` first."""
        log_weight: dict[str, float] = {}
        for raw, score in scored:
            text = _clean(raw)
            value = math.log(score) / self._ascale if score > 0 else -math.inf
            if text not in log_weight or value > log_weight[text]:
                log_weight[text] = value
        log_weight.setdefault(best, max(log_weight.values(), default=0.0))
        ranked = sorted(log_weight.items(), key=lambda kv: (kv[0] != best, -kv[1]))
        ranked = ranked[: self.config.n_best]
        values = np.array([v for _, v in ranked])
        finite = np.isfinite(values)
        weights = np.zeros_like(values)
        if finite.any():
            weights[finite] = np.exp(values[finite] - values[finite].max())
        weights = (
            weights / weights.sum() if weights.sum() > 0 else np.full(len(values), 1 / len(values))
        )
        return tuple(Alternative(t, float(w)) for (t, _), w in zip(ranked, weights, strict=True))


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """Substitutions + deletions + insertions between two word strings (Levenshtein over
    :func:`tokenize` words), and the reference's word count. WER = sum(errors) / sum(n)."""
    ref, hyp = tokenize(reference), tokenize(hypothesis)
    row = np.arange(len(hyp) + 1)
    for i, word in enumerate(ref, start=1):
        previous, row = row, np.empty_like(row)
        row[0] = i
        for j, other in enumerate(hyp, start=1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (word != other))
    return int(row[-1]), len(ref)


SPEECH_FEATURE_NAMES: tuple[str, ...] = (
    "has_audio",
    "speech_confidence",
    "speech_top_share",
    "speech_nbest_agreement",
    "speech_log_words",
)
"""Query features of a spoken query (all 0 for a typed one)."""


def speech_features(transcripts: Sequence[Transcript | None]) -> np.ndarray:
    """Query features of B queries, float32 (B, len(SPEECH_FEATURE_NAMES)).

    For a spoken query (a :class:`Transcript`): 1, its confidence, the n-best share of the
    best text, the mean share of the other alternatives' words that the best text also
    has (1: the alternatives agree), and ``log1p`` of its word count. Zeros for ``None``
    (a typed query).
    """
    out = np.zeros((len(transcripts), len(SPEECH_FEATURE_NAMES)), dtype=np.float32)
    for row, transcript in enumerate(transcripts):
        if transcript is None:
            continue
        best = set(transcript.text.split())
        others = [set(a.text.split()) for a in transcript.n_best[1:]]
        agreement = (
            float(np.mean([len(o & best) / max(len(o | best), 1) for o in others]))
            if others
            else 1.0
        )
        share = transcript.n_best[0].probability if transcript.n_best else 1.0
        out[row] = (1.0, transcript.confidence, share, agreement, np.log1p(len(best)))
    return out
