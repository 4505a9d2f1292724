"""The fitted transformer behind the candidate model, over the rows of training/feature_rows.py.

The rows themselves (and FEATURE_VERSION) live in training/feature_rows.py, which does not
import scikit-learn; they are re-exported here for training and the tests. Pickled
artifacts name `dermcoder.training.features.CandidateVectorizer`, so the class stays here.
"""

from __future__ import annotations

import copy

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer

from dermcoder.training.feature_rows import (  # noqa: F401 - re-exported
    FEATURE_VERSION,
    WINDOW,
    CandidateRow,
    _band_margin,
    _candidate_features,
    _mention_cues,
    _note_cues,
    _window,
    candidate_rows,
    note_row,
)


def raw_transform(estimator, X):
    """`estimator.transform(X)` without scikit-learn's set_output wrapper.

    The wrapper only converts dense output to pandas/polars when `set_output` asks for it
    (sparse output it refuses); DermCoder never sets it, and the wrapper's per-call cost
    showed in the profile of one note. With any other output configured, the normal call.
    """
    from sklearn.utils._set_output import _get_output_config

    raw = getattr(type(estimator).transform, "__wrapped__", None)
    if raw is None or _get_output_config("transform", estimator)["dense"] != "default":
        return estimator.transform(X)
    return raw(estimator, X)


class CandidateVectorizer(BaseEstimator, TransformerMixin):
    """Dict features one-hot/numeric (DictVectorizer) beside word n-grams of the evidence window (tf-idf).

    Input: a sequence of (features dict, window text) pairs. Follows the transformer
    contract: parameters set in __init__ only, fitted state in trailing-underscore attributes.
    """

    def __init__(self, ngram_range: tuple[int, int] = (1, 2), min_df: int = 2, text_weight: float = 1.0):
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.text_weight = text_weight

    def fit(self, X, y=None):
        feats, texts = self._split(X)
        self.dict_ = DictVectorizer(sparse=True).fit(feats)
        self.text_ = TfidfVectorizer(ngram_range=self.ngram_range, min_df=self.min_df, sublinear_tf=True,
                                     lowercase=True, token_pattern=r"(?u)\b[a-z][a-z]+\b|\d+(?:\.\d+)?")  # fmt: skip
        try:
            self.text_.fit(texts)
        except ValueError:  # too few rows for min_df: fall back to every n-gram
            self.text_.set_params(min_df=1).fit(texts)
        self.scale_ = self._numeric_scale(self.dict_.transform(feats))
        return self

    def transform(self, X):
        feats, texts = self._split(X)
        structured = raw_transform(self.dict_, feats).multiply(self.scale_).tocsr()
        return sparse.hstack([structured, self.text_.transform(texts) * self.text_weight]).tocsr()

    def __getstate__(self):
        # TfidfVectorizer caches id(stop_words), a memory address, on every transform: left
        # out of the pickle so that `make train` writes the same bytes every run (sklearn
        # recomputes it when absent).
        state = super().__getstate__()
        text = state.get("text_")
        if text is not None and "_stop_words_id" in text.__dict__:
            text = copy.copy(text)
            del text.__dict__["_stop_words_id"]
            state["text_"] = text
        return state

    @staticmethod
    def _split(X) -> tuple[list[dict], list[str]]:
        feats = [x[0] for x in X]
        texts = [x[1] for x in X]
        return feats, texts

    @staticmethod
    def _numeric_scale(matrix) -> np.ndarray:
        # Keep counts and margins on the one-hot scale so one regularisation strength fits all.
        peak = np.asarray(abs(matrix).max(axis=0).todense()).ravel()
        peak[peak == 0] = 1.0
        return (1.0 / peak).reshape(1, -1)
