"""The metrics of contracts.md section 3, computed exactly as written there.

Inputs are gold `LabeledNote`s and predictions (`PredictionIn`, i.e. suggestion JSON
as read back from a file). A gold note with no prediction line counts as an empty
prediction and is reported in `missing_predictions`; a prediction whose id is not in
gold is ignored and reported in `unmatched_predictions`.

Zero-denominator convention (stated so the numbers can be reproduced by hand):
precision with nothing predicted is 1.0 when gold is also empty, else 0.0; recall
with empty gold likewise; F1 is 0.0 when P + R == 0. Rates over an empty population
(e.g. straight-through exact with no straight-through notes) are None.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable

from dermcoder.contracts import LabeledNote, PredictionIn
from dermcoder.training.calibration import best_coverage, expected_calibration_error
from dermcoder.training.claim_lines import cpt_modifiers, cpt_units, icd_codes, normalize_modifier  # noqa: F401 - normalize_modifier: part of this module's API
from dermcoder.training.error_causes import cpt_family_of, error_causes

@dataclass
class PRF:
    """Micro precision / recall / F1 with the counts behind them."""

    tp: int = 0
    n_pred: int = 0
    n_gold: int = 0

    @property
    def precision(self) -> float:
        if self.n_pred == 0:
            return 1.0 if self.n_gold == 0 else 0.0
        return self.tp / self.n_pred

    @property
    def recall(self) -> float:
        if self.n_gold == 0:
            return 1.0 if self.n_pred == 0 else 0.0
        return self.tp / self.n_gold

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    def add(self, gold: set, pred: set) -> None:
        self.tp += len(gold & pred)
        self.n_gold += len(gold)
        self.n_pred += len(pred)

    def as_dict(self) -> dict:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1,
                "tp": self.tp, "predicted": self.n_pred, "gold": self.n_gold}  # fmt: skip


@dataclass
class EvaluationReport:
    """Every metric of contracts section 3, plus bookkeeping."""

    notes: int
    cpt: dict
    cpt_units_accuracy: float | None
    cpt_note_exact: float
    modifier: dict
    icd: dict
    icd_note_exact: float
    recall_at: dict[str, float | None]
    per_code: list[dict]
    straight_through_coverage: float
    straight_through_exact: float | None
    query_recall: float | None
    false_query_rate: float | None
    cpt_line_ece: float | None = None
    note_ece: float | None = None
    coverage_at_97: float | None = None
    exact_at_97: float | None = None
    missing_predictions: list[str] = field(default_factory=list)
    unmatched_predictions: list[str] = field(default_factory=list)
    prediction_errors: list[str] = field(default_factory=list)
    # every remaining difference, grouped by family/kind and cause (training/error_causes.py)
    error_causes: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _modifier_items(lines: Iterable[dict | object]) -> set[tuple[str, str]]:
    """(code, normalized modifier) items, as modifier precision/recall counts them."""
    return {(code, mod) for code, mods in cpt_modifiers(lines).items() for mod in mods}


def _ranked_cpt(pred: PredictionIn) -> list[str]:
    """Distinct CPT codes in rank order: accepted `cpt`, then CPT `alternatives`."""
    ranked: list[str] = []
    for line in pred.cpt:
        if line.get("code") not in ranked:
            ranked.append(str(line.get("code")))
    for alt in pred.alternatives:
        if alt.get("system", "CPT") == "CPT" and str(alt.get("code")) not in ranked:
            ranked.append(str(alt.get("code")))
    return ranked


@dataclass
class CalibrationItems:
    """(confidence, right?) pairs: one per suggested CPT line and one per note."""

    line_confidence: list[float] = field(default_factory=list)
    line_right: list[int] = field(default_factory=list)
    note_confidence: list[float] = field(default_factory=list)
    note_exact: list[int] = field(default_factory=list)


def calibration_items(gold: list[LabeledNote], predictions: list[PredictionIn]) -> CalibrationItems:
    """A line is right when its code is in gold with the same units; a note when it is an exact match."""
    by_id = {}
    for p in predictions:
        by_id.setdefault(p.id, p)
    items = CalibrationItems()
    for note in gold:
        pred = by_id.get(note.id)
        if pred is None or pred.error:
            continue
        g_units, p_units = cpt_units(note.cpt), cpt_units(pred.cpt)
        for line in pred.cpt:
            conf = line.get("confidence")
            if isinstance(conf, (int, float)):
                items.line_confidence.append(float(conf))
                items.line_right.append(int(g_units.get(str(line.get("code"))) == p_units.get(str(line.get("code")))))
        if pred.note_confidence is not None:
            items.note_confidence.append(float(pred.note_confidence))
            items.note_exact.append(int(set(g_units.items()) == set(p_units.items())))
    return items


def evaluate(gold: list[LabeledNote], predictions: list[PredictionIn],
             family_of: Callable[[str], str] | None = None) -> EvaluationReport:
    """Score predictions against gold per contracts.md section 3, and group what differs by
    cause (`family_of`: CPT code -> family; default the shipped code table)."""
    by_id: dict[str, PredictionIn] = {}
    for p in predictions:
        by_id.setdefault(p.id, p)
    gold_ids = {g.id for g in gold}
    empty = PredictionIn(id="")

    cpt, mods, icd = PRF(), PRF(), PRF()
    unit_hits = unit_total = 0
    cpt_exact = icd_exact = 0
    at_k = {1: [0, 0], 3: [0, 0], 5: [0, 0]}
    per_code: dict[str, PRF] = defaultdict(PRF)
    st_notes = st_exact = 0
    q_expected = q_found = 0
    no_q_notes = no_q_raised = 0
    missing: list[str] = []
    errors: list[str] = []

    for note in gold:
        pred = by_id.get(note.id)
        if pred is None:
            missing.append(note.id)
            pred = empty
        elif pred.error:
            errors.append(f"{note.id}: {pred.error}")

        g_units = cpt_units(note.cpt)
        p_units = cpt_units(pred.cpt)
        g_codes, p_codes = set(g_units), set(p_units)
        cpt.add(g_codes, p_codes)
        for code in g_codes | p_codes:
            per_code[code].add({code} & g_codes, {code} & p_codes)
        for code in g_codes & p_codes:
            unit_total += 1
            unit_hits += g_units[code] == p_units[code]
        exact = set(g_units.items()) == set(p_units.items())
        cpt_exact += exact

        mods.add(_modifier_items(note.cpt), _modifier_items(pred.cpt))

        g_icd, p_icd = icd_codes(note.icd10), icd_codes(pred.icd10)
        icd.add(g_icd, p_icd)
        icd_exact += g_icd == p_icd

        ranked = _ranked_cpt(pred)
        n = len(g_codes)
        for k, tally in at_k.items():
            window = set(ranked[: n + k - 1]) if n else set()
            tally[0] += len(g_codes & window)
            tally[1] += n

        if pred.straight_through:
            st_notes += 1
            st_exact += exact

        expected = {q.fact for q in (note.expected_queries or [])}
        raised = {str(q.get("fact")) for q in pred.queries}
        if expected:
            q_expected += len(expected)
            q_found += len(expected & raised)
        else:
            no_q_notes += 1
            no_q_raised += bool(raised)

    total = len(gold)
    calib = calibration_items(gold, predictions)
    coverage, exact_above = best_coverage(calib.note_confidence, calib.note_exact) if calib.note_confidence else (None, None)
    table = []
    for code in sorted(per_code):
        s = per_code[code]
        table.append({"code": code, "support": s.n_gold, "predicted": s.n_pred, "tp": s.tp,
                      "precision": s.precision, "recall": s.recall, "f1": s.f1})  # fmt: skip
    return EvaluationReport(
        notes=total,
        cpt=cpt.as_dict(),
        cpt_units_accuracy=(unit_hits / unit_total) if unit_total else None,
        cpt_note_exact=cpt_exact / total if total else 0.0,
        modifier=mods.as_dict(),
        icd=icd.as_dict(),
        icd_note_exact=icd_exact / total if total else 0.0,
        recall_at={f"@{k}": (v[0] / v[1] if v[1] else None) for k, v in at_k.items()},
        per_code=table,
        straight_through_coverage=st_notes / total if total else 0.0,
        straight_through_exact=(st_exact / st_notes) if st_notes else None,
        query_recall=(q_found / q_expected) if q_expected else None,
        false_query_rate=(no_q_raised / no_q_notes) if no_q_notes else None,
        cpt_line_ece=expected_calibration_error(calib.line_confidence, calib.line_right),
        note_ece=expected_calibration_error(calib.note_confidence, calib.note_exact),
        coverage_at_97=coverage,
        exact_at_97=exact_above,
        missing_predictions=missing,
        unmatched_predictions=sorted(set(by_id) - gold_ids),
        prediction_errors=errors,
        error_causes=[g.to_dict() for g in error_causes(gold, predictions, family_of or cpt_family_of())],
    )


def summary_rows(report: EvaluationReport) -> list[tuple[str, str]]:
    """(metric, value) rows in the order contracts section 3 lists them, for printing."""

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    c, m, i = report.cpt, report.modifier, report.icd
    return [
        ("notes", str(report.notes)),
        ("CPT precision", pct(c["precision"])),
        ("CPT recall", pct(c["recall"])),
        ("CPT F1", pct(c["f1"])),
        ("CPT units accuracy", pct(report.cpt_units_accuracy)),
        ("CPT note exact match", pct(report.cpt_note_exact)),
        ("modifier precision", pct(m["precision"])),
        ("modifier recall", pct(m["recall"])),
        ("modifier F1", pct(m["f1"])),
        ("ICD precision", pct(i["precision"])),
        ("ICD recall", pct(i["recall"])),
        ("ICD F1", pct(i["f1"])),
        ("ICD note exact match", pct(report.icd_note_exact)),
        ("CPT recall@1", pct(report.recall_at["@1"])),
        ("CPT recall@3", pct(report.recall_at["@3"])),
        ("CPT recall@5", pct(report.recall_at["@5"])),
        ("straight-through coverage", pct(report.straight_through_coverage)),
        ("straight-through exact", pct(report.straight_through_exact)),
        ("query recall", pct(report.query_recall)),
        ("false-query rate", pct(report.false_query_rate)),
        ("CPT line ECE", pct(report.cpt_line_ece)),
        ("note confidence ECE", pct(report.note_ece)),
        ("coverage at 97% exact (best cut-off)", pct(report.coverage_at_97)),
    ]


def count_codes(notes: Iterable[LabeledNote]) -> Counter:
    """How often each gold CPT code occurs (for coverage tables)."""
    return Counter(line.code for n in notes for line in n.cpt)
