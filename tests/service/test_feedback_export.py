"""`dermcoder feedback export`: stored coder decisions -> labeled notes that `evaluate` reads."""

from __future__ import annotations

import json

from dermcoder.contracts import CptSuggestion, Evidence, IcdSuggestion, LabeledNote, ModelInfo, Suggestion
from dermcoder.jsonl import read_jsonl
from dermcoder.service.store import Decision, FeedbackStore

TEXT = "Excision BCC L nasal ala, 0.9 cm lesion, 0.3 cm margins. Intermediate repair 2.1 cm."
EV = [Evidence(start=0, end=8, text="Excision", label="PROCEDURE")]


def _suggestion() -> Suggestion:
    return Suggestion(
        id="chart-7",
        cpt=[
            CptSuggestion(code="11642", units=1, confidence=0.9, description="exc", evidence=EV, diagnoses=["C44.311"]),
            CptSuggestion(code="12051", units=1, confidence=0.7, description="repair", evidence=EV),
        ],
        icd10=[IcdSuggestion(code="C44.311", confidence=0.9, description="BCC nose", evidence=EV)],
        model=ModelInfo(version="0.1.0", pipeline="test"),
    )


def _filled_store(url: str) -> tuple[str, str]:
    store = FeedbackStore(url, store_note_text=True)
    try:
        reviewed = store.record_suggestion(_suggestion(), TEXT, "page")
        store.record_decisions(reviewed, [
            Decision(system="CPT", code="11642", decision="accepted"),
            Decision(system="CPT", code="12051", decision="overridden", replacement_code="12052"),
            Decision(system="ICD10CM", code="C44.311", decision="accepted"),
        ], "page")  # fmt: skip
        store.record_suggestion(_suggestion(), TEXT, "page")  # shown, never reviewed
        return reviewed, url
    finally:
        store.close()


def test_feedback_export_writes_labeled_notes(cli, tmp_path):
    reviewed, url = _filled_store(f"sqlite:///{tmp_path / 'fb.db'}")
    out = tmp_path / "out" / "feedback.jsonl"
    result = cli("feedback", "export", str(out), "--db", url)
    assert result.returncode == 0, result.stderr.decode()
    assert "1 labeled note(s)" in result.stderr.decode() and "1 skipped" in result.stderr.decode()
    assert "1 never reviewed" in result.stderr.decode()
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 1
    assert lines[0]["id"] == f"fb-{reviewed}" and lines[0]["text"] == TEXT and lines[0]["source"] == "feedback"
    assert lines[0]["cpt"] == [{"code": "11642", "units": 1, "modifiers": []}, {"code": "12052", "units": 1, "modifiers": []}]
    assert lines[0]["icd10"] == ["C44.311"]
    notes, problems = read_jsonl(out, LabeledNote)
    assert problems == [] and len(notes) == 1


def test_feedback_export_is_valid_evaluate_input(cli, tmp_path):
    reviewed, url = _filled_store(f"sqlite:///{tmp_path / 'fb.db'}")
    out = tmp_path / "feedback.jsonl"
    assert cli("feedback", "export", str(out), "--db", url).returncode == 0
    pred = tmp_path / "pred.jsonl"
    # A prediction that gets 11642 and misses the coder's 12052.
    pred.write_text(json.dumps({"id": f"fb-{reviewed}", "cpt": [{"code": "11642", "units": 1}], "icd10": ["C44.311"]}) + "\n")
    result = cli("evaluate", str(out), "--pred", str(pred), "--json")
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["notes"] == 1 and report["cpt"]["gold"] == 2 and report["cpt"]["tp"] == 1
    assert report["icd"]["f1"] == 1.0


def test_feedback_export_missing_store_is_one_line_error(cli, tmp_path):
    result = cli("feedback", "export", str(tmp_path / "o.jsonl"), "--db", f"sqlite:///{tmp_path / 'none.db'}")
    err = result.stderr.decode()
    assert result.returncode == 2 and err.startswith("error: no feedback store at") and "Traceback" not in err
    bad = cli("feedback", "export", str(tmp_path / "o.jsonl"), "--db", "nonsense")
    assert bad.returncode == 2 and "not a SQLAlchemy URL" in bad.stderr.decode() and "Traceback" not in bad.stderr.decode()
