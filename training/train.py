"""Train the scorer: fit on `train` (plus coder feedback), tune on `dev`, write the artifact.

Steps, all with fixed seeds so `make train` rebuilds the same model:
1. Run the rules (no scorer) over every train/dev note and make candidate rows, labelled
   by gold: a rule line is right when its code and units are in gold; an alternative
   when its code is.
2. Candidate model: CandidateVectorizer + logistic regression, calibrated with
   CalibratedClassifierCV (sigmoid, 5 folds). Regularisation C is chosen on dev log-loss.
3. Note model: out-of-fold line probabilities on train (GroupKFold by note, so no note
   scores itself) summarised per note with note-level cues, logistic regression
   calibrated the same way (C on dev log-loss), labelled by CPT note exact match.
4. Thresholds on dev: `reject` only if setting lines aside raises dev CPT F1;
   `straight_through` = the lowest note confidence at which dev notes above it are at
   least 97% exact; `review` = 0.90, a plain probability since the lines are calibrated.
The test split is never read here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler

from dermcoder.coding.rulebook import CodingContext
from dermcoder.contracts import LabeledNote
from dermcoder.errors import DermCoderError, InputError
from dermcoder.training.calibration import best_coverage, lowest_threshold
from dermcoder.training.features import FEATURE_VERSION, CandidateRow, CandidateVectorizer, candidate_rows, note_row
from dermcoder.training.model import DECIMALS, library_versions, save_model

SEED = 13
TARGET_EXACT = 0.97
REVIEW_PROBABILITY = 0.90
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)


@dataclass
class CodedNote:
    """One labelled note with the rules' output and its candidate rows."""

    note: LabeledNote
    ctx: CodingContext
    rows: list[CandidateRow]
    labels: list[int]


def gold_units(note: LabeledNote) -> dict[str, int]:
    units: dict[str, int] = {}
    for line in note.cpt:
        units[line.code] = units.get(line.code, 0) + line.units
    return units


def label_rows(rows: list[CandidateRow], note: LabeledNote) -> list[int]:
    gold = gold_units(note)
    out = []
    for row in rows:
        if row.kind == "primary":
            out.append(int(gold.get(row.code) == row.units))
        else:
            out.append(int(row.code in gold))
    return out


def data_hash(notes: Iterable[LabeledNote]) -> str:
    """SHA-256 over the training notes' ids, text and labels, in id order."""
    digest = hashlib.sha256()
    for note in sorted(notes, key=lambda n: n.id):
        payload = {"id": note.id, "text": note.text, "cpt": [c.model_dump() for c in note.cpt], "icd10": note.icd10}
        digest.update(json.dumps(payload, sort_keys=True, default=str).encode("utf-8"))
    return digest.hexdigest()


def code_notes(notes: list[LabeledNote], engine, progress: Callable[[int], None] | None = None) -> list[CodedNote]:
    """Run the rules over labelled notes (the engine must have no scorer loaded)."""
    out = []
    for note in notes:
        ctx = engine.coding_context(note.text)
        rows = candidate_rows(ctx)
        out.append(CodedNote(note, ctx, rows, label_rows(rows, note)))
        if progress:
            progress(1)
    return out


def _xy(coded: list[CodedNote]) -> tuple[list, np.ndarray, np.ndarray]:
    X, y, groups = [], [], []
    for g, cn in enumerate(coded):
        for row, label in zip(cn.rows, cn.labels):
            X.append((row.features, row.text))
            y.append(label)
            groups.append(g)
    return X, np.array(y), np.array(groups)


def calibration_folds(y) -> int:
    """Folds for CalibratedClassifierCV: 5, or fewer when one outcome has fewer examples (a
    small corpus whose notes the rules code almost all right); never below 2."""
    counts = np.bincount(np.asarray(y, dtype=int), minlength=2)
    if counts.min() < 2:
        raise InputError(f"training needs at least 2 examples of each outcome (right and wrong) to calibrate; "
                         f"found {int(counts[1])} right and {int(counts[0])} wrong: add notes to the train split")
    return int(min(5, counts.min()))


def candidate_pipeline(C: float, estimator: str, seed: int = SEED, folds: int = 5) -> Pipeline:
    if estimator == "dummy":
        clf = DummyClassifier(strategy="prior")
    else:
        base = LogisticRegression(C=C, max_iter=5000, solver="liblinear", random_state=seed)
        clf = CalibratedClassifierCV(base, method="sigmoid", cv=folds)
    return Pipeline([("features", CandidateVectorizer()), ("classifier", clf)])


def note_pipeline(estimator: str, seed: int = SEED, C: float = 1.0, folds: int = 5) -> Pipeline:
    if estimator == "dummy":
        clf = DummyClassifier(strategy="prior")
    else:
        base = LogisticRegression(C=C, max_iter=5000, solver="liblinear", random_state=seed)
        clf = CalibratedClassifierCV(base, method="sigmoid", cv=folds)
    return Pipeline([("features", DictVectorizer()), ("scale", MaxAbsScaler()), ("classifier", clf)])


def _predict(model: Pipeline, X: list) -> np.ndarray:
    """Probabilities rounded as the engine rounds them, so thresholds cut the same values."""
    return np.round(model.predict_proba(X)[:, 1], DECIMALS) if X else np.zeros(0)


def _per_note(coded: list[CodedNote], probs: np.ndarray) -> list[np.ndarray]:
    out, i = [], 0
    for cn in coded:
        out.append(probs[i : i + len(cn.rows)])
        i += len(cn.rows)
    return out


def _note_features(cn: CodedNote, probs: np.ndarray, reject: float) -> tuple[dict, list[tuple[str, int]]]:
    """Note-model row and the (code, units) lines kept after setting aside rejected lines."""
    lines, line_probs, alt_probs = [], [], []
    for row, p in zip(cn.rows, probs):
        if row.kind == "primary":
            if p >= reject:
                lines.append((row.code, row.units))
                line_probs.append(float(p))
        else:
            alt_probs.append(float(p))
    return note_row(cn.ctx, line_probs, alt_probs, [c.confidence for c in cn.ctx.candidates]), lines


def _exact(cn: CodedNote, lines: list[tuple[str, int]]) -> int:
    merged: dict[str, int] = {}
    for code, units in lines:
        merged[code] = merged.get(code, 0) + (units or 0)
    return int(merged == gold_units(cn.note))


def _cpt_f1(coded: list[CodedNote], probs: list[np.ndarray], reject: float) -> float:
    tp = fp = fn = 0
    for cn, p in zip(coded, probs):
        pred = {row.code for row, q in zip(cn.rows, p) if row.kind == "primary" and q >= reject}
        gold = set(gold_units(cn.note))
        tp += len(pred & gold)
        fp += len(pred - gold)
        fn += len(gold - pred)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def straight_through_threshold(confidences: np.ndarray, exact: np.ndarray, target: float = TARGET_EXACT) -> float:
    """Lowest confidence t at which notes with confidence >= t are at least `target` exact (1.01: none)."""
    t = lowest_threshold(confidences, exact, target)
    return 1.01 if t is None else t


def train_scorer(
    train: list[CodedNote],
    dev: list[CodedNote],
    estimator: str = "logistic",
    seed: int = SEED,
) -> tuple[dict, dict]:
    """Fit both models and tune thresholds; returns (artifact, held-out report on dev)."""
    X_train, y_train, groups = _xy(train)
    X_dev, y_dev, _ = _xy(dev)
    if len(set(y_train)) < 2:
        raise DermCoderError("training needs both right and wrong candidate lines; the training notes give only one kind")

    # 2. candidate model, C chosen on dev log-loss
    best_c, best_loss = C_GRID[0], float("inf")
    if estimator != "dummy" and len(set(y_dev)) == 2:
        for C in C_GRID:
            model = candidate_pipeline(C, estimator, seed, calibration_folds(y_train)).fit(X_train, y_train)
            loss = log_loss(y_dev, _predict(model, X_dev), labels=[0, 1])
            if loss < best_loss - 1e-9:
                best_c, best_loss = C, loss
    candidate_model = candidate_pipeline(best_c, estimator, seed, calibration_folds(y_train)).fit(X_train, y_train)

    # 3. out-of-fold line probabilities on train feed the note model
    oof = np.zeros(len(y_train))
    folds = GroupKFold(n_splits=min(5, len(train)))
    for fit_idx, held_idx in folds.split(X_train, y_train, groups):
        fold_y = y_train[fit_idx]
        if len(set(fold_y)) < 2:
            oof[held_idx] = fold_y.mean()
            continue
        fold_model = candidate_pipeline(best_c, estimator, seed, calibration_folds(fold_y)).fit([X_train[i] for i in fit_idx], fold_y)
        oof[held_idx] = _predict(fold_model, [X_train[i] for i in held_idx])
    train_probs = _per_note(train, oof)
    dev_probs = _per_note(dev, _predict(candidate_model, X_dev))

    # 4a. reject threshold: only if it raises dev CPT F1
    reject, base_f1 = 0.0, _cpt_f1(dev, dev_probs, 0.0)
    best_f1 = base_f1
    if estimator != "dummy":
        for t in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3):
            f1 = _cpt_f1(dev, dev_probs, t)
            if f1 > best_f1 + 0.005:
                reject, best_f1 = t, f1

    note_X, note_y = [], []
    for cn, p in zip(train, train_probs):
        feats, lines = _note_features(cn, p, reject)
        note_X.append(feats)
        note_y.append(_exact(cn, lines))
    note_y = np.array(note_y)
    if len(set(note_y)) < 2:
        raise DermCoderError("training needs notes the rules code exactly and notes they miss; the training notes give only one kind")
    dev_note_X, dev_exact = [], []
    dev_line_p, dev_line_right = [], []
    for cn, p in zip(dev, dev_probs):
        feats, lines = _note_features(cn, p, reject)
        dev_note_X.append(feats)
        dev_exact.append(_exact(cn, lines))
        for row, q, label in zip(cn.rows, p, cn.labels):
            if row.kind == "primary" and q >= reject:
                dev_line_p.append(q)
                dev_line_right.append(label)
    dev_exact = np.array(dev_exact)
    note_c, note_loss = 1.0, float("inf")
    if estimator != "dummy" and len(set(dev_exact)) == 2:
        for C in C_GRID:
            loss = log_loss(dev_exact, _predict(note_pipeline(estimator, seed, C, calibration_folds(note_y)).fit(note_X, note_y), dev_note_X), labels=[0, 1])
            if loss < note_loss - 1e-9:
                note_c, note_loss = C, loss
    note_model = note_pipeline(estimator, seed, note_c, calibration_folds(note_y)).fit(note_X, note_y)
    dev_conf = _predict(note_model, dev_note_X)
    st = straight_through_threshold(dev_conf, dev_exact)
    # Probabilities are calibrated, so the review bar is a plain probability: a line the
    # model gives less than a 90% chance of being right goes to a coder.
    review = REVIEW_PROBABILITY
    dev_line_p, dev_line_right = np.array(dev_line_p), np.array(dev_line_right)
    flagged = dev_line_p < review
    coverage, st_exact = best_coverage(dev_conf, dev_exact, TARGET_EXACT)

    artifact = {
        "candidate_model": candidate_model,
        "note_model": note_model,
        "thresholds": {"straight_through": st, "reject": reject, "review": review},
        "feature_version": FEATURE_VERSION,
    }
    report = {
        "dev_notes": len(dev),
        "dev_candidate_log_loss": None if best_loss == float("inf") else round(best_loss, 4),
        "dev_cpt_f1_rules": round(base_f1, 4),
        "dev_cpt_f1_with_reject": round(best_f1, 4),
        "dev_note_exact": round(float(dev_exact.mean()), 4) if len(dev_exact) else None,
        "dev_straight_through_coverage": round(coverage, 4),
        "dev_straight_through_exact": round(st_exact, 4) if st_exact is not None else None,
        "dev_note_log_loss": None if note_loss == float("inf") else round(note_loss, 4),
        "dev_lines_flagged_for_review": int(flagged.sum()),
        "dev_right_among_flagged": round(float(dev_line_right[flagged].mean()), 4) if flagged.any() else None,
        "dev_right_among_unflagged": round(float(dev_line_right[~flagged].mean()), 4) if (~flagged).any() else None,
        "chosen_C": best_c,
        "chosen_note_C": note_c,
    }
    return artifact, report


def write_artifact(
    out_dir: Path,
    name: str,
    artifact: dict,
    report: dict,
    train_notes: list[LabeledNote],
    dev_notes: list[LabeledNote],
    feedback_notes: int,
    estimator: str,
    change: str,
    version: str,
) -> dict:
    """Save model.joblib + meta.json; returns the meta written."""
    from dermcoder.nlp.pipeline import PIPELINE_VERSION

    meta = {
        "name": name,
        "version": version,
        "change": change,
        "estimator": "DummyClassifier(prior)" if estimator == "dummy"
        else "CandidateVectorizer + CalibratedClassifierCV(LogisticRegression, sigmoid, cv=5)",
        "feature_version": FEATURE_VERSION,
        "pipeline": PIPELINE_VERSION,
        "seed": SEED,
        "training_data_sha256": data_hash(train_notes),
        "tuning_data_sha256": data_hash(dev_notes),
        "split_counts": {"train": len(train_notes) - feedback_notes, "feedback": feedback_notes, "dev": len(dev_notes)},
        "libraries": library_versions(),
        "thresholds": artifact["thresholds"],
        "held_out": report,
    }  # fmt: skip
    save_model(out_dir, artifact, meta)
    return json.loads((out_dir / "meta.json").read_text(encoding="utf-8"))
