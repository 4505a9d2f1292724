"""Entity span evaluation: the pipeline's entities against the corpus span annotations.

Per label precision / recall / F1, strict (same start, end and label) and lenient
(overlapping spans of the same label), over the annotated notes of a split.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from dermcoder.contracts import LabeledNote
from dermcoder.nlp.frames import mentions_from_doc
from dermcoder.training.corpus import ENTITY_LABELS
from dermcoder.training.evaluate import PRF


@dataclass
class SpanReport:
    """Per-label span scores."""

    notes: int = 0
    strict: dict[str, PRF] = field(default_factory=lambda: defaultdict(PRF))
    lenient: dict[str, PRF] = field(default_factory=lambda: defaultdict(PRF))

    def micro(self, mode: str = "strict", labels: tuple[str, ...] | None = None) -> PRF:
        table = self.strict if mode == "strict" else self.lenient
        total = PRF()
        for label, s in table.items():
            if labels is None or label in labels:
                total.tp += s.tp
                total.n_gold += s.n_gold
                total.n_pred += s.n_pred
        return total

    def rows(self) -> list[dict]:
        out = []
        for label in ENTITY_LABELS:
            s, le = self.strict[label], self.lenient[label]
            out.append({"label": label, "gold": s.n_gold, "predicted": s.n_pred, "precision": s.precision,
                        "recall": s.recall, "f1": s.f1, "lenient_f1": le.f1})  # fmt: skip
        return out


def _overlap_matches(gold: list[tuple[int, int]], pred: list[tuple[int, int]]) -> int:
    """Greedy one-to-one matching of overlapping spans."""
    used: set[int] = set()
    hits = 0
    for gs, ge in gold:
        for j, (ps, pe) in enumerate(pred):
            if j not in used and ps < ge and gs < pe:
                used.add(j)
                hits += 1
                break
    return hits


def evaluate_spans(notes: list[LabeledNote], nlp) -> SpanReport:
    """Score the pipeline's entity spans against each note's `entities`."""
    report = SpanReport()
    annotated = [n for n in notes if n.entities]
    for note, doc in zip(annotated, nlp.pipe(n.text for n in annotated)):
        report.notes += 1
        gold: dict[str, set[tuple[int, int]]] = defaultdict(set)
        for ent in note.entities or []:
            gold[ent.label].add((ent.start, ent.end))
        pred: dict[str, set[tuple[int, int]]] = defaultdict(set)
        for m in mentions_from_doc(doc):
            if m.label in ENTITY_LABELS and m.role != "supporting":
                pred[m.label].add((m.start, m.end))
        for label in ENTITY_LABELS:
            g, p = gold[label], pred[label]
            report.strict[label].add(g, p)
            lenient = report.lenient[label]
            lenient.tp += _overlap_matches(sorted(g), sorted(p))
            lenient.n_gold += len(g)
            lenient.n_pred += len(p)
    return report
