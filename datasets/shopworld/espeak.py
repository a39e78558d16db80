"""eSpeak NG through ctypes: speech synthesis in memory, and words to phonemes.

The shared library and its voice data come from the PyPI package ``espeakng-loader``.
eSpeak is initialised once per process with *synchronous* output: ``espeak_Synth`` returns
when the whole utterance has gone through the synth callback, which copies the int16
samples into a list. Nothing is written to disk. eSpeak keeps global state (voice, rate,
pitch), so every call holds one process-wide lock.

eSpeak's wave generator also keeps state from one utterance to the next (its output
depends on what it said before, even with ``espeak_ng_SetRandSeed``), so each utterance
is synthesised in a child forked from a small server process (this file run as a
script; it imports nothing of fusionrank) whose eSpeak has never spoken: the same text,
voice and seed then give the same samples in any order and any process. Without
``os.fork``, synthesis runs in-process (reproducible only for the same sequence of calls).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

SAMPLE_RATE = 22_050
"""eSpeak NG's output rate, Hz."""

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_RATE, _ESPEAK_VOLUME, _ESPEAK_PITCH, _ESPEAK_RANGE = 1, 2, 3, 4
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PHONEMES_SEPARATOR = ord(" ") << 8  # phoneme names separated by spaces
RATE_RANGE = (80, 450)
"""Words per minute that eSpeak accepts."""
PITCH_RANGE = (0, 99)

_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


@dataclass(frozen=True)
class Voice:
    """How one utterance is spoken.

    Args:
        name: An eSpeak voice, optionally with a variant: ``en-us``, ``en-gb-scotland+f3``.
        rate: Words per minute, within :data:`RATE_RANGE`.
        pitch: Base pitch, 0-99 (eSpeak's default is 50).
    """

    name: str = "en-us"
    rate: int = 175
    pitch: int = 50

    def __post_init__(self) -> None:
        if not self.name or not self.name.isascii() or " " in self.name:
            raise ValueError(f"voice name {self.name!r} must be an ASCII eSpeak voice, e.g. en-us")
        if not RATE_RANGE[0] <= self.rate <= RATE_RANGE[1]:
            raise ValueError(
                f"voice rate {self.rate} is outside eSpeak's {RATE_RANGE} words per minute"
            )
        if not PITCH_RANGE[0] <= self.pitch <= PITCH_RANGE[1]:
            raise ValueError(f"voice pitch {self.pitch} is outside {PITCH_RANGE}")


class _Espeak:
    """The loaded library; one per process (see :func:`engine`)."""

    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._declare()
        rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0
        )
        if rate != SAMPLE_RATE:
            raise RuntimeError(f"eSpeak NG did not initialise (returned {rate})")
        self._chunks: list[np.ndarray] = []
        self._callback = _CALLBACK(self._collect)  # keep a reference: C holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lock = threading.Lock()
        self._voice: str | None = None

    def _declare(self) -> None:
        lib = self.lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.c_int,
            ctypes.c_int,
        ]

    def _collect(self, wav: Any, n_samples: int, events: Any) -> int:
        if n_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        return 0  # 0: go on synthesising

    def set_voice(self, name: str) -> None:
        if name != self._voice:
            if self.lib.espeak_SetVoiceByName(name.encode()) != 0:
                raise ValueError(
                    f"eSpeak NG has no voice {name!r}; use e.g. 'en-us', 'en-gb-scotland' or "
                    "'en-us+f3' (a language, optionally '+' a variant)"
                )
            self._voice = name

    def check_voice(self, name: str) -> None:
        with self.lock:
            self.set_voice(name)

    def speak(self, text: str, voice: Voice, seed: int) -> np.ndarray:
        data = text.encode() + b"\0"
        with self.lock:
            return self._speak_locked(data, text, voice, seed)

    def _speak_locked(self, data: bytes, text: str, voice: Voice, seed: int) -> np.ndarray:
        self.set_voice(voice.name)
        self.lib.espeak_ng_SetRandSeed(seed)
        self.lib.espeak_SetParameter(_ESPEAK_RATE, voice.rate, 0)
        self.lib.espeak_SetParameter(_ESPEAK_PITCH, voice.pitch, 0)
        self._chunks = []
        status = self.lib.espeak_Synth(
            data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
        )
        chunks, self._chunks = self._chunks, []
        if status != 0:
            raise RuntimeError(f"eSpeak NG failed to synthesise {text!r} (status {status})")
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    def phonemes(self, text: str, voice: str) -> str:
        with self.lock:
            self.set_voice(voice)
            pointer = ctypes.c_char_p(text.encode())
            parts = []
            while pointer.value:
                out = self.lib.espeak_TextToPhonemes(
                    ctypes.byref(pointer), _CHARS_UTF8, _PHONEMES_SEPARATOR
                )
                if out:
                    parts.append(out.decode())
        return " ".join(parts)


_ENGINE: _Espeak | None = None
_ENGINE_LOCK = threading.Lock()
_SERVER: _Server | None = None


def engine() -> _Espeak:
    """The process's eSpeak NG (loaded on first use)."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = _Espeak()
            logger.debug("eSpeak NG loaded")
        return _ENGINE


class _Server:
    """A small process (this file run as a script: ctypes, numpy, eSpeak) that has never
    spoken and forks one child per utterance; requests are JSON lines on its stdin,
    answers ``status, length, bytes`` on its stdout."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.lock = threading.Lock()

    def speak(self, text: str, voice: Voice, seed: int) -> np.ndarray:
        request = json.dumps([text, voice.name, voice.rate, voice.pitch, seed]) + "\n"
        with self.lock:
            stdin, stdout = self.process.stdin, self.process.stdout
            assert stdin is not None and stdout is not None
            stdin.write(request.encode())
            stdin.flush()
            header = stdout.read(16)
            if len(header) != 16:
                raise RuntimeError("the eSpeak NG synthesis process stopped")
            status, length = struct.unpack("<qq", header)
            payload = stdout.read(length)
        if status != 0:
            raise RuntimeError(f"eSpeak NG failed to synthesise {text!r}: {payload.decode()}")
        return np.frombuffer(payload, dtype=np.int16).copy()


def _serve() -> None:
    """The server's loop (see :class:`_Server`)."""
    speaker = engine()
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    for line in source:
        text, name, rate, pitch, seed = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the child: a wave generator that has never spoken
            code = 1
            try:
                try:
                    payload, status = (
                        speaker.speak(text, Voice(name, rate, pitch), seed).tobytes(),
                        0,
                    )
                except Exception as error:  # report any failure to the parent
                    payload, status = str(error).encode(), 1
                sink.write(struct.pack("<qq", status, len(payload)) + payload)
                sink.flush()
                code = 0
            finally:
                os._exit(code)
        os.waitpid(pid, 0)


def _server() -> _Server | None:
    """The process's synthesis server, started on first use; None without ``os.fork``."""
    global _SERVER
    with _ENGINE_LOCK:
        if _SERVER is None and hasattr(os, "fork"):
            _SERVER = _Server()
        return _SERVER


def synthesize_many(requests: Sequence[tuple[str, Voice, int]]) -> list[np.ndarray]:
    """Speak several ``(text, voice, seed)``; int16 arrays, shape (n_samples,), at
    :data:`SAMPLE_RATE` Hz.

    eSpeak draws random numbers (voicing noise, breath); the seed seeds them
    (``espeak_ng_SetRandSeed``), and every utterance starts from a wave generator that
    has never spoken, so the same text, voice and seed give the same samples.

    Raises:
        ValueError: If a text is blank or a voice does not exist.
    """
    for text, voice, _ in requests:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text to speak is empty; give at least one word")
        engine().check_voice(voice.name)
    server = _server()
    jobs = [(t, v, int(s) & 0x7FFFFFFF) for t, v, s in requests]
    if server is None:
        return [engine().speak(*job) for job in jobs]
    return [server.speak(*job) for job in jobs]


def synthesize(text: str, voice: Voice = Voice(), seed: int = 0) -> np.ndarray:
    """Speak ``text`` (see :func:`synthesize_many`); int16, shape (n_samples,)."""
    return synthesize_many([(text, voice, seed)])[0]


def phonemes(text: str, voice: str = "en-us") -> list[str]:
    """eSpeak's phoneme names for ``text`` (stress marks kept), e.g. ``["n", "'o@", "d", "@"]``."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text to transcribe into phonemes is empty")
    return engine().phonemes(text, voice).split()


if __name__ == "__main__":
    _serve()
