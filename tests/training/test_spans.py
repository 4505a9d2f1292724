"""Span evaluation on a hand-built note whose scores are worked out by hand."""

from dermcoder.contracts import LabeledNote
from dermcoder.training.spans import evaluate_spans


def test_spans_strict_and_lenient(nlp):
    text = "Shave biopsy, left nasal ala, 6 mm."
    note = LabeledNote(id="s", text=text, entities=[
        {"start": 0, "end": 12, "label": "PROCEDURE"},   # exact match
        {"start": 14, "end": 18, "label": "LATERALITY"},  # exact match
        {"start": 25, "end": 28, "label": "SITE"},        # "ala": overlaps the predicted "nasal ala" only
        {"start": 30, "end": 34, "label": "SIZE"},        # exact match
    ])  # fmt: skip
    report = evaluate_spans([note], nlp)
    assert report.notes == 1
    assert report.strict["SITE"].tp == 0 and report.lenient["SITE"].tp == 1
    assert report.strict["PROCEDURE"].f1 == 1.0 and report.strict["SIZE"].f1 == 1.0
    micro = report.micro()
    assert (micro.tp, micro.n_gold, micro.n_pred) == (3, 4, 4)


def test_supporting_procedure_words_are_not_scored_as_entities(nlp):
    text = "E/M: low MDM. Shave biopsy of the back."
    note = LabeledNote(id="s", text=text, entities=[{"start": 14, "end": 26, "label": "PROCEDURE"}])
    report = evaluate_spans([note], nlp)
    assert (report.strict["PROCEDURE"].tp, report.strict["PROCEDURE"].n_pred) == (1, 1)
