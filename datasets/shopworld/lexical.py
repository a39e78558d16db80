"""The shop's old search engine: TF-IDF over titles and descriptions.

ShopWorld's logging policy ranks with it, so the logs carry a text-heavy bias: products
whose text leaves out what the query asks for are rarely shown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from scipy import sparse

_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class TfidfScorer:
    """Cosine similarity of TF-IDF vectors (sublinear term frequency, smoothed IDF).

    Args:
        documents: One text per item.
    """

    def __init__(self, documents: Sequence[str]) -> None:
        self.vocabulary: dict[str, int] = {}
        rows, cols = [], []
        for row, text in enumerate(documents):
            for token in tokenize(text):
                rows.append(row)
                cols.append(self.vocabulary.setdefault(token, len(self.vocabulary)))
        counts = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(documents), len(self.vocabulary))
        )
        counts.sum_duplicates()
        n_docs = len(documents)
        document_frequency = np.bincount(counts.indices, minlength=len(self.vocabulary))
        self.idf = np.log((1 + n_docs) / (1 + document_frequency)) + 1.0
        counts.data = 1.0 + np.log(counts.data)
        self.matrix = _normalise(counts @ sparse.diags(self.idf))

    def vectorize(self, texts: Sequence[str]) -> sparse.csr_matrix:
        rows, cols = [], []
        for row, text in enumerate(texts):
            for token in tokenize(text):
                column = self.vocabulary.get(token)
                if column is not None:
                    rows.append(row)
                    cols.append(column)
        counts = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(self.vocabulary))
        )
        counts.sum_duplicates()
        counts.data = 1.0 + np.log(counts.data)
        return _normalise(counts @ sparse.diags(self.idf))

    def top(
        self, texts: Sequence[str], k: int, tie_breaker: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best items per query text.

        Args:
            texts: Query texts, Q of them.
            k: Items per query.
            tie_breaker: float, shape (n_items,), values in [0, 1): added at 1e-6 scale so
                that equal scores rank in a fixed, seeded order.

        Returns:
            ``(item_index, scores)``: int64 and float64, shape (Q, k), best first.
        """
        query_vectors = self.vectorize(texts)
        index = np.empty((len(texts), k), dtype=np.int64)
        scores = np.empty((len(texts), k))
        for start in range(0, len(texts), 256):
            block = (query_vectors[start : start + 256] @ self.matrix.T).toarray()
            block += 1e-6 * tie_breaker[None, :]
            top = np.argpartition(-block, k - 1, axis=1)[:, :k]
            top_scores = np.take_along_axis(block, top, axis=1)
            order = np.argsort(-top_scores, axis=1, kind="stable")
            index[start : start + 256] = np.take_along_axis(top, order, axis=1)
            scores[start : start + 256] = np.take_along_axis(top_scores, order, axis=1)
        return index, scores


def _normalise(matrix: sparse.spmatrix) -> sparse.csr_matrix:
    matrix = sparse.csr_matrix(matrix)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return sparse.csr_matrix(sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ matrix)
