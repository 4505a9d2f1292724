"""CDS Hooks 2.0: discovery, cards from a prefetched note, 412/404/400, and card feedback."""

from __future__ import annotations

import base64
import sqlite3
import uuid

import pytest

from dermcoder.contracts import CptSuggestion, Evidence, IcdSuggestion, LesionFrame, ModelInfo, Query, Suggestion
from dermcoder.service.cds_cards import CPT_SYSTEM, ICD10CM_SYSTEM, cards_for

# Corpus note h3-003; gold (a coder's label): CPT 11624, 13121, 13122 and ICD-10-CM C44.42.
# Excised diameter by hand: 2.2 cm lesion + 2 x 5 mm margin = 3.2 cm.
SCALP = (
    "Dx: SCC vertex scalp, bx proven (path 2/11).\nProc: excision 2.2 cm lesion w/ 5 mm margins, to galea. "
    "Defect 3.2 cm wide.\nSubgaleal undermining 3.5-4 cm along both long edges (exceeds defect width). Two "
    "galeotomies for tension.\nComplex repair: 2-0 Vicryl galea, 3-0 Monocryl deep dermal, staples to skin.\n"
    "Final length 8.4 cm.\nEBL 15 mL. No complications. Staples out 14 d. Path to follow."
)
# Corpus note h2-045: the coder's label expects a repair_length query.
CYST = (
    "Pilar cyst, occipital scalp, 3.8 cm, firm, recurrent after outside I&D.\nHair clipped, prepped. 1% lido w/ "
    "epi 10 mL.\nExcision with 2 mm skin margin around punctum/scar; cyst wall intact, removed with scar tissue.\n"
    "Dead space obliterated, layered closure 3-0 vicryl / staples; limited undermining.\nPath: trichilemmal cyst.\n"
    "Staples out 10 d."
)
DISCHARGE = "/cds-services/dermcoder-discharge"


def _document_reference(text: str, doc_id: str = "doc-1", content_type: str = "text/plain") -> dict:
    return {
        "resourceType": "DocumentReference", "id": doc_id, "status": "current",
        "content": [{"attachment": {"contentType": content_type,
                                    "data": base64.b64encode(text.encode("utf-8")).decode("ascii")}}],
    }  # fmt: skip


def _hook(text: str | None = None, hook: str = "encounter-discharge", bundle: bool = False, **extra) -> dict:
    body = {"hook": hook, "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/1", "patientId": "p-9", "encounterId": "e-3"}, **extra}  # fmt: skip
    if text is not None:
        doc = _document_reference(text)
        body["prefetch"] = {"note": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": doc}]}
                            if bundle else doc}  # fmt: skip
    return body


def _post(client, token, path: str, body: dict):
    return client.post(path, json=body, headers={"Authorization": f"Bearer {token(path)}"})


def test_cds_discovery(cds_client):
    services = {s["id"]: s for s in cds_client.get("/cds-services").json()["services"]}
    assert {s["hook"] for s in services.values()} == {"encounter-discharge", "patient-view"}
    for service in services.values():
        assert service["title"] and service["description"]
        assert service["prefetch"]["note"].startswith("DocumentReference?")
    assert "{{context.encounterId}}" in services["dermcoder-discharge"]["prefetch"]["note"]
    assert "{{context.patientId}}" in services["dermcoder-chart"]["prefetch"]["note"]


@pytest.mark.parametrize("bundle", [False, True])
def test_cds_cards_from_prefetched_note(cds_client, cds_token, cds_settings, bundle):
    response = _post(cds_client, cds_token, DISCHARGE, _hook(SCALP, bundle=bundle))
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    by_code = {}
    for card in cards:
        assert len(card["summary"]) < 140
        assert card["indicator"] in ("info", "warning", "critical")
        assert card["source"]["label"]
        assert uuid.UUID(card["uuid"])
        for suggestion in card.get("suggestions", []):
            assert card["selectionBehavior"] == "at-most-one" and uuid.UUID(suggestion["uuid"])
            for action in suggestion["actions"]:
                assert action["type"] == "create"
                coding = action["resource"]["code"]["coding"][0]
                by_code[coding["code"]] = (card, action["resource"])
    assert {"11624", "13121", "13122", "C44.42"} <= set(by_code)
    card, procedure = by_code["11624"]
    assert procedure["resourceType"] == "Procedure" and procedure["code"]["coding"][0]["system"] == CPT_SYSTEM
    assert procedure["subject"] == {"reference": "Patient/p-9"} and procedure["encounter"] == {"reference": "Encounter/e-3"}
    assert "2.2 + 2 x 0.5 = 3.2" in card["detail"]
    assert '"vertex scalp"' in card["detail"] and '"2.2 cm"' in card["detail"]
    _, condition = by_code["C44.42"]
    assert condition["resourceType"] == "Condition" and condition["code"]["coding"][0]["system"] == ICD10CM_SYSTEM
    with sqlite3.connect(cds_settings.data_dir / "dermcoder.db") as db:
        rows = db.execute("SELECT source, note_id, note_text FROM suggestions").fetchall()
        assert rows == [("cds", "doc-1", None)]
        assert db.execute("SELECT count(*) FROM cds_cards").fetchone()[0] == len(cards)


def test_cds_queries_make_a_warning(cds_client, cds_token):
    cards = _post(cds_client, cds_token, DISCHARGE, _hook(CYST)).json()["cards"]
    assert cards and all(c["indicator"] == "warning" for c in cards)
    assert any("repair" in c["detail"].lower() and "length" in c["detail"].lower() for c in cards)


def test_cds_note_from_context_and_patient_view(cds_client, cds_token):
    body = _hook(hook="patient-view")
    body["context"]["noteText"] = SCALP
    response = _post(cds_client, cds_token, "/cds-services/dermcoder-chart", body)
    assert response.status_code == 200
    assert any(c["summary"].startswith("CPT 11624") for c in response.json()["cards"])


@pytest.mark.parametrize("prefetch", [
    None,
    {"note": None},
    {"note": {"resourceType": "DocumentReference", "content": [{"attachment": {"contentType": "text/plain",
                                                                                "url": "Binary/1"}}]}},
    {"note": {"resourceType": "Bundle", "type": "searchset", "entry": []}},
    {"note": _document_reference(SCALP, content_type="application/pdf")},
])  # fmt: skip
def test_cds_note_unavailable_is_412(cds_client, cds_token, prefetch):
    body = _hook()
    if prefetch is not None:
        body["prefetch"] = prefetch
    response = _post(cds_client, cds_token, DISCHARGE, body)
    assert response.status_code == 412 and "DocumentReference" in response.json()["detail"]


def test_cds_bad_requests(cds_client, cds_token):
    assert _post(cds_client, cds_token, "/cds-services/nope", _hook(SCALP)).status_code == 404
    assert _post(cds_client, cds_token, DISCHARGE, _hook(SCALP, hook="patient-view")).status_code == 400
    assert _post(cds_client, cds_token, DISCHARGE, {"hook": "encounter-discharge"}).status_code == 400
    bad = _hook()
    bad["prefetch"] = {"note": {"resourceType": "DocumentReference",
                                "content": [{"attachment": {"contentType": "text/plain", "data": "%%%not base64"}}]}}
    response = _post(cds_client, cds_token, DISCHARGE, bad)
    assert response.status_code == 400 and "base64" in response.json()["detail"]


def test_cds_feedback_stores_decisions(cds_client, cds_token):
    cards = _post(cds_client, cds_token, DISCHARGE, _hook(SCALP)).json()["cards"]
    code_of = {c["uuid"]: c["suggestions"][0]["actions"][0]["resource"]["code"]["coding"][0]["code"]
               for c in cards if c.get("suggestions")}  # fmt: skip
    accepted = next(u for u, code in code_of.items() if code == "11624")
    overridden = next(u for u, code in code_of.items() if code == "13122")
    accepted_card = next(c for c in cards if c["uuid"] == accepted)
    feedback = {"feedback": [
        {"card": accepted, "outcome": "accepted", "outcomeTimestamp": "2026-01-05T10:00:00Z",
         "acceptedSuggestions": [{"id": accepted_card["suggestions"][0]["uuid"]}]},
        {"card": overridden, "outcome": "overridden", "outcomeTimestamp": "2026-01-05T10:00:05Z",
         "overrideReason": {"reason": {"code": "documentation-differs", "display": "The note does not support this code",
                                       "system": "urn:dermcoder:override-reason"},
                            "userComment": "length is 8.4 cm, 13121 only"}},
    ]}  # fmt: skip
    response = _post(cds_client, cds_token, DISCHARGE + "/feedback", feedback)
    assert response.status_code == 200 and response.json() == {"stored": 2}
    # The same decisions are visible through the JSON API under the call's audit id.
    with sqlite3.connect(cds_client.app.state.settings.data_dir / "dermcoder.db") as db:
        audit_id = db.execute("SELECT suggestion_id FROM cds_cards WHERE card_id = ?", (accepted,)).fetchone()[0]
    decisions = cds_client.get(f"/v1/feedback/{audit_id}").json()["decisions"]
    assert [(d["code"], d["decision"], d["source"]) for d in decisions] == [("11624", "accepted", "cds"),
                                                                           ("13122", "rejected", "cds")]  # fmt: skip
    assert "13121 only" in decisions[1]["reason"] and "does not support" in decisions[1]["reason"]


def test_cds_feedback_errors(cds_client, cds_token):
    path = DISCHARGE + "/feedback"
    unknown = {"feedback": [{"card": str(uuid.uuid4()), "outcome": "accepted", "outcomeTimestamp": "2026-01-05T10:00:00Z"}]}
    assert _post(cds_client, cds_token, path, unknown).status_code == 404
    assert _post(cds_client, cds_token, path, {"feedback": [{"card": "x", "outcome": "ignored",
                                                             "outcomeTimestamp": "2026-01-05T10:00:00Z"}]}).status_code == 400
    assert _post(cds_client, cds_token, path, {"feedback": [{"card": "x", "outcome": "accepted"}]}).status_code == 400
    assert _post(cds_client, cds_token, path, {}).status_code == 400
    assert _post(cds_client, cds_token, "/cds-services/nope/feedback", unknown).status_code == 404


# ---------------------------------------------------------------- cards from hand-written suggestions

EV = [Evidence(start=0, end=8, text="excision", label="PROCEDURE")]


def _suggestion(queries: list[Query] | None = None) -> Suggestion:
    return Suggestion(
        id="n",
        cpt=[CptSuggestion(code="11642", units=1, modifiers=["XS"], confidence=0.9, evidence=EV,
                           description="Excision, malignant lesion, face, ears, eyelids, nose or lips, excised "
                                       "diameter 1.1 to 2.0 cm, with a description long enough to need clipping")],
        icd10=[IcdSuggestion(code="C44.311", confidence=0.95, description="Basal cell carcinoma of skin of nose", evidence=EV)],
        lesions=[LesionFrame(site="nasal ala", excised_diameter_arithmetic="0.9 + 2 x 0.3 = 1.5 cm", evidence=EV)],
        queries=queries or [],
        model=ModelInfo(version="1", pipeline="p"),
    )  # fmt: skip


def test_cds_cards_for_info_without_queries():
    cards = cards_for(_suggestion(), {"patientId": "p"})
    assert [(c.system, c.code) for c in cards] == [("CPT", "11642"), ("ICD10CM", "C44.311")]
    cpt = cards[0].body
    assert cpt["indicator"] == "info" and len(cpt["summary"]) < 140 and cpt["summary"].endswith("…")
    assert cpt["summary"].startswith("CPT 11642 -XS")
    assert "0.9 + 2 x 0.3 = 1.5 cm" in cpt["detail"] and '"excision"' in cpt["detail"]
    assert cpt["uuid"] != cards[1].body["uuid"]
    assert cpt["suggestions"][0]["actions"][0]["resource"]["note"] == [{"text": "units 1; modifiers XS"}]
    assert "encounter" not in cpt["suggestions"][0]["actions"][0]["resource"]


def test_cds_cards_for_warning_with_a_query():
    cards = cards_for(_suggestion([Query(fact="repair_length", message="Repair length not documented")]), {})
    assert [c.system for c in cards] == ["CPT", "ICD10CM", "NOTE"]
    assert all(c.body["indicator"] == "warning" for c in cards)
    assert "Repair length not documented" in cards[2].body["detail"] and "suggestions" not in cards[2].body
