"""Context accuracy: the pipeline's ConText categories against the corpus's gold context labels.

A gold HISTOLOGY/PROCEDURE/REPAIR entity may carry `context`: `current`, or the reason the
note does not assert it for today (negated, uncertain, historical, hypothetical, family,
declined, cancelled, copied_forward). The pipeline's mention for the same characters
carries a list of categories (empty = current). Scored:

- on the mentions that **carry a cue** (gold not current, or the pipeline found a cue):
  `suppression accuracy` (both agree the mention is current or not) and `category
  accuracy` (the gold reason is among the pipeline's categories; both current counts);
- over every labeled mention: precision and recall of "not current".

Gold mentions the pipeline did not find at all are counted apart (`unmatched`): they are a
span error, measured by `dermcoder spans`, not a context error.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from dermcoder.contracts import LabeledNote
from dermcoder.nlp.frames import mentions_from_doc
from dermcoder.training.corpus import CONTEXT_LABELS, CONTEXT_STATUSES
from dermcoder.training.evaluate import PRF

CURRENT = "current"
# When the pipeline gives several categories, the one shown in the confusion table: the
# reason a coder would name first (the gold labels follow the same order of precedence).
PRECEDENCE = ("copied_forward", "family", "negated", "declined", "cancelled", "historical", "hypothetical", "uncertain")


# The pipeline names some past procedures by their lexicon entry instead of a ConText cue:
# "bx 2/11/25", "biopsy-proven", "bx scar" are PROCEDURE mentions of canonical `prior_biopsy`,
# which no rule codes.
PAST_CANONICALS = {"prior_biopsy": "historical"}


def primary_status(categories: list[str] | tuple[str, ...]) -> str:
    """The pipeline's categories as one status: `current` when there are none."""
    for name in PRECEDENCE:
        if name in categories:
            return name
    return CURRENT


def mention_categories(mention) -> list[str]:
    """A mention's context categories, with the status its lexicon entry implies."""
    cats = list(mention.context)
    implied = PAST_CANONICALS.get(mention.canonical or "")
    if implied and implied not in cats:
        cats.append(implied)
    return cats


@dataclass
class ContextReport:
    """Context agreement over the gold-labeled mentions of a set of notes."""

    notes: int = 0
    mentions: int = 0
    unmatched: int = 0
    with_cue: int = 0
    suppression_agree: int = 0
    category_agree: int = 0
    not_current: PRF = field(default_factory=PRF)
    confusion: Counter = field(default_factory=Counter)  # (gold, predicted primary) -> count
    per_status: Counter = field(default_factory=Counter)  # gold status -> mentions with a match
    per_status_agree: Counter = field(default_factory=Counter)  # gold status -> category agreed

    @property
    def suppression_accuracy(self) -> float:
        return self.suppression_agree / self.with_cue if self.with_cue else 0.0

    @property
    def category_accuracy(self) -> float:
        return self.category_agree / self.with_cue if self.with_cue else 0.0

    def as_dict(self) -> dict:
        return {
            "notes": self.notes, "mentions": self.mentions, "unmatched": self.unmatched,
            "mentions_with_cue": self.with_cue,
            "suppression_accuracy": round(self.suppression_accuracy, 4),
            "category_accuracy": round(self.category_accuracy, 4),
            "not_current": self.not_current.as_dict(),
            "per_status": {s: {"mentions": self.per_status[s], "agree": self.per_status_agree[s]}
                           for s in CONTEXT_STATUSES if self.per_status[s]},
            "confusion": [{"gold": g, "predicted": p, "count": n} for (g, p), n in sorted(self.confusion.items())],
        }  # fmt: skip


def _predicted(doc) -> tuple[dict, list]:
    """The pipeline's mentions of the context labels: by exact offsets, and as a list for overlaps."""
    exact: dict[tuple[str, int, int], list[str]] = {}
    spans: list[tuple[str, int, int, list[str]]] = []
    for m in mentions_from_doc(doc):
        if m.label in CONTEXT_LABELS and m.role != "supporting":
            cats = mention_categories(m)
            exact[(m.label, m.start, m.end)] = cats
            spans.append((m.label, m.start, m.end, cats))
    return exact, spans


def _match(exact: dict, spans: list, label: str, start: int, end: int) -> list[str] | None:
    """The categories of the pipeline's mention for a gold span: same offsets, else the first overlap."""
    if (label, start, end) in exact:
        return exact[(label, start, end)]
    for lab, s, e, cats in spans:
        if lab == label and s < end and start < e:
            return cats
    return None


def evaluate_context(notes: list[LabeledNote], nlp) -> ContextReport:
    """Score the pipeline's context categories on every entity that has a gold `context`."""
    report = ContextReport()
    labeled = [n for n in notes if any(getattr(e, "context", None) for e in n.entities or [])]
    for note, doc in zip(labeled, nlp.pipe(n.text for n in labeled)):
        report.notes += 1
        exact, spans = _predicted(doc)
        for ent in note.entities or []:
            gold = getattr(ent, "context", None)
            if not gold:
                continue
            report.mentions += 1
            cats = _match(exact, spans, ent.label, ent.start, ent.end)
            if cats is None:
                report.unmatched += 1
                continue
            predicted = primary_status(cats)
            gold_off, pred_off = gold != CURRENT, predicted != CURRENT
            report.confusion[(gold, predicted)] += 1
            report.per_status[gold] += 1
            agree = gold in cats if gold_off else not pred_off
            report.per_status_agree[gold] += agree
            report.not_current.tp += gold_off and pred_off
            report.not_current.n_gold += gold_off
            report.not_current.n_pred += pred_off
            if gold_off or pred_off:
                report.with_cue += 1
                report.suppression_agree += gold_off == pred_off
                report.category_agree += agree
    return report
