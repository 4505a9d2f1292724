"""The shipped scorer artifact: its card, its checks on loading, and how the engine uses it."""

from __future__ import annotations

import json
import shutil

import pytest

from dermcoder.training.model import DEFAULT_MODEL, ModelError, load_model, models_root


@pytest.fixture
def artifact_copy(tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(models_root() / DEFAULT_MODEL, target)
    return target


def test_shipped_model_has_a_complete_card():
    meta = json.loads((models_root() / DEFAULT_MODEL / "meta.json").read_text())
    for key in ("name", "version", "change", "training_data_sha256", "split_counts", "libraries", "held_out",
                "thresholds", "feature_version", "pipeline", "model_sha256"):  # fmt: skip
        assert key in meta, key
    assert meta["split_counts"]["train"] > 100 and meta["split_counts"]["dev"] > 30
    assert "test" not in meta["split_counts"]  # the test split is never used to train or tune
    assert {"scikit-learn", "numpy", "dermcoder"} <= set(meta["libraries"])


def test_suggestion_names_the_artifact(engine):
    suggestion = engine.suggest("Shave removal of a 0.4 cm seborrheic keratosis of the left cheek.", "n1")
    assert suggestion.model.name == DEFAULT_MODEL
    assert suggestion.model.artifact_version.startswith(DEFAULT_MODEL + "@")


def test_a_changed_joblib_file_is_refused_before_unpickling(artifact_copy):
    path = artifact_copy / "model.joblib"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match the hash"):
        load_model(str(artifact_copy))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("libraries", {"scikit-learn": "0.24.2"}, "scikit-learn 0.24.2"),
     ("feature_version", 999, "features v999"),
     ("pipeline", "derm-rules-0.0", "pipeline 'derm-rules-0.0'")],
)  # fmt: skip
def test_version_mismatch_fails_with_a_clear_message(artifact_copy, key, value, message):
    meta_path = artifact_copy / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta[key] = value
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="Retrain") as err:
        load_model(str(artifact_copy))
    assert message in str(err.value)


def test_missing_pieces_are_named(artifact_copy, tmp_path):
    (artifact_copy / "meta.json").unlink()
    with pytest.raises(ModelError, match="meta.json is missing"):
        load_model(str(artifact_copy))
    with pytest.raises(ModelError, match=DEFAULT_MODEL):  # lists what is shipped
        load_model("no-such-model")


def test_bad_model_setting_is_one_line_not_a_traceback(cli):
    result = cli("suggest", "-", stdin=b"Shave of a 0.4 cm lesion of the cheek.", env={"DERMCODER_MODEL": "no-such-model"})
    assert result.returncode == 2
    err = result.stderr.decode()
    assert err.startswith("error: no model 'no-such-model'") and "Traceback" not in err


def test_straight_through_and_review_follow_the_thresholds(engine):
    from dermcoder.contracts import LabeledNote
    from dermcoder.jsonl import read_jsonl
    from tests.conftest import REPO

    notes, _ = read_jsonl(REPO / "corpus" / "sample" / "notes.jsonl", LabeledNote)
    thresholds = engine.scorer.thresholds
    seen_review = seen_straight = 0
    # Every split: the shipped model is sure of almost every dev line, so dev alone may
    # never reach the review cut; both operating points must still be exercised.
    for note in notes:
        s = engine.suggest(note.text, note.id)
        assert s.straight_through == (s.note_confidence >= thresholds.straight_through)
        for line in s.cpt:
            assert line.confidence >= thresholds.reject
            assert (line.decision == "review") == (line.confidence < thresholds.review)
            seen_review += line.decision == "review"
        seen_straight += s.straight_through
        if seen_straight and seen_review:
            break
    assert seen_straight > 0 and seen_review > 0  # both operating points are actually reached


def test_rules_only_engine_keeps_the_fixed_rule():
    from dermcoder.engine import STRAIGHT_THROUGH, Engine

    rules = Engine(model="none")
    s = rules.suggest("Shave removal of a 0.4 cm seborrheic keratosis of the left cheek.", "n1")
    assert rules.scorer is None and s.model.name == "rules"
    assert s.straight_through == (s.note_confidence >= STRAIGHT_THROUGH and not s.queries)


def test_model_fast_path_equals_sklearn_predict_proba_bit_for_bit(engine):
    """The scorer's validation-free path must give exactly scikit-learn's probabilities."""
    import numpy as np

    from dermcoder.contracts import LabeledNote
    from dermcoder.jsonl import read_jsonl
    from dermcoder.training.features import candidate_rows, note_row

    from tests.conftest import REPO

    scorer = engine.scorer
    assert scorer._candidate_proba.folds is not None and scorer._note_proba.folds is not None  # the fast path is in use
    notes, _ = read_jsonl(REPO / "corpus" / "sample" / "notes.jsonl", LabeledNote)
    rows, note_rows = [], []
    for note in notes[::4]:
        ctx = engine.coding_context(note.text)
        rows += [(r.features, r.text) for r in candidate_rows(ctx)]
        note_rows.append(note_row(ctx, [0.9, 0.4], [0.2], [c.confidence for c in ctx.candidates]))
    assert len(rows) > 100
    assert np.array_equal(scorer._candidate_proba(rows), scorer.candidate_model.predict_proba(rows)[:, 1])
    assert np.array_equal(scorer._note_proba(note_rows), scorer.note_model.predict_proba(note_rows)[:, 1])
    one = rows[:1]  # the engine scores one note at a time
    assert scorer._candidate_proba(one)[0] == scorer.candidate_model.predict_proba(one)[0, 1]


def test_model_fast_path_falls_back_for_other_estimators(tmp_path):
    """A pipeline the fast path does not know (the dummy baseline) keeps scikit-learn's own predict_proba."""
    import numpy as np
    from sklearn.dummy import DummyClassifier
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.pipeline import Pipeline

    from dermcoder.training.model import FastProba

    pipe = Pipeline([("features", DictVectorizer()), ("classifier", DummyClassifier(strategy="prior"))])
    pipe.fit([{"a": 1}, {"a": 0}, {"a": 1}], [1, 0, 1])
    fast = FastProba(pipe)
    assert fast.folds is None
    assert np.allclose(fast([{"a": 1}]), [2 / 3])


def test_model_scoring_a_batch_gives_each_note_its_own_numbers(engine):
    """score_many (one model call per batch) must equal score (one call per note), bit for bit."""
    from dermcoder.contracts import LabeledNote, NoteIn
    from dermcoder.jsonl import read_jsonl

    from tests.conftest import REPO

    notes, _ = read_jsonl(REPO / "corpus" / "sample" / "notes.jsonl", LabeledNote)
    notes = notes[::5]
    ctxs = [engine.coding_context(n.text) for n in notes]
    assert engine.scorer.score_many(ctxs) == [engine.scorer.score(ctx) for ctx in ctxs]
    batched = list(engine.suggest_many([NoteIn(id=n.id, text=n.text) for n in notes], batch_size=16))
    assert [s.model_dump() for s in batched] == [engine.suggest(n.text, n.id).model_dump() for n in notes]
