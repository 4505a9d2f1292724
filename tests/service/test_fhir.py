"""FHIR output: Bundle with Claim/Procedure/Condition, validated with fhir.resources (R5 and R4B)."""

from __future__ import annotations

import json

import pytest
from fhir.resources.bundle import Bundle
from fhir.resources.R4B.bundle import Bundle as BundleR4B

from dermcoder.contracts import CptSuggestion, Evidence, IcdSuggestion, ModelInfo, Suggestion
from dermcoder.fhir import CPT_SYSTEM, HCPCS_SYSTEM, ICD10CM_SYSTEM, suggestion_to_bundle

EV = [Evidence(start=0, end=4, text="Bx x", label="PROCEDURE")]


def _suggestion() -> Suggestion:
    return Suggestion(
        id="n-1",
        cpt=[
            CptSuggestion(code="11104", units=1, confidence=0.9, description="punch bx", evidence=EV, diagnoses=["L98.9"]),
            CptSuggestion(code="11105", units=3, modifiers=["59", "XS"], confidence=0.8, description="punch bx add-on",
                          evidence=EV, diagnoses=["D49.2", "L98.9", "Z99.9X"]),
            CptSuggestion(code="J3301", units=2, confidence=0.7, description="triamcinolone", evidence=EV),
        ],
        icd10=[
            IcdSuggestion(code="L98.9", confidence=0.9, description="Disorder of skin, unspecified", evidence=EV),
            IcdSuggestion(code="D49.2", confidence=0.9, description="Neoplasm of unspecified behavior", evidence=EV),
        ],
        model=ModelInfo(version="1", pipeline="p"),
    )  # fmt: skip


def _resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


@pytest.mark.parametrize("model", [Bundle, BundleR4B], ids=["R5", "R4B"])
def test_fhir_bundle_validates(model):
    bundle = suggestion_to_bundle(_suggestion(), "n-1", audit_id="abc123")
    parsed = model.model_validate(bundle)
    assert parsed.type == "collection"
    kinds = [type(e.resource).__name__ for e in parsed.entry]
    assert kinds == ["Claim", "Procedure", "Procedure", "Procedure", "Condition", "Condition"]


def test_fhir_claim_matches_the_suggestion():
    bundle = suggestion_to_bundle(_suggestion(), "n-1", audit_id="abc123")
    assert bundle["identifier"] == {"system": "urn:dermcoder:note-id", "value": "n-1"}
    (claim,) = _resources(bundle, "Claim")
    assert claim["status"] == "active" and claim["use"] == "claim"
    assert claim["type"]["coding"][0]["code"] == "professional"
    assert "placeholder" in claim["patient"]["display"] and claim["identifier"][0]["value"] == "abc123"
    assert [(d["sequence"], d["diagnosisCodeableConcept"]["coding"][0]["code"]) for d in claim["diagnosis"]] == [
        (1, "L98.9"), (2, "D49.2")]  # fmt: skip
    assert all(d["diagnosisCodeableConcept"]["coding"][0]["system"] == ICD10CM_SYSTEM for d in claim["diagnosis"])
    items = claim["item"]
    assert [i["sequence"] for i in items] == [1, 2, 3]
    assert [(i["productOrService"]["coding"][0]["system"], i["productOrService"]["coding"][0]["code"]) for i in items] == [
        (CPT_SYSTEM, "11104"), (CPT_SYSTEM, "11105"), (HCPCS_SYSTEM, "J3301")]  # fmt: skip
    assert [i["quantity"]["value"] for i in items] == [1, 3, 2]
    assert [(m["coding"][0]["system"], m["coding"][0]["code"]) for m in items[1]["modifier"]] == [
        (CPT_SYSTEM, "59"), (HCPCS_SYSTEM, "XS")]  # fmt: skip
    assert "modifier" not in items[0]
    # D49.2 is diagnosis 2, L98.9 diagnosis 1; Z99.9X is not on the claim, so no pointer for it.
    assert items[0]["diagnosisSequence"] == [1] and items[1]["diagnosisSequence"] == [2, 1]
    assert "diagnosisSequence" not in items[2]
    procedures = _resources(bundle, "Procedure")
    urls = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    for item, proc_ref in zip(items, claim["procedure"]):
        assert item["procedureSequence"] == [proc_ref["sequence"]]
        target = urls[proc_ref["procedureReference"]["reference"]]
        assert target["code"]["coding"][0]["code"] == item["productOrService"]["coding"][0]["code"]
    assert [p["code"]["coding"][0]["code"] for p in procedures] == ["11104", "11105", "J3301"]
    conditions = _resources(bundle, "Condition")
    assert [c["code"]["coding"][0]["code"] for c in conditions] == ["L98.9", "D49.2"]


def test_fhir_empty_and_error_suggestions_validate():
    empty = suggestion_to_bundle(Suggestion(id="e", model=ModelInfo(version="1", pipeline="p")), "e")
    assert [e["resource"]["resourceType"] for e in Bundle.model_validate(empty).model_dump()["entry"]] == ["Claim"]
    error = Suggestion(id="bad", model=ModelInfo(version="1", pipeline="p"), error="line 2: not JSON", line=2)
    bundle = suggestion_to_bundle(error, "bad")
    Bundle.model_validate(bundle)
    (outcome,) = _resources(bundle, "OperationOutcome")
    assert outcome["issue"][0]["diagnostics"] == "line 2: not JSON"


def test_fhir_from_the_api(client):
    # Corpus note h3-003 (first lines); its coder's gold label includes 11624 and C44.42.
    text = ("Dx: SCC vertex scalp, bx proven (path 2/11).\nProc: excision 2.2 cm lesion w/ 5 mm margins, to galea. "
            "Defect 3.2 cm wide.\nComplex repair: 2-0 Vicryl galea, 3-0 Monocryl deep dermal. Final length 8.4 cm.")
    response = client.post("/v1/suggest?format=fhir", json={"id": "scalp", "text": text})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    Bundle.model_validate(bundle)
    (claim,) = _resources(bundle, "Claim")
    assert claim["identifier"][0]["system"] == "urn:dermcoder:audit-id"
    audit_id = claim["identifier"][0]["value"]
    assert client.get(f"/v1/feedback/{audit_id}").status_code == 200  # the Bundle's claim is the stored record
    items = {i["productOrService"]["coding"][0]["code"]: i for i in claim.get("item", [])}
    dx = {d["sequence"]: d["diagnosisCodeableConcept"]["coding"][0]["code"] for d in claim.get("diagnosis", [])}
    assert "11624" in items and [dx[n] for n in items["11624"]["diagnosisSequence"]] == ["C44.42"]
    assert client.post("/v1/suggest?format=xml", json={"text": text}).status_code == 422


def test_fhir_batch_cli(cli, tmp_path):
    notes = tmp_path / "in.jsonl"
    notes.write_text(json.dumps({"id": "a", "text": "Punch biopsy x1, left forearm, 4 mm."}) + "\n"
                     + "{not json\n" + json.dumps({"id": "c", "text": "Shave removal, 0.4 cm SK, back."}) + "\n")  # fmt: skip
    out = tmp_path / "out.jsonl"
    result = cli("batch", str(notes), "-o", str(out), "--fhir")
    assert result.returncode == 0, result.stderr.decode()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [b["identifier"]["value"] for b in lines] == ["a", "line-2", "c"]
    for bundle in lines:
        Bundle.model_validate(bundle)
    assert _resources(lines[1], "OperationOutcome") and not _resources(lines[1], "Claim")
    assert _resources(lines[0], "Claim")[0]["item"][0]["productOrService"]["coding"][0]["code"] == "11104"
    assert not list(tmp_path.glob("*.tmp"))
