"""The scorer's feature transforms row by row in plain Python, bit for bit as scikit-learn.

A note has a handful of candidate rows. Building scipy sparse matrices for them (the
DictVectorizer and TfidfVectorizer outputs, the scale multiply, the hstack, the matrix
product) cost ~3 ms per note in fixed per-call overhead, a quarter of the time to code
a note. Here each row is a list of (column, value) pairs sorted by column, and the
logistic decision is summed over those pairs in column order: that is exactly the
order and the arithmetic of scipy's CSR product (`y = 0; y += x_j * w_j` over the sorted
columns of a row), and every value is computed with the same IEEE operations as the
library (elementwise products and quotients, a sequential sum of squares and `sqrt` for
the l2 norm, numpy's own `log` for sublinear tf). tests/training/test_rowscore.py checks
the results equal scikit-learn's bit for bit on the corpus.

Only the two pipeline shapes DermCoder trains are compiled (`CandidateVectorizer`, and
`DictVectorizer` + `MaxAbsScaler`); anything else returns None and keeps the library path.
"""

from __future__ import annotations

import math
import re
from numbers import Number
from typing import Callable

import numpy as np

Row = list[tuple[int, float]]
RowTransform = Callable[[list], "list[Row] | None"]  # DictRows or CandidateRows


def _dict_row(vocab: dict, separator: str, x: dict) -> Row | None:
    """One DictVectorizer row (before sorting), or None for a value the plain path must handle."""
    row: Row = []
    for f, v in x.items():
        kind = type(v)
        if kind is str:
            name = "%s%s%s" % (f, separator, v)  # the library's own formatting
            v = 1
        elif kind is int or kind is float or kind is bool:
            name = f
        elif isinstance(v, str):
            name = "%s%s%s" % (f, separator, v)
            v = 1
        elif isinstance(v, Number) and not isinstance(v, complex):
            name = f
        else:  # None (NaN), iterables, mappings: rare, and the library knows their rules
            return None
        j = vocab.get(name)
        if j is not None:
            row.append((j, float(v)))
    return row


def _sorted_unique(row: Row) -> Row | None:
    row.sort()
    for k in range(1, len(row)):
        if row[k][0] == row[k - 1][0]:
            return None  # a duplicated column would be summed differently; let scipy do it
    return row


class DictRows:
    """`DictVectorizer.transform`, then optionally each column times a fixed factor."""

    def __init__(self, vectorizer, factors: np.ndarray | None = None) -> None:
        self.vocab: dict[str, int] = vectorizer.vocabulary_
        self.separator: str = vectorizer.separator
        self.width = len(vectorizer.feature_names_)
        self.factors = None if factors is None else [float(f) for f in np.asarray(factors).ravel()]

    def to_plain(self) -> dict:
        """Everything this transform reads, as JSON values (training/scorer_cache.py)."""
        vocab = {name: int(j) for name, j in self.vocab.items()}
        return {"vocab": vocab, "separator": self.separator, "width": self.width, "factors": self.factors}

    @classmethod
    def from_plain(cls, data: dict) -> DictRows:
        """The transform `to_plain` described, without scikit-learn."""
        rows = cls.__new__(cls)
        rows.vocab, rows.separator, rows.width = dict(data["vocab"]), data["separator"], int(data["width"])
        rows.factors = None if data["factors"] is None else [float(f) for f in data["factors"]]
        return rows

    def __call__(self, dicts: list[dict]) -> list[Row] | None:
        rows = []
        for x in dicts:
            row = _dict_row(self.vocab, self.separator, x)
            row = _sorted_unique(row) if row is not None else None
            if row is None:
                return None
            if self.factors is not None:
                f = self.factors
                row = [(j, v * f[j]) for j, v in row]
            rows.append(row)
        return rows


class TfidfRows:
    """`TfidfVectorizer.transform` (word n-grams, tf or log tf, idf, l2 norm), times a weight."""

    def __init__(self, token_pattern: str, vocab: dict[str, int], sublinear: bool, idf: list[float] | None,
                 weight: float = 1.0) -> None:  # fmt: skip
        self.token_pattern = token_pattern
        self.analyze = _word_analyzer(re.compile(token_pattern))
        self.vocab = vocab
        self.sublinear = bool(sublinear)
        self.idf = None if idf is None else np.asarray(idf, dtype=np.float64)
        self.weight = float(weight)

    @classmethod
    def from_vectorizer(cls, vectorizer, weight: float = 1.0) -> TfidfRows | None:
        """The transform of a fitted vectorizer, or None when its analyzer is not the plain
        word (1, 2)-gram one (`_plain_word_pattern`): the library's path then serves it."""
        pattern = _plain_word_pattern(vectorizer)
        if pattern is None:
            return None
        idf = np.asarray(vectorizer.idf_, dtype=np.float64).tolist() if vectorizer.use_idf else None
        return cls(pattern, vectorizer.vocabulary_, vectorizer.sublinear_tf, idf, weight)

    def to_plain(self) -> dict:
        """Everything this transform reads, as JSON values (floats survive JSON exactly)."""
        idf = None if self.idf is None else self.idf.tolist()
        vocab = {term: int(j) for term, j in self.vocab.items()}  # the library's may be numpy ints
        return {"token_pattern": self.token_pattern, "vocab": vocab, "sublinear": self.sublinear, "idf": idf,
                "weight": self.weight}  # fmt: skip

    @classmethod
    def from_plain(cls, data: dict) -> TfidfRows:
        return cls(data["token_pattern"], dict(data["vocab"]), data["sublinear"], data["idf"], data["weight"])

    def __call__(self, texts: list[str]) -> list[Row] | None:
        # Bytes or NaN in place of a window text: the library's own conversions and errors.
        if not all(type(text) is str for text in texts):
            return None
        # Every alternative of a rule line carries its parent's window text: each distinct
        # text is transformed once (each value is computed elementwise, so it is the same
        # whichever rows share the batch).
        unique = list(dict.fromkeys(texts))
        if len(unique) < len(texts):
            done = dict(zip(unique, self(unique)))
            return [list(done[text]) for text in texts]
        columns: list[list[int]] = []
        counts: list[int] = []
        for text in texts:
            counter: dict[int, int] = {}
            for term in self.analyze(text):
                j = self.vocab.get(term)
                if j is not None:
                    counter[j] = counter.get(j, 0) + 1
            cols = sorted(counter)
            columns.append(cols)
            counts.extend(counter[j] for j in cols)
        # The batch's values in one array, as the library holds them: numpy's log (not
        # math.log, which may differ in the last bit) and elementwise idf products.
        data = np.asarray(counts, dtype=np.float64)
        if self.sublinear:
            np.log(data, data)
            data += 1.0
        flat_cols = [j for cols in columns for j in cols]
        if self.idf is not None and flat_cols:
            data *= self.idf[np.asarray(flat_cols, dtype=np.intp)]
        values = data.tolist()
        rows: list[Row] = []
        k = 0
        for cols in columns:
            vals = values[k : k + len(cols)]
            k += len(cols)
            total = 0.0
            for v in vals:
                total += v * v
            if total != 0.0:
                norm = math.sqrt(total)
                vals = [v / norm for v in vals]
            rows.append([(j, v * self.weight) for j, v in zip(cols, vals)])
        return rows


def _plain_word_pattern(vectorizer) -> str | None:
    """The token pattern of a word (1, 2)-gram vectorizer with only lowercasing and that
    pattern (no groups), whose analyzer `_word_analyzer` reproduces; None for any other
    configuration."""
    params = vectorizer.get_params()
    if not (params["analyzer"] == "word" and params["input"] == "content" and params["lowercase"] is True
            and params["preprocessor"] is None and params["tokenizer"] is None and params["stop_words"] is None
            and params["strip_accents"] is None and tuple(params["ngram_range"]) == (1, 2)
            and isinstance(params["token_pattern"], str)):  # fmt: skip
        return None
    if re.compile(params["token_pattern"]).groups != 0:
        return None  # the library then reads the one group
    return params["token_pattern"]


def _word_analyzer(pattern: re.Pattern) -> Callable[[str], list[str]]:
    """`build_analyzer()` of such a vectorizer for str input, as one findall plus the bigrams.

    scikit-learn's analyzer chains decode, preprocess, tokenize and `_word_ngrams` through
    partials, ~15% of the scorer's time; the terms are the same (the order differs, and
    only the counts per term are read)."""
    findall = pattern.findall

    def analyze(text: str) -> list[str]:
        tokens = findall(text.lower())
        return tokens + [a + " " + b for a, b in zip(tokens, tokens[1:])]

    return analyze


class CandidateRows:
    """CandidateVectorizer's transform: its dict rows, then its word rows after them."""

    def __init__(self, structured: DictRows, words: TfidfRows) -> None:
        self.structured = structured
        self.words = words
        self.offset = structured.width

    def __call__(self, X: list) -> list[Row] | None:
        left = self.structured([x[0] for x in X])
        if left is None:
            return None
        right = self.words([x[1] for x in X])
        if right is None:
            return None
        offset = self.offset
        return [a + [(j + offset, v) for j, v in b] for a, b in zip(left, right)]

    def to_plain(self) -> dict:
        return {"structured": self.structured.to_plain(), "words": self.words.to_plain()}

    @classmethod
    def from_plain(cls, data: dict) -> CandidateRows:
        return cls(DictRows.from_plain(data["structured"]), TfidfRows.from_plain(data["words"]))


def rows_to_plain(rows: RowTransform) -> dict:
    """A compiled row transform as JSON values: `rows_from_plain` rebuilds it without scikit-learn."""
    kind = "candidate" if isinstance(rows, CandidateRows) else "dict"
    return {"kind": kind, **rows.to_plain()}


def rows_from_plain(data: dict) -> RowTransform:
    """The row transform `rows_to_plain` wrote."""
    if data["kind"] == "candidate":
        return CandidateRows.from_plain(data)
    if data["kind"] == "dict":
        return DictRows.from_plain(data)
    raise ValueError(f"unknown row transform {data['kind']!r}")


def compile_rows(steps: list) -> RowTransform | None:
    """A row transform equal to running `steps` (a fitted pipeline's transformers), or None."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import MaxAbsScaler

    from dermcoder.training.features import CandidateVectorizer

    def plain_dict(v) -> bool:
        return type(v) is DictVectorizer and v.sparse and v.dtype is np.float64

    if len(steps) == 1 and type(steps[0]) is CandidateVectorizer:
        vec = steps[0]
        text = vec.text_
        if not (plain_dict(vec.dict_) and type(text) is TfidfVectorizer and text.norm == "l2" and not text.binary
                and text.dtype is np.float64 and text.analyzer == "word"):  # fmt: skip
            return None
        words = TfidfRows.from_vectorizer(text, float(vec.text_weight))
        return None if words is None else CandidateRows(DictRows(vec.dict_, vec.scale_), words)
    if len(steps) == 2 and plain_dict(steps[0]) and type(steps[1]) is MaxAbsScaler:
        # MaxAbsScaler scales a sparse matrix by the reciprocal, computed once by numpy.
        return DictRows(steps[0], 1.0 / steps[1].scale_)
    return None


def fold_decisions(rows: list[Row], weights: np.ndarray) -> np.ndarray:
    """`decisions(rows, weights.T.tolist())` as an array (folds x rows), with the same sums.

    The products are numpy's elementwise IEEE products, and each row's sum is a cumulative
    sum (`add.accumulate`, strictly left to right, never pairwise) over its columns in order,
    from 0.0 like the loop: one pass for every fold at once instead of a Python loop per
    fold. `weights` is (features x folds), C-contiguous float64.
    """
    out = np.zeros((len(rows), weights.shape[1]))
    cols = [j for row in rows for j, _v in row]
    if not cols:
        return out.T
    vals = np.asarray([v for row in rows for _j, v in row], dtype=np.float64)
    products = np.empty((len(cols) + 1, weights.shape[1]))
    products[1:] = vals[:, None] * weights[np.asarray(cols, dtype=np.intp)]
    k = 0
    for r, row in enumerate(rows):
        if row:
            # the row's products after one slot (the previous row's last product, no longer
            # needed) set to the loop's `total = 0.0`
            segment = products[k : k + len(row) + 1]
            segment[0] = 0.0
            out[r] = np.add.accumulate(segment, axis=0)[-1]
        k += len(row)
    return out.T


def decisions(rows: list[Row], coefs: list[list[float]]) -> list[list[float]]:
    """`X @ coef` for sparse rows and each coef vector, summed in column order like scipy's CSR product."""
    out = []
    for coef in coefs:
        sums = []
        for row in rows:
            total = 0.0
            for j, v in row:
                total += v * coef[j]
            sums.append(total)
        out.append(sums)
    return out
