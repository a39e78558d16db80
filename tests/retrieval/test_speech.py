"""Speech recognition as a retrieval component: pocketsphinx with a shop's own language
model (Kneser-Ney, ARPA) and dictionary, audio checks, and no audio on disk."""

from __future__ import annotations

import io
import logging
import math
import tempfile
import wave
from pathlib import Path

import numpy as np
import pytest

from fusionrank.datasets.shopworld.speech import SpeechConfig, speak
from fusionrank.retrieval.audio import (
    AudioLimits,
    MediaTooLarge,
    decode_audio,
    prepare_audio,
    resample_ratio,
)
from fusionrank.retrieval.language_model import BOS, discounts, kneser_ney, tokenize
from fusionrank.retrieval.pronounce import build_lexicon, espeak_to_arpabet
from fusionrank.retrieval.speech import (
    PocketsphinxRecognizer,
    RecognizerConfig,
    SpeechRecognizer,
    Transcript,
    build_speech_model,
    corpus_sentences,
    word_errors,
)

GRAMMAR = (
    "#JSGF V1.0; grammar shop; public <query> = <word>+; "
    "<word> = red | blue | green | black | striped | dotted | leather | shirt | dress | handbag;"
)
CORPUS = [
    "red striped shirt", "blue dotted dress", "black leather handbag", "green cotton dress",
    "red leather handbag", "blue striped shirt", "black dotted dress", "green striped shirt",
]  # fmt: skip
# One clear voice, a little noise (pristine synthetic speech is harder for the acoustic
# model than speech with a noise floor).
VOICE = SpeechConfig(
    accents=("en-us",), variants=("",), rates=(150, 150), pitches=(50, 50), snr_db=25.0,
    snr_jitter_db=0.0, pad_seconds=(0.2, 0.2),
)  # fmt: skip


def utterance(text: str, seed: int = 0):
    return speak(text, VOICE, np.random.default_rng(seed))


@pytest.fixture(scope="module")
def grammar_recognizer() -> PocketsphinxRecognizer:
    words = {w for line in GRAMMAR.split("=")[-1].split("|") for w in tokenize(line)}
    return PocketsphinxRecognizer.from_grammar(GRAMMAR, words)


@pytest.fixture(scope="module")
def lm_recognizer() -> PocketsphinxRecognizer:
    return PocketsphinxRecognizer.from_sentences([tokenize(s) for s in CORPUS])


def test_a_synthesised_utterance_is_recognised_with_a_tiny_grammar(grammar_recognizer) -> None:
    spoken = utterance("red striped shirt")
    transcript = grammar_recognizer.recognize(spoken.samples, spoken.sample_rate)
    assert transcript.text == "red striped shirt"
    assert 0.0 < transcript.confidence <= 1.0
    assert transcript.n_best[0].text == transcript.text
    assert math.isclose(sum(a.probability for a in transcript.n_best), 1.0, rel_tol=1e-6)


def test_a_synthesised_utterance_is_recognised_with_a_tiny_language_model(lm_recognizer) -> None:
    spoken = utterance("black leather handbag", seed=1)
    transcript = lm_recognizer.recognize(spoken.int16(), spoken.sample_rate)
    assert transcript.text == "black leather handbag"
    assert isinstance(lm_recognizer, SpeechRecognizer)


def test_other_sample_rates_are_resampled(grammar_recognizer) -> None:
    from scipy.signal import resample_poly

    spoken = utterance("red dotted handbag", seed=2)
    at_16k = resample_poly(spoken.samples.astype(np.float64), 320, 441)
    at_44k = resample_poly(at_16k, 11, 4)  # 16 kHz -> 44.1 kHz
    stereo = np.stack([at_44k, at_44k], axis=1).clip(-1, 1)
    assert grammar_recognizer.recognize(stereo, 44_100).text == "red dotted handbag"
    samples = prepare_audio(at_16k.clip(-1, 1), 16_000, 16_000, AudioLimits())
    assert samples.dtype == np.int16 and samples.size == at_16k.size  # 16 kHz: not resampled
    assert np.abs(samples - at_16k.clip(-1, 1) * 32767).max() <= 1.5  # one LSB of dither


def test_no_audio_file_appears_on_disk(lm_recognizer, tmp_path, monkeypatch) -> None:
    """Recognition writes nothing: not to the temporary folder, not to the working one
    (both private to this test, so other processes cannot disturb the listing)."""
    temp, work = tmp_path / "tmp", tmp_path / "work"
    temp.mkdir()
    work.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.chdir(work)
    spoken, again = utterance("green striped shirt", seed=3), utterance("red leather handbag", 4)
    lm_recognizer.recognize(spoken.samples, spoken.sample_rate)
    lm_recognizer.recognize(again.samples, again.sample_rate)
    assert list(temp.rglob("*")) == [] and list(work.rglob("*")) == []


BAD_AUDIO = [
    (np.zeros(0, np.float32), 16_000, "audio is empty"),
    (b"RIFF....WAVE", 16_000, "audio is raw bytes"),
    (np.array(["a", "b"]), 16_000, "must be a numeric array"),
    (np.zeros((10, 10, 2), np.float32), 16_000, "must have shape"),
    (np.full(16_000, np.nan, np.float32), 16_000, "NaN or infinite"),
    (np.full(16_000, 3.0, np.float32), 16_000, "must lie in \\[-1, 1\\]"),
    (np.zeros(16_000 * 30, np.int16), 16_000, "30.0 s long; at most 20 s"),
    (np.zeros(160, np.int16), 16_000, "10 ms long"),
    (np.zeros(16_000, np.int16), 4_000, "4000 Hz cannot be resampled"),
    (np.zeros(16_000, np.int16), 16_001, "ratio 16000/16001 is too fine"),
    (np.zeros(16_000, np.int16), 16_000.5, "must be an integer"),
]


@pytest.mark.parametrize(("audio", "rate", "message"), BAD_AUDIO)
def test_bad_audio_is_a_clear_error(lm_recognizer, audio, rate, message) -> None:
    with pytest.raises(ValueError, match=message):
        lm_recognizer.recognize(audio, rate)


def wav_bytes(samples: np.ndarray, rate: int, truncate: int = 0) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.astype(np.int16).tobytes())
    data = buffer.getvalue()
    return data[: len(data) - truncate] if truncate else data


def test_wav_bytes_decode_in_memory_and_bad_files_are_clear_errors() -> None:
    samples = (np.sin(np.arange(8000) / 5) * 10_000).astype(np.int16)
    decoded, rate = decode_audio(wav_bytes(samples, 8000))
    assert rate == 8000 and decoded.dtype == np.float32
    np.testing.assert_allclose(decoded, samples / 32768, atol=1e-6)
    with pytest.raises(ValueError, match="audio is empty"):
        decode_audio(b"")
    with pytest.raises(ValueError, match="not a WAV or FLAC"):
        decode_audio(b"\x89PNG\r\n\x1a\n not audio")
    with pytest.raises(ValueError, match="truncated"):
        decode_audio(wav_bytes(samples, 8000, truncate=1000))
    with pytest.raises(MediaTooLarge, match="at most 2048 are accepted"):
        decode_audio(b"RIFF" + bytes(4096), AudioLimits(max_bytes=2048))


def test_resample_ratio_is_reduced() -> None:
    assert resample_ratio(22_050, 16_000) == (320, 441)
    assert resample_ratio(48_000, 16_000) == (1, 3)
    assert resample_ratio(8_000, 16_000) == (2, 1)


def test_kneser_ney_distributions_sum_to_one() -> None:
    model = kneser_ney([tokenize(s) for s in CORPUS], order=3)
    words = [w for w in model.vocabulary if w != BOS]
    for history in [(), ("red",), (BOS,), (BOS, "red"), ("blue", "dotted"), ("unseen",)]:
        total = sum(10 ** model.log10(w, history) for w in words)
        assert total == pytest.approx(1.0, abs=1e-9), history
    # A seen continuation beats an unseen one.
    assert model.log10("shirt", ("red", "striped")) > model.log10("handbag", ("red", "striped"))


def test_discounts_follow_chen_and_goodman() -> None:
    """n1..n4 = 10, 5, 3, 2: Y = 10 / (10 + 2 * 5) = 0.5, D1 = 1 - 2 * 0.5 * 5 / 10 = 0.5,
    D2 = 2 - 3 * 0.5 * 3 / 5 = 1.1, D3 = 3 - 4 * 0.5 * 2 / 3 = 1.6667."""
    from collections import Counter

    d = discounts(Counter({1: 10, 2: 5, 3: 3, 4: 2}))
    assert d == pytest.approx((0.5, 1.1, 3 - 4 / 3))
    assert discounts(Counter({1: 4})) == (0.5, 1.0, 1.5)  # a tiny corpus: the fallback


def test_the_arpa_file_loads_in_pocketsphinx(tmp_path: Path) -> None:
    from pocketsphinx import Config, LogMath, NGramModel

    model = kneser_ney([tokenize(s) for s in CORPUS], order=3)
    path = model.write_arpa(tmp_path / "lm.arpa")
    text = path.read_text()
    assert text.startswith("\\data\\") and text.rstrip().endswith("\\end\\")
    loaded = NGramModel(Config(), LogMath(), str(path))
    assert loaded.size() == 3


def test_speech_model_folder_and_out_of_dictionary_words(tmp_path: Path, caplog) -> None:
    sentences = [tokenize("norda red shirt"), tokenize("velmont blue dress")]
    manifest = build_speech_model(sentences, tmp_path / "speech", RecognizerConfig())
    assert set(manifest["letter_to_sound"]) == {"norda", "velmont"}
    assert manifest["missing"] == []
    assert {p.name for p in (tmp_path / "speech").iterdir()} == {
        "lm.arpa",
        "words.dict",
        "manifest.json",
    }
    dictionary = (tmp_path / "speech" / "words.dict").read_text()
    assert "\nnorda " in "\n" + dictionary and "\nshirt SH ER T" in "\n" + dictionary
    with caplog.at_level(logging.WARNING):
        lexicon = build_lexicon({"norda", "shirt"}, letter_to_sound=False)
    assert lexicon.missing == ("norda",) and "norda" in caplog.text
    assert "give them with extra_pronunciations" in caplog.text


def test_extra_pronunciations_win_and_bad_ones_are_clear_errors() -> None:
    lexicon = build_lexicon({"norda"}, extra={"norda": "N AO R D AH"})
    assert lexicon.pronunciations["norda"] == (("N", "AO", "R", "D", "AH"),)
    with pytest.raises(ValueError, match="not ARPAbet phones"):
        build_lexicon({"norda"}, extra={"norda": "n o r d a"})


def test_espeak_phonemes_map_to_arpabet() -> None:
    assert espeak_to_arpabet(["n", "'o@", "d", "@"]) == ("N", "AO", "R", "D", "AH")
    assert espeak_to_arpabet(["t", "'i:", "S", "'3:", "t"]) == ("T", "IY", "SH", "ER", "T")


def test_corpus_splits_catalog_sentences_and_repeats_queries() -> None:
    sentences = corpus_sentences(["Norda tee - red. Made from cotton."], ["red tee"], 2)
    assert sentences == [
        ["norda", "tee"],
        ["red"],
        ["made", "from", "cotton"],
        ["red", "tee"],
        ["red", "tee"],
    ]


def test_word_errors_count_edits() -> None:
    assert word_errors("red striped shirt", "red shirt") == (1, 3)  # one deletion
    assert word_errors("red shirt", "blue shirt dress") == (2, 2)  # substitution + insertion
    assert word_errors("", "") == (0, 0)


def test_typed_transcripts_are_certain() -> None:
    transcript = Transcript.typed("Red  T-shirt")
    assert transcript.text == "red t-shirt" and transcript.confidence == 1.0
    with pytest.raises(ValueError, match=r"confidence 1\.5 must lie in"):
        Transcript("red", 1.5)


def test_recognizer_config_is_validated() -> None:
    with pytest.raises(ValueError, match="n_best=0"):
        RecognizerConfig(n_best=0)
    with pytest.raises(ValueError, match="max_seconds"):
        AudioLimits(max_seconds=0.05)


def test_transcripts_do_not_depend_on_earlier_utterances(lm_recognizer) -> None:
    first, other = utterance("blue striped shirt", seed=5), utterance("black dotted dress", seed=6)
    before = lm_recognizer.recognize(first.samples, first.sample_rate)
    lm_recognizer.recognize(other.samples, other.sample_rate)
    assert lm_recognizer.recognize(first.samples, first.sample_rate) == before


def test_speech_features_describe_transcripts() -> None:
    from fusionrank.retrieval.speech import SPEECH_FEATURE_NAMES, Alternative, speech_features

    heard = Transcript(
        "red shirt", 0.4, (Alternative("red shirt", 0.6), Alternative("red skirt", 0.4))
    )
    features = speech_features([heard, None, Transcript.typed("blue dress")])
    assert features.shape == (3, len(SPEECH_FEATURE_NAMES)) and features.dtype == np.float32
    # agreement: |{red}| / |{red, shirt, skirt}| = 1/3; log1p(2 words)
    np.testing.assert_allclose(features[0], [1, 0.4, 0.6, 1 / 3, np.log1p(2)], rtol=1e-6)
    assert not features[1].any()
    assert features[2, 1] == 1.0
