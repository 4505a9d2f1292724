"""The JSON API: suggest (with audit id), batch and feedback, against a temporary store."""

from __future__ import annotations

import sqlite3

import pytest

# Corpus note h1-035; its gold label (written by a coder, not by the engine) is
# CPT 11311 + 11310, ICD-10-CM D22.39 + L82.0.
NOTE = (
    "Shave removals x2 - 61M est.\n#1 nasal dorsum: IDN 6mm, dome, bleeds w/ glasses. SR w/ DermaBlade, AlCl.\n"
    "#2 R helix: ISK 3mm, catches on phone/headset, crusted. SR, AlCl.\n1% lido c epi ~0.3cc ea. Not full "
    "thickness. Both to path.\nDx: #1 IDN nose, #2 ISK R ear.\nWC reviewed - Vaseline BID, bandage 5-7d. "
    "RTC prn / path by portal."
)


def _db(service_settings) -> sqlite3.Connection:
    return sqlite3.connect(service_settings.data_dir / "dermcoder.db")


def test_api_suggest_returns_contract_and_audit_id(client, service_settings):
    body = client.post("/v1/suggest", json={"id": "h1-035", "text": NOTE}).json()
    assert body["id"] == "h1-035"
    assert {"11311", "11310"} <= {c["code"] for c in body["cpt"]}
    assert {"D22.39", "L82.0"} <= {c["code"] for c in body["icd10"]}
    for line in body["cpt"] + body["icd10"]:
        assert all(NOTE[e["start"]:e["end"]] == e["text"] for e in line["evidence"]) and line["evidence"]
    with _db(service_settings) as db:
        rows = db.execute("SELECT id, note_id, source, note_text FROM suggestions").fetchall()
    assert rows == [(body["audit_id"], "h1-035", "api", None)]


@pytest.mark.parametrize("payload, status", [
    ({"id": "a", "text": "   "}, 422),
    ({"id": "a"}, 422),
    ({"id": "", "text": "Punch biopsy left arm."}, 422),
    ("not an object", 422),
])  # fmt: skip
def test_api_suggest_bad_input(client, payload, status):
    response = client.post("/v1/suggest", json=payload)
    assert response.status_code == status and response.json()["detail"]


def test_api_suggest_too_long_is_413(engine, tmp_path):
    from fastapi.testclient import TestClient

    from dermcoder.service.app import create_app
    from dermcoder.settings import Settings

    settings = Settings(max_note_chars=50, database_url=f"sqlite:///{tmp_path / 'x.db'}")
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/suggest", json={"text": NOTE})
        assert response.status_code == 413 and "limit is 50" in response.json()["detail"]
        results = client.post("/v1/batch", json=[{"id": "long", "text": NOTE}, {"id": "ok", "text": "Bx L arm."}]).json()
        assert results[0]["id"] == "long" and "limit is 50" in results[0]["error"] and "audit_id" not in results[0]
        assert results[1]["id"] == "ok" and "error" not in results[1] and results[1]["audit_id"]


def test_api_validation_errors_do_not_echo_the_note(client):
    response = client.post("/v1/suggest", json={"id": 5, "text": NOTE})
    assert response.status_code == 422 and "IDN" not in response.text


def test_api_batch_one_result_per_note_in_order(client):
    notes = [
        {"id": "a", "text": NOTE},
        {"id": "b", "text": ""},
        42,
        {"text": "no id here"},
        {"id": "e", "text": "Punch biopsy, left forearm, 4 mm."},
    ]
    results = client.post("/v1/batch", json=notes).json()
    assert [r["id"] for r in results] == ["a", "b", "note-3", "note-4", "e"]
    assert results[0]["audit_id"] and "error" not in results[0] and results[0]["cpt"]
    assert "no text" in results[1]["error"] and results[1]["line"] == 2 and "audit_id" not in results[1]
    assert "expected an object" in results[2]["error"]
    assert "id" in results[3]["error"]
    assert results[4]["audit_id"] and results[4]["audit_id"] != results[0]["audit_id"]


def test_api_batch_limits(engine, tmp_path):
    from fastapi.testclient import TestClient

    from dermcoder.service.app import create_app
    from dermcoder.settings import Settings

    settings = Settings(batch_max_notes=2, database_url=f"sqlite:///{tmp_path / 'x.db'}")
    with TestClient(create_app(settings)) as client:
        too_many = client.post("/v1/batch", json=[{"id": str(i), "text": "Bx L arm."} for i in range(3)])
        assert too_many.status_code == 413 and "limit is 2" in too_many.json()["detail"]
        assert client.post("/v1/batch", json=[]).status_code == 422
        assert client.post("/v1/batch", json={"id": "a", "text": "x"}).status_code == 422
        assert len(client.post("/v1/batch", json=[{"id": "a", "text": "Bx L arm."}] * 2).json()) == 2


def test_api_feedback_round_trip(client):
    audit_id = client.post("/v1/suggest", json={"id": "h1-035", "text": NOTE}).json()["audit_id"]
    response = client.post("/v1/feedback", json={"audit_id": audit_id, "source": "page", "decisions": [
        {"system": "CPT", "code": "11311", "decision": "accepted", "coder": "kim"},
        {"system": "CPT", "code": "11310", "decision": "overridden", "replacement_code": "11311", "units": 1,
         "modifiers": ["59"], "coder": "kim"},
        {"system": "ICD10CM", "code": "L82.0", "decision": "rejected", "replacement_code": None, "units": None,
         "modifiers": None, "coder": None},
    ]})  # fmt: skip
    assert response.status_code == 201 and response.json() == {"stored": 3}
    stored = client.get(f"/v1/feedback/{audit_id}").json()
    assert stored["audit_id"] == audit_id
    assert [(d["code"], d["decision"], d["source"]) for d in stored["decisions"]] == [
        ("11311", "accepted", "page"), ("11310", "overridden", "page"), ("L82.0", "rejected", "page")]  # fmt: skip
    assert stored["decisions"][1]["replacement_code"] == "11311" and stored["decisions"][1]["modifiers"] == ["59"]


def test_api_feedback_errors(client):
    audit_id = client.post("/v1/suggest", json={"id": "h1-035", "text": NOTE}).json()["audit_id"]
    ok = {"system": "CPT", "code": "11311", "decision": "accepted"}
    unknown = client.post("/v1/feedback", json={"audit_id": "0" * 32, "decisions": [ok]})
    assert unknown.status_code == 404 and "unknown audit_id" in unknown.json()["detail"]
    assert client.get("/v1/feedback/" + "0" * 32).status_code == 404
    for bad in (
        {"audit_id": audit_id, "decisions": []},
        {"audit_id": audit_id},
        {"audit_id": audit_id, "decisions": [{**ok, "decision": "maybe"}]},
        {"audit_id": audit_id, "decisions": [{**ok, "system": "SNOMED"}]},
        {"audit_id": audit_id, "decisions": [{**ok, "decision": "overridden"}]},
        {"audit_id": audit_id, "decisions": [{**ok, "code": "99999"}]},  # not suggested for this note
        {"audit_id": audit_id, "decisions": [ok], "source": "Not A Source"},
    ):
        response = client.post("/v1/feedback", json=bad)
        assert response.status_code == 422, bad
        assert response.json()["detail"]
    assert client.get(f"/v1/feedback/{audit_id}").json()["decisions"] == []
