"""The evaluator, on hand-built gold/pred pairs whose numbers are worked out by hand below."""

from __future__ import annotations

import pytest

from dermcoder.contracts import LabeledNote, PredictionIn
from dermcoder.training.evaluate import evaluate, normalize_modifier


def _gold():
    return [
        LabeledNote(id="n1", text="t", cpt=[{"code": "11642"}, {"code": "12052"}], icd10=["C44.311"],
                    expected_queries=[{"fact": "repair_length"}]),
        LabeledNote(id="n2", text="t", cpt=[{"code": "11104"}, {"code": "11103", "units": 2}], icd10=["D49.2"]),
        LabeledNote(id="n3", text="t", cpt=[], icd10=[]),
        LabeledNote(id="n4", text="t", cpt=[{"code": "17000"}, {"code": "17003", "units": 5},
                                            {"code": "17110", "modifiers": ["XS"]}], icd10=["L57.0", "B07.8"]),
    ]  # fmt: skip


def _pred():
    return [
        PredictionIn(id="n1", cpt=[{"code": "11642", "units": 1}, {"code": "12051", "units": 1}],
                     alternatives=[{"system": "CPT", "code": "12052"}, {"system": "ICD10CM", "code": "C44.319"}],
                     icd10=[{"code": "C44.311"}], queries=[{"fact": "repair_length"}]),
        PredictionIn(id="n2", cpt=[{"code": "11104", "units": 1}, {"code": "11103", "units": 1}],
                     icd10=[{"code": "D49.2"}, {"code": "L98.9"}], straight_through=True),
        PredictionIn(id="n3", cpt=[], icd10=[], queries=[{"fact": "pathology"}]),
        PredictionIn(id="n4", cpt=[{"code": "17000", "units": 1}, {"code": "17003", "units": 5},
                                   {"code": "17110", "units": 1, "modifiers": ["59"]}],
                     icd10=[{"code": "L57.0"}, {"code": "B07.8"}], straight_through=True),
    ]  # fmt: skip


@pytest.fixture
def report():
    return evaluate(_gold(), _pred())


def test_evaluate_cpt_micro_prf(report):
    # gold items 2+2+0+3 = 7, predicted 2+2+0+3 = 7, true positives 1+2+0+3 = 6
    assert report.cpt["tp"] == 6 and report.cpt["gold"] == 7 and report.cpt["predicted"] == 7
    assert report.cpt["precision"] == pytest.approx(6 / 7)
    assert report.cpt["recall"] == pytest.approx(6 / 7)
    assert report.cpt["f1"] == pytest.approx(6 / 7)


def test_evaluate_units_accuracy(report):
    # of the 6 true positives only 11103 (gold 2, pred 1) has wrong units
    assert report.cpt_units_accuracy == pytest.approx(5 / 6)


def test_evaluate_note_exact(report):
    # n1 wrong code, n2 wrong units, n3 empty == empty, n4 right (modifiers ignored)
    assert report.cpt_note_exact == pytest.approx(2 / 4)


def test_evaluate_modifier_xs_counts_as_59(report):
    assert report.modifier["f1"] == pytest.approx(1.0)
    assert normalize_modifier("xu") == "59" and normalize_modifier("25") == "25"


def test_evaluate_icd(report):
    # gold 1+1+0+2 = 4, pred 1+2+0+2 = 5, tp 4 -> P 0.8, R 1.0, F1 = 1.6/1.8
    assert report.icd["precision"] == pytest.approx(0.8)
    assert report.icd["recall"] == pytest.approx(1.0)
    assert report.icd["f1"] == pytest.approx(1.6 / 1.8)
    assert report.icd_note_exact == pytest.approx(3 / 4)  # n2 has an extra code


def test_evaluate_recall_at_k(report):
    # @1: n1 window = first 2 ranked [11642, 12051] -> 1 of 2; n2 2/2; n4 3/3 -> 6/7
    # @3: n1 window = first 4 [11642, 12051, 12052] -> 2/2 -> 7/7 (ICD alternatives ignored)
    assert report.recall_at["@1"] == pytest.approx(6 / 7)
    assert report.recall_at["@3"] == pytest.approx(1.0)
    assert report.recall_at["@5"] == pytest.approx(1.0)


def test_evaluate_straight_through(report):
    # n2 and n4 are straight-through; only n4 is exact
    assert report.straight_through_coverage == pytest.approx(0.5)
    assert report.straight_through_exact == pytest.approx(0.5)


def test_evaluate_queries(report):
    # expected (n1, repair_length) raised -> recall 1; notes without expected queries: n2, n3, n4;
    # n3 raises one -> false-query rate 1/3
    assert report.query_recall == pytest.approx(1.0)
    assert report.false_query_rate == pytest.approx(1 / 3)


def test_evaluate_per_code_table(report):
    rows = {r["code"]: r for r in report.per_code}
    assert rows["12052"]["support"] == 1 and rows["12052"]["recall"] == 0.0
    assert rows["12051"]["support"] == 0 and rows["12051"]["predicted"] == 1 and rows["12051"]["precision"] == 0.0
    assert rows["11642"]["f1"] == 1.0


def test_evaluate_missing_prediction_scored_empty():
    gold = _gold()
    report = evaluate(gold, _pred()[:3])
    assert report.missing_predictions == ["n4"]
    assert report.cpt["recall"] == pytest.approx(3 / 7)


def test_evaluate_perfect_prediction_scores_one():
    gold = _gold()
    pred = [PredictionIn(id=g.id, cpt=[line.model_dump() for line in g.cpt], icd10=g.icd10) for g in gold]
    report = evaluate(gold, pred)
    assert report.cpt["f1"] == 1.0 and report.cpt_note_exact == 1.0 and report.recall_at["@1"] == 1.0
    assert report.icd["f1"] == 1.0 and report.cpt_units_accuracy == 1.0


def test_evaluate_cli_json(tmp_path, cli):
    import json

    gold = tmp_path / "gold.jsonl"
    pred = tmp_path / "pred.jsonl"
    gold.write_text("".join(g.model_dump_json() + "\n" for g in _gold()))
    pred.write_text("".join(p.model_dump_json() + "\n" for p in _pred()))
    result = cli("evaluate", str(gold), "--pred", str(pred), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["cpt_note_exact"] == pytest.approx(0.5)
    table = cli("evaluate", str(gold), "--pred", str(pred))
    assert b"CPT recall@3" in table.stdout and b"Per-code table" in table.stdout
