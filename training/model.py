"""A trained scorer artifact: load it (checking versions), score one coding context.

An artifact is a folder `models/<name>/` holding `model.joblib` (the two fitted
scikit-learn pipelines and the operating thresholds) and `meta.json` (what it was
trained on, with which libraries, and how it did on held-out notes). `meta.json` also
records the SHA-256 of `model.joblib`: joblib files are pickles, so a file that does not
match its card is refused before it is unpickled.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import joblib
import numpy as np
import sklearn
from scipy import sparse
from scipy.special import expit

from dermcoder.coding.rulebook import CodingContext
from dermcoder.errors import DermCoderError
from dermcoder.training.features import FEATURE_VERSION, _note_cues, candidate_rows, note_row, raw_transform
from dermcoder.training.rowscore import compile_rows, fold_decisions

DEFAULT_MODEL = "derm-lr-v1"
# Suggestions show probabilities to this many decimals, and every decision (thresholds
# at training, gating at run time) is taken on the shown value, so what a coder reads
# always agrees with the decision.
DECIMALS = 4
RULES_ONLY = "none"


class ModelError(DermCoderError):
    """A model artifact is missing, damaged, or was built for other versions."""


@dataclass
class Thresholds:
    """Operating points, tuned on dev when the artifact was trained."""

    straight_through: float  # note_confidence at or above which a note needs no review
    reject: float  # a rule line below this probability is moved to alternatives
    review: float  # a line below this probability is flagged for a coder's review


@dataclass
class NoteScores:
    """What the scorer says about one note's candidates."""

    line_probs: dict[int, float] = field(default_factory=dict)  # ctx.candidates index -> P(line right)
    alternative_probs: dict[str, float] = field(default_factory=dict)  # code -> P(code billable here)
    note_confidence: float = 0.0


def library_versions() -> dict[str, str]:
    """The versions an artifact depends on (recorded at training, checked at loading)."""
    import scipy
    import spacy

    from dermcoder import __version__

    return {
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "dermcoder": __version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "spacy": spacy.__version__,
        "joblib": joblib.__version__,
    }


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def check_meta(meta: dict, where: str) -> None:
    """Refuse an artifact whose features, rules or scikit-learn differ from this install."""
    from dermcoder.nlp.pipeline import PIPELINE_VERSION

    problems = []
    if meta.get("feature_version") != FEATURE_VERSION:
        problems.append(f"features v{meta.get('feature_version')} (this install reads v{FEATURE_VERSION})")
    if meta.get("pipeline") != PIPELINE_VERSION:
        problems.append(f"pipeline {meta.get('pipeline')!r} (this install runs {PIPELINE_VERSION!r})")
    trained = (meta.get("libraries") or {}).get("scikit-learn", "?")
    if _minor(trained) != _minor(sklearn.__version__):
        problems.append(f"scikit-learn {trained} (installed {sklearn.__version__})")
    if problems:
        raise ModelError(f"{where}: model was built for " + "; ".join(problems)
                         + ". Retrain it with `make train` (or `dermcoder train`), or set DERMCODER_MODEL=none for rules only.")  # fmt: skip


def models_root() -> Path:
    return Path(str(resources.files("dermcoder.models")))


def resolve_model_dir(name: str) -> Path:
    """A model name under the shipped models/ folder, or a path to an artifact folder."""
    candidate = Path(name)
    if candidate.is_dir():
        return candidate
    shipped = models_root() / name
    if shipped.is_dir():
        return shipped
    known = sorted(p.name for p in models_root().iterdir() if (p / "meta.json").is_file())
    raise ModelError(f"no model {name!r}: not a folder, and not one of the shipped models ({', '.join(known) or 'none'}). "
                     "Set DERMCODER_MODEL to one of those, to an artifact folder, or to 'none' for rules only.")  # fmt: skip


class FastProba:
    """`pipeline.predict_proba(X)[:, 1]` for a fitted scorer pipeline, without the per-call checks.

    Profiling `make bench` showed scikit-learn's input validation (check_array, narwhals
    dataframe sniffing, set_output wrappers) taking ~60% of the time to code one note:
    the scorer is called once per note on a handful of rows, so the fixed cost per call
    dominates. This runs the same fitted objects with the same arithmetic in the same
    order (transform steps, then per calibrated fold `X @ coef.T + intercept`, the sigmoid
    `expit(-(a * d + b))`, and the running mean), so its results are bit-for-bit those of
    `predict_proba` (tests/training/test_model.py checks that on the corpus). The transform
    steps themselves run row by row in plain Python when training/rowscore.py knows their
    shape (the shipped ones): building scipy matrices for a few rows was the next ~3 ms
    per note. Pipelines of any other shape (a DummyClassifier baseline, isotonic calibration, ...) keep
    scikit-learn's own path.
    """

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline
        self.steps = [step for _name, step in pipeline.steps[:-1]]
        self.folds = self._folds(pipeline.steps[-1][1])
        # The transforms row by row without scipy matrices (training/rowscore.py), when
        # the pipeline has a shape that module knows; else the steps' own transform.
        self.rows = compile_rows(self.steps) if self.folds is not None else None
        self.coefs = [coef_t[:, 0].tolist() for coef_t, _i, _a, _b in self.folds or []]
        # (features x folds): every fold's decision in one pass (rowscore.fold_decisions)
        self.weights = np.ascontiguousarray(np.array(self.coefs, dtype=np.float64).T) if self.folds else None
        # per fold, as (folds x 1) columns
        self.intercepts = np.array([[float(np.asarray(i).reshape(-1)[0])] for _c, i, _a, _b in self.folds or []])
        self.a = np.array([[a] for _c, _i, a, _b in self.folds or []], dtype=np.float64)
        self.b = np.array([[b] for _c, _i, _a, b in self.folds or []], dtype=np.float64)

    @staticmethod
    def _folds(clf) -> list[tuple[np.ndarray, np.ndarray, float, float]] | None:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import LogisticRegression

        if not isinstance(clf, CalibratedClassifierCV) or len(clf.classes_) != 2:
            return None
        folds = []
        for cc in clf.calibrated_classifiers_:
            est = cc.estimator
            if (cc.method != "sigmoid" or type(est) is not LogisticRegression or len(cc.calibrators) != 1
                    or est.coef_.shape[0] != 1 or list(est.classes_) != list(clf.classes_)):  # fmt: skip
                return None
            cal = cc.calibrators[0]
            folds.append((est.coef_.T, est.intercept_, cal.a_, cal.b_))
        return folds

    def __call__(self, X: list) -> np.ndarray:
        """P(positive class) for each row of X."""
        if self.folds is None:
            return self.pipeline.predict_proba(X)[:, 1]
        rows = self.rows(X) if self.rows is not None and len(X) else None
        if rows is not None:
            # every fold at once, as columns: the same elementwise operations as one fold at a
            # time (decision + intercept, a * d + b, negation, expit), then the same running
            # sum over the folds in order
            decision = fold_decisions(rows, self.weights) + self.intercepts
            probs = expit(-(self.a * decision + self.b))
            mean = np.zeros(len(rows))
            for p in probs:
                mean += p
            mean /= len(self.folds)
            return mean
        for step in self.steps:
            X = raw_transform(step, X)
        if sparse.issparse(X):
            X = X.tocsr()
        mean = np.zeros(X.shape[0])
        for coef_t, intercept, a, b in self.folds:
            decision = (X @ coef_t + intercept).reshape(-1)
            mean += expit(-(a * decision + b))
        mean /= len(self.folds)
        return mean


class CodeScorer:
    """The trained scorer behind `confidence`, `note_confidence` and `straight_through`."""

    def __init__(self, name: str, meta: dict, candidate_model, note_model, thresholds: Thresholds):
        self.name = name
        self.meta = meta
        self.candidate_model = candidate_model
        self.note_model = note_model
        self.thresholds = thresholds
        self._candidate_proba = FastProba(candidate_model)
        self._note_proba = FastProba(note_model)

    @property
    def version(self) -> str:
        return f"{self.name}@{self.meta.get('version', '?')}"

    def score(self, ctx: CodingContext) -> NoteScores:
        """Probabilities for every rule line and alternative of one note, and the note's confidence."""
        return self.score_many([ctx])[0]

    def score_many(self, ctxs: list[CodingContext]) -> list[NoteScores]:
        """`score` for several notes with one call per model (each row is scored on its own, so
        the numbers are those of one note at a time; the per-call cost is paid once)."""
        # the note-level cues (a scan of every mention) once per note, for both models
        cues = [_note_cues(ctx) for ctx in ctxs]
        per_note = [candidate_rows(ctx, c) for ctx, c in zip(ctxs, cues)]
        flat = [(r.features, r.text) for rows in per_note for r in rows]
        probs = self._candidate_proba(flat) if flat else []
        out: list[NoteScores] = []
        note_features = []
        k = 0
        for ctx, rows, note_cues in zip(ctxs, per_note, cues):
            scores = NoteScores()
            for row in rows:
                p = probs[k]
                k += 1
                if row.kind == "primary":
                    scores.line_probs[row.parent] = round(float(p), DECIMALS)
                else:
                    scores.alternative_probs[row.code] = round(float(p), DECIMALS)
            kept = [p for p in scores.line_probs.values() if p >= self.thresholds.reject]
            note_features.append(note_row(ctx, kept, list(scores.alternative_probs.values()),
                                          [c.confidence for c in ctx.candidates], note_cues))  # fmt: skip
            out.append(scores)
        if out:
            for scores, confidence in zip(out, self._note_proba(note_features)):
                scores.note_confidence = round(float(confidence), DECIMALS)
        return out


def save_model(directory: Path, artifact: dict, meta: dict) -> None:
    """Write model.joblib and meta.json (with the joblib file's hash) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "model.joblib"
    joblib.dump(artifact, path, compress=3)
    meta = dict(meta, model_sha256=sha256_file(path))
    (directory / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _checked_meta(name: str) -> tuple[Path, Path, dict]:
    """(artifact folder, model.joblib, meta) after every check short of unpickling."""
    directory = resolve_model_dir(name)
    meta_path, model_path = directory / "meta.json", directory / "model.joblib"
    for path in (meta_path, model_path):
        if not path.is_file():
            raise ModelError(f"{directory}: {path.name} is missing; retrain with `make train`")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{meta_path}: not valid JSON ({exc})") from None
    check_meta(meta, str(directory))
    if meta.get("model_sha256") != sha256_file(model_path):
        raise ModelError(f"{model_path}: does not match the hash in meta.json; refusing to unpickle it. Retrain with `make train`.")
    return directory, model_path, meta


def peek_model(name: str) -> tuple[str, str]:
    """(name, version) that `load_model(name).name/.version` would report, checked but not unpickled."""
    directory, _model_path, meta = _checked_meta(name)
    artifact_name = meta.get("name", directory.name)
    return artifact_name, f"{artifact_name}@{meta.get('version', '?')}"


def load_model(name: str) -> CodeScorer:
    """Load and check an artifact; every failure is a ModelError with a plain message."""
    directory, model_path, meta = _checked_meta(name)
    try:
        artifact = joblib.load(model_path)
        thresholds = Thresholds(**artifact["thresholds"])
        return CodeScorer(meta.get("name", directory.name), meta, artifact["candidate_model"], artifact["note_model"], thresholds)
    except Exception as exc:  # a damaged pickle can raise almost anything
        raise ModelError(f"{model_path}: could not be loaded ({type(exc).__name__}: {exc})") from None


def model_name_from_env() -> str:
    """DERMCODER_MODEL (read with the other settings): a shipped model name, an artifact folder, or 'none'."""
    from dermcoder.settings import settings_from_env

    return (settings_from_env().model or "").strip() or DEFAULT_MODEL
