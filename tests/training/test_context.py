"""Context accuracy on a hand-built note whose agreement counts are worked out by hand."""

import pytest

from dermcoder.contracts import LabeledNote
from dermcoder.training.context import evaluate_context, primary_status
from dermcoder.training.corpus import check_note

TEXT = "Hx of melanoma, right back. Shave biopsy of the left forearm today. Will excise if malignant."


def _note(statuses: dict[tuple[int, int], str]) -> LabeledNote:
    spans = {(6, 14): "HISTOLOGY", (28, 40): "PROCEDURE", (73, 79): "PROCEDURE", (22, 26): "SITE"}
    entities = [{"start": s, "end": e, "label": lab, **({"context": statuses[(s, e)]} if (s, e) in statuses else {})}
                for (s, e), lab in spans.items()]  # fmt: skip
    return LabeledNote(id="c", text=TEXT, entities=entities)


def test_context_agreement_counts(nlp):
    # gold: melanoma historical, biopsy current, excise planned; the SITE carries no gold context
    report = evaluate_context([_note({(6, 14): "historical", (28, 40): "current", (73, 79): "hypothetical"})], nlp)
    assert (report.notes, report.mentions, report.unmatched) == (1, 3, 0)
    assert report.with_cue == 2  # the current biopsy has no cue on either side
    assert report.suppression_accuracy == 1.0 and report.category_accuracy == 1.0
    assert (report.not_current.tp, report.not_current.n_gold, report.not_current.n_pred) == (2, 2, 2)


def test_a_wrong_category_still_agrees_on_suppression(nlp):
    # gold says the melanoma is family history: suppressed on both sides, but for another reason
    report = evaluate_context([_note({(6, 14): "family", (28, 40): "cancelled"})], nlp)
    assert report.with_cue == 2
    assert report.suppression_agree == 1  # the melanoma; the "cancelled" biopsy was read as current
    assert report.category_agree == 0
    assert report.confusion[("family", "historical")] == 1 and report.confusion[("cancelled", "current")] == 1
    assert report.not_current.recall == 0.5


def test_gold_mentions_the_pipeline_misses_are_counted_apart(nlp):
    note = LabeledNote(id="c", text="Cryo to lesion.", entities=[{"start": 0, "end": 4, "label": "HISTOLOGY", "context": "negated"}])
    report = evaluate_context([note], nlp)
    assert (report.mentions, report.unmatched, report.with_cue) == (1, 1, 0)


@pytest.mark.parametrize("cats, status", [([], "current"), (["uncertain", "historical"], "historical"),
                                          (["hypothetical", "copied_forward"], "copied_forward")], ids=["none", "history-first", "copied-first"])  # fmt: skip
def test_primary_status(cats, status):
    assert primary_status(cats) == status


@pytest.mark.parametrize("label, status, ok", [("HISTOLOGY", "historical", True), ("HISTOLOGY", "past", False),
                                               ("SITE", "negated", False)], ids=["valid", "unknown-status", "wrong-label"])  # fmt: skip
def test_corpus_check_validates_context(label, status, ok, tables):
    note = LabeledNote(id="c", text="h/o BCC", cpt=[], icd10=[], entities=[{"start": 4, "end": 7, "label": label, "context": status}])
    problems = [p for p in check_note(note, "c", tables) if "context" in p]
    assert (not problems) == ok


def test_a_prior_biopsy_mention_counts_as_historical(nlp):
    text = "Excision of SCC left hand (bx 5/8/25)."
    start = text.index("bx")
    note = LabeledNote(id="c", text=text, entities=[{"start": start, "end": start + 2, "label": "PROCEDURE", "context": "historical"}])
    report = evaluate_context([note], nlp)
    assert report.mentions == 1 and report.unmatched == 0
    assert report.category_agree == 1 and report.confusion[("historical", "historical")] == 1
