"""A pair featurizer from the catalog alone, for simulators fitted without a retriever.

The product's featurizer is the retriever's ``pair_features`` (it carries the image
evidence); :class:`CatalogFeaturizer` plays the same :class:`~fusionrank.protocols.
PairFeaturizer` role from the catalog's text and prices, so that ``sim fit`` works
before an index is built and tests need no encoders.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

from fusionrank.types import Catalog

MATCH_COLUMNS = ("category", "brand")
"""Catalog columns whose value, when the query names it, makes a match feature."""


def _column(table: pd.DataFrame, name: str) -> pd.Series:
    if name in table.columns:
        return table[name].fillna("").astype(str)
    return pd.Series([""] * len(table), index=table.index)


class CatalogFeaturizer:
    """Features of (query, item) pairs from the catalog's text and prices.

    Features, per pair (float32):

    * ``title_cosine``: cosine of the query's and the title's word TF-IDF vectors;
    * ``text_cosine``: the same for title + description;
    * ``char_cosine``: the same for character 3-5-grams of title + description (catches
      inflections and partial words);
    * ``coverage``: the share of the query's words that occur in title + description;
    * ``category_match``, ``brand_match``: 1 when the query contains the item's value of
      that column (as whole words), else 0 (0 when the column is missing);
    * ``log_price``: ``ln(1 + price)`` (0 without prices);
    * ``price_z``: ``(ln(1 + price) - mean) / std`` within the item's category (over the
      whole catalog without categories).

    Args:
        catalog: The catalog; the vectorisers are fitted on its texts.
    """

    def __init__(self, catalog: Catalog) -> None:
        table = catalog.table
        titles = _column(table, "title").tolist()
        texts = (_column(table, "title") + " " + _column(table, "description")).tolist()
        self._title = TfidfVectorizer(sublinear_tf=True).fit(titles)
        self._text = TfidfVectorizer(sublinear_tf=True).fit(texts)
        self._char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
        self._char.fit(texts)
        self._words = CountVectorizer(binary=True).fit(texts)
        self._analyze = self._words.build_analyzer()
        self._items = [
            normalize(self._title.transform(titles)).tocsr(),
            normalize(self._text.transform(texts)).tocsr(),
            normalize(self._char.transform(texts)).tocsr(),
            self._words.transform(texts).tocsr(),
        ]
        self._matchers: list[tuple[CountVectorizer | None, np.ndarray]] = [
            self._matcher(_column(table, name)) for name in MATCH_COLUMNS
        ]
        self._price = self._price_features(table)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return (
            "title_cosine",
            "text_cosine",
            "char_cosine",
            "coverage",
            *(f"{name}_match" for name in MATCH_COLUMNS),
            "log_price",
            "price_z",
        )

    @staticmethod
    def _matcher(values: pd.Series) -> tuple[CountVectorizer | None, np.ndarray]:
        lowered = values.str.lower().str.strip()
        vocabulary = sorted(v for v in lowered.unique() if v)
        if not vocabulary:
            return None, np.full(len(values), -1, dtype=np.int64)
        longest = max(len(v.split()) for v in vocabulary)
        vectorizer = CountVectorizer(
            vocabulary=vocabulary, ngram_range=(1, longest), binary=True, lowercase=True
        )
        column = pd.Index(vocabulary).get_indexer(pd.Index(lowered)).astype(np.int64)
        return vectorizer, column

    @staticmethod
    def _price_features(table: pd.DataFrame) -> np.ndarray:
        if "price" not in table.columns:
            return np.zeros((len(table), 2))
        log_price = np.log1p(pd.to_numeric(table["price"], errors="coerce").fillna(0.0))
        groups = _column(table, "category")
        mean = log_price.groupby(groups).transform("mean")
        std = log_price.groupby(groups).transform("std").fillna(0.0).clip(lower=1e-6)
        return np.stack([log_price.to_numpy(), ((log_price - mean) / std).to_numpy()], axis=1)

    def _query_features(self, texts: Sequence[str]) -> list[sparse.csr_matrix]:
        """Per-query sparse rows for each text vectoriser and matcher."""
        out = [normalize(v.transform(texts)).tocsr() for v in (self._title, self._text, self._char)]
        # Word indicators scaled by 1 / (number of distinct query words), so that the dot
        # product with an item's word indicators is the covered share.
        n_words = np.array([max(len(set(self._analyze(t))), 1) for t in texts], dtype=np.float64)
        out.append(sparse.diags(1.0 / n_words) @ self._words.transform(texts).tocsr())
        for vectorizer, _ in self._matchers:
            if vectorizer is None:
                out.append(sparse.csr_matrix((len(texts), 1)))
            else:
                out.append(vectorizer.transform(texts).tocsr())
        return out

    def pair_features(self, query_texts: Sequence[str], item_index: np.ndarray) -> np.ndarray:
        """Features of each query's items.

        Args:
            query_texts: B query strings.
            item_index: int64, shape (B, L): catalog item indices, ``PAD`` (-1) allowed.

        Returns:
            float32, shape (B, L, F); zeros at ``PAD``.
        """
        if len(query_texts) != item_index.shape[0]:
            raise ValueError(
                f"{len(query_texts)} query texts for {item_index.shape[0]} rows of items"
            )
        unique, inverse = np.unique(np.asarray(query_texts, dtype=str), return_inverse=True)
        queries = self._query_features(list(unique))
        n, n_ranks = item_index.shape
        shown = item_index >= 0
        rows = np.repeat(inverse.reshape(-1), n_ranks)[shown.ravel()]
        items = item_index[shown]
        features = np.zeros((n, n_ranks, len(self.feature_names)), dtype=np.float32)
        columns = [
            np.asarray(q[rows].multiply(i[items]).sum(axis=1)).ravel()
            for q, i in zip(queries[:4], self._items, strict=True)
        ]
        for (_, column), matrix in zip(self._matchers, queries[4:], strict=True):
            item_column = column[items]
            hit = np.asarray(matrix[rows, np.maximum(item_column, 0)]).ravel() > 0
            columns.append((hit & (item_column >= 0)).astype(np.float64))
        columns.extend(self._price[items].T)
        features[shown] = np.stack(columns, axis=1)
        return features
