"""The scorer's parameters cached as JSON (training/scorer_cache.py): same numbers, no scikit-learn."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from dermcoder.training.model import DEFAULT_MODEL, FastProba, load_model
from dermcoder.training.scorer_cache import cache_path
from tests.conftest import corpus_feature_rows


def test_cached_scorer_equals_the_unpickled_one_bit_for_bit(engine, tmp_path, monkeypatch):
    """First start (builds and writes the JSON) and a later one (reads it) score exactly as
    the FastProba built from the unpickled pipelines."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    rows, note_rows = corpus_feature_rows(engine, step=6)
    first = load_model(DEFAULT_MODEL)
    path = cache_path(first.meta["model_sha256"])
    assert path.is_file()
    later = load_model(DEFAULT_MODEL)
    for scorer in (first, later):
        reference = FastProba(scorer.candidate_model), FastProba(scorer.note_model)
        assert np.array_equal(scorer._candidate_proba(rows), reference[0](rows))
        assert np.array_equal(scorer._note_proba(note_rows), reference[1](note_rows))
        assert np.array_equal(scorer._candidate_proba(rows), scorer.candidate_model.predict_proba(rows)[:, 1])


def test_a_damaged_cache_file_is_rebuilt(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    rows, _ = corpus_feature_rows(engine, step=40)
    path = cache_path(load_model(DEFAULT_MODEL).meta["model_sha256"])
    path.write_text("{not json", encoding="utf-8")
    scorer = load_model(DEFAULT_MODEL)
    assert np.array_equal(scorer._candidate_proba(rows), scorer.candidate_model.predict_proba(rows)[:, 1])
    assert json.loads(path.read_text(encoding="utf-8"))["model_sha256"] == scorer.meta["model_sha256"]


def test_a_cached_scorer_falls_back_to_the_library_for_odd_rows(engine, tmp_path, monkeypatch):
    """A row the plain transforms do not handle unpickles the pipeline and takes its path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    rows, _ = corpus_feature_rows(engine, step=50)
    load_model(DEFAULT_MODEL)  # writes the cache
    scorer = load_model(DEFAULT_MODEL)
    assert scorer._candidate_proba._pipeline is None  # nothing unpickled yet
    odd = [({**rows[0][0], "extra": ["x", "y"]}, rows[0][1])]
    got = scorer._candidate_proba(odd)
    np.testing.assert_array_equal(got, scorer.candidate_model.predict_proba(odd)[:, 1])


def test_coding_with_a_warm_cache_does_not_import_scikit_learn(tmp_path):
    """The cold-start saving this cache exists for: engine + one note, no sklearn/pandas/scipy.stats."""
    code = (
        "import sys\n"
        "from dermcoder.engine import get_engine\n"
        "get_engine().suggest('Shave removal of a 0.4 cm seborrheic keratosis of the left cheek.', 'n1')\n"
        "print(sorted(m for m in ('sklearn', 'pandas', 'scipy.stats', 'joblib') if m in sys.modules))\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("DERMCODER_MODEL", None)
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    later = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert later.returncode == 0, later.stderr[-2000:]
    assert later.stdout.strip().splitlines()[-1] == "[]"
