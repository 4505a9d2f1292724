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
from importlib import metadata, resources
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.special import expit

from dermcoder.coding.rulebook import CodingContext
from dermcoder.errors import DermCoderError
from dermcoder.training.feature_rows import FEATURE_VERSION, _note_cues, candidate_rows, note_row
from dermcoder.training.rowscore import compile_rows, fold_decisions, rows_from_plain, rows_to_plain
from dermcoder.training.scorer_cache import cached_parameters

# scikit-learn (and joblib, scipy.sparse) are imported where an artifact is unpickled,
# trained or scored by the library's own path: a process that only codes notes from the
# cached parameters (training/scorer_cache.py) never imports them (~2 s of cold start).

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
    import joblib
    import scipy
    import sklearn
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


def installed_sklearn() -> str:
    """scikit-learn's version, from its package metadata (the same string as `sklearn.__version__`,
    without importing the library)."""
    return metadata.version("scikit-learn")


def check_meta(meta: dict, where: str) -> None:
    """Refuse an artifact whose features, rules or scikit-learn differ from this install."""
    from dermcoder.nlp.pipeline import PIPELINE_VERSION

    problems = []
    if meta.get("feature_version") != FEATURE_VERSION:
        problems.append(f"features v{meta.get('feature_version')} (this install reads v{FEATURE_VERSION})")
    if meta.get("pipeline") != PIPELINE_VERSION:
        problems.append(f"pipeline {meta.get('pipeline')!r} (this install runs {PIPELINE_VERSION!r})")
    trained = (meta.get("libraries") or {}).get("scikit-learn", "?")
    installed = installed_sklearn()
    if _minor(trained) != _minor(installed):
        problems.append(f"scikit-learn {trained} (installed {installed})")
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

    `to_plain` / `from_plain`: the rows and fold parameters as JSON values, so a later
    process scores without unpickling the pipeline (training/scorer_cache.py); the
    pipeline is then loaded only if a row needs the library's path.
    """

    def __init__(self, pipeline) -> None:
        self._pipeline = pipeline
        self._load: Callable[[], object] | None = None
        self._steps: list | None = None
        self._folds_list = self._folds(pipeline.steps[-1][1])
        self._folds_read = True
        folds = self._folds_list
        # The transforms row by row without scipy matrices (training/rowscore.py), when
        # the pipeline has a shape that module knows; else the steps' own transform.
        self.rows = compile_rows(self.steps) if folds is not None else None
        self._set_parameters(None if folds is None else [coef_t[:, 0].tolist() for coef_t, _i, _a, _b in folds],
                             [float(np.asarray(i).reshape(-1)[0]) for _c, i, _a, _b in folds or []],
                             [a for _c, _i, a, _b in folds or []], [b for _c, _i, _a, b in folds or []])  # fmt: skip

    def _set_parameters(self, coefs: list[list[float]] | None, intercepts: list[float], a: list[float], b: list[float]) -> None:
        """The folds' parameters as arrays; `coefs` None: a pipeline shape only the library scores."""
        self.n_folds = None if coefs is None else len(coefs)
        # (features x folds): every fold's decision in one pass (rowscore.fold_decisions)
        self.weights = np.ascontiguousarray(np.array(coefs, dtype=np.float64).T) if coefs else None
        # per fold, as (folds x 1) columns
        self.intercepts = np.array([[i] for i in intercepts])
        self.a = np.array([[x] for x in a], dtype=np.float64)
        self.b = np.array([[x] for x in b], dtype=np.float64)

    def to_plain(self) -> dict | None:
        """What `from_plain` needs, as JSON values; None when scoring needs the pipeline itself."""
        if self.rows is None or not self.n_folds:
            return None
        return {"rows": rows_to_plain(self.rows), "coefs": self.weights.T.tolist(),
                "intercepts": self.intercepts[:, 0].tolist(), "a": self.a[:, 0].tolist(), "b": self.b[:, 0].tolist()}  # fmt: skip

    @classmethod
    def from_plain(cls, data: dict, load: Callable[[], object]) -> FastProba:
        """The scorer `to_plain` described; `load()` unpickles the pipeline if it is ever needed."""
        fast = cls.__new__(cls)
        fast._pipeline, fast._load, fast._steps, fast._folds_list, fast._folds_read = None, load, None, None, False
        fast.rows = rows_from_plain(data["rows"])
        fast._set_parameters(data["coefs"], data["intercepts"], data["a"], data["b"])
        return fast

    @property
    def pipeline(self):
        """The fitted pipeline (unpickled on first use when built from cached parameters)."""
        if self._pipeline is None:
            self._pipeline = self._load()
        return self._pipeline

    @property
    def steps(self) -> list:
        if self._steps is None:
            self._steps = [step for _name, step in self.pipeline.steps[:-1]]
        return self._steps

    @property
    def folds(self) -> list[tuple[np.ndarray, np.ndarray, float, float]] | None:
        """Per calibrated fold (coef.T, intercept, a, b) of the pipeline, or None for another shape."""
        if not self._folds_read:
            self._folds_list = self._folds(self.pipeline.steps[-1][1])
            self._folds_read = True
        return self._folds_list

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
        if self.n_folds is None:
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
            mean /= self.n_folds
            return mean
        from scipy import sparse

        from dermcoder.training.features import raw_transform

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

    def __init__(self, name: str, meta: dict, candidate_proba: FastProba, note_proba: FastProba, thresholds: Thresholds):
        self.name = name
        self.meta = meta
        self.thresholds = thresholds
        self._candidate_proba = candidate_proba
        self._note_proba = note_proba

    @property
    def candidate_model(self):
        """The fitted candidate pipeline (unpickled on first use if the scorer came from the cache)."""
        return self._candidate_proba.pipeline

    @property
    def note_model(self):
        return self._note_proba.pipeline

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
    import joblib

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
    artifact: dict = {}

    def unpickle() -> dict:
        """The artifact itself (scikit-learn's pipelines), once; a ModelError if it is damaged."""
        if not artifact:
            import joblib

            try:
                artifact.update(joblib.load(model_path))
            except Exception as exc:  # a damaged pickle can raise almost anything
                raise ModelError(f"{model_path}: could not be loaded ({type(exc).__name__}: {exc})") from None
        return artifact

    def parameters() -> dict | None:
        """What scoring reads, from the unpickled artifact (None: a shape that needs the library)."""
        loaded = unpickle()
        candidate, note = FastProba(loaded["candidate_model"]), FastProba(loaded["note_model"])
        plain = candidate.to_plain(), note.to_plain()
        if None in plain:
            return None
        return {"thresholds": dict(loaded["thresholds"]), "candidate": plain[0], "note": plain[1]}

    try:
        # meta.json's hash was just checked against model.joblib: it names these parameters
        cached = cached_parameters(meta["model_sha256"], parameters)
        if cached is not None:
            candidate = FastProba.from_plain(cached["candidate"], lambda: unpickle()["candidate_model"])
            note = FastProba.from_plain(cached["note"], lambda: unpickle()["note_model"])
            thresholds = Thresholds(**cached["thresholds"])
        else:
            loaded = unpickle()
            candidate, note = FastProba(loaded["candidate_model"]), FastProba(loaded["note_model"])
            thresholds = Thresholds(**loaded["thresholds"])
        return CodeScorer(meta.get("name", directory.name), meta, candidate, note, thresholds)
    except ModelError:
        raise
    except Exception as exc:  # a damaged pickle can raise almost anything
        raise ModelError(f"{model_path}: could not be loaded ({type(exc).__name__}: {exc})") from None


def model_name_from_env() -> str:
    """DERMCODER_MODEL (read with the other settings): a shipped model name, an artifact folder, or 'none'."""
    from dermcoder.settings import settings_from_env

    return (settings_from_env().model or "").strip() or DEFAULT_MODEL
