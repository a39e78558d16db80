"""Audio input for speech recognition: checks, down-mixing, resampling, WAV/FLAC bytes.

Everything happens in memory; no audio is written to disk. Resampling is polyphase
(``scipy.signal.resample_poly``) by the reduced ratio ``target / rate``.
"""

from __future__ import annotations

import io
import logging
import math
import wave
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

MIN_RATE, MAX_RATE = 8_000, 192_000
MAX_RATIO_TERM = 4_000
"""Largest up or down factor of the reduced resampling ratio (bounds the filter)."""
MAX_CHANNELS = 8


class MediaTooLarge(ValueError):
    """An audio or image file over its byte or pixel limit (HTTP 413, not 422)."""


@dataclass(frozen=True)
class AudioLimits:
    """What a recogniser accepts.

    Args:
        max_seconds: Longest utterance, seconds.
        min_seconds: Shortest utterance, seconds.
        max_bytes: Largest encoded file that :func:`decode_audio` reads.
    """

    max_seconds: float = 20.0
    min_seconds: float = 0.1
    max_bytes: int = 8 * 1024 * 1024

    def __post_init__(self) -> None:
        if not 0 < self.min_seconds < self.max_seconds <= 600:
            raise ValueError(
                f"audio limits: need 0 < min_seconds ({self.min_seconds}) < max_seconds "
                f"({self.max_seconds}) <= 600"
            )
        if self.max_bytes < 1024:
            raise ValueError(f"audio limits: max_bytes={self.max_bytes} must be >= 1024")


def _as_float(audio: object) -> np.ndarray:
    """float64 mono samples in [-1, 1] from an int or float array (n,) or (n, channels)."""
    if isinstance(audio, bytes | bytearray | memoryview):
        raise ValueError(
            "audio is raw bytes; decode a WAV or FLAC file with decode_audio(data) first, "
            "or pass a numpy array of samples"
        )
    array = np.asarray(audio)
    if array.dtype.kind not in "iuf":
        raise ValueError(
            f"audio must be a numeric array of samples (int16 or float in [-1, 1]), got "
            f"dtype {array.dtype}"
        )
    if array.ndim not in (1, 2) or (array.ndim == 2 and not 1 <= array.shape[1] <= MAX_CHANNELS):
        raise ValueError(
            f"audio must have shape (n_samples,) or (n_samples, channels <= {MAX_CHANNELS}), "
            f"got {array.shape}"
        )
    if array.size == 0:
        raise ValueError("audio is empty: it holds no samples")
    scale = 1.0 if array.dtype.kind == "f" else _int_scale(array.dtype)
    samples = array.astype(np.float64) / scale
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if not np.all(np.isfinite(samples)):
        raise ValueError("audio holds NaN or infinite samples")
    peak = float(np.abs(samples).max())
    if peak > 1.0 + 1e-6:
        raise ValueError(
            f"float audio must lie in [-1, 1], its peak is {peak:.3g}; divide int16 "
            "samples by 32768 or pass them as int16"
        )
    return samples


def _int_scale(dtype: np.dtype) -> float:
    if dtype.kind == "u":
        raise ValueError(f"unsigned audio samples ({dtype}) are not supported; give int16")
    return float(2 ** (8 * dtype.itemsize - 1))


def resample_ratio(rate: int, target: int) -> tuple[int, int]:
    """The reduced ``(up, down)`` that takes ``rate`` to ``target``.

    Raises:
        ValueError: If the rate is not an integer within [8 kHz, 192 kHz] or the ratio
            needs factors above :data:`MAX_RATIO_TERM`.
    """
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer):
        raise ValueError(f"sample_rate must be an integer number of Hz, got {rate!r}")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ValueError(
            f"sample_rate={rate} Hz cannot be resampled to {target} Hz: give audio sampled at "
            f"{MIN_RATE}-{MAX_RATE} Hz (16000 is best)"
        )
    divisor = math.gcd(int(rate), target)
    up, down = target // divisor, int(rate) // divisor
    if max(up, down) > MAX_RATIO_TERM:
        raise ValueError(
            f"sample_rate={rate} Hz cannot be resampled to {target} Hz: the ratio "
            f"{up}/{down} is too fine; resample to a common rate such as 16000 first"
        )
    return up, down


def prepare_audio(
    audio: object, sample_rate: int, target_rate: int, limits: AudioLimits
) -> np.ndarray:
    """Checked, mono, resampled, dithered int16 samples for a decoder.

    Args:
        audio: int or float samples, shape (n,) or (n, channels); floats in [-1, 1].
        sample_rate: Their rate, Hz.
        target_rate: The decoder's rate, Hz.
        limits: Duration bounds.

    Returns:
        int16, shape (m,), at ``target_rate``.

    Raises:
        ValueError: Naming the problem: not samples, empty, NaN, out of range, too short,
            too long, or a rate that cannot be resampled.
    """
    up, down = resample_ratio(sample_rate, target_rate)
    samples = _as_float(audio)
    seconds = samples.size / sample_rate
    if seconds > limits.max_seconds:
        raise ValueError(
            f"audio is {seconds:.1f} s long; at most {limits.max_seconds:g} s is accepted "
            "(one spoken query)"
        )
    if seconds < limits.min_seconds:
        raise ValueError(
            f"audio is {seconds * 1000:.0f} ms long; at least {limits.min_seconds:g} s is needed"
        )
    if (up, down) != (1, 1):
        from scipy.signal import resample_poly

        samples = resample_poly(samples, up, down)
    # Triangular dither of one LSB, seeded the same for every utterance: exact digital
    # silence breaks a log spectrum, and a fixed seed keeps the output reproducible.
    dither = np.random.default_rng(0).triangular(-1.0, 0.0, 1.0, samples.size)
    return np.round(np.clip(samples * 32767 + dither, -32767, 32767)).astype(np.int16)


def decode_audio(data: bytes, limits: AudioLimits = AudioLimits()) -> tuple[np.ndarray, int]:
    """Decode a WAV (PCM, 8-32 bit) or FLAC file held in memory.

    FLAC needs the optional ``soundfile`` package.

    Returns:
        float32 samples, shape (n,) or (n, channels), in [-1, 1], and the rate in Hz.

    Raises:
        MediaTooLarge: If there are more than ``limits.max_bytes``.
        ValueError: If the bytes are empty, truncated, or not WAV/FLAC.
    """
    if not isinstance(data, bytes | bytearray | memoryview) or not len(data):
        raise ValueError("audio is empty: the file holds no bytes")
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(
            f"audio file is {len(data)} bytes; at most {limits.max_bytes} are accepted"
        )
    head = bytes(data[:4])
    if head == b"RIFF":
        return _decode_wav(bytes(data))
    if head == b"fLaC":
        return _decode_flac(bytes(data))
    raise ValueError("audio is not a WAV or FLAC file (its first bytes are not RIFF or fLaC)")


def _decode_wav(data: bytes) -> tuple[np.ndarray, int]:
    try:
        with wave.open(io.BytesIO(data)) as reader:
            width, channels = reader.getsampwidth(), reader.getnchannels()
            rate, n_frames = reader.getframerate(), reader.getnframes()
            frames = reader.readframes(n_frames)
    except (wave.Error, EOFError) as error:
        raise ValueError(f"audio is not a readable PCM WAV file ({error})") from None
    if len(frames) < n_frames * width * channels:
        raise ValueError(
            f"audio WAV file is truncated: it declares {n_frames} frames, holds "
            f"{len(frames) // max(width * channels, 1)}"
        )
    if width == 1:
        samples = (np.frombuffer(frames, np.uint8).astype(np.float32) - 128) / 128
    elif width == 3:
        raw = np.frombuffer(frames, np.uint8).reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        samples = (np.where(value >= 1 << 23, value - (1 << 24), value) / 2**23).astype(np.float32)
    else:
        kind = {2: np.int16, 4: np.int32}[width]
        samples = (np.frombuffer(frames, kind) / float(2 ** (8 * width - 1))).astype(np.float32)
    return samples.reshape(-1, channels) if channels > 1 else samples, rate


def _decode_flac(data: bytes) -> tuple[np.ndarray, int]:
    try:
        import soundfile
    except ImportError:
        raise ValueError(
            "audio is FLAC, which needs the soundfile package (pip install soundfile); or send WAV"
        ) from None
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise ValueError(f"audio is not a readable FLAC file ({error})") from None
    return samples, int(rate)
