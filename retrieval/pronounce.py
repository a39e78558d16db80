"""A pronunciation dictionary for a shop's vocabulary.

Words come from CMUdict (the copy inside the ``pocketsphinx`` wheel), restricted to the
vocabulary, so the recogniser searches only the shop's words. A word CMUdict lacks (an
invented brand name, "tshirt") gets eSpeak NG's letter-to-sound transcription mapped
from eSpeak's English phoneme names to the acoustic model's ARPAbet; a word neither
source can spell is reported by name and left out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fusionrank.io import atomic_path

logger = logging.getLogger(__name__)

ARPABET: frozenset[str] = frozenset(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH "
    "UH UW V W Y Z ZH".split()
)
"""The phones of pocketsphinx's en-us acoustic model (besides silence)."""

# eSpeak NG's English phoneme names (stress marks removed) -> ARPAbet.
_ESPEAK_TO_ARPABET: dict[str, tuple[str, ...]] = {
    "a": ("AE",), "aa": ("AE",), "a#": ("AH",), "A:": ("AA",), "A": ("AA",),
    "A@": ("AA", "R"), "0": ("AA",), "02": ("AA",), "O": ("AO",), "O:": ("AO",),
    "O2": ("AA",), "O@": ("AO", "R"), "o@": ("AO", "R"), "oU": ("OW",), "@U": ("OW",),
    "o": ("OW",), "V": ("AH",), "VR": ("ER",), "E": ("EH",), "E2": ("EH",), "E3": ("EH",),
    "e": ("EH",), "e@": ("EH", "R"), "eI": ("EY",), "I": ("IH",), "I2": ("IH",),
    "I#": ("IH",), "IR": ("IH", "R"), "i": ("IY",), "i:": ("IY",), "i@": ("IH", "R"),
    "i@3": ("IH", "R"), "U": ("UH",), "u:": ("UW",), "u": ("UW",), "U@": ("UH", "R"),
    "3:": ("ER",), "3": ("ER",), "@": ("AH",), "@-": ("AH",), "@2": ("AH",), "@5": ("AH",),
    "@L": ("AH", "L"), "aI": ("AY",), "aI2": ("AY",), "aI@": ("AY", "ER"),
    "aI3": ("AY", "ER"), "aU": ("AW",), "aU@": ("AW", "ER"), "OI": ("OY",),
    "p": ("P",), "b": ("B",), "t": ("T",), "t#": ("T",), "d": ("D",), "d#": ("D",),
    "k": ("K",), "g": ("G",), "f": ("F",), "v": ("V",), "T": ("TH",), "D": ("DH",),
    "s": ("S",), "z": ("Z",), "z#": ("Z",), "S": ("SH",), "Z": ("ZH",), "h": ("HH",),
    "m": ("M",), "m-": ("M",), "n": ("N",), "n-": ("N",), "N": ("NG",), "l": ("L",),
    "l/": ("L",), "r": ("R",), "r-": ("R",), "w": ("W",), "w#": ("W",), "j": ("Y",),
    "tS": ("CH",), "dZ": ("JH",), "x": ("K",), "C": ("HH",), "*": ("T",),
}  # fmt: skip
_IGNORED = frozenset({"?", ";", "_", ":", "|", "||"})
_STRESS = re.compile(r"[',%=]")
_ALTERNATE = re.compile(r"\(\d+\)$")


def espeak_to_arpabet(names: Iterable[str]) -> tuple[str, ...]:
    """ARPAbet phones of eSpeak phoneme names; unknown names are skipped (logged)."""
    phones: list[str] = []
    for raw in names:
        name = _STRESS.sub("", raw)
        if not name or name in _IGNORED:
            continue
        mapped = _ESPEAK_TO_ARPABET.get(name)
        if mapped is None:
            logger.debug("eSpeak phoneme %r has no ARPAbet mapping; skipped", raw)
            continue
        phones.extend(mapped)
    return tuple(phones)


def default_dictionary() -> Path:
    """CMUdict as the ``pocketsphinx`` wheel ships it."""
    from pocketsphinx import get_model_path

    return Path(get_model_path("en-us/cmudict-en-us.dict"))


def read_dictionary(path: Path, words: set[str]) -> dict[str, list[tuple[str, ...]]]:
    """Every pronunciation of ``words`` in a CMUdict-format file (``word(2)`` variants
    included), in file order."""
    found: dict[str, list[tuple[str, ...]]] = {}
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            head, _, phones = line.partition(" ")
            word = _ALTERNATE.sub("", head)
            if word in words:
                found.setdefault(word, []).append(tuple(phones.split()))
    return found


@dataclass(frozen=True)
class Lexicon:
    """Pronunciations of a vocabulary.

    Args:
        pronunciations: Word -> its ARPAbet pronunciations (at least one each).
        guessed: Words spelled by eSpeak's letter-to-sound rules, not CMUdict.
        missing: Words without any pronunciation (the recogniser cannot output them).
    """

    pronunciations: Mapping[str, tuple[tuple[str, ...], ...]]
    guessed: tuple[str, ...]
    missing: tuple[str, ...]

    def write(self, path: str | Path) -> Path:
        """Write a pocketsphinx dictionary (``word PH ONES``, ``word(2) ...``) atomically."""
        with atomic_path(Path(path)) as tmp, tmp.open("w", encoding="utf-8") as out:
            for word in sorted(self.pronunciations):
                for i, phones in enumerate(self.pronunciations[word]):
                    name = word if i == 0 else f"{word}({i + 1})"
                    out.write(f"{name} {' '.join(phones)}\n")
        return Path(path)


def _check_phones(word: str, phones: tuple[str, ...]) -> tuple[str, ...]:
    bad = [p for p in phones if p not in ARPABET]
    if bad or not phones:
        raise ValueError(
            f"pronunciation of {word!r} is {' '.join(phones) or 'empty'}: phones "
            f"{bad or '(none)'} are not ARPAbet phones of the acoustic model; use e.g. "
            "'N AO R D AH'"
        )
    return phones


def build_lexicon(
    words: Iterable[str],
    dictionary: Path | None = None,
    extra: Mapping[str, str] | None = None,
    letter_to_sound: bool = True,
    accent: str = "en-us",
) -> Lexicon:
    """Pronunciations for ``words``: ``extra`` first, then the dictionary, then eSpeak.

    Args:
        words: The vocabulary (lower case).
        dictionary: A CMUdict-format file; default the wheel's CMUdict.
        extra: Word -> space-separated ARPAbet phones, e.g. ``{"norda": "N AO R D AH"}``.
        letter_to_sound: Spell the remaining words with eSpeak NG.
        accent: eSpeak voice whose letter-to-sound rules spell them.

    Raises:
        ValueError: If an ``extra`` pronunciation is not made of ARPAbet phones.
    """
    vocabulary = {w for w in words if w and not w.startswith("<")}
    chosen: dict[str, tuple[tuple[str, ...], ...]] = {
        w.lower(): (_check_phones(w, tuple(p.split())),) for w, p in (extra or {}).items()
    }
    found = read_dictionary(dictionary or default_dictionary(), vocabulary - set(chosen))
    chosen.update({w: tuple(p) for w, p in found.items()})
    guessed: list[str] = []
    if letter_to_sound:
        from fusionrank.datasets.shopworld.espeak import phonemes

        for word in sorted(vocabulary - set(chosen)):
            phones = espeak_to_arpabet(phonemes(word.replace("-", " "), accent))
            if phones:
                chosen[word] = (phones,)
                guessed.append(word)
    missing = tuple(sorted(vocabulary - set(chosen)))
    if guessed:
        logger.info("pronunciations of %d words spelled by eSpeak: %s", len(guessed), guessed)
    if missing:
        logger.warning(
            "%d words have no pronunciation and cannot be recognised: %s; give them with "
            "extra_pronunciations={'word': 'ARPABET PHONES'}",
            len(missing),
            ", ".join(missing[:20]),
        )
    return Lexicon(chosen, tuple(guessed), missing)
