"""ShopWorld's spoken queries: eSpeak NG synthesis in memory, seeded voices, noise at a
configured SNR, and a validated config."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrank.datasets.shopworld.espeak import SAMPLE_RATE, Voice, phonemes, synthesize
from fusionrank.datasets.shopworld.speech import (
    SpeechConfig,
    add_noise,
    coloured_noise,
    speak,
    spoken_needs,
    spoken_queries,
)


def test_synthesis_gives_int16_speech_at_22050_hz() -> None:
    audio = synthesize("red striped shirt", Voice("en-us", 170, 50))
    assert audio.dtype == np.int16 and audio.ndim == 1
    seconds = audio.size / SAMPLE_RATE
    assert 0.5 < seconds < 3.0, seconds
    assert np.abs(audio).max() > 3000  # speech, not silence


def test_a_faster_voice_speaks_for_less_time() -> None:
    slow = synthesize("blue cotton dress", Voice("en-us", 100, 50))
    fast = synthesize("blue cotton dress", Voice("en-us", 300, 50))
    assert fast.size < 0.6 * slow.size


def test_same_seed_same_utterance_and_another_seed_differs() -> None:
    texts = ["navy handbag", "green mug"]
    a = spoken_queries(texts, SpeechConfig(), seed=3)
    b = spoken_queries(texts, SpeechConfig(), seed=3)
    c = spoken_queries(texts, SpeechConfig(), seed=4)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.samples, y.samples)
        assert x.voice == y.voice and x.snr_db == y.snr_db
    assert not np.array_equal(a[0].samples, c[0].samples)
    # Utterance i depends only on (seed, i): made alone, it is the same.
    alone = spoken_queries(texts[1:], SpeechConfig(), seed=3)
    assert alone[0].text == a[1].text


def test_utterance_is_float_in_range_and_voice_from_the_config() -> None:
    config = SpeechConfig(accents=("en-gb-scotland",), variants=("+f1",), rates=(150, 150))
    utterance = speak("black leather handbag", config, np.random.default_rng(0))
    assert utterance.samples.dtype == np.float32
    assert np.abs(utterance.samples).max() <= 1.0
    assert utterance.voice.name == "en-gb-scotland+f1" and utterance.voice.rate == 150
    assert config.snr_db - 5 <= utterance.snr_db <= config.snr_db + 5
    assert utterance.int16().dtype == np.int16


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 25.0])
def test_noise_is_added_at_the_requested_snr(snr_db: float) -> None:
    rng = np.random.default_rng(1)
    signal = 0.1 * np.sin(np.linspace(0, 400 * np.pi, 20_000))
    noisy = add_noise(signal, snr_db, "pink", rng).astype(np.float64)
    noise = noisy - signal
    measured = 10 * np.log10(np.mean(signal**2) / np.mean(noise**2))
    assert measured == pytest.approx(snr_db, abs=0.1)


def test_infinite_snr_adds_nothing_and_noise_colours_differ() -> None:
    signal = np.linspace(-0.5, 0.5, 1000)
    np.testing.assert_allclose(
        add_noise(signal, np.inf, "white", np.random.default_rng(0)), signal, atol=1e-7
    )
    rng = np.random.default_rng(2)
    white, brown = coloured_noise(4096, "white", rng), coloured_noise(4096, "brown", rng)
    assert np.mean(white**2) == pytest.approx(1.0) and np.mean(brown**2) == pytest.approx(1.0)
    # Brown noise has most of its power at low frequencies: neighbours correlate.
    assert (
        np.corrcoef(brown[:-1], brown[1:])[0, 1]
        > 0.9
        > abs(np.corrcoef(white[:-1], white[1:])[0, 1])
    )


def test_spoken_needs_picks_the_share() -> None:
    chosen = spoken_needs(50, 0.2, np.random.default_rng(0))
    assert chosen.dtype == bool and chosen.sum() == 10


def test_phonemes_spell_an_invented_word() -> None:
    names = phonemes("norda")
    assert names[0] == "n" and len(names) >= 3


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"spoken_share": 1.5}, "spoken_share=1.5 must be in"),
        ({"snr_db": 90.0}, "snr_db=90.0 must be in"),
        ({"noise": "purple"}, "noise='purple' must be one of"),
        ({"rates": (300, 100)}, "rates=\\(300, 100\\) must be \\(min, max\\)"),
        ({"pitches": (0, 120)}, "pitches=\\(0, 120\\)"),
        ({"accents": ()}, "need at least one entry"),
        ({"accents": ("en-us", "en"), "accent_weights": (1.0,)}, "one share >= 0 per accent"),
    ],
)
def test_bad_config_is_a_clear_error(update: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SpeechConfig(**update)


@pytest.mark.parametrize(
    ("voice", "message"),
    [
        (Voice("no-such-voice"), "has no voice 'no-such-voice'"),
    ],
)
def test_unknown_voice_is_a_clear_error(voice: Voice, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        synthesize("hello", voice)


def test_bad_voice_settings_and_blank_text_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="rate 20 is outside"):
        Voice("en-us", 20, 50)
    with pytest.raises(ValueError, match="pitch 150 is outside"):
        Voice("en-us", 175, 150)
    with pytest.raises(ValueError, match="text to speak is empty"):
        synthesize("   ")


def test_accent_weights_set_the_mix() -> None:
    config = SpeechConfig(accents=("en-us", "en"), accent_weights=(1.0, 0.0))
    rng = np.random.default_rng(0)
    from fusionrank.datasets.shopworld.speech import draw_voice

    assert {draw_voice(config, rng).name.split("+")[0] for _ in range(20)} == {"en-us"}
