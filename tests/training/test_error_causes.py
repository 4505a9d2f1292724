"""Grouping of the remaining differences by cause, on hand-built gold/prediction pairs."""

from __future__ import annotations

import pytest

from dermcoder.contracts import LabeledNote, PredictionIn
from dermcoder.training.error_causes import error_causes, icd_kind
from dermcoder.training.evaluate import evaluate

FAMILY = {"11642": "excision_malignant", "11643": "excision_malignant", "12052": "repair_intermediate",
          "17000": "destruction_premalignant", "17003": "destruction_premalignant", "11102": "biopsy",
          "99213": "em", "17110": "destruction_benign"}  # fmt: skip


def family(code: str) -> str:
    return FAMILY.get(code, "unknown code")


def _groups(gold_cpt, pred_cpt, gold_icd=(), pred_icd=()):
    gold = [LabeledNote(id="n1", text="t", cpt=list(gold_cpt), icd10=list(gold_icd))]
    pred = [PredictionIn(id="n1", cpt=list(pred_cpt), icd10=[{"code": c} for c in pred_icd])]
    return {(g.system, g.group, g.cause): g.differences for g in error_causes(gold, pred, family)}


@pytest.mark.parametrize(
    "gold_cpt, pred_cpt, expected",
    [
        pytest.param([{"code": "11642"}, {"code": "12052"}], [{"code": "11642"}],
                     {("CPT", "repair_intermediate", "missed family"): 1}, id="missed-family"),
        pytest.param([{"code": "11642"}], [{"code": "11642"}, {"code": "11102", "modifiers": ["XS"]}],
                     {("CPT", "biopsy", "extra family"): 1}, id="extra-family"),
        pytest.param([{"code": "11642"}], [{"code": "11643"}],
                     {("CPT", "excision_malignant", "different codes"): 2}, id="different-band"),
        pytest.param([{"code": "17000"}, {"code": "17003", "units": 4}], [{"code": "17000"}, {"code": "17003", "units": 9}],
                     {("CPT", "destruction_premalignant", "units"): 1}, id="units"),
        pytest.param([{"code": "11642"}, {"code": "17110", "modifiers": ["XS"]}], [{"code": "11642"}, {"code": "17110", "modifiers": ["59"]}],
                     {}, id="xs-is-59-no-difference"),
        pytest.param([{"code": "99213", "modifiers": ["25"]}, {"code": "11102"}], [{"code": "99213"}, {"code": "11102"}],
                     {("CPT", "em", "modifiers"): 1}, id="modifiers"),
    ],
)  # fmt: skip
def test_cpt_differences_grouped_by_family_and_cause(gold_cpt, pred_cpt, expected):
    assert _groups(gold_cpt, pred_cpt) == expected


@pytest.mark.parametrize(
    "gold_icd, pred_icd, expected",
    [
        pytest.param(["C44.311"], ["C44.319"], {("ICD-10-CM", "malignant neoplasm", "specificity"): 1}, id="specificity"),
        pytest.param(["L57.0", "Z79.631"], ["L57.0"], {("ICD-10-CM", "status, history, encounter", "missed"): 1}, id="missed"),
        pytest.param(["D04.72"], ["D04.72", "D49.2"], {("ICD-10-CM", "uncertain or unspecified behaviour", "extra"): 1}, id="extra"),
        pytest.param(["D22.5"], ["D23.5"], {("ICD-10-CM", "benign neoplasm", "missed"): 1,
                                           ("ICD-10-CM", "benign neoplasm", "extra"): 1}, id="other-category"),
    ],
)  # fmt: skip
def test_icd_differences_grouped_by_kind_and_cause(gold_icd, pred_icd, expected):
    assert _groups([], [], gold_icd, pred_icd) == expected


@pytest.mark.parametrize(
    "code, kind",
    [("C44.311", "malignant neoplasm"), ("D03.62", "in situ neoplasm"), ("D22.5", "benign neoplasm"),
     ("D36.10", "benign neoplasm"), ("D48.5", "uncertain or unspecified behaviour"), ("D49.2", "uncertain or unspecified behaviour"),
     ("L57.0", "skin disease"), ("B07.8", "infection"), ("T36.0X5A", "injury, adverse effect"), ("I10", "other")],
)  # fmt: skip
def test_icd_kind(code, kind):
    assert icd_kind(code) == kind


def test_counts_and_examples_per_group():
    gold = [LabeledNote(id=f"n{i}", text="t", cpt=[{"code": "11642"}, {"code": "12052"}], icd10=[]) for i in range(7)]
    pred = [PredictionIn(id=f"n{i}", cpt=[{"code": "11642"}]) for i in range(6)]  # n6 has no prediction
    (repair, excision) = sorted(error_causes(gold, pred, family), key=lambda g: g.group)[::-1]
    assert (repair.group, repair.cause, repair.differences, repair.notes) == ("repair_intermediate", "missed family", 7, 7)
    assert repair.examples == ["n0", "n1", "n2", "n3", "n4"]  # at most five note ids to read
    assert (excision.group, excision.cause, excision.notes, excision.examples) == ("excision_malignant", "missed family", 1, ["n6"])


def test_evaluate_reports_error_causes_with_the_shipped_table():
    gold = [LabeledNote(id="n1", text="t", cpt=[{"code": "11642"}, {"code": "12052"}], icd10=["C44.311"])]
    pred = [PredictionIn(id="n1", cpt=[{"code": "11642"}], icd10=[{"code": "C44.311"}])]
    causes = evaluate(gold, pred).error_causes
    assert [(c["system"], c["group"], c["cause"], c["differences"]) for c in causes] == [("CPT", "repair_intermediate", "missed family", 1)]


def test_evaluate_cli_prints_error_causes(tmp_path, cli):
    import json

    gold = tmp_path / "gold.jsonl"
    pred = tmp_path / "pred.jsonl"
    gold.write_text(json.dumps({"id": "n1", "text": "t", "cpt": [{"code": "11642"}, {"code": "12052"}], "icd10": []}) + "\n")
    pred.write_text(json.dumps({"id": "n1", "cpt": [{"code": "11642", "units": 1}], "icd10": []}) + "\n")
    result = cli("evaluate", str(gold), "--pred", str(pred), "--errors")
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert "Remaining differences by cause" in out
    assert "missed family" in out and "repair_intermediate" in out
