"""Training: labels, thresholds, reproducibility, the dummy baseline, and `dermcoder train --feedback`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dermcoder.contracts import LabeledNote
from dermcoder.jsonl import read_jsonl
from dermcoder.training.features import CandidateRow
from dermcoder.training.train import code_notes, label_rows, straight_through_threshold, train_scorer
from tests.conftest import REPO

CORPUS = REPO / "corpus" / "sample" / "notes.jsonl"


@pytest.fixture(scope="module")
def corpus_notes():
    notes, problems = read_jsonl(CORPUS, LabeledNote)
    assert not problems
    return notes


@pytest.fixture(scope="module")
def small_coded(corpus_notes):
    """70 train and 30 dev notes coded by the rules alone (enough to fit, quick to run), with
    misses planted so that both outcomes are there to learn from however good the rules get."""
    from dermcoder.engine import Engine

    rules = Engine(model="none")
    train = _with_misses([n for n in corpus_notes if n.split == "train"][:70])
    dev = _with_misses([n for n in corpus_notes if n.split == "dev"][:30])
    return code_notes(train, rules), code_notes(dev, rules)


def _with_misses(notes: list[LabeledNote], every: int = 4) -> list[LabeledNote]:
    """Every `every`-th note with two CPT lines or more loses its last gold line: the rules'
    line for it becomes a wrong line and the note a miss."""
    out, k = [], 0
    for note in notes:
        if len(note.cpt) >= 2:
            k += 1
            if k % every == 0:
                note = note.model_copy(update={"cpt": note.cpt[:-1]})
        out.append(note)
    return out


def test_labels_need_code_and_units_for_rule_lines_and_code_for_alternatives():
    note = LabeledNote(id="n", text="t", cpt=[{"code": "17000"}, {"code": "17003", "units": 4}, {"code": "11102"}])
    rows = [CandidateRow("17000", 1, "primary", 0), CandidateRow("17003", 3, "primary", 1),
            CandidateRow("11102", None, "alternative", 0), CandidateRow("11104", None, "alternative", 0)]  # fmt: skip
    assert label_rows(rows, note) == [1, 0, 1, 0]


def test_straight_through_threshold_by_hand():
    conf = np.array([0.95, 0.9, 0.8, 0.7, 0.6])
    exact = np.array([1, 1, 1, 0, 1])
    # >= 0.8: 3/3 exact; >= 0.7: 3/4 (< 0.97) -> lowest admissible cut is 0.8
    assert straight_through_threshold(conf, exact) == pytest.approx(0.8)
    assert straight_through_threshold(np.array([0.9, 0.5]), np.array([0, 1])) == pytest.approx(1.01)  # none qualifies


def test_trained_scorer_separates_right_from_wrong_lines(small_coded, corpus_notes):
    from sklearn.metrics import roc_auc_score

    train, dev = small_coded
    artifact, report = train_scorer(train, dev)
    X = [(r.features, r.text) for cn in dev for r in cn.rows]
    y = [label for cn in dev for label in cn.labels]
    probs = artifact["candidate_model"].predict_proba(X)[:, 1]
    assert ((probs >= 0) & (probs <= 1)).all()
    assert roc_auc_score(y, probs) > 0.75
    assert 0 < artifact["thresholds"]["straight_through"] <= 1.01
    assert report["dev_notes"] == 30


def test_training_is_reproducible(small_coded):
    train, dev = small_coded
    a, _ = train_scorer(train, dev)
    b, _ = train_scorer(train, dev)
    X = [(r.features, r.text) for cn in dev for r in cn.rows]
    assert np.array_equal(a["candidate_model"].predict_proba(X), b["candidate_model"].predict_proba(X))
    assert a["thresholds"] == b["thresholds"]


def test_dummy_baseline_cannot_rank(small_coded):
    train, dev = small_coded
    artifact, _ = train_scorer(train, dev, estimator="dummy")
    X = [(r.features, r.text) for cn in dev for r in cn.rows]
    assert len(set(np.round(artifact["candidate_model"].predict_proba(X)[:, 1], 9))) == 1


def _write(path, notes):
    path.write_text("".join(json.dumps(n) + "\n" for n in notes), encoding="utf-8")


def test_train_command_end_to_end_with_feedback(cli, tmp_path, corpus_notes):
    from dermcoder.training.model import load_model

    # Large enough that the rules get at least two training notes wrong: `train` needs two
    # wrong notes for its calibration folds, and the rules keep getting better.
    subset = [n for n in corpus_notes if n.split == "train"][:150] + [n for n in corpus_notes if n.split == "dev"][:20]
    corpus = tmp_path / "corpus.jsonl"
    _write(corpus, [n.model_dump(exclude_none=True) for n in subset])
    dev_text = next(n.text for n in subset if n.split == "dev")
    feedback = tmp_path / "feedback.jsonl"
    _write(feedback, [
        {"id": "fb-1", "text": "Shave removal of a 0.6 cm irritated seborrheic keratosis of the right forearm.",
         "cpt": [{"code": "11301"}], "icd10": ["L82.0"], "source": "feedback"},
        {"id": "fb-2", "text": "Cryodestruction of 3 actinic keratoses of the scalp.",
         "cpt": [{"code": "17000"}, {"code": "17003", "units": 2}], "icd10": ["L57.0"], "source": "feedback"},
        {"id": "fb-3", "text": dev_text, "cpt": [], "icd10": [], "source": "feedback"},  # repeats a dev note
    ])  # fmt: skip

    plain = cli("train", str(corpus), "--out", str(tmp_path / "plain"))
    assert plain.returncode == 0, plain.stderr.decode()
    with_fb = cli("train", str(corpus), "--out", str(tmp_path / "fb"), "--feedback", str(feedback), "--change", "coder feedback")
    assert with_fb.returncode == 0, with_fb.stderr.decode()
    assert "repeat a dev/test note and are left out: fb-3" in with_fb.stderr.decode()

    meta_plain = json.loads((tmp_path / "plain" / "meta.json").read_text())
    meta_fb = json.loads((tmp_path / "fb" / "meta.json").read_text())
    assert meta_plain["split_counts"] == {"train": 150, "feedback": 0, "dev": 20}
    assert meta_fb["split_counts"] == {"train": 150, "feedback": 2, "dev": 20}
    assert meta_fb["training_data_sha256"] != meta_plain["training_data_sha256"]
    assert meta_fb["tuning_data_sha256"] == meta_plain["tuning_data_sha256"]
    assert meta_fb["change"] == "coder feedback"
    scorer = load_model(str(tmp_path / "fb"))
    assert scorer.meta["split_counts"]["feedback"] == 2


def test_train_refuses_a_corpus_without_splits(cli, tmp_path):
    corpus = tmp_path / "c.jsonl"
    _write(corpus, [{"id": "a", "text": "Shave of a 0.4 cm lesion.", "cpt": [{"code": "11300"}]}])
    result = cli("train", str(corpus), "--out", str(tmp_path / "m"))
    assert result.returncode == 2
    assert "split 'train' and 'dev'" in result.stderr.decode()
    assert not (tmp_path / "m").exists()


def test_evaluate_plots(cli, tmp_path, corpus_notes):
    subset = [n.model_dump(exclude_none=True) for n in corpus_notes if n.split == "dev"][:15]
    gold = tmp_path / "gold.jsonl"
    _write(gold, subset)
    result = cli("evaluate", str(gold), "--plots", str(tmp_path / "plots"), "--json")
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["note_ece"] is not None and report["cpt_line_ece"] is not None
    for name in ("reliability-cpt-lines.png", "reliability-notes.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:4] == b"\x89PNG"


def test_make_train_rebuilds_the_shipped_artifact(cli, tmp_path):
    """The shipped model.joblib is exactly what training on the committed corpus gives.

    Fails when the rules, features or corpus changed without `make train` being rerun.
    """
    from dermcoder.training.model import DEFAULT_MODEL, models_root

    result = cli("train", str(CORPUS), "--name", DEFAULT_MODEL, "--out", str(tmp_path / "m"))
    assert result.returncode == 0, result.stderr.decode()
    rebuilt = json.loads((tmp_path / "m" / "meta.json").read_text())
    shipped = json.loads((models_root() / DEFAULT_MODEL / "meta.json").read_text())
    assert rebuilt["training_data_sha256"] == shipped["training_data_sha256"]
    assert rebuilt["model_sha256"] == shipped["model_sha256"], "the shipped model is stale: run `make train`"


def test_coder_feedback_flows_from_the_service_into_training(cli, tmp_path, engine, corpus_notes):
    """Learning from coders, end to end: page/API decisions -> store -> export -> train --feedback."""
    from fastapi.testclient import TestClient

    from dermcoder.service.app import create_app
    from dermcoder.settings import Settings

    url = f"sqlite:///{tmp_path / 'fb.db'}"
    settings = Settings(data_dir=tmp_path, database_url=url, store_note_text=True)
    notes = {
        "n1": "Shave removal of a 0.6 cm irritated seborrheic keratosis of the right forearm.",
        "n2": "Excision of a 1.2 cm epidermoid cyst of the back with 0.2 cm margins. Simple closure.",
    }
    with TestClient(create_app(settings)) as client:
        for note_id, text in notes.items():
            suggestion = client.post("/v1/suggest", json={"id": note_id, "text": text}).json()
            assert suggestion["cpt"], suggestion
            decisions = [{"system": "CPT", "code": line["code"], "decision": "accepted"} for line in suggestion["cpt"]]
            if note_id == "n2":  # the coder bills a different excision band
                first = suggestion["cpt"][0]["code"]
                replacement = "11403" if first != "11403" else "11404"
                decisions[0] = {"system": "CPT", "code": first, "decision": "overridden", "replacement_code": replacement}
            stored = client.post("/v1/feedback", json={"audit_id": suggestion["audit_id"], "decisions": decisions})
            assert stored.status_code == 201, stored.text

    exported = tmp_path / "feedback.jsonl"
    result = cli("feedback", "export", str(exported), "--db", url)
    assert result.returncode == 0, result.stderr.decode()
    labeled = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert sorted(n["text"] for n in labeled) == sorted(notes.values())
    n2 = next(n for n in labeled if n["text"] == notes["n2"])
    assert replacement in [c["code"] for c in n2["cpt"]]

    subset = _with_misses([n for n in corpus_notes if n.split == "train"][:40]) + [n for n in corpus_notes if n.split == "dev"][:15]
    corpus = tmp_path / "corpus.jsonl"
    _write(corpus, [n.model_dump(exclude_none=True) for n in subset])
    trained = cli("train", str(corpus), "--out", str(tmp_path / "model"), "--feedback", str(exported))
    assert trained.returncode == 0, trained.stderr.decode()
    meta = json.loads((tmp_path / "model" / "meta.json").read_text())
    assert meta["split_counts"] == {"train": 40, "feedback": 2, "dev": 15}


@pytest.mark.parametrize("y,folds", [([0, 1] * 10, 5), ([1] * 30 + [0] * 3, 3), ([1] * 30 + [0] * 2, 2)])
def test_calibration_folds_follow_the_rarer_outcome(y, folds):
    from dermcoder.training.train import calibration_folds

    assert calibration_folds(y) == folds


def test_calibration_folds_refuse_a_single_example_of_an_outcome():
    from dermcoder.errors import InputError
    from dermcoder.training.train import calibration_folds

    with pytest.raises(InputError, match="at least 2 examples of each outcome"):
        calibration_folds([1] * 40 + [0])
