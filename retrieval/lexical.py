"""The lexical channel: BM25 over item texts, as sparse matrix products (exact).

With ``tf(t, d)`` the count of term ``t`` in item text ``d``, ``|d|`` its length in terms
and ``avg`` the mean length, an item's BM25 weight of a term is

``w(t, d) = idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avg))``,
``idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))`` (Lucene's, never negative),

and ``score(q, d) = sum_t c(t, q) * w(t, d)`` with ``c(t, q)`` the term's count in the
query: a sparse (queries x terms) by (terms x items) product. Terms are scikit-learn
``CountVectorizer`` tokens (lower-cased words, single letters kept).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

from fusionrank.io import atomic_path
from fusionrank.retrieval.modality import Hits, top_k

logger = logging.getLogger(__name__)

TOKEN_PATTERN = r"(?u)\b\w+\b"
SCAN_ROWS = 256
"""Queries scored against the whole catalog at once (bounds memory: rows x n_items)."""


@dataclass(frozen=True, eq=False)
class LexicalQueries:
    """Queries as term counts.

    Args:
        counts: float32 CSR, shape (U, n_terms): ``c(t, q)``.
        n_words: int64, shape (U,): distinct words of each query, in the vocabulary or not.
    """

    counts: sparse.csr_matrix
    n_words: np.ndarray


class LexicalIndex:
    """BM25 scores and query-word coverage of items.

    Args:
        vocabulary: term -> column.
        term_counts: CSR, shape (n_items, n_terms): ``tf(t, d)``.
        k1, b: BM25 parameters.
    """

    name = "lexical"

    def __init__(
        self, vocabulary: dict[str, int], term_counts: sparse.csr_matrix, k1: float, b: float
    ) -> None:
        self.vectorizer = CountVectorizer(token_pattern=TOKEN_PATTERN, vocabulary=vocabulary)
        self._analyze = self.vectorizer.build_analyzer()
        self.term_counts = sparse.csr_matrix(term_counts, dtype=np.float32)
        self.k1, self.b = k1, b
        self.weights = self._bm25_weights().T.tocsr()  # (n_terms, n_items)
        self.present = (self.term_counts > 0).astype(np.float32).T.tocsr()  # (n_terms, n_items)

    @classmethod
    def build(cls, texts: Sequence[str], k1: float, b: float) -> LexicalIndex:
        """Fit the vocabulary on item texts and count their terms."""
        vectorizer = CountVectorizer(token_pattern=TOKEN_PATTERN)
        counts = vectorizer.fit_transform(list(texts))
        vocabulary = {str(t): int(i) for t, i in vectorizer.vocabulary_.items()}
        return cls(vocabulary, counts, k1, b)

    @property
    def n_items(self) -> int:
        return int(self.term_counts.shape[0])

    def _bm25_weights(self) -> sparse.csr_matrix:
        """``w(t, d)`` as CSR, shape (n_items, n_terms)."""
        tf = self.term_counts.tocoo()
        n_items = self.term_counts.shape[0]
        lengths = np.asarray(self.term_counts.sum(axis=1)).ravel()
        average = max(float(lengths.mean()), 1e-9) if n_items else 1.0
        df = np.bincount(tf.col, minlength=self.term_counts.shape[1])
        idf = np.log1p((n_items - df + 0.5) / (df + 0.5))
        norm = self.k1 * (1 - self.b + self.b * lengths[tf.row] / average)
        data = idf[tf.col] * tf.data * (self.k1 + 1) / (tf.data + norm)
        return sparse.csr_matrix(
            (data.astype(np.float32), (tf.row, tf.col)), shape=self.term_counts.shape
        )

    def encode(self, texts: Sequence[str]) -> LexicalQueries:
        """Term counts and word counts of query texts."""
        counts = self.vectorizer.transform(list(texts)).astype(np.float32).tocsr()
        n_words = np.array([len(set(self._analyze(t))) for t in texts], dtype=np.int64)
        return LexicalQueries(counts=counts, n_words=n_words)

    def search(self, queries: LexicalQueries, k: int) -> Hits:
        """Exact top-``k`` by scanning every item, and each query's score moments.

        Only items with a positive score are hits; the rest of a row is ``-1`` / ``-inf``
        (a query with no catalog word has no lexical hits at all).
        """
        n = queries.counts.shape[0]
        k = min(k, self.n_items)
        scores = np.empty((n, k), dtype=np.float32)
        items = np.empty((n, k), dtype=np.int64)
        mean = np.empty(n, dtype=np.float64)
        std = np.empty(n, dtype=np.float64)
        for start in range(0, n, SCAN_ROWS):
            block = (queries.counts[start : start + SCAN_ROWS] @ self.weights).toarray()
            stop = start + block.shape[0]
            scores[start:stop], items[start:stop] = top_k(block, k)
            mean[start:stop] = block.mean(axis=1)
            std[start:stop] = block.std(axis=1)
        # an item that shares no word with the query is no lexical hit: no rank, no slot
        none = scores <= 0
        scores[none], items[none] = -np.inf, -1
        return Hits(scores=scores, items=items, mean=mean, std=std)

    def pair_scores(
        self, queries: LexicalQueries, rows: np.ndarray, items: np.ndarray
    ) -> np.ndarray:
        """BM25 of pairs: float32 (n,) for query rows (n,) and item indices (n,)."""
        return _pairwise(queries.counts, self.weights, rows, items)

    def coverage(self, queries: LexicalQueries, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Share of each query's distinct words that the item's text contains, (n,)."""
        binary = queries.counts.copy()
        binary.data[:] = 1.0
        found = _pairwise(binary, self.present, rows, items)
        return (found / np.maximum(queries.n_words[rows], 1)).astype(np.float32)

    def save(self, folder: Path) -> None:
        with atomic_path(folder / "lexical_vocabulary.json") as tmp:
            tmp.write_text(json.dumps(self.vectorizer.vocabulary))
        with atomic_path(folder / "lexical_counts.npz") as tmp:
            with tmp.open("wb") as handle:
                sparse.save_npz(handle, self.term_counts)

    @classmethod
    def load(cls, folder: Path, k1: float, b: float) -> LexicalIndex:
        vocabulary = json.loads((folder / "lexical_vocabulary.json").read_text())
        return cls(vocabulary, sparse.load_npz(folder / "lexical_counts.npz").tocsr(), k1, b)


def _pairwise(
    left: sparse.csr_matrix, right_t: sparse.csr_matrix, rows: np.ndarray, items: np.ndarray
) -> np.ndarray:
    """``left[rows[i]] . right_t[:, items[i]]`` for every i, float32 (n,).

    Scores each distinct row against every item it meets at once, so the cost is one
    sparse product per block of rows rather than one per pair.
    """
    out = np.zeros(len(rows), dtype=np.float32)
    if not len(rows):
        return out
    for start in range(0, left.shape[0], SCAN_ROWS):
        block_rows = (rows >= start) & (rows < start + SCAN_ROWS)
        if not block_rows.any():
            continue
        block = (left[start : start + SCAN_ROWS] @ right_t).toarray()
        out[block_rows] = block[rows[block_rows] - start, items[block_rows]]
    return out
