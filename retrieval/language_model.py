"""An n-gram language model with interpolated modified Kneser-Ney smoothing, in ARPA.

Chen and Goodman's interpolated modified Kneser-Ney, as KenLM builds it. With ``c`` the
count of an n-gram at the highest order and its *continuation count* (the number of
distinct words seen before it) at lower orders (raw counts for n-grams that start with
``<s>``, which nothing precedes):

    p(w | h) = max(c(h w) - D(c(h w)), 0) / c(h .) + gamma(h) * p(w | h'),
    gamma(h) = (D1 N1(h .) + D2 N2(h .) + D3 N3+(h .)) / c(h .),

where ``h'`` drops the oldest word of ``h``, ``N_k(h .)`` counts the words seen after ``h``
exactly ``k`` times (``N3+``: three or more) and the unigram level interpolates with the
uniform distribution over the vocabulary. The discounts of each order come from its
count-of-counts ``n_k``: ``Y = n1 / (n1 + 2 n2)``, ``D_k = k - (k + 1) Y n_{k+1} / n_k``.

Interpolation makes the ARPA form exact: a listed n-gram carries its interpolated
probability, and the back-off weight of a context is ``gamma(h)``, so an unlisted n-gram
gets ``gamma(h) p(w | h')`` as the interpolated formula says.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fusionrank.io import atomic_path

logger = logging.getLogger(__name__)

BOS, EOS = "<s>", "</s>"
_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
_FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)
LOG10_ZERO = -99.0
"""ARPA's log10 probability of ``<s>``, which is never predicted."""

Ngram = tuple[str, ...]


def tokenize(text: str) -> list[str]:
    """Lower-cased words: letters and digits, with inner hyphens and apostrophes kept
    (``"T-shirt, by Norda."`` -> ``["t-shirt", "by", "norda"]``)."""
    return _WORD.findall(text.lower())


def discounts(count_of_counts: Counter[int]) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts ``(D1, D2, D3+)`` from ``n_1 .. n_4``.

    Falls back to ``(0.5, 1.0, 1.5)`` when a count-of-counts is zero (a tiny corpus) and
    keeps each ``D_k`` within ``(0, k]``.
    """
    n = [count_of_counts.get(k, 0) for k in (1, 2, 3, 4)]
    if min(n) == 0:
        return _FALLBACK_DISCOUNTS
    y = n[0] / (n[0] + 2 * n[1])
    out = []
    for k in (1, 2, 3):
        d = k - (k + 1) * y * n[k] / n[k - 1]
        out.append(min(max(d, 0.05), float(k)))
    return out[0], out[1], out[2]


@dataclass(frozen=True)
class NgramModel:
    """A smoothed n-gram model, ready to write as ARPA.

    Args:
        order: The longest n-gram.
        log10_prob: Per order ``1 .. order``, each listed n-gram's log10 probability.
        log10_backoff: log10 back-off weight of every n-gram that is a context of a
            longer listed one.
        vocabulary: Every word (``<s>`` and ``</s>`` included), sorted.
    """

    order: int
    log10_prob: tuple[dict[Ngram, float], ...]
    log10_backoff: dict[Ngram, float]
    vocabulary: tuple[str, ...]

    def log10(self, word: str, history: Sequence[str]) -> float:
        """log10 p(word | history) by ARPA back-off (for checks; history oldest first)."""
        history = tuple(history)[-(self.order - 1) :] if self.order > 1 else ()
        penalty = 0.0
        while True:
            gram = (*history, word)
            table = self.log10_prob[len(gram) - 1]
            if gram in table:
                return penalty + table[gram]
            if not history:
                return LOG10_ZERO
            penalty += self.log10_backoff.get(history, 0.0)
            history = history[1:]

    def write_arpa(self, path: str | Path) -> Path:
        """Write the model in ARPA text format (atomically); return the path."""
        path = Path(path)
        with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as out:
            out.write("\\data\\\n")
            for n, table in enumerate(self.log10_prob, start=1):
                out.write(f"ngram {n}={len(table)}\n")
            for n, table in enumerate(self.log10_prob, start=1):
                out.write(f"\n\\{n}-grams:\n")
                for gram in sorted(table):
                    line = f"{table[gram]:.6f}\t{' '.join(gram)}"
                    if n < self.order and gram in self.log10_backoff:
                        line += f"\t{self.log10_backoff[gram]:.6f}"
                    out.write(line + "\n")
            out.write("\n\\end\\\n")
        return path


def _raw_counts(sentences: Iterable[Sequence[str]], order: int) -> Counter[Ngram]:
    counts: Counter[Ngram] = Counter()
    for words in sentences:
        padded = (BOS, *words, EOS)
        for i in range(1, len(padded)):
            gram = padded[max(0, i - order + 1) : i + 1]
            counts[gram] += 1  # the longest n-gram ending at i (shorter at the start)
    return counts


def _adjusted_counts(raw: Counter[Ngram], order: int) -> list[Counter[Ngram]]:
    """Per order, the counts KN discounts: raw counts at the top order and for n-grams
    that start with ``<s>``; continuation counts (distinct predecessors) otherwise."""
    tables: list[Counter[Ngram]] = [Counter() for _ in range(order)]
    for gram, count in raw.items():
        tables[len(gram) - 1][gram] += count
    for n in range(order - 1, 0, -1):
        for gram in tables[n]:  # distinct (n + 1)-grams: each adds one predecessor
            tables[n - 1][gram[1:]] += 1  # a suffix never starts with <s>
    return tables


def _order_probs(
    n: int, table: Mapping[Ngram, int], words: set[str], lower: Mapping[Ngram, float]
) -> tuple[dict[Ngram, float], dict[Ngram, float]]:
    """The interpolated probabilities of the n-grams of one order and the back-off mass
    ``gamma`` of each history, from the adjusted counts and the order below."""
    d = discounts(Counter(min(c, 4) for c in table.values() if c > 0))
    totals: defaultdict[Ngram, float] = defaultdict(float)
    kinds: defaultdict[Ngram, list[int]] = defaultdict(lambda: [0, 0, 0])
    for gram, count in table.items():
        totals[gram[:-1]] += count
        if count > 0:
            kinds[gram[:-1]][min(count, 3) - 1] += 1
    gamma = {
        h: sum(di * ki for di, ki in zip(d, kinds[h], strict=True)) / totals[h]
        for h in totals
        if totals[h] > 0
    }
    grams: Iterable[Ngram] = [(w,) for w in sorted(words)] if n == 1 else table
    probs: dict[Ngram, float] = {}
    for gram in grams:
        count = table.get(gram, 0)
        below = 1.0 / len(words) if n == 1 else lower[gram[1:]]
        mass = max(count - d[min(count, 3) - 1], 0.0) if count > 0 else 0.0
        probs[gram] = mass / totals[gram[:-1]] + gamma[gram[:-1]] * below
    return probs, gamma


def kneser_ney(
    sentences: Iterable[Sequence[str]], order: int = 3, vocabulary: Iterable[str] = ()
) -> NgramModel:
    """Fit an interpolated modified Kneser-Ney model.

    Args:
        sentences: Tokenised sentences (without ``<s>``/``</s>``).
        order: Longest n-gram, 1 to 6.
        vocabulary: Extra words to give unigram probability (the uniform share) even
            when no sentence holds them.

    Raises:
        ValueError: If ``order`` is out of range or there are no words.
    """
    if not 1 <= order <= 6:
        raise ValueError(f"language model order={order} must be between 1 and 6")
    raw = _raw_counts(sentences, order)
    if not raw:
        raise ValueError("the language model corpus holds no words; give at least one sentence")
    tables = _adjusted_counts(raw, order)
    words = {g[-1] for g in tables[0]} | set(vocabulary) | {EOS}
    words.discard(BOS)
    log10_prob: list[dict[Ngram, float]] = []
    backoff: dict[Ngram, float] = {}
    lower: dict[Ngram, float] = {}
    for n, table in enumerate(tables, start=1):
        probs, gamma = _order_probs(n, table, words, lower)
        if n > 1:
            for history, g in gamma.items():
                backoff[history] = math.log10(g)
        lower = probs
        logged = {g: math.log10(p) for g, p in probs.items()}
        if n == 1:
            logged[(BOS,)] = LOG10_ZERO
        log10_prob.append(logged)
    vocab = tuple(sorted(words | {BOS}))
    sizes = [len(t) for t in log10_prob]
    logger.info("n-gram model: order %d, %d words, %s n-grams", order, len(vocab) - 2, sizes)
    return NgramModel(order, tuple(log10_prob), backoff, vocab)
