"""ShopWorld speaks: spoken versions of query texts, with seeded voices and noise.

Each utterance draws its voice (an English accent and a variant), speaking rate, pitch,
silence around the words and signal-to-noise ratio from a generator seeded by
``(seed, index)``, so an utterance is the same whether it is made alone or in a batch.
Noise is coloured Gaussian noise scaled to the drawn SNR:
``SNR = 10 log10(mean(speech^2) / mean(noise^2))`` over the speech samples. Audio stays
in memory as float32 samples in [-1, 1]; nothing is written to disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from fusionrank.datasets.shopworld.espeak import (
    PITCH_RANGE,
    RATE_RANGE,
    SAMPLE_RATE,
    Voice,
    synthesize,
)

ACCENTS: tuple[str, ...] = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-us-nyc")
"""The default accents. eSpeak also has ``en-029`` (Caribbean), which the en-us acoustic
model mostly fails on (word error rate 0.65 against 0.08-0.39 for these); add it to
``SpeechConfig.accents`` for a harder mix."""
VARIANTS: tuple[str, ...] = ("", "+m1", "+m3", "+m7", "+f1", "+f2", "+f4")
NoiseKind = Literal["pink", "white", "brown"]
_NOISE_EXPONENT = {"white": 0.0, "pink": 0.5, "brown": 1.0}  # amplitude ~ f ** -exponent


def _check_range(name: str, value: tuple[float, float], low: float, high: float) -> None:
    if len(value) != 2 or not low <= value[0] <= value[1] <= high:
        raise ValueError(
            f"speech.{name}={value} must be (min, max) with {low} <= min <= max <= {high}"
        )


@dataclass(frozen=True)
class SpeechConfig:
    """How ShopWorld's spoken queries sound.

    Args:
        spoken_share: Share of query needs that also come as audio, in [0, 1].
        snr_db: Mean signal-to-noise ratio of the background noise, dB (-10 to 60).
        snr_jitter_db: Each utterance's SNR is drawn uniformly within ``snr_db`` +/- this.
        noise: Colour of the noise: ``white``, ``pink`` (1/f power) or ``brown`` (1/f^2).
        accents: eSpeak voices to draw from.
        accent_weights: Their shares (normalised); None draws them uniformly.
        variants: eSpeak voice variants to draw from (``""``: the accent's own).
        rates: (min, max) speaking rate, words per minute.
        pitches: (min, max) base pitch, 0-99.
        pad_seconds: (min, max) silence before and after the words, seconds.
    """

    spoken_share: float = 0.2
    snr_db: float = 15.0
    snr_jitter_db: float = 5.0
    noise: NoiseKind = "pink"
    accents: tuple[str, ...] = ACCENTS
    accent_weights: tuple[float, ...] | None = None
    variants: tuple[str, ...] = VARIANTS
    rates: tuple[int, int] = (140, 200)
    pitches: tuple[int, int] = (30, 70)
    pad_seconds: tuple[float, float] = (0.1, 0.4)

    def __post_init__(self) -> None:
        if not 0.0 <= self.spoken_share <= 1.0:
            raise ValueError(f"speech.spoken_share={self.spoken_share} must be in [0, 1]")
        if not -10.0 <= self.snr_db <= 60.0:
            raise ValueError(f"speech.snr_db={self.snr_db} must be in [-10, 60] dB")
        if not 0.0 <= self.snr_jitter_db <= 20.0:
            raise ValueError(f"speech.snr_jitter_db={self.snr_jitter_db} must be in [0, 20] dB")
        if self.noise not in _NOISE_EXPONENT:
            raise ValueError(f"speech.noise={self.noise!r} must be one of {tuple(_NOISE_EXPONENT)}")
        if not self.accents or not self.variants:
            raise ValueError("speech.accents and speech.variants need at least one entry each")
        weights = self.accent_weights
        if weights is not None and (
            len(weights) != len(self.accents) or min(weights) < 0 or sum(weights) <= 0
        ):
            raise ValueError(
                f"speech.accent_weights={weights} must give one share >= 0 per accent "
                f"({len(self.accents)}), not all 0"
            )
        _check_range("rates", self.rates, *RATE_RANGE)
        _check_range("pitches", self.pitches, *PITCH_RANGE)
        _check_range("pad_seconds", self.pad_seconds, 0.0, 5.0)


@dataclass(frozen=True, eq=False)
class Utterance:
    """One spoken query.

    Args:
        samples: float32, shape (n_samples,), in [-1, 1].
        sample_rate: Hz.
        text: What was said.
        voice: The eSpeak voice, rate and pitch.
        snr_db: The SNR of the added noise (``inf`` for none).
    """

    samples: np.ndarray
    sample_rate: int
    text: str
    voice: Voice
    snr_db: float

    @property
    def seconds(self) -> float:
        return self.samples.shape[0] / self.sample_rate

    def int16(self) -> np.ndarray:
        """The samples as int16, shape (n_samples,)."""
        return np.round(np.clip(self.samples, -1.0, 1.0) * 32767).astype(np.int16)


def coloured_noise(n: int, kind: NoiseKind, rng: np.random.Generator) -> np.ndarray:
    """Unit-power Gaussian noise whose amplitude spectrum falls as ``f ** -e``
    (``e`` = 0 white, 0.5 pink, 1 brown); float64, shape (n,)."""
    spectrum = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    frequency = np.fft.rfftfreq(n)
    frequency[0] = frequency[1] if n > 1 else 1.0
    noise = np.fft.irfft(spectrum * frequency ** -_NOISE_EXPONENT[kind], n=n)
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def add_noise(
    samples: np.ndarray,
    snr_db: float,
    kind: NoiseKind,
    rng: np.random.Generator,
    power: float | None = None,
) -> np.ndarray:
    """``samples`` plus noise at ``snr_db`` relative to ``power`` (default: the samples'
    mean square); float32, clipped to [-1, 1]. An infinite SNR or a silent signal adds
    nothing."""
    samples = np.asarray(samples, dtype=np.float64)
    power = float(np.mean(samples**2)) if power is None and samples.size else (power or 0.0)
    if not np.isfinite(snr_db) or power <= 0:
        return samples.astype(np.float32)
    noise = coloured_noise(samples.size, kind, rng) * np.sqrt(power / 10 ** (snr_db / 10))
    return np.clip(samples + noise, -1.0, 1.0).astype(np.float32)


def draw_voice(config: SpeechConfig, rng: np.random.Generator) -> Voice:
    """A voice, rate and pitch drawn from the config's choices."""
    if config.accent_weights is None:
        accent = config.accents[int(rng.integers(len(config.accents)))]
    else:
        shares = np.asarray(config.accent_weights, dtype=np.float64)
        accent = config.accents[int(rng.choice(len(config.accents), p=shares / shares.sum()))]
    variant = config.variants[int(rng.integers(len(config.variants)))]
    rate = int(rng.integers(config.rates[0], config.rates[1] + 1))
    pitch = int(rng.integers(config.pitches[0], config.pitches[1] + 1))
    return Voice(accent + variant, rate, pitch)


def speak(
    text: str, config: SpeechConfig, rng: np.random.Generator, snr_db: float | None = None
) -> Utterance:
    """Say ``text`` in a drawn voice with background noise.

    Args:
        text: The words.
        config: Voices, rates, pitches, noise.
        rng: The utterance's generator.
        snr_db: Overrides the drawn SNR (``inf``: no noise), e.g. for an SNR sweep.
    """
    voice = draw_voice(config, rng)
    speech = synthesize(text, voice, int(rng.integers(2**31))).astype(np.float64) / 32768.0
    pads = rng.uniform(*config.pad_seconds, size=2)
    lead, tail = (np.round(pads * SAMPLE_RATE)).astype(np.int64)
    padded = np.concatenate([np.zeros(lead), speech, np.zeros(tail)])
    drawn = config.snr_db + rng.uniform(-config.snr_jitter_db, config.snr_jitter_db)
    snr = float(drawn if snr_db is None else snr_db)
    power = float(np.mean(speech**2)) if speech.size else 0.0  # speech only, not the pads
    noisy = add_noise(padded, snr, config.noise, rng, power)
    return Utterance(noisy, SAMPLE_RATE, text, voice, snr)


def spoken_queries(
    texts: Sequence[str], config: SpeechConfig, seed: int, snr_db: float | None = None
) -> list[Utterance]:
    """One utterance per text; utterance ``i`` draws from ``default_rng([seed, i])``.

    Args:
        texts: The query texts.
        config: How they sound.
        seed: An integer seed (e.g. ``int_seed(root, "speech")``).
        snr_db: Overrides every utterance's SNR.
    """
    return [
        speak(text, config, np.random.default_rng([seed, i]), snr_db)
        for i, text in enumerate(texts)
    ]


def spoken_needs(n_needs: int, share: float, rng: np.random.Generator) -> np.ndarray:
    """Which needs also come as audio: bool, shape (n_needs,), ``round(share * n)`` True."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"speech.spoken_share={share} must be in [0, 1]")
    chosen = np.zeros(n_needs, dtype=bool)
    chosen[rng.choice(n_needs, size=round(share * n_needs), replace=False)] = True
    return chosen
