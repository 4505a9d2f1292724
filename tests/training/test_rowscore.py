"""The row-by-row scorer transforms (training/rowscore.py) against scikit-learn's own path."""

from __future__ import annotations

import numpy as np
import pytest

from dermcoder.training.rowscore import DictRows, compile_rows, decisions
from tests.conftest import corpus_feature_rows


def _dense(rows, width: int) -> np.ndarray:
    out = np.zeros((len(rows), width))
    for i, row in enumerate(rows):
        for j, v in row:
            out[i, j] = v
    return out


def test_rows_equal_the_pipeline_transform_bit_for_bit(engine):
    """Every feature value of every corpus row is the one scikit-learn computes, in sorted columns."""
    scorer = engine.scorer
    rows, note_rows = corpus_feature_rows(engine, step=3)
    for model, X in ((scorer.candidate_model, rows), (scorer.note_model, note_rows)):
        steps = [step for _name, step in model.steps[:-1]]
        fast = compile_rows(steps)
        assert fast is not None
        expected = X
        for step in steps:
            expected = step.transform(expected)
        got = fast(X)
        assert all([j for j, _v in row] == sorted({j for j, _v in row}) for row in got)
        assert np.array_equal(_dense(got, expected.shape[1]), expected.toarray())


def test_scorer_uses_the_rows_and_matches_predict_proba(engine):
    scorer = engine.scorer
    assert scorer._candidate_proba.rows is not None and scorer._note_proba.rows is not None
    rows, note_rows = corpus_feature_rows(engine, step=2)
    assert np.array_equal(scorer._candidate_proba(rows), scorer.candidate_model.predict_proba(rows)[:, 1])
    assert np.array_equal(scorer._note_proba(note_rows), scorer.note_model.predict_proba(note_rows)[:, 1])
    for row in rows[:40]:  # one row at a time, as for a one-line note
        assert scorer._candidate_proba([row])[0] == scorer.candidate_model.predict_proba([row])[0, 1]


def test_a_value_the_rows_do_not_handle_falls_back_to_the_library(engine):
    """A list-valued feature (DictVectorizer's iterable rule) is not compiled: the library's path scores it."""
    scorer = engine.scorer
    rows, _ = corpus_feature_rows(engine, step=50)
    odd = [({**rows[0][0], "extra": ["x", "y"]}, rows[0][1])]
    assert scorer._candidate_proba.rows(odd) is None
    np.testing.assert_array_equal(scorer._candidate_proba(odd), scorer.candidate_model.predict_proba(odd)[:, 1])


def test_unknown_pipeline_shapes_are_not_compiled():
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.preprocessing import StandardScaler

    vec = DictVectorizer().fit([{"a": 1, "b": "x"}])
    assert compile_rows([vec, StandardScaler(with_mean=False)]) is None
    assert compile_rows([]) is None
    assert DictRows(vec)([{"a": 2, "b": "x", "c": 5}]) == [[(0, 2.0), (1, 1.0)]]


@pytest.mark.parametrize("rows", [[], [[]], [[(0, 0.5), (2, -1.25)], [(1, 3.0)]]])
def test_decisions_equal_a_csr_product(rows):
    from scipy import sparse

    coefs = [[0.1, -0.2, 0.3], [1.5, 0.0, -2.0]]
    got = decisions(rows, coefs)
    if not rows:
        assert got == [[], []]
        return
    X = sparse.csr_matrix(_dense(rows, 3))
    for coef, sums in zip(coefs, got):
        assert np.array_equal((X @ np.array(coef).reshape(-1, 1)).reshape(-1), np.array(sums))
